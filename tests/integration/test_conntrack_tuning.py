# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/tune_conntrack.yml (role netdiag.tcp.conntrack_tuning) for real, inside a network namespace.

The live values are the namespace's own (conntrack timeouts are per network namespace), so this machine's root
namespace is never changed; the test checks that too. The configuration side (sysctl.d, modules-load.d) goes to a
temporary directory through the role's internal variable __conntrack_tuning_config_root, never to this machine's
/etc. What needs a whole host (a real /etc, boot, a loadable nf_conntrack) is left to the Molecule scenarios.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from conftest import ansible_json_environment, json_output, needs_root, run_module, run_playbook, task_results

PROC = "/proc/sys/net/netfilter/"
ESTABLISHED = PROC + "nf_conntrack_tcp_timeout_established"
CLOSE_WAIT = PROC + "nf_conntrack_tcp_timeout_close_wait"
HEADER = (
    "# Managed by netdiag.tcp (conntrack_tuning role / conntrack_sysctl module); local edits are overwritten.\n"
    "# These apply at boot only if the conntrack module is loaded before systemd-sysctl (see modules-load.d).\n"
)
PREVIOUS = "# Live values before netdiag.tcp first set them (state=absent writes them back):\n"

pytestmark = [
    needs_root,
    pytest.mark.skipif(not os.path.exists(ESTABLISHED), reason="this kernel has no nf_conntrack"),
]


@pytest.fixture
def netns():
    name = "netdiag-ct-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=True)


def read_in(netns, path):
    completed = subprocess.run(["ip", "netns", "exec", netns, "cat", path], check=True, capture_output=True, text=True)
    return completed.stdout.strip()


def read_root(path):
    with open(path) as handle:
        return handle.read().strip()


def tune(netns, config_root, *extra, check=False, target="localhost"):
    """Run the playbook in netns; returns (rc, {task name: localhost result}, recap stats for localhost)."""
    arguments = ["-e", "__conntrack_tuning_config_root=%s" % config_root, *extra]
    if target is not None:
        arguments += ["-e", "target=%s" % target]
    if check:
        arguments += ["--check", "--diff"]
    completed = run_playbook("tune_conntrack.yml", *arguments, env=ansible_json_environment(), netns=netns)
    output = json_output(completed)
    return completed.returncode, task_results(output, "localhost"), output["stats"]["localhost"]


def managed_file(config_root):
    return config_root / "etc/sysctl.d/90-netdiag-conntrack.conf"


def test_check_apply_again(netns, tmp_path):
    root_before = read_root(ESTABLISHED)
    assert read_in(netns, ESTABLISHED) == "432000"

    rc, tasks, stats = tune(netns, tmp_path, check=True)
    assert rc == 0
    assert stats["changed"] == 1
    assert not managed_file(tmp_path).exists()
    assert read_in(netns, ESTABLISHED) == "432000"
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "net.netfilter.nf_conntrack_tcp_timeout_established: live 432000 -> 1200, 90-netdiag-conntrack.conf "
        "unset -> 1200, at boot unset -> 1200 (check mode, not changed)"
    ]
    assert tasks["Say what the new timeout asks of the hosts behind it"]["msg"].startswith(
        "Check mode, nothing was changed: after a run without --check, idle TCP connections through localhost would "
        "be forgotten after 1200 s."
    )

    rc, tasks, stats = tune(netns, tmp_path, "-e", '{"conntrack_tuning_settings": {"tcp_timeout_close_wait": 30}}')
    assert rc == 0
    assert stats["changed"] == 1
    assert read_in(netns, ESTABLISHED) == "1200"
    assert read_in(netns, CLOSE_WAIT) == "30"
    assert managed_file(tmp_path).read_text() == (
        HEADER
        + PREVIOUS
        + "# previous net.netfilter.nf_conntrack_tcp_timeout_close_wait = 60\n"
        + "# previous net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"
        + "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 30\n"
        + "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n"
    )
    assert tasks["Say how to undo the tuning"]["msg"] == (
        "To undo on localhost: ansible-playbook playbooks/tune_conntrack.yml -e target=localhost "
        "-e conntrack_tuning_state=absent (with your -i and -b). It removes %s and writes back "
        "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 60, "
        "net.netfilter.nf_conntrack_tcp_timeout_established = 432000. Not sysctl --system: that re-applies every "
        "file in /etc/sysctl.d and /etc/sysctl.conf, not only this one." % managed_file(tmp_path)
    )
    applied = tasks["Set the parameters live and in sysctl.d, and verify both"]
    assert applied["changed"] is True
    assert applied["before"]["tcp_timeout_established"] == {"live": 432000, "file": None, "boot": None}
    assert applied["after"]["tcp_timeout_established"] == {"live": 1200, "file": 1200, "boot": 1200}
    # 1200 s is shorter than Linux's default keepalive time: the playbook says what that asks of the clients.
    reminder = tasks["Say what the new timeout asks of the hosts behind it"]["msg"]
    assert reminder.startswith("Idle TCP connections through localhost are now forgotten after 1200 s.")
    assert "keepalive-after-nat-timeout" in reminder
    # nf_conntrack is built into this kernel: no modules-load.d entry is needed, so none is written.
    assert not (tmp_path / "etc/modules-load.d").exists()
    assert read_root(ESTABLISHED) == root_before

    rc, tasks, stats = tune(netns, tmp_path, "-e", '{"conntrack_tuning_settings": {"tcp_timeout_close_wait": 30}}')
    assert rc == 0
    assert stats["changed"] == 0
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "net.netfilter.nf_conntrack_tcp_timeout_close_wait: live 30 -> 30, 90-netdiag-conntrack.conf 30 -> 30, "
        "at boot 30 -> 30",
        "net.netfilter.nf_conntrack_tcp_timeout_established: live 1200 -> 1200, 90-netdiag-conntrack.conf "
        "1200 -> 1200, at boot 1200 -> 1200",
    ]
    assert read_root(ESTABLISHED) == root_before


def test_absent_undoes_the_tuning(netns, tmp_path):
    """apply -> changed, again -> not changed, absent in check mode writes nothing, absent puts back the value the
    namespace had, absent again -> not changed."""
    assert read_in(netns, ESTABLISHED) == "432000"
    rc, _tasks, stats = tune(netns, tmp_path)
    assert (rc, stats["changed"]) == (0, 1)
    rc, _tasks, stats = tune(netns, tmp_path)
    assert (rc, stats["changed"]) == (0, 0)
    assert read_in(netns, ESTABLISHED) == "1200"
    content = managed_file(tmp_path).read_text()

    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_state=absent", check=True)
    assert (rc, stats["changed"]) == (0, 1)
    assert managed_file(tmp_path).read_text() == content
    assert read_in(netns, ESTABLISHED) == "1200"
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "removed %s (check mode, not changed)" % managed_file(tmp_path),
        "net.netfilter.nf_conntrack_tcp_timeout_established: live 1200 -> 432000 (the value before the tuning) "
        "(check mode, not changed)",
    ]
    removal = tasks["Remove the sysctl.d file and put back the values recorded in it"]
    assert removal["diff"][0]["before"] == content and removal["diff"][0]["after"] == ""

    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_state=absent")
    assert (rc, stats["changed"]) == (0, 1)
    assert not managed_file(tmp_path).exists()
    assert read_in(netns, ESTABLISHED) == "432000"
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "removed %s" % managed_file(tmp_path),
        "net.netfilter.nf_conntrack_tcp_timeout_established: live 1200 -> 432000 (the value before the tuning)",
    ]
    assert "Say how to undo the tuning" not in tasks or tasks["Say how to undo the tuning"].get("skipped")

    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_state=absent")
    assert (rc, stats["changed"]) == (0, 0)
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "nothing to undo: %s does not exist" % managed_file(tmp_path)
    ]
    assert read_in(netns, ESTABLISHED) == "432000"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["-e", "conntrack_tuning_tcp_timeout_established=0"],
            "Nothing was changed: invalid settings: tcp_timeout_established: 0 is out of range 1..2147483 seconds",
        ),
        (
            ["-e", '{"conntrack_tuning_settings": {"buckets": 16384}}'],
            "Nothing was changed: invalid settings: buckets (nf_conntrack_buckets, the hash table size) is not set "
            "with sysctl",
        ),
        (
            ["-e", '{"conntrack_tuning_settings": {"max": 100000}}'],
            "Nothing was changed: max: net.netfilter.nf_conntrack_max is read-only here.",
        ),
        (
            ["-e", '{"conntrack_tuning_settings": {"tcp_timeout_establishd": 100}}'],
            "Nothing was changed: tcp_timeout_establishd: net.netfilter.nf_conntrack_tcp_timeout_establishd does "
            "not exist on this kernel",
        ),
    ],
)
def test_bad_input_fails_before_any_change(netns, tmp_path, extra, message):
    rc, tasks, stats = tune(netns, tmp_path, *extra)
    assert rc == 2
    assert stats["failures"] == 1
    assert stats["changed"] == 0
    failed = tasks["Validate the settings on the host before changing anything"]
    assert failed["failed"] is True
    assert failed["msg"].startswith(message)
    assert read_in(netns, ESTABLISHED) == "432000"
    assert not (tmp_path / "etc").exists()


def test_argument_spec_rejects_a_non_integer(netns, tmp_path):
    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_tcp_timeout_established=20m")
    assert rc == 2
    assert stats["changed"] == 0
    assert read_in(netns, ESTABLISHED) == "432000"


def test_override_fails_then_is_commented_out(netns, tmp_path):
    sysctl_conf = tmp_path / "etc/sysctl.conf"
    sysctl_conf.parent.mkdir(parents=True)
    original = "# the 2012 fix, on the wrong key for this kernel and then the right one\n" + (
        "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200\n"
        "net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"
    )
    sysctl_conf.write_text(original)
    (tmp_path / "etc/sysctl.d").mkdir()
    (tmp_path / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")

    rc, tasks, stats = tune(netns, tmp_path)
    assert rc == 2
    failed = tasks["Set the parameters live and in sysctl.d, and verify both"]
    assert failed["msg"] == (
        "Nothing was changed: these lines are applied after %s at boot and would override it: %s:3: "
        "net.netfilter.nf_conntrack_tcp_timeout_established = 432000 (sets 432000, wanted 1200). Remove or change "
        "them, or set overrides=comment_out (role: conntrack_tuning_overrides: comment_out) to comment them out "
        "with a backup." % (managed_file(tmp_path), sysctl_conf)
    )
    assert sysctl_conf.read_text() == original
    assert not managed_file(tmp_path).exists()
    assert read_in(netns, ESTABLISHED) == "432000"

    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_overrides=comment_out")
    assert rc == 0
    applied = tasks["Set the parameters live and in sysctl.d, and verify both"]
    assert applied["commented_out"] == [
        {
            "path": str(sysctl_conf),
            "line_number": 3,
            "line": "net.netfilter.nf_conntrack_tcp_timeout_established = 432000",
        }
    ]
    assert sysctl_conf.read_text().splitlines()[2] == (
        "# netdiag.tcp commented out, it overrode %s: net.netfilter.nf_conntrack_tcp_timeout_established = 432000"
        % managed_file(tmp_path)
    )
    [backup] = applied["backup_files"]
    with open(backup) as handle:
        assert handle.read() == original
    assert applied["after"]["tcp_timeout_established"] == {"live": 1200, "file": 1200, "boot": 1200}
    assert read_in(netns, ESTABLISHED) == "1200"

    rc, tasks, stats = tune(netns, tmp_path, "-e", "conntrack_tuning_overrides=comment_out")
    assert rc == 0
    assert stats["changed"] == 0


def test_module_validate_only_in_a_namespace(netns, tmp_path):
    result = run_module(
        "conntrack_sysctl",
        {"settings": {"tcp_timeout_established": 1200}, "validate_only": True, "config_root": str(tmp_path)},
        netns=netns,
    )
    assert result["changed"] is False
    assert result["available"] is True
    assert result["key_style"] == "nf_conntrack"
    assert result["sysctl_names"] == {"tcp_timeout_established": "net.netfilter.nf_conntrack_tcp_timeout_established"}
    assert read_in(netns, ESTABLISHED) == "432000"


def test_no_keepalive_reminder_for_a_timeout_above_the_keepalive_default(netns, tmp_path):
    rc, tasks, _stats = tune(netns, tmp_path, "-e", "conntrack_tuning_tcp_timeout_established=7201")
    assert rc == 0
    assert read_in(netns, ESTABLISHED) == "7201"
    assert tasks["Say what the new timeout asks of the hosts behind it"].get("skipped") is True


@pytest.mark.parametrize(
    ("target", "task", "message"),
    [
        (
            None,
            "Require an explicit target",
            "tune_conntrack.yml changes kernel settings: name the hosts with -e target=PATTERN (for example "
            "-e target=nat_boxes, or -e target=all for every host in the inventory). Nothing was changed.",
        ),
        (
            "nat_boxes",
            "Require a target that matches hosts",
            'target "nat_boxes" matches no host in the inventory (check -i and the pattern). Nothing was changed.',
        ),
    ],
)
def test_target_is_required_and_must_match(netns, tmp_path, target, task, message):
    rc, tasks, stats = tune(netns, tmp_path, target=target)
    assert rc == 2
    assert tasks[task]["msg"] == message
    assert stats["changed"] == 0
    assert "Validate the settings on the host before changing anything" not in tasks
    assert read_in(netns, ESTABLISHED) == "432000"
    assert not (tmp_path / "etc").exists()


def test_sysctl_file_name_with_a_newline_fails_before_any_change(netns, tmp_path):
    rc, tasks, stats = tune(
        netns, tmp_path, "-e", json.dumps({"conntrack_tuning_sysctl_file_name": "x\nnf_nat\n.conf"})
    )
    assert rc == 2
    assert tasks["Refuse a sysctl.d file name that is not one plain .conf name"]["msg"] == (
        'conntrack_tuning_sysctl_file_name "x\\nnf_nat\\n.conf" must be a plain file name ending in .conf (letters, '
        "digits, '.', '_' and '-', starting with a letter or digit). Nothing was changed."
    )
    assert stats["changed"] == 0
    assert read_in(netns, ESTABLISHED) == "432000"
    assert not (tmp_path / "etc").exists()
