# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): the host's real Linux sockets, seen as a Solaris 11.4 host would show them.

Shared by the emulated Solaris commands of this test host (/usr/bin/netstat, /usr/bin/pfiles, /usr/bin/connstat,
/usr/sbin/ipadm, /usr/sbin/ndd). They run the host's real /usr/bin/python3, read the real
/proc/net/{tcp,tcp6,udp,udp6} of the host's network namespace and the real /proc/<pid>/fd owners, and print them
in the formats of the real samples in tests/unit/fixtures/sunos/. Nothing here is Solaris: see
tests/emulation/README.md for what it can and cannot show.
"""

from __future__ import annotations

import ipaddress
import os
import pwd

STATE_FILE_DIRECTORY = "/var/lib/netdiag-emulation/sunos"

# Linux /proc/net/tcp st (hex) -> Solaris netstat state. A bound, not listening, not connected Linux socket (CLOSE
# with a local port) is what Solaris calls BOUND.
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RCVD",
    "04": "FIN_WAIT_1",
    "05": "FIN_WAIT_2",
    "06": "TIME_WAIT",
    "07": "BOUND",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}
TABLES = (("tcp", "tcp", "inet"), ("tcp6", "tcp", "inet6"), ("udp", "udp", "inet"), ("udp6", "udp", "inet6"))


class Socket:
    __slots__ = (
        "protocol",
        "family",
        "local",
        "local_port",
        "remote",
        "remote_port",
        "state",
        "inode",
        "keepalive",
        "send_queue",
        "receive_queue",
    )


def _address(hex_text):
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    return ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def sockets():
    """Every TCP/UDP socket of the namespace, in /proc order. A connection of a dual-stack IPv6 socket with an
    IPv4 peer is shown in the IPv4 table with plain IPv4 addresses, as Solaris shows IPv4 connections."""
    found = []
    for table, protocol, family in TABLES:
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
                timer_active = fields[5].split(":")[0]
                item = Socket()
                item.protocol = protocol
                local, remote = _address(local_hex), _address(remote_hex)
                mapped = family == "inet6" and (local.ipv4_mapped or remote.ipv4_mapped) is not None
                if mapped:
                    local = local.ipv4_mapped or ipaddress.IPv4Address(0)
                    remote = remote.ipv4_mapped or ipaddress.IPv4Address(0)
                item.family = "inet" if mapped else family
                item.local, item.local_port = local, int(local_port_hex, 16)
                item.remote, item.remote_port = remote, int(remote_port_hex, 16)
                item.inode = int(fields[9])
                item.send_queue, item.receive_queue = int(tx_hex, 16), int(rx_hex, 16)
                if protocol == "tcp":
                    item.state = TCP_STATES.get(fields[3], "IDLE")
                    if item.state == "BOUND" and not item.local_port:
                        item.state = "IDLE"
                    # Linux arms the keepalive timer (timer_active 2) only on sockets with SO_KEEPALIVE.
                    item.keepalive = int(timer_active, 16) == 2
                else:
                    item.state = "Connected" if item.remote_port else ("Idle" if item.local_port else "Unbound")
                    item.keepalive = False
                found.append(item)
    return found


def processes():
    """[(pid, command name, user name, {fd: inode})] of this host's PID namespace, in pid order."""
    found = []
    names = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    for pid in names:
        try:
            with open("/proc/%d/comm" % pid) as handle:
                command = handle.read().strip()
            with open("/proc/%d/status" % pid) as handle:
                uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
            descriptors = os.listdir("/proc/%d/fd" % pid)
        except (OSError, StopIteration):
            continue
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        sockets_by_fd = {}
        for descriptor in descriptors:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, descriptor))
            except OSError:
                continue
            if target.startswith("socket:["):
                sockets_by_fd[int(descriptor)] = int(target[8:-1])
        found.append((pid, command, user, sockets_by_fd))
    return found


def holders():
    """{inode: [(pid, command, user)]} in pid order."""
    found = {}
    for pid, command, user, sockets_by_fd in processes():
        for inode in sorted(set(sockets_by_fd.values())):
            found.setdefault(inode, []).append((pid, command, user))
    return found


def address_text(address, port):
    """Solaris netstat's address.port: '      *' for a wildcard address (as netstat.c pads it), '*' port 0."""
    host = "      *" if address.is_unspecified else str(address)
    return "%s.%s" % (host, port if port else "*")


def sysctl(name, default):
    try:
        with open("/proc/sys/net/ipv4/" + name) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def keepalive_milliseconds():
    """Solaris tunables in milliseconds from this namespace's Linux keepalive sysctls: the idle time before the
    first probe is tcp_keepalive_time; the abort interval (how long Solaris probes before it drops the connection)
    is what Linux probes for: tcp_keepalive_intvl * tcp_keepalive_probes."""
    idle = sysctl("tcp_keepalive_time", 7200) * 1000
    abort = sysctl("tcp_keepalive_intvl", 75) * sysctl("tcp_keepalive_probes", 9) * 1000
    return {"tcp_keepalive_interval": idle, "tcp_keepalive_abort_interval": abort}


def record_run(command, arguments):
    """Leave a trace that a command with side effects on a real Solaris host ran (tests assert it did not)."""
    os.makedirs(STATE_FILE_DIRECTORY, exist_ok=True)
    with open(os.path.join(STATE_FILE_DIRECTORY, command + "-ran"), "a") as handle:
        handle.write(" ".join(arguments) + "\n")
