# SPDX-License-Identifier: GPL-3.0-or-later
"""netdiag.tcp.raw_facts: the fact sections of a host without Python, read with raw commands, parsed here.

``uname -s`` picks the platform's gatherer (plugin_utils/textfacts/raw_commands.py), which runs only read-only
commands through the connection (as ansible.builtin.raw does, become included) and builds the sections with the
same parsers and socket_records summary as the fact modules. The sections replace ansible_facts.netdiag, as
audit_facts' do (the audit's facts are all of one run).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.raw_commands import (
    DEFAULT_MAX_BYTES,
    GATHERERS,
    Runner,
)


def _int_list(name, value):
    try:
        return [int(item) for item in value or []]
    except (TypeError, ValueError):
        raise AnsibleActionFail("%s: %r is not a list of port numbers" % (name, value)) from None


def _str_list(name, value):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleActionFail("%s: %r is not a list" % (name, value))
    return [to_text(item) for item in value]


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(
        (
            "ports",
            "states",
            "peers",
            "max_connections",
            "owners",
            "conntrack",
            "slabinfo",
            "top",
            "tuples",
            "max_tuples",
            "nat_tuples",
            "max_nat_tuples",
            "max_bytes",
        )
    )

    def _transport(self, command, data=None):
        # Standard input as bytes: the local connection hands it to Popen.communicate, which takes nothing else
        # (kdb's input as text failed with "memoryview: a bytes-like object is required"). Output bytes that are
        # not UTF-8 (a process name set with prctl, \xff\xfe) become U+FFFD here, as module mode's JSON does,
        # instead of surrogates that no strict encoder (the JSON report) accepts.
        outcome = self._low_level_execute_command(
            command,
            sudoable=True,
            in_data=None if data is None else to_bytes(data, errors="surrogate_or_strict"),
            encoding_errors="replace",
        )
        return (
            outcome.get("rc"),
            to_text(outcome.get("stdout", ""), errors="replace"),
            to_text(outcome.get("stderr", ""), errors="replace"),
        )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        arguments = self._task.args
        selection = {
            "ports": _int_list("ports", arguments.get("ports")),
            "states": _str_list("states", arguments.get("states")),
            "peers": _str_list("peers", arguments.get("peers")),
        }
        try:
            max_connections = int(arguments.get("max_connections", 1000))
            top = int(arguments.get("top", 10))
            max_tuples = int(arguments.get("max_tuples", 200000))
            max_nat_tuples = int(arguments.get("max_nat_tuples", 200000))
            max_bytes = int(arguments.get("max_bytes", DEFAULT_MAX_BYTES))
        except (TypeError, ValueError) as error:
            raise AnsibleActionFail("max_connections/top/max_tuples: %s" % error) from None
        if max_connections < 0:
            raise AnsibleActionFail("max_connections: %d is negative; use 0 for counts only" % max_connections)
        if max_bytes < 1:
            raise AnsibleActionFail("max_bytes: %d; give a number of bytes >= 1" % max_bytes)
        if max_tuples < 0 or max_nat_tuples < 0:
            raise AnsibleActionFail(
                "max_tuples/max_nat_tuples: %d/%d; give numbers >= 0" % (max_tuples, max_nat_tuples)
            )
        # Options are checked by Selection before anything runs on the host (bad CIDR, unknown state).
        try:
            Selection(**selection)
        except ValueError as error:
            raise AnsibleActionFail("raw_facts: %s" % error) from None

        run = Runner(self._transport, max_bytes)
        rc, stdout, stderr = run("uname -s")
        system = stdout.strip()
        if rc != 0 or not system:
            raise AnsibleActionFail("raw_facts: uname -s failed (rc %s): %s" % (rc, stderr.strip() or stdout.strip()))
        gatherer = GATHERERS.get(system)
        if gatherer is None:
            raise AnsibleActionFail(
                "raw_facts: platform %s is not supported (supported: %s)" % (system, ", ".join(sorted(GATHERERS)))
            )
        sections, errors = gatherer(
            run,
            selection,
            max_connections,
            owners=bool(arguments.get("owners", True)),
            conntrack=bool(arguments.get("conntrack", True)),
            slabinfo=bool(arguments.get("slabinfo", True)),
            top=top,
            tuples=bool(arguments.get("tuples", False)),
            max_tuples=max_tuples,
            nat_tuples=bool(arguments.get("nat_tuples", False)),
            max_nat_tuples=max_nat_tuples,
        )
        errors = run.notes + errors
        result.update(
            changed=False,
            # The audit's facts are all of one run (as audit_facts'): they replace ansible_facts.netdiag, so that a
            # fact cache's sections of an earlier run are never mixed with this run's.
            ansible_facts={"netdiag": sections},
            platform=system,
            commands=run.commands,
            errors=errors,
        )
        # A task that fails loses its facts (Ansible sets facts of successful results only): so the task fails only
        # when nothing at all was read; a lost socket table is in errors, and the other sections stay.
        if not any(isinstance(section, dict) and section.get("available", True) for section in sections.values()):
            result["failed"] = True
            result["msg"] = "raw_facts: nothing could be read: %s" % "; ".join(errors)
        return result
