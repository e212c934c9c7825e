"""sinks: where the lines go: one stream, rotated files, or nowhere (calibration).

SUMMARY
    StreamSink(stream)          one text or binary stream (binary: UTF-8); no rotation
    RotatingSink(path, rotate)  FILE.N.gz ... FILE.1.gz, FILE, switched at time boundaries
    CountingSink()              throws the lines away (--target-lines calibration)
    open_out(path) -> stream    a text file, gzip-compressed when the name ends in .gz
    A sink has write(chunk), close(), and `files`: [{path, lines, first, last}] that the
    engine fills in (engine.py); a rotating sink also has switch().

INPUT
    Chunks of complete lines (str), in time order, from the engine.

OUTPUT
    The files (UTF-8, "\\n" line ends) or the stream. A rotating sink still creates the parts
    after the last line, empty, as logrotate leaves them.

DIAGNOSTICS
    OSError from opening or writing a file, left to the caller (cli.py says which file).
    switch() on a StreamSink raises RuntimeError: it is never given time boundaries.
"""

from __future__ import annotations

import gzip
import io


class StreamSink:
    """Writes to one stream (text, or binary: then UTF-8); no rotation."""

    def __init__(self, stream):
        self.stream = stream
        self.files = []
        if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(stream, "mode", ""):
            self.write = self._write_bytes

    def write(self, chunk: str) -> None:
        self.stream.write(chunk)

    def _write_bytes(self, chunk: str) -> None:
        self.stream.write(chunk.encode("utf-8"))

    def switch(self) -> None:  # pragma: no cover - never called without boundaries
        raise RuntimeError("no rotation on a stream sink")

    def close(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush:
            flush()


class CountingSink:
    """Throws lines away (used to calibrate --target-lines)."""

    files = ()

    def write(self, chunk: str) -> None:
        pass

    def close(self) -> None:
        pass


def open_out(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=6, newline="\n")
    return open(path, "w", encoding="utf-8", newline="\n")


class RotatingSink:
    """Writes FILE.N.gz ... FILE.1.gz, FILE, switching at time boundaries."""

    def __init__(self, path: str, rotate: int):
        base = path[:-3] if path.endswith(".gz") else path
        self.paths = [f"{base}.{k}.gz" for k in range(rotate, 0, -1)] + [path]
        self.index = 0
        self.stream = open_out(self.paths[0])
        self.files = [{"path": self.paths[0], "lines": 0, "first": None, "last": None}]

    def write(self, chunk: str) -> None:
        self.stream.write(chunk)

    def switch(self) -> None:
        self.stream.close()
        self.index += 1
        self.stream = open_out(self.paths[self.index])
        self.files.append({"path": self.paths[self.index], "lines": 0, "first": None, "last": None})

    def close(self) -> None:
        while self.index < len(self.paths) - 1:   # empty trailing parts still exist
            self.switch()
        self.stream.close()
