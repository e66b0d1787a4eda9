# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet-scale report benchmark: building and rendering the audit report for N synthetic hosts, side by side.

The hosts (bench/fleet_facts.py) are copies of this machine's real netdiag.tcp.audit_facts result with a web tier
talking to an app tier on one port: 100 ESTABLISHED connections on each web host, one app host per nine web
hosts, 10% more sockets on the app side than the web side still holds (half-open). Each size runs in its own
child process, which times what netdiag.tcp.audit_report does once the hosts' facts are in: the action's
reported() (build_report, then the JSON, Markdown and HTML texts; writing the files is not timed), fastest of
--repeat runs (5; 2 at 10,000 hosts), wall and CPU time, and reports the child's peak RSS (ru_maxrss, the
synthetic facts included). The per-socket ratio is judged on CPU time: the sizes run at different moments, and
other work on a shared 2-CPU machine stretches wall time by tens of percent (the work per socket is what must not
grow); the 20 s goal is judged on wall time. The largest size's HTML
is then opened in headless Chromium (a screenshot of the first screen, as bench/../tests/integration/chromium.py
takes it) against the same for a one-line page (Chromium's own start).

Goals (issue 18), judged on a full run (100, 1,000 and 10,000 hosts):
  per-socket time at 10,000 hosts  <= 1.5x the per-socket time at 100 hosts
  10,000 hosts                     <= 20 s, peak RSS <= 1.5 GB
  the 10,000-host HTML             opens (screenshot written) in < 5 s, Chromium's start included
--quick (make bench-smoke) runs 20 and 200 hosts and judges nothing; a full run exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".ansible" / "collections"))

import fleet_facts  # a sibling script, not a package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking")
GOAL_PER_SOCKET_RATIO = 1.5
GOAL_SECONDS = 20.0
GOAL_RSS_MB = 1536.0
GOAL_BROWSER_SECONDS = 5.0
FULL_SIZES = (100, 1000, 10000)
QUICK_SIZES = (20, 200)


def child(hosts, template_path, html_path, repeat):
    """Runs in the child: time reported() for a fleet of this many hosts; prints one JSON line."""
    from ansible_collections.netdiag.tcp.plugins.action.audit_report import reported

    gathered = fleet_facts.fleet(hosts, json.loads(pathlib.Path(template_path).read_text()))
    sockets = fleet_facts.socket_count(gathered)
    best = cpu = None
    for _round in range(repeat):
        report = texts = None  # the previous round's report is not kept alive while this one is built (peak RSS)
        entries = {name: dict(entry, errors=list(entry["errors"])) for name, entry in gathered.items()}
        started, started_cpu = time.perf_counter(), time.process_time()
        report, texts, _summary = reported(entries, "2026-12-07T00:00:00Z", (None, None, None), ["json", "md", "html"])
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        best = seconds if best is None else min(best, seconds)
        cpu = cpu_seconds if cpu is None else min(cpu, cpu_seconds)
    if html_path:
        pathlib.Path(html_path).write_text(texts["html"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "hosts": hosts,
                "sockets": sockets,
                "seconds": best,
                "cpu_seconds": cpu,
                "peak_mb": peak,
                "findings": len(report["findings"]),
                "pairs": len(report["pairs"]),
                "html_mb": len(texts["html"]) / 1e6,
            }
        )
    )


def measure(hosts, template_path, html_path, repeat):
    argv = [sys.executable, __file__, "--child", str(hosts), template_path, html_path or "", str(repeat)]
    output = subprocess.run(argv, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise RuntimeError("%d hosts failed:\n%s" % (hosts, output.stderr[-3000:]))
    return json.loads(output.stdout.strip().splitlines()[-1])


def browser_seconds(html_path, directory):
    """Seconds until headless Chromium has written a screenshot of the page (the first screen, laid out)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=directory)
    shot = pathlib.Path(directory) / "shot.png"
    try:
        started = time.perf_counter()
        subprocess.run(
            [
                CHROMIUM,
                *CHROMIUM_FLAGS,
                "--user-data-dir=%s" % profile,
                "--screenshot=%s" % shot,
                "--window-size=1200,1600",
                pathlib.Path(html_path).resolve().as_uri(),
            ],
            capture_output=True,
            timeout=300,
            check=False,
        )
        seconds = time.perf_counter() - started
        if not shot.exists():
            raise RuntimeError("chromium wrote no screenshot of %s" % html_path)
        shot.unlink()
        return seconds
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", help="host counts, comma-separated (default 100,1000,10000; --quick 20,200)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per size below 10,000 hosts (fastest counts)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        hosts, template, html_path, repeat = arguments.child
        child(int(hosts), template, html_path, int(repeat))
        return 0
    sizes = sorted({int(size) for size in arguments.sizes.split(",")}) if arguments.sizes else None
    sizes = sizes or list(QUICK_SIZES if arguments.quick else FULL_SIZES)
    directory = tempfile.mkdtemp(prefix="netdiag-report-scale-")
    try:
        template = os.path.join(directory, "template.json")
        pathlib.Path(template).write_text(json.dumps(fleet_facts.template_facts()))
        html_path = os.path.join(directory, "largest.html")
        print(
            "build + render (netdiag.tcp.audit_report's reported(): report, JSON, Markdown, HTML), one child per size"
        )
        print(
            "%8s %10s %9s %9s %12s %9s %9s %8s %8s"
            % ("hosts", "sockets", "seconds", "CPU s", "CPU us/sock", "peak MB", "findings", "pairs", "HTML MB")
        )
        results = []
        for hosts in sizes:
            repeat = 2 if hosts >= 10000 else max(arguments.repeat, 1)
            result = measure(hosts, template, html_path if hosts == sizes[-1] else None, repeat)
            result["per_socket_us"] = result["cpu_seconds"] / result["sockets"] * 1e6
            results.append(result)
            print(
                "%8d %10d %9.2f %9.2f %12.2f %9.0f %9d %8d %8.1f"
                % (
                    hosts,
                    result["sockets"],
                    result["seconds"],
                    result["cpu_seconds"],
                    result["per_socket_us"],
                    result["peak_mb"],
                    result["findings"],
                    result["pairs"],
                    result["html_mb"],
                ),
                flush=True,
            )
        blank = os.path.join(directory, "blank.html")
        pathlib.Path(blank).write_text("<!DOCTYPE html><title>blank</title><p>blank</p>\n")
        browser = None
        if os.access(CHROMIUM, os.X_OK):
            start = browser_seconds(blank, directory)
            browser = browser_seconds(html_path, directory)
            print(
                "Chromium headless, screenshot of the %d-host HTML: %.2f s (a one-line page: %.2f s)"
                % (sizes[-1], browser, start)
            )
        else:
            print("Chromium not found at %s: the HTML's opening time is not measured" % CHROMIUM)
        return judge(results, browser, arguments.quick)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def judge(results, browser, quick):
    """Prints each goal's figure and verdict; 0 when all are met (or --quick), else 1."""
    first, last = results[0], results[-1]
    ratio = last["per_socket_us"] / first["per_socket_us"]
    checks = [
        (
            "per-socket CPU time, %d vs %d hosts: %.2fx (goal <= %.1fx)"
            % (last["hosts"], first["hosts"], ratio, GOAL_PER_SOCKET_RATIO),
            ratio <= GOAL_PER_SOCKET_RATIO,
        ),
        (
            "%d hosts: %.1f s (goal <= %.0f s), %.2fx the goal"
            % (last["hosts"], last["seconds"], GOAL_SECONDS, last["seconds"] / GOAL_SECONDS),
            last["seconds"] <= GOAL_SECONDS,
        ),
        (
            "%d hosts: peak RSS %.0f MB (goal <= %.0f MB), %.2fx the goal"
            % (last["hosts"], last["peak_mb"], GOAL_RSS_MB, last["peak_mb"] / GOAL_RSS_MB),
            last["peak_mb"] <= GOAL_RSS_MB,
        ),
    ]
    if browser is not None:
        checks.append(
            (
                "%d-host HTML opens in %.2f s (goal < %.0f s), %.2fx the goal"
                % (last["hosts"], browser, GOAL_BROWSER_SECONDS, browser / GOAL_BROWSER_SECONDS),
                browser < GOAL_BROWSER_SECONDS,
            )
        )
    for text, met in checks:
        print("%s  %s" % (text, "(not judged: --quick)" if quick else "goal met" if met else "GOAL MISSED"))
    if quick:
        return 0
    if last["hosts"] < 10000:
        print("goals are judged at 10,000 hosts; this run's largest size is %d" % last["hosts"])
    return 0 if all(met for _text, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
