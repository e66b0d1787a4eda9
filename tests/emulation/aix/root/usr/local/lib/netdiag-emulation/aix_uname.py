# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): AIX uname. -s AIX, -r 3, -v 7 (AIX 7.3), -m machine id, -n node, -a all."""

import os
import sys

node = os.uname().nodename
fields = {"s": "AIX", "n": node, "r": "3", "v": "7", "m": "00C8E2F84C00", "p": "powerpc"}
wanted = []
for argument in sys.argv[1:] or ["-s"]:
    if not argument.startswith("-") or len(argument) < 2:
        sys.stderr.write("uname: Not a recognized flag: %s\n" % argument)
        sys.exit(1)
    for letter in argument[1:]:
        if letter == "a":
            wanted += ["s", "n", "r", "v", "m"]
        elif letter in fields:
            wanted.append(letter)
        else:
            sys.stderr.write("uname: Not a recognized flag: %s\n" % letter)
            sys.exit(1)
order = "snrvmp"
print(" ".join(fields[letter] for letter in order if letter in wanted))
