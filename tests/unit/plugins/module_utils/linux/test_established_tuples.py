# SPDX-License-Identifier: GPL-3.0-or-later
"""The compact ESTABLISHED tuples (socket_records.EstablishedTuples through Summary): the per-record path, the
column-wise /proc/net/tcp reader, the cap, the holders, and parse_tuples() reading them back."""

from __future__ import annotations

import random

import pytest
from proc_tables import synthetic_table

from ansible_collections.netdiag.tcp.plugins.module_utils.columns import proc_net_tcp as columns_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    TUPLE_COLUMNS,
    Summary,
    make_record,
    parse_tuples,
    summarize,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp


def records():
    return [
        make_record("tcp", "inet", "*", 5555, "*", None, "LISTEN", pid=10, process="app_srv", user="app"),
        make_record(
            "tcp",
            "inet",
            "198.51.100.20",
            5555,
            "198.51.100.10",
            40000,
            "ESTABLISHED",
            keepalive=False,
            pid=10,
            process="app_srv",
            user="app",
        ),
        make_record("tcp", "inet", "198.51.100.20", 5555, "198.51.100.10", 40001, "ESTABLISHED", keepalive=None),
        make_record("tcp", "inet6", "2001:db8::1", 22, "2001:db8::2", 50000, "ESTABLISHED", keepalive=True, pid=7),
        make_record(
            "tcp", "inet", "198.51.100.20", 5555, "198.51.100.10", 40002, "CLOSE_WAIT", keepalive=False, pid=10
        ),
        make_record("udp", "inet", "198.51.100.20", 53, "198.51.100.10", 40003, "ESTABLISHED"),
    ]


def test_rows_only_for_selected_established_tcp_sockets():
    netstat = summarize(records(), selection=Selection([5555], [], []), tuples=True)
    assert netstat["established_tuples"] == {
        "columns": list(TUPLE_COLUMNS),
        "rows": "198.51.100.20 5555 198.51.100.10 40000 10 0\n198.51.100.20 5555 198.51.100.10 40001 - -",
        "count": 2,
        "truncated": False,
        "port_unknown": 0,
    }
    assert netstat["holders"] == {"10": {"process": "app_srv", "user": "app"}}
    assert parse_tuples(netstat["established_tuples"]) == [
        ("198.51.100.20", 5555, "198.51.100.10", 40000, 10, False),
        ("198.51.100.20", 5555, "198.51.100.10", 40001, None, None),
    ]


def test_not_returned_unless_asked():
    netstat = summarize(records())
    assert "established_tuples" not in netstat and "holders" not in netstat


def test_cap_counts_all_and_says_truncated():
    netstat = summarize(records(), tuples=True, max_tuples=1)
    tuples = netstat["established_tuples"]
    assert tuples["rows"] == "198.51.100.20 5555 198.51.100.10 40000 10 0"
    assert (tuples["count"], tuples["truncated"]) == (3, True)
    assert netstat["holders"] == {"10": {"process": "app_srv", "user": "app"}}
    ipv6 = summarize(records(), selection=Selection([22], [], []), tuples=True)["established_tuples"]
    assert ipv6["rows"] == "2001:db8::1 22 2001:db8::2 50000 7 1"


@pytest.mark.parametrize("bad", ["a 1 b 2 3", "a 1 b 2 3 yes", "a x b 2 3 1"])
def test_parse_tuples_rejects_bad_rows(bad):
    with pytest.raises(ValueError, match="established_tuples"):
        parse_tuples({"columns": list(TUPLE_COLUMNS), "rows": bad})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ports", [[], [5555]])
def test_column_reader_gives_the_per_record_rows(seed, ports):
    """The column-wise reader (big runs of kernel-layout rows) lists the same sockets as iter_records()."""
    text = synthetic_table(random.Random(seed), 600)
    lines = text.splitlines()
    listening = {record.local_port for record in linux_proc_net_tcp.iter_records(lines) if record.state == "LISTEN"}

    def fresh():
        return Summary(Selection(ports, [], []), 0, listening, tuples=True)

    # Owners for every third socket with an inode, as the Linux collector's /proc/<pid>/fd scan would give them.
    inodes = sorted({record.inode for record in linux_proc_net_tcp.iter_records(lines) if record.inode})
    owners = {inode: (100 + inode % 7, "proc%d" % (inode % 7), "user%d" % (inode % 3)) for inode in inodes[::3]}
    expected = fresh()
    expected.add_records(linux_proc_net_tcp.iter_records(lines, owners=owners))
    summary = fresh()
    columns_proc_net_tcp.TableReader(summary, owners=owners).read(text.encode())
    got = summary.result()["established_tuples"]
    want = expected.result()["established_tuples"]
    assert want["count"] > 10
    assert sorted(got["rows"].split("\n")) == sorted(want["rows"].split("\n"))
    assert got["count"] == want["count"]
    assert summary.result()["holders"] == expected.result()["holders"] != {}
