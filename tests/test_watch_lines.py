"""`watch` reads a log's lines as the batch reports read them (follow.py reads with
sources.LineSplitter): a line of megabytes without a line end is cut at MAX_LINE characters and
counted in `lines cut`, wherever the runs stop inside it, in memory that does not grow with it;
a CR that is a log's last byte ends its line for `watch --once` and a following watch alike,
and the LF of a CRLF written after it is no line of its own.

Found by a review (round 47): a base64 dump of 1.5 MiB without a line end was handed on by watch
as 1 MiB pieces (a line more read and skipped than the report counted, none cut), and a log
exported with bare CR line ends kept its last line, a session's disconnect, unread for ever.
"""

import base64
import io
import json
import random
import re
import tracemalloc

import pytest

from maillog_sasl import follow, watch
from maillog_sasl.follow import Follower
from maillog_sasl.sources import MAX_LINE, Source
from maillog_sasl.state import State

from maillog_writer import MailLog, at

STATS = {"lines read": "lines_read", "lines skipped": "lines_skipped",
         "not syslog lines": "not_syslog", "lines cut at 64 KiB": "lines_cut"}


def incident():
    """(before, after): a Postfix log around the moment something else wrote into it; the
    guess after it flags alice."""
    before = MailLog()
    for day in range(3):
        before.login("alice@example.jp", "198.51.100.7", at(day, 9), to=2)
        before.login("bob@example.jp", "198.51.100.8", at(day, 10))
    before.failures("203.0.113.66", at(3, 1), ["admin", "info", "alice@example.jp"])
    after = MailLog()
    after._pid, after._queue = 5000, 0xB1B2C30000
    for day in range(3, 5):
        after.login("alice@example.jp", "198.51.100.7", at(day, 9), to=2)
        after.login("alice@example.jp", "203.0.113.66", at(day, 11), to=40)
    return before.text().encode(), after.text().encode()


def batch_stats(cli, log):
    result = cli("--stats", log)
    assert result.code == 0, result.err
    return {STATS[name]: int(count) for name, count
            in re.findall(r"^ *([A-Za-z0-9 ]+?): +(\d+)$", result.err, re.M) if name in STATS}


def watched(cli, tmp_path, name, pieces):
    """(alerts, what the state holds, its counts) of `watch --once` run after each piece is
    appended to the log `name`."""
    log, state = tmp_path / name, tmp_path / f"{name}.sqlite"
    log.write_bytes(b"")
    alerts = []
    for piece in pieces:
        with open(log, "ab") as out:
            out.write(piece)
        result = cli("watch", "--once", "--state", state, log)
        assert result.code in (0, 1) and result.err == ""
        alerts += [(alert["user"], alert["signals"])
                   for alert in map(json.loads, result.out.splitlines())]
    shown = cli("state", "--state", state, "--format", "json").json()
    held = {key: shown[key] for key in ("open_sessions", "open_messages")}
    held["accounts"] = [{key: value for key, value in account.items() if key != "last_ip"}
                        for account in shown["accounts"]]
    opened = State.open(str(state), watch.engine_format(), lock=False, create=False)
    try:
        stats = opened.engine.correlator.stats
    finally:
        opened.close()
    assert shown["logs"][0]["offset"] == log.stat().st_size  # every line read
    return alerts, held, {name: getattr(stats, name) for name in STATS.values()}


# A content filter's debug dump of an attachment, base64 without a line end: 1.5 MiB.
BLOB = base64.b64encode(random.Random(47).randbytes(1200 << 10))


@pytest.mark.parametrize("stops", [
    [], [1000], [MAX_LINE + 10], [MAX_LINE // 2, (1 << 20) + 5], [len(BLOB)],
    [10, MAX_LINE, MAX_LINE + 1, 300_000, 1 << 20, (1 << 20) + 1, len(BLOB) - 1]],
    ids=["one run", "inside its start", "past the cap", "inside and past 1 MiB",
         "before its end", "many"])
def test_an_overlong_line_is_cut_and_counted_as_the_reports_do(cli, tmp_path, stops):
    """The runs stop inside the long line (before the cap, past it, past 1 MiB, before its
    LF): each real line after it is read once, the dump is one line, cut and counted, and
    watch holds what it holds of the log without the dump."""
    before, after = incident()
    data = before + BLOB + b"\n" + after
    bounds = [0] + [len(before) + stop for stop in stops] + [len(data)]
    pieces = [data[start:end] for start, end in zip(bounds, bounds[1:])]
    alerts, held, counts = watched(cli, tmp_path, "maillog", pieces)
    assert counts == batch_stats(cli, tmp_path / "maillog")
    assert counts["lines_cut"] == 1 and counts["not_syslog"] == 1
    clean_alerts, clean_held, clean_counts = watched(cli, tmp_path, "clean", [before + after])
    assert (alerts, held) == (clean_alerts, clean_held)
    assert alerts == [("alice@example.jp", ["guessed"])]
    assert counts["lines_read"] == clean_counts["lines_read"] + 1


def test_a_multibyte_line_is_cut_at_characters_not_bytes(cli, tmp_path):
    """MAX_LINE characters of three bytes each, and one more: cut by the reports as by watch
    (a line of bytes past the cap, but not of characters, is not)."""
    before, after = incident()
    data = before + "é".encode() * MAX_LINE + b"\n" + "€".encode() * (MAX_LINE + 1) + b"\n" + after
    _, _, counts = watched(cli, tmp_path, "maillog", [data[:len(before) + 100_000],
                                                     data[len(before) + 100_000:]])
    assert counts == batch_stats(cli, tmp_path / "maillog")
    assert counts["lines_cut"] == 1


@pytest.mark.parametrize("ending", ["bare CR", "CRLF cut after its CR"])
def test_a_logs_last_cr_ends_its_line(cli, tmp_path, ending):
    """An export with bare CR line ends (old Mac tools) never grows: watch --once left its last
    line, the disconnect of the guessed login, unread for ever. A CRLF log read between a CR
    and its LF reads that LF as no line of its own in the next run."""
    before, after = incident()
    if ending == "bare CR":
        data = (before + after).replace(b"\n", b"\r")
        pieces = [data]
    else:
        data = (before + after).replace(b"\n", b"\r\n")
        cut = len(before.replace(b"\n", b"\r\n")) - 1  # between the CR and LF of a line
        pieces = [data[:cut], data[cut:]]
    alerts, held, counts = watched(cli, tmp_path, "maillog", pieces)
    assert counts == batch_stats(cli, tmp_path / "maillog")
    assert counts["lines_read"] == (before + after).count(b"\n")
    clean_alerts, clean_held, _ = watched(cli, tmp_path, "clean", [before + after])
    assert (alerts, held) == (clean_alerts, clean_held)
    assert held["open_sessions"] == 0


# -- look by look (follow.Follower) ------------------------------------------------------------

def batch(data):
    """The lines the reports read of `data`, and how many they cut."""
    source = Source("<test>", None, None, io.BytesIO(data))
    lines = [line for lines in source.batches(block_size=4096, parallel=False) for line in lines]
    return lines, source.lines_cut


def looked(path, position=None):
    """(lines, lines cut) of one look of a Follower from `position`, and the Follower."""
    follower = Follower(str(path), position)
    lines, cut = read(follower)
    return lines, cut, follower


def read(follower):
    chunks = list(follower.read())
    return [line for chunk in chunks for line in chunk.lines], sum(chunk.cut for chunk in chunks)


ODD = [
    b"a\rb\r\nc\n\r\r\n\n\rd\r",  # every line end, an empty line each way, a CR last
    b"x\r\x00\x00\ny\x00\rz\r",  # NUL bytes between a CR and its LF
    b"\xe2\x82\rq\xff\r\n\xf0\x9f\x98\n",  # invalid UTF-8 before a line end
    b"s" * (MAX_LINE + 1) + b"\r" + b"t" * MAX_LINE + b"\r\n" + b"\x00" * (3 << 20) + b"u\r",
    b"v" * (3 << 20) + b"\rw\r",
]


@pytest.mark.parametrize("data", ODD, ids=range(len(ODD)))
def test_every_cut_of_the_log_reads_the_reports_lines(tmp_path, data):
    """The log written up to each cut in turn (every byte of the short ones, around every line
    end and inside the long lines of the others): a Follower that goes on from look to look, and
    one started at each look from the position stored by the last, read the lines the reports
    read of the whole, and cut as many; the last line too, ended by a CR that is the last byte."""
    lines, cut = batch(data)
    ends = [index for index, byte in enumerate(data) if byte in b"\r\n"]
    cuts = set(range(len(data))) if len(data) < 100 else {
        point for end in ends for point in (end, end + 1, end + 2)} | {
        MAX_LINE - 1, MAX_LINE + 1, 1 << 20, (1 << 20) + 3, 2 << 20}
    cuts = sorted(point for point in cuts if 0 < point < len(data)) + [len(data)]
    path = tmp_path / "maillog"
    path.write_bytes(b"")
    going = Follower(str(path))
    assert read(going) == ([], 0)
    gone_on, restarted, position, previous = ([], 0), ([], 0), None, 0
    for point in cuts:
        with open(path, "ab") as out:
            out.write(data[previous:point])
        previous = point
        got = read(going)
        gone_on = (gone_on[0] + got[0], gone_on[1] + got[1])
        again, again_cut, follower = looked(path, position)
        position = follower.position
        follower.close()
        restarted = (restarted[0] + again, restarted[1] + again_cut)
    going.close()
    assert gone_on == restarted == (lines, cut)


def test_a_line_that_never_ends_is_held_in_flat_memory_and_read_once(tmp_path, monkeypatch):
    """32 MiB without a line end, a look after each MiB: at most MAX_LINE characters of it are
    held, and each byte is read once, not again at each look."""
    path = tmp_path / "maillog"
    path.write_bytes(b"first\n")
    follower = Follower(str(path))
    assert read(follower) == (["first"], 0)
    reads = []
    pread = follow.os.pread

    def counted(fd, size, offset):
        data = pread(fd, size, offset)
        if offset:  # not the first line's, hashed at each look to tell a truncation
            reads.append(len(data))
        return data

    monkeypatch.setattr(follow.os, "pread", counted)
    mebibyte = b"y" * (1 << 20)
    tracemalloc.start()
    try:
        for _ in range(32):
            with open(path, "ab") as out:
                out.write(mebibyte)
            assert read(follower) == ([], 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * follow.BLOCK_SIZE + 4 * MAX_LINE
    assert sum(reads) == 32 << 20
    with open(path, "ab") as out:
        out.write(b"\nlast\n")
    assert read(follower) == (["y" * MAX_LINE, "last"], 1)

