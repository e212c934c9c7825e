"""The incident reports from the command line: the purge pipeline into a stand-in for
`postsuper -d -`, output that is safe to open, and the threshold options."""

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from maillog_sasl import cli
from maillog_sasl.cli import THRESHOLD_OPTIONS

from maillog_writer import MailLog, at

POSTSUPER = """\
#!/bin/sh
# Stand-in for `postsuper -d -`: reads queue IDs on stdin, one per line, and records them.
[ "$1" = "-d" ] && [ "$2" = "-" ] || { echo "usage: postsuper -d -" >&2; exit 64; }
while IFS= read -r id; do
    case $id in
        ''|*[!0-9A-Za-z]*) echo "postsuper: bad queue ID: '$id'" >&2; exit 1 ;;
    esac
    echo "$id" >> "$DELETED"
done
"""


def run_cli(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_ids_piped_into_postsuper_are_exactly_the_pending_ones(tmp_path):
    log = MailLog()
    log.login("bad@example.jp", "203.0.113.66", at(0, 9), to=5)  # delivered and removed
    before = len(log.pending)
    log.login("bad@example.jp", "203.0.113.66", at(0, 10), outcomes={"sent": 2, "deferred": 30},
              notice=True)
    log.login("bad@example.jp", "203.0.113.66", at(0, 11), outcome="deferred", to=40)
    expected = log.pending[before:]
    log.login("olga@example.jp", "192.0.2.10", at(0, 12), outcome="deferred", to=1)
    assert len(expected) == 3 and log.pending[-1] not in expected
    path = log.write(tmp_path / "maillog")
    fake = tmp_path / "postsuper"
    fake.write_text(POSTSUPER)
    fake.chmod(0o755)
    deleted = tmp_path / "deleted"
    command = (f"{sys.executable} -m maillog_sasl --report queue --user bad@example.jp "
               f"--format ids {path} | {fake} -d -")
    env = {**os.environ, "DELETED": str(deleted)}
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(deleted.read_text().split("\n")[:-1]) == sorted(expected)


# -- output that is safe to open ----------------------------------------------------------------

FORMULA = '=hyperlink("http://203.0.113.9/steal","invoice")'  # (an account's name: lower case)
ESCAPE = "\x1b]8;;http://203.0.113.9/\x1b\\root\x1b]8;;\x1b\\\x1b[31m"  # (lower case: an account's name)
BIDI = "admin\u202egpj.exe"


def hostile_log(tmp_path) -> str:
    log = MailLog()
    log.login(FORMULA, "203.0.113.66", at(0, 9))
    log.login(ESCAPE, "203.0.113.67", at(0, 9))
    log.login(BIDI, "203.0.113.68", at(0, 9))
    log.login("ユーザー@example.jp", "203.0.113.69", at(0, 9))
    return log.write(tmp_path / "maillog")


def test_csv_neutralises_formulas(tmp_path, capsys):
    status, out, _ = run_cli(["--format", "csv", hostile_log(tmp_path)], capsys)
    assert status == 0
    users = [row["user"] for row in csv.DictReader(io.StringIO(out))]
    assert "'" + FORMULA in users
    assert not any(user.startswith(("=", "+", "-", "@", "\t", "\r")) for user in users)
    assert "\x1b" not in out and "\u202e" not in out


@pytest.mark.parametrize("cell, expected", [
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "\\x09x"),
    ("\r=1", "\\x0d=1"),
    (-5, "-5"),
])
def test_csv_cells(cell, expected):
    from maillog_sasl.render import csv_cell
    assert csv_cell(cell) == expected


def test_terminal_never_gets_control_characters(tmp_path, capsys):
    status, out, _ = run_cli(["--report", "suspicious", "--shared-ip-accounts", "2",
                              hostile_log(tmp_path)], capsys)
    assert status == 0
    status, out, _ = run_cli([hostile_log(tmp_path)], capsys)
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", out)
    assert "\\x1b]8;;http://203.0.113.9/\\x1b\\root" in out
    assert "admin\\u202egpj.exe" in out
    assert "ユーザー@example.jp" in out


def test_json_escapes_but_keeps_the_value(tmp_path, capsys):
    status, out, _ = run_cli(["--format", "json", hostile_log(tmp_path)], capsys)
    assert "\x1b" not in out and "\u202e" not in out
    users = {row["user"] for row in json.loads(out)}
    assert {FORMULA, ESCAPE, BIDI, "ユーザー@example.jp"} <= users


LISTED = ["alice, bob", 'say "hi"', " padded", "carol"]


def test_a_list_cell_keeps_an_item_with_a_comma_one_item(tmp_path, capsys):
    # The failures CSV's and table's `usernames` joined the items with ", ": an attacker who
    # tried `alice, bob` showed in the incident file as one who tried alice and bob.
    log = MailLog()
    log.failures("203.0.113.70", at(0, 9), LISTED)
    path = log.write(tmp_path / "maillog")
    status, out, _ = run_cli(["-r", "failures", "-f", "json", path], capsys)
    [row] = json.loads(out)
    assert sorted(row["usernames"]) == sorted(LISTED)
    status, out, _ = run_cli(["-r", "failures", "-f", "csv", path], capsys)
    [cell] = [row["usernames"] for row in csv.DictReader(io.StringIO(out))]
    assert status == 0 and next(csv.reader([cell], skipinitialspace=True)) == row["usernames"]
    status, out, _ = run_cli(["-r", "failures", path], capsys)
    assert f"  {cell}  " in out  # the table's cell is the CSV's


def test_output_is_utf8_whatever_the_locale(tmp_path):
    done = subprocess.run([sys.executable, "-m", "maillog_sasl", hostile_log(tmp_path)],
                          env={**os.environ, "PYTHONIOENCODING": "latin-1"},
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ユーザー@example.jp" in done.stdout.decode("utf-8")


# -- options ------------------------------------------------------------------------------------

def test_thresholds_come_from_the_command_line(tmp_path, capsys):
    log = MailLog()
    log.login("big@example.jp", "198.51.100.7", at(0, 3), to=150)
    path = log.write(tmp_path / "maillog")
    _, out, _ = run_cli(["--report", "suspicious", "--format", "csv", path], capsys)
    assert "big@example.jp" in out
    _, out, _ = run_cli(["--report", "suspicious", "--format", "csv",
                         "--max-hourly-recipients", "150", path], capsys)
    assert "big@example.jp" not in out


def test_failures_by_user_from_the_command_line(tmp_path, capsys):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["admin", "admin", "info"])
    _, out, _ = run_cli(["--report", "failures", "--by", "user", "--format", "csv",
                         log.write(tmp_path / "maillog")], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["user"], row["attempts"], row["ips"]) for row in rows] == [
        ("admin", "2", "1"), ("info", "1", "1")]


@pytest.mark.parametrize("option, value", [
    ("--failed-percent", "0"), ("--hop-window", "soon"), ("--burst-min", "-3"),
    ("--shared-ip-accounts", "1"), ("--baseline-days", "nan"), ("--by", "host"),
])
def test_bad_threshold_values_are_usage_errors(tmp_path, capsys, option, value):
    status, _, err = run_cli(["--report", "suspicious", option, value, "x.log"], capsys)
    assert status == 2 and option in err


def test_every_threshold_option_shows_its_default_and_an_example(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no option's help wrapped
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for _field, flag, _type, metavar, *_rest in THRESHOLD_OPTIONS:
        found = re.search(rf"^  {flag} {metavar}\s+((strong|weak): .*)$", text, re.MULTILINE)
        assert found, flag
        assert re.search(rf"\(default: [\d.]+\); e\.g\. {flag} [\d.]+$", found.group(1)), found.group(1)
