"""The lean renderers write what the plain ones always wrote, byte for byte: rows as tuples
(reports.build_report(tuples=True)) against rows as dicts; JSON and NDJSON through orjson (the
extra [fast]) against the standard library, forced by hiding orjson; CSV cells made safe as
render.csv_cell makes them."""

import csv
import datetime as _dt
import io
import json
import subprocess
import sys
import tracemalloc

import pytest

from maillog_sasl import render as render_module
from maillog_sasl.cli import main
from maillog_sasl.render import _JSON_UNSAFE, csv_cell, render

from support import SAMPLE_LOGS

UTC = _dt.timezone.utc
COLUMNS = ["queue_id", "recipient", "attempts", "reason", "time", "last", "share", "list",
           "flag"]
TRICKY = [
    # A string holding what orjson's separator fix-up looks for: it must stay as it is.
    ("A1", 'x,"recipient":y', 3, '{"queue_id":1}', _dt.datetime(2026, 3, 2, 0, 15, 3,
                                                                 tzinfo=UTC),
     None, 0.5, ["a", "b"], True),
    ("A2", "adm\u200bin\u202e", -1, "tab\there\x1b[31m\x7f\x85", _dt.datetime(2026, 3, 2, 1, 2, 3,
                                                                             123456),
     _dt.datetime(2026, 3, 2, tzinfo=_dt.timezone(_dt.timedelta(hours=9, minutes=30))),
     1e-05, [], False),
    ("=cmd", "+1", 2 ** 70, "-x", None, None, None, {"z"}, None),
    ("@a", "\U000e0041 tag", 0, "\r\nline", None, None, 1e16, ("t",), None),
    ("é", "", 7, "ünïcode 漢字", None, None, 3, "plain", None),
]


def as_dicts(rows):
    return [dict(zip(COLUMNS, row)) for row in rows]


def rendered(fmt, columns, rows, **kwargs):
    out = io.StringIO()
    count = render(fmt, columns, rows, out, **kwargs)
    return count, out.getvalue()


def old_json_line(columns, row):
    """What render wrote before the lean renderers, as it was written."""
    def value(item):
        if isinstance(item, _dt.datetime):
            return item.isoformat()
        if isinstance(item, (set, tuple)):
            return list(item)
        return item
    document = {column: value(row.get(column)) for column in columns}
    return json.dumps(document, ensure_ascii=False).translate(_JSON_UNSAFE)


@pytest.fixture(params=["orjson", "stdlib"])
def json_library(request, monkeypatch):
    if request.param == "orjson":
        pytest.importorskip("orjson")
    else:
        monkeypatch.setattr(render_module, "orjson", None)
    return request.param


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_is_what_json_dumps_wrote(fmt, json_library):
    lines = [old_json_line(COLUMNS, row) for row in as_dicts(TRICKY)]
    expected = ("[\n" + ",\n".join(lines) + "\n]\n" if fmt == "json"
                else "".join(line + "\n" for line in lines))
    assert rendered(fmt, COLUMNS, as_dicts(TRICKY)) == (len(TRICKY), expected)
    assert rendered(fmt, COLUMNS, iter(TRICKY), row_columns=COLUMNS) == (len(TRICKY), expected)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_many_rows_cross_batches(fmt, json_library):
    rows = [("Q%d" % number, "u%d@example.org" % number, number, "ok", None, None, None, None,
             number % 2 == 0) for number in range(render_module._JSON_BATCH * 2 + 3)]
    plain = rendered(fmt, COLUMNS, as_dicts(rows))
    assert rendered(fmt, COLUMNS, rows, row_columns=COLUMNS) == plain
    assert plain[0] == len(rows)
    if fmt == "ndjson":
        assert plain[1].splitlines()[-1] == old_json_line(COLUMNS, as_dicts(rows)[-1])


def test_empty_json(json_library):
    assert rendered("json", COLUMNS, [], row_columns=COLUMNS) == (0, "[]\n")
    assert rendered("ndjson", COLUMNS, []) == (0, "")


def test_csv_cells_are_csv_cell(json_library):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in TRICKY:
        writer.writerow([csv_cell(cell) for cell in row])
    assert rendered("csv", COLUMNS, iter(TRICKY), row_columns=COLUMNS) == (len(TRICKY),
                                                                           out.getvalue())
    assert rendered("csv", COLUMNS, as_dicts(TRICKY)) == (len(TRICKY), out.getvalue())


def assert_written_as_csv_writer(columns, rows):
    """The CSV of `rows` (tuples in `columns` order) is what csv.writer writes of csv_cell()
    of each cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    assert rendered("csv", columns, iter(rows), row_columns=columns) == (len(rows),
                                                                         out.getvalue())


def test_csv_columns_across_batches():
    """CSV is written a column of a batch at a time: a column of one type, of mixed types, of
    times of one offset and of several (equal instants at two offsets keep their own, in one
    column and in two), of times and None, of strings some of which need quotes or start a
    formula, with None among them or not; across more than one batch."""
    tokyo = _dt.timezone(_dt.timedelta(hours=9))
    columns = [*COLUMNS, "tokyo", "sender"]
    rows = []
    for number in range(render_module._CSV_BATCH * 2 + 5):
        moment = _dt.datetime(2026, 3, 2, 1, number % 7, tzinfo=UTC)
        rows.append((f"Q{number}", f"u{number}@example.org" if number % 5 else "=x, \"y\"",
                     number, "ok, sent" if number % 3 else "ok",
                     moment, moment.astimezone(tokyo) if number % 2 else moment,
                     None, [f"a{number}", "b"] if number % 4 else None, number % 2 == 0,
                     moment.astimezone(tokyo) if number % 3 else None,
                     None if number % 4 else ("-x" if number % 8 else "a,\x1bb")))
    assert_written_as_csv_writer(columns, rows)


def test_csv_string_columns_checked_at_once():
    """A column of strings is checked joined by NULs: a NUL of its own, a formula after the
    first string or in it, an empty string before one, a DEL, non-ASCII text: each cell is
    written as csv_cell() makes it, and the other cells of its column as they are."""
    shapes = {"nul": "a\x00b", "formula": "@x", "minus": "-1", "first": "+1", "del": "d\x7f",
              "tab": "\tx", "unicode": "\u00e9=", "after_unicode": "=\u00e9"}
    columns = list(shapes)
    rows = [tuple(shape if number == 3 else f"c{number}" for shape in shapes.values())
            for number in range(6)]
    rows.insert(0, tuple("" for _ in columns))
    rows.append(("+", "=", "", "\x00", "", "", "\u00e9", "x"))
    assert_written_as_csv_writer(columns, rows)


@pytest.mark.parametrize("chosen", [["reason"], ["time", "queue_id"], COLUMNS[::-1]])
@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "table", "ids"])
def test_chosen_columns_from_tuples(fmt, chosen, json_library):
    assert (rendered(fmt, chosen, iter(TRICKY), row_columns=COLUMNS)
            == rendered(fmt, chosen, as_dicts(TRICKY)))


def run(args):
    from contextlib import redirect_stderr, redirect_stdout
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("report", [["-r", "messages"], ["-r", "sessions", "--all"],
                                    ["-r", "users"], ["-r", "suspicious"],
                                    ["-r", "messages", "--columns", "reason,queue_id"]])
@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_sample_log_same_with_and_without_orjson(report, fmt, monkeypatch):
    pytest.importorskip("orjson")
    args = [*report, "-f", fmt, "--tz", "UTC", str(SAMPLE_LOGS / "maillog-sample.log")]
    fast = run(args)
    monkeypatch.setattr(render_module, "orjson", None)
    assert run(args) == fast
    assert fast[0] == 0 and fast[1]


@pytest.mark.parametrize("table", [
    [["alice", "3", "", "True"], [" padded ", "12345678901234", "", "False"]],
    [["漢字ユーザー", "é", "", "x" * 30]],
    [["", "", "", ""], ["", "", "", ""]],
])
def test_simple_table_is_tabulates(table, monkeypatch):
    """The table format's grid is tabulate's "simple" one, byte for byte, where tabulate
    measures with len() (no wcwidth): stripped cells, columns as wide as their longest cell or
    their header and two spaces, lines without trailing spaces."""
    import tabulate as tabulate_module

    monkeypatch.setattr(tabulate_module, "WIDE_CHARS_MODE", False)
    monkeypatch.setattr(render_module, "_WIDE_CHARACTERS", False)
    columns = ["user", "sessions", "flags", "a_long_header_name"]
    expected = tabulate_module.tabulate(table, headers=columns, tablefmt="simple",
                                        disable_numparse=True)
    assert render_module._simple_table(columns, table) == expected


def test_csv_times_are_isoformat(monkeypatch):
    """A column of times is written as isoformat() writes each, whatever its zone (a fixed
    offset, one of seconds, a zone's rules, none), with microseconds or without, a year before
    1000; across batches and past the texts kept, times that are equal but other objects."""
    from dateutil import tz

    monkeypatch.setattr(render_module, "_TIMES_KEPT", 5)
    zones = [UTC, _dt.timezone(_dt.timedelta(hours=-3, minutes=-30)),
             _dt.timezone(_dt.timedelta(seconds=61)), tz.gettz("Europe/Berlin"), None]
    rows = []
    for number in range(render_module._CSV_BATCH + 40):
        moment = _dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC) + _dt.timedelta(minutes=number)
        when = moment.astimezone(zones[number % 5]) if number % 5 < 4 else moment.replace(
            tzinfo=None)
        rows.append((when, when.replace(microsecond=number % 3), when.replace(year=999),
                     _dt.datetime(2026, 3, 2, number % 24, tzinfo=UTC) if number % 7 else None))
    assert_written_as_csv_writer(["a", "b", "c", "d"], rows)


def test_the_time_texts_kept_for_a_csv_are_let_go_when_it_starts_again():
    """The CSV writer keeps the text of each time it wrote until it has kept _TIMES_KEPT, then
    starts again: what it let go is freed. (The compiled build once leaked it all: 24 MB on a
    submission server's week, a text and a time for every second of the log.)"""
    times = render_module._TimeTexts()
    moment = _dt.datetime(2026, 3, 2, tzinfo=UTC)
    column = [moment + _dt.timedelta(seconds=second) for second in range(1000)]
    times.column(column)  # the dates' and the offset's texts, made once
    tracemalloc.start()
    try:
        for start in range(0, 50 * render_module._TIMES_KEPT, 1000):
            times.column([moment + _dt.timedelta(seconds=start + second)
                          for second in range(1000)])
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # At most the texts and times kept (about 160 bytes each), not the 200,000 written.
    assert held < 3 * 160 * render_module._TIMES_KEPT


# What a run imports is what it holds in memory for the whole run: the modules only some runs
# use (orjson for JSON, uuid by orjson, socket for auth-test's --ehlo default, dataclasses and
# the inspect it imports for watch's state) are imported by those runs alone, and --jobs forks
# its workers without multiprocessing, concurrent.futures and logging (issue 16's 60 MB a
# process).
ONLY_WHEN_USED = ("orjson", "socket", "uuid", "dataclasses", "inspect")
NOT_FOR_JOBS = ("concurrent.futures", "multiprocessing", "logging")


def imported_by_report(fmt, out, jobs=1):
    """The messages report of the sample written in `fmt` to `out` by a fresh interpreter, with
    `jobs` processes (in chunks of 200 KB): its exit status, how many processes it forked, and
    which of ONLY_WHEN_USED and NOT_FOR_JOBS it imported."""
    script = ("import functools, os, sys, maillog_sasl\n"
              "from maillog_sasl import cli\n"
              "cli.open_logs = functools.partial(maillog_sasl.open_logs, chunk_size=200_000)\n"
              "forks = []\n"
              "fork = os.fork\n"
              "os.fork = lambda: forks.append(1) or fork()\n"
              f"status = cli.main([{str(SAMPLE_LOGS / 'maillog-sample.log')!r}, '--report', "
              f"'messages', '--format', {fmt!r}, '-o', {str(out)!r}, '--jobs', '{jobs}'])\n"
              f"print(status, len(forks), "
              f"*sorted(set({ONLY_WHEN_USED + NOT_FOR_JOBS!r}) & set(sys.modules)))\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    status, forks, *imported = ran.stdout.split()
    return int(status), int(forks), imported


@pytest.mark.parametrize("fmt", ["table", "csv", "ids"])
def test_a_report_not_in_json_imports_neither_orjson_nor_socket(fmt, tmp_path):
    assert imported_by_report(fmt, tmp_path / "out") == (0, 0, [])
    assert (tmp_path / "out").stat().st_size > 10_000


def test_a_run_on_two_cores_imports_no_process_pool(tmp_path):
    assert imported_by_report("csv", tmp_path / "two", jobs=2) == (0, 1, [])
    imported_by_report("csv", tmp_path / "one")
    assert (tmp_path / "two").read_bytes() == (tmp_path / "one").read_bytes()


def test_json_imports_orjson_when_installed(tmp_path):
    pytest.importorskip("orjson")
    status, _, imported = imported_by_report("json", tmp_path / "out")
    assert (status, "orjson" in imported) == (0, True)
    assert json.loads((tmp_path / "out").read_text())
