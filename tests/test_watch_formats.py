"""watch reads a state that an older version wrote (its engine in an older format) as it is, and
continues it as it continues a state of its own: tests/fixtures/watch-state-0.1 (its README
says how it was written)."""

import shutil
import sqlite3
from pathlib import Path

from maillog_sasl import watch
from maillog_sasl.state import State

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "watch-state-0.1"
TIMES = ("--year", "2020", "--tz", "UTC")


def fixture_copy(tmp_path):
    for name in ("state.sqlite", "part1.log", "part2.log"):
        shutil.copyfile(FIXTURE / name, tmp_path / name)
    return tmp_path / "state.sqlite"


def shown(cli, state):
    """What `state` shows of the engine and the history (not paths, nor when it was written)."""
    result = cli("state", "--state", state, "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    return {key: data[key] for key in ("open_sessions", "open_messages", "accounts", "raised",
                                       "alerts")}


def test_the_fixture_is_of_an_older_format():
    db = sqlite3.connect(FIXTURE / "state.sqlite")
    try:
        [(written,)] = db.execute("SELECT format FROM engine").fetchall()
    finally:
        db.close()
    assert written in watch.older_formats() and written != watch.engine_format()


def test_an_older_session_is_read_counting_no_queued_reject_and_no_pending_action(tmp_path):
    opened = State.open(str(fixture_copy(tmp_path)), watch.engine_format(), lock=False,
                        older_formats=watch.older_formats())
    try:
        [session] = opened.engine.correlator.sessions.values()
    finally:
        opened.close()
    assert (session.service, session.sasl_username) == ("postfix/smtps", "alice@example.org")
    assert session.queued_rejects == 0
    assert session.pending_action is None


def test_an_older_state_is_continued_as_one_of_this_version(tmp_path, cli):
    older = fixture_copy(tmp_path)
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
