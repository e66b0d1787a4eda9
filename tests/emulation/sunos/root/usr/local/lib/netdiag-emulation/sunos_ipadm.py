# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): Solaris 11 `ipadm show-prop -p NAME[,NAME] tcp` for the keepalive tunables.

Table layout of the real sample tests/unit/fixtures/sunos/ipadm-show-prop-1.txt (PROTO PROPERTY PERM CURRENT
PERSISTENT DEFAULT POSSIBLE). Values in milliseconds from this namespace's Linux keepalive sysctls (see
sunos_emulation.keepalive_milliseconds); DEFAULT and POSSIBLE are the Oracle-documented ones.
"""

import sys

import sunos_emulation

values = sunos_emulation.keepalive_milliseconds()
PROPERTIES = {
    "_keepalive_interval": (values["tcp_keepalive_interval"], 7200000, "10000-864000000"),
    "_keepalive_abort_interval": (values["tcp_keepalive_abort_interval"], 480000, "0-480000"),
}
arguments = sys.argv[1:]
if len(arguments) != 4 or arguments[0] != "show-prop" or arguments[1] != "-p" or arguments[3] != "tcp":
    sys.stderr.write("ipadm: emulation understands only: ipadm show-prop -p NAME[,NAME...] tcp\n")
    sys.exit(1)
names = arguments[2].split(",")
unknown = [name for name in names if name not in PROPERTIES]
if unknown:
    sys.stderr.write("ipadm: unknown property '%s' for protocol tcp\n" % unknown[0])
    sys.exit(1)
print("PROTO PROPERTY              PERM CURRENT      PERSISTENT   DEFAULT      POSSIBLE")
for name in names:
    current, default, possible = PROPERTIES[name]
    persistent = str(current) if current != default else "--"
    print("tcp   %-21s rw   %-12s %-12s %-12s %s" % (name, current, persistent, default, possible))
