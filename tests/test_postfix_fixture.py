"""Real Postfix 3.7 output, checked in the fast suite: the kept end-to-end run must report exactly.

tests/fixtures/postfix37/maillog is the maillog_file of one run of the end-to-end scenario
(tests/e2e: Debian's Postfix 3.7 with Cyrus SASL on loopback), and truth.json is what that run's
driver recorded: every session, AUTH attempt, queue ID and the outcome each recipient must have.
Each test runs the CLI (`--format json`, with --year/--tz from the truth, so neither the file's
mtime nor the machine's zone matters) and compares one report with the rows the truth implies,
using tests/e2e/e2e_truth.py, the same comparison the live test uses. Nothing is installed and no
Postfix runs here; not marked `postfix`.

Refresh the fixture (root, Postfix installed):
    MAILLOG_SASL_E2E_KEEP=tests/fixtures/postfix37 pytest -m postfix tests/e2e
A failure lists every differing cell; read the matching lines in the maillog.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "postfix37"


def _load_truth_module():
    name = "maillog_sasl_e2e_truth"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "e2e" / "e2e_truth.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


e2e_truth = _load_truth_module()
TRUTH = e2e_truth.load_truth(FIXTURE / "truth.json")
LOG = FIXTURE / "maillog"


def test_fixture_is_consistent():
    """Every queue ID the driver got in a 250 reply is in the log, and the run was Postfix 3.7."""
    text = LOG.read_text()
    assert TRUTH["meta"]["postfix_version"].startswith("3.7")
    assert "daemon started -- version 3.7" in text
    qids = [t["queue_id"] for s in TRUTH["sessions"] for t in s["transactions"] if t["queue_id"]]
    assert qids
    for qid in qids:
        assert re.search(rf" {qid}: client=", text), qid


@pytest.mark.parametrize("case", list(e2e_truth.REPORT_CASES))
def test_report_matches_truth(case):
    problems = e2e_truth.check_report(case, LOG, TRUTH)
    assert not problems, f"{case}: {len(problems)} difference(s):\n" + "\n".join(problems)


def test_window_takes_a_stamp_cut_to_the_second_by_a_lagging_clock():
    # CI: the driver began a connect at 18:00:04.003276 (its clock); Postfix's time() read the
    # coarse clock a tick behind and logged 18:00:03. The slack of a second must reach it.
    window = e2e_truth.Window("2026-12-01T18:00:04.003276+00:00",
                              "2026-12-01T18:00:05.045956+00:00")
    assert window.matches("2026-12-01T18:00:03+00:00")
    assert not window.matches("2026-12-01T18:00:02+00:00")
    assert not window.matches("2026-12-01T18:00:07+00:00")
