# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of Solaris / illumos ``pfiles <pid>...`` output (format ``sunos_pfiles``).

pfiles prints a ``<pid>:  <arguments>`` line per process, then one block per file descriptor::

       3: S_IFSOCK mode:0666 dev:374,0 ino:55360 uid:0 gid:0 size:0
          O_RDWR
            SOCK_STREAM
            SO_REUSEADDR,SO_KEEPALIVE,SO_SNDBUF(49152),SO_RCVBUF(49152)
            sockname: AF_INET 0.0.0.0  port: 1980
            peername: AF_INET 10.0.0.2  port: 40112

Every AF_INET/AF_INET6 socket becomes a connection record (protocol from SOCK_STREAM/SOCK_DGRAM, addresses from
sockname/peername, pid/process of its process) plus ``fd`` and ``options`` (as printed, e.g. ``SO_SNDBUF(49152)``).
keepalive is true when SO_KEEPALIVE is among the options, false when the options line lacks it, null when pfiles
printed no options line. pfiles shows no TCP state: state is LISTEN for a socket with SO_ACCEPTCONN, otherwise
null; ``connected`` says whether it has a peer. AF_UNIX and other sockets go to ``other_sockets``.

The result is ``{pid, process, command, sockets, other_sockets, processes}``. ``process`` is the first word of the
arguments as printed (``./main``, ``/usr/bin/java``), ``command`` the whole line. pid/process/command are those of
the process when the text holds exactly one (null for a ``grep`` excerpt without the ``<pid>:`` line);
``processes`` lists every process with its socket count, and each socket carries its own pid/process.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import (
    canonical_address,
    make_record,
    record_to_dict,
    socket_family,
)

FORMAT_NAME = "sunos_pfiles"

_PROCESS = re.compile(r"^(?:core '[^']*' of )?(\d+):\s+(.*?)\s*$")
_DESCRIPTOR = re.compile(r"^\s+(\d+): (S_IF\w+|\S+)")
_ADDRESS = re.compile(r"^(sockname|peername): (AF_\w+)(?:\s+(\S+))?(?:\s+port: (\d+))?\s*$")
_OPTIONS = re.compile(r"^[A-Z][A-Z0-9_]*(?:\([^)]*\))?(?:,[A-Z][A-Z0-9_]*(?:\([^)]*\))?)*$")
_SOCKET_TYPES = {"SOCK_STREAM": "tcp", "SOCK_DGRAM": "udp"}
_INTERNET = {"AF_INET": "inet", "AF_INET6": "inet6"}


class _Descriptor:
    def __init__(self, fd, kind, pid, process):
        self.fd = fd
        self.kind = kind
        self.pid = pid
        self.process = process
        self.socket_type = None
        self.options = None
        self.names = {}

    def to_entries(self):
        """(connection dict, None) for an Internet socket, (None, other dict) for another socket, else (None, None)."""
        if self.kind != "S_IFSOCK":
            return None, None
        local = self.names.get("sockname")
        peer = self.names.get("peername")
        domain = (local or peer or (None,))[0]
        protocol = _SOCKET_TYPES.get(self.socket_type)
        if domain not in _INTERNET or protocol is None:
            other = {"fd": self.fd, "family": domain, "type": self.socket_type, "options": self.options or []}
            if local and local[1]:
                other["path"] = local[1]
            if self.pid is not None:
                other["pid"] = self.pid
            return None, other
        local_address, local_port = (local[1], local[2]) if local else ("*", None)
        remote_address, remote_port = (peer[1], peer[2]) if peer else ("*", None)
        options = self.options or []
        names = [option.partition("(")[0] for option in options]
        state = "LISTEN" if protocol == "tcp" and "SO_ACCEPTCONN" in names else None
        keepalive = None if self.options is None else "SO_KEEPALIVE" in names
        family = socket_family(local_address, remote_address, _INTERNET[domain])
        record = make_record(
            protocol,
            family,
            local_address,
            local_port,
            remote_address,
            remote_port,
            state,
            keepalive=keepalive,
            pid=self.pid,
            process=self.process,
        )
        connection = record_to_dict(record)
        if protocol != "tcp":
            connection["keepalive"] = keepalive
        connection["fd"] = self.fd
        connection["options"] = options
        connection["connected"] = peer is not None
        return connection, None


def _process_name(arguments):
    """The process as it was started: the first word of its arguments as pfiles printed it (``./main``,
    ``/usr/bin/java``). Cutting it to a base name would hide which of two same-named programs holds a socket."""
    words = arguments.split()
    return words[0] if words else None


def parse(text):
    """The sockets of pfiles text (see the module docstring). Raises ParseError naming the line on text that is not
    pfiles output."""
    processes = []
    descriptors = []
    pid = process = None
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        header = _PROCESS.match(line)
        if header:
            pid, process = int(header.group(1)), _process_name(header.group(2))
            processes.append({"pid": pid, "process": process, "command": header.group(2), "socket_count": 0})
            current = None
            continue
        if line.startswith("pfiles:"):
            raise ParseError(FORMAT_NAME, number, line, "pfiles reported an error")
        descriptor = _DESCRIPTOR.match(line)
        if descriptor:
            current = _Descriptor(int(descriptor.group(1)), descriptor.group(2), pid, process)
            descriptors.append(current)
            continue
        if not line[:1].isspace():
            raise ParseError(FORMAT_NAME, number, line, "expected '<pid>:  <command>' or an indented descriptor line")
        stripped = line.strip()
        if current is None:
            if stripped.startswith("Current rlimit:") and processes:
                continue
            raise ParseError(FORMAT_NAME, number, line, "expected a descriptor line such as '   3: S_IFSOCK ...'")
        if current.kind != "S_IFSOCK":
            continue
        if stripped in _SOCKET_TYPES or stripped.startswith("SOCK_"):
            current.socket_type = stripped
            continue
        address = _ADDRESS.match(stripped)
        if address:
            kind, domain, address_text, port_text = address.groups()
            if domain in _INTERNET:
                try:
                    canonical = canonical_address(address_text or "")
                except ValueError as error:
                    raise ParseError(FORMAT_NAME, number, line, str(error)) from error
                port = int(port_text) if port_text else None
                current.names[kind] = (domain, canonical, port or None)
            else:
                current.names[kind] = (domain, address_text, None)
            continue
        if current.options is None and _OPTIONS.match(stripped) and "SO_" in stripped:
            current.options = stripped.split(",")
            continue
        # Open flags (O_RDWR ...), offset:, peer:, congestion control:, paths: not reported.
    if not descriptors:
        raise ParseError(FORMAT_NAME, 1, text.splitlines()[0] if text.strip() else "", "no file descriptor lines")
    sockets = []
    other_sockets = []
    counts = {}
    for descriptor in descriptors:
        connection, other = descriptor.to_entries()
        if connection is not None:
            sockets.append(connection)
            counts[descriptor.pid] = counts.get(descriptor.pid, 0) + 1
        elif other is not None:
            other_sockets.append(other)
    for entry in processes:
        entry["socket_count"] = counts.get(entry["pid"], 0)
    single = processes[0] if len(processes) == 1 else None
    return {
        "pid": single["pid"] if single else None,
        "process": single["process"] if single else None,
        "command": single["command"] if single else None,
        "sockets": sockets,
        "other_sockets": other_sockets,
        "processes": processes,
    }
