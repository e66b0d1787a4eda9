# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline analysis: capture folders of real captured output (tests/unit/fixtures, SOURCES.md) give the facts the
parsers give, unknown and malformed files are reported by name and line, the rest is still analysed."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import netstat as aix_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat
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
    make_host(tmp_path, "sol", {"netstat-an.txt": fixture_text("sunos/netstat-an-2.txt")})
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
    assert app["facts"]["keepalive"]["tcp_keepidle"] == tunables["tcp_keepidle"]

    expected = sunos_netstat.parse(fixture_text("sunos/netstat-an-2.txt"), max_connections=1000, tuples=True)
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
    # The line that did not parse is not quoted: it could be anything the file was swapped for.
    assert app["errors"][1] == "rmsock.txt line 2: not an rmsock result line (aix_rmsock)"
    assert len(app["errors"]) == 2
    # The good rmsock lines and every other file are still read.
    assert len(app["facts"]["aix"]["rmsock"]["results"]) == len(rmsock)
    assert "netstat" in app["facts"] and "keepalive" in app["facts"]
    assert web["errors"] == ["slabinfo.txt line 2: expected a cache name and at least five numbers (linux_slabinfo)"]
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


def test_an_empty_capture_is_a_named_warning_not_an_empty_table(tmp_path, fixture_text):
    # What `cat /proc/net/ip_conntrack > ip_conntrack.txt` leaves on any recent kernel: nothing.
    make_host(
        tmp_path,
        "nat",
        {
            "netstat-an.txt": fixture_text("linux/netstat-na-1.txt"),
            "ip_conntrack.txt": "",
            "sysctl.txt": "net.netfilter.nf_conntrack_max = 262144\nnet.netfilter.nf_conntrack_count = 3\n",
        },
    )
    host = read_capture_dir(str(tmp_path))["nat"]
    assert host["errors"] == [
        "ip_conntrack.txt: empty file, not analysed (/proc/net/ip_conntrack exists only on old kernels; capture with "
        "'cat /proc/net/nf_conntrack 2>/dev/null || cat /proc/net/ip_conntrack > conntrack.txt' or "
        "'conntrack -L > conntrack-L.txt')"
    ]
    conntrack = host["facts"]["conntrack"]
    # The limits from sysctl.txt are there; no table was read, so no entry counts pretend to be zero.
    assert (conntrack["count"], conntrack["table"], conntrack["source"]) == (3, False, "none")
    assert "entries_parsed" not in conntrack
    report = build_report({"nat": host}, "2026-12-04T00:00:00Z")
    assert report["hosts"]["nat"]["status"] == "partial"


@pytest.mark.parametrize(
    ("fixture", "key_style"),
    [("linux/proc-net-nf_conntrack-2.txt", "nf_conntrack"), ("linux/proc-net-ip_conntrack-1.txt", "ip_conntrack")],
)
def test_conntrack_txt_takes_either_kernel_table(tmp_path, fixture_text, fixture, key_style):
    # `cat /proc/net/nf_conntrack 2>/dev/null || cat /proc/net/ip_conntrack > conntrack.txt` on any kernel.
    text = fixture_text(fixture)
    make_host(tmp_path, "nat", {"netstat-an.txt": fixture_text("linux/netstat-na-1.txt"), "conntrack.txt": text})
    host = read_capture_dir(str(tmp_path))["nat"]
    assert host["errors"] == []
    conntrack = host["facts"]["conntrack"]
    assert (conntrack["key_style"], conntrack["source"]) == (key_style, "conntrack.txt")
    assert conntrack["entries_parsed"] == linux_conntrack.parse(text)["entries_parsed"]


def test_a_cut_off_last_line_is_named_and_the_lines_before_it_are_analysed(tmp_path, fixture_text):
    netstat = fixture_text("aix/netstat-Aan-1.txt")
    lines = netstat.splitlines()
    cut = "\n".join(lines[:6]) + "\n" + lines[6][:30]  # a copy that stopped inside line 7
    make_host(tmp_path, "app", {"netstat-Aan.txt": cut})
    host = read_capture_dir(str(tmp_path))["app"]
    assert host["errors"] == [
        "netstat-Aan.txt line 7: cut off (the file ends inside this line: a truncated copy?); the lines before it are "
        "analysed"
    ]
    expected = aix_netstat.parse("\n".join(lines[:6]) + "\n", max_connections=1000, tuples=True)
    assert host["facts"]["netstat"]["state_counts"] == expected["state_counts"]
    assert host["facts"]["netstat"]["connections"] == expected["connections"]


def test_a_file_without_a_final_line_end_that_reads_well_is_not_a_warning(tmp_path, fixture_text):
    make_host(tmp_path, "app", {"netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt").rstrip("\n")})
    assert read_capture_dir(str(tmp_path))["app"]["errors"] == []


def test_ss_with_a_state_filter(tmp_path, fixture_text):
    make_host(tmp_path, "web", {"ss-established.txt": fixture_text("linux/ss-tnpeo-state-established-1.txt")})
    host = read_capture_dir(str(tmp_path))["web"]
    assert host["errors"] == [] and host["platform"] == "Linux"
    netstat = host["facts"]["netstat"]
    assert netstat["state_counts"]["ESTABLISHED"] == 12 and netstat["sources"] == ["ss-established.txt"]


def test_symbolic_links_are_not_followed_and_are_named(tmp_path, fixture_text):
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    (tmp_path / "outside" / "root-file-name").write_text("x")
    captures = tmp_path / "captures"
    make_host(captures, "web", {"proc-net-tcp.txt": fixture_text("linux/proc-net-tcp-2.txt")})
    (captures / "web" / "netstat-an.txt").symlink_to(secret)
    (captures / "web" / "slabinfo.txt").symlink_to(captures / "web" / "proc-net-tcp.txt")  # inside, still a link
    (captures / "rootdir").symlink_to(secret.parent, target_is_directory=True)
    hosts = read_capture_dir(str(captures))
    assert sorted(hosts) == ["rootdir", "web"]
    assert hosts["web"]["errors"] == [
        "netstat-an.txt: a symbolic link, not followed (copy the file into the folder)",
        "slabinfo.txt: a symbolic link, not followed (copy the file into the folder)",
    ]
    assert hosts["web"]["facts"]["netstat"]["sources"] == ["proc-net-tcp.txt"]
    assert hosts["rootdir"]["errors"] == [
        "rootdir: a symbolic link, not followed (host folders must be folders in the capture)"
    ]
    assert hosts["rootdir"]["facts"] == {}
    report = build_report(hosts, "2026-12-04T00:00:00Z")
    text = json.dumps(report, ensure_ascii=False)
    assert "secret-hash" not in text and "root-file-name" not in text and "root:" not in text
    assert report["hosts"]["rootdir"]["status"] == "failed"
    assert report["hosts"]["web"]["status"] == "partial"


def test_a_line_that_does_not_parse_is_not_quoted(tmp_path):
    make_host(tmp_path, "web", {"proc-net-tcp.txt": "root:$6$secret-hash:19000:0:99999:7:::\n"})
    errors = read_capture_dir(str(tmp_path))["web"]["errors"]
    assert len(errors) == 1 and errors[0].startswith("proc-net-tcp.txt line 1: ")
    assert "secret" not in errors[0] and "root" not in errors[0]


def test_a_fifo_or_device_is_refused_without_blocking(tmp_path, fixture_text):
    make_host(tmp_path, "web", {"proc-net-tcp.txt": fixture_text("linux/proc-net-tcp-2.txt")})
    os.mkfifo(tmp_path / "web" / "nf_conntrack.txt")  # a writer that never comes would hang a plain open()
    hosts = read_capture_dir(str(tmp_path))
    assert hosts["web"]["errors"] == ["nf_conntrack.txt: not a regular file, not read"]
    assert "netstat" in hosts["web"]["facts"]


def test_names_that_are_not_utf8_are_replaced_and_the_report_encodes(tmp_path, fixture_text):
    root = os.fsencode(tmp_path)
    os.mkdir(os.path.join(root, b"web\xff01"))
    with open(os.path.join(root, b"web\xff01", b"proc-net-tcp.txt"), "w") as handle:
        handle.write(fixture_text("linux/proc-net-tcp-2.txt"))
    with open(os.path.join(root, b"web\xff01", b"notes\xfe.txt"), "w") as handle:
        handle.write("x\n")
    make_host(tmp_path, "app", {"netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt")})
    hosts = read_capture_dir(str(tmp_path))
    assert sorted(hosts) == ["app", "web\ufffd01"]
    web = hosts["web\ufffd01"]
    assert web["errors"][0].startswith("notes\ufffd.txt: unknown file name, not analysed")
    assert web["mode_reason"] == "captured files in %s/web\ufffd01" % tmp_path
    report = build_report(hosts, "2026-12-04T00:00:00Z")
    json.dumps(report, ensure_ascii=False).encode("utf-8")  # strict: a surrogate would raise
    assert report["hosts"]["web\ufffd01"]["status"] == "partial"
    assert report["hosts"]["app"]["status"] == "ok"


def test_file_contents_that_are_not_utf8_are_replaced(tmp_path, fixture_text):
    make_host(tmp_path, "web", {})
    ss = "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n"
    ss += 'ESTAB  0      0      198.51.100.1:5555  198.51.100.2:40000 users:(("web\\xff",pid=1,fd=3))\n'
    (tmp_path / "web" / "ss.txt").write_bytes(ss.encode().replace(b"\\xff", b"\xff\xfe"))
    hosts = read_capture_dir(str(tmp_path))
    json.dumps(hosts, ensure_ascii=False).encode("utf-8")
    assert hosts["web"]["errors"] == []
    assert hosts["web"]["facts"]["netstat"]["connections"][0]["process"] == "web\ufffd\ufffd"


def test_a_file_over_the_limit_is_named_with_its_size_and_read_up_to_it(tmp_path, fixture_text):
    tcp = fixture_text("linux/proc-net-tcp-2.txt")
    make_host(tmp_path, "web", {"proc-net-tcp.txt": tcp})
    make_host(tmp_path, "app", {"netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt")})
    limit = len(fixture_text("aix/netstat-Aan-1.txt").encode()) + 1  # the AIX file fits, /proc/net/tcp does not
    assert limit < len(tcp.encode())
    hosts = read_capture_dir(str(tmp_path), max_bytes=limit)
    assert hosts["web"]["errors"] == [
        "proc-net-tcp.txt: %d bytes, over netdiag_max_capture_bytes (%d); read up to the limit" % (len(tcp), limit)
    ]
    kept = tcp[: tcp.rfind("\n", 0, limit) + 1]
    expected = linux_proc_net_tcp.parse(kept)
    assert hosts["web"]["facts"]["netstat"]["state_counts"] == expected["state_counts"]
    assert hosts["app"]["errors"] == [] and "netstat" in hosts["app"]["facts"]


def test_reading_a_big_file_keeps_memory_bounded_by_the_limit(tmp_path):
    import subprocess
    import sys

    make_host(tmp_path, "web", {})
    with open(tmp_path / "web" / "nf_conntrack.txt", "wb") as handle:
        handle.truncate(200 << 20)  # 200 MB of zero bytes (sparse): only reading makes it cost memory
    script = (
        "import sys\n"
        "from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.capture_dir import read_capture_dir\n"
        "hosts = read_capture_dir(sys.argv[1], max_bytes=1 << 20)\n"
        # VmHWM, not ru_maxrss: ru_maxrss survives execve, so it would hold the (big) pytest parent's peak.
        "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0])\n"
        "print(hosts['web']['errors'][0])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    peak_kib, first_error = completed.stdout.splitlines()[:2]
    expected = "nf_conntrack.txt: %d bytes, over netdiag_max_capture_bytes (1048576); read up to the limit"
    assert first_error == expected % (200 << 20)
    assert int(peak_kib) < 150 * 1024  # far below the 200 MB a whole read would take


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
