# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/action/audit_options.py: the audit's variables, as -e gives them (text) and as inventories do (typed)."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.netdiag.tcp.plugins.action.audit_options import ActionModule

PREFIX = "The audit was not started and no host was contacted: "


def run_action(args):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"ports": "abc"}, "netdiag_audit_ports: 'abc' is not a port number (1-65535)"),
        ({"ports": "99999"}, "netdiag_audit_ports: 99999 is not a port number (1-65535)"),
        ({"ports": "[5555, 0]"}, "netdiag_audit_ports: 0 is not a port number (1-65535)"),
        ({"ports": [5555.5]}, "netdiag_audit_ports: 5555.5 is not a port number (1-65535)"),
        ({"ports": {"a": 1}}, "netdiag_audit_ports: {'a': 1} is not a list"),
        ({"peers": "notanip"}, "netdiag_audit_peers: 'notanip' is not an IP address or CIDR network"),
        ({"peers": "198.51.100.0/24,300.1.1.1"}, "netdiag_audit_peers: '300.1.1.1' is not an IP address or CIDR"),
        ({"max_connections": "-1"}, "netdiag_audit_max_connections: '-1' is not a whole number >= 0"),
        ({"max_connections": "ten"}, "netdiag_audit_max_connections: 'ten' is not a whole number >= 0"),
        ({"max_connections": True}, "netdiag_audit_max_connections: True is not a whole number >= 0"),
        ({"max_peers": "-5"}, "netdiag_audit_max_peers: '-5' is not a whole number >= 0"),
        ({"max_peers": "all"}, "netdiag_audit_max_peers: 'all' is not a whole number >= 0"),
        ({"host_timeout": "0"}, "netdiag_audit_host_timeout: '0' is not a whole number >= 1"),
        ({"host_timeout": "5m"}, "netdiag_audit_host_timeout: '5m' is not a whole number >= 1"),
        ({"max_capture_bytes": "-1"}, "netdiag_max_capture_bytes: '-1' is not a whole number >= 1"),
        ({"max_capture_bytes": "1G"}, "netdiag_max_capture_bytes: '1G' is not a whole number >= 1"),
        ({"become": "perhaps"}, "netdiag_audit_become: 'perhaps' is not true or false"),
        ({"report_keep": "-2"}, "netdiag_report_keep: '-2' is not a whole number >= 0"),
        ({"facts_max_age": "1h"}, "netdiag_facts_max_age: '1h' is not a whole number >= 0"),
        (
            {"thresholds": '{"close_wait":'},
            "netdiag_audit_thresholds: '{\"close_wait\":' is not valid YAML or JSON (expected the node content, but "
            "found '<stream end>'); with -e netdiag_audit_thresholds=VALUE the value ends at the first space, so "
            "give it as JSON: -e '{\"netdiag_audit_thresholds\": ...}'",
        ),
        (
            {"thresholds": "close_wait"},
            "netdiag_audit_thresholds: 'close_wait' is not a mapping such as {\"close_wait\": 50}; known limits: "
            "close_wait, conntrack_full_pct, conntrack_near_full_pct, no_keepalive",
        ),
        ({"thresholds": {"close_wait": -5}}, "netdiag_audit_thresholds.close_wait must be a number >= 0, got -5"),
        (
            {"correlation": {"min_half_open": -1}},
            "netdiag_audit_correlation.min_half_open must be a number >= 0, got -1",
        ),
        (
            {"correlation": '{"min_halfopen": 1}'},
            "netdiag_audit_correlation: unknown min_halfopen; known: min_gap, min_half_open, ratio",
        ),
        (
            {"matched_hosts": [], "target": "web:app"},
            "netdiag_audit_target: 'web:app' matches no host in the inventory",
        ),
    ],
)
def test_bad_value_is_one_clear_error(tmp_path, args, message):
    with pytest.raises(AnsibleActionFail) as raised:
        run_action(dict(args, report_dir=str(tmp_path / "reports")))
    assert str(raised.value).startswith(PREFIX + message)
    assert not (tmp_path / "reports").exists()


def test_every_bad_value_named_in_one_message(tmp_path):
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"ports": "abc", "peers": "notanip", "report_dir": str(tmp_path / "reports")})
    assert str(raised.value) == PREFIX + (
        "netdiag_audit_ports: 'abc' is not a port number (1-65535); "
        "netdiag_audit_peers: 'notanip' is not an IP address or CIDR network"
    )


def test_report_dir_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"report_dir": str(tmp_path / "file")})
    assert str(raised.value) == PREFIX + "netdiag_report_dir: %s is not a directory" % (tmp_path / "file")
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"report_dir": str(tmp_path / "file" / "reports")})
    assert str(raised.value) == PREFIX + "netdiag_report_dir: %s cannot be created: %s is not a directory" % (
        tmp_path / "file" / "reports",
        tmp_path / "file",
    )


def test_world_writable_report_dir(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o1777)
    with pytest.raises(AnsibleActionFail) as raised:
        run_action({"report_dir": str(tmp_path / "shared")})
    assert str(raised.value) == PREFIX + (
        "netdiag_report_dir: %s is writable by group or others (mode 1777): make it private with chmod 700"
        % (tmp_path / "shared")
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"ports": "[5555]"}, {"ports": [5555]}),
        ({"ports": "5555,80"}, {"ports": [80, 5555]}),
        ({"ports": 5555}, {"ports": [5555]}),
        ({"ports": ["443", 80]}, {"ports": [80, 443]}),
        ({"peers": "198.51.100.0/24"}, {"peers": ["198.51.100.0/24"]}),
        ({"peers": "[198.51.100.20, '2001:db8::/32']"}, {"peers": ["198.51.100.20", "2001:db8::/32"]}),
        ({"max_connections": "0"}, {"max_connections": 0}),
        ({"max_peers": "0"}, {"max_peers": 0}),
        ({"host_timeout": "30", "max_capture_bytes": 1048576}, {"host_timeout": 30, "max_capture_bytes": 1048576}),
        ({"max_peers": 25}, {"max_peers": 25}),
        ({"become": "yes"}, {"become": True}),
        ({"thresholds": '{"close_wait":50}'}, {"thresholds": {"close_wait": 50}}),
        (
            {"thresholds": "{close_wait: 50, no_keepalive: 0.5}"},
            {"thresholds": {"close_wait": 50, "no_keepalive": 0.5}},
        ),
        ({"report_keep": "3"}, {"report_keep": 3}),
        ({"facts_max_age": "3600"}, {"facts_max_age": 3600}),
        ({"correlation": '{"min_half_open": 1}'}, {"correlation": {"min_half_open": 1}}),
        ({"matched_hosts": ["web", "app"]}, {"matched_hosts": ["app", "web"]}),
    ],
)
def test_good_values_returned_typed(tmp_path, args, expected):
    result = run_action(dict(args, report_dir=str(tmp_path / "reports")))
    assert {key: result[key] for key in expected} == expected
    assert result["changed"] is False
    assert result["report_dir"] == str(tmp_path / "reports")
    assert not (tmp_path / "reports").exists()
