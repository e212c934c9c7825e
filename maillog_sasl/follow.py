"""follow: read a log on from where the last reading stopped, across rotation, like `tail -F`.

SUMMARY
    Position(device, inode, offset, head)   where a log was read to: the file's identity, the
                                            bytes read (whole lines only) and a hash of its
                                            first line
    Follower(path, position=None)
    follower.read() -> iterator of Chunk(name, lines, new_file, cut): the complete lines there
                                            now (`cut` of them cut at sources.MAX_LINE)
    follower.position -> Position | None    to store once those lines have been used
    follower.notes                          what was unusual, one line each (read and cleared
                                            by the caller); follower.failed: the log could not
                                            be read at all
    rotated_files(path) -> [path, ...]      its rotated files in the same directory (and its
                                            link's target's), oldest first

DESCRIPTION
    A Follower reads one log path. Its first read() starts from `position`, the one stored by
    the last run: the same file (device and inode, and the hash of its first line) is read on
    from the offset. When the path now names another file, the file read last run was rotated
    since: it is looked for among the rotated files beside it, and beside the file it links to
    (PATH.N, PATH-YYYYMMDD, kubelet's PATH.YYYYMMDD-HHMMSS, each possibly .gz, .bz2 or .xz)
    by identity, not by name (a plain file by device and inode, a compressed one by the hash
    of its first line), its rest is read, then every file rotated after it (each looked for,
    by identity, after the one before it was read: logrotate may rename them meanwhile), then
    the new file from its start; but while the new file is empty (its writer has not reopened
    the path yet) or missing, the newest rotated file, plain, is read on (the one read last,
    or one rotated after it: two rotations since), and the position stays in it. When the same
    file is shorter than the offset or starts with another line, it was truncated in place
    (logrotate's copytruncate): its copy holds the lines written after the offset, and is
    looked for by the hash of the first line; or it is a new file on the inode the old one
    freed (rotated, then compressed by a later rotation): the files rotated after the one
    found are read too, then the new file.

    Later calls of read() follow the file held open: new complete lines as they come; when
    another file appears at the path (logrotate's `create`, or the file was deleted and made
    again), the old file is read on while the new one is empty (the writer goes on writing to
    it until it reopens the path), then until it has been quiet for one call, and then the new
    one from its start, after any file rotated after the old one (a log rotated twice before
    the old file was left). An old file still written to ROTATION_GRACE seconds after the new one
    was first seen written to is left then, with a note naming the byte after which it is not
    read; one left when it was quiet is watched for ROTATION_GRACE seconds more, and written to
    again (a second writer), is a note the same way. A file truncated in place is told, before
    it is read on, as at the first read (by its size or its first line): the lines after the
    offset are read from its copy (then from any later copy), then the file from its start. A
    path that does not exist is waited for.

    logrotate may work while a file is chosen (a run at the minute of cron.daily): a file
    chosen by a look at its name and read on from an offset is checked as it is opened (its
    inode, or the hash of its first line, as it was found): when a rotation put another file
    under that name, nothing of it is read, and the files are looked at again.

    Only complete lines are read (a line being written stays for the next call), except at the
    end of a file that was rotated away, which will not be written to any more. Lines are read
    as the reports read them, by sources.LineSplitter: decoded as UTF-8 with undecodable bytes
    replaced (UTF-16 in a file that starts with its byte order mark), a line ended by LF, CRLF
    or a bare CR, NUL bytes no text, a line longer than sources.MAX_LINE characters cut to them
    (Chunk.cut counts it, the reports' `lines cut`). A CR ends its line when it is read, the
    last byte there or not (an LF right after it, read later or by a later run, is skipped as
    its CRLF's). The offset counts bytes of the file as read, after decompression for a
    compressed one, and is never inside a line: a line being written, however long, is read
    again from its start by a run that stopped in it, and held (at most MAX_LINE characters of
    it) from look to look by one that goes on. While no line of the file held is known (a new
    log still empty), the position is the end of the file read before it: a position with no
    first line could not tell the file truncated since (copytruncate) or made again on its
    inode, and would have it read again from its start.

    A container runtime's log (Kubernetes' CRI files, Docker's json-file) hands on the lines its
    wrapper holds, as the batch reports read it (sources.Unwrapper): the wrapper, and whether
    the lines it holds name a host, are decided by the file's first lines that tell (read again
    from the file's start when reading resumes inside it: never by the lines where a run happens
    to start), each file deciding its own, so that a file rotated in with another wrapper, or
    none, is read as what it is. The position is never inside a line the runtime split: a read
    that ends with its last part still to come (CRI `P`, a json-file part without its `\n`)
    stops before its first part, and the next call, or the next run, reads the parts again with
    the rest of it, each line once. Lines of the other stream written between the parts wait
    with them. At the end of a rotated file, an unfinished split line is a line, as at the end
    of any input; parts that never end, LONGEST_LINE bytes on, are handed on as they are.

DIAGNOSTICS
    Never raises for a missing, unreadable or vanished file: `notes` says what happened, and
    `failed` is set when the log could not be read at all. A path that names no regular file
    cannot be read (a directory; a FIFO, which has no offset to follow it by, is opened without
    waiting for a writer and refused). A rotated file that cannot be found is a note naming the
    bytes that could not be read.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import time
from typing import Callable, Generator, Iterator, List, NamedTuple, Optional, Set, Tuple

from maillog_sasl.sources import (
    PLAIN,
    READ_ERRORS,
    LineSplitter,
    Unwrapper,
    is_compressed,
    opener_of,
    text_decoder,
    utf16_of,
)

BLOCK_SIZE = 1 << 17
# The first line is hashed up to this many bytes. The parts of a line a container runtime split
# are handed on as they are when they run LONGEST_LINE bytes without their end (a line itself
# is cut as the reports cut it, at sources.MAX_LINE characters).
HEAD_LIMIT = 1 << 16
LONGEST_LINE = 1 << 20
# A rotated file may still be written to until its writer reopens the path: it is read while
# the new file is empty, then until it has been quiet for one call, or for this many seconds
# after the new file was first seen written to: far longer than a syslog daemon takes to reopen
# its files, short enough that alerts on the new file's lines are not held back for long.
ROTATION_GRACE = 60.0


# Why a path that is not a regular file is not read: a log is followed by its offset.
_NOT_FOLLOWED = {
    stat.S_IFDIR: "Is a directory",
    stat.S_IFIFO: "a FIFO has no offset to read a log on from (give watch the file the log is "
                  "written to)",
    0: "not a regular file: a log is read on from its offset (give watch the file the log is "
       "written to)",
}


class Position(NamedTuple):
    device: int
    inode: int
    offset: int  # never inside a line a container runtime split (see the module docstring)
    head: Optional[str]  # hash of the first line; None when no line was complete yet


class Found(NamedTuple):
    at: int  # its index in listing
    name: str
    listing: List[str]  # rotated_files() when it was found


class Chunk(NamedTuple):
    name: str  # the file the lines come from
    lines: List[str]
    new_file: bool  # the first lines read of that file (another input begins)
    cut: int = 0  # how many of the lines were cut at sources.MAX_LINE (the reports' lines_cut)


def _hash(data: bytes) -> str:
    # hashlib loads OpenSSL: imported when a watch runs, not by every report.
    import hashlib
    return hashlib.sha256(data).hexdigest()[:32]


def head_of(data: bytes) -> Optional[str]:
    """The hash of the first line in `data` (a file's first bytes), None if it is not complete."""
    end = data.find(b"\n", 0, HEAD_LIMIT)
    if end < 0:
        return _hash(data[:HEAD_LIMIT]) if len(data) >= HEAD_LIMIT else None
    return _hash(data[:end])


class _Reader:
    """A file's lines from a line's start on, as the reports read them: one incremental UTF-8
    decoder and one sources.LineSplitter (the same line ends, NUL bytes and cut at MAX_LINE), and
    `end`, the byte after the last line end fed: where the lines it gave end. An unfinished line
    is held as the splitter holds it, at most MAX_LINE characters however long it runs: a
    reader's position (the caller's offset, `end`) is never inside a line, so that a run
    stopped in the middle of one reads it again, whole, and cuts it as the reports do.

    A file that starts with UTF-16's byte order mark (`utf16`, sources.utf16_of() of its first
    bytes) is UTF-16 from any line's start, and its lines end after a two-byte LF or CR at an
    even offset: read from its middle as UTF-8, a character beyond ASCII was U+FFFD."""

    __slots__ = ("_decoder", "_splitter", "fed", "end", "counted", "_units", "_odd")

    def __init__(self, start: int, after_cr: bool, utf16: Optional[str] = None):
        self._decoder = text_decoder(start == 0, utf16)
        # The line ends of a UTF-16 file, and the byte fed last when `fed` is odd (its first
        # half of a character).
        self._units = (("\n".encode(utf16), "\r".encode(utf16)) if utf16 else ())
        self._odd = b""
        # A CR ends its line at once, wherever it falls: the LF that may follow it (a CRLF
        # written by halves, or read between them) is skipped when it comes, also by a reader
        # started after it (`after_cr`: the byte before `start`), and the lines are the reports'.
        # Waiting for the byte after a CR instead left a log's last line unread for as long as
        # nothing more was written: an exported log (old Mac tools end lines in a bare CR;
        # Postfix and the syslog daemons write LF) never grows, and `watch --once` would never
        # read it, nor following watch until the log was written to again.
        self._splitter = LineSplitter(after_cr)
        self.fed = self.end = start
        self.counted = 0  # of the lines cut, those its caller handed on

    def feed(self, data: bytes) -> List[str]:
        """The lines `data` (the bytes after those fed) ends."""
        lines = self._splitter.split(self._decoder.decode(data))
        if self._units:
            self._end_units(data)
        else:
            last = max(data.rfind(b"\n"), data.rfind(b"\r"))
            if last >= 0:
                self.end = self.fed + last + 1
        self.fed += len(data)
        return lines

    def _end_units(self, data: bytes) -> None:
        """feed()'s `end` in a UTF-16 file: after its last LF or CR at an even offset."""
        held = self._odd + data
        base = self.fed - len(self._odd)  # even: the offset of held's first byte
        last = -1
        for unit in self._units:
            found = held.rfind(unit)
            while found > 0 and found % 2:  # a character's second byte and the next one's first
                found = held.rfind(unit, 0, found + 1)
            last = max(last, found)
        if last >= 0:
            self.end = base + last + 2
        self._odd = held[-1:] if len(held) % 2 else b""

    def finish(self) -> List[str]:
        """The unfinished line too, as at the end of an input: the file is read for good."""
        self.end = self.fed
        return self._splitter.end(self._decoder.decode(b"", final=True))

    @property
    def cut(self) -> int:
        """How many of the lines it gave were cut (the unfinished line is not one yet)."""
        return self._splitter.cut - self._splitter.cutting


def _ends_in_cr(data: bytes, utf16: Optional[str]) -> bool:
    """Whether bytes `data` end in a CR (in `utf16`, sources.utf16_of(), or UTF-8)."""
    return data.endswith("\r".encode(utf16) if utf16 else b"\r")


_COMPRESSION_SUFFIX = r"\.(?:gz|bz2|xz)"
_ROTATED = (r"(?:\.([0-9]{1,9})|-([0-9]{8}(?:[0-9]{2,6})?(?:[-.][0-9]+)?)|\.([0-9]{8}-[0-9]{6}))"
            r"(?:" + _COMPRESSION_SUFFIX + r")?\Z")
_COMPRESSED = re.compile(_COMPRESSION_SUFFIX + r"\Z")


def _blocks(read: Callable[[int, int], bytes], size: int) -> Iterator[bytes]:
    """The first `size` bytes of a file, block by block: read(count, start)."""
    start = 0
    while start < size:
        data = read(min(BLOCK_SIZE, size - start), start)
        if not data:
            return
        start += len(data)
        yield data


def _blocks_of(stream, size: int) -> Iterator[bytes]:
    """_blocks() of a (decompressed) stream, up to a read error: junk after a compressed
    file's streams, or the end of one still being written, ends it after the blocks before
    (read1: a decompressor's read() drops what it inflated in the call that fails)."""
    read_block = getattr(stream, "read1", stream.read)
    try:
        yield from _blocks(lambda count, _start: read_block(count), size)
    except READ_ERRORS:
        return


def _unwrapper_after(blocks: Iterator[bytes]) -> Unwrapper:
    """The Unwrapper of a file's lines after `blocks` (its bytes up to where it is read from):
    its wrapper, and whether the lines a wrapper holds name no host, decided by the first lines
    among `blocks` that tell (sources.Unwrapper), as the batch reports decide them for the
    file; what none tells, by the lines read after."""
    reader = _Reader(0, after_cr=False)
    before = Unwrapper()
    for block in blocks:
        before.lines(reader.feed(block))
        if before.decided():
            break
    else:
        before.lines(reader.finish())
    unwrapper = Unwrapper(before.kind)
    unwrapper.hostless = before.hostless
    return unwrapper


def rotated_files(path: str) -> List[str]:
    """PATH.1, PATH.2.gz, PATH-20260308, PATH-20260308.gz, PATH.20260308-101500 (kubelet's),
    ... beside PATH and, when PATH is a link, beside the file it links to (kubelet's
    /var/log/containers/*.log link to the files it rotates in /var/log/pods), oldest first (a
    higher number is older, an earlier date is older).

    A compressed file beside its plain one that starts with the same line (PATH.2.gz and
    PATH.2), or with no whole line yet, is left out: gzip writes it while the plain file is
    whole, and deletes that only when it is done (logrotate's compress); the plain one is read
    in its place. One that starts otherwise (a plain file left from `gunzip -k` rotations ago)
    is listed."""
    places = [path]
    if os.path.islink(path):
        places.append(os.path.realpath(path))
    found = set()
    for place in places:
        folder, base = os.path.split(place)
        pattern = re.compile(re.escape(base) + _ROTATED)
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        present = set(names)
        for name in names:
            match = pattern.match(name)
            plain = _COMPRESSED.sub("", name)
            if match is not None and (plain == name or plain not in present
                                      or not _same_head(os.path.join(folder, name),
                                                        os.path.join(folder, plain))):
                number, date, stamp = match.groups()
                key = (0, -int(number), "") if number is not None else (1, 0, date or stamp)
                found.add((key, os.path.join(folder, name)))
    return [name for _, name in sorted(found)]


def _same_head(packed: str, plain: str) -> bool:
    """Does the compressed file start as the plain one does, or have no whole line yet?"""
    head = Follower._head_of_file(packed)
    return head is None or head == Follower._head_of_file(plain)


def _stat(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except OSError:
        return None


def _mtime_of(path: str) -> Optional[float]:
    status = _stat(path)
    return status.st_mtime if status is not None else None


def _stream_of(path: str):
    """(the file's binary stream, decompressed if need be; the file's (device, inode))."""
    raw = open(path, "rb")
    status = os.fstat(raw.fileno())
    opener = opener_of(raw.read(8))
    raw.seek(0)
    return raw if opener is None else opener(raw), (status.st_dev, status.st_ino)


class _Replaced(Exception):
    """The file opened by its name is not the one looked at: rotated in between."""


def _describes(stored: Position, ident: Tuple[int, int], head: Optional[str]) -> bool:
    """Is the file of identity `ident` whose first line hashes to `head` the file `stored`
    describes: the same inode starting with the same line, or a compressed copy of it?"""
    if ident == stored[:2]:
        return stored.head is None or head == stored.head
    return stored.head is not None and head == stored.head


class Follower:
    """One log path; see the module docstring."""

    def __init__(self, path: str, position: Optional[Position] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.notes: List[str] = []
        self.failed = False
        self._stored = position
        self._started = False
        self._clock = clock
        # The file held open and read: its descriptor, identity, bytes read, first line's hash.
        self._fd: Optional[int] = None
        self._ident: Optional[Tuple[int, int]] = None
        self._offset = 0
        self._head: Optional[str] = None
        self._name = path
        self._unwrapper = Unwrapper()  # of the held file: no part of a split line waits in it
        # The held file's reader after the last read, when it ended with no line waiting (an
        # unfinished line in it is not read again at the next look).
        self._reader: Optional[_Reader] = None
        self._fresh = False  # nothing read yet of the held file: its first chunk is new_file
        self._rotated_at: Optional[float] = None  # when lines came to another file at the path
        # A file rotated away and left when it was quiet: its descriptor, the bytes read of it,
        # until when it is watched for lines that would not be read.
        self._left: Optional[Tuple[int, int, float]] = None
        # Where the file read before the held one was read to, while nothing is known of the
        # held one (no line yet): a position with no first line cannot tell the file truncated
        # (copytruncate) or made on the inode it freed, and would be read again from its start.
        self._before: Optional[Position] = None
        self._waiting_noted = False
        self._error = "No such file or directory"  # why the path could not be opened

    # -- what the caller reads ---------------------------------------------------------------

    @property
    def position(self) -> Optional[Position]:
        if self._ident is None:
            return self._stored
        if self._head is None and self._fd is not None:
            self._head = self._read_head(self._fd)
        if self._head is None and not self._offset and self._before is not None:
            return self._before
        return Position(self._ident[0], self._ident[1], self._offset, self._head)

    def read(self) -> Iterator[Chunk]:
        """The complete lines there are now; see the module docstring."""
        if not self._started:
            self._started = True
            yield from self._catch_up()
        else:
            yield from self._follow()

    def close(self) -> None:
        self._release()
        self._watch_left(None)

    def _release(self) -> None:
        """Close the held file."""
        self._reader = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- the first read: where the last run stopped ------------------------------------------

    def _catch_up(self) -> Iterator[Chunk]:
        # logrotate may rename the log between the look that chose a file and its opening by
        # name: the file then opened is another, which must not be read from the offset of
        # the one chosen. It is checked before anything is read (_Replaced), and the files
        # are looked at again; the last time as they are (a rotation per look cannot last).
        for check in (True, True, False):
            try:
                yield from self._resume(check)
                return
            except _Replaced:
                continue

    def _resume(self, check: bool) -> Iterator[Chunk]:
        stored, path = self._stored, self.path
        status = _stat(path)
        if stored is None:
            if status is None or not self._hold(path, 0):
                self._missing(fatal=True)
                return
            yield from self._read_held()
            return
        if status is not None and (status.st_dev, status.st_ino) == stored[:2]:
            if status.st_size < stored.offset or (stored.head is not None
                                                  and self._head_of_file(path) != stored.head):
                # Truncated in place: the lines after the offset went to its copy. Or a new log
                # on the inode the old one freed, still empty: see below.
                if (yield from self._read_copy(stored, check, hold_newest=not status.st_size)):
                    return
                offset = 0
            else:
                offset = stored.offset
            if not self._hold(path, offset, stored if check and offset else None):
                self._missing(fatal=True)
                return
            self._fresh = offset == 0
            yield from self._read_held()
            return
        found = self._find(stored)
        if found is None:
            self._lost(stored, "was rotated since it was last read, and the file read then is "
                               "not among its rotated files")
        else:
            # The log is gone, or the file made in its place is still empty: its writer may not
            # have reopened the path yet (logrotate's postrotate HUP) and write on to the newest
            # rotated file, which is then followed, not read to its end and left (whether it
            # is the file read last run or one rotated after it).
            held = yield from self._read_on(found, stored.offset, stored if check else None,
                                            hold_newest=status is None or not status.st_size)
            if held:
                if status is None:
                    self.notes.append(f"{path}: missing; reading {self._name}, the file it was")
                return
        if status is None or not self._hold(path, 0):
            self._missing(fatal=found is None)
            return
        yield from self._read_held()

    def _find(self, stored: Position) -> Optional[Found]:
        """The file `stored` describes among rotated_files() as they are now, or None."""
        candidates = rotated_files(self.path)
        for index, name in enumerate(candidates):
            status = _stat(name)
            if status is not None and (status.st_dev, status.st_ino) == stored[:2]:
                if _describes(stored, stored[:2], self._head_of_file(name)):
                    return Found(index, name, candidates)
        if stored.head is not None:
            for index, name in reversed(list(enumerate(candidates))):
                if self._head_of_file(name) == stored.head:
                    return Found(index, name, candidates)
        return None

    def _read_copy(self, stored: Position, check: bool = True,
                   hold_newest: bool = False) -> Generator[Chunk, None, bool]:
        """The rest of a file truncated in place, from its copy (found by its first line).

        At the first read, the same inode with another first line is also a new log on the
        inode the old one freed: rotated, then compressed (its plain file deleted) by a later
        rotation, all since the last run. The files rotated after the one found are read too,
        as after any rotation: after one copytruncate there are none, after two (since the
        last run, or within a look) the later copy. _Replaced when the copy found was
        rotated on before it was opened (with `check`); `hold_newest` as _read_on()'s."""
        copy = Position(-1, -1, stored.offset, stored.head)
        found = self._find(copy)
        if found is None:
            self._lost(stored, "was truncated or replaced since it was last read, and its "
                               "copy is not among its rotated files")
            return False
        return (yield from self._read_on(found, stored.offset, copy if check else None,
                                         hold_newest))

    def _read_on(self, found: Found, offset: int, expected: Optional[Position] = None,
                 hold_newest: bool = False) -> Generator[Chunk, None, bool]:
        """The file `found` from `offset` (_Replaced, with `expected`, when another file came
        under its name since it was found), then, whole, every file rotated after it
        (_read_rotated_after()). With `hold_newest`, the last of them, when it is the newest
        rotated file and plain, is held and read as far as its lines are complete: True."""
        if hold_newest and self._hold_newest(found, offset, expected, fresh=False):
            yield from self._read_held()
            return True
        yield from self._read_whole(found.name, offset, new_file=False, expected=expected)
        return (yield from self._read_rotated_after(hold_newest, found))

    def _hold_newest(self, found: Found, offset: int, expected: Optional[Position],
                     fresh: bool) -> bool:
        """Hold `found` from `offset` if it is the newest rotated file, and plain."""
        if found.at != len(found.listing) - 1 or is_compressed(self._peek(found.name)):
            return False
        if not self._hold(found.name, offset, expected):
            return False
        self._fresh = fresh
        return True

    def _read_rotated_after(self, hold_newest: bool = False,
                            found: Optional[Found] = None) -> Generator[Chunk, None, bool]:
        """The files rotated after the one just read to its end, whole, oldest first (the log
        was rotated again since: logrotate run twice, a paused follower): each looked for
        after the one before it was read, by identity, among the files as they are then
        (logrotate renames them as it works, and deletes the oldest), and checked as it is
        opened; only those written since it (rotated_files() puts names of one scheme before
        another's: a dated file left from before `dateext` was turned off is not newer than
        maillog.1), and not a compressed copy of it (logrotate's compress at work: maillog.1
        and maillog.1.gz both there). A file read that is gone (the oldest, deleted) is taken
        where it was last found (`found`, the one just read). `hold_newest`: as _read_on()'s."""
        # (name, identity) of the files that could not be opened: not tried again.
        unread: Set[Tuple[str, Tuple[int, int]]] = set()
        while self._ident is not None:
            read = Position(self._ident[0], self._ident[1], self._offset, self._head)
            found = self._find(read) or found
            if found is None:
                return False
            after = self._next_rotated(found, read.head, unread)
            if after is None:
                return False
            status = _stat(after.name)
            if status is None:
                continue  # gone since it was listed: looked for again
            expected = Position(status.st_dev, status.st_ino, 0, None)
            try:
                if hold_newest and self._hold_newest(after, 0, expected, fresh=True):
                    yield from self._read_held()
                    return True
                if (yield from self._read_whole(after.name, 0, True, expected)):
                    found = after
                else:
                    unread.add((after.name, expected[:2]))
            except _Replaced:
                continue  # renamed since it was listed: looked for again
        return False

    def _next_rotated(self, found: Found, head: Optional[str],
                      unread: Set[Tuple[str, Tuple[int, int]]]) -> Optional[Found]:
        """The first file of found.listing after `found` written since it, that is no copy of
        it (its first line `head`) and was not `unread`."""
        since = _mtime_of(found.name)
        for index in range(found.at + 1, len(found.listing)):
            name = found.listing[index]
            status = _stat(name)
            if (status is not None and (name, (status.st_dev, status.st_ino)) not in unread
                    and (since is None or status.st_mtime >= since)
                    and self._head_of_file(name) != head):
                return Found(index, name, found.listing)
        return None

    def _lost(self, stored: Position, what: str) -> None:
        self.notes.append(f"{self.path}: {what} (looked for {self.path}.1, .1.gz, "
                          f"-YYYYMMDD[.gz] ...): lines written to it after byte {stored.offset} "
                          "were not read")

    def _missing(self, fatal: bool) -> None:
        """The path cannot be read now; `fatal`: nothing of the log could be read."""
        if not self._waiting_noted:
            self.notes.append(f"{self.path}: cannot read: {self._error}")
            self._waiting_noted = True
        self.failed = self.failed or fatal

    # -- later reads: following ----------------------------------------------------------------

    def _follow(self) -> Iterator[Chunk]:
        self._look_at_left()
        if self._fd is None:
            # Waiting for the path to appear (or to come back after a rotation).
            status = _stat(self.path)
            if status is None:
                return
            same = (status.st_dev, status.st_ino) == self._ident
            offset = self._offset if same else 0
            try:
                held = self._hold(self.path, offset, self.position if offset else None)
            except _Replaced:  # another file came under the name since the look: a new one
                same, held = False, self._hold(self.path, 0)
            if held:
                self._fresh = not same
                self._waiting_noted = False
                yield from self._read_held()
            return
        status = _stat(self.path)
        if status is not None and (status.st_dev, status.st_ino) == self._ident:
            self._rotated_at = None
            # Looked at before reading on, as _catch_up() does: a file truncated in place and
            # written past the offset again since the last look would otherwise be read from
            # the offset, inside its new lines, and the copy from the offset thus moved.
            if status.st_size < self._offset or (self._head is not None
                                                 and self._read_head(self._fd) != self._head):
                # Truncated in place (copytruncate): what came after the offset is in the copy.
                stored = Position(self._ident[0], self._ident[1], self._offset, self._head)
                try:
                    yield from self._read_copy(stored)
                except _Replaced:
                    return  # its copy rotated on as it was opened: looked for again
                if self._hold(self.path, 0):
                    yield from self._read_held()
                return
            yield from self._read_held()
            return
        got = False
        for chunk in self._read_held():
            got = True
            yield chunk
        if status is None:
            return  # gone for now: the file held may still be written to; wait for the path
        # Another file at the path (logrotate's `create`, or deleted and made again): the one
        # held was rotated away, but its writer goes on writing to it until it reopens the path
        # (the syslog daemon at logrotate's postrotate HUP, late on a loaded machine). While the
        # new file is empty nothing waits in it: the held one is read on, however long that is.
        # Once the new one has been written to, the held one is read until it has been quiet for
        # a whole look after the one that saw that, or, written to all along, for ROTATION_GRACE
        # seconds: a writer that never lets go of it must not hold the new file's lines back
        # for ever (what it leaves unread is said).
        if status.st_size == 0:
            return
        now = self._clock()
        if self._rotated_at is None:
            self._rotated_at = now
            return
        if not got:
            yield from self._read_held(final=True)
            # Watched, not read, for a while: a second writer may still write to it (said).
            self._watch_left((self._fd, self._offset, now + ROTATION_GRACE))
            self._fd = None
        elif now - self._rotated_at < ROTATION_GRACE:
            return
        else:
            self._left_written()
        self._rotated_at = None
        yield from self._read_rotated_after()
        if self._hold(self.path, 0):
            yield from self._read_held()
        else:
            self._missing(fatal=False)

    def _watch_left(self, left: Optional[Tuple[int, int, float]]) -> None:
        if self._left is not None:
            os.close(self._left[0])
        self._left = left

    def _look_at_left(self) -> None:
        """Say if the file left when it was quiet has been written to since, once; it is no
        longer watched then, nor ROTATION_GRACE seconds after it was left."""
        if self._left is None:
            return
        fd, offset, until = self._left
        try:
            status: Optional[os.stat_result] = os.fstat(fd)
        except OSError:
            status = None
        if status is not None and status.st_size > offset:
            found = self._find(Position(status.st_dev, status.st_ino, offset, None))
            name = found.name if found is not None else "the file rotated away from it"
            self.notes.append(f"{self.path}: {name}, left for the new {self.path} when it was "
                              f"quiet for a look, was written to again: what was written to it "
                              f"after byte {offset} is not read")
        elif self._clock() < until:
            return
        self._watch_left(None)

    def _left_written(self) -> None:
        """Say that the held file, rotated away and still written to, is left for the path."""
        assert self._ident is not None  # a file is held
        found = self._find(Position(self._ident[0], self._ident[1], self._offset, self._head))
        name = found.name if found is not None else "the file rotated away from it"
        self.notes.append(f"{self.path}: {name} is still written to {ROTATION_GRACE:g} s after "
                          f"lines came to the new {self.path}: reading that from now on; what "
                          f"is written to {name} after byte {self._offset} is not read")

    # -- reading files -------------------------------------------------------------------------

    def _hold(self, name: str, offset: int, expected: Optional[Position] = None) -> bool:
        """Open `name` and read it from `offset` from now on; False if it cannot be opened.
        With `expected`, the file looked at before: _Replaced when the file opened is not that
        one (gone, or another file under its name), nothing held."""
        try:
            # O_NONBLOCK: opening a FIFO would wait for a writer. It does not change the reads
            # of a regular file, the only kind held.
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            if expected is not None and isinstance(error, FileNotFoundError):
                raise _Replaced from error
            self._error = error.strerror or str(error)
            return False
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            self._error = _NOT_FOLLOWED.get(stat.S_IFMT(status.st_mode), _NOT_FOLLOWED[0])
            return False
        ident, head = (status.st_dev, status.st_ino), self._read_head(fd)
        if expected is not None and not _describes(expected, ident, head):
            os.close(fd)
            raise _Replaced
        self._before = self.position if not offset and self._ident is not None else None
        self._release()
        self._fd, self._ident, self._name = fd, ident, name
        self._offset, self._fresh = offset, True
        self._head = head
        try:
            self._unwrapper = _unwrapper_after(
                _blocks(lambda count, start: os.pread(fd, count, start), offset))
        except OSError:
            self._unwrapper = Unwrapper()  # the reads after it say why
        return True

    @staticmethod
    def _read_head(fd: int) -> Optional[str]:
        try:
            return head_of(os.pread(fd, HEAD_LIMIT, 0))
        except OSError:
            return None

    def _read_held(self, final: bool = False) -> Iterator[Chunk]:
        """The complete lines of the held file after the offset (with `final`, the last
        unfinished one too: the file is left for good)."""
        fd = self._fd
        if fd is None:
            return
        # The reader of the last call goes on with the unfinished line it holds: a line that
        # runs on for megabytes is read once, not again at each look.
        reader, self._reader = self._reader, None
        if reader is None or reader.end != self._offset:
            utf16 = self._utf16_of(fd)
            if utf16 and self._offset % 2:
                # A UTF-16 file's position that an older version kept: after the first byte of
                # a little-endian line end.
                self._offset += 1
            reader = _Reader(self._offset, self._after_cr(fd, self._offset, utf16), utf16)
        waiting: List[str] = []  # read, not handed on: a split line's parts and what follows
        while True:
            try:
                data = os.pread(fd, BLOCK_SIZE, reader.fed)
            except OSError as error:
                self.notes.append(f"{self._name}: read failed: {error.strerror or error}")
                return
            if not data:
                break
            waiting += reader.feed(data)
            if not waiting:
                self._offset = reader.end  # past line ends that end no line (a CRLF's LF)
                continue
            lines, used = self._unwrapped(waiting, reader.end - self._offset)
            if used == len(waiting):
                self._offset, cut = reader.end, reader.cut - reader.counted
            else:
                end = self._lines_end(fd, self._offset, used) if used else None
                if end is None:
                    continue
                self._offset, cut = end
            reader.counted += cut
            waiting = waiting[used:]
            if self._head is None:
                self._head = self._read_head(fd)
            if lines or cut:
                yield self._chunk(lines, cut)
        if final:
            unwrapper = self._unwrapper
            lines = unwrapper.lines(waiting + reader.finish()) + unwrapper.end()
            self._offset, cut = reader.end, reader.cut - reader.counted
            if lines or cut:
                yield self._chunk(lines, cut)
        elif not waiting:
            self._reader = reader

    @staticmethod
    def _utf16_of(fd: int) -> Optional[str]:
        try:
            return utf16_of(os.pread(fd, 2, 0))
        except OSError:
            return None  # the reads after it say why

    @staticmethod
    def _after_cr(fd: int, offset: int, utf16: Optional[str] = None) -> bool:
        """Is the character before `offset` a CR (an LF at `offset` is its CRLF's)?"""
        size = min(offset, 2)
        try:
            return _ends_in_cr(os.pread(fd, size, offset - size), utf16)
        except OSError:
            return False  # the reads after it say why

    def _unwrapped(self, lines: List[str], size: int) -> Tuple[List[str], int]:
        """The lines `lines` (read from the offset, `size` bytes) holds, and how many of them
        they take: in a container runtime's wrapper, up to the last line that leaves no split
        line unfinished (Unwrapper.whole), so that the position is never inside one: its parts
        are read again with the rest of it. Parts that never end, LONGEST_LINE bytes on, are
        handed on as they are, as a line that long is."""
        unwrapper = self._unwrapper
        if unwrapper.kind == PLAIN:
            return lines, len(lines)
        inner, used = unwrapper.whole(lines)
        if used == len(lines) or size < LONGEST_LINE:
            return inner, used
        return inner + unwrapper.lines(lines[used:]) + unwrapper.end(), len(lines)

    def _lines_end(self, fd: int, offset: int, count: int) -> Optional[Tuple[int, int]]:
        """Where the first `count` lines after `offset` end, and how many of them were cut:
        read again a line end at a time (rare: a read that ends inside a split line). None
        when they cannot be read again: they wait with the rest."""
        utf16 = self._utf16_of(fd)
        reader = _Reader(offset, self._after_cr(fd, offset, utf16), utf16)
        read = 0
        while True:
            try:
                data = os.pread(fd, BLOCK_SIZE, reader.fed)
            except OSError:
                return None
            if not data:
                return None
            for piece in data.splitlines(True):
                read += len(reader.feed(piece))
                if read == count:
                    return reader.end, reader.cut

    def _chunk(self, lines: List[str], cut: int) -> Chunk:
        chunk = Chunk(self._name, lines, self._fresh, cut)
        self._fresh = False
        return chunk

    def _read_whole(self, name: str, offset: int, new_file: bool,
                    expected: Optional[Position] = None) -> Generator[Chunk, None, bool]:
        """A rotated file (plain or compressed) from byte `offset` of its content to its end;
        with `expected`, _Replaced (nothing read) when the file opened is not that one. False
        when it cannot be opened (a note)."""
        try:
            stream, ident = _stream_of(name)
        except OSError as error:
            if expected is not None and isinstance(error, FileNotFoundError):
                raise _Replaced from error
            self.notes.append(f"{name}: cannot read: {error.strerror or error}")
            return False
        fresh = new_file
        skip = offset
        reader = _Reader(offset, after_cr=False)
        unwrapper = self._unwrapper_of_file(name, offset)
        # read1: a decompressor's read() drops what it inflated in the call that failed.
        read_block = getattr(stream, "read1", stream.read)
        start = b""  # its first bytes: its first line's hash, of the file opened, not named
        try:
            with stream:
                first = []
                while len(start) < HEAD_LIMIT and b"\n" not in start:
                    data = read_block(BLOCK_SIZE)
                    if not data:
                        break
                    first.append(data)
                    start += data
                if expected is not None and not _describes(expected, ident, head_of(start)):
                    raise _Replaced
                utf16 = utf16_of(start)
                if not skip:
                    reader = _Reader(0, after_cr=False, utf16=utf16)
                elif utf16 and skip % 2:  # as in _read_held()
                    skip += 1
                    offset = skip
                before = b""  # the bytes before the offset, up to its block's
                for data in itertools.chain(first, iter(lambda: read_block(BLOCK_SIZE), b"")):
                    if skip:
                        if skip <= len(data):  # the byte before the offset is in this block
                            before += data[:skip]
                            reader = _Reader(offset, _ends_in_cr(before, utf16), utf16)
                        else:
                            before = data[-1:]
                        data, skip = data[skip:], max(skip - len(data), 0)
                    lines = unwrapper.lines(reader.feed(data))
                    if lines or reader.cut > reader.counted:
                        yield Chunk(name, lines, fresh, reader.cut - reader.counted)
                        fresh, reader.counted = False, reader.cut
        except READ_ERRORS as error:
            self.notes.append(f"{name}: read failed part way: {error}")
        # A split line left unfinished at the file's end is a line, as in the batch reports.
        lines = unwrapper.lines(reader.finish()) + unwrapper.end()
        if lines or reader.cut > reader.counted:
            yield Chunk(name, lines, fresh, reader.cut - reader.counted)
        # Read to its end: were nothing read after it, the next run goes on from here.
        self._release()
        self._ident, self._offset = ident, reader.fed
        self._head, self._name = head_of(start), name
        return True

    @staticmethod
    def _peek(name: str) -> bytes:
        try:
            with open(name, "rb") as handle:
                return handle.read(8)
        except OSError:
            return b""

    @staticmethod
    def _unwrapper_of_file(name: str, offset: int) -> Unwrapper:
        """_unwrapper_after() of the file `name` (plain or compressed) read from `offset`."""
        if not offset:
            return Unwrapper()
        try:
            stream, _ = _stream_of(name)
            with stream:
                return _unwrapper_after(_blocks_of(stream, offset))
        except READ_ERRORS:
            return Unwrapper()

    @staticmethod
    def _head_of_file(name: str) -> Optional[str]:
        try:
            stream, _ = _stream_of(name)
            with stream:
                return head_of(b"".join(_blocks_of(stream, HEAD_LIMIT)))
        except READ_ERRORS:
            return None
