# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml end to end, for real.

1. The embedded default inventory (localhost): the report files exist and say what this machine has.
2. The 2012 incident rebuilt in network namespaces: "web" (198.51.100.10) opens 30 connections to "app"
   (198.51.100.20) port 5555; then web's packets to app are dropped and web closes 20 of them. Web forgets them
   (FIN_WAIT_1), app still holds all 30 ESTABLISHED: the audit must pair both ends and raise asymmetric-established.
   Each namespace is an inventory host whose Python runs under `ip netns exec`, so the real modules read that
   namespace's /proc/net. The same inventory has an unreachable host and a host whose modules cannot run: the
   audit reports them and goes on.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from conftest import (
    CLOSING_CLIENT,
    HOLDING_SERVER,
    REPO,
    VENV_BIN,
    in_netns,
    needs_root,
    netns_python,
    run,
    run_audit,
    start_in_netns,
    tear_down,
)


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
    stamped = sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith("audit-latest"))
    assert len(stamped) == 3 and [name.rsplit(".", 1)[1] for name in stamped] == ["html", "json", "md"]
    for suffix in ("json", "md", "html"):
        latest = (tmp_path / ("audit-latest." + suffix)).read_bytes()
        assert latest == next(tmp_path.glob("audit-2*." + suffix)).read_bytes()
    assert "netdiag.tcp audit " in completed.stdout and "localhost: ok" in completed.stdout


@pytest.fixture
def incident_hosts(tmp_path):
    """web and app namespaces joined by a veth pair; yields (inventory path, client process)."""
    suffix = uuid.uuid4().hex[:6]
    web, app = "ndt-web-" + suffix, "ndt-app-" + suffix
    processes = []
    try:
        for namespace in (web, app):
            run("ip", "netns", "add", namespace)
            run("ip", "-n", namespace, "link", "set", "lo", "up")
        run("ip", "link", "add", "vw" + suffix, "netns", web, "type", "veth", "peer", "va" + suffix, "netns", app)
        run("ip", "-n", web, "addr", "add", "198.51.100.10/24", "dev", "vw" + suffix)
        run("ip", "-n", app, "addr", "add", "198.51.100.20/24", "dev", "va" + suffix)
        run("ip", "-n", web, "link", "set", "vw" + suffix, "up")
        run("ip", "-n", app, "link", "set", "va" + suffix, "up")
        server = start_in_netns(app, HOLDING_SERVER, "198.51.100.20", 5555)
        processes.append(server)
        assert server.stdout.readline().strip() == "listening"
        client = start_in_netns(web, CLOSING_CLIENT, "198.51.100.20", 5555, 30, 20, "-")
        processes.append(client)
        assert client.stdout.readline().strip() == "connected"
        # From now on nothing web sends reaches app: web's FINs are lost, app keeps the connections ESTABLISHED.
        in_netns(
            web,
            "nft",
            "add table inet ndt_lost; add chain inet ndt_lost out "
            "{ type filter hook output priority 0; ip daddr 198.51.100.20 drop; }",
        )
        client.stdin.write("close\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "closed"

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
        yield inventory
    finally:
        tear_down(processes, (web, app))


@needs_root
def test_incident_in_namespaces_pairs_both_ends_and_survives_bad_hosts(tmp_path, incident_hosts):
    report_dir = tmp_path / "reports"
    completed, report = run_audit(report_dir, inventory=incident_hosts, extra=["-e", "netdiag_audit_ports=[5555]"])
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
        {"direction": "outbound", "service_port": 5555, "peer": "198.51.100.20", "count": 10, "without_keepalive": 10}
    ]
    assert hosts["app"]["netstat"]["established_by_peer"] == [
        {"direction": "inbound", "service_port": 5555, "peer": "198.51.100.10", "count": 30, "without_keepalive": 30}
    ]
    assert report["pairs"] == [
        {
            "client": "web",
            "server": "app",
            "service_port": 5555,
            "client_count": 10,
            "server_count": 30,
            "client_hosts": ["web"],
            "server_hosts": ["app"],
            "client_unattributed": 0,
            "server_unattributed": 0,
        }
    ]
    asymmetric = [item for item in report["findings"] if item["id"] == "asymmetric-established"]
    assert len(asymmetric) == 1 and asymmetric[0]["host"] == "app"
    assert asymmetric[0]["evidence"]["server_count"] == 30 and asymmetric[0]["evidence"]["client_count"] == 10
    markdown = (report_dir / "audit-latest.md").read_text()
    assert "| web | app | 5555 | 10 | 30 |" in markdown


def test_bad_report_threshold_fails_clearly(tmp_path):
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/audit.yml",
            "-e",
            "netdiag_report_dir=%s" % tmp_path,
            "-e",
            '{"netdiag_audit_thresholds": {"close_wiat": 5}}',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode != 0
    assert "thresholds: unknown close_wiat" in completed.stdout + completed.stderr
    assert not list(tmp_path.iterdir())
