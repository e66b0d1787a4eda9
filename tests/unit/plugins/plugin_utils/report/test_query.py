# SPDX-License-Identifier: GPL-3.0-or-later
"""netdiag_query (JMESPath over the report), the netdiag.tcp.query filter, and netdiag_fail_on."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdiag.tcp.plugins.filter.query import query
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.query import (
    QueryError,
    check_fail_on,
    compile_query,
    failing_findings,
    failing_hosts,
    run_query,
)

REPORT = {
    "findings": [
        {"id": "half-open-sockets", "severity": "warning", "host": "app", "evidence": {"count": 30}},
        {"id": "conntrack-near-full", "severity": "critical", "host": "nat", "evidence": {}},
        {"id": "no-keepalive", "severity": "info", "host": "app", "evidence": {}},
    ]
}


def test_query_selects_from_the_report():
    assert run_query(REPORT, "findings[?severity=='warning'].[host,id]") == [["app", "half-open-sockets"]]
    assert query(REPORT, "findings[?id=='half-open-sockets'].evidence.count | [0]") == 30
    assert query(REPORT, "missing") is None


@pytest.mark.parametrize("expression", ["findings[?severity=='warning'", "findings[", "", None, 5])
def test_bad_expressions_are_named(expression):
    with pytest.raises(QueryError, match="netdiag_query: "):
        compile_query(expression)
    with pytest.raises(AnsibleFilterError, match="netdiag.tcp.query: netdiag_query: "):
        query(None, expression)


def test_null_input_only_checks_the_expression():
    assert query(None, "length(findings)") is None
    with pytest.raises(QueryError, match="failed on the report"):
        run_query({"findings": None}, "length(findings)")


@pytest.mark.parametrize(
    ("fail_on", "ids"),
    [
        ("never", []),
        (None, []),
        ("warning", ["half-open-sockets", "conntrack-near-full"]),
        ("critical", ["conntrack-near-full"]),
    ],
)
def test_fail_on_levels(fail_on, ids):
    assert [item["id"] for item in failing_findings(REPORT["findings"], fail_on)] == ids


@pytest.mark.parametrize("value", ["info", "WARNING", "always", True])
def test_bad_fail_on_is_named(value):
    with pytest.raises(ValueError, match="netdiag_fail_on: .* is not one of never, warning, critical"):
        check_fail_on(value)


HOSTS = {
    "web": {"status": "ok"},
    "app": {"status": "failed"},
    "nat": {"status": "unreachable"},
    "db": {"status": "partial"},
}


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        ("never", {}),
        (None, {}),
        ("warning", {"app": "failed", "nat": "unreachable"}),
        ("critical", {"app": "failed", "nat": "unreachable"}),
    ],
)
def test_hosts_not_audited_fail_the_gate(fail_on, expected):
    # A failed or unreachable host raises no finding: without this, every host failing would pass the gate.
    assert failing_hosts(HOSTS, fail_on) == expected


def test_partial_and_ok_hosts_do_not_fail_the_gate():
    assert failing_hosts({"web": {"status": "ok"}, "db": {"status": "partial"}}, "warning") == {}
