"""`watch` following a log across rotation, look by look (follow.Follower): a copytruncate
followed by more than was read before the next look."""

import shutil
from pathlib import Path

from maillog_sasl import report, watch
from maillog_sasl.activity import Thresholds
from maillog_sasl.follow import Follower
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
