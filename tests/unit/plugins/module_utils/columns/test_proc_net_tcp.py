# SPDX-License-Identifier: GPL-3.0-or-later
"""The column-wise reader of /proc/net/tcp* (columns/proc_net_tcp.TableReader over columns/socket_table) against the
per-line parser it replaces on big tables.

The reference is the per-line path exactly as parse() and the Linux collector used it before the column-wise
reader existed: iter_records() into summarize(). Both must give equal dictionaries (or the same ParseError) on the
captured tables (forced through the column path) and on seeded random tables in the kernel's layout with odd rows
mixed in (headers, blank lines, lower-case hex, damaged rows, other widths), for every option.
"""

from __future__ import annotations

import os
import random

import pytest
from proc_tables import TCP_HEADER, UDP_HEADER, kernel_row, synthetic_table

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.columns import proc_net_tcp as columns_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.columns import socket_table as fast
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import summarize
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp

CAPTURED = ("proc-net-tcp-1.txt", "proc-net-tcp-2.txt", "proc-net-tcp6-1.txt", "proc-net-udp-1.txt")
OPTIONS = [
    {},
    {"max_connections": 0},
    {"max_connections": 7},
    {"ports": [5555]},
    {"ports": [22, 443], "max_connections": 3},
    {"states": ["ESTABLISHED", "LISTEN"]},
    {"states": ["TIME_WAIT"], "max_connections": 2},
    {"peers": ["100.64.0.0/11"]},
    {"peers": ["198.51.100.0/24", "::1"], "ports": [443, 5555]},
]


def reference_parse(text, ports=None, states=None, peers=None, max_connections=None, protocol=None):
    """parse() as it was: two passes of iter_records() and summarize()."""
    lines = text.splitlines()
    records = linux_proc_net_tcp.iter_records(lines, protocol=protocol)
    listening = {record.local_port for record in records if record.state == "LISTEN"}
    return summarize(
        linux_proc_net_tcp.iter_records(lines, protocol=protocol),
        selection=Selection(ports, states, peers),
        max_connections=max_connections,
        listening_ports=listening,
    )


# ---- the reader against the per-line path -------------------------------------------------------------------------


@pytest.fixture
def column_path_for_small_tables(monkeypatch):
    """Send even the few rows of the captured tables through the column path."""
    monkeypatch.setattr(fast, "MIN_RUN_ROWS", 1)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("names", [CAPTURED[:1], CAPTURED[1:2], CAPTURED[1:3], CAPTURED])
def test_captured_tables_through_column_path(fixture_text, column_path_for_small_tables, names, options):
    text = "".join(fixture_text("linux/" + name) for name in names)
    assert linux_proc_net_tcp.parse(text, **options) == reference_parse(text, **options)


@pytest.mark.parametrize("seed", range(24))
def test_random_tables_same_as_per_line_path(outcome, seed):
    generator = random.Random(seed)
    six = seed % 4 == 3
    text = synthetic_table(generator, generator.choice((60, 400, 2500)), six, odd=(0, 0, 0.002, 0.03)[seed % 4])
    if seed % 6 == 5:  # tables of both kinds concatenated, as `cat /proc/net/tcp /proc/net/udp` gives
        text += UDP_HEADER + "\n" + synthetic_table(generator, 40, header=False)
    options = OPTIONS[seed % len(OPTIONS)]
    assert outcome(linux_proc_net_tcp.parse, text, **options) == outcome(reference_parse, text, **options)


@pytest.mark.parametrize("seed", range(6))
def test_small_blocks_and_runs(monkeypatch, seed):
    """Rows cut at every block boundary, sl width changes (9999 -> 10000) inside a block, short runs."""
    monkeypatch.setattr(fast, "BLOCK_BYTES", 997 + 500 * seed)
    monkeypatch.setattr(fast, "MIN_RUN_ROWS", 1 + seed)
    generator = random.Random(100 + seed)
    lines = [TCP_HEADER.ljust(149)] + [kernel_row(generator, number) for number in range(9990, 10030)]
    text = "\n".join(lines) + "\n"
    for options in OPTIONS[:4]:
        assert linux_proc_net_tcp.parse(text, **options) == reference_parse(text, **options)


def test_damaged_row_deep_in_a_big_table_names_its_line(outcome):
    generator = random.Random(7)
    lines = [TCP_HEADER.ljust(149)] + [kernel_row(generator, number) for number in range(3000)]
    lines[2345] = lines[2345][:40] + "G" + lines[2345][41:]  # a non-hex digit in the remote address
    text = "\n".join(lines) + "\n"
    expected = outcome(reference_parse, text)
    assert expected[:2] == ("ParseError", 2346)
    assert outcome(linux_proc_net_tcp.parse, text) == expected


def test_listener_after_its_connections_changes_nothing():
    """parse() knows every LISTEN row before counting, wherever the LISTEN rows are (the reference pre-scans)."""
    generator = random.Random(11)
    rows = [kernel_row(generator, number) for number in range(500)]
    rows = [row for row in rows if row[34:36] != "0A"]
    rows.append(
        "%4d: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 "
        "0000000000000000 100 0 0 10 0" % 501
    )
    text = TCP_HEADER + "\n" + "\n".join(row.ljust(149) for row in rows) + "\n"
    result = linux_proc_net_tcp.parse(text)
    assert result == reference_parse(text)
    assert any(
        entry["direction"] == "inbound" and entry["service_port"] == 5555 for entry in result["established_by_peer"]
    )


def test_big_endian_capture():
    generator = random.Random(5)
    text = synthetic_table(generator, 300)
    expected = summarize(
        linux_proc_net_tcp.iter_records(text.splitlines(), byteorder="big"),
        listening_ports={
            r.local_port for r in linux_proc_net_tcp.iter_records(text.splitlines()) if r.state == "LISTEN"
        },
    )
    assert linux_proc_net_tcp.parse(text, byteorder="big") == expected


def test_kernel_rows_take_the_column_path(monkeypatch):
    """Only the header of a table in the kernel's layout goes through the per-line parser (else the reader is
    right but as slow as before)."""
    per_line = []
    exact = columns_proc_net_tcp.TableReader._exact

    def spy(self, matrix, start, stop, first_number):
        per_line.extend(range(first_number + start, first_number + stop))
        return exact(self, matrix, start, stop, first_number)

    monkeypatch.setattr(columns_proc_net_tcp.TableReader, "_exact", spy)
    generator = random.Random(3)
    for six in (False, True):
        per_line.clear()
        text = synthetic_table(generator, 2000, six)
        assert linux_proc_net_tcp.parse(text, max_connections=5) == reference_parse(text, max_connections=5)
        assert per_line == [1]


# ---- the Linux collector against its per-line version --------------------------------------------------------------


def reference_collect(root, owner_map, selection, max_connections, families, owners):
    """LinuxNetstatCollector.collect()'s netstat section as it was: chained iter_records() into summarize()."""
    collector = linux_sockets.LinuxNetstatCollector(proc_root=str(root), byteorder="little")
    tables = [(p, protocol) for p, protocol in collector.tables(("tcp", "udp"), families) if os.path.exists(p)]
    listening = set()
    records = []
    for path, protocol in tables:
        with open(path, encoding="ascii") as handle:
            if protocol == "tcp":
                listening |= linux_proc_net_tcp.leading_listening_ports(handle)
                handle.seek(0)
            records.extend(
                linux_proc_net_tcp.iter_records(
                    handle,
                    protocol=protocol,
                    owners=owner_map,
                    user_name=linux_sockets.user_name,
                )
            )
    records = [record for record in records if record[1] in families]
    return summarize(records, selection, max_connections, listening, owners_mapped=owners)


@pytest.mark.parametrize("families", [("inet", "inet6"), ("inet",), ("inet6",)])
@pytest.mark.parametrize("owners", [True, False])
@pytest.mark.parametrize("options", OPTIONS[:5])
def test_collector_same_as_per_line_path(tmp_path, monkeypatch, families, owners, options):
    generator = random.Random(len(families) * 10 + owners)
    net = tmp_path / "net"
    net.mkdir()
    tcp = [TCP_HEADER.ljust(149)] + sorted(
        (kernel_row(generator, number, inode_format=("%d", "%d", "%08d")[number % 3]) for number in range(1500)),
        key=lambda row: row[34:36] != "0A",
    )
    (net / "tcp").write_text("\n".join(tcp) + "\n")
    (net / "tcp6").write_text(synthetic_table(generator, 300, six=True))
    inodes = [int(row.split()[9]) for row in tcp[1:] if row.split()[9] != "0"]
    owner_map = dict.fromkeys(generator.sample(inodes, len(inodes) // 3), (1234, "app", "app"))
    monkeypatch.setattr(linux_sockets, "scan_socket_owners", lambda root, budget=None: (owner_map, {"processes": 1}))
    selection = Selection(options.get("ports"), options.get("states"), options.get("peers"))
    max_connections = options.get("max_connections", 1000)
    collector = linux_sockets.LinuxNetstatCollector(proc_root=str(tmp_path), byteorder="little")
    netstat, _owner_scan = collector.collect(
        selection, max_connections=max_connections, families=families, owners=owners
    )
    for key in ("platform", "sources", "owner_scan", "reader"):
        netstat.pop(key, None)
    expected = reference_collect(tmp_path, owner_map if owners else {}, selection, max_connections, families, owners)
    assert netstat == expected


# ---- expected values written by hand from the captured tables (not from any parser of ours) ----------------------
# Decoded from the fixture text: addresses are little-endian hex words (802AA8C0 -> C0.A8.2A.80), ports big-endian
# hex (D450 -> 54352), st is the kernel's tcp_states.h code (08 CLOSE_WAIT, 0A LISTEN, 01 ESTABLISHED), and for
# UDP 07 is an unconnected socket, 01 a connected one.
HAND_DECODED = {
    "proc-net-tcp-1.txt": (
        # Two captures one after the other: rows 0-3 (3 x 0A, 1 x 08), then rows 0-22 (0A; 04 on rows 1, 6, 7, 9,
        # 15 and 22; 01 on row 11; 06 on the other 15).
        {"LISTEN": 4, "CLOSE_WAIT": 1, "FIN_WAIT_1": 6, "TIME_WAIT": 15, "ESTABLISHED": 1},
        # row 3: 802AA8C0:D450 2104C798:01BB 08 00000000:00000052 ... uid 1000 inode 149098
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "192.168.42.128",
            "local_port": 54352,
            "remote_address": "152.199.4.33",
            "remote_port": 443,
            "state": "CLOSE_WAIT",
            "keepalive": True,  # tr 02: the keepalive timer is pending (tcp4_seq_show's timer_active 2)
            "uid": 1000,
            "inode": 149098,
            "send_queue": 0,
            "receive_queue": 0x52,
        },
    ),
    "proc-net-tcp6-1.txt": (
        {"LISTEN": 2, "ESTABLISHED": 8},
        # row 4: IPv4-mapped ::ffff:127.0.0.1 port 1F90 -> D92E, timer 00 (no keepalive timer), inode 25013
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "127.0.0.1",
            "local_port": 8080,
            "remote_address": "127.0.0.1",
            "remote_port": 55598,
            "state": "ESTABLISHED",
            "keepalive": False,
            "uid": 0,
            "inode": 25013,
            "send_queue": 0,
            "receive_queue": 0,
        },
    ),
    "proc-net-udp-1.txt": (
        {},
        # row 12573: 0100007F:E6B4 0100007F:14E9 01, a connected UDP socket, inode 25005
        {
            "protocol": "udp",
            "family": "inet",
            "local_address": "127.0.0.1",
            "local_port": 59060,
            "remote_address": "127.0.0.1",
            "remote_port": 5353,
            "state": "ESTABLISHED",
            "uid": 0,
            "inode": 25005,
            "send_queue": 0,
            "receive_queue": 0,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_DECODED))
def test_captured_tables_through_column_path_against_hand_decoded_values(
    fixture_text, column_path_for_small_tables, name
):
    states, connection = HAND_DECODED[name]
    result = linux_proc_net_tcp.parse(fixture_text("linux/" + name))
    assert {state: count for state, count in result["state_counts"].items() if count} == states
    assert connection in result["connections"]


def test_captured_listeners_through_column_path_against_hand_decoded_values(fixture_text, column_path_for_small_tables):
    # proc-net-tcp-1 rows 0-2 of the first capture: 3500007F:0035, 0100007F:89E7, 0100007F:0277, and row 0 of the
    # second: 00000000:0016, all 0A; tcp6-1 rows 0-1: ::, ::1.
    tcp = linux_proc_net_tcp.parse(fixture_text("linux/proc-net-tcp-1.txt"))
    assert sorted((item["local_address"], item["local_port"]) for item in tcp["listeners"]) == [
        ("*", 22),
        ("127.0.0.1", 631),
        ("127.0.0.1", 35303),
        ("127.0.0.53", 53),
    ]
    tcp6 = linux_proc_net_tcp.parse(fixture_text("linux/proc-net-tcp6-1.txt"))
    assert sorted((item["family"], item["local_address"], item["local_port"]) for item in tcp6["listeners"]) == [
        ("inet6", "*", 8080),
        ("inet6", "::1", 6000),
    ]
