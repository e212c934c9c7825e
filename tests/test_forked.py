"""forked.Pool: --jobs's worker processes, without multiprocessing."""

import os
import signal
import subprocess
import sys
import time

import pytest

from maillog_sasl import forked, parallel

from support import children_of, living

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")


def square(number):
    return number * number


def pid_of(_):
    return os.getpid()


def refuse(reason):
    raise ValueError(reason)


def unpicklable(_):
    return lambda: None  # a value pickle cannot send


def refuse_oddly(reason):
    class Odd(Exception):  # a class pickle cannot name
        pass

    raise Odd(reason)


def die(_):
    os._exit(9)  # as the kernel's OOM killer ends a process


def pipes_of(pid: int) -> set:
    found = set()
    for descriptor in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


@pytest.fixture
def pool():
    made = []

    def make(workers):
        made.append(forked.Pool(workers, parallel._worker_started))
        return made[-1]

    yield make
    for each in made:
        each.shutdown()


def test_results_come_back_in_the_order_the_jobs_were_handed_out(pool):
    workers = pool(2)
    pending = [workers.submit(square, number) for number in range(7)]
    assert [each.result() for each in pending] == [number * number for number in range(7)]
    pids = [workers.submit(pid_of, None).result() for _ in range(4)]
    assert len(set(pids)) == 2 and os.getpid() not in pids  # in turn, each in a worker


def test_a_workers_exception_is_raised_here_and_the_worker_goes_on(pool):
    workers = pool(1)
    with pytest.raises(ValueError, match="^no such chunk$"):
        workers.submit(refuse, "no such chunk").result()
    with pytest.raises(forked.WorkerFailed, match="^Odd: no such chunk$"):
        workers.submit(refuse_oddly, "no such chunk").result()
    with pytest.raises(forked.WorkerFailed, match="^(AttributeError|PicklingError): Can't pickle"):
        workers.submit(unpicklable, None).result()
    assert workers.submit(square, 3).result() == 9


def test_a_killed_worker_is_worker_died_not_a_wait_for_ever(pool):
    workers = pool(2)
    assert workers.submit(square, 2).result() == 4
    with pytest.raises(forked.WorkerDied):
        workers.submit(die, None).result()  # the second worker's
    assert workers.submit(square, 5).result() == 25  # the first goes on
    # Handing it a job fails, or (the job written before its pipe was closed, as it ended)
    # waiting for the result does.
    with pytest.raises(forked.WorkerDied):
        workers.submit(square, 1).result()


def test_shutdown_ends_and_reaps_every_worker_even_one_at_work(pool):
    workers = pool(2)
    pids = [worker.pid for worker in workers.workers]
    workers.submit(time.sleep, 60)
    started = time.monotonic()
    workers.shutdown()
    assert time.monotonic() - started < 30
    assert not set(pids) & set(children_of(os.getpid()))  # not even zombies


def test_a_worker_holds_no_other_workers_pipe(pool):
    """A pipe ends only when every process holding its writing end has closed it: a worker
    holding another's pipe of jobs would keep that one waiting after this process died."""
    workers = pool(3)
    assert [workers.submit(square, 2).result() for _ in range(3)] == [4, 4, 4]  # all started
    own = {worker.pid: {os.readlink(f"/proc/self/fd/{pipe.fileno()}")
                        for pipe in (worker.jobs, worker.results)} for worker in workers.workers}
    for worker in workers.workers:
        others = set().union(*(pipes for pid, pipes in own.items() if pid != worker.pid))
        held = pipes_of(worker.pid)
        assert own[worker.pid] <= held and not held & others


def test_the_workers_end_with_a_run_killed_outright():
    """SIGKILL (the OOM killer) runs no shutdown: each worker must see its pipe end."""
    code = ("import os, signal, sys\n"
            "sys.path.insert(0, 'tests')\n"
            "from maillog_sasl import forked, parallel\n"
            "import test_forked\n"
            "workers = forked.Pool(3, parallel._worker_started)\n"
            "print(*(worker.pid for worker in workers.workers), flush=True)\n"
            "workers.submit(test_forked.square, 2).result()\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == -signal.SIGKILL, run.stderr
    pids = [int(pid) for pid in run.stdout.split()]
    assert len(pids) == 3
    deadline = time.monotonic() + 20
    while living(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not living(pids)
