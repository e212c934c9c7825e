"""fuzz: runs maillog-sasl on damaged slices of real Postfix logs and checks what must hold
whatever the input: no traceback, exit status 0 or 2, `--jobs N` writing the bytes one process
writes, and `watch` raising what the suspicious report finds on the lines read so far.

SYNOPSIS
    python -m tools.fuzz jobs [--rounds 2000] [--seed 1] [--keep DIR]
    python -m tools.fuzz watch [--rounds 200] [--seed 1] [--keep DIR]

DESCRIPTION
    jobs   A slice (20-400 lines) of the Postfix lines of one file of sample_logs/ and
           tests/reallogs/, 15% of them damaged (cut; a token of Postfix's put in; bytes dropped; glued to the
           tail of another; an RFC 3339 stamp's offset or fraction changed or cut off; a
           traditional stamp's seconds or minutes moved), half the slices with neighbours
           swapped here and there. One report in one format (--stats on), run in this process
           with --jobs 1, then with --jobs 2 or 3 in chunks of 300, 1,000 or 4,000 bytes: the
           same exit status, standard output and standard error; exit 0 or 2, no traceback.
    watch  A slice (2,000-9,000 lines) of the shipped sample's Postfix lines, 2% damaged, written
           to a log in up to five parts cut at any byte, `watch --once` after each: the accounts
           and signals raised so far are those `--report suspicious` finds on the whole lines
           written so far, over all the runs (watch's own signals, and new-network and
           new-country, which watch judges against its history, left out).

    The suite's tests are fixed cases; this draws new ones. Its first run found a worker's fold
    of deliveries logged out of order giving the log's span another end (tests/test_jobs.py).

OUTPUT
    A line per failing round on stdout, its input kept in a directory of --keep (default
    /tmp/maillog-sasl-fuzz) with what the runs wrote; a count every 100 rounds. Exit status 1
    when a round failed, 0 otherwise.

DIAGNOSTICS
    Known and left: a log whose stamps go back and forth across years (the tail of one
    server's log glued to another's, lines shuffled) can have a host log in the same
    ten-minute slot of the stamp's text a year later, which one process takes for no new slot
    and a worker starting there for one: sessions closed idle, and the messages of such a
    host, differ with workers. Slices are taken within one file, in order but for neighbours.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import random
import shutil
import sys
from pathlib import Path
from typing import List, Tuple

import maillog_sasl
from maillog_sasl import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs" / "maillog-sample.log"
REPORTS = ("users", "sessions", "messages", "ips", "suspicious", "timeline", "queue", "failures")
TOKENS = (b"sasl_username=", b"client=", b"status=sent", b"status=deferred", b"removed",
          b"connect from ", b"disconnect from ", b"queued as ", b"; from=<", b"to=<", b" ",
          b"\r", b"\x00", b"\xff", b"[", b"]", b":", b"=", b"<", b">", b",", b"auth=0/1",
          b"postfix/smtpd[1]:", b"NOQUEUE: reject: ", b"(queue active)")
OFFSETS = (b"+00:00", b"-05:00", b"+09:00", b"+14:00")
# Judged by watch against its history, or watch's own (watch.py): not the report's.
NOT_THE_REPORTS = {"failure-storm", "queue-growth", "contained", "new-network", "new-country"}
COMMON = ["--tz", "UTC", "--year", "2026"]


def run(args: List[str]) -> Tuple[object, str, str]:
    """The command in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: object = cli.main(args)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def damaged(line: bytes, lines: List[bytes], rnd: random.Random) -> bytes:
    at = rnd.randrange(len(line) + 1)
    kind = rnd.randrange(6)
    if kind == 0:
        return line[:at]
    if kind == 1:
        return line[:at] + rnd.choice(TOKENS) + line[at:]
    if kind == 2:
        return line[:at] + line[at + rnd.randrange(1, 20):]
    if kind == 3:
        other = rnd.choice(lines)
        return line[:at] + other[rnd.randrange(len(other) + 1):]
    stamp, _, rest = line.partition(b" ")
    if kind == 4 and stamp[:4].isdigit() and len(stamp) >= 26:
        stamp = rnd.choice([stamp[:19], stamp[:19] + b"Z", stamp[:26] + rnd.choice(OFFSETS),
                            stamp[:19] + stamp[26:]])
        return stamp + b" " + rest
    if kind == 5 and line[3:4] == b" " and len(line) > 20:
        field = rnd.choice([10, 13])
        return line[:field] + b"%02d" % rnd.randrange(60) + line[field + 2:]
    return line


def postfix_lines() -> List[List[bytes]]:
    """The Postfix lines of each log file shipped, a list a file."""
    paths = [SAMPLE] + [path for path in sorted((ROOT / "tests" / "reallogs").rglob("*"))
                        if path.is_file() and path.suffix != ".md" and path.name != "LICENSE"]
    logs = [[line for line in path.read_bytes().split(b"\n") if b"postfix" in line]
            for path in paths]
    return [lines for lines in logs if lines]


def jobs_round(logs: List[List[bytes]], rnd: random.Random, place: Path) -> str:
    """One round of `jobs`: '' or what went wrong."""
    # A slice of one file (the files are of other servers and years: one crossing into the
    # next would jump years back and forth, DIAGNOSTICS' case), a file as likely as its size.
    lines = rnd.choices(logs, weights=[len(lines) for lines in logs])[0]
    start = rnd.randrange(len(lines))
    chosen = [damaged(line, lines, rnd) if rnd.random() < 0.15 else line
              for line in lines[start:start + rnd.randrange(20, 400)]]
    if rnd.random() < 0.5:
        for _ in range(rnd.randrange(1, 10)):
            at = rnd.randrange(max(1, len(chosen) - 1))
            chosen[at:at + 2] = chosen[at:at + 2][::-1]
    log = place / "maillog"
    log.write_bytes(b"\n".join(chosen) + (b"\n" if rnd.random() < 0.8 else b""))
    args = ["-r", rnd.choice(REPORTS), "-f", rnd.choice(["table", "csv", "json"]), "--stats",
            *COMMON, str(log)]
    opened = maillog_sasl.open_logs
    one = run(["--jobs", "1", *args])
    jobs, size = rnd.choice([2, 2, 3]), rnd.choice([300, 1000, 4000])
    cli.open_logs = functools.partial(opened, chunk_size=size)
    try:
        more = run(["--jobs", str(jobs), *args])
    finally:
        cli.open_logs = opened
    (place / "runs.json").write_text(json.dumps({"args": args, "jobs": jobs, "chunk": size,
                                                 "one": one, "more": more}))
    if "Traceback" in one[2] or one[0] not in (0, 2):
        return f"exit {one[0]}: {one[2][-300:]!r}"
    return "" if more == one else f"--jobs {jobs} in chunks of {size} wrote otherwise"


def watch_round(logs: List[List[bytes]], rnd: random.Random, place: Path) -> str:
    """One round of `watch`: '' or what went wrong."""
    lines = logs[0]  # the sample's
    start = rnd.randrange(len(lines) - 2000)
    data = b"".join(damaged(line, lines, rnd) + b"\n" if rnd.random() < 0.02 else line + b"\n"
                    for line in lines[start:start + rnd.randrange(2000, 9000)])
    log, written = place / "maillog", place / "written"
    log.write_bytes(b"")
    raised: set = set()
    found: set = set()
    for cut in sorted(rnd.sample(range(1, len(data)), rnd.randrange(1, 5))) + [len(data)]:
        with open(log, "ab") as appending:
            appending.write(data[log.stat().st_size:cut])
        code, out, err = run(["watch", "--once", "--state", str(place / "state"), *COMMON,
                              str(log)])
        if "Traceback" in err or code not in (0, 1, 2):  # 2: stamps damaged into no time
            return f"watch: exit {code}: {err[-300:]!r}"
        for alert in map(json.loads, out.splitlines()):
            raised.update((alert["user"], signal) for signal in alert["new_signals"])
        written.write_bytes(data[:data.rfind(b"\n", 0, cut) + 1])
        _, out, _ = run(["-r", "suspicious", "-f", "json", *COMMON, str(written)])
        found.update((row["user"], signal) for row in json.loads(out or "[]")
                     for signal in row["signals"])
        if {pair for pair in raised if pair[1] not in NOT_THE_REPORTS} != {
                pair for pair in found if pair[1] not in NOT_THE_REPORTS}:
            return f"after the part ending at byte {cut}: watch raised {sorted(raised)}, " \
                   f"the report found {sorted(found)}"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("jobs", "watch"))
    parser.add_argument("--rounds", type=int, default=None,
                        help="how many (default 2000 for jobs, 200 for watch)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/maillog-sasl-fuzz"),
                        help="where failing rounds' inputs are kept")
    options = parser.parse_args(argv)
    rounds = options.rounds or (2000 if options.mode == "jobs" else 200)
    rnd = random.Random(options.seed)
    logs = postfix_lines()
    one_round = jobs_round if options.mode == "jobs" else watch_round
    work = options.keep / f"{options.mode}-{options.seed}-work"
    failed = 0
    for number in range(rounds):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        problem = one_round(logs, rnd, work)
        if problem:
            failed += 1
            kept = options.keep / f"{options.mode}-{options.seed}-{number}"
            shutil.rmtree(kept, ignore_errors=True)
            work.rename(kept)
            print(f"round {number}: {problem} (input in {kept})", flush=True)
        if number % 100 == 99:
            print(f"{number + 1} rounds, {failed} failed", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
