# SPDX-License-Identifier: GPL-3.0-or-later
"""Findings at their exact documented limits (docs/report.md), and what the human reports show of them."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report


def netstat(established=0, close_wait=0, without_keepalive=0, connections=(), listeners=()):
    return {
        "state_counts": {"ESTABLISHED": established, "CLOSE_WAIT": close_wait},
        "established_by_peer": [],
        "listeners": list(listeners),
        "connections": list(connections),
        "established_without_keepalive": without_keepalive,
    }


def entry(facts):
    return {"status": "reached", "errors": [], "facts": facts}


def findings_of(facts, finding_id, thresholds=None):
    report = build_report({"h1": entry(facts)}, "2026-11-26T00:00:00Z", thresholds)
    return [item for item in report["findings"] if item["id"] == finding_id]


@pytest.mark.parametrize(("count", "found"), [(19, False), (20, True), (21, True)])
def test_close_wait_from_exactly_20(count, found):
    assert bool(findings_of({"netstat": netstat(close_wait=count)}, "close-wait-buildup")) is found


@pytest.mark.parametrize(("count", "found"), [(4, False), (5, True)])
def test_close_wait_at_a_given_limit(count, found):
    facts = {"netstat": netstat(close_wait=count)}
    assert bool(findings_of(facts, "close-wait-buildup", {"close_wait": 5})) is found


@pytest.mark.parametrize(("count", "found"), [(19, False), (20, True)])
def test_no_keepalive_from_exactly_20(count, found):
    facts = {"netstat": netstat(established=count, without_keepalive=count)}
    assert bool(findings_of(facts, "no-keepalive")) is found


def keepalive_hosts(keepalive_time, nat_timeout):
    client = {
        "netstat": netstat(
            established=3, listeners=[{"protocol": "tcp", "local_address": "198.51.100.11", "local_port": 22}]
        ),
        "keepalive": {"time": keepalive_time, "intvl": 75, "probes": 9, "source": "sysctl"},
    }
    nat = {
        "netstat": netstat(),
        "conntrack": {
            "available": True,
            "count": 3,
            "timeouts": {"tcp_timeout_established": nat_timeout},
            "top_sources": [{"address": "198.51.100.11", "count": 3}],
        },
    }
    return {"client": entry(client), "nat": entry(nat)}


@pytest.mark.parametrize(("keepalive_time", "found"), [(1199, False), (1200, True), (1201, True)])
def test_keepalive_equal_to_the_nat_timeout_is_too_late(keepalive_time, found):
    # The entry is gone when the timeout has passed; a first probe at exactly that moment comes too late.
    report = build_report(keepalive_hosts(keepalive_time, 1200), "2026-11-26T00:00:00Z")
    hosts = [item["host"] for item in report["findings"] if item["id"] == "keepalive-after-nat-timeout"]
    assert hosts == (["client"] if found else [])


def test_close_wait_summary_names_the_owners_to_fix():
    connections = [{"state": "CLOSE_WAIT", "pid": 4242, "process": "xxxx_srv"}] * 18 + [{"state": "CLOSE_WAIT"}] * 2
    found = findings_of({"netstat": netstat(close_wait=25, connections=connections)}, "close-wait-buildup")
    assert found[0]["summary"] == (
        "25 TCP sockets in CLOSE_WAIT: the peers closed, the local application has not; "
        "held by xxxx_srv (pid 4242): 18, unknown: 2 (of the 20 listed)"
    )
    report = build_report({"h1": entry({"netstat": netstat(close_wait=25, connections=connections)})}, "now")
    assert "held by xxxx_srv (pid 4242): 18, unknown: 2 (of the 20 listed)" in markdown.render(report)
    assert "held by xxxx_srv (pid 4242): 18, unknown: 2 (of the 20 listed)" in html.render(report)


def test_close_wait_summary_without_listed_sockets():
    found = findings_of({"netstat": netstat(close_wait=20)}, "close-wait-buildup")
    assert found[0]["summary"].endswith("; no CLOSE_WAIT socket is listed (max_connections), so the owners are unknown")


def test_markdown_shows_what_hosts_send_as_text():
    listeners = [
        {"protocol": "tcp", "local_address": "*", "local_port": 80, "pid": 7, "process": "<img src=//e.v>"},
        {"protocol": "tcp", "local_address": "*", "local_port": 81, "pid": 8, "process": "a|b *x* [l](//e.v) `c`"},
        {"protocol": "tcp", "local_address": "*", "local_port": 82, "pid": 9, "process": "two\nlines # h"},
    ]
    facts = {"netstat": netstat(listeners=listeners)}
    text = markdown.render(build_report({"h_1": entry(facts)}, "2026-11-26T00:00:00Z"))
    assert "<img" not in text.replace("\\<img", "")
    assert "| tcp | \\* | 80 | \\<img src=//e.v\\> (7) |" in text
    assert "| tcp | \\* | 81 | a\\|b \\*x\\* \\[l\\](//e.v) \\`c\\` (8) |" in text
    assert "| tcp | \\* | 82 | two lines # h (9) |" in text
    assert "## h_1 (ok)" in text  # an underscore inside a word starts no emphasis and stays as it is


def test_markdown_finding_id_in_a_code_span_it_cannot_close():
    assert markdown._code("a`b") == "``a`b``"
    assert markdown._code("`x") == "`` `x ``"
