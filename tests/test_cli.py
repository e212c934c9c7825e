"""The command line as an administrator uses it: the seed incident, every report in every
format, and every kind of bad input (one line on stderr, an exit status, never a traceback)."""

import bz2
import csv
import gzip
import io
import json
import lzma
import shutil
import sqlite3
import subprocess
import sys

import pytest

from maillog_sasl.pairs import PairStore
from maillog_sasl.reports import REPORTS

from support import SAMPLE_LOGS, SCENARIOS

SEED = SAMPLE_LOGS / "seed-maillog.txt"
REAL_POSTFIX_LOG = SCENARIOS.parent / "fixtures" / "postfix37" / "maillog"


def test_seed_users(report):
    [row] = report("users", "--year", "2018", SEED)
    assert row["user"] == "centos7@phoenixknight.jp"
    assert (row["sessions"], row["messages"], row["recipients"], row["sent"], row["ips"]) == (1, 1, 1, 1, 1)
    assert row["methods"] == ["cram-md5"]
    assert row["first_seen"] == "2018-09-17T12:48:22+00:00"


def test_users_ips_the_same_with_and_without_a_filter(report, tmp_path):
    """With no filter the users report counts each account's IPs from the incident rules' own
    logins; with one, from the selected sessions': the same figures, the logins without a
    username (and a username that is literally "(unknown user)") in one row."""
    from maillog_writer import MailLog, at

    log = MailLog()
    log.login("alice@example.jp", "198.51.100.7", at(0, 9))
    log.login("alice@example.jp", "198.51.100.8", at(0, 10))
    log.login("(unknown user)", "203.0.113.9", at(0, 11))
    for number, ip in enumerate(("203.0.113.1", "203.0.113.2", "203.0.113.2")):
        when, pid = at(0, 12, number), 7000 + number
        log._line(when, "postfix/submission/smtpd", pid, f"connect from unknown[{ip}]")
        log._line(when, "postfix/submission/smtpd", pid,
                  f"disconnect from unknown[{ip}] ehlo=1 auth=1 quit=1 commands=3")
    path = log.write(tmp_path / "maillog")
    plain = report("users", path)
    assert {row["user"]: row["ips"] for row in plain} == {"alice@example.jp": 2,
                                                           "(unknown user)": 3}
    assert report("users", "--since", "2000-01-01", path) == plain


def test_seed_messages(report):
    [row] = report("messages", "--year", "2018", SEED)
    assert row["queue_id"] == "A4FCE204384E"
    assert row["recipient"] == "test@example.com"
    assert row["relay"] == "mfgw4.ocn.ad.jp[153.153.63.103]:25"
    assert (row["dsn"], row["status"], row["client_ip"]) == ("2.0.0", "sent", "153.126.190.153")


def test_seed_sessions(report):
    [row] = report("sessions", "--year", "2018", SEED)
    assert row["tls"] == "TLSv1.2 with ECDHE-RSA-AES256-GCM-SHA384"
    assert (row["sasl_method"], row["messages"], row["recipients"]) == ("cram-md5", 1, 1)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_in_every_format(cli, name):
    log = REAL_POSTFIX_LOG
    args = ("--report", name, "--year", "2026", "--tz", "UTC", log)
    as_json = cli(*args, "--format", "json")
    assert as_json.code == 0
    rows = as_json.json()
    assert rows, "each report has rows on this log"
    columns = REPORTS[name].columns
    assert all(list(row) == columns for row in rows)

    as_ndjson = cli(*args, "--format", "ndjson")
    assert [json.loads(line) for line in as_ndjson.out.splitlines()] == rows

    as_csv = cli(*args, "--format", "csv")
    assert as_csv.out.endswith("\r\n"), "RFC 4180 line ends"
    parsed = list(csv.reader(io.StringIO(as_csv.out, newline="")))
    assert parsed[0] == columns and len(parsed) == len(rows) + 1

    as_table = cli(*args)
    lines = as_table.out.splitlines()
    assert "lines read" in lines[0] and "authenticated sessions" in lines[0]
    assert lines[2].split() == columns


def test_csv_times_are_iso_with_offset(cli):
    result = cli("--year", "2018", "--tz", "+09:00", "--format", "csv", SEED)
    row = next(csv.DictReader(io.StringIO(result.out, newline="")))
    assert row["first_seen"] == "2018-09-17T12:48:22+09:00"


def test_output_file(cli, tmp_path):
    target = tmp_path / "incident.csv"
    result = cli("--year", "2018", "-r", "messages", "-f", "csv", "-o", target, SEED)
    assert (result.code, result.out) == (0, "")
    assert "A4FCE204384E" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_compressed_input_is_recognised_by_magic_not_name(report, tmp_path, compress):
    log = tmp_path / "maillog.txt"
    log.write_bytes(compress(SEED.read_bytes()))
    assert report("users", "--year", "2018", log)[0]["sent"] == 1


def test_stdin(cli):
    result = cli("--year", "2018", "-f", "json", "-", stdin=SEED.read_bytes())
    assert result.code == 0 and result.json()[0]["user"] == "centos7@phoenixknight.jp"


def test_stats_count_lines_used_and_skipped(cli):
    result = cli("--year", "2018", "--stats", "-f", "json", SEED)
    assert "lines read:               13" in result.err
    assert "lines used:               8" in result.err
    assert "other programs:         5" in result.err


def test_empty_input_gives_an_empty_report(cli, tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    result = cli("-f", "json", empty)
    assert (result.code, result.out, result.err) == (0, "[]\n", "")
    assert cli("-f", "csv", empty).out.startswith("user,sessions,")


def test_garbage_and_undecodable_bytes_are_skipped_not_fatal(cli, tmp_path):
    log = tmp_path / "mixed.log"
    log.write_bytes(b"\x00\xff\xfe garbage\n" + SEED.read_bytes().replace(b"centos7@", b"cent\xe9os7@")
                    + b"Sep 17 12:5")
    result = cli("--year", "2018", "-f", "json", "--stats", log)
    assert result.code == 0
    assert result.json()[0]["user"] == "cent\ufffdos7@phoenixknight.jp"
    assert "not syslog lines:       2" in result.err


def test_missing_file_is_named_and_the_others_still_reported(cli, tmp_path):
    result = cli("--year", "2018", "-f", "json", tmp_path / "nope.log", SEED)
    assert result.code == 2
    assert result.err == f"maillog-sasl: {tmp_path / 'nope.log'}: cannot read: No such file or directory\n"
    assert result.json()[0]["sent"] == 1


def test_unreadable_path(cli, tmp_path):
    result = cli(tmp_path)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl: {tmp_path}: cannot read:")
    assert result.out == ""


def test_truncated_gzip_keeps_what_was_read(cli, tmp_path):
    log = tmp_path / "maillog.1.gz"
    whole = gzip.compress((SEED.read_text() * 200).encode())
    log.write_bytes(whole[: len(whole) // 2])
    result = cli("--year", "2018", "-f", "json", log)
    assert result.code == 2
    assert "read failed part way" in result.err and "maillog.1.gz" in result.err
    assert result.json()[0]["user"] == "centos7@phoenixknight.jp"


@pytest.mark.parametrize("program, compress, says", [
    ("gzip", gzip.compress, "gzip: unexpected end of file"),
    ("xz", lzma.compress, "xz: Unexpected end of input"),
    ("bzip2", bz2.compress, "bzip2: Compressed file ends unexpectedly")])
def test_a_cut_compressed_log_says_what_its_decompressor_said(cli, tmp_path, program, compress,
                                                              says):
    """The system's decompressor reads the file as its standard input: its `stdin` is not
    the user's, and bzip2's advice after its complaint is not the reason."""
    if shutil.which(program) is None:
        pytest.skip(f"no {program} here: the file is inflated in-process")
    log = tmp_path / "maillog.1.cut"
    whole = compress((SEED.read_text() * 200).encode())
    log.write_bytes(whole[: len(whole) // 2])
    result = cli("--year", "2018", "-f", "json", log)
    assert result.code == 2
    assert result.err == f"maillog-sasl: {log}: read failed part way: {says}\n"


@pytest.mark.parametrize("args, message", [
    (["--since", "yesterdayish", "x"], "not a date or time: 'yesterdayish'"),
    (["--ip", "10.0.0.300", "x"], "not an IP address or network"),
    (["--tz", "Mars/Olympus", "x"], "unknown time zone"),
    (["--year", "18", "x"], "not a year"),
    (["--report", "nonsense", "x"], "invalid choice"),
    (["--frobnicate", "x"], "unrecognized arguments: --frobnicate"),
    ([], "no log given"),
])
def test_usage_errors(cli, args, message):
    result = cli(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and message in result.err


def test_unwritable_output(cli, tmp_path):
    result = cli("-o", tmp_path / "no" / "such" / "dir.csv", SEED)
    assert result.code == 2 and "cannot write" in result.err


def test_full_temporary_disk_is_one_line_not_a_traceback(cli, monkeypatch):
    """The logins' pairs go to SQLite's temporary file (pairs.py); a full disk ends the run."""
    def disk_full(store):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(PairStore, "_flush", disk_full)
    result = cli("--year", "2018", SEED)
    assert result.code == 2 and result.err.count("\n") == 1
    assert "database or disk is full" in result.err and "TMPDIR" in result.err


def test_console_script_and_broken_pipe():
    """The installed entry point, piped into a reader that stops early: no traceback."""
    process = subprocess.run(
        f"{sys.executable} -m maillog_sasl --year 2018 -r messages -f ndjson {SEED} {SEED} | head -c 10",
        shell=True, capture_output=True, text=True)
    assert process.returncode == 0 and "Traceback" not in process.stderr


def test_file_named_like_a_subcommand_is_a_log(cli, tmp_path, monkeypatch):
    (tmp_path / "cram-md5").write_bytes(SEED.read_bytes())
    monkeypatch.chdir(tmp_path)
    result = cli("--year", "2018", "-f", "json", "./cram-md5")
    assert result.code == 0 and result.json()[0]["sent"] == 1


def test_help_gives_an_example_for_every_option(cli):
    with pytest.raises(SystemExit) as exit_info:
        cli("--help")
    assert exit_info.value.code == 0


def test_help_text_has_examples(capsys):
    from maillog_sasl.cli import build_parser
    parser = build_parser()
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            assert "e.g." in (action.help or ""), action.dest


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_corrupt_compressed_file_is_one_clear_line(cli, tmp_path, compress):
    log = tmp_path / "maillog.1"
    packed = compress(SEED.read_bytes())
    log.write_bytes(packed[:12] + b"\x00garbage" * 40)
    result = cli("--year", "2018", "-f", "json", log)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl: {log}: read failed part way:")
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_compressed_input_read_in_process_without_the_system_decompressor(report, tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda program: None)
    log = tmp_path / "maillog.2.gz"
    log.write_bytes(gzip.compress(SEED.read_bytes()))
    assert report("users", "--year", "2018", log)[0]["sent"] == 1


def test_summary_covers_the_whole_period_read(cli):
    """The seed's last Postfix line is smtpd's disconnect, after the last queue file line."""
    first_line = cli("--year", "2018", "--tz", "+09:00", SEED).out.splitlines()[0]
    assert first_line.startswith("2018-09-17 12:48:22 .. 2018-09-17 12:51:13 (UTC+09:00); 13 lines read;")


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("target", ["-o", "stdout"])
def test_full_disk_is_one_line_not_a_traceback(target):
    args = [sys.executable, "-m", "maillog_sasl", "--year", "2018", "-f", "csv", str(SEED)]
    with open("/dev/full", "w") as full:
        if target == "-o":
            process = subprocess.run(args + ["-o", "/dev/full"], capture_output=True, text=True)
        else:
            process = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True)
    assert process.returncode == 2
    assert process.stderr == "maillog-sasl: cannot write the report: No space left on device\n"


def test_a_file_with_no_syslog_line_is_named(cli, tmp_path):
    """Garbage lines inside a log are skipped; a file of nothing but garbage is the wrong file."""
    binary = tmp_path / "maillog.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    result = cli("--year", "2018", "-f", "json", binary, SEED)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl: {binary}: not a syslog file: none of its ")
    assert result.err.endswith(" lines has a timestamp, host and program\n")
    assert result.err.count("\n") == 1
    assert result.json()[0]["user"] == "centos7@phoenixknight.jp"
