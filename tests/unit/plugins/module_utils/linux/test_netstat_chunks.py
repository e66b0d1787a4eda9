# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_netstat.parse() reads big texts a chunk at a time (TextReader); it must give what the per-line parser gives.

The reference is the per-line path: iter_records() over the lines (split on newlines only, as parse() reads them)
into summarize(), with the listening ports of all LISTEN rows known first. Both must give equal dictionaries, or the
same ParseError (line number, line, reason), on seeded random netstat texts that mix the rows the chunk pattern
counts with every kind of line it must leave to the per-line parser, at chunk sizes small enough that every kind of
line lands in a chunk of its own and in chunks with counted rows.
"""

from __future__ import annotations

import random

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import summarize
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat

HEADER = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n"
)
PROGRAM_HEADER = "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\n"
TIMER_HEADER = "Proto Recv-Q Send-Q Local Address           Foreign Address         State       Timer\n"
USER_HEADER = "Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode\n"
UNIX_SECTION = (
    "Active UNIX domain sockets (servers and established)\n"
    "Proto RefCnt Flags       Type       State         I-Node   Path\n"
    "unix  2      [ ACC ]     STREAM     LISTENING     20433    /run/x.sock\n"
)
LISTEN_PORTS = (22, 5555, 8080)
STATES = ("ESTABLISHED",) * 6 + ("TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "FIN_WAIT1", "LAST_ACK", "CLOSE", "UNKNOWN")
OPTIONS = [
    {"max_connections": 0},
    {"max_connections": 5},
    {"max_connections": 5, "states": ["ESTABLISHED", "TIME_WAIT"]},
    {"max_connections": 3, "peers": ["100.64.0.0/12", "2001:db8::/32"]},
    {"max_connections": 2, "ports": [5555]},
    {"max_connections": None},
    {},
]


def reference(text, ports=None, states=None, peers=None, max_connections=None):
    lines = list(linux_netstat.iter_lines(text))
    listening = {
        record.local_port
        for record in linux_netstat.iter_records(lines)
        if record.protocol == "tcp" and record.state == "LISTEN"
    }
    return summarize(
        linux_netstat.iter_records(lines),
        selection=Selection(ports, states, peers),
        max_connections=max_connections,
        listening_ports=listening,
    )


def row(protocol, local, remote, state, extra=""):
    return "%-5s      0      0 %-23s %-23s %-11s%s" % (protocol, local, remote, state, extra)


def clean_row(generator):
    """A row of the kinds the chunk pattern counts: TCP, not LISTEN, addresses as netstat prints them."""
    state = generator.choice(STATES)
    client = "100.%d.%d.%d" % (generator.randrange(64, 128), generator.randrange(256), generator.randrange(1, 255))
    ephemeral = generator.randrange(32768, 61000)
    kind = generator.random()
    if kind < 0.55:  # inbound to a listening port
        return row("tcp", "203.0.113.5:%d" % generator.choice(LISTEN_PORTS), "%s:%d" % (client, ephemeral), state)
    if kind < 0.85:  # outbound to a service
        service = "198.51.100.%d:%d" % (generator.randrange(1, 30), generator.choice((443, 3306, 5555, 0)))
        return row("tcp", "203.0.113.5:%d" % ephemeral, service, state)
    if kind < 0.93:  # dual-stack socket, IPv4-mapped peer
        return row(
            "tcp6", "::ffff:203.0.113.5:%d" % generator.choice(LISTEN_PORTS), "::ffff:%s:%d" % (client, 9), state
        )
    peer = "2001:db8:1::%x:%d" % (generator.randrange(1, 40), generator.randrange(32768, 61000))
    return row("tcp6", "2001:db8::5:%d" % generator.choice(LISTEN_PORTS), peer, state)


# Lines the chunk pattern must leave to the per-line parser (or that end the fast path's context); the ones marked
# bad make the per-line parser raise.
ODD_LINES = [
    ("blank", ""),
    ("spaces", "    "),
    ("listen", row("tcp", "0.0.0.0:5555", "0.0.0.0:*", "LISTEN")),
    ("listen-6", row("tcp6", ":::22", ":::*", "LISTEN")),
    ("udp", row("udp", "0.0.0.0:68", "0.0.0.0:*", "")),
    ("udp-connected", row("udp", "203.0.113.5:40000", "198.51.100.1:53", "ESTABLISHED")),
    ("leading-zero-port", row("tcp", "203.0.113.5:05555", "100.64.0.1:40000", "ESTABLISHED")),
    ("port-zero", row("tcp", "203.0.113.5:0", "100.64.0.1:0", "ESTABLISHED")),
    ("tab", row("tcp", "203.0.113.5:22", "100.64.0.1:40000", "ESTABLISHED").replace(" 0 ", "\t0 ", 1)),
    ("crlf", row("tcp", "203.0.113.5:22", "100.64.0.1:40001", "ESTABLISHED") + "\r"),
    ("trailing-columns", row("tcp", "203.0.113.5:22", "100.64.0.1:40002", "ESTABLISHED", " 42/app extra")),
    ("cut-ipv6", row("tcp6", "2001:db8:aaaa:bbbb:cccc:22", "2001:db8:aaaa:bbbb:dddd:40000", "ESTABLISHED")),
    ("two-colons-v4", row("tcp", "203.0.113.5:7:22", "100.64.0.1:40003", "ESTABLISHED")),
    ("scoped", row("tcp6", "fe80::1%eth0:22", "fe80::2%eth0:40000", "ESTABLISHED")),
    ("unix-section", UNIX_SECTION.rstrip("\n")),
    ("back-to-inet", HEADER.rstrip("\n")),
    ("program-header", PROGRAM_HEADER.rstrip("\n")),
    ("timer-header", TIMER_HEADER.rstrip("\n")),
    ("user-header", USER_HEADER.rstrip("\n")),
    ("bad-state", row("tcp", "203.0.113.5:22", "100.64.0.1:40004", "ESTABLISHEDX")),
    ("bad-v4-octet", row("tcp", "203.0.113.5:22", "256.64.0.1:40005", "ESTABLISHED")),
    ("bad-v4-leading-zero", row("tcp", "203.0.113.05:22", "100.64.0.1:40006", "ESTABLISHED")),
    ("bad-v4-remote-outbound", row("tcp", "203.0.113.5:40007", "100.64.0.1.9:443", "ESTABLISHED")),
    ("bad-queue", row("tcp", "203.0.113.5:22", "100.64.0.1:40008", "ESTABLISHED").replace(" 0 ", " x ", 1)),
    ("garbage", "this is not netstat"),
]
BAD = {"bad-state", "bad-v4-octet", "bad-v4-leading-zero", "bad-v4-remote-outbound", "bad-queue", "garbage"}


def random_text(seed, rows, odd_kinds, final_newline=True):
    """A netstat -an text: listeners first, then rows with lines of the given odd kinds at random places."""
    generator = random.Random(seed)
    lines = HEADER.rstrip("\n").split("\n")
    lines += [row("tcp", "0.0.0.0:%d" % port, "0.0.0.0:*", "LISTEN") for port in LISTEN_PORTS]
    body = [clean_row(generator) for _index in range(rows)]
    odd = dict(ODD_LINES)
    for kind in odd_kinds:
        body.insert(generator.randrange(len(body) + 1), odd[kind])
    text = "\n".join(lines + body)
    return text + "\n" if final_newline else text


@pytest.fixture(params=[(97, 97), (200, 997), (1 << 16, 1 << 20)], ids=["tiny", "small", "default"])
def chunk_sizes(request, monkeypatch):
    first, most = request.param
    monkeypatch.setattr(linux_netstat, "FIRST_CHUNK_CHARACTERS", first)
    monkeypatch.setattr(linux_netstat, "CHUNK_CHARACTERS", most)
    return request.param


@pytest.mark.parametrize("options", OPTIONS, ids=lambda options: ",".join(sorted(options)) or "defaults")
@pytest.mark.parametrize("seed", range(3))
def test_clean_tables(chunk_sizes, options, seed):
    text = random_text(seed, 600, [], final_newline=seed != 1)
    assert linux_netstat.parse(text, **options) == reference(text, **options)


@pytest.mark.parametrize("kind", [kind for kind, _line in ODD_LINES])
@pytest.mark.parametrize("options", OPTIONS[:4], ids=lambda options: ",".join(sorted(options)) or "defaults")
def test_each_odd_line(chunk_sizes, outcome, kind, options):
    text = random_text(hash(kind) % 1000, 300, [kind])
    expected = outcome(reference, text, **options)
    assert outcome(linux_netstat.parse, text, **options) == expected
    if kind in BAD:
        assert expected[0] == "ParseError"  # the odd line really is one the per-line parser rejects


@pytest.mark.parametrize("seed", range(12))
def test_random_mixtures(chunk_sizes, outcome, seed):
    generator = random.Random(seed)
    kinds = [kind for kind, _line in ODD_LINES if kind not in BAD]
    odd = [generator.choice(kinds) for _index in range(generator.randrange(1, 8))]
    if seed % 3 == 0:
        odd.append(generator.choice(sorted(BAD)))
    text = random_text(seed, 400, odd, final_newline=bool(seed % 2))
    for options in OPTIONS:
        assert outcome(linux_netstat.parse, text, **options) == outcome(reference, text, **options)


def test_error_after_counted_chunks_names_the_first_bad_line(monkeypatch, outcome):
    """A bad address in a row the pattern counted is found only at the end: the text is then read by line."""
    monkeypatch.setattr(linux_netstat, "FIRST_CHUNK_CHARACTERS", 500)
    monkeypatch.setattr(linux_netstat, "CHUNK_CHARACTERS", 500)
    text = random_text(7, 200, ["bad-v4-octet", "bad-state"])
    lines = text.split("\n")
    first_bad = min(index for index, line in enumerate(lines, 1) if "256.64.0.1" in line or "ESTABLISHEDX" in line)
    with pytest.raises(ParseError) as raised:
        linux_netstat.parse(text, max_connections=0)
    assert raised.value.line_number == first_bad
    assert outcome(linux_netstat.parse, text, max_connections=0) == outcome(reference, text, max_connections=0)


def test_big_clean_table_is_counted_by_chunks(monkeypatch):
    """Past the first rows, a clean table takes the chunk path: few lines reach the per-line parser."""
    main_pass_lines = []
    per_line = linux_netstat.iter_records

    def counting(lines, *arguments, **options):
        lines = list(lines)
        if arguments:  # the main pass (TextReader gives the line number and context); the pre-scan gives none
            main_pass_lines.append(len(lines))
        return per_line(lines, *arguments, **options)

    monkeypatch.setattr(linux_netstat, "iter_records", counting)
    text = random_text(3, 20000, [])  # 2 header lines, 3 LISTEN rows, 20,000 rows of about 80 characters
    result = linux_netstat.parse(text, max_connections=10)
    assert result["total_sockets"] == 20003
    # Only the first chunk (FIRST_CHUNK_CHARACTERS, about 800 lines) is read by line; the connections are full then.
    first_chunk = text[: text.rfind("\n", 0, linux_netstat.FIRST_CHUNK_CHARACTERS) + 1]
    assert main_pass_lines == [first_chunk.count("\n")]
    monkeypatch.setattr(linux_netstat, "iter_records", per_line)
    assert result == reference(text, max_connections=10)
