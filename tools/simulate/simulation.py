"""simulation: one simulation put together from its parts and run; the library's functions.

SUMMARY
    simulate(config=None, out_stream=None) -> truth
    simulate_to_files(config, path, rotate=0) -> truth (with "files")
    volume_for_lines(config, target_lines) -> volume
    Simulation(cfg, sink, boundaries)   the parts in one object: Engine (engine.py),
        Population, Sessions, Delivery, UserTraffic, Attacks, Inbound, Noise, Truth
    run_simulation(cfg, sink, boundaries) -> Simulation (run, its sink closed)

INPUT
    A SimConfig, a dict of its fields, or None (config.py); where the log goes: a stream, a
    path (gzip when it ends in .gz; "-" is standard output), rotated files, or nowhere.

OUTPUT
    The log, and the ground truth dict (truth.py; the keys are in the package docstring).
    A Simulation keeps one random generator, seeded by cfg.seed, for the whole run: the order
    in which the parts draw from it is the output, so the same config gives the same bytes.

DIAGNOSTICS
    ValueError for an invalid config or rotate; OSError from writing a file; RuntimeError
    from the engine if time order would break (a bug). The sink is closed in every case.
"""

from __future__ import annotations

import random
import sys
from dataclasses import asdict

from tools.simulate.attacks import Attacks
from tools.simulate.config import SimConfig, coerce, parse_offset, start_epoch
from tools.simulate.delivery import Delivery
from tools.simulate.engine import Engine
from tools.simulate.hosts import Host
from tools.simulate.inbound import Inbound
from tools.simulate.noise import Noise
from tools.simulate.population import Population
from tools.simulate.sessions import Sessions
from tools.simulate.sinks import CountingSink, RotatingSink, StreamSink, open_out
from tools.simulate.truth import Truth
from tools.simulate.users import UserTraffic


class Simulation(Engine, Population, Sessions, Delivery, UserTraffic, Attacks, Inbound, Noise,
                 Truth):
    """One run of the generator: its config, clock, hosts, world, queue and truth."""

    def __init__(self, cfg: SimConfig, sink, boundaries=()):
        cfg.validate()
        self.cfg = cfg
        self.sink = sink
        self.rng = rng = random.Random(cfg.seed)
        self.volume = float(cfg.volume)
        self.inbound_per_user = float(cfg.inbound_per_user)
        self.offset = parse_offset(cfg.utc_offset)
        self.start = start_epoch(cfg)
        self.end = self.start + float(cfg.days) * 86400.0
        self.rfc = cfg.timestamps == "rfc3339"
        self.write_offset = self.offset if self.rfc else 0
        off = self.write_offset
        self.offset_text = "%s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 3600,
                                            abs(off) % 3600 // 60)
        self.boundaries = list(boundaries)
        self.heap = []
        self.seq = 0
        self.now = self.start
        self.nhosts = cfg.hosts
        self.recent_qids = []
        self.stats = {k: 0 for k in (
            "sessions", "auth_sessions", "messages", "auth_messages", "inbound_messages",
            "local_messages", "bounce_notices", "postmaster_notices", "expired_messages",
            "carryover_messages", "qid_reuses", "cross_host_qid_collisions",
            "delivery_attempts", "ambiguous_later_success")}
        names = ["mail"] if cfg.hosts == 1 else [f"mail{i + 1}" for i in range(cfg.hosts)]
        self.hosts = [Host(self, i, n, rng) for i, n in enumerate(names)]
        self.live_auth = {}          # id(message) -> authenticated message still in the queue
        self.init_truth()
        self.build_world()

    def populate(self):
        """Spawn every actor: the queue's carry-over, users, attacks, inbound mail, noise."""
        ncomp = self.cfg.compromised
        self.carryover()
        for u in self.users:
            self.spawn(self.user_planner(u))
        k = 0
        for u in self.users:
            if u.compromised:
                self.spawn(self.attack_planner(u, k, ncomp))
                k += 1
        self.spawn(self.bruteforce_planner())
        self.spawn(self.inbound_planner())
        self.spawn(self.dovecot_planner())
        self.spawn(self.kernel_planner())
        for hs in self.hosts:
            self.spawn(self.cron_planner(hs))
            self.spawn(self.stats_planner(hs))


def run_simulation(cfg: SimConfig, sink, boundaries=()):
    sim = Simulation(cfg, sink, boundaries)
    sim.populate()
    try:
        sim.run()
    finally:
        sink.close()
    return sim


def simulate(config=None, out_stream=None) -> dict:
    """Write the log of `config` (SimConfig, dict of its fields, or None) to
    `out_stream` (a text stream, or a binary one: UTF-8; None: only compute) and
    return the ground truth dict."""
    cfg = coerce(config)
    sink = StreamSink(out_stream) if out_stream is not None else CountingSink()
    sim = run_simulation(cfg, sink)
    return sim.truth()


def simulate_to_files(config, path: str, rotate: int = 0) -> dict:
    """Write the log to `path` (gzip if it ends in .gz), or with rotate=N to
    path.N.gz ... path.1.gz, path (oldest first, equal time slices); return the
    truth with a "files" list."""
    cfg = coerce(config)
    cfg.validate()
    if not isinstance(rotate, int) or rotate < 0 or rotate > 1000:
        raise ValueError("rotate must be an integer from 0 to 1000")
    if rotate:
        sink = RotatingSink(path, rotate)
        start = start_epoch(cfg)
        span = float(cfg.days) * 86400.0
        boundaries = [start + span * k / (rotate + 1) for k in range(1, rotate + 1)]
    else:
        stream = sys.stdout if path == "-" else open_out(path)
        sink = StreamSink(stream)
        sink.files = [{"path": path, "lines": 0, "first": None, "last": None}]
        boundaries = ()
        if path != "-":
            orig_close = sink.close

            def close():
                orig_close()
                stream.close()
            sink.close = close
    sim = run_simulation(cfg, sink, boundaries)
    truth = sim.truth()
    truth["files"] = list(sink.files)
    return truth


def volume_for_lines(config, target_lines: int) -> float:
    """The --volume that makes `config` produce about `target_lines` lines.

    Every kind of traffic scales about linearly with the volume (the fixed part,
    cron, is a few hundred lines a week).  Calibration runs without output: a
    rough one at volume 0.05, two probes (volumes 2 and 4 for a small
    population, of some 200,000 lines for a big one), then one of about
    400,000 lines (about 5 s) whose lines per
    unit of volume decide (they level off above ~40); expect the result within
    about 5% (the seed's own randomness)."""
    cfg = coerce(config)
    if target_lines < 1:
        raise ValueError("target lines must be positive")

    def lines_at(v):
        return run_simulation(SimConfig(**{**asdict(cfg), "volume": v}), CountingSink()).nlines

    # A first look at a twentieth of the traffic sizes the two probes: volumes 2 and 4 for a
    # small population, less for a big one (3000 accounts at volume 2 would be ten million lines).
    rough = max(1.0, lines_at(0.05) / 0.05)
    low = min(2.0, 200000.0 / rough)
    per_volume = max(1.0, (lines_at(low) + lines_at(2 * low)) / (3 * low))
    estimate = target_lines / per_volume
    pilot = min(estimate, 400000.0 / per_volume)
    if pilot > 2 * low:
        per_volume = max(1.0, lines_at(pilot) / pilot)
    return max(0.001, round(target_lines / per_volume, 4))
