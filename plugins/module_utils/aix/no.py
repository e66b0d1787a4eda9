# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of AIX ``no -a`` / ``no -o name`` output (format ``aix_no``).

Each line is ``name = value`` with the names right-aligned. Values are ints where they are whole numbers; others
(``{all}``, ``{512:2048}``, ``{}``) stay strings as printed. Lines starting with ``#`` (``no -F -a`` separates the
restricted tunables with such a line) are skipped.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "aix_no"

_TUNABLE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_INTEGER = re.compile(r"^-?\d+$")


def tunable_value(text):
    """'1024' -> 1024; '-1' -> -1; '{all}' -> '{all}'."""
    return int(text) if _INTEGER.match(text) else text


def parse(text):
    """``{tunables: {name: value}}`` of no output. Raises ParseError naming the first line that is not a tunable."""
    tunables = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _TUNABLE.match(line)
        if match is None:
            raise ParseError(FORMAT_NAME, number, line, "expected 'name = value'")
        tunables[match.group(1)] = tunable_value(match.group(2))
    if not tunables:
        raise ParseError(FORMAT_NAME, 1, text[:200], "no tunables")
    return {"tunables": tunables}
