# SPDX-License-Identifier: GPL-3.0-or-later
"""netdiag.tcp.read_captures: read a folder of captured command output (one folder per host) on the controller and
return, per host, what netdiag.tcp.audit_report builds the report from (plugin_utils/textfacts/capture_dir.py)."""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.capture_dir import (
    DEFAULT_MAX_BYTES,
    read_capture_dir,
)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(("capture_dir", "ports", "peers", "states", "max_connections", "top", "max_bytes"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        arguments = self._task.args
        capture_dir = arguments.get("capture_dir")
        if not capture_dir or not isinstance(capture_dir, str):
            raise AnsibleActionFail("capture_dir: give the folder of captures (-e capture_dir=DIR)")
        capture_dir = os.path.abspath(os.path.expanduser(capture_dir))
        selection = {}
        for name in ("ports", "peers", "states"):
            value = arguments.get(name) or []
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise AnsibleActionFail("%s: %r is not a list" % (name, value))
            selection[name] = [int(item) if name == "ports" else to_text(item) for item in value]
        try:
            Selection(**selection)
            max_connections = int(arguments.get("max_connections", 1000))
            top = int(arguments.get("top", 10))
            max_bytes = int(arguments.get("max_bytes", DEFAULT_MAX_BYTES))
            if max_bytes < 1:
                raise ValueError("max_bytes: %d; give a number of bytes >= 1" % max_bytes)
            gathered = read_capture_dir(capture_dir, selection, max_connections, top, max_bytes)
        except (TypeError, ValueError) as error:
            raise AnsibleActionFail("read_captures: %s" % error) from None
        # Plain JSON data: Ansible 2.19 hands it on to the next task as it is.
        result.update(changed=False, capture_dir=capture_dir, hosts=json.loads(json.dumps(gathered)))
        return result
