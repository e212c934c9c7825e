"""reports: finished sessions and messages -> rows of one report (a list of dicts, columns fixed).

SUMMARY
    REPORTS: name -> Report(columns, build)
    build_report(name, finished, selection, **options) -> (columns, rows)

DESCRIPTION
    Every report reads the stream that correlate() yields and a filters.Selection. `users`,
    `ips` and `failures` aggregate as the stream goes and return a sorted list; `sessions` and
    `messages` return a generator, so that a CSV of a huge log streams in flat memory.

    Column names are a contract (tests and scripts use them); columns are only ever added.
    users:    one row per SASL username (plus `(unknown user)`: successful logins that queued
              nothing, whose username Postfix never logged), most IPs then most recipients first;
              `flags` names the signals of a user incident.py flags as suspicious.
    sessions: one row per authenticated session (option show_all: every session with an AUTH
              attempt).
    messages: one row per recipient of an authenticated message, and per recipient refused
              before any queue file (queue_id NOQUEUE) in an authenticated session.
    ips:      one row per (user, client IP).
    failures: one row per client IP with failed AUTH; attempts come from the disconnect counters;
              `success_users` logged in from that IP after its first failure. With by="user":
              one row per username tried (failures without one: `(unknown user)`);
              `later_success`: a login as that user after its first failure; `success_ips`: the
              IPs that failed for that user and later logged in as it.
    suspicious, timeline: built in incident.py (flagged accounts, one account's hours); their
              columns are fixed here.
    queue:    messages still queued when the log ends (not removed, not expired) with
              recipients still deferred: authenticated users' messages, what content filters
              re-injected for them, and the bounce and delay notices they caused (kind notice,
              with the parent's queue ID): all of them eat the queue, and `--format ids` prints
              them for `postsuper -d -`.

    A recipient's outcome is counted in exactly one of sent, deferred, bounced, expired,
    rejected; `recipients` is their sum. A recipient handed to a content filter is counted where
    the filter re-injected it. Bounce notices are not the user's mail and are not counted.

DIAGNOSTICS
    None: rows are built from what correlation produced; an unknown report name is a KeyError
    the CLI never lets through (argparse restricts the choice).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from maillog_sasl import incident
from maillog_sasl.activity import Activity
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
)
from maillog_sasl.pairs import PairStore

USERS_COLUMNS = ["user", "sessions", "messages", "recipients", *OUTCOMES, "ips", "first_seen",
                 "last_seen", "methods", "hosts", "flags"]
SESSIONS_COLUMNS = ["host", "service", "pid", "client_ip", "client_name", "start", "end",
                    "sasl_method", "sasl_username", "auth", "tls", "messages", "recipients",
                    "failed_auth", "complete"]
MESSAGES_COLUMNS = ["queue_id", "host", "sasl_username", "client_ip", "time", "sender",
                    "recipient", "status", "dsn", "relay", "attempts", "reason", "orig_to",
                    "message_id", "last_attempt"]
IPS_COLUMNS = ["user", "client_ip", "client_name", "sessions", "messages", "recipients",
               "first_seen", "last_seen"]
FAILURES_COLUMNS = ["client_ip", "attempts", "usernames", "mechanisms", "first_seen",
                    "last_seen", "later_success", "client_names", "sessions", "success_users"]
FAILURES_BY_USER_COLUMNS = ["user", "attempts", "ips", "sessions", "first_seen", "last_seen",
                            "later_success", "success_ips"]
SUSPICIOUS_COLUMNS = ["user", "severity", "signals", "reasons", "networks", "ips",
                      "first_flagged", "logins", "messages", "recipients", "failed_share"]
TIMELINE_COLUMNS = ["user", "hour", "logins", "ips", "networks", "new_networks", "auth_failures",
                    "recipients", *OUTCOMES, "signals"]
QUEUE_COLUMNS = ["host", "queue_id", "kind", "user", "sender", "pending_recipients",
                 "first_deferred", "last_attempt", "last_reason", "parent_queue_id", "queued"]


class Report(NamedTuple):
    columns: List[str]
    build: Callable
    views: Optional[Dict[str, "Report"]] = None  # option `by` -> another shape of the report


def session_user(session: Session):
    """The name a session is reported under, or None when it did not log in."""
    if session.sasl_username is not None:
        return session.sasl_username
    return UNKNOWN_USER if session.auth_succeeded else None


def recipient_rows(message: Message, notices: bool = False) -> Iterable[dict]:
    """The messages-report rows of one authenticated message (nothing for other messages)."""
    base = None
    for recipient, status in message.counted_recipients(notices):
        if base is None:
            base = {"queue_id": message.queue_id, "host": message.host,
                    "sasl_username": message.sasl_username, "client_ip": message.client_ip,
                    "time": message.queued, "sender": message.sender if message.sender is not None
                    else message.sasl_sender, "message_id": message.message_id}
        if recipient is None:
            yield {**base, "recipient": "", "status": status, "dsn": "", "relay": "",
                   "attempts": 0, "reason": "not yet attempted when the log ends",
                   "orig_to": None, "last_attempt": None, "first_deferred": None}
        else:
            yield {**base, "recipient": recipient.address, "status": status,
                   "dsn": recipient.dsn, "relay": recipient.relay, "attempts": recipient.attempts,
                   "reason": recipient.reason, "orig_to": recipient.orig_to,
                   "last_attempt": recipient.last_attempt,
                   "first_deferred": recipient.first_deferred}


def session_reject_rows(session: Session, user: str) -> Iterable[dict]:
    """Rows for recipients refused before any queue file existed (NOQUEUE)."""
    for when, reject in session.rejects:
        yield {"queue_id": "NOQUEUE", "host": session.host, "sasl_username": user,
               "client_ip": session.client_ip, "time": when, "sender": reject.sender,
               "recipient": reject.recipient, "status": REJECTED, "dsn": reject.dsn,
               "relay": "", "attempts": 0, "reason": reject.reason, "orig_to": None,
               "message_id": None, "last_attempt": when}


def _earliest(current, candidate):
    if current is None or (candidate is not None and candidate < current):
        return candidate
    return current


def _latest(current, candidate):
    if current is None or (candidate is not None and candidate > current):
        return candidate
    return current


class _UserTotals:
    __slots__ = ("sessions", "messages", "outcomes", "first_seen", "last_seen",
                 "methods", "hosts")

    def __init__(self):
        self.sessions = 0
        self.messages = 0
        self.outcomes = Counter()
        self.first_seen = None
        self.last_seen = None
        self.methods = set()
        self.hosts = set()

    def add_session(self, session: Session) -> None:
        self.sessions += 1
        self.first_seen = _earliest(self.first_seen, session.start)
        self.last_seen = _latest(self.last_seen, session.end or session.start)
        if session.sasl_method:
            self.methods.add(session.sasl_method.lower())
        self.hosts.add(session.host)


def _totals_of(totals: Dict[str, _UserTotals], user: str) -> _UserTotals:
    found = totals.get(user)
    if found is None:
        found = totals[user] = _UserTotals()
    return found


def _users(finished: Iterable[Finished], selection: Selection, options: dict):
    limits = incident.thresholds_of(options)
    activity = Activity(limits, stats=options.get("stats"))
    totals: Dict[str, _UserTotals] = {}
    # Its own pairs, not activity's: these are the selected sessions', and unknown users' too.
    logins = PairStore()
    for item in activity.watch(finished):
        if isinstance(item, Session):
            user = session_user(item)
            if user is None or not selection.session(item, user):
                continue
            entry = _totals_of(totals, user)
            entry.add_session(item)
            logins.login(user, item.client_ip, item.start)
            entry.outcomes[REJECTED] += len(item.rejects)
        elif selection.message(item):
            # Nothing of a message without a username is counted: the correlator hands one on
            # only when it has a parent (a notice or a re-injection), never a submission.
            if item.sasl_username is None:
                continue
            statuses = [status for _, status in item.counted_recipients()]
            if not statuses and item.kind != "submission":
                continue
            entry = _totals_of(totals, item.sasl_username)
            entry.messages += item.kind == "submission"
            entry.outcomes.update(statuses)
            if item.sasl_method:
                entry.methods.add(item.sasl_method.lower())
    flags = incident.user_flags(activity, limits)
    ips = logins.ips_per_account()
    logins.close()
    rows = []
    for user, entry in totals.items():
        row = {"user": user, "flags": flags.get(user, []), "sessions": entry.sessions,
               "messages": entry.messages,
               "recipients": sum(entry.outcomes[outcome] for outcome in OUTCOMES)}
        row.update((outcome, entry.outcomes[outcome]) for outcome in OUTCOMES)
        row.update(ips=ips[user], first_seen=entry.first_seen, last_seen=entry.last_seen,
                   methods=sorted(entry.methods), hosts=sorted(entry.hosts))
        rows.append(row)
    rows.sort(key=lambda row: (row["user"] == UNKNOWN_USER, -row["ips"], -row["recipients"],
                               row["user"]))
    return rows


def _sessions(finished: Iterable[Finished], selection: Selection, options: dict):
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
        yield {"host": item.host, "service": item.service, "pid": item.pid,
               "client_ip": item.client_ip, "client_name": item.client_name,
               "start": item.start, "end": item.end, "sasl_method": item.sasl_method,
               "sasl_username": user,
               "auth": "" if auth is None else (str(auth[0]) if auth[0] == auth[1]
                                                else f"{auth[0]}/{auth[1]}"),
               "tls": f"{tls[0]} with {tls[1]}" if tls else "",
               "messages": len(item.queue_ids), "recipients": item.accepted_recipients,
               "failed_auth": item.failed_auth_count, "complete": item.complete}


def _messages(finished: Iterable[Finished], selection: Selection, options: dict):
    for item in finished:
        if isinstance(item, Session):
            user = session_user(item)
            if item.rejects and user is not None and selection.session(item, user):
                yield from session_reject_rows(item, user)
        elif selection.message(item):
            yield from recipient_rows(item)


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
            counted = sum(1 for _ in item.counted_recipients())
            if not counted and item.kind != "submission":
                continue
            entry = entry_for(item.sasl_username, item.client_ip)
            entry["messages"] += item.kind == "submission"
            entry["recipients"] += counted
    rows = list(pairs.values())
    rows.sort(key=lambda row: (row["user"] == UNKNOWN_USER, row["user"], row["first_seen"] is None,
                               row["first_seen"] or 0, row["client_ip"]))
    return rows


def _note_success(successes: dict, key, name, moment) -> None:
    """successes[key][name] = the latest successful login (name: a user, or an IP)."""
    found = successes.setdefault(key, {})
    found[name] = _latest(found.get(name), moment)


def _failures(finished: Iterable[Finished], selection: Selection, options: dict):
    by_ip: Dict[str, dict] = {}  # client IP -> its row
    successes: Dict[str, _dt.datetime] = {}  # client IP -> latest successful login
    user_successes: Dict[str, Dict[str, _dt.datetime]] = {}  # client IP -> {user: latest ...}
    for item in finished:
        if not isinstance(item, Session) or not selection.ip(item.client_ip):
            continue
        if not selection.window(item.start, item.end):
            continue
        if item.auth_succeeded:
            moment = item.end or item.start
            successes[item.client_ip] = _latest(successes.get(item.client_ip), moment)
            if item.sasl_username is not None:
                _note_success(user_successes, item.client_ip, item.sasl_username, moment)
        failed = item.failed_auth_count
        if not failed:
            continue
        usernames = {failure.username for _, failure in item.auth_failures if failure.username}
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
        entry["mechanisms"].update(failure.mechanism for _, failure in item.auth_failures)
        entry["client_names"].add(item.client_name)
        times = [when for when, _ in item.auth_failures] or [item.start, item.end]
        for when in times:
            entry["first_seen"] = _earliest(entry["first_seen"], when)
            entry["last_seen"] = _latest(entry["last_seen"], when)
    rows = []
    for ip, entry in by_ip.items():
        success = successes.get(ip)
        entry["later_success"] = (success is not None and entry["first_seen"] is not None
                                  and success >= entry["first_seen"])
        entry["success_users"] = _later(user_successes.get(ip, {}), entry["first_seen"])
        for key in ("usernames", "mechanisms", "client_names"):
            entry[key] = sorted(entry[key])
        rows.append(entry)
    rows.sort(key=lambda row: (-row["attempts"], row["client_ip"]))
    return rows


def _later(latest: dict, since) -> list:
    """The names in `latest` (name -> latest success) that succeeded at or after `since`."""
    return sorted(name for name, moment in latest.items()
                  if since is not None and moment is not None and moment >= since)


def _failures_by_user(finished: Iterable[Finished], selection: Selection, options: dict):
    by_user: Dict[str, dict] = {}  # username -> its row
    successes: Dict[str, Dict[str, _dt.datetime]] = {}  # user -> {client IP: latest login}
    for item in finished:
        if not isinstance(item, Session) or not selection.ip(item.client_ip):
            continue
        if not selection.window(item.start, item.end):
            continue
        if item.auth_succeeded and item.sasl_username is not None:
            _note_success(successes, item.sasl_username, item.client_ip, item.end or item.start)
        failed = item.failed_auth_count
        if not failed:
            continue
        # Postfix names the username on failures only since 3.9; the rest stay unattributed,
        # and so do failed AUTH that only the disconnect counters show.
        times: Dict[str, List[_dt.datetime]] = {}  # username tried -> when
        for when, failure in item.auth_failures:
            times.setdefault(failure.username or UNKNOWN_USER, []).append(when)
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
            entry["attempts"] += len(moments)
            entry["sessions"] += 1
            for when in moments:
                entry["first_seen"] = _earliest(entry["first_seen"], when)
                entry["last_seen"] = _latest(entry["last_seen"], when)
                entry["ips"][item.client_ip] = _earliest(entry["ips"].get(item.client_ip), when)
    rows = []
    for name, entry in by_user.items():
        logins = successes.get(name, {})
        entry["later_success"] = bool(_later(logins, entry["first_seen"]))
        # The evidence of a guess that worked: an IP that failed for this account, then got in.
        entry["success_ips"] = sorted(ip for ip, first in entry["ips"].items()
                                      if _later({ip: logins.get(ip)}, first))
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
        deferred = [row["first_deferred"] for row in pending if row["first_deferred"]]
        attempted = [row for row in pending if row["last_attempt"] is not None]
        last = max(attempted, key=lambda row: row["last_attempt"]) if attempted else None
        rows.append({"host": item.host, "queue_id": item.queue_id, "kind": item.kind,
                     "user": item.sasl_username, "sender": pending[0]["sender"],
                     "pending_recipients": len(pending),
                     "first_deferred": min(deferred) if deferred else None,
                     "last_attempt": last["last_attempt"] if last else None,
                     "last_reason": last["reason"] if last else pending[0]["reason"],
                     "parent_queue_id": item.parent.queue_id if item.parent else None,
                     "queued": item.queued})
    rows.sort(key=lambda row: (row["user"], row["host"], row["queued"], row["queue_id"]))
    return rows


REPORTS = {
    "users": Report(USERS_COLUMNS, _users),
    "sessions": Report(SESSIONS_COLUMNS, _sessions),
    "messages": Report(MESSAGES_COLUMNS, _messages),
    "ips": Report(IPS_COLUMNS, _ips),
    "failures": Report(FAILURES_COLUMNS, _failures,
                       {"user": Report(FAILURES_BY_USER_COLUMNS, _failures_by_user)}),
    "suspicious": Report(SUSPICIOUS_COLUMNS, incident.suspicious_report),
    "timeline": Report(TIMELINE_COLUMNS, incident.timeline_report),
    "queue": Report(QUEUE_COLUMNS, _queue),
}


def build_report(name: str, finished: Iterable[Finished], selection: Optional[Selection] = None,
                 **options):
    """(columns, rows) of report `name` over the correlator's output `finished`.

    `options` are the report's own settings, e.g. show_all=True for the sessions report, or
    by="user" for the failures report's view by username.
    """
    report = REPORTS[name]
    if report.views and options.get("by") in report.views:
        report = report.views[options["by"]]
    return report.columns, report.build(finished, selection or Selection(), options)
