# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_ss on real iproute2 output (ss-tulpen-1.txt from the jc project; the others captured on this machine at the
same moment as the /proc/net captures, see SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import ss as linux_ss

HEADER = "State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process\n"
PROC_CAPTURE = ("proc-net-tcp-2.txt", "proc-net-tcp6-1.txt", "proc-net-udp-1.txt", "proc-net-udp6-1.txt")


def without_keepalive_counts(entries):
    return [{k: v for k, v in entry.items() if k != "without_keepalive"} for entry in entries]


@pytest.fixture
def proc_result(fixture_text):
    return linux_proc_net_tcp.parse("".join(fixture_text("linux/" + name) for name in PROC_CAPTURE))


@pytest.mark.parametrize("name", ["ss-tanp-1.txt", "ss-tanpo-1.txt"])
def test_same_answer_as_proc_net(fixture_text, proc_result, name):
    result = linux_ss.parse(fixture_text("linux/" + name))
    assert without_keepalive_counts(result["established_by_peer"]) == without_keepalive_counts(
        proc_result["established_by_peer"]
    )
    assert result["state_counts"] == proc_result["state_counts"]
    assert result["protocol_counts"] == {"tcp": 23, "udp": 0}


def test_ipv4_mapped_and_owner(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tanp-1.txt"))
    mapped = [c for c in result["connections"] if c["local_port"] == 8080 and c["remote_port"] == 55598]
    assert mapped == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "127.0.0.1",
            "local_port": 8080,
            "remote_address": "127.0.0.1",
            "remote_port": 55598,
            "state": "ESTABLISHED",
            "keepalive": None,
            "pid": 20407,
            "process": "python3",
            "send_queue": 0,
            "receive_queue": 0,
        }
    ]
    listeners = [(e["family"], e["local_address"], e["local_port"]) for e in result["listeners"]]
    assert listeners == [("inet", "*", 2024), ("inet", "127.0.0.1", 5555), ("inet6", "::1", 6000), ("inet6", "*", 8080)]


def test_timer_gives_keepalive(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tanpo-1.txt"))
    keepalive_on = {(c["local_port"], c["remote_port"]) for c in result["connections"] if c["keepalive"] is True}
    assert keepalive_on == {(48141, 5555), (58021, 5555), (8080, 57352), (8080, 57342)}
    assert result["established_keepalive_unknown"] == 12  # no timer field: ss cannot say "off"


def test_tulpen_with_netid_users_uid_inode_and_interfaces(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tulpen-1.txt"))
    assert result["protocol_counts"] == {"tcp": 58, "udp": 15}
    assert result["state_counts"]["LISTEN"] == 58
    by_port = {(e["protocol"], e["local_address"], e["local_port"]): e for e in result["listeners"]}
    # Several owners: the first listed is reported.
    assert by_port[("tcp", "*", 80)]["pid"] == 24795
    assert by_port[("tcp", "*", 80)]["process"] == "/usr/sbin/apach"
    assert by_port[("tcp", "127.0.0.53", 53)]["interface"] == "lo"
    assert by_port[("udp", "*", 67)]["interface"] == "virbr0"
    assert "pid" not in by_port[("udp", "*", 4789)]
    avahi = [c for c in result["connections"] if c["local_port"] == 5353]
    assert [(c["uid"], c["inode"], c["pid"], c["state"]) for c in avahi] == [(112, 25147, 1510, None)]


def test_tulpen_captured_here(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tulpen-2.txt"))
    assert [
        (c["protocol"], c["family"], c["local_address"], c["local_port"], c["inode"]) for c in result["connections"]
    ] == [
        ("udp", "inet", "127.0.0.1", 5353, 25003),
        ("udp", "inet6", "::1", 5354, 25004),
        ("tcp", "inet", "*", 2024, 1137),
        ("tcp", "inet", "127.0.0.1", 5555, 25000),
        ("tcp", "inet6", "*", 8080, 25001),
        ("tcp", "inet6", "::1", 6000, 25002),
    ]


def test_all_sockets_with_service_names(fixture_text):
    try:
        names = [socket.getservbyname(name, "tcp") for name in ("http-alt", "x11")] + [
            socket.getservbyname("mdns", "udp")
        ]
    except OSError:
        pytest.skip("this host's services database lacks http-alt, x11 or mdns")
    assert names == [8080, 6000, 5353]
    result = linux_ss.parse(fixture_text("linux/ss-a-1.txt"))
    assert result["protocol_counts"] == {"tcp": 23, "udp": 3}  # nl and u_str rows skipped
    assert [(e["protocol"], e["local_port"]) for e in result["listeners"]] == [
        ("tcp", 2024),
        ("tcp", 5555),
        ("tcp", 6000),
        ("tcp", 8080),
        ("udp", 5353),
        ("udp", 5354),
    ]


@pytest.mark.parametrize(
    ("printed", "state"),
    [
        ("ESTAB", "ESTABLISHED"),
        ("SYN-SENT", "SYN_SENT"),
        ("SYN-RECV", "SYN_RECEIVED"),
        ("FIN-WAIT-1", "FIN_WAIT_1"),
        ("FIN-WAIT-2", "FIN_WAIT_2"),
        ("TIME-WAIT", "TIME_WAIT"),
        ("CLOSE-WAIT", "CLOSE_WAIT"),
        ("LAST-ACK", "LAST_ACK"),
        ("LISTEN", "LISTEN"),
        ("CLOSING", "CLOSING"),
        ("UNCONN", "CLOSED"),
    ],
)
def test_every_state(printed, state):
    text = HEADER + "%-10s 0      0               10.0.0.5:5555           10.0.0.1:40770\n" % printed
    (record,) = linux_ss.iter_records(text.splitlines())
    assert record.state == state
    assert record.protocol == "tcp"


def test_rows_without_netid_can_be_udp():
    text = HEADER + "UNCONN     0      0               10.0.0.5:53             0.0.0.0:*\n"
    (record,) = linux_ss.iter_records(text.splitlines(), protocol="udp")
    assert (record.protocol, record.state, record.remote_address, record.remote_port) == ("udp", None, "*", None)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("[fe80::1]%eth0:546", ("fe80::1", 546, "eth0", "inet6")),
        ("[fe80::1%eth0]:546", ("fe80::1", 546, "eth0", "inet6")),
        (":::22", ("*", 22, None, "inet6")),
        ("::ffff:127.0.0.1:5555", ("127.0.0.1", 5555, None, "inet")),
        ("*:22", ("*", 22, None, "inet6")),
        ("0.0.0.0:22", ("*", 22, None, "inet")),
    ],
)
def test_address_forms(local, expected):
    text = HEADER + "LISTEN     0      128      %s      *:*\n" % local
    (record,) = linux_ss.iter_records(text.splitlines())
    assert (record.local_address, record.local_port, record.interface, record.family) == expected


def test_continuation_lines_and_empty_output():
    text = HEADER + "ESTAB      0      0      10.0.0.5:22      10.0.0.1:40770\n\t cubic wscale:7,7 rto:204\n"
    assert len(list(linux_ss.iter_records(text.splitlines()))) == 1
    assert linux_ss.parse("")["total_sockets"] == 0
    assert linux_ss.parse(HEADER)["total_sockets"] == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("hello world\n", "not an ss socket row"),
        ("ESTAB 0 0 10.0.0.5:22\n", "not an ss socket row"),
        ("ESTAB 0 0 10.0.0.5 10.0.0.1:40770\n", "not address:port"),
        ("ESTAB 0 0 10.0.0.5:22 10.0.0.1:no-such-service-name\n", "services database"),
        ("ESTAB 0 0 host.example:22 10.0.0.1:40770\n", "does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_garbage_names_the_line(line, reason):
    with pytest.raises(ParseError) as raised:
        linux_ss.parse(HEADER + "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n" + line)
    assert raised.value.line_number == 3
    assert raised.value.format_name == "linux_ss"
    assert reason in str(raised.value)
