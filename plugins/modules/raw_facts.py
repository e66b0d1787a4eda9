# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/raw_facts.py): it runs commands the way
# ansible.builtin.raw does and parses their output on the controller, so the host needs no Python.

from __future__ import annotations

DOCUMENTATION = r"""
module: raw_facts
short_description: Read the netdiag facts of a host without Python (raw commands, parsed on the controller)
version_added: 0.1.0
description:
  - Runs C(uname -s) on the host, then only read-only commands of that platform through the connection, as
    M(ansible.builtin.raw) does (become applies). Linux - C(head -c) (O(max_bytes) + 1) of C(/proc/net/tcp), C(tcp6),
    C(udp), C(udp6), C(/proc/net/nf_conntrack), C(/proc/net/stat/nf_conntrack), C(/proc/slabinfo), and C(wc -c) of a
    file over that limit; C(grep -H) over the keepalive and
    conntrack sysctls; C(ls -ln) and C(grep) over C(/proc/<pid>) for socket owners; C(getent passwd). AIX -
    the AIX collector's commands (C(netstat -Aan), as root C(kdb) with only C(sockinfo <PCB> tcpcb) lines on its
    input, C(no -o ...)), or C(netstat -Aan) and C(no -a) without that collector. SunOS - the SunOS collector's
    commands (C(netstat -anu), C(ipadm)/C(ndd) for keepalive), or C(netstat -an) and
    C(ndd -get /dev/tcp tcp_keepalive_interval) without it. Every command runs with C(LC_ALL=C). It never runs
    C(rmsock) or C(pfiles), and C(kdb) only to read sockets.
  - Parses the output on the controller with the parsers the fact modules use and returns the same sections under
    C(ansible_facts.netdiag) (C(netstat), C(keepalive), C(conntrack), C(slabinfo)), which they replace as a whole
    (sections of earlier runs, which a fact cache keeps, are not mixed with this run's). For the same sockets,
    the facts equal those of M(netdiag.tcp.netstat_facts), M(netdiag.tcp.conntrack_facts) and
    M(netdiag.tcp.slabinfo_facts); C(conntrack.persisted) (the boot configuration) is not read and is V(null).
  - Used by C(playbooks/audit.yml) for hosts with C(netdiag_raw=true) and, automatically, for hosts where the fact
    modules cannot start for lack of an interpreter. See C(docs/raw_mode.md).
options:
  max_connections:
    description: How many connection records to keep (counts stay complete); V(0) for counts only.
    type: int
    default: 1000
  owners:
    description: Map sockets to their owning pid, process and user (Linux; two C(ls) and one C(grep) over C(/proc)).
    type: bool
    default: true
  conntrack:
    description: Read the conntrack section (Linux).
    type: bool
    default: true
  slabinfo:
    description: Read the conntrack slab caches (Linux; C(/proc/slabinfo) needs become).
    type: bool
    default: true
  top:
    description: How many conntrack top talkers to return.
    type: int
    default: 10
  tuples:
    description:
      - Also return C(netstat.established_tuples) and C(netstat.holders), as O(netdiag.tcp.netstat_facts#module:tuples)
        does (the audit sets it, to match both ends of each connection).
    type: bool
    default: false
  max_tuples:
    description: Most sockets listed in C(established_tuples) when O(tuples=true).
    type: int
    default: 200000
  nat_tuples:
    description:
      - Also return C(conntrack.nat_tuples) (Linux), as O(netdiag.tcp.conntrack_facts#module:nat_tuples) does.
    type: bool
    default: false
  max_nat_tuples:
    description: Most entries listed in C(conntrack.nat_tuples) when O(nat_tuples=true).
    type: int
    default: 200000
  max_bytes:
    description:
      - Most bytes of one command's output that are parsed (C(netdiag_max_capture_bytes) in
        C(playbooks/audit.yml)). Longer output is cut after the last whole line within the limit, and RV(errors)
        names the file or command and its size. The default, 1 GiB, is several times a busy host's C(/proc/net/tcp)
        (about 150 MB at 1,000,000 sockets). Linux files are read with C(head -c), so no more than the limit crosses
        the connection; other commands' output is cut on the controller, and the task's C(timeout)
        (C(netdiag_audit_host_timeout)) bounds a host whose output never ends.
    type: int
    default: 1073741824
extends_documentation_fragment:
  - netdiag.tcp.selection
  - netdiag.tcp.attributes.facts
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [Linux, AIX, SunOS]
    details: Needs a POSIX shell on the host, no Python.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Read the socket table of an AIX host without Python
  netdiag.tcp.raw_facts:
    ports: [5555]

- name: Show who holds connections to port 5555
  ansible.builtin.debug:
    msg: "{{ ansible_facts.netdiag.netstat.established_by_peer }}"
"""

RETURN = r"""
ansible_facts:
  description: The sections, as the fact modules return them.
  returned: always
  type: dict
  contains:
    netdiag:
      description: C(netstat), C(keepalive) and, where the platform has them, C(conntrack) and C(slabinfo).
      type: dict
platform:
  description: What C(uname -s) printed.
  returned: always
  type: str
  sample: AIX
commands:
  description: The commands run on the host, in order (without the C(LC_ALL=C) prefix).
  returned: always
  type: list
  elements: str
  sample: ["uname -s", "netstat -Aan", "no -a"]
errors:
  description: What could not be read or parsed, and output cut at O(max_bytes); each section fails alone, the
    other sections are still returned. The task fails only when no section could be read at all (a host without
    a socket table but with its conntrack and slab sections is not failed, so those facts are kept).
  returned: always
  type: list
  elements: str
  sample: []
"""
