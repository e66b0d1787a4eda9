# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): make this Linux Python report AIX 7.3 to the code it runs.

Loaded through /usr/local/bin/python-aix (PYTHONPATH). Only what platform-detecting code reads is changed:
os.uname() (sysname "AIX", release "3", version "7", an AIX-style machine id) and platform.system()/uname().
sys.platform stays "linux": changing it would break the standard library's own Linux code paths.
"""

from __future__ import annotations

import os
import platform

_linux_uname = os.uname


def _aix_uname():
    real = _linux_uname()
    return os.uname_result(("AIX", real.nodename, "3", "7", "00C8E2F84C00"))


os.uname = _aix_uname
platform._uname_cache = None  # platform.uname() caches; drop anything cached before this file ran
platform.system = lambda: "AIX"
