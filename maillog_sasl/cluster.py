"""cluster: correlate the logs on a Dask cluster, the same objects in the same order as one.

SUMMARY
    connect(address, workers=0) -> context manager giving a Cluster
    Cluster(executor, ahead)   a concurrent.futures executor of the cluster's workers, and how
                               many chunks they may read ahead of the one merged
    ClusterError               Dask is missing or the scheduler cannot be reached; str() is
                               one line

DESCRIPTION
    `--dask ADDRESS` runs parallel.py's partition on a Dask distributed cluster: the same
    chunks (byte ranges of a plain file at line starts; a compressed or small file whole), each
    correlated by parallel._work on a worker, and the same merge here, in order, with the same
    checks and the same chunks read here when a check fails. The executor is Dask's own
    concurrent.futures one (Client.get_executor), handed to parallel.correlate_parallel: the
    merge is not copied. `--dask local` starts a LocalCluster of one single-threaded worker
    process per usable core (or --jobs N), without a dashboard, and closes it at the end.

    A worker opens its input itself (Job.path): a file by its absolute path, so the logs must
    be on storage every worker sees at that path (a shared filesystem); a URL (`s3://...`,
    `gcs://...`, `https://...`, `file:///...`) by that URL, through fsspec (sources.py), which
    needs no shared filesystem but the scheme's driver and credentials on every worker. What
    a worker opens is checked against what this process opened (Job.seen: at least the size
    seen here, and the same first 4 KB; not the inode, which differs between the clients of
    one NFS export): a file renamed or replaced during the run (logrotate), or an object
    replaced, or one the worker cannot open, sends its chunk back to be read here through
    the file opened here, with one note. A file renamed or deleted before the run is read
    here. Standard input and pipes are read here, in their turn, as with --jobs. The workers
    need maillog-sasl installed, at the same version.

    Partition by host. A chunk is a byte range of one input (parallel._plan), and the inputs
    are read oldest first whatever their host (sources.open_sources), as one process reads
    them. So when each host has its own file set (a central syslog server's
    /var/log/hosts/HOST/maillog*, given together), every chunk holds one host's lines: no
    worker correlates two hosts, and what reaches this process beyond the finished objects
    is only what is open across a chunk's ends in that host's own log, which byte ranges
    within a host need (tests/test_hosts.py: each chunk one host's, every piece used, the
    report byte for byte one process's). Nothing more was built for it.

    One file interleaving many hosts is cut into byte ranges too, each worker correlating
    every host of its range; it is not cut by host, because that would not pay and would
    need another merge. Every partition would read the whole file to find its host's lines
    (one read per host, or a shuffle writing the file out per host first), where a byte range
    is read once; the correlation state is keyed by host already, so a byte range is as local
    as a host's partition except at its two ends. And what the command writes is defined on
    the one stream order: the finished objects come in the order one process finishes them,
    hosts interleaved line by line; the Stats count lines of no host too (not syslog,
    unparsed); a yearless stamp's year follows the month of the line before it whatever its
    host, and the New Year, straggler and DST checks look at a chunk's months in that order;
    the incident signals are fed from that stream. Cutting by host would take: workers that
    tag each finished object, fold and open end with the offset of the line it came from,
    per-host clocks checked against the one clock of the file's order, and a merge of the
    hosts' pieces by offset that rebuilds the Stats and the clock's path: the byte-range
    merge that exists, rebuilt, for a cost the byte ranges do not have.

DIAGNOSTICS
    ClusterError, one line for the command to print: Dask not installed (naming the extra
    `pip install 'maillog-sasl[dask]'`), a scheduler address that is malformed or not reached
    within TIMEOUT seconds, a local cluster that cannot start. A worker that dies or fails
    mid-run is parallel.WorkerError, as with --jobs, one line ending `try without --dask`.
    An input a worker cannot open or finds changed is not an error: its chunks are read here
    (parallel.correlate_parallel's note).
"""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING, Iterator, NamedTuple

from maillog_sasl.parallel import usable_cores

if TYPE_CHECKING:
    import concurrent.futures

TIMEOUT = 10  # seconds to reach a scheduler
INSTALL = "pip install 'maillog-sasl[dask]'"


class ClusterError(Exception):
    """Dask is missing or the cluster cannot be reached; str() is one line."""


class Cluster(NamedTuple):
    executor: concurrent.futures.Executor
    # The merge takes the pieces in order: twice the workers' threads keeps each busy while
    # the one merged next travels back.
    ahead: int


@contextlib.contextmanager
def connect(address: str, workers: int = 0) -> Iterator[Cluster]:
    """The cluster at `address` ("local": a LocalCluster of `workers` processes, or one per
    usable core), for as long as the `with` lasts; ClusterError when it cannot be had."""
    import logging  # here: Dask's own logging; a tenth of the command's start-up otherwise

    try:
        from dask import distributed
    except ImportError:
        raise ClusterError(f"--dask needs Dask: {INSTALL}") from None
    with contextlib.ExitStack() as stack:
        try:
            if address == "local":
                # No dashboard; the scheduler's HTTP server (health, metrics) on a free port,
                # not on 8787, where another cluster's would make Dask warn on stderr.
                target = stack.enter_context(distributed.LocalCluster(
                    n_workers=workers or usable_cores(), threads_per_worker=1, processes=True,
                    dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                    preload=[__name__], silence_logs=logging.ERROR))
            else:
                target = address
            client = stack.enter_context(
                distributed.Client(target, timeout=TIMEOUT, set_as_default=False))
            threads = sum(client.nthreads().values())
        except (OSError, ValueError, RuntimeError) as error:
            where = "start a local Dask cluster" if address == "local" else \
                f"reach the Dask scheduler at {address}"
            raise ClusterError(f"--dask: cannot {where}: {error}") from None
        # pure=False: each chunk is its own task, not hashed from its arguments.
        executor = client.get_executor(pure=False)
        try:
            yield Cluster(executor, max(2, 2 * threads))
        except BaseException:
            # Stopped early (Ctrl-C, a report that cannot be written): the pieces still
            # travelling back are cut, and Dask's event loop would log a traceback for each.
            logging.getLogger("tornado.application").disabled = True
            raise
        finally:
            executor.shutdown(wait=False)  # cancels what is still running (an early stop)



def dask_setup(worker) -> None:
    """Run by each local worker process as it starts (its preload): Ctrl-C is this process's,
    which stops the cluster; not a traceback from each worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
