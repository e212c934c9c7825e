"""The state of `watch` (maillog_sasl/state.py): one SQLite file that is made private, locked,
refused when damaged or foreign (never reset), committed in one transaction; the pickling of
the engine keeps the objects that must stay themselves; the account history keeps first and
last seen; `maillog-sasl state` shows it and forgets an account."""

import datetime as dt
import fcntl
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from maillog_sasl import cli, watch
from maillog_sasl import state as state_module
from maillog_sasl.activity import SHARED_EMPTIES, Activity, Hour
from maillog_sasl.follow import Position
from maillog_sasl.pairs import PairStore
from maillog_sasl.state import State, StateError, default_path, freeze, thaw
from maillog_sasl.syslog import fixed_zone

from maillog_writer import MailLog, at
from support import tamper

FIXTURES = Path(__file__).resolve().parent / "fixtures"

FORMAT = "test-format"
JST = fixed_zone(dt.timedelta(hours=9))


def opened(path, **options):
    return State.open(str(path), FORMAT, **options)


def test_a_new_state_is_made_private_in_a_directory_made_for_it(tmp_path):
    path = tmp_path / "deep" / "dir" / "state.sqlite"
    state = opened(path)
    state.close()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(path.parent).st_mode & 0o777) == "0o700"
    assert state.engine is None and state.positions == {} and state.raised == {}


def test_default_path_follows_xdg_state_home_and_root(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_path() == str(tmp_path / "maillog-sasl" / "state.sqlite")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", "/home/ann")
    assert default_path() == "/home/ann/.local/state/maillog-sasl/state.sqlite"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_path() == "/var/lib/maillog-sasl/state.sqlite"


def test_commit_keeps_engine_positions_and_alerts_together(tmp_path):
    path = tmp_path / "state.sqlite"
    state = opened(path)
    state.begin()
    state.pairs.login("ann@example.jp", "192.0.2.7", dt.datetime(2026, 3, 1, 9, tzinfo=JST))
    ids = state.commit({"engine": 1}, FORMAT, {"/var/log/maillog": Position(1, 2, 300, "ab")},
                       [("ann@example.jp", "high", {"burst"}, '{"user": "ann@example.jp"}')])
    assert state.undelivered() == [(ids[0], '{"user": "ann@example.jp"}')]
    state.delivered(ids)
    state.close()
    again = opened(path)
    assert again.engine == {"engine": 1}
    assert again.positions == {"/var/log/maillog": Position(1, 2, 300, "ab")}
    assert again.raised == {"ann@example.jp": {"burst": "high"}}
    assert again.undelivered() == []
    assert again.pairs.ips_of("ann@example.jp") == {
        "192.0.2.7": dt.datetime(2026, 3, 1, 9, tzinfo=JST)}
    again.close()


def test_what_is_not_committed_is_not_kept(tmp_path):
    path = tmp_path / "state.sqlite"
    state = opened(path)
    state.begin()
    state.commit({"run": 1}, FORMAT, {"/l": Position(1, 2, 10, "a")}, [])
    state.begin()
    state.pairs.login("bob@example.jp", "192.0.2.8", dt.datetime(2026, 3, 1, tzinfo=JST))
    state.pairs.flush()
    state.login("bob@example.jp", "192.0.2.0/24", "192.0.2.8", dt.datetime(2026, 3, 1, tzinfo=JST))
    state.close()  # dies before its commit
    again = opened(path)
    assert again.engine == {"run": 1} and again.positions["/l"].offset == 10
    assert again.pairs.ips_of("bob@example.jp") == {} and again.history() == []
    again.close()


def test_a_second_run_waits_for_the_lock_then_says_who_holds_it(tmp_path):
    path = tmp_path / "state.sqlite"
    first = opened(path)
    with pytest.raises(StateError, match=rf"in use by another maillog-sasl run \(pid {os.getpid()}\); waited 0.2 s"):
        opened(path, wait=0.2)
    first.close()
    opened(path, wait=0.2).close()


@pytest.mark.parametrize("first_by", ["link", "own name"])
def test_a_state_named_through_a_symbolic_link_has_the_one_lock(tmp_path, first_by):
    # Before: the lock was the name's (link.sqlite.lock and state.sqlite.lock), and two runs
    # wrote one state at once, each pickling its own engine over the other's.
    path = tmp_path / "state.sqlite"
    opened(path).close()
    (tmp_path / "dir").mkdir()
    link = tmp_path / "dir" / "link.sqlite"
    link.symlink_to(path)
    first, second = (link, path) if first_by == "link" else (path, link)
    holder = opened(first)
    with pytest.raises(StateError, match=rf"^{path} is in use by another maillog-sasl run"):
        opened(second, wait=0.1)
    holder.close()
    opened(second, wait=0.1).close()
    assert not os.path.exists(str(link) + ".lock")


def test_the_lock_is_an_flock_other_tools_can_take(tmp_path):
    path = tmp_path / "state.sqlite"
    opened(path).close()
    with open(str(path) + ".lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(StateError, match="in use by another maillog-sasl run; waited"):
            opened(path, wait=0.1)


@pytest.mark.parametrize("content", [b"garbage" * 1000, b"SQLite format 3\x00" + b"\x07" * 5000])
def test_a_corrupt_state_is_refused_and_left_as_it_is(tmp_path, content):
    path = tmp_path / "state.sqlite"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(StateError, match="not a maillog-sasl state, or damaged"):
        opened(path)
    assert path.read_bytes() == content


def test_another_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    tamper(path, "CREATE TABLE photos (name TEXT)")
    os.chmod(path, 0o600)
    with pytest.raises(StateError, match="not a maillog-sasl state"):
        opened(path)
    tables = [name for (name,) in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["photos"]


def test_a_state_of_another_schema_or_format_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    state = opened(path)
    state.begin()
    state.commit({"x": 1}, FORMAT, {}, [])
    state.close()
    with pytest.raises(StateError, match="engine format test-format; this one is .* format other"):
        State.open(str(path), "other")
    # Without the engine (state --reset-engine) it opens.
    state = State.open(str(path), "other", load_engine=False)
    state.begin()
    state.drop_engine()
    state.commit_plain()
    state.close()
    reopened = State.open(str(path), "other")
    assert reopened.engine is None
    reopened.close()
    tamper(path, "UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StateError, match="a state of schema '99'"):
        opened(path)


def test_a_damaged_engine_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    state = opened(path)
    state.begin()
    state.commit({"x": 1}, FORMAT, {}, [])
    state.close()
    tamper(path, ("UPDATE engine SET data = ?", (b"\x80\x05not a pickle",)))
    with pytest.raises(StateError, match="damaged: its engine cannot be read"):
        opened(path)


def test_a_state_others_could_write_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    opened(path).close()
    os.chmod(path, 0o620)
    with pytest.raises(StateError, match="refused .it holds pickled objects."):
        opened(path)


def test_only_this_packages_classes_are_unpickled():
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="posix.system is not something a state holds"):
        thaw(pickle.dumps(Evil()), None)


def test_freeze_keeps_the_shared_empties_the_zones_and_the_pairs_themselves(tmp_path):
    pairs = PairStore()
    hour = Hour()
    activity = Activity(pairs=pairs)
    when = dt.datetime(2026, 3, 1, 9, tzinfo=JST)
    copy_hour, copy_activity, copy_when = thaw(freeze((hour, activity, when), pairs), pairs)
    assert copy_hour.ips is SHARED_EMPTIES["ips"] and copy_hour.outcomes is SHARED_EMPTIES["outcomes"]
    assert copy_hour.networks is SHARED_EMPTIES["networks"]
    assert copy_activity.pairs is pairs and copy_when.tzinfo is JST and copy_when == when
    copy_hour.count(["sent"], when)  # a write replaces the shared empty, as in a fresh Hour
    assert set(SHARED_EMPTIES["outcomes"]) == {0}


def test_history_keeps_first_and_last_seen_of_each_network(tmp_path):
    state = opened(tmp_path / "state.sqlite")
    state.begin()
    for day, ip in [(3, "192.0.2.9"), (1, "192.0.2.7"), (5, "192.0.2.8")]:
        state.login("ann@example.jp", "192.0.2.0/24", ip, dt.datetime(2026, 3, day, tzinfo=JST))
    state.login("ann@example.jp", "198.51.100.0/24", "198.51.100.1",
                dt.datetime(2026, 3, 2, tzinfo=JST))
    assert state.history("ann@example.jp") == [
        ("ann@example.jp", "192.0.2.0/24", "2026-03-01T00:00:00+09:00", "192.0.2.7",
         "2026-03-05T00:00:00+09:00", "192.0.2.8", 3),
        ("ann@example.jp", "198.51.100.0/24", "2026-03-02T00:00:00+09:00", "198.51.100.1",
         "2026-03-02T00:00:00+09:00", "198.51.100.1", 1)]
    state.close()


def test_forget_drops_the_accounts_history_pairs_and_raised_alerts(tmp_path):
    state = opened(tmp_path / "state.sqlite")
    state.begin()
    when = dt.datetime(2026, 3, 1, tzinfo=JST)
    for account in ("ann@example.jp", "bob@example.jp"):
        state.login(account, "192.0.2.0/24", "192.0.2.7", when)
        state.pairs.login(account, "192.0.2.7", when)
        state.pairs.network(account, "192.0.2.0/24", when, "192.0.2.7")
        state.pairs.provider_day(account, "192.0.0.0/16", when.date())
    state.commit(None, FORMAT, {}, [("ann@example.jp", "high", {"burst"}, "{}")])
    state.begin()
    state.forget("ann@example.jp")
    state.commit(None, FORMAT, {}, [])
    assert [row[0] for row in state.history()] == ["bob@example.jp"]
    assert state.pairs.ips_of("ann@example.jp") == {} and state.pairs.networks_of("ann@example.jp") == {}
    assert state.pairs.days_in("ann@example.jp", "192.0.0.0/16") == 0
    assert state.pairs.days_in("bob@example.jp", "192.0.0.0/16") == 1
    assert state.raised == {} and state.raised_rows() == []
    state.close()


# -- `maillog-sasl state` --------------------------------------------------------------------

def watched_state(tmp_path, cli):
    log = MailLog()
    log.login("ann@example.jp", "198.51.100.7", at(0, 9), to=2)
    log.login("ann@example.jp", "192.0.2.10", at(0, 11), outcomes={"deferred": 2})
    path = log.write(tmp_path / "maillog")
    state = tmp_path / "state.sqlite"
    result = cli("watch", "--once", "--state", state, path)
    assert result.code == 0, result.err
    return state, path


def test_state_shows_logs_open_messages_accounts_and_alerts(tmp_path, cli):
    state, path = watched_state(tmp_path, cli)
    result = cli("state", "--state", state)
    assert result.code == 0, result.err
    assert f"{path}: offset {os.path.getsize(path)} of device" in result.out
    assert "open: 0 sessions, 1 authenticated messages" in result.out
    assert "ann@example.jp  submission  queued 2026-01-05T11:00:01+09:00  pending 2" in result.out
    assert ("ann@example.jp: 2 logins from 2 networks, 2026-01-05T09:00:00+09:00 .. "
            "2026-01-05T11:00:00+09:00 (last from 192.0.2.10)") in result.out
    held = cli("state", "--state", state, "--format", "json").json()
    assert [log["path"] for log in held["logs"]] == [path]
    assert [row["user"] for row in held["accounts"]] == ["ann@example.jp"]
    assert held["open_messages"][0]["pending"] == 2 and held["raised"] == []


def test_state_forget_drops_one_account(tmp_path, cli):
    state, _ = watched_state(tmp_path, cli)
    # The account as an admin copies it from a ticket or a log line: its case is not its own.
    assert cli("state", "--state", state, "--forget", "Ann@Example.JP").code == 0
    held = cli("state", "--state", state, "--format", "json").json()
    assert held["accounts"] == []
    result = cli("state", "--state", state, "--forget", "nobody@example.jp")
    assert result.code == 1 and "no history of that account" in result.err


def test_state_of_a_missing_file_is_an_error_and_makes_nothing(tmp_path, cli):
    result = cli("state", "--state", tmp_path / "none.sqlite")
    assert result.code == 2 and "no such state" in result.err
    assert not (tmp_path / "none.sqlite").exists()


def test_state_reset_engine_keeps_history_and_offsets(tmp_path, cli):
    state, path = watched_state(tmp_path, cli)
    result = cli("state", "--state", state, "--reset-engine")
    assert result.code == 0 and "engine dropped" in result.out
    held = cli("state", "--state", state, "--format", "json").json()
    assert held["open_messages"] == [] and held["engine_format"] is None
    assert held["accounts"] and held["logs"][0]["offset"] == os.path.getsize(path)


def test_state_text_shows_control_characters_escaped(tmp_path, cli, monkeypatch):
    monkeypatch.setattr(state_module, "LOCK_WAIT", 0.1)
    log = MailLog()
    log.login("evil\x1b[31m@example.jp", "198.51.100.7", at(0, 9))
    path = log.write(tmp_path / "maillog")
    cli("watch", "--once", "--state", tmp_path / "s.sqlite", path)
    out = cli("state", "--state", tmp_path / "s.sqlite").out
    assert "\x1b" not in out and "evil\\x1b[31m@example.jp" in out


def test_kept_pairs_have_one_row_each_at_their_earliest_login(tmp_path):
    state = opened(tmp_path / "state.sqlite")
    for day in (5, 3, 4, 3):
        state.begin()
        when = dt.datetime(2026, 3, day, 9, tzinfo=JST)
        state.pairs.login("ann@example.jp", "192.0.2.7", when)
        state.pairs.network("ann@example.jp", "192.0.2.0/24", when, f"192.0.2.{day}")
        state.pairs.provider_day("ann@example.jp", "192.0.0.0/16", when.date())
        state.commit(None, FORMAT, {}, [])
    db = sqlite3.connect(tmp_path / "state.sqlite")
    counts = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("logins", "networks", "provider_days")]
    assert counts == [1, 1, 3]
    assert state.pairs.ips_of("ann@example.jp") == {
        "192.0.2.7": dt.datetime(2026, 3, 3, 9, tzinfo=JST)}
    assert state.pairs.networks_of("ann@example.jp") == {
        "192.0.2.0/24": (dt.datetime(2026, 3, 3, 9, tzinfo=JST), "192.0.2.3")}
    state.close()


@pytest.fixture
def read_only_copy(tmp_path):
    """(a folder, the same folder mounted read-only): a state on a read-only file system (a
    snapshot, a backup), where SQLite cannot make the shared-memory file a WAL database needs
    to be read. Needs root and mount(8), as CI has."""
    writable, mounted = tmp_path / "rw", tmp_path / "ro"
    writable.mkdir()
    mounted.mkdir()
    done = subprocess.run(["mount", "--bind", str(writable), str(mounted)], capture_output=True)
    if done.returncode:
        pytest.skip(f"no bind mount here: {done.stderr.decode(errors='replace').strip()}")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)]).returncode:
            pytest.skip("no read-only remount here")
        yield writable, mounted
    finally:
        subprocess.run(["umount", str(mounted)])


def test_a_state_on_a_read_only_file_system_is_shown_and_its_queue_read(read_only_copy,
                                                                         capsys):
    writable, mounted = read_only_copy
    sample = Path(__file__).resolve().parent.parent / "sample_logs" / "maillog-sample.log"
    assert cli.main(["watch", "--once", "--state", str(writable / "state.sqlite"),
                     str(sample)]) in (0, 1)
    capsys.readouterr()
    assert os.path.exists(writable / "state.sqlite-wal") is False  # as a run leaves it
    shown, queues = {}, {}
    for folder in (mounted, writable):
        assert cli.main(["state", "--state", str(folder / "state.sqlite"), "--format",
                         "json"]) == 0
        held = json.loads(capsys.readouterr().out)
        shown[folder] = {key: value for key, value in held.items() if key != "state"}
        queues[folder] = state_module.read_queue(str(folder / "state.sqlite"))
        if folder == mounted:
            assert sorted(os.listdir(mounted)) == ["state.sqlite", "state.sqlite.lock"]
    assert shown[mounted] == shown[writable] and shown[writable]["accounts"]
    assert queues[mounted] == queues[writable] and queues[writable]


def test_the_queue_of_a_state_in_a_folder_whose_name_sqlite_reads_as_a_query(tmp_path):
    # read_queue() opens the state by an SQLite URI: `?` and `#` in the path ended its file
    # name there, and SQLite opened (and made) `.../a` for reading and writing.
    folder = tmp_path / "a?mode=rwc#b"
    state = opened(folder / "state.sqlite")
    state.close()
    assert state_module.read_queue(str(folder / "state.sqlite")) == []
    assert sorted(os.listdir(tmp_path)) == ["a?mode=rwc#b"]


def test_a_queue_kept_before_its_instance_reads_as_of_no_instance_known(tmp_path):
    # Schema 2's queue (the fixture of a version before Message.instance) has no instance: read
    # as it is, its messages of no instance known (their queue IDs to the primary's postsuper,
    # as before); migrated to schema 3 by the first run that writes it.
    path = tmp_path / "state.sqlite"
    shutil.copyfile(FIXTURES / "watch-state-7478258" / "state.sqlite", path)
    queue = [("mx", queue_id, "alice@example.org", "") for queue_id in ("4A1B2C3D4E", "DE81A2E2DAA")]
    assert state_module.read_queue(str(path)) == queue
    opened = State.open(str(path), watch.engine_format(), older_formats=watch.older_formats())
    opened.close()
    db = sqlite3.connect(path)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        columns = [column for _, column, *_ in db.execute("PRAGMA table_info(queue)")]
    finally:
        db.close()
    assert meta["schema"] == "3" and meta["migrated"].startswith("from schema 2 by ")
    assert columns[-1] == "instance"
    assert state_module.read_queue(str(path)) == queue
