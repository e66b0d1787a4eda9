# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs netdiag.tcp.audit_facts, merging its sections into ansible_facts.netdiag (plugin_utils/merge_facts.py)."""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.merge_facts import MergeNetdiagFactsAction


class ActionModule(MergeNetdiagFactsAction):
    pass
