"""--jobs: a worker's piece is pickled in batches of its events, which the parent unpickles one
at a time, handing on what each finished before the next; a Session or Message named in more
than one pickle is one object, as in the worker; forked workers write their pieces into spool
files, and through the pipe when they cannot.
"""

import concurrent.futures
import datetime as _dt
import errno
import gc
import os
from pathlib import Path

from test_jobs import canonical

import maillog_sasl
from maillog_sasl import model, parallel
from maillog_sasl.model import Message, Session
from maillog_sasl.syslog import parse_zone

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs" / "maillog-sample.log"  # 4.3 MB
CHUNK = 400_000


def analysis(jobs=2, executor=None):
    return maillog_sasl.open_logs([SAMPLE], year=2026, zone=parse_zone("UTC"), jobs=jobs,
                                  chunk_size=CHUNK, executor=executor)


def shape(piece) -> list:
    """Which Session and Message objects a piece holds and names (message.session,
    message.parent), each told by the order it is first met in: equal shapes, the same objects
    one for one."""
    order: dict = {}
    seen = []

    def meet(item):
        if item is None:
            return None
        if id(item) not in order:
            order[id(item)] = len(order)
            seen.append(item)
            if type(item) is Message:
                seen.append((meet(item.session), meet(item.parent)))
        return order[id(item)]

    for item in [*piece.sessions.values(), *piece.messages.values(), *piece.events]:
        if type(item) in (Session, Message):
            meet(item)
    return [(type(item).__name__, item.serial) if type(item) in (Session, Message) else item
            for item in seen]


def test_an_object_named_in_several_pickles_is_the_workers_one(monkeypatch):
    """A message in one batch names its session, or the message it is a notice of, finished in
    another batch or still open: the parent gets one object where the worker had one."""
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 3)
    made, loaded, shared = [], [], []
    piece_of, pack, piece = parallel._piece_of, parallel._pack, parallel._Loaded.piece

    def recorded_piece_of(job):
        worker = piece_of(job)
        made.append(shape(worker))
        return worker

    def recorded_pack(*given):
        packed = pack(*given)
        shared.append(len(packed.last))
        return packed

    def recorded_piece(self):
        here = piece(self)
        batches = list(here.events)
        # Before it is applied: this process goes on with its open objects.
        loaded.append(shape(here._replace(events=[event for batch in batches
                                                  for event in batch])))
        return here._replace(events=batches)

    monkeypatch.setattr(parallel, "_piece_of", recorded_piece_of)
    monkeypatch.setattr(parallel, "_pack", recorded_pack)
    monkeypatch.setattr(parallel._Loaded, "piece", recorded_piece)
    # One worker thread: the pieces are made in the order they are read, in this process.
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        assert canonical(analysis(1, executor)) == canonical(analysis(1))
    assert len(made) == len(loaded) > 5
    assert sum(shared) > 100  # objects named across pickles
    assert loaded == made


def test_a_piece_is_handed_on_batch_by_batch(monkeypatch):
    """What a batch finished is handed on before the piece's next batch is unpickled."""
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 50)
    steps = []
    load = parallel._Loaded._load

    def recorded_load(self, data):
        steps.append(self)  # (kept: no other piece is told by its id)
        return load(self, data)

    monkeypatch.setattr(parallel._Loaded, "_load", recorded_load)
    items = []
    for item in analysis():
        items.append(item)
        steps.append(None)
    assert items
    # A piece's pickles: its head, then its batches; an object handed on between two of them.
    assert any(steps[index] is None and steps[index - 1] is not None
               and any(step is steps[index - 1] for step in steps[index + 1:])
               for index in range(1, len(steps) - 1))


def packed_kinds(monkeypatch) -> list:
    """[whether a piece came through a spool file], for each piece taken from now on."""
    kinds = []
    init = parallel._Loaded.__init__

    def recorded(self, packed, spool):
        kinds.append(packed.pickles is None)
        init(self, packed, spool)

    monkeypatch.setattr(parallel._Loaded, "__init__", recorded)
    return kinds


def test_forked_workers_write_their_pieces_into_spool_files(monkeypatch):
    one = canonical(analysis(1))
    kinds = packed_kinds(monkeypatch)
    assert canonical(analysis()) == one
    assert kinds and all(kinds)
    assert parallel._SPOOLS == []  # closed once read


def test_without_a_spool_file_the_pieces_come_through_the_pipe(monkeypatch):
    one = canonical(analysis(1))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    kinds = packed_kinds(monkeypatch)
    monkeypatch.setattr(parallel.tempfile, "TemporaryFile", full)
    assert canonical(analysis()) == one
    assert kinds and not any(kinds)
    kinds.clear()
    monkeypatch.undo()
    kinds = packed_kinds(monkeypatch)
    monkeypatch.setattr(os, "pwrite", full)  # (the workers are forked with it)
    assert canonical(analysis()) == one
    assert kinds and not any(kinds)



class _Collected:
    """An analysis's items, collected while another ran beside it, and its end (canonical())."""

    def __init__(self, run, items):
        self.items, self.stats, self.problems = items, run.stats, run.problems

    def __iter__(self):
        return iter(self.items)


def test_a_piece_pickled_leaves_nothing_for_the_cyclic_collector():
    """The command turns the cyclic collector off (cli.py), in its workers too: what a worker
    made to pickle a piece must go by reference counting once the piece is written, not stay
    in a cycle for the rest of the run (before: the numbering and the dispatch table that
    named it, a cycle each piece; the worker's peak on the submission benchmark log was 45.7 MB,
    40.9 MB without it)."""
    source = maillog_sasl.sources.open_sources([SAMPLE]).sources[0]
    try:
        clock = parallel.source_clock(source, 2026, parse_zone("UTC"), None, parallel.ChunkClock)
        job = parallel._plan(0, source, CHUNK, clock)[2]
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
        try:
            piece = parallel._work_on(job, source)
            packed = parallel._pack(piece, None)
            assert len(packed.pickles) > 2
            del packed
            gc.collect()
            left = {type(item).__name__ for item in gc.garbage}
            assert not left & {"_Numbering", "Pickler", "ChunkCorrelator", "Session", "Message"}
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            if enabled:
                gc.enable()
    finally:
        source.close()


def test_two_runs_in_one_process_read_their_own_spools():
    """The library may run two --jobs analyses side by side in one process: each reads the
    spools it made, not the ones the other set for its workers (before: an OSError, or the
    other's pieces)."""
    alone = canonical(analysis(jobs=1))
    first, second = analysis(), analysis()
    items: list = [[], []]
    for one, other in zip(first, second):
        items[0].append(one)
        items[1].append(other)
    items[1].extend(second)  # zip stopped at the first's end
    assert canonical(_Collected(first, items[0])) == alone
    assert canonical(_Collected(second, items[1])) == alone


def test_each_model_pickles_its_fields_in_the_order_its_constant_names_them():
    # __reduce__ writes its fields out (for speed); the constants are what watch's layout hash
    # and the rebuilding functions follow: a field moved or forgotten in one is caught here.
    # Every field set to a value of its own, so that two fields swapped show (of a type the
    # field takes: a compiled class checks it).
    made = {model.Session: model.Session(1, "mail", "smtpd", "9", "name", "192.0.2.1", "25",
                                         None),
            model.Message: model.Message(1, "mail", "QID", "submission", None),
            model.Recipient: model.Recipient("to@example.com", None)}
    constants = {model.Session: model.SESSION_FIELDS, model.Message: model.MESSAGE_FIELDS,
                 model.Recipient: model.RECIPIENT_FIELDS}
    # The fields no value below fits when compiled: a bool each, and the objects named.
    made[model.Session].connected = True  # `complete` stays False
    made[model.Message].session = made[model.Session]
    made[model.Message].parent = model.Message(2, "mail", "QID2", "notice", None)
    for kind, item in made.items():
        for number, name in enumerate(constants[kind]):
            for value in (f"value {number}", 1000 + number, [number], (number, number),
                          _dt.datetime(2026, 1, 1, 0, 0, number), {number: number}):
                try:
                    setattr(item, name, value)
                    break
                except TypeError:
                    continue
        rebuild, fields = item.__reduce__()
        assert fields == tuple(getattr(item, name) for name in constants[kind])
        assert len(set(map(repr, fields))) == len(fields)
        assert rebuild(*fields).__reduce__()[1] == fields
