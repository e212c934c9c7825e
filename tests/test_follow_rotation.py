"""`watch` following a log across rotation, look by look (follow.Follower, its clock the test's):
a copytruncate followed by more than was read before the next look, a renamed file its writer
goes on writing to for longer than a moment, one written to past ROTATION_GRACE or again after
it was left quiet (said, with the byte it was left at); a run between the rename and the writer's
reopening; a log rotated twice between two looks (the file between the two read, not lost); and
a path that is no regular file (a directory, a FIFO) refused at once, exit 2."""

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_sasl import follow, report, watch
from maillog_sasl.activity import Thresholds
from maillog_sasl.follow import ROTATION_GRACE, Follower
from maillog_sasl.sources import MAX_LINE
from maillog_sasl.state import State

from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"


def sample_lines(count=None):
    """The sample's first `count` lines (all of them by default), with their line ends."""
    return SAMPLE.read_bytes().splitlines(keepends=True)[:count]


def text(lines):
    return [line.decode().rstrip("\n") for line in lines]


def by_file(chunks):
    """[(file name, its lines), ...] of read chunks, the chunks of one file joined (a chunk
    that begins a file, new_file, begins another)."""
    joined = []
    for chunk in chunks:
        name = Path(chunk.name).name
        if joined and joined[-1][0] == name and not chunk.new_file:
            joined[-1][1].extend(chunk.lines)
        else:
            joined.append((name, list(chunk.lines)))
    return joined


# -- copytruncate ----------------------------------------------------------------------------

def copytruncate_with_a_burst(path, written, burst):
    """`written` appended to the log, logrotate's copytruncate (copy to PATH.1, truncate),
    then `burst` written to the log: all between two looks."""
    with open(path, "ab") as writer:
        writer.write(b"".join(written))
    shutil.copyfile(path, path.with_name(path.name + ".1"))
    with open(path, "r+b") as log:
        log.truncate(0)
    with open(path, "ab") as writer:
        writer.write(b"".join(burst))


def test_follower_after_a_copytruncate_and_a_burst_past_the_old_offset_reads_each_line_once(
        tmp_path):
    # The truncation used to be looked for after reading on from the old offset: the burst was
    # read from inside its lines, and the copy from where that left the offset (the rest of
    # the file rotated away lost, the burst's lines read twice), with no note.
    lines = sample_lines(600)
    first, rest, burst = lines[:100], lines[100:200], lines[200:]
    assert len(b"".join(burst)) > len(b"".join(first))
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(first))
    follower = Follower(str(path))
    assert by_file(follower.read()) == [("maillog", text(first))]
    copytruncate_with_a_burst(path, rest, burst)
    chunks = list(follower.read())
    assert by_file(chunks) == [("maillog.1", text(rest)), ("maillog", text(burst))]
    assert follower.notes == [] and not follower.failed
    assert follower.position.offset == len(b"".join(burst))
    assert list(follower.read()) == []


def test_watch_following_a_copytruncate_with_a_burst_reads_the_sample_once_as_the_report_does(
        tmp_path):
    # The reviewer's run: `lines_read_total` 5905 for a log of 5000 lines, exit 0, no message.
    lines = sample_lines()
    cut, end = len(lines) // 10, len(lines) // 5
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:cut]))
    opened = State.open(str(tmp_path / "s.sqlite"), watch.engine_format())
    notes = []
    try:
        run = watch.Watch(opened, [str(path)], [], Thresholds(), complain=notes.append)
        assert run.read() == cut
        copytruncate_with_a_burst(path, lines[cut:end], lines[end:])
        assert run.read() == len(lines) - cut
        assert run.engine.correlator.stats.lines_read == len(lines)
        alerts = [alert for alert in run.new_alerts()
                  if alert["signals"][0] not in watch.WATCH_SIGNALS]
        run.close()
    finally:
        opened.close()
    assert notes == []
    batch = {row["user"]: set(row["signals"])
             for row in report("suspicious", [str(SAMPLE)]).rows}
    assert {alert["user"]: set(alert["signals"]) for alert in alerts} == batch


def test_a_follower_stopped_on_the_empty_truncated_log_resumes_after_another_copytruncate(
        tmp_path):
    # A follower that read the copy and took the truncated log on, still empty, stored that
    # log at offset 0 with no first line: nothing to tell it by. Stopped (SIGTERM, a checkpoint
    # before a SIGKILL) and started after another copytruncate, it read the log from its start
    # as the same file: the lines in between, now in maillog.1, were lost without a note (1,398
    # lines in a test with the real logrotate). The copy read to its end is stored instead.
    lines = sample_lines(300)
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:100]))
    follower = Follower(str(path))
    assert by_file(follower.read()) == [("maillog", text(lines[:100]))]
    copytruncate_with_a_burst(path, [], [])
    assert by_file(follower.read()) == []
    position = follower.position
    follower.close()
    path.with_name("maillog.1").rename(path.with_name("maillog.2"))
    copytruncate_with_a_burst(path, lines[100:200], lines[200:])
    follower = Follower(str(path), position)
    assert by_file(follower.read()) == [("maillog.1", text(lines[100:200])),
                                        ("maillog", text(lines[200:]))]
    assert follower.notes == []


# -- rename ----------------------------------------------------------------------------------

class Clock:
    """The follower's clock: the test moves it on by one look at a time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def rotated_by_rename(path):
    """The syslog daemon's descriptor on the log, which logrotate then renames to PATH.1 and
    makes again empty (`create`); the daemon writes to PATH.1 until it reopens the path."""
    writer = open(path, "ab")
    path.rename(path.with_name(path.name + ".1"))
    path.write_bytes(b"")
    return writer


def renamed_while_followed(tmp_path, count, new_from=None):
    """(lines, path, clock, follower, writer): `count` sample lines, the first 100 in the log
    and read by its follower, then the log renamed (rotated_by_rename), the new one holding
    lines[new_from:] when given."""
    lines = sample_lines(count)
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:100]))
    clock = Clock()
    follower = Follower(str(path), clock=clock)
    assert by_file(follower.read()) == [("maillog", text(lines[:100]))]
    writer = rotated_by_rename(path)
    if new_from is not None:
        path.write_bytes(b"".join(lines[new_from:]))
    return lines, path, clock, follower, writer


def test_follower_reads_a_renamed_file_for_as_long_as_its_writer_writes_to_it(tmp_path):
    # A late postrotate HUP (a loaded machine): the daemon writes to maillog.1 for 12 looks,
    # quiet for two of them (no mail), while maillog stays empty. The follower used to leave
    # maillog.1 ROTATION_GRACE (then 3) seconds after maillog appeared, or after the first quiet
    # look, and lost the rest silently: a later --once did not find them either.
    lines, path, clock, follower, writer = renamed_while_followed(tmp_path, 400)
    chunks = []
    late = lines[100:300]
    for look in range(12):
        if look not in (5, 6):
            writer.write(b"".join(late[:20]))
            writer.flush()
            late = late[20:]
        clock.now += 1
        chunks += follower.read()
    assert late == []
    writer.close()
    with open(path, "ab") as reopened:  # the HUP at last
        reopened.write(b"".join(lines[300:]))
    for _ in range(2):  # lines in maillog seen, then maillog.1 quiet for a whole look
        clock.now += 1
        chunks += follower.read()
    assert by_file(chunks) == [("maillog", text(lines[100:300])), ("maillog", text(lines[300:]))]
    assert follower.notes == []
    assert follower.position.offset == len(b"".join(lines[300:]))


def test_follower_reads_a_renamed_file_until_it_is_quiet_while_the_new_one_is_written(tmp_path):
    # Another writer has reopened maillog already (lines wait there): maillog.1 is still read
    # while it is written to, then maillog from its start.
    lines, path, clock, follower, writer = renamed_while_followed(tmp_path, 400, 300)
    chunks = []
    for look in range(10):
        writer.write(b"".join(lines[100 + 20 * look:120 + 20 * look]))
        writer.flush()
        clock.now += 1
        chunks += follower.read()
    writer.close()
    clock.now += 1
    chunks += follower.read()
    assert by_file(chunks) == [("maillog", text(lines[100:300])), ("maillog", text(lines[300:]))]
    assert follower.notes == []


def test_a_renamed_file_written_to_again_after_it_was_left_quiet_is_said_with_the_byte(tmp_path):
    # Two writers: one has reopened maillog, the other writes to maillog.1 again after a quiet
    # look. Left then, maillog.1's later lines are not read: one line says so, once.
    lines, path, clock, follower, writer = renamed_while_followed(tmp_path, 400, 300)
    writer.write(b"".join(lines[100:200]))
    writer.flush()
    chunks = []
    for _ in range(3):  # read; lines in maillog seen; quiet: left
        clock.now += 1
        chunks += follower.read()
    assert by_file(chunks) == [("maillog", text(lines[100:200])), ("maillog", text(lines[300:]))]
    assert follower.notes == []
    writer.write(b"".join(lines[200:300]))
    writer.close()
    for _ in range(2):
        clock.now += 1
        assert list(follower.read()) == []
    rotated = str(tmp_path / "maillog.1")
    assert follower.notes == [
        f"{path}: {rotated}, left for the new {path} when it was quiet for a look, was written "
        f"to again: what was written to it after byte {len(b''.join(lines[:200]))} is not read"]


def test_a_renamed_file_still_written_past_the_grace_is_left_with_one_line_saying_from_which_byte(
        tmp_path):
    # A writer that never lets go of maillog.1 while lines come to maillog: maillog is read
    # from ROTATION_GRACE seconds on, and the note names the byte of maillog.1 left unread.
    lines, path, clock, follower, writer = renamed_while_followed(tmp_path, 500, 400)
    step = ROTATION_GRACE / 6
    chunks, written = [], b"".join(lines[:100])
    for look in range(10):
        group = b"".join(lines[100 + 20 * look:120 + 20 * look])
        writer.write(group)
        writer.flush()
        written += group
        clock.now += step
        chunks += follower.read()
        if follower.notes:
            break
    writer.write(b"".join(lines[300:400]))  # after it was left: not read
    writer.close()
    assert look == 6  # the first look ROTATION_GRACE after lines were seen in maillog
    chunks += follower.read()
    assert by_file(chunks) == [("maillog", text(lines[100:240])), ("maillog", text(lines[400:]))]
    rotated = str(tmp_path / "maillog.1")
    assert follower.notes == [
        f"{path}: {rotated} is still written to {ROTATION_GRACE:g} s after lines came to the "
        f"new {path}: reading that from now on; what is written to {rotated} after byte "
        f"{len(written)} is not read"]


def first_run(tmp_path, count):
    """(lines, path, position): `count` sample lines, the first 100 in the log, read by a run
    that stopped at `position`."""
    lines = sample_lines(count)
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:100]))
    follower = Follower(str(path))
    assert by_file(follower.read()) == [("maillog", text(lines[:100]))]
    position = follower.position
    follower.close()
    return lines, path, position


def test_a_run_between_the_rename_and_the_writers_reopening_reads_on_in_the_renamed_file(
        tmp_path):
    # `watch --once` from cron in the moment between logrotate's rename and its postrotate HUP:
    # it read maillog.1 as finished, its half-written last line as a line, and stored the
    # empty new maillog; the rest of that line and what the daemon wrote to maillog.1 until
    # it reopened the path were lost without a note.
    lines, path, position = first_run(tmp_path, 400)
    writer = rotated_by_rename(path)
    writer.write(b"".join(lines[100:200]) + lines[200][:20])
    writer.flush()
    follower = Follower(str(path), position)
    assert by_file(follower.read()) == [("maillog.1", text(lines[100:200]))]
    position = follower.position
    follower.close()
    writer.write(lines[200][20:] + b"".join(lines[201:300]))
    writer.close()
    path.write_bytes(b"".join(lines[300:]))  # reopened
    follower = Follower(str(path), position)
    assert by_file(follower.read()) == [("maillog.1", text(lines[200:300])),
                                        ("maillog", text(lines[300:]))]
    assert follower.notes == []
    assert follower.position.offset == len(b"".join(lines[300:]))


def rotation_between_look_and_open(monkeypatch, look, name, rotate):
    """`rotate()` run once, right after the follower's first `look` at `name` (its os.stat, the
    hash of its first line, the peek at its first bytes), or once it is open to be read
    through (`read`): logrotate working at that moment."""
    if look == "stat":
        owner, attribute, real, wrap = follow, "_stat", follow._stat, lambda function: function
    else:
        attribute = {"head": "_head_of_file", "peek": "_peek", "read": "_unwrapper_of_file"}[look]
        owner, real, wrap = Follower, getattr(Follower, attribute), staticmethod

    def look_then_rotate(path, *more):
        seen = real(path, *more)
        if path == name:
            monkeypatch.setattr(owner, attribute, wrap(real))
            rotate()
        return seen

    monkeypatch.setattr(owner, attribute, wrap(look_then_rotate))


def run_from(path, position):
    """(what a run from `position` reads, by file; where it stops); it has nothing to say."""
    follower = Follower(str(path), position)
    got = by_file(follower.read())
    assert follower.notes == []
    position = follower.position
    follower.close()
    return got, position


@pytest.mark.parametrize("look", ["stat", "head"])
def test_a_run_as_logrotate_renames_the_log_reads_the_rest_of_the_renamed_file(
        tmp_path, monkeypatch, look):
    # `watch --once` from cron as logrotate ran (a size rotation, cron.daily): the log looked
    # at was the file read last run, but the file then opened by its name was the new empty
    # one, taken on at the old offset; the next run said "was truncated or replaced ... its
    # copy is not among its rotated files" and the lines after that offset in maillog.1 were
    # never read (seen with logrotate -f every few seconds: 500 lines and a `guessed` lost).
    lines, path, position = first_run(tmp_path, 300)
    with open(path, "ab") as writer:
        writer.write(b"".join(lines[100:200]))
    writers = []
    rotation_between_look_and_open(monkeypatch, look, str(path),
                                   lambda: writers.append(rotated_by_rename(path)))
    got, position = run_from(path, position)
    assert got == [("maillog.1", text(lines[100:200]))]
    writers[0].close()
    path.write_bytes(b"".join(lines[200:]))  # the daemon reopened the path
    assert run_from(path, position)[0] == [("maillog", text(lines[200:]))]


def rotated_with_delaycompress(path):
    """logrotate's `create`, `compress` and `delaycompress`: maillog.N.gz renamed to
    maillog.N+1.gz, maillog.1 compressed to maillog.2.gz (its time kept, as logrotate keeps
    it), the log renamed to maillog.1 and made again, empty."""
    for number in range(8, 1, -1):
        packed = path.with_name(f"{path.name}.{number}.gz")
        if packed.exists():
            packed.rename(path.with_name(f"{path.name}.{number + 1}.gz"))
    older = path.with_name(path.name + ".1")
    if older.exists():
        packed = path.with_name(path.name + ".2.gz")
        with gzip.open(packed, "wb") as out:
            out.write(older.read_bytes())
        times = older.stat()
        os.utime(packed, ns=(times.st_atime_ns, times.st_mtime_ns))
        older.unlink()
    path.rename(older)
    path.write_bytes(b"")


@pytest.mark.parametrize("written", [False, True])
def test_a_run_as_the_rotated_file_it_reads_on_is_rotated_again_reads_each_line_once(
        tmp_path, monkeypatch, written):
    # The file read last run was rotated to maillog.1; this run found it there, and logrotate
    # rotated again (`logrotate -f`, a size rotation on a busy log) before it was opened: the
    # file then opened as maillog.1 was the next one, read from the offset of the first (or,
    # the new log still empty, taken on at that offset), and the rest of the first, now in
    # maillog.2.gz, was never read.
    lines, path, position = first_run(tmp_path, 400)
    with open(path, "ab") as writer:
        writer.write(b"".join(lines[100:200]))
    rotated_with_delaycompress(path)
    if written:  # the syslog daemon reopened the path and wrote to it
        path.write_bytes(b"".join(lines[200:300]))
    # The last look at maillog.1 before it is opened: the hash of its first line when the new
    # log was written to (it is read on from there), else the check that it is no .gz.
    rotation_between_look_and_open(monkeypatch, "head" if written else "peek",
                                   str(path.with_name("maillog.1")),
                                   lambda: rotated_with_delaycompress(path))
    got, position = run_from(path, position)
    assert got == [("maillog.2.gz", text(lines[100:200]))] + (
        [("maillog.1", text(lines[200:300]))] if written else [])
    path.write_bytes(b"".join(lines[300:]))
    assert run_from(path, position)[0] == [("maillog", text(lines[300:]))]


@pytest.mark.parametrize("inode", ["kept", "freed"])
def test_a_run_after_two_rotations_reads_on_in_the_newest_while_its_writer_has_not_let_go(
        tmp_path, inode):
    # Two rotations since the last run (logrotate -f run twice, a size rotation on a busy log),
    # the new log still empty: the syslog daemon had not reopened the path since the second
    # and wrote on to maillog.1. The run read maillog.2.gz's rest and maillog.1 to its end, and
    # took the empty log on from its start: what the daemon wrote to maillog.1 after that run
    # was never read, without a note (1,857 lines in a test with the real logrotate). The file
    # read last run, compressed, freed its inode, which the new log may take (`freed`: as the
    # file system chooses; `kept`: held open, it cannot).
    lines, path, position = first_run(tmp_path, 400)
    with open(path, "ab") as writer:
        writer.write(b"".join(lines[100:150]))
    first = open(path, "rb") if inode == "kept" else None
    rotated_with_delaycompress(path)
    path.write_bytes(b"".join(lines[150:200]))  # reopened after the first rotation
    rotated_with_delaycompress(path)
    older = path.with_name("maillog.1")
    with open(older, "ab") as writer:  # not yet after the second
        writer.write(b"".join(lines[200:250]))
    got, position = run_from(path, position)
    assert got == [("maillog.2.gz", text(lines[100:150])), ("maillog.1", text(lines[150:250]))]
    if first is not None:
        first.close()
    with open(older, "ab") as writer:
        writer.write(b"".join(lines[250:300]))
    path.write_bytes(b"".join(lines[300:]))  # reopened
    got, position = run_from(path, position)
    assert got == [("maillog.1", text(lines[250:300])), ("maillog", text(lines[300:]))]
    assert position.offset == len(b"".join(lines[300:]))


def rotated_with_dateext(path, day, keep):
    """logrotate's `create` and `dateext` (`rotate keep`): the log renamed to maillog-DAY and
    made again, empty; the oldest dated files past `keep` deleted."""
    path.rename(path.with_name(f"{path.name}-{day}"))
    path.write_bytes(b"")
    for old in sorted(path.parent.glob(path.name + "-*"))[:-keep]:
        old.unlink()


@pytest.mark.parametrize("scheme", ["numbered", "dated"])
def test_a_run_reading_a_rotated_file_as_logrotate_works_reads_every_later_file_once(
        tmp_path, monkeypatch, scheme):
    # A run reading the rest of the file it read last (a big one, compressed: seconds) while
    # logrotate rotated again: the files rotated after it had been listed by name before, and
    # maillog.1 was then the next file (its own content moved to maillog.2.gz, never read), or
    # the list had maillog-20260302 only, not the log renamed meanwhile to maillog-20260303.
    # Now each is looked for, by identity, after the one before it was read.
    lines = sample_lines(500)
    path = tmp_path / "maillog"
    parts = [lines[:100], lines[100:200], lines[200:300], lines[300:400]]
    path.write_bytes(b"".join(parts[0]))
    follower = Follower(str(path))
    assert by_file(follower.read()) == [("maillog", text(parts[0]))]
    position = follower.position
    follower.close()
    if scheme == "numbered":
        def rotate():
            rotated_with_delaycompress(path)
        # The names the files have when they are opened.
        names = ["maillog.2.gz", "maillog.2.gz", "maillog.1"]
    else:
        days = iter(["20260301", "20260302", "20260303"])

        def rotate():
            rotated_with_dateext(path, next(days), keep=2)
        names = ["maillog-20260301", "maillog-20260302", "maillog-20260303"]
    for part in parts[1:3]:
        with open(path, "ab") as writer:
            writer.write(b"".join(part))
        rotate()
    path.write_bytes(b"".join(parts[3]))
    # logrotate rotates once more as the run opens the file it read last to read it on
    rotation_between_look_and_open(monkeypatch, "read", str(tmp_path / names[0]), rotate)
    got, position = run_from(path, position)
    assert got == [(name, text(part)) for name, part in zip(names, parts[1:])]
    path.write_bytes(b"".join(lines[400:]))
    assert run_from(path, position)[0] == [("maillog", text(lines[400:]))]


def rotated_twice_between_looks(path, how, first, second):
    """logrotate run twice between two looks (`how`: create or copytruncate, maillog.1 moved
    to maillog.2 first): after each, `first` then `second` written to the new log."""
    for written in (first, second):
        older = path.with_name(path.name + ".1")
        if older.exists():
            older.rename(path.with_name(path.name + ".2"))
        if how == "create":
            path.rename(older)
        else:
            shutil.copyfile(path, older)
        with open(path, "wb") as log:
            log.write(b"".join(written))


@pytest.mark.parametrize("how", ["create", "copytruncate"])
def test_follower_reads_the_file_rotated_between_two_rotations_within_a_look(tmp_path, how):
    # Two rotations before the follower moved on (logrotate -f run twice, a size rotation on a
    # busy log, a follower paused): it read the file it held, then the path from its start,
    # and maillog.1, between the two, was lost without a note (`watch --once` reads it).
    lines = sample_lines(300)
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:100]))
    clock = Clock()
    follower = Follower(str(path), clock=clock)
    assert by_file(follower.read()) == [("maillog", text(lines[:100]))]
    rotated_twice_between_looks(path, how, lines[100:200], lines[200:])
    chunks = []
    for _ in range(2):  # (create: lines in maillog seen; the held file quiet: left)
        clock.now += 1
        chunks += follower.read()
    assert by_file(chunks) == [("maillog.1", text(lines[100:200])), ("maillog", text(lines[200:]))]
    assert follower.notes == []
    assert follower.position.offset == len(b"".join(lines[200:]))


# -- a line of megabytes across a rotation ----------------------------------------------------

@pytest.mark.parametrize("how", ["followed", "next run", "next run, compressed"])
def test_a_line_of_megabytes_rotated_while_written_is_one_line_cut_once(tmp_path, how):
    """The daemon is inside 1.5 MiB without a line end (a dump) when the log is renamed; it ends
    that line in maillog.1 and writes on there until it reopens the path. As in the reports
    (sources.LineSplitter), the dump is one line cut at MAX_LINE and counted once, and every
    line after it is read once: by the follower going on, and by a next run from the position
    stored inside the dump (maillog.1 found by its inode, or compressed by its first line).
    watch handed on 1 MiB pieces of it, each a line, none counted as cut."""
    lines = sample_lines(400)
    dump = b"Q" * (3 << 19)
    path = tmp_path / "maillog"
    path.write_bytes(b"".join(lines[:100]) + dump[:300_000])
    clock = Clock()
    follower = Follower(str(path), clock=clock)
    assert by_file(follower.read()) == [("maillog", text(lines[:100]))]
    writer = rotated_by_rename(path)
    writer.write(dump[300_000:] + b"\n" + b"".join(lines[100:200]))
    writer.close()
    path.write_bytes(b"".join(lines[200:]))
    if how == "followed":
        chunks = []
        for _ in range(3):  # maillog.1's lines; lines in maillog seen; quiet: maillog read
            clock.now += 1
            chunks += follower.read()
    else:
        position = follower.position
        follower.close()
        if "compressed" in how:
            rotated = tmp_path / "maillog.1"
            with gzip.open(rotated.with_name("maillog.1.gz"), "wb") as packed:
                packed.write(rotated.read_bytes())
            rotated.unlink()
        follower = Follower(str(path), position)
        chunks = list(follower.read())
    assert [line for chunk in chunks for line in chunk.lines] == (
        ["Q" * MAX_LINE] + text(lines[100:200]) + text(lines[200:]))
    assert sum(chunk.cut for chunk in chunks) == 1
    assert [Path(chunk.name).name for chunk in chunks if chunk.new_file] == ["maillog"]
    assert follower.notes == []
    assert follower.position.offset == len(b"".join(lines[200:]))


# -- paths that are no regular file --------------------------------------------------------

def test_watch_once_on_a_directory_is_one_line_and_exit_2(tmp_path, cli):
    # It was "read failed: Is a directory" and exit 0.
    folder = tmp_path / "maillog"
    folder.mkdir()
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", folder)
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines() == [f"maillog-sasl watch: {folder}: cannot read: "
                                       "Is a directory"]


def test_watch_once_on_a_fifo_without_a_writer_is_refused_at_once(tmp_path):
    # Opening it waited for a writer for ever. Run apart: it would hang the tests.
    fifo = tmp_path / "maillog"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "maillog_sasl", "watch", "--once", "--state",
                           str(tmp_path / "s.sqlite"), str(fifo)],
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"maillog-sasl watch: {fifo}: cannot read: a FIFO has no offset to read a log on from "
        "(give watch the file the log is written to)"]
