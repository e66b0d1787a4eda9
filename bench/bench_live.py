# SPDX-License-Identifier: GPL-3.0-or-later
"""Live benchmark: netstat_facts and conntrack_facts on real kernel tables, as whole processes, against the shell
pipelines of the 2012 incident, and the Ansible round trip against `ansible -m ping`; all in one run.

Setting (bench/live_sockets.py): a network namespace with N real loopback connections from N/12 distinct client
addresses to 12 service ports (2N sockets, N conntrack entries), held by several processes. Full run: N = 96,000
(192,000 sockets from 8,000 client addresses); --quick: N = 3,600 (the smoke run of `make test`, under a minute).
Needs root (namespaces, nft), net-tools (netstat), iproute2 (ss) and nftables.

Measured inside the namespace, each side fastest of --repeat runs, interleaved so both sides see the same load:

  seed pipeline      netstat -tan | awk '{print $5}' | cut -d: -f1 | sort | uniq -c | sort -nr
  ss pipeline        ss -Htan | (the same awk | cut | sort | uniq -c | sort -nr)
  owners pipeline    netstat -tanp | awk '{print $5, $7}' | cut -d: -f1 | sort | uniq -c | sort -nr (once)
  netstat_facts      the module as a process, as Ansible runs it: python netstat_facts.py ARGS_FILE (the args file
                     holds {"ANSIBLE_MODULE_ARGS": ...}), owners off and default options; peak RSS (ru_maxrss)
  conntrack_facts    the module as a process, default options, against the seed's conntrack pipeline
                     cut -d' ' -f16 /proc/net/nf_conntrack | cut -d= -f2 | sort | uniq -c | sort -nr | head -5
  ansible            ansible localhost -m netdiag.tcp.netstat_facts against ansible localhost -m ping
  audit              ansible-playbook playbooks/audit.yml on this host (a figure, no goal: a busy host's whole audit,
                     report included)

Goals (issue "speed where users feel it"): netstat_facts owners off >= 2x faster than the seed pipeline and faster
than the ss pipeline; default >= 3x faster than the owners pipeline; peak RSS < 150 MB; conntrack_facts <= 1.25x
the seed's conntrack pipeline; ansible netstat_facts <= ping + 1.5 s. The audit over test hosts against a ping round
is bench/bench_fleet.py. A full run exits 1 when a goal is missed; --quick never
fails on a goal (small tables say little about the goals) but fails when something does not run.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from live_sockets import LiveSockets  # a sibling script, not a package

REPO = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".ansible" / "collections"
MODULES = COLLECTIONS / "ansible_collections" / "netdiag" / "tcp" / "plugins" / "modules"
VENV_BIN = REPO / ".venv" / "bin"
PEERS = "awk '{print $5}' | cut -d: -f1 | sort | uniq -c | sort -nr > /dev/null"
SEED = "netstat -tan | " + PEERS
SS = "ss -Htan | " + PEERS
OWNERS = "netstat -tanp | awk '{print $5, $7}' | cut -d: -f1 | sort | uniq -c | sort -nr > /dev/null"
CONNTRACK_SEED = "cut -d' ' -f16 /proc/net/nf_conntrack | cut -d= -f2 | sort | uniq -c | sort -nr | head -5 > /dev/null"


def timed(argv, environment=None):
    """(seconds, stdout) of one process; fails on a non-zero exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd=REPO)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (" ".join(argv), process.returncode, stderr.decode()[-2000:]))
    return seconds, stdout


def peak_rss_mb(argv, environment=None):
    """Peak RSS of a process, from os.wait4 (ru_maxrss is in KB on Linux; ip netns exec execs the command, so the
    pid is the module's own)."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError("%s failed (rc=%d)" % (" ".join(argv), process.returncode))
    return usage.ru_maxrss / 1024.0


class Bench:
    def __init__(self, namespace, repeat):
        self.namespace = namespace
        self.repeat = repeat
        # C.UTF-8: a C collation for the pipelines' sort, and the UTF-8 locale ansible insists on.
        self.environment = dict(os.environ, PYTHONPATH=str(COLLECTIONS), LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.directory = tempfile.mkdtemp(prefix="netdiag-bench-")

    def in_netns(self, *argv):
        return ["ip", "netns", "exec", self.namespace, *argv]

    def shell(self, pipeline):
        return self.in_netns("bash", "-c", pipeline)

    def module(self, name, arguments):
        path = os.path.join(self.directory, "%s-%d.json" % (name, len(os.listdir(self.directory))))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": arguments}, handle)
        return self.in_netns(sys.executable, str(MODULES / (name + ".py")), path)

    def ansible(self, module):
        return self.in_netns(str(VENV_BIN / "ansible"), "localhost", "-m", module)

    def audit(self):
        report_dir = os.path.join(self.directory, "reports")
        playbook = str(REPO / "playbooks" / "audit.yml")
        return self.in_netns(str(VENV_BIN / "ansible-playbook"), playbook, "-e", "netdiag_report_dir=" + report_dir)

    def fastest(self, commands, repeat=None):
        """{name: fastest seconds} of several commands, run in turns (repeat rounds)."""
        best = {}
        for _round in range(repeat or self.repeat):
            for name, argv in commands.items():
                seconds, _stdout = timed(argv, self.environment)
                best[name] = min(best.get(name, seconds), seconds)
        return best


def report(rows, judged=True):
    """Print figure / goal lines; return the number of missed goals (0 when not judged: small tables)."""
    missed = 0
    for text, met in rows:
        if not judged:
            met = None
        verdict = "" if met is None else ("  goal met" if met else "  GOAL MISSED")
        missed += met is False
        print(text + verdict, flush=True)
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tables, goals not enforced (make bench-smoke)")
    parser.add_argument("--clients", type=int, help="distinct client addresses (12 connections each)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--namespace", default="spdbench")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_live: needs root (network namespaces); skipped")
        return 0
    clients = arguments.clients or (300 if arguments.quick else 8000)
    repeat = 2 if arguments.quick and arguments.repeat == 3 else arguments.repeat
    started = time.monotonic()
    with LiveSockets(arguments.namespace + ("q" if arguments.quick else ""), clients) as live:
        print(
            "%d connections (%d sockets) from %d client addresses on %d ports, %d conntrack entries; built in %.1f s"
            % (
                live.connections,
                2 * live.connections,
                clients,
                len(live.ports),
                live.conntrack_count(),
                time.monotonic() - started,
            ),
            flush=True,
        )
        bench = Bench(live.namespace, repeat)
        netstat = bench.fastest(
            {
                "seed pipeline": bench.shell(SEED),
                "ss pipeline": bench.shell(SS),
                "netstat_facts owners off": bench.module("netstat_facts", {"owners": False}),
                "netstat_facts default": bench.module("netstat_facts", {}),
            }
        )
        # netstat -p reads every process of the host (about 18 s here whatever the namespace holds): full runs only.
        owners = {} if arguments.quick else bench.fastest({"owners pipeline": bench.shell(OWNERS)}, repeat=1)
        rss = max(
            peak_rss_mb(bench.module("netstat_facts", {}), bench.environment),
            peak_rss_mb(bench.module("netstat_facts", {"owners": False}), bench.environment),
        )
        conntrack = bench.fastest(
            {
                "conntrack seed pipeline": bench.shell(CONNTRACK_SEED),
                "conntrack_facts default": bench.module("conntrack_facts", {}),
            }
        )
        _seconds, output = timed(bench.module("netstat_facts", {}), bench.environment)
        result_bytes = len(output)
        rounds = bench.fastest(
            {
                "ansible -m ping": bench.ansible("ping"),
                "ansible -m netdiag.tcp.netstat_facts": bench.ansible("netdiag.tcp.netstat_facts"),
                "ansible-playbook audit.yml (this host)": bench.audit(),
            },
            repeat=max(1, repeat - 1),
        )
    figures = dict(netstat, **owners, **conntrack, **rounds)
    for name, seconds in figures.items():
        print("%-40s %7.3f s" % (name, seconds))
    print("%-40s %7.1f MB (result %d bytes)" % ("netstat_facts peak RSS", rss, result_bytes))
    off, default = figures["netstat_facts owners off"], figures["netstat_facts default"]
    rows = [
        (
            "owners off vs seed pipeline: %.2fx faster (goal >= 2x)" % (figures["seed pipeline"] / off),
            figures["seed pipeline"] / off >= 2.0,
        ),
        (
            "owners off vs ss pipeline: %.2fx faster (goal > 1x)" % (figures["ss pipeline"] / off),
            figures["ss pipeline"] / off > 1.0,
        ),
        (
            "default vs owners pipeline: %.2fx faster (goal >= 3x)" % (figures["owners pipeline"] / default),
            figures["owners pipeline"] / default >= 3.0,
        )
        if "owners pipeline" in figures
        else ("default vs owners pipeline: not run (--quick)", None),
        ("peak RSS %.1f MB (goal < 150 MB)" % rss, rss < 150.0),
        (
            "conntrack_facts vs seed: %.2fx its time (goal <= 1.25x)"
            % (figures["conntrack_facts default"] / figures["conntrack seed pipeline"]),
            figures["conntrack_facts default"] / figures["conntrack seed pipeline"] <= 1.25,
        ),
        (
            "ansible netstat_facts - ping: +%.2f s (goal <= +1.5 s)"
            % (figures["ansible -m netdiag.tcp.netstat_facts"] - figures["ansible -m ping"]),
            figures["ansible -m netdiag.tcp.netstat_facts"] - figures["ansible -m ping"] <= 1.5,
        ),
        (
            "audit.yml on this host, report included: %.2f s (a figure)"
            % figures["ansible-playbook audit.yml (this host)"],
            None,
        ),
        ("audit.yml over test hosts vs a ping round: bench/bench_fleet.py", None),
    ]
    missed = report(rows, judged=not arguments.quick)
    if arguments.quick:
        print("(--quick: %d connections; goals are judged by full runs only)" % (clients * 12))
        return 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
