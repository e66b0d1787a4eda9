# SPDX-License-Identifier: GPL-3.0-or-later
"""Real Linux test hosts for Molecule: one network + mount + PID + UTS namespace per host, no containers.

Each host is a network namespace `ndth-<name>` with a veth to the bridge `ndth-br0` (198.51.100.1/24 on the controller
side), its own mount namespace with an overlayfs (lower = a cached, debootstrapped Debian bookworm rootfs, upper =
per-host directory), its own /proc (so /proc/sys/net shows *that* namespace's sysctls), and sshd running chrooted in
the overlay. Ansible connects over real SSH to 198.51.100.x:22.

Run as root from the repository root: python3 tools/testhosts/testhosts.py COMMAND

    rootfs                       build (once) and print the cached rootfs path
    create h1=198.51.100.11 h2   create hosts (address optional: next free .11-.250)
    create --emulate aix h3      ... with tests/emulation/aix/root/ copied over the host's root (EMULATION)
    destroy h1 h2 | --all        destroy hosts; --all also removes leftovers of crashed runs (ndth-*)
    status                       list hosts, their addresses and whether sshd answers
    shell h1 [command...]        run a command (default: bash) inside the host, as ssh would
    podman-image                 import the rootfs as localhost/netdiag-testhost:bookworm (podman scenario)

Standard library only; needs root. See docs/molecule.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import hashlib
import ipaddress
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

SUITE = "bookworm"
VARIANT = "minbase"
INCLUDE = ("python3", "procps", "iproute2", "openssh-server", "nftables", "conntrack", "kmod")

CACHE_ROOT = pathlib.Path(os.environ.get("NETDIAG_TESTHOSTS_CACHE", "/var/cache/netdiag-testhosts"))
STATE_ROOT = pathlib.Path(os.environ.get("NETDIAG_TESTHOSTS_STATE", "/var/lib/netdiag-testhosts"))

PREFIX = "ndth-"  # every namespace, link and process marker this tool creates starts with it ("netdiag test host")
BRIDGE = "ndth-br0"
NETWORK = ipaddress.ip_network("198.51.100.0/24")  # TEST-NET-2: documentation range, never routed anywhere
CONTROLLER_ADDRESS = ipaddress.ip_address("198.51.100.1")
FIRST_HOST_ADDRESS = 11
HOLDER_MARKER = "ndth-holder"  # argv[0] of the shell that holds a host's namespaces; destroy looks for it
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,9}$")  # "ndth-" + name must fit in an interface name (15)

# Runs as PID 1 of the host's new PID namespace, inside its network namespace and a new private mount namespace.
# Every mount below lives only in that mount namespace: when the host's processes die, the kernel drops them all,
# so nothing can leak into the controller's mount table.
HOLDER_SCRIPT = r"""
set -eu
name=$1 merged=$2 lower=$3 upper=$4 work=$5
hostname "$name"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
# /proc of this PID + network namespace. /proc/sys is read-only except net.*: root in a network namespace owns its
# own net.* sysctls, but kernel.*/vm.* are global and must not be changed by a test host.
mount -t proc -o nosuid,nodev,noexec proc "$merged/proc"
mount --bind "$merged/proc/sys" "$merged/proc/sys"
mount -o remount,bind,ro "$merged/proc/sys"
mount --bind "$merged/proc/sys/net" "$merged/proc/sys/net"
mount -o remount,bind,rw "$merged/proc/sys/net"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$merged/sys"
mount -t tmpfs -o mode=755,nosuid,size=8m tmpfs "$merged/dev"
for device in null zero full random urandom tty; do
    touch "$merged/dev/$device"
    mount --bind "/dev/$device" "$merged/dev/$device"
done
mkdir -p "$merged/dev/pts" "$merged/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$merged/dev/pts"
ln -s pts/ptmx "$merged/dev/ptmx"
ln -s /proc/self/fd "$merged/dev/fd"
ln -s /proc/self/fd/0 "$merged/dev/stdin"
ln -s /proc/self/fd/1 "$merged/dev/stdout"
ln -s /proc/self/fd/2 "$merged/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$merged/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev,size=32m tmpfs "$merged/run"
mkdir -m 755 "$merged/run/sshd" "$merged/run/lock"
# nf_conntrack may be a module: let modprobe inside the host see the running kernel's modules (read-only).
release=$(uname -r)
if [ -d "/lib/modules/$release" ]; then
    mkdir -p "$merged/lib/modules/$release"
    mount --bind "/lib/modules/$release" "$merged/lib/modules/$release"
    mount -o remount,bind,ro "$merged/lib/modules/$release"
fi
exec chroot "$merged" /usr/sbin/sshd -D -e
"""


class TestHostError(Exception):
    pass


def log(message):
    print("testhosts: " + message, file=sys.stderr, flush=True)


def run(argv, check=True, capture=False, **kwargs):
    completed = subprocess.run(
        argv,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        **kwargs,
    )
    if check and completed.returncode != 0:
        detail = (completed.stderr or "").strip() if capture else ""
        raise TestHostError("command failed (rc=%d): %s %s" % (completed.returncode, " ".join(argv), detail))
    return completed


# --- rootfs -----------------------------------------------------------------------------------------------------


def debian_mirror():
    """The Debian mirror this machine's apt already uses (deb822 or one-line format), so the repo names none."""
    override = os.environ.get("NETDIAG_TESTHOSTS_MIRROR")
    if override:
        return override
    sources = pathlib.Path("/etc/apt/sources.list.d/debian.sources")
    candidates = [sources] if sources.exists() else []
    candidates += sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []) and fields.get("uris"):
                return fields["uris"][0]
    one_line = [pathlib.Path("/etc/apt/sources.list"), *sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    raise TestHostError("no apt source for Debian %s found; set NETDIAG_TESTHOSTS_MIRROR=<mirror URL>" % SUITE)


def die_with_parent():
    """In the child before exec: be killed when this tool dies, so no orphan debootstrap writes into a directory
    that the next run deletes."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def rootfs_path():
    key_text = "|".join([SUITE, VARIANT, ",".join(sorted(INCLUDE)), os.uname().machine])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    return CACHE_ROOT / ("rootfs-%s-%s" % (SUITE, key))


def ensure_rootfs():
    """Build the rootfs once per machine; a crashed build never leaves a directory that later runs would trust."""
    final = rootfs_path()
    if final.is_dir():
        return final
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build finishes first, then we reuse it
        if final.is_dir():
            return final
        for stale in CACHE_ROOT.glob(final.name + ".tmp-*"):
            log("removing unfinished build %s" % stale)
            unmount_under(stale)  # builds by older versions of this tool mounted in the controller's namespace
            shutil.rmtree(stale, ignore_errors=True)
        building = CACHE_ROOT / ("%s.tmp-%d" % (final.name, os.getpid()))
        mirror = debian_mirror()
        log("debootstrap %s (%s) from %s into %s, takes a few minutes once" % (SUITE, ",".join(INCLUDE), mirror, final))
        started = time.monotonic()
        # In a private mount namespace: the /proc and /sys debootstrap mounts inside the target vanish with it, also
        # when it is killed, so they can never be left mounted under a directory that a later run deletes.
        argv = [
            "unshare", "--mount", "--propagation", "private",
            "debootstrap", "--variant=" + VARIANT, "--include=" + ",".join(INCLUDE), SUITE, str(building), mirror,
        ]  # fmt: skip
        completed = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, preexec_fn=die_with_parent
        )
        if completed.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise TestHostError("debootstrap failed (rc=%d):\n%s" % (completed.returncode, completed.stdout[-4000:]))
        # Host keys are generated per host at create time; nothing secret is shared through the lower layer.
        for key in (building / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        for package in (building / "var/cache/apt/archives").glob("*.deb"):
            package.unlink()
        manifest = {"suite": SUITE, "variant": VARIANT, "include": list(INCLUDE), "mirror": mirror}
        (building / ".netdiag-testhosts-rootfs.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.rename(building, final)
        log("rootfs ready in %.0f s" % (time.monotonic() - started))
        return final


# --- network ----------------------------------------------------------------------------------------------------


def link_exists(name):
    return pathlib.Path("/sys/class/net", name).exists()


def ensure_bridge():
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    address = "%s/%d" % (CONTROLLER_ADDRESS, NETWORK.prefixlen)
    shown = run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], capture=True).stdout
    if address not in shown:
        run(["ip", "addr", "add", address, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def netns_names():
    directory = pathlib.Path("/run/netns")
    return sorted(path.name for path in directory.glob(PREFIX + "*")) if directory.is_dir() else []


# --- hosts ------------------------------------------------------------------------------------------------------


def host_dir(name):
    return STATE_ROOT / "hosts" / name


def key_pair():
    """One controller key pair for all hosts, kept in the state directory (never in the repository)."""
    private = STATE_ROOT / "ssh" / "id_ed25519"
    if not private.exists():
        private.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(private.parent, 0o700)
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netdiag-testhosts", "-f", str(private)], capture=True
        )
    return private


def used_addresses():
    used = set()
    for path in (STATE_ROOT / "hosts").glob("*/address"):
        used.add(path.read_text().strip())
    return used


def parse_host_specs(specs):
    hosts = []
    taken = used_addresses()
    for spec in specs:
        name, _separator, address = spec.partition("=")
        if not NAME_PATTERN.match(name):
            raise TestHostError("host name %r: use 1-10 lower-case letters/digits, starting with a letter" % name)
        if address:
            parsed = ipaddress.ip_address(address)
            if parsed not in NETWORK or parsed in (
                CONTROLLER_ADDRESS,
                NETWORK.network_address,
                NETWORK.broadcast_address,
            ):
                raise TestHostError(
                    "%s: addresses must be host addresses in %s other than %s" % (address, NETWORK, CONTROLLER_ADDRESS)
                )
        hosts.append([name, address])
    # Addresses of hosts being re-created are free again.
    names = {host[0] for host in hosts}
    for name in names:
        path = host_dir(name) / "address"
        if path.exists():
            taken.discard(path.read_text().strip())
    taken.update(host[1] for host in hosts if host[1])
    for host in hosts:
        if not host[1]:
            free = (str(NETWORK[i]) for i in range(FIRST_HOST_ADDRESS, 251) if str(NETWORK[i]) not in taken)
            host[1] = next(free)
            taken.add(host[1])
    return hosts


def write_host_files(name, address, upper, public_key):
    """Per-host files go straight into the overlay's upper directory before it is mounted."""
    ssh_dir = upper / "root" / ".ssh"
    ssh_dir.mkdir(parents=True)
    os.chmod(upper / "root", 0o700)
    os.chmod(ssh_dir, 0o700)
    (ssh_dir / "authorized_keys").write_text(public_key)
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    etc = upper / "etc"
    (etc / "ssh" / "sshd_config.d").mkdir(parents=True)
    host_key = etc / "ssh" / "ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + name, "-f", str(host_key)], capture=True)
    # sshd reads sshd_config.d first and keeps the first value it sees, so this drop-in wins over Debian's defaults.
    # UsePAM no: pam_loginuid and friends expect a booted system; key authentication needs none of PAM.
    (etc / "ssh" / "sshd_config.d" / "00-netdiag-testhosts.conf").write_text(
        "# Written by tools/testhosts/testhosts.py for test host %s\n"
        "ListenAddress %s\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "UseDNS no\n"
        "MaxStartups 100:30:200\n"
        "MaxSessions 100\n" % (name, address)
    )
    # Debian's only packaged sysctl file sets global fs.* keys, which are read-only in a test host (it must not change
    # the machine it runs on); masked by name so that `sysctl --system` exits 0 as it does on a real host.
    (etc / "sysctl.d").mkdir()
    (etc / "sysctl.d" / "99-protect-links.conf").write_text(
        "# Masks /usr/lib/sysctl.d/99-protect-links.conf in this netdiag test host: fs.protected_* are global kernel\n"
        "# settings, read-only here (only net.* of the host's own network namespace are writable).\n"
    )
    (etc / "hostname").write_text("%s\n" % name)
    (etc / "hosts").write_text(
        "127.0.0.1\tlocalhost\n%s\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n" % (address, name)
    )


EMULATION_ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "emulation"


def emulation_tree(platform_name):
    """tests/emulation/<platform>/root, the file tree an emulated host gets over its root (see its README)."""
    if not re.match(r"^[a-z][a-z0-9_]*$", platform_name or ""):
        raise TestHostError("--emulate %r: use the name of a directory under %s" % (platform_name, EMULATION_ROOT))
    tree = EMULATION_ROOT / platform_name / "root"
    if not tree.is_dir():
        known = sorted(path.parent.name for path in EMULATION_ROOT.glob("*/root") if path.is_dir())
        raise TestHostError("--emulate %s: no %s (known: %s)" % (platform_name, tree, ", ".join(known) or "none"))
    return tree


def create_host(name, address, lower, emulate=None):
    directory = host_dir(name)
    upper, work, merged = directory / "upper", directory / "work", directory / "merged"
    for path in (upper, work, merged):
        path.mkdir(parents=True)
    (directory / "address").write_text(address + "\n")
    private = key_pair()
    write_host_files(name, address, upper, pathlib.Path(str(private) + ".pub").read_text())
    if emulate:
        # Copied into the overlay's upper directory like the per-host files: the cached rootfs stays untouched, and
        # the copy's directories merge with the rootfs's (modes and executable bits are kept).
        shutil.copytree(emulation_tree(emulate), upper, symlinks=True, dirs_exist_ok=True)
        (directory / "emulate").write_text(emulate + "\n")

    namespace = PREFIX + name
    run(["ip", "netns", "add", namespace])
    run(["ip", "link", "add", namespace, "type", "veth", "peer", "name", "eth0", "netns", namespace])
    run(["ip", "link", "set", namespace, "master", BRIDGE, "up"])
    in_ns = ["ip", "-n", namespace]
    run([*in_ns, "link", "set", "lo", "up"])
    run([*in_ns, "addr", "add", "%s/%d" % (address, NETWORK.prefixlen), "dev", "eth0"])
    run([*in_ns, "link", "set", "eth0", "up"])

    argv = [
        "ip", "netns", "exec", namespace,
        "unshare", "--mount", "--uts", "--pid", "--kill-child", "--propagation", "private",
        "/bin/sh", "-c", HOLDER_SCRIPT, HOLDER_MARKER,
        name, str(merged), str(lower), str(upper), str(work),
    ]  # fmt: skip
    with open(directory / "holder.log", "wb") as output:
        holder = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
    (directory / "pid").write_text("%d\n" % holder.pid)
    return holder


def wait_for_ssh(name, address, holder, deadline):
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            log_text = (host_dir(name) / "holder.log").read_text(errors="replace")
            raise TestHostError("host %s: holder exited with %s:\n%s" % (name, holder.returncode, log_text))
        with contextlib.suppress(OSError), socket.create_connection((address, 22), timeout=1) as connection:
            if connection.recv(4).startswith(b"SSH-"):
                return
        time.sleep(0.1)
    raise TestHostError("host %s: sshd on %s:22 did not answer" % (name, address))


def namespace_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def processes_in(namespace_inodes, holder_pids):
    """Every process in one of our network namespaces, plus the holders themselves (checked by their argv)."""
    found = set()
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        pid = int(proc.name)
        if pid in holder_pids:
            with contextlib.suppress(OSError):
                if (
                    HOLDER_MARKER.encode() in (proc / "cmdline").read_bytes()
                    or "unshare" in (proc / "comm").read_text()
                ):
                    found.add(pid)
        inode = namespace_inode(proc / "ns" / "net")
        if inode is not None and inode in namespace_inodes:
            found.add(pid)
    found.discard(os.getpid())
    return found


def kill_all(pids):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pathlib.Path("/proc", str(pid)).exists() for pid in pids):
        for pid in pids:  # reap our own children, if any
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)


def tcp_peers_by_socket_inode():
    """{socket inode: remote IPv4 address} for the TCP sockets of our own network namespace (/proc/net/tcp)."""
    peers = {}
    with open("/proc/self/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_hex = fields[2].split(":")[0]
            peers[fields[9]] = str(ipaddress.ip_address(bytes.fromhex(remote_hex)[::-1]))
    return peers


def ssh_clients_of(addresses):
    """Controller-side ssh processes connected to these hosts: OpenSSH ControlPersist masters outlive Ansible's run.

    addresses: a set of address strings, or NETWORK for every test host address. A master rewrites its argv
    ("ssh: /root/.ansible/cp/... [mux]"), so it is recognised by its TCP socket's peer, not by its arguments.
    """

    def wanted(address):
        if addresses is NETWORK:
            return ipaddress.ip_address(address) in NETWORK
        return address in addresses

    peers = tcp_peers_by_socket_inode()
    # Only clients in our own network namespace reach the test hosts; an ssh in someone else's namespace that
    # happens to use a 198.51.100.x address is not ours.
    own_namespace = namespace_inode("/proc/self/ns/net")
    found = set()
    for proc in pathlib.Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if (
                not proc.name.isdigit()
                or (proc / "comm").read_text().strip() != "ssh"
                or namespace_inode(proc / "ns" / "net") != own_namespace
            ):
                continue
            for descriptor in (proc / "fd").iterdir():
                target = os.readlink(descriptor)
                if target.startswith("socket:[") and wanted(peers.get(target[8:-1], "0.0.0.0")):
                    found.add(int(proc.name))
                    break
    return found


def destroy_hosts(names, ssh_addresses=None):
    """Kill every process of the hosts at once (a PID namespace takes a moment to die), then remove the rest.

    ssh_addresses: addresses whose controller-side ssh clients to end; default: the named hosts' addresses.
    """
    holder_pids, inodes, addresses = set(), set(), set()
    for name in names:
        address_file = host_dir(name) / "address"
        if address_file.exists():
            addresses.add(address_file.read_text().strip())
        pid_file = host_dir(name) / "pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError):
                holder_pids.add(int(pid_file.read_text()))
        inode = namespace_inode("/run/netns/" + PREFIX + name)
        if inode is not None:
            inodes.add(inode)
    clients = ssh_clients_of(addresses if ssh_addresses is None else ssh_addresses)
    kill_all(processes_in(inodes, holder_pids) | clients)
    present = netns_names()
    for name in names:
        namespace = PREFIX + name
        if namespace in present:
            run(["ip", "netns", "delete", namespace], check=False, capture=True)
        if link_exists(namespace):  # the veth normally goes with the namespace; this is for a half-made host
            run(["ip", "link", "delete", namespace], check=False, capture=True)
        unmount_under(host_dir(name))
        shutil.rmtree(host_dir(name), ignore_errors=True)


def unmount_under(directory):
    """Mounts only ever exist inside host namespaces; this is a safety net for anything mounted by hand."""
    prefix = str(directory) + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in sorted((p for p in points if p.startswith(prefix) or p == str(directory)), reverse=True):
        run(["umount", "-l", point], check=False)


def destroy_all():
    """Remove everything this tool could have left, by naming convention, even without state files."""
    names = {path.name for path in (STATE_ROOT / "hosts").glob("*")} if (STATE_ROOT / "hosts").is_dir() else set()
    names.update(namespace[len(PREFIX) :] for namespace in netns_names())
    names.update(
        path.name[len(PREFIX) :] for path in pathlib.Path("/sys/class/net").glob(PREFIX + "*") if path.name != BRIDGE
    )
    destroy_hosts(sorted(names), ssh_addresses=NETWORK)
    # Holders whose namespace file is already gone (e.g. /run/netns cleaned by hand) are still found by argv.
    strays = set()
    for proc in pathlib.Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and HOLDER_MARKER.encode() in (proc / "cmdline").read_bytes().split(b"\0"):
                strays.add(int(proc.name))
    kill_all(strays)
    remove_bridge_if_unused()


def remove_bridge_if_unused():
    if link_exists(BRIDGE) and not any(pathlib.Path("/sys/class/net", BRIDGE, "brif").iterdir()):
        run(["ip", "link", "delete", BRIDGE], check=False)


# --- commands ---------------------------------------------------------------------------------------------------


def command_rootfs(_arguments):
    print(ensure_rootfs())


def command_create(arguments):
    hosts = parse_host_specs(arguments.hosts)
    if arguments.emulate:
        emulation_tree(arguments.emulate)  # a bad name fails before anything is created
    lower = ensure_rootfs()
    ensure_bridge()
    destroy_hosts([host[0] for host in hosts])  # a host of the same name left by a crashed run
    started = time.monotonic()
    holders = [(name, address, create_host(name, address, lower, arguments.emulate)) for name, address in hosts]
    deadline = time.monotonic() + arguments.timeout
    try:
        for name, address, holder in holders:
            wait_for_ssh(name, address, holder, deadline)
    except TestHostError:
        destroy_hosts([holder[0] for holder in holders])
        remove_bridge_if_unused()
        raise
    log("%d host(s) up in %.1f s" % (len(holders), time.monotonic() - started))
    result = {
        "private_key": str(key_pair()),
        "hosts": [{"name": name, "address": address, "netns": PREFIX + name} for name, address, _holder in holders],
    }
    if arguments.emulate:
        result["emulate"] = arguments.emulate
        result["python_interpreter"] = "/usr/local/bin/python-%s" % arguments.emulate
    print(json.dumps(result, indent=2))


def command_destroy(arguments):
    if arguments.all:
        destroy_all()
    else:
        for name in arguments.hosts:
            if not NAME_PATTERN.match(name):
                raise TestHostError("host name %r is not one this tool creates" % name)
        destroy_hosts(arguments.hosts)
        remove_bridge_if_unused()


def command_status(_arguments):
    hosts = sorted(p.name for p in (STATE_ROOT / "hosts").glob("*")) if (STATE_ROOT / "hosts").is_dir() else []
    for name in hosts:
        address_file = host_dir(name) / "address"
        address = address_file.read_text().strip() if address_file.exists() else "?"
        answering = False
        with contextlib.suppress(OSError), socket.create_connection((address, 22), timeout=1) as connection:
            answering = connection.recv(4).startswith(b"SSH-")
        emulate_file = host_dir(name) / "emulate"
        emulated = " emulate=%s" % emulate_file.read_text().strip() if emulate_file.exists() else ""
        print(
            "%-12s %-16s netns=%s%s sshd=%s%s" % (name, address, PREFIX, name, "up" if answering else "DOWN", emulated)
        )
    leftovers = [n for n in netns_names() if n[len(PREFIX) :] not in hosts]
    if leftovers:
        print("namespaces without state (destroy --all removes them): " + " ".join(leftovers))


def host_init_pid(name):
    """PID (in our namespace) of the host's PID 1: the holder's only child."""
    holder = int((host_dir(name) / "pid").read_text())
    children = pathlib.Path("/proc/%d/task/%d/children" % (holder, holder)).read_text().split()
    if not children:
        raise TestHostError("host %s is not running" % name)
    return int(children[0])


def command_shell(arguments):
    pid = str(host_init_pid(arguments.name))
    command = arguments.command or ["/bin/bash", "-l"]
    argv = ["nsenter", "--target", pid, "--mount", "--uts", "--net", "--pid", "--root", "--wd", "--", *command]
    os.execvp(argv[0], argv)


def command_podman_image(arguments):
    """The podman scenario's image, offline: the same rootfs, imported (no registry needed)."""
    rootfs = ensure_rootfs()
    podman = shutil.which("podman")
    if not podman:
        raise TestHostError("podman is not installed")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        [podman, "import", "--change", 'CMD ["sleep", "infinity"]', "-", arguments.image],
        stdin=tar.stdout,
        check=False,
    )
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise TestHostError("podman import failed")
    print(arguments.image)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rootfs", help="build (once) and print the cached rootfs").set_defaults(func=command_rootfs)
    create = commands.add_parser("create", help="create hosts NAME[=198.51.100.N]; prints JSON (key, addresses)")
    create.add_argument("hosts", nargs="+", metavar="NAME[=ADDRESS]")
    create.add_argument("--timeout", type=float, default=60, help="seconds to wait for sshd (default 60)")
    create.add_argument(
        "--emulate",
        metavar="PLATFORM",
        help="EMULATION: copy tests/emulation/PLATFORM/root/ over each host's root (e.g. aix); see its README",
    )
    create.set_defaults(func=command_create)
    destroy = commands.add_parser("destroy", help="destroy hosts; --all removes every ndth-* leftover")
    destroy.add_argument("hosts", nargs="*", metavar="NAME")
    destroy.add_argument("--all", action="store_true")
    destroy.set_defaults(func=command_destroy)
    commands.add_parser("status", help="list hosts").set_defaults(func=command_status)
    shell = commands.add_parser("shell", help="run a command inside a host (default: bash)")
    shell.add_argument("name")
    shell.add_argument("command", nargs=argparse.REMAINDER)
    shell.set_defaults(func=command_shell)
    podman_image = commands.add_parser("podman-image", help="import the rootfs into podman (podman scenario)")
    podman_image.add_argument("--image", default="localhost/netdiag-testhost:bookworm")
    podman_image.set_defaults(func=command_podman_image)
    arguments = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (namespaces, mounts, debootstrap)")
    if arguments.command == "destroy" and not arguments.all and not arguments.hosts:
        parser.error("destroy: name hosts or pass --all")
    try:
        arguments.func(arguments)
    except TestHostError as error:
        log("error: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
