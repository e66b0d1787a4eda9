# SPDX-License-Identifier: GPL-3.0-or-later
"""Comparisons over time: the report's ``changes`` section, time series and the findings only a history can show.

Input: summaries (summary.py) of earlier reports, oldest first, and the summary of the report being written.
Pure functions, no I/O. The history-based checks are in TREND_CHECKS, each taking (points, limits), where points is
the list of summaries oldest first ending with the current one; a new check is a new function there.
"""

from __future__ import annotations

import datetime
import functools

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import finding

DEFAULT_TREND = {
    # Reports (the current one included) across which a count must grow before it is a trend, not noise.
    "min_reports": 3,
    # How far ahead a growth is projected for the critical severity.
    "horizon_hours": 24,
    # File descriptors a holder may open: the usual soft RLIMIT_NOFILE (ulimit -n). The audit does not read each
    # process's own limit, so this is the limit its growing sockets are projected against.
    "fd_limit": 1024,
}

HOST_METRICS = (
    ("established", "ESTABLISHED"),
    ("close_wait", "CLOSE_WAIT"),
    ("half_open", "half-open"),
    ("conntrack_count", "conntrack entries"),
    ("conntrack_usage_pct", "conntrack fill %"),
)
PAIR_METRICS = (
    ("client_count", "client ESTABLISHED"),
    ("server_count", "server ESTABLISHED"),
    ("matched", "matched"),
    ("half_open", "half-open"),
)


@functools.lru_cache(maxsize=1024)  # the same few report times are compared for every host and pair
def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def hours_between(then, now):
    return (parse_time(now) - parse_time(then)).total_seconds() / 3600.0


def host_values(entry):
    """The compared numbers of one host's summary entry (None where unknown)."""
    conntrack = entry.get("conntrack") or {}
    return {
        "established": entry.get("established"),
        "close_wait": entry.get("close_wait"),
        "half_open": entry.get("half_open"),
        "conntrack_count": conntrack.get("count"),
        "conntrack_max": conntrack.get("max"),
        "conntrack_usage_pct": conntrack.get("usage_pct"),
    }


def delta(then, now, hours):
    """{then, now, delta, rate_per_hour}; delta and rate are None when either side is unknown."""
    if not isinstance(then, (int, float)) or not isinstance(now, (int, float)):
        return {"then": then, "now": now, "delta": None, "rate_per_hour": None}
    change = now - then
    if isinstance(change, float):
        change = round(change, 2)
    rate = round(change / hours, 2) if hours > 0 else None
    return {"then": then, "now": now, "delta": change, "rate_per_hour": rate}


def _since_line(subject, since, hours, values, metrics):
    parts = []
    for key, label in metrics:
        item = values[key]
        if item["then"] is None and item["now"] is None:
            continue
        if item["delta"] is None:
            parts.append("%s %s -> %s" % (label, _number(item["then"]), _number(item["now"])))
            continue
        rate = "" if item["rate_per_hour"] is None else ", %+g/h" % item["rate_per_hour"]
        parts.append("%s %s -> %s (%+g%s)" % (label, _number(item["then"]), _number(item["now"]), item["delta"], rate))
    return "since %s (%s): %s: %s" % (since, elapsed(hours), subject, "; ".join(parts) or "no numbers known")


def elapsed(hours):
    """'2.5 h', or minutes / seconds for audits run shortly after one another (after a fix, by hand)."""
    if hours >= 0.1:
        return "%.1f h" % hours
    seconds = hours * 3600
    return "%d min" % round(seconds / 60) if seconds >= 90 else "%d s" % round(seconds)


def _number(value):
    return "?" if value is None else "%g" % value


def changes(current, baseline, baseline_reason=None):
    """The report's ``changes`` section: the current summary against the baseline summary (or None)."""
    if baseline is None:
        return {
            "baseline": None,
            "reason": baseline_reason or "no earlier report in the report directory",
            "lines": [],
        }
    since, now = baseline["generated_at"], current["generated_at"]
    hours = hours_between(since, now)
    section = {
        "baseline": baseline.get("report_file"),
        "since": since,
        "hours": round(hours, 2),
        "hosts": {},
        "pairs": {},
        "new_hosts": sorted(set(current["hosts"]) - set(baseline["hosts"])),
        "gone_hosts": sorted(set(baseline["hosts"]) - set(current["hosts"])),
        "newly_unreachable": sorted(
            name
            for name, entry in current["hosts"].items()
            if entry.get("status") == "unreachable"
            and (baseline["hosts"].get(name) or {}).get("status") not in (None, "unreachable")
        ),
        "new_pairs": sorted(set(current["pairs"]) - set(baseline["pairs"])),
        "gone_pairs": sorted(set(baseline["pairs"]) - set(current["pairs"])),
        "conntrack_timeout_changes": timeout_changes(baseline, current),
        "lines": [],
    }
    if baseline_reason:
        section["reason"] = baseline_reason
    for name in sorted(set(current["hosts"]) & set(baseline["hosts"])):
        then, now_values = host_values(baseline["hosts"][name]), host_values(current["hosts"][name])
        section["hosts"][name] = {key: delta(then[key], now_values[key], hours) for key, _label in HOST_METRICS}
        section["lines"].append(_since_line("host %s" % name, since, hours, section["hosts"][name], HOST_METRICS))
    for key in sorted(set(current["pairs"]) & set(baseline["pairs"])):
        then, now_values = baseline["pairs"][key], current["pairs"][key]
        section["pairs"][key] = {
            metric: delta(then.get(metric), now_values.get(metric), hours) for metric, _label in PAIR_METRICS
        }
        section["lines"].append(_since_line("pair %s" % key, since, hours, section["pairs"][key], PAIR_METRICS))
    for label, names in (
        ("new host", section["new_hosts"]),
        ("gone host (not in this audit)", section["gone_hosts"]),
        ("newly unreachable host", section["newly_unreachable"]),
        ("new pair", section["new_pairs"]),
        ("gone pair", section["gone_pairs"]),
    ):
        section["lines"].extend("since %s: %s %s" % (since, label, name) for name in names)
    section["lines"].extend(
        "conntrack timeout on %s changed %s -> %s between %s and %s"
        % (item["host"], item["from"], item["to"], item["after"], item["before"])
        for item in section["conntrack_timeout_changes"]
    )
    return section


def timeout_changes(earlier, later):
    """[{host, from, to, after, before}] for hosts whose conntrack ESTABLISHED timeout differs between two summaries."""
    found = []
    for name in sorted(set(earlier["hosts"]) & set(later["hosts"])):
        before = (earlier["hosts"][name].get("conntrack") or {}).get("tcp_timeout_established")
        after = (later["hosts"][name].get("conntrack") or {}).get("tcp_timeout_established")
        if before is not None and after is not None and before != after:
            found.append(
                {
                    "host": name,
                    "from": before,
                    "to": after,
                    "after": earlier["generated_at"],
                    "before": later["generated_at"],
                }
            )
    return found


def series(points):
    """Time series over the points (summaries, oldest first): {"pairs": {key: [...]}, "hosts": {name: [...]}}.

    A pair or host missing from a report has no point there (a gap), not a zero.
    """
    pairs, hosts = {}, {}
    for point in points:
        at = point["generated_at"]
        for key, pair in point["pairs"].items():
            pairs.setdefault(key, []).append(
                {
                    "at": at,
                    "matched": pair.get("matched"),
                    "half_open": pair.get("half_open"),
                    "client_count": pair.get("client_count"),
                    "server_count": pair.get("server_count"),
                }
            )
        for name, entry in point["hosts"].items():
            values = host_values(entry)
            hosts.setdefault(name, []).append(
                {
                    "at": at,
                    "status": entry.get("status"),
                    "conntrack_count": values["conntrack_count"],
                    "conntrack_max": values["conntrack_max"],
                    "conntrack_usage_pct": values["conntrack_usage_pct"],
                    "close_wait": values["close_wait"],
                    "half_open": values["half_open"],
                    "established": values["established"],
                }
            )
    return {"pairs": dict(sorted(pairs.items())), "hosts": dict(sorted(hosts.items()))}


def growing_run(values, min_reports):
    """The trailing run of values (oldest first) that never goes down and ends higher than it starts, at least
    min_reports long; [] otherwise. An unknown value (None) ends the run."""
    run = []
    for value in reversed(values):
        if not isinstance(value, (int, float)) or (run and value > run[-1]):
            break
        run.append(value)
    run.reverse()
    if len(run) < max(min_reports, 2) or run[-1] <= run[0]:
        return []
    return run


def _trail(points, value_of, min_reports):
    """(the points of the growing run, their values) of a per-point value, or ([], [])."""
    values = [value_of(point) for point in points]
    run = growing_run(values, min_reports)
    return points[len(points) - len(run) :] if run else [], run


def _projection(values_at, limit, horizon):
    """{now, rate_per_hour, limit, hours_to_limit, within_horizon} of a growing count, or None without a limit."""
    (first_at, first), (last_at, last) = values_at[0], values_at[-1]
    hours = hours_between(first_at, last_at)
    if not limit or hours <= 0:
        return None
    rate = (last - first) / hours
    hours_left = (limit - last) / rate if rate > 0 else None
    return {
        "now": last,
        "rate_per_hour": round(rate, 2),
        "limit": limit,
        "hours_to_limit": None if hours_left is None else round(max(hours_left, 0.0), 1),
        "within_horizon": hours_left is not None and hours_left <= horizon,
    }


def _holder_projections(run_points, holders_of, limits):
    """Per holder (host, pid) of the last point: its sockets' growth projected against fd_limit."""
    found = []
    for holder in holders_of(run_points[-1]):
        counts = []
        for point in run_points:
            match = [
                item
                for item in holders_of(point)
                if item.get("pid") == holder.get("pid") and item.get("host") == holder.get("host")
            ]
            if match:
                counts.append((point["generated_at"], match[0]["count"]))
        if len(counts) >= 2:
            projection = _projection(counts, limits["fd_limit"], limits["horizon_hours"])
            if projection:
                found.append(dict(projection, holder=holder))
    return found


def _conntrack_projections(run_points, hosts, limits):
    found = []
    for name in hosts:
        counts = []
        limit = None
        for point in run_points:
            conntrack = (point["hosts"].get(name) or {}).get("conntrack") or {}
            if isinstance(conntrack.get("count"), int):
                counts.append((point["generated_at"], conntrack["count"]))
                limit = conntrack.get("max") or limit
        if len(counts) >= 2 and counts[-1][1] > counts[0][1]:
            projection = _projection(counts, limit, limits["horizon_hours"])
            if projection:
                found.append(dict(projection, host=name))
    return found


def _holders_text(holders):
    return (
        ", ".join(
            "%s (pid %s on %s) %d"
            % (
                item.get("process") or "unknown process",
                "?" if item.get("pid") is None else item["pid"],
                item.get("host"),
                item.get("count", 0),
            )
            for item in holders
        )
        or "holder unknown"
    )


def _severity(conntrack, descriptors):
    return "critical" if any(item["within_horizon"] for item in conntrack + descriptors) else "warning"


def _critical_text(conntrack, descriptors, horizon):
    reasons = [
        "conntrack on %s full in %s h (%d of %d)" % (item["host"], item["hours_to_limit"], item["now"], item["limit"])
        for item in conntrack
        if item["within_horizon"]
    ]
    reasons += [
        "%s reaches %d file descriptors in %s h"
        % (_holders_text([item["holder"]]), item["limit"], item["hours_to_limit"])
        for item in descriptors
        if item["within_horizon"]
    ]
    return "; projected within %d h: %s" % (horizon, "; ".join(reasons)) if reasons else ""


def check_growing_half_open(points, limits):
    for key in sorted(points[-1]["pairs"]):
        run_points, run = _trail(
            points, lambda point, key=key: (point["pairs"].get(key) or {}).get("half_open"), limits["min_reports"]
        )
        if not run:
            continue
        pair = points[-1]["pairs"][key]
        holders = pair.get("holders") or []
        hosts = sorted(
            set(pair.get("client_hosts") or []) | set(pair.get("server_hosts") or []) | set(pair.get("through") or [])
        )
        conntrack = _conntrack_projections(run_points, hosts, limits)
        descriptors = _holder_projections(
            run_points, lambda point, key=key: (point["pairs"].get(key) or {}).get("holders") or [], limits
        )
        hours = hours_between(run_points[0]["generated_at"], run_points[-1]["generated_at"])
        holder_host = holders[0]["host"] if holders else pair.get("server")
        yield finding(
            "growing-half-open",
            _severity(conntrack, descriptors),
            holder_host,
            "half-open sockets on %s grew over %d reports: %s (%+g/h); held by %s%s"
            % (
                key,
                len(run),
                " -> ".join("%g" % value for value in run),
                round((run[-1] - run[0]) / hours, 2) if hours > 0 else 0,
                _holders_text(holders),
                _critical_text(conntrack, descriptors, limits["horizon_hours"]),
            ),
            {
                "pair": key,
                "client": pair.get("client"),
                "server": pair.get("server"),
                "service_port": pair.get("service_port"),
                "series": [{"at": point["generated_at"], "half_open": value} for point, value in zip(run_points, run)],
                "holders": holders,
                "rate_per_hour": round((run[-1] - run[0]) / hours, 2) if hours > 0 else None,
                "conntrack_projection": conntrack,
                "fd_projection": descriptors,
            },
            "The leak is growing: these sockets will not go away by themselves. Make the holder close idle "
            "connections or enable SO_KEEPALIVE below every NAT/firewall idle timeout on the path; where a NAT "
            "forgets them, compare its conntrack ESTABLISHED timeout (playbooks/tune_conntrack.yml). Audit again "
            "after the fix: the pair is followed in the report's changes until it is back at zero.",
        )


def check_close_wait_growing(points, limits):
    for name in sorted(points[-1]["hosts"]):
        run_points, run = _trail(
            points, lambda point, name=name: (point["hosts"].get(name) or {}).get("close_wait"), limits["min_reports"]
        )
        if not run:
            continue

        def holders_of(point, name=name):
            entry = point["hosts"].get(name) or {}
            return [dict(item, host=name) for item in entry.get("close_wait_holders") or []]

        holders = holders_of(points[-1])
        descriptors = _holder_projections(run_points, holders_of, limits)
        hours = hours_between(run_points[0]["generated_at"], run_points[-1]["generated_at"])
        yield finding(
            "close-wait-growing",
            _severity([], descriptors),
            name,
            "CLOSE_WAIT sockets on %s grew over %d reports: %s; held by %s%s"
            % (
                name,
                len(run),
                " -> ".join("%g" % value for value in run),
                _holders_text(holders),
                _critical_text([], descriptors, limits["horizon_hours"]),
            ),
            {
                "series": [{"at": point["generated_at"], "close_wait": value} for point, value in zip(run_points, run)],
                "holders": holders,
                "rate_per_hour": round((run[-1] - run[0]) / hours, 2) if hours > 0 else None,
                "fd_projection": descriptors,
            },
            "CLOSE_WAIT only ends when the owning process calls close(): the holder leaks sockets. Fix or restart "
            "it before it runs out of file descriptors; kernel tuning cannot clear these sockets.",
        )


def _half_open_then(point, key, pair):
    """A pair's half-open count in a report; a pair no longer there while both its ends were audited has no
    connections left (0); one whose hosts were not all read is unknown (None)."""
    if key in point["pairs"]:
        return point["pairs"][key].get("half_open")
    hosts = set(pair.get("client_hosts") or []) | set(pair.get("server_hosts") or [])
    read = all((point["hosts"].get(name) or {}).get("status") in ("ok", "partial") for name in hosts)
    return 0 if hosts and read else None


def check_conntrack_timeout_changed(points, limits):
    """A fix shows as a fix: the latest change of a host's conntrack timeout within the history, and the half-open
    counts of the pairs through that host followed from that change until they are back at zero."""
    # The latest change per host, in one pass over consecutive reports: linear in hosts x reports.
    latest = {}
    for index in range(1, len(points)):
        for item in timeout_changes(points[index - 1], points[index]):
            latest[item["host"]] = (index, item)
    for name in sorted(set(latest) & set(points[-1]["hosts"])):
        change_index, change = latest[name]
        before = points[change_index - 1]
        followed = []
        for key, pair in sorted(before["pairs"].items()):
            involved = (
                set(pair.get("client_hosts") or [])
                | set(pair.get("server_hosts") or [])
                | set(pair.get("through") or [])
            )
            if name not in involved or not pair.get("half_open"):
                continue
            trail = [
                {"at": point["generated_at"], "half_open": _half_open_then(point, key, pair)}
                for point in points[change_index - 1 :]
            ]
            zero_at = next((item["at"] for item in trail[1:] if item["half_open"] == 0), None)
            followed.append({"pair": key, "series": trail, "back_at_zero": zero_at})
        # Reported in the audit right after the change, and after it as long as a followed pair is not yet back at
        # zero (the report that sees it at zero says so once more, then the change is history).
        open_pairs = [item for item in followed if item["back_at_zero"] is None]
        just_closed = [item for item in followed if item["back_at_zero"] == points[-1]["generated_at"]]
        if change_index != len(points) - 1 and not open_pairs and not just_closed:
            continue
        status = "; ".join(
            "half-open on %s %s"
            % (
                item["pair"],
                " -> ".join(_number(entry["half_open"]) for entry in item["series"])
                + (", back at zero since %s" % item["back_at_zero"] if item["back_at_zero"] else ", not yet at zero"),
            )
            for item in followed
        )
        yield finding(
            "conntrack-timeout-changed",
            "info",
            name,
            "conntrack tcp_timeout_established on %s changed %s -> %s between %s and %s%s"
            % (name, change["from"], change["to"], change["after"], change["before"], "; " + status if status else ""),
            dict(change, followed=followed),
            "Audit again until every followed pair is back at zero; if half-open sockets stay, the holder must close "
            "them or use keepalive (the timeout only stops new ones from being forgotten).",
        )


TREND_CHECKS = (check_growing_half_open, check_close_wait_growing, check_conntrack_timeout_changed)


def trend_findings(points, limits=None):
    """Findings over the points (summaries oldest first, the current report's last)."""
    options = dict(DEFAULT_TREND, **(limits or {}))
    found = []
    for check in TREND_CHECKS:
        found.extend(check(points, options))
    return found
