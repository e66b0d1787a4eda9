# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: netstat_facts' aggregation against the seed's shell pipeline on the same sockets, in the same run.

For each size (100,000 and 1,000,000 sockets; --quick: 20,000) this writes a synthetic socket table twice, as
/proc/net/tcp text and as the `netstat -an` text of the same sockets, then times

  ours      a child Python process running the code the collection really runs on that text:
            /proc/net/tcp  the module's Linux collector (collect/linux_sockets.LinuxNetstatCollector.collect) over a
                           proc root whose net/tcp is the table, with the module's defaults (owner scan on,
                           max_connections 1000, every state); the scan finds no processes in that root.
            netstat -an    the parse filter's function (linux_netstat.parse) on the text, max_connections 1000;
                           the child first reads the file into one str, as the filter receives it.
            Both give state counts, established_by_peer with directions and keepalive, listeners and a
            1000-row connection list. The child's peak RSS is its VmHWM (the netstat text itself included).
  baseline  the seed's pipeline run by bash:  awk '{print $5}' FILE | cut -d: -f1 | sort | uniq -c | sort -nr
            always on the netstat text (the pipeline cannot read /proc/net/tcp hex), with the caller's locale.

The /proc/net/tcp text is written the way the kernel prints it (tcp4_seq_show: get_tcp4_sock and
get_timewait4_sock rows, every line padded to 149 characters by seq_setwidth/seq_pad); the netstat text the way
net-tools prints `netstat -an` (tcp_do_one: "%-4s  %6ld %6ld %-23s %-23s %-11s"). The sockets are shaped like the
incident host: a server listening on 3 ports with 2,000 client addresses (75 % of the sockets: ESTABLISHED,
TIME_WAIT, CLOSE_WAIT) and outbound connections to 50 remote services (25 %). Addresses are from shared and
documentation ranges only: clients 100.64.0.0/10, the host 203.0.113.5, services 198.51.100.0/24.
Each side runs 3 times (--repeat) and its fastest run counts, as timeit does: timings on a shared VM vary by tens
of percent from run to run, and the minimum is the least disturbed one for both sides alike.
Goal at 1,000,000 rows: ours at least 2x faster than the pipeline with peak RSS under 150 MB. Exit status 1 when a
full run misses the goal. Standard library only; run as .venv/bin/python bench/bench_netstat.py [--quick].
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".ansible", "collections")
PIPELINE = "awk '{print $5}' \"$1\" | cut -d: -f1 | sort | uniq -c | sort -nr > /dev/null"
GOAL_RATIO = 2.0
GOAL_RSS_MB = 150.0
LISTEN_PORTS = (22, 5555, 8080)
LOCAL_ADDRESS = "203.0.113.5"
NETSTAT_HEADER = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n"
)
PROC_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
PROC_WIDTH = 149  # TMPSZ - 1 in net/ipv4/tcp_ipv4.c: every /proc/net/tcp line is padded to this width
STATE_CODES = {"ESTABLISHED": "01", "TIME_WAIT": "06", "CLOSE_WAIT": "08", "LISTEN": "0A"}


def synthetic_sockets(rows, seed=2012):
    """(local address, local port, remote address, remote port, state, timer) tuples, listeners first."""
    generator = random.Random(seed)
    clients = [
        "100.%d.%d.%d" % (generator.randrange(64, 128), generator.randrange(256), generator.randrange(1, 255))
        for _client in range(2000)
    ]
    services = [
        (
            "198.51.100.%d" % generator.randrange(1, 255),
            generator.choice((1521, 3306, 443, 5555)),
        )
        for _service in range(50)
    ]
    for port in LISTEN_PORTS:
        yield ("0.0.0.0", port, "0.0.0.0", 0, "LISTEN", "00")
    for _row in range(rows - len(LISTEN_PORTS)):
        draw = generator.random()
        if draw < 0.75:
            state = "ESTABLISHED" if draw < 0.65 else ("TIME_WAIT" if draw < 0.72 else "CLOSE_WAIT")
            remote = (generator.choice(clients), generator.randrange(32768, 61000))
            local = (LOCAL_ADDRESS, generator.choice(LISTEN_PORTS))
        else:
            state = "ESTABLISHED" if draw < 0.95 else "TIME_WAIT"
            remote = generator.choice(services)
            local = (LOCAL_ADDRESS, generator.randrange(32768, 61000))
        timer = "03" if state == "TIME_WAIT" else generator.choice(("00", "02"))
        yield (local[0], local[1], remote[0], remote[1], state, timer)


def little_endian_hex(address):
    return "%08X" % struct.unpack("<I", socket.inet_aton(address))[0]


def write_tables(rows, directory):
    """Write the same sockets as /proc/net/tcp text and as `netstat -an` text; return both paths."""
    proc_root = os.path.join(directory, "proc-%d" % rows)  # a proc root for the collector: <root>/net/tcp
    os.makedirs(os.path.join(proc_root, "net"))
    proc_path = os.path.join(proc_root, "net", "tcp")
    netstat_path = os.path.join(directory, "netstat-an-%d.txt" % rows)
    hex_cache = {}
    with open(proc_path, "w", encoding="ascii") as proc, open(netstat_path, "w", encoding="ascii") as netstat:
        proc.write(PROC_HEADER.ljust(PROC_WIDTH) + "\n")
        netstat.write(NETSTAT_HEADER)
        for number, (local, local_port, remote, remote_port, state, timer) in enumerate(synthetic_sockets(rows)):
            local_hex = hex_cache.get(local) or hex_cache.setdefault(local, little_endian_hex(local))
            remote_hex = hex_cache.get(remote) or hex_cache.setdefault(remote, little_endian_hex(remote))
            if state == "TIME_WAIT":  # get_timewait4_sock: no uid, no inode, tr 3 with the time left
                row = "%4d: %s:%04X %s:%04X 06 00000000:00000000 03:%08X 00000000 %5d %8d %d %d %016x" % (
                    number,
                    local_hex,
                    local_port,
                    remote_hex,
                    remote_port,
                    1000 + number % 5000,
                    0,
                    0,
                    0,
                    3,
                    0,
                )
            else:  # get_tcp4_sock
                row = "%4d: %s:%04X %s:%04X %s 00000000:00000000 %s:%08X 00000000 %5u %8d %d 1 %016x 20 4 30 10 -1" % (
                    number,
                    local_hex,
                    local_port,
                    remote_hex,
                    remote_port,
                    STATE_CODES[state],
                    timer,
                    (720000 - number % 700000) if timer == "02" else 0,  # keepalive timer: ticks left
                    1000,
                    0,
                    100000 + number,
                    0,
                )
            proc.write(row.ljust(PROC_WIDTH) + "\n")
            remote_text = "%s:%s" % (remote, remote_port or "*")
            netstat.write(
                "tcp        0      0 %-23s %-23s %-11s\n" % ("%s:%d" % (local, local_port), remote_text, state)
            )
    return proc_path, netstat_path


def child(format_name, path):
    """Runs in the measured child: the collection's real entry point on the table, then report VmHWM."""
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_sockets import LinuxNetstatCollector
    from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
    from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat

    if format_name == "proc":
        # A proc root whose net/tcp is the table: the collector reads it exactly as it reads /proc/net/tcp.
        root = os.path.dirname(os.path.dirname(path))
        result, _owner_scan = LinuxNetstatCollector(proc_root=root, byteorder="little").collect(Selection())
    else:
        text = ""
        with open(path, encoding="ascii") as handle:
            for piece in iter(lambda: handle.read(1 << 20), ""):
                text += piece  # grows in place: one copy of the text in memory, as the filter would hold it
        result = linux_netstat.parse(text, max_connections=1000)
    with open("/proc/self/status", encoding="ascii") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(
        json.dumps(
            {
                "peak_rss_kb": peak_kb,
                "peers": len(result["established_by_peer"]),
                "established": result["state_counts"]["ESTABLISHED"],
                "total": result["total_sockets"],
            }
        )
    )


def time_ours(format_name, path, python, repeat):
    """Fastest of ``repeat`` runs of the child, and its report (the highest peak RSS of the runs)."""
    best = None
    report = None
    for _run in range(repeat):
        started = time.perf_counter()
        completed = subprocess.run(
            [python, os.path.abspath(__file__), "--child", format_name, path],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if completed.returncode != 0:
            raise SystemExit("bench child failed:\n" + completed.stderr)
        run_report = json.loads(completed.stdout)
        best = elapsed if best is None else min(best, elapsed)
        if report is None or run_report["peak_rss_kb"] > report["peak_rss_kb"]:
            report = run_report
    return best, report


def time_baseline(netstat_path, repeat):
    """Fastest of ``repeat`` runs of the pipeline."""
    best = None
    for _run in range(repeat):
        started = time.perf_counter()
        subprocess.run(["bash", "-c", PIPELINE, "pipeline", netstat_path], check=True)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (20,000 rows, no goal check)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs ours (default: this one); e.g. /usr/bin/python3, as on a managed host",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each side; the fastest counts (default 3, 1 with --quick): this VM's timings vary by 20-30 %%",
    )
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(*arguments.child)
        return 0
    sizes = (20000,) if arguments.quick else (100000, 1000000)
    repeat = arguments.repeat or (1 if arguments.quick else 3)
    locale_used = os.environ.get("LC_ALL") or os.environ.get("LC_COLLATE") or os.environ.get("LANG") or "POSIX (unset)"
    print("netstat_facts aggregation vs  %s" % PIPELINE.replace('"$1"', "FILE").replace(" > /dev/null", ""))
    version = subprocess.run(
        [arguments.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        "ours: %s (python %s); baseline locale %s; %d CPUs; fastest of %d runs each"
        % (arguments.python, version, locale_used, os.cpu_count() or 0, repeat)
    )
    print("%-9s %-13s %10s %12s %8s %12s" % ("rows", "our input", "ours s", "pipeline s", "ratio", "our peak MB"))
    missed = []
    with tempfile.TemporaryDirectory(prefix="bench-netstat-") as directory:
        for rows in sizes:
            proc_path, netstat_path = write_tables(rows, directory)
            for format_name, path in (("proc", proc_path), ("netstat", netstat_path)):
                ours, report = time_ours(format_name, path, arguments.python, repeat)
                if report["total"] != rows:
                    raise SystemExit("our parser read %d sockets of %d" % (report["total"], rows))
                baseline = time_baseline(netstat_path, repeat)
                ratio = baseline / ours
                peak_mb = report["peak_rss_kb"] / 1024.0
                label = "/proc/net/tcp" if format_name == "proc" else "netstat -an"
                print("%-9d %-13s %10.3f %12.3f %7.2fx %12.1f" % (rows, label, ours, baseline, ratio, peak_mb))
                if rows >= 1000000 and (ratio < GOAL_RATIO or peak_mb >= GOAL_RSS_MB):
                    missed.append("%s at %d rows: %.2fx, %.1f MB" % (label, rows, ratio, peak_mb))
            shutil.rmtree(os.path.dirname(os.path.dirname(proc_path)))
            os.unlink(netstat_path)
    if missed:
        print(
            "GOAL MISSED (>= %.1fx faster and < %.0f MB at 1,000,000 rows): %s"
            % (GOAL_RATIO, GOAL_RSS_MB, "; ".join(missed))
        )
        return 1
    if not arguments.quick:
        print("goal met: >= %.1fx faster and < %.0f MB at 1,000,000 rows" % (GOAL_RATIO, GOAL_RSS_MB))
    return 0


if __name__ == "__main__":
    sys.exit(main())
