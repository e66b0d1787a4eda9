# SPDX-License-Identifier: GPL-3.0-or-later
"""The SunOS collector with its command boundary (run_command, get_bin_path) replaced by a fake host.

netstat, pfiles and ndd texts are the real captures under tests/unit/fixtures/sunos (SOURCES.md). Texts built
here are marked synthetic: they are in the layouts of the real tools but were not captured.
"""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import sunos_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection

BINARIES = {
    "netstat": "/usr/bin/netstat",
    "pfiles": "/usr/bin/pfiles",
    "ipadm": "/usr/sbin/ipadm",
    "ndd": "/usr/sbin/ndd",
    "connstat": "/usr/bin/connstat",
}
# Synthetic: what a netstat without -u prints (the usage text shape is Solaris 10's; rc 1 is what matters).
NO_U_OPTION = (1, "", "netstat: illegal option -- u\nusage: netstat [-anv] [-f address_family]\n")
# Synthetic ipadm tables in the layout of the real one in ipadm-show-prop-1.txt.
IPADM_HEADER = "PROTO PROPERTY              PERM CURRENT      PERSISTENT   DEFAULT      POSSIBLE\n"
IPADM_KEEPALIVE = (
    IPADM_HEADER + "tcp   _keepalive_interval   rw   600000       600000       7200000      10000-864000000\n"
)
IPADM_ABORT = IPADM_HEADER + "tcp   _keepalive_abort_interval rw 480000     --           480000       0-480000\n"


class FakeHost:
    """Answers argv tuples from a table; every call is recorded, an unexpected one fails the test."""

    def __init__(self, answers, binaries=None):
        self.answers = {tuple(argv): answer for argv, answer in answers.items()}
        self.binaries = dict(BINARIES if binaries is None else binaries)
        self.calls = []

    def run_command(self, argv):
        self.calls.append(list(argv))
        if tuple(argv) not in self.answers:
            raise AssertionError("unexpected command %r" % (argv,))
        return self.answers[tuple(argv)]

    def get_bin_path(self, name):
        return self.binaries.get(name)

    def ran(self, binary):
        return [call for call in self.calls if call[0] == BINARIES[binary]]


def keepalive_by_ipadm():
    return {
        ("/usr/sbin/ipadm", "show-prop", "-p", "_keepalive_interval", "tcp"): (0, IPADM_KEEPALIVE, ""),
        ("/usr/sbin/ipadm", "show-prop", "-p", "_keepalive_abort_interval", "tcp"): (0, IPADM_ABORT, ""),
    }


def collector(host, **options):
    return sunos_sockets.SunosNetstatCollector(host.run_command, host.get_bin_path, euid=0, **options)


def test_solaris_11_4_owners_and_keepalive_from_ipadm(fixture_text):
    answers = {("/usr/bin/netstat", "-anu"): (0, fixture_text("sunos/netstat-u-1.txt"), "")}
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers)
    sunos = collector(host)
    netstat, keepalive = sunos.collect(Selection(ports=[22]))
    assert host.calls[0] == ["/usr/bin/netstat", "-anu"]
    assert netstat["platform"] == "SunOS" and netstat["sources"] == ["/usr/bin/netstat -anu"]
    assert netstat["established_by_peer"] == [
        {"direction": "inbound", "service_port": 22, "peer": "203.0.113.70", "count": 1, "without_keepalive": 0}
    ]
    assert netstat["established_keepalive_unknown"] == 1  # netstat shows no SO_KEEPALIVE; pfiles did not run
    assert {(item["pid"], item["process"], item["user"]) for item in netstat["listeners"]} == {(771, "sshd", "root")}
    assert keepalive == {
        "time": 600,
        "intvl": None,
        "probes": None,
        "abort_interval": 480,
        "source": "ipadm show-prop tcp",
        "time_ms": 600000,
        "abort_interval_ms": 480000,
    }
    facts = sunos.sunos
    assert facts["owners"] == {"available": True, "source": "netstat -u", "reason": None, "sockets_without_owner": 0}
    assert facts["pfiles"]["ran"] is False and "sunos_pfiles is false" in facts["pfiles"]["reason"]
    assert host.ran("pfiles") == []


def test_solaris_10_falls_back_to_an_and_ndd(fixture_text):
    host = FakeHost(
        {
            ("/usr/bin/netstat", "-anu"): NO_U_OPTION,
            ("/usr/bin/netstat", "-an"): (0, fixture_text("sunos/netstat-an-1.txt"), ""),
            ("/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_interval"): (
                0,
                fixture_text("sunos/ndd-keepalive-1.txt"),
                "",
            ),
            ("/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_abort_interval"): (1, "", "ndd: unknown\n"),
        },
        binaries={key: value for key, value in BINARIES.items() if key != "ipadm"},
    )
    sunos = collector(host)
    netstat, keepalive = sunos.collect(Selection())
    assert [call[:2] for call in host.calls[:2]] == [["/usr/bin/netstat", "-anu"], ["/usr/bin/netstat", "-an"]]
    assert netstat["sources"] == ["/usr/bin/netstat -an"]
    assert netstat["state_counts"]["TIME_WAIT"] == 8 and netstat["state_counts"]["IDLE"] == 3
    assert all("pid" not in item for item in netstat["connections"])
    owners = sunos.sunos["owners"]
    assert owners["available"] is False
    assert owners["reason"] == "netstat -u not supported here (rc 1: netstat: illegal option -- u)"
    assert (keepalive["time"], keepalive["time_ms"], keepalive["source"]) == (7200, 7200000, "ndd /dev/tcp")
    assert keepalive["abort_interval"] is None


def test_only_tcp_narrows_netstat_and_owners_false_skips_u(fixture_text):
    host = FakeHost(
        {("/usr/bin/netstat", "-an", "-P", "tcp"): (0, fixture_text("sunos/netstat-an-2.txt"), "")},
        binaries={"netstat": "/usr/bin/netstat"},
    )
    sunos = collector(host)
    netstat, keepalive = sunos.collect(Selection(), protocols=("tcp",), owners=False)
    assert host.calls == [["/usr/bin/netstat", "-an", "-P", "tcp"]]
    assert netstat["protocol_counts"] == {"tcp": 14, "udp": 0}
    assert sunos.sunos["owners"]["reason"] == "owners: false"
    assert keepalive["time"] is None and keepalive["reason"] == "ipadm not found; ndd not found"


def test_missing_netstat_is_an_error():
    with pytest.raises(OSError, match="netstat not found"):
        collector(FakeHost({}, binaries={})).collect(Selection())


def test_failing_netstat_names_the_command():
    host = FakeHost({("/usr/bin/netstat", "-an"): (2, "", "netstat: can't open mib stream\n")})
    with pytest.raises(OSError, match="/usr/bin/netstat -an: rc 2: netstat: can't open mib stream"):
        collector(host).collect(Selection(), owners=False)


# Synthetic -u table holding the connection that pfiles-2.txt (real, illumos) shows, owned by sshd 4242, plus a
# connection of another process that the port selection leaves out.
SSHD_TABLE = (
    "\nTCP: IPv4\n"
    "   Local Address        Remote Address      User    Pid     Command     Swind  Send-Q  Rwind  Recv-Q    State\n"
    "-------------------- -------------------- -------- ------ ------------- ------- ------ ------- ------ ---------\n"
    "172.27.10.9.22       172.27.10.79.38576   root       4242 sshd           128872      0  128872      0 "
    "ESTABLISHED\n"
    "172.27.10.9.5555     172.27.10.80.41000   app        4343 app_srv        128872      0  128872      0 "
    "ESTABLISHED\n"
)


def sshd_host(fixture_text):
    """A host whose netstat -anu prints SSHD_TABLE and pfiles 4242 the real pfiles-2.txt; any other command fails."""
    answers = {
        ("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, ""),
        ("/usr/bin/pfiles", "4242"): (0, fixture_text("sunos/pfiles-2.txt"), ""),
    }
    answers.update(keepalive_by_ipadm())
    return FakeHost(answers)


def test_pfiles_runs_only_when_asked_and_only_on_holders_of_selected_sockets(fixture_text):
    host = sshd_host(fixture_text)
    sunos = collector(host, options={"sunos_pfiles": True})
    netstat, _keepalive = sunos.collect(Selection(ports=[22]))
    assert host.ran("pfiles") == [["/usr/bin/pfiles", "4242"]]
    (connection,) = netstat["connections"]
    assert (connection["keepalive"], connection["pid"]) == (True, 4242)
    assert netstat["established_keepalive_unknown"] == 0 and netstat["established_without_keepalive"] == 0
    report = sunos.sunos["pfiles"]
    assert (report["ran"], report["pids"], report["sockets"], report["errors"]) == (True, [4242], 1, [])


@pytest.mark.parametrize(
    ("options", "reason"),
    [({}, "sunos_pfiles is false"), ({"options": {"sunos_pfiles": True}, "check_mode": True}, "check mode")],
)
def test_pfiles_never_runs_by_default_or_in_check_mode(options, reason):
    answers = {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")}
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers)  # any pfiles call would fail: it is not among the answers
    sunos = collector(host, **options)
    sunos.collect(Selection())
    assert host.ran("pfiles") == []
    assert reason in sunos.sunos["pfiles"]["reason"]


# Synthetic -an row (Solaris 10 layout, as in netstat-an-1.txt) for the listener pfiles-1.txt (real) shows.
LISTENER_1980 = (
    "\nTCP: IPv4\n"
    "   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q  State\n"
    "-------------------- -------------------- ----- ------ ----- ------ -------\n"
    "      *.1980               *.*                0      0 49152      0 LISTEN\n"
)


def test_solaris_10_pfiles_inspects_processes_in_pid_order_within_the_cap(tmp_path, fixture_text):
    for name in ("12284", "1", "99999", "self", "3"):
        (tmp_path / name).mkdir()
    answers = {
        ("/usr/bin/netstat", "-anu"): NO_U_OPTION,
        ("/usr/bin/netstat", "-an"): (0, LISTENER_1980, ""),
        ("/usr/bin/pfiles", "1", "3"): (1, fixture_text("sunos/pfiles-1.txt"), "pfiles: cannot examine 3\n"),
    }
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers)
    sunos = sunos_sockets.SunosNetstatCollector(
        host.run_command, host.get_bin_path, options={"sunos_pfiles": True}, proc_root=str(tmp_path), euid=0
    )
    netstat, _keepalive = sunos.collect(Selection(), max_connections=2)
    assert host.ran("pfiles") == [["/usr/bin/pfiles", "1", "3"]]
    (listener,) = netstat["listeners"]
    assert (listener["local_port"], listener["pid"], listener["process"]) == (
        1980,
        12284,
        "./main",
    )  # as pfiles printed it
    assert netstat["connections"][0]["keepalive"] is True
    report = sunos.sunos["pfiles"]
    assert report["errors"] == ["pfiles: cannot examine 3"]
    assert report["scope"].startswith("processes in pid order")


# Synthetic connstat -P lines (comma-separated fields in FIELDS order, as connstat(8) documents -P).
CONNSTAT = (
    "198.51.100.80,5555,198.51.100.11,40001,ESTABLISHED,100,200,0,0,0,128000,10000,128000,400,350\n"
    "198.51.100.80,22,198.51.100.11,50000,ESTABLISHED,1,2,0,0,0,128000,10000,128000,400,350\n"
)


def test_connstat_when_asked(fixture_text):
    answers = {
        ("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, ""),
        ("/usr/bin/connstat", "-P", "-o", ",".join(sunos_sockets.sunos_connstat.FIELDS)): (0, CONNSTAT, ""),
    }
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers)
    sunos = collector(host, options={"sunos_connstat": True})
    sunos.collect(Selection(ports=[5555]))
    connstat = sunos.sunos["connstat"]
    assert (connstat["available"], connstat["count"], connstat["truncated"]) == (True, 1, False)
    assert connstat["connections"][0]["raddr"] == "198.51.100.11"
    assert connstat["connections"][0]["inbytes"] == 100


def test_connstat_missing_is_a_reason():
    answers = {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")}
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers, binaries={key: value for key, value in BINARIES.items() if key != "connstat"})
    sunos = collector(host, options={"sunos_connstat": True})
    sunos.collect(Selection())
    assert sunos.sunos["connstat"] == {
        "available": False,
        "reason": "connstat not found (illumos, Solaris 11.4)",
    }


def test_not_root_says_owners_may_be_partial(fixture_text):
    answers = {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")}
    answers.update(keepalive_by_ipadm())
    host = FakeHost(answers)
    sunos = sunos_sockets.SunosNetstatCollector(host.run_command, host.get_bin_path, euid=1000)
    sunos.collect(Selection())
    facts = sunos.sunos
    assert facts["root"] is False
    assert facts["owners"]["reason"].startswith("not root")


def test_pfiles_holders_are_capped_by_max_connections(fixture_text):
    host = sshd_host(fixture_text)
    sunos = collector(host, options={"sunos_pfiles": True})
    netstat, _keepalive = sunos.collect(Selection(), max_connections=1)  # two holders, 4242 and 4343
    assert host.ran("pfiles") == [["/usr/bin/pfiles", "4242"]]
    assert netstat["truncated"] is True

    host = sshd_host(fixture_text)
    sunos = collector(host, options={"sunos_pfiles": True})
    sunos.collect(Selection(), max_connections=0)
    assert host.ran("pfiles") == []
    assert sunos.sunos["pfiles"]["reason"] == "max_connections is 0"


def test_a_netstat_that_only_complains_about_u_is_not_trusted(fixture_text):
    # Synthetic: exit 0 with the usage text on stderr and nothing on stdout must not read as an empty table.
    host = FakeHost(
        {
            ("/usr/bin/netstat", "-anu"): (0, "", "netstat: illegal option -- u\n"),
            ("/usr/bin/netstat", "-an"): (0, fixture_text("sunos/netstat-an-1.txt"), ""),
        },
        binaries={"netstat": "/usr/bin/netstat"},
    )
    sunos = collector(host)
    netstat, _keepalive = sunos.collect(Selection())
    assert netstat["total_sockets"] == 17
    assert sunos.sunos["owners"]["reason"] == "netstat -u not supported here (rc 0: netstat: illegal option -- u)"
