# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_conntrack: entries and table summaries from real /proc/net/nf_conntrack, ip_conntrack and conntrack -L."""

from __future__ import annotations

import io
import random

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack

# The table captured on this machine (see SOURCES.md): 8 entries from 198.51.100.2 / 2001:db8::2 to the server.
CAPTURED_SUMMARY = {
    "entries_parsed": 8,
    "entries_selected": 8,
    "truncated_lines": 0,
    "top_sources_max_error": 0,
    "top_destinations_max_error": 0,
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
                "top_sources_max_error": 0,
                "top_destinations_max_error": 0,
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
                "top_sources_max_error": 0,
                "top_destinations_max_error": 0,
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
                "top_sources_max_error": 0,
                "top_destinations_max_error": 0,
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
        "top_sources_max_error": 0,
        "top_destinations_max_error": 0,
        "state_counts": {},
        "protocol_counts": {},
        "unreplied": 0,
        "assured": 0,
        "top_sources": [],
        "top_destinations": [],
    }


def test_address_canonical_forms():
    assert linux_conntrack.packet_address("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1"
    assert linux_conntrack.packet_address("VPN.PROVIDER.I.P") == "VPN.PROVIDER.I.P"
    assert linux_conntrack.packet_address("FE80:0000:0000:0000:0000:0000:0000:00AB") == "fe80::ab"
    assert linux_conntrack.packet_address("192.0.2.1") == "192.0.2.1"


# --- the chunk fast path against the line-by-line reading -------------------------------------------------------

TABLE_FIXTURES = [
    "linux/proc-net-nf_conntrack-1.txt",
    "linux/proc-net-nf_conntrack-2.txt",
    "linux/proc-net-ip_conntrack-1.txt",
    "linux/conntrack-L-1.txt",
    "linux/conntrack-L-2.txt",
    "linux/conntrack-L-extended-1.txt",
]
FILTERS = [
    {},
    {"ports": [5555]},
    {"ports": [443, 53]},
    {"states": ["ESTABLISHED", "SYN_RECEIVED"]},
    {"peers": ["198.51.100.0/24"]},
    {"peers": ["2001:db8::/32"], "ports": [5555]},
    {"top": 2},
]


def line_by_line(lines, top=10, ports=None, states=None, peers=None):
    """The reference: TableSummary.consume, one add_line per line."""
    selection = linux_conntrack.Selection(ports=ports, states=states, peers=peers)
    return linux_conntrack.TableSummary(top=top, selection=selection).consume(lines).result()


@pytest.fixture
def no_fallback(monkeypatch):
    """Fails a test when a chunk is read line by line instead of with the pattern."""

    def fail(self, lines, line_number):
        raise AssertionError("chunk at line %d was read line by line: %r" % (line_number + 1, lines[:3]))

    monkeypatch.setattr(linux_conntrack.TableSummary, "_add_lines", fail)


@pytest.mark.parametrize("fixture", TABLE_FIXTURES)
@pytest.mark.parametrize("options", FILTERS)
def test_real_tables_take_the_fast_path_and_agree(fixture_text, fixture, options, monkeypatch):
    text = fixture_text(fixture)
    expected = line_by_line(text.splitlines(True), **options)
    with monkeypatch.context() as patch:
        patch.setattr(
            linux_conntrack.TableSummary, "_add_lines", lambda *args: pytest.fail("read line by line: %r" % (args,))
        )
        assert linux_conntrack.parse(text, **options) == expected
        stream = io.BytesIO(text.encode())
        assert linux_conntrack.summarize(stream, **options) == expected


def test_summary_line_takes_the_fast_path(fixture_text, no_fallback):
    text = fixture_text("linux/conntrack-L-2.txt") + fixture_text("linux/conntrack-L-2.stderr.txt")
    assert linux_conntrack.parse(text) == CAPTURED_SUMMARY


def test_lines_the_pattern_does_not_cover_are_read_line_by_line(fixture_text):
    """secctx with a colon is covered; labels= and an [OFFLOAD] line between tuples are not: same result."""
    text = "\n".join([SYNTHETIC_SECCTX, SYNTHETIC_LABELS, SYNTHETIC_HW_OFFLOAD, SYNTHETIC_DIRECTIONAL_ZONES]) + "\n"
    assert linux_conntrack.parse(text) == line_by_line(text.splitlines(True))
    assert linux_conntrack.parse(text)["entries_parsed"] == 4


# Synthetic table lines in every layout the readers meet, and odd ones; the generator mixes them at random.
def _address(rng, version):
    if version == 4:
        return rng.choice(("198.51.100.%d", "203.0.113.%d", "100.64.0.%d")) % rng.randrange(1, 6)
    groups = [0x2001, 0xDB8, 0, 0, 0, 0, 0, rng.randrange(1, 6)]
    return ":".join("%04x" % group for group in groups)  # fully expanded, as the kernel prints it


def _synthetic_line(rng):
    version = rng.choice((4, 4, 4, 6))
    source, destination = _address(rng, version), _address(rng, version)
    protocol = rng.choice(("tcp", "tcp", "udp", "icmp", "unknown"))
    number = {"tcp": 6, "udp": 17, "icmp": 1, "unknown": 47}[protocol]
    state = rng.choice(("ESTABLISHED", "TIME_WAIT", "SYN_SENT", "SYN_RECV", "CLOSE")) if protocol == "tcp" else None
    sport, dport = rng.randrange(1, 65536), rng.choice((22, 53, 443, 5555))
    if protocol == "icmp":
        original, reply = "type=8 code=0 id=%d" % sport, "type=0 code=0 id=%d" % sport
    elif protocol == "unknown":
        original = reply = ""
    else:
        original, reply = "sport=%d dport=%d" % (sport, dport), "sport=%d dport=%d" % (dport, sport)
    accounting = rng.random() < 0.3
    unreplied = state == "SYN_SENT" or (protocol == "udp" and rng.random() < 0.3)
    parts = []
    layout = rng.choice(("nf_conntrack", "ip_conntrack", "conntrack-L", "extended"))
    if layout in ("nf_conntrack", "extended"):
        parts.append("ipv%d     %d" % (version, 2 if version == 4 else 10))
    parts.append("%-8s %d" % (protocol, number))
    if rng.random() < 0.95:
        parts.append(str(rng.randrange(1, 432000)))
    if state:
        parts.append(state)
    parts += ["src=%s dst=%s" % (source, destination), original]
    if rng.random() < 0.1:
        parts.append("zone-orig=%d" % rng.randrange(3))
    if accounting:
        parts.append("packets=%d bytes=%d" % (rng.randrange(100), rng.randrange(10000)))
    if unreplied:
        parts.append("[UNREPLIED]")
    parts += ["src=%s dst=%s" % (destination, source), reply]
    if accounting:
        parts.append("packets=%d bytes=%d" % (rng.randrange(100), rng.randrange(10000)))
    if not unreplied and rng.random() < 0.8:
        parts.append(rng.choice(("[ASSURED]", "[ASSURED]", "[OFFLOAD]", "[HW_OFFLOAD]")))
    parts.append("mark=%d" % rng.choice((0, 0, 42)))
    if rng.random() < 0.1:
        parts.append("secctx=system_u:object_r:unlabeled_t:s0")
    if layout == "nf_conntrack" or rng.random() < 0.2:
        parts.append("zone=%d" % rng.choice((0, 0, 7)))
    if rng.random() < 0.3:
        parts.append("delta-time=%d" % rng.randrange(100))
    parts.append("use=%d" % rng.randrange(1, 4))
    if rng.random() < 0.03:
        parts.append("labels=0x3")  # not in the pattern: its chunk is read line by line
    line = " ".join(part for part in parts if part)
    if layout == "ip_conntrack" and rng.random() < 0.2:
        line = "    " + line
    return line + rng.choice(("\n",) * 20 + (" \n",))


ODD_LINES = [
    "\n",
    "   \n",
    "conntrack v1.4.7 (conntrack-tools): 12 flow entries have been shown.\n",
    "ipv4     2 tcp      6 10 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 "
    "src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 [ASSURED] mark=0 use=1 [start=Mon Jan  1 00:00:00 2024]\n",
    "ipv4     2 tcp      6 10 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 packets=1 "
    "src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 mark=0 use=1\n",
    "tcp      6 10 ESTABLISHED src=198.51.100.1  dst=198.51.100.2 sport=1 dport=2 "
    "src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 mark=0 use=1\n",
    "ipv4     2 gre      47 179 src=198.51.100.1 dst=198.51.100.2 srckey=0x0 dstkey=0x0 "
    "src=198.51.100.2 dst=198.51.100.1 srckey=0x0 dstkey=0x0 mark=0 use=1\n",
    "tcp\t6 10 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 "
    "src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 mark=0 use=1\n",
    "udp      17 10 src=198.51.100.1 dst=198.51.100.2 sport=0053 dport=0443 "
    "src=198.51.100.2 dst=198.51.100.1 sport=0443 dport=0053 mark=0 use=1\n",
    "udp      17 10 src=VPN.PROVIDER.I.P dst=198.51.100.2 sport=1 dport=2 src=198.51.100.2 dst=10.0.0.1 sport=2 "
    "dport=1 [ASSURED] mark=0 use=1\n",
    "tcp      6 10 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=1 dport=2 "
    "src=198.51.100.2 dst=198.51.100.1 sport=2 dport=1 mark=0 use=1\r\n",
]
GARBAGE_LINES = [
    "this is not conntrack\n",
    "tcp 6 10 ESTABLISHED src=a dst=b src=c dst=d src=e dst=f\n",
    "tcp 6 10 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=x dport=2 src=192.0.2.2 dst=192.0.2.1\n",
]


def _synthetic_table(seed, lines=400, odd=True):
    rng = random.Random(seed)
    table = [_synthetic_line(rng) for _line in range(lines)]
    if odd:
        for _odd in range(lines // 50):
            table.insert(rng.randrange(len(table) + 1), rng.choice(ODD_LINES))
    return table


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("chunk_size", [64, 997, linux_conntrack.CHUNK_SIZE])
def test_random_tables_agree_with_line_by_line(monkeypatch, outcome, seed, chunk_size):
    monkeypatch.setattr(linux_conntrack, "CHUNK_SIZE", chunk_size)
    rng = random.Random(seed)
    table = _synthetic_table(seed)
    if seed % 3 == 0:
        table.insert(rng.randrange(len(table)), rng.choice(GARBAGE_LINES))
    if seed % 4 == 1:
        table[-1] = table[-1][: rng.randrange(1, len(table[-1]) - 1)]  # read while it changed: cut short
    text = "".join(table)
    options = FILTERS[seed % len(FILTERS)]
    expected = outcome(line_by_line, text.splitlines(True), **options)
    assert outcome(linux_conntrack.parse, text, **options) == expected
    # A file read in binary (the module) and the same bytes through a text-mode reader, line by line.
    as_text_file = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", errors="replace")
    expected_from_file = outcome(line_by_line, as_text_file, **options)
    assert outcome(linux_conntrack.summarize, io.BytesIO(text.encode()), **options) == expected_from_file
    # A text stream (conntrack -L through a pipe in text mode).
    assert outcome(linux_conntrack.summarize, io.StringIO(text), **options) == expected_from_file
    if seed % 3 == 0:
        assert expected[0] == "ParseError"
    else:
        assert expected["entries_parsed"] > 300


@pytest.mark.parametrize("seed", range(4))
def test_random_clean_tables_take_the_fast_path(seed, no_fallback):
    text = "".join(_synthetic_table(seed, odd=False)).replace(" labels=0x3", "")
    assert linux_conntrack.parse(text)["entries_parsed"] == 400
    assert linux_conntrack.summarize(io.BytesIO(text.encode()))["entries_parsed"] == 400


def test_binary_stream_reads_like_a_text_file(fixture_text, monkeypatch):
    """Bytes that are not UTF-8, CR LF and a lone CR: decoded and split as open(..., errors="replace") does."""
    monkeypatch.setattr(linux_conntrack, "CHUNK_SIZE", 128)
    lines = fixture_text("linux/proc-net-nf_conntrack-2.txt").encode().splitlines(True)
    lines[1] = lines[1].replace(b"mark=42", b"secctx=caf\xe9 mark=42")
    lines[3] = lines[3].replace(b"\n", b"\r\n")
    data = b"".join(lines) + b"\r" + b"".join(lines[4:6])
    expected = line_by_line(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace"))
    assert expected["entries_parsed"] == 10
    assert linux_conntrack.summarize(io.BytesIO(data)) == expected


def test_bad_line_in_a_later_chunk_names_its_line(fixture_text, monkeypatch):
    monkeypatch.setattr(linux_conntrack, "CHUNK_SIZE", 300)
    lines = fixture_text("linux/proc-net-nf_conntrack-2.txt").splitlines(True) * 5
    lines.insert(33, "this is not conntrack\n")
    with pytest.raises(ParseError) as raised:
        linux_conntrack.summarize(io.BytesIO("".join(lines).encode()))
    assert (raised.value.line_number, raised.value.line) == (34, "this is not conntrack\n")


def test_ports_filter_reads_leading_zeros_like_int():
    line = (
        "udp      17 10 src=198.51.100.1 dst=198.51.100.2 sport=%s dport=53 src=198.51.100.2 dst=198.51.100.1 "
        "sport=53 dport=1 mark=0 use=1\n"
    )
    text = line % "0443" + line % "4430" + line % "443"
    assert linux_conntrack.parse(text, ports=[443])["entries_selected"] == 2
    assert linux_conntrack.parse(text, ports=[443]) == line_by_line(text.splitlines(True), ports=[443])
