"""--since/--until as an administrator types them, and the zone they are read in.

Relative words are read on a fixed clock (`now`); the log-zone rule runs the command with the
machine's zone set through TZ (time.tzset), as on a server whose clock is not the log's.
"""

import datetime as dt
import gzip
import os
import re
import time
from pathlib import Path

import pytest

from maillog_sasl import report
from maillog_sasl.filters import FilterError, Selection, filter_zone, parse_moment
from maillog_sasl.syslog import parse_zone

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "sample_logs" / "seed-maillog.txt"
README = ROOT / "README.md"

UTC = dt.timezone.utc
JST = dt.timezone(dt.timedelta(hours=9))
# Wednesday 2026-03-04 15:30 UTC: already Thursday 00:30 in Tokyo.
NOW = dt.datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def at(text, end=False, zone=UTC, now=NOW):
    return parse_moment(text, zone, end_of_day=end, now=now).isoformat()


@pytest.fixture
def machine_zone(monkeypatch):
    """machine_zone("UTC"): the machine's local zone for this test (TZ and time.tzset)."""
    def use(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def seed_log(path, stamp):
    """The seed incident (one login, one message sent) with each `Sep 17 HH:MM:SS` stamp
    rewritten by stamp(hour, minute, second)."""
    lines = []
    for line in SEED.read_text().splitlines():
        hour, minute, second = (int(part) for part in line[7:15].split(":"))
        lines.append(stamp(hour, minute, second) + line[15:])
    path.write_text("\n".join(lines) + "\n")
    return path


def tokyo_log(tmp_path):
    """RFC 3339 stamps at +09:00, the morning of 2026-03-02 (the evening of 03-01 in UTC)."""
    return seed_log(tmp_path / "maillog",
                    lambda h, m, s: f"2026-03-02T{h - 5:02d}:{m:02d}:{s:02d}.000000+09:00")


# -- the words ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, since, until", [
    ("now", "2026-03-04T15:30:00+00:00", "2026-03-04T15:30:00+00:00"),
    ("2h ago", "2026-03-04T13:30:00+00:00", "2026-03-04T13:30:00+00:00"),
    ("30 min ago", "2026-03-04T15:00:00+00:00", "2026-03-04T15:00:00+00:00"),
    ("3 days ago", "2026-03-01T15:30:00+00:00", "2026-03-01T15:30:00+00:00"),
    ("1 week ago", "2026-02-25T15:30:00+00:00", "2026-02-25T15:30:00+00:00"),
    ("an hour ago", "2026-03-04T14:30:00+00:00", "2026-03-04T14:30:00+00:00"),
    ("45s ago", "2026-03-04T15:29:15+00:00", "2026-03-04T15:29:15+00:00"),
    ("today", "2026-03-04T00:00:00+00:00", "2026-03-04T23:59:59.999999+00:00"),
    ("Yesterday", "2026-03-03T00:00:00+00:00", "2026-03-03T23:59:59.999999+00:00"),
    ("tomorrow", "2026-03-05T00:00:00+00:00", "2026-03-05T23:59:59.999999+00:00"),
    ("monday", "2026-03-02T00:00:00+00:00", "2026-03-02T23:59:59.999999+00:00"),
    ("mon", "2026-03-02T00:00:00+00:00", "2026-03-02T23:59:59.999999+00:00"),
    ("wednesday", "2026-03-04T00:00:00+00:00", "2026-03-04T23:59:59.999999+00:00"),
    ("last wednesday", "2026-02-25T00:00:00+00:00", "2026-02-25T23:59:59.999999+00:00"),
    ("last friday", "2026-02-27T00:00:00+00:00", "2026-02-27T23:59:59.999999+00:00"),
    ("friday", "2026-02-27T00:00:00+00:00", "2026-02-27T23:59:59.999999+00:00"),
    ("yesterday 18:00", "2026-03-03T18:00:00+00:00", "2026-03-03T18:00:59.999999+00:00"),
    ("monday 9am", "2026-03-02T09:00:00+00:00", "2026-03-02T09:59:59.999999+00:00"),
])
def test_words_are_read_on_the_clock(text, since, until):
    assert (at(text), at(text, end=True)) == (since, until)


@pytest.mark.parametrize("text, since, until", [
    # dateutil's forms still read, to the precision written: --until includes the whole span.
    ("2018-09-17", "2018-09-17T00:00:00+00:00", "2018-09-17T23:59:59.999999+00:00"),
    ("2018-09-18 06:00", "2018-09-18T06:00:00+00:00", "2018-09-18T06:00:59.999999+00:00"),
    ("Mon Sep 17 2018", "2018-09-17T00:00:00+00:00", "2018-09-17T23:59:59.999999+00:00"),
    ("Sep 2018", "2018-09-01T00:00:00+00:00", "2018-09-30T23:59:59.999999+00:00"),
    ("2018-09-17T06:00:00+09:00", "2018-09-17T06:00:00+09:00",
     "2018-09-17T06:00:00.999999+09:00"),
    ("06:00:00.25", "2026-03-04T06:00:00.250000+00:00", "2026-03-04T06:00:00.250000+00:00"),
    # An offset after UTC or GMT as written (dateutil alone reads UTC+1 as POSIX's TZ does:
    # -01:00, two hours from what was meant).
    ("06:00 UTC+1", "2026-03-04T06:00:00+01:00", "2026-03-04T06:00:59.999999+01:00"),
    ("06:00 GMT-05:00", "2026-03-04T06:00:00-05:00", "2026-03-04T06:00:59.999999-05:00"),
    ("2026-03-04T06:00:00UTC-5", "2026-03-04T06:00:00-05:00", "2026-03-04T06:00:00.999999-05:00"),
    ("yesterday 06:00 utc+0530", "2026-03-03T06:00:00+05:30", "2026-03-03T06:00:59.999999+05:30"),
    # No year: the latest such day up to today; no date: today.
    ("Dec 30", "2025-12-30T00:00:00+00:00", "2025-12-30T23:59:59.999999+00:00"),
    ("Mar 4", "2026-03-04T00:00:00+00:00", "2026-03-04T23:59:59.999999+00:00"),
    ("Feb 29", "2024-02-29T00:00:00+00:00", "2024-02-29T23:59:59.999999+00:00"),
    ("12:00", "2026-03-04T12:00:00+00:00", "2026-03-04T12:00:59.999999+00:00"),
])
def test_dates_dateutil_reads(text, since, until):
    assert (at(text), at(text, end=True)) == (since, until)


def test_until_a_second_includes_the_lines_of_that_second(tmp_path):
    """Debian 12's rsyslog writes microseconds: `--until ...07:48:22` (the second a table
    shows, which drops them) left out the login logged at 07:48:22.579644."""
    log = seed_log(tmp_path / "maillog",
                   lambda h, m, s: f"2026-03-02T{h - 5:02d}:{m:02d}:{s:02d}.579644+09:00")
    first = "2026-03-02T07:48:22"  # the connect, 12:48:22 in the seed
    for until in (first, first + "+09:00"):
        rows = report("sessions", [str(log)], Selection.build(until=until)).rows
        assert [row["start"].isoformat() for row in rows] == [first + ".579644+09:00"], until
    moment = dt.datetime(2026, 3, 2, 7, 48, 22)  # a datetime is that moment, not its second
    assert report("sessions", [str(log)], Selection.build(until=moment)).rows == []


@pytest.mark.parametrize("zone, text, since, until", [
    # Berlin springs from 02:00 to 03:00: what is after 02:30 starts at 03:00, what is before it
    # ends at 01:59:59 (a zone's offset for the skipped time put both an hour off).
    ("Europe/Berlin", "2026-03-29 02:30", "2026-03-29T03:00:00+02:00",
     "2026-03-29T01:59:59.999999+01:00"),
    ("America/New_York", "2026-03-08 02:00", "2026-03-08T03:00:00-04:00",
     "2026-03-08T01:59:59.999999-05:00"),
    # Santiago springs at midnight: its day starts at 01:00 (python-dateutil 2.9 gave 00:00 the
    # offset -03:00: 23:00 of the day before, an hour of --until 2026-09-05 too).
    ("America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00",
     "2026-09-06T23:59:59.999999-03:00"),
    # The hour shown twice: --since from its first pass, --until to the end of its second.
    ("Europe/Berlin", "2026-10-25 02:30", "2026-10-25T02:30:00+02:00",
     "2026-10-25T02:30:59.999999+01:00"),
])
def test_a_wall_time_the_clocks_skip_or_repeat(zone, text, since, until):
    zone = parse_zone(zone)
    assert (at(text, zone=zone), at(text, end=True, zone=zone)) == (since, until)


def test_since_and_until_in_the_skipped_hour_keep_what_is_after_and_before_it(cli, tmp_path):
    """Logins at 01:50 (before the jump) and 03:10 (after) in Berlin: `--until 02:30` and
    `--since 02:30` each lost one of them."""
    log = seed_log(tmp_path / "maillog", lambda h, m, s: f"Mar 29 {h - 11:02d}:{m:02d}:{s:02d}")
    log.write_text(log.read_text() + "".join(
        line.replace("Mar 29 01:", "Mar 29 03:").replace("[7771]", "[7772]") + "\n"
        for line in log.read_text().splitlines()))
    args = ("-r", "sessions", "-f", "json", "--year", "2026", "--tz", "Europe/Berlin", log)
    for option, start in (("--until", "2026-03-29T01:48:22+01:00"),
                          ("--since", "2026-03-29T03:48:22+02:00")):
        result = cli(option, "2026-03-29 02:30", *args)
        assert result.code == 0, result.err
        assert [row["start"] for row in result.json()] == [start], option


def test_monday_on_a_monday_is_today_and_last_monday_a_week_before():
    monday = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert at("monday", now=monday) == "2026-03-02T00:00:00+00:00"
    assert at("last monday", now=monday) == "2026-02-23T00:00:00+00:00"


def test_which_day_today_is_depends_on_the_zone():
    assert at("today", zone=UTC) == "2026-03-04T00:00:00+00:00"
    assert at("today", zone=JST) == "2026-03-05T00:00:00+09:00"
    assert at("yesterday", end=True, zone=JST) == "2026-03-04T23:59:59.999999+09:00"
    assert at("2h ago", zone=JST) == "2026-03-04T22:30:00+09:00"  # the same moment


@pytest.mark.parametrize("text", ["yesterdayish", "2 fortnights ago", "last", "", "  ",
                                  "yesterday 2018-01-01", "friday afternoon", "Sep 31"])
def test_what_is_no_time_is_a_filter_error(text):
    with pytest.raises(FilterError, match="not a date or time"):
        parse_moment(text, UTC, now=NOW)


@pytest.mark.parametrize("text", ["2026-03-01 10:00 CET", "monday 9am EST"])
def test_a_zone_name_not_known_is_a_filter_error(text, machine_zone):
    """dateutil dropped `CET` with a warning (a Python warning on stderr) and the time was read
    in the log's zone or --tz: an hour off on a UTC log, exit 0."""
    machine_zone("UTC")  # (the machine's own zone's names dateutil knows)
    with pytest.raises(FilterError, match="a zone's name is not read"):
        parse_moment(text, UTC, now=NOW)


@pytest.mark.parametrize("count", ["99999999999999", "9" * 5_000])  # int() refuses 4,300
def test_a_time_beyond_reach_is_a_filter_error(count):
    with pytest.raises(FilterError, match="too long ago"):
        parse_moment(count + " days ago", UTC, now=NOW)


# -- the zone -----------------------------------------------------------------------------------

def test_the_logs_own_offset_wins_over_tz_and_the_machine():
    first_line = dt.datetime(2026, 3, 2, 7, 48, tzinfo=JST)
    assert filter_zone(first_line, UTC, "UTC") == (JST, "+09:00 (the log's)")
    assert filter_zone(first_line, dt.timezone(dt.timedelta(hours=-7))) == (
        JST, "+09:00 (the log's)")


def test_a_log_that_agrees_with_tz_is_read_in_tz_with_its_rules():
    """A yearless log's times are made in --tz (or the machine's zone): that zone, with its
    summer time, not the fixed offset of the log's first line."""
    berlin = parse_zone("Europe/Berlin")
    winter = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert filter_zone(winter, berlin, "Europe/Berlin") == (berlin, "Europe/Berlin (--tz)")
    selection = Selection.build(until="2026-07-01", zone=berlin, log_time=winter, now=NOW)
    assert selection.until.isoformat() == "2026-07-01T23:59:59.999999+02:00"


def test_without_a_log_time_tz_then_the_machine(machine_zone):
    machine_zone("Asia/Tokyo")
    assert filter_zone(None, UTC, "UTC") == (UTC, "UTC (--tz)")
    assert filter_zone(None, now=NOW)[1] == "+09:00 (the machine's)"
    assert Selection.build(since="2026-03-01", now=NOW).since.isoformat() == (
        "2026-03-01T00:00:00+09:00")


def test_the_library_takes_plain_values():
    log_time = dt.datetime(2026, 3, 2, 7, 48, tzinfo=JST)
    selection = Selection.build(users=["centos7@*"], since="yesterday", until="2h ago",
                                zone=UTC, zone_name="UTC", now=NOW, log_time=log_time)
    assert selection.since.isoformat() == "2026-03-04T00:00:00+09:00"
    assert selection.until.isoformat() == "2026-03-04T22:30:00+09:00"
    assert (selection.zone, selection.zone_note) == (JST, "times in +09:00 (the log's)")
    # Values that need no zone (a moment, an offset written) leave nothing to say.
    assert Selection.build(since="2h ago", now=NOW, log_time=log_time).zone_note == ""
    assert Selection.build(users=["x"]).zone_note == ""


def test_since_later_than_until_is_judged_in_the_zone_used():
    """`--since '2026-03-04 14:00' --until '2h ago'` (13:30 UTC): too late in UTC, fine at
    +02:00, where 14:00 is 12:00 UTC."""
    with pytest.raises(FilterError, match="later than --until '2h ago'"):
        Selection.parse(since="2026-03-04 14:00", until="2h ago", now=NOW).resolve(UTC)
    east = Selection.parse(since="2026-03-04 14:00", until="2h ago", now=NOW).resolve(
        dt.timezone(dt.timedelta(hours=2)))
    assert east.since.isoformat() == "2026-03-04T14:00:00+02:00"
    assert east.until.isoformat() == "2026-03-04T15:30:00+02:00"


# -- the command --------------------------------------------------------------------------------

def users(result):
    assert result.code == 0, result.err
    return [row["user"] for row in result.json()]


def test_an_rfc3339_log_at_plus_nine_is_filtered_on_its_own_days(cli, tmp_path, machine_zone):
    """The issue's case: a +09:00 log read on a UTC server. Its session is on 2026-03-02 by
    its own stamps (07:48+09:00), 2026-03-01 in UTC."""
    machine_zone("UTC")
    log = tokyo_log(tmp_path)
    assert users(cli("-f", "json", "--until", "2026-03-01", log)) == []
    assert users(cli("-f", "json", "--since", "2026-03-02", log)) == ["centos7@phoenixknight.jp"]
    assert users(cli("-f", "json", "--until", "2026-03-02", log)) == ["centos7@phoenixknight.jp"]
    # --tz is the zone of yearless stamps: this log's carry their own, which win.
    assert users(cli("-f", "json", "--tz", "UTC", "--until", "2026-03-01", log)) == []
    result = cli("--since", "2026-03-02", log)
    assert result.code == 0
    assert result.out.splitlines()[0].endswith(
        "; 1 authenticated message; no account flagged; times in +09:00 (the log's)")


def test_the_summary_says_nothing_of_zones_without_since_or_until(cli, tmp_path, machine_zone):
    machine_zone("UTC")
    log = tokyo_log(tmp_path)
    assert "times in" not in cli(log).out.splitlines()[0]
    assert "times in" not in cli("--since", "1 week ago", log).out.splitlines()[0]


def test_a_yearless_log_is_filtered_in_tz(cli, tmp_path):
    log = seed_log(tmp_path / "maillog", lambda h, m, s: f"Sep 17 {h:02d}:{m:02d}:{s:02d}")
    args = ("--year", "2018", "--tz", "Asia/Tokyo", log)
    assert users(cli("-f", "json", "--since", "2018-09-17 12:51", *args)) == [
        "centos7@phoenixknight.jp"]
    assert users(cli("-f", "json", "--since", "2018-09-17 12:52", *args)) == []
    assert cli("--until", "2018-09-17", *args).out.splitlines()[0].endswith(
        "; times in Asia/Tokyo (--tz)")


def test_a_yearless_log_in_a_summer_time_zone_keeps_its_rules(cli, tmp_path, machine_zone):
    """The log starts in January (+01:00 in Berlin); its July session is at +02:00, and
    `--since '2026-07-01 10:00'` is 10:00 Berlin summer time, not 10:00+01:00."""
    machine_zone("Europe/Berlin")
    winter = seed_log(tmp_path / "w", lambda h, m, s: f"Jan 15 {h:02d}:{m:02d}:{s:02d}")
    summer = seed_log(tmp_path / "s", lambda h, m, s: f"Jul  1 {h - 2:02d}:{m - 20:02d}:{s:02d}")
    log = tmp_path / "maillog"
    log.write_text(winter.read_text() + summer.read_text())
    result = cli("-r", "sessions", "-f", "json", "--year", "2026", "--since", "2026-07-01 10:00",
                 log)
    assert result.code == 0, result.err
    assert [row["start"] for row in result.json()] == ["2026-07-01T10:28:22+02:00"]


def test_the_summary_shows_since_and_until_in_the_offset_of_their_day(cli, tmp_path):
    """A log across the end of summer time (Berlin, 2026-10-25): `--since 2026-10-26` is
    midnight at +01:00, not the first line's +02:00 (01:00); `--until 2026-10-24` the end of
    that day at +02:00, not the last line's +01:00 (22:59:59)."""
    october = seed_log(tmp_path / "o", lambda h, m, s: f"Oct 20 {h:02d}:{m:02d}:{s:02d}")
    november = seed_log(tmp_path / "n", lambda h, m, s: f"Nov  2 {h:02d}:{m:02d}:{s:02d}")
    log = tmp_path / "maillog"
    log.write_text(october.read_text() + november.read_text())
    base = ("--year", "2026", "--tz", "Europe/Berlin", "--width", "0")
    since = cli(*base, "--since", "2026-10-26", log).out.splitlines()[0]
    assert since.startswith("2026-10-26 00:00:00 .. 2026-11-02 12:51:13 (UTC+01:00); ")
    until = cli(*base, "--until", "2026-10-24", log).out.splitlines()[0]
    assert until.startswith("2026-10-20 12:48:22 .. 2026-10-24 23:59:59 (UTC+02:00); ")


def test_standard_input_is_read_in_tz_or_the_machines_zone(cli, tmp_path, machine_zone):
    """Standard input is not peeked before it is read: its stamps' zone is not known."""
    machine_zone("UTC")
    text = tokyo_log(tmp_path).read_bytes()
    assert users(cli("-f", "json", "--until", "2026-03-01", "-", stdin=text)) == [
        "centos7@phoenixknight.jp"]
    result = cli("--until", "2026-03-01", "-", stdin=text)
    assert result.out.splitlines()[0].endswith("; times in UTC (the machine's)")


def test_words_on_the_command_line_are_the_logs_days(cli, tmp_path, machine_zone):
    """The command reads words on the real clock, in the log's zone: a +09:00 log of yesterday
    noon (Tokyo's yesterday), read on a UTC machine."""
    machine_zone("UTC")
    today = dt.datetime.now(JST).date()
    yesterday = today - dt.timedelta(days=1)
    log = seed_log(tmp_path / "maillog", lambda h, m, s: dt.datetime.combine(
        yesterday, dt.time(h, m, s), JST).isoformat())
    user = ["centos7@phoenixknight.jp"]
    for option, value, expected in [
            ("--since", "yesterday", user), ("--until", "yesterday", user),
            ("--since", "today", []), ("--until", "2 days ago", []),
            ("--since", "1 week ago", user), ("--until", "now", user),
            ("--since", "tomorrow", []), ("--since", yesterday.strftime("%A"), user),
            ("--until", "last " + today.strftime("%A"), [])]:
        assert users(cli("-f", "json", option, value, log)) == expected, (option, value)


@pytest.mark.parametrize("args, message", [
    (["--since", "yesterdayish"], "not a date or time: 'yesterdayish'"),
    (["--until", "3 fortnights ago"], "not a date or time: '3 fortnights ago'"),
    (["--since", "today", "--until", "yesterday"], "--since 'today' ("),
])
def test_usage_errors(cli, args, message):
    result = cli(*args, SEED)
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and message in result.err


def test_the_readme_example(cli):
    """README's `--user 'centos7@*' --since 2018-09-17 --until '2018-09-18 06:00'`, on the
    seed log (Tokyo time, 2018)."""
    readme = README.read_text()
    [example] = re.findall(r"maillog-sasl (--user .*--since .*) /var/log/maillog\*", readme)
    args = [word.strip("'") for word in re.findall(r"'[^']*'|\S+", example)]
    assert args == ["--user", "centos7@*", "--since", "2018-09-17", "--until", "2018-09-18 06:00"]
    seed = ("--year", "2018", "--tz", "+09:00", SEED)
    assert users(cli("-f", "json", *args, *seed)) == ["centos7@phoenixknight.jp"]
    later = [*args[:3], "2018-09-18", *args[4:]]
    assert users(cli("-f", "json", *later, *seed)) == []


def test_the_help_and_readme_name_the_forms_and_each_is_read():
    from maillog_sasl.cli import build_parser

    helps = {action.dest: action.help for action in build_parser()._actions}
    forms = ["now", "2h ago", "30 min ago", "3 days ago", "1 week ago", "today", "yesterday",
             "monday", "last friday", "yesterday 18:00", "2018-09-17", "Sep 17 2018 6am"]
    readme = README.read_text()
    for form in forms:
        assert form in helps["since"] and f"`{form}`" in readme.replace("'", ""), form
        parse_moment(form, UTC, now=NOW)
    assert "yesterday" in helps["until"] and "`--until yesterday`" in readme


def test_the_library_reads_since_and_until_in_the_logs_zone_as_the_command_does(
        cli, tmp_path, machine_zone):
    """report() with a Selection.build() made before the logs were open: its dates are the
    log's days, as --since/--until's, not the machine's (a +09:00 log on a UTC server)."""
    machine_zone("UTC")
    log = str(tokyo_log(tmp_path))
    for since, until, expected in (("2026-03-02", None, ["centos7@phoenixknight.jp"]),
                                   (None, "2026-03-01", []),
                                   (None, "2026-03-02", ["centos7@phoenixknight.jp"])):
        result = report("users", [log], Selection.build(since=since, until=until))
        assert [row["user"] for row in result.rows] == expected
        args = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
        assert users(cli("-f", "json", *args, log)) == expected


def test_the_library_gives_since_and_until_as_datetimes_or_dates():
    """A datetime is read as its ISO text is (without a zone: in the log's), a date as the
    whole day; anything else is a FilterError, not an AttributeError from inside."""
    log_time = dt.datetime(2026, 3, 2, 7, 48, tzinfo=JST)
    selection = Selection.build(since=dt.datetime(2026, 3, 4, 6, 30), until=dt.date(2026, 3, 5),
                                log_time=log_time)
    assert selection.since.isoformat() == "2026-03-04T06:30:00+09:00"
    assert selection.until.isoformat() == "2026-03-05T23:59:59.999999+09:00"
    aware = Selection.build(since=dt.datetime(2026, 3, 4, 6, 30, tzinfo=UTC), log_time=log_time)
    assert aware.since.isoformat() == "2026-03-04T06:30:00+00:00"
    for wrong in (5, dt.time(6, 30)):
        with pytest.raises(FilterError, match="not a date or time"):
            Selection.build(since=wrong)


def test_a_selection_the_caller_placed_is_kept_by_the_library(tmp_path, machine_zone):
    """Selection.build(zone=...) places --since/--until in the caller's zone; report() read
    them again in the log's (a yearless log: the machine's), and a login at 20:00 UTC, the
    next day in Tokyo, fell out of `since` Tokyo's next day."""
    machine_zone("UTC")
    log = tmp_path / "maillog"
    log.write_text(
        "Mar  3 20:00:00 mail postfix/submission/smtpd[7]: connect from unknown[192.0.2.7]\n"
        "Mar  3 20:00:01 mail postfix/submission/smtpd[7]: 4F1A2B3C4D: client=unknown"
        "[192.0.2.7], sasl_method=PLAIN, sasl_username=alice@example.jp\n"
        "Mar  3 20:00:02 mail postfix/submission/smtpd[7]: disconnect from unknown[192.0.2.7] "
        "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n")
    selection = Selection.build(since="2026-03-04", zone=parse_zone("Asia/Tokyo"))
    placed = selection.since
    assert placed.isoformat() == "2026-03-04T00:00:00+09:00"
    result = report("users", [str(log)], selection, year=2026)
    assert selection.since == placed
    assert [row["user"] for row in result.rows] == ["alice@example.jp"]


def fall_back_log(path: Path, zone, sessions) -> dict:
    """A log of submission sessions, each (its connect in UTC, seconds to its login, its host,
    how many seconds late a central syslog writes its host's lines), stamped as `zone`'s clock
    shows them: user -> the true (start, login, delivery, end) in UTC."""
    lines, truth = [], {}
    for n, (connect, login_after, host, late) in enumerate(sessions, 1):
        user, queue_id, client = f"u{n}@example.com", f"A00000000{n:X}", f"c{n}.example[198.51.100.{n}]"
        login = connect + dt.timedelta(seconds=login_after)
        sent, end = login + dt.timedelta(seconds=2), login + dt.timedelta(seconds=4)
        truth[user] = (connect, login, sent, end)
        smtpd = f"{host} postfix/submission/smtpd[{1000 + n}]:"
        said = [(connect, f"{smtpd} connect from {client}"),
                (login, f"{smtpd} {queue_id}: client={client}, sasl_method=LOGIN, "
                        f"sasl_username={user}"),
                (login, f"{host} postfix/qmgr[901]: {queue_id}: from=<{user}>, size=100, "
                        "nrcpt=1 (queue active)"),
                (sent, f"{host} postfix/smtp[902]: {queue_id}: to=<x@remote.example>, "
                       "relay=mx.remote.example[203.0.113.9]:25, delay=1, delays=0/0/0/1, "
                       "dsn=2.0.0, status=sent (250 ok)"),
                (end, f"{smtpd} disconnect from {client} ehlo=1 auth=1 mail=1 rcpt=1 data=1 "
                      "quit=1 commands=6")]
        lines += [(when + dt.timedelta(seconds=late), when, text) for when, text in said]
    path.write_text("".join(f"{when.astimezone(zone):%b %e %H:%M:%S} {text}\n"
                            for _, when, text in sorted(lines, key=lambda line: line[0])))
    return truth


@pytest.mark.parametrize("zone, back", [("Europe/Berlin", "2026-10-25T01:00:00"),
                                        ("America/New_York", "2026-11-01T06:00:00")])
def test_a_connect_read_at_its_login_keeps_the_pass_of_its_line(cli, tmp_path, zone, back):
    """The clocks go back at `back` (UTC): one session's connect is 10 s before, its login
    15 s after; another's connect is 35 minutes before its login, both in the first pass, a
    session after it still there. A connect's stamp was read when its session turned out to
    matter, at its login, by the pass the clock was in then: the first session started in the
    second pass, after it ended (02:59:50+01:00 to 02:00:09+01:00), and the old stamp of the
    other, well before the latest, started the second pass early: that session and the next one
    an hour late."""
    back = dt.datetime.fromisoformat(back).replace(tzinfo=dt.timezone.utc)
    minute = dt.timedelta(minutes=1)
    log = tmp_path / "maillog"
    truth = fall_back_log(log, parse_zone(zone), [
        (back - 10 * minute / 60, 25, "mx1", 0), (back - 40 * minute, 35 * 60, "mx1", 0),
        (back - 4 * minute, 10, "mx1", 0), (back + 10 * minute, 10, "mx1", 0)])
    assert_read_true(cli, log, zone, truth)


def assert_read_true(cli, log: Path, zone: str, truth: dict) -> None:
    """The sessions and messages reports of `log` give the times of fall_back_log()'s truth."""
    args = ("-f", "json", "--year", "2026", "--tz", zone, log)
    sessions, messages = cli("-r", "sessions", *args), cli("-r", "messages", *args)
    assert sessions.code == messages.code == 0, sessions.err + messages.err
    assert {row["sasl_username"]: (dt.datetime.fromisoformat(row["start"]),
                                   dt.datetime.fromisoformat(row["end"]))
            for row in sessions.json()} == {user: (times[0], times[3])
                                            for user, times in truth.items()}
    assert {row["sasl_username"]: (dt.datetime.fromisoformat(row["time"]),
                                   dt.datetime.fromisoformat(row["last_attempt"]))
            for row in messages.json()} == {user: (times[1], times[2])
                                            for user, times in truth.items()}


@pytest.mark.parametrize("zone, back", [("Europe/Berlin", "2026-10-25T01:00:00"),
                                        ("America/New_York", "2026-11-01T06:00:00")])
def test_a_line_a_central_syslog_writes_late_across_the_clocks_going_back(cli, tmp_path, zone,
                                                                          back):
    """mx2's lines come 10 s late into a central syslog's file: its session of the last
    seconds before the clocks go back (at `back`, UTC) is written after mx1's first lines of
    the second pass. The second pass, once begun, took every later stamp of the hour: that
    session was an hour late (02:59:54+01:00 for 02:59:54+02:00)."""
    back = dt.datetime.fromisoformat(back).replace(tzinfo=dt.timezone.utc)
    second = dt.timedelta(seconds=1)
    log = tmp_path / "maillog"
    truth = fall_back_log(log, parse_zone(zone), [
        (back - 60 * second, 1, "mx1", 0), (back - 3 * second, 1, "mx1", 0),
        (back - 6 * second, 1, "mx2", 10), (back + 5 * second, 1, "mx1", 0),
        (back + 60 * second, 1, "mx1", 0)])
    assert_read_true(cli, log, zone, truth)


@pytest.mark.parametrize("zone, day, offset", [("Europe/Berlin", "2026-03-29", "+01:00"),
                                               ("America/New_York", "2026-03-08", "-05:00")])
def test_a_stamp_in_the_hour_the_clocks_skip_has_the_offset_before_the_jump(cli, tmp_path, zone,
                                                                            day, offset):
    """02:30 never shows when summer time starts: a host whose clock did not move on wrote it,
    in the offset it still had (README, --tz). It is after --since 02:30 (03:00) and after
    --until 02:30 (01:59:59)."""
    skipped = dt.datetime.fromisoformat(f"{day}T02:30:00{offset}")
    log = tmp_path / "maillog"
    truth = fall_back_log(log, parse_zone(zone), [(skipped, 1, "mx1", 0)])
    # The zone's clock shows that time as 03:30: the host's did not move on.
    log.write_text(log.read_text().replace(" 03:30:", " 02:30:"))
    assert_read_true(cli, log, zone, truth)
    args = ("-r", "sessions", "-f", "json", "--year", "2026", "--tz", zone, log)
    assert [row["start"] for row in cli("--since", f"{day} 02:30", *args).json()] == [
        f"{day}T02:30:00{offset}"]
    assert cli("--until", f"{day} 02:30", *args).json() == []


def test_a_log_starting_in_the_skipped_hour_is_filtered_in_tz_with_its_rules(cli, tmp_path):
    """Its first stamp, 02:30+01:00, is a time Europe/Berlin shows as 03:30+02:00: it was taken
    for a stamp of another zone, and --since/--until were read at a fixed +01:00 all through the
    log (`times in +01:00 (the log's)`): `--since '2026-07-01 09:00'` was 08:00 UTC, not 07:00,
    and lost the login of 09:30 CEST."""
    log = tmp_path / "maillog"
    berlin = parse_zone("Europe/Berlin")
    truth = fall_back_log(log, berlin, [
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone.utc), 1, "mx1", 0),
        (dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.timezone.utc), 1, "mx1", 0)])
    log.write_text(log.read_text().replace(" 03:30:", " 02:30:"))  # the host's clock lagged
    assert_read_true(cli, log, "Europe/Berlin", truth)
    result = cli("-r", "sessions", "-f", "json", "--year", "2026", "--tz", "Europe/Berlin",
                 "--since", "2026-07-01 09:00", log)
    assert [row["start"] for row in result.json()] == ["2026-07-01T09:30:00+02:00"]
    assert "times in Europe/Berlin (--tz)" in cli(
        "-r", "sessions", "--year", "2026", "--tz", "Europe/Berlin", "--since",
        "2026-07-01 09:00", log).out


@pytest.mark.parametrize("year", [["--year", "2026"], []])
def test_a_rotated_set_reads_on_in_its_pass_and_another_hosts_log_in_its_own(cli, tmp_path,
                                                                              year):
    """Sessions every 5 minutes around the clocks going back in Europe/Berlin. `maillog.1`
    rotated 10 minutes into the second pass: without --year, `maillog` started afresh in the
    first pass, its lines to 03:00 an hour early. mx1's and mx2's logs each across the hour:
    with --year, the log read second took the first one's latest time for its own, its first
    pass read as the second, an hour late."""
    back = dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.timezone.utc)
    berlin = parse_zone("Europe/Berlin")
    at = [back + dt.timedelta(minutes=minutes) for minutes in range(-50, 55, 5)]
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    fall_back_log(rotated / "maillog", berlin, [(when, 1, "mx1", 0) for when in at])
    lines = (rotated / "maillog").read_text().splitlines(keepends=True)
    cut = 5 * (at.index(back + dt.timedelta(minutes=10)))  # five lines a session
    (rotated / "maillog.1").write_text("".join(lines[:cut]))
    (rotated / "maillog").write_text("".join(lines[cut:]))
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    for host in ("mx1", "mx2"):
        fall_back_log(hosts / f"{host}.log", berlin, [(when, 1, host, 0) for when in at])
    ended = (back + dt.timedelta(hours=1)).timestamp()
    for path in [*rotated.iterdir(), *hosts.iterdir()]:
        os.utime(path, (ended, ended))
    for logs in ([rotated / "maillog.1", rotated / "maillog"],
                 [hosts / "mx1.log", hosts / "mx2.log"]):
        result = cli("-r", "sessions", "-f", "json", "--tz", "Europe/Berlin", *year, *logs)
        assert result.code == 0, result.err
        assert sorted(dt.datetime.fromisoformat(row["start"]) for row in result.json()) == (
            sorted(at * (2 if logs[0].parent == hosts else 1))), logs


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_connects_no_session_used_move_no_clock_outside_a_repeated_hour(cli, tmp_path, zone):
    """Lines picked from a year of logs (a copy, written Dec 7): two connects of sessions that
    never logged in, Dec 2 and Feb 27, then a failed login of Aug 3. A noted connect outside
    the hour the clocks go back is kept as its stamp, read when its session matters, as in UTC.
    In a zone with summer time each was read by the clock at its line: Dec 2 placed the log
    in 2026, Feb 27 crossed New Year, and the login was read as Aug 3 2027, with a warning and
    exit 2, where --tz UTC gave 2026."""
    log = tmp_path / "maillog"
    log.write_text(
        "Dec  2 22:24:22 mx1 postfix/smtpd[7676]: connect from unknown[192.0.2.1]\n"
        "Feb 27 10:00:00 mx1 postfix/smtpd[7677]: connect from unknown[192.0.2.77]\n"
        "Aug  3 15:30:49 mx1 postfix/smtpd[17041]: warning: unknown[192.0.2.3]: SASL PLAIN "
        "authentication failed: authentication failure\n")
    written = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc).timestamp()
    os.utime(log, (written, written))
    seen = {}
    for name in ("UTC", zone):
        result = cli("-r", "failures", "-f", "json", "--tz", name, log)
        assert result.code == 0, result.err
        seen[name] = [dt.datetime.fromisoformat(row["first_seen"]).replace(tzinfo=None)
                      for row in result.json()]
    assert seen[zone] == seen["UTC"] == [dt.datetime(2026, 8, 3, 15, 30, 49)]


@pytest.mark.parametrize("older", ["maillog-2026-10-25", "maillog-2026102502.gz",
                                   "maillog-20261025"])
def test_a_set_rotated_by_dateformat_reads_on_in_its_pass(cli, tmp_path, older):
    """logrotate's dateext names the older file by its `dateformat` (`-%Y-%m-%d`, an hourly
    `-%Y%m%d%H`): rotated 10 minutes into the second pass, those names were not taken for a
    rotated set, and `maillog` started in a clock of its own, its lines to 03:00 an hour early
    (02:05+02:00 for 02:05+01:00), with --year as without it; 94c6bc6 read it right with
    --year."""
    back = dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.timezone.utc)
    at = [back + dt.timedelta(minutes=minutes) for minutes in range(-50, 55, 5)]
    log = tmp_path / "maillog"
    fall_back_log(log, parse_zone("Europe/Berlin"), [(when, 1, "mx1", 0) for when in at])
    lines = log.read_text().splitlines(keepends=True)
    cut = 5 * (at.index(back + dt.timedelta(minutes=10)))  # five lines a session
    text = "".join(lines[:cut]).encode()
    (tmp_path / older).write_bytes(gzip.compress(text) if older.endswith(".gz") else text)
    log.write_text("".join(lines[cut:]))
    ended = (back + dt.timedelta(hours=1)).timestamp()
    for path in tmp_path.iterdir():
        os.utime(path, (ended, ended))
    for year in (["--year", "2026"], []):
        result = cli("-r", "sessions", "-f", "json", "--tz", "Europe/Berlin", *year, log,
                     tmp_path / older)
        assert result.code == 0, result.err
        assert sorted(dt.datetime.fromisoformat(row["start"]) for row in result.json()) == at
