# SPDX-License-Identifier: GPL-3.0-or-later
"""Which process owns which socket on Linux: one scan of /proc/<pid>/fd per run.

Every open socket descriptor is a symlink ``/proc/<pid>/fd/<n> -> socket:[<inode>]``; the inode is the one
/proc/net/tcp* prints. One pass over all processes maps every socket inode to (pid, process, user) — never a
command per socket. Without root the descriptors of other users' processes cannot be read (EACCES); the scan
counts those processes so the module can say how many sockets stayed unmapped.
"""

from __future__ import annotations

import functools
import os
import pwd


def socket_inode(link_text):
    """The inode of a 'socket:[12345]' fd link text, else None (pure)."""
    if link_text.startswith("socket:[") and link_text.endswith("]"):
        inode = link_text[8:-1]
        if inode.isdigit():
            return int(inode)
    return None


@functools.lru_cache(maxsize=4096)
def user_name(uid):
    """The login name of a uid, or the uid as text when the user database has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def scan_socket_owners(proc_root="/proc"):
    """({inode: (pid, process, user)}, {"processes": n, "unreadable_processes": m}) for every process under
    proc_root. A socket shared by several processes (fork, SCM_RIGHTS) is attributed to the lowest pid."""
    owners = {}
    processes = unreadable = 0
    try:
        entries = sorted((entry for entry in os.scandir(proc_root) if entry.name.isdigit()), key=_pid_of)
    except OSError:
        entries = []
    for entry in entries:
        processes += 1
        fd_directory = os.path.join(entry.path, "fd")
        try:
            descriptors = os.listdir(fd_directory)
        except PermissionError:
            unreadable += 1
            continue
        except OSError:
            continue  # the process exited during the scan
        inodes = []
        for descriptor in descriptors:
            try:
                inode = socket_inode(os.readlink(os.path.join(fd_directory, descriptor)))
            except OSError:
                continue
            if inode is not None and inode not in owners:
                inodes.append(inode)
        if not inodes:
            continue
        pid = int(entry.name)
        process = _read_text(os.path.join(entry.path, "comm"))
        try:
            user = user_name(os.stat(entry.path).st_uid)
        except OSError:
            user = None
        for inode in inodes:
            owners[inode] = (pid, process, user)
    return owners, {"processes": processes, "unreadable_processes": unreadable}


def _pid_of(entry):
    return int(entry.name)
