"""sources: turn paths (and `-` for stdin) into batches of decoded log lines, oldest file first.

SUMMARY
    open_sources(paths, stdin=None, zone=None) -> (sources, problems)
    Problem(path, message)          an input that could not be read, or not fully
    Source.batches() -> iterator of lists of lines (str, no line ends)

DESCRIPTION
    Compression is recognised by magic bytes, never by name: gzip (1f 8b), bzip2 (BZh) and xz
    (fd 37 7a 58 5a 00); anything else is read as plain text. Bytes are read in large blocks and
    decoded once per block as UTF-8 with undecodable bytes replaced (U+FFFD), so a stray Latin-1
    byte costs nothing but a replacement character. A compressed file is inflated by the
    system's gzip, bzip2 or xz in a child process, on the other core, when the program exists
    and the file is seekable; by Python's own modules otherwise.

    A rotated set comes in any order from a shell glob; open_sources() peeks at each file's
    first timestamp and returns the sources oldest first (files without any timestamp last, in
    the order given; stdin after the files). The modification time of each file is kept: it
    anchors the year of yearless stamps (a log cannot end after its file was last written).

DIAGNOSTICS
    A path that cannot be opened (missing, a directory, no permission) becomes a Problem in
    the returned list, naming the path; the other sources are still returned. A read that fails
    part way (a truncated or corrupt compressed file, an I/O error) ends that source's batches
    and is recorded in `Source.problem`: every line read before it has already been handed on.
"""

from __future__ import annotations

import bz2
import codecs
import datetime as _dt
import gzip
import io
import lzma
import os
import shutil
import subprocess
import sys
import zlib
from typing import IO, BinaryIO, Iterator, List, NamedTuple, Optional, Tuple, Union

from maillog_sasl.syslog import Clock, split_line

# A block's bytes, its text and its lines are all alive at once: 1 MB blocks cost 5 MB of peak
# memory more than these, and no speed (larger blocks only amortize a per-batch cost that is
# already small).
BLOCK_SIZE = 1 << 17
PEEK_LINES = 2000

_MAGIC = (
    (b"\x1f\x8b", "gzip", gzip.open),
    (b"BZh", "bzip2", bz2.open),
    (b"\xfd7zXZ\x00", "xz", lzma.open),
)
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)

# What batches() reads bytes from: the file itself, a decompressor's pipe, or Python's own
# decompressor (a GzipFile, BZ2File or LZMAFile: a BufferedIOBase, not a typing.IO).
_ByteStream = Union[IO[bytes], io.BufferedIOBase]


class Problem(NamedTuple):
    """An input that could not be read, or not fully: its path (`<stdin>` for standard input)
    and what went wrong; str() is the one line shown to the user."""
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Source:
    """One input: a file path or standard input."""

    def __init__(self, name: str, path: Optional[str], mtime: Optional[_dt.datetime],
                 stream: Optional[BinaryIO] = None):
        self.name = name
        self.path = path
        self.mtime = mtime
        self.first_time: Optional[_dt.datetime] = None
        self.problem: Optional[Problem] = None
        self.size = 0  # bytes on disk (compressed, for a compressed file); 0 for stdin
        self.bytes_done = 0  # of `size`, read so far (for a progress bar)
        self._stream = stream
        self._raw: Optional[BinaryIO] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._decompressor = ""  # the program the child process runs

    def _open_binary(self, parallel: bool) -> Tuple[BinaryIO, _ByteStream]:
        """(the file or stdin, the stream of its decompressed bytes)"""
        if self._stream is None:
            assert self.path is not None, "a Source has a path or a stream"
            raw: BinaryIO = open(self.path, "rb")
        else:
            raw = self._stream
        self._raw = raw
        head = raw.peek(8)[:8] if hasattr(raw, "peek") else b""
        for magic, program, opener in _MAGIC:
            if head.startswith(magic):
                command = shutil.which(program) if parallel and self.path is not None else None
                if command is None or not raw.seekable():
                    return raw, opener(raw)
                # The system's decompressor on the other core: inflating costs a third of the
                # run in-process. It reads our descriptor, so its offset is our progress.
                os.lseek(raw.fileno(), 0, os.SEEK_SET)  # raw.seek(0) may stay in its buffer
                self._decompressor = command
                self._process = subprocess.Popen([command, "-dc"], stdin=raw.fileno(),
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                assert self._process.stdout is not None  # stdout=PIPE
                return raw, self._process.stdout
        return raw, raw

    def batches(self, block_size: int = BLOCK_SIZE, parallel: bool = True) -> Iterator[List[str]]:
        """Lists of lines, in file order; stops early (recording `problem`) on a read error.

        With `parallel`, a compressed file is inflated by the system's gzip, bzip2 or xz in a
        child process when there is one; otherwise in this process.
        """
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        try:
            raw, stream = self._open_binary(parallel)
            # read1: a decompressor's read() would drop the text it had already inflated
            # when the file turns out truncated.
            read = getattr(stream, "read1", stream.read)
            with stream:
                while True:
                    block = read(block_size)
                    if not block:
                        break
                    text = decoder.decode(block)
                    if text[:1] == "\n" and pending[-1:] == "\r":
                        pending = pending[:-1]  # a CRLF cut in two by the block boundary
                    if "\r" in text:
                        text = text.replace("\r\n", "\n")
                    lines = text.split("\n")
                    # The unfinished line of the block before joins the first line, rather than
                    # being copied in front of a megabyte of text.
                    lines[0] = pending + lines[0]
                    pending = lines.pop()
                    if self.size:
                        self.bytes_done = os.lseek(raw.fileno(), 0, os.SEEK_CUR)
                    yield lines
            self._check_child()
        except _READ_ERRORS as error:
            self.problem = Problem(self.name, f"read failed part way: {_reason(error)}")
        finally:
            self._end_child()
            if self._raw is not None and self._stream is None:
                self._raw.close()
        last = (pending + decoder.decode(b"", final=True)).rstrip("\r")
        if last:
            yield [last]

    def _check_child(self) -> None:
        process = self._process
        if process is not None and process.wait() != 0:
            assert process.stderr is not None  # stderr=PIPE
            complaint = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
            reason = (complaint[-1] if complaint
                      else f"{self._decompressor} exited with {process.returncode}")
            raise OSError(0, reason.split(": ", 1)[-1] if ": " in reason else reason)

    def _end_child(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stderr is not None:  # stderr=PIPE: always
                process.stderr.close()

    def peek_first_time(self, zone) -> Optional[_dt.datetime]:
        """The time of the first line that has a timestamp, for ordering a rotated set.

        Yearless stamps are placed by the file's own modification time even under --year: a
        forced year cannot tell December's file from January's.
        """
        clock = Clock(tz=zone, anchor=self.mtime)
        seen = 0
        try:
            for batch in self.batches(block_size=1 << 16, parallel=False):
                for line in batch:
                    parsed = split_line(line)
                    if parsed is not None:
                        moment = clock.time(parsed[0])
                        if moment is not None:
                            return moment
                    seen += 1
                    if seen >= PEEK_LINES:
                        return None
        finally:
            self.problem = None
        return None


def open_sources(paths, stdin: Optional[BinaryIO] = None, zone=None):
    """Check every path, order the readable ones oldest first; return (sources, problems)."""
    files, problems = [], []
    standard_input = None
    for path in paths:
        if path == "-":
            if standard_input is None:
                stream = stdin if stdin is not None else sys.stdin.buffer
                if not hasattr(stream, "peek"):
                    stream = io.BufferedReader(stream)
                standard_input = Source("<stdin>", None, None, stream)
            continue
        try:
            with open(path, "rb") as handle:
                handle.read(1)
                status = os.fstat(handle.fileno())
                mtime = _dt.datetime.fromtimestamp(status.st_mtime).astimezone()
        except OSError as error:
            problems.append(Problem(path, f"cannot read: {_reason(error)}"))
            continue
        source = Source(path, path, mtime)
        source.size = status.st_size
        source.first_time = source.peek_first_time(zone)
        files.append(source)
    far_future = _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)
    files.sort(key=lambda source: source.first_time or far_future)
    if standard_input is not None:
        files.append(standard_input)
    return files, problems


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, EOFError):
        return "compressed data ends too early (truncated file)"
    return str(error) or type(error).__name__
