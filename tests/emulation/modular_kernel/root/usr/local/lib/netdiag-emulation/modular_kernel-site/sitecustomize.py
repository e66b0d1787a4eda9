# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): show the emulated module list as /proc/modules to the code this Python runs.

This machine's kernel has no module support, so its procfs has no /proc/modules file to mount over. Loaded through
/usr/local/bin/python-modular_kernel (PYTHONPATH); only opening exactly "/proc/modules" is redirected. See
/usr/local/lib/netdiag-emulation/modular_kernel.py.
"""

from __future__ import annotations

import builtins
import io

_REDIRECTED = {"/proc/modules": "/run/netdiag-emulation/modular_kernel/proc-modules"}
_real_open = builtins.open


def _open(file, *args, **kwargs):
    if isinstance(file, str) and file in _REDIRECTED:
        file = _REDIRECTED[file]
    return _real_open(file, *args, **kwargs)


builtins.open = _open
io.open = _open
