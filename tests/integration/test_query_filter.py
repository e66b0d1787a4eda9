# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.query filter through real Ansible templating, on a report written by the audit playbook."""

from __future__ import annotations

import json
import subprocess

from conftest import REPO, VENV_BIN, run_audit


def template(expression, extra_vars):
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ %s }}" % expression,
            "-e",
            json.dumps(extra_vars),
        ],
        cwd=REPO,
        env={
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


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
