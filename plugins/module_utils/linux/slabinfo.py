# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser for ``/proc/slabinfo`` versions 1.1, 2.0 and 2.1.

* 1.1 (2.4 kernels): ``name active_objs num_objs objsize active_slabs num_slabs pagesperslab``; SMP kernels append
  ``: limit batchcount`` and slab debugging appends statistics. There is no header line and no objperslab column:
  objperslab is derived as num_objs / num_slabs (the kernel computes num_objs as num_slabs * objects per slab).
* 2.0 (2.6.0-2.6.9) and 2.1: a ``# name <active_objs> ...`` header, then
  ``name active_objs num_objs objsize objperslab pagesperslab : tunables a b c : slabdata active_slabs num_slabs
  sharedavail`` with optional ``: globalstat ...`` and ``: cpustat ...`` sections (CONFIG_DEBUG_SLAB). The tunables
  order differs between 2.0 and 2.1; the tunables are not reported.

Bytes per cache:

* ``bytes`` = num_slabs * pagesperslab * page_size: the memory the cache holds from the page allocator, free
  objects and slab overhead included. This is what the cache costs the machine (num_objs * objsize would leave the
  per-slab waste out).
* ``active_bytes`` = active_objs * objsize: the memory in objects that are in use.

page_size is a parameter (the pure parser does no I/O); slabinfo_facts passes os.sysconf("SC_PAGE_SIZE").

Pasted excerpts such as ``grep conn /proc/slabinfo`` have no version line. The version is then inferred from the
first row's columns: a ``: slabdata`` section means 2.x (reported as ``"2.x"``: 2.0 and 2.1 differ only in the
order of the tunables, which are not reported), six or more numbers without one mean 1.1. ``version_inferred`` says
which way the version was found.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT = "linux_slabinfo"

# The conntrack caches on every kernel generation: ip_conntrack (2.4-2.6.19), nf_conntrack, one
# nf_conntrack_<address of struct net> per network namespace (2.6.31-4.x), and the expectation caches.
CONNTRACK_CACHES = r"^(?:ip_conntrack|nf_conntrack)(?:_expect|_[0-9a-f]+)?$"

# 2.4 SMP kernels print "version: 1.1 (SMP)", slab debugging adds " (statistics)".
_VERSION = re.compile(r"^slabinfo - version: (\d+\.\d+)(?: \(\w+\))*\s*$")
_SUPPORTED = ("1.1", "2.0", "2.1")


def _integers(fields, line_number, line):
    try:
        return [int(field) for field in fields]
    except ValueError:
        raise ParseError(FORMAT, line_number, line, "expected numbers after the cache name") from None


def _parse_row(version, line, line_number):
    sections = line.split(":")
    head = sections[0].split()
    if len(head) < 6:
        raise ParseError(FORMAT, line_number, line, "expected a cache name and at least five numbers")
    name = head[0]
    numbers = _integers(head[1:], line_number, line)
    if version == "1.1":
        # Slab debugging (STATS) appends counters after the six; SMP kernels append ": limit batchcount".
        if len(numbers) < 6:
            raise ParseError(FORMAT, line_number, line, "expected six numbers after the cache name")
        active_objs, num_objs, objsize, active_slabs, num_slabs, pagesperslab = numbers[:6]
        objperslab = num_objs // num_slabs if num_slabs else None
    else:
        if len(numbers) != 5:
            raise ParseError(FORMAT, line_number, line, "expected five numbers before the tunables section")
        active_objs, num_objs, objsize, objperslab, pagesperslab = numbers
        slabdata = None
        for section in sections[1:]:
            words = section.split()
            if words and words[0] == "slabdata":
                slabdata = _integers(words[1:], line_number, line)
        if slabdata is None or len(slabdata) < 2:
            raise ParseError(FORMAT, line_number, line, "no slabdata section")
        active_slabs, num_slabs = slabdata[0], slabdata[1]
    return name, {
        "active_objs": active_objs,
        "num_objs": num_objs,
        "objsize": objsize,
        "objperslab": objperslab,
        "pagesperslab": pagesperslab,
        "active_slabs": active_slabs,
        "num_slabs": num_slabs,
    }


def infer_version(line, line_number):
    """The slabinfo version a row without a version line above it was printed in ("2.x" or "1.1").

    2.x rows carry ``: slabdata``; 1.1 rows have six numbers after the name and at most the SMP ``: limit
    batchcount`` section. Anything else is not a slabinfo row.
    """
    if re.search(r":\s*slabdata\s", line):
        return "2.x"
    head = line.split(":")[0].split()
    if len(head) >= 7 and all(word.isdigit() for word in head[1:7]):
        return "1.1"
    raise ParseError(
        FORMAT,
        line_number,
        line,
        "expected 'slabinfo - version: N.N' or a cache row (name and six numbers, or a 2.x row with ': slabdata')",
    )


def parse(text, names=None, page_size=4096):
    """{version, version_inferred, page_size, caches: {name: {...}}}: the caches whose name matches the `names`
    regex (re.search), by default the conntrack caches (CONNTRACK_CACHES). Text without a version line (a grep
    excerpt) gets its version from its rows (infer_version). Raises ParseError on text that is not slabinfo
    1.1/2.x."""
    pattern = re.compile(names if names is not None else CONNTRACK_CACHES)
    version = None
    inferred = False
    caches = {}
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if version is None:
            match = _VERSION.match(line.strip())
            if match is not None:
                version = match.group(1)
                if version not in _SUPPORTED:
                    raise ParseError(
                        FORMAT, line_number, line, "slabinfo version %s is not one of 1.1, 2.0, 2.1" % version
                    )
                continue
            if line.startswith("#"):  # the 2.x column header without the version line above it
                continue
            version = infer_version(line, line_number)
            inferred = True
        if line.startswith("#"):
            continue
        name, cache = _parse_row(version, line, line_number)
        if pattern.search(name) is None:
            continue
        cache["bytes"] = cache["num_slabs"] * cache["pagesperslab"] * page_size
        cache["active_bytes"] = cache["active_objs"] * cache["objsize"]
        caches[name] = cache
    if version is None:
        raise ParseError(FORMAT, 1, text[:200], "empty: no 'slabinfo - version:' line and no cache row")
    return {"version": version, "version_inferred": inferred, "page_size": page_size, "caches": caches}
