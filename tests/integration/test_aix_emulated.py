# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts and the audit against an EMULATED AIX host, over real SSH (see tests/emulation/README.md).

The incident's topology, rebuilt with two test hosts of tools/testhosts/testhosts.py: `aixcli1` (Linux, the web
server) opens 30 connections to port 23 of `aixsrv1` (emulated AIX, the application server, which never closes
them and sets no keepalive). Then nothing aixcli1 sends reaches aixsrv1 (an nft rule on aixcli1) and aixcli1
closes 20 of them: it forgets them, aixsrv1 still holds 30. Before the rmsock test aixsrv1 closes one connection
itself: that socket is then held by no process (an orphan in FIN_WAIT_1, its FIN never acknowledged), what rmsock
removes.

aixsrv1's Python reports AIX and its netstat/kdb/rmsock/no are scripts printing the host's real Linux sockets in
AIX format: this proves the wiring (SSH, module, commands, parsing, report), not real AIX behaviour.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest
from conftest import CLOSING_CLIENT, REPO, VENV_BIN, ansible_json_environment, needs_root

TESTHOSTS = [os.environ.get("PYTHON", "python3"), str(REPO / "tools" / "testhosts" / "testhosts.py")]
SERVER, SERVER_ADDRESS = "aixsrv1", "198.51.100.60"
CLIENT, CLIENT_ADDRESS = "aixcli1", "198.51.100.61"
PORT = 23
OPENED, FORGOTTEN = 30, 20
PCB = re.compile(r"^f1000f[0-9a-f]{10}$")
RMSOCK_LOG = "/var/lib/netdiag-emulation/aix/rmsock-calls"

# The application server: holds every connection it accepts; on a line from stdin closes the first one.
APP_SERVER = r"""
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(128)
print("listening", flush=True)
held = [server.accept()[0] for _ in range(int(sys.argv[3]))]
print("accepted", flush=True)
sys.stdin.readline()
held.pop(0).close()
print("closed", flush=True)
sys.stdin.readline()
"""


def run_testhosts(*arguments):
    return subprocess.run([*TESTHOSTS, *arguments], cwd=REPO, capture_output=True, text=True, check=False)


def start_in_host(name, script, *arguments):
    """A Python script inside a test host (its PID, mount and network namespaces), with pipes to stdin/stdout."""
    command = [*TESTHOSTS, "shell", name, "python3", "-c", script, *map(str, arguments)]
    return subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def in_host(name, *command):
    return subprocess.run(
        [*TESTHOSTS, "shell", name, *command], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )


def expect_line(process, expected):
    line = process.stdout.readline().strip()
    assert line == expected, "expected %r from %s, got %r" % (expected, process.args[3], line)


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    """The two hosts with the incident's connections; yields (inventory path, the server process). Destroys only
    its own hosts."""
    if os.geteuid() != 0:
        pytest.skip("needs root (test hosts)")
    directory = tmp_path_factory.mktemp("aix")
    processes = []
    try:
        created = run_testhosts("create", "--emulate", "aix", "%s=%s" % (SERVER, SERVER_ADDRESS))
        assert created.returncode == 0, created.stderr
        server_info = json.loads(created.stdout)
        assert server_info["python_interpreter"] == "/usr/local/bin/python-aix"
        created = run_testhosts("create", "%s=%s" % (CLIENT, CLIENT_ADDRESS))
        assert created.returncode == 0, created.stderr
        server = start_in_host(SERVER, APP_SERVER, SERVER_ADDRESS, PORT, OPENED)
        processes.append(server)
        expect_line(server, "listening")
        client = start_in_host(CLIENT, CLOSING_CLIENT, SERVER_ADDRESS, PORT, OPENED, FORGOTTEN, "-")
        processes.append(client)
        expect_line(client, "connected")
        expect_line(server, "accepted")
        # From now on nothing the client sends reaches the server: its FINs (and ACKs) are lost.
        rule = in_host(
            CLIENT,
            "nft",
            "add table inet aix_lost; add chain inet aix_lost out "
            "{ type filter hook output priority 0; ip daddr %s tcp dport %d drop; }" % (SERVER_ADDRESS, PORT),
        )
        assert rule.returncode == 0, rule.stderr
        client.stdin.write("close\n")
        client.stdin.flush()
        expect_line(client, "closed")
        # The server's orphan (made by the last test) must outlive the test: retransmit its FIN for a long time.
        sysctl = in_host(SERVER, "sysctl", "-w", "net.ipv4.tcp_orphan_retries=15")
        assert sysctl.returncode == 0, sysctl.stderr
        inventory = directory / "inventory.ini"
        inventory.write_text(
            "[aix]\n%s ansible_host=%s ansible_python_interpreter=%s\n"
            "[linux]\n%s ansible_host=%s ansible_python_interpreter=/usr/bin/python3\n"
            "[all:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\n"
            # Throw-away test hosts with fresh host keys: no host key checking, in this inventory only.
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
            % (SERVER, SERVER_ADDRESS, server_info["python_interpreter"], CLIENT, CLIENT_ADDRESS,
               server_info["private_key"])
        )  # fmt: skip
        yield inventory, server
    finally:
        for process in processes:
            if process.stdin:
                process.stdin.close()
        destroyed = run_testhosts("destroy", SERVER, CLIENT)
        for process in processes:
            process.wait(timeout=30)
        assert destroyed.returncode == 0, destroyed.stderr


def ansible(incident, host, module, args, check_mode=False):
    inventory = incident[0]
    command = [str(VENV_BIN / "ansible"), "-i", str(inventory), host, "-m", module]
    if args:  # `-a '{}'` is taken as raw parameters, which most modules refuse
        command += ["-a", json.dumps(args)]
    if check_mode:
        command.append("--check")
    completed = subprocess.run(
        command, cwd=REPO, env=ansible_json_environment(), capture_output=True, text=True, timeout=300, check=False
    )
    try:
        output = json.loads(completed.stdout)
    except ValueError as error:
        raise AssertionError("no JSON from ansible:\n%s\n%s" % (completed.stdout, completed.stderr)) from error
    return output["plays"][0]["tasks"][0]["hosts"][host]


def rmsock_calls():
    shown = in_host(SERVER, "cat", RMSOCK_LOG)
    return shown.stdout.split("\n")[:-1] if shown.returncode == 0 else []


@needs_root
def test_netstat_facts_on_emulated_aix(incident):
    result = ansible(incident, SERVER, "netdiag.tcp.netstat_facts", {"ports": [PORT]})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    netstat = result["ansible_facts"]["netdiag"]["netstat"]
    assert netstat["platform"] == "AIX"
    assert netstat["sources"] == ["/usr/bin/netstat -Aan"]
    assert netstat["owner_method"]["name"] == "kdb" and netstat["owner_method"]["ran"] is True
    assert netstat["state_counts"]["ESTABLISHED"] == OPENED
    assert netstat["state_counts"]["LISTEN"] == 1
    established = [c for c in netstat["connections"] if c["state"] == "ESTABLISHED"]
    assert len(established) == OPENED
    for connection in established:
        assert PCB.match(connection["pcb"]), connection
        assert (connection["local_address"], connection["local_port"]) == (SERVER_ADDRESS, PORT)
        assert connection["remote_address"] == CLIENT_ADDRESS
        assert connection["process"] == "python3" and isinstance(connection["pid"], int)
        assert connection["keepalive"] is False  # the application sets none
    assert netstat["established_by_peer"][0]["peer"] == CLIENT_ADDRESS
    assert netstat["established_by_peer"][0]["count"] == OPENED
    assert netstat["established_by_peer"][0]["direction"] == "inbound"
    keepalive = result["ansible_facts"]["netdiag"]["keepalive"]
    # Linux defaults of the host's namespace, doubled into AIX half-seconds by the emulated `no`, back in seconds.
    assert (keepalive["time"], keepalive["intvl"], keepalive["probes"]) == (7200, 75, 9)
    assert (keepalive["tcp_keepidle"], keepalive["tcp_keepintvl"]) == (14400, 150)
    assert rmsock_calls() == []


@needs_root
def test_conntrack_and_slabinfo_are_not_applicable_on_aix(incident):
    conntrack = ansible(incident, SERVER, "netdiag.tcp.conntrack_facts", {})
    assert conntrack["ansible_facts"]["netdiag"]["conntrack"]["available"] is False
    assert "AIX" in conntrack["ansible_facts"]["netdiag"]["conntrack"]["reason"]
    slabinfo = ansible(incident, SERVER, "netdiag.tcp.slabinfo_facts", {})
    assert slabinfo["ansible_facts"]["netdiag"]["slabinfo"]["available"] is False


@needs_root
def test_rmsock_in_check_mode_runs_nothing(incident):
    result = ansible(incident, SERVER, "netdiag.tcp.netstat_facts", {"ports": [PORT], "aix_rmsock": True}, True)
    assert result["changed"] is False
    rmsock = result["ansible_facts"]["netdiag"]["aix"]["rmsock"]
    assert rmsock["ran"] is False and len(rmsock["would_run"]) == OPENED + 1  # the ESTABLISHED ones and LISTEN
    assert rmsock_calls() == []


@needs_root
def test_audit_pairs_the_linux_client_with_the_aix_server_and_never_runs_rmsock(incident, tmp_path):
    command = [
        str(VENV_BIN / "ansible-playbook"), "-i", str(incident[0]), "playbooks/audit.yml",
        "-e", "netdiag_report_dir=%s" % tmp_path, "-e", '{"netdiag_audit_ports": [%d]}' % PORT,
    ]  # fmt: skip
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    report_path = pathlib.Path(tmp_path) / "audit-latest.json"
    assert report_path.exists(), completed.stdout[-4000:] + completed.stderr[-4000:]
    report = json.loads(report_path.read_text())
    server, client = report["hosts"][SERVER], report["hosts"][CLIENT]
    assert server["platform"] == "AIX" and client["platform"] == "Linux"
    assert server["status"] == "ok", server["errors"]
    assert server["conntrack"]["available"] is False
    assert server["netstat"]["state_counts"]["ESTABLISHED"] == OPENED
    assert client["netstat"]["state_counts"]["ESTABLISHED"] == OPENED - FORGOTTEN
    asymmetric = [f for f in report["findings"] if f["id"] == "asymmetric-established"]
    assert len(asymmetric) == 1, report["findings"]
    evidence = asymmetric[0]["evidence"]
    assert (evidence["service_port"], evidence["server_count"], evidence["client_count"]) == (
        PORT,
        OPENED,
        OPENED - FORGOTTEN,
    )
    assert SERVER in json.dumps(evidence["server"]) and CLIENT in json.dumps(evidence["client"])
    no_keepalive = [f for f in report["findings"] if f["id"] == "no-keepalive" and f["host"] == SERVER]
    assert no_keepalive and no_keepalive[0]["evidence"]["established_without_keepalive"] == OPENED
    assert rmsock_calls() == []  # the audit never ran rmsock


@needs_root
def test_aix_rmsock_on_selected_sockets_removes_the_orphan(incident):
    server = incident[1]
    server.stdin.write("close one\n")
    server.stdin.flush()
    expect_line(server, "closed")
    before = ansible(incident, SERVER, "netdiag.tcp.netstat_facts", {"ports": [PORT]})
    orphan = [c for c in before["ansible_facts"]["netdiag"]["netstat"]["connections"] if c["state"] == "FIN_WAIT_1"]
    assert len(orphan) == 1 and "pid" not in orphan[0]
    result = ansible(incident, SERVER, "netdiag.tcp.netstat_facts", {"ports": [PORT], "aix_rmsock": True})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    facts = result["ansible_facts"]["netdiag"]
    connections = facts["netstat"]["connections"]
    given = [line.split() for line in rmsock_calls()]
    # rmsock got exactly the selected port-23 sockets (not sshd's port-22 socket), each once, as tcpcb.
    assert sorted(given) == sorted([c["pcb"], "tcpcb"] for c in connections if c["state"] != "CLOSED")
    assert facts["aix"]["rmsock"]["removed"] == [orphan[0]["pcb"]]
    assert facts["aix"]["rmsock"]["held_by_counts"]["process"] == OPENED
    for connection in connections:
        if connection["pcb"] == orphan[0]["pcb"]:
            assert connection["rmsock"] == "removed"
        else:
            assert connection["rmsock"] == "process" and connection["process"] == "python3"
    again = ansible(incident, SERVER, "netdiag.tcp.netstat_facts", {"ports": [PORT], "aix_rmsock": True})
    assert again["changed"] is False  # the removed socket is gone from netstat: nothing left to remove
    assert orphan[0]["pcb"] not in {c["pcb"] for c in again["ansible_facts"]["netdiag"]["netstat"]["connections"]}
