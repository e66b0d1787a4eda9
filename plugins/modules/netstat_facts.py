# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: netstat_facts
short_description: Summarise the socket tables (states, connections per peer, listeners, owners, keepalive)
version_added: 0.1.0
description:
  - Reads the host's TCP and UDP socket tables and returns them summarised under C(ansible_facts.netdiag.netstat) -
    counts per TCP state, ESTABLISHED connections counted per peer and service port in each direction (the answer
    of the classic C(netstat -an | grep .5555 | awk '{print $5}' | cut -d. -f1-4 | sort | uniq -c | sort -nr)),
    listening sockets, and a capped list of the sockets themselves.
  - On Linux it reads C(/proc/net/tcp), C(tcp6), C(udp) and C(udp6) of the network namespace it runs in directly,
    so neither net-tools nor iproute2 need to be installed.
  - Sockets are mapped to their owning pid, process and user with one scan of C(/proc/<pid>/fd) per run. Without
    root only the caller's own processes can be scanned; the number of sockets left without an owner is returned
    as C(unmapped_sockets).
  - Keepalive per TCP socket comes from the timer field of C(/proc/net/tcp). On ESTABLISHED and CLOSE_WAIT sockets
    a pending keepalive timer means C(SO_KEEPALIVE) is set and no pending timer means it is not; while a
    retransmission or zero-window probe timer is pending the kernel shows that timer instead, and keepalive is
    reported as unknown (V(null)).
  - Also returns the host's C(net.ipv4.tcp_keepalive_time), C(tcp_keepalive_intvl) and C(tcp_keepalive_probes) under
    C(ansible_facts.netdiag.keepalive).
  - The same parsers are available offline through the P(netdiag.tcp.parse#filter) filter (formats
    C(linux_proc_net_tcp), C(linux_netstat) and C(linux_ss)).
author:
  - netdiag.tcp developers (@netdiag-tcp)
extends_documentation_fragment:
  - netdiag.tcp.attributes.facts
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: Linux
    details: AIX and Solaris collectors are planned; on them the module fails with a clear message for now.
options:
  ports:
    description:
      - Only sockets whose local or remote port is one of these ports.
      - Applies to every returned count and list, like C(grep .5555) applies to the classic pipeline.
    type: list
    elements: int
    default: []
  states:
    description:
      - Only TCP sockets in one of these states (UDP sockets have no state and are left out when this is set).
      - TCP state names such as V(ESTABLISHED), V(TIME_WAIT), V(CLOSE_WAIT), V(SYN_RECEIVED) (the names of
        C(docs/facts_schema.md)); case and C(-) versus C(_) do not matter.
    type: list
    elements: str
    default: []
  peers:
    description:
      - Only sockets whose remote address is one of these addresses or lies in one of these CIDR networks.
      - IPv4-mapped IPv6 networks (V(::ffff:10.0.0.0/104)) are the same as their IPv4 form.
    type: list
    elements: str
    default: []
  max_connections:
    description:
      - Most sockets to list in C(connections); C(truncated) is V(true) when more were selected.
      - V(0) returns counts only. Counts are always over all selected sockets.
    type: int
    default: 1000
  protocols:
    description: Protocols to read.
    type: list
    elements: str
    choices: [tcp, udp]
    default: [tcp, udp]
  families:
    description:
      - Address families to report. A dual-stack IPv6 socket connected to an IPv4 peer has IPv4 addresses and is
        reported as V(inet).
    type: list
    elements: str
    choices: [inet, inet6]
    default: [inet, inet6]
  owners:
    description:
      - Map sockets to their owning pid, process and user by scanning C(/proc/<pid>/fd).
      - V(false) skips the scan (faster on hosts with very many processes); owners are then not returned.
    type: bool
    default: true
notes:
  - The module reads the tables once; counts are a snapshot and sockets may change while they are read.
  - Direction of an ESTABLISHED socket is V(inbound) when its local port is a port this host listens on (then
    C(service_port) is the local port), else V(outbound) (C(service_port) is the remote port).
seealso:
  - name: Kernel documentation of /proc/net/tcp
    description: Field layout of the socket tables the module reads.
    link: https://www.kernel.org/doc/Documentation/networking/proc_net_tcp.txt
  - module: community.general.listen_ports_facts
"""

EXAMPLES = r"""
- name: Gather the socket summary
  netdiag.tcp.netstat_facts:

- name: Count ESTABLISHED connections per peer on the application port 5555
  netdiag.tcp.netstat_facts:
    ports: [5555]
    states: [ESTABLISHED]
    max_connections: 0

- name: Show the peers that hold the most connections to port 5555
  ansible.builtin.debug:
    msg: "{{ ansible_facts.netdiag.netstat.established_by_peer | selectattr('service_port', 'equalto', 5555) | list }}"

- name: List sockets to hosts of one subnet, without the owner scan
  netdiag.tcp.netstat_facts:
    peers: [192.0.2.0/24]
    owners: false

- name: Warn about established connections without keepalive
  ansible.builtin.debug:
    msg: "{{ ansible_facts.netdiag.netstat.established_without_keepalive }} ESTABLISHED sockets have no keepalive"
  when: ansible_facts.netdiag.netstat.established_without_keepalive > 0
"""

RETURN = r"""
ansible_facts:
  description: Facts merged into the host's C(ansible_facts.netdiag).
  returned: always
  type: complex
  contains:
    netdiag:
      description: The netdiag.tcp facts tree.
      returned: always
      type: complex
      contains:
        netstat:
          description: The socket table summary (C(netdiag.netstat), see C(docs/facts_schema.md)).
          returned: always
          type: complex
          contains:
            state_counts:
              description:
                - Number of selected TCP sockets per state. Every TCP state name is present (V(0) when absent);
                  platform states such as V(BOUND_INACTIVE) appear when seen.
              returned: always
              type: dict
              sample: {"ESTABLISHED": 291, "TIME_WAIT": 12, "CLOSE_WAIT": 0, "LISTEN": 5, "SYN_SENT": 0}
            established_by_peer:
              description: ESTABLISHED TCP sockets counted per direction, service port and peer, most first.
              returned: always
              type: list
              elements: dict
              contains:
                direction:
                  description: V(inbound) when the local port is a listening port of this host, else V(outbound).
                  type: str
                  sample: inbound
                service_port:
                  description: The local port for inbound sockets, the remote port for outbound ones.
                  type: int
                  sample: 5555
                peer:
                  description: Remote address (IPv4-mapped IPv6 addresses as IPv4).
                  type: str
                  sample: 192.168.10.1
                count:
                  description: Number of ESTABLISHED sockets.
                  type: int
                  sample: 291
                without_keepalive:
                  description: How many of them are known to have no keepalive.
                  type: int
                  sample: 291
            listeners:
              description: Listening TCP sockets and unconnected bound UDP sockets.
              returned: always
              type: list
              elements: dict
              contains:
                protocol:
                  description: V(tcp) or V(udp).
                  type: str
                family:
                  description: V(inet) or V(inet6).
                  type: str
                local_address:
                  description: Bound address, V(*) for any.
                  type: str
                local_port:
                  description: Bound port.
                  type: int
                pid:
                  description: Owning process id.
                  type: int
                  returned: when known
                process:
                  description: Owning process name (C(/proc/<pid>/comm)).
                  type: str
                  returned: when known
                user:
                  description: Owning user.
                  type: str
                  returned: when known
              sample:
                - {"protocol": "tcp", "family": "inet", "local_address": "*", "local_port": 22, "pid": 812,
                   "process": "sshd", "user": "root"}
            connections:
              description:
                - Selected sockets, at most O(max_connections), in table order.
                - Each has C(protocol), C(family), C(local_address), C(local_port), C(remote_address),
                  C(remote_port), C(state) and, for TCP, C(keepalive) (V(true), V(false) or V(null) = unknown);
                  C(pid), C(process), C(user) when the owner is known; C(uid), C(inode), C(send_queue) and
                  C(receive_queue) from the kernel table.
                - Wildcard addresses are V(*) and wildcard ports V(null).
              returned: always
              type: list
              elements: dict
              sample:
                - {"protocol": "tcp", "family": "inet", "local_address": "192.168.10.20", "local_port": 5555,
                   "remote_address": "192.168.10.1", "remote_port": 40770, "state": "ESTABLISHED",
                   "keepalive": false, "pid": 3764, "process": "app_srv", "user": "app", "uid": 1001,
                   "inode": 912873, "send_queue": 0, "receive_queue": 0}
            truncated:
              description: V(true) when more sockets were selected than O(max_connections).
              returned: always
              type: bool
              sample: false
            total_sockets:
              description: Sockets read from the tables, before selection.
              returned: always
              type: int
              sample: 1204
            selected_sockets:
              description: Sockets that matched O(ports), O(states) and O(peers).
              returned: always
              type: int
              sample: 291
            protocol_counts:
              description: Selected sockets per protocol.
              returned: always
              type: dict
              sample: {"tcp": 291, "udp": 0}
            established_without_keepalive:
              description: Selected ESTABLISHED TCP sockets known to have no keepalive.
              returned: always
              type: int
              sample: 280
            established_keepalive_unknown:
              description: Selected ESTABLISHED TCP sockets whose keepalive could not be told (retransmitting).
              returned: always
              type: int
              sample: 2
            unmapped_sockets:
              description:
                - Selected sockets with an inode that no readable C(/proc/<pid>/fd) refers to (other users'
                  processes when not root, kernel sockets). TIME_WAIT and other inode-less sockets are not counted.
              returned: when O(owners=true)
              type: int
              sample: 0
            owner_scan:
              description: Processes scanned for socket owners and how many of them could not be read.
              returned: when O(owners=true)
              type: dict
              sample: {"processes": 212, "unreadable_processes": 0}
            platform:
              description: The collector's platform.
              returned: always
              type: str
              sample: Linux
            sources:
              description: The tables read.
              returned: always
              type: list
              elements: str
              sample: ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"]
        keepalive:
          description: The host's TCP keepalive defaults (V(null) for a value that could not be read).
          returned: always
          type: dict
          contains:
            time:
              description: C(net.ipv4.tcp_keepalive_time), seconds of idleness before the first probe.
              type: int
              sample: 7200
            intvl:
              description: C(net.ipv4.tcp_keepalive_intvl), seconds between probes.
              type: int
              sample: 75
            probes:
              description: C(net.ipv4.tcp_keepalive_probes), unanswered probes before the connection is dropped.
              type: int
              sample: 9
            source:
              description: Where the values were read.
              type: str
              sample: /proc/sys/net/ipv4
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.netstat_linux import LinuxNetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.socket_records import TCP_STATES

# platform.system() -> collector class. AIX and SunOS collectors will be added here.
COLLECTORS = {
    "Linux": LinuxNetstatCollector,
}

# States a Linux socket table can show, besides the TCP state names of docs/facts_schema.md.
PLATFORM_STATES = {"Linux": ("BOUND_INACTIVE",)}


def validated_selection(params, system):
    """Selection from the ports/states/peers options; ValueError with a message naming the bad option value."""
    selection = Selection(params["ports"], params["states"], params["peers"])
    known = set(TCP_STATES) | set(PLATFORM_STATES.get(system, ()))
    unknown = sorted(selection.states - known)
    if unknown:
        raise ValueError("states: %s not a TCP state; use one of %s" % (", ".join(unknown), ", ".join(TCP_STATES)))
    if params["max_connections"] < 0:
        raise ValueError("max_connections: %d is negative; use 0 for counts only" % params["max_connections"])
    if not params["protocols"]:
        raise ValueError("protocols: give at least one of tcp, udp")
    if not params["families"]:
        raise ValueError("families: give at least one of inet, inet6")
    return selection


def main():
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "int", "default": []},
            "states": {"type": "list", "elements": "str", "default": []},
            "peers": {"type": "list", "elements": "str", "default": []},
            "max_connections": {"type": "int", "default": 1000},
            "protocols": {"type": "list", "elements": "str", "choices": ["tcp", "udp"], "default": ["tcp", "udp"]},
            "families": {"type": "list", "elements": "str", "choices": ["inet", "inet6"], "default": ["inet", "inet6"]},
            "owners": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    system = platform.system()
    collector_class = COLLECTORS.get(system)
    if collector_class is None:
        module.fail_json(
            msg="netstat_facts: platform %s is not supported yet (supported: %s)"
            % (system, ", ".join(sorted(COLLECTORS)))
        )
    try:
        selection = validated_selection(module.params, system)
    except ValueError as error:
        module.fail_json(msg="netstat_facts: %s" % error)
    try:
        netstat, keepalive = collector_class().collect(
            selection,
            max_connections=module.params["max_connections"],
            protocols=tuple(module.params["protocols"]),
            families=tuple(module.params["families"]),
            owners=module.params["owners"],
        )
    except (OSError, ValueError) as error:
        module.fail_json(msg="netstat_facts: could not read the socket tables: %s" % error)
    sections = {"netstat": netstat}
    if keepalive is not None:
        sections["keepalive"] = keepalive
    module.exit_json(changed=False, ansible_facts={"netdiag": sections})


if __name__ == "__main__":
    main()
