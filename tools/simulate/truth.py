"""truth: the ground truth of a simulation, counted as its lines are written, and its report.

SUMMARY
    class Truth (a part of simulation.Simulation)
      init_truth()                       empty counters
      ut(username) -> UserTruth, ft(ip) -> FailTruth     counters, made on first use
      note_failure(ip, t, mech, username)                a failure line was written
      session_truth(session)                             a session's disconnect was written
      truth() -> dict                                    the truth of the whole log
    TRUTH_VERSION, GENERATOR   the truth's version and "generator" entry
    ip_key(ip)                 sort key: IPv4 numerically, then IPv6, then anything else

INPUT
    Calls from sessions.py (failures, finished sessions) and delivery.py (each recipient's
    final outcome, expiries), each made only after the line it counts was written: a line cut
    off by the end of the period never counts. The Simulation's compromise_truth (attacks.py),
    live_auth (delivery.py), users, hosts, stats, lines and period.

OUTPUT
    The truth dict whose keys and counting rules the package docstring gives
    (tools/simulate/__init__.py): users, failures, compromised, normal, pending, lines,
    period, hosts, timestamps, utc_offset, config, truth_version, generator, stats.

DIAGNOSTICS
    None.
"""

from __future__ import annotations

from dataclasses import asdict

TRUTH_VERSION = 1
# The generator's name when the shipped sample was made (it was maillog_sasl/simulate.py then,
# tools/simulate/ now): kept, so that the sample's truth stays byte-identical.
GENERATOR = "maillog_sasl.simulate"


class UserTruth:
    __slots__ = ("sessions", "messages", "sent", "bounced", "expired", "deferred", "rejected",
                 "ips", "methods", "first", "last")

    def __init__(self):
        self.sessions = self.messages = 0
        self.sent = self.bounced = self.expired = self.deferred = self.rejected = 0
        self.ips = set()
        self.methods = set()
        self.first = None
        self.last = None

    def count_session(self, ip, t_connect, t_disconnect, noqueue_rejects):
        """One more session of this user (or of "(unknown user)"), from connect to disconnect."""
        self.sessions += 1
        self.rejected += noqueue_rejects
        self.ips.add(ip)
        if self.first is None or t_connect < self.first:
            self.first = t_connect
        if self.last is None or t_disconnect > self.last:
            self.last = t_disconnect


class FailTruth:
    __slots__ = ("attempts", "usernames", "mechanisms", "first_fail", "strict_success")

    def __init__(self):
        self.attempts = 0
        self.usernames = set()
        self.mechanisms = set()
        self.first_fail = None
        self.strict_success = False

    def failed_at(self, t):
        if self.first_fail is None or t < self.first_fail:
            self.first_fail = t


def ip_key(ip):
    if ":" in ip:
        return (1, ip)
    try:
        return (0, tuple(int(x) for x in ip.split(".")))
    except ValueError:
        return (2, ip)


def _keep_latest(latest, ip, t):
    prev = latest.get(ip)
    if prev is None or t > prev:
        latest[ip] = t


class Truth:
    """The ground truth of a Simulation; see the module docstring."""

    def init_truth(self):
        self.user_truth = {}
        self.unknown = UserTruth()
        self.fail_truth = {}
        self.success_last = {}       # ip -> latest disconnect of a successful session
        self.success_last_connect = {}
        self.compromise_truth = {}

    def ut(self, name):
        t = self.user_truth.get(name)
        if t is None:
            t = self.user_truth[name] = UserTruth()
        return t

    def ft(self, ip):
        f = self.fail_truth.get(ip)
        if f is None:
            f = self.fail_truth[ip] = FailTruth()
        return f

    def note_failure(self, ip, t, mech, uname=None):
        """A failed (or aborted) AUTH's warning line from `ip`, written at t."""
        f = self.ft(ip)
        if uname is not None:
            f.usernames.add(uname)
        f.mechanisms.add(mech.upper())
        f.failed_at(t)

    def session_truth(self, s):
        """Count a session (sessions.SessionState) whose disconnect line, at s.t, was written."""
        a = s.cnt.get("auth")
        if a is None:
            return
        t = s.t
        ok, tot = a
        if tot > ok:
            f = self.ft(s.ip)
            f.attempts += tot - ok
            if not s.warned:
                f.failed_at(t)
            if s.success_after_fail:
                f.strict_success = True
        if ok:
            self.stats["auth_sessions"] += 1
            _keep_latest(self.success_last, s.ip, t)
            _keep_latest(self.success_last_connect, s.ip, s.t_connect)
            if s.queued and s.auth_user is not None:
                u = self.ut(s.auth_user)
                u.methods.add(s.auth_method.upper())
                u.count_session(s.ip, s.t_connect, t, s.noq_rejects)
            elif not s.queued:
                self.unknown.count_session(s.ip, s.t_connect, t, s.noq_rejects)

    # -- the report ---------------------------------------------------------------------------
    def truth(self):
        # recipients still deferred when the log ends
        pending = []
        for m in self.live_auth.values():
            if m.npending > 0:
                self.ut(m.user).deferred += m.npending
                pending.append({"host": m.host.name, "queue_id": m.qid, "user": m.user})
        users = {}
        for name in sorted(self.user_truth):
            ut = self.user_truth[name]
            if ut.messages:
                users[name] = self._user_entry(ut)
        users["(unknown user)"] = self._user_entry(self.unknown)
        pending.sort(key=lambda p: (p["host"], p["queue_id"]))
        failures = self._failures_truth()
        compromised = []
        for name in sorted(self.compromise_truth):
            ct = self.compromise_truth[name]
            if ct["compromised_at"] is None:
                continue
            compromised.append({"user": name, "compromised_at": self.iso(ct["compromised_at"]),
                                "attacker_ips": sorted(ct["attacker_ips"], key=ip_key),
                                "guess_ips": sorted(ct["guess_ips"], key=ip_key)})
        normal = sorted(u.name for u in self.users
                        if self.compromise_truth.get(u.name, {}).get("compromised_at") is None)
        cfg = asdict(self.cfg)
        return {
            "truth_version": TRUTH_VERSION,
            "generator": GENERATOR,
            "config": cfg,
            "timestamps": self.cfg.timestamps,
            "utc_offset": self.offset_text,
            "hosts": [h.name for h in self.hosts],
            "lines": self.nlines,
            "period": {"first": self.iso(self.first_t) if self.first_t is not None else None,
                       "last": self.iso(self.last_t) if self.last_t is not None else None},
            "users": users,
            "failures": failures,
            "compromised": compromised,
            "normal": normal,
            "pending": pending,
            "stats": dict(self.stats),
        }

    def _failures_truth(self):
        """{ip: entry} of the IPs with failed AUTH; counts ambiguous_later_success."""
        failures = {}
        ambiguous = 0
        for ip in sorted(self.fail_truth, key=ip_key):
            f = self.fail_truth[ip]
            if f.attempts == 0:
                continue
            last = self.success_last.get(ip)
            later = last is not None and f.first_fail is not None and last > f.first_fail
            lastc = self.success_last_connect.get(ip)
            strict = f.strict_success or (lastc is not None and lastc > f.first_fail)
            if strict != later:
                ambiguous += 1
            failures[ip] = {"attempts": f.attempts, "usernames": sorted(f.usernames),
                            "mechanisms": sorted(f.mechanisms), "later_success": later}
        self.stats["ambiguous_later_success"] = ambiguous
        return failures

    def _user_entry(self, ut):
        return {
            "sessions": ut.sessions, "messages": ut.messages,
            "recipients": ut.sent + ut.deferred + ut.bounced + ut.expired + ut.rejected,
            "sent": ut.sent, "deferred": ut.deferred, "bounced": ut.bounced,
            "expired": ut.expired, "rejected": ut.rejected,
            "ips": sorted(ut.ips, key=ip_key),
            "methods": sorted(ut.methods),
            "first_seen": self.iso(ut.first) if ut.first is not None else None,
            "last_seen": self.iso(ut.last) if ut.last is not None else None,
        }
