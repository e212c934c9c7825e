"""A login throttled by anvil, against a real Postfix: its refused messages are counted.

smtpd_client_message_rate_limit = 2 (and smtpd_client_event_limit_exceptions empty: by default
$mynetworks, 127.0.0.1 here, is exempt): erin sends four messages in one authenticated session;
smtpd accepts two, refuses the third and fourth MAIL with `450 4.7.1 Error: too much mail from
127.0.0.1` and logs each only as `warning: Message delivery request rate limit exceeded: N from
NAME[IP] for service submission` (tests/test_refused_attempts.py holds such lines). The reports
must show two sent and two refused. The module's own instance (`postfix_env`). Run with
`pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import re

import pytest
from test_contain_postfix import ERIN, logged_in, report

pytestmark = pytest.mark.postfix

RECIPIENT = "bob@harness.test"
TOO_MUCH = "450 4.7.1 Error: too much mail from 127.0.0.1"


def test_a_throttled_login_shows_two_sent_and_two_refused(postfix_env):
    inst = postfix_env.instance
    for setting in ("smtpd_client_message_rate_limit = 2",
                    "smtpd_client_event_limit_exceptions ="):
        inst._run(["postconf", "-c", str(inst.etc), "-e", setting])
    inst.postfix("reload")
    inst.wait_for_log(r"reload -- version", 15)

    replies, queued = [], []
    with logged_in(postfix_env, ERIN) as smtp:
        for number in range(4):
            code, reply = smtp.mail(ERIN)
            replies.append(f"{code} {reply.decode()}")
            if code == 250:
                assert smtp.rcpt(RECIPIENT)[0] == 250
                code, reply = smtp.data(f"Subject: {number}\r\n\r\nhello\r\n".encode())
                assert code == 250, reply
                queued.append(re.search(rb"queued as (\w+)", reply)[1].decode())
    assert [reply[:3] for reply in replies] == ["250", "250", "450", "450"]
    assert replies[2] == TOO_MUCH
    for queue_id in queued:
        inst.wait_for_log(rf"{queue_id}: removed", 20)
    inst.wait_for_log(r"submission/smtpd\[\d+\]: disconnect from .* mail=2/4", 20)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if "rate limit" in line or "disconnect" in line))

    [session] = [row for row in report(postfix_env, "sessions") if row["sasl_username"] == ERIN]
    assert (session["messages"], session["rejected"]) == (2, 2)
    [erin] = [row for row in report(postfix_env, "users") if row["user"] == ERIN]
    assert (erin["sent"], erin["rejected"]) == (2, 2)
    rows = sorted((row["queue_id"], row["recipient"], row["status"], row["dsn"], row["reason"])
                  for row in report(postfix_env, "messages") if row["sasl_username"] == ERIN
                  and row["status"] == "rejected")
    assert rows == [("NOQUEUE", "", "rejected", "4.7.1", TOO_MUCH)] * 2
