"""parallel: correlate the logs on several cores, the same objects in the same order as one.

SUMMARY
    correlate_parallel(sources, jobs, year=None, zone=None, stats=None, on_batch=None,
                       problems=None, chunk_size=CHUNK_SIZE, executor=None, notes=None)
        -> iterator of Session | Message
    usable_cores() -> the number of cores this process may run on
    WorkerError        a worker process died or failed; str() is one line

DESCRIPTION
    A plain regular file is cut into chunks of about `chunk_size` bytes, each starting at a
    line; a compressed file, a small one, one with bare CR line ends or with every line twice
    (or more times: correlate.copies_of()),
    and one whose first block holds no plain syslog line (a container runtime's wrapper,
    sources.Unwrapper) is one chunk. Pipes, FIFOs and standard input are read here, in this
    process, in their turn.
    Worker processes (forked: they inherit the open inputs; or a cluster's, given as an
    executor by cluster.py, which open each input by its path; either opens a URL's object by
    its URL, sources.py) each correlate one chunk at a time (chunk.py) and hand back a
    Piece; this process takes the pieces in order while the workers read the next ones, and
    hands on what correlate.correlate() would, in its order. With --jobs 2 (forked), this
    process is one of the two: one worker, and this process reads about half the byte ranges
    itself (the first two while the worker reads the third, then every other one, not the
    last: HEAD_START), in their turn, as one process reads them, and applies the worker's
    pieces of the others; more jobs are as many workers, this process merging.

    A piece is pickled in parts (Packed): the rest of it, then its events in batches of
    BATCH_EVENTS, which this process unpickles one at a time, handing on what each finished
    before the next, then what is open at the chunk's end (its sessions, pending connections
    and messages), which this process merges once the events are applied: unpickled first, it
    was held beside the objects the events finish (during an incident's burst, hundreds of
    messages of many recipients: 2.7 MB of --jobs 2's peak on the 10x submission benchmark
    log). A Session or Message that more than one part names (a message and its session, or
    the message it is a notice of) is numbered, pickled whole once, and is one object here as
    in the worker. A forked worker writes the parts into a spool file (an
    unlinked temporary file, one per chunk in flight, taken in turn), which this process reads
    a part at a time; a cluster's worker, or one that cannot write its spool, hands them back
    through the executor.

    A worker holds only the sessions and messages born in its chunk (a connect, a tracked
    client=, a bounce notice). A line about any other key is handed back raw, in its place, for
    this process to apply to the sessions and messages it carries from the chunks before; a
    birth on a key is marked in its place, so that whatever was still open here on that key is
    closed there, as lost or incomplete. The retries of a message held there (qmgr's `(queue
    active)` once its size is known, delivery attempts: most lines about such keys, a deferred
    message being retried for days) are not handed back one by one but folded (Folded): per
    recipient, the number of attempts, the last status and line, the first deferral; the fold
    goes into the stream before any other line or birth of its key. The piece is the stream of
    the chunk's events in order (finished objects, handed-back lines, folds, births, slot
    changes of its hosts, the stamps of its own lines that give no time, whose last is told),
    what is still open at its end (with where in that stream each was
    opened, so that the open sessions and messages stay in the order correlate() keeps them,
    which is the order of finish()), its Stats, and the queue IDs it saw born untracked.

    What a worker cannot know from its chunk alone is checked here when its piece arrives, and
    the chunk is then read again here, in order, when the check fails:
      - the clock: a worker's Clock starts from a guess (the year of the chunk's first stamp,
        from the first stamps of the chunks before); the piece is used only when the true clock
        agrees on the year, no month of the chunk (and of the one before) is more than six from
        another (no New Year, no straggler), and no stamp fell in a repeated hour (DST);
      - a line that would touch both a key of the worker and one held here (a re-injection
        whose original came before the chunk, a reused queue ID of a message open here, a
        proxy-accept naming the queue ID of a message on the other side);
      - a queue ID the worker saw born untracked while a message of that ID may be open here
        (not when the worker saw it born, or its removal handed back, before);
      - a delivery or notice line handed back among the chunk's first LATE_LINES lines whose
        message, removed before the chunk, is held here for its late lines
        (correlate.LATE_LINES): whether it is one depends on where it came, which only a read
        here tells. A message the worker removed near its chunk's end is held here (Piece.late)
        from its place in the stream, what came after it handed on after it; a removal the
        worker handed back, and the lines of that queue ID after it, come with their place in
        the chunk (chunk.Placed).
    Real logs fail these checks about once a month of log and once per DST change (none of the
    36 and 26 chunks of the two benchmark logs); small chunks (the tests) fail them more
    often, and are then simply read here.

    Cost: a worker correlates its chunk at about 1.15x the cost of one process (the marks, the
    folds; it notes where it opened each key at the three places it opens one, not on every
    insert), then pickles what it finished (Session, Message and Recipient as tuples of their
    fields: a piece of the submission benchmark log is some 17,000 of them with 220,000 fields;
    its times, shared between fields and pickled once a part, are a quarter of that cost: 5,200
    instructions to pickle a datetime, 1,800 to unpickle it) for this process to unpickle and
    apply: a piece costs its worker 1.0-1.6 times, and this process 0.1-0.4 times, what
    reading the chunk here costs (HEAD_START's comment). So with --jobs 2 this process reads
    about half the chunks itself (HEAD_START) and one worker the rest: on sub300k.log (6
    chunks, 3 read here), 9,490 M instructions in all (this process 5,129 M, the worker
    4,361 M) against 7,275 M for one process; before, 2 workers and this process took
    13,066 M against 8,613 M; on mx300k.log (5 chunks, 3 read here) 5,724 M (3,470 M and
    2,254 M) against 4,832 M. Two processes on 2 cores, not three. Where the cores are busy,
    as slow as that CPU time (benchmarks/README.md).
    What is left of a piece's cost is pickle's, field by field: times sent as seconds (a float
    each, rebuilt by datetime.fromtimestamp, 2,900 instructions) cut the worker's pickling by
    5.5% and added 35% to this process's unpickling, whose CPU counts about twice the worker's
    for --jobs 2; a Message's recipients sent in a list of their fields, 7% and +3%; batches of
    2,000 events, 1% each; the objects rewritten into plain tuples (compiled) for marshal, +15%
    and +52%: pickle's C loop is not what costs, the objects are.

    Memory, on the submission benchmark log: this process peaks at 56-58 MB (one process at
    53), the worker at 41 MB (on the mx one 43-44 and 26 MB). Unpickled whole, a piece held some
    12 MB of objects in this process until they were all handed on, often beside the next one,
    and the bytes of the pieces received (4.5 MB each, received and then copied out of the pipe
    by the pool's thread) kept twice that in its malloc arena: this process peaked at 74-87 MB.

    A worker that opens its input by path or URL checks that it is the one opened here (Job.seen:
    the size, the first 4 KB); when it is not (rotated, replaced) or cannot be opened, the
    chunk comes back unread and is read here, through the file opened here, with one note.

DIAGNOSTICS
    WorkerError when a worker process dies (killed, out of memory) or raises: one line, for the
    command to print, ending `try --jobs 1` (or, on an executor's workers, `try without
    --dask`). Inputs that fail to read are a sources.Problem, as with correlate(); an input a
    worker found changed is a note (correlate_parallel's `notes`).
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import copyreg
import ctypes
import datetime as _dt
import io
import itertools
import os
import pickle
import signal
import tempfile
import zlib
from typing import (
    AbstractSet,
    Dict,
    Generator,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Tuple,
)

from maillog_sasl.chunk import (
    COPY_ACROSS,
    ChunkClock,
    ChunkCorrelator,
    ClockWatch,
    Cursor,
    Piece,
    apply_batch,
)
from maillog_sasl.correlate import (
    COPY_WITHIN,
    Correlator,
    copies_of,
    correlate,
    counted_before,
    same_ids,
    source_clock,
    source_read,
)
from maillog_sasl.forked import Pool, WorkerDied
from maillog_sasl.model import STATS_FIELDS, Finished, Message, Session, Stats
from maillog_sasl.sources import (
    BLOCK_SIZE,
    PLAIN,
    LineSplitter,
    Problem,
    Shrank,
    decoded_start,
    error_reason,
    is_compressed,
    one_line,
    open_path,
    text_decoder,
    utf16_of,
    wrapper_of,
)
from maillog_sasl.syslog import REPEATED, fixed_zone, split_line

# A chunk's piece (its finished objects) is held whole in the worker, and waits its turn in a
# spool file. On the submission benchmark, --jobs 2, 8 MB chunks keep a worker at 41 MB and
# this process at 58 MB; 4 MB chunks cost 5-8% more wall time (more messages open across two
# chunks, whose retries are folded, more lines handed back; 4.5% in the twentieth round, and
# 16 MB 3% less, with this process at 59.5 MB: benchmarks/README.md).
CHUNK_SIZE = 8 << 20
# A piece's events are pickled in batches of this many, which this process unpickles one at a
# time, handing on what each finished before the next.
BATCH_EVENTS = 500
# With --jobs 2, a worker and this process: a worker's piece costs the worker 1.0-1.6 times the
# chunk's correlation here (the marks and folds, pickling) and this process 0.1-0.4 times
# (unpickling and applying; 1.0 and 0.1 on the mx benchmark log, 1.4 and 0.36 on the
# submission one, CPU time of every range read each way; 1.6 on sub300k in instructions in
# the eighteenth round, once the compiled build had made reading here cheaper). This process
# reads the first HEAD_START byte ranges itself while the worker reads the next (it starts a
# range behind, and is slower at it), then every other one, and leaves the last to the worker
# (its tail is then applying a piece, not reading a range). Simulated on two idle cores from
# those costs, after start-up: 3.75 -> 3.35 s on the submission log, 1.72 -> 1.62 s on the mx
# one (HERE_SHARE 0.45 before, every other range or so from the first: the worker was the
# bottleneck and this process waited for its pieces 0.5 s), each within 1.5% of the best split
# found by search; from the costs of loaded runs (this process's ranges 6-11% dearer beside
# the worker), 4.08 -> 3.94 s and 1.78 -> 1.63 s.
HEAD_START = 2
# How far past a chunk's nominal start its first line (and its stamp) is looked for.
LOOK_AHEAD = 1 << 14


# glibc's malloc keeps the heap that freed blocks leave, up to twice the largest block freed so
# far (its trim threshold grows with each large free): the parts of the pieces this process
# reads (hundreds of KB each) raised it until the process held some 2 MB it no longer used
# (--jobs 2 on the submission benchmark: 59,300 KB peak, 57,100 KB with the threshold fixed at
# 64 KB, the same time). Fixed for this process, and the workers it forks, by mallopt(); where
# the C library is not glibc, nothing changes. (Fixing it fixes the mmap threshold at 128 KB
# too: twice the minor page faults, 70,000 against 32,000, with no wall time told apart in the
# fifteenth round's alternated runs; benchmarks/README.md.)
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
TRIM_THRESHOLD = 64 << 10


def _return_freed_heap() -> None:
    try:
        ctypes.CDLL(None).mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):  # no C library to load, or one without mallopt
        pass


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class WorkerError(Exception):
    """A worker process died or failed; str() is one line."""


class _Placed(dict):
    """A dict that notes where in a piece's stream of events each key was put in (`placed`),
    `cursor` telling that place: this process's sessions, pending connects and messages, put
    in by the few lines handed back (a worker notes the places of its own where it opens them:
    a Python __setitem__ on every insert cost it 4% of its time)."""

    def __init__(self, cursor: Cursor) -> None:
        super().__init__()
        self.cursor = cursor
        self.placed: Dict[object, int] = {}

    def __setitem__(self, key, value):
        if key not in self:
            self.placed[key] = self.cursor.index
        dict.__setitem__(self, key, value)


class Job(NamedTuple):
    source: int  # index in the sources the workers inherited
    start: Optional[int]  # byte range; None: the whole input, read as correlate() reads it
    end: Optional[int]
    clock: ChunkClock
    # Set for an executor's workers that inherit no descriptor (another machine's: cluster.py),
    # and for a URL: the absolute path or the URL the worker opens the input by, and what this
    # process saw of it (_fingerprint), which the worker checks it opened.
    path: Optional[str] = None
    seen: Optional[tuple] = None
    # A forked worker's: the index in _SPOOLS of the file it writes the piece into.
    spool: Optional[int] = None
    # A byte range this process reads itself, in its turn (the forked workers' share of the
    # chunks is the rest).
    here: bool = False


def _worker_started() -> None:
    # Ctrl-C is the parent's to handle (it stops the workers): no traceback from each of them;
    # SIGTERM (the pool stopping them: forked.Pool.shutdown()), SIGHUP and SIGQUIT end a worker
    # at once, not as the command's do, unless SIGHUP or SIGQUIT were ignored (nohup): then
    # they still are. SIGTERM is never ignored: a run started ignoring it (`trap '' TERM`)
    # could not stop its workers. A parent killed outright (SIGKILL, the OOM killer) ends the
    # worker's pipes: it ends at its next job, or when it writes its result.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for number in (signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, signal.SIG_DFL)


def _fixed_zone_of(zone: _dt.timezone) -> tuple:
    return fixed_zone, (zone.utcoffset(None),)


# The inputs, set before the workers are forked: a worker reads them through the descriptors
# it inherits (a rotated or deleted file included).
_SOURCES: list = []
# Unlinked files, one per chunk in flight, set before the workers are forked: a worker writes
# its chunk's piece into the one its job names, where it waits out of this process's memory
# and is read a batch at a time.
_SPOOLS: list = []


class _Range:
    """The lines of bytes [start, end) of an open regular file or URL (`read_at`: its
    Source.read_at); start and end at line starts."""

    def __init__(self, read_at, start: int, end: int):
        self.read_at, self.start, self.end = read_at, start, end
        self.lines = LineSplitter()

    def batches(self) -> Iterator[List[str]]:
        decoder = text_decoder(self.start == 0)
        offset = self.start
        while offset < self.end:
            block = self.read_at(min(BLOCK_SIZE, self.end - offset), offset, self.end)
            if not block:
                raise Shrank(offset)  # the range was there when the input was opened
            offset += len(block)
            yield self.lines.split(decoder.decode(block))
        last = self.lines.end(decoder.decode(b"", final=True))
        if last:
            yield last


def _work(job: Job) -> Packed:
    """A worker: correlate one chunk, of an input it inherited or opens by path (or URL), and
    pickle its piece (_pack). One that it cannot open, or that is not what this process opened
    (rotated or replaced since), gives an empty piece that sends the chunk back to be read
    there (MOVED)."""
    # Times go back with the parent's one tzinfo object per offset (syslog.fixed_zone): times
    # that share theirs compare many times faster. Set here, where every worker runs (forked,
    # or a Dask cluster's, local or not).
    copyreg.pickle(_dt.timezone, _fixed_zone_of)
    piece = _piece_of(job)
    if job.spool is not None:
        try:
            return _pack(piece, _SPOOLS[job.spool].fileno())
        except OSError:  # (a full disk) it goes through the pipe
            pass
    return _pack(piece, None)


def _piece_of(job: Job) -> Piece:
    if job.path is None:
        return _work_on(job, _SOURCES[job.source])
    try:
        # Not dated: the chunk's clock is the job's, and a URL's time would cost a request.
        source = open_path(job.path, dated=False)
    except OSError as error:
        return _moved(job, f"a worker could not open it ({error_reason(error)})")
    try:
        if job.seen is not None and _fingerprint(source, job.seen[0]) != job.seen:
            return _moved(job, "changed since it was opened here (rotated?)")
        return _work_on(job, source)
    except OSError as error:
        return _moved(job, f"a worker could not read it ({error_reason(error)})")
    finally:
        source.close()


class Packed(NamedTuple):
    """A Piece as a worker hands it back (_pack): the pickle of all but its events and what is
    open at its chunk's end, then one pickle per BATCH_EVENTS of the events, then one of
    (sessions, pending, messages), in `pickles` or, from a forked worker, one after another in
    its job's spool file (None). A Session or Message named in more than one pickle is
    pickled whole in the first and by its number in the others; `last`: such a number -> the
    last pickle that names it (0 the first)."""
    sizes: List[int]
    last: Dict[int, int]
    pickles: Optional[List[bytes]]


class _Numbering:
    """A worker's side of a Packed piece: numbers each Session and Message as it is pickled
    (reduce(), which _pickles() puts in its pickler's dispatch table)."""

    def __init__(self) -> None:
        self.numbers: Dict[int, int] = {}  # id() -> number: the piece keeps them all alive
        self.last: Dict[int, int] = {}
        self.part = 0  # the part being pickled

    def reduce(self, made):
        # Called once per object and pickle: pickle's memo names it again within one.
        number = self.numbers.get(id(made))
        if number is None:
            number = self.numbers[id(made)] = len(self.numbers)
            return _Loaded.define, (number, *made.__reduce__())
        self.last[number] = self.part
        return _Loaded.known, (number,)


def _pickles(parts: list, numbering: _Numbering) -> Iterator[bytes]:
    """The pickle of each of a piece's `parts`, one after another, by one pickler whose memo is
    cleared between them: the memo keeps the table it grew to, which a new pickler would grow
    again for each part (10% of a piece's pickling). The pickler and its dispatch table are
    this generator's, not `numbering`'s: the table refers to the numbering (its reduce()), and
    with the cyclic collector off (the command turns it off) a cycle through it would keep the
    numbering, and the pickler's memo with the objects it names, for the rest of the run."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    table = copyreg.dispatch_table.copy()
    table[Session] = table[Message] = numbering.reduce
    pickler.dispatch_table = table
    for index, part in enumerate(parts):
        numbering.part = index
        pickler.clear_memo()
        buffer.seek(0)
        buffer.truncate()
        pickler.dump(part)
        yield buffer.getvalue()


def _pack(piece: Piece, spool: Optional[int]) -> Packed:
    """`piece` pickled for this process to unpickle a batch of its events at a time, each part
    written to the file `spool` (a descriptor) as it is made, or kept."""
    numbering = _Numbering()
    events: list = piece.events  # type: ignore[assignment]  # (the worker's list)
    parts = [piece._replace(events=(), sessions={}, pending={}, messages={}),
             *(events[start:start + BATCH_EVENTS] for start in range(0, len(events), BATCH_EVENTS)),
             (piece.sessions, piece.pending, piece.messages)]
    if spool is None:
        pickles = list(_pickles(parts, numbering))
        return Packed([len(data) for data in pickles], numbering.last, pickles)
    os.ftruncate(spool, 0)  # the piece before in this spool was read
    sizes = []
    offset = 0
    for data in _pickles(parts, numbering):
        written = 0
        while written < len(data):
            written += os.pwrite(spool, memoryview(data)[written:], offset + written)
        offset += written
        sizes.append(written)
    return Packed(sizes, numbering.last, None)


class _Loaded:
    """This process's side of a Packed piece: each Session and Message of a number that another
    pickle names is kept until the last of them, so that the objects are the worker's, one for
    one, as a single pickle would have given them."""

    def __init__(self, packed: Packed, spool: Optional[int]):
        self.packed = packed
        self.spool = spool
        self.objects: Dict[int, Finished] = {}
        self.pickles = 0

    def piece(self) -> Piece:
        """The piece, its events unpickled batch by batch as they are taken; its sessions,
        pending and messages are empty until the last batch has been taken."""
        pickles = self._pickles()
        head = self._load(next(pickles))
        return head._replace(events=self._events(head, pickles))

    def _events(self, head: Piece, pickles: Iterator[bytes]) -> Iterator[list]:
        data = next(pickles)
        for following in pickles:
            yield self._load(data)
            data = following
        for open_ends, into in zip(self._load(data), (head.sessions, head.pending,
                                                      head.messages)):
            into.update(open_ends)

    def _pickles(self) -> Iterator[bytes]:
        kept = self.packed.pickles
        if kept is not None:
            kept.reverse()
            while kept:
                yield kept.pop()  # its bytes go once read
            return
        assert self.spool is not None
        offset = 0
        for size in self.packed.sizes:
            yield os.pread(self.spool, size, offset)
            offset += size

    def _load(self, data: bytes):
        loaded = _Unpickler(io.BytesIO(data), self).load()
        self.pickles += 1
        return loaded

    def define(self, number: int, constructor, fields: tuple) -> Finished:
        made = constructor(*fields)
        if number in self.packed.last:
            self.objects[number] = made
        return made

    def known(self, number: int) -> Finished:
        if self.packed.last[number] == self.pickles:
            return self.objects.pop(number)
        return self.objects[number]


class _Unpickler(pickle.Unpickler):
    """Unpickles a Packed piece's pickles for `loaded`, whose methods they name."""

    def __init__(self, file, loaded: _Loaded):
        super().__init__(file)
        self.loaded = loaded

    def find_class(self, module: str, name: str):
        if module == __name__ and name.startswith("_Loaded."):
            return getattr(self.loaded, name[len("_Loaded."):])
        return super().find_class(module, name)


# The start of why a worker sent its chunk back unread: the input it opened by path is not the
# one this process opened. The rest of the reason is a note for the user (correlate_parallel).
MOVED = "not the input opened here: "
SEEN_BYTES = 1 << 12


def _fingerprint(source, size: int) -> tuple:
    """What identifies an input opened by path on another machine, whose device and inode may
    differ there (NFS): its size (at least `size`: a log may grow), and a CRC of its first
    bytes, which are another file's after a rotation."""
    return min(source.size, size), zlib.crc32(source.read_at(min(SEEN_BYTES, size), 0))


def _moved(job: Job, why: str) -> Piece:
    correlator = ChunkCorrelator(job.clock)
    correlator.unsafe = MOVED + why
    return correlator.piece(None, 0)


def _work_on(job: Job, source) -> Piece:
    correlator = ChunkCorrelator(job.clock)
    problem = None
    if job.start is None:
        for batch in source.batches():
            correlator.feed(batch, job.clock)
        return correlator.piece(source.problem, source.lines_cut)
    assert job.end is not None  # a byte range has both ends
    correlator._copies = 1  # decided from the input's first block (_splittable)
    chunk = _Range(source.read_at, job.start, job.end)
    try:
        for batch in chunk.batches():
            correlator.feed(batch, job.clock)
            if correlator.unsafe:
                # The parent reads the chunk itself, and waits for this piece to know it.
                break
    except OSError as error:
        problem = _read_failed(source, error)
    return correlator.piece(problem, chunk.lines.cut)


def _read_failed(source, error: OSError) -> Problem:
    return Problem(source.name, f"read failed part way: {error_reason(error)}")


def _splittable(source, chunk_size: int) -> bool:
    """Can `source` be cut into byte ranges? A plain regular UTF-8 file larger than a chunk, whose
    lines end in LF (a bare CR ends a line too: it is not looked for) and whose lines are not
    written twice or more (which is decided from its first block, and taking the copies away
    carries lines across blocks)."""
    head = source._head or b""
    if not source.regular or source.size <= chunk_size or b"\r" in head:
        return False
    if is_compressed(head) or utf16_of(head):  # (a UTF-16 line ends in two bytes)
        return False
    lines = LineSplitter().split(decoded_start(head))
    # A container runtime's wrapper joins the parts of a split line, which a chunk boundary
    # may fall between; a head without a syslog line may have a wrapper further on.
    return wrapper_of(lines) == PLAIN and copies_of(lines) == 1


def _first_stamp(read_at, offset: int) -> Optional[str]:
    text = read_at(LOOK_AHEAD, offset).decode("utf-8", "replace")
    for line in text.split("\n")[:-1]:
        parsed = split_line(line)
        if parsed is not None:
            return parsed[0]
    return None


def _line_start(source, nominal: int) -> Optional[int]:
    """Where a chunk starts: after the first line end at or after `nominal`, past any line
    that may be a syslog's repeat line (a BSD syslogd's repeats the line before it, and a
    line rsyslog cut is taken whole from it: correlate.repeat_of()); None at the input's
    end."""
    while True:
        found = -1
        while found < 0 and nominal < source.size:
            block = source.read_at(LOOK_AHEAD, nominal)
            found = block.find(b"\n")
            nominal += len(block) if found < 0 else found
        if found < 0 or nominal + 1 >= source.size:
            return None
        first_line = source.read_at(LOOK_AHEAD, nominal + 1).split(b"\n", 1)[0]
        if REPEATED.encode() not in first_line:  # (both forms hold it)
            return nominal + 1
        nominal += 1


def _plan(index: int, source, chunk_size: int, clock: ChunkClock) -> List[Job]:
    """The jobs of one input; `clock` is the one its first line is read with, and follows the
    first stamps of its chunks (the guesses of the later chunks' clocks)."""
    if not _splittable(source, chunk_size):
        return [Job(index, None, None, clock.guess())]
    starts = [0]
    while starts[-1] + chunk_size < source.size:
        start = _line_start(source, starts[-1] + chunk_size - 1)
        if start is None:
            break
        starts.append(start)
    jobs = []
    for number, start in enumerate(starts):
        stamp = _first_stamp(source.read_at, start) if number else None
        if stamp is not None:
            clock.time(stamp)
        end = starts[number + 1] if number + 1 < len(starts) else source.size
        jobs.append(Job(index, start, end, clock.guess()))
    return jobs


def _add_stats(correlator: Correlator, other: Stats) -> None:
    into = correlator.stats
    for name in STATS_FIELDS:
        value = getattr(other, name)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(into, name, getattr(into, name) + value)
    into.usernames |= other.usernames
    for when in (other.first_time, other.last_time):
        if when is not None:
            correlator._seen(when)


class _Merge:
    """This process's side: the Correlator of the whole run, and the pieces applied to it."""

    def __init__(self, stats: Optional[Stats]):
        self.correlator = correlator = Correlator(stats)
        self.cursor = cursor = Cursor()  # the place in the current piece's events
        self.placed = (_Placed(cursor), _Placed(cursor), _Placed(cursor))
        correlator.sessions, correlator.pending, correlator.messages = self.placed
        self.months: set = set()  # of the chunk before

    def why_not(self, piece: Piece, guess: ChunkClock, clock: ChunkClock) -> str:
        """Why `piece` cannot be used as it is, or ''."""
        watch = piece.clock.watch
        if piece.unsafe:
            return piece.unsafe
        if watch.unsteady:
            return "the clock moved its year or passed a repeated hour"
        if clock.year is not None and clock.year != guess.year:
            return "the year guessed for the chunk was not the year"
        months = watch.months | self.months
        if clock.last_month is not None:
            months.add(clock.last_month)
        if months and max(months) - min(months) > 6:
            return "the chunk's months are far apart"
        if not piece.unsure.isdisjoint(self.correlator.messages):
            return "a queue ID born untracked in the chunk is open"
        if not piece.early_back.isdisjoint(self.correlator.late_keys()):
            # Where among the chunk's lines it came tells whether it is one (LATE_LINES).
            return "a line handed back may be a late line of a message removed before the chunk"
        if (piece.early and self._pairs_across(piece)
                or any(self.correlator._birth_ip(key) is not None
                       or key in self.correlator.messages for key in piece.relayed_early)
                or any(map(self.correlator.awaits, piece.born_early))):
            return COPY_ACROSS
        if piece.named_back and self._split_across(piece):
            return "a content filter's copies of one message are either side of the chunk's start"
        return ""

    def _split_across(self, piece: Piece) -> bool:
        """Whether a copy a filter's reply named, of this process's (Piece.named_back), may
        have a sibling the chunk holds with no parent there (Piece.loose_copies): the same
        message-id, as far as this process or the lines handed back tell it; any on its host
        when neither does."""
        for key in piece.named_back:
            named = self.correlator.messages.get(key)
            message_id = named.message_id if named is not None else None
            if message_id is None:
                message_id = piece.told_back.get(key, (None, None))[1]
            if message_id is None:
                if any(host == key[0] for host, _ in piece.loose_copies):
                    return True
            elif (key[0], message_id) in piece.loose_copies:
                return True
        return False

    def _pairs_across(self, piece: Piece) -> bool:
        """Whether a delivery to a command or a copy pickup read (Piece.early) may pair with
        one of this process's (Correlator._piped_to_filter(), _copy_named()): from before the
        chunk, or a message whose delivery the worker handed back (Piece.piped_keys), which
        may be born of the lines handed back too. The same mail, as far as this process or
        the lines handed back tell its sender and message-id (Piece.told_back)."""
        correlator = self.correlator
        told_back = piece.told_back
        for host, sender, when, is_copy, message_id, queue_id in piece.early:
            since = when - COPY_WITHIN
            if is_copy:
                if any(delivery[1] >= since
                       and same_ids(delivery[2].message_id, message_id, queue_id)
                       for delivery in correlator._piped.get((host, sender), ())):
                    return True
                for key, piped_at in piece.piped_keys:
                    if key[0] != host or abs(piped_at - when) > COPY_WITHIN:
                        continue
                    message = correlator.messages.get(key)
                    told_sender, told_id = told_back.get(key, (None, None))
                    if message is not None:
                        told_sender = message.sender or told_sender
                        told_id = message.message_id or told_id
                    if told_sender in (sender, None) and same_ids(told_id, message_id, queue_id):
                        return True
            else:
                for picked_at, picked in correlator._picked.get((host, sender), ()):
                    named = picked.message_id or told_back.get((host, picked.queue_id),
                                                               (None, None))[1]
                    if picked_at >= since and (named is None or same_ids(message_id, named,
                                                                         picked.queue_id)):
                        return True
        return False

    def apply(self, piece: Piece, clock: ChunkClock) -> Iterator[Finished]:
        """Apply a worker's piece, read with `clock`'s year, handing on what each batch of its
        events finished before the next is unpickled (only the rest, once it is applied)."""
        correlator = self.correlator
        edges = correlator.edges
        awaited_from = correlator._awaited_count
        for placed in self.placed:
            placed.placed.clear()
        if clock.year is None:
            clock.year = piece.clock.year
        # Lines handed back are applied in runs; a run ends where the worker opened something
        # still open at the chunk's end, whose place among ours must be told (_interleave).
        breaks = {place for placed in piece.placed for place in placed.values()}
        run: List[str] = []
        start = 0
        # The chunk's messages held for their late lines at its end are held from where
        # they were handed on (Correlator.add_late(), once the piece is applied).
        late = piece.late.keys()
        correlator.pass_lines(piece.lines_fed)
        for batch in piece.events:
            run = apply_batch(correlator, batch, start, breaks, run, clock, self.cursor)
            start += len(batch)
            # What the run not yet fed finishes comes after these: the order is kept.
            yield from _handed_on(correlator, late)
        if run:
            correlator.feed(run, clock, handed_back=True)
        for noted in piece.pending.values():
            noted.clock = clock
            if noted.rejects:
                noted.rejects = [(stamp, clock, text) for stamp, _, text in noted.rejects]
        for ours, theirs, placed in zip(
                self.placed, (piece.sessions, piece.pending, piece.messages), piece.placed):
            _interleave(ours, theirs, placed)
        correlator.open_reordered()
        correlator.add_late(piece.late, piece.lines_fed)
        correlator._slots.update(piece.slots)
        _add_copies(correlator, piece.piped, piece.picked)
        _number_back(correlator, piece, awaited_from)
        correlator.add_births(piece.births, piece.birth_count, piece.awaited,
                              piece.awaited_count)
        correlator.edges = [piece.edges[0] if edges[0] is None else edges[0],
                            edges[1] if piece.edges[1] is None else piece.edges[1]]
        _add_stats(correlator, piece.stats)
        worker = piece.clock
        if worker.moved:
            clock._last_month = worker._last_month
        if worker._latest is not None:
            clock._latest = max(filter(None, (clock._latest, worker._latest)))
            clock._second_pass = worker._second_pass
        self.months = piece.clock.watch.months

    def read_here(self, lines: Iterator[List[str]], clock: ChunkClock) -> Iterator[Finished]:
        """Read a chunk here, as correlate() would, handing on what each batch finished."""
        clock.watch = ClockWatch()
        try:
            with self.unplaced():
                for batch in lines:
                    self.correlator.feed(batch, clock)
                    yield from _handed_on(self.correlator)
                self.correlator.settle_copies()  # here, not at end_source(): no place noted
                yield from _handed_on(self.correlator)
        finally:  # a read that failed part way: the next input's pieces follow what was read
            self.months = clock.watch.months

    @contextlib.contextmanager
    def unplaced(self) -> Iterator[None]:
        """While this process reads lines of its own (a chunk sent back, a pipe beside split
        files), the correlator's maps are plain dicts: places matter only among a piece's events,
        and a _Placed would run a Python __setitem__ on every insert and keep each place until
        the next piece."""
        correlator = self.correlator
        for placed in self.placed:
            placed.placed.clear()
        correlator.sessions, correlator.pending, correlator.messages = map(dict, self.placed)
        try:
            yield
        finally:
            read: Tuple[dict, ...] = (correlator.sessions, correlator.pending,
                                      correlator.messages)
            for placed, plain in zip(self.placed, read):
                dict.clear(placed)
                dict.update(placed, plain)  # dict's own: no place noted
            correlator.sessions, correlator.pending, correlator.messages = self.placed


def _add_copies(correlator: Correlator, piped: dict, picked: dict) -> None:
    """A piece's deliveries to a command and copies pickup read, not paired at its chunk's
    end, after this process's (from before the chunk), the deliveries numbered on from
    this process's in their order."""
    for delivery in sorted((delivery for deliveries in piped.values()
                            for delivery in deliveries), key=lambda delivery: delivery[0]):
        correlator._copy_order += 1
        delivery[0] = correlator._copy_order
    for pairs, theirs in ((correlator._piped, piped), (correlator._picked, picked)):
        for key, items in theirs.items():
            pairs.setdefault(key, []).extend(items)


def _interleave(ours: _Placed, theirs: dict, placed: dict) -> None:
    """Put a piece's open objects beside ours in the order correlate() would hold them: by
    where each was opened (ours from before the chunk first; at one place, the worker's came
    before the line this process applied there)."""
    if not theirs and not ours.placed:
        return
    order = [((ours.placed.get(key, -1), 1, number), key, value)
             for number, (key, value) in enumerate(ours.items())]
    order += [((placed[key], 0, number), key, value)
              for number, (key, value) in enumerate(theirs.items())]
    order.sort(key=lambda entry: entry[0])
    dict.clear(ours)
    for _, key, value in order:
        dict.__setitem__(ours, key, value)
    ours.placed.clear()


class _Pieces:
    """The workers' pieces in order (next()), at most `ahead` chunks handed to them ahead of
    the one taken; WorkerError (one line, ending in `remedy`) when a worker dies or raises.
    fill() hands on chunks up to that: before this process reads a chunk of its own, and once
    the piece taken before is applied (the chunk handed on writes into its spool file)."""

    def __init__(self, executor, jobs: List[Job], ahead: int, remedy: str):
        self.executor, self.ahead, self.remedy = executor, ahead, remedy
        self.queued = iter(jobs)
        self.waiting: collections.deque = collections.deque()

    def fill(self) -> None:
        with self._failures():
            while len(self.waiting) < self.ahead:
                job = next(self.queued, None)
                if job is None:
                    return
                self.waiting.append(self.executor.submit(_work, job))

    def __next__(self) -> Packed:
        self.fill()
        with self._failures():
            return self.waiting.popleft().result()

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except WorkerDied:
            raise WorkerError("a worker process died (killed, or out of memory?); "
                              f"{self.remedy}") from None
        except Exception as error:  # a worker's bug, carried over: one line, not its traceback
            # Dask's own errors (a worker lost, KilledWorker) take several lines.
            raise WorkerError(f"a worker process failed: {type(error).__name__}: "
                              f"{one_line(str(error))}; {self.remedy}") from None


def correlate_parallel(sources, jobs: int, year: Optional[int] = None, zone=None,
                       stats: Optional[Stats] = None, on_batch=None,
                       problems: Optional[List[Problem]] = None,
                       chunk_size: int = CHUNK_SIZE, executor=None,
                       notes: Optional[List[Problem]] = None) -> Generator[Finished, None, None]:
    """correlate.correlate() on `jobs` processes; see the module docstring.

    With `executor` (a concurrent.futures executor whose workers inherit nothing: cluster.py),
    its workers correlate the chunks, opening each input by path; `jobs` then sizes how far
    they read ahead, as the number of forked workers does: `jobs` + 1 chunks in flight
    (cluster.Cluster.ahead). An input whose path no longer names the
    file opened here is read here. The executor is the caller's to shut down. A URL's chunks
    are opened by its URL on either kind of worker. An input whose chunks a worker found
    changed (rotated, replaced) or could not open is read here: one note in `notes` says so."""
    merge = _Merge(stats)
    correlator = merge.correlator
    plans: List[Optional[List[Job]]] = []
    clock: Optional[ChunkClock] = None
    last_source = None
    for index, source in enumerate(sources):
        clock = source_clock(source, year, zone, clock, ChunkClock,  # type: ignore[assignment]
                             before=last_source)
        last_source = source
        assert clock is not None
        # A URL is opened by every worker, forked or not: an fsspec file does not survive a
        # fork (its driver's connections), and the URL names the same object anywhere.
        path = source.url or (None if executor is None else _path_of(source))
        plan = None
        if source.regular and (executor is None or path):
            try:
                plan = _plan(index, source, chunk_size, clock)
                if path:
                    seen = _fingerprint(source, source.size)
                    plan = [job._replace(path=path, seen=seen) for job in plan]
            except OSError:  # a URL's read failed: it is read here, in its turn (as it fails)
                plan = None
        plans.append(plan)
    every = [job for plan in plans for job in plan or ()]
    if len(every) < 2:
        yield from correlate(sources, year, zone, correlator.stats, on_batch, problems)
        return
    _return_freed_heap()
    # One chunk more than workers: while this process applies a piece, every worker still has
    # a chunk to read (with `jobs` ahead, one of them waited for this process).
    ahead = jobs + 1
    pool = None
    # This run's spools: read here from this list, not from _SPOOLS, which is what the workers
    # forked next inherit (another run in this process may set it meanwhile).
    spools: list = []
    try:
        if executor is None:
            workers = jobs
            if jobs == 2:
                # This process and one worker: it reads a share of the byte ranges itself,
                # starting with the first, and applies the worker's pieces.
                workers = 1
                ahead = workers + 1
                plans = _shared(plans)
            _SOURCES[:] = sources
            _SPOOLS[:] = spools = _spools(ahead)
            if spools:
                # A job is given the spool of the one `ahead` before it among the workers',
                # whose piece was read before it was handed to a worker (_Pieces).
                turn = itertools.count()
                plans = [plan and [job if job.here else job._replace(spool=next(turn) % ahead)
                                   for job in plan] for plan in plans]
            every = [job for plan in plans for job in plan or () if not job.here]
            executor = pool = Pool(workers, _worker_started)
        pieces = _Pieces(executor, every, ahead,
                         "try --jobs 1" if pool is not None else "try without --dask")
        pieces.fill()
        clock = last_source = None
        for source, plan in zip(sources, plans):
            correlator.stats.sources.append(source.name)
            clock = source_clock(source, year, zone, clock, ChunkClock,  # type: ignore
                                 before=last_source)
            last_source = source
            assert clock is not None
            before = counted_before(correlator.stats)
            correlator.new_source()
            if plan is None:
                with merge.unplaced():
                    for batch in source.batches():
                        correlator.feed(batch, clock)
                        if on_batch is not None:
                            on_batch(source, correlator.stats)
                        yield from _handed_on(correlator)
                    correlator.settle_copies()  # as read_here()
                    yield from _handed_on(correlator)
                correlator.stats.lines_cut += source.lines_cut
            else:
                yield from _read_plan(merge, source, plan, pieces, spools, clock, on_batch,
                                      notes)
            correlator.end_source()
            source_read(source, correlator.stats, before, problems, clock, correlator.span())
        correlator.finish()
        yield from _handed_on(correlator)
    finally:
        if pool is not None:
            pool.shutdown()
            _SOURCES.clear()
        for spool in spools:
            spool.close()
        if _SPOOLS == spools:
            _SPOOLS.clear()


def _number_back(correlator: Correlator, piece: Piece, awaited_from: int) -> None:
    """Number the replies kept as naming a queue ID not born (Correlator._await()) as one
    process does: those of the lines `piece` handed back, kept here past `awaited_from` before
    the chunk's births and replies were counted, among them (Piece.awaited_back), and the
    chunk's own after those before them. Else each reply handed back was let go as many births
    or replies early as the chunk had before it, and the chunk's own so many late."""
    before: List[int] = []  # of each reply handed back kept here, the chunk's own before it
    for key, (births_then, awaited_then) in piece.awaited_back.items():
        awaited = correlator._awaited.get(key)
        if awaited is not None and awaited[2] > awaited_from:
            awaited[2] += awaited_then
            awaited[3] = correlator._birth_count + births_then
            before.append(awaited_then)
    if before:
        before.sort()
        for awaited in piece.awaited.values():  # (add_births() numbers them past all kept here)
            awaited[2] += bisect.bisect_left(before, awaited[2]) - len(before)


def _shared(plans: List[Optional[List[Job]]]) -> List[Optional[List[Job]]]:
    """The plans with about half their byte ranges marked to be read here: the first
    HEAD_START, then every other one, not the last."""
    last = sum(job.start is not None for plan in plans for job in plan or ()) - 1
    turn = itertools.count()

    def here(job: Job) -> bool:
        if job.start is None:
            return False
        number = next(turn)
        return number != last and (number < HEAD_START or (number - HEAD_START) % 2 == 1)

    return [plan and [job._replace(here=here(job)) for job in plan] for plan in plans]


def _spools(count: int) -> list:
    """`count` unlinked temporary files (_SPOOLS), or none where they cannot be made."""
    spools: list = []
    try:
        for _ in range(count):
            spools.append(tempfile.TemporaryFile())
    except OSError:  # the pieces come through the pipe
        for spool in spools:
            spool.close()
        return []
    return spools


def _path_of(source) -> Optional[str]:
    """The path a worker elsewhere opens `source` by: its real path (/dev/stdin's too), when
    that still names the file opened here (not renamed or deleted since); else None."""
    if source.path is None:
        return None
    path = os.path.realpath(source.path)
    try:
        status = os.stat(path)
    except OSError:
        return None
    return path if (status.st_dev, status.st_ino) == source.identity else None


def _read_plan(merge: _Merge, source, plan: List[Job], pieces: _Pieces, spools: list,
               clock: ChunkClock, on_batch, notes: Optional[List[Problem]]) -> Iterator[Finished]:
    correlator = merge.correlator
    noted = False
    if plan[0].start is not None:
        correlator._copies = 1  # _splittable() found one copy of each line
    for job in plan:
        if job.here:
            if source.problem is not None:
                continue
            pieces.fill()  # the workers' next chunks first
            yield from _read_range_here(merge, source, job, clock)
            source.bytes_done = job.end
            if on_batch is not None:
                on_batch(source, correlator.stats)
            continue
        piece = _Loaded(next(pieces), None if job.spool is None
                        else spools[job.spool].fileno()).piece()
        if source.problem is not None:
            continue  # a chunk before failed to read: the rest is not read, as in one process
        why = merge.why_not(piece, job.clock, clock)
        if why:
            if why.startswith(MOVED) and not noted and notes is not None:
                noted = True
                notes.append(Problem(source.name, f"{why[len(MOVED):]}: read by this process, "
                                                  "through the file it opened"))
            if job.start is None:
                # A forked worker read the input through the same descriptor: from its start
                # again.
                source.rewind()
                yield from merge.read_here(source.batches(), clock)
                correlator.stats.lines_cut += source.lines_cut
            else:
                yield from _read_range_here(merge, source, job, clock)
        else:
            yield from merge.apply(piece, clock)
            if piece.problem is not None:
                # Named as the user named the input, not by the path or URL a worker opened.
                source.problem = piece.problem._replace(path=source.name)
        del piece  # its objects are the correlator's now, and go as they are handed on
        source.bytes_done = job.end if job.end is not None else source.size
        if on_batch is not None:
            on_batch(source, correlator.stats)
        yield from _handed_on(correlator)


def _read_range_here(merge: _Merge, source, job: Job, clock: ChunkClock) -> Iterator[Finished]:
    """The byte range of `job` read here, in its turn (its share of --jobs 2, or a worker's
    piece that failed its check); its lines cut count, read to its end or not. A read that
    fails is the input's problem, as in one process: what was read is kept, the rest of the
    input is not read."""
    assert job.start is not None and job.end is not None
    chunk = _Range(source.read_at, job.start, job.end)
    try:
        yield from merge.read_here(chunk.batches(), clock)
    except OSError as error:
        source.problem = _read_failed(source, error)
    finally:
        merge.correlator.stats.lines_cut += chunk.lines.cut


def _handed_on(correlator: Correlator, late: AbstractSet[tuple] = frozenset()
               ) -> Iterator[Finished]:
    # A chunk's objects are let go one by one as they are handed on, not all at its end; not
    # a message held for its late lines, nor what comes after it (Correlator.handed_on()).
    finished = correlator.finished
    if finished:
        ready = finished[:correlator.handed_on(late)]
        del finished[:len(ready)]
        ready.reverse()
        while ready:
            yield ready.pop()

