# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Everything playbooks/audit.yml reads from one host, in one module run: socket tables, conntrack, slab caches.

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_facts
short_description: Everything the audit reads from one host, in one module run
version_added: 0.1.0
description:
  - Runs what M(netdiag.tcp.netstat_facts), M(netdiag.tcp.conntrack_facts) and M(netdiag.tcp.slabinfo_facts) read,
    one after the other, in a single module run, and returns the same sections under C(ansible_facts.netdiag) -
    C(netstat), C(keepalive), C(aix) or C(sunos) where the platform has them, C(conntrack) and C(slabinfo). The
    audit playbook (C(playbooks/audit.yml)) uses it so that a host costs one module round trip instead of three.
  - Each section is read as its own module reads it, with the same collectors, options and messages. One section
    failing never loses the others - the failure is reported in RV(failures) under the name
    of the module that would have failed (V(netstat_facts), V(conntrack_facts), V(slabinfo_facts)) with that
    module's message, and the module itself succeeds. It fails only for invalid options, before it reads anything.
  - Read-only. It has none of the side-effect switches of M(netdiag.tcp.netstat_facts) (C(aix_rmsock),
    C(sunos_pfiles)) nor C(sunos_connstat); use that module for them.
  - Conntrack is read with its defaults (C(top=10), the table walked) and only O(ports) and O(peers) as filters;
    the slab caches with the default conntrack cache selection.
options:
  ports:
    description:
      - Only sockets and conntrack entries with one of these ports (as O(netdiag.tcp.netstat_facts#module:ports) and
        O(netdiag.tcp.conntrack_facts#module:ports)).
    type: list
    elements: int
    default: []
  peers:
    description:
      - Only sockets whose remote address, and conntrack entries whose original source or destination address, is
        one of these addresses or lies in one of these CIDR networks.
    type: list
    elements: str
    default: []
  max_connections:
    description:
      - Most sockets to list in C(netstat.connections); V(0) returns counts only. Counts are always over all
        selected sockets.
    type: int
    default: 100
  max_peers:
    description:
      - Most C(netstat.established_by_peer) entries per direction and service port; V(0) means no limit.
    type: int
    default: 10
  max_listeners:
    description: Most entries in C(netstat.listeners); V(0) means no limit.
    type: int
    default: 1000
  owners:
    description:
      - Map sockets to their owning pid, process and user (as O(netdiag.tcp.netstat_facts#module:owners)).
    type: bool
    default: true
  owner_scan_budget:
    description: Seconds the owner scan may take; V(0) means no limit.
    type: float
    default: 20
  command_timeout:
    description:
      - Seconds each command (AIX and SunOS netstat collectors, C(conntrack -L) and C(conntrack -S)) may run before
        it is killed; V(0) means no limit.
    type: float
    default: 60
  tuples:
    description:
      - Also return every selected ESTABLISHED TCP socket compactly in C(netstat.established_tuples) and the
        processes holding them in C(netstat.holders), as O(netdiag.tcp.netstat_facts#module:tuples).
    type: bool
    default: false
  max_tuples:
    description: Most sockets listed in C(netstat.established_tuples).
    type: int
    default: 200000
  nat_tuples:
    description:
      - Also return the translated ESTABLISHED TCP conntrack entries in C(conntrack.nat_tuples), as
        O(netdiag.tcp.conntrack_facts#module:nat_tuples).
    type: bool
    default: false
  max_nat_tuples:
    description: Most entries listed in C(conntrack.nat_tuples).
    type: int
    default: 200000
extends_documentation_fragment:
  - netdiag.tcp.attributes.facts
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [Linux, AIX, Solaris]
    details:
      - Conntrack and slab caches exist on Linux only; elsewhere those sections report C(available=false).
notes:
  - Reading C(/proc/slabinfo), the conntrack table and other users' socket owners needs root (C(become=true));
    without it those parts report why, as the separate modules do.
seealso:
  - module: netdiag.tcp.netstat_facts
  - module: netdiag.tcp.conntrack_facts
  - module: netdiag.tcp.slabinfo_facts
  - module: netdiag.tcp.audit_report
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Read everything the audit needs from each host in one module run
  netdiag.tcp.audit_facts:
    ports: [5555]
    max_peers: 0
    tuples: true
    nat_tuples: true
  become: true
  register: audit_facts_result

- name: Say which parts could not be read
  ansible.builtin.debug:
    msg: "{{ audit_facts_result.failures | dict2items | selectattr('value') | list }}"
"""

RETURN = r"""
failures:
  description:
    - Per part, the message of the module that would have failed reading it (its name is the key); null when it did
      not fail. Beside the facts, not in them, so that C(ansible_facts.netdiag) holds the same sections as after the
      three separate modules.
  returned: always
  type: complex
  contains:
    netstat_facts:
      description: Why the socket tables could not be read, or null.
      type: str
      returned: always
      sample: "netstat_facts: could not read the socket tables: /usr/bin/netstat -Aan failed (rc=1): ..."
    conntrack_facts:
      description: Why conntrack could not be read, or null.
      type: str
      returned: always
      sample: "/proc/net/nf_conntrack: line 3: not a conntrack entry"
    slabinfo_facts:
      description: Why the slab caches could not be read, or null.
      type: str
      returned: always
      sample: "/proc/slabinfo: line 2: unrecognised header"
ansible_facts:
  description: The host's C(ansible_facts.netdiag), replaced as a whole (sections of earlier runs, which a fact
    cache keeps, are not mixed with this run's).
  returned: always
  type: complex
  contains:
    netdiag:
      description: The netdiag.tcp facts tree.
      returned: always
      type: complex
      contains:
        netstat:
          description: The socket table summary, as RV(netdiag.tcp.netstat_facts#module:ansible_facts.netdiag.netstat).
          returned: when the socket tables could be read
          type: dict
          sample: {"state_counts": {"ESTABLISHED": 291}, "reader": "sock_diag", "platform": "Linux"}
        keepalive:
          description: The host's TCP keepalive defaults, as M(netdiag.tcp.netstat_facts) returns them.
          returned: when the socket tables could be read
          type: dict
          sample: {"time": 7200, "intvl": 75, "probes": 9, "source": "/proc/sys/net/ipv4"}
        aix:
          description: AIX results of the netstat collector, as M(netdiag.tcp.netstat_facts) returns them.
          returned: on AIX when the collector returns some
          type: dict
        sunos:
          description: What the SunOS netstat collector did besides the socket table, as M(netdiag.tcp.netstat_facts).
          returned: on SunOS
          type: dict
        conntrack:
          description: Connection tracking facts, as
            RV(netdiag.tcp.conntrack_facts#module:ansible_facts.netdiag.conntrack).
          returned: when conntrack could be read (also when it is not available - then C(available=false))
          type: dict
          sample: {"available": true, "count": 3024, "max": 262144, "source": "/proc/net/nf_conntrack"}
        slabinfo:
          description: Slab caches, as RV(netdiag.tcp.slabinfo_facts#module:ansible_facts.netdiag.slabinfo).
          returned: when the slab caches could be read (also when not available - then C(available=false))
          type: dict
          sample: {"available": false, "reason": "needs become (root) to read /proc/slabinfo (mode 0400)"}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_conntrack as conntrack_collector
from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_slabinfo as slabinfo_collector
from ansible_collections.netdiag.tcp.plugins.module_utils.collect import platforms
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection

ARGUMENT_SPEC = {
    "ports": {"type": "list", "elements": "int", "default": []},
    "peers": {"type": "list", "elements": "str", "default": []},
    "max_connections": {"type": "int", "default": 100},
    "max_peers": {"type": "int", "default": 10},
    "max_listeners": {"type": "int", "default": 1000},
    "owners": {"type": "bool", "default": True},
    "owner_scan_budget": {"type": "float", "default": 20},
    "command_timeout": {"type": "float", "default": 60},
    "tuples": {"type": "bool", "default": False},
    "max_tuples": {"type": "int", "default": 200000},
    "nat_tuples": {"type": "bool", "default": False},
    "max_nat_tuples": {"type": "int", "default": 200000},
}


def netstat_params(params):
    """The netstat_facts options of this run: every socket state, protocol and family; side-effect switches off."""
    netstat = dict(params)
    netstat.update(
        states=[],
        protocols=["tcp", "udp"],
        families=["inet", "inet6"],
        aix_rmsock=False,
        sunos_pfiles=False,
        sunos_connstat=False,
        sock_diag_load_modules=False,
    )
    return netstat


def conntrack_params(params):
    """The conntrack_facts options of this run: its defaults, with the audit's filters and NAT tuples."""
    return {
        "top": 10,
        "ports": params["ports"],
        "states": None,
        "peers": params["peers"],
        "table": True,
        "nat_tuples": params["nat_tuples"],
        "max_nat_tuples": params["max_nat_tuples"],
        "proc_root": "/proc",
        "config_root": "/",
        "command_timeout": params["command_timeout"],
    }


def validate(params, system):
    """(netstat selection, conntrack selection); ValueError naming the bad option, before anything is read."""
    netstat_selection = platforms.validated_selection(netstat_params(params), system)
    if params["max_nat_tuples"] < 0:
        raise ValueError("max_nat_tuples: %d is not a number >= 0" % params["max_nat_tuples"])
    conntrack_selection = Selection(ports=params["ports"] or None, states=None, peers=params["peers"] or None)
    return netstat_selection, conntrack_selection


def read_netstat(module, system, selection):
    """(sections, failure message or None), as netstat_facts would return or fail."""
    collector_class = platforms.collector_class_for(system)
    if collector_class is None:
        return {}, platforms.unsupported_platform(system)
    params = netstat_params(module.params)
    try:
        collector = platforms.new_collector(collector_class, module, params)
        sections, _changed = platforms.read_sections(collector, selection, params)
    except (OSError, ValueError) as error:
        return {}, "netstat_facts: could not read the socket tables: %s" % error
    return sections, None


def read_conntrack(module, system, selection):
    """(conntrack section or None, failure message or None), as conntrack_facts would return or fail."""

    def get_bin_path(name, required=False):
        # module.get_bin_path(required=True) would end the whole module run: fail this part only, same message.
        path = module.get_bin_path(name)
        if path is None and required:
            raise conntrack_collector.ConntrackError('Failed to find required executable "%s"' % name)
        return path

    collector_class = conntrack_collector.COLLECTORS.get(system, conntrack_collector.NoConntrack)
    collector = collector_class(conntrack_params(module.params), selection, get_bin_path, module.warn)
    try:
        return collector.collect(), None
    except (conntrack_collector.ConntrackError, OSError, ValueError) as error:
        return None, str(error)


def read_slabinfo(system):
    """(slabinfo section or None, failure message or None), as slabinfo_facts would return or fail."""
    collector = slabinfo_collector.COLLECTORS.get(system, slabinfo_collector.NoSlabinfo)()
    try:
        return collector.collect(), None
    except (slabinfo_collector.SlabinfoError, OSError, ValueError) as error:
        return None, str(error)


def isolated(part, empty, read, *arguments):
    """read(*arguments), or (empty, message) when it raises something its module did not foresee: one part's bug
    (a kernel answer nobody has seen) must not lose the parts already read. The expected errors are handled inside
    each read_* with the message its own module would give."""
    try:
        return read(*arguments)
    except Exception as error:  # pylint: disable=broad-exception-caught
        kind = type(error).__name__
        if type(error).__module__ not in ("builtins", "__main__"):
            kind = "%s.%s" % (type(error).__module__, kind)
        return empty, "%s: unexpected %s: %s" % (part, kind, error)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    system = platform.system()
    try:
        netstat_selection, conntrack_selection = validate(module.params, system)
    except ValueError as error:
        module.fail_json(msg="audit_facts: %s" % error)
    sections, netstat_failure = isolated("netstat_facts", {}, read_netstat, module, system, netstat_selection)
    conntrack, conntrack_failure = isolated(
        "conntrack_facts", None, read_conntrack, module, system, conntrack_selection
    )
    slabinfo, slabinfo_failure = isolated("slabinfo_facts", None, read_slabinfo, system)
    if conntrack is not None:
        sections["conntrack"] = conntrack
    if slabinfo is not None:
        sections["slabinfo"] = slabinfo
    failures = {
        "netstat_facts": netstat_failure,
        "conntrack_facts": conntrack_failure,
        "slabinfo_facts": slabinfo_failure,
    }
    # Read-only: no option of this module can change a host.
    module.exit_json(changed=False, failures=failures, ansible_facts={"netdiag": sections})


if __name__ == "__main__":
    main()
