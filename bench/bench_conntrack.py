# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: top-5 conntrack sources, netdiag.tcp's streaming aggregator vs the seed's shell pipeline.

The 2012 incident counted conntrack entries per source with

    cat /proc/net/ip_conntrack | cut -d ' ' -f 10 | cut -d '=' -f 2 | sort | uniq -c | sort -nr | head -n 5

On /proc/net/nf_conntrack the two l3 columns and the %-8s padding move the first src= of a TCP line to field 16
(``ipv4␣␣␣␣␣2␣tcp␣␣␣␣␣␣6␣431999␣ESTABLISHED␣src=``: every padding space is an empty field for ``cut -d' '``).
A UDP line has no state column, so field 16 is its dst=: the pipeline counts UDP destinations as sources. The
synthetic table is built so that this does not change the top 5 (the busy sources only make TCP connections, UDP
destinations are spread thin), so both answers can be compared; the true counts from the generator are checked
too.

Synthetic /proc/net/nf_conntrack files (262,144 and 1,000,000 entries: 88% IPv4 TCP from 400 sources in
100.64.0.0/10 with a skewed, Zipf-like distribution to 40 servers in 198.51.100.0/24, SYN_SENT ones [UNREPLIED];
2% IPv6 TCP from 50 sources in 2001:db8::/32, printed fully expanded as the kernel prints them; 10% UDP DNS from 300
other clients in 100.64.0.0/10 to 254 resolvers in 203.0.113.0/24) are written to a temporary directory.
Ours runs in a child process and makes exactly the module's call (conntrack_facts reading /proc/net/nf_conntrack):
``TableSummary(top=5).consume_stream(open(path, "rb")).result()``, which also computes every other counter of the
facts (states, flags, destinations). The child reports its own peak RSS (VmHWM). The pipeline runs with subprocess
on the same file in the same run.

Each side runs 3 times (--repeat) and its fastest run counts, as timeit does: timings on a shared VM vary by tens of
percent from run to run.

Goals (full run): ours >= 2x faster than the pipeline at 1,000,000 entries, and peak RSS < 64 MB at both sizes
(independent of the table size). Exit status 1 when a goal is missed. --quick: small tables, checks that both
answers agree and the RSS goal, reports the ratio without enforcing it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".ansible" / "collections"
FULL_SIZES = (262144, 1000000)
QUICK_SIZES = (20000, 50000)
SPEED_GOAL = 2.0
RSS_GOAL_MB = 64.0
PIPELINE = "cut -d' ' -f16 {path} | cut -d= -f2 | sort | uniq -c | sort -nr | head -5"

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.conntrack import TableSummary
start = time.perf_counter()
with open(sys.argv[1], "rb") as handle:  # as conntrack_facts reads /proc/net/nf_conntrack
    result = TableSummary(top=5).consume_stream(handle).result()
elapsed = time.perf_counter() - start
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "peak_kb": peak_kb, "top_sources": result["top_sources"],
                  "entries": result["entries_parsed"]}))
"""


def expanded(address):
    """IPv6 text as the kernel prints it (%pI6: eight groups of four hex digits)."""
    return ":".join("%04x" % int(group or "0", 16) for group in address.replace("::", ":0:0:0:0:0:").split(":"))


def generate(path, entries, seed=2012):
    """Write a synthetic nf_conntrack table; return the true number of entries per original source."""
    rng = random.Random(seed)
    sources = ["100.64.%d.%d" % (index // 250, 1 + index % 250) for index in range(400)]
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(sources))]
    servers = ["198.51.100.%d" % index for index in range(1, 41)]
    clients = ["100.65.%d.%d" % (index // 250, 1 + index % 250) for index in range(300)]
    ipv6_sources = ["2001:db8:1::%x" % index for index in range(1, 51)]
    ipv6_servers = ["2001:db8:2::%x" % index for index in range(1, 5)]
    tcp_states = ["ESTABLISHED"] * 85 + ["TIME_WAIT"] * 10 + ["SYN_SENT", "CLOSE_WAIT", "FIN_WAIT", "LAST_ACK", "CLOSE"]
    udp_count = entries // 10
    ipv6_count = entries // 50
    kinds = ["udp"] * udp_count + ["ipv6"] * ipv6_count + ["tcp"] * (entries - udp_count - ipv6_count)
    rng.shuffle(kinds)
    chosen_sources = rng.choices(sources, weights, k=kinds.count("tcp"))
    truth = {}
    lines = []
    tcp_index = 0
    with open(path, "w", encoding="ascii") as handle:
        for kind in kinds:
            port = rng.randrange(1024, 65536)
            if kind == "udp":
                client = clients[rng.randrange(len(clients))]
                resolver = "203.0.113.%d" % rng.randrange(1, 255)
                lines.append(
                    "ipv4     2 udp      17 %d src=%s dst=%s sport=%d dport=53 src=%s dst=%s sport=53 dport=%d "
                    "mark=0 zone=0 use=2\n" % (rng.randrange(1, 180), client, resolver, port, resolver, client, port)
                )
                truth[client] = truth.get(client, 0) + 1
                continue
            state = rng.choice(tcp_states)
            timeout = rng.randrange(1, 432000) if state == "ESTABLISHED" else rng.randrange(1, 120)
            if kind == "ipv6":
                source, server, service, layer3 = rng.choice(ipv6_sources), rng.choice(ipv6_servers), 443, "ipv6     10"
                printed_source, printed_server = expanded(source), expanded(server)
            else:
                source = chosen_sources[tcp_index]
                tcp_index += 1
                server = rng.choice(servers)
                service = rng.choice((443, 443, 80, 5555, 3306))
                layer3, printed_source, printed_server = "ipv4     2", source, server
            unreplied, flag = (" [UNREPLIED]", "") if state == "SYN_SENT" else ("", " [ASSURED]")
            lines.append(
                "%s tcp      6 %d %s src=%s dst=%s sport=%d dport=%d%s src=%s dst=%s sport=%d dport=%d%s "
                "mark=0 zone=0 use=2\n"
                % (
                    layer3,
                    timeout,
                    state,
                    printed_source,
                    printed_server,
                    port,
                    service,
                    unreplied,
                    printed_server,
                    printed_source,
                    service,
                    port,
                    flag,
                )
            )
            truth[source] = truth.get(source, 0) + 1
            if len(lines) >= 10000:
                handle.writelines(lines)
                lines = []
        handle.writelines(lines)
    return truth


def run_ours(path, repeat):
    """The report of the fastest of ``repeat`` child runs, with the highest peak RSS of them all."""
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(COLLECTIONS)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _run in range(repeat)
    ]
    best = min(runs, key=lambda report: report["seconds"])
    best["peak_kb"] = max(report["peak_kb"] for report in runs)
    return best


def run_pipeline(path, repeat):
    """The fastest of ``repeat`` pipeline runs, and its top 5."""
    elapsed = None
    for _run in range(repeat):
        start = time.perf_counter()
        completed = subprocess.run(["sh", "-c", PIPELINE.format(path=path)], capture_output=True, text=True, check=True)
        run_seconds = time.perf_counter() - start
        elapsed = run_seconds if elapsed is None else min(elapsed, run_seconds)
    top = []
    for line in completed.stdout.splitlines():
        count, address = line.split()
        top.append({"address": address, "count": int(count)})
    return elapsed, top


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tables; do not enforce the speed goal")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs of each side, the fastest counts (default 3, 1 with --quick)"
    )
    options = parser.parse_args()
    repeat = options.repeat or (1 if options.quick else 3)
    sizes = QUICK_SIZES if options.quick else FULL_SIZES
    missed = []
    with tempfile.TemporaryDirectory(prefix="bench-conntrack-") as directory:
        for entries in sizes:
            path = pathlib.Path(directory) / ("nf_conntrack-%d.txt" % entries)
            truth = generate(path, entries)
            true_top = sorted(truth.items(), key=lambda item: (-item[1], item[0]))[:5]
            ours = run_ours(path, repeat)
            pipeline_seconds, pipeline_top = run_pipeline(path, repeat)
            ratio = pipeline_seconds / ours["seconds"] if ours["seconds"] else float("inf")
            peak_mb = ours["peak_kb"] / 1024.0
            print("rows: %d (%.1f MB file)" % (entries, path.stat().st_size / 1e6))
            print("  ours (consume_stream, top=5): %.3f s  peak RSS %.1f MB" % (ours["seconds"], peak_mb))
            print("  seed pipeline (cut|sort|uniq): %.3f s" % pipeline_seconds)
            print("  speed ratio (pipeline / ours): %.2fx" % ratio)
            print("  ours top-5:     %s" % ", ".join("%s %d" % (i["address"], i["count"]) for i in ours["top_sources"]))
            print("  pipeline top-5: %s" % ", ".join("%s %d" % (i["address"], i["count"]) for i in pipeline_top))
            print("  true top-5:     %s" % ", ".join("%s %d" % item for item in true_top))
            if ours["entries"] != entries:
                missed.append("%d rows: ours parsed %d entries" % (entries, ours["entries"]))
            if [(i["address"], i["count"]) for i in ours["top_sources"]] != true_top:
                missed.append("%d rows: our top-5 differs from the true counts" % entries)
            if pipeline_top != ours["top_sources"]:
                missed.append("%d rows: our top-5 and the pipeline's differ" % entries)
            if peak_mb >= RSS_GOAL_MB:
                missed.append("%d rows: peak RSS %.1f MB >= %.0f MB" % (entries, peak_mb, RSS_GOAL_MB))
            if entries == max(sizes) and not options.quick and ratio < SPEED_GOAL:
                missed.append("%d rows: %.2fx faster, goal %.1fx" % (entries, ratio, SPEED_GOAL))
            path.unlink()
    if missed:
        print("GOAL MISSED: " + "; ".join(missed))
        return 1
    print("all goals met" if not options.quick else "quick run: answers agree, RSS goal met (speed not enforced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
