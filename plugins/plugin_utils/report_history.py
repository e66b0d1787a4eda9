# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report's files over time, on the controller: earlier summaries read before a report is written, and
after it the files that go with it: audit-latest.prom and the summaries of older reports that had none.

audit_report (plugins/action) calls these around report_files.write_report_set; the comparing itself is pure
(report/compare.py, report/trend.py).
"""

from __future__ import annotations

import json
import os

from ansible_collections.netdiag.tcp.plugins.plugin_utils.audit_variables import AuditOptionError
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import prometheus
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.compare import add_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.history import (
    DEFAULT_WINDOW,
    HistoryError,
    load_baseline,
    load_history,
    summary_name,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend import DEFAULT_TREND
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import ReportDirectoryError
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_single_file import write_single_file

SUMMARY_EXTENSION = "summary.json"
PROMETHEUS_EXTENSION = "prom"


def prometheus_text(report, trend):
    """audit-latest.prom's text: the report as Prometheus gauges, at most trend["max_series"] series per gauge."""
    return prometheus.render(report, trend["max_series"])


class TrendOptionError(AuditOptionError):
    """A bad history/trend option; the message names it."""


def _whole_number(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise TrendOptionError("%s: %r is not a whole number" % (name, value)) from None
    if value < minimum:
        raise TrendOptionError("%s: %d is below %d" % (name, value, minimum))
    return value


def trend_options(value, name="trend"):
    """The trend limits of report/trend.py (min_reports, horizon_hours, fd_limit) and max_series of the .prom file,
    from a mapping or its JSON text; unknown keys fail."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            raise TrendOptionError("%s: %r is not a mapping" % (name, value)) from None
    value = value or {}
    if not isinstance(value, dict):
        raise TrendOptionError("%s: %r is not a mapping" % (name, value))
    known = dict(DEFAULT_TREND, max_series=prometheus.DEFAULT_MAX_SERIES)
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise TrendOptionError("%s: unknown %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(known))))
    minimums = {"min_reports": 2, "horizon_hours": 1, "fd_limit": 1, "max_series": 1}
    return {
        key: _whole_number(value.get(key, default), "%s.%s" % (name, key), minimums[key])
        for key, default in known.items()
    }


def baseline_path(baseline, dest):
    """The file netdiag_baseline names: as given, or a plain name inside the report directory."""
    path = os.path.expanduser(baseline)
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(os.path.join(dest, path)):
        path = os.path.join(dest, path)
    return path


def baseline_problem(baseline, dest):
    """Why netdiag_baseline cannot be used at all (it names no file), or None; checked before any host is read."""
    path = baseline_path(baseline, dest)
    return None if os.path.isfile(path) else "%s is not a file (give an audit-<stamp>.json report)" % path


def read_earlier(dest, stamp, window=DEFAULT_WINDOW, baseline=None):
    """What the report is compared with, read before anything is written.

    Returns {"history": load_history(...), "baseline": summary or None, "baseline_problem": (file, why) or None}.
    A baseline path that names no file raises HistoryError (the user mistyped it: nothing is written); one that is
    corrupt or of another schema is skipped with the reason, and the newest earlier report is used instead.
    """
    earlier = {"history": load_history(dest, stamp, window), "baseline": None, "baseline_problem": None}
    earlier["off"] = window == 0 and not baseline
    if baseline:
        path = baseline_path(baseline, dest)
        summary, problem = load_baseline(path)
        if problem:
            earlier["baseline_problem"] = (path, problem)
        else:
            earlier["baseline"] = summary
    return earlier


def compare(report, earlier, limits):
    """Add changes, history and trend findings to the report; return its summary's text (audit-<stamp>.summary.json).
    Skipped files are named in report["history"]["skipped"]."""
    history = earlier["history"]
    if earlier.get("off"):
        summary = add_history(report, [], [], None, None, {key: limits[key] for key in limits if key != "max_series"})
        report["changes"]["reason"] = "not compared with earlier reports (netdiag_report_history is 0)"
        return json.dumps(summary, indent=1, sort_keys=True) + "\n"
    summary = add_history(
        report,
        history["summaries"],
        history["skipped"],
        earlier["baseline"],
        earlier["baseline_problem"],
        {key: limits[key] for key in limits if key != "max_series"},
    )
    return json.dumps(summary, indent=1, sort_keys=True) + "\n"


def changes_lines(report):
    """The run's closing lines about the comparison: with what, what came and went, what changed in tuning."""
    changes = report.get("changes") or {}
    if not changes.get("baseline"):
        return ["  not compared: %s" % changes.get("reason", "no earlier report")]
    lines = [
        "  compared with %s (%s h earlier): see 'Changes since %s' in the report"
        % (changes["baseline"], changes.get("hours"), changes.get("since"))
    ]
    lines.extend(
        "  " + line for line in changes.get("lines") or [] if not line.startswith("since %s (" % changes["since"])
    )
    return lines


def skipped_warnings(report):
    return [
        "earlier report skipped: %s: %s" % (item["file"], item["reason"])
        for item in (report.get("history") or {}).get("skipped") or []
    ]


def write_backfilled_summaries(dest, earlier, mode):
    """After the report set is in place: the summaries of older reports read whole this time, so that the next run
    reads only those. Returns warnings; never fails the written report."""
    warnings = []
    backfill = set(earlier["history"]["backfill"])
    for summary in earlier["history"]["summaries"]:
        name = os.path.basename(summary.get("report_file") or "")
        stamp = name[len("audit-") : -len(".json")]
        # Only for reports still there: netdiag_report_keep may just have removed the oldest.
        if stamp not in backfill or not os.path.isfile(os.path.join(dest, name)):
            continue
        try:
            write_single_file(dest, summary_name(stamp), json.dumps(summary, indent=1, sort_keys=True) + "\n", mode)
        except (OSError, ReportDirectoryError, ValueError) as error:
            warnings.append("summary of %s not written: %s" % (name, error))
    return warnings


__all__ = [
    "HistoryError",
    "PROMETHEUS_EXTENSION",
    "SUMMARY_EXTENSION",
    "compare",
    "prometheus_text",
    "read_earlier",
    "trend_options",
    "write_backfilled_summaries",
]
