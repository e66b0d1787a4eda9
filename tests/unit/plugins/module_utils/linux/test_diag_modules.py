# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_diag_modules: would a sock_diag dump make the kernel load a module? Trees built here stand in for /proc,
/sys and /lib/modules (the layout of a Debian 12 host); the collector's use of the answer is tested with the live
kernel's sock_diag."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sock_diag as linux_sock_diag
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.diag_modules import modules_to_load


@pytest.fixture
def roots(tmp_path):
    """(proc, sys, lib/modules) of a kernel with module support and none of the diag modules loaded."""
    proc, sys_root, modules = tmp_path / "proc", tmp_path / "sys", tmp_path / "lib-modules"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "modules").write_text("nf_conntrack 188416 1 - Live 0x0000000000000000\n")
    (proc / "sys" / "kernel" / "modules_disabled").write_text("0\n")
    (sys_root / "module" / "nf_conntrack").mkdir(parents=True)
    (modules / "6.1.0-28-amd64").mkdir(parents=True)
    (modules / "6.1.0-28-amd64" / "modules.builtin").write_text("kernel/net/ipv4/tcp_cubic.ko\n")
    return proc, sys_root, modules


def missing(roots, protocol):
    proc, sys_root, modules = roots
    return modules_to_load(protocol, str(proc), str(sys_root), str(modules), "6.1.0-28-amd64")


def test_every_missing_module_is_named_in_load_order(roots):
    assert missing(roots, "tcp") == ["inet_diag", "tcp_diag"]
    assert missing(roots, "udp") == ["inet_diag", "udp_diag"]


def test_loaded_or_built_in_modules_need_no_load(roots):
    proc, sys_root, modules = roots
    (sys_root / "module" / "inet_diag").mkdir()
    (sys_root / "module" / "tcp_diag").mkdir()
    assert missing(roots, "tcp") == []
    assert missing(roots, "udp") == ["udp_diag"]
    (modules / "6.1.0-28-amd64" / "modules.builtin").write_text("kernel/net/ipv4/udp_diag.ko\n")
    assert missing(roots, "udp") == []


def test_a_kernel_that_cannot_load_modules_loads_nothing(roots):
    proc, _sys_root, _modules = roots
    (proc / "sys" / "kernel" / "modules_disabled").write_text("1\n")
    assert missing(roots, "tcp") == []
    (proc / "modules").unlink()  # CONFIG_MODULES=n
    (proc / "sys" / "kernel" / "modules_disabled").unlink()
    assert missing(roots, "tcp") == []


def test_an_unreadable_builtin_list_counts_as_missing(roots):
    _proc, _sys_root, modules = roots
    (modules / "6.1.0-28-amd64" / "modules.builtin").unlink()
    assert missing(roots, "tcp") == ["inet_diag", "tcp_diag"]


def no_netlink(monkeypatch):
    real = socket.socket

    def guarded(family=socket.AF_INET, *args, **kwargs):
        if family == socket.AF_NETLINK:
            raise AssertionError("a sock_diag request was made although it would load a module")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(linux_sock_diag.socket, "socket", guarded)


def test_collector_reads_proc_rather_than_load_a_module(monkeypatch):
    monkeypatch.setattr(linux_sockets, "modules_to_load", lambda protocol: ["inet_diag", "tcp_diag"])
    no_netlink(monkeypatch)
    netstat, _keepalive = linux_sockets.LinuxNetstatCollector().collect(Selection(), owners=False)
    assert netstat["reader"] == "proc"
    assert netstat["reader_fallback"] == (
        "sock_diag would make the kernel load inet_diag, tcp_diag; read /proc/net instead "
        "(sock_diag_load_modules allows it)"
    )


def test_udp_alone_is_read_from_proc_when_udp_diag_is_missing(monkeypatch):
    monkeypatch.setattr(linux_sockets, "modules_to_load", lambda protocol: ["udp_diag"] if protocol == "udp" else [])
    netstat, _keepalive = linux_sockets.LinuxNetstatCollector().collect(Selection(), owners=False)
    assert netstat["reader"] == "sock_diag"
    assert netstat["sources"][0].startswith("sock_diag tcp")
    assert "/proc/net/udp" in netstat["sources"]
    assert not any(source.startswith("sock_diag udp") for source in netstat["sources"])


@pytest.mark.parametrize("how", [{"load_diag_modules": True}, {"reader": "sock_diag"}])
def test_asking_for_sock_diag_allows_the_load(monkeypatch, how):
    monkeypatch.setattr(linux_sockets, "modules_to_load", lambda protocol: ["inet_diag", "tcp_diag"])
    collector = linux_sockets.LinuxNetstatCollector(reader=how.get("reader", "auto"))
    netstat, _keepalive = collector.collect(
        Selection(), owners=False, load_diag_modules=how.get("load_diag_modules", False)
    )
    assert netstat["reader"] == "sock_diag"
    assert "reader_fallback" not in netstat
