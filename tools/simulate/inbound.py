"""inbound: mail from the Internet to the local users on port 25, and what else knocks there.

SUMMARY
    class Inbound (a part of simulation.Simulation)
      inbound_planner()      an actor: inbound sessions hour by hour, more by day than by night
      inbound_session()      one session, spawned

INPUT
    The partner relays and users of population.py; volume and inbound_per_user (sessions per
    account per day on top of a base of about two an hour).

OUTPUT
    Sessions on port 25 (sessions.py), unauthenticated: partner relays and the IPv6 partner
    delivering to local users (with STARTTLS or not, one or two messages, the odd unknown local
    recipient refused at RCPT, opendkim's verdict); and from throwaway addresses: unknown-user,
    DNSBL and relay-access rejects (NOQUEUE), scanners that connect and leave, non-SMTP
    commands, sometimes after a "hostname does not resolve" warning.

DIAGNOSTICS
    None.
"""

from __future__ import annotations

import math

from tools.simulate.engine import SESSION_MARGIN
from tools.simulate.names import DICT_USERS, FIRST, LAST
from tools.simulate.postfix import TLS_SERVER, user_unknown
from tools.simulate.sessions import Txn, opening


class Inbound:
    """The inbound SMTP traffic of a Simulation; see the module docstring."""

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
        hs = self.pick_host()
        r = self.rng.random()
        if r < 0.58 or r >= 0.97:
            ip, helo, steps = self._relay_session(r >= 0.97)
            pre_warning = None
        else:
            ip, helo, steps, pre_warning = self._stranger_session(r)
        self.spawn(self.session(hs, "smtpd", ip, helo, steps, pace=0.2, pre_warning=pre_warning))

    def _relay_session(self, v6):
        """(ip, helo, steps) of a partner's relay (v6: the IPv6 partner) delivering mail."""
        rng = self.rng
        if v6:
            dom, ip = self.relays_v6[0]
        else:
            dom, ip = rng.choice(self.relays)
        steps = opening("smtpd", rng.choice(TLS_SERVER) + ("",)) if rng.random() < 0.8 else [("ehlo",)]
        for j in range(1 if rng.random() < 0.85 else 2):
            txn = self._inbound_txn(dom)
            if j:
                steps.append(("rset",))
            steps.append(("mail", txn))
        steps.append(("quit",))
        return ip, self.ip_names.get(ip, "unknown"), steps

    def _inbound_txn(self, dom):
        """A message from domain dom to one or a few local users."""
        rng = self.rng
        txn = Txn()
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
                rcpts.append((bad, user_unknown(bad), None, None))
            else:
                rcpts.append((u.address, None, "lmtp", self.fate_for("lmtp")))
        if all(x[1] is not None for x in rcpts):
            u = self.users[rng.randrange(len(self.users))]
            rcpts.append((u.address, None, "lmtp", self.fate_for("lmtp")))
        txn.rcpts = rcpts
        return txn

    def _stranger_session(self, r):
        """(ip, helo, steps, pre_warning) of an unknown client: refused at RCPT, or a scanner."""
        rng = self.rng
        pre_warning = None
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
            steps = [("ehlo",), ("reject_only", user_unknown(bad), s, bad, data), ("quit",)]
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
        return ip, helo, steps, pre_warning
