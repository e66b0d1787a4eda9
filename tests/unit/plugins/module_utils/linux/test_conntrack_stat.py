# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack_stat: /proc/net/stat/nf_conntrack (hex table) and conntrack -S, summed over CPUs."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_stat as linux_conntrack_stat


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            # 4 CPUs, 2.6-5.x columns; entries 0x21 on every row is the global count: 33, not 132.
            "linux/proc-net-stat-nf_conntrack-1.txt",
            {
                "cpus": 4,
                "entries": 33,
                "searched": 0,
                "found": 0,
                "new": 0,
                "invalid": 3 + 2 + 1 + 0x2F,
                "ignore": 0x588A + 0x56A4 + 0x58D4 + 0x5688,
                "delete": 0,
                "delete_list": 0,
                "insert": 0,
                "insert_failed": 0,
                "drop": 0,
                "early_drop": 0,
                "icmp_error": 0,
                "expect_new": 0,
                "expect_create": 0,
                "expect_delete": 0,
                "search_restart": 0 + 2 + 1 + 4,
            },
        ),
        (
            # Captured here: kernel 6.x columns (clashres, chainlength), 2 CPUs.
            "linux/proc-net-stat-nf_conntrack-2.txt",
            {
                "cpus": 2,
                "entries": 8,
                "clashres": 0,
                "found": 0,
                "new": 0,
                "invalid": 2,
                "ignore": 0,
                "delete": 0,
                "chainlength": 0,
                "insert": 0,
                "insert_failed": 0,
                "drop": 0,
                "early_drop": 0,
                "icmp_error": 0,
                "expect_new": 0,
                "expect_create": 0,
                "expect_delete": 0,
                "search_restart": 0,
            },
        ),
        (
            "linux/conntrack-S-1.txt",
            {
                "cpus": 4,
                "found": 0,
                "invalid": 112,
                "insert": 0,
                "insert_failed": 0,
                "drop": 0,
                "early_drop": 0,
                "error": 0,
                "search_restart": 1,
            },
        ),
        (
            # Captured here: conntrack v1.4.7, tab after cpu=N, trailing space.
            "linux/conntrack-S-2.txt",
            {
                "cpus": 2,
                "found": 0,
                "invalid": 2,
                "insert": 0,
                "insert_failed": 0,
                "drop": 0,
                "early_drop": 0,
                "error": 0,
                "search_restart": 0,
                "clash_resolve": 0,
                "chaintoolong": 0,
            },
        ),
    ],
)
def test_real_statistics(fixture_text, fixture, expected):
    assert linux_conntrack_stat.parse(fixture_text(fixture)) == expected


# Synthetic, in the format of old conntrack-tools (entries= and ignore= per CPU line).
SYNTHETIC_OLD_CONNTRACK_S = (
    "cpu=0   \tentries=40 searched=10 found=5 new=7 invalid=1 ignore=20 delete=3 delete_list=3 insert=7 "
    "insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 \n"
    "cpu=1   \tentries=40 searched=12 found=6 new=8 invalid=0 ignore=22 delete=4 delete_list=4 insert=8 "
    "insert_failed=1 drop=1 early_drop=0 error=0 search_restart=0 \n"
)

# Synthetic 2.6.2x table: fewer columns (no search_restart), 2 CPUs.
SYNTHETIC_OLD_PROC = (
    "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  "
    "expect_new expect_create expect_delete\n"
    "0000000a  00000010 00000001 00000002 00000000 00000003 00000000 00000000 00000002 00000000 00000000 00000000 "
    "00000000  00000000 00000000 00000000\n"
    "0000000a  00000001 00000001 00000001 00000001 00000001 00000000 00000000 00000001 00000000 00000001 00000000 "
    "00000000  00000000 00000000 00000000\n"
)


def test_old_conntrack_s_entries_not_summed():
    stats = linux_conntrack_stat.parse(SYNTHETIC_OLD_CONNTRACK_S)
    assert stats["entries"] == 40
    assert (stats["cpus"], stats["found"], stats["ignore"], stats["insert_failed"]) == (2, 11, 42, 1)


def test_old_kernel_columns():
    stats = linux_conntrack_stat.parse(SYNTHETIC_OLD_PROC)
    assert "search_restart" not in stats
    assert (stats["entries"], stats["searched"], stats["drop"], stats["cpus"]) == (10, 17, 1, 2)


@pytest.mark.parametrize(
    ("text", "line_number", "reason"),
    [
        ("", 1, "no statistics"),
        ("hello world\n", 1, "header"),
        ("entries found\n00000001\n", 2, "columns"),
        ("entries found\n00000001 zz\n", 2, "hexadecimal"),
        ("cpu=0 found=1\nfound=2\n", 2, "cpu=N"),
        ("cpu=0 found=one\n", 1, "name=number"),
    ],
)
def test_garbage(text, line_number, reason):
    with pytest.raises(ParseError) as raised:
        linux_conntrack_stat.parse(text)
    assert raised.value.line_number == line_number
    assert reason in raised.value.reason
