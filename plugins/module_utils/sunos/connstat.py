# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of illumos / Solaris 11.4 ``connstat -P -o FIELD,...`` output (format ``sunos_connstat``).

connstat reports per-connection TCP counters that the kernel keeps anyway (no side effect on the processes). Its
``-P`` output is the stable, machine-parsable form (illumos connstat(8), INTERFACE STABILITY): one line per
connection, the fields asked for with ``-o`` separated by commas, no header. The table form without ``-P`` is not
stable and is not read here.

The result is a list of ``{field: value}`` with ``laddr``/``raddr`` as canonical addresses (``*`` for a wildcard),
ports and counters as ints and ``state`` upper case, as connstat prints it (BOUND and IDLE kept).
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import canonical_address, canonical_port

FORMAT_NAME = "sunos_connstat"

# What netstat_facts asks for: the address pair and state to match a socket, then the counters that tell a live
# connection from a dead one (bytes both ways, retransmissions, unacknowledged and unsent bytes, windows, timers).
FIELDS = (
    "laddr",
    "lport",
    "raddr",
    "rport",
    "state",
    "inbytes",
    "outbytes",
    "retranssegs",
    "suna",
    "unsent",
    "swnd",
    "cwnd",
    "rwnd",
    "rto",
    "rtt",
)
_TEXT_FIELDS = frozenset(("state",))
_ADDRESS_FIELDS = frozenset(("laddr", "raddr"))
_PORT_FIELDS = frozenset(("lport", "rport"))


def parse(text, fields=FIELDS):
    """The connections of ``connstat -P -o <fields>`` text. Raises ParseError naming the line on a line with another
    number of fields or a value that is not an address, port or count."""
    fields = tuple(field.lower() for field in fields)
    connections = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        values = line.strip().split(",")
        if len(values) != len(fields):
            raise ParseError(
                FORMAT_NAME, number, line, "expected %d comma-separated fields: %s" % (len(fields), ",".join(fields))
            )
        connection = {}
        try:
            for field, value in zip(fields, values):
                if field in _ADDRESS_FIELDS:
                    connection[field] = canonical_address(value)
                elif field in _PORT_FIELDS:
                    connection[field] = canonical_port(value)
                elif field in _TEXT_FIELDS:
                    connection[field] = value.upper()
                elif value.isdigit():
                    connection[field] = int(value)
                else:
                    raise ValueError("%s %r is not a count" % (field, value))
        except ValueError as error:
            raise ParseError(FORMAT_NAME, number, line, str(error)) from error
        connections.append(connection)
    return connections
