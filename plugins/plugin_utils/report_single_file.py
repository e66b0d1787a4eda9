# SPDX-License-Identifier: GPL-3.0-or-later
"""One private file written into a checked report directory: audit-latest.prom, a summary written for an older
report, the trend page and CSV. Same safety as report_files.write_report_set (the directory checked and opened
once, a temporary file created O_EXCL|O_NOFOLLOW with its mode set by fchmod, flushed, renamed over the name),
for files that are not part of the timestamped report set.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import FILE_MODE, open_report_directory


def write_single_file(path, name, text, mode=FILE_MODE):
    """Replace `path`/`name` with `text` atomically; returns the file's path. Raises ReportDirectoryError/OSError."""
    if "/" in name or name in ("", ".", ".."):
        raise ValueError("file name %r is not a plain name" % (name,))
    directory = open_report_directory(path)
    temporary = ".%s.%s.tmp" % (name, secrets.token_hex(6))
    try:
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=directory
        )
        try:
            os.fchmod(descriptor, mode)
            with os.fdopen(descriptor, "w", encoding="utf-8", closefd=False) as stream:
                stream.write(text)
                stream.flush()
                os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        raise
    finally:
        os.close(directory)
    return os.path.join(path, name)
