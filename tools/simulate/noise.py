"""noise: the other programs' lines: cron, pickup, dovecot, the kernel firewall, anvil, scache.

SUMMARY
    class Noise (a part of simulation.Simulation)
      cron_planner(host)     an actor: CRON every hour at :17, cron.daily at 06:25 (which
                             mails root: pickup, cleanup, local delivery)
      dovecot_planner()      an actor: IMAP logins of the users, IMAP auth failures of bots
      kernel_planner()       an actor: UFW BLOCK lines from scanners, 18 a day at volume 1
      stats_planner(host)    an actor: postfix/anvil and postfix/scache statistics every
                             10 minutes of smtpd activity

INPUT
    The hosts, users and period of the Simulation; volume.

OUTPUT
    Lines of CRON (pam_unix session opened/closed, CMD), postfix/pickup, dovecot (imap-login,
    imap(user) logout), kernel and postfix/anvil and postfix/scache, in the shapes those
    programs log; cron.daily's mail to root goes to the queue (delivery.py).

DIAGNOSTICS
    None.
"""

from __future__ import annotations

import math
import time

from tools.simulate.engine import SESSION_MARGIN
from tools.simulate.postfix import traditional_stamp


class Noise:
    """The other programs' lines of a Simulation; see the module docstring."""

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
            m.add_rcpt(f"root@{hs.fqdn}", "local", (0, "sent"))
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
        sess = self.dovecot_id(16)
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
        return traditional_stamp(time.gmtime(int(t) + self.write_offset))
