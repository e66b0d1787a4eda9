# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of AIX ``netstat -Aan`` and ``netstat -an`` socket tables (format ``aix_netstat``).

Rows are ``[PCB/ADDR] Proto Recv-Q Send-Q Local-Address Foreign-Address [(state)]``. The PCB column (``-A``) is
recognised per row, so a ``grep`` excerpt without the header parses as well as the full table. Addresses are
BSD style: the last dot separates the port (``10.0.0.1.22``, ``::1.6010``, ``*.22``, ``*.*``). Protocols tcp,
tcp4, tcp6, udp, udp4 and udp6 are read; the UNIX domain section (and raw sockets) are skipped.

A terminal that wraps the state column (the 2012 incident shows ``ESTA`` at the end of one line and ``BLISHED`` on
the next) is joined back when the next line holds nothing but the rest of a state name.

The PCB address of ``-A`` goes to each connection's ``pcb`` field: it is what ``rmsock <pcb> tcpcb`` and
``kdb sockinfo <pcb> tcpcb`` take.

Old AIX levels print each ``address.port`` in an 18-character column and cut what is longer: ``172.17.252.214.501``
is really ``172.17.252.214.501xx`` (the real sample netstat-Aan-2.txt shows clients of port 6666 on "ports" 501,
508 and 525, below AIX's ephemeral range 32768-65535). When no address field of the text is longer than 18
characters, a field of exactly 18 may have been cut: its port is reported unknown (null, with ``local_port_cut`` /
``remote_port_cut: true`` on the connection), never guessed. An IPv4 address always survives the cut (at most 15
characters + the dot); a cut IPv6 address that no longer parses is a ParseError. AIX 7.x prints wider columns
(``192.168.242.122.34898`` in netstat-Aan-1.txt), so its tables are read as printed.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    SocketRecord,
    canonical_address,
    canonical_port,
    socket_family,
    summarize,
)

FORMAT_NAME = "aix_netstat"

# BSD tcpstates[] spelling (AIX netstat) -> the state name of the facts; that spelling is accepted as well.
STATE_NAMES = {
    "CLOSED": "CLOSED",
    "LISTEN": "LISTEN",
    "SYN_SENT": "SYN_SENT",
    "SYN_RCVD": "SYN_RECEIVED",
    "SYN_RECEIVED": "SYN_RECEIVED",
    "ESTABLISHED": "ESTABLISHED",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "FIN_WAIT_1": "FIN_WAIT_1",
    "CLOSING": "CLOSING",
    "LAST_ACK": "LAST_ACK",
    "FIN_WAIT_2": "FIN_WAIT_2",
    "TIME_WAIT": "TIME_WAIT",
}
# Proto column -> (protocol, family the table implies). Plain tcp/udp do not say; the addresses decide.
PROTOCOLS = {
    "tcp": ("tcp", None),
    "tcp4": ("tcp", "inet"),
    "tcp6": ("tcp", "inet6"),
    "udp": ("udp", None),
    "udp4": ("udp", "inet"),
    "udp6": ("udp", "inet6"),
}
SKIPPED_PROTOCOLS = frozenset(("raw", "raw4", "raw6"))
_PCB = re.compile(r"^(?:0x)?[0-9a-fA-F]{6,16}$")
OLD_FIELD_WIDTH = 18  # width of the address.port columns of old AIX netstat, which cuts longer text
_HEADER_WORDS = ("Proto", "PCB/ADDR")


def split_dotted_endpoint(text):
    """'10.0.0.1.22' -> ('10.0.0.1', 22); '*.*' -> ('*', None); '::1.6010' -> ('::1', 6010).

    BSD-style netstat (AIX, Solaris) separates the port with the last dot. Raises ValueError on anything else.
    """
    address_text, separator, port_text = text.rpartition(".")
    if not separator or not address_text:
        raise ValueError("%r is not address.port" % text)
    return canonical_address(address_text), canonical_port(port_text)


def split_maybe_cut_endpoint(text, cut_width):
    """(address, port, cut): like split_dotted_endpoint, but a field of cut_width characters or more (cut_width not
    None) has an unknown port (None) and cut True, because old AIX netstat may have cut it at that width."""
    if cut_width is None or len(text) < cut_width:
        address, port = split_dotted_endpoint(text)
        return address, port, False
    address_text, separator, _port_text = text.rpartition(".")
    if not separator or not address_text:
        raise ValueError("%r is not address.port (cut to %d characters?)" % (text, cut_width))
    try:
        return canonical_address(address_text), None, True
    except ValueError:
        raise ValueError("%r: address cut to %d characters" % (text, cut_width)) from None


def _row_address_fields(tokens):
    if tokens[0] in PROTOCOLS:
        return tokens[3:5]
    if len(tokens) > 1 and tokens[1] in PROTOCOLS:
        return tokens[4:6]
    return ()


def cut_width_of(lines):
    """OLD_FIELD_WIDTH when no address field of these lines is longer (fields of that width may be cut), else None."""
    for line in lines:
        tokens = line.split()
        if tokens and any(len(field) > OLD_FIELD_WIDTH for field in _row_address_fields(tokens)):
            return None
    return OLD_FIELD_WIDTH


def _state_wrapped(fragment, next_line):
    """The full state name when a terminal wrapped it: 'ESTA' + 'BLISHED'. None when next_line does not finish it."""
    if next_line is None:
        return None
    rest = next_line.split()
    if len(rest) != 1:
        return None
    joined = fragment + rest[0]
    return STATE_NAMES.get(joined)


def iter_records(lines, with_pcb=False):
    """Yield a SocketRecord per tcp/udp row (or (SocketRecord, pcb) pairs with with_pcb=True).

    Raises ParseError naming the line on anything else than headers, blank lines, skipped sections and rows.
    """
    for record, pcb, _cut in iter_rows(lines):
        yield (record, pcb) if with_pcb else record


def iter_rows(lines):
    """Yield (SocketRecord, pcb or None, cut) per tcp/udp row; cut is () or the sides whose port was cut
    ("local", "remote"). Raises ParseError as iter_records does."""
    lines = list(lines)
    cut_width = cut_width_of(lines)
    internet_section = True
    index = 0
    count = len(lines)
    while index < count:
        line = lines[index]
        number = index + 1
        index += 1
        tokens = line.split()
        if not tokens:
            continue
        first = tokens[0]
        if first == "Active":
            internet_section = line.lstrip().startswith("Active Internet")
            continue
        if not internet_section or first in _HEADER_WORDS:
            continue
        pcb = None
        if first not in PROTOCOLS and first not in SKIPPED_PROTOCOLS and len(tokens) > 1 and _PCB.match(first):
            pcb = first.lower()
            tokens = tokens[1:]
            first = tokens[0]
        if first in SKIPPED_PROTOCOLS:
            continue
        kind = PROTOCOLS.get(first)
        if kind is None or len(tokens) < 5:
            raise ParseError(FORMAT_NAME, number, line, "not a netstat socket row")
        protocol, table_family = kind
        try:
            receive_queue = int(tokens[1])
            send_queue = int(tokens[2])
            local_address, local_port, local_cut = split_maybe_cut_endpoint(tokens[3], cut_width)
            remote_address, remote_port, remote_cut = split_maybe_cut_endpoint(tokens[4], cut_width)
            state = None
            if len(tokens) > 6:
                raise ValueError("unexpected text after the state column")
            if len(tokens) == 6:
                state = STATE_NAMES.get(tokens[5])
                if state is None:
                    following = lines[index] if index < count else None
                    state = _state_wrapped(tokens[5], following)
                    if state is None:
                        raise ValueError("unknown TCP state %r" % tokens[5])
                    index += 1
            elif protocol == "tcp":
                following = lines[index] if index < count else None
                state = _state_wrapped("", following)
                if state is None:
                    raise ValueError("no TCP state")
                index += 1
            if protocol == "udp":
                state = None
        except ValueError as error:
            raise ParseError(FORMAT_NAME, number, line, str(error)) from error
        # The addresses decide: AIX prints an IPv4-mapped peer of a tcp6 socket as plain IPv4 (reported as inet).
        family = (
            socket_family(local_address, remote_address)
            or table_family
            or ("inet6" if tokens[3].startswith("::") else "inet")
        )
        record = SocketRecord(
            protocol,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state,
            None,  # keepalive: netstat does not show it (kdb sockinfo does)
            None,
            None,
            None,
            None,
            None,
            send_queue,
            receive_queue,
            None,
        )
        cut = ("local",) * local_cut + ("remote",) * remote_cut
        yield record, pcb, cut


def summarize_with_pcb(pairs, selection, max_connections, listening_ports, **summary_options):
    """summarize() over (record, pcb) pairs or (record, pcb, cut) rows, then the PCB of each listed connection in
    its ``pcb`` field (and ``local_port_cut`` / ``remote_port_cut``: true where old AIX cut the port).
    summary_options (tuples, max_tuples, ...) go to summarize() unchanged.

    SocketRecord has no pcb field, so the PCBs of the selected sockets are kept in stream order (at most
    max_connections of them) and matched to ``connections``, which summarize() fills in the same order.
    """
    selects_all = selection is None or selection.selects_all
    cap = max_connections
    pcbs = []

    def records():
        for row in pairs:
            record, pcb = row[0], row[1]
            cut = row[2] if len(row) > 2 else ()
            # The same test summarize() applies (see socket_records.summarize).
            if (cap is None or len(pcbs) < cap) and (
                selects_all
                or (
                    selection.state_selected(record[6])
                    and selection.port_selected(record[3], record[5])
                    and selection.peer_selected(record[4])
                )
            ):
                pcbs.append((pcb, cut))
            yield record

    result = summarize(
        records(), selection=selection, max_connections=cap, listening_ports=listening_ports, **summary_options
    )
    for connection, (pcb, cut) in zip(result["connections"], pcbs):
        if pcb is not None:
            connection["pcb"] = pcb
        for side in cut:
            connection[side + "_port_cut"] = True
    return result


def parse(text, ports=None, states=None, peers=None, max_connections=None, tuples=False):
    """The ``netdiag.netstat`` dictionary of AIX netstat text. ports/states/peers select sockets as the netstat_facts
    options do; max_connections caps ``connections`` (None = no cap); tuples adds ``established_tuples``."""
    selection = Selection(ports, states, peers)
    lines = text.splitlines()
    listening = {record.local_port for record in iter_records(lines) if record.state == "LISTEN"}
    listening.discard(None)
    return summarize_with_pcb(iter_rows(lines), selection, max_connections, listening, tuples=tuples)
