# SPDX-License-Identifier: GPL-3.0-or-later
"""Earlier reports of a report directory, as summaries (summary.py): what comparisons over time read.

For each earlier report set the compact ``audit-<stamp>.summary.json`` is read; an older set without one (written
before summaries existed) is read whole once and summarised, and the caller writes its summary next to it so that
the next run reads only that. So comparing costs one small file per report and host: linear in hosts x reports.

A file that is not JSON, or a report of a schema this collection does not read, is skipped and named with the
reason (``skipped``); the comparison goes on with the others and the new report is written all the same.
Files are opened relative to one descriptor of the directory and never through a symbolic link.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import SUMMARY_SCHEMA, report_summary

REPORT_SCHEMA = 1
# The stamp is to the second (a given generated_at) or to the microsecond (the time of the write); sets of an
# audit that reached no host (audit-<stamp>-failed.*) are no audit and not compared with.
STAMPED = re.compile(r"\Aaudit-(?P<stamp>[0-9]{8}T[0-9]{6}(?:\.[0-9]{6})?Z)\.(?P<kind>summary\.json|json)\Z")


def _stamp_order(stamp):
    """Sort key of a stamp: its time, whether or not it has microseconds (plain text order puts "." before "Z")."""
    return stamp[:15], stamp[16:22] if stamp[15] == "." else "000000"


# Earlier reports compared by default: enough for a day of hourly audits and more.
DEFAULT_WINDOW = 30


class HistoryError(ValueError):
    """A named baseline that cannot be used at all (not found); the message says why."""


def summary_name(stamp):
    return "audit-%s.summary.json" % stamp


def _read_json(directory, name):
    """The parsed file, or raise ValueError with a reason a person can act on."""
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
    except OSError as error:
        raise ValueError("cannot be read: %s" % (error.strerror or error)) from None
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read()
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError("corrupt, not JSON (%s)" % error) from None


def usable_summary(data):
    """A summary as summary.py writes it, of a report this collection reads: its reason otherwise (a str)."""
    if not isinstance(data, dict) or data.get("summary_schema") != SUMMARY_SCHEMA:
        return "not a summary of this collection (summary_schema %r)" % (
            data.get("summary_schema") if isinstance(data, dict) else None,
        )
    if data.get("report_schema") != REPORT_SCHEMA:
        return "summarises a report of schema %r; this collection reads schema %d" % (
            data.get("report_schema"),
            REPORT_SCHEMA,
        )
    if not isinstance(data.get("hosts"), dict) or not isinstance(data.get("pairs"), dict):
        return "corrupt summary: hosts or pairs missing"
    if not isinstance(data.get("generated_at"), str):
        return "corrupt summary: generated_at missing"
    return None


def summarise_report(data, name):
    """(summary, None) of a whole report's parsed JSON, or (None, reason)."""
    if not isinstance(data, dict) or "schema" not in data:
        return None, "not a netdiag.tcp report (no schema field)"
    if data.get("schema") != REPORT_SCHEMA:
        return None, "report schema %r; this collection reads schema %d" % (data.get("schema"), REPORT_SCHEMA)
    if not isinstance(data.get("hosts"), dict) or not isinstance(data.get("generated_at"), str):
        return None, "corrupt report: hosts or generated_at missing"
    try:
        return report_summary(data, report_file=name), None
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        return None, "corrupt report: %s: %s" % (type(error).__name__, error)


def _load_set(directory, stamp, kinds):
    """(summary, backfill, problem): from the summary file when usable, else from the report JSON."""
    notes = []
    if "summary.json" in kinds:
        name = summary_name(stamp)
        try:
            data = _read_json(directory, name)
            problem = usable_summary(data)
        except ValueError as error:
            data, problem = None, str(error)
        if problem is None:
            return data, False, None
        # The report of another schema is skipped; a broken summary beside a good report is summarised again.
        other_schema = isinstance(data, dict) and data.get("report_schema") not in (None, REPORT_SCHEMA)
        if other_schema or "json" not in kinds:
            return None, False, "%s: %s" % (name, problem)
        notes.append("%s: %s" % (name, problem))
    name = "audit-%s.json" % stamp
    try:
        summary, problem = summarise_report(_read_json(directory, name), name)
    except ValueError as error:
        summary, problem = None, str(error)
    if summary is None:
        # The skipped entry names the report; its reason names the summary only when that was the problem too.
        return None, False, "; ".join([*notes, problem])
    return summary, True, None


def load_history(path, current_stamp=None, window=DEFAULT_WINDOW):
    """Earlier report sets of directory `path`, newest `window` of them, older than `current_stamp`.

    Returns {"summaries": [summary, oldest first], "skipped": [{"file", "reason"}],
    "backfill": [stamps summarised from their whole report, whose summary file is missing or broken]}.
    A missing directory has no history.
    """
    history = {"summaries": [], "skipped": [], "backfill": []}
    if window <= 0:
        return history
    try:
        directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return history
    except OSError as error:
        history["skipped"].append({"file": path, "reason": "cannot be read: %s" % (error.strerror or error)})
        return history
    try:
        kinds = {}
        for name in os.listdir(directory):
            match = STAMPED.match(name)
            if match and (current_stamp is None or _stamp_order(match.group("stamp")) < _stamp_order(current_stamp)):
                kinds.setdefault(match.group("stamp"), set()).add(match.group("kind"))
        for stamp in sorted(kinds, key=_stamp_order)[-window:]:
            summary, backfill, problem = _load_set(directory, stamp, kinds[stamp])
            if problem:
                history["skipped"].append({"file": os.path.join(path, "audit-%s.json" % stamp), "reason": problem})
                continue
            summary["report_file"] = os.path.join(path, "audit-%s.json" % stamp)
            history["summaries"].append(summary)
            if backfill:
                history["backfill"].append(stamp)
    finally:
        os.close(directory)
    history["summaries"].sort(key=lambda item: item["generated_at"])
    return history


def load_baseline(path):
    """The summary of the report (or summary file) at `path`, named by netdiag_baseline.

    Returns (summary, None) or (None, reason) for a report of another schema or a corrupt file; raises HistoryError
    when there is no such file at all (a typing mistake the user should see before anything is written).
    """
    if not os.path.isfile(path):
        raise HistoryError("netdiag_baseline: %s is not a file (give an audit-<stamp>.json report)" % path)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    name = os.path.basename(path)
    try:
        data = _read_json(directory, name)
    except ValueError as error:
        return None, str(error)
    finally:
        os.close(directory)
    if isinstance(data, dict) and "summary_schema" in data:
        problem = usable_summary(data)
        if problem:
            return None, problem
        summary = data
    else:
        summary, problem = summarise_report(data, path)
        if problem:
            return None, problem
    summary["report_file"] = os.path.abspath(path)
    return summary, None
