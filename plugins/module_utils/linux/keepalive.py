# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's TCP keepalive defaults: net.ipv4.tcp_keepalive_time, _intvl and _probes (Linux)."""

from __future__ import annotations

import os

KEEPALIVE_SETTINGS = ("time", "intvl", "probes")


def parse_sysctl_integer(text):
    """The integer in a /proc/sys file's text ('7200\\n' -> 7200). Raises ValueError on anything else."""
    return int(text.strip())


def read_keepalive_settings(proc_root="/proc"):
    """{time, intvl, probes, source} from <proc_root>/sys/net/ipv4/tcp_keepalive_*; a value that cannot be read is
    None. These sysctls belong to the network namespace of the reading process."""
    directory = os.path.join(proc_root, "sys", "net", "ipv4")
    result = {}
    for name in KEEPALIVE_SETTINGS:
        try:
            with open(os.path.join(directory, "tcp_keepalive_" + name), encoding="ascii") as handle:
                result[name] = parse_sysctl_integer(handle.read())
        except (OSError, ValueError):
            result[name] = None
    result["source"] = directory
    return result
