# SPDX-License-Identifier: GPL-3.0-or-later
"""Solaris/illumos facts from text (raw mode and offline analysis): ``netstat -an`` / ``-anu``, ``ndd`` values.

The socket table goes through sunos_netstat (the parser the SunOS collector runs). Solaris keeps the keepalive
settings in milliseconds (ndd /dev/tcp tcp_keepalive_interval, default 7200000 = 2 hours).
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ndd as sunos_ndd
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat


def netstat_section(text, selection=None, max_connections=None):
    selection = selection or {}
    # tuples: the report matches both ends of each connection with them, as it does for module-mode hosts.
    netstat = sunos_netstat.parse(text, max_connections=max_connections, tuples=True, **selection)
    netstat["platform"] = "SunOS"
    return netstat


def keepalive_from_ndd(text, source="ndd -get /dev/tcp tcp_keepalive_interval"):
    """``netdiag.keepalive`` from ``ndd -get /dev/tcp tcp_keepalive_interval`` (milliseconds) output."""
    value = sunos_ndd.parse(text, name="tcp_keepalive_interval").get("value")
    milliseconds = value if isinstance(value, int) else None
    return {
        "time": milliseconds // 1000 if milliseconds is not None else None,
        "intvl": None,
        "probes": None,
        "source": source,
        "raw": {"tcp_keepalive_interval": value},
    }
