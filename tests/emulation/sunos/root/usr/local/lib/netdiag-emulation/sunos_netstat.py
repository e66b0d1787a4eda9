# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): Solaris 11.4 `netstat -an[u] [-P tcp|udp] [-f inet|inet6]` from this host's real
Linux sockets.

Sections, headers and column widths are those of the real samples: tests/unit/fixtures/sunos/netstat-u-1.txt
(Solaris 11.4.86 `netstat -anu`: UDP before TCP, User/Pid/Command, UDP buffer columns) and netstat-an-2.txt
(`netstat -an` without -u). As illumos does (OmniOS r151028 release notes, netstat-nuf-inet-1.txt), a socket held
by several processes gets one -u row per process, and a socket no process holds (TIME_WAIT) is printed without
the User/Pid/Command columns. Swind/Rwind are made up (Linux /proc does not show windows); Send-Q/Recv-Q are the
real queues. With /var/lib/netdiag-emulation/sunos/release containing 5.10, -u is refused as Solaris 10's
netstat refuses it.
"""

import os
import sys

import sunos_emulation

USAGE = (
    "usage: netstat [-anv] [-f address_family] [-P protocol]\n"
    "       netstat [-g | -p | -s] [-n] [-f address_family] [-P protocol]\n"
)
RELEASE_FILE = os.path.join(sunos_emulation.STATE_FILE_DIRECTORY, "release")


def release():
    try:
        with open(RELEASE_FILE) as handle:
            return handle.read().strip()
    except OSError:
        return "5.11"


def fail(message):
    sys.stderr.write(message + USAGE)
    sys.exit(1)


flags, protocol, family = set(), None, None
arguments = sys.argv[1:]
index = 0
while index < len(arguments):
    argument = arguments[index]
    if argument in ("-P", "-f") and index + 1 < len(arguments):
        index += 1
        if argument == "-P":
            protocol = arguments[index]
        else:
            family = arguments[index]
    elif argument.startswith("-") and len(argument) > 1 and set(argument[1:]) <= set("anu"):
        flags |= set(argument[1:])
    else:
        fail("netstat: emulation understands only -a, -n, -u, -P tcp|udp, -f inet|inet6 (got %s)\n" % argument)
    index += 1
if "u" in flags and release() == "5.10":
    fail("netstat: illegal option -- u\n")
if protocol not in (None, "tcp", "udp") or family not in (None, "inet", "inet6"):
    fail("netstat: emulation: unknown protocol or family\n")
owners = "u" in flags
show_all = "a" in flags

HEADERS = {
    ("udp", "inet", False): (
        "   Local Address        Remote Address      State",
        "-------------------- -------------------- ----------",
    ),
    ("udp", "inet6", False): (
        "   Local Address                     Remote Address                   State      If",
        "--------------------------------- --------------------------------- ---------- -----",
    ),
    ("tcp", "inet", False): (
        "   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State",
        "-------------------- -------------------- ----- ------ ----- ------ -----------",
    ),
    ("tcp", "inet6", False): (
        "   Local Address                     Remote Address                 Swind Send-Q Rwind Recv-Q   State      If",
        "--------------------------------- --------------------------------- ----- ------ ----- ------ "
        "----------- -----",
    ),
    ("udp", "inet", True): (
        "   Local Address        Remote Address      User    Pid      Command      State       Send Buf     "
        "TxOverflows     Recv Buf     RxOverflows",
        "-------------------- -------------------- -------- ------ ------------- ----------  ------------ "
        "--------------- ------------ ---------------",
    ),
    ("udp", "inet6", True): (
        "   Local Address                     Remote Address                   User    Pid      Command       State"
        "      If    Send Buf     TxOverflows     Recv Buf     RxOverflows",
        "--------------------------------- --------------------------------- -------- ------ -------------- "
        "---------- ----- ------------ --------------- ------------ ---------------",
    ),
    ("tcp", "inet", True): (
        "   Local Address        Remote Address      User     Pid     Command     Swind  Send-Q  Rwind  Recv-Q"
        "    State",
        "-------------------- -------------------- -------- ------ ------------- ------- ------ ------- ------ "
        "-----------",
    ),
    ("tcp", "inet6", True): (
        "   Local Address                     Remote Address                   User    Pid      Command      Swind  "
        "Send-Q  Rwind  Recv-Q   State      If",
        "--------------------------------- --------------------------------- -------- ------ -------------- ------- "
        "------ ------- ------ ----------- -----",
    ),
}
BUFFER = 57344  # Send Buf / Recv Buf of every UDP socket in the real 11.4 sample


def row(item, holder):
    """One netstat row; holder is (pid, command, user) or None (printed without the owner columns)."""
    wide = item.family == "inet6"
    width = 33 if wide else 20
    local = sunos_emulation.address_text(item.local, item.local_port)
    if item.protocol == "udp":
        remote = sunos_emulation.address_text(item.remote, item.remote_port) if item.remote_port else ""
    else:
        remote = sunos_emulation.address_text(item.remote, item.remote_port)
    text = "%-*s %-*s " % (width, local, width, remote)
    if owners and holder is not None:
        pid, command, user = holder
        # Command is 13 wide only in the TCP IPv4 table of the real sample, 14 in the others.
        text += "%-8.8s %6d %-*s " % (user, pid, 13 if item.protocol == "tcp" and not wide else 14, command)
    if item.protocol == "tcp":
        connected = item.state not in ("LISTEN", "BOUND", "IDLE")
        swind, rwind = (128872 if connected else 0), (128872 if connected else 128000)
        if owners:
            text += "%7d %6d %7d %6d %s" % (swind, item.send_queue, rwind, item.receive_queue, item.state)
        else:
            text += "%5d %6d %5d %6d %s" % (swind, item.send_queue, rwind, item.receive_queue, item.state)
        return text + ("      " if wide else "")
    text += "%-10s" % item.state
    if wide:
        text += " %-5s" % ""
    if owners:
        text += " %12d %15d %12d %15d " % (BUFFER, 0, BUFFER, 0)
    return text


def visible(item):
    if protocol and item.protocol != protocol:
        return False
    if family and item.family != family:
        return False
    if show_all:
        return True
    return item.protocol == "tcp" and item.state not in ("LISTEN", "BOUND", "IDLE")


everything = sunos_emulation.sockets()
holders = sunos_emulation.holders() if owners else {}
lines = []
for section_protocol in ("udp", "tcp"):
    for section_family in ("inet", "inet6"):
        items = [
            item
            for item in everything
            if item.protocol == section_protocol and item.family == section_family and visible(item)
        ]
        if not items:
            continue
        lines.append("")
        lines.append("%s: %s" % (section_protocol.upper(), "IPv4" if section_family == "inet" else "IPv6"))
        lines.extend(HEADERS[(section_protocol, section_family, owners)])
        for item in items:
            for holder in holders.get(item.inode) or [None]:
                lines.append(row(item, holder))
if protocol is None and family is None:
    lines.append("")
    lines.append("Active UNIX domain sockets")
    if owners:
        lines.append(
            "         Address Type       User        Pid Command                   Vnode             Conn "
            "Local Addr           Remote Addr"
        )
    else:
        lines.append("Address  Type          Vnode     Conn  Local Addr      Remote Addr")
sys.stdout.write("\n".join(lines) + "\n")
