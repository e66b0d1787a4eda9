# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report: host status, findings, correlation of both ends, Markdown/HTML rendering."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report, host_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.correlation import (
    correlate,
    declared_addresses,
    host_addresses,
)
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import summary_lines
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.findings import host_findings

# The incident of 2012 in facts: the web server sees 35 sessions to the app server's port 5555, the app server 214.
WEB_NETSTAT = {
    "state_counts": {"ESTABLISHED": 35, "LISTEN": 2},
    "established_by_peer": [{"direction": "outbound", "service_port": 5555, "peer": "198.51.100.20", "count": 35}],
    "listeners": [{"protocol": "tcp", "local_address": "198.51.100.10", "local_port": 80}],
    "connections": [],
    "established_without_keepalive": 35,
}
APP_NETSTAT = {
    "state_counts": {"ESTABLISHED": 214, "LISTEN": 1, "CLOSE_WAIT": 25},
    "established_by_peer": [{"direction": "inbound", "service_port": 5555, "peer": "198.51.100.10", "count": 214}],
    "listeners": [{"protocol": "tcp", "local_address": "198.51.100.20", "local_port": 5555}],
    "connections": [
        {"state": "CLOSE_WAIT", "pid": 376864, "process": "xxxx_srv"},
        {"state": "CLOSE_WAIT", "pid": 376864, "process": "xxxx_srv"},
        {"state": "CLOSE_WAIT"},
    ],
    "established_without_keepalive": 3,
}
NAT_CONNTRACK = {
    "available": True,
    "key_style": "ip_conntrack",
    "count": 3400,
    "max": 4096,
    "usage_pct": 83.0,
    "timeouts": {"tcp_timeout_established": 432000},
    "top_sources": [{"address": "198.51.100.10", "count": 295}],
    "stats": {"drop": 0, "early_drop": 0},
}


def gathered(netstat=None, conntrack=None, status="reached", errors=()):
    facts = {}
    if netstat is not None:
        facts["netstat"] = copy.deepcopy(netstat)
    if conntrack is not None:
        facts["conntrack"] = copy.deepcopy(conntrack)
    return {"status": status, "errors": list(errors), "facts": facts}


def pair(client, server, client_count, server_count, port=5555, unattributed=(0, 0)):
    """A pair as the report gives it; client and server are lists of hosts when an end has several."""
    client_hosts = client if isinstance(client, list) else [client]
    server_hosts = server if isinstance(server, list) else [server]
    return {
        "client": "+".join(client_hosts),
        "server": "+".join(server_hosts),
        "service_port": port,
        "client_count": client_count,
        "server_count": server_count,
        "client_hosts": client_hosts,
        "server_hosts": server_hosts,
        "client_unattributed": unattributed[0],
        "server_unattributed": unattributed[1],
        "per_connection": False,
    }


def incident():
    return {
        "web01": gathered(WEB_NETSTAT, NAT_CONNTRACK),
        "app01": gathered(APP_NETSTAT),
        "db01": gathered(status="unreachable", errors=["Failed to connect to the host via ssh"]),
    }


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        (gathered(WEB_NETSTAT), "ok"),
        (gathered(WEB_NETSTAT, errors=["conntrack_facts: boom"]), "partial"),
        (gathered(errors=["netstat_facts: unsupported platform"]), "failed"),
        (gathered(), "failed"),
        (gathered(status="unreachable", errors=["no route"]), "unreachable"),
    ],
)
def test_host_status(entry, status):
    assert host_report(entry)["status"] == status


def test_failed_host_without_errors_says_why():
    assert host_report(gathered())["errors"] == ["no socket table was gathered from this host"]


def test_incident_report_findings_and_pairs():
    report = build_report(incident(), "2026-11-25T21:30:00Z")
    assert report["schema"] == 1
    assert sorted(report["hosts"]) == ["app01", "db01", "web01"]
    assert report["hosts"]["db01"]["status"] == "unreachable"
    assert report["pairs"] == [pair("web01", "app01", 35, 214)]
    ids = [(item["severity"], item["id"], item["host"]) for item in report["findings"]]
    assert ids == [
        ("warning", "asymmetric-established", "app01"),
        ("warning", "close-wait-buildup", "app01"),
        ("warning", "conntrack-near-full", "web01"),
        ("warning", "conntrack-timeout-default", "web01"),
        ("info", "no-keepalive", "web01"),
    ]
    asymmetric = report["findings"][0]
    assert asymmetric["evidence"] == dict(
        pair("web01", "app01", 35, 214),
        matching="counts",
        matching_reason="not every host of web01 and app01 listed its ESTABLISHED sockets (netstat_facts tuples), "
        "so the connections were compared by counts only",
    )
    timeout = next(item for item in report["findings"] if item["id"] == "conntrack-timeout-default")
    assert timeout["evidence"]["key"] == "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"
    close_wait = next(item for item in report["findings"] if item["id"] == "close-wait-buildup")
    assert close_wait["evidence"]["owners"] == {"xxxx_srv (pid 376864)": 2, "unknown": 1}
    json.dumps(report)  # the report must be plain JSON data


@pytest.mark.parametrize(
    ("usage", "severity"),
    [(79.9, None), (80.0, "warning"), (94.9, "warning"), (95.0, "critical"), (100.0, "critical")],
)
def test_conntrack_near_full_threshold(usage, severity):
    conntrack = dict(NAT_CONNTRACK, usage_pct=usage, timeouts={"tcp_timeout_established": 1200})
    found = host_findings({"nat": host_report(gathered(WEB_NETSTAT, conntrack))})
    near_full = [item["severity"] for item in found if item["id"] == "conntrack-near-full"]
    assert near_full == ([severity] if severity else [])


def test_thresholds_are_configurable():
    hosts = {"app01": host_report(gathered(APP_NETSTAT))}
    assert [item["id"] for item in host_findings(hosts)] == ["close-wait-buildup"]
    assert host_findings(hosts, {"close_wait": 26}) == []


def test_conntrack_unavailable_gives_no_conntrack_findings():
    conntrack = {"available": False, "reason": "nf_conntrack is not loaded"}
    assert (
        host_findings({"h": host_report(gathered(dict(WEB_NETSTAT, established_without_keepalive=0), conntrack))}) == []
    )


def test_symmetric_counts_are_paired_without_finding():
    hosts = {
        "web01": host_report(gathered(WEB_NETSTAT)),
        "app01": host_report(
            gathered(
                dict(
                    APP_NETSTAT,
                    established_by_peer=[
                        {"direction": "inbound", "service_port": 5555, "peer": "198.51.100.10", "count": 40}
                    ],
                )
            )
        ),
    }
    addresses = {name: host_addresses(report) for name, report in hosts.items()}
    pairs, findings = correlate(hosts, addresses)
    assert pairs == [pair("web01", "app01", 35, 40)]
    assert findings == []


def test_host_addresses_skip_wildcard_and_loopback_and_use_inventory_hint():
    netstat = {
        "listeners": [
            {"local_address": "*"},
            {"local_address": "127.0.0.1"},
            {"local_address": "::"},
            {"local_address": "198.51.100.7"},
        ],
        "connections": [{"local_address": "::1"}, {"local_address": "2001:db8::7"}],
    }
    assert host_addresses({"netstat": netstat}, extra=["198.51.100.8", "web01.example"]) == {
        "198.51.100.7",
        "198.51.100.8",
        "2001:db8::7",
    }


def test_summary_lines():
    report = build_report(incident(), "2026-11-25T21:30:00Z")
    lines = summary_lines(report, ["reports/audit-20261125T213000Z.json"])
    assert lines[0] == "netdiag.tcp audit 2026-11-25T21:30:00Z: 3 host(s) (2 ok, 1 unreachable), 5 finding(s)"
    assert "  app01: ok, 214 ESTABLISHED, 25 CLOSE_WAIT, conntrack n/a" in lines
    assert "  web01: ok, 35 ESTABLISHED, 0 CLOSE_WAIT, conntrack 3400/4096 (83.0%)" in lines
    assert "    error: Failed to connect to the host via ssh" in lines
    assert "  db01: unreachable" in lines
    assert lines[-1] == "  report: reports/audit-20261125T213000Z.json"


def test_markdown_has_every_host_and_finding_and_escapes_pipes():
    entries = incident()
    entries["web01"]["errors"] = ["slabinfo_facts: a|b"]
    text = markdown.render(build_report(entries, "2026-11-25T21:30:00Z"))
    assert text.startswith("# netdiag.tcp audit report\n")
    for heading in ("## app01 (ok)", "## db01 (unreachable)", "## web01 (partial)", "## Findings"):
        assert heading in text
    assert "| web01 | app01 | 5555 | 35 | 214 |" in text
    # The peer entry does not say how many lack keepalive: unknown, not a number.
    assert "| outbound | 5555 | 198.51.100.20 | 35 | unknown |" in text
    # Not reached: its counts are unknown, not zero.
    assert "| db01 | unreachable | - | unknown | unknown | unknown | n/a | - |" in text
    assert "TCP states: CLOSE_WAIT 25, ESTABLISHED 214, LISTEN 1\n" in text
    assert "- error: slabinfo_facts: a\\|b" in text
    assert text.count("`asymmetric-established`") == 1


def test_html_escapes_everything_it_is_given():
    entries = incident()
    entries["web01"]["errors"] = ["<script>alert(1)</script>"]
    page = html.render(build_report(entries, "2026-11-25T21:30:00Z"))
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<span class="warning">warning</span> <code>asymmetric-established</code>' in page


LEGACY = "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"
CURRENT = "net.netfilter.nf_conntrack_tcp_timeout_established"


def conntrack_with(live, assignments, effective, module_loaded_at_boot, module_builtin=False):
    return dict(
        NAT_CONNTRACK,
        key_style="nf_conntrack",
        usage_pct=10.0,
        timeouts={"tcp_timeout_established": live},
        persisted={
            "key": CURRENT,
            "assignments": assignments,
            "effective": effective,
            "module_builtin": module_builtin,
            "module_loaded_at_boot": module_loaded_at_boot,
            "module_load_files": [],
        },
    )


def persisted_ids(conntrack):
    netstat = dict(WEB_NETSTAT, established_without_keepalive=0)
    return [item["id"] for item in host_findings({"nat": host_report(gathered(netstat, conntrack))})]


def test_incident_fix_copied_onto_a_current_kernel_is_flagged():
    legacy_line = {"file": "/etc/sysctl.conf", "line": 70, "key": LEGACY, "value": 1200, "applies": False}
    conntrack = conntrack_with(432000, [legacy_line], None, True)
    found = host_findings({"nat": host_report(gathered(dict(WEB_NETSTAT, established_without_keepalive=0), conntrack))})
    assert [item["id"] for item in found] == ["conntrack-legacy-key-ignored", "conntrack-timeout-default"]
    assert found[0]["summary"] == (
        "/etc/sysctl.conf:70 sets %s, which this kernel does not have: the line does nothing at boot" % LEGACY
    )


def test_timeout_persisted_but_module_not_loaded_at_boot_is_flagged():
    line = {"file": "/etc/sysctl.d/90-nat.conf", "line": 1, "key": CURRENT, "value": 1200}
    assert persisted_ids(conntrack_with(1200, [dict(line, applies=True)], line, False)) == [
        "conntrack-timeout-lost-at-boot"
    ]
    assert persisted_ids(conntrack_with(1200, [dict(line, applies=True)], line, True)) == []
    assert persisted_ids(conntrack_with(1200, [dict(line, applies=True)], line, False, module_builtin=True)) == []
    # Unknown boot loading (None) is not claimed to be a problem.
    assert persisted_ids(conntrack_with(1200, [dict(line, applies=True)], line, None)) == []


def test_hand_tuned_live_value_that_a_reboot_undoes_is_flagged():
    found = host_findings(
        {
            "nat": host_report(
                gathered(dict(WEB_NETSTAT, established_without_keepalive=0), conntrack_with(1200, [], None, True))
            )
        }
    )
    assert [item["id"] for item in found] == ["conntrack-timeout-not-persisted"]
    assert found[0]["summary"] == (
        "tcp_timeout_established is 1200 now but becomes 432000 at the next boot "
        "(no sysctl file sets it: kernel default)"
    )
    line = {"file": "/etc/sysctl.d/90-nat.conf", "line": 3, "key": CURRENT, "value": 3600}
    assert persisted_ids(conntrack_with(1200, [dict(line, applies=True)], line, True)) == [
        "conntrack-timeout-not-persisted"
    ]
    assert persisted_ids(conntrack_with(3600, [dict(line, applies=True)], line, True)) == []


def test_server_holding_connections_the_client_has_none_of_is_half_open():
    web = dict(WEB_NETSTAT, established_by_peer=[])
    report = build_report(
        {"web01": gathered(web), "app01": gathered(APP_NETSTAT)}, "2026-11-25T21:30:00Z", {"close_wait": 1000}
    )
    assert report["pairs"] == [pair("web01", "app01", 0, 214)]
    assert [(item["id"], item["host"]) for item in report["findings"]] == [
        ("half-open-sockets", "app01"),
        ("no-keepalive", "web01"),
    ]


def test_client_whose_table_was_not_read_is_not_counted_as_zero():
    entries = {"web01": gathered(errors=["netstat_facts: boom"]), "app01": gathered(APP_NETSTAT)}
    entries["web01"]["addresses"] = ["198.51.100.10"]
    report = build_report(entries, "2026-11-25T21:30:00Z")
    assert report["pairs"] == []
    assert "half-open-sockets" not in [item["id"] for item in report["findings"]]


# The incident's real topology: two web servers behind a NAT (SNAT to 198.51.100.129) connect to the app server's
# port 5555; the app server sees every connection coming from 198.51.100.129, which no audited host owns.
def web_behind_nat(address, count):
    return {
        "state_counts": {"ESTABLISHED": count},
        "established_by_peer": [
            {"direction": "outbound", "service_port": 5555, "peer": "198.51.100.130", "count": count}
        ],
        "listeners": [{"protocol": "tcp", "local_address": address, "local_port": 80}],
        "connections": [],
    }


APP_BEHIND_NAT = {
    "state_counts": {"ESTABLISHED": 214},
    "established_by_peer": [{"direction": "inbound", "service_port": 5555, "peer": "198.51.100.129", "count": 214}],
    "listeners": [{"protocol": "tcp", "local_address": "198.51.100.130", "local_port": 5555}],
    "connections": [],
}


def nat_fleet(web02_netstat=True, aliases=("198.51.100.129",)):
    fleet = {
        "web01": gathered(web_behind_nat("198.51.100.11", 20)),
        "web02": gathered(web_behind_nat("198.51.100.12", 15) if web02_netstat else None),
        "app01": gathered(APP_BEHIND_NAT),
    }
    for name in ("web01", "web02"):
        fleet[name]["aliases"] = list(aliases)
    return fleet


def test_undeclared_nat_gives_no_false_half_open_finding():
    """The app server sees the web servers' connections from the NAT address: its count for them is 0, but the
    214 connections it holds from that unknown address could be theirs, so nothing is flagged."""
    report = build_report(nat_fleet(aliases=()), "2026-11-25T21:30:00Z")
    assert report["pairs"] == [
        pair("web01", "app01", 20, 0, unattributed=(0, 214)),
        pair("web02", "app01", 15, 0, unattributed=(0, 214)),
    ]
    assert [item for item in report["findings"] if item["id"] in ("half-open-sockets", "asymmetric-established")] == []
    unresolved = [item for item in report["findings"] if item["id"] == "asymmetric-unattributed"]
    assert [(item["host"], item["severity"]) for item in unresolved] == [("web01", "info"), ("web02", "info")]
    assert unresolved[0]["summary"] == (
        "web01 holds 20 ESTABLISHED connections for port 5555, app01 only 0 from it but 214 from peers no audited "
        "host is known by"
    )
    assert "netdiag_addresses" in unresolved[0]["recommendation"]


def test_hosts_behind_one_nat_address_are_one_end_of_the_pair():
    report = build_report(nat_fleet(), "2026-11-25T21:30:00Z")
    assert report["pairs"] == [pair(["web01", "web02"], "app01", 35, 214)]
    (finding,) = [item for item in report["findings"] if item["id"] == "asymmetric-established"]
    assert finding["host"] == "app01"
    assert finding["summary"] == "app01 holds 214 ESTABLISHED connections for port 5555, web01+web02 only 35"
    assert "| web01+web02 | app01 | 5555 | 35 | 214 |" in markdown.render(report)


def test_end_with_a_host_whose_table_was_not_read_is_not_paired():
    """web02's connections reach the app through the same NAT address: counting web01 alone would be wrong."""
    report = build_report(nat_fleet(web02_netstat=False), "2026-11-25T21:30:00Z")
    assert report["pairs"] == []
    assert [item["id"] for item in report["findings"] if item["id"] == "asymmetric-established"] == []


def test_virtual_address_in_front_of_servers_joins_them_into_one_end():
    """A load balancer's address (198.51.100.140) in front of two app servers, clients without NAT."""
    web = dict(web_behind_nat("198.51.100.11", 30))
    web["established_by_peer"] = [
        {"direction": "outbound", "service_port": 5555, "peer": "198.51.100.140", "count": 30}
    ]
    apps = {}
    for name, address, count in (("app01", "198.51.100.131", 100), ("app02", "198.51.100.132", 90)):
        netstat = dict(APP_BEHIND_NAT, listeners=[{"protocol": "tcp", "local_address": address, "local_port": 5555}])
        netstat["established_by_peer"] = [
            {"direction": "inbound", "service_port": 5555, "peer": "198.51.100.11", "count": count}
        ]
        apps[name] = dict(gathered(netstat), aliases=["198.51.100.140"])
    report = build_report(dict(apps, web01=gathered(web)), "2026-11-25T21:30:00Z")
    assert report["pairs"] == [pair("web01", ["app01", "app02"], 30, 190)]


def test_address_found_on_two_ends_belongs_to_neither():
    """Two hosts both have 198.51.100.99 (say, the same private address on two networks): it names no one."""
    web = web_behind_nat("198.51.100.99", 10)
    web["established_by_peer"] = [{"direction": "outbound", "service_port": 5555, "peer": "198.51.100.98", "count": 10}]
    other = web_behind_nat("198.51.100.98", 0)
    other["listeners"].append({"protocol": "tcp", "local_address": "198.51.100.99", "local_port": 22})
    other["established_by_peer"] = [
        {"direction": "inbound", "service_port": 5555, "peer": "198.51.100.99", "count": 40}
    ]
    hosts = {"a": host_report(gathered(web)), "b": host_report(gathered(other))}
    addresses = {name: host_addresses(report) for name, report in hosts.items()}
    assert addresses["a"] & addresses["b"] == {"198.51.100.99"}
    pairs, findings = correlate(hosts, addresses)
    # b's 40 connections from 198.51.100.99 could be a's or from b's own twin address: not counted for a, and
    # not a proof that b forgot a's 10 either.
    assert pairs == [pair("a", "b", 10, 0, unattributed=(0, 40))]
    assert [item["id"] for item in findings] == ["asymmetric-unattributed"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ([], [])),
        ("", ([], [])),
        (["198.51.100.129"], (["198.51.100.129"], [])),
        ("198.51.100.129, 2001:DB8::1", (["198.51.100.129", "2001:db8::1"], [])),
        (
            ["198.51.100.129", "nat.example", "198.51.100.300"],
            (["198.51.100.129"], ["'nat.example'", "'198.51.100.300'"]),
        ),
        ({"address": "198.51.100.1"}, ([], ["{'address': '198.51.100.1'}"])),
    ],
)
def test_declared_addresses_are_checked(value, expected):
    assert declared_addresses(value) == expected


def test_gap_larger_than_the_unknown_peers_is_still_a_warning():
    """Unknown peers on the server side only soften the finding when they could hide the whole gap."""
    hosts = nat_fleet(aliases=())
    hosts["web01"]["facts"]["netstat"]["established_by_peer"][0]["count"] = 500
    report = build_report(hosts, "2026-11-26T00:00:00Z")
    found = {item["host"]: item["id"] for item in report["findings"] if "asymmetric" in item["id"]}
    assert found == {"web01": "asymmetric-established", "web02": "asymmetric-unattributed"}


def test_default_timeout_on_a_host_that_tracks_nothing_is_only_information():
    conntrack = dict(NAT_CONNTRACK, key_style="nf_conntrack", count=0, usage_pct=0.0)
    report = build_report({"web01": gathered(WEB_NETSTAT, conntrack)}, "2026-11-26T00:00:00Z")
    (found,) = [item for item in report["findings"] if item["id"] == "conntrack-timeout-default"]
    assert found["severity"] == "info"
    assert found["summary"].endswith(
        "(net.netfilter.nf_conntrack_tcp_timeout_established = 432000, the kernel default); its table is empty now"
    )


def test_html_summary_colours_host_counts_by_status():
    """A failed or unreachable host must not be painted like a healthy one; zero counts stay uncoloured."""
    page = html.summary_html({"critical": 0}, {"ok": 2, "partial": 0, "failed": 1, "unreachable": 1})
    assert '<tr class="status-ok"><td>ok</td><td class="count">2</td></tr>' in page
    assert '<tr class=""><td>partial</td><td class="count">0</td></tr>' in page
    assert '<tr class="status-failed"><td>failed</td><td class="count">1</td></tr>' in page
    assert '<tr class="status-unreachable"><td>unreachable</td><td class="count">1</td></tr>' in page
    assert "#summary-hosts tr.status-failed td.count { background: #f4c2c2; }" in html.STYLE


def counted_pair(client_count, server_count):
    """web (198.51.100.10) with client_count connections to app's port 5555, app with server_count from web."""
    web = dict(WEB_NETSTAT, established_by_peer=[dict(WEB_NETSTAT["established_by_peer"][0], count=client_count)])
    app = dict(APP_NETSTAT, established_by_peer=[dict(APP_NETSTAT["established_by_peer"][0], count=server_count)])
    return {"web01": gathered(web), "app01": gathered(app)}


@pytest.mark.parametrize(
    ("client_count", "server_count", "ids"),
    [
        (20, 40, ["asymmetric-established"]),  # exactly ratio 2 (gap 20 > min_gap 10): a finding
        (20, 39, []),  # just under the ratio
        (1, 11, ["asymmetric-established"]),  # exactly min_gap 10 (ratio 11 > 2): a finding
        (1, 10, []),  # just under min_gap
    ],
)
def test_the_limits_of_correlation_are_inclusive(client_count, server_count, ids):
    # docs/report.md: a gap counts when it is at least min_gap and the larger side at least ratio times the smaller.
    report = build_report(counted_pair(client_count, server_count), "2026-11-25T21:30:00Z")
    assert [item["id"] for item in report["findings"] if item["id"].startswith(("asymmetric", "half-open"))] == ids


def test_counts_alone_with_none_on_the_other_end_is_half_open_but_not_when_matched_per_connection():
    # By counts (no socket lists): 0 against 30 means every one of app's 30 is half-open.
    web = dict(WEB_NETSTAT, established_by_peer=[], state_counts={"ESTABLISHED": 0})
    entries = counted_pair(0, 30)
    entries["web01"] = dict(gathered(web), addresses=["198.51.100.10"])
    report = build_report(entries, "2026-11-25T21:30:00Z")
    pair_ids = ("half-open-sockets", "asymmetric-established")
    (finding,) = [item for item in report["findings"] if item["id"] in pair_ids]
    assert (finding["id"], finding["evidence"]["matching"]) == ("half-open-sockets", "counts")
    # Matched per connection, the per-socket finding names the 30 (matching.py); the pair's own is the asymmetry,
    # not a second half-open-sockets finding.
    rows = "\n".join("198.51.100.20 5555 198.51.100.10 %d 4242 0" % (40000 + index) for index in range(30))
    columns = ["local_address", "local_port", "remote_address", "remote_port", "pid", "keepalive"]
    entries["app01"]["facts"]["netstat"]["established_tuples"] = {
        "columns": columns,
        "rows": rows,
        "count": 30,
        "truncated": False,
    }
    entries["app01"]["facts"]["netstat"]["state_counts"] = {"ESTABLISHED": 30, "LISTEN": 1}
    entries["web01"]["facts"]["netstat"]["established_tuples"] = {
        "columns": columns,
        "rows": "",
        "count": 0,
        "truncated": False,
    }
    report = build_report(entries, "2026-11-25T21:30:00Z")
    assert report["pairs"][0]["per_connection"] is True
    assert sorted(
        (item["id"], item["evidence"].get("count")) for item in report["findings"] if item["id"] in pair_ids
    ) == [("asymmetric-established", None), ("half-open-sockets", 30)]


def test_an_unreachable_host_with_a_socket_table_gets_its_findings():
    # A host whose socket table arrived (a fact cache, an earlier step) but which was unreachable later: what was
    # read is judged like any other host's; only a host without a table is skipped.
    unreachable = host_report(gathered(APP_NETSTAT, status="unreachable", errors=["ssh: timed out"]))
    assert unreachable["status"] == "unreachable" and "netstat" in unreachable
    assert [item["id"] for item in host_findings({"app01": unreachable})] == ["close-wait-buildup"]
    assert host_findings({"db01": host_report(gathered(status="unreachable", errors=["no route"]))}) == []
