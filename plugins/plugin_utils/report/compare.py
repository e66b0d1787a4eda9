# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a report beside its history: the ``changes`` section, the series over time and the trend findings.

history.py reads the earlier summaries, trend.py compares; this joins them into the report being written. Pure.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import SEVERITY_ORDER
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import report_summary
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend import changes, series, trend_findings


def add_history(report, earlier, skipped=(), baseline=None, baseline_problem=None, limits=None):
    """Add ``changes``, ``history`` and the trend findings to `report` (in place) and return its summary.

    earlier: summaries of earlier reports, oldest first; baseline: the summary named by netdiag_baseline, or None
    to compare with the newest earlier report; baseline_problem: why a named baseline was not used (it is then
    skipped, named in the section, and the newest earlier report is used).
    """
    current = report_summary(report)
    points = [*earlier, current]
    reason = None
    if baseline_problem:
        reason = "the baseline %s was skipped: %s" % (baseline_problem[0], baseline_problem[1])
    compared = baseline if baseline is not None else (earlier[-1] if earlier else None)
    report["changes"] = changes(current, compared, reason)
    report["history"] = {
        "reports": [{"generated_at": point["generated_at"], "file": point.get("report_file")} for point in points],
        "skipped": list(skipped)
        + ([{"file": baseline_problem[0], "reason": baseline_problem[1]}] if baseline_problem else []),
        "series": series(points),
    }
    report["findings"].extend(trend_findings(points, limits))
    report["findings"].sort(key=lambda item: (SEVERITY_ORDER[item["severity"]], item["host"], item["id"]))
    # The trend findings change nothing a summary holds (its holders come from half-open-sockets): summarised once.
    return current
