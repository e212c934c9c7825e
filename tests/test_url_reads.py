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
    """A log of some 2 MB, longer than a read-ahead block of fsspec's is not needed: the
    costs below are per read."""
    return write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 3000))


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
    assert len(sent) >= 6 and all(job.path == url for job in sent)
    assert [what for what, _ in requests() if what == "modified"] == ["modified"]
