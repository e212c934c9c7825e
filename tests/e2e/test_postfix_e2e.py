"""End-to-end: a real Postfix logs a scripted SMTP AUTH scenario; maillog-sasl must report it exactly.

The `postfix_run` fixture (conftest.py) runs the whole scenario once per module (about half a
minute, most of it waiting for deferred mail to expire) and stops Postfix and the sinks before
any test looks at the result. The tests here check, in this order: that the harness did what it
planned (so a failure below is the analyzer's, not the harness's), that the log shows the
behaviours the issue lists, and that each report matches the ground truth row by row and cell by
cell (e2e_truth.compare). A failing report test prints every differing cell.

Skips when not root or Postfix is not installed (see conftest.py). Run with
`pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import re

import pytest

from e2e_driver import cram_md5_response
from e2e_truth import REPORT_CASES, check_report, compare, expected_users, run_report

pytestmark = pytest.mark.postfix


def test_seed_cram_md5_vector():
    """The driver computes CRAM-MD5 exactly as the seed write-up's script did."""
    challenge = "PDA3Nzg3NTMyMDgxMzMwMDAuMTUzNzE1MTM2NEBpazEtMzMxLTI1NjQ5LnZzLnNha3VyYS5uZS5qcD4="
    assert cram_md5_response("centos7@phoenixknight.jp", "zaq12345", challenge,
                             seed_style=True) == (
        "Y2VudG9zN0BwaG9lbml4a25pZ2h0LmpwIDFjODg0OGZjZjczNGRkNTI4YjkxOWVhNzUzYzEzNzRiCg==")


def test_everything_stopped_and_fast(postfix_run):
    assert postfix_run.leftover_pids == [], "Postfix processes still running after stop"
    assert postfix_run.seconds < 150, f"scenario took {postfix_run.seconds:.0f}s"


def test_harness_delivered_what_it_planned(postfix_run):
    truth = postfix_run.truth
    expected_ok = sorted(r["address"] for s in truth["sessions"] if s["auth"]
                         for t in s["transactions"] for r in t["recipients"]
                         if r["address"].endswith("@ok.test") and r["expected"] == "sent")
    assert postfix_run.ok_received == expected_ok
    log = postfix_run.log.read_text()
    for s in truth["sessions"]:
        for t in s["transactions"]:
            qid = t["queue_id"]
            if qid is None:
                continue
            assert re.search(rf" {qid}: client=unknown\[{re.escape(s['client_ip'])}\]", log)
            for r in t["recipients"]:
                if r["expected"] in ("sent", "bounced", "deferred"):
                    assert re.search(rf" {qid}: to=<{re.escape(r['address'])}>,.* "
                                     rf"status={r['expected']} ", log), (qid, r)
            if any(r["expected"] == "expired" for r in t["recipients"]):
                assert re.search(rf" {qid}: from=<.*>, status=expired, returned to sender", log)


@pytest.mark.parametrize("pattern, what", [
    (r": [0-9A-F]+: reject: RCPT from ", "QID: reject: RCPT inside an accepted transaction"),
    (r": NOQUEUE: reject: RCPT from .*Relay access denied", "unauthenticated relay attempt"),
    (r"postfix/error\[\d+\]: [0-9A-F]+: to=<.*status=deferred \(delivery temporarily suspended",
     "postfix/error deferral"),
    (r"SASL \S+ authentication failed: .*, sasl_username=", "failed AUTH with sasl_username"),
    (r"\]: warning: SASL authentication failure: ", "Cyrus's own line without a client"),
    (r" auth=1/2 ", "a session with auth=1/2"),
    (r"SASL LOGIN authentication aborted", "a cancelled AUTH LOGIN"),
    (r"status=expired, returned to sender", "an expired message"),
    (r"sender non-delivery notification: ", "bounce notices (not the user's mail)"),
    (r"sasl_method=CRAM-MD5, sasl_username=alice@harness.test", "the seed's CRAM-MD5 login"),
])
def test_log_shows(postfix_run, pattern, what):
    assert re.search(pattern, postfix_run.log.read_text(), re.M), f"log lacks {what}"


@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_report_matches_truth(postfix_run, case):
    problems = check_report(case, postfix_run.log, postfix_run.truth)
    assert not problems, f"{case}: {len(problems)} difference(s):\n" + "\n".join(problems)


def test_fresh_log_needs_no_year(postfix_run):
    """A log written just now: the analyzer's own year (file mtime) and zone give the same rows."""
    rows = run_report(postfix_run.log, "users", postfix_run.truth, pin_year=False)
    problems = compare("users", expected_users(postfix_run.truth), rows)
    assert not problems, "\n".join(problems)
