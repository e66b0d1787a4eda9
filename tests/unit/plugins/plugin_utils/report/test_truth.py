# SPDX-License-Identifier: GPL-3.0-or-later
"""The Markdown and HTML reports say no more than the facts.

Reports are built from facts that real captures give (tests/unit/fixtures, SOURCES.md), read the ways the audit
reads hosts: capture folders (playbooks/analyze.yml) and the AIX collector at its command boundary (module mode).
Then every block of the report is rendered by both renderers and walked:

* a value the JSON does not know (null, or counted in ``established_keepalive_unknown``) never shows as a number;
* every holder says which source named it, rmsock and pfiles answers have their own section;
* evidence is labelled lines, with no field names or JSON dumps, and samples are folded.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect.aix_sockets import AixNetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.collect.linux_sockets import LinuxNetstatCollector
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import report_blocks, summary_lines
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.evidence import LABELS, label
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.unknowns import established_count, keepalive_unknown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.capture_dir import read_capture_dir

NUMBER = re.compile(r"^-?[0-9][0-9.,]*%?$")
GENERATED_AT = "2026-12-07T03:00:00Z"


def make_host(root, host, files):
    folder = root / host
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def aix_module_facts(fixture_text, rmsock=True, root=False):
    """netstat_facts' AIX collector on real captures: kdb cannot run (not root), lsof is not installed, rmsock
    answers as in the captured technote for every socket it is asked about."""
    answers = {
        ("/usr/bin/netstat", "-Aan"): (0, fixture_text("aix/netstat-Aan-1.txt"), ""),
        ("/usr/sbin/no", "-o", "tcp_keepidle", "-o", "tcp_keepintvl", "-o", "tcp_keepcnt"): (
            0,
            fixture_text("aix/no-a-1.txt"),
            "",
        ),
    }

    def run_command(argv, data=None):
        if argv[0] == "/usr/sbin/rmsock":
            return 0, fixture_text("aix/rmsock-1.txt").splitlines()[0] + "\n", ""
        return answers.get(tuple(argv), (1, "", "%s: not found" % argv[0]))

    def get_bin_path(name):
        return None if name == "lsof" else {"netstat": "/usr/bin/netstat"}.get(name, "/usr/sbin/" + name)

    collector = AixNetstatCollector(run_command, get_bin_path, {"aix_rmsock": rmsock}, is_root=root)
    netstat, keepalive = collector.collect(Selection(states=["ESTABLISHED"]), tuples=True)
    facts = {"netstat": netstat, "keepalive": keepalive}
    if collector.aix:
        facts["aix"] = collector.aix
    return {"status": "reached", "errors": [], "facts": facts, "platform": "AIX", "mode": "module"}


def linux_module_facts(root, fixture_text):
    """netstat_facts' Linux collector on a /proc tree holding the tables captured on a test machine (SOURCES.md)
    and the process that owns its sockets: keepalive is known for every socket (the timer column)."""
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(fixture_text("linux/proc-net-tcp-2.txt"))
    (root / "net" / "tcp6").write_text(fixture_text("linux/proc-net-tcp6-1.txt"))
    sysctls = root / "sys" / "net" / "ipv4"
    sysctls.mkdir(parents=True)
    for name, value in (("time", "7200"), ("intvl", "75"), ("probes", "9")):
        (sysctls / ("tcp_keepalive_" + name)).write_text(value + "\n")
    fd = root / "20407" / "fd"
    fd.mkdir(parents=True)
    (root / "20407" / "comm").write_text("python3\n")
    for number, inode in enumerate((25000, 25001, 25007), start=3):
        os.symlink("socket:[%d]" % inode, str(fd / str(number)))
    collector = LinuxNetstatCollector(proc_root=str(root), byteorder="little", reader="proc")
    netstat, keepalive = collector.collect(Selection(), tuples=True, protocols=("tcp",))
    return {"status": "reached", "errors": [], "facts": {"netstat": netstat, "keepalive": keepalive}, "mode": "module"}


@pytest.fixture
def fleet(tmp_path, fixture_text):
    """Hosts read every way, with the peers their sockets point at audited (so half-open sockets are judged)."""
    make_host(
        tmp_path,
        "web",  # netstat -an: no owners, no keepalive
        {"netstat-an.txt": fixture_text("linux/netstat-na-1.txt")},
    )
    make_host(
        tmp_path,
        "app",  # an AIX server read from captures: netstat -Aan, the rmsock loop's log, no -a
        {
            "netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt"),
            "rmsock.txt": fixture_text("aix/rmsock-7.txt") + fixture_text("aix/rmsock-8.txt"),
            "no-a.txt": fixture_text("aix/no-a-1.txt"),
        },
    )
    make_host(
        tmp_path,
        "client",  # the address the AIX hosts' ssh session comes from, audited, holding none of those sockets
        {"proc-net-tcp.txt": fixture_text("linux/proc-net-tcp-1.txt"), "host.yml": "ansible_host: 24.236.207.124\n"},
    )
    make_host(tmp_path, "sun", {"netstat-an.txt": fixture_text("sunos/netstat-an-1.txt")})
    make_host(
        tmp_path,
        "nat",  # the incident's NAT: its conntrack table and the one sysctl line the runbook asks for
        {
            "netstat-an.txt": fixture_text("linux/netstat-na-1.txt"),
            "ip_conntrack.txt": fixture_text("linux/proc-net-ip_conntrack-1.txt"),
            "sysctl.txt": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 432000\n",
        },
    )
    make_host(tmp_path, "tanpo", {"netstat-an.txt": fixture_text("linux/netstat-tanpo-1.txt")})
    gathered = read_capture_dir(str(tmp_path))
    gathered["aixmod"] = aix_module_facts(fixture_text)  # the same AIX table, read by netstat_facts with rmsock
    gathered["linuxmod"] = linux_module_facts(tmp_path / "proc", fixture_text)
    gathered["down"] = {"status": "unreachable", "errors": ["ssh: connect to host down port 22: timed out"]}
    return gathered


@pytest.fixture
def report(fleet):
    return build_report(fleet, GENERATED_AT, correlation={"min_half_open": 1})


class Text(HTMLParser):
    """The text of an HTML fragment, cell by cell."""

    def __init__(self):
        super().__init__()
        self.cells = []
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th", "li", "summary", "p", "text"):
            self.parts = []

    def handle_endtag(self, tag):
        if tag in ("td", "th", "li", "summary", "p", "text"):
            self.cells.append("".join(self.parts).strip())

    def handle_data(self, data):
        self.parts.append(data)


def html_cells(fragment):
    parser = Text()
    parser.feed(fragment)
    return parser.cells


def markdown_cells(lines):
    cells = []
    for line in lines:
        if line.startswith("|") and not line.startswith("|---"):
            cells.extend(cell.strip().replace("\\", "") for cell in line.strip("|").split(" | "))
    return cells


def host_sections(report):
    """[(host or None, block)] for every block, with the host whose section it is in."""
    current = None
    found = []
    for block in flat_blocks(report_blocks(report)):
        if block[0] == "heading" and block[1] == 2:
            name = block[2].split(" ", 1)[0]
            current = name if name in report["hosts"] else None
        found.append((current, block))
    return found


def flat_blocks(blocks):
    """The blocks with every collapsed part ("details", level, title, blocks) opened: its title as a heading of
    its level, then its blocks (each host's section is one such part)."""
    for block in blocks:
        if block[0] == "details":
            yield ("heading", block[1], block[2])
            yield from flat_blocks(block[3])
        else:
            yield block


def keepalive_column(block):
    return block[1].index("without keepalive") if block[0] == "table" and "without keepalive" in block[1] else None


def test_the_fleet_covers_every_way_of_not_knowing(report):
    """The property below must have something to bite on: hosts whose keepalive is unknown for all sockets, a
    host where it is known, one that was not reached, and null values in the evidence."""
    wholly = [
        name
        for name, host in report["hosts"].items()
        if host.get("netstat") and keepalive_unknown(host["netstat"]) == established_count(host["netstat"]) > 0
    ]
    assert {"web", "app", "sun", "aixmod"} <= set(wholly)
    assert keepalive_unknown(report["hosts"]["tanpo"]["netstat"]) == 0
    assert keepalive_unknown(report["hosts"]["linuxmod"]["netstat"]) == 0
    assert established_count(report["hosts"]["linuxmod"]["netstat"]) > 0
    assert report["hosts"]["down"]["status"] == "unreachable"
    assert {item["id"] for item in report["findings"]} >= {"half-open-sockets"}


def test_no_number_is_shown_where_the_json_does_not_know(report):
    """Every table and every paragraph of both renderers, host by host: where the host's keepalive is unknown the
    "without keepalive" cells and the SO_KEEPALIVE line say unknown; a null cell never renders as a number."""
    walked = 0
    for host_name, block in host_sections(report):
        host = report["hosts"].get(host_name) or {}
        netstat = host.get("netstat") or {}
        all_unknown = bool(netstat) and keepalive_unknown(netstat) == established_count(netstat) > 0
        rendered_md = markdown.render_block(block)
        rendered_html = html_cells(html.render_block(block))
        if block[0] == "table":
            walked += 1
            column = keepalive_column(block)
            md_rows = [markdown_cells([line]) for line in rendered_md[2:] if line]
            html_rows = [
                rendered_html[index : index + len(block[1])]
                for index in range(len(block[1]), len(rendered_html), len(block[1]))
            ]
            assert len(md_rows) == len(html_rows) == len(block[2])
            for row, md_row, html_row in zip(block[2], md_rows, html_rows):
                for index, value in enumerate(row):
                    if value is None:
                        assert not NUMBER.match(md_row[index]) and not NUMBER.match(html_row[index]), (block, index)
                if column is not None and all_unknown:
                    assert md_row[column].startswith("unknown") and html_row[column].startswith("unknown"), row
                if column is not None and host.get("netstat") and not keepalive_unknown(netstat):
                    assert NUMBER.match(md_row[column]), row  # known: the number itself
        if block[0] == "paragraph" and "SO_KEEPALIVE" in block[1] and host_name:
            walked += 1
            shown = block[1].rsplit(": ", 1)[1]
            if not netstat or keepalive_unknown(netstat):
                assert "unknown" in shown, block
            else:
                assert NUMBER.match(shown), block
    assert walked > 10


def test_null_evidence_is_unknown_in_both_renderers(report):
    """Every finding, every evidence value that is null: its labelled line says unknown, in Markdown and HTML."""
    checked = 0
    for item in report["findings"]:
        block = ("evidence", item["evidence"], item["id"])
        md_lines = markdown.render_block(block)
        html_text = html_cells(html.render_block(block))
        for key, value in item["evidence"].items():
            if value is None:
                checked += 1
                assert "  - %s: unknown" % markdown.escape(label(key, item["id"])) in md_lines
                position = html_text.index(label(key, item["id"]))
                assert html_text[position + 1] == "unknown"
    # The captured NAT's table size was not captured: null in the evidence, "unknown" in both reports.
    assert checked >= 1
    synthetic = {"count": None, "max": 4096, "usage_pct": None, "keepalive": {"time": None, "intvl": 75}}
    md_lines = markdown.render_block(("evidence", synthetic))
    assert "  - Sockets: unknown" in md_lines and "  - Usage (%): unknown" in md_lines
    assert "  - Keepalive: interval 75 s, time unknown, probes unknown" in md_lines


def test_no_keepalive_finding_is_not_raised_from_unknown_sockets(report):
    assert not [item for item in report["findings"] if item["id"] == "no-keepalive"]


def test_holders_name_their_source_in_every_mode(report):
    half_open = {(item["host"]): item for item in report["findings"] if item["id"] == "half-open-sockets"}
    # Module mode: rmsock answered for the ESTABLISHED socket's PCB (kdb could not run, lsof is not installed).
    evidence = half_open["aixmod"]["evidence"]
    assert evidence["holders"] == [
        {"pid": 3211434, "process": "writesrv", "user": None, "named_by": ["rmsock"], "count": 1}
    ]
    assert "writesrv (pid 3211434, named by rmsock) 1" in half_open["aixmod"]["summary"]
    # Captures: the rmsock log names processes by the socket's kernel address, not by the PCB netstat -Aan lists.
    evidence = half_open["app"]["evidence"]
    assert evidence["holders"][0]["pid"] is None and evidence["holders"][0]["named_by"] == []
    assert evidence["named_on_host"] == [
        {"pid": 143640, "process": "java", "sockets": 1, "named_by": ["rmsock"]},
        {"pid": 4325554, "process": "javaw", "sockets": 1, "named_by": ["rmsock"]},
    ]
    summary = half_open["app"]["summary"]
    assert "pid ?" not in summary
    assert "rmsock named java (pid 143640) for 1 socket, javaw (pid 4325554) for 1 socket on this host" in summary


def test_rmsock_answers_have_their_own_section(report):
    text = markdown.render(report).replace("\\", "")
    app = text[text.index("## app (ok) (from captures)") : text.index("## client")]
    assert "rmsock answers: held by a process 2, held by the kernel 0, removed (no holder) 0, errors 0" in app
    assert "| java | 143640 | 1 |" in app and "| javaw | 4325554 | 1 |" in app
    assert "not linked to single sockets" in app
    module = text[text.index("## aixmod (ok)") : text.index("## app (ok)")]
    assert "Socket owners: not read (kdb sockinfo needs root (become); lsof: command not found)" in module
    assert "| writesrv | 3211434 | 2 |" in module
    page = html.render(report)
    assert "<td>writesrv</td><td>3211434</td><td>2</td>" in page


def test_pfiles_section_when_pfiles_was_read():
    from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.owner_sections import pfiles_blocks

    host = {
        "sunos": {"pfiles": {"ran": True, "pids": [771, 772], "sockets": 3, "errors": ["pfiles: cannot examine 772"]}}
    }
    blocks = pfiles_blocks(host)
    assert blocks[0] == (
        "paragraph",
        "pfiles: 2 processes inspected (holders of the selected sockets), Internet sockets read: 3",
    )
    assert blocks[1] == ("list", ["pfiles: pfiles: cannot examine 772"])
    assert pfiles_blocks({"sunos": {"pfiles": {"ran": False, "reason": "check mode: pfiles stops each process"}}}) == [
        ("paragraph", "pfiles: not run (check mode: pfiles stops each process)")
    ]


def test_evidence_is_labelled_lines_without_field_names_or_json(report):
    text = markdown.render(report)
    page = html.render(report)
    for item in report["findings"]:
        for key in item["evidence"]:
            if "_" in key and key in LABELS and key not in ("tcp_keepalive_time",):
                assert "%s:" % key not in text and ">%s<" % key not in page, key
    assert "\\{" not in text and '\\"' not in text  # no escaped JSON dumps
    assert "per_connection" not in text and "client_half_open" not in text
    assert "per_connection" not in page and "client_half_open" not in page


def test_samples_are_folded(fleet):
    from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.matching import SAMPLE_SIZE

    rows = "\n".join("198.51.100.20 5555 198.51.100.10 %d 4242 0" % (40000 + index) for index in range(30))
    app = {
        "state_counts": {"ESTABLISHED": 30},
        "listeners": [{"protocol": "tcp", "local_address": "*", "local_port": 5555}],
        "established_by_peer": [{"direction": "inbound", "service_port": 5555, "peer": "198.51.100.10", "count": 30}],
        "established_without_keepalive": 30,
        "established_keepalive_unknown": 0,
        "established_tuples": {"rows": rows, "count": 30, "truncated": False},
        "holders": {"4242": {"process": "app_srv", "user": "app"}},
    }
    web = {"state_counts": {"ESTABLISHED": 0}, "established_tuples": {"rows": "", "count": 0, "truncated": False}}
    built = build_report(
        {
            "app": {"status": "reached", "facts": {"netstat": app}, "addresses": ["198.51.100.20"]},
            "web": {"status": "reached", "facts": {"netstat": web}, "addresses": ["198.51.100.10"]},
        },
        GENERATED_AT,
    )
    (finding,) = [item for item in built["findings"] if item["id"] == "half-open-sockets"]
    lines = markdown.render_block(("evidence", finding["evidence"]))
    start = lines.index("  - Sample of the sockets (5 of 30):")
    assert lines[start + 1] == "    - local 198.51.100.20:5555, remote 198.51.100.10:40000, pid 4242"
    assert lines[start + 6] == "    - %d more in the JSON (its sample holds %d of the 30)" % (
        SAMPLE_SIZE - 5,
        SAMPLE_SIZE,
    )
    assert "  - Held by: app_srv (pid 4242, user app): 30 sockets, named by owner scan" in lines
    page = html.render_block(("evidence", finding["evidence"]))
    assert '<details class="sample"><summary>20 sockets of 30 (the JSON has this sample)</summary><table>' in page
    assert page.count("<tr><td>198.51.100.20</td>") == SAMPLE_SIZE


def test_zero_counts_are_not_coloured_as_alarms():
    page = html.summary_html({"critical": 0, "warning": 2, "info": 0}, {"ok": 1, "failed": 0})
    assert '<tr class=""><td>critical</td><td class="count">0</td></tr>' in page
    assert '<tr class="warning"><td>warning</td><td class="count">2</td></tr>' in page
    assert '<tr class=""><td>info</td><td class="count">0</td></tr>' in page


def test_the_report_records_what_it_was_run_with(fleet):
    from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.run_settings import collection_info

    run = {
        "settings": {"ports": [5555], "peers": ["198.51.100.0/24"], "max_connections": 1000},
        "collection": collection_info(),
    }
    built = build_report(fleet, GENERATED_AT, {"close_wait": 50}, {"min_half_open": 1}, run)
    assert built["run"]["collection"]["name"] == "netdiag.tcp"
    assert re.match(r"^[0-9]+\.[0-9]+\.[0-9]+", built["run"]["collection"]["version"])
    assert built["run"]["settings"] == run["settings"]
    assert built["run"]["thresholds"] == {
        "close_wait": 50,
        "conntrack_near_full_pct": 80,
        "conntrack_full_pct": 95,
        "no_keepalive": 20,
    }
    assert built["run"]["correlation"] == {"min_gap": 10, "ratio": 2.0, "min_half_open": 1}
    assert built["run"]["caps"]["half_open_sample"] == 20
    text = markdown.render(built).replace("\\", "")
    assert "| collection | netdiag.tcp %s |" % built["run"]["collection"]["version"] in text
    assert "| Ports | 5555 |" in text and "| Peers | 198.51.100.0/24 |" in text
    version = built["run"]["collection"]["version"]
    assert text.index("Built by netdiag.tcp %s, ports 5555, peers 198.51.100.0/24;" % version) < text.index(
        "## Summary"
    )
    assert text.index("## Summary") < text.index("## Run with")
    assert "| close-wait-buildup from (CLOSE_WAIT sockets) (close_wait) | 50 |" in text
    page = html.render(built)
    assert "<td>half-open-sockets from (sockets) (min_half_open)</td><td>1</td>" in page


def test_summary_lines_say_unknown_not_zero(report):
    lines = summary_lines(report)
    down = [line for line in lines if line.startswith("  down:")]
    assert down == ["  down: unreachable"]
    (hosts_table,) = [
        block for block in report_blocks(report) if block[0] == "table" and block[1][0:2] == ["host", "status"]
    ]
    overview = {row[0]: row for row in hosts_table[2]}
    assert overview["down"][3:6] == ["unknown", "unknown", "unknown"]
    assert overview["web"][3] == 1 and overview["web"][4] == 0  # read as 0: a number


def test_pair_picture_draws_no_bar_for_an_unknown_count():
    pair = {"client": "web", "server": "app", "service_port": 5555, "client_count": None, "server_count": 42}
    picture = html.pair_svg(pair)
    assert picture.count("<rect x=") == 1 + 3  # the server's bar and the three legend squares
    assert '<text x="150" y="24" font-size="13">unknown</text>' in picture


# Solaris 10: no netstat -u, so only pfiles names holders. The netstat -an table holding pfiles-2.txt's connection is
# synthetic (as in test_netstat_facts_sunos.py); the pfiles answer joins two real captures: pfiles-1.txt's
# "<pid>:  <command>" header and pfiles-2.txt's connected socket (illumos).
SOLARIS10_TABLE = (
    "\nTCP: IPv4\n"
    "   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State\n"
    "-------------------- -------------------- ----- ------ ----- ------ -----------\n"
    "172.27.10.9.22       172.27.10.79.38576   128872      0 128872      0 ESTABLISHED\n"
)


def solaris10_facts(root, fixture_text):
    from ansible_collections.netdiag.tcp.plugins.module_utils.collect.sunos_sockets import SunosNetstatCollector

    (root / "12284").mkdir(parents=True)
    header = fixture_text("sunos/pfiles-1.txt").splitlines()[0] + "\n"
    answers = {
        ("/usr/bin/netstat", "-anu", "-P", "tcp"): (1, "", "netstat: illegal option -- u\n"),
        ("/usr/bin/netstat", "-an", "-P", "tcp"): (0, SOLARIS10_TABLE, ""),
        ("/usr/bin/pfiles", "12284"): (0, header + fixture_text("sunos/pfiles-2.txt"), ""),
    }

    def run_command(argv):
        return answers.get(tuple(argv), (1, "", "%s: not found" % argv[0]))

    collector = SunosNetstatCollector(
        run_command,
        {"netstat": "/usr/bin/netstat", "pfiles": "/usr/bin/pfiles"}.get,
        {"sunos_pfiles": True},
        proc_root=str(root),
        euid=0,
    )
    netstat, keepalive = collector.collect(Selection(), tuples=True, protocols=("tcp",))
    facts = {"netstat": netstat, "keepalive": keepalive, "sunos": collector.sunos}
    return {"status": "reached", "errors": [], "facts": facts, "platform": "SunOS", "mode": "module"}


def test_pfiles_names_the_holder_on_solaris_10(tmp_path, fixture_text):
    client_rows = {
        "state_counts": {"ESTABLISHED": 0},
        "established_tuples": {"rows": "", "count": 0, "truncated": False},
    }
    built = build_report(
        {
            "sol": solaris10_facts(tmp_path / "proc", fixture_text),
            "client": {"status": "reached", "facts": {"netstat": client_rows}, "addresses": ["172.27.10.79"]},
        },
        GENERATED_AT,
        correlation={"min_half_open": 1},
    )
    (finding,) = [item for item in built["findings"] if item["id"] == "half-open-sockets"]
    (holder,) = finding["evidence"]["holders"]
    assert (holder["pid"], holder["named_by"]) == (12284, ["pfiles"])
    assert finding["evidence"]["keepalive"] == "on"  # pfiles read SO_KEEPALIVE
    text = markdown.render(built).replace("\\", "")
    section = text[text.index("## sol (ok)") :]
    assert "Socket owners: not read (netstat -u not supported here (rc 1: netstat: illegal option -- u))" in section
    assert "pfiles: 1 process inspected (processes in pid order (netstat shows no owners here))" in section
    assert "Internet sockets read: 1" in section
    assert "ESTABLISHED without SO_KEEPALIVE: 0" in section  # known: pfiles saw the socket
