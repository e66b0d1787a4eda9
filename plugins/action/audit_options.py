# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the audit playbook's variables on the controller, before any managed host is contacted.

One clear failure naming every bad variable (rc != 0) instead of every host marked `failed` and a report that
looks like an outage. The checks are the pure functions of plugin_utils/audit_variables.py and report_files.py.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.plugin_utils import audit_variables, report_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import directory_problem

# option -> (variable it comes from, check); a check returns the typed value or raises AuditOptionError.
CHECKS = {
    "ports": ("netdiag_audit_ports", audit_variables.ports),
    "peers": ("netdiag_audit_peers", audit_variables.peers),
    "max_connections": (
        "netdiag_audit_max_connections",
        lambda value, name: audit_variables.count(value, name, minimum=0),
    ),
    "max_peers": ("netdiag_audit_max_peers", lambda value, name: audit_variables.count(value, name, minimum=0)),
    "host_timeout": ("netdiag_audit_host_timeout", lambda value, name: audit_variables.count(value, name, minimum=1)),
    "max_capture_bytes": (
        "netdiag_max_capture_bytes",
        lambda value, name: audit_variables.count(value, name, minimum=1),
    ),
    "become": ("netdiag_audit_become", audit_variables.boolean),
    "thresholds": ("netdiag_audit_thresholds", audit_variables.thresholds),
    "correlation": ("netdiag_audit_correlation", audit_variables.correlation),
    "report_keep": ("netdiag_report_keep", lambda value, name: audit_variables.count(value, name, minimum=0)),
    "report_history": ("netdiag_report_history", lambda value, name: audit_variables.count(value, name, minimum=0)),
    "trend": ("netdiag_audit_trend", report_history.trend_options),
    "facts_max_age": ("netdiag_facts_max_age", lambda value, name: audit_variables.count(value, name, minimum=0)),
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    _VALID_ARGS = frozenset(("target", "matched_hosts", "report_dir", "baseline", *CHECKS))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        arguments = self._task.args
        problems = []
        checked = {}
        for option, (variable, check) in CHECKS.items():
            if arguments.get(option) is None:
                continue
            try:
                checked[option] = check(arguments[option], name=variable)
            except audit_variables.AuditOptionError as error:
                problems.append(str(error))

        target = to_text(arguments.get("target") or "all")
        matched = arguments.get("matched_hosts")
        if matched is not None and not list(matched):
            problems.append(
                "netdiag_audit_target: %r matches no host in the inventory (check -i and the pattern)" % target
            )

        report_dir = os.path.abspath(os.path.expanduser(to_text(arguments.get("report_dir") or "reports")))
        problem = directory_problem(report_dir)
        if problem:
            problems.append("netdiag_report_dir: " + problem)

        if arguments.get("baseline"):
            problem = report_history.baseline_problem(to_text(arguments["baseline"]), report_dir)
            if problem:
                problems.append("netdiag_baseline: " + problem)

        if problems:
            raise AnsibleActionFail("The audit was not started and no host was contacted: %s" % "; ".join(problems))
        result.update(changed=False, report_dir=report_dir, target=target, **checked)
        if matched is not None:
            result["matched_hosts"] = sorted(matched)
        return result
