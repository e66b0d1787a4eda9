# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a conntrack sysctl is set for the next boot, and whether the conntrack module is loaded at boot.

Pure functions (``persisted``, ``sysctl_assignments``, ``module_load_entries``) take the file contents as a mapping
{path: text}; ``read_sysctl_files``/``read_module_load_files`` are the I/O half that collects them from a root
directory (``/`` on a host, a tmp tree in tests). The conntrack_tuning role can call ``persisted`` to find which
file overrides the value it writes.

Order (sysctl.d(5) and its "Configuration Directories and Precedence" section, systemd man/sysctl.d.xml and
man/standard-conf.xml): files ``*.conf`` in /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d and
/usr/lib/sysctl.d (plus /lib/sysctl.d on split-/usr systems, which systemd and procps both still read) are merged by
file name, a file in an earlier directory hiding a same-named file in a later one ("Files in /etc/ override files
with the same name in /run/, /usr/local/lib/, and /usr/lib/. Files in /run/ override files with the same name under
/usr/"); "All configuration files are sorted by their filename in lexicographic order, regardless of which of the
directories they reside in. If multiple files specify the same option, the entry in the file with the
lexicographically latest name will take precedence." A symlink to /dev/null masks a vendor file (it reads empty).

/etc/sysctl.conf: systemd-sysctl does not read it by itself; Debian and Fedora ship
/etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf, so it is applied at that name's place. procps ``sysctl --system``
(the sysvinit/openrc path) reads the same directories in the same by-name order and /etc/sysctl.conf last
(procps-ng sysctl(8), --system; gitlab.com/procps-ng/procps issue 200 shows the by-basename order). So: a sysctl.d
entry that resolves to /etc/sysctl.conf places it; otherwise it is applied last, and ``sysctl_conf_linked`` is
false to say that a systemd boot would not read it at all.

Key syntax (sysctl.d(5)): ``/`` and ``.`` are both separators ("If the first separator is a slash, remaining
slashes and dots are left intact. If the first separator is a dot, dots and slashes are interchanged"); a leading
``-`` means a failure to set the key is ignored; ``-key`` without ``=`` only excludes the key from globs; a key may
be a glob(7) pattern, which does not apply to keys that are assigned explicitly somewhere. Lines starting with
``#`` or ``;`` are comments.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath

ESTABLISHED_KEY = "net.netfilter.nf_conntrack_tcp_timeout_established"
LEGACY_ESTABLISHED_KEY = "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"

SYSCTL_DIRECTORIES = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
SYSCTL_CONF = "/etc/sysctl.conf"

# modules-load.d(5): same directory precedence and by-name order; Debian's /etc/modules is read through the
# /etc/modules-load.d/modules.conf -> ../modules link, and by the sysvinit kmod script without it.
MODULE_LOAD_DIRECTORIES = (
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
)
DEBIAN_MODULES = "/etc/modules"

# Loading any of these loads nf_conntrack (module dependencies); ip_conntrack is the pre-2.6.20 module.
CONNTRACK_MODULES = frozenset(("nf_conntrack", "ip_conntrack", "nf_conntrack_ipv4", "nf_conntrack_ipv6"))


def _key_path(key):
    """The /proc/sys path of a sysctl name, applying the sysctl.d(5) separator rule."""
    key = key.strip()
    slash = key.find("/")
    dot = key.find(".")
    if slash != -1 and (dot == -1 or slash < dot):
        return key.strip("/")
    return key.translate(str.maketrans("./", "/."))


def _dotted(path):
    return path.translate(str.maketrans("/.", "./"))


def ordered_files(paths, directories):
    """The paths systemd-sysctl (or systemd-modules-load) applies, in order: merged by file name, a file in an
    earlier directory hiding a same-named one in a later directory, sorted by name."""
    by_name = {}
    for directory in directories:
        for path in sorted(paths):
            if posixpath.dirname(path) != directory or not path.endswith(".conf"):
                continue
            name = posixpath.basename(path)
            if name not in by_name:
                by_name[name] = path
    return [by_name[name] for name in sorted(by_name)]


def _parse_sysctl_lines(text):
    """(line number, key path, value or None, ignore_failure) for every assignment or exclusion line."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        ignore_failure = line.startswith("-")
        if ignore_failure:
            line = line[1:].lstrip()
        key, separator, value = line.partition("=")
        yield number, _key_path(key), (value.strip() if separator else None), ignore_failure


def _value(text):
    try:
        return int(text)
    except ValueError:
        return text


def sysctl_assignments(files, keys, links=None):
    """Every assignment of one of `keys` in the order the boot applies them.

    files: {path: text} of sysctl.d files and /etc/sysctl.conf; links: {path: target} for symlinks among them.
    Returns (assignments, sysctl_conf_linked).
    """
    links = links or {}
    wanted = [_key_path(key) for key in keys]
    order = ordered_files(files, SYSCTL_DIRECTORIES)
    sysctl_conf_linked = any(links.get(path) == SYSCTL_CONF for path in order)
    if SYSCTL_CONF in files and not sysctl_conf_linked:
        order.append(SYSCTL_CONF)
    explicit = []
    globs = []
    not_for_globs = set()
    for path in order:
        for number, key_path, value, ignore_failure in _parse_sysctl_lines(files[path]):
            record = {
                "file": path,
                "line": number,
                "key": _dotted(key_path),
                "value": None if value is None else _value(value),
                "ignore_failure": ignore_failure,
            }
            if links.get(path):
                record["target"] = links[path]
            if key_path in wanted:
                # An explicit assignment, or a "-key" exclusion: either way no glob applies to this key.
                not_for_globs.add(key_path)
                if value is not None:
                    explicit.append(record)
            elif value is not None and any(char in key_path for char in "*?["):
                matched = [name for name in wanted if fnmatch.fnmatchcase(name, key_path)]
                if matched:
                    record["glob"] = True
                    globs.append((record, matched))
    assignments = list(explicit)
    for record, matched in globs:
        remaining = [name for name in matched if name not in not_for_globs]
        if remaining:
            record["matches"] = [_dotted(name) for name in remaining]
            assignments.append(record)
    position = {path: index for index, path in enumerate(order)}
    assignments.sort(key=lambda record: (position[record["file"]], record["line"]))
    return assignments, sysctl_conf_linked


def module_load_entries(files, modules=CONNTRACK_MODULES, links=None):
    """[{file, line, module}] for each listed module in modules-load.d files (and Debian's /etc/modules)."""
    links = links or {}
    order = ordered_files(files, MODULE_LOAD_DIRECTORIES)
    if DEBIAN_MODULES in files and not any(links.get(path) == DEBIAN_MODULES for path in order):
        order.append(DEBIAN_MODULES)
    entries = []
    for path in order:
        for number, raw in enumerate(files[path].splitlines(), 1):
            words = raw.split("#", 1)[0].split()
            if not words or raw.lstrip().startswith(";"):
                continue
            # /etc/modules allows parameters after the name; modules-load.d takes the name only.
            name = words[0].replace("-", "_")
            if name in modules:
                entries.append({"file": path, "line": number, "module": name})
    return entries


def persisted(
    sysctl_files,
    module_files,
    key=ESTABLISHED_KEY,
    aliases=(LEGACY_ESTABLISHED_KEY,),
    present_keys=None,
    builtin=None,
    sysctl_links=None,
    module_links=None,
):
    """Where `key` (or a legacy alias) is set for the next boot.

    present_keys: the keys that exist on the running kernel (None: unknown). An assignment of a key the kernel
    does not have (the legacy ip_conntrack name on a current kernel) does nothing: it gets applies: false and
    cannot be the effective one. builtin: conntrack compiled into the kernel (None: unknown).

    Returns {key, assignments: [{file, line, key, value, ignore_failure, applies, target?, glob?}],
    effective: {file, line, key, value} | None, sysctl_conf_linked, module_loaded_at_boot, module_builtin,
    module_load_files}. module_loaded_at_boot is true when conntrack is built in or a modules-load.d entry loads
    it: without it systemd-sysctl runs before the module exists and the setting silently does nothing.
    """
    keys = (key, *aliases)
    assignments, sysctl_conf_linked = sysctl_assignments(sysctl_files, keys, sysctl_links)
    present = None if present_keys is None else {_key_path(name) for name in present_keys}
    effective = None
    for record in assignments:
        targets = record.get("matches", [record["key"]])
        record["applies"] = present is None or any(_key_path(name) in present for name in targets)
        if record["applies"]:
            effective = {"file": record["file"], "line": record["line"], "key": record["key"], "value": record["value"]}
    loads = module_load_entries(module_files, links=module_links)
    return {
        "key": key,
        "assignments": assignments,
        "effective": effective,
        "sysctl_conf_linked": sysctl_conf_linked,
        "module_builtin": builtin,
        "module_loaded_at_boot": bool(builtin) or bool(loads),
        "module_load_files": loads,
    }


# --- I/O half ------------------------------------------------------------------------------------------------------


def _read_tree(root, directories, extra_files):
    """({path: text}, {path: link target}) for the *.conf files of `directories` and the `extra_files`, under
    `root`. Unreadable files are skipped (listed in the third value)."""
    files = {}
    links = {}
    unreadable = []
    seen_directories = set()
    candidates = []
    for directory in directories:
        real_directory = os.path.realpath(root + directory)
        if real_directory in seen_directories or not os.path.isdir(real_directory):
            # /lib/sysctl.d is /usr/lib/sysctl.d on merged-/usr systems: read it once.
            continue
        seen_directories.add(real_directory)
        try:
            names = sorted(os.listdir(real_directory))
        except OSError:
            unreadable.append(directory)
            continue
        candidates.extend(posixpath.join(directory, name) for name in names if name.endswith(".conf"))
    candidates.extend(path for path in extra_files if os.path.lexists(root + path))
    for path in candidates:
        host_path = root + path
        if os.path.islink(host_path):
            target = os.readlink(host_path)
            links[path] = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        try:
            with open(host_path, encoding="utf-8", errors="replace") as handle:
                files[path] = handle.read()
        except (IsADirectoryError, FileNotFoundError):
            # A dangling link (Debian's modules.conf -> ../modules without /etc/modules) configures nothing.
            continue
        except OSError:
            if links.get(path) == "/dev/null":
                files[path] = ""
            else:
                unreadable.append(path)
    return files, links, unreadable


def read_sysctl_files(root="/"):
    """Files and links that decide the sysctl values of the next boot, read from `root` (a host's /)."""
    return _read_tree(root.rstrip("/"), SYSCTL_DIRECTORIES, (SYSCTL_CONF,))


def read_module_load_files(root="/"):
    """Files and links that list the modules loaded at boot, read from `root`."""
    return _read_tree(root.rstrip("/"), MODULE_LOAD_DIRECTORIES, (DEBIAN_MODULES,))
