# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/action/audit_trend.py: the trend page and CSV of a report directory, written privately."""

from __future__ import annotations

import csv
import json
import stat
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.netdiag.tcp.plugins.action.audit_trend import ActionModule
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import SUMMARY_SCHEMA


def run_trend(args):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def summary(hour, half_open, process):
    return {
        "summary_schema": SUMMARY_SCHEMA,
        "report_schema": 1,
        "generated_at": "2026-12-07T%02d:00:00Z" % hour,
        "hosts": {
            "=cmd|' /C calc'!A0": {"status": "ok", "established": 3, "close_wait": 0, "half_open": half_open},
            "nat": {
                "status": "ok",
                "established": 0,
                "close_wait": 0,
                "half_open": 0,
                "conntrack": {
                    "count": 10 * hour,
                    "max": 100,
                    "usage_pct": 10.0 * hour,
                    "tcp_timeout_established": 1200,
                },
            },
        },
        "pairs": {
            "web -> app:5555": {
                "client": "web",
                "server": "app",
                "service_port": 5555,
                "client_hosts": ["web"],
                "server_hosts": ["app"],
                "client_count": 2,
                "server_count": 2 + half_open,
                "matched": 2,
                "half_open": half_open,
                "holders": [{"host": "app", "pid": 7, "process": process, "count": half_open}],
            }
        },
    }


def test_page_and_csv_from_the_summaries(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir(mode=0o700)
    for hour in range(3):
        (reports / ("audit-20261207T%02d0000Z.summary.json" % hour)).write_text(
            json.dumps(summary(hour, 5 * (hour + 1), "<b>srv</b>"))
        )
    (reports / "audit-20261207T030000Z.json").write_text("[1, 2")
    result = run_trend({"report_dir": str(reports), "dest": str(tmp_path / "out")})
    assert result["reports"] == ["2026-12-07T%02d:00:00Z" % hour for hour in range(3)]
    assert result["skipped"] == [
        {"file": str(reports / "audit-20261207T030000Z.json"), "reason": result["skipped"][0]["reason"]}
    ]
    assert result["skipped"][0]["reason"].startswith("corrupt, not JSON")
    assert [item["id"] for item in result["findings"]] == ["growing-half-open"]
    for path in result["files"]:
        assert stat.S_IMODE((tmp_path / "out" / path.rsplit("/", 1)[1]).stat().st_mode) == 0o600
    page = (tmp_path / "out" / "trend.html").read_text()
    assert page.count('<svg class="series-chart"') == 2  # the pair and nat's conntrack fill
    assert "&lt;b&gt;srv&lt;/b&gt;" in page and "<b>srv</b>" not in page
    rows = list(csv.DictReader((tmp_path / "out" / "trend.csv").open(newline="")))
    assert [row["half_open"] for row in rows if row["kind"] == "pair"] == ["5", "10", "15"]
    # A host name a spreadsheet would run as a formula is kept as text.
    assert {row["name"] for row in rows if row["kind"] == "host"} == {"'=cmd|' /C calc'!A0", "nat"}


def test_report_dir_must_exist(tmp_path):
    with pytest.raises(AnsibleActionFail, match="report_dir: .*missing is not a directory"):
        run_trend({"report_dir": str(tmp_path / "missing")})
    with pytest.raises(AnsibleActionFail, match="trend: unknown bogus"):
        run_trend({"report_dir": str(tmp_path), "trend": {"bogus": 1}})
