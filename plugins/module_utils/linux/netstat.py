# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of net-tools ``netstat`` socket tables on Linux (format ``linux_netstat``).

Reads ``netstat -an``, ``-tan``, ``-tanp``, ``-tanpo``, ``-tulpen`` and similar: the ``Proto Recv-Q Send-Q Local
Address Foreign Address State`` table with the optional ``User Inode`` (-e), ``PID/Program name`` (-p) and ``Timer``
(-o) columns, whose presence the column header line tells. Pasted excerpts (``netstat -tanp | grep 5555``) have no
header: the optional columns are then recognised per row (see _row_columns). UNIX domain (and other non-Internet)
sections are skipped, and so are raw and UDP-Lite rows. With ``-o`` the Timer column is the /proc/net/tcp ``tr``
field in words, so ``keepalive`` is known exactly as from /proc (see linux_proc_net_tcp); without it, it is null.

Without ``--wide`` netstat cuts long IPv6 addresses to fit its column; such an address is kept as printed (it may
not be a valid address) rather than guessed. Use ``netstat -W`` for full addresses.
"""

from __future__ import annotations

import re
from collections import Counter

from ansible_collections.netdiag.tcp.plugins.module_utils.columns.chunks import iter_lines, newline_chunks
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    WILDCARD,
    SocketRecord,
    Summary,
    canonical_address,
    socket_family,
)

FORMAT_NAME = "linux_netstat"

# net-tools spelling (tcp_state[] in netstat.c) -> the state name of the facts. Those spellings are accepted as well.
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
# With -p and without root, net-tools netstat writes a note to stderr before the table (prg_cache_load in
# netstat.c), and pasted output has it at the top, over one or two lines:
#   (Not all processes could be identified, non-owned process info
#    will not be shown, you would have to be root to see it all.)
# or "(No info could be read for "-p": geteuid()=1000 but you should be root.)". The PID/Program column then
# shows "-" for other users' sockets: their owners stay unknown.
_NOTE_START = "("


class _Columns:
    """Which optional columns the last ``Proto ...`` header line announced."""

    def __init__(self, header=""):
        self.user_inode = "Inode" in header
        self.program = "PID/Program" in header
        self.timer = "Timer" in header


class _Context:
    """What a line leaves for the lines after it: the section it is in and the columns of the last header."""

    __slots__ = ("columns", "header_seen", "internet_section", "in_note")

    def __init__(self):
        self.columns = _Columns()
        self.internet_section = True
        self.header_seen = False
        self.in_note = False  # inside a parenthesised note of netstat's (see _NOTE_START)


_PROGRAM = re.compile(r"^(?:\d+/\S|-$)")


def _row_columns(rest, line):
    """The optional columns of a row read without a header line above it (a grep excerpt), from the row itself.

    rest: the words after the state (after the addresses for a UDP row without state). ``-o`` ends the row with
    a Timer ``word (a/b/c)``; ``-e`` puts a user (name or uid) and a numeric inode first; ``-p`` a ``pid/program``
    or ``-``, the program possibly cut into words with spaces. A row without any of them gives no columns.
    """
    columns = _Columns()
    timer = _TIMER.search(line) if rest and rest[-1].endswith(")") else None
    if timer is not None:
        columns.timer = True
        rest = rest[: -len(timer.group(0).split())]
    if len(rest) >= 2 and rest[1].isdigit() and "/" not in rest[0] and rest[0] != "-":
        columns.user_inode = True
        rest = rest[2:]
    if rest and _PROGRAM.match(rest[0]):
        columns.program = True
    return columns


def _endpoint(text, cache):
    """'10.0.0.1:22' -> (canonical address, port or None); cached per address text."""
    address_text, separator, port_text = text.rpartition(":")
    if not separator:
        raise ValueError("%r is not address:port" % text)
    address = _address(address_text, cache)
    if port_text == WILDCARD:
        return address, None
    return address, int(port_text) or None


def _address(address_text, cache):
    """Canonical text of an address as netstat printed it (an IPv6 address cut to fit is kept, in lower case)."""
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
    return address


def _owner(text):
    """'1234/sshd: root@pts' -> (1234, 'sshd: root@pts'); '-' -> (None, None)."""
    pid, separator, program = text.partition("/")
    if separator and pid.isdigit():
        return int(pid), program or None
    return None, None


def iter_records(lines, first_line_number=1, context=None, cache=None):
    """Yield a SocketRecord per tcp/tcp6/udp/udp6 row of netstat output. Raises ParseError naming the line on
    anything else than headers, blank lines, skipped sections and socket rows.

    context: a _Context to continue from (and leave updated) when a text is read in pieces; cache: a dict of
    canonical addresses to share between calls.
    """
    context = _Context() if context is None else context
    columns = context.columns
    internet_section = context.internet_section
    cache = {} if cache is None else cache
    state_names = STATE_NAMES
    protocols = PROTOCOLS
    for number, line in enumerate(lines, first_line_number):
        tokens = line.split()
        if not tokens:
            continue
        first = tokens[0]
        if context.in_note:  # the note's second line
            context.in_note = False
            continue
        if first.startswith(_NOTE_START):
            context.in_note = not line.rstrip().endswith(")")
            continue
        if first == "Active":
            internet_section = context.internet_section = line.startswith("Active Internet")
            continue
        if not internet_section or first in SKIPPED_PROTOCOLS:
            continue
        if first == "Proto":
            columns = context.columns = _Columns(line)
            context.header_seen = True
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
            if not context.header_seen:
                columns = _row_columns(rest, line)
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


def parse(text, ports=None, states=None, peers=None, max_connections=None, tuples=False):
    """The ``netdiag.netstat`` dictionary of netstat text. ports/states/peers select sockets as the netstat_facts
    options do; max_connections caps ``connections`` (None = no cap); tuples adds ``established_tuples``.

    The text is read a chunk of lines at a time (never split whole; see TextReader), after a pre-scan that finds
    the LISTEN rows by searching for them, so memory stays near the size of the text itself.
    """
    summary = Summary(Selection(ports, states, peers), max_connections, listening_ports_in_text(text), tuples=tuples)
    TextReader(summary).read(text)
    return summary.result()


# Characters per chunk of TextReader: large enough that per-chunk work vanishes, small enough to keep memory flat.
# The first chunk is smaller (the first rows fill the connections list, which the per-line parser does), and each
# next one twice as big up to CHUNK_CHARACTERS.
FIRST_CHUNK_CHARACTERS = 1 << 16
CHUNK_CHARACTERS = 1 << 20
# TCP states a row read by TextReader's pattern may have: all but LISTEN, whose rows become listener records.
_COUNTED_STATES = "|".join(
    sorted((name for name in STATE_NAMES if name != "LISTEN"), key=lambda name: (-len(name), name))
)
# Address text (hex digits, dots, colons) up to the last colon before the port; _address() checks it later.
_ADDRESS = "[0-9A-Fa-f.:]+"
# One TCP row (Proto, Recv-Q, Send-Q, local address:port, remote address:port, state, optional columns), or a
# blank line. Inbound rows (the local port is a listening port) give group 1: local address:port and the remote
# address, and 2: the state; outbound rows give 3: the local address, and 4: the remote address:port and the
# state. The ephemeral port is never in a group, and the padding inside a group only depends on the text around
# it, so few distinct matches remain.
_ROW_PATTERN = (
    r"\n(?:tcp6? +[0-9]+ +[0-9]+ +"
    r"(?:(<ADDRESS>:0*(?:<LISTENING>) +<ADDRESS>):[0-9]+ +(<STATES>)"
    r"|(<ADDRESS>):[0-9]+ +(<ADDRESS>:[0-9]+ +(?:<STATES>)))"
    r"(?=[ \r\n])[^\n]*| *)(?=\n)"
).replace("<ADDRESS>", _ADDRESS)
_PATTERNS = {}


class TextReader:
    """Reads netstat text into a socket_records.Summary: whole chunks at once where the rows allow, else by line.

    Most rows of a big table are TCP rows that only add to counts once the ``connections`` list is full. A chunk
    of such rows is read with one ``findall`` of a pattern that keeps, per row, only what the counts need, and
    drops the ephemeral port: the local port when it is a listening port (the remote one is then the client's),
    else the remote port (the service). So the matches collapse onto a few distinct keys, counted in C by
    ``collections.Counter``; addresses, state names and the selection are then worked out once per distinct key.
    Every match starts at the newline before its line and cannot cross another, so "as many matches as lines"
    proves that every line of the chunk is such a row. Any other chunk (headers, LISTEN rows, UDP, other
    sections, ``-o``/``-e`` columns, a ``ports`` selection, rows in another shape, garbage) is read line by line by
    iter_records(), in order, so the result and any ParseError (with its line number) are the per-line parser's.
    """

    def __init__(self, summary):
        self.summary = summary
        self.context = _Context()
        self.cache = {}
        self.matches = Counter()  # matches of the chunks read with the pattern, counted at the end of the text

    def read(self, text):
        line_number = 1
        try:
            for chunk in newline_chunks(text, CHUNK_CHARACTERS, FIRST_CHUNK_CHARACTERS):
                lines = chunk.count("\n") + (not chunk.endswith("\n"))
                if not self._counted(chunk, lines):
                    self.summary.add_records(iter_records(iter_lines(chunk), line_number, self.context, self.cache))
                line_number += lines
            counts = self._distinct_counts()
        except (ParseError, ValueError) as error:
            # The addresses of counted rows are checked once per distinct match, at the end or when a later line
            # is bad: when one is not an address, an earlier line than the reported one may be bad. The per-line
            # parser then reads the text again from the start and raises on the first bad line.
            if isinstance(error, ParseError) and not self._bad_address_counted():
                raise
            for _record in iter_records(iter_lines(text)):
                pass
            raise ParseError(FORMAT_NAME, 0, "", str(error)) from error  # not reached: iter_records raised
        self._add(counts)

    def _bad_address_counted(self):
        try:
            self._distinct_counts()
        except ValueError:
            return True
        return False

    def _counted(self, chunk, lines):
        """Count a chunk of rows with the pattern; False (nothing counted) when any line is not such a row."""
        summary = self.summary
        listening = summary.listening
        context = self.context
        if (
            summary.room() != 0
            or not listening
            or None in listening
            or (summary.selection is not None and summary.selection.ports)
            or not context.internet_section
            or not context.header_seen  # rows without a header are read by line: their columns differ per row
            or context.columns.timer
            or context.columns.user_inode
        ):
            return False
        matches = _row_pattern(listening).findall("\n" + chunk if chunk.endswith("\n") else "\n" + chunk + "\n")
        if len(matches) != lines:
            return False
        self.matches.update(matches)
        return True

    def _distinct_counts(self):
        """((direction, service port), remote address, state, count) per distinct match of the counted chunks.

        Raises ValueError when an address of a match is not one (_address).
        """
        counts = []
        cache = self.cache
        for (inbound, inbound_state, local, outbound), count in self.matches.items():
            if inbound:
                local_port, remote = inbound.split()
                local, _colon, port_text = local_port.rpartition(":")
                direction = ("inbound", int(port_text))  # direction and service port as service_port_of() does
                state = inbound_state
            elif outbound:
                remote_port, state = outbound.split()
                remote, _colon, port_text = remote_port.rpartition(":")
                direction = ("outbound", int(port_text) or None)
            else:
                continue  # a blank line
            _address(local, cache)
            counts.append((direction, _address(remote, cache), STATE_NAMES[state], count))
        return counts

    def _add(self, counts):
        """The distinct counts into the summary, with the selection applied once per distinct key."""
        summary = self.summary
        selection = summary.selection
        total = selected = 0
        states = {}
        peers = {}
        peer_selected = {}
        for (direction, service_port), remote, state, count in counts:
            total += count
            if not summary.selects_all:
                chosen = peer_selected.get(remote)
                if chosen is None:
                    chosen = peer_selected[remote] = selection.peer_selected(remote)
                if not (chosen and selection.state_selected(state)):
                    continue
            selected += count
            states[state] = states.get(state, 0) + count
            if state == "ESTABLISHED":
                peer = (direction, service_port, remote, None)  # no Timer column: keepalive unknown
                peers[peer] = peers.get(peer, 0) + count
        self.matches = Counter()
        summary.add_counts(total, selected, "tcp", states, peers)
        if selected:
            summary.truncated = True  # the connections list was full (see _counted)


def _row_pattern(listening):
    """TextReader's compiled pattern for a set of listening ports (none of them None)."""
    key = frozenset(listening)
    pattern = _PATTERNS.get(key)
    if pattern is None:
        if len(_PATTERNS) >= 16:
            _PATTERNS.clear()
        ports = "|".join(str(port) for port in sorted(key, reverse=True))
        pattern = _PATTERNS[key] = re.compile(
            _ROW_PATTERN.replace("<LISTENING>", ports).replace("<STATES>", _COUNTED_STATES)
        )
    return pattern


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
