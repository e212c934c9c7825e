"""A state the user running `watch` or `state` cannot read or write: one line names the file
and what to do, before SQLite opens the state.

Found by a review (2026-12-06): `state` run by the service user on a state root had made said
"cannot write the state: unable to open database file".

The suite runs as root, whom no mode refuses: these tests run maillog-sasl as the user nobody,
in a child of the test's process (fork, then setuid; no exec, for the interpreter may be where
nobody cannot read, such as /root), and are skipped when not run as root.
"""

import io
import os
import pwd
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest

from maillog_sasl.cli import main

from support import SAMPLE_LOGS, CliResult

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"


@pytest.fixture
def nobody(cli):
    """(folder, run, call): a folder of the user nobody's, holding `maillog` (a part of the
    sample); run(*args) -> CliResult of maillog-sasl ARGS run as nobody; call(function,
    as_root=False) -> CliResult of function() run so (it returns the exit status)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run maillog-sasl as another user")
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # Not under tmp_path: pytest's folders are root's alone.
    folder = Path(tempfile.mkdtemp(prefix="maillog-sasl-nobody."))
    os.chmod(folder, 0o755)
    os.chown(folder, user.pw_uid, user.pw_gid)
    log = folder / "maillog"
    log.write_bytes(SAMPLE.read_bytes()[:100_000])
    log.chmod(0o644)
    # What a run imports as it goes must be imported before: the child may not read it.
    cli("watch", "--once", "--state", folder / "warm.sqlite", log)
    cli("state", "--state", folder / "warm.sqlite")
    for name in os.listdir(folder):
        if name.startswith("warm."):
            os.unlink(folder / name)

    def call(function, as_root=False):
        """(exit status, stdout, stderr) of function() -> exit status, run as nobody (or root)
        in a child of this process, which does not return from it."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:  # the child: its output into the files, then its exit status
                code = 70
                stdout = sys.stdout = io.TextIOWrapper(io.BytesIO())
                stderr = sys.stderr = io.TextIOWrapper(io.BytesIO())
                try:
                    if not as_root:
                        os.setgroups([])
                        os.setgid(user.pw_gid)
                        os.setuid(user.pw_uid)
                    code = function()
                except BaseException as error:  # told to the test, not lost with the child
                    print(f"{type(error).__name__}: {error}", file=stderr)
                finally:
                    for stream, file in ((stdout, out), (stderr, err)):
                        stream.flush()
                        os.write(file.fileno(), stream.buffer.getvalue())
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            err.seek(0)
            return CliResult(os.waitstatus_to_exitcode(status), out.read().decode(),
                             err.read().decode())

    def run(*args):
        """CliResult of maillog-sasl ARGS run as nobody."""
        return call(lambda: main([str(arg) for arg in args]))

    yield folder, run, call
    shutil.rmtree(folder)


def test_a_state_root_made_says_it_cannot_be_read_by_the_user(nobody):
    folder, run, _ = nobody
    state = folder / "state.sqlite"
    assert main(["watch", "--once", "--state", str(state), str(folder / "maillog")]) in (0, 1)
    os.chown(str(state) + ".lock", *_ids())  # the lock alone given away: the state's turn
    before = sorted(os.listdir(folder))
    for command in (["state"], ["watch", "--once"]):
        logs = [folder / "maillog"] if command[0] == "watch" else []
        result = run(*command, "--state", state, *logs)
        assert (result.code, result.err) == (
            2, f"maillog-sasl {command[0]}: {state}: cannot read the state as user nobody (it "
               "is root's, mode 0600): chown nobody and chmod 600 it\n")
    assert sorted(os.listdir(folder)) == before


def test_a_state_made_read_only_says_it_cannot_be_written(nobody):
    folder, run, _ = nobody
    state = folder / "state.sqlite"
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
    state.chmod(0o400)
    result = run("watch", "--once", "--state", state, folder / "maillog")
    assert (result.code, result.err) == (
        2, f"maillog-sasl watch: {state}: cannot write the state as user nobody (it is "
           "nobody's, mode 0400): chown nobody and chmod 600 it\n")
    assert run("state", "--state", state).code == 0  # reading needs no more


def test_reading_a_state_made_read_only_leaves_nothing_beside_it(nobody):
    # `state` read it in place: SQLite made its write-ahead log and shared-memory index beside
    # it, read-only as the state was, and left them; once the state was made writable again,
    # watch was refused them.
    folder, run, _ = nobody
    state = folder / "state.sqlite"
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
    shown = run("state", "--state", state, "--format", "json")
    state.chmod(0o400)
    before = sorted(os.listdir(folder))
    assert run("state", "--state", state, "--format", "json").out == shown.out
    assert sorted(os.listdir(folder)) == before
    state.chmod(0o600)
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)


def _sqlite_left(state, statement):
    """What SQLite leaves of a process that ran `statement` on the state and died before
    closing it (or that could only read it): its write-ahead log and shared-memory index."""
    def function():
        db = sqlite3.connect(state)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(statement)
        db.commit()
        return 0
    return function


def test_files_sqlite_left_read_only_beside_a_mended_state_are_named(nobody):
    # A state made read-only: a reader's SQLite (an older maillog-sasl, the sqlite3 shell) made
    # its write-ahead log and shared-memory index read-only, as the state was, and left them.
    # Once the state was made writable again, watch still said "cannot write the state:
    # attempt to write a readonly database", run after run, naming the state alone.
    folder, run, call = nobody
    state = folder / "state.sqlite"
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
    state.chmod(0o400)
    assert call(_sqlite_left(state, "SELECT COUNT(*) FROM meta")).code == 0
    state.chmod(0o600)
    result = run("watch", "--once", "--state", state, folder / "maillog")
    assert (result.code, result.err) == (
        2, f"maillog-sasl watch: {state}-wal: cannot write the state's write-ahead log as user "
           f"nobody (it is nobody's, mode 0400): chown nobody and chmod 600 it (also "
           f"{state}-shm)\n")
    for suffix in ("-wal", "-shm"):
        os.chmod(f"{state}{suffix}", 0o600)
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)


def test_files_a_killed_root_run_left_beside_a_state_given_away_are_named_and_kept(nobody):
    # root ran watch, killed before it closed the state: its write-ahead log (holding its last
    # commit) and shared-memory index are root's. The administrator gave the state and its
    # lock to the service user; it said "cannot write the state: unable to open database file".
    folder, run, call = nobody
    state = folder / "state.sqlite"
    assert main(["watch", "--once", "--state", str(state), str(folder / "maillog")]) in (0, 1)
    assert call(_sqlite_left(state, "INSERT INTO kept VALUES ('left', '1')"), as_root=True
                ).code == 0
    left = {suffix: Path(f"{state}{suffix}").read_bytes() for suffix in ("-wal", "-shm")}
    for name in (state, f"{state}.lock"):
        os.chown(name, *_ids())
    for command in (["watch", "--once"], ["state"]):
        logs = [folder / "maillog"] if command[0] == "watch" else []
        result = run(*command, "--state", state, *logs)
        assert (result.code, result.err) == (
            2, f"maillog-sasl {command[0]}: {state}-wal: cannot read the state's write-ahead "
               f"log as user nobody (it is root's, mode 0600): chown nobody and chmod 600 it "
               f"(also {state}-shm)\n")
    assert {suffix: Path(f"{state}{suffix}").read_bytes() for suffix in left} == left
    for suffix in left:
        os.chown(f"{state}{suffix}", *_ids())
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
    assert ("left", "1") in sqlite3.connect(state).execute("SELECT * FROM kept").fetchall()


def _ids():
    user = pwd.getpwnam("nobody")
    return user.pw_uid, user.pw_gid


def test_a_lock_root_made_is_named_with_its_owner(nobody):
    # root ran watch first, then the service user: "cannot make the lock: Permission
    # denied", though the lock was there, only another user's.
    folder, run, _ = nobody
    state = folder / "state.sqlite"
    assert main(["watch", "--once", "--state", str(state), str(folder / "maillog")]) in (0, 1)
    os.chown(state, *_ids())
    result = run("watch", "--once", "--state", state, folder / "maillog")
    assert (result.code, result.err) == (
        2, f"maillog-sasl watch: {state}.lock: cannot open the state's lock as user nobody (it "
           "is root's, mode 0600): chown nobody and chmod 600 it\n")
    os.chown(f"{state}.lock", *_ids())
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
