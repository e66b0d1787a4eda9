# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the report's blocks (document.py) as Markdown. Pure functions.

Everything in a block may come from a host (process names, user names, error text), so every piece of text is
escaped: a process named `<img src=//e.v>` must show as that text, not as an image a viewer loads. CommonMark lets
a backslash escape any ASCII punctuation; these are the characters that start markup anywhere in a line (raw HTML,
links, emphasis, code, table cells, entities). An underscore between letters or digits cannot start emphasis, so
CLOSE_WAIT stays readable. Line breaks become spaces: a new line could start a heading, a list or an HTML block.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.controls import visible
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import pair_text, report_blocks
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.evidence import evidence_items, socket_text
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_html import series_rows

MARKUP = re.compile(r"[\\`*\[\]<>|~&!{}]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def escape(value):
    """Text shown as itself in Markdown: markup characters backslash-escaped, on one line."""
    return MARKUP.sub(lambda match: "\\" + match.group(0), LINE_BREAKS.sub(" ", str(value)))


def _cell(value):
    return "-" if value is None or value == "" else escape(value)


def _code(value):
    """A code span that no backtick inside the value can close early."""
    text = LINE_BREAKS.sub(" ", str(value))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return "%s%s%s%s%s" % (fence, padding, text, padding, fence)


def render_block(block):
    kind = block[0]
    if kind == "heading":
        return ["#" * block[1] + " " + escape(block[2]), ""]
    if kind == "paragraph":
        return [escape(block[1]), ""]
    if kind == "list":
        return ["- " + _cell(item) for item in block[1]] + [""]
    if kind == "table":
        header, rows = block[1], block[2]
        lines = ["| " + " | ".join(_cell(cell) for cell in header) + " |", "|" + "---|" * len(header)]
        lines.extend("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows)
        return [*lines, ""]
    if kind == "finding":
        item = block[1]
        return [
            "- **%s** %s on %s: %s"
            % (escape(item["severity"]), _code(item["id"]), escape(item["host"]), escape(item["summary"])),
            "  - Recommendation: %s" % escape(item["recommendation"]),
            "",
        ]
    if kind == "summary":
        findings, statuses = block[1], block[2]
        return [
            "- Findings: " + ", ".join("%s %s" % (count, escape(severity)) for severity, count in findings.items()),
            "- Hosts: " + ", ".join("%s %s" % (count, escape(status)) for status, count in statuses.items()),
            "",
        ]
    if kind == "pair":
        return ["- " + _cell(pair_text(block[1])), ""]
    if kind == "series":  # a time series as a table (trend_html.py draws it in HTML)
        return [escape(block[1]["title"]), "", *render_block(("table", *series_rows(block[1])))]
    if kind == "details":  # everything written out, under a heading
        lines = ["#" * block[1] + " " + escape(block[2]), ""]
        for inner in block[3]:
            lines.extend(render_block(inner))
        return lines
    if kind == "evidence":
        return [*evidence_lines(block[1], block[2] if len(block) > 2 else None), ""]
    raise ValueError("unknown report block %r" % (kind,))


# Sockets of a sample listed in the Markdown; the JSON has the whole sample.
SAMPLE_SHOWN = 5


def evidence_lines(evidence, finding_id=None):
    """A finding's evidence as labelled list items (evidence.py), its sample as a short list."""
    lines = []
    for item in evidence_items(evidence, finding_id):
        if item[0] == "sample":
            lines.extend(_sample_lines(*item[1:]))
            continue
        _kind, label, texts = item
        if len(texts) == 1:
            lines.append("  - %s: %s" % (escape(label), _cell(texts[0])))
        else:
            lines.append("  - %s:" % escape(label))
            lines.extend("    - %s" % _cell(text) for text in texts)
    return lines


def _sample_lines(label, header, rows, total):
    shown = rows[:SAMPLE_SHOWN]
    lines = ["  - %s (%d of %d):" % (escape(label), len(shown), total)]
    lines.extend("    - %s" % _cell(socket_text(header, row)) for row in shown)
    more = len(rows) - len(shown)
    if more > 0 or total > len(rows):
        text = "%d more in the JSON" % more if more > 0 else "none more in the JSON"
        if total > len(rows):
            text += " (its sample holds %d of the %d)" % (len(rows), total)
        lines.append("    - %s" % escape(text))
    return lines


def render(report):
    lines = []
    for block in report_blocks(report):
        lines.extend(render_block(block))
    # Last, over the whole page: no control character reaches a terminal that shows it, whatever block it is in.
    return visible("\n".join(lines).rstrip("\n") + "\n")
