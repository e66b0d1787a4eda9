# SPDX-License-Identifier: GPL-3.0-or-later
"""Findings: what an experienced sysadmin would flag in one host's netdiag facts. Pure functions, no I/O.

Each check takes (host, host_report, thresholds) and yields finding dicts with the stable ids of docs/facts_schema.md.
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


# Owners named in a close-wait-buildup summary; all of them are in its evidence.
OWNERS_SHOWN = 5


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
    # A host whose table is empty tracks nothing now (conntrack loaded, no NAT or stateful rule using it): the
    # default matters only once it does, so that is worth knowing, not a warning.
    tracking = conntrack.get("count") != 0
    yield finding(
        "conntrack-timeout-default",
        "warning" if tracking else "info",
        host,
        "conntrack keeps idle ESTABLISHED TCP entries for 5 days (%s = %d, the kernel default)%s"
        % (key, timeout, "" if tracking else "; its table is empty now"),
        {"key": key, "value": timeout, "count": conntrack.get("count"), "max": conntrack.get("max")},
        "If this host does NAT or stateful filtering for long-lived idle connections, lower the timeout "
        "(ansible-playbook netdiag.tcp.tune_conntrack -e target=%s; 1200 s by default) and make the "
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
    # The owners are what people act on, so the summary (all that the Markdown and HTML reports show) names them.
    listed = sorted(owners.items(), key=lambda item: (-item[1], item[0]))
    held_by = ", ".join("%s: %d" % item for item in listed[:OWNERS_SHOWN])
    if len(listed) > OWNERS_SHOWN:
        held_by += ", %d more owner(s)" % (len(listed) - OWNERS_SHOWN)
    yield finding(
        "close-wait-buildup",
        "warning",
        host,
        "%d TCP sockets in CLOSE_WAIT: the peers closed, the local application has not; %s"
        % (
            close_wait,
            "held by %s (of the %d listed)" % (held_by, sum(owners.values()))
            if owners
            else "no CLOSE_WAIT socket is listed (max_connections), so the owners are unknown",
        ),
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
    unknown = netstat.get("established_keepalive_unknown")
    evidence = {
        "established_without_keepalive": without,
        "threshold": thresholds["no_keepalive"],
        "keepalive": keepalive,
    }
    if unknown:
        evidence["established_keepalive_unknown"] = unknown  # sockets not judged: not "with keepalive"
    yield finding(
        "no-keepalive",
        "info",
        host,
        "%d ESTABLISHED TCP sockets have no SO_KEEPALIVE%s: idle ones are invisible to NAT and firewalls"
        % (without, " (for %d more it is unknown)" % unknown if unknown else ""),
        evidence,
        "Connections that sit idle behind NAT or a load balancer are forgotten there while both ends keep them. "
        "Enable SO_KEEPALIVE in the application (with tcp_keepalive_time below the middlebox idle timeout) or "
        "close idle connections.",
    )


def _persisted(report):
    conntrack = report.get("conntrack") or {}
    if not conntrack.get("available"):
        return None, None
    return conntrack, conntrack.get("persisted") or {}


def _where(assignment):
    return "%s:%s" % (assignment.get("file"), assignment.get("line"))


def check_conntrack_legacy_key_ignored(host, report, thresholds):
    """The incident's fix copied onto a current kernel: the ip_conntrack key does not exist and does nothing."""
    conntrack, persisted = _persisted(report)
    if conntrack is None:
        return
    ignored = [item for item in persisted.get("assignments") or [] if item.get("applies") is False]
    if not ignored:
        return
    yield finding(
        "conntrack-legacy-key-ignored",
        "warning",
        host,
        "%s sets %s, which this kernel does not have: the line does nothing at boot"
        % (_where(ignored[0]), ignored[0].get("key")),
        {"assignments": ignored, "key_style": conntrack.get("key_style")},
        "Use the current name (%s), e.g. with ansible-playbook netdiag.tcp.tune_conntrack, and remove the old line."
        % (persisted.get("key") or "net.netfilter.nf_conntrack_tcp_timeout_established"),
    )


def check_conntrack_timeout_lost_at_boot(host, report, thresholds):
    """A sysctl.d entry for conntrack does nothing at boot when nf_conntrack loads after systemd-sysctl ran."""
    conntrack, persisted = _persisted(report)
    if conntrack is None:
        return
    effective = persisted.get("effective")
    if not effective or persisted.get("module_builtin") or persisted.get("module_loaded_at_boot") is not False:
        return
    yield finding(
        "conntrack-timeout-lost-at-boot",
        "warning",
        host,
        "%s sets %s = %s, but nf_conntrack is not loaded at boot: systemd-sysctl runs before it exists, and the "
        "timeout comes back as %d when the firewall loads it"
        % (_where(effective), effective.get("key"), effective.get("value"), CONNTRACK_DEFAULT_ESTABLISHED_TIMEOUT),
        {"effective": effective, "module_load_files": persisted.get("module_load_files") or []},
        "List nf_conntrack in /etc/modules-load.d (ansible-playbook netdiag.tcp.tune_conntrack does this) so that "
        "it is loaded before systemd-sysctl applies the setting.",
    )


def check_conntrack_timeout_not_persisted(host, report, thresholds):
    """The live value was tuned by hand (sysctl -w) but the next boot brings back something else."""
    conntrack, persisted = _persisted(report)
    if conntrack is None:
        return
    live = (conntrack.get("timeouts") or {}).get("tcp_timeout_established")
    effective = persisted.get("effective")
    at_boot = effective.get("value") if effective else CONNTRACK_DEFAULT_ESTABLISHED_TIMEOUT
    if live is None or live == at_boot or "persisted" not in conntrack:
        return
    yield finding(
        "conntrack-timeout-not-persisted",
        "warning",
        host,
        "tcp_timeout_established is %s now but becomes %s at the next boot (%s)"
        % (live, at_boot, _where(effective) if effective else "no sysctl file sets it: kernel default"),
        {"live": live, "at_boot": at_boot, "effective": effective},
        "Persist the value you want (ansible-playbook netdiag.tcp.tune_conntrack writes /etc/sysctl.d and checks "
        "the boot order), or apply the persisted one with sysctl --system.",
    )


CHECKS = (
    check_conntrack_timeout_default,
    check_conntrack_near_full,
    check_conntrack_legacy_key_ignored,
    check_conntrack_timeout_lost_at_boot,
    check_conntrack_timeout_not_persisted,
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
