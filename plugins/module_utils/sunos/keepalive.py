# SPDX-License-Identifier: GPL-3.0-or-later
"""The TCP keepalive defaults of a Solaris or illumos host, in seconds (``netdiag.keepalive``).

Solaris has one system-wide idle time before the first probe, in milliseconds: ``_keepalive_interval`` of
``ipadm show-prop tcp`` on Solaris 11 and illumos, ``tcp_keepalive_interval`` of ``ndd -get /dev/tcp`` on
Solaris 10 (and still readable on 11). Probing then goes on with backing-off retransmissions until
``tcp_keepalive_abort_interval`` (default 8 minutes) and the connection is dropped: there is no Linux-style fixed
probe interval or probe count, so ``intvl`` and ``probes`` are null and ``abort_interval`` is given instead
(Oracle, Solaris Tunable Parameters Reference Manual, tcp_keepalive_interval / tcp_keepalive_abort_interval).

ipadm is tried first and ndd second; the raw millisecond values are kept beside the seconds.
``keepalive_from_milliseconds`` is the one converter to ``netdiag.keepalive``: the module, raw mode and offline
analysis all call it, so a Solaris host's keepalive facts do not depend on how they were read.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ipadm_prop as sunos_ipadm_prop
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ndd as sunos_ndd

# (ipadm property of the tcp protocol, ndd parameter of /dev/tcp, key in netdiag.keepalive)
SETTINGS = (
    ("_keepalive_interval", "tcp_keepalive_interval", "time"),
    ("_keepalive_abort_interval", "tcp_keepalive_abort_interval", "abort_interval"),
)


def seconds(milliseconds):
    """7200000 -> 7200; a value that is not whole seconds stays exact (7200500 -> 7200.5); None stays None."""
    if milliseconds is None:
        return None
    whole, rest = divmod(milliseconds, 1000)
    return whole if not rest else milliseconds / 1000.0


def keepalive_from_milliseconds(milliseconds, source):
    """``netdiag.keepalive`` of a Solaris/illumos host from ``{time, abort_interval}`` in milliseconds (a missing
    or non-integer value is null): ``{time, intvl, probes, abort_interval, source, time_ms, abort_interval_ms}``.
    ``intvl`` and ``probes`` are always null: Solaris has no such settings (see above)."""
    keepalive = {"time": None, "intvl": None, "probes": None, "abort_interval": None, "source": source}
    for key in ("time", "abort_interval"):
        value = milliseconds.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            value = None
        keepalive[key] = seconds(value)
        keepalive[key + "_ms"] = value
    return keepalive


def _ipadm_value(run_command, ipadm, name):
    rc, out, err = run_command([ipadm, "show-prop", "-p", name, "tcp"])
    if rc != 0:
        raise OSError("%s show-prop -p %s tcp: rc %d: %s" % (ipadm, name, rc, (err or out).strip()[:200]))
    table = sunos_ipadm_prop.parse(out)["properties"].get("tcp") or {}
    # Solaris 11.4 may print a public property with dashes where it was asked with underscores.
    for printed, entry in table.items():
        if printed.replace("-", "_").lstrip("_") == name.lstrip("_"):
            return entry["current"]
    raise OSError("%s show-prop -p %s tcp printed no %s row" % (ipadm, name, name))


def _ndd_value(run_command, ndd, name):
    rc, out, err = run_command([ndd, "-get", "/dev/tcp", name])
    if rc != 0:
        raise OSError("%s -get /dev/tcp %s: rc %d: %s" % (ndd, name, rc, (err or out).strip()[:200]))
    return sunos_ndd.parse(out, name=name)["value"]


def read_keepalive_settings(run_command, get_bin_path):
    """``{time, intvl, probes, abort_interval, source, time_ms, abort_interval_ms}`` (seconds, raw milliseconds);
    with ``reason`` and null values when neither ipadm nor ndd could be read."""
    reasons = []
    tools = (("ipadm", _ipadm_value, 0, "ipadm show-prop tcp"), ("ndd", _ndd_value, 1, "ndd /dev/tcp"))
    for tool, read, name_index, source in tools:
        path = get_bin_path(tool)
        if not path:
            reasons.append("%s not found" % tool)
            continue
        values = {}
        try:
            for names in SETTINGS:
                values[names[2]] = _read_optional(read, run_command, path, names[name_index], names[2] == "time")
        except (OSError, ParseError) as error:
            reasons.append(str(error))
            continue
        return keepalive_from_milliseconds(values, source)
    result = keepalive_from_milliseconds({}, None)
    result["reason"] = "; ".join(reasons)
    return result


def _read_optional(read, run_command, path, name, required):
    """The time setting must be readable; the abort interval is extra and null when this release lacks it."""
    try:
        return read(run_command, path, name)
    except (OSError, ParseError):
        if required:
            raise
        return None
