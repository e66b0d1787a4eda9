# SPDX-License-Identifier: GPL-3.0-or-later
"""Attribute fragments shared by the netdiag.tcp modules (private to this collection).

Modules extend V(netdiag.tcp.attributes) for the descriptions, then state their own support levels; fact modules
extend V(netdiag.tcp.attributes.facts), which also fixes the support levels every read-only fact module shares;
action-only modules that run on the controller extend V(netdiag.tcp.attributes.controller) and state check_mode.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    PLATFORM = r"""
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    # Action-only modules that run on the controller: no diff, any platform; each states its check_mode support.
    CONTROLLER = r"""
options: {}
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on
      the controller.
    support: full
  diff_mode:
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
    details: Runs on the controller.
"""

    # Fact modules: read-only, everything under ansible_facts.netdiag, merged by their action plugin.
    FACTS = r"""
options: {}
attributes:
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details: The module never changes anything.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on
      the controller.
    support: full
    details: The action plugin merges the returned sections into the host's existing C(ansible_facts.netdiag).
"""
