# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the audit report goes and how it is written: a private directory, private files, one set at a time.

The reports map the network (addresses, ports, process names), so they are private: the directory is created 0700
and every file is written 0600 (or the mode asked for) with fchmod on the open descriptor, never chmod on a path
another local user could have swapped. A directory owned by someone else, or writable by group or others (such as
a /var/tmp/netdiag someone created first), is refused: whoever can write in it could replace the files between
two of our steps. All files are created and renamed relative to one open descriptor of the checked directory.

Missing levels of a deep report directory are created one at a time, each with mkdir(0700) relative to the open
descriptor of its parent and opened again with O_NOFOLLOW, whatever the umask: os.makedirs under umask 000 made
every level 0777, and another user replaced a level with their own directory or a symbolic link and chose where
root wrote. A missing level is created only in a parent that nobody else can change: owned by you or root, and
not writable by group or others unless it has the sticky bit (/tmp), where others cannot rename what is ours.

Two audits writing into one directory at once take turns: each holds an exclusive flock on .audit.lock (created
0600 with O_NOFOLLOW in the checked directory) from before it picks its stamp until its audit-latest.* set and
the pruning are done. Without the lock, two runs in the same second wrote the same names and one report was lost,
and audit-latest.* of overlapping runs held files of both. The stamp has microseconds and is taken under the lock
(write order is stamp order), and each stamped file is published with link(2), which like O_EXCL never replaces
a file: a stamp already taken (a given generated_at written twice) is moved on by a microsecond, never reused.

audit-latest.{json,md,html} are replaced together or not at all: every temporary file of the set is written and
flushed first; the stamped files are published, and only then are the temporaries renamed over audit-latest.*,
one rename after the other, all under the lock, so the set left is always of one run. What remains is the short
window between those renames (a reader can see the new JSON beside the old HTML for that long), and a crash or
power loss inside it; a rename within one directory does not fail for lack of space, so a failed write (disk
full, quota) leaves the previous set untouched. A name in the way of a rename (a directory called audit-latest.md)
is refused before anything is written. Should a rename still fail halfway, the temporaries not yet renamed are
removed and the error names which audit-latest files were replaced and which still hold the previous report.

An audit that audited no host (every host unreachable or failed) is written as audit-<stamp>-failed.*: it does
not replace audit-latest.*, and keep counts those sets apart, so it never pushes the last good set out.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import os
import re
import secrets
import stat

REPORT_NAME = re.compile(
    r"\Aaudit-(?P<stamp>[0-9]{8}T[0-9]{6}(?:\.[0-9]{6})?Z)(?P<failed>-failed)?"
    r"\.(?P<extension>json|md|html|summary\.json)\Z"
)
STAMP = re.compile(r"\A(?P<seconds>[0-9]{8}T[0-9]{6})(?:\.(?P<micro>[0-9]{6}))?Z\Z")
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = ".audit.lock"
# Errors of link(2) on file systems without hard links (FAT, some FUSE and network mounts).
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


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
    except FileNotFoundError:
        return _missing_directory_problem(path)  # a dangling link of yours: its target is created
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


def _missing_levels(path):
    """(the deepest existing directory above `path`, [the missing names below it, outermost first])."""
    existing, missing = os.path.abspath(path), []
    while not os.path.exists(existing):
        existing, name = os.path.split(existing)
        missing.insert(0, name)
    return existing, missing


def _parent_problem(path, parent, info):
    """Why a missing level of `path` may not be created in `parent` (os.stat `info`), or None.

    Whoever else can write in the parent could rename the directory we create there and put their own, or a
    symbolic link, in its place between two of our steps; the sticky bit (/tmp) stops that for others' entries
    but not for the parent's owner.
    """
    if not stat.S_ISDIR(info.st_mode):
        return "%s cannot be created: %s is not a directory" % (path, parent)
    if info.st_uid not in (os.geteuid(), 0):
        return "%s cannot be created: %s is owned by uid %d, not by you (uid %d) or root" % (
            path,
            parent,
            info.st_uid,
            os.geteuid(),
        )
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return (
            "%s cannot be created: %s is writable by group or others (mode %04o) without the sticky bit; "
            "create the report directory yourself, or choose one under a private directory"
            % (path, parent, stat.S_IMODE(info.st_mode))
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        return "%s cannot be created: %s is not writable" % (path, parent)
    return None


def _missing_directory_problem(path):
    parent, _missing = _missing_levels(path)
    try:
        info = os.stat(parent)
    except OSError as error:
        return "%s cannot be created: %s cannot be examined: %s" % (path, parent, error.strerror)
    return _parent_problem(path, parent, info)


def _create_missing_levels(path):
    """Create the missing levels of `path` one by one (0700, relative to the parent's descriptor, never following
    a symbolic link) and return an open descriptor of the last; None when nothing is missing."""
    parent, missing = _missing_levels(path)
    if not missing:
        return None
    try:
        descriptor = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise ReportDirectoryError(
            "%s cannot be created: cannot open %s: %s" % (path, parent, error.strerror)
        ) from None
    try:
        problem = _parent_problem(path, parent, os.fstat(descriptor))
        if problem:
            raise ReportDirectoryError(problem)
        for name in missing:
            level = os.path.join(parent, name)
            created = True
            try:
                os.mkdir(name, DIRECTORY_MODE, dir_fd=descriptor)
            except FileExistsError:
                created = False  # made by someone else meanwhile: used only if it passes the checks below
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=descriptor)
            except OSError as error:
                raise ReportDirectoryError("cannot create or open %s: %s" % (level, error.strerror)) from None
            os.close(descriptor)
            descriptor = child
            info = os.fstat(descriptor)
            if created and info.st_uid == os.geteuid():
                os.fchmod(descriptor, DIRECTORY_MODE)  # an odd umask (0277) may have taken our own bits away
                info = os.fstat(descriptor)
            problem = _unsafe_directory_problem(level, info)
            if problem:
                raise ReportDirectoryError(problem)
            parent = level
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def open_report_directory(path):
    """Create `path` (0700 per missing level) when missing, check it again and return an open descriptor of it."""
    problem = directory_problem(path)
    if problem:
        raise ReportDirectoryError(problem)
    try:
        descriptor = _create_missing_levels(path)
        if descriptor is None:
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except ReportDirectoryError:
        raise
    except OSError as error:
        raise ReportDirectoryError("cannot create or open %s: %s" % (path, error.strerror)) from error
    # Checked on the descriptor: the directory we opened is the one we write in, whatever the path means now.
    problem = _unsafe_directory_problem(path, os.fstat(descriptor))
    if problem:
        os.close(descriptor)
        raise ReportDirectoryError(problem)
    return descriptor


@contextlib.contextmanager
def directory_lock(directory, path):
    """Hold an exclusive flock on .audit.lock in the open `directory` (waits for another audit writing there)."""
    try:
        descriptor = os.open(
            LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=directory
        )
    except OSError as error:
        message = "cannot open the lock file %s: %s" % (os.path.join(path, LOCK_NAME), error.strerror)
        raise ReportDirectoryError(message) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ReportDirectoryError("%s is not a regular file" % os.path.join(path, LOCK_NAME))
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def write_temporary(directory, name, text, mode):
    """A new private temporary file beside `name` in the open directory (O_EXCL|O_NOFOLLOW, mode set by fchmod,
    flushed to disk) holding text; its name. Nothing is left behind when the write fails."""
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


def new_stamp(now=None):
    """The stamp of a report written now: UTC with microseconds, YYYYMMDDTHHMMSS.ffffffZ."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%fZ")


def _next_stamp(stamp):
    """The stamp one microsecond later (a taken stamp is moved on, never reused)."""
    match = STAMP.match(stamp)
    moment = datetime.datetime.strptime(match.group("seconds"), "%Y%m%dT%H%M%S")
    moment += datetime.timedelta(microseconds=int(match.group("micro") or 0) + 1)
    return moment.strftime("%Y%m%dT%H%M%S.%fZ")


def _stamp_order(stamp):
    """Sort key of a stamp: time, with and without microseconds alike ('.' would sort before 'Z' as text)."""
    match = STAMP.match(stamp)
    return (match.group("seconds"), int(match.group("micro") or 0))


def _publish(directory, temporary, name):
    """Give the written `temporary` the name `name` unless that name exists (FileExistsError then).

    link(2) never replaces a file, so a stamp is taken by one run only, as O_EXCL would do. Where the file system
    has no hard links, the name is checked and renamed; every writer of ours holds the directory lock, so that check
    is not raced by another audit.
    """
    try:
        os.link(temporary, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
    except OSError as error:
        if error.errno not in NO_HARD_LINKS:
            raise
        try:
            os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            return
        raise FileExistsError(errno.EEXIST, "File exists", name) from None
    os.unlink(temporary, dir_fd=directory)


def _publish_stamped(directory, temporaries, stamp, suffix):
    """Publish the stamped files under the first free stamp from `stamp` on; return (stamp, names published)."""
    while True:
        published = []
        try:
            for extension, temporary in temporaries.items():
                name = "audit-%s%s.%s" % (stamp, suffix, extension)
                _publish(directory, temporary, name)
                published.append(name)
            return stamp, published
        except FileExistsError:
            # Taken by an earlier run (a given generated_at twice): ours go back to being temporaries.
            for name, extension in zip(published, temporaries):
                os.rename(name, temporaries[extension], src_dir_fd=directory, dst_dir_fd=directory)
            stamp = _next_stamp(stamp)
        except BaseException:
            _unlink_quietly(directory, published)  # ours alone (the lock is held): no set of this run is half there
            raise


def write_report_set(path, stamp, texts, mode=FILE_MODE, keep=0, warnings=None, audited=True, latest_only=None):
    """Write audit-<stamp>.<ext> and audit-latest.<ext> for each {ext: text}; return the stamped paths.

    latest_only {ext: text}: files kept only as audit-latest.<ext> (audit-latest.prom), replaced with the others
    under the same lock, so that the whole audit-latest set is always one run's (not written when audited is False).

    stamp None: the time of the write, taken under the directory lock (YYYYMMDDTHHMMSS.ffffffZ); a given stamp
    (YYYYMMDDTHHMMSSZ, from generated_at) already taken in the directory is moved on by a microsecond. The
    directory's lock is held throughout, so a concurrent audit writing there waits, and audit-latest.* is always
    one run's set. audited False (the audit audited no host): the set is audit-<stamp>-failed.<ext>, audit-latest.*
    is not replaced and keep counts such sets apart from the others.

    Nothing is replaced unless every file was written and every name to replace is absent, a regular file or a
    symbolic link (ReportDirectoryError otherwise, before anything is written). A rename failing halfway raises
    ReportWriteError naming the audit-latest files replaced and not replaced; no temporary file is left behind.
    keep > 0 then removes the oldest timestamped sets beyond the newest `keep` (audit-latest.* and the set just
    written are never removed); a file that cannot be removed is named in `warnings` (a list) rather than failing
    a report that is already in place. Raises ReportDirectoryError, ReportWriteError or OSError.
    """
    if stamp is not None and (not isinstance(stamp, str) or not STAMP.match(stamp)):
        raise ValueError("report stamp %r is not YYYYMMDDTHHMMSSZ" % (stamp,))
    suffix = "" if audited else "-failed"
    directory = open_report_directory(path)
    try:
        with directory_lock(directory, path):
            stamp = stamp or new_stamp()
            latest_only = (latest_only or {}) if audited else {}
            latest = ["audit-latest.%s" % extension for extension in [*texts, *latest_only]] if audited else []
            problems = [problem for problem in (_target_problem(directory, name) for name in latest) if problem]
            if problems:
                raise ReportDirectoryError("in %s: %s; nothing was replaced" % (path, "; ".join(problems)))
            stamped, latest_temporaries = {}, {}
            try:
                for extension, text in texts.items():
                    stamped[extension] = write_temporary(directory, "audit-stamped.%s" % extension, text, mode)
                    if audited:
                        name = "audit-latest.%s" % extension
                        latest_temporaries[name] = write_temporary(directory, name, text, mode)
                for extension, text in latest_only.items():
                    name = "audit-latest.%s" % extension
                    latest_temporaries[name] = write_temporary(directory, name, text, mode)
            except BaseException:
                _unlink_quietly(directory, [*stamped.values(), *latest_temporaries.values()])
                raise
            # Stamped files first: when audit-latest.* is replaced, what it copies is already in place.
            try:
                stamp, published = _publish_stamped(directory, stamped, stamp, suffix)
            except BaseException:
                _unlink_quietly(directory, [*stamped.values(), *latest_temporaries.values()])
                raise
            _replace_latest(directory, latest_temporaries, published)
            if keep:
                try:
                    problems = remove_old_reports(directory, keep, current=stamp)
                except OSError as error:
                    problems = [(path, error.strerror)]
                if warnings is not None:
                    warnings.extend("%s: not removed (netdiag_report_keep): %s" % item for item in problems)
    finally:
        os.close(directory)
    stamped_paths = [os.path.join(path, "audit-%s%s.%s" % (stamp, suffix, extension)) for extension in texts]
    return stamped_paths + [os.path.join(path, "audit-latest.%s" % extension) for extension in latest_only]


def _replace_latest(directory, temporaries, published):
    """Rename each temporary over its audit-latest name; a failure halfway raises ReportWriteError."""
    renamed = []
    try:
        for name, temporary in temporaries.items():
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            renamed.append(name)
        os.fsync(directory)
    except OSError as error:
        _unlink_quietly(directory, [temporaries[name] for name in temporaries if name not in renamed])
        raise ReportWriteError(
            error.errno,
            "%s; audit-latest files replaced: %s; not replaced (still the previous report): %s; "
            "timestamped files in place: %s"
            % (
                error.strerror or error,
                ", ".join(renamed) or "none",
                ", ".join(name for name in temporaries if name not in renamed) or "none",
                ", ".join(published) or "none",
            ),
        ) from error


def remove_old_reports(directory, keep, current=None):
    """Remove the timestamped report files of all but the newest `keep` stamps (ordered by their time).

    Sets of an audit that audited no host (audit-<stamp>-failed.*) are counted apart: keep N leaves the newest N
    sets of each kind, so failed runs never push the last good set out. The set of stamp `current` (the one just
    written) is never removed, even when an older generated_at made it sort before the others: the paths the
    caller returns must exist.

    Returns [(name, why)] for files that could not be removed; one already gone (another run removed it) is fine.
    """
    stamps = {}
    for name in os.listdir(directory):
        match = REPORT_NAME.match(name)
        if match:
            kind = stamps.setdefault(bool(match.group("failed")), {})
            kind.setdefault(match.group("stamp"), []).append(name)
    problems = []
    for kind in stamps.values():
        for stamp in sorted(kind, key=_stamp_order)[:-keep]:
            if stamp == current:
                continue
            for name in sorted(kind[stamp]):
                try:
                    os.unlink(name, dir_fd=directory)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    problems.append((name, error.strerror))
    return problems
