# SPDX-License-Identifier: GPL-3.0-or-later
"""Module code runs on managed hosts with Python 3.8 or newer (README): every module and module_utils file parses
with the Python 3.8 grammar, and where this machine has a Python 3.8 (pyenv's, or python3.8 on PATH) every
module_utils module imports in it and its new standard-library uses run there (the grammar check cannot see a
library call that 3.8 lacks)."""

from __future__ import annotations

import ast
import glob
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".ansible" / "collections"  # made by `make install`, as for the unit tests (pyproject.toml)
HOST_FILES = sorted(
    list((REPO / "plugins" / "modules").glob("*.py")) + list((REPO / "plugins" / "module_utils").rglob("*.py"))
)

SMOKE = r"""
import importlib, os, pkgutil, sys, tempfile
import ansible_collections.netdiag.tcp.plugins.module_utils as package
names = [name for _finder, name, _is_package in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
assert len(names) > 40, names
for name in names:
    importlib.import_module(name)
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import diag_modules as linux_diag_modules
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sock_diag as linux_sock_diag
from ansible_collections.netdiag.tcp.plugins.module_utils.core import prefetch
assert len(linux_sock_diag.request_both_families(linux_sock_diag.ALL_STATES)) == 76
linux_diag_modules.modules_to_load("tcp")
with tempfile.NamedTemporaryFile(delete=False) as handle:
    handle.write(b"ipv4 2 tcp 6 300 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 "
                 b"src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 [ASSURED] mark=0 use=1\n" * 5000)
summary = linux_conntrack.TableSummary().consume_chunks(prefetch.file_read_ahead(handle.name, 1 << 16)).result()
os.unlink(handle.name)
assert summary["entries_parsed"] == 5000, summary
print("%d module_utils imported and run on %s" % (len(names), sys.version.split()[0]))
"""


def python38():
    """A Python 3.8 interpreter of this machine, or None (pyenv's versions first: its python3.8 shim on PATH may
    refuse to run while another version is pyenv's global one)."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.8*/bin/python3.8")) + [shutil.which("python3.8")]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 8)":
            return candidate
    return None


@pytest.mark.parametrize("path", HOST_FILES, ids=[path.name for path in HOST_FILES])
def test_module_code_parses_with_the_python_3_8_grammar(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


def test_module_utils_import_and_run_under_python_3_8(tmp_path):
    interpreter = python38()
    if interpreter is None:
        pytest.skip("no Python 3.8 on this machine (the grammar check above still runs)")
    completed = subprocess.run(
        [interpreter, "-c", SMOKE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(REPO / ".ansible" / "collections"),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "module_utils imported and run on 3.8" in completed.stdout
