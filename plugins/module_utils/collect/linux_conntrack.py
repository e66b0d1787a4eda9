# SPDX-License-Identifier: GPL-3.0-or-later
"""The conntrack collector of netdiag.tcp.conntrack_facts and netdiag.tcp.audit_facts (moved out of the module so
that audit_facts reads conntrack in the same module run as the socket tables).

The collector gets the module's options as a dict and small callables (``get_bin_path``, ``warn``), never the
AnsibleModule object. Where the module used to fail it raises ConntrackError with the same message; conntrack_facts
turns that into fail_json, audit_facts into ``failures.conntrack_facts``.
"""

from __future__ import annotations

import os
import platform

from ansible_collections.netdiag.tcp.plugins.module_utils.core.command_stream import (
    C_LOCALE,
    StreamedCommand,
    run_with_timeout,
)
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.core.prefetch import file_read_ahead
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_nat as linux_conntrack_nat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_stat as linux_conntrack_stat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sysctl_persisted as linux_sysctl_persisted

CONNTRACK_LIST_ARGS = ["-L", "-o", "extended"]
CONNTRACK_STATS_ARGS = ["-S"]

# key style -> (sysctl directory under /proc, file name prefix, statistics file under /proc)
KEY_STYLES = (
    ("nf_conntrack", "sys/net/netfilter", "nf_conntrack_", "net/stat/nf_conntrack"),
    ("ip_conntrack", "sys/net/ipv4/netfilter", "ip_conntrack_", "net/stat/ip_conntrack"),
)
TABLE_FILES = ("net/nf_conntrack", "net/ip_conntrack")


def _read_int(path):
    with open(path) as handle:
        return int(handle.read().split()[0])


class ConntrackUnavailableError(Exception):
    """Conntrack cannot be read on this host; the message is the reason reported."""


class ConntrackError(Exception):
    """The module must fail with this message (a table or statistics source that cannot be parsed, a command that
    failed while it was needed)."""


class LinuxConntrack:
    """Reads /proc (or proc_root) and the boot configuration; runs conntrack only as a fallback source."""

    def __init__(self, params, selection, get_bin_path, warn):
        """params: the conntrack_facts options (top, table, nat_tuples, max_nat_tuples, ports, proc_root,
        config_root, command_timeout); get_bin_path(name, required=False) -> path or None; warn(message)."""
        self.params = params
        self.selection = selection
        self.get_bin_path = get_bin_path
        self.warn = warn
        self.proc_root = params["proc_root"]
        self.config_root = params["config_root"]

    def proc(self, relative):
        return os.path.join(self.proc_root, relative)

    def shown(self, relative):
        """A path as the user knows it (/proc/...), also when proc_root points elsewhere in tests."""
        return "/proc/" + relative

    def collect(self):
        facts = {"available": False, "reason": None, "table": self.params["table"], "source": "none"}
        facts["source_reason"] = None if facts["table"] else "not walked (table=false)"
        try:
            style, sysctl_dir, prefix, stat_file = self.key_style()
            facts.update(self.limits(sysctl_dir, prefix))
        except ConntrackUnavailableError as reason:
            facts["reason"] = str(reason)
            facts["persisted"] = self.persisted(None)
            return facts
        facts["available"] = True
        facts["key_style"] = style
        facts["timeouts"] = self.timeouts(sysctl_dir, prefix)
        if facts["table"]:
            facts.update(self.table())
        facts["stats"], facts["stats_source"] = self.stats(stat_file)
        facts["persisted"] = self.persisted(sysctl_dir)
        return facts

    def key_style(self):
        for style, sysctl_dir, prefix, stat_file in KEY_STYLES:
            if os.path.exists(self.proc(os.path.join(sysctl_dir, prefix + "max"))):
                return style, sysctl_dir, prefix, stat_file
        raise ConntrackUnavailableError(
            "conntrack is not loaded: neither %s nor %s exists (kernel module nf_conntrack not loaded, or not in this "
            "kernel)" % tuple(self.shown(os.path.join(style[1], style[2] + "max")) for style in KEY_STYLES)
        )

    def limits(self, sysctl_dir, prefix):
        values = {}
        for name in ("count", "max", "buckets"):
            path = self.proc(os.path.join(sysctl_dir, prefix + name))
            shown = self.shown(os.path.join(sysctl_dir, prefix + name))
            try:
                values[name] = _read_int(path)
            except FileNotFoundError:
                # Kernels before 2.6.25 show no buckets sysctl; count and max always exist with the module.
                values[name] = None
            except PermissionError:
                raise ConntrackUnavailableError("no permission to read %s" % shown) from None
            except (OSError, ValueError, IndexError) as error:
                raise ConntrackUnavailableError("cannot read %s: %s" % (shown, error)) from None
        if values["buckets"] is None:
            # The hash size is also a module parameter (hashsize) on kernels without the sysctl.
            for module_name in ("nf_conntrack", "ip_conntrack"):
                try:
                    values["buckets"] = _read_int(
                        os.path.join(self.config_root, "sys/module", module_name, "parameters/hashsize")
                    )
                    break
                except (OSError, ValueError, IndexError):
                    continue
        count, maximum = values["count"], values["max"]
        values["usage_pct"] = round(count * 100.0 / maximum, 1) if count is not None and maximum else None
        return values

    def timeouts(self, sysctl_dir, prefix):
        directory = self.proc(sysctl_dir)
        timeouts = {}
        for name in sorted(os.listdir(directory)):
            if not name.startswith(prefix) or "timeout" not in name:
                continue
            try:
                timeouts[name[len(prefix) :]] = _read_int(os.path.join(directory, name))
            except (OSError, ValueError, IndexError):
                continue
        return timeouts

    # --- table --------------------------------------------------------------------------------------------------

    def summary(self):
        top = self.params["top"]
        capacity = max(linux_conntrack.HEAVY_HITTER_CAPACITY, top)
        return linux_conntrack.TableSummary(top=top, selection=self.selection, capacity=capacity)

    def new_nat_tuples(self):
        """The NAT tuples collector of one read of the table, None when not asked for."""
        if not self.params["nat_tuples"]:
            return None
        return linux_conntrack_nat.NatTuples(self.params["ports"], self.params["max_nat_tuples"])

    def summarized(self, chunks, nat):
        """The summary of a table's byte chunks, with ``nat_tuples`` from the same pass when ``nat`` is given."""
        if nat is not None:
            chunks = nat.passing(chunks)
        result = self.summary().consume_chunks(chunks).result()
        if nat is not None:
            result["nat_tuples"] = nat.result()
        return result

    def table(self):
        reasons = []
        for relative in TABLE_FILES:
            path = self.proc(relative)
            if not os.path.exists(path):
                continue
            try:
                # Binary: the summary reads chunks and decodes only what is not ASCII (as UTF-8, bad bytes replaced).
                # A child process reads the table ahead (the kernel formats it) while this one counts.
                chunks = file_read_ahead(path, linux_conntrack.CHUNK_SIZE)
                result = self.summarized(chunks, self.new_nat_tuples())
            except PermissionError:
                reasons.append("%s: permission denied (needs become)" % self.shown(relative))
                continue
            except OSError as error:
                reasons.append("%s: %s" % (self.shown(relative), error))
                continue
            except ParseError as error:
                raise ConntrackError("%s: %s" % (self.shown(relative), error)) from error
            result["source"] = self.shown(relative)
            result["source_reason"] = None
            return result
        if not reasons:
            reasons.append(
                "/proc/net/nf_conntrack and /proc/net/ip_conntrack: absent (kernel without CONFIG_NF_CONNTRACK_PROCFS)"
            )
        result, reason = self.table_from_conntrack()
        if result is not None:
            result["source"] = "conntrack " + " ".join(CONNTRACK_LIST_ARGS)
            result["source_reason"] = None
            return result
        reasons.append("conntrack %s: %s" % (" ".join(CONNTRACK_LIST_ARGS), reason))
        return {"source": "none", "source_reason": "; ".join(reasons)}

    def table_from_conntrack(self):
        """(summary, None) from `conntrack -L -o extended`, read while it runs (module_utils/core/command_stream.py),
        or (None, reason)."""
        binary = self.get_bin_path("conntrack")
        if binary is None:
            return None, "not installed (conntrack-tools)"
        timeout = self.params["command_timeout"] or None
        with StreamedCommand([binary, *CONNTRACK_LIST_ARGS], C_LOCALE, timeout) as command:
            read = command.stdout.read  # a text stream (universal newlines, bad bytes replaced)
            chunks = iter(lambda: read(linux_conntrack.CHUNK_SIZE), "")
            try:
                result = self.summarized(chunks, self.new_nat_tuples())
            except ParseError as error:
                if not command.timed_out:  # a line cut by the kill is no parse error
                    raise ConntrackError("conntrack %s: %s" % (" ".join(CONNTRACK_LIST_ARGS), error)) from error
        if command.timed_out:
            return None, "timed out after %s s (option command_timeout)" % timeout
        if command.returncode != 0:
            return None, "exit %d: %s" % (command.returncode, command.stderr or "no message")
        return result, None

    # --- statistics ---------------------------------------------------------------------------------------------

    def stats(self, stat_file):
        for relative in (stat_file, *(style[3] for style in KEY_STYLES if style[3] != stat_file)):
            try:
                with open(self.proc(relative), encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                continue
            try:
                return linux_conntrack_stat.parse(text), self.shown(relative)
            except ParseError as error:
                raise ConntrackError("%s: %s" % (self.shown(relative), error)) from error
        binary = self.get_bin_path("conntrack")
        if binary is None:
            return None, "none"
        returncode, stdout, _stderr, timed_out = run_with_timeout(
            [binary, *CONNTRACK_STATS_ARGS], self.params["command_timeout"] or None, C_LOCALE
        )
        if timed_out:
            self.warn("conntrack %s timed out (option command_timeout)" % " ".join(CONNTRACK_STATS_ARGS))
        if returncode != 0 or not stdout.strip():
            return None, "none"
        try:
            return linux_conntrack_stat.parse(stdout), "conntrack " + " ".join(CONNTRACK_STATS_ARGS)
        except ParseError as error:
            raise ConntrackError("conntrack %s: %s" % (" ".join(CONNTRACK_STATS_ARGS), error)) from error

    # --- boot configuration -------------------------------------------------------------------------------------

    def builtin(self):
        """True when conntrack is compiled in: /sys/module/nf_conntrack exists without an initstate file (loadable
        modules have one). None when /sys/module/nf_conntrack does not exist (not loaded: built in or not is
        unknown)."""
        for module_name in ("nf_conntrack", "ip_conntrack"):
            directory = os.path.join(self.config_root, "sys/module", module_name)
            if os.path.isdir(directory):
                return not os.path.exists(os.path.join(directory, "initstate"))
        return None

    def persisted(self, sysctl_dir):
        sysctl_files, sysctl_links, _unreadable = linux_sysctl_persisted.read_sysctl_files(self.config_root)
        module_files, module_links, _unreadable = linux_sysctl_persisted.read_module_load_files(self.config_root)
        present_keys = None
        if sysctl_dir is not None:
            present_keys = [
                key
                for key in (linux_sysctl_persisted.ESTABLISHED_KEY, linux_sysctl_persisted.LEGACY_ESTABLISHED_KEY)
                if os.path.exists(self.proc("sys/" + key.replace(".", "/")))
            ]
        return linux_sysctl_persisted.persisted(
            sysctl_files,
            module_files,
            present_keys=present_keys,
            builtin=self.builtin(),
            sysctl_links=sysctl_links,
            module_links=module_links,
        )


class NoConntrack:
    """Any system but Linux: netfilter conntrack does not exist there. Reported, not failed."""

    def __init__(self, params, selection=None, get_bin_path=None, warn=None):
        self.params = params

    def collect(self):
        return {
            "available": False,
            "reason": "netfilter connection tracking exists only on Linux; this host runs %s" % platform.system(),
            "table": self.params["table"],
            "source": "none",
            "source_reason": "not Linux",
            "persisted": None,
        }


COLLECTORS = {"Linux": LinuxConntrack, "AIX": NoConntrack, "SunOS": NoConntrack}
