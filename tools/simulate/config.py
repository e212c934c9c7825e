"""config: what a simulation depends on (SimConfig), checked, and the instant it starts.

SUMMARY
    SimConfig(seed=1, days=7.0, users=60, ...).validate()
    coerce(config) -> SimConfig          (a SimConfig, a dict of its fields, or None)
    parse_offset("+09:00") -> 32400      parse_start("03-02T08:00", 2026) -> (2026, 3, 2, 8, 0, 0)
    start_epoch(cfg) -> float            (UTC epoch of the configured local start)

INPUT
    The fields of SimConfig, from the command line (cli.py) or a library caller. Same config,
    same output: nothing else (no clock, no environment) goes into a simulation.

OUTPUT
    Checked values; the start as a UTC epoch (--start is a local time at --utc-offset).

DIAGNOSTICS
    ValueError with one readable sentence for a value out of range, an offset or a start that
    does not parse, a start date that does not exist or contradicts the year, unknown dict keys;
    TypeError for a config of another type.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, fields


@dataclass
class SimConfig:
    """Everything the simulation depends on.  Same config, same output."""

    seed: int = 1
    days: float = 7.0
    users: int = 60                 # normal (never compromised) accounts
    compromised: int = 3            # accounts broken into, in addition to users
    timestamps: str = "rfc3339"     # or "traditional"
    year: int = 2026
    start: str = "03-02T00:00:00"   # MM-DD[THH:MM[:SS]], local time at utc_offset
    utc_offset: str = "+09:00"      # the server's zone (rfc3339 lines carry it)
    hosts: int = 1
    long_queue_ids: bool = False
    volume: float = 1.0             # traffic multiplier (users' mail, inbound, attacks, noise)
    # Inbound SMTP sessions per account per day on top of the base trickle: a busy MX receives
    # far more mail (and spam) than its users send; 0 keeps the small base alone.
    inbound_per_user: float = 0.0

    def validate(self) -> None:
        if not isinstance(self.seed, int):
            raise ValueError("seed must be an integer")
        if not (0 < float(self.days) <= 400):
            raise ValueError("days must be > 0 and <= 400")
        if not (isinstance(self.users, int) and 1 <= self.users <= 100000):
            raise ValueError("users must be an integer from 1 to 100000")
        if not (isinstance(self.compromised, int) and 0 <= self.compromised <= 1000):
            raise ValueError("compromised must be an integer from 0 to 1000")
        if self.timestamps not in ("rfc3339", "traditional"):
            raise ValueError("timestamps must be 'rfc3339' or 'traditional'")
        if not (isinstance(self.year, int) and 1971 <= self.year <= 9998):
            raise ValueError("year must be from 1971 to 9998")
        if not (isinstance(self.hosts, int) and 1 <= self.hosts <= 50):
            raise ValueError("hosts must be an integer from 1 to 50")
        if not (0 < float(self.volume) <= 100000):
            raise ValueError("volume must be > 0")
        if not (0 <= float(self.inbound_per_user) <= 100000):
            raise ValueError("inbound_per_user must be >= 0")
        parse_offset(self.utc_offset)
        parse_start(self.start, self.year)


_OFFSET_RE = re.compile(r"^([+-])(\d\d):?(\d\d)$")
_START_RE = re.compile(r"^(?:(\d{4})-)?(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?$")


def parse_offset(text: str) -> int:
    """'+09:00' -> 32400 seconds east of UTC."""
    m = _OFFSET_RE.match(text or "")
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ValueError(f"utc_offset must look like +09:00 or -0500, not {text!r}")
    sec = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return -sec if m.group(1) == "-" else sec


def parse_start(text: str, year: int):
    """'03-02T08:00' -> (year, 3, 2, 8, 0, 0); an explicit YYYY- prefix must equal year."""
    m = _START_RE.match(text or "")
    if not m:
        raise ValueError(f"start must look like MM-DD or MM-DDTHH:MM[:SS], not {text!r}")
    if m.group(1) and int(m.group(1)) != year:
        raise ValueError(f"start {text!r} contradicts year {year}")
    mon, day = int(m.group(2)), int(m.group(3))
    hh, mm, ss = (int(m.group(i)) if m.group(i) else 0 for i in (4, 5, 6))
    if not (1 <= mon <= 12) or not (1 <= day <= calendar.monthrange(year, mon)[1]):
        raise ValueError(f"start {text!r}: no such date in {year}")
    if hh > 23 or mm > 59 or ss > 59:
        raise ValueError(f"start {text!r}: bad time of day")
    return (year, mon, day, hh, mm, ss)


def start_epoch(cfg: SimConfig) -> float:
    """UTC epoch of cfg.start, a local time at cfg.utc_offset."""
    y, mo, d, hh, mi, ss = parse_start(cfg.start, cfg.year)
    return float(calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0)) - parse_offset(cfg.utc_offset))


def coerce(config) -> SimConfig:
    """A SimConfig from a SimConfig, a dict of its fields, or None (the defaults)."""
    if config is None:
        return SimConfig()
    if isinstance(config, SimConfig):
        return config
    if isinstance(config, dict):
        known = {f.name for f in fields(SimConfig)}
        bad = sorted(set(config) - known)
        if bad:
            raise ValueError(f"unknown config keys: {', '.join(bad)}")
        return SimConfig(**config)
    raise TypeError("config must be a SimConfig, a dict or None")
