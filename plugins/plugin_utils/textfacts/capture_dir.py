# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline analysis: a folder of captured command output per host -> what the audit report is built from.

Layout (docs/offline_analysis.md): ``CAPTURE_DIR/<host>/<file>``, one folder per host, each file named by what it
holds (CAPTURE_FILES), and an optional ``host.yml`` with ``netdiag_addresses``, ``platform`` and ``ansible_host``.
Every file goes through the parser the fact modules run (via textfacts.linux / aix / sunos), so a folder gives the
facts the host would have given. A file with an unknown name, or a line a parser cannot read, is reported by file
name and line number in that host's errors; the host's other files are still analysed.
"""

from __future__ import annotations

import errno
import os
import stat

import yaml

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import ss as linux_ss
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts import aix, linux, sunos

HOST_FILE = "host.yml"
HOST_KEYS = ("netdiag_addresses", "platform", "ansible_host")
PLATFORMS = ("Linux", "AIX", "SunOS")

# file name -> (platform it belongs to, or None when the platform decides how it is read; what produced it)
CAPTURE_FILES = {
    "uname.txt": (None, "uname -s"),
    "proc-net-tcp.txt": ("Linux", "cat /proc/net/tcp"),
    "proc-net-tcp6.txt": ("Linux", "cat /proc/net/tcp6"),
    "proc-net-udp.txt": ("Linux", "cat /proc/net/udp"),
    "proc-net-udp6.txt": ("Linux", "cat /proc/net/udp6"),
    "netstat-an.txt": (None, "netstat -an (Linux net-tools: also -tan, -tanp, -tanpo; SunOS: also -anu)"),
    "ss.txt": ("Linux", "ss -tan, ss -tanp or ss -tanpo"),
    "ss-established.txt": ("Linux", "ss -tnpo state established (no State column: every row is ESTABLISHED)"),
    "sysctl.txt": ("Linux", "sysctl -a (or sysctl net.netfilter net.ipv4)"),
    "conntrack.txt": ("Linux", "cat /proc/net/nf_conntrack 2>/dev/null || cat /proc/net/ip_conntrack"),
    "nf_conntrack.txt": ("Linux", "cat /proc/net/nf_conntrack"),
    "ip_conntrack.txt": ("Linux", "cat /proc/net/ip_conntrack (kernels before nf_conntrack only)"),
    "conntrack-L.txt": ("Linux", "conntrack -L"),
    "conntrack-stat.txt": ("Linux", "cat /proc/net/stat/nf_conntrack or conntrack -S"),
    "slabinfo.txt": ("Linux", "cat /proc/slabinfo or grep conn /proc/slabinfo"),
    "netstat-Aan.txt": ("AIX", "netstat -Aan (or netstat -an)"),
    "no-a.txt": ("AIX", "no -a"),
    "rmsock.txt": ("AIX", "rmsock <PCB> tcpcb, one line per socket (the incident's a.log)"),
    "kdb-sockinfo.txt": ("AIX", "kdb: sockinfo <PCB> tcpcb"),
    "ndd-tcp_keepalive_interval.txt": ("SunOS", "ndd -get /dev/tcp tcp_keepalive_interval"),
    "ndd-tcp_keepalive_abort_interval.txt": ("SunOS", "ndd -get /dev/tcp tcp_keepalive_abort_interval"),
}
PROC_NET_FILES = {"proc-net-" + path.rsplit("/", 1)[1] + ".txt": path for path in linux.PROC_NET_TABLES}
CONNTRACK_TABLE_FILES = ("conntrack.txt", "nf_conntrack.txt", "ip_conntrack.txt", "conntrack-L.txt")
# Why a capture file can be empty, for the warning that names it.
EMPTY_FILE_HINTS = {
    "ip_conntrack.txt": (
        "/proc/net/ip_conntrack exists only on old kernels; capture with "
        "'cat /proc/net/nf_conntrack 2>/dev/null || cat /proc/net/ip_conntrack > conntrack.txt' or "
        "'conntrack -L > conntrack-L.txt'"
    ),
    "nf_conntrack.txt": "an empty table needs root, or conntrack is not loaded; 'conntrack -L' reads it too",
    "conntrack.txt": "an empty table needs root, or conntrack is not loaded; 'conntrack -L' reads it too",
    "slabinfo.txt": "/proc/slabinfo needs root (sudo grep conn /proc/slabinfo)",
}


# Most bytes read of one file (netdiag_max_capture_bytes). 1 GiB is several times the largest real table: /proc/net/tcp
# at 1,000,000 sockets is about 150 MB, a full conntrack table at nf_conntrack_max 2,097,152 about 600 MB.
DEFAULT_MAX_BYTES = 1 << 30
_CHUNK_BYTES = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def shown(name):
    """A file or folder name as text any encoder takes: bytes that are not UTF-8 (web\\xff01) become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def read_capture_dir(capture_dir, selection=None, max_connections=1000, top=10, max_bytes=DEFAULT_MAX_BYTES):
    """{host: gathered} for every folder under capture_dir, gathered as audit_report takes it: status, mode,
    errors, facts (the ansible_facts.netdiag sections), netdiag_addresses, addresses. Raises ValueError when
    capture_dir is not a readable directory with at least one host folder.

    The folder is untrusted input: a symbolic link (a host folder or a file) is not followed, only regular files
    are read, each at most max_bytes, and a name that is not UTF-8 is shown with U+FFFD."""
    if not os.path.isdir(capture_dir):
        raise ValueError("capture_dir: %s is not a directory" % shown(capture_dir))
    with os.scandir(capture_dir) as entries:
        folders = sorted((entry for entry in entries if entry.is_dir(follow_symlinks=True)), key=lambda e: e.name)
    if not folders:
        raise ValueError(
            "capture_dir: %s has no host folder (one folder per host, see docs/offline_analysis.md)"
            % shown(capture_dir)
        )
    hosts = {}
    for entry in folders:
        host = shown(entry.name)
        while host in hosts:  # two names that differ only in their bytes that are not UTF-8
            host += "_"
        if entry.is_symlink():
            hosts[host] = refused_host(
                entry.path, "%s: a symbolic link, not followed (host folders must be folders in the capture)" % host
            )
            continue
        try:
            hosts[host] = read_host(entry.path, selection or {}, max_connections, top, max_bytes)
        except OSError as error:  # replaced by a link since it was listed, or unreadable
            hosts[host] = refused_host(entry.path, "%s: cannot be read: %s" % (host, error.strerror or error))
        except MemoryError:
            hosts[host] = refused_host(entry.path, "%s: out of memory; lower netdiag_max_capture_bytes" % host)
    return hosts


def refused_host(folder, reason):
    return {
        "status": "reached",
        "mode": "capture",
        "mode_reason": "captured files in %s" % shown(folder),
        "platform": None,
        "errors": [reason],
        "facts": {},
        "addresses": [],
        "netdiag_addresses": None,
    }


class CaptureFileError(Exception):
    """A file of the capture that is not read: a symbolic link, not a regular file, or unreadable."""


def read_capture_file(directory_fd, name, max_bytes):
    """(text, note) of a regular file of the folder, opened without following a symbolic link and read in chunks up
    to max_bytes (memory stays bounded by the limit). note is None, or says the file is over the limit and was
    read up to its last whole line within it. Bytes that are not UTF-8 become U+FFFD. Raises CaptureFileError."""
    try:
        descriptor = os.open(name, _OPEN_FLAGS, dir_fd=directory_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CaptureFileError("a symbolic link, not followed (copy the file into the folder)") from None
        raise CaptureFileError("cannot be opened: %s" % (error.strerror or error)) from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise CaptureFileError("not a regular file, not read")
        chunks = []
        kept = 0
        while kept <= max_bytes:
            chunk = handle.read(min(_CHUNK_BYTES, max_bytes + 1 - kept))
            if not chunk:
                break
            chunks.append(chunk)
            kept += len(chunk)
    data = b"".join(chunks)
    note = None
    if kept > max_bytes:
        data = data[: data.rfind(b"\n", 0, max_bytes) + 1]
        note = "%d bytes, over netdiag_max_capture_bytes (%d); read up to the limit" % (
            max(status.st_size, kept),
            max_bytes,
        )
    return data.decode("utf-8", "replace"), note


def _host_variables(text, errors):
    if text is None:
        return {}
    try:
        variables = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = " line %d" % (mark.line + 1) if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        errors.append("%s%s: not valid YAML: %s" % (HOST_FILE, where, problem))
        return {}
    if not isinstance(variables, dict):
        errors.append("%s: expected a mapping of %s" % (HOST_FILE, ", ".join(HOST_KEYS)))
        return {}
    unknown = sorted(shown(str(key)) for key in set(variables) - set(HOST_KEYS))
    if unknown:
        errors.append("%s: unknown key(s) %s; known: %s" % (HOST_FILE, ", ".join(unknown), ", ".join(HOST_KEYS)))
    return variables


def platform_of(files, texts, declared):
    """The platform: host.yml's ``platform``, else uname.txt, else what the file names or netstat-an.txt show."""
    if declared:
        return declared
    uname = (texts.get("uname.txt") or "").strip()
    if uname in PLATFORMS:
        return uname
    owners = {CAPTURE_FILES[name][0] for name in files if CAPTURE_FILES[name][0]}
    if len(owners) == 1:
        return owners.pop()
    netstat = texts.get("netstat-an.txt") or ""
    if "TCP: IPv4" in netstat or "UDP: IPv4" in netstat or "TCP: IPv6" in netstat:
        return "SunOS"
    if netstat:
        return "Linux"
    return None


def read_host(folder, selection, max_connections, top, max_bytes=DEFAULT_MAX_BYTES):
    errors = []
    texts, host_text = _read_folder(folder, max_bytes, errors)
    variables = _host_variables(host_text, errors)
    declared = variables.get("platform")
    if declared is not None and declared not in PLATFORMS:
        # Quoted: it is a YAML value, not raw file content.
        errors.append("%s: platform %r is not one of %s" % (HOST_FILE, shown(str(declared)), ", ".join(PLATFORMS)))
        declared = None
    for name in sorted(texts):
        if not texts[name].strip():
            # Not an empty table: the command printed nothing (a file that does not exist, no permission...).
            hint = EMPTY_FILE_HINTS.get(name, "the command printed nothing: capture it again")
            errors.append("%s: empty file, not analysed (%s)" % (name, hint))
            texts.pop(name)
    files = sorted(texts)
    platform = platform_of(files, texts, declared)
    facts = {}
    if platform is None:
        errors.append(
            "no socket table or platform: give netstat-an.txt, proc-net-tcp.txt, netstat-Aan.txt ... "
            "or platform in host.yml"
        )
    else:
        facts = _facts_of_platform(platform, texts, selection, max_connections, top, errors)
    addresses = [str(variables["ansible_host"])] if variables.get("ansible_host") else []
    return {
        "status": "reached",
        "mode": "capture",
        "mode_reason": "captured files in %s" % shown(folder),
        "platform": platform,
        "errors": errors,
        "facts": facts,
        "addresses": addresses,
        "netdiag_addresses": variables.get("netdiag_addresses"),
    }


def _read_folder(folder, max_bytes, errors):
    """({capture file name: text}, host.yml text or None) of one host folder, never through a symbolic link;
    unknown, unreadable and oversized files are named in errors."""
    texts = {}
    host_text = None
    directory_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    try:
        with os.scandir(directory_fd) as entries:
            names = sorted(entry.name for entry in entries if not entry.is_dir(follow_symlinks=False))
        for name in names:
            if name not in CAPTURE_FILES and name != HOST_FILE:
                errors.append(
                    "%s: unknown file name, not analysed (known: %s, %s)"
                    % (shown(name), HOST_FILE, ", ".join(sorted(CAPTURE_FILES)))
                )
                continue
            try:
                text, note = read_capture_file(directory_fd, name, max_bytes)
            except CaptureFileError as error:
                errors.append("%s: %s" % (name, error))
                continue
            if note:
                errors.append("%s: %s" % (name, note))
            if name == HOST_FILE:
                host_text = text
            else:
                texts[name] = text
    finally:
        os.close(directory_fd)
    return texts, host_text


def _facts_of_platform(platform, texts, selection, max_connections, top, errors):
    """The facts of the files that belong to the platform; a file cut off inside its last line costs that line."""
    for name in sorted(texts):
        owner = CAPTURE_FILES[name][0]
        if owner is not None and owner != platform:
            errors.append("%s: a %s file in a %s host folder, not analysed" % (name, owner, platform))
            texts.pop(name)
    facts, found = _analyse(platform, texts, selection, max_connections, top)
    cut = _cut_off(texts, found)
    if cut:
        # Read again without the cut lines, so one truncated copy costs its last line, not the whole file.
        for name in cut:
            texts[name] = texts[name][: texts[name].rfind("\n") + 1]
        facts, found = _analyse(platform, texts, selection, max_connections, top)
        errors.extend(
            "%s line %d: cut off (the file ends inside this line: a truncated copy?); the lines before it are "
            "analysed" % (name, line)
            for name, line in sorted(cut.items())
        )
    errors.extend(found)
    if "netstat" in facts:
        facts["netstat"]["sources"] = sorted(
            name for name in texts if name.startswith(("proc-net-", "netstat-", "ss.", "ss-"))
        )
    return facts


def _analyse(platform, texts, selection, max_connections, top):
    facts, errors = {}, []
    READERS[platform](texts, facts, errors, selection, max_connections, top)
    return facts, errors


def _cut_off(texts, errors):
    """{file: last line number} for the files that end without a line end in a line a parser could not read."""
    cut = {}
    for name, text in texts.items():
        if text and not text.endswith("\n"):
            last = text.count("\n") + 1
            if any(error.startswith("%s line %d:" % (name, last)) for error in errors) and last > 1:
                cut[name] = last
    return cut


def _parsed(name, errors, function, *arguments, **options):
    """function(...) or None, with a ParseError reported as '<file> line N: ...' (the rest goes on)."""
    try:
        return function(*arguments, **options)
    except ParseError as error:
        # Not the line itself: a file that is not what its name says (a link to /etc/shadow, a copy of something
        # else) must not put its content into the report; its line number is enough to find it.
        errors.append("%s line %d: %s (%s)" % (name, error.line_number, error.reason, error.format_name))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        errors.append("%s: not readable as %s (%s)" % (name, CAPTURE_FILES[name][1], type(error).__name__))
    return None


def read_linux(texts, facts, errors, selection, max_connections, top):
    sysctl_values = _parsed("sysctl.txt", errors, linux.parse_sysctl, texts.get("sysctl.txt", "")) or {}
    tables = {path: texts[name] for name, path in PROC_NET_FILES.items() if name in texts}
    netstat = None
    if tables:
        # Each table is checked alone first, so an unreadable line is reported with its own file's line number.
        good = {}
        for name, path in PROC_NET_FILES.items():
            if name in texts and _parsed(name, errors, _check_proc_table, texts[name]) is not None:
                good[path] = texts[name]
        if good:
            collector = linux.TextLinuxCollector(good, sysctl_values)
            netstat, _keepalive = collector.collect(Selection(**selection), max_connections, owners=False, tuples=True)
    readers = (
        ("netstat-an.txt", linux_netstat.parse, {}),
        ("ss.txt", linux_ss.parse, {}),
        ("ss-established.txt", linux_ss.parse, {"state": "established"}),
    )
    for name, parser, options in readers:
        if netstat is None and name in texts:
            netstat = _parsed(
                name, errors, parser, texts[name], max_connections=max_connections, tuples=True, **selection, **options
            )
    if netstat is not None:
        netstat["platform"] = "Linux"
        facts["netstat"] = netstat
    if any(key.startswith("net.ipv4.tcp_keepalive_") for key in sysctl_values):
        facts["keepalive"] = linux.keepalive_from_sysctl(sysctl_values, source="sysctl.txt")
    table_name = next((name for name in CONNTRACK_TABLE_FILES if name in texts), None)
    if sysctl_values or table_name:
        facts["conntrack"] = _parsed(
            table_name or "sysctl.txt",
            errors,
            linux.conntrack_section,
            sysctl_values,
            texts.get(table_name) if table_name else None,
            table_name,
            texts.get("conntrack-stat.txt"),
            "conntrack-stat.txt",
            top,
            Selection(**selection),
            key_style_hint=_key_style(table_name, texts.get(table_name)),
            nat_tuples=True,  # as the audit asks conntrack_facts: pairs through a captured NAT too
        )
        if facts["conntrack"] is None:
            facts.pop("conntrack")
    if "slabinfo.txt" in texts:
        slabinfo = _parsed("slabinfo.txt", errors, linux.slabinfo_section, texts["slabinfo.txt"])
        if slabinfo is not None:
            facts["slabinfo"] = slabinfo


def _key_style(name, text):
    """ip_conntrack for the legacy table (its lines start with the protocol, not with ipv4/ipv6), else nf_conntrack."""
    if name == "ip_conntrack.txt":
        return "ip_conntrack"
    if name == "conntrack.txt" and text and not text.lstrip().startswith(("ipv4", "ipv6")):
        return "ip_conntrack"
    return "nf_conntrack"


def _check_proc_table(text):
    return linux_proc_net_tcp.parse(text, max_connections=0)


def read_aix(texts, facts, errors, selection, max_connections, top):
    _read_into(facts, "netstat", texts, "netstat-Aan.txt", errors, aix.netstat_section, selection, max_connections)
    section = {}
    parsed = _read_into(section, "no", texts, "no-a.txt", errors, aix.no_section)
    if parsed is not None:
        facts["keepalive"] = aix.keepalive_from_no(parsed["tunables"], source="no-a.txt")
    if "rmsock.txt" in texts:
        rmsock = _rmsock_lines(errors, texts["rmsock.txt"])
        if rmsock is not None:
            section["rmsock"] = rmsock
    _read_into(section, "kdb_sockinfo", texts, "kdb-sockinfo.txt", errors, aix.kdb_sockinfo_section)
    if section:
        facts["aix"] = section


def _rmsock_lines(errors, text):
    """rmsock output read line by line (a log of many runs): a bad line is reported, the others are kept."""
    good = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and _parsed("rmsock.txt", errors, aix_rmsock.parse_line, line, number) is not None:
            good.append(line)
    return aix_rmsock.parse("\n".join(good)) if good else None


def read_sunos(texts, facts, errors, selection, max_connections, top):
    _read_into(facts, "netstat", texts, "netstat-an.txt", errors, sunos.netstat_section, selection, max_connections)
    name = "ndd-tcp_keepalive_interval.txt"
    abort_name = "ndd-tcp_keepalive_abort_interval.txt"
    if name in texts:
        keepalive = _parsed(
            "%s, %s" % (name, abort_name) if abort_name in texts else name,
            errors,
            sunos.keepalive_from_ndd,
            texts[name],
            texts.get(abort_name),
            source=name,
        )
        if keepalive is not None:
            facts["keepalive"] = keepalive


def _read_into(facts, key, texts, name, errors, function, *arguments):
    """facts[key] = function(text of file NAME, *arguments) when the capture has that file and it parses (else the
    error is in errors and facts is left as it was); returns what was stored, or None."""
    if name not in texts:
        return None
    value = _parsed(name, errors, function, texts[name], *arguments)
    if value is not None:
        facts[key] = value
    return value


READERS = {"Linux": read_linux, "AIX": read_aix, "SunOS": read_sunos}
