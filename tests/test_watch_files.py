"""What `watch` and `state` write, and where: never into a log they read, never into a file
that is not a state; and the log's text in their JSON as the reports write it.

Found by a review that named each file option after the log (2026-12-04): `--metrics LOG`
replaced the log with Prometheus text, `--alert-log LOG` appended alerts to it, and `--state`
naming an empty file (a log logrotate has just made) turned it into an SQLite database, even
for `maillog-sasl state`, which only reads.
"""

import json
import os

import pytest

from support import SAMPLE_LOGS, another_name

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
# A flagged account's name as a client can write it: a bidi override, a C1 CSI, a line
# separator. Postfix logs what SASL accepted.
EVIL_USER = "ken.roux\u202e\u009b31m\u2028x"  # (lower case: an account's name)
TERMINAL_ACTIVE = ("\u202e", "\u009b", "\u2028")


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(SAMPLE.read_bytes()[:200_000])
    return path


@pytest.mark.parametrize("option", ["--metrics", "--alert-log", "--state", "--sasl-access"])
@pytest.mark.parametrize("how", ["same name", "symlink", "hard link"])
def test_watch_writes_into_no_log_it_reads(cli, tmp_path, log, option, how):
    before = log.read_bytes()
    target = log if how == "same name" else another_name(log, how, "other")
    state = [] if option == "--state" else ["--state", tmp_path / "s.sqlite"]
    # --contain-apply: the table would be rewritten even when not root.
    contain = ["--contain", "reject", "--contain-apply"] if option == "--sasl-access" else []
    result = cli("watch", "--once", *state, *contain, option, target, log)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl watch: {option} {target}: ")
    assert result.err.count("\n") == 1
    assert log.read_bytes() == before
    assert not (tmp_path / "s.sqlite").exists()


# A review's (2026-12-05): `--metrics` naming the state made it Prometheus text (its history and
# offsets gone, the next run refusing it), `--alert-log` naming the metrics lost the alerts.
@pytest.mark.parametrize("first, second", [
    (("--state", "s.sqlite"), ("--metrics", "s.sqlite")),
    (("--state", "s.sqlite"), ("--alert-log", "s.sqlite-wal")),
    (("--state", "s.sqlite"), ("--sasl-access", "s.sqlite.lock")),
    (("--metrics", "x.prom"), ("--alert-log", "y.prom")),  # y.prom: a symlink to x.prom
])
def test_watch_writes_each_file_once(cli, tmp_path, log, first, second):
    (tmp_path / "x.prom").write_text("# old metrics\n")
    (tmp_path / "y.prom").symlink_to(tmp_path / "x.prom")
    state = [] if first[0] == "--state" else ["--state", tmp_path / "s.sqlite"]
    contain = ["--contain", "reject", "--contain-apply"] if second[0] == "--sasl-access" else []
    result = cli("watch", "--once", *state, *contain, first[0], tmp_path / first[1], second[0],
                 tmp_path / second[1], log)
    assert result.code == 2
    assert result.err == (f"maillog-sasl watch: {second[0]} {tmp_path / second[1]}: is also "
                          f"{first[0]}'s; not overwritten\n")
    assert not (tmp_path / "s.sqlite").exists()
    assert (tmp_path / "x.prom").read_text() == "# old metrics\n"


@pytest.mark.parametrize("beside", ["s.sqlite.lock", "s.sqlite-wal"])
def test_the_files_beside_a_state_named_through_a_link_are_the_state_s(cli, tmp_path, log,
                                                                       beside):
    # Its lock and SQLite's journals are beside the file the link names (state.py locks the
    # path resolved; SQLite resolves it too). Before: the names beside the link were checked.
    state = tmp_path / "s.sqlite"
    assert cli("watch", "--once", "--state", state, log).code in (0, 1)
    (tmp_path / "dir").mkdir()
    link = tmp_path / "dir" / "link.sqlite"
    link.symlink_to(state)
    before = [(path.name, path.read_bytes()) for path in sorted(tmp_path.iterdir())
              if path.is_file()]
    result = cli("watch", "--once", "--state", link, "--metrics", tmp_path / beside, log)
    assert (result.code, result.err) == (2, f"maillog-sasl watch: --metrics {tmp_path / beside}: "
                                            "is also --state's; not overwritten\n")
    assert [(path.name, path.read_bytes()) for path in sorted(tmp_path.iterdir())
            if path.is_file()] == before


def test_a_log_beside_a_state_is_named_as_given(cli, tmp_path, log, monkeypatch):
    # The state's lock named as a log to read, both relative: before, the lock's path was
    # resolved for every state (only one named through a symbolic link needs it), and the
    # message named an absolute path that was none of the command's.
    monkeypatch.chdir(tmp_path)
    log.rename(tmp_path / "s.sqlite.lock")
    result = cli("watch", "--once", "--state", "s.sqlite", "s.sqlite.lock")
    assert (result.code, result.err) == (2, "maillog-sasl watch: --state s.sqlite.lock: is also a "
                                            "log to read; not overwritten\n")


@pytest.mark.parametrize("outputs", [
    # --config-dir names the table: DIR/sasl_access, which the state was.
    ["--config-dir", "{d}", "--state", "{d}/sasl_access"],
    # postmap makes sasl_access.db of the table (hash, btree): the state was that.
    ["--sasl-access", "{d}/sasl_access", "--state", "{d}/sasl_access.db"],
])
def test_the_access_table_is_told_however_it_is_named(cli, tmp_path, log, outputs):
    (tmp_path / "main.cf").write_text("default_database_type = hash\n")
    result = cli("watch", "--once", "--contain", "reject", "--contain-apply",
                 *[option.format(d=tmp_path) for option in outputs], log)
    assert result.code == 2
    assert "is also --state's; not overwritten" in result.err
    assert not any(path.name.startswith("sasl_access") for path in tmp_path.iterdir())


def test_the_default_state_is_told_too(cli, tmp_path, log, monkeypatch):
    from maillog_sasl import state as state_module

    default = tmp_path / "state.sqlite"
    monkeypatch.setattr(state_module, "default_path", lambda: str(default))
    result = cli("watch", "--once", "--metrics", default, log)
    assert result.code == 2
    assert result.err == (f"maillog-sasl watch: --metrics {default}: is also --state's; not "
                          f"overwritten\n")


def test_devices_take_every_output(cli, tmp_path, log):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--metrics", os.devnull,
                 "--alert-log", os.devnull, log)
    assert (result.code, result.err) == (0, "")


@pytest.mark.parametrize("table", ["log", "state"])
def test_contain_replaces_no_log_and_no_state_with_its_table(cli, tmp_path, log, table):
    state = tmp_path / "s.sqlite"
    assert cli("watch", "--once", "--state", state, log).code in (0, 1)
    kept = {path: path.read_bytes() for path in (log, state)}
    source = ["--state", state] if table == "state" else [log]
    target = state if table == "state" else log
    result = cli("contain", "ken.roux@corp.example", *source, "--hold", "--reject", "--apply",
                 "--sasl-access", target)
    assert result.code == 2
    assert result.err.startswith(f"maillog-sasl contain: --sasl-access {target}: ")
    assert {path: path.read_bytes() for path in kept} == kept


@pytest.mark.parametrize("command", [["state"], ["state", "--forget", "ann"],
                                     ["watch", "--once"]])
def test_an_empty_file_is_no_state(cli, tmp_path, log, command):
    empty = tmp_path / "maillog.1"
    empty.touch(mode=0o640)  # as logrotate's `create 0640 syslog adm` makes it
    logs = [log] if command[0] == "watch" else []
    result = cli(*command, "--state", empty, *logs)
    assert result.code == 2
    assert "an empty file, not a maillog-sasl state" in result.err
    assert empty.stat().st_size == 0


def test_an_sqlite_file_without_tables_is_not_made_a_state_by_state(cli, tmp_path):
    import sqlite3

    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("PRAGMA user_version = 7").connection.close()
    other.chmod(0o600)
    result = cli("state", "--state", other)
    assert result.code == 2 and "not a maillog-sasl state" in result.err
    tables = sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


def _evil_log(tmp_path):
    path = tmp_path / "maillog"
    path.write_text(SAMPLE.read_text().replace("ken.roux", EVIL_USER))
    return path


def test_alerts_and_the_state_escape_what_a_terminal_acts_on(cli, tmp_path):
    log = _evil_log(tmp_path)
    state = tmp_path / "s.sqlite"
    result = cli("watch", "--once", "--state", state, log)
    assert result.code == 1  # alerts
    alerts = [json.loads(line) for line in result.out.splitlines()]
    assert any(alert["user"].startswith(EVIL_USER) for alert in alerts)
    shown = cli("state", "--state", state, "--format", "json")
    assert shown.code == 0
    assert EVIL_USER in json.dumps(json.loads(shown.out), ensure_ascii=False)
    for text in (result.out, shown.out):
        assert not any(char in text for char in TERMINAL_ACTIVE)


def test_a_nul_in_a_username_reaches_the_alert_command_as_a_question_mark(cli, tmp_path):
    # A NUL byte of a log is no text (sources' LineSplitter); a JSON wrapper's \u0000 is one.
    log = tmp_path / "maillog"
    log.write_text("".join(
        json.dumps({"log": line + "\n", "stream": "stdout",
                    "time": "2026-03-02T00:00:00.000000000Z"}) + "\n"
        for line in SAMPLE.read_text().replace("ken.roux", "ken\x00roux").splitlines()))
    seen = tmp_path / "users"
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--alert-command",
                 f'printf "%s\\n" "$MAILLOG_SASL_USER" >> {seen}', log)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert "ken?roux@corp.example" in seen.read_text().splitlines()


def test_a_full_disk_at_the_lock_is_no_traceback(tmp_path, monkeypatch):
    # The lock file holds the pid for a run that waits; writing it is what fails first when
    # the disk is full (a review's 1 MB tmpfs), before the state's own writes say so.
    import errno

    from maillog_sasl import state as state_module

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_module.os, "pwrite", full)
    opened = state_module.State.open(str(tmp_path / "s.sqlite"), "f1")
    opened.close()


@pytest.mark.parametrize("how", ["symlink", "hard link"])
def test_one_log_under_two_names_is_read_once(cli, tmp_path, log, how):
    other = another_name(log, how, "other")
    once = cli("watch", "--once", "--state", tmp_path / "once.sqlite", "--metrics",
               tmp_path / "once.prom", log)
    twice = cli("watch", "--once", "--state", tmp_path / "twice.sqlite", "--metrics",
                tmp_path / "twice.prom", log, other)
    assert twice.err == f"maillog-sasl watch: {other}: the same file as {log}; read once\n"
    assert twice.out == once.out
    assert _counted(tmp_path / "twice.prom") == _counted(tmp_path / "once.prom")


def test_a_copy_of_the_log_is_read_once_as_the_reports_read_it(cli, tmp_path, log):
    # `watch --once maillog /tmp/maillog.copy`: the reports read a copy once (the same size,
    # first and last 64 KB); watch read both, every login, failure and message twice (the
    # sample: 990 recipients for chiara.ferrari's 495), and said nothing. A file of the same
    # size that is another log is read.
    copy, other = log.with_name("maillog.copy"), log.with_name("other")
    copy.write_bytes(log.read_bytes())
    other.write_bytes(SAMPLE.read_bytes()[200_000:400_000])
    results = {}
    for name, paths in (("once", [log]), ("twice", [log, copy]), ("other", [log, other]),
                        ("other alone", [other])):
        results[name] = cli("watch", "--once", "--state", tmp_path / f"{name}.sqlite",
                            "--metrics", tmp_path / f"{name}.prom", *paths)
    assert results["twice"].err == (f"maillog-sasl watch: {copy}: the same file as {log}; "
                                    "read once\n")
    assert results["twice"].out == results["once"].out
    assert _counted(tmp_path / "twice.prom") == _counted(tmp_path / "once.prom")
    assert results["other"].err == ""
    assert _lines_read(tmp_path / "other.prom") == (_lines_read(tmp_path / "once.prom")
                                                    + _lines_read(tmp_path / "other alone.prom"))
    assert "the same file as" in cli(log, copy).err  # as the reports say it


def test_a_copy_left_out_stays_read_once_when_its_log_goes_on(cli, tmp_path, log):
    # The copy was told at the start of each run, by its size: once the log was written on,
    # the next `watch --once maillog maillog.copy` found it no copy and read it from its
    # start, every line of it counted a second time, without a word. A copy left out is
    # followed to its end unread, and a run that finds it no copy goes on from there.
    copy = log.with_name("maillog.copy")
    copy.write_bytes(log.read_bytes())
    more = SAMPLE.read_bytes()[200_000:300_000]
    runs = []
    for paths in ([log], [log, copy]):
        state = tmp_path / f"{len(paths)}.sqlite"
        log.write_bytes(SAMPLE.read_bytes()[:200_000])
        for _ in range(2):
            runs.append(cli("watch", "--once", "--state", state, "--metrics",
                            tmp_path / f"{len(paths)}.prom", *paths))
            with open(log, "ab") as out:
                out.write(more)
        assert runs[-1].code in (0, 1), runs[-1].err
    assert runs[2].err == f"maillog-sasl watch: {copy}: the same file as {log}; read once\n"
    assert runs[3].err == ""
    assert [run.out for run in runs[2:]] == [run.out for run in runs[:2]]
    assert _lines_read(tmp_path / "2.prom") == _lines_read(tmp_path / "1.prom")


def _lines_read(metrics):
    [line] = [line for line in _counted(metrics) if line.startswith("maillog_sasl_lines_read_total ")]
    return float(line.split()[-1])


def _counted(metrics):
    """The counters of a --metrics file (lines read, logins, ...), without its times."""
    return [line for line in metrics.read_text().splitlines()
            if line.startswith("maillog_sasl_") and "_total" in line.partition(" ")[0]]


@pytest.mark.parametrize("change", [
    "UPDATE logs SET offset = 'a lot'", "UPDATE logs SET offset = -5",
    "UPDATE logs SET inode = NULL", "UPDATE logs SET head = x'00ff'"])
def test_a_damaged_offset_is_refused_and_kept(cli, tmp_path, log, change):
    # SQLite holds any type in any column: an offset of text raised a TypeError, a negative
    # one failed each run's read with exit status 0.
    import sqlite3

    from support import tamper

    state = tmp_path / "s.sqlite"
    assert cli("watch", "--once", "--state", state, log).code in (0, 1)
    if "inode" in change:  # NOT NULL: a table rebuilt without it, as a hand edit might
        change = "UPDATE logs SET inode = 'x'"
    tamper(state, change)
    kept = sqlite3.connect(state).execute("SELECT * FROM logs").fetchall()
    result = cli("watch", "--once", "--state", state, log)
    assert result.code == 2
    assert "damaged: where the log" in result.err and result.err.count("\n") == 1
    assert sqlite3.connect(state).execute("SELECT * FROM logs").fetchall() == kept


def test_an_engine_of_another_type_is_refused(cli, tmp_path, log):
    import pickle

    from support import tamper

    state = tmp_path / "s.sqlite"
    assert cli("watch", "--once", "--state", state, log).code in (0, 1)
    tamper(state, ("UPDATE engine SET data = ?", (pickle.dumps(5),)))
    result = cli("watch", "--once", "--state", state, log)
    assert result.code == 2
    assert "damaged: its engine is not one of watch's" in result.err
    assert "Traceback" not in result.err


def test_a_state_whose_first_run_died_before_its_tables_is_made_one(cli, tmp_path, log):
    # Its file is made empty (0600) first: a run killed then left it so, and every later run
    # was refused as if it were a log.
    state = tmp_path / "s.sqlite"
    state.touch(mode=0o600)
    assert cli("watch", "--once", "--state", state, log).code in (0, 1)
    assert cli("state", "--state", state).code == 0


def test_a_first_run_that_cannot_make_its_state_leaves_no_file(tmp_path, monkeypatch):
    from maillog_sasl import state as state_module

    def full(self, *args, **kwargs):
        raise state_module.StateError("disk full")

    monkeypatch.setattr(state_module.State, "_load", full)
    path = tmp_path / "deep" / "s.sqlite"
    with pytest.raises(state_module.StateError):
        state_module.State.open(str(path), "f1")
    assert os.listdir(path.parent) == []  # its lock neither


# -- a --state that is no regular file, a disk that takes no state (a review, 2026-12-05) -----

@pytest.fixture(params=["named pipe", "directory", "device"])
def not_a_file(request, tmp_path):
    """A --state that is no regular file; a named pipe is held open here, so that a run that
    opens it does not wait for a writer (SQLite read it as `disk I/O error`, `contain`
    waited for ever)."""
    path = tmp_path / "state.sqlite"
    if request.param == "named pipe":
        os.mkfifo(path, 0o600)
        held = os.open(path, os.O_RDWR)
        yield path
        os.close(held)
    elif request.param == "directory":
        path.mkdir()
        yield path
    else:
        path.symlink_to(os.devnull)  # its lock was /dev/null.lock
        yield path


@pytest.mark.parametrize("command", [["watch", "--once"], ["state"], ["state", "--forget", "ann"],
                                     ["contain", "ann", "--hold", "--dry-run"]])
def test_a_state_that_is_no_regular_file_is_refused_and_nothing_made(cli, tmp_path, log,
                                                                      not_a_file, command):
    # watch left state.sqlite.lock beside a named pipe, a directory or /dev/null, and said
    # "an empty file", "cannot open the state: unable to open database file" or "writable by
    # another user".
    before = sorted(os.listdir(tmp_path))
    logs = [log] if command[0] == "watch" else []
    result = cli(*command, "--state", not_a_file, *logs)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert ", not a state: a state is a regular file (or one not made yet)" in result.err
    assert sorted(os.listdir(tmp_path)) == before


def test_a_state_named_by_a_link_to_nothing_is_refused_and_the_link_kept(cli, tmp_path, log):
    # The run made no file (O_EXCL does not follow the link) and, taking the state for one it
    # had made, removed the administrator's link on its way out.
    link = tmp_path / "state.sqlite"
    link.symlink_to(tmp_path / "gone" / "state.sqlite")
    result = cli("watch", "--once", "--state", link, log)
    assert result.code == 2
    assert "a symbolic link to " in result.err and "which does not exist" in result.err
    assert os.path.islink(link) and sorted(os.listdir(tmp_path)) == ["maillog", "state.sqlite"]


def _fill(folder):
    with open(folder / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(bytes(4096))
        except OSError:
            pass


def test_a_new_state_on_a_full_disk_says_so_and_leaves_nothing(cli, log, small_disk):
    # It said: "not a maillog-sasl state, or damaged: database or disk is full; it is left as
    # it is", and left its lock.
    disk = small_disk()
    _fill(disk)
    state = disk / "s.sqlite"
    result = cli("watch", "--once", "--state", state, log)
    assert result.code == 2
    assert result.err == (f"maillog-sasl watch: {state}: cannot write the state: No space left "
                          "on device (SQLite: database or disk is full)\n")
    assert os.listdir(disk) == ["filler"]


def test_a_state_on_a_full_disk_says_so_and_is_left_as_it_was(cli, tmp_path, log, small_disk):
    made = tmp_path / "s.sqlite"
    assert cli("watch", "--once", "--state", made, log).code in (0, 1)
    disk = small_disk("2m")
    state = disk / "s.sqlite"
    state.write_bytes(made.read_bytes())
    state.chmod(0o600)
    _fill(disk)
    more = tmp_path / "maillog.2"
    more.write_bytes(SAMPLE.read_bytes()[200_000:400_000])
    for command in (["watch", "--once"], ["state"]):
        result = cli(*command, "--state", state, *([log, more] if command[0] == "watch" else []))
        assert result.code == 2
        assert result.err.startswith(f"maillog-sasl {command[0]}: {state}: cannot write the "
                                     "state: No space left on device (SQLite: ")
        assert state.read_bytes() == made.read_bytes()
        assert not [name for name in os.listdir(disk) if name.endswith(".probe")]


def test_a_commit_the_disk_refuses_says_why(tmp_path, monkeypatch):
    import errno
    import sqlite3

    from maillog_sasl import state as state_module
    from maillog_sasl.follow import Position

    class FullDisk:
        def __init__(self, db):
            self._db = db

        def execute(self, statement, *args):
            if statement == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return self._db.execute(statement, *args)

        def __getattr__(self, name):
            return getattr(self._db, name)

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    path = str(tmp_path / "s.sqlite")
    opened = state_module.State.open(path, "f1")
    opened.begin()
    monkeypatch.setattr(opened, "_db", FullDisk(opened._db))
    monkeypatch.setattr(state_module.os, "fsync", full)
    with pytest.raises(state_module.StateError) as raised:
        opened.commit({"engine": 1}, "f1", {"/var/log/maillog": Position(1, 2, 3, None)}, [])
    opened.close()
    assert str(raised.value) == (f"{path}: cannot write the state: No space left on device "
                                 "(SQLite: database or disk is full)")
    assert sorted(os.listdir(tmp_path)) == ["s.sqlite", "s.sqlite.lock"]


def test_a_lock_removed_by_its_holder_is_not_held_by_the_run_that_waited(tmp_path, monkeypatch):
    # A run whose new state could not be made removes its lock as it gives up: the run that
    # waited for it must lock the file the path names next, which a third run also locks.
    import threading

    from maillog_sasl import state as state_module
    from maillog_sasl.state import StateError, _Lock

    path = str(tmp_path / "s.sqlite")
    first = _Lock(path, 0)
    # The lock is removed once the thread has found it held, not after a fixed 0.3 s: on a
    # loaded machine the thread could start after the removal, lock a new file and pass.
    refused = threading.Event()
    flock = state_module.fcntl.flock

    def noting_a_refusal(descriptor, operation):
        try:
            return flock(descriptor, operation)
        except BlockingIOError:
            refused.set()
            raise

    monkeypatch.setattr(state_module.fcntl, "flock", noting_a_refusal)
    got = []
    waiting = threading.Thread(target=lambda: got.append(_Lock(path, 20)))
    waiting.start()
    assert refused.wait(20), "the thread found the lock held"
    first.release(remove=True)
    waiting.join()
    second = got[0]
    assert os.fstat(second._fd).st_ino == os.stat(path + ".lock").st_ino
    with pytest.raises(StateError, match="in use by another maillog-sasl run"):
        _Lock(path, 0)
    second.release()


def test_a_state_another_run_made_first_is_not_removed_by_the_run_that_made_its_file(
        tmp_path, monkeypatch):
    # Two runs start on a new state: the first makes its file, the second finds it made and
    # locks first, makes it a state and commits. The first, failing then (here an engine of
    # another format: another version; Ctrl-C, SIGTERM, a full disk alike), took the state
    # for its own new one and removed it, the second run's offsets and history with it.
    from maillog_sasl import state as state_module

    path = str(tmp_path / "s.sqlite")
    lock = state_module._Lock

    def the_other_run_first(where, wait):
        monkeypatch.setattr(state_module, "_Lock", lock)
        other = state_module.State.open(path, "f2")
        other.begin()
        other.commit({"engine": 1}, "f2", {}, [])
        other.close()
        return lock(where, wait)

    monkeypatch.setattr(state_module, "_Lock", the_other_run_first)
    with pytest.raises(state_module.StateError, match="written by another version"):
        state_module.State.open(path, "f1")
    kept = state_module.State.open(path, "f2")
    assert kept.engine == {"engine": 1}
    kept.close()


@pytest.mark.parametrize("command", [["-o"], ["watch", "--once", "--metrics"],
                                     ["watch", "--once", "--alert-log"],
                                     ["watch", "--once", "--state"]])
@pytest.mark.parametrize("how", ["same name", "symlink"])
def test_no_output_is_written_over_a_geoip_database_read(cli, tmp_path, log, command, how):
    # `maillog-sasl --geoip City.mmdb -o City.mmdb` replaced the database with the report;
    # --metrics replaced it, --alert-log appended to it: only the logs were compared.
    from geoip_writer import write_database

    database = tmp_path / "City.mmdb"
    write_database(database, {"192.0.2.0/24": {"country": {"iso_code": "JP"}}})
    kept = database.read_bytes()
    target = another_name(database, how, "report") if how == "symlink" else database
    state = [] if command[-1] in ("-o", "--state") else ["--state", tmp_path / "s.sqlite"]
    result = cli(*command, target, "--geoip", database, *state, log)
    assert result.code == 2
    assert "GeoIP database" in result.err and result.err.endswith("; not overwritten\n")
    assert database.read_bytes() == kept
