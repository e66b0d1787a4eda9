# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet benchmark: playbooks/audit.yml over N test hosts against a ping round over the same hosts, in one run.

The hosts are tools/testhosts hosts (a network namespace, a Debian rootfs overlay and a real sshd each; Ansible
connects over SSH), named spdf1..spdfN at 198.51.100.120 + i (N <= 100). --hosts takes one size or several
(default 10,30: the fleet sizes of the goal); the largest set of hosts is created once and each size audits the
first N of them. Each side runs --repeat times, fastest counts, interleaved: `ansible all -m ping`,
`ansible-playbook playbooks/audit.yml` (the report written to a temporary directory) and the same audit with a
jsonfile fact cache on (each host's result also written to the cache, as gather.yml keeps it). The controller's
peak memory is the largest resident set of the ansible-playbook process tree (ru_maxrss from wait4). Goal: the
audit, with and without the fact cache, at most 3x the ping round.

--quick (make bench-smoke) skips this benchmark: creating hosts does not belong in a smoke run. A full run exits 1
when the goal is missed. Needs root; the hosts are destroyed at the end (only those this script created).
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

REPO = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
TESTHOSTS = [sys.executable, str(REPO / "tools" / "testhosts" / "testhosts.py")]
FIRST_ADDRESS = 120
GOAL = 3.0


def timed(argv, environment):
    """(seconds, peak RSS in MB of the process tree) of one command; fails on a non-zero exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    process.returncode = returncode
    if returncode != 0:
        raise RuntimeError(
            "%s failed (rc=%d): %s" % (" ".join(argv), returncode, process.stderr.read().decode()[-2000:])
        )
    return seconds, usage.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hosts", default="10,30", help="fleet sizes, comma-separated (each 1..100)")
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()
    if arguments.quick:
        print("bench_fleet: skipped in --quick (it creates test hosts); make bench runs it")
        return 0
    if os.geteuid() != 0:
        print("bench_fleet: needs root (test hosts); skipped")
        return 0
    try:
        sizes = sorted({int(size) for size in arguments.hosts.split(",")})
    except ValueError:
        sizes = []
    if not sizes or not all(1 <= size <= 100 for size in sizes):
        print("bench_fleet: --hosts takes sizes 1..100 separated by commas (198.51.100.120-219)")
        return 2
    names = ["spdf%d" % number for number in range(1, sizes[-1] + 1)]
    specs = ["%s=198.51.100.%d" % (name, FIRST_ADDRESS + index) for index, name in enumerate(names)]
    directory = pathlib.Path(tempfile.mkdtemp(prefix="netdiag-fleet-"))
    created = []
    try:
        started = time.monotonic()
        key = None
        for spec in specs:
            output = subprocess.run([*TESTHOSTS, "create", spec], cwd=REPO, capture_output=True, text=True, check=True)
            created.append(spec.split("=")[0])
            key = json.loads(output.stdout).get("private_key", key)
        print("%d test hosts created in %.1f s" % (len(created), time.monotonic() - started), flush=True)
        all_met = True
        for size in sizes:
            all_met = measure(directory, specs[:size], key, arguments.repeat) and all_met
        return 0 if all_met else 1
    finally:
        if created:
            subprocess.run([*TESTHOSTS, "destroy", *created], cwd=REPO, capture_output=True, check=False)


def measure(directory, specs, key, repeat):
    """Ping round and audit over these hosts; prints the figures and returns whether the goal was met."""
    created = [spec.split("=")[0] for spec in specs]
    inventory = directory / ("inventory-%d.json" % len(specs))
    hosts = {
        spec.split("=")[0]: {
            "ansible_host": spec.split("=")[1],
            "ansible_user": "root",
            "ansible_ssh_private_key_file": key,
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        for spec in specs
    }
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    environment = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    ping = [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ping"]
    audit = [
        str(VENV_BIN / "ansible-playbook"),
        "playbooks/audit.yml",
        "-i",
        str(inventory),
        "-e",
        "netdiag_report_dir=%s" % (directory / ("reports-%d" % len(specs))),
    ]
    # The same audit with a jsonfile fact cache on (as gather.yml runs on AWX or with several controllers): every
    # host's result is also written to the cache.
    cached = dict(
        environment,
        ANSIBLE_CACHE_PLUGIN="jsonfile",
        ANSIBLE_CACHE_PLUGIN_CONNECTION=str(directory / ("facts-%d" % len(specs))),
    )
    timed(ping, environment)  # first contact: host keys, ControlPersist sockets
    best = {}
    peak = 0.0
    sides = (("ping round", ping, environment), ("audit.yml", audit, environment), ("audit.yml + cache", audit, cached))
    for _round in range(repeat):
        for name, argv, env in sides:
            seconds, rss = timed(argv, env)
            best[name] = min(best.get(name, seconds), seconds)
            if name != "ping round":
                peak = max(peak, rss)
    print("%-24s %7.2f s" % ("ping round (%d hosts)" % len(created), best["ping round"]))
    print("%-24s %7.2f s" % ("audit.yml", best["audit.yml"]))
    print("%-24s %7.2f s  controller peak RSS %.0f MB" % ("audit.yml + fact cache", best["audit.yml + cache"], peak))
    met = True
    for name in ("audit.yml", "audit.yml + cache"):
        ratio = best[name] / best["ping round"]
        verdict = "goal met" if ratio <= GOAL else "GOAL MISSED"
        print("%s vs ping round: %.2fx (goal <= %.1fx)  %s" % (name, ratio, GOAL, verdict))
        met = met and ratio <= GOAL
    return met


if __name__ == "__main__":
    sys.exit(main())
