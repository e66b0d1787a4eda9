# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest fixtures: where the real captured outputs are, and how to read them."""

from __future__ import annotations

import pathlib

import pytest

FIXTURES = pathlib.Path(__file__).parent / "unit" / "fixtures"


def read_fixture(relative_path):
    """The text of a captured output under tests/unit/fixtures (see SOURCES.md there for provenance)."""
    return (FIXTURES / relative_path).read_text(encoding="utf-8")


@pytest.fixture
def fixture_text():
    return read_fixture
