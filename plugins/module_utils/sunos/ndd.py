# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Solaris ``ndd -get /dev/tcp <name>`` output (format ``sunos_ndd``).

ndd prints the value of one parameter: usually a single number (``7200000`` for tcp_keepalive_interval, in
milliseconds), for list parameters such as tcp_extra_priv_ports one value per line. The result is
``{name, value}``: value is an int where numeric, a list when ndd printed several lines. ndd does not print the
parameter name, so pass it as ``name`` to have it in the result (it is null otherwise).
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "sunos_ndd"

_INTEGER = re.compile(r"^-?\d+$")


def _value(text):
    return int(text) if _INTEGER.match(text) else text


def parse(text, name=None):
    """``{name, value}`` of ndd -get output. Raises ParseError on text that is not one value per line."""
    values = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if len(stripped.split()) != 1 or stripped.startswith("ndd:") or stripped.endswith(":"):
            raise ParseError(FORMAT_NAME, number, line, "expected one value per line (ndd -get output)")
        values.append(_value(stripped))
    if not values:
        raise ParseError(FORMAT_NAME, 1, text[:200], "no value")
    return {"name": name, "value": values[0] if len(values) == 1 else values}
