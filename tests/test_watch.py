"""`maillog-sasl watch`: --once across runs and rotations against the batch suspicious report
(same accounts and signals, nothing twice, nothing read twice), a SIGKILL at any moment, the
alert sinks and command, and following a file written by the test (rotation by rename and by
copytruncate, a file that goes and comes back, a file missing at start, SIGTERM, latency)."""

import bz2
import gzip
import json
import lzma
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from maillog_sasl import report, watch
from maillog_sasl.activity import Thresholds
from maillog_sasl.follow import Follower, Position, rotated_files
from maillog_sasl.state import State

from maillog_writer import MailLog, at
from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
PYTHON_CLI = [sys.executable, "-m", "maillog_sasl"]


def once(cli, state, *paths, more=(), codes=(0, 1, 2)):
    """(exit status, alerts, stderr) of one `watch --once`, whose status is one of `codes`."""
    result = cli("watch", "--once", "--state", state, *more, *paths)
    assert result.code in codes, result.err
    return result.code, [json.loads(line) for line in result.out.splitlines()], result.err


def verdicts(alerts):
    """The alerts on the suspicious report's signals (not watch's own: queue-growth,
    failure-storm, contained; test_watch_alerts.py tests those)."""
    return [alert for alert in alerts if alert["signals"][0] not in watch.WATCH_SIGNALS]


def findings(paths):
    """{user: set of signals} of the batch suspicious report."""
    rows = report("suspicious", [str(path) for path in paths]).rows
    return {row["user"]: set(row["signals"]) for row in rows}


def raised(alerts):
    """{user: set of signals} the alerts raised, asserting that none was raised twice."""
    found = {}
    for alert in verdicts(alerts):
        for name in alert["new_signals"]:
            assert name not in found.setdefault(alert["user"], set()), (alert["user"], name)
            found[alert["user"]].add(name)
        assert set(alert["signals"]) <= found[alert["user"]] | set(alert["new_signals"])
    return found


def engine_of(state):
    opened = State.open(str(state), watch.engine_format(), lock=False, create=False)
    try:
        return opened.engine
    finally:
        opened.close()


def lines_in(*paths):
    total = 0
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:
            total += handle.read().count(b"\n")
    return total


def cuts(data: bytes, count: int, seed: int):
    """`count` random cut points in `data` (inside lines too), its end last."""
    return sorted(random.Random(seed).sample(range(1, len(data)), count - 1)) + [len(data)]


# -- --once ----------------------------------------------------------------------------------

def test_once_after_each_append_raises_what_the_batch_report_finds(tmp_path, cli):
    data = SAMPLE.read_bytes()
    log, state, whole = tmp_path / "maillog", tmp_path / "state.sqlite", tmp_path / "whole"
    log.write_bytes(b"")
    alerts, previous = [], 0
    for cut in cuts(data, 9, seed=14):
        with open(log, "ab") as out:
            out.write(data[previous:cut])
        previous = cut
        code, new, err = once(cli, state, log)
        assert code == (1 if new else 0), err
        # What was read (whole lines) is what the batch report on those lines flags.
        whole.write_bytes(data[:data.rfind(b"\n", 0, cut) + 1])
        batch = findings([whole])
        for alert in verdicts(new):
            assert set(alert["signals"]) == batch[alert["user"]]
            assert alert["severity"]
        alerts += new
        so_far = raised(alerts)
        assert all(signals <= so_far.get(user, set()) for user, signals in batch.items())
    assert raised(alerts) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)
    assert once(cli, state, log)[:2] == (0, [])


@pytest.mark.parametrize("group, first_read", [(1, 2), (3, 2), (3, 3), (4, 4), (3, 7)])
def test_once_on_a_doubled_log_whose_first_read_was_a_few_lines(tmp_path, cli, group,
                                                                 first_read):
    # rsyslog with two actions on the file writes each line twice (each action a line at a
    # time, or `group` at a time: `a b c a b c`); a run that found only the first line's two
    # copies told from them that the log had one copy, and every line after them was read
    # twice (1,666 authenticated sessions in the state, five accounts flagged).
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    doubled = b"".join(b"".join(lines[start:start + group]) * 2
                       for start in range(0, len(lines), group))
    first = len(b"".join(doubled.splitlines(keepends=True)[:first_read]))
    log, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    log.write_bytes(doubled[:first])
    assert once(cli, state, log)[:2] == (0, [])
    with open(log, "ab") as out:
        out.write(doubled[first:])
    code, alerts, _ = once(cli, state, log)
    assert code == 1 and raised(alerts) == findings([SAMPLE])
    stats = engine_of(state).correlator.stats
    assert (stats.lines_read, stats.repeated_lines) == (2 * lines_in(SAMPLE), lines_in(SAMPLE))


@pytest.mark.parametrize("group, first_read", [(1, 2), (1, 37), (3, 3)])
def test_once_on_two_logs_tells_the_copies_of_each(tmp_path, cli, group, first_read):
    # One log doubled (rsyslog with two actions on it), one not, read in turns: how many copies
    # the log read last had were the other's too, so the doubled one's lines after its first
    # read were counted twice (its first read two lines, that could not tell, or half of it,
    # that told; or, its copies written in groups, a group, that told one copy until the
    # lines after it told again).
    ann, bob = MailLog(), MailLog()
    bob._queue += 0x100000
    for day in range(4):
        ann.login("ann@example.jp", "198.51.100.7", at(day, 9), to=2)
        bob.login("bob@example.jp", "203.0.113.9", at(day, 10), to=1)
    lines = ann.text().splitlines(keepends=True)
    doubled = "".join("".join(lines[start:start + group]) * 2
                      for start in range(0, len(lines), group))
    single = bob.text()
    first, second, state = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "s.sqlite"
    cut = len("".join(doubled.splitlines(keepends=True)[:first_read]))
    first.write_text(doubled[:cut])
    second.write_text(single[:len(single) // 2])
    once(cli, state, first, second)
    with open(first, "a") as out:
        out.write(doubled[cut:])
    with open(second, "a") as out:
        out.write(single[len(single) // 2:])
    once(cli, state, first, second)
    engine = engine_of(state)
    stats = engine.correlator.stats
    assert stats.repeated_lines == len(ann.text().splitlines())
    assert stats.lines_read == len(doubled.splitlines()) + len(single.splitlines())
    engine.activity.close()
    assert {name: user.logins for name, user in engine.activity.users.items()} == {
        "ann@example.jp": 4, "bob@example.jp": 4}


def test_once_on_two_logs_a_bsd_repeat_line_repeats_its_own_log_s_line(tmp_path, cli):
    # A BSD syslogd's `last message repeated 4 times` opens a read of one log after the other
    # log was read: it repeats its own log's line before it (a failed AUTH), not the other's.
    failed = ("Mar  1 10:00:01 mail postfix/smtpd[100]: warning: unknown[198.51.100.7]: SASL "
              "LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=ann@example.jp\n")
    first, second, state = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "s.sqlite"
    removed = "".join(f"Mar  1 10:00:00 {{host}} postfix/qmgr[1]: 1{letter}: removed\n"
                      for letter in "ABCDEFGHIJKLMNOPQR")  # (enough lines to tell one copy)
    first.write_text(removed.format(host="mail") + "Mar  1 10:00:00 mail postfix/smtpd[100]: "
                     "connect from unknown[198.51.100.7]\n" + failed)
    second.write_text(removed.format(host="relay"))
    once(cli, state, first, second, more=["--year", "2026"])
    with open(first, "a") as out:
        out.write("Mar  1 10:00:03 mail last message repeated 4 times\n")
    once(cli, state, first, second, more=["--year", "2026"])
    [session] = engine_of(state).correlator.sessions.values()
    assert len(session.auth_failures) == 5


def test_once_lists_a_message_of_lines_still_held_back_among_the_queued(tmp_path, cli):
    # A second log has only begun: a connect and a login's client= (two different lines,
    # held back until more tell how many copies of each the log has). The account is flagged
    # on the first log; its alert lists that message among those in the queue, as if read.
    log = MailLog()
    log.failures("198.51.100.7", at(0, 9), ["ann@example.jp"] * 3)
    log.login("ann@example.jp", "198.51.100.7", at(0, 10))
    first, second, state = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "s.sqlite"
    log.write(first)
    second.write_text(
        "2026-01-05T11:00:00+09:00 mx2 postfix/submission/smtpd[7]: connect from "
        "unknown[198.51.100.7]\n"
        "2026-01-05T11:00:01+09:00 mx2 postfix/submission/smtpd[7]: 5C6D7E8F90: "
        "client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=ann@example.jp\n")
    code, alerts, _ = once(cli, state, first, second)
    assert code == 1 and engine_of(state).correlator.stats.lines_read == len(
        log.text().splitlines())
    [alert] = verdicts(alerts)
    assert (alert["user"], alert["queue_ids"]) == ("ann@example.jp", ["5C6D7E8F90"])


def test_once_keeps_the_first_lines_of_a_file_rotated_before_they_told_its_copies(tmp_path,
                                                                                   cli):
    # A run read a new log's first line and nothing more (one line cannot tell how many copies
    # of each the log has: it waits for more); then the log was rotated. Its line is read when
    # the next file begins, not dropped.
    data = SAMPLE.read_bytes()
    first = data.index(b"\n") + 1
    log, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    log.write_bytes(data[:first])
    once(cli, state, log)
    assert engine_of(state).correlator.stats.lines_read == 0
    log.rename(tmp_path / "maillog.1")
    log.write_bytes(data[first:])
    code, alerts, _ = once(cli, state, log)
    assert code == 1 and raised(alerts) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_once_on_the_sample_at_once_alerts_each_flagged_account_once(tmp_path, cli):
    code, alerts, _ = once(cli, tmp_path / "s.sqlite", SAMPLE)
    assert code == 1 and raised(alerts) == findings([SAMPLE])
    alert = next(alert for alert in alerts if alert["user"] == "ken.roux@corp.example")
    assert list(alert)[:11] == ["time", "user", "severity", "signals", "reasons", "ips",
                                "recipients", "deferred", "queue_ids", "first_seen_ip", "host"]
    assert alert["severity"] == "critical" and alert["host"] == "mail"
    assert alert["first_seen_ip"] == "104.77.25.97"  # the guessed login's
    assert alert["recipients"] == 625 and alert["deferred"] == 7
    assert len(alert["queue_ids"]) == 6 and alert["ips"]


def test_an_alert_again_only_when_severity_rises(tmp_path, cli):
    log = MailLog()
    for day in range(3):
        log.login("ann@example.jp", "198.51.100.7", at(day, 10), to=2)
    log.login("ann@example.jp", "198.51.100.7", at(3, 10), to=150)  # burst: high
    path = tmp_path / "maillog"
    log.write(path)
    state = tmp_path / "s.sqlite"
    code, alerts, _ = once(cli, state, path)
    assert code == 1 and [(a["severity"], a["new_signals"]) for a in alerts] == [
        ("high", ["burst"])]
    more = MailLog()
    more._queue += 0x100000  # other queue IDs than the first log's
    more.login("ann@example.jp", "198.51.100.7", at(3, 12), to=30)  # another burst hour
    with open(path, "a") as out:
        out.write(more.text())
    assert once(cli, state, path)[:2] == (0, [])
    fail = MailLog()
    fail._queue += 0x200000
    fail.login("ann@example.jp", "198.51.100.7", at(3, 14), outcomes={"bounced": 300})
    with open(path, "a") as out:
        out.write(fail.text())
    code, alerts, _ = once(cli, state, path)
    assert code == 1 and [(a["severity"], a["new_signals"]) for a in alerts] == [
        ("critical", ["failing"])]


def test_a_guess_found_late_is_alerted_when_its_failures_come(tmp_path, cli):
    # A bot's connection fails bob's password, and stays open while another logs in as bob.
    # The first run reads the login and the failures, not the failing connection's end: judged
    # as if the log ended there, the login is a guess, alerted then. The second run reads that
    # end: the engine itself judges the login again, a guess already alerted.
    log = MailLog()
    bot = "203.0.113.66"
    log.failures(bot, at(0, 10), ["bob@example.jp"] * 3, until=at(0, 10, 1))
    log.login("bob@example.jp", bot, at(0, 10, 0.1))
    text = log.text()
    disconnect = text.index("2026-01-05T10:01:00")
    path = tmp_path / "maillog"
    path.write_text(text[:disconnect])
    state = tmp_path / "s.sqlite"
    code, alerts, _ = once(cli, state, path)
    assert code == 1 and [(a["user"], a["new_signals"], a["first_seen_ip"]) for a in alerts] == [
        ("bob@example.jp", ["guessed"], bot)]
    assert alerts[0]["reasons"][0].startswith(
        f"guessed: login from {bot} at 2026-01-05T10:00+09:00 after 3 failed AUTH ")
    assert engine_of(state).activity.users["bob@example.jp"].guesses == {}
    with open(path, "a") as out:
        out.write(text[disconnect:])
    assert once(cli, state, path)[:2] == (0, [])
    assert engine_of(state).activity.users["bob@example.jp"].guesses[bot].time == at(0, 10, 0.1)


def test_a_guess_found_late_is_not_brought_back_after_the_account_is_forgotten(tmp_path, cli):
    # As above: the first run alerts on the guess; bob's password is reset and his history
    # forgotten. The failing connection's end comes later, its failures making bob's account
    # again, and bob logs in the next day from home with his new password: the login of the
    # attacker before the reset is no guess of his new history.
    log = MailLog()
    bot = "203.0.113.66"
    log.failures(bot, at(0, 10), ["bob@example.jp"] * 3, until=at(0, 10, 1))
    log.login("bob@example.jp", bot, at(0, 10, 0.1))
    log.login("bob@example.jp", "198.51.100.7", at(1, 9))
    text = log.text()
    disconnect = text.index("2026-01-05T10:01:00")
    path = tmp_path / "maillog"
    path.write_text(text[:disconnect])
    state = tmp_path / "s.sqlite"
    assert [alert["new_signals"] for alert in once(cli, state, path)[1]] == [["guessed"]]
    assert cli("state", "--state", state, "--forget", "bob@example.jp").code == 0
    with open(path, "a") as out:
        out.write(text[disconnect:])
    assert once(cli, state, path)[:2] == (0, [])
    assert engine_of(state).activity.users["bob@example.jp"].guesses == {}


def test_a_deferred_message_keeps_its_user_across_runs(tmp_path, cli):
    log = MailLog()
    log.login("ann@example.jp", "198.51.100.7", at(0, 9), outcomes={"deferred": 1},
              expire_after=__import__("datetime").timedelta(days=5))
    text = log.text().splitlines(keepends=True)
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    split = next(index for index, line in enumerate(text) if "status=expired" in line)
    path.write_text("".join(text[:split]))
    once(cli, state, path)
    engine = engine_of(state)
    assert [m.sasl_username for m in engine.correlator.messages.values()] == ["ann@example.jp"]
    with open(path, "a") as out:
        out.write("".join(text[split:]))
    once(cli, state, path)
    engine = engine_of(state)
    assert engine.correlator.messages == {}
    engine.activity.close()
    assert engine.activity.users["ann@example.jp"].totals() == [0, 0, 0, 1, 0]  # expired


def test_a_line_being_written_is_read_when_complete(tmp_path, cli):
    data = SAMPLE.read_bytes()
    cut = data.index(b"\n", 5000) + 40  # inside a line
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    path.write_bytes(data[:cut])
    once(cli, state, path)
    lines = data[:cut].count(b"\n")
    assert engine_of(state).correlator.stats.lines_read == lines
    with open(path, "ab") as out:
        out.write(data[cut:data.index(b"\n", cut) + 1])
    once(cli, state, path)
    assert engine_of(state).correlator.stats.lines_read == lines + 1


def split_sample(parts):
    """The sample's bytes cut into `parts` pieces at line ends."""
    data = SAMPLE.read_bytes()
    points = [data.index(b"\n", len(data) * number // parts) + 1 for number in range(1, parts)]
    return [data[start:end] for start, end in zip([0] + points, points + [len(data)])]


def read_then_grown(cli, tmp_path, first, second):
    """(path, state, alerts): the log `first` read by one `watch --once`, then `second`
    written to it (after the run, before a rotation)."""
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    path.write_bytes(first)
    alerts = once(cli, state, path)[1]
    with open(path, "ab") as out:
        out.write(second)
    return path, state, alerts


def caught_up(cli, tmp_path, rotate):
    """(stderr, the signals raised, lines read) of `watch --once` runs over the sample in three
    parts: the first read, the second written after it, the log then rotated by
    `rotate(path)` and the third written to a new one."""
    first, second, third = split_sample(3)
    path, state, alerts = read_then_grown(cli, tmp_path, first, second)
    rotate(path)
    path.write_bytes(third)
    code, new, err = once(cli, state, path)
    return err, raised(alerts + new), engine_of(state).correlator.stats.lines_read


@pytest.mark.parametrize("rotated_as", ["maillog.1", "maillog.1.gz", "maillog-20260308",
                                        "maillog-20260308.gz"])
def test_once_reads_the_rest_of_a_rotated_file_then_the_new_one(tmp_path, cli, rotated_as):
    def rotate(path):
        if rotated_as.endswith(".gz"):
            with open(path, "rb") as plain, gzip.open(tmp_path / rotated_as, "wb") as packed:
                shutil.copyfileobj(plain, packed)
            path.unlink()
        else:
            path.rename(tmp_path / rotated_as)

    assert caught_up(cli, tmp_path, rotate) == ("", findings([SAMPLE]), lines_in(SAMPLE))


def test_once_reads_every_stream_of_a_rotated_xz_file(tmp_path, cli):
    # Two xz streams with stream padding between (`cat` of two files, with the NULs xz allows):
    # Python's LZMAFile ends at the padding, and the catch-up lost the second stream's lines.
    def rotate(path):
        text = path.read_bytes()
        cut = text.index(b"\n", len(text) // 2) + 1
        (tmp_path / "maillog.1.xz").write_bytes(
            lzma.compress(text[:cut]) + bytes(4) + lzma.compress(text[cut:]))
        path.unlink()

    assert caught_up(cli, tmp_path, rotate) == ("", findings([SAMPLE]), lines_in(SAMPLE))


def test_once_keeps_the_lines_before_junk_after_a_rotated_bzip2_stream(tmp_path, cli):
    # A note appended to a rotated .bz2 ends its reading with a read error: the lines inflated
    # before it (up to 128 KiB) were dropped with it, as BufferedReader.read() drops them.
    def rotate(path):
        (tmp_path / "maillog.1.bz2").write_bytes(bz2.compress(path.read_bytes()) + b"junk\n")
        path.unlink()

    err, found, lines = caught_up(cli, tmp_path, rotate)
    assert "maillog.1.bz2: read failed part way" in err
    assert (found, lines) == (findings([SAMPLE]), lines_in(SAMPLE))


@pytest.mark.parametrize("inode", ["new", "reused"])
def test_once_after_two_rotations_reads_every_file_between(tmp_path, cli, inode):
    # "reused": the new log on the inode the first one freed when the second rotation
    # compressed it, as logrotate's compress + delaycompress gets on ext4 or tmpfs, which hand
    # a freed inode out again at once. It was taken for a copytruncate, maillog.1 skipped.
    parts = split_sample(4)
    path, state, alerts = read_then_grown(cli, tmp_path, parts[0], parts[1])
    with open(path, "rb") as plain, gzip.open(tmp_path / "maillog.2.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    if inode == "new":
        path.unlink()
    (tmp_path / "maillog.1").write_bytes(parts[2])
    (tmp_path / "maillog.3.gz").write_bytes(gzip.compress(b"Mar  1 00:00:00 old line\n"))
    with open(path, "r+b" if inode == "reused" else "wb") as out:
        out.truncate(0)
        out.write(parts[3])
    assert rotated_files(str(path)) == [str(tmp_path / name) for name in
                                        ("maillog.3.gz", "maillog.2.gz", "maillog.1")]
    alerts += once(cli, state, path)[1]
    assert raised(alerts) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_once_while_gzip_compresses_the_file_read_last_reads_the_plain_one(tmp_path, cli):
    # logrotate's delaycompress: the second rotation renames the file read last to maillog.2
    # and gzip writes maillog.2.gz beside it, deleting maillog.2 only when it is done. A run
    # in between found both: it read the half-written .gz after the plain file, its lines
    # twice, and then stopped at its cut end.
    parts = split_sample(4)
    path, state, alerts = read_then_grown(cli, tmp_path, parts[0], parts[1])
    path.rename(tmp_path / "maillog.2")
    packed = gzip.compress(parts[0] + parts[1])
    (tmp_path / "maillog.2.gz").write_bytes(packed[:len(packed) // 2])
    (tmp_path / "maillog.1").write_bytes(parts[2])
    path.write_bytes(parts[3])
    new, err = once(cli, state, path)[1:]
    assert err == ""
    assert raised(alerts + new) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_once_after_copytruncate_reads_the_rest_from_the_copy(tmp_path, cli):
    first, second, third = split_sample(3)
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    path.write_bytes(first)
    alerts = once(cli, state, path)[1]
    with open(path, "ab") as out:
        out.write(second)
    shutil.copyfile(path, tmp_path / "maillog.1")
    with open(path, "r+b") as out:
        out.truncate(0)
        out.write(third)  # the same inode, shorter or not: its first line tells
    alerts += once(cli, state, path)[1]
    assert raised(alerts) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_a_rotated_file_that_cannot_be_found_is_said_and_the_new_one_read(tmp_path, cli):
    first, second = split_sample(2)
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    path.write_bytes(first)
    once(cli, state, path)
    path.unlink()
    path.write_bytes(second)
    code, _, err = once(cli, state, path)
    assert code in (0, 1)
    # A new file, often on the inode just freed: told from the old one by its first line.
    assert "since it was last read, and" in err and "were not read" in err
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_a_log_that_cannot_be_read_is_exit_2_and_the_others_still_read(tmp_path, cli):
    log = MailLog()
    log.login("ann@example.jp", "198.51.100.7", at(0, 9))
    good = log.write(tmp_path / "maillog")
    code, alerts, err = once(cli, tmp_path / "s.sqlite", tmp_path / "missing", good)
    assert code == 2 and alerts == []
    assert f"{tmp_path / 'missing'}: cannot read: No such file or directory" in err
    assert engine_of(tmp_path / "s.sqlite").correlator.stats.lines_read == len(log.lines)


def test_a_locked_state_is_exit_2(tmp_path, cli):
    state = tmp_path / "s.sqlite"
    holder = State.open(str(state), watch.engine_format())
    try:
        code, _, err = once(cli, state, SAMPLE, more=("--lock-wait", "0.2"))
    finally:
        holder.close()
    assert code == 2 and "is in use by another maillog-sasl run" in err


def test_lock_wait_0_gives_up_at_once(tmp_path, cli):
    # An administrator's `--lock-wait 0` (fail at once: cron must not wait) was refused as no
    # number of seconds, exit 2 without a try.
    state = tmp_path / "s.sqlite"
    holder = State.open(str(state), watch.engine_format())
    try:
        started = time.monotonic()
        code, _, err = once(cli, state, SAMPLE, more=("--lock-wait", "0"))
        took = time.monotonic() - started
        refused = cli("state", "--state", state, "--forget", "ann@example.jp", "--lock-wait", "0")
    finally:
        holder.close()
    assert code == 2
    assert f"is in use by another maillog-sasl run (pid {os.getpid()}); waited 0 s" in err
    assert took < 1.0
    assert refused.code == 2 and "is in use by another maillog-sasl run" in refused.err
    assert once(cli, state, SAMPLE, more=("--lock-wait", "0"))[0] == 1
    assert "0 or more" in cli("state", "--state", state, "--lock-wait", "-1").err


def test_a_corrupt_state_is_exit_2_and_kept(tmp_path, cli):
    state = tmp_path / "s.sqlite"
    state.write_bytes(b"not a database" * 100)
    os.chmod(state, 0o600)
    code, _, err = once(cli, state, SAMPLE)
    assert code == 2 and len(err.splitlines()) == 1 and "not a maillog-sasl state" in err
    assert state.read_bytes() == b"not a database" * 100


def test_changed_limits_apply_from_now_on(tmp_path, cli):
    state = tmp_path / "s.sqlite"
    once(cli, state, SAMPLE)
    code, _, err = once(cli, state, SAMPLE, more=("--max-hourly-recipients", "50"))
    assert code == 0 and "the limits differ from those of the last run" in err
    assert engine_of(state).activity.limits.hourly_recipients == 50


# -- alerts ----------------------------------------------------------------------------------

def test_alert_log_and_command(tmp_path, cli):
    record = tmp_path / "record"
    command = f'printf "%s %s " "$MAILLOG_SASL_USER" "$MAILLOG_SASL_SEVERITY" >> {record}; ' \
              f"head -c 12 >> {record}; echo >> {record}"
    alert_log = tmp_path / "alerts.ndjson"
    alert_log.write_text('{"earlier": true}\n')
    code, alerts, err = once(cli, tmp_path / "s.sqlite", SAMPLE,
                             more=("--alert-log", alert_log, "--alert-command", command))
    assert code == 1 and alerts == [] and err == ""
    lines = alert_log.read_text().splitlines()
    # Three accounts flagged, and the failure storm on k.nilsson (test_watch_alerts.py).
    assert lines[0] == '{"earlier": true}' and len(lines) == 5
    written = [json.loads(line) for line in lines[1:]]
    assert record.read_text().splitlines() == [
        f'{alert["user"]} {alert["severity"]} {{"time": "20' for alert in written]
    assert [alert["severity"] for alert in written].count("critical") == 3


def test_a_failing_or_hanging_alert_command_is_said_and_the_run_goes_on(tmp_path, cli):
    code, alerts, err = once(cli, tmp_path / "s.sqlite", SAMPLE,
                             more=("--alert-command", "exit 3"))
    assert code == 1 and len(alerts) == 4
    assert err.count("failed (exit status 3)") == 4
    # A command waited out writes the file as it ends: no time budget (a whole test under
    # 10 s failed on a loaded machine).
    waited = tmp_path / "waited"
    code, alerts, err = once(cli, tmp_path / "t.sqlite", SAMPLE,
                             more=("--alert-command", f"sleep 30; echo >> '{waited}'",
                                   "--alert-timeout", "0.2"))
    assert code == 1 and len(alerts) == 4
    assert err.count("still running after 0.2 s: killed") == 4
    assert not waited.exists()


def test_an_alert_log_that_cannot_be_written_is_exit_2_and_the_alert_kept(tmp_path, cli):
    state = tmp_path / "s.sqlite"
    code, _, err = once(cli, state, SAMPLE, more=("--alert-log", tmp_path / "no" / "dir"))
    assert code == 2 and "cannot append the alert" in err
    code, alerts, _ = once(cli, state, SAMPLE)  # written at the next run
    assert code == 0 and raised(alerts) == findings([SAMPLE])


# -- SIGKILL ---------------------------------------------------------------------------------

def test_killed_at_any_moment_nothing_is_read_twice_or_lost(tmp_path):
    data = SAMPLE.read_bytes()
    path, state, out = tmp_path / "maillog", tmp_path / "s.sqlite", tmp_path / "alerts"
    path.write_bytes(b"")
    rng = random.Random(9)
    # Kill times are drawn within the time a whole run takes on this machine, so that most runs
    # are killed somewhere in their work however fast the machine (and cached bytecode) is.
    started = time.monotonic()
    subprocess.run(PYTHON_CLI + ["watch", "--once", "--state", str(tmp_path / "timing.sqlite"),
                                 str(SAMPLE)], capture_output=True, check=False)
    whole_run = time.monotonic() - started
    previous = 0
    kills = 0
    for cut in cuts(data, 6, seed=3):
        with open(path, "ab") as log:
            log.write(data[previous:cut])
        previous = cut
        for _ in range(2):
            process = subprocess.Popen(PYTHON_CLI + ["watch", "--once", "--state", str(state),
                                                     "--alert-log", str(out), str(path)],
                                       stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.1, 0.9) * whole_run)
            if process.poll() is None:
                process.kill()
                kills += 1
            process.wait()
            assert process.returncode in (0, 1, -signal.SIGKILL), process.stderr.read()
            process.stderr.close()
    final = subprocess.run(PYTHON_CLI + ["watch", "--once", "--state", str(state),
                                         "--alert-log", str(out), str(path)],
                           capture_output=True, text=True)
    assert final.returncode in (0, 1), final.stderr
    assert kills >= 3
    texts = out.read_text().splitlines() if out.exists() else []
    # An alert written just before the kill, and not yet marked, is written again: the same
    # text. No (account, signal) is raised by two different alerts.
    assert raised([json.loads(text) for text in dict.fromkeys(texts)]) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


# -- following -------------------------------------------------------------------------------

class ListSink:
    def __init__(self):
        self.alerts = []

    def write(self, alert, text):
        self.alerts.append(alert)

    def close(self):
        pass


class Following:
    """A Watch following `paths` in a thread, polling every `interval` seconds (the state and
    the Watch are made in that thread: an SQLite connection stays in its own)."""

    def __init__(self, state, paths, interval=0.02):
        self.sink = ListSink()
        self.notes = []
        self.stop = threading.Event()
        self.code = None
        self.run = None
        ready = threading.Event()
        # A daemon: a test that fails before end() left it following, and the suite never
        # exited (seen with a wait below failing).
        self.thread = threading.Thread(target=self._follow, args=(state, paths, interval, ready),
                                       daemon=True)
        self.thread.start()
        ready.wait(20)
        assert self.run is not None

    def _follow(self, state, paths, interval, ready):
        opened = State.open(str(state), watch.engine_format())
        try:
            self.run = watch.Watch(opened, [str(path) for path in paths], [self.sink],
                                   Thresholds(), complain=self.notes.append)
            ready.set()
            self.code = self.run.follow(self.stop, interval=interval, checkpoint_every=0.5)
        finally:
            ready.set()
            opened.close()

    def lines_read(self):
        return self.run.engine.correlator.stats.lines_read

    def wait_for(self, lines, timeout=20.0):
        self.wait_until(lambda: self.lines_read() >= lines, timeout, lines)

    def wait_until(self, condition, timeout=20.0, wanted=None):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, (self.lines_read(), wanted, self.notes)
            time.sleep(0.01)

    def end(self):
        self.stop.set()
        self.thread.join(20)
        return self.code


def test_follow_survives_rotation_by_rename_with_late_lines_in_the_old_file(tmp_path):
    first, second, late, third = split_sample(4)
    path = tmp_path / "maillog"
    path.write_bytes(first)
    following = Following(tmp_path / "s.sqlite", [path])
    following.wait_for(first.count(b"\n"))
    with open(path, "ab") as writer:  # the syslog daemon's descriptor
        writer.write(second)
        writer.flush()
        path.rename(tmp_path / "maillog.1")
        path.write_bytes(b"")  # logrotate's create
        writer.write(late)  # written before the daemon reopens the path
    with open(path, "ab") as writer:
        writer.write(third)
    following.wait_for(lines_in(SAMPLE))
    assert following.end() == 0
    assert following.lines_read() == lines_in(SAMPLE)
    assert raised(following.sink.alerts) == findings([SAMPLE])


def test_follow_survives_copytruncate(tmp_path):
    parts = split_sample(3)
    path = tmp_path / "maillog"
    path.write_bytes(parts[0])
    following = Following(tmp_path / "s.sqlite", [path])
    following.wait_for(parts[0].count(b"\n"))
    with open(path, "ab") as writer:
        writer.write(parts[1])
    following.wait_for(lines_in(path))
    shutil.copyfile(path, tmp_path / "maillog.1")
    with open(path, "r+b") as writer:
        writer.truncate(0)
    with open(path, "ab") as writer:
        writer.write(parts[2])
    following.wait_for(lines_in(SAMPLE))
    assert following.end() == 0
    assert following.lines_read() == lines_in(SAMPLE)
    assert raised(following.sink.alerts) == findings([SAMPLE])


def test_follow_waits_for_a_missing_file_and_one_that_goes_and_comes_back(tmp_path):
    first, second = split_sample(2)
    path = tmp_path / "maillog"
    following = Following(tmp_path / "s.sqlite", [path])
    # The note comes from the thread's first look, which a fixed 0.1 s need not see come on a
    # loaded machine (notes[0]: IndexError).
    following.wait_until(lambda: following.notes)
    assert following.lines_read() == 0 and "cannot read: No such file" in following.notes[0]
    path.write_bytes(first)
    following.wait_for(first.count(b"\n"))
    path.unlink()
    time.sleep(0.1)
    path.write_bytes(second)
    following.wait_for(lines_in(SAMPLE))
    assert following.end() == 0
    assert raised(following.sink.alerts) == findings([SAMPLE])


def test_follow_commits_on_stop_and_once_goes_on_from_there(tmp_path, cli):
    first, second = split_sample(2)
    path, state = tmp_path / "maillog", tmp_path / "s.sqlite"
    path.write_bytes(first)
    following = Following(state, [path])
    following.wait_for(first.count(b"\n"))
    assert following.end() == 0
    with open(path, "ab") as out:
        out.write(second)
    alerts = following.sink.alerts + once(cli, state, path)[1]
    assert raised(alerts) == findings([SAMPLE])
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)


def test_follower_reads_the_rest_of_a_file_truncated_before_it_was_read(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(b"one\ntwo\n")
    follower = Follower(str(path))
    assert [chunk.lines for chunk in follower.read()] == [["one", "two"]]
    with open(path, "ab") as out:
        out.write(b"three\nfour")
    shutil.copyfile(path, tmp_path / "maillog.1")
    path.write_bytes(b"five\n")
    assert [line for chunk in follower.read() for line in chunk.lines] == [
        "three", "four", "five"]
    assert follower.position == Position(*follower.position[:2], 5, follower.position.head)


@pytest.mark.parametrize("held", [True, False])
def test_follower_after_a_copytruncate_reads_no_file_of_an_older_naming_scheme(tmp_path, held):
    # Dated files left from when dateext was on sort after maillog.1 in rotated_files(): they
    # are not newer than the copy, and were read again, whole, after each copytruncate.
    path = tmp_path / "maillog"
    with gzip.open(tmp_path / "maillog-20260101.gz", "wb") as old:
        old.write(b"legacy\n")
    (tmp_path / "maillog-20260108").write_bytes(b"legacy too\n")
    past = time.time() - 86400
    os.utime(tmp_path / "maillog-20260101.gz", (past, past))
    os.utime(tmp_path / "maillog-20260108", (past, past))
    path.write_bytes(b"the first line\n")
    follower = Follower(str(path))
    assert [chunk.lines for chunk in follower.read()] == [["the first line"]]
    if not held:
        stored = follower.position
        follower.close()
        follower = Follower(str(path), stored)
    with open(path, "ab") as out:
        out.write(b"two\n")
    shutil.copyfile(path, tmp_path / "maillog.1")
    path.write_bytes(b"three\n")
    assert [line for chunk in follower.read() for line in chunk.lines] == ["two", "three"]


def test_follower_keeps_a_line_until_it_is_complete_and_reads_crlf(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(b"one\r\ntw")
    follower = Follower(str(path))
    assert [chunk.lines for chunk in follower.read()] == [["one"]]
    assert list(follower.read()) == []
    with open(path, "ab") as out:
        out.write(b"o\n")
    assert [chunk.lines for chunk in follower.read()] == [["two"]]


def test_follow_in_a_process_stops_on_sigterm_and_alerts_within_seconds(tmp_path):
    data = SAMPLE.read_bytes()
    # The first alert's evidence is complete somewhere in the sample: give all the lines before
    # the first login of its account from the guessed IP, then the rest in one write.
    cut = data.index(b"client=unknown[185.155.231.161]")
    cut = data.rfind(b"\n", 0, cut) + 1
    path, state, out = tmp_path / "maillog", tmp_path / "s.sqlite", tmp_path / "alerts"
    path.write_bytes(data[:cut])
    process = subprocess.Popen(PYTHON_CLI + ["watch", "--state", str(state), "--alert-log",
                                             str(out), str(path)],
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not out.exists() or len(out.read_text().splitlines()) < 1:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        before = len(out.read_text().splitlines())
        start = time.monotonic()
        with open(path, "ab") as writer:
            writer.write(data[cut:])
        while len(out.read_text().splitlines()) <= before:
            assert time.monotonic() - start < 5, "no alert within 5 seconds"
            time.sleep(0.02)
        latency = time.monotonic() - start
        print(f"alert latency: {latency:.2f} s")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, process.stderr.read()
        process.stderr.close()
    assert latency < 5
    again = subprocess.run(PYTHON_CLI + ["watch", "--once", "--state", str(state), str(path)],
                           capture_output=True, text=True)
    assert (again.returncode, again.stdout) == (0, "")
    assert engine_of(state).correlator.stats.lines_read == lines_in(SAMPLE)
    assert raised([json.loads(line) for line in out.read_text().splitlines()]) == \
        findings([SAMPLE])


def test_rotated_files_are_ordered_oldest_first(tmp_path):
    # maillog.3.gz beside maillog.3: gzip is still writing it (see the test above).
    for name in ["maillog.10.gz", "maillog.3", "maillog.3.gz", "maillog.2", "maillog.1",
                 "maillog-x", "other.1", "maillog"]:
        (tmp_path / name).write_text("")
    assert [Path(name).name for name in rotated_files(str(tmp_path / "maillog"))] == [
        "maillog.10.gz", "maillog.3", "maillog.2", "maillog.1"]
    # A plain maillog.3 left from another time (gunzip -k) does not hide the new maillog.3.gz.
    (tmp_path / "maillog.3").write_text("Mar  1 00:00:00 old\n")
    (tmp_path / "maillog.3.gz").write_bytes(gzip.compress(b"Mar  8 00:00:00 new\n"))
    assert [Path(name).name for name in rotated_files(str(tmp_path / "maillog"))] == [
        "maillog.10.gz", "maillog.3", "maillog.3.gz", "maillog.2", "maillog.1"]


def test_follower_reads_on_in_the_renamed_file_while_the_log_is_missing(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(b"a\nb\n")
    first = Follower(str(path))
    assert [line for chunk in first.read() for line in chunk.lines] == ["a", "b"]
    stored = first.position
    first.close()
    path.rename(tmp_path / "maillog.1")
    with open(tmp_path / "maillog.1", "ab") as out:
        out.write(b"c\n")
    follower = Follower(str(path), stored, clock=iter(range(100)).__next__)
    assert [line for chunk in follower.read() for line in chunk.lines] == ["c"]
    assert "missing; reading" in follower.notes[0] and not follower.failed
    assert follower.position[:3] == stored[:2] + (6,)
    path.write_bytes(b"d\n")
    with open(tmp_path / "maillog.1", "ab") as out:
        out.write(b"e\n")
    assert [line for chunk in follower.read() for line in chunk.lines] == ["e"]  # noticed
    chunks = list(follower.read())  # quiet for a call: the new file now
    assert [(Path(chunk.name).name, chunk.lines, chunk.new_file) for chunk in chunks] == [
        ("maillog", ["d"], True)]


def test_follower_after_a_compressed_rotation_with_the_log_missing(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(b"a\n")
    first = Follower(str(path))
    list(first.read())
    stored = first.position
    first.close()
    (tmp_path / "maillog.1.gz").write_bytes(gzip.compress(b"a\nb\nc"))
    path.unlink()
    follower = Follower(str(path), stored)
    assert [line for chunk in follower.read() for line in chunk.lines] == ["b", "c"]
    assert follower.failed is False and "cannot read" in follower.notes[0]
    again = Follower(str(path), follower.position)
    assert list(again.read()) == []  # nothing twice
    path.write_bytes(b"d\n")
    assert [line for chunk in again.read() for line in chunk.lines] == ["d"]


def test_a_command_sink_in_the_background_runs_each_alert_in_turn(tmp_path):
    from maillog_sasl.alerts import CommandSink

    record, said = tmp_path / "record", []
    sink = CommandSink(f'cat >> {record}; echo >> {record}; [ "$MAILLOG_SASL_USER" != b ]',
                       5.0, said.append, background=True)
    for user in ("a", "b", "c"):
        sink.write({"user": user, "severity": "high"}, json.dumps({"user": user}))
    sink.close()
    assert [json.loads(line)["user"] for line in record.read_text().splitlines() if line] == ["a", "b", "c"]
    assert said == ["alert command for 'b': failed (exit status 1)"]
    CommandSink("kill -9 $$", 5.0, said.append).write({"user": "d"}, "{}")
    assert said[-1] == "alert command for 'd': failed (killed by signal 9)"


def test_a_stream_that_cannot_be_written_is_a_sink_error():
    import io

    from maillog_sasl.alerts import SinkError, StreamSink

    stream = io.StringIO()
    stream.close()
    with pytest.raises(SinkError, match="cannot write the alert"):
        StreamSink(stream).write({}, "{}")


def test_forget_drops_the_account_from_the_engine_for_good(tmp_path, cli):
    log = MailLog()
    log.login("ann@example.jp", "198.51.100.7", at(0, 9))
    log.login("bob@example.jp", "192.0.2.10", at(0, 10))
    path, state = log.write(tmp_path / "maillog"), tmp_path / "s.sqlite"
    once(cli, state, path)
    assert cli("state", "--state", state, "--forget", "ann@example.jp").code == 0
    opened = State.open(str(state), watch.engine_format())
    try:
        engine = opened.engine
        assert "ann@example.jp" not in engine.activity.users
        engine.activity.close()  # its open hours are not settled back into the pairs
        assert engine.pairs.networks_of("ann@example.jp") == {}
        assert engine.pairs.networks_of("bob@example.jp")
    finally:
        opened.close()


def test_watch_usage_errors(tmp_path, cli):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "-")
    assert result.code == 2 and "not standard input" in result.err
    result = cli("watch", "--once", "--tz", "Mars/Olympus", SAMPLE)
    assert result.code == 2 and "unknown time zone" in result.err
    result = cli("watch", "--once", "--burst-factor", "0.0000001", SAMPLE)
    assert result.code == 2 and "--burst-factor" in result.err
    assert cli("watch").code == 2
