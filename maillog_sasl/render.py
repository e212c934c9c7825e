"""render: rows -> table, CSV, JSON, NDJSON or bare queue IDs, written to a text stream.

SUMMARY
    render(format, columns, rows, out, summary=None, fit=None)
    FORMATS: the names --format accepts

DESCRIPTION
    table   tabulate's plain grid for a terminal, after a one-line summary. With `fit` (a
            layout.Fit: the CLI gives one when the table goes to a terminal, or for --width),
            the table fits fit.width: the least important columns hidden (a hint under the
            table names them), long cells cut with "…" after they were made safe, times
            without their microseconds and without the date or the offset when every row
            shares it (the header says it: `last_seen (+09:00)`), the suspicious report's
            reasons one wrapped line each under their row, the summary wrapped. Without
            `fit` (a file, a pipe) the table is whole, byte for byte as it always was.
    csv     RFC 4180 with a header row (CRLF line ends), lists joined with ", ".
    json    one document: an array of objects, streamed row by row.
    ndjson  one object per line.
    ids     the `queue_id` column alone, one per line, each once, NOQUEUE left out: made to be
            piped into `postsuper -d -`.
    Times are ISO 8601 with their offset; lists stay arrays in JSON.

    Everything a log line carries is attacker-controlled (usernames, reasons, addresses), so
    output is made safe to open: control characters and escape sequences never reach a terminal
    or a CSV cell (shown as \\xNN), nor do the Unicode controls that reorder or hide text (bidi
    overrides, line separators: \\uNNNN); CSV cells a spreadsheet would execute (leading =, +,
    -, @, tab, CR) get a leading apostrophe. JSON escapes C0 controls itself; DEL, C1 and the
    same Unicode controls are escaped too. Output is UTF-8 whatever the locale says.

DIAGNOSTICS
    Write errors (a closed pipe, a full disk) propagate as OSError for the CLI to report.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import json
from typing import Dict, List, Optional

from tabulate import tabulate

from maillog_sasl import layout
from maillog_sasl.layout import Fit

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
        return ", ".join(plain_text(item) for item in value)
    if isinstance(value, str):
        return _escape_control(value)
    return str(value)


def csv_cell(value) -> str:
    text = plain_text(value)
    if text.startswith(_FORMULA_START) and not isinstance(value, (int, float)):
        return "'" + text
    return text


def _json_value(value):
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return value


def _json_line(columns, row) -> str:
    document = {column: _json_value(row.get(column)) for column in columns}
    return json.dumps(document, ensure_ascii=False).translate(_JSON_UNSAFE)


def _as_utf8(out) -> None:
    # A stdout opened in a legacy locale would fail on the first non-Latin username.
    encoding = getattr(out, "encoding", None)
    if encoding and codecs.lookup(encoding).name != "utf-8" and hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")


def render(fmt: str, columns, rows, out, summary=None, fit: Optional[Fit] = None) -> int:
    """Write `rows` (dicts) to `out` in `fmt`; returns the number of rows written.

    `summary` is a callable giving the table's one-line summary once the rows are consumed
    (the totals are only known at the end of the stream). `fit`: fit a table to a width
    (see the module docstring); the other formats ignore it.
    """
    _as_utf8(out)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        count = 0
        for row in rows:
            writer.writerow([csv_cell(row.get(column)) for column in columns])
            count += 1
        return count
    if fmt == "ndjson":
        count = 0
        for row in rows:
            out.write(_json_line(columns, row) + "\n")
            count += 1
        return count
    if fmt == "json":
        count = 0
        out.write("[")
        for row in rows:
            out.write(("\n" if count == 0 else ",\n") + _json_line(columns, row))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt == "ids":
        seen = set()
        for row in rows:
            queue_id = row.get("queue_id")
            if queue_id and queue_id != "NOQUEUE" and queue_id not in seen:
                seen.add(queue_id)
                out.write(plain_text(queue_id) + "\n")
        return len(seen)
    if fit is not None:
        return _fitted_table(columns, rows, out, summary, fit)
    table = [[plain_text(row.get(column)) for column in columns] for row in rows]
    if summary is not None:
        out.write(_escape_control(summary()) + "\n\n")
    if table:
        out.write(tabulate(table, headers=columns, tablefmt="simple", disable_numparse=True) + "\n")
    else:
        out.write("(no rows)\n")
    return len(table)


def _items(value) -> Optional[List[str]]:
    """The items of a list cell, each made safe; None for a value that is not a list."""
    if isinstance(value, (list, tuple, set)):
        return [plain_text(item) for item in value]
    return None


def _fitted_table(columns, rows, out, summary, fit: Fit) -> int:
    rows = list(rows)
    if summary is not None:
        for text in layout.wrap_parts(_escape_control(summary()), fit.width):
            out.write(text + "\n")
        out.write("\n")
    if not rows:
        out.write("(no rows)\n")
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
            text = texts[column][index]
            cells.append(layout.cut_items(text, given[column]) if isinstance(text, list)
                         else layout.cut(text, given[column]))
        out.write(joined(cells) + "\n")
        for column in under:
            value = row.get(column)
            for item in _items(value) or ([plain_text(value)] if value else []):
                for text in layout.wrap(item, fit.width, layout.REASON_INDENT,
                                        layout.REASON_CONTINUED):
                    out.write(text + "\n")
    if hidden:
        for text in layout.hidden_hint(hidden, fit.width):
            out.write(text + "\n")
    return len(rows)
