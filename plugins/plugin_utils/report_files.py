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
full, quota) leaves the previous set untouched. A name in the way of a rename (a directory called audit-latest.md)
is refused before anything is written. Should a rename still fail halfway, the temporaries not yet renamed are
removed and the error names which audit-latest files were replaced and which still hold the previous report.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat

REPORT_NAME = re.compile(r"\Aaudit-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.(?P<extension>json|md|html|summary\.json)\Z")
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


class ReportWriteError(OSError):
    """The write stopped after some files were renamed into place; the message names what was replaced or not."""


def _target_problem(directory, name):
    """Why `name` cannot be replaced by a rename, or None: it must be absent, a regular file or a symbolic link
    (the link itself is replaced, never followed). A directory there would make the rename fail halfway."""
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        return None
    kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
    return "%s is %s; remove it or choose another report directory" % (name, kind)


def _unlink_quietly(directory, names):
    for name in names:
        # Already gone, or the directory went bad: nothing more can be done about it here.
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=directory)


def write_report_set(path, stamp, texts, mode=FILE_MODE, keep=0, warnings=None):
    """Write audit-<stamp>.<ext> and audit-latest.<ext> for each {ext: text}; return the stamped paths.

    Nothing is replaced unless every file was written and every name to replace is absent, a regular file or a
    symbolic link (ReportDirectoryError otherwise, before anything is written). A rename failing halfway raises
    ReportWriteError naming the audit-latest files replaced and not replaced; no temporary file is left behind.
    keep > 0 then removes the oldest timestamped sets beyond the newest `keep` (audit-latest.* and the set just
    written are never removed); a file that cannot be removed is named in `warnings` (a list) rather than failing
    a report that is already in place. Raises ReportDirectoryError, ReportWriteError or OSError.
    """
    if not isinstance(stamp, str) or not REPORT_NAME.match("audit-%s.json" % stamp):
        raise ValueError("report stamp %r is not YYYYMMDDTHHMMSSZ" % (stamp,))
    directory = open_report_directory(path)
    temporaries = {}
    try:
        names = [
            name for extension in texts for name in ("audit-%s.%s" % (stamp, extension), "audit-latest.%s" % extension)
        ]
        problems = [problem for problem in (_target_problem(directory, name) for name in names) if problem]
        if problems:
            raise ReportDirectoryError("in %s: %s; nothing was replaced" % (path, "; ".join(problems)))
        try:
            for extension, text in texts.items():
                for name in ("audit-%s.%s" % (stamp, extension), "audit-latest.%s" % extension):
                    temporaries[name] = _write_temporary(directory, name, text, mode)
        except BaseException:
            _unlink_quietly(directory, temporaries.values())
            raise
        # Stamped files first: when audit-latest.* is replaced, what it copies is already in place.
        order = sorted(temporaries, key=lambda item: item.startswith("audit-latest."))
        renamed = []
        try:
            for name in order:
                os.replace(temporaries[name], name, src_dir_fd=directory, dst_dir_fd=directory)
                renamed.append(name)
            os.fsync(directory)
        except OSError as error:
            _unlink_quietly(directory, [temporaries[name] for name in order if name not in renamed])
            latest = [name for name in order if name.startswith("audit-latest.")]
            replaced = [name for name in latest if name in renamed]
            if not renamed:
                raise  # nothing was renamed: the directory is as it was
            raise ReportWriteError(
                error.errno,
                "%s; audit-latest files replaced: %s; not replaced (still the previous report): %s; "
                "timestamped files in place: %s"
                % (
                    error.strerror or error,
                    ", ".join(replaced) or "none",
                    ", ".join(name for name in latest if name not in renamed) or "none",
                    ", ".join(name for name in renamed if name not in latest) or "none",
                ),
            ) from error
        if keep:
            try:
                problems = remove_old_reports(directory, keep, current=stamp)
            except OSError as error:
                problems = [(path, error.strerror)]
            if warnings is not None:
                warnings.extend("%s: not removed (netdiag_report_keep): %s" % item for item in problems)
    finally:
        os.close(directory)
    return [os.path.join(path, "audit-%s.%s" % (stamp, extension)) for extension in texts]


def remove_old_reports(directory, keep, current=None):
    """Remove the timestamped report files of all but the newest `keep` stamps (names sort by time).

    The set of stamp `current` (the one just written) is never removed, even when an older generated_at made it
    sort before the others: the paths the caller returns must exist.

    Returns [(name, why)] for files that could not be removed; one already gone (another run removed it) is fine.
    """
    stamps = {}
    for name in os.listdir(directory):
        match = REPORT_NAME.match(name)
        if match:
            stamps.setdefault(match.group("stamp"), []).append(name)
    problems = []
    for stamp in sorted(stamps)[:-keep]:
        if stamp == current:
            continue
        for name in sorted(stamps[stamp]):
            try:
                os.unlink(name, dir_fd=directory)
            except FileNotFoundError:
                continue
            except OSError as error:
                problems.append((name, error.strerror))
    return problems
