"""Real logs written as they are when a syslog daemon's template changes half way, and as
journalctl writes them with `-o short-unix` and `-o short-full`.

A yearless stamp among stamps that carry their year. Debian 12's rsyslog writes RFC 3339 stamps
where Debian 11's wrote traditional ones: a mail.log rotated across the upgrade holds yearless
lines, then lines with their year (and the other way round where an admin keeps the old
format, or a program writes to the file itself: Dovecot's log_path among rsyslog's lines,
tests/test_reallogs11.py). The yearless lines took the year of the file's modification time;
copied (scp, a checkout, a backup restored) in a later year, the log seemed to run for a year
or two. Now a plain file's last line, when its own stamp names its year, is the anchor instead
(the log ends then). The tests below write real logs so and read them back from copies dated
2026 and 2027; those the tool still fails (a compressed copy, whose end is not read before its
start; yearless lines after the dated ones, the file ending with them) are marked
xfail(strict=True). (A rule built for them, a yearless stamp taking the year of the dated stamp
the Clock read just before it, or of the file's last line, was taken out before it landed: it
followed whichever line the Clock happened to read last, so one bogus dated line, or a stamp in
attacker text behind another program's tag that is read as a nested Postfix line, moved the
year of every line after it, and `--jobs 2` could read a chunk in another year than one
process. The last line's own stamp, read once before the file, is none of those.)

journalctl's other short formats (systemd's journalctl(1), `--output=`; the stamps as
src/shared/logs-show.c writes them): `short-unix`, `1518330374.000123 t postfix/smtpd[22191]:
...` (seconds since the epoch and their microseconds), and `short-full`, `Sun 2018-02-11
06:26:14 CET t postfix/smtpd[22191]: ...` (an English weekday, the date and time, the zone's
abbreviation as strftime's %Z gives it, `UTC` under --utc). Neither was read: every line was
not syslog, or (short-unix) a stamp no Clock read, each line a ten-minute slot of its own. The
tests below write real logs in both forms and compare every report with the traditional copy.
A local time of short-full's is an RFC 3339 stamp without its offset, read as a traditional
stamp is, in --tz's zone: so too any such stamp, which had no time.

As in test_reallogs.py, every expected number was counted from the lines themselves (grep,
awk), never taken from the tool's output.
"""

import calendar
import datetime as dt
import gzip
import json
import os
import re

import pytest
from dateutil import tz as dateutil_tz
from test_jobs import chunks_of
from test_reallogs import REAL, rows
from test_watch import engine_of

from maillog_sasl import analyze
from maillog_sasl.correlate import Correlator
from maillog_sasl.follow import BLOCK_SIZE
from maillog_sasl.sources import Unwrapper, end_time, file_anchor
from maillog_sasl.syslog import Clock, parse_zone, split_line, unlike_zone_name

from maillog_writer import MailLog
from support import COMPILED

UTC = dt.timezone.utc
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_TRADITIONAL = re.compile(r"(" + "|".join(MONTHS) + r") +([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):"
                          r"([0-9]{2}) ")
SENTINEL = REAL / "maillogsentinel" / "sample_sasl.log"


def _moment(match, year, zone):
    return dt.datetime(year, MONTHS.index(match[1]) + 1, int(match[2]), int(match[3]),
                       int(match[4]), int(match[5]), tzinfo=zone)


def _rewrite(text, stamp_of):
    """`text` with each traditional stamp (and its space) replaced by stamp_of(match, number),
    or kept when that gives None."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        match = _TRADITIONAL.match(line)
        stamp = stamp_of(match, number) if match else None
        if stamp is not None:
            lines[number] = f"{stamp} {line[match.end():]}"
    return "".join(lines)


def _dated_copy(path, text, when):
    """`text` written to `path`, its modification time `when` (a copy made then)."""
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _range(cli, path, *options):
    result = cli("--tz", "UTC", *options, path)
    assert (result.code, "Traceback" in result.err) == (0, False), result.err
    return result.out.split(" (UTC", 1)[0]


# -- a yearless stamp among stamps that carry their year ----------------------------------------

def _rsyslog(match, number, year):
    """The stamp rsyslog's RSYSLOG_FileFormat writes for a traditional stamp of `year` in UTC
    (microseconds: the line's number)."""
    return _moment(match, year, UTC).isoformat().replace("+00:00", f".{number:06d}+00:00")


def _upgraded(year):
    """maillogsentinel's 139 SASL failures (Sep 28 .. Oct 3) as a mail.log rotated across
    Debian 12's upgrade of rsyslog on Oct 1: traditional stamps before, RFC 3339 after."""
    return _rewrite(SENTINEL.read_text(encoding="utf-8"),
                    lambda match, number: _rsyslog(match, number, year)
                    if match[1] == "Oct" else None)


@pytest.mark.parametrize("name", [
    "upgraded.log",
    pytest.param("upgraded.log.gz", marks=pytest.mark.xfail(
        strict=True, reason="a compressed file's last line is not read before its first: its "
        "yearless stamps take the year of the file's time")),
])
def test_yearless_lines_before_dated_ones_take_the_year_of_those(cli, tmp_path, name):
    # grep -c '^Sep' is 86 (Sep 28 00:33:04 .. Sep 30), the other 53 of October; the last line
    # is `Oct  3 06:03:14`, written `2025-10-03T06:03:14.000138+00:00`. Copied in December
    # 2026, the September lines took 2026 (`2025-10-01 00:... .. 2026-09-30 ...`); the last
    # line says the log ends in 2025.
    copy = _dated_copy(tmp_path / name, _upgraded(2025), dt.datetime(2026, 12, 2, tzinfo=UTC))
    assert _range(cli, copy) == "2025-09-28 00:33:04 .. 2025-10-03 06:03:14"


@pytest.mark.parametrize("kept, year", [
    (dt.datetime(2024, 10, 3, 6, 5, tzinfo=UTC), "2024"),  # logrotate's gzip, copied later
    (None, "2025"),  # gzip -n, or a pipe's output: no time kept, the file's
    (dt.datetime(2026, 6, 3, tzinfo=UTC), "2025"),  # after the file was written: a wrong clock
])
def test_a_gzip_copy_takes_its_year_from_the_time_its_header_keeps(cli, tmp_path, kept, year):
    # maillogsentinel's yearless log (Sep 28 .. Oct 3), rotated and compressed by logrotate in
    # 2024 (its gzip keeps the log's time in the header), copied without it (scp, a download)
    # in 2026: the file's time put the lines in 2025.
    copy = tmp_path / "maillog.2.gz"
    copy.write_bytes(gzip.compress(SENTINEL.read_bytes(),
                                   mtime=int(kept.timestamp()) if kept else 0))
    when = dt.datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    os.utime(copy, (when, when))
    assert _range(cli, copy) == f"{year}-09-28 00:33:04 .. {year}-10-03 06:03:14"


def test_a_rotated_set_of_gzip_copies_is_read_in_the_years_their_headers_keep(cli, tmp_path):
    # bob's message queued on New Year's Eve in maillog.2.gz and sent in maillog.1.gz, the set
    # compressed by logrotate in January 2025 and copied in June 2026: read in 2024 and 2025
    # (the files' time put them in 2025 and 2026), in order.
    older = ("Dec 31 23:59:01 mx postfix/submission/smtpd[9]: 1A2B3C4D5E: client=c[198.51.100.9],"
             " sasl_method=PLAIN, sasl_username=bob\n"
             "Dec 31 23:59:02 mx postfix/qmgr[2]: 1A2B3C4D5E: from=<bob@corp.example>, size=225,"
             " nrcpt=1 (queue active)\n")
    newer = ("Jan  1 00:00:05 mx postfix/smtp[200]: 1A2B3C4D5E: to=<x@dest.example>, "
             "relay=mx.dest.example[203.0.113.5]:25, delay=63, delays=0/0/0/1, dsn=2.0.0, "
             "status=sent (250 2.0.0 Ok: queued as AAA)\n"
             "Jan  1 00:00:06 mx postfix/qmgr[2]: 1A2B3C4D5E: removed\n")
    copied = dt.datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    for name, text, kept in (("maillog.2.gz", older, dt.datetime(2025, 1, 1, tzinfo=UTC)),
                             ("maillog.1.gz", newer, dt.datetime(2025, 1, 8, tzinfo=UTC))):
        (tmp_path / name).write_bytes(gzip.compress(text.encode(), mtime=int(kept.timestamp())))
        os.utime(tmp_path / name, (copied, copied))
    result = cli("-r", "messages", "-f", "csv", "--tz", "UTC", "--columns",
                 "sasl_username,time,last_attempt,status",
                 tmp_path / "maillog.1.gz", tmp_path / "maillog.2.gz")
    assert (result.code, result.out.splitlines()[1:]) == (
        0, ["bob,2024-12-31T23:59:01+00:00,2025-01-01T00:00:05+00:00,sent"]), result.err


def _downgraded():
    """The same lines the other way round and across New Year (September made December,
    October January): RFC 3339 stamps of 2025 up to Dec 30, traditional ones from Jan 1."""
    text = SENTINEL.read_text(encoding="utf-8")
    text = re.sub(r"^Sep", "Dec", re.sub(r"^Oct", "Jan", text, flags=re.M), flags=re.M)
    return _rewrite(text, lambda match, number: _rsyslog(match, number, 2025)
                    if match[1] == "Dec" else None)


@pytest.mark.xfail(strict=True, reason="a yearless stamp takes the year of the file's time, "
                   "not that of the dated lines before it")
def test_yearless_lines_after_dated_ones_go_on_from_their_year(cli, tmp_path):
    # The last dated line `2025-12-30T...`, then `Jan  1 00:43:33` .. `Jan  3 06:03:14`, in the
    # year after. Copied in June 2027, they take 2027.
    copy = _dated_copy(tmp_path / "downgraded.log", _downgraded(),
                       dt.datetime(2027, 6, 1, tzinfo=UTC))
    assert _range(cli, copy) == "2025-12-28 00:33:04 .. 2026-01-03 06:03:14"


@pytest.mark.parametrize("text, when", [
    (_upgraded(2025), dt.datetime(2026, 12, 2, tzinfo=UTC)),
    (_downgraded(), dt.datetime(2027, 6, 1, tzinfo=UTC)),
    ((REAL / "mephistophiles-lognormalizer" / "parse_test.log").read_text(encoding="utf-8"),
     dt.datetime(2026, 12, 2, tzinfo=UTC)),
], ids=["upgraded", "downgraded", "mephistophiles"])
@pytest.mark.parametrize("fraction", [3, 7, 20])
def test_two_jobs_give_the_years_one_gives(cli, monkeypatch, tmp_path, text, when, fraction):
    copy = _dated_copy(tmp_path / "mixed.log", text, when)
    options = ["-r", "failures", "-f", "json", "--tz", "UTC", "--stats"]
    one = cli(*options, copy)
    assert one.code == 0, one.err
    chunks_of(copy.stat().st_size // fraction, monkeypatch)
    two = cli(*options, "--jobs", 2, copy)
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)


def test_a_year_given_stays_the_year_of_yearless_stamps():
    # --year is the admin's word: the dated lines do not move it.
    clock = Clock(year=2020, tz=UTC)
    clock.time("2024-04-30T15:09:26+00:00")
    assert clock.time("Apr 30 15:09:27") == dt.datetime(2020, 4, 30, 15, 9, 27, tzinfo=UTC)


KIM = [
    "Mar 10 10:00:00 mx postfix/submission/smtpd[7]: connect from a[198.51.100.7]",
    "Mar 10 10:00:01 mx postfix/submission/smtpd[7]: 4B3C21A0F1: client=a[198.51.100.7], "
    "sasl_method=PLAIN, sasl_username=kim",
    "Mar 10 10:00:02 mx postfix/submission/smtpd[7]: disconnect from a[198.51.100.7] "
    "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
]
WEBAPP = ("Mar 10 10:00:03 mx webapp[5]: 2001-01-01T00:00:00+00:00 mx "
          "postfix/submission/smtpd[9]: AAAAAAAAAA: client=x[192.0.2.9], sasl_method=PLAIN, "
          "sasl_username=evil")


def _kim(cli, tmp_path, lines):
    """kim's row of the sessions report of `lines`, in a file written 2026-06-01 (UTC)."""
    copy = _dated_copy(tmp_path / "maillog", "\n".join(lines) + "\n",
                       dt.datetime(2026, 6, 1, tzinfo=UTC))
    result = cli("-r", "sessions", "-f", "csv", "--tz", "UTC", copy)
    assert result.code == 0, result.err
    [kim] = [row for row in result.out.splitlines() if ",kim," in row]
    return kim


def test_a_dated_stamp_in_another_programs_text_moves_no_year(cli, tmp_path):
    # Every field can be attacker text: a web application logging what a client sent, read as
    # a nested Postfix line, must not carry the year of its stamp to the lines after it (the
    # rule taken out, above, put kim's login in 2001).
    assert ",2026-03-10T10:00:00+00:00," in _kim(cli, tmp_path, [WEBAPP.replace("10:00:03",
                                                                             "09:59:00")] + KIM)


@pytest.mark.parametrize("stamp", ["2023-11-14T22:13:20Z", "2023-11-14T22:13:20z"])
def test_an_iso_stamp_in_utc_is_in_utc_whatever_the_case_of_its_z(stamp):
    clock = Clock(tz=dateutil_tz.gettz("Europe/Berlin"))
    assert clock.time(stamp) == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_a_log_of_yearless_lines_only_keeps_the_files_time(cli, tmp_path):
    # The anchor is the file's time when no line carries a year: 2026-06-01 puts Sep 28 in
    # 2025, as before.
    copy = _dated_copy(tmp_path / "maillog", SENTINEL.read_text(encoding="utf-8"),
                       dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert _range(cli, copy) == "2025-09-28 00:33:04 .. 2025-10-03 06:03:14"


def _monthly_logins(first, count):
    """A login on the 15th of each month from the month of `first`, `count` months."""
    lines = []
    for number in range(count):
        month = first.replace(year=first.year + (first.month + number - 1) // 12,
                              month=(first.month + number - 1) % 12 + 1)
        stamp = f"{MONTHS[month.month - 1]} 15 12:00:0"
        ip = f"192.0.2.{number + 1}"
        lines += [f"{stamp}0 mx postfix/smtpd[{number + 100}]: connect from unknown[{ip}]",
                  f"{stamp}1 mx postfix/smtpd[{number + 100}]: 1A2B3C{number:04X}: client="
                  f"unknown[{ip}], sasl_method=PLAIN, sasl_username=alice@{month:%Y%m}",
                  f"{stamp}2 mx postfix/smtpd[{number + 100}]: disconnect from unknown[{ip}] "
                  "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_yearless_log_of_more_than_a_year_is_told_its_year(cli, tmp_path, jobs):
    """Logins each month from Nov 2024 to Feb 2026, the file last written on 2026-03-01: the
    year guessed from the first line (Nov 15 is before Mar 1: 2025) put every line a year
    late, up to 2027-02-15, past the file's end, and nothing said so; one New Year more than
    the guess allows, a year late (a log of a year, or a copy read a year after it ended)."""
    log = _dated_copy(tmp_path / "maillog", _monthly_logins(dt.date(2024, 11, 1), 16),
                      dt.datetime(2026, 3, 1, tzinfo=UTC))
    result = cli("--tz", "UTC", "--jobs", jobs, log)
    assert result.code == 2
    assert result.err == (
        f"maillog-sasl: {log}: its lines without a year were placed up to 2027-02-15, after "
        "the log can end (2026-03-01): it crosses New Year more often than its first line's "
        "year allows (more than a year of log?), so every time is a year late or more; give "
        "--year 2024, the year of its first line\n")
    assert _range(cli, log, "--year", "2024") == "2024-11-15 12:00:00 .. 2026-02-15 12:00:02"
    sessions = analyze([str(log)], zone=UTC, jobs=jobs, chunk_size=300)
    assert [session.sasl_username[6:] for session in sessions.sessions][::15] == [
        "202411", "202602"]
    assert [session.start.year for session in sessions.sessions][::15] == [2025, 2027]
    assert "give --year 2024" in str(sessions.problems[-1])


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_hosts_clock_days_ahead_at_new_year_is_no_year_too_many(cli, tmp_path, jobs):
    """A central syslog's log of Dec 20-31, last written at 2025-12-31 23:59, in which mx2,
    its clock two days ahead, logged a login stamped `Jan  2`: rightly in 2026, two days past
    the file's end. It was told a year late (exit 2) and given --year 2024, which would have
    put every line a year early."""
    text = _monthly_logins(dt.date(2025, 12, 1), 1).replace(" 15 ", " 20 ")
    text += _monthly_logins(dt.date(2026, 1, 1), 1).replace("Jan 15", "Jan  2").replace(
        " mx ", " mx2 ")
    log = _dated_copy(tmp_path / "maillog", text, dt.datetime(2025, 12, 31, 23, 59,
                                                               tzinfo=UTC))
    result = cli("--tz", "UTC", "--jobs", jobs, log)
    assert (result.code, result.err) == (0, "")
    assert result.out.split(" (UTC", 1)[0] == "2025-12-20 12:00:00 .. 2026-01-02 12:00:02"


def _leap_week_log(year, sprays=0):
    """Feb 28 - Mar 2 of `year` with traditional stamps: `sprays` clients that fail to log in
    (5 lines each), failed logins, then a login from the same IP whose message is delivered
    after midnight, then mail on Feb 29 (if any), Mar 1, Mar 2."""
    log = MailLog()
    for number in range(sprays):
        log.failures(f"192.0.2.{number % 250}", dt.datetime(year, 2, 28, 1, tzinfo=UTC)
                     + number * dt.timedelta(seconds=10), ["info", "admin", "test"])
    log.failures("203.0.113.66", dt.datetime(year, 2, 28, 22, tzinfo=UTC), ["alice@example.jp"] * 5)
    log.login("alice@example.jp", "203.0.113.66", dt.datetime(year, 2, 28, 23, 59, 57, tzinfo=UTC))
    for month, day in ((2, 29), (3, 1), (3, 2)):
        if day != 29 or calendar.isleap(year):
            log.login("bob@example.jp", "198.51.100.7", dt.datetime(year, month, day, 9, tzinfo=UTC))
    return "".join(f"{when:%b} {when.day:2d} {when:%H:%M:%S} {line.split(' ', 1)[1]}\n"
                   for when, _, line in sorted(log.lines))


# A yearless log of Feb 28 - Mar 2, 2024 in a copy written on 2026-12-06 (or on standard input,
# read then): Feb 28 took 2026, the year the file's time allowed, and the Feb 29 moved the year
# to 2024 only from there on. Alice's session ran from 2026-02-28 23:59:57 to 2024-02-29
# 00:00:02, the period read was `2024-02-29 .. 2026-02-28`, the failed logins before her login
# came two years after it in -r timeline, --since 2024-02-28 lost them; exit 0, no word.
COPIED = dt.datetime(2026, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_yearless_log_across_feb_29_is_read_in_its_leap_year(cli, tmp_path, monkeypatch, jobs):
    """The Feb 29 among the lines a file's first block holds (read before its lines are, to
    order a rotated set): its first line is placed so that the Feb 29 is in a leap year."""
    chunks_of(300, monkeypatch)  # --jobs 2 cuts the copy into chunks
    log = _dated_copy(tmp_path / "maillog", _leap_week_log(2024), COPIED)
    result = cli("--tz", "UTC", "--jobs", jobs, "-r", "sessions", "-f", "csv", log)
    assert (result.code, result.err) == (0, "")
    assert "2024-02-28T23:59:57+00:00,2024-02-29T00:00:02" in result.out
    assert _range(cli, log, "--jobs", jobs) == "2024-02-28 22:00:00 .. 2024-03-02 09:00:05"
    assert _range(cli, log, "--year", "2024") == "2024-02-28 22:00:00 .. 2024-03-02 09:00:05"
    # A log without Feb 29 (of 2025, or 2026: no line tells), and one that starts on it.
    assert _range(cli, _dated_copy(tmp_path / "2025", _leap_week_log(2025), COPIED)) == (
        "2026-02-28 22:00:00 .. 2026-03-02 09:00:05")
    leap = _leap_week_log(2024)
    assert _range(cli, _dated_copy(tmp_path / "29", leap[leap.index("Feb 29 "):], COPIED)) == (
        "2024-02-29 00:00:00 .. 2024-03-02 09:00:05")


def test_a_yearless_log_across_feb_29_on_standard_input_is_read_in_one_leap_year(cli):
    """Standard input's first block is read ahead as a file's is (and handed on first), for
    its Feb 29. Its lines are placed before now: the year depends on when the test runs, and
    is one leap year for every line."""
    result = cli("--tz", "UTC", "-r", "sessions", "-f", "json", "-", stdin=_leap_week_log(
        2024).encode())
    assert (result.code, result.err) == (0, ""), result.err
    starts = [dt.datetime.fromisoformat(row["start"]) for row in result.json()]
    ends = [dt.datetime.fromisoformat(row["end"]) for row in result.json()]
    assert [(when.month, when.day) for when in starts] == [(2, 28), (2, 29), (3, 1), (3, 2)]
    assert len({when.year for when in starts + ends}) == 1 and calendar.isleap(starts[0].year)
    assert starts == sorted(starts) and all(map(dt.datetime.__le__, starts, ends))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_yearless_log_split_by_a_later_feb_29_is_told(cli, tmp_path, monkeypatch, jobs):
    """The Feb 29 past the first block (a password spray on Feb 28 before it): the lines before
    it were read before it, in one pass that holds no log in memory; the report is written,
    and the admin told which --year places it (exit 2)."""
    chunks_of(3000, monkeypatch)
    log = _dated_copy(tmp_path / "maillog", _leap_week_log(2024, sprays=200), COPIED)
    result = cli("--tz", "UTC", "--jobs", jobs, "-r", "sessions", "-f", "csv", log)
    assert result.code == 2
    assert result.err == (
        f"maillog-sasl: {log}: its lines without a year before a Feb 29 were placed up to "
        "2026-02-28 (the latest year before the log's end, 2026-12-06), and those from the "
        "Feb 29 on in 2024, the leap year before: every time before it is 2 years late; give "
        "--year 2024, the year of its first line (2023 if it starts before New Year)\n")
    # Still written; alice's session, whose end was stamped 2024, ends at its start.
    assert "2026-02-28T23:59:57+00:00,2026-02-28T23:59:57+00:00,plain,alice" in result.out
    assert _range(cli, log, "--year", "2024", "--jobs", jobs) == (
        "2024-02-28 01:00:00 .. 2024-03-02 09:00:05")


def _rotated_leap_set(path, carol, cut, days):
    """maillog.1 and maillog of 2024 cut at `cut`, copied in 2026: carol's message queued at
    `carol`, delivered after midnight, bob's at 09:00 on `days` ((month, day)); and the period
    they cover."""
    log = MailLog()
    log.login("carol@example.jp", "198.51.100.20", carol)
    for month, day in days:
        log.login("bob@example.jp", "198.51.100.7", dt.datetime(2024, month, day, 9, tzinfo=UTC))
    lines = sorted(log.lines)
    for name, part in (("maillog.1", [item for item in lines if item[0] < cut]),
                       ("maillog", [item for item in lines if item[0] >= cut])):
        _dated_copy(path / name, "".join(
            f"{when:%b} {when.day:2d} {when:%H:%M:%S} {line.split(' ', 1)[1]}\n"
            for when, _, line in part), COPIED)
    return f"{lines[0][0]:%Y-%m-%d %H:%M:%S} .. {lines[-1][0]:%Y-%m-%d %H:%M:%S}"


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("year", [[], ["--year", "2024"]])
@pytest.mark.parametrize("carol, cut, days", [
    # maillog of Feb 28 - 29, its Feb 29 in its first block after its first line
    (dt.datetime(2024, 2, 27, 23, 59, 57, tzinfo=UTC), dt.datetime(2024, 2, 28, tzinfo=UTC),
     [(2, 28), (2, 29)]),
    # maillog.1 ends on Feb 28, maillog starts on the Feb 29
    (dt.datetime(2024, 2, 28, 23, 59, 57, tzinfo=UTC), dt.datetime(2024, 2, 29, tzinfo=UTC),
     [(2, 28), (2, 29), (3, 1)]),
    # maillog.1 of Feb 28 - 29, maillog starts on Mar 1
    (dt.datetime(2024, 2, 29, 23, 59, 57, tzinfo=UTC), dt.datetime(2024, 3, 1, tzinfo=UTC),
     [(2, 28), (2, 29), (3, 1)]),
], ids=["feb-29-in-maillog", "maillog-starts-on-feb-29", "maillog-starts-on-mar-1"])
def test_a_rotated_set_across_a_feb_29_is_read_in_its_leap_year(
        cli, tmp_path, monkeypatch, jobs, year, carol, cut, days):
    """A rotated set is one log: the Feb 29 of one file, which moves the year guessed from the
    copy's time (2026) back to 2024, moves its other files' too, and they are ordered so. Each
    file was read in its own year, without a word: a maillog that starts on the Feb 29 in 2024
    and first, before maillog.1 in 2026 (carol's message queued in it 'deferred', no
    recipient, even under --year 2024: the order of the files ignored it); one that starts on
    Mar 1 in 2026, after maillog.1 in 2024 (the period '2024-02-28 .. 2026-03-01')."""
    chunks_of(300, monkeypatch)
    span = _rotated_leap_set(tmp_path, carol, cut, days)
    paths = [tmp_path / "maillog", tmp_path / "maillog.1"]
    result = cli("--tz", "UTC", *year, "--jobs", jobs, "-r", "messages", "-f", "csv",
                 "--columns", "time,sasl_username,recipient,status", *paths)
    assert (result.code, result.err) == (0, "")
    rows = result.out.splitlines()[1:]
    assert f"{carol:%Y-%m-%dT%H:%M}:58+00:00,carol@example.jp,r1@sent.example.net,sent" in rows
    assert rows == sorted(rows)
    assert _range(cli, paths[1], *year, "--jobs", jobs, paths[0]) == span


def test_a_set_named_in_two_spellings_is_one_set(cli, tmp_path, monkeypatch):
    """`maillog ./maillog.1` names one rotated set: the Feb 29 that moves maillog back to 2024
    moves ./maillog.1 too (it stayed in 2026, carol's message read as deferred)."""
    carol = dt.datetime(2024, 2, 28, 23, 59, 57, tzinfo=UTC)
    _rotated_leap_set(tmp_path, carol, dt.datetime(2024, 2, 29, tzinfo=UTC),
                      [(2, 28), (2, 29), (3, 1)])
    monkeypatch.chdir(tmp_path)
    result = cli("--tz", "UTC", "-r", "messages", "-f", "csv", "--columns",
                 "time,sasl_username,status", "maillog", "./maillog.1")
    assert result.code == 0, result.err
    assert f"{carol:%Y-%m-%dT%H:%M}:58+00:00,carol@example.jp,sent" in result.out.splitlines()


def test_a_live_log_beside_an_old_set_across_a_feb_29_keeps_its_year(cli, tmp_path):
    """The Feb 29 that moves a copied set back to 2024 moves its own files, not a log of
    another name given beside it (the live log, written this year): dave's login of Nov 30
    stays in 2026, as without the copies."""
    _rotated_leap_set(tmp_path, dt.datetime(2024, 2, 28, 23, 59, 57, tzinfo=UTC),
                      dt.datetime(2024, 2, 29, tzinfo=UTC), [(2, 28), (2, 29), (3, 1)])
    live = MailLog()
    live.login("dave@example.jp", "192.0.2.44", dt.datetime(2026, 11, 30, 9, tzinfo=UTC))
    _dated_copy(tmp_path / "current.log", "".join(
        f"{when:%b} {when.day:2d} {when:%H:%M:%S} {line.split(' ', 1)[1]}\n"
        for when, _, line in sorted(live.lines)), COPIED)
    result = cli("--tz", "UTC", "-r", "users", "-f", "csv", "--columns", "user,first_seen",
                 tmp_path / "current.log", tmp_path / "maillog", tmp_path / "maillog.1")
    assert result.code == 0, result.err
    assert sorted(result.out.splitlines()[1:]) == [
        "bob@example.jp,2024-02-28T09:00:00+00:00", "carol@example.jp,2024-02-28T23:59:57+00:00",
        "dave@example.jp,2026-11-30T09:00:00+00:00"]


def test_watch_reads_a_yearless_log_across_feb_29_in_its_leap_year(cli, tmp_path):
    """watch's first read of a copy of 2024's log written in 2026 placed Feb 28 in 2026 and
    from the Feb 29 on in 2024, exit 1, nothing on stderr: alice's 'guessed' alert 'at
    2026-02-28T23:59', bob's logins from 2024-02-29, the newest line read 2026-02-28. The Feb
    29 among the first lines it reads of a log places them as the reports' first block does;
    one further on is told, as the reports tell it (exit 2), and --year places the log."""
    log = _dated_copy(tmp_path / "maillog", _leap_week_log(2024), COPIED)
    result = cli("watch", "--once", "--state", tmp_path / "state", "--tz", "UTC", log)
    assert (result.code, result.err) == (1, "")
    assert "from 203.0.113.66 at 2024-02-28T23:59+00:00 after 5 failed AUTH" in result.out
    stats = engine_of(tmp_path / "state").correlator.stats
    assert (stats.first_time, stats.last_time) == (
        dt.datetime(2024, 2, 28, 22, tzinfo=UTC), dt.datetime(2024, 3, 2, 9, 0, 5, tzinfo=UTC))
    log = _dated_copy(tmp_path / "sprayed", _leap_week_log(2024, sprays=200), COPIED)
    assert log.stat().st_size > BLOCK_SIZE  # the Feb 29 past watch's first read
    result = cli("watch", "--once", "--state", tmp_path / "sprayed.state", "--tz", "UTC", log)
    assert (result.code, result.err) == (2, (
        f"maillog-sasl watch: {log}: its lines without a year before a Feb 29 were placed up to "
        "2026-02-28 (the latest year before the log's end, 2026-12-06), and those from the "
        "Feb 29 on in 2024, the leap year before: every time before it is 2 years late; give "
        "--year 2024, the year of its first line (2023 if it starts before New Year), to a new "
        "--state (this one keeps the times read)\n"))
    result = cli("watch", "--once", "--state", tmp_path / "year.state", "--tz", "UTC",
                 "--year", "2024", log)
    assert (result.code, result.err) == (1, "")
    stats = engine_of(tmp_path / "year.state").correlator.stats
    assert (stats.first_time, stats.last_time) == (
        dt.datetime(2024, 2, 28, 1, tzinfo=UTC), dt.datetime(2024, 3, 2, 9, 0, 5, tzinfo=UTC))


@pytest.mark.parametrize("dated", ["%Y-%m-%dT%H:%M:%S", "%Y %b %d %H:%M:%S"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_dated_lines_of_the_year_after_yearless_ones_are_no_feb_29(cli, tmp_path, jobs, dated):
    """Yearless lines up to New Year's Eve, then lines that carry their year (a template
    changed at New Year: a local time without offset, or the year first): their year is later
    than the yearless lines', and no Feb 29 is in the log. Was exit 2 and 'its lines without a
    year before a Feb 29 were placed up to 2026-01-01 ... give --year 2024'."""
    log = MailLog()
    log.login("alice@example.jp", "203.0.113.66", dt.datetime(2025, 12, 31, 23, 50, tzinfo=UTC))
    log.login("bob@example.jp", "198.51.100.7", dt.datetime(2026, 1, 1, 0, 10, tzinfo=UTC))
    text = "".join(
        f"{when:{dated}} {line.split(' ', 1)[1]}\n" if when.year == 2026
        else f"{when:%b} {when.day:2d} {when:%H:%M:%S} {line.split(' ', 1)[1]}\n"
        for when, _, line in sorted(log.lines))
    copy = _dated_copy(tmp_path / "maillog", text, COPIED)
    result = cli("--tz", "UTC", "--jobs", jobs, copy)
    assert (result.code, result.err) == (0, "")
    assert result.out.split(" (UTC", 1)[0] == "2025-12-31 23:50:00 .. 2026-01-01 00:10:05"


@pytest.mark.parametrize("runtime", [
    "2024-10-03T06:03:14.123456789Z ",  # docker logs -t, kubectl logs --timestamps
    "mailserver  | 2024-10-03T06:03:14.123456789Z ",  # docker compose logs -t
    "[pod/mail-0/postfix] 2024-10-03T06:03:14.123456789Z ",  # kubectl logs --prefix --timestamps
    "mailserver  | ",  # docker compose logs: no year but the file's time
    ""])
def test_an_export_of_docker_logs_t_takes_its_year_from_the_runtimes_stamps(cli, tmp_path,
                                                                            runtime):
    # `docker logs -t mail > export.log`, copied in 2026: the runtime's stamp before each
    # line (the time of the sentinel's last line, in 2024) dates the yearless lines behind
    # it, where the file's time put Sep 28 in 2025. Without one, the file's time.
    text = "".join(runtime + line for line in
                   SENTINEL.read_text(encoding="utf-8").splitlines(keepends=True))
    copy = _dated_copy(tmp_path / "export.log", text, dt.datetime(2026, 6, 1, tzinfo=UTC))
    year = "2024" if "2024" in runtime else "2025"
    assert _range(cli, copy) == f"{year}-09-28 00:33:04 .. {year}-10-03 06:03:14"


@pytest.mark.parametrize("wrap", [
    # Kubernetes' CRI file (/var/log/containers), a line split by the runtime among them
    lambda stamp, line: (f"{stamp} stdout P {line[:20]}\n{stamp} stdout F {line[20:]}\n"
                         if "sasl_username" in line else f"{stamp} stdout F {line}\n"),
    # Docker's json-file log (/var/lib/docker/containers/ID/ID-json.log)
    lambda stamp, line: json.dumps({"log": line + "\n", "stream": "stdout",
                                    "time": stamp}) + "\n"], ids=["cri", "json-file"])
def test_a_container_log_file_takes_its_year_from_the_runtimes_stamps(cli, tmp_path, wrap):
    # As a `docker logs -t` export: a container's log file copied off its node in 2026, the
    # runtime's 2024 stamps around the yearless lines Postfix wrote. The file's time put them
    # in 2025.
    stamp = "2024-10-03T06:03:14.123456789Z"
    text = "".join(wrap(stamp, line) for line in
                   SENTINEL.read_text(encoding="utf-8").splitlines())
    copy = _dated_copy(tmp_path / "container.log", text, dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert _range(cli, copy) == "2024-09-28 00:33:04 .. 2024-10-03 06:03:14"


def test_a_dated_stamp_in_another_programs_text_on_the_last_line_moves_no_year(cli, tmp_path):
    # The last line's own stamp places the yearless ones, never one in its text: the web
    # application's line last, kim's login stays in the year of the file's time.
    assert ",2026-03-10T10:00:00+00:00," in _kim(cli, tmp_path, KIM + [WEBAPP])


OCT_3 = "2025-10-03T06:03:14.000138+00:00 mx postfix/qmgr[9]: 4B3C21A0F1: removed\n"
BEFORE = "2025-10-03T06:03:13.000137+00:00 mx postfix/qmgr[9]: 4B3C21A0F1: from=<k@a.example>\n"
END = dt.datetime(2025, 10, 3, 6, 3, 14, 138, tzinfo=UTC)
WRITTEN = dt.datetime(2026, 12, 2, tzinfo=UTC)


@pytest.mark.parametrize("tail, whole, written, want", [
    # The last whole line names its year, and the dated line before it agrees: the log ends.
    (OCT_3 + BEFORE + OCT_3, False, WRITTEN, END),
    ("Oct  3 06:03:12 mx postfix/smtpd[9]: connect from a[192.0.2.1]\n" + BEFORE + OCT_3, True,
     WRITTEN, END),
    # A line still being written (no line end yet) is not the last one.
    (BEFORE + OCT_3 + "2027-01-01T00:00:00+00:00 mx postfix/smt", True, WRITTEN, END),
    # Nor is the end of one the read cut (the tail of a larger file) the dated line before...
    (BEFORE + OCT_3, False, WRITTEN, None),
    # ... but the file's first line, when the tail is all of it.
    (BEFORE + OCT_3, True, WRITTEN, END),
    # Lines with no stamp are passed over; so are yearless ones between two dated.
    (BEFORE + "Oct  3 06:03:14 mx dovecot: lmtp(k): saved\n" + OCT_3 + "garbage\n\x00\x00\n",
     True, WRITTEN, END),
    # A last line without its year says nothing (the yearless lines may run on past the
    # dated ones); nor does a dated one alone, after yearless lines (one host's wrong clock,
    # one datagram to a central syslog server).
    (BEFORE + OCT_3 + "Jan  1 00:43:33 mx postfix/smtpd[9]: connect from a[192.0.2.1]\n", True,
     WRITTEN, None),
    ("Mar 10 10:00:02 mx postfix/smtpd[7]: disconnect from a[198.51.100.7]\n"
     "1970-01-01T00:00:05+00:00 cam01 kernel: clock reset\n", True, WRITTEN, None),
    # Nor a last line earlier than the dated one before it by more than an hour (a clock set
    # back), nor one after the file was last written (by more than a day).
    (OCT_3 + "1970-01-01T00:00:05+00:00 cam01 kernel: clock reset\n", True, WRITTEN, None),
    (BEFORE + OCT_3, True, dt.datetime(2025, 10, 1, tzinfo=UTC), None),
    # Lines of several hosts a little out of order, the file written just after: its end.
    (BEFORE.replace("06:03:13", "06:40:00") + OCT_3, True, END, END),
    ("", True, WRITTEN, None),
    ("\xff\xfe no line at all", True, WRITTEN, None),
])
def test_the_end_of_a_file_is_its_last_lines_time_when_that_names_its_year(tail, whole,
                                                                            written, want):
    assert end_time(tail.encode("utf-8", "surrogateescape"), whole, UTC, written) == want


def test_one_bogus_last_line_moves_no_year(cli, tmp_path):
    # kim's login of Mar 10, then a camera's kernel line with its clock reset, in the file of
    # a central syslog server: kim stays in the year of the file's time.
    for last in ("1970-01-01T00:00:05+00:00 cam01 kernel: clock reset",
                 "2031-06-01T00:00:00+00:00 cam01 kernel: clock ahead"):
        assert ",2026-03-10T10:00:00+00:00," in _kim(cli, tmp_path, KIM + [last])


@pytest.mark.parametrize("year", [(), ("--year", "2025")])
def test_a_rotated_set_copied_together_is_read_in_its_order_and_years(cli, tmp_path, year):
    # maillog.1 all yearless (before the upgrade), maillog the upgraded log: one message queued
    # in the first and sent in the second. Copied in December 2026, both files keep their
    # order and one year; the first has no dated end, so neither is anchored on its lines.
    rotated = tmp_path / "rot"
    rotated.mkdir()
    old = [
        "Sep 27 23:59:50 mx postfix/submission/smtpd[9]: connect from c[198.51.100.9]",
        "Sep 27 23:59:51 mx postfix/submission/smtpd[9]: 6C3C21A0F3: client=c[198.51.100.9], "
        "sasl_method=PLAIN, sasl_username=span",
        "Sep 27 23:59:52 mx postfix/qmgr[2]: 6C3C21A0F3: from=<span@corp.example>, size=225, "
        "nrcpt=1 (queue active)",
        "Sep 27 23:59:53 mx postfix/submission/smtpd[9]: disconnect from c[198.51.100.9] "
        "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
    ]
    new = ("Sep 28 00:00:01 mx postfix/smtp[4]: 6C3C21A0F3: to=<x@dest.example>, "
           "relay=mx.dest.example[203.0.113.5]:25, delay=9, delays=0.05/0/0/0.09, dsn=2.0.0, "
           "status=sent (250 2.0.0 Ok: queued as ABC)\n"
           "Sep 28 00:00:02 mx postfix/qmgr[2]: 6C3C21A0F3: removed\n" + _upgraded(2025))
    when = dt.datetime(2026, 12, 2, tzinfo=UTC)
    first = _dated_copy(rotated / "maillog.1", "\n".join(old) + "\n", when)
    second = _dated_copy(rotated / "maillog", new, when)
    result = cli("-r", "messages", "-f", "csv", "--tz", "UTC", "--columns",
                 "sasl_username,time,last_attempt,recipient,status", *year, second, first)
    assert result.code == 0, result.err
    span = [row for row in result.out.splitlines() if row.startswith("span,")]
    # Queued in the first file, sent in the second, one year for both: the year given, or
    # (as before) the files' time's.
    queued = "2025" if year else "2026"
    assert span == [f"span,{queued}-09-27T23:59:51+00:00,{queued}-09-28T00:00:01+00:00,"
                    "x@dest.example,sent"]


@pytest.mark.parametrize("empty", [False, True])
def test_a_rotated_set_with_dated_ends_is_read_in_the_order_of_those(cli, tmp_path, empty):
    # Copied on December 4, 2026: placed by that day, maillog.1's Nov 20 was 2026-11-20 and
    # maillog's Dec 10 2025-12-10, so maillog was read first and bob's messages, queued in
    # maillog.1 and sent in maillog, were lost. Each file's dated end places its first line;
    # an empty file (just rotated, nothing written yet) has no line to place.
    rotated = tmp_path / "rot"
    rotated.mkdir()
    older = [
        "Nov 20 10:00:00 mx postfix/qmgr[2]: 0F0F0F0F0F: removed",
        "Dec  9 23:59:00 mx postfix/submission/smtpd[9]: connect from c[198.51.100.9]",
        "Dec  9 23:59:01 mx postfix/submission/smtpd[9]: 1A2B3C4D5E: client=c[198.51.100.9], "
        "sasl_method=PLAIN, sasl_username=bob",
        "Dec  9 23:59:02 mx postfix/qmgr[2]: 1A2B3C4D5E: from=<bob@corp.example>, size=225, "
        "nrcpt=1 (queue active)",
        "Dec  9 23:59:03 mx postfix/submission/smtpd[9]: disconnect from c[198.51.100.9] "
        "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
        "2025-12-09T23:59:30+00:00 mx dovecot: imap-login: Login: user=<bob@corp.example>",
        "2025-12-09T23:59:40+00:00 mx dovecot: imap(bob@corp.example): Disconnected",
    ]
    newer = [
        "Dec 10 00:00:05 mx postfix/smtp[200]: 1A2B3C4D5E: to=<x@dest.example>, "
        "relay=mx.dest.example[203.0.113.5]:25, delay=63, delays=0/0/0/1, dsn=2.0.0, "
        "status=sent (250 2.0.0 Ok: queued as AAA)",
        "Dec 10 00:00:06 mx postfix/qmgr[2]: 1A2B3C4D5E: removed",
        "2025-12-10T00:01:00+00:00 mx dovecot: imap-login: Login: user=<bob@corp.example>",
        "2025-12-10T00:02:00+00:00 mx dovecot: imap(bob@corp.example): Disconnected",
    ]
    when = dt.datetime(2026, 12, 4, 12, tzinfo=UTC)
    paths = [_dated_copy(rotated / "maillog", "\n".join(newer) + "\n", when),
             _dated_copy(rotated / "maillog.1", "\n".join(older) + "\n", when)]
    if empty:
        paths.append(_dated_copy(rotated / "maillog.0", "", when))
    result = cli("-r", "messages", "-f", "csv", "--tz", "UTC", "--stats", "--columns",
                 "queue_id,time,last_attempt,status", *paths)
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "1A2B3C4D5E,2025-12-09T23:59:01+00:00,2025-12-10T00:00:05+00:00,sent"]
    read = next(line for line in result.err.splitlines() if line.startswith("files, in"))
    assert read.split(": ", 1)[1].startswith(f"{paths[1]}, {paths[0]}")


def test_the_day_of_a_files_time_is_the_day_in_the_logs_zone(cli, tmp_path):
    # A log of Berlin's time written until 00:31 on March 1 (23:31 UTC on Feb 29): its
    # yearless `Mar  1` lines are of that year, whatever zone the machine is in.
    lines = [
        "Mar  1 00:10:00 mail postfix/submission/smtpd[7]: connect from a[198.51.100.7]",
        "Mar  1 00:10:01 mail postfix/submission/smtpd[7]: 4B3C21A0F1: client=a[198.51.100.7], "
        "sasl_method=PLAIN, sasl_username=kim",
        "Mar  1 00:10:02 mail postfix/submission/smtpd[7]: disconnect from a[198.51.100.7] "
        "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
    ]
    copy = _dated_copy(tmp_path / "maillog", "\n".join(lines) + "\n",
                       dt.datetime(2024, 2, 29, 23, 31, tzinfo=UTC))
    result = cli("-r", "sessions", "-f", "csv", "--columns", "sasl_username,start",
                 "--tz", "Europe/Berlin", copy)
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == ["kim,2024-03-01T00:10:00+01:00"]


def test_watch_places_yearless_lines_as_the_command_does(cli, tmp_path):
    upgraded = _dated_copy(tmp_path / "upgraded.log", _upgraded(2025),
                           dt.datetime(2026, 12, 2, tzinfo=UTC))
    state = tmp_path / "state.sqlite"
    result = cli("watch", "--once", "--state", state, "--tz", "UTC", upgraded)
    assert result.code in (0, 1), result.err
    stats = engine_of(state).correlator.stats
    assert (stats.first_time, stats.last_time) == (
        dt.datetime(2025, 9, 28, 0, 33, 4, tzinfo=UTC),
        dt.datetime(2025, 10, 3, 6, 3, 14, 138, tzinfo=UTC))
    for name, text in (("downgraded.log", _downgraded()), ("upgraded.log.gz", _upgraded(2025))):
        copy = _dated_copy(tmp_path / name, text, dt.datetime(2027, 6, 1, tzinfo=UTC))
        assert file_anchor(str(copy), UTC) == dt.datetime(2027, 6, 1, tzinfo=UTC)
    assert file_anchor(str(tmp_path / "gone"), UTC) is None


# -- journalctl -o short-unix and -o short-full -------------------------------------------------

def _blockbadip():
    # blockbadip's mail.log: 22,210 lines of February 2018 (cut -c1-3 | sort -u), the logins
    # of one user and the failed AUTH of many clients, on host `t`.
    with gzip.open(REAL / "blockbadip" / "mail.log.gz", "rt") as handle:
        return handle.read()


def _short_unix(text, year):
    """`text` as `journalctl -o short-unix` writes it, its traditional stamps read in UTC
    (microseconds: the line's number, so that they grow as the lines go)."""
    return _rewrite(text, lambda match, number:
                    f"{int(_moment(match, year, UTC).timestamp()):10d}.{number:06d}")


def _short_full(text, year, zone):
    """`text` as `journalctl -o short-full` writes it in `zone` (`--utc`: UTC)."""
    def stamp(match, number):
        moment = _moment(match, year, zone)
        return moment.strftime("%a %Y-%m-%d %H:%M:%S ") + ("UTC" if zone is UTC
                                                           else moment.tzname())
    return _rewrite(text, stamp)


_FRACTION = re.compile(r"\.[0-9]{6}(?=\+00:00)")


def _alike(cli, monkeypatch, tmp_path, text, copy, zone, reports, fractions=False):
    """The reports (and --stats) of `copy` with one and two jobs are those of `text`, its
    traditional original, with `--tz zone`; `fractions`: the copy's times have microseconds,
    the original's none (dropped from the copy's before comparing)."""
    original = tmp_path / "traditional.log"
    original.write_text(text, encoding="utf-8")
    written = tmp_path / "journal.log"
    written.write_text(copy, encoding="utf-8")
    assert written.read_bytes() != original.read_bytes()
    chunks_of(written.stat().st_size // 20, monkeypatch)
    for name in reports:
        options = ["-r", name, "-f", "json", "--tz", zone, "--year", 2018, "--stats"]
        if name == "sessions":
            options.append("--all")
        want = cli(*options, original)
        assert want.code == 0 and want.out != "[]\n", want.err
        for jobs in (1, 2):
            got = cli(*options, "--jobs", jobs, written)
            out = _FRACTION.sub("", got.out) if fractions else got.out
            assert (got.code, out) == (want.code, want.out), (name, jobs)
            assert (got.err.replace(str(written), "LOG")
                    == want.err.replace(str(original), "LOG")), (name, jobs)


REPORTS = ["users", "sessions", "messages", "failures"]


def test_short_unix_reads_as_the_traditional_log(cli, monkeypatch, tmp_path):
    # Before: not one time (`1518330374.000000` is no stamp a Clock reads).
    text = _blockbadip()
    _alike(cli, monkeypatch, tmp_path, text, _short_unix(text, 2018), "UTC", REPORTS,
           fractions=True)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC"])
def test_short_full_reads_as_the_traditional_log(cli, monkeypatch, tmp_path, zone):
    # Before: no syslog line at all (`not a syslog file`).
    text = _blockbadip()
    written = _short_full(text, 2018, UTC if zone == "UTC" else dateutil_tz.gettz(zone))
    _alike(cli, monkeypatch, tmp_path, text, written, zone, REPORTS)


def _slot_changes(cli, monkeypatch, path, zone):
    """How many times the correlator saw a host enter another ten-minute slot."""
    seen = []
    original = Correlator.slot_changed

    def counted(self, host, when):
        seen.append(when)
        original(self, host, when)

    monkeypatch.setattr(Correlator, "slot_changed", counted)
    result = cli("--tz", zone, "--year", 2018, path)
    monkeypatch.setattr(Correlator, "slot_changed", original)
    assert result.code == 0, result.err
    return len(seen)


@pytest.mark.skipif(COMPILED, reason="counts calls of a method, which a compiled class "
                    "(setup.py) does not let a test replace; the pure-Python suite runs it")
def test_the_ten_minute_slots_are_those_of_the_traditional_log(cli, monkeypatch, tmp_path):
    # Each format's stamp keeps the minutes where the correlator cuts its slot: not a slot a
    # line (an epoch stamp's first 15 characters change every 100 microseconds), nor one for
    # the month (`Sun 2018-02-11 06:26:14`'s first 11).
    text = _blockbadip()
    paths = {}
    for name, written, zone in (
            ("traditional", text, "UTC"),
            ("short-unix", _short_unix(text, 2018), "UTC"),
            ("short-full", _short_full(text, 2018, dateutil_tz.gettz("Europe/Berlin")),
             "Europe/Berlin")):
        paths[name] = (tmp_path / f"{name}.log", zone)
        paths[name][0].write_text(written, encoding="utf-8")
    counts = {name: _slot_changes(cli, monkeypatch, path, zone)
              for name, (path, zone) in paths.items()}
    assert counts["traditional"] > 100
    assert counts["short-unix"] == counts["short-full"] == counts["traditional"]


def test_a_short_full_log_read_in_another_zone_than_its_stamps_name_is_told(cli, tmp_path):
    # The journal exported on a mail host in Berlin, read on a machine in UTC: every time read
    # an hour late (CET) or two (CEST), with no word of it before. The zone the stamps name,
    # not the one their times are read in, is told once, for the set; the times stay the admin's
    # --tz's.
    text = _blockbadip()
    for name in ("mail.log.1", "mail.log"):
        (tmp_path / name).write_text(_short_full(text, 2018, dateutil_tz.gettz("Europe/Berlin")),
                                     encoding="utf-8")
        text = text.replace("Feb ", "Mar ")
    paths = [tmp_path / "mail.log.1", tmp_path / "mail.log"]
    told = cli("--tz", "UTC", *paths)
    assert told.code == 0, told.err
    assert told.err.splitlines()[0] == (
        f"maillog-sasl: {paths[0]}: its stamps name the zone CET (and 1 more input), but their "
        "times are read in UTC (--tz, else this machine's zone), so they may be off by the "
        "difference: give --tz the log's own zone by its IANA name (Europe/Paris, Asia/Tokyo)")
    for zone in ("Europe/Berlin", "Africa/Algiers", "+01:00"):  # CET there, or no name to say
        quiet = cli("--tz", zone, *paths)
        assert (quiet.code, quiet.err) == (0, ""), zone


def test_watch_tells_a_short_full_log_read_in_another_zone_once(cli, tmp_path):
    log = tmp_path / "mail.log"
    log.write_text(_short_full(_blockbadip()[:200_000], 2018, dateutil_tz.gettz("Europe/Berlin")),
                   encoding="utf-8")
    state = tmp_path / "state"
    first = cli("watch", "--once", "--state", state, "--tz", "UTC", log)
    assert first.err.splitlines() == [
        f"maillog-sasl watch: {log}: its stamps name the zone CET, but their times are read in "
        "UTC (--tz, else this machine's zone), so they may be off by the difference: give --tz "
        "the log's own zone by its IANA name (Europe/Paris, Asia/Tokyo)"], first.err
    with log.open("a", encoding="utf-8") as handle:
        handle.write("Sun 2018-03-18 10:00:00 CET t postfix/anvil[1]: statistics: x\n")
    assert cli("watch", "--once", "--state", state, "--tz", "UTC", log).err == ""
    quiet = cli("watch", "--once", "--state", tmp_path / "other", "--tz", "Europe/Berlin", log)
    assert quiet.err == ""


@pytest.mark.parametrize("stamp, zone, told", [
    ("2023-11-14T22:13:20CET", "UTC", ("CET", "UTC")),
    ("2023-11-14T22:13:20CEST", "Europe/Berlin", ("CEST", "CET")),  # not in November
    ("2023-07-14T22:13:20CET", "Europe/Berlin", ("CET", "CEST")),  # Algiers' all year
    ("2023-10-29T02:30:00CET", "Europe/Berlin", None),  # the hour shown twice: either name
    ("2023-10-29T02:30:00CEST", "Europe/Berlin", None),
    ("2023-11-14T22:13:20JST", "+09:00", None),  # a fixed offset names no zone
    ("2023-11-14T22:13:20", "UTC", None),  # a system without a zone's name writes none
    ("2023-11-14T22:13:20+01:00", "UTC", None),
    ("2023-11-14T22:13:20Z", "Europe/Berlin", None),  # RFC 3339's UTC
    ("9999-12-31T23:59:59z", "Europe/Berlin", None),
    ("2023-11-14T22:13:20cet", "Europe/Berlin", None),  # a name in another case is the same
    ("2023-11-14T22:13:20cet", "UTC", ("cet", "UTC")),
])
def test_the_zone_a_stamp_names_against_the_one_it_is_read_in(stamp, zone, told):
    assert unlike_zone_name(stamp, parse_zone(zone)) == told


JOURNAL_LINES = [
    # journalctl -u 'postfix*' -o short-unix (and -o short-full, --utc) on a host `mx1`.
    "-- Boot 2c1d5e5f0a4f4bb1a1f2b7c3d9e8f701 --",
    "1700000000.123456 mx1 postfix/submission/smtpd[4211]: connect from "
    "unknown[203.0.113.9]",
    "1700000001.004211 mx1 postfix/submission/smtpd[4211]: 3SYKm63xyzz1: "
    "client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=kim@example.org",
    "Tue 2023-11-14 22:13:22 UTC mx1 postfix/cleanup[4215]: 3SYKm63xyzz1: "
    "message-id=<20231114221321.3SYKm63xyzz1@example.org>",
]


def test_a_short_unix_stamp_is_written_as_its_moment_in_utc():
    # 1700000000 is 2023-11-14T22:13:20Z (date -u -d @1700000000).
    lines = Unwrapper().lines(JOURNAL_LINES[:3])
    assert lines == [
        JOURNAL_LINES[0],
        "2023-11-14T22:13:20.123456+00:00" + JOURNAL_LINES[1][17:],
        "2023-11-14T22:13:21.004211+00:00" + JOURNAL_LINES[2][17:]]
    assert split_line(lines[2])[:3] == ("2023-11-14T22:13:21.004211+00:00", "mx1",
                                        "postfix/submission/smtpd[4211]:")


def test_a_short_unix_login_is_a_login(cli, tmp_path):
    log = tmp_path / "journal.log"
    log.write_text("\n".join(JOURNAL_LINES[:3]) + "\n", encoding="utf-8")
    [user] = rows(cli, "users", log, year=2026)
    assert (user["user"], user["ips"], user["first_seen"], user["last_seen"]) == (
        "kim@example.org", 1, "2023-11-14T22:13:20.123456+00:00",
        "2023-11-14T22:13:21.004211+00:00")


SHORT_FULL = [
    ("Tue 2023-11-14 22:13:20 UTC mx1 postfix/smtpd[1]: x", "2023-11-14T22:13:20+00:00"),
    ("Tue 2023-11-14 22:13:20 GMT mx1 postfix/smtpd[1]: x", "2023-11-14T22:13:20+00:00"),
    ("Tue 2023-11-14 23:13:20 CET mx1 postfix/smtpd[1]: x", "2023-11-14T23:13:20CET"),
    ("Wed 2023-11-15 01:13:20 +03 mx1 postfix/smtpd[1]: x", "2023-11-15T01:13:20+03:00"),
    ("Wed 2023-11-15 03:58:20 +0545 mx1 postfix/smtpd[1]: x", "2023-11-15T03:58:20+05:45"),
    ("Tue 2023-11-14 18:43:20 -0330 mx1 postfix/smtpd[1]: x", "2023-11-14T18:43:20-03:30"),
    # A system without a zone's name: none is written.
    ("Tue 2023-11-14 22:13:20 mx1 postfix/smtpd[1]: x", "2023-11-14T22:13:20"),
]


@pytest.mark.parametrize("line, stamp", SHORT_FULL)
def test_split_line_reads_short_full(line, stamp):
    assert split_line(line) == (stamp, "mx1", "postfix/smtpd[1]:", "x")


@pytest.mark.parametrize("line", [line for line, _ in SHORT_FULL]
                         + Unwrapper().lines(JOURNAL_LINES[1:3]))
def test_a_line_made_of_the_parts_read_is_read_as_they_are(line):
    # parallel.py hands a line back to this process as `{stamp} {host} {tag} {text}`.
    parts = split_line(line)
    assert split_line(" ".join(parts)) == parts


def test_a_short_full_line_without_a_zone_keeps_its_text():
    # `warning:` ends in a colon as a tag does: the host is the word before the tag.
    assert split_line("Tue 2023-11-14 22:13:20 mx1 postfix/smtpd[1]: warning: a  b") == (
        "2023-11-14T22:13:20", "mx1", "postfix/smtpd[1]:", "warning: a  b")


@pytest.mark.parametrize("line", [
    "Tue 2023-11-14 22:13:20 UTC mx1 postfix/smtpd[1] x",  # no tag
    "Tue 2023-11-14T22:13:20 UTC mx1 postfix/smtpd[1]: x",
    "Tue 2023-11-14 22:13 UTC mx1 postfix/smtpd[1]: x",
    "Tue 2023-11-\u0661\u0664 22:13:20 UTC mx1 postfix/smtpd[1]: x",  # not ASCII digits
    "Tuesday 2023-11-14 22:13:20 UTC mx1 postfix/smtpd[1]: x",
    "Xyz 2023-11-14 22:13:20 UTC mx1 postfix/smtpd[1]: x",
])
def test_what_is_not_short_full_is_no_syslog_line(line):
    assert split_line(line) is None


def test_a_short_full_stamp_that_names_no_day_has_no_time():
    clock = Clock(tz=UTC)
    assert clock.time(split_line("Tue 2023-02-30 22:13:20 CET mx1 postfix/smtpd[1]: x")[0]) is None


def test_the_zones_name_tells_the_pass_through_the_hour_shown_twice():
    # Europe/Berlin, 2023-10-29: 02:00-03:00 shows twice, CEST (+02:00) then CET (+01:00).
    berlin = parse_zone("Europe/Berlin")
    clock = Clock(tz=berlin)
    times = [clock.time(stamp) for stamp in ("2023-10-29T02:30:00CEST", "2023-10-29T02:10:00CET",
                                             "2023-10-29T02:40:00CET")]
    assert [when.utcoffset() for when in times] == [dt.timedelta(hours=hours) for hours in (2, 1, 1)]
    # The second pass named from its start, with no first-pass line before it.
    assert Clock(tz=berlin).time("2023-10-29T02:10:00CET").utcoffset() == dt.timedelta(hours=1)
    # A local time read in the zone it was written in, with its name or without.
    for stamp in ("2023-11-14T23:13:20CET", "2023-11-14T23:13:20"):
        assert Clock(tz=berlin).time(stamp) == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_an_iso_stamp_without_its_offset_is_local_time(cli, tmp_path):
    # A template that writes RFC 3339's date and time but not the offset (strftime's
    # `%Y-%m-%dT%H:%M:%S`): before, such a line had no time (`no Postfix activity found`).
    log = tmp_path / "mail.log"
    log.write_text("2023-11-14T23:13:20 mx1 postfix/submission/smtpd[4211]: 3SYKm63xyzz1: "
                   "client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=kim@example.org\n",
                   encoding="utf-8")
    result = cli("-r", "users", "-f", "json", "--tz", "Europe/Berlin", log)
    assert result.code == 0, result.err
    [user] = result.json()
    assert (user["user"], user["first_seen"]) == ("kim@example.org", "2023-11-14T23:13:20+01:00")


@pytest.mark.parametrize("stamp, want", [
    ("2023-11-14T23:13:20.5", dt.datetime(2023, 11, 14, 23, 13, 20, 500000)),
    ("2023-11-14T23:13:20.123456789", dt.datetime(2023, 11, 14, 23, 13, 20, 123456)),
    ("2023-11-14T23:13:20.000001CET", dt.datetime(2023, 11, 14, 23, 13, 20, 1)),
])
def test_an_iso_stamp_without_its_offset_keeps_its_fraction(stamp, want):
    # rsyslog's `%timereported:::date-rfc3339%` cut before its offset by a template: the
    # fraction stays (without it such a line had no time at all).
    berlin = dateutil_tz.gettz("Europe/Berlin")
    assert Clock(tz=berlin).time(stamp) == want.replace(tzinfo=berlin)
