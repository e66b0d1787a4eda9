# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the audit report goes and how it is written: a private directory, private files, one set at a time.

The reports map the network (addresses, ports, process names), so they are private: the directory is created 0700
and every file is written 0600 (or the mode asked for) with fchmod on the open descriptor, never chmod on a path
another local user could have swapped. A directory owned by someone else, or writable by group or others (such as
a /var/tmp/netdiag someone created first), is refused: whoever can write in it could replace the files between
two of our steps. All files are created and renamed relative to one open descriptor of the checked directory.

audit-latest.{json,md,html} are replaced together or not at all: every temporary file of the set is written and
flushed first; only then are they renamed over the old ones, one rename after the other. What remains is the
short window between those renames (a reader can see the new JSON beside the old HTML for that long), and a crash
or power loss inside it; a rename within one directory does not fail for lack of space, so a failed write (disk
full, quota) leaves the previous set untouched.
"""

from __future__ import annotations

import os
import re
import secrets
import stat

REPORT_NAME = re.compile(r"\Aaudit-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.(?P<extension>json|md|html)\Z")
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


class ReportDirectoryError(ValueError):
    """The report directory is unusable or unsafe; the message says why."""


def directory_problem(path):
    """Why `path` cannot hold the reports, or None. Changes nothing (a missing directory is created later)."""
    try:
        link = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return _missing_directory_problem(path)
    except OSError as error:
        return "%s cannot be examined: %s" % (path, error.strerror)
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (os.geteuid(), 0):
        return "%s is a symbolic link owned by uid %d, not by you (uid %d) or root" % (
            path,
            link.st_uid,
            os.geteuid(),
        )
    try:
        info = os.stat(path)
    except OSError as error:
        return "%s cannot be examined: %s" % (path, error.strerror)
    if not stat.S_ISDIR(info.st_mode):
        return "%s is not a directory" % path
    return _unsafe_directory_problem(path, info)


def _unsafe_directory_problem(path, info):
    if info.st_uid != os.geteuid():
        return "%s is owned by uid %d, not by you (uid %d): another user could replace the reports in it" % (
            path,
            info.st_uid,
            os.geteuid(),
        )
    if info.st_mode & 0o022:
        return "%s is writable by group or others (mode %04o): make it private with chmod 700" % (
            path,
            stat.S_IMODE(info.st_mode),
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return "%s is not writable" % path
    return None


def _missing_directory_problem(path):
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return "%s cannot be created: %s is not a directory" % (path, parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        return "%s cannot be created: %s is not writable" % (path, parent)
    return None


def open_report_directory(path):
    """Create `path` (0700) when missing, check it again and return an open descriptor of it."""
    problem = directory_problem(path)
    if problem:
        raise ReportDirectoryError(problem)
    try:
        os.makedirs(path, mode=DIRECTORY_MODE, exist_ok=True)
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise ReportDirectoryError("cannot create or open %s: %s" % (path, error.strerror)) from error
    # Checked on the descriptor: the directory we opened is the one we write in, whatever the path means now.
    problem = _unsafe_directory_problem(path, os.fstat(descriptor))
    if problem:
        os.close(descriptor)
        raise ReportDirectoryError(problem)
    return descriptor


def _write_temporary(directory, name, text, mode):
    temporary = ".%s.%s.tmp" % (name, secrets.token_hex(6))
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=directory)
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken bits away from a wider mode asked for
        with os.fdopen(descriptor, "w", encoding="utf-8", closefd=False) as stream:
            stream.write(text)
            stream.flush()
            os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        os.unlink(temporary, dir_fd=directory)
        raise
    os.close(descriptor)
    return temporary


def write_report_set(path, stamp, texts, mode=FILE_MODE, keep=0, warnings=None):
    """Write audit-<stamp>.<ext> and audit-latest.<ext> for each {ext: text}; return the stamped paths.

    Nothing is replaced unless every file was written. keep > 0 then removes the oldest timestamped sets beyond
    the newest `keep` (audit-latest.* is never removed); a file that cannot be removed is named in `warnings`
    (a list) rather than failing a report that is already in place. Raises ReportDirectoryError or OSError.
    """
    directory = open_report_directory(path)
    temporaries = {}
    try:
        try:
            for extension, text in texts.items():
                for name in ("audit-%s.%s" % (stamp, extension), "audit-latest.%s" % extension):
                    temporaries[name] = _write_temporary(directory, name, text, mode)
        except BaseException:
            for temporary in temporaries.values():
                os.unlink(temporary, dir_fd=directory)
            raise
        # Stamped files first: when audit-latest.* is replaced, what it copies is already in place.
        for name in sorted(temporaries, key=lambda item: item.startswith("audit-latest.")):
            os.replace(temporaries[name], name, src_dir_fd=directory, dst_dir_fd=directory)
        os.fsync(directory)
        if keep:
            problems = remove_old_reports(directory, keep)
            if warnings is not None:
                warnings.extend("%s: not removed (netdiag_report_keep): %s" % item for item in problems)
    finally:
        os.close(directory)
    return [os.path.join(path, "audit-%s.%s" % (stamp, extension)) for extension in texts]


def remove_old_reports(directory, keep):
    """Remove the timestamped report files of all but the newest `keep` stamps (names sort by time).

    Returns [(name, why)] for files that could not be removed; one already gone (another run removed it) is fine.
    """
    stamps = {}
    for name in os.listdir(directory):
        match = REPORT_NAME.match(name)
        if match:
            stamps.setdefault(match.group("stamp"), []).append(name)
    problems = []
    for stamp in sorted(stamps)[:-keep]:
        for name in sorted(stamps[stamp]):
            try:
                os.unlink(name, dir_fd=directory)
            except FileNotFoundError:
                continue
            except OSError as error:
                problems.append((name, error.strerror))
    return problems
