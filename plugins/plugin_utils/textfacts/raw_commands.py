# SPDX-License-Identifier: GPL-3.0-or-later
"""What raw mode runs on a host without Python, per platform, and how the output becomes facts.

Every command only reads: ``head -c`` of /proc files (``cat`` within netdiag_max_capture_bytes), ``ls``/``grep``
over /proc, ``netstat``, ``no -a``, ``ndd -get``,
``getconf``. Never rmsock, kdb, pfiles or anything that changes a socket or stops a process (REFUSED is checked
before anything runs). Commands are constant strings (no user input reaches a shell); each runs with a C locale.
A gatherer takes ``run(command) -> (rc, stdout, stderr)`` and returns (sections, commands run, errors).
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import shlex

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import platforms
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts import aix, linux, sunos

C_LOCALE = "LC_ALL=C LANG=C; export LC_ALL LANG; "
# Programs raw mode must never run: rmsock removes sockets no process holds, pfiles stops each process it inspects.
REFUSED_PROGRAMS = frozenset(("rmsock", "pfiles"))
# kdb can write kernel memory; it may only read sockets: its standard input must be nothing but these lines.
KDB_PROGRAM = "kdb"
KDB_READ_ONLY = re.compile(r"^(?:sockinfo (?:0x)?[0-9A-Fa-f]+ tcpcb|q|quit)$")
# Characters that make the shell read a word again as commands (sh -c '...', $(...), `...`, eval, a quoted path
# with a space in it): such a word is split and checked again.
_SHELL_SPECIAL = re.compile(r"[\s;|&()<>`$]")
_PUNCTUATION = "();<>|&"  # tokens of these alone are the shell's operators, nothing to read again
_NESTING_LIMIT = 8
# Output of one command is cut at this many characters (netdiag_max_capture_bytes; 1 GiB: a busy host's
# /proc/net/tcp at 1,000,000 sockets is about 150 MB).
DEFAULT_MAX_BYTES = 1 << 30
# Platforms whose collector runs commands through run_command(argv, data=None) and get_bin_path(name) (see
# collect/platforms.new_collector): raw mode drives that same collector over the connection, so its facts are
# module mode's. Linux's collector reads the kernel instead; raw mode reads its text through textfacts/linux.py.
COMMAND_PLATFORMS = ("AIX", "SunOS")
BIN_DIRECTORIES = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")
_WHICH = 'for d in %s; do [ -x "$d/%%s" ] && { echo "$d/%%s"; exit 0; }; done; exit 1' % " ".join(BIN_DIRECTORIES)

LINUX_SYSCTL = (
    "grep -H '' /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/tcp_keepalive_intvl"
    " /proc/sys/net/ipv4/tcp_keepalive_probes /proc/sys/net/netfilter/nf_conntrack_*"
    " /proc/sys/net/ipv4/netfilter/ip_conntrack_* 2>/dev/null"
)
LINUX_OWNERS = {
    "processes": "ls -lnd /proc/[0-9]*",
    # Through cat: on a terminal (SSH allocates one for raw commands) GNU ls quotes 'socket:[123]'.
    "fds": "ls -ln /proc/[0-9]*/fd/ | cat",
    "comm": "grep -H '' /proc/[0-9]*/comm 2>/dev/null",
    "passwd": "getent passwd 2>/dev/null || cat /etc/passwd",
}


def command_words(command, depth=0):
    """Every word the shell would see in the command line, as the basename of what it names (so a quoted path,
    '/opt/IBM tools/rmsock', gives 'rmsock'), with the words of any word the shell may read again (a sh -c
    argument, $(...), backquotes, a word with a space). Raises ValueError on a line the shell would not split the
    same way (an unbalanced quote) or nested too deep to check."""
    if depth > _NESTING_LIMIT:
        raise ValueError("raw mode refuses to run %r: nested too deep to check" % command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError as error:
        raise ValueError("raw mode refuses to run %r: %s" % (command, error)) from None
    words = set()
    for token in tokens:
        words.add(token.rstrip("/").rsplit("/", 1)[-1])
        again = token.replace("$(", " ").replace("`", " ")
        if _SHELL_SPECIAL.search(token) and again.strip(_PUNCTUATION) and again != command:
            words |= command_words(again, depth + 1)
    return words


def _refused_by_glob(words):
    """A word with a glob that the shell could expand to a refused program (/usr/sbin/rms?ck)."""
    patterns = [word for word in words if any(character in word for character in "*?[")]
    return any(fnmatch.fnmatchcase(program, word) for word in patterns for program in REFUSED_PROGRAMS)


def checked(command, data=None):
    """The command with the C locale, once it is known to only read; ValueError otherwise."""
    words = command_words(command)
    if words & REFUSED_PROGRAMS or _refused_by_glob(words):
        raise ValueError("raw mode refuses to run %r: it is not read-only" % command)
    if KDB_PROGRAM in words:
        lines = [line.strip() for line in (data or "").splitlines() if line.strip()]
        if not lines or not all(KDB_READ_ONLY.match(line) for line in lines):
            raise ValueError("raw mode runs kdb only to read sockets (sockinfo ADDRESS tcpcb), not %r" % data)
    return C_LOCALE + command


class Runner:
    """Runs commands through a transport callable (command, data) and keeps the list of what ran."""

    def __init__(self, transport, max_bytes=DEFAULT_MAX_BYTES):
        self.transport = transport
        self.max_bytes = max_bytes
        self.commands = []
        self.notes = []  # outputs cut at max_bytes, for the errors

    def argv(self, argv, data=None):
        """run_command for the platform collectors: an argv list quoted for the shell, optional standard input."""
        command = " ".join(shlex.quote(str(argument)) for argument in argv)
        return self(command, data)

    def which(self, name):
        """get_bin_path for the platform collectors: the first executable NAME in the usual directories."""
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            return None
        # The name is only tested (-x) and printed, never run: the loop is checked with a neutral name, so looking
        # up kdb (which has no standard input here) or rmsock is not refused; running them still is.
        checked(_WHICH % ("x", "x"))
        command = _WHICH % (name, name)
        self.commands.append(command)
        rc, stdout, _stderr = self.transport(C_LOCALE + command, None)
        found = stdout.replace("\r\n", "\n").strip() if rc == 0 else ""
        return found or None

    def __call__(self, command, data=None):
        rc, stdout, stderr = self._run(command, data)
        if len(stdout) > self.max_bytes:
            self.notes.append(
                "%s: output of %d characters is over netdiag_max_capture_bytes (%d); read up to the limit"
                % (command, len(stdout), self.max_bytes)
            )
            stdout = self._cut(stdout)
        return rc, stdout, stderr

    def _run(self, command, data=None):
        self.commands.append(command if data is None else "%s < (%d lines)" % (command, len(data.splitlines())))
        rc, stdout, stderr = self.transport(checked(command, data), data)
        # With a terminal (SSH -tt) lines end in CR LF; the parsers expect the host's own LF.
        return rc, stdout.replace("\r\n", "\n"), stderr.replace("\r\n", "\n")

    def _cut(self, text):
        """Whole lines up to the limit: a parser never sees half a line; the table is reported as cut."""
        return text[: text.rfind("\n", 0, self.max_bytes) + 1]

    def file(self, path):
        """(rc, text, stderr) of a Linux file, as cat gives it, but at most max_bytes + 1 bytes cross the connection
        (head -c, GNU and busybox): a table that is huge or never ends costs the controller bounded memory. Over
        the limit, the note names the file with its size (wc -c on the host)."""
        rc, stdout, stderr = self._run("head -c %d %s" % (self.max_bytes + 1, path))
        if rc == 0 and len(stdout) > self.max_bytes:
            size = (self.text("wc -c < %s" % path) or "").strip()
            self.notes.append(
                "%s: %s bytes, over netdiag_max_capture_bytes (%d); read up to the limit"
                % (path, size if size.isdigit() else "more than %d" % self.max_bytes, self.max_bytes)
            )
            stdout = self._cut(stdout)
        return rc, stdout, stderr

    def file_text(self, path):
        """The file's text when it could be read, else None."""
        rc, stdout, _stderr = self.file(path)
        return stdout if rc == 0 else None

    def text(self, command):
        """stdout when the command succeeded, else None."""
        rc, stdout, _stderr = self(command)
        return stdout if rc == 0 else None


def gather_linux(
    run,
    selection,
    max_connections,
    owners=True,
    conntrack=True,
    slabinfo=True,
    top=10,
    tuples=False,
    max_tuples=None,
    nat_tuples=False,
    max_nat_tuples=None,
):
    errors = []
    tables = {path: run.file_text(path) for path in linux.PROC_NET_TABLES}
    sysctl_values = {}
    _rc, stdout, _stderr = run(LINUX_SYSCTL)
    try:
        sysctl_values = linux.parse_sysctl(stdout)
    except ParseError as error:
        errors.append("sysctl values: %s" % error)
    sections = _linux_sockets(
        run, errors, tables, sysctl_values, selection, max_connections, owners, tuples, max_tuples
    )
    if conntrack:
        section = _linux_conntrack(run, errors, sysctl_values, top, selection, nat_tuples, max_nat_tuples)
        if section is not None:
            sections["conntrack"] = section
    if slabinfo:
        section = _linux_slabinfo(run, errors)
        if section is not None:
            sections["slabinfo"] = section
    return sections, errors


def _linux_sockets(run, errors, tables, sysctl_values, selection, max_connections, owners, tuples, max_tuples):
    """{"netstat", "keepalive"} from the /proc/net tables read (and the owner listings when owners), or {}."""
    owner_listing = users = None
    if owners:
        _rc, processes, _err = run(LINUX_OWNERS["processes"])
        _rc, fds, fd_errors = run(LINUX_OWNERS["fds"])
        _rc, comm, _err = run(LINUX_OWNERS["comm"])
        _rc, passwd, _err = run(LINUX_OWNERS["passwd"])
        owner_listing = part(errors, "socket owners", linux.owners_from_listings, processes, fds, fd_errors, comm)
        users = part(errors, "socket owners (passwd)", linux.parse_passwd, passwd)
    if not any(text is not None for text in tables.values()):
        errors.append("netstat: none of %s could be read" % ", ".join(linux.PROC_NET_TABLES))
        return {}
    collector = linux.TextLinuxCollector(tables, sysctl_values, owner_listing, users)
    read = part(
        errors,
        "netstat",
        collector.collect,
        Selection(**selection),
        max_connections=max_connections,
        owners=owners,
        tuples=tuples,
        max_tuples=max_tuples,
    )
    return {} if read is None else {"netstat": read[0], "keepalive": read[1]}


def _linux_conntrack(run, errors, sysctl_values, top, selection, nat_tuples, max_nat_tuples):
    """The conntrack section from the table of either kernel and its statistics, or None (the reason in errors)."""
    table_text = table_source = None
    for path in ("/proc/net/nf_conntrack", "/proc/net/ip_conntrack"):
        table_text = run.file_text(path)
        if table_text is not None:
            table_source = path
            break
    style = "ip_conntrack" if "net.ipv4.netfilter.ip_conntrack_max" in sysctl_values else "nf_conntrack"
    stats_source = "/proc/net/stat/%s" % style
    return part(
        errors,
        "conntrack",
        linux.conntrack_section,
        sysctl_values,
        table_text,
        table_source,
        run.file_text(stats_source),
        stats_source,
        top,
        Selection(**selection),
        nat_tuples=nat_tuples,
        max_nat_tuples=max_nat_tuples,
    )


def _linux_slabinfo(run, errors):
    """The slabinfo section, one that says why /proc/slabinfo could not be read, or None (the reason in errors)."""
    rc, text, stderr = run.file("/proc/slabinfo")
    if rc == 0:
        page_size = (run.text("getconf PAGESIZE") or "").strip()
        return part(errors, "slabinfo", linux.slabinfo_section, text, int(page_size) if page_size.isdigit() else 4096)
    message = (stderr + text).strip()  # with a terminal, the error arrives in stdout
    reason = "needs become (root) to read /proc/slabinfo (mode 0400)" if "denied" in message else message
    return {"available": False, "reason": reason or "cannot read /proc/slabinfo"}


def part(errors, name, function, *arguments, **options):
    """function(...), or None with the reason in errors: each part of a host fails alone, as in module mode (a bad
    line in /proc/net/tcp loses the socket table, not the conntrack and slab sections)."""
    try:
        return function(*arguments, **options)
    except ParseError as error:
        errors.append("%s: %s" % (name, error))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError) as error:
        errors.append("%s: %s: %s" % (name, type(error).__name__, error))
    return None


def command_collector(system):
    """The platform's command-running collector class (from the one platform table), or None."""
    return platforms.collector_class_for(system) if system in COMMAND_PLATFORMS else None


def gather_with_collector(collector_class, run, selection, max_connections, owners=True, **summary_options):
    """The platform collector of module mode, its commands sent over the connection (never rmsock: the side-effect
    options stay off, and check mode is on as in the audit)."""
    errors = []
    sections = {}
    uid = (run.text("id -u") or "").strip()
    # Who runs the commands is the remote user, not the controller's: the collectors take it as is_root (AIX) or
    # euid (SunOS), whichever their constructor has.
    identity = {}
    parameters = inspect.signature(collector_class).parameters
    if "is_root" in parameters:
        identity["is_root"] = uid == "0"
    if "euid" in parameters:
        identity["euid"] = int(uid) if uid.isdigit() else -1
    collector = collector_class(
        run.argv,
        run.which,
        options={"aix_rmsock": False, "sunos_pfiles": False, "sunos_connstat": False},
        check_mode=True,
        **identity,
    )
    try:
        netstat, keepalive = collector.collect(
            Selection(**selection), max_connections=max_connections, owners=owners, **summary_options
        )
    except (OSError, ValueError) as error:
        errors.append("netstat: %s" % error)
        return sections, errors
    sections["netstat"] = netstat
    if keepalive is not None:
        sections["keepalive"] = keepalive
    for platform_section in ("aix", "sunos"):
        if getattr(collector, platform_section, None):
            sections[platform_section] = getattr(collector, platform_section)
    return sections, errors


def gather_aix(run, selection, max_connections, owners=True, tuples=False, max_tuples=None, **_ignored):
    return gather_unix("AIX", aix_from_text, run, selection, max_connections, owners, tuples, max_tuples)


def gather_sunos(run, selection, max_connections, owners=True, tuples=False, max_tuples=None, **_ignored):
    return gather_unix("SunOS", sunos_from_text, run, selection, max_connections, owners, tuples, max_tuples)


def gather_unix(system, from_text, run, selection, max_connections, owners, tuples, max_tuples):
    """AIX and Solaris: module mode's platform collector when this collection has it, else the plain commands read
    by from_text(run, selection, max_connections). Neither platform has netfilter conntrack or /proc/slabinfo."""
    collector_class = command_collector(system)
    if collector_class is not None:
        sections, errors = gather_with_collector(
            collector_class, run, selection, max_connections, owners, tuples=tuples, max_tuples=max_tuples
        )
    else:
        sections, errors = from_text(run, selection, max_connections)
    sections["conntrack"] = not_linux("conntrack", "netfilter connection tracking exists only on Linux", system)
    sections["slabinfo"] = not_linux("slabinfo", "/proc/slabinfo exists only on Linux", system)
    return sections, errors


def aix_from_text(run, selection, max_connections):
    sections, errors = netstat_from_text(run, "netstat -Aan", aix.netstat_section, selection, max_connections)
    tunables = run.text("no -a")
    if tunables is not None:
        try:
            parsed = aix.no_section(tunables)["tunables"]
            sections["keepalive"] = aix.keepalive_from_no(parsed)
        except ParseError as error:
            errors.append("no -a: %s" % error)
    return sections, errors


def sunos_from_text(run, selection, max_connections):
    sections, errors = netstat_from_text(run, "netstat -an", sunos.netstat_section, selection, max_connections)
    interval = run.text("ndd -get /dev/tcp tcp_keepalive_interval")
    if interval is not None:
        # The abort interval is extra (as in the module): null when this release cannot print it.
        abort = run.text("ndd -get /dev/tcp tcp_keepalive_abort_interval")
        try:
            sections["keepalive"] = sunos.keepalive_from_ndd(interval, abort, source="ndd /dev/tcp")
        except ParseError as error:
            errors.append("ndd: %s" % error)
    return sections, errors


def netstat_from_text(run, command, netstat_section, selection, max_connections):
    """(sections with ``netstat`` from the command's text, errors)."""
    sections = {}
    errors = []
    text = run.text(command)
    if text is None:
        errors.append("netstat: %s failed" % command)
    else:
        try:
            sections["netstat"] = netstat_section(text, selection, max_connections)
        except ParseError as error:
            errors.append("%s: %s" % (command, error))
    return sections, errors


def not_linux(section, reason, system):
    return {"available": False, "reason": "%s; this host runs %s" % (reason, system)}


GATHERERS = {"Linux": gather_linux, "AIX": gather_aix, "SunOS": gather_sunos}
