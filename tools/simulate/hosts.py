"""hosts: the simulated Postfix instances: process ids, daemon pools, queue ids.

SUMMARY
    Host(sim, index, name, rng)    one instance: name, address, pools, queue ids, dead domains
      .tag(daemon, now) -> "mail postfix/smtp[1234]: "     (a pooled process's line prefix)
      .pickup_tag(now), .prefix_qmgr                        (pickup and qmgr: one process each)
      .alloc_qid(now) -> qid, .release_qid(qid)             (short ids reused; long ids)
      .new_pid() -> pid
    Pool(host)                     the processes of one daemon (max_idle 100 s, max_use 100)
      .acquire(now) -> [pid, idle_since, uses], .release(proc, now), .use(now) -> pid

INPUT
    The simulation (its config, start, statistics and, with several hosts, the queue ids other
    hosts used lately) and its random generator, shared: the order of calls decides the ids.

OUTPUT
    Process ids and queue ids as Postfix makes them: pids grow and wrap, idle processes are
    reused and exit after max_idle or max_use; short queue ids (10-12 hex digits: microseconds
    and inode) are reused after removal, and collide across hosts of one central log; long
    queue ids (enable_long_queue_ids) are base-52 seconds, microseconds, "z" and inode.
    Counts qid_reuses and cross_host_qid_collisions in sim.stats.

DIAGNOSTICS
    None.
"""

from __future__ import annotations

from tools.simulate.postfix import QUEUE_RUN, SERVICE_TAG

LONG_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"  # 52; inode: first 51


class Pool:
    """Postfix daemon processes of one service on one host (max_idle, max_use)."""

    __slots__ = ("host", "idle", "max_idle", "max_use")

    def __init__(self, host, max_idle=100.0, max_use=100):
        self.host = host
        self.idle = []          # [pid, idle_since, uses], oldest first
        self.max_idle = max_idle
        self.max_use = max_use

    def acquire(self, now):
        idle = self.idle
        limit = now - self.max_idle
        if idle and idle[0][1] < limit:
            idle[:] = [p for p in idle if p[1] >= limit]
        if idle:
            return idle.pop()
        return [self.host.new_pid(), now, 0]

    def release(self, proc, now):
        proc[2] += 1
        if proc[2] < self.max_use:
            proc[1] = now
            self.idle.append(proc)

    def use(self, now):
        proc = self.acquire(now)
        self.release(proc, now)
        return proc[0]


class Host:
    """One Postfix instance: name, pids, pools, queue ids, dead destinations."""

    def __init__(self, sim, index, name, rng):
        self.sim = sim
        self.index = index
        self.name = name
        self.fqdn = f"{name}.corp.example"
        self.ip = f"192.0.2.{25 + index}"
        self.rng = rng
        self.pid = 1200 + rng.randint(0, 400)      # hosts start close: pids collide
        self.smtpd = {svc: Pool(self) for svc in SERVICE_TAG}
        self.pools = {d: Pool(self) for d in ("cleanup", "smtp", "lmtp", "local", "bounce",
                                              "error", "anvil", "scache")}
        self.qmgr_pid = self.new_pid()
        self.opendkim_pid = self.new_pid()
        self.pickup_pid = self.new_pid()
        self.pickup_since = sim.start
        self.in_use = set()
        self.freed = []
        self.dead_until = {}
        self.dead_reason = {}
        self.scan_phase = rng.uniform(0, QUEUE_RUN)
        # inode numbers of the queue file system: 5 to 7 hex digits, so 10-12 character ids
        self.inode_bases = rng.sample((0x10000, 0x5F000, 0x200000, 0xA00000, 0x2040000, 0x3B10000), 3)
        self.smtpd_recent = 0     # connections since the last anvil report
        self.prefix_qmgr = None   # set by refresh_prefixes()
        self.refresh_prefixes()

    def refresh_prefixes(self):
        self.prefix_qmgr = f"{self.name} postfix/qmgr[{self.qmgr_pid}]: "

    def new_pid(self):
        self.pid += self.rng.randint(1, 23)
        if self.pid > 4194000:
            self.pid = 300 + self.rng.randint(0, 50)
        return self.pid

    def tag(self, daemon, now):
        return f"{self.name} postfix/{daemon}[{self.pools[daemon].use(now)}]: "

    def pickup_tag(self, now):
        if now - self.pickup_since > 6000:        # pickup exits after max_use wakeups
            self.pickup_pid = self.new_pid()
            self.pickup_since = now
        return f"{self.name} postfix/pickup[{self.pickup_pid}]: "

    # -- queue ids -------------------------------------------------------
    def alloc_qid(self, now):
        sim = self.sim
        rng = self.rng
        if sim.cfg.long_queue_ids:
            while True:
                sec = int(now)
                usec = int((now - sec) * 1e6)
                inum = rng.choice(self.inode_bases) + rng.randint(0, 0xFFFF)
                qid = (b52(sec, 6) + b52(usec, 4) + "z" + b52(inum, 0, 51))
                if qid not in self.in_use:
                    break
                now += 1e-6
        else:
            qid = None
            r = rng.random()
            if self.freed and r < 0.03:
                cand = self.freed.pop(rng.randrange(len(self.freed)))
                if cand not in self.in_use:
                    qid = cand
                    sim.stats["qid_reuses"] += 1
            elif sim.nhosts > 1 and r < 0.08 and sim.recent_qids:
                # central syslog: the same short id is in use (or was) on another host
                others = [c for c in sim.recent_qids[-16:] if c[0] is not self]
                if others:
                    cand = others[rng.randrange(len(others))][1]
                    if cand not in self.in_use:
                        qid = cand
                        sim.stats["cross_host_qid_collisions"] += 1
            usec = int((now - int(now)) * 1e6)
            while qid is None or qid in self.in_use:
                inum = rng.choice(self.inode_bases) + rng.randint(0, 0xFFFF)
                qid = f"{usec:05X}{inum:X}"
            if sim.nhosts > 1:
                rq = sim.recent_qids
                rq.append((self, qid))
                if len(rq) > 64:
                    del rq[:32]
        self.in_use.add(qid)
        return qid

    def release_qid(self, qid):
        self.in_use.discard(qid)
        if not self.sim.cfg.long_queue_ids:
            self.freed.append(qid)
            if len(self.freed) > 400:
                del self.freed[:200]


def b52(n, width, base=52):
    digits = []
    while n:
        n, r = divmod(n, base)
        digits.append(LONG_ALPHABET[r])
    s = "".join(reversed(digits)) or "0"
    return s.rjust(width, "0") if width else s
