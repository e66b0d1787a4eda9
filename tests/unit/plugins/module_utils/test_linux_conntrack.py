# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack: entries and table summaries from real /proc/net/nf_conntrack, ip_conntrack and conntrack -L."""

from __future__ import annotations

import io

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils import linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.parse_error import ParseError

# The table captured on this machine (see SOURCES.md): 8 entries from 198.51.100.2 / 2001:db8::2 to the server.
CAPTURED_SUMMARY = {
    "entries_parsed": 8,
    "entries_selected": 8,
    "truncated_lines": 0,
    "state_counts": {"ESTABLISHED": 4, "SYN_RECV": 1, "SYN_SENT": 1},
    "protocol_counts": {"icmp": 1, "tcp": 6, "udp": 1},
    "unreplied": 2,
    "assured": 4,
    "top_sources": [{"address": "198.51.100.2", "count": 7}, {"address": "2001:db8::2", "count": 1}],
    "top_destinations": [
        {"address": "198.51.100.1", "port": 5555, "count": 2},
        {"address": "198.51.100.1", "port": None, "count": 1},
        {"address": "198.51.100.1", "port": 5353, "count": 1},
        {"address": "198.51.100.1", "port": 5557, "count": 1},
        {"address": "198.51.100.1", "port": 5558, "count": 1},
        {"address": "198.51.100.1", "port": 5559, "count": 1},
        {"address": "2001:db8::1", "port": 5555, "count": 1},
    ],
}


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "linux/proc-net-nf_conntrack-1.txt",
            {
                "entries_parsed": 1,
                "entries_selected": 1,
                "truncated_lines": 0,
                "state_counts": {"ESTABLISHED": 1},
                "protocol_counts": {"tcp": 1},
                "unreplied": 0,
                "assured": 1,
                "top_sources": [{"address": "2001:db8:ffff:21::2", "count": 1}],
                "top_destinations": [{"address": "2001:db8:ffff:22::1", "port": 10001, "count": 1}],
            },
        ),
        (
            # dd-wrt, legacy layout, 4-space indented, one destination redacted by the author (kept as text).
            "linux/proc-net-ip_conntrack-1.txt",
            {
                "entries_parsed": 6,
                "entries_selected": 6,
                "truncated_lines": 0,
                "state_counts": {"ESTABLISHED": 1},
                "protocol_counts": {"tcp": 1, "udp": 5},
                "unreplied": 3,
                "assured": 3,
                "top_sources": [
                    {"address": "192.168.3.163", "count": 4},
                    {"address": "192.168.3.183", "count": 1},
                    {"address": "192.168.3.24", "count": 1},
                ],
                "top_destinations": [
                    {"address": "192.168.3.1", "port": 22, "count": 1},
                    {"address": "192.168.3.255", "port": 137, "count": 1},
                    {"address": "192.168.3.255", "port": 17500, "count": 1},
                    {"address": "255.255.255.255", "port": 17500, "count": 1},
                    {"address": "83.140.21.66", "port": 8099, "count": 1},
                    {"address": "VPN.PROVIDER.I.P", "port": 443, "count": 1},
                ],
            },
        ),
        (
            # VyOS conntrack -L with [OFFLOAD] entries (no timeout) and the summary line, which is not an entry.
            "linux/conntrack-L-1.txt",
            {
                "entries_parsed": 6,
                "entries_selected": 6,
                "truncated_lines": 0,
                "state_counts": {"ESTABLISHED": 3, "TIME_WAIT": 1},
                "protocol_counts": {"tcp": 4, "udp": 2},
                "unreplied": 0,
                "assured": 4,
                "top_sources": [
                    {"address": "100.64.0.5", "count": 4},
                    {"address": "10.0.0.1", "count": 1},
                    {"address": "100.64.0.1", "count": 1},
                ],
                "top_destinations": [
                    {"address": "10.0.0.254", "port": 179, "count": 1},
                    {"address": "162.159.61.4", "port": 443, "count": 1},
                    {"address": "185.125.190.97", "port": 80, "count": 1},
                    {"address": "34.107.243.93", "port": 443, "count": 1},
                    {"address": "34.206.168.146", "port": 123, "count": 1},
                    {"address": "8.8.8.8", "port": 53, "count": 1},
                ],
            },
        ),
        ("linux/proc-net-nf_conntrack-2.txt", CAPTURED_SUMMARY),
        ("linux/conntrack-L-2.txt", CAPTURED_SUMMARY),
        ("linux/conntrack-L-extended-1.txt", CAPTURED_SUMMARY),
    ],
)
def test_parse_real_tables(fixture_text, fixture, expected):
    assert linux_conntrack.parse(fixture_text(fixture)) == expected


def test_summary_line_from_stderr_is_not_an_entry(fixture_text):
    text = fixture_text("linux/conntrack-L-2.txt") + fixture_text("linux/conntrack-L-2.stderr.txt")
    assert linux_conntrack.parse(text) == CAPTURED_SUMMARY
    assert linux_conntrack.parse_entry(fixture_text("linux/conntrack-L-2.stderr.txt")) is None


def test_entry_ipv6_expanded_with_accounting_and_delta_time(fixture_text):
    line = fixture_text("linux/proc-net-nf_conntrack-2.txt").splitlines()[0]
    assert linux_conntrack.parse_entry(line) == {
        "l3proto": "ipv6",
        "l3protonum": 10,
        "protocol": "tcp",
        "protonum": 6,
        "timeout": 431998,
        "state": "ESTABLISHED",
        "original": {
            "src": "2001:db8::2",
            "dst": "2001:db8::1",
            "sport": 36772,
            "dport": 5555,
            "packets": 2,
            "bytes": 152,
        },
        "reply": {"src": "2001:db8::1", "dst": "2001:db8::2", "sport": 5555, "dport": 36772, "packets": 1, "bytes": 80},
        "flags": ["ASSURED"],
        "mark": 0,
        "zone": 0,
        "delta_time": 1,
        "use": 2,
        "unreplied": False,
        "assured": True,
        "offload": False,
    }


def test_entry_zone_and_unreplied_syn_sent(fixture_text):
    entry = linux_conntrack.parse_entry(fixture_text("linux/proc-net-nf_conntrack-2.txt").splitlines()[2])
    assert (entry["state"], entry["timeout"], entry["zone"], entry["mark"]) == ("SYN_SENT", 118, 7, 0)
    assert entry["flags"] == ["UNREPLIED"]
    assert (entry["unreplied"], entry["assured"]) == (True, False)


def test_entry_mark(fixture_text):
    entry = linux_conntrack.parse_entry(fixture_text("linux/proc-net-nf_conntrack-2.txt").splitlines()[1])
    assert entry["mark"] == 42
    assert entry["original"]["dport"] == 5559


def test_entry_icmp_has_no_ports(fixture_text):
    entry = linux_conntrack.parse_entry(fixture_text("linux/proc-net-nf_conntrack-2.txt").splitlines()[4])
    assert entry["protocol"] == "icmp"
    assert entry["state"] is None
    assert entry["original"] == {
        "src": "198.51.100.2",
        "dst": "198.51.100.1",
        "type": 8,
        "code": 0,
        "id": 4660,
        "packets": 1,
        "bytes": 36,
    }


def test_entry_offload_without_timeout(fixture_text):
    entry = linux_conntrack.parse_entry(fixture_text("linux/conntrack-L-1.txt").splitlines()[1])
    assert (entry["protocol"], entry["timeout"], entry["state"], entry["offload"]) == ("udp", None, None, True)
    assert entry["reply"]["dst"] == "192.168.122.222"


def test_entry_leading_whitespace(fixture_text):
    line = fixture_text("linux/proc-net-ip_conntrack-1.txt").splitlines()[5]
    assert line.startswith("    tcp")
    entry = linux_conntrack.parse_entry(line)
    assert (entry["l3proto"], entry["protocol"], entry["timeout"], entry["state"]) == (None, "tcp", 3600, "ESTABLISHED")


# Synthetic lines for what the captures above do not show; built from the kernel's ct_seq_show format.
SYNTHETIC_SECCTX = (
    "ipv4     2 tcp      6 299 ESTABLISHED src=192.0.2.10 dst=192.0.2.20 sport=40000 dport=22 "
    "src=192.0.2.20 dst=192.0.2.10 sport=22 dport=40000 [ASSURED] mark=0 "
    "secctx=system_u:object_r:unlabeled_t:s0 zone=0 use=2"
)
SYNTHETIC_HW_OFFLOAD = (
    "ipv4     2 tcp      6 ESTABLISHED src=192.0.2.10 dst=198.51.100.7 sport=40001 dport=443 "
    "src=198.51.100.7 dst=192.0.2.10 sport=443 dport=40001 [HW_OFFLOAD] mark=0 zone=0 use=3"
)
SYNTHETIC_DIRECTIONAL_ZONES = (
    "ipv4     2 udp      17 29 src=192.0.2.10 dst=192.0.2.53 sport=5000 dport=53 zone-orig=1 "
    "src=192.0.2.53 dst=192.0.2.10 sport=53 dport=5000 zone-reply=2 mark=0 use=2"
)
SYNTHETIC_LABELS = (
    "tcp      6 86399 ESTABLISHED src=192.0.2.10 dst=192.0.2.20 sport=40002 dport=80 "
    "src=192.0.2.20 dst=192.0.2.10 sport=80 dport=40002 [ASSURED] mark=0 use=1 labels=0x3"
)


def test_entry_secctx():
    entry = linux_conntrack.parse_entry(SYNTHETIC_SECCTX)
    assert entry["secctx"] == "system_u:object_r:unlabeled_t:s0"
    assert (entry["zone"], entry["use"]) == (0, 2)


def test_entry_hw_offload_without_timeout():
    entry = linux_conntrack.parse_entry(SYNTHETIC_HW_OFFLOAD)
    assert (entry["timeout"], entry["state"], entry["offload"], entry["assured"]) == (None, "ESTABLISHED", True, False)


def test_entry_directional_zones():
    entry = linux_conntrack.parse_entry(SYNTHETIC_DIRECTIONAL_ZONES)
    assert entry["original"]["zone-orig"] == 1
    assert entry["reply"]["zone-reply"] == 2


def test_entry_labels():
    assert linux_conntrack.parse_entry(SYNTHETIC_LABELS)["labels"] == "0x3"


def test_truncated_last_line_is_counted_not_fatal(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-2.txt")
    lines = text.splitlines(True)
    cut = "".join(lines[:-1]) + lines[-1][:70]  # the last line stops mid-tuple, without its newline
    summary = linux_conntrack.parse(cut)
    assert summary["truncated_lines"] == 1
    assert summary["entries_parsed"] == 7
    assert summary["state_counts"] == {"ESTABLISHED": 4, "SYN_SENT": 1}


def test_truncated_last_line_from_a_stream(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-2.txt")
    stream = io.StringIO(text[: text.rindex("src=") + 2])
    summary = linux_conntrack.summarize(stream)
    assert (summary["entries_parsed"], summary["truncated_lines"]) == (7, 1)


def test_bad_line_with_newline_is_an_error(fixture_text):
    text = fixture_text("linux/proc-net-nf_conntrack-2.txt")
    lines = text.splitlines(True)
    broken = "".join(lines[:3]) + "this is not conntrack\n" + "".join(lines[3:])
    with pytest.raises(ParseError) as raised:
        linux_conntrack.parse(broken)
    assert raised.value.line_number == 4
    assert raised.value.line == "this is not conntrack\n"
    assert "linux_conntrack: line 4" in str(raised.value)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2\n", "no reply tuple"),
        ("tcp 6 10 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=x dport=2 src=192.0.2.2 dst=192.0.2.1\n", "sport"),
        ("tcp 6 10 ESTABLISHED src=a dst=b src=c dst=d src=e dst=f\n", "more than two tuples"),
        ("tcp six 10 ESTABLISHED src=a dst=b src=c dst=d\n", "protocol name and number"),
        ("tcp 6 10 ESTABLISHED src=a dst=b oops src=c dst=d\n", "unexpected token"),
    ],
)
def test_garbage_raises_parse_error(line, reason):
    with pytest.raises(ParseError) as raised:
        linux_conntrack.parse("\n" + line)
    assert raised.value.line_number == 2
    assert reason in raised.value.reason


def test_blank_lines_are_skipped(fixture_text):
    text = "\n" + fixture_text("linux/proc-net-nf_conntrack-2.txt").replace("\n", "\n\n")
    assert linux_conntrack.parse(text) == CAPTURED_SUMMARY


@pytest.mark.parametrize(
    ("options", "selected", "state_counts", "sources"),
    [
        ({"ports": [5555]}, 3, {"ESTABLISHED": 3}, [("198.51.100.2", 2), ("2001:db8::2", 1)]),
        ({"states": ["ESTABLISHED"]}, 4, {"ESTABLISHED": 4}, [("198.51.100.2", 3), ("2001:db8::2", 1)]),
        ({"states": ["SYN_RECEIVED"]}, 1, {"SYN_RECV": 1}, [("198.51.100.2", 1)]),
        ({"peers": ["2001:db8::/64"]}, 1, {"ESTABLISHED": 1}, [("2001:db8::2", 1)]),
        (
            {"peers": ["198.51.100.0/24"]},
            7,
            {"ESTABLISHED": 3, "SYN_RECV": 1, "SYN_SENT": 1},
            [("198.51.100.2", 7)],
        ),
        ({"ports": [5558, 5559], "states": ["established"]}, 1, {"ESTABLISHED": 1}, [("198.51.100.2", 1)]),
        # ports match the original sport too: 36772 is the IPv6 client's source port.
        ({"ports": [36772]}, 1, {"ESTABLISHED": 1}, [("2001:db8::2", 1)]),
    ],
)
def test_filters(fixture_text, options, selected, state_counts, sources):
    summary = linux_conntrack.parse(fixture_text("linux/proc-net-nf_conntrack-2.txt"), **options)
    assert summary["entries_parsed"] == 8
    assert summary["entries_selected"] == selected
    assert summary["state_counts"] == state_counts
    assert [(item["address"], item["count"]) for item in summary["top_sources"]] == sources


def test_states_filter_leaves_out_stateless_entries(fixture_text):
    summary = linux_conntrack.parse(fixture_text("linux/proc-net-nf_conntrack-2.txt"), states=["ESTABLISHED"])
    assert summary["protocol_counts"] == {"tcp": 4}


def test_top_limits_lists(fixture_text):
    summary = linux_conntrack.parse(fixture_text("linux/proc-net-nf_conntrack-2.txt"), top=1)
    assert summary["top_sources"] == [{"address": "198.51.100.2", "count": 7}]
    assert summary["top_destinations"] == [{"address": "198.51.100.1", "port": 5555, "count": 2}]


@pytest.mark.parametrize("top", [-1, True, "5"])
def test_bad_top(top):
    with pytest.raises(ValueError, match="top"):
        linux_conntrack.parse("", top=top)


def test_bad_filter_is_a_value_error():
    with pytest.raises(ValueError, match="peers"):
        linux_conntrack.parse("", peers=["not-a-network"])


def test_empty_table():
    assert linux_conntrack.parse("") == {
        "entries_parsed": 0,
        "entries_selected": 0,
        "truncated_lines": 0,
        "state_counts": {},
        "protocol_counts": {},
        "unreplied": 0,
        "assured": 0,
        "top_sources": [],
        "top_destinations": [],
    }


def test_address_canonical_forms():
    assert linux_conntrack.canonical_address("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1"
    assert linux_conntrack.canonical_address("VPN.PROVIDER.I.P") == "VPN.PROVIDER.I.P"
    assert linux_conntrack.canonical_address("FE80:0000:0000:0000:0000:0000:0000:00AB") == "fe80::ab"
    assert linux_conntrack.canonical_address("192.0.2.1") == "192.0.2.1"
