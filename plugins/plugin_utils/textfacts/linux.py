# SPDX-License-Identifier: GPL-3.0-or-later
"""Linux facts from text: command output read in raw mode, or files captured by someone else (offline analysis).

The sections come out of the code the fact modules run on the host: the socket tables go through
``netstat_linux.LinuxNetstatCollector`` (the same TableReader and socket_records.Summary), whose data hooks are
pointed at the text here instead of files under /proc; conntrack through ``linux_conntrack.TableSummary`` and
``linux_conntrack_stat``; slab caches through ``linux_slabinfo``. So raw mode and module mode give the same facts for
the same sockets. Pure functions and classes, no I/O (controller side).
"""

from __future__ import annotations

import io
import re

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_sockets import LinuxNetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_nat as linux_conntrack_nat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_stat as linux_conntrack_stat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import keepalive as linux_keepalive
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo

SYSCTL_FORMAT = "linux_sysctl"
PROC_NET_TABLES = ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6")
KEEPALIVE_DIRECTORY = "/proc/sys/net/ipv4"
# key style -> (sysctl key prefix, statistics file), as conntrack_facts' KEY_STYLES.
CONNTRACK_KEY_STYLES = (
    ("nf_conntrack", "net.netfilter.nf_conntrack_", "/proc/net/stat/nf_conntrack"),
    ("ip_conntrack", "net.ipv4.netfilter.ip_conntrack_", "/proc/net/stat/ip_conntrack"),
)
NOT_READ = "not read in this mode"

_SYSCTL_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-/]+)\s*(?:=|:)\s*(.*?)\s*$")


def _sysctl_value(text):
    return int(text) if re.match(r"^-?\d+$", text) else text


def parse_sysctl(text):
    """{key: value} of ``sysctl -a`` lines (``net.x.y = 1``) or ``grep -H '' /proc/sys/...`` lines
    (``/proc/sys/net/x/y:1``); keys in dotted form, values int where numeric. Raises ParseError naming the line on
    anything else."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        match = _SYSCTL_LINE.match(line)
        if match is None:
            raise ParseError(SYSCTL_FORMAT, number, line, "expected 'key = value' or '/proc/sys/path:value'")
        key = match.group(1)
        if key.startswith("/proc/sys/"):
            key = key[len("/proc/sys/") :].replace("/", ".")
        values[key] = _sysctl_value(match.group(2))
    return values


def keepalive_from_sysctl(values, source=KEEPALIVE_DIRECTORY):
    """The ``netdiag.keepalive`` section from sysctl values, through linux_keepalive's converter (the module's)."""
    settings = {name: values.get("net.ipv4.tcp_keepalive_" + name) for name in linux_keepalive.KEEPALIVE_SETTINGS}
    return linux_keepalive.keepalive_from_values(settings, source)


def conntrack_section(
    values,
    table_text=None,
    table_source=None,
    stats_text=None,
    stats_source=None,
    top=10,
    selection=None,
    key_style_hint=None,
    nat_tuples=False,
    max_nat_tuples=None,
):
    """The ``netdiag.conntrack`` section from sysctl values and, when given, the table and statistics text.

    Keys as conntrack_facts returns them; ``persisted`` (the boot configuration) is not read from text and is null.
    Without the sysctl values (a capture of the table alone) the section holds the table analysis with count, max
    and timeouts null, and key_style from key_style_hint. nat_tuples adds the translated ESTABLISHED entries as
    conntrack_facts' nat_tuples option does (restricted to the selection's ports).
    """
    facts = {"available": False, "reason": None, "table": table_text is not None, "source": "none", "persisted": None}
    facts["source_reason"] = None if table_text is not None else "no table text (/proc/net/nf_conntrack) given"
    found = [entry for entry in CONNTRACK_KEY_STYLES if isinstance(values.get(entry[1] + "max"), int)]
    if not found and table_text is None:
        facts["reason"] = "conntrack is not loaded: neither net.netfilter.nf_conntrack_max nor "
        facts["reason"] += "net.ipv4.netfilter.ip_conntrack_max was read"
        return facts
    if not found:
        found = [entry for entry in CONNTRACK_KEY_STYLES if entry[0] == (key_style_hint or "nf_conntrack")]
    style, prefix, default_stats = found[0]
    limits = {name: values.get(prefix + name) for name in ("count", "max", "buckets")}
    limits = {name: value if isinstance(value, int) else None for name, value in limits.items()}
    count, maximum = limits["count"], limits["max"]
    limits["usage_pct"] = round(count * 100.0 / maximum, 1) if count is not None and maximum else None
    facts.update(limits)
    facts["available"] = True
    facts["key_style"] = style
    facts["timeouts"] = {
        key[len(prefix) :]: value
        for key, value in sorted(values.items())
        if key.startswith(prefix) and "timeout" in key and isinstance(value, int)
    }
    if table_text is not None:
        summary = linux_conntrack.TableSummary(top=top, selection=selection or Selection())
        facts.update(summary.consume_text(table_text).result())
        facts["source"] = table_source
        facts["source_reason"] = None
        if nat_tuples:  # as conntrack_facts(nat_tuples=true): the translated entries, to pair ends through a NAT
            ports = (selection.ports if selection is not None else None) or ()
            facts["nat_tuples"] = linux_conntrack_nat.nat_tuples(table_text, ports, max_nat_tuples)
    facts["stats"], facts["stats_source"] = (None, "none")
    if stats_text is not None and stats_text.strip():
        facts["stats"], facts["stats_source"] = linux_conntrack_stat.parse(stats_text), stats_source or default_stats
    return facts


def slabinfo_section(text, page_size=4096, names=None):
    """The ``netdiag.slabinfo`` section of /proc/slabinfo text (conntrack caches unless names is given)."""
    facts = linux_slabinfo.parse(text, names=names, page_size=page_size)
    facts["available"] = True
    facts["reason"] = None
    return facts


# --- socket owners from `ls` and `grep` output --------------------------------------------------------------------

_FD_DIRECTORY = re.compile(r"^/proc/(\d+)/fd/?:$")
_SOCKET_LINK = re.compile(r"\s\d+ -> '?socket:\[(\d+)\]'?$")  # GNU ls quotes the target on a terminal
_PROCESS_DIRECTORY = re.compile(r"^\S+\s+\d+\s+(\d+)\s+\d+\s.*\s/proc/(\d+)$")
_COMM = re.compile(r"^/proc/(\d+)/comm:(.*)$")


def parse_process_listing(text):
    """{pid: uid} of ``ls -lnd /proc/[0-9]*`` (the owner of /proc/<pid> is the process's uid)."""
    owners = {}
    for line in text.splitlines():
        match = _PROCESS_DIRECTORY.match(line.strip())
        if match:
            owners[int(match.group(2))] = int(match.group(1))
    return owners


def parse_fd_listing(text):
    """{pid: [socket inodes]} of ``ls -ln /proc/[0-9]*/fd/``."""
    sockets = {}
    pid = None
    for line in text.splitlines():
        line = line.rstrip()
        directory = _FD_DIRECTORY.match(line)
        if directory:
            pid = int(directory.group(1))
            sockets.setdefault(pid, [])
            continue
        link = _SOCKET_LINK.search(line)
        if link and pid is not None:
            sockets[pid].append(int(link.group(1)))
    return sockets


def parse_comm(text):
    """{pid: command name} of ``grep -H '' /proc/[0-9]*/comm``."""
    names = {}
    for line in text.splitlines():
        match = _COMM.match(line)
        if match:
            names[int(match.group(1))] = match.group(2).strip()
    return names


def parse_passwd(text):
    """{uid: login name} of ``getent passwd`` or /etc/passwd."""
    users = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            users.setdefault(int(fields[2]), fields[0])
    return users


def owners_from_listings(process_listing, fd_listing, fd_errors, comm_text):
    """({inode: (pid, process, user uid)}, owner_scan) as linux_socket_owners.scan_socket_owners() gives them: the
    lowest pid wins a shared socket; processes whose fd directory could not be read are counted as unreadable."""
    uids = parse_process_listing(process_listing)
    sockets = parse_fd_listing(fd_listing)
    names = parse_comm(comm_text)
    owners = {}
    for pid in sorted(sockets):
        for inode in sockets[pid]:
            if inode not in owners:
                owners[inode] = (pid, names.get(pid), uids.get(pid))
    # Over SSH with a terminal the error lines arrive in stdout, interleaved with the listing.
    unreadable = len(re.findall(r"^ls: .*Permission denied", (fd_listing or "") + "\n" + (fd_errors or ""), re.M))
    return owners, {"processes": len(uids), "unreadable_processes": unreadable}


class TextLinuxCollector(LinuxNetstatCollector):
    """LinuxNetstatCollector over text: tables {"/proc/net/tcp": text, ...}, sysctl values, socket owners."""

    def __init__(self, tables, sysctl_values=None, owners=None, users=None, byteorder="little"):
        super().__init__(proc_root="/proc", byteorder=byteorder)
        self.texts = tables
        self.sysctl_values = sysctl_values or {}
        self.owner_listing = owners  # (owner map with uids, owner_scan), or None when not read
        self.users = users or {}

    def scan_owners(self):
        if self.owner_listing is None:
            return {}, None
        owners, scan = self.owner_listing
        named = {
            inode: (pid, process, self.user_name(uid) if uid is not None else None)
            for inode, (pid, process, uid) in owners.items()
        }
        return named, scan

    def table_exists(self, path):
        return self.texts.get(path) is not None

    def open_table(self, path):
        return io.BytesIO(self.texts[path].encode("ascii", "replace"))

    def keepalive(self):
        return keepalive_from_sysctl(self.sysctl_values)

    def user_name(self, uid):
        return self.users.get(uid, str(uid))
