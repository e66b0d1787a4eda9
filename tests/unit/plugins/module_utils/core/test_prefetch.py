# SPDX-License-Identifier: GPL-3.0-or-later
"""prefetch: reading ahead in a forked child (sock_diag dumps, /proc text tables), on real pipes, processes and
files: content and order, errors raised in the caller, early stops, a child that dies, and no fork at all."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core import prefetch
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sock_diag as linux_sock_diag


def no_child_left():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_items_come_in_order_whatever_their_size():
    items = [b"", b"x"] + [index.to_bytes(2, "big") * (index * 37) for index in range(300)]  # more than the pipe
    assert list(prefetch.child_read_ahead(lambda: iter(items))) == items
    no_child_left()


def test_the_items_are_produced_in_the_child():
    parent = os.getpid()

    def pids():
        yield str(os.getpid()).encode()

    (child,) = prefetch.child_read_ahead(pids)
    assert int(child) != parent


def test_an_error_of_the_reading_is_raised_in_the_caller_with_its_type():
    def refused_midway():
        yield b"first"
        raise linux_sock_diag.SockDiagUnavailableError("sock_diag dump refused: Operation not permitted")

    received = []
    with pytest.raises(linux_sock_diag.SockDiagUnavailableError, match="Operation not permitted"):
        for item in prefetch.child_read_ahead(refused_midway):
            received.append(item)
    assert received == [b"first"]
    no_child_left()


def test_a_child_that_dies_is_an_error_not_a_short_table():
    def dying():
        yield b"first"
        os._exit(3)

    with pytest.raises(OSError, match="ended before its end frame"):
        list(prefetch.child_read_ahead(dying))
    no_child_left()


def test_a_caller_that_stops_early_ends_and_reaps_the_child():
    def endless():
        while True:
            yield b"x" * 4096

    reading = prefetch.child_read_ahead(endless)
    assert next(reading) == b"x" * 4096
    reading.close()
    no_child_left()


def test_without_fork_the_items_are_read_here(monkeypatch):
    def refused():
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(prefetch.os, "fork", refused)
    parent = os.getpid()
    assert list(prefetch.child_read_ahead(lambda: iter([str(os.getpid()).encode()]))) == [str(parent).encode()]


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "table"
    path.write_bytes(
        b"".join(b"ipv4 2 tcp 6 %d ESTABLISHED src=198.51.100.%d\n" % (index, index % 250) for index in range(60000))
    )
    return path


def test_file_read_ahead_gives_the_whole_file_in_pieces(big_file):
    pieces = list(prefetch.file_read_ahead(str(big_file), 1 << 18))
    assert b"".join(pieces) == big_file.read_bytes()
    assert len(pieces) > 1 and max(map(len, pieces)) < (1 << 18) + (1 << 16)
    no_child_left()


def test_file_read_ahead_reads_a_proc_file_like_open():
    with open("/proc/self/limits", "rb") as handle:  # unchanged between the two reads, and a seq file
        expected = handle.read()
    assert b"".join(prefetch.file_read_ahead("/proc/self/limits", 1 << 20)) == expected


def test_file_read_ahead_raises_before_forking_when_the_file_cannot_be_opened(tmp_path, monkeypatch):
    def must_not_fork():
        raise AssertionError("forked for a file that cannot be opened")

    monkeypatch.setattr(prefetch.os, "fork", must_not_fork)
    with pytest.raises(FileNotFoundError):
        list(prefetch.file_read_ahead(str(tmp_path / "missing"), 1024))


def test_a_read_error_in_the_child_is_raised_in_the_caller_naming_the_file(tmp_path):
    with pytest.raises(OSError) as raised:
        list(prefetch.file_read_ahead(str(tmp_path), 1024))  # a directory opens, and read() fails: EISDIR
    assert raised.value.errno == errno.EISDIR
    assert raised.value.filename == str(tmp_path)
    no_child_left()
