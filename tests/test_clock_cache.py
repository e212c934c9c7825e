"""syslog.Clock reads a traditional stamp of a minute it keeps without a call (subscripts in
time()) and an RFC 3339 stamp in one call: the times, offsets, folds and the clock's state must
be those of the Clock before (1928ba2), kept here as Reference, over stamps in any order:
across New Year, Feb 29, the DST changes of zones that go back an hour or half an hour,
stragglers, repeats, forced years, a minute cache cleared often, and stamps of other shapes."""

import copy
import datetime as dt
import importlib

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_sasl import syslog
from maillog_sasl.chunk import ChunkClock
from maillog_sasl.syslog import _SECONDS, ENGLISH_MONTHS, MAX_YEAR, MIN_YEAR, Clock, fixed_zone

time_aside = importlib.import_module("maillog_sasl.correlate").time_aside


class Reference:
    """The Clock of 1928ba2: its time() over a Clock's other methods. A wrapper, not a
    subclass: a Python class cannot derive from the compiled Clock (setup.py)."""

    def __init__(self, clock):
        self.clock = clock

    def aside(self, stamp):
        """correlate.time_aside() of 1928ba2."""
        copied = copy.copy(self.clock)
        copied._minutes = {}
        return Reference(copied).time(stamp)

    def time(self, stamp):
        clock = self.clock
        if stamp == clock._cache_key:
            return clock._cache_value
        if stamp[:1].isdigit():
            try:
                value = dt.datetime.fromisoformat(stamp)
            except ValueError:
                value = syslog._parse_iso(stamp)
            if value is None or value.tzinfo is None or not MIN_YEAR <= value.year <= MAX_YEAR:
                value = None
                if stamp[4:5] == " ":
                    value = clock._year_first(stamp)
                elif stamp[10:11] == "T":
                    value = clock._local_time(stamp)
        else:
            minute = clock._minutes.get(stamp[:12])
            second = _SECONDS.get(stamp[12:15])
            if minute is None or second is None:
                value = clock._traditional(stamp)
            else:
                value = minute + second
        clock._cache_key = stamp
        clock._cache_value = value
        return value


ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")
NAMES = {number: name for name, number in ENGLISH_MONTHS.items()}
# Moments near what moves a clock: New Year, Feb 29, and the DST changes of the zones.
EDGES = [dt.datetime(*when) for when in (
    (2023, 12, 31, 23, 50), (2024, 2, 29, 0, 0), (2023, 2, 28, 23, 55), (2024, 3, 31, 1, 50),
    (2024, 10, 27, 1, 40), (2024, 3, 10, 1, 50), (2024, 11, 3, 0, 45), (2024, 4, 7, 1, 10),
    (2024, 10, 6, 1, 50), (2024, 6, 30, 23, 58))]


def traditional(moment: dt.datetime) -> str:
    return f"{NAMES[moment.month]} {moment.day:2d} {moment:%H:%M:%S}"


@st.composite
def stamps(draw):
    """A sequence of stamps: mostly forward in small steps from an edge, with repeats, lines
    back (a little, or months: stragglers, New Year), and stamps of other shapes."""
    moment = draw(st.sampled_from(EDGES))
    made = []
    for _ in range(draw(st.integers(1, 120))):
        kind = draw(st.integers(0, 19))
        if kind < 11:
            moment += dt.timedelta(seconds=draw(st.integers(0, 200)))
            made.append(traditional(moment))
        elif kind < 14 and made:
            made.append(draw(st.sampled_from(made)))  # a stamp seen before
        elif kind == 14:
            back = moment - dt.timedelta(seconds=draw(st.integers(0, 90 * 60)))
            made.append(traditional(back))
        elif kind == 15:
            months = draw(st.integers(-11, 11))
            other = moment.replace(day=min(moment.day, 28))
            other = other.replace(month=(other.month - 1 + months) % 12 + 1)
            made.append(traditional(other))  # a straggler, or a jump over New Year
        elif kind == 16:
            stamp = traditional(moment)
            made.append(draw(st.sampled_from((
                stamp[:12] + ":60", stamp[:12] + ":7", stamp + "x", stamp[:14], stamp[:12],
                "Feb 30 10:00:00", "Xyz  1 10:00:00", "", "1", "Mar  1 1a:00:00"))))
        elif kind == 17:
            # RFC 3339 and what is nearly so, which Clock must read as fromisoformat() and
            # dateutil read the whole stamp (the midnight it keeps for a day of some is a
            # means): looser times and separators that fromisoformat() reads without the
            # offset, the limits of the years, hour 24.
            offset = draw(st.sampled_from(("Z", "+01:00", "-05:00", "+10:30", "", "z", "+0100",
                                           "-0530", "+01", "+1:00", " +01:00", "+01:00x",
                                           "+24:00", "+01:60")))
            fraction = draw(st.sampled_from(("", ".5", ".123456", ".1234567", ".12345a", ",123456",
                                             ".", ".١٢٣٤٥٦", ".000000", ".999999", ".1+0900")))
            second = draw(st.sampled_from((f"{moment:%S}", "60", "5", "5a")))
            date = draw(st.sampled_from((f"{moment:%Y-%m-%d}",) * 4
                                        + ("9000-12-31", "1970-01-01", "1969-12-31")))
            between = draw(st.sampled_from(("T", "T", "T", " ", "t", "\u0663")))
            clock = draw(st.sampled_from((f"{moment:%H:%M}:{second}",) * 4
                                        + (f"{moment:%H%M}", f"{moment:%H:%M}.12", "24:00:00",
                                           f"24:00:{second}")))
            made.append(f"{date}{between}{clock}{fraction}{offset}")
        elif kind == 18:
            made.append(f"{moment:%Y} {traditional(moment)}")  # its year first
        else:
            made.append(f"{moment:%Y-%m-%dT%H:%M:%S}" + draw(st.sampled_from(("CET", "CEST",
                                                                              "EDT", ""))))
    return made


def state(clock):
    return (clock.year, clock.forced, clock._last_month, clock._latest, clock._second_pass,
            clock._cache_key, dict(clock._minutes))


def same(one, other):
    """Equal times with equal offsets and folds."""
    if one is None or other is None:
        return one is other
    return (one, one.utcoffset(), one.fold, one.replace(tzinfo=None)) == (
        other, other.utcoffset(), other.fold, other.replace(tzinfo=None))


@settings(max_examples=300, deadline=None)
@given(sequence=stamps(), zone=st.sampled_from(ZONES), year=st.sampled_from((None, 2023, 2024)),
       anchor=st.sampled_from(EDGES), kept=st.sampled_from((2, 5, syslog.MINUTES_KEPT)),
       asides=st.sets(st.integers(0, 119), max_size=10))
def test_times_and_state_are_those_of_the_clock_before(sequence, zone, year, anchor, kept,
                                                       asides, monkeypatch_module):
    monkeypatch_module.setattr(syslog, "MINUTES_KEPT", kept)
    monkeypatch_module.setattr(syslog, "DAYS_KEPT", kept)
    zone = tz.gettz(zone)
    anchor = anchor.replace(tzinfo=zone)
    ours, theirs = Clock(year, zone, anchor), Reference(Clock(year, zone, anchor))
    # Each example from an empty cache of days' midnights: one whose result depended on what
    # an example before left there would not shrink or replay.
    syslog._RFC3339_DAYS.clear()
    for index, stamp in enumerate(sequence):
        if index in asides:
            assert same(time_aside(ours, stamp), theirs.aside(stamp)), stamp
        value = ours.time(stamp)
        assert same(value, theirs.time(stamp)), (index, stamp)
        assert state(ours) == state(theirs.clock), (index, stamp)
        if value is not None and isinstance(value.tzinfo, dt.timezone):
            # An offset's one tzinfo object (fixed_zone()), which the Reference does not give.
            assert value.tzinfo is fixed_zone(value.utcoffset()), (index, stamp)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("stamp", ["2026-03-01T15:00:15.123456+01:00", "2026-03-01T15:00:15Z",
                                   "2026-03-01T15:00:15-03:30"])
def test_an_rfc3339_time_has_the_one_tzinfo_of_its_offset(stamp):
    """Times that share their tzinfo object compare without asking it their offset (see
    fixed_zone()): an RFC 3339 stamp's time has it, as a traditional stamp's has."""
    value = Clock(tz=dt.timezone.utc).time(stamp)
    assert value == dt.datetime.fromisoformat(stamp)
    assert value.tzinfo is fixed_zone(value.utcoffset())


def test_a_copy_has_every_slot_of_its_clock_and_shares_a_chunk_clock_s_watch():
    """Clock.__copy__ (correlate.time_aside()'s copies): the slots of the clock's kind."""
    clock = ChunkClock(tz=dt.timezone.utc, anchor=EDGES[0].replace(tzinfo=dt.timezone.utc))
    clock.time("Dec 31 23:50:00")
    twin = copy.copy(clock)
    assert type(twin) is ChunkClock and twin.watch is clock.watch and twin.moved
    assert state(twin) == state(clock) and twin._minutes is clock._minutes


def test_stamps_read_the_slow_way_take_no_day_in_the_cache():
    """Stamps with nine digits of fraction (docker's) and year-first ones with a fraction are
    read as before, and none is kept as a day: an entry each would clear the days kept for
    the RFC 3339 lines every few hundred lines."""
    syslog._RFC3339_DAYS.clear()
    clock = Clock(tz=dt.timezone.utc)
    for second in range(60):
        assert clock.time(f"2026-03-02T00:12:{second:02d}.{second:09d}Z") is not None
        clock.time(f"2013 Jun 16 16:05:{second:02d}.123")
    assert syslog._RFC3339_DAYS == {}
    assert clock.time("2026-03-02T00:12:27.123456Z") == dt.datetime(
        2026, 3, 2, 0, 12, 27, 123456, dt.timezone.utc)
    assert list(syslog._RFC3339_DAYS) == ["2026-03-02Z"]


@pytest.mark.parametrize("year", [2024, None])
def test_a_minute_kept_is_not_the_same_minute_a_year_later(year):
    """A yearless log of more than a year (or one account's lines grepped out of a year of
    logs), read with `--year 2024`: `Nov 15 12:00` a year on was the time kept for it in
    2024's November, before New Year was looked for, so it and every later line of that
    minute fell a year back (and out of a --since/--until)."""
    utc = dt.timezone.utc
    clock = Clock(year, utc, dt.datetime(2025, 3, 1, tzinfo=utc))
    months = ("Nov", "Dec", "Jan", "Jun", "Nov", "Dec", "Jan", "Feb")
    years = [clock.time(f"{month} 15 12:00:{second:02d}").year
             for second, month in enumerate(months)]
    assert years == [2024, 2024, 2025, 2025, 2025, 2025, 2026, 2026]


@pytest.mark.parametrize("steady, zone, read, stamp, kept", [
    # Oct 25 02:00 shows once in Berlin in 2025 and twice in 2026: another year.
    ((2025, "Europe/Berlin", "Oct 25 02:10:00"), "Europe/Berlin", (2026, "Oct 25 01:59:00"),
     "Oct 25 02:20:00", "2026-10-25T02:20:00+02:00"),
    # Nov 1 2026 01:00 shows once in Berlin, twice in New York: another zone.
    ((2026, "Europe/Berlin", "Nov  1 01:10:00"), "America/New_York", (2026, "Nov  1 00:59:00"),
     "Nov  1 01:20:00", "2026-11-01T01:20:00-04:00"),
    # A clock of 2025 at March reads October as a straggler of 2024, whose Oct 27 02:00 shows
    # twice (the second pass: well before the latest time): another month than the clock's.
    ((2025, "Europe/Berlin", "Oct 27 02:10:00"), "Europe/Berlin", (2025, "Mar 10 12:00:00"),
     "Oct 27 02:20:00", "2024-10-27T02:20:00+01:00"),
])
def test_an_hour_found_steady_vouches_for_no_stamp_of_an_hour_shown_twice(steady, zone, read,
                                                                            stamp, kept):
    """Clock.reads_alike() tells a connect of the hour it last found steady by its first nine
    characters (syslog._LAST_STEADY): the same characters of another zone, year or month may
    be of an hour shown twice, whose connect correlate.kept_stamp() must still read at its line
    (as the RFC 3339 stamp of its pass), not keep as it is."""
    kept_stamp = importlib.import_module("maillog_sasl.correlate").kept_stamp
    year, steady_zone, line = steady
    clock = Clock(year, tz.gettz(steady_zone))
    clock.time(line)
    connect = line[:9] + stamp[9:]
    assert kept_stamp(clock, connect) == connect
    assert syslog._LAST_STEADY[0][3] == stamp[:9]
    year, line = read
    clock = Clock(year, tz.gettz(zone))
    clock.time(line)
    assert kept_stamp(clock, stamp) == kept
    assert clock.time(stamp).isoformat() == kept  # the clock in the pass of the connect's line


def kept_stamp_before(clock, stamp):
    """correlate.kept_stamp() with Clock.reads_alike() of a01f9b0, which looked each stamp's
    hour up among the steady ones."""
    alike = not clock._folds or stamp[:12] in clock._minutes
    if not alike and stamp[:1].isdigit():
        alike = syslog._rfc3339_time(stamp) is not None
    elif not alike:
        month, last = syslog.MONTHS.get(stamp[:3]), clock._last_month
        if month is not None and (last is None or month == last) and len(stamp) == 15:
            try:
                day, hour = int(stamp[4:6]), int(stamp[7:9])
            except ValueError:
                day = hour = None
            steady = syslog._STEADY_HOURS.get((id(clock.zone), clock.year, month, day, hour))
            alike = steady is not None and steady[0] is clock.zone
    if alike:
        return stamp
    when = time_aside(clock, stamp)
    if when is None or not clock.shown_twice(when):
        return stamp
    clock.time(stamp)
    return when.isoformat()


@settings(max_examples=300, deadline=None)
@given(sequence=stamps(), zones=st.tuples(*[st.sampled_from(ZONES)] * 2),
       years=st.tuples(*[st.sampled_from((None, 2023, 2024))] * 2),
       anchor=st.sampled_from(EDGES), picks=st.lists(st.integers(0, 3), min_size=120,
                                                      max_size=120))
def test_connects_kept_are_those_of_the_look_before_over_two_clocks(sequence, zones, years,
                                                                     anchor, picks):
    """correlate.kept_stamp() and the clock it moves, at connects of two streams read in turns
    (zones and years alike or not, whose stamps share their first characters), are those of
    the look at each connect's hour before syslog._LAST_STEADY."""
    kept_stamp = importlib.import_module("maillog_sasl.correlate").kept_stamp
    syslog._LAST_STEADY[0] = (None, None, 0, "\0")
    ours, theirs = [], []
    for zone, year in zip(zones, years):
        zone = tz.gettz(zone)
        ours.append(Clock(year, zone, anchor.replace(tzinfo=zone)))
        theirs.append(Clock(year, zone, anchor.replace(tzinfo=zone)))
    for index, (stamp, pick) in enumerate(zip(sequence, picks)):
        one, other = ours[pick // 2], theirs[pick // 2]
        if pick % 2:
            assert kept_stamp(one, stamp) == kept_stamp_before(other, stamp), (index, stamp)
        else:
            assert same(one.time(stamp), other.time(stamp)), (index, stamp)
        assert state(one) == state(other), (index, stamp)
