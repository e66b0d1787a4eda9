# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of ``lsof -nP -iTCP -FpcLnT`` output, the owner method of AIX hosts without kdb (or without root).

lsof is optional software on AIX (the AIX Toolbox installs ``/opt/freeware/bin/lsof``); IBM's rmsock technote
(isg3T1019570) recommends it to check which process holds a socket. ``-F`` prints one field per line, its first
character naming it, the same on every lsof dialect (lsof(8), "OUTPUT FOR OTHER PROGRAMS"):

* ``p<pid>`` starts a process set, ``c<command>``, ``L<login name>``;
* ``f<fd>`` starts a file (some lsof versions print it only when asked), ``n<name>`` is the socket's addresses:
  ``*:5555``, ``[::1]:6010``, ``127.0.0.1:36596->127.0.0.1:5555``; ``T<name>=<value>`` is TCP information
  (``TST=ESTABLISHED``, queue sizes).

Result: a list of ``{pid, process, user, local_address, local_port, remote_address, remote_port, state}``, one per
TCP socket of a process (a socket open in several processes appears once per process), addresses canonical as in
the connection records (``*`` for a wildcard, IPv4 for IPv4-mapped IPv6).
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import canonical_address, canonical_port

FORMAT_NAME = "aix_lsof"


def split_endpoint(text):
    """'*:5555' -> ('*', 5555); '[::1]:6010' -> ('::1', 6010); '10.0.0.1:22' -> ('10.0.0.1', 22)."""
    address, separator, port = text.rpartition(":")
    if not separator or not address:
        raise ValueError("%r is not address:port" % text)
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    return canonical_address(address), canonical_port(port)


def parse_name(text):
    """(local_address, local_port, remote_address, remote_port) of an lsof socket name."""
    local, _arrow, remote = text.partition("->")
    local_address, local_port = split_endpoint(local.split()[0])
    if remote:
        remote_address, remote_port = split_endpoint(remote.split()[0])
    else:
        remote_address, remote_port = "*", None
    return local_address, local_port, remote_address, remote_port


def parse(text):
    """The TCP sockets of lsof -F output (see the module docstring). Raises ParseError on a line lsof -F does not
    print (every line starts with a field letter) or a name that is no TCP address pair."""
    sockets = []
    process = {"pid": None, "process": None, "user": None}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        field, value = line[0], line[1:]
        if field == "p":
            if not value.isdigit():
                raise ParseError(FORMAT_NAME, number, line, "process id is not a number")
            process = {"pid": int(value), "process": None, "user": None}
            current = None
        elif field == "c":
            process["process"] = value
        elif field == "L":
            process["user"] = value
        elif field == "f":
            current = None
        elif field == "n":
            try:
                local_address, local_port, remote_address, remote_port = parse_name(value)
            except ValueError as error:
                raise ParseError(FORMAT_NAME, number, line, str(error)) from None
            current = dict(
                process,
                local_address=local_address,
                local_port=local_port,
                remote_address=remote_address,
                remote_port=remote_port,
                state=None,
            )
            sockets.append(current)
        elif field == "T":
            name, _equals, state = value.partition("=")
            if name == "ST" and current is not None:
                current["state"] = state.replace("SYN_RCVD", "SYN_RECEIVED")
        elif not field.isalpha():
            raise ParseError(FORMAT_NAME, number, line, "not an lsof -F field line")
    return sockets
