# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_sock_diag: requests, answer framing and record decoding on records built here in the kernel's layout
(include/uapi/linux/inet_diag.h; SYNTHETIC bytes), the column-wise path against the per-record one, and the
collector's fallback to /proc when sock_diag is refused. The same code on live sockets, against /proc/net/tcp*:
tests/integration/test_sock_diag_live.py."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import Summary
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sock_diag as linux_sock_diag

ATTRIBUTES = bytes(36)  # what the kernel appends even with ext = 0 (shutdown, mark, cgroup id, sockopt): skipped


def record(
    state, source, sport, destination, dport, timer=0, uid=1000, inode=0, family=socket.AF_INET, extra=True, kind=20
):
    """One SOCK_DIAG_BY_FAMILY answer (kind 18: to the v1 request): nlmsghdr + inet_diag_msg (+ attributes)."""
    raw = [socket.inet_pton(family, address).ljust(16, b"\0") for address in (source, destination)]
    message = struct.pack(
        "=BBBB2s2s16s16sI8sIIIII",
        family,
        state,
        timer,
        0,
        sport.to_bytes(2, "big"),
        dport.to_bytes(2, "big"),
        raw[0],
        raw[1],
        0,
        bytes(8),
        0,
        3,  # rqueue
        7,  # wqueue (the backlog limit on a listener)
        uid,
        inode,
    )
    body = message + (ATTRIBUTES if extra else b"")
    return struct.pack("=IHHII", 16 + len(body), kind, 2, 1, 0) + body


def done():
    return struct.pack("=IHHIIi", 20, linux_sock_diag.NLMSG_DONE, 2, 1, 0, 0)


def error(code):
    return struct.pack("=IHHIIi", 36, linux_sock_diag.NLMSG_ERROR, 0, 1, 0, -code) + bytes(16)


def test_request_layout():
    data = linux_sock_diag.request(socket.AF_INET6, socket.IPPROTO_TCP, 1 << 10)
    length, kind, flags = struct.unpack_from("=IHH", data)
    assert (length, kind, flags) == (len(data), 20, 0x301)  # NLM_F_REQUEST | NLM_F_DUMP
    assert len(data) == 16 + 56  # nlmsghdr + inet_diag_req_v2
    assert data[16:18] == bytes((socket.AF_INET6, socket.IPPROTO_TCP))
    assert struct.unpack_from("=I", data, 20)[0] == 1 << 10


def test_request_for_both_families_layout():
    data = linux_sock_diag.request_both_families(linux_sock_diag.ALL_STATES)
    length, kind, flags = struct.unpack_from("=IHH", data)
    assert (length, kind, flags) == (len(data), 18, 0x301)  # TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP
    assert len(data) == 16 + 60  # nlmsghdr + inet_diag_req (v1)
    assert data[16] == socket.AF_UNSPEC  # both families
    assert struct.unpack_from("=II", data, 16 + 52) == (0xFFFFFFFF & ~(1 << 13), 0)  # states but BOUND_INACTIVE, dbs


def test_framing_of_answers():
    records = record(1, "127.0.0.1", 80, "127.0.0.2", 40000) * 3
    assert linux_sock_diag._control_message(records) == (len(records), False)  # uniform: one check, no walk
    assert linux_sock_diag._control_message(records + done()) == (len(records), True)
    assert linux_sock_diag._control_message(done()) == (0, True)
    with pytest.raises(linux_sock_diag.SockDiagUnavailableError, match="not supported"):
        linux_sock_diag._control_message(error(errno.EOPNOTSUPP))
    mixed = record(1, "127.0.0.1", 80, "127.0.0.2", 40000) + record(6, "127.0.0.1", 80, "127.0.0.3", 1, extra=False)
    assert linux_sock_diag.records_of(mixed) == [0, 124]
    v1 = record(1, "127.0.0.1", 80, "127.0.0.2", 40000, kind=18) * 2
    assert linux_sock_diag._control_message(v1 + done()) == (len(v1), True)
    with pytest.raises(linux_sock_diag.SockDiagUnavailableError, match="unexpected message type 19"):
        linux_sock_diag._control_message(record(1, "127.0.0.1", 80, "127.0.0.2", 40000, kind=19))


def test_an_error_message_cut_before_its_code_is_a_refusal_not_a_crash():
    """A datagram ending inside NLMSG_ERROR must fall back to /proc like any refusal (found in review: it raised
    struct.error, which no caller expects)."""
    cut = struct.pack("=IHHII", 16, linux_sock_diag.NLMSG_ERROR, 0, 1, 0)
    with pytest.raises(linux_sock_diag.SockDiagUnavailableError, match="truncated error message"):
        linux_sock_diag._control_message(cut)


def reader_with(listening=(80,), owners=None, selection=None, cap=None, max_tuples=None):
    summary = Summary(
        selection or Selection(),
        cap,
        set(listening),
        owners_mapped=owners is not None,
        tuples=max_tuples is not None,
        max_tuples=max_tuples,
    )
    return linux_sock_diag.DiagReader(summary, owners, lambda uid: "user%d" % uid), summary


def test_record_decoding_follows_proc():
    reader, _summary = reader_with()
    listen = record(10, "0.0.0.0", 80, "0.0.0.0", 0, uid=0, inode=99)
    item = reader.record(listen, 0, "tcp")
    assert item[:8] == ("tcp", "inet", "*", 80, "*", None, "LISTEN", None)
    assert (item.send_queue, item.receive_queue) == (0, 3)  # /proc prints write_seq - snd_una, not the backlog
    established = record(1, "::ffff:127.0.0.1", 80, "::ffff:127.0.0.9", 41000, timer=2, family=socket.AF_INET6)
    item = reader.record(established, 0, "tcp")
    assert item[:8] == ("tcp", "inet", "127.0.0.1", 80, "127.0.0.9", 41000, "ESTABLISHED", True)
    assert item.user == "user1000"
    six = record(8, "2001:db8::1", 80, "2001:db8::2", 41000, timer=0, family=socket.AF_INET6)
    assert reader.record(six, 0, "tcp")[:8] == (
        "tcp",
        "inet6",
        "2001:db8::1",
        80,
        "2001:db8::2",
        41000,
        "CLOSE_WAIT",
        False,
    )
    reader.listener_uids = {80: 33}
    request = record(3, "127.0.0.1", 80, "127.0.0.5", 41001, timer=1, uid=0, extra=False)
    assert reader.record(request, 0, "tcp").uid == 33  # /proc prints the listener's uid for a request socket
    udp = record(7, "127.0.0.1", 53, "0.0.0.0", 0)
    assert reader.record(udp, 0, "udp")[6:8] == (None, None)


def synthetic_dump():
    """Two datagrams: one of full sockets (one record length), one mixing TIME_WAIT records in."""
    first = record(10, "0.0.0.0", 80, "0.0.0.0", 0, inode=5)
    for index in range(60):
        first += record(
            1, "127.0.0.1", 80, "127.0.1.%d" % (index % 9), 30000 + index, timer=2 * (index % 2), inode=100 + index
        )
    second = b""
    for index in range(40):
        second += record(1, "127.0.0.1", 41000 + index, "127.0.2.1", 443, timer=index % 3, inode=300 + index)
        second += record(6, "127.0.0.1", 42000 + index, "127.0.2.2", 443, timer=3, uid=0, extra=False)
    return [first, second]


@pytest.mark.parametrize(
    "selection",
    [Selection(), Selection(ports=[443]), Selection(states=["TIME_WAIT", "LISTEN"]), Selection(peers=["127.0.1.0/29"])],
)
@pytest.mark.parametrize("max_tuples", [None, 1000, 25, 0])
def test_column_wise_path_equals_the_per_record_path(selection, max_tuples):
    owners = {100 + index: (4242, "app", "app") for index in range(0, 60, 3)}
    owners.update({300 + index: (5151, "client", None) for index in range(0, 40, 2)})  # user unknown: from the uid
    fast_reader, fast = reader_with(owners=owners, selection=selection, cap=7, max_tuples=max_tuples)
    fast_reader.read(synthetic_dump(), "tcp")
    fast_reader.finish()
    slow_reader, slow = reader_with(owners=owners, selection=selection, cap=7, max_tuples=max_tuples)
    for data in synthetic_dump():
        slow_reader._records(data, linux_sock_diag.records_of(data), "tcp")
    assert fast.result() == slow.result()
    assert fast.total == 141
    if max_tuples and fast.result()["state_counts"]["ESTABLISHED"]:  # made column-wise, as the per-record path
        assert fast.result()["established_tuples"]["rows"]
        assert list(fast.tuples.holders) == list(slow.tuples.holders)


def test_collector_falls_back_to_proc_when_sock_diag_is_refused(monkeypatch):
    def refused(*args):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    monkeypatch.setattr(linux_sock_diag.socket, "socket", refused)
    netstat, _keepalive = linux_sockets.LinuxNetstatCollector().collect(Selection(), owners=False)
    assert netstat["reader"] == "proc"
    assert "Address family not supported" in netstat["reader_fallback"]
    assert netstat["sources"][0] == "/proc/net/tcp"
    with pytest.raises(linux_sock_diag.SockDiagUnavailableError):
        linux_sockets.LinuxNetstatCollector(reader="sock_diag").collect(Selection(), owners=False)


def mixed_families(kind):
    """(IPv4 records, IPv6 records) as one dump per family would give them, and the same records interleaved in
    one dump of both families (kind 18) with TIME_WAIT records cut short among them; keepalive, ports and peers
    vary so that every list of the facts has something to order."""
    inet, inet6, both = [], [], []
    for index in range(90):
        v4 = record(
            1,
            "127.0.0.1",
            80 if index % 3 else 443,
            "127.0.3.%d" % (index % 11),
            30000 + index,
            timer=2 * (index % 2),
            inode=500 + index,
            kind=kind,
        )
        v6 = record(
            1,
            "2001:db8::1",
            80 if index % 2 else 443,
            "2001:db8::%x" % (index % 7 + 2),
            31000 + index,
            timer=2 * (index % 3 == 0),
            inode=700 + index,
            family=socket.AF_INET6,
            kind=kind,
        )
        mapped = record(
            8,
            "::ffff:127.0.0.1",
            443,
            "::ffff:127.0.4.%d" % (index % 5),
            32000 + index,
            inode=900 + index,
            family=socket.AF_INET6,
            kind=kind,
        )
        waiting = record(6, "127.0.0.1", 80, "127.0.5.1", 33000 + index, timer=3, uid=0, extra=False, kind=kind)
        inet += [v4, waiting]
        inet6 += [v6, mapped]
        both += [v6, v4, mapped] if index % 2 else [v4, waiting, v6, mapped]
        if index % 2:
            both.append(waiting)
    listeners = [
        record(10, "0.0.0.0", 80, "0.0.0.0", 0, inode=1, kind=kind),
        record(10, "::", 443, "::", 0, inode=2, family=socket.AF_INET6, kind=kind),
    ]
    # The kernel walks the listeners first, then the connections; each family keeps its order in one walk.
    return [listeners[0]] + inet, [listeners[1]] + inet6, listeners + both


def datagrams(records, size=37):
    return [b"".join(records[start : start + size]) for start in range(0, len(records), size)]


@pytest.mark.parametrize(
    "cap, max_tuples, selection",
    [
        (None, None, Selection()),
        (100, 150, Selection()),  # both caps end among the IPv6 rows
        (30, 20, Selection()),  # both end among the IPv4 rows
        (0, 0, Selection()),
        (70, 95, Selection(ports=[443])),
        (12, 200, Selection(peers=["2001:db8::/120", "127.0.3.0/30"])),
    ],
)
def test_one_dump_of_both_families_gives_the_facts_of_one_dump_per_family(cap, max_tuples, selection):
    inet, inet6, _both = mixed_families(20)
    _inet, _inet6, both = mixed_families(18)
    owners = {500 + index: (4242, "app", "app") for index in range(0, 600, 4)}
    results = []
    for dumps in ([(inet, False), (inet6, False)], [(both, True)]):
        summary = Summary(selection, cap, {80, 443}, owners_mapped=True, tuples=True, max_tuples=max_tuples)
        reader = linux_sock_diag.DiagReader(summary, owners, lambda uid: "user%d" % uid)
        for records, both_families in dumps:
            reader.read(datagrams(records), "tcp", both_families=both_families)
        reader.finish()
        results.append(summary.result())
    per_family, one_walk = results
    assert one_walk == per_family
    assert per_family["established_tuples"]["count"] > 0
    if cap:
        # AF_INET sockets first, then AF_INET6 ones (inodes from 700; v4-mapped ones are reported as inet).
        socket_families = [item["inode"] >= 700 for item in per_family["connections"]]
        assert socket_families == sorted(socket_families)


@pytest.mark.parametrize(
    ("state", "source", "destination", "expected"),
    [
        # Bound to an IPv4-mapped address, peer the wildcard :: (a listener of an AF_INET6 socket on ::ffff:127.0.0.1).
        (10, "::ffff:127.0.0.1", "::", ("inet", "127.0.0.1", "*")),
        (1, "::ffff:127.0.0.1", "::ffff:127.0.0.9", ("inet", "127.0.0.1", "127.0.0.9")),
        (10, "::", "::", ("inet6", "*", "*")),
    ],
)
def test_ipv4_mapped_socket_with_a_wildcard_peer_is_inet(state, source, destination, expected):
    # The unit counterpart of the live test (tests/integration/test_sock_diag_live.py): the same rule as
    # linux_proc_net_tcp, either end mapped makes the socket IPv4, checked here on hand-built netlink answers.
    reader, _summary = reader_with(listening=(8080,))
    item = reader.record(
        record(state, source, 8080, destination, 0 if state == 10 else 41000, family=socket.AF_INET6), 0, "tcp"
    )
    assert (item.family, item.local_address, item.remote_address) == expected
