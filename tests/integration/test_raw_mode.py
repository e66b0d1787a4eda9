# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw mode of playbooks/audit.yml against real sockets: the facts equal module mode's for the same sockets.

One network namespace holds a server on 127.0.0.1:5555 with 32 clients (12 with SO_KEEPALIVE, 5 closed by the
client: CLOSE_WAIT on the server, FIN_WAIT_2 on the client). Three inventory hosts look at that namespace:
"module" runs the fact modules with Python under `ip netns exec`; "raw" sets netdiag_raw: true; "nopython" points
ansible_python_interpreter at a path that does not exist, so the modules cannot start and the audit falls back to
raw mode by itself. Raw commands reach the namespace through ansible_shell_executable (a shell under ip netns exec),
the way they would reach a host over SSH. "never" has no Python either but netdiag_raw: false: it fails as before.
"""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import CLOSING_CLIENT, HOLDING_SERVER, netns_python, run, run_audit, start_in_netns, tear_down

pytestmark = pytest.mark.skipif(__import__("os").geteuid() != 0, reason="needs root (network namespaces)")

# Differs between two reads of the same host for reasons other than its sockets: the processes that exist at the
# moment of the owner scan (the reading commands themselves), the boot configuration (not read in raw mode).
# Facts that say how, not what: the owner scan's figures, and where the sockets were read (module mode on Linux
# reads sock_diag netlink, raw mode the /proc/net/tcp* text it fetched; both give the same facts).
VOLATILE_NETSTAT = ("owner_scan", "reader", "reader_fallback", "sources")


@pytest.fixture
def namespace_hosts(tmp_path):
    namespace = "ndt-raw-" + uuid.uuid4().hex[:6]
    processes = []
    try:
        run("ip", "netns", "add", namespace)
        run("ip", "-n", namespace, "link", "set", "lo", "up")
        server = start_in_netns(namespace, HOLDING_SERVER, "127.0.0.1", 5555)
        processes.append(server)
        assert server.stdout.readline().strip() == "listening"
        for opened, closed, keepalive in ((20, 5, "-"), (12, 0, "keepalive")):
            client = start_in_netns(namespace, CLOSING_CLIENT, "127.0.0.1", 5555, opened, closed, keepalive)
            processes.append(client)
            assert client.stdout.readline().strip() == "connected"
            client.stdin.write("close\n")
            client.stdin.flush()
            assert client.stdout.readline().strip() == "closed"
        shell = tmp_path / "shell-in-namespace"
        shell.write_text('#!/bin/sh\nexec ip netns exec %s /bin/sh "$@"\n' % namespace)
        shell.chmod(0o755)
        missing_python = str(tmp_path / "no-such-python")
        # An interpreter too old to compile the module (AIX 7.1 and Solaris 10 ship Python 2.7): emulated by a
        # script that answers as Python 2's compiler does, so the module starts but cannot run.
        old_python = tmp_path / "python2.7"
        old_python.write_text(
            "#!/bin/sh\ncat >/dev/null\necho '  File \"<stdin>\", line 12' >&2\n"
            "echo 'SyntaxError: invalid syntax' >&2\nexit 1\n"
        )
        old_python.chmod(0o755)
        hosts = {
            "module": {"ansible_python_interpreter": netns_python(tmp_path, namespace)},
            "raw": {"netdiag_raw": True, "ansible_shell_executable": str(shell)},
            "nopython": {"ansible_python_interpreter": missing_python, "ansible_shell_executable": str(shell)},
            "oldpython": {"ansible_python_interpreter": str(old_python), "ansible_shell_executable": str(shell)},
            "never": {"ansible_python_interpreter": missing_python, "netdiag_raw": False},
        }
        for variables in hosts.values():
            variables["ansible_connection"] = "local"
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        yield inventory
    finally:
        tear_down(processes, (namespace,))


def host_findings(report, host):
    return sorted(
        (item["id"], item["severity"], json.dumps(item["evidence"], sort_keys=True))
        for item in report["findings"]
        if item["host"] == host and not item["id"].startswith(("asymmetric", "half-open"))
    )


def test_raw_mode_facts_equal_module_mode(tmp_path, namespace_hosts):
    completed, report = run_audit(tmp_path / "reports", inventory=namespace_hosts)
    hosts = report["hosts"]
    assert {name: (hosts[name]["status"], hosts[name]["mode"]) for name in hosts} == {
        "module": ("ok", "module"),
        "raw": ("ok", "raw"),
        "nopython": ("ok", "raw"),
        "oldpython": ("ok", "raw"),
        "never": ("failed", "module"),
    }, json.dumps({name: hosts[name]["errors"] for name in hosts}, indent=1)
    assert hosts["raw"]["mode_reason"] == "netdiag_raw: true"
    assert hosts["nopython"]["mode_reason"].startswith("audit_facts could not start (no usable Python)")
    assert hosts["oldpython"]["mode_reason"].startswith("audit_facts could not start (no usable Python)")
    assert "SyntaxError: invalid syntax" in hosts["oldpython"]["mode_reason"]

    expected = hosts["module"]["netstat"]
    assert expected["state_counts"]["ESTABLISHED"] == 2 * 27
    assert expected["state_counts"]["CLOSE_WAIT"] == 5
    assert expected["established_without_keepalive"] == 15 + 15 + 12  # both ends of the 15, the server side of 12
    assert any(connection.get("process") for connection in expected["connections"])
    for name in ("raw", "nopython", "oldpython"):
        netstat = hosts[name]["netstat"]
        # Raw mode reports the owner scan's counts; module mode reports them and its timing and budget too.
        assert {"processes", "unreadable_processes"} <= set(netstat["owner_scan"]) <= set(expected["owner_scan"])
        assert netstat["reader"] == "proc" and expected["reader"] in ("sock_diag", "proc")
        assert {k: v for k, v in netstat.items() if k not in VOLATILE_NETSTAT} == {
            k: v for k, v in expected.items() if k not in VOLATILE_NETSTAT
        }
        assert hosts[name]["keepalive"] == hosts["module"]["keepalive"]
        conntrack = {k: v for k, v in hosts[name]["conntrack"].items() if k != "persisted"}
        assert conntrack == {k: v for k, v in hosts["module"]["conntrack"].items() if k != "persisted"}
        assert hosts[name]["slabinfo"]["available"] == hosts["module"]["slabinfo"]["available"]
        assert set(hosts[name]["slabinfo"].get("caches") or {}) == set(hosts["module"]["slabinfo"].get("caches") or {})
        assert host_findings(report, name) == host_findings(report, "module")
    assert host_findings(report, "module"), "the namespace should give host findings (no-keepalive, close-wait...)"
    assert "raw: ok (raw mode)" in completed.stdout
    assert "## raw (ok) (raw mode)" in (tmp_path / "reports" / "audit-latest.md").read_text()
