# SPDX-License-Identifier: GPL-3.0-or-later
"""The leak watched over time, for real: the incident's topology in network namespaces audited again and again.

    web1 198.51.100.11 -- br 198.51.100.1 [nat] 198.51.100.129 ----- 198.51.100.130 app :5555 (app_srv)
                          (SNAT to 198.51.100.129; conntrack ESTABLISHED timeout: the kernel default, 5 days)

web1 keeps 4 live connections to app. Before each of four audits it opens 8 more from a known range of source
ports, the NAT starts dropping what those ports send to app (an nft set, so each round's are added and the earlier
ones stay lost), and web1 closes them: the FINs never reach app, which holds 8, 16, 24, 32 half-open sockets.
The reports must show the series, name app_srv and its pid as the holder in growing-half-open, compare each
report with the one before (changes) and write audit-latest.prom, which prometheus_client's parser reads back.
Then the NAT's conntrack timeout is tuned with playbooks/tune_conntrack.yml (the role's files into a temporary
directory, the live value the namespace's own), app_srv is restarted and a healthy audit follows: the growth is
over, and the report says that the timeout changed (from, to, when) and that the pair is back at zero.
playbooks/trend.yml draws the same from the report directory; both pages are rendered in headless Chromium.
A corrupt report and one of another schema in the directory are named and skipped; the reports are written.
"""

from __future__ import annotations

import csv
import json
import subprocess
import uuid

import chromium
import pytest
from conftest import (
    HOLDING_SERVER,
    REPO,
    VENV_BIN,
    ansible_environment,
    in_netns,
    needs_root,
    netns_python,
    run,
    run_audit,
    run_playbook,
    start_in_netns,
    tear_down,
)
from prometheus_client.parser import text_string_to_metric_families

APP_SERVER = "import ctypes\nctypes.CDLL(None).prctl(15, ctypes.c_char_p(b'app_srv'), 0, 0, 0)\n" + HOLDING_SERVER
# Opens N connections to (address, port) from source ports first..first+N-1 (no keepalive), prints "connected";
# on a line from stdin closes them all, prints "closed", then waits until stdin closes.
PORT_RANGE_CLIENT = r"""
import socket, sys
address, port, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
clients = []
for source in range(first, first + count):
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    client.bind(("0.0.0.0", source))
    client.settimeout(5)
    client.connect((address, port))
    clients.append(client)
print("connected", flush=True)
sys.stdin.readline()
for client in clients:
    client.close()
print("closed", flush=True)
sys.stdin.readline()
"""
LIVE, STALE_PER_ROUND, ROUNDS = 4, 8, 4
APP, NAT_ADDRESS = "198.51.100.130", "198.51.100.129"
PAIR = "web1 -> app:5555"


class Incident:
    def __init__(self, tmp_path):
        suffix = uuid.uuid4().hex[:6]
        self.namespaces = {name: "ndth-tr%s-%s" % (name, suffix) for name in ("web1", "nat", "app")}
        self.suffix = suffix
        self.processes = []
        self.tmp_path = tmp_path
        self.server = None

    def build(self):
        web, nat, app = (self.namespaces[name] for name in ("web1", "nat", "app"))
        suffix = self.suffix
        for namespace in self.namespaces.values():
            run("ip", "netns", "add", namespace)
            run("ip", "-n", namespace, "link", "set", "lo", "up")
        run("ip", "link", "add", "tw" + suffix, "netns", web, "type", "veth", "peer", "tn" + suffix, "netns", nat)
        run("ip", "link", "add", "ta" + suffix, "netns", nat, "type", "veth", "peer", "tp" + suffix, "netns", app)
        for namespace, device, address in (
            (web, "tw" + suffix, "198.51.100.11/25"),
            (nat, "tn" + suffix, "198.51.100.1/25"),
            (nat, "ta" + suffix, NAT_ADDRESS + "/25"),
            (app, "tp" + suffix, APP + "/25"),
        ):
            run("ip", "-n", namespace, "addr", "add", address, "dev", device)
            run("ip", "-n", namespace, "link", "set", device, "up")
        run("ip", "-n", web, "route", "add", "default", "via", "198.51.100.1")
        in_netns(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        in_netns(
            nat,
            "nft",
            "add table ip ndt_nat; add chain ip ndt_nat post { type nat hook postrouting priority 100; }; "
            'add rule ip ndt_nat post oifname "ta%s" snat to %s' % (suffix, NAT_ADDRESS),
        )
        # What web1 sends to app from a "lost" source port never arrives (the NAT forgot those connections).
        in_netns(
            nat,
            "nft",
            "add table inet ndt_lost; add set inet ndt_lost ports { type inet_service; flags interval; }; "
            "add chain inet ndt_lost forward { type filter hook forward priority 0; }; "
            "add rule inet ndt_lost forward ip daddr %s tcp sport @ports drop" % APP,
        )
        self.start_server()
        self.live = self.start_client(40000, LIVE)

    def start_server(self):
        self.server = start_in_netns(self.namespaces["app"], APP_SERVER, APP, 5555)
        self.processes.append(self.server)
        assert self.server.stdout.readline().strip() == "listening"

    def start_client(self, first, count):
        client = start_in_netns(self.namespaces["web1"], PORT_RANGE_CLIENT, APP, 5555, first, count)
        self.processes.append(client)
        assert client.stdout.readline().strip() == "connected"
        return client

    def add_stale(self, round_index):
        first = 41000 + 100 * round_index
        client = self.start_client(first, STALE_PER_ROUND)
        in_netns(
            self.namespaces["nat"],
            "nft",
            "add element inet ndt_lost ports { %d-%d }" % (first, first + STALE_PER_ROUND - 1),
        )
        client.stdin.write("close\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "closed"

    def restart_app(self):
        """The holder restarted: the live client goes first, then app_srv; both come back, healthy."""
        for process in (self.live, self.server):
            process.stdin.close()
            process.kill()
            process.wait(timeout=10)
        self.start_server()
        self.live = self.start_client(40100, LIVE)

    def inventory(self):
        hosts = {
            name: {
                "ansible_connection": "local",
                "ansible_python_interpreter": netns_python(self.tmp_path, namespace),
            }
            for name, namespace in self.namespaces.items()
        }
        hosts["web1"]["netdiag_addresses"] = [NAT_ADDRESS]
        path = self.tmp_path / "inventory.json"
        path.write_text(json.dumps({"all": {"hosts": hosts}}))
        return path


@pytest.fixture
def incident(tmp_path):
    built = Incident(tmp_path)
    try:
        built.build()
        yield built
    finally:
        tear_down(built.processes, built.namespaces.values())


def audit(report_dir, incident):
    completed, report = run_audit(
        report_dir, inventory=incident.inventory(), extra=["-e", "netdiag_audit_ports=[5555]"]
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert {name: host["status"] for name, host in report["hosts"].items()} == dict.fromkeys(
        ("app", "nat", "web1"), "ok"
    ), completed.stdout[-3000:]
    return completed, report


def by_id(report, finding_id):
    return [item for item in report["findings"] if item["id"] == finding_id]


def prometheus_samples(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def assert_prometheus_matches(report, text):
    """Every sample of audit-latest.prom against the JSON report it was written with."""
    parsed = prometheus_samples(text)
    for name, host in report["hosts"].items():
        label = (("host", name),)
        states = host["netstat"]["state_counts"]
        assert parsed[("netdiag_host_up", label)] == 1
        assert parsed[("netdiag_host_established", label)] == states.get("ESTABLISHED", 0)
        assert parsed[("netdiag_host_close_wait", label)] == states.get("CLOSE_WAIT", 0)
        assert parsed[("netdiag_host_half_open", label)] == sum(
            group["half_open"] for group in report["matching"]["groups"] if group["host"] == name
        )
        if host["netstat"].get("established_keepalive_unknown") is not None:
            assert parsed[("netdiag_host_keepalive_unknown", label)] == host["netstat"]["established_keepalive_unknown"]
        if host.get("conntrack", {}).get("available"):
            assert parsed[("netdiag_conntrack_entries", label)] == host["conntrack"]["count"]
            assert parsed[("netdiag_conntrack_max", label)] == host["conntrack"]["max"]
            assert (
                parsed[("netdiag_conntrack_tcp_timeout_established_seconds", label)]
                == host["conntrack"]["timeouts"]["tcp_timeout_established"]
            )
    pairs = 0
    for pair in report["pairs"]:
        for end, peer, direction in (("server", pair["client"], "inbound"), ("client", pair["server"], "outbound")):
            labels = tuple(
                sorted(
                    {"host": pair[end], "peer": peer, "port": str(pair["service_port"]), "direction": direction}.items()
                )
            )
            assert parsed[("netdiag_pair_established", labels)] == pair[end + "_count"]
            assert parsed[("netdiag_pair_matched", labels)] == pair[end + "_matched"]
            assert parsed[("netdiag_pair_half_open", labels)] == pair[end + "_half_open"]
            pairs += 1
    assert pairs == len([key for key in parsed if key[0] == "netdiag_pair_established"])
    for item in report["findings"]:
        labels = tuple(sorted({"host": item["host"], "id": item["id"], "severity": item["severity"]}.items()))
        assert parsed[("netdiag_findings", labels)] >= 1
    return parsed


@needs_root
def test_leak_grows_over_four_audits_then_the_fix_shows(tmp_path, incident):
    report_dir = tmp_path / "reports"
    report_dir.mkdir(mode=0o700)
    # Left by something else: a corrupt report and one of a future schema. Named, skipped, never fatal.
    (report_dir / "audit-20000101T000000Z.json").write_text("{not json")
    (report_dir / "audit-20000101T000100Z.json").write_text(json.dumps({"schema": 2, "generated_at": "x"}))
    reports = []
    for round_index in range(ROUNDS):
        incident.add_stale(round_index)
        completed, report = audit(report_dir, incident)
        reports.append(report)
        messages = completed.stdout + completed.stderr  # Ansible prints warnings on stderr
        assert "audit-20000101T000000Z.json: corrupt, not JSON" in messages
        assert "audit-20000101T000100Z.json: report schema 2; this collection reads schema 1" in messages
    expected = [STALE_PER_ROUND * (index + 1) for index in range(ROUNDS)]
    assert [report["history"]["series"]["pairs"][PAIR][-1]["half_open"] for report in reports] == expected
    assert [point["matched"] for point in reports[-1]["history"]["series"]["pairs"][PAIR]] == [LIVE] * ROUNDS
    assert [len(by_id(report, "growing-half-open")) for report in reports] == [0, 0, 1, 1]
    (growing,) = by_id(reports[-1], "growing-half-open")
    evidence = growing["evidence"]
    assert growing["host"] == "app"
    assert [point["half_open"] for point in evidence["series"]] == expected
    assert [point["at"] for point in evidence["series"]] == [report["generated_at"] for report in reports]
    assert evidence["holders"] == [
        {"host": "app", "pid": incident.server.pid, "process": "app_srv", "count": expected[-1]}
    ]
    assert "held by app_srv (pid %d on app) %d" % (incident.server.pid, expected[-1]) in growing["summary"]
    # Critical only when the evidence projects a limit within the horizon (the audits are seconds apart here).
    projections = evidence["conntrack_projection"] + evidence["fd_projection"]
    assert growing["severity"] == ("critical" if any(item["within_horizon"] for item in projections) else "warning")
    changes = reports[-1]["changes"]
    assert changes["since"] == reports[-2]["generated_at"]
    assert changes["pairs"][PAIR]["half_open"]["then"] == expected[-2]
    assert changes["pairs"][PAIR]["half_open"]["now"] == expected[-1]
    assert changes["pairs"][PAIR]["half_open"]["delta"] == STALE_PER_ROUND
    assert any(line.startswith("since %s" % changes["since"]) and PAIR in line for line in changes["lines"])
    assert "since %s" % changes["since"] in (report_dir / "audit-latest.md").read_text()
    assert_prometheus_matches(reports[-1], (report_dir / "audit-latest.prom").read_text())
    assert chromium.available(), "chromium is not installed (tools/install-system-deps.sh installs it)"
    chromium.check_series(report_dir / "audit-latest.html", "trend-growing")

    # The fix: tune_conntrack.yml on the NAT (its role's files into a temporary root), then app_srv restarted.
    tuned = run_playbook(
        "tune_conntrack.yml",
        "-e",
        "__conntrack_tuning_config_root=%s" % (tmp_path / "config-root"),
        "-e",
        "target=localhost",
        env=ansible_environment(),
        netns=incident.namespaces["nat"],
    )
    assert tuned.returncode == 0, tuned.stdout[-3000:]
    incident.restart_app()
    completed, healthy = audit(report_dir, incident)
    assert healthy["hosts"]["nat"]["conntrack"]["timeouts"]["tcp_timeout_established"] == 1200
    assert by_id(healthy, "growing-half-open") == []
    assert healthy["history"]["series"]["pairs"][PAIR][-1]["half_open"] == 0
    (change,) = healthy["changes"]["conntrack_timeout_changes"]
    assert (change["host"], change["from"], change["to"]) == ("nat", 432000, 1200)
    assert (change["after"], change["before"]) == (reports[-1]["generated_at"], healthy["generated_at"])
    (fixed,) = by_id(healthy, "conntrack-timeout-changed")
    assert fixed["host"] == "nat" and fixed["severity"] == "info"
    assert fixed["evidence"]["followed"] == [
        {
            "pair": PAIR,
            "series": [
                {"at": reports[-1]["generated_at"], "half_open": expected[-1]},
                {"at": healthy["generated_at"], "half_open": 0},
            ],
            "back_at_zero": healthy["generated_at"],
        }
    ]
    assert "changed 432000 -> 1200" in fixed["summary"] and "back at zero since" in fixed["summary"]
    # Markdown escapes the ">" of the arrow.
    assert "conntrack timeout on nat changed 432000 -\\> 1200" in (report_dir / "audit-latest.md").read_text()
    assert_prometheus_matches(healthy, (report_dir / "audit-latest.prom").read_text())

    # The same pictures from the report directory alone, and the numbers for a spreadsheet.
    drawn = run_playbook(
        "trend.yml",
        "-e",
        "netdiag_report_dir=%s" % report_dir,
        "-e",
        "netdiag_trend_dest=%s" % (tmp_path / "trend"),
        env=ansible_environment(),
    )
    assert drawn.returncode == 0, drawn.stdout[-3000:]
    assert "%d report(s) drawn, 2 skipped" % (ROUNDS + 1) in drawn.stdout
    rows = list(csv.DictReader((tmp_path / "trend" / "trend.csv").open(newline="")))
    pair_rows = [row for row in rows if row["kind"] == "pair" and row["name"] == PAIR]
    assert [int(row["half_open"]) for row in pair_rows] == [*expected, 0]
    nat_rows = [row for row in rows if row["kind"] == "host" and row["name"] == "nat"]
    assert [row["conntrack_tcp_timeout_established"] for row in nat_rows] == ["432000"] * ROUNDS + ["1200"]
    chromium.check_series(tmp_path / "trend" / "trend.html", "trend-page")
    # The same playbook by its collection name, as an installed collection runs it.
    by_name = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "netdiag.tcp.trend", "-e", "netdiag_report_dir=%s" % report_dir],
        cwd=REPO,
        env=ansible_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert by_name.returncode == 0, by_name.stdout[-3000:]
    assert (report_dir / "trend.csv").read_text() == (tmp_path / "trend" / "trend.csv").read_text()
