# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command and read its standard output as a stream.

AnsibleModule.run_command returns only after it has collected the whole output in memory. A conntrack table listed
by `conntrack -L` can have millions of lines, and the fact modules promise memory that does not grow with the table,
so they read such output while the command still writes it. The argument list is run without a shell; standard
error goes to a temporary file so that neither pipe can fill up and block the command.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


class StreamedCommand:
    """`with StreamedCommand(argv) as command: for line in command.stdout: ...`; then returncode and stderr.

    Leaving the block early (an exception, or fail_json's SystemExit) kills the command.
    """

    def __init__(self, argv, environment=None):
        self.argv = list(argv)
        self.environment = dict(os.environ, **(environment if environment is not None else C_LOCALE))
        self.process = None
        self.stdout = None
        self.returncode = None
        self.stderr = ""
        self._errors = None

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
        return self

    def __exit__(self, exception_type, exception, traceback):
        try:
            if exception_type is not None:
                self.process.kill()
            self.stdout.close()
            self.returncode = self.process.wait()
            self._errors.seek(0)
            self.stderr = self._errors.read().decode("utf-8", "replace").strip()
        finally:
            self._errors.close()
        return False
