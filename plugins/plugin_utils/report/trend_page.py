# SPDX-License-Identifier: GPL-3.0-or-later
"""The trend page and CSV of a report directory (playbooks/trend.yml): the same series pictures as the reports
draw, from the kept reports' summaries, without auditing again. Pure functions.
"""

from __future__ import annotations

import csv
import io
from html import escape

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import SEVERITY_ORDER
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend import series, trend_findings
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_document import charts, over_time_left_out

CSV_COLUMNS = (
    "generated_at",
    "kind",
    "name",
    "host",
    "status",
    "client",
    "server",
    "service_port",
    "client_established",
    "server_established",
    "matched",
    "half_open",
    "established",
    "close_wait",
    "conntrack_entries",
    "conntrack_max",
    "conntrack_fill_pct",
    "conntrack_tcp_timeout_established",
)
# A spreadsheet runs a cell starting with one of these as a formula; host and process names come from hosts.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def page_blocks(summaries, skipped, report_dir, limits=None):
    """Blocks of the trend page: the span, skipped reports, the findings over the history and the pictures."""
    blocks = [("heading", 1, "netdiag.tcp trend of %s" % report_dir)]
    if not summaries:
        blocks.append(("paragraph", "No usable report in %s." % report_dir))
    else:
        blocks.append(
            (
                "paragraph",
                "%d reports from %s to %s."
                % (len(summaries), summaries[0]["generated_at"], summaries[-1]["generated_at"]),
            )
        )
    if skipped:
        blocks.append(("heading", 2, "Reports skipped"))
        blocks.append(("list", ["%s: %s" % (item["file"], item["reason"]) for item in skipped]))
    if summaries:
        found = sorted(
            trend_findings(summaries, limits), key=lambda item: (SEVERITY_ORDER[item["severity"]], item["host"])
        )
        blocks.append(("heading", 2, "Trends at the last report"))
        if not found:
            blocks.append(("paragraph", "Nothing grows across the kept reports."))
        for item in found:
            blocks.append(("finding", item))
        pictures, left_out = charts(series(summaries))
        blocks.append(("heading", 2, "Over time"))
        blocks.extend(("series", chart) for chart in pictures)
        if left_out:
            blocks.append(("paragraph", over_time_left_out(left_out)))
    return blocks


def render_html(blocks, title):
    body = "\n".join(html.render_block(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
        % (escape(title), html.STYLE, body)
    )


def _cell(value):
    if value is None:
        return ""
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def csv_rows(summaries):
    """One row per report and host, and per report and pair (CSV_COLUMNS)."""
    for summary in summaries:
        at = summary["generated_at"]
        for name, host in summary["hosts"].items():
            conntrack = host.get("conntrack") or {}
            yield {
                "generated_at": at,
                "kind": "host",
                "name": name,
                "host": name,
                "status": host.get("status"),
                "half_open": host.get("half_open"),
                "established": host.get("established"),
                "close_wait": host.get("close_wait"),
                "conntrack_entries": conntrack.get("count"),
                "conntrack_max": conntrack.get("max"),
                "conntrack_fill_pct": conntrack.get("usage_pct"),
                "conntrack_tcp_timeout_established": conntrack.get("tcp_timeout_established"),
            }
        for key, pair in summary["pairs"].items():
            yield {
                "generated_at": at,
                "kind": "pair",
                "name": key,
                "client": pair.get("client"),
                "server": pair.get("server"),
                "service_port": pair.get("service_port"),
                "client_established": pair.get("client_count"),
                "server_established": pair.get("server_count"),
                "matched": pair.get("matched"),
                "half_open": pair.get("half_open"),
            }


def render_csv(summaries):
    stream = io.StringIO()
    writer = csv.DictWriter(stream, CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(summaries):
        writer.writerow({column: _cell(row.get(column)) for column in CSV_COLUMNS})
    return stream.getvalue()
