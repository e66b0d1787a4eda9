# SPDX-License-Identifier: GPL-3.0-or-later
"""The netstat text reader (linux_netstat.TextReader) on real net-tools output, against the per-line parser.

In a fresh network namespace a server on 127.0.0.1:5555 holds 600 connections from 127.0.0.2 (half of them with
SO_KEEPALIVE) and 200 from ::1 to [::1]:5556; `netstat -tan`, `-tanp` and `-tanpo` print them. Each capture is
parsed with chunks small enough that most of them go through the chunk pattern, and must give exactly what the
per-line parser gives; the `-o` capture (Timer column) must be read line by line and still agree.
"""

from __future__ import annotations

import uuid

import pytest
from conftest import CLOSING_CLIENT, HOLDING_SERVER, in_netns, needs_root, run, start_in_netns, tear_down

from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import summarize
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat


def per_line(text, **options):
    lines = list(linux_netstat.iter_lines(text))
    listening = {record.local_port for record in linux_netstat.iter_records(lines) if record.state == "LISTEN"}
    return summarize(
        linux_netstat.iter_records(lines),
        selection=Selection(options.get("ports"), options.get("states"), options.get("peers")),
        max_connections=options.get("max_connections"),
        listening_ports=listening,
    )


@pytest.fixture(scope="module")
def captures():
    """{command: its output} with the connections above open."""
    namespace = "ndt-nstext-" + uuid.uuid4().hex[:6]
    processes = []
    try:
        run("ip", "netns", "add", namespace)
        run("ip", "-n", namespace, "link", "set", "lo", "up")
        run("ip", "-n", namespace, "addr", "add", "127.0.0.2/8", "dev", "lo")
        for address, port in (("127.0.0.1", 5555), ("::1", 5556)):
            server = start_in_netns(namespace, HOLDING_SERVER, address, port)
            processes.append(server)
            assert server.stdout.readline().strip() == "listening"
        for address, port, count, keepalive in (
            ("127.0.0.1", 5555, 300, "keepalive"),
            ("127.0.0.1", 5555, 300, "-"),
            ("::1", 5556, 200, "-"),
        ):
            client = start_in_netns(namespace, CLOSING_CLIENT, address, port, count, 0, keepalive)
            processes.append(client)
            assert client.stdout.readline().strip() == "connected"
        yield {
            command: in_netns(namespace, "netstat", *command.split()).stdout for command in ("-tan", "-tanp", "-tanpo")
        }
    finally:
        tear_down(processes, [namespace])


OPTIONS = [
    {"max_connections": 5},
    {"max_connections": 0, "states": ["ESTABLISHED"]},
    {"max_connections": 3, "peers": ["::1"]},
]


@needs_root
@pytest.mark.parametrize("command", ["-tan", "-tanp", "-tanpo"])
@pytest.mark.parametrize("options", OPTIONS)
def test_real_netstat_text_read_by_chunks_equals_per_line(monkeypatch, captures, command, options):
    text = captures[command]
    assert text.count(" ESTABLISHED") >= 1600  # both ends of 800 connections
    monkeypatch.setattr(linux_netstat, "FIRST_CHUNK_CHARACTERS", 2000)
    monkeypatch.setattr(linux_netstat, "CHUNK_CHARACTERS", 4000)
    counted = []
    original = linux_netstat.TextReader._counted

    def spy(reader, chunk, lines):
        result = original(reader, chunk, lines)
        counted.append(result)
        return result

    monkeypatch.setattr(linux_netstat.TextReader, "_counted", spy)
    result = linux_netstat.parse(text, **options)
    assert result == per_line(text, **options)
    assert result["state_counts"]["ESTABLISHED"] >= (1600 if "states" in options or "peers" not in options else 400)
    if command == "-tanpo":
        assert not any(counted)  # the Timer column: every chunk is read line by line
    elif "peers" in options:
        # The first 3 sockets with peer ::1 are in the tcp6 rows, which netstat prints after the tcp ones: until
        # then the connections list is not full, and chunks are read line by line to fill it in table order.
        assert 0 < sum(counted) < len(counted)
    else:
        assert sum(counted) > len(counted) // 2  # most chunks through the pattern
