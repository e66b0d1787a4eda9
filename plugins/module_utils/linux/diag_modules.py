# SPDX-License-Identifier: GPL-3.0-or-later
"""Would a sock_diag dump make this kernel load a module? Asking the kernel for a dump loads whatever handler is
missing (``request_module`` for ``inet_diag``, ``tcp_diag``, ``udp_diag``, the way ``ss`` loads them on first use).
A loaded module stays until someone unloads it, and hardened hosts audit or forbid module loading, so an audit that
promises to change nothing asks only when nothing would be loaded, and reads /proc/net otherwise.

Nothing can be loaded when the kernel has no module support (no ``/proc/modules``) or module loading is switched
off (``kernel.modules_disabled = 1``). Otherwise each module must already be there: loaded or built in, both shown
by ``/sys/module/<name>``, or listed in ``/lib/modules/<release>/modules.builtin`` (a built-in module without
parameters may have no ``/sys/module`` entry). Standard library only; the roots are parameters for the tests.
"""

from __future__ import annotations

import os

# The handlers a dump of each protocol needs (include/linux/sock_diag.h, net/ipv4/inet_diag.c).
DIAG_MODULES = {"tcp": ("inet_diag", "tcp_diag"), "udp": ("inet_diag", "udp_diag")}


def modules_to_load(protocol, proc_root="/proc", sys_root="/sys", modules_root="/lib/modules", release=None):
    """The names of the modules a sock_diag dump of ``protocol`` would make the kernel load, in load order;
    empty when asking changes nothing."""
    if not os.path.exists(os.path.join(proc_root, "modules")):
        return []  # a kernel without module support loads nothing
    if _read(os.path.join(proc_root, "sys", "kernel", "modules_disabled")).strip() == "1":
        return []
    missing = [name for name in DIAG_MODULES[protocol] if not os.path.isdir(os.path.join(sys_root, "module", name))]
    if missing:
        builtin = _builtin_modules(modules_root, release or os.uname().release)
        missing = [name for name in missing if name not in builtin]
    return missing


def _builtin_modules(modules_root, release):
    """Module names listed in modules.builtin ("kernel/net/ipv4/tcp_diag.ko" -> "tcp_diag"); empty if unreadable."""
    names = set()
    for line in _read(os.path.join(modules_root, release, "modules.builtin")).splitlines():
        base = os.path.basename(line.strip())
        if base.endswith(".ko"):
            names.add(base[: -len(".ko")].replace("-", "_"))
    return names


def _read(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
