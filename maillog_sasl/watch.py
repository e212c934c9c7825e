"""watch: read Postfix logs as they grow and alert when an account turns suspicious, with
memory across runs.

SUMMARY
    engine_format() -> str          a fingerprint of the classes the engine keeps (state.py
                                    refuses a state of another format)
    older_formats() -> (str, ...)   the formats of older versions whose engines read as they are
    Engine(limits, pairs)           a correlate.Correlator and an activity.Activity, fed as
                                    lines come; pickled into the state between runs
    engine.feed(path, chunk, zone, year) -> the finished sessions and messages
    engine.assess(countries) -> {user: Finding}   the suspicious report's verdicts on the
                                    lines read so far (as if the log ended now), on a copy
    engine.fold_accounts()          an account kept under several spellings (an engine of an
                                    older format, state.py) merged into its own
    History(activity, countries)    watch's new-network and new-country rules: the account's
                                    whole history, new-network weighted by how settled it is
    Watch(state, paths, sinks, limits, zone=None, year=None, complain=print-to-stderr,
          metrics_path=None, alarms=Alarms(), containment=None, geo=None, allow=None)
    Alarms(max_deferred=50, storm_ips=10, storm_window=6.0)   the limits of watch's own alerts
    Containment(hold, reject, map_path, dry_run, postfix=None)   what --contain does
    watch.once() -> exit status     read what is new, alert, commit
    watch.follow(stop, interval=1.0) -> exit status   the same, again and again, until `stop`
    watch.snapshot() -> metrics.Snapshot; watch.write_metrics()   the --metrics file
    forget(state, user) -> bool     drop one account's history and its place in the engine
    describe(state) -> dict         what `maillog-sasl state` shows

DESCRIPTION
    One engine for both ways of running. Lines go to a Correlator exactly as the batch
    reports feed them (correlate.correlate(): one Clock per log, a new source per file), and
    what it finishes goes to an Activity exactly as incident.watch() does; both are kept in
    the state between runs, with the PairStore's tables in the state database, so a message
    deferred today and expired in five days keeps its user, and the accounts' networks,
    baselines and busy hours outlive the log's retention.

    After each read that brought lines, the engine is copied (state.freeze/thaw, the PairStore
    shared), the copy's correlator is finished as at the end of a log (open sessions closed,
    open messages counted as queued with their recipients deferred), its Activity closed, and
    incident.assess() judges it: exactly what `maillog-sasl -r suspicious` says of the same
    lines. The copy shares the PairStore, and what it writes there is undone when it has been
    judged (state.trial(): a savepoint of the open transaction).

    Two rules are judged otherwise than in the reports, because watch has what a log has not:
    each account's whole history since the state was made (History, given to incident.assess).
    A report compares with the first --baseline-days of its log; watch compares a login with
    everything the account did before it, and the account's own first login is its start:

      new-network  a login from a provider block (IPv4 /16, IPv6 /32) the account never
                   logged in from before; silent until the account was first seen
                   --baseline-days before (no flood on a fresh state); a strong signal (the
                   account flagged `high` by it alone) when the history is settled, that is
                   first seen SETTLED_DAYS (30) days or more before, logins on SETTLED_ACTIVE
                   (10) days or more, from at most SETTLED_BLOCKS (2) blocks; weak otherwise
                   (an account that roams, or a young one), as in the reports
      new-country  a login from a country the account never logged in from before, silent as
                   new-network is; weak, one fact with new-network (incident.SAME_FACT). The
                   countries are the state's `countries` table (every login's country, while
                   runs have a database; a run with one after runs without fills it from the
                   pairs' IPs, each with the account's first login from it) and the logins read
                   since the last commit

    With GeoIP databases (geo) or allow-lists (allow) or --sender-mismatch, the engine's
    Activity has an enrich.Enrichment, kept in the state with it (its Geo attached again at
    each run): countries, travel and sender-mismatch read logins and senders across runs.

    An alert is raised for a flagged account (severity not empty) with a signal not alerted
    yet, or a severity above the highest alerted: one per (account, signal), again only when
    the severity rises. Its fields (alerts.FIELDS, then the extra ones):

      time           when it was raised (this machine's clock, ISO 8601)
      user, severity, signals, reasons   as the suspicious report (strong signals first)
      ips            the IPs the account logged in from in the 24 hours before its latest
                     login, latest first (at most IPS_LISTED)
      recipients, deferred   its recipients, and those still deferred (or left in the queue)
      queue_ids      its messages still in the queue (submissions, re-injections, notices):
                     for `postsuper -h`
      first_seen_ip  the IP the flagged activity came from: the guessed login's IP when
                     `guessed` fired, else the newest IP of the account at the moment it was
                     first flagged (its first login from that IP)
      host           the host that logged the account last
      new_signals    the signals this alert raised; first_flagged; log_time (the time of the
                     newest line read)

    Besides the suspicious report's signals, watch raises alerts of its own (WATCH_SIGNALS),
    each an alert with that one signal: they never change an account's severity (nor hold back
    the alert of a rising one), and each is raised once per account, again only when its count
    reaches twice the count last alerted (`level`, kept in the state; forget() resets it):

      queue-growth   (high) more than Alarms.max_deferred of the account's messages are in the
                     queue with a recipient Postfix deferred (checked at each assessment)
      failure-storm  (medium) failed AUTH naming the account from at least Alarms.storm_ips
                     distinct IPs within Alarms.storm_window hours (the window ending at the
                     newest failure); only for an account that has logged in: a username that
                     never did (admin, info) is guessing noise, left to the guessed rule. The
                     alert has `failing_ips` (newest first); first_seen_ip is the oldest of them
                     and first_flagged when the limit was reached. The failures within the
                     window are kept in the state, so a storm spread over several --once runs
                     is one
      contained      (critical) with `containment` (watch --contain): an account whose alert
                     reaches critical for the first time is contained at once with
                     contain.contain(): its queued messages (the alert's queue_ids) put on hold,
                     each through its Postfix instance's postsuper (model.Message.instance),
                     and/or USER REJECT written to the check_sasl_access table. The alert says
                     what was done (`actions`: the commands and the table's diff, as `contain`
                     prints them; `dry_run`; `failed`); a dry run (not root) only says what
                     would be. Once per account (forget() resets it); a run that died before
                     its commit contains again at the next (containing twice changes nothing)

    Alerts are stored with the offsets in one transaction, then written; an alert stored but
    not yet written when a run died is written by the next run.

    once(): reads every log from its stored position to its end (follow.Follower: the rest of a
    rotated file first; a container runtime's log as the lines its wrapper holds, a line the
    runtime split read when its last part has come), assesses, commits, writes the alerts.
    follow(): the same every `interval` seconds; the state is committed when alerts are raised,
    every CHECKPOINT_EVERY seconds while lines come, and when `stop` is set. The assessment runs
    after a read that finished a session or message or changed an open one (engine.signature(),
    so that inbound mail and connections that never try AUTH cost no assessment), and takes at
    most ASSESS_SHARE of the time, unless an alert would then come more than LATENCY seconds
    after its line: on a large state (measured: 0.6 to 0.9 s for 3,000 accounts and a week of
    logins) it is judged less often, never later than that.

    Metrics (metrics_path, metrics.py): counters of what the logs ended (logins, failed AUTH,
    messages and recipients by outcome) kept in the state with the offsets, the flagged
    accounts of the last assessment (kept too), the queue of authenticated messages, the alerts
    raised, and the lag behind each log; the file is rewritten at the end of once(), and every
    metrics.METRICS_EVERY seconds and at the end of follow().

DIAGNOSTICS
    once() returns 0 (no new alert), 1 (new alerts) or 2 (a log could not be read, or an alert
    could not be written, or the metrics file, or Postfix lines were not judged because their
    stamp is no time, or a Feb 29 split a log's yearless lines years apart, or a log was read
    out of time order; every other log is still read and every alert still raised).
    follow() returns 0 when stopped, 2 when an alert could not be written. What goes wrong is
    one line through `complain`: lines whose stamp is no time when a log first has them, then
    at most every UNTIMED_TOLD_EVERY seconds (and those not told yet when it stops); a Feb 29
    past the first lines read of a log (a copy of an old log, its time years later: one among
    them places them in its leap year, Engine.feed()) that moved its year back, once; a log
    read out of time order (newest line first, or logs joined newest first), as the reports
    tell a file (correlate.source_read()), once a run.
    state.StateError and pairs.StoreError pass on to the caller.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as _dt
import itertools
import json
import os
import stat
import sys
import threading
import time
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from maillog_sasl import activity as activity_module
from maillog_sasl import contain as contain_module
from maillog_sasl import enrich, events, metrics, model, syslog
from maillog_sasl.activity import (
    INFRASTRUCTURE_FAULTS,
    Activity,
    Thresholds,
    network_of,
    provider_of,
)
from maillog_sasl.alerts import SinkError, to_json
from maillog_sasl.correlate import (
    BACKWARDS_TOLD,
    Correlator,
    account_of,
    fold_accounts,
    joined_told,
    leap_told,
    runs_backwards,
    untimed_lines,
)
from maillog_sasl.enrich import Enrichment, Geo
from maillog_sasl.follow import Chunk, Follower
from maillog_sasl.incident import (
    SEVERITY_ORDER,
    Signal,
    Verdict,
    assess,
    counted,
    enrichment_of,
    new_country_found,
)
from maillog_sasl.model import (
    DEFERRED,
    OUTCOMES,
    REFUSED,
    REJECTED,
    Finished,
    Message,
    Session,
)
from maillog_sasl.pairs import PairStore
from maillog_sasl.sources import Source, file_anchor, leap_start_of, open_path, unlike_zone_told
from maillog_sasl.state import State, StateError, freeze, thaw
from maillog_sasl.syslog import Clock, split_line, unlike_zone_name

CHECKPOINT_EVERY = 30.0
RECENT = _dt.timedelta(hours=24)
# Following: the assessment may take this share of the time at most, unless an alert would
# then come later than LATENCY seconds after the line that completed its evidence.
ASSESS_SHARE = 0.2
LATENCY = 5.0
IPS_LISTED = 20
# Following, a log whose stamps give no time would be told of at every look (every second):
# told when first met, then at most this often (seconds).
UNTIMED_TOLD_EVERY = 3600.0

# Alerts of watch's own beside the suspicious report's signals (see the module docstring): they
# never change an account's severity, and each is raised again only when its count doubles.
QUEUE_GROWTH, FAILURE_STORM, CONTAINED = "queue-growth", "failure-storm", "contained"
WATCH_SIGNALS = (QUEUE_GROWTH, FAILURE_STORM, CONTAINED)
QUEUE_GROWTH_SEVERITY, FAILURE_STORM_SEVERITY = "high", "medium"
STORM_IPS_KEPT = 4_096  # per account: past this many IPs in the window, the oldest goes
COUNTRIES_COMPLETE = "countries_complete"  # kept: whether every login's country is in the state


class Containment:
    """What `watch --contain` does to an account that reaches critical: `hold` its queued
    messages (postsuper -h), `reject` its mail (USER REJECT in the check_sasl_access table at
    `map_path`); with `dry_run`, only say so (contain.contain's dry run)."""

    def __init__(self, hold: bool, reject: bool, map_path: str, dry_run: bool,
                 postfix: Optional[contain_module.Postfix] = None):
        self.hold, self.reject, self.map_path = hold, reject, map_path
        self.dry_run = dry_run
        self.postfix = postfix or contain_module.Postfix()


@dataclasses.dataclass(frozen=True)
class Alarms:
    """The limits of watch's own alerts; the defaults are the command line's."""
    max_deferred: int = 50      # queue-growth: more than this many messages deferred
    storm_ips: int = 10         # failure-storm: failed AUTH from at least this many IPs ...
    storm_window: float = 6.0   # ... within this many hours


# -- the engine's format ---------------------------------------------------------------------

_FORMATS: List[str] = []


def _lacked(*versions: Mapping[str, Optional[tuple]]) -> Dict[str, Optional[tuple]]:
    """What the classes lacked before all of `versions` came ({class name: attributes, or
    None for a class that came whole})."""
    lacked: Dict[str, Optional[tuple]] = {}
    for added in versions:
        for name, fields in added.items():
            known = lacked.get(name, ())
            lacked[name] = (None if known is None or fields is None
                            else known + tuple(field for field in fields if field not in known))
    return lacked


# The attributes each recent version lacked, newest first: the version just before this one
# lacked the first, the one before it the first two (PREVIOUS_LAYOUTS).
_ADDED_RECENTLY = ({"Session": ("refused",)},
                   {"Message": tuple(model.MESSAGE_ADDED)},
                   {"Stats": ("earliest_moves", "latest_moves")},
                   {"Stats": ("unread_stamps", "unread_stamp"),
                    "IpActivity": ("logins", "forgotten_login"), "SeenLogin": None,
                    "LateFailure": None},
                   {"BusyHours": ("rising",),
                    "IpActivity": ("username_failures", "older_usernames")},
                   {"Session": ("proxied_since",)})
# The attributes classes gained since a version whose engines this one reads as they are (those
# above among them): the layout hashed without them is that version's; None for a class that
# came whole (an older engine holds none of it). A Session or Message kept then is read with
# model.SESSION_ADDED's or MESSAGE_ADDED's values.
_ADDED = _lacked({"Hold": None, "Discard": None, "_ActionFields": None, "ProxyReply": None,
                  "_ProxyReplyFields": None, "Session": tuple(model.SESSION_ADDED)},
                 *_ADDED_RECENTLY)
# Event classes that an engine never holds (the correlator applies them as they come): left out
# of every layout, so that a state kept before they came is of this version's format.
_NEVER_KEPT = frozenset(("Requeued", "_RequeuedFields"))
# Classes whose pickle is that of an earlier form of theirs, hashed as that form was (its
# __slots__, _fields and __init__'s names): states written with either are one format.
# activity.Thresholds pickles its dict of limits, as the frozen dataclass it was did.
_PICKLED_AS = {"Thresholds": (None, None, ["__post_init__", "__setattr__"])}


# The hashes of the layout of the engine's classes (layouts()), written out: in the compiled
# build (setup.py) a class has neither __slots__ nor __init__ code to hash. A test works them
# out from the source, and fails when a class changed and these did not (a new format then).
CORE_LAYOUT = 0x1C91CC9B4DBCCC5A
BEFORE_LAYOUT = 0x1AD073D352EC472D  # as before the attributes _ADDED came
# As before those of _ADDED_RECENTLY came: before the first, before the first two, ...
PREVIOUS_LAYOUTS = (0x031A12382D23BDBA, 0x18ED93CE21A4CCC8, 0x008A4269A07F2D5C,
                    0x0AEBB273EDE7E904, 0x1B3EEB6EFB1A3680, 0x1AA8F14E4AD8D638)
ENRICHED_LAYOUT = 0x0A2D22BE958AA9E3


def _layout(modules, more=(), added=None) -> int:
    """A stable hash of the layout of the classes of `modules`, and `more`; as it was before
    the attributes `added` ({class name: names, or None for the whole class}) came."""
    kept = [value for module in modules for _name, value in sorted(vars(module).items())
            if isinstance(value, type) and value.__module__ == module.__name__]
    layout = []
    for value in kept + list(more):
        if value.__qualname__ in _NEVER_KEPT or (
                added and value.__qualname__ in added and added[value.__qualname__] is None):
            continue
        code = getattr(value.__dict__.get("__init__"), "__code__", None)
        slots = value.__dict__.get("__slots__")
        names = sorted(code.co_names) if code is not None else None
        gone = added.get(value.__qualname__) if added else None
        if gone:
            slots = tuple(name for name in slots if name not in gone)
            names = [name for name in names or () if name not in gone]
        layout.append((value.__qualname__,
                       *_PICKLED_AS.get(value.__qualname__,
                                        (slots, getattr(value, "_fields", None), names))))
    total = 0
    for byte in repr(layout).encode():  # a stable hash (str's hash() is salted)
        total = (total * 131 + byte) % (1 << 61)
    return total


def layouts() -> Tuple[int, ...]:
    """CORE_LAYOUT, BEFORE_LAYOUT, the PREVIOUS_LAYOUTS and ENRICHED_LAYOUT as the classes
    imported are: true only of the pure-Python modules (the test runs it on them)."""
    engine_modules = (events, model, syslog, activity_module)
    previous = []
    lacked: Dict[str, Optional[tuple]] = {}
    for added in _ADDED_RECENTLY:
        lacked = _lacked(lacked, added)
        previous.append(_layout(engine_modules, [Engine], lacked))
    return (_layout(engine_modules, [Engine]), _layout(engine_modules, [Engine], _ADDED),
            *previous, _layout((enrich,)))


def engine_format() -> str:
    """A fingerprint of the layout of every class an Engine may hold: a state written by a
    version whose classes differ is refused rather than half-read."""
    if not _FORMATS:
        enriched = ENRICHED_LAYOUT
        # Format 3 keeps a recipient's delivery line from `relay=` on (model.kept_fields()),
        # which a version of format 2, of the same classes, would read as no line: refused by
        # it. This version reads the whole lines of format 2 as they are.
        _FORMATS.append(f"3-{CORE_LAYOUT:016x}-{enriched:016x}")
        # Format 1 is what versions before watch kept GeoIP facts wrote: the same classes and
        # never an Enrichment, so that such an engine reads as it is (older_formats()); each
        # also as it was before the attributes _ADDED came, and before those _ADDED_RECENTLY did.
        for core in (CORE_LAYOUT, BEFORE_LAYOUT, *PREVIOUS_LAYOUTS):
            _FORMATS.extend([f"2-{core:016x}-{enriched:016x}", f"1-{core:016x}"])
    return _FORMATS[0]


def older_formats() -> Tuple[str, ...]:
    """The formats of older versions whose engines this one reads as they are."""
    engine_format()
    return tuple(_FORMATS[1:])


# -- the engine ------------------------------------------------------------------------------

# account -> {country: (its first login from there, the IP of that login)}
Countries = Dict[str, Dict[str, Tuple[_dt.datetime, str]]]


class Finding(NamedTuple):
    verdict: Verdict
    alert: dict  # the alert's fields but `time` and `new_signals`


class Engine:
    """See the module docstring. Only plain data: it is pickled into the state."""

    def __init__(self, limits: Thresholds, pairs: PairStore):
        self.correlator = Correlator()
        self.activity = Activity(limits, stats=self.correlator.stats, pairs=pairs)
        self.clocks: Dict[str, Clock] = {}
        self.hosts: Dict[str, str] = {}  # account -> the host that logged it last

    @property
    def pairs(self) -> PairStore:
        return self.activity.pairs

    @property
    def last_read(self) -> Optional[_dt.datetime]:
        """The time of the newest line read (not of the latest session or message ended)."""
        return self.correlator.stats.last_time

    def feed(self, path: str, chunk: Chunk, zone=None, year: Optional[int] = None
             ) -> List[Finished]:
        """Read one chunk of a log's lines; the sessions and messages it finished."""
        clock = self.clocks.get(path)
        if clock is None:
            clock = self.clocks[path] = Clock(year=year, tz=zone,
                                              anchor=file_anchor(chunk.name, zone))
            # A Feb 29 among the log's first lines places those before it in its leap year,
            # as the reports' first block does (a copy of an old log, its time years later).
            start = None if year is not None else leap_start_of(chunk.lines, zone, clock.anchor)
            if start is not None:
                clock.start_in(*start)
        correlator = self.correlator
        correlator.read_input(path)
        if chunk.new_file:
            correlator.new_source()
            correlator.stats.sources.append(chunk.name)
        correlator.feed(chunk.lines, clock)
        correlator.stats.lines_cut += chunk.cut
        correlator.settle_copies(final=False)  # what this read can tell, not a day later
        correlator.saw_last_line()  # the newest line read, for log_time and --metrics
        # Not a message held for its late lines, as long as they may come: a later read's. A
        # relay writes them within seconds of the removal, in this machine's time too: once
        # that is past, the log read to its end holds them if it ever will (an old log read
        # as if followed hands its messages on at once, as before).
        last = correlator.stats.last_time
        now = _dt.datetime.now(_dt.timezone.utc)
        correlator.end_late_before(now if last is None or last < now else last)
        finished = correlator.take_finished(alone=True)
        for item in finished:
            self._observe(item)
        return finished

    def _observe(self, item: Finished) -> None:
        self.activity.observe(item)
        if item.sasl_username is not None:
            self.hosts[item.sasl_username] = item.host

    def signature(self) -> int:
        """What the open sessions and messages would hand on if the log ended now, in brief:
        when it changes (or something was finished), the verdicts may have changed."""
        correlator = self.correlator
        return hash((
            tuple((key, session.client_ip, session.sasl_username, session.auth,
                   len(session.auth_failures), len(session.rejects), len(session.queue_ids))
                  for key, session in correlator.sessions.items()),
            tuple((key, message.sasl_username, message.kind, message.nrcpt, message.state,
                   tuple((recipient.status, recipient.handed_to)
                         for recipient in message.recipients.values()))
                  for key, message in correlator.messages.items())))

    def forget(self, user: str) -> None:
        self.activity.forget(user)
        self.hosts.pop(user, None)
        if self.activity.enrichment is not None:
            self.activity.enrichment.accounts.pop(user, None)

    def fold_accounts(self) -> None:
        """Name every account as correlate.account_of() does, where an engine of an older
        format (state.py) may have kept one under several spellings: its records merged into
        the account's, its open sessions and messages named so."""
        self.activity.fold_accounts()
        fold_accounts(self.hosts, lambda kept, other: None)  # which logged it last is not known
        correlator = self.correlator
        named: List[Finished] = [*correlator.sessions.values(), *correlator.messages.values()]
        for item in named:
            if item.sasl_username is not None:
                item.sasl_username = account_of(item.sasl_username)
        stats = correlator.stats
        stats.usernames = {account_of(name) for name in stats.usernames}

    def queue(self) -> Dict[str, List[Message]]:
        """account -> its authenticated messages still open (in the queue), oldest first."""
        found: Dict[str, List[Message]] = {}
        for message in self.correlator.open_messages():
            if message.sasl_username is not None:
                found.setdefault(message.sasl_username, []).append(message)
        for messages in found.values():
            messages.sort(key=lambda message: (message.queued, message.queue_id))
        return found

    def assess(self, countries: Optional[Countries] = None) -> Dict[str, Finding]:
        """The flagged accounts of the lines read so far, as if the log ended now (on a copy:
        this engine goes on as it was); `countries` are those of the accounts' history
        (state.countries())."""
        copy: Engine = thaw(freeze(self, self.pairs), self.pairs)
        enrichment, copied = self.activity.enrichment, copy.activity.enrichment
        if enrichment is not None and copied is not None:  # a Geo is never pickled
            copied.attach(enrichment.geo)
        return copy._end_and_assess(countries or {})

    def _end_and_assess(self, countries: Countries) -> Dict[str, Finding]:
        self.correlator.settle_inputs()  # (their messages are queued ones too)
        queued: Dict[str, List[str]] = {}
        for message in self.correlator.open_messages():
            if message.sasl_username is not None:
                queued.setdefault(message.sasl_username, []).append(message.queue_id)
        self.correlator.finish()
        for item in self.correlator.finished:
            self._observe(item)
        self.correlator.finished.clear()
        activity = self.activity
        recent = self._recent_ips()
        activity.close()
        history = History(activity, countries)
        findings = {}
        for name, verdict in assess(activity, activity.limits, history.new_network,
                                    history.new_country).items():
            if not verdict.severity:
                continue
            user = activity.users[name]
            totals = user.totals()
            signals = sorted(verdict.signals, key=lambda signal: (not signal.strong, signal.when))
            findings[name] = Finding(verdict, {
                "user": name, "severity": verdict.severity,
                "signals": [signal.name for signal in signals],
                "reasons": [signal.reason for signal in signals],
                "ips": recent.get(name, []), "recipients": sum(totals),
                "deferred": totals[OUTCOMES.index(DEFERRED)],
                "queue_ids": sorted(queued.get(name, [])),
                "first_seen_ip": self._first_seen_ip(name, verdict),
                "host": self.hosts.get(name, ""),
                "first_flagged": _iso(verdict.first_flagged),
                "log_time": _iso(self.last_read),
            })
        return findings

    def _recent_ips(self) -> Dict[str, List[str]]:
        """account -> the IPs it logged in from in the RECENT before its latest login, latest
        first (from the hours still open; the IPs of its first logins when none is)."""
        found: Dict[str, List[str]] = {}
        for name in self.activity.users:
            ips = self.recent_ips(name)
            if ips:
                found[name] = ips
        return found

    def recent_ips(self, name: str) -> List[str]:
        """_recent_ips() of one account."""
        user = self.activity.users.get(name)
        if user is None:
            return []
        ips: List[str] = []
        latest = None
        for key, hour in sorted(user.open_hours.items(), reverse=True):
            if not hour.ips:
                continue
            if latest is None:
                latest = key
            elif key <= latest - RECENT:
                break
            for ip in reversed(hour.ips):
                if ip not in ips:
                    ips.append(ip)
        if not ips and user.logins:
            firsts = self.pairs.ips_of(name)
            ips = sorted(firsts, key=lambda ip: firsts[ip], reverse=True)
        return ips[:IPS_LISTED]

    def logged_in(self, name: str) -> bool:
        """Whether the account has logged in (since the state was made, or forgotten)."""
        user = self.activity.users.get(name)
        return user is not None and (user.logins > 0 or any(
            hour.logins for hour in user.open_hours.values()))

    def facts(self, name: str) -> dict:
        """The fields of an alert on an account that need no assessment: ips, recipients (of
        the messages that left the queue), deferred (recipients deferred in the queue),
        queue_ids, host."""
        user = self.activity.users.get(name)
        recipients = 0
        if user is not None:
            recipients = sum(user.totals()) + sum(hour.recipients
                                                  for hour in user.open_hours.values())
        messages = self.queue().get(name, [])
        return {"ips": self.recent_ips(name), "recipients": recipients,
                "deferred": sum(deferred_recipients(message) for message in messages),
                "queue_ids": sorted(message.queue_id for message in messages),
                "host": self.hosts.get(name, "")}

    def _first_seen_ip(self, name: str, verdict: Verdict) -> str:
        guesses = self.activity.users[name].guesses
        if any(signal.name == "guessed" for signal in verdict.signals) and guesses:
            return min(guesses.values()).ip
        flagged = verdict.first_flagged
        firsts = sorted((first, ip) for ip, first in self.pairs.ips_of(name).items())
        if not firsts:
            return ""
        before = [ip for first, ip in firsts if flagged is None or first <= flagged]
        return before[-1] if before else firsts[0][1]


# -- what is new to an account, against its whole history -----------------------------------

# new-network is a strong signal on a settled history: the account first seen at least
# SETTLED_DAYS days before the login, with logins on SETTLED_ACTIVE days or more before it,
# from at most SETTLED_BLOCKS provider blocks.
SETTLED_DAYS, SETTLED_ACTIVE, SETTLED_BLOCKS = 30, 10, 2
_DAY = _dt.timedelta(days=1)


class History:
    """watch's rules of new-network and new-country (incident.assess's `new_network` and
    `new_country`): judged against each account's whole history, kept in the state, rather
    than the first days of a log; see the module docstring."""

    def __init__(self, activity: Activity, countries: Countries):
        self.activity = activity
        self.pairs = activity.pairs
        self.enrichment = activity.enrichment
        self.countries = countries
        self.baseline = _dt.timedelta(days=activity.limits.baseline_days)
        self._first_seen: Dict[str, Optional[_dt.datetime]] = {}

    def _allowed(self, ip: str) -> bool:
        return self.enrichment is not None and self.enrichment.allowed(ip)

    def _networks(self, name: str) -> List[Tuple[_dt.datetime, str, str]]:
        """(first login, network, its IP) of every network of the account, oldest first."""
        networks = sorted((first, network, ip)
                          for network, (first, ip) in self.pairs.networks_of(name).items())
        self._first_seen[name] = networks[0][0] if networks else None
        return networks

    def first_seen(self, name: str) -> Optional[_dt.datetime]:
        if name not in self._first_seen:
            self._networks(name)
        return self._first_seen[name]

    def _recent(self, new: list) -> list:
        """The firsts of `new` ((when, ...), oldest first) still new: used for the first time
        within `baseline_days` of the latest time read. Older, they are part of the history,
        already alerted on, and no longer count: a trip months ago must not make a burst of
        today critical (and contained)."""
        latest = self.activity.last_time
        if latest is None:
            return new
        return [found for found in new if found[0] >= latest - self.baseline]

    def new_network(self, name: str) -> Optional[Signal]:
        """A login from a provider block the account never used before, once it has been
        known for `baseline_days`: strong on a settled history, weak otherwise."""
        networks = self._networks(name)
        if not networks:
            return None
        since = networks[0][0]
        known: List[str] = []  # the provider blocks, in the order first used
        new = []  # (when, network, ip, how many blocks were known then)
        for when, network, ip in networks:
            block = provider_of(network)
            if block in known:
                continue
            if when - since >= self.baseline and not self._allowed(ip):
                new.append((when, network, ip, len(known)))
            known.append(block)
        new = self._recent(new)
        if not new:
            return None
        days = self.pairs.days_of(name)
        weighed = [(when, network, ip, blocks, bisect.bisect_left(days, when.date()))
                   for when, network, ip, blocks in new]
        settled = [event for event in weighed if (event[0] - since >= SETTLED_DAYS * _DAY
                                                  and event[4] >= SETTLED_ACTIVE
                                                  and event[3] <= SETTLED_BLOCKS)]
        when, network, ip, blocks, active = (settled or weighed)[0]
        weight = (f"settled: first seen {SETTLED_DAYS} days or more before, logins on "
                  f"{SETTLED_ACTIVE} days or more, from at most "
                  f"{counted(SETTLED_BLOCKS, 'block')}")
        weight = (f"a settled history ({weight}): a strong signal" if settled
                  else f"a history not settled ({weight}): a weak signal")
        return Signal("new-network", when,
                      f"new network: login from {ip} ({network}) at {_stamp(when)}: its "
                      f"provider block {provider_of(ip)} is new to the account's history "
                      f"(first seen {_stamp(since)}, {(when - since) / _DAY:.0f} days before; "
                      f"logins on {counted(active, 'day')} from "
                      f"{counted(blocks, 'provider block')}); {weight}; "
                      f"{counted(len(new), 'new network')} in all", heavy=bool(settled))

    def new_country(self, name: str) -> Optional[Signal]:
        """A login from a country the account never logged in from before, once it has been
        known for `baseline_days` (weak, as in the reports): the countries of the state's
        history and of the logins read since."""
        countries = dict(self.countries.get(name, {}))
        places = self.enrichment.accounts.get(name) if self.enrichment is not None else None
        for country, first in (places.first_country.items() if places is not None else ()):
            if country not in countries or first < countries[country]:
                countries[country] = first
        if len(countries) < 2:
            return None
        firsts = sorted((first, country, ip) for country, (first, ip) in countries.items())
        seen = self.first_seen(name)
        since = firsts[0][0] if seen is None else min(seen, firsts[0][0])
        known: List[str] = []
        new = []  # (when, country, ip, the countries known then)
        for when, country, ip in firsts:
            if known and when - since >= self.baseline:
                new.append((when, country, ip, list(known)))
            known.append(country)
        new = self._recent(new)
        if not new:
            return None
        before = new[0][3]
        return new_country_found(self.activity, new, f"the account's history since "
                                                     f"{_stamp(since)} ({' '.join(before)})")


def _stamp(when: _dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


def _iso(when: Optional[_dt.datetime]) -> Optional[str]:
    return when.isoformat() if when is not None else None


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def deferred_recipients(message: Message) -> int:
    """Recipients of an open message that Postfix logged as deferred (and still are)."""
    return sum(1 for recipient in message.recipients.values()
               if recipient.status == DEFERRED and recipient.attempts
               and recipient.handed_to is None)


# -- a run -----------------------------------------------------------------------------------

def _stderr(line: str) -> None:
    print(f"maillog-sasl watch: {line}", file=sys.stderr, flush=True)


def _distinct(paths: Iterable[str], complain: Callable[[str], None]
              ) -> Tuple[List[str], List[str]]:
    """`paths` made absolute, each file once: a second name of one (a symlink, a hard link),
    or a copy of one as the reports tell a copy (sources.Source.same_file(): the same size,
    first and last bytes, as the files are when the run starts), would have its lines counted
    twice, each login and failure with them. And the copies left out (files of their own)."""
    kept: List[str] = []
    copies: List[str] = []
    files: Dict[Tuple[int, int], str] = {}
    sized: Dict[int, List[str]] = {}  # size -> the regular files of that size kept
    opened: Dict[str, Source] = {}
    try:
        for path in map(os.path.abspath, paths):
            if path in kept:
                continue
            try:
                status = os.stat(path)
            except OSError:  # not there yet, or not readable: its follower says so
                kept.append(path)
                continue
            first = files.setdefault((status.st_dev, status.st_ino), path)
            if first == path and stat.S_ISREG(status.st_mode) and status.st_size:
                same = sized.setdefault(status.st_size, [])
                first = next((other for other in same if _copies(other, path, opened)), path)
                same.append(path)
                if first != path:
                    copies.append(path)
            if first != path:
                complain(f"{path}: the same file as {first}; read once")
                continue
            kept.append(path)
    finally:
        for source in opened.values():
            source.close()
    return kept, copies


def _copies(first: str, path: str, opened: Dict[str, Source]) -> bool:
    """Whether the file at `path` is a copy of the one at `first` (both regular, of one size),
    `opened` the Sources opened so far."""
    try:
        for name in (first, path):
            if name not in opened:
                opened[name] = open_path(name)
        return opened[first].same_file(opened[path])
    except OSError:  # its follower says why
        return False


class Watch:
    """One run of `watch` over `paths`, its state open (and locked); see the module docstring.

    `sinks`: where alerts are written, the first one being where they must arrive (stdout or
    the alert log: an alert is marked delivered when it is there); the others (a command) are
    told as well, best effort.
    """

    def __init__(self, state: State, paths: Iterable[str], sinks: list, limits: Thresholds,
                 zone=None, year: Optional[int] = None,
                 complain: Callable[[str], None] = _stderr,
                 clock: Callable[[], float] = time.monotonic,
                 metrics_path: Optional[str] = None, alarms: Alarms = Alarms(),
                 containment: Optional[Containment] = None, geo: Optional[Geo] = None,
                 allow: Optional[enrich.Allow] = None):
        self.state = state
        self.containment = containment
        self.alarms = alarms
        self.storm_window = _dt.timedelta(hours=alarms.storm_window)
        # account -> {IP: its latest failed AUTH naming the account}, within the window.
        self.storm: Dict[str, Dict[str, _dt.datetime]] = {}
        for account, ip, last in state.storm_rows():
            self.storm.setdefault(account, {})[ip] = last
        # account -> (count of IPs, time of that count, the IPs oldest first, when the limit
        # was reached) of a storm to alert at the next assessment.
        self.storms: Dict[str, Tuple[int, _dt.datetime, List[str], _dt.datetime]] = {}
        self.sinks = sinks
        self.zone, self.year = zone, year
        self.complain = complain
        self.clock = clock
        engine = state.engine
        if engine is not None and not isinstance(engine, Engine):  # a damaged or forged row
            raise StateError(f"{state.path}: damaged: its engine is not one of watch's; "
                             "`maillog-sasl state --reset-engine` drops it and keeps the rest")
        # Whether the engine differs from the one stored (what it read, its limits).
        self.changed = engine is None
        if engine is None:
            engine = Engine(limits, state.pairs)
        elif engine.activity.limits != limits:
            complain("the limits differ from those of the last run: they judge what is read "
                     "from now on")
            engine.activity.set_limits(limits)
            self.changed = True
        if state.engine_format != engine_format():
            self.changed = True  # an engine of an older format: stored in this one's
        engine.activity.enrichment = _enrichment(engine.activity.enrichment, geo, allow, limits)
        self.engine: Engine = engine
        self.paths, copies = _distinct(paths, complain)
        self.followers = {path: Follower(path, state.positions.get(path))
                          for path in self.paths}
        # The copies left out, followed to their ends unread: a run that finds one no copy any
        # more (its original written on since) goes on from there, not from its start.
        self.copies = {path: Follower(path, state.positions.get(path)) for path in copies}
        self.failed = False  # an alert could not be written
        self.untimed = 0  # Postfix lines read whose stamp is no time: never judged
        self.leap_split = False  # a log's Feb 29 moved its year back, told (_tell_leap())
        # log -> how often its file's earliest and latest time moved in this run (Stats'
        # earliest_moves, latest_moves): whether it runs backwards, as the reports judge a file
        self.moves: Dict[str, List[int]] = {}
        self.out_of_order: set = set()  # the logs told read out of order (_tell_order())
        self.untimed_told: Dict[str, float] = {}  # log -> when its untimed lines were told
        # log -> its untimed lines not told yet: how many, the last one's stamp
        self.untimed_pending: Dict[str, Tuple[int, Optional[str]]] = {}
        self.undelivered = False  # some alert is still to be written (tried again at commits)
        self.raised = 0
        self.finished = 0  # sessions and messages the logs ended
        self.assessments = 0
        self.metrics_path = metrics_path
        self.metrics_failed = False
        # What --metrics counts since the state was made, and the flagged accounts of the
        # last assessment (user -> severity, recipients, deferred, queued): kept in the state.
        self.counters: Dict[str, int] = _loads(state.kept.get("counters", "{}"))
        self.flagged: Dict[str, dict] = _loads(state.kept.get("flagged", "{}"))
        state.begin()
        # The countries table holds every login's country while each run has a database; a
        # run without one leaves it behind, and the next with one fills it from the pairs.
        self.countries_complete = geo is not None
        if geo is not None and state.kept.get(COUNTRIES_COMPLETE) != "true":
            self._fill_countries()

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> int:
        """Read what the logs have now; how many lines (`finished` counts what they ended)."""
        count = 0
        stats = self.engine.correlator.stats
        for path, follower in self.followers.items():
            untimed_before = stats.unread_stamps
            self.engine.correlator.read_input(path)  # its span, not the log's read before it
            joined_before = self.engine.correlator.span()[2]
            for chunk in follower.read():
                count += len(chunk.lines)
                self.changed = True
                clock = self.engine.clocks.get(path)
                year = None if clock is None else clock.year
                if clock is None:
                    self._tell_zone(path, chunk.lines)
                moves = self.moves.setdefault(path, [0, 0])
                if chunk.new_file:
                    moves[:] = [0, 0]
                moves_before = stats.earliest_moves, stats.latest_moves
                for item in self.engine.feed(path, chunk, self.zone, self.year):
                    self.finished += 1
                    self._history(item)
                    self._count(item)
                    if isinstance(item, Session) and item.auth_failures:
                        self._storm_failures(item)
                moves[0] += stats.earliest_moves - moves_before[0]
                moves[1] += stats.latest_moves - moves_before[1]
                self._tell_leap(path, year)
            for note in follower.notes:
                self.complain(note)
            follower.notes.clear()
            self._tell_untimed(path, stats.unread_stamps - untimed_before, stats.unread_stamp)
            self._tell_order(path, joined_before)
        for follower in self.copies.values():
            for _ in follower.read():
                self.changed = True
            follower.notes.clear()
        return count

    def _tell_zone(self, path: str, lines: List[str]) -> None:
        """The first lines of `path` ever read: told when their stamps name a zone other than
        the one they are read in (journalctl's short-full under another --tz), as the reports
        tell it (sources.open_sources())."""
        first = next(filter(None, map(split_line, lines)), None)
        unlike = None if first is None else unlike_zone_name(first[0], self.zone)
        if unlike is not None:
            self.complain(f"{path}: {unlike_zone_told(unlike)}")

    def _tell_leap(self, path: str, year: Optional[int]) -> None:
        """A Feb 29 past the lines of `path` read first (Engine.feed() places those before one
        among them) moved its clock's year back from `year` (syslog.Clock), after the lines
        before it were placed in that year: told once, as the reports tell it (leap_split())."""
        clock = self.engine.clocks[path]
        if year is None or clock.year is None or clock.year >= year or clock.latest is None:
            return
        self.leap_split = True
        self.complain(f"{path}: {leap_told(clock, clock.latest, clock.year)}, to a new "
                      "--state (this one keeps the times read)")

    def _tell_order(self, path: str, joined_before: Optional[tuple]) -> None:
        """`path` read out of time order, as the reports tell a file (correlate.source_read()):
        its lines run newest first (by the moves of its file's times in this run), or its time
        went back before its first line in the read just done (logs joined newest first).
        Told once a run; its alerts judge the lines as read, as the reports do."""
        if path in self.out_of_order:
            return
        joined = self.engine.correlator.span()[2]
        if runs_backwards(*self.moves.get(path, (0, 0))):
            told = f"{BACKWARDS_TOLD}: watch needs the oldest line first"
        elif joined is not None and joined_before is None:
            told = f"{joined_told(joined)}; give watch a log joined oldest first (ls -rt)"
        else:
            return
        self.out_of_order.add(path)
        self.complain(f"{path}: {told}, and a new --state (this one keeps what was read)")

    def _tell_untimed(self, path: str, count: int, last: Optional[str]) -> None:
        """Lines of `path` not judged for their stamp (a month in a language not read), `count`
        more now: said when first met, then at most every UNTIMED_TOLD_EVERY seconds with the
        count since (at the first look after, whether more came or not)."""
        if count:
            self.untimed += count
            self.untimed_pending[path] = (self.untimed_pending.get(path, (0, None))[0] + count,
                                          last)
        if path in self.untimed_pending:
            told = self.untimed_told.get(path)
            if told is None or self.clock() - told >= UNTIMED_TOLD_EVERY:
                self._told_untimed(path)

    def _told_untimed(self, path: str) -> None:
        count, last = self.untimed_pending.pop(path)
        self.untimed_told[path] = self.clock()
        self.complain(f"{path}: {untimed_lines(count, last)}")

    def _history(self, item: Finished) -> None:
        if (isinstance(item, Session) and item.auth_succeeded and item.sasl_username
                and item.start is not None):
            self.state.login(item.sasl_username, network_of(item.client_ip), item.client_ip,
                             item.start)
            self._country(item.sasl_username, item.client_ip, item.start)

    def _country(self, name: str, ip: str, when: _dt.datetime) -> None:
        """A login's country into the history (as Enrichment takes it: not an allowed one)."""
        enrichment = self.engine.activity.enrichment
        if enrichment is None or enrichment.geo is None or enrichment.allowed(ip):
            return
        country = enrichment.place(ip).country
        if country:
            self.state.country(name, country, ip, when)

    def _fill_countries(self) -> None:
        """The countries of every IP of the history (the pairs keep each with the account's
        first login from it)."""
        pairs = self.state.pairs
        for name in sorted(pairs.ips_per_account()):
            for ip, first in pairs.ips_of(name).items():
                self._country(name, ip, first)

    def _count(self, item: Finished) -> None:
        """The counters of --metrics (metrics.py says what each counts)."""
        counters = self.counters
        if isinstance(item, Session):
            if item.auth_succeeded:
                counters["logins"] = counters.get("logins", 0) + 1
            failures = item.failed_auth_count
            if failures:
                counters["auth_failures"] = counters.get("auth_failures", 0) + failures
            return
        if item.sasl_username is None or item.kind == "notice":
            return
        outcomes = item.counted_outcomes()
        for outcome in outcomes:
            key = f"recipients:{outcome}"
            counters[key] = counters.get(key, 0) + 1
        if not outcomes and item.state == REFUSED:
            outcomes = [REJECTED]
        if any(recipient.handed_to is not None for recipient in item.recipients.values()):
            return  # it goes on under another queue ID (a filter's copy, a requeue): one there
        worst = next((outcome for outcome in metrics.MESSAGE_OUTCOMES if outcome in outcomes),
                     None)
        if worst is not None:
            key = f"messages:{worst}"
            counters[key] = counters.get(key, 0) + 1

    def _storm_failures(self, session: Session) -> None:
        """Failed AUTH naming an account that has logged in (a username that never did is
        guessing noise, left to the guessed rule), for the failure-storm alert."""
        for when, failure in session.auth_failures:
            # (The account whatever the case it was typed in: correlate.account_of().)
            name = account_of(failure.username) if failure.username else None
            if (name and not failure.reason.startswith(INFRASTRUCTURE_FAULTS)
                    and self.engine.logged_in(name)):
                self._storm_failure(name, session.client_ip, when)

    def _storm_failure(self, name: str, ip: str, when: _dt.datetime) -> None:
        seen = self.storm.setdefault(name, {})
        known = seen.get(ip)
        if known is not None and known >= when:
            return
        if known is None and len(seen) >= STORM_IPS_KEPT:
            del seen[min(seen, key=lambda other: seen[other])]
        seen[ip] = when
        self.state.storm_failure(name, ip, when)
        newest = max(seen.values())
        cutoff = newest - self.storm_window
        for old in [other for other, last in seen.items() if last < cutoff]:
            del seen[old]
        count = len(seen)
        level = self.state.levels.get((name, FAILURE_STORM), 0)
        if count < self.alarms.storm_ips or (level and count < 2 * level):
            return
        found = self.storms.get(name)
        if found is None or count > found[0]:
            self.storms[name] = (count, newest, sorted(seen, key=lambda other: seen[other]),
                                 newest if found is None else found[3])

    def _prune_storm(self) -> None:
        """Forget the failures older than the window before the newest of all."""
        newest = max((max(seen.values()) for seen in self.storm.values() if seen), default=None)
        if newest is None:
            return
        cutoff = newest - self.storm_window
        self.storm = {name: seen for name, seen in self.storm.items()
                      if seen and max(seen.values()) >= cutoff}
        self.state.prune_storm(cutoff)

    # -- alerting -----------------------------------------------------------------------------

    def new_alerts(self) -> List[dict]:
        """The alerts the lines read so far raise (not yet stored)."""
        alerts = []
        with self.state.trial():
            findings = self.engine.assess(self.state.countries())
        self.flagged = {name: {"severity": finding.verdict.severity,
                               "recipients": finding.alert["recipients"],
                               "deferred": finding.alert["deferred"],
                               "queued": len(finding.alert["queue_ids"])}
                        for name, finding in sorted(findings.items())}
        for name, finding in sorted(findings.items()):
            raised = self.state.raised.get(name, {})
            signals = finding.alert["signals"]
            new = [signal for signal in signals if signal not in raised]
            highest = min((SEVERITY_ORDER.get(severity, 9) for signal, severity in raised.items()
                           if signal not in WATCH_SIGNALS), default=9)
            if not new and SEVERITY_ORDER[finding.verdict.severity] >= highest:
                continue
            alert = {"time": _now(), **finding.alert, "new_signals": new}
            alerts.append(alert)
            if (self.containment is not None and alert["severity"] == "critical"
                    and CONTAINED not in raised):
                alerts.append(self._contain(alert))
        return alerts + self._queue_alerts() + self._storm_alerts()

    def _contain(self, alert: dict) -> dict:
        """Contain the account of a critical alert (contain.contain); the alert saying what
        was done (or, in a dry run, what would be), or what failed."""
        plan = self.containment
        assert plan is not None
        name = alert["user"]
        actions: List[str] = []
        queue_ids = alert["queue_ids"] if plan.hold else None
        # Each of them goes to its own instance's queue (model.Message.instance).
        instances = {message.queue_id: message.instance
                     for message in self.engine.queue().get(name, [])}
        by_instance: Dict[str, List[str]] = {}
        for queue_id in queue_ids or ():
            by_instance.setdefault(instances.get(queue_id, ""), []).append(queue_id)
        failed = ""
        try:
            contain_module.contain(name, queue_ids=None if queue_ids is None else by_instance,
                                   map_path=plan.map_path if plan.reject else None,
                                   map_action=contain_module.REJECT, dry_run=plan.dry_run,
                                   postfix=plan.postfix, echo=actions.append)
        except contain_module.ContainError as error:
            failed = str(error)
            actions.append(f"# failed: {failed}")
            self.complain(f"--contain {name!r}: {failed}")
        done = []
        if queue_ids is not None:
            done.append(f"{counted(len(queue_ids), 'queued message')} on hold (postsuper -h)")
        if plan.reject:
            done.append(f"{name} {contain_module.REJECT} in {plan.map_path} (postmap)")
        if failed:
            reason = f"contained: failed: {failed}"
        elif plan.dry_run:
            reason = ("contained: a dry run (not root; nothing changed; --contain-apply acts): "
                      "would put " + "; would put ".join(done))
        else:
            reason = "contained: put " + "; put ".join(done)
        return self._own_alert(name, CONTAINED, "critical", reason, None,
                               alert["first_seen_ip"], None, actions=actions,
                               dry_run=plan.dry_run, failed=bool(failed))

    def _queue_alerts(self) -> List[dict]:
        """queue-growth: an account with more than max_deferred messages in the queue with a
        recipient Postfix deferred; again when that count doubles."""
        alerts = []
        limit = self.alarms.max_deferred
        for name, messages in sorted(self.engine.queue().items()):
            deferred = [message for message in messages if deferred_recipients(message)]
            count = len(deferred)
            level = self.state.levels.get((name, QUEUE_GROWTH), 0)
            if count <= limit or (level and count < 2 * level):
                continue
            recipients = sum(deferred_recipients(message) for message in deferred)
            since = deferred[0].queued
            reason = (f"queue-growth: {counted(count, 'message')} of the account in the queue "
                      f"with deferred recipients ({counted(recipients, 'recipient')} deferred; "
                      f"limit {limit}), the oldest queued {_stamp(since)}")
            alerts.append(self._own_alert(name, QUEUE_GROWTH, QUEUE_GROWTH_SEVERITY, reason,
                                          count, deferred[0].client_ip,
                                          max(message.last_time for message in deferred)))
        return alerts

    def _storm_alerts(self) -> List[dict]:
        """failure-storm: failed AUTH naming one account from at least storm_ips IPs within
        storm_window hours; again when the count of IPs doubles."""
        alerts = []
        alarms = self.alarms
        for name, (count, when, ips, reached) in sorted(self.storms.items()):
            reason = (f"failure-storm: failed AUTH naming the account from {count} IPs within "
                      f"{alarms.storm_window:g}h up to {_stamp(when)} (limit {alarms.storm_ips} "
                      f"IPs within {alarms.storm_window:g}h, reached {_stamp(reached)})")
            alerts.append(self._own_alert(name, FAILURE_STORM, FAILURE_STORM_SEVERITY, reason,
                                          count, ips[0], reached,
                                          failing_ips=list(reversed(ips))[:IPS_LISTED]))
        self.storms = {}
        return alerts

    def _own_alert(self, name: str, signal: str, severity: str, reason: str,
                   level: Optional[int], first_seen_ip: str, when: Optional[_dt.datetime],
                   **extra) -> dict:
        facts = self.engine.facts(name)
        alert = {"time": _now(), "user": name, "severity": severity, "signals": [signal],
                 "reasons": [reason], "ips": facts["ips"], "recipients": facts["recipients"],
                 "deferred": facts["deferred"], "queue_ids": facts["queue_ids"],
                 "first_seen_ip": first_seen_ip, "host": facts["host"],
                 "first_flagged": _iso(when), "log_time": _iso(self.engine.last_read),
                 "new_signals": [signal]}
        if level is not None:
            alert["level"] = level
        alert.update(extra)
        return alert

    def checkpoint(self, alerts: List[dict]) -> None:
        """Commit what was read and the alerts it raised, then write the alerts out."""
        if self.undelivered:
            self.redeliver()  # the alerts that could not be written before
        positions = {path: position
                     for path, follower in itertools.chain(self.followers.items(),
                                                           self.copies.items())
                     if (position := follower.position) is not None}
        stored = [(alert["user"], alert["severity"], set(alert["signals"]), to_json(alert))
                  for alert in alerts]
        levels = [(alert["user"], alert["signals"][0], alert["level"]) for alert in alerts
                  if "level" in alert]
        self._prune_storm()
        queue = None
        if self.changed:
            queue = [(message.host, message.queue_id, name, message.kind,
                      _iso(message.queued), deferred_recipients(message), message.instance)
                     for name, messages in self.engine.queue().items() for message in messages]
        kept = {"counters": json.dumps(self.counters, sort_keys=True),
                "flagged": json.dumps(self.flagged, sort_keys=True, ensure_ascii=False),
                COUNTRIES_COMPLETE: json.dumps(self.countries_complete)}
        ids = self.state.commit(self.engine, engine_format(), positions, stored,
                                engine_changed=self.changed, kept=kept, levels=levels,
                                queue=queue)
        self.changed = False
        self.raised += len(ids)
        self.deliver(list(zip(ids, [text for *_, text in stored], alerts)))
        self.state.begin()

    def deliver(self, alerts: List[Tuple[int, str, dict]]) -> None:
        delivered = []
        for number, text, alert in alerts:
            try:
                self.sinks[0].write(alert, text)
            except SinkError as error:
                self.complain(str(error))
                self.failed = self.undelivered = True
                continue
            delivered.append(number)
            for sink in self.sinks[1:]:
                try:
                    sink.write(alert, text)
                except SinkError as error:
                    self.complain(str(error))
        if delivered:
            self.state.delivered(delivered)

    def redeliver(self) -> None:
        """Write the alerts a run stored but did not write (it died in between)."""
        self.undelivered = False
        waiting = self.state.undelivered()
        if waiting:
            self.deliver([(number, text, _loads(text)) for number, text in waiting])

    # -- the two ways of running --------------------------------------------------------------

    def once(self) -> int:
        self.redeliver()
        self.read()
        # Nothing new: the verdicts are those of the last run, which raised their alerts.
        alerts = self.new_alerts() if self.changed else []
        self.checkpoint(alerts)
        self.write_metrics()
        self.close()
        if (self.failed or self.metrics_failed or self.untimed or self.leap_split
                or self.out_of_order
                or any(follower.failed for follower in self.followers.values())):
            return 2
        return 1 if alerts else 0

    def follow(self, stop: threading.Event, interval: float = 1.0,
               checkpoint_every: float = CHECKPOINT_EVERY,
               metrics_every: float = metrics.METRICS_EVERY) -> int:
        self.redeliver()
        last_commit = self.clock()
        last_metrics: Optional[float] = None
        unsaved = unjudged = False
        next_assessment = 0.0
        finished, signature = self.finished, self.engine.signature()
        while True:
            stopping = stop.is_set()
            if self.read():
                unsaved = True
                # Inbound mail, connections that never try AUTH: nothing to judge anew.
                now_signature = self.engine.signature()
                if self.finished != finished or now_signature != signature:
                    unjudged = True
                    finished, signature = self.finished, now_signature
            now = self.clock()
            if unjudged and (now >= next_assessment or stopping):
                alerts = self.new_alerts()
                took = self.clock() - now
                # At most ASSESS_SHARE of the time, unless an alert would then come later than
                # LATENCY after its line.
                gap = min(took / ASSESS_SHARE - took, LATENCY - interval - 3 * took)
                next_assessment = now + took + max(gap, 0.0)
                self.assessments += 1
                unjudged = False
                if alerts:
                    self.checkpoint(alerts)
                    unsaved, last_commit = False, self.clock()
            if unsaved and (stopping or now - last_commit >= checkpoint_every):
                self.checkpoint([])
                unsaved, last_commit = False, self.clock()
            if self.metrics_path and (stopping or last_metrics is None
                                      or now - last_metrics >= metrics_every):
                self.write_metrics()
                last_metrics = now
            if stopping:
                for path in list(self.untimed_pending):  # not told within the hour: now
                    self._told_untimed(path)
                break
            pause = interval
            if unjudged:  # waiting for the assessment's turn: not a moment longer
                pause = min(interval, max(next_assessment - self.clock(), 0.0))
            stop.wait(pause)
        self.close()
        return 2 if self.failed else 0

    # -- metrics ------------------------------------------------------------------------------

    def snapshot(self) -> metrics.Snapshot:
        """What --metrics shows, now (metrics.py)."""
        stats = self.engine.correlator.stats
        queued = deferred_messages = deferred = 0
        for messages in self.engine.queue().values():
            for message in messages:
                queued += 1
                pending = deferred_recipients(message)
                deferred += pending
                deferred_messages += bool(pending)
        lag = {path: _behind(path, follower.position)
               for path, follower in self.followers.items()}
        last = self.engine.last_read
        return metrics.Snapshot(
            counters=dict(self.counters), lines_read=stats.lines_read,
            lines_skipped=stats.lines_skipped, queue=(queued, deferred_messages, deferred),
            flagged=dict(self.flagged), alerts=self.state.alert_counts(),
            alerted=self.state.alerted_accounts(), lag=lag,
            last_log_time=last.timestamp() if last is not None else None, now=time.time())

    def write_metrics(self) -> None:
        """Rewrite the --metrics file; a failure is said once (again after a success)."""
        if not self.metrics_path:
            return
        try:
            metrics.write(self.metrics_path,
                          metrics.render(metrics.families(self.snapshot())))
        except OSError as error:
            if not self.metrics_failed:
                self.complain(f"{self.metrics_path}: cannot write the metrics: "
                              f"{error.strerror or error}")
            self.metrics_failed = True
            return
        self.metrics_failed = False

    def close(self) -> None:
        for follower in itertools.chain(self.followers.values(), self.copies.values()):
            follower.close()
        for sink in self.sinks:
            sink.close()


def _enrichment(kept: Optional[Enrichment], geo: Optional[Geo],
                allow: Optional[enrich.Allow], limits: Thresholds) -> Optional[Enrichment]:
    """The Enrichment of a run (incident.enrichment_of), with the facts of the one the engine
    kept (its Places: the countries, travel and senders of earlier runs)."""
    fresh = enrichment_of({"geo": geo, "allow": allow}, limits)
    if kept is None:
        return fresh
    fresh = fresh or Enrichment(None, allow, limits)
    fresh.accounts = kept.accounts
    return fresh


def _behind(path: str, position) -> int:
    """Bytes of the log at `path` past `position` (all of it when it is another file)."""
    try:
        status = os.stat(path)
    except OSError:
        return 0
    if position is None or (status.st_dev, status.st_ino) != (position.device, position.inode):
        return status.st_size
    return max(status.st_size - position.offset, 0)


def _loads(text: str) -> dict:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


# -- the state subcommand --------------------------------------------------------------------

def forget(state: State, user: str) -> bool:
    """Drop `user`'s history, pairs, raised alerts and facts, in any case it is typed in (an
    account is kept under correlate.account_of()); False if none was kept."""
    user = account_of(user)
    known = (bool(state.history(user)) or user in state.raised
             or (state.engine is not None and user in state.engine.activity.users))
    state.begin()
    state.forget(user)
    if state.engine is not None:
        state.engine.forget(user)
        state.commit(state.engine, engine_format(), {}, [])
    else:
        state.commit_plain()
    return known


def describe(state: State) -> dict:
    """What the state holds: logs, open sessions and messages, accounts, alerts."""
    engine: Optional[Engine] = state.engine
    open_messages = []
    open_sessions = 0
    busy: Dict[str, dict] = {}
    if engine is not None:
        open_sessions = len(engine.correlator.sessions) + len(engine.correlator.pending)
        for message in engine.correlator.open_messages():
            if message.sasl_username is None:
                continue
            pending = message.counted_outcomes().count(DEFERRED)
            open_messages.append({"host": message.host, "queue_id": message.queue_id,
                                  "user": message.sasl_username, "kind": message.kind,
                                  "queued": _iso(message.queued), "pending": pending})
        for name, user in engine.activity.users.items():
            counts = user.busy.hours_by_count
            busy[name] = {"logins": user.logins + sum(hour.logins for hour
                                                      in user.open_hours.values()),
                          "busy_hours": sum(counts.values()),
                          "median_busy_hour": user.busy.median() if counts else 0}
    accounts: Dict[str, dict] = {}
    for account, _network, first, _first_ip, last, last_ip, logins in state.history():
        entry = accounts.setdefault(account, {"user": account, "networks": 0, "logins": 0,
                                              "first_seen": first, "last_seen": last,
                                              "last_ip": last_ip})
        entry["networks"] += 1
        entry["logins"] += logins
        if last > entry["last_seen"]:
            entry["last_seen"], entry["last_ip"] = last, last_ip
    for name, countries in state.countries().items():
        if name in accounts:
            accounts[name]["countries"] = sorted(countries, key=lambda code: countries[code])
    for name, facts in busy.items():
        if name in accounts:
            accounts[name]["median_busy_hour"] = facts["median_busy_hour"]
            accounts[name]["busy_hours"] = facts["busy_hours"]
    return {
        "state": state.path, "created": state.meta.get("created"),
        "program": state.meta.get("program"), "engine_format": state.engine_format,
        "logs": [{"path": path, "device": device, "inode": inode, "offset": offset,
                  "first_line_hash": head, "updated": updated}
                 for path, device, inode, offset, head, updated in state.logs()],
        "open_sessions": open_sessions,
        "open_messages": sorted(open_messages, key=lambda row: (row["queued"] or "",
                                                                row["queue_id"])),
        "accounts": [accounts[name] for name in sorted(accounts)],
        "raised": [{"user": account, "signal": signal, "severity": severity, "raised": raised}
                   for account, signal, severity, raised in state.raised_rows()],
        "alerts": [{"id": number, "raised": raised, "user": account, "severity": severity,
                    "delivered": bool(delivered)}
                   for number, raised, account, severity, delivered in state.alerts()],
    }


__all__ = ["Alarms", "Containment", "Engine", "Finding", "WATCH_SIGNALS", "Watch", "describe",
           "engine_format", "forget"]
