# SPDX-License-Identifier: GPL-3.0-or-later
"""Time series (trend_document.py's "series" blocks) as inline SVG, and as a Markdown table. Pure functions.

The picture has both axes labelled: the audit times along x (first, last and some between, in UTC) and the count or
percentage along y (0, the middle and the top). Each point carries a <title> with its time and value, so a reader
can hover for the exact number. Gaps (a host not audited that time) break the line rather than drawing a zero.
"""

from __future__ import annotations

import datetime
from html import escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 60, 50, 24, 50  # room for the last time label, centred on its point
X_LABELS = 4


def _time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _short(text, span_seconds):
    """'2026-12-07T10:00:00Z' -> '12-07 10:00', or '10:00:05' when all times are within an hour (audits run by hand
    minutes apart); the axis has little room, and the title of each point gives its exact time."""
    return _time(text).strftime("%H:%M:%S" if span_seconds < 3600 else "%m-%d %H:%M")


def _nice_top(value):
    """The y axis top: the smallest of 1, 2, 5, 10, 20, 50 ... at or above the largest value."""
    if value <= 0:
        return 1
    top = 1
    while top < value:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10
    return top


def series_svg(chart):
    """<figure> with an inline SVG line chart of one series block."""
    times = sorted({at for line in chart["lines"] for at, _value in line["points"]})
    values = [value for line in chart["lines"] for _at, value in line["points"] if isinstance(value, (int, float))]
    top = chart.get("y_max") or _nice_top(max(values, default=0))
    if chart.get("y_cap"):  # a percentage: scaled to its values (a fill going 1 -> 3 % must show), never past 100
        top = min(top, chart["y_cap"])
    start, end = _time(times[0]), _time(times[-1])
    span = max((end - start).total_seconds(), 1.0)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(at):
        if len(times) == 1:
            return LEFT + plot_width / 2.0
        return LEFT + (_time(at) - start).total_seconds() / span * plot_width

    def y_of(value):
        return TOP + plot_height - min(value, top) / float(top) * plot_height

    parts = [
        # Axes, then the y ticks and labels (0, middle, top) and the x labels (audit times).
        '<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (LEFT, TOP, LEFT, TOP + plot_height),
        '<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>'
        % (LEFT, TOP + plot_height, LEFT + plot_width, TOP + plot_height),
    ]
    for value in (0, top / 2.0, top):
        y = y_of(value)
        parts.append(
            '<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
            '<text class="y-tick" x="%d" y="%.1f" font-size="11" text-anchor="end">%g</text>'
            % (LEFT, y, LEFT + plot_width, y, LEFT - 4, y + 4, value)
        )
    step = max(1, (len(times) + X_LABELS - 1) // X_LABELS)
    labelled = times[::step]
    if times[-1] not in labelled:
        labelled.append(times[-1])
    for at in labelled:
        parts.append(
            '<text class="x-tick" x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>'
            % (x_of(at), TOP + plot_height + 16, escape(_short(at, span)))
        )
    parts.append(
        '<text class="x-label" x="%d" y="%d" font-size="12" text-anchor="middle">audit time (UTC)</text>'
        % (LEFT + plot_width // 2, HEIGHT - 6)
    )
    parts.append(
        '<text class="y-label" x="12" y="%d" font-size="12" text-anchor="middle" transform="rotate(-90 12 %d)">'
        "%s</text>" % (TOP + plot_height // 2, TOP + plot_height // 2, escape(chart["y_label"]))
    )
    legend_x = LEFT + 8
    for line in chart["lines"]:
        parts.extend(_line_svg(line, x_of, y_of, legend_x))
        legend_x += 24 + 7 * len(line["name"])
    title = escape(chart["title"])
    return (
        '<figure class="series"><svg class="series-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>%s</svg><figcaption>%s</figcaption></figure>'
        % (WIDTH, HEIGHT, WIDTH, HEIGHT, title, title, "".join(parts), title)
    )


def series_rows(chart):
    """(header, rows) of a series: one row per audit time, one column per line."""
    times = sorted({at for line in chart["lines"] for at, _value in line["points"]})
    columns = [dict(line["points"]) for line in chart["lines"]]
    header = ["audit time (UTC)"] + [line["name"] for line in chart["lines"]]
    return header, [[at] + [column.get(at) for column in columns] for at in times]


def _line_svg(line, x_of, y_of, legend_x):
    """One line of a chart: its segments (a gap where a value is unknown), a dot per audit, its legend entry."""
    segments, current = [], []
    for at, value in line["points"]:
        if isinstance(value, (int, float)):
            current.append("%.1f,%.1f" % (x_of(at), y_of(value)))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    colour = escape(line["colour"])
    parts = [
        '<polyline fill="none" stroke="%s" stroke-width="3" points="%s"/>' % (colour, " ".join(segment))
        for segment in segments
    ]
    parts.extend(
        '<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s %s: %g</title></circle>'
        % (x_of(at), y_of(value), colour, escape(at), escape(line["name"]), value)
        for at, value in line["points"]
        if isinstance(value, (int, float))
    )
    parts.append(
        '<rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15" font-size="11">%s</text>'
        % (legend_x, colour, legend_x + 14, escape(line["name"]))
    )
    return parts
