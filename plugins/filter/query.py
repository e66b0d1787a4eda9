# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.query filter: a JMESPath expression over the audit report (or any data)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.query import QueryError, compile_query, run_query


def query(data, expression=None):
    """The expression's result on data; with data null, only check that the expression compiles (returns null)."""
    try:
        if data is None:
            compile_query(expression)
            return None
        return run_query(data, expression)
    except QueryError as error:
        raise AnsibleFilterError("netdiag.tcp.query: %s" % error) from None


class FilterModule:
    def filters(self):
        return {"query": query}
