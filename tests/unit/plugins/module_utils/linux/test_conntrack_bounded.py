# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack: the top-talker counters stay bounded (Misra-Gries) and keep their documented error bound.

The tables here are SYNTHETIC: lines in the layout of the captured /proc/net/nf_conntrack (tests/unit/fixtures/linux,
see SOURCES.md) with generated addresses, many more distinct sources than the counters may keep.
"""

from __future__ import annotations

import io
import random

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack

LINE = (
    "ipv4     2 tcp      6 431999 ESTABLISHED src={src} dst=198.51.100.1 sport={sport} dport={dport} "
    "src=198.51.100.1 dst={src} sport={dport} dport={sport} [ASSURED] mark=0 zone=0 use=2\n"
)


def synthetic_table(heavy, light, seed=13):
    """(text, true source counts): `heavy` {address: entries}, plus `light` sources with one entry each, shuffled."""
    generator = random.Random(seed)
    sources = [address for address, count in heavy.items() for _index in range(count)]
    sources += ["100.64.%d.%d" % (index // 250, index % 250 + 1) for index in range(light)]
    generator.shuffle(sources)
    lines = [LINE.format(src=src, sport=10000 + index % 50000, dport=5555) for index, src in enumerate(sources)]
    truth = {}
    for src in sources:
        truth[src] = truth.get(src, 0) + 1
    return "".join(lines), truth


HEAVY = {"203.0.113.%d" % index: 300 - 40 * index for index in range(1, 6)}


@pytest.mark.parametrize("reader", ["stream", "lines"])
def test_top_sources_within_the_error_bound_with_bounded_memory(reader, monkeypatch):
    text, truth = synthetic_table(HEAVY, 3000)
    summary = linux_conntrack.TableSummary(top=5, selection=Selection(), capacity=20)
    if reader == "stream":
        monkeypatch.setattr(linux_conntrack, "CHUNK_SIZE", 4096)  # about 20 lines a chunk: many chunks
        summary.consume_stream(io.BytesIO(text.encode("ascii")))
        # Bounded before each chunk is counted: at most 2 * capacity keys plus one chunk's lines.
        assert len(summary._chunk_sources) <= 2 * 20 + 4096 // len(LINE)
    else:
        for number, line in enumerate(text.splitlines(True), 1):
            summary.add_line(line, number)
            assert len(summary.sources) <= 2 * 20
    result = summary.result()
    entries = sum(truth.values())
    assert result["entries_selected"] == entries  # the full count beside the bounded lists
    error = result["top_sources_max_error"]
    assert 0 < error <= entries // (20 + 1)
    assert [item["address"] for item in result["top_sources"]] == sorted(HEAVY, key=lambda address: -HEAVY[address])
    for item in result["top_sources"]:
        assert truth[item["address"]] - error <= item["count"] <= truth[item["address"]]
    assert result["top_destinations"][0]["address"] == "198.51.100.1"
    assert result["top_destinations_max_error"] == 0  # one destination: never pruned


def test_bound_keeps_every_key_above_the_error():
    counts = {"key%d" % index: index for index in range(1, 101)}
    cut = linux_conntrack._bound(counts, 10)
    assert cut == 90  # the 11th largest count
    assert counts == {"key%d" % index: index - 90 for index in range(91, 101)}
    assert linux_conntrack._bound(counts, 10) == 0  # within 2 * capacity: untouched


def test_small_tables_stay_exact():
    text, truth = synthetic_table(HEAVY, 100)
    result = linux_conntrack.TableSummary(top=3).consume_text(text).result()
    assert result["top_sources_max_error"] == 0
    assert result["top_sources"] == [
        {"address": address, "count": truth[address]} for address in sorted(HEAVY, key=lambda a: -HEAVY[a])[:3]
    ]


def test_capacity_below_top_is_refused():
    with pytest.raises(ValueError, match="capacity"):
        linux_conntrack.TableSummary(top=10, capacity=5)
