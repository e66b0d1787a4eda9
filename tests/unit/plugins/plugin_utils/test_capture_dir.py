# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline analysis: capture folders of real captured output (tests/unit/fixtures, SOURCES.md) give the facts the
parsers give, unknown and malformed files are reported by name and line, the rest is still analysed."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils import (
    aix_netstat,
    aix_no,
    aix_rmsock,
    linux_conntrack,
    linux_netstat,
    linux_proc_net_tcp,
    linux_slabinfo,
    sunos_netstat,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.capture_dir import read_capture_dir


def make_host(root, host, files):
    folder = root / host
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.fixture
def captures(tmp_path, fixture_text):
    make_host(
        tmp_path,
        "web",
        {
            "netstat-an.txt": fixture_text("linux/netstat-na-1.txt"),
            "slabinfo.txt": "ip_conntrack 3024 4090 384 409 409 1\n",  # the incident's grep conn /proc/slabinfo
            "ip_conntrack.txt": fixture_text("linux/proc-net-ip_conntrack-1.txt"),
            "host.yml": "netdiag_addresses: [198.51.100.129]\n",
        },
    )
    make_host(
        tmp_path,
        "app",
        {
            "netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt"),
            "rmsock.txt": fixture_text("aix/rmsock-1.txt"),
            "no-a.txt": fixture_text("aix/no-a-1.txt"),
        },
    )
    make_host(tmp_path, "sol", {"netstat-an.txt": fixture_text("solaris/netstat-an-2.txt")})
    return tmp_path


def test_every_file_gives_what_its_parser_gives(captures, fixture_text):
    hosts = read_capture_dir(str(captures))
    assert sorted(hosts) == ["app", "sol", "web"]
    web, app, sol = hosts["web"], hosts["app"], hosts["sol"]
    assert (web["platform"], app["platform"], sol["platform"]) == ("Linux", "AIX", "SunOS")
    assert [host["errors"] for host in (web, app, sol)] == [[], [], []]
    assert web["netdiag_addresses"] == ["198.51.100.129"]

    expected = linux_netstat.parse(fixture_text("linux/netstat-na-1.txt"), max_connections=1000, tuples=True)
    assert {k: v for k, v in web["facts"]["netstat"].items() if k not in ("platform", "sources")} == expected
    assert web["facts"]["slabinfo"]["caches"] == linux_slabinfo.parse("ip_conntrack 3024 4090 384 409 409 1")["caches"]
    conntrack = web["facts"]["conntrack"]
    assert conntrack["available"] and conntrack["key_style"] == "ip_conntrack"
    table = linux_conntrack.parse(fixture_text("linux/proc-net-ip_conntrack-1.txt"))
    assert conntrack["top_sources"] == table["top_sources"] and conntrack["entries_parsed"] == table["entries_parsed"]
    assert conntrack["max"] is None  # no sysctl.txt: the limits are not known

    expected = aix_netstat.parse(fixture_text("aix/netstat-Aan-1.txt"), max_connections=1000, tuples=True)
    assert {k: v for k, v in app["facts"]["netstat"].items() if k not in ("platform", "sources")} == expected
    assert app["facts"]["aix"]["rmsock"] == aix_rmsock.parse(fixture_text("aix/rmsock-1.txt"))
    tunables = aix_no.parse(fixture_text("aix/no-a-1.txt"))["tunables"]
    assert app["facts"]["keepalive"]["time"] == tunables["tcp_keepidle"] / 2
    assert app["facts"]["keepalive"]["raw"]["tcp_keepidle"] == tunables["tcp_keepidle"]

    expected = sunos_netstat.parse(fixture_text("solaris/netstat-an-2.txt"), max_connections=1000, tuples=True)
    assert {k: v for k, v in sol["facts"]["netstat"].items() if k not in ("platform", "sources")} == expected
    # Every platform's socket table carries the compact tuples the report matches connections with.
    for host in (web, app, sol):
        netstat = host["facts"]["netstat"]
        assert netstat["established_tuples"]["count"] == netstat["state_counts"]["ESTABLISHED"]


def test_unknown_and_malformed_files_are_named_and_the_rest_is_analysed(captures, fixture_text):
    (captures / "app" / "notes.txt").write_text("colleague's notes\n")
    rmsock = fixture_text("aix/rmsock-1.txt").rstrip("\n").split("\n")
    (captures / "app" / "rmsock.txt").write_text("\n".join([rmsock[0], "garbage from the paste", *rmsock[1:]]) + "\n")
    (captures / "web" / "slabinfo.txt").write_text("ip_conntrack 3024 4090 384 409 409 1\nnot a slab row\n")
    hosts = read_capture_dir(str(captures))
    app, web = hosts["app"], hosts["web"]
    assert app["errors"][0].startswith("notes.txt: unknown file name, not analysed (known: host.yml, ")
    assert app["errors"][1] == ("rmsock.txt line 2: not an rmsock result line (aix_rmsock): 'garbage from the paste'")
    assert len(app["errors"]) == 2
    # The good rmsock lines and every other file are still read.
    assert len(app["facts"]["aix"]["rmsock"]["results"]) == len(rmsock)
    assert "netstat" in app["facts"] and "keepalive" in app["facts"]
    assert web["errors"] == [
        "slabinfo.txt line 2: expected a cache name and at least five numbers (linux_slabinfo): 'not a slab row'"
    ]
    assert "slabinfo" not in web["facts"] and "netstat" in web["facts"]
    report = build_report(hosts, "2026-12-04T00:00:00Z")
    assert {name: report["hosts"][name]["status"] for name in report["hosts"]} == {
        "app": "partial",
        "web": "partial",
        "sol": "ok",
    }
    assert {host["mode"] for host in report["hosts"].values()} == {"capture"}


def test_proc_net_tables_go_through_the_module_collector(tmp_path, fixture_text):
    names = {"proc-net-tcp.txt": "proc-net-tcp-2.txt", "proc-net-tcp6.txt": "proc-net-tcp6-1.txt"}
    make_host(tmp_path, "h", {name: fixture_text("linux/" + fixture) for name, fixture in names.items()})
    facts = read_capture_dir(str(tmp_path))["h"]["facts"]
    expected = linux_proc_net_tcp.parse("".join(fixture_text("linux/" + fixture) for fixture in names.values()))
    assert facts["netstat"]["state_counts"] == expected["state_counts"]
    assert facts["netstat"]["established_by_peer"] == expected["established_by_peer"]


def test_bad_line_in_a_proc_table_names_its_file_and_line(tmp_path, fixture_text):
    good = fixture_text("linux/proc-net-tcp-2.txt")
    make_host(tmp_path, "h", {"proc-net-tcp.txt": good + "   9: garbage\n", "netstat-an.txt": "nonsense\n"})
    host = read_capture_dir(str(tmp_path))["h"]
    line = len(good.splitlines()) + 1
    assert host["errors"][0].startswith("proc-net-tcp.txt line %d: " % line)
    assert host["errors"][1].startswith("netstat-an.txt line 1: not a netstat socket row")


def test_host_yml_errors_and_platform(tmp_path, fixture_text):
    make_host(tmp_path, "a", {"host.yml": "netdiag_addresses: [1.2.3.4\n", "netstat-an.txt": ""})
    make_host(tmp_path, "b", {"host.yml": "platform: HP-UX\nflavour: x\n"})
    hosts = read_capture_dir(str(tmp_path))
    assert hosts["a"]["errors"][0].startswith("host.yml line 2: not valid YAML")
    assert hosts["b"]["errors"][0].startswith("host.yml: unknown key(s) flavour")
    assert "platform 'HP-UX' is not one of Linux, AIX, SunOS" in hosts["b"]["errors"][1]


def test_not_a_capture_dir(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        read_capture_dir(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="has no host folder"):
        read_capture_dir(str(tmp_path))


def test_every_format_against_values_written_by_hand(captures, tmp_path, fixture_text):
    # The test above compares with our own parsers; these values are read off the captured text by hand, so a
    # parser and a capture reader that went wrong together are still caught.
    hosts = read_capture_dir(str(captures))
    web, app, sol = (hosts[name]["facts"] for name in ("web", "app", "sol"))

    def nonzero(counts):
        return {key: value for key, value in counts.items() if value}

    def peers(netstat):
        return sorted(
            (entry["direction"], entry["service_port"], entry["peer"], entry["count"])
            for entry in netstat["established_by_peer"]
        )

    # Linux netstat -na: 7 tcp LISTEN (4 IPv4, 3 IPv6) and sshd's one session from 98.109.151.68:49300.
    assert nonzero(web["netstat"]["state_counts"]) == {"LISTEN": 7, "ESTABLISHED": 1}
    assert peers(web["netstat"]) == [("inbound", 22, "98.109.151.68", 1)]
    # The incident's slab line: ip_conntrack 3024 active of 4090 objects, 384 bytes each.
    cache = web["slabinfo"]["caches"]["ip_conntrack"]
    assert (cache["active_objs"], cache["num_objs"], cache["objsize"]) == (3024, 4090, 384)
    # /proc/net/ip_conntrack: 6 entries (5 udp, 1 tcp ESTABLISHED); 192.168.3.163 is the source of 4.
    assert web["conntrack"]["entries_parsed"] == 6
    assert web["conntrack"]["top_sources"][0] == {"address": "192.168.3.163", "count": 4}
    # AIX netstat -Aan: 2 CLOSED, 4 LISTEN, 2 ESTABLISHED; rmsock: socket 0xf1000e0000180808 held by writesrv
    # (pid 3211434); no -a: tcp_keepidle = 14400 half-seconds, so 7200 s.
    assert nonzero(app["netstat"]["state_counts"]) == {"CLOSED": 2, "LISTEN": 4, "ESTABLISHED": 2}
    assert peers(app["netstat"]) == [("inbound", 22, "24.236.207.124", 1), ("outbound", 443, "34.120.255.184", 1)]
    assert [(item["socket"], item["pid"], item["process"]) for item in app["aix"]["rmsock"]["results"]] == [
        ("0xf1000e0000180808", 3211434, "writesrv")
    ]
    assert app["keepalive"]["time"] == 7200
    # Solaris netstat -an: 9 LISTEN (6 IPv4, 3 IPv6), 2 ESTABLISHED to sshd.
    assert sol["netstat"]["state_counts"]["LISTEN"] == 9
    assert peers(sol["netstat"]) == [("inbound", 22, "100.1.162.250", 1), ("inbound", 22, "98.109.151.68", 1)]

    # /proc/net/tcp + tcp6 captures: proc-net-tcp-2 has 8 ESTABLISHED, tcp6-1 another 8 (2 of them IPv4-mapped).
    make_host(
        tmp_path / "proc",
        "h",
        {
            "proc-net-tcp.txt": fixture_text("linux/proc-net-tcp-2.txt"),
            "proc-net-tcp6.txt": fixture_text("linux/proc-net-tcp6-1.txt"),
        },
    )
    facts = read_capture_dir(str(tmp_path / "proc"))["h"]["facts"]
    assert nonzero(facts["netstat"]["state_counts"]) == {
        "LISTEN": 4,
        "ESTABLISHED": 16,
        "CLOSE_WAIT": 1,
        "FIN_WAIT_2": 1,
        "TIME_WAIT": 1,
    }
