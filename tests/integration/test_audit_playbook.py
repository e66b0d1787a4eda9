# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml end to end, for real.

1. The embedded default inventory (localhost): the report files exist and say what this machine has.
2. The 2012 incident rebuilt in network namespaces: a server process named app_srv listens on "app"
   (198.51.100.20) port 5555; "web" (198.51.100.10) opens 42 connections to it, without keepalive. Then web's
   packets to app are dropped and web aborts 30 of them (SO_LINGER 0: the socket is gone at once and its RST is
   lost), and the drop rule goes away again: web holds 12, app still holds all 42 ESTABLISHED, 30 of them with no
   other end. The audit must name those 30 sockets on app (half-open-sockets, held by app_srv with its pid,
   keepalive off), besides the aggregate asymmetric-established (12 vs 42) and no-keepalive. Each namespace is an
   inventory host whose Python runs under `ip netns exec`, so the real modules read that namespace's /proc/net.
   The same inventory has an unreachable host and a host whose modules cannot run: the audit reports them and
   goes on. The HTML report is rendered in headless Chromium (tests/integration/chromium.py).
3. netdiag_query and netdiag_fail_on: printed and applied after the report is written; bad values fail before
   any host is contacted.
"""

from __future__ import annotations

import json
import pathlib
import re
import uuid

import chromium
import pytest
from conftest import (
    HOLDING_SERVER,
    ansible_environment,
    drop_output_to,
    in_netns,
    needs_root,
    netns_python,
    run_audit,
    run_playbook,
    start_in_netns,
    tear_down,
    veth_namespaces,
)

# The incident's server: HOLDING_SERVER under the process name app_srv (prctl PR_SET_NAME sets /proc/<pid>/comm,
# which is what netstat_facts reports as the process), so the report must name it.
APP_SERVER = "import ctypes\nctypes.CDLL(None).prctl(15, ctypes.c_char_p(b'app_srv'), 0, 0, 0)\n" + HOLDING_SERVER

# A client that opens N connections without keepalive; on a line from stdin it aborts the first M of them
# (SO_LINGER with timeout 0: the kernel frees the socket at once and sends an RST instead of a FIN), prints
# "vanished" and holds the rest until stdin closes.
VANISHING_CLIENT = r"""
import socket, struct, sys
address, port, opened, vanished = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
clients = [socket.create_connection((address, port), timeout=5) for _ in range(opened)]
print("connected", flush=True)
sys.stdin.readline()
for client in clients[:vanished]:
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
print("vanished", flush=True)
sys.stdin.readline()
"""
HEALTHY, STALE = 12, 30


def test_default_inventory_audits_localhost(tmp_path):
    completed, report = run_audit(tmp_path)
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert report["schema"] == 1
    assert list(report["hosts"]) == ["localhost"]
    localhost = report["hosts"]["localhost"]
    assert localhost["status"] == "ok", localhost["errors"]
    assert localhost["platform"] == "Linux"
    assert isinstance(localhost["netstat"]["state_counts"], dict)
    assert {"conntrack", "slabinfo", "keepalive"} <= set(localhost)
    stamped = sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("audit-2"))
    # audit-<YYYYMMDDTHHMMSS.ffffffZ>.<extension>: one stamp, four files
    assert [name.split("Z.", 1)[1] for name in stamped] == ["html", "json", "md", "summary.json"]
    stamp = stamped[0].split("Z.", 1)[0] + "Z"
    for suffix in ("json", "md", "html", "summary.json"):
        latest = (tmp_path / ("audit-latest." + suffix)).read_bytes()
        assert latest == (tmp_path / ("%s.%s" % (stamp, suffix))).read_bytes()
    # The Prometheus file is written only as audit-latest.prom (one file for node_exporter's textfile collector).
    assert 'netdiag_host_up{host="localhost"} 1\n' in (tmp_path / "audit-latest.prom").read_text()
    assert "netdiag.tcp audit " in completed.stdout and "localhost: ok" in completed.stdout


def test_check_mode_still_writes_the_report_and_records_the_run(tmp_path):
    """audit.yml --check is how people audit without changing anything: it writes the report (audit_report's
    check_mode is partial for that), and the report says what it was run with."""
    import yaml

    completed, report = run_audit(tmp_path, extra=["--check", "-e", '{"netdiag_audit_ports": [22, 5555]}'])
    assert completed.returncode == 0, completed.stdout[-4000:]
    galaxy = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "galaxy.yml").read_text())
    run = report["run"]
    assert run["collection"]["version"] == galaxy["version"]
    assert run["settings"]["ports"] == [22, 5555] and run["settings"]["peers"] == []
    assert run["settings"]["target"] == "all" and run["correlation"]["min_half_open"] == 5
    markdown = (tmp_path / "audit-latest.md").read_text()
    assert "Built by netdiag.tcp %s, ports 22, 5555, peers all;" % galaxy["version"] in markdown
    assert "## Run with" in markdown


@pytest.fixture
def incident_hosts(tmp_path):
    """web and app namespaces joined by a veth pair; yields (inventory path, client process)."""
    suffix = uuid.uuid4().hex[:6]
    web, app = "ndt-web-" + suffix, "ndt-app-" + suffix
    processes = []
    try:
        veth_namespaces((web, app), ("vw" + suffix, "va" + suffix), ("198.51.100.10", "198.51.100.20"))
        server = start_in_netns(app, APP_SERVER, "198.51.100.20", 5555)
        processes.append(server)
        assert server.stdout.readline().strip() == "listening"
        client = start_in_netns(web, VANISHING_CLIENT, "198.51.100.20", 5555, HEALTHY + STALE, STALE)
        processes.append(client)
        assert client.stdout.readline().strip() == "connected"
        # While web's 30 sockets vanish, nothing web sends reaches app: their RSTs are lost.
        drop_output_to(web, "198.51.100.20")
        client.stdin.write("vanish\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "vanished"
        in_netns(web, "nft", "delete table inet ndt_lost")

        wrappers = {"web": netns_python(tmp_path, web), "app": netns_python(tmp_path, app)}
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(
            json.dumps(
                {
                    "all": {
                        "hosts": {
                            "web": {"ansible_connection": "local", "ansible_python_interpreter": wrappers["web"]},
                            "app": {"ansible_connection": "local", "ansible_python_interpreter": wrappers["app"]},
                            # Nothing listens on loopback port 1: refused at once, never leaves this machine.
                            "down": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"},
                            # No Python and raw mode turned off: the modules cannot start (raw mode: test_raw_mode).
                            "broken": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": str(tmp_path / "no-such-python"),
                                "netdiag_raw": False,
                            },
                        }
                    }
                }
            )
        )
        yield inventory, server.pid
    finally:
        tear_down(processes, (web, app))


@needs_root
def test_incident_names_the_stale_sockets_and_survives_bad_hosts(tmp_path, incident_hosts):
    inventory, server_pid = incident_hosts
    report_dir = tmp_path / "reports"
    completed, report = run_audit(
        report_dir,
        inventory=inventory,
        extra=[
            "-e",
            "netdiag_audit_ports=[5555]",
            "-e",
            "netdiag_query=findings[?id=='half-open-sockets'].[host,evidence.count,evidence.holders[0].process]",
            "-e",
            "netdiag_fail_on=warning",
        ],
    )
    hosts = report["hosts"]
    assert {name: hosts[name]["status"] for name in hosts} == {
        "web": "ok",
        "app": "ok",
        "down": "unreachable",
        "broken": "failed",
    }, json.dumps({name: hosts[name]["errors"] for name in hosts}, indent=1)
    assert hosts["down"]["errors"][0].startswith("Task failed: Failed to connect to the host via ssh")
    assert [error.split(":")[0] for error in hosts["broken"]["errors"]] == [
        "conntrack_facts",
        "netstat_facts",
        "slabinfo_facts",
    ]
    assert hosts["web"]["netstat"]["established_by_peer"] == [
        {
            "direction": "outbound",
            "service_port": 5555,
            "peer": "198.51.100.20",
            "count": HEALTHY,
            "without_keepalive": HEALTHY,
        }
    ]
    assert hosts["app"]["netstat"]["established_by_peer"] == [
        {
            "direction": "inbound",
            "service_port": 5555,
            "peer": "198.51.100.10",
            "count": HEALTHY + STALE,
            "without_keepalive": HEALTHY + STALE,
        }
    ]
    assert hosts["app"]["netstat"]["established_tuples"]["count"] == HEALTHY + STALE

    # The stale sockets, named: on app, 30, held by app_srv (its real pid), keepalive off.
    (half_open,) = [item for item in report["findings"] if item["id"] == "half-open-sockets"]
    assert half_open["host"] == "app"
    evidence = half_open["evidence"]
    assert (evidence["count"], evidence["matched"], evidence["peers"]) == (STALE, HEALTHY, {"web": STALE})
    assert evidence["holders"] == [
        {"pid": server_pid, "process": "app_srv", "user": "root", "count": STALE, "named_by": ["owner scan"]}
    ]
    assert evidence["keepalive"] == "off"
    web_ports = {int(row.split()[1]) for row in hosts["web"]["netstat"]["established_tuples"]["rows"].split("\n")}
    assert len(web_ports) == HEALTHY
    assert evidence["sample"] and all(item["remote_port"] not in web_ports for item in evidence["sample"])
    # The aggregate view and the missing keepalive.
    (asymmetric,) = [item for item in report["findings"] if item["id"] == "asymmetric-established"]
    assert asymmetric["host"] == "app"
    assert (asymmetric["evidence"]["client_count"], asymmetric["evidence"]["server_count"]) == (
        HEALTHY,
        HEALTHY + STALE,
    )
    assert "app" in [item["host"] for item in report["findings"] if item["id"] == "no-keepalive"]
    (pair,) = report["pairs"]
    assert (pair["per_connection"], pair["server_matched"], pair["server_half_open"]) == (True, HEALTHY, STALE)
    markdown = (report_dir / "audit-latest.md").read_text()
    assert "| web | app | 5555 | %d | %d |" % (HEALTHY, HEALTHY + STALE) in markdown

    # netdiag_query printed at the end; netdiag_fail_on=warning fails the run after the report was written.
    printed = completed.stdout[completed.stdout.index("TASK [Show the netdiag_query result]") :]
    assert re.match(r"[^\n]*\nok: \[\w+\] => *\n +msg:\n +- +- app\n +- %d\n +- app_srv\n" % STALE, printed), printed[
        :600
    ]
    assert completed.returncode != 0
    assert "netdiag_fail_on=warning:" in completed.stdout and "half-open-sockets" in completed.stdout
    assert "2 host(s) not audited: broken, down" in completed.stdout

    # The HTML report as a browser shows it: summary first, then the pair picture with its half-open bar.
    assert chromium.available(), "chromium is not installed (tools/install-system-deps.sh installs it)"
    dom, _screenshot = chromium.check_report(report_dir / "audit-latest.html", "incident")
    assert "held by app_srv (pid %d, named by owner scan) %d" % (server_pid, STALE) in dom


def test_bad_report_threshold_fails_clearly(tmp_path):
    completed = audit_into(tmp_path, "-e", '{"netdiag_audit_thresholds": {"close_wiat": 5}}')
    assert completed.returncode != 0
    assert "thresholds: unknown close_wiat" in completed.stdout + completed.stderr
    assert not list(tmp_path.iterdir())


def audit_into(report_dir, *extra):
    return run_playbook("audit.yml", "-e", "netdiag_report_dir=%s" % report_dir, *extra)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["-e", "netdiag_query=findings[?severity=='warning'"],
            "netdiag_query: \"findings[?severity=='warning'\" is not a valid JMESPath expression",
        ),
        (["-e", "netdiag_fail_on=sometimes"], "netdiag_fail_on: sometimes is not one of never, warning, critical"),
    ],
)
def test_bad_query_or_fail_on_stops_before_any_host(tmp_path, extra, message):
    completed = audit_into(tmp_path, *extra)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert message in output, output[-3000:]
    assert "Gather TCP diagnostics" not in output  # the gathering play never started
    assert not list(tmp_path.iterdir())


def test_fail_on_fails_when_no_host_was_audited(tmp_path):
    # A host whose interpreter cannot run the module, raw mode off: status failed, no finding. The gate must not
    # pass on it.
    interpreter = tmp_path / "python-broken"
    interpreter.write_text('#!/bin/sh\ncat >/dev/null\necho "SyntaxError: invalid syntax" >&2\nexit 1\n')
    interpreter.chmod(0o755)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[all]\nold ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
    reports = tmp_path / "reports"
    completed = run_playbook(
        "audit.yml",
        "-i",
        str(inventory),
        "-e",
        "netdiag_report_dir=%s" % reports,
        "-e",
        "netdiag_fail_on=warning",
        "-e",
        "netdiag_raw=false",
        env=ansible_environment(),
    )
    # No host was audited at all: the run fails at the report (docs/report.md), which is written as the
    # -failed set and does not become audit-latest.
    assert completed.returncode != 0, completed.stdout[-3000:]
    assert "no host was audited (old failed: " in completed.stdout
    assert not (reports / "audit-latest.json").exists()
    [written] = reports.glob("audit-*-failed.json")
    report = json.loads(written.read_text())
    assert report["hosts"]["old"]["status"] == "failed"
    assert report["findings"] == []


def test_query_is_printed_and_fail_on_never_keeps_success(tmp_path):
    completed = audit_into(tmp_path, "-e", "netdiag_query=keys(hosts)")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "TASK [Show the netdiag_query result]" in completed.stdout
    printed = completed.stdout[completed.stdout.index("TASK [Show the netdiag_query result]") :]
    assert re.match(r"[^\n]*\nok: \[localhost\] => *\n +msg:\n +- localhost\n", printed), printed[:600]
    assert (tmp_path / "audit-latest.json").exists()
