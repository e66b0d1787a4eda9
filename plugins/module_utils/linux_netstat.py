# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of net-tools ``netstat`` socket tables on Linux (format ``linux_netstat``).

Reads ``netstat -an``, ``-tan``, ``-tanp``, ``-tanpo``, ``-tulpen`` and similar: the ``Proto Recv-Q Send-Q Local
Address Foreign Address State`` table with the optional ``User Inode`` (-e), ``PID/Program name`` (-p) and ``Timer``
(-o) columns, whose presence the column header line tells. UNIX domain (and other non-Internet) sections are
skipped, and so are raw and UDP-Lite rows. With ``-o`` the Timer column is the /proc/net/tcp ``tr`` field in words,
so ``keepalive`` is known exactly as from /proc (see linux_proc_net_tcp); without it, it is null.

Without ``--wide`` netstat cuts long IPv6 addresses to fit its column; such an address is kept as printed (it may
not be a valid address) rather than guessed. Use ``netstat -W`` for full addresses.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.socket_records import (
    WILDCARD,
    SocketRecord,
    canonical_address,
    socket_family,
    summarize,
)

FORMAT_NAME = "linux_netstat"

# net-tools spelling (tcp_state[] in netstat.c) -> contract name. Contract spellings are accepted as well.
STATE_NAMES = {
    "ESTABLISHED": "ESTABLISHED",
    "SYN_SENT": "SYN_SENT",
    "SYN_RECV": "SYN_RECEIVED",
    "FIN_WAIT1": "FIN_WAIT_1",
    "FIN_WAIT2": "FIN_WAIT_2",
    "TIME_WAIT": "TIME_WAIT",
    "CLOSE": "CLOSED",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "UNKNOWN": "UNKNOWN",
    "SYN_RECEIVED": "SYN_RECEIVED",
    "FIN_WAIT_1": "FIN_WAIT_1",
    "FIN_WAIT_2": "FIN_WAIT_2",
    "CLOSED": "CLOSED",
}
PROTOCOLS = {"tcp": ("tcp", "inet"), "tcp6": ("tcp", "inet6"), "udp": ("udp", "inet"), "udp6": ("udp", "inet6")}
SKIPPED_PROTOCOLS = frozenset(("raw", "raw6", "udpl", "udpl6", "unix"))

_KEEPALIVE_STATES = frozenset(("ESTABLISHED", "CLOSE_WAIT"))
_KEEPALIVE_BY_TIMER = {"keepalive": True, "off": False}
_TIMER = re.compile(r"\s(off|on|keepalive|timewait|probe|unkn-\d+) \([^)]*\)\s*$")
_TRUNCATED_ADDRESS = re.compile(r"^[0-9a-fA-F:.]+$")


class _Columns:
    """Which optional columns the last ``Proto ...`` header line announced."""

    def __init__(self, header=""):
        self.user_inode = "Inode" in header
        self.program = "PID/Program" in header
        self.timer = "Timer" in header


def _endpoint(text, cache):
    """'10.0.0.1:22' -> (canonical address, port or None); cached per address text."""
    address_text, separator, port_text = text.rpartition(":")
    if not separator:
        raise ValueError("%r is not address:port" % text)
    address = cache.get(address_text)
    if address is None:
        try:
            address = canonical_address(address_text)
        except ValueError:
            if not _TRUNCATED_ADDRESS.match(address_text) or ":" not in address_text:
                raise ValueError("%r is not an address" % address_text) from None
            address = address_text.lower()  # an IPv6 address netstat cut to fit its column
        if len(cache) < 100000:
            cache[address_text] = address
    if port_text == WILDCARD:
        return address, None
    return address, int(port_text) or None


def _owner(text):
    """'1234/sshd: root@pts' -> (1234, 'sshd: root@pts'); '-' -> (None, None)."""
    pid, separator, program = text.partition("/")
    if separator and pid.isdigit():
        return int(pid), program or None
    return None, None


def iter_records(lines, first_line_number=1):
    """Yield a SocketRecord per tcp/tcp6/udp/udp6 row of netstat output. Raises ParseError naming the line on
    anything else than headers, blank lines, skipped sections and socket rows."""
    columns = _Columns()
    internet_section = True
    cache = {}
    state_names = STATE_NAMES
    protocols = PROTOCOLS
    for number, line in enumerate(lines, first_line_number):
        tokens = line.split()
        if not tokens:
            continue
        first = tokens[0]
        if first == "Active":
            internet_section = line.startswith("Active Internet")
            continue
        if not internet_section or first in SKIPPED_PROTOCOLS:
            continue
        if first == "Proto":
            columns = _Columns(line)
            continue
        kind = protocols.get(first)
        if kind is None or len(tokens) < 5:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), "not a netstat socket row")
        protocol, table_family = kind
        try:
            local_address, local_port = _endpoint(tokens[3], cache)
            remote_address, remote_port = _endpoint(tokens[4], cache)
            receive_queue = int(tokens[1])
            send_queue = int(tokens[2])
            rest = tokens[5:]
            state = None
            if rest and rest[0] in state_names:
                state = state_names[rest.pop(0)]
            elif protocol == "tcp":
                raise ValueError("no TCP state")
            if protocol == "udp" and state != "ESTABLISHED":
                state = None
            keepalive = None
            if columns.timer and rest:
                timer = _TIMER.search(line)
                if timer is None:
                    raise ValueError("no Timer column")
                rest = rest[: -len(timer.group(0).split())]
                if protocol == "tcp" and state in _KEEPALIVE_STATES:
                    keepalive = _KEEPALIVE_BY_TIMER.get(timer.group(1))
            user = uid = inode = None
            if columns.user_inode and len(rest) >= 2:
                user_text, inode_text = rest[0], rest[1]
                rest = rest[2:]
                inode = int(inode_text)
                if user_text.isdigit():
                    uid = int(user_text)
                else:
                    user = user_text
            pid = process = None
            if columns.program and rest:
                pid, process = _owner(" ".join(rest))
        except ValueError as error:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), str(error)) from error
        # The family follows the addresses: netstat prints IPv4-mapped addresses of tcp6 sockets as plain IPv4, and
        # older net-tools print IPv6 sockets under "tcp"/"udp" (":::22").
        family = socket_family(local_address, remote_address) or (
            "inet6" if tokens[3].startswith("::") else table_family
        )
        yield SocketRecord(
            protocol,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state,
            keepalive,
            pid,
            process,
            user,
            uid,
            inode,
            send_queue,
            receive_queue,
            None,
        )


def parse(text, ports=None, states=None, peers=None, max_connections=None):
    """The ``netdiag.netstat`` dictionary of netstat text. ports/states/peers select sockets as the netstat_facts
    options do; max_connections caps ``connections`` (None = no cap).

    The text is read line by line (never split whole), after a pre-scan that finds the LISTEN rows by searching
    for them, so memory stays near the size of the text itself.
    """
    selection = Selection(ports, states, peers)
    listening = listening_ports_in_text(text)
    return summarize(
        iter_records(iter_lines(text)),
        selection=selection,
        max_connections=max_connections,
        listening_ports=listening,
    )


def iter_lines(text):
    """The lines of a text one at a time (like str.splitlines() on newlines, without a list of them all)."""
    start = 0
    length = len(text)
    while start < length:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def listening_ports_in_text(text):
    """Local ports of every TCP LISTEN row of netstat text, found without parsing the other rows.

    Each line that contains LISTEN between blanks is parsed with the section and column header lines that precede
    it; a line that does not parse is left to the main pass, which reports it.
    """
    context_starts = []  # offsets of the "Active ..." and "Proto ..." lines, which set how the rows after them read
    for word in ("Active", "Proto"):
        offset = text.find(word)
        while offset >= 0:
            line_start = text.rfind("\n", 0, offset) + 1
            if not text[line_start:offset].strip() and _line_at(text, line_start).split()[0] == word:
                context_starts.append(line_start)
            offset = text.find(word, offset + 1)
    context_starts.sort()
    starts = set()
    for pattern in (" LISTEN", "\tLISTEN"):
        offset = text.find(pattern)
        while offset >= 0:
            starts.add(text.rfind("\n", 0, offset) + 1)
            offset = text.find(pattern, offset + 1)
    ports = set()
    for start in sorted(starts):
        # Replay every section and header line before the candidate, so iter_records reads it as in the main pass.
        lines = [_line_at(text, offset) for offset in context_starts if offset < start] + [_line_at(text, start)]
        try:
            records = list(iter_records(lines))
        except ParseError:
            continue
        ports.update(record.local_port for record in records if record.protocol == "tcp" and record.state == "LISTEN")
    return ports


def _line_at(text, start):
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]
