# SPDX-License-Identifier: GPL-3.0-or-later
"""Across hosts: keepalive probes that come only after a NAT on the path has forgotten the connection.

A NAT or stateful firewall forgets an idle TCP connection after its conntrack ESTABLISHED timeout; a keepalive
probe refreshes the entry only if it comes before that. The 2012 fix lowered the NAT's timeout to 1200 s, while
Linux sends the first probe after net.ipv4.tcp_keepalive_time = 7200 s by default: idle connections that rely on
keepalive are still forgotten, only later. This check pairs each audited host that has sockets with SO_KEEPALIVE
with each audited conntrack host whose table lists it among the top sources. Pure function, no I/O.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import finding


def keepalive_findings(hosts, addresses_by_host):
    """``keepalive-after-nat-timeout`` findings for {name: host_report} and {name: addresses found on the host}.

    Each conntrack host's top sources are indexed by address once, so each host costs one look-up per address it
    is known by, not one walk over every conntrack host's sources (that made a 3,000-host report quadratic)."""
    tracked = _tracked_sources(hosts)
    found = []
    for name in sorted(hosts):
        report = hosts[name]
        idle = (report.get("keepalive") or {}).get("time")
        with_keepalive = _established_with_keepalive(report.get("netstat") or {})
        if not isinstance(idle, int) or with_keepalive <= 0:
            continue
        for tracker, timeout, entries in _trackers_of(tracked, addresses_by_host.get(name) or ()):
            if tracker == name or idle < timeout:
                continue
            found.append(_finding(name, report, idle, with_keepalive, tracker, timeout, entries))
    return found


def _tracked_sources(hosts):
    """{source address: [(conntrack host, its ESTABLISHED timeout, entries), ...]} over the conntrack hosts, in the
    order of their names."""
    tracked = {}
    for name in sorted(hosts):
        conntrack = hosts[name].get("conntrack") or {}
        timeout = (conntrack.get("timeouts") or {}).get("tcp_timeout_established")
        if not (conntrack.get("available") and isinstance(timeout, int) and not isinstance(timeout, bool)):
            continue
        sources = {item.get("address"): item.get("count", 0) for item in conntrack.get("top_sources") or []}
        for address, count in sources.items():
            tracked.setdefault(address, []).append((name, timeout, count))
    return tracked


def _trackers_of(tracked, addresses):
    """[(conntrack host, timeout, entries from these addresses)] in the order of the conntrack hosts' names, for
    those that track at least one entry from them."""
    totals = {}
    for address in set(addresses):
        for tracker, timeout, count in tracked.get(address, ()):
            previous = totals.get(tracker, (timeout, 0))
            totals[tracker] = (timeout, previous[1] + count)
    return [(tracker, timeout, entries) for tracker, (timeout, entries) in sorted(totals.items()) if entries]


def _established_with_keepalive(netstat):
    established = (netstat.get("state_counts") or {}).get("ESTABLISHED", 0)
    return (
        established
        - (netstat.get("established_without_keepalive") or 0)
        - (netstat.get("established_keepalive_unknown") or 0)
    )


def _finding(name, report, idle, with_keepalive, tracker, timeout, entries):
    return finding(
        "keepalive-after-nat-timeout",
        "warning",
        name,
        "tcp_keepalive_time %d s is not below the %d s conntrack ESTABLISHED timeout of %s, which tracks "
        "%d of its connections: idle ones are forgotten there before the first keepalive probe"
        % (idle, timeout, tracker, entries),
        {
            "tcp_keepalive_time": idle,
            "established_with_keepalive": with_keepalive,
            "conntrack_host": tracker,
            "conntrack_timeout": timeout,
            "tracked_entries": entries,
        },
        _recommendation(name, report, timeout, tracker),
    )


def _recommendation(name, report, timeout, tracker):
    """How to move the first probe before the NAT's timeout, in the words of the host's platform."""
    if report.get("platform") == "SunOS":
        # Solaris/illumos: one system-wide idle time in milliseconds (Oracle, Solaris Tunable Parameters).
        return (
            "Lower the keepalive idle time on %s below %d s: ipadm set-prop -p _keepalive_interval=%d tcp (Solaris 11, "
            "illumos) or ndd -set /dev/tcp tcp_keepalive_interval %d (Solaris 10), or TCP_KEEPALIVE_THRESHOLD per "
            "socket in the application; or raise the ESTABLISHED timeout on %s above it. The Solaris default (2 hours) "
            "outlives the incident's fix (1200 s)."
            % (name, timeout, _solaris_milliseconds(timeout), _solaris_milliseconds(timeout), tracker)
        )
    return (
        "Lower net.ipv4.tcp_keepalive_time on %s below %d s (sysctl, or TCP_KEEPIDLE per socket in the "
        "application), or raise the ESTABLISHED timeout on %s above it. The Linux default keepalive "
        "time (7200 s) outlives the incident's fix (1200 s)." % (name, timeout, tracker)
    )


def _solaris_milliseconds(timeout):
    """A suggested idle time a minute below the timeout, in milliseconds, within Solaris' 10 s minimum."""
    return max(timeout - 60, 10) * 1000
