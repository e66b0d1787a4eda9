# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_netstat on real net-tools output (netstat-na-1.txt from Amazon Linux; the others captured on this machine
at the same moment as the /proc/net captures, see SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import summarize
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp

HEADER = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n"
)
PROC_CAPTURE = ("proc-net-tcp-2.txt", "proc-net-tcp6-1.txt", "proc-net-udp-1.txt", "proc-net-udp6-1.txt")


def proc_result(fixture_text):
    return linux_proc_net_tcp.parse("".join(fixture_text("linux/" + name) for name in PROC_CAPTURE))


def test_amazon_linux_netstat_na(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-na-1.txt"))
    assert result["protocol_counts"] == {"tcp": 8, "udp": 12}
    assert result["state_counts"]["LISTEN"] == 7
    assert result["state_counts"]["ESTABLISHED"] == 1
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "98.109.151.68", "count": 1, "without_keepalive": 0}
    ]
    assert result["established_keepalive_unknown"] == 1
    listeners = [
        (entry["protocol"], entry["family"], entry["local_address"], entry["local_port"])
        for entry in result["listeners"]
    ]
    # Old net-tools print IPv6 sockets under "tcp"/"udp"; the address tells the family.
    assert ("tcp", "inet6", "*", 22) in listeners
    assert ("tcp", "inet", "*", 22) in listeners
    assert ("udp", "inet6", "fe80::c7e:53ff:fe40:a26", 546) in listeners
    assert len(listeners) == 19
    established = [c for c in result["connections"] if c["state"] == "ESTABLISHED"]
    assert established == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "172.31.25.111",
            "local_port": 22,
            "remote_address": "98.109.151.68",
            "remote_port": 49300,
            "state": "ESTABLISHED",
            "keepalive": None,
            "send_queue": 252,
            "receive_queue": 0,
        }
    ]


@pytest.mark.parametrize("name", ["netstat-tanpo-1.txt", "netstat-an-2.txt"])
def test_same_answer_as_proc_net(fixture_text, name):
    expected = proc_result(fixture_text)
    result = linux_netstat.parse(fixture_text("linux/" + name))
    peers = [{k: v for k, v in entry.items() if k != "without_keepalive"} for entry in result["established_by_peer"]]
    assert peers == [
        {k: v for k, v in entry.items() if k != "without_keepalive"} for entry in expected["established_by_peer"]
    ]
    assert result["state_counts"] == expected["state_counts"]


def test_timer_column_gives_keepalive(fixture_text):
    expected = proc_result(fixture_text)
    result = linux_netstat.parse(fixture_text("linux/netstat-tanpo-1.txt"))
    assert result["established_by_peer"] == expected["established_by_peer"]
    assert result["established_without_keepalive"] == 12
    assert result["established_keepalive_unknown"] == 0


def test_program_column(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-tanpo-1.txt"))
    owners = {(c["local_port"], c["remote_port"]): (c.get("pid"), c.get("process")) for c in result["connections"]}
    assert owners[(5555, None)] == (20407, "python3")
    assert owners[(2024, None)] == (None, None)
    assert owners[(42608, 5555)] == (None, None)  # TIME_WAIT: "-"


def test_user_inode_columns_and_unix_section(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-tulpen-1.txt"))
    assert [(c["protocol"], c["local_port"], c["uid"], c["inode"], c.get("pid")) for c in result["connections"]] == [
        ("tcp", 2024, 0, 1137, None),
        ("tcp", 5555, 0, 25000, 20407),
        ("tcp", 8080, 0, 25001, 20407),
        ("tcp", 6000, 0, 25002, 20407),
        ("udp", 5353, 0, 25003, 20407),
        ("udp", 5354, 0, 25004, 20407),
    ]


def test_connected_udp_and_unix_sockets_skipped(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-an-2.txt"))
    assert result["protocol_counts"] == {"tcp": 23, "udp": 3}
    udp = [(c["local_port"], c["remote_port"], c["state"]) for c in result["connections"] if c["protocol"] == "udp"]
    assert udp == [(5353, None, None), (59060, 5353, "ESTABLISHED"), (5354, None, None)]


@pytest.mark.parametrize(
    ("printed", "state"),
    [
        ("ESTABLISHED", "ESTABLISHED"),
        ("SYN_SENT", "SYN_SENT"),
        ("SYN_RECV", "SYN_RECEIVED"),
        ("FIN_WAIT1", "FIN_WAIT_1"),
        ("FIN_WAIT2", "FIN_WAIT_2"),
        ("TIME_WAIT", "TIME_WAIT"),
        ("CLOSE", "CLOSED"),
        ("CLOSE_WAIT", "CLOSE_WAIT"),
        ("LAST_ACK", "LAST_ACK"),
        ("LISTEN", "LISTEN"),
        ("CLOSING", "CLOSING"),
    ],
)
def test_every_state(printed, state):
    text = HEADER + "tcp        0      0 10.0.0.5:5555           10.0.0.1:40770          %s\n" % printed
    (record,) = linux_netstat.iter_records(text.splitlines())
    assert record.state == state


def test_program_names_with_spaces_and_timer():
    header = (
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name     Timer"
    )
    text = "\n".join(
        [
            header,
            "tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN      "
            "812/nginx: master pr off (0.00/0/0)",
            "tcp        0      0 10.0.0.5:80             10.0.0.1:40770          ESTABLISHED "
            "813/nginx: worker pr keepalive (7194.12/0/0)",
        ]
    )
    records = list(linux_netstat.iter_records(text.splitlines()))
    assert [(r.pid, r.process, r.keepalive) for r in records] == [
        (812, "nginx: master pr", None),
        (813, "nginx: worker pr", True),
    ]


def test_ipv6_cut_to_fit_is_kept_as_printed():
    text = HEADER + "tcp6       0      0 2001:db8:1234:5678:9a:443 2001:db8::1:40770       ESTABLISHED\n"
    (record,) = linux_netstat.iter_records(text.splitlines())
    assert record.local_address == "2001:db8:1234:5678:9a"
    assert record.local_port == 443
    assert record.remote_address == "2001:db8::1"


def test_empty_output():
    result = linux_netstat.parse(HEADER)
    assert result["total_sockets"] == 0
    assert linux_netstat.parse("")["total_sockets"] == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("hello world\n", "not a netstat socket row"),
        ("tcp        0      0 10.0.0.5:5555           10.0.0.1:40770\n", "no TCP state"),
        ("tcp        0      0 10.0.0.5:5555           10.0.0.1:40770          WHATEVER\n", "no TCP state"),
        ("tcp        0      0 10.0.0.5                10.0.0.1:40770          ESTABLISHED\n", "not address:port"),
        ("tcp        0      0 host.example:5555       10.0.0.1:40770          ESTABLISHED\n", "not an address"),
        ("tcp        x      0 10.0.0.5:5555           10.0.0.1:40770          ESTABLISHED\n", "invalid literal"),
    ],
)
def test_garbage_names_the_line(line, reason):
    with pytest.raises(ParseError) as raised:
        linux_netstat.parse(HEADER + line)
    assert raised.value.line_number == 3
    assert raised.value.format_name == "linux_netstat"
    assert reason in str(raised.value)


# parse() reads the text line by line after a find-based pre-scan of the LISTEN rows; the reference is parse() as it
# was: two full passes of iter_records() over text.splitlines().
def reference_parse(text, ports=None, states=None, peers=None, max_connections=None):
    lines = text.splitlines()
    listening = {record.local_port for record in linux_netstat.iter_records(lines) if record.state == "LISTEN"}
    return summarize(
        linux_netstat.iter_records(lines),
        selection=Selection(ports, states, peers),
        max_connections=max_connections,
        listening_ports=listening,
    )


def listeners_last(text):
    """The same rows with every LISTEN row moved to the end (the pre-scan must still find them)."""
    lines = text.splitlines()
    return "\n".join(
        [line for line in lines if "LISTEN " not in line + " "] + [line for line in lines if "LISTEN " in line + " "]
    )


@pytest.mark.parametrize(
    "name", ["netstat-an-2.txt", "netstat-na-1.txt", "netstat-tanpo-1.txt", "netstat-tulpen-1.txt"]
)
@pytest.mark.parametrize("options", [{}, {"ports": [5555]}, {"max_connections": 2}, {"states": ["LISTEN"]}])
@pytest.mark.parametrize("shape", ["as captured", "no final newline", "twice", "listeners last"])
def test_streaming_parse_same_as_two_pass_parse(fixture_text, name, options, shape):
    text = fixture_text("linux/" + name)
    text = {
        "as captured": text,
        "no final newline": text.rstrip("\n"),
        "twice": text + text,
        "listeners last": listeners_last(text),
    }[shape]
    assert linux_netstat.parse(text, **options) == reference_parse(text, **options)


def test_listen_prescan_reads_rows_in_their_section_and_columns():
    unix = (
        "Active UNIX domain sockets (servers and established)\n"
        "Proto RefCnt Flags       Type       State         I-Node   Path\n"
        "unix  2      [ ACC ]     STREAM     LISTENING     20433    /run/x.sock\n"
    )
    inet = HEADER.replace("State      ", "State       PID/Program name")
    rows = (
        "tcp        0      0 10.0.0.5:40000          10.0.0.1:5555           ESTABLISHED 42/app\n"
        "tcp        0      0 0.0.0.0:40000           0.0.0.0:*               LISTEN      7/sshd: root\n"
    )
    text = unix + inet + rows
    result = linux_netstat.parse(text)
    assert result == reference_parse(text)
    assert result["established_by_peer"][0]["direction"] == "inbound"  # the LISTEN row after it says 40000 listens
    assert linux_netstat.listening_ports_in_text(text) == {40000}


def test_damaged_listen_row_is_reported_by_the_main_pass():
    text = HEADER + "tcp        x      0 0.0.0.0:22              0.0.0.0:*               LISTEN     \n"
    with pytest.raises(ParseError) as raised:
        linux_netstat.parse(text)
    assert (raised.value.line_number, raised.value.reason) == (3, "invalid literal for int() with base 10: 'x'")


# Pasted excerpts: `netstat -tanp | grep ...` has no header line; the PID/Program column is recognised per row.
def test_grep_excerpt_without_header_keeps_the_program(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-tanp-grep-1.txt"))
    assert result["listeners"] == [
        {"protocol": "tcp", "family": "inet", "local_address": "*", "local_port": 4000, "pid": 24586, "process": "beam"}
    ]


def test_rows_without_header_read_like_rows_under_it(fixture_text):
    # The real `netstat -lntp` output with and without its two header lines gives the same owners, programs with
    # spaces included.
    full = fixture_text("linux/netstat-lntp-1.txt")
    rows = "".join(line for line in full.splitlines(True) if line.startswith("tcp"))
    assert not rows.startswith(("Active", "Proto"))
    assert linux_netstat.parse(rows) == linux_netstat.parse(full)
    owners = {(c["local_port"], c["pid"], c["process"]) for c in linux_netstat.parse(rows)["connections"]}
    assert (6379, 1596, "redis-server 1") in owners
    assert (3030, 1228, "PM2 v2.4.6") in owners
    assert len(owners) == 8


@pytest.mark.parametrize(
    "fixture",
    ["linux/netstat-tanpo-1.txt", "linux/netstat-tulpen-1.txt", "linux/netstat-an-2.txt", "linux/netstat-na-1.txt"],
)
def test_every_real_capture_reads_the_same_without_its_headers(fixture_text, fixture):
    # -tanpo (PID/Program and Timer), -tulpen (User, Inode, PID/Program), -an (no optional column): every row of a
    # real capture reads the same when the "Active"/"Proto" lines are cut away, as a grep excerpt cuts them.
    full = fixture_text(fixture)
    internet = full.split("Active UNIX")[0]
    rows = "".join(line for line in internet.splitlines(True) if not line.startswith(("Active", "Proto")))
    expected = linux_netstat.parse(internet)
    assert expected["total_sockets"] > 0
    assert linux_netstat.parse(rows) == expected


def test_header_less_row_with_user_inode_and_dash_program():
    row = "tcp        0      0 10.0.0.5:5555           10.0.0.1:40770          ESTABLISHED 1000       31337      -\n"
    (record,) = linux_netstat.iter_records([row])
    assert (record.uid, record.inode, record.pid, record.process) == (1000, 31337, None, None)
