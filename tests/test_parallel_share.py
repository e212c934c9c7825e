"""--jobs 2: this process and one forked worker; this process reads about half the byte ranges
itself (the first HEAD_START, then every other one, more when it waited for the worker, fewer
when the worker ran out of work, not the last: parallel._Share) and applies the worker's
pieces of the others, in order: the same objects in the same order as one process.
"""

import concurrent.futures
import errno
import os

from test_jobs import canonical
from test_parallel_batches import SAMPLE, analysis

import maillog_sasl
from maillog_sasl import parallel
from maillog_sasl.sources import BLOCK_SIZE
from maillog_sasl.syslog import parse_zone


def read_here(monkeypatch) -> list:
    """[the start of each byte range this process read itself], from now on."""
    starts: list = []
    batches = parallel._Range.batches

    def recorded(chunk):
        starts.append(chunk.start)
        return batches(chunk)

    monkeypatch.setattr(parallel._Range, "batches", recorded)
    return starts


def test_two_jobs_read_a_share_here_and_the_rest_in_one_worker(monkeypatch):
    one = canonical(analysis(1))
    starts = read_here(monkeypatch)
    pools = []
    pool = concurrent.futures.ProcessPoolExecutor

    def recorded_pool(workers, **options):
        pools.append(workers)
        return pool(workers, **options)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", recorded_pool)
    assert canonical(analysis(2)) == one
    chunks = -(-SAMPLE.stat().st_size // 400_000)
    assert pools == [1]
    # The worker's ranges are read in its process: only this process's are recorded here,
    # the first HEAD_START among them, and never the last (how many more depends on how the
    # two kept pace: _Share).
    here = len(starts)
    assert starts[:parallel.HEAD_START] == sorted(starts[:parallel.HEAD_START])
    assert starts[0] == 0 and parallel.HEAD_START <= here < chunks
    assert canonical(analysis(4)) == one
    assert pools == [1, 4] and len(starts) == here


def decisions(jobs, signals=()):
    """_Share's decision for each of `jobs` in turn, `signals` (index -> "waited" or
    "ran_dry") noted before the decision at that index."""
    share = parallel._Share(jobs)
    found = []
    for index, job in enumerate(jobs):
        if index in signals:
            setattr(share, dict(signals)[index], True)
        found.append(share.here(index, job))
    return found


RANGES = [parallel.Job(0, start, start + 10, None) for start in range(0, 100, 10)]


def test_two_ranges_here_first_then_every_other_the_last_and_whole_inputs_the_worker_s():
    assert decisions(RANGES) == [True, True, False, True, False,
                                 True, False, True, False, False]
    whole = parallel.Job(1, None, None, None)
    more = [parallel.Job(2, start, start + 10, None) for start in range(0, 30, 10)]
    # The ranges of every input are counted as one run: the last of them all is the worker's,
    # and an input read whole is the worker's wherever it comes.
    assert decisions(RANGES[:3] + [whole] + more) == [True, True, False, False, True, False,
                                                      False]
    assert decisions(RANGES[:2]) == [True, False]


def test_a_wait_for_the_worker_keeps_one_range_more_here_and_a_worker_out_of_work_one_fewer():
    assert decisions(RANGES, {4: "waited"}) == [True, True, False, True, True,
                                                False, True, False, True, False]
    # Each wait leans one more: two in a row give two more ranges here.
    assert decisions(RANGES, {4: "waited", 5: "waited"}) == [True, True, False, True, True,
                                                             True, False, True, False, False]
    assert decisions(RANGES, {3: "ran_dry"}) == [True, True, False, False, True,
                                                 False, True, False, True, False]
    # A wait noted at the last range changes nothing: it is the worker's.
    assert decisions(RANGES, {9: "waited"}) == decisions(RANGES)


def test_a_read_failing_here_is_the_input_s_problem_as_in_one_process(monkeypatch):
    def failing(_range):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
        yield

    monkeypatch.setattr(parallel._Range, "batches", failing)
    result = analysis(2)
    assert list(result) == []
    assert [str(problem) for problem in result.problems] == [
        f"{SAMPLE}: read failed part way: {os.strerror(errno.EIO)}"]



def test_a_read_failing_here_on_a_piece_that_failed_its_check_is_the_input_s_problem(
        monkeypatch, tmp_path):
    """A worker's piece fails its check and its range is read again here, where the read fails
    (EIO) part way: the input's problem, what was read before kept, as one process reading the input up
    to that range gives (before: the OSError ended the run)."""
    parent = os.getpid()
    checked: list = []
    why_not, batches = parallel._Merge.why_not, parallel._Range.batches

    def second_fails(self, piece, guess, clock):
        checked.append(piece.stats.lines_read)
        return "a check failed" if len(checked) == 2 else why_not(self, piece, guess, clock)

    def failing_here(chunk):
        read = batches(chunk)
        if os.getpid() == parent:  # its first block read, then EIO
            checked.append(chunk.start)
            yield next(read)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        yield from read

    monkeypatch.setattr(parallel._Merge, "why_not", second_fails)
    monkeypatch.setattr(parallel._Range, "batches", failing_here)
    result = analysis(3)  # two workers: every range is a worker's
    items = canonical(result)[0]
    assert [str(problem) for problem in result.problems] == [
        f"{SAMPLE}: read failed part way: {os.strerror(errno.EIO)}"]
    assert len(checked) == 3 and checked[2] > 0  # (the third range's piece was not checked)
    head = tmp_path / SAMPLE.name
    data = SAMPLE.read_bytes()
    head.write_bytes(data[:data.rindex(b"\n", 0, checked[2] + BLOCK_SIZE) + 1])
    monkeypatch.undo()
    assert items and items == canonical(maillog_sasl.open_logs(
        [head], year=2026, zone=parse_zone("UTC"), jobs=1))[0]
