# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): the host's real Linux sockets, seen as an AIX 7.3 host would show them.

Shared by the emulated AIX commands of this test host (/usr/bin/netstat, /usr/sbin/rmsock, /usr/sbin/kdb,
/usr/sbin/no). They run the host's real /usr/bin/python3, read the real /proc/net/{tcp,tcp6,udp,udp6} of the host's
network namespace and its real /proc/<pid>/fd owners, and print them in the formats of the real AIX samples in
tests/unit/fixtures/aix/. Nothing here is AIX: see tests/emulation/README.md for what it can and cannot show.

PCB addresses are made up but stable: derived from the socket's inode (or, for inode-less sockets such as
TIME_WAIT, from a CRC of its addresses), in the shape of AIX 7.3 kernel addresses (f1000f....).
"""

from __future__ import annotations

import ipaddress
import os
import zlib

REMOVED_FILE = "/var/lib/netdiag-emulation/aix/removed-pcbs"
# Every rmsock call is logged here, so tests can prove which sockets were (or were never) given to rmsock.
RMSOCK_LOG = "/var/lib/netdiag-emulation/aix/rmsock-calls"

# Linux /proc/net/tcp st (hex) -> BSD/AIX state name as AIX netstat prints it, and its t_state code.
STATES = {
    "01": ("ESTABLISHED", 4),
    "02": ("SYN_SENT", 2),
    "03": ("SYN_RCVD", 3),
    "04": ("FIN_WAIT_1", 6),
    "05": ("FIN_WAIT_2", 9),
    "06": ("TIME_WAIT", 10),
    "07": ("CLOSED", 0),
    "08": ("CLOSE_WAIT", 5),
    "09": ("LAST_ACK", 8),
    "0A": ("LISTEN", 1),
    "0B": ("CLOSING", 7),
}
TABLES = (("tcp", "tcp4"), ("tcp6", "tcp6"), ("udp", "udp4"), ("udp6", "udp6"))
TCP_PCB_SUFFIX = 0x3C0  # AIX 7.3 tcp PCBs in the real sample end in 3c0/bc0; udp ones in 600/e00
UDP_PCB_SUFFIX = 0x600
SOCKET_SUFFIX = 0x008  # rmsock names the socket structure, which sits below the PCB (real: ...203b8 -> ...20008)
USER_HZ = 100


class Socket:
    __slots__ = (
        "proto",
        "local",
        "local_port",
        "remote",
        "remote_port",
        "state",
        "state_code",
        "inode",
        "keepalive",
        "keep_ticks",
        "send_queue",
        "receive_queue",
        "pcb",
        "socket_address",
    )


def _address(hex_text):
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        parsed = ipaddress.IPv4Address(raw[::-1])
    else:
        parsed = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        if parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # AIX prints the IPv4 peer of a tcp6 socket as plain IPv4
    return "*" if parsed.is_unspecified else str(parsed)


def _pcb(key, suffix):
    return 0xF1000F0000000000 | ((key & 0x0FFFFFFF) << 12) | suffix


def removed_pcbs():
    try:
        with open(REMOVED_FILE) as handle:
            return {line.strip() for line in handle if line.strip()}
    except FileNotFoundError:
        return set()


def record_removed(pcb_text):
    os.makedirs(os.path.dirname(REMOVED_FILE), exist_ok=True)
    with open(REMOVED_FILE, "a") as handle:
        handle.write(pcb_text + "\n")


def log_rmsock_call(arguments):
    os.makedirs(os.path.dirname(RMSOCK_LOG), exist_ok=True)
    with open(RMSOCK_LOG, "a") as handle:
        handle.write(" ".join(arguments) + "\n")


def sockets(include_removed=False):
    """Every TCP/UDP socket of the namespace as Socket objects, in /proc order (tcp, tcp6, udp, udp6)."""
    removed = set() if include_removed else removed_pcbs()
    found = []
    for table, proto in TABLES:
        path = "/proc/net/" + table
        if not os.path.exists(path):
            continue
        with open(path) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                local_hex, local_port_hex = fields[1].split(":")
                remote_hex, remote_port_hex = fields[2].split(":")
                tx_hex, rx_hex = fields[4].split(":")
                timer_active, timer_when = fields[5].split(":")
                item = Socket()
                item.proto = proto
                item.local, item.local_port = _address(local_hex), int(local_port_hex, 16)
                item.remote, item.remote_port = _address(remote_hex), int(remote_port_hex, 16)
                item.inode = int(fields[9])
                item.send_queue, item.receive_queue = int(tx_hex, 16), int(rx_hex, 16)
                if proto.startswith("tcp"):
                    item.state, item.state_code = STATES.get(fields[3], ("CLOSED", 0))
                    # Linux arms the keepalive timer (timer_active 2) only on sockets with SO_KEEPALIVE.
                    item.keepalive = int(timer_active, 16) == 2
                    item.keep_ticks = int(timer_when, 16) * 2 // USER_HZ if item.keepalive else 0
                else:
                    item.state, item.state_code, item.keepalive, item.keep_ticks = None, None, False, 0
                key = item.inode
                if not key:
                    text = "%s|%s|%d|%s|%d" % (proto, item.local, item.local_port, item.remote, item.remote_port)
                    key = zlib.crc32(text.encode()) | 0x08000000  # apart from inode-derived keys of young hosts
                base = _pcb(key, 0)
                suffix = TCP_PCB_SUFFIX if proto.startswith("tcp") else UDP_PCB_SUFFIX
                item.pcb = "%016x" % (base | suffix)
                item.socket_address = "%x" % (base | SOCKET_SUFFIX)
                if item.pcb not in removed:
                    found.append(item)
    return found


def find(pcb_text):
    wanted = pcb_text.lower()
    if wanted.startswith("0x"):
        wanted = wanted[2:]
    wanted = wanted.rjust(16, "0")
    for item in sockets():
        if item.pcb == wanted:
            return item
    return None


def owners():
    """{inode: [(pid, fd, command name)]} from /proc/<pid>/fd of this host's PID namespace."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % name) as handle:
                command = handle.read().strip()
            descriptors = os.listdir("/proc/%s/fd" % name)
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink("/proc/%s/fd/%s" % (name, descriptor))
            except OSError:
                continue
            if target.startswith("socket:["):
                found.setdefault(int(target[8:-1]), []).append((int(name), int(descriptor), command))
    return found


def endpoint(address, port):
    """AIX netstat's address.port ('*.22', '192.0.2.1.5555', '*.*')."""
    return "%s.%s" % (address, port if port else "*")
