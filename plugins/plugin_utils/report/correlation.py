# SPDX-License-Identifier: GPL-3.0-or-later
"""Both ends of the same TCP service seen from two audited hosts. Pure functions, no I/O.

The incident this product was born from: the web server (client) counted 30-40 ESTABLISHED sessions to port 5555,
the application server counted 200+ from the same client. A pair puts the two counts side by side; a large gap is
the `asymmetric-established` finding (one side forgot connections the other still holds: NAT/conntrack expiry,
a reset that never arrived, a peer that vanished).
"""

from __future__ import annotations

import ipaddress


def host_addresses(report, extra=()):
    """Addresses a host is known by: its sockets' local addresses (not wildcard or loopback) and inventory hints."""
    addresses = set()
    netstat = report.get("netstat") or {}
    candidates = list(extra)
    candidates.extend(item.get("local_address") for item in netstat.get("listeners") or [])
    candidates.extend(item.get("local_address") for item in netstat.get("connections") or [])
    candidates.extend(netstat.get("local_addresses") or [])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(str(candidate))
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified):
            addresses.add(str(address))
    return addresses


def correlate(hosts, addresses_by_host, min_gap=10, ratio=2.0):
    """Pairs of (client host, server host, service port) with both counts, and the asymmetric ones.

    hosts: {name: host_report}; addresses_by_host: {name: set of addresses}.
    Returns (pairs, findings).
    """
    # Only hosts whose socket table was read take part: a host that failed must not count as "holds none".
    owner_of = {}
    for name, addresses in addresses_by_host.items():
        if not (hosts.get(name) or {}).get("netstat"):
            continue
        for address in addresses:
            owner_of.setdefault(address, name)

    counts = {}
    for name in sorted(hosts):
        for entry in (hosts[name].get("netstat") or {}).get("established_by_peer") or []:
            peer_host = owner_of.get(entry.get("peer"))
            if peer_host is None or peer_host == name:
                continue
            if entry.get("direction") == "outbound":
                key = (name, peer_host, entry.get("service_port"))
                side = "client_count"
            else:
                key = (peer_host, name, entry.get("service_port"))
                side = "server_count"
            pair = counts.setdefault(
                key,
                {"client": key[0], "server": key[1], "service_port": key[2], "client_count": 0, "server_count": 0},
            )
            pair[side] += entry.get("count", 0)

    pairs = sorted(counts.values(), key=lambda pair: (pair["client"], pair["server"], pair["service_port"] or 0))
    findings = []
    for pair in pairs:
        low, high = sorted((pair["client_count"], pair["server_count"]))
        if high - low >= min_gap and high >= ratio * max(low, 1):
            more = "server" if pair["server_count"] > pair["client_count"] else "client"
            findings.append(
                {
                    # None at all on the other end: every one of these connections is half-open.
                    "id": "half-open-sockets" if low == 0 else "asymmetric-established",
                    "severity": "warning",
                    "host": pair[more],
                    "summary": "%s holds %d ESTABLISHED connections for port %s, %s only %d"
                    % (
                        pair[more],
                        high,
                        pair["service_port"],
                        pair["client" if more == "server" else "server"],
                        low,
                    ),
                    "evidence": dict(pair),
                    "recommendation": "One side forgot connections the other still holds. Typical causes: a NAT or "
                    "load balancer between them expired idle entries (check conntrack timeouts and keepalive), or the "
                    "application never closes its sockets. Make the application close idle connections or enable "
                    "TCP keepalive shorter than the middlebox idle timeout.",
                }
            )
    return pairs, findings
