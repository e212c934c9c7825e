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
import sys
import tempfile
from pathlib import Path

import pytest

from maillog_sasl.cli import main

from support import SAMPLE_LOGS, CliResult

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"


@pytest.fixture
def nobody(cli):
    """(folder, run): a folder of the user nobody's, holding `maillog` (a part of the sample),
    and run(*args) -> CliResult of maillog-sasl ARGS run as nobody."""
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

    def run(*args):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:  # the child: its output into the files, then its exit status
                code = 70
                stdout = sys.stdout = io.TextIOWrapper(io.BytesIO())
                stderr = sys.stderr = io.TextIOWrapper(io.BytesIO())
                try:
                    os.setgroups([])
                    os.setgid(user.pw_gid)
                    os.setuid(user.pw_uid)
                    code = main([str(arg) for arg in args])
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

    yield folder, run
    shutil.rmtree(folder)


def test_a_state_root_made_says_it_cannot_be_read_by_the_user(nobody):
    folder, run = nobody
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
    folder, run = nobody
    state = folder / "state.sqlite"
    assert run("watch", "--once", "--state", state, folder / "maillog").code in (0, 1)
    state.chmod(0o400)
    result = run("watch", "--once", "--state", state, folder / "maillog")
    assert (result.code, result.err) == (
        2, f"maillog-sasl watch: {state}: cannot write the state as user nobody (it is "
           "nobody's, mode 0400): chown nobody and chmod 600 it\n")
    assert run("state", "--state", state).code == 0  # reading needs no more


def _ids():
    user = pwd.getpwnam("nobody")
    return user.pw_uid, user.pw_gid
