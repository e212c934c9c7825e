"""layout: what a table keeps when it must fit a terminal, and the text measures it fits with.

SUMMARY
    Fit(width, importance=(), drop=True)      how render() fits a table (None: it does not)
    IMPORTANCE: report key -> its columns, most important first
    report_key(name, by) -> the IMPORTANCE key of a report (and its --by view)
    choose_columns(text, available) -> the columns --columns names, in its order
    terminal_width(out) -> the width of the terminal `out` writes to, or None
    display_width(text), cut(text, width), cut_items(items, width), wrap(text, width, ...)
    short_times(name, values) -> the cells of column `name` of times, and its header saying
                                 what they all share

DESCRIPTION
    A table is fitted only when it goes to a terminal (or --width asks for it): written to a
    file or a pipe it is left whole, and CSV, JSON and NDJSON are never touched. A fitted table
    keeps its columns in their report order, but when the width runs out the least important
    ones go first (IMPORTANCE: how a Postfix admin in an incident ranks them: who, whether it
    is flagged, how much went out and how it ended, then when, then how). Columns of free text
    (usernames, addresses, reasons, host names, lists) have a width they may be cut to (MIN)
    and a width they are comfortable at (CAP): columns are dropped until every kept one fits
    at its MIN, then the spare room widens them, most important first, to their CAP and then
    to their whole width. Numbers, times, IPs and queue IDs are never cut. UNDER columns
    (the suspicious report's reasons) are not cells at all: each item is a wrapped line under
    its row.

    Widths are display widths: an East Asian wide or fullwidth character takes two columns, a
    combining mark none. Text is measured and cut after it was made safe (render.plain_text):
    an escape like \\x1b or \\u202e is one unit that is never split, and a cut cell ends in "…".

DIAGNOSTICS
    choose_columns raises ValueError naming the unknown column and the valid ones.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

ELLIPSIS = "…"
SEPARATOR = "  "
REASON_INDENT = "  "
REASON_CONTINUED = "    "


class Fit(NamedTuple):
    """How to fit a table: to `width` display columns; `importance` ranks the columns (most
    important first; columns it does not name rank last, in table order); with `drop` false
    (the user chose the columns) no column is hidden, only cut."""
    width: int
    importance: Sequence[str] = ()
    drop: bool = True


# Per report (its --by view with a key of its own): its columns, most important first.
IMPORTANCE: Dict[str, Tuple[str, ...]] = {
    # Who; flagged or not; how many IPs (the report's sort key, the first sign of a stolen
    # password); how much went out and how it ended; then the details.
    # With a GeoIP database, where the logins came from ranks beside how many IPs.
    "users": ("user", "flags", "ips", "countries", "recipients", "sent", "deferred", "bounced",
              "rejected", "expired", "messages", "sessions", "asns", "last_seen", "first_seen",
              "methods", "hosts"),
    # Who logged in from where and when, and whether the AUTH failed first.
    "sessions": ("sasl_username", "client_ip", "country", "start", "auth", "failed_auth",
                 "messages", "recipients", "rejected", "sasl_method", "asn", "end",
                 "client_name", "tls", "complete", "service", "host", "pid"),
    # Whose mail to whom, what became of it, when, and the queue ID to act on.
    "messages": ("sasl_username", "recipient", "status", "time", "queue_id", "reason",
                 "client_ip", "sender", "dsn", "relay", "last_attempt", "attempts",
                 "message_id", "parent_queue_id", "orig_to", "instance", "host"),
    # The role (attacker or usual) is what the report is asked for under --flagged.
    "ips": ("user", "client_ip", "role", "country", "recipients", "first_seen", "last_seen",
            "sessions", "messages", "asn", "as_org", "client_name"),
    # The IP to block, how hard it tried, and whether it got in (as whom).
    # `success_users` says it whole for the accounts Postfix named (later_success adds only
    # the logins it did not name).
    "failures": ("client_ip", "attempts", "success_users", "country", "usernames",
                 "last_seen", "later_success", "first_seen", "sessions", "asn", "mechanisms",
                 "client_names"),
    # `success_ips` are the guesses that worked; later_success is true of a typo, too.
    "failures --by user": ("user", "attempts", "success_ips", "ips", "countries", "last_seen",
                           "later_success", "first_seen", "sessions", "asns"),
    # The reasons are lines under each row (UNDER), whatever the width.
    "suspicious": ("user", "severity", "signals", "reasons", "first_flagged", "recipients",
                   "failed_share", "ips", "networks", "logins", "messages"),
    "timeline": ("user", "hour", "signals", "recipients", "logins", "ips", "new_networks",
                 "new_ips", "auth_failures", "sent", "deferred", "bounced", "rejected",
                 "expired", "networks"),
    # What to purge: the queue ID, whose, what kind, how much, why it is stuck.
    "queue": ("queue_id", "user", "kind", "pending_recipients", "sender", "last_reason",
              "first_deferred", "last_attempt", "parent_queue_id", "queued", "instance", "host"),
}

# Free-text columns: (MIN, CAP) display widths (see the module docstring). Column names mean
# the same in every report; a column not named here is never cut.
CUT = {
    "user": (24, 32), "sasl_username": (24, 32),
    "sender": (16, 32), "recipient": (16, 32), "orig_to": (16, 32),
    "client_name": (12, 28), "client_names": (12, 32), "relay": (12, 32),
    "host": (6, 16), "hosts": (6, 16), "service": (10, 20), "tls": (8, 24),
    "reason": (16, 48), "last_reason": (16, 48), "message_id": (12, 32),
    "usernames": (16, 40), "success_users": (24, 40), "success_ips": (15, 40),
    "mechanisms": (10, 20), "methods": (7, 16), "flags": (24, 44), "signals": (24, 44),
    "countries": (9, 24), "asns": (9, 24), "as_org": (12, 28), "new_ips": (20, 44),
}

# Columns shown as lines under their row, one per item, wrapped to the width.
UNDER = frozenset({"reasons"})


def report_key(name: str, by: Optional[str] = None) -> str:
    """The IMPORTANCE key of report `name` shown by `by` (None, or the default view)."""
    view = f"{name} --by {by}"
    return view if view in IMPORTANCE else name


def choose_columns(text: str, available: Sequence[str]) -> List[str]:
    """The columns of a --columns value (comma-separated names, or `all`), in its order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return list(available)
    valid = f"valid: all, or {', '.join(available)}"
    if not names:
        raise ValueError(f"no column named; {valid}")
    for name in names:
        if name not in available:
            raise ValueError(f"unknown column {name!r}; {valid}")
        if names.count(name) > 1:
            raise ValueError(f"column {name!r} named twice; {valid}")
    return names


def terminal_width(out) -> Optional[int]:
    """The width of the terminal `out` writes to (the COLUMNS variable first, as the shell
    sets it); None when `out` is no terminal (a file, a pipe, `less -S`)."""
    try:
        if not out.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and len(columns) <= 6 and int(columns) > 0:
        return int(columns)
    try:
        size = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, ValueError, OSError):
        size = 0
    return size or shutil.get_terminal_size().columns


# -- measuring, cutting and wrapping text that is already safe to show ----------------------------

# What render's escaping writes for a character it will not show: one unit, never split.
_ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _char_width(character: str) -> int:
    if unicodedata.combining(character):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(_char_width(character) for character in text)


def _prefix(text: str, width: int) -> int:
    """The length of the longest start of `text` that takes at most `width` columns and ends
    between units (an escape sequence, a character with its combining marks)."""
    if text.isascii() and "\\" not in text:
        return min(max(width, 0), len(text))
    used, index, length = 0, 0, len(text)
    while index < length:
        end = index + 1
        if text[index] == "\\":
            found = _ESCAPE.match(text, index)
            if found:
                end = found.end()
        while end < length and unicodedata.combining(text[end]):
            end += 1
        used += display_width(text[index:end])
        if used > width:
            break
        index = end
    return index


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns: whole, or its start and "…"."""
    if display_width(text) <= width:
        return text
    if width < 1:
        return ""
    return text[:_prefix(text, width - 1)].rstrip(" ,") + ELLIPSIS


def cut_items(items: Sequence[str], width: int, partial: bool = True) -> str:
    """A list cell (items joined by ", ") in at most `width` columns: cut after a whole item
    with the count of the rest (`a, b, …+3`); when not even the first item fits so, with
    `partial`, cut like any text (`admin@corp.…`), else only the count (`…+3`). A list cut
    like text would end in a word cut short (`guessed, h…`) or one that looks cut
    (`guessed…`), and hide how many items it had."""
    whole = ", ".join(items)
    if display_width(whole) <= width:
        return whole
    best, used = 0, 0
    for count, item in enumerate(items[:-1], 1):
        used += display_width(item) + (2 if count > 1 else 0)
        if used + len(f", {ELLIPSIS}+{len(items) - count}") > width:
            break
        best = count
    if best:
        return f"{', '.join(items[:best])}, {ELLIPSIS}+{len(items) - best}"
    return cut(whole, width) if partial or len(whole) < 2 else f"{ELLIPSIS}+{len(items)}"


def wrap(text: str, width: int, indent: str = "", continued: str = "") -> List[str]:
    """`text` as lines of at most `width` columns, broken at spaces (a word longer than a line
    is split between units); the first line starts with `indent`, the others with
    `continued`."""
    lines: List[str] = []
    line, empty = indent, True
    for word in text.split(" "):
        if not word:
            continue
        while True:
            room = width - display_width(line) - (0 if empty else 1)
            if display_width(word) <= room:
                line, empty = (line if empty else line + " ") + word, False
                break
            if not empty:
                lines.append(line)
                line, empty = continued, True
                continue
            # A word wider than a whole line: as much of it as fits (at least one unit).
            split = _prefix(word, room) or _prefix(word, 2) or 1
            lines.append(line + word[:split])
            word = word[split:]
            line, empty = continued, True
            if not word:
                break
    if not empty or not lines:
        lines.append(line)
    return lines


def wrap_parts(text: str, width: int, separator: str = "; ") -> List[str]:
    """`text` wrapped like wrap(), but broken between its parts (split at `separator`) where
    they fit: a summary line keeps `63 users` whole on one line."""
    parts = text.split(separator)
    mark, space = separator.rstrip(), separator[len(separator.rstrip()):]
    lines: List[str] = []
    for number, part in enumerate(parts, 1):
        if number < len(parts):
            part += mark
        joined = f"{lines[-1]}{space}{part}" if lines else part
        if lines and display_width(joined) <= width:
            lines[-1] = joined
        else:
            lines.extend(wrap(part, width))
    return lines


# -- times --------------------------------------------------------------------------------------

def short_times(name: str, values: Iterable) -> Tuple[List[str], str]:
    """The cells and the header of column `name` of datetimes (None: empty), without what
    every one of them shares: the microseconds always; the UTC offset when all have the same,
    said in the header (`last_seen (+09:00)`); the seconds when all are :00; the date when all
    fall on one day and the column is narrower without it (the header says it then).

    e.g. short_times("hour", ...) -> (["2026-03-06 03:00", ...], "hour (+09:00)")
    """
    isos = [None if value is None else value.replace(microsecond=0).isoformat(sep=" ")
            for value in values]
    stamps = [iso for iso in isos if iso is not None]
    if not stamps:
        return ["" for _ in isos], name
    # isoformat: "YYYY-MM-DD HH:MM:SS" then the offset ("+09:00", or nothing when naive).
    dates = {iso[:10] for iso in stamps}
    zones = {iso[19:] for iso in stamps}
    zone = next(iter(zones)) if len(zones) == 1 else ""
    time_end = 16 if all(iso[16:19] == ":00" for iso in stamps) else 19

    def column(date: str) -> Tuple[List[str], str]:
        begin = 11 if date else 0
        cells = ["" if iso is None else iso[begin:time_end] + ("" if zone else iso[19:])
                 for iso in isos]
        shared = " ".join(text for text in (date, zone) if text)
        return cells, f"{name} ({shared})" if shared else name

    whole = column("")
    if len(dates) > 1:
        return whole
    timed = column(next(iter(dates)))

    def width_of(shape: Tuple[List[str], str]) -> int:
        return max(display_width(text) for text in [shape[1], *shape[0]])

    return timed if width_of(timed) < width_of(whole) else whole


# -- the fitting --------------------------------------------------------------------------------

def plan(columns: Sequence[str], header_widths: Dict[str, int], widths: Dict[str, int],
         fit: Fit) -> Tuple[List[str], Dict[str, int], List[str]]:
    """(the columns kept, in table order; each one's width; the hidden ones, most important
    first: those the reader misses most) of a table whose columns' whole widths (header
    included) are `widths`."""
    ranked = [name for name in fit.importance if name in columns]
    ranked += [name for name in columns if name not in ranked]
    floor, comfortable = {}, {}
    for name in ranked:
        low, high = CUT.get(name, (widths[name], widths[name]))
        floor[name] = min(widths[name], max(low, header_widths[name]))
        comfortable[name] = min(widths[name], max(high, floor[name]))

    def total(names) -> int:
        return sum(floor[name] for name in names) + len(SEPARATOR) * (len(names) - 1)

    kept = list(ranked)
    while fit.drop and len(kept) > 1 and total(kept) > fit.width:
        kept.pop()
    given = {name: floor[name] for name in kept}
    spare = fit.width - total(kept)
    for goal in (comfortable, widths):
        for name in kept:
            grow = max(0, min(goal[name] - given[name], spare))
            given[name] += grow
            spare -= grow
    if len(kept) == 1 and given[kept[0]] > fit.width:
        given[kept[0]] = max(fit.width, 1)  # one column wider than the terminal: cut it
    hidden = [name for name in ranked if name not in given]
    return [name for name in columns if name in given], given, hidden


def hidden_hint(hidden: Sequence[str], width: int) -> List[str]:
    """The lines under a table that say which columns it hides: one line, the names cut when
    they would not fit (wrapped only when the width leaves no room for them)."""
    count = len(hidden)
    start = f"{count} column{'s' if count > 1 else ''} hidden ("
    end = "); --columns all or --format csv"
    room = width - len(start) - len(end)
    if room >= 16:
        return [start + cut_items(hidden, room, partial=False) + end]
    return wrap(start + ", ".join(hidden) + end, width)
