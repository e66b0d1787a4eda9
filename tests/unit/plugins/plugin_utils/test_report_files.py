# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/plugin_utils/report_files.py against real processes: audits writing into one directory at once, a
process under umask 000 creating a deep report directory, and the order in which a set is put in place.

The concurrent writers are separate Python processes (subprocess), started together and each writing many sets, as
two cron jobs or two ansible-playbook runs would; each set's text carries its run id, so a file of one run under
another run's name, or an audit-latest.* set mixing two runs, is seen.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from ansible_collections.netdiag.tcp.plugins.plugin_utils import report_files
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import (
    ReportDirectoryError,
    ReportWriteError,
    write_report_set,
)

REPO = pathlib.Path(__file__).resolve().parents[4]
COLLECTIONS = REPO / ".ansible" / "collections"

# One writer: waits for "go" on stdin (so both start together), then writes `count` sets whose every file says
# which run it belongs to. argv: directory, writer name, count, stamp ("now" for the writer's own stamp).
WRITER = r"""
import sys
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import write_report_set
directory, writer, count, stamp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.stdin.readline()
for number in range(count):
    run = "%s-%d" % (writer, number)
    texts = {extension: "run=%s format=%s\n" % (run, extension) for extension in ("json", "md", "html")}
    paths = write_report_set(directory, None if stamp == "now" else stamp, texts)
    print(run, " ".join(paths), flush=True)
"""


def start_writers(directory, names, count, stamp):
    environment = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), name, str(count), stamp],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for name in names
    ]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    outputs = {}
    for name, writer in zip(names, writers):
        stdout, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
        outputs[name] = [line.split() for line in stdout.splitlines()]
    return outputs


def run_of(path):
    return pathlib.Path(path).read_text().split()[0]


@pytest.mark.parametrize("stamp", ["now", "20261125T213000Z"], ids=["own-stamps", "same-given-stamp"])
def test_concurrent_audits_lose_no_report_and_latest_is_one_run(tmp_path, stamp):
    # 2 x 40 sets at once. With the given stamp every write of both runs asks for the same name: each must get
    # its own (moved on by a microsecond), none overwritten. Before the lock, 7 of 10 real pairs lost a report
    # and audit-latest.* mixed two runs in 166 of 200 forced overlaps.
    count = 40
    outputs = start_writers(tmp_path, ["first", "second"], count, stamp)
    returned = {run: paths for lines in outputs.values() for run, *paths in lines}
    assert len(returned) == 2 * count
    every_path = [path for paths in returned.values() for path in paths]
    assert len(set(every_path)) == 6 * count  # no two runs were given the same file
    for run, paths in returned.items():
        assert [pathlib.Path(path).suffix for path in paths] == [".json", ".md", ".html"]
        # Each run's files exist and hold that run (nothing overwritten by the other writer).
        assert {pathlib.Path(path).read_text() for path in paths} == {
            "run=%s format=%s\n" % (run, extension) for extension in ("json", "md", "html")
        }
    stamped = sorted(path.name for path in tmp_path.iterdir() if report_files.REPORT_NAME.match(path.name))
    assert len(stamped) == 6 * count
    # audit-latest.* is one run's set, and that run is the newest stamp (the stamp is taken under the lock).
    latest = {run_of(tmp_path / ("audit-latest." + extension)) for extension in ("json", "md", "html")}
    assert len(latest) == 1
    newest = max(returned, key=lambda run: report_files._stamp_order(pathlib.Path(returned[run][0]).name[6:-5]))
    assert latest == {"run=" + newest}
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_own_stamps_have_microseconds_and_sort_by_time(tmp_path):
    first = write_report_set(tmp_path, None, {"json": "1"})
    second = write_report_set(tmp_path, None, {"json": "2"})
    names = [pathlib.Path(path).name for path in first + second]
    assert all(report_files.STAMP.match(name[6:-5]).group("micro") for name in names)
    assert names[0] < names[1]


def test_a_taken_given_stamp_moves_on_by_a_microsecond(tmp_path):
    first = write_report_set(tmp_path, "20261125T213000Z", {"json": "first"})
    second = write_report_set(tmp_path, "20261125T213000Z", {"json": "second"})
    third = write_report_set(tmp_path, "20261125T213000Z", {"json": "third"})
    assert [pathlib.Path(path).name for path in first + second + third] == [
        "audit-20261125T213000Z.json",
        "audit-20261125T213000.000001Z.json",
        "audit-20261125T213000.000002Z.json",
    ]
    assert [pathlib.Path(path).read_text() for path in first + second + third] == ["first", "second", "third"]
    # keep orders them by time (as text, "…000.000001Z" would sort before "…000Z").
    write_report_set(tmp_path, "20261125T213000Z", {"json": "fourth"}, keep=2)
    assert sorted(path.name for path in tmp_path.glob("audit-2*")) == [
        "audit-20261125T213000.000002Z.json",
        "audit-20261125T213000.000003Z.json",
    ]


UMASK_ZERO_WRITER = r"""
import os, sys
from ansible_collections.netdiag.tcp.plugins.plugin_utils.report_files import write_report_set
os.umask(0)
print(" ".join(write_report_set(sys.argv[1], "20261125T213000Z", {"json": "{}", "md": "x"})))
"""


def test_umask_000_creates_every_missing_level_0700(tmp_path):
    # A real process with umask 000 (cron, a container entrypoint): os.makedirs made every level 0777, and another
    # user replaced a level with their own directory or a symbolic link and chose where root wrote.
    dest = tmp_path / "a" / "b" / "c" / "reports"
    completed = subprocess.run(
        [sys.executable, "-c", UMASK_ZERO_WRITER, str(dest)],
        env=dict(os.environ, PYTHONPATH=str(COLLECTIONS)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    levels = [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c", dest]
    assert [stat.S_IMODE(level.lstat().st_mode) for level in levels] == [0o700] * 4
    assert all(stat.S_ISDIR(level.lstat().st_mode) for level in levels)
    assert sorted(
        (path.name, stat.S_IMODE(path.stat().st_mode)) for path in dest.iterdir() if not path.name.startswith("audit-2")
    ) == [(".audit.lock", 0o600), ("audit-latest.json", 0o600), ("audit-latest.md", 0o600)]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o720, 0o702])
def test_existing_directory_writable_by_group_or_others_refused(tmp_path, mode):
    dest = tmp_path / "reports"
    dest.mkdir()
    dest.chmod(mode)
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    assert str(raised.value) == (
        "%s is writable by group or others (mode %04o): make it private with chmod 700" % (dest, mode)
    )
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o775])
def test_missing_directory_under_a_parent_others_can_write_refused(tmp_path, mode):
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(mode)
    dest = parent / "team" / "reports"
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    assert str(raised.value) == (
        "%s cannot be created: %s is writable by group or others (mode %04o) without the sticky bit; "
        "create the report directory yourself, or choose one under a private directory" % (dest, parent, mode)
    )
    assert list(parent.iterdir()) == []
    assert report_files.directory_problem(str(dest)) == str(raised.value)


def test_missing_directory_under_a_sticky_parent_is_created(tmp_path):
    # /tmp: others can write there but cannot rename or remove what is ours.
    parent = tmp_path / "sticky"
    parent.mkdir()
    parent.chmod(0o1777)
    dest = parent / "netdiag" / "reports"
    write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    assert stat.S_IMODE((parent / "netdiag").stat().st_mode) == 0o700
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_missing_directory_under_another_users_parent_refused(tmp_path):
    parent = tmp_path / "alice"
    parent.mkdir(mode=0o755)
    os.chown(parent, 65534, 65534)
    dest = parent / "reports"
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    assert str(raised.value) == "%s cannot be created: %s is owned by uid 65534, not by you (uid 0) or root" % (
        dest,
        parent,
    )
    assert list(parent.iterdir()) == []


def test_a_symbolic_link_put_at_a_missing_level_is_not_followed(tmp_path, monkeypatch):
    # The race of the issue, made deterministic: right after our mkdir of level "b", it is swapped for a link to
    # a directory of the attacker's choosing. The level is opened with O_NOFOLLOW, so nothing is written there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    dest = tmp_path / "a" / "b" / "reports"
    real_mkdir = os.mkdir

    def mkdir_then_swap(name, mode=0o777, *, dir_fd=None):
        real_mkdir(name, mode, dir_fd=dir_fd)
        if name == "b":
            os.rmdir(tmp_path / "a" / "b")
            os.symlink(elsewhere, tmp_path / "a" / "b")

    monkeypatch.setattr(report_files.os, "mkdir", mkdir_then_swap)
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    # O_DIRECTORY | O_NOFOLLOW on a symbolic link: ENOTDIR on Linux.
    assert str(raised.value) == "cannot create or open %s: Not a directory" % (tmp_path / "a" / "b")
    assert list(elsewhere.iterdir()) == []


def test_latest_is_replaced_only_after_every_stamped_file_is_in_place(tmp_path, monkeypatch):
    # The first audit-latest rename fails: the stamped set must already be complete, and the message says so.
    write_report_set(tmp_path, "20261125T210000Z", {"json": "old", "md": "old"})
    real_replace = os.replace

    def latest_rename_fails(source, target, *args, **kwargs):
        if target.startswith("audit-latest."):
            raise OSError(5, "Input/output error")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(report_files.os, "replace", latest_rename_fails)
    with pytest.raises(ReportWriteError) as raised:
        write_report_set(tmp_path, "20261125T213000Z", {"json": "new", "md": "new"})
    assert raised.value.strerror == (
        "Input/output error; audit-latest files replaced: none; not replaced (still the previous report): "
        "audit-latest.json, audit-latest.md; timestamped files in place: audit-20261125T213000Z.json, "
        "audit-20261125T213000Z.md"
    )
    assert (tmp_path / "audit-20261125T213000Z.json").read_text() == "new"
    assert (tmp_path / "audit-20261125T213000Z.md").read_text() == "new"
    assert (tmp_path / "audit-latest.json").read_text() == "old"
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_publishing_order_stamped_then_latest(tmp_path, monkeypatch):
    events = []
    real_link, real_replace = os.link, os.replace

    def link(source, target, *args, **kwargs):
        events.append(target)
        return real_link(source, target, *args, **kwargs)

    def replace(source, target, *args, **kwargs):
        events.append(target)
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(report_files.os, "link", link)
    monkeypatch.setattr(report_files.os, "replace", replace)
    write_report_set(tmp_path, "20261125T213000Z", {"json": "1", "md": "2", "html": "3"})
    assert events == [
        "audit-20261125T213000Z.json",
        "audit-20261125T213000Z.md",
        "audit-20261125T213000Z.html",
        "audit-latest.json",
        "audit-latest.md",
        "audit-latest.html",
    ]


def test_failed_audit_set_does_not_replace_latest_nor_count_toward_keep(tmp_path):
    write_report_set(tmp_path, "20261125T210000Z", {"json": "good"}, keep=1)
    for minute in ("01", "02"):
        paths = write_report_set(tmp_path, "20261125T21%s00Z" % minute, {"json": "blind"}, keep=1, audited=False)
        assert paths == [str(tmp_path / ("audit-20261125T21%s00Z-failed.json" % minute))]
    # The last good set stays, and so does audit-latest; of the failed sets, the newest one (keep 1 of each kind).
    assert sorted(path.name for path in tmp_path.glob("audit-*")) == [
        "audit-20261125T210000Z.json",
        "audit-20261125T210200Z-failed.json",
        "audit-latest.json",
    ]
    assert (tmp_path / "audit-latest.json").read_text() == "good"
    write_report_set(tmp_path, "20261125T210300Z", {"json": "good again"}, keep=1)
    assert sorted(path.name for path in tmp_path.glob("audit-*")) == [
        "audit-20261125T210200Z-failed.json",
        "audit-20261125T210300Z.json",
        "audit-latest.json",
    ]


def test_lock_file_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / ".audit.lock").mkdir()
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(tmp_path, None, {"json": "{}"})
    assert "cannot open the lock file %s" % (tmp_path / ".audit.lock") in str(raised.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == [".audit.lock"]


def test_lock_file_symlink_is_not_followed(tmp_path):
    target = tmp_path / "victim"
    target.write_text("mine")
    dest = tmp_path / "reports"
    dest.mkdir(mode=0o700)
    (dest / ".audit.lock").symlink_to(target)
    with pytest.raises(ReportDirectoryError) as raised:
        write_report_set(dest, "20261125T213000Z", {"json": "{}"})
    assert str(raised.value) == "cannot open the lock file %s: Too many levels of symbolic links" % (
        dest / ".audit.lock"
    )
    assert target.read_text() == "mine"


def test_json_texts_round_trip(tmp_path):
    # The writer keeps text as given (UTF-8), whatever the process's locale.
    text = json.dumps({"name": "caf\u00e9"}, ensure_ascii=False)
    paths = write_report_set(tmp_path, None, {"json": text})
    assert pathlib.Path(paths[0]).read_bytes() == text.encode("utf-8")


def test_latest_only_files_are_part_of_the_latest_set(tmp_path):
    # audit-latest.prom is replaced with the rest of audit-latest.*, under the lock; no stamped copy is kept.
    texts = {"json": "{}\n", "md": "# one\n"}
    files = report_files.write_report_set(str(tmp_path), None, texts, latest_only={"prom": "netdiag_up 1\n"})
    assert files[-1] == str(tmp_path / "audit-latest.prom")
    assert (tmp_path / "audit-latest.prom").read_text() == "netdiag_up 1\n"
    assert sorted(path.name.rsplit(".", 1)[1] for path in tmp_path.glob("audit-2*")) == ["json", "md"]
    # A run that reached no host replaces no audit-latest file, the .prom included.
    report_files.write_report_set(str(tmp_path), None, texts, audited=False, latest_only={"prom": "netdiag_up 0\n"})
    assert (tmp_path / "audit-latest.prom").read_text() == "netdiag_up 1\n"
