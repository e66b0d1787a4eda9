# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/read_captures.py) and runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: read_captures
short_description: Read captured command output, one folder per host, into what the audit report is built from
version_added: 0.1.0
description:
  - Reads O(capture_dir) on the controller. Each sub-folder is one host; each file in it is named by the command
    that produced it (C(netstat-Aan.txt), C(rmsock.txt), C(proc-net-tcp.txt), C(netstat-an.txt), C(ss.txt),
    C(sysctl.txt), C(nf_conntrack.txt), C(ip_conntrack.txt), C(conntrack-L.txt), C(conntrack-stat.txt),
    C(slabinfo.txt), C(no-a.txt), C(kdb-sockinfo.txt), C(ndd-tcp_keepalive_interval.txt), C(uname.txt)), and an
    optional C(host.yml) gives C(netdiag_addresses), C(platform) and C(ansible_host). See C(docs/offline_analysis.md).
  - Parses every file with the parsers the fact modules use, so the facts are those the host would have returned.
  - A file with an unknown name, or a line that cannot be read, is reported in that host's C(errors) by file name
    and line number; the host's other files are still analysed.
  - Used by C(playbooks/analyze.yml), which hands the result to M(netdiag.tcp.audit_report) (option C(gathered)).
options:
  capture_dir:
    description: The folder of captures, one sub-folder per host.
    type: path
    required: true
  max_connections:
    description: Connection records kept per host (counts stay complete).
    type: int
    default: 1000
  top:
    description: How many conntrack top talkers to keep.
    type: int
    default: 10
  max_bytes:
    description:
      - Most bytes read of one file (C(netdiag_max_capture_bytes) in C(playbooks/analyze.yml)). A longer file is
        read in chunks up to its last whole line within the limit and named in the host's C(errors) with its size,
        so memory stays bounded by the limit. The default, 1 GiB, is several times the largest real table
        (C(/proc/net/tcp) with 1,000,000 sockets is about 150 MB, a full conntrack table at C(nf_conntrack_max)
        2,097,152 about 600 MB).
      - The folder is untrusted input - a symbolic link (file or host folder) is never followed and is named in
        the errors, only regular files are read, names that are not UTF-8 are shown with U+FFFD, and a line that
        does not parse is named by file and line number, never quoted.
    type: int
    default: 1073741824
extends_documentation_fragment:
  - netdiag.tcp.selection
  - netdiag.tcp.attributes
  - netdiag.tcp.attributes.controller
attributes:
  check_mode:
    support: full
    details: Only reads files on the controller.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Read the captures a colleague sent
  netdiag.tcp.read_captures:
    capture_dir: /var/tmp/incident-captures
    ports: [5555]
  register: captures
"""

RETURN = r"""
capture_dir:
  description: The folder read, as an absolute path.
  returned: success
  type: str
hosts:
  description:
    - Per host folder - C(status), C(mode) (V(capture)), C(platform), C(errors), C(facts) (the
      C(ansible_facts.netdiag) sections), C(netdiag_addresses) and C(addresses).
  returned: success
  type: dict
"""
