"""What reading a URL costs its store: the bytes fetched and the requests made, counted by a
fake store whose files are fsspec's buffered file (AbstractBufferedFile, as s3fs's, gcsfs's and
HTTP's are; memory:// has no read-ahead to count). One process and --jobs read an object about
once; a read of N bytes at an offset fetches N; a worker asks nothing it does not use; a file
opened is closed whatever fails after.
"""

import datetime as dt
import os

import pytest
from test_hosts import record_jobs
from test_jobs import chunks_of, submissions, write

fsspec = pytest.importorskip("fsspec", reason="fsspec is not installed: pip install '.[url]'")
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem  # noqa: E402

from maillog_sasl import sources  # noqa: E402

MODIFIED = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


class CountedFile(AbstractBufferedFile):
    """fsspec's buffered file (its default read-ahead cache and block), over the store's bytes."""

    def _fetch_range(self, start, end):
        data = self.fs.store[self.path][start:end]
        self.fs.note("fetch", len(data))
        return data

    def seekable(self):
        if "seekable" in self.fs.failing:
            raise self.fs.failing["seekable"]
        return super().seekable()


class Counted(AbstractFileSystem):
    """A store that writes each request to `log` (a file: the forked workers' requests too)."""
    protocol = "counted"
    store: dict = {}
    log = ""
    opened: list = []  # the files opened, in this process
    failing: dict = {}  # method name -> what it raises instead of answering (a file's too)

    def note(self, what, size=0):
        with open(self.log, "a") as log:
            log.write(f"{what} {size}\n")

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        if path not in self.store:
            raise FileNotFoundError(path)
        return {"name": path, "size": len(self.store[path]), "type": "file"}

    def modified(self, path):
        self.note("modified")
        if "modified" in self.failing:
            raise self.failing["modified"]
        return MODIFIED

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
              **kwargs):
        file = CountedFile(self, self._strip_protocol(path), mode, block_size or "default",
                           autocommit, cache_options=cache_options, **kwargs)
        self.opened.append(file)
        return file


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """put(name, path) -> the counted:// URL of an object holding that file's bytes;
    requests() -> [(what, size)] made so far, in every process."""
    fsspec.register_implementation(Counted.protocol, Counted, clobber=True)
    monkeypatch.setattr(Counted, "log", str(tmp_path / "requests"))
    monkeypatch.setattr(Counted, "opened", [])

    def put(name, path):
        Counted.store[name] = path.read_bytes()
        return f"counted://{name}"

    def requests():
        if not os.path.exists(Counted.log):
            return []
        with open(Counted.log) as log:
            return [(what, int(size)) for what, size in (line.split() for line in log)]

    yield put, requests
    Counted.store.clear()


def fetched(requests):
    return sum(size for what, size in requests() if what == "fetch")


@pytest.fixture
def log(tmp_path):
    """A log of 2.5 MB: less than fsspec's read-ahead block, so each read of it fetched the
    whole object."""
    return write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 3000))


ARGS = ["-r", "messages", "-f", "csv", "--stats", "--year", "2026", "--tz", "UTC"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_url_is_fetched_about_once(jobs, log, counted, cli, monkeypatch):
    """The report's bytes are the local file's, for about the object's size in bytes fetched:
    by one process, in few large requests; or by 2 workers reading chunks of it (each opening
    it and checking its first 4 KB) and this process peeking at it and planning the chunks.
    fsspec's read-ahead made that 5 times the object, with --jobs 2 (a block of 5 MB, the whole object here,
    fetched at each check)."""
    put, requests = counted
    url = put("maillog", log)
    size = len(Counted.store["maillog"])
    chunks_of(size // 4, monkeypatch)  # each worker's check, each boundary: some 40 KB more
    local = cli(*ARGS, log)
    assert local.code == 0 and local.out.count("\n") > 3000, local.err
    result = cli(*ARGS, "--jobs", jobs, url)
    assert (result.code, result.out) == (local.code, local.out)
    assert result.err == local.err.replace(str(log), url)
    assert size <= fetched(requests) <= 1.1 * size
    if jobs == "1":
        # The peek, then the rest in requests of a MB or more: not one per block of lines.
        fetches = [size for what, size in requests() if what == "fetch"]
        assert fetches[0] == sources.PEEK_BYTES and len(fetches) <= 1 + -(-size // 2**20)


def test_a_read_fetches_what_it_asks(log, counted):
    """A peek at the first stamp, a chunk's boundary, a worker's check of the first 4 KB: each
    fetches its bytes, not a block of 5 MB past them (kept until the object is read)."""
    put, requests = counted
    inputs = sources.open_sources([put("maillog", log)])
    assert fetched(requests) == sources.PEEK_BYTES
    source = inputs.sources[0]
    for size, offset in ((4096, 0), (16_384, 1_000_003), (1, source.size - 1)):
        before = fetched(requests)
        assert source.read_at(size, offset) == log.read_bytes()[offset:offset + size]
        assert fetched(requests) - before == size
    source.close()


@pytest.mark.parametrize("failing, error, raised", [
    ("modified", KeyboardInterrupt(), KeyboardInterrupt),  # ^C while the store answers
    ("seekable", RuntimeError("session expired"), OSError),  # a driver's own error
], ids=["interrupted", "driver"])
def test_a_url_opened_is_closed_whatever_fails_after(failing, error, raised, log, counted,
                                                     monkeypatch):
    """What open_url() asks once the object is open (its time, whether it seeks) fails: the
    file opened is closed all the same."""
    put, _ = counted
    url = put("maillog", log)
    monkeypatch.setattr(Counted, "failing", {failing: error})
    with pytest.raises(raised):
        sources.open_url(url)
    assert len(Counted.opened) == 1 and Counted.opened[0].closed


def test_a_worker_does_not_ask_the_time_of_a_url(log, counted, cli, monkeypatch):
    """The object's time anchors yearless stamps here; a worker reads its chunk with the
    clock it is given: one request in all, not one more per chunk."""
    put, requests = counted
    url = put("maillog", log)
    chunks_of(len(Counted.store["maillog"]) // 6, monkeypatch)
    sent = record_jobs(monkeypatch)
    result = cli("-r", "messages", "-f", "csv", "--tz", "UTC", "--jobs", "2", url)
    assert result.code == 0 and result.out.count("\n") > 3000, result.err
    assert len(sent) >= 3 and all(job.path == url for job in sent)
    assert [what for what, _ in requests() if what == "modified"] == ["modified"]
