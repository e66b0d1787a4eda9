# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.query filter through real Ansible templating, on a report written by the audit playbook."""

from __future__ import annotations

from conftest import run_audit, template


def test_query_filter_on_the_audit_report(tmp_path):
    _completed, report = run_audit(tmp_path)
    path = str(tmp_path / "audit-latest.json")
    result = template(
        "lookup('ansible.builtin.file', report_path) | ansible.builtin.from_json"
        " | netdiag.tcp.query('[keys(hosts), hosts.localhost.status, length(findings)]')",
        {"report_path": path},
    )
    assert result["msg"] == [["localhost"], report["hosts"]["localhost"]["status"], len(report["findings"])]


def test_query_filter_names_a_bad_expression():
    result = template("{'findings': []} | netdiag.tcp.query(expression)", {"expression": "findings[?"})
    assert result.get("failed") is True
    assert "netdiag.tcp.query: netdiag_query: 'findings[?' is not a valid JMESPath expression" in result["msg"]
