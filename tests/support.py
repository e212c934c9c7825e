"""Helpers the tests import (fixtures live in conftest.py)."""

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
