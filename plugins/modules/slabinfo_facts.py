# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Linux slab cache facts: how much kernel memory the conntrack caches (or any named cache) hold.

from __future__ import annotations

DOCUMENTATION = r"""
module: slabinfo_facts
short_description: Linux slab cache facts from /proc/slabinfo, conntrack caches by default
version_added: 0.1.0
description:
  - Reads C(/proc/slabinfo) (versions 1.1, 2.0 and 2.1, so 2.4 kernels up to current ones) into
    C(ansible_facts.netdiag.slabinfo) - per cache the object counts, object size, slab geometry and the bytes it
    holds. This is the C(grep conn /proc/slabinfo) of the classic conntrack investigation, with the arithmetic done.
  - By default only the conntrack caches are returned - C(ip_conntrack) (2.4 and early 2.6), C(nf_conntrack), the
    per-namespace C(nf_conntrack_<hex>) caches of 2.6.31 to 4.x kernels, and the expectation caches
    C(nf_conntrack_expect) and C(ip_conntrack_expect). O(names) selects any caches.
  - C(/proc/slabinfo) is readable by root only (mode 0400). Without root the module does not fail - it reports
    RV(ansible_facts.netdiag.slabinfo.available=false) with the reason C(needs become (root) to read /proc/slabinfo),
    so an audit run without become still completes.
options:
  names:
    description:
      - Regular expression (Python C(re) syntax, searched anywhere in the name) selecting the caches to return.
      - The default selects the conntrack caches, C(^(?:ip_conntrack|nf_conntrack)(?:_expect|_[0-9a-f]+)?$).
    type: str
  proc_root:
    description:
      - Directory read instead of C(/proc). For tests only; leave the default.
    type: path
    default: /proc
extends_documentation_fragment:
  - netdiag.tcp.attributes.facts
  - netdiag.tcp.attributes.platform
attributes:
  platform:
    platforms: linux
    support: full
    details: On other systems the module reports RV(ansible_facts.netdiag.slabinfo.available=false).
notes:
  - C(bytes) is num_slabs * pagesperslab * page size - the memory the cache holds, free objects and slab overhead
    included. C(active_bytes) is active_objs * objsize - the memory in objects in use.
  - SLUB merges caches of the same size; a merged conntrack cache may not show under its own name.
seealso:
  - module: netdiag.tcp.conntrack_facts
  - name: slabinfo(5)
    description: The format of /proc/slabinfo.
    link: https://man7.org/linux/man-pages/man5/slabinfo.5.html
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Memory held by the conntrack slab caches
  netdiag.tcp.slabinfo_facts:
  become: true

- name: TCP socket caches as well
  netdiag.tcp.slabinfo_facts:
    names: "^(TCP|tw_sock_TCP|request_sock_TCP|nf_conntrack)"
  become: true

- name: Show conntrack memory in MiB
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ (item.value.bytes / 1048576) | round(1) }} MiB"
  loop: "{{ ansible_facts.netdiag.slabinfo.caches | default({}) | dict2items }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    netdiag:
      description: The netdiag.tcp facts tree.
      returned: always
      type: complex
      contains:
        slabinfo:
          description: Slab caches.
          returned: always
          type: complex
          contains:
            available:
              description: Whether C(/proc/slabinfo) could be read.
              type: bool
              returned: always
              sample: true
            reason:
              description: Why not; null when available.
              type: str
              returned: always
              sample: needs become (root) to read /proc/slabinfo (mode 0400)
            version:
              description: The slabinfo format version.
              type: str
              returned: when available
              sample: "2.1"
            version_inferred:
              description:
                - V(true) when the text had no C(slabinfo - version) line and the version was inferred from the rows
                  (then V(2.x) or V(1.1)); always V(false) for C(/proc/slabinfo) itself.
              type: bool
              returned: when available
              sample: false
            page_size:
              description: Page size in bytes used for RV(ansible_facts.netdiag.slabinfo.caches.bytes).
              type: int
              returned: when available
              sample: 4096
            caches:
              description: Selected caches by name.
              type: dict
              returned: when available
              sample: {"nf_conntrack": {"active_objs": 3024, "num_objs": 4090, "objsize": 320, "objperslab": 12,
                "pagesperslab": 1, "active_slabs": 341, "num_slabs": 341, "bytes": 1396736, "active_bytes": 967680}}
              contains:
                active_objs:
                  description: Objects in use.
                  type: int
                num_objs:
                  description: Objects allocated (in use and free).
                  type: int
                objsize:
                  description: Object size in bytes.
                  type: int
                objperslab:
                  description: Objects per slab (derived as num_objs / num_slabs for version 1.1, which does not
                    print it; null when there are no slabs).
                  type: int
                pagesperslab:
                  description: Pages per slab.
                  type: int
                active_slabs:
                  description: Slabs with at least one object in use.
                  type: int
                num_slabs:
                  description: Slabs allocated.
                  type: int
                bytes:
                  description: Memory the cache holds - num_slabs * pagesperslab * page_size.
                  type: int
                active_bytes:
                  description: Memory in objects in use - active_objs * objsize.
                  type: int
"""

import platform
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_slabinfo import (
    COLLECTORS,
    NoSlabinfo,
    SlabinfoError,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "str"},
            "proc_root": {"type": "path", "default": "/proc"},
        },
        supports_check_mode=True,
    )
    if module.params["names"] is not None:
        try:
            re.compile(module.params["names"])
        except re.error as error:
            module.fail_json(msg="names: %r is not a valid regular expression: %s" % (module.params["names"], error))
    collector = COLLECTORS.get(platform.system(), NoSlabinfo)(module.params["names"], module.params["proc_root"])
    try:
        facts = collector.collect()
    except SlabinfoError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, ansible_facts={"netdiag": {"slabinfo": facts}})


if __name__ == "__main__":
    main()
