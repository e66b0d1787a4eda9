# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit playbook's variables, checked on the controller before any host is contacted. Pure functions.

Values given with -e arrive as strings ("abc", "[5555]", "5555,80", '{"close_wait": 50}'); values from an
inventory or a JSON -e arrive typed. Every function accepts both, returns the typed value, and raises
AuditOptionError with a message that names the variable and the bad value.
"""

from __future__ import annotations

import json
import numbers

import yaml

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import DEFAULT_THRESHOLDS


class AuditOptionError(ValueError):
    """A variable of the audit is invalid; the message names it."""


def _load_text(name, value):
    """A string given with -e as YAML/JSON (the way the gather play reads it); anything else unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise AuditOptionError(
            "%s: %r is not valid YAML or JSON (%s); with -e %s=VALUE the value ends at the first space, so give "
            "it as JSON: -e '{\"%s\": ...}'" % (name, value, error.problem, name, name)
        ) from None


def _as_list(name, value):
    loaded = _load_text(name, value)
    if loaded is None:
        return []
    if isinstance(loaded, str):  # "5555,80": the fact modules' list options split on commas too
        return [item.strip() for item in loaded.split(",") if item.strip()]
    if isinstance(loaded, (list, tuple)):
        return list(loaded)
    if isinstance(loaded, (int, float)) and not isinstance(loaded, bool):
        return [loaded]
    raise AuditOptionError("%s: %r is not a list" % (name, value))


def _selection_error(name, option, error):
    text = str(error)
    prefix = option + ": "
    return AuditOptionError(name + ": " + (text[len(prefix) :] if text.startswith(prefix) else text))


def ports(value, name="netdiag_audit_ports"):
    items = _as_list(name, value)
    for item in items:
        if isinstance(item, (float, bool)):
            raise AuditOptionError("%s: %r is not a port number (1-65535)" % (name, item))
    try:
        return sorted(Selection(ports=items).ports)
    except ValueError as error:
        raise _selection_error(name, "ports", error) from None


def peers(value, name="netdiag_audit_peers"):
    items = [str(item) for item in _as_list(name, value)]
    try:
        Selection(peers=items)
    except ValueError as error:
        raise _selection_error(name, "peers", error) from None
    return items


def count(value, name, minimum=0):
    """A whole number >= minimum, from an int or its text."""
    loaded = _load_text(name, value)
    if isinstance(loaded, bool) or not isinstance(loaded, int) or loaded < minimum:
        raise AuditOptionError("%s: %r is not a whole number >= %d" % (name, value, minimum))
    return loaded


def boolean(value, name):
    loaded = _load_text(name, value)
    if isinstance(loaded, bool):
        return loaded
    if isinstance(loaded, str) and loaded.lower() in ("yes", "no", "true", "false", "on", "off"):
        return loaded.lower() in ("yes", "true", "on")
    if loaded in (0, 1):
        return bool(loaded)
    raise AuditOptionError("%s: %r is not true or false" % (name, value))


def thresholds(value, name="netdiag_audit_thresholds"):
    """{limit: number >= 0} with known names only; a JSON or YAML mapping given as text is read first."""
    loaded = _load_text(name, value)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise AuditOptionError(
            '%s: %r is not a mapping such as {"close_wait": 50}; known limits: %s'
            % (name, value, ", ".join(sorted(DEFAULT_THRESHOLDS)))
        )
    unknown = sorted(str(key) for key in loaded if key not in DEFAULT_THRESHOLDS)
    if unknown:
        raise AuditOptionError(
            "%s: unknown %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(DEFAULT_THRESHOLDS)))
        )
    checked = {}
    for key, limit in loaded.items():
        if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not limit >= 0:
            raise AuditOptionError("%s.%s must be a number >= 0, got %s" % (name, key, json.dumps(limit, default=str)))
        checked[key] = limit
    return checked


# Keys of report.build.DEFAULT_CORRELATION with the least value each may take.
CORRELATION_MINIMUMS = {"min_gap": 0, "ratio": 1, "min_half_open": 0}


def correlation(value, name="correlation"):
    """{min_gap: number >= 0, ratio: number >= 1, min_half_open: number >= 0}; a JSON or YAML mapping given as text
    is read first."""
    loaded = _load_text(name, value)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise AuditOptionError('%s: %r is not a mapping such as {"min_gap": 10}' % (name, value))
    unknown = sorted(str(key) for key in loaded if key not in CORRELATION_MINIMUMS)
    if unknown:
        raise AuditOptionError(
            "%s: unknown %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(CORRELATION_MINIMUMS)))
        )
    for key, limit in loaded.items():
        minimum = CORRELATION_MINIMUMS[key]
        if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not limit >= minimum:
            raise AuditOptionError(
                "%s.%s must be a number >= %s, got %s" % (name, key, minimum, json.dumps(limit, default=str))
            )
    return dict(loaded)
