# SPDX-License-Identifier: GPL-3.0-or-later
"""What the human reports show for a value the facts do not know. Pure functions.

A count that was not read is not zero. ``established_keepalive_unknown: 30`` means that for 30 ESTABLISHED sockets
nobody knows whether SO_KEEPALIVE is set (``netstat -tanp`` without ``-o``, AIX without kdb, Solaris without pfiles):
``established_without_keepalive: 0`` beside it counts only the sockets known to lack it. A reader who sees "without
keepalive 0" concludes that keepalive is on, so every place the Markdown and HTML reports show such a value goes
through these helpers, which say "unknown" or "n of m unknown" instead.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import parse_tuples, service_port_of

UNKNOWN = "unknown"


def shown(value):
    """A value for people: "unknown" for None (a value the facts do not have), else the value itself."""
    return UNKNOWN if value is None else value


def partly_known(known, unknown, total):
    """A count of which some members could not be judged.

    known: members known to count (e.g. sockets known to lack SO_KEEPALIVE); unknown: members that could not be
    judged (None when even that is not known); total: all members, when known. Returns the count itself when
    nothing is unknown, "unknown" when nothing was judged, else "<known> (<unknown> of <total> unknown)".
    """
    if known is None and not unknown:
        return UNKNOWN
    if unknown is None:
        return "%s or more (the rest unknown)" % known if known else UNKNOWN
    if not unknown:
        return known
    if total is not None and unknown >= total:
        return "%s (%d of %d)" % (UNKNOWN, unknown, total) if total else UNKNOWN
    if total is None:
        return "%s or more (%d unknown)" % (known or 0, unknown)
    return "%s (%d of %d unknown)" % (known or 0, unknown, total)


def established_count(netstat):
    """ESTABLISHED TCP sockets of a host's socket table, None when not read."""
    value = (netstat.get("state_counts") or {}).get("ESTABLISHED")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def keepalive_unknown(netstat):
    """ESTABLISHED sockets whose SO_KEEPALIVE is unknown: ``established_keepalive_unknown``, or, for facts that
    predate that field, every ESTABLISHED socket not known to lack it when the count of those is missing."""
    value = netstat.get("established_keepalive_unknown")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if netstat.get("established_without_keepalive") is None:
        return established_count(netstat)
    return None


def host_without_keepalive(netstat):
    """The host's "ESTABLISHED without SO_KEEPALIVE" for people (a number only when every socket was judged)."""
    return partly_known(
        netstat.get("established_without_keepalive"), keepalive_unknown(netstat), established_count(netstat)
    )


def peer_keepalive_unknown(netstat):
    """{(direction, service_port, peer): sockets whose keepalive is unknown} from ``established_tuples``, or None
    when the host's tuples cannot tell (not gathered, truncated, unreadable)."""
    value = netstat.get("established_tuples")
    if not value or value.get("truncated"):
        return None
    try:
        rows = parse_tuples(value)
    except ValueError:
        return None
    listening = {
        item.get("local_port")
        for item in netstat.get("listeners") or []
        if item.get("protocol", "tcp") == "tcp" and item.get("local_port") is not None
    }
    found = {}
    for row in rows:
        if row[5] is None:
            direction, port = service_port_of(row[1], row[3], listening)
            key = (direction, port, row[2])
            found[key] = found.get(key, 0) + 1
    return found


class PeerKeepalive:
    """The "without keepalive" cell of each ``established_by_peer`` entry of one host."""

    def __init__(self, netstat):
        self.host_unknown = keepalive_unknown(netstat)
        self.host_total = established_count(netstat)
        self.by_peer = peer_keepalive_unknown(netstat) if self.host_unknown else {}

    def cell(self, peer):
        without = peer.get("without_keepalive")
        if not self.host_unknown:
            return shown(without)
        count = peer.get("count")
        if self.host_total is not None and self.host_unknown >= self.host_total:
            return partly_known(without, count, count)  # no socket of this host was judged
        if self.by_peer is None:
            return partly_known(without, None, count)
        unknown = self.by_peer.get((peer.get("direction"), peer.get("service_port"), peer.get("peer")), 0)
        return partly_known(without, unknown, count)
