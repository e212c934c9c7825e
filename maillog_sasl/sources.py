"""sources: turn paths, URLs (and `-` for stdin) into batches of decoded log lines, oldest first.

SUMMARY
    open_sources(paths, stdin=None, zone=None) -> Inputs(sources, problems, notes)
    Problem(path, message)          an input that could not be read, or not fully; also a note
    Source.batches() -> iterator of lists of lines (str, no line ends)
    open_path(path, dated=True) -> Source (a path or a URL; a worker's not dated: the time of
    a URL's object is not asked); Source.read_at(size, offset, until=None) -> bytes (`until`:
    the reads go on in order to there, a chunk: a URL's fetched in large blocks);
    Source.rewind(); LineSplitter().split(text) -> lines; error_reason(error) -> str;
    text_decoder(at_start) -> an incremental UTF-8 decoder (at an input's start, one that drops
                                    a byte order mark, or reads UTF-16 after its mark);
    utf16_of(head), decoded_start(data)    an input's UTF-16 codec; its first bytes' text
    is_compressed(head), opener_of(head)   whether the first bytes are gzip/bzip2/xz's (a file
                                    parallel.py reads whole, not in byte ranges); the
                                    in-process reader of such a stream (watch's rotated files)
    READ_ERRORS                     what reading a (compressed) stream raises on bad input
    is_url(path), local_paths(path) a URL; the local files an input names (file://)
    one_line(text)                  an error's message as one line (a driver's, Dask's)
    wrapper_of(lines) -> PLAIN | CRI | JSON_FILE | JOURNAL | UNIX_STAMPS | HOSTLESS | MSGID |
                         PREFIXED | None;
    Unwrapper(kind).lines(lines),
    .end(), .whole(lines)           the lines inside a container runtime's wrapper

DESCRIPTION
    Every input is opened exactly once, and that file object is the one read: a pipe given as
    a path (`/dev/stdin`, `<(zcat maillog.1.gz)`, a FIFO) can be read only once, and a file
    that logrotate renames during the run is still read whole through the descriptor kept
    from the start. To order a rotated set, open_sources() reads the first PEEK_BYTES of each
    path and looks for its first timestamp (inflating that block in memory when it is
    compressed); batches() hands those bytes on first, then reads the rest of the same
    descriptor. Nothing that is not a regular file is ever sought or reopened here; with
    --jobs or --dask, the workers (parallel.py) open a regular file or URL again by its path
    for their byte ranges, checked against the size and first 4 KB of the one opened here.

    Compression is recognised by magic bytes, never by name: gzip (1f 8b), bzip2 (BZh) and xz
    (fd 37 7a 58 5a 00); anything else is read as plain text. Bytes are read in large blocks and
    decoded once per block as UTF-8 with undecodable bytes replaced (U+FFFD), so a stray Latin-1
    byte costs nothing but a replacement character; a UTF-8 byte order mark at an input's start
    (a log saved by Windows Notepad or PowerShell 5's Out-File) is dropped, not read as the
    first character of its first line, which then was no syslog line. An input that starts
    with UTF-16's mark (PowerShell 5's `>`) is read as UTF-16, in one process; `watch` reads
    such a file as UTF-16 from any line's start (a copy still being written when a run read
    it). A compressed regular file is inflated by the system's gzip, bzip2
    or xz in a child process, on the other core, when the program exists; a compressed pipe or
    standard input, by Python's own modules.

    Lines end in LF, CRLF or a bare CR (old Mac exports; Postfix never logs a CR inside a
    line), also when a CRLF is cut by a block boundary. NUL bytes are no text: a
    log's tail is often a run of them after a crash (a file system that had grown the file but
    not written it), and the line after them, the first after the reboot, was that run's tail,
    cut at MAX_LINE and lost; Postfix never logs one. A line longer than MAX_LINE characters
    keeps its first MAX_LINE and the rest is skipped; such lines are counted in
    `Source.lines_cut`. The cap is checked per block, not per line, and the unfinished line
    carried from block to block never grows past it: a file of 100 MB without a line end is
    read in flat memory and linear time.

    A container's log file wraps each line Postfix wrote (maillog_file=/dev/stdout, a syslog
    daemon's output): Kubernetes' CRI files (/var/log/containers, /var/log/pods) `<stamp>
    <stream> <P|F> `, P a part of a line the runtime split; Docker's json-file driver makes each
    line a JSON object `{"log":"<line>\\n","stream":...,"time":...}`, a split line several, all
    but the last without the `\\n`. The wrapper is decided once per input, from its first line
    of either shape, a wrapper's or a syslog line's (wrapper_of): a plain log's lines are handed
    on as they are, at no cost per line. The lines of a wrapped input are the ones it holds, the
    parts of a split line joined per stream (at the part that ends it), each with the stamp
    Postfix wrote, as in any other input: the runtime's is the time it read the pipe, in UTC. A
    line that carries no stamp of its own (a syslog template without one) keeps the runtime's;
    lines that name no host (Mailu's `%syslogtag%%msg%`, musl's syslog()) get NO_HOST before
    their tag as a HOSTLESS input's do, which the first Postfix line or line of that form
    decides (not another program's line with a host: a container's other writers). A
    damaged wrapper line (not JSON, no `log`, a CRI line without its fields) is handed on as an
    empty line, which the correlator counts as not syslog. (`docker logs -t` and `kubectl logs
    --timestamps` put only an RFC 3339 stamp before each line, split no line, and are read line
    by line by syslog.split_line().) `journalctl -o json` wraps each journal entry the same way,
    one JSON object a line: its line is made of its time (__REALTIME_TIMESTAMP, in UTC), host,
    SYSLOG_IDENTIFIER, pid and MESSAGE; an entry without them is an empty line. A string of
    either JSON wrapper that holds a lone surrogate (an escape `\\ud800` no other completes:
    neither journalctl nor Docker writes one, a file made by other hands may) has U+FFFD for it,
    as a plain log has for a byte that is no UTF-8: no output can write it. So too
    `journalctl -o short-unix`, whose lines start with seconds since the epoch (`1700000000.
    123456 host postfix/smtpd[123]: ...`): each such stamp is written as the RFC 3339 stamp of
    its moment in UTC, which every reader of a line reads (a ten-minute slot of the correlator
    is a prefix of it), and the host put in as in a container's lines when --no-hostname left
    it out; its other lines (`-- Boot ... --`) are handed on as they are.

    Two syslog daemons write a line that is not quite the usual one, decided the same way from
    an input's first Postfix line, or first line that has either form (another program's
    may have neither where Postfix's have one: Solaris' syslogd logs its own without a message
    ID, BusyBox's its start with a host). Lines without a host (HOSTLESS: musl's syslog() behind
    s6-socklog, the syslog of Alpine-based Postfix containers, writes `Aug 26 11:19:05
    postfix/smtpd[2522]: ...`, and so do templates without %HOSTNAME%) get NO_HOST before
    their tag, as a journal entry without _HOSTNAME does. Solaris' and illumos' syslogd (MSGID)
    writes a message ID and the facility and level after the tag, `postfix/smtpd[14020]: [ID
    197553 mail.info] connect from ...`: taken out, once, right after the tag (never further
    on, where a client's text may hold the same words). Lines behind what another program put
    first (PREFIXED) are read as the lines they hold: a runit or s6 log service (the logs of
    containers run under s6-overlay, runit's on Void Linux) writes its own stamp first if told
    to (svlogd -tt `2026-11-29_01:07:42.12345 `, -ttt with a T, s6-log's T `2026-11-29
    01:07:42.123456789  `, its t a TAI64N label), and socklog or s6-socklog, the syslog service
    such a system runs, the message's facility and priority (`mail.info: `, s6's lolsyslog.c)
    before the line the program's libc wrote, which names no host (the host is put in as for
    HOSTLESS); `kubectl logs --prefix` (the pods of a label selector) writes the pod and
    container, `[pod/NAME/CONTAINER] `; `grep` given more than one file (`grep -F QID
    /var/log/maillog*`, zgrep, -H) the file's name and a colon, and with -n the line's number
    and a colon (`/var/log/maillog:May 15 02:05:02 mail postfix/smtpd[25846]: ...`), each with
    a hyphen instead before a line of a match's context (-A, -B, -C: `12-May 15 ...`), read in
    the order grep wrote them (file by file, as named: a glob's newest file first, which
    `problem` then names: a message logged across two files is read out of order). Such
    inputs are read in one process.

    A rotated set comes in any order from a shell glob; the sources are returned oldest first
    (files without any timestamp in their first block last, in the order given; stdin after
    the files, by their first stamps as their anchors place them; files whose first stamps
    are the same time by their names, `maillog.2.gz` before `maillog.1` before `maillog`,
    `maillog-20260301` before `maillog-20260308`). Each regular
    file's end anchors the year of yearless stamps (`anchor`): a log cannot end after its last
    line, nor after its file was last written. Its last lines are read (TAIL_BYTES) when the
    file is plain: where the last one's stamp names its year and a dated one before agrees
    (end_time(): a log of RFC 3339 stamps with yearless lines among them, rsyslog's template
    changed by an upgrade, Dovecot's log_path), that time is its end. The files are anchored
    on their ends when every one that has a stamp in its first block has an end, else all on
    their modification times (which a copy moves to the day it was made): a rotated set is
    read in one year, and in its order, either way. (`watch`, which reads each log by its
    path as it comes, anchors each on its own end: file_anchor().) A gzip file's end is the
    time its header keeps (gzip_written(): when the log it was made of was last written,
    which a copy keeps too); a bzip2 or xz file, and a URL's object (whose every read is a
    request to its store), have only their modification time; a pipe has none: like stdin,
    it is anchored on now. A year so guessed that has no Feb 29 where the first block holds
    one after yearless lines (Feb 28 of 2024, read in 2026) is the leap year before for those
    lines too (`leap_start`): the Clock moves to it only at the Feb 29. So are the years of
    the other files of the set, as many years back (a set copied together: its files' times are
    as far from their log), and they are ordered in them: a rotated set is one log, read in
    one run of years, with --year too. (For that alone the first block of standard input is
    read ahead too, and handed on first, as a pipe's.)

    The same file given twice (the same path, a symlink or hard link to it, stdin redirected
    from it, or a copy: two regular files of the same size whose first and last SAME_BYTES have
    the same SHA-256) is read once, at its first mention; the later one is a note in
    `Inputs.notes`, `X: the same file as Y; read once`. Two regular files whose texts, inflated
    when compressed, are the same or one the start of the other are one log (_without_copies():
    `gunzip -k maillog.2.gz`; gzip still writing it beside maillog.2; a syslog daemon writing
    the same lines to mail.log and mail.info, rotated and compressed under both names), their
    lines compared as they are read, whatever ends them and whatever their encoding (a copy made
    through Windows: CRLF, UTF-16, a UTF-8 mark). A compressed file's text ends where it stops
    inflating, and one that parts from the other's where the member it parts in then fails to
    inflate (bytes flipped inside a member inflate to other text up to its check), its gzip
    trailer giving the other's length, is its text up to there: a damaged copy. The longer is
    read, of the same text the plain file, and the note says `X: the same log as Y, compressed;
    read once` (X compressed, Y not), `X: the same log as Y; read once`, or `X: the start of
    the log Y holds; read once`. A file of Postfix's warnings and errors alone (syslog's mail.warn,
    mail.err) whose first and last lines the whole log of its host holds too is left out: `X:
    Postfix's warnings and errors alone, lines Y holds too (syslog's file of those levels); read
    once` (_without_severe_copies()). So is a regular file whose Postfix lines, every one in order,
    the files of another rotated set given hold (_without_mail_lines_held(): syslog's file of every
    program beside the mail log, or the mail log within syslog's days given): `X: the Postfix lines
    of the log Y and Z hold, among other programs' lines; read once`. Those are read through each
    file's descriptor as a copy's text is, before the reading, and never a pipe's.

    An input of the form `scheme://...` is a URL, opened with fsspec (the extra [url]; Dask
    brings it too): `s3://bucket/maillog` (with the driver s3fs installed), `gcs://`,
    `https://`, `file:///var/log/maillog`, `memory://` (the tests). It is read as a file is:
    compression by magic bytes (inflated in this process: no system decompressor reads a
    URL), the first block peeked to place it in a rotated set, a copy given twice read once.
    The shell expands no URL: one holding `*`, `?` or `[` (not an http(s) one, whose `?` starts
    a query) is expanded here by its filesystem's glob, each object an input, so that
    `s3://logs/mx1/maillog*` is the rotated set `maillog*` is on a disk; no sibling is added
    that was not named. Its modification time (fsspec's `modified`; none over HTTP) anchors
    yearless stamps as a file's does; it is asked of the store once, here, not by a worker
    opening the URL for a chunk (which reads with the clock it is given). An object of known
    size whose file seeks is `regular`: parallel.py cuts it into byte ranges (read_at) that a
    worker opens by its URL. A read of N bytes of an object fetches those N bytes (a peek, a
    chunk's boundary, a worker's check of its first 4 KB), not a block of 5 MB more as fsspec's
    buffered file would; an object read in order (whole, or a chunk) is fetched READ_AHEAD
    (4 MB) a request: with --jobs, an object is fetched about once in all.

DIAGNOSTICS
    A path that cannot be opened or read (missing, a directory, no permission), and standard
    input when it is closed, become a Problem in the returned list, naming the path; the other
    sources are still returned. So does a URL, whatever its driver raises (no such object, no
    credentials, a driver not installed, fsspec itself not installed), as one line: every
    error of opening, reading or seeking it is an OSError here. A read that fails part way (a
    truncated or corrupt compressed file, an I/O error, a connection lost) ends that source's
    batches and is recorded in `Source.problem`: every line read before it has already been
    handed on. Bytes after a compressed stream's end that start no other stream are such a
    failure too (Python's bzip2 and xz readers, and `bzip2 -dc`, would end there without a
    word, and every stream after them would be lost); NUL bytes between xz streams (its stream
    padding) are skipped. grep's output that names an older file of a rotated set after a
    newer one (a glob's order) is recorded there too, once read: its lines are all handed on.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import datetime as _dt
import errno
import functools
import gzip
import io
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import zlib
from typing import (
    IO,
    Any,
    BinaryIO,
    Callable,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

from maillog_sasl.syslog import (
    NO_HOST,
    Clock,
    has_stamp,
    is_last_repeat,
    nested_line,
    parse_program,
    rfc3339_start,
    split_line,
    unlike_zone_name,
)

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

# A block's bytes, its text and its lines are all alive at once: 1 MB blocks cost 5 MB of peak
# memory more than these, and no speed (larger blocks only amortize a per-batch cost that is
# already small).
BLOCK_SIZE = 1 << 17
# The first bytes of each path, read once when it is opened, to find its first timestamp.
PEEK_BYTES = 1 << 16
PEEK_TEXT = 1 << 20  # at most this much of a compressed file's first block is inflated
INFLATE_STEP = 1 << 12  # of it, so much at a time: what inflates before damage is kept
PEEK_LINES = 2000
# The longest line kept, in characters. Postfix's own line_length_limit is 2048 for SMTP, and
# its log lines stay far below that (syslog daemons cut at 1 KB to 8 KB by default): a longer
# "line" is garbage, a binary or a file of NUL bytes, and only its start is kept.
MAX_LINE = 1 << 16
# Two regular files of the same size whose first and last SAME_BYTES hash alike are one log.
SAME_BYTES = 1 << 16
# The end of a plain regular file read for the stamps of its last lines (end_time()): a few lines.
TAIL_BYTES = 1 << 13
# How much earlier than the dated line before it a log's last line may be and still be its end
# (lines of several hosts, whose clocks differ by seconds or minutes), and how much after the
# file was written (the clocks of two machines).
END_DISAGREEMENT = _dt.timedelta(hours=1)
END_SLACK = _dt.timedelta(days=1)
# bzip2 inflates nothing before its first block (at most 900 kB of text) is whole: read this
# much of a compressed file whose first PEEK_BYTES gave no line.
BZIP2_BLOCK = 1 << 20
# A URL's object read in order (whole, by one process; a chunk, by a worker) is fetched this much
# a request: a store answers each after a delay (tens of ms on S3), which 4 MB at 100 MB/s
# repays; fsspec's own read-ahead block is 5 MB.
READ_AHEAD = 1 << 22
# What `bzip2 -dc` says, exiting 0, of bytes after a stream that start no other stream.
BZIP2_GARBAGE = "trailing garbage after EOF ignored"

COMPRESSED_MAGIC: Tuple[Tuple[bytes, str, Callable[..., Any], Callable[[], Any]], ...] = (
    (b"\x1f\x8b", "gzip", gzip.open, lambda: zlib.decompressobj(wbits=31)),
    (b"BZh", "bzip2", lambda stream: _streams(stream, bz2.BZ2Decompressor, b""),
     bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lambda stream: _streams(stream, lzma.LZMADecompressor, b"\0"),
     lzma.LZMADecompressor),
)
_MAGIC_BYTES = max(len(magic) for magic, *_ in COMPRESSED_MAGIC)
# `scheme://`: an input that fsspec opens (a scheme starts with a letter: RFC 3986).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB = re.compile(r"[*?\[]")
URL_INSTALL = "pip install 'maillog-sasl[url]'"
REASON_LENGTH = 200  # a driver's message is cut to this, its first line only
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)

# What batches() reads bytes from: the file itself (after the bytes read ahead), a
# decompressor's pipe, or Python's own decompressor (a GzipFile, BZ2File or LZMAFile: a
# BufferedIOBase, not a typing.IO).
_ByteStream = Union[IO[bytes], io.BufferedIOBase, io.RawIOBase]


class Shrank(OSError):
    """A regular file that ended before the size it had when it was opened: truncated in place
    while it was read (logrotate's copytruncate). What was read before is kept."""

    def __init__(self, at: int):
        super().__init__(errno.EIO, f"it ended at byte {at} while it was read: truncated in "
                                    "place (as logrotate's copytruncate does)")


class Problem(NamedTuple):
    """An input that could not be read, or not fully: its path (`<stdin>` for standard input)
    and what went wrong; str() is the one line shown to the user. Notes have the same form."""
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Inputs(NamedTuple):
    """What open_sources() gives: the sources in the order to read them, the problems and the
    notes (inputs read once because given twice; stamps naming another zone than --tz's), each
    in the order met."""
    sources: List["Source"]
    problems: List[Problem]
    notes: List[Problem]


class Source:
    """One input: a file path, a URL or standard input, opened once (`stream`)."""

    def __init__(self, name: str, path: Optional[str], mtime: Optional[_dt.datetime],
                 stream: Optional[BinaryIO] = None):
        self.name = name
        self.log = _log_of(name)  # the log whose rotated set it is a file of
        self.path = path
        self.mtime = mtime
        # When its lines say the log ends (end_time(), by peek_first_time()), and what its
        # yearless stamps are placed before: that end when every file read has one
        # (open_sources()), else the modification time.
        self.end: Optional[_dt.datetime] = None
        self.anchor = mtime
        self.first_time: Optional[_dt.datetime] = None
        # (year, month) of its first yearless stamp when a Feb 29 in its first block, or in
        # another file's of its set, moved the year guessed from `anchor` back to a leap year
        # (first_time_in_head()): its Clock starts so. `leap_back`: the years its own moved it.
        self.leap_start: Optional[Tuple[int, int]] = None
        self.leap_back = 0
        self.problem: Optional[Problem] = None
        self.size = 0  # bytes of a regular file or URL object (compressed, when compressed)
        self.bytes_done = 0  # of `size`, read so far; of a pipe or stdin, bytes read (progress)
        self.lines_cut = 0  # lines longer than MAX_LINE, cut to it
        self.identity: Optional[Tuple[int, int]] = None  # (st_dev, st_ino)
        self.regular = False  # a regular file, or a URL's object of known size that seeks
        self.url: Optional[str] = None  # opened with fsspec: `path` is this URL
        self._stream = stream
        self._owned = stream is None  # opened here (closed here), not handed in
        self._read_once = False
        self._head: Optional[bytes] = None  # bytes read ahead, handed on first
        self._fingerprint: Optional[bytes] = None
        # Its text's first line (inflated, decoded: _first_line_of()), its end an LF whatever it
        # was (CRLF, a bare CR: LineSplitter's): peek_first_time() read it.
        self._first_line = b""
        # _head_facts() of what peek_first_time() read
        self._head_facts = _HeadFacts(None, None, None, False)
        # (the zone its first stamp names, the zone's name its times are read in) when they
        # differ: unlike_zone_name(), of what peek_first_time() read
        self.zone_unlike: Optional[Tuple[str, str]] = None
        self._reader: Optional[_Prefixed] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._decompressor = ""  # the program the child process runs

    def close(self) -> None:
        """Let go of the input without reading it (batches() does this itself)."""
        stream, self._stream = self._stream, None
        if stream is not None and self._owned:
            stream.close()

    def _open_binary(self, parallel: bool) -> _ByteStream:
        """The stream of the input's (decompressed) bytes, from its first byte."""
        if self._read_once:
            raise OSError(errno.EBADF, "already read")  # a pipe cannot be read twice
        self._read_once = True
        raw = self._stream
        if raw is None:  # made by hand with a path only: opened now, once
            if self.path is None:
                raise OSError(errno.EBADF, "no stream to read")
            raw = self._stream = open(self.path, "rb", buffering=0)
            self._owned = True
        head = self._head
        self._head = None
        if head is None:
            head = _read_head(raw, _MAGIC_BYTES)
        reader = self._reader = _Prefixed(raw, head)
        compression = _compression_of(head)
        if compression is None:
            return reader
        _, program, opener, _ = compression
        command = shutil.which(program) if parallel and self.regular and self.url is None else None
        if command is None:
            return opener(reader)
        # The system's decompressor on the other core: inflating costs a third of the run
        # in-process. It reads our descriptor, so its offset is our progress.
        os.lseek(raw.fileno(), 0, os.SEEK_SET)
        self._decompressor = command
        self._process = subprocess.Popen([command, "-dc"], stdin=raw.fileno(),
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=_without_decompressor_options())
        assert self._process.stdout is not None  # stdout=PIPE
        return self._process.stdout

    def batches(self, block_size: int = BLOCK_SIZE, parallel: bool = True) -> Iterator[List[str]]:
        """Lists of lines, in file order; stops early (recording `problem`) on a read error.

        A source is read once. With `parallel`, a compressed regular file is inflated by the
        system's gzip, bzip2 or xz in a child process when there is one; otherwise in this
        process.
        """
        decoder = text_decoder(True)
        splitter = LineSplitter()
        unwrapper = Unwrapper()
        opened = False
        try:
            stream = self._open_binary(parallel)
            opened = True
            # read1: a decompressor's read() would drop the text it had already inflated
            # when the file turns out truncated.
            read = getattr(stream, "read1", stream.read)
            reader = self._reader
            fileno = (self._stream.fileno() if self.size and self._stream is not None
                      and self.url is None else None)
            with stream:
                while True:
                    block = read(block_size)
                    if not block:
                        break
                    lines = unwrapper.lines(splitter.split(decoder.decode(block)))
                    if fileno is not None:
                        self.bytes_done = os.lseek(fileno, 0, os.SEEK_CUR)
                    elif reader is not None:
                        self.bytes_done = reader.consumed
                    yield lines
                if stream is reader and fileno is not None:  # plain: read to its end
                    end = os.lseek(fileno, 0, os.SEEK_CUR)
                    if end < self.size:
                        raise Shrank(end)
            self._check_child()
        except READ_ERRORS as error:
            how = "read failed part way" if opened else "cannot read"
            self.problem = Problem(self.name, f"{how}: {error_reason(error)}")
        finally:
            self.lines_cut = splitter.cut
            self._end_child()
            self._reader = None
            self.close()
        last = unwrapper.lines(splitter.end(decoder.decode(b"", final=True))) + unwrapper.end()
        self.lines_cut = splitter.cut
        if unwrapper.newest_first is not None and self.problem is None:
            newer, older = unwrapper.newest_first
            self.problem = Problem(self.name, f"grep's lines of {older} come after those of "
                                              f"{newer}, the newer file: a message logged in "
                                              "both is read out of order; grep the files "
                                              "oldest first (ls -rt), or give them to "
                                              "maillog-sasl")
        if last:
            yield last

    def _check_child(self) -> None:
        process = self._process
        if process is None:
            return
        assert process.stderr is not None  # stderr=PIPE
        failed = process.wait() != 0
        complaint = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
        # bzip2 exits 0 after `trailing garbage after EOF ignored`: the streams after that
        # garbage are lost, which is a read failure all the same. Other words on stderr with
        # exit 0 (GZIP=-9's deprecation warning, XZ_OPT=-v's figures) are no failure.
        if failed or any(line.endswith(BZIP2_GARBAGE) for line in complaint):
            name = os.path.basename(self._decompressor)
            # Its first line of its own, named by its path or its name (`gzip: stdin: unexpected
            # end of file`, `/usr/bin/xz: (stdin): ...`; bzip2 adds advice after it), without
            # the `stdin` it read our file as.
            own = [line.split(": ", 1)[1] for line in complaint
                   if line.startswith((self._decompressor + ": ", name + ": "))]
            text = (own[0] if own else complaint[-1] if complaint
                    else f"exited with {process.returncode}")
            for operand in ("stdin: ", "(stdin): "):
                if text.startswith(operand):
                    text = text[len(operand):]
            raise OSError(0, f"{name}: {text.rstrip(';')}")

    def _end_child(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stderr is not None:  # stderr=PIPE: always
                process.stderr.close()

    def same_file(self, other: "Source") -> bool:
        """Is `other` this very file (device and inode), or a copy of this regular file?"""
        if self.identity is not None and self.identity == other.identity:
            return True
        if not (self.regular and other.regular and self.size == other.size and self.size):
            return False
        return self.fingerprint() == other.fingerprint()

    def fingerprint(self) -> bytes:
        """SHA-256 of a regular file's first and last SAME_BYTES (its offset left alone)."""
        if self._fingerprint is None:
            import hashlib  # only when two files have the same size: 3 MB of RSS otherwise

            digest = hashlib.sha256(self.read_at(SAME_BYTES, 0))
            if self.size > SAME_BYTES:
                digest.update(self.read_at(SAME_BYTES, self.size - SAME_BYTES))
            self._fingerprint = digest.digest()
        return self._fingerprint

    def read_at(self, size: int, offset: int, until: Optional[int] = None) -> bytes:
        """Up to `size` bytes of a regular file (or seekable URL) at `offset`, fewer only at
        its end; where batches() reads is left alone. OSError when the read fails. `until`:
        the reads go on in order up to there (a chunk): a URL's bytes are fetched in large
        blocks up to it, not `size` at a time."""
        stream = self._stream
        if stream is None:
            raise OSError(errno.EBADF, "closed")
        if isinstance(stream, _Remote):
            return stream.pread(size, offset, until)
        return os.pread(stream.fileno(), size, offset)

    def rewind(self) -> None:
        """Let batches() read the input again from its start (a forked worker read it whole
        through the descriptor this process shares: from the end of the bytes peeked, which
        batches() hands on first)."""
        assert self._stream is not None and self.regular
        self._stream.seek(len(self._head or b""))
        self._read_once = False

    def peek_first_time(self, zone: Optional[_dt.tzinfo]) -> Optional[_dt.datetime]:
        """The time of the first line that has a timestamp, for ordering a rotated set; read
        from the first PEEK_BYTES, which batches() then hands on first. A plain file's end
        (end_time()) is read too, a gzip file's taken from its header (gzip_written()).

        Yearless stamps are placed before the file's `anchor` (its modification time, until
        open_sources() anchors every file on its end) even under --year: a forced year cannot
        tell December's file from January's.
        """
        if self._head is None:
            assert self._stream is not None
            self._head = _read_head(self._stream, PEEK_BYTES)
        if self.regular and self.url is None:
            self.end = _end_of(self.read_at, self.size, self._head, zone, self.mtime)
        return self.first_time_in_head(zone)

    def first_time_in_head(self, zone: Optional[_dt.tzinfo], back: int = 0
                           ) -> Optional[_dt.datetime]:
        """peek_first_time() of the bytes it peeked, yearless stamps placed before `anchor`
        (no read: a gzip file's head is inflated again; a bzip2 or xz file, which would read
        more, is never anchored on its end), and `back` years earlier, or as far as a Feb 29
        there moves them (`leap_back`): the first line is placed so (`leap_start`, for its
        Clock), and its time returned so, for the order of a rotated set."""
        start = _inflated_line(self)
        self._first_line = _first_line_of(start)
        facts = self._head_facts = _head_facts(start)
        self.zone_unlike = None if facts.stamp is None else unlike_zone_name(facts.stamp, zone)
        moment, self.leap_back, self.leap_start = _first_placed(
            (parsed[0] for _, parsed in _parsed_lines(start)),
            Clock(tz=zone, anchor=self.anchor), b"Feb 29 " in start, back)
        return moment


def leap_start_of(lines: List[str], zone: Optional[_dt.tzinfo], anchor: Optional[_dt.datetime]
                  ) -> Optional[Tuple[int, int]]:
    """Where a Clock of `zone` and `anchor` that reads a log's first `lines` (watch's first
    read of it) starts: a Source's `leap_start`, of those lines (None: in the year guessed)."""
    stamps = (parsed[0] for parsed in map(split_line, lines) if parsed is not None)
    return _first_placed(stamps, Clock(tz=zone, anchor=anchor),
                         any("Feb 29 " in line for line in lines))[2]


def _first_placed(stamps: Iterator[str], clock: Clock, feb_29: bool, back: int = 0
                  ) -> Tuple[Optional[_dt.datetime], int, Optional[Tuple[int, int]]]:
    """(the time of the first of an input's first `stamps` that is one, read by `clock`,
    which is placed `back` years before the year its anchor gives it, or as far as a Feb 29
    among the others (`feb_29`: whether they may hold one) moves it, _leap_back(); how far
    that Feb 29 moves it; where the input's Clock starts so, (year, month), or None when it
    is not moved or names its year)."""
    for stamp in stamps:
        moment = clock.time(stamp)
        if moment is None:
            continue
        month = clock.last_month
        if clock.year is None or month is None:
            return moment, 0, None  # a first stamp that names its year
        guessed = clock.year_guessed(month, moment.day)
        leap_back = _leap_back(clock, guessed, stamps, feb_29)
        back = max(back, leap_back)
        if not back:
            return moment, 0, None
        placed = Clock(tz=clock.zone, anchor=clock.anchor)
        placed.start_in(guessed - back, month)
        return placed.time(stamp), leap_back, (guessed - back, month)
    return None, 0, None


def _leap_back(clock: Clock, guessed: int, stamps: Iterator[str], feb_29: bool) -> int:
    """How many years a Feb 29 among the first stamps of an input moves its yearless lines back
    from `guessed`, the year its anchor gives the first of them, which `clock` has read;
    `stamps` the others there, `feb_29` whether they may hold a Feb 29 (0 when none does). A
    yearless log's Feb 29 moves a year guessed from its anchor back to the leap year before
    (syslog.Clock), too late for the lines before it, which would stay years later (a copy's
    modification time is years after its log): where the lines peeked show that, the first
    line is placed that far back too, and so are those of the other files of its set
    (open_sources()). A Feb 29 further on is only told (correlate.leap_split())."""
    year = clock.year or guessed
    if year < guessed or not feb_29:
        return guessed - year  # the first line's Feb 29, or none
    for stamp in stamps:
        clock.time(stamp)
        if clock.year is not None and clock.year < year:
            return year - clock.year
        year = clock.year or year
    return 0


def _parsed_lines(start: bytes) -> Iterator[Tuple[str, Tuple[str, str, str, str]]]:
    """(line, split_line() of it) of each syslog line of a file's first bytes, `start`
    (inflated), behind any wrapper (a journal's JSON, a container runtime's)."""
    text = decoded_start(start)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line[:MAX_LINE] for line in text.split("\n", PEEK_LINES)[:PEEK_LINES]]
    for line in Unwrapper().lines(lines):
        parsed = split_line(line)
        if parsed is not None:
            yield line, parsed


def end_time(tail: bytes, whole: bool, zone: Optional[_dt.tzinfo],
             written: Optional[_dt.datetime], utf16: Optional[str] = None
             ) -> Optional[_dt.datetime]:
    """When the log whose last bytes are `tail` (`whole`: all of its bytes) ends, by its lines:
    the time of its last line that has a stamp, when that stamp names its year (RFC 3339, the
    year first, a journal's: a stamp that starts with a digit) and the lines before it agree;
    else None. `written`: the file's modification time; `utf16`: the codec of a UTF-16 file
    (utf16_of()), whose `tail` then starts at a character.

    A log cannot end after its last line, nor after its file was last written: where that line
    carries its year, it places the yearless lines before it (Debian 12's rsyslog writes RFC
    3339 stamps where Debian 11's wrote traditional ones; Dovecot's log_path writes its own
    among rsyslog's) better than the modification time does, which a copy (scp, a checkout, a
    backup restored) moves to the day it was made. It is taken only where a dated line before
    it agrees (is not more than END_DISAGREEMENT later) and it is not after the file was
    written (END_SLACK for clocks): one line of a host whose clock is wrong, or one sent to
    a central syslog server with any stamp, says nothing. Nor does a last line without its
    year: the yearless lines may run on past the last dated one. A yearless line behind a
    container runtime's stamp (runtime_stamp()) is dated by that stamp: an export copied and
    read later has no other year to go by; so is one a CRI or json-file wrapper holds, by the
    wrapper's stamp.
    """
    text = (decoded_start(tail) if whole else tail.decode(utf16 or "utf-8", "replace"))
    lines = text.replace("\r", "\n").split("\n")
    # The first piece may be the end of a line the read cut (not the file's first line); the
    # last, a line still being written.
    lines = [line[:MAX_LINE] for line in lines[0 if whole else 1:-1]]
    clock = Clock(tz=zone)
    last: Optional[_dt.datetime] = None
    unwrapper = Unwrapper(runtime_stamps=True)
    inner = unwrapper.lines(lines)
    wrapped = unwrapper.runtime_stamps or [""] * len(inner)
    for line, wrapper_stamp in zip(reversed(inner), reversed(wrapped)):
        parsed = split_line(line)
        if parsed is None:
            continue
        stamp = parsed[0]
        if not stamp[:1].isdigit():
            stamp = runtime_stamp(line, stamp) or (
                wrapper_stamp if rfc3339_start(wrapper_stamp) else stamp)
        moment = clock.time(stamp)
        if moment is None:
            continue
        if not stamp[:1].isdigit():
            if last is None:
                return None  # the last line has no year
            continue
        if last is None:
            last = moment
            if written is not None and last > written + END_SLACK:
                return None
        else:
            return last if last >= moment - END_DISAGREEMENT else None
    return None


def runtime_stamp(line: str, stamp: str) -> Optional[str]:
    """The RFC 3339 stamp a container runtime put before `line`'s own yearless `stamp`, which
    names the year that one does not: `docker logs -t`'s (`kubectl logs --timestamps`'s),
    also behind `docker compose logs -t`'s `name | ` or `kubectl logs --prefix`'s `[pod/...] `."""
    for word in line[:max(line.find(stamp), 0)].split():
        if rfc3339_start(word):
            return word
    return None


def file_anchor(path: str, zone: Optional[_dt.tzinfo]) -> Optional[_dt.datetime]:
    """What yearless stamps of the file at `path` are placed before, as a Source's `anchor`
    (watch, which reads a file by its path); None when it cannot be read (then now)."""
    try:
        status = os.stat(path)  # before opening: a FIFO's open would wait for a writer
        mtime = _dt.datetime.fromtimestamp(status.st_mtime).astimezone()
        if not stat.S_ISREG(status.st_mode):
            return mtime
        with open(path, "rb", buffering=0) as stream:
            head = os.pread(stream.fileno(), 16, 0)  # for is_compressed()
            return _end_of(functools.partial(os.pread, stream.fileno()), status.st_size,
                           head, zone, mtime) or mtime
    except OSError:
        return None


def _end_of(read_at, size: int, head: bytes, zone: Optional[_dt.tzinfo],
            written: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    """end_time() of a plain regular file of `size` bytes that starts with `head`, its bytes
    read by read_at(size, offset); of a compressed one (whose end is not read before its
    start), gzip_written(); None when the read fails (its lines up to there are read all the
    same)."""
    if is_compressed(head):
        return gzip_written(head, written)
    offset = max(0, size - TAIL_BYTES)
    utf16 = utf16_of(head)
    if utf16:
        offset -= offset % 2  # a character's first byte
    try:
        tail = read_at(TAIL_BYTES, offset)
    except OSError:
        return None
    return end_time(tail, not offset, zone, written, utf16)


def gzip_written(head: bytes, written: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    """When the file a gzip file whose first bytes are `head` was made of was last written, by
    gzip's header (RFC 1952's MTIME), as an end of its log; None for no such time (0: a pipe's
    output, `gzip -n`), another compression, or a time after the gzip file was `written`.

    logrotate's gzip reads the rotated log as its standard input, a regular file, whose time it
    keeps: the header holds when the log's last line was written, and a copy (scp, a download,
    an attachment) keeps it where the file's own time moves to the day it was made. Only the
    log's first stamp is placed by it (syslog.Clock), so a multi-member file's first member's
    time serves as well."""
    if len(head) < 8 or not head.startswith(b"\x1f\x8b"):
        return None
    seconds = int.from_bytes(head[4:8], "little")
    if not seconds:
        return None
    moment = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    if written is not None and moment > written + END_SLACK:
        return None
    return moment


def text_decoder(at_start: bool, utf16: Optional[str] = None):
    """The incremental decoder of an input's bytes read from its start (`at_start`: a UTF-8
    byte order mark there is dropped, a UTF-16 one makes the input UTF-16) or from a line
    start further on (UTF-8, or `utf16`, the input's utf16_of())."""
    if at_start:
        return _StartDecoder()
    return codecs.getincrementaldecoder(utf16 or "utf-8")("replace")


def utf16_of(head: Optional[bytes]) -> Optional[str]:
    """The codec of an input whose first bytes are `head`, when they are UTF-16's byte order
    mark (PowerShell 5's `>` and Out-File write UTF-16 with it): 'utf-16-le' or 'utf-16-be'."""
    return _UTF16_MARKS.get(head[:2]) if head else None


_UTF16_MARKS: Dict[bytes, str] = {codecs.BOM_UTF16_LE: "utf-16-le",
                                  codecs.BOM_UTF16_BE: "utf-16-be"}


def decoded_start(data: bytes) -> str:
    """The text of `data`, an input's first bytes (text_decoder(True)'s choice)."""
    return data.decode(_start_codec(data), "replace")


def _start_codec(data: bytes) -> str:
    """The codec of an input whose first bytes are `data` (at least two, or all it has): UTF-16
    after its mark, else UTF-8 with its mark, if any, dropped."""
    return "utf-16" if utf16_of(data) else "utf-8-sig"


class _StartDecoder:
    """text_decoder(True): UTF-8 (a byte order mark dropped), or UTF-16 when the input starts
    with UTF-16's mark (its ASCII was read before as UTF-8 with every other byte a NUL, which
    is no text, but its first line started with two bytes that are no UTF-8 and was lost, and
    a character beyond ASCII was U+FFFD)."""

    __slots__ = ("_decoder", "_held")

    def __init__(self) -> None:
        self._decoder: Any = None
        self._held = b""  # the first byte, when the first read gave one

    def decode(self, data: bytes, final: bool = False) -> str:
        if self._decoder is None:
            data = self._held + data
            if len(data) < 2 and not final:
                self._held = data
                return ""
            self._decoder = codecs.getincrementaldecoder(_start_codec(data))("replace")
        return self._decoder.decode(data, final)


class LineSplitter:
    """Cuts decoded text, block by block, into lines: LF, CRLF or a bare CR end a line (a CRLF
    too when a block boundary falls between its CR and LF); a line longer than MAX_LINE keeps
    its first MAX_LINE characters and the rest is skipped (counted in `cut`). A line a CR ends
    is handed on at once, and an LF right after that CR (in the next text) is skipped as the
    second half of a CRLF: a reader that stops after a CR (watch: follow.py) starts again with
    `after_cr`, and reads the lines of what follows as a reader that went on would.

    The cap costs nothing per line: a line can be longer than MAX_LINE only when the text
    carried over from the blocks before grows past it, or a block holds that many characters
    between two line ends, which a few find() calls a block rule out (_long_line_in).
    """

    __slots__ = ("pending", "cutting", "after_cr", "cut")

    def __init__(self, after_cr: bool = False) -> None:
        self.pending = ""  # the unfinished last line, at most MAX_LINE characters
        self.cutting = False  # `pending` was cut: skip the rest of it, up to its line end
        self.after_cr = after_cr  # the text before ended in CR: an LF next is its CRLF's
        self.cut = 0

    def split(self, text: str) -> List[str]:
        if "\0" in text:
            text = text.replace("\0", "")  # a crash's run of them (the module docstring)
        if self.after_cr and text:
            self.after_cr = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self.after_cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        last = lines.pop()
        if not lines:  # no line end in this text: it all belongs to the unfinished line
            if not self.cutting:
                pending = self.pending + last
                if len(pending) > MAX_LINE:
                    pending = pending[:MAX_LINE]
                    self.cutting = True
                    self.cut += 1
                self.pending = pending
            return lines
        # The unfinished line of the text before joins the first line, rather than being
        # copied in front of the whole text.
        if self.cutting:
            lines[0] = self.pending
            self.cutting = False
        else:
            first = self.pending + lines[0]
            if len(first) > MAX_LINE:
                first = first[:MAX_LINE]
                self.cut += 1
            lines[0] = first
        if len(text) > MAX_LINE and _long_line_in(text):
            for index, line in enumerate(lines):
                if len(line) > MAX_LINE:
                    lines[index] = line[:MAX_LINE]
                    self.cut += 1
        if len(last) > MAX_LINE:
            last = last[:MAX_LINE]
            self.cutting = True
            self.cut += 1
        self.pending = last
        return lines

    def end(self, text: str) -> List[str]:
        """The lines left when the input ends (`text`: what the decoder still held)."""
        lines = self.split(text) if text else []
        if self.pending:
            lines.append(self.pending)
        self.pending, self.cutting, self.after_cr = "", False, False
        return lines


# The wrappers a container runtime writes around each line of a container's output (PLAIN: none),
# journalctl's JSON export, which wraps each entry of the journal, and its short-unix output,
# whose stamps are seconds since the epoch.
PLAIN, CRI, JSON_FILE, JOURNAL, UNIX_STAMPS = "", "CRI", "json-file", "journal", "short-unix"
# Syslog lines without a host, or with Solaris' message ID after the tag (the module docstring).
HOSTLESS, MSGID = "no host", "msgid"  # (their host: syslog.NO_HOST)
# Lines behind what a log service and socklog put first (the module docstring): kubectl's pod
# (kept: split_line() reads it), then the service's stamp (only before socklog's words or a
# stamp of the line's own: an RFC 3339 stamp without an offset has its shape), then socklog's
# facility and priority.
PREFIXED = "prefixed"
_PREFIX = re.compile(
    r"(\[pod/[^ /\]]+/[^ /\]]+\] )?"
    r"(?:(?:@4[0-9a-f]{23} +|[0-9]{4}-[0-9]{2}-[0-9]{2}[ _T][0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ +)"
    r"(?=[a-z]+[0-9]?\.[a-z]+: |[A-Z][a-z]{2} [ 0-9][0-9] |[0-9]{4}-[0-9]{2}-[0-9]{2}T))?"
    r"(?:[a-z]+[0-9]?\.[a-z]+: )?")
# grep's file name (-H, or more than one file) and line number (-n), before a line of either
# stamp: each with a colon before a line that matched, with a hyphen before a line of its context
# (-A, -B, -C: the lines around a QID's, which hold the rest of its session). A context line's
# file name, which may end in a hyphen and digits itself (`maillog-20260301-`), is not kept.
_GREP_PREFIX = re.compile(r"(?:(?:([^\s:\[]+):)?(?:[0-9]+:)?|(?:[^\s:\[]+-)?(?:[0-9]+-)?)"
                          r"(?=[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:|[0-9]{4}-[0-9]{2}-[0-9]{2}T)")
_LINE_END = re.compile(rb"\r\n?|\n")
# A rotated log's name: the log's, then logrotate's number (`.1`) or date (dateext: `-20260301`,
# or by dateformat `-2026-03-01`, hourly `-2026030114`), then a compressor's suffix.
_ROTATED_NAME = re.compile(r"(.+?)(?:\.([0-9]{1,4})"
                           r"|-([0-9]{8}(?:[0-9]{2})?|[0-9]{4}-[0-9]{2}-[0-9]{2}))?"
                           r"(?:\.(?:gz|bz2|xz|zst))?")
_STREAMS = ("stdout", "stderr")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
MICROSECOND_DIGITS = 18


def wrapper_of(lines: List[str], others_tell: bool = True) -> Optional[str]:
    """The wrapper of the first line of `lines` that has the shape of one; for syslog lines,
    the form of the first Postfix line (HOSTLESS, MSGID or PLAIN: another program's line may
    have a host where Postfix's have none, or no message ID), or PLAIN when no line is
    Postfix's, unless not `others_tell` (a container's output, whose other writers are not its
    syslog: s6-overlay's `[cont-init.d] 10-postfix: exited 0.`); None when no line tells."""
    syslog = False
    for line in lines:
        if _unix_stamp(line):
            return UNIX_STAMPS
        if line[:1] == "{" or line[:1] == RECORD_SEPARATOR:
            record = _json_object(line)
            if _with_log(record) is not None:
                return JSON_FILE
            if _journal_line(record):
                return JOURNAL
        if rfc3339_start(line):
            # A CRI line's stamp, or a syslog line's own (`docker logs -t`'s too).
            rest = line.partition(" ")[2]
            if rest[:6] in _STREAMS and rest[6:8] in (" P", " F"):
                return CRI
        kept, prefix = _prefix(line)
        if prefix > kept and has_stamp(line[prefix:]):
            inner = split_line(_with_host(line[prefix:]))
            if inner is not None:
                if parse_program(inner[2]) is not None:
                    return PREFIXED
                continue  # another program's line of that form: a later one tells
        parsed = split_line(line)
        if parsed is not None:
            if _TAG_AS_HOST.fullmatch(parsed[1]):  # a tag where the host goes: the text's
                return HOSTLESS                    # first word (`4AB12:`) taken for a tag
            if _MSGID.match(parsed[3]):
                return MSGID  # (Solaris' syslog() writes it for every program but syslogd)
            if parse_program(parsed[2]) is None:
                syslog = True
                continue
            return PLAIN
        if _with_host(line) is not line:
            return HOSTLESS
    return PLAIN if syslog and others_tell else None


# A tag cut as a host (no host ends in a colon; an IPv6 address has colons inside), and a tag
# where a line without a host has it: after a space, before a space or the line's end.
_TAG_AS_HOST = re.compile(r"[^ :\[\]]+(?:\[[0-9]+\])?:")
_HOSTLESS_TAG = re.compile(r" [^ \[\]]+(?:\[[0-9]+\])?:(?= |$)")
# Solaris' syslogd after the tag: `[ID <message ID> <facility>.<level>] `.
_MSGID = re.compile(r"\[ID [0-9]+ [a-z0-9]+\.[a-z]+\] ")


def _with_host(line: str) -> str:
    """`line` with NO_HOST before its tag when it has no host and split_line() reads it
    so (the first word that ends in `:`, after the stamp); `line` itself otherwise."""
    parsed = split_line(line)
    if parsed is not None and not _TAG_AS_HOST.fullmatch(parsed[1]):
        return line  # it has a host
    found = _HOSTLESS_TAG.search(line)
    if found is None:
        return line
    hosted = f"{line[:found.start()]} {NO_HOST}{line[found.start():]}"
    parsed = split_line(hosted)
    # (Its host is the word put in, or the container's behind `docker compose logs`' bar.)
    if parsed is None or parsed[2] != found.group()[1:]:
        return line
    return hosted


def _prefix(line: str) -> Tuple[int, int]:
    """Where what a log service and socklog put before the line `line` holds (PREFIXED)
    starts, after kubectl's pod, and ends; or grep's file name and line number."""
    found = _GREP_PREFIX.match(line)
    if found is not None and found.end():
        return 0, found.end()
    found = _PREFIX.match(line)
    if found is None:
        return 0, 0
    return found.end(1) if found.group(1) else 0, found.end()


def _log_of(name: str) -> str:
    """The log whose rotated set the file `name` is of (_rotation()), its path as a path:
    `maillog` and `./maillog.1` are files of one."""
    return _rotation(name if is_url(name) else os.path.normpath(name))[0]


def _rotation(name: str) -> Tuple[str, int]:
    """(the log a file named `name` is of, how old it is in its rotated set: 0 the log, N its
    `.N`, a dated file the older the earlier its date)."""
    found = _ROTATED_NAME.fullmatch(name)
    if found is None:
        return name, 0
    log, number, date = found.groups()
    if number is not None:
        return log, int(number)
    if date is None:
        return log, 0
    return log, 10 ** 10 - int(date.replace("-", "").ljust(10, "0"))  # a day's file: its hour 00


def _without_prefix(line: str) -> str:
    """`line` without what _prefix() finds, the host put in where it names none."""
    kept, end = _prefix(line)
    return line[:kept] + _with_host(line[end:])


def _without_msgid(line: str) -> str:
    """`line` without the `[ID n facility.level] ` that starts its text, if it does."""
    parsed = split_line(line)
    if parsed is None:
        return line
    text = parsed[3]
    found = _MSGID.match(text)
    if found is None or not line.endswith(text):
        return line
    return line[:len(line) - len(text)] + text[found.end():]


def _unix_stamp(line: str) -> bool:
    """Does `line` start with `journalctl -o short-unix`'s stamp, seconds since the epoch and
    their microseconds (`1700000000.123456 `: ten digits from September 2001 on)?"""
    return (line[10:11] == "." and line[17:18] == " " and line[:10].isdigit()
            and line[11:17].isdigit() and line[:17].isascii())


def _from_unix_stamps(lines: List[str]) -> List[str]:
    """`lines` of journalctl's short-unix output, each stamp written as the RFC 3339 stamp of
    its moment in UTC (as a journal entry's time in its JSON export): `2023-11-14T22:13:20.
    123456+00:00`, the stamp every reader of an ISO line takes. Other lines (`-- Boot ... --`)
    are as they were."""
    inner = []
    second = start = ""
    for line in lines:
        if not _unix_stamp(line):
            inner.append(line)
            continue
        if line[:10] != second:  # a second's lines share its date and time
            second = line[:10]
            start = (_EPOCH + _dt.timedelta(seconds=int(second))).isoformat()[:19]
        inner.append(f"{start}.{line[11:17]}+00:00{line[17:]}")
    return inner


# What `journalctl -o json-seq` (RFC 7464's JSON text sequences) puts before each entry.
RECORD_SEPARATOR = "\x1e"


def _without_separator(line: str) -> str:
    """`line` without the RECORD_SEPARATOR it starts with, if it does."""
    return line[1:] if line[:1] == RECORD_SEPARATOR else line


# Where a JSON text may hold a surrogate's escape (`\ud800`; `\\ud800`, a backslash and
# text, matches too, and costs one needless pass), and the surrogates json.loads() leaves when
# no escape after it completes the pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(record: Any) -> Any:
    """`record` with U+FFFD for each lone surrogate in the strings of its own fields (the
    only ones a wrapper's line is made of): UTF-8 has no bytes for one, and every output
    (a report, the state's SQLite) stopped at the first with a traceback."""
    if isinstance(record, dict):
        for key, value in record.items():
            if isinstance(value, str):
                record[key] = _SURROGATE.sub("\ufffd", value)
    return record


def _json_object(line: str) -> Any:
    try:
        record = json.loads(_without_separator(line))
    except (ValueError, RecursionError):  # not JSON; nested deeper than the parser goes
        return None
    return _without_surrogates(record) if _SURROGATE_ESCAPE.search(line) else record


def _with_log(record: Any) -> Optional[dict]:
    """`record` when it is a json-file line's object, with a string `log`; else None."""
    return record if isinstance(record, dict) and isinstance(record.get("log"), str) else None


def _journal_line(record: Any) -> str:
    """The syslog line of a journal entry as `journalctl -o json` writes it: its time
    (__REALTIME_TIMESTAMP, microseconds since the epoch) as an RFC 3339 stamp in UTC, its host,
    SYSLOG_IDENTIFIER[SYSLOG_PID or _PID]: and MESSAGE (an array of byte values when it is not
    UTF-8). "" for anything else: no time, no program, a MESSAGE journalctl left out (null)."""
    if not isinstance(record, dict):
        return ""
    message, stamp = record.get("MESSAGE"), record.get("__REALTIME_TIMESTAMP")
    program = record.get("SYSLOG_IDENTIFIER") or record.get("_COMM")
    pid = record.get("SYSLOG_PID") or record.get("_PID")
    host = record.get("_HOSTNAME") or NO_HOST
    if isinstance(message, list):
        try:
            message = bytes(message).decode("utf-8", "replace")
        except (TypeError, ValueError):  # not byte values
            return ""
    # A time's microseconds since the epoch have at most MICROSECOND_DIGITS digits (the year
    # 9999): a longer string is no time, and int() refuses one of more than 4,300 digits.
    if not (isinstance(message, str) and isinstance(stamp, str) and stamp.isdigit()
            and stamp.isascii() and len(stamp) <= MICROSECOND_DIGITS
            and isinstance(program, str) and isinstance(host, str)):
        return ""
    try:
        when = _EPOCH + _dt.timedelta(microseconds=int(stamp))
    except OverflowError:
        return ""
    tag = f"{program}[{pid}]:" if isinstance(pid, str) else program + ":"
    return f"{when.isoformat()} {host} {tag} {message}"


def _json_objects(lines: List[str]) -> List[Any]:
    """_json_object() of each line. A batch is parsed as one JSON array when it can be: half
    the CPU of a parse per line. A JSON string holds no raw line end, so a line's string cannot
    run into the next line's; the count of objects must be the count of lines. (Lines of
    journalctl -o json-seq lose their RECORD_SEPARATOR first.)"""
    if lines and lines[0][:1] == RECORD_SEPARATOR:
        lines = [_without_separator(line) for line in lines]
    joined = "[" + ",\n".join(lines) + "]"
    try:
        records = json.loads(joined)
    except (ValueError, RecursionError):
        records = None
    if not isinstance(records, list) or len(records) != len(lines):
        return [_json_object(line) for line in lines]
    if _SURROGATE_ESCAPE.search(joined):
        return list(map(_without_surrogates, records))
    return records


class Unwrapper:
    """The lines a container runtime's wrapper holds, batch by batch (see the module docstring).

    The wrapper is decided once per input, by its first line of either shape (wrapper_of): a
    plain log's batches are handed on as they are. A wrapper line that is damaged becomes an
    empty line, which the correlator counts as not syslog. The parts of a line the runtime
    split (CRI `P`, a json-file `log` without its line end) wait, per stream, for the part that
    ends it; at most MAX_LINE characters are kept, as LineSplitter keeps of a line.
    """

    __slots__ = ("kind", "parts", "grepped", "newest_first", "hostless", "runtime_stamps")

    def __init__(self, kind: Optional[str] = None, runtime_stamps: bool = False) -> None:
        self.kind = kind  # decided by the first line that tells when None
        # With `runtime_stamps`, the stamp a CRI or json-file wrapper gave each line lines()
        # returned, one for one ("" for none): end_time() dates a yearless line by it.
        self.runtime_stamps: Optional[List[str]] = [] if runtime_stamps else None
        # Do the lines a wrapper holds (CRI, JSON_FILE, UNIX_STAMPS) name no host? Decided by
        # the first of them that tells (_hosted()); None until then.
        self.hostless: Optional[bool] = None
        self.parts: dict = {}  # stream -> the text of its unfinished line
        self.grepped = ""  # the file grep named before the lines last read (PREFIXED)
        # (a file grep named, an older file of the same log it named after it): grep's lines
        # of a rotated set newest first, as a shell's glob names them (_older_after())
        self.newest_first: Optional[Tuple[str, str]] = None

    def lines(self, lines: List[str]) -> List[str]:
        kind = self.kind
        if kind is None:
            kind = self.kind = wrapper_of(lines)
        if not kind:
            return lines
        if kind == JOURNAL:
            return [_journal_line(record) for record in _json_objects(lines)]
        if kind == HOSTLESS:
            return [_with_host(line) for line in lines]
        if kind == MSGID:
            return [_without_msgid(line) for line in lines]
        if kind == PREFIXED:
            if self.newest_first is None:
                self._older_after(lines)
            return [_without_prefix(line) for line in lines]
        if kind == UNIX_STAMPS:
            return self._hosted(_from_unix_stamps(lines))
        return self._hosted(self._cri(lines) if kind is CRI else self._json_file(lines))

    def decided(self) -> bool:
        """Has what the first lines tell been decided: the wrapper, and for one whose lines may
        name no host, whether they do?"""
        kind = self.kind
        return kind is not None and (self.hostless is not None
                                     or kind not in (CRI, JSON_FILE, UNIX_STAMPS))

    def _hosted(self, inner: List[str]) -> List[str]:
        """`inner`, lines a wrapper holds, with NO_HOST put in as in a HOSTLESS input's when
        they name no host: a syslog template without one behind a container runtime (Mailu's
        `%syslogtag%%msg%`, which the runtime's stamp then precedes; musl's syslog() behind
        s6-socklog), journalctl --no-hostname. The first of them that tells decides for the
        input (wrapper_of(): its first Postfix line, or any line in that form), whatever the
        batches it comes in: another program's line with what looks like a host (s6-overlay's
        `[cont-init.d] 10-postfix: exited 0.`, written before Postfix starts, all that a pipe's
        first read or watch's first look may hold) tells nothing."""
        hostless = self.hostless
        if hostless is None:
            form = wrapper_of(inner, others_tell=False)
            if form is None:
                return inner
            hostless = self.hostless = form == HOSTLESS
        return [_with_host(line) for line in inner] if hostless else inner

    def _older_after(self, lines: List[str]) -> None:
        """Note in `newest_first` a file of a rotated set that grep named after a newer one:
        the lines of a message logged across the two are then read out of order (one deferred
        in maillog.1 and sent in maillog would be deferred still)."""
        for line in lines:
            found = _GREP_PREFIX.match(line)
            name = found.group(1) if found is not None else None
            if not name or name == self.grepped:
                continue
            before, self.grepped = self.grepped, name
            if before:
                (log, age), (named_log, named_age) = _rotation(before), _rotation(name)
                if log == named_log and age < named_age:
                    self.newest_first = (before, name)
                    return

    def whole(self, lines: List[str]) -> Tuple[List[str], int]:
        """(lines() of the first `used` of `lines`, `used`), from an unwrapper with no part
        waiting: all of them, unless a split line is left unfinished; then up to the last of
        `lines` after which no part waited, and the unwrapper is left as it was there. A
        reader that keeps its place before those lines reads them again with the rest of the
        split line (watch: follow.py)."""
        inner = self.lines(lines)
        if not self.parts:
            return inner, len(lines)
        # Rare (a read that ends inside a split line): the lines again, one by one.
        self.parts = {}
        used = kept = emitted = 0
        for number, line in enumerate(lines, 1):
            emitted += len(self.lines([line]))
            if not self.parts:
                used, kept = number, emitted
        self.parts = {}
        return inner[:kept], used

    def end(self) -> List[str]:
        """The unfinished lines when the input ends, as a line without its line end is read."""
        parts, self.parts = self.parts, {}
        return list(parts.values())

    def _cri(self, lines: List[str]) -> List[str]:
        inner = []
        for line in lines:
            # `<stamp> <stream> <tags> <text>`: the first tag is P (partial) or F (full).
            fields = line.split(" ", 3)
            if len(fields) < 3 or fields[1] not in _STREAMS:
                inner.append(self._damaged())
                continue
            text = fields[3] if len(fields) == 4 else ""
            tag = fields[2][:1]
            if tag == "F":
                inner.append(self._whole(fields[1], text, fields[0]))
            elif tag == "P":
                self._part(fields[1], text)
            else:
                inner.append(self._damaged())
        return inner

    def _json_file(self, lines: List[str]) -> List[str]:
        inner = []
        for record in map(_with_log, _json_objects(lines)):
            if record is None:
                inner.append(self._damaged())
                continue
            text = record["log"]
            stream = record.get("stream")
            if not isinstance(stream, str):
                stream = ""  # a key of `parts`, whatever the line holds
            if text[-1:] == "\n":
                time = record.get("time")
                # A container with a terminal (docker run -t) ends its lines in CRLF.
                text = text[:-2] if text[-2:-1] == "\r" else text[:-1]
                inner.append(self._whole(stream, text, time if isinstance(time, str) else ""))
            else:
                self._part(stream, text)
        return inner

    def _damaged(self) -> str:
        """The line a damaged wrapper line stands for: an empty one, not syslog."""
        if self.runtime_stamps is not None:
            self.runtime_stamps.append("")
        return ""

    def _part(self, stream: Any, text: str) -> None:
        done = self.parts.get(stream, "")
        if len(done) < MAX_LINE:
            self.parts[stream] = (done + text)[:MAX_LINE]

    def _whole(self, stream: Any, text: str, stamp: str) -> str:
        """The line whose last part is `text`; behind the wrapper's stamp when it has none."""
        done = self.parts.pop(stream, None)
        if done is not None:
            text = (done + text)[:MAX_LINE]
        if self.runtime_stamps is not None:
            self.runtime_stamps.append(stamp)
        return text if has_stamp(text) or not stamp else f"{stamp} {text}"


def _long_line_in(text: str) -> bool:
    """Can `text` hold a line longer than MAX_LINE? Such a line covers a whole stretch of
    MAX_LINE // 2 characters starting at a multiple of it, so a line end in each of those
    stretches says no (a few find() calls a block, each stopping at the first line end)."""
    half = MAX_LINE // 2
    find = text.find
    return any(find("\n", start, start + half) < 0 for start in range(0, len(text), half))


class _ReadInto(io.RawIOBase):
    """A raw stream whose read() is its own: readinto() through it."""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _Prefixed(_ReadInto):
    """A stream's bytes read ahead (`head`), then the rest of the same stream; counts the bytes
    taken from the stream (`consumed`), the head included."""

    def __init__(self, stream: BinaryIO, head: bytes):
        super().__init__()
        self._stream = stream
        self._head = head
        self._read = getattr(stream, "read1", None) or stream.read
        self.consumed = len(head)

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> bytes:
        head = self._head
        if head:
            if size is None or size < 0 or size >= len(head):
                self._head = b""
                return head
            self._head = head[size:]
            return head[:size]
        if size is None or size < 0:
            data = self._stream.read()
        else:
            data = self._read(size)
        if data:
            self.consumed += len(data)
        return data or b""

    read1 = read

    def close(self) -> None:
        # The stream is its Source's to close; a decompressor closing this must not.
        super().close()


class _Streams(_ReadInto):
    """The text of a bzip2 or xz file, stream after stream (files concatenated, xz's streams).
    Python's BZ2File and LZMAFile end without a word at bytes after a stream's end that start
    no other stream, and every stream after them is lost: xz's stream padding (NUL bytes), a
    bzip2 file with anything appended. Here the `padding` bytes between streams (xz's NULs;
    bzip2 has none) are skipped, and other bytes are the decompressor's error: a read error,
    as `bzip2 -dc` and `xz -dc` make it, the text before them kept."""

    def __init__(self, stream: Any, new_decompressor: Callable[[], Any], padding: bytes):
        super().__init__()
        self._read_raw = getattr(stream, "read1", None) or stream.read
        self._new_decompressor = new_decompressor
        self._decompressor = new_decompressor()
        self._padding = padding

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0:
            size = BLOCK_SIZE
        while True:
            decompressor = self._decompressor
            if decompressor.eof:
                rest = decompressor.unused_data.lstrip(self._padding)
                while not rest:
                    data = self._read_raw(BLOCK_SIZE)
                    if not data:
                        return b""
                    rest = data.lstrip(self._padding)
                decompressor = self._decompressor = self._new_decompressor()
                text = decompressor.decompress(rest, size)
            elif decompressor.needs_input:
                data = self._read_raw(BLOCK_SIZE)
                if not data:
                    raise EOFError("Compressed file ended before the end-of-stream marker was "
                                   "reached")
                text = decompressor.decompress(data, size)
            else:
                text = decompressor.decompress(b"", size)
            if text:
                return text


def _streams(stream: Any, new_decompressor: Callable[[], Any],
             padding: bytes) -> io.BufferedReader:
    """A buffered _Streams, read as BZ2File and LZMAFile are (read1 included)."""
    return io.BufferedReader(_Streams(stream, new_decompressor, padding), BLOCK_SIZE)


class _Remote(_ReadInto):
    """An fsspec file (a URL's object), read, sought and closed as a file is: whatever its
    driver raises (botocore's, aiohttp's, fsspec's own errors) is an OSError of one line. It
    keeps its own position: a driver may hand the same file object to every opening of one
    URL (fsspec's memory://), and each Source reads from where it is.

    A read fetches the bytes it asks for and no more (a peek, a chunk's boundary, a worker's
    check of the first 4 KB): fsspec's buffered file (s3fs's, gcsfs's, HTTP's...) would fetch
    a block of 5 MB past each and keep it, so it is given fsspec's pass-through cache instead.
    Reads that go on in order (read() from where the last one ended, the object read whole;
    pread() told where they stop, a chunk) fetch READ_AHEAD at a time, up to where they stop,
    and take the next reads from those bytes."""

    def __init__(self, file: Any):
        super().__init__()
        from fsspec.caching import BaseCache, MMapCache
        from fsspec.spec import AbstractBufferedFile

        # fsspec's blockcache:: too gives the files it wraps a cache after opening them (its
        # disk cache, MMapCache, which stays: that URL asked for it). Not
        # open(cache_type="none"): not every driver takes that (FTP drops it, SMB hands it on
        # to its client), and every buffered file reads through `cache`.
        if isinstance(file, AbstractBufferedFile) and not isinstance(file.cache, MMapCache):
            file.cache = BaseCache(file.blocksize, file._fetch_range, file.size)
        self._file = file
        self._position = 0
        self._read_end = -1  # where the last read() ended: a read from there goes on in order
        self._ahead = b""  # the bytes last fetched for reads in order, from `_ahead_at` on
        self._ahead_at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._call(self._file.seekable)

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        offset = self._position
        limit = offset + (max(size, READ_AHEAD) if offset == self._read_end else size)
        data = self._call(self._take, offset, size, limit)
        self._position = self._read_end = offset + len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            self._position = self._call(self._file.seek, offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position

    def pread(self, size: int, offset: int, until: Optional[int] = None) -> bytes:
        """read_at(): up to `size` bytes at `offset`, fewer only at the end; the position
        left alone."""
        parts = []
        while size > 0:
            limit = offset + size if until is None else min(until, offset + READ_AHEAD)
            data = self._call(self._take, offset, size, limit)
            if not data:
                break
            parts.append(data)
            offset += len(data)
            size -= len(data)
        return b"".join(parts)

    def _take(self, offset: int, size: int, limit: int) -> bytes:
        """Up to `size` bytes at `offset`: from the bytes fetched ahead when they hold that
        offset (fewer when they end first), else fetched, with those up to `limit`, which are
        kept for the reads that follow."""
        ahead = self._ahead
        start = offset - self._ahead_at
        if 0 <= start < len(ahead):
            return ahead[start:start + size]
        self._ahead = b""
        file = self._file
        if file.tell() != offset:
            file.seek(offset)
        data = file.read(max(size, limit - offset)) or b""
        if len(data) > size:
            self._ahead, self._ahead_at = data, offset
            return data[:size]
        return data

    def close(self) -> None:
        if not self.closed:
            self._ahead = b""
            try:
                self._file.close()
            except Exception:  # a read-only object: nothing to lose
                pass
        super().close()

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any) -> Any:
        with _driver_errors():
            return method(*args)


@contextlib.contextmanager
def _driver_errors() -> Iterator[None]:
    """Whatever fsspec or a URL's driver raises inside (botocore's, aiohttp's, fsspec's own
    errors), raised as an OSError of one line (remote_reason)."""
    try:
        yield
    except Exception as error:  # a driver's own errors, made one line
        number = error.errno if isinstance(error, OSError) else None
        raise OSError(number or 0, remote_reason(error)) from None


def remote_reason(error: BaseException) -> str:
    """One line saying why a URL could not be opened or read, from whatever fsspec or its
    driver raised."""
    reason = _os_reason(error)
    if reason:
        return reason
    if isinstance(error, ImportError):  # fsspec: "Install s3fs to access S3"
        text = f"no driver installed for this URL: {error}"
    elif isinstance(error, ValueError) and "Protocol not known" in str(error):
        text = f"fsspec knows no such protocol ({error})"
    else:
        text = f"{type(error).__name__}: {error}"
    return one_line(text) or type(error).__name__


def one_line(text: str) -> str:
    """The first line of an error's message (a driver's or Dask's may take many), cut to
    REASON_LENGTH."""
    return (text.strip().splitlines() or [""])[0][:REASON_LENGTH]


# The schemes of fsspec's local filesystem (LocalFileSystem.protocol), when fsspec is missing.
_LOCAL_SCHEMES = ("file://", "local://")


def is_url(path: object) -> bool:
    """Is `path` a URL (`scheme://...`), for fsspec to open?"""
    return isinstance(path, str) and _URL.match(path) is not None


def local_paths(path: str) -> List[str]:
    """The local files an input names: `path` itself, those a URL of fsspec's local filesystem
    names (`file://`, `local://`; read as fsspec reads it: its glob expanded by expand_url(), no
    %-escape undone), none for another URL. What the report must never be written over."""
    if not is_url(path):
        return [path]
    try:
        fsspec = _fsspec()
        with _driver_errors():
            protocols = fsspec.core.url_to_fs(path)[0].protocol
        if "file" not in ((protocols,) if isinstance(protocols, str) else protocols):
            return []
        return [fsspec.core.url_to_fs(url)[1] for url in expand_url(path)]
    except OSError:
        # Not read then (no fsspec, no driver, a listing that failed): the file a local URL
        # names all the same.
        return [path.split("://", 1)[1]] if path.startswith(_LOCAL_SCHEMES) else []


def _fsspec():
    """fsspec, imported when a URL is met (0.1 s of start-up otherwise); OSError naming the
    extra to install when it is missing."""
    try:
        import fsspec
    except ImportError:
        raise OSError(0, f"reading a URL needs fsspec: {URL_INSTALL}") from None
    return fsspec


def expand_url(url: str) -> List[str]:
    """The URLs a URL with glob characters names (sorted; none: an empty list), or [url];
    OSError (one line) when its filesystem cannot be had or listed."""
    if not _GLOB.search(url.split("://", 1)[1]) or url.startswith(("http://", "https://")):
        return [url]
    fsspec = _fsspec()
    with _driver_errors():
        filesystem, pattern = fsspec.core.url_to_fs(url)
        # The listing says which matches are files: no request more per match.
        return sorted(filesystem.unstrip_protocol(name)
                      for name, info in filesystem.glob(pattern, detail=True).items()
                      if info.get("type") == "file")


def open_url(url: str, dated: bool = True) -> Source:
    """The Source of the object at `url`, opened with fsspec; OSError (one line) when it
    cannot be. Not `dated`: its time is not asked of the store (a request), and is None."""
    fsspec = _fsspec()
    with _driver_errors():
        filesystem, path = fsspec.core.url_to_fs(url)
        info = filesystem.info(path)
        if info.get("type") == "directory":
            raise IsADirectoryError(path)
        file = filesystem.open(path, "rb")
    stream = _Remote(file)
    try:
        modified = _modified(filesystem, path) if dated else None
        size = info.get("size")
        regular = isinstance(size, int) and info.get("type") == "file" and stream.seekable()
    except BaseException:  # a driver's error, the user's ^C during a request
        stream.close()
        raise
    source = Source(url, url, modified, stream)  # type: ignore[arg-type]
    source._owned = True
    source.url = url
    source.regular = regular
    source.size = size if regular else 0
    return source


def _modified(filesystem: Any, path: str) -> Optional[_dt.datetime]:
    """When the object at `path` was last written, as a local file's time (the same report);
    None when its store does not say."""
    try:
        modified = filesystem.modified(path)
    except Exception:  # HTTP has none; nor do some drivers: anchored on now
        return None
    if not isinstance(modified, _dt.datetime):
        return None
    if modified.tzinfo is None:  # fsspec's times are UTC
        modified = modified.replace(tzinfo=_dt.timezone.utc)
    return modified.astimezone()


# The environment's options for gzip, bzip2 and xz: BZIP2=-q silences the trailing garbage that
# _check_child looks for, XZ_DEFAULTS=--single-stream drops every stream after the first.
DECOMPRESSOR_OPTIONS = ("GZIP", "BZIP", "BZIP2", "XZ_OPT", "XZ_DEFAULTS")


def _without_decompressor_options() -> Dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if name not in DECOMPRESSOR_OPTIONS}


def _read_head(stream: Any, size: int) -> bytes:
    """Up to `size` bytes from the start of `stream`, fewer only at its end (a pipe gives what
    it holds at each read)."""
    read = getattr(stream, "read1", None) or stream.read
    parts = []
    total = 0
    while total < size:
        data = read(size - total)
        if not data:
            break
        parts.append(data)
        total += len(data)
    return b"".join(parts)


def _inflate_start(head: bytes) -> bytes:
    """The text at the start of `head`: inflated (at most PEEK_TEXT) when it is compressed,
    as much as inflates before an error. A few KB at a time: a decompressor that fails keeps
    none of the text it inflated in that call, and a file damaged within its first block had
    no first line (a copy beside its original was not compared, and both were read)."""
    if not is_compressed(head):
        return head
    decompressor = _decompressor_of(head)
    parts: List[bytes] = []
    size = 0
    try:
        for start in range(0, len(head), INFLATE_STEP):
            part = decompressor.decompress(head[start:start + INFLATE_STEP], PEEK_TEXT - size)
            parts.append(part)
            size += len(part)
            if size >= PEEK_TEXT or decompressor.eof:
                break
    except READ_ERRORS:
        pass
    return b"".join(parts)


def _standard_input(stdin: Optional[BinaryIO]) -> Source:
    """The Source of `-`: `stdin`, or the process's standard input; OSError when it is closed,
    TypeError when it is text without bytes beneath (io.StringIO)."""
    stream: Any = stdin if stdin is not None else sys.stdin
    if stream is None:  # the process started with descriptor 0 closed
        raise OSError(errno.EBADF, "standard input is closed")
    # Its bytes, when given as text (sys.stdin, a file opened in text mode): lines are decoded
    # here, as a file's are.
    stream = getattr(stream, "buffer", stream)
    if isinstance(stream, io.TextIOBase):
        raise TypeError(f"stdin: a binary stream, not text: {stream!r} (io.BytesIO(data), "
                        "a file opened 'rb', sys.stdin.buffer)")
    if getattr(stream, "closed", False):
        raise OSError(errno.EBADF, "standard input is closed")
    source = Source("<stdin>", None, None, stream)
    try:
        fileno = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return source  # an in-memory stream: nothing to compare
    status = os.fstat(fileno)
    if fcntl is not None and fcntl.fcntl(fileno, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
        raise OSError(errno.EBADF, "standard input is open for writing only")
    source.identity = (status.st_dev, status.st_ino)
    return source


def open_path(path: str, dated: bool = True) -> Source:
    """The Source of the file at `path`, or of the object at a URL; OSError when it cannot be
    opened. Not `dated`: a URL's time is not asked of its store (open_url)."""
    if is_url(path):
        return open_url(path, dated)
    stream = open(path, "rb", buffering=0)
    try:
        status = os.fstat(stream.fileno())
        regular = stat.S_ISREG(status.st_mode)
        mtime = _dt.datetime.fromtimestamp(status.st_mtime).astimezone() if regular else None
    except BaseException:
        stream.close()
        raise
    source = Source(path, path, mtime, stream)
    source._owned = True
    source.identity = (status.st_dev, status.st_ino)
    source.regular = regular
    source.size = status.st_size if regular else 0
    return source


def open_sources(paths, stdin: Optional[BinaryIO] = None,
                 zone: Optional[_dt.tzinfo] = None) -> Inputs:
    """Open every path once, read each file only once even when given twice, and order the
    readable ones oldest first; return Inputs(sources, problems, notes). One path alone is one
    path; TypeError for what is no path (a descriptor, a file object, None)."""
    # A string's characters are no paths; a descriptor would be read and closed under its
    # owner, and other objects fail deep inside os.stat().
    # Alone too: a file object's lines were taken for paths, each "cannot read".
    alone = isinstance(paths, (str, bytes, os.PathLike)) or hasattr(paths, "read")
    paths = [paths] if alone or not hasattr(paths, "__iter__") else list(paths)
    for path in paths:
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"not a path: {path!r} (a file name, a URL, or - for stdin)")
    files: List[Source] = []
    problems: List[Problem] = []
    notes: List[Problem] = []
    kept: List[Source] = []
    standard_input: Optional[Source] = None
    # Standard input first: when it is closed, the first file opened would take descriptor 0.
    if "-" in paths:
        try:
            standard_input = _standard_input(stdin)
        except OSError as error:
            problems.append(Problem("<stdin>", f"cannot read: {error_reason(error)}"))
    stdin_seen = False
    for path in _expand_urls(paths, problems):
        if path == "-":
            if standard_input is None:
                continue
            source = standard_input
            if stdin_seen:
                notes.append(Problem(source.name, f"the same file as {source.name}; read once"))
                continue
            stdin_seen = True
        else:
            # A pipe already read is told before it is opened: opening it again waits for a
            # writer that is gone (`maillog-sasl fifo fifo`, a symlink to it, `- < fifo`).
            pipe = _pipe_identity(path)
            opened = kept if standard_input is None else [standard_input, *kept]
            same = pipe and next((other for other in opened if other.identity == pipe), None)
            if same is not None:
                notes.append(Problem(path, f"the same file as {same.name}; read once"))
                continue
            try:
                source = open_path(path)
            except OSError as error:
                problems.append(Problem(path, f"cannot read: {error_reason(error)}"))
                continue
        same = next((other for other in kept if other.same_file(source)), None)
        if same is not None:
            notes.append(Problem(source.name, f"the same file as {same.name}; read once"))
            if source is standard_input:
                standard_input = None
            else:
                source.close()
            continue
        kept.append(source)
        if source is standard_input:
            continue
        try:
            source.first_time = source.peek_first_time(zone)
        except OSError as error:
            problems.append(Problem(path, f"cannot read: {error_reason(error)}"))
            kept.pop()
            source.close()
            continue
        files.append(source)
    files = _without_copies(files, notes)
    # The files left out below are found by their times, which a set's Feb 29 moves.
    _place_in_years(files, zone)
    left = _without_severe_copies(_without_mail_lines_held(files, notes), notes)
    # A file left out no longer has a say in the anchors; run again on the files it placed,
    # it would place them as it did.
    if len(left) < len(files):
        _place_in_years(left, zone)
    files = left
    far_future = _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)
    # Two files whose first stamps are the same second (a rotated file of a quiet moment, a
    # log rotated as a line was logged): their names tell which is older, not the shell's
    # order, which names maillog before maillog.1.
    files.sort(key=lambda source: (source.first_time or far_future,
                                   -_rotation(str(source.name))[1] if source.first_time else 0))
    # Other programs' logs given beside the mail logs (`/var/log/*`: auth.log, kern.log), whose
    # rotated sets show no Postfix line where a file starts, are read after them: ordered
    # among them by their first lines, one begun before the mail log's next file moved its
    # host's clock past the session across that rotation, closed as idle and cut in two.
    if len({source.log for source in files}) > 1:
        mail_logs = {source.log for source in files
                     if source.first_time is not None and source._head_facts.postfix}
        if mail_logs:
            files.sort(key=lambda source: source.log not in mail_logs)
    if standard_input is not None and stdin_seen:
        # Its first block is read ahead too, as a pipe's given by its path, and handed on
        # first: a Feb 29 there places the yearless lines before it (leap_start). Its time
        # orders nothing: it is read after the files.
        try:
            standard_input.peek_first_time(zone)
        except OSError as error:
            problems.append(Problem(standard_input.name, f"cannot read: {error_reason(error)}"))
            standard_input.close()
        else:
            files.append(standard_input)
    unlike = [source for source in files if source.zone_unlike is not None]
    if unlike:
        notes.append(_zone_note(unlike))
    return Inputs(files, problems, notes)


def _zone_note(unlike: List[Source]) -> Problem:
    """The note of the inputs whose stamps name a zone other than the one their local times are
    read in (Source.zone_unlike)."""
    assert unlike[0].zone_unlike is not None
    return Problem(str(unlike[0].name), unlike_zone_told(unlike[0].zone_unlike, len(unlike) - 1))


def unlike_zone_told(unlike: Tuple[str, str], more: int = 0) -> str:
    """What is told of a log whose stamps name a zone (unlike_zone_name(): the name, and
    `read_in`'s) other than the one their local times are read in: the admin's --tz, or this
    machine's zone without it; `more` inputs of the same."""
    named, read_in = unlike
    others = f" (and {more} more input{'s' if more > 1 else ''})" if more else ""
    return (f"its stamps name the zone {named}{others}, but their times are read in {read_in} "
            "(--tz, else this machine's zone), so they may be off by the difference: give --tz "
            "the log's own zone by its IANA name (Europe/Paris, Asia/Tokyo)")


def _place_in_years(files: List[Source], zone: Optional[_dt.tzinfo]) -> None:
    """The first times of `files` (open_sources()) in the years their set places them."""
    # Anchored all on their ends or all on their modification times: a rotated set copied
    # together, some of its files with a dated end and some without, would otherwise be read
    # in two different years. A file without a stamp in its first block (an empty one, just
    # rotated) has none to place.
    stamped = [source for source in files if source.first_time is not None]
    if stamped and all(source.end is not None for source in stamped):
        for source in stamped:
            source.anchor = source.end
            source.first_time = source.first_time_in_head(zone)  # the order, in those years
    # A rotated set is one log: a Feb 29 that moved one file's yearless lines back from the
    # year its anchor gave (a set copied years after it was written) moves the others' as far,
    # so that the set is read in one run of years, and ordered in them (under --year too).
    # Only its own files (_rotation()): a live log given beside an old copy keeps its year.
    backs: Dict[str, int] = {}
    for source in stamped:
        backs[source.log] = max(backs.get(source.log, 0), source.leap_back)
    for source in stamped:
        back = backs[source.log]
        if back:
            source.first_time = source.first_time_in_head(zone, back)


def _pipe_identity(path: str) -> Optional[Tuple[int, int]]:
    """(device, inode) of the named pipe at `path` (a file:// URL's too), or None (another
    file, or none there)."""
    try:
        local = local_paths(path) if is_url(path) else [path]
        status = os.stat(local[0]) if len(local) == 1 else None
    except (OSError, ValueError):
        return None
    return ((status.st_dev, status.st_ino) if status is not None and stat.S_ISFIFO(status.st_mode)
            else None)


def _without_copies(files: List[Source], notes: List[Problem]) -> List[Source]:
    """`files` less each regular file whose text, inflated when it is compressed, is another's
    or the start of another's: one log in two files. `gunzip -k maillog.2.gz`, or logrotate's
    gzip still writing maillog.2.gz beside maillog.2 (it deletes the plain file when it is
    done), under `maillog-sasl /var/log/maillog*`; a syslog daemon writing one log to two
    files (Debian's rsyslog.conf up to bullseye: mail.* to mail.log and mail.info to
    mail.info, the same lines, one file a little behind while they are written, each rotated
    and compressed under its own name); a copy. Read twice, their lines would count every
    login and message twice. Their lines are compared as read (_text_relation()), whatever
    ends them and whatever their encoding (a copy made through Windows, CRLF or UTF-16,
    beside the original), a compressed copy damaged part way by its text up to the damage.
    The longer text is read, or of the same text the plain file (the first named of two
    compressed ones); the other is a note. Only files whose first lines are the same are
    compared: files whose texts part are two logs, and both are read."""
    regular = [source for source in files if source.regular and source._first_line]
    dropped: Dict[Source, Problem] = {}
    for index, source in enumerate(regular):
        for other in regular[index + 1:]:
            if (source in dropped or other in dropped
                    or other._first_line != source._first_line):
                continue
            found, other_ends = _text_relation(source, other)
            if found == OTHER:
                continue
            if found == START or (found == COPY and is_compressed(source._head)
                                  and not is_compressed(other._head)):
                kept, copy = other, source
            else:
                kept, copy = source, other
            if is_compressed(copy._head) and not is_compressed(kept._head):
                note = f"the same log as {kept.name}, compressed"
            elif found == COPY:
                note = f"the same log as {kept.name}"
            else:
                note = f"the start of the log {kept.name} holds"
            if other_ends:
                note += ", with other line ends"
            dropped[copy] = Problem(copy.name, note + "; read once")
    for source, problem in dropped.items():
        notes.append(problem)
        source.close()
    return [source for source in files if source not in dropped]


def _without_mail_lines_held(files: List[Source], notes: List[Problem]) -> List[Source]:
    """`files` less each regular file whose Postfix lines (_mail_lines()) other files given hold
    too, in their order: syslog's file of every program beside the mail log (Debian's and
    Ubuntu's rsyslog writes each mail line to /var/log/mail.log and to /var/log/syslog, each
    rotated and compressed under its own name, and not always on the same days: syslog daily,
    mail.log weekly up to bullseye), named by `maillog-sasl /var/log/mail.log* /var/log/syslog*`
    or `/var/log/*`. Read too, it would count every login and message twice. A file is left
    out only when every one of its Postfix lines is found, in order, in the files of one other
    rotated set (_rotation(): `mail.log`, `mail.log.1`, `mail.log.2.gz`) that begin with its
    host's line, from the one that can hold its first line (or the file before it: the two
    files are rotated a moment apart); a line found nowhere else keeps it read.

    A whole rotated set whose lines another holds is left out first, that of the most other
    programs' lines first: syslog's days, all in the weeks of the mail logs given, or the mail
    log's week, all in syslog's days given (`mail.log syslog*`). Then each file of the sets
    left whose lines the other sets' files left hold: syslog.5 of the mail log's week when
    syslog.7 holds days before it. A file whose lines other files hold only in part (syslog.6,
    the mail log given starting within its day) is read whole, those lines twice. Files of
    Postfix's warnings and errors alone are left to _without_severe_copies()."""
    sets: Dict[str, List[Source]] = {}
    for source in files:
        if source.regular and source.first_time is not None and not source._head_facts.severe:
            sets.setdefault(source.log, []).append(source)
    if len(sets) < 2:
        return files  # one rotated set (maillog*): no other to hold its lines
    shares = {name: _mail_share(logs) for name, logs in sets.items()}
    order = sorted((share, index, logs) for index, (logs, share)
                   in enumerate(zip(sets.values(), shares.values())) if share is not None)
    if len(order) < 2:
        return files
    for _, _, logs in order:
        logs.sort(key=lambda source: (source.first_time, -_rotation(str(source.name))[1]))
    dropped: Dict[Source, Problem] = {}

    def kept(logs: List[Source]) -> List[Source]:
        return [source for source in logs if source not in dropped]

    def drop(held: List[Source], logs: List[Source], share: float) -> None:
        for _, _, other in order:
            holders = _held_by(held, kept(other)) if held and other is not logs else None
            if holders is not None:
                among = ", among other programs' lines" if share < 1 else ""
                # (A file without a Postfix line, a quiet day's syslog, is read: no note.)
                for source, its in ((source, its) for source, its in zip(held, holders) if its):
                    where = (f"{its[0].name} holds" if len(its) == 1
                             else f"{its[0].name} {'and' if len(its) == 2 else 'to'} "
                                  f"{its[-1].name} hold")
                    dropped[source] = Problem(source.name, f"the Postfix lines of the log "
                                                           f"{where}{among}; read once")
                return

    for share, _, logs in order:
        drop(kept(logs), logs, share)
    for share, _, logs in order:
        for source in kept(logs):
            drop([source], logs, share)
    for source, problem in dropped.items():
        notes.append(problem)
        source.close()
    return [source for source in files if source not in dropped]


def _mail_share(logs: List[Source]) -> Optional[float]:
    """The share of Postfix's lines (_is_mail_line()) among the syslog lines of the first bytes
    of `logs`; None when they hold none, or when a file's lines are not read as they are (a
    wrapper's, a prefix's: _mail_lines() compares them as they are)."""
    programs: Dict[str, bool] = {}
    mail = lines = 0
    for source in logs:
        text = decoded_start(_inflated_line(source))
        head = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", PEEK_LINES)
        if wrapper_of(head[:PEEK_LINES]) != PLAIN:
            return None
        for line in head[:PEEK_LINES]:
            if split_line(line) is not None:
                lines += 1
                mail += _is_mail_line(line, programs)
    return mail / lines if mail else None


def _held_by(logs: List[Source], others: List[Source]) -> Optional[List[List[Source]]]:
    """For each of `logs` (oldest first), the files of `others` (one rotated set, oldest first)
    that hold its Postfix lines, when they hold every one of `logs`', in order, from the one to
    begin at or before the first of `logs` (or the file before it) on, and its first line is of
    the same host; else None."""
    holder = _holder(others, logs[0].first_time)
    if holder is None or holder._head_facts.host != logs[0]._head_facts.host:
        return None
    start = max(others.index(holder) - 1, 0)
    wanted = ((index, line) for index, source in enumerate(logs)
              for line in _mail_lines(source))
    holders: List[List[Source]] = [[] for _ in logs]
    try:
        index, line = next(wanted, (0, None))
        if line is None:
            return None  # nothing to read twice
        for other in others[start:]:
            for held in _mail_lines(other):
                if held == line:
                    if other not in holders[index]:
                        holders[index].append(other)
                    index, line = next(wanted, (0, None))
                    if line is None:
                        return holders
    except _Unlike:
        return None
    return None


def _mail_lines(source: Source) -> Iterator[str]:
    """The lines of regular file `source` (inflated when compressed), as batches() cuts them,
    that are Postfix's or may be (_is_mail_line()), in order; _Unlike when a read fails."""
    decoder, splitter = text_decoder(True), LineSplitter()
    programs: Dict[str, bool] = {}
    for block in _text_blocks(source):
        for line in splitter.split(decoder.decode(block)):
            if _is_mail_line(line, programs):
                yield line
    for line in splitter.end(decoder.decode(b"", final=True)):
        if _is_mail_line(line, programs):
            yield line


def _is_mail_line(line: str, programs: Dict[str, bool]) -> bool:
    """Whether `line` is one the reports may be made of: a Postfix program's, another's that
    holds a line (a container's), a BSD syslogd's repeat line. `programs` caches the tags."""
    parsed = split_line(line)
    if parsed is None:
        return is_last_repeat(line)
    tag = parsed[2]
    known = programs.get(tag)
    if known is None:
        known = programs[tag] = parse_program(tag) is not None
    return known or nested_line(parsed[3]) is not None or is_last_repeat(line)


# What Postfix logs at syslog's warning level and above starts so (msg_warn(), msg_error(),
# msg_fatal(), msg_panic()): all that a file of those levels holds of Postfix's.
_SEVERE = ("warning: ", "error: ", "fatal: ", "panic: ")
# A file whose first bytes hold at least this many Postfix lines, every one of them severe, is
# taken for a file of those levels.
SEVERE_LINES = 3


def _without_severe_copies(files: List[Source], notes: List[Problem]) -> List[Source]:
    """`files` less each regular file of Postfix's warnings and errors alone whose first and
    last lines one other log of its host holds too: syslog's file of those levels beside the
    whole log (Debian's rsyslog.conf up to bullseye writes mail.warn and mail.err beside
    mail.log; Ubuntu's mail.err), named by `maillog-sasl /var/log/mail*`. Read too, it would
    count every failed AUTH twice. A whole log is looked in only where it can hold the line:
    the latest of its host's (whose first line is the host's; when none is, any: a central
    syslog's holds every host's) to begin at or before the line's time (the newest for the
    last line, when the file's end is not known), among the logs whose first bytes hold a
    Postfix line. A file whose lines are not found is read."""
    severe = {source for source in files if source.regular and source._head_facts.severe}
    # Other programs' logs (auth.log, kern.log: `/var/log/*`) hold none of its lines: one that
    # began after the mail log was taken for the log of the file's time.
    whole = [source for source in files if severe and source.regular and source not in severe
             and source.first_time is not None and source._head_facts.postfix]
    kept = []
    for source in files:
        host, _, first, _ = source._head_facts
        if source in severe and first is not None and source.first_time is not None:
            # A central syslog's log begins with whichever host logged first: when no log
            # begins with this one's, every log may be its.
            mine = [other for other in whole if other._head_facts.host == host] or whole
            # One log holds both ends, as logrotate rotates the two files together: ends in two
            # logs would say nothing of a log between them not given, whose warnings are lost.
            # (The file's last line read only then: a file given alone is read once.)
            holder = _holder(mine, source.first_time)
            if (holder is not None and holder is _holder(mine, source.end)
                    and _holds(holder, first) and _holds(holder, _last_line(source))):
                notes.append(Problem(source.name, "Postfix's warnings and errors alone, lines "
                                     f"{holder.name} holds too (syslog's file of those levels); "
                                     "read once"))
                source.close()
                continue
        kept.append(source)
    return kept


class _HeadFacts(NamedTuple):
    """What a file's first bytes (inflated) tell of it: _head_facts()."""
    host: Optional[str]  # of its first syslog line
    stamp: Optional[str]  # of its first syslog line, as split_line() gives it
    severe: Optional[bytes]  # its first Postfix line, when they are all warnings or worse
    postfix: bool  # whether they hold a Postfix program's line


def _head_facts(start: bytes) -> _HeadFacts:
    """The _HeadFacts of a file whose first bytes are `start` (inflated): `severe` when they
    hold SEVERE_LINES Postfix lines or more and only warnings or worse among them (the first
    of another kind ends the reading)."""
    host, stamp, first, severe = None, None, None, 0
    for line, parsed in _parsed_lines(start):
        if host is None:
            host, stamp = parsed[1], parsed[0]
        if parse_program(parsed[2]) is None:
            continue
        if not parsed[3].startswith(_SEVERE):
            return _HeadFacts(host, stamp, None, True)
        if first is None:
            first = line.encode("utf-8", "surrogateescape")
        severe += 1
    return _HeadFacts(host, stamp, first if severe >= SEVERE_LINES else None,
                      first is not None)


def _holder(logs: List[Source], when: Optional[_dt.datetime]) -> Optional[Source]:
    """Of `logs`, the latest to begin at or before `when` (None: the newest)."""
    begun = [(log.first_time, index) for index, log in enumerate(logs)
             if log.first_time is not None and (when is None or log.first_time <= when)]
    return logs[max(begun)[1]] if begun else None


def _last_line(source: Source) -> bytes:
    """A regular file's last line (inflated when compressed; b"" when none or unreadable)."""
    tail = b""
    try:
        for block in _text_blocks(source):
            tail = (tail + block)[-MAX_LINE:]
    except _Unlike:
        return b""
    lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
    return lines[-1] if len(lines) > 1 or len(tail) < MAX_LINE else b""


def _holds(source: Source, line: bytes) -> bool:
    """Whether the text of regular file `source` has `line` as one of its lines (never an
    empty `line`: none found)."""
    if not line:
        return False
    wanted = b"\n" + line.rstrip(b"\r") + b"\n"
    carry = b"\n"
    try:
        for block in _text_blocks(source):
            text = carry + block.replace(b"\r\n", b"\n")
            if wanted in text:
                return True
            carry = text[-len(wanted):]
    except _Unlike:
        return False
    return False


# What _text_relation() finds of two files' texts: the same (COPY), the first's the start of
# the second's (START) or the second's the start of the first's (HOLDS), or parting (OTHER).
COPY, START, HOLDS, OTHER = "copy", "start", "holds", "other"


class _Unlike(Exception):
    """A file's text cannot be looked in (_holds(), _mail_lines()): a read failed, or bytes
    after a compressed member's end do not inflate (the file is read, and the failure reported
    then)."""


class _Reading:
    """How _text_blocks() read a file, when it is told to end the text at a failure rather
    than raise _Unlike: the members (or streams) inflated to their ends so far, and whether a
    failure ended the text (a read, bytes that do not inflate)."""

    __slots__ = ("members", "failed")

    def __init__(self) -> None:
        self.members = 0
        self.failed = False


def _raw_blocks(source: Source) -> Iterator[bytes]:
    """A regular file's bytes in blocks (_Unlike when a read fails)."""
    offset = 0
    while True:
        try:
            raw = source.read_at(BLOCK_SIZE, offset, source.size)
        except OSError:
            raise _Unlike() from None
        if not raw:
            return
        offset += len(raw)
        yield raw


def _text_relation(first: Source, second: Source) -> Tuple[str, bool]:
    """How the lines of two regular files relate (COPY, START, HOLDS, OTHER), each read once
    more here through its own descriptor, at most BLOCK_SIZE bytes inflated at a time, up to
    where they part; and whether one ends its lines with a CR where the other does not. Their
    lines are compared as batches() reads them: decoded (UTF-16 after its mark, a UTF-8 mark
    dropped), a CRLF, an LF and a bare CR ending a line alike (LineSplitter). A text ends where
    reading it fails, and what it held up to there is compared: a copy cut short, or that stops
    inflating, is the start of the other's text, and so is one damaged where they part
    (_damaged_where_parted()). A pipe is never compared."""
    crs = [False, False]
    readings = (_Reading(), _Reading())
    texts = [_with_lf_ends(_decoded(_text_blocks(source, reading)), crs, side)
             for side, (source, reading) in enumerate(zip((first, second), readings))]
    pending = ["", ""]
    ended = [False, False]
    while True:
        for side in (0, 1):
            if not pending[side] and not ended[side]:
                pending[side] = next(texts[side], "")
                ended[side] = not pending[side]
        if ended[0] or ended[1]:
            found = COPY if ended[0] and ended[1] else START if ended[0] else HOLDS
            return found, crs[0] != crs[1]
        size = min(len(pending[0]), len(pending[1]))
        if pending[0][:size] != pending[1][:size]:
            other_ends = crs[0] != crs[1]
            damaged = _damaged_where_parted((first, second), texts, readings)
            if damaged is None:
                return OTHER, False
            return (START if damaged == 0 else HOLDS), other_ends
        pending = [pending[0][size:], pending[1][size:]]


def _damaged_where_parted(sources: Tuple[Source, Source], texts: List[Iterator[str]],
                          readings: Tuple[_Reading, _Reading]) -> Optional[int]:
    """Of two texts that have just parted, the side (0, 1) that is a damaged gzip copy of the
    other: its member they parted in then fails to inflate (read to its end here), and its
    trailer gives the other's length. Bytes flipped inside a compressed copy inflate to other
    text up to the check that fails (gzip's CRC at a member's end), so its text parts from its
    original's at the damage, not where the file ends; its text up to there is the start of
    the other's. A log that begins as another does and is damaged later parts the same way:
    without the trailer's length to vouch for a copy (bzip2 and xz keep none where it can be
    read; a file of several members, only its last's) both are read, the failure reported.
    None when neither is such a copy."""
    damaged = []
    for side, source in enumerate(sources):
        if is_compressed(source._head):
            members = readings[side].members
            for _ in texts[side]:
                pass
            if readings[side].failed and readings[side].members == members:
                damaged.append(side)
    if len(damaged) != 1:
        return None
    side = damaged[0]
    size = _plain_size(sources[1 - side])
    return side if size is not None and size % (1 << 32) == _gzip_size(sources[side]) else None


def _gzip_size(source: Source) -> Optional[int]:
    """The length (modulo 2**32) a gzip file's trailer gives its last member's text; None for
    another compression, or when it cannot be read."""
    compression = _compression_of(source._head or b"")
    if compression is None or compression[1] != "gzip" or source.size < 18:
        return None
    try:
        trailer = source.read_at(4, source.size - 4)
    except OSError:
        return None
    return int.from_bytes(trailer, "little") if len(trailer) == 4 else None


def _plain_size(source: Source) -> Optional[int]:
    """The length of a regular file's text: its size, or a gzip file's trailer's."""
    return _gzip_size(source) if is_compressed(source._head) else source.size


def _decoded(blocks: Iterator[bytes]) -> Iterator[str]:
    """The text of `blocks`, an input's bytes from its start, as batches() decodes it."""
    decoder = text_decoder(True)
    for block in blocks:
        text = decoder.decode(block)
        if text:
            yield text


def _with_lf_ends(blocks: Iterator[str], crs: List[bool], side: int) -> Iterator[str]:
    """`blocks` of a text, each line end in them an LF (LineSplitter's: CRLF, LF, a bare CR),
    none empty; `crs[side]` set when a CR was among them."""
    held = ""  # a CR at a block's end, which an LF may follow in the next
    for block in blocks:
        block = held + block
        held = "\r" if block.endswith("\r") else ""
        block = block[:len(block) - len(held)]
        if "\r" in block:
            crs[side] = True
            block = block.replace("\r\n", "\n").replace("\r", "\n")
        if block:
            yield block
    if held:
        crs[side] = True
        yield "\n"


def _text_blocks(source: Source, reading: Optional[_Reading] = None) -> Iterator[bytes]:
    """A regular file's text in blocks, inflated when it is compressed, up to its end or to
    where it stops inflating inside a member (a copy gzip is still writing: its text so far);
    _Unlike when a read fails or what follows a member's end does not inflate (xz's padding
    between streams is skipped). With `reading`, every failure ends the text there instead,
    recorded in `reading`, as are the members inflated whole. A member cut short is no
    failure there: what it inflates is the start of its text, never other text."""
    try:
        yield from _inflated_blocks(source, reading)
    except _Unlike:
        if reading is None:
            raise
        reading.failed = True


def _inflated_blocks(source: Source, reading: Optional[_Reading]) -> Iterator[bytes]:
    """_text_blocks(), _Unlike raised whether or not there is a `reading`."""
    kind = source._head or b""
    if not is_compressed(kind):
        yield from _raw_blocks(source)
        return
    decompressor = _decompressor_of(kind)
    fresh = False  # a member or stream has just begun after another's end
    for raw in _raw_blocks(source):
        more = True
        while more:
            if decompressor.eof:  # one member ended; another may follow (cat a.gz b.gz)
                raw = raw.lstrip(b"\0")
                if not raw:
                    break
                decompressor, fresh = _decompressor_of(kind), True
                if reading is not None:
                    reading.members += 1
            try:
                text = decompressor.decompress(raw, BLOCK_SIZE)
            except READ_ERRORS:
                if fresh:
                    raise _Unlike() from None
                if reading is not None:
                    reading.failed = True
                return
            fresh = False
            raw, more = _left_over(decompressor)
            if text:
                yield text


def _left_over(decompressor: Any) -> Tuple[bytes, bool]:
    """(the input to pass to the next decompress() call, whether to make it) after a bounded
    one: what follows a member's end; zlib hands back what it did not read; bz2 and lzma keep
    it, and are called with none until they need more."""
    if decompressor.eof:
        return decompressor.unused_data, bool(decompressor.unused_data)
    tail = getattr(decompressor, "unconsumed_tail", None)
    if tail is not None:
        return tail, bool(tail)
    return b"", not decompressor.needs_input


def _compression_of(head: bytes) -> Optional[Tuple[bytes, str, Callable[..., Any],
                                                     Callable[[], Any]]]:
    """The COMPRESSED_MAGIC entry (magic, program, opener, decompressor) of a stream that
    starts with `head`; None when it is not compressed."""
    return next((entry for entry in COMPRESSED_MAGIC if head.startswith(entry[0])), None)


def _decompressor_of(head: bytes) -> Any:
    """A new decompressor of a stream that starts with `head`, which is compressed."""
    compression = _compression_of(head)
    assert compression is not None  # the callers have seen its magic
    return compression[3]()


def _inflated_line(source: Source) -> bytes:
    """The start of a file, inflated when it is compressed: a whole line at least, when it has
    one. bzip2 gives nothing before its first block (up to 900 kB of text) is whole: then more
    of a regular file is read, through the descriptor batches() reads (a file is never opened
    twice); of a pipe, nothing more can be."""
    head = source._head or b""
    text = _inflate_start(head)
    if b"\n" not in text and is_compressed(head):
        try:
            text = _inflate_start(source.read_at(BZIP2_BLOCK, 0))
        except OSError:
            return b""
    return text


def _first_line_of(start: bytes) -> bytes:
    """The first line of a text whose first bytes are `start` (inflated), as batches() reads
    it: decoded (UTF-16 after its mark; a UTF-8 mark dropped), in UTF-8 and ended by an LF
    whatever ended it; b"" when `start` holds no whole line."""
    if utf16_of(start):
        start = decoded_start(start).encode("utf-8")
    elif start.startswith(codecs.BOM_UTF8):
        start = start[len(codecs.BOM_UTF8):]
    end = _LINE_END.search(start)
    return start[:end.start()] + b"\n" if end is not None else b""


def is_compressed(head: Optional[bytes]) -> bool:
    return head is not None and head.startswith(_MAGICS)


def opener_of(head: bytes) -> Optional[Callable[..., Any]]:
    """The in-process reader of a stream starting with `head`: None when it is not compressed."""
    compression = _compression_of(head)
    return compression[2] if compression is not None else None


_MAGICS = tuple(magic for magic, *_ in COMPRESSED_MAGIC)


def _expand_urls(paths: list, problems: List[Problem]) -> Iterator[str]:
    """`paths`, each URL that holds glob characters replaced by the URLs it names; one that
    names none, or cannot be listed, is a Problem (in its turn: lazily)."""
    for path in paths:
        if not is_url(path):
            yield path
            continue
        try:
            urls = expand_url(path)
        except OSError as error:
            problems.append(Problem(path, f"cannot read: {error_reason(error)}"))
            continue
        if not urls:
            problems.append(Problem(path, "cannot read: no object matches"))
        yield from urls


def error_reason(error: BaseException) -> str:
    reason = _os_reason(error)
    if reason:
        return reason
    if isinstance(error, EOFError):
        return "compressed data ends too early (truncated file)"
    return str(error) or type(error).__name__


# The OSErrors that fsspec raises with a path for their only argument, and their errno.
_PATH_ONLY = ((FileNotFoundError, errno.ENOENT), (PermissionError, errno.EACCES),
              (IsADirectoryError, errno.EISDIR))


def _os_reason(error: BaseException) -> str:
    """The system's words for an OSError (its own, or its kind's when it carries only a path,
    as fsspec's do); empty for another error."""
    if isinstance(error, OSError):
        if error.strerror:
            return error.strerror
        for kind, number in _PATH_ONLY:
            if isinstance(error, kind):
                return os.strerror(number)
    return ""
