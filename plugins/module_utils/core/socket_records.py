# SPDX-License-Identifier: GPL-3.0-or-later
"""Platform-neutral socket records and their aggregation into the ``netdiag.netstat`` shape.

Every socket-table parser (Linux /proc/net/tcp, net-tools netstat, iproute2 ss, and later AIX and Solaris netstat)
yields ``SocketRecord`` tuples; ``summarize()`` turns a stream of them into the ``netdiag.netstat``
dictionary. ``summarize()`` keeps only counters and the capped ``connections`` list, so memory does not grow with the
number of sockets (a million-row table costs the same few megabytes as a hundred-row one).
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import namedtuple

WILDCARD = "*"

# Names of the TCP states in the facts (docs/facts_schema.md), in the kernel's numbering order (1..11).
TCP_STATES = (
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECEIVED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "TIME_WAIT",
    "CLOSED",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
)

# One socket. Field order matters: parsers build these positionally because it is the cheapest way to make
# a record, and summarize() reads them by position for the same reason.
#   protocol        "tcp" | "udp"
#   family          "inet" | "inet6" (a v4-mapped socket reports "inet": its addresses are IPv4)
#   local_address   canonical text, "*" for a wildcard          local_port   int | None (wildcard)
#   remote_address  canonical text, "*" for a wildcard          remote_port  int | None (wildcard)
#   state           TCP state name of the facts, or None (UDP without a state)
#   keepalive       True | False | None (unknown)
#   pid, process, user, uid, inode, send_queue, receive_queue, interface   optional, None when unknown
SocketRecord = namedtuple(
    "SocketRecord",
    (
        "protocol",
        "family",
        "local_address",
        "local_port",
        "remote_address",
        "remote_port",
        "state",
        "keepalive",
        "pid",
        "process",
        "user",
        "uid",
        "inode",
        "send_queue",
        "receive_queue",
        "interface",
    ),
)
SocketRecord.__new__.__defaults__ = (None,) * 9  # everything after `state` is optional

# Optional fields copied into a connection dictionary only when known.
_OPTIONAL_FIELDS = ("pid", "process", "user", "uid", "inode", "send_queue", "receive_queue", "interface")


def make_record(protocol, family, local_address, local_port, remote_address, remote_port, state=None, **optional):
    """A SocketRecord from keyword arguments (for parsers where speed does not matter, and for tests)."""
    unknown = set(optional) - set(SocketRecord._fields)
    if unknown:
        raise TypeError("unknown socket record fields: %s" % ", ".join(sorted(unknown)))
    return SocketRecord(protocol, family, local_address, local_port, remote_address, remote_port, state, **optional)


def record_to_dict(record):
    """The connection record (docs/facts_schema.md) for one record (unknown optional fields are left out)."""
    result = {
        "protocol": record[0],
        "family": record[1],
        "local_address": record[2],
        "local_port": record[3],
        "remote_address": record[4],
        "remote_port": record[5],
        "state": record[6],
    }
    if record[0] == "tcp":
        result["keepalive"] = record[7]
    for offset, name in enumerate(_OPTIONAL_FIELDS, start=8):
        value = record[offset]
        if value is not None:
            result[name] = value
    return result


def split_scope(text):
    """'fe80::1%eth0' -> ('fe80::1', 'eth0'); '10.0.0.1' -> ('10.0.0.1', None). Brackets are removed."""
    if text.startswith("["):
        closing = text.find("]")
        if closing > 0:
            inner, rest = text[1:closing], text[closing + 1 :]
            if rest.startswith("%"):
                return inner.partition("%")[0], rest[1:] or None
            text = inner
    address, _percent, scope = text.partition("%")
    return address, scope or None


def canonical_address(text):
    """Canonical text of an address as printed by a tool: ipaddress's compressed form, IPv4 for IPv4-mapped IPv6,
    "*" for any wildcard (``*``, ``0.0.0.0``, ``::``, ``::ffff:0.0.0.0``).

    Raises ValueError for text that is not an address.
    """
    address = split_scope(text.strip())[0]
    if address == WILDCARD:
        return WILDCARD
    return canonical_text(ipaddress.ip_address(address))


def canonical_text(parsed):
    """The canonical text of an ipaddress address object: IPv4 for IPv4-mapped IPv6, "*" for any wildcard."""
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.is_unspecified:
        return WILDCARD
    return str(parsed)


def address_family(canonical, default="inet"):
    """'inet' or 'inet6' for a canonical address; the default for a wildcard."""
    if canonical == WILDCARD:
        return default
    return "inet6" if ":" in canonical else "inet"


def socket_family(local_address, remote_address, wildcard_family=None):
    """The family of a socket with these canonical addresses: that of the local address, else that of the remote
    one; wildcard_family when both are wildcards. canonical_address() turned IPv4-mapped addresses into IPv4, so a
    dual-stack socket connected to an IPv4 peer is inet."""
    if local_address != WILDCARD:
        return address_family(local_address)
    if remote_address != WILDCARD:
        return address_family(remote_address)
    return wildcard_family


def canonical_port(text):
    """int port, or None for a wildcard port (``*`` or ``0``). Raises ValueError on anything else."""
    text = text.strip()
    if text == WILDCARD:
        return None
    if not text.isdigit() or int(text) > 65535:
        raise ValueError("%r is not a port number" % text)
    return int(text) or None


def service_port_of(local_port, remote_port, listening_ports):
    """(direction, service_port) of an established socket, as docs/facts_schema.md defines them.

    inbound when the local port is one this host listens on; else outbound with the remote port as service port.
    When no listener is known at all, the lower port number is the service port (inbound when that is ours).
    """
    if listening_ports:
        if local_port in listening_ports:
            return "inbound", local_port
        return "outbound", remote_port
    if local_port is not None and (remote_port is None or local_port <= remote_port):
        return "inbound", local_port
    return "outbound", remote_port


def summarize(
    records,
    selection=None,
    max_connections=None,
    listening_ports=None,
    owners_mapped=False,
    tuples=False,
    max_tuples=None,
):
    """Aggregate a stream of SocketRecord into the ``netdiag.netstat`` dictionary.

    records          any iterable of SocketRecord (consumed once, never stored).
    selection        a selection.Selection; None or an empty one selects every socket. It applies to everything
                     below except ``total_sockets``: asking for port 5555 counts states, peers and listeners of
                     port 5555 only, which is what the classic ``netstat -an | grep .5555`` shows.
    max_connections  cap of the ``connections`` list (None = no cap, 0 = counts only); ``truncated`` says when cut.
    listening_ports  TCP ports this host listens on, known before the stream starts (the Linux module reads the
                     listeners at the head of /proc/net/tcp* first). LISTEN records in the stream are added as they
                     come; all socket-table formats print a table's listeners before its other sockets.
    owners_mapped    True when the parser had a socket-owner map: records with an inode but no pid are then
                     counted in ``unmapped_sockets``.
    tuples           also return ``established_tuples`` and ``holders`` (see EstablishedTuples), at most
                     ``max_tuples`` rows (None: DEFAULT_MAX_TUPLES).

    Returns state_counts (every TCP state of docs/facts_schema.md, 0 when absent, plus platform states seen),
    established_by_peer, listeners, connections, truncated, total_sockets, selected_sockets, protocol_counts,
    established_without_keepalive, established_keepalive_unknown and, with owners_mapped, unmapped_sockets.
    """
    summary = Summary(selection, max_connections, listening_ports, owners_mapped, tuples, max_tuples)
    summary.add_records(records)
    return summary.result()


class Summary:
    """The running ``netdiag.netstat`` aggregate behind summarize().

    Record-at-a-time parsers feed it with add_records(). The column-wise fast paths (columns/) count whole
    blocks of rows themselves and merge the counts with add_counts(), handing over only the few records that must
    be materialized (the first ``max_connections`` selected sockets and the listeners); both ways give the same
    result for the same sockets.
    """

    def __init__(
        self,
        selection=None,
        max_connections=None,
        listening_ports=None,
        owners_mapped=False,
        tuples=False,
        max_tuples=None,
        max_peers=None,
        max_listeners=None,
    ):
        """max_peers: established_by_peer entries kept per (direction, service port), the busiest first; the others
        are summed per port in ``established_by_peer_rest``. max_listeners: listeners kept (in listener order).
        None means no cap (the parse filter's default: pasted text is already bounded). tuples, max_tuples: see
        EstablishedTuples."""
        self.selection = selection
        self.max_peers = max_peers
        self.max_listeners = max_listeners
        self.listeners_seen = 0
        self.peer_tables = []
        self.selects_all = selection is None or selection.selects_all
        self.listening = set(listening_ports or ())
        self.cap = max_connections
        self.owners_mapped = owners_mapped
        self.state_counts = dict.fromkeys(TCP_STATES, 0)
        self.protocol_counts = {"tcp": 0, "udp": 0}
        self.peer_counts = {}
        self.peer_without_keepalive = {}
        self.listeners = []
        self.connections = []
        self.truncated = False
        self.total = self.selected = 0
        self.without_keepalive = self.keepalive_unknown = self.unmapped = 0
        # The compact ESTABLISHED tuples for per-connection correlation, only when asked (None: not collected).
        self.tuples = EstablishedTuples(max_tuples) if tuples else None

    def add_records(self, records):
        """Count every record of a stream (the per-record path: exact, about a microsecond or more per record)."""
        selection = self.selection
        selects_all = self.selects_all
        listening = self.listening
        state_counts = self.state_counts
        protocol_counts = self.protocol_counts
        peer_counts = self.peer_counts
        peer_without_keepalive = self.peer_without_keepalive
        owners_mapped = self.owners_mapped
        for record in records:
            self.total += 1
            protocol = record[0]
            state = record[6]
            if state == "LISTEN":
                listening.add(record[3])
            if not selects_all and not (
                selection.state_selected(state)
                and selection.port_selected(record[3], record[5])
                and selection.peer_selected(record[4])
            ):
                continue
            self.selected += 1
            protocol_counts[protocol] = protocol_counts.get(protocol, 0) + 1
            if owners_mapped and record[8] is None and record[12]:
                self.unmapped += 1
            if protocol == "tcp":
                state_counts[state] = state_counts.get(state, 0) + 1
                if state == "ESTABLISHED":
                    direction, service_port = service_port_of(record[3], record[5], listening)
                    key = (direction, service_port, record[4])
                    peer_counts[key] = peer_counts.get(key, 0) + 1
                    keepalive = record[7]
                    if keepalive is False:
                        self.without_keepalive += 1
                        peer_without_keepalive[key] = peer_without_keepalive.get(key, 0) + 1
                    elif keepalive is None:
                        self.keepalive_unknown += 1
                    if self.tuples is not None:
                        self.tuples.add_record(record)
                elif state == "LISTEN":
                    self._keep_listener(_listener(record))
            elif record[5] is None and record[4] == WILDCARD and record[3] is not None:
                # An unconnected bound UDP socket is what `ss -ul` and listen_ports_facts call a UDP listener;
                # one without a local port (Solaris `Unbound *.*`) listens on nothing.
                self._keep_listener(_listener(record))
            self.add_connection(record)

    def add_connection(self, record):
        """Keep a selected record in ``connections`` while there is room; past the cap only say ``truncated``."""
        if self.cap is None or len(self.connections) < self.cap:
            self.connections.append(record_to_dict(record))
        else:
            self.truncated = True

    def room(self):
        """How many more connections fit (None: no cap)."""
        return None if self.cap is None else max(self.cap - len(self.connections), 0)

    def add_listener(self, record):
        self._keep_listener(_listener(record))

    def _keep_listener(self, listener):
        """Keep a listener; past twice the cap, trim to the cap's first listeners in result order (memory stays
        bounded with 15,000 bound UDP sockets, and the kept ones are those result() would keep)."""
        self.listeners_seen += 1
        listeners = self.listeners
        listeners.append(listener)
        cap = self.max_listeners
        if cap is not None and len(listeners) >= 2 * cap + 64:
            listeners.sort(key=_listener_sort_key)
            del listeners[cap:]

    def add_peer_table(self, table):
        """Merge a reader's raw peer table (linux_sock_diag.PeerTable: per-peer counts on raw keys, decoded only for
        the peers result() keeps) and its keepalive totals."""
        self.peer_tables.append(table)
        self.without_keepalive += table.without_keepalive_total
        self.keepalive_unknown += table.keepalive_unknown_total

    def add_counts(self, total, selected, protocol, states, peers, unmapped=0):
        """Merge counts made elsewhere (a fast path) for ``total`` sockets of which ``selected`` were selected.

        states  {state: n} of the selected sockets (TCP only).
        peers   {(direction, service_port, peer, keepalive): n} of the selected ESTABLISHED TCP sockets, keepalive
                being True, False or None as in the records.
        Listeners and connections are not counted here: the caller adds those records with add_listener() and
        add_connection().
        """
        self.total += total
        self.selected += selected
        self.protocol_counts[protocol] = self.protocol_counts.get(protocol, 0) + selected
        self.unmapped += unmapped
        state_counts = self.state_counts
        for state, count in states.items():
            state_counts[state] = state_counts.get(state, 0) + count
        peer_counts = self.peer_counts
        peer_without_keepalive = self.peer_without_keepalive
        for (direction, service_port, peer, keepalive), count in peers.items():
            key = (direction, service_port, peer)
            peer_counts[key] = peer_counts.get(key, 0) + count
            if keepalive is False:
                self.without_keepalive += count
                peer_without_keepalive[key] = peer_without_keepalive.get(key, 0) + count
            elif keepalive is None:
                self.keepalive_unknown += count

    def result(self):
        established_by_peer, rest, distinct = self._peer_lists()
        listeners = sorted(self.listeners, key=_listener_sort_key)
        if self.max_listeners is not None:
            del listeners[self.max_listeners :]
        result = {
            "state_counts": self.state_counts,
            "established_by_peer": established_by_peer,
            "established_by_peer_total": distinct,
            "established_by_peer_truncated": bool(rest),
            "established_by_peer_rest": rest,
            "listeners": listeners,
            "listeners_total": self.listeners_seen,
            "listeners_truncated": self.listeners_seen > len(listeners),
            "connections": self.connections,
            "truncated": self.truncated,
            "total_sockets": self.total,
            "selected_sockets": self.selected,
            "protocol_counts": self.protocol_counts,
            "established_without_keepalive": self.without_keepalive,
            "established_keepalive_unknown": self.keepalive_unknown,
        }
        if self.owners_mapped:
            result["unmapped_sockets"] = self.unmapped
        if self.tuples is not None:
            result["established_tuples"], result["holders"] = self.tuples.result()
            if self.selection is not None and self.selection.networks:
                # Only sockets whose remote address is in these networks are listed: the report must not take a
                # missing socket towards another address for "this host holds none" (matching.peers_filter()).
                result["established_tuples"]["peers"] = [str(network) for network in self.selection.networks]
        return result

    def _peer_lists(self):
        """(established_by_peer, established_by_peer_rest, distinct peer entries).

        Per (direction, service port) the ``max_peers`` peers with the most connections (ties: the lower address
        first, IPv4 before IPv6), and one entry per port summing the others. Python runs a few steps per distinct
        peer and builds dictionaries only for the kept ones."""
        if len(self.peer_tables) == 1 and not self.peer_counts:
            kept, rest, distinct = self.peer_tables[0].lists(self.max_peers)
            kept.sort(key=_peer_sort_key)
            rest.sort(key=_rest_sort_key)
            return kept, rest, distinct
        for table in self.peer_tables:  # raw and text counts of one peer must add up: decode everything (rare)
            counts, without = table.text_counts()
            for key, count in counts.items():
                self.peer_counts[key] = self.peer_counts.get(key, 0) + count
            for key, count in without.items():
                self.peer_without_keepalive[key] = self.peer_without_keepalive.get(key, 0) + count
        self.peer_tables = []
        groups = {}
        for (direction, service_port, peer), count in self.peer_counts.items():
            group = groups.get((direction, service_port))
            if group is None:
                group = groups[(direction, service_port)] = []
            group.append((-count, peer))
        without_keepalive = self.peer_without_keepalive
        cap = self.max_peers
        kept = []
        rest = []
        for (direction, service_port), group in groups.items():
            if cap is not None and len(group) > cap:
                top = _top(group, cap)
                others = {peer for _count, peer in group} - {peer for _count, peer in top}
                rest.append(
                    {
                        "direction": direction,
                        "service_port": service_port,
                        "peers": len(others),
                        "count": sum(count for count, _peer in top) - sum(count for count, _peer in group),
                        "without_keepalive": sum(
                            without_keepalive.get((direction, service_port, peer), 0) for peer in others
                        ),
                    }
                )
                group = top
            for count, peer in group:
                kept.append(
                    {
                        "direction": direction,
                        "service_port": service_port,
                        "peer": peer,
                        "count": -count,
                        "without_keepalive": without_keepalive.get((direction, service_port, peer), 0),
                    }
                )
        kept.sort(key=_peer_sort_key)
        rest.sort(key=_rest_sort_key)
        return kept, rest, sum(len(group) for group in groups.values())


def address_order(text):
    """Sort key of a canonical address text in numeric order, IPv4 before IPv6, "*" first; raw-key readers
    (linux_sock_diag) order their keys the same way."""
    if text == WILDCARD:
        return (0, 0)
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return (9, text)
    return (parsed.version, int(parsed))


def _top(group, cap):
    """The ``cap`` first (-count, peer) items of a group: most connections first, ties by address_order(peer).
    Only the ties at the cut are put in that order, so addresses are parsed for few peers."""
    cut = heapq.nsmallest(cap, group)[-1][0]
    above = [item for item in group if item[0] < cut]
    ties = [item for item in group if item[0] == cut]
    ties.sort(key=lambda item: address_order(item[1]))
    return above + ties[: cap - len(above)]


def _rest_sort_key(item):
    service_port = item["service_port"]
    return (-item["count"], item["direction"], -1 if service_port is None else service_port)


def bound_result(netstat, max_peers=None, max_listeners=None):
    """Apply the caps of ``max_peers`` and ``max_listeners`` to a ``netdiag.netstat`` dictionary in place, the way
    Summary applies them while counting (a no-op on a result already within them). For results of collectors that
    do not take the bounds themselves; adds the ``*_total``/``*_truncated``/``established_by_peer_rest`` fields
    when missing."""
    entries = netstat.get("established_by_peer") or []
    netstat.setdefault("established_by_peer_total", len(entries))
    rest = netstat.setdefault("established_by_peer_rest", [])
    if max_peers is not None:
        groups = {}
        for entry in entries:
            groups.setdefault((entry["direction"], entry["service_port"]), []).append(entry)
        if any(len(group) > max_peers for group in groups.values()):
            kept = []
            for (direction, service_port), group in groups.items():
                if len(group) > max_peers:
                    indexed = [
                        (-entry["count"], address_order(entry["peer"]), index) for index, entry in enumerate(group)
                    ]
                    top = {index for _count, _order, index in heapq.nsmallest(max_peers, indexed)}
                    others = [entry for index, entry in enumerate(group) if index not in top]
                    group = [entry for index, entry in enumerate(group) if index in top]
                    rest.append(
                        {
                            "direction": direction,
                            "service_port": service_port,
                            "peers": len(others),
                            "count": sum(entry["count"] for entry in others),
                            "without_keepalive": sum(entry.get("without_keepalive") or 0 for entry in others),
                        }
                    )
                kept.extend(group)
            kept.sort(key=_peer_sort_key)
            netstat["established_by_peer"] = kept
            rest.sort(key=_rest_sort_key)
    netstat["established_by_peer_truncated"] = bool(rest)
    listeners = netstat.get("listeners") or []
    netstat.setdefault("listeners_total", len(listeners))
    if max_listeners is not None and len(listeners) > max_listeners:
        netstat["listeners"] = listeners[:max_listeners]
    netstat["listeners_truncated"] = netstat["listeners_total"] > len(netstat.get("listeners") or [])
    return netstat


DEFAULT_MAX_TUPLES = 200000
TUPLE_COLUMNS = ("local_address", "local_port", "remote_address", "remote_port", "pid", "keepalive")
_KEEPALIVE_FLAGS = {True: "1", False: "0", None: "-"}


class EstablishedTuples:
    """The selected ESTABLISHED TCP sockets as one compact text, for matching both ends of each connection.

    ``established_tuples`` = {"columns": TUPLE_COLUMNS, "rows": one line per socket ("198.51.100.20 5555
    198.51.100.10 40000 3764 0": columns separated by one blank, pid "-" when unknown, keepalive "1"/"0"/"-"),
    "count": sockets seen, "truncated": more than max_rows were seen, "port_unknown": sockets left out because a port
    was not printed whole}; ``holders`` = {"<pid>": {"process", "user"}}
    for the pids in the rows. One string rather than a dict per socket: Ansible copies, tags and scrubs every value
    it carries, which costs far more for 100,000 dicts than for one string of the same content.

    Every collector gets this through Summary: the per-record path calls add_record(), a fast path that does not
    materialize records calls add() with the fields it decoded.
    """

    def __init__(self, max_rows=None):
        self.max_rows = DEFAULT_MAX_TUPLES if max_rows is None else max_rows
        self.rows = []
        self.count = 0
        self.port_unknown = 0
        self.holders = {}

    def add(
        self, local_address, local_port, remote_address, remote_port, pid=None, keepalive=None, process=None, user=None
    ):
        if local_port is None or remote_port is None:
            # A port the tool cut off (old AIX netstat) cannot be matched: not listed and not counted, so ``count``
            # falls short of the ESTABLISHED count and the report does not take the list as complete.
            self.port_unknown += 1
            return
        self.count += 1
        if len(self.rows) >= self.max_rows:
            return
        if pid is None:
            pid_text = "-"
        else:
            pid_text = str(pid)
            if pid_text not in self.holders:
                self.holders[pid_text] = {"process": process, "user": user}
        self.rows.append(
            "%s %s %s %s %s %s"
            % (local_address, local_port, remote_address, remote_port, pid_text, _KEEPALIVE_FLAGS[keepalive])
        )

    def add_record(self, record):
        self.add(record[2], record[3], record[4], record[5], record[8], record[7], record[9], record[10])

    def add_lines(self, lines, count, holders):
        """Rows made elsewhere (a fast path) for ``count`` sockets, in order: ``lines`` holds at least the first
        ones that fit, ``holders`` the holders of the pids in those ({pid text: {process, user}})."""
        self.count += count
        room = self.max_rows - len(self.rows)
        if room > 0:
            self.rows.extend(lines[:room])
        for pid_text, holder in holders.items():
            self.holders.setdefault(pid_text, holder)

    def result(self):
        rows = "\n".join(self.rows)
        return (
            {
                "columns": list(TUPLE_COLUMNS),
                "rows": rows,
                "count": self.count,
                "truncated": self.count > len(self.rows),
                "port_unknown": self.port_unknown,
            },
            self.holders,
        )


def parse_tuples(established_tuples, shared=None):
    """[(local_address, local_port, remote_address, remote_port, pid, keepalive)] from an ``established_tuples``
    dict (ports and pid as int, pid None when unknown, keepalive True/False/None). Raises ValueError on rows that
    do not have the columns.

    shared: a dict kept across calls (the report reads every host's list) through which equal addresses and
    numbers become one object: a fleet's million rows repeat a few thousand of them."""
    columns = list((established_tuples or {}).get("columns") or TUPLE_COLUMNS)
    if columns != list(TUPLE_COLUMNS):
        raise ValueError("established_tuples: unknown columns %s" % ", ".join(map(str, columns)))
    return _parse_rows(established_tuples, {} if shared is None else shared)


def _parse_rows(established_tuples, shared):
    """parse_tuples()'s rows, with addresses and numbers looked up in (and added to) shared."""
    keepalive_of = {"1": True, "0": False, "-": None}
    parsed = []
    addresses = shared.setdefault("addresses", {})
    numbers = shared.setdefault("numbers", {"-": None})
    for line in ((established_tuples or {}).get("rows") or "").split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        if (
            len(fields) != 6
            or fields[5] not in keepalive_of
            or not (fields[1].isdigit() and fields[3].isdigit() and (fields[4] == "-" or fields[4].isdigit()))
        ):
            raise ValueError("established_tuples: row %r does not have the 6 columns" % line)
        local_address, local_port, remote_address, remote_port, pid = fields[:5]
        for text in (local_port, remote_port, pid):
            if text not in numbers:
                numbers[text] = int(text)
        parsed.append(
            (
                addresses.setdefault(local_address, local_address),
                numbers[local_port],
                addresses.setdefault(remote_address, remote_address),
                numbers[remote_port],
                numbers[pid],
                keepalive_of[fields[5]],
            )
        )
    return parsed


def _listener(record):
    listener = {
        "protocol": record[0],
        "family": record[1],
        "local_address": record[2],
        "local_port": record[3],
    }
    if record[8] is not None:
        listener["pid"] = record[8]
    if record[9] is not None:
        listener["process"] = record[9]
    if record[10] is not None:
        listener["user"] = record[10]
    if record[15] is not None:
        listener["interface"] = record[15]
    return listener


def _peer_sort_key(entry):
    service_port = entry["service_port"]
    return (-entry["count"], entry["direction"], -1 if service_port is None else service_port, entry["peer"])


def _listener_sort_key(listener):
    port = listener["local_port"]
    return (listener["protocol"], -1 if port is None else port, listener["family"], listener["local_address"])
