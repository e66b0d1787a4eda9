# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's blocks (document.py) for what changed since earlier audits and the counts over time.

("series", chart) is a time series: {"id", "title", "y_label", "lines": [{"name", "colour", "points": [[at, value]]}]};
html.py draws it (trend_html.py), markdown.py lists it as a table. Pure functions; renderers escape.
"""

from __future__ import annotations

# Colours as the pair picture's: matched green, half-open red; conntrack fill blue.
MATCHED, HALF_OPEN, FILL = "#4a8", "#d64", "#68a"


def pair_chart(key, points):
    return {
        "id": "pair " + key,
        "title": "pair %s: matched and half-open sockets" % key,
        "y_label": "sockets",
        "lines": [
            {"name": "matched", "colour": MATCHED, "points": [[item["at"], item.get("matched")] for item in points]},
            {
                "name": "half-open",
                "colour": HALF_OPEN,
                "points": [[item["at"], item.get("half_open")] for item in points],
            },
        ],
    }


def host_chart(name, points):
    return {
        "id": "host " + name,
        "title": "host %s: conntrack table fill" % name,
        "y_label": "conntrack fill %",
        "y_cap": 100,
        "lines": [
            {
                "name": "fill %",
                "colour": FILL,
                "points": [[item["at"], item.get("conntrack_usage_pct")] for item in points],
            }
        ],
    }


def charts(series):
    """The pictures over time: one per pair (when matched per connection), one per host with conntrack."""
    found = []
    for key, points in (series.get("pairs") or {}).items():
        if any(item.get("half_open") is not None or item.get("matched") is not None for item in points):
            found.append(pair_chart(key, points))
    for name, points in (series.get("hosts") or {}).items():
        if any(item.get("conntrack_usage_pct") is not None for item in points):
            found.append(host_chart(name, points))
    return found


def trend_blocks(report):
    """Blocks of the changes section, the skipped earlier reports and the series; [] for a report without them."""
    blocks = []
    changes = report.get("changes")
    history = report.get("history") or {}
    if changes is not None:
        if changes.get("baseline"):
            blocks.append(("heading", 2, "Changes since %s" % changes["since"]))
            blocks.append(
                ("paragraph", "Compared with %s (%s h earlier)." % (changes["baseline"], changes.get("hours")))
            )
            blocks.append(("list", changes["lines"] or ["nothing to compare"]))
        else:
            blocks.append(("heading", 2, "Changes"))
            blocks.append(("paragraph", "Not compared: %s." % changes.get("reason")))
        if changes.get("baseline") and changes.get("reason"):
            blocks.append(("paragraph", changes["reason"]))
    if history.get("skipped"):
        blocks.append(("heading", 3, "Earlier reports skipped"))
        blocks.append(("list", ["%s: %s" % (item["file"], item["reason"]) for item in history["skipped"]]))
    pictures = charts(history.get("series") or {})
    if pictures and len(history.get("reports") or []) > 1:
        blocks.append(("heading", 2, "Over time (%d reports)" % len(history["reports"])))
        blocks.extend(("series", chart) for chart in pictures)
    return blocks
