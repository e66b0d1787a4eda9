# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the parser tests that compare a fast reader with the per-line parser it stands in for."""

from __future__ import annotations

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError


def _outcome(function, *arguments, **options):
    try:
        return function(*arguments, **options)
    except ParseError as error:
        return ("ParseError", error.line_number, error.line, error.reason)


@pytest.fixture
def outcome():
    """outcome(function, *arguments, **options): what the call returns, or the ParseError it raises as
    ("ParseError", line number, line, reason), so that two readers can be compared either way."""
    return _outcome
