# SPDX-License-Identifier: GPL-3.0-or-later
"""command_stream: streamed commands and their timeouts, on real short-lived processes."""

from __future__ import annotations

import subprocess
import sys
import time

from ansible_collections.netdiag.tcp.plugins.module_utils.core import command_stream

HANG = [sys.executable, "-c", "import sys, time; print('first', flush=True); time.sleep(30)"]


def test_a_hung_command_is_killed_at_its_timeout():
    started = time.monotonic()
    with command_stream.StreamedCommand(HANG, timeout=0.5) as command:
        lines = list(command.stdout)
    assert time.monotonic() - started < 10
    assert lines == ["first\n"]  # what it wrote before it was killed
    assert command.timed_out is True
    assert command.returncode != 0


def test_a_quick_command_is_not_marked_timed_out():
    argv = [sys.executable, "-c", "import sys; print('ok'); print('err', file=sys.stderr)"]
    returncode, stdout, stderr, timed_out = command_stream.run_with_timeout(argv, 30)
    assert (returncode, stdout, stderr, timed_out) == (0, "ok\n", "err", False)


def test_run_with_timeout_reports_the_timeout():
    returncode, stdout, _stderr, timed_out = command_stream.run_with_timeout(HANG, 0.5)
    assert timed_out is True
    assert stdout == "first\n"
    assert returncode != 0


def test_commands_run_with_the_c_locale():
    argv = [sys.executable, "-c", "import os; print(os.environ['LC_ALL'], os.environ['LANG'])"]
    assert command_stream.run_with_timeout(argv, 30)[1] == "C C\n"


def test_a_deadline_that_fires_after_the_command_ended_changes_nothing():
    """The timer may fire after the command exited but before disarm(): that is not a timeout (found in review)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    deadline = command_stream.CommandDeadline(0.01)
    deadline.arm(process)
    time.sleep(0.3)
    deadline.disarm()
    assert deadline.timed_out is False and process.returncode == 0


def test_a_deadline_kills_a_hung_command():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    deadline = command_stream.CommandDeadline(0.2)
    deadline.arm(process)
    started = time.monotonic()
    returncode = process.wait(timeout=10)
    deadline.disarm()
    assert deadline.timed_out is True and returncode == -9 and time.monotonic() - started < 5
