"""--since/--until as an administrator types them, and the zone they are read in.

Relative words are read on a fixed clock (`now`); the log-zone rule runs the command with the
machine's zone set through TZ (time.tzset), as on a server whose clock is not the log's.
"""

import datetime as dt
import re
import time
from pathlib import Path

import pytest

from maillog_sasl.filters import FilterError, parse_moment

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
    ("2018-09-17T06:00:00+09:00", "2018-09-17T06:00:00+09:00", "2018-09-17T06:00:00+09:00"),
    # No year: the latest such day up to today; no date: today.
    ("Dec 30", "2025-12-30T00:00:00+00:00", "2025-12-30T23:59:59.999999+00:00"),
    ("Mar 4", "2026-03-04T00:00:00+00:00", "2026-03-04T23:59:59.999999+00:00"),
    ("Feb 29", "2024-02-29T00:00:00+00:00", "2024-02-29T23:59:59.999999+00:00"),
    ("12:00", "2026-03-04T12:00:00+00:00", "2026-03-04T12:00:59.999999+00:00"),
])
def test_dates_dateutil_reads(text, since, until):
    assert (at(text), at(text, end=True)) == (since, until)


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


def test_a_time_beyond_reach_is_a_filter_error():
    with pytest.raises(FilterError, match="too long ago"):
        parse_moment("99999999999999 days ago", UTC, now=NOW)


# -- the command --------------------------------------------------------------------------------

def users(result):
    assert result.code == 0, result.err
    return [row["user"] for row in result.json()]


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
