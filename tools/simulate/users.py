"""users: the normal users' traffic: when, from where and to whom each account sends mail.

SUMMARY
    class UserTraffic (a part of simulation.Simulation)
      user_planner(user)            an actor: the user's sessions, day after day
      user_location(user, device, t, day) -> ip    office, home, phone carrier, hotel
      user_txn(user, device, n) -> Txn             a message to colleagues and contacts
      user_steps(user, device, txns, fail_only) -> steps      one submission session

INPUT
    The users of population.py (habits: rate, weekend and evening use, internal share,
    devices, homes, office, carrier, travel) and the Simulation's calendar and volume.

OUTPUT
    Sessions (sessions.py) on submission or smtps: a few messages a day on weekdays, fewer on
    weekends, at office hours, in the evening for some; every account sends at least once in
    the period. Now and then: a home address changes, a day away (hotel or cafe address), a
    mistyped password (auth failure, then success in the same session), a wrong password and
    a retry a minute later, a login that sends nothing, a mistyped colleague refused at RCPT.

DIAGNOSTICS
    None.
"""

from __future__ import annotations

import math

from tools.simulate.engine import SESSION_MARGIN, by_time
from tools.simulate.names import LOCAL_DOMAINS
from tools.simulate.postfix import user_unknown
from tools.simulate.sessions import Txn, opening


class UserTraffic:
    """The normal users' mail of a Simulation; see the module docstring."""

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

    def user_txn(self, u, dev, rcpt_count):
        """A normal user's message: recipients chosen from colleagues and contacts."""
        rng = self.rng
        txn = Txn()
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
                    rcpts.append((addr, user_unknown(addr), None, None))
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
            plan.sort(key=by_time)
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
        steps = opening(dev.service, dev.tls)
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
