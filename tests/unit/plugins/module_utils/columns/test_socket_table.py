# SPDX-License-Identifier: GPL-3.0-or-later
"""The format-free column helpers of columns/socket_table.py, on small hand-made blocks."""

from __future__ import annotations

import io

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.columns import socket_table as fast


@pytest.mark.parametrize("kind", ["bytes", "str", "file"])
@pytest.mark.parametrize("size", [7, 64, 1 << 18])
def test_iter_blocks_gives_whole_lines(kind, size):
    text = "first line\nsecond, a longer line than the block size when it is small\n\nlast without newline"
    source = {"bytes": text.encode(), "str": text, "file": io.BytesIO(text.encode())}[kind]
    blocks = list(fast.iter_blocks(source, size))
    assert all(block.endswith(b"\n") for block in blocks)
    assert b"".join(blocks) == text.encode() + b"\n"


def test_iter_matrices_runs_and_padding(monkeypatch):
    monkeypatch.setattr(fast, "MIN_RUN_ROWS", 3)
    fixed = b"".join(b"row %05d\n" % number for number in range(5))
    block = b"a header line\n" + fixed + b"x\n" + fixed
    matrices = list(fast.iter_matrices(block))
    assert [(matrix.width, matrix.rows, matrix.lines) for matrix in matrices[:3]] == [
        (14, 1, None),
        (10, 5, None),
        (2, 1, None),
    ]
    assert matrices[3].rows == 5 and matrices[3].line(4) == b"row 00004"
    varying = b"a\nbbb\ncc\nd\n"
    (padded,) = fast.iter_matrices(varying)
    assert (padded.width, padded.rows, padded.data) == (4, 4, b"a  \nbbb\ncc \nd  \n")
    assert [padded.line(index) for index in range(4)] == [b"a", b"bbb", b"cc", b"d"]


def test_row_masks():
    matrix = fast.Matrix(b"  12 x\n 1 2 x\n  1a x\n 123 y\n", 7, 4)
    nonspace = fast.table(bytes(value for value in range(256) if value != 0x20))
    aligned = fast.right_aligned(matrix, 0, 4, nonspace, fast.ones(4))
    assert fast.mask_bytes(aligned, 4) == b"\x01\x00\x01\x01"
    digits = fast.rows_all_in(matrix, range(4), fast.table(b" 0123456789"), fast.ones(4))
    assert fast.mask_bytes(digits, 4) == b"\x01\x01\x00\x01"
    assert fast.count(aligned & digits, 4) == 2
    assert fast.mask_bytes(fast.equals(matrix, 5, b"x"), 4) == b"\x01\x01\x01\x00"
    assert fast.all_in(matrix, [4], b" ") and not fast.all_in(matrix, [3], b"2")


def test_leading_token_and_extract():
    matrix = fast.Matrix(b"123 9\n7 zzz\n45678\n0 abc\n1x 22\n", 6, 5)
    valid, ends = fast.leading_token(matrix, 0, 4, fast.table(b"0123456789"), fast.table(b" "))
    assert fast.mask_bytes(valid, 5) == b"\x01\x01\x00\x01\x00"  # 45678 does not end within 4 columns; 1x is not digits
    assert fast.extract_token(matrix, 0, ends) == [b"123", b"7", b"4567", b"0", b"1x"]


def test_select_and_gather():
    rows = 3
    chosen = fast.select_column(int.from_bytes(b"\x01\x00\x01", "little"), rows, b"abc", b"xyz")
    assert chosen == b"ayc"
    assert fast.gather([b"abc", b"123"], rows) == [b"a1", b"b2", b"c3"]


def test_first_set():
    assert fast.first_set(bytes([0, 1, 1, 0, 1]), None) == [1, 2, 4]
    assert fast.first_set(bytes([0, 1, 1, 0, 1]), 2) == [1, 2]
    assert fast.first_set(bytes([0, 0]), None) == []


def test_bounded_cache_converts_once_and_empties_when_full():
    calls = []

    class Upper(fast.BoundedCache):
        limit = 2

        def convert(self, key):
            calls.append(key)
            return key.upper()

    cache = Upper()
    assert [cache["a"], cache["a"], cache["b"]] == ["A", "A", "B"]
    assert calls == ["a", "b"]
    assert cache["c"] == "C" and len(cache) == 1  # full at two: emptied before the third
