# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw mode and offline analysis give the NAT's translated entries as conntrack_facts' nat_tuples option does."""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux.conntrack_nat import nat_tuples
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts import linux


def test_conntrack_section_adds_nat_tuples_when_asked(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-snat-1.txt")
    values = {"net.netfilter.nf_conntrack_max": 262144, "net.netfilter.nf_conntrack_count": 2}
    facts = linux.conntrack_section(
        values, text, "/proc/net/nf_conntrack", selection=Selection(ports=[5555]), nat_tuples=True
    )
    assert facts["nat_tuples"] == nat_tuples(text, ports=[5555])
    assert facts["nat_tuples"]["count"] == 2
    assert (
        linux.conntrack_section(
            values, text, "/proc/net/nf_conntrack", selection=Selection(ports=[22]), nat_tuples=True
        )["nat_tuples"]["count"]
        == 0
    )
    assert "nat_tuples" not in linux.conntrack_section(values, text, "/proc/net/nf_conntrack")
