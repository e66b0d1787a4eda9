# SPDX-License-Identifier: GPL-3.0-or-later
"""Base of the per-platform socket-table collectors used by netdiag.tcp.netstat_facts.

A platform is one subclass in collect/<platform>_sockets.py, plus a three-line function importing it and one line in
collect/platforms.py's COLLECTORS table (the function keeps other platforms' code out of a module run). A collector
reads its platform's socket tables and hands SocketRecord streams to socket_records.summarize(); the
module validates options first, so collectors receive a ready Selection.
"""

from __future__ import annotations


class NetstatCollector:
    """Reads the socket tables of one platform. Subclasses set `platform` and implement collect().

    A collector whose collect() also takes ``owner_budget`` (seconds, None: no limit) and ``limits`` (Summary's
    ``max_peers``/``max_listeners``) sets ``takes_bounds = True`` and applies them while counting; netstat_facts
    bounds the results of the others afterwards (socket_records.bound_result), so every result stays compact."""

    platform = None
    takes_bounds = False

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
        """Return (netstat, keepalive): the ``netdiag.netstat`` dictionary and the ``netdiag.keepalive`` one (or None
        when the platform has no such settings).

        tuples/max_tuples go to socket_records.Summary unchanged: with tuples, the summary adds the compact
        ``established_tuples`` and ``holders`` the report matches both ends of each connection with."""
        raise NotImplementedError
