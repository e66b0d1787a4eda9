# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic fleets for the report benchmarks, shaped like the incident and built from a real host's facts.

template_facts() runs netdiag.tcp.audit_facts once on this machine (``ansible localhost``, tuples and nat_tuples on,
as playbooks/audit.yml runs it), so every section a real audit returns is there with its real fields and values:
keepalive sysctls, conntrack (timeouts, stats, persisted settings), slabinfo, owner scan. fleet() copies it into N
hosts and replaces only the socket content with the fleet's:

  web tier  90% of the hosts; each holds PER_WEB ESTABLISHED connections to one app host on SERVICE_PORT (web host
            i talks to app host i mod A), every socket with SO_KEEPALIVE, held by one process.
  app tier  10% of the hosts; each lists the mirror of every web connection it serves, and HALF_OPEN_SHARE more
            sockets from the same web hosts that the web side no longer holds (half-open: the 2012 incident). Its
            conntrack tracks its web hosts as top sources with the incident's fixed timeout (1200 s), below the
            web hosts' keepalive time (7200 s), so the cross-host keepalive check has work on every web host.

With 100 hosts and PER_WEB 100 that is 18,900 sockets (9,000 on the web side, 9,900 on the app side), as in issue 18's
table. Addresses come from the shared address space 100.64.0.0/10 (RFC 6598; never routed to or from this
machine, the data never leaves the process): web hosts from 100.64.0.0, app hosts from 100.96.0.0.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
SERVICE_PORT = 5555
PER_WEB = 100
HALF_OPEN_SHARE = 0.10
APP_SHARE = 0.10
NAT_TIMEOUT = 1200
COLUMNS = ["local_address", "local_port", "remote_address", "remote_port", "pid", "keepalive"]


def template_facts():
    """ansible_facts.netdiag of this machine, read by netdiag.tcp.audit_facts through ansible (the real module)."""
    environment = dict(
        os.environ,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".ansible" / "collections"),
    )
    with tempfile.TemporaryDirectory(prefix="netdiag-template-") as directory:
        output = subprocess.run(
            [
                str(VENV_BIN / "ansible"),
                "localhost",
                "-i",
                "localhost,",
                "-c",
                "local",
                "-m",
                "netdiag.tcp.audit_facts",
                "-a",
                "tuples=true nat_tuples=true",
                "-e",
                "ansible_python_interpreter=/usr/bin/python3",  # the system's, as on a managed host
            ],
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(output.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result["ansible_facts"]["netdiag"]


def address(base, index):
    """The index-th address of a /12 block starting at 100.<base>.0.0 (skipping .0 and .255 for readability)."""
    return "100.%d.%d.%d" % (base + index // 64516, (index // 254) % 254 + 1, index % 254 + 1)


def tiers(hosts):
    """(web names, app names) of a fleet of this many hosts: one app host per nine web hosts, at least one each."""
    apps = max(1, round(hosts * APP_SHARE))
    webs = max(1, hosts - apps)
    return ["web%05d" % index for index in range(webs)], ["app%05d" % index for index in range(apps)]


def _tuples(rows):
    return {
        "columns": COLUMNS,
        "count": len(rows),
        "rows": "\n".join("%s %d %s %d %d %d" % row for row in rows),
        "truncated": False,
    }


def _netstat(template, rows, listeners, peers, holders):
    netstat = copy.deepcopy(template)
    states = dict.fromkeys(netstat.get("state_counts") or {}, 0)
    states.update(ESTABLISHED=len(rows), LISTEN=len(listeners))
    netstat.update(
        state_counts=states,
        listeners=listeners,
        listeners_total=len(listeners),
        listeners_truncated=False,
        connections=[],
        established_by_peer=peers,
        established_by_peer_rest=[],
        established_by_peer_total=len(peers),
        established_by_peer_truncated=False,
        established_without_keepalive=sum(1 for row in rows if not row[5]),
        established_keepalive_unknown=0,
        established_tuples=_tuples(rows),
        holders=holders,
        selected_sockets=len(rows) + len(listeners),
        total_sockets=len(rows) + len(listeners),
    )
    return netstat


def fleet(hosts, template, per_web=PER_WEB):
    """{name: gathered} for build_report(): the audit's per-host input (status, errors, facts, addresses)."""
    webs, apps = tiers(hosts)
    web_address = {name: address(64, index) for index, name in enumerate(webs)}
    app_address = {name: address(96, index) for index, name in enumerate(apps)}
    clients = {name: [] for name in apps}
    for index, name in enumerate(webs):
        clients[apps[index % len(apps)]].append(name)
    template_netstat = {key: value for key, value in template["netstat"].items() if key != "established_tuples"}
    gathered = {}
    for index, name in enumerate(webs):
        server = apps[index % len(apps)]
        rows = [(web_address[name], 32768 + port, app_address[server], SERVICE_PORT, 900, 1) for port in range(per_web)]
        peers = [{"direction": "outbound", "service_port": SERVICE_PORT, "peer": app_address[server], "count": per_web}]
        facts = copy.deepcopy(template)
        facts["netstat"] = _netstat(template_netstat, rows, [], peers, {"900": {"process": "httpd", "user": "www"}})
        gathered[name] = _gathered(facts, web_address[name])
    half_open = max(1, round(per_web * HALF_OPEN_SHARE))
    for name in apps:
        rows, peers = [], []
        for client in clients[name]:
            ports = range(per_web + half_open)  # the last half_open ports: gone on the web host
            rows.extend((app_address[name], SERVICE_PORT, web_address[client], 32768 + port, 4242, 0) for port in ports)
            peers.append(
                {
                    "direction": "inbound",
                    "service_port": SERVICE_PORT,
                    "peer": web_address[client],
                    "count": per_web + half_open,
                }
            )
        listeners = [{"family": "inet", "local_address": "*", "local_port": SERVICE_PORT, "protocol": "tcp"}]
        facts = copy.deepcopy(template)
        facts["netstat"] = _netstat(
            template_netstat, rows, listeners, peers[:10], {"4242": {"process": "app_srv", "user": "app"}}
        )
        facts["netstat"]["established_by_peer_total"] = len(peers)
        facts["netstat"]["established_by_peer_truncated"] = len(peers) > 10
        facts["netstat"]["established_by_peer_rest"] = (
            [{"direction": "inbound", "service_port": SERVICE_PORT, "count": sum(p["count"] for p in peers[10:])}]
            if len(peers) > 10
            else []
        )
        conntrack = facts.get("conntrack") or {}
        if conntrack.get("available"):
            conntrack["timeouts"] = dict(conntrack.get("timeouts") or {}, tcp_timeout_established=NAT_TIMEOUT)
            conntrack["top_sources"] = [
                {"address": web_address[client], "count": per_web + half_open} for client in clients[name][:10]
            ]
            conntrack["count"] = len(rows)
        gathered[name] = _gathered(facts, app_address[name])
    return gathered


def _gathered(facts, host_address):
    return {"status": "reached", "errors": [], "facts": facts, "addresses": [host_address], "aliases": []}


def socket_count(gathered):
    return sum(entry["facts"]["netstat"]["established_tuples"]["count"] for entry in gathered.values())
