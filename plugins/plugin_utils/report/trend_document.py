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


# Pictures per kind at most: a fleet has hundreds of pairs; the page shows those that matter, the JSON and
# playbooks/trend.yml's CSV have them all.
MAX_CHARTS = 20


def _peak(points, key):
    return max((item.get(key) or 0 for item in points), default=0)


def charts(series, limit=MAX_CHARTS):
    """(pictures, left out): one per pair matched per connection, the most half-open at any time first, then the
    most ESTABLISHED; one per host whose conntrack table held entries, the fullest first. At most `limit` of each
    kind."""
    pairs = [
        (key, points)
        for key, points in (series.get("pairs") or {}).items()
        if any(item.get("half_open") is not None or item.get("matched") is not None for item in points)
    ]
    pairs.sort(key=lambda item: (-_peak(item[1], "half_open"), -_peak(item[1], "server_count"), item[0]))
    hosts = [
        (name, points)
        for name, points in (series.get("hosts") or {}).items()
        # A table that never held an entry (conntrack loaded, nothing tracked) has nothing to show.
        if any(item.get("conntrack_usage_pct") is not None for item in points)
        and any(item.get("conntrack_count") for item in points)
    ]
    hosts.sort(key=lambda item: (-_peak(item[1], "conntrack_usage_pct"), item[0]))
    found = [pair_chart(key, points) for key, points in pairs[:limit]]
    found += [host_chart(name, points) for name, points in hosts[:limit]]
    return found, max(len(pairs) - limit, 0) + max(len(hosts) - limit, 0)


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
    pictures, left_out = charts(history.get("series") or {})
    if pictures and len(history.get("reports") or []) > 1:
        blocks.append(("heading", 2, "Over time (%d reports)" % len(history["reports"])))
        blocks.extend(("series", chart) for chart in pictures)
        if left_out:
            blocks.append(("paragraph", over_time_left_out(left_out)))
    return blocks


def over_time_left_out(count):
    return (
        "%d more pictures left out (the %d pairs with the most half-open sockets and the %d fullest conntrack tables "
        "are drawn); every series is in the JSON report's history.series and in playbooks/trend.yml's CSV."
        % (count, MAX_CHARTS, MAX_CHARTS)
    )
