"""render: rows -> table, CSV, JSON, NDJSON or bare queue IDs, written to a text stream.

SUMMARY
    render(format, columns, rows, out, summary=None, fit=None, ids=None, empty=None)
    FORMATS: the names --format accepts
    json_safe(text) -> JSON text with what a terminal would act on escaped (the same value)

DESCRIPTION
    table   tabulate's "simple" grid for a terminal, after a one-line summary. With `fit` (a
            layout.Fit: the CLI gives one when the table goes to a terminal, or for --width),
            the table fits fit.width: the least important columns hidden (a hint under the
            table names them), long cells cut with "…" after they were made safe, times
            without their microseconds and without the date or the offset when every row
            shares it (the header says it: `last_seen (+09:00)`), the suspicious report's
            reasons one wrapped line each under their row, the summary wrapped. Without
            `fit` (a file, a pipe) the table is whole, byte for byte as it always was.
    csv     RFC 4180 with a header row (CRLF line ends), lists joined with ", " (list_item():
            an item holding a comma or a quote in double quotes, as in the table).
    json    one document: an array of objects, streamed row by row.
    ndjson  one object per line.
    ids     the report's ID of each row (`ids(row)`, None for a row without one; by default
            the `queue_id` column, NOQUEUE left out), one per line, each once: made to be
            piped into `postsuper -d -` (queue IDs) or a firewall set (client IPs).
    Times are ISO 8601 with their offset; lists stay arrays in JSON.

    Everything a log line carries is attacker-controlled (usernames, reasons, addresses), so
    output is made safe to open: control characters and escape sequences never reach a terminal
    or a CSV cell (shown as \\xNN), nor do the Unicode controls that reorder or hide text (bidi
    overrides, line separators: \\uNNNN); CSV cells a spreadsheet would execute (leading =, +,
    -, @, tab, CR) get a leading apostrophe. JSON escapes C0 controls itself; DEL, C1 and the
    same Unicode controls are escaped too. `out` is written in its own encoding and left as it
    is (the command makes its standard output UTF-8 whatever the locale says).

DIAGNOSTICS
    Write errors (a closed pipe, a full disk) propagate as OSError for the CLI to report.
    render() given a format that is none, or columns or rows that are no lists: ValueError,
    TypeError, before anything is written.
"""

from __future__ import annotations

import csv
import datetime as _dt
import importlib.util
import json
import re
from itertools import chain, islice, repeat
from itertools import count as counting
from operator import itemgetter
from typing import Any, Dict, Final, Iterable, Iterator, List, Optional, Sequence

from maillog_sasl import layout
from maillog_sasl.layout import Fit

# The optional extra [fast]: the same bytes, sooner. Imported by name, as Any (the compiled
# build, setup.py, is type-checked where orjson may not be installed), when JSON is first
# written: with the uuid and platform modules it imports, it held 0.65 MB of every other run's
# memory (benchmarks/README.md). None once found missing.
_NOT_IMPORTED: Final = object()
orjson: Any = _NOT_IMPORTED


def _orjson() -> Any:
    """The orjson module, or None where it is not installed."""
    global orjson
    if orjson is _NOT_IMPORTED:
        try:
            orjson = importlib.import_module("orjson")
        except ImportError:  # pragma: no cover - depends on what is installed
            orjson = None
    return orjson

FORMATS = ("table", "csv", "json", "ndjson", "ids")

# C0, DEL, C1; and the Unicode format characters that reorder or hide text on a terminal
# (bidi marks, overrides and isolates as in "Trojan Source", line and paragraph separators).
# JSON escapes these (json.dumps escapes C0 itself); a table or CSV cell escapes every
# character str.isprintable() rejects, which takes in these and every other invisible one
# (zero-width spaces and joiners, the soft hyphen, BOM, tag characters).
_UNSAFE_RANGES = ((0x00, 0x1f), (0x7f, 0x9f), (0xad, 0xad), (0x61c, 0x61c), (0x200b, 0x200f),
                  (0x2028, 0x202e), (0x2060, 0x2064), (0x2066, 0x206f), (0xfeff, 0xfeff),
                  (0xe0000, 0xe007f))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _surrogates(code: int):
    """The UTF-16 pair that JSON's \\u escapes write a character beyond U+FFFF as."""
    code -= 0x10000
    return 0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff)


_JSON_UNSAFE = {code: f"\\u{code:04x}" if code < 0x10000 else
                "\\u{:04x}\\u{:04x}".format(*_surrogates(code))
                for low, high in _UNSAFE_RANGES if low > 0x1f for code in range(low, high + 1)}


def _escape_one(character: str) -> str:
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_control(text: str) -> str:
    """Every character a terminal would not show as itself, as \\xNN, \\uNNNN or \\UNNNNNNNN:
    `adm\\u200bin` must not print like `admin`."""
    return "".join(character if character.isprintable() or character == " "
                   else _escape_one(character) for character in text)


def plain_text(value) -> str:
    """A cell as text for a terminal or a CSV file."""
    # Ordered by how often each kind comes: a messages CSV has millions of cells.
    if type(value) is str:
        # Every unsafe character is unprintable, and nearly every cell is printable.
        return value if value.isprintable() else _escape_control(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return ", ".join(map(list_item, value))
    if isinstance(value, str):
        return _escape_control(value)
    return str(value)


def list_item(value) -> str:
    """An item of a list cell as plain_text(), in double quotes (its own doubled) when it holds
    a comma or a quote, is empty or starts or ends with a space: the username `alice, bob` is
    one item of `"alice, bob", carol`, not two, and csv.reader(..., skipinitialspace=True)
    gives the items back."""
    text = plain_text(value)
    if "," in text or '"' in text or not text or text[0] == " " or text[-1] == " ":
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_cell(value) -> str:
    text = plain_text(value)
    if text.startswith(_FORMULA_START) and not isinstance(value, (int, float)):
        return "'" + text
    return text


_FORMULA_FIRST = frozenset(_FORMULA_START)


def _csv_cells(cells: Sequence) -> list:
    """csv_cell() of every cell of `cells` (a row, or a column of rows) as text, the common
    cells without a call: a printable string that starts no formula, an int, None, a time (its
    ISO 8601 text starts with a digit). What csv writes of an int and of None: str(int) and
    ""."""
    return [cell if ((kind := type(cell)) is str and cell.isprintable()
                     and cell[:1] not in _FORMULA_FIRST)
            else "" if cell is None else str(cell) if kind is int
            else cell.isoformat() if kind is _DATETIME else csv_cell(cell) for cell in cells]


def _csv_column(cells: Sequence, times: "_TimeTexts") -> Sequence[str]:
    """One column of a batch of rows as csv.writer writes its cells: _csv_cells(), then
    _csv_quoted(). A column nearly always holds one type (queue IDs, counts, times) and is then
    converted in a few passes over them all: ASCII strings are checked at once (_plain_ascii),
    and a comma or quote in one is in their join; times are written once each (`times`)."""
    try:
        joined = "\x00".join(cells)  # a TypeError unless every cell is a string
    except TypeError:
        return _csv_other_column(cells, times)
    if not (joined.isascii() and _plain_ascii(joined, len(cells))):
        return _csv_quoted_column(_csv_cells(cells))
    if "," in joined or '"' in joined:  # a printable string holds no line end
        # _csv_quoted() of each, without a call each: a reason column has commas in many.
        return ['"' + cell.replace('"', '""') + '"' if "," in cell or '"' in cell else cell
                for cell in cells]
    return cells


# What str.isprintable() rejects in ASCII text.
_ASCII_CONTROLS = bytes(range(0x20)) + b"\x7f"
_FORMULA_AFTER_NUL = re.compile("\x00[=+\\-@]")


def _plain_ascii(joined: str, count: int) -> bool:
    """Whether `count` ASCII strings joined by NULs are each written as they are, printable and
    starting no formula: deleting the C0 and DEL characters deletes the NULs alone, and no
    string (the first, or one after a NUL) starts with a formula character. Checked a column at
    a time, in C: str.isprintable() looks every character up in the Unicode tables, 2.5x
    slower than deleting, and it was 17% of the CPU time of writing a messages CSV once the
    rows are made; a first character each took another 4%."""
    encoded = joined.encode("ascii")
    return (len(encoded.translate(None, _ASCII_CONTROLS)) == len(encoded) - (count - 1)
            and joined[:1] not in _FORMULA_FIRST and _FORMULA_AFTER_NUL.search(joined) is None)


def _csv_other_column(cells: Sequence, times: "_TimeTexts") -> Sequence[str]:
    """_csv_column() of a column that is not all strings: counts, times, strings and None."""
    # A column no row has (orig_to, mostly): any() stops at the first cell that is something,
    # and count() compares each with None only when none is.
    if not any(cells) and cells.count(None) == len(cells):
        return [""] * len(cells)
    kinds = set(map(type, cells))
    if kinds == _INTS:
        # Each count's text once: a column of counts holds few (attempts), and str() of one
        # costs 4x a look-up.
        texts = {number: str(number) for number in set(cells)}
        return list(map(texts.__getitem__, cells))
    if kinds <= _STRINGS_OR_NONE:
        return _csv_column([cell if cell is not None else "" for cell in cells], times)
    if kinds <= _TIMES_OR_NONE:
        return times.column(cells)
    return _csv_quoted_column(_csv_cells(cells))


def _csv_quoted_column(cells: List[str]) -> List[str]:
    """_csv_quoted() of each cell of a column, when one of them needs it."""
    joined = "".join(cells)
    if "," in joined or '"' in joined or "\r" in joined or "\n" in joined:
        return list(map(_csv_quoted, cells))
    return cells


# The texts _TimeTexts keeps before it starts again: times come in order, and a batch of rows
# shares few with batches long before it.
_TIMES_KEPT = 4 * 1024
_TWO_DIGITS = [f"{number:02d}" for number in range(60)]


class _TimeTexts:
    """The CSV text of each time written so far, made once: rows share time objects (a
    message's recipients its time; the correlator makes one for each second of the log), in a
    column, across the time columns and from one batch to the next.

    By id(), not by time: hashing an aware time calls its tzinfo and does timedelta
    arithmetic, and a third of the times in a messages CSV are each hashed once. `kept` holds
    the times, so that no id of one is reused while its text is kept. A text is made of its
    date's, kept, and two-digit strings: isoformat() writes with sprintf, and the offset with
    timedelta arithmetic again, 2.4x the instructions (10,700 a time)."""

    __slots__ = ("texts", "kept", "dates", "offsets")

    texts: Dict[int, str]
    kept: List[_dt.datetime]
    dates: Dict[int, str]  # the date's ordinal -> "YYYY-MM-DDT"
    offsets: Dict[_dt.tzinfo, str]  # a fixed offset -> "+HH:MM"

    def __init__(self) -> None:
        self._start_again()

    def _start_again(self) -> None:
        # Not by calling __init__ again: compiled (setup.py), that leaked the containers it
        # replaced, every time and text kept (mypyc 2.4; 24 MB on the submission benchmark).
        self.texts = {id(None): ""}
        self.kept = []
        self.dates = {}
        self.offsets = {}

    def column(self, cells: Sequence) -> List[str]:
        """A column of times (their tzinfo a datetime.timezone) and None as csv_cell() writes
        them."""
        if len(self.kept) > _TIMES_KEPT:
            self._start_again()
        texts = self.texts
        written: List[str] = []
        append = written.append
        last, text = None, ""
        for when in cells:
            if when is not last:  # a message's recipients share its time
                last = when
                found = texts.get(id(when))
                if found is None:
                    found = texts[id(when)] = self._text(when)
                    self.kept.append(when)
                text = found
            append(text)
        return written

    def _text(self, when: _dt.datetime) -> str:
        """when.isoformat()."""
        zone = when.tzinfo
        if when.microsecond or type(zone) is not _dt.timezone:  # not a fixed offset
            return when.isoformat()
        date = self.dates.get(ordinal := when.toordinal())
        if date is None:
            date = self.dates[ordinal] = when.date().isoformat() + "T"
        offset = self.offsets.get(zone)
        if offset is None:
            # isoformat() writes the offset after the 19 characters of the date and time.
            offset = self.offsets[zone] = when.isoformat()[19:]
        return (f"{date}{_TWO_DIGITS[when.hour]}:{_TWO_DIGITS[when.minute]}:"
                f"{_TWO_DIGITS[when.second]}{offset}")


def _csv_quoted(cell: str) -> str:
    """A cell as csv.writer writes it (QUOTE_MINIMAL, doublequote): in quotes, its quotes
    doubled, when it holds the delimiter, a quote or a line end."""
    if "," in cell or '"' in cell or "\r" in cell or "\n" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


_DATETIME = _dt.datetime
_NONE = type(None)
_INTS = frozenset((int,))
_STRINGS_OR_NONE = frozenset((str, _NONE))
_TIMES_OR_NONE = frozenset((_DATETIME, _NONE))


def _json_default(value):
    """What JSON writes for the values it has no type for: a time as ISO 8601, a set as a
    list; anything else is the TypeError json would raise."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, set):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def json_safe(text: str) -> str:
    """JSON text with every character a terminal could act on (controls, bidi overrides, line
    separators: _UNSAFE_RANGES) written as its \\u escape: the same JSON value."""
    # Every character _JSON_UNSAFE escapes is unprintable, and nearly every line is printable.
    return text if text.isprintable() else text.translate(_JSON_UNSAFE)


def _json_line(columns, values: Sequence) -> str:
    """One row as a JSON object (the standard library's encoder, its default separators)."""
    return json_safe(_ENCODER.encode(dict(zip(columns, values))))


# Batches of rows written at a time as JSON: one write, one pass of orjson's fix-ups.
_JSON_BATCH = 512
# The cell types orjson writes byte for byte as json.dumps does (a time goes through
# _json_default); a row with any other (a list, a float, a set) is written by the standard
# library: orjson writes lists without json's spaces and some floats in another notation.
_ORJSON_TYPES = frozenset((str, int, bool, type(None), _dt.datetime))


class _Orjson:
    """orjson's bytes turned into json.dumps's text, a batch of rows at a time. orjson has no
    separators option; indented (OPT_INDENT_2), a list of objects is
    `[\\n  {\\n    "a": 1,\\n    "b": 2\\n  },\\n  {...}\\n]`: json's `": "` already, and
    every newline is one of its own (a newline inside a string is written \\n), so removing the
    indented newlines leaves json.dumps's `{"a": 1, "b": 2}` for each row."""

    def __init__(self, columns: Sequence[str], module: Any):
        self.columns = list(columns)
        self.module = module
        self.option = module.OPT_PASSTHROUGH_DATETIME | module.OPT_INDENT_2

    def lines(self, batch: List[Sequence]) -> List[str]:
        """The rows of `batch` as JSON lines, identical to _json_line()'s."""
        orjson = self.module
        columns = self.columns
        if not _ORJSON_TYPES.issuperset(map(type, chain.from_iterable(batch))):
            return [_json_line(columns, values) for values in batch]
        try:
            text = orjson.dumps(list(map(dict, map(zip, repeat(columns), batch))),
                                default=_json_default, option=self.option)
        except orjson.JSONEncodeError:  # an int beyond 64 bits
            return [_json_line(columns, values) for values in batch]
        text = (text.replace(b",\n    ", b", ").replace(b"{\n    ", b"{")
                .replace(b"\n  }", b"}"))
        # b'[\n  {row},\n  {row}\n]': no other newline is left.
        lines = text[4:-2].decode().split(",\n  ")
        if text.isascii() and b"\x7f" not in text:
            return lines  # orjson escapes C0; DEL is the one unsafe ASCII character left
        return list(map(json_safe, lines))


def _json_lines(columns, values: Iterable[Sequence]) -> Iterator[List[str]]:
    """Batches of rows as JSON lines (orjson when installed, else the standard library)."""
    module = _orjson()
    fast = _Orjson(columns, module) if module is not None else None
    values = iter(values)
    while True:
        batch = list(islice(values, _JSON_BATCH))
        if not batch:
            return
        if fast is not None:
            yield fast.lines(batch)
        else:
            yield [_json_line(columns, row) for row in batch]


def _queue_id(row) -> object:
    queue_id = row.get("queue_id")
    return queue_id if queue_id != "NOQUEUE" else None


def _no_rows(empty) -> str:
    """What a table without rows says: why there are none (`empty()`), when the caller knows."""
    return f"({_escape_control(empty()) if empty is not None else 'no rows'})\n"


def _values(columns, rows, row_columns) -> Iterable[Sequence]:
    """Each row's cells in `columns` order: rows are dicts, or (with `row_columns`) tuples in
    that column order."""
    if row_columns is None:
        return ([row.get(column) for column in columns] for row in rows)
    columns, row_columns = list(columns), list(row_columns)
    if columns == row_columns:
        return rows
    indices = [row_columns.index(column) for column in columns]
    if len(indices) == 1:
        return ((row[indices[0]],) for row in rows)
    return map(itemgetter(*indices), rows)


def render(fmt: str, columns, rows, out, summary=None, fit: Optional[Fit] = None, ids=None,
           empty=None, row_columns=None) -> int:
    """Write `rows` (dicts) to `out` in `fmt`; returns the number of rows written.

    With `row_columns`, rows are tuples of those columns in that order (reports.build_report
    with tuples=True); `columns` are then the ones written, picked from them.

    `summary` is a callable giving the table's one-line summary once the rows are consumed
    (the totals are only known at the end of the stream). `fit`: fit a table to a width
    (see the module docstring); the other formats ignore it. `empty` is a callable giving what
    a table without rows says instead of "no rows" (why there are none). `ids(row)` is the
    row's ID for the ids format.

    ValueError for a format that is none of FORMATS (it was written as a table); TypeError
    for `columns` given as one string (its characters were the columns) and for one row alone
    (a dict) in place of the rows.
    """
    if fmt not in FORMATS:
        raise ValueError(f"no format {fmt!r}: one of {', '.join(FORMATS)}")
    if isinstance(columns, str) or isinstance(rows, (dict, str)):
        raise TypeError(f"columns and rows: lists (['user', 'sent'], [row, ...]), not "
                        f"{columns!r:.60} and {type(rows).__name__}")
    if fmt in ("csv", "ndjson", "json"):
        values = _values(columns, rows, row_columns)
        if fmt == "csv":
            return _write_csv(columns, values, out)
        count = 0
        if fmt == "ndjson":
            for lines in _json_lines(columns, values):
                out.write("\n".join(lines) + "\n")
                count += len(lines)
            return count
        out.write("[")
        for lines in _json_lines(columns, values):
            out.write(("\n" if count == 0 else ",\n") + ",\n".join(lines))
            count += len(lines)
        out.write("\n]\n" if count else "]\n")
        return count
    if row_columns is not None:
        row_columns = list(row_columns)
        rows = (dict(zip(row_columns, row)) for row in rows)
    if fmt == "ids":
        id_of = ids or _queue_id
        seen = set()
        for row in rows:
            found = id_of(row)
            if found and found not in seen:
                seen.add(found)
                out.write(plain_text(found) + "\n")
        return len(seen)
    if fit is not None:
        return _fitted_table(columns, rows, out, summary, fit, empty)
    table = [[plain_text(row.get(column)) for column in columns] for row in rows]
    if summary is not None:
        out.write(_escape_control(summary()) + "\n\n")
    if table:
        out.write(_simple_table(columns, table) + "\n")
    else:
        out.write(_no_rows(empty))
    return len(table)


# tabulate measures cells with wcwidth when that package is installed, with len() otherwise.
_WIDE_CHARACTERS = importlib.util.find_spec("wcwidth") is not None


def _simple_table(columns: Sequence[str], table: List[List[str]]) -> str:
    """tabulate(table, headers=columns, tablefmt="simple", disable_numparse=True), the grid
    the table format has always been. Where tabulate measures with len(), the same text is
    made here: every cell is a string plain_text() made (no line end, escape character or
    tabulate's separating-line mark left in it), so tabulate strips each, pads every column
    to its longest cell or its header and two spaces, left-aligned, and joins them with two
    spaces. Its general path types every cell again: 60 ms for the 1,561 users of the first
    300,000 lines of the mx benchmark log; and importing it costs 8 ms."""
    if _WIDE_CHARACTERS:
        from tabulate import tabulate  # only where wcwidth changes what it writes

        return tabulate(table, headers=columns, tablefmt="simple", disable_numparse=True)
    cells = [[cell.strip() for cell in column] for column in zip(*table)]
    widths = [max(len(header) + 2, *map(len, column)) for header, column in zip(columns, cells)]
    lines = ["  ".join(map(str.ljust, columns, widths)).rstrip(),
             "  ".join("-" * width for width in widths)]
    lines += ["  ".join(map(str.ljust, row, widths)).rstrip() for row in zip(*cells)]
    return "\n".join(lines)


# Rows of CSV written at a time.
_CSV_BATCH = 1024


def _write_csv(columns, values: Iterable[Sequence], out) -> int:
    """The header and the rows as csv.writer(lineterminator="\\r\\n") writes them, a batch of
    rows at a time, column by column (_csv_column): each row is then its cells joined by
    commas."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    if len(columns) < 2:
        # One column: csv writes an empty cell alone on its line as "".
        counter = counting()  # the rows, counted as they pass
        writer.writerows(map(itemgetter(0), zip(map(_csv_cells, values), counter)))
        return next(counter)
    count = 0
    values = iter(values)
    times = _TimeTexts()
    while True:
        batch = list(islice(values, _CSV_BATCH))
        if not batch:
            return count
        count += len(batch)
        cells_by_column = [_csv_column(cells, times) for cells in zip(*batch)]
        out.write("\r\n".join(map(",".join, zip(*cells_by_column))) + "\r\n")


def _items(value, quoted: bool = True) -> Optional[List[str]]:
    """The items of a list cell, each made safe (list_item(), or not `quoted`: a line of its
    own); None for a value that is not a list."""
    if isinstance(value, (list, tuple, set)):
        return list(map(list_item if quoted else plain_text, value))
    return None


def _fitted_table(columns, rows, out, summary, fit: Fit, empty=None) -> int:
    rows = list(rows)
    if summary is not None:
        for text in layout.wrap_parts(_escape_control(summary()), fit.width):
            out.write(text + "\n")
        out.write("\n")
    if not rows:
        for text in layout.wrap(_no_rows(empty).rstrip("\n"), fit.width):
            out.write(text + "\n")
        return 0
    grid = [column for column in columns if column not in layout.UNDER]
    under = [column for column in columns if column in layout.UNDER]
    headers: Dict[str, str] = {}
    texts: Dict[str, list] = {}  # column -> each row's text, or its items for a list
    for column in grid:
        values = [row.get(column) for row in rows]
        present = [value for value in values if value is not None]
        if present and all(isinstance(value, _dt.datetime) for value in present):
            texts[column], headers[column] = layout.short_times(column, values)
            continue
        headers[column] = column
        texts[column] = [_items(value) or plain_text(value) for value in values]
    header_widths = {column: layout.display_width(headers[column]) for column in grid}
    widths = {}
    for column in grid:
        longest = max((layout.display_width(", ".join(text) if isinstance(text, list) else text)
                       for text in texts[column]), default=0)
        widths[column] = max(longest, header_widths[column])
    shown, given, hidden = layout.plan(grid, header_widths, widths, fit)

    def joined(cells) -> str:
        return layout.SEPARATOR.join(
            text + " " * (given[column] - layout.display_width(text))
            for column, text in zip(shown, cells)).rstrip()

    out.write(joined([layout.cut(headers[column], given[column]) for column in shown]) + "\n")
    out.write(joined(["-" * given[column] for column in shown]) + "\n")
    for index, row in enumerate(rows):
        cells = []
        for column in shown:
            # (not `text`, a str elsewhere in this function: compiled code checks that type)
            shown_text = texts[column][index]
            cells.append(layout.cut_items(shown_text, given[column])
                         if isinstance(shown_text, list) else layout.cut(shown_text, given[column]))
        out.write(joined(cells) + "\n")
        for column in under:
            value = row.get(column)
            for item in _items(value, quoted=False) or ([plain_text(value)] if value else []):
                for text in layout.wrap(item, fit.width, layout.REASON_INDENT,
                                        layout.REASON_CONTINUED):
                    out.write(text + "\n")
    if hidden:
        for text in layout.hidden_hint(hidden, fit.width):
            out.write(text + "\n")
    return len(rows)
