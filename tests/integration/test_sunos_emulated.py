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


def start_in_host(name, script):
    """Start a Python script in the host, detached (setsid -f), so it outlives the shell that started it."""
    in_host(
        name,
        "/bin/sh",
        "-c",
        "cat > /tmp/netdiag-test.py <<'EOF'\n%sEOF\nsetsid -f python3 /tmp/netdiag-test.py "
        ">/dev/null 2>&1 </dev/null" % script,
    )


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


@needs_root
def test_audit_reports_the_sunos_server_and_the_pair_without_pfiles(sunos_pair, tmp_path):
    completed, report = run_audit(tmp_path, inventory=sunos_pair, extra=["-e", "netdiag_audit_ports=[5555]"])
    hosts = report["hosts"]
    assert hosts[SERVER]["platform"] == "SunOS", completed.stdout[-3000:]
    assert hosts[CLIENT]["platform"] == "Linux"
    assert hosts[SERVER]["status"] == "ok", hosts[SERVER]
    assert hosts[SERVER]["conntrack"]["available"] is False
    assert hosts[SERVER]["keepalive"]["time"] == KEEPALIVE_TIME
    pairs = [(item["client"], item["server"], item["service_port"]) for item in report["pairs"]]
    assert pairs == [(CLIENT, SERVER, 5555)]
    (pair,) = report["pairs"]
    assert (pair["client_count"], pair["server_count"]) == (CONNECTIONS, CONNECTIONS)
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
