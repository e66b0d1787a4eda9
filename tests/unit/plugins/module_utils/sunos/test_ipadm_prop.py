# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_ipadm_prop on a real Solaris 11 `ipadm show-prop -p ... tcp` (see tests/unit/fixtures/SOURCES.md)."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ipadm_prop as sunos_ipadm_prop

HEADER = "PROTO PROPERTY              PERM CURRENT      PERSISTENT   DEFAULT      POSSIBLE\n"


def test_anon_port_range(fixture_text):
    assert sunos_ipadm_prop.parse(fixture_text("sunos/ipadm-show-prop-1.txt")) == {
        "properties": {
            "tcp": {
                "smallest-anon-port": {
                    "permission": "rw",
                    "current": 32768,
                    "persistent": None,
                    "default": 32768,
                    "possible": "1024-65535",
                },
                "largest-anon-port": {
                    "permission": "rw",
                    "current": 65535,
                    "persistent": None,
                    "default": 65535,
                    "possible": "32768-65535",
                },
            }
        }
    }


def test_text_values_and_empty_column():
    text = (
        HEADER
        + "tcp   ecn                   rw   passive      --           passive      never,passive,active\n"
        + "tcp   extra_priv_ports      rw   2049,4045    --           2049,4045    1-65535\n"
        + "tcp   _time_wait_interval   rw   60000        60000        60000        1000-600000\n"
        + "tcp   sack                  rw                --           active       never,passive,active\n"
    )
    tcp = sunos_ipadm_prop.parse(text)["properties"]["tcp"]
    assert tcp["ecn"]["current"] == "passive"
    assert tcp["ecn"]["possible"] == "never,passive,active"
    assert tcp["extra_priv_ports"]["current"] == "2049,4045"
    assert tcp["_time_wait_interval"]["persistent"] == 60000
    assert tcp["sack"]["current"] is None
    assert tcp["sack"]["default"] == "active"


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("tcp   ecn   rw   passive   --   passive   never\n", 1),
        (HEADER + "tcp ecn\n", 2),
        (HEADER + "tcp   ecn                   xx   passive      --           passive      never\n", 2),
        ("", 1),
    ],
)
def test_garbage_names_the_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        sunos_ipadm_prop.parse(text)
    assert caught.value.format_name == "sunos_ipadm_prop"
    assert caught.value.line_number == line_number
