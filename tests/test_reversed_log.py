"""A log whose lines run newest first is told, not read silently wrong.

`tac maillog`, `journalctl -r -u postfix` and a spreadsheet sorted the wrong way write a log in
reverse order. Read as it comes, every session starts at its disconnect and ends at its connect,
every message is handed to its recipients before it is queued: the shipped sample, reversed,
reported 1,597 authenticated sessions for its 833, its three stolen accounts with no message
sent, bounced or deferred, 883 messages "still queued" and exit status 0 (found by a search of
public logs, 2026-12-06). The correlator counts how often a line's time comes before, or after,
every time read before it (Stats.earliest_moves, latest_moves): a log read oldest first moves its
earliest time back only near its start, where hosts' clocks differ by a second or two (at most 3
times in any real log of tests/), and its latest on at every new second; a reversed one the other
way round. Such an input is a problem (one line on stderr, exit status 2), and the report is
still written. A log of fewer than correlate.BACKWARD_MOVES distinct times is not told: it can be
read by eye.

`watch` read such a log silently (exit status 1, the alerts of a log read backwards), and logs
joined newest first as well: it tells each, once a run, as the reports tell it, and `--once`
exits 2.
"""

import datetime as _dt
from pathlib import Path

import pytest
from test_jobs import chunks_of
from test_watch import Following, ListSink

import maillog_sasl
from maillog_sasl import watch
from maillog_sasl.activity import Thresholds
from maillog_sasl.correlate import BACKWARD_MOVES
from maillog_sasl.state import State

from support import SAMPLE_LOGS

TESTS = Path(__file__).parent
# A real server's log (Lightmeter's sample, 297 lines of postfix, amavis and dovecot).
LIGHTMETER = TESTS / "reallogs" / "lightmeter-sample" / "mail.log"
BACKWARDS = "its lines run backwards in time, newest first"
JOINED = "before its first line: logs joined newest first"


def reversed_copy(path: Path, directory: Path, name: str = "maillog") -> Path:
    """`path`'s lines, newest first, as `tac` writes them."""
    lines = path.read_bytes().splitlines(keepends=True)
    copy = directory / name
    copy.write_bytes(b"".join(reversed(lines)))
    return copy


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_real_log_reversed_is_a_problem(cli, tmp_path, monkeypatch, jobs):
    log = reversed_copy(LIGHTMETER, tmp_path)
    chunks_of(4096, monkeypatch)  # a worker reads some of its chunks (the file is 37 KB)
    result = cli("--year", "2020", "--jobs", jobs, log)
    assert result.code == 2
    assert result.err == f"maillog-sasl: {log}: {BACKWARDS} (tac, journalctl -r?): the reports " \
                         "need the oldest line first\n"
    assert result.out.startswith("2020-")  # the report is still written


def test_the_sample_reversed_is_a_problem_and_in_order_is_not(cli, tmp_path):
    # RFC 3339 stamps with microseconds: a new latest time at nearly every line read in order.
    log = reversed_copy(SAMPLE_LOGS / "maillog-sample.log", tmp_path)
    reversed_run = cli("-f", "csv", log)
    assert reversed_run.code == 2 and BACKWARDS in reversed_run.err
    in_order = cli("-f", "csv", SAMPLE_LOGS / "maillog-sample.log")
    assert in_order.code == 0 and in_order.err == ""


def test_only_the_reversed_input_is_named(cli, tmp_path):
    log = reversed_copy(LIGHTMETER, tmp_path, "mail.log.reversed")
    result = cli("--year", "2020", TESTS / "reallogs" / "lightmeter-sample" / "mail.log.1", log)
    assert result.code == 2
    assert result.err.count(BACKWARDS) == 1 and f"{log}: {BACKWARDS}" in result.err


def test_rotated_files_joined_in_the_wrong_order_are_no_reversed_log(cli, tmp_path):
    # `cat mail.log mail.log.1`: each part runs forward, the second starts earlier once, a day
    # before the first's end (rotated daily): that is told (tests/test_walk_newyear.py).
    joined = tmp_path / "maillog"
    joined.write_bytes(LIGHTMETER.read_bytes()
                       + (LIGHTMETER.parent / "mail.log.1").read_bytes())
    result = cli("--year", "2020", joined)
    assert BACKWARDS not in result.err
    assert result.code == 2 and result.err == (
        f"maillog-sasl: {joined}: its lines go back in time from 2020-01-28 16:50:01 to "
        f"2020-01-27 06:50:01, {JOINED} (zcat -f maillog*?), so a login or message logged "
        "across two of them was read out of order; give maillog-sasl the files, which it puts "
        "in order, or join them oldest first (ls -rt)\n")


def _login(when, host, number):
    client = f"unknown[198.51.100.{number}]"
    tag = f"{when:%b %e %H:%M:%S} {host} postfix/submission/smtpd[{100 + number}]:"
    return (f"{tag} connect from {client}\n"
            f"{tag} A{number:09X}: client={client}, sasl_method=LOGIN, "
            f"sasl_username=bob@example.com\n"
            f"{tag} disconnect from {client}\n")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_host_whose_clock_is_days_off_is_no_joined_log(cli, tmp_path, monkeypatch, jobs):
    # A central syslog's logs in order: a line of a host a day and more behind at the end of a
    # day's log; a half hour's log where a host two days ahead came first and one a second
    # behind after it. No older log follows where the time went back: no line ran on from it.
    start = _dt.datetime(2026, 12, 3)
    behind = tmp_path / "behind"
    behind.write_text("".join(_login(start + _dt.timedelta(minutes=30 * n), "a", n)
                              for n in range(48))
                      + _login(start - _dt.timedelta(hours=6, minutes=5), "b", 99))
    ahead = tmp_path / "ahead"
    ahead.write_text(_login(start, "a", 1)
                     + _login(start + _dt.timedelta(days=2, seconds=30), "b", 2)
                     + _login(start - _dt.timedelta(seconds=1), "c", 3)
                     + "".join(_login(start + _dt.timedelta(minutes=n), "a", n)
                               for n in range(4, 34)))
    chunks_of(4096, monkeypatch)  # a worker reads some of their chunks
    for log in (behind, ahead):
        result = cli("--year", "2026", "-f", "csv", "--jobs", jobs, log)
        assert (result.code, result.err) == (0, "")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_logs_joined_newest_first_after_a_host_days_behind_are_told(cli, tmp_path, monkeypatch,
                                                                     jobs):
    # `cat maillog maillog.1` of a central syslog where a host three days behind logged once in
    # the newer log: its line went back, and the lines after it ran on past it, before the
    # older log's did.
    newer, older = _dt.datetime(2026, 12, 3), _dt.datetime(2026, 12, 2)
    lines = [_login(newer + _dt.timedelta(minutes=30 * n), "a", n) for n in range(48)]
    lines.insert(10, _login(newer + _dt.timedelta(hours=5) - _dt.timedelta(days=3), "b", 99))
    lines += [_login(older + _dt.timedelta(minutes=30 * n), "a", 100 + n) for n in range(48)]
    joined = tmp_path / "maillog"
    joined.write_text("".join(lines))
    chunks_of(4096, monkeypatch)
    result = cli("--year", "2026", "-f", "csv", "--jobs", jobs, joined)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl: {joined}: its lines go back in time from "
                                 f"2026-12-03 23:30:00 to 2026-12-02 00:00:00, {JOINED}")


def _logs_in_order():
    for directory in ("reallogs", "scenarios", "corpus", "fixtures"):
        for path in sorted((TESTS / directory).rglob("*")):
            if (path.is_file() and path.suffix not in (".py", ".md", ".json", ".yaml")
                    and path.name not in ("LICENSE", "COPYING")):
                yield path
    yield from sorted(SAMPLE_LOGS.glob("*.log"))
    yield SAMPLE_LOGS / "seed-maillog.txt"


def test_no_log_read_in_order_is_said_to_run_backwards():
    # Among them a FreeBSD syslogd log whose earliest time moved back twice and its latest
    # never, and multi-host logs whose clocks differ: below BACKWARD_MOVES, all of them, and
    # none a day behind its latest time before its first (logs joined newest first).
    logs = list(_logs_in_order())
    assert len(logs) > 70
    told = []
    for log in logs:
        analysis = maillog_sasl.open_logs([log], year=2020)
        for _ in analysis:
            pass
        told += [str(problem) for problem in analysis.problems
                 if BACKWARDS in str(problem) or JOINED in str(problem)]
    assert told == []


def _watch_once(state: Path, log: Path) -> list:
    """What `watch --once --year 2020` on `log` said on stderr."""
    notes: list = []
    opened = State.open(str(state), watch.engine_format())
    try:
        watch.Watch(opened, [str(log)], [ListSink()], Thresholds(), year=2020,
                    complain=notes.append).once()
    finally:
        opened.close()
    return notes


def _told(problems) -> list:
    return [kind for kind in (BACKWARDS, JOINED) if any(kind in str(told) for told in problems)]


def test_watch_tells_a_log_out_of_order_as_the_reports_do(tmp_path):
    # Every log of tests/, reversed and in order: watch tells what the reports tell of the same
    # file, no more, no less (12 of them reversed are told).
    checked = []
    for number, log in enumerate(_logs_in_order()):
        lines = log.read_bytes().splitlines(keepends=True)
        for kind, data in (("tac", b"".join(reversed(lines))), ("in order", b"".join(lines))):
            path = tmp_path / f"{number}-{kind}"
            path.write_bytes(data)
            analysis = maillog_sasl.open_logs([path], year=2020)
            for _ in analysis:
                pass
            told = _watch_once(tmp_path / f"{number}-{kind}.state", path)
            assert _told(told) == _told(analysis.problems), (log, kind, told)
            assert len(told) == len(set(told))
            checked += _told(told)
    assert checked.count(BACKWARDS) >= 10


@pytest.mark.parametrize("joined", [False, True])
def test_watch_once_on_a_log_out_of_order_is_exit_2_its_alerts_written(cli, tmp_path, joined):
    if joined:
        log = tmp_path / "maillog"
        log.write_bytes(LIGHTMETER.read_bytes()
                        + (LIGHTMETER.parent / "mail.log.1").read_bytes())
        told = (f"{log}: its lines go back in time from 2020-01-28 16:50:01 to 2020-01-27 "
                f"06:50:01, {JOINED} (zcat -f maillog*?), so a login or message logged across "
                "two of them was read out of order; give watch a log joined oldest first "
                "(ls -rt), and a new --state (this one keeps what was read)\n")
    else:
        log = reversed_copy(SAMPLE_LOGS / "maillog-sample.log", tmp_path)
        told = (f"{log}: {BACKWARDS} (tac, journalctl -r?): watch needs the oldest line first, "
                "and a new --state (this one keeps what was read)\n")
    result = cli("watch", "--once", "--year", "2020", "--state", tmp_path / "state", log)
    assert (result.code, result.err) == (2, f"maillog-sasl watch: {told}")
    assert joined or result.out.count("\n") >= 3  # the alerts are still written
    assert cli("watch", "--once", "--state", tmp_path / "state", log).code == 0  # nothing new


def test_following_watch_tells_a_log_run_backwards_once(tmp_path):
    log = reversed_copy(SAMPLE_LOGS / "maillog-sample.log", tmp_path)
    following = Following(tmp_path / "state", [log])
    following.wait_for(22665)
    lines = reversed_copy(LIGHTMETER, tmp_path, "more").read_bytes()
    with open(log, "ab") as out:  # more of it, newest first again
        out.write(lines)
    following.wait_for(22665 + lines.count(b"\n"))
    assert following.end() == 0
    assert [note for note in following.notes if BACKWARDS in note] == [
        f"{log}: {BACKWARDS} (tac, journalctl -r?): watch needs the oldest line first, and a "
        "new --state (this one keeps what was read)"]


def test_following_watch_keeps_each_log_s_times_its_own(tmp_path):
    # Two logs followed in turns, one rotated every hour, the other's host logging an hour
    # behind (UTC beside local time): each line of the late log after the other's rotation
    # went back before the first line that rotation read, its latest time never moved (the
    # other's was later), and after ten rotations watch told it to run backwards and asked
    # for a new --state. Each log's earliest and latest time are its own, as the reports'.
    def lines(moment: _dt.datetime, host: str, pid: int) -> str:
        stamp = f"{moment:%b %e %H:%M:%S} {host} postfix/smtpd[{pid}]"
        return (f"{stamp}: connect from unknown[192.0.2.1]\n"
                f"{stamp}: disconnect from unknown[192.0.2.1] ehlo=1 quit=1 commands=2\n")

    local, late = tmp_path / "mail.log", tmp_path / "mx2.log"
    local.touch()
    late.touch()
    notes: list = []
    opened = State.open(str(tmp_path / "state"), watch.engine_format())
    try:
        run = watch.Watch(opened, [str(local), str(late)], [ListSink()], Thresholds(),
                          year=2026, complain=notes.append)
        start = _dt.datetime(2026, 3, 2)
        for hour in range(2 * BACKWARD_MOVES):
            for minute in range(0, 60, 20):
                moment = start + _dt.timedelta(hours=hour, minutes=minute)
                with open(local, "a") as out:
                    out.writelines(lines(moment + _dt.timedelta(seconds=second), "mx1", 100)
                                   for second in range(0, 600, 60))
                with open(late, "a") as out:
                    out.write(lines(moment - _dt.timedelta(minutes=55), "mx2", 200))
                run.read()
            local.rename(tmp_path / "mail.log.1")
            local.touch()
        run.read()
    finally:
        opened.close()
    assert notes == []
