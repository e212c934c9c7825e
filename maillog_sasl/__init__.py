"""maillog-sasl: who logged in over SMTP AUTH, from where, and what happened to their mail.

SUMMARY
    open_logs(paths, ...) -> Analysis   the finished sessions and messages, streamed
    analyze(paths, ...) -> Analysis     the same, read to the end and kept (`.items`)
    report(name, paths, ...) -> ReportResult(columns, rows, stats, problems, notes)

DESCRIPTION
    The pipeline, one module a stage, data flowing one way (each module imports only those
    above it):

        sources.open_sources   paths, `-`, gzip/bzip2/xz, rotated sets -> Source objects
                               whose batches() give lines, oldest file first
        syslog.split_line      line -> stamp, host, program tag, text (every prefix form);
                               syslog.Clock turns stamps into times
        events.smtpd_kind      Postfix daemon + text -> what the line is; events.recognize
                               and the parsers beside it -> typed event
        model                  Session, Message, Recipient, Stats: what correlation builds
        correlate.correlate    lines -> finished Session and Message objects, bounded memory;
                               parallel.correlate_parallel the same on several processes
                               (forked.Pool), or on a Dask cluster's (cluster.connect)
        enrich                 where a client is (enrich.Geo over local MaxMind DB files),
                               and the location and sender rules' per-account facts
        filters.Selection      --user / --since / --until / --ip / --country / --asn
        activity.Activity      the stream -> per-user and per-IP facts (pairs.PairStore
                               keeps the accounts' IPs and networks on disk);
        incident               those facts -> signals and verdicts of compromise
        reports.build_report   finished objects -> rows of one report
        render.render          rows -> table | csv | json | ndjson | ids

    Beside the pipeline: cli.py, the command line, the only module that knows argparse;
    progress.py draws the progress bar; output.py writes a file whole or not at all, and never
    over an input (-o); cram_md5.py, auth_test.py and password.py are the `cram-md5` and
    `auth-test` subcommands. The log generator of the tests, the sample and the benchmarks is
    not part of the package: tools/simulate/ in the source tree.

    >>> result = report("users", ["sample_logs/seed-maillog.txt"], year=2018)
    >>> result.rows[0]["user"], result.rows[0]["sent"], result.problems
    ('centos7@phoenixknight.jp', 1, [])

DIAGNOSTICS
    Nothing here raises on log content. An input that cannot be opened, fails part way (a
    truncated .gz), holds no syslog line or Postfix lines whose timestamp is no time (a month
    in a language not read), or runs newest line first (`tac`), is a sources.Problem in
    `problems`, in the order met;
    every other input, and everything read before the failure, is still analysed. The same file
    given twice, a copy of another, a file of warnings another log holds and a file whose
    Postfix lines another rotated set holds (syslog beside mail.log) are read once (or not),
    and noted in `notes` (in the same form), an Analysis's and a ReportResult's.
    pairs.StoreError when the temporary database cannot be written (a full disk);
    parallel.WorkerError when a worker process of `jobs` dies. Wrong arguments, before any
    input is opened: TypeError for what is no path, an option a report does not take or a
    value of the wrong type (a year, zone or jobs as text); ValueError for a report name that
    is none, a `by` that is no view, a `top` below 1 (reports.check_arguments()).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Iterator, List, NamedTuple, Optional

from maillog_sasl.activity import ThresholdError, Thresholds
from maillog_sasl.correlate import correlate as _correlate  # `correlate`: the module
from maillog_sasl.filters import FilterError, Selection
from maillog_sasl.model import Finished, Message, Session, Stats
from maillog_sasl.pairs import StoreError
from maillog_sasl.parallel import CHUNK_SIZE, WorkerError, correlate_parallel
from maillog_sasl.reports import build_report, check_arguments
from maillog_sasl.sources import Problem, open_sources

__all__ = ["Analysis", "FilterError", "Problem", "ReportResult", "Selection", "Stats",
           "StoreError", "ThresholdError", "Thresholds", "WorkerError", "analyze", "open_logs",
           "report"]
__version__ = "0.1.0"


class Analysis:
    """The logs at some paths, correlated.

    Iterate it (once) for the finished Session and Message objects, in the order they finished.
    `problems` lists every input that could not be opened, failed part way, held no syslog
    line or Postfix lines whose timestamp is no time, or ran newest line first
    (sources.Problem: path and message); it is complete once the iteration has ended.
    `notes` lists the inputs read once because they were given twice (the same file by another
    name, or a copy) and the inputs whose stamps name a zone their times are not read in
    (journalctl's short-full read under another --tz), in the same form, once the Analysis is
    made; with workers, those read
    here because a worker found them changed (rotated) or could not open them are added as
    they are met.
    `stats` counts the lines read, used and skipped, and grows as they are read; `sources` are
    the inputs that could be opened, in the order they are read; `on_batch(source, stats)`,
    when set before the iteration starts, is called after each block of lines. `log_time` is
    the inputs' first timestamp, for Selection.resolve(): --since/--until without a zone are
    the log's when its stamps carry one.
    """

    def __init__(self, paths, year: Optional[int] = None, zone=None, stdin=None, on_batch=None,
                 jobs: int = 1, chunk_size: int = CHUNK_SIZE, executor=None):
        _check_reading(year, zone, jobs, chunk_size)
        self.sources, self.problems, self.notes = open_sources(paths, stdin=stdin, zone=zone)
        self.stats = Stats()
        self.items: Optional[List[Finished]] = None
        # Settable until the iteration starts: a progress bar needs `sources` to be made.
        self.on_batch = on_batch
        if jobs > 1 or executor is not None:
            self._stream = correlate_parallel(
                self.sources, jobs, year=year, zone=zone, stats=self.stats,
                on_batch=self._batch_done, problems=self.problems, chunk_size=chunk_size,
                executor=executor, notes=self.notes)
        else:
            self._stream = _correlate(self.sources, year=year, zone=zone, stats=self.stats,
                                     on_batch=self._batch_done, problems=self.problems)

    @property
    def log_time(self) -> Optional[datetime]:
        return next((source.first_time for source in self.sources if source.first_time), None)

    def _batch_done(self, source, stats: Stats) -> None:
        if self.on_batch is not None:
            self.on_batch(source, stats)

    def __iter__(self) -> Iterator[Finished]:
        return iter(self.items) if self.items is not None else self._stream

    def close(self) -> None:
        """Let go of the inputs without reading them (reading them to the end does this), and
        of the worker processes of `jobs`, which hold them open too."""
        for source in self.sources:
            source.close()
        try:
            self._stream.close()  # its end stops the workers
        except ValueError:  # called within the iteration (on_batch): the read ends cut short
            pass

    def read(self) -> "Analysis":
        """Read every input to its end and keep what it gave in `items`."""
        if self.items is None:
            self.items = list(self._stream)
        return self

    @property
    def sessions(self) -> List[Session]:
        return [item for item in self.read().items or () if isinstance(item, Session)]

    @property
    def messages(self) -> List[Message]:
        return [item for item in self.read().items or () if isinstance(item, Message)]


def _check_reading(year, zone, jobs, chunk_size) -> None:
    """A TypeError or ValueError for how the logs are to be read, before any is opened: a
    year or a zone given as text failed deep in the reading of the first line."""
    for label, value in (("year", year), ("jobs", jobs), ("chunk_size", chunk_size)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{label}: a whole number, not {value!r}")
    if zone is not None and not isinstance(zone, tzinfo):
        raise TypeError(f"zone: a tzinfo (datetime.timezone(timedelta(hours=9)), "
                        f"dateutil.tz.gettz('Asia/Tokyo')), not {zone!r}")
    if jobs is None or jobs < 0 or chunk_size is None or chunk_size < 1:
        raise ValueError(f"jobs: 0 or more, chunk_size: 1 or more, not {jobs!r}, {chunk_size!r}")


def open_logs(paths, year: Optional[int] = None, zone=None, stdin=None,
              on_batch=None, jobs: int = 1, chunk_size: int = CHUNK_SIZE,
              executor=None) -> Analysis:
    """The logs at `paths` (file names or URLs, one alone a path; `-`: standard input, or the
    stream `stdin`, read as bytes: a text stream's `buffer`), streamed; TypeError for what is
    no path (a descriptor, a file object) and for a `stdin` of text alone (io.StringIO).

    `year` is the year of the first line of yearless logs (default: from each file's end: its
    last line's time when that names its year, else its modification time), `zone` their time
    zone (a tzinfo; default: local). `on_batch(source, stats)` is called after each block of
    lines (a progress bar). With `jobs` above 1, regular files are read by that many worker
    processes, in chunks of about `chunk_size` bytes (parallel.py): the same objects in the
    same order. With `executor` (cluster.connect()), a
    cluster's workers read them, `jobs` + 1 chunks in flight (its Cluster's `ahead`).
    """
    return Analysis(paths, year=year, zone=zone, stdin=stdin, on_batch=on_batch, jobs=jobs,
                    chunk_size=chunk_size, executor=executor)


def analyze(paths, year: Optional[int] = None, zone=None, stdin=None, jobs: int = 1,
            chunk_size: int = CHUNK_SIZE) -> Analysis:
    """open_logs(), read to the end: `items`, `sessions`, `messages` and `problems` complete."""
    return open_logs(paths, year=year, zone=zone, stdin=stdin, jobs=jobs,
                     chunk_size=chunk_size).read()


class ReportResult(NamedTuple):
    columns: List[str]
    rows: List[dict]
    stats: Stats
    problems: List[Problem]
    # The inputs read once, or left out, because another input holds their lines (Analysis):
    # a caller who gave mail.log and mail.info sees why one of them counted nothing.
    notes: List[Problem]


def report(name: str, paths, selection: Optional[Selection] = None, year: Optional[int] = None,
           zone=None, **options) -> ReportResult:
    """One report over `paths`; rows are dicts keyed by column.

    The `selection`'s --since/--until without a zone are placed as the command line places
    them: in the zone of the logs' stamps when they carry one, else in `zone`, else the
    machine's (Selection.resolve(); FilterError when since is then later than until), unless
    the caller placed them (Selection.build() given a zone or log_time: `selection.placed`).
    `options` go to the report (reports.build_report), e.g. show_all=True for sessions.
    """
    check_arguments(name, selection, options)
    analysis = open_logs(paths, year=year, zone=zone)
    try:  # the inputs let go of when the report fails too
        if selection is not None and not selection.placed:
            selection.resolve(zone, analysis.log_time)
        columns, rows = build_report(name, analysis, selection, **options)
        rows = list(rows)
    finally:
        analysis.close()
    return ReportResult(columns, rows, analysis.stats, analysis.problems, analysis.notes)
