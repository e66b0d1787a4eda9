# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts and the audit on an EMULATED SunOS host, over real SSH (tests/emulation/README.md).

Two test hosts of tools/testhosts: `solsrv1` (198.51.100.80) with the SunOS emulation tree (python-sunos reports
SunOS; netstat, pfiles, ipadm, ndd print Solaris formats from the host's real sockets), and `solcli1` (198.51.100.81),
a plain Linux client. The client holds real TCP connections to a server process on solsrv1:5555 that sets
SO_KEEPALIVE on the connections it accepts. `ansible` reaches both hosts over SSH. This proves the wiring (SSH,
interpreter, platform pick, commands, parsers, report); the Solaris formats themselves are tested on real captures
in the unit tests.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from conftest import REPO, VENV_BIN, ansible_json_environment, needs_root, run_audit

TESTHOSTS = [str(REPO / "tools" / "testhosts" / "testhosts.py")]
SERVER, SERVER_ADDRESS = "solsrv1", "198.51.100.80"
CLIENT, CLIENT_ADDRESS = "solcli1", "198.51.100.81"
CONNECTIONS = 4
KEEPALIVE_TIME = 1800  # set in the server's namespace: the emulated ipadm reports it as 1800000 ms
PFILES_MARKER = "/var/lib/netdiag-emulation/sunos/pfiles-ran"

SERVER_SCRIPT = """
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 5555))
server.listen(64)
held = []
while True:
    connection = server.accept()[0]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    held.append(connection)
"""
CLIENT_SCRIPT = """
import socket, time
held = [socket.create_connection(("%s", 5555), timeout=5) for _ in range(%d)]
time.sleep(3600)
""" % (SERVER_ADDRESS, CONNECTIONS)


def run_testhosts(*arguments, check=True):
    return subprocess.run(
        ["python3", *TESTHOSTS, *arguments], cwd=REPO, capture_output=True, text=True, check=check, timeout=300
    )


def in_host(name, *command, check=True):
    return run_testhosts("shell", name, *command, check=check)


def start_in_host(name, script, path="/tmp/netdiag-test.py"):
    """Start a Python script in the host, detached (setsid -f), so it outlives the shell that started it."""
    command = "cat > %s <<'EOF'\n%sEOF\nsetsid -f python3 %s >/dev/null 2>&1 </dev/null" % (path, script, path)
    in_host(name, "/bin/sh", "-c", command)


@pytest.fixture(scope="module")
def sunos_pair(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sunos")
    try:
        created = json.loads(run_testhosts("create", "--emulate", "sunos", "%s=%s" % (SERVER, SERVER_ADDRESS)).stdout)
        run_testhosts("create", "%s=%s" % (CLIENT, CLIENT_ADDRESS))
        assert created["python_interpreter"] == "/usr/local/bin/python-sunos"
        in_host(SERVER, "sysctl", "-q", "-w", "net.ipv4.tcp_keepalive_time=%d" % KEEPALIVE_TIME)
        start_in_host(SERVER, SERVER_SCRIPT)
        time.sleep(1)
        start_in_host(CLIENT, CLIENT_SCRIPT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            table = in_host(SERVER, "cat", "/proc/net/tcp").stdout
            if sum(1 for line in table.splitlines() if ":15B3 " in line and " 01 " in line) >= CONNECTIONS:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the client's connections did not reach the server")
        ssh_options = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        common = {"ansible_user": "root", "ansible_ssh_private_key_file": created["private_key"]}
        common["ansible_ssh_common_args"] = ssh_options  # throw-away hosts: no host key checking, this inventory only
        hosts = {
            SERVER: dict(common, ansible_host=SERVER_ADDRESS, ansible_python_interpreter=created["python_interpreter"]),
            CLIENT: dict(common, ansible_host=CLIENT_ADDRESS, ansible_python_interpreter="/usr/bin/python3"),
        }
        inventory = directory / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        yield inventory
    finally:
        run_testhosts("destroy", SERVER, CLIENT, check=False)


def ansible_on(inventory, host, module, args):
    completed = subprocess.run(
        [str(VENV_BIN / "ansible"), host, "-i", str(inventory), "-m", module, "-a", json.dumps(args)],
        cwd=REPO,
        env=ansible_json_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        return json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError) as error:
        raise AssertionError("ansible printed no result\n%s\n%s" % (completed.stdout, completed.stderr)) from error


def pfiles_ran():
    return in_host(SERVER, "test", "-e", PFILES_MARKER, check=False).returncode == 0


@needs_root
def test_netstat_facts_on_emulated_sunos_has_owners_and_keepalive_seconds(sunos_pair):
    result = ansible_on(sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5555]})
    assert result.get("failed") is not True, result
    netdiag = result["ansible_facts"]["netdiag"]
    netstat = netdiag["netstat"]
    assert netstat["platform"] == "SunOS"
    assert netstat["sources"] == ["/usr/bin/netstat -anu"]
    assert netstat["established_by_peer"] == [
        {
            "direction": "inbound",
            "service_port": 5555,
            "peer": CLIENT_ADDRESS,
            "count": CONNECTIONS,
            "without_keepalive": 0,
        }
    ]
    established = [item for item in netstat["connections"] if item["state"] == "ESTABLISHED"]
    assert len(established) == CONNECTIONS
    assert {(item["process"], item["user"]) for item in established} == {("python3", "root")}
    assert all(isinstance(item["pid"], int) for item in established)
    assert all(item["keepalive"] is None for item in established)  # netstat cannot tell; pfiles did not run
    assert [(item["local_port"], item["process"]) for item in netstat["listeners"]] == [(5555, "python3")]
    keepalive = netdiag["keepalive"]
    assert (keepalive["time"], keepalive["time_ms"], keepalive["source"]) == (
        KEEPALIVE_TIME,
        KEEPALIVE_TIME * 1000,
        "ipadm show-prop tcp",
    )
    assert (keepalive["intvl"], keepalive["probes"]) == (None, None)
    sunos = netdiag["sunos"]
    assert sunos["owners"]["source"] == "netstat -u" and sunos["root"] is True
    assert sunos["pfiles"]["ran"] is False
    assert not pfiles_ran()
    only_tcp = ansible_on(sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5555], "protocols": ["tcp"]})
    netstat = only_tcp["ansible_facts"]["netdiag"]["netstat"]
    assert netstat["sources"] == ["/usr/bin/netstat -anu -P tcp"]
    assert netstat["state_counts"]["ESTABLISHED"] == CONNECTIONS and netstat["protocol_counts"]["udp"] == 0


@needs_root
def test_audit_reports_the_sunos_server_and_the_pair_without_pfiles(sunos_pair, tmp_path):
    completed, report = run_audit(tmp_path, inventory=sunos_pair, extra=["-e", "netdiag_audit_ports=[5555]"])
    hosts = report["hosts"]
    assert hosts[SERVER]["platform"] == "SunOS", completed.stdout[-3000:]
    assert hosts[CLIENT]["platform"] == "Linux"
    assert hosts[SERVER]["status"] == "ok", hosts[SERVER]
    assert hosts[SERVER]["conntrack"]["available"] is False and "SunOS" in hosts[SERVER]["conntrack"]["reason"]
    assert hosts[SERVER]["slabinfo"]["available"] is False and "SunOS" in hosts[SERVER]["slabinfo"]["reason"]
    assert hosts[SERVER]["keepalive"]["time"] == KEEPALIVE_TIME
    pairs = [(item["client"], item["server"], item["service_port"]) for item in report["pairs"]]
    assert pairs == [(CLIENT, SERVER, 5555)]
    (pair,) = report["pairs"]
    assert (pair["client_count"], pair["server_count"]) == (CONNECTIONS, CONNECTIONS)
    # Both ends listed their sockets (tuples): every connection is matched with its mirror, none half-open.
    assert pair["per_connection"] is True, pair
    assert (pair["client_matched"], pair["server_matched"]) == (CONNECTIONS, CONNECTIONS)
    assert (pair["client_half_open"], pair["server_half_open"]) == (0, 0)
    assert not [item for item in report["findings"] if item["id"] == "asymmetric-established"]
    assert not pfiles_ran()


@needs_root
def test_pfiles_runs_when_asked_and_reads_so_keepalive(sunos_pair):
    # The positive control of the marker the two tests above assert absent (they run first, in file order).
    result = ansible_on(sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5555], "sunos_pfiles": True})
    assert result.get("failed") is not True, result
    netstat = result["ansible_facts"]["netdiag"]["netstat"]
    established = [item for item in netstat["connections"] if item["state"] == "ESTABLISHED"]
    assert [item["keepalive"] for item in established] == [True] * CONNECTIONS
    assert netstat["established_without_keepalive"] == 0 and netstat["established_keepalive_unknown"] == 0
    pfiles = result["ansible_facts"]["netdiag"]["sunos"]["pfiles"]
    assert pfiles["ran"] is True and len(pfiles["pids"]) == 1
    assert pfiles_ran()
    marker = in_host(SERVER, "cat", PFILES_MARKER).stdout.split()
    assert marker == [str(pid) for pid in pfiles["pids"]]


@needs_root
def test_solaris_10_without_netstat_u_falls_back_and_pfiles_finds_the_owners(sunos_pair):
    # The emulated netstat refuses -u as Solaris 10's does while its release file says 5.10.
    release = "/var/lib/netdiag-emulation/sunos/release"
    in_host(SERVER, "/bin/sh", "-c", "mkdir -p /var/lib/netdiag-emulation/sunos && echo 5.10 > %s" % release)
    try:
        plain = ansible_on(sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5555]})
        with_pfiles = ansible_on(
            sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5555], "sunos_pfiles": True}
        )
    finally:
        in_host(SERVER, "rm", "-f", release)
    netdiag = plain["ansible_facts"]["netdiag"]
    assert netdiag["netstat"]["sources"] == ["/usr/bin/netstat -an"]
    owners = netdiag["sunos"]["owners"]
    assert owners["available"] is False and "illegal option -- u" in owners["reason"]
    established = [item for item in netdiag["netstat"]["connections"] if item["state"] == "ESTABLISHED"]
    assert len(established) == CONNECTIONS and all("pid" not in item for item in established)
    netdiag = with_pfiles["ansible_facts"]["netdiag"]
    assert netdiag["sunos"]["pfiles"]["scope"].startswith("processes in pid order")
    established = [item for item in netdiag["netstat"]["connections"] if item["state"] == "ESTABLISHED"]
    assert {(item["process"], item["keepalive"]) for item in established} == {("python3", True)}


CLOSING_CLIENT_SCRIPT = (
    """
import socket
for _ in range(3):
    socket.create_connection(("%s", 5555), timeout=5).close()
"""
    % SERVER_ADDRESS
)


@needs_root
def test_close_wait_on_the_sunos_end_is_a_finding_naming_its_owner(sunos_pair, tmp_path):
    # The client closes 3 more connections at once; the server process never closes its side: CLOSE_WAIT there.
    in_host(CLIENT, "python3", "-c", CLOSING_CLIENT_SCRIPT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        table = in_host(SERVER, "cat", "/proc/net/tcp").stdout
        if sum(1 for line in table.splitlines() if ":15B3 " in line and " 08 " in line) >= 3:
            break
        time.sleep(0.5)
    thresholds = json.dumps({"netdiag_audit_thresholds": {"close_wait": 3}, "netdiag_audit_ports": [5555]})
    completed, report = run_audit(tmp_path, inventory=sunos_pair, extra=["-e", thresholds])
    assert report["hosts"][SERVER]["netstat"]["state_counts"]["CLOSE_WAIT"] == 3, completed.stdout[-3000:]
    (found,) = [item for item in report["findings"] if item["id"] == "close-wait-buildup"]
    assert found["host"] == SERVER
    (owner,) = found["evidence"]["owners"]
    assert owner.startswith("python3 (pid ") and found["evidence"]["owners"][owner] == 3
    assert not [item for item in report["findings"] if item["id"] == "asymmetric-established"]


FORKING_SERVER_SCRIPT = """
import os, socket, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 5556))
server.listen(8)
held = [server.accept()[0] for _ in range(2)]
os.fork()  # parent and child now both hold the listener and the two connections
time.sleep(3600)
"""
HOLDING_CLIENT_SCRIPT = (
    """
import socket, time
held = [socket.create_connection(("%s", 5556), timeout=5) for _ in range(2)]
time.sleep(3600)
"""
    % SERVER_ADDRESS
)


@needs_root
def test_a_connection_held_by_two_processes_is_counted_once(sunos_pair):
    start_in_host(SERVER, FORKING_SERVER_SCRIPT, "/tmp/netdiag-fork.py")
    time.sleep(1)
    start_in_host(CLIENT, HOLDING_CLIENT_SCRIPT, "/tmp/netdiag-hold.py")
    deadline = time.monotonic() + 30
    result = None
    while time.monotonic() < deadline:
        result = ansible_on(sunos_pair, SERVER, "netdiag.tcp.netstat_facts", {"ports": [5556]})
        if result["ansible_facts"]["netdiag"]["sunos"]["shared_socket_rows"] == 2:
            break
        time.sleep(1)
    netdiag = result["ansible_facts"]["netdiag"]
    # netstat -u printed each connection once per holding process (4 rows); the module counts 2 sockets.
    assert netdiag["sunos"]["shared_socket_rows"] == 2
    assert netdiag["netstat"]["state_counts"]["ESTABLISHED"] == 2
    assert [entry["count"] for entry in netdiag["netstat"]["established_by_peer"]] == [2]


HALF_OPEN_SERVER_SCRIPT = """
import socket, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 5557))
server.listen(16)
held = [server.accept()[0] for _ in range(5)]
time.sleep(3600)
"""
VANISHING_CLIENT_SCRIPT = (
    """
import os, socket, time
held = [socket.create_connection(("%s", 5557), timeout=5) for _ in range(5)]
with open("/tmp/netdiag-vanishing-client.pid", "w") as handle:
    handle.write(str(os.getpid()))
time.sleep(3600)
"""
    % SERVER_ADDRESS
)


@needs_root
def test_half_open_connections_held_on_the_sunos_end_are_found_with_their_holder(sunos_pair, tmp_path):
    # The incident: the client's side of 5 connections vanishes without the server ever hearing of it (its FINs are
    # dropped on the way), so the server keeps 5 ESTABLISHED sockets that have no mirror on the client.
    start_in_host(SERVER, HALF_OPEN_SERVER_SCRIPT, "/tmp/netdiag-half-open-server.py")
    time.sleep(1)
    start_in_host(CLIENT, VANISHING_CLIENT_SCRIPT, "/tmp/netdiag-vanishing-client.py")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        table = in_host(SERVER, "cat", "/proc/net/tcp").stdout
        if sum(1 for line in table.splitlines() if ":15B5 " in line and " 01 " in line) >= 5:
            break
        time.sleep(0.5)
    in_host(
        CLIENT,
        "/bin/sh",
        "-c",
        "nft add table inet netdiag_test && "
        "nft 'add chain inet netdiag_test out { type filter hook output priority 0; }' && "
        "nft add rule inet netdiag_test out ip daddr %s tcp dport 5557 drop && "
        "kill $(cat /tmp/netdiag-vanishing-client.pid)" % SERVER_ADDRESS,
    )
    time.sleep(1)
    thresholds = json.dumps({"netdiag_audit_ports": [5557]})
    completed, report = run_audit(tmp_path, inventory=sunos_pair, extra=["-e", thresholds])
    assert report["hosts"][SERVER]["netstat"]["state_counts"]["ESTABLISHED"] == 5, completed.stdout[-3000:]
    assert report["hosts"][CLIENT]["netstat"]["state_counts"]["ESTABLISHED"] == 0
    (found,) = [item for item in report["findings"] if item["id"] == "half-open-sockets"]
    assert found["host"] == SERVER and found["evidence"]["count"] == 5, found
    (holder,) = found["evidence"]["holders"]
    assert (holder["process"], holder["user"], holder["count"]) == ("python3", "root", 5)
    assert holder["named_by"] == ["netstat -anu"]  # the owner columns of netstat -u named it
    assert found["evidence"]["keepalive"] == "unknown"  # netstat cannot tell; the audit never runs pfiles
    assert pfiles_ran()  # only from the earlier test that asked for it: the audit added no run
    assert in_host(SERVER, "wc", "-l", PFILES_MARKER).stdout.split()[0] == "2"
