# SPDX-License-Identifier: GPL-3.0-or-later
"""conntrack_facts and slabinfo_facts on this machine's real kernel.

Two network namespaces joined by a veth pair (198.51.100.1 server, 198.51.100.2 client). The server namespace gets
an nft rule with a ct expression, because a namespace tracks connections only once a rule needs conntrack there.
K real TCP connections are held open from the client to a listener on port 5555 while the module runs inside the
server namespace (ip netns exec), once reading /proc/net/nf_conntrack and once, with a /proc tree that has no
net/ directory, through `conntrack -L -o extended` and `conntrack -S`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
from conftest import REPO, VENV_BIN, ansible_json_environment, needs_root, run_module

# run_module turns no options into "-a '{}'", which ansible takes as free-form text; these tests always pass one.

pytestmark = [needs_root, pytest.mark.needs_root]

CONNECTIONS = 5
PORT = 5555
SERVER_ADDRESS = "198.51.100.1"
CLIENT_ADDRESS = "198.51.100.2"
DISTINCT_TIMEOUT = 4321
RULESET = """table inet netdiag_test {
  chain input {
    type filter hook input priority 0;
    ct state established accept
  }
}
"""

SERVER_PROGRAM = """
import socket, sys, time
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(64)
print("listening", flush=True)
accepted = [listener.accept()[0] for _ in range(int(sys.argv[3]))]
print("accepted", flush=True)
time.sleep(300)
"""

CLIENT_PROGRAM = """
import socket, sys, time
held = [socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) for _ in range(int(sys.argv[3]))]
print("connected", flush=True)
time.sleep(300)
"""


def run(*argv, netns=None, **kwargs):
    """A command on the host, or inside a namespace with ip netns exec; fails the test when it fails."""
    command = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=30, **kwargs)


def wait_for(process, word):
    line = process.stdout.readline().strip()
    if line != word:
        process.kill()
        raise AssertionError("expected %r from the helper process, got %r (rc=%s)" % (word, line, process.poll()))


@pytest.fixture
def topology(request):
    """Server and client namespaces, K established connections client -> server:5555; all removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    server, client = "ndct-srv-" + suffix, "ndct-cli-" + suffix
    processes = []
    created = []

    def cleanup():
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)

    request.addfinalizer(cleanup)
    for namespace in (server, client):
        run("ip", "netns", "add", namespace)
        created.append(namespace)
    server_device, client_device = "nds" + suffix, "ndc" + suffix
    run(
        "ip",
        "link",
        "add",
        server_device,
        "netns",
        server,
        "type",
        "veth",
        "peer",
        "name",
        client_device,
        "netns",
        client,
    )
    run("ip", "-n", server, "addr", "add", SERVER_ADDRESS + "/24", "dev", server_device)
    run("ip", "-n", client, "addr", "add", CLIENT_ADDRESS + "/24", "dev", client_device)
    for namespace, device in ((server, server_device), (client, client_device)):
        run("ip", "-n", namespace, "link", "set", device, "up")
        run("ip", "-n", namespace, "link", "set", "lo", "up")
    run("nft", "-f", "-", netns=server, input=RULESET)
    run("sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_established=%d" % DISTINCT_TIMEOUT, netns=server)

    def start(namespace, program, *args):
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "python3", "-c", program, *map(str, args)],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    listener = start(server, SERVER_PROGRAM, SERVER_ADDRESS, PORT, CONNECTIONS)
    wait_for(listener, "listening")
    connector = start(client, CLIENT_PROGRAM, SERVER_ADDRESS, PORT, CONNECTIONS)
    wait_for(connector, "connected")
    wait_for(listener, "accepted")
    return {"server": server, "client": client}


def assert_connections_seen(facts):
    assert facts["available"] is True
    assert facts["key_style"] == "nf_conntrack"
    assert facts["count"] == CONNECTIONS
    assert facts["entries_parsed"] == CONNECTIONS
    assert facts["state_counts"] == {"ESTABLISHED": CONNECTIONS}
    assert facts["protocol_counts"] == {"tcp": CONNECTIONS}
    assert (facts["assured"], facts["unreplied"]) == (CONNECTIONS, 0)
    assert facts["top_sources"] == [{"address": CLIENT_ADDRESS, "count": CONNECTIONS}]
    assert facts["top_destinations"] == [{"address": SERVER_ADDRESS, "port": PORT, "count": CONNECTIONS}]
    assert facts["timeouts"]["tcp_timeout_established"] == DISTINCT_TIMEOUT


def test_table_from_proc(topology):
    result = run_module("conntrack_facts", {"ports": [PORT]}, netns=topology["server"])
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["netdiag"]["conntrack"]
    assert facts["source"] == "/proc/net/nf_conntrack"
    assert facts["stats_source"] == "/proc/net/stat/nf_conntrack"
    assert facts["stats"]["entries"] == CONNECTIONS
    assert_connections_seen(facts)


def test_table_from_conntrack_tools(topology, tmp_path):
    # A /proc without net/: the kernel's sysctls (through a link), no proc table, so conntrack -L is the source.
    os.symlink("/proc/sys", tmp_path / "sys")
    result = run_module("conntrack_facts", {"proc_root": str(tmp_path)}, netns=topology["server"])
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["netdiag"]["conntrack"]
    assert facts["source"] == "conntrack -L -o extended"
    assert facts["stats_source"] == "conntrack -S"
    assert facts["stats"]["cpus"] == os.cpu_count()
    assert_connections_seen(facts)


def test_filters_that_select_nothing(topology):
    result = run_module("conntrack_facts", {"ports": [PORT + 1], "states": ["TIME_WAIT"]}, netns=topology["server"])
    facts = result["ansible_facts"]["netdiag"]["conntrack"]
    assert (facts["entries_parsed"], facts["entries_selected"], facts["top_sources"]) == (CONNECTIONS, 0, [])


def test_namespace_without_rules_tracks_nothing(topology):
    # conntrack is built into this kernel, so it is available everywhere; the client namespace has no ct rule,
    # so its table stays empty although it holds the other end of the connections.
    result = run_module("conntrack_facts", {"top": 10}, netns=topology["client"])
    facts = result["ansible_facts"]["netdiag"]["conntrack"]
    assert facts["available"] is True
    assert (facts["count"], facts["entries_parsed"], facts["top_sources"]) == (0, 0, [])
    assert facts["timeouts"]["tcp_timeout_established"] == 432000  # a new namespace starts with the default


def test_no_conntrack_is_reported_not_failed(tmp_path):
    (tmp_path / "sys/net/netfilter").mkdir(parents=True)
    result = run_module("conntrack_facts", {"proc_root": str(tmp_path)})
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["netdiag"]["conntrack"]
    assert facts["available"] is False
    assert facts["reason"].startswith("conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_max")
    assert facts["source"] == "none"


def test_slabinfo_as_root_has_the_conntrack_cache():
    result = run_module("slabinfo_facts", {"proc_root": "/proc"})
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["netdiag"]["slabinfo"]
    assert facts["available"] is True
    assert facts["version"] == "2.1"
    cache = facts["caches"]["nf_conntrack"]
    assert cache["objsize"] > 0
    assert cache["bytes"] == cache["num_slabs"] * cache["pagesperslab"] * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(shutil.which("su") is None or not os.path.exists("/usr/bin/python3"), reason="needs su, python3")
def test_slabinfo_as_nobody_needs_become():
    # The controller runs as root; the module runs as nobody (become_method su, a shell given because nobody's is
    # nologin) with the system Python, since the venv's interpreter lives under /root.
    command = [
        str(VENV_BIN / "ansible"),
        "localhost",
        "-m",
        "netdiag.tcp.slabinfo_facts",
        "--become",
        "--become-method=su",
        "--become-user=nobody",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-e",
        'ansible_become_flags="-s /bin/sh"',
    ]
    environment = ansible_json_environment()
    completed = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    result = json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result
    assert result["ansible_facts"]["netdiag"]["slabinfo"] == {
        "available": False,
        "reason": "needs become (root) to read /proc/slabinfo (mode 0400)",
    }
