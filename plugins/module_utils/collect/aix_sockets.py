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
* ``lsof`` (AIX Toolbox, optional): when kdb cannot run (not root, missing, failing), one
  ``lsof -nP -iTCP -FpcLnT`` run; its sockets are matched to the netstat rows by their addresses and ports. It
  gives pid, process and user, no keepalive. Without root it sees only the caller's own processes.
* ``procfiles -n`` is not used (one process per PID).

The selected TCP sockets (at most ``max_connections`` of them, TIME_WAIT and CLOSED left out: no process holds
them) are looked up; the rest keep an unknown owner and keepalive. rmsock gets the selected TCP sockets but the
CLOSED ones (IBM technote isg3T1019570), at most ``max_connections``.
"""

from __future__ import annotations

import os

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import lsof as aix_lsof
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.aix.netstat import (
    iter_rows,
    summarize_with_pcb,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.collect.base import NetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

NETSTAT_ARGS = ("-Aan",)
LSOF_ARGS = ("-nP", "-iTCP", "-FpcLnT")
KEEPALIVE_TUNABLES = aix_no.KEEPALIVE_TUNABLES
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
            candidates = self.sockets_to_look_up(rows, selection, max_connections, RMSOCK_SKIPPED_STATES)
            self.remove_unheld([pcb for _record, pcb in candidates], facts)
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
        """(record, pcb) of the selected TCP sockets not in skipped_states, in table order, at most max_connections."""
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
                found.append((record, pcb))
        return found

    @staticmethod
    def with_facts(row, facts):
        record, pcb, cut = row
        extra = facts.get(pcb_key(pcb)) if pcb else None
        if not extra:
            return row
        changes = {name: extra[name] for name in ("pid", "process", "user", "keepalive") if extra.get(name) is not None}
        return (record._replace(**changes), pcb, cut) if changes else row

    # --- owners and per-socket keepalive: kdb -----------------------------------------------------------------

    def read_owners(self, sockets, facts):
        """Fill facts {pcb key: {pid, process, user, keepalive}} with the best read-only method that runs (kdb,
        else lsof); return the owner_method dictionary (which ran, or why none did)."""
        method = {"name": None, "ran": False, "sockets": len(sockets), "reason": None}
        if not sockets:
            method["reason"] = "no selected TCP socket that a process can hold"
            return method
        reasons = []
        for name, reader in (("kdb", self.read_kdb), ("lsof", self.read_lsof)):
            try:
                found, command = reader(sockets, facts)
            except CommandError as error:
                reasons.append(str(error))
                continue
            method.update(name=name, ran=True, command=command, sockets_found=found)
            break
        method["reason"] = "; ".join(reasons) or None
        return method

    def read_kdb(self, sockets, facts):
        """kdb sockinfo <pcb> tcpcb for every socket, in one kdb process (root only). Returns (found, command)."""
        if not self.is_root:
            raise CommandError("kdb sockinfo needs root (become)")
        argv = [self.binary("kdb")]
        commands = "".join("sockinfo %s tcpcb\n" % pcb for _record, pcb in sockets) + "quit\n"
        text = self.run(argv, data=commands)
        try:
            answers = aix_kdb_sockinfo.parse(text)["sockets"]
        except ParseError as error:
            raise CommandError("kdb printed no sockinfo: %s" % error) from None
        wanted = {pcb_key(pcb) for _record, pcb in sockets}
        found = 0
        for answer in answers:
            if answer["tcpcb"] is None or pcb_key(answer["tcpcb"]) not in wanted:
                continue
            found += 1
            facts[pcb_key(answer["tcpcb"])] = {
                "pid": answer["pid"],
                "process": answer["process"],
                "keepalive": answer["keepalive"],
            }
        return found, "%s (stdin: sockinfo <pcb> tcpcb for %d sockets)" % (argv[0], len(sockets))

    def read_lsof(self, sockets, facts):
        """One lsof run over every TCP socket; matched to the rows by addresses and ports. Returns (found, command)."""
        argv = [self.binary("lsof"), *LSOF_ARGS]
        rc, stdout, stderr = self.run_command(argv, data=None)
        if rc != 0 and stdout.strip() == "":
            # lsof exits 1 when it found nothing to list (e.g. no TCP socket of the caller's processes).
            if rc == 1 and not stderr.strip():
                return 0, " ".join(argv)
            raise CommandError("%s failed (rc=%d): %s" % (" ".join(argv), rc, stderr.strip()[:500]))
        try:
            owners = aix_lsof.parse(stdout)
        except ParseError as error:
            raise CommandError("%s: %s" % (" ".join(argv), error)) from None
        by_tuple = {}
        for owner in owners:
            key = (owner["local_address"], owner["local_port"], owner["remote_address"], owner["remote_port"])
            by_tuple.setdefault(key, owner)
        found = 0
        for record, pcb in sockets:
            owner = by_tuple.get((record.local_address, record.local_port, record.remote_address, record.remote_port))
            if owner is None:
                continue
            found += 1
            facts[pcb_key(pcb)] = {"pid": owner["pid"], "process": owner["process"], "user": owner["user"]}
        return found, " ".join(argv)

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
        keepalive = aix_no.keepalive_from_tunables({}, None)
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
        return aix_no.keepalive_from_tunables(tunables, keepalive["source"])
