# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_slabinfo: /proc/slabinfo 1.1, 2.0 and 2.1, conntrack caches by default, bytes per cache."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "linux/slabinfo-1.1-1.txt",
            {
                "ip_conntrack": {
                    "active_objs": 19,
                    "num_objs": 60,
                    "objsize": 320,
                    "objperslab": 12,
                    "pagesperslab": 1,
                    "active_slabs": 5,
                    "num_slabs": 5,
                    "bytes": 5 * 1 * 4096,
                    "active_bytes": 19 * 320,
                }
            },
        ),
        ("linux/slabinfo-2.0-1.txt", {}),
        (
            "linux/slabinfo-2.1-1.txt",
            {
                "nf_conntrack_expect": {
                    "active_objs": 592,
                    "num_objs": 592,
                    "objsize": 216,
                    "objperslab": 37,
                    "pagesperslab": 2,
                    "active_slabs": 16,
                    "num_slabs": 16,
                    "bytes": 16 * 2 * 4096,
                    "active_bytes": 592 * 216,
                },
                "nf_conntrack_ffffffff8199a280": {
                    "active_objs": 933,
                    "num_objs": 1856,
                    "objsize": 280,
                    "objperslab": 29,
                    "pagesperslab": 2,
                    "active_slabs": 64,
                    "num_slabs": 64,
                    "bytes": 64 * 2 * 4096,
                    "active_bytes": 933 * 280,
                },
            },
        ),
    ],
)
def test_default_selects_conntrack_caches(fixture_text, fixture, expected):
    result = linux_slabinfo.parse(fixture_text(fixture))
    assert result["caches"] == expected
    assert result["version"] == fixture.split("-")[1]
    assert result["page_size"] == 4096


def test_captured_here(fixture_text):
    text = fixture_text("linux/slabinfo-2.1-2.txt")
    row = next(line for line in text.splitlines() if line.startswith("nf_conntrack "))
    numbers = [int(word) for word in row.split(":")[0].split()[1:]]
    slabdata = [int(word) for word in row.split("slabdata")[1].split()]
    result = linux_slabinfo.parse(text)
    assert list(result["caches"]) == ["nf_conntrack"]
    cache = result["caches"]["nf_conntrack"]
    assert [cache[key] for key in ("active_objs", "num_objs", "objsize", "objperslab", "pagesperslab")] == numbers
    assert [cache["active_slabs"], cache["num_slabs"]] == slabdata[:2]
    assert cache["objsize"] == 256
    assert cache["bytes"] == cache["num_slabs"] * cache["pagesperslab"] * 4096


def test_grep_excerpt_without_version_line_1_1():
    # `grep conn /proc/slabinfo` as the 2012 incident quotes it (seed/incident-2012.txt): no version line; six numbers
    # and no slabdata section make it a 1.1 row.
    result = linux_slabinfo.parse("ip_conntrack 3024 4090 384 409 409 1\n")
    assert (result["version"], result["version_inferred"]) == ("1.1", True)
    assert result["caches"]["ip_conntrack"]["objperslab"] == 10
    assert result["caches"]["ip_conntrack"]["bytes"] == 409 * 4096


def test_grep_excerpt_without_version_line_2_x(fixture_text):
    # `grep conn /proc/slabinfo` on a 2.x kernel: the rows of a real capture without the version and header lines.
    full = fixture_text("linux/slabinfo-2.1-1.txt")
    excerpt = "".join(line for line in full.splitlines(True) if "conn" in line and not line.startswith("#"))
    assert excerpt and "slabinfo - version" not in excerpt
    result = linux_slabinfo.parse(excerpt)
    assert (result["version"], result["version_inferred"]) == ("2.x", True)
    assert result["caches"] == linux_slabinfo.parse(full)["caches"]
    assert linux_slabinfo.parse(full)["version_inferred"] is False


def test_header_line_without_version_line(fixture_text):
    full = fixture_text("linux/slabinfo-2.1-2.txt")
    without_version = full.split("\n", 1)[1]
    assert without_version.startswith("#")
    assert linux_slabinfo.parse(without_version)["caches"] == linux_slabinfo.parse(full)["caches"]


def test_seed_incident_row():
    # The row quoted in the 2012 incident (seed/incident-2012.txt), under a 1.1 header.
    text = "slabinfo - version: 1.1\nip_conntrack 3024 4090 384 409 409 1\n"
    assert linux_slabinfo.parse(text)["caches"]["ip_conntrack"] == {
        "active_objs": 3024,
        "num_objs": 4090,
        "objsize": 384,
        "objperslab": 10,
        "pagesperslab": 1,
        "active_slabs": 409,
        "num_slabs": 409,
        "bytes": 409 * 4096,
        "active_bytes": 3024 * 384,
    }


def test_names_regex_any_cache(fixture_text):
    result = linux_slabinfo.parse(fixture_text("linux/slabinfo-2.0-1.txt"), names="^tcp_(sock|tw_bucket)$")
    assert result["caches"] == {
        "tcp_tw_bucket": {
            "active_objs": 0,
            "num_objs": 0,
            "objsize": 96,
            "objperslab": 41,
            "pagesperslab": 1,
            "active_slabs": 0,
            "num_slabs": 0,
            "bytes": 0,
            "active_bytes": 0,
        },
        "tcp_sock": {
            "active_objs": 2,
            "num_objs": 4,
            "objsize": 1024,
            "objperslab": 4,
            "pagesperslab": 1,
            "active_slabs": 1,
            "num_slabs": 1,
            "bytes": 4096,
            "active_bytes": 2048,
        },
    }


def test_page_size_parameter(fixture_text):
    result = linux_slabinfo.parse(fixture_text("linux/slabinfo-2.1-1.txt"), page_size=65536)
    assert result["page_size"] == 65536
    assert result["caches"]["nf_conntrack_expect"]["bytes"] == 16 * 2 * 65536


# Synthetic 2.4 SMP row (": limit batchcount") and slab-debug 2.x row (globalstat/cpustat sections).
SYNTHETIC_SMP_1_1 = "slabinfo - version: 1.1 (SMP)\n"
SYNTHETIC_SMP_1_1_ROWS = "ip_conntrack         200    240    352   20   20    1 :  124   62\n"
SYNTHETIC_DEBUG_2_1 = (
    "slabinfo - version: 2.1 (statistics)\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
    "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail> : globalstat <listallocs> "
    "<maxobjs> <grown> <reaped> <error> <maxfreeable> <nodeallocs> <remotefrees> <alienoverflow> : cpustat "
    "<allochit> <allocmiss> <freehit> <freemiss>\n"
    "nf_conntrack_ffff88003e2c0000     90    120    312   12    1 : tunables   54   27    8 : slabdata     10     10"
    "      0 : globalstat     180    120    10    0    0    0    0    0    0 : cpustat    120     15     40      5\n"
)


def test_smp_1_1_row():
    result = linux_slabinfo.parse(SYNTHETIC_SMP_1_1 + SYNTHETIC_SMP_1_1_ROWS)
    cache = result["caches"]["ip_conntrack"]
    assert result["version"] == "1.1"
    assert (cache["num_slabs"], cache["objperslab"], cache["bytes"]) == (20, 12, 20 * 4096)


def test_debug_sections_and_namespace_cache():
    result = linux_slabinfo.parse(SYNTHETIC_DEBUG_2_1)
    assert result["version"] == "2.1"
    cache = result["caches"]["nf_conntrack_ffff88003e2c0000"]
    assert (cache["active_slabs"], cache["num_slabs"], cache["active_bytes"]) == (10, 10, 90 * 312)


@pytest.mark.parametrize(
    ("text", "line_number", "reason"),
    [
        ("", 1, "empty"),
        ("kmem_cache 1 2 3\n", 1, "slabinfo - version"),
        ("hello world\n\nslabinfo - version: 2.1\n", 1, "slabinfo - version"),
        ("slabinfo - version: 1.0\nkmem_cache 1 2 3\n", 1, "1.0 is not one of"),
        ("slabinfo - version: 2.1\nnf_conntrack 1 2 3\n", 2, "at least five numbers"),
        ("slabinfo - version: 2.1\nnf_conntrack 1 2 x 4 5 : tunables 0 0 0 : slabdata 1 1 0\n", 2, "numbers"),
        ("slabinfo - version: 2.1\nnf_conntrack 1 2 3 4 5 : tunables 0 0 0\n", 2, "no slabdata"),
        ("slabinfo - version: 1.1\nip_conntrack 1 2 3 4 5\n", 2, "six numbers"),
    ],
)
def test_garbage(text, line_number, reason):
    with pytest.raises(ParseError) as raised:
        linux_slabinfo.parse(text)
    assert raised.value.line_number == line_number
    assert reason in raised.value.reason


def test_real_paste_starting_at_the_column_header(fixture_text):
    # A real paste (bb-qq/r8152#181, SOURCES.md) without its version line: 2.x inferred from the slabdata sections.
    result = linux_slabinfo.parse(fixture_text("linux/slabinfo-noversion-1.txt"))
    assert (result["version"], result["version_inferred"]) == ("2.x", True)
    assert sorted(result["caches"]) == ["nf_conntrack_2", "nf_conntrack_3", "nf_conntrack_4"]
    assert result["caches"]["nf_conntrack_4"]["objsize"] == 280
    every = linux_slabinfo.parse(fixture_text("linux/slabinfo-noversion-1.txt"), names="")
    assert every["caches"]["cifs_inode_cache"]["num_slabs"] == 73
    assert len(every["caches"]) == 11
