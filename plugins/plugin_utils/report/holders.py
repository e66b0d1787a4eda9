# SPDX-License-Identifier: GPL-3.0-or-later
"""Who holds a host's sockets, from every source that names them, and which source said so. Pure functions.

The sources, per platform (docs/report.md, "Holders"):

* Linux: the owner scan of ``/proc/<pid>/fd`` (module and raw mode), or the owner column of a captured
  ``ss -p`` / ``netstat -p`` table;
* AIX: ``kdb sockinfo`` or ``lsof`` (``netstat.owner_method``), and IBM's ``rmsock`` (``aix.rmsock``: in module mode
  each result carries the PCB it was asked about; a captured rmsock log names processes but not which socket);
  a captured ``kdb sockinfo`` (``aix.kdb_sockinfo``) names the holder of each TCPCB;
* Solaris/illumos: ``netstat -anu`` (``sunos.owners``) and ``pfiles`` (``sunos.pfiles``).

``named_by(host)`` says, per pid, which sources named it; ``linked_holders(host)`` maps the 4-tuples of sockets
whose tuple row has no pid but whose PCB a source answered for (kdb or rmsock); ``named_on_host(host)`` lists the
processes a source named on the host without saying for which socket (a captured rmsock log).
"""

from __future__ import annotations

OWNER_SCAN = "owner scan"
RMSOCK = "rmsock"
KDB = "kdb"
PFILES = "pfiles"
NETSTAT_U = "netstat -anu"


def _pid(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def owner_source(host):
    """The source that named the pids of a host's socket table (the ``pid`` column of its tuples), or None."""
    netstat = host.get("netstat") or {}
    platform = host.get("platform") or netstat.get("platform")
    if platform == "AIX":
        method = netstat.get("owner_method") or {}
        return method.get("name") if method.get("ran") else None
    if platform == "SunOS":
        owners = (host.get("sunos") or {}).get("owners") or {}
        if owners.get("available"):
            return NETSTAT_U
        # Without netstat -u only pfiles names holders (Solaris 10).
        return PFILES if ((host.get("sunos") or {}).get("pfiles") or {}).get("ran") else None
    if host.get("mode") == "capture":
        sources = [name for name in netstat.get("sources") or [] if name.startswith(("ss.", "netstat-"))]
        return "%s (owner column)" % sources[0] if sources else None
    return OWNER_SCAN


def _rmsock_results(host):
    return [
        result
        for result in ((host.get("aix") or {}).get("rmsock") or {}).get("results") or []
        if isinstance(result, dict) and result.get("held_by") == "process"
    ]


def _kdb_answers(host):
    return [
        answer
        for answer in ((host.get("aix") or {}).get("kdb_sockinfo") or {}).get("sockets") or []
        if isinstance(answer, dict) and answer.get("pid") is not None
    ]


def named_by(host):
    """{pid: {"process", "user", "named_by": [source, ...]}} of every holder a source named on the host."""
    netstat = host.get("netstat") or {}
    found = {}

    def add(pid, source, process=None, user=None):
        pid = _pid(pid)
        if pid is None:
            return
        entry = found.setdefault(pid, {"process": None, "user": None, "named_by": []})
        entry["process"] = entry["process"] or process
        entry["user"] = entry["user"] or user
        if source and source not in entry["named_by"]:
            entry["named_by"].append(source)

    scan = owner_source(host)
    for pid, holder in (netstat.get("holders") or {}).items():
        add(pid, scan, (holder or {}).get("process"), (holder or {}).get("user"))
    for connection in netstat.get("connections") or []:
        if connection.get("pid") is not None and connection.get("rmsock") != "process":
            add(connection["pid"], scan, connection.get("process"), connection.get("user"))
    for result in _rmsock_results(host):
        add(result.get("pid"), RMSOCK, result.get("process"))
    for answer in _kdb_answers(host):
        add(answer["pid"], KDB, answer.get("process"))
    pfiles = (host.get("sunos") or {}).get("pfiles") or {}
    if pfiles.get("ran"):
        for pid in pfiles.get("pids") or []:
            if _pid(pid) in found:
                add(pid, PFILES)
    return found


def _pcb(value):
    try:
        return int(str(value), 16)
    except (TypeError, ValueError):
        return None


def linked_holders(host):
    """{(local_address, local_port, remote_address, remote_port): {pid, process, named_by}} for listed sockets whose
    PCB a kdb or rmsock answer names (captures keep them apart from the socket table)."""
    by_pcb = {}
    for answer in _kdb_answers(host):
        key = _pcb(answer.get("tcpcb"))
        if key is not None:
            by_pcb.setdefault(key, {"pid": _pid(answer["pid"]), "process": answer.get("process"), "named_by": [KDB]})
    for result in _rmsock_results(host):
        key = _pcb(result.get("pcb"))
        if key is not None:
            entry = by_pcb.setdefault(key, {"pid": _pid(result.get("pid")), "process": result.get("process")})
            entry.setdefault("named_by", [])
            if RMSOCK not in entry["named_by"]:
                entry["named_by"].append(RMSOCK)
    if not by_pcb:
        return {}
    linked = {}
    for connection in (host.get("netstat") or {}).get("connections") or []:
        entry = by_pcb.get(_pcb(connection.get("pcb")))
        if entry is not None and entry.get("pid") is not None:
            key = (
                connection.get("local_address"),
                connection.get("local_port"),
                connection.get("remote_address"),
                connection.get("remote_port"),
            )
            linked[key] = entry
    return linked


def named_on_host(host):
    """[{pid, process, sockets, named_by}] of the processes a captured rmsock log names on the host, most sockets
    first: rmsock prints the socket's kernel address, not the PCB netstat -Aan lists, so they are not linked to
    single sockets."""
    found = {}
    for result in _rmsock_results(host):
        if result.get("pcb") is not None:
            continue  # module mode: linked through its PCB
        key = (_pid(result.get("pid")), result.get("process"))
        found[key] = found.get(key, 0) + 1
    return [
        {"pid": pid, "process": process, "sockets": count, "named_by": [RMSOCK]}
        for (pid, process), count in sorted(found.items(), key=lambda item: (-item[1], item[0][0] or 0))
    ]


class HostHolders:
    """The holders of one host's sockets, for the half-open evidence (matching.py)."""

    def __init__(self, host):
        self.names = named_by(host)
        self.linked = linked_holders(host)
        self.on_host = named_on_host(host)

    def holder(self, pid, row):
        """{pid, process, user, named_by} of a tuple row's socket."""
        if pid is None:
            entry = self.linked.get(tuple(row[:4]))
            if entry is not None:
                return {
                    "pid": entry["pid"],
                    "process": entry.get("process"),
                    "user": None,
                    "named_by": entry["named_by"],
                }
            return {"pid": None, "process": None, "user": None, "named_by": []}
        known = self.names.get(pid) or {}
        return {
            "pid": pid,
            "process": known.get("process"),
            "user": known.get("user"),
            "named_by": list(known.get("named_by") or []),
        }
