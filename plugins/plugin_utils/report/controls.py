# SPDX-License-Identifier: GPL-3.0-or-later
"""Control characters out of every human format (Markdown, HTML, the printed summary). Pure functions.

Host text reaches the report unchanged (process names, user names, error messages), and any local user can name a
process with prctl(PR_SET_NAME): `\\e]0;PWN\\a\\e[8m<b>` put ESC and BEL raw into audit-latest.md, so `cat` set the
terminal's title and hid the text after it. Markup escaping does not help against that: terminals act on C0
(0x00-0x1f), DEL and C1 (0x80-0x9f; 0x9b alone is a CSI in 8-bit mode) whatever the format. Each such character
is shown as its \\xNN code instead, so the report still says that something odd was there. Line feed stays (the
formats' own line breaks; the Markdown escaper already folds host line breaks) and so does tab. JSON needs none of
this: json.dumps writes every C0 character as \\u00NN, and the file is data, not something to cat.
"""

from __future__ import annotations

import re

CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text):
    """`text` with every C0 control but line feed and tab, DEL and every C1 control written as \\xNN."""
    return CONTROLS.sub(lambda match: "\\x%02x" % ord(match.group(0)), text)
