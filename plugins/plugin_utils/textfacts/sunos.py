# SPDX-License-Identifier: GPL-3.0-or-later
"""Solaris/illumos facts from text (raw mode and offline analysis): ``netstat -an`` / ``-anu``, ``ndd`` values.

The socket table goes through sunos_netstat (the parser the SunOS collector runs). Solaris keeps the keepalive
settings in milliseconds (ndd /dev/tcp tcp_keepalive_interval, default 7200000 = 2 hours); they become
``netdiag.keepalive`` through sunos_keepalive.keepalive_from_milliseconds, the converter the module runs too.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import keepalive as sunos_keepalive
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ndd as sunos_ndd
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat


def netstat_section(text, selection=None, max_connections=None):
    selection = selection or {}
    # tuples: the report matches both ends of each connection with them, as it does for module-mode hosts.
    netstat = sunos_netstat.parse(text, max_connections=max_connections, tuples=True, **selection)
    netstat["platform"] = "SunOS"
    return netstat


def keepalive_from_ndd(text, abort_text=None, source="ndd -get /dev/tcp"):
    """``netdiag.keepalive`` from ``ndd -get /dev/tcp tcp_keepalive_interval`` output (and, when given,
    ``tcp_keepalive_abort_interval``), through sunos_keepalive's converter, the one the module runs."""
    milliseconds = {"time": sunos_ndd.parse(text, name="tcp_keepalive_interval").get("value")}
    if abort_text is not None:
        milliseconds["abort_interval"] = sunos_ndd.parse(abort_text, name="tcp_keepalive_abort_interval").get("value")
    return sunos_keepalive.keepalive_from_milliseconds(milliseconds, source)
