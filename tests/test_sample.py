"""The shipped sample (sample_logs/maillog-sample.log, made by tools.simulate) against
the ground truth the generator wrote beside it: every user's figures, every failing IP, the
queue left at the end. This is what the README's first command shows."""

import json

import pytest

from maillog_sasl import report
from maillog_sasl.model import OUTCOMES

from support import SAMPLE_LOGS, by

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
TRUTH = json.loads((SAMPLE_LOGS / "maillog-sample.truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def users():
    return by(report("users", [str(SAMPLE)]).rows, "user")


def test_every_user_and_only_them(users):
    assert set(users) == set(TRUTH["users"])


@pytest.mark.parametrize("name", sorted(TRUTH["users"]))
def test_user_figures(users, name):
    expected, row = TRUTH["users"][name], users[name]
    for column in ("sessions", "messages", "recipients", *OUTCOMES):
        assert row[column] == expected[column], column
    assert row["ips"] == len(expected["ips"])
    assert row["first_seen"].isoformat() == expected["first_seen"]
    assert row["last_seen"].isoformat() == expected["last_seen"]
    assert row["methods"] == [method.lower() for method in expected["methods"]]


def test_failures_by_ip():
    rows = by(report("failures", [str(SAMPLE)]).rows, "client_ip")
    assert set(rows) == set(TRUTH["failures"])
    for ip, expected in TRUTH["failures"].items():
        row = rows[ip]
        assert (row["attempts"], row["usernames"], row["mechanisms"], row["later_success"]) == (
            expected["attempts"], expected["usernames"],
            [mechanism.lower() for mechanism in expected["mechanisms"]],
            expected["later_success"]), ip


def test_sample_holds_what_the_issue_asks_for():
    assert len(TRUTH["compromised"]) == 3 and len(TRUTH["normal"]) >= 60
    assert TRUTH["pending"], "deferred mail still in the queue at the end"
    assert any(row["attempts"] >= 3 and not row["later_success"] for row in TRUTH["failures"].values())
