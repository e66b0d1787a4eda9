# SPDX-License-Identifier: GPL-3.0-or-later
"""The compact summary of one report: the few numbers per host and pair that comparisons over time need.

Each report set gets an ``audit-<stamp>.summary.json`` beside its JSON (a few hundred bytes per host), so that the
next audit compares itself with many earlier ones by reading these instead of every old report whole (a report with
its connection lists and tuples is megabytes on a busy host). An older report without one is summarised from its
JSON with the same function. Pure functions, no I/O.
"""

from __future__ import annotations

# Version of the summary's own layout; a summary of another version is summarised again from its report.
SUMMARY_SCHEMA = 1
# Holders kept per pair and per host (the busiest); the summary must stay small.
HOLDERS_KEPT = 5


def pair_key(client, server, service_port):
    """The stable name of a pair across reports: 'client -> server:port' (client may be 'web1+web2')."""
    return "%s -> %s:%s" % (client, server, service_port)


def _holders(evidence):
    return [
        {"pid": item.get("pid"), "process": item.get("process"), "count": item.get("count", 0)}
        for item in (evidence.get("holders") or [])[:HOLDERS_KEPT]
    ]


def _close_wait_holders(netstat):
    owners = {}
    for connection in netstat.get("connections") or []:
        if connection.get("state") == "CLOSE_WAIT":
            key = (connection.get("pid"), connection.get("process"))
            owners[key] = owners.get(key, 0) + 1
    ranked = sorted(owners.items(), key=lambda item: (-item[1], item[0][0] is None, item[0][0] or 0))
    return [{"pid": pid, "process": process, "count": count} for (pid, process), count in ranked[:HOLDERS_KEPT]]


def half_open_by_host(report):
    """{host: half-open sockets} for the hosts matched per connection (they listed every ESTABLISHED socket, in
    ``established_tuples``); a host that did not list them has no count (None), not zero."""
    counts = {}
    for group in (report.get("matching") or {}).get("groups") or []:
        counts[group["host"]] = counts.get(group["host"], 0) + (group.get("half_open") or 0)
    return {
        name: counts.get(name, 0)
        for name, host in (report.get("hosts") or {}).items()
        if (host.get("netstat") or {}).get("established_tuples")
    }


def host_summary(host, half_open):
    netstat = host.get("netstat") or {}
    states = netstat.get("state_counts") or {}
    conntrack = host.get("conntrack") or {}
    entry = {
        "status": host.get("status"),
        "platform": host.get("platform"),
        # Without a socket table the counts are unknown (None), not zero.
        "established": states.get("ESTABLISHED", 0) if netstat else None,
        "close_wait": states.get("CLOSE_WAIT", 0) if netstat else None,
        "half_open": half_open,
        "keepalive_unknown": netstat.get("established_keepalive_unknown") if netstat else None,
        "close_wait_holders": _close_wait_holders(netstat),
    }
    if conntrack.get("available"):
        entry["conntrack"] = {
            "count": conntrack.get("count"),
            "max": conntrack.get("max"),
            "usage_pct": conntrack.get("usage_pct"),
            "tcp_timeout_established": (conntrack.get("timeouts") or {}).get("tcp_timeout_established"),
        }
    return entry


def report_summary(report, report_file=None):
    """{summary_schema, report_schema, generated_at, report_file, hosts: {name: ...}, pairs: {key: ...}}."""
    groups = (report.get("matching") or {}).get("groups") or []
    half_open = half_open_by_host(report)
    # The holders of half-open sockets, per host, service port and direction, from the half-open-sockets findings.
    through = {}
    for group in groups:
        through.setdefault((group["host"], group.get("service_port")), set()).update(group.get("through") or ())
    holders = {}
    for item in report.get("findings") or []:
        evidence = item.get("evidence") or {}
        if item.get("id") == "half-open-sockets":
            holders[(item["host"], evidence.get("service_port"), evidence.get("direction"))] = _holders(evidence)
    pairs = {}
    for pair in report.get("pairs") or []:
        per_connection = bool(pair.get("per_connection"))
        port = pair["service_port"]
        pair_holders = []
        for name in pair.get("server_hosts") or [pair["server"]]:
            pair_holders += [dict(item, host=name) for item in holders.get((name, port, "inbound"), [])]
        for name in pair.get("client_hosts") or [pair["client"]]:
            pair_holders += [dict(item, host=name) for item in holders.get((name, port, "outbound"), [])]
        pair_holders.sort(key=lambda item: -item["count"])
        pairs[pair_key(pair["client"], pair["server"], port)] = {
            "client": pair["client"],
            "server": pair["server"],
            "service_port": port,
            "client_hosts": pair.get("client_hosts") or [pair["client"]],
            "server_hosts": pair.get("server_hosts") or [pair["server"]],
            "client_count": pair.get("client_count"),
            "server_count": pair.get("server_count"),
            "per_connection": per_connection,
            # Matched and half-open are known only when both ends were matched socket by socket.
            "matched": max(pair.get("client_matched", 0), pair.get("server_matched", 0)) if per_connection else None,
            "client_half_open": pair.get("client_half_open", 0) if per_connection else None,
            "server_half_open": pair.get("server_half_open", 0) if per_connection else None,
            "half_open": pair.get("client_half_open", 0) + pair.get("server_half_open", 0) if per_connection else None,
            "holders": pair_holders[:HOLDERS_KEPT],
            # The NATs the pair's connections pass (their conntrack tables hold its entries).
            "through": sorted(
                set().union(
                    *(through.get((name, port), set()) for name in pair.get("server_hosts") or [pair["server"]]),
                    *(through.get((name, port), set()) for name in pair.get("client_hosts") or [pair["client"]]),
                )
            ),
        }
    hosts = report.get("hosts") or {}
    return {
        "summary_schema": SUMMARY_SCHEMA,
        "report_schema": report.get("schema"),
        "generated_at": report.get("generated_at"),
        "report_file": report_file,
        "hosts": {name: host_summary(hosts[name], half_open.get(name)) for name in sorted(hosts)},
        "pairs": dict(sorted(pairs.items())),
    }
