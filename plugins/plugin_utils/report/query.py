# SPDX-License-Identifier: GPL-3.0-or-later
"""JMESPath queries over the audit report (``netdiag_query``, the ``netdiag.tcp.query`` filter) and the audit's exit
status (``netdiag_fail_on``). Controller only; the ``jmespath`` package is pinned in requirements/runtime.txt."""

from __future__ import annotations

FAIL_ON = ("never", "warning", "critical")
# The severities that make the audit fail for each netdiag_fail_on value.
FAILING_SEVERITIES = {"never": (), "warning": ("warning", "critical"), "critical": ("critical",)}
# Host statuses that fail the audit under warning and critical: such a host was not audited (no socket table), so it
# raises no finding, and a gate that passed on it would pass on an audit that saw nothing. `partial` (the socket
# table was read, another step failed) does not fail the gate: its findings speak for it.
FAILING_STATUSES = ("failed", "unreachable")


class QueryError(ValueError):
    """A query that cannot be compiled or run; the message names the expression."""


def _jmespath():
    try:
        import jmespath
    except ImportError as error:
        raise QueryError(
            "netdiag_query needs the Python package jmespath on the controller (pip install -r "
            "requirements/runtime.txt)"
        ) from error
    return jmespath


def compile_query(expression):
    """The compiled JMESPath expression; QueryError naming it when it is not one."""
    if not isinstance(expression, str) or not expression.strip():
        raise QueryError("netdiag_query: expected a JMESPath expression (text), got %r" % (expression,))
    jmespath = _jmespath()
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as error:
        detail = " ".join(str(error).split())
        raise QueryError("netdiag_query: %r is not a valid JMESPath expression: %s" % (expression, detail)) from None


def run_query(data, expression):
    """The expression's result on the data (the report, or any part of it)."""
    compiled = compile_query(expression)
    jmespath = _jmespath()
    try:
        return compiled.search(data)
    except jmespath.exceptions.JMESPathError as error:
        detail = " ".join(str(error).split())
        raise QueryError("netdiag_query: %r failed on the report: %s" % (expression, detail)) from None


def check_fail_on(value):
    """The validated netdiag_fail_on value (default never); ValueError naming the value otherwise."""
    if value is None or value == "":
        return "never"
    if value not in FAIL_ON:
        raise ValueError("netdiag_fail_on: %r is not one of %s" % (value, ", ".join(FAIL_ON)))
    return value


def failing_findings(findings, fail_on):
    """The findings that make the audit fail under netdiag_fail_on."""
    severities = FAILING_SEVERITIES[check_fail_on(fail_on)]
    return [item for item in findings if item.get("severity") in severities]


def failing_hosts(hosts, fail_on):
    """{host: status} of the hosts that make the audit fail under netdiag_fail_on: with warning or critical, every
    host that was not audited (status failed or unreachable). Empty with never."""
    if check_fail_on(fail_on) == "never":
        return {}
    return {
        name: entry.get("status") for name, entry in sorted(hosts.items()) if entry.get("status") in FAILING_STATUSES
    }
