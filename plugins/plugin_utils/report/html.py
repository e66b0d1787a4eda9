# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the report's blocks (document.py) as one self-contained HTML page (no scripts, no external assets).

Layout: a summary first (findings by severity, hosts by status), then per pair of ends an inline SVG picture of the
client's count against the server's (matched and half-open parts when matched per connection), the findings by
severity with their evidence, and the per-host tables. Everything that comes from a host is escaped.
"""

from __future__ import annotations

from html import escape

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.controls import visible
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import pair_text, report_blocks
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.evidence import evidence_items
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_html import series_svg
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import UNKNOWN

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
.critical { color: #a00; font-weight: bold; } .warning { color: #a60; font-weight: bold; } .info { color: #06a; }
.recommendation { margin: 0.2em 0 0.8em 1.5em; }
#summary { display: flex; gap: 2em; flex-wrap: wrap; }
#summary table td.count { font-size: 1.6em; text-align: right; min-width: 2em; }
#summary tr.critical td.count { background: #f4c2c2; } #summary tr.warning td.count { background: #f6dd9a; }
#summary tr.info td.count { background: #c9def2; }
#summary-hosts tr.status-ok td.count { background: #dcefe3; }
#summary-hosts tr.status-partial td.count { background: #f6dd9a; }
#summary-hosts tr.status-failed td.count { background: #f4c2c2; }
#summary-hosts tr.status-unreachable td.count { background: #ddd; }
table.evidence { margin-left: 1.5em; font-size: 0.9em; }
table.evidence table { margin: 0; }
table.evidence ul { margin: 0; padding-left: 1.2em; }
details.sample summary { cursor: pointer; }
figure.pair { margin: 0.5em 0 1em; }
figure.pair figcaption { font-size: 0.9em; color: #444; }
figure.series { margin: 0.5em 0 1em; } figure.series figcaption { font-size: 0.9em; color: #444; }
details > summary > h2, details > summary > h3, details > summary > h4 { display: inline; }
"""

# Colours of the pair picture: matched connections, half-open sockets, sockets compared by counts only.
MATCHED, HALF_OPEN, COUNTED = "#4a8", "#d64", "#68a"
CHART_WIDTH, BAR_LEFT, BAR_WIDTH = 640, 150, 400


def _text(value):
    return escape("-" if value is None or value == "" else str(value))


def _table(header, rows, css_class=None):
    head = "".join("<th>%s</th>" % _text(cell) for cell in header)
    body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _text(cell) for cell in row) for row in rows)
    attribute = ' class="%s"' % css_class if css_class else ""
    return "<table%s><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (attribute, head, body)


def summary_html(findings, statuses):
    severity_rows = "".join(
        # A severity colours its count only when there is a finding: zero is not an alarm.
        '<tr class="%s"><td>%s</td><td class="count">%d</td></tr>'
        % (escape(severity) if count else "", _text(severity), count)
        for severity, count in findings.items()
    )
    status_rows = "".join(
        # A status colours its count (a failed host must not look like a healthy one); zero counts stay plain.
        '<tr class="%s"><td>%s</td><td class="count">%d</td></tr>'
        % ("status-%s" % escape(str(status)) if count else "", _text(status), count)
        for status, count in statuses.items()
    )
    return (
        '<section id="summary" aria-label="summary">'
        '<table id="summary-findings"><thead><tr><th colspan="2">Findings by severity</th></tr></thead>'
        "<tbody>%s</tbody></table>"
        '<table id="summary-hosts"><thead><tr><th colspan="2">Hosts by status</th></tr></thead>'
        "<tbody>%s</tbody></table></section>" % (severity_rows, status_rows)
    )


def _bar(y, label, total, scale, matched=None, half_open=None):
    """One horizontal bar: the matched and half-open parts when known, else one bar of the whole count."""
    parts = []
    x = BAR_LEFT
    if not isinstance(total, int):
        # A count that was not read has no bar: the picture says so instead of drawing zero.
        parts.append('<text x="4" y="%d" font-size="13">%s</text>' % (y + 16, escape(label)))
        parts.append('<text x="%d" y="%d" font-size="13">%s</text>' % (BAR_LEFT, y + 16, UNKNOWN))
        return "".join(parts)
    if matched is None:
        pieces = [(total, COUNTED, "%d ESTABLISHED" % total)]
    else:
        rest = max(total - matched - half_open, 0)
        pieces = [
            (matched, MATCHED, "%d matched" % matched),
            (half_open, HALF_OPEN, "%d half-open" % half_open),
            (rest, COUNTED, "%d not matched" % rest),
        ]
    for count, colour, title in pieces:
        if not count:
            continue
        width = max(count * scale, 1.0)
        parts.append(
            '<rect x="%.1f" y="%d" width="%.1f" height="22" fill="%s"><title>%s</title></rect>'
            % (x, y, width, colour, escape(title))
        )
        x += width
    parts.append('<text x="4" y="%d" font-size="13">%s</text>' % (y + 16, escape(label)))
    parts.append('<text x="%.1f" y="%d" font-size="13">%d</text>' % (x + 6, y + 16, total))
    return "".join(parts)


def pair_svg(pair):
    """Inline SVG: the client's count against the server's for one pair and service port."""
    client, server = pair["client_count"], pair["server_count"]
    scale = BAR_WIDTH / float(max([count for count in (client, server) if isinstance(count, int)] + [1]))
    per_connection = pair.get("per_connection")
    bars = _bar(
        8,
        "client %s" % pair["client"],
        client,
        scale,
        pair.get("client_matched") if per_connection else None,
        pair.get("client_half_open") if per_connection else None,
    ) + _bar(
        38,
        "server %s" % pair["server"],
        server,
        scale,
        pair.get("server_matched") if per_connection else None,
        pair.get("server_half_open") if per_connection else None,
    )
    legend = (
        '<rect x="%d" y="70" width="10" height="10" fill="%s"/><text x="%d" y="79" font-size="11">matched</text>'
        '<rect x="%d" y="70" width="10" height="10" fill="%s"/><text x="%d" y="79" font-size="11">half-open</text>'
        '<rect x="%d" y="70" width="10" height="10" fill="%s"/><text x="%d" y="79" font-size="11">%s</text>'
        % (
            BAR_LEFT,
            MATCHED,
            BAR_LEFT + 14,
            BAR_LEFT + 80,
            HALF_OPEN,
            BAR_LEFT + 94,
            BAR_LEFT + 170,
            COUNTED,
            BAR_LEFT + 184,
            "counted, not matched" if per_connection else "counted (not matched per connection)",
        )
    )
    label = pair_text(pair)
    return (
        '<figure class="pair"><svg class="pair-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="88" '
        'viewBox="0 0 %d 88" role="img" aria-label="%s"><title>%s</title>%s%s</svg>'
        "<figcaption>%s</figcaption></figure>"
        % (CHART_WIDTH, CHART_WIDTH, escape(label), escape(label), bars, legend, escape(label))
    )


def evidence_html(evidence, finding_id=None):
    """A finding's evidence as labelled rows (evidence.py); its sample folded in a <details> block."""
    rows = []
    for item in evidence_items(evidence, finding_id):
        if item[0] == "sample":
            _kind, label, header, sample, total = item
            cell = '<details class="sample"><summary>%s</summary>%s</details>' % (
                _text(
                    "%d socket%s%s"
                    % (
                        len(sample),
                        "" if len(sample) == 1 else "s",
                        " of %d (the JSON has this sample)" % total if total > len(sample) else "",
                    )
                ),
                _table(header, sample),
            )
        else:
            _kind, label, texts = item
            cell = (
                _text(texts[0])
                if len(texts) == 1
                else "<ul>%s</ul>" % "".join("<li>%s</li>" % _text(text) for text in texts)
            )
        rows.append("<tr><th>%s</th><td>%s</td></tr>" % (_text(label), cell))
    return '<table class="evidence"><tbody>%s</tbody></table>' % "".join(rows)


def render_block(block):
    kind = block[0]
    if kind == "heading":
        return "<h%d>%s</h%d>" % (block[1], _text(block[2]), block[1])
    if kind == "paragraph":
        return "<p>%s</p>" % _text(block[1])
    if kind == "list":
        return "<ul>%s</ul>" % "".join("<li>%s</li>" % _text(item) for item in block[1])
    if kind == "table":
        return _table(block[1], block[2])
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
    if kind == "evidence":
        return evidence_html(block[1], block[2] if len(block) > 2 else None)
    if kind == "summary":
        return summary_html(block[1], block[2])
    if kind == "pair":
        return pair_svg(block[1])
    if kind == "series":
        return series_svg(block[1])
    if kind == "details":
        # Collapsed: a browser lays out none of it until opened (a fleet's per-host tables, long lists).
        return "<details><summary><h%d>%s</h%d></summary>%s</details>" % (
            block[1],
            _text(block[2]),
            block[1],
            "\n".join(render_block(inner) for inner in block[3]),
        )
    raise ValueError("unknown report block %r" % (kind,))


def render(report):
    body = "\n".join(render_block(block) for block in report_blocks(report))
    # Last, over the whole page (see controls.py): a control character is a parse error in HTML, and the file is
    # as likely to be shown by cat or less as by a browser.
    return visible(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>netdiag.tcp audit %s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
        % (escape(report["generated_at"]), STYLE, body)
    )
