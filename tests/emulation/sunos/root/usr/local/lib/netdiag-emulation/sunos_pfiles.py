# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): Solaris `pfiles PID...` from this host's real processes and sockets.

Layout of the real samples tests/unit/fixtures/sunos/pfiles-1.txt and pfiles-2.txt: a `<pid>:  <arguments>` line,
`Current rlimit`, then per descriptor `N: S_IF... mode:... dev:... ino:... uid:... gid:... size:...`, the open
flags and, for sockets, SOCK_STREAM/SOCK_DGRAM, the socket options line (SO_KEEPALIVE when set), sockname and
peername. SO_KEEPALIVE is read from the real socket (a duplicate of the process' descriptor taken with pidfd_getfd,
Linux 5.6+), else from the keepalive timer in /proc/net/tcp.

A real pfiles stops each process while it reads it; this one does not, but it records every run in
/var/lib/netdiag-emulation/sunos/pfiles-ran so that tests can prove that pfiles was (not) run.
"""

import ctypes
import os
import socket
import stat
import sys

import sunos_emulation

SYS_PIDFD_GETFD = {"x86_64": 438, "aarch64": 438}.get(os.uname().machine)
FAMILIES = {"inet": "AF_INET", "inet6": "AF_INET6"}


def socket_keepalive(pid, descriptor):
    """SO_KEEPALIVE of a process' socket, or None when the descriptor cannot be duplicated here."""
    if SYS_PIDFD_GETFD is None or not hasattr(os, "pidfd_open"):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        duplicate = libc.syscall(SYS_PIDFD_GETFD, pidfd, descriptor, 0)
        if duplicate < 0:
            return None
        with socket.socket(fileno=duplicate) as copy:
            return bool(copy.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
    except OSError:
        return None
    finally:
        os.close(pidfd)


def arguments_of(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        words = handle.read().split(b"\0")
    return " ".join(word.decode(errors="replace") for word in words if word)


def socket_lines(item, keepalive):
    lines = ["      O_RDWR", "        SOCK_STREAM" if item.protocol == "tcp" else "        SOCK_DGRAM"]
    options = ["SO_REUSEADDR"]
    if item.state == "LISTEN":
        options.append("SO_ACCEPTCONN")
    if keepalive:
        options.append("SO_KEEPALIVE")
    options += ["SO_SNDBUF(128000)", "SO_RCVBUF(128000)"]
    lines.append("        " + ",".join(options))
    family = FAMILIES[item.family]
    lines.append("        sockname: %s %s  port: %d" % (family, item.local, item.local_port))
    if item.remote_port:
        lines.append("        peername: %s %s  port: %d" % (family, item.remote, item.remote_port))
    return lines


sunos_emulation.record_run("pfiles", sys.argv[1:])
if not sys.argv[1:]:
    sys.stderr.write("usage:  pfiles [-rFn] { pid | core } ...\n")
    sys.exit(2)
by_inode = {item.inode: item for item in sunos_emulation.sockets() if item.inode}
status = 0
output = []
for argument in sys.argv[1:]:
    if not argument.isdigit():
        sys.stderr.write("pfiles: cannot examine %s: no such process or core file\n" % argument)
        status = 1
        continue
    pid = int(argument)
    try:
        descriptors = sorted(int(name) for name in os.listdir("/proc/%d/fd" % pid))
        header = "%d:  %s" % (pid, arguments_of(pid))
    except OSError:
        sys.stderr.write("pfiles: cannot examine %d: no such process\n" % pid)
        status = 1
        continue
    output.append(header)
    output.append("  Current rlimit: 1024 file descriptors")
    for descriptor in descriptors:
        path = "/proc/%d/fd/%d" % (pid, descriptor)
        try:
            target = os.readlink(path)
            info = os.stat(path)
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = int(target[8:-1])
            output.append(
                "  %2d: S_IFSOCK mode:0666 dev:559,0 ino:%d uid:0 gid:0 size:0" % (descriptor, inode % 100000)
            )
            item = by_inode.get(inode)
            if item is None:  # not a TCP/UDP socket (AF_UNIX, netlink): pfiles shows its family only
                output += ["      O_RDWR", "        SOCK_STREAM", "        SO_SNDBUF(16384),SO_RCVBUF(5120)"]
                output.append("        sockname: AF_UNIX")
                continue
            keepalive = socket_keepalive(pid, descriptor)
            if keepalive is None:
                keepalive = item.keepalive
            output += socket_lines(item, keepalive)
            continue
        kind = "S_IFREG" if stat.S_ISREG(info.st_mode) else "S_IFCHR" if stat.S_ISCHR(info.st_mode) else "S_IFIFO"
        output.append(
            "  %2d: %s mode:0%o dev:0,0 ino:%d uid:%d gid:%d size:%d"
            % (descriptor, kind, info.st_mode & 0o7777, info.st_ino % 100000, info.st_uid, info.st_gid, info.st_size)
        )
        output.append("      O_RDWR")
        if target.startswith("/"):
            output.append("      " + target)
sys.stdout.write("\n".join(output) + ("\n" if output else ""))
sys.exit(status)
