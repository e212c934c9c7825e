"""watch reads a state that an older version wrote (its engine in an older format) as it is, and
continues it as it continues a state of its own: tests/fixtures/watch-state-0.1 (its README
says how it was written)."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_sasl import watch
from maillog_sasl.correlate import KEPT, Correlator
from maillog_sasl.state import State

from support import COMPILED

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
        watch.CORE_LAYOUT, watch.BEFORE_LAYOUT, watch.ENRICHED_LAYOUT], (
        "an engine class changed: a new format, and the old one in older_formats() if read")


@pytest.mark.skipif(COMPILED, reason="a compiled Correlator has no __dict__ to compare with")
def test_a_kept_correlator_holds_every_attribute_but_its_handlers():
    assert set(vars(Correlator())) == set(KEPT) | {"_smtpd_handlers"}
