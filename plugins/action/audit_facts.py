# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs netdiag.tcp.audit_facts; its sections replace ansible_facts.netdiag (plugin_utils/merge_facts.py).

The audit's facts are all of one run: with a fact cache (playbooks/gather.yml), a section this run could not read
must not be filled in from an earlier run.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.merge_facts import MergeNetdiagFactsAction


class ActionModule(MergeNetdiagFactsAction):
    REPLACES = True
