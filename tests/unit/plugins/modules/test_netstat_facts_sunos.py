# SPDX-License-Identifier: GPL-3.0-or-later
"""netstat_facts on SunOS with only the command boundary mocked: AnsibleModule.run_command and get_bin_path.

Every command the module runs is checked against an exact argv table (with the C locale); pfiles is absent from
the table unless a test expects it, so a stray pfiles call fails the test. The netstat and ndd texts are real
captures (tests/unit/fixtures/SOURCES.md); pfiles-2.txt is real, the -u table holding its connection is synthetic.
"""

from __future__ import annotations

import pytest
from ansible.module_utils import basic

from ansible_collections.netdiag.tcp.plugins.modules import netstat_facts

BINARIES = {
    "netstat": "/usr/bin/netstat",
    "pfiles": "/usr/bin/pfiles",
    "ndd": "/usr/sbin/ndd",
    "connstat": "/usr/bin/connstat",
}
SSHD_TABLE = (
    "\nTCP: IPv4\n"
    "   Local Address        Remote Address      User    Pid     Command     Swind  Send-Q  Rwind  Recv-Q    State\n"
    "-------------------- -------------------- -------- ------ ------------- ------- ------ ------- ------ ---------\n"
    "172.27.10.9.22       172.27.10.79.38576   root       4242 sshd           128872      0  128872      0 "
    "ESTABLISHED\n"
)


@pytest.fixture
def sunos_host(monkeypatch, call_main, fixture_text):
    """run(args, extra_answers) -> (outcome, calls): netstat_facts on a fake SunOS host."""

    def run(args, answers):
        table = {
            ("/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_interval"): (
                0,
                fixture_text("sunos/ndd-keepalive-1.txt"),
                "",
            ),
            ("/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_abort_interval"): (0, "480000\n", ""),
        }
        table.update(answers)
        calls = []

        def run_command(self, argv, data=None, environ_update=None, check_rc=False, **kwargs):
            calls.append(list(argv))
            assert environ_update == {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
            assert data is None and check_rc is False
            if tuple(argv) not in table:
                raise AssertionError("unexpected command %r" % (argv,))
            return table[tuple(argv)]

        def get_bin_path(self, name, required=False, opt_dirs=None):
            assert "/usr/sbin" in opt_dirs
            return BINARIES.get(name)

        monkeypatch.setattr(netstat_facts.platform, "system", lambda: "SunOS")
        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        return call_main(netstat_facts.main, args), calls

    return run


def test_owners_from_netstat_u_and_keepalive_in_seconds(sunos_host, fixture_text):
    outcome, calls = sunos_host({}, {("/usr/bin/netstat", "-anu"): (0, fixture_text("sunos/netstat-u-1.txt"), "")})
    assert outcome.failed is False and outcome.result["changed"] is False
    assert calls[0] == ["/usr/bin/netstat", "-anu"]
    assert not [call for call in calls if call[0] == "/usr/bin/pfiles"]
    netdiag = outcome.result["ansible_facts"]["netdiag"]
    assert set(netdiag) == {"netstat", "keepalive", "sunos"}
    assert netdiag["netstat"]["platform"] == "SunOS"
    established = [c for c in netdiag["netstat"]["connections"] if c["state"] == "ESTABLISHED"]
    assert [(c["pid"], c["process"], c["user"]) for c in established] == [(771, "sshd", "root")]
    assert (netdiag["keepalive"]["time"], netdiag["keepalive"]["abort_interval"]) == (7200, 480)
    assert netdiag["sunos"]["owners"]["source"] == "netstat -u"


def test_pfiles_is_opt_in(sunos_host, fixture_text):
    answers = {
        ("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, ""),
        ("/usr/bin/pfiles", "4242"): (0, fixture_text("sunos/pfiles-2.txt"), ""),
    }
    outcome, calls = sunos_host({"sunos_pfiles": True, "ports": [22]}, answers)
    assert ["/usr/bin/pfiles", "4242"] in calls
    (connection,) = outcome.result["ansible_facts"]["netdiag"]["netstat"]["connections"]
    assert connection["keepalive"] is True


@pytest.mark.parametrize("args", [{}, {"sunos_pfiles": True, "_ansible_check_mode": True}])
def test_pfiles_never_runs_unless_asked_or_in_check_mode(sunos_host, args):
    outcome, calls = sunos_host(args, {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")})
    assert outcome.failed is False
    assert [call[0] for call in calls].count("/usr/bin/pfiles") == 0
    pfiles = outcome.result["ansible_facts"]["netdiag"]["sunos"]["pfiles"]
    assert pfiles["ran"] is False and pfiles["pids"] == []
    (connection,) = outcome.result["ansible_facts"]["netdiag"]["netstat"]["connections"]
    assert connection["keepalive"] is None


def test_solaris_states_are_accepted_and_unknown_ones_named(sunos_host):
    outcome, _calls = sunos_host({"states": ["idle", "bound"]}, {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")})
    assert outcome.failed is False
    outcome, calls = sunos_host({"states": ["BOUND_INACTIVE"]}, {})
    assert outcome.failed is True and "states: BOUND_INACTIVE not a TCP state" in outcome.result["msg"]
    assert calls == []


def test_netstat_failure_fails_the_module_with_the_command(sunos_host):
    answers = {
        ("/usr/bin/netstat", "-anu"): (1, "", "netstat: illegal option -- u\n"),
        ("/usr/bin/netstat", "-an"): (2, "", "netstat: fatal\n"),
    }
    outcome, _calls = sunos_host({}, answers)
    assert outcome.failed is True
    assert outcome.result["msg"] == (
        "netstat_facts: could not read the socket tables: /usr/bin/netstat -an: rc 2: netstat: fatal"
    )


def test_tuples_come_through_the_sunos_collector(sunos_host, fixture_text):
    """The audit asks every platform for tuples: the SunOS collector hands them to the shared summary."""
    answers = {
        ("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, ""),
        ("/usr/bin/pfiles", "4242"): (0, fixture_text("sunos/pfiles-2.txt"), ""),
    }
    outcome, _calls = sunos_host({"tuples": True, "sunos_pfiles": True}, answers)
    netstat = outcome.result["ansible_facts"]["netdiag"]["netstat"]
    assert netstat["established_tuples"]["rows"] == "172.27.10.9 22 172.27.10.79 38576 4242 1"
    assert netstat["holders"] == {"4242": {"process": "sshd", "user": "root"}}

    outcome, _calls = sunos_host({"tuples": True}, {("/usr/bin/netstat", "-anu"): (0, SSHD_TABLE, "")})
    rows = outcome.result["ansible_facts"]["netdiag"]["netstat"]["established_tuples"]["rows"]
    assert rows == "172.27.10.9 22 172.27.10.79 38576 4242 -"  # keepalive unknown without pfiles


def test_tuples_name_the_holders(sunos_host, fixture_text):
    """The per-connection correlation gets Solaris ends too: established_tuples and holders from netstat -u."""
    outcome, _calls = sunos_host(
        {"tuples": True}, {("/usr/bin/netstat", "-anu"): (0, fixture_text("sunos/netstat-u-1.txt"), "")}
    )
    netstat = outcome.result["ansible_facts"]["netdiag"]["netstat"]
    assert netstat["established_tuples"]["count"] == netstat["state_counts"]["ESTABLISHED"]
    assert [row.split(" ")[4] for row in netstat["established_tuples"]["rows"].split("\n")] == ["771"]
    assert netstat["holders"] == {"771": {"process": "sshd", "user": "root"}}
