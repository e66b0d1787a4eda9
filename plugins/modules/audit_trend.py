# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/audit_trend.py) and runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_trend
short_description: Draw the netdiag.tcp audit reports of a directory over time (HTML page and CSV)
version_added: 0.2.0
description:
  - Reads the audit reports kept in O(report_dir) (through their compact C(audit-<timestamp>.summary.json), or the
    report itself for an older one without it) and writes C(trend.html) - per pair the matched and half-open
    sockets, per host the conntrack table fill, over the reports' times, and the trend findings at the last report
    (C(growing-half-open), C(close-wait-growing), C(conntrack-timeout-changed)) - and C(trend.csv) with the same
    numbers for spreadsheets.
  - Audits nothing and contacts no host. Corrupt reports and reports of another schema are named and skipped.
  - Runs on the controller only; writes its two files also in check mode, since it changes no managed host.
options:
  report_dir:
    description: The directory the audit wrote its reports to (C(netdiag_report_dir)).
    type: path
    required: true
  dest:
    description:
      - Directory for C(trend.html) and C(trend.csv); by default O(report_dir). Created with mode 0700 when missing;
        a directory of another user or writable by group or others is refused.
    type: path
  reports:
    description: How many of the newest reports to draw; V(0) draws all.
    type: int
    default: 0
  mode:
    description: Mode of the files written; group or other write permission is refused.
    type: str
    default: "0600"
  trend:
    description:
      - Limits of the trend findings (C(min_reports), C(horizon_hours), C(fd_limit)), as for
        O(netdiag.tcp.audit_report#module:trend).
    type: dict
    default: {}
extends_documentation_fragment:
  - netdiag.tcp.attributes
  - netdiag.tcp.attributes.controller
attributes:
  check_mode:
    support: full
    details: Writes the page and the CSV on the controller in check mode too; managed hosts are never touched.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Draw the kept reports over time
  netdiag.tcp.audit_trend:
    report_dir: /var/tmp/netdiag
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
files:
  description: The page and the CSV written.
  returned: success
  type: list
  elements: str
  sample: [/var/tmp/netdiag/trend.html, /var/tmp/netdiag/trend.csv]
reports:
  description: The reports drawn, oldest first (their times).
  returned: success
  type: list
  elements: str
  sample: ["2026-12-07T10:00:00Z", "2026-12-07T11:00:00Z"]
skipped:
  description: Reports that were not drawn, with the reason (corrupt, another schema).
  returned: success
  type: list
  elements: dict
  contains:
    file:
      description: The report file.
      type: str
    reason:
      description: Why it was skipped.
      type: str
findings:
  description: The trend findings at the last report, most severe first.
  returned: success
  type: list
  elements: dict
"""
