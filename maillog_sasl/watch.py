"""watch: read Postfix logs as they grow and alert when an account turns suspicious, with
memory across runs.

SUMMARY
    engine_format() -> str          a fingerprint of the classes the engine keeps (state.py
                                    refuses a state of another format)
    Engine(limits, pairs)           a correlate.Correlator and an activity.Activity, fed as
                                    lines come; pickled into the state between runs
    engine.feed(path, chunk, zone, year) -> the finished sessions and messages
    engine.assess(now) -> {user: Finding}   the suspicious report's verdicts on the lines
                                    read so far (as if the log ended now), on a copy
    Watch(state, paths, sinks, limits, zone=None, year=None, complain=print-to-stderr)
    watch.once() -> exit status     read what is new, alert, commit
    watch.follow(stop, interval=1.0) -> exit status   the same, again and again, until `stop`
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
      new_signals    the signals this alert raised; first_flagged; log_time (the latest time
                     read)

    Alerts are stored with the offsets in one transaction, then written; an alert stored but
    not yet written when a run died is written by the next run.

    once(): reads every log from its stored position to its end (follow.Follower: the rest of
    a rotated file first), assesses, commits, writes the alerts. follow(): the same every
    `interval` seconds; the state is committed when alerts are raised, every
    CHECKPOINT_EVERY seconds while lines come, and when `stop` is set. The assessment runs
    after a read that finished a session or message or changed an open one (engine.signature(),
    so that inbound mail and connections that never try AUTH cost no assessment), and takes
    at most ASSESS_SHARE of the time, unless an alert would then come more than LATENCY
    seconds after its line: on a large state (measured: 0.6 to 0.9 s for 3,000 accounts and a
    week of logins) it is judged less often, never later than that.

DIAGNOSTICS
    once() returns 0 (no new alert), 1 (new alerts) or 2 (a log could not be read, or an alert
    could not be written; every other log is still read and every alert still raised).
    follow() returns 0 when stopped, 2 when an alert could not be written. What goes wrong is
    one line through `complain`. state.StateError and pairs.StoreError pass on to the caller.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import threading
import time
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from maillog_sasl import activity as activity_module
from maillog_sasl import correlate as correlate_module
from maillog_sasl import events, model, syslog
from maillog_sasl.activity import Activity, Thresholds, network_of
from maillog_sasl.alerts import SinkError, to_json
from maillog_sasl.correlate import Correlator
from maillog_sasl.follow import Chunk, Follower
from maillog_sasl.incident import SEVERITY_ORDER, Verdict, assess
from maillog_sasl.model import DEFERRED, OUTCOMES, Finished, Session
from maillog_sasl.pairs import PairStore
from maillog_sasl.state import State, freeze, thaw
from maillog_sasl.syslog import Clock

CHECKPOINT_EVERY = 30.0
RECENT = _dt.timedelta(hours=24)
# Following: the assessment may take this share of the time at most, unless an alert would
# then come later than LATENCY seconds after the line that completed its evidence.
ASSESS_SHARE = 0.2
LATENCY = 5.0
IPS_LISTED = 20


# -- the engine's format ---------------------------------------------------------------------

_FORMAT: List[str] = []


def engine_format() -> str:
    """A fingerprint of the layout of every class an Engine may hold: a state written by a
    version whose classes differ is refused rather than half-read."""
    if not _FORMAT:
        kept = [value for module in (events, model, syslog, correlate_module, activity_module)
                for _name, value in sorted(vars(module).items())
                if isinstance(value, type) and value.__module__ == module.__name__]
        layout = []
        for value in kept + [Engine]:
            code = getattr(value.__dict__.get("__init__"), "__code__", None)
            layout.append((value.__qualname__, value.__dict__.get("__slots__"),
                           getattr(value, "_fields", None),
                           sorted(code.co_names) if code is not None else None))
        total = 0
        for byte in repr(layout).encode():  # a stable hash (str's hash() is salted)
            total = (total * 131 + byte) % (1 << 61)
        _FORMAT.append(f"1-{total:016x}")
    return _FORMAT[0]


# -- the engine ------------------------------------------------------------------------------

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

    def feed(self, path: str, chunk: Chunk, zone=None, year: Optional[int] = None
             ) -> List[Finished]:
        """Read one chunk of a log's lines; the sessions and messages it finished."""
        clock = self.clocks.get(path)
        if clock is None:
            clock = self.clocks[path] = Clock(year=year, tz=zone, anchor=_mtime(chunk.name))
        correlator = self.correlator
        if chunk.new_file:
            correlator.new_source()
            correlator.stats.sources.append(chunk.name)
        correlator.feed(chunk.lines, clock)
        finished = list(correlator.finished)
        correlator.finished.clear()
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

    def assess(self) -> Dict[str, Finding]:
        """The flagged accounts of the lines read so far, as if the log ended now (on a copy:
        this engine goes on as it was)."""
        copy: Engine = thaw(freeze(self, self.pairs), self.pairs)
        return copy._end_and_assess()

    def _end_and_assess(self) -> Dict[str, Finding]:
        queued: Dict[str, List[str]] = {}
        for message in self.correlator.messages.values():
            if message.sasl_username is not None:
                queued.setdefault(message.sasl_username, []).append(message.queue_id)
        self.correlator.finish()
        for item in self.correlator.finished:
            self._observe(item)
        self.correlator.finished.clear()
        activity = self.activity
        recent = self._recent_ips()
        activity.close()
        findings = {}
        for name, verdict in assess(activity, activity.limits).items():
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
                "log_time": _iso(activity.last_time),
            })
        return findings

    def _recent_ips(self) -> Dict[str, List[str]]:
        """account -> the IPs it logged in from in the RECENT before its latest login, latest
        first (from the hours still open; the IPs of its first logins when none is)."""
        found: Dict[str, List[str]] = {}
        for name, user in self.activity.users.items():
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
            if ips:
                found[name] = ips[:IPS_LISTED]
        return found

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


def _mtime(path: str) -> Optional[_dt.datetime]:
    try:
        return _dt.datetime.fromtimestamp(os.stat(path).st_mtime).astimezone()
    except OSError:
        return None


def _iso(when: Optional[_dt.datetime]) -> Optional[str]:
    return when.isoformat() if when is not None else None


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


# -- a run -----------------------------------------------------------------------------------

def _stderr(line: str) -> None:
    print(f"maillog-sasl watch: {line}", file=sys.stderr, flush=True)


class Watch:
    """One run of `watch` over `paths`, its state open (and locked); see the module docstring.

    `sinks`: where alerts are written, the first one being where they must arrive (stdout or
    the alert log: an alert is marked delivered when it is there); the others (a command) are
    told as well, best effort.
    """

    def __init__(self, state: State, paths: Iterable[str], sinks: list, limits: Thresholds,
                 zone=None, year: Optional[int] = None,
                 complain: Callable[[str], None] = _stderr,
                 clock: Callable[[], float] = time.monotonic):
        self.state = state
        self.sinks = sinks
        self.zone, self.year = zone, year
        self.complain = complain
        self.clock = clock
        engine = state.engine
        # Whether the engine differs from the one stored (what it read, its limits).
        self.changed = engine is None
        if engine is None:
            engine = Engine(limits, state.pairs)
        elif engine.activity.limits != limits:
            complain("the limits differ from those of the last run: they judge what is read "
                     "from now on")
            engine.activity.set_limits(limits)
            self.changed = True
        self.engine: Engine = engine
        self.paths = [os.path.abspath(path) for path in paths]
        self.followers = {path: Follower(path, state.positions.get(path))
                          for path in self.paths}
        self.failed = False  # an alert could not be written
        self.undelivered = False  # some alert is still to be written (tried again at commits)
        self.raised = 0
        self.finished = 0  # sessions and messages the logs ended
        self.assessments = 0
        state.begin()

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> int:
        """Read what the logs have now; how many lines (`finished` counts what they ended)."""
        count = 0
        for path, follower in self.followers.items():
            for chunk in follower.read():
                count += len(chunk.lines)
                self.changed = True
                for item in self.engine.feed(path, chunk, self.zone, self.year):
                    self.finished += 1
                    self._history(item)
            for note in follower.notes:
                self.complain(note)
            follower.notes.clear()
        return count

    def _history(self, item: Finished) -> None:
        if (isinstance(item, Session) and item.auth_succeeded and item.sasl_username
                and item.start is not None):
            self.state.login(item.sasl_username, network_of(item.client_ip), item.client_ip,
                             item.start)

    # -- alerting -----------------------------------------------------------------------------

    def new_alerts(self) -> List[dict]:
        """The alerts the lines read so far raise (not yet stored)."""
        alerts = []
        with self.state.trial():
            findings = self.engine.assess()
        for name, finding in sorted(findings.items()):
            raised = self.state.raised.get(name, {})
            signals = finding.alert["signals"]
            new = [signal for signal in signals if signal not in raised]
            highest = min((SEVERITY_ORDER.get(severity, 9) for severity in raised.values()),
                          default=9)
            if not new and SEVERITY_ORDER[finding.verdict.severity] >= highest:
                continue
            alert = {"time": _now(), **finding.alert, "new_signals": new}
            alerts.append(alert)
        return alerts

    def checkpoint(self, alerts: List[dict]) -> None:
        """Commit what was read and the alerts it raised, then write the alerts out."""
        if self.undelivered:
            self.redeliver()  # the alerts that could not be written before
        positions = {path: position for path, follower in self.followers.items()
                     if (position := follower.position) is not None}
        stored = [(alert["user"], alert["severity"], set(alert["signals"]), to_json(alert))
                  for alert in alerts]
        ids = self.state.commit(self.engine, engine_format(), positions, stored,
                                engine_changed=self.changed)
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
        self.close()
        if self.failed or any(follower.failed for follower in self.followers.values()):
            return 2
        return 1 if alerts else 0

    def follow(self, stop: threading.Event, interval: float = 1.0,
               checkpoint_every: float = CHECKPOINT_EVERY) -> int:
        self.redeliver()
        last_commit = self.clock()
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
            if stopping:
                break
            pause = interval
            if unjudged:  # waiting for the assessment's turn: not a moment longer
                pause = min(interval, max(next_assessment - self.clock(), 0.0))
            stop.wait(pause)
        self.close()
        return 2 if self.failed else 0

    def close(self) -> None:
        for follower in self.followers.values():
            follower.close()
        for sink in self.sinks:
            sink.close()


def _loads(text: str) -> dict:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


# -- the state subcommand --------------------------------------------------------------------

def forget(state: State, user: str) -> bool:
    """Drop `user`'s history, pairs, raised alerts and facts; False if none was kept."""
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
        for message in engine.correlator.messages.values():
            if message.sasl_username is None:
                continue
            pending = sum(1 for _, status in message.counted_recipients()
                          if status == DEFERRED)
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


__all__ = ["Engine", "Finding", "Watch", "describe", "engine_format", "forget"]
