"""A log that starts with a UTF-8 byte order mark loses no line.

Windows Notepad and PowerShell 5 (`Out-File`, `Set-Content -Encoding UTF8`) write EF BB BF before
the text of a file they save: an admin who copies a log through a Windows desktop into the
incident file gets one. It was read as the first character of the first line, which then was no
syslog line: a log whose first line was a login's `client=` line reported no login at all
("not syslog lines: 1"; found by a search of public logs, 2026-12-06). The mark is dropped at an
input's start, however it is read: a file, a compressed one, standard input, a worker's first
byte range, watch.

A log in UTF-16 after its byte order mark (PowerShell 5's `>`) is read as UTF-16, in one
process (below); by `watch` also from where a run stopped in it (a copy still being written when
cron ran `watch --once`), which read on as UTF-8 and had each character beyond ASCII U+FFFD.

The lines below are the seed incident's (sample_logs/seed-maillog.txt) from its login on.
"""

import datetime as dt
import gzip
import json
import random

import pytest
from test_jobs import chunks_of

from maillog_sasl import sources

from support import SAMPLE_LOGS

BOM = b"\xef\xbb\xbf"
SEED_FROM_LOGIN = b"".join(
    (SAMPLE_LOGS / "seed-maillog.txt").read_bytes().splitlines(keepends=True)[2:])
SEED = ("--year", "2018", "--tz", "+09:00")

# UTF-16 after its byte order mark: PowerShell 5's `Get-Content maillog > copy.log` (and
# Out-File's default). Its ASCII was read as UTF-8 with every other byte a NUL, which is no
# text, but the first line began with the mark's two bytes, no UTF-8, and was no syslog line
# (the login on it lost), and a non-ASCII character was U+FFFD (`jürgen` read `j\ufffdrgen`).
UTF16 = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
JURGEN = "jürgen@phoenixknight.jp"


def _utf16(codec: str, times: int = 1) -> bytes:
    text = SEED_FROM_LOGIN.decode().replace("centos7@phoenixknight.jp", JURGEN)
    return UTF16[codec] + (text * times).encode(codec)


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


@pytest.mark.parametrize("mark", ["utf-8", "utf-16-le"])
def test_two_jobs_read_a_marked_log_as_one(cli, tmp_path, monkeypatch, mark):
    # Cut in chunks of 2 KB. UTF-8: the file's first bytes are a worker's range starting at 0
    # or the parent's, and both drop the mark. UTF-16: a line ends in two bytes, and a range
    # cut after the first would start inside a character: the file is read by one process.
    # Either way the output is one process's, the first login's on the first line.
    log = tmp_path / "maillog"
    log.write_bytes(BOM + SEED_FROM_LOGIN * 40 if mark == "utf-8" else _utf16(mark, 40))
    outputs = []
    for jobs in ("1", "2"):
        chunks_of(2048, monkeypatch)
        result = cli("-f", "json", "--jobs", jobs, *SEED, log)
        assert result.code == 0, result.err
        outputs.append(result.out)
    assert outputs[0] == outputs[1]
    user = "centos7@phoenixknight.jp" if mark == "utf-8" else JURGEN
    assert _login(cli("-f", "json", *SEED, log).json()) == (user, 40, 40)


def test_watch_reads_the_first_line_after_the_mark(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(BOM + SEED_FROM_LOGIN)
    result = cli("watch", "--once", "--state", tmp_path / "state", "--tz", "+09:00", log)
    assert result.code == 0, result.err
    state = cli("state", "--state", tmp_path / "state", "-f", "json")
    assert "centos7@phoenixknight.jp" in state.out, state.out


@pytest.mark.parametrize("codec", sorted(UTF16))
@pytest.mark.parametrize("packed", ["plain", "gzip", "stdin"])
def test_a_utf16_log_is_read_whole(cli, tmp_path, codec, packed):
    data = _utf16(codec)
    log = tmp_path / "maillog"
    log.write_bytes(gzip.compress(data) if packed == "gzip" else data)
    result = (cli("-f", "json", *SEED, "-", stdin=data) if packed == "stdin"
              else cli("-f", "json", *SEED, log))
    assert result.code == 0, result.err
    assert _login(result.json()) == (JURGEN, 1, 1)


@pytest.mark.parametrize("codec", sorted(UTF16))
def test_the_end_of_a_utf16_log_is_read_from_a_characters_start(codec):
    # Its last lines' stamps place the log's yearless lines (sources.end_time()); the tail is
    # read from a character's first byte, wherever TAIL_BYTES falls.
    line = "2025-10-03T06:03:{:02d}.123456+00:00 mx postfix/smtpd[9]: connect from a[192.0.2.1]\n"
    text = "".join(line.format(second % 60) for second in range(200))
    data = UTF16[codec] + text.encode(codec)
    if (len(data) - sources.TAIL_BYTES) % 2 == 0:
        data += "\n".encode(codec)[:1]  # an odd offset: half a character written at the end
    end = sources._end_of(lambda size, offset: data[offset:offset + size], len(data),
                          data[:4096], dt.timezone.utc, None)
    assert end == dt.datetime(2025, 10, 3, 6, 3, 19, 123456, tzinfo=dt.timezone.utc)


def _accounts(cli, state) -> list:
    result = cli("state", "--state", state, "-f", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)["accounts"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("codec", sorted(UTF16))
def test_watch_reads_a_utf16_log_on_in_runs_as_its_text_at_once(cli, tmp_path, codec, newline):
    # Cut anywhere (inside a character, between a CR and its LF), each part read by a run.
    text = SEED_FROM_LOGIN.decode().replace("centos7@phoenixknight.jp", JURGEN)
    text = text.replace("\n", newline) * 3
    data = UTF16[codec] + text.encode(codec)
    log, state = tmp_path / "maillog", tmp_path / "state"
    log.write_bytes(b"")
    start = 0
    for cut in sorted(random.Random(7).sample(range(1, len(data)), 12)) + [len(data)]:
        with open(log, "ab") as out:
            out.write(data[start:cut])
        start = cut
        result = cli("watch", "--once", "--state", state, *SEED, log)
        assert result.code in (0, 1), result.err
    whole = tmp_path / "whole"
    whole.write_text(text, encoding="utf-8")
    assert cli("watch", "--once", "--state", tmp_path / "at-once", *SEED, whole).code in (0, 1)
    accounts = _accounts(cli, state)
    assert [account["user"] for account in accounts] == [JURGEN]
    assert accounts == _accounts(cli, tmp_path / "at-once")
