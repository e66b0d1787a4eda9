# SPDX-License-Identifier: GPL-3.0-or-later
"""netdiag.keepalive does not depend on how it was read: for each platform the module's collector, raw mode's
text path and offline analysis of a capture folder give the same section from the same command output (real
captured samples, tests/unit/fixtures), apart from ``source``, which says where it was read."""

from __future__ import annotations

from ansible_collections.netdiag.tcp.plugins.module_utils.collect import aix_sockets
from ansible_collections.netdiag.tcp.plugins.module_utils.core.selection import Selection
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import keepalive as linux_keepalive
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import keepalive as sunos_keepalive
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts import capture_dir, raw_commands
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.raw_commands import C_LOCALE, GATHERERS, Runner

NO_SELECTION = {"ports": [], "states": [], "peers": []}
# Solaris' documented default abort interval (8 minutes); no published capture of it was found, so the
# abort-interval answer is this documented value, not a capture.
ABORT_INTERVAL_MS = "480000\n"


def without_source(section):
    return {key: value for key, value in section.items() if key != "source"}


class TextHost:
    """Answers raw mode's shell commands from a table; anything else fails like a missing command."""

    def __init__(self, answers):
        self.answers = answers

    def __call__(self, command, data=None):
        command = command[len(C_LOCALE) :]
        words = command.split()
        # head -c N FILE answers from the table's "cat FILE", as the real tool would (raw mode reads /proc that way).
        if words[:2] == ["head", "-c"] and len(words) == 4 and "cat " + words[3] in self.answers:
            rc, stdout, stderr = self.answers["cat " + words[3]]
            return rc, stdout[: int(words[2])], stderr
        return self.answers.get(command, (1, "", "not found"))


def capture(tmp_path, host, files):
    folder = tmp_path / host
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return capture_dir.read_host(str(folder), NO_SELECTION, 1000, 10)


def test_aix_module_raw_and_capture_agree(fixture_text, tmp_path, monkeypatch):
    no_a = fixture_text("aix/no-a-1.txt")
    netstat = fixture_text("aix/netstat-Aan-1.txt")

    def run_command(argv, data=None):
        if argv[0] == "/usr/sbin/no":
            return 0, no_a, ""
        if argv[0] == "/usr/bin/netstat":
            return 0, netstat, ""
        return 1, "", "not found"

    collector = aix_sockets.AixNetstatCollector(
        run_command, {"no": "/usr/sbin/no", "netstat": "/usr/bin/netstat"}.get, options={}, is_root=False
    )
    _netstat, module = collector.collect(Selection(), owners=False)
    monkeypatch.setattr(raw_commands, "command_collector", lambda system: None)  # raw mode's text path
    raw, _errors = GATHERERS["AIX"](
        Runner(TextHost({"netstat -Aan": (0, netstat, ""), "no -a": (0, no_a, "")})), NO_SELECTION, 1000
    )
    captured = capture(tmp_path, "app", {"netstat-Aan.txt": netstat, "no-a.txt": no_a})
    assert captured["errors"] == []
    sections = [
        without_source(module),
        without_source(raw["keepalive"]),
        without_source(captured["facts"]["keepalive"]),
    ]
    assert sections[0] == sections[1] == sections[2]
    # The raw tunables sit at the top level, next to the seconds, in every mode (docs/facts_schema.md).
    assert (sections[0]["time"], sections[0]["tcp_keepidle"]) == (7200, 14400)
    assert "raw" not in sections[0]


def test_sunos_module_raw_and_capture_agree(fixture_text, tmp_path, monkeypatch):
    interval = fixture_text("sunos/ndd-keepalive-1.txt")

    def run_command(argv, data=None):
        return 0, interval if argv[-1] == "tcp_keepalive_interval" else ABORT_INTERVAL_MS, ""

    module = sunos_keepalive.read_keepalive_settings(run_command, {"ndd": "/usr/sbin/ndd"}.get)
    monkeypatch.setattr(raw_commands, "command_collector", lambda system: None)
    raw, _errors = GATHERERS["SunOS"](
        Runner(
            TextHost(
                {
                    "netstat -an": (0, fixture_text("sunos/netstat-an-2.txt"), ""),
                    "ndd -get /dev/tcp tcp_keepalive_interval": (0, interval, ""),
                    "ndd -get /dev/tcp tcp_keepalive_abort_interval": (0, ABORT_INTERVAL_MS, ""),
                }
            )
        ),
        NO_SELECTION,
        1000,
    )
    captured = capture(
        tmp_path,
        "sol",
        {
            "netstat-an.txt": fixture_text("sunos/netstat-an-2.txt"),
            "ndd-tcp_keepalive_interval.txt": interval,
            "ndd-tcp_keepalive_abort_interval.txt": ABORT_INTERVAL_MS,
        },
    )
    assert captured["errors"] == []
    sections = [
        without_source(module),
        without_source(raw["keepalive"]),
        without_source(captured["facts"]["keepalive"]),
    ]
    assert sections[0] == sections[1] == sections[2]
    assert (sections[0]["time"], sections[0]["abort_interval"], sections[0]["abort_interval_ms"]) == (7200, 480, 480000)


def test_linux_module_raw_and_capture_agree(fixture_text, tmp_path):
    proc = tmp_path / "proc"
    (proc / "sys" / "net" / "ipv4").mkdir(parents=True)
    for name, value in (("time", "600"), ("intvl", "30"), ("probes", "4")):
        (proc / "sys" / "net" / "ipv4" / ("tcp_keepalive_" + name)).write_text(value + "\n")
    module = linux_keepalive.read_keepalive_settings(str(proc))
    grep_output = "".join(
        "/proc/sys/net/ipv4/tcp_keepalive_%s:%s\n" % (name, value)
        for name, value in (("time", 600), ("intvl", 30), ("probes", 4))
    )
    raw, _errors = GATHERERS["Linux"](
        Runner(
            TextHost(
                {
                    "cat /proc/net/tcp": (0, fixture_text("linux/proc-net-tcp-2.txt"), ""),
                    raw_commands.LINUX_SYSCTL: (0, grep_output, ""),
                }
            )
        ),
        NO_SELECTION,
        1000,
        owners=False,
        conntrack=False,
        slabinfo=False,
    )
    sysctl = "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 4\n"
    captured = capture(tmp_path, "web", {"sysctl.txt": sysctl})
    sections = [
        without_source(module),
        without_source(raw["keepalive"]),
        without_source(captured["facts"]["keepalive"]),
    ]
    assert sections[0] == sections[1] == sections[2] == {"time": 600, "intvl": 30, "probes": 4}
