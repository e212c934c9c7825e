"""Helpers the tests import (fixtures live in conftest.py)."""

import datetime as dt
import importlib
import json
import os
import sqlite3
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"
# The package under test is the compiled build (setup.py): its hot modules are C extensions.
COMPILED = not importlib.import_module("maillog_sasl.correlate").__file__.endswith(".py")


def written(directory: Path, text: str, name: str = "maillog") -> Path:
    """`text` written as the file `name` in `directory` (a test's log); its path."""
    path = directory / name
    path.write_text(text)
    return path


def another_name(path: Path, how: str, name: str) -> Path:
    """A second name, `name` beside `path`, for the file at `path`: a "symlink" or a "hard
    link" to it."""
    other = path.with_name(name)
    if how == "symlink":
        other.symlink_to(path)
    else:
        os.link(path, other)
    return other


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


def tamper(path, *statements):
    """Run SQL statements on an SQLite file behind the tool's back (a damaged or older state,
    another program's database); a statement is its text, or (text, parameters)."""
    db = sqlite3.connect(path)
    try:
        for statement in statements:
            db.execute(*((statement,) if isinstance(statement, str) else statement))
        db.commit()
    finally:
        db.close()


def by(rows, key):
    """Rows keyed by one column's value."""
    return {row[key]: row for row in rows}


def interleaved_log(stories: int, spacing, tell) -> str:
    """A log of `stories` told at once, of host `mail`: story N begins `spacing` * N seconds
    after 2026-03-02 10:00:00 (or `spacing`[N] seconds, given a list), and tell(N, at) writes
    its lines by calling at(offset, text),
    text a line's program and message (`smtpd[12]: connect from ...`), `offset` seconds from
    its beginning. The lines come in time order, a story's lines of one second in their order:
    sessions and messages interleaved as a busy server's are, for the tests that compare
    `--jobs` with one process."""
    start = dt.datetime(2026, 3, 2, 10, 0, 0)
    lines: list = []
    for number in range(stories):
        began = start + dt.timedelta(seconds=spacing[number] if isinstance(spacing, list)
                                     else spacing * number)

        def at(offset, text, began=began):
            lines.append((began + dt.timedelta(seconds=offset), len(lines), text))

        tell(number, at)
    lines.sort()
    return "".join(f"{when:%b %d %H:%M:%S} mail postfix/{text}\n" for when, _, text in lines)


def processes() -> dict:
    """pid -> (its state letter, its parent's pid), of every process (from /proc)."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as status:
                state, parent = status.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # ended meanwhile
        found[int(entry)] = (state, int(parent))
    return found


def children_of(pid: int) -> list:
    return [child for child, (_, parent) in processes().items() if parent == pid]


def living(pids) -> list:
    known = processes()
    return [pid for pid in pids if pid in known and known[pid][0] != "Z"]
