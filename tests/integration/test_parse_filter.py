# SPDX-License-Identifier: GPL-3.0-or-later
"""The parse filter through real Ansible templating, by its fully qualified name."""

from __future__ import annotations

from conftest import template


def test_filter_parses_a_file_lookup():
    result = template(
        "lookup('ansible.builtin.file', 'tests/unit/fixtures/linux/conntrack-L-1.txt')"
        " | netdiag.tcp.parse('linux_conntrack', top=1)"
    )
    assert result["msg"]["top_sources"] == [{"address": "100.64.0.5", "count": 4}]


def test_filter_error_reaches_the_user():
    result = template("'garbage line' | netdiag.tcp.parse('linux_slabinfo')")
    assert result.get("failed") is True
    assert "netdiag.tcp.parse(linux_slabinfo): line 1 not recognised" in result["msg"]
