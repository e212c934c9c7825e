"""engine: the event heap that turns the simulation's generators into time-ordered lines.

SUMMARY
    class Engine (a part of simulation.Simulation)
      spawn(generator)       start an actor: each `yield t, text` is a line at time t (text
                             None: just wake up at t); the actor resumes once the line is written
      run()                  write every line before the end of the period, in time order
      iso(t) -> text         a time as the truth gives it (ISO 8601 with the log's offset)
      local_hour(t), local_weekday(t), day_start(k)    the server's calendar
      poisson(lam), hexid(n), word(k), dovecot_id(n), pick_host()    random helpers
    by_time                  sort key of (time, ...) tuples
    SESSION_MARGIN           no session starts in the last 15 minutes of the period

INPUT
    The actors spawned by the other parts (users.py, attacks.py, inbound.py, noise.py,
    delivery.py, sessions.py) and the Simulation's fields: rng, start, end, offset,
    write_offset, offset_text, rfc, sink, boundaries (rotation times), heap, seq, now, hosts.

OUTPUT
    The lines, "STAMP HOST PROGRAM[PID]: TEXT", written to the sink in chunks of 2,048: RFC 3339
    stamps with microseconds and the configured offset, or traditional stamps in UTC. At each
    rotation boundary the sink switches files; each file's entry in sink.files gets its line
    count and first and last times. After run(): nlines, first_t, last_t.

DIAGNOSTICS
    RuntimeError when an actor yields a time before the current one: a program bug that would
    break time order, raised rather than write a disordered log.
"""

from __future__ import annotations

import heapq
import math
import time
from operator import itemgetter

from tools.simulate.names import SYLLABLES
from tools.simulate.postfix import traditional_stamp

SESSION_MARGIN = 900.0        # no session starts in the last 15 minutes
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
by_time = itemgetter(0)


class Engine:
    """The event loop and the clock of a Simulation; see the module docstring."""

    def spawn(self, gen):
        try:
            t, text = next(gen)
        except StopIteration:
            return
        if t < self.now:
            raise RuntimeError(f"event in the past: {t} < {self.now}: {text}")
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, gen, text))

    def run(self):
        heap = self.heap
        end = self.end
        sink = self.sink
        rfc = self.rfc
        off = self.write_offset
        offtxt = self.offset_text
        heapreplace = heapq.heapreplace
        heappop = heapq.heappop
        gmtime = time.gmtime
        boundaries = self.boundaries
        next_boundary = boundaries[0] if boundaries else float("inf")
        bidx = 0
        buf = []
        append = buf.append
        nlines = 0
        file_lines = 0
        first_t = None
        file_first = None
        last_t = None
        last_sec = None
        base = ""
        seq = self.seq
        while heap:
            item = heap[0]
            t = item[0]
            if t >= end:
                break
            text = item[3]
            if text is not None:
                while t >= next_boundary:
                    if buf:
                        sink.write("".join(buf))
                        buf.clear()
                    self._close_file_entry(file_lines, file_first, last_t)
                    sink.switch()
                    file_lines = 0
                    file_first = None
                    bidx += 1
                    next_boundary = boundaries[bidx] if bidx < len(boundaries) else float("inf")
                sec = int(t)
                if sec != last_sec:
                    last_sec = sec
                    tm = gmtime(sec + off)
                    if rfc:
                        base = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
                    else:
                        base = traditional_stamp(tm)
                if rfc:
                    append(f"{base}.{int((t - sec) * 1000000.0):06d}{offtxt} {text}\n")
                else:
                    append(f"{base} {text}\n")
                nlines += 1
                file_lines += 1
                if first_t is None:
                    first_t = t
                if file_first is None:
                    file_first = t
                last_t = t
                if len(buf) >= 2048:
                    sink.write("".join(buf))
                    buf.clear()
            self.now = t
            gen = item[2]
            try:
                nt, ntext = next(gen)
            except StopIteration:
                heappop(heap)
                continue
            if nt < t:
                raise RuntimeError(f"event in the past: {nt} < {t}: {ntext}")
            seq = self.seq = self.seq + 1
            heapreplace(heap, (nt, seq, gen, ntext))
        if buf:
            sink.write("".join(buf))
        self._close_file_entry(file_lines, file_first, last_t)
        self.nlines = nlines
        self.first_t = first_t
        self.last_t = last_t

    def _close_file_entry(self, nlines, first, last):
        files = getattr(self.sink, "files", None)
        if files:
            entry = files[-1]
            entry["lines"] = nlines
            entry["first"] = self.iso(first) if first is not None else None
            entry["last"] = self.iso(last) if (last is not None and nlines) else None

    def iso(self, t):
        sec = int(t)
        tm = time.gmtime(sec + self.write_offset)
        base = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
        if self.rfc:
            return f"{base}.{int((t - sec) * 1000000.0):06d}{self.offset_text}"
        return f"{base}{self.offset_text}"

    def local_hour(self, t):
        """Hour of day (float) in the server's zone (user habits live there)."""
        return ((t + self.offset) % 86400.0) / 3600.0

    def local_weekday(self, t):
        return time.gmtime(int(t + self.offset)).tm_wday

    def day_start(self, k):
        """Start (UTC epoch) of local calendar day k counted from the day containing start."""
        local0 = self.start + self.offset
        midnight = local0 - (local0 % 86400.0)
        return midnight - self.offset + k * 86400.0

    # ------------------------------------------------------------------
    # random helpers
    # ------------------------------------------------------------------
    def poisson(self, lam):
        rng = self.rng
        if lam <= 0:
            return 0
        if lam > 40:
            return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def hexid(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def word(self, k=2):
        rng = self.rng
        return "".join(rng.choice(SYLLABLES) for _ in range(k))

    def dovecot_id(self, n=22):
        """A dovecot session / LMTP id: n base64 characters."""
        x = self.rng.getrandbits(6 * n)
        return "".join([B64[(x >> (6 * i)) & 63] for i in range(n)])

    def pick_host(self):
        return self.hosts[self.rng.randrange(len(self.hosts))]
