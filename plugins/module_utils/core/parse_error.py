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
        # What went wrong, without the format: for callers that name the format themselves (the parse filter).
        self.detail = "line %d not recognised (%s): %r" % (line_number, reason, shown)
        super().__init__("%s: %s" % (format_name, self.detail))
