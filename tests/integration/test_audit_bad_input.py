# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml under bad input and on a host it must not change, for real (ansible-playbook).

1. Every bad variable fails the first play, on the controller, with one exact message and rc != 0: no host is
   contacted (the gathering play never starts) and the report directory, with the previous audit-latest.* in it,
   is left exactly as it was.
2. A good audit of a network-namespace host (and of this machine in raw mode) reports changed == 0 for every task
   of the gathering play and leaves the host's sysctls (/proc/sys/net in its namespace) and the sysctl and module
   configuration files identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import stat
import subprocess
import uuid

import pytest
from conftest import VENV_BIN, ansible_json_environment, json_output, needs_root, netns_python, run, run_playbook

PREFIX = "The audit was not started and no host was contacted: "
GATHER_PLAY = "Gather TCP diagnostics from every host"


def audit(*extra, report_dir):
    """Run audit.yml with the JSON callback; return (rc, the callback's output)."""
    completed = run_playbook(
        "audit.yml", "-e", "netdiag_report_dir=%s" % report_dir, *extra, env=ansible_json_environment()
    )
    return completed.returncode, json_output(completed)


def snapshot(directory):
    """{name: (mode, bytes)} of every entry in a directory."""
    return {path.name: (stat.S_IMODE(path.lstat().st_mode), path.read_bytes()) for path in directory.iterdir()}


@pytest.fixture
def previous_report(tmp_path):
    """A report directory holding the previous audit's audit-latest.* files."""
    directory = tmp_path / "reports"
    directory.mkdir(mode=0o700)
    for extension in ("json", "md", "html"):
        (directory / ("audit-latest." + extension)).write_text("previous " + extension)
        (directory / ("audit-latest." + extension)).chmod(0o600)
    return directory


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-e", "netdiag_audit_ports=abc"], "netdiag_audit_ports: 'abc' is not a port number (1-65535)"),
        (["-e", "netdiag_audit_ports=99999"], "netdiag_audit_ports: 99999 is not a port number (1-65535)"),
        (["-e", "netdiag_audit_max_connections=-1"], "netdiag_audit_max_connections: '-1' is not a whole number >= 0"),
        (["-e", "netdiag_audit_peers=notanip"], "netdiag_audit_peers: 'notanip' is not an IP address or CIDR network"),
        (
            ["-e", 'netdiag_audit_thresholds={"close_wiat":50}'],
            "netdiag_audit_thresholds: unknown close_wiat; known: close_wait, conntrack_full_pct, "
            "conntrack_near_full_pct, no_keepalive",
        ),
        (
            ["-e", '{"netdiag_audit_thresholds": {"close_wait": -1}}'],
            "netdiag_audit_thresholds.close_wait must be a number >= 0, got -1",
        ),
        (["-e", "netdiag_report_keep=some"], "netdiag_report_keep: 'some' is not a whole number >= 0"),
        (["-e", "netdiag_report_history=-2"], "netdiag_report_history: '-2' is not a whole number >= 0"),
        (
            ["-e", 'netdiag_audit_trend={"min_report":3}'],
            "netdiag_audit_trend: unknown min_report; known: fd_limit, horizon_hours, max_series, min_reports",
        ),
        (["-e", '{"netdiag_audit_trend": {"min_reports": 1}}'], "netdiag_audit_trend.min_reports: 1 is below 2"),
        (
            ["-e", "netdiag_baseline=/nonexistent/audit-20260101T000000Z.json"],
            "netdiag_baseline: /nonexistent/audit-20260101T000000Z.json is not a file (give an audit-<stamp>.json "
            "report)",
        ),
        (["-e", "netdiag_facts_max_age=1h"], "netdiag_facts_max_age: '1h' is not a whole number >= 0"),
        (
            ["-e", "netdiag_audit_target=nosuchgroup"],
            "netdiag_audit_target: 'nosuchgroup' matches no host in the inventory (check -i and the pattern)",
        ),
    ],
)
def test_bad_variable_fails_before_any_host_and_changes_nothing(previous_report, extra, message):
    before = snapshot(previous_report)
    rc, output = audit(*extra, report_dir=previous_report)
    assert rc == 2
    assert [play["play"]["name"] for play in output["plays"]] == [
        "Check the audit's variables before contacting any host"
    ]
    [task] = output["plays"][0]["tasks"]
    assert task["hosts"]["localhost"]["msg"] == PREFIX + message
    assert snapshot(previous_report) == before


def test_every_bad_variable_is_named_in_one_message(previous_report):
    before = snapshot(previous_report)
    rc, output = audit("-e", "netdiag_audit_ports=abc", "-e", "netdiag_audit_peers=notanip", report_dir=previous_report)
    assert rc == 2
    assert output["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"] == PREFIX + (
        "netdiag_audit_ports: 'abc' is not a port number (1-65535); "
        "netdiag_audit_peers: 'notanip' is not an IP address or CIDR network"
    )
    assert snapshot(previous_report) == before


def test_inventory_that_matches_nothing_fails(previous_report, tmp_path):
    empty = tmp_path / "empty.yml"
    empty.write_text("all: {}\n")
    before = snapshot(previous_report)
    rc, output = audit("-i", str(empty), report_dir=previous_report)
    assert rc == 2
    assert output["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"] == PREFIX + (
        "netdiag_audit_target: 'all' matches no host in the inventory (check -i and the pattern)"
    )
    assert snapshot(previous_report) == before


def test_report_dir_that_is_a_file_or_shared_fails(tmp_path):
    not_a_directory = tmp_path / "reports.txt"
    not_a_directory.write_text("mine")
    rc, output = audit(report_dir=not_a_directory)
    assert rc == 2
    assert output["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"] == PREFIX + (
        "netdiag_report_dir: %s is not a directory" % not_a_directory
    )
    assert not_a_directory.read_text() == "mine"

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /var/tmp/netdiag would be if anyone could create it
    rc, output = audit(report_dir=shared)
    assert rc == 2
    assert output["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"] == PREFIX + (
        "netdiag_report_dir: %s is writable by group or others (mode 1777): make it private with chmod 700" % shared
    )
    assert list(shared.iterdir()) == []


# ---- a good audit changes nothing on the host ------------------------------------------------------------------
CONFIGURATION = ("/etc/sysctl.conf", "/etc/sysctl.d", "/etc/modules-load.d", "/etc/modprobe.d", "/etc/modules")
# Counters, not settings: they move with traffic and with other namespaces' work, whatever the audit does.
COUNTERS = ("nf_conntrack_count",)


def sysctls_in(namespace):
    """{path: value or error} of every readable file under /proc/sys/net in the namespace, counters left out."""
    script = (
        "import json, os\n"
        "values = {}\n"
        "for top, _dirs, files in os.walk('/proc/sys/net'):\n"
        "    for name in files:\n"
        "        if name in %r:\n"
        "            continue\n"
        "        path = os.path.join(top, name)\n"
        "        try:\n"
        "            values[path] = open(path).read()\n"
        "        except OSError as error:\n"
        "            values[path] = 'error %%s' %% error.errno\n"
        "print(json.dumps(values))\n" % (COUNTERS,)
    )
    return json.loads(run("ip", "netns", "exec", namespace, str(VENV_BIN / "python"), "-c", script).stdout)


def configuration_digest():
    digests = {}
    for top in CONFIGURATION:
        for path in sorted(pathlib.Path(top).rglob("*")) if os.path.isdir(top) else [pathlib.Path(top)]:
            if path.is_file():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@needs_root
def test_audit_changes_nothing_on_the_host(tmp_path):
    namespace = "ndt-hard-" + uuid.uuid4().hex[:6]
    run("ip", "netns", "add", namespace)
    try:
        run("ip", "-n", namespace, "link", "set", "lo", "up")
        inventory = tmp_path / "inventory.json"
        inventory.write_text(
            json.dumps(
                {
                    "all": {
                        "hosts": {
                            "h1": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": netns_python(tmp_path, namespace),
                            },
                            # Raw mode (commands through the connection, parsed on the controller) reads this
                            # machine itself over the local connection: read-only as well.
                            "h2": {"ansible_connection": "local", "netdiag_raw": True},
                        }
                    }
                }
            )
        )
        sysctls, configuration = sysctls_in(namespace), configuration_digest()
        report_dir = tmp_path / "reports"
        rc, output = audit(
            "-i", str(inventory), "-e", 'netdiag_audit_thresholds={"close_wait":5}', report_dir=report_dir
        )
        assert rc == 0, json.dumps(output)[-3000:]
        [gather] = [play for play in output["plays"] if play["play"]["name"] == GATHER_PLAY]
        for name in ("h1", "h2"):
            results = [task["hosts"][name] for task in gather["tasks"] if name in task["hosts"]]
            assert len(results) >= 3
            assert [result.get("changed", False) for result in results] == [False] * len(results), name
        assert sysctls_in(namespace) == sysctls
        assert configuration_digest() == configuration
        report = json.loads((report_dir / "audit-latest.json").read_text())
        assert report["hosts"]["h1"]["status"] == "ok", report["hosts"]["h1"]["errors"]
        assert report["hosts"]["h2"]["status"] in ("ok", "partial"), report["hosts"]["h2"]["errors"]
        assert isinstance(report["hosts"]["h2"]["netstat"]["state_counts"]["LISTEN"], int)  # raw mode read a table
        assert stat.S_IMODE(report_dir.stat().st_mode) == 0o700
        assert {stat.S_IMODE(path.stat().st_mode) for path in report_dir.iterdir()} == {0o600}
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)
