"""-o FILE (maillog_sasl.output): never over a log being read, and whole or not at all. Each test
is built on the seed log, and fails on the writing that opened -o before looking at the inputs,
or wrote the report in place."""

import errno
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from maillog_sasl import cli as cli_module
from maillog_sasl import output

from support import SAMPLE_LOGS, another_name, children_of, living

SEED = SAMPLE_LOGS / "seed-maillog.txt"
COMMAND = [sys.executable, "-m", "maillog_sasl"]


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(SEED.read_bytes())
    return path


def listing(directory):
    return sorted(os.listdir(directory))


# -- never over an input -----------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["watch", "--once", "--state"],
                                     ["watch", "--once", "--metrics"]])
def test_an_empty_file_name_is_a_usage_error(cli, log, command):
    """`-o ''` (a variable left empty in a script) sent the report to the terminal; `--state ''`
    kept the state in its default place."""
    result = cli(*(command or ["-o"]), "", log)
    assert result.code == 2
    assert "an empty file name" in result.err and result.out == ""


@pytest.mark.parametrize("extra", [[], ["maillog.1.gz"]], ids=["alone", "in-a-set"])
def test_output_onto_an_input_is_refused(cli, log, tmp_path, extra):
    """`maillog-sasl -r messages -f csv -o maillog maillog [maillog.1.gz]`."""
    (tmp_path / "maillog.1.gz").write_bytes(b"")
    before = listing(tmp_path)
    result = cli("--year", "2018", "-r", "messages", "-f", "csv", "-o", log, log,
                 *[tmp_path / name for name in extra])
    assert result.code == 2
    assert result.err == f"maillog-sasl: {log}: is also a log to read; not overwritten\n"
    assert result.out == ""
    assert log.read_bytes() == SEED.read_bytes()
    assert listing(tmp_path) == before


@pytest.mark.parametrize("kind", ["symlink", "hard link"])
def test_output_onto_another_name_of_an_input_is_refused(cli, log, tmp_path, kind):
    other = another_name(log, kind, "incident.csv")
    for target, source in ((other, log), (log, other)):
        result = cli("--year", "2018", "-f", "csv", "-o", target, source)
        assert result.code == 2
        assert result.err == (f"maillog-sasl: {target}: is the same file as the log {source}; "
                              "not overwritten\n")
    assert log.read_bytes() == SEED.read_bytes()


def test_output_onto_the_file_standard_input_comes_from_is_refused(log):
    """`maillog-sasl -o maillog - < maillog`."""
    with open(log, "rb") as stdin:
        process = subprocess.run(COMMAND + ["--year", "2018", "-o", str(log), "-"],
                                 stdin=stdin, capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr == (f"maillog-sasl: {log}: is the same file as standard input; "
                              "not overwritten\n")
    assert log.read_bytes() == SEED.read_bytes()


@pytest.mark.parametrize("read", ["by name", "on standard input"])
def test_a_report_appended_by_the_shell_to_its_log_is_refused(log, read):
    """`maillog-sasl maillog >> maillog`, `maillog-sasl - < maillog >> maillog`: the shell
    opens the log for the report before the command starts."""
    with open(log, "ab") as stdout, open(log, "rb") as stdin:
        process = subprocess.run(COMMAND + ["--year", "2018",
                                            str(log) if read == "by name" else "-"],
                                 stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True)
    what = f"the log {log}" if read == "by name" else "standard input"
    assert process.returncode == 2
    assert process.stderr == (f"maillog-sasl: standard output: is the same file as {what}; "
                              "not overwritten\n")
    assert log.read_bytes() == SEED.read_bytes()


def test_a_closed_standard_output_is_one_line(log):
    process = subprocess.run(COMMAND + ["--year", "2018", str(log)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: os.close(1))
    assert process.returncode == 2
    assert process.stderr == "maillog-sasl: standard output is closed: give -o FILE\n"


def test_the_check_comes_before_anything_is_opened_for_writing(cli, log, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("opened for writing")

    monkeypatch.setattr(output, "AtomicWriter", never)
    monkeypatch.setattr(cli_module, "open_logs", never)
    assert cli("-o", log, log).code == 2


def test_same_file_compares_paths_and_descriptors(log, tmp_path):
    other = tmp_path / "other"
    other.write_bytes(SEED.read_bytes())
    with open(log, "rb") as handle:
        assert output.same_file(str(log), [str(other), handle.fileno()]) == handle.fileno()
    assert output.same_file(str(log), [str(other), str(tmp_path / "missing")]) is None
    assert output.same_file(str(tmp_path / "new.csv"), [str(log)]) is None
    assert output.same_file(os.devnull, [os.devnull]) is None  # a device is not truncated


# -- whole or not at all -----------------------------------------------------------------------

def test_report_is_renamed_into_place_when_whole(cli, log, tmp_path, monkeypatch):
    """While the report is written, the target is still the old file."""
    target = tmp_path / "incident.csv"
    target.write_text("old report\n")
    render = cli_module.render
    seen = []

    def watching(fmt, columns, rows, out, **kwargs):
        render(fmt, columns, rows, out, **kwargs)
        seen.append((target.read_text(), [name for name in listing(tmp_path)
                                          if name.startswith(".incident.csv.")]))

    monkeypatch.setattr(cli_module, "render", watching)
    result = cli("--year", "2018", "-r", "messages", "-f", "csv", "-o", target, log)
    assert (result.code, result.err) == (0, "")
    assert seen[0][0] == "old report\n" and len(seen[0][1]) == 1
    assert "A4FCE204384E" in target.read_text()
    assert listing(tmp_path) == ["incident.csv", "maillog"]


@pytest.mark.parametrize("failure, code, message", [
    (OSError(errno.ENOSPC, "No space left on device"), 2,
     "maillog-sasl: cannot write the report: No space left on device\n"),
    (KeyboardInterrupt(), 130, "maillog-sasl: interrupted\n"),
])
def test_a_failed_or_interrupted_report_leaves_no_trace(cli, log, tmp_path, monkeypatch,
                                                        failure, code, message):
    target = tmp_path / "incident.csv"
    target.write_text("old report\n")

    def half_then_fail(fmt, columns, rows, out, **kwargs):
        out.write("user,sessions\n" * 1000)
        raise failure

    monkeypatch.setattr(cli_module, "render", half_then_fail)
    result = cli("--year", "2018", "-f", "csv", "-o", target, log)
    assert (result.code, result.err) == (code, message)
    assert target.read_text() == "old report\n"
    assert listing(tmp_path) == ["incident.csv", "maillog"]
    result = cli("--year", "2018", "-f", "csv", "-o", tmp_path / "new.csv", log)
    assert result.code == code
    assert listing(tmp_path) == ["incident.csv", "maillog"]


def test_a_new_report_gets_the_permissions_of_the_umask(cli, log, tmp_path):
    old = os.umask(0o027)
    try:
        assert cli("--year", "2018", "-o", tmp_path / "incident.txt", log).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "incident.txt").st_mode) == 0o640


def test_a_report_written_over_another_keeps_its_mode_and_owner(cli, log, tmp_path):
    # An incident file kept private stays private (it became 0644 under the umask).
    target = tmp_path / "incident.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    owner = (1234, 5678) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(target, *owner)
    assert cli("--year", "2018", "-f", "csv", "-o", target, log).code == 0
    status = os.stat(target)
    assert target.read_text() != "old\n"
    assert (stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid) == (0o600, *owner)


def test_a_symlinked_target_keeps_its_link(cli, log, tmp_path):
    real = tmp_path / "reports" / "incident.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "incident.csv"
    link.symlink_to(real)
    assert cli("--year", "2018", "-f", "csv", "-o", link, log).code == 0
    assert link.is_symlink() and "centos7@phoenixknight.jp" in real.read_text()
    assert listing(real.parent) == ["incident.csv"]


def test_a_device_is_written_in_place(cli, log):
    result = cli("--year", "2018", "-o", os.devnull, log)
    assert (result.code, result.err) == (0, "")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_atomic_writer_commits_or_discards(tmp_path):
    target = tmp_path / "state.json"
    with output.AtomicWriter(str(target)) as handle:
        handle.write("one")
    assert target.read_text() == "one"
    with pytest.raises(ValueError):
        with output.AtomicWriter(str(target)) as handle:
            handle.write("two")
            raise ValueError
    assert target.read_text() == "one"
    writer = output.AtomicWriter(str(target), "wb")
    writer.file.write(b"three")
    writer.discard()
    writer.commit()  # after discard(): nothing
    assert target.read_text() == "one" and listing(tmp_path) == ["state.json"]


def test_atomic_writer_fsyncs_before_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "state.json"

    def failing_fsync(descriptor):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    writer = output.AtomicWriter(str(target))
    writer.file.write("lost")
    with pytest.raises(OSError):
        writer.commit()
    assert listing(tmp_path) == []


def test_atomic_writer_gives_a_new_file_new_mode_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        with output.AtomicWriter(str(tmp_path / "table"), new_mode=0o644) as handle:
            handle.write("new\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "table").st_mode) == 0o644


def test_a_target_that_cannot_be_looked_at_is_not_taken_for_a_new_file(tmp_path):
    loop = tmp_path / "incident.csv"
    loop.symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(loop)
    with pytest.raises(OSError) as raised:
        output.AtomicWriter(str(loop))
    assert raised.value.errno == errno.ELOOP
    assert loop.is_symlink() and listing(tmp_path) == ["incident.csv", "other"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
@pytest.mark.parametrize("required", [False, True])
def test_an_owner_that_cannot_be_given(tmp_path, monkeypatch, required):
    """Root squashed on NFS: a report becomes root's; a file that must keep its owner is not
    replaced."""
    target = tmp_path / "sasl_access"
    target.write_text("old\n")
    os.chown(target, 1234, 5678)

    def refused(descriptor, uid, gid):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(output.os, "fchown", refused)
    if not required:
        with output.AtomicWriter(str(target)) as handle:
            handle.write("new\n")
        assert (target.read_text(), target.stat().st_uid) == ("new\n", 0)
        return
    with pytest.raises(OSError) as raised:
        output.AtomicWriter(str(target), owner_required=True)
    assert raised.value.errno == errno.EPERM
    assert raised.value.strerror == ("Operation not permitted (giving it the owner 1234:5678 "
                                     "of the file it replaces)")
    assert target.read_text() == "old\n" and listing(tmp_path) == ["sasl_access"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_a_user_who_cannot_give_the_owner_keeps_the_group(tmp_path, monkeypatch):
    """Not root: the owner cannot be given, the group can (one the user is in), and a table
    only its group may read stays readable by that group (the kernel's rule, imitated)."""
    target = tmp_path / "access"
    target.write_text("old\n")
    os.chown(target, 1234, 5678)
    target.chmod(0o640)
    real = os.fchown

    def as_a_user(descriptor, uid, gid):
        if uid != -1:
            raise OSError(errno.EPERM, "Operation not permitted")
        real(descriptor, uid, gid)

    monkeypatch.setattr(output.os, "fchown", as_a_user)
    with output.AtomicWriter(str(target)) as handle:
        handle.write("new\n")
    status = target.stat()
    assert (status.st_uid, status.st_gid, oct(status.st_mode & 0o777)) == (0, 5678, "0o640")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory another group")
def test_a_set_group_id_directory_does_not_change_a_replaced_files_group(tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chown(directory, 0, 5678)
    directory.chmod(0o2775)
    target = directory / "incident.csv"
    target.write_text("old\n")
    os.chown(target, 0, 0)
    with output.AtomicWriter(str(target)) as handle:
        handle.write("new\n")
    assert (target.stat().st_uid, target.stat().st_gid) == (0, 0)


def starting_with(number, disposition):
    """A child's start with SIGINT at its default and `number` at `disposition`: SIG_DFL as at
    a terminal; SIG_IGN as nohup (SIGHUP) or a script's `&` (SIGQUIT) start it. A shell without
    job control starts a background command with SIGINT and SIGQUIT ignored, nohup with SIGHUP
    ignored, and Python keeps an ignored signal ignored in the commands it starts: a child gets
    them as the suite got them unless told."""
    def start():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(number, disposition)
    return start


@pytest.mark.parametrize("number, code, said", [
    (signal.SIGINT, 130, "interrupted"),
    # kill, timeout(1), systemd: the signal killed the process and its temporary file stayed;
    # so did SIGHUP's (a closed terminal or ssh session) and SIGQUIT's (Ctrl-\\), a review found.
    (signal.SIGTERM, 143, "terminated"),
    (signal.SIGHUP, 129, "terminated"),
    (signal.SIGQUIT, 131, "terminated")])
def test_ctrl_c_while_reading_leaves_no_temporary_file(tmp_path, number, code, said):
    """A real SIGINT (or another signal that ends a run) while the log (a FIFO whose writer
    pauses) is being read."""
    fifo = tmp_path / "maillog"
    os.mkfifo(fifo)
    head = tmp_path / "head"
    head.write_bytes(SEED.read_bytes() * 100)
    writer = subprocess.Popen(["sh", "-c", f"exec > '{fifo}'; cat '{head}'; sleep 30"])
    target = tmp_path / "reports" / "incident.csv"
    target.parent.mkdir()
    # The signal at its default, as at a terminal, however the suite was started: a suite
    # started in the background (nohup, a script's `&`) timed out here on SIGHUP and SIGQUIT.
    run = subprocess.Popen(COMMAND + ["--year", "2018", "-o", str(target), str(fifo)],
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=starting_with(number, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 20
        while not listing(target.parent) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listing(target.parent), "the temporary file was made"
        run.send_signal(number)
        ended = run.wait(timeout=20)
        # (Together: a run that ended otherwise says why on stderr.)
        assert (ended, run.stderr.read()) == (code, f"maillog-sasl: {said}\n")
    finally:
        run.kill()
        writer.kill()
        writer.wait()
        run.wait()
    assert listing(target.parent) == []


# A run whose terminating signal comes while -o's temporary file is being made, or just after
# (before the code that would discard it): a real SIGQUIT sent as soon as the file showed met
# it under load. The signal is sent by the run itself at those two places.
SIGNALLED_AT = """
import os, signal, sys
from maillog_sasl import cli, output
place = sys.argv[1]
if place == "made":  # between the file's making and its name's return
    real = output.tempfile.mkstemp
    def making(*args, **kwargs):
        made = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return made
    output.tempfile.mkstemp = making
else:  # after the writer is made, before the caller's try
    real = output.AtomicWriter.__init__
    def made(self, *args, **kwargs):
        real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
    output.AtomicWriter.__init__ = made
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.parametrize("place", ["made", "returned"])
def test_a_signal_as_the_temporary_file_is_made_leaves_none(tmp_path, place):
    target = tmp_path / "reports" / "incident.csv"
    target.parent.mkdir()
    run = subprocess.run([sys.executable, "-c", SIGNALLED_AT, place, "--year", "2018", "-o",
                          str(target), str(SEED)], capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (143, "maillog-sasl: terminated\n")
    assert listing(target.parent) == []


@pytest.mark.parametrize("number", [signal.SIGHUP, signal.SIGQUIT])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_signal_the_run_was_started_ignoring_stays_ignored(tmp_path, number, jobs):
    """`nohup maillog-sasl ... &`, then the terminal closes: the run (and its workers) went on
    before SIGHUP ended runs, and must still (a review's)."""
    log = tmp_path / "maillog"
    log.write_bytes((SAMPLE_LOGS / "maillog-sample.log").read_bytes() * 6)
    target = tmp_path / "incident.csv"
    run = subprocess.Popen(COMMAND + ["--jobs", jobs, "-q", "-f", "csv", "-o", str(target),
                                      str(log)],
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=starting_with(number, signal.SIG_IGN),
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and run.poll() is None and not (
                jobs == "1" or children_of(run.pid)):
            time.sleep(0.02)
        os.killpg(run.pid, number)  # as a terminal's hangup reaches the whole group
        assert run.wait(timeout=120) == 0, run.stderr.read()
    finally:
        run.kill()
        run.wait()
    assert target.read_text().startswith("user,")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_the_workers_of_a_killed_run_end_with_it(tmp_path):
    """SIGKILL (the OOM killer) stops no pool: its workers waited on the pool's pipe for ever,
    holding the caller's stdout (a review's `maillog-sasl --jobs 2 ... | sort` never ended)."""
    log = tmp_path / "maillog"
    log.write_bytes((SAMPLE_LOGS / "maillog-sample.log").read_bytes() * 20)
    run = subprocess.Popen(COMMAND + ["--jobs", "2", "-q", "-o", str(tmp_path / "out"), str(log)],
                           stderr=subprocess.DEVNULL)
    workers: list = []
    try:
        deadline = time.monotonic() + 30
        while not workers and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
            workers = children_of(run.pid)
        assert workers, "a worker was forked"
        run.kill()
        run.wait()
        deadline = time.monotonic() + 20
        while living(workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not living(workers)
    finally:
        run.kill()
        run.wait()
        for pid in living(workers):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_report_cut_by_a_full_disk_is_an_error(tmp_path, small_disk, unbuffered):
    """Unbuffered (PYTHONUNBUFFERED=1, as many containers run Python), a raw file's write that
    took part of its text was taken for whole: the CSV (some 120 KB, written in few writes) was
    cut at the disk's size, exit 0."""
    environment = dict(os.environ, PYTHONUNBUFFERED=unbuffered)
    log = tmp_path / "maillog"
    with open(SAMPLE_LOGS / "maillog-sample.log", "rb") as sample:
        log.write_bytes(b"".join(sample.readline() for _ in range(2500)))
    with open(small_disk() / "messages.csv", "wb") as stdout:
        process = subprocess.run(COMMAND + ["-r", "messages", "-f", "csv", str(log)],
                                 stdout=stdout, stderr=subprocess.PIPE, text=True,
                                 env=environment)
    assert process.returncode == 2
    assert process.stderr == "maillog-sasl: cannot write the report: No space left on device\n"
