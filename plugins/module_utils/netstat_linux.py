# SPDX-License-Identifier: GPL-3.0-or-later
"""Linux socket-table collector: /proc/net/{tcp,tcp6,udp,udp6} of the current network namespace, read directly.

No dependency on net-tools or iproute2 (works in minimal containers). /proc/net is /proc/self/net, so the tables are
those of the namespace the module runs in (``ip netns exec NS ...`` shows that namespace's sockets).
"""

from __future__ import annotations

import os
import sys

from ansible_collections.netdiag.tcp.plugins.module_utils.linux_keepalive import read_keepalive_settings
from ansible_collections.netdiag.tcp.plugins.module_utils.linux_proc_net_tcp import (
    TableReader,
    leading_listening_ports,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.linux_socket_owners import scan_socket_owners, user_name
from ansible_collections.netdiag.tcp.plugins.module_utils.netstat_collector import NetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.socket_records import Summary

# (file under /proc/net, protocol, family of the table). tcp6/udp6 also hold IPv4 connections of dual-stack
# sockets (IPv4-mapped addresses), which are reported as inet, so they are read whenever inet is asked for.
TABLES = (("tcp", "tcp", "inet"), ("tcp6", "tcp", "inet6"), ("udp", "udp", "inet"), ("udp6", "udp", "inet6"))


class LinuxNetstatCollector(NetstatCollector):
    platform = "Linux"

    def __init__(self, proc_root="/proc", byteorder=sys.byteorder):
        self.proc_root = proc_root
        self.byteorder = byteorder

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
    ):
        owner_map, owner_scan = self.scan_owners() if owners else ({}, None)
        tables = [(path, protocol) for path, protocol in self.tables(protocols, families) if self.table_exists(path)]
        listening = set()
        for path, protocol in tables:
            if protocol == "tcp":
                with self.open_table(path) as handle:
                    listening |= leading_listening_ports(line.decode("ascii") for line in handle)
        summary = Summary(
            selection, max_connections, listening, owners_mapped=owners, tuples=tuples, max_tuples=max_tuples
        )
        for path, protocol in tables:
            self.read_table(path, protocol, summary, owner_map, families)
        netstat = summary.result()
        netstat["platform"] = self.platform
        netstat["sources"] = [table[0] for table in tables]
        if owner_scan is not None:
            netstat["owner_scan"] = owner_scan
        return netstat, self.keepalive()

    # Where the data comes from: the files under proc_root here. Raw mode and offline analysis (plugin_utils/raw)
    # override these four to read the same tables from command output, so both give the same facts.
    def scan_owners(self):
        return scan_socket_owners(self.proc_root)

    def table_exists(self, path):
        return os.path.exists(path)

    def open_table(self, path):
        return open(path, "rb")

    def keepalive(self):
        return read_keepalive_settings(self.proc_root)

    def user_name(self, uid):
        return user_name(uid)

    def read_table(self, path, protocol, summary, owner_map=None, families=("inet", "inet6")):
        """Stream one /proc/net table into the summary (the column-wise reader; see linux_proc_net_tcp)."""
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
