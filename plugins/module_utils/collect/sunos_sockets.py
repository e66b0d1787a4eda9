# SPDX-License-Identifier: GPL-3.0-or-later
"""Solaris and illumos socket-table collector: ``netstat -anu`` (owners), else ``netstat -an``; optional pfiles and
connstat; keepalive defaults from ipadm or ndd.

Owners come without side effects from ``netstat -u`` (Solaris 11.2+ and illumos print User, Pid and Command per
socket). Whether it works is found by trying it, not from the release number: a netstat that rejects ``-u``
(Solaris 10, older illumos) exits non-zero with its usage text, and ``netstat -an`` is read instead, with owners
null and the reason in ``netdiag.sunos.owners``.

``pfiles`` stops each process it inspects while it reads the process' descriptors (proc(1)), so it runs only when
the caller asks for it (``sunos_pfiles``), never in check mode, and only on the processes that hold the selected
sockets (at most ``max_connections`` of them). Where netstat knows no owners (Solaris 10) the holders are unknown
beforehand, so pfiles inspects the host's processes in pid order, again at most ``max_connections`` of them. Where it
runs it adds SO_KEEPALIVE per socket (``keepalive``) and, on Solaris 10, the owning pid and process.

``connstat`` (illumos, Solaris 11.4) only reads kernel counters; it runs when asked (``sunos_connstat``).

Commands run through the ``run_command(argv) -> (rc, stdout, stderr)`` and ``get_bin_path(name)`` callables the
module passes in (C locale), so tests replace exactly that boundary.
"""

from __future__ import annotations

import os

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.base import NetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import Summary
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import connstat as sunos_connstat
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import pfiles as sunos_pfiles
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos.keepalive import read_keepalive_settings

# pids per pfiles call: one process at a time would spawn a process per socket holder; all at once could exceed
# the argument list limit on hosts with thousands of holders.
PFILES_BATCH = 100


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


class SunosNetstatCollector(NetstatCollector):
    """After collect(), ``sunos`` holds the ``netdiag.sunos`` section (owners, pfiles, connstat, root)."""

    platform = "SunOS"
    runs_commands = True  # the module passes run_command/get_bin_path (see netstat_facts.new_collector)

    def __init__(self, run_command, get_bin_path, options=None, check_mode=False, proc_root="/proc", euid=None):
        options = options or {}
        self.run_command = run_command
        self.get_bin_path = get_bin_path
        self.pfiles = bool(options.get("sunos_pfiles"))
        self.connstat = bool(options.get("sunos_connstat"))
        self.check_mode = check_mode
        self.proc_root = proc_root
        self.euid = os.geteuid() if euid is None else euid
        self.sunos = {}

    def collect(
        self,
        selection,
        max_connections=1000,
        protocols=("tcp", "udp"),
        families=("inet", "inet6"),
        owners=True,
        **summary_options,
    ):
        facts = self.sunos = {"root": self.euid == 0}
        netstat = self.get_bin_path("netstat")
        if not netstat:
            raise OSError("netstat not found in PATH, /usr/bin or /usr/sbin")
        argv, text = self._read_table(netstat, protocols, owners, facts)
        lines = text.splitlines()

        def wanted(records):
            for record in records:
                if record.protocol in protocols and record.family in families:
                    yield record

        listening = set()
        holders = []
        seen_holders = set()
        without_owner = 0
        for record in wanted(sunos_netstat.iter_records(lines)):
            if record.state == "LISTEN":
                listening.add(record.local_port)
            if record.pid is None:
                without_owner += 1
            elif record.pid not in seen_holders and _selected(selection, record):
                seen_holders.add(record.pid)
                holders.append(record.pid)
        if facts["owners"]["available"]:
            facts["owners"]["sockets_without_owner"] = without_owner
        found = self._run_pfiles(holders[:max_connections], max_connections, facts)
        stats = {"shared_socket_rows": 0}
        summary = Summary(selection, max_connections, listening, **summary_options)
        summary.add_records(_with_pfiles(wanted(sunos_netstat.iter_records(lines, stats)), found))
        facts["shared_socket_rows"] = stats["shared_socket_rows"]
        result = summary.result()
        result["platform"] = self.platform
        result["sources"] = [" ".join(argv)]
        if self.connstat:
            facts["connstat"] = self._read_connstat(selection, max_connections)
        return result, read_keepalive_settings(self.run_command, self.get_bin_path)

    def _read_table(self, netstat, protocols, owners, facts):
        """(argv, text) of the netstat run that worked; facts['owners'] says where owners come from or why not."""
        narrowing = ["-P", protocols[0]] if len(protocols) == 1 else []
        if owners:
            argv = [netstat, "-anu"] + narrowing
            rc, out, err = self.run_command(argv)
            # A netstat that printed only a complaint (usage text on stderr) did not take -u, whatever its exit code.
            if rc == 0 and (out.strip() or not err.strip()):
                reason = None if facts["root"] else "not root: sockets of other users' processes may have no owner"
                facts["owners"] = {"available": True, "source": "netstat -u", "reason": reason}
                return argv, out
            reason = "netstat -u not supported here (rc %d: %s)" % (rc, _first_line(err or out))
        else:
            reason = "owners: false"
        facts["owners"] = {"available": False, "source": None, "reason": reason}
        argv = [netstat, "-an"] + narrowing
        rc, out, err = self.run_command(argv)
        if rc != 0:
            raise OSError("%s: rc %d: %s" % (" ".join(argv), rc, _first_line(err or out)))
        return argv, out

    def _run_pfiles(self, holders, max_connections, facts):
        """{(protocol, local address, local port, remote address, remote port): pfiles socket} of the inspected
        processes; facts['pfiles'] says whether pfiles ran, on which pids, and why not."""
        report = facts["pfiles"] = {"ran": False, "reason": None, "pids": [], "errors": [], "sockets": 0}
        if not self.pfiles:
            report["reason"] = "sunos_pfiles is false (pfiles stops each process it inspects)"
            return {}
        if self.check_mode:
            report["reason"] = "check mode: pfiles stops each process it inspects"
            return {}
        pfiles = self.get_bin_path("pfiles")
        if not pfiles:
            report["reason"] = "pfiles not found"
            return {}
        if not facts["owners"]["available"]:
            # Without netstat -u the holders are unknown: inspect processes in pid order, within the same cap.
            holders = self._process_ids()[:max_connections]
            report["scope"] = "processes in pid order (netstat shows no owners here)"
        else:
            report["scope"] = "holders of the selected sockets"
        if not holders:
            report["reason"] = "max_connections is 0" if max_connections == 0 else "no process holds a selected socket"
            return {}
        found = {}
        for start in range(0, len(holders), PFILES_BATCH):
            batch = holders[start : start + PFILES_BATCH]
            rc, out, err = self.run_command([pfiles] + [str(pid) for pid in batch])
            report["pids"].extend(batch)
            # pfiles exits non-zero when any process vanished or could not be inspected, and still prints the rest.
            report["errors"].extend(line.strip() for line in (err or "").splitlines() if line.strip())
            if not out.strip():
                continue
            try:
                parsed = sunos_pfiles.parse(out)
            except ParseError as error:
                report["errors"].append(str(error))
                continue
            for socket in parsed["sockets"]:
                found.setdefault(_address_pair(socket["protocol"], socket), socket)
        report["ran"] = True
        report["errors"] = report["errors"][:20]
        report["sockets"] = len(found)
        return found

    def _process_ids(self):
        own = os.getpid()
        try:
            names = os.listdir(self.proc_root)
        except OSError:
            return []
        return sorted(int(name) for name in names if name.isdigit() and int(name) not in (0, own))

    def _read_connstat(self, selection, max_connections):
        connstat = self.get_bin_path("connstat")
        if not connstat:
            return {"available": False, "reason": "connstat not found (illumos, Solaris 11.4)"}
        argv = [connstat, "-P", "-o", ",".join(sunos_connstat.FIELDS)]
        rc, out, err = self.run_command(argv)
        if rc != 0:
            return {"available": False, "reason": "%s: rc %d: %s" % (" ".join(argv), rc, _first_line(err or out))}
        try:
            rows = sunos_connstat.parse(out)
        except ParseError as error:
            return {"available": False, "reason": str(error)}
        selected = [
            row
            for row in rows
            if selection.state_selected(row["state"])
            and selection.port_selected(row["lport"], row["rport"])
            and selection.peer_selected(row["raddr"])
        ]
        return {
            "available": True,
            "connections": selected[:max_connections],
            "count": len(selected),
            "truncated": len(selected) > max_connections,
        }


def _selected(selection, record):
    return (
        selection.state_selected(record.state)
        and selection.port_selected(record.local_port, record.remote_port)
        and selection.peer_selected(record.remote_address)
    )


def _address_pair(protocol, item):
    """What matches a pfiles socket with a netstat row: protocol, local and remote address and port."""
    return (protocol, item["local_address"], item["local_port"], item["remote_address"], item["remote_port"])


def _with_pfiles(records, found):
    """Records with keepalive (and the owner, where netstat had none) from the pfiles socket of the same address
    pair. A socket pfiles did not see keeps keepalive null: unknown, not false."""
    if not found:
        yield from records
        return
    for record in records:
        socket = found.get(record[:1] + record[2:6])  # protocol, local address/port, remote address/port
        if socket is None:
            yield record
            continue
        changes = {"keepalive": socket.get("keepalive")}
        if record.pid is None and socket.get("pid") is not None:
            changes["pid"] = socket["pid"]
            changes["process"] = socket.get("process")
        yield record._replace(**changes)
