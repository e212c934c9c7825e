"""e2e_sinks: tiny SMTP servers on loopback that Postfix delivers to during the end-to-end test.

NAME
    e2e_sinks - scripted SMTP destinations: accept, 550 at RCPT, 451 at RCPT, 554 after DATA.

DESCRIPTION
    SmtpSink(behaviour) listens on 127.0.0.1 (a kernel-chosen port), speaks just enough SMTP for
    Postfix's smtp(8) client (EHLO/HELO/LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no
    extensions), and answers according to its behaviour:

        accept    250 to everything; the message is kept
        rcpt550   550 5.7.1 at every RCPT           (Postfix bounces the recipient)
        rcpt451   451 4.3.2 at every RCPT           (Postfix defers, later expires the recipient)
        data554   250 at RCPT, 554 5.6.0 after DATA (Postfix bounces every recipient)

    ContentFilter(next_port) is the same server in front of Postfix, as an after-queue content
    filter (content_filter = scan:[127.0.0.1]:PORT, amavis's and clamsmtp's place) or a
    before-queue one (smtpd_proxy_filter): it offers XFORWARD, and hands each message on to
    the smtpd listening on next_port (Postfix's re-injection port), passing on the XFORWARD
    attributes it got while `xforward` is true (amavis does; a filter that does not leaves
    Postfix no orig_queue_id), and answers with that smtpd's reply (`250 2.0.0 Ok: queued as
    NEWQID`; with `lmtp`, it speaks LMTP and gives it for each recipient). The recipients of a domain in `refusing` it refuses itself, as that domain's
    sink (e2e_driver.DOMAINS) would: at RCPT (rcpt550, rcpt451) or, the whole message, after
    DATA (data554), handing nothing on.

    Each server runs in daemon threads of the test process and records what it saw
    (`transactions`: sender, recipients, the final reply), so a test can check that a recipient
    reported as sent really arrived. stop() closes the listener and every open connection; it is
    idempotent. Replies are fixed strings (REPLIES) that the ground truth refers to.

DIAGNOSTICS
    A client that breaks the protocol gets a 500/503 reply, never an exception in the test; a
    socket error ends that connection only.
"""
from __future__ import annotations

import smtplib
import socket
import socketserver
import threading

from e2e_driver import DOMAINS

REPLIES = {
    "rcpt550": "550 5.7.1 Recipient refused by the harness sink",
    "rcpt451": "451 4.3.2 Try again later, says the harness sink",
    "data554": "554 5.6.0 Message content refused by the harness sink",
}
DSN = {"accept": "2.0.0", "rcpt550": "5.7.1", "rcpt451": "4.3.2", "data554": "5.6.0"}
BEHAVIOURS = ("accept", "rcpt550", "rcpt451", "data554")


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        sink = self.server.sink
        sink._track(self.request, True)
        try:
            self._session(sink)
        except (OSError, ValueError):
            pass
        finally:
            sink._track(self.request, False)

    def _session(self, sink):
        behaviour = sink.behaviour
        self.reply(f"220 sink-{behaviour}.harness.test ESMTP harness sink")
        txn = None
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO", "LHLO"):
                self.reply(sink.greeting(verb))
            elif verb == "XFORWARD" and sink.offers_xforward:
                sink.forwarded.update(field.split("=", 1) for field in cmd.split()[1:]
                                      if "=" in field)
                self.reply("250 2.0.0 Ok")
            elif verb == "MAIL":
                txn = {"sender": cmd[10:].strip(), "recipients": [], "reply": None}
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                refusal = sink.rcpt_refusal(cmd[8:].strip())
                if txn is None:
                    self.reply("503 5.5.1 Error: need MAIL command")
                elif refusal is not None:
                    self.reply(refusal)
                    sink._record(dict(txn, recipients=[cmd[8:].strip()], reply=refusal))
                else:
                    txn["recipients"].append(cmd[8:].strip())
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not txn or not txn["recipients"]:
                    self.reply("503 5.5.1 Error: need RCPT command")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                content = []
                while True:
                    data = self.rfile.readline(65536)
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    content.append(data[1:] if data.startswith(b"..") else data)
                final = sink.final_reply(txn, b"".join(content))
                txn["size"] = sum(map(len, content))
                txn["reply"] = final
                sink._record(txn)
                txn = None
                self.reply(final)
            elif verb == "RSET":
                txn = None
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("500 5.5.2 Error: command not recognized")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    """One scripted SMTP server on 127.0.0.1; see the module docstring."""

    offers_xforward = False

    def __init__(self, behaviour: str):
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown sink behaviour {behaviour!r}")
        self._listen(behaviour)

    def _listen(self, behaviour: str):
        self.behaviour = behaviour
        self.transactions = []
        self.counter = 0
        self._lock = threading.Lock()
        self._conns = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"sink-{behaviour}", daemon=True)
        self._thread.start()
        self._stopped = False

    def greeting(self, verb: str) -> str:
        return f"250 sink-{self.behaviour}.harness.test"

    def rcpt_refusal(self, recipient: str) -> str | None:
        """The reply refusing RCPT TO:`recipient`, or None to accept it."""
        return REPLIES.get(self.behaviour) if self.behaviour.startswith("rcpt") else None

    def final_reply(self, txn: dict, content: bytes) -> str:
        """The reply to the end of DATA of `txn`, whose message is `content`."""
        if self.behaviour == "data554":
            return REPLIES["data554"]
        self.counter += 1
        return f"250 2.0.0 Ok: queued as SINK{self.counter:04d}"

    def _track(self, conn, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _record(self, txn):
        with self._lock:
            self.transactions.append(txn)

    def delivered_to(self) -> list:
        """Recipients (as written in RCPT TO, angle brackets stripped) of accepted messages."""
        with self._lock:
            out = []
            for t in self.transactions:
                if t.get("reply", "").startswith("250"):
                    out += [r.split(">")[0].lstrip("<") for r in t["recipients"]]
            return out

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)


class ContentFilter(SmtpSink):
    """A content filter that hands each message on to Postfix; see the module docstring."""

    offers_xforward = True

    def __init__(self, next_port: int, xforward=True, refusing=(), lmtp=False):
        self.next_port = next_port
        self.xforward = xforward
        self.lmtp = lmtp  # LMTP: one reply to the end of DATA for each recipient
        # domain -> the sink behaviour the filter answers its recipients with
        self.refusing = {domain: DOMAINS[domain][2] for domain in refusing}
        # What the last XFORWARD commands said (one connection at a time in these tests).
        self.forwarded = {}
        self._listen("filter")

    def greeting(self, verb: str) -> str:
        if verb == "HELO":
            return "250 filter.harness.test"
        return "250-filter.harness.test\r\n250 XFORWARD NAME ADDR PROTO HELO SOURCE IDENT"

    def _refusal(self, recipient: str) -> str | None:
        domain = recipient.split(">")[0].rsplit("@", 1)[-1]
        return REPLIES.get(self.refusing.get(domain, ""))

    def rcpt_refusal(self, recipient: str) -> str | None:
        refusal = self._refusal(recipient)
        return refusal if refusal is not None and not refusal.startswith("554") else None

    def final_reply(self, txn: dict, content: bytes) -> str:
        recipients = [r.split(">")[0].lstrip("<") for r in txn["recipients"]]
        return "\r\n".join([self._handed_on(txn, recipients, content)]
                           * (len(recipients) if self.lmtp else 1))

    def _handed_on(self, txn: dict, recipients: list, content: bytes) -> str:
        """The reply to the message: the next smtpd's, or the filter's own refusal."""
        refusals = [reply for reply in map(self._refusal, recipients) if reply is not None]
        if refusals:
            return refusals[0]
        sender = txn["sender"].split(">")[0].lstrip("<")
        with smtplib.SMTP("127.0.0.1", self.next_port, local_hostname="filter.harness.test",
                          timeout=30) as smtp:
            smtp.ehlo()
            if self.xforward and self.forwarded:
                attributes = " ".join(f"{k}={v}" for k, v in self.forwarded.items())
                smtp.docmd("XFORWARD", attributes)
            smtp.mail(sender)
            for recipient in recipients:
                smtp.rcpt(recipient)
            code, reply = smtp.data(content)
        self.forwarded = {}
        return f"{code} {reply.decode('utf-8', 'replace')}"
