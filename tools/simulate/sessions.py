"""sessions: smtpd's lines of one SMTP session, connect to disconnect, from a list of steps.

SUMMARY
    class Sessions (a part of simulation.Simulation)
      session(host, service, ip, helo, steps, pace, port_log, pre_warning)   an actor (spawn it)
      size_normal() -> bytes       the size of an ordinary message
    Txn                            one mail transaction: sender, recipients, size, ids, upload

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


class Txn:
    """One mail transaction of a session."""
    __slots__ = ("sender", "rcpts", "size", "msgid", "dkim", "sasl_sender", "send_data",
                 "kind", "upload")


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

    def size_normal(self):
        rng = self.rng
        if rng.random() < 0.1:
            return int(rng.uniform(80e3, 6e6))
        return int(rng.lognormvariate(math.log(9000), 0.6)) + 700
