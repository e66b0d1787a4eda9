# SPDX-License-Identifier: GPL-3.0-or-later
"""One private file written into a checked report directory: audit-latest.prom, a summary written for an older
report, the trend page and CSV. Same safety as report_files.write_report_set (the directory checked and opened
once, a temporary file created O_EXCL|O_NOFOLLOW with its mode set by fchmod, flushed, renamed over the name),
for files that are not part of the timestamped report set.
"""

from __future__ import annotations

import contextlib
import os

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import (
    FILE_MODE,
    open_report_directory,
    write_temporary,
)


def write_single_file(path, name, text, mode=FILE_MODE):
    """Replace `path`/`name` with `text` atomically; returns the file's path. Raises ReportDirectoryError/OSError."""
    if "/" in name or name in ("", ".", ".."):
        raise ValueError("file name %r is not a plain name" % (name,))
    directory = open_report_directory(path)
    temporary = None
    try:
        temporary = write_temporary(directory, name, text, mode)
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=directory)
        raise
    finally:
        os.close(directory)
    return os.path.join(path, name)
