# SPDX-License-Identifier: GPL-3.0-or-later
"""Column-wise reading of Linux /proc/net/tcp, tcp6, udp and udp6 (the big-table path of format
``linux_proc_net_tcp``; the per-line parser is linux/proc_net_tcp.py).

Gives the same results as ``iter_records()`` + ``Summary.add_records()``. Rows in the kernel's fixed layout are
counted column by column (columns/socket_table.py); every other line (headers, blank lines, UDP tables, rows in
another layout, damaged rows) goes through the per-line parser, in order, so its ParseError names the same line.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress

from ansible_collections.netdiag.tcp.plugins.module_utils.columns import socket_table as fast
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import service_port_of
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as rows

_HEX = b"0123456789ABCDEF"
_DIGITS = b"0123456789"
_HEX_TABLE = fast.table(_HEX)
_DIGIT_TABLE = fast.table(_DIGITS)
_SPACE_TABLE = fast.table(b" ")
_NONSPACE_TABLE = fast.table(bytes(value for value in range(256) if value != 0x20))
# Longest inode the layout check accepts: 10 digits (socket inodes are 32-bit) and the blank after them.
_INODE_COLUMNS = 11
_STATE_BYTES = {code.encode("ascii"): name for code, name in rows.STATE_CODES.items()}


class _Layout:
    """Column offsets of a /proc/net/tcp row whose ``sl`` field ends with the colon at ``colon`` and whose
    addresses have ``digits`` hex digits (8: tcp, 32: tcp6), as printed by the kernel's get_tcp4_sock /
    get_tcp6_sock (and their time-wait and request-socket variants)::

        %4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu ...
        sl   local:port remote:port st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
    """

    def __init__(self, colon, digits):
        self.colon = colon
        self.digits = digits
        self.local = colon + 2
        self.local_port = self.local + digits + 1
        self.remote = self.local_port + 5
        self.remote_port = self.remote + digits + 1
        self.state = self.remote_port + 5
        self.queues = self.state + 3
        self.timer = self.queues + 18
        self.retransmits = self.timer + 12
        self.uid = self.retransmits + 9  # %5u
        self.timeout = self.uid + 6  # %8d
        self.inode = self.timeout + 9  # %lu
        self.min_width = self.inode + _INODE_COLUMNS + 1
        self.colons = (colon, self.local_port - 1, self.remote_port - 1, self.queues + 8, self.timer + 2)
        self.blanks = (
            colon + 1,
            self.remote - 1,
            self.state - 1,
            self.queues - 1,
            self.timer - 1,
            self.retransmits - 1,
            self.uid - 1,
            self.timeout - 1,
            self.inode - 1,
        )
        hex_fields = (
            (self.local, digits),
            (self.local_port, 4),
            (self.remote, digits),
            (self.remote_port, 4),
            (self.state, 2),
            (self.queues, 8),
            (self.queues + 9, 8),
            (self.timer, 2),
            (self.timer + 3, 8),
            (self.retransmits, 8),
        )
        self.hex_columns = [offset for start, length in hex_fields for offset in range(start, start + length)]


_LAYOUTS = {}


def _layout_of(row):
    """The _Layout of a row (bytes), or None when it is not a row in the kernel's layout."""
    colon = row.find(b":", 0, 12)
    if colon < 1:
        return None
    if row[colon + 10 : colon + 11] == b":":
        digits = 8
    elif row[colon + 34 : colon + 35] == b":":
        digits = 32
    else:
        return None
    layout = _LAYOUTS.get((colon, digits))
    if layout is None:
        layout = _LAYOUTS[(colon, digits)] = _Layout(colon, digits)
    if len(row) < layout.min_width:
        return None
    return layout


def _valid_rows(matrix, layout):
    """(row mask, inode end masks): rows laid out exactly as _Layout says, so that splitting them on blanks gives
    the fields at the layout's columns, and whose fields rows.iter_records() accepts (hex addresses, ports, queues,
    state; decimal uid and inode)."""
    rows = matrix.rows
    every = fast.ones(rows)
    quick = (
        fast.all_in(matrix, layout.hex_columns, _HEX)
        and fast.all_in(matrix, layout.colons, b":")
        and fast.all_in(matrix, layout.blanks, b" ")
        and fast.all_in(matrix, range(layout.colon), b" " + _DIGITS)
        and fast.all_in(matrix, range(layout.uid, layout.uid + 5), b" " + _DIGITS)
        and fast.all_in(matrix, range(layout.timeout, layout.timeout + 8), b" -" + _DIGITS)
    )
    if quick:
        valid = every
    else:  # find the rows that fail (a header, a damaged row): the same checks, row by row
        valid = fast.rows_all_in(matrix, layout.hex_columns, _HEX_TABLE, every)
        valid = fast.rows_all_in(matrix, layout.colons, fast.table(b":"), valid)
        valid = fast.rows_all_in(matrix, layout.blanks, _SPACE_TABLE, valid)
        valid = fast.rows_all_in(matrix, range(layout.colon), fast.table(b" " + _DIGITS), valid)
        valid = fast.rows_all_in(matrix, range(layout.uid, layout.uid + 5), fast.table(b" " + _DIGITS), valid)
        valid = fast.rows_all_in(matrix, range(layout.timeout, layout.timeout + 8), fast.table(b" -" + _DIGITS), valid)
    # sl, uid and timeout are single right-aligned tokens; the inode is digits up to a blank.
    valid = fast.right_aligned(matrix, 0, layout.colon, _NONSPACE_TABLE, valid)
    valid = fast.right_aligned(matrix, layout.uid, layout.uid + 5, _NONSPACE_TABLE, valid)
    valid = fast.right_aligned(matrix, layout.timeout, layout.timeout + 8, _NONSPACE_TABLE, valid)
    inode_ok, inode_ends = fast.leading_token(matrix, layout.inode, _INODE_COLUMNS, _DIGIT_TABLE, _SPACE_TABLE)
    # No leading zero (the kernel prints none): then the inode is 0 exactly where its first digit is 0.
    leading_zero = fast.equals(matrix, layout.inode, b"0") & (fast.equals(matrix, layout.inode + 1, b" ") ^ every)
    return valid & inode_ok & (leading_zero ^ every), inode_ends


class TableReader:
    """Reads /proc/net/{tcp,tcp6,udp,udp6} text into a socket_records.Summary, fast where rows allow.

    protocol, byteorder, owners, user_name: as for rows.iter_records(). families: None for all, else the families to
    keep (the Linux collector's ``families`` option; rows of other families are not counted at all).
    """

    def __init__(self, summary, protocol=None, byteorder="little", owners=None, user_name=None, families=None):
        if protocol not in (None, "tcp", "udp"):
            raise ValueError("protocol must be tcp or udp, not %r" % (protocol,))
        self.summary = summary
        self.detect = protocol is None
        self.protocol = protocol or "tcp"
        self.byteorder = byteorder
        self.owners = owners or {}
        self.user_name = user_name
        self.families = None if families is None or set(families) >= {"inet", "inet6"} else frozenset(families)
        # Raw peer keys of all counted rows: decoded once per distinct key when the table ends (finish()).
        self.peer_keys = Counter()
        self.addresses = rows.AddressCache(byteorder)
        self.owner_inodes = None

    def read(self, source):
        """Read a whole table: a binary file object, bytes or text."""
        line_number = 1
        for block in fast.iter_blocks(source):
            for matrix in fast.iter_matrices(block):
                if matrix.rows >= fast.MIN_RUN_ROWS:
                    self._matrix(matrix, line_number)
                else:
                    self._exact(matrix, 0, matrix.rows, line_number)
                line_number += matrix.rows
        self.finish()

    def finish(self):
        """Hand the peer counts over to the summary (read() does it at the end of the table)."""
        peers = {}
        for key, found in self.peer_keys.items():
            peer = self._peer_key(key)
            peers[peer] = peers.get(peer, 0) + found
        self.peer_keys = Counter()
        self.summary.add_counts(0, 0, "tcp", {}, peers)

    # -- rows through the exact parser ---------------------------------------------------------------------------

    def _exact(self, matrix, start, stop, first_number):
        """Rows [start, stop) of a matrix through rows.iter_records(), in order (headers switch the protocol)."""
        pending = []
        pending_number = first_number + start
        for index in range(start, stop):
            line = matrix.line(index).decode("utf-8", "surrogateescape")
            fields = line.split()
            if fields and fields[0] == "sl":
                self._records(pending, pending_number)
                pending = []
                pending_number = first_number + index + 1
                if self.detect:
                    self.protocol = rows.protocol_of_header(line)
                continue
            pending.append(line)
        self._records(pending, pending_number)

    def _records(self, lines, first_number):
        if not lines:
            return
        records = rows.iter_records(
            lines,
            protocol=self.protocol,
            byteorder=self.byteorder,
            owners=self.owners,
            user_name=self.user_name,
            first_line_number=first_number,
            address_cache=self.addresses,
        )
        if self.families is not None:
            records = (record for record in records if record[1] in self.families)
        self.summary.add_records(records)

    def _record(self, matrix, index, first_number):
        """The SocketRecord of one (valid) row, for the connections and listeners lists."""
        line = matrix.line(index).decode("ascii")
        (record,) = rows.iter_records(
            [line],
            protocol="tcp",
            byteorder=self.byteorder,
            owners=self.owners,
            user_name=self.user_name,
            first_line_number=first_number + index,
            address_cache=self.addresses,
        )
        return record

    # -- rows in the kernel's layout ------------------------------------------------------------------------------

    def _matrix(self, matrix, first_number):
        """Split a matrix into stretches of rows of one layout that pass every check; count those column-wise."""
        width = matrix.width
        data = matrix.data
        index = 0
        while index < matrix.rows:
            layout = None
            if self.protocol == "tcp":
                layout = _layout_of(data[index * width : (index + 1) * width])
            if layout is None or width < layout.min_width or (self.families and layout.digits == 32):
                self._exact(matrix, index, index + 1, first_number)
                index += 1
                continue
            colons = data[index * width + layout.colon :: width]
            stop = index + len(colons) - len(colons.lstrip(b":"))  # the sl field keeps its width up to here
            part = matrix.slice(index, stop)
            valid, inode_ends = _valid_rows(part, layout)
            if valid == fast.ones(part.rows):
                self._count(part, layout, inode_ends, first_number + index)
                index = stop
                continue
            flags = fast.mask_bytes(valid, part.rows)
            position = 0
            while position < part.rows:
                if not flags[position]:
                    self._exact(part, position, position + 1, first_number + index)
                    position += 1
                    continue
                end = flags.find(0, position)
                end = part.rows if end < 0 else end
                if end - position >= fast.MIN_RUN_ROWS:
                    piece = part.slice(position, end)
                    self._count(piece, layout, _valid_rows(piece, layout)[1], first_number + index + position)
                else:
                    self._exact(part, position, end, first_number + index)
                position = end
            index = stop

    def _count(self, matrix, layout, inode_ends, first_number):
        """Count valid TCP rows of one layout into the summary (splitting where a new listening port appears)."""
        if self.families is not None and "inet" not in self.families:
            return  # tcp rows (8-digit addresses) are all inet
        summary = self.summary
        rows = matrix.rows
        listening = summary.listening
        listen_rows = fast.mask_bytes(fast.equals(matrix, layout.state, b"0A"), rows)
        position = listen_rows.find(1)
        while position >= 0:
            port = int(matrix.line(position)[layout.local_port : layout.local_port + 4], 16) or None
            if port not in listening:
                if position > 0:  # rows before this LISTEN row are classified without its port
                    self._count(matrix.slice(0, position), layout, _shift(inode_ends, 0, position), first_number)
                    rest = matrix.slice(position, rows)
                    self._count(rest, layout, _shift(inode_ends, position, rows), first_number + position)
                    return
                listening.add(port)
            position = listen_rows.find(1, position + 1)
        self._count_rows(matrix, layout, inode_ends, first_number, listen_rows)

    def _count_rows(self, matrix, layout, inode_ends, first_number, listen_rows):
        summary = self.summary
        rows = matrix.rows
        every = fast.ones(rows)
        selected = self._selection_mask(matrix, layout)
        selected_rows = None if selected is None else fast.mask_bytes(selected, rows)

        # States: a 3-byte record per row ("01|"), counted per code; an unknown code is left to rows.iter_records().
        pairs = bytearray(3 * rows)
        pairs[0::3] = matrix.column(layout.state)
        pairs[1::3] = matrix.column(layout.state + 1)
        pairs[2::3] = b"|" * rows
        found = {code: pairs.count(code + b"|") for code in _STATE_BYTES}
        if sum(found.values()) != rows:
            self._exact(matrix, 0, rows, first_number)
            return
        if selected is not None:  # the same count over the selected rows: others get a "." state
            pairs[0::3] = fast.select_column(selected, rows, matrix.column(layout.state), b"." * rows)
            found = {code: pairs.count(code + b"|") for code in _STATE_BYTES}
        states = {}
        for code, name in _STATE_BYTES.items():
            if found[code]:
                states[name] = states.get(name, 0) + found[code]
        selected_count = rows if selected is None else sum(states.values())

        peers = {}
        established = fast.equals(matrix, layout.state, b"01")
        if selected is not None:
            established &= selected
        if established:
            peers = self._peers(matrix, layout, established)  # counted in self.peer_keys unless no listener
            if summary.tuples is not None:
                self._tuples(matrix, layout, established)

        unmapped = 0
        if summary.owners_mapped:  # sockets with an inode (first digit not 0) that no process was found for
            with_inode = fast.equals(matrix, layout.inode, b"0") ^ every
            if selected is not None:
                with_inode &= selected
            unmapped = fast.count(with_inode, rows)
            if self.owners and unmapped:
                inodes = compress(
                    fast.extract_token(matrix, layout.inode, inode_ends), fast.mask_bytes(with_inode, rows)
                )
                unmapped -= sum(map(self._owner_inodes().__contains__, inodes))
        summary.add_counts(rows, selected_count, "tcp", states, peers, unmapped)

        # The few records that are kept whole: the first selected rows (connections) and selected LISTEN rows.
        room = summary.room()
        if room is None or room > 0:
            if selected_rows is None:
                wanted = range(rows if room is None else min(room, rows))
            else:
                wanted = fast.first_set(selected_rows, room)
            for index in wanted:
                summary.add_connection(self._record(matrix, index, first_number))
        if room is not None and selected_count > room:
            summary.truncated = True
        if listen_rows.find(1) >= 0:
            if selected_rows is not None:
                listen_rows = fast.mask_bytes(int.from_bytes(listen_rows, "little") & selected, rows)
            for index in fast.first_set(listen_rows, None):
                summary.add_listener(self._record(matrix, index, first_number))

    def _peers(self, matrix, layout, established):
        """{(direction, service_port, peer, keepalive): n} of the ESTABLISHED rows in the row mask."""
        rows = matrix.rows
        ports = list(self.summary.listening)
        if not ports:
            return self._peers_without_listeners(matrix, layout, established)
        local_ports = [matrix.column(layout.local_port + offset) for offset in range(4)]
        remote_ports = [matrix.column(layout.remote_port + offset) for offset in range(4)]
        inbound = 0
        for port in ports:
            text = b"%04X" % (port or 0)
            inbound |= fast.equals(matrix, layout.local_port, text)
        # One key per row: I/O, the tr timer, the service port (local when inbound, remote when outbound), the
        # remote address; Counter counts the keys of the ESTABLISHED rows, then each distinct key is decoded once.
        columns = [
            fast.select_column(inbound, rows, b"I" * rows, b"O" * rows),
            matrix.column(layout.timer),
            matrix.column(layout.timer + 1),
        ]
        columns += [fast.select_column(inbound, rows, local_ports[i], remote_ports[i]) for i in range(4)]
        columns += [matrix.column(layout.remote + offset) for offset in range(layout.digits)]
        keys = fast.gather(columns, rows)
        self.peer_keys.update(compress(keys, fast.mask_bytes(established, rows)))  # C-level counting
        return {}

    def _tuples(self, matrix, layout, established):
        """The ESTABLISHED rows of the row mask into the summary's compact tuples (per-connection correlation).

        The rows passed every layout check, so their fields are read at the layout's columns, as rows.iter_records()
        reads them: addresses through the shared cache, ports in hex, keepalive from the tr timer, the owner by
        inode."""
        add = self.summary.tuples.add
        addresses = self.addresses
        owners = self.owners
        no_owner = (None, None, None)
        digits = layout.digits
        for index in fast.first_set(fast.mask_bytes(established, matrix.rows), None):
            line = matrix.line(index)
            timer = line[layout.timer : layout.timer + 2]
            keepalive = rows.KEEPALIVE_BY_TIMER.get(chr(timer[1])) if timer[0] == 0x30 else None
            inode = int(line[layout.inode : layout.inode + _INODE_COLUMNS].split(b" ", 1)[0])
            pid, process, user = owners.get(inode, no_owner) if inode else no_owner
            add(
                addresses[line[layout.local : layout.local + digits].decode("ascii")][0],
                int(line[layout.local_port : layout.local_port + 4], 16) or None,
                addresses[line[layout.remote : layout.remote + digits].decode("ascii")][0],
                int(line[layout.remote_port : layout.remote_port + 4], 16) or None,
                pid,
                keepalive,
                process,
                user,
            )

    def _owner_inodes(self):
        """The owner map's inodes as the decimal bytes /proc prints, to test tokens without converting them."""
        if self.owner_inodes is None:
            self.owner_inodes = {b"%d" % inode for inode in self.owners}
        return self.owner_inodes

    def _peer_key(self, key):
        """(direction, service_port, peer, keepalive) of a raw peer key made by _peers()."""
        direction = "inbound" if key[0:1] == b"I" else "outbound"
        timer = key[1:3].decode("ascii")
        keepalive = rows.KEEPALIVE_BY_TIMER.get(timer[1:]) if timer[0] == "0" else None
        address = self.addresses[key[7:].decode("ascii")][0]
        return (direction, int(key[3:7], 16) or None, address, keepalive)

    def _peers_without_listeners(self, matrix, layout, established):
        """No listener known: the lower port is the service port (rare: text without LISTEN rows), row by row."""
        peers = {}
        listening = self.summary.listening
        for index in fast.first_set(fast.mask_bytes(established, matrix.rows), None):
            record = self._record(matrix, index, 1)
            direction, service_port = service_port_of(record[3], record[5], listening)
            key = (direction, service_port, record[4], record[7])
            peers[key] = peers.get(key, 0) + 1
        return peers

    def _selection_mask(self, matrix, layout):
        """Row mask of the rows the summary's selection selects, or None when it selects everything."""

        def state_rows(states):
            found = 0
            for code, name in _STATE_BYTES.items():
                if name in states:
                    found |= fast.equals(matrix, layout.state, code)
            return found

        def port_rows(port):
            text = b"%04X" % port
            return fast.equals(matrix, layout.local_port, text) | fast.equals(matrix, layout.remote_port, text)

        return fast.selection_mask(
            self.summary.selection,
            matrix.rows,
            state_rows,
            port_rows,
            lambda: fast.gather([matrix.column(layout.remote + i) for i in range(layout.digits)], matrix.rows),
            lambda remote: self.addresses[remote.decode("ascii")][0],
        )


def _shift(masks, start, stop):
    """Row masks of rows [start, stop) of a matrix, from the matrix's row masks."""
    keep = fast.ones(stop - start)
    return [(value >> (8 * start)) & keep for value in masks]
