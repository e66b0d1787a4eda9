# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Sets Linux conntrack sysctls live and persistently, validating everything before changing anything.

from __future__ import annotations

DOCUMENTATION = r"""
module: conntrack_sysctl
short_description: Set Linux conntrack sysctls live and in one sysctl.d file, safely
version_added: 0.1.0
description:
  - Sets netfilter connection tracking (conntrack) kernel parameters, such as the TCP established timeout, by their
    short names (V(tcp_timeout_established), V(max), V(tcp_timeout_close_wait), ...). The module resolves them to
    the names this kernel uses, C(net.netfilter.nf_conntrack_*) or the legacy C(net.ipv4.netfilter.ip_conntrack_*).
  - Validates first, changes second. Every name must exist under C(/proc/sys) and be writable here, and every value
    must be an integer in the parameter's range; otherwise the module fails before it writes anything
    (M(ansible.posix.sysctl) rewrites the file first and fails afterwards).
  - Writes all settings to one file under C(/etc/sysctl.d) (atomically, replacing that file's content), writes the
    live values to C(/proc/sys), and reads both back to verify them.
  - The writes run in a process of their own (forked, in a session of its own, ignoring SIGHUP, SIGINT and SIGTERM),
    so a module process killed in the middle (SIGKILL from the OOM killer or a timeout) does not leave a temporary
    file or a new file beside the old live value; that process finishes the writes, or its own roll-back.
  - Looks through every sysctl configuration file applied after its own at boot, in the order C(systemd-sysctl)
    uses (all C(*.conf) in C(/etc/sysctl.d), C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d) and
    C(/lib/sysctl.d), merged and sorted by file name; C(/etc/sysctl.conf) always counts as later, since
    C(sysctl --system) applies it last even where C(systemd-sysctl) reads it through Debian's C(99-sysctl.conf)) for
    a line that sets the same parameter,
    under any of its names that exist on this kernel, to another value. Such a line would undo the setting at the
    next boot, so the module fails naming the file and line, or, with O(overrides=comment_out), comments the line
    out after saving a backup. The boot order comes from the collection's C(linux_sysctl_persisted) module utility,
    which M(netdiag.tcp.conntrack_facts) uses too.
  - Records, in the managed file's header, the live value each parameter had before the module first set it
    (C(# previous <key> = <value>)). With O(state=absent) the module removes the managed file and writes those
    recorded values back to C(/proc/sys), which undoes the tuning without C(sysctl --system) (that re-applies every
    file in C(/etc/sysctl.d), not only this one).
  - Supports check mode and diff mode; the diff shows the file and the live values before and after.
  - Does not load the conntrack kernel module and does not make it load at boot; the role
    C(netdiag.tcp.conntrack_tuning) does both (with M(community.general.modprobe) and C(modules-load.d)). Without
    that, a sysctl.d entry for conntrack does nothing at boot, because C(systemd-sysctl) runs before the firewall
    loads C(nf_conntrack). The returned RV(kernel_module) says whether the module is built in.
options:
  settings:
    description:
      - The parameters to set, as a mapping from short name to integer value. The short name is the sysctl name
        without its C(net.netfilter.nf_conntrack_) or C(net.ipv4.netfilter.ip_conntrack_) prefix, as in
        C(ansible_facts.netdiag.conntrack.timeouts).
      - Timeouts (names containing V(timeout)) are seconds from 1 to 2147483 (the kernel keeps them in jiffies in a
        signed 32-bit integer, so larger values fail with HZ=1000). V(max) and V(expect_max) are 1 to 2147483647.
        Switches (V(acct), V(checksum), V(timestamp), V(tcp_loose), V(tcp_be_liberal), V(tcp_ignore_invalid_rst),
        V(dccp_loose), V(helper)) are 0 or 1, V(events) 0 to 2, V(log_invalid) 0 to 255, anything else 0 to
        2147483647.
      - V(max) sets C(net.netfilter.nf_conntrack_max), which is the same kernel variable as C(net.nf_conntrack_max).
        It is global to the host and writable only in the initial network namespace; inside a container or another
        network namespace it is read-only and the module fails with a message saying so.
      - V(buckets) and V(count) are refused. V(count) is a counter. V(buckets) (the hash table size) is writable only
        in the initial network namespace on recent kernels and is not reliably applied from sysctl.d at boot; set
        the C(nf_conntrack) module option C(hashsize) instead (C(options nf_conntrack hashsize=N) in
        C(/etc/modprobe.d)).
      - Required with O(state=present); not used with O(state=absent).
    type: dict
  state:
    description:
      - V(present) sets O(settings) (and records the values they replace, the first time).
      - V(absent) undoes it. It removes the managed file and, with O(apply_live=true), writes back the live values
        recorded in it. A parameter the file sets without a recorded value (a file written by an older version of
        the collection) keeps its live value and is listed in RV(not_recorded). At the next boot the other sysctl
        files decide the values, or the kernel defaults when none sets them. Does not unload the kernel module.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.2.0
  file_name:
    description:
      - Base name of the one file under C(/etc/sysctl.d) that holds the settings. The module owns this file and
        replaces its whole content.
      - Must end in C(.conf) (other names are not read at boot). Files that sort after it, and C(/etc/sysctl.conf),
        are applied after it at boot; see O(overrides).
    type: str
    default: 90-netdiag-conntrack.conf
  apply_live:
    description:
      - Also write the values to C(/proc/sys) and verify them. With V(false) only the file is written and checked,
        and the new values apply at the next boot (or C(sysctl --system)).
      - With O(state=absent), whether the recorded values are written back to C(/proc/sys).
    type: bool
    default: true
  overrides:
    description:
      - What to do when a sysctl file applied after O(file_name) at boot sets one of the parameters (under any of its
        names that exist on this host) to a different value.
      - V(fail) fails before any change and names each file and line.
      - V(comment_out) comments those lines out (prefixing C(# netdiag.tcp commented out, ...)) after saving a
        backup of each file next to it, and returns the backups in RV(backup_files). Only files under C(/etc) are
        edited; a line in a vendor file (C(/run), C(/usr/lib), ...) still fails, because a package update would
        restore it (mask that file with one of the same name in C(/etc/sysctl.d) instead).
      - A later line that sets the same value is harmless; it is returned in RV(overrides) with C(conflict=false).
      - Glob assignments (C(net.netfilter.*=...)) are not overrides; C(systemd-sysctl) lets an explicit assignment win
        over any glob.
    type: str
    choices: [fail, comment_out]
    default: fail
  validate_only:
    description:
      - Only validate O(settings) (names and ranges, and, when conntrack is loaded, that each parameter exists and
        is writable) and report what the host has (RV(available), RV(key_style), RV(kernel_module), RV(sysctl_names)).
        Changes nothing and does not fail when conntrack is not loaded. The role runs this first, so that a bad
        value fails before it loads a kernel module.
    type: bool
    default: false
  config_root:
    description:
      - Directory that stands for C(/) when reading and writing the configuration files (C(/etc/sysctl.d), ...).
        For tests and for preparing a mounted image; leave the default on a normal host.
    type: path
    default: /
  kernel_root:
    description:
      - Directory that stands for C(/) when reading C(/proc/sys), C(/proc/modules) and C(/sys/module). For tests
        only; leave the default.
    type: path
    default: /
extends_documentation_fragment:
  - netdiag.tcp.attributes
  - netdiag.tcp.attributes.platform
attributes:
  check_mode:
    support: full
    details: Validates, looks for overrides and reports what would change, without writing anything.
  diff_mode:
    support: full
    details: Before and after of the sysctl.d file, of each file whose line would be commented out, and of the live
      values.
  platform:
    platforms: linux
    support: full
seealso:
  - module: ansible.posix.sysctl
  - module: community.general.modprobe
  - name: sysctl.d(5)
    description: Where systemd-sysctl reads settings from at boot and in which order.
    link: https://www.freedesktop.org/software/systemd/man/latest/sysctl.d.html
notes:
  - Conntrack timeouts are per network namespace. A namespace created after boot (a container) starts with the
    kernel defaults, not with the values set here for the host.
author:
  - netdiag.tcp developers (@netdiag-tcp)
"""

EXAMPLES = r"""
- name: Expire idle ESTABLISHED conntrack entries after 20 minutes instead of 5 days
  netdiag.tcp.conntrack_sysctl:
    settings:
      tcp_timeout_established: 1200

- name: Also raise the table size and shorten CLOSE_WAIT, commenting out old lines in /etc/sysctl.conf
  netdiag.tcp.conntrack_sysctl:
    settings:
      tcp_timeout_established: 1200
      tcp_timeout_close_wait: 60
      max: 262144
    overrides: comment_out
  register: conntrack_sysctl_result

- name: Undo the tuning, removing the file and putting back the values the host had before
  netdiag.tcp.conntrack_sysctl:
    state: absent

- name: Only check names and ranges (changes nothing, also when nf_conntrack is not loaded)
  netdiag.tcp.conntrack_sysctl:
    settings:
      tcp_timeout_established: 1200
    validate_only: true
"""

RETURN = r"""
available:
  description: Whether conntrack parameters exist under C(/proc/sys) (the conntrack kernel module is loaded or built
    in).
  type: bool
  returned: always
  sample: true
reason:
  description: Why conntrack is not available.
  type: str
  returned: when RV(available) is false
  sample: >-
    conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_* nor
    /proc/sys/net/ipv4/netfilter/ip_conntrack_* exists
key_style:
  description: Which names this kernel uses, V(nf_conntrack) (C(net.netfilter.nf_conntrack_*)) or V(ip_conntrack)
    (C(net.ipv4.netfilter.ip_conntrack_*), legacy kernels).
  type: str
  returned: when RV(available) is true
  sample: nf_conntrack
kernel_module:
  description: The conntrack kernel module.
  type: dict
  returned: always
  contains:
    name:
      description: Module name.
      type: str
      sample: nf_conntrack
    loaded:
      description: Whether it is loaded (or built in).
      type: bool
      sample: true
    builtin:
      description: Whether it is built into the kernel (then nothing has to load it at boot); null when unknown.
      type: bool
      sample: false
    loaded_at_boot:
      description: Whether it is built in or listed in a C(modules-load.d) file (or Debian's C(/etc/modules)), so
        that it exists when C(systemd-sysctl) runs at boot.
      type: bool
      sample: true
    load_files:
      description: The C(modules-load.d) files that load it.
      type: list
      elements: str
      sample: ["/etc/modules-load.d/netdiag-conntrack.conf"]
sysctl_names:
  description: Full sysctl name per short name (named so because C(result.keys) is a method in Jinja).
  type: dict
  returned: when RV(available) is true
  sample: {"tcp_timeout_established": "net.netfilter.nf_conntrack_tcp_timeout_established"}
sysctl_file:
  description: Path of the managed file.
  type: str
  returned: always
  sample: /etc/sysctl.d/90-netdiag-conntrack.conf
before:
  description:
    - Per short name, the values before the run. C(live) is the value in C(/proc/sys), C(file) the value in the
      managed file (null when not there), C(boot) the value the sysctl files would give at boot (the last
      assignment under any of its names in boot order; null when no file sets it).
  type: dict
  returned: when RV(available) is true and O(validate_only) is false
  sample: {"tcp_timeout_established": {"live": 432000, "file": null, "boot": null}}
after:
  description: Per short name, the values after the run, read back (in check mode, the values the run would give).
  type: dict
  returned: when RV(available) is true and O(validate_only) is false
  sample: {"tcp_timeout_established": {"live": 1200, "file": 1200, "boot": 1200}}
overrides:
  description: Lines applied after the managed file at boot that set one of the parameters, found before any change.
  type: list
  elements: dict
  returned: when RV(available) is true and O(validate_only) is false
  contains:
    path:
      description: File.
      type: str
      sample: /etc/sysctl.conf
    line_number:
      description: Line number, from 1.
      type: int
      sample: 12
    line:
      description: The line as written.
      type: str
      sample: net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 432000
    key:
      description: Full sysctl name the line sets.
      type: str
      sample: net.ipv4.netfilter.ip_conntrack_tcp_timeout_established
    short_name:
      description: Short name of the parameter.
      type: str
      sample: tcp_timeout_established
    value:
      description: Value the line sets, as written.
      type: str
      sample: "432000"
    conflict:
      description: Whether the value differs from the desired one.
      type: bool
      sample: true
commented_out:
  description: Lines the module commented out (or would, in check mode) with O(overrides=comment_out).
  type: list
  elements: dict
  returned: when RV(available) is true and O(validate_only) is false
  contains:
    path:
      description: File.
      type: str
    line_number:
      description: Line number, from 1.
      type: int
    line:
      description: The line before it was commented out.
      type: str
backup_files:
  description: Backups made before commenting lines out.
  type: list
  elements: str
  returned: when RV(available) is true and O(validate_only) is false
  sample: ["/etc/sysctl.conf.2301.2024-05-01@10:00:00~"]
previous:
  description: The live values recorded in the managed file before the module first changed them (full sysctl
    name to value); with O(state=absent), the values it read from the file.
  type: dict
  returned: when O(validate_only) is false and the module got past its checks
  sample: {"net.netfilter.nf_conntrack_tcp_timeout_established": 432000}
removed:
  description: With O(state=absent), whether the managed file existed and was (or, in check mode, would be) removed.
  type: bool
  returned: when O(state=absent)
  sample: true
restored:
  description: With O(state=absent), per full sysctl name, the live value before and after (in check mode, the
    value it would write back).
  type: dict
  returned: when O(state=absent)
  sample: {"net.netfilter.nf_conntrack_tcp_timeout_established": {"before": 1200, "after": 432000}}
check_mode:
  description: With O(state=absent), whether the module ran in check mode (nothing was removed or written).
  type: bool
  returned: when O(state=absent)
  sample: false
not_recorded:
  description: With O(state=absent), parameters the removed file set without a recorded previous value; their live
    value was left as it was.
  type: list
  elements: str
  returned: when O(state=absent)
  sample: []
undo:
  description: With O(state=present), how to undo the change.
  type: str
  returned: when O(state=present) and O(validate_only) is false
  sample: >-
    conntrack_sysctl state=absent (role: conntrack_tuning_state: absent) removes
    /etc/sysctl.d/90-netdiag-conntrack.conf and writes back net.netfilter.nf_conntrack_tcp_timeout_established = 432000
"""

import glob
import json
import os
import platform
import re
import signal
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdiag.tcp.plugins.module_utils.linux.sysctl_persisted import (
    module_load_entries,
    persisted,
    read_module_load_files,
    read_sysctl_files,
)

INT_MAX = 2147483647
# Timeouts are converted to jiffies into a signed int (proc_dointvec_jiffies); INT_MAX / 1000 is safe for any HZ.
TIMEOUT_MAX = INT_MAX // 1000
SWITCH_NAMES = frozenset(
    ("acct", "checksum", "timestamp", "tcp_loose", "tcp_be_liberal", "tcp_ignore_invalid_rst", "dccp_loose", "helper")
)
EXPLICIT_RANGES = {"max": (1, INT_MAX), "expect_max": (1, INT_MAX), "events": (0, 2), "log_invalid": (0, 255)}
REFUSED = {
    "count": "count is the number of entries in the table, a read-only counter",
    "buckets": (
        "buckets (nf_conntrack_buckets, the hash table size) is not set with sysctl: on recent kernels it is writable "
        "only in the initial network namespace and sysctl.d cannot set it reliably at boot; set the module option "
        "instead, 'options nf_conntrack hashsize=N' in /etc/modprobe.d (read when the module loads)"
    ),
}
# fullmatch/\\Z everywhere: "$" also matches before a final newline, and a name with a newline in it would put a
# second line into sysctl.d (or, through the role's template, a module name into modules-load.d).
SHORT_NAME_PATTERN = re.compile(r"[a-z0-9_]+\Z")
FILE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.conf\Z")
# The managed file: root's boot-time settings, readable by all, writable by root only, whatever the umask.
MANAGED_FILE_MODE = 0o644
KEY_PREFIXES = {"nf_conntrack": "net.netfilter.nf_conntrack_", "ip_conntrack": "net.ipv4.netfilter.ip_conntrack_"}
KERNEL_MODULE_NAMES = {"nf_conntrack": "nf_conntrack", "ip_conntrack": "ip_conntrack"}
SYSCTL_CONF = "/etc/sysctl.conf"
FILE_HEADER = (
    "# Managed by netdiag.tcp (conntrack_tuning role / conntrack_sysctl module); local edits are overwritten.\n"
    "# These apply at boot only if the conntrack module is loaded before systemd-sysctl (see modules-load.d).\n"
)
COMMENT_PREFIX = "# netdiag.tcp commented out, it overrode %s: "
# The live value of each parameter before the module first set it, kept in the managed file for state=absent.
PREVIOUS_HEADER = "# Live values before netdiag.tcp first set them (state=absent writes them back):\n"
PREVIOUS_LINE = re.compile(r"# previous ([A-Za-z0-9_./-]+) = (-?[0-9]+)\Z")


class SettingsError(ValueError):
    """A setting that must not be applied; the message says why."""


def value_range(short_name):
    if short_name in EXPLICIT_RANGES:
        return EXPLICIT_RANGES[short_name]
    if short_name in SWITCH_NAMES:
        return (0, 1)
    if "timeout" in short_name:
        return (1, TIMEOUT_MAX)
    return (0, INT_MAX)


def parse_integer(short_name, value):
    # bool is an int subclass; "true" for a sysctl is almost always a mistake in the inventory.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SettingsError("%s: %r is not an integer" % (short_name, value))
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?[0-9]+", text):
            raise SettingsError("%s: %r is not an integer" % (short_name, value))
        value = int(text)
    return value


def validate_settings(settings):
    """{short name: value} -> {short name: int}, or SettingsError listing every problem."""
    problems = []
    validated = {}
    if not settings:
        raise SettingsError("settings is empty: give at least one parameter, e.g. tcp_timeout_established: 1200")
    for short_name in sorted(settings):
        if not isinstance(short_name, str) or not SHORT_NAME_PATTERN.match(short_name):
            problems.append("%r is not a short conntrack parameter name (lower case, digits, _)" % (short_name,))
            continue
        for prefix in ("nf_conntrack_", "ip_conntrack_", "net."):
            if short_name.startswith(prefix):
                problems.append("%s: give the short name without the %s prefix" % (short_name, prefix))
                break
        else:
            if short_name in REFUSED:
                problems.append(REFUSED[short_name])
                continue
            try:
                value = parse_integer(short_name, settings[short_name])
            except SettingsError as error:
                problems.append(str(error))
                continue
            low, high = value_range(short_name)
            if not low <= value <= high:
                unit = " seconds" if "timeout" in short_name else ""
                problems.append("%s: %d is out of range %d..%d%s" % (short_name, value, low, high, unit))
                continue
            validated[short_name] = value
    if problems:
        raise SettingsError("; ".join(problems))
    return validated


def key_aliases(short_name):
    """Every sysctl name that reaches the same kernel variable as short_name."""
    aliases = [prefix + short_name for prefix in KEY_PREFIXES.values()]
    if short_name == "max":
        aliases.append("net.nf_conntrack_max")
    return aliases


def key_to_path(key):
    """A sysctl.d key, as systemd-sysctl reads it, to its path under /proc/sys ("a.b/c" -> "a/b.c")."""
    key = key.strip()
    dot, slash = key.find("."), key.find("/")
    if dot != -1 and (slash == -1 or dot < slash):
        key = key.translate(str.maketrans("./", "/."))
    return key.strip("/")


def parse_sysctl_lines(text):
    """Yield (line_number, line, key, value) for each assignment in a sysctl.d file (pure; no globs dropped)."""
    for line_number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip()
        if key.startswith("-"):
            key = key[1:].strip()
        yield line_number, line, key, value.strip()


def render_file(keys, values, previous=None):
    lines = [FILE_HEADER]
    if previous:
        lines.append(PREVIOUS_HEADER)
        lines.extend("# previous %s = %d\n" % (key, previous[key]) for key in sorted(previous))
    for short_name in sorted(values):
        lines.append("%s = %d\n" % (keys[short_name], values[short_name]))
    return "".join(lines)


def parse_previous(text):
    """{full sysctl name: int} recorded in a managed file's header (pure)."""
    previous = {}
    for line in (text or "").splitlines():
        match = PREVIOUS_LINE.match(line.strip())
        if match:
            previous[match.group(1)] = int(match.group(2))
    return previous


def undo_text(sysctl_file, previous):
    restored = ", ".join("%s = %d" % (key, previous[key]) for key in sorted(previous)) or "no recorded value"
    return "conntrack_sysctl state=absent (role: conntrack_tuning_state: absent) removes %s and writes back %s" % (
        sysctl_file,
        restored,
    )


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def to_int_or_text(text):
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def recorded_previous(file_before, keys, file_values_before, live_before):
    """{sysctl key: the value the host had}: recorded once, when the managed file first sets a parameter. A parameter
    the file already sets without a record (an older version wrote it) stays unrecorded rather than get our value."""
    previous = parse_previous(file_before)
    for short_name, key in keys.items():
        if key not in previous and short_name not in file_values_before and isinstance(live_before[short_name], int):
            previous[key] = live_before[short_name]
    return previous


class LinuxConntrackSysctl:
    """Validate, compare, write one sysctl.d file atomically, apply live, verify; all paths under two roots."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.config_root = self.params["config_root"]
        self.kernel_root = self.params["kernel_root"]
        file_name = self.params["file_name"]
        if not FILE_NAME_PATTERN.match(file_name):
            module.fail_json(
                msg="Nothing was changed: file_name %r must be a plain file name ending in .conf (letters, digits, "
                "'.', '_' and '-', starting with a letter or digit)" % file_name,
                changed=False,
            )
        self.file_name = file_name
        self.sysctl_file = self.config_path("/etc/sysctl.d/" + file_name)

    # ---- paths --------------------------------------------------------------------------------------------------
    def config_path(self, absolute):
        return os.path.join(self.config_root, absolute.lstrip("/"))

    def kernel_path(self, absolute):
        return os.path.join(self.kernel_root, absolute.lstrip("/"))

    def proc_path(self, key):
        return self.kernel_path("/proc/sys/" + key_to_path(key))

    # ---- what the host has --------------------------------------------------------------------------------------
    def key_style(self):
        for style, directory in (
            ("nf_conntrack", "/proc/sys/net/netfilter"),
            ("ip_conntrack", "/proc/sys/net/ipv4/netfilter"),
        ):
            prefix = KEY_PREFIXES[style].rsplit(".", 1)[1]
            if glob.glob(os.path.join(self.kernel_path(directory), glob.escape(prefix) + "*")):
                return style
        return None

    def kernel_module(self, style):
        info = self.kernel_module_state(style)
        files, links, _unreadable = read_module_load_files(self.config_root)
        entries = module_load_entries(files, links=links)
        info["loaded_at_boot"] = bool(info["builtin"]) or bool(entries)
        info["load_files"] = sorted({self.config_path(entry["file"]) for entry in entries})
        return info

    def kernel_module_state(self, style):
        name = KERNEL_MODULE_NAMES[style or "nf_conntrack"]
        modules = read_text(self.kernel_path("/proc/modules")) or ""
        if any(line.split(" ", 1)[0] == name for line in modules.splitlines()):
            return {"name": name, "loaded": True, "builtin": False}
        sys_module = self.kernel_path("/sys/module/" + name)
        if os.path.isdir(sys_module) and not os.path.exists(os.path.join(sys_module, "initstate")):
            return {"name": name, "loaded": True, "builtin": True}
        builtin_list = read_text(self.kernel_path("/lib/modules/%s/modules.builtin" % platform.release()))
        if builtin_list is not None and any(line.endswith("/%s.ko" % name) for line in builtin_list.splitlines()):
            return {"name": name, "loaded": True, "builtin": True}
        return {"name": name, "loaded": style is not None, "builtin": None if style else False}

    def check_keys(self, style, settings):
        """{short: full key} for this host, or fail naming every missing or read-only parameter."""
        prefix = KEY_PREFIXES[style]
        keys = {short_name: prefix + short_name for short_name in settings}
        problems = []
        for short_name, key in sorted(keys.items()):
            path = self.proc_path(key)
            if not os.path.exists(path):
                problems.append(
                    "%s: %s does not exist on this kernel (%s); parameters here: %s"
                    % (short_name, key, platform.release(), ", ".join(self.available_short_names(style)))
                )
            elif not os.access(path, os.W_OK):
                if short_name == "max":
                    problems.append(
                        "max: %s is read-only here. It is one limit for the whole host (the same variable as "
                        "net.nf_conntrack_max) and the kernel lets only the initial network namespace change it; "
                        "set it on the host, not in a container or network namespace" % key
                    )
                else:
                    problems.append("%s: %s is read-only here" % (short_name, key))
        if problems:
            self.module.fail_json(msg="Nothing was changed: " + "; ".join(problems), changed=False)
        return keys

    def available_short_names(self, style):
        prefix = KEY_PREFIXES[style]
        directory = self.kernel_path("/proc/sys/" + key_to_path(prefix.rsplit(".", 1)[0]))
        name_prefix = prefix.rsplit(".", 1)[1]
        return sorted(name[len(name_prefix) :] for name in os.listdir(directory) if name.startswith(name_prefix))

    def read_live(self, keys):
        return {short_name: to_int_or_text(read_text(self.proc_path(key))) for short_name, key in keys.items()}

    # ---- boot configuration -------------------------------------------------------------------------------------
    def boot_state(self, keys, settings, own_text):
        """Boot-time view of every parameter, from linux_sysctl_persisted (the order systemd-sysctl applies files).

        Returns ({short: value at boot now}, {short: value at boot once own_text is the managed file},
        overrides found in that predicted configuration). An override is an assignment that
        is applied after the managed file's last one and reaches a key that exists on this kernel.
        """
        files, links, _unreadable = read_sysctl_files(self.config_root)
        own = "/etc/sysctl.d/" + self.file_name
        predicted = dict(files, **{own: own_text})
        predicted_links = {path: target for path, target in links.items() if path != own}
        boot_now, boot_predicted, overrides = {}, {}, []
        for short_name, key in sorted(keys.items()):
            aliases = [alias for alias in key_aliases(short_name) if alias != key]
            present = [name for name in [key, *aliases] if os.path.exists(self.proc_path(name))]
            options = {"key": key, "aliases": aliases, "present_keys": present}
            now = persisted(files, {}, sysctl_links=links, **options)
            after = persisted(predicted, {}, sysctl_links=predicted_links, **options)
            boot_now[short_name] = now["effective"]["value"] if now["effective"] else None
            boot_predicted[short_name] = after["effective"]["value"] if after["effective"] else None
            assignments = after["assignments"]
            last_own = max(index for index, record in enumerate(assignments) if record["file"] == own)
            # systemd-sysctl reads /etc/sysctl.conf at the place of its link (99-sysctl.conf), but `sysctl --system`
            # applies it last in any case; a managed file sorting after the link must not hide it.
            later = [
                record
                for index, record in enumerate(assignments)
                if index > last_own or record.get("target", record["file"]) == SYSCTL_CONF
            ]
            for record in later:
                if not record["applies"] or record["file"] == own:
                    continue
                shown = record.get("target", record["file"])
                overrides.append(
                    {
                        "path": self.config_path(shown),
                        "line_number": record["line"],
                        "line": self.source_line(shown, record["line"]),
                        "key": record["key"],
                        "short_name": short_name,
                        "value": str(record["value"]),
                        "conflict": record["value"] != settings[short_name],
                    }
                )
        return boot_now, boot_predicted, overrides

    def source_line(self, path, line_number):
        lines = (read_text(self.config_path(path)) or "").splitlines()
        return lines[line_number - 1] if 0 < line_number <= len(lines) else ""

    # ---- the run ------------------------------------------------------------------------------------------------
    def validate_only(self, settings):
        style = self.key_style()
        result = {"changed": False, "available": style is not None, "kernel_module": self.kernel_module(style)}
        result["sysctl_file"] = self.sysctl_file
        if style is None:
            result["reason"] = self.not_available_reason()
            return result
        result["key_style"] = style
        result["sysctl_names"] = self.check_keys(style, settings)
        return result

    def not_available_reason(self):
        return (
            "conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_* nor "
            "/proc/sys/net/ipv4/netfilter/ip_conntrack_* exists"
        )

    def run(self, settings):
        style = self.key_style()
        if style is None:
            self.module.fail_json(
                msg="Nothing was changed: %s; load it first (the role netdiag.tcp.conntrack_tuning does, "
                "see conntrack_tuning_load_module)" % self.not_available_reason(),
                available=False,
                kernel_module=self.kernel_module(None),
                changed=False,
            )
        keys = self.check_keys(style, settings)
        if os.path.islink(self.sysctl_file):
            self.module.fail_json(
                msg="Nothing was changed: %s is a symbolic link; this module owns that file and writes it as a plain "
                "file, so remove the link or choose another file_name" % self.sysctl_file,
                changed=False,
            )
        live_before = self.read_live(keys)
        file_before = read_text(self.sysctl_file)
        file_values_before = self.file_values(file_before, keys)
        previous = recorded_previous(file_before, keys, file_values_before, live_before)
        file_after = render_file(keys, settings, previous)
        boot_before, boot_predicted, overrides = self.boot_state(keys, settings, file_after)
        conflicts = [entry for entry in overrides if entry["conflict"]]
        to_comment_out = self.plan_comment_out(conflicts, settings) if conflicts else []

        edits = self.comment_out_edits(to_comment_out)
        live_changes = {s: v for s, v in settings.items() if live_before[s] != v} if self.params["apply_live"] else {}
        changed = file_after != file_before or bool(edits) or bool(live_changes)

        live_after_expected = dict(live_before, **live_changes)
        diff = self.apply_diff(keys, file_before, file_after, edits, live_before, live_after_expected)

        backup_files = []
        if changed and not self.module.check_mode:
            outcome = self.in_writer_process(
                self.commit, keys, live_before, live_changes, file_before, file_after, edits
            )
            backup_files = outcome.get("backup_files") or []
            if outcome.get("msg"):
                self.module.fail_json(msg=outcome["msg"], changed=bool(backup_files), backup_files=backup_files)

        if self.module.check_mode:
            live_after = live_after_expected
            file_values_after = dict(settings)
            # The conflicting lines would be commented out, so the managed file's value is the one left at boot.
            commented = {entry["short_name"] for entry in conflicts}
            boot_after = {s: settings[s] if s in commented else boot_predicted[s] for s in keys}
        else:
            live_after, file_values_after, boot_after = self.verify(keys, settings)

        before = {
            s: {"live": live_before[s], "file": file_values_before.get(s), "boot": boot_before.get(s)} for s in keys
        }
        after = {s: {"live": live_after[s], "file": file_values_after.get(s), "boot": boot_after.get(s)} for s in keys}
        self.warn_harmless_overrides(overrides)
        return {
            "changed": changed,
            "available": True,
            "key_style": style,
            "kernel_module": self.kernel_module(style),
            "sysctl_names": keys,
            "sysctl_file": self.sysctl_file,
            "before": before,
            "after": after,
            "overrides": overrides,
            "commented_out": [{"path": p, "line_number": n, "line": line} for p, n, line in to_comment_out],
            "backup_files": backup_files,
            "previous": previous,
            "undo": undo_text(self.sysctl_file, previous),
            "diff": diff,
        }

    def apply_diff(self, keys, file_before, file_after, edits, live_before, live_after):
        """The diff of state=present: the managed file, each edited file, the live values."""
        diff = [{"before_header": self.sysctl_file, "after_header": self.sysctl_file}]
        diff[0].update(before=file_before or "", after=file_after)
        for path, (before_text, after_text) in sorted(edits.items()):
            diff.append({"before_header": path, "after_header": path, "before": before_text, "after": after_text})
        diff.append(
            {
                "before_header": "live values (/proc/sys)",
                "after_header": "live values (/proc/sys)",
                "before": self.live_text(keys, live_before),
                "after": self.live_text(keys, live_after),
            }
        )
        return diff

    def warn_harmless_overrides(self, overrides):
        for entry in overrides:
            if not entry["conflict"]:
                self.module.warn(
                    "%s:%d also sets %s = %s after %s at boot (the same value, so harmless now, but it will undo "
                    "a later change of this setting)"
                    % (entry["path"], entry["line_number"], entry["key"], entry["value"], self.sysctl_file)
                )

    def remove(self):
        """state=absent: remove the managed file and write back the recorded live values."""
        if os.path.islink(self.sysctl_file):
            self.module.fail_json(
                msg="Nothing was changed: %s is a symbolic link, not the file this module writes; remove it by hand"
                % self.sysctl_file,
                changed=False,
            )
        file_before = read_text(self.sysctl_file)
        result = {"changed": False, "sysctl_file": self.sysctl_file, "removed": False, "previous": {}}
        # Said here because a task-level check_mode does not show in the play's ansible_check_mode.
        result.update(restored={}, not_recorded=[], check_mode=self.module.check_mode)
        if file_before is None:
            return result
        previous = parse_previous(file_before)
        set_keys = sorted({key for _number, _line, key, _value in parse_sysctl_lines(file_before)})
        restore = {}
        live_before = {}
        if self.params["apply_live"]:
            for key, value in sorted(previous.items()):
                if os.path.exists(self.proc_path(key)):
                    live_before[key] = to_int_or_text(read_text(self.proc_path(key)))
                    if live_before[key] != value:
                        restore[key] = value
        result.update(changed=True, removed=True, previous=previous)
        result["not_recorded"] = [key for key in set_keys if key not in previous]
        result["restored"] = {key: {"before": live_before[key], "after": previous[key]} for key in sorted(live_before)}
        names = {key: key for key in live_before}
        result["diff"] = [
            {"before_header": self.sysctl_file, "after_header": self.sysctl_file, "before": file_before, "after": ""},
            {
                "before_header": "live values (/proc/sys)",
                "after_header": "live values (/proc/sys)",
                "before": self.live_text(names, live_before),
                "after": self.live_text(names, dict(live_before, **restore)),
            },
        ]
        for key in result["not_recorded"]:
            self.module.warn(
                "%s sets %s but holds no value from before (written by an older netdiag.tcp): its live value is left "
                "as it is" % (self.sysctl_file, key)
            )
        if self.module.check_mode:
            return result
        # The same forked writer as state=present: a SIGKILL of the module between the removal and the live
        # values does not leave the file gone with the tuned values still live.
        outcome = self.in_writer_process(self.uncommit, names, live_before, restore, file_before)
        if outcome.get("msg"):
            self.module.fail_json(msg=outcome["msg"], changed=False)
        after = self.read_live(names)
        wrong = [
            "%s reads back %s, not %d" % (key, after[key], previous[key])
            for key in sorted(after)
            if after[key] != previous[key]
        ]
        if wrong:
            self.module.fail_json(msg="Verification failed after restoring: " + "; ".join(wrong), changed=True)
        return result

    def uncommit(self, names, live_before, restore, file_before):
        """state=absent's writes: remove the managed file, then write back the recorded live values; on a failure
        put the file back. Returns {} or {"msg": what failed and what was put back}."""
        try:
            os.unlink(self.sysctl_file)
        except OSError as error:
            return {"msg": "Removing %s failed: %s; nothing was changed" % (self.sysctl_file, error)}
        problem = self.apply_live(names, live_before, restore)
        if problem:
            return {
                "msg": "%s Values written before it were put back. %s."
                % (problem, self.restore_files([(self.sysctl_file, file_before)]))
            }
        return {}

    def commit(self, keys, live_before, live_changes, file_before, file_after, edits):
        """Write the files, then the live values; on a failure put back what was written.

        Returns {"backup_files": [...]} and, when it failed, "msg" (what failed and what was put back).
        """
        # Files first, live values second: a failed write (disk full) then leaves the live values untouched,
        # and a failed live write puts back both the values and the files.
        backup_files = []
        written = []  # (path, its text before), in the order written
        writing = self.sysctl_file
        try:
            if file_after != file_before:
                self.write_atomically(self.sysctl_file, file_after, mode=MANAGED_FILE_MODE)
                written.append((self.sysctl_file, file_before))
            for path, (before_text, after_text) in sorted(edits.items()):
                writing = path
                backup_files.append(self.module.backup_local(path))
                self.write_atomically(path, after_text)
                written.append((path, before_text))
        except OSError as error:
            return {
                "msg": "Writing %s failed: %s. %s; no live value was changed."
                % (writing, error, self.restore_files(written)),
                "backup_files": backup_files,
            }
        problem = self.apply_live(keys, live_before, live_changes)
        if problem:
            return {
                "msg": "%s Values written before it were put back. %s." % (problem, self.restore_files(written)),
                "backup_files": backup_files,
            }
        return {"backup_files": backup_files}

    def in_writer_process(self, function, *arguments):
        """function(*arguments) in a forked child of its own session; its result dict, through a pipe.

        The writes are several steps (a temporary file renamed over the managed file, edited files, then each live
        value), and no handler runs when this process is killed with SIGKILL (the OOM killer, a timeout that kills
        the module): between two steps that left a temporary file in /etc/sysctl.d or a new file with the old live
        value. The child is in a session of its own and ignores SIGHUP, SIGINT and SIGTERM, so the death of the
        module process, or of its process group, does not stop the transaction halfway: the child finishes it,
        including its own roll-back, and the file and the live values end up agreeing.
        """
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # the child: never returns into the caller
            status = 1
            try:
                os.close(reader)
                os.setsid()
                for number in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                    signal.signal(number, signal.SIG_IGN)
                try:
                    outcome = function(*arguments)
                except Exception as error:  # reported, not lost with the child's stderr
                    outcome = {"msg": "Writing %s failed: %s: %s" % (self.sysctl_file, type(error).__name__, error)}
                status = 0
                data = json.dumps(outcome).encode("utf-8")
                try:
                    while data:
                        data = data[os.write(writer, data) :]
                except OSError:
                    pass  # the module process is gone: nobody to tell, the transaction is complete anyway
            finally:
                os._exit(status)
        os.close(writer)
        chunks = []
        with os.fdopen(reader, "rb") as stream:
            for chunk in iter(lambda: stream.read(65536), b""):
                chunks.append(chunk)
        _pid, status = os.waitpid(child, 0)
        try:
            return json.loads(b"".join(chunks).decode("utf-8"))
        except ValueError:
            how = (
                "killed by signal %d" % os.WTERMSIG(status)
                if os.WIFSIGNALED(status)
                else "exit status %d" % os.WEXITSTATUS(status)
            )
            return {
                "msg": "The process writing %s and the live values ended before it reported (%s): the files and "
                "live values may be partly changed; run the module again to converge" % (self.sysctl_file, how)
            }

    def file_values(self, text, keys):
        by_path = {key_to_path(key): short_name for short_name, key in keys.items()}
        values = {}
        for _line_number, _line, key, value in parse_sysctl_lines(text or ""):
            short_name = by_path.get(key_to_path(key))
            if short_name is not None:
                values[short_name] = to_int_or_text(value)
        return values

    def plan_comment_out(self, conflicts, settings):
        """[(path, line_number, line)] to comment out, or fail (before any change) naming every conflict."""
        described = "; ".join(
            "%s:%d: %s (sets %s, wanted %s)"
            % (
                entry["path"],
                entry["line_number"],
                entry["line"].strip(),
                entry["value"],
                settings[entry["short_name"]],
            )
            for entry in conflicts
        )
        if self.params["overrides"] == "fail":
            self.module.fail_json(
                msg="Nothing was changed: these lines are applied after %s at boot and would override it: %s. "
                "Remove or change them, or set overrides=comment_out (role: conntrack_tuning_overrides: comment_out) "
                "to comment them out with a backup." % (self.sysctl_file, described),
                changed=False,
                overrides=conflicts,
            )
        etc = os.path.realpath(self.config_path("/etc")) + os.sep
        vendor = [entry for entry in conflicts if not os.path.realpath(entry["path"]).startswith(etc)]
        if vendor:
            self.module.fail_json(
                msg="Nothing was changed: these lines outside /etc would override %s at boot: %s. They are not "
                "edited, because a package update would restore them; mask such a file with one of the same name "
                "in /etc/sysctl.d."
                % (self.sysctl_file, "; ".join("%s:%d" % (e["path"], e["line_number"]) for e in vendor)),
                changed=False,
                overrides=conflicts,
            )
        return [(os.path.realpath(entry["path"]), entry["line_number"], entry["line"]) for entry in conflicts]

    def comment_out_edits(self, to_comment_out):
        """{path: (text before, text after)} with each listed line commented out."""
        edits = {}
        by_path = {}
        for path, line_number, _line in to_comment_out:
            by_path.setdefault(path, set()).add(line_number)
        for path, line_numbers in by_path.items():
            before_text = read_text(path)
            lines = before_text.splitlines(True)
            for index in sorted(line_numbers):
                original = lines[index - 1]
                ending = "\n" if original.endswith("\n") else ""
                lines[index - 1] = COMMENT_PREFIX % self.sysctl_file + original.rstrip("\n") + ending
            edits[path] = (before_text, "".join(lines))
        return edits

    @staticmethod
    def live_text(keys, values):
        return "".join("%s = %s\n" % (keys[s], values[s]) for s in sorted(keys))

    def apply_live(self, keys, live_before, live_changes):
        """Write each changed value to /proc/sys; on an error put back the ones already written and say what failed."""
        written = []
        for short_name in sorted(live_changes):
            path = self.proc_path(keys[short_name])
            try:
                with open(path, "w") as handle:
                    handle.write("%d\n" % live_changes[short_name])
            except OSError as error:
                for done in reversed(written):
                    try:
                        with open(self.proc_path(keys[done]), "w") as handle:
                            handle.write("%s\n" % live_before[done])
                    except OSError:
                        pass
                return "Writing %s = %d failed: %s." % (keys[short_name], live_changes[short_name], error)
            written.append(short_name)
        return None

    def restore_files(self, written):
        """Put back the files written so far (newest first); say what was done, for the failure message."""
        if not written:
            return "No file was changed"
        done, problems = [], []
        for path, before_text in reversed(written):
            try:
                if before_text is None:
                    os.unlink(path)
                    done.append("removed %s (new)" % path)
                else:
                    self.write_atomically(path, before_text)
                    done.append("restored %s" % path)
            except OSError as error:
                problems.append("%s: %s" % (path, error))
        if problems:
            return "Putting the files back failed, restore them by hand (backups: next to each edited file): " + (
                "; ".join(problems)
            )
        return "Files: " + ", ".join(done)

    def write_atomically(self, path, text, mode=None):
        """Write `text` to a temporary file beside `path` and rename it over `path`; leave no temporary behind.

        The new file gets `mode` (and root:root when run as root), else the mode and owner of the file it replaces,
        both set on the open descriptor before the rename, so it is never readable or writable more widely than
        it ends up.
        """
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        target = os.path.realpath(path)
        try:
            current = os.stat(target)
        except FileNotFoundError:
            current = None
        descriptor, temporary = tempfile.mkstemp(prefix=".netdiag-", suffix=".tmp", dir=os.path.dirname(target))
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write(text)
                handle.flush()
                if mode is not None or current is None:
                    os.fchmod(handle.fileno(), MANAGED_FILE_MODE if mode is None else mode)
                    if os.geteuid() == 0:
                        os.fchown(handle.fileno(), 0, 0)
                else:
                    os.fchmod(handle.fileno(), stat.S_IMODE(current.st_mode))
                    if os.geteuid() == 0:
                        os.fchown(handle.fileno(), current.st_uid, current.st_gid)
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise
        if self.module.selinux_enabled():
            self.module.set_default_selinux_context(target, False)

    def verify(self, keys, settings):
        live_after = self.read_live(keys)
        file_text = read_text(self.sysctl_file)
        file_values_after = self.file_values(file_text, keys)
        boot_after, _predicted, overrides = self.boot_state(keys, settings, file_text)
        problems = []
        for short_name, value in sorted(settings.items()):
            if self.params["apply_live"] and live_after[short_name] != value:
                problems.append("%s reads back %s, not %d" % (keys[short_name], live_after[short_name], value))
            if file_values_after.get(short_name) != value:
                problems.append(
                    "%s has %s = %s" % (self.sysctl_file, keys[short_name], file_values_after.get(short_name))
                )
            if boot_after.get(short_name) != value:
                problems.append("at boot %s would be %s" % (keys[short_name], boot_after.get(short_name)))
        problems.extend(
            "%s:%d still overrides %s" % (entry["path"], entry["line_number"], entry["key"])
            for entry in overrides
            if entry["conflict"]
        )
        if problems:
            self.module.fail_json(msg="Verification failed after writing: " + "; ".join(problems), changed=True)
        return live_after, file_values_after, boot_after


PLATFORMS = {"Linux": LinuxConntrackSysctl}


def main():
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "file_name": {"type": "str", "default": "90-netdiag-conntrack.conf"},
            "apply_live": {"type": "bool", "default": True},
            "overrides": {"type": "str", "choices": ["fail", "comment_out"], "default": "fail"},
            "validate_only": {"type": "bool", "default": False},
            "config_root": {"type": "path", "default": "/"},
            "kernel_root": {"type": "path", "default": "/"},
        },
        required_if=[("state", "present", ["settings"])],
        supports_check_mode=True,
    )
    system = platform.system()
    if system not in PLATFORMS:
        module.fail_json(msg="conntrack_sysctl: %s is not supported yet (conntrack is Linux only)" % system)
    if module.params["state"] == "absent":
        module.exit_json(**PLATFORMS[system](module).remove())
    try:
        settings = validate_settings(module.params["settings"])
    except SettingsError as error:
        module.fail_json(msg="Nothing was changed: invalid settings: %s" % error, changed=False)
    implementation = PLATFORMS[system](module)
    if module.params["validate_only"]:
        module.exit_json(**implementation.validate_only(settings))
    module.exit_json(**implementation.run(settings))


if __name__ == "__main__":
    main()
