"""--dask: a Dask cluster's workers give the very bytes of one process, for every report and
format on the golden logs, cut into small chunks; the same logs as file:// URLs, which each
worker opens itself; a rotated set with a .gz; several hosts' file sets; standard input; a file
rotated or deleted during the run (read here, with a note); and the one-line failures: Dask not
installed, a scheduler that cannot be reached, a worker that raises.

One LocalCluster of 2 worker processes (1 thread each, no dashboard) serves the module; the
tests that need Dask are skipped, saying so, where it is not installed (the [test] extra does
not bring it: .ci/run installs [dask]).
"""

import contextlib
import datetime as dt
import importlib.util
import json
import logging
import re
import sys

import pytest
from test_golden import GOLDEN, ROOT, cases, digest
from test_hosts import ARGS as HOST_ARGS
from test_hosts import before_workers, count_applied, host_sets, hosts_of, record_jobs
from test_jobs import chunks_of, rotated_set, submissions, write

from maillog_sasl import cli, cluster, open_logs, parallel
from maillog_sasl.model import Session
from maillog_sasl.syslog import fixed_zone, parse_zone

from support import SAMPLE_LOGS

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="Dask is not installed: "
                                "pip install '.[dask]' to run the --dask tests")
GOLDEN_HASHES = json.loads(GOLDEN.read_text())  # one process's bytes
# Chunks small enough that every golden log is cut into several (the sample into 5).
SAMPLE_CHUNK = 1_000_000
SMALL = 700
FIXTURE_CHUNK = 4_000  # tests/fixtures/postfix37's 61 KB in 16 chunks


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster of 2 single-threaded worker processes."""
    from dask import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR,
                                  scheduler_kwargs={"dashboard_address": ":0"}) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def shared(scheduler):
    """A Cluster of one client of the module's cluster, for many runs (each run of --dask
    ADDRESS connects a client of its own: tens of ms)."""
    with cluster.connect(scheduler) as connected:
        yield connected


@pytest.fixture
def applied(monkeypatch):
    """The number of pieces a worker correlated that this process applied (so far)."""
    return count_applied(monkeypatch)


GOLDEN_CASES = list(cases())
# The sample takes 0.4 s a run: each report in JSON, and the users report in every format.
SAMPLE_CASE = re.compile(r" -f json$|^sample -r users -f ")


def outcome(result) -> tuple:
    return result.code, result.out, result.err


@needs_dask
@pytest.mark.parametrize("log", sorted({case.split()[0] for case, _ in GOLDEN_CASES}))
def test_every_report_and_format_gives_the_golden_bytes(log, shared, applied, monkeypatch):
    """Each report of tests/golden, in each format (the sample's in one, and every format of
    one), on a cluster of 2 workers."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(cli, "connect", lambda address, workers: contextlib.nullcontext(shared))
    chunks_of({"sample": SAMPLE_CHUNK, "postfix37": FIXTURE_CHUNK}.get(log, SMALL), monkeypatch)
    for case, args in GOLDEN_CASES:
        if case.split()[0] == log and (log != "sample" or SAMPLE_CASE.search(case)):
            assert digest([*args, "--dask", "shared"]) == GOLDEN_HASHES[case], case
    # The straggler's chunks all hold a New Year: each is read here again, by design.
    assert applied[0] or log == "scenario-new_year_straggler", "no piece of a worker was used"


@pytest.fixture
def sent(monkeypatch):
    """The jobs handed to the workers (so far)."""
    return record_jobs(monkeypatch)


@pytest.fixture
def on_shared(shared, monkeypatch):
    """--dask shared: the module's cluster, through its one client."""
    monkeypatch.setattr(cli, "connect", lambda address, workers: contextlib.nullcontext(shared))


URL_LOGS = ("seed", "postfix37", "scenario-new_year_straggler")


@needs_dask
@pytest.mark.parametrize("log", URL_LOGS)
def test_file_urls_give_the_golden_bytes(log, on_shared, applied, sent, monkeypatch):
    """Each worker opens the URL itself (no path shared but the URL): every report in JSON."""
    monkeypatch.chdir(ROOT)
    chunks_of(FIXTURE_CHUNK if log == "postfix37" else SMALL, monkeypatch)
    for case, args in GOLDEN_CASES:
        if case.split()[0] == log and case.endswith(" -f json"):
            url = (ROOT / args[-1]).as_uri()
            assert digest([*args[:-1], url, "--dask", "shared"]) == GOLDEN_HASHES[case], case
    assert {job.path for job in sent} == {url} and all(job.seen for job in sent)
    assert applied[0] or log == "scenario-new_year_straggler", "no piece of a worker was used"


@needs_dask
def test_the_file_sets_of_several_hosts(tmp_path, on_shared, applied, sent, cli, monkeypatch):
    """As with --jobs (tests/test_hosts.py): each chunk one host's, each piece the workers'."""
    paths = host_sets(tmp_path)
    one = outcome(cli(*HOST_ARGS, *paths))
    assert one[0] == 0, one[2]
    chunks_of(SMALL, monkeypatch)
    assert outcome(cli(*HOST_ARGS, "--dask", "shared", *paths)) == one
    assert len(sent) > 2 * len(paths) and applied[0] == len(sent)
    assert all(len(hosts_of(job, paths)) == 1 for job in sent)


@needs_dask
def test_a_worker_that_raises_is_one_line(tmp_path, on_shared, cli, monkeypatch):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 50))
    chunks_of(SMALL, monkeypatch)

    def failing(job):  # pickled by value (cloudpickle): it runs on the workers
        raise RuntimeError("a bug\nin two lines")

    monkeypatch.setattr(parallel, "_work", failing)
    result = cli("-f", "csv", "--year", "2026", path, "--dask", "shared")
    assert (result.code, result.out) == (2, "")
    assert result.err == ("maillog-sasl: a worker process failed: RuntimeError: a bug; "
                          "try without --dask\n")


@needs_dask
@pytest.mark.parametrize("how", ["rotated", "deleted"])
def test_a_file_rotated_during_the_run_is_read_here(how, tmp_path, on_shared, applied, cli,
                                                   monkeypatch):
    """logrotate between the plan and the workers' opening it: each worker finds another file
    (or none) at the path and sends its chunk back; this process reads it through the
    descriptor it kept, and says so once."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    path = write(tmp_path, "maillog", submissions(start, 60))
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC", str(path)]
    expected = outcome(cli(*args))
    chunks_of(SMALL, monkeypatch)

    def rotate():
        path.rename(tmp_path / "maillog.1")
        if how == "rotated":
            write(tmp_path, "maillog", submissions(start + dt.timedelta(days=1), 60))

    before_workers(monkeypatch, rotate)
    code, out, err = outcome(cli(*args, "--dask", "shared"))
    why = ("changed since it was opened here (rotated?)" if how == "rotated"
           else "a worker could not open it (No such file or directory)")
    assert (code, out) == expected[:2] and applied[0] == 0
    assert err == f"maillog-sasl: {path}: {why}: read by this process, through the file it " \
                  "opened\n"


@needs_dask
def test_times_come_back_with_this_process_zone_objects(shared, applied):
    """A cluster's worker, like a forked one, sends times back with this process's one tzinfo
    object per offset (syslog.fixed_zone), which times compare many times faster by."""
    sessions = [item for item in open_logs(
        [SAMPLE_LOGS / "maillog-sample.log"], zone=parse_zone("Europe/Berlin"),
        jobs=shared.ahead, executor=shared.executor, chunk_size=SAMPLE_CHUNK)
        if isinstance(item, Session)]
    assert applied[0] >= 2 and len(sessions) > 800
    assert all(session.start.tzinfo is fixed_zone(session.start.utcoffset())
               for session in sessions)


@needs_dask
def test_a_rotated_set_with_a_gz(tmp_path, scheduler, applied, sent, cli, monkeypatch):
    paths = rotated_set(tmp_path, dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
    chunks_of(SMALL, monkeypatch)
    for fmt in ("table", "csv", "json"):
        args = ["-r", "messages", "-f", fmt, "--stats", "--year", "2026", "--tz", "UTC",
                *paths]
        one = outcome(cli(*args))
        assert one[0] == 0 and one[1], one[2]
        assert outcome(cli(*args, "--dask", scheduler)) == one, fmt
    assert applied[0] > 3
    # The .gz whole, opened by its path on a worker; the plain files in byte ranges.
    assert {(job.path, job.start) for job in sent if job.path.endswith(".gz")} == {
        (str(paths[2]), None)}
    assert len({job.path for job in sent}) == 3


@needs_dask
def test_standard_input_is_read_here(tmp_path, scheduler, cli, monkeypatch):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 50))
    chunks_of(SMALL, monkeypatch)
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC"]
    expected = outcome(cli(*args, path))
    monkeypatch.setattr(parallel, "_work", None)  # a worker would fail
    assert outcome(cli(*args, "--dask", scheduler, "-", stdin=path.read_bytes())) == expected


@needs_dask
def test_a_local_cluster_of_jobs_workers(tmp_path, cli, monkeypatch):
    """--dask local starts its own cluster (sized by --jobs) and closes it."""
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 60))
    chunks_of(SMALL, monkeypatch)
    args = ["-f", "csv", "--year", "2026", "--tz", "UTC", path]
    assert outcome(cli(*args, "--dask", "local", "--jobs", "2")) == outcome(cli(*args))


def test_without_dask_one_line_names_the_extra(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)  # `import dask` raises ImportError
    result = cli("--dask", "local", "sample_logs/seed-maillog.txt")
    assert result.code == 2 and result.out == ""
    assert result.err == ("maillog-sasl: --dask needs Dask: pip install 'maillog-sasl[dask]'\n")


@needs_dask
@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "no-port", "bogus://x:1"])
def test_a_scheduler_not_reached_is_one_line(address, cli, monkeypatch):
    monkeypatch.setattr(cluster, "TIMEOUT", 1)
    result = cli("--dask", address, "sample_logs/seed-maillog.txt")
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert result.err.startswith(f"maillog-sasl: --dask: cannot reach the Dask scheduler at "
                                 f"{address}: ")


def test_jobs_with_a_scheduler_is_a_usage_error(cli):
    result = cli("--dask", "tcp://127.0.0.1:1", "--jobs", "2", "sample_logs/seed-maillog.txt")
    assert result.code == 2 and "--jobs sizes --dask local only" in result.err

