# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report as headless Chromium renders it: unknown values say "unknown", samples are folded in a closed
<details> block, and a severity with no finding is not painted as an alarm.

The report is built from capture folders of real captured output (tests/unit/fixtures, SOURCES.md): an AIX
server's `netstat -Aan` and rmsock log (keepalive unknown: no kdb), a Linux `netstat -an` (no -o), and the client
the AIX server's ssh session comes from, audited and holding none of it (a half-open socket with a sample).
"""

from __future__ import annotations

import json
import re

import chromium
import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts.capture_dir import read_capture_dir

SUMMARY_CRITICAL = chromium.hex_colour("#f4c2c2")
SUMMARY_WARNING = chromium.hex_colour("#f6dd9a")
SUMMARY_INFO = chromium.hex_colour("#c9def2")


def make_host(root, host, files):
    folder = root / host
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.fixture
def report_page(tmp_path, fixture_text):
    captures = tmp_path / "captures"
    make_host(
        captures,
        "app",
        {
            "netstat-Aan.txt": fixture_text("aix/netstat-Aan-1.txt"),
            "rmsock.txt": fixture_text("aix/rmsock-7.txt") + fixture_text("aix/rmsock-8.txt"),
            "no-a.txt": fixture_text("aix/no-a-1.txt"),
        },
    )
    make_host(
        captures,
        "client",
        {"proc-net-tcp.txt": fixture_text("linux/proc-net-tcp-1.txt"), "host.yml": "ansible_host: 24.236.207.124\n"},
    )
    make_host(captures, "web", {"netstat-an.txt": fixture_text("linux/netstat-na-1.txt")})
    report = build_report(read_capture_dir(str(captures)), "2026-12-07T03:00:00Z", correlation={"min_half_open": 1})
    page = tmp_path / "audit.html"
    page.write_text(html.render(report))
    return report, page


def test_chromium_shows_unknown_folded_samples_and_uncoloured_zero_tiles(report_page, tmp_path):
    assert chromium.available(), "chromium is not installed (tools/install-system-deps.sh installs it)"
    report, page = report_page
    severities = {item["severity"] for item in report["findings"]}
    assert severities == {"warning"}, severities  # critical and info are zero: their tiles must stay plain
    assert report["hosts"]["app"]["netstat"]["established_keepalive_unknown"] == 2
    chromium.OUTPUT.mkdir(parents=True, exist_ok=True)
    dom, screenshot = chromium.render(page, str(chromium.OUTPUT / "truth.png"))

    # Unknown keepalive: the app's peers table and its keepalive line, as the browser built them.
    app = dom[dom.index("<h2>app (ok) (from captures)</h2>") : dom.index("<h2>client")]
    assert re.search(r"<td>24\.236\.207\.124</td><td>1</td><td>unknown \(1 of 1\)</td>", app)
    assert "ESTABLISHED without SO_KEEPALIVE: unknown (2 of 2)" in app
    assert "<td>java</td><td>143640</td><td>1</td>" in app  # the rmsock section

    # The sample is folded: a <details> block the browser keeps closed (no open attribute after rendering).
    folded = re.findall(r"<details class=\"sample\"( open)?><summary>([^<]*)</summary>", dom)
    assert folded and all(not opened for opened, _summary in folded), folded
    assert "Sample of the sockets" in dom and "{" not in dom[dom.index("<h2>Findings") : dom.index("<h2>app")]

    # Zero findings of a severity: no alarm colour painted; the warning tile is.
    painted = chromium.colour_rows(screenshot, (SUMMARY_CRITICAL, SUMMARY_WARNING, SUMMARY_INFO))
    assert painted[SUMMARY_WARNING], "the warning count is not painted"
    assert not painted[SUMMARY_CRITICAL] and not painted[SUMMARY_INFO], {
        colour: rows[:3] for colour, rows in painted.items()
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
