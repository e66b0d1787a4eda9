# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_ndd on a real `ndd -get /dev/tcp tcp_keepalive_interval` (see tests/unit/fixtures/SOURCES.md)."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ndd as sunos_ndd


def test_single_value(fixture_text):
    text = fixture_text("sunos/ndd-keepalive-1.txt")
    assert sunos_ndd.parse(text) == {"name": None, "value": 7200000}
    assert sunos_ndd.parse(text, name="tcp_keepalive_interval") == {"name": "tcp_keepalive_interval", "value": 7200000}


def test_list_value():
    # tcp_extra_priv_ports prints one port per line (synthetic text).
    assert sunos_ndd.parse("2049\n4045\n", name="tcp_extra_priv_ports")["value"] == [2049, 4045]


@pytest.mark.parametrize(
    ("text", "line_number"),
    [("operation failed: Invalid argument\n", 1), ("\n", 1), ("7200000\ntcp_time_wait_interval (read and write)\n", 2)],
)
def test_garbage_names_the_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        sunos_ndd.parse(text)
    assert caught.value.format_name == "sunos_ndd"
    assert caught.value.line_number == line_number
