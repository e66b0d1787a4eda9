# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): Solaris 11.4 `uname` (-s SunOS, -r 5.11, -v 11.4.86.201.2, -m i86pc, -p i386,
-n node, -a) for code that detects the platform with uname (raw mode)."""

import os
import sys

node = os.uname().nodename
FIELDS = {"s": "SunOS", "n": node, "r": "5.11", "v": "11.4.86.201.2", "m": "i86pc", "p": "i386", "i": "i86pc"}
letters = "".join(argument[1:] for argument in sys.argv[1:] if argument.startswith("-")) or "s"
if "a" in letters:
    letters = "snrvmpi"
if not set(letters) <= set(FIELDS):
    sys.stderr.write("usage: uname [-snrvmapiX]\n")
    sys.exit(1)
print(" ".join(FIELDS[letter] for letter in "snrvmpi" if letter in letters))
