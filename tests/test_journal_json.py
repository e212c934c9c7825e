"""journalctl's JSON export (`journalctl -u postfix -o json > postfix.json`): one object a
line, each a journal entry with its fields (systemd's JOURNAL_EXPORT_FORMATS: the time in
__REALTIME_TIMESTAMP, microseconds since the epoch as a string; MESSAGE a string, an array of
byte values when it is not UTF-8, or null when journalctl left it out as too large). A line
Postfix sent to syslog() arrives with SYSLOG_IDENTIFIER (its syslog_name/daemon), SYSLOG_PID,
_PID, _HOSTNAME, _TRANSPORT=syslog and SYSLOG_TIMESTAMP (the stamp it wrote).

Real logs (tests/test_wrappers.py's) rewritten as such entries give the reports of the plain
logs, and `watch` on them, cut anywhere, what it gives on the plain log cut at the same lines.
"""

import datetime as dt
import functools
import json

import pytest
import test_watch_wrapped as watched_wrapped
from test_wrappers import LOGS, REPORTS, WRAPPERS, report, write

from maillog_sasl.sources import JOURNAL, PLAIN, RECORD_SEPARATOR, Unwrapper, wrapper_of
from maillog_sasl.syslog import MONTHS, split_line

BOOT = "0d5b1e8f26c54b45a2a3c6b7a7e9d2f1"


def entry(line, year, number=0, microsecond=0):
    """The journal entry of a traditional syslog line, as `journalctl -o json` writes it (its
    time to the `microsecond`: the reports show the fraction of a stamp that has one)."""
    stamp, host, tag, text = split_line(line)
    when = dt.datetime(year, MONTHS[stamp[:3]], int(stamp[4:6]), int(stamp[7:9]),
                       int(stamp[10:12]), int(stamp[13:15]), tzinfo=dt.timezone.utc)
    microseconds = (when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(
        microseconds=1) + microsecond
    program, _, pid = tag[:-1].partition("[")
    fields = {"__CURSOR": f"s=9a1c;i={number:x};b={BOOT}", "__REALTIME_TIMESTAMP": str(microseconds),
              "__MONOTONIC_TIMESTAMP": str(10_000_000 + number), "_BOOT_ID": BOOT,
              "PRIORITY": "6", "SYSLOG_FACILITY": "2", "SYSLOG_IDENTIFIER": program,
              "_TRANSPORT": "syslog", "_HOSTNAME": host, "SYSLOG_TIMESTAMP": stamp + " ",
              "MESSAGE": text}
    if pid:
        fields.update(SYSLOG_PID=pid[:-1], _PID=pid[:-1])
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def journal(lines, year):
    return [entry(line, year, number) for number, line in enumerate(lines)]


@pytest.mark.parametrize("log", LOGS)
def test_a_journal_export_gives_the_report_of_its_lines(cli, tmp_path, log):
    path, year = LOGS[log]
    exported = write(tmp_path / "postfix.json",
                     journal(path.read_text().splitlines(), int(year)))
    for args in REPORTS:
        assert report(cli, year, *args, exported) == report(cli, year, *args, path), args
    assert exported.name not in cli("--year", year, exported).err  # no problem named
    # one process reads it (a wrapped input is not cut in byte ranges): the same bytes
    assert report(cli, year, "--jobs", "2", exported) == report(cli, year, exported)


@pytest.mark.parametrize("log", LOGS)
def test_a_json_seq_export_is_read_as_a_json_one(cli, tmp_path, log):
    """`journalctl -o json-seq` (RFC 7464) puts a record separator before each entry: it was
    `not a syslog file`."""
    path, year = LOGS[log]
    entries = journal(path.read_text().splitlines(), int(year))
    exported = write(tmp_path / "postfix.json-seq", [RECORD_SEPARATOR + line for line in entries])
    assert wrapper_of([RECORD_SEPARATOR + entries[0]]) == JOURNAL
    for args in REPORTS:
        assert report(cli, year, *args, exported) == report(cli, year, *args, path), args


def test_entries_that_hold_no_line_are_counted_as_not_syslog(cli, tmp_path):
    path, year = LOGS["seed"]
    lines = journal(path.read_text().splitlines(), int(year))
    damaged = [
        '{"__REALTIME_TIMESTAMP":"1537188502000000","SYSLOG_IDENTIFIER":"postfix/smtpd",'
        '"MESSAGE":null}',  # journalctl leaves out a field larger than 4096 bytes
        '{"__REALTIME_TIMESTAMP":"soon","SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"x"}',
        '{"__REALTIME_TIMESTAMP":"1537188502000000","MESSAGE":"no program"}',
        '{"__REALTIME_TIMESTAMP":"99999999999999999999","SYSLOG_IDENTIFIER":"p","MESSAGE":"x"}',
        # int() refuses a string of more than 4,300 digits (Python 3.11, 3.9.14 and later)
        '{"__REALTIME_TIMESTAMP":"' + "1" * 5000 + '","SYSLOG_IDENTIFIER":"p","MESSAGE":"x"}',
        '{"__REALTIME_TIMESTAMP":"1537188502000000","SYSLOG_IDENTIFIER":"p","MESSAGE":[256]}',
        "not json", "[1, 2]",
    ]
    exported = write(tmp_path / "postfix.json", lines[:3] + damaged + lines[3:])
    for args in REPORTS[1:]:
        assert report(cli, year, *args, exported) == report(cli, year, *args, path), args
    result = cli("--year", year, "--stats", exported)
    assert result.code == 0, result.err
    assert f"not syslog lines:       {len(damaged)}\n" in result.err


def test_a_message_that_is_not_utf8_is_an_array_of_bytes(cli, tmp_path):
    """journalctl writes such a MESSAGE as its byte values: read as a plain log's bytes are,
    with U+FFFD for what is not UTF-8."""
    path, year = LOGS["seed"]
    lines = path.read_text().splitlines()
    login = next(number for number, line in enumerate(lines) if "sasl_username=" in line)
    raw = (lines[login] + "\udcff").encode("utf-8", "surrogateescape")  # a username with 0xff
    plain = tmp_path / "maillog"
    plain.write_bytes(b"\n".join(line.encode() for line in lines[:login]) + b"\n" + raw
                      + b"\n" + b"\n".join(line.encode() for line in lines[login + 1:]) + b"\n")
    entries = journal(lines, int(year))
    record = json.loads(entries[login])
    record["MESSAGE"] = list(split_line(raw.decode("latin-1"))[3].encode("latin-1"))
    entries[login] = json.dumps(record)
    exported = write(tmp_path / "postfix.json", entries)
    assert "\ufffd" in report(cli, year, plain)
    assert report(cli, year, exported) == report(cli, year, plain)


def test_a_lone_surrogate_escape_is_read_as_a_byte_that_is_not_utf8(cli, tmp_path):
    """JSON may write `\\ud800` with no low surrogate after it; journalctl never does, a file
    made by other hands may. json.loads() leaves a lone surrogate, which no UTF-8 output can
    write: every report, and watch's state, stopped with a traceback. It is U+FFFD, as a plain
    log's byte that is no UTF-8 is."""
    path, year = LOGS["seed"]
    lines = path.read_text().splitlines()
    login = next(number for number, line in enumerate(lines) if "sasl_username=" in line)
    plain = tmp_path / "maillog"
    plain.write_bytes(("\n".join(lines[:login + 1]) + "\udcff\n" + "\n".join(lines[login + 1:])
                       + "\n").encode("utf-8", "surrogateescape"))
    entries = journal(lines, int(year))
    record = json.loads(entries[login])
    record["MESSAGE"] += "\ud800"
    entries[login] = json.dumps(record)  # ensure_ascii: the escape `\\ud800`
    assert "\\ud800" in entries[login]
    exported = write(tmp_path / "postfix.json", entries)
    for args in [*REPORTS, ("--report", "messages", "--format", "ndjson")]:
        assert report(cli, year, *args, exported) == report(cli, year, *args, plain), args
    assert "\ufffd" in report(cli, year, "--report", "sessions", "--format", "json", exported)
    watched = cli("watch", "--once", "--year", year, "--state", str(tmp_path / "state.sqlite"),
                  "--alert-log", str(tmp_path / "alerts.ndjson"), exported)
    assert watched.code in (0, 1) and not watched.err, watched.err
    # one entry read alone (a batch that is no JSON array of its entries) is read the same
    assert Unwrapper(JOURNAL).lines(["not json", entries[login]])[1].endswith("\ufffd")


def test_a_first_entry_whose_time_is_too_long_is_not_one(cli, tmp_path):
    """wrapper_of() reads the first line before the input's kind is known: a stamp of 5,000
    digits there leaves the input for the lines after it to decide."""
    path, year = LOGS["seed"]
    lines = journal(path.read_text().splitlines(), int(year))
    first = json.loads(lines[0])
    first["__REALTIME_TIMESTAMP"] = "1" * 5000
    exported = write(tmp_path / "postfix.json", [json.dumps(first)] + lines)
    for args in REPORTS[1:]:
        assert report(cli, year, *args, exported) == report(cli, year, *args, path), args
    result = cli("--year", year, "--stats", exported)
    assert result.code == 0, result.err
    assert "not syslog lines:       1\n" in result.err


@pytest.mark.parametrize("lines, kind", [
    ([entry("Sep 17 12:48:22 mail postfix/smtpd[1]: connect from x[192.0.2.1]", 2018)], JOURNAL),
    (["{}", entry("Sep 17 12:48:22 mail postfix/smtpd[1]: connect", 2018)], JOURNAL),
    (['{"MESSAGE":"no time","SYSLOG_IDENTIFIER":"p"}',
      "Sep 17 12:48:22 mail postfix/smtpd[1]: connect"], PLAIN),
])
def test_wrapper_of_a_journal_export(lines, kind):
    assert wrapper_of(lines) == kind


def test_an_entry_becomes_its_syslog_line():
    line = "Sep 17 12:48:22 mail postfix/submission/smtpd[7771]: connect from x[192.0.2.1]"
    assert Unwrapper(JOURNAL).lines([entry(line, 2018, microsecond=5)]) == [
        "2018-09-17T12:48:22.000005+00:00 mail postfix/submission/smtpd[7771]: "
        "connect from x[192.0.2.1]"]


@pytest.mark.parametrize("log", LOGS)
def test_a_journal_export_cut_anywhere_is_watched_as_the_plain_log(cli, tmp_path, monkeypatch,
                                                                    log):
    path, year = LOGS[log]
    monkeypatch.setitem(WRAPPERS, "journal", functools.partial(journal, year=int(year)))
    lines = path.read_text().splitlines()
    exported = watched_wrapped.Wrapped(lines, "journal")
    plain = watched_wrapped.Wrapped(lines)
    cuts = exported.cuts(seed=len(lines))
    runs, state = watched_wrapped.watched(cli, tmp_path / "journal", exported.data, cuts, year)
    expected = watched_wrapped.watched(cli, tmp_path / "plain", plain.data,
                                       [exported.plain_cut(cut) for cut in cuts], year)
    assert (runs, state) == expected
    assert state["stats"]["lines_read"] == len(lines)
