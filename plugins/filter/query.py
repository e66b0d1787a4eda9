# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.query filter: a JMESPath expression over the audit report (or any data)."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.query import QueryError, compile_query, run_query


def query(data, expression=None):
    """The expression's result on data; with data null, only check that the expression compiles (returns null)."""
    try:
        if data is None:
            compile_query(expression)
            return None
        # Ansible 2.19 hands filters its own (tagged, lazy) container types, which JMESPath's functions do not
        # recognise as objects and arrays (keys(), length(), sort_by() would refuse them): query plain data.
        return run_query(json.loads(json.dumps(data, default=to_text)), expression)
    except QueryError as error:
        raise AnsibleFilterError("netdiag.tcp.query: %s" % error) from None


class FilterModule:
    def filters(self):
        return {"query": query}
