# SPDX-License-Identifier: GPL-3.0-or-later
"""The blocks (document.py) that say how a host's socket owners were read: the owner method (kdb, lsof, netstat -u
or why none ran), and IBM rmsock's and Solaris pfiles' answers when one was read. Pure functions."""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.holders import named_on_host
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import shown


def owner_blocks(host):
    """Where the holders of the sockets came from, and the rmsock / pfiles answers when one was read."""
    netstat = host.get("netstat") or {}
    blocks = []
    method = netstat.get("owner_method")
    if isinstance(method, dict):
        if method.get("ran"):
            text = "Socket owners: %s named the holders of %s of %s sockets looked up" % (
                method.get("name"),
                shown(method.get("sockets_found")),
                shown(method.get("sockets")),
            )
        else:
            text = "Socket owners: not read (%s)" % (method.get("reason") or "no method ran")
        blocks.append(("paragraph", text))
    owners = (host.get("sunos") or {}).get("owners")
    if isinstance(owners, dict):
        blocks.append(
            (
                "paragraph",
                "Socket owners: %s" % owners.get("source")
                if owners.get("available")
                else "Socket owners: not read (%s)" % shown(owners.get("reason")),
            )
        )
    blocks.extend(rmsock_blocks(host))
    blocks.extend(pfiles_blocks(host))
    return blocks


def rmsock_blocks(host):
    rmsock = (host.get("aix") or {}).get("rmsock")
    if not isinstance(rmsock, dict):
        return []
    if rmsock.get("check_mode"):
        return [
            (
                "paragraph",
                "rmsock: not run in check mode (%d sockets would have been asked)" % len(rmsock.get("would_run") or []),
            )
        ]
    counts = rmsock.get("held_by_counts") or {}
    blocks = [
        (
            "paragraph",
            "rmsock answers: %s"
            % (
                ", ".join("%s %s" % (RMSOCK_HELD_BY.get(name, name), count) for name, count in counts.items()) or "none"
            ),
        )
    ]
    by_process = rmsock.get("by_process")
    if by_process is None:
        by_process = _rmsock_by_process(rmsock.get("results") or [])
    if by_process:
        blocks.append(
            (
                "table",
                ["process", "pid", "sockets"],
                [[item.get("process"), item.get("pid"), item.get("count")] for item in by_process],
            )
        )
    if rmsock.get("removed"):
        blocks.append(
            (
                "paragraph",
                "rmsock removed %d sockets no process held: %s"
                % (len(rmsock["removed"]), ", ".join(rmsock["removed"][:20])),
            )
        )
    if named_on_host(host):
        blocks.append(
            (
                "paragraph",
                "A captured rmsock log names the socket's kernel address, not the PCB netstat -Aan lists: these "
                "holders are not linked to single sockets.",
            )
        )
    return blocks


RMSOCK_HELD_BY = {
    "process": "held by a process",
    "kernel": "held by the kernel",
    "removed": "removed (no holder)",
    "error": "errors",
}


def _rmsock_by_process(results):
    counts = {}
    for result in results:
        if result.get("held_by") == "process":
            key = (result.get("pid"), result.get("process"))
            counts[key] = counts.get(key, 0) + 1
    return [
        {"pid": pid, "process": process, "count": count}
        for (pid, process), count in sorted(counts.items(), key=lambda item: (-item[1], item[0][0] or 0))
    ]


def pfiles_blocks(host):
    pfiles = (host.get("sunos") or {}).get("pfiles")
    if not isinstance(pfiles, dict):
        return []
    if not pfiles.get("ran"):
        return [("paragraph", "pfiles: not run (%s)" % shown(pfiles.get("reason")))]
    pids = pfiles.get("pids") or []
    blocks = [
        (
            "paragraph",
            "pfiles: %d process%s inspected (%s), Internet sockets read: %s"
            % (
                len(pids),
                "" if len(pids) == 1 else "es",
                pfiles.get("scope") or "holders of the selected sockets",
                shown(pfiles.get("sockets")),
            ),
        )
    ]
    if pfiles.get("errors"):
        blocks.append(("list", ["pfiles: %s" % error for error in pfiles["errors"][:20]]))
    return blocks
