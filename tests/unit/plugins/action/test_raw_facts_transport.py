# SPDX-License-Identifier: GPL-3.0-or-later
"""raw_facts' transport over Ansible's real `local` connection (ansible_connection: local).

Standard input reaches the command as bytes (the local connection passes it to Popen.communicate: text failed with
"memoryview: a bytes-like object is required", which broke raw-mode AIX, whose kdb reads its subcommands from
stdin). kdb here is the EMULATED AIX kdb of tests/emulation/aix (a script printing this machine's real sockets in
kdb's format), run under the name kdb so that raw mode's read-only check applies to it. Output bytes that are not
UTF-8 come back replaced by U+FFFD, never as surrogates.
"""

from __future__ import annotations

import pathlib
import socket
import sys

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader

from ansible_collections.netdiag.tcp.plugins.action.raw_facts import ActionModule
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.raw_commands import Runner

REPO = pathlib.Path(__file__).resolve().parents[4]
EMULATION = REPO / "tests" / "emulation" / "aix" / "root" / "usr" / "local" / "lib" / "netdiag-emulation"


@pytest.fixture(scope="module")
def raw_facts_action():
    context = PlayContext()
    connection = connection_loader.get("local", context)
    assert connection is not None
    return ActionModule(
        task=Task.load({"action": "ansible.builtin.raw"}),
        connection=connection,
        play_context=context,
        loader=DataLoader(),
        templar=None,
        shared_loader_obj=None,
    )


def test_standard_input_reaches_the_command(raw_facts_action):
    assert raw_facts_action._transport("cat", "sockinfo f1000f0076f3358 tcpcb\nquit\n") == (
        0,
        "sockinfo f1000f0076f3358 tcpcb\nquit\n",
        "",
    )


def test_emulated_kdb_reads_a_real_socket_over_the_local_connection(raw_facts_action, tmp_path):
    sys.path.insert(0, str(EMULATION))
    try:
        import aix_emulation
    finally:
        sys.path.remove(str(EMULATION))
    kdb = tmp_path / "kdb"
    kdb.write_text('#!/bin/sh\nexec "%s" "%s/aix_kdb.py" "$@"\n' % (sys.executable, EMULATION))
    kdb.chmod(0o755)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        pcb = next(item.pcb for item in aix_emulation.sockets() if item.local_port == port)
        run = Runner(raw_facts_action._transport)
        rc, stdout, stderr = run(str(kdb), "sockinfo %s tcpcb\nquit\n" % pcb)
    assert (rc, stderr) == (0, "")
    parsed = aix_kdb_sockinfo.parse(stdout)
    assert parsed["tcpcb"] == "0x" + pcb
    assert parsed["state"] == "LISTEN"
    assert "ACCEPTCONN" in parsed["options"]
    with pytest.raises(ValueError, match="kdb only to read sockets"):
        run(str(kdb), "mw %s 0\n" % pcb)


def test_bytes_that_are_not_utf8_are_replaced(raw_facts_action):
    rc, stdout, stderr = raw_facts_action._transport("printf 'web\\377\\376x\\n'; printf '\\377' >&2")
    assert (rc, stdout, stderr) == (0, "web\ufffd\ufffdx\n", "\ufffd")
    stdout.encode("utf-8")  # strict: a surrogate would raise here
