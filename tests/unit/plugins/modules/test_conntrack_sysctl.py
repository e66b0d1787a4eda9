# SPDX-License-Identifier: GPL-3.0-or-later
"""conntrack_sysctl against real files: a fake /proc/sys + /sys tree (kernel_root) and a fake / (config_root).

The trees are synthetic (built here); they copy the layout and value format of the kernel's files.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.netdiag.tcp.plugins.modules import conntrack_sysctl

HEADER = conntrack_sysctl.FILE_HEADER
PREVIOUS = conntrack_sysctl.PREVIOUS_HEADER
NF_VALUES = {
    "tcp_timeout_established": 432000,
    "tcp_timeout_close_wait": 60,
    "udp_timeout": 30,
    "max": 262144,
    "buckets": 65536,
    "count": 7,
    "tcp_loose": 1,
}


def make_kernel(root, style="nf_conntrack", values=None, builtin=False):
    """A /proc/sys, /proc/modules and /sys/module tree as a kernel with conntrack (loaded or built in) has it."""
    values = NF_VALUES if values is None else values
    (root / "proc").mkdir(parents=True, exist_ok=True)
    if style == "nf_conntrack":
        directory = root / "proc/sys/net/netfilter"
        prefix = "nf_conntrack_"
    elif style == "ip_conntrack":
        directory = root / "proc/sys/net/ipv4/netfilter"
        prefix = "ip_conntrack_"
    else:
        directory = None
    if directory is not None:
        directory.mkdir(parents=True)
        for name, value in values.items():
            (directory / (prefix + name)).write_text("%d\n" % value)
        if style == "nf_conntrack" and "max" in values:
            (root / "proc/sys/net/nf_conntrack_max").write_text("%d\n" % values["max"])
    module_name = "ip_conntrack" if style == "ip_conntrack" else "nf_conntrack"
    if style and builtin:
        (root / "sys/module" / module_name / "parameters").mkdir(parents=True)
        (root / "proc/modules").write_text("")
    elif style:
        (root / "sys/module" / module_name).mkdir(parents=True)
        (root / "sys/module" / module_name / "initstate").write_text("live\n")
        (root / "proc/modules").write_text("%s 172032 2 nf_nat,nft_ct, Live 0x0000000000000000\n" % module_name)
    else:
        (root / "proc/modules").write_text("")
    return root


def live(kernel, key):
    return (kernel / "proc/sys" / key.replace(".", "/")).read_text()


@pytest.fixture
def roots(tmp_path):
    kernel = make_kernel(tmp_path / "kernel")
    config = tmp_path / "config"
    (config / "etc/sysctl.d").mkdir(parents=True)
    return kernel, config


@pytest.fixture
def run(call_main):
    def run_conntrack_sysctl(kernel, config, check_mode=False, diff=True, **args):
        args.setdefault("kernel_root", str(kernel))
        args.setdefault("config_root", str(config))
        args["_ansible_check_mode"] = check_mode
        args["_ansible_diff"] = diff
        return call_main(conntrack_sysctl.main, args)

    return run_conntrack_sysctl


def managed_file(config):
    return config / "etc/sysctl.d/90-netdiag-conntrack.conf"


# ---- pure helpers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"tcp_timeout_established": 1200}, {"tcp_timeout_established": 1200}),
        ({"tcp_timeout_established": "1200"}, {"tcp_timeout_established": 1200}),
        ({"tcp_timeout_established": 2147483}, {"tcp_timeout_established": 2147483}),
        ({"max": 2147483647, "tcp_loose": 0, "events": 2}, {"max": 2147483647, "tcp_loose": 0, "events": 2}),
        ({"tcp_max_retrans": 0}, {"tcp_max_retrans": 0}),
    ],
)
def test_validate_settings_accepts(settings, expected):
    assert conntrack_sysctl.validate_settings(settings) == expected


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "settings is empty: give at least one parameter, e.g. tcp_timeout_established: 1200"),
        ({"tcp_timeout_established": 0}, "tcp_timeout_established: 0 is out of range 1..2147483 seconds"),
        ({"tcp_timeout_established": 2147484}, "tcp_timeout_established: 2147484 is out of range 1..2147483 seconds"),
        ({"tcp_timeout_established": -5}, "tcp_timeout_established: -5 is out of range 1..2147483 seconds"),
        ({"tcp_timeout_established": "20m"}, "tcp_timeout_established: '20m' is not an integer"),
        ({"tcp_timeout_established": 12.5}, "tcp_timeout_established: 12.5 is not an integer"),
        ({"tcp_loose": True}, "tcp_loose: True is not an integer"),
        ({"tcp_loose": 2}, "tcp_loose: 2 is out of range 0..1"),
        ({"max": 0}, "max: 0 is out of range 1..2147483647"),
        ({"max": 2147483648}, "max: 2147483648 is out of range 1..2147483647"),
        ({"count": 5}, conntrack_sysctl.REFUSED["count"]),
        ({"buckets": 16384}, conntrack_sysctl.REFUSED["buckets"]),
        (
            {"nf_conntrack_max": 5},
            "nf_conntrack_max: give the short name without the nf_conntrack_ prefix",
        ),
        ({"Max": 5}, "'Max' is not a short conntrack parameter name (lower case, digits, _)"),
        (
            {"max": 0, "tcp_loose": 3},
            "max: 0 is out of range 1..2147483647; tcp_loose: 3 is out of range 0..1",
        ),
    ],
)
def test_validate_settings_refuses(settings, message):
    with pytest.raises(conntrack_sysctl.SettingsError) as raised:
        conntrack_sysctl.validate_settings(settings)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("net.netfilter.nf_conntrack_max", "net/netfilter/nf_conntrack_max"),
        ("net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_max"),
        (" net.nf_conntrack_max ", "net/nf_conntrack_max"),
        ("net.ipv4.conf.enp3s0/200.forwarding", "net/ipv4/conf/enp3s0.200/forwarding"),
        ("net/ipv4/conf/enp3s0.200/forwarding", "net/ipv4/conf/enp3s0.200/forwarding"),
    ],
)
def test_key_to_path_follows_sysctl_d_separator_rules(key, path):
    assert conntrack_sysctl.key_to_path(key) == path


def test_parse_sysctl_lines_skips_comments_and_strips_the_ignore_prefix():
    text = (
        "# comment = 1\n"
        "; also a comment = 2\n"
        "\n"
        "net.netfilter.nf_conntrack_max=10\n"
        "  -net.netfilter.nf_conntrack_tcp_loose = 0  \n"
        "-net.netfilter.nf_conntrack_acct\n"
        "garbage line\n"
    )
    assert list(conntrack_sysctl.parse_sysctl_lines(text)) == [
        (4, "net.netfilter.nf_conntrack_max=10", "net.netfilter.nf_conntrack_max", "10"),
        (
            5,
            "  -net.netfilter.nf_conntrack_tcp_loose = 0  ",
            "net.netfilter.nf_conntrack_tcp_loose",
            "0",
        ),
    ]


# ---- apply, again, check mode ----------------------------------------------------------------------------------
def test_first_run_writes_file_and_live_values_and_returns_diff(roots, run):
    kernel, config = roots
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200, "tcp_timeout_close_wait": 30})
    assert not outcome.failed, outcome.result["msg"]
    result = outcome.result
    expected_file = (
        HEADER
        + PREVIOUS
        + "# previous net.netfilter.nf_conntrack_tcp_timeout_close_wait = 60\n"
        + "# previous net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"
        + "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 30\n"
        + "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n"
    )
    assert result["changed"] is True
    assert managed_file(config).read_text() == expected_file
    assert oct(managed_file(config).stat().st_mode & 0o777) == "0o644"
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "1200\n"
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_close_wait") == "30\n"
    assert result["key_style"] == "nf_conntrack"
    assert result["sysctl_names"] == {
        "tcp_timeout_established": "net.netfilter.nf_conntrack_tcp_timeout_established",
        "tcp_timeout_close_wait": "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
    }
    assert result["before"] == {
        "tcp_timeout_established": {"live": 432000, "file": None, "boot": None},
        "tcp_timeout_close_wait": {"live": 60, "file": None, "boot": None},
    }
    assert result["after"] == {
        "tcp_timeout_established": {"live": 1200, "file": 1200, "boot": 1200},
        "tcp_timeout_close_wait": {"live": 30, "file": 30, "boot": 30},
    }
    assert result["kernel_module"] == {
        "name": "nf_conntrack",
        "loaded": True,
        "builtin": False,
        "loaded_at_boot": False,
        "load_files": [],
    }
    assert result["diff"] == [
        {
            "before_header": str(managed_file(config)),
            "after_header": str(managed_file(config)),
            "before": "",
            "after": expected_file,
        },
        {
            "before_header": "live values (/proc/sys)",
            "after_header": "live values (/proc/sys)",
            "before": "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 60\n"
            "net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n",
            "after": "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 30\n"
            "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
        },
    ]
    assert result["overrides"] == []
    assert result["commented_out"] == []
    assert result["backup_files"] == []
    # Only the managed file was created (atomic write leaves no temporary behind).
    assert sorted(os.listdir(config / "etc/sysctl.d")) == ["90-netdiag-conntrack.conf"]


def test_second_run_changes_nothing(roots, run):
    kernel, config = roots
    assert run(kernel, config, settings={"tcp_timeout_established": 1200}).result["changed"] is True
    mtime = managed_file(config).stat().st_mtime_ns
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["changed"] is False
    assert managed_file(config).stat().st_mtime_ns == mtime
    assert (
        result["before"] == result["after"] == {"tcp_timeout_established": {"live": 1200, "file": 1200, "boot": 1200}}
    )
    assert result["diff"][0]["before"] == result["diff"][0]["after"]
    assert result["diff"][1]["before"] == result["diff"][1]["after"]


def test_check_mode_writes_nothing_and_predicts(roots, run):
    kernel, config = roots
    result = run(kernel, config, check_mode=True, settings={"tcp_timeout_established": 1200}).result
    assert result["changed"] is True
    assert not managed_file(config).exists()
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"
    assert result["before"] == {"tcp_timeout_established": {"live": 432000, "file": None, "boot": None}}
    assert result["after"] == {"tcp_timeout_established": {"live": 1200, "file": 1200, "boot": 1200}}
    assert result["diff"][0]["after"] == (
        HEADER
        + PREVIOUS
        + "# previous net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"
        + "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n"
    )
    assert result["diff"][1]["after"] == "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n"


def test_file_is_corrected_when_only_the_file_differs(roots, run):
    kernel, config = roots
    run(kernel, config, settings={"tcp_timeout_established": 1200})
    managed_file(config).write_text("net.netfilter.nf_conntrack_tcp_timeout_established=999\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["changed"] is True
    assert result["before"]["tcp_timeout_established"] == {"live": 1200, "file": 999, "boot": 999}
    assert managed_file(config).read_text() == HEADER + "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n"


def test_apply_live_false_only_writes_the_file(roots, run):
    kernel, config = roots
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}, apply_live=False).result
    assert result["changed"] is True
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"
    assert result["after"] == {"tcp_timeout_established": {"live": 432000, "file": 1200, "boot": 1200}}
    assert run(kernel, config, settings={"tcp_timeout_established": 1200}, apply_live=False).result["changed"] is False


def test_legacy_ip_conntrack_names(tmp_path, run):
    kernel = make_kernel(tmp_path / "kernel", style="ip_conntrack", values={"tcp_timeout_established": 432000})
    config = tmp_path / "config"
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["key_style"] == "ip_conntrack"
    assert result["sysctl_names"] == {
        "tcp_timeout_established": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"
    }
    assert result["kernel_module"] == {
        "name": "ip_conntrack",
        "loaded": True,
        "builtin": False,
        "loaded_at_boot": False,
        "load_files": [],
    }
    assert live(kernel, "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established") == "1200\n"
    assert managed_file(config).read_text() == (
        HEADER
        + PREVIOUS
        + "# previous net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 432000\n"
        + "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200\n"
    )


def test_builtin_module_is_reported(tmp_path, run):
    kernel = make_kernel(tmp_path / "kernel", builtin=True)
    result = run(kernel, tmp_path / "config", settings={"tcp_timeout_established": 1200}, validate_only=True).result
    assert result["kernel_module"] == {
        "name": "nf_conntrack",
        "loaded": True,
        "builtin": True,
        "loaded_at_boot": True,
        "load_files": [],
    }


def test_modules_load_d_entry_is_reported(roots, run):
    kernel, config = roots
    (config / "etc/modules-load.d").mkdir(parents=True)
    (config / "etc/modules-load.d/netdiag-conntrack.conf").write_text("# managed\nnf_conntrack\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}, validate_only=True).result
    assert result["kernel_module"] == {
        "name": "nf_conntrack",
        "loaded": True,
        "builtin": False,
        "loaded_at_boot": True,
        "load_files": [str(config / "etc/modules-load.d/netdiag-conntrack.conf")],
    }


# ---- bad input and missing conntrack: nothing changes ----------------------------------------------------------
def test_out_of_range_value_fails_before_any_change(roots, run):
    kernel, config = roots
    outcome = run(kernel, config, settings={"tcp_timeout_established": 0, "tcp_timeout_close_wait": 30})
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: invalid settings: tcp_timeout_established: 0 is out of range 1..2147483 seconds"
    )
    assert not managed_file(config).exists()
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_close_wait") == "60\n"


def test_unknown_parameter_fails_naming_the_ones_that_exist(roots, run):
    kernel, config = roots
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200, "tcp_timeout_establish": 5})
    assert outcome.failed
    assert outcome.result["msg"].startswith(
        "Nothing was changed: tcp_timeout_establish: net.netfilter.nf_conntrack_tcp_timeout_establish does not exist "
        "on this kernel ("
    )
    assert outcome.result["msg"].endswith(
        "); parameters here: buckets, count, max, tcp_loose, tcp_timeout_close_wait, tcp_timeout_established, "
        "udp_timeout"
    )
    assert not managed_file(config).exists()
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"


def test_read_only_max_fails_with_the_namespace_explanation(roots, monkeypatch, run):
    kernel, config = roots
    read_only = str(kernel / "proc/sys/net/netfilter/nf_conntrack_max")
    real_access = os.access
    # Root ignores mode bits on ordinary files, so the read-only /proc entry of a network namespace is simulated.
    monkeypatch.setattr(conntrack_sysctl.os, "access", lambda path, mode: path != read_only and real_access(path, mode))
    outcome = run(kernel, config, settings={"max": 100000, "tcp_timeout_established": 1200})
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: max: net.netfilter.nf_conntrack_max is read-only here. It is one limit for the whole "
        "host (the same variable as net.nf_conntrack_max) and the kernel lets only the initial network namespace "
        "change it; set it on the host, not in a container or network namespace"
    )
    assert not managed_file(config).exists()


def test_conntrack_not_loaded_fails_and_validate_only_reports_it(tmp_path, run):
    kernel = make_kernel(tmp_path / "kernel", style=None)
    config = tmp_path / "config"
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_* nor "
        "/proc/sys/net/ipv4/netfilter/ip_conntrack_* exists; load it first (the role netdiag.tcp.conntrack_tuning "
        "does, see conntrack_tuning_load_module)"
    )
    assert not (config / "etc").exists()
    probe = run(kernel, config, settings={"tcp_timeout_established": 1200}, validate_only=True)
    assert not probe.failed
    assert probe.result["changed"] is False
    assert probe.result["available"] is False
    assert probe.result["kernel_module"] == {
        "name": "nf_conntrack",
        "loaded": False,
        "builtin": False,
        "loaded_at_boot": False,
        "load_files": [],
    }
    # Range errors still fail in validate_only, even without conntrack.
    bad = run(kernel, config, settings={"tcp_timeout_established": 0}, validate_only=True)
    assert bad.failed


def test_bad_file_name_fails(roots, run):
    kernel, config = roots
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, file_name="90-netdiag.txt")
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: file_name '90-netdiag.txt' must be a plain file name ending in .conf (letters, "
        "digits, '.', '_' and '-', starting with a letter or digit)"
    )


def refuse_live_write(monkeypatch, path):
    """The kernel refuses a value: conntrack_sysctl's writes to path fail with EINVAL; reads and other files work."""
    failing = str(path)
    real_open = open

    def open_with_einval(name, mode="r", *args, **kwargs):
        if str(name) == failing and "w" in mode:
            raise OSError(22, "Invalid argument")
        return real_open(name, mode, *args, **kwargs)

    monkeypatch.setattr(conntrack_sysctl, "open", open_with_einval, raising=False)


def test_live_write_error_puts_back_earlier_values_and_writes_no_file(roots, monkeypatch, run):
    kernel, config = roots
    refuse_live_write(monkeypatch, kernel / "proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200, "tcp_timeout_close_wait": 30})
    assert outcome.failed
    # The file is written first, so it is taken away again: nothing is left changed.
    assert outcome.result["msg"] == (
        "Writing net.netfilter.nf_conntrack_tcp_timeout_established = 1200 failed: [Errno 22] Invalid argument. "
        "Values written before it were put back. Files: removed %s (new)." % managed_file(config)
    )
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_close_wait") == "60\n"
    assert not managed_file(config).exists()
    assert os.listdir(config / "etc/sysctl.d") == []


# ---- overrides at boot -----------------------------------------------------------------------------------------
def test_later_sysctl_conf_line_fails_naming_file_and_line(roots, run):
    kernel, config = roots
    sysctl_conf = config / "etc/sysctl.conf"
    sysctl_conf.write_text("# local\nnet.netfilter.nf_conntrack_tcp_timeout_established = 432000\n")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: these lines are applied after %s at boot and would override it: %s:2: "
        "net.netfilter.nf_conntrack_tcp_timeout_established = 432000 (sets 432000, wanted 1200). Remove or change "
        "them, or set overrides=comment_out (role: conntrack_tuning_overrides: comment_out) to comment them out "
        "with a backup." % (managed_file(config), sysctl_conf)
    )
    assert not managed_file(config).exists()
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"


def test_comment_out_keeps_a_backup_and_is_idempotent(roots, run):
    kernel, config = roots
    sysctl_conf = config / "etc/sysctl.conf"
    original = "kernel.panic = 10\nnet/netfilter/nf_conntrack_tcp_timeout_established=600\n"
    sysctl_conf.write_text(original)
    check = run(kernel, config, check_mode=True, settings={"tcp_timeout_established": 1200}, overrides="comment_out")
    assert check.result["changed"] is True
    assert sysctl_conf.read_text() == original
    commented = (
        "kernel.panic = 10\n"
        + (conntrack_sysctl.COMMENT_PREFIX % managed_file(config))
        + "net/netfilter/nf_conntrack_tcp_timeout_established=600\n"
    )
    assert check.result["diff"][1] == {
        "before_header": str(sysctl_conf),
        "after_header": str(sysctl_conf),
        "before": original,
        "after": commented,
    }

    result = run(kernel, config, settings={"tcp_timeout_established": 1200}, overrides="comment_out").result
    assert result["changed"] is True
    assert sysctl_conf.read_text() == commented
    assert result["commented_out"] == [
        {"path": str(sysctl_conf), "line_number": 2, "line": "net/netfilter/nf_conntrack_tcp_timeout_established=600"}
    ]
    assert len(result["backup_files"]) == 1
    with open(result["backup_files"][0]) as backup:
        assert backup.read() == original
    assert result["before"]["tcp_timeout_established"] == {"live": 432000, "file": None, "boot": 600}
    assert result["after"]["tcp_timeout_established"] == {"live": 1200, "file": 1200, "boot": 1200}

    again = run(kernel, config, settings={"tcp_timeout_established": 1200}, overrides="comment_out").result
    assert again["changed"] is False
    assert again["backup_files"] == []


def test_sysctl_conf_through_debian_link_is_an_override(roots, run):
    kernel, config = roots
    (config / "etc/sysctl.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_established=432000\n")
    (config / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    assert outcome.failed
    assert outcome.result["overrides"] == [
        {
            "path": str(config / "etc/sysctl.conf"),
            "line_number": 1,
            "line": "net.netfilter.nf_conntrack_tcp_timeout_established=432000",
            "key": "net.netfilter.nf_conntrack_tcp_timeout_established",
            "short_name": "tcp_timeout_established",
            "value": "432000",
            "conflict": True,
        }
    ]
    # Named to sort after 99-sysctl.conf it would win under systemd-sysctl, but `sysctl --system` still applies
    # /etc/sysctl.conf last, so the line is an override either way.
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, file_name="zz-netdiag.conf")
    assert outcome.failed
    assert [(o["path"], o["line_number"]) for o in outcome.result["overrides"]] == [
        (str(config / "etc/sysctl.conf"), 1)
    ]


def test_managed_file_that_is_a_link_is_refused(roots, run):
    kernel, config = roots
    managed_file(config).symlink_to("/dev/null")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: %s is a symbolic link; this module owns that file and writes it as a plain file, so "
        "remove the link or choose another file_name" % managed_file(config)
    )
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"


def test_same_value_later_is_reported_not_fatal(roots, run):
    kernel, config = roots
    (config / "etc/sysctl.d/99-local.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["changed"] is True
    assert result["overrides"] == [
        {
            "path": str(config / "etc/sysctl.d/99-local.conf"),
            "line_number": 1,
            "line": "net.netfilter.nf_conntrack_tcp_timeout_established = 1200",
            "key": "net.netfilter.nf_conntrack_tcp_timeout_established",
            "short_name": "tcp_timeout_established",
            "value": "1200",
            "conflict": False,
        }
    ]


def test_earlier_file_does_not_override(roots, run):
    kernel, config = roots
    (config / "etc/sysctl.d/10-early.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 5\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["overrides"] == []
    assert result["before"]["tcp_timeout_established"]["boot"] == 5
    assert result["after"]["tcp_timeout_established"]["boot"] == 1200


def test_vendor_file_is_not_edited_even_with_comment_out(roots, run):
    kernel, config = roots
    vendor = config / "usr/lib/sysctl.d/95-vendor.conf"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 7200\n")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, overrides="comment_out")
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Nothing was changed: these lines outside /etc would override %s at boot: %s:1. They are not edited, "
        "because a package update would restore them; mask such a file with one of the same name in /etc/sysctl.d."
        % (managed_file(config), vendor)
    )
    assert vendor.read_text() == "net.netfilter.nf_conntrack_tcp_timeout_established = 7200\n"
    assert not managed_file(config).exists()


def test_masked_and_shadowed_vendor_files_are_not_overrides(roots, run):
    kernel, config = roots
    vendor = config / "usr/lib/sysctl.d"
    vendor.mkdir(parents=True)
    (vendor / "95-masked.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 7200\n")
    (vendor / "96-shadowed.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 7200\n")
    (config / "etc/sysctl.d/95-masked.conf").symlink_to("/dev/null")
    (config / "etc/sysctl.d/96-shadowed.conf").write_text("# the admin's copy without the line\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["overrides"] == []


def test_aliases_count_only_when_they_exist_on_the_host(roots, run):
    kernel, config = roots
    # The incident's line: on an nf_conntrack kernel net.ipv4.netfilter.* does not exist, so it sets nothing at boot.
    # net.nf_conntrack_max is the same kernel variable as net.netfilter.nf_conntrack_max, so it does override.
    (config / "etc/sysctl.conf").write_text(
        "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 432000\nnet.nf_conntrack_max = 65536\n"
    )
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200, "max": 262144})
    assert outcome.failed
    assert [(o["key"], o["short_name"], o["line_number"]) for o in outcome.result["overrides"]] == [
        ("net.nf_conntrack_max", "max", 2)
    ]


def test_glob_lines_are_not_overrides(roots, run):
    kernel, config = roots
    (config / "etc/sysctl.d/99-glob.conf").write_text("net.netfilter.nf_conntrack_tcp_timeout_* = 5\n")
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert result["overrides"] == []


def test_result_is_json_serialisable(roots, run):
    kernel, config = roots
    result = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert json.loads(json.dumps(result))["after"]["tcp_timeout_established"]["live"] == 1200


# ---- safe writes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "file_name",
    ["x\nnf_nat\nbluetooth\n.conf", "90-netdiag.conf\n", ".hidden.conf", "../90-x.conf", "a b.conf", "90-x.conf.bak"],
)
def test_file_name_with_newline_or_path_is_refused_before_any_change(roots, run, file_name):
    kernel, config = roots
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, file_name=file_name)
    assert outcome.failed
    assert outcome.result["msg"].startswith("Nothing was changed: file_name %r must be a plain file name" % file_name)
    assert os.listdir(config / "etc/sysctl.d") == []
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"


def test_short_name_with_a_trailing_newline_is_refused():
    with pytest.raises(conntrack_sysctl.SettingsError, match="is not a short conntrack parameter name"):
        conntrack_sysctl.validate_settings({"tcp_loose\n": 1})
    with pytest.raises(conntrack_sysctl.SettingsError, match="is not an integer"):
        conntrack_sysctl.validate_settings({"tcp_loose": "1\n1"})


def test_new_managed_file_is_0644_under_umask_000(roots, run):
    kernel, config = roots
    previous = os.umask(0)
    try:
        outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    finally:
        os.umask(previous)
    assert not outcome.failed, outcome.result["msg"]
    info = managed_file(config).stat()
    assert oct(info.st_mode & 0o777) == "0o644"
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (0, 0)


def test_managed_file_with_other_mode_is_made_0644(roots, run):
    kernel, config = roots
    managed_file(config).write_text(HEADER + "net.netfilter.nf_conntrack_tcp_timeout_established = 600\n")
    managed_file(config).chmod(0o666)
    assert not run(kernel, config, settings={"tcp_timeout_established": 1200}).failed
    assert oct(managed_file(config).stat().st_mode & 0o777) == "0o644"


def test_edited_file_keeps_its_mode(roots, run):
    kernel, config = roots
    sysctl_conf = config / "etc/sysctl.conf"
    sysctl_conf.write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n")
    sysctl_conf.chmod(0o600)
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, overrides="comment_out")
    assert not outcome.failed, outcome.result["msg"]
    assert sysctl_conf.read_text().startswith("# netdiag.tcp commented out")
    assert oct(sysctl_conf.stat().st_mode & 0o777) == "0o600"


def test_disk_full_changes_no_live_value_and_leaves_no_temporary(roots, monkeypatch, run):
    kernel, config = roots
    real_fsync = os.fsync

    def fsync_enospc(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(conntrack_sysctl.os, "fsync", fsync_enospc)
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200})
    monkeypatch.setattr(conntrack_sysctl.os, "fsync", real_fsync)
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Writing %s failed: [Errno 28] No space left on device. No file was changed; no live value was changed."
        % managed_file(config)
    )
    assert outcome.result["changed"] is False
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"
    assert os.listdir(config / "etc/sysctl.d") == []


def test_live_write_error_restores_an_existing_file_and_edited_lines(roots, monkeypatch, run):
    kernel, config = roots
    old_managed = HEADER + "net.netfilter.nf_conntrack_tcp_timeout_established = 600\n"
    managed_file(config).write_text(old_managed)
    sysctl_conf = config / "etc/sysctl.conf"
    sysctl_conf.write_text("net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n")
    refuse_live_write(monkeypatch, kernel / "proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established")
    outcome = run(kernel, config, settings={"tcp_timeout_established": 1200}, overrides="comment_out")
    assert outcome.failed
    assert outcome.result["msg"] == (
        "Writing net.netfilter.nf_conntrack_tcp_timeout_established = 1200 failed: [Errno 22] Invalid argument. "
        "Values written before it were put back. Files: restored %s, restored %s."
        % (os.path.realpath(sysctl_conf), managed_file(config))
    )
    assert managed_file(config).read_text() == old_managed
    assert sysctl_conf.read_text() == "net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"
    assert live(kernel, "net.netfilter.nf_conntrack_tcp_timeout_established") == "432000\n"
    # The backup of the edited file stays (it is returned), and no temporary file is left.
    assert [name for name in os.listdir(config / "etc") if name.startswith(".netdiag-")] == []
    assert [name for name in os.listdir(config / "etc/sysctl.d") if name != "90-netdiag-conntrack.conf"] == []
    assert len(outcome.result["backup_files"]) == 1


# ---- state=absent: undo -----------------------------------------------------------------------------------------
ESTABLISHED_KEY = "net.netfilter.nf_conntrack_tcp_timeout_established"


def test_apply_records_previous_values_once_and_absent_restores_them(roots, run):
    kernel, config = roots
    first = run(kernel, config, settings={"tcp_timeout_established": 1200}).result
    assert first["previous"] == {ESTABLISHED_KEY: 432000}
    assert first["undo"] == (
        "conntrack_sysctl state=absent (role: conntrack_tuning_state: absent) removes %s and writes back "
        "%s = 432000" % (managed_file(config), ESTABLISHED_KEY)
    )
    # A second run with another value keeps the value from before the first change, not 1200.
    second = run(kernel, config, settings={"tcp_timeout_established": 1800}).result
    assert second["changed"] is True and second["previous"] == {ESTABLISHED_KEY: 432000}
    assert "# previous %s = 432000\n" % ESTABLISHED_KEY in managed_file(config).read_text()
    assert live(kernel, ESTABLISHED_KEY) == "1800\n"

    checked = run(kernel, config, check_mode=True, state="absent").result
    assert checked["changed"] is True and checked["removed"] is True
    assert managed_file(config).exists() and live(kernel, ESTABLISHED_KEY) == "1800\n"
    assert checked["restored"] == {ESTABLISHED_KEY: {"before": 1800, "after": 432000}}
    assert checked["diff"][0]["after"] == "" and checked["diff"][1] == {
        "before_header": "live values (/proc/sys)",
        "after_header": "live values (/proc/sys)",
        "before": "%s = 1800\n" % ESTABLISHED_KEY,
        "after": "%s = 432000\n" % ESTABLISHED_KEY,
    }

    removed = run(kernel, config, state="absent").result
    assert removed["changed"] is True and removed["not_recorded"] == []
    assert not managed_file(config).exists()
    assert live(kernel, ESTABLISHED_KEY) == "432000\n"

    again = run(kernel, config, state="absent").result
    assert (again["changed"], again["removed"], again["restored"]) == (False, False, {})


def test_absent_leaves_an_unrecorded_value_and_says_so(roots, run, monkeypatch):
    warnings = []
    monkeypatch.setattr(conntrack_sysctl.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    kernel, config = roots
    # A file as an older netdiag.tcp wrote it: no record of the value from before.
    managed_file(config).write_text(HEADER + "%s = 1200\n" % ESTABLISHED_KEY)
    (kernel / "proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established").write_text("1200\n")
    outcome = run(kernel, config, state="absent")
    assert outcome.result["changed"] is True and outcome.result["not_recorded"] == [ESTABLISHED_KEY]
    assert not managed_file(config).exists()
    assert live(kernel, ESTABLISHED_KEY) == "1200\n"
    assert warnings == [
        "%s sets %s but holds no value from before (written by an older netdiag.tcp): its live value is left as it is"
        % (managed_file(config), ESTABLISHED_KEY)
    ]


def test_absent_with_apply_live_false_only_removes_the_file(roots, run):
    kernel, config = roots
    run(kernel, config, settings={"tcp_timeout_established": 1200})
    result = run(kernel, config, state="absent", apply_live=False).result
    assert result["removed"] is True and result["restored"] == {}
    assert live(kernel, ESTABLISHED_KEY) == "1200\n"


def test_present_needs_settings(roots, run):
    kernel, config = roots
    outcome = run(kernel, config)
    assert outcome.failed and "settings" in outcome.result["msg"]
