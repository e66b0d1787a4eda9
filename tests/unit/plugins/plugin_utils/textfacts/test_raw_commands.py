# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw mode's gatherers at the command boundary: the exact commands, read-only, and the facts of real captured
output (tests/unit/fixtures) equal to what the parsers give."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import netstat as aix_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts import linux, raw_commands
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.raw_commands import (
    C_LOCALE,
    GATHERERS,
    LINUX_SYSCTL,
    Runner,
    checked,
)

NO_SELECTION = {"ports": [], "states": [], "peers": []}


class FakeHost:
    """Answers commands from a table {command: (rc, stdout, stderr)}; anything else fails like a missing file."""

    def __init__(self, answers):
        self.answers = answers
        self.seen = []

    def __call__(self, command, data=None):
        assert command.startswith(C_LOCALE)
        command = command[len(C_LOCALE) :]
        self.seen.append(command)
        words = command.split()
        # head -c N FILE and wc -c < FILE answer from the table's "cat FILE", as the real tools would.
        if words[:2] == ["head", "-c"] and len(words) == 4 and "cat " + words[3] in self.answers:
            rc, stdout, stderr = self.answers["cat " + words[3]]
            return rc, stdout[: int(words[2])], stderr
        if words[:2] == ["wc", "-c"] and "cat " + words[-1] in self.answers:
            return 0, "%d\n" % len(self.answers["cat " + words[-1]][1].encode()), ""
        return self.answers.get(command, (1, "", "No such file or directory"))


@pytest.mark.parametrize("command", ["rmsock f1000 tcpcb", "/usr/bin/pfiles 123", "ls; rmsock x"])
def test_side_effect_commands_are_refused(command):
    with pytest.raises(ValueError, match="not read-only"):
        checked(command)


@pytest.mark.parametrize("data", [None, "", "mw f1000 0\n", "sockinfo f1000f00 tcpcb\nmw f1000 0\nquit\n"])
def test_kdb_only_reads_sockets(data):
    with pytest.raises(ValueError, match="kdb only to read sockets"):
        checked("/usr/sbin/kdb", data)
    assert checked("/usr/sbin/kdb", "sockinfo f1000f0076f3358 tcpcb\nquit\n").endswith("/usr/sbin/kdb")


def test_aix_runs_netstat_and_no_only(fixture_text, monkeypatch):
    monkeypatch.setattr(raw_commands, "command_collector", lambda system: None)  # the text path
    host = FakeHost(
        {
            "netstat -Aan": (0, fixture_text("aix/netstat-Aan-1.txt"), ""),
            "no -a": (0, fixture_text("aix/no-a-1.txt"), ""),
        }
    )
    sections, errors = GATHERERS["AIX"](Runner(host), NO_SELECTION, 1000)
    assert host.seen == ["netstat -Aan", "no -a"]
    assert errors == []
    expected = aix_netstat.parse(fixture_text("aix/netstat-Aan-1.txt"), max_connections=1000, tuples=True)
    assert {k: v for k, v in sections["netstat"].items() if k != "platform"} == expected
    # Written by hand from the capture (not from the parser): tcp rows 2 x CLOSED (*.* *.*), 4 x LISTEN (*.22 tcp6
    # and tcp4, *.25, ::1.6010), 2 x ESTABLISHED, sshd's inbound from 24.236.207.124 and an outbound HTTPS one.
    counts = {state: count for state, count in sections["netstat"]["state_counts"].items() if count}
    assert counts == {"CLOSED": 2, "LISTEN": 4, "ESTABLISHED": 2}
    assert sorted(
        (entry["direction"], entry["service_port"], entry["peer"], entry["count"])
        for entry in sections["netstat"]["established_by_peer"]
    ) == [("inbound", 22, "24.236.207.124", 1), ("outbound", 443, "34.120.255.184", 1)]
    assert sections["keepalive"]["time"] == sections["keepalive"]["tcp_keepidle"] / 2
    assert sections["conntrack"]["available"] is False


def test_sunos_runs_netstat_and_ndd(fixture_text, monkeypatch):
    monkeypatch.setattr(raw_commands, "command_collector", lambda system: None)  # the text path
    host = FakeHost(
        {
            "netstat -an": (0, fixture_text("sunos/netstat-an-2.txt"), ""),
            "ndd -get /dev/tcp tcp_keepalive_interval": (0, fixture_text("sunos/ndd-keepalive-1.txt"), ""),
        }
    )
    sections, errors = GATHERERS["SunOS"](Runner(host), NO_SELECTION, 1000)
    assert host.seen == [
        "netstat -an",
        "ndd -get /dev/tcp tcp_keepalive_interval",
        "ndd -get /dev/tcp tcp_keepalive_abort_interval",
    ]
    assert errors == []
    expected = sunos_netstat.parse(fixture_text("sunos/netstat-an-2.txt"), max_connections=1000, tuples=True)
    assert {k: v for k, v in sections["netstat"].items() if k != "platform"} == expected
    # The abort interval was not answered: null, as the module has it on a release without it.
    assert sections["keepalive"] == {
        "time": 7200,
        "intvl": None,
        "probes": None,
        "abort_interval": None,
        "source": "ndd /dev/tcp",
        "time_ms": 7200000,
        "abort_interval_ms": None,
    }
    # By hand from the capture: TCP IPv4 has 6 LISTEN, 2 IDLE and 2 ESTABLISHED (both to sshd on
    # 172.31.15.139.22), TCP IPv6 3 LISTEN and 1 IDLE; ndd printed 7200000 (milliseconds).
    assert sections["netstat"]["state_counts"]["LISTEN"] == 9
    assert sections["netstat"]["state_counts"]["ESTABLISHED"] == 2
    assert sorted(
        (entry["direction"], entry["service_port"], entry["peer"], entry["count"])
        for entry in sections["netstat"]["established_by_peer"]
    ) == [("inbound", 22, "100.1.162.250", 1), ("inbound", 22, "98.109.151.68", 1)]
    assert sections["keepalive"]["time"] == 7200


def test_linux_tables_owners_and_sysctls(fixture_text):
    tcp = fixture_text("linux/proc-net-tcp-2.txt")
    listen_inode = next(int(line.split()[9]) for line in tcp.splitlines()[1:] if line.split()[3] == "0A")
    host = FakeHost(
        {
            "cat /proc/net/tcp": (0, tcp, ""),
            LINUX_SYSCTL: (
                2,
                "/proc/sys/net/ipv4/tcp_keepalive_time:7200\n/proc/sys/net/ipv4/tcp_keepalive_intvl:75\n"
                "/proc/sys/net/ipv4/tcp_keepalive_probes:9\n/proc/sys/net/netfilter/nf_conntrack_max:262144\n"
                "/proc/sys/net/netfilter/nf_conntrack_count:3\n"
                "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established:432000\n",
                "grep: /proc/sys/net/ipv4/netfilter/ip_conntrack_*: No such file or directory\n",
            ),
            "ls -lnd /proc/[0-9]*": (0, "dr-xr-xr-x  9 1000 1000 0 Dec  4 23:00 /proc/20407\n", ""),
            "ls -ln /proc/[0-9]*/fd/ | cat": (
                0,
                "/proc/20407/fd/:\ntotal 0\nlrwx------ 1 1000 1000 64 Dec  4 23:00 3 -> socket:[%d]\n" % listen_inode,
                "ls: cannot open directory '/proc/1/fd/': Permission denied\n",
            ),
            "grep -H '' /proc/[0-9]*/comm 2>/dev/null": (0, "/proc/20407/comm:python3\n", ""),
            "getent passwd 2>/dev/null || cat /etc/passwd": (0, "alice:x:1000:1000::/home/alice:/bin/sh\n", ""),
        }
    )
    sections, errors = GATHERERS["Linux"](Runner(host), NO_SELECTION, 1000, slabinfo=False)
    assert errors == []
    read = "head -c %d " % (raw_commands.DEFAULT_MAX_BYTES + 1)
    assert host.seen[:4] == [
        read + "/proc/net/tcp",
        read + "/proc/net/tcp6",
        read + "/proc/net/udp",
        read + "/proc/net/udp6",
    ]
    netstat = sections["netstat"]
    expected = linux_proc_net_tcp.parse(tcp)
    assert netstat["state_counts"] == expected["state_counts"]
    assert netstat["established_by_peer"] == expected["established_by_peer"]
    # By hand from proc-net-tcp-2.txt: st 0A on rows 0-1, 01 on rows 2-4, 6 and 9-12, 08 on row 5, 05 on row 7 and
    # 06 on row 8; 127.0.0.1:5555 (0100007F:15B3) serves three connections from 127.0.0.2.
    counts = {state: count for state, count in netstat["state_counts"].items() if count}
    assert counts == {"LISTEN": 2, "ESTABLISHED": 8, "CLOSE_WAIT": 1, "FIN_WAIT_2": 1, "TIME_WAIT": 1}
    assert {
        (entry["direction"], entry["service_port"], entry["peer"]): entry["count"]
        for entry in netstat["established_by_peer"]
    }[("inbound", 5555, "127.0.0.2")] == 3
    assert netstat["sources"] == ["/proc/net/tcp"]
    assert netstat["owner_scan"] == {"processes": 1, "unreadable_processes": 1}
    owned = [c for c in netstat["connections"] if c.get("pid")]
    assert [(c["pid"], c["process"], c["user"]) for c in owned] == [(20407, "python3", "alice")]
    assert sections["keepalive"] == {"time": 7200, "intvl": 75, "probes": 9, "source": "/proc/sys/net/ipv4"}
    conntrack = sections["conntrack"]
    assert (conntrack["available"], conntrack["count"], conntrack["max"]) == (True, 3, 262144)
    assert conntrack["timeouts"] == {"tcp_timeout_established": 432000}


def test_parse_sysctl_both_shapes_and_bad_line():
    values = linux.parse_sysctl(
        "net.netfilter.nf_conntrack_max = 65536\n/proc/sys/net/ipv4/tcp_keepalive_time:7200\nkernel.x = a b\n"
    )
    assert values == {"net.netfilter.nf_conntrack_max": 65536, "net.ipv4.tcp_keepalive_time": 7200, "kernel.x": "a b"}
    with pytest.raises(ParseError) as raised:
        linux.parse_sysctl("ok.key = 1\n!!! nonsense\n")
    assert raised.value.line_number == 2


def test_owner_listing_through_a_terminal():
    # SSH -tt: CR LF line ends, stderr inside stdout, GNU ls quoting the link target.
    listing = (
        "ls: cannot open directory '/proc/1/fd/': Permission denied\r\n/proc/36/fd/:\r\ntotal 0\r\n"
        "lrwx------ 1 0 0 64 Dec  4 23:56 3 -> 'socket:[529008]'\r\n"
    )
    host = FakeHost({"ls -ln /proc/[0-9]*/fd/ | cat": (0, listing, "")})
    _rc, stdout, _stderr = Runner(host)("ls -ln /proc/[0-9]*/fd/ | cat")
    owners, scan = linux.owners_from_listings(
        "dr-xr-xr-x 9 0 0 0 Dec  4 23:56 /proc/1\ndr-xr-xr-x 9 0 0 0 Dec  4 23:56 /proc/36\n",
        stdout,
        "",
        "/proc/36/comm:python3\n",
    )
    assert owners == {529008: (36, "python3", 0)}
    assert scan == {"processes": 2, "unreadable_processes": 1}


class RecordingCollector:
    """Stands in for a platform collector of netstat_facts (interface: run_command(argv, data), get_bin_path)."""

    runs_commands = True
    made = []

    def __init__(self, run_command, get_bin_path, options=None, check_mode=False, euid=None):
        self.run_command, self.get_bin_path = run_command, get_bin_path
        self.options, self.check_mode, self.euid = options, check_mode, euid
        self.sunos = {"root": euid == 0}
        RecordingCollector.made.append(self)

    def collect(self, selection, max_connections=1000, owners=True, **summary_options):
        self.summary_options = summary_options
        netstat = self.get_bin_path("netstat")
        rc, stdout, _stderr = self.run_command([netstat, "-an", "-f", "inet; x"])
        kdb_rc, _out, _err = self.run_command(["/usr/sbin/kdb"], data="sockinfo f1000f0076f3358 tcpcb\nquit\n")
        return {"rc": rc, "text": stdout, "kdb_rc": kdb_rc, "max": max_connections}, {"time": 7200}


def test_collector_driven_over_the_connection(monkeypatch):
    monkeypatch.setattr(raw_commands, "command_collector", lambda system: RecordingCollector)
    which = 'for d in %s; do [ -x "$d/netstat" ] && { echo "$d/netstat"; exit 0; }; done; exit 1' % " ".join(
        raw_commands.BIN_DIRECTORIES
    )
    host = FakeHost(
        {
            "id -u": (0, "0\n", ""),
            which: (0, "/usr/bin/netstat\n", ""),
            "/usr/bin/netstat -an -f 'inet; x'": (0, "the table\r\n", ""),
            "/usr/sbin/kdb": (0, "", ""),
        }
    )
    sections, errors = GATHERERS["SunOS"](Runner(host), NO_SELECTION, 7, tuples=True, max_tuples=9)
    assert errors == []
    collector = RecordingCollector.made[-1]
    assert collector.summary_options == {"tuples": True, "max_tuples": 9}
    assert (collector.euid, collector.check_mode) == (0, True)
    assert not any(collector.options.values())  # rmsock, pfiles, connstat stay off
    assert sections["netstat"] == {"rc": 0, "text": "the table\n", "kdb_rc": 0, "max": 7}
    assert sections["keepalive"] == {"time": 7200}
    assert sections["sunos"] == {"root": True}
    assert host.seen == ["id -u", which, "/usr/bin/netstat -an -f 'inet; x'", "/usr/sbin/kdb"]


def test_raw_mode_drives_the_platform_collectors_of_the_platform_table():
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.aix_sockets import AixNetstatCollector
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.sunos_sockets import SunosNetstatCollector

    assert raw_commands.command_collector("AIX") is AixNetstatCollector
    assert raw_commands.command_collector("SunOS") is SunosNetstatCollector
    assert raw_commands.command_collector("Linux") is None  # Linux text goes through textfacts/linux.py
    assert raw_commands.command_collector("HP-UX") is None


@pytest.mark.parametrize(
    "command",
    [
        "'/opt/IBM tools/rmsock' f1000f0076f3358 tcpcb",
        '"/opt/IBM tools/rmsock" f1000f0076f3358 tcpcb',
        "/opt/IBM\\ tools/rmsock f1000 tcpcb",
        "env LC_ALL=C sudo -n -u root /usr/sbin/rmsock f1000 tcpcb",
        "sh -c '/usr/sbin/rmsock f1000 tcpcb'",
        "nohup sh -c \"exec '/opt/my tools/pfiles' 123\"",
        'echo $("/usr/proc/bin/pfiles" 123)',
        "echo `pfiles 123`",
        "true&&pfiles 1",
        "r''msock f1000 tcpcb",
        "/usr/sbin/rms?ck f1000 tcpcb",
        "/usr/sbin/rmsock/ f1000 tcpcb",
    ],
)
def test_wrapped_and_quoted_side_effect_commands_are_refused(command):
    with pytest.raises(ValueError, match="not read-only"):
        checked(command)


@pytest.mark.parametrize("command", ["echo 'unbalanced", 'cat "x'])
def test_a_command_line_that_cannot_be_split_is_refused(command):
    with pytest.raises(ValueError, match="raw mode refuses to run"):
        checked(command)


@pytest.mark.parametrize(
    "command",
    [
        LINUX_SYSCTL,
        *raw_commands.LINUX_OWNERS.values(),
        "head -c 1073741825 /proc/net/tcp",
        "wc -c < /proc/net/tcp",
        "netstat -Aan",
        "no -a",
        "uname -s",
    ],
)
def test_the_commands_raw_mode_runs_pass_the_check(command):
    assert checked(command) == C_LOCALE + command


def test_kdb_behind_a_quoted_path_still_reads_only():
    with pytest.raises(ValueError, match="kdb only to read sockets"):
        checked("'/usr/sbin/kdb'", "mw f1000 0\n")
    with pytest.raises(ValueError, match="kdb only to read sockets"):
        checked("sh -c '/usr/sbin/kdb'", "mw f1000 0\n")


def linux_host(tcp_text, conntrack_text="", slabinfo_text=None):
    """A Linux host whose /proc/net/tcp is tcp_text, with a conntrack table and, when given, /proc/slabinfo."""
    answers = {
        "cat /proc/net/tcp": (0, tcp_text, ""),
        LINUX_SYSCTL: (0, "/proc/sys/net/netfilter/nf_conntrack_max:262144\n", ""),
        "cat /proc/net/nf_conntrack": (0, conntrack_text, ""),
        "cat /proc/net/stat/nf_conntrack": (1, "", "No such file or directory"),
        "getconf PAGESIZE": (0, "4096\n", ""),
    }
    if slabinfo_text is not None:
        answers["cat /proc/slabinfo"] = (0, slabinfo_text, "")
    return FakeHost(answers)


def test_a_bad_line_in_proc_net_tcp_loses_the_socket_table_only(fixture_text):
    tcp = fixture_text("linux/proc-net-tcp-2.txt")
    lines = tcp.splitlines(keepends=True)
    bad = "".join(lines[:2]) + "   9: this is not a socket row\n" + "".join(lines[2:])
    conntrack = (
        "ipv4     2 tcp      6 431999 ESTABLISHED src=198.51.100.1 dst=198.51.100.2 sport=40000 dport=5555 "
        "src=198.51.100.2 dst=198.51.100.1 sport=5555 dport=40000 [ASSURED] mark=0 zone=0 use=2\n"
    )
    slabinfo = fixture_text("linux/slabinfo-2.1-1.txt")
    host = linux_host(bad, conntrack, slabinfo)
    sections, errors = GATHERERS["Linux"](Runner(host), NO_SELECTION, 1000, owners=False)
    assert "netstat" not in sections
    assert errors == [
        "netstat: linux_proc_net_tcp: line 3 not recognised (expected at least 10 fields starting with 'N:'): "
        "'   9: this is not a socket row'"
    ]
    assert sections["conntrack"]["available"] is True
    assert sections["conntrack"]["max"] == 262144
    assert (sections["conntrack"]["entries_parsed"], sections["conntrack"]["assured"]) == (1, 1)
    assert sections["slabinfo"] == linux.slabinfo_section(slabinfo, 4096)
    healthy = linux_host(tcp, conntrack, slabinfo)
    good, good_errors = GATHERERS["Linux"](Runner(healthy), NO_SELECTION, 1000, owners=False)
    assert good_errors == [] and {"netstat", "keepalive", "conntrack", "slabinfo"} <= set(good)


def test_output_over_the_limit_is_cut_at_a_whole_line_and_named(fixture_text):
    tcp = fixture_text("linux/proc-net-tcp-2.txt")
    limit = len(tcp) // 2
    host = FakeHost({"netstat -an": (0, tcp, "")})
    run = Runner(host, max_bytes=limit)
    _rc, stdout, _stderr = run("netstat -an")
    assert stdout == tcp[: tcp.rfind("\n", 0, limit) + 1]
    assert stdout.endswith("\n") and len(stdout) <= limit
    assert run.notes == [
        "netstat -an: output of %d characters is over netdiag_max_capture_bytes (%d); read up to the limit"
        % (len(tcp), limit)
    ]
    assert Runner(host, max_bytes=len(tcp))("netstat -an")[1] == tcp


def test_a_linux_file_over_the_limit_crosses_the_connection_only_up_to_it(fixture_text):
    tcp = fixture_text("linux/proc-net-tcp-2.txt")
    limit = len(tcp) // 2
    host = linux_host(tcp)
    run = Runner(host, max_bytes=limit)
    assert run.file_text("/proc/net/tcp") == tcp[: tcp.rfind("\n", 0, limit) + 1]
    assert host.seen == ["head -c %d /proc/net/tcp" % (limit + 1), "wc -c < /proc/net/tcp"]
    assert run.notes == [
        "/proc/net/tcp: %d bytes, over netdiag_max_capture_bytes (%d); read up to the limit" % (len(tcp), limit)
    ]
    whole = Runner(linux_host(tcp), max_bytes=len(tcp))
    assert whole.file_text("/proc/net/tcp") == tcp and whole.notes == []
    assert whole.file_text("/proc/net/tcp6") is None  # a missing file, as cat reports it


def test_looking_up_kdb_or_rmsock_only_tests_the_path():
    # The collectors locate kdb before running it with sockinfo lines; rmsock only when it is asked to remove.
    lookup = 'for d in %s; do [ -x "$d/%%s" ] && { echo "$d/%%s"; exit 0; }; done; exit 1' % " ".join(
        raw_commands.BIN_DIRECTORIES
    )
    host = FakeHost({lookup % ("kdb", "kdb"): (0, "/usr/sbin/kdb\r\n", ""), lookup % ("rmsock", "rmsock"): (1, "", "")})
    run = Runner(host)
    assert run.which("kdb") == "/usr/sbin/kdb"
    assert run.which("rmsock") is None
    assert run.which("kdb; rmsock") is None  # not a program name: nothing is sent
    assert host.seen == [lookup % ("kdb", "kdb"), lookup % ("rmsock", "rmsock")]
    with pytest.raises(ValueError, match="not read-only"):
        run.argv(["/usr/sbin/rmsock", "f1000", "tcpcb"])
