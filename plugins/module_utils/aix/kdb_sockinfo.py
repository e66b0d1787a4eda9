# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser of AIX ``kdb`` ``sockinfo <address> tcpcb`` output (format ``aix_kdb_sockinfo``).

kdb prints structures as ``name....... value (decoded)`` fields, several per line, under section lines such as
``---- TCPCB ----(@ F1000610003F0360)----`` and ``---- SOCKET INFO ----(@ ...)----``. Values are hexadecimal.
A capture may also hold the kdb start-up banner, ``(0)>`` / ``KDB(0)>`` prompts, ``sock tcp -s`` listings and
``grep`` excerpts (the 2012 incident pasted only the ``t_timer ... (TCPT_KEEP)`` and ``opts`` lines, with the
author's ``==>`` notes after them); all of that is accepted. Lines the parser does not know are ignored, because
sockinfo prints many structures (socket buffers, owning process table) this format does not report; a text
without any tcpcb or socket field is a ParseError naming its first line.

Result: ``{state, timers: {TCPT_...: int}, options: [...], keepalive, keepalive_evidence, ...}`` for the first
socket in the text, and ``sockets``, the same dictionaries for every socket the text shows.

keepalive (SO_KEEPALIVE set on the socket) is decided in this order:

1. ``opts`` of the socket (``opts........ 0004 (REUSEADDR)``): true when KEEPALIVE is among the decoded names
   or bit 0x0008 (SO_KEEPALIVE) is set, false otherwise. This is the socket option itself, so it wins.
2. Without ``opts``, the TCPT_KEEP timer: non-zero means a keepalive timer is armed -> true; but in SYN_SENT and
   SYN_RECEIVED the same timer is the connection-establishment timeout (tcp_keepinit), so it proves nothing there.
   A zero timer without ``opts`` leaves keepalive null: the text does not show the option.
3. Otherwise null.

``keepalive_evidence`` says which rule decided (``options``, ``timer`` or null).

Owner: after the SOCKET INFO section sockinfo lists the processes that have the socket open, each as
``proc/fd: <slot>/<fd>`` and a row of kdb's process table (``pvproc+00F000   60*writesrv ACTIVE 03100AA 02C0082
...``: slot*name, state, PID and PPID in hexadecimal). Those become ``owners`` (``[{pid, process, fd}]``) and the
first one ``pid``/``process``; a socket that no process has open (held by the kernel, or orphaned) has none.
The layout of these lines is taken from a published kdb session (unixfellas.wordpress.com, 2017-05-13, "How to
know witch process is running in a particular port on AIX using KDB", where rmsock named the same process,
writesrv pid 3211434 = 0x3100AA); the repository has no captured copy of that part, so the unit tests exercise it
with the emulated kdb's output (tests/emulation/aix), which prints the same layout.
"""

from __future__ import annotations

import re

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

FORMAT_NAME = "aix_kdb_sockinfo"

# t_state values of the BSD-derived AIX TCP (netinet/tcp_fsm.h) -> the state names of the facts.
TCP_STATES_BY_CODE = (
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "ESTABLISHED",
    "CLOSE_WAIT",
    "FIN_WAIT_1",
    "CLOSING",
    "LAST_ACK",
    "FIN_WAIT_2",
    "TIME_WAIT",
)
_STATE_SPELLINGS = {"SYN_RCVD": "SYN_RECEIVED"}
SO_KEEPALIVE = 0x0008
_ESTABLISHING = frozenset(("SYN_SENT", "SYN_RECEIVED"))

# name....... [@]value [(decoded)]; several per line. The name starts only where no name character precedes it
# and the decoded part stops at the next '(': every character is scanned a bounded number of times, so a long word
# or a line of '(' in hostile text costs linear time (without the look-behind, findall on a 32 KB word took 4.8 s).
_FIELD = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\.{2,}\s*(@\s*)?([0-9A-Fa-f]+)\b(?:\s+\(([^()]*)\))?")
# The end of a section line, "--(@ F1000610003F0360)----"; the title before it is cut with str methods (see
# _section): the single pattern with a lazy title between two runs of dashes was cubic on a line of dashes.
_SECTION_END = re.compile(r"\(@\s*([0-9A-Fa-f]+)\)[-\s]*$")
_PROMPT = re.compile(r"^\s*(?:KDB)?\(\d+\)>\s*")
# A subcommand echoed after a prompt ("(0)> sockinfo f1000... tcpcb"): not output.
_COMMAND = re.compile(r"^(?:sockinfo|si|sock|q|quit)\b")
_PROC_FD = re.compile(r"^\s*proc/fd:\s*(\d+)/(\d+)\s*$")
# kdb process table row: pvproc+OFFSET  SLOT*NAME STATE PID PPID ... (PID, PPID hexadecimal)
_PROC_ROW = re.compile(r"^\s*pvproc\+[0-9A-Fa-f]+\s+(\d+)\*(\S+)\s+([A-Z]+)\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\b")
# The kdb start-up banner: the symbol table ("START END <name>", "<hex> <hex> symbol+offset") and driver notes.
_BANNER = re.compile(r"^\s*(?:START\s+END\b|[0-9A-Fa-f]{8,16}\s+[0-9A-Fa-f]{8,16}\s|read \S+ OK\b)")


def _section(line):
    """(TITLE in upper case, address) of a section line "---- TCPCB ----(@ F1000610003F0360)----", else None: at
    least two dashes, the title, at least two dashes, "(@ address)", dashes."""
    if not line.startswith("--"):
        return None
    end = _SECTION_END.search(line)
    if end is None:
        return None
    head = line[: end.start()].rstrip()
    if len(head) < 4 or not head.endswith("--"):
        return None
    return head.strip("-").strip().upper(), end.group(1)


def _new_socket():
    return {
        "state": None,
        "state_code": None,
        "timers": {},
        "options": [],
        "options_code": None,
        "keepalive": None,
        "keepalive_evidence": None,
        "tcpcb": None,
        "socket": None,
        "pid": None,
        "process": None,
        "owners": [],
    }


def _state_name(code, decoded):
    if decoded:
        name = decoded.strip().upper()
        return _STATE_SPELLINGS.get(name, name)
    if 0 <= code < len(TCP_STATES_BY_CODE):
        return TCP_STATES_BY_CODE[code]
    return None


def _decide_keepalive(socket):
    if socket["options_code"] is not None:
        socket["keepalive"] = "KEEPALIVE" in socket["options"] or bool(socket["options_code"] & SO_KEEPALIVE)
        socket["keepalive_evidence"] = "options"
    elif socket["timers"].get("TCPT_KEEP") and socket["state"] not in _ESTABLISHING:
        socket["keepalive"] = True
        socket["keepalive_evidence"] = "timer"


def parse(text):
    """The tcpcb/socket facts of kdb sockinfo text (see the module docstring). Raises ParseError when the text has
    no tcpcb or socket field at all."""
    sockets = []
    current = None
    first_unknown = None
    descriptors = {}  # slot -> fd of the proc/fd lines seen since the last process row
    for number, line in enumerate(text.splitlines(), 1):
        prompt = _PROMPT.match(line)
        if prompt:
            line = line[prompt.end() :]
            if _COMMAND.match(line):
                continue
        if not line.strip() or _BANNER.match(line):
            continue
        if current is not None:
            proc_fd = _PROC_FD.match(line)
            if proc_fd:
                descriptors[int(proc_fd.group(1))] = int(proc_fd.group(2))
                continue
            row = _PROC_ROW.match(line)
            if row:
                owner = {
                    "pid": int(row.group(4), 16),
                    "process": row.group(2),
                    "fd": descriptors.pop(int(row.group(1)), None),
                }
                current["owners"].append(owner)
                if current["pid"] is None:
                    current["pid"], current["process"] = owner["pid"], owner["process"]
                continue
        section = _section(line.strip())
        if section:
            title, address = section
            if "TCPCB" in title:
                if current is None or current["tcpcb"] is not None or current["state_code"] is not None:
                    current = _new_socket()
                    sockets.append(current)
                current["tcpcb"] = "0x" + address.lower()
            elif "SOCKET" in title:
                if current is None or current["socket"] is not None or current["options_code"] is not None:
                    current = _new_socket()
                    sockets.append(current)
                current["socket"] = "0x" + address.lower()
            continue
        recognised = False
        for name, _at, value, decoded in _FIELD.findall(line):
            if name == "t_state":
                if current is None or current["state_code"] is not None:
                    current = _new_socket()
                    sockets.append(current)
                code = int(value, 16)
                current["state_code"] = code
                current["state"] = _state_name(code, decoded)
                recognised = True
            elif name == "t_timer":
                if current is None:
                    current = _new_socket()
                    sockets.append(current)
                timer = decoded.strip() if decoded else "t_timer_%d" % len(current["timers"])
                current["timers"][timer] = int(value, 16)
                recognised = True
            elif name == "opts":
                if current is None or current["options_code"] is not None:
                    current = _new_socket()
                    sockets.append(current)
                current["options_code"] = int(value, 16)
                current["options"] = [option.strip() for option in (decoded or "").split("|") if option.strip()]
                recognised = True
        if not recognised and first_unknown is None:
            first_unknown = (number, line)
    if not sockets:
        number, line = first_unknown or (1, text[:200])
        raise ParseError(FORMAT_NAME, number, line, "no tcpcb or socket field (t_state, t_timer, opts) in the text")
    for socket in sockets:
        _decide_keepalive(socket)
    result = dict(sockets[0])
    result["sockets"] = sockets
    return result
