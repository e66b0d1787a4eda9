# SPDX-License-Identifier: GPL-3.0-or-later
"""Linux socket tables through sock_diag netlink (what ``ss`` uses), counted column-wise into a Summary.

Why: /proc/net/tcp makes the kernel format every socket as 150 bytes of hex text, which Python then has to take
apart again (figures: docs/netstat_facts.md, "Performance"). sock_diag (``NETLINK_SOCK_DIAG``, ``sock_diag(7)``,
``include/uapi/linux/inet_diag.h``) hands the same facts over as fixed binary records: a request
``inet_diag_req_v2`` per (family, protocol) dumps every socket as an ``nlmsghdr`` + ``inet_diag_msg`` (72 bytes)
+ attributes. Standard library only: ``socket.AF_NETLINK`` and ``struct``.

The facts are those of /proc/net/tcp* (the collector falls back to it where sock_diag is missing), field by field:

- ``idiag_state`` is the kernel state number (the ``st`` column); request sockets come as SYN_RECV (3) like /proc.
- ``idiag_timer`` is the ``tr`` column: ``inet_sk_diag_fill`` sets 1 for a retransmit/loss-probe/reordering timer,
  4 for a zero-window probe, else 2 while ``sk_timer`` (the keepalive timer on a connected socket) is pending,
  else 0; 3 for TIME_WAIT. So keepalive is read exactly as linux_proc_net_tcp does (see its docstring).
- ``idiag_uid``, ``idiag_inode``, ``idiag_rqueue``/``idiag_wqueue`` are the uid, inode and rx/tx queue columns,
  except on two kinds of sockets where the two interfaces disagree and this reader follows /proc: for a LISTEN
  socket ``tcp_diag_get_info`` reports the backlog limit as wqueue where /proc prints ``write_seq - snd_una``
  (0 on a socket that never connected), and a request (SYN_RECV) socket has uid 0 here where /proc prints its
  listener's uid.
- Ports in ``inet_diag_sockid`` are big-endian; addresses are in network order (an IPv4 address in the first 4 of
  16 bytes); everything else is host order.

Speed: a dump arrives as datagrams of about 32 KB. Within one datagram the kernel gives every full socket of one
family the same attributes, so records usually all have one length: such a datagram is a matrix of fixed-width
rows and is counted with columns/socket_table's column operations (a slice per column, ``bytes.count``, big-int row
masks, ``Counter`` over per-row keys), with Python running once per distinct peer, not once per socket. Datagrams
mixing lengths (TIME_WAIT and request sockets carry no attributes) are cut into their records first; UDP and the
``families`` restriction take the per-record path. Both paths give the same counts (tests compare them).

One walk for both families: a TCP dump per family walks the kernel's whole established hash each time, skipping the
other family's sockets (on an IPv4-only host the empty AF_INET6 dump costs a whole walk). The
kernel still answers the inet_diag v1 request (``TCPDIAG_GETSOCK``, ``struct inet_diag_req``), and answers it for
AF_UNSPEC, both families in one walk (``inet_diag_dump_compat``), with the same ``inet_diag_msg`` records.
Records then come in the kernel's hash order with the families interleaved; everything whose order shows in the
facts (the ``connections`` sample and the ``established_tuples`` rows) takes IPv4 sockets first and IPv6 ones
after, each in kernel order, exactly as the per-family dumps and /proc/net/tcp + tcp6 give them: DiagReader defers
the IPv6 ones (at most as many as the caps keep) until the dump ends. A kernel refusing the v1 request gets the
per-family dumps.
"""

from __future__ import annotations

import heapq
import ipaddress
import os
import socket
import struct
from collections import Counter
from itertools import compress, repeat
from operator import itemgetter

from ansible_collections.netdiag.tcp.plugins.module_utils.columns import socket_table as fast
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    WILDCARD,
    SocketRecord,
    canonical_text,
)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
TCPDIAG_GETSOCK = 18  # the inet_diag v1 request: TCP, both families in one walk
_RECORD_TYPES = (SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK)
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3
# Every state but TCP_BOUND_INACTIVE (13, Linux 6.6+: bound, neither listening nor connected), which /proc/net/tcp
# and `ss -a` do not show either. Asking for it makes the kernel walk its whole bind hash as well: 0.03 s of a
# 0.18 s dump of 192,000 sockets here.
ALL_STATES = 0xFFFFFFFF & ~(1 << 13)
LISTEN_STATE = 10
PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
# inet_diag_req_v2: family, protocol, ext, pad, states; inet_diag_sockid: sport, dport, src[16], dst[16], if, cookie[2]
_REQUEST = struct.Struct("=BBBBI2s2s16s16sI8s")
# inet_diag_req (v1): family, src_len, dst_len, ext, inet_diag_sockid, states, dbs
_REQUEST_V1 = struct.Struct("=BBBB2s2s16s16sI8sII")
# inet_diag_msg after the netlink header: family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
_MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
_MESSAGE_OFFSET = _HEADER.size  # 16
_RECORD_BYTES = _MESSAGE_OFFSET + _MESSAGE.size  # 88: header + inet_diag_msg, the part every record has

# Column offsets within a record (header included).
_STATE = _MESSAGE_OFFSET + 1
_TIMER = _MESSAGE_OFFSET + 2
_SPORT = _MESSAGE_OFFSET + 4
_SRC = _MESSAGE_OFFSET + 8
_DPORT = _MESSAGE_OFFSET + 6
_DST = _MESSAGE_OFFSET + 24
_UID = _MESSAGE_OFFSET + 64
_INODE = _MESSAGE_OFFSET + 68

# Kernel state numbers (include/net/tcp_states.h) -> the state names of the facts; 12 (NEW_SYN_RECV) is reported
# as 3, mapped anyway for safety; 13 is TCP_BOUND_INACTIVE (Linux 6.6+), a Linux-only state kept in upper case.
STATE_NAMES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECEIVED",
    4: "FIN_WAIT_1",
    5: "FIN_WAIT_2",
    6: "TIME_WAIT",
    7: "CLOSED",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN_RECEIVED",
    13: "BOUND_INACTIVE",
}
_KEEPALIVE_STATES = frozenset((1, 8))  # ESTABLISHED, CLOSE_WAIT: see linux_proc_net_tcp
_KEEPALIVE_BY_TIMER = {0: False, 2: True}
# idiag_timer -> the keepalive column of established_tuples ("0" none, "1" pending, "-" unknown: see record()).
_TIMER_FLAGS = bytes(0x30 if code == 0 else 0x31 if code == 2 else 0x2D for code in range(256))
_NO_OWNER = ("-", None, None)  # (pid text, process, user) of a socket no process was found for
_TUPLE_LINE = "{} {} {} {} {} {}".format
_TEXT = itemgetter(0)
_RECEIVE_BYTES = 1 << 16  # the kernel fills about 32 KB per datagram whatever the buffer
_FAMILIES = (("inet", socket.AF_INET), ("inet6", socket.AF_INET6))


class SockDiagUnavailableError(OSError):
    """This kernel or sandbox does not answer sock_diag requests for a family/protocol (the caller falls back)."""


def request(family, protocol, states, sequence=1):
    """The bytes of one dump request (pure): every socket of a family and protocol in the states bitmask."""
    body = _REQUEST.pack(family, protocol, 0, 0, states, b"\0\0", b"\0\0", bytes(16), bytes(16), 0, bytes(8))
    header = _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0)
    return header + body


def request_both_families(states, sequence=1):
    """The bytes of one inet_diag v1 dump request (pure): every TCP socket of both families in the states bitmask."""
    body = _REQUEST_V1.pack(0, 0, 0, 0, b"\0\0", b"\0\0", bytes(16), bytes(16), 0, bytes(8), states, 0)
    header = _HEADER.pack(_HEADER.size + len(body), TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0)
    return header + body


def dump(family, protocol, states=ALL_STATES):
    """Yield the datagrams (bytes) of one sock_diag dump, NLMSG_DONE left out; SockDiagUnavailable when the
    kernel refuses it (no sock_diag, no inet_diag/udp_diag handler for the protocol, a seccomp filter)."""
    return _dump(request(family, protocol, states))


def dump_tcp_both_families(states=ALL_STATES):
    """Like dump(), for every TCP socket of both families in one walk of the kernel's tables (the v1 request)."""
    return _dump(request_both_families(states))


def _dump(message):
    try:
        connection = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError) as error:
        raise SockDiagUnavailableError("sock_diag netlink socket: %s" % error) from error
    with connection:
        try:
            connection.bind((0, 0))
            connection.send(message)
        except OSError as error:
            raise SockDiagUnavailableError("sock_diag request: %s" % error) from error
        while True:
            data = connection.recv(_RECEIVE_BYTES)
            if not data:
                return
            end, done = _control_message(data)
            if end:
                yield data[:end] if end < len(data) else data
            if done:
                return


def _control_message(data):
    """(bytes of socket records at the head of a datagram, whether the dump ended in it).

    The kernel puts NLMSG_DONE or NLMSG_ERROR at the end of a dump, possibly alone in the last datagram; only the
    last message of a datagram needs a look in the common case (a full datagram of records)."""
    offset = 0
    length = len(data)
    while offset + _HEADER.size <= length:
        size, kind = struct.unpack_from("=IH", data, offset)
        if kind == NLMSG_DONE:
            return offset, True
        if kind == NLMSG_ERROR:
            if offset + _HEADER.size + 4 > length:
                # Cut short before its error code: still a refusal, and /proc is the way to read the tables.
                raise SockDiagUnavailableError("sock_diag answered a truncated error message")
            code = -struct.unpack_from("=i", data, offset + _HEADER.size)[0]
            raise SockDiagUnavailableError("sock_diag dump refused: %s" % os.strerror(code))
        if kind not in _RECORD_TYPES or size < _RECORD_BYTES:
            raise SockDiagUnavailableError("sock_diag answered an unexpected message type %d" % kind)
        if offset == 0 and size and length % size == 0 and _uniform(data, size):
            return length, False  # a whole datagram of records of one length: nothing else to look at
        offset += (size + 3) & ~3
    return offset, False


def _uniform(data, width):
    """True when a buffer holds records of ``width`` bytes only (every length field and type is the same)."""
    rows = len(data) // width
    head = data[:6]
    return all(data[index::width] == head[index : index + 1] * rows for index in range(6))


def records_of(data):
    """Offsets of the records in one datagram's record bytes (the per-record walk)."""
    offsets = []
    offset = 0
    length = len(data)
    while offset + _RECORD_BYTES <= length:
        offsets.append(offset)
        size = struct.unpack_from("=I", data, offset)[0]
        offset += (size + 3) & ~3
    return offsets


class _AddressCache(fast.BoundedCache):
    """16 raw address bytes + family byte -> (canonical text, is IPv4)."""

    def convert(self, key):
        raw, family = key[:16], key[16]
        if family == socket.AF_INET:
            return canonical_text(ipaddress.IPv4Address(raw[:4])), True
        canonical = canonical_text(ipaddress.IPv6Address(raw))
        return canonical, canonical != WILDCARD and ":" not in canonical


class PeerTable:
    """ESTABLISHED sockets counted per raw peer key; Summary.result() asks it for established_by_peer (lists()).

    A raw key is 20 bytes: inbound flag, service port (big-endian), address family (AF_INET for IPv4 and IPv4-mapped
    peers), the peer address as 16 bytes (IPv4 right-aligned after 12 zero bytes). The byte order of keys of one
    port is the numeric order of (family, address), the tie-break Summary uses. Inbound rows are counted per
    listening port at the row level (one C-level pass per port), so choosing a port's top peers runs over that
    port's Counter with C-level sorts, and Python builds text and dictionaries only for the kept peers.
    """

    def __init__(self, addresses):
        self.addresses = addresses
        self.by_port = {}  # 3-byte prefix (inbound flag, port) -> Counter of keys
        # The key of every ESTABLISHED row known to have no keepalive (a list: counting them per key costs a
        # dict insert per peer, and only the kept peers' counts are needed), and their number per 3-byte prefix.
        self.without_keepalive_keys = []
        self.without_keepalive_by_port = Counter()
        self.without_keepalive_total = 0
        self.keepalive_unknown_total = 0

    def __bool__(self):
        return any(self.by_port.values())

    def count(self, prefix, keys):
        counter = self.by_port.get(prefix)
        if counter is None:
            counter = self.by_port[prefix] = Counter()
        counter.update(keys)

    def groups(self):
        """{(direction, service_port): Counter of raw keys}; outbound keys are split by their port here."""
        groups = {}
        for prefix, counter in self.by_port.items():
            if prefix != b"\0":
                groups[_port_of(prefix)] = counter
                continue
            for key, count in counter.items():  # outbound: one Counter for every remote service port
                split = groups.get(_port_of(key[:3]))
                if split is None:
                    split = groups[_port_of(key[:3])] = Counter()
                split[key] = count
        return {port: counter for port, counter in groups.items() if counter}

    def lists(self, cap):
        """(established_by_peer, established_by_peer_rest, distinct entries) as Summary.result() returns them, but
        in no particular order (Summary sorts them)."""
        kept_keys = []
        rest = []
        distinct = 0
        for (direction, service_port), counter in self.groups().items():
            distinct += len(counter)
            if cap is None or len(counter) <= cap:
                kept_keys.extend(counter.items())
                continue
            # C-level passes (items, keys and values of a dict iterate in one order); Python only compares the
            # ties (one comparison each) in nsmallest.
            values = list(counter.values())
            cut = sorted(values, reverse=True)[cap - 1]
            above = list(compress(counter.items(), map(cut.__lt__, values)))
            ties = heapq.nsmallest(cap - len(above), compress(counter, map(cut.__eq__, values)))
            top = above + [(key, cut) for key in ties]
            kept_keys.extend(top)
            rest.append(
                {
                    "direction": direction,
                    "service_port": service_port,
                    "peers": len(counter) - cap,
                    "count": sum(counter.values()) - sum(count for _key, count in top),
                    "without_keepalive": 0,
                    "_keys": {key for key, _count in top},
                }
            )
        kept_set = {key for key, _count in kept_keys}
        without = Counter(filter(kept_set.__contains__, self.without_keepalive_keys))
        for others in rest:
            prefix = _prefix_of(others["direction"], others["service_port"])
            kept_without = sum(map(without.__getitem__, others.pop("_keys")))  # a Counter: 0 when missing
            others["without_keepalive"] = self.without_keepalive_by_port[prefix] - kept_without
        kept = []
        for key, count in kept_keys:
            direction, service_port = _port_of(key[:3])
            kept.append(
                {
                    "direction": direction,
                    "service_port": service_port,
                    "peer": self.peer(key),
                    "count": count,
                    "without_keepalive": without.get(key, 0),
                }
            )
        return kept, rest, distinct

    def text_counts(self):
        """((direction, service_port, peer): count, same: without keepalive) of every key (to merge with text)."""
        counts = {}
        for (direction, service_port), counter in self.groups().items():
            for key, count in counter.items():
                counts[(direction, service_port, self.peer(key))] = count
        without = {}
        for key, count in Counter(self.without_keepalive_keys).items():
            peer_key = _port_of(key[:3]) + (self.peer(key),)
            without[peer_key] = without.get(peer_key, 0) + count
        return counts, without

    def peer(self, key):
        """Canonical text of a raw key's peer address."""
        raw = key[4:]
        if key[3] == socket.AF_INET:
            return socket.inet_ntop(socket.AF_INET, raw[12:]) if raw[12:] != b"\0\0\0\0" else WILDCARD
        return self.addresses[raw + key[3:4]][0]


_PREFIX = itemgetter(slice(0, 3))
# Kinds of held-back records (DiagReader._deferred): a whole record to count, a tuple row, a sample candidate.
_WHOLE, _TUPLE, _CONNECTION = "whole", "tuple", "connection"


def _port_of(prefix):
    return ("inbound" if prefix[0] else "outbound", int.from_bytes(prefix[1:3], "big") or None)


def _prefix_of(direction, service_port):
    return (b"\1" if direction == "inbound" else b"\0") + (service_port or 0).to_bytes(2, "big")


class DiagReader:
    """Counts sock_diag records into a socket_records.Summary (the counterpart of linux_proc_net_tcp.TableReader).

    owners: {inode: (pid, process, user)}; user_name(uid) names the owner of sockets no owner was found for;
    families: None for both, else the families to keep (a v4-mapped socket of an AF_INET6 dump is inet).
    listener_uids: {port: uid} of TCP listeners, for request sockets (see the module docstring).
    """

    def __init__(self, summary, owners=None, user_name=None, families=None):
        self.summary = summary
        self.owners = owners or {}
        self.user_name = user_name
        self.families = None if families is None or set(families) >= {"inet", "inet6"} else frozenset(families)
        self.addresses = _AddressCache()
        self.peers = PeerTable(self.addresses)
        self.listener_uids = {}
        # While a dump of both families is read: [(kind, record bytes)] of the IPv6 records whose order shows in
        # the facts, in kernel order, replayed when the dump ends (None otherwise; see the module docstring).
        self._deferred = None
        self._deferred_connections = 0
        self._deferred_tuples = 0
        self._deferred_tuples_dropped = 0

    # -- reading -------------------------------------------------------------------------------------------------

    def read(self, datagrams, protocol, both_families=False):
        """Count the datagrams of one dump into the summary, in the kernel's order. both_families: the dump is
        dump_tcp_both_families() (IPv4 and IPv6 records interleaved): the IPv6 records the sample and the tuples
        would keep are held back until it ends, so those lists come out as from one dump per family."""
        if both_families:
            self._deferred = []
            self._deferred_connections = self._deferred_tuples = self._deferred_tuples_dropped = 0
            try:
                self._read(datagrams, protocol)
            finally:
                deferred, self._deferred = self._deferred, None
            self._replay(deferred)
            return
        self._read(datagrams, protocol)

    def _read(self, datagrams, protocol):
        if protocol != "tcp" or self.families is not None or not self.summary.listening:
            # UDP (few sockets, its own listener rule), a family restriction (v4-mapped rows of an AF_INET6 dump
            # are inet) and a table without listeners (the lower port is the service port) go record by record.
            for data in datagrams:
                self._records(data, records_of(data), protocol)
            return
        pending = []
        pending_width = 0
        for data in datagrams:
            width = struct.unpack_from("=I", data, 0)[0] if data else 0
            if not width or len(data) % width or not _uniform(data, width):
                # Records of several lengths (TIME_WAIT and request sockets have no attributes): their headers and
                # inet_diag_msg parts, cut out and joined, make rows of one width.
                data = b"".join([data[offset : offset + _RECORD_BYTES] for offset in records_of(data)])
                width = _RECORD_BYTES
            if width != pending_width:
                self._flush(pending, pending_width)
                pending = []
                pending_width = width
            pending.append(data)
            if len(pending) >= 32:  # about 1 MB: bounded memory, few enough matrices to keep the per-run cost low
                self._flush(pending, pending_width)
                pending = []
        self._flush(pending, pending_width)

    def finish(self):
        """Hand the peer counts over to the summary (once, after every dump)."""
        if self.peers:
            self.summary.add_peer_table(self.peers)
        self.peers = PeerTable(self.addresses)

    def record(self, data, offset, protocol):
        """The SocketRecord of the record at ``offset`` (pure apart from the caches)."""
        (
            family_code,
            state_code,
            timer,
            _retrans,
            sport,
            dport,
            source,
            destination,
            _interface,
            _cookie,
            _expires,
            receive_queue,
            send_queue,
            uid,
            inode,
        ) = _MESSAGE.unpack_from(data, offset + _MESSAGE_OFFSET)
        local_address, local_v4 = self.addresses[source + bytes((family_code,))]
        remote_address, remote_v4 = self.addresses[destination + bytes((family_code,))]
        local_port = int.from_bytes(sport, "big") or None
        remote_port = int.from_bytes(dport, "big") or None
        if protocol == "tcp":
            state = STATE_NAMES.get(state_code)
            if state is None:
                raise ValueError("sock_diag reported unknown TCP state %d" % state_code)
            keepalive = _KEEPALIVE_BY_TIMER.get(timer) if state_code in _KEEPALIVE_STATES else None
            if state_code == LISTEN_STATE:
                send_queue = 0
            elif state == "SYN_RECEIVED" and not inode:
                uid = self.listener_uids.get(local_port, uid)
        else:
            state = "ESTABLISHED" if state_code == 1 else None  # UDP: connected, else unconnected (TCP_CLOSE)
            keepalive = None
        family = "inet" if local_v4 or remote_v4 else "inet6"
        pid = process = user = None
        if inode:
            pid, process, user = self.owners.get(inode, (None, None, None))
        if user is None and self.user_name is not None:
            user = self.user_name(uid)
        return SocketRecord(
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

    # -- the per-record path ---------------------------------------------------------------------------------------

    def _records(self, data, offsets, protocol):
        if self._deferred is not None:  # both families in one dump: IPv6 records after every IPv4 one
            now = []
            for offset in offsets:
                if data[offset + _MESSAGE_OFFSET] == socket.AF_INET:
                    now.append(offset)
                else:
                    self._deferred.append((_WHOLE, data[offset : offset + _RECORD_BYTES]))
            offsets = now
        records = (self.record(data, offset, protocol) for offset in offsets)
        if self.families is not None:
            records = (record for record in records if record[1] in self.families)
        self.summary.add_records(records)

    # -- the column-wise path ---------------------------------------------------------------------------------------

    def _flush(self, pending, width):
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._count(fast.Matrix(data, width, len(data) // width))

    def _count(self, matrix):
        summary = self.summary
        rows = matrix.rows
        width = matrix.width
        every = fast.ones(rows)
        selected = self._selection_mask(matrix)
        selected_rows = None if selected is None else fast.mask_bytes(selected, rows)

        state_column = matrix.column(_STATE)
        if selected is not None:  # unselected rows get a state number no socket has
            state_column = fast.select_column(selected, rows, state_column, b"\xff" * rows)
        states = {}
        counted = 0
        for code, name in STATE_NAMES.items():
            found = state_column.count(code)
            if found:
                states[name] = states.get(name, 0) + found
                counted += found
        if counted != (rows if selected is None else fast.count(selected, rows)):
            self._records(matrix.data, range(0, len(matrix.data), width), "tcp")  # a state number not known here
            return

        established = fast.equals(matrix, _STATE, b"\x01")
        if selected is not None:
            established &= selected
        if established:
            self._peers(matrix, established)
            if summary.tuples is not None:  # per-connection correlation asked for: every such row, decoded
                self._add_tuples(matrix, established)

        unmapped = 0
        if summary.owners_mapped:  # sockets with an inode that no process was found for
            with_inode = fast.equals(matrix, _INODE, b"\0\0\0\0") ^ every
            if selected is not None:
                with_inode &= selected
            flags = fast.mask_bytes(with_inode, rows)
            unmapped = flags.count(1)
            if self.owners and unmapped:
                inodes = _column_integers(matrix, _INODE)
                unmapped -= sum(map(self.owners.__contains__, compress(inodes, flags)))
        summary.add_counts(rows, counted, "tcp", states, {}, unmapped)

        # The few records kept whole: the first selected rows (connections) and the selected LISTEN rows.
        room = summary.room()
        if self._deferred is not None:
            self._sample_both_families(matrix, every if selected is None else selected, room)
        elif room is None or room > 0:
            wanted = range(rows if room is None else min(room, rows))
            if selected_rows is not None:
                wanted = fast.first_set(selected_rows, room)
            for index in wanted:
                summary.add_connection(self.record(matrix.data, index * width, "tcp"))
        if room is not None and counted > room:
            summary.truncated = True
        listen = fast.equals(matrix, _STATE, bytes((LISTEN_STATE,)))
        if selected is not None:
            listen &= selected
        if listen:
            for index in fast.first_set(fast.mask_bytes(listen, rows), None):
                summary.add_listener(self.record(matrix.data, index * width, "tcp"))

    def _add_tuples(self, matrix, established):
        """Every ESTABLISHED row into the tuples, IPv6 rows held back while both families are read."""
        tuples = self.summary.tuples
        rows = matrix.rows
        width = matrix.width
        now = established
        if self._deferred is not None:
            inet = fast.equals(matrix, _MESSAGE_OFFSET, bytes((socket.AF_INET,)))
            now = established & inet
            later = fast.mask_bytes(established & (inet ^ fast.ones(rows)), rows)
            room = max(tuples.max_rows - self._deferred_tuples, 0)  # rows past the cap are only counted
            for index in fast.first_set(later, room):
                self._deferred.append((_TUPLE, matrix.data[index * width : index * width + _RECORD_BYTES]))
                self._deferred_tuples += 1
            self._deferred_tuples_dropped += later.count(1) - min(room, later.count(1))
        if now:
            self._add_tuple_lines(matrix, fast.mask_bytes(now, rows))

    def _add_tuple_lines(self, matrix, flags):
        """The established_tuples lines of the flagged rows (0/1 bytes), in row order, made at C speed: columns
        decoded whole, addresses through the address cache, one str.format per line. The same text as
        record() + EstablishedTuples.add_record (tests compare them); Python runs per distinct holder only."""
        tuples = self.summary.tuples
        rows = matrix.rows
        inodes = list(compress(_column_integers(matrix, _INODE), flags))
        owners = list(map(self.owners.get, inodes, repeat(_NO_OWNER)))
        room = max(tuples.max_rows - len(tuples.rows), 0)
        if room:
            addresses = self.addresses.__getitem__
            lines = list(
                map(
                    _TUPLE_LINE,
                    map(_TEXT, map(addresses, compress(_row_keys(_address_columns(matrix, _SRC), rows), flags))),
                    compress(_column_ports(matrix, _SPORT), flags),
                    map(_TEXT, map(addresses, compress(_row_keys(_address_columns(matrix, _DST), rows), flags))),
                    compress(_column_ports(matrix, _DPORT), flags),
                    map(_TEXT, owners),
                    compress(matrix.column(_TIMER).translate(_TIMER_FLAGS).decode("ascii"), flags),
                )
            )
            holders = {}
            kept = owners[:room]
            for owner in dict.fromkeys(kept):  # the distinct owners of the kept rows, in order of appearance
                pid = owner[0]
                if pid == "-" or str(pid) in holders or str(pid) in tuples.holders:
                    continue
                user = owner[2]
                if user is None and self.user_name is not None:  # as record(): its first socket's uid names the user
                    user = self.user_name(list(compress(_column_integers(matrix, _UID), flags))[kept.index(owner)])
                holders[str(pid)] = {"process": owner[1], "user": user}
        else:
            lines, holders = [], {}
        tuples.add_lines(lines, len(owners), holders)

    def _sample_both_families(self, matrix, selected, room):
        """The connections sample from a matrix of both families: IPv4 rows now, IPv6 rows held back (at most as
        many as the cap keeps; one more selected row than that means the sample is truncated)."""
        summary = self.summary
        rows = matrix.rows
        width = matrix.width
        inet = fast.equals(matrix, _MESSAGE_OFFSET, bytes((socket.AF_INET,)))
        if room is None or room > 0:
            for index in fast.first_set(fast.mask_bytes(selected & inet, rows), room):
                summary.add_connection(self.record(matrix.data, index * width, "tcp"))
        later = fast.mask_bytes(selected & (inet ^ fast.ones(rows)), rows)
        cap = summary.cap
        left = None if cap is None else max(cap - self._deferred_connections, 0)
        for index in fast.first_set(later, left):
            self._deferred.append((_CONNECTION, matrix.data[index * width : index * width + _RECORD_BYTES]))
            self._deferred_connections += 1
        if left is not None and later.count(1) > left:
            summary.truncated = True

    def _replay(self, deferred):
        """The held-back IPv6 records of a dump of both families, in kernel order."""
        summary = self.summary
        for kind, data in deferred:
            if kind is _WHOLE:
                self._records(data, (0,), "tcp")
            elif kind is _TUPLE:
                summary.tuples.add_record(self.record(data, 0, "tcp"))
            else:
                summary.add_connection(self.record(data, 0, "tcp"))
        if self._deferred_tuples_dropped:
            summary.tuples.count += self._deferred_tuples_dropped

    def _peers(self, matrix, established):
        """Count the ESTABLISHED rows per raw peer key (see PeerTable), and the keepalive facts, at C speed."""
        rows = matrix.rows
        inbound = 0
        for port in self.summary.listening:
            if port:
                inbound |= fast.equals(matrix, _SPORT, port.to_bytes(2, "big"))
        columns = [fast.mask_bytes(inbound, rows)]
        columns += [
            fast.select_column(inbound, rows, matrix.column(_SPORT + index), matrix.column(_DPORT + index))
            for index in range(2)
        ]
        family = matrix.column(_MESSAGE_OFFSET)
        zeros = bytes(rows)
        if family.count(socket.AF_INET) == rows:
            columns.append(family)
            columns += [zeros] * 12 + [matrix.column(_DST + index) for index in range(4)]
        else:
            # An IPv4-mapped peer (::ffff:a.b.c.d) of a dual-stack socket is the IPv4 peer a.b.c.d: same key. An
            # AF_INET row (a dump of both families) has its address in the first 4 bytes: moved to the last 4.
            mapped = fast.equals(matrix, _DST, bytes(10) + b"\xff\xff")
            inet = fast.equals(matrix, _MESSAGE_OFFSET, bytes((socket.AF_INET,)))
            columns.append(fast.select_column(mapped, rows, bytes((socket.AF_INET,)) * rows, family))
            columns += [
                fast.select_column(mapped | inet, rows, zeros, matrix.column(_DST + index)) for index in range(12)
            ]
            columns += [
                fast.select_column(inet, rows, matrix.column(_DST + index - 12), matrix.column(_DST + index))
                for index in range(12, 16)
            ]
        keys = _row_keys(columns, rows)
        table = self.peers
        without = established & fast.equals(matrix, _TIMER, b"\0")
        outbound = established
        for port in self.summary.listening:
            if port:
                on_port = established & fast.equals(matrix, _SPORT, port.to_bytes(2, "big"))
                if on_port:
                    outbound &= on_port ^ fast.ones(rows)
                    prefix = b"\1" + port.to_bytes(2, "big")
                    table.count(prefix, compress(keys, fast.mask_bytes(on_port, rows)))
                    if without:  # per port from the row masks, no pass over the keys
                        table.without_keepalive_by_port[prefix] += fast.count(on_port & without, rows)
        if outbound:
            table.count(b"\0", compress(keys, fast.mask_bytes(outbound, rows)))
            if outbound & without:  # outbound: per remote port, the first 3 bytes of the key
                flags = fast.mask_bytes(outbound & without, rows)
                table.without_keepalive_by_port.update(map(_PREFIX, compress(keys, flags)))
        if without:
            flags = fast.mask_bytes(without, rows)
            table.without_keepalive_keys.extend(compress(keys, flags))
            table.without_keepalive_total += flags.count(1)
        unknown = established & ((without | fast.equals(matrix, _TIMER, b"\2")) ^ fast.ones(rows))
        table.keepalive_unknown_total += fast.count(unknown, rows)

    def _selection_mask(self, matrix):
        """Row mask of the rows the summary's selection selects, or None when it selects everything."""

        def state_rows(states):
            found = 0
            for code, name in STATE_NAMES.items():
                if name in states:
                    found |= fast.equals(matrix, _STATE, bytes((code,)))
            return found

        def port_rows(port):
            text = port.to_bytes(2, "big")
            return fast.equals(matrix, _SPORT, text) | fast.equals(matrix, _DPORT, text)

        return fast.selection_mask(
            self.summary.selection,
            matrix.rows,
            state_rows,
            port_rows,
            lambda: _row_keys(_address_columns(matrix, _DST), matrix.rows),
            lambda remote: self.addresses[remote][0],
        )


def _row_keys(columns, rows):
    """One bytes object per row made of the given columns (binary-safe, unlike socket_table.gather)."""
    stride = len(columns)
    buffer = bytearray(stride * rows)
    for index, column in enumerate(columns):
        buffer[index::stride] = column
    return [key for (key,) in struct.iter_unpack("%ds" % stride, buffer)]  # faster than slicing in a loop


def _address_columns(matrix, offset):
    """The 16 address columns at ``offset`` and the family column: the address cache's key of each row."""
    return [matrix.column(offset + index) for index in range(16)] + [matrix.column(_MESSAGE_OFFSET)]


def _column_ports(matrix, offset):
    """The big-endian u16 at ``offset`` of every row, as a tuple of ints."""
    return _column_numbers(matrix, offset, ">", "H")


def _column_integers(matrix, offset):
    """The host-order u32 at ``offset`` of every row, as a tuple of ints."""
    return _column_numbers(matrix, offset, "=", "I")


def _column_numbers(matrix, offset, order, code):
    """The number of struct ``order`` + ``code`` at ``offset`` of every row: one column slice per byte, one unpack."""
    rows = matrix.rows
    size = struct.calcsize(order + code)
    buffer = bytearray(size * rows)
    for index in range(size):
        buffer[index::size] = matrix.column(offset + index)
    return struct.unpack("%s%d%s" % (order, rows, code), buffer)


def listening_ports(families=("inet", "inet6")):
    """({port}, {port: uid}) of the TCP LISTEN sockets of the wanted families (a dump filtered in the kernel)."""
    ports = set()
    uids = {}
    for _name, family in _FAMILIES:
        if family == socket.AF_INET and "inet" not in families:
            continue
        for data in dump(family, socket.IPPROTO_TCP, 1 << LISTEN_STATE):
            for offset in records_of(data):
                message = _MESSAGE.unpack_from(data, offset + _MESSAGE_OFFSET)
                port = int.from_bytes(message[4], "big")
                ports.add(port or None)
                uids.setdefault(port, message[13])
    return ports, uids


def dump_families(families):
    """(name, AF_*) of the dumps to make for the wanted families: AF_INET6 sockets carry IPv4-mapped connections
    that are reported as inet, so both are dumped whenever inet is wanted (as the /proc reader reads tcp6)."""
    return [(name, code) for name, code in _FAMILIES if not (name == "inet" and "inet" not in families)]
