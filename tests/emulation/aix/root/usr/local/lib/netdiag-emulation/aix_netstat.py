# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): AIX `netstat -an` / `netstat -Aan` from this host's real Linux sockets.

Column layout as the real AIX 7.3 sample (tests/unit/fixtures/aix/netstat-Aan-1.txt): PCB, Proto, Recv-Q,
Send-Q, then address.port fields 21 wide, then the BSD state name. Sockets that the emulated rmsock removed
are left out. Only -a, -n and -A are understood (in any combination, e.g. -Aan).
"""

import sys

import aix_emulation

flags = set()
for argument in sys.argv[1:]:
    if not argument.startswith("-") or not set(argument[1:]) <= set("aAn"):
        sys.stderr.write("netstat: emulation understands only -a, -n and -A (got %s)\n" % argument)
        sys.exit(1)
    flags |= set(argument[1:])
with_pcb = "A" in flags

lines = ["Active Internet connections%s" % (" (including servers)" if "a" in flags else "")]
HEADER = "Proto Recv-Q Send-Q  Local Address      Foreign Address    (state)"
lines.append(("PCB/ADDR         " if with_pcb else "") + HEADER)
for item in aix_emulation.sockets():
    if "a" not in flags and item.state == "LISTEN":
        continue
    row = "%-5s %6d %6d  %-21s %-21s" % (
        item.proto,
        item.receive_queue,
        item.send_queue,
        aix_emulation.endpoint(item.local, item.local_port),
        aix_emulation.endpoint(item.remote, item.remote_port),
    )
    row = row + " " + item.state if item.state else row.rstrip()
    lines.append((item.pcb + " " if with_pcb else "") + row)
lines.append("")
lines.append("Active UNIX domain sockets")
lines.append(
    ("SADR/PCB         " if with_pcb else "")
    + "Type   Recv-Q Send-Q      Inode            Conn             Refs           Nextref      Addr"
)
sys.stdout.write("\n".join(lines) + "\n")
