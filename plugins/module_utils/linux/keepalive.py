# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's TCP keepalive defaults: net.ipv4.tcp_keepalive_time, _intvl and _probes (Linux)."""

from __future__ import annotations

import os

KEEPALIVE_SETTINGS = ("time", "intvl", "probes")


def parse_sysctl_integer(text):
    """The integer in a /proc/sys file's text ('7200\\n' -> 7200). Raises ValueError on anything else."""
    return int(text.strip())


def keepalive_from_values(values, source):
    """``netdiag.keepalive`` of a Linux host from ``{time, intvl, probes}`` (seconds, seconds, count; a missing or
    non-integer value is null). The one converter: the module, raw mode and offline analysis all call it."""
    result = {}
    for name in KEEPALIVE_SETTINGS:
        value = values.get(name)
        result[name] = value if isinstance(value, int) and not isinstance(value, bool) else None
    result["source"] = source
    return result


def read_keepalive_settings(proc_root="/proc"):
    """{time, intvl, probes, source} from <proc_root>/sys/net/ipv4/tcp_keepalive_*; a value that cannot be read is
    None. These sysctls belong to the network namespace of the reading process."""
    directory = os.path.join(proc_root, "sys", "net", "ipv4")
    values = {}
    for name in KEEPALIVE_SETTINGS:
        try:
            with open(os.path.join(directory, "tcp_keepalive_" + name), encoding="ascii") as handle:
                values[name] = parse_sysctl_integer(handle.read())
        except (OSError, ValueError):
            continue
    return keepalive_from_values(values, directory)
