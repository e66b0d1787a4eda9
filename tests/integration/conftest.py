# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration helpers: run a netdiag.tcp module for real through Ansible, optionally inside a network namespace."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


def ansible_environment(**extra):
    """This environment for Ansible runs of the tests. Test hosts are created with fresh host keys on every run, so
    host key checking is off here, for the tests' own hosts only (the shipped ansible.cfg keeps it on)."""
    return dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", **extra)


def ansible_json_environment():
    """This environment with Ansible printing its results as one JSON document (the ansible.posix.json callback)."""
    return ansible_environment(
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )


def run_module(module, args=None, netns=None, check_mode=False, timeout=120):
    """Run netdiag.tcp.<module> (or a fully qualified name) on localhost with `ansible` and return its result dict.

    With netns, the whole `ansible` process runs in that network namespace (ip netns exec), so the module sees the
    namespace's /proc/net and /proc/sys/net exactly as a host would.
    """
    name = module if "." in module else "netdiag.tcp." + module
    command = [str(VENV_BIN / "ansible"), "localhost", "-m", name]
    if args:  # `-a '{}'` is taken as raw parameters, which most modules refuse
        command += ["-a", json.dumps(args)]
    if check_mode:
        command.append("--check")
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    environment = ansible_json_environment()
    completed = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        output = json.loads(completed.stdout)
    except ValueError as error:
        raise AssertionError(
            "ansible printed no JSON (rc=%d)\nstdout:\n%s\nstderr:\n%s"
            % (completed.returncode, completed.stdout, completed.stderr)
        ) from error
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def template(expression, extra_vars=None):
    """The debug result of templating ``{{ expression }}`` with `ansible localhost` (real Ansible templating, the
    filters by their fully qualified names), with extra vars when given."""
    command = [str(VENV_BIN / "ansible"), "localhost", "-m", "ansible.builtin.debug", "-a", "msg={{ %s }}" % expression]
    if extra_vars is not None:
        command += ["-e", json.dumps(extra_vars)]
    completed = subprocess.run(
        command,
        cwd=REPO,
        env={
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def ansible_module():
    return run_module


def is_root():
    return os.geteuid() == 0


needs_root = pytest.mark.skipif(not is_root(), reason="needs root (network namespaces, /proc/slabinfo)")


def run(*command, **options):
    """Run a command, fail on a non-zero exit, return the CompletedProcess (text output)."""
    return subprocess.run(command, check=True, capture_output=True, text=True, **options)


def run_playbook(playbook, *arguments, env=None, netns=None):
    """ansible-playbook playbooks/<playbook> ARGUMENTS from the repository, inside the network namespace netns when
    given; the CompletedProcess (text output), its return code not checked."""
    command = [str(VENV_BIN / "ansible-playbook"), "playbooks/" + playbook, *arguments]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def json_output(completed):
    """What the ansible.posix.json callback printed (see ansible_json_environment); fails the test without it."""
    try:
        return json.loads(completed.stdout)
    except ValueError as error:
        raise AssertionError(
            "no JSON (rc=%d)\n%s\n%s" % (completed.returncode, completed.stdout, completed.stderr)
        ) from error


def task_results(output, host):
    """{task name: the host's result} of a playbook's JSON output. Role tasks are named "<role> : <task>"; the role
    part is not what the assertions are about, so it is left out."""
    tasks = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                tasks[task["task"]["name"].split(" : ", 1)[-1]] = task["hosts"][host]
    return tasks


def run_audit(report_dir, inventory=None, extra=()):
    """Run playbooks/audit.yml (reports into report_dir); return (CompletedProcess, the JSON report)."""
    arguments = ["-e", "netdiag_report_dir=%s" % report_dir]
    if inventory:
        arguments += ["-i", str(inventory)]
    completed = run_playbook("audit.yml", *arguments, *extra, env=ansible_environment())
    report_path = pathlib.Path(report_dir) / "audit-latest.json"
    assert report_path.exists(), "no report written (rc=%d)\n%s\n%s" % (
        completed.returncode,
        completed.stdout[-4000:],
        completed.stderr[-4000:],
    )
    return completed, json.loads(report_path.read_text())


def netns_python(directory, namespace):
    """An interpreter for an inventory host that is a network namespace: the venv's Python under ip netns exec."""
    wrapper = pathlib.Path(directory) / ("python-" + namespace)
    wrapper.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (namespace, VENV_BIN / "python"))
    wrapper.chmod(0o755)
    return str(wrapper)


# A server that accepts connections on (address, port), IPv4 or IPv6, and holds every one until its stdin closes.
HOLDING_SERVER = r"""
import select, socket, sys
server = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(128)
print("listening", flush=True)
held = []
server.settimeout(0.5)
while True:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break
"""

# A client that opens N connections to (address, port), SO_KEEPALIVE on them or not; on a line from stdin it closes
# the first M of them (prints "closed"), then holds the rest until stdin closes.
CLOSING_CLIENT = r"""
import socket, sys
address, keepalive = sys.argv[1], sys.argv[5] == "keepalive"
port, opened, closed = (int(argument) for argument in sys.argv[2:5])
clients = [socket.create_connection((address, port), timeout=5) for _ in range(opened)]
for client in clients:
    client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(keepalive))
print("connected", flush=True)
sys.stdin.readline()
for client in clients[:closed]:
    client.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def veth_namespaces(namespaces, devices, addresses):
    """Add two network namespaces (loopback up) joined by a veth pair: devices[i] with addresses[i]/24 in
    namespaces[i]. tear_down deletes them, and the pair with them."""
    for namespace in namespaces:
        run("ip", "netns", "add", namespace)
        run("ip", "-n", namespace, "link", "set", "lo", "up")
    run(
        "ip",
        "link",
        "add",
        devices[0],
        "netns",
        namespaces[0],
        "type",
        "veth",
        "peer",
        devices[1],
        "netns",
        namespaces[1],
    )
    for namespace, device, address in zip(namespaces, devices, addresses):
        run("ip", "-n", namespace, "addr", "add", address + "/24", "dev", device)
        run("ip", "-n", namespace, "link", "set", device, "up")


def drop_output_to(namespace, address):
    """Lose every packet the namespace sends to address (nft table inet ndt_lost; deleting the table ends it)."""
    in_netns(
        namespace,
        "nft",
        "add table inet ndt_lost; add chain inet ndt_lost out "
        "{ type filter hook output priority 0; ip daddr %s drop; }" % address,
    )


def in_netns(namespace, *command):
    """Run a command inside a network namespace (see run)."""
    return run("ip", "netns", "exec", namespace, *command)


def start_in_netns(namespace, script, *arguments):
    """Start a Python script inside a network namespace, with pipes to its stdin and stdout."""
    return subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", script, *[str(argument) for argument in arguments]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def tear_down(processes, namespaces):
    """End the processes a test started (closing their stdin first) and delete its network namespaces."""
    for process in processes:
        if process.stdin:
            process.stdin.close()
        process.kill()
        process.wait(timeout=10)
    for namespace in namespaces:
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)
