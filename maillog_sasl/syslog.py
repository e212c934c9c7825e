"""syslog: split a syslog line into its stamp, host, program and message; turn stamps into times.

SUMMARY
    split_line(line) -> (stamp, host, tag, text) | None
    parse_program(tag) -> (syslog_name, daemon, pid) | None
    nested_line(text) -> the syslog line in another's text | None
    container_host(host, tag) -> the host of a line naming none inside another's
    syslog_repeat(text) -> (times, message) of rsyslog's `message repeated N times: [ ...]`
    last_repeat(line, before) -> (times, line) of a BSD syslogd's `last message repeated N times`
    is_last_repeat(line) -> bool: has it that shape
    has_stamp(text), rfc3339_start(text) -> bool: can it start with a stamp; an RFC 3339 one
    english_stamp(text) -> (`Jun 15 12:20:28`, its end) of a stamp with a month in any language
    Clock(year=None, tz=None, anchor=None).time(stamp) -> aware datetime | None;
        .start_in(year, month)      the year and month of its first yearless stamp
        .latest, .last_month        the latest time it made; the month of its last yearless
                                    stamp (None before one)
        .year_guessed(month, day)   the year its anchor gives a yearless stamp of that day
        .continue_from(clock), .continue_stream(clock)   the year, the pass through a repeated
                                    hour where the clock of the file read before left them
    fixed_zone(offset) -> the one tzinfo object of that UTC offset
    leap_year_by(year) -> the latest leap year not after `year`: a yearless Feb 29's year
    unlike_zone_name(stamp, zone) -> (the stamp's zone name, `zone`'s then) when they differ
    slots_state(record, fields), set_slots(record, state)   a record pickled as a plain class
                                    with `fields` as its __slots__ is (compiled or not), and back

DESCRIPTION
    Every prefix form Postfix's lines arrive with (docs/postfix-log-reference.md §3):
    traditional `Sep 17 12:48:22` (space- or zero-padded day, no year; the month in English,
    or as journalctl writes it under another locale: `авг 09 04:49:15`, `févr. 09 ...`, ` 4月
    09 ...`, every name glibc writes in the locales of months.py, at any width: a stamp whose
    month is not three characters wide is made the English one, english_stamp(); a fraction
    after the seconds, journalctl's short-precise, is dropped), RFC 3339 with an optional
    fraction and `Z` or `+hh:mm`, journald short-iso `+hhmm`, a traditional stamp behind its
    year with or without a fraction (`2013 Jun 16 16:05:06.123`: an rsyslog template, syslog-ng's
    `$YEAR $DATE`), each optionally behind a `<PRI>`; boky/postfix's RFC 3339 lines with a
    severity where the host goes (SEVERITIES, read as NO_HOST's); RFC 5424 lines (`<22>1 STAMP
    HOST APP PROCID MSGID STRUCTURED-DATA MSG`: the tag made `APP[PROCID]:`, the data skipped);
    BusyBox's `facility.priority` and AIX's `facility:priority` between host and tag,
    FreeBSD's syslogd -v's `<facility.priority>` (by number, or by name with -vv: `<mail.info>`)
    between stamp and host;
    journalctl's short-full (`Tue 2023-11-14 22:13:20 CET`: the stamp made one word,
    `2023-11-14T22:13:20CET`, RFC 3339 when the zone is UTC or an offset); any of the others
    behind `docker logs -t`'s RFC 3339 stamp (the line's own stamp is the one read; the
    runtime's only for a line without one), behind `docker compose logs`' `name | `, with
    or without its -t, and behind `kubectl logs --prefix`'s `[pod/NAME/CONTAINER] ` (a line
    that names no host behind these two takes the container's or pod's name: _named()).
    (journalctl's short-unix stamps are made RFC 3339 ones by sources.Unwrapper, once an input
    is known to be of them.) A stamp split_line() returns (the line's own, or the one made of
    it: short-full's, a month's of another width) is one a line starts with that split_line()
    reads as it was: a line made of the four parts is read as they are.

    split_line() does only string slicing so that a caller can throw a line away before paying
    for its time. A Clock turns stamps into aware datetimes: ISO stamps keep their own offset
    (as its one tzinfo object, fixed_zone());
    yearless stamps get a year (from `year`, or from `anchor`, the moment the stream is known to
    end before: a file's last line when its stamp names the year, else the file's modification
    time) and the offset of `tz` (local time when
    None) at that moment; a stamp with its year first, and an ISO one without an offset (short-
    full's local times), keep their year and take that offset. The year advances when the
    months run backwards (Dec -> Jan), and a line a little out of order across New Year stays
    in the old year. Conversions are cached per distinct stamp: neighbouring lines share their
    second; and a zone is asked its offset once an hour, not once a minute (an hour in which
    the offset changes, or that shows twice, is asked each time).

    rsyslog's repeated-message reduction ($RepeatedMsgReduction on: Ubuntu's rsyslog.conf)
    writes a message that a process logs again at once only the first time; before the next
    other message it writes `message repeated N times: [ MESSAGE]` with the tag, and the
    stamp of the last of them (rsyslog's ratelimit.c: "message repeated %d times: [%.800s]",
    MESSAGE with the space it starts with, cut at 800 characters). syslog_repeat() reads that
    text; the correlator applies MESSAGE N times (correlate.py). A BSD syslogd (FreeBSD's, whose
    reduction is on by default; sysklogd's) writes `STAMP HOST last message repeated N times`
    instead, no tag, about the line before it in the file; last_repeat() gives that line with
    the repeat line's stamp (the last one's).

DIAGNOSTICS
    Never raises on log content: a line without the shape of a syslog line gives None, and so
    does a stamp that names no real date (Feb 30) or a month in no language read (the
    correlator counts the lines of use so lost: Stats.unread_stamps).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import re
import sys
import warnings
from typing import Dict, Final, List, Optional, Tuple

from dateutil import tz as _tz

from maillog_sasl.months import LOCALE_MONTHS

# A traditional stamp's month. Syslog daemons write it in English; journalctl writes its short
# format's in the reader's locale (strftime's %b under LC_TIME), so `journalctl -u postfix >
# mail.log` under ru_RU gives `авг 09 04:49:15 host postfix/pickup[...]`, under el_GR `Απρ 15
# ...`, under ja_JP ` 4月 15 ...`. Read: every name glibc writes in the locales of months.py
# (its %b and %Ob: the names of older glibc too), padded as glibc pads it or not; no name there
# is two months. Where a line's shape is guessed from its first word (has_stamp: the text of a
# container's line) only the English names count: a host `mail` starts like pt's and ro's `mai`.
ENGLISH_NAMES: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec")
ENGLISH_MONTHS = {name: number for number, name in enumerate(ENGLISH_NAMES, 1)}
LOCAL_MONTHS = {name: number for _, names in LOCALE_MONTHS
                for number, written in enumerate(names, 1) for name in (written, written.strip())}
# The names three characters wide (English, Greek `Απρ`, ja_JP's ` 4月`): a stamp of such a month
# and a padded day is 15 characters, cut where the English one is, at no more cost. A stamp of
# another month (fr_FR's `févr.`, ko_KR's `4월`) is read through english_stamp().
MONTHS = {name: number for name, number in LOCAL_MONTHS.items() if len(name) == 3}
# Such a stamp: the month (to be looked up without its padding), the day padded with a space or
# a zero or not at all, the time, perhaps a fraction of the second (journalctl's short-precise).
_LOCALE_STAMP = re.compile(r" ?(\S.{0,%d}?) +([0-9]{1,2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})"
                           r"(?:\.[0-9]{1,9})?" % (max(map(len, LOCAL_MONTHS)) - 1))


def english_stamp(text: str) -> Optional[Tuple[str, int]]:
    """(the English traditional stamp, `Jun 15 12:20:28`, where it ends in `text`) of a stamp
    `text` starts with whose month is named in any of LOCAL_MONTHS' languages, at any width;
    None when it starts with none. The seconds' fraction is dropped, as a traditional stamp's."""
    found = _LOCALE_STAMP.match(text)
    month = LOCAL_MONTHS.get(found[1]) if found is not None else None
    if found is None or month is None:
        return None
    return f"{ENGLISH_NAMES[month - 1]} {found[2]:>2} {found[3]}", found.end()


def split_line(line: str, prefixes: int = 0) -> Optional[Tuple[str, str, str, str]]:
    """Cut `line` (no line end) into (stamp, host, tag, text); tag is `prog[pid]:`, or
    `prog[pid]` after a traditional or RFC 3339 stamp: rsyslog writes the tag of a message it
    received in RFC 5424 form (FreeBSD's syslog(3) since 12, a relay's) as APP-NAME[PROCID],
    with no colon, into those file formats (`... mail postfix/smtpd[99525] 2D19728491: ...`;
    rsyslog#557, #4891). A third word that ends in `]` is such a tag, cut as one with its colon
    (as Correlator.feed() cuts a line whose tag it knows): no other shape has a word so ended
    there, and a client's text further on (a `docker compose` bar in a warning it is quoted in)
    is never read as the line.

    Every line of a log passes through here, so it only slices and splits, and returns a plain
    tuple: deciding that a line is of no use must cost as little as possible. The common forms
    are tried first; the rarer ones only when those fail. `prefixes` counts the prefixes (a
    container's, a runtime's stamp, a PRI) already taken off the line (_behind_prefix()).
    """
    if line[15:16] == " ":
        # Traditional stamps are exactly 15 characters: "Sep 17 12:48:22" or "Dec  2 22:24:22".
        fields = line[16:].split(" ", 2)
        if len(fields) == 3 and (fields[1][-1:] == ":" or fields[1][-1:] == "]"):
            return line[:15], fields[0], fields[1], fields[2]
        if line[:1] == "<":
            # `<22>2013 Jun 16 16:05:06.123`: a two-digit PRI and a year-first stamp put a
            # space where a traditional stamp ends (before BusyBox's word: a host `mail.lan`
            # looks like one). Not tested before this branch: every ISO line would pay for the
            # test, 4% of the instructions of reading an ISO log.
            parsed = _after_pri(line, prefixes)
            if parsed is not None:
                return parsed
        if len(fields) == 3:
            parsed = (_after_priority(line[:15], *fields) if fields[0][:1] != "<"
                      else _after_facility_priority(line[:15], *fields))
            if parsed is not None:
                return parsed
        # Else perhaps a `docker compose logs` prefix of 15 characters, below.
    elif line[:1].isdigit():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            if parts[2][-1:] == ":" or parts[2][-1:] == "]":
                if parts[1] == WIDEST_SEVERITY:
                    return parts[0], NO_HOST, parts[2], parts[3]
                return parts[0], parts[1], parts[2], parts[3]
            if parts[1] in SEVERITIES and parts[2] == "":
                return _after_severity(line, parts[0])
            if has_stamp(parts[1]) and rfc3339_start(line):
                # `docker logs -t` (`kubectl logs --timestamps`): the runtime's stamp before
                # the line Postfix wrote, whose own stamp is the one read. A line without one
                # is read by the runtime's, as an RFC 3339 line.
                inner = _behind_prefix(line[len(parts[0]) + 1:], prefixes)
                if inner is not None:
                    return inner
            if parts[1] in ENGLISH_MONTHS and len(parts[0]) == 4:
                return _year_first(line)
            return (_after_priority(parts[0], parts[1], parts[2], parts[3])
                    or _local_month(line, prefixes))  # ko_KR's `4월 15 ...`
    elif line[:1] == "<":
        parsed = _after_pri(line, prefixes)
        if parsed is not None:
            return parsed
    elif (line[3:4] == " " and line[5:6] == " " and line[4:5].isdigit()
          and line[:3] in ENGLISH_MONTHS):
        # A day without its padding ("Aug 3 15:30:49"): some syslog daemons, hand-made samples.
        return _behind_prefix(line[:4] + " " + line[4:], prefixes)
    elif line[15:16] == "." and line[:3] in MONTHS:
        # A fraction after the seconds (`Aug 09 04:49:15.123456`): journalctl -o short-precise,
        # syslog-ng's frac-digits(). Read to the second, as every traditional stamp is.
        end = line.find(" ", 17, 23)
        fraction = line[16:end]
        if end > 0 and fraction.isascii() and fraction.isdigit():
            fields = line[end + 1:].split(" ", 2)
            if len(fields) == 3 and fields[1][-1:] == ":":
                return line[:15], fields[0], fields[1], fields[2]
    elif line[:3] in WEEKDAYS and line[3:4] == " ":
        # journalctl -o short-full: `Tue 2023-11-14 22:13:20 CET host ...`.
        parsed = _weekday_first(line)
        if parsed is not None:
            return parsed
    if line[:5] == "[pod/":
        # `kubectl logs --prefix`: "[pod/NAME/CONTAINER] " before the line (and its stamp,
        # with --timestamps).
        close = line.find("] ", 5, POD_PREFIX_WITHIN)
        if close > 0:
            return _named(_behind_prefix(line[close + 2:], prefixes),
                          line[5:close].partition("/")[0])
    bar = line.find("| ", 0, PREFIX_BAR_WITHIN)
    if bar > 0:
        # `docker compose logs`: "postfix-mailcow_1    | Dec 21 ..." (and pastes of it); with
        # -t, the runtime's stamp comes before the line Postfix wrote (read as docker logs -t).
        parsed = _named(_behind_prefix(line[bar + 2:].lstrip(" "), prefixes), line[:bar].strip())
        if parsed is not None:
            return parsed
    return _local_month(line, prefixes)


def _local_month(line: str, prefixes: int) -> Optional[Tuple[str, str, str, str]]:
    """split_line() of a line whose stamp is not cut at 15 characters: its month's name is of
    another width (`févr. 15 12:20:28`, `4월 15 ...`) or its day not padded (`Απρ 5 ...`). Its
    stamp is made the English one (english_stamp()), as a line made of the four parts must
    start; an English stamp is not read here again."""
    stamp = english_stamp(line)
    if stamp is None or line[stamp[1]:stamp[1] + 1] != " " or line.startswith(stamp[0]):
        return None
    return _behind_prefix(stamp[0] + line[stamp[1]:], prefixes)


def _behind_prefix(rest: str, prefixes: int) -> Optional[Tuple[str, str, str, str]]:
    """split_line() of `rest`, the line behind the `prefixes + 1`th prefix taken off it; None
    behind more than MOST_PREFIXES. Real logs nest three at most (`docker compose logs -t`:
    the service's bar, the runtime's stamp, a PRI), while a line of attacker text or garbage
    can repeat a prefix's shape thousands of times: read on, each would be a Python call
    deeper, past the interpreter's recursion limit."""
    return split_line(rest, prefixes + 1) if prefixes < MOST_PREFIXES else None


MOST_PREFIXES = 4


def _named(parsed: Optional[Tuple[str, str, str, str]],
           container: str) -> Optional[Tuple[str, str, str, str]]:
    """`parsed`, a line behind a container's prefix, with the container's name as its host if
    it names none (NO_HOST): two containers' processes of one pid are then two."""
    if parsed is not None and parsed[1] == NO_HOST and container and " " not in container:
        return parsed[0], container, parsed[2], parsed[3]
    return parsed


# How far into a line the `| ` of a container log's prefix may be; and the `] ` of kubectl's
# (a pod's name may have 253 characters, its container's 63).
PREFIX_BAR_WITHIN = 80
POD_PREFIX_WITHIN = 330


# journalctl -o short-full's weekday (in English whatever the locale: systemd 232 on) and the
# date and time after it.
WEEKDAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
_FULL_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# The stamp made of it when its zone is a name (or none): a local time.
_LOCAL_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]{1,9}))?([A-Za-z]*)")
# What its zone may be written as when it is a fixed offset: tzdata's names of a zone without
# letters for it (`+03`, `-0330`), and UTC (journalctl --utc; GMT from gmtime()).
_NUMERIC_ZONE = re.compile(r"[+-][0-9]{2}(?:[0-9]{2})?")
# The offsets of RFC 3339 (and the ISO basic +hhmm that journalctl writes): the zones of the
# stamps whose day's midnight Clock keeps (_rfc3339_time()).
_RFC3339_OFFSET = re.compile(r"[Zz]|[+-][0-9]{2}:?[0-9]{2}")
_UTC_NAMES = frozenset(("UTC", "GMT"))


def _weekday_first(line: str) -> Optional[Tuple[str, str, str, str]]:
    """journalctl -o short-full's line: `Tue 2023-11-14 22:13:20 CET host tag: text`, the zone
    the abbreviation strftime's %Z gives (none when the system has none). The stamp is made
    one word, as a line made of the four parts must start (parallel.py hands lines back so):
    RFC 3339 `2023-11-14T22:13:20+00:00` when the zone is UTC or an offset, else a local time,
    `2023-11-14T22:13:20CET` or `2023-11-14T22:13:20` (Clock._local_time())."""
    if line[23:24] != " " or _FULL_STAMP.fullmatch(line, 4, 23) is None:
        return None
    stamp = f"{line[4:14]}T{line[15:23]}"
    fields = line[24:].split(" ", 3)
    if len(fields) >= 3 and fields[1][-1:] == ":":  # no zone: a host ends in no colon
        return stamp, fields[0], fields[1], " ".join(fields[2:])
    if len(fields) < 4 or fields[2][-1:] != ":":
        return None
    zone, host, tag, text = fields
    if zone in _UTC_NAMES:
        stamp += "+00:00"
    elif _NUMERIC_ZONE.fullmatch(zone):
        stamp += f"{zone[:3]}:{zone[3:] or '00'}"
    elif zone.isascii() and zone.isalpha():
        stamp += zone
    else:
        return None
    return stamp, host, tag, text


def _after_pri(line: str, prefixes: int) -> Optional[Tuple[str, str, str, str]]:
    """split_line() of what follows a `<PRI>`, None when there is no PRI."""
    close = line.find(">", 1, 6)
    if close > 0 and line[1:close].isdigit():
        rest = line[close + 1:]
        if rest[:2] == "1 ":
            parsed = _rfc5424(rest)
            if parsed is not None:
                return parsed
        return _behind_prefix(rest, prefixes)
    return None


def _rfc5424(header: str) -> Optional[Tuple[str, str, str, str]]:
    """An RFC 5424 line after its PRI: `1 STAMP HOST APP PROCID MSGID SD [MSG]` (rsyslog's
    RSYSLOG_SyslogProtocol23Format, syslog-ng's syslog-protocol flag). The tag is made as a
    BSD line has it, `APP[PROCID]:`; the structured data is skipped. None when it is not one
    (a stamp that is not RFC 3339: `-`, the NILVALUE, gives no time either)."""
    parts = header.split(" ", 6)
    # An APP-NAME that ends in `:` is a BSD tag: the rest is not RFC 5424's fields.
    if len(parts) != 7 or not rfc3339_start(parts[1]) or parts[3][-1:] == ":":
        return None
    _, stamp, host, app, procid, _, data = parts
    text = _after_structured_data(data)
    if text is None:
        return None
    tag = app + ":" if procid == "-" else f"{app}[{procid}]:"
    # MSG in UTF-8 may start with a byte order mark; rsyslog's %msg% of a line it received in
    # the BSD form starts with the space after the tag. Postfix's text starts with neither.
    if text[:1] in ("\ufeff", " "):
        text = text[1:]
    return stamp, host, tag, text


def _after_structured_data(data: str) -> Optional[str]:
    r"""What follows RFC 5424's STRUCTURED-DATA at the start of `data`: `-`, or elements
    `[id name="value" ...]` whose quoted values may hold `]`, `\"`, `\]` and `\\`."""
    if data[:1] == "-":
        end = 1
    else:
        end = 0
        while data[end:end + 1] == "[":
            quoted = False
            end += 1
            while end < len(data):
                character = data[end]
                end += 1
                if quoted and character == "\\":
                    end += 1
                elif character == '"':
                    quoted = not quoted
                elif character == "]" and not quoted:
                    break
            else:
                return None
        if end == 0:
            return None
    if end == len(data):
        return ""
    return data[end + 1:] if data[end] == " " else None


# Where the time of a stamp with its year first starts: "2013 Jun 16 16:05:06.123".
YEAR_FIRST_TIME = 12
# Such a stamp whole: ASCII digits where its numbers are (int() takes others, a sign, spaces).
_YEAR_FIRST_STAMP = re.compile(r"[0-9]{4} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"
                               r"(?:\.[0-9]{1,6})?")


def _year_first(line: str) -> Optional[Tuple[str, str, str, str]]:
    """A traditional stamp behind its year, its seconds with or without a fraction: `2013 Jun
    16 16:05:06.123 gds39d postfix/smtpd[7052]: ...`, written by an rsyslog template (the one
    Postfix Deliverability Analytics' README has mail.log written with) or syslog-ng's
    `$YEAR $DATE`. The day is two characters, padded with a zero or a space."""
    if line[4:5] != " " or line[8:9] != " " or line[11:12] != " ":
        return None
    fields = line[YEAR_FIRST_TIME:].split(" ", 3)
    if len(fields) < 4 or fields[2][-1:] != ":":
        return None
    seconds, host, tag, text = fields
    return line[:YEAR_FIRST_TIME + len(seconds)], host, tag, text


# boky/postfix's (bokysan/docker-postfix) default log format, its rsyslog template `plain`:
# no host; after the RFC 3339 stamp, the severity in capitals padded to SEVERITY_WIDTH and a
# space (`2024-02-08T16:42:00.441548+00:00 INFO    postfix/relay/smtp[364]: ...`). Its lines
# are read with the host NO_HOST, as every line that names none (sources.py: musl's, a journal
# entry's without _HOSTNAME). The one name as wide as the field, WARNING, leaves one space
# before the tag as a host does: a host so named is read as that severity (Correlator.feed()
# cuts such a line so too).
SEVERITIES: Final = frozenset(("EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO",
                               "DEBUG"))
SEVERITY_WIDTH: Final = 7
WIDEST_SEVERITY: Final = "WARNING"
NO_HOST: Final = "localhost"


def _after_severity(line: str, stamp: str) -> Optional[Tuple[str, str, str, str]]:
    """split_line() of a line of boky/postfix's format whose severity is padded (SEVERITIES)."""
    tag_at = len(stamp) + 1 + SEVERITY_WIDTH + 1
    if line[tag_at - 1:tag_at] != " " or line[tag_at:tag_at + 1] == " ":
        return None
    tag, _, text = line[tag_at:].partition(" ")
    return (stamp, NO_HOST, tag, text) if tag[-1:] == ":" or tag[-1:] == "]" else None


# syslog's facility and priority names (syslog.conf(5): Linux's, the BSDs', AIX's), and their
# older spellings.
FACILITIES: Final = frozenset(
    "kern user mail daemon auth authpriv syslog lpr news uucp cron ftp ntp security console "
    "local0 local1 local2 local3 local4 local5 local6 local7 aso caa".split())
PRIORITIES: Final = frozenset("emerg panic alert crit err error warning warn notice info "
                              "debug".split())


def _after_priority(stamp: str, host: str, word: str, rest: str):
    """BusyBox syslogd writes `facility.priority` between host and tag: `May 30 22:00:35 gr
    mail.warn postfix/smtps/smtpd[27561]: warning: ...`; AIX's syslogd `facility:priority`:
    `Sep  7 15:43:25 smtpsv1 mail:info postfix/smtpd[90288]: ...`. The colon's form only of
    syslog's names (FACILITIES, PRIORITIES): a word with a colon in the tag's place of another
    line is not taken for one, and its tag lost."""
    dot = word.find(".")
    if dot > 0:
        if not word[:dot].isalnum() or not word[dot + 1:].isalpha():
            return None
    else:
        facility, colon, priority = word.partition(":")
        if not colon or facility not in FACILITIES or priority not in PRIORITIES:
            return None
    tag, _, text = rest.partition(" ")
    return (stamp, host, tag, text) if tag[-1:] == ":" else None


def _after_facility_priority(stamp: str, word: str, host: str, rest: str):
    """FreeBSD's syslogd -v writes the message's facility and priority between stamp and host,
    by number (`<2.6>`), -vv by name (`<mail.info>`; syslogd.c fprintlog(): "<%s.%s> "):
    `Jan 21 19:06:28 <mail.info> xyz dovecot: imap-login: ...`. No host starts with `<`."""
    if _FACILITY_PRIORITY.fullmatch(word) is None:
        return None
    tag, _, text = rest.partition(" ")
    return (stamp, host, tag, text) if tag[-1:] == ":" else None


# FreeBSD's syslogd -v: `<facility.priority>`, by name or by number.
_FACILITY_PRIORITY = re.compile(r"<[a-z0-9]+\.[a-z0-9]+>")


# What the text of rsyslog's line for a message it did not write again starts with; more than
# MOST_REPEATS is no count of a Postfix process's lines (a hundred bytes would make a day's
# work): such a line is not read as one.
REPEATED: Final = "message repeated "
MOST_REPEATS = 100_000
# rsyslog writes only the first 800 characters of the line it repeats ("%.800s").
REPEAT_CUT = 800
# The patterns are compiled at their first use (re's cache): most logs have no repeat line,
# and compiling the three at start-up cost every run 3.5 M instructions.
_REPEAT = r"message repeated ([1-9][0-9]{0,5}) times: \[ ?(.*)\]"


LAST_REPEATED: Final = "last message repeated "
_LAST_REPEAT_TEXT = r"last message repeated ([1-9][0-9]{0,5}) times"
_LAST_REPEAT_LINE = (
    r"([A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}T\S+) "
    r"(?:" + _FACILITY_PRIORITY.pattern + r" )?(\S+) last message repeated ([1-9][0-9]{0,5}) times")


def is_last_repeat(line: str) -> bool:
    """Has `line` the shape of a BSD syslogd's repeat line (last_repeat())? (Text that merely
    holds the words, an attacker's username, is no such line.)"""
    if LAST_REPEATED not in line:
        return False
    parsed = split_line(line)
    return bool(re.fullmatch(_LAST_REPEAT_TEXT, parsed[3]) if parsed is not None
                else re.fullmatch(_LAST_REPEAT_LINE, line))


def last_repeat(line: str, before: Optional[str]) -> Optional[Tuple[int, str]]:
    """(N, `before` with the stamp of `line`) when `line` is a BSD syslogd's `STAMP HOST last
    message repeated N times` (or one with the tag of `before`: `STAMP HOST TAG: last message
    ...`; FreeBSD's -v: `STAMP <mail.warn> HOST last ...`) about `before`, the syslog line
    before it, of the same host; else None."""
    repeated = split_line(before) if before is not None else None
    if repeated is None:
        return None
    _, host, tag, text = repeated
    parsed = split_line(line)
    if parsed is not None:
        found = re.fullmatch(_LAST_REPEAT_TEXT, parsed[3])
        if found is None or parsed[1:3] != (host, tag):
            return None
        stamp, times = parsed[0], found[1]
    else:
        found = re.fullmatch(_LAST_REPEAT_LINE, line)
        if found is None or found[2] != host:
            return None
        stamp, times = found[1], found[3]
    if int(times) > MOST_REPEATS:
        return None
    return int(times), f"{stamp} {host} {tag} {text}"


def syslog_repeat(text: str) -> Optional[Tuple[int, str]]:
    """(N, MESSAGE) of a text `message repeated N times: [ MESSAGE]`, N at most MOST_REPEATS;
    None for any other."""
    found = re.fullmatch(_REPEAT, text)
    if found is None or int(found[1]) > MOST_REPEATS:
        return None
    return int(found[1]), found[2]


def nested_line(text: str) -> Optional[Tuple[str, str, str, str]]:
    """The syslog line inside another's text, or None: a container's log driver writes
    Postfix's own line (maillog_file=/dev/stdout) behind a prefix of its own:
    `Aug 23 00:02:04 example.com postfix_container[468]: Aug 23 00:02:04 example postfix/...`."""
    return split_line(text) if has_stamp(text) else None


def container_host(host: str, tag: str) -> str:
    """The host of a line that names none (NO_HOST) inside another's of `host` and `tag`, a
    container log driver's: that host and the container, the tag's program (the driver's tag
    option; the container's ID or name by default). Two containers' processes of one pid are
    then two, on one host or two."""
    bracket = tag.find("[")
    name = tag[:bracket] if bracket >= 0 else tag.rstrip(":")
    return f"{host}/{name}" if name else host


def rfc3339_start(text: str) -> bool:
    """Does `text` start with what an RFC 3339 stamp starts with (`2026-02-08T`)?"""
    return text[4:5] == "-" and text[10:11] == "T" and text[:4].isdigit()


def has_stamp(text: str) -> bool:
    """Can `text` start with a stamp (a month's name, a year, a `<PRI>`)? Tells a line of its
    own from the rest of another's at the cost of a slice or two."""
    return text[:3] in ENGLISH_MONTHS or text[:4].isdigit() or text[:1] == "<"


# The queue manager under the other names master.cf can run it by. A daemon logs as the name
# its command was run by (var_procname, the base name of argv[0]: master/single_server.c and
# the others), not as its service: `qmgr unix n - n 300 1 oqmgr` (master.cf's own commented
# line) logs `postfix/oqmgr[...]`, the old queue manager Postfix still installs; nqmgr, Postfix
# 1.1 and 2.0's new one, became qmgr in 2.1 and is still installed as a hard link to it
# (postfix-files: "The name nqmgr still works", RELEASE_NOTES-2.1), for the master.cf of those
# years. Both log qmgr's lines: the sender, size and recipients, expiry, `removed`.
QUEUE_MANAGER_NAMES: Final = {"oqmgr": "qmgr", "nqmgr": "qmgr"}


def parse_program(tag: str):
    """`postfix/submission/smtpd[7771]:` -> ("postfix/submission", "smtpd", "7771").

    Tags without a `/` (dovecot[12]:, CRON[3]:) are not Postfix daemons and give None; so does
    a tag without a pid. One is: `postfix[2236]:`, the postfix command, which logs under its
    own name whatever syslog_name is (postfix.c; postsuper, postqueue and postfix-script log
    as `syslog_name/name`): ("postfix", "postfix", "2236"). The queue manager run as oqmgr or
    nqmgr is qmgr (QUEUE_MANAGER_NAMES). (Asked once a tag: the correlator caches its answers.)
    The syslog_name is interned: a message keeps its cleanup's as its instance, one string for
    the thousands of messages of an instance, whatever the pid of the tag.
    """
    open_bracket = tag.rfind("[")
    pid_end = len(tag) - 2 if tag.endswith("]:") else len(tag) - 1  # or rsyslog's `prog[pid]`
    if open_bracket < 0 or tag[pid_end] != "]":
        return None
    program, pid = tag[:open_bracket], tag[open_bracket + 1:pid_end]
    slash = program.rfind("/")
    if slash <= 0:
        return (program, program, pid) if program == "postfix" else None
    daemon = program[slash + 1:]
    return sys.intern(program[:slash]), QUEUE_MANAGER_NAMES.get(daemon, daemon), pid


def slots_state(record, names: Tuple[str, ...]) -> tuple:
    """What pickle keeps of a plain class's instance with `names` as its __slots__: the form
    watch's state holds its records in, whether their classes are compiled or not (a compiled
    class has no __slots__, and would otherwise pickle in a form of its own, or not at all)."""
    return None, {name: getattr(record, name) for name in names}


def set_slots(record, state: tuple) -> None:
    """`record` given the fields of slots_state()'s `state`."""
    for name, value in state[1].items():
        setattr(record, name, value)


MINUTES_KEPT = 1_500  # a day's minutes: lines come in time order
LAST_SECOND_OF_HOUR = _dt.timedelta(minutes=59, seconds=59)
# (id of a zone, year, month, day, hour) -> (the zone, its offset all through that hour as a
# tzinfo): asking a zone of the system's or the tz database is most of the cost of a new
# minute's time (68,000 instructions: tzlocal's and datetime_ambiguous()'s Python code). Kept
# here, not in a Clock: a clock's slots are part of the format of watch's state. The zone is
# kept with its entry, so that its id names no other zone while the entry lasts (tzinfo
# objects of dateutil are not hashable).
_STEADY_HOURS: Dict[tuple, tuple] = {}
HOURS_KEPT = 1_000
# The hour Clock.reads_alike() last found in _STEADY_HOURS: (its zone, year, month, the first
# nine characters of its stamp, `Oct 25 03`). A connect is most often of the hour of the one
# before it, told then by one startswith(): the slices, int()s and tuple key of the full look
# cost 4,800 instructions a connect of a minute not kept (compiled). Here for the reason
# _STEADY_HOURS is; what it says of that hour stays true.
_LAST_STEADY: Final[List[Tuple[Optional[_dt.tzinfo], Optional[int], int, str]]] = [
    (None, None, 0, "\0")]
_SECONDS = {f":{second:02d}": _dt.timedelta(seconds=second) for second in range(60)}
# RFC 3339 stamps (rsyslog's default template, journalctl -o short-iso): their date and
# offset -> midnight of that date in that offset, and its wall time; None when that is no
# aware time. Made from the stamp alone, whatever the clock: kept here, for every Clock.
# fromisoformat() and astimezone() for each line cost 10,000 instructions a stamp (compiled;
# astimezone() most of it), a quarter of the reading of an RFC 3339 log.
# (Final, as _WALL_TIME: compiled, each is then read as a constant, not looked up by name in
# the module's dict on every call.)
_RFC3339_DAYS: Final[Dict[str, Optional[Tuple[_dt.datetime, _dt.datetime]]]] = {}
_WALL_TIME: Final = _dt.datetime.fromisoformat
DAYS_KEPT = 400  # a log's days, in the offsets of a year (or of a few hosts)
# A Clock's fields: its slots, named here for its pickling and copying, which a class compiled
# by mypyc (setup.py) cannot read from __slots__.
CLOCK_FIELDS = ("zone", "year", "anchor", "forced", "_last_month", "_cache_key", "_cache_value",
                "_minutes", "_folds", "_latest", "_second_pass")


# Years a stamp may name: the reports add and subtract days and hours around every time, which
# must not overflow datetime's range (years 1 to 9999); no mail log is older than 1970.
MIN_YEAR, MAX_YEAR = 1970, 9000
# How far a line may come before the latest time its stream reached and still be read as the
# first pass through a repeated hour (DST fall-back): lines of one host are seconds apart, not
# half an hour.
FOLD_TOLERANCE = _dt.timedelta(minutes=30)
# How far a line of the first pass may come before the latest time once the second pass has
# begun: a relay's lines are seconds late. A line of the second pass this near the latest time
# as read in the first pass would come after a silence of most of an hour since the clocks went
# back, whose lines cannot tell either.
LATE_LINE = _dt.timedelta(minutes=5)


class Clock:
    """Turns stamps of one stream (one file, or a chain of files read in order) into times."""

    __slots__ = CLOCK_FIELDS

    def __init__(self, year: Optional[int] = None, tz: Optional[_dt.tzinfo] = None,
                 anchor: Optional[_dt.datetime] = None):
        self.zone = tz if tz is not None else _tz.tzlocal()
        self.year = year
        self.forced = year is not None  # --year: the admin's word, not a guess to correct
        self.anchor = anchor
        self._last_month: Optional[int] = None
        self._cache_key: Optional[str] = None
        self._cache_value: Optional[_dt.datetime] = None
        # Traditional stamps: "Sep 17 12:48" -> that minute's time; a second is then one add.
        self._minutes: Dict[str, _dt.datetime] = {}
        # Only a zone with daylight saving time repeats an hour when clocks go back.
        self._folds = not isinstance(self.zone, _dt.timezone)
        self._latest: Optional[_dt.datetime] = None  # the latest time made from a stamp so far
        self._second_pass = False  # in the second pass through a repeated hour

    def time(self, stamp: str) -> Optional[_dt.datetime]:
        if stamp == self._cache_key:
            return self._cache_value
        value: Optional[_dt.datetime]
        if len(stamp) == 15:
            # Most often a traditional stamp of a minute already read. Subscripts, not get():
            # a method call costs more than the slices, and a miss (an exception) is rare.
            try:
                value = self._minutes[stamp[:12]] + _SECONDS[stamp[12:15]]
            except KeyError:
                value = self._uncached(stamp)
        elif stamp[:1].isdigit():
            value = self._numeric(stamp)
        else:
            value = self._uncached(stamp)
        self._cache_key = stamp
        self._cache_value = value
        return value

    def _uncached(self, stamp: str) -> Optional[_dt.datetime]:
        """time() of a stamp that is not a traditional one of a minute kept."""
        if stamp[:1].isdigit():
            return self._numeric(stamp)
        # A stamp of another length than 15 may still start with a minute kept.
        minute = self._minutes.get(stamp[:12])
        second = _SECONDS.get(stamp[12:15])
        if minute is None or second is None:
            return self._traditional(stamp)
        return minute + second

    def _numeric(self, stamp: str) -> Optional[_dt.datetime]:
        """time() of a stamp that starts with a digit: RFC 3339 keeps its offset; else its year
        comes first (_year_first()) or it is a local time (_local_time()); or it is a
        traditional one whose month's name starts with a digit (ko_KR's `10월 15 12:20:28`)."""
        value = _rfc3339_time(stamp)
        if value is None:
            if stamp[2:3] == " " or stamp[3:4] == " ":  # no ISO stamp nor year has a space there
                return self._traditional(stamp)
            value = _aware_time(stamp)
        if value is not None:
            return value
        if stamp[4:5] == " ":
            return self._year_first(stamp)
        if stamp[10:11] == "T":
            return self._local_time(stamp)
        return None

    def _field_names(self) -> Tuple[str, ...]:
        """The names of its fields (a ChunkClock has two more)."""
        return CLOCK_FIELDS

    def __getstate__(self) -> tuple:
        # watch keeps clocks in its state.
        return slots_state(self, self._field_names())

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)

    def __copy__(self) -> "Clock":
        # correlate.time_aside() copies a clock at each host's new ten-minute slot and idle
        # check: copy.copy()'s way for any object (__reduce_ex__) costs more. Made by calling
        # the class with a zone, which asks no tzlocal() (a compiled class's __new__ would
        # call __init__ without one).
        twin = type(self)(self.year, self.zone, self.anchor)
        for name in self._field_names():
            setattr(twin, name, getattr(self, name))
        return twin

    def shown_twice(self, when: _dt.datetime) -> bool:
        """Whether `when`, a time this clock made, is in an hour its zone's clock shows twice
        (when the clocks go back): its stamp reads by the pass the clock is in then, and one
        kept to be read later is kept as that time (correlate.kept_stamp())."""
        if not self._folds:
            return False
        naive = when.replace(tzinfo=None)
        steady = _STEADY_HOURS.get((id(self.zone), naive.year, naive.month, naive.day,
                                    naive.hour))
        if steady is not None and steady[0] is self.zone:
            return False
        return bool(_tz.datetime_ambiguous(naive, self.zone))

    def reads_alike(self, stamp: str) -> bool:
        """Whether `stamp` reads as one time whenever this clock reads it, as far as can be told
        without reading it (correlate.kept_stamp(), at each connect): its zone shows no hour
        twice, or the stamp has an offset of its own, or it is a traditional one of a minute
        kept or of the month of the last one (if any: of the clock's year), in an hour whose
        offset the clock knows for its whole (_steady_hour()). A stamp of an hour shown twice
        reads by the pass the clock is in."""
        if not self._folds:
            return True
        zone, year, month, hour = _LAST_STEADY[0]
        last = self._last_month
        if (stamp.startswith(hour) and zone is self.zone and year == self.year
                and (last is None or month == last) and len(stamp) == 15):
            return True
        if stamp[:12] in self._minutes:
            return True
        if stamp[:1].isdigit():
            return _rfc3339_time(stamp) is not None
        named = MONTHS.get(stamp[:3])
        if named is None or (last is not None and named != last) or len(stamp) != 15:
            return False  # perhaps of another year than the clock's
        try:
            day, hour_of_day = int(stamp[4:6]), int(stamp[7:9])
        except ValueError:
            return False
        steady = _STEADY_HOURS.get((id(self.zone), self.year, named, day, hour_of_day))
        if steady is None or steady[0] is not self.zone:
            return False
        _LAST_STEADY[0] = (self.zone, self.year, named, stamp[:9])
        return True

    @property
    def latest(self) -> Optional[_dt.datetime]:
        """The latest time made from a stamp so far, or None."""
        return self._latest

    @property
    def last_month(self) -> Optional[int]:
        """The month of the last yearless stamp read (or given to start_in()), or None: the
        stamps read so far named their year, or there were none."""
        return self._last_month

    def continue_from(self, previous: "Clock") -> None:
        """Carry the year on from the stream read just before (files of one rotated set)."""
        if previous.year is not None and self.year is None:
            self.year = previous.year
            self.forced = previous.forced
            self._last_month = previous._last_month

    def continue_stream(self, previous: "Clock") -> None:
        """Carry on where `previous` left the pass through an hour shown twice: it read the
        file before this one in the same log (a rotated set: `maillog.1`, then `maillog`), so
        this file's first lines come after its. (A file of another log, another host's, read
        next has times of its own: its first pass is no line late.)"""
        self._latest = previous._latest
        self._second_pass = previous._second_pass

    def start_in(self, year: int, month: int) -> None:
        """Its first yearless stamp is of `month` in `year`: the reader of the input saw a Feb
        29 further on that the year guessed from the anchor would have put in a year without
        one (sources.Source.leap_start)."""
        self.year = year
        self._last_month = month

    def _traditional(self, stamp: str) -> Optional[_dt.datetime]:
        month = MONTHS.get(stamp[:3])
        if month is None:
            # Cut as a traditional stamp, 15 characters, and yet a month of another width
            # before a day not padded (`Ιούν 5 12:20:28`, `4월  5 12:20:28`); or no stamp.
            english = english_stamp(stamp)
            if english is None or english[1] != len(stamp):
                return None
            return self._traditional(english[0])
        try:
            day = int(stamp[4:6])
            hour, minute, second = int(stamp[7:9]), int(stamp[10:12]), int(stamp[13:15])
        except ValueError:
            return None
        if self.year is None:
            self.year = self.year_guessed(month, day)
        year = self.year
        last = self._last_month
        if last is not None:
            if month < last - 6:
                # Months ran backwards by more than half a year: New Year was crossed.
                self.year = year = year + 1
            elif month > last + 6:
                # A straggler from December after January lines: keep it in the old year.
                return self._make(year - 1, month, day, hour, minute, second)[0]
        if month == 2 and day == 29 and not calendar.isleap(year) and not self.forced:
            # The year was a guess from the file's time, and this log is from a leap year: the
            # nearest one before keeps the log before the file was last written.
            self.year = year = leap_year_by(year)
            self._minutes.clear()
        if month != last:
            # The minutes kept are of the month before, or of a year before (the same stamp,
            # which would be found there before New Year is looked for, in a log of a year).
            self._minutes.clear()
        self._last_month = month
        start_of_minute, ambiguous = self._make(year, month, day, hour, minute, 0)
        if start_of_minute is None or stamp[12:15] not in _SECONDS:
            return self._make(year, month, day, hour, minute, second)[0]
        if not ambiguous:
            # A minute of a repeated hour is not kept: its second pass is another time.
            if len(self._minutes) > MINUTES_KEPT:
                self._minutes.clear()
            self._minutes[stamp[:12]] = start_of_minute
        return start_of_minute + _SECONDS[stamp[12:15]]

    def _year_first(self, stamp: str) -> Optional[_dt.datetime]:
        """`2013 Jun 16 16:05:06.123` (syslog._year_first()): the year it names, in the zone
        a traditional stamp is read in; a fraction of up to six digits."""
        month = MONTHS.get(stamp[5:8])
        if month is None or _YEAR_FIRST_STAMP.fullmatch(stamp) is None:
            return None
        return self._dated(int(stamp[:4]), month, int(stamp[9:11]), int(stamp[12:14]),
                           int(stamp[15:17]), int(stamp[18:20]), stamp[21:])[0]

    def _local_time(self, stamp: str) -> Optional[_dt.datetime]:
        """`2023-11-14T22:13:20CET` or `2023-11-14T22:13:20` (syslog._weekday_first(),
        journalctl's short-full; an RFC 3339 stamp that lost its offset to a template, with or
        without a fraction): a local time, read in the zone a traditional stamp is read in;
        where that zone's clock shows the time twice, the zone's name picks the pass (CEST the
        first, CET the second) when it is one of the two, else the order of the lines does."""
        match = _LOCAL_STAMP.fullmatch(stamp)
        if match is None:
            return None
        fraction, name = match.groups()
        value, ambiguous = self._dated(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]),
                                       int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19]),
                                       fraction or "")
        if ambiguous and value is not None:
            naive = value.replace(tzinfo=None)
            for fold in (0, 1):
                if self.zone.tzname(naive.replace(fold=fold)) == name:
                    return naive.replace(tzinfo=fixed_zone(
                        self.zone.utcoffset(naive.replace(fold=fold))))
        return value

    def _dated(self, year, month, day, hour, minute, second, fraction: str):
        """(time, shown twice?) of a stamp that names its year but no offset (_year_first(),
        _local_time()): in the zone a traditional stamp is read in, the first six digits of
        its `fraction` (of the second) its microseconds; (None, False) outside MIN_YEAR ..
        MAX_YEAR."""
        if not MIN_YEAR <= year <= MAX_YEAR:
            return None, False
        value, ambiguous = self._make(year, month, day, hour, minute, second)
        if value is not None and fraction:
            value = value.replace(microsecond=int(fraction[:6].ljust(6, "0")))
        return value, ambiguous

    def year_guessed(self, month: int, day: int) -> int:
        """The year of a yearless stamp of `month` and `day` that is the latest on or before the
        anchor's day (now, without one)."""
        # The anchor's day as the stamps' zone shows it: a file's time is the machine's local
        # time, a last line's end in its own offset, and a stamp's day is the log's zone's.
        anchor = (_dt.datetime.now(self.zone) if self.anchor is None
                  else self.anchor.astimezone(self.zone))
        if (month, day) > (anchor.month, anchor.day):
            return anchor.year - 1
        return anchor.year

    def _make(self, year, month, day, hour, minute, second) -> Tuple[Optional[_dt.datetime], bool]:
        """(the time, whether the zone's clock showed it twice)."""
        steady = _STEADY_HOURS.get((id(self.zone), year, month, day, hour))
        try:
            if steady is not None and steady[0] is self.zone:
                value = _dt.datetime(year, month, day, hour, minute, second, 0, steady[1])
                self._second_pass = False
                if self._latest is None or value > self._latest:
                    self._latest = value
                return value, False
            naive = _dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None, False
        offset = self.zone.utcoffset(naive)
        ambiguous = self._folds and _tz.datetime_ambiguous(naive, self.zone)
        if ambiguous:
            # The hour the clocks went back shows twice, earlier offset first. Lines come in
            # time order: a time well before the latest one starts the second pass, and the
            # rest of the hour is in it, but for a line of the first pass written a little
            # late (LATE_LINE: a central syslog's line of a host seconds behind the others),
            # whose first pass is then just before the latest time, its second an hour after.
            first = naive.replace(tzinfo=fixed_zone(offset))
            latest = self._latest
            if latest is not None and first < latest - (LATE_LINE if self._second_pass
                                                         else FOLD_TOLERANCE):
                self._second_pass = True
                offset = self.zone.utcoffset(naive.replace(fold=1))
        else:
            self._second_pass = False
            if offset is not None:
                self._steady_hour(naive, offset)
        value = naive.replace(tzinfo=fixed_zone(offset) if offset is not None else _dt.timezone.utc)
        if self._latest is None or value > self._latest:
            self._latest = value
        return value, ambiguous

    def _steady_hour(self, naive: _dt.datetime, offset: _dt.timedelta) -> None:
        """Note the offset of `naive`'s hour (not a repeated time) if its first and last
        second have it too, and neither shows twice: a zone's offset changes at most once in
        an hour, and a change within it would give them two offsets, or put one of them in
        the stretch that shows twice (an ambiguous time has its first pass's offset)."""
        zone = self.zone
        start = naive.replace(minute=0, second=0)
        end = start + LAST_SECOND_OF_HOUR
        if (zone.utcoffset(start) == offset and zone.utcoffset(end) == offset
                and not (self._folds and (_tz.datetime_ambiguous(start, zone)
                                          or _tz.datetime_ambiguous(end, zone)))):
            if len(_STEADY_HOURS) > HOURS_KEPT:
                _STEADY_HOURS.clear()
            _STEADY_HOURS[id(zone), naive.year, naive.month, naive.day, naive.hour] = (
                zone, fixed_zone(offset))


def unlike_zone_name(stamp: str, zone: Optional[_dt.tzinfo]) -> Optional[Tuple[str, str]]:
    """(the zone name a local-time stamp carries, the name `zone` shows then) when they differ:
    journalctl's short-full `2023-11-14T22:13:20CET` (_local_time()) read in UTC (`zone`, the
    machine's when None) is an hour off, as its name says. None when the stamp names no zone,
    or `zone`'s name then is no word (a fixed offset: `+09` says nothing of JST)."""
    match = _LOCAL_STAMP.fullmatch(stamp)
    if match is None or match.group(2) in ("", "Z", "z"):  # RFC 3339's Z is UTC, no name
        return None
    try:
        naive = _dt.datetime(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]),
                             int(stamp[11:13]))
    except ValueError:
        return None
    read_in = zone if zone is not None else _tz.tzlocal()
    shown = [read_in.tzname(naive.replace(fold=fold)) or "" for fold in (0, 1)]
    # A name in another case (`cet`) is the same zone's: no alarm for a log lower-cased.
    if (match.group(2).upper() in (name.upper() for name in shown)
            or not all(name.isalpha() for name in shown)):
        return None
    return match.group(2), shown[0]


def leap_year_by(year: int) -> int:
    """The latest leap year not after `year`: the year of a Feb 29 without one, read by then
    (Clock, correlate.leap_split(), filters' `Feb 29`)."""
    while not calendar.isleap(year):
        year -= 1
    return year


@functools.lru_cache(maxsize=None)  # a zone has a handful of offsets
def fixed_zone(offset: _dt.timedelta) -> _dt.timezone:
    # One tzinfo object per offset: datetimes that share theirs compare without calling
    # utcoffset() on both sides (16 times faster), and the correlator and reports compare a lot.
    return _dt.timezone(offset)


def _rfc3339_time(stamp: str) -> Optional[_dt.datetime]:
    """_aware_time() of an RFC 3339 stamp with whole seconds or microseconds: the time of its
    day's midnight in its offset (_RFC3339_DAYS), and the wall time it names read without its
    offset, a time made from their difference (which costs no timedelta() call, 3,200
    instructions, and no astimezone()); None when it is not one."""
    # fromisoformat() reads looser times than RFC 3339's (`00:12.12`, `0012`, any character
    # between date and time), which _aware_time() refused with the offset after them.
    if stamp[10:11] != "T" or stamp[16:17] != ":":
        return None
    zone_at = 26 if stamp[19:20] == "." else 19
    zone = stamp[zone_at:]
    key = stamp[:10] + zone
    day = _RFC3339_DAYS.get(key)
    if day is None:
        # Not kept for a zone that is none (a fraction of other than six digits leaves one):
        # such stamps would each take an entry.
        if key in _RFC3339_DAYS or _RFC3339_OFFSET.fullmatch(zone) is None:
            return None
        day = _rfc3339_day(key, stamp[:10] + "T00:00:00" + zone)
        if day is None:
            return None
    try:
        wall = _WALL_TIME(stamp[:zone_at])
    except ValueError:
        return None
    if wall.tzinfo is not None:  # an offset before the one read as the stamp's
        return None
    return day[0] + (wall - day[1])


def _rfc3339_day(key: str, midnight: str) -> Optional[Tuple[_dt.datetime, _dt.datetime]]:
    """_aware_time() of `midnight` (2026-03-02T00:00:00+09:00), and its wall time, kept under
    `key`; None when that is no time. Only its offset and tzinfo object make the time of a
    stamp (_rfc3339_time()): the difference of the wall times is the rest."""
    if len(_RFC3339_DAYS) >= DAYS_KEPT:
        _RFC3339_DAYS.clear()
    aware = _aware_time(midnight)
    # Not the last day of MAX_YEAR: Python 3.14 reads its 24:00:00 as the next midnight, which
    # _aware_time() refuses as out of range.
    day = (None if aware is None or (aware.year, aware.month, aware.day) == (MAX_YEAR, 12, 31)
           else (aware, aware.replace(tzinfo=None)))
    _RFC3339_DAYS[key] = day
    return day


def _aware_time(stamp: str) -> Optional[_dt.datetime]:
    """The time of an ISO stamp with its offset (RFC 3339), in the one tzinfo object of that
    offset (fixed_zone()); None when it is none, or its year out of range."""
    value: Optional[_dt.datetime]
    try:
        value = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        value = _parse_iso(stamp)
    if value is not None and value.tzinfo is not None and MIN_YEAR <= value.year <= MAX_YEAR:
        return value.astimezone(fixed_zone(value.utcoffset()))
    return None


def _parse_iso(stamp: str) -> Optional[_dt.datetime]:
    """An ISO stamp datetime.fromisoformat() refused: perhaps one dateutil reads."""
    if stamp[4:5] == " " or (stamp[19:20].isalpha() and stamp[19:] not in ("Z", "z")):
        # No ISO stamp; one with its year first perhaps (Clock._year_first), or a local
        # time and its zone's name (Clock._local_time).
        return None
    # Before Python 3.11 fromisoformat() refuses "Z" and "+hhmm"; dateutil reads them
    # (imported here: it costs more to load than most logs take to read).
    from dateutil.parser import isoparse
    try:
        return isoparse(stamp)
    except (ValueError, OverflowError):
        return None


def parse_zone(name: str) -> Optional[_dt.tzinfo]:
    """`--tz` value -> tzinfo: an IANA name (Asia/Tokyo), UTC, or an offset like +09:00."""
    if name.upper() in ("UTC", "Z"):
        return _dt.timezone.utc
    if name[:1] in "+-":
        try:
            return _dt.datetime.fromisoformat("2000-01-01T00:00:00" + name).tzinfo
        except ValueError:
            return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dateutil warns of keys outside its zone paths
            return _tz.gettz(name)
    except (ValueError, OSError, UnicodeError):  # a file that is no zone (/etc/passwd)
        return None
