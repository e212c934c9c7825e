"""progress: a one-line progress bar on stderr while a large log is read.

SUMMARY
    analysis = maillog_sasl.open_logs(paths)
    bar = Progress.for_run(analysis.sources, stream=sys.stderr, quiet=False)  # None: nothing
    analysis.on_batch = bar.update
    stream = bar.watch(analysis)                    # erased when it ends
    render(..., bar.guard(out))                     # erased before each write to a terminal
    bar.close()

DESCRIPTION
    Input: the sources.Source objects of the run (their `size` and `bytes_done`) and the
    correlator's Stats (`lines_read`), handed to `update(source, stats)` by correlate() after
    each block of lines.

    Output: one line, rewritten in place with a carriage return, at most every `interval`
    seconds (0.1 s), never before `interval` has passed since the start:

        file 1/3 maillog.1.gz: 45% 120 MB/265 MB 310k lines/s 0:04

    The percentage and totals count bytes on disk over every file (for a compressed file,
    compressed bytes). Standard input has no size: the line shows lines read (and bytes read
    when the source counts them) and the rate, without a percentage. The line is cut to the
    terminal's width so that it never wraps (a file is named by its base name, cut from the
    left when still too long). It is erased (`\\r`, erase-line) when the watched
    stream ends (close()), and, when the report itself goes to a terminal, before each write of
    the report (guard()): a row printed mid-stream starts on a clean line and the bar is drawn
    again below it at the next update. A report written to a file or a pipe leaves the bar
    alone.

    Progress.for_run() decides whether to show anything: never with `quiet`, never when the
    stream is not a terminal (a redirected stderr gets no control characters), and only for
    large inputs: files totalling at least MIN_BYTES (20 MB) on disk, or standard input.

DIAGNOSTICS
    Never raises on behalf of the run it watches: a write to the stream that fails (a closed
    terminal) switches the bar off for the rest of the run.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

MIN_BYTES = 20 * 1000 * 1000
INTERVAL = 0.1
CLEAR = "\r\x1b[K"

# watch() hands on whatever the stream holds.
_Item = TypeVar("_Item")


class Progress:
    """The progress line of one run; see the module docstring."""

    def __init__(self, sources, stream, interval: Optional[float] = None, clock=time.monotonic,
                 width: Optional[int] = None):
        self.sources = list(sources)
        self.stream = stream
        self.interval = INTERVAL if interval is None else interval
        self.clock = clock
        self.width = width if width is not None else _terminal_width(stream)
        self.total = sum(source.size for source in self.sources)
        self.start = clock()
        self._next = self.start + self.interval
        self._shown = False
        self._enabled = True
        self._done_before = {}  # source id -> bytes of the files before it
        done = 0
        for source in self.sources:
            self._done_before[id(source)] = done
            done += source.size

    @classmethod
    def for_run(cls, sources, stream=None, quiet: bool = False,
                min_bytes: Optional[int] = None, **options) -> Optional["Progress"]:
        """A Progress when one should be shown (see the module docstring), else None."""
        stream = sys.stderr if stream is None else stream
        if quiet or stream is None:
            return None
        try:
            if not stream.isatty():
                return None
        except (AttributeError, ValueError, OSError):
            return None
        sources = list(sources)
        piped = any(source.path is None for source in sources)
        if min_bytes is None:
            min_bytes = MIN_BYTES
        if not piped and sum(source.size for source in sources) < min_bytes:
            return None
        return cls(sources, stream, **options)

    def update(self, source, stats) -> None:
        """correlate()'s on_batch: redraw when `interval` has passed since the last draw."""
        if not self._enabled:
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.interval
        self._shown = self._write(CLEAR + self.line(source, stats, now))

    __call__ = update

    def line(self, source, stats, now: Optional[float] = None) -> str:
        """The text of the progress line (no control characters), cut to the width."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 0.0)
        lines = stats.lines_read
        position = f"file {self._index(source)}/{len(self.sources)} " if len(self.sources) > 1 \
            else ""
        if source.size:
            done = self._done_before.get(id(source), 0) + source.bytes_done
            total = max(self.total, 1)
            percent = min(100, done * 100 // total)
            amount = f"{percent}% {_bytes(done)}/{_bytes(self.total)}"
        else:
            amount = f"{_count(lines)} lines"
            if source.bytes_done:
                amount = f"{_bytes(source.bytes_done)} {amount}"
        parts = [amount]
        if elapsed > 0:
            parts.append(_count(lines / elapsed) + " lines/s")
        parts.append(_clock(elapsed))
        tail = ": " + " ".join(parts)
        name = _plain(os.path.basename(source.name) or source.name)
        room = self.width - 1 - len(position) - len(tail)
        if len(name) > room:
            name = "..." + name[-max(room - 3, 1):] if room > 4 else ""
        return (position + name + tail)[:max(self.width - 1, 0)]

    def watch(self, stream: Iterable[_Item]) -> Iterator[_Item]:
        """Hand on `stream`; erase the bar for good when it ends (or is abandoned)."""
        try:
            yield from stream
        finally:
            self.close()

    def guard(self, out):
        """`out`, the report's stream: when it is a terminal (the one the bar is likely on), a
        wrapper that erases the bar before each write, so that a row starts on a clean line."""
        try:
            if not out.isatty():
                return out
        except (AttributeError, ValueError, OSError):
            return out
        return _Guarded(out, self)

    def clear(self) -> None:
        if self._shown:
            self._shown = False
            self._write(CLEAR)

    def close(self) -> None:
        """Erase the bar for good (idempotent)."""
        self.clear()
        self._enabled = False

    def _index(self, source) -> int:
        for number, known in enumerate(self.sources, 1):
            if known is source:
                return number
        return 1

    def _write(self, text: str) -> bool:
        """Write `text`; False, and the bar off for the rest of the run, when that fails."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._enabled = False
            self._shown = False
            return False
        return True


class _Guarded:
    """A text stream that erases the progress bar before writing; everything else delegated."""

    def __init__(self, stream, progress: Progress):
        self._stream = stream
        self._progress = progress

    def write(self, text):
        if self._progress._shown:
            self._progress.clear()
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _terminal_width(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _plain(name: str) -> str:
    """A file name as shown on the bar: no control characters."""
    return "".join(char if char.isprintable() else "?" for char in name)


def _bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}" if count < 10 * size else \
                f"{count / size:.0f} {unit}"
    return f"{int(count)} B"


def _count(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}" if value < 10 * size else f"{value / size:.0f}{unit}"
    return f"{int(value)}"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
