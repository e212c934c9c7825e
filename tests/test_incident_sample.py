"""Acceptance for issue 4 on the generator's realistic logs: three compromised accounts among sixty
normal ones are flagged for the reasons the generator gave them, no normal user is, and the
queue report lists exactly the messages the generator left pending.

The committed sample (sample_logs/maillog-sample.log and its truth) is used when present, else
seed 1; seed 2 is generated too, so that the rules are not judged on one sample alone.
"""

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from maillog_sasl import analyze
from maillog_sasl.reports import build_report
from tools.simulate import SimConfig, simulate

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "maillog-sample.log"
TRUTHS = (SAMPLE.with_name("maillog-sample.log.truth.json"),
          SAMPLE.with_name("maillog-sample.truth.json"))


def committed_sample():
    truth = next((path for path in TRUTHS if path.exists()), None)
    if not SAMPLE.exists() or truth is None:
        return None
    return str(SAMPLE), json.loads(truth.read_text(encoding="utf-8"))


def generated(seed: int, tmp_path_factory):
    out = io.StringIO()
    truth = simulate(SimConfig(seed=seed, days=7, users=60, compromised=3), out)
    path = tmp_path_factory.mktemp(f"seed{seed}") / "maillog"
    path.write_text(out.getvalue(), encoding="utf-8")
    return str(path), truth


@pytest.fixture(scope="module", params=["sample", 2])
def case(request, tmp_path_factory):
    if request.param == "sample":
        found = committed_sample()
        if found is None:
            found = generated(1, tmp_path_factory)
    else:
        found = generated(request.param, tmp_path_factory)
    path, truth = found
    assert len(truth["compromised"]) == 3 and len(truth["normal"]) == 60
    analysis = analyze([path])  # correlated once, read by the three reports
    assert not analysis.problems
    finished = analysis.items
    reports = {name: list(build_report(name, finished)[1])
               for name in ("suspicious", "users", "queue")}
    return truth, reports


def test_every_compromised_account_is_flagged_for_the_right_reasons(case):
    truth, reports = case
    flagged = {row["user"]: row for row in reports["suspicious"]}
    for account in truth["compromised"]:
        row = flagged.get(account["user"])
        assert row is not None, account["user"]
        assert row["severity"] in ("critical", "high")
        # Guessing from one of its guessing IPs, then the attacker's first login: the moment
        # the account went bad, which is when it is first flagged.
        assert {"guessed", "burst"} <= set(row["signals"]), row["reasons"]
        guessed = next(reason for reason in row["reasons"] if reason.startswith("guessed:"))
        ip = guessed.split()[3]
        assert ip in account["guess_ips"] and ip in account["attacker_ips"]
        assert row["first_flagged"] == dt.datetime.fromisoformat(account["compromised_at"])
        # Table and CSV join a list with ", ": a reason must not hold one itself.
        assert not any(", " in reason for reason in row["reasons"])


def test_no_normal_user_is_flagged(case):
    truth, reports = case
    flagged = {row["user"]: row["reasons"] for row in reports["suspicious"]}
    wrongly = {user: flagged[user] for user in truth["normal"] if user in flagged}
    assert not wrongly
    users = {row["user"]: row["flags"] for row in reports["users"]}
    assert all(not users.get(user) for user in truth["normal"])


def test_queue_report_lists_the_pending_messages(case):
    truth, reports = case
    rows = reports["queue"]
    pending = {(row["host"], row["queue_id"]) for row in rows if row["kind"] == "submission"}
    assert pending == {(entry["host"], entry["queue_id"]) for entry in truth["pending"]}
    # Notices of pending mail eat the queue too; each names the message it is about.
    notices = [row for row in rows if row["kind"] == "notice"]
    assert all(row["parent_queue_id"] and row["user"] for row in notices)
