# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped example, examples/incident-2012 (captures made by its regenerate.py: real Linux commands in network
namespaces and the AIX EMULATION, see its README): playbooks/analyze.yml on it gives exactly the findings that
docs/runbook-2012-incident.md lists in section 0, and the report kept in the example has the same findings."""

from __future__ import annotations

import json
import re

from conftest import REPO, run_playbook

EXAMPLE = REPO / "examples" / "incident-2012"
RUNBOOK = REPO / "docs" / "runbook-2012-incident.md"
TABLE_START = "<!-- findings of examples/incident-2012"
TABLE_END = "<!-- end of findings -->"


def runbook_findings():
    """[(severity, id, host)] from the runbook's table, in its order."""
    text = RUNBOOK.read_text()
    table = text[text.index(TABLE_START) : text.index(TABLE_END)]
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in ("critical", "warning", "info"):
            rows.append((cells[0], cells[1].strip("`"), cells[2]))
    return rows


def findings(report):
    return [(item["severity"], item["id"], item["host"]) for item in report["findings"]]


def test_analyze_gives_the_runbook_findings(tmp_path):
    expected = runbook_findings()
    assert len(expected) == 5  # the table itself was read
    completed = run_playbook(
        "analyze.yml",
        "-e",
        "capture_dir=%s" % (EXAMPLE / "captures"),
        "-e",
        "netdiag_report_dir=%s" % tmp_path,
        "-e",
        '{"netdiag_audit_ports": [5555]}',
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    report = json.loads((tmp_path / "audit-latest.json").read_text())
    assert findings(report) == expected
    assert {name: (host["status"], host["platform"], host["errors"]) for name, host in report["hosts"].items()} == {
        "web01": ("ok", "Linux", []),
        "nat01": ("ok", "Linux", []),
        "app01": ("ok", "AIX", []),
    }
    pairs = [
        (p["client"], p["server"], p["service_port"], p["client_count"], p["server_count"]) for p in report["pairs"]
    ]
    assert pairs == [("web01", "app01", 5555, 35, 240)]
    # The counts the runbook's prose quotes.
    runbook = RUNBOOK.read_text()
    assert "`web01 | app01 | 5555 | 35 | 240`" in runbook and "all 241 sockets on port 5555" in runbook
    summaries = {(item["id"], item["host"]): item["summary"] for item in report["findings"]}
    assert summaries[("asymmetric-established", "app01")].startswith(
        "app01 holds 240 ESTABLISHED connections for port 5555, web01 only 35"
    )
    assert re.match(r"app01 holds 205 ESTABLISHED sockets for port 5555", summaries[("half-open-sockets", "app01")])
    # The incident's rmsock loop: every socket on 5555 held by the one server process.
    rmsock = report["hosts"]["app01"]["aix"]["rmsock"]
    assert [entry["count"] for entry in rmsock["by_process"]] == [241]  # the listener and 240 ESTABLISHED


def test_the_kept_report_is_what_the_captures_give():
    kept = json.loads((EXAMPLE / "report" / "audit.json").read_text())
    assert findings(kept) == runbook_findings()
    assert [host["mode"] for host in kept["hosts"].values()] == ["capture"] * 3
