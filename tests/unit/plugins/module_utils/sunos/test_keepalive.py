# SPDX-License-Identifier: GPL-3.0-or-later
"""sunos_keepalive: Solaris milliseconds become seconds; ipadm first, ndd second, a reason when neither works."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import keepalive as sunos_keepalive


@pytest.mark.parametrize(("milliseconds", "seconds"), [(7200000, 7200), (10000, 10), (7200500, 7200.5), (None, None)])
def test_seconds(milliseconds, seconds):
    assert sunos_keepalive.seconds(milliseconds) == seconds


def test_ipadm_failure_falls_back_to_ndd(fixture_text):
    calls = []

    def run_command(argv):
        calls.append(argv)
        if argv[0] == "/usr/sbin/ipadm":
            return 1, "", "ipadm: unknown property '_keepalive_interval'\n"
        if argv[-1] == "tcp_keepalive_interval":
            return 0, fixture_text("sunos/ndd-keepalive-1.txt"), ""
        return 0, "480000\n", ""  # synthetic abort interval (the documented default)

    result = sunos_keepalive.read_keepalive_settings(
        run_command, {"ipadm": "/usr/sbin/ipadm", "ndd": "/usr/sbin/ndd"}.get
    )
    assert calls[0] == ["/usr/sbin/ipadm", "show-prop", "-p", "_keepalive_interval", "tcp"]
    assert calls[1:] == [
        ["/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_interval"],
        ["/usr/sbin/ndd", "-get", "/dev/tcp", "tcp_keepalive_abort_interval"],
    ]
    assert result == {
        "time": 7200,
        "intvl": None,
        "probes": None,
        "abort_interval": 480,
        "source": "ndd /dev/tcp",
        "time_ms": 7200000,
        "abort_interval_ms": 480000,
    }


def test_no_tool_gives_a_reason():
    def run_command(argv):
        return 1, "", "ndd: couldn't open /dev/tcp: permission denied\n"

    result = sunos_keepalive.read_keepalive_settings(run_command, {"ndd": "/usr/sbin/ndd"}.get)
    assert result["time"] is None and result["source"] is None
    assert result["reason"] == (
        "ipadm not found; /usr/sbin/ndd -get /dev/tcp tcp_keepalive_interval: rc 1: "
        "ndd: couldn't open /dev/tcp: permission denied"
    )
