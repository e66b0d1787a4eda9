# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_facts against one fake /proc and / tree (tmp_path): the same sections as netstat_facts, conntrack_facts and
slabinfo_facts on that tree, one part failing without losing the others, bad options failing before any read.

The trees are synthetic; the socket tables, conntrack table, statistics and slabinfo files in them are the real
captures under tests/unit/fixtures (SOURCES.md).
"""

from __future__ import annotations

import struct

import pytest
from ansible.module_utils import basic

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_conntrack as conntrack_collector
from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_slabinfo as slabinfo_collector
from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_sockets, platforms
from ansible_collections.netdiag.tcp.plugins.modules import audit_facts, conntrack_facts, netstat_facts, slabinfo_facts

TABLES = {
    "tcp": "proc-net-tcp-2.txt",
    "tcp6": "proc-net-tcp6-1.txt",
    "udp": "proc-net-udp-1.txt",
    "udp6": "proc-net-udp6-1.txt",
}


@pytest.fixture
def tree(tmp_path, fixture_text):
    """(proc, config): a /proc with sockets, keepalive sysctls, conntrack (table, stats) and slabinfo; a / with an
    empty sysctl configuration."""
    proc = tmp_path / "proc"
    (proc / "net/stat").mkdir(parents=True)
    for name, fixture in TABLES.items():
        (proc / "net" / name).write_text(fixture_text("linux/" + fixture))
    sysctls = proc / "sys/net/ipv4"
    sysctls.mkdir(parents=True)
    for name, value in (("time", "600"), ("intvl", "30"), ("probes", "5")):
        (sysctls / ("tcp_keepalive_" + name)).write_text(value + "\n")
    conntrack = proc / "sys/net/netfilter"
    conntrack.mkdir(parents=True)
    for name, value in (("count", 8), ("max", 262144), ("buckets", 65536), ("tcp_timeout_established", 432000)):
        (conntrack / ("nf_conntrack_" + name)).write_text("%d\n" % value)
    (proc / "net/nf_conntrack").write_text(fixture_text("linux/proc-net-nf_conntrack-2.txt"))
    (proc / "net/stat/nf_conntrack").write_text(fixture_text("linux/proc-net-stat-nf_conntrack-2.txt"))
    (proc / "slabinfo").write_text(fixture_text("linux/slabinfo-2.1-1.txt"))
    config = tmp_path / "config"
    (config / "etc/sysctl.d").mkdir(parents=True)
    return proc, config


@pytest.fixture
def on_tree(tree, monkeypatch):
    """Every collector reads the fake tree instead of the live /proc; platform.system() says Linux."""
    proc, config = tree
    monkeypatch.setattr(audit_facts.platform, "system", lambda: "Linux")
    monkeypatch.setitem(
        platforms.COLLECTORS, "Linux", lambda: lambda: linux_sockets.LinuxNetstatCollector(proc_root=str(proc))
    )
    monkeypatch.setitem(
        slabinfo_collector.COLLECTORS,
        "Linux",
        lambda names=None, proc_root="/proc": slabinfo_collector.LinuxSlabinfo(names, str(proc)),
    )
    real_conntrack_params = audit_facts.conntrack_params
    monkeypatch.setattr(
        audit_facts,
        "conntrack_params",
        lambda params: {**real_conntrack_params(params), "proc_root": str(proc), "config_root": str(config)},
    )
    return proc, config


@pytest.fixture
def no_conntrack_binary(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: None)


AUDIT_ARGS = {"ports": [5555], "max_peers": 0, "tuples": True, "nat_tuples": True, "max_connections": 1000}


def without_timings(netstat):
    netstat = dict(netstat)
    netstat.pop("owner_scan", None)
    return netstat


def test_same_sections_as_the_three_modules(on_tree, no_conntrack_binary, call_main):
    proc, config = on_tree
    outcome = call_main(audit_facts.main, dict(AUDIT_ARGS, _ansible_check_mode=True))
    assert outcome.failed is False, outcome.result
    assert outcome.result["changed"] is False
    assert outcome.result["failures"] == {"netstat_facts": None, "conntrack_facts": None, "slabinfo_facts": None}
    together = outcome.result["ansible_facts"]["netdiag"]
    assert set(together) == {"netstat", "keepalive", "conntrack", "slabinfo"}

    netstat = call_main(
        netstat_facts.main,
        {"ports": [5555], "max_peers": 0, "tuples": True, "max_connections": 1000, "_ansible_check_mode": True},
    ).result["ansible_facts"]["netdiag"]
    conntrack = call_main(
        conntrack_facts.main,
        {"ports": [5555], "nat_tuples": True, "proc_root": str(proc), "config_root": str(config)},
    ).result["ansible_facts"]["netdiag"]
    slabinfo = call_main(slabinfo_facts.main, {"proc_root": str(proc)}).result["ansible_facts"]["netdiag"]

    assert without_timings(together["netstat"]) == without_timings(netstat["netstat"])
    assert together["netstat"]["established_tuples"]["count"] > 0  # the comparison covers real rows
    assert together["keepalive"] == netstat["keepalive"]
    assert together["conntrack"] == conntrack["conntrack"]
    assert together["conntrack"]["entries_parsed"] > 0
    assert "nat_tuples" in together["conntrack"]
    assert together["slabinfo"] == slabinfo["slabinfo"]
    assert together["slabinfo"]["available"] is True


def test_conntrack_failing_keeps_netstat_and_slabinfo(on_tree, no_conntrack_binary, call_main):
    proc, config = on_tree
    (proc / "net/stat/nf_conntrack").write_text("this is not a conntrack statistics table\n1 2 3\n")
    outcome = call_main(audit_facts.main, dict(AUDIT_ARGS))
    assert outcome.failed is False, outcome.result
    failures = outcome.result["failures"]
    assert failures["conntrack_facts"].startswith("/proc/net/stat/nf_conntrack: ")
    assert (failures["netstat_facts"], failures["slabinfo_facts"]) == (None, None)
    netdiag = outcome.result["ansible_facts"]["netdiag"]
    assert "conntrack" not in netdiag
    assert netdiag["netstat"]["selected_sockets"] > 0
    assert netdiag["keepalive"]["time"] == 600
    assert netdiag["slabinfo"]["available"] is True

    # The message is the one conntrack_facts fails with on the same tree.
    alone = call_main(conntrack_facts.main, {"proc_root": str(proc), "config_root": str(config), "ports": [5555]})
    assert alone.failed is True
    assert alone.result["msg"] == failures["conntrack_facts"]


def test_netstat_and_slabinfo_failing_keep_conntrack(on_tree, no_conntrack_binary, call_main, monkeypatch):
    proc, _config = on_tree
    (proc / "slabinfo").write_text("slabinfo - version: 2.1\nnot a cache line\n")

    class Broken(linux_sockets.LinuxNetstatCollector):
        def collect(self, *args, **kwargs):
            raise OSError(5, "Input/output error")

    monkeypatch.setitem(platforms.COLLECTORS, "Linux", lambda: lambda: Broken(proc_root=str(proc)))
    outcome = call_main(audit_facts.main, dict(AUDIT_ARGS))
    assert outcome.failed is False, outcome.result
    failures = outcome.result["failures"]
    assert failures["netstat_facts"] == "netstat_facts: could not read the socket tables: [Errno 5] Input/output error"
    assert failures["slabinfo_facts"].startswith("/proc/slabinfo: ")
    assert failures["conntrack_facts"] is None
    netdiag = outcome.result["ansible_facts"]["netdiag"]
    assert set(netdiag) == {"conntrack"}
    assert netdiag["conntrack"]["available"] is True


def test_an_unforeseen_error_in_one_part_keeps_the_others(on_tree, no_conntrack_binary, call_main, monkeypatch):
    """A bug or an unseen kernel answer in one part (here a struct.error, which no reader expects) is that part's
    failure; the other parts are still returned and the module run succeeds."""

    class Unforeseen(linux_sockets.LinuxNetstatCollector):
        def collect(self, *args, **kwargs):
            raise struct.error("unpack_from requires a buffer of at least 20 bytes")

    proc, _config = on_tree
    monkeypatch.setitem(platforms.COLLECTORS, "Linux", lambda: lambda: Unforeseen(proc_root=str(proc)))
    outcome = call_main(audit_facts.main, dict(AUDIT_ARGS))
    assert outcome.failed is False, outcome.result
    assert outcome.result["failures"] == {
        "netstat_facts": "netstat_facts: unexpected struct.error: unpack_from requires a buffer of at least 20 bytes",
        "conntrack_facts": None,
        "slabinfo_facts": None,
    }
    assert set(outcome.result["ansible_facts"]["netdiag"]) == {"conntrack", "slabinfo"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"ports": [70000]}, "audit_facts: ports: 70000 is not a port number"),
        ({"peers": ["10.0.0.0/33"]}, "audit_facts: peers: '10.0.0.0/33' is not an IP address or CIDR network"),
        ({"max_connections": -1}, "audit_facts: max_connections: -1 is negative"),
        ({"command_timeout": -1}, "audit_facts: command_timeout: -1.0 is negative"),
        ({"max_nat_tuples": -1}, "audit_facts: max_nat_tuples: -1 is not a number >= 0"),
        ({"aix_rmsock": True}, "Unsupported parameters"),
        ({"sunos_pfiles": True}, "Unsupported parameters"),
        ({"sock_diag_load_modules": True}, "Unsupported parameters"),  # the audit never loads kernel modules
    ],
)
def test_bad_option_fails_before_reading(args, message, monkeypatch, call_main):
    def must_not_run(*_args, **_kwargs):
        raise AssertionError("a collector ran despite invalid options")

    monkeypatch.setattr(audit_facts.platform, "system", lambda: "Linux")
    monkeypatch.setitem(platforms.COLLECTORS, "Linux", must_not_run)
    monkeypatch.setitem(conntrack_collector.COLLECTORS, "Linux", must_not_run)
    monkeypatch.setitem(slabinfo_collector.COLLECTORS, "Linux", must_not_run)
    outcome = call_main(audit_facts.main, args)
    assert outcome.failed is True
    assert message in outcome.result["msg"]


def test_not_linux_reports_conntrack_and_slabinfo_unavailable(monkeypatch, call_main):
    monkeypatch.setattr(audit_facts.platform, "system", lambda: "HP-UX")
    outcome = call_main(audit_facts.main, {})
    assert outcome.failed is False, outcome.result
    assert outcome.result["failures"]["netstat_facts"].startswith("netstat_facts: platform HP-UX is not supported")
    netdiag = outcome.result["ansible_facts"]["netdiag"]
    assert netdiag["conntrack"]["available"] is False
    assert netdiag["slabinfo"] == {
        "available": False,
        "reason": "/proc/slabinfo exists only on Linux; this host runs HP-UX",
    }
