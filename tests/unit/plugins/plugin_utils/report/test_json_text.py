# SPDX-License-Identifier: GPL-3.0-or-later
"""The JSON report's text (json_text.py): the same data as json.dumps gives, indented down to the entries."""

from __future__ import annotations

import json

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import json_text
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report

from .test_matching import incident_fleet


def test_same_data_as_the_standard_encoder_one_entry_a_line():
    report = build_report(incident_fleet(), "2026-12-04T00:00:00Z")
    text = json_text.render(report)
    assert json.loads(text) == json.loads(json.dumps(report))
    lines = text.splitlines()
    # Each host, pair, finding and matching group is one line, at its indentation, keys sorted.
    for name, host in report["hosts"].items():
        assert '    "%s": %s,' % (name, json.dumps(host, sort_keys=True)) in lines or (
            '    "%s": %s' % (name, json.dumps(host, sort_keys=True)) in lines
        )
    for item in report["findings"] + report["pairs"]:
        assert any(line.strip().rstrip(",") == json.dumps(item, sort_keys=True) for line in lines)
    groups = report["matching"]["groups"]
    assert len(groups) == 2
    assert all(any(line.strip().rstrip(",") == json.dumps(group, sort_keys=True) for line in lines) for group in groups)
    assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
    assert [line for line in lines if line.startswith('  "')] == sorted(
        line for line in lines if line.startswith('  "')
    )


def test_empty_and_scalar_values():
    assert json_text.dumps({}) == "{}"
    assert json_text.dumps([]) == "[]"
    assert json_text.dumps({"b": [], "a": None}) == '{\n  "a": null,\n  "b": []\n}'
