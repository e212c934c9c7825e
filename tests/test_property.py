"""Property: whatever bytes arrive, every report in every format ends with exit status 0 or 2,
no traceback, and output that parses in its format.

The input is built from the lines of the real Postfix 3.7 fixture (tests/fixtures/postfix37/
maillog): a run of them in order (so sessions and messages correlate) or lines drawn in any
order and any number of times, then damaged: lines duplicated, cut at a byte offset, two cut
lines glued, random bytes (invalid UTF-8, NUL, CR) put between lines or inside one, lines
longer than the reader's 64 KiB line cap and its 128 KiB block, other line ends, the whole
stream cut at both ends. The CLI runs in-process through
maillog_sasl.cli.main on standard input, its stdout and stderr captured; main must return an
exit status, never raise.

Examples per report group: 50 by default (about 4 s for the ten groups), 1000 with
HYPOTHESIS_PROFILE=ci (about 3 min). A failure prints a reproduction blob
(@reproduce_failure) besides the shrunk input.
"""

import contextlib
import csv
import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from maillog_sasl.cli import main
from maillog_sasl.reports import REPORTS
from maillog_sasl.syslog import split_line

# 50 examples per report group keep the default suite fast; HYPOTHESIS_PROFILE=ci runs more.
# No deadline: a run with a 300 kB line takes longer than hypothesis's 200 ms default.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
settings.register_profile("default-fast", max_examples=50, **_COMMON)
settings.register_profile("ci", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default-fast"))

FIXTURE = Path(__file__).parent / "fixtures" / "postfix37" / "maillog"
LINES = FIXTURE.read_bytes().splitlines()

TEXT_FORMATS = ("table", "csv", "json", "ndjson")
# group -> (report arguments, columns). `ids` prints the queue_id column alone (render.py), so
# only the reports that have one are asked for it.
GROUPS = {
    "users": (["-r", "users"], REPORTS["users"].columns),
    "sessions": (["-r", "sessions"], REPORTS["sessions"].columns),
    "sessions-all": (["-r", "sessions", "--all"], REPORTS["sessions"].columns),
    "messages": (["-r", "messages"], REPORTS["messages"].columns),
    "ips": (["-r", "ips"], REPORTS["ips"].columns),
    "failures": (["-r", "failures"], REPORTS["failures"].columns),
    "failures-by-user": (["-r", "failures", "--by", "user"],
                         REPORTS["failures"].views["user"].columns),
    "suspicious": (["-r", "suspicious"], REPORTS["suspicious"].columns),
    "timeline": (["-r", "timeline"], REPORTS["timeline"].columns),
    "queue": (["-r", "queue"], REPORTS["queue"].columns),
}


def formats_of(columns):
    return TEXT_FORMATS + (("ids",) if "queue_id" in columns else ())


# -- the input --------------------------------------------------------------------------------

# Bytes that break decoders and line splitters: invalid UTF-8 (a lone continuation byte, a cut
# sequence, an overlong form, a surrogate, beyond U+10FFFF), NUL, CR, form feed, DEL, C1, a BOM,
# a bidi override.
NASTY = [b"\x80", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
         b"\xff\xfe", b"\x00", b"\r", b"\x0c", b"\x7f", b"\xc2\x85", b"\xef\xbb\xbf",
         "\u202e".encode(), b"\t", b" ", b"[", b"]", b": ", b", ", b"="]

payloads = st.one_of(
    st.sampled_from(NASTY),
    st.binary(max_size=64),
    st.text(max_size=24).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=8).map(b"".join),
)


def long_line(seed: bytes, size: int) -> bytes:
    return (seed * (size // len(seed) + 1))[:size]


position = st.integers(min_value=0, max_value=10_000)
mutation = st.one_of(
    st.tuples(st.just("dup"), position, st.integers(1, 3)),
    st.tuples(st.just("cut"), position, position, st.booleans()),
    st.tuples(st.just("glue"), position, position, position),
    st.tuples(st.just("insert"), position, payloads),
    st.tuples(st.just("inside"), position, position, payloads),
    st.tuples(st.just("long"), position, st.binary(min_size=1, max_size=8),
              st.integers(1_000, 300_000)),
    st.tuples(st.just("stretch"), position, position, st.integers(1_000, 300_000)),
    st.tuples(st.just("move"), position, position),
)


def mutate(lines, operation):
    kind, at = operation[0], operation[1]
    if not lines:
        lines.append(b"")
    index = at % len(lines)
    line = lines[index]
    if kind == "dup":
        lines[index:index + 1] = [line] * (operation[2] + 1)
    elif kind == "cut":  # keep the head or the tail of a line cut at a byte offset
        offset = operation[2] % (len(line) + 1)
        lines[index] = line[:offset] if operation[3] else line[offset:]
    elif kind == "glue":  # the head of one line and the tail of another: a lost buffer
        other = lines[operation[2] % len(lines)]
        lines[index] = line[:operation[3] % (len(line) + 1)] + other[operation[3] % (len(other) + 1):]
    elif kind == "insert":
        lines.insert(index, operation[2])
    elif kind == "inside":
        offset = operation[2] % (len(line) + 1)
        lines[index] = line[:offset] + operation[3] + line[offset:]
    elif kind == "long":  # a line of its own, up to past the line cap and the reader's block
        lines.insert(index, long_line(operation[2], operation[3]))
    elif kind == "stretch":  # one field of a Postfix line grows: a username, a reason
        offset = operation[2] % (len(line) + 1)
        lines[index] = line[:offset] + long_line(b"a", operation[3]) + line[offset:]
    elif kind == "move":
        lines.insert(operation[2] % len(lines), lines.pop(index))
    return lines


@st.composite
def logs(draw):
    if draw(st.booleans()):
        start = draw(st.integers(0, len(LINES) - 1))
        lines = LINES[start:start + draw(st.integers(1, 150))]
    else:
        lines = draw(st.lists(st.sampled_from(LINES), max_size=60))
    lines = list(lines)
    for operation in draw(st.lists(mutation, max_size=8)):
        lines = mutate(lines, operation)
    end = draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r", b"\x00"]))
    data = end.join(lines) + draw(st.sampled_from([end, b""]))
    if draw(st.booleans()):  # the stream itself cut at both ends
        head = draw(st.integers(0, len(data)))
        data = data[head:head + draw(st.integers(0, len(data)))]
    return data


# -- running the CLI --------------------------------------------------------------------------

class RunTooLong(Exception):
    """Not TimeoutError: that is an OSError, which the CLI reports as a write error."""


def _too_long(signum, frame):
    raise RunTooLong("the run did not end in time")


@contextlib.contextmanager
def time_limit(seconds: float):
    """RunTooLong in the running code after `seconds` (where SIGALRM exists): a run that
    never ends fails its test instead of hanging the suite."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(args, data: bytes, seconds: float = 30):
    """main(args) with `data` on stdin: (exit status, stdout bytes, stderr text)."""
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    sys.stdout = out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    sys.stderr = err = io.StringIO()
    try:
        with time_limit(seconds):
            code = main(args)
    except SystemExit as exit_:  # main must return its status, not exit
        raise AssertionError(f"main raised SystemExit({exit_.code})") from exit_
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    out.flush()
    return code, out.buffer.getvalue(), err.getvalue()


def check_output(fmt, columns, code, raw: bytes):
    if not raw:
        # No rows print nothing in ndjson and ids; a table, CSV or JSON report, even empty, has
        # a summary, a header or [], unless the run failed.
        assert code == 2 or fmt in ("ndjson", "ids"), "no output on success"
        return
    text = raw.decode("utf-8")  # output is UTF-8 whatever the input held
    if fmt == "csv":
        limit = csv.field_size_limit(sys.maxsize)  # a cell may hold most of a 64 KiB line
        try:
            table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        finally:
            csv.field_size_limit(limit)
        assert table[0] == list(columns)
        assert all(len(row) == len(columns) for row in table[1:])
    elif fmt == "json":
        document = json.loads(text)
        assert isinstance(document, list)
        assert all(list(row) == list(columns) for row in document)
    elif fmt == "ndjson":
        assert text.endswith("\n")
        for line in text.split("\n")[:-1]:
            assert list(json.loads(line)) == list(columns)
    elif fmt == "ids":
        ids = text.split("\n")
        assert ids.pop() == ""
        assert all(ids) and "NOQUEUE" not in ids and len(set(ids)) == len(ids)
    else:
        assert text.endswith("\n")


# A dirty input of each kind, run whatever the profile draws.
DIRTY = b"\n".join([
    LINES[0], LINES[1][:40], b"\xff\xfe\x00garbage\r", LINES[2] + b"\xc3", long_line(b"x", 200_000),
    LINES[3].replace(b"]: ", b"]: \x00\x1b[31m", 1), LINES[1][40:], LINES[4], LINES[4]])


@pytest.mark.parametrize("group", sorted(GROUPS))
@given(data=logs())
@example(data=b"")
@example(data=FIXTURE.read_bytes())
@example(data=DIRTY)
def test_any_input_gives_a_report_that_parses(group, data):
    args, columns = GROUPS[group]
    for fmt in formats_of(columns):
        code, out, err = run([*args, "-f", fmt, "--year", "2023", "--tz", "UTC", "-"], data)
        note(f"format {fmt}: exit {code}, stderr {err!r}")
        assert code in (0, 2)
        assert "Traceback" not in err
        check_output(fmt, columns, code, out)


# A prefix's shape (a `docker compose logs` bar, kubectl's `[pod/...] `, a runtime's stamp, a
# PRI, an unpadded day) repeated thousands of times in one line: each was taken off and the rest
# read again one Python call deeper, a RecursionError past the interpreter's limit (hypothesis
# drew the bars). Real logs nest a few: the line behind them, within MOST_PREFIXES, is read.
REPEATED_PREFIXES = [b"x| ", b"[pod/ab] ", b"<1>", b"2024-01-01T00:00:00Z ",
                     b"2024-01-01T00:00:00Z INFO    ", b"Aug 3 "]
NESTED = b"postfix_1  | 2024-01-01T00:00:00.000Z <22>" + LINES[0]


@pytest.mark.parametrize("prefix", REPEATED_PREFIXES)
def test_a_prefix_repeated_in_a_line_is_garbage_not_a_traceback(prefix):
    args = ["-r", "users", "-f", "csv", "--year", "2023", "--tz", "UTC", "-"]
    code, out, err = run(args, prefix * 3000 + LINES[0] + b"\n" + FIXTURE.read_bytes())
    assert code == 0 and "Traceback" not in err, err
    assert out == run(args, FIXTURE.read_bytes())[1]


def test_a_line_behind_three_prefixes_is_read():
    assert split_line(NESTED.decode()) == split_line(LINES[0].decode())


# Numbers inside lines are not mutated above: one of them sets the run time (below), and a
# run that cannot end is no example to shrink. A hand-made probe of every numeric field
# (counters, pids, ports, sizes, delays, days and hours) found nothing else.
HUGE_NRCPT = (
    b"Nov 29 01:07:42 mail postfix/submission/smtpd[20408]: connect from unknown[127.0.1.1]\n"
    b"Nov 29 01:07:42 mail postfix/submission/smtpd[20408]: 529A020C3CB: client=unknown[127.0.1.1],"
    b" sasl_method=PLAIN, sasl_username=alice@harness.test\n"
    b"Nov 29 01:07:42 mail postfix/qmgr[20405]: 529A020C3CB: from=<alice@harness.test>, size=506,"
    b" nrcpt=1000000000000 (queue active)\n")


@pytest.mark.parametrize("name", ["users", "messages"])
def test_a_number_in_one_line_does_not_set_the_run_time(name):
    code, out, err = run(["-r", name, "-f", "csv", "--year", "2023", "--tz", "UTC", "-"],
                         HUGE_NRCPT, seconds=1)
    assert code == 0, err
