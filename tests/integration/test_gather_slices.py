# SPDX-License-Identifier: GPL-3.0-or-later
"""Gather anywhere, correlate centrally: the incident's hosts gathered in three slices into a jsonfile fact cache,
one slice through ansible-runner (the engine AWX runs jobs with), then playbooks/report.yml from the cache alone.

The topology is test_audit_nat.py's (web1, web2 behind the audited NAT, app; real connections in network
namespaces). The report from the cache must equal the report of one audit.yml run over the same hosts, apart from
the times (generated_at, each host's gathered_at) and the kernel's running counters that change between any two
reads (conntrack statistics, slab objects, the owner scan's timing). Pairs, matching and findings must be equal.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import ansible_runner
import test_audit_nat
from conftest import REPO, VENV_BIN, ansible_environment, needs_root, run_audit, run_playbook
from test_audit_nat import write_inventory

nat_topology = test_audit_nat.nat_topology  # the incident's topology, the same fixture as there

# Read again on every read of a live kernel: not what the slicing could change.
VOLATILE_HOST_FIELDS = {"gathered_at"}
MISSING = (
    "the host did not run the audit: no gathered facts (gather it with netdiag.tcp.gather or netdiag.tcp.audit; "
    "a fact cache may also have expired them)"
)
VOLATILE_SECTION_FIELDS = {"netstat": {"owner_scan"}, "conntrack": {"stats"}}


def comparable(report):
    """The report without its times and the kernel's running counters."""
    report = json.loads(json.dumps(report))
    del report["generated_at"]
    # The series over time hold this report's own point, at its generated_at.
    for point in _points(report.get("history") or {}):
        point.pop("at", None)
        point.pop("generated_at", None)
    for host in report["hosts"].values():
        for field in VOLATILE_HOST_FIELDS:
            host.pop(field, None)
        host.pop("slabinfo", None)
        for section, fields in VOLATILE_SECTION_FIELDS.items():
            for field in fields:
                (host.get(section) or {}).pop(field, None)
    return report


def _points(value):
    """Every dictionary inside value (the history's reports and series points)."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _points(item)
    elif isinstance(value, list):
        for item in value:
            yield from _points(item)


def cache_environment(cache):
    return ansible_environment(ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache))


def cache_file(cache, host):
    """The jsonfile plugin's file of a host (ansible-core 2.19 prefixes the names with its format, "s1_")."""
    (path,) = [path for path in cache.iterdir() if path.name in (host, "s1_" + host)]
    return path


def gather_through_runner(tmp_path, inventory, cache, limit):
    """playbooks/gather.yml for one slice, run by ansible-runner as AWX runs a job (its own private data dir).

    ansible-runner points the jsonfile fact cache at the job's artifacts (artifacts/<id>/fact_cache); AWX's fact
    storage saves those files after the job and puts them back for the next one. Here they are copied into the
    shared cache the same way."""
    private = tmp_path / "runner"
    private.mkdir()
    environment = ansible_environment()
    result = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(REPO),
        playbook=str(REPO / "playbooks" / "gather.yml"),
        inventory=str(inventory),
        limit=limit,
        extravars={"netdiag_audit_ports": [5555]},
        envvars={
            "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")),
            "ANSIBLE_HOST_KEY_CHECKING": environment["ANSIBLE_HOST_KEY_CHECKING"],
        },
        quiet=True,
    )
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()[-4000:]
    stored = private / "artifacts" / result.config.ident / "fact_cache"
    for path in stored.iterdir():
        shutil.copy(path, cache / path.name)
    return {event["event_data"]["host"] for event in result.events if event.get("event") == "runner_on_ok"}


@needs_root
def test_three_slices_then_report_equal_one_audit(tmp_path, nat_topology):
    namespaces, _server_pid = nat_topology
    inventory = write_inventory(tmp_path, namespaces, declare_nat=True)
    completed, single = run_audit(tmp_path / "single", inventory=inventory, extra=["-e", "netdiag_audit_ports=[5555]"])
    assert {host["status"] for host in single["hosts"].values()} == {"ok"}, completed.stdout[-3000:]

    cache = tmp_path / "facts"
    ports = ["-e", "netdiag_audit_ports=[5555]"]
    for limit in ("web1", "web2"):
        completed = run_playbook(
            "gather.yml", "-i", str(inventory), "--limit", limit, *ports, env=cache_environment(cache)
        )
        assert completed.returncode == 0, completed.stdout[-3000:]
    reached = gather_through_runner(tmp_path, inventory, cache, "nat:app")
    assert {"nat", "app"} <= reached
    # One cache file per host, written by the jsonfile plugin: the results outlive the runs.
    assert all(cache_file(cache, name) for name in namespaces)

    # The report contacts no host: the namespaces' interpreters are made unusable first.
    for name in namespaces:
        (tmp_path / ("python-" + namespaces[name])).write_text("#!/bin/sh\nexit 99\n")
    report_dir = tmp_path / "central"
    # The same variables as the gathering (one vars file in practice): the report records them in run.settings.
    completed = run_playbook(
        "report.yml",
        "-i",
        str(inventory),
        "-e",
        "netdiag_report_dir=%s" % report_dir,
        *ports,
        env=cache_environment(cache),
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    central = json.loads((report_dir / "audit-latest.json").read_text())
    assert central["gathering"] == {"max_age": 86400, "stale": {}, "missing": []}
    assert comparable(central) == comparable(single)
    assert [item["id"] for item in central["findings"]] == [item["id"] for item in single["findings"]]
    assert "half-open-sockets" in {item["id"] for item in central["findings"]}
    assert_published_for_awx(tmp_path, inventory, cache, central)


def assert_published_for_awx(tmp_path, inventory, cache, central):
    """report.yml as an AWX job runs it: ansible-runner with the stored facts put into the job's fact cache
    (artifacts/<id>/fact_cache, as AWX's fact storage does before a job); the summary comes back as the job's
    artifacts (set_stats), which AWX hands to the next workflow nodes."""
    private = tmp_path / "runner-report"
    stored = private / "artifacts" / "report-job" / "fact_cache"
    stored.mkdir(parents=True)
    for path in cache.iterdir():
        shutil.copy(path, stored / path.name)
    report_dir = tmp_path / "awx-reports"
    result = ansible_runner.run(
        private_data_dir=str(private),
        ident="report-job",
        project_dir=str(REPO),
        playbook=str(REPO / "playbooks" / "report.yml"),
        inventory=str(inventory),
        extravars={"netdiag_report_dir": str(report_dir), "netdiag_audit_ports": [5555]},  # as the gathering
        envvars={"PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", ""))},
        quiet=True,
    )
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()[-4000:]
    (stats,) = [event for event in result.events if event.get("event") == "playbook_on_stats"]
    published = stats["event_data"]["artifact_data"]["netdiag_audit"]
    report = json.loads((report_dir / "audit-latest.json").read_text())
    assert comparable(report) == comparable(central)
    assert published["hosts_by_status"] == {"ok": 4, "partial": 0, "failed": 0, "unreachable": 0}
    severities = {"critical": 0, "warning": 0, "info": 0}
    for item in report["findings"]:
        severities[item["severity"]] += 1
    assert published["findings_by_severity"] == severities and severities["warning"] >= 2
    # The files the job wrote: the stamped set (its stamp is the time of the write, to the microsecond), and
    # audit-latest.prom.
    stamped = sorted(str(path) for path in report_dir.glob("audit-2*"))
    assert [path.rsplit("Z.", 1)[1] for path in stamped] == ["html", "json", "md", "summary.json"]
    assert sorted(published["report_files"]) == sorted([*stamped, str(report_dir / "audit-latest.prom")])
    assert (published["stale_hosts"], published["missing_hosts"]) == ([], [])


@needs_root
def test_stale_and_missing_facts_are_named_not_mixed(tmp_path, nat_topology):
    namespaces, _server_pid = nat_topology
    inventory = write_inventory(tmp_path, namespaces, declare_nat=True)
    cache = tmp_path / "facts"
    completed = run_playbook(
        "gather.yml", "-i", str(inventory), "--limit", "web1:web2:app", env=cache_environment(cache)
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    # web2's facts as an earlier day left them: its gathering time replaced in the cache file.
    path = cache_file(cache, "web2")
    text = path.read_text()
    (gathered_at,) = set(re.findall(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", text))
    path.write_text(text.replace(gathered_at, "2026-01-01T00:00:00Z"))
    report_dir = tmp_path / "central"
    completed = run_playbook(
        "report.yml",
        "-i",
        str(inventory),
        "-e",
        "netdiag_report_dir=%s netdiag_facts_max_age=3600" % report_dir,
        env=cache_environment(cache),
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    report = json.loads((report_dir / "audit-latest.json").read_text())
    assert report["gathering"] == {"max_age": 3600, "stale": {"web2": "2026-01-01T00:00:00Z"}, "missing": ["nat"]}
    web2 = report["hosts"]["web2"]
    assert web2["status"] == "failed" and "netstat" not in web2
    assert web2["errors"][0].startswith("facts gathered at 2026-01-01T00:00:00Z, ")
    assert "older than the maximum age of 3600 s: not used" in web2["errors"][0]
    assert report["hosts"]["nat"]["errors"] == [MISSING]
    assert report["hosts"]["app"]["status"] == "ok" and report["hosts"]["web1"]["status"] == "ok"
    # web1 and web2 are one end (both declare the NAT's address): without web2's sockets that end holds an unknown
    # number of connections, so it is in no pair; web2's old sockets are not used.
    assert report["pairs"] == []


@needs_root
def test_a_host_not_read_now_keeps_none_of_its_cached_facts(tmp_path, nat_topology):
    namespaces, _server_pid = nat_topology
    inventory = write_inventory(tmp_path, namespaces, declare_nat=True)
    cache = tmp_path / "facts"
    completed = run_playbook("gather.yml", "-i", str(inventory), env=cache_environment(cache))
    assert completed.returncode == 0, completed.stdout[-3000:]
    # app's interpreter breaks (raw mode off, so nothing else reads it): its module fails as a whole now, and the
    # cache still holds the sockets it had an hour ago.
    (tmp_path / ("python-" + namespaces["app"])).write_text("#!/bin/sh\necho broken >&2\nexit 99\n")
    completed = run_playbook(
        "gather.yml", "-i", str(inventory), "--limit", "app", "-e", "netdiag_raw=false", env=cache_environment(cache)
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    text = cache_file(cache, "app").read_text()
    assert "established_tuples" in text  # the earlier run's facts are still in the cache ...
    report_dir = tmp_path / "central"
    completed = run_playbook(
        "report.yml", "-i", str(inventory), "-e", "netdiag_report_dir=%s" % report_dir, env=cache_environment(cache)
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    report = json.loads((report_dir / "audit-latest.json").read_text())
    app = report["hosts"]["app"]
    # ... and none of them is reported: app failed now, and says why.
    assert app["status"] == "failed" and "netstat" not in app and "conntrack" not in app, app
    assert any(error.startswith("netstat_facts: ") for error in app["errors"]), app["errors"]
    assert report["pairs"] == []
    assert {name: report["hosts"][name]["status"] for name in ("web1", "web2", "nat")} == dict.fromkeys(
        ("web1", "web2", "nat"), "ok"
    )
