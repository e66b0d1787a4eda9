# SPDX-License-Identifier: GPL-3.0-or-later
"""Rebuild the 2012 incident in network namespaces on this machine and capture it the way a colleague would.

Writes examples/incident-2012/captures/{web01,nat01,app01}/ from REAL commands run inside the namespaces (Linux:
net-tools netstat, sysctl, /proc/net/nf_conntrack, /proc/slabinfo) and from the AIX EMULATION of this repository
(tests/emulation/aix: netstat -Aan, no -a, uname and the incident's rmsock loop, printing the app namespace's real
sockets in the format of real AIX samples), then runs playbooks/analyze.yml on them and keeps the report in
examples/incident-2012/report/. See README.md next to this file.

    sudo .venv/bin/python examples/incident-2012/regenerate.py            # captures and report (needs root)
    .venv/bin/python examples/incident-2012/regenerate.py --report-only   # the report from the captures as they are

Topology (addresses from 198.51.100.0/24, documentation space, only inside the namespaces):

    web01 198.51.100.10 --- 198.51.100.1 [nat01, SNAT] 198.51.100.129 --- 198.51.100.140 app01 :5555 (AIX, emulated)

web01 opens 240 connections to app01:5555 without keepalive. Then the NAT stops forwarding to app01 (it "forgot"
them) and web01 closes 205: web01 holds 35 ESTABLISHED, app01 still 240 - the incident's 30-40 against 200+. nat01
keeps the kernel's default conntrack ESTABLISHED timeout (432000 s), as in 2012.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CAPTURES = HERE / "captures"
REPORT = HERE / "report"
EMULATION = REPO / "tests" / "emulation" / "aix" / "root" / "usr" / "local" / "lib" / "netdiag-emulation"
OPENED, CLOSED, PORT = 240, 205, 5555
WEB, NAT_INSIDE, NAT_OUTSIDE, APP = "198.51.100.10", "198.51.100.1", "198.51.100.129", "198.51.100.140"

SERVER = r"""
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(512)
print("listening", flush=True)
held = []
server.settimeout(0.5)
while True:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        if len(held) >= int(sys.argv[3]):
            print("accepted", flush=True)
            sys.stdin.readline()
            break
"""

CLIENT = r"""
import socket, sys
address, port, opened, closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
clients = [socket.create_connection((address, port), timeout=5) for _ in range(opened)]
print("connected", flush=True)
sys.stdin.readline()
for client in clients[:closed]:
    client.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def run(*command, **options):
    return subprocess.run(command, check=True, capture_output=True, text=True, **options)


def in_netns(namespace, *command):
    return run("ip", "netns", "exec", namespace, *command).stdout


def emulated_aix(namespace, command, *arguments):
    """An emulated AIX command (EMULATION) inside the namespace. Its bookkeeping under /var/lib/netdiag-emulation
    goes to a tmpfs in a private mount namespace, so this machine's /var/lib is left alone."""
    script = "mount -t tmpfs tmpfs /var/lib && exec ip netns exec %s %s %s %s" % (
        namespace,
        sys.executable,
        EMULATION / (command + ".py"),
        " ".join(arguments),
    )
    return run("unshare", "--mount", "--propagation", "private", "sh", "-c", script).stdout


def start(namespace, script, *arguments):
    return subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", script, *map(str, arguments)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def expect(process, word):
    line = process.stdout.readline().strip()
    if line != word:
        raise RuntimeError("expected %r from a helper process, got %r" % (word, line))


def topology(suffix):
    names = {host: "ndx-%s-%s" % (host, suffix) for host in ("web01", "nat01", "app01")}
    for namespace in names.values():
        run("ip", "netns", "add", namespace)
        run("ip", "-n", namespace, "link", "set", "lo", "up")
    links = (("web01", WEB, "nat01", NAT_INSIDE, "w"), ("app01", APP, "nat01", NAT_OUTSIDE, "a"))
    for host, address, router, router_address, letter in links:
        inside, outside = "%si%s" % (letter, suffix), "%so%s" % (letter, suffix)
        run("ip", "link", "add", inside, "netns", names[host], "type", "veth", "peer", outside, "netns", names[router])
        run("ip", "-n", names[host], "addr", "add", address + "/25", "dev", inside)
        run("ip", "-n", names[router], "addr", "add", router_address + "/25", "dev", outside)
        run("ip", "-n", names[host], "link", "set", inside, "up")
        run("ip", "-n", names[router], "link", "set", outside, "up")
    run("ip", "-n", names["web01"], "route", "add", "default", "via", NAT_INSIDE)
    in_netns(names["nat01"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
    in_netns(
        names["nat01"],
        "nft",
        "add table ip ndx_nat; add chain ip ndx_nat post { type nat hook postrouting priority 100; }; "
        'add rule ip ndx_nat post oifname "ao%s" snat to %s' % (suffix, NAT_OUTSIDE),
    )
    return names


def capture(names, folder):
    web, nat, app = (folder / host for host in ("web01", "nat01", "app01"))
    for path in (web, nat, app):
        path.mkdir(parents=True)
    # web01 (Linux): what the runbook asks for.
    (web / "netstat-an.txt").write_text(in_netns(names["web01"], "netstat", "-tanpo"))
    (web / "sysctl.txt").write_text(in_netns(names["web01"], "sysctl", "net.netfilter", "net.ipv4"))
    (web / "slabinfo.txt").write_text(run("sh", "-c", "grep conn /proc/slabinfo || true").stdout)
    (web / "host.yml").write_text(
        "# The SNAT address nat01 gives web01's connections (app01 sees this address, not web01's).\n"
        "netdiag_addresses: [%s]\nansible_host: %s\n" % (NAT_OUTSIDE, WEB)
    )
    # nat01 (Linux): its conntrack table with a command that works on old and new kernels alike.
    table = "{ cat /proc/net/nf_conntrack 2>/dev/null || cat /proc/net/ip_conntrack; }"
    (nat / "conntrack.txt").write_text(in_netns(names["nat01"], "sh", "-c", table))
    (nat / "sysctl.txt").write_text(in_netns(names["nat01"], "sysctl", "net.netfilter", "net.ipv4"))
    (nat / "netstat-an.txt").write_text(in_netns(names["nat01"], "netstat", "-tanpo"))
    (nat / "slabinfo.txt").write_text(run("sh", "-c", "grep conn /proc/slabinfo || true").stdout)
    (nat / "host.yml").write_text("ansible_host: %s\n" % NAT_INSIDE)
    # app01 (AIX, EMULATED): netstat -Aan, no -a, uname -s, and the incident's rmsock loop over port 5555.
    netstat = emulated_aix(names["app01"], "aix_netstat", "-Aan")
    (app / "netstat-Aan.txt").write_text(netstat)
    (app / "no-a.txt").write_text(emulated_aix(names["app01"], "aix_no", "-a"))
    (app / "uname.txt").write_text(emulated_aix(names["app01"], "aix_uname", "-s"))
    pcbs = [line.split()[0] for line in netstat.splitlines() if (".%d " % PORT) in line]
    loop = "; ".join("%s %s %s tcpcb" % (sys.executable, EMULATION / "aix_rmsock.py", pcb) for pcb in pcbs)
    script = "mount -t tmpfs tmpfs /var/lib && exec ip netns exec %s sh -c '%s'" % (names["app01"], loop)
    (app / "rmsock.txt").write_text(run("unshare", "--mount", "--propagation", "private", "sh", "-c", script).stdout)
    (app / "host.yml").write_text("ansible_host: %s\n" % APP)


def make_captures():
    if os.geteuid() != 0:
        sys.exit("regenerate.py: the captures need root (network namespaces); --report-only needs none")
    suffix = uuid.uuid4().hex[:5]
    processes = []
    names = {}
    try:
        names = topology(suffix)
        server = start(names["app01"], SERVER, APP, PORT, OPENED)
        processes.append(server)
        expect(server, "listening")
        client = start(names["web01"], CLIENT, APP, PORT, OPENED, CLOSED)
        processes.append(client)
        expect(client, "connected")
        expect(server, "accepted")
        # The NAT forgets the connections: nothing web01 sends reaches app01 any more, so its FINs are lost.
        in_netns(
            names["nat01"],
            "nft",
            "add table inet ndx_lost; add chain inet ndx_lost forward "
            "{ type filter hook forward priority 0; ip daddr %s drop; }" % APP,
        )
        client.stdin.write("close\n")
        client.stdin.flush()
        expect(client, "closed")
        with tempfile.TemporaryDirectory() as scratch:
            fresh = pathlib.Path(scratch) / "captures"
            capture(names, fresh)
            if CAPTURES.exists():
                shutil.rmtree(CAPTURES)
            shutil.copytree(fresh, CAPTURES)
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        for namespace in names.values():
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


def make_report():
    with tempfile.TemporaryDirectory() as scratch:
        completed = subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "ansible-playbook"),
                "playbooks/analyze.yml",
                "-e",
                "capture_dir=%s" % CAPTURES,
                "-e",
                "netdiag_report_dir=%s" % (pathlib.Path(scratch) / "reports"),
                "-e",
                json.dumps({"netdiag_audit_ports": [PORT]}),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            sys.exit("analyze.yml failed:\n" + completed.stdout[-3000:] + completed.stderr[-2000:])
        REPORT.mkdir(exist_ok=True)
        for suffix in ("json", "md", "html"):
            shutil.copyfile(
                pathlib.Path(scratch) / "reports" / ("audit-latest." + suffix), REPORT / ("audit." + suffix)
            )
            (REPORT / ("audit." + suffix)).chmod(0o644)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report from the captures")
    arguments = parser.parse_args()
    if not arguments.report_only:
        make_captures()
    make_report()
    print("captures: %s\nreport: %s" % (CAPTURES, REPORT))


if __name__ == "__main__":
    main()
