"""watch's state pickles the incident rules' records (activity.py) and the counters (model.Stats),
which the compiled build (setup.py) makes native classes: each pickles in the form a plain class
with __slots__ gives (what older versions wrote), and a state written by one build reads in the
other. The other build is the package's .py files alone, run in a subprocess beside the build
under test (in the pure suite both sides are pure)."""

import copyreg
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_sasl import activity as activity_module
from maillog_sasl import analyze
from maillog_sasl.activity import ACTIVITY_FIELDS, Activity
from maillog_sasl.model import STATS_FIELDS, Stats
from maillog_sasl.pairs import PairStore
from maillog_sasl.state import freeze, thaw

from support import COMPILED

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "maillog-sample.log"
SLOTTED = {"Interner": "INTERNER_FIELDS", "Hour": "HOUR_FIELDS",
           "BusyHours": "BUSY_HOURS_FIELDS", "HopWindow": "HOP_WINDOW_FIELDS",
           "UserActivity": "USER_FIELDS", "IpActivity": "IP_FIELDS"}


def half_fed() -> Activity:
    """An Activity fed the first half of the sample log: open hours, settled ones, guesses."""
    items = analyze([str(SAMPLE)], year=2026).items
    activity = Activity(pairs=PairStore())
    for item in items[:len(items) // 2]:
        activity.observe(item)
    return activity


def facts(activity: Activity) -> str:
    """What an Activity and its Stats hold, but the pairs (a database of their own), as text."""
    def when(value):
        return value.isoformat() if value is not None else None
    users = {name: [user.logins, user.messages, user.totals(), user.selected,
                    sorted(user.busy.hours_by_count.items()), when(user.failing_since),
                    user.hops and [user.hops.most, user.hops.fired is not None, len(user.hops.events)],
                    sorted((ip, when(guess.time), guess.failures) for ip, guess in user.guesses.items()),
                    sorted((when(key), hour.logins, list(hour.outcomes), list(hour.ips),
                            hour.auth_failures, when(hour.first_recipient),
                            sorted((network, when(first), when(last), ip)
                                   for network, (first, last, ip) in hour.networks.items()))
                           for key, hour in user.open_hours.items()),
                    sorted(when(key) for key in user.history)]
             for name, user in sorted(activity.users.items())}
    ips = {ip: [state.pending_failures, list(state.pending_usernames), when(state.last_failure),
                state.host]
           for ip, state in sorted(activity.ips.items())}
    clocks = [sorted((host, when(time)) for host, time in activity._host_clock.items()),
              sorted(when(key) for key in activity._unsettled), when(activity._last_hour),
              when(activity._last_hour_end), sorted(activity._jumps), repr(activity.limits)]
    stats = activity.stats
    counted = {name: getattr(stats, name) for name in STATS_FIELDS
               if isinstance(getattr(stats, name), int)} if stats is not None else None
    return json.dumps([users, ips, clocks, when(activity.first_time), when(activity.last_time),
                       when(activity._next_due), activity.clock_anomalies, counted])


def main(mode: str, path: str) -> None:
    """The subprocess's side: write a state and print its facts, or read one and print them."""
    if mode == "write":
        activity = half_fed()
        activity.stats = Stats()
        activity.stats.lines_read = 7
        Path(path).write_bytes(freeze(activity, activity.pairs))
    else:
        activity = thaw(Path(path).read_bytes(), PairStore())
    print(facts(activity))


def other_build(tmp_path, mode: str, path: Path) -> str:
    package = Path(activity_module.__file__).resolve().parent
    shutil.copytree(package, tmp_path / "pure" / "maillog_sasl",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    tests = Path(__file__).resolve().parent
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import test_kept_records; "
            "test_kept_records.main(sys.argv[3], sys.argv[4])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pure"), str(tests), mode,
                           str(path)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_state_written_by_the_other_build_reads_here_with_the_same_facts(tmp_path):
    path = tmp_path / "activity.pickle"
    written = other_build(tmp_path, "write", path)
    assert json.loads(written)[0], "the sample's first half has accounts"
    assert facts(thaw(path.read_bytes(), PairStore())) == written


def test_a_state_written_here_reads_in_the_other_build_with_the_same_facts(tmp_path):
    activity = half_fed()
    activity.stats = Stats()
    activity.stats.lines_read = 7
    path = tmp_path / "activity.pickle"
    path.write_bytes(freeze(activity, activity.pairs))
    assert other_build(tmp_path, "read", path) == facts(activity)


def plain_twin(record, fields):
    """A plain class with `fields` as its __slots__, holding what `record` holds."""
    twin = type("Plain", (), {"__slots__": fields})()
    for field in fields:
        setattr(twin, field, getattr(record, field))
    return twin


@pytest.mark.parametrize("name", sorted(SLOTTED))
def test_a_record_pickles_as_python_pickles_a_plain_class_with_its_slots(name):
    cls = getattr(activity_module, name)
    fields = getattr(activity_module, SLOTTED[name])
    record = cls("ann") if name == "UserActivity" else cls()
    function, arguments, state = record.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[:3]
    plain = plain_twin(record, fields).__reduce_ex__(pickle.HIGHEST_PROTOCOL)[:3]
    assert function is plain[0] is copyreg.__newobj__ and arguments == (cls,)
    assert state == plain[2] and list(state[1]) == list(plain[2][1])


def test_stats_and_an_activity_pickle_as_plain_classes_do():
    stats = Stats()
    stats.sessions = 3
    function, arguments, state = stats.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[:3]
    assert (function, arguments) == (copyreg.__newobj__, (Stats,))
    assert state == plain_twin(stats, STATS_FIELDS).__reduce_ex__(pickle.HIGHEST_PROTOCOL)[2]
    assert state[1]["sessions"] == 3
    activity = Activity(pairs=PairStore())
    function, arguments, state = activity.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[:3]
    assert (function, arguments) == (copyreg.__newobj__, (Activity,))
    assert tuple(state) == ACTIVITY_FIELDS and state["pairs"] is activity.pairs
    if not COMPILED:
        # Every attribute __init__ sets is kept (a plain Activity's dict).
        assert set(vars(activity)) <= set(ACTIVITY_FIELDS)
