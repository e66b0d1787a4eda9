# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side writer of the trend page and CSV of a report directory (playbooks/trend.yml).

Reads the kept reports' summaries with plugin_utils/report/history, draws with report/trend_page and writes with
report_single_file (a checked private directory, files 0600, each replaced atomically).
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.action.audit_report import file_mode
from ansible_collections.netdiag.tcp.plugins.plugin_utils import audit_variables, report_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import SEVERITY_ORDER
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.history import load_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend import trend_findings
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_page import page_blocks, render_csv, render_html
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import FILE_MODE, ReportDirectoryError
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_single_file import write_single_file

# Enough for years of daily audits; the page stays readable because each picture is one line per series.
ALL_REPORTS = 100000


def plain(value):
    return json.loads(json.dumps(value, default=to_text))


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    _VALID_ARGS = frozenset(("report_dir", "dest", "reports", "mode", "trend"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        arguments = self._task.args
        if not arguments.get("report_dir"):
            raise AnsibleActionFail("report_dir: give the audit's report directory, e.g. -e netdiag_report_dir=reports")
        report_dir = os.path.abspath(os.path.expanduser(to_text(arguments["report_dir"])))
        if not os.path.isdir(report_dir):
            raise AnsibleActionFail("report_dir: %s is not a directory" % report_dir)
        dest = os.path.abspath(os.path.expanduser(to_text(arguments.get("dest") or report_dir)))
        mode = file_mode(arguments.get("mode", "%04o" % FILE_MODE))
        try:
            reports = audit_variables.count(plain(arguments.get("reports") or 0), name="reports")
            limits = report_history.trend_options(plain(arguments.get("trend")))
        except (audit_variables.AuditOptionError, report_history.TrendOptionError) as error:
            raise AnsibleActionFail(str(error)) from None
        limits.pop("max_series")
        history = load_history(report_dir, None, reports or ALL_REPORTS)
        summaries, skipped = history["summaries"], history["skipped"]
        page = render_html(page_blocks(summaries, skipped, report_dir, limits), "netdiag.tcp trend %s" % report_dir)
        try:
            files = [
                write_single_file(dest, "trend.html", page, mode),
                write_single_file(dest, "trend.csv", render_csv(summaries), mode),
            ]
        except (ReportDirectoryError, OSError) as error:
            raise AnsibleActionFail("cannot write the trend under %s: %s" % (dest, error)) from None
        found = sorted(trend_findings(summaries, limits), key=lambda item: SEVERITY_ORDER[item["severity"]])
        if skipped:
            result["warnings"] = ["report skipped: %s: %s" % (item["file"], item["reason"]) for item in skipped]
        result.update(
            changed=True,
            files=files,
            reports=[summary["generated_at"] for summary in summaries],
            skipped=skipped,
            findings=found if summaries else [],
        )
        return result
