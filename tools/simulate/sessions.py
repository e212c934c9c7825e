"""sessions: smtpd's lines of one SMTP session, connect to disconnect, from a list of steps.

SUMMARY
    class Sessions (a part of simulation.Simulation)
      session(host, service, ip, helo, steps, pace, port_log, pre_warning)   an actor (spawn it)
      size_normal() -> bytes       the size of an ordinary message
    Txn                            one mail transaction: sender, recipients, size, ids, upload
    opening(service, tls) -> steps     EHLO and TLS as the service starts them
    SessionState                   one session while its lines are written

INPUT
    Steps made by users.py, attacks.py and inbound.py (listed in session()'s docstring); a
    transaction's recipients are (address, reject text or None, route, fate).

OUTPUT
    The lines of postfix/smtpd (or submission/smtpd, smtps/smtpd) on a pooled process:
    connect, TLS, SASL failures (with the Cyrus line before some), NOQUEUE and queue-id
    rejects, `client=` with sasl_method/sasl_username/sasl_sender, lost connection, timeout,
    non-SMTP command, and `disconnect` with the command counters; cleanup's message-id and
    opendkim's line of each queued message, which then goes to the queue (delivery.py).
    Failures and the finished session go to the truth (truth.py) once their lines are written.

DIAGNOSTICS
    None; a step of an unknown kind is passed over.
"""

from __future__ import annotations

import math

from tools.simulate.postfix import CYRUS_LINE, SERVICE_TAG, counters_text

# Commands that are counted in the disconnect line and log nothing of their own.
COUNTED = frozenset(("ehlo", "helo", "quit", "rset", "noop"))


class Txn:
    """One mail transaction of a session."""
    __slots__ = ("sender", "rcpts", "size", "msgid", "dkim", "sasl_sender", "send_data",
                 "kind", "upload")


def opening(service, tls):
    """The first steps of a client: EHLO, STARTTLS, EHLO on submission (and port 25), TLS
    first and then EHLO on smtps."""
    if service == "smtps":
        return [("tls", tls), ("ehlo",)]
    return [("ehlo",), ("starttls", tls), ("ehlo",)]


class SessionState:
    """One smtpd session while its lines are written: where it stands, what it has counted."""

    __slots__ = ("hs", "ip", "cn", "pre", "helo", "pace", "t", "t_connect", "cnt", "auth_user",
                 "auth_method", "queued", "noq_rejects", "warned", "failed",
                 "success_after_fail")

    def __init__(self, hs, ip, cn, pre, helo, pace, t):
        self.hs = hs
        self.ip = ip
        self.cn = cn                 # the client as smtpd names it: name[ip] or name[ip]:port
        self.pre = pre               # "HOST postfix/SERVICE/smtpd[PID]: "
        self.helo = helo
        self.pace = pace
        self.t = self.t_connect = t
        self.cnt = {}                # command -> [ok, total], for the disconnect line
        self.auth_user = self.auth_method = None
        self.queued = 0              # messages queued
        self.noq_rejects = 0         # RCPTs refused before any was accepted (NOQUEUE)
        self.warned = False          # a failure left a warning line
        self.failed = False          # an AUTH failed (with a line or not)
        self.success_after_fail = False

    def count(self, command, ok=True):
        c = self.cnt.get(command)
        if c is None:
            c = self.cnt[command] = [0, 0]
        if ok:
            c[0] += 1
        c[1] += 1


class Sessions:
    """The smtpd sessions of a Simulation; see the module docstring."""

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
          ("timeout", COMMAND)                 timeout (ends the session)
          ("sleep", seconds)
        Truth is updated after each line is written, so lines cut off by the end of
        the period never count.
        """
        rng = self.rng
        t = self.now
        self.stats["sessions"] += 1
        hs.smtpd_recent += 1
        pool = hs.smtpd[service]
        proc = pool.acquire(t)
        pre = f"{hs.name} {SERVICE_TAG[service]}[{proc[0]}]: "
        if port_log is None:
            port_log = service == "smtps"
        cn = self.cn(ip, rng.randint(32768, 65535) if port_log else None)
        s = SessionState(hs, ip, cn, pre, helo, pace, t)
        if pre_warning:
            yield s.t, pre + pre_warning
            s.t += rng.uniform(0.001, 0.01)
        yield s.t, pre + "connect from " + cn
        ended = yield from self._steps(s, steps)
        if not ended:
            s.t += pace * rng.uniform(0.4, 1.6)
        yield s.t, f"{pre}disconnect from {cn} {counters_text(s.cnt)}"
        # after the disconnect line was written: process and truth bookkeeping
        pool.release(proc, s.t)
        self.session_truth(s)

    def _steps(self, s, steps):
        """The lines of the steps; returns True when one ended the session early."""
        rng = self.rng
        for step in steps:
            op = step[0]
            s.t += s.pace * rng.uniform(0.4, 1.6)
            if op in COUNTED:
                s.count(op)
            elif op == "sleep":
                s.t += step[1]
            elif op == "starttls" or op == "tls":
                yield self._tls_line(s, step)
            elif op == "auth_fail":
                yield from self._auth_fail(s, step)
            elif op == "auth_abort":
                yield from self._auth_abort(s, step)
            elif op == "auth_refused":          # before STARTTLS / not offered: no warning
                s.count("auth", ok=False)
                s.failed = True
            elif op == "auth_ok":
                self._auth_ok(s, step)
            elif op == "lost" or op == "timeout":
                yield self._end_line(s, op, step[1])
                return True
            elif op == "nonsmtp":
                s.count("unknown", ok=False)
                yield s.t, f"{s.pre}warning: non-SMTP command from {s.cn}: {step[1]}"
            elif op == "reject_only":
                yield self._reject_only(s, step)
            elif op == "mail":
                yield from self._mail(s, step[1])
        return False

    def _tls_line(self, s, step):
        if step[0] == "starttls":
            s.cnt["starttls"] = [1, 1]
        s.t += self.rng.uniform(0.01, 0.08)
        proto, cipher, bits, suffix = step[1]
        return s.t, (f"{s.pre}Anonymous TLS connection established from {s.cn}: {proto} with "
                     f"cipher {cipher} ({bits}/{bits} bits){suffix}")

    def _auth_fail(self, s, step):
        _, mech, reason, uname, cyrus = step
        s.count("auth", ok=False)
        s.t += self.rng.uniform(0.2, 2.5)
        if cyrus:
            yield s.t, s.pre + CYRUS_LINE
        line = f"{s.pre}warning: {s.cn}: SASL {mech} authentication failed: {reason}"
        if uname is not None:
            line += ", sasl_username=" + uname
        yield s.t, line
        self.note_failure(s.ip, s.t, mech, uname)
        s.warned = s.failed = True

    def _auth_abort(self, s, step):
        s.count("auth", ok=False)
        s.t += self.rng.uniform(0.5, 5)
        yield s.t, f"{s.pre}warning: {s.cn}: SASL {step[1]} authentication aborted"
        self.note_failure(s.ip, s.t, step[1])
        s.warned = s.failed = True

    def _auth_ok(self, s, step):
        s.count("auth")
        s.t += self.rng.uniform(0.02, 0.3)
        s.auth_method, s.auth_user = step[1], step[2]
        if s.failed:
            s.success_after_fail = True

    def _end_line(self, s, op, command):
        """The line of a session that ends without QUIT: lost connection, or timeout."""
        if op == "timeout":
            s.t += 300
            return s.t, f"{s.pre}timeout after {command} from {s.cn}"
        s.t += self.rng.uniform(0.5, 20) if command == "AUTH" else 0
        if command == "AUTH":
            s.count("auth", ok=False)
            s.failed = True
        return s.t, f"{s.pre}lost connection after {command} from {s.cn}"

    def _reject_only(self, s, step):
        """An unauthenticated client's one RCPT refused (unknown user, relay, DNSBL)."""
        _, text, sender, rcpt, data = step
        s.count("mail")
        s.count("rcpt", ok=False)
        s.t += self.rng.uniform(0.05, 0.4)
        if data:
            s.count("data", ok=False)
        return s.t, (f"{s.pre}NOQUEUE: reject: RCPT from {s.cn}: {text}; from=<{sender}> "
                     f"to=<{rcpt}> proto=ESMTP helo=<{s.helo}>")

    def _mail(self, s, txn):
        """MAIL, the RCPTs and DATA of one transaction; queues the message when a RCPT was
        accepted."""
        s.count("mail")
        m = yield from self._rcpts(s, txn)
        if m is not None:
            yield from self._data(s, txn, m)
        elif txn.send_data:
            s.count("data", ok=False)

    def _rcpts(self, s, txn):
        """The RCPT commands: refusals logged (NOQUEUE before the first accepted one); the first
        accepted one makes the queue file and its client= line. Returns the message or None."""
        rng = self.rng
        hs = s.hs
        m = None
        crc = s.cnt.setdefault("rcpt", [0, 0])
        for addr, rej, route, fate in txn.rcpts:
            s.t += s.pace * rng.uniform(0.1, 0.8)
            crc[1] += 1
            if rej is not None:
                qid = m.qid if m is not None else "NOQUEUE"
                yield s.t, (f"{s.pre}{qid}: reject: RCPT from {s.cn}: {rej}; "
                            f"from=<{txn.sender}> to=<{addr}> proto=ESMTP helo=<{s.helo}>")
                if m is None:
                    s.noq_rejects += 1
                elif s.auth_user is not None:
                    self.ut(s.auth_user).rejected += 1
                continue
            crc[0] += 1
            if m is None:
                qid = hs.alloc_qid(s.t)
                line = f"{s.pre}{qid}: client={s.cn}"
                if s.auth_user is not None:
                    line += f", sasl_method={s.auth_method}, sasl_username={s.auth_user}"
                    if txn.sasl_sender:
                        line += ", sasl_sender=" + txn.sasl_sender
                yield s.t, line
                m = self.new_message(hs, qid, txn.sender, txn.size, s.auth_user, s.t, txn.kind)
                if s.auth_user is not None:
                    self.ut(s.auth_user).messages += 1
            m.add_rcpt(addr, route, fate)
        return m

    def _data(self, s, txn, m):
        """DATA: the upload, cleanup's message-id, opendkim's verdict; then the queue."""
        rng = self.rng
        hs = s.hs
        s.count("data")
        s.t += txn.upload
        yield s.t, f"{hs.tag('cleanup', s.t)}{m.qid}: message-id=<{txn.msgid}>"
        if txn.dkim is not None:
            s.t += rng.uniform(0.005, 0.05)
            yield s.t, f"{hs.name} opendkim[{hs.opendkim_pid}]: {m.qid}: {txn.dkim}"
        self.queue_message(m, s.t + rng.uniform(0.001, 0.02))
        s.queued += 1

    def size_normal(self):
        rng = self.rng
        if rng.random() < 0.1:
            return int(rng.uniform(80e3, 6e6))
        return int(rng.lognormvariate(math.log(9000), 0.6)) + 700
