# SPDX-License-Identifier: GPL-3.0-or-later
"""The report as JSON text: indented down to each host, pair, finding and matching group, each on one line.

json.dumps with indent runs the pure-Python encoder (only indent=None uses the C one): on a 10,000-host report that
took longer than building the report. Here the outer levels are indented by hand and every value below them is one
json.dumps call of the C encoder, so the text is as valid, as sorted and as diff-friendly per entry, about ten times
faster. json.loads of it gives the very same data.
"""

from __future__ import annotations

import json

# Levels indented (the report, its sections, their entries); deeper values are written on one line.
INDENTED_LEVELS = 2
INDENT = "  "


def dumps(value, levels=INDENTED_LEVELS, depth=0):
    """JSON text of value, keys sorted, the first ``levels`` levels of dictionaries and lists indented."""
    # A list at the last indented level is still broken up, one entry a line (matching.groups, gathering.missing).
    flat = depth > levels or (depth == levels and not isinstance(value, list))
    if flat or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, sort_keys=True)
    inner = INDENT * (depth + 1)
    if isinstance(value, dict):
        items = [
            "%s%s: %s" % (inner, json.dumps(str(key)), dumps(value[key], levels, depth + 1))
            for key in sorted(value, key=str)
        ]
        return "{\n%s\n%s}" % (",\n".join(items), INDENT * depth)
    items = ["%s%s" % (inner, dumps(item, levels, depth + 1)) for item in value]
    return "[\n%s\n%s]" % (",\n".join(items), INDENT * depth)


def render(report):
    return dumps(report) + "\n"
