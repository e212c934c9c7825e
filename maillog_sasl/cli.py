"""cli: `maillog-sasl [options] LOG...` and its subcommands, a thin layer over the library.

SUMMARY
    main(argv=None) -> exit status       (the console script)
    build_parser() -> the report command's argparse parser

DESCRIPTION
    The only module that knows argparse. Options become plain values: a filters.Selection, an
    activity.Thresholds, a report name and format; maillog_sasl.open_logs() reads the logs,
    reports.build_report() and render.render() write the report. `maillog-sasl cram-md5 ...`,
    `maillog-sasl auth-test ...`, `maillog-sasl contain ...`, `maillog-sasl watch ...` and
    `maillog-sasl state ...` are dispatched to the subcommands at the end of this file (over
    cram_md5.py, auth_test.py, contain.py, watch.py and state.py) when the first argument is
    exactly their name (a log file named like one is given as `./cram-md5`).

DIAGNOSTICS
    Exit status 0 on success (an empty input gives an empty report); 2 for a usage error (an
    unknown option, a bad --since/--ip/--tz value), and when the analysis lists problems (an
    input that could not be read, failed part way, held no syslog line, or Postfix lines whose
    timestamp is no time: counted, the last one shown; or ran newest line first): one line on
    stderr for each, and the report still covers every other input and every other line read
    before the failure. A report that cannot be written, or a temporary database that cannot
    be (a full disk), is one line and exit 2; so is -o naming one of the logs or of the GeoIP
    databases (checked before anything is read or written). -o FILE is replaced only by a
    whole report (output.AtomicWriter). Inputs read once because they were given twice are one
    line each (a note: the exit status stays 0). Never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as _dt
import gc
import io
import json
import math
import os
import re
import shlex
import signal
import stat
import sys
import threading
from typing import TYPE_CHECKING, Dict, List, Optional, Union

# The subcommands' own modules (watch, contain, auth-test, cram-md5, state, and the alerts
# with Python's email package) are imported by the subcommand that uses them: a report, on a
# small log, is mostly start-up, 16 ms and 1.5 MB less without them (benchmarks/README.md).
from maillog_sasl import __version__, enrich, open_logs, output
from maillog_sasl.activity import ThresholdError, Thresholds
from maillog_sasl.cluster import ClusterError, connect
from maillog_sasl.filters import FilterError, Selection
from maillog_sasl.incident import counted
from maillog_sasl.layout import IMPORTANCE, Fit, choose_columns, report_key, terminal_width
from maillog_sasl.model import UNKNOWN_USER, Stats
from maillog_sasl.pairs import StoreError
from maillog_sasl.parallel import WorkerError, usable_cores
from maillog_sasl.password import (
    ENV_VAR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PASSWORD_HELP,
    InputError,
    PasswordError,
    is_utf8,
    read_password,
    read_stdin_line,
)
from maillog_sasl.progress import Progress
from maillog_sasl.render import FORMATS, json_safe, render
from maillog_sasl.reports import (
    REPORTS,
    Scope,
    build_report,
    gives_tuples,
    queue_caveat,
    report_of,
)
from maillog_sasl.sources import MAX_LINE, local_paths
from maillog_sasl.syslog import MAX_YEAR, MIN_YEAR, parse_zone

if TYPE_CHECKING:
    from maillog_sasl import watch

EXAMPLES = """\
examples:
  maillog-sasl /var/log/maillog
  maillog-sasl --user 'centos7@*' --since 2018-09-17 --until '2018-09-18 06:00' /var/log/maillog*
  maillog-sasl --report messages --format csv -o incident.csv /var/log/maillog.1.gz /var/log/maillog
  maillog-sasl --report failures --ip 203.0.113.0/24 /var/log/maillog
  maillog-sasl --report suspicious /var/log/maillog*
  maillog-sasl --report timeline --user bad@example.jp /var/log/maillog*
  maillog-sasl --report queue --user bad@example.jp --format ids /var/log/maillog | postsuper -d -
  maillog-sasl --report queue --flagged --format ids /var/log/maillog | postsuper -d -
  maillog-sasl --report ips --flagged --format ids /var/log/maillog*    # attackers' IPs
  journalctl -u postfix -o short-iso | maillog-sasl -

subcommands:
  maillog-sasl cram-md5 USER [CHALLENGE]     compute an AUTH CRAM-MD5 response
  maillog-sasl auth-test HOST[:PORT] --user USER   try SMTP AUTH against a server
  maillog-sasl contain USER LOG... --hold --reject  hold its queued mail, refuse its logins
  maillog-sasl watch [--once] LOG...         follow logs, alert on suspicious accounts
  maillog-sasl state [--forget USER]         what watch's state holds
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
                        help="log files (plain, gzip, bzip2 or xz, any order), URLs that "
                             "fsspec opens (s3://bucket/maillog*; the extra [url]), or - for "
                             "stdin")
    parser.add_argument("--report", "-r", choices=sorted(REPORTS), default="users",
                        help="what to list (default: users); e.g. --report messages")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table",
                        help="output format (default: table); e.g. --format csv")
    parser.add_argument("--columns", metavar="LIST",
                        help="the columns to show, in this order, in every format (all: every "
                             "column, none hidden on a terminal); e.g. --columns user,flags,ips")
    parser.add_argument("--width", type=_width, metavar="N",
                        help="fit tables to N columns: the least important columns hidden, "
                             "long cells cut (default: the terminal's width on a terminal, "
                             "whole tables to a file or a pipe; 0: never cut); e.g. --width 120")
    parser.add_argument("--output", "-o", metavar="FILE", type=_file_name,
                        help="write the report to FILE instead of stdout; e.g. -o incident.csv")
    parser.add_argument("--user", "-u", action="append", default=[], metavar="PATTERN",
                        help="only this SASL username; shell glob, case-insensitive, repeatable; "
                             "e.g. --user 'centos7@*'")
    parser.add_argument("--since", metavar="TIME",
                        help="only activity at or after TIME: now, '2h ago', '30 min ago', "
                             "'3 days ago', '1 week ago', today, yesterday, monday (the latest, "
                             "today included), 'last friday', 'yesterday 18:00', or any date "
                             "python-dateutil reads (2018-09-17, 'Sep 17 2018 6am'); without a "
                             "zone, in the log's own (RFC 3339 stamps), else --tz, else local; "
                             "e.g. --since yesterday, --since '2h ago', --since 2018-09-17")
    parser.add_argument("--until", metavar="TIME",
                        help="only activity up to TIME, the same forms; a day means its end "
                             "(2018-09-17, yesterday, friday: the whole day); "
                             "e.g. --until yesterday, --until '2018-09-18 06:00'")
    parser.add_argument("--ip", action="append", default=[], metavar="ADDR",
                        help="only clients in ADDR (address or CIDR), repeatable; "
                             "e.g. --ip 203.0.113.0/24")
    parser.add_argument("--host", action="append", default=[], metavar="NAME",
                        help="only what host NAME logged (the syslog host name, as a central "
                             "syslog's file holds several; case-insensitive), repeatable; "
                             "e.g. --host mx1")
    parser.add_argument("--country", action="append", default=[], metavar="CC",
                        help="only clients the GeoIP database places in country CC (ISO "
                             "code), repeatable; e.g. --country JP")
    parser.add_argument("--asn", action="append", default=[], metavar="N",
                        help="only clients in autonomous system N (GeoIP ASN database), "
                             "repeatable; e.g. --asn 4713")
    parser.add_argument("--flagged", action="store_true",
                        help="only the accounts the suspicious report flags (every report); "
                             "e.g. --report queue --flagged --format ids")
    parser.add_argument("--top", type=_count, metavar="N",
                        help="at most N rows (every report, after sorting); e.g. --top 10")
    parser.add_argument("--all", action="store_true", dest="show_all",
                        help="sessions report: every session with an AUTH attempt, not only "
                             "successful logins; e.g. --report sessions --all")
    parser.add_argument("--year", type=_year, metavar="YYYY",
                        help="year of the first line of yearless logs (default: from each "
                             "file's last line when that has its year and every file's does, "
                             "else the file's modification time); e.g. --year 2018")
    parser.add_argument("--tz", metavar="ZONE",
                        help="time zone of yearless logs, and of --since/--until without one "
                             "unless the log's stamps carry theirs (default: local); "
                             "e.g. --tz Asia/Tokyo or --tz +09:00")
    parser.add_argument("--stats", action="store_true",
                        help="print to stderr how many lines were read, used and skipped; "
                             "e.g. --stats")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar on stderr (shown only on a terminal, for inputs "
                             "of 20 MB or more, or standard input); e.g. --quiet")
    parser.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="read regular files with N processes (default 1: this process "
                             "alone, the least CPU and memory; 0: one per usable core; standard "
                             "input and pipes are read by this process); the same report "
                             "whatever N; with --dask local, the local cluster's workers; "
                             "e.g. --jobs 0")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="read regular files on the Dask cluster of this scheduler, or on "
                             "a local cluster of one worker per usable core (`local`); the "
                             "logs at the same path on every worker, or URLs each worker opens "
                             "(standard input and pipes are read by this process); needs the "
                             "extra [dask]; the same report; e.g. --dask tcp://10.0.0.5:8786")
    parser.add_argument("--version", action="version", version=f"maillog-sasl {__version__}")
    _add_geo_options(parser)
    _add_incident_options(parser)
    return parser


GEO_GAINS = ("With a database the reports gain columns (users: countries, asns; ips: country, "
             "asn, as_org; sessions and failures: country, asn; timeline: new_ips) and the "
             "countries, new-country and travel signals work; without one every report is as "
             "before.")


def _add_geo_options(parser: argparse.ArgumentParser, gains: str = GEO_GAINS) -> None:
    group = parser.add_argument_group(
        "where from (GeoIP)",
        "Countries and networks of every login, from MaxMind DB files on this machine (never "
        "the network): GeoLite2/GeoIP2 Country, City, ASN, DB-IP lite. Without --geoip, the "
        f"*.mmdb files in {' and '.join(enrich.WELL_KNOWN)} are used when there are any. "
        + gains)
    group.add_argument("--geoip", action="append", default=[], metavar="PATH",
                       help="a MaxMind DB file (its kind read from its metadata), repeatable; "
                            "e.g. --geoip /var/lib/GeoIP/GeoLite2-City.mmdb")
    group.add_argument("--no-geoip", action="store_true",
                       help="use no database, not even the well-known ones: every report "
                            "as without one; e.g. --no-geoip")
    group.add_argument("--allow-country", action="append", default=[], metavar="CC",
                       help="leave logins from country CC out of the location signals "
                            "(countries, new-country, travel, new-network, shared-ip), "
                            "repeatable; e.g. --allow-country JP")
    group.add_argument("--allow-asn", action="append", default=[], metavar="N",
                       help="the same for autonomous system N (a VPN, a mobile carrier), "
                            "repeatable; e.g. --allow-asn 64496")
    group.add_argument("--allow-ip", action="append", default=[], metavar="CIDR",
                       help="the same for clients in CIDR (an office NAT), repeatable, no "
                            "database needed; e.g. --allow-ip 192.0.2.0/24")


def _open_geo(options) -> Optional[enrich.Geo]:
    """The run's GeoIP databases: --geoip's files (enrich.GeoError for one that cannot be
    used), else, unless --no-geoip, the usable ones of the well-known directories (a note on
    stderr for each there that cannot be read); None when there are none."""
    if options.no_geoip:
        if options.geoip:
            raise UsageError("--no-geoip and --geoip: give one or the other")
        return None
    if options.geoip:
        return enrich.open_geo(options.geoip)
    paths, problems = enrich.find_databases()
    for problem in problems:
        print(f"maillog-sasl: {problem}; not used", file=sys.stderr)
    return enrich.open_geo(paths) if paths else None


def _geo_options(options, geo: Optional[enrich.Geo]) -> enrich.Allow:
    """Check that the options that need a database have one of the right kind (UsageError);
    the allow-lists."""
    wanted = (("--country", options.country, "country"), ("--asn", options.asn, "asn"),
              ("--allow-country", options.allow_country, "country"),
              ("--allow-asn", options.allow_asn, "asn"))
    for flag, values, kind in wanted:
        if values and (geo is None or kind not in geo.kinds):
            what = "a Country or City" if kind == "country" else "an ASN"
            found = ("none is loaded" if geo is None
                     else f"{', '.join(geo.paths)} {'is' if len(geo.paths) == 1 else 'are'} "
                          "of no such kind")
            raise UsageError(f"{flag} needs {what} database (--geoip PATH): {found}")
    try:
        return enrich.Allow([enrich.country_code(text) for text in options.allow_country],
                            [enrich.asn_number(text) for text in options.allow_asn],
                            [enrich.client_network(text) for text in options.allow_ip])
    except ValueError as error:
        text = str(error)
        if text.startswith(("not a country", "not an autonomous")):
            raise UsageError(f"--allow-{'country' if 'country' in text else 'asn'}: {text}"
                             ) from None
        raise UsageError(f"--allow-ip: not an IP address or network: {text}") from None


def _file_name(text: str) -> str:
    """A file option's value: an empty one would read as no option at all (a report meant for
    a file going to the terminal, a state in its default place)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty file name")
    return text


def _width(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number of columns: {text!r}")
    return int(text)


def _year(text: str) -> int:
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"not a year: {text!r}")
    return int(text)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout(1), systemd stopping a job), SIGHUP (the terminal or the ssh
    session closed) or SIGQUIT (Ctrl-\\): the run unwinds as from Ctrl-C, so that -o's temporary
    file goes with it (it stayed, a part of the report, when the signal killed the process)."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


# The signals that end a run as _Terminated.
TERMINATING = output.TERMINATING


def _terminated(number, frame):
    raise _Terminated(number)


def _handle(numbers, handler) -> dict:
    """`handler` for each signal of `numbers` not ignored (nohup's, a script's `&`: left
    ignored); {signal: the handler before}, for _restore()."""
    previous = {}
    for number in numbers:
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    return previous


def _restore(previous: dict) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    previous = {}
    try:
        previous = _handle(TERMINATING, _terminated)
    except ValueError:  # main() called from another thread than the main one: left as it is
        pass
    try:
        return _run(build_parser().parse_args(_negative_offsets(argv)))
    except UsageError as error:
        print(f"maillog-sasl: {error} (see maillog-sasl --help)", file=sys.stderr)
        return 2
    except _Terminated as stop:
        print("maillog-sasl: terminated", file=sys.stderr)
        return 128 + stop.number
    except KeyboardInterrupt:
        print("maillog-sasl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): nothing left to say.
        _discard_unwritten(sys.stdout)
        return 0
    finally:
        _restore(previous)


def _negative_offsets(argv):
    """`--tz -07:00` as `--tz=-07:00`: argparse takes a value that starts with a dash for an
    option of its own."""
    fixed = []
    for index, arg in enumerate(argv):
        if index and argv[index - 1] == "--tz" and arg[:1] == "-" and arg[1:2].isdigit():
            fixed[-1] = f"--tz={arg}"
        else:
            fixed.append(arg)
    return fixed


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
        selection = Selection.parse(options.user, options.since, options.until, options.ip,
                                    countries=options.country, asns=options.asn,
                                    hosts=options.host)
    except FilterError as error:
        raise UsageError(str(error)) from None
    try:
        geo = _open_geo(options)
    except enrich.GeoError as error:
        print(f"maillog-sasl: --geoip: {error}", file=sys.stderr)
        return 2
    try:
        return _run_with(options, zone, selection, geo)
    finally:
        if geo is not None:
            geo.close()


def _run_with(options, zone, selection: Selection, geo: Optional[enrich.Geo]) -> int:
    allow = _geo_options(options, geo)
    selection.geo = geo
    report = report_of(options.report, options.by)
    if options.format == "ids" and report.ids is None:
        name = f"{options.report} report" + (" by user" if report is not REPORTS[options.report]
                                              else "")
        raise UsageError(f"--format ids: the {name} has no IDs (queue IDs: messages, queue; "
                         "client IPs: ips, failures)")
    table = options.format == "table"
    report_options = {"show_all": options.show_all, "flagged": options.flagged,
                      "top": options.top, "scope": Scope(tally=table, assess=table),
                      **_incident_options(options)}
    if geo is not None:
        report_options["geo"] = geo
    if allow:
        report_options["allow"] = allow
    options.chosen_columns = _chosen_columns(options, geo)
    if options.output:
        clash = _input_at(options.output, options.paths, databases=geo.paths if geo else ())
    elif sys.stdout is None:  # started with it closed (`>&-`)
        clash = "standard output is closed: give -o FILE"
    else:
        # `maillog-sasl maillog >> maillog`: the shell opened the log for the report.
        clash = _input_at(_descriptor_path(sys.stdout), options.paths, "standard output")
    if clash:
        print(f"maillog-sasl: {clash}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        try:
            jobs, executor = _workers(options, stack)
        except ClusterError as error:
            print(f"maillog-sasl: {error}", file=sys.stderr)
            return 2
        return _read(options, zone, selection, report_options,
                     open_logs(options.paths, year=options.year, zone=zone, jobs=jobs,
                               executor=executor))


def _workers(options, stack: contextlib.ExitStack):
    """(jobs, executor) for open_logs(): --jobs, or the --dask cluster, kept open by `stack`
    (ClusterError when it cannot be had)."""
    if options.dask is None:
        # One process unless asked: on a 2-core mail server in trouble the cores are busy, and
        # there 2 processes take their CPU time, up to twice one's (benchmarks/README.md).
        return (1 if options.jobs is None else options.jobs or usable_cores()), None
    if options.dask != "local" and options.jobs is not None:
        raise UsageError("--jobs sizes --dask local only: a scheduler's workers are its own")
    cluster = stack.enter_context(connect(options.dask, workers=options.jobs or 0))
    return cluster.ahead, cluster.executor


def _read(options, zone, selection: Selection, report_options: dict, analysis) -> int:
    """Write the report of `analysis`; the exit status."""
    for note in analysis.notes:
        print(f"maillog-sasl: {note}", file=sys.stderr)
    shown = len(analysis.notes)
    # Times without a zone are the log's when its stamps carry one: known once it is opened.
    try:
        selection.resolve(zone, analysis.log_time, options.tz)
    except FilterError as error:
        analysis.close()
        raise UsageError(str(error)) from None
    report_options["stats"] = analysis.stats
    if analysis.sources:
        failure = _report(options, analysis, selection, report_options)
        if failure:
            print(f"maillog-sasl: {failure}", file=sys.stderr)
            return 2
    for note in analysis.notes[shown:]:  # inputs a worker sent back to be read here
        print(f"maillog-sasl: {note}", file=sys.stderr)
    caveat = queue_caveat(analysis.stats) if options.report == "queue" else ""
    if caveat:
        print(f"maillog-sasl: {caveat}", file=sys.stderr)
    for problem in analysis.problems:
        print(f"maillog-sasl: {problem}", file=sys.stderr)
    if options.stats:
        print(stats_text(analysis.stats), file=sys.stderr)
    return 2 if analysis.problems else 0


def _descriptor_path(stream) -> str:
    """A name of the file open on `stream` (/dev/fd/N), or '' when it has none (a test's
    capture, a closed stream)."""
    try:
        return f"/dev/fd/{stream.fileno()}"
    except (AttributeError, OSError, ValueError):
        return ""


def _input_at(target: Optional[str], paths, shown: str = "", databases=()) -> str:
    """Why the report must not be written to `target` (one line; `shown` names it there, if
    not its path), or '' when it may, or there is none: the file there is one of the logs
    (symlinks and hard links followed, `-` compared too) or of the GeoIP `databases` read."""
    if not target:
        return ""
    inputs: list = list(databases)
    for path in paths:
        if path == "-":
            try:
                inputs.append(sys.stdin.fileno())
            except (AttributeError, OSError, ValueError):
                pass  # closed, or not a file: not a file that -o could name
        else:
            inputs.extend(local_paths(path))  # a file:// URL's file too
    clash = output.same_file(target, inputs)
    if clash is None:
        return ""
    kind = "GeoIP database" if clash in databases else "log"
    if clash == target:
        return f"{target}: is also a {kind} to read; not overwritten"
    what = "standard input" if isinstance(clash, int) else f"the {kind} {clash}"
    return f"{shown or target}: is the same file as {what}; not overwritten"


# The files SQLite and the lock keep beside a state (state.py), and those postmap makes of an
# access table (by the database type: hash and btree, lmdb, cdb, dbm and sdbm), which no other
# output may be.
STATE_FILES = ("", ".lock", "-journal", "-wal", "-shm")
TABLE_FILES = ("", ".db", ".lmdb", ".cdb", ".dir", ".pag")


def _outputs_clash(outputs) -> str:
    """Why two of `outputs` ((option, path); None paths left out) must not both be written
    (one line), or '': one path where they resolve to (a file not made yet included), or one
    file by device and inode (hard links). The state is compared with its files beside it."""
    named = [(option, path) for option, path in outputs if path]
    for index, (option, path) in enumerate(named):
        for other_option, other in named[index + 1:]:
            if any(_same_place(place, there) for place in _files_of(option, path)
                   for there in _files_of(other_option, other)):
                return f"{other_option} {other}: is also {option}'s; not overwritten"
    return ""


def _output_at_input(option: str, path: Optional[str], paths, databases=()) -> str:
    """_input_at() of each file an output option writes (_files_of()): the first clash."""
    return next(filter(None, (_input_at(place, paths, databases=databases)
                              for place in (_files_of(option, path) if path else ()))), "")


def _table_path(args) -> str:
    """The check_sasl_access table of `contain` and `watch --contain`."""
    from maillog_sasl import contain

    return args.sasl_access or (os.path.join(args.config_dir, contain.MAP_NAME)
                                if args.config_dir else contain.DEFAULT_MAP)


def _files_of(option: str, path: str) -> List[str]:
    """The files an output option writes: the state's and the table's beside them too (the
    state's beside the file a symbolic link names: its lock and SQLite's journals are; any
    other's named as given)."""
    if option == "--state":
        beside = os.path.realpath(path) if os.path.islink(path) else path
        return [path] + [beside + suffix for suffix in STATE_FILES if suffix]
    return [path + suffix for suffix in (TABLE_FILES if option == "--sasl-access" else ("",))]


def _same_place(path: str, other: str) -> bool:
    """One file, or one to be: the same place, or the same file by device and inode. A device
    or a pipe (/dev/null, a terminal, journald's pipe as /dev/stdout) takes any number of
    writers."""
    for name in (path, other):
        try:
            mode = os.stat(name).st_mode
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(mode):
            return False
    return (os.path.realpath(path) == os.path.realpath(other)
            or output.same_file(other, [path]) is not None)


def _whole_writes(stream):
    """`stream`, or, where Python runs unbuffered (-u, PYTHONUNBUFFERED=1, as many containers
    set it), a buffered text stream on its file: a raw file's write may take part of what it
    is given (a disk filling up) and a text stream ignores the rest, so a report came out cut,
    with exit status 0; a buffered one writes the rest or raises. Its file stays open."""
    if not isinstance(getattr(stream, "buffer", None), io.RawIOBase):
        return stream
    try:
        raw = io.FileIO(stream.fileno(), "w", closefd=False)
    except (AttributeError, OSError, ValueError):
        return stream
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=stream.encoding,
                            errors=stream.errors, line_buffering=stream.line_buffering)


def _as_utf8(out) -> None:
    # A stdout opened in a legacy locale would fail on the first non-Latin username. The
    # command owns its stdout; render() leaves a library caller's stream as it is.
    encoding = getattr(out, "encoding", None)
    if encoding and codecs.lookup(encoding).name != "utf-8" and hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")


def _report(options, analysis, selection, report_options: dict) -> str:
    """Write the report; '' when it was written, else why not (one line for stderr).

    -o FILE is written under a temporary name and renamed over FILE once the report is whole
    (output.AtomicWriter): a failed or interrupted run leaves FILE as it was.
    """
    out = _whole_writes(sys.stdout)
    _as_utf8(out)
    writer = None
    if options.output:
        try:
            writer = output.AtomicWriter(options.output, encoding="utf-8", newline="")
        except OSError as error:
            return f"{options.output}: cannot write: {error.strerror or error}"
        out = writer.file
    progress = None
    # Sessions and messages hold no reference cycles: reference counting frees them, and the
    # cyclic collector only walks the open ones again and again: 5% of the CPU time of the
    # default report on the mx benchmark log (1.85 s against 1.95 s), none measurable on the
    # submission log. The command owns its process; the library leaves the collector alone.
    gc.disable()
    try:
        progress = Progress.for_run(analysis.sources, quiet=options.quiet)
        if progress:
            analysis.on_batch = progress.update
        stream = progress.watch(analysis) if progress else analysis
        fit = _fit(options, out)
        report = report_of(options.report, options.by)
        # CSV and JSON write every row's columns in order: tuples, where the report has them.
        tuples = options.format in ("csv", "json", "ndjson") and gives_tuples(report,
                                                                              report_options)
        columns, rows = build_report(options.report, stream, selection, tuples=tuples,
                                     **report_options)
        scope, filters = report_options["scope"], filters_text(options)
        ids = _HostsOfIds(report.ids) if options.format == "ids" else None
        render(options.format, options.chosen_columns or columns, rows,
               progress.guard(out) if progress else out,
               summary=lambda: "; ".join(filter(None, (
                   summary_line(analysis.stats, scope, filters, options.report),
                   selection.zone_note))),
               fit=fit, ids=ids or report.ids,
               empty=lambda: no_rows_reason(analysis.stats, scope, filters, options),
               row_columns=columns if tuples else None)
        if writer is not None:
            writer.commit()
        else:
            out.flush()
        if ids is not None and len(ids.hosts) > 1:
            print(f"maillog-sasl: {ids.caveat()}", file=sys.stderr)
        caveat = ids.instances_caveat() if ids is not None else ""
        if caveat:
            print(f"maillog-sasl: {caveat}", file=sys.stderr)
    except OSError as error:
        if isinstance(error, BrokenPipeError) and writer is None:
            raise
        if writer is None:
            _discard_unwritten(out)
        return f"cannot write the report: {error.strerror or error}"
    except (StoreError, WorkerError) as error:
        return str(error)
    finally:
        gc.enable()
        if writer is not None:
            writer.discard()  # after commit(), nothing; else the temporary file goes
        if progress:
            progress.close()
    return ""


class _HostsOfIds:
    """A report's `ids` that notes the hosts of the queue IDs it gives: a central syslog's log
    holds several mail hosts, each with its own queue, and a queue ID names a message only on
    the host that logged it (`postsuper -d -` on one host must not be handed another's). So
    with the Postfix instances of a host (postmulti), where the rows say theirs (`instance`):
    postsuper run for one instance silently leaves another's messages."""

    def __init__(self, ids):
        self.ids = ids
        self.hosts: set = set()
        self.instances: set = set()

    def __call__(self, row: dict) -> Optional[str]:
        found = self.ids(row)
        if found is not None and "queue_id" in row:
            self.hosts.add(row.get("host") or "")
            if "instance" in row:
                self.instances.add(row["instance"])
        return found

    def instances_caveat(self) -> str:
        """The line on the instances of the IDs; "" when one postsuper takes them all: those of
        no instance known go to the primary's, as contain gives them (a single instance's
        queue report holds them when the log ends before a message's qmgr line)."""
        from maillog_sasl.contain import Postfix

        if len(self.instances) < 2:
            return ""
        postfix = Postfix()
        names = sorted(self.instances)
        argv = {name: shlex.join(postfix.instance(name).argv("postsuper", "-d", "-"))
                for name in names}
        if len(set(argv.values())) < 2:
            return ""
        commands = ", ".join(f"`{_printable(argv[name])}` "
                             f"for {_printable(name) or 'those of no instance known'}"
                             for name in names)
        return (f"these queue IDs are in the queues of {len(names)} Postfix instances "
                f"({', '.join(_printable(name) or '(not known)' for name in names)}): a queue "
                "ID names a message only in its own instance's queue; give each instance its "
                "own (the `instance` column: -f csv --columns instance,queue_id): "
                f"{commands}")

    def caveat(self) -> str:
        names = ", ".join(_printable(name) or "(no host)" for name in sorted(self.hosts))
        return (f"these queue IDs were logged by {len(self.hosts)} hosts ({names}): a queue ID "
                "names a message only on its own host; give --host NAME for one host's")


def _chosen_columns(options, geo=None) -> Optional[List[str]]:
    """The columns --columns names (checked against the report's before any log is read; a
    GeoIP database's columns when one is loaded)."""
    if options.columns is None:
        return None
    report = REPORTS[options.report]
    if report.views and options.by in report.views:
        report = report.views[options.by]
    try:
        return choose_columns(options.columns, report.columns_with(geo))
    except ValueError as error:
        raise UsageError(f"--columns: {error}") from None


def _fit(options, out) -> Optional[Fit]:
    """How to fit a table: to --width, else to the terminal it goes to; None: not at all."""
    if options.format != "table":
        return None
    width = terminal_width(out) if options.width is None else options.width
    if not width:
        return None
    return Fit(width, IMPORTANCE.get(report_key(options.report, options.by), ()),
               drop=options.columns is None)


MAX_JOBS = 256  # --jobs
FLAGGED_NAMED = 3  # the summary names the flagged accounts when there are this many or fewer


def _zone(when: _dt.datetime) -> str:
    offset = when.utcoffset() or _dt.timedelta(0)
    if not offset:
        return "UTC"
    sign = "-" if offset < _dt.timedelta(0) else "+"
    minutes = abs(offset) // _dt.timedelta(minutes=1)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def period_text(start: _dt.datetime, end: _dt.datetime, dates: bool = False) -> str:
    """`2026-03-02 00:00:42 .. 2026-03-08 23:56:06 (UTC+09:00)`: each time in the offset it was
    logged with, the zone named once when both share it; with `dates`, the dates alone."""
    if dates:
        return f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"
    shape = "%Y-%m-%d %H:%M:%S"
    if start.utcoffset() == end.utcoffset():
        return f"{start.strftime(shape)} .. {end.strftime(shape)} ({_zone(start)})"
    return (f"{start.strftime(shape)} ({_zone(start)}) .. "
            f"{end.strftime(shape)} ({_zone(end)})")


def _window(stats: Stats, selection: Selection):
    """(start, end) of the log clipped to --since/--until, in the log's offsets (a bound in the
    zone it was read in, with the offset that zone had then: on a log across the end of summer
    time, `--since 2026-10-26` is 00:00 +01:00, not the first line's +02:00 and 01:00); None
    when they do not meet (or nothing was read)."""
    start, end = stats.first_time, stats.last_time
    if start is None or end is None:
        return None
    if selection.since is not None and selection.since > start:
        start = selection.since.astimezone(selection.zone or start.tzinfo)
    if selection.until is not None and selection.until < end:
        end = selection.until.astimezone(selection.zone or end.tzinfo)
    return (start, end) if start <= end else None


def filters_text(options) -> str:
    """The options that chose what is shown, as typed (quoted for a shell)."""
    words = [f"--user {shlex.quote(pattern)}" for pattern in options.user]
    words += [f"--{name} {shlex.quote(value)}" for name in ("since", "until")
              if (value := getattr(options, name)) is not None]
    words += [f"--ip {shlex.quote(value)}" for value in options.ip]
    words += [f"--host {shlex.quote(value)}" for value in getattr(options, "host", ())]
    words += [f"--country {shlex.quote(value)}" for value in getattr(options, "country", ())]
    words += [f"--asn {shlex.quote(value)}" for value in getattr(options, "asn", ())]
    if options.flagged:
        words.append("--flagged")
    return " ".join(words)


def summary_line(stats: Stats, scope=None, filters: str = "", report: str = "users") -> str:
    """The table's first line: the period shown and its zone, lines read, and, for the
    selection shown (what the filters let through), its users, sessions and messages, how many
    accounts are flagged (named when few), and how many rows --top let through."""
    # The correlator sets first_time and last_time together.
    if stats.first_time is None or stats.last_time is None:
        period = "no Postfix activity found"
    else:
        window = _window(stats, scope.selection) if scope is not None else None
        if window is None and scope is not None:
            period = (f"the log covers {period_text(stats.first_time, stats.last_time)}, none of "
                      "it between --since and --until")
        else:
            period = period_text(*(window or (stats.first_time, stats.last_time)))
    parts = [period, counted(stats.lines_read, "line") + " read"]
    if scope is None or not scope.tally:
        users, sessions, messages = len(stats.usernames), stats.sessions, stats.messages
    else:
        counts = scope.selected_counts()
        users = sum(1 for name in counts if name != UNKNOWN_USER)
        sessions = sum(found[0] for found in counts.values())
        messages = sum(found[1] for found in counts.values())
    parts += [(f"selected by {filters}: " if filters else "") + counted(users, "user"),
              counted(sessions, "authenticated session"),
              counted(messages, "authenticated message")]
    if scope is not None and scope.verdicts is not None:
        flagged = scope.flagged_shown()
        if not flagged:
            parts.append("no account flagged")
        else:
            text = counted(len(flagged), "account") + " flagged"
            if len(flagged) <= FLAGGED_NAMED:
                text += ": " + ", ".join(flagged)
            parts.append(text)
            if report != "suspicious":
                parts.append("see --report suspicious")
    if scope is not None and scope.top is not None and scope.rows > scope.shown:
        parts.append(f"{scope.shown} of {scope.rows} rows shown (--top {scope.top})")
    return "; ".join(parts)


# report -> (why it is empty, why it is empty of what FILTERS select)
EMPTY_REPORTS = {
    "suspicious": ("no account is flagged", "none of the accounts {} selects is flagged"),
    "queue": ("no authenticated mail is still queued when the log ends",
              "nothing {} selects is still queued when the log ends"),
    "failures": ("no failed AUTH in the log", "no failed AUTH matches {}"),
}
NO_LOGIN = ("no successful SMTP AUTH login in the log", "no successful SMTP AUTH login matches {}")


def no_rows_reason(stats: Stats, scope, filters: str, options) -> str:
    """What an empty table says instead of "no rows": why there are none, when it can tell."""
    selection = scope.selection
    if not stats.lines_read:
        return "no rows: no line read"
    if stats.first_time is None or stats.last_time is None:
        return ("no rows: no Postfix line whose timestamp is a time known" if stats.unread_stamps
                else "no rows: no Postfix line in the log")
    if (selection.since is not None or selection.until is not None) and \
            _window(stats, selection) is None:
        return ("no rows: no line between --since and --until; the log covers "
                + period_text(stats.first_time, stats.last_time, dates=True))
    if selection.user_patterns and "user" not in scope.matched:
        patterns = " ".join(f"--user {shlex.quote(pattern)}" for pattern in options.user)
        return f"no rows: no user matches {patterns}"
    if selection.by_client and "ip" not in scope.matched:
        addresses = " ".join(f"--{flag} {shlex.quote(value)}" for flag in ("ip", "country", "asn")
                             for value in getattr(options, flag, ()))
        return f"no rows: no client in {addresses}"
    if selection.hosts and "host" not in scope.matched:
        names = " ".join(f"--host {shlex.quote(name)}" for name in options.host)
        return f"no rows: no session logged by {names}"
    if scope.flagged_only and scope.verdicts is not None and not scope.flagged:
        return "no rows: no account is flagged (--flagged)"
    if options.report == "messages" and stats.sessions and not filters:
        # There were logins (the headline counts them): their messages are what is missing.
        return ("no rows: no recipient of an authenticated message is known" if stats.messages
                else "no rows: no authenticated message in the log")
    plain, filtered = EMPTY_REPORTS.get(options.report, NO_LOGIN)
    return "no rows: " + (filtered.format(filters) if filters else plain)


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
        f"  repeated lines:         {stats.repeated_lines}",
        f"  timestamps not read:    {stats.unread_stamps}",
        f"lines cut at {MAX_LINE // 1024} KiB:      {stats.lines_cut}",
        f"sessions incomplete:      {stats.sessions_incomplete}",
        f"messages still queued:    {stats.messages_open_at_end}",
        f"messages lost (ID reuse): {stats.messages_lost}",
        f"unknown status words:     {stats.unknown_statuses}",
        f"sessions closed idle:     {stats.sessions_idle}",
        f"clock anomalies:          {stats.clock_anomalies}",
    ])


def _jobs(text: str) -> int:
    """--jobs: 0 (one per usable core) to MAX_JOBS (more processes only cost memory)."""
    if not text.isdigit() or int(text) > MAX_JOBS:
        raise argparse.ArgumentTypeError(f"not a number of processes from 0 to {MAX_JOBS}: "
                                         f"{text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def _amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):  # NaN fails this too
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _count_or_off(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number (0: off): {text!r}")
    return int(text)


def _accounts(text: str) -> int:
    value = _count(text)
    if value < 2:
        raise argparse.ArgumentTypeError("an IP is shared by at least 2 accounts")
    return value


# (Thresholds field, option, type, metavar, help with %(default)s, example value)
THRESHOLD_OPTIONS = (
    ("hourly_recipients", "--max-hourly-recipients", _count, "N",
     "strong: more than N recipients in one hour", "300"),
    ("burst_factor", "--burst-factor", _amount, "X",
     "strong: an hour with at least X times the user's median busy hour, if it also reaches "
     "--burst-min", "20"),
    ("burst_minimum", "--burst-min", _count, "N",
     "strong: the fewest recipients such an hour needs", "80"),
    ("failed_percent", "--failed-percent", _amount, "PCT",
     "strong: at least PCT %% of the user's recipients failed, out of at least --failed-min",
     "60"),
    ("failed_minimum", "--failed-min", _count, "N",
     "strong: the fewest recipients --failed-percent is judged on", "50"),
    ("guess_failures", "--guess-failures", _count, "N",
     "strong: a login from an IP with at least N failed AUTH since its last successful login",
     "5"),
    ("guess_usernames", "--guess-usernames", _count, "N",
     "strong: the same, with failed AUTH for at least N usernames", "3"),
    ("guess_window", "--guess-window", _amount, "DAYS",
     "strong: ... an IP's failures are forgotten once it has failed none for DAYS", "30"),
    ("hop_networks", "--hop-networks", _count, "N",
     "weak: logins from at least N networks (/24, /48) within --hop-window", "6"),
    ("hop_window", "--hop-window", _amount, "HOURS",
     "weak: the sliding window of --hop-networks", "12"),
    ("baseline_days", "--baseline-days", _amount, "DAYS",
     "weak: a login from a network (or, with a GeoIP database, a country) the user did not "
     "use in the first DAYS of the log", "14"),
    ("shared_ip_accounts", "--shared-ip-accounts", _accounts, "N",
     "weak: a login IP used by at least N accounts (2 or more)", "5"),
    ("nat_days", "--nat-days", _count, "N",
     "weak: ... unless it is a NAT: one of those accounts logged in from its /16 (IPv6 /32) "
     "on N days or more", "3"),
    ("max_countries", "--max-countries", _count, "N",
     "strong: logins from more than N countries within --hop-window (a GeoIP database)", "5"),
    ("travel_speed", "--travel-speed", _amount, "KMH",
     "weak: two consecutive logins from two countries whose distance, less the database's "
     "accuracy radii, needs more than KMH km/h (a GeoIP City database)", "800"),
    ("sender_mismatch", "--sender-mismatch", _count_or_off, "N",
     "strong: an account's messages used N or more envelope senders that are not its login "
     "(alice, or alice@its domain, with or without +extension; 0: off)", "3"),
)


def _add_incident_options(parser: argparse.ArgumentParser) -> None:
    """The options of the incident reports (suspicious, the users report's flags, failures)."""
    parser.add_argument("--by", choices=("ip", "user"), default="ip",
                        help="failures report: one row per client IP or per username tried "
                             "(default: %(default)s); e.g. --report failures --by user")
    group = parser.add_argument_group(
        "suspicious accounts (--report suspicious, users' flags, timeline)",
        "A user is flagged on one strong signal or two weak ones.")
    defaults = Thresholds()
    for field, flag, kind, metavar, text, example in THRESHOLD_OPTIONS:
        group.add_argument(flag, dest=f"limit_{field}", type=kind, metavar=metavar,
                           default=getattr(defaults, field),
                           help=f"{text} (default: %(default)s); e.g. {flag} {example}")


def _incident_options(args: argparse.Namespace) -> dict:
    """The report options build_report takes from the parsed command line."""
    values = {field: getattr(args, f"limit_{field}") for field, *_ in THRESHOLD_OPTIONS}
    try:
        limits = Thresholds(**values)
    except ThresholdError as error:
        field, _, range_text = str(error).partition(" must be ")
        flag = next(flag for name, flag, *_ in THRESHOLD_OPTIONS if name == field)
        raise UsageError(f"{flag}: must be {range_text}") from None
    return {"thresholds": limits, "by": args.by}



# -- the subcommands: cram-md5, auth-test, contain -------------------------------------------------

CHALLENGE_PROMPT = "Challenge (the base64 text after 334): "
CRAM_MD5_PROG = "maillog-sasl cram-md5"


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line: `PROG: MESSAGE (see --help)`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # "--password" must not mean --password-stdin
        super().__init__(**kwargs)

    def parse_args(self, args=None, namespace=None):
        for arg in sys.argv[1:] if args is None else args:
            if arg == "--password" or arg.startswith("--password="):
                self.error("a password is never taken as an argument: it would stay in the"
                           f" shell history; use the prompt, --password-stdin or {ENV_VAR}")
        return super().parse_args(args, namespace)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def add_password_option(parser):
    """Add `--password-stdin` to an argument parser."""
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input"
        f" (else {ENV_VAR}, else a prompt)",
    )


CRAM_MD5_EPILOG = f"""\
example (the test vector of the incident write-up this project starts from):
  $ {CRAM_MD5_PROG} centos7@phoenixknight.jp \\
      PDA3Nzg3NTMyMDgxMzMwMDAuMTUzNzE1MTM2NEBpazEtMzMxLTI1NjQ5LnZzLnNha3VyYS5uZS5qcD4=
  Password:
  Y2VudG9zN0BwaG9lbml4a25pZ2h0LmpwIDFjODg0OGZjZjczNGRkNTI4YjkxOWVhNzUzYzEzNzRi

Send the printed line as the answer to the server's "334 ..." line. It encodes
"USER HEXDIGEST" and nothing else: the encoded trailing newline that an
`echo ... | base64` script adds (an answer ending in "Cg==") is not needed;
RFC 2195 does not ask for it.

{PASSWORD_HELP}

exit status:
  0    the response was printed
  2    usage error: challenge not base64, empty user, no password, standard
       input closed or not UTF-8, user or password not UTF-8; or the response
       could not be written (a full disk, a closed pipe or standard output)
  130  interrupted (Ctrl-C)
"""


def _cram_md5_parser():
    parser = CommandParser(
        prog=CRAM_MD5_PROG,
        description="Print the base64 response to an SMTP AUTH CRAM-MD5 challenge (RFC 2195).",
        epilog=CRAM_MD5_EPILOG,
    )
    parser.add_argument("user", metavar="USER", help="the SASL user name, e.g. alice@example.com")
    parser.add_argument(
        "challenge",
        metavar="CHALLENGE",
        nargs="?",
        help='the base64 challenge from the server\'s "334 ..." line; asked for when omitted',
    )
    add_password_option(parser)
    return parser


def _prompt_challenge():
    from maillog_sasl import cram_md5

    if sys.stdin is None:  # no prompt: nothing could answer it
        raise cram_md5.ChallengeError("no challenge given: standard input is closed")
    if sys.stderr is not None:
        sys.stderr.write(CHALLENGE_PROMPT)
        sys.stderr.flush()
    try:
        line = read_stdin_line()
    except InputError as exc:
        raise cram_md5.ChallengeError(f"cannot read the challenge: {exc}") from None
    if not line:
        raise cram_md5.ChallengeError("no challenge given")
    return line


def _cram_md5_usage_error(message):
    print(f"{CRAM_MD5_PROG}: {message}", file=sys.stderr)
    return EXIT_USAGE


def cram_md5_main(argv):
    """Run `maillog-sasl cram-md5 ARGV`; return the exit status."""
    from maillog_sasl import cram_md5

    parser = _cram_md5_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    if not args.user:
        return _cram_md5_usage_error("USER is empty")
    if not is_utf8(args.user):
        return _cram_md5_usage_error("USER is not UTF-8 text")
    if sys.stdout is None:  # started with >&-: nowhere to put the answer, so ask nothing
        return _cram_md5_usage_error("cannot write the response: standard output is closed")
    if args.challenge is None and args.password_stdin:
        return _cram_md5_usage_error(
            "--password-stdin reads standard input: give CHALLENGE as an argument")
    try:
        text = _prompt_challenge() if args.challenge is None else args.challenge
        challenge = cram_md5.decode_challenge(text)
        if not cram_md5.looks_like_msg_id(challenge):
            print(f"{CRAM_MD5_PROG}: warning: the decoded challenge is not of the form <...@host>;"
                  " is it really the server's 334 text?", file=sys.stderr)
        password = read_password(args.password_stdin)
    except (cram_md5.ChallengeError, PasswordError) as exc:
        return _cram_md5_usage_error(exc)
    except KeyboardInterrupt:
        print(f"\n{CRAM_MD5_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        print(cram_md5.response(args.user, password, challenge))
        sys.stdout.flush()
    except OSError as exc:  # ours, not the input's: a full disk, a reader that went away
        _discard_unwritten(sys.stdout)
        return _cram_md5_usage_error(f"cannot write the response: {exc.strerror or exc}")
    return 0


def _auth_test_epilog() -> str:
    from maillog_sasl import auth_test

    return f"""\
examples:
  {auth_test.PROG} mail.example.com --user alice@example.com
  {auth_test.PROG} mail.example.com:465 --user alice@example.com --send-to postmaster@example.com
  {auth_test.PROG} 127.0.0.1:10587 --user test --cafile test-ca.pem --mech PLAIN

TLS: STARTTLS on every port except 465, where TLS starts at connect. The server's
  certificate is checked against the system CAs (or --cafile) and HOST; --insecure
  skips that, for self-signed test servers. Without STARTTLS on offer the test
  stops: credentials are sent unencrypted only when you choose --plain, and then
  PLAIN and LOGIN carry the password readable (a warning is printed).
mechanisms: auto picks the strongest offered: CRAM-MD5, then PLAIN, then LOGIN.
output: the dialogue, "C:" client, "S:" server, "*" notes; the AUTH data the
  client sends is shown as {auth_test.REDACTED}.
the Postfix log: Postfix does not log a successful AUTH by itself. The line
    QUEUEID: client=NAME[IP], sasl_method=MECH, sasl_username=USER
  appears only when a message is queued (--send-to); without it only auth=1 in
  the "disconnect from NAME[IP]" line shows the login. A failed login leaves
  "warning: NAME[IP]: SASL MECH authentication failed: ..." and auth=0/1.

{PASSWORD_HELP}

exit status:
  0    authenticated (and, with --send-to, the message was accepted)
  1    the server refused: greeting, no AUTH, mechanism not offered, failed
       authentication, rejected sender, recipient or message (its reply is printed)
  2    usage error; or the dialogue could not be written (a full disk, a
       closed pipe or standard output): a local failure, not the server's
  3    connection or TLS failure (one line: host, port, reason); also a server
       that never lets the test end: a reply over {auth_test.MAX_REPLY_LINES} lines, or the whole
       test taking over {auth_test.DEADLINE_FACTOR} times --timeout
  130  interrupted (Ctrl-C)
"""


def seconds(text):
    """argparse type: a positive number of seconds (argparse names it in its error message)."""
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(text)
    return value


def _wait(text: str) -> float:
    """argparse type of --lock-wait: seconds, 0 or more (0: fail at once when the state is in
    use)."""
    try:
        return 0.0 if float(text) == 0 else seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds, 0 or more: {text!r}") from None


def _auth_test_parser():
    import socket  # the --ehlo default: here, not in every run's memory (0.5 MB)

    from maillog_sasl import auth_test

    parser = CommandParser(
        prog=auth_test.PROG,
        description="Log in to an SMTP server with SMTP AUTH; show the dialogue, secrets\n"
        "redacted, and what the Postfix log will show of the session.",
        epilog=_auth_test_epilog(),
    )
    parser.add_argument("target", metavar="HOST[:PORT]",
                        help="the server; PORT defaults to 587 (465 with --tls)")
    parser.add_argument("--user", required=True, help="the SASL user name")
    parser.add_argument(
        "--mech",
        type=str.upper,
        choices=("AUTO",) + auth_test.MECH_PREFERENCE,
        default="AUTO",
        metavar="{auto,CRAM-MD5,PLAIN,LOGIN}",
        help="the SASL mechanism (default: auto)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--starttls", dest="mode", action="store_const", const="starttls",
                      help="plain connect, then STARTTLS (default except on port 465)")
    mode.add_argument("--tls", dest="mode", action="store_const", const="tls",
                      help="TLS from the start, implicit TLS (default on port 465)")
    mode.add_argument("--plain", dest="mode", action="store_const", const="plain",
                      help="no TLS at all: credentials cross the network unencrypted")
    verify = parser.add_mutually_exclusive_group()
    verify.add_argument("--insecure", action="store_true",
                        help="do not verify the server's certificate (self-signed test servers)")
    verify.add_argument("--cafile", metavar="FILE",
                        help="verify the certificate against the CA certificates in FILE")
    parser.add_argument("--send-to", metavar="ADDR",
                        help="after AUTH, send one small test message to ADDR")
    parser.add_argument("--from", dest="sender", metavar="ADDR",
                        help="envelope sender for --send-to (default: USER, when it is an address)")
    parser.add_argument("--ehlo", metavar="NAME", default=socket.gethostname() or "localhost",
                        help="the name to send with EHLO (default: this host's name)")
    parser.add_argument("--timeout", type=seconds, default=20.0, metavar="SECONDS",
                        help="give up on a silent server after SECONDS, and on the whole test"
                             f" after {auth_test.DEADLINE_FACTOR} times SECONDS (default: 20)")
    add_password_option(parser)
    return parser


def _check_auth_test_args(args):
    """Validate and complete the parsed options; raise auth_test.UsageError."""
    from maillog_sasl import auth_test

    args.host, port = auth_test.parse_target(args.target)
    if args.mode is None:
        args.mode = "tls" if port == auth_test.SMTPS_PORT else "starttls"
    args.port = port or (auth_test.SMTPS_PORT if args.mode == "tls" else auth_test.SUBMISSION_PORT)
    if args.send_to and args.sender is None:
        if "@" not in args.user:
            raise auth_test.UsageError("--send-to needs --from ADDR when USER is not an address")
        args.sender = args.user
    # Values that go into SMTP commands as they are (the user name travels base64-encoded).
    in_commands = (("--send-to", args.send_to), ("--from", args.sender), ("--ehlo", args.ehlo))
    for option, value in (("--user", args.user), *in_commands):
        if value is not None and (not value or not value.isprintable()):
            raise auth_test.UsageError(f"{option} must be printable text, not {value!r}")
    for option, value in in_commands:
        if value and re.search(r"[\s<>]", value):
            raise auth_test.UsageError(
                f"{option} must not contain spaces or angle brackets: {value!r}")
    if args.mode == "plain":
        if args.insecure or args.cafile:
            raise auth_test.UsageError(
                "--insecure and --cafile need TLS; they mean nothing with --plain")
        args.tls_context = None
        return
    args.tls_context = auth_test.tls_context(args.cafile, args.insecure)


def auth_test_main(argv):
    """Run `maillog-sasl auth-test ARGV`; return the exit status."""
    from maillog_sasl import auth_test

    parser = _auth_test_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    try:
        _check_auth_test_args(args)
        if sys.stdout is None:  # started with >&-: do not log in with nowhere to show it
            raise auth_test.OutputFailed("standard output is closed")
        password = read_password(args.password_stdin)
        return auth_test.run(args, password, sys.stdout)
    except (auth_test.UsageError, PasswordError) as exc:
        print(f"{auth_test.PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except auth_test.OutputFailed as exc:
        if sys.stdout is not None:
            _discard_unwritten(sys.stdout)
        print(f"{auth_test.PROG}: cannot write the dialogue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{auth_test.PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


CONTAIN_PROG = "maillog-sasl contain"


def _contain_epilog() -> str:
    from maillog_sasl import contain

    return f"""\
examples:
  {CONTAIN_PROG} bad@example.com /var/log/maillog --hold --reject
  {CONTAIN_PROG} bad@example.com /var/log/maillog --hold --dry-run
  {CONTAIN_PROG} bad@example.com --hold-logins --sasl-access /etc/postfix/sasl_access
  {CONTAIN_PROG} --release bad@example.com /var/log/maillog
  {CONTAIN_PROG} bad@example.com --state /var/lib/maillog-sasl/state.sqlite --hold

--hold: the user's messages still queued at the end of the logs (the queue report's
  rows of exactly that username) are put on hold, their queue IDs given to
  `postsuper -h -` on its standard input. Nothing is deleted. With --state PATH, the
  queue IDs are those of the user's messages `watch` held open at its last commit.
--reject / --hold-logins: the line
    USER {contain.REJECT}   (--hold-logins: USER {contain.HOLD})
  goes into the check_sasl_access table, inside the block
    {contain.BEGIN}
    ...
    {contain.END}
  that this command owns (lines outside it are never changed), written atomically
  (mode and owner kept), then `postmap TYPE:FILE` (TYPE as main.cf names the table,
  else default_database_type). When no smtpd restriction list applies the table,
  the main.cf line to add is printed.
--release: undoes both: `postsuper -H -` for the queue IDs in the logs given, and
  the user's line removed from the block (only the one of the two asked for with
  --hold, --reject).

Without root, and with --dry-run, nothing changes: the commands and the map change
are printed. Postfix's commands are looked up on $PATH, then /usr/sbin.

exit status:
  0    done (or shown, in a dry run)
  2    usage error, a USER that cannot be a table key, a log that cannot be read,
       postsuper/postmap missing or failing, a table that cannot be written: one
       line on stderr; what was done before the failure was printed
  130  interrupted (Ctrl-C)
"""


def _contain_parser():
    from maillog_sasl import contain

    parser = CommandParser(
        prog=CONTAIN_PROG,
        description="Contain a compromised SASL account: put its queued mail on hold and "
                    "refuse (or hold) its new mail with a check_sasl_access table.",
        epilog=_contain_epilog(),
    )
    parser.add_argument("user", metavar="USER", help="the SASL username, exactly as logged")
    parser.add_argument("paths", nargs="*", metavar="LOG",
                        help="logs whose still-queued messages of USER are held (--hold) or "
                             "released (--release)")
    parser.add_argument("--hold", action="store_true",
                        help="put USER's queued messages on hold (postsuper -h -)")
    login = parser.add_mutually_exclusive_group()
    login.add_argument("--reject", dest="map_action", action="store_const",
                       const=contain.REJECT,
                       help=f"refuse USER's mail: USER {contain.REJECT}")
    login.add_argument("--hold-logins", dest="map_action", action="store_const",
                       const=contain.HOLD,
                       help=f"accept USER's new mail onto hold: USER {contain.HOLD}")
    parser.add_argument("--sasl-access", metavar="FILE", type=_file_name,
                        help=f"the check_sasl_access table (default: {contain.DEFAULT_MAP}, or "
                             f"DIR/{contain.MAP_NAME} with --config-dir)")
    parser.add_argument("--release", action="store_true",
                        help="undo: release the held messages, remove USER's line")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="change nothing: print the commands and the map change (the "
                           "default when not root)")
    mode.add_argument("--apply", action="store_true",
                      help="act even when not root (a table of your own, a wrapped postsuper)")
    parser.add_argument("--state", metavar="PATH", type=_file_name,
                        help="take the queue IDs of --hold (or --release) from the state of "
                             "`maillog-sasl watch` (its open messages) instead of logs")
    parser.add_argument("--host", metavar="NAME",
                        help="only messages queued on this host (the syslog host name), when "
                             "the logs hold several")
    parser.add_argument("--config-dir", metavar="DIR",
                        help="a Postfix instance's configuration directory, given to postsuper, "
                             "postmap and postconf as -c DIR")
    return parser


def _contain_plan(args):
    """(hold: bool, map action or None, map path or None) from the options; UsageError."""
    from maillog_sasl import contain

    hold, action = args.hold, args.map_action
    if args.release and not hold and action is None:
        hold, action = bool(args.paths or args.state), contain.REJECT
    if not args.release and not hold and action is None:
        raise UsageError("say what to do: --hold, --reject or --hold-logins (or --release)")
    if args.paths and args.state:
        raise UsageError("the queue IDs come from --state or from logs: not both")
    if hold and not args.paths and not args.state:
        raise UsageError("--hold takes the queue IDs from the logs (name one or more LOG) or "
                         "from --state PATH")
    if args.paths and not hold:
        raise UsageError("LOG is read only for --hold: add --hold, or leave the logs out")
    if args.state and not hold:
        raise UsageError("--state is read only for --hold: add --hold, or leave it out")
    if args.sasl_access is not None and action is None:
        raise UsageError("--sasl-access names the table of --reject or --hold-logins")
    path = None
    if action is not None:
        path = _table_path(args)
        clash = _output_at_input("--sasl-access", path, args.paths) or _outputs_clash(
            (("--state", args.state), ("--sasl-access", path)))
        if clash:
            raise UsageError(clash if clash.startswith("--") else f"--sasl-access {clash}")
    return hold, action, path


def contain_main(argv):
    """Run `maillog-sasl contain ARGV`; return the exit status."""
    from maillog_sasl import contain
    from maillog_sasl.state import StateError

    parser = _contain_parser()
    try:
        args = parser.parse_intermixed_args(argv)  # USER LOG --hold LOG...
    except SystemExit as exc:
        return exc.code
    failures = []
    try:
        hold, action, path = _contain_plan(args)
        user = contain.check_user(args.user)
        dry_run = args.dry_run or (not args.apply and not contain.is_root())
        if dry_run and not args.dry_run:
            print("# not root: a dry run (--apply acts anyway)")
        queue_ids: Union[None, List[str], Dict[str, List[str]]] = None
        if hold:
            queued = (contain.queued_in_state(user, args.state, host=args.host) if args.state
                      else contain.queued_ids(user, args.paths, host=args.host))
            queue_ids, failures = queued.instances, queued.problems
        contain.contain(user, queue_ids=queue_ids, map_path=path, map_action=action,
                        release=args.release, dry_run=dry_run,
                        postfix=contain.Postfix(config_dir=args.config_dir))
        sys.stdout.flush()
    except (UsageError, contain.ContainError, StoreError, StateError) as exc:
        failures.insert(0, str(exc))
    except OSError as exc:  # our own output: a full disk, a closed pipe
        _discard_unwritten(sys.stdout)
        failures.insert(0, f"cannot write: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print(f"\n{CONTAIN_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    for failure in failures:
        print(f"{CONTAIN_PROG}: {failure}", file=sys.stderr)
    return EXIT_USAGE if failures else 0


# -- the subcommands: watch and state ----------------------------------------------------------

WATCH_PROG = "maillog-sasl watch"
STATE_PROG = "maillog-sasl state"

WATCH_EPILOG = """\
examples:
  maillog-sasl watch /var/log/maillog                      # follow, like tail -F
  maillog-sasl watch --once /var/log/maillog               # cron: what is new since the last run
  maillog-sasl watch --alert-log /var/log/maillog-sasl-alerts.ndjson \\
      --alert-command 'mail -s "maillog-sasl: $MAILLOG_SASL_USER" root' /var/log/maillog
  maillog-sasl watch --alert-syslog --alert-mail root \\
      --metrics /var/lib/prometheus/node-exporter/maillog-sasl.prom /var/log/maillog

Alerts are one JSON object a line (NDJSON): time, user, severity, signals,
reasons, ips, recipients, deferred, queue_ids, first_seen_ip, host, and
new_signals, first_flagged, log_time. One alert per (account, signal) when it
first fires, again only when the account's severity rises. The signals are the
suspicious report's (maillog-sasl --help lists them and their limits), but for
new-network and new-country, judged against the account's whole history in the
state: silent until the account is --baseline-days old; new-network is strong
(high alone) on a settled history (first seen 30+ days before, logins on 10+
days, at most 2 provider blocks), weak otherwise.
Watch's own alerts, queue-growth and failure-storm, come once per account and
again when their count (`level`) doubles; with --contain, `contained` says what
was done to an account that reached critical.

The state (--state) keeps where each log was read to, the sessions and messages
still open there, every account's history and the alerts raised; a run killed
at any moment goes on from the last commit. Two runs on one state: the second
waits --lock-wait seconds (0: not at all), then gives up.

exit status (--once): 0 no new alert, 1 new alerts, 2 an error (a log that
cannot be read, Postfix lines whose timestamp gives no time, a state that cannot
be used, an alert or the --metrics file that cannot be written).
Following: 0 when stopped by Ctrl-C, SIGTERM or SIGHUP (the state is committed first),
2 on an error.
"""

STATE_EPILOG = """\
examples:
  maillog-sasl state                                   # what the default state holds
  maillog-sasl state --state /var/lib/maillog-sasl/state.sqlite --format json
  maillog-sasl state --forget alice@example.com        # a password was reset: start anew

exit status: 0 shown (or forgotten); 1 --forget USER that the state does not
know (nothing changed); 2 a state that cannot be read or is locked.
"""


def _watch_parser():
    from maillog_sasl import contain, watch

    parser = CommandParser(
        prog=WATCH_PROG,
        description="Follow Postfix logs (like tail -F) or read what is new since the last run "
                    "(--once), and alert when an account looks compromised: the signals of "
                    "--report suspicious, with memory across runs.",
        epilog=WATCH_EPILOG)
    parser.add_argument("paths", nargs="+", metavar="LOG", help="the log files to watch")
    parser.add_argument("--once", action="store_true",
                        help="read what is new since the last run, alert, and exit")
    _add_state_option(parser)
    parser.add_argument("--alert-log", metavar="FILE", type=_file_name,
                        help="append the alerts to FILE (NDJSON) instead of standard output")
    parser.add_argument("--alert-command", metavar="CMD",
                        help="run CMD (with /bin/sh) per alert, its JSON on standard input, "
                             "MAILLOG_SASL_USER and MAILLOG_SASL_SEVERITY in the environment")
    parser.add_argument("--alert-timeout", type=seconds, default=30.0, metavar="SECONDS",
                        help="kill an alert command (or sendmail) still running after SECONDS "
                             "(default: %(default)s)")
    parser.add_argument("--alert-syslog", action="store_true",
                        help="also send one line per alert to syslog (/dev/log, facility mail, "
                             "ident maillog-sasl), for fail2ban, CrowdSec or a SIEM")
    parser.add_argument("--alert-mail", metavar="ADDR", action="append", type=_mail_address,
                        help="also mail each alert to ADDR (repeat for more) through the local "
                             "sendmail: `sendmail -i -- ADDR`")
    parser.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                        help="following: look at the logs every SECONDS (default: %(default)s)")
    parser.add_argument("--metrics", metavar="FILE", type=_file_name,
                        help="write Prometheus metrics (maillog_sasl_*) to FILE for "
                             "node_exporter's textfile collector, replaced atomically every "
                             f"{watch.metrics.METRICS_EVERY:g} s when following and at the end of "
                             "--once; name it *.prom in the collector's directory")
    parser.add_argument("--year", type=_year, metavar="YYYY",
                        help="year of the first line of yearless logs (default: from the "
                             "file's last line when that has its year, else the file's "
                             "modification time)")
    parser.add_argument("--tz", metavar="ZONE",
                        help="time zone of yearless logs (default: local)")
    containing = parser.add_argument_group(
        "containment (never automatic unless asked)",
        "An account whose alert reaches critical is contained at once, as `maillog-sasl "
        "contain` would, and that is an alert of its own (signal `contained`). Not root, it is "
        "a dry run: the alert says what would be done.")
    containing.add_argument("--contain", choices=("hold", "reject"), action="append",
                            metavar="hold|reject",
                            help="hold: put the account's queued messages on hold (postsuper "
                                 f"-h); reject: add `USER {contain.REJECT}` to the "
                                 "check_sasl_access table (postmap); give both to do both")
    containing.add_argument("--contain-apply", action="store_true",
                            help="act even when not root (a table of your own, a wrapped "
                                 "postsuper)")
    containing.add_argument("--sasl-access", metavar="FILE", type=_file_name,
                            help=f"the check_sasl_access table of --contain reject (default: "
                                 f"{contain.DEFAULT_MAP}, or DIR/{contain.MAP_NAME} with "
                                 "--config-dir)")
    containing.add_argument("--config-dir", metavar="DIR",
                            help="a Postfix instance's configuration directory, given to "
                                 "postsuper, postmap and postconf as -c DIR")
    alarms = watch.Alarms()
    group = parser.add_argument_group(
        "watch's own alerts",
        "Raised beside the suspicious report's signals, once per account, again when the "
        "count doubles; they change no account's severity.")
    group.add_argument("--max-deferred", type=_count, metavar="N",
                       default=alarms.max_deferred,
                       help="queue-growth: an account with more than N messages in the queue "
                            "with a deferred recipient (default: %(default)s)")
    group.add_argument("--storm-ips", type=_count, metavar="N", default=alarms.storm_ips,
                       help="failure-storm: failed AUTH naming one account (one that has "
                            "logged in) from at least N distinct IPs within --storm-window "
                            "(default: %(default)s)")
    group.add_argument("--storm-window", type=_amount, metavar="HOURS",
                       default=alarms.storm_window,
                       help="failure-storm: the sliding window (default: %(default)s)")
    _add_geo_options(parser, "With a database the countries, new-country and travel signals "
                             "work, and each login's country is kept in the state's history.")
    parser.set_defaults(country=[], asn=[])  # the reports' filters, which _geo_options checks
    _add_incident_options(parser)
    return parser


def _mail_address(text: str) -> str:
    from maillog_sasl.alerts import check_address

    try:
        return check_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_state_option(parser) -> None:
    from maillog_sasl import state as state_module

    parser.add_argument("--state", metavar="PATH", type=_file_name, default=None,
                        help="the state file (default: /var/lib/maillog-sasl/state.sqlite as "
                             "root, else $XDG_STATE_HOME/maillog-sasl/state.sqlite)")
    parser.add_argument("--lock-wait", type=_wait, default=state_module.LOCK_WAIT,
                        metavar="SECONDS",
                        help="how long to wait for another run to release the state; 0: do "
                             "not wait (default: %(default)s)")


def _complain(prog: str):
    def complain(line: str) -> None:
        print(f"{prog}: {line}", file=sys.stderr, flush=True)
    return complain


def watch_main(argv) -> int:
    """Run `maillog-sasl watch ARGV`; return the exit status."""
    from maillog_sasl import contain, watch
    from maillog_sasl import state as state_module
    from maillog_sasl.alerts import CommandSink, FileSink, MailSink, StreamSink, SyslogSink

    parser = _watch_parser()
    try:
        args = parser.parse_args(_negative_offsets(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    complain = _complain(WATCH_PROG)
    if "-" in args.paths:
        complain("watch reads log files (it keeps their offsets), not standard input")
        return EXIT_USAGE
    # What watch writes (the metrics file is replaced, alerts appended, the state made an
    # SQLite database, the table of --contain replaced) must be no log or GeoIP database it
    # reads (checked once the databases are found), nor one another.
    map_path = _table_path(args) if args.contain else None
    outputs = (("--state", args.state or state_module.default_path()),
               ("--metrics", args.metrics), ("--alert-log", args.alert_log),
               ("--sasl-access", map_path))
    clash = _outputs_clash(outputs)
    if clash:
        complain(clash)
        return EXIT_USAGE
    zone = None
    if args.tz:
        zone = parse_zone(args.tz)
        if zone is None:
            complain(f"--tz: unknown time zone {args.tz!r}")
            return EXIT_USAGE
    try:
        limits = _incident_options(args)["thresholds"]
        if args.storm_window > 24 * 36_500:
            raise UsageError("--storm-window: must be from 0 to 876000 hours (a century)")
    except UsageError as error:
        complain(str(error))
        return EXIT_USAGE
    containment = None
    if map_path is not None:
        dry_run = not args.contain_apply and not contain.is_root()
        if dry_run:
            complain("--contain: not root: containment is a dry run (the alert says what would "
                     "be done; --contain-apply acts anyway)")
        containment = watch.Containment("hold" in args.contain, "reject" in args.contain,
                                        map_path, dry_run,
                                        contain.Postfix(config_dir=args.config_dir))
    elif args.contain_apply or args.sasl_access or args.config_dir:
        complain("--contain-apply, --sasl-access and --config-dir go with --contain")
        return EXIT_USAGE
    sinks: list = [FileSink(args.alert_log) if args.alert_log else StreamSink(sys.stdout)]
    if args.alert_command:
        sinks.append(CommandSink(args.alert_command, args.alert_timeout, complain,
                                 background=not args.once))
    if args.alert_syslog:
        sinks.append(SyslogSink(complain))
    if args.alert_mail:
        sinks.append(MailSink(args.alert_mail, args.alert_timeout, complain,
                              background=not args.once))
    try:
        geo = _open_geo(args)
    except enrich.GeoError as error:
        complain(f"--geoip: {error}")
        return EXIT_USAGE
    except UsageError as error:
        complain(str(error))
        return EXIT_USAGE
    try:
        for option, target in outputs:
            clash = _output_at_input(option, target, args.paths,
                                     databases=geo.paths if geo else ())
            if clash:
                complain(f"{option} {clash}")
                return EXIT_USAGE
        return _watch_with(args, geo, sinks, limits, zone, containment, complain)
    finally:
        if geo is not None:
            geo.close()


def _watch_with(args, geo: Optional[enrich.Geo], sinks: list, limits, zone,
                containment: Optional[watch.Containment], complain) -> int:
    """watch_main once its GeoIP databases are open."""
    from maillog_sasl import state as state_module
    from maillog_sasl import watch
    from maillog_sasl.state import State, StateError

    try:
        allow = _geo_options(args, geo)
        state = State.open(args.state or state_module.default_path(), watch.engine_format(),
                           wait=args.lock_wait, older_formats=watch.older_formats())
    except (UsageError, StateError) as error:
        complain(str(error))
        return EXIT_USAGE
    try:
        run = watch.Watch(state, args.paths, sinks, limits, zone=zone, year=args.year,
                          complain=complain, metrics_path=args.metrics,
                          alarms=watch.Alarms(args.max_deferred, args.storm_ips,
                                              args.storm_window),
                          containment=containment, geo=geo, allow=allow)
        if args.once:
            return run.once()
        return _follow(run, args.interval)
    except (StateError, StoreError) as error:
        complain(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        complain("interrupted: nothing of this run was kept")
        return EXIT_INTERRUPTED
    finally:
        state.close()


def _follow(run, interval: float) -> int:
    """Follow until Ctrl-C, SIGTERM, SIGHUP or SIGQUIT, then commit and return."""
    stop = threading.Event()

    def handler(number, frame):
        stop.set()

    previous = _handle((signal.SIGINT, *TERMINATING), handler)
    try:
        return run.follow(stop, interval=interval)
    finally:
        _restore(previous)


def _state_parser():
    parser = CommandParser(
        prog=STATE_PROG,
        description="Show what the state of `maillog-sasl watch` holds: the logs and where "
                    "they were read to, the messages still open, every account it keeps a "
                    "history for, and the alerts raised; or drop one account's history.",
        epilog=STATE_EPILOG)
    _add_state_option(parser)
    parser.add_argument("--format", "-f", choices=("text", "json"), default="text",
                        help="output format (default: %(default)s)")
    parser.add_argument("--forget", metavar="USER",
                        help="drop USER's history, pairs and raised alerts (a password was "
                             "reset: its baseline starts anew)")
    parser.add_argument("--reset-engine", action="store_true",
                        help="drop what the engine holds open (a state of another version of "
                             "maillog-sasl): history, offsets and alerts stay")
    return parser


def state_main(argv) -> int:
    """Run `maillog-sasl state ARGV`; return the exit status."""
    from maillog_sasl import state as state_module
    from maillog_sasl import watch
    from maillog_sasl.state import State, StateError

    parser = _state_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    complain = _complain(STATE_PROG)
    path = args.state or state_module.default_path()
    changing = bool(args.forget or args.reset_engine)
    try:
        state = State.open(path, watch.engine_format(), wait=args.lock_wait, lock=changing,
                           create=False, load_engine=not args.reset_engine,
                           older_formats=watch.older_formats())
    except StateError as error:
        complain(str(error))
        return EXIT_USAGE
    try:
        if args.reset_engine:
            state.begin()
            state.drop_engine()
            state.commit_plain()
            print(f"{path}: engine dropped; history, offsets and alerts kept")
            return 0
        if args.forget:
            if watch.forget(state, args.forget):
                print(f"{path}: forgot {args.forget}")
                return 0
            complain(f"{args.forget}: no history of that account in {path}")
            return 1
        held = watch.describe(state)
        if args.format == "json":
            print(json_safe(json.dumps(held, indent=2, ensure_ascii=False)))
        else:
            print(state_text(held))
        return 0
    except (StateError, StoreError) as error:
        complain(str(error))
        return EXIT_USAGE
    except BrokenPipeError:
        _discard_unwritten(sys.stdout)
        return 0
    finally:
        state.close()


def state_text(held: dict) -> str:
    """`maillog-sasl state` as text: a few lines per part."""
    safe = _printable
    lines = [f"state {safe(held['state'])}: created {held['created']} by maillog-sasl "
             f"{held['program']}; engine format {held['engine_format'] or '-'}", "", "logs:"]
    for log in held["logs"]:
        lines.append(f"  {safe(log['path'])}: offset {log['offset']} of device {log['device']} "
                     f"inode {log['inode']} (first line {log['first_line_hash'] or '-'}), "
                     f"committed {log['updated']}")
    lines += ["", f"open: {held['open_sessions']} sessions, "
                  f"{len(held['open_messages'])} authenticated messages"]
    for message in held["open_messages"]:
        lines.append(f"  {safe(message['host'])} {message['queue_id']}  {safe(message['user'])}"
                     f"  {message['kind']}  queued {message['queued']}  pending "
                     f"{message['pending']}")
    lines += ["", f"accounts with history: {len(held['accounts'])}"]
    for account in held["accounts"]:
        baseline = (f", median busy hour {account['median_busy_hour']:g} recipients"
                    if account.get("busy_hours") else "")
        countries = (f" in {' '.join(account['countries'])}" if account.get("countries")
                     else "")
        lines.append(f"  {safe(account['user'])}: {account['logins']} logins from "
                     f"{account['networks']} networks{countries}, {account['first_seen']} .. "
                     f"{account['last_seen']} (last from {account['last_ip']}){baseline}")
    lines += ["", f"alerts raised: {len(held['raised'])} (account, signal)"]
    for row in held["raised"]:
        lines.append(f"  {safe(row['user'])}: {row['signal']} at {row['severity']}, "
                     f"{row['raised']}")
    lines += ["", f"last alerts: {len(held['alerts'])}"]
    for row in held["alerts"]:
        lines.append(f"  #{row['id']} {row['raised']} {safe(row['user'])} {row['severity']}"
                     f"{'' if row['delivered'] else ' (not delivered yet)'}")
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Text from the log (an attacker picks usernames) with its control characters shown."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


SUBCOMMANDS = {
    "cram-md5": cram_md5_main,
    "auth-test": auth_test_main,
    "contain": contain_main,
    "watch": watch_main,
    "state": state_main,
}


if __name__ == "__main__":
    sys.exit(main())
