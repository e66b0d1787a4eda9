# SPDX-License-Identifier: GPL-3.0-or-later
"""Column-wise reading of big socket tables: whole columns of fixed-width rows instead of one row at a time.

Why: a per-record parser pays Python's cost for every row (split, address conversion, a record, counters), several
times what ``awk | cut | sort | uniq -c`` pays on a million-socket table (figures: docs/netstat_facts.md,
"Performance"). What is cheap is a C-level operation over a whole byte string: a slice, ``translate``, ``count``,
``split``, big-integer ``&``/``|``, ``collections.Counter`` over a list.

The tables are matrices. The kernel pads every /proc/net/tcp and /proc/net/udp row to a fixed width
(``seq_setwidth``/``seq_pad``: 150 and 128 bytes with the newline) and net-tools prints ``netstat -an`` rows in fixed
columns, so in a block of rows of one width W, ``data[j::W]`` is column j of every row, made by one C-level slice.
Blocks of rows of varying width (/proc/net/tcp6, which the kernel does not pad) are padded with spaces to their
longest row first, which costs one split and one join per block.

Per-row facts are computed as *row masks*: a Python int whose little-endian bytes hold 1 for a row where the fact is
true and 0 elsewhere (``column.translate(table)`` makes the bytes, ``int.from_bytes`` the int), so ``&``, ``|`` and
``^ ones`` combine a fact for thousands of rows at C speed. Compound keys (peer address, port, timer) are built by
writing the wanted columns into a new buffer with extended-slice assignment and splitting it into one small bytes
object per row, which ``collections.Counter`` counts at C speed; Python code then runs once per *distinct* key (a
few thousand), not once per row.

Exactness: a format adapter (columns/proc_net_tcp.py) checks every column of every row it relies on
against the format's fixed layout; rows that fail any check (headers, blank lines, unusual or damaged rows) go
through the format's exact per-line parser, in table order, so its results and its ParseError (naming the line) are
unchanged. Nothing here is specific to a format.
"""

from __future__ import annotations

from itertools import repeat

from ansible_collections.netdiag.tcp.plugins.module_utils.columns.chunks import newline_chunks

# Bytes read per block: rows of a block are processed together (256 KiB stays in a core's L2 cache across the
# column passes), so memory stays at a few blocks whatever the size of the table.
BLOCK_BYTES = 1 << 18
# Fewer rows of one width than this are cheaper through the per-line parser than through column operations.
MIN_RUN_ROWS = 32
# Rows longer than this are not padded into a matrix (the per-line parser reads them).
MAX_PADDED_WIDTH = 512

_ONES = {}


def iter_blocks(source, size=None):
    """Blocks of whole lines (bytes, each ending with a newline) from a binary file object, bytes or text.

    Text is encoded one block at a time (UTF-8, surrogateescape), so a big text is never copied whole. size
    defaults to BLOCK_BYTES.
    """
    size = size or BLOCK_BYTES
    if isinstance(source, (str, bytes, bytearray)):
        for piece in newline_chunks(source, size):
            block = piece.encode("utf-8", "surrogateescape") if isinstance(piece, str) else bytes(piece)
            yield block if block.endswith(b"\n") else block + b"\n"
        return
    while True:
        data = source.read(size)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += source.readline()  # complete the last line: one small read instead of carrying a remainder
            if not data.endswith(b"\n"):
                data += b"\n"  # the table's last line has no newline
        yield data


class Matrix:
    """Rows of one width: ``data`` holds ``rows`` rows of ``width`` bytes each (the last byte of a row is its
    newline). ``lines`` are the original lines when the rows were padded to the width, else None."""

    __slots__ = ("data", "width", "rows", "lines", "columns")

    def __init__(self, data, width, rows, lines=None):
        self.data = data
        self.width = width
        self.rows = rows
        self.lines = lines
        self.columns = {}  # offset -> column: the checks and the keys use many columns more than once

    def column(self, offset):
        """Byte ``offset`` of every row, as one bytes object of ``rows`` bytes."""
        column = self.columns.get(offset)
        if column is None:
            column = self.columns[offset] = self.data[offset :: self.width]
        return column

    def line(self, index):
        """Row ``index`` as the text it had in the table (without its newline and without any padding)."""
        if self.lines is not None:
            return self.lines[index]
        start = index * self.width
        return self.data[start : start + self.width - 1]

    def slice(self, start, stop):
        """Rows [start, stop) as a Matrix."""
        width = self.width
        lines = None if self.lines is None else self.lines[start:stop]
        return Matrix(self.data[start * width : stop * width], width, stop - start, lines)


def iter_matrices(block):
    """Split a block of lines into Matrix runs (rows of one width) and single lines, in table order.

    Yields Matrix objects; a Matrix of fewer than MIN_RUN_ROWS rows is meant for the per-line parser. A block whose
    lines vary in width is padded to its longest line (one split and one join) unless that is over
    MAX_PADDED_WIDTH.
    """
    start = 0
    length = len(block)
    while start < length:
        width = block.find(b"\n", start) + 1 - start
        ends = block[start + width - 1 :: width]
        rows = len(ends) - len(ends.lstrip(b"\n"))
        if rows >= MIN_RUN_ROWS or start + rows * width == length:
            yield Matrix(block[start : start + rows * width], width, rows)
            start += rows * width
            continue
        # Short run: if the next run is long, this is a lone odd line (a header); else the widths vary, so pad.
        following = start + rows * width
        next_width = block.find(b"\n", following) + 1 - following
        next_ends = block[following + next_width - 1 :: next_width]
        if len(next_ends) - len(next_ends.lstrip(b"\n")) >= MIN_RUN_ROWS:
            yield Matrix(block[start:following], width, rows)
            start = following
            continue
        lines = block[start:].split(b"\n")
        lines.pop()  # the block ends with a newline
        longest = max(map(len, lines))
        if longest + 1 > MAX_PADDED_WIDTH:
            for line in lines:
                yield Matrix(line + b"\n", len(line) + 1, 1)
            return
        padded = b"\n".join(map(bytes.ljust, lines, repeat(longest))) + b"\n"
        yield Matrix(padded, longest + 1, len(lines), lines)
        return


def ones(rows):
    """The row mask that is true for every one of ``rows`` rows."""
    value = _ONES.get(rows)
    if value is None:
        if len(_ONES) > 64:
            _ONES.clear()
        value = _ONES[rows] = int.from_bytes(b"\x01" * rows, "little")
    return value


def table(allowed):
    """A translate table mapping the bytes in ``allowed`` to 1 and every other byte to 0."""
    result = bytearray(256)
    for byte in allowed:
        result[byte] = 1
    return bytes(result)


def mask(column, translate_table):
    """Row mask of a column: true where the column's byte maps to 1 in the table."""
    return int.from_bytes(column.translate(translate_table), "little")


def mask_bytes(row_mask, rows):
    """The row mask as ``rows`` bytes of 0/1 (usable as an itertools.compress selector)."""
    return row_mask.to_bytes(rows, "little")


def count(row_mask, rows):
    """How many rows a row mask is true for."""
    return row_mask.to_bytes(rows, "little").count(1)


def all_in(matrix, offsets, allowed):
    """True when the bytes of these columns are all in ``allowed`` for every row (one translate for all)."""
    return not b"".join([matrix.column(offset) for offset in offsets]).translate(None, allowed)


def rows_all_in(matrix, offsets, allowed_table, row_mask):
    """Row mask: ``row_mask`` and, in each of these columns, a byte of ``allowed_table``."""
    for offset in offsets:
        row_mask &= int.from_bytes(matrix.column(offset).translate(allowed_table), "little")
    return row_mask


def right_aligned(matrix, start, stop, nonspace_table, row_mask):
    """Row mask: ``row_mask`` and columns [start, stop) hold one right-aligned token (spaces, then non-spaces up to
    the last column), like a printf ``%5u`` field."""
    every = ones(matrix.rows)
    previous = mask(matrix.column(start), nonspace_table)
    bad = 0
    for offset in range(start + 1, stop):
        current = mask(matrix.column(offset), nonspace_table)
        bad |= previous & (current ^ every)  # a non-space followed by a space
        previous = current
    return row_mask & previous & (bad ^ every)


def leading_token(matrix, start, length, token_table, space_table):
    """(row mask, end masks) for a left-aligned token at column ``start``: true where column ``start`` holds a
    token byte and the token (bytes of ``token_table``) ends with a space within ``length`` columns.

    end masks[k] is the row mask of rows whose token has ended before column ``start + k`` (for extract_token).
    """
    every = ones(matrix.rows)
    ended = 0
    bad = 0
    ends = []
    for offset in range(start, start + length):
        ends.append(ended)
        column = matrix.column(offset)
        is_space = mask(column, space_table)
        inside = (ended | is_space) ^ every  # still in the token at this column
        bad |= inside & (mask(column, token_table) ^ every)
        ended |= is_space
    first = mask(matrix.column(start), token_table)
    return first & ended & (bad ^ every), ends


def extract_token(matrix, start, ends):
    """One bytes object per row: the token at column ``start`` whose end masks leading_token() returned."""
    rows = matrix.rows
    length = len(ends)
    every = ones(rows)
    spaces = int.from_bytes(b" " * rows, "little")
    buffer = bytearray((length + 1) * rows)
    buffer[length :: length + 1] = b"\n" * rows
    for index, ended in enumerate(ends):
        column = matrix.column(start + index)
        if ended:
            keep = (ended ^ every) * 0xFF
            column = ((int.from_bytes(column, "little") & keep) | (spaces & (keep ^ (every * 0xFF)))).to_bytes(
                rows, "little"
            )
        buffer[index :: length + 1] = column
    return bytes(buffer).split()


def select_column(row_mask, rows, when_true, when_false):
    """A column that is ``when_true`` (a column) where the row mask is true, else ``when_false`` (a column)."""
    every_ff = ones(rows) * 0xFF
    keep = row_mask * 0xFF
    value = (int.from_bytes(when_true, "little") & keep) | (int.from_bytes(when_false, "little") & (keep ^ every_ff))
    return value.to_bytes(rows, "little")


def gather(columns, rows):
    """Rows made of the given columns (bytes of ``rows`` bytes each), one bytes object per row."""
    stride = len(columns) + 1
    buffer = bytearray(stride * rows)
    for index, column in enumerate(columns):
        buffer[index::stride] = column
    buffer[stride - 1 :: stride] = b"\n" * rows
    keys = bytes(buffer).split(b"\n")
    keys.pop()
    return keys


def equals(matrix, offset, text, row_mask=None):
    """Row mask: the row's bytes at ``offset`` are ``text`` (and ``row_mask``, when given)."""
    result = ones(matrix.rows) if row_mask is None else row_mask
    for index, byte in enumerate(text):
        result &= mask(matrix.column(offset + index), _EQUAL_TABLES[byte])
        if not result:
            break
    return result


_EQUAL_TABLES = [table((value,)) for value in range(256)]


def first_set(flags, limit):
    """Indexes of the first ``limit`` (None: all) true bytes of a 0/1 bytes object."""
    found = []
    position = flags.find(1)
    while position >= 0 and (limit is None or len(found) < limit):
        found.append(position)
        position = flags.find(1, position + 1)
    return found


class BoundedCache(dict):
    """key -> ``self.convert(key)``, computed once per distinct key; emptied when full, so a table with millions of
    distinct keys (peer addresses) cannot grow it without bound. Subclasses define ``convert``."""

    limit = 200000

    def __missing__(self, key):
        if len(self) >= self.limit:
            self.clear()
        value = self[key] = self.convert(key)
        return value

    def convert(self, key):
        raise NotImplementedError


def selection_mask(selection, rows, state_rows, port_rows, remote_keys, address_of):
    """Row mask of the rows a Selection selects, or None when it selects everything.

    The format supplies its columns: ``state_rows(states)`` and ``port_rows(port)`` are row masks of the rows in
    one of those states / with that port at either end, ``remote_keys()`` the remote-address key of every row, and
    ``address_of(key)`` its canonical text. Peer networks are checked once per distinct remote address.
    """
    if selection is None or selection.selects_all:
        return None
    selected = ones(rows)
    if selection.states:
        selected &= state_rows(selection.states)
    if selection.ports:
        by_port = 0
        for port in selection.ports:
            by_port |= port_rows(port)
        selected &= by_port
    if selection.networks and selected:
        remotes = remote_keys()
        wanted = {remote for remote in set(remotes) if selection.peer_selected(address_of(remote))}
        selected &= int.from_bytes(bytes(map(wanted.__contains__, remotes)), "little")
    return selected
