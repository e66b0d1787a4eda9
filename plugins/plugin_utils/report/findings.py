# SPDX-License-Identifier: GPL-3.0-or-later
"""Findings: what an experienced sysadmin would flag in one host's netdiag facts. Pure functions, no I/O.

Each check takes (host, host_report, thresholds) and yields finding dicts with the contract's stable ids.
A new check is a new function added to CHECKS.
"""

from __future__ import annotations

CONNTRACK_DEFAULT_ESTABLISHED_TIMEOUT = 432000  # 5 days: the kernel default that kept the incident's NAT entries

DEFAULT_THRESHOLDS = {
    # conntrack table usage (count / max, percent) at or above which the table is "near full"; critical at 95.
    "conntrack_near_full_pct": 80,
    "conntrack_full_pct": 95,
    # CLOSE_WAIT sockets on one host: the peer closed, the local application never did.
    "close_wait": 20,
    # ESTABLISHED TCP sockets without SO_KEEPALIVE towards one service port from one host.
    "no_keepalive": 20,
}


def finding(finding_id, severity, host, summary, evidence, recommendation):
    return {
        "id": finding_id,
        "severity": severity,
        "host": host,
        "summary": summary,
        "evidence": evidence,
        "recommendation": recommendation,
    }


def check_conntrack_timeout_default(host, report, thresholds):
    conntrack = report.get("conntrack") or {}
    if not conntrack.get("available"):
        return
    timeout = (conntrack.get("timeouts") or {}).get("tcp_timeout_established")
    if timeout != CONNTRACK_DEFAULT_ESTABLISHED_TIMEOUT:
        return
    key = (
        "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"
        if conntrack.get("key_style") == "ip_conntrack"
        else "net.netfilter.nf_conntrack_tcp_timeout_established"
    )
    yield finding(
        "conntrack-timeout-default",
        "warning",
        host,
        "conntrack keeps idle ESTABLISHED TCP entries for 5 days (%s = %d, the kernel default)" % (key, timeout),
        {"key": key, "value": timeout, "count": conntrack.get("count"), "max": conntrack.get("max")},
        "If this host does NAT or stateful filtering for long-lived idle connections, lower the timeout "
        "(ansible-playbook playbooks/tune_conntrack.yml -e target=%s; 1200 s by default) and make the "
        "applications close idle sockets or enable TCP keepalive below that timeout." % host,
    )


def check_conntrack_near_full(host, report, thresholds):
    conntrack = report.get("conntrack") or {}
    usage = conntrack.get("usage_pct")
    if not conntrack.get("available") or usage is None or usage < thresholds["conntrack_near_full_pct"]:
        return
    severity = "critical" if usage >= thresholds["conntrack_full_pct"] else "warning"
    yield finding(
        "conntrack-near-full",
        severity,
        host,
        "conntrack table %.1f%% full (%s of %s entries)" % (usage, conntrack.get("count"), conntrack.get("max")),
        {
            "count": conntrack.get("count"),
            "max": conntrack.get("max"),
            "usage_pct": usage,
            "threshold_pct": thresholds["conntrack_near_full_pct"],
            "top_sources": (conntrack.get("top_sources") or [])[:5],
            "drop": (conntrack.get("stats") or {}).get("drop"),
            "early_drop": (conntrack.get("stats") or {}).get("early_drop"),
        },
        "When the table is full the kernel drops new connections ('nf_conntrack: table full, dropping packet'). "
        "Find who holds the entries (top_sources), lower the ESTABLISHED timeout, or raise "
        "net.netfilter.nf_conntrack_max with the conntrack_tuning role.",
    )


def check_close_wait_buildup(host, report, thresholds):
    netstat = report.get("netstat") or {}
    close_wait = (netstat.get("state_counts") or {}).get("CLOSE_WAIT", 0)
    if close_wait < thresholds["close_wait"]:
        return
    owners = {}
    for connection in netstat.get("connections") or []:
        if connection.get("state") == "CLOSE_WAIT":
            owner = connection.get("process") or "unknown"
            if connection.get("pid") is not None:
                owner = "%s (pid %s)" % (owner, connection["pid"])
            owners[owner] = owners.get(owner, 0) + 1
    yield finding(
        "close-wait-buildup",
        "warning",
        host,
        "%d TCP sockets in CLOSE_WAIT: the peers closed, the local application has not" % close_wait,
        {"close_wait": close_wait, "threshold": thresholds["close_wait"], "owners": owners},
        "CLOSE_WAIT only ends when the owning process calls close(); fix or restart the owner listed. "
        "Kernel tuning cannot clear these sockets.",
    )


def check_no_keepalive(host, report, thresholds):
    netstat = report.get("netstat") or {}
    without = netstat.get("established_without_keepalive")
    if not without or without < thresholds["no_keepalive"]:
        return
    keepalive = report.get("keepalive") or {}
    yield finding(
        "no-keepalive",
        "info",
        host,
        "%d ESTABLISHED TCP sockets have no SO_KEEPALIVE: idle ones are invisible to NAT and firewalls" % without,
        {"established_without_keepalive": without, "threshold": thresholds["no_keepalive"], "keepalive": keepalive},
        "Connections that sit idle behind NAT or a load balancer are forgotten there while both ends keep them. "
        "Enable SO_KEEPALIVE in the application (with tcp_keepalive_time below the middlebox idle timeout) or "
        "close idle connections.",
    )


CHECKS = (
    check_conntrack_timeout_default,
    check_conntrack_near_full,
    check_close_wait_buildup,
    check_no_keepalive,
)

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def host_findings(hosts, thresholds=None):
    """All findings for {inventory_hostname: host_report}, most severe first, then by host."""
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(thresholds or {})
    found = []
    for host in sorted(hosts):
        report = hosts[host]
        if report.get("status") in ("unreachable", "failed") and not report.get("netstat"):
            continue
        for check in CHECKS:
            found.extend(check(host, report, limits))
    found.sort(key=lambda item: (SEVERITY_ORDER[item["severity"]], item["host"], item["id"]))
    return found
