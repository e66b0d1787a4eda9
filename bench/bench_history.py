# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: comparing a report with its history, through the summaries against reading every old report whole.

A report directory with R earlier report sets of a fleet of H hosts is written to a temporary directory: each host
with a socket table of 1,000 connection records and 2,000 ESTABLISHED tuples (what the audit keeps by default; a
busy host has more), each set with its audit-<stamp>.summary.json. Then the comparison the audit makes before
writing a report is timed: history.load_history (the summaries) + compare.add_history (changes, series, trend
findings). The baseline is what the audit would do without summaries: json.load every earlier report whole and
summarise it, then the same add_history.

Goals (full run): at H=50, R=24 (0.35 GB of reports) the comparison through summaries is >= 10x faster than
through whole reports; from H=200, R=24 (summaries only) it grows linearly: doubling the hosts, then the reports,
costs at most 3x (2x expected; the current report's own summary is a part that does not grow with R).
Exit status 1 when a goal is missed. --quick: small sizes, reports the figures without enforcing them.
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".ansible" / "collections"))

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import history  # noqa: E402
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.compare import add_history  # noqa: E402
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import report_summary  # noqa: E402

CONNECTIONS, TUPLES = 1000, 2000


def host_report(index, hour):
    address = "198.51.100.%d" % (index % 250 + 1)
    rows = "\n".join("%s %d 198.51.100.250 5555 %d 0" % (address, 30000 + row, 1000 + index) for row in range(TUPLES))
    return {
        "status": "ok",
        "platform": "Linux",
        "errors": [],
        "netstat": {
            "state_counts": {"ESTABLISHED": TUPLES, "CLOSE_WAIT": hour},
            "connections": [
                {
                    "protocol": "tcp",
                    "state": "ESTABLISHED",
                    "local_address": address,
                    "local_port": 30000 + row,
                    "remote_address": "198.51.100.250",
                    "remote_port": 5555,
                    "pid": 1000 + index,
                    "process": "client",
                }
                for row in range(CONNECTIONS)
            ],
            "established_keepalive_unknown": 0,
            "established_tuples": {"columns": [], "rows": rows, "count": TUPLES, "truncated": False},
        },
        "conntrack": {
            "available": True,
            "count": 100 * hour,
            "max": 262144,
            "usage_pct": round(100 * hour / 2621.44, 1),
            "timeouts": {"tcp_timeout_established": 432000},
        },
    }


def report(hosts, hour):
    names = ["host%04d" % index for index in range(hosts)]
    pairs = [
        {
            "client": name,
            "server": "app",
            "service_port": 5555,
            "client_hosts": [name],
            "server_hosts": ["app"],
            "client_count": 10,
            "server_count": 10 + hour,
            "per_connection": True,
            "client_matched": 10,
            "server_matched": 10,
            "client_half_open": 0,
            "server_half_open": hour,
        }
        for name in names
    ]
    return {
        "schema": 1,
        "generated_at": "2026-12-%02dT%02d:00:00Z" % (1 + hour // 24, hour % 24),
        "hosts": {name: host_report(index, hour) for index, name in enumerate(names)},
        "pairs": pairs,
        "matching": {"groups": []},
        "findings": [],
    }


def write_directory(directory, hosts, reports, whole=True):
    """R report sets (whole=False: only their summaries, for the timings that read nothing else)."""
    for hour in range(reports):
        data = report(hosts, hour)
        stamp = data["generated_at"].replace("-", "").replace(":", "")
        if whole:
            (directory / ("audit-%s.json" % stamp)).write_text(json.dumps(data))
        (directory / ("audit-%s.summary.json" % stamp)).write_text(json.dumps(report_summary(data)))
    return report(hosts, reports)


def through_summaries(directory, current, reports):
    earlier = history.load_history(str(directory), None, reports)
    add_history(dict(current, findings=[]), earlier["summaries"], earlier["skipped"])


def through_whole_reports(directory, current, reports):
    summaries = []
    for path in sorted(directory.glob("audit-*Z.json"))[-reports:]:
        summaries.append(report_summary(json.loads(path.read_text())))
    add_history(dict(current, findings=[]), summaries)


def fastest(function, *arguments, repeat=5):
    """The fastest of `repeat` runs, with the garbage collector off as timeit does (the fleet's big report objects
    alive around the call otherwise make a collection land in one measurement or the other)."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for _attempt in range(repeat):
            start = time.perf_counter()
            function(*arguments)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times)


def measure(hosts, reports, whole=False):
    with tempfile.TemporaryDirectory(prefix="netdiag-bench-history-") as name:
        directory = pathlib.Path(name)
        current = write_directory(directory, hosts, reports, whole)
        size = sum(path.stat().st_size for path in directory.glob("audit-*Z.json"))
        summaries = sum(path.stat().st_size for path in directory.glob("*.summary.json"))
        result = {"summaries": fastest(through_summaries, directory, current, reports, repeat=7)}
        if whole:
            result["whole"] = fastest(through_whole_reports, directory, current, reports)
        result["bytes"], result["summary_bytes"] = size, summaries
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, goals not enforced")
    arguments = parser.parse_args()
    hosts, reports = (20, 6) if arguments.quick else (50, 24)
    base = measure(hosts, reports, whole=True)
    speedup = base["whole"] / base["summaries"]
    print(
        "history of %d reports x %d hosts (%.1f MB of reports, %.2f MB of summaries): through summaries %.3f s, "
        "reading every report whole %.3f s: %.1fx (goal >= 10x)"
        % (reports, hosts, base["bytes"] / 1e6, base["summary_bytes"] / 1e6, base["summaries"], base["whole"], speedup)
    )
    # Linearity on a larger fleet (summaries only, so that little is written): times of tens of milliseconds.
    hosts, reports = (40, 6) if arguments.quick else (200, 24)
    start = measure(hosts, reports)["summaries"]
    host_growth = measure(hosts * 2, reports)["summaries"] / start
    report_growth = measure(hosts, reports * 2)["summaries"] / start
    print(
        "linear from %d reports x %d hosts (%.3f s): 2x hosts %.2fx the time, 2x reports %.2fx the time "
        "(goal <= 3x each)" % (reports, hosts, start, host_growth, report_growth)
    )
    if arguments.quick:
        return 0
    missed = speedup < 10 or host_growth > 3 or report_growth > 3
    if missed:
        print("goal missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
