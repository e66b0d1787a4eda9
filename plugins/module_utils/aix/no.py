# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of AIX ``no -a`` / ``no -o name`` output (format ``aix_no``).

Each line is ``name = value`` with the names right-aligned. Values are ints where they are whole numbers; others
(``{all}``, ``{512:2048}``, ``{}``) stay strings as printed. Lines starting with ``#`` (``no -F -a`` separates the
restricted tunables with such a line) are skipped.

``keepalive_from_tunables`` is the one converter from these tunables to ``netdiag.keepalive``: the module, raw mode
and offline analysis all call it, so an AIX host's keepalive facts do not depend on how ``no`` was read.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "aix_no"

_TUNABLE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_INTEGER = re.compile(r"^-?\d+$")
# IBM, "no command": tcp_keepidle (default 14400 = 2 hours) and tcp_keepintvl (150 = 75 s) count half-seconds;
# tcp_keepcnt is a count.
KEEPALIVE_TUNABLES = ("tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt")


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


def half_seconds(value):
    """AIX tcp_keepidle/tcp_keepintvl are in half-seconds: 14400 -> 7200 seconds, 15 -> 7.5 (None when not a number)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value // 2 if value % 2 == 0 else value / 2.0


def keepalive_from_tunables(tunables, source):
    """``netdiag.keepalive`` of an AIX host: ``{time, intvl, probes}`` in seconds, where they were read
    (``source``), and the raw tunables ``tcp_keepidle``, ``tcp_keepintvl`` (half-seconds) and ``tcp_keepcnt`` as
    printed. A tunable that is missing or not a number gives null."""
    raw = {name: tunables.get(name) for name in KEEPALIVE_TUNABLES}
    probes = raw["tcp_keepcnt"]
    keepalive = {
        "time": half_seconds(raw["tcp_keepidle"]),
        "intvl": half_seconds(raw["tcp_keepintvl"]),
        "probes": probes if isinstance(probes, int) and not isinstance(probes, bool) else None,
        "source": source,
    }
    keepalive.update(raw)
    return keepalive
