# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/analyze.yml on the 2012 incident rebuilt from captures alone (no host is contacted by Ansible).

Network namespaces "web" (198.51.100.160) and "app" (198.51.100.161): web opens 30 connections to app:5555, then
web's packets to app are dropped and web closes 20 of them, so web holds 10 ESTABLISHED and app still 30 - the
incident's asymmetry. The captures are made the way a colleague would make them:
- web (Linux, real output of this machine): `cat /proc/net/tcp` and tcp6, `sysctl -a`, `grep conn /proc/slabinfo`;
- app: EMULATION of AIX (tests/emulation/aix, the same scripts the emulated AIX test host runs, printing the
  namespace's real sockets in the format of the real AIX samples): `netstat -Aan`, `no -a`, and the incident's loop
  `for a in $(netstat -Aan | grep .5555 | awk '{print $1}'); do rmsock $a tcpcb; done > rmsock.txt`;
- a third folder with a file of unknown name and a malformed one, which must be reported without stopping the rest.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import uuid

import pytest
from conftest import (
    CLOSING_CLIENT,
    HOLDING_SERVER,
    REPO,
    drop_output_to,
    in_netns,
    run_playbook,
    start_in_netns,
    tear_down,
    veth_namespaces,
)

needs_root = pytest.mark.skipif(__import__("os").geteuid() != 0, reason="needs root (network namespaces)")

EMULATION = REPO / "tests" / "emulation" / "aix" / "root" / "usr" / "local" / "lib" / "netdiag-emulation"


def emulated_aix(namespace, command, *arguments):
    """stdout of an emulated AIX command run in the namespace (EMULATION, see the module docstring)."""
    completed = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, str(EMULATION / (command + ".py")), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout


@pytest.fixture
def incident_captures(tmp_path):
    suffix = uuid.uuid4().hex[:6]
    web, app = "ndt-rweb-" + suffix, "ndt-rapp-" + suffix
    processes = []
    try:
        veth_namespaces((web, app), ("rw" + suffix, "ra" + suffix), ("198.51.100.160", "198.51.100.161"))
        server = start_in_netns(app, HOLDING_SERVER, "198.51.100.161", 5555)
        processes.append(server)
        assert server.stdout.readline().strip() == "listening"
        client = start_in_netns(web, CLOSING_CLIENT, "198.51.100.161", 5555, 30, 20, "-")
        processes.append(client)
        assert client.stdout.readline().strip() == "connected"
        drop_output_to(web, "198.51.100.161")
        client.stdin.write("close\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "closed"

        captures = tmp_path / "captures"
        (captures / "web").mkdir(parents=True)
        for table in ("tcp", "tcp6"):
            (captures / "web" / ("proc-net-%s.txt" % table)).write_text(
                in_netns(web, "cat", "/proc/net/" + table).stdout
            )
        sysctl = subprocess.run(
            ["ip", "netns", "exec", web, "sysctl", "-a"], capture_output=True, text=True, check=False
        )
        (captures / "web" / "sysctl.txt").write_text(sysctl.stdout)
        slabinfo = subprocess.run(["grep", "conn", "/proc/slabinfo"], capture_output=True, text=True, check=False)
        (captures / "web" / "slabinfo.txt").write_text(slabinfo.stdout)

        (captures / "app").mkdir()
        netstat = emulated_aix(app, "aix_netstat", "-Aan")
        (captures / "app" / "netstat-Aan.txt").write_text(netstat)
        (captures / "app" / "no-a.txt").write_text(emulated_aix(app, "aix_no", "-a"))
        pcbs = [line.split()[0] for line in netstat.splitlines() if ".5555 " in line]
        assert len(pcbs) == 31  # the listener and 30 ESTABLISHED
        log = "".join(emulated_aix(app, "aix_rmsock", pcb, "tcpcb") for pcb in pcbs)
        (captures / "app" / "rmsock.txt").write_text(log)

        (captures / "notes").mkdir()
        (captures / "notes" / "README.txt").write_text("what the colleague wrote\n")
        (captures / "notes" / "netstat-Aan.txt").write_text("tcp4 0 0 this is not netstat\n")
        yield captures
    finally:
        tear_down(processes, (web, app))


@needs_root
def test_both_ends_correlate_from_captures_alone(tmp_path, incident_captures):
    report_dir = tmp_path / "reports"
    completed = run_playbook(
        "analyze.yml",
        "-e",
        "capture_dir=%s" % incident_captures,
        "-e",
        "netdiag_report_dir=%s" % report_dir,
        "-e",
        "netdiag_audit_ports=[5555]",
        "-e",
        "netdiag_query=pairs[].server",
        "-e",
        "netdiag_fail_on=warning",
    )
    # netdiag_fail_on=warning: the run fails on the incident's warning, after the report is written.
    assert completed.returncode == 2, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert "netdiag_fail_on=warning: " in completed.stdout and "asymmetric-established" in completed.stdout
    assert "    msg:\n    - app\n" in completed.stdout  # the netdiag_query result
    report = json.loads((report_dir / "audit-latest.json").read_text())
    hosts = report["hosts"]
    assert {name: (hosts[name]["status"], hosts[name]["platform"]) for name in hosts} == {
        "web": ("ok", "Linux"),
        "app": ("ok", "AIX"),
        "notes": ("failed", "AIX"),
    }, json.dumps({name: hosts[name]["errors"] for name in hosts}, indent=1)
    assert {host["mode"] for host in hosts.values()} == {"capture"}
    assert hosts["notes"]["errors"][0].startswith("README.txt: unknown file name, not analysed")
    assert hosts["notes"]["errors"][1].startswith("netstat-Aan.txt line 1: ")

    assert hosts["web"]["netstat"]["established_by_peer"] == [
        {"direction": "outbound", "service_port": 5555, "peer": "198.51.100.161", "count": 10, "without_keepalive": 10}
    ]
    app_peers = hosts["app"]["netstat"]["established_by_peer"]
    assert [(p["direction"], p["service_port"], p["peer"], p["count"]) for p in app_peers] == [
        ("inbound", 5555, "198.51.100.160", 30)
    ]
    pairs = [
        (p["client"], p["server"], p["service_port"], p["client_count"], p["server_count"]) for p in report["pairs"]
    ]
    assert pairs == [("web", "app", 5555, 10, 30)]
    asymmetric = [item for item in report["findings"] if item["id"] == "asymmetric-established"]
    assert [
        (item["host"], item["evidence"]["client_count"], item["evidence"]["server_count"]) for item in asymmetric
    ] == [("app", 10, 30)]
    # The incident's rmsock loop: every socket on 5555 held by the one server process.
    rmsock = hosts["app"]["aix"]["rmsock"]
    assert rmsock["held_by_counts"]["process"] == 31
    assert [(entry["process"], entry["count"]) for entry in rmsock["by_process"]] == [
        (pathlib.Path(sys.executable).name[:15], 31)
    ]
    assert hosts["web"]["keepalive"]["source"] == "sysctl.txt"
    markdown = (report_dir / "audit-latest.md").read_text()
    assert "| web | app | 5555 | 10 | 30 |" in markdown
    # The rmsock log has its own section in the human reports, with the process it named.
    assert "rmsock answers: held by a process 31, held by the kernel 0" in markdown
    assert "| %s | " % pathlib.Path(sys.executable).name[:15].replace("_", "\\_") in markdown
    assert "app: ok (from captures)" in completed.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "capture_dir: give the folder of captures"),
        (
            ["-e", "capture_dir=/nonexistent/netdiag-captures"],
            "capture_dir: /nonexistent/netdiag-captures is not a directory",
        ),
        (
            ["-e", "capture_dir=/nonexistent", "-e", "netdiag_fail_on=sometimes"],
            "netdiag_fail_on: sometimes is not one of",
        ),
    ],
)
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path, arguments, message):
    completed = run_playbook("analyze.yml", "-e", "netdiag_report_dir=%s" % tmp_path, *arguments)
    assert completed.returncode != 0
    assert message in completed.stdout + completed.stderr
    assert not list(tmp_path.iterdir())
