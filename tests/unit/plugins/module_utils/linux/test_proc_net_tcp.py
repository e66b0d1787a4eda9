# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_proc_net_tcp on real /proc/net/{tcp,tcp6,udp,udp6} captures and synthetic edge cases.

proc-net-tcp-1.txt is the jc project's capture (two tables concatenated, the second without header);
proc-net-tcp-2.txt, proc-net-tcp6-1.txt, proc-net-udp-1.txt and proc-net-udp6-1.txt were captured on this machine
at the same moment as netstat-tanpo-1.txt and ss-tanpo-1.txt (see SOURCES.md), so the parsers must agree.
"""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import TCP_STATES
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
CAPTURED = ("proc-net-tcp-2.txt", "proc-net-tcp6-1.txt", "proc-net-udp-1.txt", "proc-net-udp6-1.txt")
CAPTURED_PEERS = [
    {"direction": "inbound", "service_port": 5555, "peer": "127.0.0.2", "count": 3, "without_keepalive": 3},
    {"direction": "outbound", "service_port": 5555, "peer": "127.0.0.1", "count": 3, "without_keepalive": 1},
    {"direction": "inbound", "service_port": 8080, "peer": "127.0.0.1", "count": 2, "without_keepalive": 2},
    {"direction": "inbound", "service_port": 8080, "peer": "::1", "count": 2, "without_keepalive": 0},
    {"direction": "outbound", "service_port": 8080, "peer": "127.0.0.1", "count": 2, "without_keepalive": 2},
    {"direction": "outbound", "service_port": 8080, "peer": "::1", "count": 2, "without_keepalive": 2},
    {"direction": "inbound", "service_port": 6000, "peer": "::1", "count": 1, "without_keepalive": 1},
    {"direction": "outbound", "service_port": 6000, "peer": "::1", "count": 1, "without_keepalive": 1},
]
# (local port, remote port) of the sockets that had SO_KEEPALIVE set in the capture (netstat -o says "keepalive").
CAPTURED_KEEPALIVE = {(48141, 5555), (58021, 5555), (8080, 57352), (8080, 57342)}


def row(number, local, remote, code, timer="00", inode=1000):
    return (
        "%4d: %s %s %s 00000000:00000000 %s:00000000 00000000  1000        0 %d 1 0000000000000000 20 4 30 10 -1\n"
        % (
            number,
            local,
            remote,
            code,
            timer,
            inode,
        )
    )


@pytest.fixture
def captured(fixture_text):
    return "".join(fixture_text("linux/" + name) for name in CAPTURED)


@pytest.mark.parametrize(
    ("text", "byteorder", "expected"),
    [
        ("0100007F", "little", "127.0.0.1"),
        ("7F000001", "big", "127.0.0.1"),
        ("1C00000A", "little", "10.0.0.28"),
        ("00000000", "little", "*"),
        ("00000000000000000000000001000000", "little", "::1"),
        ("00000000000000000000000000000001", "big", "::1"),
        ("0000000000000000FFFF00000100007F", "little", "127.0.0.1"),
        ("B80D0120000000000000000001000000", "little", "2001:db8::1"),
        ("00000000000000000000000000000000", "little", "*"),
    ],
)
def test_hex_to_address(text, byteorder, expected):
    assert linux_proc_net_tcp.hex_to_address(text, byteorder) == expected


@pytest.mark.parametrize(("code", "state"), sorted(linux_proc_net_tcp.STATE_CODES.items()))
def test_every_state_code(code, state):
    text = TCP_HEADER + row(0, "0100007F:15B3", "0200007F:9C40", code)
    (record,) = linux_proc_net_tcp.iter_records(text.splitlines())
    assert record.state == state


def test_state_table_covers_every_contract_state():
    assert set(TCP_STATES) <= set(linux_proc_net_tcp.STATE_CODES.values())


def test_jc_capture_two_tables_concatenated(fixture_text):
    result = linux_proc_net_tcp.parse(fixture_text("linux/proc-net-tcp-1.txt"))
    expected_states = dict.fromkeys(TCP_STATES, 0)
    expected_states.update(LISTEN=4, ESTABLISHED=1, CLOSE_WAIT=1, FIN_WAIT_1=6, TIME_WAIT=15)
    assert result["state_counts"] == expected_states
    assert result["total_sockets"] == 27
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "10.0.0.146", "count": 1, "without_keepalive": 0}
    ]
    assert [(entry["local_address"], entry["local_port"]) for entry in result["listeners"]] == [
        ("*", 22),
        ("127.0.0.53", 53),
        ("127.0.0.1", 631),
        ("127.0.0.1", 35303),
    ]
    by_ports = {(c["local_port"], c["remote_port"]): c for c in result["connections"]}
    assert by_ports[(22, 56779)]["keepalive"] is True  # ESTABLISHED, tr=02
    assert by_ports[(54352, 443)]["keepalive"] is True  # CLOSE_WAIT, tr=02
    assert by_ports[(54352, 443)]["remote_address"] == "152.199.4.33"
    assert by_ports[(42082, 80)]["keepalive"] is None  # FIN_WAIT_1: the timer says nothing about keepalive
    assert by_ports[(54352, 443)]["receive_queue"] == 0x52


def test_captured_tables(captured):
    result = linux_proc_net_tcp.parse(captured)
    assert result["established_by_peer"] == CAPTURED_PEERS
    assert result["protocol_counts"] == {"tcp": 23, "udp": 3}
    assert result["state_counts"]["ESTABLISHED"] == 16
    assert result["state_counts"]["FIN_WAIT_2"] == 1
    assert result["state_counts"]["TIME_WAIT"] == 1
    assert result["state_counts"]["CLOSE_WAIT"] == 1
    assert result["established_without_keepalive"] == 12
    assert result["established_keepalive_unknown"] == 0
    keepalive_on = {
        (c["local_port"], c["remote_port"])
        for c in result["connections"]
        if c["protocol"] == "tcp" and c["keepalive"] is True
    }
    assert keepalive_on == CAPTURED_KEEPALIVE


def test_captured_ipv4_mapped_and_ipv6(captured):
    connections = linux_proc_net_tcp.parse(captured)["connections"]
    mapped = [c for c in connections if c["local_port"] == 8080 and c["remote_port"] in (55598, 55600)]
    assert [(c["family"], c["local_address"], c["remote_address"]) for c in mapped] == [
        ("inet", "127.0.0.1", "127.0.0.1"),
        ("inet", "127.0.0.1", "127.0.0.1"),
    ]
    dual_stack = [c for c in connections if c["state"] == "LISTEN" and c["local_port"] == 8080]
    assert [(c["family"], c["local_address"], c["remote_address"], c["remote_port"]) for c in dual_stack] == [
        ("inet6", "*", "*", None)
    ]


def test_captured_udp(captured):
    result = linux_proc_net_tcp.parse(captured)
    udp = [c for c in result["connections"] if c["protocol"] == "udp"]
    assert [(c["family"], c["local_address"], c["local_port"], c["remote_port"], c["state"]) for c in udp] == [
        ("inet", "127.0.0.1", 5353, None, None),
        ("inet", "127.0.0.1", 59060, 5353, "ESTABLISHED"),
        ("inet6", "::1", 5354, None, None),
    ]
    assert "keepalive" not in udp[0]
    assert [(entry["protocol"], entry["local_port"]) for entry in result["listeners"]] == [
        ("tcp", 2024),
        ("tcp", 5555),
        ("tcp", 6000),
        ("tcp", 8080),
        ("udp", 5353),
        ("udp", 5354),
    ]


@pytest.mark.parametrize(
    ("name", "expected"), [("proc-net-tcp-2.txt", {2024, 5555}), ("proc-net-tcp6-1.txt", {6000, 8080})]
)
def test_leading_listening_ports(fixture_text, name, expected):
    assert linux_proc_net_tcp.leading_listening_ports(fixture_text("linux/" + name).splitlines()) == expected


def test_leading_listening_ports_stops_at_first_other_row():
    lines = iter(
        [TCP_HEADER, row(0, "00000000:0016", "00000000:0000", "0A"), row(1, "0100007F:15B3", "0200007F:9C40", "01")]
    )
    lines = iter(list(lines) + [row(2, "00000000:0050", "00000000:0000", "0A")])
    assert linux_proc_net_tcp.leading_listening_ports(lines) == {22}
    assert next(lines).startswith("   2:")  # the rest of the table was not read


@pytest.mark.parametrize(
    ("timer", "code", "expected"),
    [
        ("02", "01", True),
        ("00", "01", False),
        ("01", "01", None),
        ("04", "01", None),
        ("02", "08", True),
        ("00", "08", False),
        ("02", "05", None),
        ("00", "0A", None),
        ("03", "06", None),
    ],
)
def test_keepalive_from_timer(timer, code, expected):
    text = TCP_HEADER + row(0, "0100007F:15B3", "0200007F:9C40", code, timer=timer)
    (record,) = linux_proc_net_tcp.iter_records(text.splitlines())
    assert record.keepalive is expected


def test_owners_and_user_names():
    text = (
        TCP_HEADER
        + row(0, "0100007F:15B3", "0200007F:9C40", "01", inode=77)
        + row(1, "0100007F:15B3", "0200007F:9C41", "01", inode=78)
    )
    records = list(
        linux_proc_net_tcp.iter_records(
            text.splitlines(), owners={77: (4242, "app_srv", "app")}, user_name=lambda uid: "uid%d" % uid
        )
    )
    assert [(r.pid, r.process, r.user) for r in records] == [(4242, "app_srv", "app"), (None, None, "uid1000")]


@pytest.mark.parametrize("text", ["", "\n\n", TCP_HEADER])
def test_empty_tables(text):
    result = linux_proc_net_tcp.parse(text)
    assert result["total_sockets"] == 0
    assert result["state_counts"] == dict.fromkeys(TCP_STATES, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("this is not a socket table\n", "expected at least 10 fields"),
        ("   0: 0100007F:15B3 0200007F:9C40 0F 00000000:00000000 00:00000000 00000000 0 0 1 1\n", "unknown state code"),
        ("   0: 0100007G:15B3 0200007F:9C40 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n", "non-hexadecimal"),
        ("   0: 0100007F:15B3 0200007F 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n", "invalid literal"),
    ],
)
def test_garbage_names_the_line(line, reason):
    text = TCP_HEADER + row(0, "0100007F:15B3", "0200007F:9C40", "01") + line
    with pytest.raises(ParseError) as raised:
        linux_proc_net_tcp.parse(text)
    assert raised.value.line_number == 3
    assert raised.value.format_name == "linux_proc_net_tcp"
    assert reason in str(raised.value)


def test_header_detects_udp_tables(fixture_text):
    records = list(linux_proc_net_tcp.iter_records(fixture_text("linux/proc-net-udp-1.txt").splitlines()))
    assert {record.protocol for record in records} == {"udp"}


def test_parse_selection_options(captured):
    result = linux_proc_net_tcp.parse(captured, ports=[6000], max_connections=1)
    assert result["selected_sockets"] == 3
    assert result["truncated"] is True
    assert result["established_by_peer"] == CAPTURED_PEERS[-2:]


@pytest.mark.parametrize(
    ("local", "remote", "code", "expected"),
    [
        # A socket bound to an IPv4-mapped address, not connected (the peer is the wildcard ::): an IPv4 socket.
        (
            "0000000000000000FFFF00000100007F:1F90",
            "00000000000000000000000000000000:0000",
            "0A",
            ("inet", "127.0.0.1", "*"),
        ),
        # Connected, both ends mapped.
        (
            "0000000000000000FFFF00000100007F:1F90",
            "0000000000000000FFFF00000900007F:A028",
            "01",
            ("inet", "127.0.0.1", "127.0.0.9"),
        ),
        # A dual-stack listener: both wildcards, an IPv6 socket.
        ("00000000000000000000000000000000:1F90", "00000000000000000000000000000000:0000", "0A", ("inet6", "*", "*")),
    ],
)
def test_ipv4_mapped_socket_with_a_wildcard_peer_is_inet(local, remote, code, expected):
    # Hand-written tcp6 rows (the layout of the kernel's tcp6_seq_show). Either end mapped makes the socket IPv4:
    # a check that wanted both ends mapped turned the first row into inet6.
    (record,) = linux_proc_net_tcp.iter_records((TCP_HEADER + row(0, local, remote, code)).splitlines())
    assert (record.family, record.local_address, record.remote_address) == expected
