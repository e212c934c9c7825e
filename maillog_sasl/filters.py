"""filters: which sessions and messages a report shows (--user, --since, --until, --ip,
--country, --asn, --host).

SUMMARY
    Selection.build(users=(), since=None, until=None, ips=(), zone=None, now=None,
                    log_time=None, zone_name=None, countries=(), asns=(), geo=None,
                    hosts=()) -> Selection   (a list of values, or one alone; since and
                    until text as the CLI's, or a datetime or date: without a zone, placed
                    as text without one is)
    Selection.parse(users, since, until, ips, now=None, countries=(), asns=(),
                    hosts=()) -> Selection;
                    selection.resolve(zone=None, log_time=None, zone_name=None) -> the same
                    Selection, its times placed; selection.geo: the enrich.Geo that --country
                    and --asn ask
    selection.session(session, user) / selection.message(message) / selection.user(name)
    selection.ip(address) / selection.host(name) / selection.window(start, end) -> bool
    selection.selects_all() -> bool: no filter given (a report asks once, not per item)
    selection.zone, selection.zone_note: the zone --since/--until were read in, and why
    parse_moment(text, zone=None, end_of_day=False, now=None) -> aware datetime

DESCRIPTION
    Filters choose what is reported; they never touch correlation, which always sees the whole
    log (a message retried after --since keeps the user of its session before it).

    --user: exact name or shell glob (`centos7@*`), case-insensitive, repeatable (any matches).
    --ip: an address or CIDR network, repeatable, IPv4 and IPv6; an IPv4-mapped IPv6 client
    (::ffff:192.0.2.5) is in the IPv4 networks that hold its IPv4 address, and the other way
    round.
    --country CC, --asn N (repeatable, any matches): the client's country or autonomous system
    in `geo`, the GeoIP databases (enrich.Geo); a client they place nowhere matches none.
    Each kind of client filter given must match (--ip and --country: a client in both).
    --host NAME: the sessions and messages a host logged (the syslog host name, case-insensitive,
    repeatable): a central syslog server's file holds several, and a queue ID names a message
    only on its own host.

    --since/--until, as an administrator types them (case-insensitive):
        now, 2h ago, 30 min ago, 3 days ago, 1 week ago, an hour ago   (s, min, h, d, w and
            their long names): that long before now, to the second
        today, yesterday, tomorrow; monday .. sunday, mon .. sun (the latest one, today
            included); last friday (the latest one before today): that day, optionally with a
            time of day (`yesterday 18:00`)
        anything python-dateutil reads: 2018-09-17, '2018-09-17 06:00', 'Sep 17 2018 6am',
            '2018-09-17T06:00+09:00'; a date without a year is its latest occurrence up to today,
            a time without a date is today's.
    A value names a span, to the precision it is written in: --since means its start, --until
    its end, so `--until 2018-09-17` and `--until yesterday` include that whole day, `--until
    'Sep 2018'` the whole month, `--until 06:00` the minute and `--until 06:00:30` the second
    (its fraction in RFC 3339 stamps: 06:00:30.4); a library datetime is the moment it is. A
    session is selected when it overlaps [since, until]; a message when its life in the queue
    (queued .. last line; queued .. on, for one still queued when the log ends: it may be
    there still, and a --since after the log's end selects it too) overlaps it. `now` (the
    clock relative words are read on) can be given, for tests.

    A time without a zone (and the calendar words: which day is today depends on the zone) is
    read in the zone of the log's own timestamps when they carry one (RFC 3339, journald
    short-iso), else in `zone` (--tz), else in the machine's zone. The log's zone is the
    offset of `log_time`, the first timestamp of the inputs; a yearless log's times are made in
    `zone` or the machine's zone, so they agree with it, and that zone (with its daylight saving
    rules) is used whenever it gives the log's first time the log's own offset. `zone_note`
    says which zone was used and why (`+09:00 (the log's)`), for the summary line; it is empty
    when no --since/--until value needed a zone (`2h ago`, a time with its offset).

DIAGNOSTICS
    FilterError (a ValueError) with one readable sentence for a value that is not a time, an
    address, a network, a country code or an AS number (None included), and for --since later
    than --until; the CLI turns it into a usage error.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import fnmatch
import ipaddress
import re
import warnings
from typing import Callable, Dict, Optional, Tuple, Union

from dateutil import tz as _tz

from maillog_sasl.enrich import asn_number, client_network, country_code, lookup_address
from maillog_sasl.model import QUEUED
from maillog_sasl.syslog import fixed_zone, leap_year_by


class FilterError(ValueError):
    pass


# `2h ago`, `30 min ago`, `an hour ago`: that long before now.
_AGO = re.compile(r"(\d+|an?)\s*([a-z]+)\s+ago")
# More digits are no span datetime reaches; int() refuses 4,300 (a traceback).
AGO_DIGITS = 18
_UNITS: Dict[str, int] = {}
for _seconds, _names in ((1, "s sec secs second seconds"), (60, "m min mins minute minutes"),
                         (3600, "h hr hrs hour hours"), (86400, "d day days"),
                         (604800, "w wk wks week weeks")):
    _UNITS.update(dict.fromkeys(_names.split(), _seconds))
_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_WEEKDAYS = {name: number for number, names in enumerate((
    "monday mon", "tuesday tue tues", "wednesday wed", "thursday thu thur thurs", "friday fri",
    "saturday sat", "sunday sun")) for name in names.split()}
# dateutil fills what a text leaves out from a default: two defaults that differ in every field
# tell which fields the text gave (both leap years, both months of 31 days: any date fits).
_EARLY = _dt.datetime(2000, 1, 1)
_LATE = _dt.datetime(2004, 3, 3, 23, 59, 59, 999999)
# `UTC+1`, `GMT-05:00`: dateutil reads the sign as POSIX's TZ does (`UTC+1` an hour behind
# UTC, 10:00 UTC+1 as 11:00 UTC); an administrator means the offset as written.
_UTC_OFFSET = re.compile(r"(?<![A-Z])(?:UTC|GMT)\s*([+-])\s*([0-9]{1,2})(?::?([0-9]{2}))?\b",
                         re.IGNORECASE)
# A fraction of a second written (`06:00:30.25`, `06:00:30,25`).
_FRACTION = re.compile(r":[0-9]{2}[.,][0-9]")
_HINT = "try 2018-09-17, '2018-09-17 06:00', yesterday, monday or '2h ago'"

Fields = Tuple[Optional[int], Optional[int], Optional[int]]  # year, month, day as written
Moment = Union[str, _dt.date, None]  # a --since or --until value (a datetime is a date)


class When:
    """A --since or --until value, read but not yet placed in a zone: at(zone, now) does that.

    One of: `back` (now minus it: `now`, `2h ago`), a calendar word's `day` (today -> that
    day), or the date `fields` dateutil found; then `clock`, the time of day written (None: the
    whole day), and `own_zone`, the zone written with it.
    """

    __slots__ = ("text", "end", "back", "day", "fields", "clock", "own_zone")

    def __init__(self, text: str, end: bool, back: Optional[_dt.timedelta] = None,
                 day: Optional[Callable[[_dt.date], _dt.date]] = None,
                 fields: Fields = (None, None, None), clock: Optional[_dt.time] = None,
                 own_zone: Optional[_dt.tzinfo] = None):
        self.text = text
        self.end = end  # --until: the end of the span the text names
        self.back = back
        self.day = day
        self.fields = fields
        self.clock = clock
        self.own_zone = own_zone

    @property
    def needs_zone(self) -> bool:
        return self.back is None and self.own_zone is None

    def at(self, zone: _dt.tzinfo, now: _dt.datetime) -> _dt.datetime:
        """The aware time this value means in `zone` (unless it has its own), `now` being now."""
        try:
            if self.back is not None:
                moment = (now - self.back).astimezone(zone)
            else:
                zone = self.own_zone if self.own_zone is not None else zone
                today = now.astimezone(zone).date()
                date = self.day(today) if self.day is not None else self._date(today)
                clock = self.clock or (_dt.time.max if self.end else _dt.time.min)
                wall = _dt.datetime.combine(date, clock)
                jump = _skipped(wall, zone)
                if jump is not None:
                    # A wall time the clocks jumped over: what comes after it starts there.
                    moment = (jump - _ONE_MICROSECOND if self.end else jump).astimezone(zone)
                else:
                    # A wall time shown twice (the hour clocks go back): --until the later.
                    moment = wall.replace(fold=int(self.end), tzinfo=zone)
            offset = moment.utcoffset()
            assert offset is not None, "an aware time"
            # The log's times share these tzinfo objects: comparisons of equal ones are cheap.
            return moment.replace(tzinfo=fixed_zone(offset), fold=0)
        except (ValueError, OverflowError, OSError):
            raise FilterError(f"out of range: {self.text!r}") from None

    def _date(self, today: _dt.date) -> _dt.date:
        year, month, day = self.fields
        if year is None and month is None and day is None:
            return today  # a time alone: today's
        guessed = year is None
        if year is None:
            year = today.year
            if month is not None and (month, day or 1) > (today.month, today.day):
                year -= 1  # `Dec 30` read in January: the latest one
            elif month is None:
                month = today.month  # a day of the month alone: this month's
        if month is None:
            month = 12 if self.end else 1
        if guessed and (month, day) == (2, 29):
            year = leap_year_by(year)
        if day is None:
            day = calendar.monthrange(year, month)[1] if self.end else 1
        return _dt.date(year, month, day)


_ONE_MICROSECOND = _dt.timedelta(microseconds=1)


def _skipped(wall: _dt.datetime, zone: _dt.tzinfo) -> Optional[_dt.datetime]:
    """The moment `zone`'s clocks jumped over the naive `wall` time (the hour skipped when
    summer time starts; Santiago's midnight), or None when its clocks show it. A zone's offset
    for such a time is a guess that differs across tzinfo kinds and dateutil versions, either
    side of the jump: --since 02:30 then left out 03:00-03:29 (or took in 01:30-01:59)."""
    if _tz.datetime_exists(wall, zone):
        return None
    before = zone.utcoffset(wall - _dt.timedelta(days=1))
    after = zone.utcoffset(wall + _dt.timedelta(days=1))
    if before is None or after is None or after <= before:
        return None
    as_utc = wall.replace(tzinfo=_dt.timezone.utc)
    # The jump lies between these (low: before it, high: at or after it); halve to it.
    low, high = as_utc - after, as_utc - before
    while high - low > _ONE_MICROSECOND:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) < wall:
            low = middle
        else:
            high = middle
    return high


def _not_a_time(value) -> FilterError:
    return FilterError(f"not a date or time: {value!r} ({_HINT})")


def _offset_as_written(found: "re.Match[str]") -> str:
    return f" {found[1]}{int(found[2]):02d}:{found[3] or '00'}"


def _dateutil_fields(text: str, end: bool) -> Tuple[Fields, Optional[_dt.time],
                                                    Optional[_dt.tzinfo]]:
    """What python-dateutil reads in `text`: (the date fields written, the time of day as the
    span's start or end, None when no time was written; the zone written)."""
    from dateutil import parser as _date_parser  # slow to import; only --since/--until use it

    written = _UTC_OFFSET.sub(_offset_as_written, text)
    try:
        with warnings.catch_warnings():
            # A zone's name dateutil does not know (`CET`, `EST`; only UTC and the machine's
            # own are known) was dropped with a warning: the time was read in another zone.
            warnings.simplefilter("error", _date_parser.UnknownTimezoneWarning)
            early = _date_parser.parse(written, default=_EARLY)
            late = _date_parser.parse(written, default=_LATE)
    except _date_parser.UnknownTimezoneWarning:
        raise FilterError(f"a zone's name is not read: {text!r} (give its offset instead: "
                          "'2018-09-17 06:00 +01:00')") from None
    except (ValueError, OverflowError):
        raise _not_a_time(text) from None
    fields: Fields = (early.year if early.year == late.year else None,
                      early.month if early.month == late.month else None,
                      early.day if early.day == late.day else None)
    clock = None
    if early.hour == late.hour:
        # To the precision written: `--until 06:00` includes that minute, `--until 06:00:30`
        # that second (RFC 3339 stamps keep microseconds: a line at 06:00:30.4 is in it).
        complete = (early.minute, early.second) == (late.minute, late.second)
        clock = (late if end and not complete else early).time()
        if end and complete and _FRACTION.search(text) is None:
            clock = clock.replace(microsecond=999999)  # dateutil makes written seconds whole
    return fields, clock, early.tzinfo


def _day_word(words) -> Optional[Tuple[Callable[[_dt.date], _dt.date], list]]:
    """`today`, `yesterday`, `monday`, `last friday` ... -> (today -> that day, the words left)."""
    first = words[0].rstrip(",")
    if first in _DAYS:
        shift = _dt.timedelta(days=_DAYS[first])
        return (lambda today: today + shift), words[1:]
    last = first == "last" and len(words) > 1
    if last:
        words = words[1:]
        first = words[0].rstrip(",")
    weekday = _WEEKDAYS.get(first)
    if weekday is None:
        return None

    def latest(today: _dt.date) -> _dt.date:
        back = (today.weekday() - weekday) % 7
        return today - _dt.timedelta(days=back or (7 if last else 0))

    return latest, words[1:]


def parse_when(text: str, end: bool = False) -> When:
    """A --since (`end` False) or --until value -> When; FilterError when it is no time."""
    words = text.lower().split()
    if not words:
        raise _not_a_time(text)
    phrase = " ".join(words)
    if phrase == "now":
        return When(text, end, back=_dt.timedelta(0))
    ago = _AGO.fullmatch(phrase)
    if ago is not None:
        unit = _UNITS.get(ago[2])
        if unit is None:
            raise _not_a_time(text)
        try:
            if len(ago[1]) > AGO_DIGITS:
                raise OverflowError
            count = 1 if ago[1] in ("a", "an") else int(ago[1])
            return When(text, end, back=_dt.timedelta(seconds=count * unit))
        except OverflowError:
            raise FilterError(f"too long ago: {text!r}") from None
    found = _day_word(words)
    if found is not None:
        day, rest = found
        if not rest:
            return When(text, end, day=day)
        try:
            fields, clock, zone = _dateutil_fields(" ".join(rest), end)
        except FilterError:
            fields, clock = (0, 0, 0), None
        if fields == (None, None, None) and clock is not None:  # `yesterday 18:00`
            return When(text, end, day=day, clock=clock, own_zone=zone)
        # Not a time of day after the word: dateutil may read the whole (`Mon Sep 17 2018`).
    fields, clock, zone = _dateutil_fields(text, end)
    return When(text, end, fields=fields, clock=clock, own_zone=zone)


def _now(now: Optional[_dt.datetime]) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc)
    return now if now.tzinfo is not None else now.astimezone()  # naive: the machine's time


def parse_moment(text: str, zone=None, end_of_day: bool = False,
                 now: Optional[_dt.datetime] = None) -> _dt.datetime:
    """`2018-09-17`, `yesterday`, `2h ago`, `Sep 17 2018 6am +09:00`... -> aware datetime; a
    time without a zone is in `zone` (default: the machine's); `end_of_day`: the end of the
    span the text names, as --until reads it."""
    return parse_when(text, end_of_day).at(zone if zone is not None else _tz.tzlocal(),
                                           _now(now))


def _offset_text(offset: Optional[_dt.timedelta]) -> str:
    if not offset:
        return "UTC"
    sign = "-" if offset < _dt.timedelta(0) else "+"
    minutes = abs(offset) // _dt.timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def filter_zone(log_time: Optional[_dt.datetime] = None, zone: Optional[_dt.tzinfo] = None,
                zone_name: Optional[str] = None, now: Optional[_dt.datetime] = None,
                ) -> Tuple[_dt.tzinfo, str]:
    """The zone --since/--until without one are read in, and why: (tzinfo, `+09:00 (the
    log's)` | `NAME (--tz)` | `+01:00 (the machine's)`).

    `log_time` is the first timestamp of the logs, `zone` the --tz zone (`zone_name` as the
    user wrote it). The log's offset wins when `zone` (else the machine's zone) would give that
    moment another: then the stamps carried a zone of their own. When they agree (a yearless
    log's times are made in that zone) the zone itself is used, daylight saving rules and all;
    so too when the moment's wall time is one the zone skips, read (as syslog.Clock reads it)
    in the zone's offset before the jump: `Mar 29 02:30:00` of a host whose clock did not move
    on is 02:30+01:00 in Europe/Berlin, which shows that moment as 03:30+02:00.
    """
    fallback = zone if zone is not None else _tz.tzlocal()
    moment = log_time if log_time is not None and log_time.tzinfo is not None else None
    if moment is not None:
        offset = moment.utcoffset()
        if (moment.astimezone(fallback).utcoffset() != offset
                and moment.replace(tzinfo=fallback).utcoffset() != offset):
            assert offset is not None, "an aware time"
            return fixed_zone(offset), f"{_offset_text(offset)} (the log's)"
    shown = (moment or _now(now)).astimezone(fallback).utcoffset()
    if zone is not None:
        return zone, f"{zone_name or _offset_text(shown)} (--tz)"
    return fallback, f"{_offset_text(shown)} (the machine's)"


def parse_network(text: str):
    """An --ip value as a network (an IPv4-mapped one as IPv4); FilterError when it is none."""
    try:
        return client_network(text)
    except ValueError:
        raise FilterError(
            f"not an IP address or network: {text!r} (try 192.0.2.7 or 192.0.2.0/24)") from None


def _values(values) -> list:
    """A filter's values (the library's): one alone is one value, not its characters; None
    is none, as for since and until."""
    if values is None:
        return []
    return [values] if isinstance(values, (str, int)) else list(values)


def _texts(values, what: str) -> list:
    """_values() that are text; FilterError for one that is not (None)."""
    values = _values(values)
    for value in values:
        if not isinstance(value, str):
            raise FilterError(f"not {what}: {value!r}")
    return values


def _moment_text(value) -> str:
    """A --since/--until value: the library's datetime or date as its ISO text (read as text
    is: without an offset, in the zone resolve() places it in; a date, the whole day)."""
    if isinstance(value, _dt.datetime):
        return value.isoformat(timespec="microseconds")  # a moment, not the second it is in
    if isinstance(value, _dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise _not_a_time(value)
    return value


class Selection:
    """The report's filters; an empty Selection selects everything."""

    def __init__(self, users=(), since: Optional[_dt.datetime] = None,
                 until: Optional[_dt.datetime] = None, networks=(), countries=(), asns=(),
                 geo=None, hosts=()):
        self.user_patterns = [pattern.lower() for pattern in users]
        self.hosts = frozenset(name.lower() for name in hosts)
        self.since = since
        self.until = until
        self.networks = list(networks)
        self.countries = frozenset(country.upper() for country in countries)
        self.asns = frozenset(asns)
        self.geo = geo  # enrich.Geo, for --country and --asn
        self._ip_cache: Dict[str, bool] = {}
        # The zone --since/--until were placed in, and `+09:00 (the log's)` when one of them
        # needed it (empty otherwise): for the summary line.
        self.zone: Optional[_dt.tzinfo] = None
        self.zone_note = ""
        # resolve() was given a zone or the logs' first time: the caller placed the times.
        self.placed = False
        self._when: Tuple[Optional[When], Optional[When]] = (None, None)
        self._now = _now(None)

    @classmethod
    def build(cls, users=(), since: Moment = None, until: Moment = None, ips=(),
              zone: Optional[_dt.tzinfo] = None, now: Optional[_dt.datetime] = None,
              log_time: Optional[_dt.datetime] = None,
              zone_name: Optional[str] = None, countries=(), asns=(),
              geo=None, hosts=()) -> "Selection":
        """From the CLI's strings (each filter a list of them, or one alone; since and until
        also a datetime or a date); raises FilterError on a bad value. parse() then resolve():
        `zone` is --tz (`zone_name` its text), `log_time` the logs' first timestamp, `now` the
        clock relative words are read on (default: now); `geo` answers --country and --asn."""
        selection = cls.parse(users, since, until, ips, now, countries, asns, hosts)
        selection.geo = geo
        return selection.resolve(zone, log_time, zone_name)

    @classmethod
    def parse(cls, users=(), since: Moment = None, until: Moment = None, ips=(),
              now: Optional[_dt.datetime] = None, countries=(), asns=(),
              hosts=()) -> "Selection":
        """The filters read and checked (FilterError on a value that is no time, address,
        network, country code or AS number), before the logs are opened; resolve() then places
        --since/--until in the zone of the logs (until then they are placed in the machine's
        zone, unchecked)."""
        users, hosts = _texts(users, "a user name"), _texts(hosts, "a host name")
        try:
            codes = [country_code(text) for text in _texts(countries, "a country code")]
            numbers = [asn_number(str(text)) for text in _values(asns)]
        except ValueError as error:
            raise FilterError(str(error)) from None
        selection = cls(users, networks=[parse_network(ip) for ip in _texts(
            ips, "an IP address or network")], countries=codes, asns=numbers, hosts=hosts)
        selection._when = (parse_when(_moment_text(since)) if since else None,
                           parse_when(_moment_text(until), end=True) if until else None)
        selection._now = _now(now)
        selection._place(_tz.tzlocal(), "")
        return selection

    def resolve(self, zone: Optional[_dt.tzinfo] = None, log_time: Optional[_dt.datetime] = None,
                zone_name: Optional[str] = None) -> "Selection":
        """Place --since/--until in the zone filter_zone() picks (the log's, else `zone`, else
        the machine's) and check their order (FilterError); returns the Selection itself."""
        self._place(*filter_zone(log_time, zone, zone_name, self._now))
        self.placed = zone is not None or log_time is not None
        if self.since is not None and self.until is not None and self.since > self.until:
            first, last = self._when
            raise FilterError(
                f"--since {first.text if first else self.since.isoformat()!r} "
                f"({self.since.isoformat()}) is later than --until "
                f"{last.text if last else self.until.isoformat()!r} ({self.until.isoformat()})")
        return self

    def _place(self, zone: _dt.tzinfo, note: str) -> None:
        first, last = self._when
        if first is not None:
            self.since = first.at(zone, self._now)
        if last is not None:
            self.until = last.at(zone, self._now)
        if first is not None or last is not None:
            self.zone = zone
        needed = any(when is not None and when.needs_zone for when in self._when)
        self.zone_note = f"times in {note}" if needed and note else ""

    def user(self, name: Optional[str]) -> bool:
        if not self.user_patterns:
            return True
        if name is None:
            return False
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in self.user_patterns)

    @property
    def by_client(self) -> bool:
        """Whether a filter chooses by client: --ip, --country or --asn."""
        return bool(self.networks or self.countries or self.asns)

    def selects_all(self) -> bool:
        """Whether no filter was given: every session and message passes. The reports ask once,
        not for each item."""
        return (not self.user_patterns and not self.by_client and not self.hosts
                and self.since is None and self.until is None)

    def ip(self, address: str) -> bool:
        """Whether a client at `address` passes --ip, --country and --asn."""
        if not self.by_client:
            return True
        found = self._ip_cache.get(address)
        if found is None:
            found = self._ip_cache[address] = self._client(address)
        return found

    def host(self, name: Optional[str]) -> bool:
        """Whether what host `name` logged passes --host."""
        return not self.hosts or (name is not None and name.lower() in self.hosts)

    def _client(self, address: str) -> bool:
        if self.networks:
            looked_up = lookup_address(address)
            if looked_up is None:
                return False
            parsed = ipaddress.ip_address(looked_up)
            if not any(parsed in network for network in self.networks):
                return False
        if self.countries or self.asns:
            if self.geo is None:
                return False
            place = self.geo.lookup(address)
            if self.countries and place.country not in self.countries:
                return False
            if self.asns and place.asn not in self.asns:
                return False
        return True

    def window(self, start: Optional[_dt.datetime], end: Optional[_dt.datetime]) -> bool:
        if self.since is not None:
            latest = end or start
            if latest is not None and latest < self.since:
                return False
        if self.until is not None:
            earliest = start or end
            if earliest is not None and earliest > self.until:
                return False
        return True

    def session(self, session, user: Optional[str]) -> bool:
        return (self.user(user) and self.ip(session.client_ip) and self.host(session.host)
                and self.window(session.start, session.end))

    def message(self, message) -> bool:
        return (self.user(message.sasl_username) and self.ip(message.client_ip)
                and self.host(message.host) and self._in_queue(message))

    def _in_queue(self, message) -> bool:
        """Whether the message's life in the queue overlaps [since, until]. One still queued
        when the log ends waited there from its queueing on, whatever its last line: qmgr
        retries it only every so often (maximal_backoff_time apart, 4000 s by default), and
        never once `postsuper -h` put it on hold; as far as the log knows, it waits still."""
        if message.state == QUEUED:
            return self.until is None or message.queued <= self.until
        return self.window(message.queued, message.end or message.last_time)
