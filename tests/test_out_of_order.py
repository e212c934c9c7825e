"""A log out of time order (shuffled; a central syslog's late UDP lines; two logs pasted line by
line) enters another ten-minute slot at most of its lines, and each time the sessions left idle
are closed (Correlator._close_idle()): what that costs must grow as the lines do, not as lines
times the connects and sessions open. Counted, not timed: how many stamps are read aside
(time_aside()), and how many times a session's last time is read."""

import datetime as dt
import random

import pytest
from dateutil import tz as dateutil_tz

from maillog_sasl import correlate
from maillog_sasl.correlate import Correlator
from maillog_sasl.model import STATS_FIELDS, Session
from maillog_sasl.syslog import Clock

from support import COMPILED

START = dt.datetime(2026, 3, 2, 8, 0, 0)


def connects(count: int, spacing: dt.timedelta) -> list:
    """`count` connects of as many smtpd processes, `spacing` apart, none disconnecting."""
    return [f"{(START + n * spacing):%b %e %H:%M:%S} mx1 postfix/smtpd[{1000 + n}]: connect from "
            f"client{n}.example[198.51.100.{n % 250 + 1}]"
            for n in range(count)]


def logins(count: int, spacing: dt.timedelta) -> list:
    """`count` sessions that send a login's message, `spacing` apart, none disconnecting."""
    return [line for connect, n in zip(connects(count, spacing), range(count))
            for line in (connect, connect.replace("connect from", f"{0x10000 + n:X}: client=")
                         + f", sasl_method=PLAIN, sasl_username=u{n % 50}@example.org")]


def out_of_order(lines: list, order: str) -> list:
    if order == "shuffled":
        return random.Random(60).sample(lines, len(lines))
    # Its two halves, line by line: each line in another slot than the one before.
    half = len(lines) // 2
    return [line for pair in zip(lines[:half], lines[half:]) for line in pair]


def read_through(lines: list, kind: type = Correlator, zone=dateutil_tz.UTC) -> Correlator:
    correlator = kind()
    correlator._copies = 1
    correlator.feed(lines, Clock(year=2026, tz=zone))
    correlator.end_source()
    correlator.finish()
    return correlator


NOT_COMPILED = pytest.mark.skipif(
    COMPILED, reason="counts calls of a module's function, and reads of a slot, which compiled "
    "code (setup.py) makes by neither; the pure-Python suite runs it")


@NOT_COMPILED
@pytest.mark.parametrize("order", ["shuffled", "pasted"])
def test_a_log_out_of_order_reads_each_noted_connect_s_stamp_once(monkeypatch, order):
    lines = out_of_order(connects(3000, dt.timedelta(seconds=7)), order)  # nearly six hours
    read = []
    original = correlate.time_aside
    monkeypatch.setattr(correlate, "time_aside",
                        lambda clock, stamp: read.append(stamp) or original(clock, stamp))
    correlator = read_through(lines)
    # Each line's stamp when it enters a slot, each connect's when first looked at, and the
    # first and last line's (the input's edges).
    assert len(read) <= 2 * len(lines) + 2
    assert correlator.stats.sessions_idle + correlator.stats.sessions_incomplete > 0


@NOT_COMPILED
@pytest.mark.parametrize("order", ["shuffled", "pasted"])
def test_a_log_out_of_order_looks_at_each_open_session_as_its_lines_come(monkeypatch, order):
    lines = out_of_order(logins(1500, dt.timedelta(seconds=14)), order)
    slot = Session.__dict__["last_time"]
    reads = []

    def last_time(session):
        reads.append(session)
        return slot.__get__(session, Session)

    monkeypatch.setattr(Session, "last_time", property(last_time, slot.__set__))
    correlator = read_through(lines)
    # A few reads a line: not one a line for every session open.
    assert len(reads) <= 5 * len(lines)
    assert correlator.stats.sessions_idle > 0


class Scanning(Correlator):
    """The Correlator before the heaps: at each slot, every open session and noted connect
    looked at (its stamp read again), in the order of the maps."""

    def _close_idle(self, clocks):
        for key in [key for key, session in self.sessions.items()
                    if session.last_time is not None and key[0] in clocks
                    and session.last_time < clocks[key[0]] - correlate.SESSION_IDLE]:
            self.stats.sessions_idle += 1
            self._finish_session(self.sessions.pop(key))
        for key in [key for key, noted in self.pending.items() if key[0] in clocks
                    and (correlate.time_aside(noted.clock, noted.stamp) or clocks[key[0]])
                    < clocks[key[0]] - correlate.SESSION_IDLE]:
            del self.pending[key]
            self.stats.sessions_idle += 1
            self.stats.sessions_incomplete += 1


def mixed(seed: int, start_at: dt.datetime = START, zone=None) -> list:
    """Sessions of two hosts over five hours from `start_at`, some with a login, lines minutes
    apart, some disconnecting, in time order (stamped as `zone`'s clock shows them, if any)."""
    rnd = random.Random(seed)
    lines = []
    for n in range(300):
        host, pid = rnd.choice(("mx1", "mx2")), 1000 + rnd.randrange(120)  # pids reused
        start = start_at + dt.timedelta(seconds=rnd.randrange(5 * 3600))
        client = f"c{n}.example[198.51.100.{n % 250 + 1}]"
        said = [(start, f"connect from {client}")]
        if rnd.random() < 0.7:
            said.append((start + dt.timedelta(seconds=rnd.randrange(2400)),
                         f"{0x10000 + n:X}: client={client}, sasl_method=PLAIN, "
                         f"sasl_username=u{n % 7}@example.org"))
            said.append((said[-1][0] + dt.timedelta(seconds=rnd.randrange(2400)),
                         f"NOQUEUE: reject: RCPT from {client}: 554 5.7.1 <x@example.net>: "
                         "Relay access denied; from=<a@example.org> to=<x@example.net> "
                         "proto=ESMTP helo=<h>"))
        if rnd.random() < 0.6:
            said.append((said[-1][0] + dt.timedelta(seconds=rnd.randrange(600)),
                         f"disconnect from {client} ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 "
                         "commands=4/5"))
        lines += [(when, f"{when if zone is None else when.astimezone(zone):%b %e %H:%M:%S} "
                         f"{host} postfix/smtpd[{pid}]: {text}")
                  for when, text in said]
    return [line for _, line in sorted(lines, key=lambda said: said[0])]


def jittered(lines: list, seed: int) -> list:
    rnd = random.Random(seed)
    return [line for _, line in sorted((number + rnd.uniform(0, 40), line)
                                       for number, line in enumerate(lines))]


@NOT_COMPILED
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("order", ["in order", "jittered", "pasted", "shuffled"])
def test_the_sessions_closed_idle_are_those_every_one_looked_at_closed(seed, order):
    lines = mixed(seed)
    if order == "jittered":
        lines = jittered(lines, seed)
    elif order != "in order":
        lines = out_of_order(lines, order)
    ours, theirs = read_through(lines), read_through(lines, Scanning)
    assert [(type(done).__name__, done.serial) for done in ours.finished] == [
        (type(done).__name__, done.serial) for done in theirs.finished]
    assert [getattr(ours.stats, name) for name in STATS_FIELDS] == [
        getattr(theirs.stats, name) for name in STATS_FIELDS]
    assert ours.stats.sessions_idle > 0


@NOT_COMPILED
@pytest.mark.parametrize("seed", range(4))
def test_a_connect_in_the_hour_shown_twice_is_read_in_the_pass_of_each_look(seed):
    # Its stamp read as the first pass or the second by where the clock was: the scan read it
    # again at each look, and the index kept what the first look read. Now the stamp is kept
    # as the time its line read (correlate.kept_stamp()), the same at every look.
    berlin = dateutil_tz.gettz("Europe/Berlin")
    lines = mixed(seed, dt.datetime(2026, 10, 24, 22, 0, tzinfo=dateutil_tz.UTC), berlin)
    ours, theirs = read_through(lines, zone=berlin), read_through(lines, Scanning, berlin)
    assert [(type(done).__name__, done.serial) for done in ours.finished] == [
        (type(done).__name__, done.serial) for done in theirs.finished]
    assert [getattr(ours.stats, name) for name in STATS_FIELDS] == [
        getattr(theirs.stats, name) for name in STATS_FIELDS]
