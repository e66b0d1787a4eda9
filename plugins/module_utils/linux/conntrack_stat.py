# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser for the per-CPU conntrack statistics: ``/proc/net/stat/nf_conntrack`` and ``conntrack -S``.

``/proc/net/stat/nf_conntrack`` (also ``/proc/net/stat/ip_conntrack`` on old kernels) is a header naming the
columns and one row of hexadecimal counters per possible CPU. The columns differ between kernels (2.6 has
``searched``/``delete_list``, current kernels ``clashres``/``chainlength``), so they are read by header name.
The first column, ``entries``, is the global number of entries, repeated on every row: it is taken once, not summed.

``conntrack -S`` prints one ``cpu=N key=value ...`` line per CPU in decimal; old conntrack-tools also print
``entries=`` (again the global count) and ``ignore=``.

The result: every counter summed over the CPUs, ``entries`` once, and ``cpus`` (the number of rows).
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT = "linux_conntrack_stat"

# Counters that are the same global value on every CPU row: summing them would multiply them by the CPU count.
GLOBAL_COUNTERS = frozenset(("entries",))


def _parse_proc_table(lines):
    header = None
    totals = {}
    cpus = 0
    for number, line in lines:
        fields = line.split()
        if header is None:
            header = fields
            if header[0] != "entries" or not all(name.replace("_", "").isalnum() for name in header):
                raise ParseError(
                    FORMAT, number, line, "expected the header line naming the columns, starting with entries"
                )
            continue
        if len(fields) != len(header):
            raise ParseError(FORMAT, number, line, "%d columns, the header names %d" % (len(fields), len(header)))
        try:
            values = [int(field, 16) for field in fields]
        except ValueError:
            raise ParseError(FORMAT, number, line, "a column is not a hexadecimal number") from None
        cpus += 1
        for name, value in zip(header, values):
            if name in GLOBAL_COUNTERS:
                totals.setdefault(name, value)
            else:
                totals[name] = totals.get(name, 0) + value
    if header is not None and cpus == 0:
        for name in header:
            totals[name] = 0
    return totals, cpus


def _parse_conntrack_s(lines):
    totals = {}
    cpus = 0
    for number, line in lines:
        fields = line.split()
        if not fields[0].startswith("cpu="):
            raise ParseError(FORMAT, number, line, "expected cpu=N followed by name=value counters")
        cpus += 1
        for field in fields[1:]:
            name, separator, value = field.partition("=")
            if not separator or not value.isdigit():
                raise ParseError(FORMAT, number, line, "%r is not name=number" % field)
            if name in GLOBAL_COUNTERS:
                totals.setdefault(name, int(value))
            else:
                totals[name] = totals.get(name, 0) + int(value)
    return totals, cpus


def parse(text):
    """Counters summed over CPUs (``entries`` taken once) plus ``cpus``; raises ParseError on other text."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ParseError(FORMAT, 1, text, "no statistics in the text")
    if lines[0][1].lstrip().startswith("cpu="):
        totals, cpus = _parse_conntrack_s(lines)
    else:
        totals, cpus = _parse_proc_table(lines)
    result = dict(sorted(totals.items()))
    result["cpus"] = cpus
    return result
