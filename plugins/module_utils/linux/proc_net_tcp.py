# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Linux /proc/net/tcp, tcp6, udp and udp6 (format ``linux_proc_net_tcp``).

Row layout (kernel ``get_tcp4_sock``/``get_tcp6_sock``/``udp4_format_sock``)::

    sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...

Addresses are the kernel's 32-bit words printed with %08X, so on a little-endian host every 4-byte word appears
byte-reversed (``0100007F`` is 127.0.0.1); IPv6 addresses are four such words. Ports are plain hex.

Keepalive (the ``tr`` timer field, see the kernel's proc_net_tcp documentation and ``get_tcp4_sock``): the kernel
prints 1 while a retransmit/loss-probe/reordering timer is pending, else 4 while a zero-window probe is pending,
else 2 while the socket's keepalive timer is pending, else 0. A TCP socket with SO_KEEPALIVE set has its keepalive
timer armed for as long as it is connected: it is armed when the connection is established (``tcp_finish_connect``,
``tcp_create_openreq_child``) or when the option is set, and ``tcp_keepalive_timer`` re-arms itself in every
state but CLOSE and SYN_SENT. Without SO_KEEPALIVE nothing arms it on a connected socket. Therefore, on
ESTABLISHED and CLOSE_WAIT sockets: tr=2 means keepalive on, tr=0 means keepalive off, and tr=1 or 4 hide the
keepalive timer (unknown, None). In other states the same timer also serves as the FIN_WAIT_2 timer or is not used,
so keepalive is None there.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netdiag.tcp.plugins.module_utils.columns import socket_table as fast
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    WILDCARD,
    SocketRecord,
    Summary,
    canonical_text,
)

FORMAT_NAME = "linux_proc_net_tcp"

# include/net/tcp_states.h. 0C (TCP_NEW_SYN_RECV) is printed as 03 by the kernel but is mapped for safety;
# 0D (TCP_BOUND_INACTIVE, Linux 6.6+) is a Linux-only state kept in upper case as docs/facts_schema.md says.
STATE_CODES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECEIVED",
    "04": "FIN_WAIT_1",
    "05": "FIN_WAIT_2",
    "06": "TIME_WAIT",
    "07": "CLOSED",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
    "0C": "SYN_RECEIVED",
    "0D": "BOUND_INACTIVE",
}
LISTEN_CODE = "0A"

# States in which the tr field tells whether SO_KEEPALIVE is set (see the module docstring).
_KEEPALIVE_STATES = frozenset(("ESTABLISHED", "CLOSE_WAIT"))
KEEPALIVE_BY_TIMER = {"0": False, "2": True}


def hex_to_address(text, byteorder="little"):
    """Canonical address text of a /proc/net/tcp* hex address (8 or 32 hex digits), "*" for the wildcard.

    byteorder is the byte order of the host that produced the table (sys.byteorder there).
    """
    if len(text) not in (8, 32):
        raise ValueError("%r is not an 8 or 32 hex digit address" % text)
    raw = bytes.fromhex(text)
    if byteorder == "little":
        raw = b"".join(raw[offset : offset + 4][::-1] for offset in range(0, len(raw), 4))
    return canonical_text(ipaddress.ip_address(raw))


def is_header(line):
    return line.lstrip().startswith("sl ")


def protocol_of_header(line):
    """'udp' for a /proc/net/udp* header (it ends with 'ref pointer drops'), else 'tcp'."""
    return "udp" if "drops" in line.split() else "tcp"


class AddressCache(fast.BoundedCache):
    """hex address -> (canonical text, is IPv4 text)."""

    def __init__(self, byteorder):
        super().__init__()
        self.byteorder = byteorder

    def convert(self, key):
        canonical = hex_to_address(key, self.byteorder)
        return canonical, len(key) == 8 or (canonical != WILDCARD and ":" not in canonical)


def iter_records(
    lines, protocol=None, byteorder="little", owners=None, user_name=None, first_line_number=1, address_cache=None
):
    """Yield a SocketRecord per row of one or more concatenated /proc/net/{tcp,tcp6,udp,udp6} tables.

    protocol    "tcp" or "udp"; None takes it from each table's header line (tcp when there is none).
    owners      {inode: (pid, process, user)} from linux_socket_owners; user_name(uid) names the owner uid of
                sockets no owner was found for (None: leave user unknown).
    address_cache  an AddressCache of the same byte order to share between calls (TableReader's).
    Raises ParseError naming the line for anything that is not a header, a blank line or a socket row.
    """
    detect = protocol is None
    current = protocol or "tcp"
    if current not in ("tcp", "udp"):
        raise ValueError("protocol must be tcp or udp, not %r" % (protocol,))
    addresses = AddressCache(byteorder) if address_cache is None else address_cache
    owners = owners or {}
    no_owner = (None, None, None)
    keepalive_by_timer = KEEPALIVE_BY_TIMER
    keepalive_states = _KEEPALIVE_STATES
    state_codes = STATE_CODES
    for number, line in enumerate(lines, first_line_number):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "sl":
            if detect:
                current = protocol_of_header(line)
            continue
        try:
            if len(fields) < 10 or fields[0][-1] != ":":
                raise ValueError("expected at least 10 fields starting with 'N:'")
            local_hex, _colon, local_port_hex = fields[1].partition(":")
            remote_hex, _colon, remote_port_hex = fields[2].partition(":")
            local_address, local_v4 = addresses[local_hex]
            remote_address, remote_v4 = addresses[remote_hex]
            local_port = int(local_port_hex, 16) or None
            remote_port = int(remote_port_hex, 16) or None
            code = fields[3]
            state = state_codes[code]
            send_queue, _colon, receive_queue = fields[4].partition(":")
            timer = fields[5][:2]
            uid = int(fields[7])
            inode = int(fields[9])
            send_queue = int(send_queue, 16)
            receive_queue = int(receive_queue, 16)
        except KeyError:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), "unknown state code %r" % fields[3]) from None
        except (ValueError, IndexError) as error:
            raise ParseError(FORMAT_NAME, number, line.rstrip("\n"), str(error)) from error
        if current == "tcp":
            keepalive = keepalive_by_timer.get(timer[1:]) if timer[0] == "0" and state in keepalive_states else None
        else:
            # UDP has no state of its own: the kernel reuses ESTABLISHED for connected and CLOSE for unconnected.
            state = "ESTABLISHED" if code == "01" else None
            keepalive = None
        # A tcp6/udp6 row with IPv4-mapped addresses is an IPv4 connection: it is reported as inet.
        family = "inet" if local_v4 or remote_v4 else "inet6"
        pid, process, user = owners.get(inode, no_owner) if inode else no_owner
        if user is None and user_name is not None:
            user = user_name(uid)
        yield SocketRecord(
            current,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state,
            keepalive,
            pid,
            process,
            user,
            uid,
            inode,
            send_queue,
            receive_queue,
            None,
        )


def leading_listening_ports(lines):
    """Local ports of the LISTEN rows at the head of one /proc/net/tcp or tcp6 table.

    The kernel prints a table's listening sockets before all other sockets, so reading stops at the first row that
    is not LISTEN: this costs a few lines, not a pass over a million-row table. Malformed rows end the scan (the full
    parse reports them).
    """
    ports = set()
    for line in lines:
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        if len(fields) < 4 or fields[3] != LISTEN_CODE:
            break
        try:
            ports.add(int(fields[1].rpartition(":")[2], 16))
        except ValueError:
            break
    return ports


def parse(text, ports=None, states=None, peers=None, max_connections=None, protocol=None, byteorder="little"):
    """The ``netdiag.netstat`` dictionary of /proc/net/tcp* text (one table or several concatenated).

    ports/states/peers select sockets as the netstat_facts options do; max_connections caps ``connections``
    (None = no cap). byteorder is that of the host the text came from ("little" on x86 and most ARM hosts).
    """
    selection = Selection(ports, states, peers)
    if protocol not in (None, "tcp", "udp"):
        raise ValueError("protocol must be tcp or udp, not %r" % (protocol,))
    listening = listening_ports_in_text(text, protocol=protocol, byteorder=byteorder)
    summary = Summary(selection, max_connections, listening)
    # Imported here: the column reader imports this module (its reference and fallback for odd rows).
    from ansible_collections.netdiag.tcp.plugins.module_utils.columns.proc_net_tcp import TableReader

    TableReader(summary, protocol=protocol, byteorder=byteorder).read(text)
    return summary.result()


def listening_ports_in_text(text, protocol=None, byteorder="little"):
    """Local ports of every TCP LISTEN row of /proc/net/tcp* text (str or bytes), wherever the rows are.

    Only rows whose state field is ``0A`` between blanks can be LISTEN rows, so only those lines are parsed (a few
    finds over the text, not a parse of every row). A line that does not parse is left to the main pass, which
    reports it.
    """
    if isinstance(text, str):
        newline, header_word = "\n", "local_address"
        patterns = (" 0A ", " 0A\t", "\t0A ", "\t0A\t")
    else:
        newline, header_word = b"\n", b"local_address"
        patterns = (b" 0A ", b" 0A\t", b"\t0A ", b"\t0A\t")

    def line_at(start):
        end = text.find(newline, start)
        line = text[start : end if end >= 0 else len(text)]
        return line if isinstance(line, str) else line.decode("utf-8", "surrogateescape")

    headers = []  # (offset, protocol) of every header line, for tables of both kinds concatenated
    if protocol is None:
        offset = text.find(header_word)
        while offset >= 0:
            start = text.rfind(newline, 0, offset) + 1
            line = line_at(start)
            if line.split()[:1] == ["sl"]:
                headers.append((start, protocol_of_header(line)))
            offset = text.find(header_word, offset + 1)
    starts = set()
    for pattern in patterns:
        offset = text.find(pattern)
        while offset >= 0:
            starts.add(text.rfind(newline, 0, offset) + 1)
            offset = text.find(pattern, offset + 1)
    ports = set()
    for start in sorted(starts):
        current = protocol or "tcp"
        for header_start, header_protocol in headers:
            if header_start > start:
                break
            current = header_protocol
        if current != "tcp":
            continue
        try:
            records = list(iter_records([line_at(start)], protocol="tcp", byteorder=byteorder))
        except ParseError:
            continue
        ports.update(record.local_port for record in records if record.state == "LISTEN")
    return ports
