"""model: the records the correlator builds and every later stage reads.

SUMMARY
    Session    one smtpd connection, connect .. disconnect, on (host, syslog_name, pid)
    Message    one queue file, client= .. removed, on (host, queue ID)
    Recipient  one recipient of a Message: every delivery attempt folded into a final outcome
    Stats      what was read, used, skipped and left open
    STATS_FIELDS, SESSION_FIELDS, MESSAGE_FIELDS, RECIPIENT_FIELDS   their fields, in order
    STATS_ADDED                      a Stats kept before they came lacks these fields
    SESSION_ADDED, MESSAGE_ADDED     likewise a Session's, a Message's (their values then)

DESCRIPTION
    Slotted classes (native ones in the compiled build, which pickle as plain ones do): a busy
    log makes hundreds of thousands of them. A Message copies the client and SASL fields of its
    session when it is created, so that it can be reported after the session is gone (a
    deferred message outlives its session by days).

    Final outcomes of a recipient: sent, bounced, expired (the message expired while the
    recipient was still deferred), rejected (refused at RCPT or with the whole message, or
    discarded), and deferred (no final line before the log ends).

DIAGNOSTICS
    None: plain records. A recipient's details are parsed from its last delivery line on demand;
    a line of an unknown status gives a reason that names the status word.
"""

from __future__ import annotations

import datetime as _dt
from typing import Dict, Final, List, Optional, Sequence, Set, Tuple, Union

from maillog_sasl.events import (
    BOUNCED,
    DEFERRED,
    EXPIRED,
    FINAL_OUTCOMES,
    OUTCOMES,
    REJECTED,
    SENT,
    counter,
    delivery_details,
    known_status,
    parse_counters,
    tls_event,
)
from maillog_sasl.syslog import set_slots, slots_state

__all__ = ["OUTCOMES", "FINAL_OUTCOMES", "SENT", "DEFERRED", "BOUNCED", "EXPIRED", "REJECTED",
           "UNKNOWN_USER", "Session", "Recipient", "Message", "Stats", "OPEN", "REMOVED",
           "REFUSED", "QUEUED", "LOST", "Finished", "SESSION_ADDED", "MESSAGE_ADDED",
           "STATS_FIELDS", "STATS_ADDED"]

UNKNOWN_USER = "(unknown user)"
# What became of a Message (its `state`): still open; removed from the queue; refused whole (by
# cleanup, a milter, or at DATA) or discarded; still in the queue when the log ends; its queue
# ID reused before its removal was logged. (Final: compiled code reads them as constants; a
# name imported otherwise is looked up in the module's globals at each use.)
OPEN: Final = "open"
REMOVED: Final = "removed"
REFUSED: Final = "rejected"
QUEUED: Final = "queued"
LOST: Final = "lost"


# The fields of each, in the order their pickles (__reduce__) give them: named here rather than
# read from __slots__, which a class compiled by mypyc (setup.py) does not have.
SESSION_FIELDS = ("serial", "host", "service", "pid", "client_name", "client_ip", "client_port",
                  "start", "end", "tls_line", "counters_text", "_counters", "auth", "sasl_method",
                  "sasl_username", "auth_failures", "queue_ids", "rejects", "queued_recipients",
                  "connected", "complete", "last_time", "queued_rejects", "pending_action",
                  "proxied_since", "refused")
RECIPIENT_FIELDS = ("address", "orig_to", "status", "_details", "attempts", "first_deferred",
                    "last_attempt", "handed_to", "last_line")
MESSAGE_FIELDS = ("serial", "host", "queue_id", "kind", "session", "client_name", "client_ip",
                  "sasl_method", "sasl_username", "sasl_sender", "message_id", "sender", "size",
                  "nrcpt", "queued", "last_time", "end", "state", "recipients", "parent",
                  "notices", "expired", "reinjected_as", "instance")


class Session:
    __slots__ = SESSION_FIELDS

    # `start`: the correlator builds a session only at a line whose time it has read.
    def __init__(self, serial: int, host: str, service: str, pid: str, client_name: str,
                 client_ip: str, client_port: Optional[str], start: _dt.datetime):
        self.serial = serial
        self.host = host
        self.service = service
        self.pid = pid
        self.client_name = client_name
        self.client_ip = client_ip
        self.client_port = client_port
        self.start = start
        self.end: Optional[_dt.datetime] = None
        # The "TLS connection established" line, read only by the reports that show TLS.
        self.tls_line: Optional[str] = None
        # The disconnect line's counters as logged ("ehlo=1 auth=0/3 ..."), parsed on demand:
        # most sessions are only asked for `auth`, many never.
        self.counters_text = ""
        self._counters: Optional[dict] = None
        # (ok, total) AUTH commands from the counters, when logged: read once, asked often.
        self.auth: Optional[tuple] = None
        self.sasl_method: Optional[str] = None
        self.sasl_username: Optional[str] = None
        self.auth_failures: List[tuple] = []  # (time, events.AuthFailure)
        self.queue_ids: List[str] = []
        self.rejects: List[tuple] = []  # (time, events.Reject) refused before any queue file
        # nrcpt of its messages, and the recipients of those refused as a whole before qmgr
        # read them: for logs without disconnect counters.
        self.queued_recipients = 0
        self.connected = False  # its connect line was seen
        self.complete = False  # saw both connect and disconnect
        self.last_time = start
        # RCPT refusals naming its queue file (`QID: reject: RCPT`), for logs without
        # disconnect counters: its messages hold them, not `rejects`.
        self.queued_rejects = 0
        # (time, events.Hold or events.Discard) of a HOLD or DISCARD logged before its
        # transaction's queue file existed (NOQUEUE): the session's next message takes it.
        self.pending_action: Optional[tuple] = None
        # The time of a connect line that named another client before this session's first
        # line: a proxy's (XCLIENT), or a client whose session ended unlogged, told apart at
        # the disconnect (correlate.Correlator._materialize()).
        self.proxied_since: Optional[_dt.datetime] = None
        # (message, the recipient that holds its refusal's reason) of each of its messages
        # refused as a whole, held until its end, whose counters may tell their recipients
        # (correlate.Correlator._release_refused()). An empty tuple until the first: most
        # sessions have none.
        self.refused: Sequence[Tuple["Message", "Recipient"]] = ()

    def __reduce__(self):
        # A tuple of its fields rather than pickle's dict of them: parallel.py's workers hand
        # back hundreds of thousands of sessions, messages and recipients, pickled in half the
        # time and read back in less. Written out in SESSION_FIELDS order (compiled, a field
        # read by name through attrgetter costs a generic attribute lookup: 2 us a session).
        return _session, (self.serial, self.host, self.service, self.pid, self.client_name,
                          self.client_ip, self.client_port, self.start, self.end, self.tls_line,
                          self.counters_text, self._counters, self.auth, self.sasl_method,
                          self.sasl_username, self.auth_failures, self.queue_ids, self.rejects,
                          self.queued_recipients, self.connected, self.complete, self.last_time,
                          self.queued_rejects, self.pending_action, self.proxied_since,
                          self.refused)

    @property
    def tls(self) -> Optional[tuple]:
        """(protocol, cipher) of the session's TLS, e.g. ("TLSv1.3", "TLS_AES_256_GCM_SHA384")."""
        event = tls_event(self.tls_line) if self.tls_line is not None else None
        return (event.protocol, event.cipher) if event is not None else None

    @property
    def counters(self) -> dict:
        """{name: (ok, total)} from the disconnect line; empty without one (or before 3.0)."""
        if self._counters is None:
            self._counters = parse_counters(self.counters_text) if self.counters_text else {}
        return self._counters

    @property
    def auth_succeeded(self) -> bool:
        auth = self.auth
        return (auth is not None and auth[0] > 0) or self.sasl_username is not None

    @property
    def failed_auth_count(self) -> int:
        """Failed AUTH commands: of a session that never logged in, the counters (an AUTH
        refused before STARTTLS leaves no warning line); of one that did, and without counters,
        the warning lines. Postfix refuses every AUTH after a login before any password is read
        (smtpd_sasl_proto.c, `503 5.5.1 Error: already authenticated`, no warning) and counts
        it failed: `auth=1/2` is a typo before the login or a second AUTH after it, and only a
        warning line tells a typo."""
        auth = self.auth
        if auth is not None and auth[0] == 0:
            return max(auth[1], len(self.auth_failures))
        return len(self.auth_failures)

    @property
    def accepted_recipients(self) -> int:
        rcpt = counter(self.counters_text, "rcpt")
        return rcpt[0] if rcpt is not None else self.queued_recipients


# What a recipient keeps of its delivery line is from `relay=` on: the queue ID and the
# addresses before it are its message's and its own fields, some 45 bytes of each deferred
# recipient, held for days in a clogged queue (issue 16: the peak of the 10x benchmark log holds
# 25,000 of them). details() reads it behind this stand-in for what was cut.
_NO_ADDRESSES: Final = "Q: to=<>, "


def kept_fields(line: str) -> str:
    """`line` from its `, relay=` on where only the recipient's addresses come before it
    (`QID: to=<...>`, then perhaps `, orig_to=<...>`), or whole: a quoted address (the client
    writes it) may hold `, relay=` and any other field, and the reason after the status (the
    remote server writes it) may hold one where the line has none."""
    after = line.find(", ")
    if line.startswith(", orig_to=", after):
        after = line.find(", ", after + 2)
    if after < 0 or not line.startswith(", relay=", after) or line.find('"', 0, after) >= 0:
        return line
    return line[after + 2:]


class Recipient:
    __slots__ = RECIPIENT_FIELDS

    def __init__(self, address: str, orig_to: Optional[str]):
        self.address = address
        self.orig_to = orig_to
        self.status = DEFERRED
        self.attempts = 0
        self.first_deferred: Optional[_dt.datetime] = None
        self.last_attempt: Optional[_dt.datetime] = None
        self.handed_to: Optional[str] = None  # queue ID a content filter re-injected it as
        # The last delivery line (kept_fields()): dsn, relay and reason are read from it when
        # first asked for (most reports never ask, and a deferred recipient has many lines).
        self.last_line: Optional[str] = None
        self._details: Optional[tuple] = ("", "", "")

    def __reduce__(self):
        # In RECIPIENT_FIELDS order, written out as Session's.
        return _recipient, (self.address, self.orig_to, self.status, self._details,
                            self.attempts, self.first_deferred, self.last_attempt,
                            self.handed_to, self.last_line)

    def set_details(self, dsn: str, relay: str, reason: str) -> None:
        self.last_line = None
        self._details = (dsn, relay, reason)

    def attempted(self, status: str, line: str, when: _dt.datetime, attempts: int,
                  deferred: Optional[_dt.datetime]) -> None:
        """`attempts` more delivery attempts, the last with `status`, logged as `line` at
        `when`; `deferred`: the time of the first of them that deferred it, if any."""
        self.attempts += attempts
        self.status = status
        self.last_line = kept_fields(line)
        self._details = None
        self.last_attempt = when
        if self.first_deferred is None:
            self.first_deferred = deferred

    def details(self) -> tuple:
        if self._details is None:
            line = self.last_line
            assert line is not None, "attempted() keeps the line whose details it cleared"
            # Cut by kept_fields(), or whole: kept so, or by an older version's watch state.
            if line.startswith("relay="):
                line = _NO_ADDRESSES + line
            found = delivery_details(line)
            if found is None:
                self._details = ("", "", "")
            else:
                dsn, relay, status, reason = found
                if not known_status(status):
                    # Counted as deferred: the reason says what the line really said.
                    reason = f"status={status}" + (f" ({reason})" if reason else "")
                self._details = (dsn, relay, reason)
        return self._details

    @property
    def dsn(self) -> str:
        return self.details()[0]

    @property
    def relay(self) -> str:
        return self.details()[1]

    @property
    def reason(self) -> str:
        return self.details()[2]


class Message:
    __slots__ = MESSAGE_FIELDS

    def __init__(self, serial: int, host: str, queue_id: str, kind: str, queued: _dt.datetime):
        self.serial = serial
        self.host = host
        self.queue_id = queue_id
        # submission: queued by an smtpd client; notice: a bounce/delay notice about `parent`;
        # reinjected: what a content filter handed back for `parent`; requeued: `parent` under
        # the queue ID `postsuper -r` gave it, its recipients still to deliver.
        self.kind = kind
        self.session: Optional[Session] = None
        self.client_name = ""
        self.client_ip = ""
        self.sasl_method: Optional[str] = None
        self.sasl_username: Optional[str] = None
        self.sasl_sender: Optional[str] = None
        self.message_id: Optional[str] = None
        self.sender: Optional[str] = None
        self.size: Optional[int] = None
        # qmgr's count of its recipients. Of a message refused as a whole, which qmgr never
        # read: every recipient it counts, those no line names among them, when its session's
        # counters tell them (correlate.Correlator._release_refused()).
        self.nrcpt: Optional[int] = None
        self.queued = queued
        self.last_time = queued
        self.end: Optional[_dt.datetime] = None
        self.state = OPEN
        self.recipients: Dict[object, Recipient] = {}  # address or (address, orig_to) -> ...
        self.parent: Optional[Message] = None
        # Queue IDs of the notices it caused. Both lists are an empty tuple until their first
        # item (a list then): most messages have neither, and thousands wait in a queue.
        self.notices: Sequence[str] = ()
        self.expired = False
        # Queue IDs a content filter re-injected it as (their client= named it orig_queue_id).
        self.reinjected_as: Sequence[str] = ()
        # The Postfix instance whose queue holds it: the syslog_name of its cleanup's or qmgr's
        # lines (postmulti(1): `postfix`, `postfix-out`), never smtpd's, which master.cf often
        # overrides (`-o syslog_name=postfix/submission`); of a cleanup service overridden so,
        # the part before the `/` (correlate.instance_of()). "" until one of them logs it.
        self.instance = ""

    def __reduce__(self):
        # In MESSAGE_FIELDS order, written out as Session's.
        return _message, (self.serial, self.host, self.queue_id, self.kind, self.session,
                          self.client_name, self.client_ip, self.sasl_method, self.sasl_username,
                          self.sasl_sender, self.message_id, self.sender, self.size, self.nrcpt,
                          self.queued, self.last_time, self.end, self.state, self.recipients,
                          self.parent, self.notices, self.expired, self.reinjected_as,
                          self.instance)

    def recipient(self, address: str, orig_to: Optional[str] = None) -> Recipient:
        # Most recipients have no orig_to: their address alone is the key, no tuple to keep
        # for each of a deferred queue's recipients. An address cannot be a tuple, so the two
        # kinds of key never meet.
        key = address if orig_to is None else (address, orig_to)
        found = self.recipients.get(key)
        if found is None:
            found = self.recipients[key] = Recipient(address, orig_to)
        return found

    def counted_recipients(
            self, notices: bool = False) -> List[Tuple[Optional[Recipient], str]]:
        """(Recipient or None, outcome) for every recipient the reports count, if the message
        is authenticated; nothing for other messages. None stands for a recipient qmgr counted
        that no agent has logged yet at the end of the log (waiting: deferred). Of a message
        refused as a whole, its recipient with no address stands for as many as its nrcpt
        counts that no line names.

        With `notices`, also the recipients of a bounce or delay notice an authenticated
        message caused. A recipient handed to a content filter is counted where the filter
        re-injected it, one local(8) forwarded where the copy went.

        A list, not a generator: every finished message is asked, most for one recipient.
        """
        if self.sasl_username is None or (self.kind == "notice" and not notices):
            return []
        counted: List[Tuple[Optional[Recipient], str]] = [
            (recipient, recipient.status) for recipient in self.recipients.values()
            if recipient.handed_to is None]
        state = self.state
        if state == REFUSED and self.nrcpt is not None:
            # Refused as a whole: the recipients no line names are each the one with no
            # address that stands for them, with the refusal's reason.
            unnamed = self.recipients.get("")
            if unnamed is not None:
                counted += [(unnamed, REJECTED)] * (self.nrcpt - len(counted))
        elif state == QUEUED:
            # qmgr's count less every recipient logged, those handed on too: a content filter
            # takes a long list in batches, and its copy counts only the batch it took. A copy
            # qmgr has not read yet counts the recipients handed to it.
            nrcpt = self.nrcpt
            if nrcpt is None and self.kind == "reinjected" and self.parent is not None:
                nrcpt = sum(recipient.handed_to == self.queue_id
                            for recipient in self.parent.recipients.values())
            waiting = (nrcpt or 0) - sum(
                recipient.status != REJECTED for recipient in self.recipients.values())
            if waiting > 0:
                counted += [(None, DEFERRED)] * waiting
        return counted

    def waiting_recipients(self) -> int:
        """How many of counted_recipients() are waiting: counted by qmgr, logged by no agent."""
        return sum(recipient is None for recipient, _ in self.counted_recipients())

    def counted_outcomes(self) -> List[str]:
        """The outcomes of counted_recipients(), alone: what the incident rules count, for every
        message. Only a message still queued can have recipients waiting, and only one refused
        as a whole recipients no line names; the others' outcomes are their recipients'
        statuses, read without a pair made for each (in a loop: a list comprehension costs a
        function call more, for a list of one or two)."""
        state = self.state
        if state == QUEUED or (state == REFUSED and self.nrcpt is not None):
            return [status for _, status in self.counted_recipients()]
        outcomes: List[str] = []
        if self.sasl_username is None or self.kind == "notice":
            return outcomes
        for recipient in self.recipients.values():
            if recipient.handed_to is None:
                outcomes.append(recipient.status)
        return outcomes

    def inherit_from(self, parent: "Message", kind: str) -> None:
        """Carry the submitting client and user of `parent` (bounce notice, re-injection,
        requeue: made with its queued time)."""
        self.parent = parent
        self.kind = kind
        self.session = parent.session
        self.client_name = parent.client_name
        self.client_ip = parent.client_ip
        self.sasl_method = parent.sasl_method
        self.sasl_username = parent.sasl_username
        self.sasl_sender = parent.sasl_sender
        if kind == "reinjected":
            self.queued = parent.queued


# Their pickling (__reduce__): the fields in __slots__ order, and back.
_SESSION_SIZE = len(SESSION_FIELDS)
# The fields Session gained since the version before, last in its __slots__, and their values
# for a session an older state of watch kept without them (watch.py hashes that version's
# layout without them): it counted no queued reject, had no action waiting, no proxy's connect,
# held no refused message.
SESSION_ADDED = {"queued_rejects": 0, "pending_action": None, "proxied_since": None,
                 "refused": ()}
_SESSION_DEFAULTS = tuple(SESSION_ADDED.values())
_MESSAGE_SIZE = len(MESSAGE_FIELDS)
# Likewise Message's: a message kept before it had an instance has it unknown.
MESSAGE_ADDED = {"instance": ""}
_MESSAGE_DEFAULTS = tuple(MESSAGE_ADDED.values())


# Each is built through its __init__, whose arguments are its first fields (Message's `queued`
# among them): a compiled class's __new__ runs __init__, which Session.__new__(Session) would
# call without them.
def _session(*fields) -> Session:
    self = Session(*fields[:8])
    # A session kept by watch before the fields SESSION_ADDED existed has fewer.
    (self.serial, self.host, self.service, self.pid, self.client_name, self.client_ip,
     self.client_port, self.start, self.end, self.tls_line, self.counters_text, self._counters,
     self.auth, self.sasl_method, self.sasl_username, self.auth_failures, self.queue_ids,
     self.rejects, self.queued_recipients, self.connected, self.complete,
     self.last_time, self.queued_rejects, self.pending_action, self.proxied_since,
     self.refused) = (
         fields if len(fields) == _SESSION_SIZE
         else (*fields, *_SESSION_DEFAULTS[len(fields) - _SESSION_SIZE:]))
    return self


def _recipient(*fields) -> Recipient:
    self = Recipient(*fields[:2])
    (self.address, self.orig_to, self.status, self._details, self.attempts, self.first_deferred,
     self.last_attempt, self.handed_to, self.last_line) = fields
    return self


def _message(*fields) -> Message:
    self = Message(fields[0], fields[1], fields[2], fields[3], fields[14])
    (self.serial, self.host, self.queue_id, self.kind, self.session, self.client_name,
     self.client_ip, self.sasl_method, self.sasl_username, self.sasl_sender, self.message_id,
     self.sender, self.size, self.nrcpt, self.queued, self.last_time, self.end, self.state,
     self.recipients, self.parent, self.notices, self.expired, self.reinjected_as,
     self.instance) = (fields if len(fields) == _MESSAGE_SIZE
                       else (*fields, *_MESSAGE_DEFAULTS[len(fields) - _MESSAGE_SIZE:]))
    return self


# What correlate() yields, and every report reads: a finished session or message.
Finished = Union[Session, Message]


# Stats, and activity.py's records, are compiled as native classes (setup.py): their fields
# are read and counted directly, on every line. watch keeps them in its state, and a worker
# hands its Stats back (parallel.py), pickled, by either build to either: each pickles as a
# plain class with these __slots__ does (copyreg.__newobj__, the class, then
# (None, {slot: value})). A compiled class's __new__ runs its __init__, which must then take
# no argument.
STATS_FIELDS = ("lines_read", "lines_used", "not_syslog", "other_programs", "postfix_unused",
                "untracked_queue_lines", "repeated_lines", "sessions", "sessions_incomplete",
                "sessions_idle", "messages", "messages_open_at_end", "messages_lost",
                "unknown_statuses", "clock_anomalies", "first_time", "last_time", "sources",
                "usernames", "lines_cut", "unread_stamps", "unread_stamp", "earliest_moves",
                "latest_moves")
# The fields a Stats kept by watch before they came lacks, and their values then.
STATS_ADDED = {"unread_stamps": 0, "unread_stamp": None, "earliest_moves": 0, "latest_moves": 0}


class Stats:
    """Counters for --stats; `lines_read` = used + every skipped kind.

    `sessions` counts authenticated sessions, `messages` authenticated messages, `usernames`
    the distinct SASL usernames that queued mail; `lines_cut` the lines longer than
    sources.MAX_LINE, of which only the start was read; `unread_stamps` the Postfix lines of use
    not used for their stamp, which is no time (a month's name of a language not read, Feb 30),
    and `unread_stamp` the last such stamp; `earliest_moves` and `latest_moves` how often a
    line's time came before, or after, every time of its input read before it (a log read
    oldest line first moves its latest at every new second and its earliest hardly ever; one
    in reverse order, the other way round: correlate.source_read()); under --jobs each worker
    counts its own chunk's, and the sums differ a little from one process's.
    """

    __slots__ = STATS_FIELDS

    # Declared here, set one by one in __init__, so that a type checker knows every counter.
    lines_read: int
    lines_used: int
    not_syslog: int
    other_programs: int
    postfix_unused: int
    untracked_queue_lines: int
    repeated_lines: int
    sessions: int
    sessions_incomplete: int
    sessions_idle: int
    messages: int
    messages_open_at_end: int
    messages_lost: int
    unknown_statuses: int
    clock_anomalies: int
    first_time: Optional[_dt.datetime]
    last_time: Optional[_dt.datetime]
    sources: List[str]
    usernames: Set[str]
    lines_cut: int
    unread_stamps: int
    unread_stamp: Optional[str]
    earliest_moves: int
    latest_moves: int

    def __init__(self) -> None:
        self.lines_read = 0
        self.lines_used = 0
        self.not_syslog = 0
        self.other_programs = 0
        self.postfix_unused = 0
        self.untracked_queue_lines = 0
        self.repeated_lines = 0
        self.sessions = 0
        self.sessions_incomplete = 0
        self.sessions_idle = 0
        self.messages = 0
        self.messages_open_at_end = 0
        self.messages_lost = 0
        self.unknown_statuses = 0
        self.clock_anomalies = 0
        self.first_time = None
        self.last_time = None
        self.sources = []
        self.usernames = set()
        self.lines_cut = 0
        self.unread_stamps = 0
        self.unread_stamp = None
        self.earliest_moves = 0
        self.latest_moves = 0

    def __getstate__(self) -> tuple:
        return slots_state(self, STATS_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, (None, {**STATS_ADDED, **state[1]}))

    def untimed(self, stamp: str) -> None:
        """One more Postfix line of use not used for its stamp, `stamp`, which is no time."""
        self.unread_stamps += 1
        self.unread_stamp = stamp

    @property
    def lines_skipped(self) -> int:
        return self.lines_read - self.lines_used
