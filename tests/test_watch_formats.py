"""watch reads a state that an older version wrote (its engine in an older format) as it is, and
continues it as it continues a state of its own: tests/fixtures/watch-state-0.1,
watch-state-8ec86ef, watch-state-3863bce, watch-state-f2fade6, watch-state-7478258 and
watch-state-0c5e029 (their READMEs say how each was written); and, of one written before accounts were folded to lower
case (watch-state-de5c6a1, made with the code of the commit before, in a git worktree: its
README), keeps an account logged in under several spellings as one; and of one whose recipients
hold whole delivery lines (watch-state-31d38c5), reads them as this version's cut ones."""

import json
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

from maillog_writer import MailLog, at
from support import COMPILED

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "watch-state-0.1"
# The states of older versions: of 0.1.0, before the fields model.SESSION_ADDED names; of the
# versions before the last attributes came (watch._ADDED_RECENTLY). Each holds the session of
# part1.log.
STATES = [FIXTURE / "state.sqlite", FIXTURES / "watch-state-8ec86ef" / "state.sqlite",
          FIXTURES / "watch-state-3863bce" / "state.sqlite",
          FIXTURES / "watch-state-f2fade6" / "state.sqlite",
          FIXTURES / "watch-state-7478258" / "state.sqlite",
          FIXTURES / "watch-state-0c5e029" / "state.sqlite"]
WHOLE_LINES = FIXTURES / "watch-state-31d38c5"
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
    assert session.refused == ()
    assert [user.busy.rising for user in opened.engine.activity.users.values()] == [None]
    # Counts of one an outcome, then none waiting (activity.WAITING_INDEX).
    for user in opened.engine.activity.users.values():
        assert len(user.outcomes) == COUNTS and user.outcomes[WAITING_INDEX] == 0
        assert all(len(hour.outcomes) == COUNTS for hour in user.open_hours.values())
    stats = opened.engine.correlator.stats
    assert (stats.unread_stamps, stats.unread_stamp) == (0, None)
    # Kept before a message had an instance (by all but the last): none known
    # (model.MESSAGE_ADDED).
    instances = {message.instance for message in opened.engine.correlator.messages.values()}
    assert instances == {""} if state != STATES[-1] else "postfix" in instances


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
    # and its index of the open by time (_idle), made anew from what is kept
    assert set(vars(Correlator())) == set(KEPT) | {"_smtpd_handlers", "_idle"}


# Kept by the version before accounts were folded: one account as Alice@, ALICE@ and alice@.
SPELT = FIXTURES / "watch-state-de5c6a1" / "state.sqlite"
ACCOUNT = "alice@example.org"


def test_an_account_kept_under_several_spellings_is_one(tmp_path):
    opened = State.open(str(fixture_copy(tmp_path, SPELT)), watch.engine_format(),
                        older_formats=watch.older_formats())
    try:
        engine = opened.engine
        [user] = engine.activity.users.values()
        ips = [login.account for state in engine.activity.ips.values() for login in state.logins]
        networks = opened.pairs.networks_of(ACCOUNT)
        history = {network: logins for _, network, *_, logins in opened.history()}
        storm = opened.storm_rows()
    finally:
        opened.close()
    assert (user.name, list(engine.activity.users)) == (ACCOUNT, [ACCOUNT])
    # Days 0 to 33 settled, a login and a recipient a day; the hours of days 34 to 39 open, that
    # of day 39 of alice@'s login and message and ALICE@'s login (its message still queued).
    assert (user.logins, user.busy.hours_by_count) == (34, {1: 34})
    assert len(user.open_hours) == 6
    hour = user.open_hours[at(39, 9)]
    assert (hour.logins, sorted(hour.ips), hour.recipients) == (
        2, ["192.0.2.10", "198.51.100.7"], 1)
    assert set(ips) == {ACCOUNT}
    assert all(waiting == [user] for waiting in engine.activity._unsettled.values())
    assert set(networks) == {"198.51.100.0/24", "192.0.2.0/24"}
    assert networks["198.51.100.0/24"][0] == at(0, 9)  # Alice's, the earliest
    assert history == {"198.51.100.0/24": 22, "192.0.2.0/24": 19}
    assert [(account, ip) for account, ip, _ in storm] == [(ACCOUNT, "203.0.113.66")]
    assert {message.sasl_username for message in engine.correlator.messages.values()} == {
        ACCOUNT}
    assert set(engine.hosts) == {ACCOUNT}
    db = sqlite3.connect(tmp_path / "state.sqlite")
    try:
        for table in ("logins", "networks", "provider_days", "history", "storm", "queue"):
            assert {account for (account,) in db.execute(f"SELECT account FROM {table}")} == {
                ACCOUNT}, table
    finally:
        db.close()


def test_a_login_from_a_network_another_spelling_knew_is_no_new_network(tmp_path, cli):
    state = fixture_copy(tmp_path, SPELT)
    log = MailLog()
    log.login(ACCOUNT, "192.0.2.77", at(45, 9))  # ALICE@'s network
    log.login("Alice@example.org", "198.51.100.8", at(45, 10))  # Alice@'s and alice@'s
    result = cli("watch", "--once", "--state", state, log.write(tmp_path / "known.log"))
    assert (result.code, result.out) == (0, ""), result.err
    log = MailLog()
    log.login(ACCOUNT, "203.0.113.40", at(46, 9))
    result = cli("watch", "--once", "--state", state, log.write(tmp_path / "new.log"))
    assert result.code == 1, result.err
    [alert] = [json.loads(line) for line in result.out.splitlines()]
    assert (alert["user"], alert["signals"], alert["first_seen_ip"]) == (
        ACCOUNT, ["new-network"], "203.0.113.40")
    assert "first seen 2026-01-05T09:00+09:00" in alert["reasons"][0]
    accounts = shown(cli, state)["accounts"]
    assert [(account["user"], account["networks"], account["logins"]) for account in accounts] == [
        (ACCOUNT, 3, 44)]


def test_a_state_whose_engine_was_dropped_has_its_spellings_merged(tmp_path, cli):
    # The older version's `state --reset-engine` left no engine: its history and pairs are
    # still kept under each spelling.
    state = fixture_copy(tmp_path, SPELT)
    db = sqlite3.connect(state)
    try:
        with db:
            db.execute("DELETE FROM engine")
    finally:
        db.close()
    log = MailLog()
    log.login(ACCOUNT, "203.0.113.40", at(46, 9))
    result = cli("watch", "--once", "--state", state, log.write(tmp_path / "new.log"))
    assert result.code == 1, result.err
    [alert] = [json.loads(line) for line in result.out.splitlines()]
    assert (alert["user"], alert["signals"]) == (ACCOUNT, ["new-network"])
    accounts = shown(cli, state)["accounts"]
    assert [(account["user"], account["networks"], account["logins"]) for account in accounts] == [
        (ACCOUNT, 3, 42)]


def test_the_alerts_of_several_spellings_are_the_accounts_at_their_highest(tmp_path):
    copy = fixture_copy(tmp_path, SPELT)
    db = sqlite3.connect(copy)
    try:
        with db:
            db.executemany("INSERT INTO raised VALUES (?, ?, ?, '2026-02-14T00:00:00+00:00')", [
                ("Alice@example.org", "burst", "medium"), ("ALICE@example.org", "burst", "high"),
                (ACCOUNT, "burst", "medium"), ("ALICE@example.org", "guessed", "medium")])
            db.executemany("INSERT INTO levels VALUES (?, 'queue-growth', ?)", [
                ("ALICE@example.org", 120), (ACCOUNT, 60)])
    finally:
        db.close()
    opened = State.open(str(copy), watch.engine_format(), older_formats=watch.older_formats())
    try:
        assert opened.raised == {ACCOUNT: {"burst": "high", "guessed": "medium"}}
        assert opened.levels == {(ACCOUNT, "queue-growth"): 120}
    finally:
        opened.close()


def held_recipients(state_path) -> dict:
    """address -> (status, dsn, relay, reason, the line kept) of the open messages' recipients."""
    opened = State.open(str(state_path), watch.engine_format(), lock=False,
                        older_formats=watch.older_formats())
    try:
        return {recipient.address: (recipient.status, *recipient.details(), recipient.last_line)
                for message in opened.engine.correlator.open_messages()
                for recipient in message.recipients.values()}
    finally:
        opened.close()


def test_recipients_kept_with_whole_lines_read_as_those_kept_from_relay_on(tmp_path, cli):
    older = tmp_path / "older"
    older.mkdir()
    shutil.copyfile(WHOLE_LINES / "state.sqlite", older / "state.sqlite")
    assert watch.engine_format() not in sqlite3.connect(older / "state.sqlite").execute(
        "SELECT format FROM engine").fetchone()
    held = held_recipients(older / "state.sqlite")
    greylisted = ("host mx.example.net[192.0.2.25] said: 450 4.7.1 <carol@example.net>: "
                  "Recipient address rejected: greylisted (in reply to RCPT TO command)")
    assert {address: fields[:4] for address, fields in held.items()} == {
        "carol@example.net": ("deferred", "4.7.1", "mx.example.net[192.0.2.25]:25", greylisted),
        "dave@example.net": ("sent", "2.0.0", "mx.example.net[192.0.2.25]:25",
                             "250 2.0.0 Ok: queued as 9F8E7D")}
    assert held["carol@example.net"][4].startswith("5A1B2C3D4E: to=<carol@example.net>, ")
    ours = tmp_path / "ours.sqlite"
    result = cli("watch", "--once", "--state", ours, *TIMES, WHOLE_LINES / "part1.log")
    assert result.code == 0, result.err
    mine = held_recipients(ours)
    assert {address: fields[:4] for address, fields in mine.items()} == {
        address: fields[:4] for address, fields in held.items()}
    assert mine["carol@example.net"][4].startswith("relay=mx.example.net[192.0.2.25]:25, ")
    for state in (older / "state.sqlite", ours):
        result = cli("watch", "--once", "--state", state, *TIMES, WHOLE_LINES / "part2.log")
        assert result.code == 0, result.err
    continued, mine = held_recipients(older / "state.sqlite"), held_recipients(ours)
    assert {address: fields[:4] for address, fields in continued.items()} == {
        address: fields[:4] for address, fields in mine.items()}
    # dave's whole line stays as it was kept; carol's next attempt is kept from relay= on.
    assert continued["carol@example.net"][4] == mine["carol@example.net"][4]
    assert continued["carol@example.net"][:4] == (
        "deferred", "4.4.1", "none",
        "connect to mx.example.net[192.0.2.25]:25: Connection timed out")
