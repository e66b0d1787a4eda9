# SPDX-License-Identifier: GPL-3.0-or-later
"""aix_rmsock on real rmsock lines (see tests/unit/fixtures/SOURCES.md) and the seed incident's loop output."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "rmsock-1.txt",
            {"socket": "0xf1000e0000180808", "held_by": "process", "pid": 3211434, "process": "writesrv"},
        ),
        ("rmsock-2.txt", {"socket": "0xf1000e0000180808", "held_by": "kernel", "pid": None, "process": None}),
        ("rmsock-3.txt", {"socket": "0x258d008", "held_by": "removed", "pid": None, "process": None}),
        ("rmsock-7.txt", {"socket": "0xf100050003820008", "held_by": "process", "pid": 4325554, "process": "javaw"}),
        ("rmsock-8.txt", {"socket": "0x864e808", "held_by": "process", "pid": 143640, "process": "java"}),
    ],
)
def test_real_lines(fixture_text, name, expected):
    result = aix_rmsock.parse(fixture_text("aix/" + name))
    assert result["results"] == [dict(expected, error=None, errno=None)]
    assert result["held_by_counts"][expected["held_by"]] == 1
    assert sum(result["held_by_counts"].values()) == 1


def test_error_line(fixture_text):
    result = aix_rmsock.parse(fixture_text("aix/rmsock-6.txt"))
    assert result["results"] == [
        {
            "socket": "0xf1000f0000140600",
            "held_by": "error",
            "pid": None,
            "process": None,
            "error": "Unable to read kernel address f1000f0000140600, errno = 22",
            "errno": 22,
        }
    ]
    assert result["by_process"] == []


def test_seed_loop_output_summarised_per_process(fixture_text):
    # The incident's `for a in $(cat a.lst); do rmsock $a tcpcb >> a.log; done` output (its line has a leading
    # space), mixed with the other real lines.
    seed_line = " The socket 0x7946000 is being held by proccess 376864 (xxxx_srv).\n"
    text = seed_line * 3 + fixture_text("aix/rmsock-2.txt") + seed_line + fixture_text("aix/rmsock-7.txt") + "\n"
    result = aix_rmsock.parse(text)
    assert len(result["results"]) == 6
    assert result["by_process"] == [
        {"pid": 376864, "process": "xxxx_srv", "count": 4},
        {"pid": 4325554, "process": "javaw", "count": 1},
    ]
    assert result["held_by_counts"] == {"process": 5, "kernel": 1, "removed": 0, "error": 0}


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("The socket 0x7946000 is being held by proccess 376864 (a).\nrmsock f1000 tcpcb\n", 2),
        ("The socket 0x7946000 is being held by someone.\n", 1),
        ("", 1),
    ],
)
def test_garbage_names_the_line(text, line_number):
    with pytest.raises(ParseError) as caught:
        aix_rmsock.parse(text)
    assert caught.value.format_name == "aix_rmsock"
    assert caught.value.line_number == line_number
