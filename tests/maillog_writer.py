"""maillog_writer: small Postfix logs for tests, line for line as Postfix 3.x writes them.

SUMMARY
    log = MailLog(); log.login("alice@example.jp", "198.51.100.7", at(0, 9), to=3)
    log.failures("203.0.113.66", at(0, 10), ["admin", "info"])
    log.refused_login("alice@example.jp", "203.0.113.9", at(0, 11), to=2)
    log.write(tmp_path / "maillog")

DESCRIPTION
    Each call writes one smtpd session (connect .. disconnect with its counters) on the
    submission service, and for a login that sends, the message's cleanup, qmgr and delivery
    lines: `to=N` recipients with one outcome, or `outcomes={"sent": 3, "deferred": 2}`.
    Deferred recipients stay in the queue (no `removed`); `notice=True` adds the bounce or delay
    notice Postfix queues for the sender, itself deferred. A refused login's every recipient is
    refused by check_sasl_access. Lines are sorted by time on write, stamped in RFC 3339 as
    rsyslog writes them (no year to infer).

DIAGNOSTICS
    Programming errors only (an unknown outcome is a KeyError).
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Sequence

JST = dt.timezone(dt.timedelta(hours=9))
DAY0 = dt.datetime(2026, 1, 5, 0, 0, tzinfo=JST)
SECOND = dt.timedelta(seconds=1)

REASONS = {
    "sent": ("relay=mx.example.com[203.0.113.25]:25", "2.0.0",
             "250 2.0.0 Ok: queued as 4F2A31C0B7"),
    "bounced": ("relay=mx.example.com[203.0.113.25]:25", "5.1.1",
                "host mx.example.com[203.0.113.25] said: 550 5.1.1 <{rcpt}>: Recipient address "
                "rejected: User unknown (in reply to RCPT TO command)"),
    "deferred": ("relay=none", "4.4.1",
                 "connect to mx.{domain}[192.0.2.99]:25: Connection timed out"),
}


def at(day: float, hour: float = 0, minute: float = 0) -> dt.datetime:
    return DAY0 + dt.timedelta(days=day, hours=hour, minutes=minute)


class MailLog:
    def __init__(self, host: str = "mail"):
        self.host = host
        self.lines: List[tuple] = []
        self._pid = 2000
        self._queue = 0xA1B2C30000
        self._seq = 0
        self.pending: List[str] = []  # queue IDs left in the queue

    def _line(self, when: dt.datetime, program: str, pid: int, text: str) -> None:
        self._seq += 1
        self.lines.append((when, self._seq, f"{when.isoformat()} {self.host} {program}[{pid}]: {text}"))

    def _next_pid(self) -> int:
        self._pid += 1
        return self._pid

    def _next_queue_id(self) -> str:
        self._queue += 0x1F3
        return f"{self._queue:X}"

    def failures(self, ip: str, when: dt.datetime, usernames: Sequence[Optional[str]],
                 reason: str = "UGFzc3dvcmQ6", until: Optional[dt.datetime] = None,
                 killed: bool = False) -> None:
        """A session whose every AUTH fails, one per username (None: Postfix logged none), a
        second apart; it disconnects `until` (by default two seconds after the last), or, if
        `killed`, its smtpd dies and no disconnect is logged."""
        pid = self._next_pid()
        smtpd = "postfix/submission/smtpd"
        self._line(when, smtpd, pid, f"connect from unknown[{ip}]")
        for index, name in enumerate(usernames):
            tail = f", sasl_username={name}" if name is not None else ""
            self._line(when + (index + 1) * SECOND, smtpd, pid,
                       f"warning: unknown[{ip}]: SASL LOGIN authentication failed: {reason}{tail}")
        count = len(usernames)
        if killed:
            return
        self._line(until or when + (count + 2) * SECOND, smtpd, pid,
                   f"disconnect from unknown[{ip}] ehlo=1 auth=0/{count} quit=1 commands=2/{count + 2}")

    def password_check(self, ip: str, when: dt.datetime) -> None:
        """A session that authenticates and queues nothing: Postfix names no login for it."""
        pid = self._next_pid()
        smtpd = "postfix/submission/smtpd"
        self._line(when, smtpd, pid, f"connect from unknown[{ip}]")
        self._line(when + 2 * SECOND, smtpd, pid,
                   f"disconnect from unknown[{ip}] ehlo=1 auth=1 quit=1 commands=3")

    def _tls_connect(self, ip: str, when: dt.datetime) -> tuple:
        """(pid, program, client) of a new submission session from `ip`, its connect and TLS
        lines written."""
        pid = self._next_pid()
        smtpd = "postfix/submission/smtpd"
        client = f"unknown[{ip}]"
        self._line(when, smtpd, pid, f"connect from {client}")
        self._line(when, smtpd, pid, f"Anonymous TLS connection established from {client}: "
                                     "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")
        return pid, smtpd, client

    def login(self, user: str, ip: str, when: dt.datetime, to: int = 1, outcome: str = "sent",
              outcomes: Optional[Dict[str, int]] = None, typos: int = 0, notice: bool = False,
              retry: Optional[dt.timedelta] = None, expire_after: Optional[dt.timedelta] = None,
              noqueue_rejects: int = 0, sender: Optional[str] = None,
              until: Optional[dt.datetime] = None, reauths: int = 0) -> str:
        """A session that authenticates (after `typos` failures) and sends one message (its
        envelope sender `sender`, by default the login; "" for the null sender); it disconnects
        `until` (by default two seconds after the message's delivery). `reauths`: AUTH commands
        sent again after the login, each refused (`503 5.5.1 Error: already authenticated`,
        no line of its own) and counted failed."""
        envelope = user if sender is None else sender
        outcomes = outcomes if outcomes is not None else {outcome: to}
        pid, smtpd, client = self._tls_connect(ip, when)
        queue_id = self._next_queue_id()
        for index in range(typos):
            self._line(when + (index + 1) * SECOND, smtpd, pid,
                       f"warning: {client}: SASL PLAIN authentication failed: "
                       f"authentication failure, sasl_username={user}")
        start = when + (typos + 1) * SECOND
        accepted = sum(count for status, count in outcomes.items() if status != "rejected")
        self._line(start, smtpd, pid, f"{queue_id}: client={client}, sasl_method=PLAIN, "
                                      f"sasl_username={user}")
        number = 0
        for _ in range(outcomes.get("rejected", 0)):
            number += 1
            rcpt = f"r{number}@gone.example.net"
            self._line(start, smtpd, pid,
                       f"{queue_id}: reject: RCPT from {client}: 550 5.1.1 <{rcpt}>: Recipient "
                       f"address rejected: User unknown in relay recipient table; from=<{envelope}> "
                       f"to=<{rcpt}> proto=ESMTP helo=<laptop>")
        for index in range(noqueue_rejects):
            rcpt = f"x{index}@elsewhere.example"
            self._line(start, smtpd, pid,
                       f"NOQUEUE: reject: RCPT from {client}: 554 5.7.1 <{rcpt}>: Relay access "
                       f"denied; from=<{envelope}> to=<{rcpt}> proto=ESMTP helo=<laptop>")
        queued = start + SECOND
        self._line(queued, "postfix/cleanup", pid + 500,
                   f"{queue_id}: message-id=<{queue_id}.{int(when.timestamp())}@laptop.example.jp>")
        self._line(queued, "postfix/qmgr", 900,
                   f"{queue_id}: from=<{envelope}>, size=2814, nrcpt={accepted} (queue active)")
        deferred = []
        delivered = queued + SECOND
        for status in ("sent", "bounced", "deferred"):
            for _ in range(outcomes.get(status, 0)):
                number += 1
                rcpt = f"r{number}@{status}.example.net"
                self._delivery(delivered, queue_id, rcpt, status)
                if status == "deferred":
                    deferred.append(rcpt)
        attempts = 1
        if retry is not None and deferred:
            self._line(delivered + retry, "postfix/qmgr", 900,
                       f"{queue_id}: from=<{envelope}>, size=2814, nrcpt={accepted} (queue active)")
            for rcpt in deferred:
                self._delivery(delivered + retry, queue_id, rcpt, "deferred")
            attempts += 1
        if notice and (deferred or outcomes.get("bounced")):
            self._notice(delivered + SECOND, queue_id, user, "delay" if deferred else "non-delivery")
        if expire_after is not None and deferred:
            gone = delivered + expire_after
            self._line(gone, "postfix/qmgr", 900,
                       f"{queue_id}: from=<{envelope}>, status=expired, returned to sender")
            self._line(gone, "postfix/qmgr", 900, f"{queue_id}: removed")
        elif deferred:
            self.pending.append(queue_id)
        else:
            self._line(delivered + SECOND, "postfix/qmgr", 900, f"{queue_id}: removed")
        total = typos + 1 + reauths
        rcpt_total = accepted + outcomes.get("rejected", 0) + noqueue_rejects
        auth = "auth=1" if total == 1 else f"auth=1/{total}"
        rcpt = f"rcpt={accepted}" if rcpt_total == accepted else f"rcpt={accepted}/{rcpt_total}"
        ok = 7 + accepted  # ehlo=2 starttls auth mail rcpt... data quit
        self._line(until or delivered + 2 * SECOND, smtpd, pid,
                   f"disconnect from {client} ehlo=2 starttls=1 {auth} mail=1 {rcpt} data=1 quit=1 "
                   f"commands={ok}/{ok + total - 1 + rcpt_total - accepted}")
        return queue_id

    def refused_login(self, user: str, ip: str, when: dt.datetime, to: int = 1,
                      reply: str = "554 5.7.1", text: str = "compromised account: contact support",
                      fields: bool = False) -> None:
        """A session that authenticates as `user` and whose `to` recipients check_sasl_access
        refuses at RCPT (`contain --reject`'s table): `reply` the code and DSN, `text` the
        table's; `fields` as Postfix >= 3.10 writes the refusal (the login after the HELO)."""
        pid, smtpd, client = self._tls_connect(ip, when)
        login = f" sasl_method=PLAIN sasl_username={user}" if fields else ""
        for number in range(1, to + 1):
            rcpt = f"v{number}@victim.example.net"
            self._line(when + SECOND, smtpd, pid,
                       f"NOQUEUE: reject: RCPT from {client}: {reply} <{user}>: SASL login name "
                       f"rejected: {text}; from=<{user}> to=<{rcpt}> proto=ESMTP "
                       f"helo=<laptop>{login}")
        self._line(when + 2 * SECOND, smtpd, pid,
                   f"disconnect from {client} ehlo=2 starttls=1 auth=1 mail=1 rcpt=0/{to} rset=1 "
                   f"quit=1 commands=7/{7 + to}")

    def _delivery(self, when, queue_id, rcpt, status) -> None:
        relay, dsn, reason = REASONS[status]
        domain = rcpt.split("@", 1)[1]
        agent = "postfix/smtp"
        self._line(when, agent, 3000, f"{queue_id}: to=<{rcpt}>, {relay}, delay=1.4, "
                                      f"delays=0.2/0.01/1/0.2, dsn={dsn}, status={status} "
                                      f"({reason.format(rcpt=rcpt, domain=domain)})")

    def _notice(self, when, queue_id, user, what) -> None:
        notice_id = self._next_queue_id()
        self._line(when, "postfix/bounce", 3100,
                   f"{queue_id}: sender {what} notification: {notice_id}")
        self._line(when, "postfix/qmgr", 900,
                   f"{notice_id}: from=<>, size=4410, nrcpt=1 (queue active)")
        self._delivery(when + SECOND, notice_id, user.replace("@", "@bounce-"), "deferred")
        self.pending.append(notice_id)

    def text(self) -> str:
        return "".join(line + "\n" for _, _, line in sorted(self.lines))

    def write(self, path) -> str:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.text())
        return str(path)


# Other programs' lines, as syslog's file of every program (Debian's /var/log/syslog) holds them
# between the mail lines: `n` a count, `pid` a process.
OTHER_PROGRAMS = (
    "systemd[1]: Started session-{n}.scope - Session {n} of User root.",
    "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "kernel: [{n}.{pid:06}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.{octet} "
    "DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=52313 DPT=23",
    "systemd[1]: Starting apt-daily.service - Daily apt download activities...",
    "dbus-daemon[{pid}]: [system] Successfully activated service 'org.freedesktop.timedate1'",
)


def with_other_programs(log: MailLog, seed: int = 0) -> List[tuple]:
    """What syslog's file of every program holds of `log`: its lines, (when, seq, line) in their
    order, and between about every other two of them an other program's line of the same time
    (OTHER_PROGRAMS), with its seq after the mail line's."""
    import random

    chance = random.Random(seed)
    lines = []
    for number, (when, seq, line) in enumerate(sorted(log.lines)):
        lines.append((when, seq, line))
        if chance.random() < 0.5:
            other = chance.choice(OTHER_PROGRAMS).format(
                n=number, pid=chance.randrange(300, 99999), octet=chance.randrange(1, 250))
            lines.append((when, seq + 0.5, f"{when.isoformat()} {log.host} {other}"))
    return lines
