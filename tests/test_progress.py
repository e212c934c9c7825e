"""Progress bar (maillog_sasl.progress): when it shows, what it says, that it erases itself,
and the CLI wiring (--quiet, silent when stderr is not a terminal). A fake terminal stream and a
fake clock; no real terminal needed."""

import io
import re
import sys

import pytest

from maillog_sasl import cli
from maillog_sasl.model import Stats
from maillog_sasl.progress import CLEAR, MIN_BYTES, Progress
from maillog_sasl.sources import Source

SEED_LOG = "sample_logs/seed-maillog.txt"


class FakeTty(io.StringIO):
    def __init__(self, tty=True):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def source(name, size, done=0, path="x"):
    item = Source(name, path if size else None, None)
    item.size = size
    item.bytes_done = done
    return item


def stats(lines):
    result = Stats()
    result.lines_read = lines
    return result


def test_shown_only_on_a_terminal_for_large_input_and_not_quiet():
    big = [source("big.log", MIN_BYTES)]
    assert Progress.for_run(big, stream=FakeTty()) is not None
    assert Progress.for_run(big, stream=FakeTty(tty=False)) is None
    assert Progress.for_run(big, stream=FakeTty(), quiet=True) is None
    small = [source("a.log", MIN_BYTES // 2), source("b.log", MIN_BYTES // 2 - 1)]
    assert Progress.for_run(small, stream=FakeTty()) is None
    # standard input has no size: always a candidate on a terminal
    assert Progress.for_run([source("<stdin>", 0)], stream=FakeTty()) is not None
    assert Progress.for_run([source("<stdin>", 0)], stream=FakeTty(tty=False)) is None


def test_line_shows_file_percent_bytes_rate_and_elapsed():
    clock = FakeClock()
    first, second = source("maillog.1.gz", 100_000_000), source("maillog", 165_000_000)
    bar = Progress([first, second], FakeTty(), clock=clock, width=200)
    first.bytes_done = first.size
    second.bytes_done = 20_000_000
    clock.now += 4
    assert bar.line(second, stats(1_240_000)) == \
        "file 2/2 maillog: 45% 120 MB/265 MB 310k lines/s 0:04"
    second.name = "/var/log/maillog"
    assert bar.line(second, stats(1_240_000)).startswith("file 2/2 maillog: 45%")


def test_single_file_and_stdin_lines():
    clock = FakeClock()
    log = source("big.log", 50_000_000, done=5_000_000)
    bar = Progress([log], FakeTty(), clock=clock, width=200)
    clock.now += 3725
    assert bar.line(log, stats(2_000)) == "big.log: 10% 5.0 MB/50 MB 0 lines/s 1:02:05"
    stdin = source("<stdin>", 0)
    bar = Progress([stdin], FakeTty(), clock=clock, width=200)
    clock.now += 2
    assert bar.line(stdin, stats(600_000)) == "<stdin>: 600k lines 300k lines/s 0:02"


def test_line_never_wider_than_the_terminal_and_name_is_printable():
    clock = FakeClock()
    log = source("/var/log/mail/" + "very-long-name-" * 10 + "mail\x1b[2J.log", 50_000_000,
                 done=1)
    bar = Progress([log], FakeTty(), clock=clock, width=60)
    clock.now += 1
    text = bar.line(log, stats(10))
    assert len(text) <= 59
    assert "\x1b" not in text and text.startswith("...") and "mail?[2J.log: 0%" in text
    assert "/" not in text.split(": ")[0]  # the base name only


def test_updates_at_most_every_interval_and_clears_at_the_end():
    clock = FakeClock()
    tty = FakeTty()
    log = source("big.log", 50_000_000)
    bar = Progress([log], tty, clock=clock, width=100)
    for step in range(50):  # 50 blocks, 0.01 s apart: 0.49 s
        log.bytes_done += 1_000_000
        bar.update(log, stats(step * 5000))
        clock.now += 0.01
    frames = tty.getvalue().split(CLEAR)[1:]
    assert 3 <= len(frames) <= 5  # at most one draw per 0.1 s, none before 0.1 s
    assert all(frame.startswith("big.log: ") for frame in frames)
    bar.close()
    assert tty.getvalue().endswith(CLEAR)
    bar.update(log, stats(1))
    clock.now += 1
    bar.update(log, stats(1))
    assert tty.getvalue().endswith(CLEAR)  # closed: nothing more is drawn


def test_watch_erases_the_bar_when_the_stream_ends():
    clock = FakeClock()
    tty = FakeTty()
    log = source("big.log", 50_000_000)

    def produce():
        for number in range(3):
            clock.now += 1
            bar.update(log, stats(number))
            yield number

    bar = Progress([log], tty, clock=clock, width=100)
    seen = []
    for item in bar.watch(produce()):
        assert not tty.getvalue().endswith(CLEAR)  # no flicker: the bar stays while reading
        seen.append(item)
    assert seen == [0, 1, 2]
    assert tty.getvalue().count("big.log") == 3
    assert tty.getvalue().endswith(CLEAR)


def test_guard_erases_the_bar_before_report_writes_to_a_terminal_only():
    clock = FakeClock()
    tty = FakeTty()
    log = source("big.log", 50_000_000)
    bar = Progress([log], tty, clock=clock, width=100)
    report_file = FakeTty(tty=False)
    assert bar.guard(report_file) is report_file
    terminal = FakeTty()
    guarded = bar.guard(terminal)
    clock.now += 1
    bar.update(log, stats(1))
    assert tty.getvalue().endswith("0:01")
    guarded.write("row 1\n")
    assert tty.getvalue().endswith(CLEAR) and terminal.getvalue() == "row 1\n"
    drawn = tty.getvalue()
    guarded.write("row 2\n")  # nothing shown: nothing erased
    assert tty.getvalue() == drawn
    assert guarded.isatty() and guarded.getvalue() == "row 1\nrow 2\n"  # the rest delegated


class FailingTty(FakeTty):
    """A terminal that goes away: write raises OSError, or flush does, or it is closed (then
    StringIO.write raises ValueError, as a closed file does). Every write tried is recorded."""

    def __init__(self, failure):
        super().__init__()
        self.failure = failure
        self.attempts = []
        if failure == "closed-stream":
            self.close()

    def write(self, text):
        self.attempts.append(text)
        if self.failure == "write-oserror":
            raise OSError("gone")
        return super().write(text)

    def flush(self):
        if self.failure == "flush-oserror":
            raise OSError("gone")
        return super().flush()


FAILURES = ["write-oserror", "closed-stream", "flush-oserror"]


def _fail_once(failure):
    """A bar on a failing terminal, a guarded report terminal, and one update that fails."""
    clock = FakeClock()
    stream = FailingTty(failure)
    log = source("big.log", 50_000_000)
    bar = Progress([log], stream, clock=clock, width=80)
    terminal = FakeTty()
    guarded = bar.guard(terminal)
    clock.now += 1
    bar.update(log, stats(1))  # raises nothing
    assert stream.attempts == [CLEAR + "big.log: 0% 0 B/50 MB 1 lines/s 0:01"]
    return bar, clock, log, stream, terminal, guarded


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_stream_switches_the_bar_off(failure):
    """A write or flush that fails (a terminal gone, a closed stream) raises nothing, the bar is
    never drawn again, and a report guarded on a terminal is still written in full."""
    bar, clock, log, stream, terminal, guarded = _fail_once(failure)
    for step in range(3):
        clock.now += 1
        bar.update(log, stats(2 + step))
    guarded.write("row 1\n")
    guarded.write("row 2\n")
    bar.close()
    bar.close()
    assert terminal.getvalue() == "row 1\nrow 2\n"
    assert len([text for text in stream.attempts if "big.log" in text]) == 1  # no frame redrawn


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_stream_is_not_written_to_again(failure):
    """"switches the bar off for the rest of the run": after the failed write, nothing at all
    is written to that stream, not even an erase."""
    bar, clock, log, stream, terminal, guarded = _fail_once(failure)
    guarded.write("row 1\n")
    bar.close()
    assert len(stream.attempts) == 1


def test_cli_draws_on_a_terminal_and_quiet_or_redirected_stays_silent(monkeypatch, capsys):
    def run(*args, tty=True):
        fake = FakeTty(tty)
        monkeypatch.setattr(sys, "stderr", fake)
        code = cli.main(["--year", "2018", "--tz", "UTC", "--format", "csv", *args, SEED_LOG])
        return code, fake.getvalue()

    # the seed log is small: make every input "large" and every block worth a frame
    monkeypatch.setattr("maillog_sasl.progress.MIN_BYTES", 0)
    monkeypatch.setattr("maillog_sasl.progress.INTERVAL", 0.0)
    code, err = run()
    assert code == 0
    assert re.search(r"seed-maillog\.txt: 100% \S+ \S+/\S+ \S+ \S+ lines/s 0:00", err), err
    assert err.endswith(CLEAR)
    report_with_bar = capsys.readouterr().out
    code, err = run("--quiet")
    assert code == 0 and err == ""
    assert capsys.readouterr().out == report_with_bar
    code, err = run(tty=False)
    assert code == 0 and err == ""


@pytest.mark.parametrize("count, text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"),
                                         (120_000_000, "120 MB"), (2_500_000_000, "2.5 GB")])
def test_byte_units(count, text):
    from maillog_sasl.progress import _bytes
    assert _bytes(count) == text
