# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/action/audit_report.py: what it reads from hostvars, what it refuses, and what it writes."""

from __future__ import annotations

import json
import os
import pathlib
import stat
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.netdiag.tcp.plugins.action.audit_report import ActionModule
from ansible_collections.netdiag.tcp.plugins.plugin_utils import report_files

GENERATED_AT = "2026-11-25T21:30:00Z"
STAMP = "20261125T213000Z"
# The incident in facts: web sees 35 connections to app's port 5555, app holds 214 from web's address.
WEB = {
    "netstat": {
        "state_counts": {"ESTABLISHED": 35},
        "established_by_peer": [{"direction": "outbound", "service_port": 5555, "peer": "198.51.100.20", "count": 35}],
        "listeners": [],
        "connections": [],
    }
}
APP = {
    "netstat": {
        "state_counts": {"ESTABLISHED": 214},
        "established_by_peer": [{"direction": "inbound", "service_port": 5555, "peer": "198.51.100.10", "count": 214}],
        "listeners": [{"protocol": "tcp", "local_address": "*", "local_port": 5555}],
        "connections": [],
    }
}


def host(facts, **variables):
    return dict(
        {"netdiag_audit_result": {"status": "reached", "failures": {}}, "ansible_facts": {"netdiag": facts}},
        **variables,
    )


def run_action(args, hostvars):
    task = mock.MagicMock()
    task.args = dict({"generated_at": GENERATED_AT}, **args)
    task.async_val = 0
    task.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={"hostvars": hostvars})


def written(directory):
    return json.loads((directory / "audit-latest.json").read_text())


def test_ansible_host_address_pairs_hosts_whose_sockets_do_not_show_it(tmp_path):
    # Neither host lists a listener or socket with its own address: only ansible_host says who 198.51.100.20 is.
    hostvars = {
        "web": host(WEB, ansible_host="198.51.100.10"),
        "app": host(APP, ansible_host="198.51.100.20"),
    }
    result = run_action({"hosts": ["web", "app"], "dest": str(tmp_path)}, hostvars)
    report = written(tmp_path)
    assert [
        (pair["client"], pair["server"], pair["client_count"], pair["server_count"]) for pair in report["pairs"]
    ] == [("web", "app", 35, 214)]
    assert [item["id"] for item in result["findings"]] == ["asymmetric-established"]


def test_ansible_host_dns_name_or_mapped_address(tmp_path):
    # A DNS name is no address of the host (it is skipped); an IPv4-mapped IPv6 address is its IPv4 address.
    hostvars = {
        "web": host(WEB, ansible_host="web01.example.com"),
        "app": host(APP, ansible_host="::ffff:198.51.100.20"),
    }
    run_action({"hosts": ["web", "app"], "dest": str(tmp_path)}, hostvars)
    assert [(pair["client"], pair["server"]) for pair in written(tmp_path)["pairs"]] == [("web", "app")]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"close_wait": -1}, "thresholds.close_wait must be a number >= 0, got -1"),
        ({"close_wait": True}, "thresholds.close_wait must be a number >= 0, got true"),
        ({"close_wait": "many"}, 'thresholds.close_wait must be a number >= 0, got "many"'),
        ({"close_wiat": 5}, "thresholds: unknown close_wiat; known: close_wait, conntrack_full_pct"),
        ("[1, 2]", "thresholds: '[1, 2]' is not a mapping"),
    ],
)
def test_bad_thresholds_fail_before_writing(tmp_path, thresholds, message):
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(tmp_path / "r"), "thresholds": thresholds}, {"web": host(WEB)})
    assert message in str(raised.value)
    assert not (tmp_path / "r").exists()


def test_thresholds_as_json_text(tmp_path):
    facts = {"netstat": {"state_counts": {"CLOSE_WAIT": 5}, "established_by_peer": [], "connections": []}}
    result = run_action(
        {"hosts": ["web"], "dest": str(tmp_path), "thresholds": '{"close_wait": 5}'}, {"web": host(facts)}
    )
    assert [item["id"] for item in result["findings"]] == ["close-wait-buildup"]
    assert result["findings"][0]["evidence"]["threshold"] == 5


@pytest.mark.parametrize(
    ("correlation", "message"),
    [
        ({"min_gap": -1}, "correlation.min_gap must be a number >= 0, got -1"),
        ({"ratio": 0.5}, "correlation.ratio must be a number >= 1, got 0.5"),
        ({"ratoi": 2}, "correlation: unknown ratoi; known: min_gap, min_half_open, ratio"),
    ],
)
def test_bad_correlation_fails(tmp_path, correlation, message):
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(tmp_path / "r"), "correlation": correlation}, {"web": host(WEB)})
    assert message in str(raised.value)
    assert not (tmp_path / "r").exists()


def test_correlation_limits_are_used(tmp_path):
    hostvars = {"web": host(WEB, ansible_host="198.51.100.10"), "app": host(APP, ansible_host="198.51.100.20")}
    # 214 is less than 10 times 35: with ratio 10 the gap is no finding.
    result = run_action({"hosts": ["web", "app"], "dest": str(tmp_path), "correlation": {"ratio": 10}}, hostvars)
    assert result["findings"] == []
    assert len(written(tmp_path)["pairs"]) == 1


def test_malformed_facts_are_that_hosts_error(tmp_path):
    broken = {"netstat": {"state_counts": {"ESTABLISHED": 1}, "established_by_peer": [{}], "connections": []}}
    hostvars = {"web": host(WEB), "bad": host(broken), "app": host(APP)}
    result = run_action({"hosts": ["web", "bad", "app"], "dest": str(tmp_path)}, hostvars)
    assert result["statuses"] == {"web": "ok", "bad": "failed", "app": "ok"}
    report = written(tmp_path)
    assert report["hosts"]["bad"]["errors"] == ["malformed facts, not reported: a field is missing: 'direction'"]
    assert "netstat" not in report["hosts"]["bad"]
    assert report["hosts"]["app"]["netstat"]["state_counts"] == {"ESTABLISHED": 214}


def test_step_named_once_in_errors(tmp_path):
    variables = {
        "netdiag_audit_result": {
            "status": "reached",
            "failures": {"netstat_facts": "netstat_facts: ports: 'abc' is not a port", "slabinfo_facts": "no root"},
        }
    }
    run_action({"hosts": ["web", "app"], "dest": str(tmp_path)}, {"web": variables, "app": host(APP)})
    assert written(tmp_path)["hosts"]["web"]["errors"] == [
        "netstat_facts: ports: 'abc' is not a port",
        "slabinfo_facts: no root",
    ]


def test_files_private_and_directory_created_0700(tmp_path):
    dest = tmp_path / "new" / "reports"
    result = run_action({"hosts": ["web"], "dest": str(dest)}, {"web": host(WEB)})
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    names = sorted(path.name for path in dest.iterdir())
    extensions = ("json", "md", "html", "summary.json")
    assert names == [".audit.lock"] + sorted(["audit-%s.%s" % (STAMP, ext) for ext in extensions]) + [
        "audit-latest.html",
        "audit-latest.json",
        "audit-latest.md",
        "audit-latest.prom",
        "audit-latest.summary.json",
    ]
    assert {stat.S_IMODE(path.stat().st_mode) for path in dest.iterdir()} == {0o600}
    assert result["report_files"] == [str(dest / ("audit-%s.%s" % (STAMP, ext))) for ext in extensions] + [
        str(dest / "audit-latest.prom")
    ]


def test_mode_option(tmp_path):
    run_action({"hosts": ["web"], "dest": str(tmp_path), "mode": "0640"}, {"web": host(WEB)})
    assert stat.S_IMODE((tmp_path / "audit-latest.md").stat().st_mode) == 0o640
    with pytest.raises(AnsibleActionFail, match="mode: '0666' must let you read and write the file and nobody else"):
        run_action({"hosts": ["web"], "dest": str(tmp_path), "mode": "0666"}, {"web": host(WEB)})


def test_group_writable_directory_refused(tmp_path):
    tmp_path.chmod(0o777)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(tmp_path)}, {"web": host(WEB)})
    assert str(raised.value) == (
        "cannot write the report: %s is writable by group or others (mode 0777): make it private with chmod 700"
        % tmp_path
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_directory_of_another_user_refused(tmp_path):
    dest = tmp_path / "netdiag"
    dest.mkdir(mode=0o700)
    os.chown(dest, 65534, 65534)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(dest)}, {"web": host(WEB)})
    assert "%s is owned by uid 65534, not by you (uid 0)" % dest in str(raised.value)
    assert list(dest.iterdir()) == []


def test_failed_write_leaves_latest_set_untouched(tmp_path, monkeypatch):
    run_action({"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:00:00Z"}, {"web": host(WEB)})
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    real_write = report_files.write_temporary

    def disk_full_at_html(directory, name, text, mode):
        if name.endswith(".html"):
            raise OSError(28, "No space left on device")
        return real_write(directory, name, text, mode)

    monkeypatch.setattr(report_files, "write_temporary", disk_full_at_html)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web", "app"], "dest": str(tmp_path)}, {"web": host(WEB), "app": host(APP)})
    assert "No space left on device; audit-latest.* was left as it was" in str(raised.value)
    # Nothing new, nothing replaced, no temporary file left behind.
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_keep_removes_oldest_sets_only(tmp_path):
    for minute in ("00", "01", "02"):
        run_action(
            {"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:%s:00Z" % minute, "keep": 2},
            {"web": host(WEB)},
        )
    (tmp_path / "notes.txt").write_text("mine")
    run_action(
        {"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:03:00Z", "keep": "2"},
        {"web": host(WEB)},
    )
    stamps = sorted({path.name.split(".")[0] for path in tmp_path.glob("audit-2*")})
    assert stamps == ["audit-20261125T210200Z", "audit-20261125T210300Z"]
    assert len(list(tmp_path.glob("audit-2*"))) == 8  # json, md, html and summary.json of each set kept
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert written(tmp_path)["generated_at"] == "2026-11-25T21:03:00Z"


def test_latest_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("keep me")
    dest = tmp_path / "reports"
    dest.mkdir(mode=0o700)
    (dest / "audit-latest.json").symlink_to(target)
    run_action({"hosts": ["web"], "dest": str(dest)}, {"web": host(WEB)})
    assert target.read_text() == "keep me"
    assert not (dest / "audit-latest.json").is_symlink()
    assert written(dest)["schema"] == 1


def test_old_report_that_cannot_be_removed_is_a_warning(tmp_path, monkeypatch):
    for minute in ("00", "01"):
        run_action(
            {"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:%s:00Z" % minute},
            {"web": host(WEB)},
        )
    real_unlink = os.unlink

    def unlink_refused_for_old_json(path, *args, **kwargs):
        if path == "audit-20261125T210000Z.json":
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(report_files.os, "unlink", unlink_refused_for_old_json)
    result = run_action(
        {"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:02:00Z", "keep": 1},
        {"web": host(WEB)},
    )
    assert result["warnings"] == ["audit-20261125T210000Z.json: not removed (netdiag_report_keep): Permission denied"]
    assert sorted(path.name for path in tmp_path.glob("audit-2*")) == [
        "audit-20261125T210000Z.json",
        "audit-20261125T210200Z.html",
        "audit-20261125T210200Z.json",
        "audit-20261125T210200Z.md",
        "audit-20261125T210200Z.summary.json",
    ]
    assert written(tmp_path)["generated_at"] == "2026-11-25T21:02:00Z"


def test_generated_at_older_than_existing_sets_is_kept(tmp_path):
    run_action({"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-12-05T01:00:00Z"}, {"web": host(WEB)})
    result = run_action(
        {"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2020-01-01T00:00:00Z", "keep": 1},
        {"web": host(WEB)},
    )
    # The set just written is never pruned: the files the action returns exist.
    assert result["report_files"] and all(os.path.exists(path) for path in result["report_files"])
    assert written(tmp_path)["generated_at"] == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "generated_at", ["2026-12-05 01:00:00", "2026/12/05T01:00:00Z", "2026-13-05T01:00:00Z", "2026-12-05T01:00Z", 5]
)
def test_bad_generated_at_fails_before_writing(tmp_path, generated_at):
    dest = tmp_path / "reports"
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(dest), "generated_at": generated_at}, {"web": host(WEB)})
    assert "generated_at: %r is not a UTC time in the form YYYY-MM-DDTHH:MM:SSZ" % (generated_at,) in str(raised.value)
    assert not dest.exists()


def test_directory_in_the_way_of_latest_is_refused_before_writing(tmp_path):
    run_action({"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:00:00Z"}, {"web": host(WEB)})
    (tmp_path / "audit-latest.md").unlink()
    (tmp_path / "audit-latest.md").mkdir()
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(tmp_path)}, {"web": host(WEB)})
    assert "audit-latest.md is a directory" in str(raised.value)
    assert "nothing was replaced" in str(raised.value)
    # Nothing replaced, nothing new, no temporary file left behind.
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before
    assert sorted(path.name for path in tmp_path.iterdir() if not path.is_file()) == ["audit-latest.md"]


def test_rename_failing_halfway_names_what_was_replaced(tmp_path, monkeypatch):
    run_action({"hosts": ["web"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:00:00Z"}, {"web": host(WEB)})
    old_md = (tmp_path / "audit-latest.md").read_bytes()
    real_replace = os.replace
    calls = []

    def fail_on_second_latest(source, target, *args, **kwargs):
        if target.startswith("audit-latest."):
            calls.append(target)
            if len(calls) == 2:
                raise OSError(5, "Input/output error")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(report_files.os, "replace", fail_on_second_latest)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action(
            {"hosts": ["web"], "dest": str(tmp_path), "formats": ["json", "md"]},
            {"web": host(WEB)},
        )
    message = str(raised.value)
    assert "left as it was" not in message
    assert "Input/output error; audit-latest files replaced: audit-latest.json; not replaced" in message
    assert "(still the previous report): audit-latest.md" in message
    assert written(tmp_path)["generated_at"] == GENERATED_AT
    assert (tmp_path / "audit-latest.md").read_bytes() == old_md
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_publishing_a_stamped_file_failing_leaves_nothing(tmp_path, monkeypatch):
    real_link = os.link
    calls = []

    def fail_on_second_link(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_link(*args, **kwargs)

    monkeypatch.setattr(report_files.os, "link", fail_on_second_link)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"hosts": ["web"], "dest": str(tmp_path)}, {"web": host(WEB)})
    assert str(raised.value).startswith(
        "cannot write the report under %s: [Errno 5] Input/output error; audit-latest.* was left as it was" % tmp_path
    )
    # The stamped JSON already published is taken back: no half set, no temporary, no audit-latest.
    assert [path.name for path in tmp_path.iterdir()] == [".audit.lock"]


def test_failed_and_unreachable_hosts_fail_the_gate(tmp_path):
    unreachable = {"netdiag_audit_result": {"status": "unreachable", "failures": {}}}
    result = run_action(
        {"hosts": ["web", "app", "db"], "dest": str(tmp_path), "fail_on": "warning"},
        {"web": unreachable, "app": {}, "db": host(APP)},
    )
    assert result["failing_findings"] == []
    assert result["failing_hosts"] == {"app": "failed", "web": "unreachable"}
    quiet = run_action(
        {"hosts": ["web", "db"], "dest": str(tmp_path), "fail_on": "never"}, {"web": unreachable, "db": host(APP)}
    )
    assert quiet["failing_hosts"] == {}


def test_report_records_settings_limits_and_collection_version(tmp_path):
    """A reader of an old report can tell why a finding did or did not fire (run.* in docs/facts_schema.md)."""
    import yaml

    hostvars = {"web": host(WEB, ansible_host="198.51.100.10"), "app": host(APP, ansible_host="198.51.100.20")}
    settings = {"ports": [5555], "peers": [], "max_connections": 1000, "max_peers": 10, "become": False}
    run_action(
        {"hosts": ["web", "app"], "dest": str(tmp_path), "correlation": {"ratio": 10}, "settings": settings}, hostvars
    )
    run = written(tmp_path)["run"]
    galaxy = yaml.safe_load((pathlib.Path(__file__).resolve().parents[4] / "galaxy.yml").read_text())
    assert run["collection"] == {"name": "netdiag.tcp", "version": galaxy["version"], "source": "galaxy.yml"}
    assert run["settings"] == settings
    assert run["correlation"] == {"min_gap": 10, "ratio": 10, "min_half_open": 5}
    assert run["thresholds"]["close_wait"] == 20
    text = (tmp_path / "audit-latest.md").read_text()
    assert "| collection | netdiag.tcp %s |" % galaxy["version"] in text
    assert "| Peers | all |" in text


def test_unknown_setting_fails_before_writing(tmp_path):
    with pytest.raises(AnsibleActionFail, match="settings: unknown colour"):
        run_action({"hosts": [], "dest": str(tmp_path / "r"), "settings": {"colour": "red"}}, {})
    assert not (tmp_path / "r").exists()


def test_audit_that_reached_no_host_fails_and_keeps_the_last_good_set(tmp_path):
    # keep=1: a good audit, then one where every host was unreachable. Before, that run exited 0, replaced
    # audit-latest.* with a report that saw nothing and deleted the last good set.
    run_action(
        {"hosts": ["web", "app"], "dest": str(tmp_path), "generated_at": "2026-11-25T21:00:00Z", "keep": 1},
        {"web": host(WEB), "app": host(APP)},
    )
    good = {path.name: path.read_bytes() for path in tmp_path.glob("audit-*")}
    unreachable = {"netdiag_audit_result": {"status": "unreachable", "errors": ["Connection refused"]}}
    for fail_on in ("never", "warning"):
        result = run_action(
            {"hosts": ["web", "app"], "dest": str(tmp_path), "keep": 1, "fail_on": fail_on},
            {"web": unreachable, "app": {}},
        )
        assert result["failed"] is True
        extensions = ("json", "md", "html", "summary.json")
        files = [str(tmp_path / ("audit-%s-failed.%s" % (STAMP, ext))) for ext in extensions]
        if fail_on == "warning":  # the same generated_at a second time: moved on by a microsecond
            files = [path.replace(STAMP, "20261125T213000.000001Z") for path in files]
        assert result["report_files"] == files
        assert result["msg"] == (
            "no host was audited (app failed: the host did not run the audit: no gathered facts (gather it with "
            "netdiag.tcp.gather or netdiag.tcp.audit; a fact cache may also have expired them); web unreachable: "
            "Connection refused); "
            "this run's report: %s; audit-latest.* was not replaced" % ", ".join(files)
        )
        assert json.loads(pathlib.Path(files[0]).read_text())["hosts"]["web"]["status"] == "unreachable"
    # The good set and audit-latest.* are untouched; keep=1 kept one failed set, the newest.
    assert {path.name: path.read_bytes() for path in tmp_path.glob("audit-*") if "-failed" not in path.name} == good
    assert sorted(path.name for path in tmp_path.glob("audit-*-failed.*")) == [
        "audit-20261125T213000.000001Z-failed.html",
        "audit-20261125T213000.000001Z-failed.json",
        "audit-20261125T213000.000001Z-failed.md",
        "audit-20261125T213000.000001Z-failed.summary.json",
    ]
    assert not (tmp_path / "audit-latest.prom").exists() or "audit-latest.prom" in good


def test_one_host_reached_is_an_audit(tmp_path):
    unreachable = {"netdiag_audit_result": {"status": "unreachable", "errors": ["Connection refused"]}}
    result = run_action({"hosts": ["web", "app"], "dest": str(tmp_path)}, {"web": unreachable, "app": host(APP)})
    assert "failed" not in result
    assert written(tmp_path)["hosts"]["web"]["status"] == "unreachable"
