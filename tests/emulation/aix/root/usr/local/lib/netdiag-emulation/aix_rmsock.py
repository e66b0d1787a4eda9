# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): AIX `rmsock <address> tcpcb|inpcb|socket` over this host's real sockets.

Answers with the real rmsock sentences (tests/unit/fixtures/aix/rmsock-*.txt):
- a socket some process has open (a /proc/<pid>/fd link): "The socket 0x... is being held by proccess PID (NAME)."
- a TCP socket no process holds (on Linux: the inode-less ones, e.g. FIN_WAIT_2, LAST_ACK, TIME_WAIT):
  "socket 0x... is removed." and the PCB is recorded in /var/lib/netdiag-emulation/aix/removed-pcbs, so the
  emulated netstat and kdb no longer show it (the real Linux socket is not touched).
Every call is logged to /var/lib/netdiag-emulation/aix/rmsock-calls (tests check who ran rmsock on what).
- an address that is no tcpcb of this host (unknown, or a udp PCB given as tcpcb), or not root:
  "rmsock : Unable to read kernel address ADDRESS, errno = 22" (13 when not root).
"""

import os
import sys

import aix_emulation

if len(sys.argv) != 3 or sys.argv[2] not in ("tcpcb", "inpcb", "socket"):
    sys.stderr.write("Usage: rmsock Address TypeofAddress\n")
    sys.exit(1)
address, kind = sys.argv[1], sys.argv[2]
aix_emulation.log_rmsock_call(sys.argv[1:])
if os.geteuid() != 0:
    print("rmsock : Unable to read kernel address %s, errno = 13" % address)
    sys.exit(1)
item = aix_emulation.find(address)
if item is None or (kind == "tcpcb" and not item.proto.startswith("tcp")):
    print("rmsock : Unable to read kernel address %s, errno = 22" % address)
    sys.exit(1)
holders = aix_emulation.owners().get(item.inode, []) if item.inode else []
if holders:
    pid, _fd, command = holders[0]
    print("The socket 0x%s is being held by proccess %d (%s)." % (item.socket_address, pid, command))
else:
    aix_emulation.record_removed(item.pcb)
    print("socket 0x%s is removed." % item.socket_address)
