# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): illumos / Solaris 11.4 `connstat -P -o FIELD,...` from this host's real TCP sockets.

Parsable form of connstat(8): one line per TCP connection, the requested fields comma-separated, no header. Address,
port and state come from /proc/net/tcp*; the counters are not emulated (Linux /proc/net/tcp does not have them) and
are printed as 0. A real connstat only reads kernel counters, with no side effect.
"""

import sys

import sunos_emulation

arguments = sys.argv[1:]
if len(arguments) != 3 or arguments[0] != "-P" or arguments[1] != "-o":
    sys.stderr.write("connstat: emulation understands only: connstat -P -o FIELD,...\n")
    sys.exit(1)
fields = arguments[2].lower().split(",")
for item in sunos_emulation.sockets():
    if item.protocol != "tcp" or item.state in ("LISTEN", "BOUND", "IDLE"):
        continue
    state = {"SYN_RCVD": "SYN_RECEIVED"}.get(item.state, item.state)
    values = {"laddr": str(item.local), "lport": item.local_port, "raddr": str(item.remote)}
    values.update({"rport": item.remote_port, "state": state})
    print(",".join(str(values.get(field, 0)) for field in fields))
