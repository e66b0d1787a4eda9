# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/audit_options.py) and runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_options
short_description: Check the audit playbook's variables on the controller before any host is contacted
version_added: 0.1.0
description:
  - The first play of C(playbooks/audit.yml) runs this on the controller. A bad value fails the playbook once,
    with a message naming every bad variable and value, before any managed host is contacted and before any
    report file is written.
  - >-
    Values given with C(-e name=value) arrive as text and are read as YAML or JSON, as the audit reads them
    (V([5555]), V(5555,80) and V({"close_wait":50}) all work).
  - Options left out are not checked.
options:
  target:
    description: The host pattern of the audit (C(netdiag_audit_target)), for the message.
    type: str
    default: all
  matched_hosts:
    description:
      - The inventory hosts the pattern matches. An empty list fails; a pattern or inventory that matches nothing
        is an error, not an empty report.
    type: list
    elements: str
  ports:
    description: C(netdiag_audit_ports), port numbers 1 to 65535.
    type: raw
  peers:
    description: C(netdiag_audit_peers), IP addresses or CIDR networks.
    type: raw
  max_connections:
    description: C(netdiag_audit_max_connections), a whole number >= 0.
    type: raw
  max_peers:
    description: C(netdiag_audit_max_peers), a whole number >= 0 (0 keeps every peer).
    type: raw
  host_timeout:
    description: C(netdiag_audit_host_timeout), whole seconds >= 1 that one host may take (module or raw mode).
    type: raw
  max_capture_bytes:
    description: C(netdiag_max_capture_bytes), a whole number of bytes >= 1.
    type: raw
  become:
    description: C(netdiag_audit_become), true or false.
    type: raw
  thresholds:
    description: C(netdiag_audit_thresholds), a mapping (or its JSON/YAML text) of known finding limits to numbers
      >= 0; see M(netdiag.tcp.audit_report).
    type: raw
  correlation:
    description: C(netdiag_audit_correlation), a mapping (or its JSON/YAML text) of C(min_gap) (>= 0), C(ratio)
      (>= 1) and C(min_half_open) (>= 0); see M(netdiag.tcp.audit_report).
    type: raw
  report_dir:
    description:
      - C(netdiag_report_dir). It must be a directory you own that group and others cannot write to, or not exist
        yet in a writable parent (it is then created with mode 0700 when the report is written).
    type: path
    default: reports
  report_keep:
    description: C(netdiag_report_keep), how many timestamped report sets to keep, a whole number >= 0 (0 keeps all).
    type: raw
  report_history:
    description: C(netdiag_report_history), how many earlier reports to compare with, a whole number >= 0.
    type: raw
  trend:
    description:
      - C(netdiag_audit_trend), the limits of the comparisons over time (C(min_reports), C(horizon_hours),
        C(fd_limit), C(max_series)), a mapping or its JSON text; an unknown key fails.
    type: raw
  baseline:
    description: C(netdiag_baseline), an earlier report to compare with; it must name a file.
    type: str
  facts_max_age:
    description: C(netdiag_facts_max_age), the oldest gathered facts the report uses, in seconds, a whole number >= 0
      (0 - no limit).
    type: raw
extends_documentation_fragment:
  - netdiag.tcp.attributes
  - netdiag.tcp.attributes.controller
attributes:
  check_mode:
    support: full
    details: Changes nothing in any mode.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Check the audit's variables
  netdiag.tcp.audit_options:
    target: "{{ netdiag_audit_target | default('all') }}"
    matched_hosts: "{{ query('ansible.builtin.inventory_hostnames', netdiag_audit_target | default('all')) }}"
    ports: "{{ netdiag_audit_ports | default(omit) }}"
    report_dir: "{{ netdiag_report_dir | default('reports') }}"
"""

RETURN = r"""
report_dir:
  description: The report directory as an absolute path.
  returned: success
  type: str
  sample: /home/ops/netdiag/reports
target:
  description: The host pattern.
  returned: success
  type: str
  sample: web:app
matched_hosts:
  description: The inventory hosts the pattern matches, sorted.
  returned: when O(matched_hosts) was given
  type: list
  elements: str
ports:
  description: The ports, as integers, sorted.
  returned: when O(ports) was given
  type: list
  elements: int
  sample: [5555]
peers:
  description: The peers as text.
  returned: when O(peers) was given
  type: list
  elements: str
max_connections:
  description: The limit as an integer.
  returned: when O(max_connections) was given
  type: int
max_peers:
  description: The limit as an integer.
  returned: when O(max_peers) was given
  type: int
host_timeout:
  description: The deadline in seconds.
  returned: when O(host_timeout) was given
  type: int
max_capture_bytes:
  description: The size limit in bytes.
  returned: when O(max_capture_bytes) was given
  type: int
become:
  description: The switch as a boolean.
  returned: when O(become) was given
  type: bool
thresholds:
  description: The limits as a mapping.
  returned: when O(thresholds) was given
  type: dict
correlation:
  description: The correlation limits as a mapping.
  returned: when O(correlation) was given
  type: dict
report_keep:
  description: How many report sets are kept, as an integer.
  returned: when O(report_keep) was given
  type: int
report_history:
  description: How many earlier reports are compared with, as an integer.
  returned: when O(report_history) was given
  type: int
trend:
  description: The trend limits with their defaults filled in.
  returned: when O(trend) was given
  type: dict
  sample: {min_reports: 3, horizon_hours: 24, fd_limit: 1024, max_series: 50}
facts_max_age:
  description: The maximum age of gathered facts in seconds, as an integer.
  returned: when O(facts_max_age) was given
  type: int
"""
