# SPDX-License-Identifier: GPL-3.0-or-later
"""The Linux collector's two readers on the same live sockets: sock_diag netlink and /proc/net/tcp* give the same
facts.

One network namespace holds real sockets of many kinds: IPv4, IPv6 and IPv4-mapped connections (a dual-stack
listener), keepalive on some, CLOSE_WAIT / FIN_WAIT_2 / TIME_WAIT sockets, bound and connected UDP sockets. Inside
it, one Python process runs LinuxNetstatCollector with reader="sock_diag" and reader="proc" back to back, for
several option sets, and the results are compared field by field (the sockets do not change in between: nothing
connects or closes any more, and TIME_WAIT lasts 60 s). sock_diag reads TCP in one dump of both families, whose
records come interleaved: the sample and the tuples must still come out in /proc's order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from conftest import REPO, needs_root, run, tear_down

pytestmark = [needs_root, pytest.mark.needs_root]

HOLDER = r"""
import socket, sys, time
held = []
def listener(family, address, port):
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(512)
    held.append(server)
    return server
def connect(family, source, address, port, keepalive):
    client = socket.socket(family, socket.SOCK_STREAM)
    if keepalive:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    client.bind((source, 0))
    client.connect((address, port))
    return client
# Bound but neither listening nor connected (TCP_BOUND_INACTIVE on Linux 6.6+): in neither reader's facts.
inactive = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
inactive.bind(("127.0.0.1", 7009))
held.append(inactive)
v4 = listener(socket.AF_INET, "127.0.0.1", 7001)
dual = listener(socket.AF_INET6, "::", 7002)
v6 = listener(socket.AF_INET6, "::1", 7003)
pairs = []
for index in range(120):
    source = "127.1.0.%d" % (index + 1)
    pairs.append((connect(socket.AF_INET, source, "127.0.0.1", 7001, index % 3 == 0), v4.accept()[0]))
for index in range(40):
    source = "127.2.0.%d" % (index % 7 + 1)
    pairs.append((connect(socket.AF_INET, source, "127.0.0.1", 7002, index % 2 == 0), dual.accept()[0]))
for index in range(30):
    port, server = (7003, v6) if index % 2 else (7002, dual)
    pairs.append((connect(socket.AF_INET6, "::1", "::1", port, index % 4 == 0), server.accept()[0]))
# Clients that shut down their sending side first (still open, so FIN_WAIT_2 never times out): their servers
# hold CLOSE_WAIT.
for client, server in pairs[:15]:
    client.shutdown(socket.SHUT_WR)
# Both ends closed, client first: the clients end in TIME_WAIT.
for client, server in pairs[15:30]:
    client.close()
    time.sleep(0.002)
    server.close()
held.extend(end for pair in pairs[30:] for end in pair)
held.extend(end for pair in pairs[:15] for end in pair)
for port in range(7100, 7105):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    held.append(udp)
connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connected.connect(("127.0.0.1", 7100))
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp6.bind(("::1", 7200))
held.extend([connected, udp6])
time.sleep(0.5)
print("ready", flush=True)
sys.stdin.readline()
"""

COMPARE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_sockets import LinuxNetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
options = json.loads(sys.argv[2])
selection = Selection(options.pop("ports", None), options.pop("states", None), options.pop("peers", None))
results = {}
for reader in ("sock_diag", "proc"):
    netstat, _keepalive = LinuxNetstatCollector(reader=reader).collect(selection, **options)
    results[reader] = netstat
print(json.dumps(results))
"""

# The owner scan reads every process of the host (slow on a busy one): most sets leave it out.
OPTION_SETS = [
    {"max_connections": None},
    {"max_connections": 20, "tuples": True},
    {"max_connections": 25, "owners": False},
    {"max_connections": 0, "tuples": True, "max_tuples": 40, "owners": False, "ports": [7001]},
    {"max_connections": 10, "limits": {"max_peers": 2, "max_listeners": 3}, "owners": False},
    {"max_connections": None, "families": ["inet"], "owners": False},
    {"max_connections": None, "families": ["inet6"], "owners": False},
    {"max_connections": None, "protocols": ["udp"], "owners": False},
    {"max_connections": 50, "ports": [7002], "states": ["ESTABLISHED", "CLOSE_WAIT"], "owners": False},
    {"max_connections": 50, "peers": ["127.2.0.0/24", "::1"], "owners": False},
    # The sample and the tuples end among the AF_INET6 sockets (after the 40 AF_INET clients of port 7002).
    {"max_connections": 60, "tuples": True, "max_tuples": 70, "ports": [7002], "owners": False},
]


@pytest.fixture
def namespace():
    """A namespace of its own for every test: TIME_WAIT sockets vanish after 60 s, so each comparison runs on
    sockets made seconds before."""
    name = "spdsd" + uuid.uuid4().hex[:6]
    run("ip", "netns", "add", name)
    processes = []
    try:
        run("ip", "-n", name, "link", "set", "lo", "up")
        holder = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", HOLDER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(holder)
        assert holder.stdout.readline().strip() == "ready"
        yield name
    finally:
        tear_down(processes, [name])


def compared(namespace, options):
    completed = run(
        "ip",
        "netns",
        "exec",
        namespace,
        sys.executable,
        "-c",
        COMPARE,
        str(REPO / ".ansible" / "collections"),
        json.dumps(options),
    )
    results = json.loads(completed.stdout)
    return results["sock_diag"], results["proc"]


@pytest.mark.parametrize("options", OPTION_SETS, ids=[json.dumps(options) for options in OPTION_SETS])
def test_sock_diag_and_proc_give_the_same_facts(namespace, options):
    sock_diag, proc = compared(namespace, dict(options))
    assert sock_diag.pop("reader") == "sock_diag"
    assert proc.pop("reader") == "proc"
    sources = sock_diag.pop("sources")
    assert all(source.startswith("sock_diag ") for source in sources)
    if "families" not in options and options.get("protocols") != ["udp"]:
        assert sources[0] == "sock_diag tcp inet+inet6"  # one walk of the kernel's tables for both families
    assert all(source.startswith("/proc/net/") for source in proc.pop("sources"))
    for result in (sock_diag, proc):
        scan = result.pop("owner_scan", None)
        if scan is not None:
            scan.pop("seconds")
    if options.get("max_connections") is None:
        key = json.dumps
        sock_diag["connections"] = sorted(sock_diag["connections"], key=lambda item: key(item, sort_keys=True))
        proc["connections"] = sorted(proc["connections"], key=lambda item: key(item, sort_keys=True))
    assert sock_diag == proc


def test_the_namespace_holds_every_kind_of_socket(namespace):
    # Guards the comparison above against comparing empty results.
    sock_diag, _proc = compared(namespace, {"max_connections": None})
    states = sock_diag["state_counts"]
    assert states["LISTEN"] == 3
    assert states["CLOSE_WAIT"] == 15 and states["FIN_WAIT_2"] == 15
    assert states["TIME_WAIT"] == 15
    assert states["ESTABLISHED"] == 2 * (190 - 30)
    assert sock_diag["protocol_counts"]["udp"] == 7
    families = {(item["family"], item["local_port"]) for item in sock_diag["connections"] if item["protocol"] == "tcp"}
    assert ("inet", 7002) in families  # IPv4 clients of the dual-stack listener are inet
    assert ("inet6", 7002) in families
    assert sock_diag["established_without_keepalive"] > 0
    assert sock_diag["established_by_peer_total"] > 100
    assert sock_diag["unmapped_sockets"] == 0
    assert sock_diag["owner_scan"]["stopped_short"] is False


def test_tuples_hold_every_established_socket_with_its_owner(namespace):
    sock_diag, _proc = compared(namespace, {"max_connections": 0, "tuples": True})
    tuples = sock_diag["established_tuples"]
    assert tuples["count"] == sock_diag["state_counts"]["ESTABLISHED"] == len(tuples["rows"].split("\n"))
    pids = {row.split(" ")[4] for row in tuples["rows"].split("\n")}
    assert "-" not in pids and set(sock_diag["holders"]) == pids  # one holder process owns them all
