# SPDX-License-Identifier: GPL-3.0-or-later
"""The report as Prometheus gauges (text exposition format 0.0.4): audit-latest.prom. Pure functions.

For node_exporter's textfile collector or a Pushgateway (docs/monitoring.md). Both refuse samples that carry their
own timestamp, so the audit time is the gauge ``netdiag_audit_timestamp_seconds`` (alert on its age), not a
timestamp on every sample. Label values come from hosts (process names) and are escaped as the format says
(backslash, double quote, line feed). Cardinality stays bounded: per family at most ``max_series`` pair or holder
series, the largest; the rest are summed into one series whose peer (or process) label is ``other``.
"""

from __future__ import annotations

import calendar
import time

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import half_open_by_host

DEFAULT_MAX_SERIES = 50
OTHER = "other"

HOST_GAUGES = (
    ("netdiag_host_up", "1 when the host's socket table was read (status ok or partial), else 0."),
    ("netdiag_host_established", "ESTABLISHED TCP sockets on the host (within the audit's port/peer selection)."),
    ("netdiag_host_close_wait", "CLOSE_WAIT TCP sockets: the peer closed, the local process has not."),
    ("netdiag_host_half_open", "ESTABLISHED sockets whose other end is gone (matched per connection)."),
    ("netdiag_host_keepalive_unknown", "ESTABLISHED sockets whose SO_KEEPALIVE could not be read."),
    ("netdiag_conntrack_entries", "Entries in the host's conntrack table."),
    ("netdiag_conntrack_max", "Size of the host's conntrack table (nf_conntrack_max)."),
    ("netdiag_conntrack_tcp_timeout_established_seconds", "conntrack's idle timeout for ESTABLISHED TCP entries."),
)
PAIR_GAUGES = (
    ("netdiag_pair_established", "ESTABLISHED sockets this end (host) holds with the other end (peer) on port."),
    ("netdiag_pair_matched", "Sockets of this end matched one to one with a socket of the other end."),
    ("netdiag_pair_half_open", "Sockets of this end whose mirror on the other end is gone."),
)


def escape_label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def epoch(generated_at):
    return calendar.timegm(time.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ"))


def _labels(labels):
    return "{%s}" % ",".join('%s="%s"' % (name, escape_label(value)) for name, value in labels) if labels else ""


def _family(name, help_text, samples):
    lines = ["# HELP %s %s" % (name, _escape_help(help_text)), "# TYPE %s gauge" % name]
    lines.extend("%s%s %s" % (name, _labels(labels), _value(value)) for labels, value in samples)
    return lines


def _value(value):
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def host_values(host):
    """{gauge name: value} of one host report; unknown values are left out (no sample rather than a false 0)."""
    netstat = host.get("netstat") or {}
    states = netstat.get("state_counts") or {}
    values = {"netdiag_host_up": 1 if netstat and host.get("status") in ("ok", "partial") else 0}
    if netstat:
        values["netdiag_host_established"] = states.get("ESTABLISHED", 0)
        values["netdiag_host_close_wait"] = states.get("CLOSE_WAIT", 0)
        if netstat.get("established_keepalive_unknown") is not None:
            values["netdiag_host_keepalive_unknown"] = netstat["established_keepalive_unknown"]
    conntrack = host.get("conntrack") or {}
    if conntrack.get("available"):
        for name, value in (
            ("netdiag_conntrack_entries", conntrack.get("count")),
            ("netdiag_conntrack_max", conntrack.get("max")),
            (
                "netdiag_conntrack_tcp_timeout_established_seconds",
                (conntrack.get("timeouts") or {}).get("tcp_timeout_established"),
            ),
        ):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = value
    return values


def pair_samples(report):
    """{gauge name: {(host, peer, port, direction): value}}: each pair seen from each of its ends."""
    samples = {name: {} for name, _help in PAIR_GAUGES}
    for pair in report.get("pairs") or []:
        port = pair["service_port"]
        for end, peer, direction in (("server", pair["client"], "inbound"), ("client", pair["server"], "outbound")):
            key = (pair[end], peer, port, direction)
            samples["netdiag_pair_established"][key] = pair["%s_count" % end]
            if pair.get("per_connection"):
                samples["netdiag_pair_matched"][key] = pair.get("%s_matched" % end, 0)
                samples["netdiag_pair_half_open"][key] = pair.get("%s_half_open" % end, 0)
    return samples


def holder_samples(report):
    """{(host, port, direction, pid, process): half-open sockets} from the half-open-sockets findings."""
    samples = {}
    for item in report.get("findings") or []:
        if item.get("id") != "half-open-sockets":
            continue
        evidence = item.get("evidence") or {}
        for holder in evidence.get("holders") or []:
            key = (
                item["host"],
                evidence.get("service_port"),
                evidence.get("direction"),
                "" if holder.get("pid") is None else holder["pid"],
                holder.get("process") or "",
            )
            samples[key] = samples.get(key, 0) + holder.get("count", 0)
    return samples


def bounded(samples, max_series, other):
    """The max_series largest of {labels: value}, the rest summed under labels `other(labels)`."""
    ranked = sorted(samples.items(), key=lambda item: (-item[1], tuple(str(part) for part in item[0])))
    kept = dict(ranked[:max_series])
    rest = ranked[max_series:]
    if rest:
        summed = {}
        for labels, value in rest:
            key = other(labels)
            summed[key] = summed.get(key, 0) + value
        for key, value in summed.items():
            kept[key] = kept.get(key, 0) + value
    return kept


def render(report, max_series=DEFAULT_MAX_SERIES):
    """audit-latest.prom for one report."""
    hosts = report.get("hosts") or {}
    lines = _family(
        "netdiag_audit_timestamp_seconds",
        "When the audit that wrote this file ran (Unix time); alert when it gets old.",
        [((), epoch(report["generated_at"]))],
    )
    per_host = {name: host_values(hosts[name]) for name in sorted(hosts)}
    for name, count in half_open_by_host(report).items():
        per_host[name]["netdiag_host_half_open"] = count
    for gauge, help_text in HOST_GAUGES:
        samples = [((("host", name),), values[gauge]) for name, values in per_host.items() if gauge in values]
        lines += _family(gauge, help_text, samples)
    pair_names = ("host", "peer", "port", "direction")
    for gauge, help_text in PAIR_GAUGES:
        kept = bounded(pair_samples(report)[gauge], max_series, lambda labels: (labels[0], OTHER, "", ""))
        lines += _family(
            gauge,
            help_text,
            [(tuple(zip(pair_names, labels)), value) for labels, value in sorted(kept.items(), key=_label_order)],
        )
    holder_names = ("host", "port", "direction", "pid", "process")
    kept = bounded(holder_samples(report), max_series, lambda labels: (labels[0], labels[1], labels[2], "", OTHER))
    lines += _family(
        "netdiag_holder_half_open",
        "Half-open sockets per holding process, host, service port and direction.",
        [(tuple(zip(holder_names, labels)), value) for labels, value in sorted(kept.items(), key=_label_order)],
    )
    findings = {}
    for item in report.get("findings") or []:
        key = (item["host"], item["id"], item["severity"])
        findings[key] = findings.get(key, 0) + 1
    lines += _family(
        "netdiag_findings",
        "Findings of the audit per host, id and severity (e.g. growing-half-open).",
        [
            ((("host", host), ("id", finding_id), ("severity", severity)), count)
            for (host, finding_id, severity), count in sorted(findings.items())
        ],
    )
    return "\n".join(lines) + "\n"


def _label_order(item):
    return tuple(str(part) for part in item[0])
