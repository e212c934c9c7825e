"""attacks: the attackers' traffic: compromised accounts and their spam, brute-force campaigns.

SUMMARY
    class Attacks (a part of simulation.Simulation)
      attack_planner(user, k, ncomp)   an actor: the attack on the k-th of ncomp compromised
                                       accounts: guessing, the break-in, spam bursts, a reset
      bruteforce_planner()             an actor: brute-force campaigns, 7 a day at volume 1
      spam_txn(victim, n, test) -> Txn     a spam run of n recipients (test: one, to a drop box)
      bot_helo(ip), guess_name()           what bots say in HELO and try as a username

INPUT
    The users marked compromised by population.py, its botnet and spam domains, the period
    and volume. An attack's structure (when, how many bursts, how long) comes from its own
    random stream, seeded by the seed and k, so that it is the same at every --volume; its
    details come from the Simulation's generator.

OUTPUT
    Sessions (sessions.py): password guessing from 2-5 addresses, then a successful login from
    one of them with a test message (the account's compromised_at), then 2-3 bursts of spam
    from 15-40 botnet addresses, a few hundred recipients an hour, most of them refused,
    bounced or deferred; after its last burst the first account's password is reset and the
    botnet keeps failing. Brute force: dictionary names with and without a username in the
    line, smtps, AUTH before STARTTLS, AUTH on port 25, aborted AUTH, lost connections.
    Each compromised account's truth goes to compromise_truth.

DIAGNOSTICS
    None. A period too short for the break-in leaves the account normal.
"""

from __future__ import annotations

import random

from tools.simulate.engine import SESSION_MARGIN
from tools.simulate.names import DICT_USERS, FIRST, LAST, LOCAL_DOMAINS, hash_str
from tools.simulate.postfix import TLS_SERVER
from tools.simulate.sessions import Txn, opening


class Attacks:
    """The attackers of a Simulation; see the module docstring."""

    # -- compromised accounts -----------------------------------------------------------------
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
        yield from self._guessing(rng, u, mech, guessers, guess_start, bad)
        if bad > self.end - SESSION_MARGIN:
            return                 # too short a period for the break-in: the account stays normal
        yield from self._break_in(rng, u, mech, ct, winner, bad)
        last_end, burst_ips_all = yield from self._spam_bursts(rng, u, ct, bad)
        # the first compromised account gets its password reset; the botnet keeps trying
        if k == 0 and last_end is not None and burst_ips_all:
            yield from self._after_reset(rng, u, last_end, burst_ips_all)

    def _guessing(self, rng, u, mech, guessers, guess_start, bad):
        """Guessing sessions: slow, from a few addresses, mostly the victim's name."""
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
            steps = opening("submission", TLS_SERVER[3] + ("",))
            for _ in range(rng.randint(1, 3)):
                name = u.name if rng.random() < 0.75 else rng.choice(DICT_USERS)
                steps.append(("auth_fail", mech, "authentication failure", name, False))
            steps.append(("quit",) if rng.random() < 0.6 else ("lost", "AUTH"))
            if steps[-1][0] == "lost":
                steps.pop(-2)
            self.spawn(self.session(self.pick_host(), "submission", ip, self.bot_helo(ip), steps,
                                    pace=1.0))

    def _break_in(self, rng, u, mech, ct, winner, bad):
        """The successful login: a test message to the attacker's drop box."""
        yield bad, None
        ct["compromised_at"] = bad
        ct["attacker_ips"].add(winner)
        steps = opening("submission", TLS_SERVER[3] + ("",))
        if rng.random() < 0.5:
            steps.append(("auth_fail", mech, "authentication failure", u.name, False))
        steps += [("auth_ok", mech, u.name), ("mail", self.spam_txn(u, 1, test=True)), ("quit",)]
        self.spawn(self.session(self.pick_host(), "submission", winner, self.bot_helo(winner), steps,
                                pace=0.8))

    def _spam_bursts(self, rng, u, ct, bad):
        """Bursts of spam logins from the botnet. Returns (end of the last burst or None, the
        addresses of all bursts)."""
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
                self._spam_login(rng, u, ip)
            last_end = bend
            t = bend + rng.uniform(4, 20) * 3600.0
        return last_end, burst_ips_all

    def _spam_login(self, rng, u, ip):
        """One botnet login as u that sends one or two spam runs."""
        svc = "submission" if hash_str(ip) % 5 < 3 else "smtps"
        m2 = "LOGIN" if hash_str(ip) % 3 else "PLAIN"
        steps = opening(svc, rng.choice(TLS_SERVER) + ("",))
        steps.append(("auth_ok", m2, u.name))
        for j in range(1 if rng.random() < 0.8 else 2):
            if j:
                steps.append(("rset",))
            steps.append(("mail", self.spam_txn(u, rng.randint(5, 20))))
        steps.append(("quit",))
        self.spawn(self.session(self.pick_host(), svc, ip, self.bot_helo(ip), steps, pace=0.12))

    def _after_reset(self, rng, u, last_end, burst_ips_all):
        """The password was reset: the botnet's logins fail."""
        t = last_end + rng.uniform(2, 6) * 3600.0
        for _ in range(rng.randint(6, 18)):
            t += rng.uniform(60, 2400)
            if t > self.end - SESSION_MARGIN:
                break
            yield t, None
            ip = rng.choice(burst_ips_all)
            steps = opening("submission", TLS_SERVER[0] + ("",))
            steps += [("auth_fail", "LOGIN", "authentication failure", u.name, False), ("quit",)]
            self.spawn(self.session(self.pick_host(), "submission", ip, self.bot_helo(ip), steps,
                                    pace=0.5))

    def spam_txn(self, victim, n, test=False):
        rng = self.rng
        txn = Txn()
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

    def bot_helo(self, ip):
        h = hash_str(ip) % 6
        return ("User", "localhost", f"[{ip}]", "WIN-%06X" % (hash_str(ip) & 0xFFFFFF),
                "ylmf-pc", "mail.example.com")[h]

    # -- brute force campaigns ----------------------------------------------------------------
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
            svc, steps = self._campaign_session(style, mech)
            self.spawn(self.session(hs, svc, ip, self.bot_helo(ip), steps, pace=0.6))

    def _campaign_session(self, style, mech):
        """(service, steps) of one session of a brute-force campaign of `style`."""
        rng = self.rng
        if style == "port25":
            steps = [("ehlo",), ("auth_refused",)]
            if rng.random() < 0.3:
                steps.append(("auth_refused",))
            steps.append(("quit",))
            return "smtpd", steps
        if style == "notls":
            return "submission", [("ehlo",), ("auth_refused",)] + self._goodbye(0.7)
        svc = "smtps" if style == "smtps" else "submission"
        steps = opening(svc, rng.choice(TLS_SERVER) + ("",))
        if rng.random() < 0.06:
            steps.append(("auth_abort", "PLAIN"))
            return svc, steps
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
            steps += self._goodbye(0.6)
        return svc, steps

    def _goodbye(self, p_quit):
        """QUIT, or with probability 1 - p_quit RSET first."""
        return [("quit",)] if self.rng.random() < p_quit else [("rset",), ("quit",)]

    def guess_name(self):
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return rng.choice(DICT_USERS) + rng.choice(("", "", "@corp.example", "@shop.example"))
        u = self.users[rng.randrange(len(self.users))]
        return u.name if r < 0.85 else u.address.partition("@")[0]
