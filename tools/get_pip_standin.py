# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the get-pip script ansible-test downloads (its host is unreachable from CI).

ansible-test runs `python get_pip.py <pip requirement args>` to put pip into the virtual environments it creates.
This installs pip from the wheel that ensurepip bundles with the running Python, then installs what was asked for
(the requested pip version) from the configured package index.
"""

from __future__ import annotations

import ensurepip
import glob
import os
import subprocess
import sys

bundled = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
if not bundled:
    sys.exit("get_pip stand-in: this Python has no bundled pip wheel under ensurepip/_bundled")
quiet = ["--quiet", "--disable-pip-version-check"]
subprocess.check_call([sys.executable, bundled[0] + "/pip", "install", *quiet, bundled[0]])
requested = [argument for argument in sys.argv[1:] if not argument.startswith("-")]
if requested:
    subprocess.call([sys.executable, "-m", "pip", "install", *quiet, *requested])
