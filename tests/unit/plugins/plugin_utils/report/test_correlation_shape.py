# SPDX-License-Identifier: GPL-3.0-or-later
"""correlate() decides one thing per function it calls (pairs by counts, the matching merged in, NATs declared
only, filtered sides) and takes few parameters. Every function's length: tests/unit/plugins/test_function_length.py."""

from __future__ import annotations

import ast
import pathlib

REPORT = pathlib.Path(__file__).resolve().parents[5] / "plugins" / "plugin_utils" / "report"


def test_correlate_takes_few_parameters_and_delegates():
    tree = ast.parse((REPORT / "correlation.py").read_text())
    (correlate,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "correlate"]
    assert len(correlate.args.args) <= 5
    called = {
        node.func.id for node in ast.walk(correlate) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"_count_pairs", "_add_matched", "_count_only_through_declared_nats", "_mark_filtered_sides"} <= called
