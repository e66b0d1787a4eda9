# SPDX-License-Identifier: GPL-3.0-or-later
"""The socket selection options of the modules that read text on the controller (raw_facts, read_captures).

They select as M(netdiag.tcp.netstat_facts) does, and also restrict the conntrack entries to the ports.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  ports:
    description: Only sockets and conntrack entries with one of these ports (as in M(netdiag.tcp.netstat_facts)).
    type: list
    elements: int
    default: []
  states:
    description: Only TCP sockets in one of these states.
    type: list
    elements: str
    default: []
  peers:
    description: Only sockets whose remote address is one of these addresses or lies in one of these networks.
    type: list
    elements: str
    default: []
"""
