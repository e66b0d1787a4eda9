# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): make this Linux Python report SunOS 5.11 (Solaris 11.4) to the code it runs.

Loaded through /usr/local/bin/python-sunos (PYTHONPATH). Only what platform-detecting code reads is changed:
os.uname() (sysname "SunOS", release "5.11", version "11.4.86.201.2", machine "i86pc") and platform.system()/uname().
sys.platform stays "linux": changing it would break the standard library's own Linux code paths.
"""

from __future__ import annotations

import os
import platform

_linux_uname = os.uname


def _sunos_uname():
    real = _linux_uname()
    return os.uname_result(("SunOS", real.nodename, "5.11", "11.4.86.201.2", "i86pc"))


os.uname = _sunos_uname
platform._uname_cache = None  # platform.uname() caches; drop anything cached before this file ran
platform.system = lambda: "SunOS"
