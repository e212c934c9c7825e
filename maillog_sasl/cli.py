"""cli: `maillog-sasl [options] LOG...` and its subcommands, a thin layer over the library.

DESCRIPTION
    Options -> filters.Selection and a report name -> sources -> correlate -> reports -> render.
    `maillog-sasl cram-md5 ...` and `maillog-sasl auth-test ...` are dispatched to their modules
    when the first argument is exactly their name (a log file named like one is given as
    `./cram-md5`).

DIAGNOSTICS
    Exit status 0 on success (an empty input gives an empty report); 2 for a usage error (an
    unknown option, a bad --since/--ip/--tz value), for an input that could not be read, or one
    that failed part way: one line on stderr names it, and the report still covers every other
    input and everything read before the failure. Never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sqlite3
import sys

from maillog_sasl import __version__
from maillog_sasl.correlate import correlate
from maillog_sasl.filters import FilterError, Selection
from maillog_sasl.incident import add_incident_options, incident_options
from maillog_sasl.model import Stats
from maillog_sasl.progress import Progress
from maillog_sasl.render import FORMATS, render
from maillog_sasl.reports import REPORTS, build_report
from maillog_sasl.sources import open_sources
from maillog_sasl.syslog import parse_zone

SUBCOMMANDS = {
    "cram-md5": "maillog_sasl.cram_md5",
    "auth-test": "maillog_sasl.auth_test",
}

EXAMPLES = """\
examples:
  maillog-sasl /var/log/maillog
  maillog-sasl --user 'centos7@*' --since 2018-09-17 --until '2018-09-18 06:00' /var/log/maillog*
  maillog-sasl --report messages --format csv -o incident.csv /var/log/maillog.1.gz /var/log/maillog
  maillog-sasl --report failures --ip 203.0.113.0/24 /var/log/maillog
  maillog-sasl --report suspicious /var/log/maillog*
  maillog-sasl --report timeline --user bad@example.jp /var/log/maillog*
  maillog-sasl --report queue --user bad@example.jp --format ids /var/log/maillog | postsuper -d -
  journalctl -u postfix -o short-iso | maillog-sasl -

subcommands:
  maillog-sasl cram-md5 USER [CHALLENGE]     compute an AUTH CRAM-MD5 response
  maillog-sasl auth-test HOST[:PORT] --user USER   try SMTP AUTH against a server
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="maillog-sasl",
        description="Report SMTP AUTH logins in Postfix logs: which users logged in, from which "
                    "IPs, with what mechanism, and what happened to every message they sent.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="LOG",
                        help="log files (plain, gzip, bzip2 or xz, any order), or - for stdin")
    parser.add_argument("--report", "-r", choices=sorted(REPORTS), default="users",
                        help="what to list (default: users); e.g. --report messages")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table",
                        help="output format (default: table); e.g. --format csv")
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="write the report to FILE instead of stdout; e.g. -o incident.csv")
    parser.add_argument("--user", "-u", action="append", default=[], metavar="PATTERN",
                        help="only this SASL username; shell glob, case-insensitive, repeatable; "
                             "e.g. --user 'centos7@*'")
    parser.add_argument("--since", metavar="TIME",
                        help="only activity at or after TIME; e.g. --since 2018-09-17")
    parser.add_argument("--until", metavar="TIME",
                        help="only activity up to TIME (a date alone: the whole day); "
                             "e.g. --until '2018-09-18 06:00'")
    parser.add_argument("--ip", action="append", default=[], metavar="ADDR",
                        help="only clients in ADDR (address or CIDR), repeatable; "
                             "e.g. --ip 203.0.113.0/24")
    parser.add_argument("--all", action="store_true", dest="show_all",
                        help="sessions report: every session with an AUTH attempt, not only "
                             "successful logins; e.g. --report sessions --all")
    parser.add_argument("--year", type=_year, metavar="YYYY",
                        help="year of the first line of yearless logs (default: from each "
                             "file's modification time); e.g. --year 2018")
    parser.add_argument("--tz", metavar="ZONE",
                        help="time zone of yearless logs and of --since/--until without one "
                             "(default: local); e.g. --tz Asia/Tokyo or --tz +09:00")
    parser.add_argument("--stats", action="store_true",
                        help="print to stderr how many lines were read, used and skipped; "
                             "e.g. --stats")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar on stderr (shown only on a terminal, for inputs "
                             "of 20 MB or more, or standard input); e.g. --quiet")
    parser.add_argument("--version", action="version", version=f"maillog-sasl {__version__}")
    add_incident_options(parser)
    return parser


def _year(text: str) -> int:
    if not text.isdigit() or not 1970 <= int(text) <= 9999:
        raise argparse.ArgumentTypeError(f"not a year: {text!r}")
    return int(text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    try:
        return _run(build_parser().parse_args(argv))
    except UsageError as error:
        print(f"maillog-sasl: {error} (see maillog-sasl --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("maillog-sasl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): nothing left to say.
        _discard_unwritten(sys.stdout)
        return 0


def _discard_unwritten(out) -> None:
    """After a failed write, drop what is still buffered: the interpreter's last flush at exit
    would fail again and print a traceback of its own."""
    try:
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        else:
            out.close()
    except (OSError, ValueError):
        pass


def _run(options) -> int:
    if not options.paths:
        raise UsageError("no log given: name one or more files, or - for standard input")
    zone = None
    if options.tz:
        zone = parse_zone(options.tz)
        if zone is None:
            raise UsageError(f"--tz: unknown time zone {options.tz!r}")
    try:
        selection = Selection.build(options.user, options.since, options.until, options.ip, zone)
    except FilterError as error:
        raise UsageError(str(error)) from None
    sources, problems = open_sources(options.paths, zone=zone)
    for problem in problems:
        print(f"maillog-sasl: {problem}", file=sys.stderr)
    if not sources:
        return 2
    out = sys.stdout
    if options.output:
        try:
            out = open(options.output, "w", encoding="utf-8", newline="")
        except OSError as error:
            print(f"maillog-sasl: {options.output}: cannot write: {error.strerror}", file=sys.stderr)
            return 2
    stats = Stats()
    progress = Progress.for_run(sources, quiet=options.quiet)
    # Sessions and messages hold no reference cycles: reference counting frees them, and the
    # cyclic collector would only walk the open ones again and again (10% of the run).
    gc.disable()
    try:
        stream = correlate(sources, year=options.year, zone=zone, stats=stats,
                           on_batch=progress.update if progress else None)
        if progress:
            stream = progress.watch(stream)
        columns, rows = build_report(options.report, stream, selection, show_all=options.show_all,
                                     **incident_options(options))
        render(options.format, columns, rows, progress.guard(out) if progress else out,
               summary=lambda: summary_line(stats))
        out.flush()
        if out is not sys.stdout:
            out.close()
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        print(f"maillog-sasl: cannot write the report: {error.strerror or error}", file=sys.stderr)
        _discard_unwritten(out)
        return 2
    except sqlite3.Error as error:
        # pairs.py keeps the logins' IPs and networks in SQLite's temporary directory.
        print(f"maillog-sasl: cannot keep the logins in a temporary file: {error} "
              "(TMPDIR names the directory to use)", file=sys.stderr)
        return 2
    finally:
        gc.enable()
        if progress:
            progress.close()
    failed_part_way = [source.problem for source in sources if source.problem is not None]
    for problem in failed_part_way:
        print(f"maillog-sasl: {problem}", file=sys.stderr)
    if options.stats:
        print(stats_text(stats), file=sys.stderr)
    return 2 if problems or failed_part_way else 0


def summary_line(stats: Stats) -> str:
    if stats.first_time is None:
        period = "no Postfix activity found"
    else:
        period = f"{stats.first_time.isoformat()} .. {stats.last_time.isoformat()}"
    return (f"{period}; {stats.lines_read} lines read; {len(stats.usernames)} users; "
            f"{stats.sessions} authenticated sessions; {stats.messages} authenticated messages")


def stats_text(stats: Stats) -> str:
    return "\n".join([
        f"files, in the order read: {', '.join(stats.sources) or '-'}",
        f"lines read:               {stats.lines_read}",
        f"lines used:               {stats.lines_used}",
        f"lines skipped:            {stats.lines_skipped}",
        f"  not syslog lines:       {stats.not_syslog}",
        f"  other programs:         {stats.other_programs}",
        f"  Postfix lines not used: {stats.postfix_unused}",
        f"  untracked queue IDs:    {stats.untracked_queue_lines}",
        f"sessions incomplete:      {stats.sessions_incomplete}",
        f"messages still queued:    {stats.messages_open_at_end}",
        f"messages lost (ID reuse): {stats.messages_lost}",
    ])


if __name__ == "__main__":
    sys.exit(main())
