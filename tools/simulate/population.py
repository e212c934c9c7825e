"""population: the world of a simulation: networks, domains, users and their devices, botnet.

SUMMARY
    class Population (a part of simulation.Simulation)
      build_world()          networks, external domains and their MX hosts, partner relays,
                             the users (some marked to be compromised), the attackers' botnet
      new_ip(prefixes, name), public_ip(country, track), cn(ip, port)    addresses, names
    User, Device, Home       a user's habits, mail programs and home networks

INPUT
    The Simulation's config (users, compromised, volume) and random generator: the same seed
    gives the same world. Names from names.py.

OUTPUT
    Fields of the Simulation: users, botnet, partners, relays, relays_v6, spam_domains,
    spam_class_weights, domain_class (good, greylist, flaky, nouser, spamblock, ratelimit,
    dead, nxdomain: how a domain's MX answers), domain_mx, isps, carriers, offices; ip_names
    (reverse DNS of every address, "unknown" when none) and used_ips.

DIAGNOSTICS
    None: when a network runs out of fresh addresses new_ip falls back to benchmarking space.
"""

from __future__ import annotations

import math

from tools.simulate.names import (
    ATTACK_COUNTRIES,
    ATTACK_NETS,
    DEAD_PARTNERS,
    FIRST,
    FREEMAIL,
    LAST,
    LOCAL_DOMAINS,
    PARTNER_WORDS,
)
from tools.simulate.postfix import TLS13_SUFFIX, TLS_SERVER


class Device:
    __slots__ = ("kind", "service", "mech", "helo", "tls", "mua", "sasl_sender", "rset", "pace")


class User:
    __slots__ = ("name", "address", "domain", "compromised", "devices", "homes", "office",
                 "carrier", "traveler", "rate", "weekend", "internal", "contacts", "p_authonly",
                 "p_typo", "p_failsession", "evening", "ipv6_home", "travel_days", "index")


class Home:
    __slots__ = ("isp", "ip", "name")


class Population:
    """The world of a Simulation; see the module docstring."""

    # -- addresses ----------------------------------------------------------------------------
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

    # -- the world ----------------------------------------------------------------------------
    def build_world(self):
        rng = self.rng
        cfg = self.cfg
        self.ip_names = {}
        self.used_ips = set()
        self.domain_class = {}
        self.domain_mx = {}
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
            first, last = rng.choice(FIRST), rng.choice(LAST)
            style = rng.random()
            local = (f"{first}.{last}" if style < 0.6 else
                     (f"{first[0]}.{last}" if style < 0.85 else f"{first}{last[0]}"))
            if local not in taken:
                taken.add(local)
                break
        u = User()
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
            h = Home()
            h.isp = rng.choice(tuple(self.isps))
            h.ip = self._home_ip(h.isp)
            u.homes.append(h)
        u.ipv6_home = None
        if i % 23 == 7:
            u.ipv6_home = "2001:db8:%x:%x::%x" % (0x100 + i, rng.randint(1, 0xffff), rng.randint(2, 0xfff))
            self.ip_names[u.ipv6_home] = "unknown"
        u.carrier = rng.choice(tuple(self.carriers))
        kinds = ["laptop"] + (["phone"] if rng.random() < 0.6 else [])
        u.devices = [self._make_device(kind, first, i) for kind in kinds]
        return u

    def _make_device(self, kind, first, i):
        """The mail program on user i's laptop or phone: service, mechanism, helo, TLS, pace."""
        rng = self.rng
        d = Device()
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
        d.helo = self._mua_helo(d, first, i)
        d.tls = rng.choice(TLS_SERVER[:3]) if rng.random() < 0.85 else rng.choice(TLS_SERVER[3:])
        d.tls = d.tls + ((TLS13_SUFFIX if d.tls[0] == "TLSv1.3" and rng.random() < 0.5 else ""),)
        d.sasl_sender = rng.random() < 0.07
        d.rset = d.mua == "outlook"
        d.pace = rng.uniform(0.03, 0.25)
        return d

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
