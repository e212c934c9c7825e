"""e2e_truth: turn a run's ground truth into the rows maillog-sasl's reports must show, and compare.

NAME
    e2e_truth - expected users/sessions/messages/failures rows from truth.json; run the CLI;
                list every difference.

DESCRIPTION
    The truth (written by e2e_driver, saved as tests/fixtures/postfix37/truth.json) says what the
    test did: each SMTP session's client IP, service, time window, AUTH attempts with their
    replies, and each transaction's queue ID and per-recipient expected outcome. From it:

        expected_users(truth)      one row per SASL user that queued mail, plus `(unknown user)`
        expected_sessions(truth, all_sessions)
        expected_messages(truth)   one row per recipient of an authenticated transaction
        expected_failures(truth)   one row per client IP with failed AUTH commands
        REPORT_CASES               those four (sessions with and without --all), and a few
                                   filtered ones (--user glob, --ip CIDR, --since)

    Each expected row maps a report column to a matcher: an exact value, Same (case-insensitive
    set), Window (an ISO time inside the session's [start, end], widened by a second because the
    log has whole seconds), AtLeast, Contains, OneOf. Columns the contract leaves open are not
    checked. compare(name, expected, actual, key) pairs rows by key and returns a list of
    readable differences (missing rows, extra rows, wrong cells): empty means the report matches.

    run_report(log, report, truth, *args) runs `python -m maillog_sasl --report R --format json`
    on a log with --year and --tz from the truth, so the result does not depend on the machine's
    clock, time zone or the file's mtime.

    The contract being checked (from the lead; see README/--help): users `sessions` = the user's
    authenticated sessions that queued mail, `recipients` = sent+deferred+bounced+expired+rejected,
    `ips` = distinct client IPs; sessions `auth` = the disconnect counter text, `recipients` =
    every RCPT, accepted or refused (as users counts them), `rejected` = those refused at RCPT;
    failures `attempts` = failed AUTH commands from the disconnect counters.

DIAGNOSTICS
    AnalyzerError when the CLI exits non-zero or prints something that is not a JSON array.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

UNKNOWN_USER = "(unknown user)"
# The syslog_name each listener was given in master.cf (what the log's program part shows).
SERVICE_SYSLOG_NAME = {"smtpd": "postfix", "submission": "postfix/submission",
                       "smtps": "postfix/smtps"}
SLACK = dt.timedelta(seconds=1)


class AnalyzerError(RuntimeError):
    """maillog-sasl failed or printed something unexpected."""


# ------------------------------------------------------------------ matchers
def _time(value):
    return dt.datetime.fromisoformat(value)


def _set(value):
    if value is None or value == "":
        return frozenset()
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(str(v).strip().lower() for v in value if str(v).strip())


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y")
    return bool(value)


class Matcher:
    def matches(self, value) -> bool:
        raise NotImplementedError


class Window(Matcher):
    """An ISO 8601 time (with offset) between lo-1s and hi+1s, the low end to the second.

    Postfix stamps a line with time(2), to the second, and glibc's time() reads the coarse
    clock, which lags the driver's clock by up to a kernel tick: a connect the driver began at
    hh:mm:04.003 can be logged at hh:mm:03 (seen in CI). So the low end is cut to its second.
    """

    def __init__(self, lo, hi):
        self.lo = (_time(lo) - SLACK).replace(microsecond=0)
        self.hi = _time(hi) + SLACK

    def matches(self, value):
        try:
            t = _time(value)
        except (TypeError, ValueError):
            return False
        return t.tzinfo is not None and self.lo <= t <= self.hi

    def __repr__(self):
        return f"time in [{self.lo.isoformat()}, {self.hi.isoformat()}]"


class Same(Matcher):
    """The same set of strings, case-insensitively (a JSON list or a comma-separated string)."""

    def __init__(self, items):
        self.items = _set(list(items))

    def matches(self, value):
        return _set(value) == self.items

    def __repr__(self):
        return f"set {sorted(self.items)}"


class Bool(Matcher):
    def __init__(self, value):
        self.value = bool(value)

    def matches(self, value):
        return value is not None and value != "" and _bool(value) == self.value

    def __repr__(self):
        return repr(self.value)


class Truthy(Matcher):
    """Non-empty / true when expected is true; empty / false / null otherwise (e.g. `tls`)."""

    def __init__(self, value):
        self.value = bool(value)

    def matches(self, value):
        got = _bool(value) if isinstance(value, str) and value.lower() in (
            "true", "false", "yes", "no") else bool(value)
        return got == self.value

    def __repr__(self):
        return "something true/non-empty" if self.value else "false/empty"


class AtLeast(Matcher):
    def __init__(self, n):
        self.n = n

    def matches(self, value):
        try:
            return int(value) >= self.n
        except (TypeError, ValueError):
            return False

    def __repr__(self):
        return f">= {self.n}"


class Contains(Matcher):
    def __init__(self, text):
        self.text = text

    def matches(self, value):
        return isinstance(value, str) and self.text in value

    def __repr__(self):
        return f"text containing {self.text!r}"


class OneOf(Matcher):
    def __init__(self, *values):
        self.values = values

    def matches(self, value):
        return value in self.values

    def __repr__(self):
        return " or ".join(map(repr, self.values))


class NoCase(Matcher):
    def __init__(self, text):
        self.text = text

    def matches(self, value):
        return isinstance(value, str) and value.lower() == self.text.lower()

    def __repr__(self):
        return f"{self.text!r} (any case)"


def cell_matches(expected, value):
    if isinstance(expected, Matcher):
        return expected.matches(value)
    if isinstance(expected, int) and not isinstance(expected, bool):
        try:
            return int(value) == expected
        except (TypeError, ValueError):
            return False
    return value == expected


# ------------------------------------------------------------------ truth -> facts
def auth_counter(session) -> str | None:
    """The `auth=` text Postfix prints at disconnect for this session's AUTH commands."""
    attempts = session["auth"]
    if not attempts:
        return None
    ok = sum(a["ok"] for a in attempts)
    return str(ok) if ok == len(attempts) else f"{ok}/{len(attempts)}"


def logged_in(session) -> bool:
    return any(a["ok"] for a in session["auth"])


def queued(session) -> list:
    return [t for t in session["transactions"] if t["queue_id"]]


def session_user(session):
    """The username the log can show for the session: only a session that queued mail has one."""
    if not logged_in(session):
        return None
    return session["sasl_username"] if queued(session) else UNKNOWN_USER


def recipients_of(session):
    """(transaction, recipient) pairs of an authenticated session, in order."""
    if not logged_in(session):
        return []
    return [(t, r) for t in session["transactions"] for r in t["recipients"]]


# ------------------------------------------------------------------ expected rows
def expected_users(truth):
    per_user = defaultdict(list)
    for s in truth["sessions"]:
        user = session_user(s)
        if user is not None:
            per_user[user].append(s)
    rows = []
    for user, sessions in per_user.items():
        outcomes = {k: 0 for k in ("sent", "deferred", "bounced", "expired", "rejected")}
        for s in sessions:
            for _, r in recipients_of(s):
                outcomes[r["expected"]] += 1
        sessions.sort(key=lambda s: s["start"])
        row = {
            "user": user,
            "sessions": len(sessions),
            "messages": sum(len(queued(s)) for s in sessions),
            "recipients": sum(outcomes.values()),
            **outcomes,
            "ips": len({s["client_ip"] for s in sessions}),
            "first_seen": Window(sessions[0]["start"], sessions[0]["end"]),
            "last_seen": Window(sessions[-1]["start"], sessions[-1]["end"]),
        }
        if user != UNKNOWN_USER:
            row["methods"] = Same(s["sasl_method"] for s in sessions)
        rows.append(row)
    return rows


def expected_sessions(truth, all_sessions=False):
    rows = []
    for s in truth["sessions"]:
        if not s["auth"] or (not all_sessions and not logged_in(s)):
            continue
        user = session_user(s)
        q = queued(s)
        row = {
            "host": truth["meta"]["log_host"],
            "service": SERVICE_SYSLOG_NAME[s["service"]],
            "client_ip": s["client_ip"],
            "client_name": "unknown",
            "start": Window(s["start"], s["end"]),
            "end": Window(s["start"], s["end"]),
            "auth": auth_counter(s),
            "tls": Truthy(s["tls"]),
            "messages": len(q),
            "recipients": len(recipients_of(s)),
            "rejected": sum(1 for _, r in recipients_of(s)
                            if not r["rcpt_reply"].startswith("2")),
            "pid": AtLeast(1),
        }
        if user is None:
            row["sasl_username"] = OneOf(None, "")
            row["sasl_method"] = OneOf(None, "")
        elif user == UNKNOWN_USER:
            # Postfix never logged who this was; the contract leaves the cell's spelling open.
            row["sasl_username"] = OneOf(None, "", UNKNOWN_USER)
            row["sasl_method"] = OneOf(None, "")
        else:
            row["sasl_username"] = user
            row["sasl_method"] = NoCase(s["sasl_method"])
        rows.append(row)
    return rows


def expected_messages(truth):
    sinks = truth["meta"]["sink_ports"]
    closed = truth["meta"]["closed_port"]
    rows = []
    for s in truth["sessions"]:
        for t, r in recipients_of(s):
            status = r["expected"]
            domain = r["address"].rsplit("@", 1)[1]
            row = {
                "queue_id": t["queue_id"] if status != "rejected" or r["logged_with_queue_id"]
                else "NOQUEUE",
                "host": truth["meta"]["log_host"],
                "sasl_username": session_user(s),
                "client_ip": s["client_ip"],
                "time": Window(s["start"], s["end"]),
                "sender": t["sender"],
                "recipient": r["address"],
                "status": status,
                "dsn": r["dsn"],
            }
            # The instance whose queue holds it: the private instance's own syslog_name
            # (its cleanup's and qmgr's), never the submission port's postfix/submission; a
            # NOQUEUE refusal is in no queue. (A recipient refused under a queue ID: its
            # transaction may have ended before cleanup or qmgr said anything.)
            if row["queue_id"] == "NOQUEUE":
                row["instance"] = ""
            elif status != "rejected":
                row["instance"] = "postfix"
            if status == "rejected":
                row["reason"] = Contains(r["rcpt_reply"].split(" ", 1)[1][:60])
            elif r["via"] == "local":
                row["relay"] = "local"
                row["attempts"] = 1
            elif r["via"] == "closed":
                row["relay"] = "none"
                row["reason"] = Contains(f"127.0.0.1[127.0.0.1]:{closed}: Connection refused")
            else:
                row["relay"] = f"127.0.0.1[127.0.0.1]:{sinks[domain]}"
                if status != "sent":
                    row["reason"] = Contains(truth["meta"]["sink_replies"][r["via"]])
            if status in ("sent", "bounced"):
                row["attempts"] = 1
            elif status == "deferred":
                row["attempts"] = AtLeast(1)
            elif status == "expired":
                row["attempts"] = AtLeast(2)
            rows.append(row)
    return rows


def expected_failures(truth):
    per_ip = defaultdict(list)
    for s in truth["sessions"]:
        if any(not a["ok"] for a in s["auth"]):
            per_ip[s["client_ip"]].append(s)
    rows = []
    for ip, sessions in per_ip.items():
        sessions.sort(key=lambda s: s["start"])
        failed = [a for s in sessions for a in s["auth"] if not a["ok"]]
        first_fail = min(a["time"] for a in failed)
        later = any(a["ok"] and a["time"] >= first_fail
                    for s in truth["sessions"] if s["client_ip"] == ip for a in s["auth"])
        rows.append({
            "client_ip": ip,
            "attempts": len(failed),
            # What Postfix could see: a refused AUTH (before STARTTLS) is never decoded, and a
            # cancelled LOGIN is logged without a username.
            "usernames": Same(a["username"] for a in failed
                              if not a.get("refused") and not a.get("aborted")),
            "mechanisms": Same(a["mechanism"] for a in failed if not a.get("refused")),
            "first_seen": Window(sessions[0]["start"], sessions[0]["end"]),
            "last_seen": Window(sessions[-1]["start"], sessions[-1]["end"]),
            "later_success": Bool(later),
        })
    return rows


KEYS = {
    "users": ("user",),
    "sessions": ("client_ip", "#"),
    "messages": ("queue_id", "recipient", "client_ip"),
    "failures": ("client_ip",),
}


def _keyed(rows, key):
    out, seen = {}, defaultdict(int)
    for row in sorted(rows, key=lambda r: str(r.get("start", ""))) if "#" in key else rows:
        base = tuple(row.get(k) for k in key if k != "#")
        if "#" in key:
            seen[base] += 1
            base = base + (seen[base],)
        out.setdefault(base, []).append(row)
    return out


def compare(name, expected, actual, key=None) -> list:
    """Differences between expected rows (with matchers) and the report's rows, as text."""
    key = key or KEYS[name]
    problems = []
    exp, act = _keyed(expected, key), _keyed(actual, key)
    for k in sorted(set(exp) | set(act), key=str):
        e_rows, a_rows = exp.get(k, []), act.get(k, [])
        if not a_rows:
            problems.append(f"{name}: missing row {dict(zip(key, k))}")
            continue
        if not e_rows:
            for a in a_rows:
                problems.append(f"{name}: unexpected row {a}")
            continue
        if len(e_rows) != len(a_rows):
            problems.append(f"{name}: {len(a_rows)} rows for {dict(zip(key, k))}, "
                            f"expected {len(e_rows)}")
        for e, a in zip(e_rows, a_rows):
            for col, want in e.items():
                if col not in a:
                    problems.append(f"{name} {dict(zip(key, k))}: no column {col!r}")
                elif not cell_matches(want, a[col]):
                    problems.append(f"{name} {dict(zip(key, k))}: {col} = {a[col]!r}, "
                                    f"expected {want!r}")
    return problems


# ------------------------------------------------------------------ running the CLI
def posix_tz(utc_offset: str) -> str:
    """'+0900' -> 'UTC-09:00' (POSIX TZ signs are inverted), '+0000' -> 'UTC0'."""
    sign, hh, mm = utc_offset[0], utc_offset[1:3], utc_offset[3:5]
    if hh == "00" and mm == "00":
        return "UTC0"
    return f"UTC{'-' if sign == '+' else '+'}{hh}:{mm}"


def tz_option(utc_offset: str) -> str:
    return f"{utc_offset[:3]}:{utc_offset[3:5]}"


def run_report(log, report, truth, *extra, cwd=None, pin_year=True) -> list:
    """The report's rows. pin_year=False leaves year and zone to the analyzer (file mtime, the
    machine's zone): right only for a log written here just now."""
    meta = truth["meta"]
    pinned = ("--year", str(meta["year"]), "--tz", tz_option(meta["utc_offset"]))
    argv = [sys.executable, "-m", "maillog_sasl", "--report", report, "--format", "json",
            *(pinned if pin_year else ()), *extra, str(log)]
    env = dict(os.environ, TZ=posix_tz(meta["utc_offset"])) if pin_year else None
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    if proc.returncode != 0:
        raise AnalyzerError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        rows = json.loads(proc.stdout)
    except ValueError as e:
        raise AnalyzerError(f"{report}: output is not JSON ({e}): {proc.stdout[:300]!r}") from e
    if not isinstance(rows, list):
        raise AnalyzerError(f"{report}: expected a JSON array, got {type(rows).__name__}")
    return rows


def _late_start(truth) -> dt.datetime:
    """The first late session's start less the slack, to the second (in the run's zone).

    Less the slack for the reason Window gives: its connect can be logged a second early.
    """
    start = min(_time(s["start"]) for s in truth["sessions"]
                if any(t.get("late") for t in s["transactions"]))
    return (start - SLACK).replace(microsecond=0)


def _in_net(ip, prefix):
    return ip.startswith(prefix)


REPORT_CASES = {
    # name: (report, truth -> extra CLI args, truth -> expected rows)
    "users": ("users", lambda t: (), expected_users),
    "sessions": ("sessions", lambda t: (), lambda t: expected_sessions(t, all_sessions=False)),
    "sessions --all": ("sessions", lambda t: ("--all",),
                       lambda t: expected_sessions(t, all_sessions=True)),
    "messages": ("messages", lambda t: (), expected_messages),
    "failures": ("failures", lambda t: (), expected_failures),
    # The filters on real output: a user glob, a CIDR, a start time.
    "users --user erin@*": ("users", lambda t: ("--user", "erin@*"),
                            lambda t: [r for r in expected_users(t)
                                       if r["user"] == "erin@harness.test"]),
    "messages --ip 127.66.0.0/16": ("messages", lambda t: ("--ip", "127.66.0.0/16"),
                                    lambda t: [r for r in expected_messages(t)
                                               if _in_net(r["client_ip"], "127.66.")]),
    "failures --ip 127.13.0.0/16": ("failures", lambda t: ("--ip", "127.13.0.0/16"),
                                    lambda t: [r for r in expected_failures(t)
                                               if _in_net(r["client_ip"], "127.13.")]),
    # Phase C starts some 20 s after everything else: only its session is that late.
    "sessions --all --since LATE": (
        "sessions", lambda t: ("--all", "--since", _late_start(t).strftime("%Y-%m-%d %H:%M:%S")),
        lambda t: [r for r in expected_sessions(t, True) if r["start"].hi >= _late_start(t)]),
}


def check_report(case, log, truth) -> list:
    report, args, build = REPORT_CASES[case]
    expected = build(truth)
    if not expected:
        return [f"{case}: the truth implies no rows at all; the check would prove nothing"]
    actual = run_report(log, report, truth, *args(truth))
    return compare(report, expected, actual)


def load_truth(path) -> dict:
    return json.loads(Path(path).read_text())
