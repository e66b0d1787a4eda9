# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): a kernel with conntrack as a loadable module, on a kernel that has it built in.

The machine the tests run on has nf_conntrack built into its kernel (and no module support at all: no
/proc/modules). The conntrack_tuning role's module-load and boot paths (modprobe, modules-load.d, a sysctl.d entry
that only applies when the module is loaded before systemd-sysctl runs) need a kernel where conntrack is a module.
This file makes a test host look like one, to the host's own programs:

- `setup` (run once, by /usr/local/bin/python-modular_kernel before any Python starts): saves the real
  /proc/sys/net/netfilter/nf_conntrack_* values of the host's network namespace (the kernel defaults), then mounts
  an empty tmpfs over /proc/sys/net/netfilter and over /sys/module inside the host's own mount namespace:
  conntrack "is not loaded". It writes an empty /lib/modules/<release>/modules.builtin (nothing built in) and an
  empty module list, which the interpreter's sitecustomize shows as /proc/modules.
- `modprobe [-n] [--first-time] [-r] NAME` (/usr/sbin/modprobe): "loads" nf_conntrack and the modules it needs: the
  saved values appear as files under /proc/sys/net/netfilter, /sys/module/nf_conntrack/initstate says `live`, and
  the module list gets the lines /proc/modules would have. Messages and exit codes are kmod's.
- `boot`: an emulated reboot: everything is unloaded, then, as systemd-modules-load does, the modules listed in
  modules-load.d are loaded; then, as systemd-sysctl does, the conntrack lines of the sysctl files are applied in
  its order (a key that does not exist yet fails as `sysctl` reports it); then, as a firewall that uses conntrack
  does later in the boot, nf_conntrack is loaded if it is not yet (with the kernel defaults).
- `status`: the loaded modules and the live conntrack values, as JSON.

The live values are files on a tmpfs, not kernel variables: writing one changes nothing in the kernel, and the
kernel's range checks and read-only parameters (nf_conntrack_max outside the initial namespace) are not emulated.
/proc/net/nf_conntrack and /proc/sys/net/nf_conntrack_max stay visible.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

STATE = "/run/netdiag-emulation/modular_kernel"
READY = STATE + "/ready"
DEFAULTS = STATE + "/nf_conntrack-defaults.json"
PROC_MODULES = STATE + "/proc-modules"
NETFILTER = "/proc/sys/net/netfilter"
SYS_MODULE = "/sys/module"
RELEASE = os.uname().release
# What `modprobe nf_conntrack` loads, dependencies first (as on Debian 12's kernel), with the path under
# /lib/modules/<release>/ that `modprobe -n` prints. Sizes in /proc/modules are placeholders.
MODULES = {
    "libcrc32c": ("kernel/lib/libcrc32c.ko", ()),
    "nf_defrag_ipv4": ("kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko", ()),
    "nf_defrag_ipv6": ("kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko", ()),
    "nf_conntrack": (
        "kernel/net/netfilter/nf_conntrack.ko",
        ("libcrc32c", "nf_defrag_ipv4", "nf_defrag_ipv6"),
    ),
}
MODULES_LOAD_DIRS = (
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
)
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
CONNTRACK_KEYS = ("net.netfilter.", "net.ipv4.netfilter.")


def say(message, stream=sys.stdout):
    stream.write(message + "\n")
    stream.flush()


def mount_tmpfs(path):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755,size=4m", "netdiag-emulation", path], check=True)


def setup():
    if os.path.exists(READY):
        return 0
    os.makedirs(STATE, exist_ok=True)
    defaults = {}
    for path in sorted(glob.glob(NETFILTER + "/nf_conntrack_*")):
        try:
            with open(path) as handle:
                defaults[os.path.basename(path)] = handle.read()
        except OSError:
            continue
    with open(DEFAULTS, "w") as handle:
        json.dump(defaults, handle, indent=1)
    mount_tmpfs(NETFILTER)
    mount_tmpfs(SYS_MODULE)
    open(PROC_MODULES, "w").close()
    os.makedirs("/lib/modules/%s" % RELEASE, exist_ok=True)
    open("/lib/modules/%s/modules.builtin" % RELEASE, "w").close()
    open(READY, "w").close()
    return 0


def loaded():
    """The loaded modules in the order they were loaded (/proc/modules lists the newest first)."""
    with open(PROC_MODULES) as handle:
        return [line.split(" ", 1)[0] for line in handle if line.strip()][::-1]


def write_module_list(names):
    users = {name: [other for other in names if name in MODULES[other][1]] for name in names}
    with open(PROC_MODULES, "w") as handle:
        for name in reversed(names):  # the kernel lists the newest first
            used_by = "".join(user + "," for user in users[name]) or "-"
            handle.write("%s 16384 %d %s Live 0x0000000000000000\n" % (name, len(users[name]), used_by))


def insert(name):
    names = loaded()
    if name == "nf_conntrack":
        with open(DEFAULTS) as handle:
            defaults = json.load(handle)
        for key, value in defaults.items():
            with open(os.path.join(NETFILTER, key), "w") as handle:
                handle.write(value)
            os.chmod(os.path.join(NETFILTER, key), 0o644)
    directory = os.path.join(SYS_MODULE, name)
    os.makedirs(os.path.join(directory, "parameters"), exist_ok=True)
    with open(os.path.join(directory, "initstate"), "w") as handle:
        handle.write("live\n")
    write_module_list([*names, name])


def modprobe(arguments):
    dry_run = first_time = remove = False
    names = []
    for argument in arguments:
        if argument in ("-n", "--dry-run", "--show"):
            dry_run = True
        elif argument == "--first-time":
            first_time = True
        elif argument in ("-r", "--remove"):
            remove = True
        elif argument.startswith("-"):
            say("modprobe: ERROR: option %s is not emulated (netdiag.tcp emulation)" % argument, sys.stderr)
            return 1
        else:
            names.append(argument.replace("-", "_"))
    if not names:
        say("modprobe: ERROR: missing module name.", sys.stderr)
        return 1
    name = names[0]  # further words are module parameters, which this emulation ignores
    if name not in MODULES:
        say("modprobe: FATAL: Module %s not found in directory /lib/modules/%s" % (name, RELEASE), sys.stderr)
        return 1
    if remove:
        return unload(name, dry_run)
    if name in loaded():
        if first_time:
            say("modprobe: ERROR: could not insert '%s': Module already in kernel" % name, sys.stderr)
            return 1
        return 0
    wanted = [dependency for dependency in MODULES[name][1] if dependency not in loaded()] + [name]
    for module in wanted:
        if dry_run:
            say("insmod /lib/modules/%s/%s " % (RELEASE, MODULES[module][0]))
        else:
            insert(module)
    return 0


def unload(name, dry_run=False):
    names = loaded()
    if name not in names:
        say("modprobe: FATAL: Module %s is not in kernel." % name, sys.stderr)
        return 1
    if dry_run:
        say("rmmod %s" % name)
        return 0
    if name == "nf_conntrack":
        for path in glob.glob(NETFILTER + "/*"):
            os.unlink(path)
    shutil.rmtree(os.path.join(SYS_MODULE, name), ignore_errors=True)
    write_module_list([module for module in names if module != name])
    return 0


def config_files(directories, pattern):
    """{basename: path} of the files in directories, the first directory that has a name winning (systemd)."""
    found = {}
    for directory in directories:
        for path in glob.glob(os.path.join(directory, pattern)):
            found.setdefault(os.path.basename(path), path)
    return [found[name] for name in sorted(found)]


def boot(firewall=True):
    for name in reversed(loaded()):
        unload(name)
    for path in config_files(MODULES_LOAD_DIRS, "*.conf"):
        with open(path) as handle:
            for line in handle:
                name = line.strip()
                if name and name[0] not in "#;":
                    rc = modprobe([name])
                    say("systemd-modules-load: %s module '%s'" % ("Inserted" if rc == 0 else "Failed to insert", name))
    sysctl_files = config_files(SYSCTL_DIRS, "*.conf")
    if os.path.exists("/etc/sysctl.conf"):
        sysctl_files.append("/etc/sysctl.conf")  # sysctl --system applies it last in any case
    for path in sysctl_files:
        with open(path) as handle:
            for line in handle:
                text = line.strip()
                if not text or text[0] in "#;" or "=" not in text:
                    continue
                key, value = (part.strip() for part in text.split("=", 1))
                ignore_failure = key.startswith("-")
                key = key.lstrip("-").strip()
                if not key.startswith(CONNTRACK_KEYS):
                    continue  # only conntrack: other keys would reach this machine's real kernel
                target = "/proc/sys/" + key.replace(".", "/")
                if not os.path.exists(target):
                    if not ignore_failure:
                        say("sysctl: cannot stat %s: No such file or directory" % target, sys.stderr)
                    continue
                with open(target, "w") as handle_out:
                    handle_out.write(value + "\n")
                say("systemd-sysctl: %s = %s (%s)" % (key, value, path))
    if firewall and "nf_conntrack" not in loaded():
        modprobe(["nf_conntrack"])
        say("firewall: loaded nf_conntrack (kernel defaults)")
    return status()


def status():
    values = {}
    for path in sorted(glob.glob(NETFILTER + "/nf_conntrack_tcp_timeout_established")):
        with open(path) as handle:
            values[os.path.basename(path)] = int(handle.read())
    say(json.dumps({"loaded": loaded(), "values": values}))
    return 0


def main(argv):
    if not argv:
        say("usage: %s setup|modprobe ARGS|boot [--no-firewall]|status" % os.path.basename(sys.argv[0]), sys.stderr)
        return 2
    command, arguments = argv[0], argv[1:]
    if command != "setup" and not os.path.exists(READY):
        setup()
    if command == "setup":
        return setup()
    if command == "modprobe":
        return modprobe(arguments)
    if command == "boot":
        return boot(firewall="--no-firewall" not in arguments)
    if command == "status":
        return status()
    say("unknown command %s" % command, sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
