"""A log that starts with a UTF-8 byte order mark loses no line.

Windows Notepad and PowerShell 5 (`Out-File`, `Set-Content -Encoding UTF8`) write EF BB BF before
the text of a file they save: an admin who copies a log through a Windows desktop into the
incident file gets one. It was read as the first character of the first line, which then was no
syslog line: a log whose first line was a login's `client=` line reported no login at all
("not syslog lines: 1"; found by a search of public logs, 2026-12-06). The mark is dropped at an
input's start, however it is read: a file, a compressed one, standard input, a worker's first
byte range, watch.

The lines below are the seed incident's (sample_logs/seed-maillog.txt) from its login on.
"""

import gzip

import pytest
from test_jobs import chunks_of

from support import SAMPLE_LOGS

BOM = b"\xef\xbb\xbf"
SEED_FROM_LOGIN = b"".join(
    (SAMPLE_LOGS / "seed-maillog.txt").read_bytes().splitlines(keepends=True)[2:])
SEED = ("--year", "2018", "--tz", "+09:00")


def _login(rows) -> tuple:
    [row] = rows
    return row["user"], row["messages"], row["sent"]


def test_the_seeds_login_is_its_first_line():
    assert SEED_FROM_LOGIN.split(b": ", 1)[1].startswith(b"A4FCE204384E: client=")


@pytest.mark.parametrize("packed", ["plain", "gzip"])
def test_a_file_that_starts_with_a_byte_order_mark(report, tmp_path, packed):
    data = BOM + SEED_FROM_LOGIN
    log = tmp_path / "maillog"
    log.write_bytes(gzip.compress(data) if packed == "gzip" else data)
    assert _login(report("users", *SEED, log)) == ("centos7@phoenixknight.jp", 1, 1)


def test_standard_input_that_starts_with_a_byte_order_mark(cli):
    result = cli("-f", "json", *SEED, "-", stdin=BOM + SEED_FROM_LOGIN)
    assert result.code == 0, result.err
    assert _login(result.json()) == ("centos7@phoenixknight.jp", 1, 1)


def test_a_workers_first_range_drops_the_mark(cli, tmp_path, monkeypatch):
    # Cut in chunks of 2 KB, the file's first bytes are a worker's range starting at 0 or the
    # parent's: both drop the mark, and the output is one process's.
    log = tmp_path / "maillog"
    log.write_bytes(BOM + SEED_FROM_LOGIN * 40)
    outputs = []
    for jobs in ("1", "2"):
        chunks_of(2048, monkeypatch)
        result = cli("-f", "json", "--jobs", jobs, *SEED, log)
        assert result.code == 0, result.err
        outputs.append(result.out)
    assert outputs[0] == outputs[1]
    # The 40 logins' messages, the first one's login on the first line.
    assert _login(cli("-f", "json", *SEED, log).json()) == ("centos7@phoenixknight.jp", 40, 40)


def test_watch_reads_the_first_line_after_the_mark(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(BOM + SEED_FROM_LOGIN)
    result = cli("watch", "--once", "--state", tmp_path / "state", "--tz", "+09:00", log)
    assert result.code == 0, result.err
    state = cli("state", "--state", tmp_path / "state", "-f", "json")
    assert "centos7@phoenixknight.jp" in state.out, state.out
