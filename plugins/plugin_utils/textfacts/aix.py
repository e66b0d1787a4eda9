# SPDX-License-Identifier: GPL-3.0-or-later
"""AIX facts from text (raw mode and offline analysis): ``netstat -Aan``, ``no -a``, rmsock lines, kdb sockinfo.

The socket table goes through aix_netstat (the parser the AIX collector runs); the keepalive defaults come from the
``no`` tunables through aix_no.keepalive_from_tunables, the converter the module runs too.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import netstat as aix_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock


def netstat_section(text, selection=None, max_connections=None):
    selection = selection or {}
    # tuples: the report matches both ends of each connection with them, as it does for module-mode hosts.
    netstat = aix_netstat.parse(text, max_connections=max_connections, tuples=True, **selection)
    netstat["platform"] = "AIX"
    return netstat


def keepalive_from_no(tunables, source="no -a"):
    """``netdiag.keepalive`` from ``no`` tunables: aix_no's converter, the one the module runs."""
    return aix_no.keepalive_from_tunables(tunables, source)


def no_section(text):
    return aix_no.parse(text)


def rmsock_section(text):
    return aix_rmsock.parse(text)


def kdb_sockinfo_section(text):
    return aix_kdb_sockinfo.parse(text)
