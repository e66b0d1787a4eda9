# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts and its Linux collector against a fake /proc tree.

The tree is built here: net/{tcp,tcp6,udp,udp6} are the tables captured on this machine (see SOURCES.md),
sys/net/ipv4/tcp_keepalive_* and <pid>/{comm,fd/N -> socket:[inode]} copy the kernel's layout.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import socket_owners as linux_socket_owners
from ansible_collections.netdiag.tcp.plugins.modules import netstat_facts

TABLES = {
    "tcp": "proc-net-tcp-2.txt",
    "tcp6": "proc-net-tcp6-1.txt",
    "udp": "proc-net-udp-1.txt",
    "udp6": "proc-net-udp6-1.txt",
}
# Sockets with an inode in the captured tables: 11 tcp (2 TIME_WAIT/FIN_WAIT_2 have none), 10 tcp6, 2 udp, 1 udp6.
SOCKETS_WITH_INODE = 24


def add_process(proc, pid, comm, inodes):
    fd = proc / str(pid) / "fd"
    fd.mkdir(parents=True)
    (proc / str(pid) / "comm").write_text(comm + "\n")
    os.symlink("/dev/null", str(fd / "0"))
    os.symlink("pipe:[999]", str(fd / "1"))
    for number, inode in enumerate(inodes, start=3):
        os.symlink("socket:[%d]" % inode, str(fd / str(number)))


@pytest.fixture
def proc(tmp_path, fixture_text):
    root = tmp_path / "proc"
    (root / "net").mkdir(parents=True)
    for name, fixture in TABLES.items():
        (root / "net" / name).write_text(fixture_text("linux/" + fixture))
    sysctls = root / "sys" / "net" / "ipv4"
    sysctls.mkdir(parents=True)
    for name, value in (("time", "600"), ("intvl", "30"), ("probes", "5")):
        (sysctls / ("tcp_keepalive_" + name)).write_text(value + "\n")
    add_process(root, 20407, "python3", [25000, 25001, 25007])
    add_process(root, 1, "process_api", [1137])
    (root / "self").mkdir()  # not a pid directory: ignored
    return root


def collect(proc, **options):
    options.setdefault("selection", Selection())
    return linux_sockets.LinuxNetstatCollector(proc_root=str(proc), byteorder="little").collect(**options)


def test_collector_maps_owners_and_counts_unmapped(proc):
    netstat, keepalive = collect(proc)
    assert keepalive == {"time": 600, "intvl": 30, "probes": 5, "source": str(proc / "sys/net/ipv4")}
    scan = netstat["owner_scan"]
    assert {key: scan[key] for key in ("processes", "unreadable_processes", "scanned_processes")} == {
        "processes": 2,
        "unreadable_processes": 0,
        "scanned_processes": 2,
    }
    assert scan["descriptors"] == 8  # 0, 1 and the sockets of both processes
    assert scan["stopped_short"] is False
    assert netstat["reader"] == "proc"  # a /proc tree other than the live one is read as text
    assert netstat["unmapped_sockets"] == SOCKETS_WITH_INODE - 4
    listeners = {(e["protocol"], e["local_port"]): (e.get("pid"), e.get("process")) for e in netstat["listeners"]}
    assert listeners[("tcp", 5555)] == (20407, "python3")
    assert listeners[("tcp", 8080)] == (20407, "python3")
    assert listeners[("tcp", 2024)] == (1, "process_api")
    assert listeners[("tcp", 6000)] == (None, None)
    assert netstat["sources"] == [str(proc / "net" / name) for name in ("tcp", "tcp6", "udp", "udp6")]
    assert netstat["platform"] == "Linux"
    assert netstat["total_sockets"] == 26
    assert netstat["established_by_peer"][0] == {
        "direction": "inbound",
        "service_port": 5555,
        "peer": "127.0.0.2",
        "count": 3,
        "without_keepalive": 3,
    }


def test_collector_counts_unreadable_processes(proc, monkeypatch):
    real_open = os.open

    def open_directory(path, flags, *args, **kwargs):
        # Opening another user's /proc/<pid>/fd without root fails with EACCES.
        if str(path).endswith("/20407/fd"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(linux_socket_owners.os, "open", open_directory)
    netstat, _owner_scan = collect(proc)
    assert netstat["owner_scan"]["processes"] == 2
    assert netstat["owner_scan"]["unreadable_processes"] == 1
    assert netstat["unmapped_sockets"] == SOCKETS_WITH_INODE - 1


def test_owner_scan_stops_at_its_budget(proc):
    # A clock that jumps 5 s per reading: the budget of 6 s is spent after the first process.
    ticks = iter(range(0, 1000, 5))
    owners, scan = linux_socket_owners.scan_socket_owners(
        str(proc), budget_seconds=6, clock=lambda: next(ticks), workers=1
    )
    assert scan["stopped_short"] is True
    assert scan["processes"] == 2
    assert scan["scanned_processes"] == 1
    assert set(owners) == {25000, 25001, 25007}  # the highest pid is scanned first, pid 1 was not reached
    owners, scan = linux_socket_owners.scan_socket_owners(str(proc), budget_seconds=None)
    assert scan["stopped_short"] is False
    assert set(owners) == {1137, 25000, 25001, 25007}


def test_collector_without_owner_scan(proc):
    netstat, _owner_scan = collect(proc, owners=False)
    assert "unmapped_sockets" not in netstat
    assert "owner_scan" not in netstat
    assert all("pid" not in entry for entry in netstat["listeners"])


def test_collector_protocols_and_families(proc):
    netstat, _owner_scan = collect(proc, protocols=("udp",))
    assert netstat["protocol_counts"] == {"tcp": 0, "udp": 3}
    assert netstat["sources"] == [str(proc / "net/udp"), str(proc / "net/udp6")]
    netstat, _owner_scan = collect(proc, families=("inet6",))
    assert {c["family"] for c in netstat["connections"]} == {"inet6"}
    assert str(proc / "net/tcp") not in netstat["sources"]
    # IPv4-mapped connections of the dual-stack listener live in tcp6 but are inet.
    netstat, _owner_scan = collect(proc, families=("inet",))
    assert str(proc / "net/tcp6") in netstat["sources"]
    assert {c["family"] for c in netstat["connections"]} == {"inet"}
    assert {"direction": "inbound", "service_port": 8080, "peer": "127.0.0.1", "count": 2, "without_keepalive": 2} in (
        netstat["established_by_peer"]
    )


def test_collector_missing_ipv6_tables(proc):
    (proc / "net" / "tcp6").unlink()
    (proc / "net" / "udp6").unlink()
    netstat, _owner_scan = collect(proc)
    assert netstat["sources"] == [str(proc / "net/tcp"), str(proc / "net/udp")]


def test_collector_reads_listeners_first(proc):
    # ::1:6000 listens in tcp6, after the IPv4 table's sockets: the leading LISTEN rows of every tcp table are read
    # before the stream, so both ends of the ::1 -> ::1:6000 connection get their direction from the listener.
    netstat, _owner_scan = collect(proc, selection=Selection(ports=[6000]))
    assert [(e["direction"], e["service_port"]) for e in netstat["established_by_peer"]] == [
        ("inbound", 6000),
        ("outbound", 6000),
    ]


@pytest.fixture
def run_module(call_main):
    def run_netstat_facts(args, monkeypatch, proc=None, system="Linux"):
        monkeypatch.setattr(netstat_facts.platform, "system", lambda: system)
        if proc is not None:
            monkeypatch.setitem(
                netstat_facts.COLLECTORS,
                "Linux",
                lambda: lambda: linux_sockets.LinuxNetstatCollector(proc_root=str(proc)),
            )
        return call_main(netstat_facts.main, args)

    return run_netstat_facts


def test_module_returns_facts(proc, monkeypatch, run_module):
    outcome = run_module({"ports": [5555], "max_connections": 2}, monkeypatch, proc)
    assert outcome.failed is False
    assert outcome.result["changed"] is False
    netdiag = outcome.result["ansible_facts"]["netdiag"]
    assert set(netdiag) == {"netstat", "keepalive"}
    assert netdiag["keepalive"]["time"] == 600
    assert netdiag["netstat"]["truncated"] is True
    assert len(netdiag["netstat"]["connections"]) == 2
    assert [(e["direction"], e["peer"], e["count"]) for e in netdiag["netstat"]["established_by_peer"]] == [
        ("inbound", "127.0.0.2", 3),
        ("outbound", "127.0.0.1", 3),
    ]


def test_module_check_mode_is_the_same(proc, monkeypatch, run_module):
    outcome = run_module({"_ansible_check_mode": True, "ports": [5555]}, monkeypatch, proc)
    assert outcome.failed is False
    assert outcome.result["ansible_facts"]["netdiag"]["netstat"]["selected_sockets"] == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"states": ["ESTAB"]}, "states: ESTAB not a TCP state"),
        ({"ports": [70000]}, "ports: 70000 is not a port number"),
        ({"peers": ["10.0.0.0/33"]}, "peers: '10.0.0.0/33' is not an IP address or CIDR network"),
        ({"max_connections": -1}, "max_connections: -1 is negative"),
        ({"protocols": []}, "protocols: give at least one"),
        ({"protocols": ["sctp"]}, "value of protocols must be one or more of: tcp, udp"),
    ],
)
def test_module_invalid_options_fail_before_reading(args, message, monkeypatch, call_main):
    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the collector ran despite invalid options")

    monkeypatch.setitem(netstat_facts.COLLECTORS, "Linux", must_not_run)
    monkeypatch.setattr(netstat_facts.platform, "system", lambda: "Linux")
    outcome = call_main(netstat_facts.main, args)
    assert outcome.failed is True
    assert message in outcome.result["msg"]


@pytest.mark.parametrize("system", ["Darwin", "HP-UX"])
def test_module_other_platforms_not_supported_yet(system, monkeypatch, run_module):
    outcome = run_module({}, monkeypatch, system=system)
    assert outcome.failed is True
    assert outcome.result["msg"].startswith("netstat_facts: platform %s is not supported yet (supported: " % system)
    assert "AIX" in outcome.result["msg"] and "SunOS" in outcome.result["msg"] and "Linux" in outcome.result["msg"]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_owner_of_a_shared_socket_is_the_lowest_pid(proc, workers):
    add_process(proc, 30000, "forked_child", [25000, 26000])
    add_process(proc, 15, "other", [26000, 27000])
    owners, scan = linux_socket_owners.scan_socket_owners(str(proc), workers=workers)
    assert owners[26000][:2] == (15, "other")
    assert owners[27000][:2] == (15, "other")
    assert scan["processes"] == 4
    assert scan["descriptors"] == 5 + 3 + 4 + 4  # 0 and 1 of each process, and its sockets
    assert owners[25000] == (20407, "python3", owners[25000][2])
    assert owners[1137][:2] == (1, "process_api")


@pytest.mark.parametrize("load, reader", [(None, "proc"), (False, "proc"), (True, "sock_diag")])
def test_sock_diag_load_modules_decides_whether_a_missing_diag_module_may_be_loaded(
    monkeypatch, run_module, load, reader
):
    """The live host's tables, with the kernel said to lack tcp_diag: by default the module reads /proc rather than
    make the kernel load it; sock_diag_load_modules: true lets it."""
    monkeypatch.setattr(linux_sockets, "modules_to_load", lambda protocol: ["tcp_diag"] if protocol == "tcp" else [])
    args = {"owners": False} if load is None else {"owners": False, "sock_diag_load_modules": load}
    outcome = run_module(args, monkeypatch)
    assert outcome.failed is False, outcome.result
    netstat = outcome.result["ansible_facts"]["netdiag"]["netstat"]
    assert netstat["reader"] == reader
    if reader == "proc":
        assert "would make the kernel load tcp_diag" in netstat["reader_fallback"]
