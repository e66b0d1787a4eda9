# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the report's blocks (document.py) as one self-contained HTML page (no scripts, no external assets)."""

from __future__ import annotations

from html import escape

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import report_blocks

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
.critical { color: #a00; font-weight: bold; } .warning { color: #a60; font-weight: bold; } .info { color: #06a; }
.recommendation { margin: 0.2em 0 0.8em 1.5em; }
"""


def _text(value):
    return escape("-" if value is None or value == "" else str(value))


def render_block(block):
    kind = block[0]
    if kind == "heading":
        return "<h%d>%s</h%d>" % (block[1], _text(block[2]), block[1])
    if kind == "paragraph":
        return "<p>%s</p>" % _text(block[1])
    if kind == "list":
        return "<ul>%s</ul>" % "".join("<li>%s</li>" % _text(item) for item in block[1])
    if kind == "table":
        head = "".join("<th>%s</th>" % _text(cell) for cell in block[1])
        body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _text(cell) for cell in row) for row in block[2])
        return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)
    if kind == "finding":
        item = block[1]
        return '<p><span class="%s">%s</span> <code>%s</code> on %s: %s</p><p class="recommendation">%s</p>' % (
            escape(item["severity"]),
            _text(item["severity"]),
            _text(item["id"]),
            _text(item["host"]),
            _text(item["summary"]),
            _text(item["recommendation"]),
        )
    raise ValueError("unknown report block %r" % (kind,))


def render(report):
    body = "\n".join(render_block(block) for block in report_blocks(report))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>netdiag.tcp audit %s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
        % (escape(report["generated_at"]), STYLE, body)
    )
