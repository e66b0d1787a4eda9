# SPDX-License-Identifier: GPL-3.0-or-later
"""The AIX collector with its command boundary (run_command, get_bin_path) replaced; every argv is asserted.

netstat, rmsock and no answers are real AIX captures (tests/unit/fixtures/aix, see SOURCES.md). The kdb answers
are synthetic, built in this file from the line formats of the real samples (IBM's sockinfo example and the 2012
incident's TCPT_KEEP/opts lines) plus the process-table row layout documented in aix_kdb_sockinfo.
"""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.collect import aix_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection

BINARIES = {
    "netstat": "/usr/bin/netstat",
    "kdb": "/usr/sbin/kdb",
    "rmsock": "/usr/sbin/rmsock",
    "no": "/usr/sbin/no",
    "lsof": "/opt/freeware/bin/lsof",
}
LSOF_ARGV = ["/opt/freeware/bin/lsof", "-nP", "-iTCP", "-FpcLnT"]
NO_ARGV = ["/usr/sbin/no", "-o", "tcp_keepidle", "-o", "tcp_keepintvl", "-o", "tcp_keepcnt"]
# The TCP sockets of netstat-Aan-1.txt that a process can hold, in table order (the two CLOSED ones are left out).
TCP_PCBS = [
    "f1000f000017e3c0",
    "f1000f0000287bc0",
    "f1000f000017f3c0",
    "f1000f00002d8bc0",
    "f1000f00055eabc0",
    "f1000f000561c3c0",
]
SSH_SESSION = "f1000f00002d8bc0"  # 192.168.242.122.22 <- 24.236.207.124.33236 ESTABLISHED
OUTBOUND_443 = "f1000f000561c3c0"


def kdb_section(pcb, state_code, state, keep_timer, opts, owner=None):
    """A synthetic kdb `sockinfo <pcb> tcpcb` answer in the line formats of the real samples."""
    lines = [
        "---- TCPCB ----(@ %s)----" % pcb.upper(),
        "    seg_next......@%s  seg_prev......@%s" % (pcb.upper(), pcb.upper()),
        "    t_softerror... 00000000 t_state....... %08X (%s)" % (state_code, state),
        "    t_timer....... 00000000 (TCPT_REXMT)",
        "    t_timer....... %08X (TCPT_KEEP)" % keep_timer,
        "---- SOCKET INFO ----(@ %s)----" % pcb.upper()[:-3] + "008",
        "    opts........ %s" % opts,
    ]
    if owner:
        pid, name, fd = owner
        lines += [
            "proc/fd:  65/%d" % fd,
            "              SLOT NAME     STATE      PID    PPID          ADSPACE  CL #THS",
            "pvproc+010400   65*%-8s ACTIVE %07X 0000001 0000000000000000    0 0001" % (name, pid),
        ]
    return "\n".join(lines) + "\n"


class FakeHost:
    """The command boundary: records every argv (and stdin), answers from a table of argv prefixes."""

    def __init__(self, fixture_text, answers=None, missing=()):
        self.calls = []
        self.missing = set(missing)
        banner = fixture_text("aix/kdb-banner-1.txt")
        self.answers = {
            ("/usr/bin/netstat", "-Aan"): (0, fixture_text("aix/netstat-Aan-1.txt"), ""),
            ("/usr/sbin/kdb",): (
                0,
                banner
                + "(0)> sockinfo %s tcpcb\n" % SSH_SESSION
                + kdb_section(SSH_SESSION, 4, "ESTABLISHED", 0, "0004 (REUSEADDR)", owner=(3211434, "sshd", 5))
                + kdb_section("f1000f0000287bc0", 1, "LISTEN", 0, "000E (ACCEPTCONN|REUSEADDR|KEEPALIVE)")
                + "(0)> \n",
                "",
            ),
            tuple(NO_ARGV): (0, "             tcp_keepidle = 14400\n            tcp_keepintvl = 150\n"
                             "              tcp_keepcnt = 8\n", ""),
        }  # fmt: skip
        self.answers.update(answers or {})

    def get_bin_path(self, name):
        return None if name in self.missing else BINARIES.get(name)

    def run_command(self, argv, data=None):
        self.calls.append((list(argv), data))
        for length in range(len(argv), 0, -1):
            answer = self.answers.get(tuple(argv[:length]))
            if answer is not None:
                return answer
        return 1, "", "unexpected command %s" % argv

    def argvs(self):
        return [argv for argv, _data in self.calls]

    def collector(self, is_root=True, **options):
        check_mode = options.pop("check_mode", False)
        return aix_sockets.AixNetstatCollector(
            self.run_command, self.get_bin_path, options=options, check_mode=check_mode, is_root=is_root
        )


def by_pcb(netstat):
    return {connection["pcb"]: connection for connection in netstat["connections"]}


def test_default_runs_netstat_kdb_and_no_never_rmsock(fixture_text):
    host = FakeHost(fixture_text)
    netstat, keepalive = host.collector().collect(Selection())
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"], ["/usr/sbin/kdb"], NO_ARGV]
    # One kdb process for every selected socket, asked through standard input.
    assert host.calls[1][1] == "".join("sockinfo %s tcpcb\n" % pcb for pcb in TCP_PCBS) + "quit\n"
    assert netstat["platform"] == "AIX"
    assert netstat["sources"] == ["/usr/bin/netstat -Aan"]
    assert netstat["total_sockets"] == 11
    session = by_pcb(netstat)[SSH_SESSION]
    assert (session["local_port"], session["remote_address"], session["state"]) == (22, "24.236.207.124", "ESTABLISHED")
    assert (session["pid"], session["process"], session["keepalive"]) == (3211434, "sshd", False)
    assert by_pcb(netstat)["f1000f0000287bc0"]["keepalive"] is True  # opts KEEPALIVE
    # kdb did not answer for the outbound socket (it was not in the synthetic answer): unknown, not guessed.
    outbound = by_pcb(netstat)[OUTBOUND_443]
    assert "pid" not in outbound and outbound["keepalive"] is None
    assert netstat["owner_method"]["name"] == "kdb" and netstat["owner_method"]["ran"] is True
    assert netstat["owner_method"]["sockets_found"] == 2
    assert netstat["established_without_keepalive"] == 1
    assert keepalive == {
        "time": 7200,
        "intvl": 75,
        "probes": 8,
        "source": " ".join(NO_ARGV),
        "tcp_keepidle": 14400,
        "tcp_keepintvl": 150,
        "tcp_keepcnt": 8,
    }


def test_selection_limits_what_kdb_is_asked(fixture_text):
    host = FakeHost(fixture_text)
    netstat, _keepalive = host.collector().collect(Selection(ports=[22], states=["ESTABLISHED"]))
    assert host.calls[1] == (["/usr/sbin/kdb"], "sockinfo %s tcpcb\nquit\n" % SSH_SESSION)
    assert [c["pcb"] for c in netstat["connections"]] == [SSH_SESSION]


def test_max_connections_caps_the_lookups(fixture_text):
    host = FakeHost(fixture_text)
    host.collector().collect(Selection(), max_connections=2)
    assert host.calls[1][1] == "sockinfo %s tcpcb\nsockinfo %s tcpcb\nquit\n" % tuple(TCP_PCBS[:2])


def test_without_root_kdb_is_not_run_and_the_reason_is_given(fixture_text):
    host = FakeHost(fixture_text, missing=["lsof"])
    netstat, keepalive = host.collector(is_root=False).collect(Selection())
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"], NO_ARGV]
    assert netstat["owner_method"]["name"] is None
    assert netstat["owner_method"]["reason"] == "kdb sockinfo needs root (become); lsof: command not found"
    assert keepalive["time"] == 7200
    assert all("pid" not in connection for connection in netstat["connections"])


# Synthetic AIX netstat rows for the sockets of the real lsof capture (lsof/lsof-nP-iTCP-FpcLnT-1.txt).
NETSTAT_OF_LSOF_SAMPLE = (
    "f1000f0000001000 tcp4       0      0  *.5555                *.*                   LISTEN\n"
    "f1000f0000002000 tcp6       0      0  ::1.6010              *.*                   LISTEN\n"
    "f1000f0000003000 tcp4       0      0  127.0.0.1.36596       127.0.0.1.5555        ESTABLISHED\n"
    "f1000f0000004000 tcp4       0      0  127.0.0.1.5555        127.0.0.1.36596       ESTABLISHED\n"
    "f1000f0000005000 tcp4       0      0  127.0.0.1.40000       127.0.0.1.5555        ESTABLISHED\n"
)


def test_lsof_gives_owners_when_kdb_cannot_run(fixture_text):
    host = FakeHost(
        fixture_text,
        answers={
            ("/usr/bin/netstat", "-Aan"): (0, NETSTAT_OF_LSOF_SAMPLE, ""),
            tuple(LSOF_ARGV): (0, fixture_text("lsof/lsof-nP-iTCP-FpcLnT-1.txt"), ""),
        },
    )
    netstat, _keepalive = host.collector(is_root=False).collect(Selection(ports=[5555, 6010]))
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"], LSOF_ARGV, NO_ARGV]
    method = netstat["owner_method"]
    assert (method["name"], method["ran"], method["sockets"], method["sockets_found"]) == ("lsof", True, 5, 4)
    assert method["reason"] == "kdb sockinfo needs root (become)"
    owners = {c["pcb"]: (c.get("pid"), c.get("process"), c.get("user")) for c in netstat["connections"]}
    assert owners == {
        "f1000f0000001000": (15803, "python3", "root"),
        "f1000f0000002000": (15803, "python3", "root"),
        "f1000f0000003000": (15803, "python3", "root"),
        "f1000f0000004000": (15803, "python3", "root"),
        "f1000f0000005000": (None, None, None),  # no such socket in lsof's answer: unknown, not guessed
    }
    assert all(c["keepalive"] is None for c in netstat["connections"])  # lsof does not show SO_KEEPALIVE


def test_lsof_that_finds_nothing_is_not_an_error(fixture_text):
    host = FakeHost(fixture_text, answers={tuple(LSOF_ARGV): (1, "", "")})
    netstat, _keepalive = host.collector(is_root=False).collect(Selection())
    assert netstat["owner_method"]["name"] == "lsof" and netstat["owner_method"]["sockets_found"] == 0


def test_owners_false_runs_no_owner_method(fixture_text):
    host = FakeHost(fixture_text)
    netstat, _keepalive = host.collector().collect(Selection(), owners=False)
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"], NO_ARGV]
    assert "owner_method" not in netstat


def test_missing_kdb_is_named(fixture_text):
    host = FakeHost(fixture_text, missing=["kdb", "lsof"])
    netstat, _keepalive = host.collector().collect(Selection())
    assert netstat["owner_method"]["name"] is None
    assert netstat["owner_method"]["reason"] == "kdb: command not found; lsof: command not found"
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"], NO_ARGV]


def test_failing_netstat_is_an_error_naming_the_command(fixture_text):
    host = FakeHost(fixture_text, answers={("/usr/bin/netstat", "-Aan"): (2, "", "netstat: not permitted\n")})
    with pytest.raises(
        aix_sockets.CommandError, match=r"/usr/bin/netstat -Aan failed \(rc=2\): netstat: not permitted"
    ):
        host.collector().collect(Selection())
    assert host.argvs() == [["/usr/bin/netstat", "-Aan"]]  # nothing else ran


def test_missing_netstat_is_named(fixture_text):
    host = FakeHost(fixture_text, missing=["netstat"])
    with pytest.raises(aix_sockets.CommandError, match="netstat: command not found"):
        host.collector().collect(Selection())
    assert host.calls == []


def test_keepalive_falls_back_to_no_a_with_real_output(fixture_text):
    host = FakeHost(
        fixture_text,
        answers={
            tuple(NO_ARGV): (1, "", "no: option -o is not supported\n"),
            ("/usr/sbin/no", "-a"): (0, fixture_text("aix/no-a-1.txt"), ""),
        },
    )
    _netstat, keepalive = host.collector(is_root=False).collect(Selection())
    assert host.argvs()[-2:] == [NO_ARGV, ["/usr/sbin/no", "-a"]]
    assert (keepalive["time"], keepalive["intvl"], keepalive["probes"]) == (7200, 75, 8)
    assert keepalive["source"] == "/usr/sbin/no -a"


def test_keepalive_unreadable_says_why(fixture_text):
    host = FakeHost(fixture_text, missing=["no"])
    _netstat, keepalive = host.collector().collect(Selection())
    # The same keys as when no was read (one schema), every value unknown.
    assert keepalive == {
        "time": None,
        "intvl": None,
        "probes": None,
        "source": None,
        "tcp_keepidle": None,
        "tcp_keepintvl": None,
        "tcp_keepcnt": None,
        "error": "no: command not found",
    }


def rmsock_answers(fixture_text):
    return {
        ("/usr/sbin/rmsock", SSH_SESSION): (0, fixture_text("aix/rmsock-1.txt").splitlines()[0] + "\n", ""),
        ("/usr/sbin/rmsock", "f1000f0000287bc0"): (0, fixture_text("aix/rmsock-2.txt"), ""),
        ("/usr/sbin/rmsock", "f1000f000017f3c0"): (0, fixture_text("aix/rmsock-3.txt"), ""),
        ("/usr/sbin/rmsock", "f1000f000017e3c0"): (1, fixture_text("aix/rmsock-6.txt"), ""),
    }


def test_rmsock_runs_only_on_the_selected_sockets(fixture_text):
    host = FakeHost(fixture_text, answers=rmsock_answers(fixture_text))
    collector = host.collector(aix_rmsock=True)
    netstat, _keepalive = collector.collect(Selection(ports=[22], states=["ESTABLISHED"]))
    rmsock_calls = [argv for argv in host.argvs() if argv[0] == "/usr/sbin/rmsock"]
    assert rmsock_calls == [["/usr/sbin/rmsock", SSH_SESSION, "tcpcb"]]
    assert collector.changed is False
    result = collector.aix["rmsock"]
    assert result["removed"] == [] and result["held_by_counts"]["process"] == 1
    assert by_pcb(netstat)[SSH_SESSION]["rmsock"] == "process"


def test_rmsock_owners_land_on_connections_and_removal_changes(fixture_text):
    host = FakeHost(fixture_text, answers=rmsock_answers(fixture_text))
    collector = host.collector(is_root=True, aix_rmsock=True)
    netstat, _keepalive = collector.collect(Selection(ports=[22, 25]), owners=False)
    assert [argv for argv in host.argvs() if argv[0] == "/usr/sbin/rmsock"] == [
        ["/usr/sbin/rmsock", pcb, "tcpcb"] for pcb in ("f1000f000017e3c0", "f1000f0000287bc0", "f1000f000017f3c0")
    ] + [["/usr/sbin/rmsock", SSH_SESSION, "tcpcb"]]
    result = collector.aix["rmsock"]
    assert result["removed"] == ["f1000f000017f3c0"]
    assert result["held_by_counts"] == {"process": 1, "kernel": 1, "removed": 1, "error": 1}
    assert collector.changed is True
    connections = by_pcb(netstat)
    assert (connections[SSH_SESSION]["pid"], connections[SSH_SESSION]["process"]) == (3211434, "writesrv")
    assert connections["f1000f0000287bc0"]["rmsock"] == "kernel"
    assert connections["f1000f000017f3c0"]["rmsock"] == "removed"
    error = [r for r in result["results"] if r["held_by"] == "error"][0]
    assert (error["pcb"], error["errno"]) == ("f1000f000017e3c0", 22)


def test_rmsock_respects_max_connections(fixture_text):
    host = FakeHost(fixture_text, answers=rmsock_answers(fixture_text))
    host.collector(aix_rmsock=True).collect(Selection(), max_connections=1, owners=False)
    assert [argv for argv in host.argvs() if argv[0] == "/usr/sbin/rmsock"] == [
        ["/usr/sbin/rmsock", TCP_PCBS[0], "tcpcb"]
    ]


def test_rmsock_in_check_mode_only_says_what_would_run(fixture_text):
    host = FakeHost(fixture_text, answers=rmsock_answers(fixture_text))
    collector = host.collector(aix_rmsock=True, check_mode=True)
    collector.collect(Selection(ports=[22]))
    assert not [argv for argv in host.argvs() if argv[0] == "/usr/sbin/rmsock"]
    assert collector.changed is False
    assert collector.aix["rmsock"]["ran"] is False
    assert collector.aix["rmsock"]["would_run"] == [
        ["/usr/sbin/rmsock", pcb, "tcpcb"] for pcb in ("f1000f000017e3c0", "f1000f0000287bc0", SSH_SESSION)
    ]


def test_unparsable_rmsock_answer_is_an_error_result(fixture_text):
    host = FakeHost(fixture_text, answers={("/usr/sbin/rmsock", SSH_SESSION): (1, "", "rmsock: not found\n")})
    collector = host.collector(aix_rmsock=True)
    collector.collect(Selection(ports=[22], states=["ESTABLISHED"]), owners=False)
    [result] = collector.aix["rmsock"]["results"]
    assert result["held_by"] == "error"
    assert "rc=1 rmsock: not found" in result["error"]
    assert collector.changed is False


def test_protocol_and_family_filters(fixture_text):
    host = FakeHost(fixture_text)
    netstat, _keepalive = host.collector().collect(Selection(), protocols=("udp",), owners=False)
    assert netstat["protocol_counts"] == {"tcp": 0, "udp": 3}
    netstat, _keepalive = host.collector().collect(Selection(), families=("inet6",), owners=False)
    assert {c["local_address"] for c in netstat["connections"]} == {"*", "::1"}


@pytest.mark.parametrize(("value", "seconds"), [(14400, 7200), (150, 75), (15, 7.5), ("{}", None), (None, None)])
def test_half_seconds(value, seconds):
    assert aix_no.half_seconds(value) == seconds


def test_ibm_technote_fin_wait_1_socket_is_removed(fixture_text):
    # The real pair of IBM technote isg3T1019570: the FIN_WAIT_1 row and rmsock's answer for its PCB.
    host = FakeHost(
        fixture_text,
        answers={
            ("/usr/bin/netstat", "-Aan"): (0, fixture_text("aix/netstat-Aan-4.txt"), ""),
            ("/usr/sbin/rmsock", "f1000e000258d3b8"): (0, fixture_text("aix/rmsock-3.txt"), ""),
        },
    )
    collector = host.collector(aix_rmsock=True)
    netstat, _keepalive = collector.collect(Selection(ports=[23]), owners=False)
    assert [argv for argv in host.argvs() if argv[0] == "/usr/sbin/rmsock"] == [
        ["/usr/sbin/rmsock", "f1000e000258d3b8", "tcpcb"]
    ]
    [connection] = netstat["connections"]
    assert (connection["state"], connection["remote_port"], connection["rmsock"]) == ("FIN_WAIT_1", 23, "removed")
    assert collector.aix["rmsock"]["removed"] == ["f1000e000258d3b8"]
    assert collector.aix["rmsock"]["results"][0]["socket"] == "0x258d008"
    assert collector.changed is True


def test_time_wait_goes_to_rmsock_but_not_to_kdb(fixture_text):
    # TIME_WAIT is one of rmsock's candidates (IBM technote isg3T1019570); no process holds it, kdb has no owner.
    text = fixture_text("aix/netstat-Aan-4.txt").replace("FIN_WAIT_1", "TIME_WAIT")
    host = FakeHost(fixture_text, answers={("/usr/bin/netstat", "-Aan"): (0, text, "")})
    collector = host.collector(aix_rmsock=True, check_mode=True)
    netstat, _keepalive = collector.collect(Selection())
    assert ["/usr/sbin/kdb"] not in host.argvs()
    assert netstat["owner_method"]["reason"] == "no selected TCP socket that a process can hold"
    assert collector.aix["rmsock"]["would_run"] == [["/usr/sbin/rmsock", "f1000e000258d3b8", "tcpcb"]]
