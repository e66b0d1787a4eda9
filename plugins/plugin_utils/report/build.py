# SPDX-License-Identifier: GPL-3.0-or-later
"""Assemble the audit report (schema 1, docs/facts_schema.md) from what each host returned. Pure functions, no I/O."""

from __future__ import annotations

import contextlib
import gc

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.correlation import correlate, host_addresses
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import (
    DEFAULT_THRESHOLDS,
    SEVERITY_ORDER,
    host_findings,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.keepalive import keepalive_findings
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.matching import (
    MAX_OUTSIDE,
    SAMPLE_SIZE,
    Matcher,
    half_open_findings,
    matching_section,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.run_settings import run_record

# Correlation options (audit_report's ``correlation``): the count comparison's and the matching's limits.
DEFAULT_CORRELATION = {"min_gap": 10, "ratio": 2.0, "min_half_open": 5}

SCHEMA = 1
SECTIONS = ("netstat", "keepalive", "conntrack", "slabinfo", "aix", "sunos")


def host_report(gathered):
    """One host's report entry from {'status': ..., 'errors': [...], 'facts': ansible_facts.netdiag, 'platform'}.

    status: 'unreachable' when the host could not be reached; 'failed' when the socket table (the core of the audit)
    could not be read; 'partial' when it was read but another step failed; else 'ok'. Sections a host legitimately
    lacks (conntrack on a host without it, slabinfo without root) are reported inside the section with
    available: false and a reason, not as errors.
    """
    facts = gathered.get("facts") or {}
    errors = [str(error) for error in gathered.get("errors") or [] if error]
    platform = gathered.get("platform") or facts.get("platform") or (facts.get("netstat") or {}).get("platform")
    report = {"status": "ok", "platform": platform, "errors": errors}
    # How the facts were read: "module" (the fact modules on the host), "raw" (raw commands parsed here, for hosts
    # without Python) or "capture" (files captured by someone else, playbooks/analyze.yml).
    report["mode"] = gathered.get("mode") or "module"
    if gathered.get("mode_reason"):
        report["mode_reason"] = gathered["mode_reason"]
    if gathered.get("gathered_at"):
        report["gathered_at"] = gathered["gathered_at"]  # when gather.yml read it (UTC)
    for section in SECTIONS:
        if isinstance(facts.get(section), dict):
            report[section] = facts[section]
    if gathered.get("status") == "unreachable":
        report["status"] = "unreachable"
    elif "netstat" not in report:
        report["status"] = "failed"
        if not errors:
            errors.append("no socket table was gathered from this host")
    elif errors:
        report["status"] = "partial"
    return report


@contextlib.contextmanager
def collection_paused():
    """The cyclic garbage collector off for a block that makes millions of tuples and no cycles.

    Every collection of the oldest generation walks every tracked object: with a fleet's million socket rows
    alive, collections triggered by the new ones made the time per socket grow with the fleet (1.5x from 100 to
    10,000 hosts). Reference counting still frees everything; the collector's state is restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_report(gathered_by_host, generated_at, thresholds=None, correlation=None, run=None, gathering=None):
    """The whole report: hosts, pairs across hosts and findings, most severe first, and what it was run with.

    run: {"settings": what the playbook passed (ports, peers, caps), "collection": run_settings.collection_info()}.
    gathering: {"max_age": seconds, "stale": {host: gathered_at}, "missing": [host]} when the facts came from
    hosts' variables (a fact cache), added to the report as it is."""
    with collection_paused():
        report = _build_report(gathered_by_host, generated_at, thresholds, correlation, run)
    if gathering is not None:
        report["gathering"] = {
            "max_age": gathering.get("max_age"),
            "stale": dict(sorted((gathering.get("stale") or {}).items())),
            "missing": sorted(gathering.get("missing") or ()),
        }
    return report


def _build_report(gathered_by_host, generated_at, thresholds, correlation, run):
    hosts = {name: host_report(gathered) for name, gathered in gathered_by_host.items()}
    addresses = {
        name: host_addresses(hosts[name], extra=gathered_by_host[name].get("addresses") or ()) for name in hosts
    }
    aliases = {name: gathered_by_host[name].get("aliases") or () for name in hosts}
    options = dict(DEFAULT_CORRELATION, **(correlation or {}))
    matcher = Matcher(hosts, addresses, aliases)
    groups, outside = matcher.run()
    pairs, pair_findings = correlate(hosts, addresses, aliases, matcher, options)
    findings = (
        host_findings(hosts, thresholds)
        + pair_findings
        + half_open_findings(groups, options["min_half_open"])
        + keepalive_findings(hosts, addresses)
    )
    findings.sort(key=lambda item: (SEVERITY_ORDER[item["severity"]], item["host"], item["id"]))
    limits = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    caps = {"half_open_sample": SAMPLE_SIZE, "outside_listed": MAX_OUTSIDE}
    return {
        "schema": SCHEMA,
        "generated_at": generated_at,
        "run": run_record(limits, options, caps, (run or {}).get("settings"), (run or {}).get("collection")),
        "hosts": hosts,
        "pairs": pairs,
        "matching": matching_section(groups, outside, matcher.errors),
        "findings": findings,
    }


def status_counts(report):
    counts = {}
    for host in report["hosts"].values():
        counts[host["status"]] = counts.get(host["status"], 0) + 1
    return counts
