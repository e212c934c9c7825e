"""forked: worker processes forked from this one, each running the jobs handed to it in turn.

SUMMARY
    Pool(workers, started)          fork `workers` processes now; each calls started() first
    pool.submit(function, argument) -> Pending: function(argument) run by the next worker
    pending.result()                its value, once the worker has it; WorkerDied, or the
                                    exception the function raised, raised here
    pool.shutdown()                 stop the workers and reap them

DESCRIPTION
    What parallel.py needs of concurrent.futures.ProcessPoolExecutor with the fork start
    method, for --jobs: a few processes that inherit the open inputs and spool files, a job at a
    time each, the results taken back in the order the jobs were handed out. That pool costs
    1.5 MB of imports (multiprocessing, concurrent.futures, logging, socket) and its two
    threads 0.5 MB more in this process, the one that holds the whole run's state: --jobs 2's
    largest process on the 10x submission benchmark log was 2 MB over the issue's 60 MB.

    The jobs go to the workers in turn. parallel.py takes the results in the order it handed
    out the jobs, so a worker that took the next job as soon as it was free would not get it
    handed on sooner. Each worker reads the pickle of (function, argument) from its own pipe
    and writes back the pickle of (True, value) or (False, exception) on another, then reads
    the next; it ends when its pipe of jobs ends (this process closed it, or ended). A worker
    never returns into this process's code: it leaves
    with os._exit(), running no atexit handler and flushing none of this process's buffers.

    Every pipe a worker inherits that is not its own (the other workers', this process's ends)
    is closed in it at once: a pipe stays open while any process holds its writing end, and a
    worker killed must end its pipe for this process to see it die.

DIAGNOSTICS
    WorkerDied, from submit() or result(), when a worker's pipe ended before its result came
    (killed, out of memory) or a job could not be handed to it (it is gone). An exception that
    cannot be pickled comes back as a WorkerFailed naming its type and message; a value that
    cannot, as one naming pickle's error. Ctrl-C is this process's: a worker ignores SIGINT
    (parallel._worker_started); shutdown() stops the workers with SIGTERM and reaps them.
"""

from __future__ import annotations

import os
import pickle
import signal
from typing import Callable, List


class WorkerDied(Exception):
    """A worker's pipe ended before its result: it was killed, or ran out of memory."""


class WorkerFailed(Exception):
    """A worker's exception that could not be pickled: its type's name and its message."""


class Pending:
    """A job handed to a worker; result() waits for its value."""

    def __init__(self, worker: "_Worker") -> None:
        self.worker = worker

    def result(self):
        return self.worker.next_result()


class _Worker:
    """One forked process and this process's ends of its two pipes."""

    def __init__(self, pid: int, jobs: int, results: int) -> None:
        self.pid = pid
        self.jobs = os.fdopen(jobs, "wb")
        self.results = os.fdopen(results, "rb")

    def hand(self, function: Callable, argument) -> None:
        try:
            pickle.dump((function, argument), self.jobs, pickle.HIGHEST_PROTOCOL)
            self.jobs.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerDied() from None

    def next_result(self):
        try:
            done, value = pickle.load(self.results)
        except (EOFError, pickle.UnpicklingError):  # ended, or cut mid-pickle: killed
            raise WorkerDied() from None
        if not done:
            raise value
        return value

    def close(self) -> None:
        for pipe in (self.jobs, self.results):
            try:
                pipe.close()
            except OSError:  # (a job not yet flushed to a worker gone)
                pass


class Pool:
    """See the module docstring."""

    def __init__(self, workers: int, started: Callable[[], None]) -> None:
        self.workers: List[_Worker] = []
        self.turn = 0
        try:
            for _ in range(workers):
                self.workers.append(self._fork(started))
        except BaseException:
            self.shutdown()
            raise

    def _fork(self, started: Callable[[], None]) -> _Worker:
        jobs_read, jobs_write = os.pipe()
        results_read, results_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                os.close(jobs_write)
                os.close(results_read)
                for other in self.workers:
                    os.close(other.jobs.fileno())
                    os.close(other.results.fileno())
                started()
                _serve(jobs_read, results_write)
                status = 0
            finally:
                os._exit(status)
        os.close(jobs_read)
        os.close(results_write)
        return _Worker(pid, jobs_write, results_read)

    def submit(self, function: Callable, argument) -> Pending:
        worker = self.workers[self.turn % len(self.workers)]
        self.turn += 1
        worker.hand(function, argument)
        return Pending(worker)

    def shutdown(self) -> None:
        """Stop every worker at once (a job it runs is not wanted any more: this process took
        every result it needs, or stops), and reap them."""
        for worker in self.workers:
            worker.close()
            try:
                os.kill(worker.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for worker in self.workers:
            try:
                os.waitpid(worker.pid, 0)
            except ChildProcessError:  # reaped by someone else (a SIGCHLD handler)
                pass
        self.workers = []


def _serve(jobs_read: int, results_write: int) -> None:
    """A worker's loop: a job at a time until its pipe ends."""
    jobs = os.fdopen(jobs_read, "rb")
    results = os.fdopen(results_write, "wb")
    while True:
        try:
            function, argument = pickle.load(jobs)
        except EOFError:
            return
        try:
            reply: tuple = (True, function(argument))
        except Exception as error:  # handed to this process, which says it in one line
            reply = (False, error)
        try:
            data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # a value, or the function's exception, that does not pickle
            failed = error if reply[0] else reply[1]
            data = pickle.dumps((False, WorkerFailed(f"{type(failed).__name__}: {failed}")))
        results.write(data)
        results.flush()
