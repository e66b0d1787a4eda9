# SPDX-License-Identifier: GPL-3.0-or-later
"""Linux socket-table collector: the sockets of the current network namespace, read through sock_diag netlink
(linux_sock_diag, what ``ss`` uses) or, where the kernel or a sandbox refuses that, from /proc/net/{tcp,tcp6,udp,
udp6} (linux_proc_net_tcp). Both give the same facts; ``reader`` in the result says which one was used.

No dependency on net-tools or iproute2 (works in minimal containers). Both interfaces show the namespace the module
runs in (``ip netns exec NS ...`` shows that namespace's sockets).
"""

from __future__ import annotations

import os
import sys
import threading

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.base import NetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.prefetch import child_read_ahead
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import Summary
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sock_diag as linux_sock_diag
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.diag_modules import modules_to_load
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.keepalive import read_keepalive_settings
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.socket_owners import (
    DEFAULT_BUDGET_SECONDS,
    scan_socket_owners,
    user_name,
)

# (file under /proc/net, protocol, family of the table). tcp6/udp6 also hold IPv4 connections of dual-stack
# sockets (IPv4-mapped addresses), which are reported as inet, so they are read whenever inet is asked for.
TABLES = (("tcp", "tcp", "inet"), ("tcp6", "tcp", "inet6"), ("udp", "udp", "inet"), ("udp6", "udp", "inet6"))
READERS = ("auto", "sock_diag", "proc")


class LinuxNetstatCollector(NetstatCollector):
    platform = "Linux"
    takes_bounds = True  # collect() takes owner_budget and limits (see netstat_facts)

    def __init__(self, proc_root="/proc", byteorder=sys.byteorder, reader="auto"):
        """reader: "auto" (sock_diag, /proc where it is refused), "sock_diag" or "proc" (tests compare the two).
        A proc_root other than /proc, or overridden data hooks, mean a captured or synthetic tree: it is read as
        text whatever the reader (reads_this_kernel)."""
        if reader not in READERS:
            raise ValueError("reader must be one of %s, not %r" % (", ".join(READERS), reader))
        self.proc_root = proc_root
        self.byteorder = byteorder
        self.reader = reader

    def tables(self, protocols, families):
        """Paths of the tables worth reading for these protocols and families."""
        wanted = []
        for name, protocol, family in TABLES:
            if protocol not in protocols:
                continue
            if family == "inet" and "inet" not in families:
                continue
            wanted.append((os.path.join(self.proc_root, "net", name), protocol))
        return wanted

    def collect(
        self,
        selection,
        max_connections=1000,
        protocols=("tcp", "udp"),
        families=("inet", "inet6"),
        owners=True,
        tuples=False,
        max_tuples=None,
        owner_budget=DEFAULT_BUDGET_SECONDS,
        limits=None,
        load_diag_modules=False,
    ):
        """limits: the result caps of socket_records.Summary (max_peers, max_listeners), None for none; tuples,
        max_tuples: the compact ESTABLISHED tuples (socket_records.EstablishedTuples). load_diag_modules: use
        sock_diag even where that makes the kernel load its diag modules (see linux_diag_modules); always so with
        reader="sock_diag"."""
        scan = _BackgroundScan(self.scan_owners, owner_budget) if owners else None
        limits = dict(limits or {}, tuples=tuples, max_tuples=max_tuples)
        summary = None
        used = "sock_diag"
        fallback_reason = None
        if self.reader != "proc" and self.reads_this_kernel():
            try:
                summary, sources = self._collect_sock_diag(
                    selection, max_connections, protocols, families, scan, limits, load_diag_modules
                )
            except linux_sock_diag.SockDiagUnavailableError as error:
                if self.reader == "sock_diag":
                    raise
                fallback_reason = str(error)
        if summary is None:
            used = "proc"
            summary, sources = self._collect_proc(selection, max_connections, protocols, families, scan, limits)
        netstat = summary.result()
        netstat["platform"] = self.platform
        netstat["reader"] = used
        netstat["sources"] = sources
        if fallback_reason is not None:
            netstat["reader_fallback"] = fallback_reason
        if scan is not None and scan.result()[1] is not None:
            netstat["owner_scan"] = scan.result()[1]
        return netstat, self.keepalive()

    def _collect_sock_diag(self, selection, max_connections, protocols, families, scan, limits, load_modules):
        """(summary, sources) through sock_diag; SockDiagUnavailableError before anything is counted when TCP is
        refused, or would need a kernel module loaded (unless load_modules). UDP alone refused or needing udp_diag
        loaded is read from /proc/net/udp* instead.

        While the owner scan runs in its threads, the dumps are received whole (about 24 MB for 192,000 sockets):
        the kernel fills them while the scan waits for readlink, and counting needs the owners anyway. Without
        the scan a child process receives the TCP dump while this one counts what has arrived (memory stays at
        the pipe's 1 MB). The first datagram of each dump is received before anything is counted, so a refused
        dump changes nothing."""
        load_modules = load_modules or self.reader == "sock_diag"
        missing = [] if load_modules or "tcp" not in protocols else modules_to_load("tcp")
        if missing:
            raise linux_sock_diag.SockDiagUnavailableError(
                "sock_diag would make the kernel load %s; read /proc/net instead (sock_diag_load_modules allows it)"
                % ", ".join(missing)
            )
        listening, listener_uids = set(), {}
        if "tcp" in protocols:
            listening, listener_uids = linux_sock_diag.listening_ports(families)
        dumps = []
        for protocol in ("tcp", "udp"):
            if protocol not in protocols:
                continue
            received = []
            try:
                if protocol == "udp" and not load_modules and modules_to_load("udp"):
                    raise linux_sock_diag.SockDiagUnavailableError("udp_diag is not loaded")
                if protocol == "tcp" and listening and set(families) >= {"inet", "inet6"}:
                    # One walk of the kernel's tables for both families (where the column-wise path applies);
                    # a kernel that refuses the v1 request gets one dump per family below.
                    try:
                        datagrams = linux_sock_diag.dump_tcp_both_families()
                        received.append(("tcp", "inet+inet6", self._received(datagrams, scan, read_ahead=True)))
                    except linux_sock_diag.SockDiagUnavailableError:
                        received = []
                if not received:
                    for name, family in linux_sock_diag.dump_families(families):
                        datagrams = linux_sock_diag.dump(family, linux_sock_diag.PROTOCOLS[protocol])
                        received.append((protocol, name, self._received(datagrams, scan, protocol == "tcp")))
            except linux_sock_diag.SockDiagUnavailableError:
                if protocol == "tcp":
                    raise
                received = [("udp", None, None)]  # read from /proc below
            dumps.extend(received)
        owner_map = scan.result()[0] if scan is not None else {}
        summary = Summary(selection, max_connections, listening, owners_mapped=scan is not None, **limits)
        reader = linux_sock_diag.DiagReader(summary, owner_map, self.user_name, families)
        reader.listener_uids = listener_uids
        sources = []
        while dumps:
            protocol, name, datagrams = dumps.pop(0)  # no reference left: memory back once a dump is counted
            if datagrams is None:
                for path, table_protocol in self.tables(("udp",), families):
                    if self.table_exists(path):
                        self.read_table(path, table_protocol, summary, owner_map, families)
                        sources.append(path)
                continue
            reader.read(datagrams, protocol, both_families=name == "inet+inet6")
            datagrams = None
            sources.append("sock_diag %s %s" % (protocol, name))
        reader.finish()
        return summary, sources

    @staticmethod
    def _received(datagrams, scan, read_ahead=False):
        """A dump with its first datagram received (a refusal raises here, before anything is counted); received
        whole while the owner scan runs (see _collect_sock_diag). read_ahead (no owner scan: no other thread runs):
        a child process receives the dump while this one counts (module_utils/prefetch)."""
        if scan is not None:
            return list(_primed(datagrams))
        if read_ahead:
            return _primed(child_read_ahead(lambda: datagrams))
        return _primed(datagrams)

    def _collect_proc(self, selection, max_connections, protocols, families, scan, limits):
        # Imported here: a run that reads sock_diag never compiles the text reader (modules run from a zip).
        from ansible_collections.netdiag.tcp.plugins.module_utils.linux.proc_net_tcp import leading_listening_ports

        tables = [(path, protocol) for path, protocol in self.tables(protocols, families) if self.table_exists(path)]
        listening = set()
        for path, protocol in tables:
            if protocol == "tcp":
                with self.open_table(path) as handle:
                    listening |= leading_listening_ports(line.decode("ascii") for line in handle)
        owner_map = scan.result()[0] if scan is not None else {}
        summary = Summary(selection, max_connections, listening, owners_mapped=scan is not None, **limits)
        for path, protocol in tables:
            self.read_table(path, protocol, summary, owner_map, families)
        return summary, [table[0] for table in tables]

    # Where the data comes from: the files under proc_root and this kernel's sock_diag here. Raw mode and offline
    # analysis (plugin_utils/textfacts) override the five hooks below to read the same tables from command output,
    # so both give the same facts; a collector with overridden hooks never asks this kernel (reads_this_kernel).
    def scan_owners(self, budget_seconds=DEFAULT_BUDGET_SECONDS):
        return scan_socket_owners(self.proc_root, budget_seconds)

    def table_exists(self, path):
        return os.path.exists(path)

    def open_table(self, path):
        return open(path, "rb")

    def keepalive(self):
        return read_keepalive_settings(self.proc_root)

    def user_name(self, uid):
        return user_name(uid)

    def reads_this_kernel(self):
        """True when the tables are this host's own (/proc, data hooks not overridden): only then is sock_diag,
        which can only show this kernel's sockets, the same source."""
        if self.proc_root != "/proc":
            return False
        own = LinuxNetstatCollector
        kind = type(self)
        return all(
            getattr(kind, name) is getattr(own, name)
            for name in ("scan_owners", "table_exists", "open_table", "keepalive", "user_name")
        )

    def read_table(self, path, protocol, summary, owner_map=None, families=("inet", "inet6")):
        """Stream one /proc/net table into the summary (the column-wise reader; see linux_proc_net_tcp)."""
        from ansible_collections.netdiag.tcp.plugins.module_utils.columns.proc_net_tcp import TableReader

        reader = TableReader(
            summary,
            protocol=protocol,
            byteorder=self.byteorder,
            owners=owner_map,
            user_name=self.user_name,
            families=families,
        )
        with self.open_table(path) as handle:
            reader.read(handle)


def _primed(generator):
    """The generator's items, with its first step (where a refused request raises) already taken."""
    try:
        first = next(generator)
    except StopIteration:
        return []
    return _chain_first(first, generator)


def _chain_first(first, generator):
    yield first
    yield from generator


class _BackgroundScan:
    """The owner scan (the collector's scan_owners hook) in a thread, started at once; result() waits for it."""

    def __init__(self, scan_owners, budget):
        self._result = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(scan_owners, budget), name="owner scan", daemon=True)
        self._thread.start()

    def _run(self, scan_owners, budget):
        try:
            try:
                self._result = scan_owners(budget)
            except TypeError:  # a hook that takes no budget (a collector over captured text)
                self._result = scan_owners()
        except BaseException as error:  # handed to the caller by result()
            self._error = error

    def result(self):
        """(owner map, scan facts); the facts are None when the hook had no scan to report."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result
