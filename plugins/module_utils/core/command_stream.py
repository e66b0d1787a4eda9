# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command and read its standard output as a stream.

AnsibleModule.run_command returns only after it has collected the whole output in memory. A conntrack table listed
by `conntrack -L` can have millions of lines, and the fact modules promise memory that does not grow with the table,
so they read such output while the command still writes it. The argument list is run without a shell; standard
error goes to a temporary file so that neither pipe can fill up and block the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


def run_with_timeout(argv, timeout, environment=None):
    """(returncode, stdout, stderr, timed_out) of a short command, killed after ``timeout`` seconds."""
    with StreamedCommand(argv, environment, timeout) as command:
        stdout = command.stdout.read()
    return command.returncode, stdout, command.stderr, command.timed_out


class CommandDeadline:
    """A time limit for a command run by AnsibleModule.run_command, which has none of its own.

    Pass ``arm`` as run_command's ``before_communicate_callback`` (it receives the Popen object before the output
    is read) and call ``disarm()`` once run_command returns. A command still running after ``timeout`` seconds is
    killed; run_command then returns what it read so far and a negative return code, and ``timed_out`` is True.
    A ``timeout`` of None or 0 sets no limit.
    """

    def __init__(self, timeout):
        self.timeout = timeout
        self.timed_out = False
        self._timer = None

    def arm(self, process):
        if not self.timeout:
            return

        def expire():
            if process.poll() is not None:
                return  # it ended in time; its exit status stands
            self.timed_out = True
            with contextlib.suppress(OSError):  # it ended in the meantime
                process.kill()

        self._timer = threading.Timer(self.timeout, expire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self):
        if self._timer is not None:
            self._timer.cancel()


class StreamedCommand:
    """`with StreamedCommand(argv) as command: for line in command.stdout: ...`; then returncode and stderr.

    Leaving the block early (an exception, or fail_json's SystemExit) kills the command. With ``timeout`` (seconds)
    a timer kills a command that runs longer (a hung conntrack, a wedged kernel table): its output then ends early,
    ``timed_out`` is True and the caller reports that instead of a result.
    """

    def __init__(self, argv, environment=None, timeout=None):
        self.argv = list(argv)
        self.environment = dict(os.environ, **(environment if environment is not None else C_LOCALE))
        self.timeout = timeout
        self.timed_out = False
        self.process = None
        self.stdout = None
        self.returncode = None
        self.stderr = ""
        self._errors = None
        self._timer = None

    def __enter__(self):
        self._errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            stdin=subprocess.DEVNULL,
            env=self.environment,
            universal_newlines=True,
            errors="replace",
        )
        self.stdout = self.process.stdout
        if self.timeout is not None:
            self._timer = threading.Timer(self.timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _expire(self):
        if self.process.poll() is None:
            self.timed_out = True
            self.process.kill()

    def __exit__(self, exception_type, exception, traceback):
        try:
            if self._timer is not None:
                self._timer.cancel()
            if exception_type is not None:
                self.process.kill()
            self.stdout.close()
            self.returncode = self.process.wait()
            self._errors.seek(0)
            self.stderr = self._errors.read().decode("utf-8", "replace").strip()
        finally:
            self._errors.close()
        return False
