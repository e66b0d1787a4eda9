# SPDX-License-Identifier: GPL-3.0-or-later
"""aix_kdb_sockinfo on IBM's documented sockinfo example, the kdb banner and the seed incident's grep lines."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError

# The seed incident's lines (incident-2012.txt), including the author's "==>" note after the timer field.
SEED = (
    '(0)> sockinfo f10000f0076f3358 tcpcb |grep -E "KEEP|opts"\n'
    "    t_timer....... 00000000 (TCPT_KEEP)  ==> keep-alive對應的timer(TCPT_KEEP)數值為0,表示沒有設置timer時間\n"
    "    opts........ 0004 (REUSEADDR)\n"
    "(0)>\n"
)


def test_ibm_documented_example(fixture_text):
    result = aix_kdb_sockinfo.parse(fixture_text("aix/kdb-sockinfo-1.txt"))
    assert result["state"] == "LISTEN"
    assert result["state_code"] == 1
    assert result["timers"] == {"TCPT_REXMT": 0}
    assert result["tcpcb"] == "0xf1000610003f0360"
    assert result["options"] == []
    assert result["keepalive"] is None
    assert result["keepalive_evidence"] is None
    assert len(result["sockets"]) == 1


def test_seed_lines_after_kdb_banner(fixture_text):
    result = aix_kdb_sockinfo.parse(fixture_text("aix/kdb-banner-1.txt") + SEED)
    assert result["timers"] == {"TCPT_KEEP": 0}
    assert result["options"] == ["REUSEADDR"]
    assert result["options_code"] == 4
    assert result["keepalive"] is False
    assert result["keepalive_evidence"] == "options"
    assert result["state"] is None


def test_keepalive_from_options_bit_and_names():
    by_name = aix_kdb_sockinfo.parse("    opts........ 010C (REUSEADDR|KEEPALIVE|OOBINLINE)\n")
    assert by_name["options"] == ["REUSEADDR", "KEEPALIVE", "OOBINLINE"]
    assert by_name["keepalive"] is True
    by_bit = aix_kdb_sockinfo.parse("    opts........ 0008\n")
    assert by_bit["options"] == []
    assert by_bit["keepalive"] is True


def test_keepalive_from_timer_only_in_synchronized_states():
    established = (
        "    t_softerror... 00000000 t_state....... 00000004 (ESTABLISHED)\n"
        "    t_timer....... 00000000 (TCPT_REXMT)\n"
        "    t_timer....... 00001C1E (TCPT_KEEP)\n"
    )
    result = aix_kdb_sockinfo.parse(established)
    assert result["state"] == "ESTABLISHED"
    assert result["timers"] == {"TCPT_REXMT": 0, "TCPT_KEEP": 0x1C1E}
    assert result["keepalive"] is True
    assert result["keepalive_evidence"] == "timer"
    # In SYN_SENT the same timer is the connection-establishment timeout: no evidence either way.
    syn_sent = established.replace("00000004 (ESTABLISHED)", "00000002 (SYN_SENT)")
    assert aix_kdb_sockinfo.parse(syn_sent)["keepalive"] is None
    # Options win over the timer.
    with_options = established + "    opts........ 0004 (REUSEADDR)\n"
    assert aix_kdb_sockinfo.parse(with_options)["keepalive"] is False


def test_two_sockets_in_one_capture():
    text = (
        "---- TCPCB ----(@ F1000610003F0360)----\n"
        "    t_softerror... 00000000 t_state....... 00000004 (ESTABLISHED)\n"
        "---- SOCKET INFO ----(@ F1000610003F0000)----\n"
        "    opts........ 0008 (KEEPALIVE)\n"
        "---- TCPCB ----(@ F1000610003F1B60)----\n"
        "    t_softerror... 00000000 t_state....... 00000005\n"
        "---- SOCKET INFO ----(@ F1000610003F1800)----\n"
        "    opts........ 0000 ()\n"
    )
    result = aix_kdb_sockinfo.parse(text)
    assert [(s["tcpcb"], s["socket"], s["state"], s["keepalive"]) for s in result["sockets"]] == [
        ("0xf1000610003f0360", "0xf1000610003f0000", "ESTABLISHED", True),
        ("0xf1000610003f1b60", "0xf1000610003f1800", "CLOSE_WAIT", False),
    ]
    assert result["state"] == "ESTABLISHED"


@pytest.mark.parametrize(
    ("text", "line_number"),
    [("(0)>\nhello\n", 2), ("", 1), ("           START              END <name>\nsomething else\n", 2)],
)
def test_text_without_fields_names_a_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        aix_kdb_sockinfo.parse(text)
    assert caught.value.format_name == "aix_kdb_sockinfo"
    assert caught.value.line_number == line_number


def test_banner_alone_is_an_error(fixture_text):
    with pytest.raises(ParseError):
        aix_kdb_sockinfo.parse(fixture_text("aix/kdb-banner-1.txt"))


# Synthetic: the section and field lines of the real samples, the process-table row layout that
# aix_kdb_sockinfo documents (kdb prints PID and PPID in hex: 0x3100AA = 3211434, the writesrv pid rmsock named).
PIPED_KDB = (
    "(0)> ---- TCPCB ----(@ F1000E0000180BB8)----\n"
    "    t_softerror... 00000000 t_state....... 00000004 (ESTABLISHED)\n"
    "    t_timer....... 00000000 (TCPT_KEEP)\n"
    "---- SOCKET INFO ----(@ F1000E0000180808)----\n"
    "    opts........ 0004 (REUSEADDR)\n"
    "proc/fd:  65/4\n"
    "proc/fd: fd: 4\n"
    "              SLOT NAME     STATE      PID    PPID          ADSPACE  CL #THS\n"
    "\n"
    "pvproc+010400   65*writesrv ACTIVE 03100AA 02C0082 00000008B0D9F480    0 0001\n"
    "(0)> sockinfo f1000e0000190bb8 tcpcb\n"
    "---- TCPCB ----(@ F1000E0000190BB8)----\n"
    "    t_softerror... 00000000 t_state....... 00000009 (FIN_WAIT_2)\n"
    "(0)> quit\n"
)


def test_owner_rows_and_prompts_on_the_output_line():
    result = aix_kdb_sockinfo.parse(PIPED_KDB)
    first, second = result["sockets"]
    assert (first["tcpcb"], first["state"], first["keepalive"]) == ("0xf1000e0000180bb8", "ESTABLISHED", False)
    assert (first["pid"], first["process"]) == (3211434, "writesrv")
    assert first["owners"] == [{"pid": 3211434, "process": "writesrv", "fd": 4}]
    # A socket no process holds has no owner rows: unknown owner, not the previous socket's.
    assert (second["tcpcb"], second["state"], second["pid"], second["owners"]) == (
        "0xf1000e0000190bb8",
        "FIN_WAIT_2",
        None,
        [],
    )
