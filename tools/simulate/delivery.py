"""delivery: the queue: each message's life from qmgr to removal, deliveries, retries, notices.

SUMMARY
    class Delivery (a part of simulation.Simulation)
      new_message(host, qid, sender, size, user, t, kind) -> Message   (then add_rcpt each)
      queue_message(m, t)          hand m to qmgr at t: spawns its life
      fate_for(route, bad_p, spam) -> (deferrals, final outcome) of one recipient
      route_for(addr) -> "lmtp" | "local" | domain
      carryover()                  messages deferred before the log starts
    Message                        one queued message and the state of its recipients
    SENT, BOUNCED, EXPIRED         final recipient outcomes

INPUT
    Messages queued by sessions.py and noise.py (cron's local mail), each recipient with its
    route and its fate (how many times it is deferred, then sent or bounced), decided when the
    message is made; the domain classes and MX hosts of population.py.

OUTPUT
    The lines of each delivery attempt, in time order: qmgr's `from=... (queue active)`, one
    status line a recipient from lmtp, local, smtp or error (delay=, delays=, dsn=, relay=,
    conn_use=), smtp's TLS and connect-timeout lines, bounce's notices (a non-delivery notice
    is a message with its own life; a notice that cannot be delivered goes to the postmaster;
    one to the postmaster that fails is discarded), `status=expired` after LIFETIME, and
    `removed`. Retries follow Postfix's backoff (MIN_BACKOFF .. MAX_BACKOFF, on queue scans
    every QUEUE_RUN seconds); a dead domain's later mail is `delivery temporarily suspended`.
    Each recipient's final outcome goes to the truth once its line is written.

DIAGNOSTICS
    None.
"""

from __future__ import annotations

import math
import time

from tools.simulate.engine import by_time
from tools.simulate.names import DEAD_PARTNERS, FIRST, LOCAL_DOMAINS, hash_str
from tools.simulate.postfix import (
    BOUNCES,
    DEFERRALS,
    LIFETIME,
    MAX_BACKOFF,
    MIN_BACKOFF,
    NOT_FOUND,
    QUEUE_RUN,
    TLS13_SUFFIX,
    TLS_SERVER,
    fmt_delay,
)

# final recipient outcomes
SENT, BOUNCED, EXPIRED = "sent", "bounced", "expired"


class Message:
    __slots__ = ("host", "qid", "sender", "size", "nrcpt", "rcpts", "routes", "fates", "tries",
                 "state", "npending", "user", "created", "kind", "live")

    def add_rcpt(self, addr, route, fate):
        self.rcpts.append(addr)
        self.routes.append(route)
        self.fates.append(fate)

    def ready(self):
        """The recipients are complete: none tried yet, none final."""
        n = len(self.rcpts)
        self.nrcpt = n
        self.tries = [0] * n
        self.state = [None] * n
        self.npending = n


class _Request:
    """One delivery request of message m at time t: its lines and counts as they are made."""

    __slots__ = ("m", "t", "a", "b", "lines", "nb", "npend")

    def __init__(self, m, t, b):
        self.m = m
        self.t = t
        self.a = t - m.created       # delays=a/b/c/d: before the queue manager, in it,
        self.b = b                   # connection set-up, transmission
        self.lines = []
        self.nb = 0                  # recipients bounced
        self.npend = 0               # recipients deferred

    def status(self, tl, i, relay, c, d, dsn, status, text, orig_to="", conn_use=""):
        m = self.m
        delay = tl - m.created
        return (f"{m.qid}: to=<{m.rcpts[i]}>, {orig_to}relay={relay}, {conn_use}delay={fmt_delay(delay)}, "
                f"delays={fmt_delay(self.a)}/{fmt_delay(self.b)}/{fmt_delay(c)}/{fmt_delay(d)}, "
                f"dsn={dsn}, status={status} ({text})")

    def defer(self, tl, pre, i, relay, c, d, dsn, text):
        self.m.tries[i] += 1
        self.npend += 1
        self.lines.append((tl, pre + self.status(tl, i, relay, c, d, dsn, "deferred", text), None))

    def sent(self, tl, pre, i, relay, c, d, text, orig_to="", conn_use=""):
        self.lines.append((tl, pre + self.status(tl, i, relay, c, d, "2.0.0", "sent", text, orig_to,
                                                 conn_use), ("final", i, SENT)))

    def bounce(self, tl, pre, i, relay, c, d, dsn, text, conn_use=""):
        self.nb += 1
        self.lines.append((tl, pre + self.status(tl, i, relay, c, d, dsn, "bounced", text,
                                                 conn_use=conn_use), ("final", i, BOUNCED)))


class Delivery:
    """The queue of a Simulation; see the module docstring."""

    def new_message(self, hs, qid, sender, size, user, t, kind):
        m = Message()
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
        m.ready()
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
            lines.sort(key=by_time)
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
        n.add_rcpt(rcpt, route, self.fate_for(route, bad_p=0.1))
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(t)))
        lines.append((t, f"{hs.tag('cleanup', self.now)}{nq}: message-id=<{stamp}.{nq}@{hs.fqdn}>",
                      None))
        n.ready()
        lines.append((t, f"{hs.tag('bounce', self.now)}{m.qid}: {what}: {nq}",
                      ("spawn", self.message_life(n, t))))

    def deliver(self, m, route, idxs, t):
        """Lines of one delivery request. Returns (lines, end time, n bounced, n still pending)."""
        req = _Request(m, t, self.rng.uniform(0.001, 0.05))
        if route == "lmtp" or route == "local":
            tl = self._deliver_locally(req, route, idxs)
        else:
            cls = self.domain_class.get(route, "good")
            hs = m.host
            if cls == "dead" and hs.dead_until.get(route, 0.0) > t:
                tl = self._deliver_suspended(req, route, idxs)
            else:
                pre = hs.tag("smtp", self.now)
                if cls == "dead":
                    tl = self._deliver_timed_out(req, pre, route, idxs)
                elif cls == "nxdomain":
                    tl = self._deliver_not_found(req, pre, route, idxs)
                else:
                    tl = self._deliver_smtp(req, pre, route, cls, idxs)
        return req.lines, tl, req.nb, req.npend

    def _deliver_locally(self, req, route, idxs):
        """lmtp to dovecot (local domains) or local (aliases of root): sent, or over quota."""
        rng = self.rng
        m = req.m
        hs = m.host
        pre = hs.tag("lmtp" if route == "lmtp" else "local", self.now)
        tl = req.t + req.b
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
                req.defer(tl, pre, i, relay, c, d, "4.2.2",
                          f"host {hs.fqdn}[private/dovecot-lmtp] said: 452 4.2.2 <{m.rcpts[i]}> "
                          "Quota exceeded (mailbox for user is full) (in reply to end of DATA command)")
            else:
                text = (f"250 2.0.0 <{m.rcpts[i]}> {self.dovecot_id()} Saved"
                        if route == "lmtp" else "delivered to mailbox")
                req.sent(tl, pre, i, relay, c, d, text, orig_to=extra)
        return tl

    def _deliver_suspended(self, req, route, idxs):
        """A dead domain tried lately: postfix/error defers without trying."""
        hs = req.m.host
        pre = hs.tag("error", self.now)
        tl = req.t + req.b
        for i in idxs:
            tl += self.rng.uniform(0.0005, 0.003)
            req.defer(tl, pre, i, "none", 0, 0, "4.4.1",
                      "delivery temporarily suspended: " + hs.dead_reason[route])
        return tl

    def _deliver_timed_out(self, req, pre, route, idxs):
        """A dead domain: every MX times out; its mail is suspended for MIN_BACKOFF."""
        hs = req.m.host
        mxs = self.domain_mx[route]
        tl = req.t + req.b
        reason = ""
        for k, (mx, ip) in enumerate(mxs):
            tl += 30.0 + self.rng.uniform(0, 0.05)
            reason = f"connect to {mx}[{ip}]:25: Connection timed out"
            if k < len(mxs) - 1:
                req.lines.append((tl, pre + reason, None))
        c = tl - req.t - req.b
        for i in idxs:
            req.defer(tl, pre, i, "none", c, 0, "4.4.1", reason)
        hs.dead_until[route] = tl + MIN_BACKOFF
        hs.dead_reason[route] = reason
        return tl

    def _deliver_not_found(self, req, pre, route, idxs):
        """A domain that does not exist: every recipient bounces at once."""
        tl = req.t + req.b + self.rng.uniform(0.01, 0.3)
        for i in idxs:
            req.bounce(tl, pre, i, "none", tl - req.t - req.b, 0, "5.4.4",
                       NOT_FOUND.format(route=route))
        return tl

    def _deliver_smtp(self, req, pre, route, cls, idxs):
        """One SMTP connection to the domain's first MX: each recipient sent, deferred or
        bounced as its fate says, in the words of the domain's class."""
        rng = self.rng
        m = req.m
        mx, ip = self.domain_mx[route][0]
        relay = f"{mx}[{ip}]:25"
        said = f"host {mx}[{ip}] said: "
        c = rng.uniform(0.05, 1.2)
        tl = req.t + req.b + c
        if rng.random() < 0.3:
            proto, cipher, bits = rng.choice(TLS_SERVER[:3])
            req.lines.append((tl, f"{pre}{rng.choice(('Trusted', 'Untrusted', 'Verified'))} TLS connection "
                                  f"established to {relay}: {proto} with cipher {cipher} ({bits}/{bits} bits)"
                                  f"{TLS13_SUFFIX}", None))
        conn_use = f"conn_use={rng.randint(2, 6)}, " if rng.random() < 0.05 else ""
        for i in idxs:
            d = rng.uniform(0.05, 0.6) + m.size / 2.0e6
            tl += d
            ndef, final = m.fates[i]
            fill = {"rcpt": m.rcpts[i], "route": route, "our_ip": m.host.ip}
            if m.tries[i] < ndef:
                dsn, reply = DEFERRALS.get(cls, DEFERRALS[None])
                req.defer(tl, pre, i, relay, c, d, dsn, said + reply.format(**fill))
            elif final == "sent":
                req.sent(tl, pre, i, relay, c, d, self._remote_ok(route), conn_use=conn_use)
            elif final == "bounce:nx":
                req.bounce(tl, pre, i, relay, c, d, "5.4.4", NOT_FOUND.format(**fill), conn_use)
            else:
                dsn, reply = BOUNCES.get(final, BOUNCES[None])
                req.bounce(tl, pre, i, relay, c, d, dsn, said + reply.format(**fill), conn_use)
        return tl

    def _remote_ok(self, route):
        rng = self.rng
        r = (hash_str(route) % 3)
        if r == 0:
            return f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}"
        if r == 1:
            return f"250 2.0.0 OK id={self.hexid(6)}-{self.hexid(6)}-{self.hexid(2)}"
        return f"250 Requested mail action okay, completed: id={self.hexid(16)}"

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
            m.add_rcpt(f"{rng.choice(FIRST)}@{dom}", dom, (10 ** 6, None))
            m.ready()
            age = self.start - created
            first = self.start + rng.uniform(0, min(MAX_BACKOFF, max(age, MIN_BACKOFF)))
            plans.append((first, m))
            self.stats["carryover_messages"] += 1
        plans.sort(key=by_time)
        for first, m in plans:
            self.spawn(self.message_life(m, first))
