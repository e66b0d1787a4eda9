# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side writer of the audit report: JSON (schema 1), Markdown and HTML, plus audit-latest.* copies.

It reads what the audit left on each host (ansible_facts.netdiag and netdiag_audit_result) from hostvars, builds the
report with plugin_utils/report, writes each file atomically (temporary file + rename in the same directory, so a
reader of audit-latest.json never sees half a file) and returns the summary the playbook prints.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import DEFAULT_CORRELATION, build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.correlation import declared_addresses
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import summary_lines
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import DEFAULT_THRESHOLDS
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.query import (
    QueryError,
    check_fail_on,
    compile_query,
    failing_findings,
    run_query,
)

RENDERERS = {
    "json": lambda report: json.dumps(report, indent=2, sort_keys=True) + "\n",
    "md": markdown.render,
    "html": html.render,
}


def write_atomically(path, text):
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def plain(value):
    """Ansible 2.19 hands lazy/tagged containers to plugins: turn them into plain JSON data."""
    return json.loads(json.dumps(value, default=to_text))


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    _VALID_ARGS = frozenset(
        ("hosts", "dest", "formats", "thresholds", "correlation", "generated_at", "query", "fail_on")
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        arguments = self._task.args
        hosts = arguments.get("hosts")
        if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
            raise AnsibleActionFail("hosts must be a list of inventory host names")
        formats = arguments.get("formats", ["json", "md", "html"])
        unknown = [name for name in formats if name not in RENDERERS]
        if unknown:
            raise AnsibleActionFail("formats: unknown %s; choose from %s" % (", ".join(unknown), ", ".join(RENDERERS)))
        thresholds = plain(arguments.get("thresholds") or {})
        bad = sorted(set(thresholds) - set(DEFAULT_THRESHOLDS))
        if bad:
            raise AnsibleActionFail(
                "thresholds: unknown %s; known: %s" % (", ".join(bad), ", ".join(sorted(DEFAULT_THRESHOLDS)))
            )
        for name, value in thresholds.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AnsibleActionFail("thresholds.%s must be a number >= 0, got %r" % (name, value))
        correlation = plain(arguments.get("correlation") or {})
        bad = sorted(set(correlation) - set(DEFAULT_CORRELATION))
        if bad:
            raise AnsibleActionFail(
                "correlation: unknown %s; known: %s" % (", ".join(bad), ", ".join(sorted(DEFAULT_CORRELATION)))
            )
        for name, value in correlation.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AnsibleActionFail("correlation.%s must be a number >= 0, got %r" % (name, value))
        query = arguments.get("query") or None
        try:
            if query is not None:
                compile_query(to_text(query))
            fail_on = check_fail_on(arguments.get("fail_on"))
        except (QueryError, ValueError) as error:
            raise AnsibleActionFail(str(error)) from None
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        generated_at = arguments.get("generated_at") or now.strftime("%Y-%m-%dT%H:%M:%SZ")
        dest = os.path.abspath(os.path.expanduser(arguments.get("dest") or "reports"))

        hostvars = task_vars.get("hostvars", {})
        gathered = {}
        for host in hosts:
            variables = hostvars.get(host, {})
            outcome = plain(variables.get("netdiag_audit_result") or {})
            facts = plain((variables.get("ansible_facts") or {}).get("netdiag") or {})
            hint = variables.get("ansible_host")
            errors = list(outcome.get("errors") or [])
            failures = sorted((outcome.get("failures") or {}).items())
            errors.extend("%s: %s" % (step, message) for step, message in failures if message)
            if not outcome and not facts:
                errors.append("the host did not run the audit")
            aliases, bad = declared_addresses(variables.get("netdiag_addresses"))
            errors.extend(
                "netdiag_addresses: %s is not an IP address (not used to pair connections)" % item for item in bad
            )
            gathered[host] = {
                "status": outcome.get("status"),
                "errors": errors,
                "facts": facts,
                "addresses": [to_text(hint)] if hint else [],
                "aliases": aliases,
            }
        report = build_report(gathered, generated_at, thresholds, correlation)

        stamp = generated_at.replace("-", "").replace(":", "")
        try:
            os.makedirs(dest, exist_ok=True)
            files = []
            for name in formats:
                text = RENDERERS[name](report)
                path = os.path.join(dest, "audit-%s.%s" % (stamp, name))
                write_atomically(path, text)
                write_atomically(os.path.join(dest, "audit-latest.%s" % name), text)
                files.append(path)
        except OSError as error:
            raise AnsibleActionFail("cannot write the report under %s: %s" % (dest, error)) from error

        if query is not None:
            try:
                # The report as written (JSON types), so the query sees exactly what the file holds.
                result["query_result"] = run_query(json.loads(RENDERERS["json"](report)), to_text(query))
            except QueryError as error:
                raise AnsibleActionFail("%s (the report was written: %s)" % (error, ", ".join(files))) from None
        result["failing_findings"] = failing_findings(report["findings"], fail_on)
        result.update(
            changed=True,
            report_files=files,
            summary=summary_lines(report, files),
            findings=report["findings"],
            statuses={host: entry["status"] for host, entry in report["hosts"].items()},
        )
        return result
