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
  - On Linux it reads the sockets of the network namespace it runs in through the kernel's C(sock_diag) netlink
    interface (what C(ss) uses), and from C(/proc/net/tcp), C(tcp6), C(udp) and C(udp6) where the kernel or a
    sandbox refuses that; both give the same facts. Neither net-tools nor iproute2 need to be installed.
  - Results are bounded whatever the size of the host - per-peer entries (O(max_peers) per port), listeners
    (O(max_listeners)) and connection records (O(max_connections)) are capped, with full counts beside them.
  - Sockets are mapped to their owning pid, process and user with one scan of C(/proc/<pid>/fd) per run. Without
    root only the caller's own processes can be scanned; the number of sockets left without an owner is returned
    as C(unmapped_sockets).
  - Keepalive per TCP socket comes from the socket's pending timer (C(idiag_timer), the timer field of
    C(/proc/net/tcp)). On ESTABLISHED and CLOSE_WAIT sockets
    a pending keepalive timer means C(SO_KEEPALIVE) is set and no pending timer means it is not; while a
    retransmission or zero-window probe timer is pending the kernel shows that timer instead, and keepalive is
    reported as unknown (V(null)).
  - Also returns the host's C(net.ipv4.tcp_keepalive_time), C(tcp_keepalive_intvl) and C(tcp_keepalive_probes) under
    C(ansible_facts.netdiag.keepalive).
  - On AIX it runs C(netstat -Aan) (every socket with its PCB address in C(pcb)), then, as root, one C(kdb) process
    that is asked C(sockinfo <pcb> tcpcb) for each selected TCP socket (at most O(max_connections)) - the process
    holding each socket and its keepalive (the socket's C(opts) KEEPALIVE, else an armed TCPT_KEEP timer). kdb only
    reads kernel memory. When kdb cannot run (not root, missing) and the AIX Toolbox C(lsof) is installed, one
    C(lsof -nP -iTCP -FpcLnT) run gives the owners (no keepalive); C(owner_method) says which ran, or why none did.
    Keepalive defaults come from C(no -o tcp_keepidle -o tcp_keepintvl -o tcp_keepcnt) (C(no -a) as fallback),
    converted from AIX half-seconds to seconds. See C(docs/aix.md).
  - Old AIX prints C(address.port) in 18-character columns and cuts longer text; such a port is reported unknown
    (V(null) with C(local_port_cut)/C(remote_port_cut)), never guessed.
  - On Solaris and illumos (SunOS) it runs C(netstat -anu), which prints the owning user, pid and command of each
    socket on Solaris 11.2+ and illumos; where C(-u) is rejected (Solaris 10) it runs C(netstat -an) and returns
    owners as unknown with the reason in C(ansible_facts.netdiag.sunos.owners). Keepalive defaults come from
    C(ipadm show-prop -p _keepalive_interval tcp) or C(ndd -get /dev/tcp tcp_keepalive_interval) (milliseconds,
    returned in seconds). See O(sunos_pfiles) and O(sunos_connstat) for the optional extras.
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
    platforms: [Linux, AIX, Solaris]
    details:
      - Linux reads /proc; AIX runs netstat -Aan (and kdb as root); Solaris 10, 11.x and illumos (OmniOS,
        SmartOS) run netstat.
  check_mode:
    support: full
    details:
      - The module only reads, except with O(aix_rmsock=true) on AIX. In check mode rmsock is never run; the result
        lists the commands it would have run under C(ansible_facts.netdiag.aix.rmsock.would_run).
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
      - A small sample by default, because every record costs time on its way through Ansible (about 15 values
        each).
    type: int
    default: 100
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
      - Map sockets to their owning pid, process and user by scanning C(/proc/<pid>/fd) (Linux), with one
        read-only C(kdb) run as root (AIX, pid and process, plus per-socket keepalive), or with C(netstat -anu)
        (SunOS; C(netstat -an) where C(-u) is refused).
      - V(false) skips the scan (faster on hosts with very many processes); owners are then not returned.
    type: bool
    default: true
  sock_diag_load_modules:
    description:
      - Linux only. The socket tables are read through sock_diag netlink (what C(ss) uses), which needs the kernel
        modules C(inet_diag), C(tcp_diag) and C(udp_diag); asking for a dump makes the kernel load any that is
        missing, as the first C(ss) after boot does.
      - V(false) leaves the kernel's modules as they are; without those modules the tables are read from
        C(/proc/net) (same facts, slower on big tables; C(reader_fallback) says why).
      - V(true) lets the kernel load them. The audit never sets it.
    type: bool
    default: false
  owner_scan_budget:
    description:
      - Seconds the owner scan may take. Processes not reached in time are left unscanned, their sockets count as
        C(unmapped_sockets), and C(owner_scan.stopped_short) is V(true).
      - V(0) means no limit.
    type: float
    default: 20
  command_timeout:
    description:
      - Seconds each command the AIX and SunOS collectors run (C(netstat), C(kdb), C(lsof), C(no), C(rmsock),
        C(ipadm), C(ndd), C(pfiles), C(connstat)) may take before it is killed; the module then fails, or reports
        that source unavailable, naming the command and the timeout. V(0) means no limit.
      - Linux reads the kernel directly and runs no command.
    type: float
    default: 60
  max_peers:
    description:
      - Most C(established_by_peer) entries per direction and service port, the peers with the most connections
        first. The other peers of that port are summed in C(established_by_peer_rest); counts stay complete.
      - V(0) means no limit (the result then grows with the number of distinct peers).
    type: int
    default: 10
  max_listeners:
    description:
      - Most entries in C(listeners); C(listeners_total) counts them all.
      - V(0) means no limit.
    type: int
    default: 1000
  aix_rmsock:
    description:
      - AIX only, B(changes the host). Give each selected TCP socket (at most O(max_connections), after O(ports),
        O(states) and O(peers)) to IBM's C(rmsock <pcb> tcpcb). rmsock names the process that holds a socket and
        B(removes a socket that no process holds), freeing its port.
      - Each answer lands on its connection (C(rmsock) V(process), V(kernel), V(removed) or V(error); the holder's
        C(pid)/C(process)); every removed socket is listed in C(ansible_facts.netdiag.aix.rmsock.removed) and makes
        the result C(changed). Never run in check mode. The audit playbook never sets it.
      - Ignored, with a warning, on other platforms.
    type: bool
    default: false
  sunos_pfiles:
    description:
      - On SunOS, run C(pfiles) on the processes that hold the selected sockets (at most O(max_connections) of
        them) to learn C(SO_KEEPALIVE) per socket, and the owners where C(netstat -u) is missing (Solaris 10).
      - C(pfiles) stops each process it inspects while it reads its descriptors. It therefore never runs unless
        this is V(true), never in check mode, and the audit playbook never sets it.
      - Without C(netstat -u) (Solaris 10) the holders are not known beforehand, so C(pfiles) inspects the host's
        processes in pid order, at most O(max_connections) of them.
      - Ignored on other platforms.
    type: bool
    default: false
  sunos_connstat:
    description:
      - On SunOS hosts that have C(connstat) (illumos, Solaris 11.4), return its per-connection counters (bytes,
        retransmissions, unacknowledged and unsent bytes, windows, RTO, RTT) for the selected sockets under
        C(ansible_facts.netdiag.sunos.connstat), at most O(max_connections) of them. Read-only.
      - Ignored on other platforms.
    type: bool
    default: false
  tuples:
    description:
      - Also return every selected ESTABLISHED TCP socket as one line of a compact text,
        RV(ansible_facts.netdiag.netstat.established_tuples), and the processes holding them,
        RV(ansible_facts.netdiag.netstat.holders). The audit report matches both ends of each connection with it.
      - One string instead of a dictionary per socket, because Ansible copies and tags every value it carries.
    type: bool
    default: false
  max_tuples:
    description:
      - Most sockets listed in RV(ansible_facts.netdiag.netstat.established_tuples) when O(tuples=true); its
        C(truncated) is V(true) when more were selected (C(count) still counts them all).
    type: int
    default: 200000
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

- name: On AIX, name the holders of the sockets to port 5555 and remove those that no process holds
  netdiag.tcp.netstat_facts:
    ports: [5555]
    aix_rmsock: true
  become: true
  when: ansible_facts.system == 'AIX'

- name: On a Solaris host, also read SO_KEEPALIVE per socket with pfiles (stops each inspected process briefly)
  netdiag.tcp.netstat_facts:
    ports: [5555]
    sunos_pfiles: true

- name: List every ESTABLISHED socket on port 5555 compactly, with the processes holding them
  netdiag.tcp.netstat_facts:
    ports: [5555]
    tuples: true
    max_connections: 0

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
            established_by_peer_total:
              description: Distinct (direction, service port, peer) entries before O(max_peers) applied.
              returned: always
              type: int
              sample: 8012
            established_by_peer_truncated:
              description: V(true) when some ports had more peers than O(max_peers).
              returned: always
              type: bool
              sample: true
            established_by_peer_rest:
              description: Per direction and service port, the peers left out of C(established_by_peer), summed.
              returned: always
              type: list
              elements: dict
              sample:
                - {"direction": "inbound", "service_port": 5555, "peers": 7900, "count": 7900,
                   "without_keepalive": 7900}
            listeners_total:
              description: Listeners found, before O(max_listeners) applied.
              returned: always
              type: int
              sample: 12
            listeners_truncated:
              description: V(true) when C(listeners) holds fewer entries than C(listeners_total).
              returned: always
              type: bool
              sample: false
            reader:
              description: V(sock_diag) (netlink) or V(proc) (C(/proc/net) text, the fallback).
              returned: always
              type: str
              sample: sock_diag
            reader_fallback:
              description: Why C(sock_diag) could not be used, when the module fell back to C(/proc/net).
              returned: when the fallback was used
              type: str
              sample: "sock_diag netlink socket: [Errno 97] Address family not supported by protocol"
            established_by_peer:
              description:
                - ESTABLISHED TCP sockets counted per direction, service port and peer, most first.
                - At most O(max_peers) entries per direction and service port (ties go to the lower address).
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
                - On AIX C(pcb) (the PCB address of C(netstat -Aan)), C(rmsock) (with O(aix_rmsock)), and
                  C(local_port_cut)/C(remote_port_cut) (V(true) where old AIX cut the port; the port is V(null)).
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
            established_tuples:
              description:
                - The selected ESTABLISHED TCP sockets, one per line of C(rows) with the C(columns)
                  C(local_address local_port remote_address remote_port pid keepalive) separated by one blank;
                  pid V(-) when unknown, keepalive V(1) (SO_KEEPALIVE set), V(0) (not set) or V(-) (unknown).
                - C(count) is the number of sockets selected, C(truncated) says that more than O(max_tuples) were.
                - C(peers) (only when O(peers) was given) lists the networks of O(peers) as applied. Sockets towards
                  other addresses are not listed, so the report does not judge the other end's sockets towards them.
              returned: when O(tuples=true)
              type: dict
              sample:
                columns: [local_address, local_port, remote_address, remote_port, pid, keepalive]
                rows: "198.51.100.20 5555 198.51.100.10 40770 3764 0\n198.51.100.20 5555 198.51.100.10 40772 3764 0"
                count: 2
                truncated: false
            holders:
              description: Process name and user of each pid in RV(ansible_facts.netdiag.netstat.established_tuples).
              returned: when O(tuples=true)
              type: dict
              sample: {"3764": {"process": "app_srv", "user": "app"}}
            owner_scan:
              description:
                - Processes found, scanned and unreadable, descriptors read, seconds taken, and C(stopped_short)
                  (V(true) when O(owner_scan_budget) ran out before every process was scanned).
              returned: when O(owners=true)
              type: dict
              sample: {"processes": 212, "unreadable_processes": 0, "scanned_processes": 212, "descriptors": 4120,
                       "seconds": 0.04, "stopped_short": false}
            owner_method:
              description:
                - AIX, with O(owners=true) - how owners were looked up. C(name) is V(kdb), V(lsof), or V(null) when
                  no method could run; C(ran), C(sockets) (asked), C(sockets_found) (answered), C(reason) (why
                  kdb or lsof could not run).
              returned: on AIX when O(owners=true)
              type: dict
              sample: {"name": "kdb", "ran": true, "sockets": 212, "sockets_found": 212, "reason": null,
                       "command": "kdb (stdin: sockinfo <pcb> tcpcb for 212 sockets)"}
            platform:
              description: The collector's platform.
              returned: always
              type: str
              sample: Linux
            sources:
              description: The dumps or tables read.
              returned: always
              type: list
              elements: str
              sample: ["sock_diag tcp inet", "sock_diag tcp inet6", "sock_diag udp inet", "sock_diag udp inet6"]
        keepalive:
          description: The host's TCP keepalive defaults (V(null) for a value that could not be read).
          returned: always
          type: dict
          contains:
            time:
              description:
                - Seconds of idleness before the first probe. Linux C(net.ipv4.tcp_keepalive_time); SunOS
                  C(_keepalive_interval) / C(tcp_keepalive_interval) converted from milliseconds.
              type: int
              sample: 7200
            intvl:
              description: C(net.ipv4.tcp_keepalive_intvl), seconds between probes (V(null) on SunOS, which has none).
              type: int
              sample: 75
            probes:
              description:
                - C(net.ipv4.tcp_keepalive_probes), unanswered probes before the connection is dropped (V(null) on
                  SunOS, which has none).
              type: int
              sample: 9
            abort_interval:
              description: SunOS C(tcp_keepalive_abort_interval), seconds of unanswered probing before the drop.
              type: int
              returned: on SunOS
              sample: 480
            time_ms:
              description: SunOS raw value of RV(ansible_facts.netdiag.keepalive.time) in milliseconds.
              type: int
              returned: on SunOS, when read
              sample: 7200000
            source:
              description: Where the values were read (on AIX the C(no) command that answered).
              type: str
              sample: /proc/sys/net/ipv4
            tcp_keepidle:
              description: AIX, the raw C(no) value in half-seconds (C(tcp_keepintvl) and C(tcp_keepcnt) likewise).
              returned: on AIX
              type: int
              sample: 14400
            error:
              description: AIX, why the values could not be read (the C(no) command missing or failing).
              returned: on AIX when no value could be read
              type: str
            reason:
              description: Why the values are null.
              type: str
              returned: when no value could be read
        aix:
          description: AIX results.
          returned: on AIX with O(aix_rmsock=true)
          type: complex
          contains:
            rmsock:
              description:
                - C(ran) (V(false) in check mode, then C(would_run) lists each argv), C(results) (one per socket -
                  C(pcb), C(socket), C(held_by) V(process)/V(kernel)/V(removed)/V(error), C(pid), C(process),
                  C(error), C(errno)), C(removed) (PCBs of removed sockets) and C(held_by_counts).
              type: dict
              sample: {"ran": true, "removed": ["f1000f000017f3c0"], "held_by_counts": {"process": 3, "kernel": 0,
                       "removed": 1, "error": 0}, "results": [{"pcb": "f1000f000017f3c0",
                       "socket": "0xf1000f000017f008", "held_by": "removed", "pid": null, "process": null,
                       "error": null, "errno": null}]}
        sunos:
          description: What the SunOS collector did besides the socket table.
          returned: on SunOS
          type: dict
          contains:
            root:
              description: Whether the module ran as root.
              type: bool
            owners:
              description:
                - C(available), C(source) (V(netstat -u) or V(null)), C(reason) when owners are unknown or partial,
                  C(sockets_without_owner).
              type: dict
              sample: {"available": true, "source": "netstat -u", "reason": null, "sockets_without_owner": 3}
            shared_socket_rows:
              description:
                - Rows of C(netstat -u) that repeated a connected TCP socket for another process holding it; the
                  socket is counted once.
              type: int
              sample: 1
            pfiles:
              description:
                - C(ran) (bool), C(reason) when it did not run, C(scope), C(pids) inspected, C(errors) (first 20
                  lines pfiles printed on stderr), C(sockets) (Internet sockets pfiles reported).
              type: dict
              sample: {"ran": false, "reason": "sunos_pfiles is false (pfiles stops each process it inspects)",
                       "pids": [], "errors": [], "sockets": 0}
            connstat:
              description:
                - With O(sunos_connstat=true), C(available), C(reason) when not, C(connections) (each with
                  C(laddr), C(lport), C(raddr), C(rport), C(state), C(inbytes), C(outbytes), C(retranssegs),
                  C(suna), C(unsent), C(swnd), C(cwnd), C(rwnd), C(rto) in ms, C(rtt) in microseconds), C(count)
                  and C(truncated).
              type: dict
              returned: when O(sunos_connstat=true)
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.platforms import (
    COLLECTORS,
    collector_class_for,
    new_collector,
    read_sections,
    unsupported_platform,
    validated_selection,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "int", "default": []},
            "states": {"type": "list", "elements": "str", "default": []},
            "peers": {"type": "list", "elements": "str", "default": []},
            "max_connections": {"type": "int", "default": 100},
            "protocols": {"type": "list", "elements": "str", "choices": ["tcp", "udp"], "default": ["tcp", "udp"]},
            "families": {"type": "list", "elements": "str", "choices": ["inet", "inet6"], "default": ["inet", "inet6"]},
            "owners": {"type": "bool", "default": True},
            "owner_scan_budget": {"type": "float", "default": 20},
            "sock_diag_load_modules": {"type": "bool", "default": False},
            "command_timeout": {"type": "float", "default": 60},
            "max_peers": {"type": "int", "default": 10},
            "max_listeners": {"type": "int", "default": 1000},
            "aix_rmsock": {"type": "bool", "default": False},
            "sunos_pfiles": {"type": "bool", "default": False},
            "sunos_connstat": {"type": "bool", "default": False},
            "tuples": {"type": "bool", "default": False},
            "max_tuples": {"type": "int", "default": 200000},
        },
        supports_check_mode=True,
    )
    system = platform.system()
    if system not in COLLECTORS:
        module.fail_json(msg=unsupported_platform(system))
    try:
        selection = validated_selection(module.params, system)
    except ValueError as error:
        module.fail_json(msg="netstat_facts: %s" % error)
    if module.params["aix_rmsock"] and system != "AIX":
        module.warn("aix_rmsock applies to AIX hosts only; ignored on %s" % system)
    collector = new_collector(collector_class_for(system), module)
    try:
        sections, changed = read_sections(collector, selection, module.params)
    except (OSError, ValueError) as error:
        module.fail_json(msg="netstat_facts: could not read the socket tables: %s" % error)
    # Only an explicit side-effect switch (aix_rmsock removing a socket) ever changes a host.
    module.exit_json(changed=changed, ansible_facts={"netdiag": sections})


if __name__ == "__main__":
    main()
