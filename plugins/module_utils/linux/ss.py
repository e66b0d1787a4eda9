# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of iproute2 ``ss`` socket tables (format ``linux_ss``).

Reads ``ss -tanp``, ``-tulpen``, ``-tanpo``, ``-a`` and similar, with or without the ``Netid`` column (``ss -t``
prints none: every row is then of the ``protocol`` option, tcp by default) and with or without the header (-H).
Rows of other socket kinds (u_str, nl, raw, mptcp, ...) are skipped; indented continuation lines (-i, -m) too.

Addresses: ``0.0.0.0``, ``[::]`` and ``*`` are wildcards (current ss prints ``*`` for a dual-stack IPv6 socket
bound to any address, so such a socket is reported as inet6); ``[::ffff:1.2.3.4]`` is reported as IPv4 with family
inet; ``127.0.0.53%lo`` and ``[fe80::1]%eth0`` give ``interface``. Without ``-n`` ss prints service names
(``http-alt``); they are turned into numbers with the local services database, and a name it does not know is an
error (capture with ``-n``).

Owners: ``users:(("name",pid=N,fd=M),...)`` gives pid and process of the first owner listed. ``-e`` adds ``uid:``
and ``ino:``. With ``-o``, ``timer:(keepalive,...)`` on an ESTABLISHED or CLOSE_WAIT socket means keepalive on;
ss prints no timer field when no timer is pending, which cannot be told apart from output without -o, so
keepalive is otherwise null.

When its output is not a terminal (piped to a file or ``| grep``), ss moves what does not fit its width
(``users:(...) timer:(...) uid:... ino:... sk:...``) to the next line, which starts with white space; such a line
belongs to the row above it. A line that starts with one of those fields (a paste that lost its indent) does too.

With a state filter (``ss -to state established``, ``ss -t state time-wait``) ss prints no State column: every
row is in the filtered state, which the text does not say. Give it as ``state`` (``established``, ``time-wait``
as ss spells it, or a state name of the facts); rows without a State column and no ``state`` are an error.
"""

from __future__ import annotations

import re
import socket

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    WILDCARD,
    SocketRecord,
    canonical_address,
    socket_family,
    split_scope,
    summarize,
)

FORMAT_NAME = "linux_ss"

# ss spelling (sstate_name[] in misc/ss.c) -> the state name of the facts.
STATE_NAMES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECEIVED",
    "FIN-WAIT-1": "FIN_WAIT_1",
    "FIN-WAIT-2": "FIN_WAIT_2",
    "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSED",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "BOUND-INACTIVE": "BOUND_INACTIVE",
    "UNKNOWN": "UNKNOWN",
}
PROTOCOLS = frozenset(("tcp", "udp"))
# Netid values of ss(8) for other socket kinds: their rows are skipped.
OTHER_NETIDS = frozenset(
    (
        "raw",
        "u_str",
        "u_dgr",
        "u_seq",
        "nl",
        "p_raw",
        "p_dgr",
        "mptcp",
        "sctp",
        "tipc",
        "xdp",
        "v_str",
        "v_dgr",
        "dccp",
        "???",
    )
)
_KEEPALIVE_STATES = frozenset(("ESTABLISHED", "CLOSE_WAIT"))
_OWNER = re.compile(r'\(\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')
_UID = re.compile(r"\buid:(\d+)")
_INODE = re.compile(r"\bino:(\d+)")
_TIMER = re.compile(r"\btimer:\((\w+),")
# Fields ss prints after the addresses; a line starting with one continues the row above it.
_CONTINUATION_FIELDS = ("users:(", "timer:(", "uid:", "ino:", "sk:", "skmem:(", "cgroup:", "v6only:", "<->")
# ss state-filter words (ss(8) STATE-FILTER) -> the state name of the facts.
FILTER_STATES = {
    "established": "ESTABLISHED",
    "syn-sent": "SYN_SENT",
    "syn-recv": "SYN_RECEIVED",
    "fin-wait-1": "FIN_WAIT_1",
    "fin-wait-2": "FIN_WAIT_2",
    "time-wait": "TIME_WAIT",
    "closed": "CLOSED",
    "close-wait": "CLOSE_WAIT",
    "last-ack": "LAST_ACK",
    "listening": "LISTEN",
    "listen": "LISTEN",
    "closing": "CLOSING",
}


def filter_state(state):
    """The state name of the facts for an ss state-filter word or a state name (None stays None)."""
    if state is None:
        return None
    text = str(state)
    found = FILTER_STATES.get(text.lower()) or STATE_NAMES.get(text.upper())
    if found is None and text.upper().replace("-", "_") in STATE_NAMES.values():
        found = text.upper().replace("-", "_")
    if found is None:
        raise ValueError("state %r is not an ss state: one of %s" % (state, ", ".join(sorted(FILTER_STATES))))
    return found


def _is_continuation(line):
    return line[0] in " \t" or line.startswith(_CONTINUATION_FIELDS)


def _rows(lines, first_line_number):
    """(line number, row line, row line plus its continuation lines) for each line that is not a continuation."""
    pending = None
    for number, line in enumerate(lines, first_line_number):
        if not line.strip():
            continue
        if _is_continuation(line):
            if pending is not None:
                pending[2] += " " + line.strip()
            continue
        if pending is not None:
            yield pending
        pending = [number, line, line]
    if pending is not None:
        yield pending


def _port(text, protocol):
    if text == WILDCARD:
        return None
    if text.isdigit():
        return int(text) or None
    try:
        return socket.getservbyname(text, protocol)
    except OSError:
        raise ValueError("port name %r is not in this host's services database (capture with ss -n)" % text) from None


def _endpoint(text, protocol):
    """(canonical address, port, interface, printed as a bare '*') of an ss 'Address:Port' field."""
    address_text, separator, port_text = text.rpartition(":")
    if not separator:
        raise ValueError("%r is not address:port" % text)
    address_only, interface = split_scope(address_text)
    return canonical_address(address_only), _port(port_text, protocol), interface, address_only == WILDCARD


def iter_records(lines, protocol="tcp", first_line_number=1, state=None):
    """Yield a SocketRecord per tcp/udp row of ss output; protocol is that of rows without a Netid column, state
    (see filter_state) that of rows without a State column (an ``ss ... state FILTER`` listing).

    Raises ParseError naming the line on anything else than headers, blank or continuation lines and rows of
    other socket kinds.
    """
    if protocol not in PROTOCOLS:
        raise ValueError("protocol must be tcp or udp, not %r" % (protocol,))
    filtered_state = filter_state(state)
    for number, line, extras in _rows(lines, first_line_number):
        tokens = line.split()
        first = tokens[0]
        if first in ("Netid", "State", "Recv-Q"):
            continue
        if first in OTHER_NETIDS:
            continue
        row_protocol = protocol
        if first in PROTOCOLS:
            row_protocol = first
            tokens = tokens[1:]
        if len(tokens) >= 4 and tokens[0].isdigit() and filtered_state is not None:
            tokens = [None] + tokens  # no State column: the state of the filter
            row_state = filtered_state
        elif len(tokens) >= 4 and tokens[0].isdigit():
            raise ParseError(
                FORMAT_NAME,
                number,
                line.rstrip("\n"),
                "a row without a State column (ss ... state FILTER): give the filter's state, e.g. state=established",
            )
        elif len(tokens) < 5 or tokens[0] not in STATE_NAMES:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), "not an ss socket row")
        else:
            row_state = STATE_NAMES[tokens[0]]
        state_name = row_state
        try:
            receive_queue = int(tokens[1])
            send_queue = int(tokens[2])
            local_address, local_port, interface, local_star = _endpoint(tokens[3], row_protocol)
            remote_address, remote_port = _endpoint(tokens[4], row_protocol)[:2]
        except ValueError as error:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), str(error)) from error
        if row_protocol == "udp" and state_name != "ESTABLISHED":
            state_name = None  # UNCONN: a UDP socket has no state
        pid = process = uid = inode = keepalive = None
        if len(tokens) > 5 or extras is not line:
            # owner, uid, inode and timer fields cannot be mistaken for addresses
            owner = _OWNER.search(extras)
            if owner:
                process, pid = owner.group(1), int(owner.group(2))
            found = _UID.search(extras)
            if found:
                uid = int(found.group(1))
            found = _INODE.search(extras)
            if found:
                inode = int(found.group(1))
            found = _TIMER.search(extras)
            if found and row_protocol == "tcp" and state_name in _KEEPALIVE_STATES and found.group(1) == "keepalive":
                keepalive = True
        family = socket_family(local_address, remote_address) or (
            "inet6" if local_star or tokens[3].startswith("[") or tokens[3].startswith("::") else "inet"
        )
        yield SocketRecord(
            row_protocol,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state_name,
            keepalive,
            pid,
            process,
            None,
            uid,
            inode,
            send_queue,
            receive_queue,
            interface,
        )


def parse(text, ports=None, states=None, peers=None, max_connections=None, protocol="tcp", tuples=False, state=None):
    """The ``netdiag.netstat`` dictionary of ss text. ports/states/peers select sockets as the netstat_facts options
    do; max_connections caps ``connections`` (None = no cap); protocol is that of rows without a Netid column;
    state that of rows without a State column (``ss -to state established``: ``state="established"``); tuples
    adds ``established_tuples``."""
    selection = Selection(ports, states, peers)
    lines = text.splitlines()
    listening = {record.local_port for record in iter_records(lines, protocol, state=state) if record.state == "LISTEN"}
    return summarize(
        iter_records(lines, protocol, state=state),
        selection=selection,
        max_connections=max_connections,
        listening_ports=listening,
        tuples=tuples,
    )
