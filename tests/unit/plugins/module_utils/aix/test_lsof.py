# SPDX-License-Identifier: GPL-3.0-or-later
"""aix_lsof on a real lsof -F capture (tests/unit/fixtures/lsof, see SOURCES.md) and synthetic edge cases."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import lsof as aix_lsof
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError


def test_real_capture(fixture_text):
    sockets = aix_lsof.parse(fixture_text("lsof/lsof-nP-iTCP-FpcLnT-1.txt"))
    assert {(s["pid"], s["process"], s["user"]) for s in sockets} == {(15803, "python3", "root")}
    assert [
        (s["local_address"], s["local_port"], s["remote_address"], s["remote_port"], s["state"]) for s in sockets
    ] == [
        ("*", 5555, "*", None, "LISTEN"),
        ("::1", 6010, "*", None, "LISTEN"),
        ("127.0.0.1", 36596, "127.0.0.1", 5555, "ESTABLISHED"),
        ("127.0.0.1", 5555, "127.0.0.1", 36596, "ESTABLISHED"),
        ("::1", 47640, "::1", 6010, "ESTABLISHED"),
        ("::1", 6010, "::1", 47640, "ESTABLISHED"),
    ]


def test_processes_and_files_keep_their_owner():
    text = "p1\ncinit\nLroot\nf5\nn*:22\np200\ncjava\nLapp\nf7\nn[::ffff:10.0.0.1]:5555->10.0.0.2:40000\nTST=SYN_RCVD\n"
    sockets = aix_lsof.parse(text)
    assert [(s["pid"], s["process"], s["user"], s["local_address"], s["state"]) for s in sockets] == [
        (1, "init", "root", "*", None),
        (200, "java", "app", "10.0.0.1", "SYN_RECEIVED"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("pabc\n", "process id is not a number"), ("p1\nnlocalhost\n", "not address:port"), ("p1\n 12\n", "lsof -F")],
)
def test_bad_lines_name_the_line(text, reason):
    with pytest.raises(ParseError, match=reason):
        aix_lsof.parse(text)
