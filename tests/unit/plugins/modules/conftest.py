# SPDX-License-Identifier: GPL-3.0-or-later
"""The module test harness shared by the tests in this directory.

AnsibleModule.exit_json/fail_json are replaced (for every test here) by functions that raise ModuleExitError
carrying the result, and the `call_main` fixture runs a module's main() with given arguments and returns that
ModuleExitError (.result is the dict the module returned, .failed tells fail_json from exit_json).
"""

from __future__ import annotations

import contextlib
import json

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19 (make test-oldest): the way module tests passed arguments then

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


class ModuleExitError(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


@pytest.fixture(autouse=True)
def capture_exit(monkeypatch):
    def exit_json(self, **result):
        raise ModuleExitError(result, failed=False)

    def fail_json(self, msg, **result):
        result["msg"] = msg
        raise ModuleExitError(result, failed=True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def _call_main(main, args):
    """Run a module's main() with module arguments `args`; return the ModuleExitError its exit raised."""
    with patch_module_args(args), pytest.raises(ModuleExitError) as raised:
        main()
    return raised.value


@pytest.fixture
def call_main():
    return _call_main
