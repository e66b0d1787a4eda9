# SPDX-License-Identifier: GPL-3.0-or-later
"""slabinfo_facts against a fake /proc (proc_root) holding real /proc/slabinfo captures."""

from __future__ import annotations

import os

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_slabinfo as slabinfo_collector
from ansible_collections.netdiag.tcp.plugins.modules import slabinfo_facts


@pytest.fixture(autouse=True)
def on_linux(monkeypatch):
    monkeypatch.setattr(slabinfo_facts.platform, "system", lambda: "Linux")


@pytest.fixture
def run(call_main):
    def run_slabinfo_facts(proc, check_mode=False, **args):
        args.setdefault("proc_root", str(proc))
        args["_ansible_check_mode"] = check_mode
        return call_main(slabinfo_facts.main, args)

    return run_slabinfo_facts


def facts_of(outcome):
    assert not outcome.failed, outcome.result
    assert outcome.result["changed"] is False
    return outcome.result["ansible_facts"]["netdiag"]["slabinfo"]


@pytest.fixture
def proc(tmp_path, fixture_text):
    (tmp_path / "slabinfo").write_text(fixture_text("linux/slabinfo-2.1-1.txt"))
    return tmp_path


def test_conntrack_caches_by_default(proc, run):
    page_size = os.sysconf("SC_PAGE_SIZE")
    facts = facts_of(run(proc))
    assert facts == {
        "available": True,
        "reason": None,
        "version": "2.1",
        "version_inferred": False,
        "page_size": page_size,
        "caches": {
            "nf_conntrack_expect": {
                "active_objs": 592,
                "num_objs": 592,
                "objsize": 216,
                "objperslab": 37,
                "pagesperslab": 2,
                "active_slabs": 16,
                "num_slabs": 16,
                "bytes": 16 * 2 * page_size,
                "active_bytes": 592 * 216,
            },
            "nf_conntrack_ffffffff8199a280": {
                "active_objs": 933,
                "num_objs": 1856,
                "objsize": 280,
                "objperslab": 29,
                "pagesperslab": 2,
                "active_slabs": 64,
                "num_slabs": 64,
                "bytes": 64 * 2 * page_size,
                "active_bytes": 933 * 280,
            },
        },
    }


def test_names_regex(proc, run):
    facts = facts_of(run(proc, names="^(TCP|UDP)$"))
    assert sorted(facts["caches"]) == ["TCP", "UDP"]
    assert facts["caches"]["TCP"]["num_objs"] == 357


def test_bad_regex_fails(proc, run):
    outcome = run(proc, names="nf_conntrack(")
    assert outcome.failed
    assert outcome.result["msg"].startswith("names: 'nf_conntrack(' is not a valid regular expression")


def test_without_root_reports_needs_become(proc, monkeypatch, run):
    real_open = open

    def guarded_open(path, *args, **kwargs):
        if str(path).endswith("slabinfo"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(slabinfo_collector, "open", guarded_open, raising=False)
    facts = facts_of(run(proc))
    assert facts == {"available": False, "reason": "needs become (root) to read /proc/slabinfo (mode 0400)"}


def test_missing_file_is_reported(tmp_path, run):
    facts = facts_of(run(tmp_path))
    assert facts["available"] is False
    assert facts["reason"].startswith("/proc/slabinfo does not exist")


def test_not_linux(tmp_path, monkeypatch, run):
    monkeypatch.setattr(slabinfo_facts.platform, "system", lambda: "SunOS")
    assert facts_of(run(tmp_path)) == {
        "available": False,
        "reason": "/proc/slabinfo exists only on Linux; this host runs SunOS",
    }


def test_unrecognised_file_fails_naming_the_line(tmp_path, run):
    (tmp_path / "slabinfo").write_text("slabinfo - version: 2.1\nnf_conntrack 1 2 3\n")
    outcome = run(tmp_path)
    assert outcome.failed
    assert "/proc/slabinfo: linux_slabinfo: line 2 not recognised" in outcome.result["msg"]


def test_check_mode(proc, run):
    assert facts_of(run(proc, check_mode=True)) == facts_of(run(proc))
