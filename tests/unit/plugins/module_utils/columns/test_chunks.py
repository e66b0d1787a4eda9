# SPDX-License-Identifier: GPL-3.0-or-later
"""The one newline-aligned chunker and the one line iterator (columns/chunks.py), with hand-written expectations."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.columns.chunks import iter_lines, newline_chunks


def test_pieces_end_at_newlines_and_grow_to_the_size():
    text = "".join("line %02d\n" % number for number in range(12))  # 8 characters a line
    pieces = list(newline_chunks(text, size=32, first_size=8))
    assert pieces[0] == "line 00\n"
    assert pieces[1] == "line 01\nline 02\n"
    assert [len(piece) for piece in pieces] == [8, 16, 32, 32, 8]
    assert all(piece.endswith("\n") for piece in pieces)
    assert "".join(pieces) == text


@pytest.mark.parametrize(
    "data", ["a\nbb\n" + "x" * 50 + "\nc", b"a\nbb\n" + b"x" * 50 + b"\nc", bytearray(b"a\n" + b"y" * 30)]
)
def test_a_long_line_is_one_piece_and_the_last_may_lack_its_newline(data):
    pieces = list(newline_chunks(data, size=8))
    assert pieces[0][:2] in ("a\n", b"a\n")
    newline = "\n" if isinstance(data, str) else b"\n"
    assert all(piece.endswith(newline) for piece in pieces[:-1])
    assert newline[:0].join(pieces) == data
    long_line = max(data.split(newline), key=len)
    assert any(long_line in piece for piece in pieces)  # the long line was not cut


def test_nothing_from_nothing():
    assert list(newline_chunks("", 8)) == []
    assert list(iter_lines("")) == []


def test_iter_lines_is_splitlines_on_newlines():
    assert list(iter_lines("one\ntwo\n\nthree")) == ["one", "two", "", "three"]
    assert list(iter_lines("one\n")) == ["one"]
    assert list(iter_lines("a\rb\n")) == ["a\rb"]  # only \n ends a line (kernel tables never print \r)
