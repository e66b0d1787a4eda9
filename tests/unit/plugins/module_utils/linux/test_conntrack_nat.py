# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack_nat: translated ESTABLISHED TCP entries as one compact text, on real captured tables."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.linux.conntrack_nat import (
    COLUMNS,
    NatTuples,
    nat_tuples,
    parse_nat_tuples,
)

SNAT_ROWS = (
    "198.51.100.100 33435 198.51.100.101 5555 198.51.100.101 5555 198.51.100.102 33435\n"
    "198.51.100.100 39743 198.51.100.101 5555 198.51.100.101 5555 198.51.100.102 39743"
)


def test_snat_entries_are_kept(fixture_text):
    result = nat_tuples(fixture_text("linux/proc-net-nf_conntrack-snat-1.txt"), ports=[5555])
    assert result == {"columns": list(COLUMNS), "rows": SNAT_ROWS, "count": 2, "truncated": False}
    original, reply = parse_nat_tuples(result)[0]
    assert original == ("198.51.100.100", 33435, "198.51.100.101", 5555)
    assert reply == ("198.51.100.101", 5555, "198.51.100.102", 33435)


@pytest.mark.parametrize(
    "name",
    [
        "linux/proc-net-nf_conntrack-1.txt",
        "linux/proc-net-nf_conntrack-2.txt",
        "linux/proc-net-ip_conntrack-1.txt",
        "linux/conntrack-L-2.txt",
        "linux/conntrack-L-extended-1.txt",
    ],
)
def test_untranslated_tables_give_no_rows(fixture_text, name):
    """Entries whose reply is the original reversed (every entry of these captures) add nothing to matching."""
    result = nat_tuples(fixture_text(name))
    assert (result["rows"], result["count"], result["truncated"]) == ("", 0, False)


def test_port_translating_nat(fixture_text):
    """conntrack -L on a NAT host (SNAT to 192.168.122.222 with new source ports); UDP and TIME_WAIT left out."""
    result = nat_tuples(fixture_text("linux/conntrack-L-1.txt"))
    assert result["rows"] == (
        "100.64.0.5 45552 34.107.243.93 443 34.107.243.93 443 192.168.122.222 11577\n"
        "100.64.0.5 50936 162.159.61.4 443 162.159.61.4 443 192.168.122.222 12049"
    )
    assert nat_tuples(fixture_text("linux/conntrack-L-1.txt"), ports=[179])["count"] == 0


def test_other_ports_and_cap(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-snat-1.txt")
    assert nat_tuples(text, ports=[22])["count"] == 0
    capped = nat_tuples(text, max_rows=1)
    assert (capped["rows"], capped["count"], capped["truncated"]) == (SNAT_ROWS.split("\n", maxsplit=1)[0], 2, True)


def test_states_other_than_established_are_left_out(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-snat-1.txt").replace("ESTABLISHED", "TIME_WAIT")
    assert nat_tuples(text)["count"] == 0


def test_parse_rejects_bad_rows():
    with pytest.raises(ValueError, match="nat_tuples: row"):
        parse_nat_tuples({"columns": list(COLUMNS), "rows": "1 2 3"})


ALL_TABLES = [
    "linux/proc-net-nf_conntrack-snat-1.txt",
    "linux/conntrack-L-1.txt",
    "linux/proc-net-nf_conntrack-1.txt",
    "linux/conntrack-L-extended-1.txt",
]


@pytest.mark.parametrize("name", ALL_TABLES)
@pytest.mark.parametrize("size", [1, 7, 150, 1 << 20])
@pytest.mark.parametrize("as_bytes", [True, False])
def test_chunks_passing_through_give_the_line_by_line_result(fixture_text, name, size, as_bytes):
    """The single pass of conntrack_facts (chunks handed on to the summary, matched whole, lines cut across chunk
    boundaries) finds exactly what the line-by-line reader finds, and leaves the chunks untouched."""
    text = fixture_text(name)
    data = text.encode() if as_bytes else text
    chunks = [data[start : start + size] for start in range(0, len(data), size)]
    collector = NatTuples(ports=(), max_rows=None)
    assert list(collector.passing(iter(chunks))) == chunks
    assert collector.result() == nat_tuples(text)
    assert collector.result()["count"] > 0 or name not in ALL_TABLES[:2]
