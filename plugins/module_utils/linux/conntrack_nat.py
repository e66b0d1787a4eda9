# SPDX-License-Identifier: GPL-3.0-or-later
"""Translated connections in the Linux conntrack table, compactly, for matching both ends of a connection through NAT.

A NAT box rewrites addresses and ports: the client's socket shows ``client:40000 -> server:5555``, the server's
``server:5555 <- nat:61000``. The NAT's conntrack entry holds both views: the original tuple (as the client sent it)
and the reply tuple (as the server answers it)::

    tcp 6 431999 ESTABLISHED src=CLIENT dst=SERVER sport=40000 dport=5555 src=SERVER dst=NAT sport=5555 dport=61000

The audit report maps each socket to its peer's socket through these pairs (plugin_utils/report/matching.py).
Only ESTABLISHED TCP entries whose reply tuple is not the original one reversed are kept: an entry the box did not
translate adds nothing to a plain reversal of the 4-tuple. A selection of ports keeps entries with one of them in
either tuple (a DNAT'ed service has its virtual port in the original tuple and the real one in the reply).

Like ``established_tuples`` of netstat_facts, the result is one string, one line per entry, columns separated by one
blank, because Ansible copies and tags every value it carries. This reader is separate from linux_conntrack's
counting summary and runs only when asked (conntrack_facts ``nat_tuples``), but in the same pass over the table:
passing() hands it the summary's chunks on their way (reading a big table twice doubled the time), and each chunk
is matched whole (one ``finditer`` per chunk; the pattern never crosses a line), not line by line.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.linux.conntrack import packet_address

COLUMNS = (
    "original_source",
    "original_source_port",
    "original_destination",
    "original_destination_port",
    "reply_source",
    "reply_source_port",
    "reply_destination",
    "reply_destination_port",
)
DEFAULT_MAX_ROWS = 200000

# The two tuples of a TCP entry (nf_conntrack, ip_conntrack, conntrack -L [-o extended] layouts). Between the
# tuples the kernel may print zone-orig=, packets=/bytes= and [UNREPLIED], single-space separated; none of them
# contains " src=". Written for speed on whole chunks (measured on 17 MB, 96,000 entries: 0.10 s, against 0.26 s
# for a leading \b and a lazy ".*? " between the tuples): the literal "tcp" first lets the engine skip to
# candidates, and the words between the tuples are taken whole.
_ENTRY = re.compile(
    r"tcp +6 +(?:[0-9]+ +)?ESTABLISHED +src=(\S+) dst=(\S+) sport=([0-9]+) dport=([0-9]+) "
    r"(?:\S+ )*?src=(\S+) dst=(\S+) sport=([0-9]+) dport=([0-9]+)"
)


class NatTuples:
    """Collects translated ESTABLISHED TCP entries line by line; result() gives the compact dict."""

    def __init__(self, ports=(), max_rows=None):
        self.ports = frozenset(str(port) for port in ports or ())
        self.max_rows = DEFAULT_MAX_ROWS if max_rows is None else max_rows
        self.rows = []
        self.count = 0

    def add_line(self, line):
        if "ESTABLISHED" not in line:
            return
        match = _ENTRY.search(line)
        if match is not None:
            self._add(match.groups())

    def add_text(self, text):
        """Every entry of a text of whole lines (the pattern matches within one line only)."""
        for groups in _ENTRY.findall(text):
            self._add(groups)

    def passing(self, chunks, encoding="utf-8", errors="replace"):
        """Yield the chunks of a table (bytes or str) unchanged, adding their whole lines here on the way (one pass
        feeds both this and linux_conntrack's summary); bytes are decoded like a text-mode file would."""
        pending = None
        for chunk in chunks:
            yield chunk
            if pending is None:
                pending = chunk[:0]
            cut = chunk.rfind(b"\n" if isinstance(chunk, bytes) else "\n") + 1
            if not cut:
                pending += chunk
                continue
            self.add_text(_decoded(pending + chunk[:cut], encoding, errors))
            pending = chunk[cut:]
        if pending:
            self.add_text(_decoded(pending, encoding, errors))

    def _add(self, groups):
        source, destination, sport, dport, reply_source, reply_destination, reply_sport, reply_dport = groups
        if (
            reply_source == destination
            and reply_sport == dport
            and reply_destination == source
            and reply_dport == sport
        ):
            return  # printed as the original reversed: not translated (most entries; no parsing needed)
        ports = self.ports
        if ports and not (sport in ports or dport in ports or reply_sport in ports or reply_dport in ports):
            return
        fields = [source, sport, destination, dport, reply_source, reply_sport, reply_destination, reply_dport]
        for index in (0, 2, 4, 6):
            fields[index] = packet_address(fields[index])
        for index in (1, 3, 5, 7):
            fields[index] = str(int(fields[index]))
        # Not translated: the reply is the original reversed (source and destination swapped).
        if fields[4:8] == fields[2:4] + fields[0:2]:
            return
        self.count += 1
        if len(self.rows) < self.max_rows:
            self.rows.append(" ".join(fields))

    def consume(self, lines):
        for line in lines:
            self.add_line(line)
        return self

    def result(self):
        return {
            "columns": list(COLUMNS),
            "rows": "\n".join(self.rows),
            "count": self.count,
            "truncated": self.count > len(self.rows),
        }


def _decoded(data, encoding, errors):
    """Text as a text-mode file gives it: bytes decoded, \\r\\n and \\r turned into \\n."""
    text = data.decode(encoding, errors) if isinstance(data, bytes) else data
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def nat_tuples(text, ports=(), max_rows=None):
    """The compact dict of the translated ESTABLISHED TCP entries in captured conntrack text."""
    return NatTuples(ports, max_rows).consume(text.splitlines()).result()


def parse_nat_tuples(value):
    """[((src, sport, dst, dport), (src, sport, dst, dport))] (original, reply) from a ``nat_tuples`` dict.
    Raises ValueError on rows without the 8 columns."""
    columns = list((value or {}).get("columns") or COLUMNS)
    if columns != list(COLUMNS):
        raise ValueError("nat_tuples: unknown columns %s" % ", ".join(map(str, columns)))
    parsed = []
    for line in ((value or {}).get("rows") or "").split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) != 8 or not all(fields[index].isdigit() for index in (1, 3, 5, 7)):
            raise ValueError("nat_tuples: row %r does not have the 8 columns" % line)
        parsed.append(
            (
                (fields[0], int(fields[1]), fields[2], int(fields[3])),
                (fields[4], int(fields[5]), fields[6], int(fields[7])),
            )
        )
    return parsed
