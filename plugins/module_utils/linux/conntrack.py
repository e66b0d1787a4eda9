# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser and streaming aggregator for the Linux conntrack table.

Three layouts of the same per-entry text are read:

* ``/proc/net/nf_conntrack``: ``ipv4     2 tcp      6 431999 ESTABLISHED src=... dst=... sport=... dport=...
  src=... dst=... sport=... dport=... [ASSURED] mark=0 zone=0 use=2`` (l3 name and number first);
* legacy ``/proc/net/ip_conntrack`` (kernels before nf_conntrack): the same without the two l3 columns;
* ``conntrack -L`` (no l3 columns) and ``conntrack -L -o extended`` (with them); the trailing
  ``conntrack v1.4.x (conntrack-tools): N flow entries have been shown.`` summary is not an entry.

The kernel prints (net/netfilter/nf_conntrack_standalone.c, ct_seq_show): l3 name and number, l4 name and number,
the timeout in seconds (left out for offloaded flows), the l4 state (TCP, SCTP, DCCP only), the original tuple,
``zone-orig=``, ``packets=``/``bytes=`` when accounting is on, ``[UNREPLIED]``, the reply tuple, ``zone-reply=``,
its accounting, one of ``[HW_OFFLOAD]``/``[OFFLOAD]``/``[ASSURED]``, ``mark=``, ``secctx=``, ``zone=``,
``delta-time=`` and ``use=``. IPv6 addresses are printed fully expanded (%pI6); they are reported in the compressed
form Python's ``ipaddress`` prints.

The table can hold millions of entries: ``TableSummary`` reads it in bounded chunks (``consume_stream`` for a file
or a process's stdout, ``consume_text`` for captured text) and keeps only counters, so memory depends on the number
of distinct sources/destinations, never on the number of entries. See ``TableSummary`` for how a chunk is read.
"""

from __future__ import annotations

import collections
import ipaddress
import operator
import re
import socket

from ansible_collections.netdiag.tcp.plugins.module_utils.columns.chunks import newline_chunks
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection

FORMAT = "linux_conntrack"

# TCP states as conntrack prints them (tcp_conntrack_names in nf_conntrack_proto_tcp.c). They are not the socket
# state names: conntrack has SYN_RECV, one FIN_WAIT, CLOSE, SYN_SENT2 and NONE.
TCP_STATES = (
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
    "LISTEN",
)

# A user who asks for socket state names (as netstat prints them) gets the conntrack state that covers them.
STATE_ALIASES = {
    "SYN_RECEIVED": "SYN_RECV",
    "FIN_WAIT_1": "FIN_WAIT",
    "FIN_WAIT_2": "FIN_WAIT",
    "FIN_WAIT1": "FIN_WAIT",
    "FIN_WAIT2": "FIN_WAIT",
    "CLOSED": "CLOSE",
}

_INTEGER_KEYS = frozenset(
    (
        "sport",
        "dport",
        "type",
        "code",
        "id",
        "packets",
        "bytes",
        "mark",
        "secmark",
        "use",
        "zone",
        "zone-orig",
        "zone-reply",
        "delta-time",
        "portproto",
    )
)
# Keys that belong to a tuple (and so to a direction); every other key=value is about the whole entry.
_TUPLE_KEYS = frozenset(
    (
        "src",
        "dst",
        "sport",
        "dport",
        "type",
        "code",
        "id",
        "srckey",
        "dstkey",
        "packets",
        "bytes",
        "zone-orig",
        "zone-reply",
    )
)
_SUMMARY = re.compile(
    r"^conntrack v\d[\w.\-]* \(conntrack-tools\): \d+ (?:flow|expectation) entries have been shown\.$"
)

# Every entry line ends with use=N (the kernel and conntrack-tools print it last).
_COMPLETE_END = re.compile(r"\buse=\d+\s*$")

# Keys the top-talker counters keep (at most twice this many between two prunings; see _bound).
HEAVY_HITTER_CAPACITY = 10000

# Bytes read per chunk: large enough that the per-chunk overhead vanishes, small enough to keep memory flat.
CHUNK_SIZE = 1 << 20

# One table line in the layouts the kernel (ct_seq_show) and conntrack-tools print, for the chunk fast path.
# Every match starts at the newline before its line and may not contain one, so matches == lines proves that each
# line matched whole. The grammar is deliberately narrow: it accepts only lines on which TableSummary.add_line
# takes its own fast path and reads the same fields (one space between tuple tokens, each token exactly one '=' or
# one '[', no third src=, the flags where add_line looks for them); a chunk with any other line is read line by
# line. Values are printable ASCII without space, '=' and '[', so no other whitespace or line break gets in.
_DIGITS = "[0-9]+"
_VALUE = r"[!-<>-Z\\\]-~]*"


def _tuple_rest(direction):
    """What follows src= dst= in a tuple: ports or ICMP type/code/id, the zone of the direction, accounting."""
    return "(?: sport=<D> dport=<D>| type=<D> code=<D> id=<D>)?(?: zone-%s=<D>)?(?: packets=<D> bytes=<D>)?" % direction


# <D> digits, <V> a value, <REPLY> the rest of the reply tuple, <SPORT> the sport group (see _entry_patterns).
_ENTRY_SOURCE = (
    r"\n *(?:(?:"
    # l3 name and number (nf_conntrack, conntrack -o extended), l4 name and number, timeout, state
    r"(?:[a-z][a-z0-9]* +<D> +)?([a-z][a-z0-9]*) +<D> +(?:<D> +)?(?:([A-Z][A-Z0-9_]*) +)?"
    # original tuple: src, dst, the sport group, dport (or ICMP type/code/id), zone, accounting; [UNREPLIED]
    r"src=(<V>) dst=(<V>)(?: sport=(?:<SPORT>) dport=(<D>)| type=<D> code=<D> id=<D>)?"
    r"(?: zone-orig=<D>)?(?: packets=<D> bytes=<D>)?( \[UNREPLIED\])?"
    # reply tuple, then the flag add_line reads ([ASSURED]) or an offload flag, and the entry's own keys
    r" src=<V> dst=<V><REPLY>( \[ASSURED\]| \[(?:HW_)?OFFLOAD\])?"
    r"(?: mark=<D>)?(?: secctx=<V>)?(?: zone=<D>)?(?: delta-time=<D>)? use=<D>"
    # or the conntrack -L summary line; or nothing (a blank line). The trailing spaces belong to the first two: two
    # runs of spaces with nothing between them made a line of spaces quadratic (128 KB took a raw audit 70 s).
    r"|conntrack v[0-9][0-9A-Za-z_.\-]* \(conntrack-tools\): [0-9]+ (?:flow|expectation) entries have been shown\."
    r") *)?(?=\n)"
)
_ENTRY_SOURCE = _ENTRY_SOURCE.replace("<REPLY>", _tuple_rest("reply")).replace("<V>", _VALUE).replace("<D>", _DIGITS)
# Groups of a match, in order.
_PROTOCOL, _STATE, _SOURCE, _DESTINATION, _SPORT_SELECTED, _DPORT, _UNREPLIED, _FLAG = range(8)
_ASSURED_FLAG = " [ASSURED]"
_NOT_AN_ENTRY = ("", "")  # (protocol, state) of a blank or summary line
_PATTERN_CACHE = {}


def _entry_patterns(ports):
    """(str pattern, bytes pattern) for a ports filter (a frozenset, maybe empty): index them with is-bytes.

    Without ports the sport group is always empty. With ports it holds the sport when that is one of them (leading
    zeros allowed, as int() reads them), so the entries still collapse onto few distinct keys.
    """
    patterns = _PATTERN_CACHE.get(ports)
    if patterns is None:
        sport = "0*(%s)(?= )|%s" % ("|".join(str(port) for port in sorted(ports)), _DIGITS) if ports else "()" + _DIGITS
        source = _ENTRY_SOURCE.replace("<SPORT>", sport)
        if len(_PATTERN_CACHE) >= 32:  # a controller may parse with many different port lists
            _PATTERN_CACHE.clear()
        patterns = _PATTERN_CACHE[ports] = (re.compile(source), re.compile(source.encode("ascii")))
    return patterns


def _split_on_newlines(text):
    """Lines of text as a file object yields them (only \\n ends a line)."""
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def _split_text_lines(text):
    """Lines as str.splitlines(True) cuts them (what parse() has always used)."""
    return text.splitlines(True)


_ADDRESS_CACHE = {}
_ADDRESS_CACHE_LIMIT = 65536


def packet_address(text):
    """Canonical text of a conntrack address as the kernel printed it (IPv6 compressed); unparsable text is kept.

    Not core.socket_records.canonical_address, which reads socket tables: there 0.0.0.0 and :: mean "any" and become
    "*", and text that is not an address is an error. A conntrack address is the address a packet carried.

    Cached: a table of millions of entries has far fewer distinct addresses, and ipaddress is slow.
    """
    cached = _ADDRESS_CACHE.get(text)
    if cached is not None:
        return cached
    if ":" not in text:
        try:
            socket.inet_pton(socket.AF_INET, text)  # strict dotted quad (no leading zeros): already canonical
            return text
        except (OSError, ValueError):
            pass
    try:
        canonical = ipaddress.ip_address(text).compressed
    except ValueError:
        # Not an address (a redacted capture, say): keep the text rather than lose the entry.
        canonical = text
    if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_LIMIT:
        _ADDRESS_CACHE.clear()
    _ADDRESS_CACHE[text] = canonical
    return canonical


def is_summary_line(line):
    """The `conntrack -L` footer (printed on stderr, but often captured with the table)."""
    return _SUMMARY.match(line.strip()) is not None


def _bracket_tokens(tokens):
    """Join bracketed flags that contain spaces (conntrack prints ``[start=Mon Jan  1 ...]`` with -o timestamp)."""
    joined = []
    pending = None
    for token in tokens:
        if pending is not None:
            pending.append(token)
            if token.endswith("]"):
                joined.append(" ".join(pending))
                pending = None
        elif token.startswith("[") and not token.endswith("]"):
            pending = [token]
        else:
            joined.append(token)
    if pending is not None:
        joined.append(" ".join(pending))
    return joined


def parse_entry(line, line_number=1):
    """One conntrack entry as a dict, or None for a blank line or the `conntrack -L` summary line.

    Raises ParseError naming the line when the text is not a conntrack entry.
    """
    tokens = line.split()
    if not tokens or is_summary_line(line):
        return None
    if "[" in line:
        tokens = _bracket_tokens(tokens)
    count = len(tokens)
    entry = {
        "l3proto": None,
        "l3protonum": None,
        "protocol": None,
        "protonum": None,
        "timeout": None,
        "state": None,
        "original": {},
        "reply": {},
        "flags": [],
    }
    index = 0
    # With l3 columns: name, number, name, number ("ipv4 2 tcp 6"); without: name, number, then timeout or a tuple.
    if count > 3 and tokens[1].isdigit() and tokens[3].isdigit() and "=" not in tokens[2] and not tokens[2].isdigit():
        entry["l3proto"] = tokens[0]
        entry["l3protonum"] = int(tokens[1])
        index = 2
    if count < index + 2 or not tokens[index + 1].isdigit() or "=" in tokens[index] or tokens[index].isdigit():
        raise ParseError(FORMAT, line_number, line, "expected a protocol name and number")
    entry["protocol"] = tokens[index]
    entry["protonum"] = int(tokens[index + 1])
    index += 2
    if index < count and tokens[index].isdigit():
        entry["timeout"] = int(tokens[index])
        index += 1
    if index < count and "=" not in tokens[index] and not tokens[index].startswith("["):
        entry["state"] = tokens[index]
        index += 1
    direction = None
    for token in tokens[index:]:
        if token.startswith("["):
            if not token.endswith("]"):
                raise ParseError(FORMAT, line_number, line, "unterminated flag %r" % token)
            entry["flags"].append(token[1:-1])
            continue
        key, separator, value = token.partition("=")
        if not separator or not key:
            raise ParseError(FORMAT, line_number, line, "unexpected token %r" % token)
        if key == "src":
            if direction is None:
                direction = entry["original"]
            elif direction is entry["original"]:
                direction = entry["reply"]
            else:
                raise ParseError(FORMAT, line_number, line, "more than two tuples")
        if key in _INTEGER_KEYS:
            try:
                value = int(value)
            except ValueError:
                raise ParseError(FORMAT, line_number, line, "%s is not a number" % key) from None
        elif key in ("src", "dst"):
            value = packet_address(value)
        if key in _TUPLE_KEYS and not (key in ("packets", "bytes") and direction is None):
            if direction is None:
                raise ParseError(FORMAT, line_number, line, "%s= before the original tuple" % key)
            direction[key] = value
        else:
            entry[key.replace("-", "_")] = value
    for name in ("original", "reply"):
        if "src" not in entry[name] or "dst" not in entry[name]:
            raise ParseError(FORMAT, line_number, line, "no %s tuple (src=/dst=)" % name)
    flags = entry["flags"]
    entry["unreplied"] = "UNREPLIED" in flags
    entry["assured"] = "ASSURED" in flags
    entry["offload"] = "OFFLOAD" in flags or "HW_OFFLOAD" in flags
    return entry


def numbered_lines(lines):
    """(line_number, line, is_last) for every line; is_last tells the final line apart for truncation handling."""
    previous = None
    number = 0
    for line in lines:
        if previous is not None:
            yield number, previous, False
        number += 1
        previous = line
    if previous is not None:
        yield number, previous, True


def iter_entries(lines, counters=None):
    """Parsed entries from an iterator of lines (file object, process stdout, list), one at a time.

    A last line without its newline that does not parse is a table read while it changed: it is counted in
    counters["truncated_lines"] (when a dict is given) and skipped. Any other unreadable line raises ParseError.
    """
    for number, line, is_last in numbered_lines(lines):
        try:
            entry = parse_entry(line, number)
        except ParseError:
            if is_last and not line.endswith("\n"):
                if counters is not None:
                    counters["truncated_lines"] = counters.get("truncated_lines", 0) + 1
                continue
            raise
        if entry is not None:
            yield entry


class TableSummary:
    """Counters over a conntrack table, fed line by line; never keeps an entry.

    Entries are selected with a Selection: ports match the original sport or dport, peers the original src or dst,
    states the conntrack TCP state (socket names such as SYN_RECEIVED are accepted, see STATE_ALIASES; entries
    without a state, UDP and ICMP, are not selected when states are given).

    Speed: a table can hold millions of lines, and per-line Python work costs microseconds. ``consume_stream`` and
    ``consume_text`` cut the input into chunks of about CHUNK_SIZE that end at a newline and read a whole chunk with
    one ``findall`` of a compiled pattern (the fields the counters need, for every line), then count the matches
    with ``collections.Counter`` (both in C). Only when the pattern did not match every line of the chunk (a
    layout or a key it does not cover, garbage) is that chunk read line by line with ``add_line``, so results and
    ParseError messages (with the line number) are the same either way. ``add_line`` reads the few fields with
    string operations; a line that is not in the common shape (every token after the l4 columns a ``key=value``
    or a ``[FLAG]``, exactly two tuples) goes through ``parse_entry``, which reads everything and raises
    ParseError on text it does not recognise. Addresses are counted as the kernel printed them; canonical text
    and the filters are computed once per distinct address or key, never per line.
    """

    def __init__(self, top=10, selection=None, capacity=HEAVY_HITTER_CAPACITY):
        if isinstance(top, bool) or not isinstance(top, int) or top < 0:
            raise ValueError("top: %r is not a number >= 0" % (top,))
        if capacity < max(top, 1):
            raise ValueError("capacity: %r is smaller than top" % (capacity,))
        self.top = top
        self.capacity = capacity
        # Total decrements of the bounded counters (see _bound): every count reported is low by at most this.
        self.source_error = 0
        self.destination_error = 0
        self.selection = selection if selection is not None else Selection()
        self._states = frozenset(STATE_ALIASES.get(state, state) for state in self.selection.states)
        self._peer_cache = {}
        self.counters = {"truncated_lines": 0}
        self.entries_parsed = 0
        self.entries_selected = 0
        self.states = {}  # (protocol, state) -> count
        self.unreplied = 0
        self.assured = 0
        self.sources = {}  # address as printed -> count
        self.destinations = {}  # (address as printed, port text or None) -> count
        # Counters fed by whole chunks (keys as matched: str, or bytes from a binary stream), merged in result().
        self._chunk_flags = collections.Counter()  # (protocol, state, unreplied, flag) -> count
        self._chunk_sources = collections.Counter()  # source -> count
        self._chunk_destinations = collections.Counter()  # (destination, dport) -> count
        self._patterns = _entry_patterns(self.selection.ports)
        self._key_selected = {}  # (state, sport selected, dport) -> bool, for the states and ports filters

    def _peer_selected(self, address):
        selected = self._peer_cache.get(address)
        if selected is None:
            if len(self._peer_cache) >= _ADDRESS_CACHE_LIMIT:
                self._peer_cache.clear()
            selected = self._peer_cache[address] = self.selection.peer_selected(packet_address(address))
        return selected

    def _count(self, protocol, state, source, destination, sport, dport, unreplied, assured):
        """One entry; sport/dport are the digits as printed (or None), addresses as printed."""
        self.entries_parsed += 1
        if not self.selection.selects_all:
            if self._states and state not in self._states:
                return
            if self.selection.ports and not self.selection.port_selected(
                None if sport is None else int(sport), None if dport is None else int(dport)
            ):
                return
            if self.selection.networks and not (self._peer_selected(source) or self._peer_selected(destination)):
                return
        self.entries_selected += 1
        key = (protocol, state)
        self.states[key] = self.states.get(key, 0) + 1
        if unreplied:
            self.unreplied += 1
        if assured:
            self.assured += 1
        self.sources[source] = self.sources.get(source, 0) + 1
        key = (destination, dport)
        self.destinations[key] = self.destinations.get(key, 0) + 1
        if len(self.sources) > 2 * self.capacity or len(self.destinations) > 2 * self.capacity:
            self._bound_counters()

    def add(self, entry):
        """A parsed entry (from parse_entry)."""
        original = entry["original"]
        sport, dport = original.get("sport"), original.get("dport")
        self._count(
            entry["protocol"],
            entry["state"],
            original["src"],
            original["dst"],
            None if sport is None else str(sport),
            None if dport is None else str(dport),
            entry["unreplied"],
            entry["assured"],
        )

    def add_line(self, line, line_number=0):
        """One line of the table (entries, blank lines and the conntrack -L summary line)."""
        first = line.find("src=")
        second = line.find(" src=", first) if first > 0 else -1
        if second < 0 or line.find(" src=", second + 5) >= 0:
            return self._add_slowly(line, line_number)
        head = line[:first].split()
        tail = line[first:].rstrip()
        # Every token after the l4 columns is key=value (one "=") or a [FLAG], one space apart (as the kernel and
        # conntrack-tools print them): else read the line fully. Counting characters is much cheaper than a split.
        if tail.count(" ") + 1 != tail.count("=") + tail.count("["):
            return self._add_slowly(line, line_number)
        count = len(head)
        index = 2 if count >= 4 and head[1].isdigit() and head[3].isdigit() and not head[2].isdigit() else 0
        if count < index + 2 or not head[index + 1].isdigit() or count > index + 4:
            return self._add_slowly(line, line_number)
        protocol = head[index]
        state = None
        if count == index + 4:
            if not head[index + 2].isdigit():
                return self._add_slowly(line, line_number)
            state = head[index + 3]
        elif count == index + 3 and not head[index + 2].isdigit():
            state = head[index + 2]
        if state is not None and (state.isdigit() or state[0] == "["):
            return self._add_slowly(line, line_number)
        original = line[first:second].split()
        if len(original) < 2 or original[1][:4] != "dst=":
            return self._add_slowly(line, line_number)
        sport = dport = None
        if len(original) >= 4 and original[2][:6] == "sport=" and original[3][:6] == "dport=":
            sport, dport = original[2][6:], original[3][6:]
            if not (sport.isdigit() and dport.isdigit()):
                return self._add_slowly(line, line_number)
        self._count(
            protocol,
            state,
            original[0][4:],
            original[1][4:],
            sport,
            dport,
            "[UNREPLIED]" in original,
            line.find("[ASSURED]", second) >= 0,
        )
        return None

    def _add_slowly(self, line, line_number):
        entry = parse_entry(line, line_number)
        if entry is not None:
            self.add(entry)

    def consume(self, lines):
        """Every line of an iterator; a last line cut short (no newline, no final use=N) is counted and skipped."""
        for number, line, is_last in numbered_lines(lines):
            self._add_line_checked(line, number, is_last)
        return self

    # --- whole chunks ------------------------------------------------------------------------------------------

    def consume_stream(self, stream, encoding="utf-8", errors="replace"):
        """Every line of a file object (binary or text), read CHUNK_SIZE at a time.

        A binary stream is read as open(path, encoding=encoding, errors=errors) would read it (universal newlines);
        ASCII chunks, which a table normally is throughout, are matched without decoding them.
        """
        read = stream.read
        return self.consume_chunks(iter(lambda: read(CHUNK_SIZE), stream.read(0)), encoding, errors)

    def consume_chunks(self, chunks, encoding="utf-8", errors="replace"):
        """Every line of an iterator of byte chunks of any size (as consume_stream reads them from a stream)."""
        return self._consume_chunks(chunks, _split_on_newlines, encoding, errors)

    def consume_text(self, text):
        """Every line of captured text, cut into lines as str.splitlines(True) cuts them."""
        chunks = newline_chunks(text, CHUNK_SIZE)
        return self._consume_chunks(chunks, _split_text_lines, "utf-8", "replace")

    def _consume_chunks(self, chunks, split_lines, encoding, errors):
        """Chunks of any size; complete lines are read a chunk at a time, what follows the last newline at the end.

        The pattern starts each match at the newline before its line, so each piece handed to _add_chunk starts
        with one: the newline that ended the previous chunk's last complete line is carried in front of its rest.
        """
        pending = None  # that newline and the incomplete line after it
        line_number = 0
        for chunk in chunks:
            newline = b"\n" if isinstance(chunk, bytes) else "\n"
            first = chunk.find(newline)
            if first < 0:
                pending = (pending or newline) + chunk
                continue
            # The line the previous chunk began, completed (small: one line), then this chunk's complete lines
            # in place, without copying the chunk.
            joined = (pending or newline) + chunk[: first + 1]
            line_number = self._add_chunk(joined, 0, len(joined), line_number, split_lines, encoding, errors)
            last = chunk.rfind(newline)
            if last > first:
                line_number = self._add_chunk(chunk, first, last + 1, line_number, split_lines, encoding, errors)
            pending = chunk[last:]
        rest = pending[1:] if pending else None
        if rest:
            if isinstance(rest, bytes):
                rest = self._decoded(rest, encoding, errors)
            lines = split_lines(rest)
            for offset, line in enumerate(lines, line_number + 1):
                self._add_line_checked(line, offset, offset == line_number + len(lines))
        return self

    @staticmethod
    def _decoded(chunk, encoding, errors):
        """Bytes as a text-mode file object returns them: decoded, \\r\\n and \\r turned into \\n."""
        text = chunk.decode(encoding, errors)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text

    def _add_chunk(self, data, start, stop, line_number, split_lines, encoding, errors):
        """The complete lines data[start + 1 : stop] (data[start] and data[stop - 1] are newlines).

        Returns the number of the last line.
        """
        pattern = self._patterns[isinstance(data, bytes)]
        matches = pattern.findall(data, start, stop)
        if len(matches) != data.count(data[start : start + 1], start + 1, stop):
            # Not ASCII, a \\r, or a line the pattern does not cover: read these lines as text, one by one.
            chunk = data[start + 1 : stop]
            if isinstance(chunk, bytes):
                chunk = self._decoded(chunk, encoding, errors)
            return self._add_lines(split_lines(chunk), line_number)
        self._count_matches(matches)
        return line_number + len(matches)

    def _add_lines(self, lines, line_number):
        for number, line in enumerate(lines, line_number + 1):
            self.add_line(line, number)
        return line_number + len(lines)

    def _add_line_checked(self, line, line_number, is_last):
        """One line; a last line cut short (no newline, and no final use=N or not readable) is counted, skipped."""
        if is_last and not line.endswith("\n") and line.strip() and _COMPLETE_END.search(line) is None:
            self.counters["truncated_lines"] += 1
            return
        try:
            self.add_line(line, line_number)
        except ParseError:
            if is_last and not line.endswith("\n"):
                self.counters["truncated_lines"] += 1
                return
            raise

    def _bound_counters(self):
        """Keep the source and destination counters within 2 * capacity keys (Misra-Gries, see _bound)."""
        self.source_error += _bound(self.sources, self.capacity) + _bound(self._chunk_sources, self.capacity)
        self.destination_error += _bound(self.destinations, self.capacity) + _bound(
            self._chunk_destinations, self.capacity
        )

    def _count_matches(self, matches):
        """Counters over the matches of one chunk: in C when nothing is filtered, else once per distinct key."""
        if len(self._chunk_sources) > 2 * self.capacity or len(self._chunk_destinations) > 2 * self.capacity:
            self._bound_counters()
        if self.selection.selects_all:
            self._chunk_flags.update(map(operator.itemgetter(_PROTOCOL, _STATE, _UNREPLIED, _FLAG), matches))
            self._chunk_sources.update(map(operator.itemgetter(_SOURCE), matches))
            self._chunk_destinations.update(map(operator.itemgetter(_DESTINATION, _DPORT), matches))
            return
        flags, sources, destinations = self._chunk_flags, self._chunk_sources, self._chunk_destinations
        for match, count in collections.Counter(matches).items():
            if not match[_PROTOCOL]:
                flags[match[_PROTOCOL], match[_STATE], match[_UNREPLIED], match[_FLAG]] += count
                continue
            self.entries_parsed += count
            if not self._match_selected(match):
                continue
            self.entries_selected += count
            flags[match[_PROTOCOL], match[_STATE], match[_UNREPLIED], match[_FLAG]] += count
            sources[match[_SOURCE]] += count
            destinations[match[_DESTINATION], match[_DPORT]] += count

    def _match_selected(self, match):
        key = (match[_STATE], match[_SPORT_SELECTED], match[_DPORT])
        selected = self._key_selected.get(key)
        if selected is None:
            state, sport_selected, dport = (_text(value) for value in key)
            selected = not (self._states and (state or None) not in self._states)
            if selected and self.selection.ports:
                selected = bool(sport_selected) or (bool(dport) and int(dport) in self.selection.ports)
            self._key_selected[key] = selected
        if not selected:
            return False
        return not self.selection.networks or (
            self._peer_selected(_text(match[_SOURCE])) or self._peer_selected(_text(match[_DESTINATION]))
        )

    def _merge_chunk_counters(self):
        """Fold the chunk counters (keys as matched) into the per-line ones (str keys as add_line keeps them)."""
        not_counted = 0  # blank and summary lines: counted as keys by the C-level counting, never entries
        for (protocol, state, unreplied, flag), count in self._chunk_flags.items():
            if not protocol:
                not_counted += count
                continue
            if self.selection.selects_all:
                self.entries_parsed += count
                self.entries_selected += count
            key = (_text(protocol), _text(state) or None)
            self.states[key] = self.states.get(key, 0) + count
            if unreplied:
                self.unreplied += count
            if _text(flag) == _ASSURED_FLAG:
                self.assured += count
        for address, count in self._chunk_sources.items():
            address = _text(address)
            self.sources[address] = self.sources.get(address, 0) + count
        for (address, port), count in self._chunk_destinations.items():
            key = (_text(address), _text(port) or None)
            self.destinations[key] = self.destinations.get(key, 0) + count
        if self.selection.selects_all and not_counted:
            # Unfiltered chunks counted blank lines' empty source and destination too; take them out again.
            self._remove(self.sources, "", not_counted)
            self._remove(self.destinations, ("", None), not_counted)
        self._chunk_flags.clear()
        self._chunk_sources.clear()
        self._chunk_destinations.clear()

    @staticmethod
    def _remove(counts, key, count):
        remaining = counts[key] - count
        if remaining:
            counts[key] = remaining
        else:
            del counts[key]

    def result(self):
        self._merge_chunk_counters()
        state_counts = {}
        protocol_counts = {}
        for (protocol, state), count in self.states.items():
            protocol_counts[protocol] = protocol_counts.get(protocol, 0) + count
            if protocol == "tcp" and state is not None:
                state_counts[state] = state_counts.get(state, 0) + count
        sources = {}
        for address, count in self.sources.items():
            address = packet_address(address)
            sources[address] = sources.get(address, 0) + count
        destinations = {}
        for (address, port), count in self.destinations.items():
            key = (packet_address(address), None if port is None else int(port))
            destinations[key] = destinations.get(key, 0) + count
        self._bound_counters()  # the merged counters too: the error bound then covers what is reported
        top_sources = sorted(sources.items(), key=lambda item: (-item[1], item[0]))[: self.top]
        top_destinations = sorted(
            destinations.items(), key=lambda item: (-item[1], item[0][0], -1 if item[0][1] is None else item[0][1])
        )[: self.top]
        return {
            "entries_parsed": self.entries_parsed,
            "entries_selected": self.entries_selected,
            "truncated_lines": self.counters["truncated_lines"],
            "state_counts": dict(sorted(state_counts.items())),
            "protocol_counts": dict(sorted(protocol_counts.items())),
            "unreplied": self.unreplied,
            "assured": self.assured,
            "top_sources": [{"address": address, "count": count} for address, count in top_sources],
            "top_destinations": [
                {"address": address, "port": port, "count": count} for (address, port), count in top_destinations
            ],
            # Counts above are exact when these are 0; else each is low by at most this (and a source or
            # destination with more entries than this is never missing from a full top list).
            "top_sources_max_error": self.source_error,
            "top_destinations_max_error": self.destination_error,
        }


def _bound(counts, capacity):
    """Misra-Gries, in batches: when a counter holds more than 2 * capacity keys, subtract its (capacity+1)-th
    largest count t from every count and drop those that reach 0. Returns t (0 when nothing was done).

    Each batch removes at least (capacity + 1) * t entries' worth of counts (capacity + 1 keys hold t or more), so
    the sum of the t's over a table of N entries is at most N / (capacity + 1): every count kept is low by at most
    that sum, and any key with more entries than it is still there. Memory stays at 2 * capacity keys however many
    distinct sources a table has (a million sources took about 300 MB before). Python runs once per key per batch,
    and a batch halves the keys, so the cost is a few steps per distinct key over the whole table."""
    if len(counts) <= 2 * capacity:
        return 0
    cut = sorted(counts.values(), reverse=True)[capacity]
    kept = {key: count - cut for key, count in counts.items() if count > cut}
    counts.clear()
    dict.update(counts, kept)
    return cut


def _text(value):
    """A matched field as str (bytes from a binary stream are ASCII: the pattern accepts nothing else)."""
    return value.decode("ascii") if isinstance(value, bytes) else value


def summarize(lines, top=10, ports=None, states=None, peers=None):
    """Counters over a table: a file object (read in chunks, as the module reads /proc/net/nf_conntrack and the
    stdout of conntrack -L), captured text, or any other iterable of lines (read line by line)."""
    summary = TableSummary(top=top, selection=Selection(ports=ports, states=states, peers=peers))
    if hasattr(lines, "read"):
        return summary.consume_stream(lines).result()
    if isinstance(lines, str):
        return summary.consume_text(lines).result()
    return summary.consume(lines).result()


def parse(text, top=10, ports=None, states=None, peers=None):
    """The netdiag.conntrack table analysis of captured text (filter format ``linux_conntrack``)."""
    return (
        TableSummary(top=top, selection=Selection(ports=ports, states=states, peers=peers)).consume_text(text).result()
    )
