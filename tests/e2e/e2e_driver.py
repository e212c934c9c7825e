"""e2e_driver: SMTP clients (smtplib) that talk to the test Postfix and write down the ground truth.

NAME
    e2e_driver - one Session per SMTP connection; Truth collects what every session really did.

DESCRIPTION
    Session(truth, label, service, port, client_ip, ...) connects from a chosen 127.x.y.z source
    address (plain, STARTTLS later, or implicit TLS), and offers:

        auth_cram_md5(user, pw, seed_style=False)  the response is computed here from the
                                     server's challenge: base64(user SP hex(HMAC-MD5(pw, chal)));
                                     seed_style=True appends the newline that the seed write-up's
                                     shell script left in (Postfix accepts it)
        auth_plain(user, pw), auth_login(user, pw), auth_login_abort(user)
        auth_refused(mech, user, pw) AUTH that the server must refuse before looking at it
                                     (AUTH before STARTTLS on submission)
        send(sender, recipients)     MAIL/RCPT.../DATA; recipients' RCPT replies are checked
                                     against what the scenario expects, the queue ID is taken
                                     from the 250 reply to DATA
        quit(), abandon()            QUIT, or just close the socket

    Each call appends to the session's record in Truth, which is plain JSON: sessions with their
    client IP, service, start/end times (ISO 8601 with offset, taken around the exchange), every
    AUTH attempt with its reply, and every transaction with its queue ID and, per recipient, the
    RCPT reply and the outcome the test expects (sent, bounced, expired, deferred, rejected) with
    the expected DSN. The expected outcome comes from the recipient's domain (DOMAINS) unless the
    server refused it at RCPT time.

DIAGNOSTICS
    ScenarioError when the server answers differently from what the scenario planned (a wrong
    reply code at AUTH or RCPT, no queue ID in the 250 reply): the harness, not the analyzer, is
    then wrong, and the message shows the exchange. smtplib's own exceptions pass through.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

# domain -> (expected outcome of an accepted recipient, its DSN, the sink behaviour behind it)
# "expires" means: expired when the message outlives maximal_queue_lifetime during the test,
# still deferred when the log ends before that (the scenario's late messages).
DOMAINS = {
    "harness.test": ("sent", "2.0.0", "local"),
    "ok.test": ("sent", "2.0.0", "accept"),
    "reject.test": ("bounced", "5.7.1", "rcpt550"),
    "tempfail.test": ("expires", "4.3.2", "rcpt451"),
    "datareject.test": ("bounced", "5.6.0", "data554"),
    "down.test": ("expires", "4.4.1", "closed"),
}


class ScenarioError(AssertionError):
    """The server did not answer the way the scenario planned (a harness problem)."""


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="microseconds")


def cram_md5_response(user: str, password: str, challenge_b64: str, seed_style=False) -> str:
    """RFC 2195 response to a base64 challenge; seed_style adds the write-up's trailing newline."""
    challenge = base64.b64decode(challenge_b64)
    digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
    text = f"{user} {digest}" + ("\n" if seed_style else "")
    return base64.b64encode(text.encode()).decode()


def _reply(code, msg) -> str:
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return f"{code} {text}".replace("\n", " ")


def _enhanced(reply: str) -> str | None:
    m = re.match(r"\d{3} (\d\.\d{1,3}\.\d{1,3})\b", reply)
    return m.group(1) if m else None


class Truth:
    """The ground truth of one run: JSON-serialisable, written by Sessions."""

    def __init__(self, **meta):
        self.data = {"meta": dict(meta), "sessions": []}

    def new_session(self, record):
        self.data["sessions"].append(record)
        return record

    @property
    def sessions(self):
        return self.data["sessions"]

    def queue_ids(self, late=None):
        out = []
        for s in self.sessions:
            for t in s["transactions"]:
                if t["queue_id"] and (late is None or t.get("late", False) == late):
                    out.append(t["queue_id"])
        return out


class Session:
    """One SMTP connection from a chosen loopback address; see the module docstring."""

    def __init__(self, truth: Truth, label: str, service: str, port: int, client_ip: str,
                 helo: str, cafile: str, implicit_tls=False, timeout=30):
        self.truth = truth
        self.cafile = cafile
        self.context = ssl.create_default_context(cafile=cafile)
        self.record = truth.new_session({
            "label": label, "service": service, "port": port, "client_ip": client_ip,
            "helo": helo, "tls": bool(implicit_tls), "start": now_iso(), "end": None,
            "auth": [], "transactions": [], "quit": False,
        })
        if implicit_tls:
            self.smtp = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname=helo,
                                         source_address=(client_ip, 0), timeout=timeout,
                                         context=self.context)
        else:
            self.smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=helo,
                                     source_address=(client_ip, 0), timeout=timeout)
        self.smtp.ehlo()

    # -- context manager: always close the socket, record the end time
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.record["end"] is None:
            try:
                self.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
                self.record["end"] = now_iso()
        return False

    def _fail(self, what, reply):
        raise ScenarioError(f"session {self.record['label']}: {what}: server said {reply!r}")

    def starttls(self):
        code, msg = self.smtp.starttls(context=self.context)
        if code != 220:
            self._fail("STARTTLS", _reply(code, msg))
        self.record["tls"] = True
        self.smtp.ehlo()

    # -- AUTH
    def _auth_done(self, mech, user, code, msg, expect_ok, **extra):
        reply = _reply(code, msg)
        ok = code == 235
        self.record["auth"].append({"mechanism": mech, "username": user, "ok": ok,
                                    "reply": reply, "time": now_iso(), **extra})
        if ok != expect_ok:
            self._fail(f"AUTH {mech} as {user} (expected {'success' if expect_ok else 'failure'})",
                       reply)
        if ok:
            self.record["sasl_username"] = user
            self.record["sasl_method"] = mech
        return ok

    def auth_cram_md5(self, user, password, seed_style=False, expect_ok=True):
        code, msg = self.smtp.docmd("AUTH", "CRAM-MD5")
        if code != 334:
            self._fail("AUTH CRAM-MD5 challenge", _reply(code, msg))
        answer = cram_md5_response(user, password, msg.decode(), seed_style=seed_style)
        code, msg = self.smtp.docmd(answer)
        return self._auth_done("CRAM-MD5", user, code, msg, expect_ok, seed_style=seed_style)

    def auth_plain(self, user, password, expect_ok=True):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, msg = self.smtp.docmd("AUTH", f"PLAIN {token}")
        return self._auth_done("PLAIN", user, code, msg, expect_ok)

    def _login_up_to_password(self, user):
        """AUTH LOGIN and the username, leaving the server at its password prompt."""
        code, msg = self.smtp.docmd("AUTH", "LOGIN")
        if code != 334:
            self._fail("AUTH LOGIN", _reply(code, msg))
        code, msg = self.smtp.docmd(base64.b64encode(user.encode()).decode())
        if code != 334:
            self._fail("AUTH LOGIN username", _reply(code, msg))

    def auth_login(self, user, password, expect_ok=True):
        self._login_up_to_password(user)
        code, msg = self.smtp.docmd(base64.b64encode(password.encode()).decode())
        return self._auth_done("LOGIN", user, code, msg, expect_ok)

    def auth_login_abort(self, user):
        """AUTH LOGIN, send the username, then cancel with '*' at the password prompt."""
        self._login_up_to_password(user)
        code, msg = self.smtp.docmd("*")
        if code // 100 != 5:
            self._fail("AUTH LOGIN abort", _reply(code, msg))
        return self._auth_done("LOGIN", user, code, msg, False, aborted=True)

    def auth_refused(self, mech, user, password):
        """An AUTH the server refuses before evaluating it: it never sees mech or user."""
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, msg = self.smtp.docmd("AUTH", f"{mech} {token}")
        if code // 100 != 5:
            self._fail(f"AUTH {mech} before STARTTLS (expected a refusal)", _reply(code, msg))
        return self._auth_done(mech, user, code, msg, False, refused=True)

    # -- mail
    def send(self, sender, recipients, late=False, expect_rejected=(), subject=None):
        """One transaction. recipients: addresses; expect_rejected: those refused at RCPT."""
        txn = {"sender": sender, "time": now_iso(), "late": late, "queue_id": None,
               "recipients": [], "data_reply": None}
        self.record["transactions"].append(txn)
        code, msg = self.smtp.mail(sender)
        if code != 250:
            self._fail(f"MAIL FROM:<{sender}>", _reply(code, msg))
        accepted = []
        for rcpt in recipients:
            code, msg = self.smtp.rcpt(rcpt)
            reply = _reply(code, msg)
            entry = {"address": rcpt, "rcpt_reply": reply}
            if code in (250, 251):
                if rcpt in expect_rejected:
                    self._fail(f"RCPT TO:<{rcpt}> (expected a refusal)", reply)
                outcome, dsn, via = DOMAINS[rcpt.rsplit("@", 1)[1]]
                if outcome == "expires":
                    outcome = "deferred" if late else "expired"
                entry.update(expected=outcome, dsn=dsn, via=via)
                accepted.append(rcpt)
            else:
                if rcpt not in expect_rejected:
                    self._fail(f"RCPT TO:<{rcpt}>", reply)
                entry.update(expected="rejected", dsn=_enhanced(reply), via="smtpd")
                # Postfix opens the queue file at the first accepted RCPT: a refusal before it
                # is logged as NOQUEUE, after it with the queue ID.
                entry["logged_with_queue_id"] = bool(accepted)
            txn["recipients"].append(entry)
        if not accepted:
            self.smtp.rset()
            return None
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(accepted)
        msg["Subject"] = subject or f"{self.record['label']} #{len(self.record['transactions'])}"
        msg["Date"] = format_datetime(dt.datetime.now().astimezone())
        msg["Message-ID"] = make_msgid(domain="client.harness.test")
        msg.set_content("Sent by maillog-sasl's end-to-end test.\n")
        code, reply = self.smtp.data(msg.as_bytes())
        reply = _reply(code, reply)
        txn["data_reply"] = reply
        m = re.search(r"queued as ([0-9A-Za-z]+)", reply)
        if code != 250 or not m:
            self._fail("DATA", reply)
        txn["queue_id"] = m.group(1)
        return txn["queue_id"]

    def abandon(self):
        """Close the connection without QUIT (Postfix logs "lost connection after ...")."""
        self.smtp.close()
        self.record["end"] = now_iso()

    def quit(self):
        try:
            self.smtp.quit()
            self.record["quit"] = True
        finally:
            self.record["end"] = now_iso()
