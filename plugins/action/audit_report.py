# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side writer of the audit report: JSON (schema 1), Markdown and HTML, plus audit-latest.* copies.

It reads what the audit left on each host (ansible_facts.netdiag and netdiag_audit_result) from hostvars, builds the
report with plugin_utils/report and writes it with plugin_utils/report_files (a private directory, files 0600,
audit-latest.* replaced together or not at all). A host whose facts cannot be reported (malformed, e.g. a peer
entry without its fields) gets that as its error; the others are reported as usual.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.plugin_utils import audit_variables, report_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, json_text, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import (
    build_report,
    collection_paused,
    status_counts,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.controls import visible
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.correlation import declared_addresses
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import (
    STATUSES,
    severity_counts,
    summary_lines,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.query import (
    QueryError,
    check_fail_on,
    compile_query,
    failing_findings,
    failing_hosts,
    run_query,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.run_settings import SETTINGS, collection_info
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import (
    FILE_MODE,
    ReportDirectoryError,
    ReportWriteError,
    write_report_set,
)

RENDERERS = {
    "json": json_text.render,
    "md": markdown.render,
    "html": html.render,
}


def plain(value):
    """Ansible 2.19 hands lazy/tagged containers to plugins: turn them into plain JSON data."""
    return json.loads(json.dumps(value, default=to_text))


def step_error(step, message):
    """'netstat_facts: <message>', naming the step once even when the module's message names it already."""
    text = to_text(message)
    return text if text.startswith(step + ": ") else "%s: %s" % (step, text)


def host_address(value):
    """ansible_host as the canonical text of an IP address (how peers are reported), or None for a DNS name."""
    try:
        address = ipaddress.ip_address(to_text(value).strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def file_mode(value):
    """An octal mode such as '0600' or 384; group/other write bits are refused (the reports map the network)."""
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise AnsibleActionFail("mode: %r is not an octal file mode such as 0600" % (value,)) from None
    if isinstance(value, bool) or not 0 <= mode <= 0o777 or mode & 0o022 or not mode & 0o600 == 0o600:
        raise AnsibleActionFail(
            "mode: %r must let you read and write the file and nobody else write it (e.g. 0600 or 0640)" % (value,)
        )
    return mode


# A host with a socket table read: an audit where no host has one saw nothing and fails (see write_report_set).
AUDITED_STATUSES = ("ok", "partial")
GENERATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
GENERATED_AT = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def checked_generated_at(value):
    """generated_at as given (UTC, YYYY-MM-DDTHH:MM:SSZ) or None when unset.

    It names the report files (audit-<stamp>.*) and orders them for keep, so any other form is refused before
    anything is written: a '/' would point into another directory, another format a name keep never matches.
    """
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else None
    try:
        if text is None or not GENERATED_AT.match(text):
            raise ValueError
        datetime.datetime.strptime(text, GENERATED_AT_FORMAT)
    except ValueError:
        raise AnsibleActionFail(
            "generated_at: %r is not a UTC time in the form YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-25T21:30:00Z)" % (value,)
        ) from None
    return text


def run_settings(value):
    """audit_report's settings: what the playbook ran with (ports, peers, caps), recorded in the report's ``run``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleActionFail("settings must be a mapping such as {ports: [5555], max_connections: 1000}")
    unknown = sorted(str(key) for key in value if key not in SETTINGS)
    if unknown:
        raise AnsibleActionFail("settings: unknown %s; choose from %s" % (", ".join(unknown), ", ".join(SETTINGS)))
    return value


def unreportable(name, gathered, generated_at, thresholds, correlation, run=None):
    """Why this host's facts break the report (a malformed entry), or None: built and rendered on its own."""
    try:
        report = build_report({name: gathered}, generated_at, thresholds, correlation, run)
        for render in RENDERERS.values():
            render(report)
    except KeyError as error:
        return "a field is missing: %s" % error
    except (TypeError, ValueError, AttributeError, IndexError) as error:
        return "%s: %s" % (type(error).__name__, error)
    return None


def host_entry(host, variables, now, max_age, gathering=None):
    """What build_report() takes for one host, from its variables (hostvars: cached or just gathered facts) or
    from what read_captures returned for it (now None: captured files have no age to check).

    With now and max_age, facts gathered longer than max_age seconds before now (or at an unknown time) are not
    used: the host is reported with that error and named in gathering["stale"]; a host without any gathered
    facts is named in gathering["missing"]."""
    facts_var = variables.get("ansible_facts") or {}
    if now is None and gathering is None:
        outcome, facts = variables, variables.get("facts") or {}
    else:
        # A fact cache holds netdiag_audit_result as a fact (set_fact cacheable); a run without one as a variable.
        outcome = plain(variables.get("netdiag_audit_result") or facts_var.get("netdiag_audit_result") or {})
        facts = plain(facts_var.get("netdiag") or {})
    hint = host_address(variables.get("ansible_host") or "")
    if not isinstance(outcome, dict):
        outcome = {"errors": ["netdiag_audit_result is not a mapping: %r" % (outcome,)]}
    errors = list(outcome.get("errors") or [])
    if not isinstance(facts, dict):
        errors.append("ansible_facts.netdiag is not a mapping; nothing from this host is reported")
        facts = {}
    if outcome.get("facts_gathered") is False:
        # The run that wrote this outcome read no facts (unreachable, or the module failed as a whole): whatever a
        # fact cache still holds under ansible_facts.netdiag is from an earlier run.
        facts = {}
    gathered_at = outcome.get("gathered_at")
    stale = gathering is not None and (outcome or facts) and too_old(gathered_at, now, max_age)
    if stale:
        errors = [stale]
        outcome, facts = {}, {}
        gathering["stale"][host] = gathered_at
    failures = sorted((outcome.get("failures") or {}).items())
    errors.extend(step_error(step, message) for step, message in failures if message)
    if not outcome and not facts and not stale:
        errors.append(
            "the host did not run the audit"
            if gathering is None
            else "the host did not run the audit: no gathered facts (gather it with netdiag.tcp.gather or "
            "netdiag.tcp.audit; a fact cache may also have expired them)"
        )
        if gathering is not None:
            gathering["missing"].append(host)
    aliases, bad = declared_addresses(variables.get("netdiag_addresses"))
    errors.extend("netdiag_addresses: %s is not an IP address (not used to pair connections)" % item for item in bad)
    entry = {
        "platform": outcome.get("platform"),
        "status": outcome.get("status"),
        "mode": outcome.get("mode"),
        "mode_reason": outcome.get("mode_reason"),
        "errors": errors,
        "facts": facts,
        "addresses": [hint] if hint else list(outcome.get("addresses") or []),
        "aliases": aliases,
    }
    if gathered_at and not stale:
        entry["gathered_at"] = gathered_at
    return entry


def too_old(gathered_at, now, max_age):
    """Why facts gathered at gathered_at (YYYY-MM-DDTHH:MM:SSZ) are too old for a report at now, or None."""
    if not now or not max_age:
        return None
    try:
        when = datetime.datetime.strptime(to_text(gathered_at), GENERATED_AT_FORMAT).replace(
            tzinfo=datetime.timezone.utc
        )
    except (TypeError, ValueError):
        return (
            "facts gathered at an unknown time (no netdiag_audit_result.gathered_at): not used with a maximum age "
            "of %d s; gather this host again (netdiag.tcp.gather)" % max_age
        )
    age = (now - when).total_seconds()
    if age <= max_age:
        return None
    return (
        "facts gathered at %s, %d s before this report, older than the maximum age of %d s: not used; gather "
        "this host again (netdiag.tcp.gather)" % (gathered_at, age, max_age)
    )


def reported(gathered, generated_at, limits, formats, gathering=None, before_render=None):
    """(report, {format: text}, what before_render(report) returned) of every host; limits: (thresholds,
    correlation, run). Built and rendered once; only when that fails is each host tried on its own, and the hosts
    whose facts break the report are reported with that error and without their facts (one build per host for
    every audit made a 10,000-host report twice as slow)."""
    thresholds, correlation, run = limits
    try:
        with collection_paused():  # the renderers too make many short-lived containers and no cycles
            report = build_report(gathered, generated_at, thresholds, correlation, run, gathering)
            prepared = before_render(report) if before_render else None
            return report, {name: RENDERERS[name](report) for name in formats}, prepared
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        pass
    for host, entry in gathered.items():
        problem = unreportable(host, entry, generated_at, thresholds, correlation, run)
        if problem:
            entry["errors"].append("malformed facts, not reported: %s" % problem)
            entry["facts"] = {}
    report = build_report(gathered, generated_at, thresholds, correlation, run, gathering)
    prepared = before_render(report) if before_render else None
    return report, {name: RENDERERS[name](report) for name in formats}, prepared


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    _VALID_ARGS = frozenset(
        (
            "hosts",
            "dest",
            "formats",
            "thresholds",
            "correlation",
            "generated_at",
            "keep",
            "mode",
            "query",
            "fail_on",
            "gathered",
            "settings",
            "history",
            "baseline",
            "trend",
            "prometheus",
            "max_age",
        )
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        arguments = self._task.args
        options = checked_options(arguments)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        generated_at = options["given_at"] or now.strftime(GENERATED_AT_FORMAT)
        dest = os.path.abspath(os.path.expanduser(arguments.get("dest") or "reports"))
        # Comparison with earlier reports (plugin_utils/report_history.py): read before anything is written.
        trend, earlier = earlier_reports(arguments, dest, generated_at)
        gathered, gathering = gathered_hosts(arguments, options, task_vars.get("hostvars", {}), now)
        report, texts, summary_text = reported(
            gathered,
            generated_at,
            (options["thresholds"], options["correlation"], options["run"]),
            options["formats"],
            gathering,
            # The comparison with earlier reports adds its sections and findings before the report is rendered.
            before_render=lambda report: report_history.compare(report, earlier, trend),
        )
        texts[report_history.SUMMARY_EXTENSION] = summary_text
        audited = [host for host, entry in report["hosts"].items() if entry["status"] in AUDITED_STATUSES]
        # audit-latest.prom is written with the set, under its lock: the audit-latest files are always one run's, and
        # a run that saw no host leaves them all as they were.
        latest_only = {}
        if arguments.get("prometheus", True):
            latest_only[report_history.PROMETHEUS_EXTENSION] = report_history.prometheus_text(report, trend)
        files, warnings = written_files(dest, options, texts, bool(audited), latest_only)
        problems = report_history.write_backfilled_summaries(dest, earlier, options["mode"])
        warnings.extend(report_history.skipped_warnings(report) + problems)
        if warnings:
            result["warnings"] = warnings
        if not audited:
            result.update(no_host_audited(report, files))
            return result
        query = options["query"]
        if query is not None:
            try:
                # The report as written (JSON types), so the query sees exactly what the file holds.
                result["query_result"] = run_query(json.loads(RENDERERS["json"](report)), to_text(query))
            except QueryError as error:
                raise AnsibleActionFail("%s (the report was written: %s)" % (error, ", ".join(files))) from None
        result["failing_findings"] = failing_findings(report["findings"], options["fail_on"])
        result["failing_hosts"] = failing_hosts(report["hosts"], options["fail_on"])
        counts = status_counts(report)
        result.update(
            changed=True,
            report_files=files,
            summary=summary_lines(report, files) + report_history.changes_lines(report),
            findings=report["findings"],
            changes=report["changes"],
            statuses={host: entry["status"] for host, entry in report["hosts"].items()},
            generated_at=generated_at,
            severity_counts=severity_counts(report),
            status_counts={status: counts.get(status, 0) for status in STATUSES},
            gathering=gathering,
        )
        return result


def checked_options(arguments):
    """The task's options, checked before anything is read or written; AnsibleActionFail names a bad one."""
    hosts = arguments.get("hosts")
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        raise AnsibleActionFail("hosts must be a list of inventory host names")
    formats = arguments.get("formats", ["json", "md", "html"])
    unknown = [name for name in formats if name not in RENDERERS]
    if unknown:
        raise AnsibleActionFail("formats: unknown %s; choose from %s" % (", ".join(unknown), ", ".join(RENDERERS)))
    try:
        options = {
            "hosts": hosts,
            "formats": formats,
            "thresholds": audit_variables.thresholds(plain(arguments.get("thresholds")), name="thresholds"),
            "keep": audit_variables.count(plain(arguments.get("keep") or 0), name="keep"),
            "correlation": audit_variables.correlation(plain(arguments.get("correlation")), name="correlation"),
            "max_age": audit_variables.count(plain(arguments.get("max_age") or 0), name="max_age"),
        }
    except audit_variables.AuditOptionError as error:
        raise AnsibleActionFail(str(error)) from None
    options["run"] = {"settings": run_settings(plain(arguments.get("settings"))), "collection": collection_info()}
    options["mode"] = file_mode(arguments.get("mode", "%04o" % FILE_MODE))
    options["query"] = arguments.get("query") or None
    try:
        if options["query"] is not None:
            compile_query(to_text(options["query"]))
        options["fail_on"] = check_fail_on(arguments.get("fail_on"))
    except (QueryError, ValueError) as error:
        raise AnsibleActionFail(str(error)) from None
    options["given_at"] = checked_generated_at(arguments.get("generated_at"))
    return options


def earlier_reports(arguments, dest, generated_at):
    """(trend limits, what report_history.read_earlier read): the earlier reports this one is compared with."""
    try:
        trend = report_history.trend_options(plain(arguments.get("trend")))
        window = audit_variables.count(plain(arguments.get("history", 30)), name="history")
        earlier = report_history.read_earlier(
            dest, generated_at.replace("-", "").replace(":", ""), window, arguments.get("baseline") or None
        )
    except (report_history.TrendOptionError, report_history.HistoryError, audit_variables.AuditOptionError) as error:
        raise AnsibleActionFail(str(error)) from None
    return trend, earlier


def gathered_hosts(arguments, options, hostvars, now):
    """({host: build_report's entry}, the gathering record) from what read_captures returned (the task's gathered:
    playbooks/analyze.yml) or else from the hosts' (cached) variables, facts older than max_age left out."""
    captured = arguments.get("gathered")
    if captured is not None and not isinstance(captured, dict):
        raise AnsibleActionFail("gathered must be a dict of host name -> gathered data (read_captures' hosts)")
    max_age = options["max_age"]
    gathered = {}
    gathering = {"max_age": max_age, "stale": {}, "missing": []}
    for host in options["hosts"]:
        if captured is not None:
            gathered[host] = host_entry(host, plain(captured.get(host) or {}), None, None)
        else:
            gathered[host] = host_entry(host, hostvars.get(host, {}), now if max_age else None, max_age, gathering)
    return gathered, gathering


def written_files(dest, options, texts, audited, latest_only=None):
    """(paths written, warnings) of the report set; AnsibleActionFail says what was and was not replaced."""
    # A given generated_at names the files; else the writer stamps them with the time of the write (with
    # microseconds, under the directory's lock), so two audits at once never share a name.
    given_at = options["given_at"]
    stamp = given_at.replace("-", "").replace(":", "") if given_at else None
    warnings = []
    try:
        files = write_report_set(
            dest,
            stamp,
            texts,
            mode=options["mode"],
            keep=options["keep"],
            warnings=warnings,
            audited=audited,
            latest_only=latest_only,
        )
    except ReportDirectoryError as error:
        raise AnsibleActionFail("cannot write the report: %s" % error) from None
    except ReportWriteError as error:
        # Some files were renamed into place: the message names them, "left as it was" would not be true.
        raise AnsibleActionFail("cannot write the report under %s: %s" % (dest, error.strerror)) from error
    except OSError as error:
        raise AnsibleActionFail(
            "cannot write the report under %s: %s; audit-latest.* was left as it was" % (dest, error)
        ) from error
    return files, warnings


def no_host_audited(report, files):
    """The failed result of a run that saw no host: whatever fail_on says, it must not pass for a clean audit
    (cron, CI), and its report did not replace audit-latest.*, which still holds the last audit that saw a host."""
    return {
        "failed": True,
        "changed": True,
        "report_files": files,
        "summary": summary_lines(report, files),
        "statuses": {host: entry["status"] for host, entry in report["hosts"].items()},
        "msg": visible(
            "no host was audited (%s); this run's report: %s; audit-latest.* was not replaced"
            % (
                "; ".join(
                    "%s %s: %s" % (host, entry["status"], " / ".join(entry["errors"]) or "no detail")
                    for host, entry in sorted(report["hosts"].items())
                )
                or "no host was targeted",
                ", ".join(files),
            )
        ),
    }
