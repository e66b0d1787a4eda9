# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless Chromium (Debian's `chromium` package) for checking the HTML report as a browser renders it.

render() writes a screenshot and returns the DOM after rendering; colours_in() reads the screenshot's pixels (a
small PNG reader: 8-bit RGB/RGBA, not interlaced, what Chromium writes) so a test can prove that coloured parts of
the page (the summary's count cells, the pair picture's bars) were painted, not only present in the markup.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import zlib

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def available():
    return os.access(CHROMIUM, os.X_OK)


def _run(arguments, profile, timeout=120):
    return subprocess.run(
        [CHROMIUM, *FLAGS, "--user-data-dir=%s" % profile, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def render(html_path, screenshot, size=(1200, 1600)):
    """(DOM after rendering, screenshot path) of a local HTML file."""
    url = pathlib.Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="netdiag-chromium-")
    try:
        shot = _run(["--screenshot=%s" % screenshot, "--window-size=%d,%d" % size, url], profile)
        assert pathlib.Path(screenshot).exists(), "chromium wrote no screenshot (rc=%d)\n%s" % (
            shot.returncode,
            shot.stderr[-3000:],
        )
        dom = _run(["--dump-dom", url], profile)
        assert dom.returncode == 0 and "<body" in dom.stdout, dom.stderr[-3000:]
        return dom.stdout, screenshot
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def read_png(path):
    """(width, height, rows) of an 8-bit RGB or RGBA PNG; rows are lists of (r, g, b) tuples."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _compression, _filter, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for index in range(height):
        start = index * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for column in range(stride):
            left = line[column - channels] if column >= channels else 0
            up = previous[column]
            corner = previous[column - channels] if column >= channels else 0
            if kind == 1:
                line[column] = (line[column] + left) & 0xFF
            elif kind == 2:
                line[column] = (line[column] + up) & 0xFF
            elif kind == 3:
                line[column] = (line[column] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
                predictor = (left, up, corner)[distances.index(min(distances))]
                line[column] = (line[column] + predictor) & 0xFF
        rows.append([tuple(line[offset : offset + 3]) for offset in range(0, stride, channels)])
        previous = line
    return width, height, rows


def colour_rows(path, colours):
    """{colour: [row indexes where it is painted]} for (r, g, b) colours in a screenshot."""
    _width, _height, rows = read_png(path)
    wanted = {colour: [] for colour in colours}
    for index, row in enumerate(rows):
        present = set(row)
        for colour in colours:
            if colour in present:
                wanted[colour].append(index)
    return wanted


def hex_colour(text):
    """'#d64' or '#dd6644' -> (221, 102, 68)."""
    text = text.lstrip("#")
    if len(text) == 3:
        text = "".join(character * 2 for character in text)
    return tuple(int(text[offset : offset + 2], 16) for offset in (0, 2, 4))


# Colours the report's stylesheet and pair picture use (plugins/plugin_utils/report/html.py).
SUMMARY_WARNING = hex_colour("#f6dd9a")
SUMMARY_HOSTS = hex_colour("#dcefe3")
MATCHED = hex_colour("#4a8")
HALF_OPEN = hex_colour("#d64")
OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "output" / "chromium"


def check_report(html_path, name):
    """Render an audit report in Chromium, keep the screenshot under tests/output/chromium/, and assert that the
    summary comes first and is painted, and that the pair picture shows matched and half-open bars.
    Returns (dom, screenshot path)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    dom, screenshot = render(html_path, str(OUTPUT / (name + ".png")))
    assert dom.index('<section id="summary"') < dom.index('<svg class="pair-chart"') < dom.index("<h2>Findings</h2>")
    assert os.path.getsize(screenshot) > 20000, "screenshot is nearly empty"
    painted = colour_rows(screenshot, (SUMMARY_WARNING, SUMMARY_HOSTS, MATCHED, HALF_OPEN))
    for colour, rows in painted.items():
        assert rows, "colour %r is not painted in %s" % (colour, screenshot)
    # The summary is painted above the pair picture, and both on the first screen.
    assert max(painted[SUMMARY_WARNING]) < min(painted[MATCHED]) < 1600
    return dom, screenshot


FILL = hex_colour("#68a")  # the conntrack fill line (plugins/plugin_utils/report/trend_document.py)


def check_series(html_path, name):
    """Render a page with time series (an audit report with history, or playbooks/trend.yml's page), keep the
    screenshot, and assert that the pictures are there with their axis labels and times, and that the matched,
    half-open and conntrack fill lines are painted. Returns (dom, screenshot path)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    dom, screenshot = render(html_path, str(OUTPUT / (name + ".png")), size=(1200, 4000))
    assert dom.count('<svg class="series-chart"') >= 2, "no pair and host series in %s" % html_path
    for label in ('class="x-label"', "audit time (UTC)", 'class="y-label"', "sockets", "conntrack fill %"):
        assert label in dom, label
    assert dom.count('class="x-tick"') >= 4 and dom.count('class="y-tick"') >= 6
    painted = colour_rows(screenshot, (MATCHED, HALF_OPEN, FILL))
    for colour, rows in painted.items():
        assert rows, "colour %r is not painted in %s" % (colour, screenshot)
    return dom, screenshot
