# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml for real, on what the report directory and the report's text must survive:

1. A process named with prctl(PR_SET_NAME) `\\e]0;PWN\\a\\e[8m<b>` (15 bytes: set the terminal's title, then hide
   the text) listens on loopback; the audit of localhost must show it without a control character in
   audit-latest.md, audit-latest.html or the printed summary, and HTML must escape `<b>`.
2. keep=1 after an audit that reached no host (one host, refused at once on loopback port 1): rc 2 whatever
   netdiag_fail_on says, the last good set and audit-latest.* untouched.
3. Two ansible-playbook runs into one report directory at once: both reports kept, audit-latest.* of one run.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, VENV_BIN, ansible_environment, run_audit

# The name, set on the listening process itself (/proc/<pid>/comm is what netstat_facts reports).
HOSTILE = b"\x1b]0;PWN\x07\x1b[8m<b>"
NAMED_LISTENER = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(%r), 0, 0, 0)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
sys.stdin.readline()
""" % (HOSTILE,)


def controls_in(text):
    """Code points of C0 but line feed and tab, DEL and C1 in `text`."""
    return sorted(
        {"%02x" % ord(character) for character in text if (ord(character) < 0x20 and character not in "\n\t")}
        | {"%02x" % ord(character) for character in text if 0x7F <= ord(character) <= 0x9F}
    )


def test_process_named_with_controls_reaches_no_human_format(tmp_path):
    listener = subprocess.Popen(
        [sys.executable, "-c", NAMED_LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(listener.stdout.readline())
        with open("/proc/%d/comm" % listener.pid, "rb") as comm:
            assert comm.read() == HOSTILE + b"\n"  # the kernel kept all 15 bytes
        completed, report = run_audit(tmp_path, extra=["-e", "netdiag_audit_ports=[%d]" % port])
    finally:
        listener.stdin.close()
        listener.wait(timeout=30)
    assert completed.returncode == 0, completed.stdout[-4000:]
    [listening] = [item for item in report["hosts"]["localhost"]["netstat"]["listeners"] if item["local_port"] == port]
    assert listening["process"] == HOSTILE.decode()  # the JSON keeps the name as data
    markdown = (tmp_path / "audit-latest.md").read_bytes()
    page = (tmp_path / "audit-latest.html").read_bytes()
    assert controls_in(markdown.decode("utf-8")) == []
    assert sorted({byte for byte in markdown if byte < 0x20 or byte == 0x7F}) == [0x0A]
    assert b"| tcp | 127.0.0.1 | %d | \\x1b\\]0;PWN\\x07\\x1b\\[8m\\<b\\> (%d) |" % (port, listener.pid) in markdown
    assert controls_in(page.decode("utf-8")) == []
    assert b"<td>\\x1b]0;PWN\\x07\\x1b[8m&lt;b&gt; (%d)</td>" % listener.pid in page
    assert b"<b>" not in page
    # The printed summary (the debug task's output) carries neither ESC nor BEL.
    assert controls_in(completed.stdout) == []


def test_keep_1_after_an_audit_that_reached_no_host(tmp_path):
    reports = tmp_path / "reports"
    completed, _report = run_audit(reports, extra=["-e", "netdiag_report_keep=1"])
    assert completed.returncode == 0, completed.stdout[-4000:]
    good = {path.name: path.read_bytes() for path in reports.glob("audit-*")}
    # json, md, html and summary.json, stamped and as audit-latest.*, and audit-latest.prom
    assert len(good) == 9
    inventory = tmp_path / "down.yml"
    # Nothing listens on loopback port 1: refused at once, never leaves this machine.
    inventory.write_text(
        json.dumps(
            {"all": {"hosts": {"down": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}}}}
        )
    )
    for fail_on in ("never", "critical"):
        completed = subprocess.run(
            [
                str(VENV_BIN / "ansible-playbook"),
                "playbooks/audit.yml",
                "-i",
                str(inventory),
                "-e",
                "netdiag_report_dir=%s" % reports,
                "-e",
                "netdiag_report_keep=1",
                "-e",
                "netdiag_fail_on=%s" % fail_on,
            ],
            cwd=REPO,
            env=ansible_environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 2, completed.stdout[-4000:]
        assert "no host was audited (down unreachable: " in completed.stdout
        assert "audit-latest.* was not replaced" in completed.stdout
    # The good set and audit-latest.* as they were; the failed runs' reports beside them, the newest kept.
    assert {path.name: path.read_bytes() for path in reports.glob("audit-*") if "-failed." not in path.name} == good
    failed = sorted(path.name for path in reports.glob("audit-*-failed.*"))
    assert [name.split("Z-failed.", 1)[1] for name in failed] == ["html", "json", "md", "summary.json"]
    assert json.loads((reports / failed[1]).read_text())["hosts"]["down"]["status"] == "unreachable"


def test_two_playbook_runs_into_one_directory_at_once(tmp_path):
    # Two inventories, one host each (this machine under two names): each run's report names its own host, so a
    # file of one run is told from the other's whatever second they started in.
    reports = tmp_path / "reports"
    runs = []
    for name in ("first", "second"):
        inventory = tmp_path / ("%s.yml" % name)
        inventory.write_text(
            json.dumps(
                {
                    "all": {
                        "hosts": {
                            name: {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": str(VENV_BIN / "python"),
                            }
                        }
                    }
                }
            )
        )
        command = [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/audit.yml",
            "-i",
            str(inventory),
            "-e",
            "netdiag_report_dir=%s" % reports,
        ]
        runs.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=ansible_environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for run in runs:
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 0, output[-4000:]
    stamped = sorted(path.name for path in reports.glob("audit-2*"))
    assert len(stamped) == 8  # both reports kept (json, md, html, summary.json each)
    by_host = {}
    for name in stamped:
        if name.endswith(".json") and not name.endswith(".summary.json"):
            [host] = json.loads((reports / name).read_text())["hosts"]
            by_host[host] = name[len("audit-") : -len(".json")]
    assert sorted(by_host) == ["first", "second"]
    # audit-latest.* is the four files of one run.
    [latest_host] = json.loads((reports / "audit-latest.json").read_text())["hosts"]
    for extension in ("json", "md", "html", "summary.json"):
        assert (reports / ("audit-latest." + extension)).read_bytes() == (
            reports / ("audit-%s.%s" % (by_host[latest_host], extension))
        ).read_bytes()
