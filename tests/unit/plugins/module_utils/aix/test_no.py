# SPDX-License-Identifier: GPL-3.0-or-later
"""aix_no on a real `no -a` (Snapper spec, see tests/unit/fixtures/SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError


def test_full_no_a(fixture_text):
    tunables = aix_no.parse(fixture_text("aix/no-a-1.txt"))["tunables"]
    assert len(tunables) == 145
    assert tunables["tcp_keepidle"] == 14400
    assert tunables["tcp_keepintvl"] == 150
    assert tunables["tcp_keepinit"] == 150
    assert tunables["tcp_keepcnt"] == 8
    assert tunables["tcp_finwait2"] == 1200
    assert tunables["somaxconn"] == 1024
    assert tunables["arpqsize"] == 1024
    assert tunables["delayackports"] == "{}"
    assert tunables["ndd_event_name"] == "{all}"
    assert tunables["net_malloc_frag_mask"] == "{512:2048}"
    assert tunables["ie5_old_multicast_mapping"] == 0


def test_single_tunable_and_comment_lines():
    text = "##Restricted tunables\n      tcp_keepidle = 7200\n  some_negative = -1\n"
    assert aix_no.parse(text) == {"tunables": {"tcp_keepidle": 7200, "some_negative": -1}}


@pytest.mark.parametrize(
    ("text", "line_number"),
    [("tcp_keepidle = 14400\nno: 0402-053 Usage\n", 2), ("\n\n", 1), ("= 5\n", 1)],
)
def test_garbage_names_the_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        aix_no.parse(text)
    assert caught.value.format_name == "aix_no"
    assert caught.value.line_number == line_number
