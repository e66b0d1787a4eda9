# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): Solaris `ndd -get /dev/tcp tcp_keepalive_interval|tcp_keepalive_abort_interval`.

One value per line in milliseconds, as the real sample tests/unit/fixtures/sunos/ndd-keepalive-1.txt; values from
this namespace's Linux keepalive sysctls (see sunos_emulation.keepalive_milliseconds).
"""

import sys

import sunos_emulation

arguments = sys.argv[1:]
values = sunos_emulation.keepalive_milliseconds()
if len(arguments) != 3 or arguments[:2] != ["-get", "/dev/tcp"]:
    sys.stderr.write("ndd: emulation understands only: ndd -get /dev/tcp NAME\n")
    sys.exit(1)
if arguments[2] not in values:
    sys.stderr.write("operation failed: Invalid argument\n")
    sys.exit(1)
print(values[arguments[2]])
