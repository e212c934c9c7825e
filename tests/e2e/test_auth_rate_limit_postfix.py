"""anvil's AUTH and recipient limits against a real Postfix: a refused AUTH is a failed AUTH, a
refused VRFY no refused recipient.

smtpd_client_auth_rate_limit = 2 and smtpd_client_recipient_rate_limit = 2 (and
smtpd_client_event_limit_exceptions empty: by default $mynetworks, 127.0.0.1 here, is exempt).
erin logs in (AUTH 1), VRFYs three times (the third refused `450 4.7.1 Error: too many
recipients from 127.0.0.1`) and gives a RCPT (refused so too): smtpd logs the same `warning:
Recipient address rate limit exceeded: ...` for both (tests/test_vrfy_rate_limit.py). Then a
client tries four wrong passwords: the first is refused by the SASL server, the others by anvil
before it (`450 4.7.1 Error: too many AUTH commands from 127.0.0.1`, `warning: AUTH command rate
limit exceeded: N from NAME[IP] for service S`; tests/test_auth_rate_limit.py). The module's
own instance (`postfix_env`). Run with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import base64
import re
import smtplib
import ssl

import pytest
from test_auth_test_postfix import auth_test
from test_contain_postfix import ERIN, logged_in, report

from maillog_sasl.events import recognize

pytestmark = pytest.mark.postfix

RECIPIENT = "bob@harness.test"
TOO_MANY = "450 4.7.1 Error: too many recipients from 127.0.0.1"


def test_refused_auth_and_vrfy_as_the_client_saw_them(postfix_env):
    inst = postfix_env.instance
    for setting in ("smtpd_client_auth_rate_limit = 2", "smtpd_client_recipient_rate_limit = 2",
                    "smtpd_client_event_limit_exceptions ="):
        inst._run(["postconf", "-c", str(inst.etc), "-e", setting])
    inst.postfix("reload")
    inst.wait_for_log(r"reload -- version", 15)

    with logged_in(postfix_env, ERIN) as smtp:
        vrfys = [smtp.verify(RECIPIENT)[0] for _ in range(3)]
        assert smtp.mail(ERIN)[0] == 250
        code, reply = smtp.rcpt(RECIPIENT)
    assert vrfys == [252, 252, 450]
    assert f"{code} {reply.decode()}" == TOO_MANY
    context = ssl.create_default_context(cafile=str(inst.cert))
    with smtplib.SMTP("127.0.0.1", inst.ports["submission"], local_hostname="client.harness.test",
                      timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo()
        auths = []
        for number in range(4):
            token = base64.b64encode(f"\0{ERIN}\0wrong{number}".encode()).decode()
            code, reply = smtp.docmd("AUTH", "PLAIN " + token)
            auths.append(f"{code} {reply.decode()}")
    assert [reply[:3] for reply in auths] == ["535", "450", "450", "450"]
    assert auths[1] == "450 4.7.1 Error: too many AUTH commands from 127.0.0.1"
    inst.wait_for_log(r"submission/smtpd\[\d+\]: disconnect from .* auth=0/4", 20)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if "rate limit" in line or "disconnect" in line))

    [session] = [row for row in report(postfix_env, "sessions") if row["auth"] == "1"]
    assert (session["recipients"], session["rejected"]) == (1, 1)
    rows = [(row["queue_id"], row["recipient"], row["reason"])
            for row in report(postfix_env, "messages") if row["status"] == "rejected"]
    assert rows == [("NOQUEUE", "", TOO_MANY)]
    [failures] = report(postfix_env, "failures")
    assert (failures["client_ip"], failures["attempts"], failures["mechanisms"]) == (
        "127.0.0.1", 4, ["plain"])
    # Each of anvil's warnings read as what the client was told.
    events = [recognize("smtpd", line.split("]: ", 1)[1]) for line in inst.log_text().splitlines()
              if "/smtpd[" in line and " rate limit exceeded: " in line]
    assert [(event.kind, event.reason) for event in events] == [("reject", TOO_MANY)] * 2 + [
        ("auth_failure", "450 4.7.1 Error: too many AUTH commands from 127.0.0.1")] * 3

    # auth-test, which an admin runs again and again, meets the limit too: the line it tells
    # to look for is the one logged.
    proc, log = auth_test(postfix_env, "submission", "--user", ERIN, "--mech", "PLAIN",
                          "--insecure", password="wrong")
    assert proc.returncode == 1
    [hint] = [line.strip() for line in proc.stdout.splitlines() if "rate limit" in line]
    before, after = hint.split("N from NAME", 1)
    logged = re.escape(before) + r"\d+ from unknown" + re.escape(after[:-1]) + r"\S+$"
    assert re.search(logged, log, re.M), (hint, log)
