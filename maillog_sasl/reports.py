"""reports: finished sessions and messages -> rows of one report (a list of dicts, columns fixed).

SUMMARY
    REPORTS: name -> Report(columns, build, views, account, ids, streams, assesses)
    report_of(name, by=None) -> the Report (its view by user, for failures)
    build_report(name, finished, selection, **options) -> (columns, rows)
    check_arguments(name, selection, options): what build_report() cannot take, raised
    queue_caveat(stats) -> '' | what the queue report of a log shorter than the queue's
                        lifetime may leave out (one line)
    Scope(tally=False, assess=False): what a run saw, for the summary line (option `scope`)

DESCRIPTION
    Every report reads the stream that correlate() yields and a filters.Selection. `users`,
    `ips` and `failures` aggregate as the stream goes and return a sorted list; `sessions` and
    `messages` return a generator, so that a CSV of a huge log streams in flat memory.

    Options every report takes: flagged=True keeps the rows about the accounts incident.py
    flags (their verdicts need the whole stream: lists are filtered at the end, streamed rows
    wait in a temporary file, so memory stays flat and the stream is read once); top=N keeps
    the first N rows. A Scope passed as `scope` is filled with what the run saw.

    Column names are a contract (tests and scripts use them); columns are only ever added.
    users:    one row per SASL username (plus `(unknown user)`: successful logins that queued
              nothing, whose username Postfix never logged): the flagged accounts first, most
              severe, then most recipients; then the others, most IPs then most recipients;
              `flags` names the signals of a user incident.py flags as suspicious.
    sessions: one row per authenticated session (option show_all: every session with an AUTH
              attempt); `recipients` counts every RCPT, accepted or refused (as users counts
              them), `rejected` those refused. Mechanisms are lower-case in every report.
    messages: one row per recipient of an authenticated message, and per recipient refused
              before any queue file (queue_id NOQUEUE) in an authenticated session.
              `instance` as the queue report's (below); "" of a NOQUEUE row, in no queue.
    ips:      one row per (user, client IP); `role`, for a flagged account: `attacker` or
              `usual` (incident.ip_roles).
    failures: one row per client IP with failed AUTH; attempts come from the disconnect counters;
              `success_users` logged in from that IP after its first failure (`(unknown user)`
              for a login that queued nothing, so that later_success always names someone);
              for an IPv6 address, from its /64, where the guessed signal counts its failures
              (activity.failing_source(): an attacker there rotates its addresses).
              With by="user":
              one row per username tried (failures without one: `(unknown user)`);
              `later_success`: a login as that user after its first failure; `success_ips`: the
              IPs that failed for that user and later logged in as it (an IPv6 address: a
              login from its /64).
    suspicious, timeline: built in incident.py (flagged accounts, one account's hours); their
              columns are fixed here.
    queue:    (queue_caveat(): what a short log may leave out)
              messages still queued when the log ends (not removed, not expired) with
              recipients still deferred: authenticated users' messages, what content filters
              re-injected for them, what local(8) forwarded of them (kind forwarded, with the
              parent's queue ID), what `postsuper -r` or MailScanner requeued of them (kind
              requeued, under the new queue ID), and the bounce and delay notices they caused
              (kind notice, with the parent's queue ID): all of them eat the queue, and
              `--format ids` prints them for `postsuper -d -`. `instance` is the Postfix
              instance (postmulti) whose queue holds the message: a queue ID names a message
              only in its own instance's queue, as only on its own host.

    With a GeoIP database (option geo, an enrich.Geo) some reports gain columns, after their
    others (Report.geo_columns; without one, rows and columns are exactly as before):
    users `countries, asns` (of its logins, most logins first), sessions `country, asn`, ips
    `country, asn, as_org`, failures `country, asn` (by user: `countries, asns` of the IPs that
    failed for it, most attempts first), timeline `new_ips`. A place the database does not know
    is "" (country, as_org) or null (asn), and is left out of the lists.

    IDs (`Report.ids`, for --format ids): queue IDs of messages and queue, client IPs of ips
    (a flagged account's usual IPs left out) and failures; the other reports have none.

    A recipient's outcome is counted in exactly one of sent, deferred, bounced, expired,
    rejected; `recipients` is their sum. A recipient handed to a content filter is counted where
    the filter re-injected it, one local(8) forwarded where the copy went. Bounce notices are
    not the user's mail and are not counted.

DIAGNOSTICS
    None on log content: rows are built from what correlation produced. build_report() given
    what it cannot take (check_arguments()): ValueError for a report name that is none, a `by`
    that is no view or a `top` below 1; TypeError for an option it does not know or a value of
    the wrong type (a Selection, a Thresholds, a Scope, a Stats, a number).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import itertools
import pickle
import struct
import tempfile
from collections import Counter
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, TypeVar

from maillog_sasl import incident
from maillog_sasl.activity import OUTCOME_INDEX, Activity, Thresholds, failing_source
from maillog_sasl.correlate import account_of
from maillog_sasl.enrich import address_order
from maillog_sasl.events import counter
from maillog_sasl.filters import Selection
from maillog_sasl.model import (
    DEFERRED,
    OUTCOMES,
    QUEUED,
    REJECTED,
    UNKNOWN_USER,
    Finished,
    Message,
    Session,
    Stats,
)
from maillog_sasl.pairs import PairStore, StoreError

# `instance` (messages, queue): the Postfix instance whose queue holds the message
# (model.Message.instance); last, as a column added is, so that a script reading the CSV by
# position reads what it did.
USERS_COLUMNS = ["user", "sessions", "messages", "recipients", *OUTCOMES, "ips", "first_seen",
                 "last_seen", "methods", "hosts", "flags"]
SESSIONS_COLUMNS = ["host", "service", "pid", "client_ip", "client_name", "start", "end",
                    "sasl_method", "sasl_username", "auth", "tls", "messages", "recipients",
                    "failed_auth", "complete", "rejected"]
MESSAGES_COLUMNS = ["queue_id", "host", "sasl_username", "client_ip", "time", "sender",
                    "recipient", "status", "dsn", "relay", "attempts", "reason", "orig_to",
                    "message_id", "last_attempt", "parent_queue_id", "instance"]
IPS_COLUMNS = ["user", "client_ip", "client_name", "sessions", "messages", "recipients",
               "first_seen", "last_seen", "role"]
FAILURES_COLUMNS = ["client_ip", "attempts", "usernames", "mechanisms", "first_seen",
                    "last_seen", "later_success", "client_names", "sessions", "success_users"]
FAILURES_BY_USER_COLUMNS = ["user", "attempts", "ips", "sessions", "first_seen", "last_seen",
                            "later_success", "success_ips"]
SUSPICIOUS_COLUMNS = ["user", "severity", "signals", "reasons", "networks", "ips",
                      "first_flagged", "logins", "messages", "recipients", "failed_share"]
TIMELINE_COLUMNS = ["user", "hour", "logins", "ips", "networks", "new_networks", "auth_failures",
                    "recipients", *OUTCOMES, "signals"]
QUEUE_COLUMNS = ["host", "queue_id", "kind", "user", "sender", "pending_recipients",
                 "first_deferred", "last_attempt", "last_reason", "parent_queue_id", "queued",
                 "instance"]
# Added after the others when a GeoIP database is loaded (option `geo`), and only then: without
# one every report is what it always was.
USERS_GEO_COLUMNS = ["countries", "asns"]
SESSIONS_GEO_COLUMNS = ["country", "asn"]
IPS_GEO_COLUMNS = ["country", "asn", "as_org"]
FAILURES_GEO_COLUMNS = ["country", "asn"]
FAILURES_BY_USER_GEO_COLUMNS = ["countries", "asns"]
TIMELINE_GEO_COLUMNS = ["new_ips"]


class Report(NamedTuple):
    columns: List[str]
    build: Callable
    views: Optional[Dict[str, "Report"]] = None  # option `by` -> another shape of the report
    # row -> the account it is about, for --flagged (None: the report selects by itself).
    account: Optional[Callable[[dict], Optional[str]]] = None
    # row -> its ID for --format ids, or None for a row with none (None: the report has no IDs).
    ids: Optional[Callable[[dict], Optional[str]]] = None
    streams: bool = False  # build yields rows as the stream passes, instead of a sorted list
    # build, yielding each row as a tuple in `columns` order instead of a dict: what a CSV or
    # JSON of a streamed report is written from (None: the report has only dict rows).
    tuples: Optional[Callable] = None
    assesses: bool = False  # needs the Activity and verdicts whatever the options
    geo_columns: Tuple[str, ...] = ()  # added when a GeoIP database is loaded
    # build fills Scope.counts itself (the users report: its rows hold those very figures),
    # so that the Scope does not count the stream a second time.
    counts_selection: bool = False

    def columns_with(self, geo) -> List[str]:
        """The columns of the report, with its geo_columns when `geo` (an enrich.Geo) is."""
        return self.columns + list(self.geo_columns) if geo is not None else self.columns


def _spool_failed(error: OSError) -> StoreError:
    return StoreError(f"cannot keep the rows of --flagged in a temporary file: "
                      f"{error.strerror or error} (TMPDIR names the directory to use)")


# A mechanism as logged, or none (a session without a login): method_of() keeps which.
_Mechanism = TypeVar("_Mechanism", str, Optional[str])


def method_of(name: _Mechanism) -> _Mechanism:
    """A SASL mechanism as every report spells it (sessions' sasl_method, users' methods,
    failures' mechanisms): lower-case. Postfix logs it as the client typed it, in a login's
    client= line and in a failure's warning alike (`AUTH cram-md5` by hand, `PLAIN` from a
    mail program); mechanism names are case-insensitive, and the users report has always
    listed them lower-case."""
    return name.lower() if name else name


class Scope:
    """What one run of a report saw of its selection, for the summary line and --flagged.

    Made by the caller and passed to build_report as the option `scope`; build_report sets it
    up and fills it as the rows are consumed (nothing is final before they all are):

      tally     count the selection (users, sessions, messages) and which filters matched
                anything in the log (`matched`: "user", "ip", "host")
      assess    run the incident rules even when the report does not need them, so that the
                summary can name the flagged accounts
      counts    selected account -> [authenticated sessions, authenticated messages]
      verdicts  every account's incident.Verdict; `flagged`: those with a severity
      rows, shown   how many rows the report had, and how many --top let through (what the
                summary names under --top; a streamed report's rows are counted only then)
    """

    def __init__(self, tally: bool = False, assess: bool = False):
        self.tally = tally
        self.assess = assess
        self.selection = Selection()
        self.activity: Optional[Activity] = None
        self.verdicts: Optional[Dict[str, incident.Verdict]] = None
        self.flagged: Dict[str, incident.Verdict] = {}
        self.flagged_only = False
        self.counts: Dict[str, List[int]] = {}
        self.matched: set = set()
        self.selects_all = True  # the selection has no filter (set by start())
        self.counted_by_report = False  # the report's build fills `counts` (set by start())
        self.message_counter = MessageCounter(self.selection)
        self.top: Optional[int] = None
        self.rows = 0
        self.shown = 0

    def selected_counts(self) -> Dict[str, List[int]]:
        """counts, of the flagged accounts alone under --flagged."""
        if not self.flagged_only:
            return self.counts
        return {name: found for name, found in self.counts.items() if name in self.flagged}

    def flagged_shown(self) -> List[str]:
        """The flagged accounts among the selected ones, most severe first, then most
        recipients (as the users report lists them)."""
        found = []
        for name in self.counts:
            verdict = self.flagged.get(name)
            if verdict is not None and self.activity is not None:
                user = self.activity.users.get(name)
                recipients = sum(user.totals()) if user is not None else 0
                found.append(incident.flagged_order(verdict, recipients, name))
        return [name for _, _, name in sorted(found)]

    def start(self, report: Report, selection: Selection, options: dict,
              keep_hours: bool) -> None:
        self.selection = selection
        self.flagged_only = bool(options.get("flagged"))
        self.top = options.get("top")
        self.selects_all = selection.selects_all()
        self.counted_by_report = report.counts_selection
        self.message_counter = MessageCounter(selection)
        if report.assesses or self.flagged_only or self.assess:
            self.activity = Activity(incident.thresholds_of(options), selection, keep_hours,
                                     options.get("stats"))
            self.activity.enrichment = incident.enrichment_of(options, self.activity.limits)

    def watch(self, finished: Iterable[Finished]) -> Iterable[Finished]:
        """The stream, each item counted and recorded as it passes; the verdicts when it ends.
        The stream itself when there is nothing to count or record (a CSV of messages)."""
        count = self._count if self.tally and not self.counted_by_report else None
        match = self._match if self.tally and not self.selects_all else None
        activity = self.activity
        if activity is not None:
            # Chained, not looped over here: each item passes one generator of Python code,
            # the Activity's, not two.
            finished = itertools.chain(activity.watch(finished), self._assessed(activity))
        if count is None and match is None:
            return finished
        return self._watched(finished, count, match)

    def _assessed(self, activity: Activity) -> Iterator[Finished]:
        """No item: the verdicts, made when the stream has ended and `activity` is closed."""
        self.verdicts = incident.assess(activity, activity.limits)
        self.flagged = {name: verdict for name, verdict in self.verdicts.items()
                        if verdict.severity}
        yield from ()

    @staticmethod
    def _watched(finished: Iterable[Finished], count, match) -> Iterator[Finished]:
        for item in finished:
            if count is not None:
                count(item)
            if match is not None and isinstance(item, Session):
                match(item)
            yield item

    def _count(self, item) -> None:
        selection = self.selection
        everything = self.selects_all
        if isinstance(item, Session):
            user = session_user(item)
            if user is not None and (everything or selection.session(item, user)):
                self._entry(user)[0] += 1
        elif isinstance(item, Message):
            name = item.sasl_username
            if (name is not None and (everything or selection.message(item))
                    and self.message_counter.counts(item)):
                self._entry(name)[1] += 1

    def _match(self, session: Session) -> None:
        """Note which filters matched something in the log: --user any name the session
        tried or logged in as, --ip (--country, --asn) its client, --host its host."""
        selection = self.selection
        if selection.user_patterns and "user" not in self.matched:
            names = [session_user(session)] + [failure.username
                                               for _, failure in session.auth_failures]
            if any(name and selection.user(name) for name in names):
                self.matched.add("user")
        if selection.by_client and "ip" not in self.matched and selection.ip(session.client_ip):
            self.matched.add("ip")
        if selection.hosts and "host" not in self.matched and selection.host(session.host):
            self.matched.add("host")

    def _entry(self, name: str) -> List[int]:
        found = self.counts.get(name)
        if found is None:
            found = self.counts[name] = [0, 0]
        return found

    def is_flagged(self, name: Optional[str]) -> bool:
        return name is not None and name in self.flagged

    def only_flagged(self, rows, account: Callable[[dict], Optional[str]], streams: bool):
        """The rows about flagged accounts. Verdicts are final only when the stream ends: a list
        is filtered then; streamed rows go to a temporary file as they come (memory stays
        flat, and standard input is read once), and those of flagged accounts are read back,
        in order, once the last has come."""
        if not streams:
            return [row for row in rows if self.is_flagged(account(row))]
        return self._spooled(rows, account)

    def _spooled(self, rows, account) -> Iterator[dict]:
        names: Dict[Optional[str], int] = {}
        header = struct.Struct("<II")  # the account's number, the length of the pickled row
        try:
            spool = tempfile.TemporaryFile()
        except OSError as error:
            raise _spool_failed(error) from None
        with spool:
            for row in rows:
                number = names.setdefault(account(row), len(names))
                blob = pickle.dumps(row, pickle.HIGHEST_PROTOCOL)
                try:
                    spool.write(header.pack(number, len(blob)) + blob)
                except OSError as error:
                    raise _spool_failed(error) from None
            wanted = {number for name, number in names.items() if self.is_flagged(name)}
            if not wanted:
                return
            spool.seek(0)
            while True:
                head = spool.read(header.size)
                if len(head) < header.size:
                    break
                number, size = header.unpack(head)
                if number in wanted:
                    yield pickle.loads(spool.read(size))
                else:
                    spool.seek(size, 1)

    def capped(self, rows, streams: bool):
        """At most `top` rows (--top); counts them all, a stream's under --top only (a CSV of
        messages passes no generator of Python code for each of its rows)."""
        if not streams:
            rows = list(rows)
            self.rows = len(rows)
            if self.top is not None:
                rows = rows[:self.top]
            self.shown = len(rows)
            return rows
        return self._capped_stream(rows, self.top) if self.top is not None else rows

    def _capped_stream(self, rows, top: int) -> Iterator[dict]:
        for row in rows:
            self.rows += 1
            if self.shown < top:
                self.shown += 1
                yield row


def session_user(session: Session):
    """The name a session is reported under, or None when it did not log in."""
    if session.sasl_username is not None:
        return session.sasl_username
    return UNKNOWN_USER if session.auth_succeeded else None


def session_recipients(session: Session) -> Tuple[int, int]:
    """(accepted, refused) recipients of a session, as the users report counts them: the
    disconnect line's rcpt counter (`rcpt=3/5`: 3 of 5 accepted); without one, the
    recipients its messages queued or had refused as a whole, and its RCPT rejects (NOQUEUE,
    and those naming a queue file). A transaction refused as a whole before any queue file
    (NOQUEUE at MAIL, DATA, ...: its recipients unknown) counts as one refused, as in the users
    report. The counter's refused RCPTs hold those a client pipelined after a refused MAIL,
    each refused `503 5.5.1 Error: need MAIL command` with no line (smtpd.c rcpt_cmd()), as
    many as it had recipients: of a session whose counters show a MAIL refused (`mail=0/1`),
    no RCPT refused without a line is counted, none told from those (the users report counts
    lines alone)."""
    text = session.counters_text
    rcpt = counter(text, "rcpt")
    named = len(session.rejects) + session.queued_rejects
    if rcpt is None:
        return session.queued_recipients, named
    mail = counter(text, "mail")
    if mail is not None and mail[0] < mail[1]:
        return rcpt[0], named
    return rcpt[0], max(rcpt[1] - rcpt[0], len(session.rejects))


def recipient_rows(message: Message, notices: bool = False) -> Iterable[dict]:
    """The messages-report rows of one authenticated message (nothing for other messages)."""
    base = None
    for recipient, status in message.counted_recipients(notices):
        if base is None:
            base = {"queue_id": message.queue_id, "host": message.host,
                    "sasl_username": message.sasl_username, "client_ip": message.client_ip,
                    "time": message.queued, "sender": message.sender if message.sender is not None
                    else message.sasl_sender, "message_id": message.message_id,
                    "parent_queue_id": parent_queue_id(message),
                    "instance": message.instance}
        if recipient is None:
            yield {**base, "recipient": "", "status": status, "dsn": "", "relay": "",
                   "attempts": 0, "reason": _NOT_ATTEMPTED,
                   "orig_to": None, "last_attempt": None}
        else:
            yield {**base, "recipient": recipient.address, "status": status,
                   "dsn": recipient.dsn, "relay": recipient.relay, "attempts": recipient.attempts,
                   "reason": recipient.reason, "orig_to": recipient.orig_to,
                   "last_attempt": recipient.last_attempt}


_NOT_ATTEMPTED = "not yet attempted when the log ends"


def recipient_tuples(message: Message) -> List[tuple]:
    """recipient_rows() as tuples in MESSAGES_COLUMNS order: the rows of a messages CSV or JSON
    (millions of them) without a dict each; the same values, each delivery line parsed once.
    A list, not a generator: most messages have one recipient."""
    counted = message.counted_recipients()
    if not counted:
        return []
    # The message's own columns, first; its message_id, parent and instance go after the
    # recipient's.
    head = (message.queue_id, message.host, message.sasl_username, message.client_ip,
            message.queued, message.sender if message.sender is not None else message.sasl_sender)
    message_id, parent, instance = message.message_id, parent_queue_id(message), message.instance
    rows: List[tuple] = []
    for recipient, status in counted:
        if recipient is None:
            rows.append(head + ("", status, "", "", 0, _NOT_ATTEMPTED, None, message_id, None,
                                parent, instance))
        else:
            dsn, relay, reason = recipient.details()
            rows.append(head + (recipient.address, status, dsn, relay, recipient.attempts, reason,
                                recipient.orig_to, message_id, recipient.last_attempt, parent,
                                instance))
    return rows


def parent_queue_id(message: Message) -> Optional[str]:
    """The queue ID of the message `message` was made from: a content filter's copy's (kind
    reinjected) the one handed to the filter, the login's own; a notice's the one it is
    about."""
    return message.parent.queue_id if message.parent is not None else None


def session_reject_tuples(session: Session, user: str) -> Iterator[tuple]:
    """session_reject_rows() as tuples in MESSAGES_COLUMNS order."""
    host, ip = session.host, session.client_ip
    for when, reject in session.rejects:
        yield ("NOQUEUE", host, user, ip, when, reject.sender, reject.recipient, REJECTED,
               reject.dsn, "", 0, reject.reason, None, None, when, None, "")


def session_reject_rows(session: Session, user: str) -> Iterable[dict]:
    """Rows for recipients, and transactions (an empty recipient), refused before any queue
    file existed (NOQUEUE)."""
    for when, reject in session.rejects:
        yield {"queue_id": "NOQUEUE", "host": session.host, "sasl_username": user,
               "client_ip": session.client_ip, "time": when, "sender": reject.sender,
               "recipient": reject.recipient, "status": REJECTED, "dsn": reject.dsn,
               "relay": "", "attempts": 0, "reason": reject.reason, "orig_to": None,
               "message_id": None, "last_attempt": when, "parent_queue_id": None,
               "instance": ""}


def _earliest(current, candidate):
    if current is None or (candidate is not None and candidate < current):
        return candidate
    return current


def _latest(current, candidate):
    if current is None or (candidate is not None and candidate > current):
        return candidate
    return current


class MessageCounter:
    """Which finished messages add one to their account's `messages`: each message a login
    sent counts once. Its submission counts when the selection takes it. Under --since/--until
    a submission an after-queue content filter took is removed at once, while the copy the
    filter re-injected (or one `postsuper -r` requeued) lives on, deferred for days: when the
    window takes such a copy and leaves out its submission, the first copy taken counts for
    it, so that `messages` agrees with the recipients counted and the messages report's rows.
    With no filter, exactly the submissions count."""

    __slots__ = ("selection", "everything", "through_copies")

    def __init__(self, selection: Selection):
        self.selection = selection
        self.everything = selection.selects_all()
        # id() -> the submission counted through a copy finished before it (it is kept alive
        # here, so that its id names no other): rare, a filter holding the original.
        self.through_copies: Dict[int, Message] = {}

    def counts(self, message: Message) -> bool:
        """Whether `message`, selected, adds one to its account's messages."""
        if message.kind == "submission":
            return (not self.through_copies
                    or self.through_copies.pop(id(message), None) is None)
        if self.everything or message.kind == "notice":
            return False
        root = message.parent
        while root is not None and root.kind != "submission":
            root = root.parent
        # A submission not finished yet is asked on the times it has so far: its window only
        # grows, so one taken now is taken when it finishes and counts itself then.
        if (root is None or id(root) in self.through_copies
                or self.selection.message(root)):
            return False
        self.through_copies[id(root)] = root
        return True


class _UserTotals:
    __slots__ = ("sessions", "messages", "outcomes", "first_seen", "last_seen",
                 "methods", "hosts", "countries", "asns")

    def __init__(self):
        self.sessions = 0
        self.messages = 0
        self.outcomes = [0] * len(OUTCOMES)  # recipients per outcome, in OUTCOMES order
        self.first_seen = None
        self.last_seen = None
        self.methods = set()  # as logged, each lower-cased once at the end (method_of)
        self.hosts = set()
        self.countries = None  # Counter: country -> logins, with a database
        self.asns = None  # Counter: AS number -> logins

    def add_message(self, message: Message, statuses: Iterable[str], counts: bool) -> None:
        self.messages += counts
        outcomes = self.outcomes
        for status in statuses:
            outcomes[OUTCOME_INDEX[status]] += 1
        if message.sasl_method:
            self.methods.add(message.sasl_method)


_REJECTED_INDEX = OUTCOME_INDEX[REJECTED]


def _totals_of(totals: Dict[str, _UserTotals], user: str) -> _UserTotals:
    found = totals.get(user)
    if found is None:
        found = totals[user] = _UserTotals()
    return found


def _count_place(entry, place) -> None:
    """Count a login's country and ASN on a row's `countries` and `asns` Counters."""
    if entry.countries is None:
        entry.countries, entry.asns = Counter(), Counter()
    if place.country:
        entry.countries[place.country] += 1
    if place.asn is not None:
        entry.asns[place.asn] += 1


def most_first(counts: Optional[Counter]) -> list:
    """The keys of `counts`, the most counted first (ties in their own order)."""
    return [key for key, _ in sorted((counts or {}).items(),
                                     key=lambda item: (-item[1], item[0]))]


def _users(finished: Iterable[Finished], selection: Selection, options: dict):
    totals: Dict[str, _UserTotals] = {}
    geo = options.get("geo")
    everything = selection.selects_all()
    activity = options.get("activity")
    # With no filter, the Activity has seen exactly what this report counts: the IPs each
    # account logged in from are its pairs (every session with a username), and the outcomes
    # of an account's recipients its totals (its messages, and its sessions' refusals), and
    # its messages the submissions it counted, so only the logins without a username are
    # counted here. With a filter, the selected sessions' own pairs and recipients.
    from_activity = everything and activity is not None
    logins = None if from_activity else PairStore()
    message_counter = MessageCounter(selection)
    unnamed_ips = set()
    for item in finished:
        # The loop of the default report, for every session and message: the entry's updates
        # written out, session_user() asked only of a session that names no username.
        if isinstance(item, Session):
            name = item.sasl_username
            user = name if name is not None else session_user(item)
            if user is None or not (everything or selection.session(item, user)):
                continue
            entry = totals.get(user) or _totals_of(totals, user)
            entry.sessions += 1
            start, end = item.start, item.end or item.start
            seen = entry.first_seen
            if seen is None or (start is not None and start < seen):
                entry.first_seen = start
            seen = entry.last_seen
            if seen is None or (end is not None and end > seen):
                entry.last_seen = end
            if item.sasl_method:
                entry.methods.add(item.sasl_method)
            entry.hosts.add(item.host)
            if logins is not None:
                logins.login(user, item.client_ip, start)
            elif name is None:
                unnamed_ips.add(item.client_ip)
            if item.rejects and not (from_activity and name is not None):
                entry.outcomes[_REJECTED_INDEX] += len(item.rejects)
            if geo is not None:
                _count_place(entry, geo.lookup(item.client_ip))
            continue
        name = item.sasl_username
        # Nothing of a message without a username is counted: the correlator hands one on only
        # when it has a parent (a notice or a re-injection), never a submission.
        if name is None or not (everything or selection.message(item)):
            continue
        if from_activity:
            if item.kind == "submission" or item.counted_outcomes():
                entry = totals.get(name) or _totals_of(totals, name)
                if item.sasl_method:
                    entry.methods.add(item.sasl_method)
        else:
            statuses = item.counted_outcomes()
            counts = message_counter.counts(item)
            if statuses or counts:
                _totals_of(totals, name).add_message(item, statuses, counts)
    if logins is not None:
        ips = logins.ips_per_account()
        logins.close()
    else:
        assert activity is not None
        ips = activity.ips_per_user()
        if unnamed_ips:
            # A username of "(unknown user)" is the row of the logins without one too.
            ips[UNKNOWN_USER] = len(unnamed_ips.union(activity.pairs.ips_of(UNKNOWN_USER)))
        for user, entry in totals.items():
            found = activity.users.get(user)
            if found is not None:
                entry.outcomes = [own + its for own, its in zip(entry.outcomes, found.totals())]
                entry.messages = found.messages
    scope = options["scope"]
    flagged = scope.flagged
    if scope.tally:
        scope.counts = {user: [entry.sessions, entry.messages] for user, entry in totals.items()
                        if entry.sessions or entry.messages}
    rows = []
    for user, entry in totals.items():
        verdict = flagged.get(user)
        row = {"user": user, "sessions": entry.sessions,
               "flags": [signal.name for signal in verdict.signals] if verdict else [],
               "messages": entry.messages,
               "recipients": sum(entry.outcomes)}
        row.update(zip(OUTCOMES, entry.outcomes))
        row.update(ips=ips[user], first_seen=entry.first_seen, last_seen=entry.last_seen,
                   methods=sorted(set(map(method_of, entry.methods))), hosts=sorted(entry.hosts))
        if geo is not None:
            row.update(countries=most_first(entry.countries), asns=most_first(entry.asns))
        rows.append(row)
    # Flagged accounts first, most severe, then most recipients; then the others as always.
    rows.sort(key=lambda row: (
        (0, *incident.flagged_order(flagged[row["user"]], row["recipients"], row["user"]))
        if row["user"] in flagged else
        (1, row["user"] == UNKNOWN_USER, -row["ips"], -row["recipients"], row["user"])))
    return rows


def _sessions(finished: Iterable[Finished], selection: Selection, options: dict):
    geo = options.get("geo")
    for item in finished:
        if not isinstance(item, Session):
            continue
        user = session_user(item)
        attempted = item.auth is not None and item.auth[1] > 0 or item.auth_failures
        if user is None and not (options.get("show_all") and attempted):
            continue
        if not selection.session(item, user):
            continue
        auth, tls = item.auth, item.tls
        accepted, rejected = session_recipients(item)
        row = {"host": item.host, "service": item.service, "pid": item.pid,
               "client_ip": item.client_ip, "client_name": item.client_name,
               "start": item.start, "end": item.end, "sasl_method": method_of(item.sasl_method),
               "sasl_username": user,
               "auth": "" if auth is None else (str(auth[0]) if auth[0] == auth[1]
                                                else f"{auth[0]}/{auth[1]}"),
               "tls": f"{tls[0]} with {tls[1]}" if tls else "",
               "messages": len(item.queue_ids), "recipients": accepted + rejected,
               "failed_auth": item.failed_auth_count, "complete": item.complete,
               "rejected": rejected}
        if geo is not None:
            place = geo.lookup(item.client_ip)
            row.update(country=place.country, asn=place.asn)
        yield row


def _messages(finished: Iterable[Finished], selection: Selection, options: dict):
    for item in finished:
        if isinstance(item, Session):
            user = session_user(item)
            if item.rejects and user is not None and selection.session(item, user):
                yield from session_reject_rows(item, user)
        elif selection.message(item):
            yield from recipient_rows(item)


def _message_tuples(finished: Iterable[Finished], selection: Selection, options: dict):
    """_messages() as tuples in MESSAGES_COLUMNS order (Report.tuples): the rows of each item
    flattened by itertools.chain, not passed on one by one by a generator of Python code."""
    return itertools.chain.from_iterable(_item_tuples(finished, selection))


def _item_tuples(finished: Iterable[Finished], selection: Selection) -> Iterator[Iterable[tuple]]:
    """The rows of each item of `finished` that has any."""
    session_type = Session
    everything = selection.selects_all()
    message_ok = selection.message
    for item in finished:
        if isinstance(item, session_type):
            if item.rejects:
                user = session_user(item)
                if user is not None and (everything or selection.session(item, user)):
                    yield session_reject_tuples(item, user)
        elif everything or message_ok(item):
            yield recipient_tuples(item)


def _ips(finished: Iterable[Finished], selection: Selection, options: dict):
    pairs: Dict[Tuple[str, str], dict] = {}  # (user, client IP) -> its row

    def entry_for(user, ip):
        key = (user, ip)
        found = pairs.get(key)
        if found is None:
            found = pairs[key] = {"user": user, "client_ip": ip, "client_name": "",
                                  "sessions": 0, "messages": 0, "recipients": 0,
                                  "first_seen": None, "last_seen": None}
        return found

    message_counter = MessageCounter(selection)
    for item in finished:
        if isinstance(item, Session):
            user = session_user(item)
            if user is None or not selection.session(item, user):
                continue
            entry = entry_for(user, item.client_ip)
            entry["client_name"] = item.client_name
            entry["sessions"] += 1
            entry["recipients"] += len(item.rejects)
            entry["first_seen"] = _earliest(entry["first_seen"], item.start)
            entry["last_seen"] = _latest(entry["last_seen"], item.end or item.start)
        elif selection.message(item):
            counted = len(item.counted_outcomes())
            counts = message_counter.counts(item)
            if not counted and not counts:
                continue
            entry = entry_for(item.sasl_username, item.client_ip)
            entry["messages"] += counts
            entry["recipients"] += counted
    scope = options["scope"]
    activity = scope.activity
    roles = (incident.ip_roles(activity, scope.flagged, activity.limits)
             if activity is not None else {})
    rows = list(pairs.values())
    geo = options.get("geo")
    for row in rows:
        row["role"] = roles.get(row["user"], {}).get(row["client_ip"], "")
        if geo is not None:
            place = geo.lookup(row["client_ip"])
            row.update(country=place.country, asn=place.asn, as_org=place.as_org)
    rows.sort(key=lambda row: (row["user"] == UNKNOWN_USER, row["user"], row["first_seen"] is None,
                               row["first_seen"] or 0, row["client_ip"]))
    return rows


def _note_success(successes: dict, key, name, moment) -> None:
    """successes[key][name] = the latest successful login (name: a user, or an IP)."""
    found = successes.setdefault(key, {})
    found[name] = _latest(found.get(name), moment)


def _failures(finished: Iterable[Finished], selection: Selection, options: dict):
    by_ip: Dict[str, dict] = {}  # client IP -> its row
    # failing_source() (the IP, or an IPv6 address's /64) -> {user: latest successful login}
    user_successes: Dict[str, Dict[str, _dt.datetime]] = {}
    for item in finished:
        if not isinstance(item, Session) or not selection.ip(item.client_ip):
            continue
        if not selection.host(item.host) or not selection.window(item.start, item.end):
            continue
        if item.auth_succeeded:
            # A login that queued nothing has no username in the log: (unknown user), so that
            # later_success never stands without a name in success_users.
            _note_success(user_successes, failing_source(item.client_ip), session_user(item),
                          item.end or item.start)
        failed = item.failed_auth_count
        if not failed:
            continue
        # The accounts tried as every report names them (lower-case): a spray's spellings of
        # one account are one.
        usernames = {account_of(failure.username) for _, failure in item.auth_failures
                     if failure.username}
        if selection.user_patterns and not any(selection.user(name) for name in usernames):
            continue
        entry = by_ip.get(item.client_ip)
        if entry is None:
            entry = by_ip[item.client_ip] = {
                "client_ip": item.client_ip, "attempts": 0, "usernames": set(),
                "mechanisms": set(), "first_seen": None, "last_seen": None,
                "later_success": False, "client_names": set(), "sessions": 0}
        entry["attempts"] += failed
        entry["sessions"] += 1
        entry["usernames"].update(usernames)
        # (An AUTH anvil refused logged no mechanism: events.AUTH_RATE_LIMIT.)
        entry["mechanisms"].update(method_of(failure.mechanism)
                                   for _, failure in item.auth_failures if failure.mechanism)
        entry["client_names"].add(item.client_name)
        times = [when for when, _ in item.auth_failures] or [item.start, item.end]
        for when in times:
            entry["first_seen"] = _earliest(entry["first_seen"], when)
            entry["last_seen"] = _latest(entry["last_seen"], when)
    scope = options["scope"]
    geo = options.get("geo")
    rows = []
    for ip, entry in by_ip.items():
        entry["success_users"] = _later(user_successes.get(failing_source(ip), {}),
                                        entry["first_seen"])
        entry["later_success"] = bool(entry["success_users"])
        if scope.flagged_only and not any(
                scope.is_flagged(name) for name in (*entry["usernames"], *entry["success_users"])):
            continue  # an IP neither tried nor got into a flagged account
        for key in ("usernames", "mechanisms", "client_names"):
            entry[key] = sorted(entry[key])
        if geo is not None:
            place = geo.lookup(ip)
            entry.update(country=place.country, asn=place.asn)
        rows.append(entry)
    rows.sort(key=lambda row: (-row["attempts"], address_order(row["client_ip"])))
    return rows


def _later(latest: dict, since) -> list:
    """The names in `latest` (name -> latest success) that succeeded at or after `since`."""
    return sorted(name for name, moment in latest.items()
                  if since is not None and moment is not None and moment >= since)


def _failures_by_user(finished: Iterable[Finished], selection: Selection, options: dict):
    geo = options.get("geo")
    by_user: Dict[str, dict] = {}  # username -> its row
    # user -> {failing_source() of a client IP: latest login}: an IPv6 address's failures are
    # its /64's, as the by-IP rows and the guessed signal read them
    successes: Dict[str, Dict[str, _dt.datetime]] = {}
    for item in finished:
        if not isinstance(item, Session) or not selection.ip(item.client_ip):
            continue
        if not selection.host(item.host) or not selection.window(item.start, item.end):
            continue
        if item.auth_succeeded and item.sasl_username is not None:
            _note_success(successes, item.sasl_username, failing_source(item.client_ip),
                          item.end or item.start)
        failed = item.failed_auth_count
        if not failed:
            continue
        # Postfix names the username on failures only since 3.9; the rest stay unattributed,
        # and so do failed AUTH that only the disconnect counters show.
        times: Dict[str, List[_dt.datetime]] = {}  # account tried -> when
        for when, failure in item.auth_failures:
            # The account whatever the case it was typed in, as a login names it
            # (correlate.account_of()): a row of each spelling split a guessing campaign.
            name = account_of(failure.username) if failure.username else UNKNOWN_USER
            times.setdefault(name, []).append(when)
        unlogged = failed - len(item.auth_failures)
        if unlogged > 0:
            times.setdefault(UNKNOWN_USER, []).extend([item.start] * unlogged)
        for name, moments in times.items():
            if not selection.user(name):
                continue
            entry = by_user.get(name)
            if entry is None:
                entry = by_user[name] = {"user": name, "attempts": 0, "ips": {},
                                         "sessions": 0, "first_seen": None, "last_seen": None}
                if geo is not None:
                    entry["attempts_by_ip"] = Counter()
            entry["attempts"] += len(moments)
            if geo is not None:
                entry["attempts_by_ip"][item.client_ip] += len(moments)
            entry["sessions"] += 1
            for when in moments:
                entry["first_seen"] = _earliest(entry["first_seen"], when)
                entry["last_seen"] = _latest(entry["last_seen"], when)
                entry["ips"][item.client_ip] = _earliest(entry["ips"].get(item.client_ip), when)
    rows = []
    for name, entry in by_user.items():
        logins = successes.get(name, {})
        entry["later_success"] = bool(_later(logins, entry["first_seen"]))
        # The evidence of a guess that worked: an IP that failed for this account, then got in
        # (for an IPv6 address, a login from its /64).
        entry["success_ips"] = sorted(
            (ip for ip, first in entry["ips"].items()
             if _later({ip: logins.get(failing_source(ip))}, first)), key=address_order)
        if geo is not None:
            # The countries and ASNs of the IPs that failed for the user, most attempts first.
            countries: Counter = Counter()
            asns: Counter = Counter()
            for ip, attempts in entry.pop("attempts_by_ip").items():
                place = geo.lookup(ip)
                if place.country:
                    countries[place.country] += attempts
                if place.asn is not None:
                    asns[place.asn] += attempts
            entry.update(countries=most_first(countries), asns=most_first(asns))
        entry["ips"] = len(entry["ips"])
        rows.append(entry)
    rows.sort(key=lambda row: (-row["attempts"], row["user"]))
    return rows


def _queue(finished: Iterable[Finished], selection: Selection, options: dict) -> List[dict]:
    """Messages still queued at the end of the log with recipients still deferred: the
    authenticated users' own, what content filters re-injected for them, and the notices they
    caused (see the module docstring)."""
    rows = []
    for item in finished:
        if not isinstance(item, Message) or item.state != QUEUED or item.expired:
            continue
        if item.sasl_username is None or not selection.message(item):
            continue
        pending = [row for row in recipient_rows(item, notices=True) if row["status"] == DEFERRED]
        if not pending:
            continue
        deferred = [recipient.first_deferred for recipient, status
                    in item.counted_recipients(notices=True)
                    if status == DEFERRED and recipient is not None and recipient.first_deferred]
        attempted = [row for row in pending if row["last_attempt"] is not None]
        last = max(attempted, key=lambda row: row["last_attempt"]) if attempted else None
        rows.append({"host": item.host, "queue_id": item.queue_id, "kind": item.kind,
                     "user": item.sasl_username, "sender": pending[0]["sender"],
                     "pending_recipients": len(pending),
                     "first_deferred": min(deferred) if deferred else None,
                     "last_attempt": last["last_attempt"] if last else None,
                     "last_reason": last["reason"] if last else pending[0]["reason"],
                     "parent_queue_id": parent_queue_id(item), "queued": item.queued,
                     "instance": item.instance})
    rows.sort(key=lambda row: (row["user"], row["host"], row["instance"], row["queued"],
                               row["queue_id"]))
    return rows


# Postfix's default maximal_queue_lifetime: how long a message may wait in the queue.
QUEUE_LIFETIME = _dt.timedelta(days=5)


def queue_caveat(stats: Stats) -> str:
    """What the queue report of a log with these `stats` may leave out, as one line ('' when
    nothing). A log that covers less than Postfix's default queue lifetime may have begun
    after mail still queued was queued: it retries that mail under the queue ID alone, and
    only the log of its login (a rotated file) names its account, so here it is no
    authenticated mail."""
    first, last = stats.first_time, stats.last_time
    if first is None or last is None or last - first >= QUEUE_LIFETIME:
        return ""
    return (f"the log covers {_span(last - first)}, less than Postfix's default queue lifetime "
            f"({QUEUE_LIFETIME.days} days): mail queued before it began may still be queued, "
            "its account named only in an older log; give the rotated logs too "
            "(/var/log/maillog*)")


def _span(length: _dt.timedelta) -> str:
    """`2 days 3 hours`, `40 minutes 5 seconds`: `length` in its largest two units."""
    hours, seconds = divmod(length.seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    units = ((length.days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second"))
    shown = [incident.counted(count, unit) for count, unit in units if count][:2]
    return " ".join(shown) or "less than a second"


def _queue_id(row: dict) -> Optional[str]:
    queue_id = row.get("queue_id")
    return queue_id if queue_id != "NOQUEUE" else None


def _client_ip(row: dict) -> Optional[str]:
    # A flagged account's usual IPs (its office, home, phone) are no IDs: `-r ips --flagged
    # -f ids` is the attackers' IPs, for a firewall. Nor is what a damaged line has between
    # the brackets (a paste's wrapped line: `162.<spaces>216.193.51`, which `xargs` would make
    # two addresses of), nor Postfix's `unknown`: a firewall set gets addresses only. Nor is a
    # scoped IPv6 address: Python's takes any text after the `%` for the scope (a forged line's
    # `fe80::1%x y`, `fe80::1%$(id)`), and no firewall set takes a scope.
    ip = row.get("client_ip")
    if row.get("role") == incident.USUAL or not ip or "%" in ip:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return ip


def _user(row: dict) -> Optional[str]:
    return row.get("user")


def _sasl_username(row: dict) -> Optional[str]:
    return row.get("sasl_username")


REPORTS = {
    "users": Report(USERS_COLUMNS, _users, account=_user, assesses=True,
                    geo_columns=tuple(USERS_GEO_COLUMNS), counts_selection=True),
    "sessions": Report(SESSIONS_COLUMNS, _sessions, account=_sasl_username, streams=True,
                       geo_columns=tuple(SESSIONS_GEO_COLUMNS)),
    "messages": Report(MESSAGES_COLUMNS, _messages, account=_sasl_username, ids=_queue_id,
                       streams=True, tuples=_message_tuples),
    "ips": Report(IPS_COLUMNS, _ips, account=_user, ids=_client_ip, assesses=True,
                  geo_columns=tuple(IPS_GEO_COLUMNS)),
    "failures": Report(FAILURES_COLUMNS, _failures,
                       {"user": Report(FAILURES_BY_USER_COLUMNS, _failures_by_user,
                                       account=_user,
                                       geo_columns=tuple(FAILURES_BY_USER_GEO_COLUMNS))},
                       ids=_client_ip, geo_columns=tuple(FAILURES_GEO_COLUMNS)),
    "suspicious": Report(SUSPICIOUS_COLUMNS, incident.suspicious_report, account=_user,
                         assesses=True),
    "timeline": Report(TIMELINE_COLUMNS, incident.timeline_report, account=_user,
                       assesses=True, geo_columns=tuple(TIMELINE_GEO_COLUMNS)),
    "queue": Report(QUEUE_COLUMNS, _queue, account=_user, ids=_queue_id),
}


# The options build_report() takes, and the type each must have when given (not None).
OPTIONS = {"by": object, "flagged": object, "top": int, "tuples": object, "scope": Scope,
           "show_all": object, "geo": object, "allow": object, "thresholds": Thresholds,
           "stats": Stats}


def check_arguments(name: str, selection: Optional[Selection], options: dict) -> None:
    """A TypeError or ValueError naming what build_report() cannot take, before anything is
    read: a misspelt option (`show_al=True`) or view (`by="users"`) was ignored, and a report
    of the whole log came back; a report name that is none was a bare KeyError, a number in
    quotes a TypeError from deep inside."""
    if not isinstance(name, str) or name not in REPORTS:
        raise ValueError(f"no report {name!r}: one of {', '.join(sorted(REPORTS))}")
    if selection is not None and not isinstance(selection, Selection):
        raise TypeError(f"selection: a Selection (Selection.build(...)), not {selection!r}")
    for option, value in options.items():
        kind = OPTIONS.get(option)
        if kind is None:
            raise TypeError(f"no report option {option!r}: one of {', '.join(sorted(OPTIONS))}")
        if value is not None and (not isinstance(value, kind) or (kind is int and
                                                                   isinstance(value, bool))):
            wanted = "a whole number" if kind is int else f"a {kind.__name__}"
            raise TypeError(f"{option}: {wanted}, not {value!r}")
    views = sorted(set(REPORTS["failures"].views or ()) | {"ip"})
    if options.get("by") is not None and options["by"] not in views:
        raise ValueError(f"by: one of {', '.join(views)}, not {options['by']!r}")
    if options.get("top") is not None and options["top"] < 1:
        raise ValueError(f"top: a number of rows, at least 1, not {options['top']!r}")


def report_of(name: str, by: Optional[str] = None) -> Report:
    """The Report `name`, in its view `by` when it has one (failures by user)."""
    report = REPORTS[name]
    if report.views and by in report.views:
        report = report.views[by]
    return report


def gives_tuples(report: Report, options: dict) -> bool:
    """Whether build_report(..., tuples=True) gives this report's rows as tuples in its
    `columns` order: when it has a tuple builder, --flagged (which reads dicts) is off, and
    no GeoIP column is added to its rows."""
    return (report.tuples is not None and not options.get("flagged")
            and not (report.geo_columns and options.get("geo") is not None))


def build_report(name: str, finished: Iterable[Finished], selection: Optional[Selection] = None,
                 **options):
    """(columns, rows) of report `name` over the correlator's output `finished`.

    `options` are the report's own settings, e.g. show_all=True for the sessions report, or
    by="user" for the failures report's view by username; flagged=True keeps the rows about
    the accounts the suspicious report flags; top=N keeps the first N rows; tuples=True asks
    for rows as tuples in `columns` order where the report has them (gives_tuples()), for a
    renderer that writes every column in order (CSV, JSON, NDJSON). `scope`, a Scope,
    is filled with what the run saw (see Scope) once the rows are consumed.
    """
    check_arguments(name, selection, options)
    report = report_of(name, options.get("by"))
    build = report.build
    if options.get("tuples") and report.tuples is not None and gives_tuples(report, options):
        build = report.tuples
    selection = selection or Selection()
    scope = options.get("scope") or Scope()
    scope.start(report, selection, options, keep_hours=name == "timeline")
    options = {**options, "scope": scope, "activity": scope.activity}
    # The reports that assess read the scope's Activity, fed as the stream passes, and its
    # verdicts, made when the stream ends.
    rows = build(scope.watch(finished), selection, options)
    if scope.flagged_only and report.account is not None:
        rows = scope.only_flagged(rows, report.account, report.streams)
    return report.columns_with(options.get("geo")), scope.capped(rows, report.streams)
