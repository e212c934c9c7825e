"""The file sets of several hosts given together (a central syslog server's
/var/log/hosts/HOST/maillog*): one process reads them oldest file first, whatever the host, and
--jobs cuts each file into byte ranges of that one host's lines, so no worker correlates two
hosts and what crosses a chunk is only what crosses it in that host's own log; the report is
byte for byte one process's (tests/test_dask.py: the same on a Dask cluster).
"""

import datetime as dt
import gzip

from test_jobs import chunks_of, session_lines, submissions, write

from maillog_sasl import parallel

HOSTS = ("mx1", "mx2", "mx3")
SMALL = 700


def host_sets(root):
    """[hosts/HOST/maillog, maillog.1, maillog.2.gz] for each of HOSTS: the same queue IDs and
    PIDs on every host (state is keyed by host), each host's day a few minutes after the
    one before, messages deferred across the rotation."""
    paths = []
    for number, host in enumerate(HOSTS):
        start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=3 * number)
        lines = [line.replace(" mail ", f" {host} ", 1) for line in submissions(start, 90)]
        old = [line.replace(" mail ", f" {host} ", 1)
               for line in session_lines(start - dt.timedelta(days=1), 400)]
        folder = root / "hosts" / host
        folder.mkdir(parents=True)
        with gzip.open(folder / "maillog.2.gz", "wt") as packed:
            packed.write("\n".join(old) + "\n")
        half = len(lines) // 2
        paths += [write(folder, "maillog", lines[half:]), write(folder, "maillog.1", lines[:half]),
                  folder / "maillog.2.gz"]
    return paths


def record_jobs(monkeypatch) -> list:
    """The jobs handed to the workers from now on (the list fills as they are)."""
    sent: list = []
    pieces = parallel._Pieces
    monkeypatch.setattr(parallel, "_Pieces", lambda executor, jobs, *rest: pieces(
        executor, sent.extend(jobs) or jobs, *rest))
    return sent


def count_applied(monkeypatch) -> list:
    """[the number of pieces a worker correlated that this process applied, so far]."""
    count = [0]
    apply = parallel._Merge.apply

    def counted(merge, piece, clock):
        count[0] += 1
        return apply(merge, piece, clock)

    monkeypatch.setattr(parallel._Merge, "apply", counted)
    return count


def before_workers(monkeypatch, action, at: str = "_Pieces") -> None:
    """`action()` once the chunks are planned, before the workers open the inputs (a rotation
    during the run); at="Pool": before they are forked, for what only this process's memory
    holds (a memory:// object), which a worker sees as it was when forked."""
    made = getattr(parallel, at)

    def acted(*given):
        action()
        return made(*given)

    monkeypatch.setattr(parallel, at, acted)


ARGS = ("-r", "messages", "-f", "json", "--stats", "--year", "2026", "--tz", "UTC")


def hosts_of(job, paths):
    """The hosts named by the lines of a job's byte range (or whole file)."""
    path = next(path for path in paths if str(path) == job.path or path.name == job.path)
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if job.start is not None:
        data = data[job.start:job.end]
    return {line.split()[3] for line in data.decode().splitlines()}


def test_the_hosts_files_interleave_as_one_process_reads_them(tmp_path, cli):
    """Oldest file first across hosts: every host's .gz, then every maillog.1, then maillog."""
    paths = host_sets(tmp_path)
    result = cli(*ARGS, *paths)
    assert result.code == 0, result.err
    order = result.err.split("files, in the order read: ", 1)[1].split("\n")[0].split(", ")
    assert [name.split("/hosts/")[1] for name in order] == [
        f"{host}/{name}" for name in ("maillog.2.gz", "maillog.1", "maillog") for host in HOSTS]


def test_each_chunk_holds_one_host_and_the_report_is_one_process(tmp_path, cli, monkeypatch):
    paths = host_sets(tmp_path)
    one = cli(*ARGS, *paths)
    assert one.code == 0 and len(one.json()) == 3 * 90, one.err
    sent, applied = record_jobs(monkeypatch), count_applied(monkeypatch)
    chunks_of(SMALL, monkeypatch)
    for jobs in ("2", "4"):
        result = cli(*ARGS, "--jobs", jobs, *paths)
        assert (result.code, result.out, result.err) == (one.code, one.out, one.err), jobs
    # Forked workers read through the descriptors they inherit: jobs name a source by index.
    by_index = {index: path for index, path in enumerate(
        sorted(paths, key=lambda path: (path.name != "maillog.2.gz", path.name == "maillog",
                                        path.parent.name)))}
    assert len(sent) > 2 * len(paths)
    for job in sent:
        assert len(hosts_of(job._replace(path=str(by_index[job.source])), paths)) == 1, job
    assert applied[0] == len(sent)  # every piece was a worker's: none was read here again
