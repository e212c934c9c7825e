"""cli: the generator's command line, `python -m tools.simulate` (run from the repository root).

SUMMARY
    main(argv=None) -> exit status
    build_parser() -> argparse.ArgumentParser

INPUT
    Options only (see --help): the SimConfig fields, --volume or --target-lines, -o FILE,
    --truth FILE.json, --rotate N.

OUTPUT
    The log (-o; "-" is standard output; .gz compressed; --rotate: FILE.N.gz .. FILE), the
    truth as indented JSON (--truth), and one summary line on standard error: lines, SASL
    users, failing IPs, pending messages, volume, seconds.

DIAGNOSTICS
    Invalid options: argparse usage message, exit status 2. A file that cannot be written:
    "simulate: cannot write FILE: reason" on standard error, exit status 1. A reader that goes
    away (`-o - | head`): exit status 1, quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tools.simulate.config import SimConfig
from tools.simulate.simulation import simulate_to_files, volume_for_lines

EPILOG = """\
examples:
  python -m tools.simulate --seed 1 --days 7 --users 60 --compromised 3 \\
      --timestamps rfc3339 --year 2026 -o maillog --truth maillog.truth.json
  python -m tools.simulate --timestamps traditional --start 12-28 --days 7 \\
      -o dec.log --truth dec.truth.json          (crosses into the next year)
  python -m tools.simulate --hosts 3 --long-queue-ids -o central.log
  python -m tools.simulate --rotate 6 -o logs/maillog   (maillog.6.gz .. maillog)
  python -m tools.simulate --target-lines 1500000 -o bench-1.5M.log

Same seed and options, same bytes.  With traditional timestamps the log is
written in UTC wall-clock time and the truth uses +00:00.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.simulate",
        description="Generate a realistic Postfix mail log with its ground truth "
                    "(SASL logins, source IPs, delivery outcome of every recipient).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SimConfig()
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument("--days", type=float, default=d.days, help="length of the log in days (default %(default)s)")
    p.add_argument("--users", type=int, default=d.users,
                   help="normal, never compromised accounts (default %(default)s)")
    p.add_argument("--compromised", type=int, default=d.compromised,
                   help="accounts that get compromised, in addition to --users (default %(default)s)")
    p.add_argument("--timestamps", choices=("rfc3339", "traditional"), default=d.timestamps,
                   help="rfc3339: 2026-03-02T09:15:03.123456+09:00 (rsyslog); traditional: "
                        "'Mar  2 00:15:03', no year, written in UTC (default %(default)s)")
    p.add_argument("--year", type=int, default=d.year, help="year of the start date (default %(default)s)")
    p.add_argument("--start", default=d.start,
                   help="start, local time at --utc-offset: MM-DD[THH:MM[:SS]] (default %(default)s)")
    p.add_argument("--utc-offset", default=d.utc_offset,
                   help="the server's UTC offset, carried by rfc3339 lines (default %(default)s)")
    p.add_argument("--hosts", type=int, default=d.hosts,
                   help="number of Postfix hosts logging to one central file (default %(default)s)")
    p.add_argument("--long-queue-ids", action="store_true",
                   help="use Postfix long queue ids (enable_long_queue_ids=yes)")
    p.add_argument("--inbound-per-user", type=float, default=d.inbound_per_user, metavar="N",
                   help="inbound SMTP sessions per account per day on top of a small base "
                        "(default %(default)s); a busy MX receives far more than its users send, "
                        "e.g. --inbound-per-user 40")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--volume", type=float, default=None,
                      help="traffic multiplier for all traffic kinds (default 1.0: about 3,000 lines "
                           "a day with 60+3 users)")
    size.add_argument("--target-lines", type=int, default=None, metavar="N",
                      help="choose --volume so that the log has about N lines (calibration "
                           "runs without output first, ~6 s; typically within 5%%)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="log file to write ('-' for standard output; gzip if it ends in .gz)")
    p.add_argument("--truth", metavar="FILE.json", help="write the ground truth JSON here")
    p.add_argument("--rotate", type=int, default=0, metavar="N",
                   help="split into FILE.N.gz ... FILE.1.gz and FILE (newest), N+1 equal time "
                        "slices, like logrotate (default 0: one file)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = SimConfig(seed=args.seed, days=args.days, users=args.users, compromised=args.compromised,
                    timestamps=args.timestamps, year=args.year, start=args.start,
                    utc_offset=args.utc_offset, hosts=args.hosts,
                    long_queue_ids=args.long_queue_ids,
                    volume=args.volume if args.volume is not None else 1.0,
                    inbound_per_user=args.inbound_per_user)
    try:
        cfg.validate()
    except ValueError as e:
        parser.error(str(e))
    if args.rotate < 0:
        parser.error("--rotate must be >= 0")
    if args.rotate and args.output == "-":
        parser.error("--rotate needs a file name, not '-'")
    if args.target_lines is not None:
        if args.target_lines < 1:
            parser.error("--target-lines must be positive")
        cfg.volume = volume_for_lines(cfg, args.target_lines)
    t0 = time.perf_counter()
    try:
        truth = simulate_to_files(cfg, args.output, rotate=args.rotate)
    except BrokenPipeError:                       # -o - | head: the reader has gone
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as e:
        print(f"simulate: cannot write {e.filename or args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    if args.truth:
        try:
            with open(args.truth, "w", encoding="utf-8") as fh:
                json.dump(truth, fh, indent=1, sort_keys=False)
                fh.write("\n")
        except OSError as e:
            print(f"simulate: cannot write {args.truth}: {e.strerror or e}", file=sys.stderr)
            return 1
    print(f"simulate: {truth['lines']} lines, {len(truth['users']) - 1} SASL users, "
          f"{len(truth['failures'])} failing IPs, {len(truth['pending'])} pending, "
          f"volume {cfg.volume:g}, {elapsed:.1f} s", file=sys.stderr)
    return 0
