# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack `peers`: an entry is selected when its original source OR its original destination is a peer.

The lines are built here in /proc/net/nf_conntrack's format (not captured); the expected summaries are written out
by hand, not computed by the code under test. Each entry matches the filter on one side only, so a reader that
looked at the source alone (or the destination alone) gives a different answer.
"""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack

TABLE = (
    # client 203.0.113.7 -> server 198.51.100.20:5555: only the destination is in 198.51.100.0/24
    "ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.7 dst=198.51.100.20 sport=40001 dport=5555 "
    "src=198.51.100.20 dst=203.0.113.7 sport=5555 dport=40001 [ASSURED] mark=0 zone=0 use=2\n"
    # client 198.51.100.30 -> server 192.0.2.1:443: only the source is in 198.51.100.0/24
    "ipv4     2 tcp      6 431998 ESTABLISHED src=198.51.100.30 dst=192.0.2.1 sport=40002 dport=443 "
    "src=192.0.2.1 dst=198.51.100.30 sport=443 dport=40002 [ASSURED] mark=0 zone=0 use=2\n"
    # neither end in 198.51.100.0/24; the reply direction's addresses must not count either
    "ipv4     2 tcp      6 431997 ESTABLISHED src=203.0.113.8 dst=192.0.2.2 sport=40003 dport=5555 "
    "src=192.0.2.2 dst=203.0.113.8 sport=5555 dport=40003 [ASSURED] mark=0 zone=0 use=2\n"
)


def selected(summary):
    return {key: summary[key] for key in ("entries_parsed", "entries_selected", "top_sources", "top_destinations")}


@pytest.mark.parametrize(
    ("peers", "ports", "expected"),
    [
        (
            ["198.51.100.20"],
            None,
            {
                "entries_parsed": 3,
                "entries_selected": 1,
                "top_sources": [{"address": "203.0.113.7", "count": 1}],
                "top_destinations": [{"address": "198.51.100.20", "port": 5555, "count": 1}],
            },
        ),
        (
            ["198.51.100.0/24"],
            None,
            {
                "entries_parsed": 3,
                "entries_selected": 2,
                "top_sources": [{"address": "198.51.100.30", "count": 1}, {"address": "203.0.113.7", "count": 1}],
                "top_destinations": [
                    {"address": "192.0.2.1", "port": 443, "count": 1},
                    {"address": "198.51.100.20", "port": 5555, "count": 1},
                ],
            },
        ),
        (
            ["198.51.100.0/24"],
            [5555],
            {
                "entries_parsed": 3,
                "entries_selected": 1,
                "top_sources": [{"address": "203.0.113.7", "count": 1}],
                "top_destinations": [{"address": "198.51.100.20", "port": 5555, "count": 1}],
            },
        ),
        (
            ["2001:db8::/32"],
            None,
            {"entries_parsed": 3, "entries_selected": 0, "top_sources": [], "top_destinations": []},
        ),
    ],
)
def test_peer_matches_on_either_original_end(peers, ports, expected):
    assert selected(linux_conntrack.parse(TABLE, peers=peers, ports=ports)) == expected
    # The per-line path (used for lines the fast pattern does not cover) gives the same.
    assert selected(linux_conntrack.summarize(TABLE.splitlines(True), peers=peers, ports=ports)) == expected
