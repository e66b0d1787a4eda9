# SPDX-License-Identifier: GPL-3.0-or-later
"""Outputs people really paste into tickets (tests/unit/fixtures, sources in SOURCES.md): net-tools netstat run
without root (the "(Not all processes could be identified ...)" note above the table), ss with a state filter (no
State column, service names without -n), ss rows whose extra fields went onto a continuation line, and pfiles
naming a process as it was started."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import ss as linux_ss
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import pfiles as sunos_pfiles


def rows(result, *keys):
    return [tuple(connection.get(key) for key in keys) for connection in result["connections"]]


# --- netstat without root -------------------------------------------------------------------------------------


def test_netstat_nlpt_as_a_user_parses_with_the_note_above_the_header(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-nlpt-nonroot-1.txt"))
    assert result["state_counts"]["LISTEN"] == 6
    # Other users' sockets show "-": their owner is unknown, the user's own ones keep pid and program.
    assert rows(result, "local_port", "pid", "process") == [
        (22, None, None),
        (34985, 32701, "java"),
        (2181, 31970, "java"),
        (32963, 31970, "java"),
        (22, None, None),
        (9092, 32701, "java"),
    ]


def test_netstat_polentau_as_a_user_keeps_users_inodes_and_timers(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-polentau-nonroot-1.txt"))
    assert result["state_counts"]["LISTEN"] == 11 and result["state_counts"]["SYN_SENT"] == 1
    assert result["protocol_counts"] == {"tcp": 12, "udp": 2}
    syn_sent = next(c for c in result["connections"] if c["state"] == "SYN_SENT")
    assert (syn_sent["remote_address"], syn_sent["remote_port"], syn_sent["uid"], syn_sent.get("pid")) == (
        "1.1.1.1",
        53,
        101,
        None,
    )


def test_netstat_grep_excerpt_with_the_note_and_no_header(fixture_text):
    result = linux_netstat.parse(fixture_text("linux/netstat-tunp-grep-nonroot-1.txt"))
    assert result["state_counts"]["ESTABLISHED"] == 4
    assert set(rows(result, "local_port", "pid", "process", "keepalive")) == {(3334, 12805, "p1", None)}


def test_netstat_tanpo_no_info_note_keeps_the_keepalive_timers(fixture_text):
    # "(No info could be read for "-p": geteuid()=65534 but you should be root.)": one line, no owner at all.
    result = linux_netstat.parse(fixture_text("linux/netstat-tanpo-nonroot-1.txt"))
    assert result["state_counts"]["ESTABLISHED"] == 12 and result["state_counts"]["TIME_WAIT"] == 2
    assert all(connection.get("pid") is None for connection in result["connections"])
    clients = [c for c in result["connections"] if c["state"] == "ESTABLISHED" and c["remote_port"] == 5555]
    assert sorted((c["local_port"], c["keepalive"]) for c in clients) == [
        (46086, True),
        (46088, True),
        (46100, False),
        (46108, False),
    ]


def test_a_note_is_two_lines_at_most():
    # A parenthesised line is skipped with at most the line after it: a table row further down is still read.
    text = "(Not all processes could be identified, non-owned process info\n will not be shown\ngarbage row\n"
    with pytest.raises(ParseError) as error:
        linux_netstat.parse(text)
    assert error.value.line_number == 3


# --- ss with a state filter -----------------------------------------------------------------------------------


def test_ss_state_established_without_state_column_and_with_service_names(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-to-state-established-1.txt"), state="established")
    assert result["state_counts"]["ESTABLISHED"] == 12
    # "https" was printed for 443 (no -n).
    assert sorted(p["service_port"] for p in result["established_by_peer"]) == [443, 443, 5555, 5555]
    keepalive = sorted((c["local_port"], c["keepalive"]) for c in result["connections"] if c["remote_port"] == 5555)
    assert keepalive == [(46086, True), (46088, True), (46100, None), (46108, None)]


def test_ss_state_filter_state_is_required_when_there_is_no_state_column(fixture_text):
    with pytest.raises(ParseError) as error:
        linux_ss.parse(fixture_text("linux/ss-to-state-established-1.txt"))
    assert error.value.line_number == 2 and "state=established" in str(error.value)


def test_ss_state_time_wait(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-t-state-time-wait-1.txt"), state="time-wait")
    assert result["state_counts"]["TIME_WAIT"] == 2
    assert rows(result, "local_port", "remote_port", "state") == [
        (46120, 5555, "TIME_WAIT"),
        (46132, 5555, "TIME_WAIT"),
    ]


def test_ss_state_filter_with_owners_uid_inodes_and_timers(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tnpeo-state-established-1.txt"), state="ESTABLISHED")
    client = next(c for c in result["connections"] if c["local_port"] == 46086)
    assert (client["pid"], client["process"], client["inode"], client["keepalive"]) == (12825, "python3", 21797, True)


def test_ss_published_state_filter_with_netid_column(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-o-state-established-1.txt"), state="established")
    assert rows(result, "local_address", "remote_address", "remote_port", "state", "keepalive") == [
        ("10.0.0.4", "23.51.2.3", 443, "ESTABLISHED", True),
        ("10.0.0.4", "140.82.112.25", 443, "ESTABLISHED", True),
    ]


def test_ss_published_timer_on_a_line_of_its_own(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-o-state-established-2.txt"), state="established")
    assert rows(result, "local_port", "remote_address", "remote_port", "keepalive") == [(39874, "10.0.3.96", 22, True)]


@pytest.mark.parametrize("state", ["bogus", "ESTAB-LISHED"])
def test_ss_unknown_filter_state(state):
    with pytest.raises(ValueError, match="not an ss state"):
        linux_ss.parse("", state=state)


# --- ss continuation lines ------------------------------------------------------------------------------------


def test_ss_wrapped_users_timer_uid_and_inode(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-eipn-wrapped-1.txt"))
    (connection,) = result["connections"]
    assert (connection["pid"], connection["process"], connection["uid"], connection["inode"]) == (
        7268,
        "mysql",
        1000,
        13435670,
    )
    assert connection["keepalive"] is True and connection["remote_port"] == 3306


def test_ss_wrapped_timer_without_header(fixture_text):
    result = linux_ss.parse(fixture_text("linux/ss-tioen-wrapped-1.txt"))
    (connection,) = result["connections"]
    assert (connection["state"], connection["inode"], connection["keepalive"]) == ("ESTABLISHED", 184920, True)


def test_ss_continuation_belongs_to_the_row_above_only():
    text = (
        "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
        "ESTAB 0 0 10.0.0.2:48122 10.0.0.5:5432\n"
        "     timer:(keepalive,28sec,0) ino:1 sk:5c <->\n"
        "ESTAB 0 0 10.0.0.2:48124 10.0.0.5:5432\n"
    )
    result = linux_ss.parse(text)
    assert rows(result, "local_port", "inode", "keepalive") == [(48122, 1, True), (48124, None, None)]


# --- pfiles: the process as started ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "process"),
    [("sunos/pfiles-1.txt", "./main"), ("sunos/pfiles-4.txt", "/usr/sbin/ipmon")],
)
def test_pfiles_keeps_the_process_name_as_printed(fixture_text, name, process):
    result = sunos_pfiles.parse(fixture_text(name))
    assert result["process"] == process
    assert all(socket["process"] == process for socket in result["sockets"])


def test_pfiles_without_sockets_lists_the_process(fixture_text):
    result = sunos_pfiles.parse(fixture_text("sunos/pfiles-4.txt"))
    assert result["sockets"] == [] and result["other_sockets"] == []
    assert result["processes"] == [
        {"pid": 5336, "process": "/usr/sbin/ipmon", "command": "/usr/sbin/ipmon -Ds", "socket_count": 0}
    ]
