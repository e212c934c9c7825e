"""Generate realistic Postfix mail logs together with their ground truth.

NAME
     tools.simulate - deterministic Postfix 3.x mail log generator with ground truth

SYNOPSIS
     python -m tools.simulate [--seed N] [--days D] [--users N]
            [--compromised N] [--timestamps rfc3339|traditional] [--year Y]
            [--start MM-DD[THH:MM[:SS]]] [--utc-offset +HH:MM] [--hosts N]
            [--long-queue-ids] [--volume X | --target-lines N]
            -o FILE [--truth FILE.json] [--rotate N]

     from tools.simulate import SimConfig, simulate, simulate_to_files
     truth = simulate(SimConfig(seed=1, days=7), out_stream)
     truth = simulate_to_files(SimConfig(seed=1), "maillog", rotate=6)

DESCRIPTION
     Simulates one (or, with --hosts, several) Postfix 3.x mail servers for a
     number of days and writes the syslog lines they would have produced, in
     time order, interleaved with the usual noise of other programs.  The same
     seed and options always give byte-identical output.

     The simulated server (syslog name "mail", or mail1..mailN) hosts the
     domains corp.example and shop.example; its local zone is --utc-offset
     and --start is a local time.  There are --users normal accounts plus
     --compromised accounts (60 + 3 by default).  --volume multiplies every
     kind of traffic (users' mail, inbound mail, attacks, brute force, noise;
     not the population); --target-lines picks the volume for a line count.
     Its traffic:

     o   Normal users (--users) with habits: one or two home networks whose
         dynamic address changes now and then, an office NAT address shared
         by several accounts, mobile phones on carrier NAT pools, some users
         travelling; a few to a few dozen recipients a day; submission (587,
         STARTTLS) or smtps (465, wrapper TLS); the odd bounce, the odd
         mistyped password (auth=1/2), the odd unknown local recipient
         refused at RCPT, some sessions that log in and send nothing.
     o   Compromised accounts (--compromised, in addition to the normal
         users; they behave normally until they are broken into): password
         guessing from a few attacker addresses, a successful login from one
         of them (the moment the account "went bad"), a test message, then
         bursts of spam from a botnet spread over many networks and
         countries, hundreds of recipients an hour, most of them failing
         (refused at RCPT, bounced, deferred, retried for days, expired), so
         the queue fills.  The first compromised account gets its password
         reset after its last burst; the botnet keeps trying and fails.
     o   Brute-force campaigns: failed AUTH with and without ", sasl_username=",
         with and without a client port (the smtps service logs ports), the
         Cyrus "Password verification failed" line, AUTH before STARTTLS
         (only "auth=0/1" in the counters), AUTH on port 25, aborted AUTH,
         "lost connection after AUTH".
     o   Inbound mail on port 25 to local users, unknown-user, DNSBL and
         relay-access rejects, scanners, one IPv6 partner.
     o   Queue behaviour: deferred mail retried with Postfix's backoff
         (minimal 300 s, maximal 4000 s, queue scans every 300 s), dead
         destinations ("delivery temporarily suspended" from postfix/error),
         expiry after maximal_queue_lifetime (5 days) with a non-delivery
         notice, bounce notices (from=<>) with their own deliveries, double
         bounces to the postmaster, messages already deferred when the log
         starts, messages still deferred when it ends.  Short hex queue ids
         (10-12 characters) are reused after removal; --long-queue-ids gives
         Postfix long queue ids instead.  With --hosts N, process ids and
         queue ids collide across hosts.
     o   Noise: dovecot (IMAP logins, IMAP auth failures), opendkim, CRON with
         pam_unix, kernel firewall lines, postfix/anvil and postfix/scache
         statistics, postfix/pickup with local mail from cron.

     Every line has the shape "TIMESTAMP HOST PROGRAM[PID]: TEXT" (dovecot and
     kernel lines have no [PID]), the Postfix texts being exactly those of
     Postfix 3.x (smtpd, cleanup, qmgr, smtp, lmtp, local, error, bounce,
     pickup, anvil, scache).

     Sessions start no later than 15 minutes before the end of the period and
     finish before it, so every queued message has had its first delivery
     attempt; later retries may fall after the end and are then missing, as
     in a real log file.

INPUT
     Only the options (or the SimConfig given to simulate()).  Nothing is
     read from disk or the network.

OUTPUT
     The log: to -o FILE (gzip-compressed when FILE ends in .gz; "-" is
     standard output).  With --rotate N the period is cut into N+1 equal
     parts written, oldest first, to FILE.N.gz ... FILE.1.gz and FILE (the
     newest part, uncompressed unless FILE ends in .gz), as logrotate leaves
     them.

     The ground truth: a JSON object, returned by simulate() and written to
     --truth FILE.json.  Times are ISO 8601 with offset, exactly the instant
     of the corresponding log line: with rfc3339 timestamps they carry the
     configured offset and microseconds (they equal the line's timestamp);
     with traditional timestamps the log is written in UTC wall-clock time
     (as from a syslog daemon running with TZ=UTC) and truth times are UTC,
     whole seconds, "+00:00".  Keys:

     users       {username: {...}} for every SASL username that queued mail:
                 sessions   that user's authenticated sessions (connect ..
                            disconnect on one smtpd process) that queued >= 1
                            message;
                 messages   queued messages (client= lines with that
                            sasl_username);
                 recipients sent+deferred+bounced+expired+rejected;
                 sent, bounced, expired, deferred, rejected
                            each recipient's final outcome: sent; bounced;
                            expired (the message expired while the recipient
                            was still deferred); deferred (not final when the
                            log ends); rejected (refused at RCPT in that
                            user's session; a NOQUEUE reject counts for the
                            user only if the same session also queued a
                            message with the username);
                 ips        sorted distinct client IPs of those sessions;
                 methods    sorted distinct sasl_method values, upper case;
                 first_seen earliest connect time of those sessions;
                 last_seen  latest disconnect time of those sessions.
                 The entry "(unknown user)" has the same keys: sessions =
                 successful logins (auth ok >= 1 in the disconnect counters)
                 that queued nothing, rejected = the NOQUEUE rejects in those
                 sessions, ips/first_seen/last_seen of those sessions,
                 methods = [] and zero for the other counts.
     failures    {ip: {...}} for every client IP with failed AUTH commands:
                 attempts      sum over its sessions of auth total minus auth
                               ok from the disconnect counters;
                 usernames     sorted sasl_username= values of its failure lines;
                 mechanisms    sorted mechanisms of its failure lines, upper case;
                 later_success true when a session from that IP with auth ok
                               >= 1 disconnected after the IP's first failure
                               (the first failure line, or, for a session whose
                               failures left no line, its disconnect).
     compromised [{user, compromised_at, attacker_ips, guess_ips}] sorted by
                 user: compromised_at is the connect time of the attacker's
                 first successful session; attacker_ips the IPs from which the
                 attacker logged in successfully as that user; guess_ips the
                 IPs that guessed its password.
     normal      sorted usernames of the never-compromised accounts (with a
                 period too short for an attack to complete, a would-be
                 compromised account stays normal).
     pending     [{host, queue_id, user}] for authenticated users' messages
                 with recipients still deferred at the end of the log (not
                 removed, not expired); sorted by host, queue id.  Bounce
                 notices are not authenticated messages: they are in neither
                 users nor pending, nor are messages whose client= line is
                 before the start of the log.
     lines       total number of lines written.
     period      {first, last}: timestamps of the first and last line.
     files       [{path, lines, first, last}] oldest first (simulate_to_files).
     hosts       the syslog host names; timestamps; utc_offset; config (the
                 SimConfig fields); truth_version; generator.
     stats       extra counters (messages, auth_messages, bounce_notices,
                 expired_messages, carryover_messages, qid_reuses,
                 cross_host_qid_collisions, delivery_attempts, ...),
                 informational.  ambiguous_later_success counts IPs for which
                 "a success after the first failure" would differ had success
                 been dated by connect instead of disconnect; it is 0 for the
                 shipped sample.

DIAGNOSTICS
     Invalid options: argparse usage message, exit status 2.  Invalid
     SimConfig values: ValueError from simulate().  A file that cannot be
     written: "simulate: cannot write FILE: reason" on standard error, exit
     status 1; from the library, OSError.  A program bug that would break
     time order raises RuntimeError rather than write a disordered log.

PERFORMANCE
     Lines are generated by an event heap and streamed to the output in
     chunks; memory is bounded by the number of concurrent sessions and of
     messages in the simulated queue, not by the size of the log (about
     40 MB resident at 1.5 M lines, 165 MB at 14 M lines, where the queue
     holds ~10,000 deferred messages).  About 100,000 lines per second on one
     unloaded core: 1.46 M lines in 13.5 s; --target-lines adds about 6 s of
     calibration and lands within about 5% of the target.

EXAMPLES
     python -m tools.simulate --seed 1 --days 7 --users 60 \\
         --compromised 3 --timestamps rfc3339 --year 2026 \\
         -o maillog --truth maillog.truth.json
     python -m tools.simulate --target-lines 1500000 -o big.log
     python -m tools.simulate --hosts 3 --rotate 6 -o /tmp/logs/maillog
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import heapq
import io
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, fields

__all__ = ["SimConfig", "simulate", "simulate_to_files", "main", "TRUTH_VERSION"]

TRUTH_VERSION = 1

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass
class SimConfig:
    """Everything the simulation depends on.  Same config, same output."""

    seed: int = 1
    days: float = 7.0
    users: int = 60                 # normal (never compromised) accounts
    compromised: int = 3            # accounts broken into, in addition to users
    timestamps: str = "rfc3339"     # or "traditional"
    year: int = 2026
    start: str = "03-02T00:00:00"   # MM-DD[THH:MM[:SS]], local time at utc_offset
    utc_offset: str = "+09:00"      # the server's zone (rfc3339 lines carry it)
    hosts: int = 1
    long_queue_ids: bool = False
    volume: float = 1.0             # traffic multiplier (users' mail, inbound, attacks, noise)
    # Inbound SMTP sessions per account per day on top of the base trickle: a busy MX receives
    # far more mail (and spam) than its users send; 0 keeps the small base alone.
    inbound_per_user: float = 0.0

    def validate(self) -> None:
        if not isinstance(self.seed, int):
            raise ValueError("seed must be an integer")
        if not (0 < float(self.days) <= 400):
            raise ValueError("days must be > 0 and <= 400")
        if not (isinstance(self.users, int) and 1 <= self.users <= 100000):
            raise ValueError("users must be an integer from 1 to 100000")
        if not (isinstance(self.compromised, int) and 0 <= self.compromised <= 1000):
            raise ValueError("compromised must be an integer from 0 to 1000")
        if self.timestamps not in ("rfc3339", "traditional"):
            raise ValueError("timestamps must be 'rfc3339' or 'traditional'")
        if not (isinstance(self.year, int) and 1971 <= self.year <= 9998):
            raise ValueError("year must be from 1971 to 9998")
        if not (isinstance(self.hosts, int) and 1 <= self.hosts <= 50):
            raise ValueError("hosts must be an integer from 1 to 50")
        if not (0 < float(self.volume) <= 100000):
            raise ValueError("volume must be > 0")
        if not (0 <= float(self.inbound_per_user) <= 100000):
            raise ValueError("inbound_per_user must be >= 0")
        parse_offset(self.utc_offset)
        parse_start(self.start, self.year)


_OFFSET_RE = re.compile(r"^([+-])(\d\d):?(\d\d)$")
_START_RE = re.compile(r"^(?:(\d{4})-)?(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?$")


def parse_offset(text: str) -> int:
    """'+09:00' -> 32400 seconds east of UTC."""
    m = _OFFSET_RE.match(text or "")
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ValueError(f"utc_offset must look like +09:00 or -0500, not {text!r}")
    sec = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return -sec if m.group(1) == "-" else sec


def parse_start(text: str, year: int):
    """'03-02T08:00' -> (year, 3, 2, 8, 0, 0); an explicit YYYY- prefix must equal year."""
    m = _START_RE.match(text or "")
    if not m:
        raise ValueError(f"start must look like MM-DD or MM-DDTHH:MM[:SS], not {text!r}")
    if m.group(1) and int(m.group(1)) != year:
        raise ValueError(f"start {text!r} contradicts year {year}")
    mon, day = int(m.group(2)), int(m.group(3))
    hh, mm, ss = (int(m.group(i)) if m.group(i) else 0 for i in (4, 5, 6))
    if not (1 <= mon <= 12) or not (1 <= day <= calendar.monthrange(year, mon)[1]):
        raise ValueError(f"start {text!r}: no such date in {year}")
    if hh > 23 or mm > 59 or ss > 59:
        raise ValueError(f"start {text!r}: bad time of day")
    return (year, mon, day, hh, mm, ss)


# --------------------------------------------------------------------------
# Static vocabulary (all names made up; addresses from documentation,
# benchmarking and otherwise public-looking ranges)
# --------------------------------------------------------------------------

FIRST = ("alice bob carol dave erin frank grace heidi ivan judy ken laura mallory niaj olivia peggy "
         "quentin rupert sybil trent ursula victor walter xena yuki zoe akira bruno chiara dmitri "
         "elena farid gita hana ines jonas kaito lena mateo nadia omar petra rosa sanjay tomas "
         "ulla vera wen xavier yara zeynep anouk bjorn celine diego emma felix gabriel hugo "
         "isabel jun karin luca mika noor oscar pia rafael sofia taro uma viktor").split()
LAST = ("smith meyer tanaka rossi dubois novak garcia kowalski jensen silva nakamura muller "
        "schmidt lopez moreau ivanova berg costa weber fischer sato suzuki kim park chen wang "
        "nguyen ali khan haddad okafor mensah larsen nilsson virtanen horvat popescu petrov "
        "romano ferrari bianchi martin bernard roux fontaine laurent olsen lindqvist keller "
        "baumann wagner becker hoffmann schulz koch richter klein wolf neumann").split()
LOCAL_DOMAINS = ("corp.example", "shop.example")
PARTNER_WORDS = ("acme globex initech umbrella hooli vandelay wayne stark tyrell cyberdyne soylent "
                 "wonka oscorp monarch piedpiper dunder sterling prestige krusty bluth duff "
                 "nakatomi massive virtucon gekko axiom zorg aperture blackmesa").split()
FREEMAIL = ("bigmail.example", "webpost.test", "mailbox.example")
DEAD_PARTNERS = ("oldpartner.example", "defunct-supplies.test")
SYLLABLES = ("ka ro mi ta ne lu vo zi pe sa do ri mo na te gu fi la be ko "
             "xu ya ze ni po qua tri ste gla bro fen dal mar").split()
ATTACK_NETS = {  # first octets that look like public space in assorted countries
    "CN": (36, 58, 113, 117, 183, 222), "RU": (5, 31, 46, 91, 95, 178, 188),
    "BR": (177, 179, 186, 187, 189, 191), "VN": (14, 27, 113, 171), "IN": (49, 103, 106, 122),
    "US": (23, 45, 64, 104, 107, 162), "NL": (37, 77, 185), "ID": (36, 110, 114, 180),
    "TR": (78, 85, 88), "UA": (46, 91, 176), "KR": (1, 112, 121, 175, 211),
    "IR": (2, 5, 37, 91), "NG": (41, 102, 105, 197), "PK": (39, 111, 119, 182),
    "AR": (181, 186, 190), "MX": (187, 189, 201), "RO": (5, 79, 86, 89), "TH": (1, 49, 58, 171),
}
ATTACK_COUNTRIES = tuple(ATTACK_NETS)
DICT_USERS = ("admin info test webmaster sales support contact office mail postmaster user "
              "guest root noreply marketing billing hr service abuse").split()
TLS_SERVER = (("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), ("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128),
              ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", 256),
              ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256),
              ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128))
TLS13_SUFFIX = " key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SERVICE_TAG = {"smtpd": "postfix/smtpd", "submission": "postfix/submission/smtpd",
               "smtps": "postfix/smtps/smtpd"}
CYRUS_LINE = "warning: SASL authentication failure: Password verification failed"
LIFETIME = 5 * 86400          # maximal_queue_lifetime = bounce_queue_lifetime = 5d
MIN_BACKOFF, MAX_BACKOFF, QUEUE_RUN = 300.0, 4000.0, 300.0
SESSION_MARGIN = 900.0        # no session starts in the last 15 minutes
LONG_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"  # 52; inode: first 51
COUNTER_ORDER = ("helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt",
                 "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "help", "unknown")

# final recipient outcomes
SENT, BOUNCED, EXPIRED = "sent", "bounced", "expired"


def fmt_delay(x: float) -> str:
    """Postfix's delay formatting: two significant digits below 10 s, integer above."""
    if x >= 10:
        return str(int(x))
    if x >= 1:
        s = f"{x:.1f}"
    elif x < 0.005:
        return "0"
    else:
        s = f"{x:.2f}"
    s = s.rstrip("0").rstrip(".")
    return s or "0"


def counters_text(cnt: dict) -> str:
    """{'ehlo': [2, 2], 'auth': [0, 3]} -> 'ehlo=2 auth=0/3 commands=2/5'."""
    parts = []
    ok_sum = tot_sum = 0
    for name in COUNTER_ORDER:
        v = cnt.get(name)
        if v is None:
            continue
        ok, tot = v
        ok_sum += ok
        tot_sum += tot
        parts.append(f"{name}={ok}" if ok == tot else f"{name}={ok}/{tot}")
    parts.append(f"commands={ok_sum}" if ok_sum == tot_sum and tot_sum else
                 f"commands={ok_sum}/{tot_sum}")
    return " ".join(parts)


# --------------------------------------------------------------------------
# Output sinks
# --------------------------------------------------------------------------


class _StreamSink:
    """Writes to one stream (text, or binary: then UTF-8); no rotation."""

    def __init__(self, stream):
        self.stream = stream
        self.files = []
        if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(stream, "mode", ""):
            self.write = self._write_bytes

    def write(self, chunk: str) -> None:
        self.stream.write(chunk)

    def _write_bytes(self, chunk: str) -> None:
        self.stream.write(chunk.encode("utf-8"))

    def switch(self) -> None:  # pragma: no cover - never called without boundaries
        raise RuntimeError("no rotation on a stream sink")

    def close(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush:
            flush()


class _CountingSink:
    """Throws lines away (used to calibrate --target-lines)."""

    files = ()

    def write(self, chunk: str) -> None:
        pass

    def close(self) -> None:
        pass


def _open_out(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=6, newline="\n")
    return open(path, "w", encoding="utf-8", newline="\n")


class _RotatingSink:
    """Writes FILE.N.gz ... FILE.1.gz, FILE, switching at time boundaries."""

    def __init__(self, path: str, rotate: int):
        base = path[:-3] if path.endswith(".gz") else path
        self.paths = [f"{base}.{k}.gz" for k in range(rotate, 0, -1)] + [path]
        self.index = 0
        self.stream = _open_out(self.paths[0])
        self.files = [{"path": self.paths[0], "lines": 0, "first": None, "last": None}]

    def write(self, chunk: str) -> None:
        self.stream.write(chunk)

    def switch(self) -> None:
        self.stream.close()
        self.index += 1
        self.stream = _open_out(self.paths[self.index])
        self.files.append({"path": self.paths[self.index], "lines": 0, "first": None, "last": None})

    def close(self) -> None:
        while self.index < len(self.paths) - 1:   # empty trailing parts still exist
            self.switch()
        self.stream.close()


# --------------------------------------------------------------------------
# Process pools, queue ids, hosts
# --------------------------------------------------------------------------


class _Pool:
    """Postfix daemon processes of one service on one host (max_idle, max_use)."""

    __slots__ = ("host", "idle", "max_idle", "max_use")

    def __init__(self, host, max_idle=100.0, max_use=100):
        self.host = host
        self.idle = []          # [pid, idle_since, uses], oldest first
        self.max_idle = max_idle
        self.max_use = max_use

    def acquire(self, now):
        idle = self.idle
        limit = now - self.max_idle
        if idle and idle[0][1] < limit:
            idle[:] = [p for p in idle if p[1] >= limit]
        if idle:
            return idle.pop()
        return [self.host.new_pid(), now, 0]

    def release(self, proc, now):
        proc[2] += 1
        if proc[2] < self.max_use:
            proc[1] = now
            self.idle.append(proc)

    def use(self, now):
        proc = self.acquire(now)
        self.release(proc, now)
        return proc[0]


class _Host:
    """One Postfix instance: name, pids, pools, queue ids, dead destinations."""

    def __init__(self, sim, index, name, rng):
        self.sim = sim
        self.index = index
        self.name = name
        self.fqdn = f"{name}.corp.example"
        self.ip = f"192.0.2.{25 + index}"
        self.rng = rng
        self.pid = 1200 + rng.randint(0, 400)      # hosts start close: pids collide
        self.smtpd = {svc: _Pool(self) for svc in SERVICE_TAG}
        self.pools = {d: _Pool(self) for d in ("cleanup", "smtp", "lmtp", "local", "bounce",
                                               "error", "anvil", "scache")}
        self.qmgr_pid = self.new_pid()
        self.opendkim_pid = self.new_pid()
        self.pickup_pid = self.new_pid()
        self.pickup_since = sim.start
        self.in_use = set()
        self.freed = []
        self.dead_until = {}
        self.dead_reason = {}
        self.scan_phase = rng.uniform(0, QUEUE_RUN)
        # inode numbers of the queue file system: 5 to 7 hex digits, so 10-12 character ids
        self.inode_bases = rng.sample((0x10000, 0x5F000, 0x200000, 0xA00000, 0x2040000, 0x3B10000), 3)
        self.smtpd_recent = 0     # connections since the last anvil report
        self.prefix_qmgr = None   # set by refresh_prefixes()
        self.refresh_prefixes()

    def refresh_prefixes(self):
        self.prefix_qmgr = f"{self.name} postfix/qmgr[{self.qmgr_pid}]: "

    def new_pid(self):
        self.pid += self.rng.randint(1, 23)
        if self.pid > 4194000:
            self.pid = 300 + self.rng.randint(0, 50)
        return self.pid

    def tag(self, daemon, now):
        return f"{self.name} postfix/{daemon}[{self.pools[daemon].use(now)}]: "

    def pickup_tag(self, now):
        if now - self.pickup_since > 6000:        # pickup exits after max_use wakeups
            self.pickup_pid = self.new_pid()
            self.pickup_since = now
        return f"{self.name} postfix/pickup[{self.pickup_pid}]: "

    # -- queue ids -------------------------------------------------------
    def alloc_qid(self, now):
        sim = self.sim
        rng = self.rng
        if sim.cfg.long_queue_ids:
            while True:
                sec = int(now)
                usec = int((now - sec) * 1e6)
                inum = rng.choice(self.inode_bases) + rng.randint(0, 0xFFFF)
                qid = (_b52(sec, 6) + _b52(usec, 4) + "z" + _b52(inum, 0, 51))
                if qid not in self.in_use:
                    break
                now += 1e-6
        else:
            qid = None
            r = rng.random()
            if self.freed and r < 0.03:
                cand = self.freed.pop(rng.randrange(len(self.freed)))
                if cand not in self.in_use:
                    qid = cand
                    sim.stats["qid_reuses"] += 1
            elif sim.nhosts > 1 and r < 0.08 and sim.recent_qids:
                # central syslog: the same short id is in use (or was) on another host
                others = [c for c in sim.recent_qids[-16:] if c[0] is not self]
                if others:
                    cand = others[rng.randrange(len(others))][1]
                    if cand not in self.in_use:
                        qid = cand
                        sim.stats["cross_host_qid_collisions"] += 1
            usec = int((now - int(now)) * 1e6)
            while qid is None or qid in self.in_use:
                inum = rng.choice(self.inode_bases) + rng.randint(0, 0xFFFF)
                qid = f"{usec:05X}{inum:X}"
            if sim.nhosts > 1:
                rq = sim.recent_qids
                rq.append((self, qid))
                if len(rq) > 64:
                    del rq[:32]
        self.in_use.add(qid)
        return qid

    def release_qid(self, qid):
        self.in_use.discard(qid)
        if not self.sim.cfg.long_queue_ids:
            self.freed.append(qid)
            if len(self.freed) > 400:
                del self.freed[:200]


def _b52(n, width, base=52):
    digits = []
    while n:
        n, r = divmod(n, base)
        digits.append(LONG_ALPHABET[r])
    s = "".join(reversed(digits)) or "0"
    return s.rjust(width, "0") if width else s


# --------------------------------------------------------------------------
# World objects
# --------------------------------------------------------------------------


class _Device:
    __slots__ = ("kind", "service", "mech", "helo", "tls", "mua", "sasl_sender", "rset", "pace")


class _User:
    __slots__ = ("name", "address", "domain", "compromised", "devices", "homes", "office",
                 "carrier", "traveler", "rate", "weekend", "internal", "contacts", "p_authonly",
                 "p_typo", "p_failsession", "evening", "ipv6_home", "travel_days", "index")


class _Home:
    __slots__ = ("isp", "ip", "name")


class _Message:
    __slots__ = ("host", "qid", "sender", "size", "nrcpt", "rcpts", "routes", "fates", "tries",
                 "state", "npending", "user", "created", "kind", "live")


class _UserTruth:
    __slots__ = ("sessions", "messages", "sent", "bounced", "expired", "deferred", "rejected",
                 "ips", "methods", "first", "last")

    def __init__(self):
        self.sessions = self.messages = 0
        self.sent = self.bounced = self.expired = self.deferred = self.rejected = 0
        self.ips = set()
        self.methods = set()
        self.first = None
        self.last = None


class _FailTruth:
    __slots__ = ("attempts", "usernames", "mechanisms", "first_fail", "strict_success")

    def __init__(self):
        self.attempts = 0
        self.usernames = set()
        self.mechanisms = set()
        self.first_fail = None
        self.strict_success = False


class _Txn:
    """One mail transaction of a session."""
    __slots__ = ("sender", "rcpts", "size", "msgid", "dkim", "sasl_sender", "send_data",
                 "kind", "upload")


# --------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------


class _Sim:
    def __init__(self, cfg: SimConfig, sink, boundaries=()):
        cfg.validate()
        self.cfg = cfg
        self.sink = sink
        self.rng = rng = random.Random(cfg.seed)
        self.volume = float(cfg.volume)
        self.inbound_per_user = float(cfg.inbound_per_user)
        self.offset = parse_offset(cfg.utc_offset)
        self.start = _start_epoch(cfg)
        self.end = self.start + float(cfg.days) * 86400.0
        self.rfc = cfg.timestamps == "rfc3339"
        self.write_offset = self.offset if self.rfc else 0
        off = self.write_offset
        self.offset_text = "%s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 3600,
                                            abs(off) % 3600 // 60)
        self.boundaries = list(boundaries)
        self.heap = []
        self.seq = 0
        self.now = self.start
        self.nhosts = cfg.hosts
        self.recent_qids = []
        self.stats = {k: 0 for k in (
            "sessions", "auth_sessions", "messages", "auth_messages", "inbound_messages",
            "local_messages", "bounce_notices", "postmaster_notices", "expired_messages",
            "carryover_messages", "qid_reuses", "cross_host_qid_collisions",
            "delivery_attempts", "ambiguous_later_success")}
        names = ["mail"] if cfg.hosts == 1 else [f"mail{i + 1}" for i in range(cfg.hosts)]
        self.hosts = [_Host(self, i, n, rng) for i, n in enumerate(names)]
        # truth
        self.user_truth = {}
        self.unknown = _UserTruth()
        self.fail_truth = {}
        self.success_last = {}       # ip -> latest disconnect of a successful session
        self.success_last_connect = {}
        self.live_auth = {}
        self.compromise_truth = {}
        self.ip_names = {}
        self.used_ips = set()
        self.domain_class = {}
        self.domain_mx = {}
        self._build_world()

    # ------------------------------------------------------------------
    # engine
    # ------------------------------------------------------------------
    def spawn(self, gen):
        try:
            t, text = next(gen)
        except StopIteration:
            return
        if t < self.now:
            raise RuntimeError(f"event in the past: {t} < {self.now}: {text}")
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, gen, text))

    def run(self):
        heap = self.heap
        end = self.end
        sink = self.sink
        rfc = self.rfc
        off = self.write_offset
        offtxt = self.offset_text
        heapreplace = heapq.heapreplace
        heappop = heapq.heappop
        gmtime = time.gmtime
        boundaries = self.boundaries
        next_boundary = boundaries[0] if boundaries else float("inf")
        bidx = 0
        buf = []
        append = buf.append
        nlines = 0
        file_lines = 0
        first_t = None
        file_first = None
        last_t = None
        last_sec = None
        base = ""
        seq = self.seq
        while heap:
            item = heap[0]
            t = item[0]
            if t >= end:
                break
            text = item[3]
            if text is not None:
                while t >= next_boundary:
                    if buf:
                        sink.write("".join(buf))
                        buf.clear()
                    self._close_file_entry(file_lines, file_first, last_t)
                    sink.switch()
                    file_lines = 0
                    file_first = None
                    bidx += 1
                    next_boundary = boundaries[bidx] if bidx < len(boundaries) else float("inf")
                sec = int(t)
                if sec != last_sec:
                    last_sec = sec
                    tm = gmtime(sec + off)
                    if rfc:
                        base = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
                    else:
                        base = "%s %2d %02d:%02d:%02d" % (MONTHS[tm[1] - 1], tm[2], tm[3], tm[4], tm[5])
                if rfc:
                    append(f"{base}.{int((t - sec) * 1000000.0):06d}{offtxt} {text}\n")
                else:
                    append(f"{base} {text}\n")
                nlines += 1
                file_lines += 1
                if first_t is None:
                    first_t = t
                if file_first is None:
                    file_first = t
                last_t = t
                if len(buf) >= 2048:
                    sink.write("".join(buf))
                    buf.clear()
            self.now = t
            gen = item[2]
            try:
                nt, ntext = next(gen)
            except StopIteration:
                heappop(heap)
                continue
            if nt < t:
                raise RuntimeError(f"event in the past: {nt} < {t}: {ntext}")
            seq = self.seq = self.seq + 1
            heapreplace(heap, (nt, seq, gen, ntext))
        if buf:
            sink.write("".join(buf))
        self._close_file_entry(file_lines, file_first, last_t)
        self.nlines = nlines
        self.first_t = first_t
        self.last_t = last_t

    def _close_file_entry(self, nlines, first, last):
        files = getattr(self.sink, "files", None)
        if files:
            entry = files[-1]
            entry["lines"] = nlines
            entry["first"] = self.iso(first) if first is not None else None
            entry["last"] = self.iso(last) if (last is not None and nlines) else None

    def iso(self, t):
        sec = int(t)
        tm = time.gmtime(sec + self.write_offset)
        base = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
        if self.rfc:
            return f"{base}.{int((t - sec) * 1000000.0):06d}{self.offset_text}"
        return f"{base}{self.offset_text}"

    def local_hour(self, t):
        """Hour of day (float) in the server's zone (user habits live there)."""
        return ((t + self.offset) % 86400.0) / 3600.0

    def local_weekday(self, t):
        return time.gmtime(int(t + self.offset)).tm_wday

    def day_start(self, k):
        """Start (UTC epoch) of local calendar day k counted from the day containing start."""
        local0 = self.start + self.offset
        midnight = local0 - (local0 % 86400.0)
        return midnight - self.offset + k * 86400.0

    # ------------------------------------------------------------------
    # random helpers
    # ------------------------------------------------------------------
    def poisson(self, lam):
        rng = self.rng
        if lam <= 0:
            return 0
        if lam > 40:
            return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def hexid(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def word(self, k=2):
        rng = self.rng
        return "".join(rng.choice(SYLLABLES) for _ in range(k))

    # ------------------------------------------------------------------
    # addresses
    # ------------------------------------------------------------------
    def new_ip(self, prefixes, name=None, reuse_ok=False):
        rng = self.rng
        for _ in range(60):
            p = rng.choice(prefixes)
            ip = f"{p}.{rng.randint(2, 254)}"
            if ip not in self.used_ips:
                break
        else:
            if not reuse_ok:
                # the space is exhausted: fall back to benchmarking space
                while True:
                    ip = f"198.18.{rng.randint(128, 255)}.{rng.randint(2, 254)}"
                    if ip not in self.used_ips:
                        break
        self.used_ips.add(ip)
        if ip not in self.ip_names:
            self.ip_names[ip] = name if name is not None else "unknown"
        return ip

    def public_ip(self, country=None, track=True):
        """A public-looking address; track=False for throwaway ones (scanners, noise)."""
        rng = self.rng
        while True:
            c = country or rng.choice(ATTACK_COUNTRIES)
            ip = "%d.%d.%d.%d" % (rng.choice(ATTACK_NETS[c]), rng.randint(1, 254),
                                  rng.randint(0, 255), rng.randint(1, 254))
            if not track:
                return ip
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                r = rng.random()
                if r < 0.8:
                    self.ip_names[ip] = "unknown"
                elif r < 0.9:
                    self.ip_names[ip] = "static-%s.vps.hoster-%s.example" % (
                        ip.replace(".", "-"), c.lower())
                else:
                    self.ip_names[ip] = "%s.dyn.%s-telecom.example" % (
                        ip.replace(".", "-"), c.lower())
                return ip

    def cn(self, ip, port=None):
        name = self.ip_names.get(ip, "unknown")
        if port is None:
            return f"{name}[{ip}]"
        return f"{name}[{ip}]:{port}"

    # ------------------------------------------------------------------
    # world
    # ------------------------------------------------------------------
    def _build_world(self):
        rng = self.rng
        cfg = self.cfg
        # networks
        self.isps = {
            "isp-one": ["198.51.100"], "isp-two": ["203.0.113"],
            "isp-three": [f"198.18.{i}" for i in range(0, 32)],
            "isp-four": [f"198.18.{i}" for i in range(32, 64)],
        }
        self.isp_rdns = {"isp-one": "dyn.isp-one.example", "isp-two": None,
                         "isp-three": "cust.isp-three.test", "isp-four": None}
        self.carriers = {"carrier-a": [f"198.18.{i}" for i in range(64, 70)],
                         "carrier-b": [f"198.18.{i}" for i in range(70, 74)]}
        self.offices = []
        for ip, name in (("192.0.2.10", "gw.hq.corp.example"), ("192.0.2.11", "unknown")):
            self.used_ips.add(ip)
            self.ip_names[ip] = name
            self.offices.append(ip)
        # external domains
        self.partners = []
        for i, w in enumerate(PARTNER_WORDS):
            d = f"{w}.{'example' if i % 3 else 'test'}"
            cls = "good"
            if i % 7 == 3:
                cls = "greylist"
            elif i % 11 == 5:
                cls = "flaky"
            self._add_domain(d, cls)
            self.partners.append(d)
        for d in FREEMAIL:
            self._add_domain(d, "good")
        for d in DEAD_PARTNERS:
            self._add_domain(d, "dead")
        self._add_domain("dropbox-mail.test", "good")
        # spam targets: harvested lists
        self.spam_domains = {c: [] for c in ("good", "nouser", "spamblock", "greylist",
                                             "ratelimit", "dead", "nxdomain")}
        weights = (("good", 30), ("nouser", 18), ("spamblock", 12), ("greylist", 12),
                   ("ratelimit", 10), ("dead", 1.2), ("nxdomain", 14))
        self.spam_class_weights = weights
        for cls, w in weights:
            for _ in range(max(4, int(w * 3))):
                tld = "invalid" if cls == "nxdomain" else rng.choice(("example", "test"))
                d = f"{self.word(rng.randint(2, 3))}.{tld}"
                if d in self.domain_class:
                    continue
                self._add_domain(d, cls)
                self.spam_domains[cls].append(d)
        for d in FREEMAIL:
            self.spam_domains["good"].append(d)
        # inbound senders: partner relays
        self.relays = []
        for d in self.partners + list(FREEMAIL):
            n = 3 if d in FREEMAIL else 1
            for k in range(n):
                name = f"mail{'-out' + str(k + 1) if n > 1 else ''}.{d}"
                ip = self.new_ip([f"198.18.{i}" for i in range(100, 140)], name)
                self.relays.append((d, ip))
        v6 = "2001:db8:5c1::25"
        self.ip_names[v6] = "mail.v6partner.example"
        self._add_domain("v6partner.example", "good")
        self.relays_v6 = [("v6partner.example", v6)]
        # users
        self.users = []
        taken = set()
        total = cfg.users + cfg.compromised
        for i in range(total):
            self.users.append(self._make_user(i, taken))
        # compromised = spread over the list, deterministic
        idx = list(range(total))
        rng.shuffle(idx)
        comp = sorted(idx[:cfg.compromised])
        for i in comp:
            self.users[i].compromised = True
        for u in self.users:
            u.contacts = self._make_contacts(u)
        # attacker infrastructure
        npool = max(40, int(120 * math.sqrt(self.volume)))
        self.botnet = [self.public_ip() for _ in range(npool)]

    def _add_domain(self, d, cls):
        rng = self.rng
        self.domain_class[d] = cls
        nmx = 2 if rng.random() < 0.4 else 1
        mxs = []
        for k in range(nmx):
            ip = "198.19.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))
            mxs.append((f"mx{k + 1}.{d}" if rng.random() < 0.7 else f"mail{k or ''}.{d}", ip))
        self.domain_mx[d] = mxs

    def _make_user(self, i, taken):
        rng = self.rng
        while True:
            f, l = rng.choice(FIRST), rng.choice(LAST)
            style = rng.random()
            local = f"{f}.{l}" if style < 0.6 else (f"{f[0]}.{l}" if style < 0.85 else f"{f}{l[0]}")
            if local not in taken:
                taken.add(local)
                break
        u = _User()
        u.index = i
        u.domain = LOCAL_DOMAINS[0] if rng.random() < 0.8 else LOCAL_DOMAINS[1]
        u.address = f"{local}@{u.domain}"
        r = rng.random()
        u.name = u.address if r < 0.85 else (local if r < 0.95 else local.split(".")[-1] + str(i))
        u.compromised = False
        u.rate = min(15.0, max(0.4, rng.lognormvariate(math.log(1.9), 0.6)))
        u.weekend = rng.uniform(0.05, 0.4)
        u.evening = rng.random() < 0.3
        u.internal = rng.uniform(0.2, 0.7)
        u.p_authonly = rng.uniform(0.03, 0.25)
        u.p_typo = rng.uniform(0.0, 0.03)
        u.p_failsession = rng.uniform(0.0, 0.01)
        u.traveler = rng.random() < 0.15
        u.travel_days = {}
        u.office = rng.choice(self.offices) if rng.random() < 0.6 else None
        u.homes = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            h = _Home()
            h.isp = rng.choice(tuple(self.isps))
            h.ip = self._home_ip(h.isp)
            u.homes.append(h)
        u.ipv6_home = None
        if i % 23 == 7:
            u.ipv6_home = "2001:db8:%x:%x::%x" % (0x100 + i, rng.randint(1, 0xffff), rng.randint(2, 0xfff))
            self.ip_names[u.ipv6_home] = "unknown"
        u.carrier = rng.choice(tuple(self.carriers))
        u.devices = []
        kinds = ["laptop"] + (["phone"] if rng.random() < 0.6 else [])
        for kind in kinds:
            d = _Device()
            d.kind = kind
            d.mua = rng.choice(("thunderbird", "outlook", "apple", "k9") if kind == "laptop"
                               else ("apple", "k9", "gmailapp"))
            d.service = "smtps" if rng.random() < 0.2 else "submission"
            if d.mua == "outlook":
                d.mech = "LOGIN"
            elif rng.random() < 0.05:
                d.mech = "CRAM-MD5" if rng.random() < 0.5 else "cram-md5"
            elif rng.random() < 0.04:
                d.mech = "plain"
            else:
                d.mech = "PLAIN"
            d.helo = self._mua_helo(d, f, i)
            d.tls = rng.choice(TLS_SERVER[:3]) if rng.random() < 0.85 else rng.choice(TLS_SERVER[3:])
            d.tls = d.tls + ((TLS13_SUFFIX if d.tls[0] == "TLSv1.3" and rng.random() < 0.5 else ""),)
            d.sasl_sender = rng.random() < 0.07
            d.rset = d.mua == "outlook"
            d.pace = rng.uniform(0.03, 0.25)
            u.devices.append(d)
        return u

    def _home_ip(self, isp):
        rdns = self.isp_rdns[isp]
        ip = self.new_ip(self.isps[isp])
        if rdns and self.ip_names.get(ip) == "unknown":
            self.ip_names[ip] = "ip-%s.%s" % (ip.replace(".", "-"), rdns)
        return ip

    def _mua_helo(self, d, first, i):
        rng = self.rng
        if d.mua == "thunderbird":
            return "[192.168.%d.%d]" % (rng.randint(0, 2), rng.randint(2, 200))
        if d.mua == "outlook":
            return "DESKTOP-%s" % self.hexid(7).upper()
        if d.mua == "apple":
            return f"{first}s-MacBook-Pro.local" if d.kind == "laptop" else "[127.0.0.1]"
        if d.mua == "gmailapp":
            return "localhost"
        return "[10.%d.%d.%d]" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(2, 254))

    def _make_contacts(self, u):
        rng = self.rng
        contacts = []
        for _ in range(rng.randint(6, 25)):
            r = rng.random()
            if r < 0.25:
                d = rng.choice(FREEMAIL)
            else:
                d = rng.choice(self.partners)
            contacts.append(f"{rng.choice(FIRST)}{rng.choice(('.', '_', ''))}{rng.choice(LAST)}@{d}")
        if rng.random() < 0.12:
            contacts.append(f"{rng.choice(FIRST)}@{rng.choice(DEAD_PARTNERS)}")
        return contacts

    # ------------------------------------------------------------------
    # truth helpers
    # ------------------------------------------------------------------
    def ut(self, name):
        t = self.user_truth.get(name)
        if t is None:
            t = self.user_truth[name] = _UserTruth()
        return t

    def ft(self, ip):
        f = self.fail_truth.get(ip)
        if f is None:
            f = self.fail_truth[ip] = _FailTruth()
        return f

    # ------------------------------------------------------------------
    # smtpd sessions
    # ------------------------------------------------------------------
    def session(self, hs, service, ip, helo, steps, pace=0.15, port_log=None, pre_warning=None):
        """Generator of one smtpd session, connect .. disconnect, on a pooled process.

        steps, in order (each preceded by a client pause of about `pace` seconds):
          ("ehlo",) ("helo",) ("rset",) ("noop",) ("quit",)   counted commands
          ("starttls", tls) / ("tls", tls)    TLS line; tls = (proto, cipher, bits, suffix)
          ("auth_fail", mech, reason, username|None, cyrus_line)   failed AUTH with a line
          ("auth_abort", mech)                 client aborted AUTH ("*")
          ("auth_refused",)                    AUTH refused before STARTTLS / not offered:
                                               counted, no line
          ("auth_ok", mech, username)          successful AUTH (Postfix logs nothing)
          ("mail", txn)                        MAIL, RCPTs (rejected ones logged), DATA;
                                               queues a message when a RCPT was accepted
          ("reject_only", text, sender, rcpt, data)   one unauthenticated RCPT refused
          ("nonsmtp", text)                    non-SMTP command
          ("lost", COMMAND)                    lost connection (ends the session)
          ("sleep", seconds)
        Truth is updated after each line is written, so lines cut off by the end of
        the period never count.
        """
        rng = self.rng
        t = self.now
        self.stats["sessions"] += 1
        hs.smtpd_recent += 1
        proc = hs.smtpd[service].acquire(t)
        pre = f"{hs.name} {SERVICE_TAG[service]}[{proc[0]}]: "
        if port_log is None:
            port_log = service == "smtps"
        cn = self.cn(ip, rng.randint(32768, 65535) if port_log else None)
        t_connect = t
        if pre_warning:
            yield t, pre + pre_warning
            t += rng.uniform(0.001, 0.01)
        yield t, pre + "connect from " + cn
        cnt = {}
        auth_user = None
        auth_method = None
        queued = 0
        noq_rejects = 0
        warned = False
        failed = False
        success_after_fail = False
        ended = False
        for step in steps:
            op = step[0]
            t += pace * rng.uniform(0.4, 1.6)
            if op == "ehlo" or op == "helo" or op == "quit" or op == "rset" or op == "noop":
                c = cnt.get(op)
                if c is None:
                    cnt[op] = [1, 1]
                else:
                    c[0] += 1
                    c[1] += 1
            elif op == "sleep":
                t += step[1]
            elif op == "starttls" or op == "tls":
                if op == "starttls":
                    cnt["starttls"] = [1, 1]
                t += rng.uniform(0.01, 0.08)
                proto, cipher, bits, suffix = step[1]
                yield t, (f"{pre}Anonymous TLS connection established from {cn}: {proto} with "
                          f"cipher {cipher} ({bits}/{bits} bits){suffix}")
            elif op == "auth_fail":
                _, mech, reason, uname, cyrus = step
                c = cnt.setdefault("auth", [0, 0])
                c[1] += 1
                t += rng.uniform(0.2, 2.5)
                if cyrus:
                    yield t, pre + CYRUS_LINE
                line = f"{pre}warning: {cn}: SASL {mech} authentication failed: {reason}"
                if uname is not None:
                    line += ", sasl_username=" + uname
                yield t, line
                f = self.ft(ip)
                if uname is not None:
                    f.usernames.add(uname)
                f.mechanisms.add(mech.upper())
                if f.first_fail is None or t < f.first_fail:
                    f.first_fail = t
                warned = failed = True
            elif op == "auth_abort":
                c = cnt.setdefault("auth", [0, 0])
                c[1] += 1
                t += rng.uniform(0.5, 5)
                yield t, f"{pre}warning: {cn}: SASL {step[1]} authentication aborted"
                f = self.ft(ip)
                f.mechanisms.add(step[1].upper())
                if f.first_fail is None or t < f.first_fail:
                    f.first_fail = t
                warned = failed = True
            elif op == "auth_refused":          # before STARTTLS / not offered: no warning
                c = cnt.setdefault("auth", [0, 0])
                c[1] += 1
                failed = True
            elif op == "auth_ok":
                c = cnt.setdefault("auth", [0, 0])
                c[0] += 1
                c[1] += 1
                t += rng.uniform(0.02, 0.3)
                auth_method, auth_user = step[1], step[2]
                if failed:
                    success_after_fail = True
            elif op == "lost":
                t += rng.uniform(0.5, 20) if step[1] == "AUTH" else 0
                if step[1] == "AUTH":
                    c = cnt.setdefault("auth", [0, 0])
                    c[1] += 1
                    failed = True
                yield t, f"{pre}lost connection after {step[1]} from {cn}"
                ended = True
                break
            elif op == "timeout":
                t += 300
                yield t, f"{pre}timeout after {step[1]} from {cn}"
                ended = True
                break
            elif op == "nonsmtp":
                c = cnt.setdefault("unknown", [0, 0])
                c[1] += 1
                yield t, f"{pre}warning: non-SMTP command from {cn}: {step[1]}"
            elif op == "reject_only":           # unauthenticated RCPT refused (relay, DNSBL, ...)
                _, text, sender, rcpt, data = step
                c = cnt.setdefault("mail", [0, 0])
                c[0] += 1
                c[1] += 1
                c = cnt.setdefault("rcpt", [0, 0])
                c[1] += 1
                t += rng.uniform(0.05, 0.4)
                yield t, (f"{pre}NOQUEUE: reject: RCPT from {cn}: {text}; from=<{sender}> "
                          f"to=<{rcpt}> proto=ESMTP helo=<{helo}>")
                if data:
                    cnt.setdefault("data", [0, 0])[1] += 1
            elif op == "mail":
                txn = step[1]
                c = cnt.setdefault("mail", [0, 0])
                c[0] += 1
                c[1] += 1
                qid = None
                m = None
                crc = cnt.setdefault("rcpt", [0, 0])
                for rc in txn.rcpts:
                    addr, rej = rc[0], rc[1]
                    t += pace * rng.uniform(0.1, 0.8)
                    crc[1] += 1
                    if rej is not None:
                        yield t, (f"{pre}{qid or 'NOQUEUE'}: reject: RCPT from {cn}: {rej}; "
                                  f"from=<{txn.sender}> to=<{addr}> proto=ESMTP helo=<{helo}>")
                        if qid is not None:
                            if auth_user is not None:
                                self.ut(auth_user).rejected += 1
                        else:
                            noq_rejects += 1
                        continue
                    crc[0] += 1
                    if qid is None:
                        qid = hs.alloc_qid(t)
                        line = f"{pre}{qid}: client={cn}"
                        if auth_user is not None:
                            line += f", sasl_method={auth_method}, sasl_username={auth_user}"
                            if txn.sasl_sender:
                                line += ", sasl_sender=" + txn.sasl_sender
                        yield t, line
                        m = self.new_message(hs, qid, txn.sender, txn.size, auth_user, t, txn.kind)
                        if auth_user is not None:
                            self.ut(auth_user).messages += 1
                    m.rcpts.append(addr)
                    m.routes.append(rc[2])
                    m.fates.append(rc[3])
                if m is not None:
                    cnt.setdefault("data", [0, 0])
                    cnt["data"][0] += 1
                    cnt["data"][1] += 1
                    t += txn.upload
                    cpid = hs.pools["cleanup"].use(t)
                    yield t, f"{hs.name} postfix/cleanup[{cpid}]: {qid}: message-id=<{txn.msgid}>"
                    if txn.dkim is not None:
                        t += rng.uniform(0.005, 0.05)
                        yield t, f"{hs.name} opendkim[{hs.opendkim_pid}]: {qid}: {txn.dkim}"
                    self.queue_message(m, t + rng.uniform(0.001, 0.02))
                    queued += 1
                elif txn.send_data:
                    cnt.setdefault("data", [0, 0])
                    cnt["data"][1] += 1
        if not ended:
            t += pace * rng.uniform(0.4, 1.6)
        yield t, f"{pre}disconnect from {cn} {counters_text(cnt)}"
        # --- after the disconnect line was written: truth and process bookkeeping
        hs.smtpd[service].release(proc, t)
        a = cnt.get("auth")
        if a is not None:
            ok, tot = a
            if tot > ok:
                f = self.ft(ip)
                f.attempts += tot - ok
                if not warned and (f.first_fail is None or t < f.first_fail):
                    f.first_fail = t
                if success_after_fail:
                    f.strict_success = True
            if ok:
                self.stats["auth_sessions"] += 1
                prev = self.success_last.get(ip)
                if prev is None or t > prev:
                    self.success_last[ip] = t
                prevc = self.success_last_connect.get(ip)
                if prevc is None or t_connect > prevc:
                    self.success_last_connect[ip] = t_connect
                if queued and auth_user is not None:
                    u = self.ut(auth_user)
                    u.sessions += 1
                    u.rejected += noq_rejects
                    u.ips.add(ip)
                    u.methods.add(auth_method.upper())
                    if u.first is None or t_connect < u.first:
                        u.first = t_connect
                    if u.last is None or t > u.last:
                        u.last = t
                elif not queued:
                    u = self.unknown
                    u.sessions += 1
                    u.rejected += noq_rejects
                    u.ips.add(ip)
                    if u.first is None or t_connect < u.first:
                        u.first = t_connect
                    if u.last is None or t > u.last:
                        u.last = t

    # ------------------------------------------------------------------
    # messages and the queue
    # ------------------------------------------------------------------
    def new_message(self, hs, qid, sender, size, user, t, kind):
        m = _Message()
        m.host = hs
        m.qid = qid
        m.sender = sender
        m.size = size
        m.rcpts = []
        m.routes = []
        m.fates = []
        m.user = user
        m.created = t
        m.kind = kind
        m.live = True
        self.stats["messages"] += 1
        if user is not None:
            self.stats["auth_messages"] += 1
        elif kind == "inbound":
            self.stats["inbound_messages"] += 1
        return m

    def queue_message(self, m, t):
        n = len(m.rcpts)
        m.nrcpt = n
        m.tries = [0] * n
        m.state = [None] * n
        m.npending = n
        if m.user is not None:
            self.live_auth[id(m)] = m
        self.spawn(self.message_life(m, t))

    def route_for(self, addr):
        dom = addr.rpartition("@")[2]
        if dom in LOCAL_DOMAINS:
            return "lmtp"
        if dom == "" or dom.endswith("corp.example") and dom != "corp.example":
            return "local"
        return dom

    def fate_for(self, route, bad_p=0.0, spam=False):
        """(number of deferrals, final outcome) for one recipient."""
        rng = self.rng
        if route == "lmtp":
            return (1, "sent") if rng.random() < 0.004 else (0, "sent")
        if route == "local":
            return (0, "sent")
        cls = self.domain_class.get(route, "good")
        if cls == "good":
            if rng.random() < bad_p:
                return (0, "bounce:nouser")
            return (0, "sent")
        if cls == "nouser":
            return (0, "bounce:nouser")
        if cls == "spamblock":
            return (0, "bounce:spam")
        if cls == "greylist":
            if spam:
                return (1, "sent" if rng.random() < 0.6 else "bounce:nouser")
            return (1 if rng.random() < 0.9 else 2, "sent")
        if cls == "flaky":
            return (rng.randint(1, 3), "sent") if rng.random() < 0.25 else (0, "sent")
        if cls == "ratelimit":
            n = min(12, 1 + int(rng.expovariate(0.35)))
            return (n, "sent" if rng.random() < 0.6 else "bounce:policy")
        if cls == "dead":
            return (10 ** 6, None)
        if cls == "nxdomain":
            return (0, "bounce:nx")
        return (0, "sent")

    def message_life(self, m, t):
        """Generator: qmgr activations, deliveries, retries, notices, removal."""
        rng = self.rng
        hs = m.host
        qid = m.qid
        first = True
        while True:
            if not first:
                yield t, None                  # sleep in the deferred queue until t
            first = False
            self.stats["delivery_attempts"] += 1
            lines = [(t, f"{hs.prefix_qmgr}{qid}: from=<{m.sender}>, size={m.size}, "
                         f"nrcpt={m.nrcpt} (queue active)", None)]
            groups = {}
            for i in range(m.nrcpt):
                if m.state[i] is None:
                    r = m.routes[i]
                    g = groups.get(r)
                    if g is None:
                        groups[r] = [i]
                    else:
                        g.append(i)
            tend = t
            bounced = False
            pending_after = 0
            for route, idxs in groups.items():
                gl, gend, nb, npend = self.deliver(m, route, idxs, t)
                lines.extend(gl)
                if gend > tend:
                    tend = gend
                bounced = bounced or nb > 0
                pending_after += npend
            tpost = tend + rng.uniform(0.0003, 0.004)
            done = False
            if bounced:
                self.notice_lines(m, tpost, lines)
            if pending_after == 0:
                lines.append((tpost, f"{hs.prefix_qmgr}{qid}: removed", ("removed",)))
                done = True
            elif tpost >= m.created + LIFETIME:
                lines.append((tpost, f"{hs.prefix_qmgr}{qid}: from=<{m.sender}>, status=expired, "
                                     "returned to sender", ("expired",)))
                self.notice_lines(m, tpost, lines)
                lines.append((tpost, f"{hs.prefix_qmgr}{qid}: removed", ("removed",)))
                done = True
            lines.sort(key=_first)
            for lt, text, eff in lines:
                yield lt, text
                if eff is not None:
                    self.apply(m, eff)
            if done:
                return
            age = tpost - m.created
            nt = tpost + min(max(age, MIN_BACKOFF), MAX_BACKOFF)
            k = math.ceil((nt - hs.scan_phase) / QUEUE_RUN)
            t = hs.scan_phase + k * QUEUE_RUN + rng.uniform(0.05, 3.0)

    def apply(self, m, eff):
        kind = eff[0]
        if kind == "final":
            i, outcome = eff[1], eff[2]
            if m.state[i] is None:
                m.state[i] = outcome
                m.npending -= 1
                if m.user is not None:
                    u = self.ut(m.user)
                    if outcome == SENT:
                        u.sent += 1
                    else:
                        u.bounced += 1
        elif kind == "spawn":
            self.spawn(eff[1])
        elif kind == "expired":
            self.stats["expired_messages"] += 1
            n = 0
            for i in range(m.nrcpt):
                if m.state[i] is None:
                    m.state[i] = EXPIRED
                    n += 1
            m.npending = 0
            if m.user is not None:
                self.ut(m.user).expired += n
        elif kind == "removed":
            m.live = False
            m.host.release_qid(m.qid)
            self.live_auth.pop(id(m), None)

    def notice_lines(self, m, t, lines):
        """Append cleanup/bounce lines of a non-delivery notice for m and spawn its life."""
        hs = m.host
        if m.sender == f"double-bounce@{hs.fqdn}":
            return                                    # undeliverable postmaster notice: discarded
        nq = hs.alloc_qid(t)
        if m.sender == "":
            what = "postmaster non-delivery notification"
            sender = f"double-bounce@{hs.fqdn}"
            rcpt, route = f"root@{hs.fqdn}", "local"
            self.stats["postmaster_notices"] += 1
        else:
            what = "sender non-delivery notification"
            sender = ""
            rcpt = m.sender
            route = self.route_for(rcpt)
            self.stats["bounce_notices"] += 1
        n = self.new_message(hs, nq, sender, m.size // 3 + self.rng.randint(2200, 4200), None, t,
                             "notice")
        n.rcpts.append(rcpt)
        n.routes.append(route)
        n.fates.append(self.fate_for(route, bad_p=0.1))
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(t)))
        lines.append((t, f"{hs.tag('cleanup', self.now)}{nq}: message-id=<{stamp}.{nq}@{hs.fqdn}>",
                      None))
        n.nrcpt = 1
        n.tries = [0]
        n.state = [None]
        n.npending = 1
        lines.append((t, f"{hs.tag('bounce', self.now)}{m.qid}: {what}: {nq}",
                      ("spawn", self.message_life(n, t))))

    def deliver(self, m, route, idxs, t):
        """Lines of one delivery request. Returns (lines, end time, n bounced, n still pending)."""
        rng = self.rng
        hs = m.host
        qid = m.qid
        lines = []
        nb = 0
        npend = 0
        now = self.now
        b = rng.uniform(0.001, 0.05)
        a = t - m.created

        def status_line(tl, i, relay, c, d, dsn, status, text, orig_to="", conn_use=""):
            delay = tl - m.created
            return (f"{qid}: to=<{m.rcpts[i]}>, {orig_to}relay={relay}, {conn_use}delay={fmt_delay(delay)}, "
                    f"delays={fmt_delay(a)}/{fmt_delay(b)}/{fmt_delay(c)}/{fmt_delay(d)}, "
                    f"dsn={dsn}, status={status} ({text})")

        if route == "lmtp" or route == "local":
            daemon = "lmtp" if route == "lmtp" else "local"
            pre = hs.tag(daemon, now)
            tl = t + b
            for i in idxs:
                c = rng.uniform(0.001, 0.02)
                d = rng.uniform(0.005, 0.12)
                tl += c + d
                ndef, final = m.fates[i]
                if route == "lmtp":
                    relay = f"{hs.fqdn}[private/dovecot-lmtp]"
                    extra = ""
                else:
                    relay = "local"
                    extra = "orig_to=<postmaster>, " if m.kind == "notice" else "orig_to=<root>, "
                if m.tries[i] < ndef:
                    m.tries[i] += 1
                    npend += 1
                    lines.append((tl, pre + status_line(
                        tl, i, relay, c, d, "4.2.2", "deferred",
                        f"host {hs.fqdn}[private/dovecot-lmtp] said: 452 4.2.2 <{m.rcpts[i]}> "
                        "Quota exceeded (mailbox for user is full) (in reply to end of DATA command)"),
                        None))
                else:
                    text = (f"250 2.0.0 <{m.rcpts[i]}> {self._dovecot_id()} Saved"
                            if route == "lmtp" else "delivered to mailbox")
                    lines.append((tl, pre + status_line(tl, i, relay, c, d, "2.0.0", "sent", text,
                                                        extra), ("final", i, SENT)))
            return lines, tl, 0, npend

        cls = self.domain_class.get(route, "good")
        mxs = self.domain_mx[route]
        if cls == "dead" and hs.dead_until.get(route, 0.0) > t:
            pre = hs.tag("error", now)
            tl = t + b
            for i in idxs:
                tl += rng.uniform(0.0005, 0.003)
                m.tries[i] += 1
                npend += 1
                lines.append((tl, pre + status_line(
                    tl, i, "none", 0, 0, "4.4.1", "deferred",
                    "delivery temporarily suspended: " + hs.dead_reason[route]), None))
            return lines, tl, 0, npend
        pre = hs.tag("smtp", now)
        if cls == "dead":
            tl = t + b
            reason = ""
            for k, (mx, ip) in enumerate(mxs):
                tl += 30.0 + rng.uniform(0, 0.05)
                reason = f"connect to {mx}[{ip}]:25: Connection timed out"
                if k < len(mxs) - 1:
                    lines.append((tl, pre + reason, None))
            c = tl - t - b
            for i in idxs:
                m.tries[i] += 1
                npend += 1
                lines.append((tl, pre + status_line(tl, i, "none", c, 0, "4.4.1", "deferred", reason),
                              None))
            hs.dead_until[route] = tl + MIN_BACKOFF
            hs.dead_reason[route] = reason
            return lines, tl, 0, npend
        if cls == "nxdomain":
            tl = t + b + rng.uniform(0.01, 0.3)
            for i in idxs:
                nb += 1
                lines.append((tl, pre + status_line(
                    tl, i, "none", tl - t - b, 0, "5.4.4", "bounced",
                    f"Host or domain name not found. Name service error for name={route} type=A: "
                    "Host not found"), ("final", i, BOUNCED)))
            return lines, tl, nb, 0
        mx, ip = mxs[0]
        relay = f"{mx}[{ip}]:25"
        c = rng.uniform(0.05, 1.2)
        tl = t + b + c
        if rng.random() < 0.3:
            proto, cipher, bits = rng.choice(TLS_SERVER[:3])
            lines.append((tl, f"{pre}{rng.choice(('Trusted', 'Untrusted', 'Verified'))} TLS connection "
                              f"established to {relay}: {proto} with cipher {cipher} ({bits}/{bits} bits)"
                              f"{TLS13_SUFFIX}", None))
        conn_use = f"conn_use={rng.randint(2, 6)}, " if rng.random() < 0.05 else ""
        for i in idxs:
            d = rng.uniform(0.05, 0.6) + m.size / 2.0e6
            tl += d
            ndef, final = m.fates[i]
            rcpt = m.rcpts[i]
            if m.tries[i] < ndef:
                m.tries[i] += 1
                npend += 1
                if cls == "greylist":
                    dsn, text = "4.7.1", (f"host {mx}[{ip}] said: 450 4.7.1 <{rcpt}>: Recipient address "
                                          f"rejected: Greylisted, see http://postgrey.example/help/{route}.html"
                                          " (in reply to RCPT TO command)")
                elif cls == "ratelimit":
                    dsn, text = "4.7.0", (f"host {mx}[{ip}] said: 421 4.7.0 Too many messages from "
                                          f"{hs.ip}, try again later (in reply to MAIL FROM command)")
                else:
                    dsn, text = "4.3.0", (f"host {mx}[{ip}] said: 451 4.3.0 Temporary lookup failure "
                                          "(in reply to RCPT TO command)")
                lines.append((tl, pre + status_line(tl, i, relay, c, d, dsn, "deferred", text),
                              None))
            elif final == "sent":
                lines.append((tl, pre + status_line(tl, i, relay, c, d, "2.0.0", "sent",
                                                    self._remote_ok(route), conn_use=conn_use),
                              ("final", i, SENT)))
            else:
                nb += 1
                if final == "bounce:nouser":
                    dsn, text = "5.1.1", (f"host {mx}[{ip}] said: 550 5.1.1 <{rcpt}>: Recipient address "
                                          "rejected: User unknown in virtual mailbox table (in reply to "
                                          "RCPT TO command)")
                elif final == "bounce:spam":
                    dsn, text = "5.7.1", (f"host {mx}[{ip}] said: 554 5.7.1 Message rejected as spam by "
                                          "content filter (in reply to end of DATA command)")
                elif final == "bounce:nx":
                    dsn, text = "5.4.4", (f"Host or domain name not found. Name service error for "
                                          f"name={route} type=A: Host not found")
                else:
                    dsn, text = "5.7.1", (f"host {mx}[{ip}] said: 550 5.7.1 Message rejected due to "
                                          "sender reputation (in reply to MAIL FROM command)")
                lines.append((tl, pre + status_line(tl, i, relay, c, d, dsn, "bounced", text,
                                                    conn_use=conn_use),
                              ("final", i, BOUNCED)))
        return lines, tl, nb, npend

    def _dovecot_id(self, n=22):
        """A dovecot session / LMTP id: n base64 characters."""
        x = self.rng.getrandbits(6 * n)
        return "".join([B64[(x >> (6 * i)) & 63] for i in range(n)])

    def _remote_ok(self, route):
        rng = self.rng
        r = (hash_str(route) % 3)
        if r == 0:
            return f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}"
        if r == 1:
            return f"250 2.0.0 OK id={self.hexid(6)}-{self.hexid(6)}-{self.hexid(2)}"
        return f"250 Requested mail action okay, completed: id={self.hexid(16)}"

    # ------------------------------------------------------------------
    # transactions
    # ------------------------------------------------------------------
    def mua_msgid(self, dev, domain):
        rng = self.rng
        if dev.mua == "thunderbird" or dev.mua == "k9":
            h = self.hexid(32)
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}"
        if dev.mua == "apple":
            h = self.hexid(32).upper()
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}"
        if dev.mua == "outlook":
            return f"{rng.randint(0, 0xfffff):06x}01d{self.hexid(3)}${self.hexid(8)}${self.hexid(8)}@{domain}"
        return f"CA+{self.hexid(20)}@mail.{domain}"

    def size_normal(self):
        rng = self.rng
        if rng.random() < 0.1:
            return int(rng.uniform(80e3, 6e6))
        return int(rng.lognormvariate(math.log(9000), 0.6)) + 700

    def user_txn(self, u, dev, rcpt_count):
        """A normal user's message: recipients chosen from colleagues and contacts."""
        rng = self.rng
        txn = _Txn()
        txn.sender = u.address
        txn.size = self.size_normal()
        txn.msgid = self.mua_msgid(dev, u.domain)
        txn.dkim = (f"DKIM-Signature field added (s=mail, d={u.domain})"
                    if u.domain == LOCAL_DOMAINS[0] else None)    # only corp.example is signed
        txn.sasl_sender = u.address if dev.sasl_sender else None
        txn.send_data = True
        txn.kind = "auth"
        txn.upload = txn.size / rng.uniform(2e5, 3e6)
        rcpts = []
        seen = set()
        for _ in range(rcpt_count):
            if rng.random() < u.internal:
                other = self.users[rng.randrange(len(self.users))]
                addr = other.address
                if addr in seen:
                    continue
                seen.add(addr)
                if rng.random() < 0.01:     # mistyped colleague
                    loc, _, dom = addr.partition("@")
                    addr = loc[:-2] + loc[-1] + loc[-2] + "@" + dom if len(loc) > 3 else "x" + addr
                    rcpts.append((addr, f"550 5.1.1 <{addr}>: Recipient address rejected: User unknown "
                                        "in virtual mailbox table", None, None))
                    continue
                rcpts.append((addr, None, "lmtp", self.fate_for("lmtp")))
            else:
                addr = rng.choice(u.contacts)
                if addr in seen:
                    continue
                seen.add(addr)
                route = addr.rpartition("@")[2]
                rcpts.append((addr, None, route, self.fate_for(route, bad_p=0.012)))
        if not rcpts:
            addr = u.contacts[0]
            route = addr.rpartition("@")[2]
            rcpts.append((addr, None, route, self.fate_for(route, bad_p=0.012)))
        txn.rcpts = rcpts
        return txn

    def rcpt_count_normal(self):
        r = self.rng.random()
        if r < 0.68:
            return 1
        if r < 0.88:
            return self.rng.randint(2, 3)
        if r < 0.985:
            return self.rng.randint(4, 9)
        return self.rng.randint(10, 25)

    def spam_txn(self, victim, n, test=False):
        rng = self.rng
        txn = _Txn()
        if test or rng.random() < 0.7:
            txn.sender = victim.address
            txn.dkim = (f"DKIM-Signature field added (s=mail, d={victim.domain})"
                        if victim.domain == LOCAL_DOMAINS[0] else None)
        else:
            dom = rng.choice(self.spam_domains[rng.choice(("good", "nouser", "nxdomain"))])
            txn.sender = f"{self.word(2)}{rng.randint(1, 999)}@{dom}"
            txn.dkim = None
        txn.size = int(rng.uniform(1500, 30000))
        txn.msgid = f"{self.hexid(rng.choice((12, 16, 24)))}@{txn.sender.rpartition('@')[2]}"
        txn.sasl_sender = None
        txn.send_data = True
        txn.kind = "auth"
        txn.upload = txn.size / rng.uniform(5e4, 1e6)
        rcpts = []
        if test:
            rcpts.append((f"{self.word(3)}{rng.randint(10, 99)}@dropbox-mail.test", None,
                          "dropbox-mail.test", (0, "sent")))
        else:
            classes = [c for c, _ in self.spam_class_weights]
            weights = [w for _, w in self.spam_class_weights]
            for cls in rng.choices(classes, weights, k=n):
                dom = rng.choice(self.spam_domains[cls])
                addr = f"{rng.choice(FIRST)}{rng.choice(('.', '', '_'))}{rng.choice(LAST)}{rng.choice(('', str(rng.randint(1, 99))))}@{dom}"
                if cls == "nxdomain":
                    rcpts.append((addr, f"450 4.1.2 <{addr}>: Recipient address rejected: Domain not found",
                                  None, None))
                else:
                    rcpts.append((addr, None, dom, self.fate_for(dom, bad_p=0.3, spam=True)))
        txn.rcpts = rcpts
        return txn

    # ------------------------------------------------------------------
    # normal users
    # ------------------------------------------------------------------
    def user_location(self, u, dev, t, day):
        """(ip) where device dev of user u is at time t."""
        rng = self.rng
        h = self.local_hour(t)
        wd = self.local_weekday(t)
        workday = wd < 5
        at_work_hours = workday and 8.5 <= h < 18.0
        ip = u.travel_days.get(day)
        if ip is not None and (dev.kind == "laptop" or rng.random() < 0.5):
            return ip
        if dev.kind == "laptop":
            if u.office and at_work_hours and rng.random() < 0.9:
                return u.office
            if u.ipv6_home and rng.random() < 0.7:
                return u.ipv6_home
            return rng.choice(u.homes).ip if len(u.homes) > 1 and rng.random() < 0.3 else u.homes[0].ip
        # phone
        if u.office and at_work_hours and rng.random() < 0.4:
            return u.office
        if (h >= 19 or h < 8) and rng.random() < 0.6:
            return u.homes[0].ip
        return f"{rng.choice(self.carriers[u.carrier])}.{rng.randint(2, 254)}"

    def user_planner(self, u):
        rng = self.rng
        ndays = int(math.ceil(self.cfg.days)) + 1
        sent_any = False
        last_start = self.end - SESSION_MARGIN
        for day in range(ndays):
            d0 = self.day_start(day)
            if d0 >= self.end:
                return
            wd = self.local_weekday(d0 + 43200)
            for h in u.homes:                      # dynamic addresses change now and then
                if rng.random() < 0.08:
                    h.ip = self._home_ip(h.isp)
            if u.traveler and rng.random() < 0.25:      # a hotel or a cafe for the day
                ip = f"198.18.{rng.randint(80, 95)}.{rng.randint(2, 254)}"
                if ip not in self.ip_names:
                    self.ip_names[ip] = ("guest-%s.hotel-wifi.example" % ip.replace(".", "-")
                                         if rng.random() < 0.5 else "unknown")
                u.travel_days[day] = ip
            rate = u.rate * self.volume * (1.0 if wd < 5 else u.weekend)
            nmsg = self.poisson(rate)
            plan = []            # (time, kind, payload)
            # messages grouped into sessions
            while nmsg > 0:
                k = 1 if rng.random() < 0.78 else min(nmsg, rng.randint(2, 3))
                nmsg -= k
                plan.append((self.user_time(u, d0, wd), "send", k))
            plan = [p for p in plan if self.start <= p[0] <= last_start]
            if not sent_any and not plan and d0 + 86400.0 >= last_start:
                # everybody sends at least once: the log must know every account
                lo = max(self.now, d0, self.start)
                if lo < last_start - 300:
                    plan.append((rng.uniform(lo, last_start - 300), "send", 1))
            for _ in range(self.poisson(u.p_authonly * self.volume)):   # log in, send nothing
                plan.append((self.user_time(u, d0, wd), "authonly", 0))
            plan.sort(key=_first)
            for ts, kind, k in plan:
                if ts < self.now:                    # pushed back by a retyped password
                    ts = self.now + rng.uniform(5, 60)
                if ts < self.start or ts > self.end - SESSION_MARGIN:
                    continue
                yield ts, None
                dev = rng.choice(u.devices)
                ip = self.user_location(u, dev, ts, day)
                hs = self.hosts[rng.randrange(len(self.hosts))]
                if kind == "send" and rng.random() < u.p_failsession:
                    # a wrong password, the user retypes it a minute later
                    self.spawn(self.session(hs, dev.service, ip, dev.helo,
                                            self.user_steps(u, dev, fail_only=True), pace=dev.pace))
                    ts2 = ts + rng.uniform(20, 120)
                    yield ts2, None
                if kind == "send":
                    sent_any = True
                    txns = [self.user_txn(u, dev, self.rcpt_count_normal()) for _ in range(k)]
                else:
                    txns = []
                self.spawn(self.session(hs, dev.service, ip, dev.helo,
                                        self.user_steps(u, dev, txns), pace=dev.pace))

    def user_time(self, u, d0, wd):
        rng = self.rng
        if wd >= 5:
            h = rng.uniform(9, 22.5)
        else:
            r = rng.random()
            if r < 0.45:
                h = rng.gauss(10.3, 1.3)
            elif r < (0.9 if not u.evening else 0.75):
                h = rng.gauss(15.0, 1.6)
            else:
                h = rng.gauss(21.0, 1.2)
        h = min(23.9, max(0.2, h))
        return d0 + h * 3600.0 + rng.uniform(0, 59)

    def user_steps(self, u, dev, txns=(), fail_only=False):
        rng = self.rng
        steps = [("ehlo",)]
        if dev.service == "submission":
            steps = [("ehlo",), ("starttls", dev.tls), ("ehlo",)]
        else:
            steps = [("tls", dev.tls), ("ehlo",)]
        if fail_only or rng.random() < u.p_typo:
            # a mistyped password; LOGIN failing at the password prompt logs no username
            if dev.mech == "LOGIN" and rng.random() < 0.3:
                steps.append(("auth_fail", dev.mech, "UGFzc3dvcmQ6", None, False))
            else:
                steps.append(("auth_fail", dev.mech, "authentication failure", u.name,
                              dev.mech.upper() == "PLAIN" and rng.random() < 0.5))
            if fail_only:
                steps.append(("quit",))
                return steps
            steps.append(("sleep", rng.uniform(3, 25)))
        steps.append(("auth_ok", dev.mech, u.name))
        for j, txn in enumerate(txns):
            if dev.rset or j:
                steps.append(("rset",))
            steps.append(("mail", txn))
        steps.append(("quit",))
        return steps

    # ------------------------------------------------------------------
    # compromised accounts
    # ------------------------------------------------------------------
    def attack_planner(self, u, k, ncomp):
        # the attack's structure (when, how many bursts, how long) has its own random
        # stream, so it is the same at every --volume; details come from self.rng
        rng = random.Random(f"{self.cfg.seed}/attack/{k}")
        span = self.end - self.start
        bad = self.start + span * (0.12 + 0.58 * (k + 0.5) / max(1, ncomp)) + rng.uniform(-3600, 3600)
        bad = min(bad, self.end - 2 * 3600.0)
        bad = max(bad, self.start + 1800.0)
        guess_start = max(self.start + 60.0, bad - rng.uniform(6, 30) * 3600.0)
        nguess = rng.randint(2, 5)
        guessers = [self.public_ip() for _ in range(nguess)]
        winner = guessers[rng.randrange(nguess)]
        ct = {"compromised_at": None, "attacker_ips": set(), "guess_ips": set(guessers)}
        self.compromise_truth[u.name] = ct
        mech = rng.choice(("LOGIN", "PLAIN"))
        # guessing sessions: slow, from a few addresses, mostly the victim's name
        events = []
        for ip in guessers:
            n = rng.randint(3, 12)
            for _ in range(n):
                events.append((rng.uniform(guess_start, bad - 120), ip))
        events.sort()
        for ts, ip in events:
            if ts < self.now:
                continue
            yield ts, None
            steps = [("ehlo",), ("starttls", TLS_SERVER[3] + ("",)), ("ehlo",)]
            for _ in range(rng.randint(1, 3)):
                name = u.name if rng.random() < 0.75 else rng.choice(DICT_USERS)
                steps.append(("auth_fail", mech, "authentication failure", name, False))
            steps.append(("quit",) if rng.random() < 0.6 else ("lost", "AUTH"))
            if steps[-1][0] == "lost":
                steps.pop(-2)
            self.spawn(self.session(self.pick_host(), "submission", ip, self.bot_helo(ip), steps,
                                    pace=1.0))
        # the successful login: a test message to the attacker's drop box
        if bad > self.end - SESSION_MARGIN:
            return                 # too short a period for the break-in: the account stays normal
        yield bad, None
        ct["compromised_at"] = bad
        ct["attacker_ips"].add(winner)
        steps = [("ehlo",), ("starttls", TLS_SERVER[3] + ("",)), ("ehlo",)]
        if rng.random() < 0.5:
            steps.append(("auth_fail", mech, "authentication failure", u.name, False))
        steps += [("auth_ok", mech, u.name), ("mail", self.spam_txn(u, 1, test=True)), ("quit",)]
        self.spawn(self.session(self.pick_host(), "submission", winner, self.bot_helo(winner), steps,
                                pace=0.8))
        # bursts
        t = bad + rng.uniform(1, 8) * 3600.0
        nbursts = rng.randint(2, 3)
        last_end = None
        burst_ips_all = []
        for _ in range(nbursts):
            if t > self.end - SESSION_MARGIN - 1800:
                break
            dur = rng.uniform(0.4, 1.2) * 3600.0
            rph = rng.uniform(150, 350) * self.volume
            nips = rng.randint(15, 40)
            ips = rng.sample(self.botnet, min(len(self.botnet), nips // 2))
            ips += [self.public_ip() for _ in range(nips - len(ips))]
            burst_ips_all.extend(ips)
            per_session = 14.5         # mean recipients offered per login
            mean_gap = 3600.0 * per_session / rph
            ts = t
            bend = min(t + dur, self.end - SESSION_MARGIN)
            while True:
                ts += rng.expovariate(1.0 / mean_gap)
                if ts >= bend:
                    break
                yield ts, None
                ip = rng.choice(ips)
                ct["attacker_ips"].add(ip)
                svc = "submission" if hash_str(ip) % 5 < 3 else "smtps"
                m2 = "LOGIN" if hash_str(ip) % 3 else "PLAIN"
                steps = [("ehlo",)]
                if svc == "submission":
                    steps += [("starttls", rng.choice(TLS_SERVER) + ("",)), ("ehlo",)]
                else:
                    steps = [("tls", rng.choice(TLS_SERVER) + ("",)), ("ehlo",)]
                steps.append(("auth_ok", m2, u.name))
                for j in range(1 if rng.random() < 0.8 else 2):
                    if j:
                        steps.append(("rset",))
                    steps.append(("mail", self.spam_txn(u, rng.randint(5, 20))))
                steps.append(("quit",))
                self.spawn(self.session(self.pick_host(), svc, ip, self.bot_helo(ip), steps,
                                        pace=0.12))
            last_end = bend
            t = bend + rng.uniform(4, 20) * 3600.0
        # the first compromised account gets its password reset; the botnet keeps trying
        if k == 0 and last_end is not None and burst_ips_all:
            t = last_end + rng.uniform(2, 6) * 3600.0
            for _ in range(rng.randint(6, 18)):
                t += rng.uniform(60, 2400)
                if t > self.end - SESSION_MARGIN:
                    break
                yield t, None
                ip = rng.choice(burst_ips_all)
                steps = [("ehlo",), ("starttls", TLS_SERVER[0] + ("",)), ("ehlo",),
                         ("auth_fail", "LOGIN", "authentication failure", u.name, False), ("quit",)]
                self.spawn(self.session(self.pick_host(), "submission", ip, self.bot_helo(ip), steps,
                                        pace=0.5))

    def bot_helo(self, ip):
        h = hash_str(ip) % 6
        return ("User", "localhost", f"[{ip}]", "WIN-%06X" % (hash_str(ip) & 0xFFFFFF),
                "ylmf-pc", "mail.example.com")[h]

    def pick_host(self):
        return self.hosts[self.rng.randrange(len(self.hosts))]

    # ------------------------------------------------------------------
    # brute force campaigns
    # ------------------------------------------------------------------
    def bruteforce_planner(self):
        rng = self.rng
        t = self.start
        rate = 7.0 * self.volume / 86400.0       # campaigns per second
        while True:
            t += rng.expovariate(rate)
            if t > self.end - SESSION_MARGIN:
                return
            yield t, None
            self.spawn(self.campaign(t))

    def campaign(self, t):
        rng = self.rng
        ip = self.public_ip()
        r = rng.random()
        style = ("dict" if r < 0.5 else "nouser" if r < 0.68 else "smtps" if r < 0.83
                 else "notls" if r < 0.95 else "port25")
        nsess = max(1, min(200, int(rng.paretovariate(1.3))))
        slow = rng.random() < 0.25
        mech = rng.choice(("LOGIN", "LOGIN", "PLAIN"))
        hs = self.pick_host()
        ts = t
        for n in range(nsess):
            if n:
                ts += rng.uniform(600, 3600) if slow else rng.uniform(1, 90)
            if ts > self.end - SESSION_MARGIN:
                return
            if ts > self.now:
                yield ts, None
            steps = [("ehlo",)]
            svc = "submission"
            if style == "port25":
                svc = "smtpd"
                steps.append(("auth_refused",))
                if rng.random() < 0.3:
                    steps.append(("auth_refused",))
                steps.append(("quit",))
            elif style == "notls":
                steps.append(("auth_refused",))
                steps.append(("quit",) if rng.random() < 0.7 else ("rset",))
                if steps[-1][0] == "rset":
                    steps.append(("quit",))
            else:
                if style == "smtps":
                    svc = "smtps"
                    steps = [("tls", rng.choice(TLS_SERVER) + ("",)), ("ehlo",)]
                else:
                    steps += [("starttls", rng.choice(TLS_SERVER) + ("",)), ("ehlo",)]
                if rng.random() < 0.06:
                    steps.append(("auth_abort", "PLAIN"))
                else:
                    for _ in range(rng.choice((1, 1, 1, 2, 3))):
                        if style == "nouser":
                            steps.append(("auth_fail", mech, "UGFzc3dvcmQ6", None, False))
                        else:
                            name = self.guess_name()
                            reason = "authentication failure" if rng.random() < 0.9 else "(reason unavailable)"
                            steps.append(("auth_fail", mech, reason, name,
                                          mech == "PLAIN" and rng.random() < 0.6))
                    if rng.random() < 0.15:
                        steps.append(("lost", "AUTH"))
                    else:
                        steps.append(("quit",) if rng.random() < 0.6 else ("rset",))
                        if steps[-1][0] == "rset":
                            steps.append(("quit",))
            self.spawn(self.session(hs, svc, ip, self.bot_helo(ip), steps, pace=0.6))

    def guess_name(self):
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return rng.choice(DICT_USERS) + rng.choice(("", "", "@corp.example", "@shop.example"))
        u = self.users[rng.randrange(len(self.users))]
        return u.name if r < 0.85 else u.address.partition("@")[0]

    # ------------------------------------------------------------------
    # inbound
    # ------------------------------------------------------------------
    def inbound_planner(self):
        rng = self.rng
        hours = int(math.ceil((self.end - self.start) / 3600.0))
        for hidx in range(hours):
            h0 = self.start + hidx * 3600.0
            lh = self.local_hour(h0 + 1800)
            day_factor = 1.6 if 8 <= lh < 19 else (0.9 if 19 <= lh < 23 else 0.45)
            per_hour = 2.0 + self.inbound_per_user * len(self.users) / 24.0
            n = self.poisson(per_hour * self.volume * day_factor)
            times = sorted(h0 + rng.uniform(0, 3600) for _ in range(n))
            for ts in times:
                if ts > self.end - SESSION_MARGIN or ts < self.now:
                    continue
                yield ts, None
                self.inbound_session()

    def inbound_session(self):
        rng = self.rng
        hs = self.pick_host()
        r = rng.random()
        pre_warning = None
        if r < 0.58 or r >= 0.97:
            if r >= 0.97:
                dom, ip = self.relays_v6[0]
            else:
                dom, ip = rng.choice(self.relays)
            steps = [("ehlo",)]
            tls = rng.random() < 0.8
            if tls:
                steps += [("starttls", rng.choice(TLS_SERVER) + ("",)), ("ehlo",)]
            for j in range(1 if rng.random() < 0.85 else 2):
                txn = _Txn()
                txn.sender = f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{dom}" if rng.random() < 0.7 \
                    else f"bounces+{self.hexid(8)}@{dom}"
                txn.size = self.size_normal()
                txn.msgid = f"{self.hexid(16)}@{dom}"
                txn.dkim = rng.choice(("DKIM verification successful", "no signature data",
                                       "DKIM verification successful"))
                txn.sasl_sender = None
                txn.send_data = True
                txn.kind = "inbound"
                txn.upload = txn.size / rng.uniform(1e6, 2e7)
                rcpts = []
                for _ in range(1 if rng.random() < 0.75 else rng.randint(2, 4)):
                    u = self.users[rng.randrange(len(self.users))]
                    if rng.random() < 0.03:
                        bad = "x" + u.address
                        rcpts.append((bad, f"550 5.1.1 <{bad}>: Recipient address rejected: User unknown "
                                           "in virtual mailbox table", None, None))
                    else:
                        rcpts.append((u.address, None, "lmtp", self.fate_for("lmtp")))
                if all(x[1] is not None for x in rcpts):
                    u = self.users[rng.randrange(len(self.users))]
                    rcpts.append((u.address, None, "lmtp", self.fate_for("lmtp")))
                txn.rcpts = rcpts
                if j:
                    steps.append(("rset",))
                steps.append(("mail", txn))
            steps.append(("quit",))
            helo = self.ip_names.get(ip, "unknown")
        else:
            ip = self.public_ip(track=False)
            helo = self.bot_helo(ip) if rng.random() < 0.5 else f"{self.word(2)}.{rng.choice(('example', 'test'))}"
            if rng.random() < 0.2:
                fake = f"{self.word(2)}.{rng.choice(('example', 'test'))}"
                pre_warning = f"warning: hostname {fake} does not resolve to address {ip}: Name or service not known"
            s = f"{self.word(2)}{rng.randint(1, 99)}@{self.word(2)}.test"
            data = rng.random() < 0.3
            if r < 0.72:
                u = self.users[rng.randrange(len(self.users))]
                bad = f"{rng.choice(DICT_USERS)}{rng.randint(1, 99)}@{u.domain}"
                steps = [("ehlo",), ("reject_only", f"550 5.1.1 <{bad}>: Recipient address rejected: "
                                     "User unknown in virtual mailbox table", s, bad, data), ("quit",)]
            elif r < 0.82:
                u = self.users[rng.randrange(len(self.users))]
                steps = [("ehlo",), ("reject_only",
                                     f"554 5.7.1 Service unavailable; Client host [{ip}] blocked using "
                                     f"zen.dnsbl.example; https://dnsbl.example/query/ip/{ip}",
                                     s, u.address, data), ("quit",)]
            elif r < 0.9:
                victim = f"{rng.choice(FIRST)}@{self.word(2)}.test"
                steps = [("helo",), ("reject_only", f"554 5.7.1 <{victim}>: Relay access denied",
                                     s, victim, data), ("quit",)]
                helo = "relaytest" if rng.random() < 0.3 else helo
            elif r < 0.94:
                steps = [("lost", "CONNECT")]
            else:
                steps = [("nonsmtp", "GET / HTTP/1.1")] if rng.random() < 0.5 else \
                    [("ehlo",), ("lost", "EHLO")]
        self.spawn(self.session(hs, "smtpd", ip, helo, steps, pace=0.2, pre_warning=pre_warning))

    # ------------------------------------------------------------------
    # noise: cron, pickup, dovecot, kernel, anvil, scache
    # ------------------------------------------------------------------
    def cron_planner(self, hs):
        rng = self.rng
        hours = int(math.ceil((self.end - self.start) / 3600.0)) + 1
        h0 = self.start - (self.start + self.offset) % 3600.0
        for k in range(hours):
            hour = h0 + k * 3600.0
            lh = int(self.local_hour(hour + 1) + 0.5) % 24
            ts = hour + 17 * 60 + rng.uniform(0.0, 0.9)
            if ts >= self.start and ts > self.now:
                yield ts, None
                self.spawn(self.cron_job(hs, ts, "root", "   cd / && run-parts --report /etc/cron.hourly",
                                         mail=False))
            if lh == 6:
                ts = hour + 25 * 60 + rng.uniform(0.0, 0.9)
                if ts >= self.start and ts > self.now:
                    yield ts, None
                    self.spawn(self.cron_job(
                        hs, ts, "root",
                        "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
                        mail=True))

    def cron_job(self, hs, t, user, cmd, mail):
        rng = self.rng
        pid = hs.new_pid()
        pre = f"{hs.name} CRON[{pid}]: "
        yield t, pre + f"pam_unix(cron:session): session opened for user {user}(uid=0) by (uid=0)"
        t += rng.uniform(0.001, 0.02)
        yield t, pre + f"({user}) CMD ({cmd})"
        t += rng.uniform(0.5, 40.0) if mail else rng.uniform(0.01, 0.3)
        if mail:
            qid = hs.alloc_qid(t)
            yield t, f"{hs.pickup_tag(t)}{qid}: uid=0 from=<root>"
            t += rng.uniform(0.002, 0.02)
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(t)))
            yield t, f"{hs.tag('cleanup', t)}{qid}: message-id=<{stamp}.{qid}@{hs.fqdn}>"
            m = self.new_message(hs, qid, f"root@{hs.fqdn}", rng.randint(600, 9000), None, t, "local")
            m.rcpts.append(f"root@{hs.fqdn}")
            m.routes.append("local")
            m.fates.append((0, "sent"))
            self.stats["local_messages"] += 1
            self.queue_message(m, t + rng.uniform(0.002, 0.02))
            t += rng.uniform(0.01, 0.05)
        yield t, pre + f"pam_unix(cron:session): session closed for user {user}"

    def dovecot_planner(self):
        rng = self.rng
        hours = int(math.ceil((self.end - self.start) / 3600.0))
        nusers = len(self.users)
        for hidx in range(hours):
            h0 = self.start + hidx * 3600.0
            lh = self.local_hour(h0 + 1800)
            f = 1.5 if 8 <= lh < 20 else 0.3
            n = self.poisson(nusers * 0.035 * f * self.volume)
            nfail = self.poisson(0.4 * self.volume)
            ev = sorted([(h0 + rng.uniform(0, 3600), 0) for _ in range(n)] +
                        [(h0 + rng.uniform(0, 3600), 1) for _ in range(nfail)])
            for ts, kind in ev:
                if ts < self.now or ts > self.end - SESSION_MARGIN:
                    continue
                yield ts, None
                self.spawn(self.imap_session(ts, kind))

    def imap_session(self, t, fail):
        rng = self.rng
        hs = self.pick_host()
        sess = self._dovecot_id(16)
        if fail:
            ip = self.public_ip(track=False)
            user = self.guess_name()
            n = rng.randint(1, 3)
            yield t + rng.uniform(2, 15), (
                f"{hs.name} dovecot: imap-login: Disconnected: Connection closed (auth failed, {n} "
                f"attempts in {rng.randint(2, 20)} secs): user=<{user}>, method=PLAIN, rip={ip}, "
                f"lip={hs.ip}, TLS, session=<{sess}>")
            return
        u = self.users[rng.randrange(len(self.users))]
        dev = rng.choice(u.devices)
        day = int((t - self.day_start(0)) // 86400)
        ip = self.user_location(u, dev, t, day)
        mpid = hs.new_pid()
        yield t, (f"{hs.name} dovecot: imap-login: Login: user=<{u.address}>, method=PLAIN, rip={ip}, "
                  f"lip={hs.ip}, mpid={mpid}, TLS, session=<{sess}>")
        t += rng.uniform(5, 1800)
        yield t, (f"{hs.name} dovecot: imap({u.address})<{mpid}><{sess}>: Disconnected: Logged out "
                  f"in={rng.randint(80, 5000)} out={rng.randint(500, 900000)} deleted=0 expunged=0 "
                  f"trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0")

    def kernel_planner(self):
        rng = self.rng
        t = self.start
        rate = 18.0 * self.volume / 86400.0
        ports = (23, 22, 3389, 445, 8080, 5900, 1433, 3306, 6379, 2323)
        while True:
            t += rng.expovariate(rate)
            if t >= self.end:
                return
            hs = self.pick_host()
            ip = self.public_ip(track=False)
            up = (t - self.start) + 86400 * 41.3
            yield t, (f"{hs.name} kernel: [{up:.6f}] [UFW BLOCK] IN=eth0 OUT= "
                      f"MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={ip} DST={hs.ip} LEN=44 "
                      f"TOS=0x00 PREC=0x00 TTL={rng.randint(40, 250)} ID={rng.randint(1, 65535)} "
                      f"PROTO=TCP SPT={rng.randint(1024, 65535)} DPT={rng.choice(ports)} WINDOW=1024 "
                      "RES=0x00 SYN URGP=0")

    def stats_planner(self, hs):
        """postfix/anvil and postfix/scache statistics every 10 minutes of activity."""
        rng = self.rng
        t = self.start + rng.uniform(0, 600)
        while True:
            t += 600.0
            if t >= self.end:
                return
            yield t, None
            busy = hs.smtpd_recent
            hs.smtpd_recent = 0
            if busy and rng.random() < 0.3:
                pid = hs.pools["anvil"].use(t)
                pre = f"{hs.name} postfix/anvil[{pid}]: "
                at = self.anvil_time(t - rng.uniform(30, 590))
                svc = rng.choice(("smtp", "submission"))
                ip = rng.choice(self.users).homes[0].ip
                yield t, f"{pre}statistics: max connection rate {rng.randint(1, 4)}/60s for ({svc}:{ip}) at {at}"
                yield t, f"{pre}statistics: max connection count {rng.randint(1, 3)} for ({svc}:{ip}) at {at}"
                if rng.random() < 0.4:
                    yield t, f"{pre}statistics: max auth rate {rng.randint(1, 3)}/60s for (submission:{ip}) at {at}"
                yield t, f"{pre}statistics: max cache size {rng.randint(1, 6)} at {at}"
            if busy and rng.random() < 0.05:
                pid = hs.pools["scache"].use(t)
                pre = f"{hs.name} postfix/scache[{pid}]: "
                hits, miss = rng.randint(0, 6), rng.randint(1, 12)
                yield t, f"{pre}statistics: start interval {self.anvil_time(t - 600)}"
                yield t, (f"{pre}statistics: domain lookup hits={hits} miss={miss} "
                          f"success={100 * hits // (hits + miss)}%")
                yield t, f"{pre}statistics: address lookup hits=0 miss={miss} success=0%"
                yield t, (f"{pre}statistics: max simultaneous domains=1 addresses={rng.randint(1, 3)} "
                          f"connection={rng.randint(1, 3)}")

    def anvil_time(self, t):
        tm = time.gmtime(int(t) + self.write_offset)
        return "%s %2d %02d:%02d:%02d" % (MONTHS[tm[1] - 1], tm[2], tm[3], tm[4], tm[5])

    def carryover(self):
        """Messages deferred before the log starts (their client= line is not in the log)."""
        rng = self.rng
        n = max(1, int(round(2 * min(self.volume, 50))))
        plans = []
        for _ in range(n):
            u = self.users[rng.randrange(len(self.users))]
            hs = self.pick_host()
            created = self.start - rng.uniform(0.5, 4.5) * 86400.0
            qid = hs.alloc_qid(created)
            m = self.new_message(hs, qid, u.address, self.size_normal(), None, created, "carryover")
            dom = rng.choice(DEAD_PARTNERS)
            m.rcpts.append(f"{rng.choice(FIRST)}@{dom}")
            m.routes.append(dom)
            m.fates.append((10 ** 6, None))
            m.nrcpt = 1
            m.tries = [0]
            m.state = [None]
            m.npending = 1
            age = self.start - created
            first = self.start + rng.uniform(0, min(MAX_BACKOFF, max(age, MIN_BACKOFF)))
            plans.append((first, m))
            self.stats["carryover_messages"] += 1
        plans.sort(key=_first)
        for first, m in plans:
            self.spawn(self.message_life(m, first))

    # ------------------------------------------------------------------
    def populate(self):
        ncomp = self.cfg.compromised
        self.carryover()
        for u in self.users:
            self.spawn(self.user_planner(u))
        k = 0
        for u in self.users:
            if u.compromised:
                self.spawn(self.attack_planner(u, k, ncomp))
                k += 1
        self.spawn(self.bruteforce_planner())
        self.spawn(self.inbound_planner())
        self.spawn(self.dovecot_planner())
        self.spawn(self.kernel_planner())
        for hs in self.hosts:
            self.spawn(self.cron_planner(hs))
            self.spawn(self.stats_planner(hs))

    # ------------------------------------------------------------------
    def truth(self):
        # recipients still deferred when the log ends
        pending = []
        for m in self.live_auth.values():
            if m.npending > 0:
                self.ut(m.user).deferred += m.npending
                pending.append({"host": m.host.name, "queue_id": m.qid, "user": m.user})
        users = {}
        for name in sorted(self.user_truth):
            ut = self.user_truth[name]
            if ut.messages:
                users[name] = self._user_entry(ut)
        users["(unknown user)"] = self._user_entry(self.unknown)
        pending.sort(key=lambda p: (p["host"], p["queue_id"]))
        failures = {}
        ambiguous = 0
        for ip in sorted(self.fail_truth, key=_ip_key):
            f = self.fail_truth[ip]
            if f.attempts == 0:
                continue
            last = self.success_last.get(ip)
            later = last is not None and f.first_fail is not None and last > f.first_fail
            lastc = self.success_last_connect.get(ip)
            strict = f.strict_success or (lastc is not None and lastc > f.first_fail)
            if strict != later:
                ambiguous += 1
            failures[ip] = {"attempts": f.attempts, "usernames": sorted(f.usernames),
                            "mechanisms": sorted(f.mechanisms), "later_success": later}
        self.stats["ambiguous_later_success"] = ambiguous
        compromised = []
        for name in sorted(self.compromise_truth):
            ct = self.compromise_truth[name]
            if ct["compromised_at"] is None:
                continue
            compromised.append({"user": name, "compromised_at": self.iso(ct["compromised_at"]),
                                "attacker_ips": sorted(ct["attacker_ips"], key=_ip_key),
                                "guess_ips": sorted(ct["guess_ips"], key=_ip_key)})
        normal = sorted(u.name for u in self.users
                        if self.compromise_truth.get(u.name, {}).get("compromised_at") is None)
        cfg = asdict(self.cfg)
        return {
            "truth_version": TRUTH_VERSION,
            # the module's name before it left the package (tools/simulate/): kept, so that the
            # shipped sample's truth stays byte-identical
            "generator": "maillog_sasl.simulate",
            "config": cfg,
            "timestamps": self.cfg.timestamps,
            "utc_offset": self.offset_text,
            "hosts": [h.name for h in self.hosts],
            "lines": self.nlines,
            "period": {"first": self.iso(self.first_t) if self.first_t is not None else None,
                       "last": self.iso(self.last_t) if self.last_t is not None else None},
            "users": users,
            "failures": failures,
            "compromised": compromised,
            "normal": normal,
            "pending": pending,
            "stats": dict(self.stats),
        }

    def _user_entry(self, ut):
        return {
            "sessions": ut.sessions, "messages": ut.messages,
            "recipients": ut.sent + ut.deferred + ut.bounced + ut.expired + ut.rejected,
            "sent": ut.sent, "deferred": ut.deferred, "bounced": ut.bounced,
            "expired": ut.expired, "rejected": ut.rejected,
            "ips": sorted(ut.ips, key=_ip_key),
            "methods": sorted(ut.methods),
            "first_seen": self.iso(ut.first) if ut.first is not None else None,
            "last_seen": self.iso(ut.last) if ut.last is not None else None,
        }


def _start_epoch(cfg):
    y, mo, d, hh, mi, ss = parse_start(cfg.start, cfg.year)
    return float(calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0)) - parse_offset(cfg.utc_offset))


def _first(item):
    return item[0]


def hash_str(s: str) -> int:
    """A stable (PYTHONHASHSEED-independent) string hash."""
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def _ip_key(ip):
    if ":" in ip:
        return (1, ip)
    try:
        return (0, tuple(int(x) for x in ip.split(".")))
    except ValueError:
        return (2, ip)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _coerce(config) -> SimConfig:
    if config is None:
        return SimConfig()
    if isinstance(config, SimConfig):
        return config
    if isinstance(config, dict):
        known = {f.name for f in fields(SimConfig)}
        bad = sorted(set(config) - known)
        if bad:
            raise ValueError(f"unknown config keys: {', '.join(bad)}")
        return SimConfig(**config)
    raise TypeError("config must be a SimConfig, a dict or None")


def _run(cfg: SimConfig, sink, boundaries=()):
    sim = _Sim(cfg, sink, boundaries)
    sim.populate()
    try:
        sim.run()
    finally:
        sink.close()
    return sim


def simulate(config=None, out_stream=None) -> dict:
    """Write the log of `config` (SimConfig, dict of its fields, or None) to
    `out_stream` (a text stream, or a binary one: UTF-8; None: only compute) and
    return the ground truth dict."""
    cfg = _coerce(config)
    sink = _StreamSink(out_stream) if out_stream is not None else _CountingSink()
    sim = _run(cfg, sink)
    return sim.truth()


def simulate_to_files(config, path: str, rotate: int = 0) -> dict:
    """Write the log to `path` (gzip if it ends in .gz), or with rotate=N to
    path.N.gz ... path.1.gz, path (oldest first, equal time slices); return the
    truth with a "files" list."""
    cfg = _coerce(config)
    cfg.validate()
    if not isinstance(rotate, int) or rotate < 0 or rotate > 1000:
        raise ValueError("rotate must be an integer from 0 to 1000")
    if rotate:
        sink = _RotatingSink(path, rotate)
        start = _start_epoch(cfg)
        span = float(cfg.days) * 86400.0
        boundaries = [start + span * k / (rotate + 1) for k in range(1, rotate + 1)]
    else:
        stream = sys.stdout if path == "-" else _open_out(path)
        sink = _StreamSink(stream)
        sink.files = [{"path": path, "lines": 0, "first": None, "last": None}]
        boundaries = ()
        if path != "-":
            orig_close = sink.close

            def close():
                orig_close()
                stream.close()
            sink.close = close
    sim = _run(cfg, sink, boundaries)
    truth = sim.truth()
    truth["files"] = list(sink.files)
    return truth


def volume_for_lines(config, target_lines: int) -> float:
    """The --volume that makes `config` produce about `target_lines` lines.

    Every kind of traffic scales about linearly with the volume (the fixed part,
    cron, is a few hundred lines a week).  Calibration runs without output: a
    rough one at volume 0.05, two probes (volumes 2 and 4 for a small
    population, of some 200,000 lines for a big one), then one of about
    400,000 lines (about 5 s) whose lines per
    unit of volume decide (they level off above ~40); expect the result within
    about 5% (the seed's own randomness)."""
    cfg = _coerce(config)
    if target_lines < 1:
        raise ValueError("target lines must be positive")

    def lines_at(v):
        return _run(SimConfig(**{**asdict(cfg), "volume": v}), _CountingSink()).nlines

    # A first look at a twentieth of the traffic sizes the two probes: volumes 2 and 4 for a
    # small population, less for a big one (3000 accounts at volume 2 would be ten million lines).
    rough = max(1.0, lines_at(0.05) / 0.05)
    low = min(2.0, 200000.0 / rough)
    per_volume = max(1.0, (lines_at(low) + lines_at(2 * low)) / (3 * low))
    estimate = target_lines / per_volume
    pilot = min(estimate, 400000.0 / per_volume)
    if pilot > 2 * low:
        per_volume = max(1.0, lines_at(pilot) / pilot)
    return max(0.001, round(target_lines / per_volume, 4))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

EPILOG = """\
examples:
  python -m tools.simulate --seed 1 --days 7 --users 60 --compromised 3 \\
      --timestamps rfc3339 --year 2026 -o maillog --truth maillog.truth.json
  python -m tools.simulate --timestamps traditional --start 12-28 --days 7 \\
      -o dec.log --truth dec.truth.json          (crosses into the next year)
  python -m tools.simulate --hosts 3 --long-queue-ids -o central.log
  python -m tools.simulate --rotate 6 -o logs/maillog   (maillog.6.gz .. maillog)
  python -m tools.simulate --target-lines 1500000 -o bench-1.5M.log

Same seed and options, same bytes.  With traditional timestamps the log is
written in UTC wall-clock time and the truth uses +00:00.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.simulate",
        description="Generate a realistic Postfix mail log with its ground truth "
                    "(SASL logins, source IPs, delivery outcome of every recipient).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SimConfig()
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument("--days", type=float, default=d.days, help="length of the log in days (default %(default)s)")
    p.add_argument("--users", type=int, default=d.users,
                   help="normal, never compromised accounts (default %(default)s)")
    p.add_argument("--compromised", type=int, default=d.compromised,
                   help="accounts that get compromised, in addition to --users (default %(default)s)")
    p.add_argument("--timestamps", choices=("rfc3339", "traditional"), default=d.timestamps,
                   help="rfc3339: 2026-03-02T09:15:03.123456+09:00 (rsyslog); traditional: "
                        "'Mar  2 00:15:03', no year, written in UTC (default %(default)s)")
    p.add_argument("--year", type=int, default=d.year, help="year of the start date (default %(default)s)")
    p.add_argument("--start", default=d.start,
                   help="start, local time at --utc-offset: MM-DD[THH:MM[:SS]] (default %(default)s)")
    p.add_argument("--utc-offset", default=d.utc_offset,
                   help="the server's UTC offset, carried by rfc3339 lines (default %(default)s)")
    p.add_argument("--hosts", type=int, default=d.hosts,
                   help="number of Postfix hosts logging to one central file (default %(default)s)")
    p.add_argument("--long-queue-ids", action="store_true",
                   help="use Postfix long queue ids (enable_long_queue_ids=yes)")
    p.add_argument("--inbound-per-user", type=float, default=d.inbound_per_user, metavar="N",
                   help="inbound SMTP sessions per account per day on top of a small base "
                        "(default %(default)s); a busy MX receives far more than its users send, "
                        "e.g. --inbound-per-user 40")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--volume", type=float, default=None,
                      help="traffic multiplier for all traffic kinds (default 1.0: about 3,000 lines "
                           "a day with 60+3 users)")
    size.add_argument("--target-lines", type=int, default=None, metavar="N",
                      help="choose --volume so that the log has about N lines (calibration "
                           "runs without output first, ~6 s; typically within 5%%)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="log file to write ('-' for standard output; gzip if it ends in .gz)")
    p.add_argument("--truth", metavar="FILE.json", help="write the ground truth JSON here")
    p.add_argument("--rotate", type=int, default=0, metavar="N",
                   help="split into FILE.N.gz ... FILE.1.gz and FILE (newest), N+1 equal time "
                        "slices, like logrotate (default 0: one file)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = SimConfig(seed=args.seed, days=args.days, users=args.users, compromised=args.compromised,
                    timestamps=args.timestamps, year=args.year, start=args.start,
                    utc_offset=args.utc_offset, hosts=args.hosts,
                    long_queue_ids=args.long_queue_ids,
                    volume=args.volume if args.volume is not None else 1.0,
                    inbound_per_user=args.inbound_per_user)
    try:
        cfg.validate()
    except ValueError as e:
        parser.error(str(e))
    if args.rotate < 0:
        parser.error("--rotate must be >= 0")
    if args.rotate and args.output == "-":
        parser.error("--rotate needs a file name, not '-'")
    if args.target_lines is not None:
        if args.target_lines < 1:
            parser.error("--target-lines must be positive")
        cfg.volume = volume_for_lines(cfg, args.target_lines)
    t0 = time.perf_counter()
    try:
        truth = simulate_to_files(cfg, args.output, rotate=args.rotate)
    except BrokenPipeError:                       # -o - | head: the reader has gone
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as e:
        print(f"simulate: cannot write {e.filename or args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    if args.truth:
        try:
            with open(args.truth, "w", encoding="utf-8") as fh:
                json.dump(truth, fh, indent=1, sort_keys=False)
                fh.write("\n")
        except OSError as e:
            print(f"simulate: cannot write {args.truth}: {e.strerror or e}", file=sys.stderr)
            return 1
    print(f"simulate: {truth['lines']} lines, {len(truth['users']) - 1} SASL users, "
          f"{len(truth['failures'])} failing IPs, {len(truth['pending'])} pending, "
          f"volume {cfg.volume:g}, {elapsed:.1f} s", file=sys.stderr)
    return 0

