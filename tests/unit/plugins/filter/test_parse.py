# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.parse filter: real captured output in, the facts' shapes out, clear errors otherwise."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdiag.tcp.plugins.filter.parse import PARSERS, FilterModule, parse
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo


def test_filter_is_registered_as_parse():
    assert FilterModule().filters() == {"parse": parse}


def test_every_format_of_the_contract_is_wired():
    assert sorted(PARSERS) == [
        "aix_kdb_sockinfo",
        "aix_netstat",
        "aix_no",
        "aix_rmsock",
        "linux_conntrack",
        "linux_conntrack_stat",
        "linux_netstat",
        "linux_proc_net_tcp",
        "linux_slabinfo",
        "linux_ss",
        "sunos_ipadm_prop",
        "sunos_ndd",
        "sunos_netstat",
        "sunos_pfiles",
    ]


def test_netstat_capture_gives_the_netstat_shape(fixture_text):
    # netstat-na-1: one ESTABLISHED ssh session from 98.109.151.68 to port 22, which the host listens on.
    result = parse(fixture_text("linux/netstat-na-1.txt"), "linux_netstat")
    assert result["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "98.109.151.68", "count": 1, "without_keepalive": 0}
    ]
    assert result["state_counts"]["ESTABLISHED"] == 1
    assert result["state_counts"]["LISTEN"] == 7
    assert {"connections", "listeners", "truncated"} <= set(result)


def test_list_of_lines_parses_like_text(fixture_text):
    text = fixture_text("linux/netstat-na-1.txt")
    assert parse(text.splitlines(), "linux_netstat") == parse(text, "linux_netstat")


def test_options_reach_the_parser(fixture_text):
    result = parse(fixture_text("linux/netstat-na-1.txt"), "linux_netstat", ports=[5555])
    assert result["established_by_peer"] == []
    assert result["state_counts"]["LISTEN"] == 0


def test_conntrack_capture_top_talkers(fixture_text):
    # conntrack-L-1 (VyOS): 100.64.0.5 is the original source of 4 of the 6 flows.
    result = parse(fixture_text("linux/conntrack-L-1.txt"), "linux_conntrack", top=1)
    assert result["entries_parsed"] == 6
    assert result["top_sources"] == [{"address": "100.64.0.5", "count": 4}]
    assert result["state_counts"] == {"ESTABLISHED": 3, "TIME_WAIT": 1}
    assert result["assured"] == 4


def test_conntrack_stat_capture(fixture_text):
    result = parse(fixture_text("linux/conntrack-S-1.txt"), "linux_conntrack_stat")
    assert result["cpus"] == 4
    assert result["invalid"] == 112
    assert result["search_restart"] == 1


def test_slabinfo_filter_returns_every_cache_unless_names(fixture_text):
    text = fixture_text("linux/slabinfo-2.1-1.txt")
    rows = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
    result = parse(text, "linux_slabinfo")
    assert sorted(result["caches"]) == sorted(set(rows))
    assert len(result["caches"]) > 50
    assert "kmalloc-64" in result["caches"]


def test_grep_conn_slabinfo_paste_without_version_line():
    # The incident's `grep conn /proc/slabinfo` row (seed/incident-2012.txt) pasted alone.
    result = parse("ip_conntrack 3024 4090 384 409 409 1", "linux_slabinfo")
    assert result["version"] == "1.1"
    assert result["caches"]["ip_conntrack"]["active_objs"] == 3024


def test_slabinfo_capture_finds_per_namespace_conntrack_cache(fixture_text):
    result = parse(fixture_text("linux/slabinfo-2.1-1.txt"), "linux_slabinfo", names=linux_slabinfo.CONNTRACK_CACHES)
    assert result["version"] == "2.1"
    assert sorted(result["caches"]) == ["nf_conntrack_expect", "nf_conntrack_ffffffff8199a280"]
    cache = result["caches"]["nf_conntrack_ffffffff8199a280"]
    assert (cache["active_objs"], cache["num_objs"], cache["objsize"]) == (933, 1856, 280)


def test_unknown_format_names_the_known_ones():
    known = r"known formats: aix_kdb_sockinfo, aix_netstat, "
    with pytest.raises(AnsibleFilterError, match=r"unknown format 'linux_nestat'; " + known):
        parse("", "linux_nestat")


def test_seed_rmsock_loop_output_names_the_process_holding_the_sockets():
    # The 2012 incident's loop: every socket on port 5555 held by the application server process.
    text = "The socket 0x7946000 is being held by proccess 376864 (xxxx_srv).\n" * 2
    result = parse(text, "aix_rmsock")
    assert result["by_process"] == [{"pid": 376864, "process": "xxxx_srv", "count": 2}]


def test_aix_netstat_capture_is_a_socket_table(fixture_text):
    result = parse(fixture_text("aix/netstat-Aan-1.txt"), "aix_netstat")
    assert {"state_counts", "established_by_peer", "listeners", "connections"} <= set(result)
    assert all(record.get("pcb") for record in result["connections"] if record["protocol"] == "tcp")


def test_missing_format():
    with pytest.raises(AnsibleFilterError, match=r"needs a format"):
        parse("text")


def test_garbage_names_the_format_and_the_line():
    with pytest.raises(AnsibleFilterError, match=r"^netdiag.tcp.parse\(linux_conntrack\): .*line 2"):
        parse(
            "tcp      6 40 TIME_WAIT src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 src=198.51.100.2 "
            "dst=198.51.100.1 sport=2 dport=1 [ASSURED] mark=0 use=1\nthis is not conntrack\n",
            "linux_conntrack",
        )


def test_bad_option_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"^netdiag.tcp.parse\(linux_ss\): bad option"):
        parse("", "linux_ss", colour="blue")


def test_non_text_input_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"expected text or a list of lines, got dict"):
        parse({"a": 1}, "linux_ss")


def test_bad_option_value_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"bad option: ports: 'ssh' is not a port number"):
        parse("", "linux_netstat", ports=["ssh"])
