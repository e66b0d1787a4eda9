# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts on AIX through main(): only the command boundary (AnsibleModule.run_command / get_bin_path) is
replaced, and every argv, its environment and stdin are asserted. Answers are real AIX captures
(tests/unit/fixtures/aix, see SOURCES.md). Also: the default, check mode and the audit never run rmsock.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import aix_sockets
from ansible_collections.netdiag.tcp.plugins.modules import audit_facts, netstat_facts

REPO = pathlib.Path(__file__).resolve().parents[4]
NO_ARGV = ["/usr/sbin/no", "-o", "tcp_keepidle", "-o", "tcp_keepintvl", "-o", "tcp_keepcnt"]
LISTENER_25 = "f1000f000017f3c0"


@pytest.fixture
def aix_host(monkeypatch, fixture_text):
    """An AIX host whose commands answer with real captures; returns the list of (argv, data, environ) calls."""
    calls = []
    answers = {
        ("/usr/bin/netstat", "-Aan"): (0, fixture_text("aix/netstat-Aan-1.txt"), ""),
        ("/usr/sbin/kdb",): (0, fixture_text("aix/kdb-banner-1.txt"), ""),
        tuple(NO_ARGV): (0, "             tcp_keepidle = 14400\n            tcp_keepintvl = 150\n"
                         "              tcp_keepcnt = 8\n", ""),
        ("/usr/sbin/rmsock", LISTENER_25, "tcpcb"): (0, fixture_text("aix/rmsock-3.txt"), ""),
    }  # fmt: skip

    def run_command(self, args, data=None, environ_update=None, check_rc=False, **kwargs):
        calls.append((list(args), data, environ_update))
        answer = answers.get(tuple(args))
        if answer is None and args[0] == "/usr/sbin/rmsock":
            return 0, fixture_text("aix/rmsock-1.txt").splitlines()[0] + "\n", ""
        return answer or (1, "", "unexpected command")

    def get_bin_path(self, name, required=False, opt_dirs=None):
        assert "/usr/sbin" in opt_dirs  # kdb, rmsock and no live there on AIX
        return {"netstat": "/usr/bin/netstat"}.get(name, "/usr/sbin/" + name)

    monkeypatch.setattr(netstat_facts.platform, "system", lambda: "AIX")
    monkeypatch.setattr(aix_sockets.os, "geteuid", lambda: 0)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    return calls


def argvs(calls):
    return [argv for argv, _data, _environ in calls]


def test_default_reads_only_and_never_runs_rmsock(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {})
    assert not exit_.failed
    # kdb answers with its banner only here (no sockinfo), so the collector tries lsof next (not installed here).
    assert argvs(aix_host) == [
        ["/usr/bin/netstat", "-Aan"],
        ["/usr/sbin/kdb"],
        ["/usr/sbin/lsof", "-nP", "-iTCP", "-FpcLnT"],
        NO_ARGV,
    ]
    assert all(environ == {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"} for _argv, _data, environ in aix_host)
    assert aix_host[1][1].startswith("sockinfo f1000f000017e3c0 tcpcb\n") and aix_host[1][1].endswith("quit\n")
    assert exit_.result["changed"] is False
    facts = exit_.result["ansible_facts"]["netdiag"]
    assert facts["netstat"]["platform"] == "AIX"
    assert facts["netstat"]["owner_method"]["name"] is None
    assert facts["netstat"]["owner_method"]["reason"].startswith("kdb printed no sockinfo")
    assert "aix" not in facts
    assert all(connection.get("pcb") for connection in facts["netstat"]["connections"])
    assert facts["keepalive"]["time"] == 7200 and facts["keepalive"]["intvl"] == 75


def test_check_mode_never_runs_rmsock_and_says_what_it_would_run(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {"aix_rmsock": True, "ports": [25], "_ansible_check_mode": True})
    assert not exit_.failed
    assert not [argv for argv in argvs(aix_host) if argv[0] == "/usr/sbin/rmsock"]
    assert exit_.result["changed"] is False
    rmsock = exit_.result["ansible_facts"]["netdiag"]["aix"]["rmsock"]
    assert rmsock["ran"] is False
    assert rmsock["would_run"] == [["/usr/sbin/rmsock", LISTENER_25, "tcpcb"]]


def test_aix_rmsock_runs_on_selected_sockets_and_reports_the_removal(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {"aix_rmsock": True, "ports": [25], "owners": False})
    assert not exit_.failed
    assert argvs(aix_host) == [["/usr/bin/netstat", "-Aan"], ["/usr/sbin/rmsock", LISTENER_25, "tcpcb"], NO_ARGV]
    assert exit_.result["changed"] is True
    facts = exit_.result["ansible_facts"]["netdiag"]
    assert facts["aix"]["rmsock"]["removed"] == [LISTENER_25]
    assert facts["netstat"]["connections"][0]["rmsock"] == "removed"


def test_held_sockets_are_not_a_change(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {"aix_rmsock": True, "ports": [22], "states": ["ESTABLISHED"]})
    assert [argv for argv in argvs(aix_host) if argv[0] == "/usr/sbin/rmsock"] == [
        ["/usr/sbin/rmsock", "f1000f00002d8bc0", "tcpcb"]
    ]
    assert exit_.result["changed"] is False
    connection = exit_.result["ansible_facts"]["netdiag"]["netstat"]["connections"][0]
    assert (connection["pid"], connection["process"], connection["rmsock"]) == (3211434, "writesrv", "process")


def test_bad_option_fails_before_any_command(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {"states": ["ESTABLISH"], "aix_rmsock": True})
    assert exit_.failed
    assert "states: ESTABLISH" in exit_.result["msg"]
    assert aix_host == []


def test_failing_netstat_fails_naming_it(aix_host, call_main, monkeypatch):
    def failing(self, args, data=None, environ_update=None, check_rc=False, **kwargs):
        aix_host.append((list(args), data, environ_update))
        return 1, "", "netstat: broken\n"

    monkeypatch.setattr(basic.AnsibleModule, "run_command", failing)
    exit_ = call_main(netstat_facts.main, {"aix_rmsock": True})
    assert exit_.failed
    assert "/usr/bin/netstat -Aan failed (rc=1): netstat: broken" in exit_.result["msg"]
    assert argvs(aix_host) == [["/usr/bin/netstat", "-Aan"]]


GATHER_MODULES = ("netdiag.tcp.netstat_facts", "netdiag.tcp.audit_facts")


def netstat_tasks(node):
    """Every task (at any depth of a playbook or task file) that reads socket tables (netstat_facts, audit_facts)."""
    if isinstance(node, list):
        for item in node:
            yield from netstat_tasks(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in GATHER_MODULES and "name" in node:
                yield node
            elif isinstance(value, (list, dict)):
                yield from netstat_tasks(value)


def test_the_audit_never_sets_aix_rmsock_and_gathers_in_check_mode():
    files = [REPO / "playbooks" / "audit.yml", *sorted((REPO / "playbooks").glob("tasks/*.yml"))]
    found = 0
    for path in files:
        for task in netstat_tasks(yaml.safe_load(path.read_text())):
            found += 1
            options = next(task[key] for key in GATHER_MODULES if key in task) or {}
            for side_effect in ("aix_rmsock", "sunos_pfiles"):
                assert side_effect not in options, "%s: %s" % (path, task["name"])
            assert "module_defaults" not in task
    assert found >= 1
    for playbook in ("audit.yml", "gather.yml"):
        plays = yaml.safe_load((REPO / "playbooks" / playbook).read_text())
        gathering = [play for play in plays if any(True for _task in netstat_tasks(with_imports(play)))]
        assert gathering, "no play of %s reads socket tables" % playbook
        for play in gathering:
            assert play["check_mode"] is True, play["name"]  # rmsock would not run even if a task asked for it


def with_imports(play):
    """A play's tasks, with the tasks of the files it imports (import_tasks from playbooks/) in their place."""
    tasks = []
    for task in play.get("tasks") or []:
        imported = task.get("ansible.builtin.import_tasks") or task.get("import_tasks")
        tasks.append(yaml.safe_load((REPO / "playbooks" / imported).read_text()) if imported else task)
    return tasks


def test_audit_facts_has_no_side_effect_option():
    """The audit's module cannot be asked to run rmsock or pfiles: it has no such option at all."""
    for option in ("aix_rmsock", "sunos_pfiles", "sunos_connstat"):
        assert option not in audit_facts.ARGUMENT_SPEC
        assert "\n  %s:" % option not in audit_facts.DOCUMENTATION


def test_tuples_come_through_the_aix_collector(aix_host, call_main):
    """The audit asks every platform for tuples: the AIX collector hands them to the shared summary."""
    exit_ = call_main(netstat_facts.main, {"tuples": True, "owners": False})
    assert not exit_.failed, exit_.result
    tuples = exit_.result["ansible_facts"]["netdiag"]["netstat"]["established_tuples"]
    # The two ESTABLISHED rows of netstat-Aan-1.txt; no owner method ran, so pid and keepalive are unknown.
    assert sorted(tuples["rows"].split("\n")) == [
        "192.168.242.122 22 24.236.207.124 33236 - -",
        "192.168.242.122 34898 34.120.255.184 443 - -",
    ]
    assert tuples["count"] == 2 and tuples["truncated"] is False


def test_tuples_list_the_established_sockets_compactly(aix_host, call_main):
    """The per-connection correlation gets AIX ends too: established_tuples from the real netstat -Aan capture."""
    exit_ = call_main(netstat_facts.main, {"tuples": True, "max_connections": 0})
    netstat = exit_.result["ansible_facts"]["netdiag"]["netstat"]
    tuples = netstat["established_tuples"]
    assert tuples["count"] == netstat["state_counts"]["ESTABLISHED"] > 0
    rows = tuples["rows"].split("\n")
    assert len(rows) == tuples["count"] and all(len(row.split(" ")) == 6 for row in rows)
    assert "established_tuples" not in call_main(netstat_facts.main, {}).result["ansible_facts"]["netdiag"]["netstat"]


def test_a_hung_command_is_killed_after_command_timeout(monkeypatch, call_main, tmp_path):
    """Not mocked: a real process that never answers stands in for a hung netstat, and run_command's own path
    (with the deadline as its before_communicate_callback) must kill it and name the timeout."""
    hung = tmp_path / "netstat"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    monkeypatch.setattr(netstat_facts.platform, "system", lambda: "AIX")
    monkeypatch.setattr(
        basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: str(hung)
    )
    exit_ = call_main(netstat_facts.main, {"command_timeout": 0.5})
    assert exit_.failed
    assert exit_.result["msg"] == (
        "netstat_facts: could not read the socket tables: %s -Aan failed (rc=-9): "
        "timed out after 0.5 s (option command_timeout)" % hung
    )


def test_negative_command_timeout_fails_before_any_command(aix_host, call_main):
    exit_ = call_main(netstat_facts.main, {"command_timeout": -1})
    assert exit_.failed and "command_timeout: -1.0 is negative; use 0 for no limit" in exit_.result["msg"]
    assert aix_host == []
