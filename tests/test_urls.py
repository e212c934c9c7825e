"""URLs as inputs (fsspec): the very bytes of the same log read as a local file, in one process
and with --jobs (fsspec's memory:// filesystem; --dask, on file:// URLs, is tests/test_dask.py);
compressed objects; a rotated set named by a glob; and the one-line failures: no such object,
a driver that raises its own errors (no credentials), one not installed, fsspec not installed,
a read that fails part way (what was read is kept), the report never written over a file://
input.
"""

import bz2
import datetime as dt
import gzip
import json
import lzma
import sys

import pytest
from test_golden import GOLDEN, ROOT, cases, digest
from test_hosts import before_workers, record_jobs
from test_jobs import chunks_of, rotated_set, session_lines, submissions, write

fsspec = pytest.importorskip("fsspec", reason="fsspec is not installed: pip install '.[url]'")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

GOLDEN_HASHES = json.loads(GOLDEN.read_text())  # one process's bytes, of the local files
SMALL = 700
SAMPLE_CHUNK = 40_000


@pytest.fixture
def memory():
    """put(name, path_or_bytes) -> the memory:// URL of an object holding that file's bytes,
    its modification time the file's (it anchors yearless stamps); emptied afterwards."""
    filesystem = fsspec.filesystem("memory")

    def put(name, content):
        if not isinstance(content, bytes):
            modified = dt.datetime.fromtimestamp(content.stat().st_mtime, dt.timezone.utc)
            content = content.read_bytes()
        else:
            modified = None
        filesystem.pipe(f"/logs/{name}", content)
        if modified is not None:
            filesystem.store[f"/logs/{name}"].modified = modified
        return f"memory://logs/{name}"

    yield put
    filesystem.rm("/logs", recursive=True) if filesystem.exists("/logs") else None


def as_url(args, put):
    """`args` with their log (the last argument) an object of the memory filesystem."""
    return [*args[:-1], put(args[-1].replace("/", "_"), ROOT / args[-1])]


# Every report in one format on every golden log (the sample: the users report in each).
URL_CASES = [(case, args) for case, args in cases()
             if (case.endswith(" -f json") and not case.startswith("sample "))
             or case.startswith("sample -r users ")]


@pytest.mark.parametrize("case, args", URL_CASES, ids=[case for case, _ in URL_CASES])
def test_a_url_gives_the_golden_bytes(case, args, memory, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert digest(as_url(args, memory)) == GOLDEN_HASHES[case], case


JOBS_CASES = [(case, args) for case, args in URL_CASES if case.endswith(" -f json")]


@pytest.mark.parametrize("case, args", JOBS_CASES, ids=[case for case, _ in JOBS_CASES])
def test_two_jobs_read_a_url_in_byte_ranges(case, args, memory, monkeypatch):
    """Each worker opens the URL itself and reads its byte range: the golden bytes."""
    monkeypatch.chdir(ROOT)
    chunks_of(SAMPLE_CHUNK if case.startswith("sample ") else SMALL, monkeypatch)
    assert digest([*as_url(args, memory), "--jobs", "2"]) == GOLDEN_HASHES[case], case


def test_the_jobs_of_a_url_carry_it(memory, monkeypatch):
    """A URL's jobs name it (no descriptor is inherited), in byte ranges."""
    sent = record_jobs(monkeypatch)
    chunks_of(SAMPLE_CHUNK, monkeypatch)
    url = memory("sample", ROOT / "sample_logs/maillog-sample.log")
    from maillog_sasl.cli import main
    assert main(["-f", "csv", "--tz", "UTC", "-q", "--jobs", "2", url]) == 0
    assert len(sent) > 10 and {job.path for job in sent} == {url}
    assert all(job.start is not None and job.seen is not None for job in sent)


@pytest.mark.parametrize("packer", [gzip.compress, bz2.compress, lzma.compress],
                         ids=["gzip", "bzip2", "xz"])
def test_a_compressed_url_is_inflated(packer, tmp_path, memory, cli):
    """By magic bytes, not by name, as a local file is."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    path = write(tmp_path, "maillog", submissions(start, 80))
    packed = tmp_path / "maillog.1"
    packed.write_bytes(packer(path.read_bytes()))
    args = ["-r", "messages", "-f", "csv", "--stats", "--year", "2026", "--tz", "UTC"]
    local = cli(*args, packed)
    assert local.code == 0 and local.out.count("\n") == 81, local.err
    url = memory("maillog.1", packed)
    for jobs in ("1", "2"):
        remote = cli(*args, "--jobs", jobs, url)
        assert (remote.code, remote.out) == (local.code, local.out)
        assert remote.err == local.err.replace(str(packed), url)


def test_a_rotated_set_named_by_a_glob(tmp_path, memory, cli, monkeypatch):
    """`memory://logs/maillog*` is the set, ordered by first stamp as on a disk."""
    paths = rotated_set(tmp_path, dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
    for path in paths:
        memory(path.name, path)
    chunks_of(SMALL, monkeypatch)
    args = ["-r", "messages", "-f", "json", "--year", "2026", "--tz", "UTC"]
    local = cli(*args, *paths)
    assert local.code == 0 and local.json(), local.err
    for jobs in ("1", "2"):
        result = cli(*args, "--jobs", jobs, "memory://logs/maillog*")
        assert (result.code, result.out, result.err) == (local.code, local.out, local.err)


def test_a_url_given_twice_and_its_local_copy_are_read_once(memory, cli):
    """memory:// hands one file object to every opening: each Source reads from its own
    position all the same."""
    path = ROOT / "sample_logs/seed-maillog.txt"
    url = memory("seed", path)
    again = url.replace("memory://", "memory:///")
    result = cli("--year", "2018", "-f", "csv", url, again, path)
    alone = cli("--year", "2018", "-f", "csv", path)
    assert (result.code, result.out) == (alone.code, alone.out)
    assert result.err == (f"maillog-sasl: {again}: the same file as {url}; read once\n"
                          f"maillog-sasl: {path}: the same file as {url}; read once\n")


class NoCredentialsError(Exception):
    """What botocore raises without credentials: not an OSError."""


class Locked(MemoryFileSystem):
    """A filesystem whose every object needs credentials nobody has."""
    protocol = "locked"

    def info(self, path, **kwargs):
        raise NoCredentialsError("Unable to locate credentials\n(and a second line)")


class Flaky(MemoryFileSystem):
    """A filesystem whose objects fail after their first `limit` bytes (a connection lost)."""
    protocol = "flaky"
    store: dict = {}
    pseudo_dirs = [""]
    limit = 0

    def _open(self, path, mode="rb", **kwargs):
        file = super()._open(path, mode, **kwargs)
        read = file.read

        def failing(size=-1):
            left = self.limit - file.tell()
            if left <= 0:
                raise ConnectionResetError(104, "Connection reset by peer")
            return read(left if size < 0 else min(size, left))
        file.read = failing
        return file


@pytest.fixture
def fake_protocols():
    for kind in (Locked, Flaky):
        fsspec.register_implementation(kind.protocol, kind, clobber=True)
    yield
    Flaky.store.clear()


def test_what_a_url_cannot_give_is_one_line_each(fake_protocols, memory, cli):
    """No such object, no credentials (a driver's own exception), an unknown protocol, a driver
    not installed, a glob matching nothing: one line each, exit 2, the other inputs read."""
    seed = ROOT / "sample_logs/seed-maillog.txt"
    urls = ["memory://logs/missing", "locked://bucket/maillog", "bogus://host/maillog",
            "s3://bucket/maillog", "memory://logs/none*"]
    alone = cli("--year", "2018", "-f", "csv", seed)
    result = cli("--year", "2018", "-f", "csv", *urls, seed)
    assert result.code == 2 and result.out == alone.out
    assert result.err.splitlines() == [
        "maillog-sasl: memory://logs/missing: cannot read: No such file or directory",
        "maillog-sasl: locked://bucket/maillog: cannot read: NoCredentialsError: Unable to "
        "locate credentials",
        "maillog-sasl: bogus://host/maillog: cannot read: fsspec knows no such protocol "
        "(Protocol not known: bogus)",
        "maillog-sasl: s3://bucket/maillog: cannot read: no driver installed for this URL: "
        "Install s3fs to access S3",
        "maillog-sasl: memory://logs/none*: cannot read: no object matches",
    ]


def test_without_fsspec_one_line_names_the_extra(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # `import fsspec` raises ImportError
    result = cli("--year", "2018", "-f", "csv", "s3://bucket/maillog")
    assert (result.code, result.out) == (2, "")
    assert result.err == ("maillog-sasl: s3://bucket/maillog: cannot read: reading a URL needs "
                          "fsspec: pip install 'maillog-sasl[url]'\n")



def test_without_fsspec_a_local_url_is_still_not_written_over(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 5))
    before = path.read_bytes()
    for url in (f"file://{path}", f"local://{path}"):
        result = cli("--year", "2026", "-o", path, url)
        assert result.code == 2 and path.read_bytes() == before
        assert result.err == f"maillog-sasl: {path}: is also a log to read; not overwritten\n"

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_read_failing_part_way_keeps_what_was_read(jobs, fake_protocols, tmp_path, cli,
                                                     monkeypatch):
    lines = session_lines(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), 2400)
    path = write(tmp_path, "maillog", lines)
    data = path.read_bytes()
    filesystem, name = fsspec.core.url_to_fs("flaky://maillog")
    filesystem.pipe(name, data)
    # Past the first block peeked, at a line start: what was read is whole lines.
    monkeypatch.setattr(Flaky, "limit", data.index(b"\n", 100_000) + 1)
    chunks_of(SMALL, monkeypatch)
    args = ["-r", "failures", "-f", "csv", "--year", "2026", "--tz", "UTC", "--stats"]
    result = cli(*args, "--jobs", jobs, "flaky://maillog")
    assert result.code == 2 and "Traceback" not in result.err
    assert ("maillog-sasl: flaky://maillog: read failed part way: Connection reset by peer"
            in result.err.splitlines())
    # The lines before the failure were read and reported: as a file cut there.
    head = write(tmp_path, "head", data[:Flaky.limit].decode().splitlines())
    kept = cli(*args, head)
    assert result.out == kept.out and kept.out.count("\n") > 100


def test_the_report_is_not_written_over_a_file_url(tmp_path, cli):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 5))
    before = path.read_bytes()
    for url in (path.as_uri(), f"file://{tmp_path}/mail*", f"local://{path}"):
        result = cli("--year", "2026", "-o", path, url)
        assert result.code == 2 and path.read_bytes() == before
        assert result.err == f"maillog-sasl: {path}: is also a log to read; not overwritten\n"
    # Named as fsspec reads the URL: "%20" is no space there, and a glob matches dot files.
    for name, url in (("a%20b.log", f"file://{tmp_path}/a%20b.log"),
                      (".maillog", f"file://{tmp_path}/*maillog")):
        path = tmp_path / name
        path.write_bytes(before)
        result = cli("--year", "2026", "-o", path, url)
        assert result.code == 2 and path.read_bytes() == before
        assert result.err == f"maillog-sasl: {path}: is also a log to read; not overwritten\n"


def test_an_object_replaced_during_the_run_is_read_here(tmp_path, memory, cli, monkeypatch):
    """A worker that finds another object at the URL (a rotation on an object store) sends its
    chunk back; this process reads the object it opened, and says so once."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    url = memory("maillog", write(tmp_path, "maillog", submissions(start, 60)))
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC", url]
    expected = cli(*args)
    assert expected.code == 0 and expected.out.count("\n") == 61
    chunks_of(SMALL, monkeypatch)
    before_workers(monkeypatch, lambda: memory("maillog", write(
        tmp_path, "new", submissions(start + dt.timedelta(days=1), 60))), at="Pool")
    result = cli(*args, "--jobs", "2")
    assert (result.code, result.out) == (0, expected.out)
    assert result.err == (f"maillog-sasl: {url}: changed since it was opened here (rotated?): "
                          "read by this process, through the file it opened\n")


@pytest.mark.parametrize("error, reason", [
    (FileNotFoundError("logs/maillog"), "No such file or directory"),  # fsspec's: a path only
    (PermissionError("logs/maillog"), "Permission denied"),
    (IsADirectoryError("logs"), "Is a directory"),
    (ConnectionResetError(104, "Connection reset by peer"), "Connection reset by peer"),
], ids=["missing", "denied", "directory", "strerror"])
def test_an_os_error_has_one_reason_for_a_url_or_a_file(error, reason):
    """The system's words, whichever says why: one reading of an OSError, not two."""
    from maillog_sasl.sources import error_reason, remote_reason
    assert error_reason(error) == remote_reason(error) == reason
