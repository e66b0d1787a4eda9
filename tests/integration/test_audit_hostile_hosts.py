# SPDX-License-Identifier: GPL-3.0-or-later
"""One hostile host never costs the others their report (playbooks/audit.yml, issue 21).

Hosts of one audit, all on this machine:
- "hung_raw": raw mode over SSH, where SSH is a fake `ansible_ssh_executable` that runs the remote command here,
  except that reading /proc/net/tcp (`head -c N /proc/net/tcp`) never ends (it prints the header, then waits).
  netdiag_audit_host_timeout=10 ends it: "timed out after 10 s".
- "hung_module": module mode, its interpreter hangs before answering (the same deadline).
- "killed": the module is killed by SIGKILL (what the OOM killer does): reported as that, not switched to raw mode.
- "garbage": the module prints something that is not a result: reported with that output, not switched to raw.
- "bad_line": raw mode over the fake SSH, /proc/net/tcp with one line that is not a socket row: the socket table
  is lost, the conntrack and slab sections are not.
- "healthy_raw": raw mode over the fake SSH, nothing changed; a process named b"\\xff\\xfeweb" with prctl holds a
  listening socket on the audited port: its name arrives as U+FFFD U+FFFD "web".
- "healthy_module": module mode, ansible_connection local.
Every hung process the fakes start records its PID, and the test ends them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from conftest import run_audit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (other processes' sockets, /proc/slabinfo)")

TIMEOUT = 10

# The fake SSH: the remote command is the last argument; it runs here under /bin/sh. MODE picks the hostile part.
FAKE_SSH = r"""#!/bin/sh
for last; do :; done
case "$last" in
  *" /proc/net/tcp && "*) ;;  # Ansible sends "/bin/sh -c '...; head -c N /proc/net/tcp && sleep 0'"
  *) exec /bin/sh -c "$last" ;;
esac
case "%(mode)s" in
  hang) head -1 /proc/net/tcp; echo $$ >> "%(pids)s"; exec sleep 600 ;;
  bad_line) /bin/sh -c "$last"; echo "  99: this is not a socket row" ;;
  *) exec /bin/sh -c "$last" ;;
esac
"""

# A module interpreter that hangs, one that dies by SIGKILL, one that prints no result.
HUNG_PYTHON = '#!/bin/sh\necho $$ >> "%(pids)s"\nexec sleep 600\n'
KILLED_PYTHON = "#!/bin/sh\ncat >/dev/null\nkill -9 $$\n"
GARBAGE_PYTHON = "#!/bin/sh\ncat >/dev/null\necho 'this is not {json'\n"

# A listener whose process name (comm) is not UTF-8, set with prctl(PR_SET_NAME) as any local user can.
PRCTL_LISTENER = r"""
import ctypes, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(15, ctypes.c_char_p(b"\xff\xfeweb"), 0, 0, 0) == 0  # PR_SET_NAME
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
print(server.getsockname()[1], flush=True)
sys.stdin.readline()
"""


def executable(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def hostile_inventory(tmp_path):
    pids = tmp_path / "hung-pids"
    pids.touch()
    listener = subprocess.Popen(
        [sys.executable, "-c", PRCTL_LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(listener.stdout.readline())
        with open("/proc/%d/comm" % listener.pid, "rb") as handle:
            assert handle.read() == b"\xff\xfeweb\n"  # the real name, bytes as the kernel keeps them

        def fake_ssh(mode):
            return executable(tmp_path / ("ssh-" + mode), FAKE_SSH % {"mode": mode, "pids": pids})

        ssh = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "netdiag_raw": True}
        hosts = {
            "hung_raw": dict(ssh, ansible_ssh_executable=fake_ssh("hang")),
            "bad_line": dict(ssh, ansible_ssh_executable=fake_ssh("bad_line")),
            "healthy_raw": dict(ssh, ansible_ssh_executable=fake_ssh("ok")),
            "hung_module": {
                "ansible_connection": "local",
                "ansible_python_interpreter": executable(tmp_path / "python-hung", HUNG_PYTHON % {"pids": pids}),
            },
            "killed": {
                "ansible_connection": "local",
                "ansible_python_interpreter": executable(tmp_path / "python-killed", KILLED_PYTHON),
            },
            "garbage": {
                "ansible_connection": "local",
                "ansible_python_interpreter": executable(tmp_path / "python-garbage", GARBAGE_PYTHON),
            },
            "healthy_module": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        }
        inventory = tmp_path / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        yield inventory, port
    finally:
        listener.stdin.close()
        listener.wait(timeout=10)
        for line in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line), signal.SIGKILL)


def test_hostile_hosts_are_reported_and_the_others_report_is_written(tmp_path, hostile_inventory):
    inventory, port = hostile_inventory
    extra = ("-e", "netdiag_audit_host_timeout=%d" % TIMEOUT, "-e", "netdiag_audit_ports=[%d]" % port)
    completed, report = run_audit(tmp_path / "reports", inventory=inventory, extra=extra)
    hosts = report["hosts"]
    outcome = {name: (hosts[name]["status"], hosts[name]["mode"], hosts[name]["errors"]) for name in hosts}
    details = json.dumps(outcome, indent=1, ensure_ascii=False)

    timed_out = "timed out after %d s (netdiag_audit_host_timeout)" % TIMEOUT
    assert outcome["hung_raw"] == ("failed", "raw", ["raw_facts: " + timed_out]), details
    assert outcome["hung_module"] == ("failed", "module", ["audit_facts: " + timed_out]), details
    assert outcome["killed"] == ("failed", "module", ["audit_facts: killed by signal 9 (SIGKILL): Killed"]), details
    assert outcome["garbage"] == (
        "failed",
        "module",
        ["audit_facts: the module ran but gave no result (rc 0): this is not {json"],
    ), details

    status, mode, errors = outcome["bad_line"]
    assert (status, mode) == ("failed", "raw"), details
    assert len(errors) == 1 and re.fullmatch(
        r"netstat: linux_proc_net_tcp: line \d+ not recognised \(expected at least 10 fields starting with 'N:'\): "
        r"'  99: this is not a socket row'",
        errors[0],
    ), details
    assert "conntrack" in hosts["bad_line"] and hosts["bad_line"]["slabinfo"]["available"] is True, details

    for name in ("healthy_raw", "healthy_module"):
        assert hosts[name]["status"] == "ok", details
        listening = [c for c in hosts[name]["netstat"]["connections"] if c["local_port"] == port]
        assert [(c["state"], c.get("process")) for c in listening] == [("LISTEN", "\ufffd\ufffdweb")], details
    assert "healthy_raw: ok (raw mode)" in completed.stdout
    assert "hung_raw: failed (raw mode)" in completed.stdout
    # The report files are valid UTF-8 (a surrogate would have stopped the report task).
    for suffix in ("json", "md", "html"):
        (tmp_path / "reports" / ("audit-latest." + suffix)).read_bytes().decode("utf-8")
