"""render: rows -> table, CSV, JSON, NDJSON or bare queue IDs, written to a text stream.

SUMMARY
    render(format, columns, rows, out, summary=None)
    FORMATS: the names --format accepts

DESCRIPTION
    table   tabulate's plain grid for a terminal, after a one-line summary.
    csv     RFC 4180 with a header row (CRLF line ends), lists joined with ", ".
    json    one document: an array of objects, streamed row by row.
    ndjson  one object per line.
    ids     the `queue_id` column alone, one per line, each once, NOQUEUE left out: made to be
            piped into `postsuper -d -`.
    Times are ISO 8601 with their offset; lists stay arrays in JSON.

    Everything a log line carries is attacker-controlled (usernames, reasons, addresses), so
    output is made safe to open: control characters and escape sequences never reach a terminal
    or a CSV cell (shown as \\xNN), and CSV cells a spreadsheet would execute (leading =, +, -,
    @, tab, CR) get a leading apostrophe. JSON escapes control characters itself; C1 controls
    and DEL are escaped too.

DIAGNOSTICS
    Write errors (a closed pipe, a full disk) propagate as OSError for the CLI to report.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import re

from tabulate import tabulate

FORMATS = ("table", "csv", "json", "ndjson", "ids")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_JSON_UNSAFE = {code: f"\\u{code:04x}" for code in (*range(0x7f, 0xa0),)}


def _escape_control(text: str) -> str:
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def plain_text(value) -> str:
    """A cell as text for a terminal or a CSV file."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return ", ".join(plain_text(item) for item in value)
    if isinstance(value, str):
        return _escape_control(value) if _CONTROL.search(value) else value
    return str(value)


def csv_cell(value) -> str:
    text = plain_text(value)
    if not isinstance(value, (int, float)) and text.startswith(_FORMULA_START):
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


def render(fmt: str, columns, rows, out, summary=None) -> int:
    """Write `rows` (dicts) to `out` in `fmt`; returns the number of rows written.

    `summary` is a callable giving the table's one-line summary once the rows are consumed
    (the totals are only known at the end of the stream).
    """
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
    table = [[plain_text(row.get(column)) for column in columns] for row in rows]
    if summary is not None:
        out.write(_escape_control(summary()) + "\n\n")
    if table:
        out.write(tabulate(table, headers=columns, tablefmt="simple", disable_numparse=True) + "\n")
    else:
        out.write("(no rows)\n")
    return len(table)
