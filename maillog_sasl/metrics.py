"""metrics: the Prometheus textfile-collector file of `watch --metrics FILE`.

SUMMARY
    Snapshot(...)                   what the series are made of (watch.Watch.snapshot())
    families(snapshot) -> [Family]  the maillog_sasl_* series, each with # HELP and # TYPE
    render(families) -> str         Prometheus' text exposition format (0.0.4)
    write(path, text)               the file replaced atomically, mode 0644
    escape_label(text), escape_help(text)
    Family(name, kind, help)        family.add(value, **labels)
    METRICS_EVERY, USERS_LISTED

DESCRIPTION
    node_exporter's textfile collector reads every `*.prom` file of its directory
    (--collector.textfile.directory) at each scrape. The file is written under a temporary name
    in the same directory (`.NAME.XXXXXXXX.tmp`, which the collector ignores), fsync'ed and
    renamed over FILE (output.AtomicWriter): a scrape sees the old file or the new one, never
    half of one. It is made readable by everyone (0644) whatever the umask, since
    node_exporter runs as another user.

    The series (counters count since the state was made, as the state keeps them):

      maillog_sasl_logins_total                  sessions that authenticated (counted when
                                                 they end)
      maillog_sasl_auth_failures_total           failed AUTH commands
      maillog_sasl_messages_total{outcome}       authenticated messages that left the queue,
                                                 by the worst outcome of their recipients
                                                 (expired, bounced, rejected, deferred, sent:
                                                 the first any recipient had); one that went
                                                 on under another queue ID (a content
                                                 filter's copy, a requeue) counted there
      maillog_sasl_recipients_total{outcome}     their recipients by outcome
      maillog_sasl_queue_messages                authenticated messages still in the queue
      maillog_sasl_queue_deferred_messages       ... of which with a deferred recipient
      maillog_sasl_queue_deferred_recipients     ... their deferred recipients
      maillog_sasl_flagged_accounts{severity}    accounts flagged at the last assessment
      maillog_sasl_flagged_account{user,severity}              1 per flagged account
      maillog_sasl_flagged_account_recipients{user}            its recipients
      maillog_sasl_flagged_account_deferred_recipients{user}   deferred or still queued
      maillog_sasl_flagged_account_queued_messages{user}       its messages in the queue
      maillog_sasl_flagged_accounts_unlisted     flagged accounts past USERS_LISTED
      maillog_sasl_alerts_total{severity}        alerts raised
      maillog_sasl_alerted_accounts{signal}      accounts alerted for each signal
      maillog_sasl_lines_read_total, maillog_sasl_lines_skipped_total
      maillog_sasl_lag_bytes{log}                bytes of each log not read yet
      maillog_sasl_lag_seconds                   how far behind the reading is: the time since
                                                 the newest line read, when bytes are waiting;
                                                 0 when every log is read to its end
      maillog_sasl_last_log_time_seconds         the time of the newest line read (Unix time),
                                                 whatever sessions are still open

    Per-user series exist only for flagged accounts, at most USERS_LISTED of them (most severe
    first, then most recipients): the cardinality is bounded whatever an attacker tries.
    Usernames are attacker text: label values are escaped as the format says (backslash,
    double quote, line feed), and the file is UTF-8 (what cannot be encoded is replaced).

DIAGNOSTICS
    write() raises OSError (the directory missing or not writable, a full disk); no temporary
    file is left behind.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Dict, List, NamedTuple, Optional, Tuple

from maillog_sasl.model import OUTCOMES
from maillog_sasl.output import AtomicWriter

METRICS_EVERY = 15.0
USERS_LISTED = 100
PREFIX = "maillog_sasl_"
SEVERITIES = ("critical", "high", "medium")
# A message's outcome: the first of these that any of its recipients had.
MESSAGE_OUTCOMES = ("expired", "bounced", "rejected", "deferred", "sent")


class Snapshot(NamedTuple):
    counters: Dict[str, int]              # logins, auth_failures, messages:O, recipients:O
    lines_read: int
    lines_skipped: int
    queue: Tuple[int, int, int]           # messages, deferred messages, deferred recipients
    flagged: Dict[str, dict]              # user -> severity, recipients, deferred, queued
    alerts: Dict[str, int]                # severity -> alerts raised
    alerted: Dict[str, int]               # signal -> accounts alerted
    lag: Dict[str, int]                   # log path -> bytes not read
    last_log_time: Optional[float]        # Unix time of the newest line read
    now: float


def escape_label(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Family:
    def __init__(self, name: str, kind: str, help_text: str):
        self.name = PREFIX + name
        self.kind = kind
        self.help = help_text
        self.samples: List[Tuple[Dict[str, str], float]] = []

    def add(self, value: float, **labels: str) -> "Family":
        self.samples.append((labels, value))
        return self

    def lines(self) -> List[str]:
        found = [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            text = ",".join(f'{key}="{escape_label(label)}"' for key, label in labels.items())
            found.append(f"{self.name}{{{text}}} {_number(value)}" if text
                         else f"{self.name} {_number(value)}")
        return found


def render(families: List[Family]) -> str:
    return "".join(line + "\n" for family in families for line in family.lines())


def _listed(flagged: Dict[str, dict]) -> List[str]:
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(flagged, key=lambda name: (order.get(flagged[name]["severity"], 9),
                                             -flagged[name].get("recipients", 0), name))


def families(snapshot: Snapshot) -> List[Family]:
    counters = snapshot.counters
    found = [
        Family("logins_total", "counter", "SMTP AUTH logins: sessions that authenticated, "
               "counted when they end").add(counters.get("logins", 0)),
        Family("auth_failures_total", "counter", "Failed SMTP AUTH commands").add(
            counters.get("auth_failures", 0)),
    ]
    messages = Family("messages_total", "counter", "Authenticated messages that left the "
                      "queue, by the worst outcome of their recipients")
    for outcome in MESSAGE_OUTCOMES:
        messages.add(counters.get(f"messages:{outcome}", 0), outcome=outcome)
    recipients = Family("recipients_total", "counter",
                        "Recipients of authenticated messages that left the queue, by outcome")
    for outcome in OUTCOMES:
        recipients.add(counters.get(f"recipients:{outcome}", 0), outcome=outcome)
    queued, deferred_messages, deferred_recipients = snapshot.queue
    found += [
        messages, recipients,
        Family("queue_messages", "gauge", "Authenticated messages still in the queue").add(
            queued),
        Family("queue_deferred_messages", "gauge",
               "Authenticated messages in the queue with a deferred recipient").add(
            deferred_messages),
        Family("queue_deferred_recipients", "gauge",
               "Deferred recipients of authenticated messages in the queue").add(
            deferred_recipients),
    ]
    by_severity = Family("flagged_accounts", "gauge",
                         "Accounts flagged at the last assessment, by severity")
    for severity in SEVERITIES:
        by_severity.add(sum(1 for facts in snapshot.flagged.values()
                            if facts["severity"] == severity), severity=severity)
    listed = _listed(snapshot.flagged)[:USERS_LISTED]
    account = Family("flagged_account", "gauge", "1 for each flagged account (at most "
                     f"{USERS_LISTED}, most severe first)")
    account_recipients = Family("flagged_account_recipients", "gauge",
                                "Recipients of a flagged account")
    account_deferred = Family("flagged_account_deferred_recipients", "gauge",
                              "Recipients of a flagged account deferred or still queued")
    account_queued = Family("flagged_account_queued_messages", "gauge",
                            "Messages of a flagged account still in the queue")
    for name in listed:
        facts = snapshot.flagged[name]
        account.add(1, user=name, severity=facts["severity"])
        account_recipients.add(facts.get("recipients", 0), user=name)
        account_deferred.add(facts.get("deferred", 0), user=name)
        account_queued.add(facts.get("queued", 0), user=name)
    found += [by_severity, account, account_recipients, account_deferred, account_queued,
              Family("flagged_accounts_unlisted", "gauge",
                     "Flagged accounts left out of the per-account series").add(
                  len(snapshot.flagged) - len(listed))]
    alerts = Family("alerts_total", "counter", "Alerts raised, by severity")
    for severity in SEVERITIES:
        alerts.add(snapshot.alerts.get(severity, 0), severity=severity)
    alerted = Family("alerted_accounts", "gauge", "Accounts alerted for each signal")
    for signal in sorted(snapshot.alerted):
        alerted.add(snapshot.alerted[signal], signal=signal)
    lag = Family("lag_bytes", "gauge", "Bytes of each log not read yet")
    for path in sorted(snapshot.lag):
        lag.add(snapshot.lag[path], log=path)
    behind = 0.0
    if any(snapshot.lag.values()) and snapshot.last_log_time is not None:
        behind = max(snapshot.now - snapshot.last_log_time, 0.0)
    found += [
        alerts, alerted,
        Family("lines_read_total", "counter", "Log lines read").add(snapshot.lines_read),
        Family("lines_skipped_total", "counter",
               "Log lines read and not used (other programs, not syslog, unknown)").add(
            snapshot.lines_skipped),
        lag,
        Family("lag_seconds", "gauge", "Seconds since the newest line read, while bytes are "
               "waiting; 0 when every log is read to its end").add(round(behind, 3)),
    ]
    if snapshot.last_log_time is not None:
        found.append(Family("last_log_time_seconds", "gauge",
                            "The newest log time read (Unix time)").add(
            round(snapshot.last_log_time, 3)))
    return found


def write(path: str, text: str) -> None:
    """Replace `path` by `text` atomically, readable by everyone (see the module docstring)."""
    writer = AtomicWriter(path, "wb")
    try:
        if stat.S_ISREG(os.fstat(writer.file.fileno()).st_mode):
            os.fchmod(writer.file.fileno(), 0o644)
        writer.file.write(text.encode("utf-8", "replace"))
    except BaseException:
        writer.discard()
        raise
    writer.commit()


__all__ = ["Family", "METRICS_EVERY", "Snapshot", "USERS_LISTED", "escape_help", "escape_label",
           "families", "render", "write"]
