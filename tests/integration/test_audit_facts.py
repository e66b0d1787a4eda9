# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_facts for real: in one network namespace with tracked loopback connections, its one module run returns the
sections netstat_facts, conntrack_facts and slabinfo_facts return there (all run through ansible, ip netns exec).

Volatile fields are left out of the comparison: the owner scan's figures, and the slab caches' object counts (the
slab caches are the kernel's, shared with every other namespace and process of this machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import needs_root, run_module

PORT = 47161
CONNECTIONS = 4
RULESET = """table inet netdiag_onerun {
  chain input {
    type filter hook input priority 0;
    ct state established accept
  }
}
"""
HOLDER = textwrap.dedent(
    """
    import socket, sys, time
    port, count = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.socket(); listener.bind(("127.0.0.1", port)); listener.listen(16)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    servers = [listener.accept()[0] for _ in range(count)]
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def run(*argv, netns, **kwargs):
    """A command inside the namespace; fails the test when it fails."""
    command = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def namespace():
    name = "onerun-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    holder = None
    try:
        run("ip", "link", "set", "lo", "up", netns=name)
        run("nft", "-f", "-", netns=name, input=RULESET)
        holder = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", HOLDER, str(PORT), str(CONNECTIONS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "ready"
        yield name
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", name], check=False)


def without_owner_scan(netstat):
    """The owner scan's figures (seconds, descriptors, processes) count the machine's processes, ansible's own
    among them: they move between two runs. Its keys stay."""
    netstat = dict(netstat)
    netstat["owner_scan"] = sorted(netstat["owner_scan"])
    return netstat


def slab_shape(slabinfo):
    """What does not move while other processes allocate: availability, format, page size, which caches."""
    shape = {key: value for key, value in slabinfo.items() if key != "caches"}
    shape["caches"] = sorted(slabinfo.get("caches") or {})
    return shape


@needs_root
def test_one_run_returns_what_the_three_modules_return(namespace):
    together = run_module(
        "audit_facts",
        {"ports": [PORT], "max_peers": 0, "tuples": True, "nat_tuples": True, "max_connections": 1000},
        netns=namespace,
        check_mode=True,
    )
    assert together.get("failed") is not True, together
    assert together["changed"] is False
    assert together["failures"] == {"netstat_facts": None, "conntrack_facts": None, "slabinfo_facts": None}
    sections = together["ansible_facts"]["netdiag"]

    netstat = run_module(
        "netstat_facts",
        {"ports": [PORT], "max_peers": 0, "tuples": True, "max_connections": 1000},
        netns=namespace,
        check_mode=True,
    )["ansible_facts"]["netdiag"]
    conntrack = run_module("conntrack_facts", {"ports": [PORT], "nat_tuples": True}, netns=namespace, check_mode=True)[
        "ansible_facts"
    ]["netdiag"]
    slabinfo = run_module("slabinfo_facts", {"proc_root": "/proc"}, netns=namespace, check_mode=True)["ansible_facts"][
        "netdiag"
    ]

    assert without_owner_scan(sections["netstat"]) == without_owner_scan(netstat["netstat"])
    assert sections["netstat"]["established_tuples"]["count"] == 2 * CONNECTIONS  # both ends, this namespace only
    assert sections["keepalive"] == netstat["keepalive"]
    assert sections["conntrack"] == conntrack["conntrack"]
    assert sections["conntrack"]["available"] is True
    assert sections["conntrack"]["state_counts"]["ESTABLISHED"] == CONNECTIONS
    assert slab_shape(sections["slabinfo"]) == slab_shape(slabinfo["slabinfo"])
    assert sections["slabinfo"]["available"] is True
    assert set(sections) == {"netstat", "keepalive", "conntrack", "slabinfo"}
