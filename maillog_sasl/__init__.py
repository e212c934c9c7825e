"""maillog-sasl: who logged in over SMTP AUTH, from where, and what happened to their mail.

The pipeline, one module a stage, data flowing one way:

    sources.open_sources   paths, `-`, gzip/bzip2/xz, rotated sets -> ordered sources of lines
    syslog.split_line      line -> stamp, host, program, text (every prefix form; Clock: times)
    events.recognize       Postfix daemon + text -> typed event
    correlate.correlate    events -> finished Session and Message objects, bounded memory
    filters.Selection      --user / --since / --until / --ip
    reports.build_report   finished objects -> rows of one report (activity.py and
                           incident.py: the incident review's per-user facts and signals)
    render.render          rows -> table | csv | json | ndjson | ids

Beside the pipeline: the generator of realistic logs with their ground truth (the sample, the
tests, the benchmark) lives in tools/simulate/, outside the package; cram_md5.py and
auth_test.py are the `cram-md5` and `auth-test` subcommands; progress.py draws the progress bar.

`analyze()` and `report()` below run the whole pipeline for library users; the CLI is a thin
layer over them.

    >>> columns, rows, stats = report("users", ["sample_logs/seed-maillog.txt"], year=2018)
    >>> rows[0]["user"], rows[0]["sent"]
    ('centos7@phoenixknight.jp', 1)
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from maillog_sasl.correlate import correlate
from maillog_sasl.filters import Selection
from maillog_sasl.model import Stats
from maillog_sasl.reports import build_report
from maillog_sasl.sources import SourceProblem, open_sources

__all__ = ["analyze", "report", "Selection", "Stats", "SourceProblem"]
__version__ = "0.1.0"


def analyze(paths, year: Optional[int] = None, zone=None, stdin=None,
            stats: Optional[Stats] = None) -> Tuple[Iterator[object], List[SourceProblem]]:
    """Correlate the logs at `paths` (`-` = stdin): (stream of Session/Message, problems).

    `problems` lists inputs that could not be opened; the stream covers the others. A source
    that fails part way records its problem on `source.problem` (see sources.py).
    """
    sources, problems = open_sources(paths, stdin=stdin, zone=zone)
    return correlate(sources, year=year, zone=zone, stats=stats), problems


def report(name: str, paths, selection: Optional[Selection] = None, year: Optional[int] = None,
           zone=None, **options) -> Tuple[list, list, Stats]:
    """One report over `paths`, as (columns, rows, stats); rows are dicts keyed by column.

    `options` go to the report (reports.build_report), e.g. show_all=True for sessions.
    """
    stats = Stats()
    stream, problems = analyze(paths, year=year, zone=zone, stats=stats)
    if problems:
        raise problems[0]
    columns, rows = build_report(name, stream, selection, **options)
    return columns, list(rows), stats
