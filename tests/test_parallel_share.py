"""--jobs 2: this process and one forked worker; this process reads about half the byte ranges
itself (the first HEAD_START, then every other one, not the last) and applies the worker's
pieces of the others, in order: the same objects in the same order as one process.
"""

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
    pool = parallel.Pool

    def recorded_pool(workers, started):
        pools.append(workers)
        return pool(workers, started)

    monkeypatch.setattr(parallel, "Pool", recorded_pool)
    assert canonical(analysis(2)) == one
    chunks = -(-SAMPLE.stat().st_size // 400_000)
    assert pools == [1]
    # The worker's ranges are read in its process: only this process's are recorded here.
    here = parallel.HEAD_START + (chunks - 1 - parallel.HEAD_START) // 2
    assert starts[0] == 0 and len(starts) == here
    assert canonical(analysis(4)) == one
    assert pools == [1, 4] and len(starts) == here


def test_two_ranges_here_first_then_every_other_the_last_and_whole_inputs_the_worker_s():
    jobs = [parallel.Job(0, start, start + 10, None) for start in range(0, 100, 10)]
    whole = [parallel.Job(1, None, None, None)]
    more = [parallel.Job(2, start, start + 10, None) for start in range(0, 30, 10)]
    shared = parallel._shared([jobs, None, whole, more])
    assert [job.here for job in shared[0]] == [True, True, False, True, False,
                                               True, False, True, False, True]
    assert shared[1] is None and [job.here for job in shared[2]] == [False]
    # The ranges of every input are counted as one run: the last of them all is the worker's.
    assert [job.here for job in shared[3]] == [False, True, False]
    two = parallel._shared([jobs[:2]])
    assert [job.here for job in two[0]] == [True, False]


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
