# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection


def test_empty_selection_selects_everything():
    selection = Selection()
    assert selection.selects_all
    assert selection.port_selected(None, None)
    assert selection.state_selected(None)
    assert selection.peer_selected("*")


def test_ports_match_either_end_and_accept_numeric_strings():
    selection = Selection(ports=["5555", 80])
    assert selection.ports == {5555, 80}
    assert selection.port_selected(40000, 5555)
    assert not selection.port_selected(40000, 5556)
    assert not selection.port_selected(None, None)


def test_states_are_normalised():
    selection = Selection(states=["established", "close-wait"])
    assert selection.states == {"ESTABLISHED", "CLOSE_WAIT"}
    assert selection.state_selected("CLOSE_WAIT")
    assert not selection.state_selected("TIME_WAIT")
    assert not selection.state_selected(None)


def test_peers_accept_addresses_and_networks_of_both_families():
    selection = Selection(peers=["198.51.100.0/28", "2001:db8::1", "::ffff:203.0.113.0/120"])
    assert selection.peer_selected("198.51.100.15")
    assert not selection.peer_selected("198.51.100.16")
    assert selection.peer_selected("2001:db8::1")
    assert selection.peer_selected("203.0.113.9")  # IPv4-mapped network matches the IPv4 peer it stands for
    assert not selection.peer_selected("*", "not-an-address")
    assert selection.peer_selected("10.9.9.9", "198.51.100.1")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ports": [0]}, "ports: 0 is not a port number (1-65535)"),
        ({"ports": [65536]}, "ports: 65536 is not a port number (1-65535)"),
        ({"ports": ["http"]}, "ports: 'http' is not a port number (1-65535)"),
        ({"ports": ["1.5"]}, "ports: '1.5' is not a port number (1-65535)"),
        ({"ports": [True]}, "ports: True is not a port number (1-65535)"),
        ({"states": ["ESTABLISHED;rm"]}, "states: 'ESTABLISHED;rm' is not a TCP state name"),
        ({"peers": ["198.51.100.300"]}, "peers: '198.51.100.300' is not an IP address or CIDR network"),
    ],
)
def test_bad_options_fail_with_the_option_and_value(options, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Selection(**options)
