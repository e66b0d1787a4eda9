# SPDX-License-Identifier: GPL-3.0-or-later
"""Central report benchmark: playbooks/report.yml over a jsonfile fact cache of N hosts, against a no-op play
that reads the same cache, in one run.

The cache is written through Ansible's own jsonfile cache plugin (so in the format of the ansible-core that
runs), one entry per host as playbooks/gather.yml leaves it: ansible_facts.netdiag of a synthetic fleet
(bench/fleet_facts.py: copies of this machine's real audit_facts result, web tier -> app tier on one port, 100
ESTABLISHED per web host, 10% half-open) and netdiag_audit_result with gathered_at. Then, interleaved, fastest
of --repeat each:

  no-op play   ansible-playbook of one play over all hosts: ansible.builtin.debug of one cached fact per host
               (gather_facts off; nothing is contacted)
  report.yml   ansible-playbook playbooks/report.yml (the report written to a temporary directory)

Goal (issue 18): report.yml over 2,000 hosts <= 2x the no-op play. --quick (make bench-smoke): 100 hosts, not
judged. A full run exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import fleet_facts  # a sibling script, not a package

REPO = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
GOAL = 2.0
NOOP_PLAY = """---
- name: Read one cached fact of every host
  hosts: all
  gather_facts: false
  tasks:
    - name: Show it
      ansible.builtin.debug:
        msg: "{{ ansible_facts.netdiag_audit_result.status | default('none') }}"
"""


def write_cache(directory, hosts):
    """The fleet's facts in a jsonfile cache at directory/facts, and its inventory; returns the inventory path."""
    template = fleet_facts.template_facts()
    gathered = fleet_facts.fleet(hosts, template)
    cache = directory / "facts"
    os.environ["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(cache)
    from ansible.plugins.loader import cache_loader

    plugin = cache_loader.get("jsonfile")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, entry in gathered.items():
        result = {"status": "reached", "failures": {}, "gathered_at": now}
        plugin.set(name, {"netdiag": entry["facts"], "netdiag_audit_result": result})
    inventory = directory / "inventory.json"
    hostvars = {name: {"ansible_host": entry["addresses"][0]} for name, entry in gathered.items()}
    inventory.write_text(json.dumps({"all": {"hosts": hostvars}}))
    return inventory, fleet_facts.socket_count(gathered)


def timed(argv, environment):
    started = time.perf_counter()
    completed = subprocess.run(argv, cwd=REPO, env=environment, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(argv), completed.stdout[-3000:] + completed.stderr[-2000:]))
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hosts", type=int, default=None, help="hosts in the cache (default 2000; --quick 100)")
    parser.add_argument("--repeat", type=int, default=1)
    arguments = parser.parse_args()
    hosts = arguments.hosts or (100 if arguments.quick else 2000)
    directory = pathlib.Path(tempfile.mkdtemp(prefix="netdiag-report-cache-"))
    try:
        inventory, sockets = write_cache(directory, hosts)
        (directory / "noop.yml").write_text(NOOP_PLAY)
        environment = dict(
            os.environ,
            ANSIBLE_CACHE_PLUGIN="jsonfile",
            ANSIBLE_CACHE_PLUGIN_CONNECTION=str(directory / "facts"),
        )
        noop = [str(VENV_BIN / "ansible-playbook"), str(directory / "noop.yml"), "-i", str(inventory)]
        report = [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/report.yml",
            "-i",
            str(inventory),
            "-e",
            "netdiag_report_dir=%s" % (directory / "reports"),
        ]
        best = {}
        for _round in range(max(arguments.repeat, 1)):
            for name, argv in (("no-op play", noop), ("report.yml", report)):
                seconds = timed(argv, environment)
                best[name] = min(best.get(name, seconds), seconds)
        written = json.loads((directory / "reports" / "audit-latest.json").read_text())
        print("jsonfile fact cache of %d hosts (%d sockets), fastest of %d" % (hosts, sockets, arguments.repeat))
        print("%-12s %7.2f s  (debug of one cached fact per host)" % ("no-op play", best["no-op play"]))
        print(
            "%-12s %7.2f s  (%d hosts reported, %d findings)"
            % ("report.yml", best["report.yml"], len(written["hosts"]), len(written["findings"]))
        )
        if len(written["hosts"]) != hosts or written["gathering"]["missing"] or written["gathering"]["stale"]:
            print("report.yml did not report every host from the cache")
            return 1
        ratio = best["report.yml"] / best["no-op play"]
        met = ratio <= GOAL
        verdict = "(not judged: --quick)" if arguments.quick else "goal met" if met else "GOAL MISSED"
        print("report.yml vs no-op play: %.2fx (goal <= %.0fx)  %s" % (ratio, GOAL, verdict))
        return 0 if met or arguments.quick else 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
