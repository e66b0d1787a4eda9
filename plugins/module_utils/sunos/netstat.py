# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Solaris and illumos ``netstat -an`` / ``netstat -anu`` socket tables (format ``sunos_netstat``).

The output has one section per protocol and family, each a title line (``UDP: IPv4``, ``TCP: IPv6``, ``SCTP:``),
a column header and a line of dashes:

* ``UDP: IPv4``: ``Local Address  Remote Address  State`` (remote empty when unconnected; states Idle, Unbound,
  Connected); ``UDP: IPv6`` adds an ``If`` column.
* ``TCP: IPv4``: ``Local Address  Remote Address  Swind Send-Q Rwind Recv-Q  State``; ``TCP: IPv6`` adds ``If``.
* With ``-u`` (Solaris 11.4, illumos since 2018) ``User Pid Command`` follow the addresses, and Solaris 11.4 UDP
  rows end with buffer counters.

Variants read as well (illumos ``netstat.c``, OmniOS r151028 release notes):

* A bare ``TCP`` / ``UDP`` title (illumos prints it for IPv4 when /etc/default/inet_type sets DEFAULT_IP=IP_VERSION4)
  and tables without any title (``netstat -nuf inet`` as published by OmniOS): the column header alone opens the
  table, TCP when it has a ``Swind`` column, UDP otherwise; the family then comes from the addresses (a wildcard
  row is inet, or inet6 when the header has the IPv6 ``If`` column).
* With ``-u``, a socket that no process holds (TIME_WAIT, kernel sockets) is printed without the User, Pid and
  Command columns; its owner is null.
* With ``-u``, a socket held by several processes (a forked server) is printed once per process, on consecutive
  rows. For a connected TCP socket, whose address pair is unique on the host, such repeated rows are one socket:
  it is counted once with the first process, and the repeats are counted in ``shared_socket_rows``. Rows of
  unconnected sockets are never merged (several processes may each hold a ``*.*`` socket).

Addresses are BSD style (``10.0.0.1.22``, ``*.22``, ``*.*``, ``::1.5999``). SCTP and UNIX domain sections are
skipped. States are the upper-case names of docs/facts_schema.md; Solaris' own TCP states IDLE and BOUND and
the UDP states IDLE, UNBOUND and CONNECTED are kept as they are (upper case).
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.aix.netstat import STATE_NAMES, split_dotted_endpoint
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    WILDCARD,
    SocketRecord,
    socket_family,
    summarize,
)

FORMAT_NAME = "sunos_netstat"

# Solaris netstat spelling -> the state name of the facts: the BSD names AIX prints as well (Solaris prints
# SYN_RCVD in older releases; both are accepted), plus Solaris' own IDLE and BOUND.
TCP_STATE_NAMES = dict(STATE_NAMES, IDLE="IDLE", BOUND="BOUND")
UDP_STATE_NAMES = {"Idle": "IDLE", "Unbound": "UNBOUND", "Connected": "CONNECTED"}

# The spaces after the colon belong to the family: two runs of spaces in a row were quadratic on a line of spaces.
_SECTION = re.compile(r"^(UDP|TCP|SCTP|RAWIP|ICMP)(?::(?:\s*(IPv4|IPv6))?)?\s*$")
_ENDPOINT = re.compile(r"^(?:\*|[0-9A-Fa-f:.%]+)\.(?:\*|\d+)$")
_DASHES = re.compile(r"^[-\s]+$")
# A UNIX domain socket row (``60003e06018 stream-ord 30015330dc0 00000000 /tmp/...``).
_UNIX_ROW = re.compile(r"^[0-9a-f]+ (?:stream|dgram|seqpacket)(?:-ord)?\b")


class _Section:
    """Where the parser is: which protocol table, and which optional columns its header announced."""

    def __init__(self, protocol=None, family=None):
        self.protocol = protocol  # "tcp", "udp", or None for a skipped section (SCTP, UNIX domain, ...)
        self.family = family
        self.owner_columns = False  # -u: User Pid Command
        self.interface_column = False
        self.buffer_columns = False  # Solaris 11.4 UDP: Send Buf TxOverflows Recv Buf RxOverflows
        self.from_header = False  # opened by a column header without a title (netstat -nuf inet on illumos)
        self.excerpt = False  # one row of a grep excerpt, without title or header

    def read_header(self, line):
        words = line.split()
        self.owner_columns = "User" in words and "Pid" in words
        self.interface_column = "If" in words
        self.buffer_columns = "TxOverflows" in words


def _is_int(token):
    return token.isdigit()


def _without_owner(tokens, position):
    """True when a -u row has no User/Pid/Command (illumos prints none for a socket no process holds): the four
    window/queue numbers and the state follow the addresses directly."""
    window = tokens[position : position + 4]
    return (
        len(window) == 4
        and all(_is_int(token) for token in window)
        and len(tokens) > position + 4
        and tokens[position + 4] in TCP_STATE_NAMES
    )


def _split_row(tokens, section):
    """(local, remote or None, user, pid, command, state, interface, send_queue, receive_queue) of a row's tokens."""
    local = tokens[0]
    position = 1
    remote = None
    if section.protocol == "tcp" or (len(tokens) > 1 and _ENDPOINT.match(tokens[1])):
        remote = tokens[1]
        position = 2
    user = pid = command = None
    if section.protocol == "tcp":
        owner_columns = section.owner_columns and not _without_owner(tokens, position)
    else:
        # A UDP socket no process holds: its state follows the addresses directly.
        owner_columns = section.owner_columns and not (len(tokens) > position and tokens[position] in UDP_STATE_NAMES)
    if owner_columns:
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
        if owner_columns:
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


def _excerpt_section(tokens):
    """The section of one row of a grep excerpt (``netstat -an | grep .5555``: no title, no header), judged from
    the row itself: TCP when four numbers and a TCP state end it (an IPv6 row may add its If), UDP when a UDP state
    does; owner columns when the third word is not a number. None when the row is neither."""
    if len(tokens) < 2 or not _ENDPOINT.match(tokens[0]):
        return None
    end = len(tokens) - 1
    if tokens[end] not in TCP_STATE_NAMES and tokens[end] not in UDP_STATE_NAMES and end > 0:
        end -= 1  # the If column of an IPv6 row
    if tokens[end] in TCP_STATE_NAMES and end >= 5 and all(_is_int(token) for token in tokens[end - 4 : end]):
        section = _Section("tcp", None)
        section.owner_columns = not _is_int(tokens[2])
    elif tokens[end] in UDP_STATE_NAMES or any(token in UDP_STATE_NAMES for token in tokens[1:]):
        section = _Section("udp", None)
        position = 2 if _ENDPOINT.match(tokens[1]) else 1
        section.owner_columns = len(tokens) > position + 2 and _is_int(tokens[position + 1])
        section.buffer_columns = True
    else:
        return None
    section.interface_column = True
    section.excerpt = True
    return section


def _excerpt_wildcard_family(line):
    """inet6 when the second column starts where IPv6 tables put it (their address columns are 33 wide, IPv4's 20):
    the only hint a grep excerpt keeps of the table a ``*.22  *.*`` row came from. An unconnected UDP row has an
    empty remote column, so what follows it starts at 42 (IPv4) or 68 (IPv6)."""
    words = line.split()
    second_start = line.find(words[1], line.find(words[0]) + len(words[0]))
    return "inet6" if second_start >= (34 if _ENDPOINT.match(words[1]) else 68) else "inet"


def _header_section(line):
    """The section a column header opens when no title came before it (``netstat -nuf inet`` on illumos)."""
    words = line.split()
    section = _Section("tcp" if "Swind" in words else "udp", None)
    section.read_header(line)
    section.from_header = True
    return section


def iter_records(lines, stats=None):
    """Yield a SocketRecord per TCP and UDP socket of Solaris netstat output. Raises ParseError naming the line on
    text that is not a section title, header, separator, row of a known table or line of a skipped section.

    stats, when given, is a dict whose ``shared_socket_rows`` counts the -u rows that repeated the connected TCP
    socket of the row before for another process (see the module docstring); those rows yield no record."""
    section = _Section()
    seen_section = False
    previous = None
    shared = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        title = _SECTION.match(stripped)
        if title:
            seen_section = True
            previous = None
            protocol = title.group(1).lower()
            family = {"IPv4": "inet", "IPv6": "inet6"}.get(title.group(2))
            # SCTP, RAWIP and ICMP are skipped: socket records are TCP or UDP. A bare TCP/UDP title has no
            # family: the rows' addresses give it.
            section = _Section(protocol, family) if protocol in ("tcp", "udp") else _Section()
            continue
        if stripped.startswith("Active "):
            seen_section = True
            section = _Section()
            continue
        if not seen_section:
            if "Local Address" in line and "Remote Address" in line:
                seen_section = True
                section = _header_section(line)
                continue
            if _UNIX_ROW.match(stripped):
                continue  # a UNIX domain socket row caught by the same grep
            section = _excerpt_section(stripped.split())
            if section is None:
                raise ParseError(
                    FORMAT_NAME, number, line, "expected a section title such as 'TCP: IPv4' or a TCP/UDP row"
                )
        if section.protocol is None:
            continue
        if "Local Address" in line:
            if section.from_header:
                section = _header_section(line)  # another untitled table: its own header says TCP or UDP
                previous = None
            else:
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
        if section.excerpt:
            wildcard_family = _excerpt_wildcard_family(line)
        else:
            wildcard_family = section.family or ("inet6" if section.interface_column else "inet")
        family = socket_family(local_address, remote_address, wildcard_family)
        record = SocketRecord(
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
        if (
            previous is not None
            and pid is not None
            and remote_port is not None
            and record.protocol == "tcp"
            and record[:7] == previous[:7]
            and pid != previous.pid
        ):
            shared += 1
            if stats is not None:
                stats["shared_socket_rows"] = shared
            continue
        previous = record
        yield record


def parse(text, ports=None, states=None, peers=None, max_connections=None, tuples=False):
    """The ``netdiag.netstat`` dictionary of Solaris netstat text. ports/states/peers select sockets as the
    netstat_facts options do; max_connections caps ``connections`` (None = no cap); tuples adds
    ``established_tuples``."""
    selection = Selection(ports, states, peers)
    lines = text.splitlines()
    listening = {record.local_port for record in iter_records(lines) if record.state == "LISTEN"}
    stats = {"shared_socket_rows": 0}
    result = summarize(
        iter_records(lines, stats),
        selection=selection,
        max_connections=max_connections,
        listening_ports=listening,
        tuples=tuples,
    )
    result["shared_socket_rows"] = stats["shared_socket_rows"]
    return result
