# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Solaris 11 / illumos ``ipadm show-prop [-p name,...] [protocol]`` tables (format ``sunos_ipadm_prop``).

The table is ``PROTO PROPERTY PERM CURRENT PERSISTENT DEFAULT POSSIBLE``. The result is
``{properties: {protocol: {property: {permission, current, persistent, default, possible}}}}`` with property names
as ipadm prints them (Solaris 11.4 prints ``smallest-anon-port`` even when asked for ``smallest_anon_port``).
current, persistent and default are ints where numeric, null for ``--`` (not set), else the text as printed
(``passive``, ``2049,4045``); possible stays the printed text (``1024-65535``, ``never,passive,active``) or null.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "sunos_ipadm_prop"
COLUMNS = ("PROTO", "PROPERTY", "PERM", "CURRENT", "PERSISTENT", "DEFAULT", "POSSIBLE")

_INTEGER = re.compile(r"^-?\d+$")
_PERMISSIONS = frozenset(("r-", "-w", "rw", "--"))


def property_value(text):
    """'32768' -> 32768; '--' or '' -> None; anything else as printed."""
    if text in ("--", "", "?"):
        return None
    return int(text) if _INTEGER.match(text) else text


def _fields_by_position(line, starts):
    """Column texts cut at the header's column starts (for rows with an empty column)."""
    fields = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        fields.append(line[start:end].strip())
    return fields


def parse(text):
    """The properties of an ipadm show-prop table. Raises ParseError naming the line on anything else."""
    properties = {}
    starts = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        words = line.split()
        if tuple(words) == COLUMNS:
            starts = [line.index(column) for column in COLUMNS]
            continue
        if starts is None:
            raise ParseError(FORMAT_NAME, number, line, "expected the header 'PROTO PROPERTY PERM CURRENT ...'")
        fields = words if len(words) == len(COLUMNS) else _fields_by_position(line, starts)
        if len(fields) != len(COLUMNS) or not fields[0] or not fields[1] or fields[2] not in _PERMISSIONS:
            raise ParseError(FORMAT_NAME, number, line, "expected %d columns: %s" % (len(COLUMNS), " ".join(COLUMNS)))
        protocol, name, permission, current, persistent, default, possible = fields
        properties.setdefault(protocol, {})[name] = {
            "permission": permission,
            "current": property_value(current),
            "persistent": property_value(persistent),
            "default": property_value(default),
            "possible": None if possible in ("--", "") else possible,
        }
    if not properties:
        raise ParseError(FORMAT_NAME, 1, text[:200], "no properties")
    return {"properties": properties}
