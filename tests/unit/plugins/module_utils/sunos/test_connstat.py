# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_connstat on `connstat -P -o ...` lines (synthetic: in the comma-separated form connstat(8) documents for -P;
no captured -P output is published) and its errors."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import connstat as sunos_connstat


def test_fields_are_typed():
    text = "2001:db8::1,5555,::ffff:198.51.100.7,40000,established,10,20,1,0,0,128000,10000,128000,400,350\n"
    (row,) = sunos_connstat.parse(text)
    assert row == {
        "laddr": "2001:db8::1",
        "lport": 5555,
        "raddr": "198.51.100.7",
        "rport": 40000,
        "state": "ESTABLISHED",
        "inbytes": 10,
        "outbytes": 20,
        "retranssegs": 1,
        "suna": 0,
        "unsent": 0,
        "swnd": 128000,
        "cwnd": 10000,
        "rwnd": 128000,
        "rto": 400,
        "rtt": 350,
    }


def test_the_example_table_is_not_parsable_output(fixture_text):
    # connstat-1.txt is the illumos man page's table form (no -P): it must be refused, not misread.
    with pytest.raises(ParseError) as caught:
        sunos_connstat.parse(fixture_text("sunos/connstat-1.txt"))
    assert caught.value.line_number == 1 and "comma-separated" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.1,22,10.0.0.2,5000,ESTABLISHED\n", "15 comma-separated"),
        ("10.0.0.1,22,10.0.0.2,5000,ESTABLISHED,x,2,3,4,5,6,7,8,9,10\n", "inbytes 'x' is not a count"),
        ("10.0.0.1,99999,10.0.0.2,5000,ESTABLISHED,1,2,3,4,5,6,7,8,9,10\n", "not a port"),
    ],
)
def test_bad_lines_are_named(text, reason):
    with pytest.raises(ParseError) as caught:
        sunos_connstat.parse(text)
    assert caught.value.format_name == "sunos_connstat"
    assert reason in caught.value.reason
