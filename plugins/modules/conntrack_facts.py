# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Linux connection tracking facts: size, timeouts, a streamed summary of the table, statistics, boot settings.

from __future__ import annotations

DOCUMENTATION = r"""
module: conntrack_facts
short_description: Linux connection tracking (conntrack) facts, table summary included
version_added: 0.1.0
description:
  - Reads the netfilter connection tracking state of a Linux host into C(ansible_facts.netdiag.conntrack) - the
    number of entries and the table limit, every conntrack timeout, a summary of the table (TCP states, unreplied
    and assured entries, the top sources and destinations), the per-CPU statistics summed over CPUs, and where the
    TCP established timeout is set for the next boot.
  - Works on every kernel generation - the current names (C(/proc/sys/net/netfilter/nf_conntrack_*)) and the
    legacy ones of 2.6 kernels with C(ip_conntrack) (C(/proc/sys/net/ipv4/netfilter/ip_conntrack_*)).
  - A host without conntrack (kernel module not loaded, not Linux, no permission) is reported with
    RV(ansible_facts.netdiag.conntrack.available=false) and a RV(ansible_facts.netdiag.conntrack.reason); the module
    does not fail, so an audit goes on.
  - The table is streamed in chunks of bounded size and only counters are kept, so a table of millions of entries
    takes the same memory as a small one. Sources, in order - C(/proc/net/nf_conntrack), the legacy
    C(/proc/net/ip_conntrack), else C(conntrack -L -o extended) from conntrack-tools (kernels built without
    C(CONFIG_NF_CONNTRACK_PROCFS) have no proc file). RV(ansible_facts.netdiag.conntrack.source) says which one was
    used.
  - The module never loads a kernel module. It runs C(conntrack) only when conntrack is already present, because
    asking the kernel for the table over netlink would otherwise load C(nf_conntrack).
options:
  top:
    description:
      - How many entries RV(ansible_facts.netdiag.conntrack.top_sources) and
        RV(ansible_facts.netdiag.conntrack.top_destinations) keep.
      - The counters behind them are bounded (Misra-Gries, 10,000 keys or O(top) if larger), so a table with a
        million distinct sources takes a few megabytes. When a table has more distinct sources (or destinations)
        than that, each count may be low by at most RV(ansible_facts.netdiag.conntrack.top_sources_max_error)
        (at most entries / 10,001), and every source with more entries than that is listed.
    type: int
    default: 10
  command_timeout:
    description:
      - Seconds C(conntrack -L) and C(conntrack -S) may run before they are killed (V(0) - no limit). A listing that
        timed out is reported as an unavailable table source, a statistics call as a warning.
    type: float
    default: 60
  ports:
    description:
      - Only count table entries whose original-direction source or destination port is one of these.
    type: list
    elements: int
  states:
    description:
      - Only count TCP table entries in these conntrack states (V(ESTABLISHED), V(TIME_WAIT), V(SYN_SENT),
        V(SYN_RECV), V(FIN_WAIT), V(CLOSE_WAIT), V(LAST_ACK), V(CLOSE), V(SYN_SENT2), V(NONE)). Socket state names are
        accepted for the conntrack state that covers them (V(SYN_RECEIVED), V(FIN_WAIT_1), V(FIN_WAIT_2), V(CLOSED)).
      - Entries without a state (UDP, ICMP) are not counted when states are given.
    type: list
    elements: str
  peers:
    description:
      - Only count table entries whose original-direction source or destination address is in one of these
        addresses or CIDR networks.
    type: list
    elements: str
  nat_tuples:
    description:
      - Also return the translated ESTABLISHED TCP entries (original and reply tuple) as one compact text,
        RV(ansible_facts.netdiag.conntrack.nat_tuples), so that the audit report can match the two ends of each
        connection through this NAT box. Entries that were not translated are left out.
      - Restricted by O(ports) (a port in either tuple), not by O(peers) or O(states). A second pass over the table,
        only when asked.
    type: bool
    default: false
  max_nat_tuples:
    description: Most entries listed in RV(ansible_facts.netdiag.conntrack.nat_tuples) (its C(truncated) says when
      more were found).
    type: int
    default: 200000
  table:
    description:
      - Walk the conntrack table. With V(false) only the counters, timeouts, statistics and boot settings are read,
        which is instant whatever the table size.
    type: bool
    default: true
  proc_root:
    description:
      - Directory read instead of C(/proc). For tests only; leave the default.
    type: path
    default: /proc
  config_root:
    description:
      - Directory that stands for C(/) when reading the boot configuration (C(/etc/sysctl.d), C(/etc/sysctl.conf),
        C(/etc/modules-load.d), ...) and C(/sys/module). For tests only; leave the default.
    type: path
    default: /
extends_documentation_fragment:
  - netdiag.tcp.attributes.facts
  - netdiag.tcp.attributes.platform
attributes:
  platform:
    platforms: linux
    support: full
    details: On other systems the module reports RV(ansible_facts.netdiag.conntrack.available=false).
notes:
  - Reading C(/proc/net/nf_conntrack) and running C(conntrack -L) need root (C(become=true)). Without it the counters,
    timeouts and boot settings are still reported, and RV(ansible_facts.netdiag.conntrack.source) is V(none) with
    the reason in RV(ansible_facts.netdiag.conntrack.source_reason).
  - Conntrack state is per network namespace. The module reports the namespace it runs in. A namespace tracks
    connections only once a firewall rule uses conntrack there; before that its table stays empty.
  - Conntrack TCP state names are not socket state names - conntrack has V(SYN_RECV), one V(FIN_WAIT) and
    V(CLOSE).
seealso:
  - module: netdiag.tcp.slabinfo_facts
  - module: netdiag.tcp.conntrack_sysctl
  - name: nf_conntrack sysctl documentation
    description: Kernel documentation of the conntrack parameters.
    link: https://docs.kernel.org/networking/nf_conntrack-sysctl.html
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Read conntrack facts (the table walk needs root)
  netdiag.tcp.conntrack_facts:
  become: true

- name: Which clients hold the most conntrack entries to port 5555
  netdiag.tcp.conntrack_facts:
    ports: [5555]
    states: [ESTABLISHED]
    top: 5
  become: true

- name: Only the limits, timeouts and boot settings, without walking a huge table
  netdiag.tcp.conntrack_facts:
    table: false

- name: Warn when the established timeout is still the 5-day default
  ansible.builtin.debug:
    msg: >-
      conntrack keeps idle ESTABLISHED entries
      {{ ansible_facts.netdiag.conntrack.timeouts.tcp_timeout_established }} seconds
  when:
    - ansible_facts.netdiag.conntrack.available
    - ansible_facts.netdiag.conntrack.timeouts.tcp_timeout_established | int >= 432000
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
        conntrack:
          description: Connection tracking facts of the network namespace the module ran in.
          returned: always
          type: complex
          contains:
            available:
              description: Whether conntrack is present (its parameters exist under C(/proc/sys)).
              type: bool
              returned: always
              sample: true
            reason:
              description: Why conntrack is not available; null when it is.
              type: str
              returned: always
              sample: >-
                conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_max nor
                /proc/sys/net/ipv4/netfilter/ip_conntrack_max exists (kernel module nf_conntrack not loaded)
            key_style:
              description: V(nf_conntrack) (C(net.netfilter.nf_conntrack_*)) or V(ip_conntrack) (legacy
                C(net.ipv4.netfilter.ip_conntrack_*)).
              type: str
              returned: when available
              sample: nf_conntrack
            count:
              description: Entries in the table now (C(nf_conntrack_count)).
              type: int
              returned: when available
              sample: 3024
            max:
              description: Table limit (C(nf_conntrack_max)); new connections are dropped when it is reached.
              type: int
              returned: when available
              sample: 262144
            usage_pct:
              description: RV(ansible_facts.netdiag.conntrack.count) as a percentage of
                RV(ansible_facts.netdiag.conntrack.max), one decimal; null when max is 0 or unknown.
              type: float
              returned: when available
              sample: 1.2
            buckets:
              description: Hash table size (C(nf_conntrack_buckets)); null on kernels that do not show it.
              type: int
              returned: when available
              sample: 65536
            timeouts:
              description: Every conntrack timeout in seconds, by name without the C(nf_conntrack_) or
                C(ip_conntrack_) prefix.
              type: dict
              returned: when available
              sample: {"tcp_timeout_established": 432000, "tcp_timeout_time_wait": 120, "udp_timeout": 30}
            table:
              description: Whether the table walk was asked for (O(table)).
              type: bool
              returned: always
              sample: true
            source:
              description: Where the table was read from - V(/proc/net/nf_conntrack), V(/proc/net/ip_conntrack),
                V(conntrack -L -o extended), or V(none) (not walked, or no source could be read).
              type: str
              returned: always
              sample: /proc/net/nf_conntrack
            source_reason:
              description: Why no table source could be read (each source tried and what happened), or that
                O(table=false); null when a source was read.
              type: str
              returned: always
              sample: >-
                /proc/net/nf_conntrack: permission denied (needs become); conntrack -L -o extended: not installed
            entries_parsed:
              description: Entries read from the table.
              type: int
              returned: when a table source was read
              sample: 3024
            entries_selected:
              description: Entries that match O(ports), O(states) and O(peers) (all of them without filters); the
                counts below are over these.
              type: int
              returned: when a table source was read
              sample: 291
            truncated_lines:
              description: A last line cut short because the table changed while it was read (skipped).
              type: int
              returned: when a table source was read
              sample: 0
            state_counts:
              description: TCP entries per conntrack state.
              type: dict
              returned: when a table source was read
              sample: {"ESTABLISHED": 2810, "TIME_WAIT": 102}
            protocol_counts:
              description: Entries per layer-4 protocol.
              type: dict
              returned: when a table source was read
              sample: {"tcp": 2950, "udp": 70, "icmp": 4}
            unreplied:
              description: Entries that have seen no reply (C([UNREPLIED])).
              type: int
              returned: when a table source was read
              sample: 12
            assured:
              description: Entries marked C([ASSURED]) (traffic seen both ways; not dropped early when the table is
                full).
              type: int
              returned: when a table source was read
              sample: 2900
            top_sources:
              description: Original-direction source addresses with the most entries, most first (at most O(top)).
              type: list
              elements: dict
              returned: when a table source was read
              sample: [{"address": "192.0.2.2", "count": 295}]
              contains:
                address:
                  description: Address (IPv6 compressed).
                  type: str
                count:
                  description: Entries.
                  type: int
            top_sources_max_error:
              description:
                - V(0) when every count in RV(ansible_facts.netdiag.conntrack.top_sources) is exact; else the most
                  any of them may be low by (the bounded counter dropped that many entries' worth of rare sources).
              type: int
              returned: when a table source was read
              sample: 0
            top_destinations_max_error:
              description: The same for RV(ansible_facts.netdiag.conntrack.top_destinations).
              type: int
              returned: when a table source was read
              sample: 0
            top_destinations:
              description: Original-direction destination address and port with the most entries, most first (at
                most O(top)).
              type: list
              elements: dict
              returned: when a table source was read
              sample: [{"address": "198.51.100.10", "port": 5555, "count": 291}]
              contains:
                address:
                  description: Address (IPv6 compressed).
                  type: str
                port:
                  description: Destination port; null for protocols without ports (ICMP).
                  type: int
                count:
                  description: Entries.
                  type: int
            stats:
              description: Conntrack statistics summed over CPUs (C(found), C(invalid), C(insert), C(insert_failed),
                C(drop), C(early_drop), C(search_restart), ... - the columns this kernel has), C(entries) once (it is
                the global count, not per CPU), and C(cpus). Null when no source could be read.
              type: dict
              returned: when available
              sample: {"cpus": 4, "entries": 33, "found": 0, "invalid": 53, "insert_failed": 0, "drop": 0,
                "early_drop": 0, "search_restart": 7}
            nat_tuples:
              description:
                - Translated ESTABLISHED TCP entries, one per line of C(rows) with the C(columns) (original source,
                  source port, destination, destination port, then the same of the reply tuple) separated by one
                  blank; C(count) entries found, C(truncated) when more than O(max_nat_tuples).
              returned: when O(nat_tuples=true) and a table source was read
              type: dict
              sample:
                columns: [original_source, original_source_port, original_destination, original_destination_port,
                          reply_source, reply_source_port, reply_destination, reply_destination_port]
                rows: "198.51.100.11 40000 198.51.100.130 5555 198.51.100.130 5555 198.51.100.129 40000"
                count: 1
                truncated: false
            stats_source:
              description: V(/proc/net/stat/nf_conntrack), V(/proc/net/stat/ip_conntrack), V(conntrack -S) or V(none).
              type: str
              returned: when available
              sample: /proc/net/stat/nf_conntrack
            persisted:
              description:
                - Where C(net.netfilter.nf_conntrack_tcp_timeout_established) (or the legacy
                  C(net.ipv4.netfilter.ip_conntrack_tcp_timeout_established)) is set for the next boot.
                - Files are taken in the order C(systemd-sysctl) applies them - C(*.conf) in C(/etc/sysctl.d),
                  C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d), C(/lib/sysctl.d), merged by
                  name (the earlier directory wins) and sorted by name; C(/etc/sysctl.conf) where a sysctl.d link
                  points at it (Debian, Fedora - C(99-sysctl.conf)), else last (as C(sysctl --system) does).
              type: dict
              returned: always
              contains:
                key:
                  description: The sysctl name looked for (its legacy alias is looked for too).
                  type: str
                  sample: net.netfilter.nf_conntrack_tcp_timeout_established
                assignments:
                  description: Every assignment, in the order they are applied.
                  type: list
                  elements: dict
                  sample: [{"file": "/etc/sysctl.d/99-sysctl.conf", "target": "/etc/sysctl.conf", "line": 70,
                    "key": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established", "value": 1200,
                    "ignore_failure": false, "applies": false}]
                  contains:
                    file:
                      description: File as the boot reads it.
                      type: str
                    target:
                      description: What that file links to, when it is a link.
                      type: str
                    line:
                      description: Line number, from 1.
                      type: int
                    key:
                      description: The key as a dotted name (a glob pattern when C(glob) is true).
                      type: str
                    value:
                      description: The value (an int where numeric).
                      type: raw
                    ignore_failure:
                      description: The line starts with C(-) (a failure to set it is ignored).
                      type: bool
                    applies:
                      description: The key exists on the running kernel (a legacy key on a current kernel does
                        nothing); true when that cannot be known.
                      type: bool
                    glob:
                      description: Set (true) when the key is a glob pattern that covers the timeout.
                      type: bool
                effective:
                  description: The assignment that wins at boot ({file, line, key, value}); null when none.
                  type: dict
                  sample: {"file": "/etc/sysctl.d/99-sysctl.conf", "line": 70, "key":
                    "net.netfilter.nf_conntrack_tcp_timeout_established", "value": 1200}
                sysctl_conf_linked:
                  description: A sysctl.d link points at C(/etc/sysctl.conf), so C(systemd-sysctl) applies it. When
                    false, only C(sysctl --system) (sysvinit) reads C(/etc/sysctl.conf).
                  type: bool
                module_builtin:
                  description: Conntrack is built into the kernel; null when unknown (module not loaded).
                  type: bool
                module_loaded_at_boot:
                  description: Conntrack exists when C(systemd-sysctl) runs - built in, or loaded through
                    C(modules-load.d) or Debian's C(/etc/modules). When false a sysctl.d entry for a conntrack key
                    silently does nothing at boot.
                  type: bool
                module_load_files:
                  description: The modules-load.d lines that load conntrack ({file, line, module}).
                  type: list
                  elements: dict
                  sample: [{"file": "/etc/modules-load.d/conntrack.conf", "line": 1, "module": "nf_conntrack"}]
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_conntrack import (
    COLLECTORS,
    ConntrackError,
    NoConntrack,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection


def main():
    module = AnsibleModule(
        argument_spec={
            "top": {"type": "int", "default": 10},
            "ports": {"type": "list", "elements": "int"},
            "states": {"type": "list", "elements": "str"},
            "peers": {"type": "list", "elements": "str"},
            "table": {"type": "bool", "default": True},
            "nat_tuples": {"type": "bool", "default": False},
            "max_nat_tuples": {"type": "int", "default": 200000},
            "proc_root": {"type": "path", "default": "/proc"},
            "config_root": {"type": "path", "default": "/"},
            "command_timeout": {"type": "float", "default": 60},
        },
        supports_check_mode=True,
    )
    if module.params["top"] < 0:
        module.fail_json(msg="top: %d is not a number >= 0" % module.params["top"])
    if module.params["command_timeout"] < 0:
        module.fail_json(msg="command_timeout: %s is negative; use 0 for no limit" % module.params["command_timeout"])
    if module.params["max_nat_tuples"] < 0:
        module.fail_json(msg="max_nat_tuples: %d is not a number >= 0" % module.params["max_nat_tuples"])
    try:
        selection = Selection(
            ports=module.params["ports"], states=module.params["states"], peers=module.params["peers"]
        )
    except ValueError as error:
        module.fail_json(msg=str(error))
    collector = COLLECTORS.get(platform.system(), NoConntrack)(
        module.params, selection, module.get_bin_path, module.warn
    )
    try:
        facts = collector.collect()
    except ConntrackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, ansible_facts={"netdiag": {"conntrack": facts}})


if __name__ == "__main__":
    main()
