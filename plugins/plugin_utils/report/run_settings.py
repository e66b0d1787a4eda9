# SPDX-License-Identifier: GPL-3.0-or-later
"""What an audit was run with, recorded in the report (``run``) and shown at its top.

A reader of an old report must be able to tell why a finding did or did not fire: the ports and peers the hosts
were read for, the thresholds and correlation limits, the caps that cut lists short, and the collection version
that built it. ``run_record`` is a pure function; ``collection_info`` reads the collection's own ``MANIFEST.json``
(an installed collection) or ``galaxy.yml`` (a source checkout) once.
"""

from __future__ import annotations

import functools
import json
import os

import yaml

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import OWNERS_SHOWN
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import shown

COLLECTION = "netdiag.tcp"
# The collection's root: plugins/plugin_utils/report/run_settings.py is four levels below it.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Settings of the playbook (audit_report's ``settings`` option), in the order they are shown.
SETTINGS = {
    "target": "Hosts audited (pattern)",
    "ports": "Ports",
    "peers": "Peers",
    "max_connections": "Connection records kept per host (max_connections)",
    "max_peers": "Peers kept per port and host (max_peers; 0: all)",
    "max_tuples": "Sockets listed per host for matching (max_tuples)",
    "become": "Become root",
    "capture_dir": "Capture folder",
}
# The report's own caps (shown lists), from the modules that apply them.
TOP_PEERS_SHOWN = 10


@functools.lru_cache(maxsize=1)
def collection_info(root=COLLECTION_ROOT):
    """{name, version, source}: from MANIFEST.json (installed) or galaxy.yml (source checkout); version None when
    neither can be read."""
    manifest = os.path.join(root, "MANIFEST.json")
    galaxy = os.path.join(root, "galaxy.yml")
    try:
        with open(manifest, encoding="utf-8") as handle:
            info = json.load(handle)["collection_info"]
        return {
            "name": "%s.%s" % (info["namespace"], info["name"]),
            "version": info["version"],
            "source": "MANIFEST.json",
        }
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(galaxy, encoding="utf-8") as handle:
            info = yaml.safe_load(handle)
        return {
            "name": "%s.%s" % (info["namespace"], info["name"]),
            "version": str(info["version"]),
            "source": "galaxy.yml",
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {"name": COLLECTION, "version": None, "source": None}


def run_record(thresholds, correlation, caps, settings=None, collection=None):
    """The report's ``run`` section: {collection, settings, thresholds, correlation, caps}.

    thresholds and correlation: the limits in effect (defaults included); caps: the report's own caps; settings:
    what the playbook passed (ports, peers, max_connections, ...), as given; collection: collection_info()."""
    return {
        "collection": dict(collection or {"name": COLLECTION, "version": None, "source": None}),
        "settings": dict(settings or {}),
        "thresholds": dict(thresholds),
        "correlation": dict(correlation),
        "caps": dict(caps, close_wait_owners_shown=OWNERS_SHOWN, top_peers_shown=TOP_PEERS_SHOWN),
    }


THRESHOLD_LABELS = {
    "conntrack_near_full_pct": "conntrack-near-full from (% of the table)",
    "conntrack_full_pct": "conntrack-near-full is critical from (% of the table)",
    "close_wait": "close-wait-buildup from (CLOSE_WAIT sockets)",
    "no_keepalive": "no-keepalive from (ESTABLISHED sockets without SO_KEEPALIVE)",
}
CORRELATION_LABELS = {
    "min_gap": "asymmetric-established from a gap of (connections)",
    "ratio": "asymmetric-established from a ratio of",
    "min_half_open": "half-open-sockets from (sockets)",
}
CAP_LABELS = {
    "half_open_sample": "Half-open sockets sampled per finding",
    "outside_listed": "Peers outside the audit listed",
    "close_wait_owners_shown": "CLOSE_WAIT owners named per finding",
    "top_peers_shown": "Peers shown per host",
}


def _value(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) if value else "all"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return shown(value)


def run_line(run):
    """One line under the title: the version and the selection, the rest is in the "Run with" table at the end."""
    if not isinstance(run, dict):
        return []
    collection = run.get("collection") or {}
    settings = run.get("settings") or {}
    parts = ["Built by %s %s" % (collection.get("name") or COLLECTION, shown(collection.get("version")))]
    for key in ("ports", "peers"):
        parts.append("%s %s" % (key, _value(settings[key]) if key in settings else "not recorded"))
    return [("paragraph", '%s; thresholds, limits and caps under "Run with" at the end.' % ", ".join(parts))]


def run_blocks(run):
    """The report's "Run with" table (nothing for reports built without a run record)."""
    if not isinstance(run, dict):
        return []
    collection = run.get("collection") or {}
    rows = [["collection", "%s %s" % (collection.get("name") or COLLECTION, shown(collection.get("version")))]]
    settings = run.get("settings") or {}
    for key, title in SETTINGS.items():
        if key in settings:
            rows.append([title, _value(settings[key])])
    for key in ("ports", "peers"):
        if key not in settings:
            rows.append([SETTINGS[key], "not recorded (set by the playbook)"])
    for section, labels in (
        ("thresholds", THRESHOLD_LABELS),
        ("correlation", CORRELATION_LABELS),
        ("caps", CAP_LABELS),
    ):
        # The option's own name beside its label: what to set with -e to change it.
        rows.extend(
            ["%s (%s)" % (labels.get(key, key.replace("_", " ")), key), _value(value)]
            for key, value in sorted((run.get(section) or {}).items())
        )
    return [("heading", 2, "Run with"), ("table", ["setting", "value"], rows)]
