# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Solaris and illumos ``netstat -an`` / ``netstat -anu`` socket tables (format ``sunos_netstat``).

The output has one section per protocol and family, each a title line (``UDP: IPv4``, ``TCP: IPv6``, ``SCTP:``),
a column header and a line of dashes:

* ``UDP: IPv4``: ``Local Address  Remote Address  State`` (remote empty when unconnected; states Idle, Unbound,
  Connected); ``UDP: IPv6`` adds an ``If`` column.
* ``TCP: IPv4``: ``Local Address  Remote Address  Swind Send-Q Rwind Recv-Q  State``; ``TCP: IPv6`` adds ``If``.
* With ``-u`` (Solaris 11.4) ``User Pid Command`` follow the addresses, and UDP rows end with buffer counters.

Addresses are BSD style (``10.0.0.1.22``, ``*.22``, ``*.*``, ``::1.5999``). SCTP and UNIX domain sections are
skipped. States are upper-cased contract names; Solaris' own TCP states IDLE and BOUND and the UDP states IDLE,
UNBOUND and CONNECTED are kept as they are (upper case).
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.aix_netstat import STATE_NAMES, split_dotted_endpoint
from ansible_collections.netdiag.tcp.plugins.module_utils.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.socket_records import (
    WILDCARD,
    SocketRecord,
    socket_family,
    summarize,
)

FORMAT_NAME = "sunos_netstat"

# Solaris netstat spelling -> contract name: the BSD names AIX prints as well (Solaris prints SYN_RCVD in older
# releases; both are accepted), plus Solaris' own IDLE and BOUND.
TCP_STATE_NAMES = dict(STATE_NAMES, IDLE="IDLE", BOUND="BOUND")
UDP_STATE_NAMES = {"Idle": "IDLE", "Unbound": "UNBOUND", "Connected": "CONNECTED"}

_SECTION = re.compile(r"^(UDP|TCP|SCTP|RAWIP|ICMP)(?::\s*(IPv4|IPv6)?)?\s*$")
_ENDPOINT = re.compile(r"^(?:\*|[0-9A-Fa-f:.%]+)\.(?:\*|\d+)$")
_DASHES = re.compile(r"^[-\s]+$")


class _Section:
    """Where the parser is: which protocol table, and which optional columns its header announced."""

    def __init__(self, protocol=None, family=None):
        self.protocol = protocol  # "tcp", "udp", or None for a skipped section (SCTP, UNIX domain, ...)
        self.family = family
        self.owner_columns = False  # -u: User Pid Command
        self.interface_column = False
        self.buffer_columns = False  # Solaris 11.4 UDP: Send Buf TxOverflows Recv Buf RxOverflows

    def read_header(self, line):
        words = line.split()
        self.owner_columns = "User" in words and "Pid" in words
        self.interface_column = "If" in words
        self.buffer_columns = "TxOverflows" in words


def _is_int(token):
    return token.isdigit()


def _split_row(tokens, section):
    """(local, remote or None, user, pid, command, state, interface, send_queue, receive_queue) of a row's tokens."""
    local = tokens[0]
    position = 1
    remote = None
    if section.protocol == "tcp" or (len(tokens) > 1 and _ENDPOINT.match(tokens[1])):
        remote = tokens[1]
        position = 2
    user = pid = command = None
    if section.owner_columns:
        if len(tokens) < position + 3:
            raise ValueError("expected User, Pid and Command columns")
        user = tokens[position]
        if not _is_int(tokens[position + 1]):
            raise ValueError("%r is not a process id" % tokens[position + 1])
        pid = int(tokens[position + 1])
        position += 2
    send_queue = receive_queue = None
    if section.protocol == "tcp":
        # Swind Send-Q Rwind Recv-Q State [If]: the state is the first known name after four numbers.
        for index in range(position, len(tokens) - 4):
            window = tokens[index : index + 4]
            if all(_is_int(token) for token in window) and tokens[index + 4] in TCP_STATE_NAMES:
                break
        else:
            raise ValueError("expected Swind Send-Q Rwind Recv-Q State")
        if section.owner_columns:
            command = " ".join(tokens[position:index]) or None
        elif index != position:
            raise ValueError("unexpected text before the window columns")
        send_queue = int(tokens[index + 1])
        receive_queue = int(tokens[index + 3])
        state = TCP_STATE_NAMES[tokens[index + 4]]
        rest = tokens[index + 5 :]
    else:
        for index in range(position, len(tokens)):
            if tokens[index] in UDP_STATE_NAMES:
                break
        else:
            raise ValueError("no UDP state (Idle, Unbound, Connected)")
        if section.owner_columns:
            command = " ".join(tokens[position:index]) or None
        elif index != position:
            raise ValueError("unexpected text before the state column")
        state = UDP_STATE_NAMES[tokens[index]]
        rest = tokens[index + 1 :]
    interface = None
    if rest and section.interface_column and not _is_int(rest[0]):
        interface = rest.pop(0)
    if rest and not (section.buffer_columns and all(_is_int(token) for token in rest)):
        raise ValueError("unexpected text after the state column")
    return local, remote, user, pid, command, state, interface, send_queue, receive_queue


def iter_records(lines):
    """Yield a SocketRecord per TCP and UDP row of Solaris netstat output. Raises ParseError naming the line on text
    that is not a section title, header, separator, row of a known table or line of a skipped section."""
    section = _Section()
    seen_section = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        title = _SECTION.match(stripped)
        if title:
            seen_section = True
            protocol = title.group(1).lower()
            family = {"IPv4": "inet", "IPv6": "inet6"}.get(title.group(2))
            # SCTP (and any section without a family) is skipped: the contract's records are TCP and UDP.
            section = _Section(protocol, family) if protocol in ("tcp", "udp") and family else _Section()
            continue
        if stripped.startswith("Active "):
            seen_section = True
            section = _Section()
            continue
        if not seen_section:
            raise ParseError(FORMAT_NAME, number, line, "expected a section title such as 'TCP: IPv4'")
        if section.protocol is None:
            continue
        if "Local Address" in line:
            section.read_header(line)
            continue
        if _DASHES.match(line):
            continue
        tokens = stripped.split()
        try:
            local, remote, user, pid, command, state, interface, send_queue, receive_queue = _split_row(tokens, section)
            local_address, local_port = split_dotted_endpoint(local)
            if remote is None:
                remote_address, remote_port = WILDCARD, None
            else:
                remote_address, remote_port = split_dotted_endpoint(remote)
        except ValueError as error:
            raise ParseError(FORMAT_NAME, number, line, str(error)) from error
        family = socket_family(local_address, remote_address, section.family)
        yield SocketRecord(
            section.protocol,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state,
            None,  # keepalive: netstat does not show it (pfiles does)
            pid,
            command,
            user,
            None,
            None,
            send_queue,
            receive_queue,
            interface,
        )


def parse(text, ports=None, states=None, peers=None, max_connections=None):
    """The ``netdiag.netstat`` dictionary of Solaris netstat text. ports/states/peers select sockets as the
    netstat_facts options do; max_connections caps ``connections`` (None = no cap)."""
    selection = Selection(ports, states, peers)
    lines = text.splitlines()
    listening = {record.local_port for record in iter_records(lines) if record.state == "LISTEN"}
    return summarize(
        iter_records(lines), selection=selection, max_connections=max_connections, listening_ports=listening
    )
