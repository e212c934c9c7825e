"""fuzz: runs maillog-sasl on damaged slices of real Postfix logs and checks what must hold
whatever the input: no traceback, exit status 0 or 2, `--jobs N` writing the bytes one process
writes, the same log given in every form it reads (stdin, compressed, rotated, a FIFO, CR line
ends) reported alike, and `watch` raising what the suspicious report finds on the lines read
so far.

SYNOPSIS
    python -m tools.fuzz jobs [--rounds 2000] [--seed 1] [--keep DIR]
    python -m tools.fuzz sources [--rounds 1000] [--seed 1] [--keep DIR]
    python -m tools.fuzz watch [--rounds 200] [--seed 1] [--keep DIR]

DESCRIPTION
    jobs   A slice (20-400 lines) of the Postfix lines of one file of sample_logs/ and
           tests/reallogs/, 15% of them damaged (cut; a token of Postfix's put in; bytes
           dropped; glued to the tail of another; an RFC 3339 stamp's offset or fraction
           changed or cut off; a traditional stamp's seconds or minutes moved), half the
           slices with neighbours swapped here and there. One report in one format (--stats
           on), run in this process with --jobs 1, then with --jobs 2 or 3 in chunks of 300,
           1,000 or 4,000 bytes: the same exit status, standard output and standard error;
           exit 0 or 2, no traceback.
    sources
           A slice as `jobs` draws, one report in one format (--stats on), run in this process
           on the file, then on the same bytes given otherwise: on standard input (`-`);
           compressed by gzip, bzip2 and xz (maillog.gz, .bz2, .xz); written by a thread into
           a FIFO named as the log, as it is and compressed by one of the three (a pipe is
           inflated in this process, a file by the system's program); with CRLF or bare CR
           line ends (each line end the reader takes for one made the other); and cut at a
           line start into maillog.1 (sometimes gzip'ed as maillog.1.gz) and maillog, both
           named, in either order (a rotated set is read by the files named, placed oldest
           first by their first stamps). Each must give the same exit status, standard output
           and standard error but for the inputs' names, the `files, in the order read` line
           (the rotated set's must name maillog.1 first) and what is said per input of Postfix
           lines whose stamp gives no time (said once for all, without the last such stamp).
           The rotated set is compared only where the tool promises to read it as the one
           file: where each part's lines have the shape the whole's have (a wrapper, a hostless
           or Solaris syslog is decided per input, from its first lines); its lines are of one
           host, those at the cut between the times of its own first and last lines, and none
           after the cut earlier than the last before it (each input's first and last lines
           are read for the log's period and each host's clock, which closes sessions idle:
           correlate.py); no stamp goes back 30 days or more; maillog.1 has a stamp in its
           first block no later than maillog's (a file without is read last); and neither is
           read as a copy of the other's text or its start (a log of repeated lines).
    watch  A slice (2,000-9,000 lines) of the shipped sample's Postfix lines, 2% damaged, written
           to a log in up to five parts cut at any byte, `watch --once` after each: the accounts
           and signals raised so far are those `--report suspicious` finds on the whole lines
           written so far, over all the runs (watch's own signals, and new-network and
           new-country, which watch judges against its history, left out).

    The suite's tests are fixed cases; this draws new ones. Its first run found a worker's fold
    of deliveries logged out of order giving the log's span another end (tests/test_jobs.py);
    `sources`' first, a rotated set whose files' first stamps are one second read in the
    order given, maillog before maillog.1, and a last file shorter than ten minutes leaving a
    session idle for over an hour open (tests/test_inputs.py).

OUTPUT
    A line per failing round on stdout, its input kept in a directory of --keep (default
    /tmp/maillog-sasl-fuzz) with what the runs wrote; a count every 100 rounds. Exit status 1
    when a round failed, 0 otherwise; stopped by SIGTERM, SIGHUP, SIGQUIT or Ctrl-C (which the
    command run in this process takes as its own run's end), the rounds so far are told and
    the status is 1 when one failed, 130 otherwise.

DIAGNOSTICS
    Known and left: a log whose stamps go back and forth across years (the tail of one
    server's log glued to another's, lines shuffled) can have a host log in the same
    ten-minute slot of the stamp's text a year later, which one process takes for no new slot
    and a worker starting there for one: sessions closed idle, and the messages of such a
    host, differ with workers. Slices are taken within one file, in order but for neighbours.
    `sources` leaves out the rotated sets the tool does not promise to read as the whole file
    (DESCRIPTION): cut there, a damaged stamp that reads as hours later, or a log of lines
    out of order, makes the cut's lines close another session idle or end the log's period
    elsewhere; a damaged first line of maillog taken for another shape (no host) reads the
    rest of it so; a yearless stamp months before the one before it (a test log whose year
    runs twice) is of the year before in one file, where maillog's clock carries on the year
    of maillog.1's. The FIFO's writer is a thread of this process: a run that never opens the
    FIFO (a usage error) has it drained after the run.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import datetime as _dt
import functools
import gzip
import io
import json
import lzma
import os
import random
import re
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple

import maillog_sasl
from maillog_sasl import cli, output
from maillog_sasl.sources import open_sources, wrapper_of
from maillog_sasl.syslog import Clock, split_line

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


class Stopped(Exception):
    """A signal that ends the fuzzing came (timeout's SIGTERM, Ctrl-C): the command run in this
    process took it as its own run's end."""


# The exit statuses of a command ended by a signal (cli.main(): 128 + its number).
STOPPED_BY_SIGNAL = {128 + number for number in (*output.TERMINATING, signal.SIGINT)}


def run(args: List[str], stdin: Optional[BinaryIO] = None) -> Tuple[object, str, str]:
    """The command in this process, `stdin` its standard input: (exit status, stdout, stderr).
    Raises Stopped when a signal ended it: meant for the fuzzer, not a failing round."""
    out, err = io.StringIO(), io.StringIO()
    given = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: object = cli.main(args)
            except SystemExit as stop:
                code = stop.code
    finally:
        sys.stdin = given
    if code in STOPPED_BY_SIGNAL:
        raise Stopped(code)
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
    """The Postfix lines of each log file shipped, a list a file (the real Postfix logs of
    tests/fixtures among them)."""
    paths = [SAMPLE] + [path for path in sorted((ROOT / "tests" / "reallogs").rglob("*"))
                        if path.is_file() and path.suffix != ".md" and path.name != "LICENSE"]
    paths += sorted((ROOT / "tests" / "fixtures").glob("*/maillog"))
    logs = [[line for line in path.read_bytes().split(b"\n") if b"postfix" in line]
            for path in paths]
    return [lines for lines in logs if lines]


def drawn_slice(logs: List[List[bytes]], rnd: random.Random) -> bytes:
    """The bytes of a log `jobs` and `sources` read: a slice of one file's Postfix lines, some
    damaged, neighbours swapped in half of them, the last line's end left off in a fifth."""
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
    return b"\n".join(chosen) + (b"\n" if rnd.random() < 0.8 else b"")


def report_args(rnd: random.Random) -> List[str]:
    """A report in a format, --stats on, the clock's options: what a round's runs share."""
    return ["-r", rnd.choice(REPORTS), "-f", rnd.choice(["table", "csv", "json"]), "--stats",
            *COMMON]


def jobs_round(logs: List[List[bytes]], rnd: random.Random, place: Path) -> str:
    """One round of `jobs`: '' or what went wrong."""
    log = place / "maillog"
    log.write_bytes(drawn_slice(logs, rnd))
    args = [*report_args(rnd), str(log)]
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


COMPRESSORS: Dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
LINE_END = re.compile(rb"\r\n|\r|\n")  # what the reader takes for one (sources.LineSplitter)
# A yearless stamp this much before the one before it: of the year before or after, in doubt.
YEARLESS_DOUBT = _dt.timedelta(days=30)
LAST_END = re.compile(rb"(?:\r\n|\r|\n)\Z")  # the last line's own end
ORDER_READ = re.compile(r"files, in the order read: .*")
# What a run says of each input's Postfix lines whose stamp gives no time: said per file.
UNTIMED = re.compile(
    r"maillog-sasl: LOG: ([0-9]+) Postfix lines? (not used: .*?)(?: \(the last: .*)?")


def through_fifo(path: Path, data: bytes, args: List[str]) -> Tuple[object, str, str]:
    """run() of `args` reading `data` through a FIFO made at `path` (a thread writes it)."""
    os.mkfifo(path)

    def write() -> None:
        try:
            with open(path, "wb") as fifo:
                fifo.write(data)
        except BrokenPipeError:
            pass  # the run stopped reading: its output tells

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        return run(args)
    finally:
        writer.join(1)
        if writer.is_alive():  # never opened: the writer waits for a reader
            with open(path, "rb") as fifo:
                fifo.read()
        writer.join()


def read_alike_cut(data: bytes, cut: int) -> bool:
    """Whether the rotated set of `data` cut at byte `cut` is promised to read as `data` does:
    the shape of each input's lines is decided from its own first ones (sources.wrapper_of());
    an input's first and last lines are read for the log's period and its host's clock, which
    closes sessions idle (correlate.py): the lines at the cut must be of the one host `data`
    logs and between the times of `data`'s own first and last lines, and none after the cut
    earlier than the one before it (a stamp damaged into hours later). Nor where a yearless
    stamp goes back months (a test log's year cycled twice): the next file's clock carries the
    year on where one file's takes the nearer (DIAGNOSTICS' years back and forth)."""
    def lines(part: bytes) -> List[str]:
        return [line.decode("utf-8", "replace") for line in LINE_END.split(part)]

    shape = wrapper_of(lines(data))
    if wrapper_of(lines(data[:cut])) != shape or wrapper_of(lines(data[cut:])) != shape:
        return False
    clock = Clock(year=2026, tz=_dt.timezone.utc)
    fields = [split_line(line) for line in lines(LAST_END.sub(b"", data, count=1))]
    times = [clock.time(parsed[0]) if parsed else None for parsed in fields]
    known = [moment for moment in times if moment is not None]
    if len({parsed[1] for parsed in fields if parsed}) > 1 or None in (times[0], times[-1]) \
            or any(later < earlier - YEARLESS_DOUBT for earlier, later in zip(known, known[1:])):
        return False
    at = len(LINE_END.findall(data[:cut]))  # the newer part's first line
    last = times[at - 1]
    return all(moment is None or times[0] <= moment <= times[-1]
               for moment in times[at - 1:at + 1]) \
        and (last is None or all(moment is None or moment >= last for moment in times[at:]))


def kept_in_order(older: Path, newer: Path) -> bool:
    """Whether the tool must read the rotated set `older`, `newer` in that order whatever order
    they are given in: it places each file by the first stamp of its first block, one without
    last (sources.py), so not when `older` has none or `newer`'s is earlier; nor when it reads
    one of them only, the other a copy of its text or of its start (a log of repeated lines)."""
    inputs = open_sources([str(older), str(newer)], zone=_dt.timezone.utc)
    for source in inputs.sources:
        source.close()
    if inputs.notes:
        return False
    first = {source.name: source.first_time for source in inputs.sources}
    starts, then = first[str(older)], first[str(newer)]
    return starts is not None and (then is None or then >= starts)


def rotated_run(data: bytes, args: List[str], rnd: random.Random,
                place: Path) -> Optional[Tuple[Tuple[object, str, str], str]]:
    """run() of `data` cut at a line start into maillog.1 (older; sometimes gzip'ed) and
    maillog in the directory `place`, both named, in either order, and the order --stats must
    name them in; None when the cut gives a set the tool does not promise to read as `data`
    (read_alike_cut(), kept_in_order())."""
    starts = [found.end() for found in LINE_END.finditer(data) if found.end() < len(data)]
    if not starts:
        return None
    cut = rnd.choice(starts)
    if not read_alike_cut(data, cut):
        return None
    place.mkdir()
    older = place / ("maillog.1.gz" if rnd.random() < 0.3 else "maillog.1")
    newer = place / "maillog"
    older.write_bytes(gzip.compress(data[:cut]) if older.suffix == ".gz" else data[:cut])
    newer.write_bytes(data[cut:])
    if not kept_in_order(older, newer):
        return None
    return (run([*args, *rnd.sample([str(older), str(newer)], 2)]),
            f"files, in the order read: {older}, {newer}\n")


def sources_round(logs: List[List[bytes]], rnd: random.Random, place: Path) -> str:
    """One round of `sources`: '' or what went wrong."""
    data = drawn_slice(logs, rnd)
    args = report_args(rnd)
    log = place / "maillog"
    log.write_bytes(data)
    plain = run([*args, str(log)])
    runs: Dict[str, object] = {"args": args, "file": plain}
    if "Traceback" in plain[2] or plain[0] not in (0, 2):
        (place / "runs.json").write_text(json.dumps(runs))
        return f"exit {plain[0]}: {plain[2][-300:]!r}"

    def as_file(form: str, name: str, content: bytes) -> Tuple[object, str, str]:
        (place / form).mkdir()
        path = place / form / name
        path.write_bytes(content)
        return run([*args, str(path)])

    with open(log, "rb") as stdin:
        runs["stdin"] = run([*args, "-"], stdin)
    for suffix, compress in COMPRESSORS.items():
        runs[suffix] = as_file(suffix, "maillog" + suffix, compress(data))
    runs["fifo"] = through_fifo(place / "fifo", data, [*args, str(place / "fifo")])
    # A compressed pipe is inflated in this process, not by the system's program.
    suffix = rnd.choice(list(COMPRESSORS))
    runs[f"{suffix} fifo"] = through_fifo(place / f"fifo{suffix}", COMPRESSORS[suffix](data),
                                          [*args, str(place / f"fifo{suffix}")])
    ending = rnd.choice([b"\r\n", b"\r"])
    runs[f"{ending!r} line ends"] = as_file("ends", "maillog", LINE_END.sub(ending, data))
    rotated = rotated_run(data, args, rnd, place / "rotated")
    if rotated is not None:
        runs["rotated"] = rotated[0]
    (place / "runs.json").write_text(json.dumps(runs))
    if rotated is not None and rotated[1] not in rotated[0][2]:
        return "rotated: maillog read before maillog.1"
    names = [str(path) for path in place.rglob("*") if not path.is_dir()] + ["<stdin>"]
    expected = without_names(plain, names)
    for form, outcome in runs.items():
        if form not in ("args", "file") and without_names(outcome, names) != expected:
            return f"{form} reported otherwise than the file"
    return ""


def without_names(outcome, names: List[str]) -> Tuple[object, str, str]:
    """A run's (exit status, stdout, stderr) with the names of its inputs left out of stderr,
    and what it says per input of Postfix lines without a time said once for them all, without
    the last such stamp (its wording is another branch's)."""
    code, out, err = outcome
    for name in sorted(names, key=len, reverse=True):  # maillog.1 before maillog
        err = err.replace(name, "LOG")
    told: List[str] = []
    untimed, at = 0, len(err)
    for line in err.splitlines():
        found = UNTIMED.fullmatch(line)
        if found is None:
            told.append(ORDER_READ.sub("files, in the order read: LOG", line))
            continue
        untimed += int(found.group(1))
        at = min(at, len(told))
        told[at:at + 1] = [f"maillog-sasl: LOG: {untimed} Postfix lines {found.group(2)}"]
    return code, out, "\n".join(told)


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


# Each mode's round and its default number of rounds.
MODES = {"jobs": (jobs_round, 2000), "sources": (sources_round, 1000), "watch": (watch_round, 200)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=tuple(MODES))
    parser.add_argument("--rounds", type=int, default=None,
                        help="how many (default 2000 for jobs, 1000 for sources, 200 for "
                             "watch)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/maillog-sasl-fuzz"),
                        help="where failing rounds' inputs are kept")
    options = parser.parse_args(argv)
    one_round, rounds = MODES[options.mode]
    rounds = options.rounds or rounds
    rnd = random.Random(options.seed)
    logs = postfix_lines()
    work = options.keep / f"{options.mode}-{options.seed}-work"
    failed = 0
    for number in range(rounds):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            problem = one_round(logs, rnd, work)
        except (Stopped, KeyboardInterrupt):
            print(f"stopped in round {number}: {number} rounds, {failed} failed", flush=True)
            shutil.rmtree(work, ignore_errors=True)
            return 1 if failed else 130
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
