"""Inputs as an administrator gives them (maillog_sasl.sources): a pipe given as a path, a FIFO,
a closed standard input, a file renamed while it is read, the same file twice, CR line ends,
and lines without end. Each test is built on a minimal log, and fails on the reading that
opened a path twice, read a pipe to peek at it, counted a file twice, took a CR-only log for
one line, or grew an unfinished line without bound."""

import bz2
import codecs
import contextlib
import datetime
import gzip
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import threading
import tracemalloc
import zlib

import pytest

from maillog_sasl import open_logs
from maillog_sasl.sources import BLOCK_SIZE, MAX_LINE, PEEK_BYTES, Problem, Source, open_sources

from support import SAMPLE_LOGS

SEED = SAMPLE_LOGS / "seed-maillog.txt"
SEED_LINES = 13
SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
SAMPLE_LINES = 22665
COMMAND = [sys.executable, "-m", "maillog_sasl"]
# Larger than the block read ahead of a path to order a rotated set: a pipe that lost that
# block, or everything after it, reads short.
REPEATS = PEEK_BYTES // len(SEED.read_bytes()) * 3
BIG_LOG = SEED.read_bytes() * REPEATS
REALLOGS = SAMPLE_LOGS.parent / "tests" / "reallogs"


@contextlib.contextmanager
def piped(data: bytes):
    """A path naming the read end of a pipe (like bash's `<(...)`) that a thread fills with
    `data`; the pipe is closed afterwards."""
    read_end, write_end = os.pipe()

    def fill():
        with open(write_end, "wb") as pipe:
            try:
                pipe.write(data)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=fill, daemon=True)
    writer.start()
    try:
        yield f"/dev/fd/{read_end}"
    finally:
        os.close(read_end)
        writer.join(timeout=5)


def lines_read(stderr: str) -> int:
    return int(re.search(r"^lines read: +(\d+)$", stderr, re.M).group(1))


def iso_log(day: str) -> bytes:
    """The seed incident with RFC 3339 stamps on 2018-09-DAY: a log whose place in a rotated set
    does not depend on any file's modification time."""
    text = SEED.read_text()
    return re.sub(r"^Sep 17 (\S+)", rf"2018-09-{day}T\1+09:00", text, flags=re.M).encode()


def read_lines(data: bytes, block_size: int = BLOCK_SIZE, parallel: bool = False):
    source = Source("<test>", None, None, io.BytesIO(data))
    lines = [line for batch in source.batches(block_size=block_size, parallel=parallel)
             for line in batch]
    return lines, source


# -- every input opened once; a pipe keeps the block read ahead of it ---------------------------

def test_a_pipe_given_as_a_path_loses_nothing(cli):
    """`maillog-sasl <(zcat maillog.1.gz)`: the path is read once, its first block too."""
    with piped(BIG_LOG) as path:
        result = cli("--year", "2018", "--stats", "-f", "json", path)
    assert result.code == 0, result.err
    assert lines_read(result.err) == SEED_LINES * REPEATS
    assert result.json()[0]["user"] == "centos7@phoenixknight.jp"


def test_dev_stdin_from_a_pipe_loses_nothing():
    """`cat maillog | maillog-sasl /dev/stdin`."""
    process = subprocess.run(COMMAND + ["--year", "2018", "--stats", "-f", "json", "/dev/stdin"],
                             input=BIG_LOG, capture_output=True)
    assert process.returncode == 0, process.stderr
    assert lines_read(process.stderr.decode()) == SEED_LINES * REPEATS


def test_a_fifo_loses_nothing(cli, tmp_path):
    fifo = tmp_path / "maillog.fifo"
    os.mkfifo(fifo)
    log = tmp_path / "maillog"
    log.write_bytes(BIG_LOG)
    writer = subprocess.Popen(["sh", "-c", f"cat '{log}' > '{fifo}'"])
    try:
        result = cli("--year", "2018", "--stats", "-f", "json", fifo)
    finally:
        writer.kill()
        writer.wait()
    assert result.code == 0, result.err
    assert lines_read(result.err) == SEED_LINES * REPEATS


def test_a_compressed_pipe_is_inflated_in_this_process(cli, monkeypatch):
    """The system's gzip reads a regular file's descriptor from its start; a pipe has no start
    to go back to, so it is inflated here, after the bytes read ahead."""
    def no_child(*args, **kwargs):
        raise AssertionError("no child process for a pipe")

    monkeypatch.setattr(subprocess, "Popen", no_child)
    with piped(gzip.compress(BIG_LOG)) as path:
        result = cli("--year", "2018", "--stats", "-f", "json", path)
    assert result.code == 0, result.err
    assert lines_read(result.err) == SEED_LINES * REPEATS


def test_a_pipe_takes_its_place_in_a_rotated_set(cli, tmp_path):
    """The pipe's first timestamp is read from the block read ahead, which is then read again
    as the pipe's first lines: the older log in a pipe is read first, and whole."""
    newer = tmp_path / "maillog"
    newer.write_bytes(iso_log("18"))
    with piped(iso_log("16") * REPEATS) as path:
        result = cli("--stats", "-f", "json", newer, path)
    assert result.code == 0, result.err
    assert f"files, in the order read: {path}, {newer}\n" in result.err
    assert lines_read(result.err) == SEED_LINES * (REPEATS + 1)


def test_a_file_renamed_while_it_is_read_is_read_whole(tmp_path):
    """logrotate renames maillog and starts a new one after the run has begun: the run reads
    the file it opened, not the new one."""
    log = tmp_path / "maillog"
    log.write_bytes(BIG_LOG)
    analysis = open_logs([str(log)], year=2018)
    log.rename(tmp_path / "maillog.1")
    log.write_bytes(b"")
    analysis.read()
    assert analysis.stats.lines_read == SEED_LINES * REPEATS
    assert analysis.problems == []


@pytest.mark.parametrize("logs", [[], [str(SEED)]], ids=["alone", "with-a-file"])
def test_closed_standard_input_is_one_line(logs):
    """`maillog-sasl - <&-`: no traceback; and a file opened afterwards (which takes descriptor
    0) is neither taken for standard input nor said to be the same file as it."""
    command = " ".join(COMMAND + ["--year", "2018", "-f", "json", *logs, "-"]) + " <&-"
    process = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr == "maillog-sasl: <stdin>: cannot read: standard input is closed\n"
    if logs:
        assert [row["user"] for row in json.loads(process.stdout)] == ["centos7@phoenixknight.jp"]


def test_standard_input_open_for_writing_only_is_one_line():
    command = " ".join(COMMAND + ["-f", "json", "-"]) + f" 0>{os.devnull}"
    process = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr.startswith("maillog-sasl: <stdin>: cannot read:")
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr


def test_compressed_standard_input(cli):
    result = cli("--year", "2018", "--stats", "-f", "json", "-", stdin=gzip.compress(BIG_LOG))
    assert result.code == 0, result.err
    assert lines_read(result.err) == SEED_LINES * REPEATS


def test_bytes_done_counts_a_file_and_a_pipe(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(BIG_LOG)
    with piped(BIG_LOG) as path:
        sources = open_sources([str(log), path]).sources
        for source in sources:
            for _ in source.batches():
                pass
    assert [source.bytes_done for source in sources] == [len(BIG_LOG)] * 2
    assert [source.size for source in sources] == [len(BIG_LOG), 0]


def test_a_source_is_read_once():
    source = Source("<test>", None, None, io.BytesIO(SEED.read_bytes()))
    assert sum(len(batch) for batch in source.batches()) == SEED_LINES
    assert list(source.batches()) == []
    assert source.problem is not None


# -- the same file twice is read once ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["same path", "symlink", "hard link", "copy"])
def test_the_same_file_twice_is_read_once(cli, tmp_path, kind):
    log = tmp_path / "maillog"
    log.write_bytes(SEED.read_bytes())
    other = tmp_path / "other"
    if kind == "same path":
        other = log
    elif kind == "symlink":
        other.symlink_to(log)
    elif kind == "hard link":
        os.link(log, other)
    else:
        shutil.copyfile(log, other)
    result = cli("--year", "2018", "--stats", "-f", "json", log, other)
    assert result.code == 0
    assert result.err.startswith(f"maillog-sasl: {other}: the same file as {log}; read once\n")
    assert lines_read(result.err) == SEED_LINES
    [row] = result.json()
    assert (row["sessions"], row["messages"], row["recipients"]) == (1, 1, 1)


@pytest.mark.parametrize("second", ["same path", "symlink", "standard input", "-o", "URL"])
def test_the_same_fifo_twice_is_read_once(tmp_path, second):
    """`maillog-sasl fifo fifo` read the FIFO, then waited for ever for a writer to open it
    again; `-o fifo` held a writer of its own, and its read never ended (a review's)."""
    fifo = tmp_path / "maillog.fifo"
    os.mkfifo(fifo)
    log = tmp_path / "maillog"
    log.write_bytes(SEED.read_bytes())  # small: its writer is gone when the second name is read
    other = tmp_path / "link"
    other.symlink_to(fifo)
    if second == "URL":
        pytest.importorskip("fsspec")  # before the writer: a skip would leave it waiting
    writer = subprocess.Popen(["sh", "-c", f"cat '{log}' > '{fifo}'"])
    arguments = {"same path": [fifo, fifo], "symlink": [fifo, other],
                 "standard input": [fifo, "-"], "-o": [fifo, "-o", fifo],
                 "URL": [fifo, f"file://{fifo}"]}[second]
    try:
        with open(fifo, "rb") if second == "standard input" else open(os.devnull, "rb") as stdin:
            process = subprocess.run(COMMAND + ["--year", "2018", "--stats", "-f", "json",
                                                *map(str, arguments)],
                                     stdin=stdin, capture_output=True, text=True, timeout=30)
    finally:
        writer.kill()
        writer.wait()
    if second == "-o":
        assert process.returncode == 2
        assert process.stderr == f"maillog-sasl: {fifo}: is also a log to read; not overwritten\n"
        return
    assert process.returncode == 0, process.stderr
    shown, first = {"same path": (fifo, fifo), "symlink": (other, fifo),
                    "standard input": (fifo, "<stdin>"), "URL": (f"file://{fifo}", fifo)}[second]
    assert process.stderr.startswith(f"maillog-sasl: {shown}: the same file as {first}; read once")
    assert lines_read(process.stderr) == SEED_LINES


def test_a_crashs_run_of_nul_bytes_loses_no_line(cli, tmp_path):
    """After a crash a log's tail is often NUL bytes (the file grown, its blocks never written);
    the first line after the reboot was read as their tail, cut at 64 KiB and lost (a review's
    log: a cleanup line of the sample's)."""
    data = SAMPLE.read_bytes()
    middle = data.index(b"\n", len(data) // 2) + 1
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.write_bytes(data)
    crashed.write_bytes(data[:middle] + b"\0" * 200_000 + data[middle:])
    for options in (["--stats"], ["-r", "messages", "-f", "csv"], ["--jobs", "2"]):
        ours, theirs = cli(*options, crashed), cli(*options, clean)
        assert (ours.code, ours.out, ours.err.replace(str(crashed), str(clean))) == (
            theirs.code, theirs.out, theirs.err)

    def alerts(log):
        result = cli("watch", "--once", "--state", tmp_path / f"{log.name}.sqlite", log)
        return [{key: value for key, value in json.loads(line).items() if key != "time"}
                for line in result.out.splitlines()]

    assert alerts(crashed) == alerts(clean)


@pytest.mark.parametrize("ends", ["CR in the middle", "CR throughout"])
def test_watch_reads_bare_cr_line_ends_as_the_reports_do(cli, tmp_path, ends):
    """watch split lines at LF only: 3,000 lines ended by a bare CR were one 1 MiB piece after
    another, lost (a review's log); the reports read them."""
    data = SAMPLE.read_bytes()
    if ends == "CR in the middle":
        lines = data.split(b"\n")
        data = b"\n".join(lines[:9000]) + b"\r" + b"\r".join(lines[9000:12000]) + b"\n" + \
            b"\n".join(lines[12000:])
    else:
        data = data.replace(b"\n", b"\r") + b"\n"  # its last line ended, as in a live log
    clean, mixed = tmp_path / "clean", tmp_path / "mixed"
    clean.write_bytes(SAMPLE.read_bytes())
    mixed.write_bytes(data)

    def kept(log):
        state = tmp_path / f"{log.name}.sqlite"
        assert cli("watch", "--once", "--state", state, log).code == 1
        result = cli("state", "--state", state, "--format", "json")
        return {key: result.json()[key] for key in ("open_sessions", "open_messages", "accounts")}

    assert kept(mixed) == kept(clean)
    assert cli("--stats", mixed).err.replace(str(mixed), "") == cli(
        "--stats", clean).err.replace(str(clean), "")


def two_gzip_members(data: bytes) -> bytes:
    """`cat a.gz b.gz`: one gzip file of two members, that gzip -d reads as one text."""
    half = data.index(b"\n", len(data) // 2) + 1
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


def assert_read_once(cli, paths, note):
    """The sample's lines read once from `paths`, one of them a note: `note; read once`."""
    result = cli("--stats", *paths)
    assert result.code == 0
    assert result.err.startswith(f"maillog-sasl: {note}; read once\n")
    assert lines_read(result.err) == SAMPLE_LINES


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress,
                                      two_gzip_members])
@pytest.mark.parametrize("plain_first", [True, False])
def test_a_log_beside_its_compressed_copy_is_read_once(cli, tmp_path, compress, plain_first):
    # `gunzip -k maillog.2.gz`, then `maillog-sasl /var/log/maillog*`: every login and
    # message was counted twice.
    data = SAMPLE.read_bytes()
    plain, packed = tmp_path / "maillog.2", tmp_path / "maillog.2.packed"
    plain.write_bytes(data)
    packed.write_bytes(compress(data))
    paths = [plain, packed] if plain_first else [packed, plain]
    assert_read_once(cli, paths, f"{packed}: the same log as {plain}, compressed")


def test_a_compressed_copy_gzip_is_still_writing_is_left_for_its_plain_file(cli, tmp_path):
    # logrotate's compress: gzip writes maillog.2.gz beside maillog.2 and deletes maillog.2
    # when it is done. A run in between read the plain file, then the half-written copy.
    data = SAMPLE.read_bytes()
    plain, packed = tmp_path / "maillog.2", tmp_path / "maillog.2.gz"
    plain.write_bytes(data)
    whole = gzip.compress(data)
    packed.write_bytes(whole[:len(whole) // 3])
    result = cli("--stats", plain, packed)
    assert result.code == 0
    assert "read failed" not in result.err
    assert lines_read(result.err) == SAMPLE_LINES


@pytest.mark.parametrize("share", [8, 1.2])
def test_a_plain_file_that_holds_the_start_of_a_compressed_log_is_left_for_it(cli, tmp_path,
                                                                              share):
    # `zcat maillog.2.gz > maillog.2` cut short: the compressed file holds it all. Taken for
    # the plain file's copy, the rest of the log was lost; read both, the start twice.
    data = SAMPLE.read_bytes()
    packed, plain = tmp_path / "maillog.2.gz", tmp_path / "maillog.2"
    packed.write_bytes(gzip.compress(data))
    plain.write_bytes(data[:data.index(b"\n", int(len(data) // share)) + 1])
    assert_read_once(cli, [plain, packed], f"{plain}: the start of the log {packed} holds")


@pytest.mark.parametrize("crlf_plain", [True, False])
@pytest.mark.parametrize("cut", [False, True])
def test_a_compressed_copy_with_other_line_ends_is_read_once(cli, tmp_path, crlf_plain, cut):
    # A log copied through Windows (CRLF line ends) and compressed there, given beside the
    # original (`maillog-sasl maillog.2 maillog.2.gz`), whole or cut short (a download or a
    # gzip that stopped): the texts differ in every line's end, not in a line, yet both were
    # read, every login and message counted twice (the cut one up to its cut).
    data = SAMPLE.read_bytes()
    crlf = data.replace(b"\n", b"\r\n")
    plain, packed = tmp_path / "maillog.2", tmp_path / "maillog.2.gz"
    plain.write_bytes(crlf if crlf_plain else data)
    whole = gzip.compress(data if crlf_plain else crlf)
    packed.write_bytes(whole[:len(whole) // 3] if cut else whole)
    assert_read_once(cli, [plain, packed],
                     f"{packed}: the same log as {plain}, compressed, with other line ends")


def test_a_copy_with_other_line_ends_is_read_once(cli, tmp_path):
    # Of the same lines, the first named is read, as of two copies alike.
    data = SAMPLE.read_bytes()
    log, copy = tmp_path / "maillog.1", tmp_path / "maillog.2"
    log.write_bytes(data)
    copy.write_bytes(data.replace(b"\n", b"\r\n"))
    assert_read_once(cli, [copy, log], f"{log}: the same log as {copy}, with other line ends")


def flipped(data: bytes) -> bytes:
    """`data` with 16 bytes three quarters in flipped: a disk's or a download's damage."""
    at = len(data) * 3 // 4
    return data[:at] + bytes(byte ^ 0xFF for byte in data[at:at + 16]) + data[at + 16:]


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_compressed_copy_damaged_in_the_middle_is_read_once(cli, tmp_path, compress):
    # logrotate's compress, maillog.1.gz beside maillog.1, its bytes damaged: gzip inflates
    # them to other text up to the check that fails (its CRC at the member's end), so the
    # texts parted there and both were read, every line up to the damage twice (969 sessions
    # where the rotated set gives 833); its trailer gives the plain file's length, and its
    # text up to the damage is the start of the log the plain file holds. bzip2 and xz check
    # a block before its text: theirs stops there, the start of the other's (a damaged bzip2
    # file was a traceback).
    data = SAMPLE.read_bytes()
    plain, packed = tmp_path / "maillog.1", tmp_path / "maillog.1.gz"
    plain.write_bytes(data)
    packed.write_bytes(flipped(compress(data)))
    alone = cli("-r", "sessions", "-f", "csv", plain)
    assert_read_once(cli, [plain, packed], f"{packed}: the same log as {plain}, compressed")
    assert cli("-r", "sessions", "-f", "csv", packed, plain).out == alone.out


def test_a_damaged_copy_of_several_gzip_members_is_read(cli, tmp_path):
    # `cat a.gz b.gz`: its trailer gives only its last member's length, and nothing tells
    # such a damaged copy from another log that begins as this one does and is damaged later
    # (below): both are read, the damage reported.
    data = SAMPLE.read_bytes()
    plain, packed = tmp_path / "maillog.1", tmp_path / "maillog.1.gz"
    plain.write_bytes(data)
    packed.write_bytes(flipped(two_gzip_members(data)))
    damaged = cli("--stats", packed)
    assert "read failed part way" in damaged.err
    result = cli("--stats", plain, packed)
    assert "read once" not in result.err and "read failed part way" in result.err
    assert lines_read(result.err) == SAMPLE_LINES + lines_read(damaged.err)


def test_a_damaged_gzip_log_that_parts_from_another_is_read(cli, tmp_path):
    # Another log that begins as the plain one does (its first 100 lines), one gzip member
    # damaged three quarters in: the texts part where the damaged member fails, and it was
    # taken for a damaged copy and left out whole, 7,711 lines lost. Its trailer's length is
    # not the plain file's: each is read as it is alone.
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "maillog.a", tmp_path / "maillog.b.gz"
    first.write_bytes(b"".join(lines[:15000]))
    second.write_bytes(flipped(gzip.compress(b"".join(lines[:100] + lines[15000:]))))
    damaged = cli("--stats", second)
    assert "read failed part way" in damaged.err
    result = cli("--stats", first, second)
    assert "read once" not in result.err, result.err
    assert lines_read(result.err) == 15000 + lines_read(damaged.err)


def stopping_after(data: bytes, at: int) -> bytes:
    """gzip's compress of `data` that stops inflating after its first `at` bytes: the block
    there has a type deflate has not (a damaged byte), so zlib fails at once."""
    packer = zlib.compressobj(wbits=31)
    head = packer.compress(data[:at]) + packer.flush(zlib.Z_FULL_FLUSH)
    rest = packer.compress(data[at:]) + packer.flush()
    return head + bytes([rest[0] | 0b110]) + rest[1:]


@pytest.mark.parametrize("at", [200_000, 2_000_000])
def test_a_compressed_copy_that_stops_inflating_is_read_once(cli, tmp_path, at):
    # Damage where zlib stops at once: within the first block read to order the set, the
    # text inflated before it was dropped with the error, so the copy had no first line, was
    # compared with no file, and its lines up to the damage were read twice.
    data = SAMPLE.read_bytes()
    plain, packed = tmp_path / "maillog.1", tmp_path / "maillog.1.gz"
    plain.write_bytes(data)
    packed.write_bytes(stopping_after(data, at))
    assert len(packed.read_bytes()) > PEEK_BYTES
    assert_read_once(cli, [plain, packed], f"{packed}: the same log as {plain}, compressed")


def test_a_damaged_log_that_parts_from_another_before_its_damage_is_read(cli, tmp_path):
    # Two logs that begin alike, the second's first member whole and its second damaged: the
    # texts part in the first, which inflates to its end, so the second is no copy. Each is
    # read as it is alone: the damaged one up to its damage, the failure reported.
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "maillog.a", tmp_path / "maillog.b.gz"
    first.write_bytes(b"".join(lines[:15000]))
    second.write_bytes(gzip.compress(b"".join(lines[:100] + lines[15000:18000]))
                       + flipped(gzip.compress(b"".join(lines[18000:]))))
    damaged = cli("--stats", second)
    assert "read failed part way" in damaged.err
    result = cli("--stats", first, second)
    assert "read once" not in result.err and "read failed part way" in result.err
    assert lines_read(result.err) == 15000 + lines_read(damaged.err)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8-sig"])
@pytest.mark.parametrize("crlf", [True, False])
def test_a_copy_in_another_encoding_is_read_once(cli, tmp_path, encoding, crlf):
    # A copy made through Windows (PowerShell 5's `>`: UTF-16 with its mark, CRLF; Notepad's
    # UTF-8 with its mark) beside the original maillog.1.gz: the texts read alike, but their
    # bytes differ from the first on, and both were read (1049 sessions where the rotated set
    # gives 833).
    data = SAMPLE.read_bytes()
    text = data.decode().replace("\n", "\r\n") if crlf else data.decode()
    mark = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    packed, copy = tmp_path / "maillog.1.gz", tmp_path / "maillog.1"
    packed.write_bytes(gzip.compress(data))
    copy.write_bytes(mark + text.encode(encoding))
    ends = ", with other line ends" if crlf else ""
    assert_read_once(cli, [packed, copy], f"{packed}: the same log as {copy}, compressed{ends}")


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_log_cut_short_that_parts_from_another_is_read(cli, tmp_path, compress):
    # Two logs that begin alike (a central log and one host's), the second compressed and cut
    # short (gzip stopped by a full disk): a member cut short was taken for damage where the
    # texts parted, and the second, no copy, was left out whole ("the same log as ...,
    # compressed; read once"), its lines after the parting lost. What a member cut short
    # inflates is its text's start, never other text: each is read as it is alone.
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "maillog.a", tmp_path / "maillog.b.gz"
    first.write_bytes(b"".join(lines[:15000]))
    packed = compress(b"".join(lines[:100] + lines[15000:]))
    second.write_bytes(packed[:len(packed) - 200])
    alone = cli("--stats", second)
    result = cli("--stats", first, second)
    assert "read once" not in result.err, result.err
    assert lines_read(result.err) == 15000 + lines_read(alone.err)


def gzip_named(name: str):
    """gzip's compress as gzip NAME does it: the name (and time) in the header, so that two
    compressed copies of one text are not the same bytes."""
    def compress(data: bytes) -> bytes:
        packed = io.BytesIO()
        with gzip.GzipFile(filename=name, mode="wb", fileobj=packed, mtime=len(name)) as out:
            out.write(data)
        return packed.getvalue()
    return compress


@pytest.mark.parametrize("compress_log, compress_info", [
    (gzip_named("mail.log.2"), gzip_named("mail.info.2")),
    (gzip_named("mail.log.2"), bz2.compress),
    (lzma.compress, two_gzip_members),
], ids=["gzip-gzip", "gzip-bzip2", "xz-gzip"])
def test_one_log_compressed_under_two_names_is_read_once(cli, tmp_path, compress_log,
                                                         compress_info):
    # Debian's rsyslog.conf up to bullseye writes mail.* to mail.log and mail.info to
    # mail.info: the same lines, rotated and compressed under each name. `maillog-sasl
    # /var/log/mail*` counted every login and message of the rotated weeks twice.
    data = SAMPLE.read_bytes()
    log, info = tmp_path / "mail.log.2.gz", tmp_path / "mail.info.2.gz"
    log.write_bytes(compress_log(data))
    info.write_bytes(compress_info(data))
    assert_read_once(cli, [info, log], f"{log}: the same log as {info}")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_log_written_to_two_files_is_read_once_from_the_longer(cli, tmp_path, jobs):
    # The same two files while syslog writes them: mail.info a few lines behind mail.log, so
    # not the same size. The longer is read, in either order.
    data = SAMPLE.read_bytes()
    log, info = tmp_path / "mail.log", tmp_path / "mail.info"
    log.write_bytes(data)
    info.write_bytes(data[:data.rindex(b"\n", 0, len(data) - 4000) + 1])
    for paths in ([log, info], [info, log]):
        result = cli("--stats", "--jobs", jobs, *paths)
        assert result.code == 0
        assert result.err.startswith(
            f"maillog-sasl: {info}: the start of the log {log} holds; read once\n")
        assert lines_read(result.err) == SAMPLE_LINES


def test_two_logs_that_begin_alike_are_both_read(cli, tmp_path):
    # The same first lines, then each its own: two logs (a copy edited, a log restored from a
    # backup and written on), every line of each read.
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "maillog.a", tmp_path / "maillog.b"
    first.write_bytes(b"".join(lines[:15000]))
    second.write_bytes(b"".join(lines[:100] + lines[15000:]))
    result = cli("--stats", first, second)
    assert result.code == 0 and "read once" not in result.err
    assert lines_read(result.err) == 15000 + 100 + SAMPLE_LINES - 15000


def severe_lines(data: bytes) -> bytes:
    """What syslog writes to mail.warn of a log: Postfix's warnings and errors."""
    return b"".join(line for line in data.splitlines(keepends=True)
                    if re.search(rb"\]: (warning|error|fatal|panic): ", line))


@pytest.mark.parametrize("compress", [None, gzip.compress], ids=["plain", "gzip"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_syslogs_file_of_warnings_beside_the_log_is_read_once(cli, tmp_path, compress, jobs):
    # Debian's rsyslog.conf up to bullseye: mail.warn and mail.err beside mail.log, all three
    # named by /var/log/mail*. Every SASL failure (a warning) was counted twice.
    data = SAMPLE.read_bytes()
    packed = compress or (lambda text: text)
    suffix = ".2.gz" if compress else ""
    log, warn = tmp_path / f"mail.log{suffix}", tmp_path / f"mail.warn{suffix}"
    log.write_bytes(packed(data))
    warn.write_bytes(packed(severe_lines(data)))
    alone = cli("-r", "failures", "-f", "csv", log)
    for paths in ([log, warn], [warn, log]):
        result = cli("--stats", "--jobs", jobs, *paths)
        assert result.code == 0
        assert result.err.startswith(
            f"maillog-sasl: {warn}: Postfix's warnings and errors alone, lines {log} holds too "
            "(syslog's file of those levels); read once\n")
        assert lines_read(result.err) == SAMPLE_LINES
        assert cli("-r", "failures", "-f", "csv", *paths).out == alone.out


def test_warnings_the_other_logs_do_not_hold_are_read(cli, tmp_path):
    # The warnings file goes on past the end of the log given with it (its last line is in
    # none), or it is all there is: it is read.
    data = SAMPLE.read_bytes()
    warnings = severe_lines(data)
    cut = data.index(b"\n", len(data) * 4 // 5) + 1
    log, warn = tmp_path / "mail.log", tmp_path / "mail.warn"
    log.write_bytes(data[:cut])
    warn.write_bytes(warnings)
    result = cli("--stats", log, warn)
    assert "read once" not in result.err
    assert lines_read(result.err) == data[:cut].count(b"\n") + warnings.count(b"\n")
    assert lines_read(cli("--stats", warn).err) == warnings.count(b"\n")


@pytest.mark.parametrize("start", [0, 3000], ids=["hosts-from-the-start", "a-host-heard-late"])
def test_a_central_syslogs_file_of_warnings_is_read_once(cli, tmp_path, start):
    # A central syslog server writes every host's lines to mail.log and their warnings to
    # mail.warn. The warnings file was looked for only in logs whose first line the host of
    # its own first line had logged: mx1 here, or mx2 that logs nothing in the log's first
    # lines. None was, and every failed AUTH of both hosts was counted twice.
    central = []
    for index, line in enumerate(SAMPLE.read_bytes().splitlines(keepends=True)):
        severe = severe_lines(line) != b""
        mx1 = [line.replace(b" mail ", b" mx1 ", 1)] if index >= start or not severe else []
        mx2 = [line.replace(b" mail ", b" mx2 ", 1)] if index >= start else []
        central += mx2 + mx1 if severe else mx1 + mx2
    data = b"".join(central)
    log, warn = tmp_path / "mail.log", tmp_path / "mail.warn"
    log.write_bytes(data)
    warn.write_bytes(severe_lines(data))
    assert warn.read_bytes().startswith(b"2026-03-") and b" mx2 " in warn.read_bytes()[:100]
    result = cli("--stats", log, warn)
    assert result.code == 0
    assert result.err.startswith(f"maillog-sasl: {warn}: Postfix's warnings and errors alone")
    assert lines_read(result.err) == len(central)
    alone = cli("-r", "failures", "-f", "csv", log).out
    assert cli("-r", "failures", "-f", "csv", log, warn).out == alone


def test_warnings_beside_other_programs_logs_are_read_once(cli, tmp_path):
    # `maillog-sasl /var/log/*`: auth.log beside mail.log and mail.warn, begun after the mail
    # log and before the first warning, was taken for the log of the warnings' time. It holds
    # none of them, and every failed AUTH was counted twice.
    data = SAMPLE.read_bytes()
    log, warn, auth = tmp_path / "mail.log", tmp_path / "mail.warn", tmp_path / "auth.log"
    log.write_bytes(data)
    warn.write_bytes(severe_lines(data))
    auth.write_bytes(b"2026-03-02T01:00:00.000000+09:00 mail sshd[812]: Accepted publickey for "
                     b"root from 192.0.2.1 port 50000 ssh2\n")
    result = cli("--stats", auth, log, warn)
    assert result.code == 0
    assert result.err.startswith(f"maillog-sasl: {warn}: Postfix's warnings and errors alone")
    assert lines_read(result.err) == SAMPLE_LINES + 1
    alone = cli("-r", "failures", "-f", "csv", log).out
    assert cli("-r", "failures", "-f", "csv", auth, log, warn).out == alone


def test_warnings_across_a_log_not_given_are_read(cli, tmp_path):
    # The review's rotated set given without its middle file: the warnings file's first line
    # is in the first log, its last in the third, and the second's warnings in no log given.
    # It was left out, and those were lost. Its ends must be in one log.
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    thirds = [b"".join(lines[start:start + len(lines) // 3 + 1])
              for start in range(0, len(lines), len(lines) // 3 + 1)]
    first, third, warn = tmp_path / "m1.log", tmp_path / "m3.log", tmp_path / "mail.warn"
    first.write_bytes(thirds[0])
    third.write_bytes(thirds[2])
    warn.write_bytes(severe_lines(b"".join(thirds)))
    result = cli("--stats", first, third, warn)
    assert "read once" not in result.err
    assert lines_read(result.err) == sum(part.count(b"\n") for part in (
        thirds[0], thirds[2], warn.read_bytes()))


def test_xz_streams_with_padding_between_are_one_log(cli, tmp_path):
    # xz allows NULs between streams, as `xz -dc` reads them: the second stream's lines are
    # the compressed file's too, not a copy's end.
    data = SAMPLE.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    packed, plain = tmp_path / "maillog.2.xz", tmp_path / "maillog.2"
    packed.write_bytes(lzma.compress(data[:cut]) + b"\0" * 4 + lzma.compress(data[cut:]))
    plain.write_bytes(data[:cut])
    result = cli("--stats", plain, packed)
    assert "the start of the log" in result.err
    assert lines_read(result.err) == SAMPLE_LINES


def sample_in_two_streams(compress, between: bytes) -> bytes:
    """The sample compressed in two streams, its halves, with `between` them."""
    data = SAMPLE.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    return compress(data[:cut]) + between + compress(data[cut:])


def test_xz_streams_after_stream_padding_are_read_in_this_process():
    # Python's LZMAFile stops at xz's stream padding without a word: a URL's object or a
    # compressed pipe lost every stream after it.
    lines, source = read_lines(sample_in_two_streams(lzma.compress, bytes(8)))
    assert source.problem is None
    assert len(lines) == SAMPLE_LINES


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "system-decompressor"])
@pytest.mark.parametrize("compress, program, between", [
    (bz2.compress, "bzip2", b"notes on the incident\n"),
    (bz2.compress, "bzip2", bytes(8)),  # bzip2 has no padding: what bzip2 -dc says too
    (lzma.compress, "xz", b"notes on the incident\n"),
], ids=["bzip2-text", "bzip2-nuls", "xz-text"])
def test_bytes_between_streams_are_a_read_failure(tmp_path, compress, program, between,
                                                  parallel):
    # `cat maillog.2.bz2 notes.txt maillog.1.bz2 > old.bz2`: Python's BZ2File ends at the
    # text, and `bzip2 -dc` exits 0 after `trailing garbage after EOF ignored`; the second
    # stream was lost with no word. The lines before are kept, the same in either reader.
    if parallel and shutil.which(program) is None:
        pytest.skip(f"no {program} here")
    path = tmp_path / "old.packed"
    path.write_bytes(sample_in_two_streams(compress, between))
    source = open_sources([str(path)]).sources[0]
    lines = [line for batch in source.batches(parallel=parallel) for line in batch]
    first_half = SAMPLE.read_text().splitlines()[:len(lines)]
    assert 0 < len(lines) < SAMPLE_LINES and lines == first_half
    assert source.problem is not None
    assert source.problem.message.startswith("read failed part way: ")


@pytest.mark.parametrize("program, suffix, compress, variable", [
    ("gzip", ".gz", gzip.compress, {"GZIP": "-9"}),  # gzip: warning: GZIP ... is deprecated
    ("xz", ".xz", lzma.compress, {"XZ_OPT": "-v"}),  # its figures
    ("bzip2", ".bz2", bz2.compress, {"BZIP2": "-v"}),  # "done"
], ids=["gzip", "xz", "bzip2"])
def test_words_of_a_decompressor_that_read_all_are_no_failure(tmp_path, monkeypatch, program,
                                                              suffix, compress, variable):
    # Exit 0 with words on stderr: only bzip2's `trailing garbage after EOF ignored` is a loss.
    if shutil.which(program) is None:
        pytest.skip(f"no {program} here")
    for name, value in variable.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / f"maillog.1{suffix}"
    path.write_bytes(compress(SAMPLE.read_bytes()))
    source = open_sources([str(path)]).sources[0]
    lines = [line for batch in source.batches(parallel=True) for line in batch]
    assert source.problem is None
    assert len(lines) == SAMPLE_LINES


@pytest.mark.parametrize("program, suffix, compress, variable, between, problem", [
    # -q silences bzip2's `trailing garbage after EOF ignored`: the second stream lost.
    ("bzip2", ".bz2", bz2.compress, {"BZIP2": "-q"}, b"garbage\n", True),
    # --single-stream stops xz after the first stream, without a word.
    ("xz", ".xz", lzma.compress, {"XZ_DEFAULTS": "--single-stream"}, b"", False),
], ids=["bzip2-quiet", "xz-single-stream"])
def test_the_decompressors_options_in_the_environment_are_left_out(
        tmp_path, monkeypatch, program, suffix, compress, variable, between, problem):
    if shutil.which(program) is None:
        pytest.skip(f"no {program} here")
    for name, value in variable.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / f"maillog.1{suffix}"
    path.write_bytes(sample_in_two_streams(compress, between))
    source = open_sources([str(path)]).sources[0]
    lines = [line for batch in source.batches(parallel=True) for line in batch]
    assert (source.problem is not None) == problem
    assert (len(lines) < SAMPLE_LINES) == problem


def test_a_compressed_file_of_nul_bytes_is_compared_a_block_at_a_time(tmp_path):
    # bzip2 makes 64 MB of NULs (a crashed syslog's hole) from a few hundred bytes: inflated in
    # one call beside a plain file with its first line, that took a gigabyte.
    line = b"Mar  2 10:00:00 mx postfix/qmgr[9]: 4B2C31E0F1: removed\n"
    packed, plain = tmp_path / "maillog.2.bz2", tmp_path / "maillog.2"
    packed.write_bytes(bz2.compress(line + bytes(64 << 20)))
    plain.write_bytes(line)
    tracemalloc.start()
    try:
        inputs = open_sources([str(plain), str(packed)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [source.name for source in inputs.sources] == [str(packed)]
    assert peak < 8 << 20
    for source in inputs.sources:
        source.close()


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_a_compressed_rotated_log_is_another_log_read_first(cli, tmp_path, suffix, compress):
    # Not a copy of the newer log: no note, both read. bzip2 inflates nothing of its first
    # 64 kB (its first block is not whole): the file had no first time and was read last,
    # after the newer log, its sessions and messages cut.
    data = SAMPLE.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    older, newer = tmp_path / ("maillog.1" + suffix), tmp_path / "maillog"
    older.write_bytes(compress(data[:cut]))
    newer.write_bytes(data[cut:])
    whole = tmp_path / "whole"
    whole.write_bytes(data)
    result = cli("--report", "messages", "--format", "csv", "--stats", newer, older)
    assert "read once" not in result.err
    assert f"files, in the order read: {older}, {newer}" in result.err
    assert lines_read(result.err) == SAMPLE_LINES
    assert result.out == cli("--report", "messages", "--format", "csv", whole).out


def test_files_whose_first_stamps_are_one_second_are_read_by_their_names(cli, tmp_path):
    """A real submission (lightmeter-sample, AGPL-3.0-only: its client= line to its relay's
    removal, all in one second) rotated after its (queue active) line, the files given in a
    glob's order: they were read so, maillog before maillog.1, the message's user lost
    (tools/fuzz sources --seed 1)."""
    lines = (REALLOGS / "lightmeter-sample" / "mail.log.1").read_bytes().splitlines(True)
    start = next(number for number, line in enumerate(lines)
                 if b"submission/smtpd[3918]: connect from" in line)
    cut = next(number for number, line in enumerate(lines)
               if b"6205A3012026: from=<" in line) + 1
    older, newer, whole = tmp_path / "maillog.1", tmp_path / "maillog", tmp_path / "whole"
    older.write_bytes(b"".join(lines[start:cut]))
    newer.write_bytes(b"".join(lines[cut:start + 19]))
    whole.write_bytes(b"".join(lines[start:start + 19]))
    args = ("--year", "2026", "--tz", "UTC", "--report", "messages", "--format", "csv",
            "--stats")
    result = cli(*args, newer, older)
    assert f"files, in the order read: {older}, {newer}\n" in result.err
    assert "h-aaf4c@h-ffeb17e38996c.com" in cli(*args, whole).out
    assert result.out == cli(*args, whole).out


def test_a_session_idle_when_a_short_last_file_ends_is_closed_idle(cli, tmp_path):
    """A submission session whose other lines were lost (the shipped sample's, at 08:01), its
    host logging on, in one ten-minute slot, just before its hour idle at the end of maillog.1 and
    just after in maillog: read as one file it is closed idle; as the rotated set, the look
    at maillog's end came less than ten minutes of log time after maillog.1's, and was not
    taken (tools/fuzz sources --seed 2)."""
    lines = SAMPLE.read_bytes().splitlines(True)
    times = [datetime.datetime.fromisoformat(line.split(b" ", 1)[0].decode()) for line in lines]

    def idle_after(start: int) -> int:
        return next(number for number, moment in enumerate(times)
                    if moment > times[start] + datetime.timedelta(hours=1))

    start, idle = next((start, idle_after(start)) for start, line in enumerate(lines)
                       if b"/submission/smtpd[" in line and b"]: connect from" in line
                       and lines[idle_after(start) - 1][:15] == lines[idle_after(start)][:15])
    older, newer, whole = tmp_path / "maillog.1", tmp_path / "maillog", tmp_path / "whole"
    older.write_bytes(lines[start] + lines[idle - 1])
    newer.write_bytes(lines[idle])
    whole.write_bytes(lines[start] + lines[idle - 1] + lines[idle])
    args = ("--report", "sessions", "--all", "--stats")
    rotated = cli(*args, older, newer)
    assert "sessions closed idle:     1\n" in rotated.err
    assert rotated.err.replace(f"{older}, {newer}", str(whole)) == cli(*args, whole).err


def test_standard_input_redirected_from_a_log_given_too():
    process = subprocess.run(COMMAND + ["--year", "2018", "--stats", str(SEED), "-"],
                             stdin=open(SEED, "rb"), capture_output=True, text=True)
    assert process.returncode == 0
    assert process.stderr.startswith(f"maillog-sasl: <stdin>: the same file as {SEED}; read once\n")
    assert lines_read(process.stderr) == SEED_LINES


def test_notes_are_in_the_analysis_in_the_order_met(tmp_path):
    first, second = tmp_path / "maillog.1", tmp_path / "maillog"
    first.write_bytes(iso_log("16"))
    second.write_bytes(iso_log("17"))
    paths = [str(second), str(first), str(second), str(tmp_path / "missing"), str(first)]
    analysis = open_logs(paths).read()
    assert analysis.notes == [Problem(str(second), f"the same file as {second}; read once"),
                              Problem(str(first), f"the same file as {first}; read once")]
    assert [problem.path for problem in analysis.problems] == [str(tmp_path / "missing")]
    assert analysis.stats.sources == [str(first), str(second)]


def test_files_of_the_same_size_are_not_the_same_file_unless_alike(cli, tmp_path):
    one, two = tmp_path / "maillog.1", tmp_path / "maillog"
    one.write_bytes(iso_log("16"))
    two.write_bytes(iso_log("17"))
    empty_one, empty_two = tmp_path / "empty.1", tmp_path / "empty.2"
    empty_one.write_bytes(b"")
    empty_two.write_bytes(b"")
    result = cli("--stats", one, two, empty_one, empty_two)
    assert (result.code, lines_read(result.err)) == (0, 2 * SEED_LINES)
    assert "same file" not in result.err


# -- line ends ---------------------------------------------------------------------------------

def test_a_log_with_cr_line_ends_is_read_line_by_line(cli, tmp_path):
    log = tmp_path / "maillog-mac.txt"
    log.write_bytes(SEED.read_bytes().replace(b"\n", b"\r"))
    result = cli("--year", "2018", "--stats", "-f", "json", log)
    assert result.code == 0
    assert lines_read(result.err) == SEED_LINES
    assert result.json()[0]["user"] == "centos7@phoenixknight.jp"


def test_every_line_end_on_every_block_boundary():
    """LF, CRLF and CR, with a CRLF cut between blocks at every offset: one line end each."""
    text = "one\r\ntwo\rthree\nfour\r\n\r\nsix\r\rseven \u00e9\r\nlast"
    expected = ["one", "two", "three", "four", "", "six", "", "seven \u00e9", "last"]
    for block_size in range(1, len(text) + 2):
        assert read_lines(text.encode(), block_size)[0] == expected, block_size
    assert read_lines(b"a\rb\r")[0] == ["a", "b"]
    assert read_lines(b"a\r\nb\r\n")[0] == ["a", "b"]


# -- lines without end -------------------------------------------------------------------------

@pytest.mark.parametrize("block_size", [4096, BLOCK_SIZE, 1 << 20])
def test_a_line_longer_than_the_cap_keeps_its_start(block_size):
    """3 MB without a line end between two lines: kept to MAX_LINE, counted, the next line
    whole; with blocks smaller and larger than the cap (then the long line is inside one)."""
    data = b"first\n" + b"x" * MAX_LINE + b"y" * (3 << 20) + b"\nnext\nlast"
    lines, source = read_lines(data, block_size)
    assert lines == ["first", "x" * MAX_LINE, "next", "last"]
    assert source.lines_cut == 1


@pytest.mark.parametrize("length, cut", [(MAX_LINE, 0), (MAX_LINE + 1, 1)])
@pytest.mark.parametrize("end", [b"\n", b""])
def test_the_cap_is_exact(length, cut, end):
    lines, source = read_lines(b"z" * length + end, 4096)
    assert lines == ["z" * MAX_LINE] and source.lines_cut == cut


def test_stats_count_the_lines_cut(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"x" * (MAX_LINE * 3) + b"\n" + SEED.read_bytes())
    result = cli("--year", "2018", "--stats", "-f", "json", log)
    assert result.code == 0
    assert "lines cut at 64 KiB:      1\n" in result.err
    assert lines_read(result.err) == SEED_LINES + 1
    assert result.json()[0]["user"] == "centos7@phoenixknight.jp"


def _peak_while_reading(paths, parallel):
    """Peak Python memory of opening and reading `paths`, and the lines read."""
    tracemalloc.start()
    try:
        count = 0
        for source in open_sources(paths).sources:
            for batch in source.batches(parallel=parallel):
                count += len(batch)
        return tracemalloc.get_traced_memory()[1], count
    finally:
        tracemalloc.stop()


BOMBS = {
    "NUL bytes": lambda size: b"\0" * size,
    "gzip of zeros": lambda size: gzip.compress(b"\0" * size),
    "gzip of newlines": lambda size: gzip.compress(b"\n" * (size // 2)),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_endless_lines_are_read_in_flat_memory(tmp_path, kind):
    """`head -c 100M /dev/zero | maillog-sasl -`, a file of NUL bytes, gzip bombs: 8 MB here,
    read with a few MB at most (a line that grew with the input would take 8 MB twice). NUL
    bytes are no text: no line."""
    size = 8 << 20
    log = tmp_path / "bomb"
    log.write_bytes(BOMBS[kind](size))
    peak, count = _peak_while_reading([str(log)], parallel=False)
    assert peak < 4 << 20, peak
    assert count == (size // 2 if kind == "gzip of newlines" else 0)
    with piped(b"\0" * size) as path:
        peak, count = _peak_while_reading([path], parallel=True)
    assert peak < 4 << 20 and count == 0
