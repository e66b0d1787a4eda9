# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts for real: loopback connections made here, the module run through ansible, exact counts back.

The listener and the clients live in this pytest process, so the owner of every socket is this process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import needs_root, run_module

CLIENTS = 25
CLIENTS_WITH_KEEPALIVE = 10  # SO_KEEPALIVE set on the first 10 client sockets
SERVERS_WITH_KEEPALIVE = 5  # and on the server side of the first 5 accepted connections


@pytest.fixture(scope="module")
def connections():
    """A listener on 127.0.0.1:<ephemeral> and CLIENTS connections to it from 127.0.0.2."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(CLIENTS)
    port = listener.getsockname()[1]
    clients, servers = [], []
    keepalive = {}  # (local port, remote port) -> SO_KEEPALIVE set
    for number in range(CLIENTS):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.bind(("127.0.0.2", 0))
        if number < CLIENTS_WITH_KEEPALIVE:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client.connect(("127.0.0.1", port))
        server, address = listener.accept()
        if number < SERVERS_WITH_KEEPALIVE:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client_port = client.getsockname()[1]
        assert address == ("127.0.0.2", client_port)
        keepalive[(client_port, port)] = number < CLIENTS_WITH_KEEPALIVE
        keepalive[(port, client_port)] = number < SERVERS_WITH_KEEPALIVE
        clients.append(client)
        servers.append(server)
    with open("/proc/self/comm", encoding="utf-8") as handle:
        process = handle.read().strip()
    yield {"port": port, "keepalive": keepalive, "process": process}
    for sock in clients + servers + [listener]:
        sock.close()


@pytest.fixture(scope="module")
def facts(connections):
    result = run_module("netstat_facts", {"ports": [connections["port"]]})
    assert not result.get("failed"), result.get("msg")
    return result["ansible_facts"]["netdiag"]


def test_established_by_peer_in_both_directions(connections, facts):
    port = connections["port"]
    assert facts["netstat"]["established_by_peer"] == [
        {
            "direction": "inbound",
            "service_port": port,
            "peer": "127.0.0.2",
            "count": CLIENTS,
            "without_keepalive": CLIENTS - SERVERS_WITH_KEEPALIVE,
        },
        {
            "direction": "outbound",
            "service_port": port,
            "peer": "127.0.0.1",
            "count": CLIENTS,
            "without_keepalive": CLIENTS - CLIENTS_WITH_KEEPALIVE,
        },
    ]
    assert facts["netstat"]["state_counts"]["ESTABLISHED"] == 2 * CLIENTS
    assert facts["netstat"]["state_counts"]["LISTEN"] == 1
    assert facts["netstat"]["selected_sockets"] == 2 * CLIENTS + 1


def test_owner_is_this_process(connections, facts):
    connections_found = facts["netstat"]["connections"]
    assert len(connections_found) == 2 * CLIENTS + 1
    assert {(c["pid"], c["process"]) for c in connections_found} == {(os.getpid(), connections["process"])}
    assert facts["netstat"]["unmapped_sockets"] == 0
    assert facts["netstat"]["listeners"] == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "127.0.0.1",
            "local_port": connections["port"],
            "pid": os.getpid(),
            "process": connections["process"],
            "user": "root" if os.geteuid() == 0 else facts["netstat"]["listeners"][0]["user"],
        }
    ]


def test_keepalive_per_socket(connections, facts):
    reported = {
        (c["local_port"], c["remote_port"]): c["keepalive"]
        for c in facts["netstat"]["connections"]
        if c["state"] == "ESTABLISHED"
    }
    assert reported == connections["keepalive"]
    expected_without = (CLIENTS - CLIENTS_WITH_KEEPALIVE) + (CLIENTS - SERVERS_WITH_KEEPALIVE)
    assert facts["netstat"]["established_without_keepalive"] == expected_without
    assert facts["netstat"]["established_keepalive_unknown"] == 0


def test_host_keepalive_settings(facts):
    expected = {}
    for name in ("time", "intvl", "probes"):
        with open("/proc/sys/net/ipv4/tcp_keepalive_" + name, encoding="ascii") as handle:
            expected[name] = int(handle.read())
    assert facts["keepalive"] == dict(expected, source="/proc/sys/net/ipv4")


def test_max_connections_truncates_the_list_only(connections):
    result = run_module("netstat_facts", {"ports": [connections["port"]], "max_connections": 5, "owners": False})
    netstat = result["ansible_facts"]["netdiag"]["netstat"]
    assert len(netstat["connections"]) == 5
    assert netstat["truncated"] is True
    assert sum(entry["count"] for entry in netstat["established_by_peer"]) == 2 * CLIENTS
    assert "unmapped_sockets" not in netstat


def test_check_mode_reports_the_same(connections):
    result = run_module("netstat_facts", {"ports": [connections["port"]], "max_connections": 0}, check_mode=True)
    assert result["changed"] is False
    assert result["ansible_facts"]["netdiag"]["netstat"]["state_counts"]["ESTABLISHED"] == 2 * CLIENTS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"states": ["ESTAB"]}, "netstat_facts: states: ESTAB not a TCP state"),
        ({"peers": ["not-an-address"]}, "netstat_facts: peers: 'not-an-address' is not an IP address or CIDR network"),
        ({"max_connections": -3}, "netstat_facts: max_connections: -3 is negative"),
    ],
)
def test_invalid_options_fail_clearly(args, message):
    result = run_module("netstat_facts", args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert "ansible_facts" not in result


NAMESPACE_HOLDER = textwrap.dedent(
    """
    import socket, sys, time
    listener = socket.socket(); listener.bind(("127.0.0.1", int(sys.argv[1]))); listener.listen(8)
    held = []
    for _ in range(3):
        client = socket.socket(); client.connect(("127.0.0.1", int(sys.argv[1])))
        held += [client, listener.accept()[0]]
    print("ready", flush=True)
    sys.stdin.read()
    """
)


@needs_root
def test_reads_the_tables_of_its_network_namespace():
    namespace = "netdiag-netstat-%d" % os.getpid()
    port = 47123
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    holder = None
    try:
        subprocess.run(["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"], check=True)
        holder = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", NAMESPACE_HOLDER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "ready"
        inside = run_module("netstat_facts", {"ports": [port]}, netns=namespace)["ansible_facts"]["netdiag"]
        assert [
            (e["direction"], e["service_port"], e["peer"], e["count"]) for e in inside["netstat"]["established_by_peer"]
        ] == [
            ("inbound", port, "127.0.0.1", 3),
            ("outbound", port, "127.0.0.1", 3),
        ]
        # ip netns exec execs the interpreter, so the holder's pid owns the sockets.
        assert inside["netstat"]["listeners"][0]["pid"] == holder.pid
        # The host namespace does not see those sockets.
        outside = run_module("netstat_facts", {"ports": [port]})["ansible_facts"]["netdiag"]
        assert outside["netstat"]["selected_sockets"] == 0
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", namespace], check=False)
