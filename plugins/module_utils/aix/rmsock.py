# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of AIX ``rmsock <address> tcpcb|inpcb|socket`` output (format ``aix_rmsock``).

rmsock prints one line per call. Captures often hold many, e.g. the output of a loop over the PCB column of
``netstat -Aan``; every line becomes one result:

* ``The socket 0x7946000 is being held by proccess 376864 (xxxx_srv).`` -> held_by ``process`` (the misspelling
  "proccess" is AIX's; "process" is accepted too)
* ``The socket 0x... is being held by Kernel/Kernel Extension.`` -> held_by ``kernel``
* ``socket 0x258d008 is removed.`` -> held_by ``removed`` (no process held it: rmsock aborted it and freed the port)
* ``rmsock : Unable to read kernel address f1000f0000140600, errno = 22`` -> held_by ``error``

Socket addresses are reported as ``0x`` + lower-case hex whatever the input spelling. The result is
``{results: [...], by_process: [{pid, process, count}], held_by_counts: {...}}``: the list keeps the input order
(so it can be zipped with the PCB list that was fed to the loop), by_process answers "who holds these sockets".
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "aix_rmsock"
HELD_BY = ("process", "kernel", "removed", "error")

_ADDRESS = r"(?:0x)?([0-9a-fA-F]+)"
_PROCESS = re.compile(r"^The socket %s is being held by proc+ess (\d+) \((.*)\)\.?$" % _ADDRESS)
_KERNEL = re.compile(r"^The socket %s is being held by Kernel/Kernel Extension\.?$" % _ADDRESS)
_REMOVED = re.compile(r"^(?:The )?socket %s is removed\.?$" % _ADDRESS, re.IGNORECASE)
# The message is stripped in code: "\s*(.+?)\s*$" was quadratic on a line of spaces.
_ERROR = re.compile(r"^rmsock\s*:(.*)$")
_ERROR_ADDRESS = re.compile(r"\baddress (?:0x)?([0-9a-fA-F]{6,16})\b")
_ERRNO = re.compile(r"\berrno\s*=\s*(\d+)")


def _socket(hex_digits):
    return "0x" + hex_digits.lower()


def _result(socket, held_by, pid=None, process=None, error=None, errno=None):
    return {"socket": socket, "held_by": held_by, "pid": pid, "process": process, "error": error, "errno": errno}


def parse_line(line, line_number=1):
    """One rmsock line -> {socket, held_by, pid, process, error, errno}. Raises ParseError on anything else.

    For an error line, socket is the address rmsock names in its message (the one it was given), if any.
    """
    text = line.strip()
    match = _PROCESS.match(text)
    if match:
        return _result(_socket(match.group(1)), "process", pid=int(match.group(2)), process=match.group(3))
    match = _KERNEL.match(text)
    if match:
        return _result(_socket(match.group(1)), "kernel")
    match = _REMOVED.match(text)
    if match:
        return _result(_socket(match.group(1)), "removed")
    match = _ERROR.match(text)
    if match and match.group(1).strip():
        message = match.group(1).strip()
        address = _ERROR_ADDRESS.search(message)
        errno = _ERRNO.search(message)
        return _result(
            _socket(address.group(1)) if address else None,
            "error",
            error=message,
            errno=int(errno.group(1)) if errno else None,
        )
    raise ParseError(FORMAT_NAME, line_number, line, "not an rmsock result line")


def parse(text):
    """All rmsock result lines of TEXT, plus a per-process summary (see the module docstring)."""
    results = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            results.append(parse_line(line, number))
    if not results:
        raise ParseError(FORMAT_NAME, 1, text[:200], "no rmsock output")
    held_by_counts = dict.fromkeys(HELD_BY, 0)
    per_process = {}
    for result in results:
        held_by_counts[result["held_by"]] += 1
        if result["held_by"] == "process":
            key = (result["pid"], result["process"])
            per_process[key] = per_process.get(key, 0) + 1
    by_process = [{"pid": pid, "process": process, "count": count} for (pid, process), count in per_process.items()]
    by_process.sort(key=lambda entry: (-entry["count"], entry["pid"]))
    return {"results": results, "by_process": by_process, "held_by_counts": held_by_counts}
