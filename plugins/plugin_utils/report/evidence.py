# SPDX-License-Identifier: GPL-3.0-or-later
"""A finding's evidence for people: labelled lines and a folded sample, for markdown.py and html.py alike.

The JSON keeps the evidence as data (``client_half_open: 12``, ``peers: {"app01": 30}``); the Markdown and HTML
reports show it as lines a person reads at 3 a.m. ("Client sockets half-open: 12", "Audited peer without the other
end: app01 30"), never as field names or JSON dumps. A value the facts do not know shows as "unknown". Lists of
sockets are samples: the renderers fold them (``<details>`` in HTML, a short list with "N more in the JSON" in
Markdown). Pure functions; the renderers escape.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import UNKNOWN

# Evidence keys in the order people read them, with their labels. Keys not listed keep their order after these,
# labelled from their name.
LABELS = {
    # half-open-sockets
    "count": "Sockets",
    "service_port": "Service port",
    "direction": "Direction",
    "matched": "Matched one to one",
    "peers": "Audited peer without the other end",
    "forgotten_by_nat": "NAT without an entry for them",
    "through": "Through NAT",
    "reasons": "Why half-open",
    "holders": "Held by",
    "named_on_host": "Named on this host, not per socket",
    "keepalive_counts": "SO_KEEPALIVE per socket",
    # pairs (asymmetric-*, half-open by counts)
    "client": "Client",
    "server": "Server",
    "client_count": "Client holds",
    "server_count": "Server holds",
    "client_hosts": "Client hosts",
    "server_hosts": "Server hosts",
    "client_unattributed": "Client's connections to peers no audited host is known by",
    "server_unattributed": "Server's connections from peers no audited host is known by",
    "per_connection": "Matched per connection",
    "client_matched": "Client sockets matched",
    "server_matched": "Server sockets matched",
    "client_half_open": "Client sockets half-open",
    "server_half_open": "Server sockets half-open",
    "matching": "Compared by",
    "matching_reason": "Why by counts",
    "peers_filtered": "Hosts that listed only some peers",
    "peers_filter_reason": "Peers filter",
    # conntrack
    "key": "Sysctl key",
    "value": "Value (s)",
    "max": "Table size (max)",
    "usage_pct": "Usage (%)",
    "threshold_pct": "Threshold (%)",
    "top_sources": "Top sources",
    "drop": "Packets dropped (table full)",
    "early_drop": "Entries dropped early",
    "assignments": "Set in",
    "key_style": "Key style",
    "effective": "Applied at boot from",
    "module_load_files": "modules-load.d files",
    "live": "Live value (s)",
    "at_boot": "Value after the next boot (s)",
    # close-wait-buildup
    "close_wait": "CLOSE_WAIT sockets",
    "threshold": "Threshold",
    "owners": "Owners (of the listed sockets)",
    # no-keepalive, keepalive-after-nat-timeout
    "established_without_keepalive": "ESTABLISHED without SO_KEEPALIVE",
    "established_keepalive_unknown": "ESTABLISHED with SO_KEEPALIVE unknown",
    "keepalive": "Keepalive",
    "tcp_keepalive_time": "tcp_keepalive_time (s)",
    "established_with_keepalive": "ESTABLISHED with SO_KEEPALIVE",
    "conntrack_host": "Conntrack host",
    "conntrack_timeout": "Its ESTABLISHED timeout (s)",
    "tracked_entries": "Entries it tracks for this host",
}
# Where one key means something else in another finding's evidence.
FINDING_LABELS = {
    "half-open-sockets": {"keepalive": "SO_KEEPALIVE on these sockets"},
    "conntrack-timeout-default": {"count": "Entries in the table now"},
    "conntrack-near-full": {"count": "Entries in the table"},
    "asymmetric-established": {"matching": "Compared by"},
}
# Evidence keys that are folded into another line rather than shown on their own.
FOLDED_INTO = {"sample_truncated": "sample"}
SAMPLES = ("sample",)
SAMPLE_LABEL = "Sample of the sockets"
SAMPLE_COLUMNS = (
    ("local_address", "local address"),
    ("local_port", "local port"),
    ("remote_address", "remote address"),
    ("remote_port", "remote port"),
    ("pid", "pid"),
)
REASONS = {
    "no-peer-socket": "no socket on the audited peer",
    "no-nat-entry": "no entry on the audited NAT",
}
KEEPALIVE_SETTINGS = (("time", "time", " s"), ("intvl", "interval", " s"), ("probes", "probes", ""))


def label(key, finding_id=None):
    return (FINDING_LABELS.get(finding_id) or {}).get(key) or LABELS.get(key) or str(key).replace("_", " ").capitalize()


def scalar(value):
    if value is None:
        return UNKNOWN
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def holder_text(holder):
    """'xxxx_srv (pid 376864, user app): 30 sockets, named by kdb' / 'unknown process: 30 sockets, no source named
    it'."""
    name = holder.get("process") or "unknown process"
    details = []
    if holder.get("pid") is not None:
        details.append("pid %s" % holder["pid"])
    if holder.get("user"):
        details.append("user %s" % holder["user"])
    text = "%s (%s)" % (name, ", ".join(details)) if details else name
    count = holder.get("count", holder.get("sockets"))
    if count is not None:
        text += ": %s socket%s" % (count, "" if count == 1 else "s")
    sources = holder.get("named_by") or []
    text += ", named by %s" % " and ".join(sources) if sources else ", no source named it"
    return text


def _assignment_text(item):
    where = "%s:%s" % (item.get("file"), item.get("line")) if item.get("file") else None
    setting = "%s = %s" % (item.get("key"), scalar(item.get("value"))) if item.get("key") else None
    return " ".join(part for part in (where, setting) if part) or _mapping_text(item)


def _keepalive_text(settings):
    parts = [
        "%s %s%s" % (word, settings[name], unit) if settings.get(name) is not None else "%s unknown" % word
        for name, word, unit in KEEPALIVE_SETTINGS
    ]
    # Known values first, the unknown ones after them.
    parts.sort(key=lambda part: part.endswith(" unknown"))
    if settings.get("source"):
        parts.append("read from %s" % settings["source"])
    return ", ".join(parts)


def _mapping_text(mapping):
    return ", ".join("%s %s" % (label(key).lower(), scalar(value)) for key, value in mapping.items())


def _item_text(key, item):
    """One element of a list of dictionaries."""
    if key in ("holders", "named_on_host"):
        return holder_text(item)
    if key == "top_sources" and "address" in item:
        return "%s: %s entries" % (item["address"], scalar(item.get("count")))
    if "file" in item or "key" in item:
        return _assignment_text(item)
    return _mapping_text(item)


def value_text(key, value):
    """One evidence value as text (lists of dictionaries: see value_lines)."""
    if isinstance(value, dict):
        if not value:
            return "none"
        if key == "keepalive" and any(name in value for name, _word, _unit in KEEPALIVE_SETTINGS):
            return _keepalive_text(value)
        if key == "reasons":
            return ", ".join("%s: %s" % (REASONS.get(name, name), scalar(count)) for name, count in value.items())
        if "file" in value or "key" in value:
            return _assignment_text(value)
        return ", ".join("%s: %s" % (name, value_text(name, item)) for name, item in value.items())
    if isinstance(value, list):
        if not value:
            return "none"
        return "; ".join(_item_text(key, item) if isinstance(item, dict) else scalar(item) for item in value)
    return scalar(value)


def value_lines(key, value):
    """The value as one or more lines: one per element of a list of dictionaries (holders, top sources)."""
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [_item_text(key, item) for item in value]
    return [value_text(key, value)]


def evidence_items(evidence, finding_id=None):
    """[("line", label, [text, ...]) ..., ("sample", label, header, rows, total)] in reading order.

    total: how many sockets the sample is drawn from (the finding's count when the JSON sample is capped)."""
    keys = [key for key in LABELS if key in evidence]
    keys += [key for key in evidence if key not in LABELS]
    items = []
    for key in keys:
        if key in FOLDED_INTO:
            continue
        value = evidence[key]
        if key in SAMPLES and isinstance(value, list):
            if not value:
                continue
            rows = [
                [UNKNOWN if item.get(name) is None else item.get(name) for name, _title in SAMPLE_COLUMNS]
                for item in value
            ]
            total = evidence.get("count") if evidence.get("sample_truncated") else len(value)
            header = [title for _name, title in SAMPLE_COLUMNS]
            items.append(("sample", SAMPLE_LABEL, header, rows, total if total is not None else len(value)))
            continue
        items.append(("line", label(key, finding_id), value_lines(key, value)))
    return items


def socket_text(header, row):
    """One sampled socket on one line: 'local 198.51.100.20:5555, remote 198.51.100.10:40000, pid 376864'."""
    values = dict(zip(header, row))
    return "local %s:%s, remote %s:%s, pid %s" % (
        values.get("local address"),
        values.get("local port"),
        values.get("remote address"),
        values.get("remote port"),
        values.get("pid"),
    )
