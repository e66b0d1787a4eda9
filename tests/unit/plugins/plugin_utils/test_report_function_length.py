# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: the report's code reads one concern per function; none of plugins/plugin_utils/report is over 80
lines (a function that grows past it is split by what it decides, as correlation.correlate() was)."""

from __future__ import annotations

import ast
import pathlib

REPORT = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "plugin_utils" / "report"
LIMIT = 80


def test_no_report_function_is_over_80_lines():
    long = []
    for path in sorted(REPORT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LIMIT:
                    long.append("%s:%d %s (%d lines)" % (path.name, node.lineno, node.name, length))
    assert sorted(path.name for path in REPORT.glob("*.py"))[:1], "no report code found at %s" % REPORT
    assert long == []


def test_correlate_takes_few_parameters_and_delegates():
    tree = ast.parse((REPORT / "correlation.py").read_text())
    (correlate,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "correlate"]
    assert len(correlate.args.args) <= 5
    called = {
        node.func.id for node in ast.walk(correlate) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"_count_pairs", "_add_matched", "_count_only_through_declared_nats", "_mark_filtered_sides"} <= called
