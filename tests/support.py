"""Helpers the tests import (fixtures live in conftest.py)."""

import json
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


def by(rows, key):
    """Rows keyed by one column's value."""
    return {row[key]: row for row in rows}
