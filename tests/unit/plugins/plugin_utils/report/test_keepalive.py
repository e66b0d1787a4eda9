# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalive-after-nat-timeout: a client's first keepalive probe comes after a NAT it goes through forgets it."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.keepalive import keepalive_findings


def client(keepalive_time=7200, established=30, without=10, unknown=0, address="198.51.100.11"):
    return {
        "status": "reached",
        "errors": [],
        "facts": {
            "netstat": {
                "state_counts": {"ESTABLISHED": established},
                "established_by_peer": [],
                "listeners": [{"protocol": "tcp", "local_address": address, "local_port": 22}],
                "connections": [],
                "established_without_keepalive": without,
                "established_keepalive_unknown": unknown,
            },
            "keepalive": {"time": keepalive_time, "intvl": 75, "probes": 9, "source": "sysctl"},
        },
    }


def nat(timeout=1200, sources=(("198.51.100.11", 40), ("198.51.100.99", 7))):
    return {
        "status": "reached",
        "errors": [],
        "facts": {
            "netstat": {"state_counts": {}, "established_by_peer": [], "listeners": [], "connections": []},
            "conntrack": {
                "available": True,
                "timeouts": {"tcp_timeout_established": timeout},
                "top_sources": [{"address": address, "count": count} for address, count in sources],
            },
        },
    }


def ids(report):
    return [(item["id"], item["host"]) for item in report["findings"] if item["id"] == "keepalive-after-nat-timeout"]


def test_default_keepalive_time_outlives_the_incident_fix():
    report = build_report({"web1": client(), "nat": nat()}, "2026-11-26T00:00:00Z")
    (found,) = [item for item in report["findings"] if item["id"] == "keepalive-after-nat-timeout"]
    assert found["host"] == "web1" and found["severity"] == "warning"
    assert found["evidence"] == {
        "tcp_keepalive_time": 7200,
        "established_with_keepalive": 20,
        "conntrack_host": "nat",
        "conntrack_timeout": 1200,
        "tracked_entries": 40,
    }
    assert found["summary"] == (
        "tcp_keepalive_time 7200 s is not below the 1200 s conntrack ESTABLISHED timeout of nat, which tracks 40 of "
        "its connections: idle ones are forgotten there before the first keepalive probe"
    )


@pytest.mark.parametrize(
    ("hosts", "why"),
    [
        ({"web1": client(keepalive_time=600), "nat": nat()}, "probes come before the NAT forgets"),
        ({"web1": client(keepalive_time=7200), "nat": nat(timeout=432000)}, "the NAT keeps entries 5 days"),
        ({"web1": client(without=30), "nat": nat()}, "no socket uses keepalive (no-keepalive says so)"),
        ({"web1": client(without=20, unknown=10), "nat": nat()}, "keepalive unknown for the rest"),
        ({"web1": client(address="198.51.100.12"), "nat": nat()}, "the NAT does not list this host"),
        ({"web1": client()}, "no conntrack host audited"),
    ],
)
def test_no_finding(hosts, why):
    assert ids(build_report(hosts, "2026-11-26T00:00:00Z")) == [], why


def test_a_host_is_not_its_own_nat():
    host = client()
    host["facts"]["conntrack"] = nat()["facts"]["conntrack"]
    assert ids(build_report({"web1": host}, "2026-11-26T00:00:00Z")) == []


def test_every_nat_that_tracks_the_host_is_named():
    hosts = {"web1": client(), "nat-a": nat(), "nat-b": nat(timeout=3600)}
    assert ids(build_report(hosts, "2026-11-26T00:00:00Z")) == [
        ("keepalive-after-nat-timeout", "web1"),
        ("keepalive-after-nat-timeout", "web1"),
    ]
    found = keepalive_findings(
        {name: {**entry["facts"], "status": "ok"} for name, entry in hosts.items()},
        {"web1": {"198.51.100.11"}, "nat-a": set(), "nat-b": set()},
    )
    assert [item["evidence"]["conntrack_host"] for item in found] == ["nat-a", "nat-b"]


def test_a_solaris_host_is_told_the_solaris_tunable():
    solaris = client()
    solaris["facts"]["netstat"]["platform"] = "SunOS"
    solaris["facts"]["keepalive"] = {"time": 7200, "intvl": None, "probes": None, "source": "ipadm show-prop tcp"}
    report = build_report({"app1": solaris, "web1": client(address="198.51.100.12"), "nat": nat()}, "2026-11-26Z")
    (found,) = [item for item in report["findings"] if item["id"] == "keepalive-after-nat-timeout"]
    assert found["host"] == "app1" and report["hosts"]["app1"]["platform"] == "SunOS"
    assert "ipadm set-prop -p _keepalive_interval=1140000 tcp" in found["recommendation"]
    assert "ndd -set /dev/tcp tcp_keepalive_interval 1140000" in found["recommendation"]
    assert "net.ipv4" not in found["recommendation"]
