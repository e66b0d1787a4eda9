# SPDX-License-Identifier: GPL-3.0-or-later
"""The one newline-aligned chunker: big tables are read a piece of whole lines at a time, and one line at a time."""

from __future__ import annotations


def newline_chunks(data, size, first_size=None):
    """Pieces of a str, bytes or bytearray that each end with a newline (the last one may not).

    The first piece is about ``first_size`` long (default ``size``), each next one twice as long up to ``size``: a
    small table is not copied whole, and a big one is read in few pieces. A line longer than a piece is one piece.
    """
    newline = "\n" if isinstance(data, str) else b"\n"
    start = 0
    length = len(data)
    step = first_size or size
    while start < length:
        end = data.rfind(newline, start, start + step) + 1
        if end <= start:  # a line longer than a piece
            end = data.find(newline, start + step) + 1 or length
        yield data[start:end]
        start = end
        step = min(step * 2, size)


def iter_lines(text):
    """The lines of a text one at a time (like str.splitlines() on newlines, without a list of them all)."""
    start = 0
    length = len(text)
    while start < length:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1
