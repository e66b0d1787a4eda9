# SPDX-License-Identifier: GPL-3.0-or-later
"""conntrack_facts against a fake /proc tree (proc_root) and a fake / (config_root) in tmp_path.

The trees are synthetic; the table and statistics files in them are the real captures under tests/unit/fixtures.
"""

from __future__ import annotations

import io
import os

import pytest
from ansible.module_utils import basic

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import linux_conntrack as conntrack_collector
from ansible_collections.netdiag.tcp.plugins.module_utils.core import command_stream, prefetch
from ansible_collections.netdiag.tcp.plugins.modules import conntrack_facts

TIMEOUTS = {"tcp_timeout_established": 432000, "tcp_timeout_time_wait": 120, "udp_timeout": 30, "generic_timeout": 600}


@pytest.fixture(autouse=True)
def on_linux(monkeypatch):
    monkeypatch.setattr(conntrack_facts.platform, "system", lambda: "Linux")


@pytest.fixture
def no_conntrack_binary(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: None)


def make_proc(root, fixture_text, style="nf_conntrack", table=True, stats=True, count=8, maximum=262144):
    """A /proc with the conntrack sysctls of `style`, the captured table and statistics files."""
    if style == "nf_conntrack":
        sysctl_dir, prefix = root / "sys/net/netfilter", "nf_conntrack_"
        table_file, stat_file = "net/nf_conntrack", "net/stat/nf_conntrack"
        values = {"count": count, "max": maximum, "buckets": 65536, "acct": 0}
    else:
        sysctl_dir, prefix = root / "sys/net/ipv4/netfilter", "ip_conntrack_"
        table_file, stat_file = "net/ip_conntrack", "net/stat/ip_conntrack"
        values = {"count": count, "max": maximum}  # 2.6.1x kernels have no buckets sysctl
    sysctl_dir.mkdir(parents=True)
    for name, value in {**values, **TIMEOUTS}.items():
        (sysctl_dir / (prefix + name)).write_text("%d\n" % value)
    (root / "net/stat").mkdir(parents=True)
    if table:
        source = "linux/proc-net-nf_conntrack-2.txt" if style == "nf_conntrack" else "linux/proc-net-ip_conntrack-1.txt"
        (root / table_file).write_text(fixture_text(source))
    if stats:
        (root / stat_file).write_text(fixture_text("linux/proc-net-stat-nf_conntrack-2.txt"))
    return root


@pytest.fixture
def config(tmp_path):
    root = tmp_path / "config"
    (root / "etc/sysctl.d").mkdir(parents=True)
    (root / "etc/sysctl.conf").write_text(
        "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200\n"
    )  # the seed's fix, legacy name
    os.symlink("../sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    (root / "sys/module/nf_conntrack/parameters").mkdir(parents=True)
    (root / "sys/module/nf_conntrack/initstate").write_text("live\n")
    return root


@pytest.fixture
def run(call_main):
    def run_conntrack_facts(proc, config, check_mode=False, **args):
        args.setdefault("proc_root", str(proc))
        args.setdefault("config_root", str(config))
        args["_ansible_check_mode"] = check_mode
        return call_main(conntrack_facts.main, args)

    return run_conntrack_facts


def facts_of(outcome):
    assert not outcome.failed, outcome.result
    assert outcome.result["changed"] is False
    return outcome.result["ansible_facts"]["netdiag"]["conntrack"]


CAPTURED_TABLE = {
    "entries_parsed": 8,
    "entries_selected": 8,
    "truncated_lines": 0,
    "top_sources_max_error": 0,
    "top_destinations_max_error": 0,
    "state_counts": {"ESTABLISHED": 4, "SYN_RECV": 1, "SYN_SENT": 1},
    "protocol_counts": {"icmp": 1, "tcp": 6, "udp": 1},
    "unreplied": 2,
    "assured": 4,
    "top_sources": [{"address": "198.51.100.2", "count": 7}, {"address": "2001:db8::2", "count": 1}],
    "top_destinations": [
        {"address": "198.51.100.1", "port": 5555, "count": 2},
        {"address": "198.51.100.1", "port": None, "count": 1},
    ],
}
CAPTURED_STATS = {
    "cpus": 2,
    "entries": 8,
    "clashres": 0,
    "found": 0,
    "new": 0,
    "invalid": 2,
    "ignore": 0,
    "delete": 0,
    "chainlength": 0,
    "insert": 0,
    "insert_failed": 0,
    "drop": 0,
    "early_drop": 0,
    "icmp_error": 0,
    "expect_new": 0,
    "expect_create": 0,
    "expect_delete": 0,
    "search_restart": 0,
}
PERSISTED_SEED_FIX = {
    "key": "net.netfilter.nf_conntrack_tcp_timeout_established",
    "assignments": [
        {
            "file": "/etc/sysctl.d/99-sysctl.conf",
            "target": "/etc/sysctl.conf",
            "line": 1,
            "key": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established",
            "value": 1200,
            "ignore_failure": False,
            "applies": False,
        }
    ],
    "effective": None,
    "sysctl_conf_linked": True,
    "module_builtin": False,
    "module_loaded_at_boot": False,
    "module_load_files": [],
}


def test_current_kernel_full_facts(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    facts = facts_of(run(proc, config, top=2))
    assert facts == {
        "available": True,
        "reason": None,
        "key_style": "nf_conntrack",
        "count": 8,
        "max": 262144,
        "buckets": 65536,
        "usage_pct": 0.0,
        "timeouts": TIMEOUTS,
        "table": True,
        "source": "/proc/net/nf_conntrack",
        "source_reason": None,
        **CAPTURED_TABLE,
        "stats": CAPTURED_STATS,
        "stats_source": "/proc/net/stat/nf_conntrack",
        # The seed's legacy key in /etc/sysctl.conf does nothing on a current kernel, and nf_conntrack is a
        # loadable module that nothing loads at boot.
        "persisted": PERSISTED_SEED_FIX,
    }


def test_usage_pct(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text, count=245000, maximum=262144)
    facts = facts_of(run(proc, config, table=False))
    assert facts["usage_pct"] == 93.5


def test_legacy_ip_conntrack_kernel(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text, style="ip_conntrack", count=6, maximum=65536)
    (config / "sys/module/nf_conntrack/initstate").unlink()
    (config / "sys/module/nf_conntrack/parameters").rmdir()
    (config / "sys/module/nf_conntrack").rmdir()
    (config / "sys/module/ip_conntrack/parameters").mkdir(parents=True)
    (config / "sys/module/ip_conntrack/parameters/hashsize").write_text("8192\n")
    (config / "sys/module/ip_conntrack/initstate").write_text("live\n")
    facts = facts_of(run(proc, config))
    assert facts["key_style"] == "ip_conntrack"
    assert (facts["count"], facts["max"], facts["buckets"], facts["usage_pct"]) == (6, 65536, 8192, 0.0)
    assert facts["timeouts"] == TIMEOUTS
    assert facts["source"] == "/proc/net/ip_conntrack"
    assert (facts["entries_parsed"], facts["unreplied"], facts["assured"]) == (6, 3, 3)
    assert facts["stats_source"] == "/proc/net/stat/ip_conntrack"
    # On this kernel the legacy key is the one that exists: the seed's fix applies.
    assert facts["persisted"]["effective"] == {
        "file": "/etc/sysctl.d/99-sysctl.conf",
        "line": 1,
        "key": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established",
        "value": 1200,
    }


def test_filters_reach_the_table(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    facts = facts_of(run(proc, config, ports=[5555], states=["ESTABLISHED"], peers=["198.51.100.0/24"]))
    assert (facts["entries_parsed"], facts["entries_selected"]) == (8, 2)
    assert facts["top_sources"] == [{"address": "198.51.100.2", "count": 2}]
    assert facts["top_destinations"] == [{"address": "198.51.100.1", "port": 5555, "count": 2}]


def test_not_loaded_is_reported_not_failed(tmp_path, config, no_conntrack_binary, run):
    proc = tmp_path / "proc"
    (proc / "sys/net/netfilter").mkdir(parents=True)  # nf_log lives there even without conntrack
    facts = facts_of(run(proc, config))
    assert facts == {
        "available": False,
        "reason": "conntrack is not loaded: neither /proc/sys/net/netfilter/nf_conntrack_max nor "
        "/proc/sys/net/ipv4/netfilter/ip_conntrack_max exists (kernel module nf_conntrack not loaded, or not in "
        "this kernel)",
        "table": True,
        "source": "none",
        "source_reason": None,
        "persisted": {
            **PERSISTED_SEED_FIX,
            "assignments": [{**PERSISTED_SEED_FIX["assignments"][0], "applies": True}],
            "effective": {
                "file": "/etc/sysctl.d/99-sysctl.conf",
                "line": 1,
                "key": "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established",
                "value": 1200,
            },
        },
    }


def test_not_linux(tmp_path, config, monkeypatch, run):
    monkeypatch.setattr(conntrack_facts.platform, "system", lambda: "AIX")
    facts = facts_of(run(tmp_path, config))
    assert facts["available"] is False
    assert facts["reason"] == "netfilter connection tracking exists only on Linux; this host runs AIX"


def test_no_permission_on_count(tmp_path, fixture_text, config, monkeypatch, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    real_open = open

    def guarded_open(path, *args, **kwargs):
        if str(path).endswith("nf_conntrack_count"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(conntrack_collector, "open", guarded_open, raising=False)
    facts = facts_of(run(proc, config))
    assert facts["available"] is False
    assert facts["reason"] == "no permission to read /proc/sys/net/netfilter/nf_conntrack_count"


def test_table_needs_become_and_conntrack_absent(tmp_path, fixture_text, config, monkeypatch, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    real_open = os.open

    def guarded_open(path, *args, **kwargs):  # root reads anything: the denial of a non-root user, simulated
        if str(path).endswith("net/nf_conntrack"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(prefetch.os, "open", guarded_open)
    facts = facts_of(run(proc, config))
    assert facts["available"] is True
    assert facts["source"] == "none"
    assert facts["source_reason"] == (
        "/proc/net/nf_conntrack: permission denied (needs become); "
        "conntrack -L -o extended: not installed (conntrack-tools)"
    )
    assert "entries_parsed" not in facts
    assert facts["stats"] == CAPTURED_STATS


def test_table_false_skips_the_walk(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    facts = facts_of(run(proc, config, table=False))
    assert (facts["table"], facts["source"], facts["source_reason"]) == (False, "none", "not walked (table=false)")
    assert "top_sources" not in facts
    assert facts["stats_source"] == "/proc/net/stat/nf_conntrack"


class FakeProcess:
    """Stands in for subprocess.Popen; records how it was called."""

    calls = []

    def __init__(self, argv, stdout=None, stderr=None, stdin=None, env=None, universal_newlines=None, errors=None):
        FakeProcess.calls.append({"argv": argv, "env": env, "text": universal_newlines, "stdin": stdin})
        if argv[1:] == ["-S"]:
            self.stdout = io.StringIO(FakeProcess.stats_output)
            self.returncode = 0
            return
        self.stdout = io.StringIO(FakeProcess.output)
        if FakeProcess.error_text:
            stderr.write(FakeProcess.error_text.encode())
        self.returncode = FakeProcess.returncode

    def wait(self):
        return self.returncode

    def poll(self):
        return self.returncode

    def kill(self):
        pass


@pytest.fixture
def fake_conntrack(monkeypatch, fixture_text):
    FakeProcess.calls = []
    FakeProcess.output = fixture_text("linux/conntrack-L-extended-1.txt")
    FakeProcess.stats_output = fixture_text("linux/conntrack-S-2.txt")
    FakeProcess.error_text = "conntrack v1.4.7 (conntrack-tools): 8 flow entries have been shown.\n"
    FakeProcess.returncode = 0
    monkeypatch.setattr(command_stream.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(
        basic.AnsibleModule,
        "get_bin_path",
        lambda self, name, required=False, opt_dirs=None: "/usr/sbin/conntrack" if name == "conntrack" else None,
    )
    commands = []

    def run_command(self, args, environ_update=None, **kwargs):
        commands.append({"argv": args, "environ_update": environ_update})
        return 0, fixture_text("linux/conntrack-S-2.txt"), ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return commands


def test_without_proc_files_conntrack_tools_are_used(tmp_path, fixture_text, config, fake_conntrack, run):
    proc = make_proc(tmp_path / "proc", fixture_text, table=False, stats=False)
    facts = facts_of(run(proc, config, top=2))
    assert [call["argv"] for call in FakeProcess.calls] == [
        ["/usr/sbin/conntrack", "-L", "-o", "extended"],
        ["/usr/sbin/conntrack", "-S"],
    ]
    for call in FakeProcess.calls:
        assert (call["env"]["LC_ALL"], call["env"]["LANG"], call["text"]) == ("C", "C", True)
        assert call["stdin"] == command_stream.subprocess.DEVNULL
    assert fake_conntrack == []  # both commands run with a timeout (command_stream), not run_command
    assert facts["source"] == "conntrack -L -o extended"
    assert facts["source_reason"] is None
    assert {key: facts[key] for key in CAPTURED_TABLE} == CAPTURED_TABLE
    assert facts["stats_source"] == "conntrack -S"
    assert facts["stats"] == {
        "cpus": 2,
        "found": 0,
        "invalid": 2,
        "insert": 0,
        "insert_failed": 0,
        "drop": 0,
        "early_drop": 0,
        "error": 0,
        "search_restart": 0,
        "clash_resolve": 0,
        "chaintoolong": 0,
    }


def test_conntrack_tools_failure_is_reported(tmp_path, fixture_text, config, fake_conntrack, run):
    FakeProcess.output = ""
    FakeProcess.error_text = "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted\n"
    FakeProcess.returncode = 1
    proc = make_proc(tmp_path / "proc", fixture_text, table=False)
    facts = facts_of(run(proc, config))
    assert facts["source"] == "none"
    assert facts["source_reason"] == (
        "/proc/net/nf_conntrack and /proc/net/ip_conntrack: absent (kernel without CONFIG_NF_CONNTRACK_PROCFS); "
        "conntrack -L -o extended: exit 1: conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not "
        "permitted"
    )
    assert fake_conntrack == []  # statistics came from /proc/net/stat/nf_conntrack


def test_proc_file_is_preferred_over_conntrack_tools(tmp_path, fixture_text, config, fake_conntrack, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    facts = facts_of(run(proc, config))
    assert FakeProcess.calls == []
    assert fake_conntrack == []
    assert facts["source"] == "/proc/net/nf_conntrack"


def test_unreadable_table_fails_naming_the_line(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    (proc / "net/nf_conntrack").write_text("garbage line\n")
    outcome = run(proc, config)
    assert outcome.failed
    assert outcome.result["msg"] == (
        "/proc/net/nf_conntrack: linux_conntrack: line 1 not recognised (expected a protocol name and number): "
        "'garbage line\\n'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"ports": [70000]}, "ports: 70000 is not a port number (1-65535)"),
        ({"peers": ["nowhere"]}, "peers: 'nowhere' is not an IP address or CIDR network"),
        ({"top": -1}, "top: -1 is not a number >= 0"),
    ],
)
def test_bad_options_fail_before_reading(tmp_path, config, args, message, run):
    outcome = run(tmp_path / "nothing", config, **args)
    assert outcome.failed
    assert outcome.result["msg"] == message


def test_check_mode_same_facts(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    assert facts_of(run(proc, config, check_mode=True)) == facts_of(run(proc, config))


def test_nat_tuples_from_the_proc_table(tmp_path, fixture_text, config, no_conntrack_binary, run):
    proc = make_proc(tmp_path / "proc", fixture_text)
    (proc / "net/nf_conntrack").write_text(fixture_text("linux/proc-net-nf_conntrack-snat-1.txt"))
    facts = facts_of(run(proc, config, nat_tuples=True, ports=[5555]))
    assert facts["nat_tuples"]["count"] == 2
    assert facts["nat_tuples"]["rows"].split("\n")[0] == (
        "198.51.100.100 33435 198.51.100.101 5555 198.51.100.101 5555 198.51.100.102 33435"
    )
    assert "nat_tuples" not in facts_of(run(proc, config))


def test_nat_tuples_from_conntrack_tools(tmp_path, fixture_text, config, fake_conntrack, run):
    FakeProcess.output = fixture_text("linux/conntrack-L-1.txt")
    proc = make_proc(tmp_path / "proc", fixture_text, table=False)
    facts = facts_of(run(proc, config, nat_tuples=True))
    # One run feeds both the summary and the NAT tuples (it used to run twice: the table was read again for them).
    assert [call["argv"] for call in FakeProcess.calls] == [["/usr/sbin/conntrack", "-L", "-o", "extended"]]
    assert facts["nat_tuples"]["count"] == 2 and facts["nat_tuples"]["truncated"] is False


def test_bad_max_nat_tuples(tmp_path, config, run):
    outcome = run(tmp_path / "nothing", config, max_nat_tuples=-1)
    assert outcome.failed and outcome.result["msg"] == "max_nat_tuples: -1 is not a number >= 0"
