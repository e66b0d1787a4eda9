# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet's report stays usable and drops nothing (document.py's limits): past them the HTML collapses parts
under titles that count them, draws the worst pairs only, and every host, pair and finding is still there; the
Markdown writes everything out."""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import document, html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report

from .test_matching import host, netstat


def fleet(webs):
    """webs web hosts, each with 12 connections to its own app host, which holds 12 + index more (half-open)."""
    fleet = {}
    for index in range(webs):
        web, app = "198.51.100.%d" % (index + 1), "203.0.113.%d" % (index + 1)
        rows = [(web, 40000 + port, app, 5555, 900, "0") for port in range(12)]
        server = [(app, 5555, web, 40000 + port, 4242, "0") for port in range(12 + 6 + index % 7)]
        fleet["web%03d" % index] = host({"netstat": netstat(rows, direction="outbound")})
        fleet["app%03d" % index] = host({"netstat": netstat(server, listen=5555)})
    return fleet


def test_past_the_limits_parts_are_collapsed_and_nothing_is_dropped():
    report = build_report(fleet(60), "2026-12-04T00:00:00Z")
    assert len(report["hosts"]) == 120 and len(report["pairs"]) == 60
    half_open = [item for item in report["findings"] if item["id"] == "half-open-sockets"]
    assert len(half_open) == 60
    page = html.render(report)
    # The worst pairs are drawn (most half-open first), and a line says how many of how many.
    assert page.count('<svg class="pair-chart"') == document.PAIR_PICTURES
    assert "Pictures of the 50 pairs with the most half-open sockets and the largest gaps, of 60 pairs." in page
    drawn = re.findall(r'<svg class="pair-chart"[^>]*aria-label="([^"]*)"', page)
    assert all("half-open: 0 on the client, 12 on the server" in label for label in drawn[:8])
    # Every pair is in the table; findings of one kind past the first 20 follow in one collapsed table.
    for pair in report["pairs"]:
        assert "<td>%s</td><td>%s</td><td>5555</td>" % (pair["client"], pair["server"]) in page
    assert "<details><summary><h4>40 more half-open-sockets findings</h4></summary>" in page
    for item in half_open:
        assert html.escape(item["summary"]) in page
    # Each host's tables are collapsed under its name, in parts of 100 hosts past 100.
    assert "<details><summary><h2>Hosts app000 to web039 (100)</h2></summary>" in page
    assert "<details><summary><h2>Hosts web040 to web059 (20)</h2></summary>" in page
    for name in report["hosts"]:
        assert "<h2>%s (ok)</h2>" % name in page
    assert (
        page.index('<section id="summary"')
        < page.index("<svg")
        < page.index("<h2>Findings")
        < page.index("<h2>Hosts app000 to")
    )
    text = markdown.render(report)
    assert "#### 40 more half-open\\-sockets findings" in text or "#### 40 more half-open-sockets findings" in text
    for name in report["hosts"]:
        assert "## %s (ok)" % name in text


def test_a_small_report_draws_every_pair_and_collapses_only_each_host():
    report = build_report(fleet(3), "2026-12-04T00:00:00Z")
    page = html.render(report)
    assert page.count('<svg class="pair-chart"') == 3 and "Pictures of the" not in page
    assert page.count("<details>") == 6  # one per host
    assert "more half-open" not in page
