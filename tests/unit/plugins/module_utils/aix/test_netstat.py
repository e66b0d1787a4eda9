# SPDX-License-Identifier: GPL-3.0-or-later
"""aix_netstat on real AIX netstat -Aan captures (see tests/unit/fixtures/SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import netstat as aix_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.matching import lists_every_socket


def test_aix_7_3_full_table(fixture_text):
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-1.txt"))
    assert result["total_sockets"] == 11
    assert result["protocol_counts"] == {"tcp": 8, "udp": 3}
    assert {state: n for state, n in result["state_counts"].items() if n} == {
        "CLOSED": 2,
        "LISTEN": 4,
        "ESTABLISHED": 2,
    }
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "24.236.207.124", "count": 1, "without_keepalive": 0},
        {"direction": "outbound", "service_port": 443, "peer": "34.120.255.184", "count": 1, "without_keepalive": 0},
    ]
    assert [
        (entry["protocol"], entry["family"], entry["local_address"], entry["local_port"])
        for entry in result["listeners"]
    ] == [
        ("tcp", "inet", "*", 22),
        ("tcp", "inet6", "*", 22),
        ("tcp", "inet", "*", 25),
        ("tcp", "inet6", "::1", 6010),
        ("udp", "inet", "*", 111),
        ("udp", "inet", "*", 161),
        ("udp", "inet", "*", 514),
    ]
    established = [c for c in result["connections"] if c["state"] == "ESTABLISHED"]
    assert established[0] == {
        "protocol": "tcp",
        "family": "inet",
        "local_address": "192.168.242.122",
        "local_port": 22,
        "remote_address": "24.236.207.124",
        "remote_port": 33236,
        "state": "ESTABLISHED",
        "keepalive": None,
        "send_queue": 0,
        "receive_queue": 0,
        "pcb": "f1000f00002d8bc0",
    }
    udp = [c for c in result["connections"] if c["protocol"] == "udp"]
    assert [(c["local_port"], c["state"], c["pcb"]) for c in udp] == [
        (111, None, "f1000f0000140600"),
        (161, None, "f1000f000017be00"),
        (514, None, "f1000f0005582e00"),
    ]


def test_old_aix_18_character_columns_cut_ports_are_unknown(fixture_text):
    # Old AIX cuts address.port at 18 characters: "172.17.252.214.501" is a client on port 501xx (below AIX's
    # ephemeral range 32768-65535 no real client port is 501). No field of the text is longer than 18, so the
    # 18-character local fields have unknown ports; the 17-character peer fields are complete. The sockets are
    # then clients of 6666 (outbound), not servers of 501/508/525.
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-2.txt"))
    assert result["state_counts"]["ESTABLISHED"] == 3
    assert [(e["direction"], e["service_port"], e["peer"], e["count"]) for e in result["established_by_peer"]] == [
        ("outbound", 6666, "172.17.252.8", 2),
        ("outbound", 6666, "172.17.252.5", 1),
    ]
    assert [(c["local_address"], c["local_port"], c.get("local_port_cut")) for c in result["connections"]] == [
        ("172.17.252.214", None, True),
        ("172.17.252.214", None, True),
        ("172.17.252.214", None, True),
    ]
    assert [(c["remote_port"], "remote_port_cut" in c) for c in result["connections"]] == [(6666, False)] * 3
    assert [c["pcb"] for c in result["connections"]] == ["f10005000037cbb0", "f1000500002bc3b0", "f10005000bb70bb0"]
    # A cut port is never guessed into a port selection.
    assert aix_netstat.parse(fixture_text("aix/netstat-Aan-2.txt"), ports=[501])["selected_sockets"] == 0


def test_cut_ports_are_left_out_of_the_tuples_and_the_list_is_not_complete(fixture_text):
    # The three ESTABLISHED sockets of netstat-Aan-2 have cut local ports: they cannot be matched with their other
    # end, so no row says "None" and the count falls short of ESTABLISHED (the report then does not judge absence).
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-2.txt"), tuples=True)
    tuples = result["established_tuples"]
    assert (tuples["rows"], tuples["count"], tuples["port_unknown"]) == ("", 0, 3)
    assert result["state_counts"]["ESTABLISHED"] == 3
    assert not lists_every_socket(result)


def test_18_character_fields_are_complete_when_the_table_has_wider_ones(fixture_text):
    # AIX 7.3 prints wider columns: "192.168.242.122.22" (18 characters) is complete there.
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-1.txt"), ports=[22], states=["ESTABLISHED"])
    assert [(c["local_port"], c.get("local_port_cut")) for c in result["connections"]] == [(22, None)]


def test_plain_tcp_listener(fixture_text):
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-3.txt"))
    assert result["listeners"] == [{"protocol": "tcp", "family": "inet", "local_address": "*", "local_port": 8080}]
    assert result["connections"][0]["pcb"] == "f1000500038203b8"


def test_netstat_an_without_pcb_column():
    text = (
        "Active Internet connections (including servers)\n"
        "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n"
        "tcp4       0      0  *.5555                 *.*                    LISTEN\n"
        "tcp4       0     12  198.51.100.1.5555      198.51.100.7.4077      ESTABLISHED\n"
        "tcp4       0      0  198.51.100.1.5555      198.51.100.7.4078      ESTABLISHED\n"
        "tcp4       0      0  198.51.100.1.5555      198.51.100.8.4079      CLOSE_WAIT\n"
        "tcp4       0      0  198.51.100.1.40000     198.51.100.9.1521      SYN_RCVD\n"
    )
    result = aix_netstat.parse(text)
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 5555, "peer": "198.51.100.7", "count": 2, "without_keepalive": 0}
    ]
    assert result["state_counts"]["SYN_RECEIVED"] == 1
    assert result["state_counts"]["CLOSE_WAIT"] == 1
    assert all("pcb" not in c for c in result["connections"])
    assert result["connections"][1]["send_queue"] == 12


def test_terminal_wrapped_state_is_joined():
    # The seed incident's paste: "ESTA" at the end of one line, "BLISHED" on the next (synthetic addresses).
    text = (
        "f10000f0076f3358 tcp4       0      0  198.51.100.1.5555 198.51.100.7.4077 ESTA\n"
        "BLISHED\n"
        "f10000f0076f3359 tcp4       0      0  198.51.100.1.5555 198.51.100.7.4078\n"
        "ESTABLISHED\n"
    )
    result = aix_netstat.parse(text)
    assert result["state_counts"]["ESTABLISHED"] == 2
    assert [c["pcb"] for c in result["connections"]] == ["f10000f0076f3358", "f10000f0076f3359"]


def test_selection_and_cap_keep_pcb_aligned(fixture_text):
    result = aix_netstat.parse(fixture_text("aix/netstat-Aan-1.txt"), ports=[22], max_connections=2)
    assert result["selected_sockets"] == 3
    assert result["truncated"] is True
    assert [(c["local_port"], c["pcb"]) for c in result["connections"]] == [
        (22, "f1000f000017e3c0"),
        (22, "f1000f0000287bc0"),
    ]


@pytest.mark.parametrize(
    ("text", "line_number", "reason"),
    [
        ("tcp4 0 0 *.22 *.* LISTENING\n", 1, "unknown TCP state"),
        ("tcp4 0 0 *.22 *.*\n", 1, "no TCP state"),
        ("f1000f00055bcbc0 tcp4 0 0 10.0.0.1.99999 *.* LISTEN\n", 1, "not a port number"),
        ("f1000f00055bcbc0 tcp4 0 0 10.0.0.1 *.* LISTEN\n", 1, "'10.0.0' does not appear"),
        ("Active Internet connections\nhello world this is not netstat\n", 2, "not a netstat socket row"),
        ("tcp4 0 0 300.1.1.1.22 *.* LISTEN\n", 1, "does not appear to be an IPv4 or IPv6 address"),
        ("tcp4 0 0 *.22 *.* ESTA\nBLISH\n", 1, "unknown TCP state"),
    ],
)
def test_garbage_names_the_line(text, line_number, reason):
    with pytest.raises(ParseError) as caught:
        aix_netstat.parse(text)
    assert caught.value.format_name == "aix_netstat"
    assert caught.value.line_number == line_number
    assert reason in caught.value.reason


def test_unix_section_is_skipped(fixture_text):
    text = fixture_text("aix/netstat-Aan-1.txt")
    unix_part = text[text.index("Active UNIX") :]
    assert aix_netstat.parse(unix_part)["total_sockets"] == 0
