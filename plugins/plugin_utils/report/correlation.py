# SPDX-License-Identifier: GPL-3.0-or-later
"""Both ends of the same TCP service seen from two audited hosts. Pure functions, no I/O.

The incident this product was born from: the web server (client) counted 30-40 ESTABLISHED sessions to port 5555,
the application server counted 200+ from the same client. A pair puts the two counts side by side; a large gap is
the `asymmetric-established` finding (one side forgot connections the other still holds: NAT/conntrack expiry,
a reset that never arrived, a peer that vanished).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import parse_tuples, service_port_of
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import finding
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.matching import (
    DECLARED_ONLY,
    filter_covers,
    lists_every_socket,
    local_addresses,
    peers_filter,
    tcp_listening_ports,
)


def peer_counts(netstat, rows=None):
    """[(direction, service port, peer, count)] of a host's ESTABLISHED connections, peer None for connections
    counted without their peer.

    From ``established_by_peer`` when it has every peer. The audit keeps only the busiest peers there (every peer
    of a busy host is a dictionary Ansible copies and tags: 96,000 of them took seconds), so otherwise they are
    counted from ``established_tuples`` when it lists every socket and the listeners (which decide each socket's
    direction, as on the host) are complete; ``rows``: the tuples already parsed. Failing both, the kept peers and
    the rest summed per port (``established_by_peer_rest``) without a peer.
    """
    entries = netstat.get("established_by_peer") or []
    rest = netstat.get("established_by_peer_rest") or []
    kept = [
        (item.get("direction"), item.get("service_port"), item.get("peer"), item.get("count", 0)) for item in entries
    ]
    if not rest and not netstat.get("established_by_peer_truncated"):
        return kept
    tuples = netstat.get("established_tuples")
    if lists_every_socket(netstat) and not netstat.get("listeners_truncated"):
        if rows is None:
            try:
                rows = parse_tuples(tuples)
            except ValueError:
                rows = None
        if rows is not None:
            listening = tcp_listening_ports(netstat)
            counts = {}
            for row in rows:
                key = service_port_of(row[1], row[3], listening) + (row[2],)
                counts[key] = counts.get(key, 0) + 1
            return [key + (count,) for key, count in counts.items()]
    return kept + [(item.get("direction"), item.get("service_port"), None, item.get("count", 0)) for item in rest]


def host_addresses(report, extra=()):
    """Addresses a host is known by: its sockets' local addresses (not wildcard or loopback) and inventory hints."""
    addresses = set()
    netstat = report.get("netstat") or {}
    candidates = list(extra)
    candidates.extend(item.get("local_address") for item in netstat.get("listeners") or [])
    candidates.extend(item.get("local_address") for item in netstat.get("connections") or [])
    candidates.extend(netstat.get("local_addresses") or [])
    candidates.extend(local_addresses(netstat.get("established_tuples")))
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(str(candidate))
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified):
            addresses.add(str(address))
    return addresses


def declared_addresses(value):
    """(addresses, rejected) from a host's ``netdiag_addresses``: a list, or one string of addresses separated by
    commas or blanks (as ``-e`` gives it). Addresses come back in canonical form; what is not one is rejected."""
    if value is None or value == "":
        return [], []
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return [], [repr(value)]
    addresses, rejected = [], []
    for item in items:
        try:
            addresses.append(str(ipaddress.ip_address(str(item).strip())))
        except ValueError:
            rejected.append(repr(item))
    return addresses, rejected


def correlate(hosts, addresses_by_host, aliases_by_host=None, matcher=None, limits=None):
    """Pairs of (client end, server end, service port) with both counts, and the asymmetric ones.

    hosts: {name: host_report}; limits: {"min_gap": connections, "ratio": x} of the count comparison (default 10
    and 2.0); addresses_by_host: {name: set of addresses} found on the host (its sockets' local
    addresses, ansible_host). aliases_by_host: {name: addresses} declared in the inventory (``netdiag_addresses``):
    addresses other hosts see this host by, such as the NAT address its connections leave with or a load
    balancer's virtual address in front of it. Hosts that declare the same address are one *end*: behind one SNAT
    address, the server cannot tell their connections apart, so their counts are added up and compared with it.

    An end takes part only when the socket table of every host in it was read: a host that failed must not count
    as "holds none". An address found on two different ends (two hosts with the same private address, say)
    belongs to neither. Returns (pairs, findings); a pair names each end by its hosts joined with "+", and lists
    them in ``client_hosts``/``server_hosts``. ``client_unattributed``/``server_unattributed`` count that end's
    ESTABLISHED connections for the service port whose peer no audited host is known by: when they could explain
    the gap (an undeclared NAT in front of the clients makes the server see them so), the finding is the
    informational ``asymmetric-unattributed`` instead of a warning.

    matcher: the matching.Matcher that ran (its groups, and the tuples it parsed, which give the pairs' counts
    too). Where every host of both ends listed its ESTABLISHED sockets,
    the pair says ``per_connection: true`` with ``client_matched``/``server_matched`` (sockets of each side whose
    mirror was found) and ``client_half_open``/``server_half_open``; its count finding is then always the aggregate
    ``asymmetric-established`` (matching raises ``half-open-sockets`` with the holders). Otherwise the pair is
    compared by counts only, and a side that holds none of the other's connections is ``half-open-sockets`` by
    counts (``matching: counts`` in the evidence).

    A host whose sockets were selected by a peers filter (``established_tuples.peers``) that leaves out an address
    of the other end may hold connections it did not list: the pair names it in ``peers_filtered`` with a
    ``peers_filter_reason``, and a pair whose side with fewer connections has such a host raises no finding.
    """
    aliases_by_host = aliases_by_host or {}
    groups = matcher.groups if matcher is not None else {}
    ends = _ends(sorted(set(hosts) | set(aliases_by_host)), aliases_by_host)
    owner_of = _end_of_address(ends, addresses_by_host, aliases_by_host)
    counts, unattributed = _count_pairs(hosts, ends, owner_of, matcher.rows if matcher is not None else {})
    _judge_per_connection(counts, hosts, unattributed)
    _add_matched(counts, groups, ends, owner_of)
    _count_only_through_declared_nats(counts, groups)
    _mark_filtered_sides(counts, hosts, addresses_by_host, aliases_by_host)
    pairs = sorted(counts.values(), key=lambda pair: (pair["client"], pair["server"], pair["service_port"] or 0))
    limits = dict({"min_gap": 10, "ratio": 2.0}, **(limits or {}))
    findings = [item for pair in pairs for item in _pair_findings(pair, limits["min_gap"], limits["ratio"])]
    return pairs, findings


def _end_of_address(ends, addresses_by_host, aliases_by_host):
    """{address: end} of the addresses found on or declared by the hosts; an address of two ends belongs to none."""
    owner_of = {}
    ambiguous = set()
    for name in sorted(ends):
        for address in set(addresses_by_host.get(name) or ()) | set(aliases_by_host.get(name) or ()):
            if owner_of.setdefault(address, ends[name]) != ends[name]:
                ambiguous.add(address)
    for address in ambiguous:
        del owner_of[address]
    return owner_of


def _count_pairs(hosts, ends, owner_of, rows_by_host):
    """({(client end, server end, port): pair}, {(end, port, direction): connections with unknown peers}).

    Each end's ESTABLISHED connections per peer end; a connection whose peer no audited host is known by
    (clients or servers outside the audit, or a NAT nobody declared) counts as unattributed: the pair's count of
    that side could hide up to that many more of the pair's connections, so findings allow for them. Ends of which
    a host's socket table was not read take part in no pair (a failed host must not count as "holds none")."""
    complete = {end for end in set(ends.values()) if all((hosts.get(name) or {}).get("netstat") for name in end)}
    counts = {}
    unattributed = {}
    for name in sorted(hosts):
        own = ends[name]
        netstat = hosts[name].get("netstat") or {}
        for direction, service_port, peer, count in peer_counts(netstat, rows_by_host.get(name)):
            peer_end = None if peer is None else owner_of.get(peer)
            if peer_end == own:
                continue
            if peer_end is None:
                key = (own, service_port, direction)
                unattributed[key] = unattributed.get(key, 0) + count
                continue
            if own not in complete or peer_end not in complete:
                continue
            if direction == "outbound":
                key, side = (own, peer_end, service_port), "client_count"
            else:
                key, side = (peer_end, own, service_port), "server_count"
            pair = counts.get(key)
            if pair is None:
                pair = counts[key] = _new_pair(key)
            pair[side] += count
    return counts, unattributed


def _new_pair(key):
    client, server, port = key
    return {
        "client": _label(client),
        "server": _label(server),
        "service_port": port,
        "client_count": 0,
        "server_count": 0,
        "client_hosts": list(client),
        "server_hosts": list(server),
    }


def _judge_per_connection(counts, hosts, unattributed):
    """Each pair's unattributed connections, and whether it is matched per connection: every host of both ends
    listed its ESTABLISHED sockets."""
    for (client, server, port), pair in counts.items():
        pair["client_unattributed"] = unattributed.get((client, port, "outbound"), 0)
        pair["server_unattributed"] = unattributed.get((server, port, "inbound"), 0)
        listed = all("established_tuples" in ((hosts.get(name) or {}).get("netstat") or {}) for name in client + server)
        pair["per_connection"] = listed
        if listed:
            pair.update(client_matched=0, server_matched=0, client_half_open=0, server_half_open=0)


def _add_matched(counts, groups, ends, owner_of):
    """The matching's sockets per pair: matched and half-open towards each audited peer, and the sockets an audited
    NAT forgot, whose other end is the end known by the socket's remote address (the NAT address declared by the
    clients behind it, or the server's address)."""
    for (host, port, direction), group in groups.items():
        if host not in ends:
            continue
        for peer, numbers in group.peers.items():
            if peer not in ends or peer == host:
                continue
            pair, side = _pair_of(counts, ends[host], ends[peer], port, direction)
            if pair is not None:
                pair[side + "_matched"] += numbers["matched"]
                pair[side + "_half_open"] += numbers["half_open"]
        for address, count in group.forgotten_remotes.items():
            other = owner_of.get(address)
            if other is None:
                continue
            pair, side = _pair_of(counts, ends[host], other, port, direction)
            if pair is not None:
                pair[side + "_half_open"] += count


def _pair_of(counts, own, other, port, direction):
    """(the pair matched per connection that a socket of own towards other belongs to, "client" or "server"), or
    (None, side) when there is no such pair."""
    if direction == "outbound":
        key, side = (own, other, port), "client"
    else:
        key, side = (other, own, port), "server"
    pair = counts.get(key)
    return (pair if pair is not None and pair["per_connection"] else None), side


def _count_only_through_declared_nats(counts, groups):
    """Pairs with sockets that go through an address declared in netdiag_addresses that no audited NAT translates
    cannot be matched one to one: they are compared by counts only, and say why."""
    declared_only = {
        key: group.unjudged[DECLARED_ONLY] for key, group in groups.items() if group.unjudged.get(DECLARED_ONLY)
    }
    if not declared_only:
        return
    for (client, server, port), pair in counts.items():
        unmatched = sum(declared_only.get((name, port, "outbound"), 0) for name in client) + sum(
            declared_only.get((name, port, "inbound"), 0) for name in server
        )
        if pair["per_connection"] and unmatched:
            for key in ("client_matched", "server_matched", "client_half_open", "server_half_open"):
                del pair[key]
            pair["per_connection"] = False
            pair["matching_reason"] = (
                "%d sockets of the two ends go through an address declared in netdiag_addresses that no audited NAT "
                "translates (audit the NAT box to match them one to one): compared by counts only" % unmatched
            )


def _mark_filtered_sides(counts, hosts, addresses_by_host, aliases_by_host):
    """Pairs with a host whose peers filter leaves out an address of the other end name it in peers_filtered."""
    filters = {}  # host -> its peers filter's networks (None: no filter), read once per host
    for name in hosts:
        filters[name] = peers_filter(((hosts.get(name) or {}).get("netstat") or {}).get("established_tuples"))
    if all(networks is None for networks in filters.values()):
        return
    for (client, server, _port), pair in counts.items():
        filtered = _filtered_hosts(filters, client, server, addresses_by_host, aliases_by_host)
        filtered += _filtered_hosts(filters, server, client, addresses_by_host, aliases_by_host)
        if filtered:
            pair["peers_filtered"] = sorted(filtered)
            pair["peers_filter_reason"] = (
                "%s listed only sockets towards the peers filter (netdiag_audit_peers), which leaves out addresses of "
                "the other end: connections it holds towards them are not counted, so that side is not judged"
                % ", ".join(sorted(filtered))
            )


def _pair_findings(pair, min_gap, ratio):
    """The count finding of one pair, if its two counts differ enough: asymmetric-established (or half-open-sockets
    by counts), or asymmetric-unattributed when connections with unknown peers could explain the gap."""
    more, fewer = ("server", "client") if pair["server_count"] > pair["client_count"] else ("client", "server")
    if set(pair.get("peers_filtered") or ()) & set(pair[fewer + "_hosts"]):
        # The side with fewer may hold the missing connections unlisted: no gap can be told.
        return []
    high, low = pair[more + "_count"], pair[fewer + "_count"]
    if not _asymmetric(high, low, min_gap, ratio):
        return []
    hidden = pair[fewer + "_unattributed"]
    if hidden and not _asymmetric(high, low + hidden, min_gap, ratio):
        # The side with fewer holds enough connections with unknown peers to hide the gap: behind a NAT nobody
        # declared, the server sees the clients' connections coming from the NAT's address.
        if pair["per_connection"] and pair[fewer + "_matched"] > low:
            # An audited NAT's conntrack already matched them one to one: the matching's findings tell.
            return []
        return [_unattributed_finding(pair, more, fewer, high, low, hidden)]
    return [_asymmetric_finding(pair, more, fewer, high, low, hidden)]


def _unattributed_finding(pair, more, fewer, high, low, hidden):
    return finding(
        "asymmetric-unattributed",
        "info",
        pair[more],
        "%s holds %d ESTABLISHED connections for port %s, %s only %d from it but %d from peers no audited "
        "host is known by" % (pair[more], high, pair["service_port"], pair[fewer], low, hidden),
        dict(pair),
        "If a NAT or load balancer stands between them, declare the address %s sees (the NAT's, the "
        "virtual address) in netdiag_addresses of the hosts behind it and audit again; then the two ends "
        "can be compared." % pair[fewer],
    )


def _asymmetric_finding(pair, more, fewer, high, low, hidden):
    evidence = dict(pair)
    if not pair["per_connection"]:
        evidence["matching"] = "counts"
        evidence.setdefault(
            "matching_reason",
            "not every host of %s and %s listed its ESTABLISHED sockets (netstat_facts tuples), so the "
            "connections were compared by counts only" % (pair["client"], pair["server"]),
        )
    return finding(
        # Compared by counts only and none at all on the other end: every one of them is half-open.
        "half-open-sockets" if low + hidden == 0 and not pair["per_connection"] else "asymmetric-established",
        "warning",
        pair[more],
        "%s holds %d ESTABLISHED connections for port %s, %s only %d"
        % (pair[more], high, pair["service_port"], pair[fewer], low),
        evidence,
        "One side forgot connections the other still holds. Typical causes: a NAT or load balancer between "
        "them expired idle entries (check conntrack timeouts and keepalive), or the application never closes "
        "its sockets. Make the application close idle connections or enable TCP keepalive shorter than the "
        "middlebox idle timeout.",
    )


def _filtered_hosts(filters, end, other, addresses_by_host, aliases_by_host):
    """Hosts of end whose peers filter leaves out an address the other end is known by (its connections towards
    that address were not listed)."""
    if all(filters.get(name) is None for name in end):
        return []
    others = set()
    for name in other:
        others.update(addresses_by_host.get(name) or ())
        others.update(aliases_by_host.get(name) or ())
    return [
        name
        for name in end
        if filters.get(name) is not None and not all(filter_covers(filters[name], address) for address in others)
    ]


def _asymmetric(high, low, min_gap, ratio):
    return high - low >= min_gap and high >= ratio * max(low, 1)


def _ends(names, aliases_by_host):
    """{name: end}: an end is the sorted tuple of the hosts joined by declared addresses they share."""
    parent = {name: name for name in names}

    def root(name):
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    first_declared_by = {}
    for name in names:
        for address in aliases_by_host.get(name) or ():
            other = first_declared_by.setdefault(address, name)
            parent[root(name)] = root(other)
    members = {}
    for name in names:
        members.setdefault(root(name), []).append(name)
    return {name: tuple(sorted(members[root(name)])) for name in names}


def _label(end):
    return "+".join(end)
