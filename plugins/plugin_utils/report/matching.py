# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-connection matching: each ESTABLISHED socket of an audited host against its mirror on the audited peer.

A TCP connection is one socket on each end with the same 4-tuple reversed: ``web 198.51.100.10:40000 ->
198.51.100.20:5555`` on the client is ``198.51.100.20:5555 <- 198.51.100.10:40000`` on the server. A socket whose
mirror is missing on an audited peer (whose list of sockets is complete) is half-open: the other end closed or
vanished without its FIN or RST arriving (the 2012 incident: clients gone, a NAT that forgot them, and no
keepalive), and only the holding process can release it. Counting per pair (correlation.py) shows that a gap exists;
matching says which sockets, and who holds them.

Through NAT the 4-tuples differ on the two ends. Where the NAT box is an audited Linux host, its conntrack entries
(conntrack_facts ``nat_tuples``: original and reply tuple of each translated ESTABLISHED entry) map one end's
4-tuple to the other's: the client's socket is the original tuple, the server's the reply tuple. A socket towards
an address the audited NAT translates to, but with no entry there, is half-open too: the NAT forgot it, so nothing
can reach its peer through it any more. Where a NAT address is only declared (``netdiag_addresses``) and the NAT is
not audited, sockets cannot be matched one to one: they are counted as not judged, and the pair's counts are all
there is. Peers that are no audited host are listed, not judged.

Input: the compact ``established_tuples`` of netstat_facts (one line per socket), so this scales to 100,000
connections per host: each host's sockets become one set of tuples, each socket one set lookup. Pure functions.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import parse_tuples, service_port_of
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.conntrack_nat import parse_nat_tuples
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import finding
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.holders import HostHolders

SAMPLE_SIZE = 20

# Why a socket could not be judged (the keys of ``not_judged``).
PEER_NOT_LISTED = "peer-sockets-not-gathered"
PEER_TRUNCATED = "peer-sockets-truncated"
NAT_TRUNCATED = "nat-table-truncated"
DECLARED_ONLY = "declared-address-without-audited-nat"
PEER_HAS_UNKNOWN_PEERS = "peer-has-connections-from-unknown-addresses"
PEER_FILTERED = "peer-sockets-filtered-by-peers"


def local_addresses(established_tuples):
    """The local addresses of a host's ``established_tuples`` rows (the addresses its connections use)."""
    found = set()
    for line in ((established_tuples or {}).get("rows") or "").split("\n"):
        address = line.partition(" ")[0]
        if address:
            found.add(address)
    return found


def peers_filter(established_tuples):
    """The networks a host's ``established_tuples`` were selected by (netstat_facts ``peers``), None for all.

    Such a list holds only the sockets whose remote address is in those networks, so it stands for "this host
    holds none" only towards those addresses. Unreadable entries select nothing (the list judges nothing)."""
    values = (established_tuples or {}).get("peers")
    if not values:
        return None
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            continue
    return tuple(networks)


def filter_covers(networks, address):
    """True when a list selected by peers_filter() networks lists the sockets towards address."""
    if networks is None:
        return True
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed.version == network.version and parsed in network for network in networks)


_LOOPBACK = {}


def _is_loopback(address):
    value = _LOOPBACK.get(address)
    if value is None:
        try:
            value = ipaddress.ip_address(address).is_loopback
        except ValueError:
            value = False
        if len(_LOOPBACK) < 65536:
            _LOOPBACK[address] = value
    return value


class Matcher:
    """Matches every listed socket of every audited host; see match_connections() for the result."""

    def __init__(self, hosts, addresses_by_host, aliases_by_host=None):
        self.hosts = hosts
        self.addresses = {name: set(addresses_by_host.get(name) or ()) for name in hosts}
        self.errors = {}
        self.rows = {}
        self.index = {}
        self.complete = {}
        self.filters = {}  # host -> networks its list was selected by (peers), for hosts that applied a filter
        self.covered = {}  # (host, address) -> filter_covers(), computed once per distinct address
        self.remotes = {}  # host -> remote addresses of its listed sockets, computed when first needed
        self.sources = {}  # host -> (local port, remote address) of its listed sockets, computed when first needed
        self.groups = {}  # what run() matched: {(host, service port, direction): _Group}
        self._read_sockets()
        # Socket 4-tuple -> (the 4-tuple of its peer's socket, NAT host) from the audited NATs' conntrack entries.
        self.translation = {}
        self.nat_of_address = {}
        self.nat_complete = {}
        self._read_nat_entries()
        owner = {}
        ambiguous = set()
        for name in sorted(self.addresses):
            for address in self.addresses[name]:
                if owner.setdefault(address, name) != name:
                    ambiguous.add(address)
        for address in ambiguous:
            del owner[address]
        self.owner = owner
        self.declared = {}
        self.behind_nat = {}
        for name in sorted(aliases_by_host or {}):
            for address in (aliases_by_host or {})[name] or ():
                self.declared.setdefault(address, []).append(name)
                self.behind_nat.setdefault(name, set()).add(address)

    def _read_sockets(self):
        """Each host's listed sockets: its rows, their set of 4-tuples, whether the list is complete, its filter."""
        shared = {}  # one object per distinct address and port across all hosts' rows (a fleet repeats them)
        for name in sorted(self.hosts):
            netstat = self.hosts[name].get("netstat") or {}
            value = netstat.get("established_tuples")
            if value is None:
                continue
            try:
                rows = parse_tuples(value, shared)
            except ValueError as error:
                self.errors[name] = str(error)
                continue
            self.rows[name] = rows
            self.index[name] = {row[:4] for row in rows}
            self.complete[name] = not value.get("truncated")
            networks = peers_filter(value)
            if networks is not None:
                self.filters[name] = networks
            # Both count the same selected ESTABLISHED TCP sockets; if a collector's path forgot to list some, the
            # list must not stand for "the other end holds none".
            established = (netstat.get("state_counts") or {}).get("ESTABLISHED")
            if not _count_agrees(netstat):
                self.complete[name] = False
                self.errors[name] = (
                    "established_tuples lists %s sockets but state_counts has %d ESTABLISHED: not used to judge "
                    "the other ends" % (value.get("count"), established)
                )

    def _read_nat_entries(self):
        """The audited NATs' translated entries, both ways, and the addresses each NAT translates to."""
        for name in sorted(self.hosts):
            value = (self.hosts[name].get("conntrack") or {}).get("nat_tuples")
            if value is None:
                continue
            try:
                entries = parse_nat_tuples(value)
            except ValueError as error:
                self.errors[name] = str(error)
                continue
            self.nat_complete[name] = not value.get("truncated")
            for original, reply in entries:
                self.translation[original] = (reply, name)
                self.translation[reply] = (original, name)
                if reply[2] != original[0]:  # source NAT: the server sees the NAT's address
                    self.nat_of_address.setdefault(reply[2], name)
                if original[2] != reply[0]:  # destination NAT: the client talks to a virtual address
                    self.nat_of_address.setdefault(original[2], name)

    def peer_of(self, name, address):
        """The audited host a socket's peer address belongs to (the host itself for its own or loopback ones)."""
        if address in self.addresses[name] or _is_loopback(address):
            return name
        return self.owner.get(address)

    def run(self):
        groups = {}
        outside = {}
        pending = []  # (group, row, peer, through): no mirror on the peer, judged once every host was read
        for name in sorted(self.rows):
            netstat = self.hosts[name].get("netstat") or {}
            listening = tcp_listening_ports(netstat)
            holders = HostHolders(self.hosts[name])
            for row in self.rows[name]:
                local_address, local_port, remote_address, remote_port = row[:4]
                direction, port = service_port_of(local_port, remote_port, listening)
                group = groups.get((name, port, direction))
                if group is None:
                    group = groups[(name, port, direction)] = _Group(name, port, direction, holders)
                translated = self.translation.get(row[:4])
                if translated is None:
                    mirror, through = (remote_address, remote_port, local_address, local_port), None
                else:
                    mirror, through = translated
                peer = self.peer_of(name, mirror[0])
                if peer is not None and peer in self.index and mirror in self.index[peer]:
                    group.matched(peer, through)
                    continue
                if (
                    translated is None
                    and direction == "outbound"
                    and name in self.behind_nat
                    and peer != name
                    and not self._reached_directly(name, local_address, peer)
                ):
                    # This host's outbound connections may leave through a NAT (netdiag_addresses): without an
                    # entry of an audited NAT, the peer's 4-tuple is unknown. An audited NAT that has none forgot it.
                    # Inbound sessions (an admin's SSH from the LAN) and connections to an audited host reached
                    # without the NAT are judged below like any other.
                    if self._holds_none_from(peer, remote_port, {local_address} | self.behind_nat[name]):
                        # The audited peer lists no socket on this port from this host nor from its NAT addresses:
                        # whichever way the connection went, its other end is gone there (not only the NAT's entry).
                        pending.append((group, row, peer, None))
                    else:
                        self._behind_nat(group, row, name)
                    continue
                if peer is not None:
                    if peer not in self.index:
                        group.not_judged(PEER_NOT_LISTED)
                    elif not self.complete[peer]:
                        group.not_judged(PEER_TRUNCATED)
                    elif peer in self.filters and not self._covers(peer, mirror[2]):
                        # The peer listed only its sockets towards its peers filter: the mirror, whose remote
                        # address is this socket's local one (or the NAT's), may exist there unlisted.
                        group.not_judged(PEER_FILTERED)
                    else:
                        pending.append((group, row, peer, through))
                    continue
                nat = self.nat_of_address.get(mirror[0])
                if nat is not None:
                    # The audited NAT translates to this address but has no entry for this connection.
                    if self.nat_complete[nat]:
                        group.half_open(row, None, nat, "no-nat-entry")
                    else:
                        group.not_judged(NAT_TRUNCATED)
                    continue
                if mirror[0] in self.declared:
                    group.not_judged(DECLARED_ONLY)
                    continue
                key = (name, port, direction, mirror[0])
                outside[key] = outside.get(key, 0) + 1
        # A peer that holds connections for the same service port from addresses no audited host is known by may
        # see these very connections through a NAT nobody declared: they cannot be judged one to one.
        unknown = set()
        for host, port, direction, _address in outside:
            unknown.add((host, port, direction))
        for group, row, peer, through in pending:
            opposite = "outbound" if group.direction == "inbound" else "inbound"
            if (peer, group.port, opposite) in unknown:
                group.not_judged(PEER_HAS_UNKNOWN_PEERS)
            else:
                group.half_open(row, peer, through, "no-peer-socket")
        self.groups = groups
        return groups, outside

    def _reached_directly(self, name, local_address, peer):
        """True when the audited peer is reached without the NAT: it is behind the same NAT, or it lists sockets
        from this host's own address (so it sees this host untranslated)."""
        if peer is None:
            return False
        if self.behind_nat.get(peer, set()) & self.behind_nat[name]:
            return True
        remotes = self.remotes.get(peer)
        if remotes is None:
            remotes = self.remotes[peer] = {row[2] for row in self.rows.get(peer) or ()}
        return local_address in remotes

    def _holds_none_from(self, peer, port, addresses):
        """True when an audited peer, whose list is complete and unfiltered, lists no socket on local ``port`` from
        any of ``addresses``."""
        if peer is None or peer not in self.index or not self.complete[peer] or peer in self.filters:
            return False
        sources = self.sources.get(peer)
        if sources is None:
            sources = self.sources[peer] = {(row[1], row[2]) for row in self.rows.get(peer) or ()}
        return not any((port, address) in sources for address in addresses)

    def _covers(self, host, address):
        key = (host, address)
        value = self.covered.get(key)
        if value is None:
            value = filter_covers(self.filters[host], address)
            if len(self.covered) < 65536:
                self.covered[key] = value
        return value

    def _behind_nat(self, group, row, name):
        nats = sorted(
            {self.nat_of_address[address] for address in self.behind_nat[name] if address in self.nat_of_address}
        )
        if not nats:
            group.not_judged(DECLARED_ONLY)
        elif not all(self.nat_complete[nat] for nat in nats):
            group.not_judged(NAT_TRUNCATED)
        else:
            group.half_open(row, None, nats[0], "no-nat-entry")


class _Group:
    """The sockets of one host for one service port and direction, as matched."""

    def __init__(self, host, port, direction, holders):
        self.host = host
        self.port = port
        self.direction = direction
        self.holders = holders
        self.matched_count = 0
        self.half_open_rows = []
        self.peers = {}  # peer host -> {"matched": n, "half_open": n}
        self.through = set()
        self.forgotten = {}  # NAT host -> sockets it holds no entry for
        self.forgotten_remotes = {}  # remote address of those sockets -> sockets (for the pairs, by ends)
        self.reasons = {}
        self.unjudged = {}

    def matched(self, peer, through):
        self.matched_count += 1
        counts = self.peers.setdefault(peer, {"matched": 0, "half_open": 0})
        counts["matched"] += 1
        if through:
            self.through.add(through)

    def half_open(self, row, peer, through, reason):
        """peer: the audited host that lacks the mirror; None when the audited NAT (through) has no entry for it."""
        self.half_open_rows.append(row)
        if peer is None:
            self.forgotten[through] = self.forgotten.get(through, 0) + 1
            self.forgotten_remotes[row[2]] = self.forgotten_remotes.get(row[2], 0) + 1
        else:
            counts = self.peers.setdefault(peer, {"matched": 0, "half_open": 0})
            counts["half_open"] += 1
        if through:
            self.through.add(through)
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def not_judged(self, reason):
        self.unjudged[reason] = self.unjudged.get(reason, 0) + 1

    def summary(self):
        return {
            "host": self.host,
            "service_port": self.port,
            "direction": self.direction,
            "matched": self.matched_count,
            "half_open": len(self.half_open_rows),
            "not_judged": dict(sorted(self.unjudged.items())),
            "peers": {peer: dict(counts) for peer, counts in sorted(self.peers.items())},
            "forgotten_by_nat": dict(sorted(self.forgotten.items())),
            "through": sorted(self.through),
        }

    def evidence(self, sample_size=SAMPLE_SIZE):
        """The half-open sockets' evidence: count, holders, keepalive, a capped sample."""
        rows = self.half_open_rows
        by_holder = {}
        keepalive = {"on": 0, "off": 0, "unknown": 0}
        for row in rows:
            holder = self.holders.holder(row[4], row)
            entry = by_holder.get(holder["pid"])
            if entry is None:
                entry = by_holder[holder["pid"]] = dict(holder, count=0)
            entry["count"] += 1
            keepalive[{True: "on", False: "off", None: "unknown"}[row[5]]] += 1
        holders = sorted(by_holder.values(), key=lambda item: (-item["count"], item["pid"] is None, item["pid"] or 0))
        states = [state for state in ("on", "off", "unknown") if keepalive[state]]
        sample = [
            {
                "local_address": row[0],
                "local_port": row[1],
                "remote_address": row[2],
                "remote_port": row[3],
                "pid": row[4],
            }
            for row in sorted(rows)[:sample_size]
        ]
        evidence = {
            "count": len(rows),
            "service_port": self.port,
            "direction": self.direction,
            "matched": self.matched_count,
            "peers": {peer: counts["half_open"] for peer, counts in sorted(self.peers.items()) if counts["half_open"]},
            "forgotten_by_nat": dict(sorted(self.forgotten.items())),
            "through": sorted(self.through),
            "reasons": dict(sorted(self.reasons.items())),
            "holders": holders,
            "keepalive": states[0] if len(states) == 1 else "mixed",
            "keepalive_counts": keepalive,
            "sample": sample,
            "sample_truncated": len(rows) > sample_size,
        }
        if self.holders.on_host and any(holder["pid"] is None for holder in holders):
            # A captured rmsock log names processes but not which socket: said beside the unknown holder.
            evidence["named_on_host"] = self.holders.on_host
        return evidence


def tcp_listening_ports(netstat):
    """The TCP ports a host's listeners listen on: they decide each socket's direction, as on the host."""
    return {
        item.get("local_port")
        for item in netstat.get("listeners") or []
        if item.get("protocol", "tcp") == "tcp" and item.get("local_port") is not None
    }


def lists_every_socket(netstat):
    """True when ``established_tuples`` lists every selected ESTABLISHED TCP socket of the host."""
    value = netstat.get("established_tuples")
    return bool(value) and not value.get("truncated") and _count_agrees(netstat)


def _count_agrees(netstat):
    established = (netstat.get("state_counts") or {}).get("ESTABLISHED")
    return not isinstance(established, int) or (netstat.get("established_tuples") or {}).get("count") == established


def match_connections(hosts, addresses_by_host, aliases_by_host=None):
    """(groups, outside, errors) for {name: host_report}.

    groups   {(host, service_port, direction): _Group} of every host that listed its ESTABLISHED sockets;
    outside  {(host, service_port, direction, peer address): sockets} towards peers that are no audited host;
    errors   {host: message} for unreadable tuples (that host is then not matched).
    """
    matcher = Matcher(hosts, addresses_by_host, aliases_by_host)
    groups, outside = matcher.run()
    return groups, outside, matcher.errors


def _holder_text(holder):
    name = holder["process"] or "unknown process"
    if holder["pid"] is None:
        return "%s %d" % (name, holder["count"])
    sources = holder.get("named_by") or []
    return "%s (pid %s%s) %d" % (
        name,
        holder["pid"],
        ", named by " + " and ".join(sources) if sources else "",
        holder["count"],
    )


def _holders_summary(evidence):
    """The holders for the summary line; a process named on the host but not per socket (a captured rmsock log)
    is said as that, not as the holder of these sockets."""
    text = ", ".join(_holder_text(holder) for holder in evidence["holders"][:5])
    named = evidence.get("named_on_host") or []
    if named:
        text += " (%s named %s on this host, not which sockets)" % (
            " and ".join(sorted({source for item in named for source in item["named_by"]})),
            ", ".join(
                "%s (pid %s) for %d socket%s"
                % (item["process"] or "?", item["pid"], item["sockets"], "" if item["sockets"] == 1 else "s")
                for item in named[:5]
            ),
        )
    return text


def half_open_findings(groups, min_count=1, sample_size=SAMPLE_SIZE):
    """``half-open-sockets`` for every host, service port and direction with at least min_count sockets whose
    mirror is missing on an audited peer (or whose connection the audited NAT no longer tracks)."""
    found = []
    for key in sorted(groups, key=lambda item: (item[0], item[1] or 0, item[2])):
        group = groups[key]
        if len(group.half_open_rows) < max(min_count, 1):
            continue
        evidence = group.evidence(sample_size)
        where = ["%s (%d)" % (peer, count) for peer, count in evidence["peers"].items()]
        where += ["the NAT %s has no entry (%d)" % (nat, count) for nat, count in evidence["forgotten_by_nat"].items()]
        found.append(
            finding(
                "half-open-sockets",
                "warning",
                group.host,
                "%s holds %d ESTABLISHED sockets for port %s whose other end is gone: %s; held by %s; keepalive %s"
                % (
                    group.host,
                    evidence["count"],
                    group.port,
                    ", ".join(where),
                    _holders_summary(evidence),
                    evidence["keepalive"],
                ),
                evidence,
                "No socket on the other end matches these (the peer closed or vanished and its FIN or RST never "
                "arrived, or a NAT between them forgot the connection). Nothing will ever arrive on them; only the "
                "holding process can release them: make it close idle connections, or enable SO_KEEPALIVE with "
                "tcp_keepalive_time below every NAT and firewall idle timeout on the path so the kernel drops dead "
                "peers. A few sockets opened or closed while the hosts were read can show up too: audit again "
                "before acting on a small count.",
            )
        )
    return found


# Most entries of ``matching.outside`` kept (the most sockets first): a web server has a peer per client.
MAX_OUTSIDE = 200


def matching_section(groups, outside, errors, max_outside=MAX_OUTSIDE):
    """The report's ``matching`` section: per host, port and direction what was matched, and the peers outside the
    audit (most sockets first, at most max_outside of them; ``outside_total`` counts them all)."""
    ranked = sorted(outside.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or 0, item[0][3]))
    return {
        "groups": [groups[key].summary() for key in sorted(groups, key=lambda item: (item[0], item[1] or 0, item[2]))],
        "outside": [
            {"host": host, "service_port": port, "direction": direction, "peer": peer, "count": count}
            for (host, port, direction, peer), count in ranked[:max_outside]
        ],
        "outside_total": len(ranked),
        "errors": dict(sorted(errors.items())),
    }
