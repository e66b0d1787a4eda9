# SPDX-License-Identifier: GPL-3.0-or-later
"""Base of the per-platform socket-table collectors used by netdiag.tcp.netstat_facts.

A platform is one subclass in plugins/module_utils/netstat_<platform>.py and one line in the module's COLLECTORS
table. A collector reads its platform's socket tables and hands SocketRecord streams to socket_records.summarize();
the module validates options first, so collectors receive a ready Selection.
"""

from __future__ import annotations


class NetstatCollector:
    """Reads the socket tables of one platform. Subclasses set `platform` and implement collect()."""

    platform = None

    @classmethod
    def for_module(cls, params, run_command, get_bin_path, check_mode):
        """The collector for one module run. params are the module's options; run_command(argv) -> (rc, stdout,
        stderr) runs a command in the C locale and get_bin_path(name) finds a binary (None when missing), for
        platforms whose tables come from commands; check_mode forbids anything with a side effect."""
        return cls()

    def extra_sections(self):
        """Platform sections of ``netdiag`` besides netstat and keepalive (``{"sunos": {...}}``), after collect()."""
        return {}

    def collect(
        self, selection, max_connections=1000, protocols=("tcp", "udp"), families=("inet", "inet6"), owners=True
    ):
        """Return (netstat, keepalive): the ``netdiag.netstat`` dictionary and the ``netdiag.keepalive`` one (or None
        when the platform has no such settings)."""
        raise NotImplementedError
