# SPDX-License-Identifier: GPL-3.0-or-later
"""AIX socket-table collector: ``netstat -Aan`` (every socket with its PCB), owners and keepalive from kdb,
keepalive defaults from ``no``, and IBM's ``rmsock`` only when explicitly asked for.

Commands run through the ``run_command(argv, data=None) -> (rc, stdout, stderr)`` callable the module gives (C
locale, argv lists, binaries located with ``get_bin_path``), so tests replace exactly that boundary.

Owners, read-only (``owners: true``, the default). What exists on AIX 6.1-7.3 (see docs/aix.md):

* ``kdb`` (root only): ``sockinfo <pcb> tcpcb`` prints the TCPCB (t_state, t_timer with TCPT_KEEP), the socket's
  ``opts`` (KEEPALIVE) and the processes that hold it. kdb reads subcommands from standard input, so all selected
  sockets are asked in one kdb process (never a process per socket). kdb only reads kernel memory.
* ``rmsock`` also names the holder, but removes the socket when no process holds it: it is not an owner method;
  it runs only with ``aix_rmsock: true`` (never in check mode).
* ``procfiles -n`` and the AIX Toolbox ``lsof`` are not used yet (per-process, and optional software).

The selected TCP sockets (at most ``max_connections`` of them, TIME_WAIT and CLOSED left out: no process holds
them) are looked up; the rest keep an unknown owner and keepalive. rmsock gets the selected TCP sockets but the
CLOSED ones (IBM technote isg3T1019570), at most ``max_connections``.
"""

from __future__ import annotations

import os

from ansible_collections.netdiag.tcp.plugins.module_utils import aix_kdb_sockinfo, aix_no, aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.aix_netstat import (
    iter_rows,
    summarize_with_pcb,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.netstat_collector import NetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.parse_error import ParseError

NETSTAT_ARGS = ("-Aan",)
KEEPALIVE_TUNABLES = ("tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt")
# States in which no process holds a socket any more: kdb has no owner to show.
UNHELD_STATES = frozenset(("TIME_WAIT", "CLOSED"))
# IBM technote isg3T1019570: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT and CLOSING are rmsock's candidates; CLOSED is not
# (nor CLOSE_WAIT, which a process still holds: rmsock only names it).
RMSOCK_SKIPPED_STATES = frozenset(("CLOSED",))


class CommandError(OSError):
    """A command that is missing or failed; the message names it."""


def pcb_key(text):
    """Compare PCB / kernel addresses whatever their spelling: 'F1000F00002D8BC0', '0xf1000f00002d8bc0'."""
    return int(text, 16)


class AixNetstatCollector(NetstatCollector):
    platform = "AIX"
    runs_commands = True

    def __init__(self, run_command, get_bin_path, options=None, check_mode=False, is_root=None):
        self.run_command = run_command
        self.get_bin_path = get_bin_path
        self.aix_rmsock = bool((options or {}).get("aix_rmsock"))
        self.check_mode = check_mode
        self.is_root = os.geteuid() == 0 if is_root is None else is_root
        self.changed = False
        self.aix = {}

    # --- commands ---------------------------------------------------------------------------------------------

    def binary(self, name):
        path = self.get_bin_path(name)
        if not path:
            raise CommandError("%s: command not found" % name)
        return path

    def run(self, argv, data=None):
        rc, stdout, stderr = self.run_command(list(argv), data=data)
        if rc != 0:
            raise CommandError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (stderr or stdout).strip()[:500]))
        return stdout

    # --- collect ----------------------------------------------------------------------------------------------

    def collect(
        self,
        selection,
        max_connections=1000,
        protocols=("tcp", "udp"),
        families=("inet", "inet6"),
        owners=True,
        **summary_options,
    ):
        argv = [self.binary("netstat"), *NETSTAT_ARGS]
        text = self.run(argv)
        wanted = {(protocol, family) for protocol in protocols for family in families}
        try:
            rows = [row for row in iter_rows(text.splitlines()) if (row[0].protocol, row[0].family) in wanted]
        except ParseError as error:
            raise CommandError("%s: %s" % (" ".join(argv), error)) from None
        listening = {row[0].local_port for row in rows if row[0].state == "LISTEN"}
        listening.discard(None)
        facts = {}
        owner_method = None
        if owners:
            owner_method = self.read_owners(
                self.sockets_to_look_up(rows, selection, max_connections, UNHELD_STATES), facts
            )
        if self.aix_rmsock:
            self.remove_unheld(self.sockets_to_look_up(rows, selection, max_connections, RMSOCK_SKIPPED_STATES), facts)
        rows = [self.with_facts(row, facts) for row in rows]
        netstat = summarize_with_pcb(rows, selection, max_connections, listening, **summary_options)
        for connection in netstat["connections"]:
            extra = facts.get(pcb_key(connection["pcb"])) if connection.get("pcb") else None
            if extra and extra.get("rmsock"):
                connection["rmsock"] = extra["rmsock"]
        netstat["platform"] = self.platform
        netstat["sources"] = [" ".join(argv)]
        if owners:
            netstat["owner_method"] = owner_method
        return netstat, self.read_keepalive()

    @staticmethod
    def sockets_to_look_up(rows, selection, max_connections, skipped_states):
        """PCBs of the selected TCP sockets not in skipped_states, in table order, at most max_connections."""
        selects_all = selection is None or selection.selects_all
        found = []
        for record, pcb, _cut in rows:
            if max_connections is not None and len(found) >= max_connections:
                break
            if record.protocol != "tcp" or pcb is None or record.state in skipped_states:
                continue
            if selects_all or (
                selection.state_selected(record.state)
                and selection.port_selected(record.local_port, record.remote_port)
                and selection.peer_selected(record.remote_address)
            ):
                found.append(pcb)
        return found

    @staticmethod
    def with_facts(row, facts):
        record, pcb, cut = row
        extra = facts.get(pcb_key(pcb)) if pcb else None
        if not extra:
            return row
        changes = {name: extra[name] for name in ("pid", "process", "keepalive") if extra.get(name) is not None}
        return (record._replace(**changes), pcb, cut) if changes else row

    # --- owners and per-socket keepalive: kdb -----------------------------------------------------------------

    def read_owners(self, pcbs, facts):
        """Fill facts {pcb key: {pid, process, keepalive}} from kdb; return the owner_method dictionary."""
        method = {"name": "kdb", "ran": False, "sockets": len(pcbs), "reason": None}
        if not self.is_root:
            method.update(name=None, reason="kdb sockinfo needs root (become); owners and keepalive are unknown")
            return method
        if not pcbs:
            method["reason"] = "no selected TCP socket that a process can hold"
            return method
        try:
            argv = [self.binary("kdb")]
            commands = "".join("sockinfo %s tcpcb\n" % pcb for pcb in pcbs) + "quit\n"
            text = self.run(argv, data=commands)
        except CommandError as error:
            method.update(name=None, reason=str(error))
            return method
        method["ran"] = True
        method["command"] = "kdb (stdin: sockinfo <pcb> tcpcb for %d sockets)" % len(pcbs)
        try:
            sockets = aix_kdb_sockinfo.parse(text)["sockets"]
        except ParseError as error:
            method["reason"] = "kdb printed no sockinfo: %s" % error
            return method
        wanted = {pcb_key(pcb) for pcb in pcbs}
        found = 0
        for socket in sockets:
            if socket["tcpcb"] is None or pcb_key(socket["tcpcb"]) not in wanted:
                continue
            found += 1
            facts[pcb_key(socket["tcpcb"])] = {
                "pid": socket["pid"],
                "process": socket["process"],
                "keepalive": socket["keepalive"],
            }
        method["sockets_found"] = found
        return method

    # --- rmsock (opt-in, changes the host) --------------------------------------------------------------------

    def remove_unheld(self, pcbs, facts):
        """rmsock <pcb> tcpcb for each selected socket: owners of held ones, removal of the others."""
        rmsock = self.binary("rmsock")
        commands = [[rmsock, pcb, "tcpcb"] for pcb in pcbs]
        if self.check_mode:
            self.aix["rmsock"] = {"ran": False, "check_mode": True, "would_run": commands, "results": []}
            return
        results, removed = [], []
        for argv in commands:
            rc, stdout, stderr = self.run_command(argv, data=None)
            lines = [line for line in stdout.splitlines() if line.strip()]
            try:
                result = aix_rmsock.parse_line(lines[0]) if lines else None
            except ParseError as error:
                result = None
                stderr = "%s; %s" % (error, stderr)
            if result is None:
                result = {
                    "socket": None,
                    "held_by": "error",
                    "pid": None,
                    "process": None,
                    "error": "%s: rc=%d %s" % (" ".join(argv), rc, (stderr or "no output").strip()[:300]),
                    "errno": None,
                }
            result["pcb"] = argv[1]
            results.append(result)
            entry = facts.setdefault(pcb_key(argv[1]), {})
            entry["rmsock"] = result["held_by"]
            if result["held_by"] == "process" and entry.get("pid") is None:
                entry["pid"], entry["process"] = result["pid"], result["process"]
            if result["held_by"] == "removed":
                removed.append(argv[1])
        self.changed = bool(removed)
        counts = dict.fromkeys(aix_rmsock.HELD_BY, 0)
        for result in results:
            counts[result["held_by"]] += 1
        self.aix["rmsock"] = {"ran": True, "results": results, "removed": removed, "held_by_counts": counts}

    # --- keepalive defaults: no -------------------------------------------------------------------------------

    def read_keepalive(self):
        """netdiag.keepalive in seconds from AIX tunables (tcp_keepidle/tcp_keepintvl count half-seconds)."""
        keepalive = {"time": None, "intvl": None, "probes": None, "source": None}
        try:
            no = self.binary("no")
        except CommandError as error:
            keepalive["error"] = str(error)
            return keepalive
        argv = [no]
        for name in KEEPALIVE_TUNABLES:
            argv += ["-o", name]
        tunables, errors = None, []
        for attempt in (argv, [no, "-a"]):
            try:
                tunables = aix_no.parse(self.run(attempt))["tunables"]
            except (CommandError, ParseError) as error:
                errors.append(str(error))
                continue
            keepalive["source"] = " ".join(attempt)
            break
        if tunables is None:
            keepalive["error"] = "; ".join(errors)
            return keepalive
        raw = {name: tunables.get(name) for name in KEEPALIVE_TUNABLES}
        keepalive.update(raw)
        keepalive["time"] = half_seconds(raw["tcp_keepidle"])
        keepalive["intvl"] = half_seconds(raw["tcp_keepintvl"])
        keepalive["probes"] = raw["tcp_keepcnt"] if isinstance(raw["tcp_keepcnt"], int) else None
        return keepalive


def half_seconds(value):
    """AIX tcp_keepidle/tcp_keepintvl are in half-seconds: 14400 -> 7200 seconds (None when not a number)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value // 2 if value % 2 == 0 else value / 2.0
