# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the report's blocks (document.py) as Markdown. Pure functions."""

from __future__ import annotations

import json

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import pair_text, report_blocks


def _cell(value):
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_block(block):
    kind = block[0]
    if kind == "heading":
        return ["#" * block[1] + " " + block[2], ""]
    if kind == "paragraph":
        return [block[1], ""]
    if kind == "list":
        return ["- " + _cell(item) for item in block[1]] + [""]
    if kind == "table":
        header, rows = block[1], block[2]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines.extend("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows)
        return [*lines, ""]
    if kind == "finding":
        item = block[1]
        return [
            "- **%s** `%s` on %s: %s" % (item["severity"], item["id"], item["host"], item["summary"]),
            "  - Recommendation: %s" % item["recommendation"],
            "",
        ]
    if kind == "summary":
        findings, statuses = block[1], block[2]
        return [
            "- Findings: " + ", ".join("%s %s" % (count, severity) for severity, count in findings.items()),
            "- Hosts: " + ", ".join("%s %s" % (count, status) for status, count in statuses.items()),
            "",
        ]
    if kind == "pair":
        return ["- " + _cell(pair_text(block[1])), ""]
    if kind == "evidence":
        lines = ["  - %s: %s" % (_cell(key), _cell(_compact(value))) for key, value in sorted(block[1].items())]
        return [*lines, ""]
    raise ValueError("unknown report block %r" % (kind,))


def _compact(value):
    """Evidence values on one line: JSON for lists and dictionaries."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def render(report):
    lines = []
    for block in report_blocks(report):
        lines.extend(render_block(block))
    return "\n".join(lines).rstrip("\n") + "\n"
