"""chunk: correlate one chunk of a log in a worker, as parallel.py hands it out.

SUMMARY
    ChunkCorrelator(clock).feed(...), then .piece(problem, lines_cut) -> Piece
    ChunkClock(year=None, tz=None, anchor=None): a Clock that notes what its stamps did
    apply_batch(correlator, batch, start, breaks, run, clock, cursor) -> the run unfed
    apply_fold(correlator, fold, clock)
        the parent's side: a batch of a piece's events, a fold, applied to its correlator

DESCRIPTION
    The worker's half of parallel.py (whose docstring describes the whole): a Correlator that
    holds only the sessions and messages born in its chunk, hands every other key's line back
    in its place (folding the retries of a foreign message), marks births, slot changes and its
    lines whose stamp gives no time, and returns the chunk's stream of events with what is
    still open at its end. A module of its own so that it is compiled with the correlator it
    derives from (setup.py: a compiled class cannot be derived from in Python without slowing
    every attribute access). The parent's side unpickles and merges in parallel.py, but applies
    each event here (apply_batch), where the loop over a piece's events and the folds are
    compiled with the correlator they drive: interpreted, they cost --jobs 2 1.5-2% of its CPU
    time (benchmarks/README.md).

    A pipe(8) content filter's copy and the login's message it copies are paired where both
    are held (correlate.COPY_WITHIN). A copy pickup reads in its host's first minute of the
    chunk, or within a minute of a delivery to a command handed back, may be the copy of a
    message the parent holds: cleanup's message-id tells (_copy_named()). One that pairs here,
    or whose original is here (the copy came before pipe's line), is the chunk's; any other
    is handed back, pickup's line in place of its birth's mark, for the parent to pair or
    follow as one process would. A delivery to a command of a message the parent holds is
    handed back whole. The deliveries to a command and the copies of each host's first minute
    kept here are named in the piece (Piece.early), for the parent to check that none of its
    own is the same mail: its deliveries and copies from before the chunk, its messages whose
    delivery was handed back (Piece.piped_keys), with what the chunk told of them (the
    message-ids of cleanup's lines handed back); those not paired at the end go with what is
    open. What stays ambiguous (a copy here waiting for pipe's line when a delivery of the
    parent's is handed back, a copy whose message-id is not told within the minute, a message
    here piped after a copy handed back that may be its) makes the chunk unsafe: rare, a
    filter hands a message on within seconds.

    A message removed waits for its late lines (correlate.LATE_LINES) where it was removed: one
    of the chunk's still waiting at its end is named in the piece (Piece.late); a removal of the
    parent's handed back, and the lines of its queue ID within LATE_LINES after it, are handed
    back with their place (Placed), and the end of that window marked (LateOver); the queue IDs
    of the deliveries and notices handed back among the chunk's first LATE_LINES lines are named
    (Piece.early_back): one of a message the parent holds so makes the parent read the chunk.

    A filter on another address's copy is born untracked (Correlator._relayed()): a delivery
    handed back that names one born here from the relay's IP makes the chunk unsafe; one of a
    message here that names a queue ID the chunk has not seen born, within its first
    BIRTHS_KEPT births or its host's first COPY_WITHIN (a copy from loopback the parent may
    hold), is named in the piece (Piece.relayed_early) for the parent to look for among its
    own; and the chunk's births go on in the parent's (Piece.births). A copy whose
    client= line syslog logged after the reply naming it (Correlator._await()) is followed
    where both are: the replies of the chunk not yet answered by a birth go on in the parent's
    (Piece.awaited), which looks for them among the chunk's first BIRTHS_KEPT births
    (Piece.born_early); one born here that a delivery handed back named first makes the
    chunk unsafe.

DIAGNOSTICS
    None raised: what the worker cannot decide alone is `unsafe` (a reason), for the parent to
    read the chunk itself.
"""

from __future__ import annotations

import datetime as _dt
from typing import Dict, Final, Iterable, List, NamedTuple, Optional, Tuple

from mypy_extensions import mypyc_attr

from maillog_sasl import events as ev
from maillog_sasl.correlate import (
    BIRTHS_KEPT,
    COPY_WITHIN,
    DELIVERY_AGENTS,
    LATE_LINES,
    PICKED,
    PIPED,
    PIPED_VIA,
    UNTRACKED,
    USED,
    Correlator,
    Pending,
    delivery_attempt,
    may_come_late,
    queued_as,
    same_ids,
    same_mail,
    time_aside,
)
from maillog_sasl.model import DEFERRED, OPEN, Message, Recipient, Session, Stats
from maillog_sasl.sources import Problem
from maillog_sasl.syslog import _SECONDS, CLOCK_FIELDS, MINUTES_KEPT, MONTHS, Clock

SESSION, MESSAGE = True, False
# A ChunkClock's fields, Clock._field_names(): pickled and copied by them.
CHUNK_CLOCK_FIELDS = CLOCK_FIELDS + ("watch", "moved")
# Why a chunk with a content filter's copy the worker cannot tell apart is the parent's to read.
COPY_UNSURE: Final = "a content filter's copy of a message the chunk does not hold"
# Why a chunk is the parent's to read when a filter's copy and its original are either side of
# its start.
COPY_ACROSS: Final = ("a content filter's copy and its original are either side of the "
                      "chunk's start")


# A connect (SESSION) or a new message (MESSAGE) on a key in a worker's chunk is the plain tuple
# (SESSION or MESSAGE, key) in its stream: a chunk has thousands, which a class of their own
# (a named tuple) would make a Python call each to pickle.
class SlotMark(NamedTuple):
    """`host` entered another ten-minute slot at `when` in a worker's chunk; `slot` is set on
    the host's first line in the chunk, whose slot only the parent can compare."""
    host: str
    slot: Optional[str]
    when: Optional[_dt.datetime]


class Folded(NamedTuple):
    """Lines a worker handed back folded, about `key` (host, queue ID): `lines` retries that
    change nothing on a message whose size is known (qmgr's `(queue active)`, probes) or are
    `deliveries`, folded by recipient in the order each first came: [address, orig_to,
    attempts, the last status, the last line's text, its time, the time of the first deferral
    among them or None]. `last`: the time of the last delivery, `earliest` and `latest` the
    earliest and latest of their times, which a stamp out of order makes others than the first
    and the last (None without one)."""
    key: tuple
    lines: int
    deliveries: list
    last: Optional[_dt.datetime]
    earliest: Optional[_dt.datetime]
    latest: Optional[_dt.datetime]


class CopiesMark(NamedTuple):
    """`host`'s slot changed at `when` (the SlotMark before it, with no slot), and the worker
    closed its sessions left idle: the parent's deliveries to a command and copies that can
    no longer pair are forgotten here, after those, as one process forgets them (after every
    idle session: Correlator.slot_changed()), and before the worker's."""
    host: str
    when: _dt.datetime


class Placed(NamedTuple):
    """A line handed back with its place among the chunk's lines (from 0), for the parent to
    tell the late lines of its message removed here (Correlator._late): qmgr's `removed` of a
    message it holds, and the lines of that queue ID after it, within LATE_LINES."""
    line: str
    place: int


class LateOver(NamedTuple):
    """The late lines of the parent's message `key`, whose `removed` the chunk handed back
    (Placed), can no longer come."""
    key: tuple


class Untimed(NamedTuple):
    """A line of the worker's own whose stamp, `stamp`, gives no time: the last such stamp is
    told, and the lines handed back around it are counted where the parent applies them."""
    stamp: str


@mypyc_attr(native_class=False)  # pickled with its clock: a plain class pickles as it is
class ClockWatch:
    """What a ChunkClock saw: the months of its stamps, and whether its year moved or a stamp
    fell in a repeated hour. Shared with the copies correlate.time_aside() makes."""
    __slots__ = ("months", "unsteady")

    def __init__(self) -> None:
        self.months: set = set()
        self.unsteady = False


class ChunkClock(Clock):
    """A Clock that keeps a ClockWatch, and whether its own month moved (`moved`: not in a copy
    made by time_aside)."""
    __slots__ = ("watch", "moved")

    def __init__(self, year=None, tz=None, anchor=None):
        super().__init__(year=year, tz=tz, anchor=anchor)
        self.watch = ClockWatch()
        self.moved = False

    def _traditional(self, stamp):
        year = self.year
        value = super()._traditional(stamp)
        month = MONTHS.get(stamp[:3])
        if month is not None:
            self.watch.months.add(month)
            self.moved = True
        if ((year is not None and self.year != year)
                or (value is not None and value.year != self.year)):
            self.watch.unsteady = True  # New Year, a straggler, a Feb 29 that moved the year
        return value

    def _make(self, year, month, day, hour, minute, second):
        value, ambiguous = super()._make(year, month, day, hour, minute, second)
        if ambiguous:
            self.watch.unsteady = True
        return value, ambiguous

    def _field_names(self) -> Tuple[str, ...]:
        return CHUNK_CLOCK_FIELDS

    def guess(self) -> "ChunkClock":
        """A fresh clock in this one's year and month (for a chunk further on)."""
        clock = ChunkClock(tz=self.zone, anchor=self.anchor)
        clock.year, clock.forced, clock._last_month = self.year, self.forced, self._last_month
        return clock


class Piece(NamedTuple):
    """What a worker hands back for one chunk; see parallel.py's docstring."""
    sessions: dict
    pending: dict
    messages: dict
    placed: tuple  # (sessions, pending, messages): open key -> where in `events` it opened
    slots: dict
    unsure: set  # queue IDs born untracked in the chunk that the parent might hold open
    stats: Stats
    clock: ChunkClock
    unsafe: str
    edges: list
    problem: Optional[Problem]
    # A pipe(8) content filter's deliveries and copies not paired at the chunk's end
    # (Correlator._piped, _picked), and those of the chunk's first COPY_WITHIN of each host,
    # (host, sender, time, True for a copy, message-id, a copy's queue ID), that one before the
    # chunk may pair with.
    piped: dict
    picked: dict
    early: list
    # (host, queue ID) -> [sender, message-id] of the parent's message as the lines handed
    # back told them (qmgr's, cleanup's; None: not told), for its checks of Piece.early.
    told_back: dict
    # [((host, queue ID), time)]: the parent's messages whose delivery to a command was
    # handed back, which a copy in Piece.early may be of.
    piped_keys: list
    # The parent's copies a filter's reply named in a delivery handed back ((host, queue ID),
    # `queued as` on loopback), and, when there are any, (host, message-id) of the filter's
    # copies here that no message of the chunk's took: a split re-injection's copies may be
    # either side of the chunk's start (Correlator._split_copies()).
    named_back: list
    loose_copies: set
    # The chunk's messages born untracked (Correlator._births) and how many, and the copies a
    # filter's reply of a message here named from a relay not on loopback that the chunk had
    # not seen born (Correlator._relayed()): each may be born before it, as this process
    # remembers (BIRTHS_KEPT), or be a copy from loopback it holds.
    births: dict
    birth_count: int
    relayed_early: list
    # The replies of messages here that named a queue ID not born yet (Correlator._awaited)
    # and how many; the queue IDs of the chunk's first BIRTHS_KEPT births untracked, any of
    # which the parent may have named so.
    awaited: dict
    awaited_count: int
    born_early: list
    # The chunk's messages removed and still held for their late lines at its end
    # (Correlator._late: key -> the last line, of the chunk's, counted from 0, that may be one),
    # the lines it fed, and the queue IDs of the lines it handed back among its first
    # LATE_LINES: one may be a late line of a message the parent holds so.
    late: dict
    lines_fed: int
    early_back: set
    # The queue IDs the replies handed back named not born (ChunkCorrelator.awaited_back): the
    # parent, applying them before the chunk's births and replies, numbers them as one process.
    awaited_back: dict
    # A list in the worker; in the parent, its batches (lists), each unpickled as it is taken
    # (parallel._Loaded).
    events: Iterable


class ChunkCorrelator(Correlator):
    """A Correlator over one chunk that holds only the keys born in it; see parallel.py's
    docstring."""

    def __init__(self, clock: ChunkClock):
        super().__init__()
        self.clock = clock
        # The stream of the chunk's events: finished objects, lines handed back, marks.
        self.events: list = self.finished
        # Where in `events` each key of sessions, pending and messages was last put in: the
        # length of `events` then (after what the line put in `events` before; nothing after
        # it in the same line is a line handed back, whose place only would count).
        self.placed: tuple = ({}, {}, {})
        # Queue IDs born untracked here (their lines are dropped); the base class reads them
        # as _dropped.
        self.dropped: set = set()
        self._dropped = self.dropped
        # The queue IDs born untracked here while the parent might hold a message on them: it
        # checks that it does not (a set apart: a line handed back later takes one out of
        # dropped, not out of the parent's check).
        self.unsure: set = set()
        self.foreign: set = set()  # queue IDs of lines handed back
        # Foreign queue IDs the parent cannot hold open from here on: born here (closed there
        # by the birth's mark), or removed by a line handed back, and no line handed back since
        # that could open them there.
        self.closed: set = set()
        # Keys whose birth is marked, and no line of theirs handed back since: a birth on them
        # again closes nothing on the parent's side.
        self.announced: set = set()
        # Foreign queue IDs whose size is known on the parent's side (a `(queue active)` line
        # with nrcpt handed back): qmgr's later retries of them change nothing there.
        self.sized: set = set()
        # key -> [lines, {recipient key: [address, orig_to, attempts, status, text, time,
        # first deferral]}, first, last]: the foreign lines being folded (Folded).
        self.folds: Dict[tuple, list] = {}
        # A traditional stamp's minute -> its time, read aside (folded lines: a minute's
        # lines share it, as in Clock).
        self._aside: Dict[str, Optional[_dt.datetime]] = {}
        self.orphans = 0
        self._minute = ""  # of the last line handed back whose stamp was read
        self.unsafe = ""  # why the parent must read the chunk itself
        self._orphan = self._hand_back_queue_line
        # host -> the time of its first line in the chunk (None: no time), and Piece.early.
        self.first_seen: Dict[str, Optional[_dt.datetime]] = {}
        self.early: list = []
        # host -> the latest time a delivery to a command of a message held by the parent was
        # handed back: a copy pickup reads here soon after may be its (_pickup()).
        self.piped_back: Dict[str, _dt.datetime] = {}
        # Copies that may be the parent's, until cleanup names their message-id (_new_copy()):
        # key -> (the place of its birth's mark in `events`, pickup's line, the copy, whether
        # in its host's first minute).
        self.contested: Dict[tuple, Tuple[int, str, Message, bool]] = {}
        # (host, sender) -> [(time, message-id, queue ID)] of the copies handed back.
        self.copies_back: Dict[tuple, List[tuple]] = {}
        # Contested copies not yet named when a delivery of the parent's was handed back.
        self.met: set = set()
        # Contested copies kept here once named (Piece.early): key -> the copy.
        self.kept: Dict[tuple, Message] = {}
        self.told_back: Dict[tuple, list] = {}  # Piece.told_back
        # host -> until when the parent may hold a copy pickup read (from before the chunk, or
        # handed back) that a sweep lets go (None: a time not known). Lines of its folded
        # before such a sweep are applied before it there, as one process reads them.
        self.held_copies: Dict[str, Optional[_dt.datetime]] = {}
        self.piped_keys: List[tuple] = []  # Piece.piped_keys
        self.named_back: List[tuple] = []  # Piece.named_back
        self.loose_copies: set = set()  # Piece.loose_copies (kept whatever named_back holds)
        self.relayed_early: List[tuple] = []  # Piece.relayed_early
        self.born_early: List[tuple] = []  # Piece.born_early
        # Queue IDs a delivery handed back named from a relay not on loopback, not born here:
        # how many births and replies kept the chunk had counted then (Piece.awaited_back).
        self.awaited_back: Dict[tuple, tuple] = {}
        self.early_back: set = set()  # Piece.early_back
        self.early_other: set = set()  # foreign keys whose first line here is no late one
        # Foreign keys whose `removed` line was handed back: key -> the last line of the
        # chunk that may be a late line of theirs (Placed, LateOver).
        self.removed_back: Dict[tuple, int] = {}

    def piece(self, problem: Optional[Problem], lines_cut: int) -> Piece:
        self.settle_copies()  # (a whole input's first lines, if it had fewer than a sample)
        self.trim_awaited()  # (those of messages closed here are no copy's for the parent)
        stats = self.stats
        # Lines handed back are counted where they are applied.
        stats.lines_read -= self.orphans
        stats.lines_used -= self.orphans
        stats.lines_cut += lines_cut  # the reader's count, added with the rest when applied
        for key in list(self.folds):
            self._unfold(key)
        self.clock._minutes = {}  # a cache: not worth its pickling
        # The handlers are bound to this object: without them it is no cycle, and goes with
        # its chunk (the command runs with the cyclic collector off).
        self._smtpd_handlers = {}
        self._orphan = None
        still_open: List[dict] = [self.sessions, self.pending, self.messages]
        # What the parent's checks of Piece.early read: not the sender of every message of its
        # whose retries were handed back.
        told_back: Dict[tuple, list] = {}
        if self.early or self.named_back:
            piped = {key for key, _ in self.piped_keys}
            told_back = {key: told for key, told in self.told_back.items()
                         if told[1] is not None or key in piped}
        loose_copies: set = set()
        if self.named_back:
            for message in self.messages.values():
                self._loose(message)
            loose_copies = self.loose_copies
        return Piece(self.sessions, self.pending, self.messages,
                     tuple({key: placed[key] for key in open_ones} for placed, open_ones
                           in zip(self.placed, still_open)),
                     self._slots, self.unsure, stats, self.clock, self.unsafe, self.edges,
                     problem, self._piped, self._picked, self.early, told_back,
                     self.piped_keys, self.named_back, loose_copies, self._births,
                     self._birth_count, self.relayed_early, self._awaited,
                     self._awaited_count, self.born_early, self._late, self._lines_fed,
                     self.early_back, self.awaited_back, self.events)

    def _finish_message(self, message: Message) -> None:
        self._loose(message)
        super()._finish_message(message)

    def _loose(self, message: Message) -> None:
        """Note `message` in loose_copies if it is a filter's copy no message took."""
        if (message.parent is None and message.sasl_username is None
                and message.message_id is not None and ev.is_loopback(message.client_ip)):
            self.loose_copies.add((message.host, message.message_id))

    def _untimed(self, stamp: str) -> None:
        super()._untimed(stamp)
        self.events.append(Untimed(stamp))

    def _handlers(self) -> dict:
        return {kind: self._guard(kind, handler) for kind, handler in super()._handlers().items()}

    def _guard(self, kind, handler):
        # One closure per kind of line: every smtpd line comes through one.
        if kind is ev.CONNECT:
            def connect(key: tuple, program, stamp: str, clock: Clock, text: str):
                if key not in self.sessions and key not in self.pending:
                    self._born(SESSION, key)
                outcome = handler(key, program, stamp, clock, text)
                self.placed[1][key] = len(self.events)  # the connect is noted (pending) last
                return outcome
            return connect
        if kind is ev.PROXY_REPLY:
            return self._proxy_reply_guard(handler)
        if kind is not ev.CLIENT and kind is not ev.REJECT and kind is not ev.ACTION:
            def session_line(key: tuple, program, stamp: str, clock: Clock, text: str):
                if key in self.sessions or key in self.pending:
                    return handler(key, program, stamp, clock, text)
                self.announced.discard(key)
                return self._hand_back(f"{stamp} {key[0]} {key[1]} {text}", stamp)
            return session_line

        def guarded(key: tuple, program, stamp: str, clock: Clock, text: str):
            ours = key in self.sessions or key in self.pending
            if kind is ev.CLIENT:
                if not self._may_track(text):
                    return self._untracked_client((key[0], text[:text.find(": ")]), text)
                if not ours:
                    self._client_handed_back(key[0], text)
            elif text[:1] != "N":
                # A reject, hold or discard with a queue ID: the message's line, and the
                # session's.
                queue_id = (key[0], text[:text.find(": ")])
                self._unfold(queue_id)
                if ((queue_id in self.messages) != ours
                        and not (ours and (queue_id in self.dropped
                                           or queue_id in self.closed))):
                    self.unsafe = (f"an smtpd {kind} line names a message and a session on "
                                   "both sides")
            if not ours:
                self.announced.discard(key)
                return self._hand_back(f"{stamp} {key[0]} {key[1]} {text}", stamp)
            return handler(key, program, stamp, clock, text)
        return guarded

    def _proxy_reply_guard(self, handler):
        def proxy_reply(key: tuple, program, stamp: str, clock: Clock, text: str):
            ours = key in self.sessions or key in self.pending
            event = ev.proxy_reply_event(text) if "queued as " in text else None
            if event is not None and event.queued_as is not None:
                # A logged-in session's message goes on as the message its reply names:
                # both must be on one side.
                child = (key[0], event.queued_as)
                session = self.sessions.get(key)
                if not ours:
                    self._unfold(child)
                    self._own(child, "proxy-accept")
                elif (session is not None and session.sasl_username is not None
                      and child not in self.messages):
                    self.unsafe = "a proxy-accept names a message the chunk does not hold"
            if not ours:
                self.announced.discard(key)
                return self._hand_back(f"{stamp} {key[0]} {key[1]} {text}", stamp)
            return handler(key, program, stamp, clock, text)
        return proxy_reply

    def _born(self, session: bool, key: tuple) -> None:
        # A message born here closes whatever the parent held on its queue ID: its later lines
        # (after its removal, a reused ID born untracked) are the chunk's to drop.
        if not session:
            self._unfold(key)
            self.foreign.discard(key)
            self.closed.add(key)
            self.removed_back.pop(key, None)
        if key not in self.announced:
            self.announced.add(key)
            self.events.append((session, key))

    def _born_untracked(self, key: tuple) -> str:
        """Its lines are dropped from now on (a message of the chunk's own open on it ends
        here)."""
        super()._born_untracked(key)
        if key in self.foreign and key not in self.closed:
            # The parent may hold a message open on it (its end lost), which this birth ends
            # there: rare, so the chunk is read there.
            self.unsafe = "an untracked message is born on a queue ID the parent may hold open"
            return UNTRACKED
        self.dropped.add(key)
        if key not in self.closed:
            self.unsure.add(key)
        return UNTRACKED

    def _own(self, key: tuple, what: str) -> None:
        if key in self.messages:
            self.unsafe = f"a line handed back names a message of the chunk ({what})"

    def _client_handed_back(self, host: str, text: str) -> None:
        key = (host, text[:text.find(": ")])
        self._own(key, "client=")
        if ", orig_queue_id=" in text:
            self._own((host, ev.smtpd_client_event(text).orig_queue_id), "orig_queue_id")
        self._foreign(key)

    def _foreign(self, key: tuple, opens: bool = True) -> None:
        """A line about `key` is handed back (that `opens` a message there, or may): the key's
        lines go to the parent from now on."""
        self.foreign.add(key)
        self.announced.discard(key)
        self.dropped.discard(key)
        if opens:
            self._unfold(key)
            self.closed.discard(key)
            self.sized.discard(key)

    def _hand_back_queue_line(self, line: str, stamp: str, key: tuple, daemon: str,
                              text: str, position: int) -> None:
        if 0 <= position < LATE_LINES and key not in self.early_other:
            # Only a delivery or a notice may be a late line (Correlator._late_line()); any
            # other ends the wait of the parent's message, if any.
            if may_come_late(daemon, text):
                self.early_back.add(key)
            else:
                self.early_other.add(key)
        fold = self.folds.get(key)
        if fold is None:  # (a key being folded is foreign already)
            self._foreign(key, opens=False)
        # Its removal and the lines after it within LATE_LINES go back one by one, placed.
        placed = position >= 0 and (key in self.removed_back or daemon == "qmgr"
                                    and text.endswith(": removed"))
        if "queued as " not in text and not placed:
            if delivery_attempt(daemon, text):
                if self._fold_delivery(key, fold, stamp, text):
                    return
            elif daemon == "qmgr" and key in self.sized and text.endswith("(queue active)"):
                # A retry that changes nothing on a message whose size is known there.
                if fold is None:
                    fold = self._new_fold(key)
                fold[0] += 1
                self.orphans += 1
                return
        self._unfold(key)
        if daemon == "qmgr":
            if text.endswith(": removed"):
                self.closed.add(key)
                self.sized.discard(key)
                if placed:
                    self.removed_back[key] = position + LATE_LINES
            elif key not in self.sized:
                event = ev.RECOGNIZERS["qmgr"](text)
                # (A stamp that gives no time: the parent does not use the line, the size is
                # still to come.)
                if event is not None and event.kind == "queue_active":
                    self._told_back(key)[0] = event.sender
                    if event.nrcpt is not None and time_aside(self.clock, stamp) is not None:
                        self.sized.add(key)
        elif daemon == "cleanup":
            message_id = ev.cleanup_message_id(key[1], text[text.find(": ") + 2:])
            if message_id is not None:
                self._told_back(key)[1] = message_id
        elif daemon == "bounce":
            event = ev.RECOGNIZERS["bounce"](text)
            if event is not None and event.kind == "notice":
                notice = (key[0], event.notice_queue_id)
                self._own(notice, "a bounce notice")
                self._foreign(notice)
        elif daemon in DELIVERY_AGENTS and "queued as " in text:
            event = ev.delivery_event(text)
            copy = (key[0], queued_as(event))
            self._own(copy, "queued as")
            # The copy's lines before it first: there, the reply may follow the copy from here
            # (Correlator._relayed()), its lines before not read.
            self._unfold(copy)
            if ev.names_loopback(text):  # (a filter's, as Correlator._delivery() tells)
                self.named_back.append(copy)
            elif event is not None:
                born = self._birth_ip(copy)
                if born == ev.split_address(event.relay)[1]:
                    # A filter's copy born untracked here (Correlator._relayed()): its lines
                    # were dropped.
                    self.unsafe = COPY_ACROSS
                elif born is None and copy not in self.messages:
                    # Its copy may be born here yet (_await()).
                    self.awaited_back.setdefault(copy, (self._birth_count,
                                                            self._awaited_count))
        elif daemon in DELIVERY_AGENTS:
            forwarded = ev.forwarded_as(text)  # (the lines _fold_delivery() did not take)
            named = ev.named_last(text) if ev.names_loopback(text) else None
            if forwarded is not None:
                # The parent's message may go on there (Correlator._forwarded): its lines too.
                self._own((key[0], forwarded), "forwarded as")
                self._foreign((key[0], forwarded))
            elif named is not None:
                # A filter's reply naming its copy last, as `queued as` above.
                self._own((key[0], named), "a filter's reply")
                self.named_back.append((key[0], named))
        self._hand_back(line, stamp, position if placed else -1)

    def _told_back(self, key: tuple) -> list:
        told = self.told_back.get(key)
        if told is None:
            told = self.told_back[key] = [None, None]
        return told

    def _piped_back(self, key: tuple, stamp: str) -> None:
        """A delivery to a command (a content filter?) of the parent's message `key` is handed
        back: a copy pickup read here before it would have been its."""
        when = time_aside(self.clock, stamp)
        if when is None:
            self.unsafe = "a delivery to a command whose stamp gives no time"
            return
        host = key[0]
        self.piped_keys.append((key, when))
        for (copy_host, _), copies in self._picked.items():
            if copy_host != host:
                continue
            for picked_at, copy in copies:
                if picked_at < when - COPY_WITHIN:
                    continue
                copy_key = (host, copy.queue_id)
                contested = self.contested.get(copy_key)
                if contested is not None and contested[2] is copy:
                    self.met.add(copy_key)  # (its message-id tells: _copy_named())
                else:
                    self.unsafe = COPY_UNSURE
        for (piped_host, _), deliveries in self._piped.items():
            if piped_host == host and any(not delivery[4] for delivery in deliveries):
                # The parent numbers its delivery before the chunk's (parallel._add_copies())
                # and lets it go first in a sweep (CopiesMark); one process, in their order.
                self.unsafe = "a delivery to a command of the parent's after one of the chunk's"
        self.piped_back[host] = when

    def _hand_back(self, line: str, stamp: str, place: int = -1) -> str:
        # The parent applies the line with its own clock: the months (and a repeated hour) it
        # will see count. Read once a minute: lines handed back come in runs.
        if stamp[:12] != self._minute:
            self._minute = stamp[:12]
            time_aside(self.clock, stamp)
        self.orphans += 1
        self.events.append(line if place < 0 else Placed(line, place))
        return USED  # counted where it is applied (piece())

    def _end_late(self, fed: int = -1) -> None:
        super()._end_late(fed)
        removed_back, fed = self.removed_back, self._lines_fed
        if removed_back:
            for key in [key for key, until in removed_back.items() if until < fed]:
                del removed_back[key]
                self.events.append(LateOver(key))

    def _fold_delivery(self, key: tuple, fold: Optional[list], stamp: str, text: str) -> bool:
        """Fold a delivery attempt of a foreign message (`fold`: its lines folded so far)
        instead of handing its line back, if its status and time are read: a deferred
        message's retries over days are most lines handed back, and only each recipient's last
        one and their number matter. Whatever else comes about `key` (or a birth on it) is
        put in the stream after the fold (_unfold)."""
        # delivery_peek()'s common case inline (the plain match, a status that is an outcome),
        # as Correlator.feed() reads it; any other line through delivery_peek() itself.
        plain = ev.PLAIN_PEEK.match(text)
        if plain is not None:
            address, orig_to, status = plain.groups()
            status = ev.STATUS_OUTCOMES.get(status)
        if plain is None or status is None:
            peek = ev.delivery_peek(text)
            if peek is None or peek[2] is ev.UNKNOWN_STATUS:
                return False
            address, orig_to, status = peek
        if status == ev.SENT:  # as Correlator.feed() reads it
            answer_at = ev.sent_answer_at(text)
            if text[answer_at:answer_at + 1] == "f" and ev.forwarded_as(text) is not None:
                return False  # a copy may be born of it there: handed back whole
            if text[answer_at + PIPED_VIA:answer_at + PIPED_VIA + 1] == "v" and text.startswith(
                    PIPED, answer_at):  # (the letter first: as Correlator._delivery())
                self._piped_back(key, stamp)
                return False  # so may one a content filter makes
            if ev.names_loopback(text) and ev.named_last(text) is not None:
                # A filter's reply that may name its copy: handed back whole, as `queued as`.
                return False
            status = ev.sent_outcome(text, answer_at)
        # A traditional stamp's minute read aside once (_aside), its second added.
        second = _SECONDS.get(stamp[12:15]) if stamp[3:4] == " " else None
        if second is None:
            when = time_aside(self.clock, stamp)
        else:
            minute = self._aside.get(stamp[:12])
            if minute is None:
                if len(self._aside) > MINUTES_KEPT:
                    self._aside.clear()
                minute = self._aside[stamp[:12]] = time_aside(self.clock, stamp[:12] + ":00")
            when = minute + second if minute is not None else None
        if when is None:
            return False
        if fold is None:
            fold = self._new_fold(key)
        fold[0] += 1
        self.orphans += 1
        if status in ev.PROBE_STATUSES:
            return True  # a probe changes nothing
        target = address if orig_to is None else (address, orig_to)
        folded = fold[1].get(target)
        if folded is None:
            folded = fold[1][target] = [address, orig_to, 0, status, text, when, None]
        folded[2] += 1
        folded[3] = status
        folded[4] = text
        folded[5] = when
        if status == DEFERRED and folded[6] is None:
            folded[6] = when
        fold[2] = when
        if fold[3] is None or when < fold[3]:
            fold[3] = when
        if fold[4] is None or when > fold[4]:
            fold[4] = when
        return True

    def _new_fold(self, key: tuple) -> list:
        """The lines of `key` folded from now on: [their number, the deliveries by recipient,
        the time of the last delivery, the earliest, the latest] (Folded's fields)."""
        fold = self.folds[key] = [0, {}, None, None, None]
        return fold

    def _unfold(self, key: tuple) -> None:
        """The lines of `key` folded so far, into the stream here."""
        fold = self.folds.pop(key, None)
        if fold is not None:
            self.events.append(Folded(key, fold[0], list(fold[1].values()), fold[2], fold[3],
                                      fold[4]))

    def _client(self, event, session: Session, host: str, when: _dt.datetime):
        original = (host, event.orig_queue_id)
        if (self._tracked(event) and event.sasl_username is None
                and event.orig_queue_id is not None
                and original not in self.messages and original not in self.dropped):
            self.unsafe = "a re-injection whose original came before the chunk"
        return super()._client(event, session, host, when)

    # The overrides name every parameter: compiled (setup.py), super().method(key, *fields)
    # passed the tuple as one argument (mypyc 2.4).
    def _queued(self, session: Session, host: str, when: _dt.datetime, queue_id: str, name, ip,
                method, username, sender, orig_queue_id) -> None:
        key = (host, queue_id)
        if key not in self.messages:
            self._born(MESSAGE, key)
        super()._queued(session, host, when, queue_id, name, ip, method, username, sender,
                        orig_queue_id)
        self.placed[2][key] = len(self.events)

    def _requeued(self, event, line: str, host: str, stamp: str, clock: Clock) -> str:
        key, original = (host, event.queue_id), (host, event.orig_id)
        if original not in self.messages:
            if original in self.dropped:
                return self._born_untracked(key)
            # The parent may hold the original: the line goes there, and the new queue ID's
            # lines after it (MailScanner requeues every message a few seconds after it came).
            self._own(key, "a requeue")
            self._foreign(key)
            return self._hand_back(line, stamp)
        if key not in self.messages:
            self._born(MESSAGE, key)
        outcome = super()._requeued(event, line, host, stamp, clock)
        self.placed[2][key] = len(self.events)
        return outcome

    def _notice(self, event, message: Message, host: str, when: _dt.datetime) -> None:
        key = (host, event.notice_queue_id)
        if key not in self.messages:
            self._born(MESSAGE, key)
        super()._notice(event, message, host, when)
        self.placed[2][key] = len(self.events)

    def _forwarded(self, message: Message, recipient: Recipient, new_id: str,
                   host: str) -> None:
        key = (host, new_id)
        if key not in self.messages:
            self._born(MESSAGE, key)
        super()._forwarded(message, recipient, new_id, host)
        self.placed[2][key] = len(self.events)

    def _early(self, host: str, when: Optional[_dt.datetime]) -> bool:
        """Whether a line of `host` at `when` is in the host's first COPY_WITHIN of the chunk
        (or either time is unknown): a delivery or copy before the chunk may pair with it."""
        first = self.first_seen.get(host)
        return first is None or when is None or when - first <= COPY_WITHIN

    def _piped_to_filter(self, message: Message, recipient: Recipient, host: str,
                         when: _dt.datetime) -> None:
        sender = message.sender
        if sender is not None and self._early(host, when):
            self.early.append((host, sender, when, False, message.message_id, None))
        handed = self.copies_back.get((host, sender))
        if handed and any(picked_at >= when - COPY_WITHIN
                          and same_ids(message.message_id, message_id, queue_id)
                          for picked_at, message_id, queue_id in handed):
            self.unsafe = "a content filter's copy handed back may be of a message of the chunk"
        super()._piped_to_filter(message, recipient, host, when)

    def _new_copy(self, key: tuple, sender: str, when: _dt.datetime, line: str) -> Message:
        host = key[0]
        back = self.piped_back.get(host)
        # A copy of the parent's message (piped before the chunk, or a moment ago there)?
        # Told by its message-id (_copy_named()).
        early = self._early(host, when)
        contested = early or (back is not None and when - back <= COPY_WITHIN)
        mark = -1
        if key not in self.messages:
            marked = key not in self.announced
            self._born(MESSAGE, key)  # (a fold of the queue ID's goes in first)
            if marked:
                mark = len(self.events) - 1
        copy = super()._new_copy(key, sender, when, line)
        self.placed[2][key] = len(self.events)
        if contested:
            if mark < 0:  # (its queue ID's birth marked before, with nothing since: rare)
                self.unsafe = COPY_UNSURE
            else:
                self.contested[key] = (mark, line, copy, early)
        return copy

    def _copy_named(self, picked: Message, line: str, stamp: str) -> None:
        """A copy whose original may be the parent's (_new_copy()) is the chunk's if it pairs
        here, or may (the same message-id on a message here: the copy came first); the
        parent checks that none of its own pairs with it (Piece.early). Else it is handed
        back, pickup's line in place of its birth's mark, with this one: the parent pairs it,
        or follows it as one process would."""
        super()._copy_named(picked, line, stamp)
        key = (picked.host, picked.queue_id)
        if self.kept.get(key) is picked:
            # Named again (a second cleanup line): the parent checked the first message-id.
            self.unsafe = COPY_UNSURE
        contested = self.contested.pop(key, None)
        met = key in self.met
        self.met.discard(key)
        if contested is None or contested[2] is not picked:
            return
        sender = picked.sender
        assert sender is not None
        mark, pickup_line, _, early = contested
        if picked.kind != PICKED or (early and self._original_here(picked)):
            if met:  # the delivery handed back may have taken it there
                self.unsafe = COPY_UNSURE
            self.early.append((key[0], sender, picked.queued, True, picked.message_id,
                               picked.queue_id))
            self.kept[key] = picked
            return
        if (picked.size is not None or picked.nrcpt is not None or picked.recipients
                or picked.notices or picked.state != OPEN):
            # Lines of its came before cleanup's (out of order): they were read here.
            self.unsafe = COPY_UNSURE
            return
        # A message of the chunk's piped later may be its (checked then: _piped_to_filter()).
        # Past the first minute its original is not looked for among the chunk's messages,
        # which are many by then (a queue the filter held, flushed).
        self.copies_back.setdefault((key[0], sender), []).append(
            (picked.queued, picked.message_id, picked.queue_id))
        until = self.held_copies.get(key[0], picked.queued)
        if until is not None:
            self.held_copies[key[0]] = max(until, picked.queued + COPY_WITHIN)
        self.events[mark] = pickup_line
        self.orphans += 1  # (counted here when it was read)
        del self.messages[key]
        self._paired((key[0], sender), picked)
        self._foreign(key)
        self._hand_back(line, stamp)

    def _original_here(self, picked: Message) -> bool:
        """Whether a message of the chunk's can be the original of `picked`, a copy whose
        delivery to the command is still to come."""
        return any(message.kind != PICKED and message.host == picked.host
                   and message.sender == picked.sender and same_mail(message, picked)
                   for message in self.messages.values())

    def _sweep_copies(self, clocks: Dict[str, _dt.datetime]) -> None:
        # (Called only by slot_changed() here: a worker neither ends an input nor finishes.)
        for host, when in clocks.items():
            if host in self.held_copies:
                for key in [key for key in self.folds if key[0] == host]:
                    self._unfold(key)
                until = self.held_copies[host]
                if until is not None and when > until:
                    del self.held_copies[host]  # the parent lets every such copy go here
            self.events.append(CopiesMark(host, when))
        super()._sweep_copies(clocks)

    def _unfollow(self, key: tuple) -> None:
        if key in self.contested:  # (a copy not named within COPY_WITHIN)
            self.unsafe = COPY_UNSURE
        self.dropped.add(key)  # its later lines are dropped here, as there
        super()._unfollow(key)

    def _new_session(self, key: tuple, program, noted: Optional[Pending], name, ip, port,
                     when: _dt.datetime) -> Session:
        # A session is put in `sessions` right after it is built, if it is put in.
        session = super()._new_session(key, program, noted, name, ip, port, when)
        self.placed[0][key] = len(self.events)
        return session

    def _untracked_client(self, key: tuple, client: str) -> str:
        if self._birth_count < BIRTHS_KEPT:
            self.born_early.append(key)  # the parent's reply may have named it (Piece.awaited)
        if key in self.awaited_back:
            self.unsafe = COPY_ACROSS
        return super()._untracked_client(key, client)

    def _relayed(self, text: str, message: Message, recipient: Recipient, host: str) -> None:
        key = (host, ev.queued_as_in(text))
        if (key not in self._births and key not in self.messages
                and (self._birth_count < BIRTHS_KEPT or self._early(host, message.last_time))):
            # The parent looks for its birth (Piece.births), or a copy from loopback it holds.
            self.relayed_early.append(key)
        if key in self.foreign:
            self.unsafe = COPY_ACROSS  # (a copy from loopback whose session was the parent's)
        super()._relayed(text, message, recipient, host)

    def _copy_relayed(self, message: Message, key: tuple) -> Message:
        self._born(MESSAGE, key)
        self.dropped.discard(key)
        child = super()._copy_relayed(message, key)
        self.placed[2][key] = len(self.events)
        return child

    def _follow_reinjection(self, event, new_id: Optional[str], message: Message,
                            recipient: Recipient, host: str) -> None:
        child = (host, new_id)
        if child not in self.messages and child not in self.dropped:
            self.unsafe = "a re-injection whose copy came before the chunk"
        super()._follow_reinjection(event, new_id, message, recipient, host)

    def _slot_line(self, host: str, slot: str, stamp: str, clock: Clock) -> None:
        known = self._slots.get(host)
        if known == slot:
            return
        self._slots[host] = slot
        when = time_aside(clock, stamp)
        if known is None:
            # The host's first line in the chunk: only the parent knows its slot before.
            self.first_seen[host] = when
            self.held_copies[host] = None if when is None else when + COPY_WITHIN
            self.events.append(SlotMark(host, slot, when))
        elif when is not None:
            # The parent's sessions first: they were opened before any of the chunk's.
            self.events.append(SlotMark(host, None, when))
            self.slot_changed(host, when)


# -- The parent's side of a piece, compiled with the correlator it drives (parallel._Merge) ----


class Cursor:
    """Where in a piece's events the parent is: the place parallel._Placed notes of each key
    the correlator puts in its maps."""
    __slots__ = ("index",)

    def __init__(self) -> None:
        self.index = 0


def apply_batch(correlator: Correlator, batch: list, start: int, breaks: set, run: List[str],
                clock: Clock, cursor: Cursor) -> List[str]:
    """Apply one batch of a worker's events, the first at place `start`, to `correlator`, as
    the lines they stand for would have been; `run`: the lines handed back not yet fed, which
    this batch's lines are appended to (they are fed together; a run ends at any other event,
    and where the worker opened something still open at the chunk's end, at a place in
    `breaks`). Returns the run still unfed."""
    index = start
    for event in batch:
        kind = type(event)
        if kind is str and not (run and index in breaks):
            if not run:
                cursor.index = index
            run.append(event)
            index += 1
            continue
        if run:
            correlator.feed(run, clock, True)
            run = []
        cursor.index = index
        index += 1
        if kind is str:
            run.append(event)
        elif kind is Placed:
            placed: Placed = event
            correlator.feed([placed.line], clock, True, placed.place)
        elif kind is LateOver:
            late_over: LateOver = event
            correlator.late_over(late_over.key)
        elif kind is SlotMark:
            mark: SlotMark = event
            if mark.slot is not None:
                if correlator._slots.get(mark.host) == mark.slot:
                    continue
                correlator._slots[mark.host] = mark.slot
            if mark.when is None:
                continue
            if mark.slot is not None:
                correlator.slot_changed(mark.host, mark.when)
            else:  # the copies after the worker's idle sessions: at the CopiesMark after it
                correlator._seen(mark.when)
                correlator._close_idle({mark.host: mark.when})
        elif kind is CopiesMark:
            copies: CopiesMark = event
            correlator._sweep_copies({copies.host: copies.when})
        elif kind is Folded:
            apply_fold(correlator, event, clock)
        elif kind is tuple:  # a birth
            if event[0] is SESSION:
                correlator.session_reborn(event[1])
            else:
                correlator.message_reborn(event[1])
        elif kind is Untimed:  # counted with the piece's Stats
            untimed: Untimed = event
            correlator.stats.unread_stamp = untimed.stamp
        else:
            correlator.finished.append(event)
    return run


def apply_fold(correlator: Correlator, fold: Folded, clock: Clock) -> None:
    """Apply lines a worker folded (Folded) as correlate.Correlator.feed() and _delivery()
    would apply them one by one, to the message this process holds on their queue ID."""
    stats = correlator.stats
    stats.lines_read += fold.lines
    message = correlator._open(fold.key)
    if message is None:
        stats.untracked_queue_lines += fold.lines
        return
    stats.lines_used += fold.lines
    last, earliest, latest = fold.last, fold.earliest, fold.latest
    if last is None or earliest is None or latest is None:
        return
    message.last_time = last
    correlator._seen(earliest)
    correlator._seen(latest)
    if clock._latest is None or latest > clock._latest:
        clock._latest = latest
    for address, orig_to, attempts, status, text, when, deferred in fold.deliveries:
        message.recipient(address, orig_to).attempted(status, text, when, attempts, deferred)
