# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of every netdiag.tcp fact module: merge its sections into the host's ansible_facts.netdiag.

Ansible merges module facts one level deep (``host_facts |= facts``), so a second fact module would replace
``ansible_facts.netdiag`` written by the first. The action plugins named after the fact modules run the module and
return the union of the sections already known for the host and the new ones, so ``netstat_facts`` followed by
``conntrack_facts`` leaves ``netdiag.netstat`` and ``netdiag.conntrack`` side by side (docs/facts_schema.md).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class MergeNetdiagFactsAction(ActionBase):
    """Runs the module of the same name and merges ansible_facts.netdiag one level deeper than Ansible does.

    REPLACES: the module returns the whole audit (audit_facts): its sections replace ansible_facts.netdiag instead,
    so that no section of an earlier run (a fact cache keeps them between runs) is mixed with this run's."""

    _supports_check_mode = True
    _supports_async = False
    REPLACES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        result.update(self._execute_module(module_name=self._task.action, task_vars=task_vars))
        new_sections = result.get("ansible_facts", {}).get("netdiag")
        if isinstance(new_sections, dict) and not self.REPLACES:
            known = task_vars.get("ansible_facts", {}).get("netdiag")
            merged = dict(known) if isinstance(known, dict) else {}
            merged.update(new_sections)
            result["ansible_facts"]["netdiag"] = merged
        return result
