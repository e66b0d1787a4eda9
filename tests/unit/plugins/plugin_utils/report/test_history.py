# SPDX-License-Identifier: GPL-3.0-or-later
"""Earlier report sets as report_files.write_report_set names them: stamps to the second or to the microsecond."""

from __future__ import annotations

import json

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.history import load_history
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.summary import report_summary
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import write_report_set


def _write(directory, generated_at, stamp=None, audited=True):
    report = build_report({}, generated_at)
    texts = {"json": json.dumps(report), "summary.json": json.dumps(report_summary(report))}
    return write_report_set(str(directory), stamp, texts, audited=audited)


def test_sets_stamped_to_the_microsecond_are_history_in_time_order(tmp_path):
    _write(tmp_path, "2026-12-07T10:00:00Z", stamp="20261207T100000Z")
    _write(tmp_path, "2026-12-07T10:00:00Z", stamp="20261207T100000Z")  # taken: moved on to .000001Z
    _write(tmp_path, "2026-12-07T11:00:00Z")  # the time of the write, with microseconds
    _write(tmp_path, "2026-12-07T12:00:00Z", audited=False)  # reached no host: no audit to compare with
    history = load_history(str(tmp_path))
    names = [summary["report_file"].rsplit("/", 1)[1] for summary in history["summaries"]]
    assert names[:2] == ["audit-20261207T100000Z.json", "audit-20261207T100000.000001Z.json"]
    assert len(names) == 3 and names[2].startswith("audit-2") and "." in names[2][len("audit-") :].split("Z")[0]
    assert history["skipped"] == []
    assert not any("failed" in name for name in names)
    # Only sets older than the one being written count.
    older = load_history(str(tmp_path), current_stamp="20261207T100000.000001Z")
    assert [summary["report_file"].rsplit("/", 1)[1] for summary in older["summaries"]] == [
        "audit-20261207T100000Z.json"
    ]
