# SPDX-License-Identifier: GPL-3.0-or-later
"""socket_records: canonical addresses and ports, the direction rule, and summarize() over record streams."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    TCP_STATES,
    canonical_address,
    canonical_port,
    make_record,
    record_to_dict,
    service_port_of,
    split_scope,
    summarize,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0", "*"),
        ("::", "*"),
        ("*", "*"),
        ("[::]", "*"),
        ("::ffff:0.0.0.0", "*"),
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("[::ffff:10.1.2.3]", "10.1.2.3"),
        ("FE80::0C7E:53FF:FE40:0A26", "fe80::c7e:53ff:fe40:a26"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1]%eth0", "fe80::1"),
        ("127.0.0.53%lo", "127.0.0.53"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
    ],
)
def test_canonical_address(text, expected):
    assert canonical_address(text) == expected


@pytest.mark.parametrize("text", ["garbage", "1.2.3", "", "2001:db8::1::2"])
def test_canonical_address_rejects_non_addresses(text):
    with pytest.raises(ValueError):
        canonical_address(text)


@pytest.mark.parametrize(("text", "expected"), [("*", None), ("0", None), ("22", 22), ("65535", 65535)])
def test_canonical_port(text, expected):
    assert canonical_port(text) == expected


@pytest.mark.parametrize("text", ["65536", "-1", "ssh", ""])
def test_canonical_port_rejects(text):
    with pytest.raises(ValueError):
        canonical_port(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fe80::1%eth0", ("fe80::1", "eth0")),
        ("[fe80::1%eth0]", ("fe80::1", "eth0")),
        ("[fe80::1]%eth0", ("fe80::1", "eth0")),
        ("[::1]", ("::1", None)),
        ("10.0.0.1", ("10.0.0.1", None)),
    ],
)
def test_split_scope(text, expected):
    assert split_scope(text) == expected


@pytest.mark.parametrize(
    ("local_port", "remote_port", "listening", "expected"),
    [
        (5555, 40770, {5555}, ("inbound", 5555)),
        (40770, 5555, {5555}, ("outbound", 5555)),
        (40770, 1521, {5555}, ("outbound", 1521)),
        # No listener known at all: the lower port is the service port.
        (5555, 40770, set(), ("inbound", 5555)),
        (40770, 5555, set(), ("outbound", 5555)),
        (443, 443, set(), ("inbound", 443)),
    ],
)
def test_service_port_of(local_port, remote_port, listening, expected):
    assert service_port_of(local_port, remote_port, listening) == expected


def tcp(local, local_port, remote, remote_port, state, keepalive=None, **optional):
    family = "inet6" if ":" in local + remote else "inet"
    return make_record("tcp", family, local, local_port, remote, remote_port, state, keepalive=keepalive, **optional)


def server_records():
    """A server listening on 5555 and 22, with clients, plus outbound connections to a database on 1521."""
    yield tcp("*", 5555, "*", None, "LISTEN", pid=10, process="app_srv")
    yield tcp("*", 22, "*", None, "LISTEN", pid=1, process="sshd")
    for port in range(40000, 40005):
        yield tcp("192.0.2.10", 5555, "192.0.2.1", port, "ESTABLISHED", keepalive=False)
    for port in range(41000, 41003):
        yield tcp("192.0.2.10", 5555, "192.0.2.2", port, "ESTABLISHED", keepalive=True)
    yield tcp("192.0.2.10", 5555, "192.0.2.2", 41003, "ESTABLISHED", keepalive=None)
    for port in range(50000, 50003):
        yield tcp("192.0.2.10", port, "198.51.100.7", 1521, "ESTABLISHED", keepalive=False)
    yield tcp("192.0.2.10", 5555, "192.0.2.3", 42000, "CLOSE_WAIT", keepalive=False)
    yield tcp("192.0.2.10", 5555, "192.0.2.3", 42001, "TIME_WAIT")
    yield make_record("udp", "inet", "*", 53, "*", None, None)
    yield make_record("udp", "inet", "192.0.2.10", 50500, "192.0.2.53", 53, "ESTABLISHED")


def test_summarize_counts_peers_in_both_directions():
    result = summarize(server_records())
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 5555, "peer": "192.0.2.1", "count": 5, "without_keepalive": 5},
        {"direction": "inbound", "service_port": 5555, "peer": "192.0.2.2", "count": 4, "without_keepalive": 0},
        {"direction": "outbound", "service_port": 1521, "peer": "198.51.100.7", "count": 3, "without_keepalive": 3},
    ]
    expected_states = dict.fromkeys(TCP_STATES, 0)
    expected_states.update(LISTEN=2, ESTABLISHED=12, CLOSE_WAIT=1, TIME_WAIT=1)
    assert result["state_counts"] == expected_states
    assert result["total_sockets"] == result["selected_sockets"] == 18
    assert result["protocol_counts"] == {"tcp": 16, "udp": 2}
    assert result["established_without_keepalive"] == 8
    assert result["established_keepalive_unknown"] == 1
    assert result["truncated"] is False
    assert len(result["connections"]) == 18
    assert "unmapped_sockets" not in result
    assert result["listeners"] == [
        {"protocol": "tcp", "family": "inet", "local_address": "*", "local_port": 22, "pid": 1, "process": "sshd"},
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "*",
            "local_port": 5555,
            "pid": 10,
            "process": "app_srv",
        },
        {"protocol": "udp", "family": "inet", "local_address": "*", "local_port": 53},
    ]


def test_summarize_consumes_a_one_shot_iterator():
    records = server_records()
    assert summarize(records)["total_sockets"] == 18
    assert next(records, None) is None


def test_summarize_caps_connections_but_not_counts():
    result = summarize(server_records(), max_connections=4)
    assert len(result["connections"]) == 4
    assert result["truncated"] is True
    assert result["state_counts"]["ESTABLISHED"] == 12
    assert [connection["local_port"] for connection in result["connections"]] == [5555, 22, 5555, 5555]


def test_summarize_zero_connections_means_counts_only():
    result = summarize(server_records(), max_connections=0)
    assert result["connections"] == []
    assert result["truncated"] is True
    assert sum(entry["count"] for entry in result["established_by_peer"]) == 12


def test_summarize_selection_applies_to_every_count():
    result = summarize(server_records(), selection=Selection(ports=[1521]))
    assert result["selected_sockets"] == 3
    assert result["total_sockets"] == 18
    assert result["state_counts"]["ESTABLISHED"] == 3
    assert result["state_counts"]["LISTEN"] == 0
    assert result["listeners"] == []
    # The direction still knows the listeners that the selection left out.
    assert result["established_by_peer"] == [
        {"direction": "outbound", "service_port": 1521, "peer": "198.51.100.7", "count": 3, "without_keepalive": 3}
    ]


def test_summarize_selection_by_peer_network_and_state():
    result = summarize(server_records(), selection=Selection(states=["established"], peers=["192.0.2.0/31"]))
    assert result["selected_sockets"] == 5
    assert [entry["peer"] for entry in result["established_by_peer"]] == ["192.0.2.1"]


def test_summarize_without_listeners_uses_lower_port():
    records = [
        tcp("10.0.0.5", 5555, "10.0.0.1", 40001, "ESTABLISHED"),
        tcp("10.0.0.5", 40002, "10.0.0.9", 5555, "ESTABLISHED"),
    ]
    result = summarize(iter(records))
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 5555, "peer": "10.0.0.1", "count": 1, "without_keepalive": 0},
        {"direction": "outbound", "service_port": 5555, "peer": "10.0.0.9", "count": 1, "without_keepalive": 0},
    ]


def test_summarize_given_listening_ports_decide_direction():
    records = [tcp("10.0.0.5", 40001, "10.0.0.1", 5555, "ESTABLISHED")]
    result = summarize(records, listening_ports={40001})
    assert result["established_by_peer"][0]["direction"] == "inbound"
    assert result["established_by_peer"][0]["service_port"] == 40001


def test_summarize_ties_sorted_deterministically():
    records = [
        tcp("10.0.0.5", 80, "10.0.0.2", 40001, "ESTABLISHED"),
        tcp("10.0.0.5", 80, "10.0.0.1", 40002, "ESTABLISHED"),
        tcp("10.0.0.5", 22, "10.0.0.3", 40003, "ESTABLISHED"),
    ]
    result = summarize(records, listening_ports={22, 80})
    assert [(entry["service_port"], entry["peer"]) for entry in result["established_by_peer"]] == [
        (22, "10.0.0.3"),
        (80, "10.0.0.1"),
        (80, "10.0.0.2"),
    ]


def test_summarize_counts_unmapped_sockets_with_an_inode():
    records = [
        tcp("10.0.0.5", 80, "*", None, "LISTEN", pid=7, process="nginx", inode=100),
        tcp("10.0.0.5", 80, "10.0.0.1", 40001, "ESTABLISHED", inode=101),
        tcp("10.0.0.5", 80, "10.0.0.1", 40002, "TIME_WAIT", inode=0),
    ]
    assert summarize(records, owners_mapped=True)["unmapped_sockets"] == 1


def test_summarize_keeps_platform_states():
    result = summarize([tcp("10.0.0.5", 80, "*", None, "BOUND")])
    assert result["state_counts"]["BOUND"] == 1


def test_summarize_empty_stream():
    result = summarize(iter(()))
    assert result["state_counts"] == dict.fromkeys(TCP_STATES, 0)
    assert result["established_by_peer"] == result["listeners"] == result["connections"] == []
    assert result["total_sockets"] == 0


def test_record_to_dict_leaves_out_unknown_optional_fields():
    record = tcp("10.0.0.5", 80, "10.0.0.1", 40001, "ESTABLISHED", keepalive=True, pid=3, inode=9)
    assert record_to_dict(record) == {
        "protocol": "tcp",
        "family": "inet",
        "local_address": "10.0.0.5",
        "local_port": 80,
        "remote_address": "10.0.0.1",
        "remote_port": 40001,
        "state": "ESTABLISHED",
        "keepalive": True,
        "pid": 3,
        "inode": 9,
    }
    udp = make_record("udp", "inet", "*", 53, "*", None)
    assert "keepalive" not in record_to_dict(udp)


def test_make_record_rejects_unknown_fields():
    with pytest.raises(TypeError):
        make_record("tcp", "inet", "*", 22, "*", None, "LISTEN", colour="red")


def test_tuples_record_the_peers_filter_they_were_selected_by():
    """The report must know that sockets towards other addresses were left out (matching.peers_filter)."""
    records = [
        make_record("tcp", "inet", "198.51.100.20", 5555, "198.51.100.10", 40000, "ESTABLISHED"),
        make_record("tcp", "inet", "198.51.100.20", 5555, "198.51.100.99", 40001, "ESTABLISHED"),
    ]
    filtered = summarize(records, Selection(peers=["198.51.100.10", "192.0.2.0/24"]), tuples=True)
    assert filtered["established_tuples"]["peers"] == ["198.51.100.10/32", "192.0.2.0/24"]
    assert filtered["established_tuples"]["rows"] == "198.51.100.20 5555 198.51.100.10 40000 - -"
    unfiltered = summarize(records, Selection(ports=[5555]), tuples=True)
    assert "peers" not in unfiltered["established_tuples"] and unfiltered["established_tuples"]["count"] == 2
