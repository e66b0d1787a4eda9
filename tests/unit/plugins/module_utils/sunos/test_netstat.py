# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_netstat on real Solaris 8/9, OmniOS and Solaris 11.4 captures (see tests/unit/fixtures/SOURCES.md)."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat


def nonzero(counts):
    return {state: count for state, count in counts.items() if count}


def test_solaris_8_tcp_only(fixture_text):
    result = sunos_netstat.parse(fixture_text("sunos/netstat-an-1.txt"))
    assert result["protocol_counts"] == {"tcp": 17, "udp": 0}
    assert nonzero(result["state_counts"]) == {"IDLE": 3, "LISTEN": 5, "ESTABLISHED": 1, "TIME_WAIT": 8}
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "192.168.0.127", "count": 1, "without_keepalive": 0}
    ]
    established = [c for c in result["connections"] if c["state"] == "ESTABLISHED"]
    assert established == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "192.168.0.60",
            "local_port": 22,
            "remote_address": "192.168.0.127",
            "remote_port": 1063,
            "state": "ESTABLISHED",
            "keepalive": None,
            "send_queue": 0,
            "receive_queue": 0,
        }
    ]
    assert [(entry["family"], entry["local_port"]) for entry in result["listeners"]] == [
        ("inet", 22),
        ("inet", 22),
        ("inet6", 22),
        ("inet6", 25),
        ("inet6", 30),
    ]


def test_omnios_full_table(fixture_text):
    result = sunos_netstat.parse(fixture_text("sunos/netstat-an-2.txt"))
    assert result["protocol_counts"] == {"tcp": 14, "udp": 15}
    assert nonzero(result["state_counts"]) == {"LISTEN": 9, "IDLE": 3, "ESTABLISHED": 2}
    assert [(e["peer"], e["service_port"]) for e in result["established_by_peer"]] == [
        ("100.1.162.250", 22),
        ("98.109.151.68", 22),
    ]
    second = [c for c in result["connections"] if c.get("remote_address") == "98.109.151.68"][0]
    assert (second["send_queue"], second["receive_queue"], second["remote_port"]) == (35, 0, 59431)
    udp_states = sorted(c["state"] for c in result["connections"] if c["protocol"] == "udp")
    assert udp_states == ["IDLE"] * 10 + ["UNBOUND"] * 5
    bound_udp = [c for c in result["connections"] if c["protocol"] == "udp" and c["local_address"] != "*"]
    assert bound_udp == [
        {
            "protocol": "udp",
            "family": "inet",
            "local_address": "172.31.15.139",
            "local_port": 68,
            "remote_address": "*",
            "remote_port": None,
            "state": "IDLE",
        }
    ]


def test_solaris_11_4_owner_columns(fixture_text):
    result = sunos_netstat.parse(fixture_text("sunos/netstat-u-1.txt"))
    assert result["protocol_counts"] == {"tcp": 12, "udp": 31}
    assert nonzero(result["state_counts"]) == {"LISTEN": 8, "IDLE": 3, "ESTABLISHED": 1}
    established = [c for c in result["connections"] if c["state"] == "ESTABLISHED"]
    assert established == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "10.77.1.190",
            "local_port": 22,
            "remote_address": "203.0.113.70",
            "remote_port": 50937,
            "state": "ESTABLISHED",
            "keepalive": None,
            "pid": 771,
            "process": "sshd",
            "user": "root",
            "send_queue": 0,
            "receive_queue": 36,
        }
    ]
    tcp_listeners = [
        (e["family"], e["local_address"], e["local_port"], e["pid"], e["process"], e["user"])
        for e in result["listeners"]
        if e["protocol"] == "tcp"
    ]
    assert tcp_listeners == [
        ("inet", "*", 22, 771, "sshd", "root"),
        ("inet6", "*", 22, 771, "sshd", "root"),
        ("inet", "*", 111, 1066, "rpcbind", "daemon"),
        ("inet", "*", 111, 1066, "rpcbind", "daemon"),
        ("inet6", "*", 111, 1066, "rpcbind", "daemon"),
        ("inet", "127.0.0.1", 4999, 511, "dhcpagent", "netadm"),
        ("inet", "127.0.0.1", 5999, 105, "in.mpathd", "root"),
        ("inet6", "::1", 5999, 105, "in.mpathd", "root"),
    ]
    ntp = [c for c in result["connections"] if c.get("user") == "_ntp"]
    assert [(c["family"], c["local_address"], c["local_port"]) for c in ntp] == [
        ("inet", "*", 123),
        ("inet", "*", 123),
        ("inet", "127.0.0.1", 123),
        ("inet", "10.77.1.190", 123),
        ("inet6", "*", 123),
        ("inet6", "::1", 123),
    ]


def test_selection(fixture_text):
    result = sunos_netstat.parse(fixture_text("sunos/netstat-an-1.txt"), ports=[80], states=["TIME_WAIT"])
    # Four TIME_WAIT sockets have local port 80 (192.168.0.60.80); the other TIME_WAITs are 8070 and 4545.
    assert result["selected_sockets"] == 4
    assert result["state_counts"]["TIME_WAIT"] == 4


def test_interface_column_and_v4_mapped_peer():
    text = (
        "TCP: IPv6\n"
        "   Local Address                     Remote Address                 "
        "Swind Send-Q Rwind Recv-Q   State      If\n"
        "--------------------------------- --------------------------------- "
        "----- ------ ----- ------ ----------- -----\n"
        "fe80::1.22                        fe80::2.50000                     "
        "49152      0 128872      0 ESTABLISHED net0\n"
        "::ffff:198.51.100.1.5555          ::ffff:198.51.100.7.40000         "
        "49152      0 128872      0 SYN_RCVD\n"
    )
    result = sunos_netstat.parse(text)
    first, second = result["connections"]
    assert (first["family"], first["local_address"], first["interface"]) == ("inet6", "fe80::1", "net0")
    assert (second["family"], second["local_address"], second["state"]) == ("inet", "198.51.100.1", "SYN_RECEIVED")


def test_sctp_and_unix_sections_are_skipped():
    text = (
        "SCTP:\n"
        "        Local Address                   Remote Address          Swind  Send-Q Rwind  Recv-Q StrsI/O  State\n"
        "------------------------------- ------------------------------- "
        "------ ------ ------ ------ ------- -----------\n"
        "0.0.0.0                         0.0.0.0                              0      0 102400      0  32/32  CLOSED\n"
        "\nActive UNIX domain sockets\nAddress  Type          Vnode     Conn  Local Addr      Remote Addr\n"
        "3000623d0f0 stream-ord 00000000 00000000\n"
    )
    assert sunos_netstat.parse(text)["total_sockets"] == 0


@pytest.mark.parametrize(
    ("text", "line_number", "reason"),
    [
        ("hello\n", 1, "section title"),
        ("TCP: IPv4\n      *.22                 *.*                0      0 24576      0 LISTENING\n", 2, "Swind"),
        ("UDP: IPv4\n      *.68                                Sleeping\n", 2, "no UDP state"),
        ("TCP: IPv4\n10.0.0.1.99999       *.*                0      0 24576      0 LISTEN\n", 2, "not a port"),
        ("TCP: IPv4\n      *.22   *.*    0      0 24576      0 LISTEN extra words\n", 2, "after the state"),
    ],
)
def test_garbage_names_the_line(text, line_number, reason):
    with pytest.raises(ParseError) as caught:
        sunos_netstat.parse(text)
    assert caught.value.format_name == "sunos_netstat"
    assert caught.value.line_number == line_number
    assert reason in caught.value.reason


def test_unbound_udp_sockets_are_not_listeners(fixture_text):
    # netstat-an-2 (OmniOS) has `*.*  Unbound` UDP rows: they listen on no port.
    result = sunos_netstat.parse(fixture_text("sunos/netstat-an-2.txt"))
    unbound = [item for item in result["connections"] if item["protocol"] == "udp" and item["state"] == "UNBOUND"]
    assert unbound and all(item["local_port"] is None for item in unbound)
    assert [item for item in result["listeners"] if item["local_port"] is None] == []
    assert any(item["protocol"] == "udp" for item in result["listeners"])


def test_illumos_untitled_owner_table_counts_a_shared_socket_once(fixture_text):
    # OmniOS r151028 `netstat -nuf inet`: no section title, one row per process holding the sshd socket.
    result = sunos_netstat.parse(fixture_text("sunos/netstat-nuf-inet-1.txt"))
    assert result["total_sockets"] == 1
    assert result["shared_socket_rows"] == 1
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "192.168.1.79", "count": 1, "without_keepalive": 0}
    ]
    (connection,) = result["connections"]
    assert (connection["pid"], connection["user"], connection["process"]) == (531, "root", "sshd")
    assert (connection["send_queue"], connection["family"]) == (51, "inet")


# Synthetic rows in the layouts of illumos netstat.c (tcp_hdr_v4_compat "TCP" title; a -u row of a socket no
# process holds is printed without the User/Pid/Command columns), not captured output.
BARE_TITLE_OWNER_TABLE = (
    "\nTCP\n"
    "   Local Address        Remote Address      User    Pid     Command     Swind  Send-Q  Rwind  Recv-Q    State\n"
    "-------------------- -------------------- -------- ------ ------------- ------- ------ ------- ------ ---------\n"
    "      *.5555               *.*            app        901 app_srv              0      0  128000      0 LISTEN\n"
    "198.51.100.80.5555   198.51.100.11.40001  app        901 app_srv         128000      0  128000      0 "
    "ESTABLISHED\n"
    "198.51.100.80.5555   198.51.100.11.40002  128000      0  128000      0 TIME_WAIT\n"
    "      *.*                  *.*            root       105 in.mpathd            0      0  128000      0 IDLE\n"
    "      *.*                  *.*            daemon    1066 rpcbind              0      0  128000      0 IDLE\n"
)


def test_bare_title_and_rows_without_owner():
    result = sunos_netstat.parse(BARE_TITLE_OWNER_TABLE)
    assert result["total_sockets"] == 5
    assert result["shared_socket_rows"] == 0  # the two IDLE *.* rows are two sockets of two processes
    by_state = {c["state"]: c for c in result["connections"] if c["state"] != "IDLE"}
    assert by_state["TIME_WAIT"]["remote_port"] == 40002 and "pid" not in by_state["TIME_WAIT"]
    assert (by_state["ESTABLISHED"]["pid"], by_state["ESTABLISHED"]["family"]) == (901, "inet")
    assert [c["family"] for c in result["connections"] if c["state"] == "IDLE"] == ["inet", "inet"]
    assert nonzero(result["state_counts"]) == {"LISTEN": 1, "ESTABLISHED": 1, "TIME_WAIT": 1, "IDLE": 2}


def test_untitled_tables_each_take_their_protocol_from_their_header(fixture_text):
    # The real untitled TCP table, then a synthetic untitled UDP table in the 11.4 -u layout with an ownerless row.
    text = fixture_text("sunos/netstat-nuf-inet-1.txt") + (
        "\n   Local Address        Remote Address      User    Pid      Command      State\n"
        "-------------------- -------------------- -------- ------ ------------- ----------\n"
        "      *.68                                netadm      511 dhcpagent      Idle\n"
        "      *.*                                 Unbound\n"
    )
    result = sunos_netstat.parse(text)
    assert result["protocol_counts"] == {"tcp": 1, "udp": 2}
    udp = [c for c in result["connections"] if c["protocol"] == "udp"]
    assert [(c["local_port"], c.get("pid"), c["state"]) for c in udp] == [(68, 511, "IDLE"), (None, None, "UNBOUND")]


def test_solaris_10_grep_excerpt(fixture_text):
    # `netstat -an | grep 7100` on Solaris 10: no title, no header, an IPv6 row, and a UNIX domain row.
    result = sunos_netstat.parse(fixture_text("sunos/netstat-an-grep-1.txt"))
    assert result["total_sockets"] == 3
    assert [(e["family"], e["local_address"], e["local_port"]) for e in result["listeners"]] == [
        ("inet", "*", 7100),
        ("inet", "*", 7100),
        ("inet6", "*", 7100),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Synthetic excerpt rows in the layouts of the real tables: an -u TCP row, a v6 row with If, UDP rows.
        (
            "10.77.1.190.22       203.0.113.70.50937   root        771 sshd           131072      0  256320     36 "
            "ESTABLISHED\n",
            ("tcp", "inet", "ESTABLISHED", 771, 36),
        ),
        (
            "fe80::1.22                        fe80::2.50000                     49152      0 128872      0 "
            "ESTABLISHED net0\n",
            ("tcp", "inet6", "ESTABLISHED", None, 0),
        ),
        ("      *.68                                Idle\n", ("udp", "inet", "IDLE", None, None)),
        (
            "      *.68                                netadm      511 dhcpagent      Idle              57344"
            "               0        57344               0 \n",
            ("udp", "inet", "IDLE", 511, None),
        ),
    ],
)
def test_excerpt_rows_are_classified_one_by_one(text, expected):
    (connection,) = sunos_netstat.parse(text)["connections"]
    got = (connection["protocol"], connection["family"], connection["state"])
    assert got + (connection.get("pid"), connection.get("receive_queue")) == expected


def test_excerpt_line_that_is_no_row_is_named():
    with pytest.raises(ParseError) as caught:
        sunos_netstat.parse("      *.22                 *.*                0      0 24576      0 LISTEN\nhello world\n")
    assert caught.value.line_number == 2 and "TCP/UDP row" in caught.value.reason


def test_grep_of_the_real_11_4_capture_keeps_families(fixture_text):
    # `netstat -anu | grep dhcpagent`, made from the real capture: IPv4 and IPv6 UDP rows and the TCP listener.
    lines = [line for line in fixture_text("sunos/netstat-u-1.txt").splitlines() if "dhcpagent" in line]
    result = sunos_netstat.parse("\n".join(lines))
    got = [(c["protocol"], c["family"], c["local_address"], c["local_port"], c["pid"]) for c in result["connections"]]
    assert got == [
        ("udp", "inet", "*", 68, 511),
        ("udp", "inet", "*", 546, 511),
        ("udp", "inet", "10.77.1.190", 68, 511),
        ("udp", "inet6", "*", 546, 511),
        ("tcp", "inet", "127.0.0.1", 4999, 511),
    ]
