# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_pfiles on real pfiles output (see tests/unit/fixtures/SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import pfiles as sunos_pfiles


def test_full_pfiles(fixture_text):
    result = sunos_pfiles.parse(fixture_text("sunos/pfiles-1.txt"))
    assert (result["pid"], result["process"], result["command"]) == (12284, "./main", "./main")
    assert result["sockets"] == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "*",
            "local_port": 1980,
            "remote_address": "*",
            "remote_port": None,
            "state": None,
            "keepalive": True,
            "pid": 12284,
            "process": "./main",
            "fd": 3,
            "options": ["SO_REUSEADDR", "SO_KEEPALIVE", "SO_SNDBUF(49152)", "SO_RCVBUF(49152)"],
            "connected": False,
        }
    ]
    assert result["other_sockets"] == [
        {
            "fd": 0,
            "family": "AF_UNIX",
            "type": "SOCK_STREAM",
            "options": ["SO_SNDBUF(16384)", "SO_RCVBUF(5120)"],
            "pid": 12284,
        }
    ]
    assert result["processes"] == [{"pid": 12284, "process": "./main", "command": "./main", "socket_count": 1}]


def test_grep_excerpt_with_peer(fixture_text):
    result = sunos_pfiles.parse(fixture_text("sunos/pfiles-2.txt"))
    assert result["pid"] is None
    assert result["processes"] == []
    assert result["sockets"] == [
        {
            "protocol": "tcp",
            "family": "inet",
            "local_address": "172.27.10.9",
            "local_port": 22,
            "remote_address": "172.27.10.79",
            "remote_port": 38576,
            "state": None,
            "keepalive": True,
            "fd": 5,
            "options": ["SO_REUSEADDR", "SO_KEEPALIVE", "SO_SNDBUF(49152)", "SO_RCVBUF(128872)"],
            "connected": True,
        }
    ]


def test_two_processes_ipv6_listener_and_no_keepalive():
    text = (
        "101:    /usr/lib/ssh/sshd\n"
        "   4: S_IFSOCK mode:0666 dev:559,0 ino:1 uid:0 gid:0 size:0\n"
        "      O_RDWR|O_NONBLOCK\n"
        "        SOCK_STREAM\n"
        "        SO_ACCEPTCONN,SO_REUSEADDR,SO_SNDBUF(49152),SO_RCVBUF(128000)\n"
        "        sockname: AF_INET6 ::  port: 22\n"
        "202:    java -jar app.jar\n"
        "   7: S_IFSOCK mode:0666 dev:559,0 ino:2 uid:0 gid:0 size:0\n"
        "      O_RDWR\n"
        "        SOCK_STREAM\n"
        "        SO_SNDBUF(49152),SO_RCVBUF(128872)\n"
        "        sockname: AF_INET 198.51.100.1  port: 40000\n"
        "        peername: AF_INET 198.51.100.7  port: 5555\n"
        "   8: S_IFSOCK mode:0666 dev:559,0 ino:3 uid:0 gid:0 size:0\n"
        "      O_RDWR\n"
        "        SOCK_DGRAM\n"
        "        sockname: AF_INET 0.0.0.0  port: 123\n"
    )
    result = sunos_pfiles.parse(text)
    assert result["pid"] is None
    assert result["processes"] == [
        {"pid": 101, "process": "/usr/lib/ssh/sshd", "command": "/usr/lib/ssh/sshd", "socket_count": 1},
        {"pid": 202, "process": "java", "command": "java -jar app.jar", "socket_count": 2},
    ]
    summary = [
        (s["pid"], s["fd"], s["protocol"], s["family"], s["state"], s["keepalive"], s["connected"])
        for s in result["sockets"]
    ]
    assert summary == [
        (101, 4, "tcp", "inet6", "LISTEN", False, False),
        (202, 7, "tcp", "inet", None, False, True),
        (202, 8, "udp", "inet", None, None, False),
    ]


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("pfiles: cannot examine 99999: no such process\n", 1),
        ("hello world\n", 1),
        ("12284:  ./main\nnot indented\n", 2),
        ("12284:  ./main\n", 1),
        ("   3: S_IFSOCK mode:0666\n        sockname: AF_INET 999.1.1.1  port: 1\n", 2),
    ],
)
def test_garbage_names_the_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        sunos_pfiles.parse(text)
    assert caught.value.format_name == "sunos_pfiles"
    assert caught.value.line_number == line_number


def test_solaris_10_socket_with_ip_nexthop_option(fixture_text):
    # Altibase's Solaris 10 excerpt: the options line carries IP_NEXTHOP(a.b.c.d), which must not hide SO_KEEPALIVE.
    (socket,) = sunos_pfiles.parse(fixture_text("sunos/pfiles-3.txt"))["sockets"]
    assert (socket["fd"], socket["keepalive"], socket["connected"]) == (321, True, True)
    assert (socket["local_address"], socket["local_port"], socket["remote_port"]) == ("127.0.0.1", 27584, 42567)
    assert socket["options"][-1] == "IP_NEXTHOP(0.0.128.20)"
