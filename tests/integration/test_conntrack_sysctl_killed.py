# SPDX-License-Identifier: GPL-3.0-or-later
"""conntrack_sysctl killed with SIGKILL in the middle of its write, for real.

The module runs in a network namespace of its own (its live nf_conntrack_tcp_timeout_established is that
namespace's) with config_root a temporary directory (the managed file is <tmp>/etc/sysctl.d/...), started directly
with Python as AnsiballZ would (an args file), so the process killed is the module itself.

To kill it at an exact point, it runs under strace with a delay injected at the rename(2) family, the step that
puts the new file in place: entering the rename (the temporary file is written, the managed file not yet
replaced) or leaving it (the file is replaced, no live value written yet). The module process is killed with
SIGKILL during that delay. A kill there used to leave .netdiag-*.tmp in /etc/sysctl.d, or the new file with the
old live value. What must hold once every process of the run has ended: no temporary file, and the file's value
and the live value agree (both new), or neither changed.

A loop then kills the module at random moments without strace (on this machine a run takes a fraction of a
second), and checks the same after each kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import REPO, needs_root, run

KEY = "net/netfilter/nf_conntrack_tcp_timeout_established"
DEFAULT = 432000
MODULE = "ansible_collections.netdiag.tcp.plugins.modules.conntrack_sysctl"


@pytest.fixture
def namespace():
    name = "ndt-kill-" + uuid.uuid4().hex[:6]
    run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def live_value(namespace):
    return int(run("ip", "netns", "exec", namespace, "cat", "/proc/sys/" + KEY).stdout)


def file_value(config):
    path = config / "etc/sysctl.d/90-netdiag-conntrack.conf"
    if not path.exists():
        return None
    values = [line.split("=")[1].strip() for line in path.read_text().splitlines() if "tcp_timeout_established" in line]
    return int(values[-1])


def temporaries(config):
    return sorted(name for name in os.listdir(config / "etc/sysctl.d") if name.endswith(".tmp"))


def module_command(tmp_path, config, value):
    arguments = tmp_path / ("args-%s.json" % uuid.uuid4().hex)
    arguments.write_text(
        json.dumps(
            {
                "ANSIBLE_MODULE_ARGS": {
                    "settings": {"tcp_timeout_established": value},
                    "config_root": str(config),
                    "kernel_root": "/",
                }
            }
        )
    )
    return [sys.executable, "-m", MODULE, str(arguments)], str(arguments)


def environment():
    return dict(os.environ, PYTHONPATH=str(REPO / ".ansible" / "collections"))


def processes_with(marker):
    """Pids whose command line holds `marker` (the module and any process it forked: same command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_until_gone(marker, timeout=30):
    deadline = time.monotonic() + timeout
    while processes_with(marker):
        assert time.monotonic() < deadline, "a process of the killed run is still there after %d s" % timeout
        time.sleep(0.02)


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.005)


def traced_child(tracer):
    """The pid strace started (the module process)."""
    with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as handle:
        children = handle.read().split()
    return int(children[0]) if children else None


@needs_root
@pytest.mark.skipif(not os.path.exists("/usr/bin/strace"), reason="needs strace to pause the module at the rename")
@pytest.mark.parametrize("where", ["delay_enter", "delay_exit"])
def test_sigkill_during_the_write_leaves_no_temporary_and_file_and_live_agree(tmp_path, namespace, where):
    config = tmp_path / "config"
    (config / "etc/sysctl.d").mkdir(parents=True)
    assert live_value(namespace) == DEFAULT
    for value in (1200, 1300):  # a new file, then a file replaced
        before_file, before_live = file_value(config), live_value(namespace)
        command, marker = module_command(tmp_path, config, value)
        tracer = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                "strace",
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                "trace=rename,renameat,renameat2",
                "-e",
                "inject=rename,renameat,renameat2:%s=2000000" % where,  # 2 s at the rename
                *command,
            ],
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            if where == "delay_enter":
                # The temporary file is written and the rename is held: the middle of the write.
                wait_for(lambda: temporaries(config))
            else:
                # The managed file holds the new value, no live value is written yet.
                wait_for(lambda expected=value: file_value(config) == expected)
                assert live_value(namespace) == before_live
            module = traced_child(tracer)
            assert module is not None
            os.kill(module, signal.SIGKILL)
        finally:
            tracer.communicate(timeout=60)
        wait_until_gone(marker)
        assert temporaries(config) == []
        # The transaction was finished by the writer the module forked: both new.
        assert (file_value(config), live_value(namespace)) == (value, value), (before_file, before_live)


@needs_root
def test_sigkill_at_random_moments_never_leaves_the_file_and_live_values_apart(tmp_path, namespace):
    config = tmp_path / "config"
    (config / "etc/sysctl.d").mkdir(parents=True)
    generator = random.Random(21)
    # How long a run takes here, to kill within it.
    command, marker = module_command(tmp_path, config, 1100)
    started = time.monotonic()
    completed = subprocess.run(
        ["ip", "netns", "exec", namespace, *command], env=environment(), capture_output=True, text=True, check=False
    )
    duration = time.monotonic() - started
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(completed.stdout)["changed"] is True
    outcomes = {"killed before the write": 0, "both new": 0}
    for trial in range(30):
        value = 1200 + trial
        before = (file_value(config), live_value(namespace))
        command, marker = module_command(tmp_path, config, value)
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *command],
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(generator.uniform(0.5, 1.1) * duration)  # most of a run is Python starting: aim late
        process.send_signal(signal.SIGKILL)  # ip netns exec execs the interpreter: this is the module process
        process.wait(timeout=30)
        wait_until_gone(marker)
        assert temporaries(config) == [], trial
        after = (file_value(config), live_value(namespace))
        assert after in (before, (value, value)), (trial, before, after)
        outcomes["both new" if after == (value, value) else "killed before the write"] += 1
    # Whatever the split, each trial ended in one of the two states; print it for the record.
    print(outcomes)
