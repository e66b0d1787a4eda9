# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report as a list of blocks, rendered by markdown.py and html.py alike. Pure functions.

Blocks: ("heading", level, text), ("paragraph", text), ("table", header, rows), ("list", items),
("finding", finding), ("evidence", evidence dict, finding id), ("summary", findings by severity, hosts by status),
("pair", pair) (HTML draws a pair as a picture of both ends' counts) and ("details", level, title, blocks): a part
HTML shows collapsed under its title (a <details> element) and Markdown writes out as a heading of that level with
its blocks. Renderers escape; builders never do.

Order: one line of what the run was (version, ports, peers), the summary (what to look at), the changes since
earlier audits, then the pairs seen from both ends, the findings by severity with their evidence, the per-host
tables, each host's collapsed under its name, and last what the audit was run with (every threshold, limit and cap).

A fleet's report stays usable in a browser (10,000 hosts open in seconds) and drops nothing: past the limits below,
the pictures are drawn for the worst pairs only (every pair is in the table), long tables and the findings of one
kind past the first ones are collapsed, each under a title that says how many it holds.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import status_counts
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.controls import visible
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.evidence import evidence_items
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.owner_sections import owner_blocks
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.run_settings import run_blocks, run_line
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_document import trend_blocks
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import (
    UNKNOWN,
    PeerKeepalive,
    host_without_keepalive,
    shown,
)

TOP_PEERS = 10
SEVERITIES = ("critical", "warning", "info")
SEVERITY_HEADINGS = {"critical": "Critical", "warning": "Warnings", "info": "Information"}
STATUSES = ("ok", "partial", "failed", "unreachable")
PAIR_PICTURES = 50  # pairs drawn as a picture: the worst ones (largest half-open count, then gap)
OPEN_ROWS = 200  # a longer table is collapsed under a title that counts its rows
HOSTS_PER_PART = 100  # hosts whose tables are collapsed one by one; more are collapsed in parts of this many
OPEN_FINDINGS = 20  # findings of one kind and severity shown open; the others follow, collapsed


def severity_counts(report):
    counts = dict.fromkeys(SEVERITIES, 0)
    for item in report["findings"]:
        counts[item["severity"]] = counts.get(item["severity"], 0) + 1
    return counts


def pair_text(pair):
    """One line for a pair: both counts and, when matched per connection, what matched and what is half-open."""
    text = "%s -> %s port %s: client holds %s, server holds %s" % (
        pair["client"],
        pair["server"],
        pair["service_port"],
        shown(pair["client_count"]),
        shown(pair["server_count"]),
    )
    if pair.get("per_connection"):
        text += "; matched one to one: %d; half-open: %d on the client, %d on the server" % (
            max(pair.get("client_matched", 0), pair.get("server_matched", 0)),
            pair.get("client_half_open", 0),
            pair.get("server_half_open", 0),
        )
    elif pair.get("matching_reason"):
        text += "; " + pair["matching_reason"]
    return text


def host_overview_row(name, host):
    netstat = host.get("netstat") or {}
    conntrack = host.get("conntrack") or {}
    # Without a socket table the counts are unknown, not zero.
    states = netstat.get("state_counts") or {} if netstat else {}
    if conntrack.get("available") and conntrack.get("max") is None:
        # A captured table without its sysctl values: entries known, limits not.
        conntrack_text = "%s entries (max unknown)" % shown(conntrack.get("entries_parsed"))
        timeout = shown((conntrack.get("timeouts") or {}).get("tcp_timeout_established"))
    elif conntrack.get("available"):
        conntrack_text = "%s/%s (%s%%)" % (
            shown(conntrack.get("count")),
            shown(conntrack.get("max")),
            shown(conntrack.get("usage_pct")),
        )
        timeout = shown((conntrack.get("timeouts") or {}).get("tcp_timeout_established"))
    else:
        conntrack_text = "unavailable" if conntrack else "n/a"
        timeout = None
    return [
        name,
        host["status"],
        host.get("platform"),
        _state_count(netstat, states, "ESTABLISHED"),
        _state_count(netstat, states, "CLOSE_WAIT"),
        _state_count(netstat, states, "TIME_WAIT"),
        conntrack_text,
        timeout,
    ]


def _state_count(netstat, states, state):
    """A state's count: unknown without a socket table (or without that state's count), 0 only when read as 0."""
    if not netstat:
        return UNKNOWN
    value = states.get(state)
    if value is None and states:
        return 0  # state_counts lists the states seen; one not listed had no socket
    return shown(value)


def summary_lines(report, report_files=()):
    """What the audit prints at the end: one line per host, the findings, where the report is."""
    counts = status_counts(report)
    lines = [
        "netdiag.tcp audit %s: %d host(s) (%s), %d finding(s)"
        % (
            report["generated_at"],
            len(report["hosts"]),
            ", ".join("%d %s" % (counts[status], status) for status in sorted(counts)),
            len(report["findings"]),
        )
    ]
    for name in sorted(report["hosts"]):
        row = host_overview_row(name, report["hosts"][name])
        mode = _mode_note(report["hosts"][name])
        if row[3] is None or row[3] == UNKNOWN:  # no socket table: nothing to count
            lines.append("  %s: %s%s" % (row[0], row[1], mode))
        else:
            lines.append(
                "  %s: %s%s, %s ESTABLISHED, %s CLOSE_WAIT, conntrack %s"
                % (row[0], row[1], mode, row[3], row[4], row[6])
            )
        lines.extend("    error: %s" % error for error in report["hosts"][name]["errors"])
    lines.extend(
        "  [%s] %s %s: %s" % (item["severity"], item["id"], item["host"], item["summary"])
        for item in report["findings"]
    )
    lines.extend("  report: %s" % path for path in report_files)
    # Printed to the terminal of whoever runs the audit (controls.py); a host's line break must not start a line
    # that looks like ours either.
    return [visible(line.replace("\n", " ")) for line in lines]


def report_blocks(report):
    counts = status_counts(report)
    blocks = [
        ("heading", 1, "netdiag.tcp audit report"),
        ("paragraph", "Generated %s (schema %s)." % (report["generated_at"], report["schema"])),
        *run_line(report.get("run")),
        ("heading", 2, "Summary"),
        ("summary", severity_counts(report), {status: counts.get(status, 0) for status in STATUSES}),
        ("heading", 2, "Hosts"),
        *_hosts_overview(report["hosts"]),
    ]
    blocks.extend(trend_blocks(report))  # changes since earlier audits and the series over time (trend_document.py)
    blocks.extend(pairs_blocks(report["pairs"]))
    blocks.extend(matched_blocks(report.get("matching") or {}, bool(report["pairs"])))
    blocks.extend(findings_section(report["findings"]))
    blocks.extend(outside_blocks(report.get("matching") or {}))
    blocks.extend(hosts_detail(report["hosts"]))
    blocks.extend(run_blocks(report.get("run")))
    return blocks


PAIR_COLUMNS = [
    "client",
    "server",
    "service port",
    "client count",
    "server count",
    "with unknown peers (client / server)",
    "matched",
    "half-open (client / server)",
]


def pairs_blocks(pairs):
    """Both ends of each connection: the pictures, then the table of every pair."""
    if not pairs:
        return []
    return [
        ("heading", 2, "Connections seen from both ends"),
        *pair_pictures(pairs),
        _folded(3, "All %d pairs" % len(pairs), "table", PAIR_COLUMNS, [_pair_row(pair) for pair in pairs]),
    ]


def _pair_row(pair):
    per_connection = pair.get("per_connection")
    return [
        pair["client"],
        pair["server"],
        pair["service_port"],
        pair["client_count"],
        pair["server_count"],
        "%d / %d" % (pair.get("client_unattributed", 0), pair.get("server_unattributed", 0)),
        max(pair.get("client_matched", 0), pair.get("server_matched", 0)) if per_connection else "by counts only",
        "%d / %d" % (pair.get("client_half_open", 0), pair.get("server_half_open", 0)) if per_connection else None,
    ]


def matched_blocks(matching, after_pairs):
    """The matching per host, port and direction, for the groups that say something about an audited peer."""
    groups = [group for group in matching.get("groups") or [] if _group_worth_showing(group)]
    if not groups:
        return []
    blocks = [] if after_pairs else [("heading", 2, "Connections seen from both ends")]
    rows = [
        [
            group["host"],
            group["direction"],
            group["service_port"],
            group["matched"],
            group["half_open"],
            ", ".join("%s: %d" % item for item in sorted(group["not_judged"].items())) or None,
            ", ".join(group["through"]) or None,
        ]
        for group in groups
    ]
    header = ["host", "direction", "service port", "matched", "half-open", "not judged", "through NAT"]
    blocks.append(("heading", 3, "Matched per connection"))
    blocks.append(_folded(4, "All %d hosts, ports and directions" % len(groups), "table", header, rows))
    return blocks


def findings_section(findings):
    """The findings by severity, most severe first, with their evidence."""
    blocks = [("heading", 2, "Findings")]
    if not findings:
        blocks.append(("paragraph", "No findings."))
    for severity in SEVERITIES:
        items = [item for item in findings if item["severity"] == severity]
        if items:
            blocks.append(("heading", 3, "%s (%d)" % (SEVERITY_HEADINGS[severity], len(items))))
            blocks.extend(findings_blocks(items))
    return blocks


OUTSIDE_SHOWN = 50


def outside_blocks(matching):
    """Peers outside the audit, the busiest first; says how many more the JSON report lists and counts."""
    outside = matching.get("outside") or []
    if not outside:
        return []
    blocks = [("heading", 2, "Peers outside the audit (listed, not judged)")]
    total = matching.get("outside_total", len(outside))
    if total > min(len(outside), OUTSIDE_SHOWN):
        blocks.append(
            (
                "paragraph",
                "The %d with the most sockets, of %d; the JSON report lists %d of them (matching.outside) and "
                "counts them all (matching.outside_total)." % (min(len(outside), OUTSIDE_SHOWN), total, len(outside)),
            )
        )
    rows = [
        [item["host"], item["direction"], item["service_port"], item["peer"], item["count"]]
        for item in outside[:OUTSIDE_SHOWN]
    ]
    blocks.append(("table", ["host", "direction", "service port", "peer", "ESTABLISHED sockets"], rows))
    return blocks


def hosts_detail(hosts, per_part=HOSTS_PER_PART):
    """Each host's tables, collapsed under its name; past per_part hosts, collapsed in parts of that many hosts
    (every collapsed part costs a browser a little: ten thousand of them took seconds to open)."""
    names = sorted(hosts)
    if len(names) <= per_part:
        return [
            ("details", heading[1], heading[2], detail)
            for heading, *detail in map(host_blocks, names, map(hosts.get, names))
        ]
    parts = []
    for start in range(0, len(names), per_part):
        part = names[start : start + per_part]
        inner = [block for name in part for block in host_blocks(name, hosts[name])]
        parts.append(("details", 2, "Hosts %s to %s (%d)" % (part[0], part[-1], len(part)), inner))
    return parts


def _folded(level, title, kind, header, rows):
    """A table, collapsed under title when it has more than OPEN_ROWS rows."""
    table = (kind, header, rows)
    return ("details", level, title, [table]) if len(rows) > OPEN_ROWS else table


def _hosts_overview(hosts):
    """The hosts table; when it is collapsed, the hosts that are not ok come first, open."""
    header = ["host", "status", "platform", "ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT", "conntrack", "ct est. timeout"]
    rows = [host_overview_row(name, hosts[name]) for name in sorted(hosts)]
    if len(rows) <= OPEN_ROWS:
        return [("table", header, rows)]
    blocks = []
    troubled = [row for row in rows if row[1] != "ok"]
    if troubled:
        blocks.append(("paragraph", "Hosts that are not ok (%d):" % len(troubled)))
        blocks.append(("table", header, troubled))
    blocks.append(("details", 3, "All %d hosts" % len(rows), [("table", header, rows)]))
    return blocks


def _pair_weight(pair):
    """How bad a pair looks: half-open sockets first, then the gap between the two counts."""
    half_open = pair.get("client_half_open", 0) + pair.get("server_half_open", 0) if pair.get("per_connection") else 0
    return (-half_open, -abs(pair["client_count"] - pair["server_count"]), pair["client"], pair["server"])


def pair_pictures(pairs, limit=PAIR_PICTURES):
    """A picture per pair; past limit pairs, the worst ones only (the table after them lists every pair)."""
    if len(pairs) <= limit:
        return [("pair", pair) for pair in pairs]
    worst = sorted(pairs, key=_pair_weight)[:limit]
    note = "Pictures of the %d pairs with the most half-open sockets and the largest gaps, of %d pairs." % (
        limit,
        len(pairs),
    )
    return [("paragraph", note), *(("pair", pair) for pair in worst)]


def findings_blocks(items, limit=OPEN_FINDINGS):
    """Findings (of one severity) with their evidence; past limit findings of one id, the others follow in one
    collapsed table (a row each: host, summary, evidence on one line, recommendation)."""
    shown = {}
    blocks, folded = [], {}
    for item in items:
        shown[item["id"]] = shown.get(item["id"], 0) + 1
        if shown[item["id"]] <= limit:
            blocks.append(("finding", item))
            if item.get("evidence"):
                blocks.append(("evidence", item["evidence"], item["id"]))
        else:
            folded.setdefault(item["id"], []).append(
                [item["host"], item["summary"], evidence_text(item.get("evidence"), item["id"]), item["recommendation"]]
            )
    for finding_id, rows in folded.items():
        title = "%d more %s findings" % (len(rows), finding_id)
        blocks.append(("details", 4, title, [("table", ["host", "summary", "evidence", "recommendation"], rows)]))
    return blocks


def evidence_text(evidence, finding_id=None):
    """Evidence on one line, labelled as the open findings' evidence is (evidence.py); a sample by its size."""
    parts = []
    for item in evidence_items(evidence or {}, finding_id):
        if item[0] == "line":
            parts.append("%s: %s" % (item[1], ", ".join(str(text) for text in item[2])))
        else:
            parts.append("%s: %d sockets (in the JSON)" % (item[1], item[4]))
    return "; ".join(parts)


def _mode_note(host):
    """' (raw mode)' / ' (from captures)' for hosts not read by the fact modules, else ''."""
    return {"raw": " (raw mode)", "capture": " (from captures)"}.get(host.get("mode"), "")


def _group_worth_showing(group):
    """Groups that say something about an audited peer (not only sockets to peers outside the audit)."""
    return bool(group["matched"] or group["half_open"] or group["not_judged"])


def host_blocks(name, host):
    blocks = [("heading", 2, "%s (%s)%s" % (name, host["status"], _mode_note(host)))]
    if host.get("mode_reason"):
        blocks.append(("paragraph", "Read in %s mode: %s" % (host.get("mode"), host["mode_reason"])))
    if host["errors"]:
        blocks.append(("list", ["error: %s" % error for error in host["errors"]]))
    netstat = host.get("netstat") or {}
    if netstat:
        blocks.extend(netstat_blocks(netstat))
    keepalive = host.get("keepalive")
    if keepalive or netstat:
        blocks.append(("paragraph", keepalive_text(keepalive or {}, netstat)))
    blocks.extend(owner_blocks(host))
    if host.get("conntrack"):
        blocks.extend(conntrack_blocks(host["conntrack"]))
    if host.get("slabinfo"):
        blocks.extend(slabinfo_blocks(host["slabinfo"]))
    return blocks


def keepalive_text(keepalive, netstat):
    """The host's keepalive settings and how many ESTABLISHED sockets lack SO_KEEPALIVE ("unknown" where not read)."""
    settings = (
        "time %s s, interval %s s, probes %s"
        % (shown(keepalive.get("time")), shown(keepalive.get("intvl")), shown(keepalive.get("probes")))
        if keepalive
        else "settings not read"
    )
    without = host_without_keepalive(netstat) if netstat else UNKNOWN
    return "Keepalive: %s; ESTABLISHED without SO_KEEPALIVE: %s" % (settings, without)


def netstat_blocks(netstat):
    states = netstat.get("state_counts") or {}
    seen = ", ".join("%s %d" % (state, count) for state, count in sorted(states.items()) if count)
    blocks = [("paragraph", "TCP states: " + (seen or "no TCP sockets"))]
    peers = netstat.get("established_by_peer") or []
    if peers:
        keepalive = PeerKeepalive(netstat)
        total = netstat.get("established_by_peer_total", len(peers))  # the module keeps only the busiest peers
        blocks.append(("paragraph", "ESTABLISHED by peer (top %d of %d):" % (min(TOP_PEERS, len(peers)), total)))
        blocks.append(
            (
                "table",
                ["direction", "service port", "peer", "count", "without keepalive"],
                [
                    [
                        peer["direction"],
                        peer["service_port"],
                        peer["peer"],
                        peer["count"],
                        keepalive.cell(peer),
                    ]
                    for peer in peers[:TOP_PEERS]
                ],
            )
        )
    listeners = netstat.get("listeners") or []
    if listeners:
        blocks.append(("paragraph", "Listeners:"))
        blocks.append(
            (
                "table",
                ["protocol", "address", "port", "process"],
                [
                    [
                        item.get("protocol"),
                        item.get("local_address"),
                        item.get("local_port"),
                        "%s (%s)" % (item["process"], item.get("pid")) if item.get("process") else None,
                    ]
                    for item in listeners
                ],
            )
        )
    return blocks


def conntrack_blocks(conntrack):
    if not conntrack.get("available"):
        return [("paragraph", "Conntrack: not available (%s)" % conntrack.get("reason"))]
    timeouts = conntrack.get("timeouts") or {}
    blocks = [
        (
            "paragraph",
            "Conntrack (%s): %s of %s entries (%s%%), table read from %s; tcp_timeout_established %s s"
            % (
                shown(conntrack.get("key_style")),
                shown(conntrack.get("count")),
                shown(conntrack.get("max")),
                shown(conntrack.get("usage_pct")),
                shown(conntrack.get("source")),
                shown(timeouts.get("tcp_timeout_established")),
            ),
        )
    ]
    top = conntrack.get("top_sources") or []
    if top:
        blocks.append(("paragraph", "Top conntrack sources:"))
        blocks.append(("table", ["address", "entries"], [[item["address"], item["count"]] for item in top]))
    return blocks


def slabinfo_blocks(slabinfo):
    caches = slabinfo.get("caches") or {}
    if not caches:
        if slabinfo.get("available") is False:
            return [("paragraph", "Slabinfo: not available (%s)" % slabinfo.get("reason"))]
        return [("paragraph", "Slabinfo: no matching caches.")]
    return [
        ("paragraph", "Slab caches (slabinfo %s):" % slabinfo.get("version")),
        (
            "table",
            ["cache", "active objects", "objects", "object size", "bytes"],
            [
                [cache, data.get("active_objs"), data.get("num_objs"), data.get("objsize"), data.get("bytes")]
                for cache, data in sorted(caches.items())
            ],
        ),
    ]
