# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw mode over SSH on test hosts (tools/testhosts): a Linux host whose Python is removed, and the emulated AIX and
SunOS hosts (tests/emulation/aix and sunos: EMULATION, their commands print the host's real sockets in the
platform's format) whose Python interpreter is removed. The audit falls back to raw mode by itself, and the facts
(counts, pairs, findings) equal those module mode read from the same sockets just before Python was removed.

In between, the same hosts are captured the way a colleague would (the commands of docs/offline_analysis.md, run
on each host) and analysed with playbooks/analyze.yml: the facts those commands carry (keepalive settings, socket
tables, counts, pairs) equal module mode's and raw mode's field by field, apart from the fields that say how they
were read (mode, source, reader).

rawaix1 (198.51.100.162) and rawsol1 (198.51.100.164) listen on 5555; rawlnx1 (198.51.100.163) holds 12
connections to rawaix1 and 5 to rawsol1, no keepalive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, VENV_BIN

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (test hosts)")

TESTHOSTS = [sys.executable, str(REPO / "tools" / "testhosts" / "testhosts.py")]
AIX, LINUX, SUNOS = ("rawaix1", "198.51.100.162"), ("rawlnx1", "198.51.100.163"), ("rawsol1", "198.51.100.164")
SERVER = (
    "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('%s',5555))\ns.listen(64)\nheld=[]\nwhile True: held.append(s.accept()[0])\n"
)
CLIENTS = (
    "import socket,time\nc=[socket.create_connection(('198.51.100.162',5555),timeout=5) for _ in range(12)]\n"
    "c+=[socket.create_connection(('198.51.100.164',5555),timeout=5) for _ in range(5)]\n"
    "time.sleep(100000)\n"
)
INTERPRETERS = {
    AIX[0]: "/usr/local/bin/python-aix",
    SUNOS[0]: "/usr/local/bin/python-sunos",
    LINUX[0]: "/usr/bin/python3",
}
# Differs between two reads for reasons other than the sockets (processes that exist at the moment of the scan).
# Where and how the table was read differs by design (module mode: sock_diag; raw mode: /proc text over the
# connection); the facts read must not.
VOLATILE = ("owner_scan", "reader", "reader_fallback", "sources")


def run_testhosts(*arguments):
    return subprocess.run([*TESTHOSTS, *arguments], cwd=REPO, capture_output=True, text=True, check=True).stdout


def in_host(name, script):
    run_testhosts("shell", name, "/bin/sh", "-c", script)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rawhosts")
    created = []
    try:
        aix = json.loads(run_testhosts("create", "--emulate", "aix", "%s=%s" % AIX))
        created.append(AIX[0])
        json.loads(run_testhosts("create", "--emulate", "sunos", "%s=%s" % SUNOS))
        created.append(SUNOS[0])
        json.loads(run_testhosts("create", "%s=%s" % LINUX))
        created.append(LINUX[0])
        for name, address in (AIX, SUNOS):
            in_host(name, "nohup python3 -c %s >/dev/null 2>&1 &" % _quoted(SERVER % address))
            in_host(name, "for i in 1 2 3 4 5 6 7 8 9 10; do grep -q ' 0A ' /proc/net/tcp && break; sleep 0.5; done")
        in_host(LINUX[0], "nohup python3 -c %s >/dev/null 2>&1 &" % _quoted(CLIENTS))
        in_host(LINUX[0], "for i in $(seq 20); do [ $(grep -c ' 01 ' /proc/net/tcp) -ge 17 ] && break; sleep 0.5; done")
        yield directory, aix["private_key"]
    finally:
        if created:
            subprocess.run([*TESTHOSTS, "destroy", *created], cwd=REPO, capture_output=True, check=False)


def _quoted(text):
    return "'" + text.replace("'", "'\\''") + "'"


def audit(directory, key, name, interpreters):
    inventory = directory / ("inventory-%s.json" % name)
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        host: {
                            "ansible_host": address,
                            "ansible_user": "root",
                            "ansible_ssh_private_key_file": key,
                            "ansible_python_interpreter": interpreters[host],
                        }
                        for host, address in (AIX, LINUX, SUNOS)
                    }
                }
            }
        )
    )
    reports = directory / ("reports-" + name)
    environment = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False")
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/audit.yml",
            "-i",
            str(inventory),
            "-e",
            "netdiag_report_dir=%s" % reports,
            "-e",
            "netdiag_audit_ports=[5555]",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        check=False,
    )
    assert (reports / "audit-latest.json").exists(), completed.stdout[-4000:] + completed.stderr[-2000:]
    return completed, json.loads((reports / "audit-latest.json").read_text())


# Files of a capture folder per host (docs/offline_analysis.md) and the command that fills each, run on the host.
CAPTURE_COMMANDS = {
    AIX[0]: {
        "uname.txt": "uname -s",
        "netstat-Aan.txt": "netstat -Aan",
        "no-a.txt": "no -a",
    },
    SUNOS[0]: {
        "uname.txt": "uname -s",
        "netstat-an.txt": "netstat -anu",
        "ndd-tcp_keepalive_interval.txt": "ndd -get /dev/tcp tcp_keepalive_interval",
        "ndd-tcp_keepalive_abort_interval.txt": "ndd -get /dev/tcp tcp_keepalive_abort_interval",
    },
    LINUX[0]: {
        "proc-net-tcp.txt": "cat /proc/net/tcp",
        "proc-net-tcp6.txt": "cat /proc/net/tcp6",
        "proc-net-udp.txt": "cat /proc/net/udp",
        "proc-net-udp6.txt": "cat /proc/net/udp6",
        "sysctl.txt": "sysctl net.ipv4 net.netfilter",
    },
}
# Where each mode read a value, not the value: the keepalive section's source, the socket table's reader.
MODE_FIELDS = ("source",)


def capture(directory):
    """A capture folder of the three hosts, each file the output of its command run on the host."""
    folder = directory / "captures"
    for host, files in CAPTURE_COMMANDS.items():
        (folder / host).mkdir(parents=True)
        for name, command in files.items():
            (folder / host / name).write_text(run_testhosts("shell", host, "/bin/sh", "-c", command))
    return folder


def analyze(directory, folder):
    reports = directory / "reports-capture"
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/analyze.yml",
            "-e",
            "capture_dir=%s" % folder,
            "-e",
            "netdiag_report_dir=%s" % reports,
            "-e",
            "netdiag_audit_ports=[5555]",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    return json.loads((reports / "audit-latest.json").read_text())


def without(section, fields):
    return {key: value for key, value in section.items() if key not in fields}


def sockets(netstat):
    """What a socket table says about the sockets themselves, whoever read it: the counts, the peers and each
    connection's addresses, ports and state (owners and per-socket keepalive come from other commands - kdb,
    /proc/<pid>/fd - than the captured ones, and are compared between module and raw mode below)."""
    return {
        "state_counts": netstat["state_counts"],
        "protocol_counts": netstat.get("protocol_counts"),
        "established_by_peer": [
            (p["direction"], p["service_port"], p["peer"], p["count"]) for p in netstat["established_by_peer"]
        ],
        "connections": sorted(
            (c["protocol"], c["local_address"], c["local_port"], c["remote_address"], c["remote_port"], c["state"])
            for c in netstat["connections"]
        ),
        "tuples": netstat["established_tuples"]["count"],
    }


def stable(netstat):
    return {key: value for key, value in netstat.items() if key not in VOLATILE}


def test_raw_fallback_equals_module_mode(hosts):
    directory, key = hosts
    _completed, before = audit(directory, key, "module", INTERPRETERS)
    captured = analyze(directory, capture(directory))
    assert {name: (host["status"], host["mode"], host["errors"]) for name, host in captured["hosts"].items()} == {
        AIX[0]: ("ok", "capture", []),
        SUNOS[0]: ("ok", "capture", []),
        LINUX[0]: ("ok", "capture", []),
    }
    for name in (AIX[0], SUNOS[0], LINUX[0]):
        module_host, captured_host = before["hosts"][name], captured["hosts"][name]
        assert captured_host["platform"] == module_host["platform"]
        # One converter per platform: the same keepalive section, key by key, apart from where it was read.
        assert without(captured_host["keepalive"], MODE_FIELDS) == without(module_host["keepalive"], MODE_FIELDS)
        assert sockets(captured_host["netstat"]) == sockets(module_host["netstat"]), name
    assert captured["hosts"][LINUX[0]]["conntrack"]["timeouts"] == before["hosts"][LINUX[0]]["conntrack"]["timeouts"]
    assert [(p["client"], p["server"], p["client_count"], p["server_count"]) for p in captured["pairs"]] == [
        (p["client"], p["server"], p["client_count"], p["server_count"]) for p in before["pairs"]
    ]
    in_host(LINUX[0], "rm -f /usr/bin/python3 /usr/bin/python3.*")
    in_host(AIX[0], "rm -f /usr/local/bin/python-aix")
    in_host(SUNOS[0], "rm -f /usr/local/bin/python-sunos")
    completed, after = audit(directory, key, "raw", INTERPRETERS)
    assert {name: (host["status"], host["mode"]) for name, host in before["hosts"].items()} == {
        AIX[0]: ("ok", "module"),
        SUNOS[0]: ("ok", "module"),
        LINUX[0]: ("ok", "module"),
    }, json.dumps(before["hosts"], indent=1)[:4000]
    modes = {name: (host["status"], host["mode"]) for name, host in after["hosts"].items()}
    assert modes == {AIX[0]: ("ok", "raw"), SUNOS[0]: ("ok", "raw"), LINUX[0]: ("ok", "raw")}, json.dumps(
        after["hosts"], indent=1
    )[:4000]
    assert "(raw mode)" in completed.stdout

    linux_before, linux_after = before["hosts"][LINUX[0]], after["hosts"][LINUX[0]]
    assert [p["count"] for p in linux_after["netstat"]["established_by_peer"]] == [12, 5]
    assert stable(linux_after["netstat"]) == stable(linux_before["netstat"])
    assert linux_after["netstat"]["reader"] == "proc" and linux_before["netstat"]["reader"] in ("sock_diag", "proc")
    assert linux_after["keepalive"] == linux_before["keepalive"]

    aix_before, aix_after = before["hosts"][AIX[0]], after["hosts"][AIX[0]]
    assert aix_after["platform"] == "AIX"
    assert [
        (p["direction"], p["service_port"], p["peer"], p["count"]) for p in aix_after["netstat"]["established_by_peer"]
    ] == [("inbound", 5555, LINUX[1], 12)]
    assert [(p["client"], p["server"], p["client_count"], p["server_count"]) for p in after["pairs"]] == [
        (LINUX[0], AIX[0], 12, 12),
        (LINUX[0], SUNOS[0], 5, 5),
    ]
    assert stable(aix_after["netstat"]) == stable(aix_before["netstat"])
    assert aix_after["keepalive"] == aix_before["keepalive"]
    assert (aix_after["keepalive"]["time"], aix_after["keepalive"]["tcp_keepidle"]) == (7200, 14400)
    sunos_before, sunos_after = before["hosts"][SUNOS[0]], after["hosts"][SUNOS[0]]
    assert sunos_after["platform"] == "SunOS"
    assert stable(sunos_after["netstat"]) == stable(sunos_before["netstat"])
    assert sunos_after["keepalive"] == sunos_before["keepalive"]
    assert sunos_after["sunos"] == sunos_before["sunos"]
    assert after["pairs"] == before["pairs"]
    assert finding_keys(after) == finding_keys(before)


def finding_keys(report):
    return sorted((item["id"], item["host"], item["severity"]) for item in report["findings"])
