"""watch reads a state that an older version wrote (its engine in an older format) as it is, and
continues it as it continues a state of its own: tests/fixtures/watch-state-0.1,
watch-state-8ec86ef, watch-state-3863bce, watch-state-f2fade6 and watch-state-7478258 (their
READMEs say how each was written)."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_sasl import watch
from maillog_sasl.activity import COUNTS, WAITING_INDEX
from maillog_sasl.correlate import KEPT, Correlator
from maillog_sasl.state import State

from support import COMPILED

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "watch-state-0.1"
# The states of older versions: of 0.1.0, before the fields model.SESSION_ADDED names; of the
# versions before the last attributes came (watch._ADDED_RECENTLY). Each holds the session of
# part1.log.
STATES = [FIXTURE / "state.sqlite", FIXTURES / "watch-state-8ec86ef" / "state.sqlite",
          FIXTURES / "watch-state-3863bce" / "state.sqlite",
          FIXTURES / "watch-state-f2fade6" / "state.sqlite",
          FIXTURES / "watch-state-7478258" / "state.sqlite"]
TIMES = ("--year", "2020", "--tz", "UTC")


def fixture_copy(tmp_path, state=STATES[0]):
    shutil.copyfile(state, tmp_path / "state.sqlite")
    for name in ("part1.log", "part2.log"):
        shutil.copyfile(FIXTURE / name, tmp_path / name)
    return tmp_path / "state.sqlite"


def shown(cli, state):
    """What `state` shows of the engine and the history (not paths, nor when it was written)."""
    result = cli("state", "--state", state, "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    return {key: data[key] for key in ("open_sessions", "open_messages", "accounts", "raised",
                                       "alerts")}


def test_the_fixtures_are_of_older_formats():
    written = []
    for state in STATES:
        db = sqlite3.connect(state)
        try:
            written += [fmt for (fmt,) in db.execute("SELECT format FROM engine")]
        finally:
            db.close()
    assert len(set(written)) == len(STATES)
    assert set(written) <= set(watch.older_formats())
    assert watch.engine_format() not in written


@pytest.mark.parametrize("state", STATES, ids=lambda state: state.parent.name)
def test_an_older_session_is_read_with_the_values_of_the_fields_it_lacks(tmp_path, state):
    opened = State.open(str(fixture_copy(tmp_path, state)), watch.engine_format(), lock=False,
                        older_formats=watch.older_formats())
    try:
        [session] = opened.engine.correlator.sessions.values()
    finally:
        opened.close()
    assert (session.service, session.sasl_username) == ("postfix/smtps", "alice@example.org")
    assert session.queued_rejects == 0
    assert session.pending_action is None
    assert session.proxied_since is None
    assert [user.busy.rising for user in opened.engine.activity.users.values()] == [None]
    # Counts of one an outcome, then none waiting (activity.WAITING_INDEX).
    for user in opened.engine.activity.users.values():
        assert len(user.outcomes) == COUNTS and user.outcomes[WAITING_INDEX] == 0
        assert all(len(hour.outcomes) == COUNTS for hour in user.open_hours.values())
    stats = opened.engine.correlator.stats
    assert (stats.unread_stamps, stats.unread_stamp) == (0, None)
    # Kept before a message had an instance: none known (model.MESSAGE_ADDED).
    assert {message.instance for message in opened.engine.correlator.messages.values()} == {""}


@pytest.mark.parametrize("state", STATES, ids=lambda state: state.parent.name)
def test_an_older_state_is_continued_as_one_of_this_version(tmp_path, cli, state):
    older = fixture_copy(tmp_path, state)
    result = cli("watch", "--once", "--state", older, *TIMES, tmp_path / "part2.log")
    assert result.code == 0, result.err
    ours = tmp_path / "ours.sqlite"
    for part in ("part1.log", "part2.log"):
        result = cli("watch", "--once", "--state", ours, *TIMES, tmp_path / part)
        assert result.code == 0, result.err
    continued = shown(cli, older)
    assert continued == shown(cli, ours)
    assert continued["open_messages"][0]["queue_id"] == "DE81A2E2DAA"
    assert continued["accounts"][0]["logins"] == 2


def test_the_written_out_layouts_are_those_of_the_source(tmp_path):
    # The package's .py files alone, in a directory of their own: the compiled build's
    # extensions (setup.py) would be imported before them, and have no layout to hash.
    package = Path(watch.__file__).resolve().parent
    shutil.copytree(package, tmp_path / "maillog_sasl",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    computed = subprocess.run(
        [sys.executable, "-c", "from maillog_sasl import watch; print(*watch.layouts())"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True, text=True, check=True).stdout.split()
    assert [int(value) for value in computed] == [
        watch.CORE_LAYOUT, watch.BEFORE_LAYOUT, *watch.PREVIOUS_LAYOUTS, watch.ENRICHED_LAYOUT], (
        "an engine class changed: a new format, and the old one in older_formats() if read")


@pytest.mark.skipif(COMPILED, reason="a compiled Correlator has no __dict__ to compare with")
def test_a_kept_correlator_holds_every_attribute_but_its_handlers():
    assert set(vars(Correlator())) == set(KEPT) | {"_smtpd_handlers"}
