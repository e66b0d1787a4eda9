# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/audit_report.py) and runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_report
short_description: Write the netdiag.tcp audit report (JSON, Markdown, HTML) on the controller
version_added: 0.1.0
description:
  - Builds the audit report from the facts the netdiag.tcp fact modules left on each host
    (C(ansible_facts.netdiag)) and the per-host outcome the audit playbook records in C(netdiag_audit_result).
  - Correlates both ends of connections between audited hosts (C(pairs)). A host is known by its sockets' local
    addresses, its C(ansible_host) and the addresses in its inventory variable C(netdiag_addresses), such as the
    NAT (SNAT) address its connections leave with or a load balancer's virtual address in front of it. Hosts that
    declare the same address are counted together as one end of a pair.
  - Adds findings such as
    C(asymmetric-established), C(asymmetric-unattributed), C(half-open-sockets) (per connection, from the
    hosts' C(established_tuples) and the audited NATs' C(nat_tuples)), C(conntrack-timeout-default),
    C(conntrack-near-full),
    C(conntrack-legacy-key-ignored), C(conntrack-timeout-lost-at-boot), C(conntrack-timeout-not-persisted),
    C(close-wait-buildup), C(no-keepalive) and C(keepalive-after-nat-timeout).
  - Compares the report with the earlier reports in O(dest) (or O(baseline)) - a C(changes) section with the numbers
    then and now, the delta and the rate per hour for every host and pair, new, gone and newly unreachable hosts;
    the series over the kept reports (pictures in the HTML); and the findings C(growing-half-open),
    C(close-wait-growing) and C(conntrack-timeout-changed). Earlier reports are read through their compact
    C(audit-<timestamp>.summary.json); an older report without one is read whole once and gets one. Corrupt reports
    and reports of another schema are named in the warnings and skipped.
  - Writes C(audit-latest.prom), the report as Prometheus gauges for node_exporter's textfile collector or a
    Pushgateway (C(docs/monitoring.md) of the collection).
  - Writes C(audit-<UTC timestamp>.json), C(.md) and C(.html) and C(audit-latest.*) copies into O(dest). The
    C(audit-latest.*) files are replaced together or not at all (all new files are written first, then renamed).
    The timestamp is the time of the write with microseconds (C(audit-20261207T193250.123456Z.json)), taken under
    an exclusive lock on O(dest) (C(.audit.lock)), so two audits writing into one directory at once take turns, both
    reports are kept and C(audit-latest.*) is always one run's set. The JSON follows schema 1, described in
    C(docs/facts_schema.md) of the collection.
  - When no host was audited (every host V(unreachable) or V(failed)), the report is written as
    C(audit-<timestamp>-failed.*), C(audit-latest.*) is left as it was, and the module fails whatever O(fail_on)
    says.
  - Control characters from hosts (C0 but line feed and tab, DEL, C1) are shown as C(\xNN) in the Markdown and
    HTML reports and in RV(summary); the JSON keeps the text as it came.
  - A host whose facts cannot be reported (malformed) gets that as its error, with status V(failed); the other hosts
    are reported.
  - Runs on the controller only. It writes the report also in check mode (C(ansible-playbook playbooks/audit.yml
    --check) still writes it), since it changes no managed host.
  - The report records what it was run with (C(run) in the JSON, "Run with" at the top of the Markdown and HTML)
    - the ports, peers and caps of O(settings), the thresholds and correlation limits in effect (defaults included),
    the report's own caps and the collection's version (from its C(MANIFEST.json), or C(galaxy.yml) in a source
    checkout), so a reader of an old report can tell why a finding did or did not fire.
options:
  hosts:
    description: Inventory names of the audited hosts.
    type: list
    elements: str
    required: true
  dest:
    description:
      - Directory for the report files, created with mode 0700 when missing (every missing level 0700, whatever the
        umask, never through a symbolic link, and only in a parent owned by you or root that others cannot write
        to unless it has the sticky bit). Relative paths are relative to the directory C(ansible-playbook) was
        started in.
      - An existing directory must belong to the user running Ansible and must not be writable by group or others;
        otherwise the module fails without writing anything.
    type: path
    default: reports
  mode:
    description:
      - Mode of the report files, set on each open file. The reports map the network, so the default is private.
        Group or other write permission is refused.
    type: str
    default: "0600"
  keep:
    description:
      - After a successful write, keep only the newest O(keep) timestamped report sets in O(dest) and remove older
        C(audit-<timestamp>.*) files. V(0) keeps all. C(audit-latest.*) and other files are never removed.
      - Sets of audits that audited no host (C(audit-<timestamp>-failed.*)) are counted apart; the newest O(keep)
        of each kind are kept, so failed runs never remove the last good set.
    type: int
    default: 0
  formats:
    description: Which report files to write.
    type: list
    elements: str
    choices: [json, md, html]
    default: [json, md, html]
  thresholds:
    description:
      - Limits for the findings, as a mapping or its JSON/YAML text (C(-e) gives text). Each limit is a number >= 0;
        an unknown key fails. Keys C(conntrack_near_full_pct) (default 80), C(conntrack_full_pct) (critical,
        default 95), C(close_wait) (CLOSE_WAIT sockets on one host, default 20), C(no_keepalive)
        (ESTABLISHED sockets without SO_KEEPALIVE on one host, default 20).
    type: raw
    default: {}
  correlation:
    description:
      - How different the two ends' ESTABLISHED counts must be for C(asymmetric-established). Keys C(min_gap)
        (default 10 connections, >= 0) and C(ratio) (default 2.0, >= 1). An unknown key fails.
      - C(min_half_open) (default 5, >= 0) - sockets of one host and service port without a mirror on the audited
        peer from which C(half-open-sockets) is raised. Connections opened or closed while the hosts were read can
        show up as a few unmatched sockets.
    type: dict
    default: {}
  query:
    description:
      - A JMESPath expression applied to the report (as written to the JSON file); the result is returned as
        RV(query_result). The audit playbook sets it from C(netdiag_query) and prints the result.
      - A bad expression fails before the report is written.
    type: str
  fail_on:
    description:
      - Which findings count as a failure of the audit, returned in RV(failing_findings) - V(never), V(warning)
        (warning or critical) or V(critical). The audit playbook sets it from C(netdiag_fail_on) and fails after
        the report is written.
      - With V(warning) or V(critical), hosts whose status is V(failed) or V(unreachable) count as a failure too,
        returned in RV(failing_hosts); such a host was not audited and raises no finding, so a gate must not pass
        on it. V(partial) hosts (socket table read, another step failed) do not fail the gate.
    type: str
    choices: [never, warning, critical]
    default: never
  generated_at:
    description:
      - Timestamp to put in the report instead of the current UTC time (for reproducible reports), in the form
        C(YYYY-MM-DDTHH:MM:SSZ) (UTC), for example V(2026-11-25T21:30:00Z). It names the report files; any other
        form fails before anything is written.
      - With O(keep), the set just written is never removed, even when an older O(generated_at) sorts it before
        the sets already there.
    type: str
  history:
    description:
      - How many earlier reports in O(dest) (the newest) the report is compared with for the series and the trend
        findings. V(0) compares with none.
    type: int
    default: 30
  baseline:
    description:
      - An earlier report (its JSON, or its C(.summary.json)) to compare the C(changes) section with, instead of the
        newest earlier report in O(dest). A plain file name is looked up in O(dest) too. A path that names no file
        fails before anything is written; a corrupt baseline or one of another schema is skipped with a message
        and the newest earlier report is used.
    type: str
  trend:
    description:
      - Limits of the comparisons over time, as a mapping. C(min_reports) (default 3) - reports, this one included,
        across which a count must grow for C(growing-half-open) and C(close-wait-growing).
        C(horizon_hours) (default 24) - these become V(critical) when the growth, projected, fills the conntrack
        table of a host of the pair or reaches C(fd_limit) (default 1024, the usual soft C(ulimit -n); the audit
        does not read each process's own limit) sockets of one holder within that many hours.
        C(max_series) (default 50) - pair and holder series per gauge in C(audit-latest.prom); the rest are summed.
    type: dict
    default: {}
  prometheus:
    description: Write C(audit-latest.prom) into O(dest).
    type: bool
    default: true
  gathered:
    description:
      - What to build the report from instead of the hosts' variables - per host name, the data
        M(netdiag.tcp.read_captures) returns in RV(netdiag.tcp.read_captures#module:hosts) (C(facts), C(status),
        C(mode), C(errors), C(netdiag_addresses)). Used by C(playbooks/analyze.yml) for captured files.
      - Without it, the report reads C(ansible_facts.netdiag) and C(netdiag_audit_result) of each host in O(hosts).
    type: dict
  settings:
    description:
      - What the playbook gathered the facts with, recorded as given in the report's C(run.settings) and shown in
        its "Run with" table. Keys C(target), C(ports), C(peers), C(max_connections), C(max_peers),
        C(max_tuples), C(become), C(capture_dir); an unknown key fails. The audit and analyze playbooks set it.
    type: dict
    default: {}
  max_age:
    description:
      - Seconds. Facts gathered longer ago than this (C(netdiag_audit_result.gathered_at), set by
        C(netdiag.tcp.gather)), or at an unknown time, are not used - such a host is reported with that error
        (status V(failed)) and named in the report's C(gathering.stale); a host with no gathered facts at all is
        named in C(gathering.missing). V(0) checks no age. C(playbooks/report.yml) sets it from
        C(netdiag_facts_max_age) (default 86400).
      - Not used with O(gathered) (captured files).
    type: int
    default: 0
extends_documentation_fragment:
  - netdiag.tcp.attributes
  - netdiag.tcp.attributes.controller
attributes:
  check_mode:
    support: partial
    details:
      - In check mode the report files are still written (and O(keep) still removes older report sets) on the
        controller, because C(playbooks/audit.yml --check) exists to produce a report without changing a host;
        managed hosts are never touched in either mode.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Write the report for every audited host
  netdiag.tcp.audit_report:
    hosts: "{{ ansible_play_hosts_all }}"
    dest: /var/tmp/netdiag
    thresholds:
      conntrack_near_full_pct: 70
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
report_files:
  description:
    - The timestamped report files written (the audit-latest.* copies are written beside them), with the report's
      C(.summary.json), and C(audit-latest.prom) when written.
  returned: success
  type: list
  elements: str
  sample: [reports/audit-20261207T193250.123456Z.json, reports/audit-20261207T193250.123456Z.md]
summary:
  description: Readable summary lines, one per host and one per finding.
  returned: success
  type: list
  elements: str
findings:
  description: The findings, most severe first, as in the JSON report.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Stable finding id, for example V(conntrack-timeout-default).
      type: str
    severity:
      description: V(info), V(warning) or V(critical).
      type: str
    host:
      description: The inventory host the finding is about.
      type: str
    summary:
      description: One line for people.
      type: str
    evidence:
      description: The numbers behind the finding.
      type: dict
    recommendation:
      description: What to do about it.
      type: str
generated_at:
  description: The report's time (UTC), as in its JSON.
  returned: success
  type: str
severity_counts:
  description: Findings by severity (V(critical), V(warning), V(info)); C(playbooks/report.yml) publishes them
    with C(set_stats).
  returned: success
  type: dict
  sample: {critical: 0, warning: 2, info: 1}
status_counts:
  description: Hosts by status (V(ok), V(partial), V(failed), V(unreachable)).
  returned: success
  type: dict
  sample: {ok: 3, partial: 0, failed: 1, unreachable: 0}
gathering:
  description: The age check of the hosts' facts - C(max_age), C(stale) (host -> when its facts were gathered)
    and C(missing) (hosts without gathered facts). Null with O(gathered).
  returned: success
  type: dict
query_result:
  description: The result of O(query) on the report.
  returned: when O(query) is set
  type: raw
  sample: [[app01, half-open-sockets], [app01, asymmetric-established]]
failing_findings:
  description: The findings at or above O(fail_on) (empty with V(never)).
  returned: success
  type: list
  elements: dict
failing_hosts:
  description:
    - The hosts that make the audit fail under O(fail_on), with their status - every host with status V(failed)
      or V(unreachable) when O(fail_on) is V(warning) or V(critical); empty with V(never).
  returned: success
  type: dict
  sample: {app01: unreachable}
changes:
  description:
    - The report's C(changes) section (see C(docs/report.md)) - compared with which report, since when,
      then/now/delta/rate per hour for each host and pair, new, gone and newly unreachable hosts, and conntrack
      timeout changes.
  returned: success
  type: dict
statuses:
  description: Each audited host's status (V(ok), V(partial), V(unreachable) or V(failed)).
  returned: success
  type: dict
  sample: {web01: ok, app01: unreachable}
"""
