# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports compared over time, through the audit_report action writing into one directory: the changes section,
growing-half-open / close-wait-growing, a fix shown as a fix, skipped reports, summaries read instead of reports,
the series pictures and audit-latest.prom read back with prometheus_client's own parser."""

from __future__ import annotations

import datetime
import json
import math
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.netdiag.tcp.plugins.action.audit_report import ActionModule
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import (
    history,
    markdown,
    prometheus,
    trend,
    trend_document,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.trend_html import series_svg

WEB, APP = "198.51.100.10", "198.51.100.20"
HOLDER_PID = 4242


def tuples(rows):
    text = "\n".join(" ".join(str(field) for field in row) for row in rows)
    columns = ["local_address", "local_port", "remote_address", "remote_port", "pid", "keepalive"]
    return {"columns": columns, "rows": text, "count": len(rows), "truncated": False}


def netstat(rows, listen=None, holders=None, direction="inbound", close_wait=()):
    by_peer = {}
    for row in rows:
        by_peer[row[2]] = by_peer.get(row[2], 0) + 1
    states = {"ESTABLISHED": len(rows)}
    if close_wait:
        states["CLOSE_WAIT"] = len(close_wait)
    return {
        "state_counts": states,
        "established_by_peer": [
            {"direction": direction, "service_port": 5555, "peer": peer, "count": count}
            for peer, count in sorted(by_peer.items(), key=lambda item: -item[1])
        ],
        "listeners": [{"protocol": "tcp", "local_address": "*", "local_port": listen}] if listen else [],
        "connections": [{"state": "CLOSE_WAIT", "pid": pid, "process": process} for pid, process in close_wait],
        "established_without_keepalive": sum(1 for row in rows if row[5] == "0"),
        "established_keepalive_unknown": 0,
        "established_tuples": tuples(rows),
        "holders": holders or {},
    }


def hostvars(stale, conntrack_count=100, timeout=432000, close_wait=0, process="app_srv", web=True, live=12):
    """The incident: web holds 12 live connections to app:5555; app holds those and `stale` whose client is gone."""
    client_rows = [(WEB, 40000 + index, APP, 5555, 900, "0") for index in range(live)]
    server_rows = [(APP, 5555, WEB, 40000 + index, HOLDER_PID, "0") for index in range(live + stale)]
    app = {
        "netstat": netstat(
            server_rows,
            listen=5555,
            holders={str(HOLDER_PID): {"process": process, "user": "app"}},
            close_wait=[(HOLDER_PID, process)] * close_wait,
        ),
        "conntrack": {
            "available": True,
            "count": conntrack_count,
            "max": 1000,
            "usage_pct": round(conntrack_count * 100.0 / 1000, 1),
            "timeouts": {"tcp_timeout_established": timeout},
        },
    }
    variables = {"app": facts(app)}
    if web:
        variables["web"] = facts({"netstat": netstat(client_rows, direction="outbound")})
    return variables


def facts(netdiag):
    return {"netdiag_audit_result": {"status": "reached", "failures": {}}, "ansible_facts": {"netdiag": netdiag}}


def audit(dest, at, variables, **args):
    task = mock.MagicMock()
    task.args = dict({"hosts": sorted(variables), "dest": str(dest), "generated_at": at}, **args)
    task.async_val = 0
    task.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={"hostvars": variables})
    return result, json.loads((dest / "audit-latest.json").read_text())


def by_id(report, finding_id):
    return [item for item in report["findings"] if item["id"] == finding_id]


def hourly(hour):
    return "2026-12-07T%02d:00:00Z" % hour


def test_growing_half_open_over_four_audits_names_the_holder_and_ends_after_the_fix(tmp_path):
    # Four audits an hour apart while 10 stale connections a time pile up on app.
    reports = [audit(tmp_path, hourly(hour), hostvars(stale=10 * (hour + 1)))[1] for hour in range(4)]
    assert by_id(reports[0], "growing-half-open") == [] and reports[0]["changes"]["baseline"] is None
    assert by_id(reports[1], "growing-half-open") == []  # two reports are not a trend yet
    for index, report in enumerate(reports[2:], start=3):
        (growing,) = by_id(report, "growing-half-open")
        assert growing["host"] == "app" and growing["severity"] == "warning"
        evidence = growing["evidence"]
        assert evidence["pair"] == "web -> app:5555"
        assert evidence["series"] == [{"at": hourly(hour), "half_open": 10 * (hour + 1)} for hour in range(index)]
        assert evidence["holders"] == [{"pid": HOLDER_PID, "process": "app_srv", "count": 10 * index, "host": "app"}]
        assert evidence["rate_per_hour"] == 10.0
        assert "held by app_srv (pid 4242 on app) %d" % (10 * index) in growing["summary"]
    changes = reports[3]["changes"]
    assert changes["since"] == hourly(2) and changes["hours"] == 1.0
    assert changes["pairs"]["web -> app:5555"]["half_open"] == {
        "then": 30,
        "now": 40,
        "delta": 10,
        "rate_per_hour": 10.0,
    }
    assert changes["hosts"]["app"]["established"] == {"then": 42, "now": 52, "delta": 10, "rate_per_hour": 10.0}
    assert (
        "since 2026-12-07T02:00:00Z (1.0 h): pair web -> app:5555: client ESTABLISHED 12 -> 12 (+0, +0/h); "
        "server ESTABLISHED 42 -> 52 (+10, +10/h); matched 12 -> 12 (+0, +0/h); half-open 30 -> 40 (+10, +10/h)"
    ) in changes["lines"]
    # The series of the kept reports, drawn per pair and per host in the HTML and tabled in the Markdown.
    assert [point["half_open"] for point in reports[3]["history"]["series"]["pairs"]["web -> app:5555"]] == [
        10,
        20,
        30,
        40,
    ]
    page = (tmp_path / "audit-latest.html").read_text()
    assert page.count('<svg class="series-chart"') == 2  # the pair and app's conntrack fill
    assert "audit time (UTC)" in page and "conntrack fill %" in page and ">12-07 03:00<" in page
    text = (tmp_path / "audit-latest.md").read_text()
    assert "| 2026-12-07T03:00:00Z | 12 | 40 |" in text

    # The fix: conntrack's timeout tuned; the stale sockets are still there at the next audit.
    tuned = audit(tmp_path, hourly(4), hostvars(stale=40, timeout=1200))[1]
    (changed,) = by_id(tuned, "conntrack-timeout-changed")
    assert changed["summary"] == (
        "conntrack tcp_timeout_established on app changed 432000 -> 1200 between 2026-12-07T03:00:00Z and "
        "2026-12-07T04:00:00Z; half-open on web -> app:5555 40 -> 40, not yet at zero"
    )
    assert tuned["changes"]["conntrack_timeout_changes"] == [
        {"host": "app", "from": 432000, "to": 1200, "after": hourly(3), "before": hourly(4)}
    ]
    # The holder was restarted: a healthy audit. The growth is over and the followed pair is back at zero.
    healthy = audit(tmp_path, hourly(5), hostvars(stale=0, timeout=1200))[1]
    assert by_id(healthy, "growing-half-open") == []
    (changed,) = by_id(healthy, "conntrack-timeout-changed")
    assert changed["evidence"]["followed"] == [
        {
            "pair": "web -> app:5555",
            "series": [
                {"at": hourly(3), "half_open": 40},
                {"at": hourly(4), "half_open": 40},
                {"at": hourly(5), "half_open": 0},
            ],
            "back_at_zero": hourly(5),
        }
    ]
    assert "back at zero since 2026-12-07T05:00:00Z" in changed["summary"]
    # Once back at zero and reported, the change is history.
    later = audit(tmp_path, hourly(6), hostvars(stale=0, timeout=1200))[1]
    assert by_id(later, "conntrack-timeout-changed") == []


def test_a_pair_gone_after_the_fix_is_back_at_zero(tmp_path):
    for hour in range(2):
        audit(tmp_path, hourly(hour), hostvars(stale=10 * (hour + 1)))
    # Tuned, and the holder restarted with no client connected yet: the pair is gone, both ends were read.
    report = audit(tmp_path, hourly(2), hostvars(stale=0, live=0, timeout=1200))[1]
    assert report["pairs"] == [] and report["changes"]["gone_pairs"] == ["web -> app:5555"]
    (changed,) = by_id(report, "conntrack-timeout-changed")
    assert changed["evidence"]["followed"][0]["series"][-1] == {"at": hourly(2), "half_open": 0}
    assert changed["evidence"]["followed"][0]["back_at_zero"] == hourly(2)


def test_history_zero_compares_with_nothing(tmp_path):
    audit(tmp_path, hourly(0), hostvars(stale=10))
    report = audit(tmp_path, hourly(1), hostvars(stale=20), history=0)[1]
    assert report["changes"]["baseline"] is None
    assert report["changes"]["reason"] == "not compared with earlier reports (netdiag_report_history is 0)"
    assert [item["generated_at"] for item in report["history"]["reports"]] == [hourly(1)]


def test_pictures_are_capped_for_a_fleet():
    points = [{"at": hourly(hour), "matched": 1, "half_open": 0, "server_count": 1} for hour in range(2)]
    many = {"pairs": {"pair %02d" % index: [dict(item, half_open=index) for item in points] for index in range(25)}}
    pictures, left_out = trend_document.charts(many)
    assert len(pictures) == trend_document.MAX_CHARTS and left_out == 5
    assert pictures[0]["id"] == "pair pair 24"  # the most half-open first


def test_projected_conntrack_fill_within_a_day_is_critical(tmp_path):
    # The table fills by 100 entries an hour: 1000 in 7 h.
    for hour in range(3):
        result, report = audit(
            tmp_path, hourly(hour), hostvars(stale=10 * (hour + 1), conntrack_count=100 * (hour + 1))
        )
    (growing,) = by_id(report, "growing-half-open")
    assert growing["severity"] == "critical"
    assert growing["evidence"]["conntrack_projection"] == [
        {
            "host": "app",
            "now": 300,
            "rate_per_hour": 100.0,
            "limit": 1000,
            "hours_to_limit": 7.0,
            "within_horizon": True,
        }
    ]
    assert "projected within 24 h: conntrack on app full in 7.0 h (300 of 1000)" in growing["summary"]
    assert report["findings"][0]["id"] == "growing-half-open"  # most severe first


def test_holder_projected_past_its_file_descriptors_is_critical(tmp_path):
    for hour in range(3):
        report = audit(tmp_path, hourly(hour), hostvars(stale=10 * (hour + 1)), trend={"fd_limit": 200})[1]
    (growing,) = by_id(report, "growing-half-open")
    assert growing["severity"] == "critical"
    (projection,) = growing["evidence"]["fd_projection"]
    assert (projection["now"], projection["limit"], projection["hours_to_limit"]) == (30, 200, 17.0)


def test_close_wait_growing_names_its_holder(tmp_path):
    for hour, count in enumerate((20, 25, 25, 40)):
        report = audit(tmp_path, hourly(hour), hostvars(stale=0, close_wait=count, process="leaky"))[1]
    (growing,) = by_id(report, "close-wait-growing")
    assert growing["host"] == "app" and growing["severity"] == "warning"
    assert [item["close_wait"] for item in growing["evidence"]["series"]] == [20, 25, 25, 40]
    assert growing["evidence"]["holders"] == [{"pid": HOLDER_PID, "process": "leaky", "count": 40, "host": "app"}]
    # Going down breaks the trend.
    report = audit(tmp_path, hourly(4), hostvars(stale=0, close_wait=39, process="leaky"))[1]
    assert by_id(report, "close-wait-growing") == []


def test_new_gone_and_newly_unreachable_hosts(tmp_path):
    audit(tmp_path, hourly(0), hostvars(stale=0, web=False))
    variables = hostvars(stale=0)
    variables["db"] = facts({"netstat": netstat([])})
    report = audit(tmp_path, hourly(1), variables)[1]
    assert report["changes"]["new_hosts"] == ["db", "web"] and report["changes"]["gone_hosts"] == []
    variables = hostvars(stale=0)
    variables["web"] = {"netdiag_audit_result": {"status": "unreachable", "errors": ["ssh: timed out"]}}
    result, report = audit(tmp_path, hourly(2), variables)
    assert report["changes"]["gone_hosts"] == ["db"]
    # The run's closing lines: with what it was compared, and what came and went (the numbers are in the report).
    assert result["summary"][-4:] == [
        "  compared with %s (1.0 h earlier): see 'Changes since %s' in the report"
        % (tmp_path / "audit-20261207T010000Z.json", hourly(1)),
        "  since 2026-12-07T01:00:00Z: gone host (not in this audit) db",
        "  since 2026-12-07T01:00:00Z: newly unreachable host web",
        "  since 2026-12-07T01:00:00Z: gone pair web -> app:5555",
    ]
    assert report["changes"]["newly_unreachable"] == ["web"]
    assert "since 2026-12-07T01:00:00Z: newly unreachable host web" in report["changes"]["lines"]


def test_corrupt_and_other_schema_reports_are_named_and_skipped(tmp_path):
    audit(tmp_path, hourly(0), hostvars(stale=10))
    (tmp_path / "audit-20261207T010000Z.json").write_text('{"schema": 1, "hosts": {')
    (tmp_path / "audit-20261207T020000Z.json").write_text(json.dumps({"schema": 2, "generated_at": hourly(2)}))
    result, report = audit(tmp_path, hourly(3), hostvars(stale=30))
    skipped = {item["file"]: item["reason"] for item in report["history"]["skipped"]}
    corrupt, other = str(tmp_path / "audit-20261207T010000Z.json"), str(tmp_path / "audit-20261207T020000Z.json")
    assert skipped[corrupt].startswith("corrupt, not JSON")
    assert skipped[other] == "report schema 2; this collection reads schema 1"
    assert "earlier report skipped: %s: %s" % (other, skipped[other]) in result["warnings"]
    # The new report is written and compared with the last usable one.
    assert report["changes"]["since"] == hourly(0)
    assert "Earlier reports skipped" in (tmp_path / "audit-latest.md").read_text()


def test_summary_files_of_another_schema_or_broken(tmp_path):
    for hour in range(2):
        audit(tmp_path, hourly(hour), hostvars(stale=10))
    # A broken summary beside a good report: summarised from the report again, and the summary rewritten.
    (tmp_path / "audit-20261207T000000Z.summary.json").write_text("{")
    # A summary of a report of another schema: that set is skipped.
    other = json.loads((tmp_path / "audit-20261207T010000Z.summary.json").read_text())
    (tmp_path / "audit-20261207T010000Z.summary.json").write_text(json.dumps(dict(other, report_schema=3)))
    report = audit(tmp_path, hourly(2), hostvars(stale=10))[1]
    assert [item["generated_at"] for item in report["history"]["reports"]] == [hourly(0), hourly(2)]
    assert report["history"]["skipped"] == [
        {
            "file": str(tmp_path / "audit-20261207T010000Z.json"),
            "reason": "audit-20261207T010000Z.summary.json: summarises a report of schema 3; this collection reads "
            "schema 1",
        }
    ]
    assert json.loads((tmp_path / "audit-20261207T000000Z.summary.json").read_text())["generated_at"] == hourly(0)


def test_baseline_of_another_schema_is_skipped_with_a_message(tmp_path):
    audit(tmp_path, hourly(0), hostvars(stale=10))
    baseline = tmp_path / "elsewhere.json"
    baseline.write_text(json.dumps({"schema": 7, "generated_at": hourly(0), "hosts": {}}))
    report = audit(tmp_path, hourly(1), hostvars(stale=20), baseline=str(baseline))[1]
    assert report["changes"]["reason"] == (
        "the baseline %s was skipped: report schema 7; this collection reads schema 1" % baseline
    )
    assert report["changes"]["since"] == hourly(0)  # the previous report instead
    # A named baseline that is usable is what the report compares with.
    report = audit(tmp_path, hourly(2), hostvars(stale=30), baseline="audit-20261207T000000Z.json")[1]
    assert report["changes"]["since"] == hourly(0) and report["changes"]["hours"] == 2.0
    # A baseline that does not exist is a typing mistake: refused before anything is written.
    with pytest.raises(AnsibleActionFail, match="netdiag_baseline: .*missing.json is not a file"):
        audit(tmp_path, hourly(3), hostvars(stale=30), baseline=str(tmp_path / "missing.json"))
    assert not (tmp_path / "audit-20261207T030000Z.json").exists()


def test_history_reads_summaries_not_whole_reports(tmp_path, monkeypatch):
    for hour in range(3):
        audit(tmp_path, hourly(hour), hostvars(stale=10))
    # An older report written before summaries existed: summarised from its JSON once, then from its summary.
    (tmp_path / "audit-20261207T000000Z.summary.json").unlink()
    read = []
    real = history._read_json

    def recording(directory, name):
        read.append(name)
        return real(directory, name)

    monkeypatch.setattr(history, "_read_json", recording)
    audit(tmp_path, hourly(3), hostvars(stale=10))
    assert read == [
        "audit-20261207T000000Z.json",
        "audit-20261207T010000Z.summary.json",
        "audit-20261207T020000Z.summary.json",
    ]
    assert (tmp_path / "audit-20261207T000000Z.summary.json").exists()
    read.clear()
    audit(tmp_path, hourly(4), hostvars(stale=10))
    assert read == ["audit-20261207T%02d0000Z.summary.json" % hour for hour in range(4)]


def test_elapsed_time_in_since_lines():
    assert [trend.elapsed(hours) for hours in (2.0, 0.1, 0.05, 0.01)] == ["2.0 h", "0.1 h", "3 min", "36 s"]


def test_growing_run_rules():
    assert trend.growing_run([5, 10, 20, 30], 3) == [5, 10, 20, 30]
    assert trend.growing_run([30, 10, 20, 30], 3) == [10, 20, 30]
    assert trend.growing_run([10, 20], 3) == []
    assert trend.growing_run([20, 20, 20], 3) == []  # flat is not growing
    assert trend.growing_run([None, 10, 20, 30], 3) == [10, 20, 30]
    assert trend.growing_run([10, 20, None], 3) == []  # unknown now: no claim


def samples(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_file_every_value_from_the_json_report(tmp_path):
    for hour in range(3):
        audit(tmp_path, hourly(hour), hostvars(stale=10 * (hour + 1), close_wait=3, process='odd "name"\\x\nnext'))
    report = json.loads((tmp_path / "audit-latest.json").read_text())
    parsed = samples((tmp_path / "audit-latest.prom").read_text())
    audited = datetime.datetime(2026, 12, 7, 2, 0, tzinfo=datetime.timezone.utc).timestamp()
    expected = {("netdiag_audit_timestamp_seconds", ()): audited}
    for name, host in report["hosts"].items():
        label = (("host", name),)
        states = host["netstat"]["state_counts"]
        expected[("netdiag_host_up", label)] = 1
        expected[("netdiag_host_established", label)] = states["ESTABLISHED"]
        expected[("netdiag_host_close_wait", label)] = states.get("CLOSE_WAIT", 0)
        expected[("netdiag_host_keepalive_unknown", label)] = host["netstat"]["established_keepalive_unknown"]
        expected[("netdiag_host_half_open", label)] = sum(
            group["half_open"] for group in report["matching"]["groups"] if group["host"] == name
        )
        if "conntrack" in host:
            expected[("netdiag_conntrack_entries", label)] = host["conntrack"]["count"]
            expected[("netdiag_conntrack_max", label)] = host["conntrack"]["max"]
            expected[("netdiag_conntrack_tcp_timeout_established_seconds", label)] = host["conntrack"]["timeouts"][
                "tcp_timeout_established"
            ]
    (pair,) = report["pairs"]
    for end, peer, direction in (("server", "web", "inbound"), ("client", "app", "outbound")):
        labels = tuple(sorted({"host": pair[end], "peer": peer, "port": "5555", "direction": direction}.items()))
        expected[("netdiag_pair_established", labels)] = pair[end + "_count"]
        expected[("netdiag_pair_matched", labels)] = pair[end + "_matched"]
        expected[("netdiag_pair_half_open", labels)] = pair[end + "_half_open"]
    (half_open,) = by_id(report, "half-open-sockets")
    (holder,) = half_open["evidence"]["holders"]
    labels = {"host": "app", "port": "5555", "direction": "inbound", "pid": str(holder["pid"])}
    # The process name comes back exactly as the host gave it: quote, backslash and line break escaped and read back.
    labels["process"] = 'odd "name"\\x\nnext'
    assert holder["process"] == labels["process"]
    expected[("netdiag_holder_half_open", tuple(sorted(labels.items())))] = holder["count"]
    for item in report["findings"]:
        labels = tuple(sorted({"host": item["host"], "id": item["id"], "severity": item["severity"]}.items()))
        expected[("netdiag_findings", labels)] = expected.get(("netdiag_findings", labels), 0) + 1
    assert ("netdiag_findings", (("host", "app"), ("id", "growing-half-open"), ("severity", "warning"))) in expected
    assert parsed == expected
    assert all(not math.isnan(value) for value in parsed.values())


def test_prometheus_cardinality_is_bounded_and_the_rest_summed():
    report = {
        "generated_at": hourly(0),
        "hosts": {},
        "pairs": [
            {
                "client": "web%d" % index,
                "server": "app",
                "service_port": 5555,
                "client_count": index,
                "server_count": 10 * index,
            }
            for index in range(1, 6)
        ],
        "findings": [],
    }
    parsed = samples(prometheus.render(report, max_series=3))
    established = {
        dict(labels)["host"] + " " + dict(labels)["peer"]: value
        for (name, labels), value in parsed.items()
        if name == "netdiag_pair_established"
    }
    # The three largest (app's ends with web5, web4, web3) kept; the rest summed per host under peer "other":
    # at most max_series series plus one per host, whatever the number of peers.
    assert established == {
        "app web5": 50,
        "app web4": 40,
        "app web3": 30,
        "app other": 20 + 10,
        **{"web%d other" % index: index for index in range(1, 6)},
    }
    assert sum(established.values()) == sum(11 * index for index in range(1, 6))


def test_series_picture_has_axis_labels_times_and_gaps():
    chart = {
        "id": "pair x",
        "title": "pair a -> b:1: matched and half-open <sockets>",
        "y_label": "sockets",
        "lines": [
            {"name": "half-open", "colour": "#d64", "points": [[hourly(0), 3], [hourly(1), None], [hourly(2), 7]]}
        ],
    }
    svg = series_svg(chart)
    assert svg.count("<polyline") == 2  # the unknown value breaks the line
    assert ">audit time (UTC)<" in svg and ">sockets<" in svg and ">12-07 00:00<" in svg and ">12-07 02:00<" in svg
    assert "&lt;sockets&gt;" in svg and "<sockets>" not in svg
    assert "<title>2026-12-07T02:00:00Z half-open: 7</title>" in svg
    lines = markdown.render_block(("series", chart))
    assert "| 2026-12-07T01:00:00Z | - |" in lines
