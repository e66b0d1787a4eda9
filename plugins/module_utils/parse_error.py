# SPDX-License-Identifier: GPL-3.0-or-later
"""The one error every netdiag.tcp parser raises on text it does not recognise."""

from __future__ import annotations


class ParseError(ValueError):
    """Text that a parser cannot read, with the format, the 1-based line number and the line itself."""

    def __init__(self, format_name, line_number, line, reason):
        self.format_name = format_name
        self.line_number = line_number
        self.line = line
        self.reason = reason
        shown = line if len(line) <= 200 else line[:200] + "..."
        super().__init__("%s: line %d not recognised (%s): %r" % (format_name, line_number, reason, shown))
