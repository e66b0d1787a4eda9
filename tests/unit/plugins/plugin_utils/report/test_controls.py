# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/plugin_utils/report/controls.py: no C0/C1 control character reaches Markdown, HTML or the printed summary.

The hostile name is the one of the issue, as prctl(PR_SET_NAME) sets it (15 bytes): ESC ] 0 ; PWN BEL (set the
terminal's title) ESC [ 8 m (hide what follows) <b>. The live counterpart, with a real process of that name, is
tests/integration/test_audit_reports_safe.py.
"""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report import html, markdown
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.build import build_report
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.controls import visible
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report.document import summary_lines

HOSTILE = "\x1b]0;PWN\x07\x1b[8m<b>"
SHOWN = "\\x1b]0;PWN\\x07\\x1b[8m"  # how the report shows the controls of it
NETSTAT = {
    "state_counts": {"LISTEN": 1},
    "established_by_peer": [],
    "connections": [],
    "listeners": [{"protocol": "tcp", "local_address": "*", "local_port": 5555, "process": HOSTILE, "pid": 4242}],
}


def report_with(name, error):
    netstat = copy.deepcopy(NETSTAT)
    netstat["listeners"][0]["process"] = name
    gathered = {
        "app": {"status": "reached", "errors": [error], "facts": {"netstat": netstat}},
        "web": {"status": "unreachable", "errors": ["ssh: " + name], "facts": {}},
    }
    return build_report(gathered, "2026-11-25T21:30:00Z")


def controls_in(text):
    """Code points of C0 (but line feed and tab), DEL and C1 in `text`."""
    return sorted({"%02x" % ord(character) for character in text if visible(character) != character})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;PWN\x07\x1b[8m<b>", "\\x1b]0;PWN\\x07\\x1b[8m<b>"),
        ("a\x9b31mb", "a\\x9b31mb"),  # C1 CSI, one character
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("cr\rbs\x08", "cr\\x0dbs\\x08"),
        ("tab\tand\nline", "tab\tand\nline"),
        ("caf\u00e9 \u2014 \u00a0", "caf\u00e9 \u2014 \u00a0"),  # printable, even where UTF-8 uses bytes 0x80-0x9f
    ],
)
def test_visible(text, shown):
    assert visible(text) == shown


def test_markdown_has_no_control_character_and_shows_them():
    text = markdown.render(report_with(HOSTILE, "conntrack_facts: bell\x07 csi\x9b"))
    assert controls_in(text) == []
    # Markdown escapes the brackets as markup; the controls are shown as \xNN.
    assert "| tcp | \\* | 5555 | \\x1b\\]0;PWN\\x07\\x1b\\[8m\\<b\\> (4242) |" in text
    assert "- error: conntrack_facts: bell\\x07 csi\\x9b" in text
    # The bytes as written to the file: no C0 but line feed; C1 only as the second byte of a printable character.
    encoded = text.encode("utf-8")
    assert sorted({byte for byte in encoded if byte < 0x20 or byte == 0x7F}) == [0x0A]


def test_html_has_no_control_character_and_escapes_markup():
    page = html.render(report_with(HOSTILE, "conntrack_facts: bell\x07"))
    assert controls_in(page) == []
    assert "<td>%s&lt;b&gt; (4242)</td>" % SHOWN in page
    assert "<b>" not in page


def test_summary_lines_have_no_control_character():
    lines = summary_lines(report_with(HOSTILE, "conntrack_facts: two\nlines\x1b[2J"), ["r/audit-x.json"])
    assert [line for line in lines if controls_in(line)] == []
    assert "    error: ssh: %s<b>" % SHOWN in lines
    assert "    error: conntrack_facts: two lines\\x1b[2J" in lines


def test_json_keeps_the_name_as_data():
    # JSON is data: the exact name, its controls written as \\u escapes by json.dumps.
    report = report_with(HOSTILE, "x")
    text = json.dumps(report)
    assert "\\u001b]0;PWN\\u0007\\u001b[8m<b>" in text
    assert json.loads(text)["hosts"]["app"]["netstat"]["listeners"][0]["process"] == HOSTILE
