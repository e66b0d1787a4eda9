# SPDX-License-Identifier: GPL-3.0-or-later
"""The parse filter on what people paste: real captures (tests/unit/fixtures, SOURCES.md) cut the way a `grep` or a
mouse selection cuts them - header lines gone - read the same as the whole capture; what cannot be read without its
header is refused with the format, line number and line."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdiag.tcp.plugins.filter.parse import parse


def without(text, *prefixes):
    return "".join(line for line in text.splitlines(True) if not line.lstrip().startswith(prefixes))


@pytest.mark.parametrize(
    ("fixture", "format_name", "header_prefixes"),
    [
        ("linux/proc-net-tcp-2.txt", "linux_proc_net_tcp", ("sl ",)),
        ("linux/ss-tanp-1.txt", "linux_ss", ("State",)),
        ("linux/ss-tanpo-1.txt", "linux_ss", ("State",)),
        ("linux/netstat-tanpo-1.txt", "linux_netstat", ("Active", "Proto")),
        ("linux/netstat-lntp-1.txt", "linux_netstat", ("Active", "Proto")),
        ("aix/netstat-Aan-2.txt", "aix_netstat", ("Active", "PCB", "Proto")),
    ],
)
def test_excerpt_without_headers_reads_like_the_whole(fixture_text, fixture, format_name, header_prefixes):
    text = fixture_text(fixture)
    excerpt = without(text, *header_prefixes)
    assert excerpt != text or fixture == "aix/netstat-Aan-2.txt"  # that one is a grep excerpt already
    result = parse(excerpt, format_name)
    assert result == parse(text, format_name)


def test_conntrack_grep_excerpt(fixture_text):
    # `conntrack -L | grep ESTABLISHED`: only the matching entries, counted as such.
    text = fixture_text("linux/conntrack-L-2.txt")
    excerpt = "".join(line for line in text.splitlines(True) if "ESTABLISHED" in line)
    result = parse(excerpt, "linux_conntrack")
    assert result["entries_parsed"] == len(excerpt.splitlines()) > 0
    assert set(result["state_counts"]) == {"ESTABLISHED"}


def test_conntrack_stat_rows_need_their_header(fixture_text):
    # /proc/net/stat/nf_conntrack rows are bare hex columns whose meaning changes between kernels: refused.
    excerpt = without(fixture_text("linux/proc-net-stat-nf_conntrack-2.txt"), "entries")
    with pytest.raises(AnsibleFilterError) as raised:
        parse(excerpt, "linux_conntrack_stat")
    assert "netdiag.tcp.parse(linux_conntrack_stat): line 1 not recognised" in str(raised.value)
    assert excerpt.splitlines()[0][:20] in str(raised.value)


def test_ss_state_filter_through_the_filter(fixture_text):
    # `ss -to state established` pasted into a ticket: the state comes from the filter's option.
    text = fixture_text("linux/ss-to-state-established-1.txt")
    result = parse(text, "linux_ss", state="established", ports=[5555])
    assert result["state_counts"]["ESTABLISHED"] == 8
    with pytest.raises(AnsibleFilterError, match=r"linux_ss.*line 2.*state=established"):
        parse(text, "linux_ss")
    with pytest.raises(AnsibleFilterError, match="bad option: state 'bogus' is not an ss state"):
        parse(text, "linux_ss", state="bogus")


def test_netstat_as_a_user_through_the_filter(fixture_text):
    result = parse(fixture_text("linux/netstat-nlpt-nonroot-1.txt").splitlines(), "linux_netstat")
    assert result["state_counts"]["LISTEN"] == 6
