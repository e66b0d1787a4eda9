# SPDX-License-Identifier: GPL-3.0-or-later
"""prefetch: reading ahead in a helper thread (sock_diag datagrams) and in a forked child (/proc text tables), on
real files, pipes and processes: content, order, errors, early stops and the fallback without fork."""

from __future__ import annotations

import errno
import os
import sys
import threading

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils import prefetch


def no_child_left():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_prefetched_gives_every_item_in_order_and_restores_the_switch_interval():
    interval = sys.getswitchinterval()
    items = [index.to_bytes(2, "big") * 50 for index in range(300)]  # more than the queue holds
    assert list(prefetch.prefetched(iter(items), 4)) == items
    assert sys.getswitchinterval() == interval


def test_prefetched_raises_the_readers_error_in_the_callers_thread():
    def failing_midway():
        yield b"first"
        raise OSError(errno.EPERM, "Operation not permitted")

    received = []
    with pytest.raises(OSError, match="Operation not permitted"):
        for item in prefetch.prefetched(failing_midway(), 8):
            received.append(item)
    assert received == [b"first"]


def test_a_caller_that_stops_early_stops_the_helper_thread():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield b"x"

    interval = sys.getswitchinterval()
    reading = prefetch.prefetched(endless(), 2, name="netdiag-test-prefetch")
    assert next(reading) == b"x"
    reading.close()
    assert sys.getswitchinterval() == interval
    helpers = [thread for thread in threading.enumerate() if thread.name == "netdiag-test-prefetch"]
    for helper in helpers:
        helper.join(timeout=5)
    assert not any(helper.is_alive() for helper in helpers)
    assert len(produced) < 10  # bounded by the queue, not an endless read


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "table"
    path.write_bytes(
        b"".join(b"ipv4 2 tcp 6 %d ESTABLISHED src=198.51.100.%d\n" % (index, index % 250) for index in range(60000))
    )
    return path


def test_file_read_ahead_gives_the_whole_file_in_pieces_and_reaps_its_child(big_file):
    pieces = list(prefetch.file_read_ahead(str(big_file), 1 << 16))
    assert b"".join(pieces) == big_file.read_bytes()
    assert len(pieces) > 1 and max(map(len, pieces)) <= 1 << 16
    no_child_left()


def test_file_read_ahead_reads_a_proc_file_like_open():
    with open("/proc/self/limits", "rb") as handle:  # unchanged between the two reads, and a seq file
        expected = handle.read()
    assert b"".join(prefetch.file_read_ahead("/proc/self/limits", 1 << 20)) == expected
    no_child_left()


def test_file_read_ahead_raises_before_forking_when_the_file_cannot_be_opened(tmp_path, monkeypatch):
    def must_not_fork():
        raise AssertionError("forked for a file that cannot be opened")

    monkeypatch.setattr(prefetch.os, "fork", must_not_fork)
    with pytest.raises(FileNotFoundError):
        list(prefetch.file_read_ahead(str(tmp_path / "missing"), 1024))


def test_a_read_error_in_the_child_is_raised_in_the_caller(tmp_path):
    with pytest.raises(OSError) as raised:
        list(prefetch.file_read_ahead(str(tmp_path), 1024))  # a directory opens, and read() fails: EISDIR
    assert raised.value.errno == errno.EISDIR
    assert raised.value.filename == str(tmp_path)
    no_child_left()


def test_a_caller_that_stops_early_ends_and_reaps_the_child(big_file):
    reading = prefetch.file_read_ahead(str(big_file), 4096)
    assert next(reading)
    reading.close()
    no_child_left()


def test_without_fork_the_file_is_read_in_this_process(big_file, monkeypatch):
    def refused():
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(prefetch.os, "fork", refused)
    assert b"".join(prefetch.file_read_ahead(str(big_file), 1 << 16)) == big_file.read_bytes()
