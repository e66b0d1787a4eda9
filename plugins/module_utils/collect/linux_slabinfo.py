# SPDX-License-Identifier: GPL-3.0-or-later
"""The slabinfo collector of netdiag.tcp.slabinfo_facts and netdiag.tcp.audit_facts (moved out of the module so that
audit_facts reads the slab caches in the same module run as the socket tables).

The collector gets the two options it reads (``names``, ``proc_root``), never the AnsibleModule object. Where the
module used to fail it raises SlabinfoError with the same message.
"""

from __future__ import annotations

import errno
import os
import platform

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo

NEEDS_BECOME = "needs become (root) to read /proc/slabinfo (mode 0400)"


class SlabinfoError(Exception):
    """The module must fail with this message (/proc/slabinfo could not be parsed)."""


class LinuxSlabinfo:
    def __init__(self, names=None, proc_root="/proc"):
        self.names = names
        self.proc_root = proc_root

    def collect(self):
        path = os.path.join(self.proc_root, "slabinfo")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except PermissionError:
            return {"available": False, "reason": NEEDS_BECOME}
        except FileNotFoundError:
            return {
                "available": False,
                "reason": "/proc/slabinfo does not exist (kernel built without CONFIG_SLUB_DEBUG or slab statistics)",
            }
        except OSError as error:
            if error.errno == errno.EACCES:
                return {"available": False, "reason": NEEDS_BECOME}
            return {"available": False, "reason": "cannot read /proc/slabinfo: %s" % error}
        try:
            facts = linux_slabinfo.parse(text, names=self.names, page_size=os.sysconf("SC_PAGE_SIZE"))
        except ParseError as error:
            raise SlabinfoError("/proc/slabinfo: %s" % error) from error
        facts["available"] = True
        facts["reason"] = None
        return facts


class NoSlabinfo:
    def __init__(self, names=None, proc_root="/proc"):
        self.names = names
        self.proc_root = proc_root

    def collect(self):
        return {
            "available": False,
            "reason": "/proc/slabinfo exists only on Linux; this host runs %s" % platform.system(),
        }


COLLECTORS = {"Linux": LinuxSlabinfo, "AIX": NoSlabinfo, "SunOS": NoSlabinfo}
