# SPDX-License-Identifier: GPL-3.0-or-later
"""The conntrack_tuning role's module-load and boot paths on an EMULATED modular kernel (tests/emulation/README.md).

This machine's kernel has nf_conntrack built in, so the paths that only a kernel with conntrack as a loadable module
takes (modprobe, the modules-load.d entry, a sysctl.d value that is lost at boot when nothing loads the module
before systemd-sysctl) are run on test hosts created with `testhosts.py create --emulate modular_kernel`: their
modprobe, /sys/module, /proc/modules (for Python) and /proc/sys/net/netfilter views emulate conntrack as a module,
and `netdiag-modular-kernel boot` emulates a reboot (modules-load.d, then the sysctl files, then a firewall that
loads conntrack). This proves the role's wiring and the boot-order reasoning, not a real kernel's module loader.
The hosts are real otherwise (SSH, their own network namespace and overlay root, which the role writes for real).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import REPO, ansible_json_environment, json_output, run_playbook, task_results

TESTHOSTS = [os.environ.get("PYTHON", "python3"), str(REPO / "tools" / "testhosts" / "testhosts.py")]
INTERPRETER = "/usr/local/bin/python-modular_kernel"
SYSCTL_FILE = "/etc/sysctl.d/90-netdiag-conntrack.conf"
MODULES_LOAD_FILE = "/etc/modules-load.d/netdiag-conntrack.conf"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (test hosts)")


def in_host(name, *command):
    completed = subprocess.run(
        [*TESTHOSTS, "shell", name, *command], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )
    return completed


def kernel_status(name):
    completed = in_host(name, "netdiag-modular-kernel", "status")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def file_in_host(name, path):
    """(mode, owner uid, text) of a file in the host, or None when it does not exist."""
    completed = in_host(name, "sh", "-c", 'test -e "$1" && stat -c "%a %u" "$1" && cat "$1"', "-", path)
    if completed.returncode != 0:
        return None
    first, _newline, text = completed.stdout.partition("\n")
    mode, uid = first.split()
    return mode, int(uid), text


@pytest.fixture
def modular_host(tmp_path, request):
    """A fresh emulated host; yields (name, inventory path). Destroys only the host it created."""
    name, address = request.param
    created = subprocess.run(
        [*TESTHOSTS, "create", "--emulate", "modular_kernel", "%s=%s" % (name, address)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert created.returncode == 0, created.stderr
        info = json.loads(created.stdout)
        assert info["python_interpreter"] == INTERPRETER
        inventory = tmp_path / "inventory.ini"
        inventory.write_text(
            "%s ansible_host=%s ansible_user=root ansible_python_interpreter=%s ansible_ssh_private_key_file=%s "
            # Throw-away test hosts with fresh host keys: no host key checking, in this inventory only.
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
            % (name, address, INTERPRETER, info["private_key"])
        )
        yield name, inventory
    finally:
        subprocess.run([*TESTHOSTS, "destroy", name], cwd=REPO, capture_output=True, check=False)


def tune(name, inventory, *extra, check=False):
    """tune_conntrack.yml on the host; returns (rc, {task name: result}, recap stats)."""
    arguments = ["-i", str(inventory), "-e", "target=%s" % name, *extra]
    if check:
        arguments += ["--check", "--diff"]
    completed = run_playbook("tune_conntrack.yml", *arguments, env=ansible_json_environment())
    output = json_output(completed)
    return completed.returncode, task_results(output, name), output["stats"].get(name, {})


def audit_findings(name, inventory, report_dir):
    completed = run_playbook("audit.yml", "-i", str(inventory), "-e", "netdiag_report_dir=%s" % report_dir)
    assert completed.returncode == 0, completed.stdout[-3000:]
    report = json.loads((report_dir / "audit-latest.json").read_text())
    return report, [item["id"] for item in report["findings"] if item["host"] == name]


@pytest.mark.parametrize("modular_host", [("hardmk1", "198.51.100.140")], indirect=True)
def test_module_loaded_now_and_at_boot(modular_host):
    name, inventory = modular_host
    assert kernel_status(name) == {"loaded": [], "values": {}}

    rc, tasks, stats = tune(name, inventory, check=True)
    assert rc == 0
    assert tasks["Show the values before and after on each host"]["msg"] == [
        'check mode: nf_conntrack not loaded; a real run would load it and set {"tcp_timeout_established": 1200}'
    ]
    assert kernel_status(name) == {"loaded": [], "values": {}}
    assert file_in_host(name, MODULES_LOAD_FILE) is None
    assert file_in_host(name, SYSCTL_FILE) is None

    rc, tasks, stats = tune(name, inventory)
    assert rc == 0, json.dumps(tasks, indent=1)[-3000:]
    assert tasks["Load the conntrack kernel module"]["changed"] is True
    assert tasks["Make the conntrack kernel module load at boot, before systemd-sysctl"]["changed"] is True
    applied = tasks["Set the parameters live and in sysctl.d, and verify both"]
    assert applied["before"]["tcp_timeout_established"] == {"live": 432000, "file": None, "boot": None}
    assert applied["after"]["tcp_timeout_established"] == {"live": 1200, "file": 1200, "boot": 1200}
    assert applied["kernel_module"]["builtin"] is False
    assert applied["kernel_module"]["loaded_at_boot"] is True
    assert applied["kernel_module"]["load_files"] == [MODULES_LOAD_FILE]
    assert kernel_status(name) == {
        "loaded": ["libcrc32c", "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack"],
        "values": {"nf_conntrack_tcp_timeout_established": 1200},
    }
    mode, uid, text = file_in_host(name, MODULES_LOAD_FILE)
    assert (mode, uid) == ("644", 0)
    assert text.splitlines()[-1] == "nf_conntrack"
    mode, uid, text = file_in_host(name, SYSCTL_FILE)
    assert (mode, uid) == ("644", 0)
    assert "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n" in text

    rc, tasks, stats = tune(name, inventory)
    assert rc == 0
    assert stats["changed"] == 0

    # The reboot: modules-load.d loads nf_conntrack before the sysctl files are applied, so 1200 survives it.
    booted = in_host(name, "netdiag-modular-kernel", "boot")
    assert booted.returncode == 0, booted.stderr
    assert "systemd-modules-load: Inserted module 'nf_conntrack'" in booted.stdout
    assert "systemd-sysctl: net.netfilter.nf_conntrack_tcp_timeout_established = 1200" in booted.stdout
    assert kernel_status(name)["values"] == {"nf_conntrack_tcp_timeout_established": 1200}


@pytest.mark.parametrize("modular_host", [("hardmk2", "198.51.100.141")], indirect=True)
def test_without_the_boot_load_the_timeout_is_lost_at_boot_and_the_audit_says_so(modular_host, tmp_path):
    name, inventory = modular_host
    rc, tasks, _stats = tune(name, inventory, "-e", "conntrack_tuning_load_at_boot=false")
    assert rc == 0, json.dumps(tasks, indent=1)[-3000:]
    assert tasks["Make the conntrack kernel module load at boot, before systemd-sysctl"].get("skipped") is True
    assert file_in_host(name, MODULES_LOAD_FILE) is None
    assert kernel_status(name)["values"] == {"nf_conntrack_tcp_timeout_established": 1200}

    # Before the reboot the audit already sees it coming.
    report, findings = audit_findings(name, inventory, tmp_path / "before")
    assert "conntrack-timeout-lost-at-boot" in findings, report["hosts"][name]

    booted = in_host(name, "netdiag-modular-kernel", "boot")
    assert booted.returncode == 0, booted.stderr
    assert (
        "sysctl: cannot stat /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established: No such file or directory"
        in booted.stderr
    )
    assert "firewall: loaded nf_conntrack (kernel defaults)" in booted.stdout
    assert kernel_status(name)["values"] == {"nf_conntrack_tcp_timeout_established": 432000}

    # After it, the live value disagrees with what the file says.
    report, findings = audit_findings(name, inventory, tmp_path / "after")
    assert "conntrack-timeout-default" in findings, report["hosts"][name]


@pytest.mark.parametrize("modular_host", [("hardmk3", "198.51.100.142")], indirect=True)
def test_load_module_false_skips_the_host_and_changes_nothing(modular_host):
    name, inventory = modular_host
    rc, tasks, stats = tune(name, inventory, "-e", "conntrack_tuning_load_module=false")
    assert rc == 0
    assert stats["changed"] == 0
    assert tasks["Show the values before and after on each host"]["msg"] == [
        "skipped: conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_* nor "
        "/proc/sys/net/ipv4/netfilter/ip_conntrack_* exists; conntrack_tuning_load_module is false"
    ]
    assert kernel_status(name) == {"loaded": [], "values": {}}
    assert file_in_host(name, MODULES_LOAD_FILE) is None
    assert file_in_host(name, SYSCTL_FILE) is None
