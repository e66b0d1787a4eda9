# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-connection matching in the report (matching.py through build_report): which sockets are half-open, who
holds them, directly and through an audited NAT; what is not judged, and what is only listed."""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report

WEB, APP, NAT_ADDRESS = "198.51.100.10", "198.51.100.20", "198.51.100.129"


def tuples(rows):
    text = "\n".join(" ".join(str(field) for field in row) for row in rows)
    columns = ["local_address", "local_port", "remote_address", "remote_port", "pid", "keepalive"]
    return {"columns": columns, "rows": text, "count": len(rows), "truncated": False}


def netstat(rows, listen=None, holders=None, direction="inbound", port=5555):
    by_peer = {}
    for row in rows:
        by_peer[row[2]] = by_peer.get(row[2], 0) + 1
    return {
        "state_counts": {"ESTABLISHED": len(rows)},
        "established_by_peer": [
            {"direction": direction, "service_port": port, "peer": peer, "count": count}
            for peer, count in sorted(by_peer.items(), key=lambda item: -item[1])
        ],
        "listeners": [{"protocol": "tcp", "local_address": "*", "local_port": listen}] if listen else [],
        "connections": [],
        "established_without_keepalive": sum(1 for row in rows if row[5] == "0"),
        "established_tuples": tuples(rows),
        "holders": holders or {},
    }


def host(facts, aliases=()):
    return {"status": "reached", "errors": [], "facts": facts, "aliases": list(aliases)}


def incident_fleet(stale=30, healthy=12):
    """The issue's case: 12 healthy connections, 30 whose client side vanished; the server holds 42."""
    client_rows = [(WEB, 40000 + index, APP, 5555, 900, "0") for index in range(healthy)]
    server_rows = [(APP, 5555, WEB, 40000 + index, 4242, "0") for index in range(healthy + stale)]
    return {
        "web": host({"netstat": netstat(client_rows, direction="outbound")}),
        "app": host(
            {"netstat": netstat(server_rows, listen=5555, holders={"4242": {"process": "app_srv", "user": "app"}})}
        ),
    }


def by_id(report, finding_id):
    return [item for item in report["findings"] if item["id"] == finding_id]


def test_incident_names_the_stale_sockets_and_their_holder():
    report = build_report(incident_fleet(), "2026-12-04T00:00:00Z")
    (half_open,) = by_id(report, "half-open-sockets")
    assert half_open["host"] == "app"
    evidence = half_open["evidence"]
    assert (evidence["count"], evidence["matched"], evidence["service_port"]) == (30, 12, 5555)
    assert evidence["holders"] == [
        {"pid": 4242, "process": "app_srv", "user": "app", "count": 30, "named_by": ["owner scan"]}
    ]
    assert (evidence["keepalive"], evidence["keepalive_counts"]) == ("off", {"on": 0, "off": 30, "unknown": 0})
    assert evidence["peers"] == {"web": 30} and evidence["reasons"] == {"no-peer-socket": 30}
    assert len(evidence["sample"]) == 20 and evidence["sample_truncated"] is True
    assert evidence["sample"][0] == {
        "local_address": APP,
        "local_port": 5555,
        "remote_address": WEB,
        "remote_port": 40012,
        "pid": 4242,
    }
    assert "held by app_srv (pid 4242, named by owner scan) 30; keepalive off" in half_open["summary"]
    (asymmetric,) = by_id(report, "asymmetric-established")
    assert (asymmetric["evidence"]["client_count"], asymmetric["evidence"]["server_count"]) == (12, 42)
    (pair,) = report["pairs"]
    assert pair["per_connection"] is True
    assert (pair["client_matched"], pair["server_matched"], pair["client_half_open"], pair["server_half_open"]) == (
        12,
        12,
        0,
        30,
    )
    assert [group["half_open"] for group in report["matching"]["groups"]] == [30, 0]


def test_half_open_also_when_the_other_end_holds_some_and_below_the_minimum_not():
    report = build_report(incident_fleet(stale=3), "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    report = build_report(incident_fleet(stale=3), "2026-12-04T00:00:00Z", correlation={"min_half_open": 1})
    assert [item["evidence"]["count"] for item in by_id(report, "half-open-sockets")] == [3]


def test_a_truncated_peer_list_judges_nothing():
    fleet = incident_fleet()
    fleet["web"]["facts"]["netstat"]["established_tuples"]["truncated"] = True
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    app = [group for group in report["matching"]["groups"] if group["host"] == "app"][0]
    assert app["not_judged"] == {"peer-sockets-truncated": 30} and app["matched"] == 12


def test_peers_outside_the_inventory_are_listed_not_judged():
    fleet = incident_fleet()
    del fleet["web"]
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    assert report["matching"]["outside"] == [
        {"host": "app", "service_port": 5555, "direction": "inbound", "peer": WEB, "count": 42}
    ]


def nat_fleet(audit_nat=True, forgotten=46, declare=True):
    """web1/web2 behind SNAT to 198.51.100.129; 12 live connections each; app holds those 24 and 46 more."""
    fleet = {}
    app_rows, entries = [], []
    for index, (name, address) in enumerate((("web1", "198.51.100.11"), ("web2", "198.51.100.12"))):
        rows = [(address, 41000 + port, "198.51.100.130", 5555, 700 + index, "1") for port in range(12)]
        fleet[name] = host({"netstat": netstat(rows, direction="outbound")}, aliases=[NAT_ADDRESS] if declare else [])
        for port in range(12):
            translated = 60000 + 100 * index + port
            app_rows.append(("198.51.100.130", 5555, NAT_ADDRESS, translated, 4242, "0"))
            entries.append(
                "%s %d 198.51.100.130 5555 198.51.100.130 5555 %s %d" % (address, 41000 + port, NAT_ADDRESS, translated)
            )
    app_rows += [("198.51.100.130", 5555, NAT_ADDRESS, 50000 + port, 4242, "0") for port in range(forgotten)]
    fleet["app"] = host({"netstat": netstat(app_rows, listen=5555, holders={"4242": {"process": "app_srv"}})})
    if audit_nat:
        nat_tuples = {
            "columns": [
                "original_source",
                "original_source_port",
                "original_destination",
                "original_destination_port",
                "reply_source",
                "reply_source_port",
                "reply_destination",
                "reply_destination_port",
            ],
            "rows": "\n".join(entries),
            "count": len(entries),
            "truncated": False,
        }
        fleet["nat"] = host(
            {"netstat": netstat([]), "conntrack": {"available": True, "timeouts": {}, "nat_tuples": nat_tuples}}
        )
    return fleet


def test_through_an_audited_nat_both_ends_match_one_to_one():
    report = build_report(nat_fleet(), "2026-12-04T00:00:00Z")
    (half_open,) = by_id(report, "half-open-sockets")
    assert half_open["host"] == "app"
    evidence = half_open["evidence"]
    assert (evidence["count"], evidence["matched"]) == (46, 24)
    assert evidence["forgotten_by_nat"] == {"nat": 46} and evidence["through"] == ["nat"]
    assert "the NAT nat has no entry (46)" in half_open["summary"]
    web_groups = [group for group in report["matching"]["groups"] if group["host"].startswith("web")]
    assert [(group["matched"], group["half_open"], group["through"]) for group in web_groups] == [
        (12, 0, ["nat"]),
        (12, 0, ["nat"]),
    ]
    (pair,) = report["pairs"]
    assert (pair["client"], pair["server"], pair["client_matched"], pair["server_matched"]) == (
        "web1+web2",
        "app",
        24,
        24,
    )
    assert (pair["client_half_open"], pair["server_half_open"]) == (0, 46)


def test_a_client_socket_the_audited_nat_forgot_is_half_open_on_the_client():
    fleet = nat_fleet()
    rows = fleet["web1"]["facts"]["netstat"]["established_tuples"]
    rows["rows"] += "\n198.51.100.11 42999 198.51.100.130 5555 700 1"
    report = build_report(fleet, "2026-12-04T00:00:00Z", correlation={"min_half_open": 1})
    assert sorted((item["host"], item["evidence"]["count"]) for item in by_id(report, "half-open-sockets")) == [
        ("app", 46),
        ("web1", 1),
    ]


def test_declared_nat_that_is_not_audited_falls_back_to_counts():
    report = build_report(nat_fleet(audit_nat=False), "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    app = [group for group in report["matching"]["groups"] if group["host"] == "app"][0]
    assert app["not_judged"] == {"declared-address-without-audited-nat": 70}
    (asymmetric,) = by_id(report, "asymmetric-established")
    assert (asymmetric["evidence"]["client_count"], asymmetric["evidence"]["server_count"]) == (24, 70)
    assert asymmetric["evidence"]["matching"] == "counts"
    assert asymmetric["evidence"]["matching_reason"].startswith(
        "94 sockets of the two ends go through an address declared in netdiag_addresses that no audited NAT"
    )
    assert report["pairs"][0]["per_connection"] is False


def test_undeclared_nat_outside_the_audit_judges_nothing():
    """app holds connections from an unknown address (the NAT nobody declared or audited): the web servers' sockets
    it seems to lack may be those, so neither end is judged one to one."""
    report = build_report(nat_fleet(audit_nat=False, declare=False), "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    web1 = [group for group in report["matching"]["groups"] if group["host"] == "web1"][0]
    assert web1["not_judged"] == {"peer-has-connections-from-unknown-addresses": 12}
    assert report["matching"]["outside"] == [
        {"host": "app", "service_port": 5555, "direction": "inbound", "peer": NAT_ADDRESS, "count": 70}
    ]


def test_html_has_summary_first_pair_picture_and_escaped_evidence():
    from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown

    fleet = incident_fleet()
    fleet["app"]["facts"]["netstat"]["holders"] = {"4242": {"process": "<img src=//e.v>", "user": "app"}}
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    page = html.render(report)
    assert page.index('<section id="summary"') < page.index('<svg class="pair-chart"') < page.index("<h2>Findings")
    assert "<img" not in page and "&lt;img src=//e.v&gt;" in page
    assert '<tr class="warning"><td>warning</td><td class="count">2</td></tr>' in page
    assert "<title>web -&gt; app port 5555: client holds 12, server holds 42; matched one to one: 12;" in page
    assert "<h3>Matched per connection</h3>" in page
    assert "<tr><td>app</td><td>inbound</td><td>5555</td><td>12</td><td>30</td><td>-</td><td>-</td></tr>" in page
    text = markdown.render(report)
    assert "- Findings: 0 critical, 2 warning, 1 info" in text
    assert "web -> app port 5555: client holds 12, server holds 42" in text.replace("\\", "")


def test_one_hundred_thousand_connections_per_host():
    """The scale the audit is built for: 100,000 connections, 1,000 of them stale on the server."""
    import time

    started = time.perf_counter()
    report = build_report(incident_fleet(stale=1000, healthy=99000), "2026-12-04T00:00:00Z")
    elapsed = time.perf_counter() - started
    (half_open,) = by_id(report, "half-open-sockets")
    assert (half_open["evidence"]["count"], half_open["evidence"]["matched"]) == (1000, 99000)
    assert len(half_open["evidence"]["sample"]) == 20
    assert elapsed < 30, elapsed  # about a second on a 2-CPU VM; generous for shared CI machines


def test_undeclared_but_audited_nat_matches_and_needs_no_declaration_hint():
    report = build_report(nat_fleet(declare=False), "2026-12-04T00:00:00Z")
    assert [(item["id"], item["host"]) for item in report["findings"] if item["severity"] != "info"] == [
        ("half-open-sockets", "app")
    ]
    assert by_id(report, "asymmetric-unattributed") == []
    assert [(pair["client"], pair["server_matched"]) for pair in report["pairs"]] == [("web1", 12), ("web2", 12)]


def test_a_list_that_misses_sockets_judges_nothing():
    """A collector path that forgot to list sockets must not make the other end look half-open."""
    fleet = incident_fleet()
    fleet["web"]["facts"]["netstat"]["state_counts"]["ESTABLISHED"] = 40
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    assert report["matching"]["errors"] == {
        "web": "established_tuples lists 12 sockets but state_counts has 40 ESTABLISHED: not used to judge the other "
        "ends"
    }


def test_peers_outside_are_capped_most_first():
    from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.matching import matching_section

    outside = {("app", 5555, "inbound", "192.0.2.%d" % index): index for index in range(1, 11)}
    section = matching_section({}, outside, {}, max_outside=3)
    assert [item["peer"] for item in section["outside"]] == ["192.0.2.10", "192.0.2.9", "192.0.2.8"]
    assert section["outside_total"] == 10


def filtered_fleet(client_peers, server_peers, stale=40):
    """The audit run with netdiag_audit_peers: each host lists only its sockets towards those networks."""
    covered = {WEB: [WEB + "/32"], WEB + APP: [WEB + "/32", APP + "/32"]}
    client_rows = [(WEB, 40000 + index, APP, 5555, 900, "0") for index in range(12)] if APP in client_peers else []
    server_rows = [(APP, 5555, WEB, 40000 + index, 4242, "0") for index in range(12 + stale)]
    fleet = {
        "web": host({"netstat": netstat(client_rows, direction="outbound")}),
        "app": host({"netstat": netstat(server_rows, listen=5555)}),
    }
    fleet["web"]["addresses"] = [WEB]  # ansible_host: with no socket listed, web is known by it
    fleet["web"]["facts"]["netstat"]["established_tuples"]["peers"] = covered[client_peers]
    fleet["app"]["facts"]["netstat"]["established_tuples"]["peers"] = covered[server_peers]
    return fleet


def test_a_peers_filter_that_leaves_out_the_other_end_judges_nothing():
    """peers=[web]: app lists its 52 sockets from web, web none of its own (their remote is app, not in peers). Its
    empty list does not mean "web holds none": no half-open, no asymmetry, and the report says why."""
    report = build_report(filtered_fleet(WEB, WEB), "2026-12-04T00:00:00Z")
    assert by_id(report, "half-open-sockets") == []
    assert by_id(report, "asymmetric-established") == []
    (app,) = [group for group in report["matching"]["groups"] if group["host"] == "app"]
    assert (app["matched"], app["half_open"], app["not_judged"]) == (0, 0, {"peer-sockets-filtered-by-peers": 52})
    (pair,) = report["pairs"]
    assert (pair["client_count"], pair["server_count"], pair["peers_filtered"]) == (0, 52, ["web"])
    assert pair["peers_filter_reason"].startswith(
        "web listed only sockets towards the peers filter (netdiag_audit_peers), which leaves out addresses of the "
        "other end"
    )


def test_a_peers_filter_that_covers_both_ends_still_judges():
    report = build_report(filtered_fleet(WEB + APP, WEB + APP), "2026-12-04T00:00:00Z")
    (half_open,) = by_id(report, "half-open-sockets")
    assert (half_open["host"], half_open["evidence"]["count"], half_open["evidence"]["matched"]) == ("app", 40, 12)
    (asymmetric,) = by_id(report, "asymmetric-established")
    assert (asymmetric["evidence"]["client_count"], asymmetric["evidence"]["server_count"]) == (12, 52)
    assert "peers_filtered" not in report["pairs"][0]


def test_inbound_sessions_of_a_host_behind_a_nat_are_not_blamed_on_the_nat():
    """web1 leaves through the audited NAT, but an admin outside the audit logs in over SSH from the LAN: those
    inbound sessions never went through the NAT, so they are listed as outside peers, not half-open."""
    fleet = nat_fleet()
    web1 = fleet["web1"]["facts"]["netstat"]
    web1["listeners"] = [{"protocol": "tcp", "local_address": "*", "local_port": 22}]
    web1["state_counts"]["ESTABLISHED"] += 6
    web1["established_tuples"]["count"] += 6
    web1["established_tuples"]["rows"] += "".join(
        "\n198.51.100.11 22 192.0.2.99 %d 800 0" % (50000 + port) for port in range(6)
    )
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    assert [(item["host"], item["evidence"]["count"]) for item in by_id(report, "half-open-sockets")] == [("app", 46)]
    (ssh,) = [group for group in report["matching"]["groups"] if group["service_port"] == 22]
    assert (ssh["host"], ssh["direction"], ssh["half_open"], ssh["forgotten_by_nat"]) == ("web1", "inbound", 0, {})
    assert {"host": "web1", "service_port": 22, "direction": "inbound", "peer": "192.0.2.99", "count": 6} in report[
        "matching"
    ]["outside"]


def lan_links_fleet(db_rows):
    """web1 (behind the audited NAT) holds 11 sockets to db:5432 on its LAN; db lists ``db_rows``."""
    fleet = nat_fleet()
    web1 = fleet["web1"]["facts"]["netstat"]
    links = ["\n198.51.100.11 %d 198.51.100.13 5432 700 1" % (43000 + port) for port in range(11)]
    web1["state_counts"]["ESTABLISHED"] += 11
    web1["established_tuples"]["count"] += 11
    web1["established_tuples"]["rows"] += "".join(links)
    fleet["db"] = host({"netstat": netstat(db_rows, listen=5432, port=5432)})
    fleet["db"]["addresses"] = ["198.51.100.13"]  # ansible_host: with no socket from web1 listed, db is known by it
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    (links_group,) = [
        group for group in report["matching"]["groups"] if group["service_port"] == 5432 and group["host"] == "web1"
    ]
    return report, links_group


def test_outbound_links_to_an_audited_lan_host_are_judged_against_it_not_the_nat():
    """db (198.51.100.13) is on web1's LAN: it lists sockets from web1's own address, so web1 reaches it without
    the NAT. The 8 sockets db lacks are half-open towards db; the NAT is not said to have forgotten them."""
    db_rows = [("198.51.100.13", 5432, "198.51.100.11", 43000 + port, 555, "1") for port in range(3)]
    report, links_group = lan_links_fleet(db_rows)
    assert (links_group["matched"], links_group["half_open"], links_group["forgotten_by_nat"]) == (3, 8, {})
    assert links_group["peers"] == {"db": {"matched": 3, "half_open": 8}}
    (half_open,) = [item for item in by_id(report, "half-open-sockets") if item["host"] == "web1"]
    assert "whose other end is gone: db (8);" in half_open["summary"]


def test_an_audited_peer_holding_none_of_the_sockets_is_where_their_other_end_is_gone():
    """db holds no socket from web1 and none from the NAT: whether web1 reached it directly or through the NAT, the
    other ends are gone on db, so db is named (the NAT used to take the blame for all 11)."""
    report, links_group = lan_links_fleet([])
    assert (links_group["matched"], links_group["half_open"], links_group["forgotten_by_nat"]) == (0, 11, {})
    assert links_group["peers"] == {"db": {"matched": 0, "half_open": 11}}
    (half_open,) = [item for item in by_id(report, "half-open-sockets") if item["host"] == "web1"]
    assert "whose other end is gone: db (11)" in half_open["summary"]


def test_a_peer_seeing_the_nat_on_that_port_leaves_the_verdict_to_the_nat():
    """db lists a connection on 5432 from the NAT's address: web1's sockets to db may go through the NAT, whose
    table has no entry for them, so the NAT forgot them (the peer cannot tell which of its sockets would be theirs)."""
    _report, links_group = lan_links_fleet([("198.51.100.13", 5432, NAT_ADDRESS, 61000, 555, "1")])
    assert (links_group["half_open"], links_group["forgotten_by_nat"], links_group["peers"]) == (11, {"nat": 11}, {})


def two_client_fleet():
    """app serves web1 (20 connections, all matched) and web2 (8, of which web2 still holds 3)."""
    web1, web2 = "198.51.100.11", "198.51.100.12"
    server_rows = [(APP, 5555, web1, 41000 + index, 4242, "1") for index in range(20)]
    server_rows += [(APP, 5555, web2, 42000 + index, 4242, "1") for index in range(8)]
    return {
        "web1": host(
            {"netstat": netstat([(web1, 41000 + i, APP, 5555, 700, "1") for i in range(20)], direction="outbound")}
        ),
        "web2": host(
            {"netstat": netstat([(web2, 42000 + i, APP, 5555, 701, "1") for i in range(3)], direction="outbound")}
        ),
        "app": host({"netstat": netstat(server_rows, listen=5555)}),
    }


def keep_busiest_peer_only(netstat_facts):
    """What netstat_facts returns with max_peers: 1 (the audit keeps the busiest peers, not all)."""
    peers = netstat_facts["established_by_peer"]
    kept, rest = peers[:1], peers[1:]
    netstat_facts["established_by_peer"] = kept
    netstat_facts["established_by_peer_truncated"] = bool(rest)
    netstat_facts["established_by_peer_rest"] = [
        {"direction": "inbound", "service_port": 5555, "peers": len(rest), "count": sum(item["count"] for item in rest)}
    ]


def pair_counts(report):
    return sorted(
        (pair["client"], pair["server"], pair["client_count"], pair["server_count"], pair["server_unattributed"])
        for pair in report["pairs"]
    )


def test_pairs_count_every_connection_from_the_tuples_when_only_the_busiest_peers_are_kept():
    full = build_report(two_client_fleet(), "2026-12-04T00:00:00Z")
    fleet = two_client_fleet()
    keep_busiest_peer_only(fleet["app"]["facts"]["netstat"])
    capped = build_report(fleet, "2026-12-04T00:00:00Z")
    assert pair_counts(capped) == pair_counts(full) == [("web1", "app", 20, 20, 0), ("web2", "app", 3, 8, 0)]
    assert by_id(capped, "half-open-sockets") == by_id(full, "half-open-sockets")


def test_without_tuples_the_peers_left_out_count_as_unattributed():
    fleet = two_client_fleet()
    netstat_facts = fleet["app"]["facts"]["netstat"]
    keep_busiest_peer_only(netstat_facts)
    del netstat_facts["established_tuples"]
    fleet["app"]["addresses"] = [APP]  # ansible_host: without its tuples, app is known by it
    report = build_report(fleet, "2026-12-04T00:00:00Z")
    # web2's 8 connections are in app's rest, peer unknown: the pair sees none of them, and says they may be there.
    assert pair_counts(report) == [("web1", "app", 20, 20, 8), ("web2", "app", 3, 0, 8)]


def test_a_truncated_nat_table_judges_nothing_it_lacks():
    # The NAT listed only part of its table: a socket towards its address without an entry may have one unlisted.
    # Taken as complete, app's 46 and web1's extra socket were "no-nat-entry" half-open sockets.
    fleet = nat_fleet()
    fleet["nat"]["facts"]["conntrack"]["nat_tuples"]["truncated"] = True
    fleet["web1"]["facts"]["netstat"]["established_tuples"]["rows"] += "\n198.51.100.11 42999 198.51.100.130 5555 700 1"
    fleet["web1"]["facts"]["netstat"]["established_tuples"]["count"] += 1
    fleet["web1"]["facts"]["netstat"]["state_counts"]["ESTABLISHED"] += 1
    report = build_report(fleet, "2026-12-04T00:00:00Z", correlation={"min_half_open": 1})
    assert by_id(report, "half-open-sockets") == []
    groups = {group["host"]: group for group in report["matching"]["groups"]}
    assert (groups["app"]["matched"], groups["app"]["half_open"], groups["app"]["not_judged"]) == (
        24,
        0,
        {"nat-table-truncated": 46},
    )
    assert (groups["web1"]["matched"], groups["web1"]["half_open"], groups["web1"]["not_judged"]) == (
        12,
        0,
        {"nat-table-truncated": 1},
    )


def test_a_client_behind_destination_nat_is_no_nat_address():
    # A DNAT only NAT: the client 198.51.100.40 (not audited) connects to the virtual address 198.51.100.200:80,
    # which the NAT sends on to srv 198.51.100.30:8080. The reply's destination is the client itself, so the
    # client's address is no address the NAT translates to. Compared on the wrong field, the client's address
    # became a "NAT address" and both sockets srv holds from it were "no-nat-entry" half-open.
    client, virtual, server = "198.51.100.40", "198.51.100.200", "198.51.100.30"
    nat_tuples = {
        "columns": [
            "original_source",
            "original_source_port",
            "original_destination",
            "original_destination_port",
            "reply_source",
            "reply_source_port",
            "reply_destination",
            "reply_destination_port",
        ],
        "rows": "%s 43000 %s 80 %s 8080 %s 43000" % (client, virtual, server, client),
        "count": 1,
        "truncated": False,
    }
    # srv holds the translated connection and a direct one from the same client (an admin's, no NAT entry).
    rows = [(server, 8080, client, 43000, 4242, "0"), (server, 8080, client, 43001, 4242, "0")]
    fleet = {
        "srv": host({"netstat": netstat(rows, listen=8080, port=8080)}),
        "nat": host(
            {"netstat": netstat([]), "conntrack": {"available": True, "timeouts": {}, "nat_tuples": nat_tuples}}
        ),
    }
    report = build_report(fleet, "2026-12-04T00:00:00Z", correlation={"min_half_open": 1})
    assert by_id(report, "half-open-sockets") == []
    srv = [group for group in report["matching"]["groups"] if group["host"] == "srv"][0]
    assert (srv["matched"], srv["half_open"], srv["not_judged"]) == (0, 0, {})
    assert report["matching"]["outside"] == [
        {"host": "srv", "service_port": 8080, "direction": "inbound", "peer": client, "count": 2}
    ]
