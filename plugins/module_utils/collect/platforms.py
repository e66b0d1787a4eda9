# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a netstat collector as netdiag.tcp.netstat_facts does, shared with netdiag.tcp.audit_facts (which reads
the socket tables, conntrack and slab caches in one module run): the platform table, option checks, the callables
handed to command-running collectors, and the sections a run returns.
"""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.core.command_stream import CommandDeadline
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.core.socket_records import TCP_STATES, bound_result


# One function per platform that imports its collector class, so that a module run compiles only its own
# platform's code: Ansible ships a module as a zip, which gets no bytecode cache, and the AIX and SunOS collectors
# cost a Linux run about 20 ms. The imports stay plain import statements: Ansible finds the module_utils a module
# needs by reading them (also inside functions).
def _linux():
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_sockets import LinuxNetstatCollector

    return LinuxNetstatCollector


def _aix():
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.aix_sockets import AixNetstatCollector

    return AixNetstatCollector


def _sunos():
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.sunos_sockets import SunosNetstatCollector

    return SunosNetstatCollector


# platform.system() -> the function that gives its collector class.
COLLECTORS = {
    "Linux": _linux,
    "AIX": _aix,
    "SunOS": _sunos,
}
# Every command a collector runs gets a parsable C locale.
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# Where AIX and Solaris keep their tools (kdb, rmsock, no, ipadm, ndd in /usr/sbin; netstat, pfiles in /usr/bin) and
# the AIX Toolbox its own, when PATH lacks them.
EXTRA_BIN_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/opt/freeware/bin"]
# Platform sections a collector may add beside netstat and keepalive (an attribute of that name on the collector).
PLATFORM_SECTIONS = ("aix", "sunos")

# States a platform's socket table can show, besides the TCP state names of docs/facts_schema.md.
PLATFORM_STATES = {"Linux": ("BOUND_INACTIVE",), "SunOS": ("IDLE", "BOUND")}


def collector_class_for(system):
    """The collector class of a platform.system() name, None for a platform without one."""
    load = COLLECTORS.get(system)
    return None if load is None else load()


def new_collector(collector_class, module, params=None):
    """A collector of the platform. One that runs commands gets small callables, never the module object.

    params: the options the collector reads (default module.params; audit_facts passes its own, side-effect
    switches off)."""
    if not getattr(collector_class, "runs_commands", False):
        return collector_class()

    params = module.params if params is None else params
    timeout = params["command_timeout"] or None

    def run_command(argv, data=None):
        deadline = CommandDeadline(timeout)
        try:
            rc, stdout, stderr = module.run_command(
                argv, data=data, environ_update=C_LOCALE, check_rc=False, before_communicate_callback=deadline.arm
            )
        finally:
            deadline.disarm()
        if deadline.timed_out and rc != 0:
            # Killed at its deadline. The collectors report a failed command with its stderr: this says why.
            return rc, stdout, "timed out after %s s (option command_timeout)" % timeout
        return rc, stdout, stderr

    def get_bin_path(name):
        return module.get_bin_path(name, opt_dirs=EXTRA_BIN_DIRS)

    return collector_class(run_command, get_bin_path, options=params, check_mode=module.check_mode)


def validated_selection(params, system):
    """Selection from the ports/states/peers options; ValueError with a message naming the bad option value."""
    selection = Selection(params["ports"], params["states"], params["peers"])
    known = set(TCP_STATES) | set(PLATFORM_STATES.get(system, ()))
    unknown = sorted(selection.states - known)
    if unknown:
        raise ValueError("states: %s not a TCP state; use one of %s" % (", ".join(unknown), ", ".join(TCP_STATES)))
    if params["max_connections"] < 0:
        raise ValueError("max_connections: %d is negative; use 0 for counts only" % params["max_connections"])
    for name in ("max_peers", "max_listeners"):
        if params[name] < 0:
            raise ValueError("%s: %d is negative; use 0 for no limit" % (name, params[name]))
    for name in ("owner_scan_budget", "command_timeout"):
        if params[name] < 0:
            raise ValueError("%s: %s is negative; use 0 for no limit" % (name, params[name]))
    if not params["protocols"]:
        raise ValueError("protocols: give at least one of tcp, udp")
    if not params["families"]:
        raise ValueError("families: give at least one of inet, inet6")
    if params["max_tuples"] < 0:
        raise ValueError("max_tuples: %d is negative" % params["max_tuples"])
    return selection


def collector_bounds(params):
    """The bounds and Linux reader switch passed to collectors that take them: 0 in an option means no limit."""
    return {
        "load_diag_modules": params["sock_diag_load_modules"],
        "owner_budget": params["owner_scan_budget"] or None,
        "limits": {"max_peers": params["max_peers"] or None, "max_listeners": params["max_listeners"] or None},
    }


def read_sections(collector, selection, params):
    """Run `collector` with the options in `params`; return (sections, changed): ``netstat``, ``keepalive`` and the
    platform sections of ansible_facts.netdiag. OSError/ValueError propagate (the caller names the step)."""
    # Collectors that take the bounds apply them while counting; every result is bounded again below (a no-op on
    # a result already within them), so a collector that does not take them still returns a compact result.
    bounds = collector_bounds(params) if getattr(collector, "takes_bounds", False) else {}
    netstat, keepalive = collector.collect(
        selection,
        max_connections=params["max_connections"],
        protocols=tuple(params["protocols"]),
        families=tuple(params["families"]),
        owners=params["owners"],
        tuples=params["tuples"],
        max_tuples=params["max_tuples"],
        **bounds,
    )
    bound_result(netstat, params["max_peers"] or None, params["max_listeners"] or None)
    sections = {"netstat": netstat}
    if keepalive is not None:
        sections["keepalive"] = keepalive
    for section in PLATFORM_SECTIONS:
        platform_facts = getattr(collector, section, None)
        if platform_facts:
            sections[section] = platform_facts
    return sections, bool(getattr(collector, "changed", False))


def unsupported_platform(system):
    """The message of a platform without a netstat collector."""
    return "netstat_facts: platform %s is not supported yet (supported: %s)" % (system, ", ".join(sorted(COLLECTORS)))
