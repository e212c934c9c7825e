"""Addresses a client quoted, against a real Postfix: each line that names one is read whole.

An authenticated client may write any text as a quoted local part, and Postfix >= 3.5 logs it
quoted (info_log_address_format = external): a recipient whose local part holds a delivery
line's fields (`"x, relay=..., dsn=2.0.0, status=sent (250 ok"@reject.test`) is refused by the
550 sink, and the messages report must say bounced with the sink's dsn and relay, not the
client's; a sender that holds qmgr's expiry (`"b>, status=expired, returned to sender"@...`)
must leave its deferred message in the queue report. tests/test_quoted_addresses.py holds the
lines of such a run. The module's own instance (`postfix_env`). Run with
`pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import re
import smtplib
import ssl

import pytest
from test_contain_postfix import ERIN, logged_in, report

pytestmark = pytest.mark.postfix

FAKE = ('"x, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, '
        'status=sent (250 ok"@reject.test')
SENDER = '"a>, size=1, nrcpt=1 (queue active)"@harness.test'
EXPIRING = '"b>, status=expired, returned to sender"@harness.test'
MESSAGE = b"Subject: quoted\r\n\r\nhello\r\n"


def submit(env, sender, recipients) -> str:
    """One message as erin, through smtplib (which sends each address as given); its queue ID."""
    with logged_in(env, ERIN) as smtp:
        assert smtp.mail(sender)[0] == 250
        for recipient in recipients:
            smtp.rcpt(recipient)
        code, reply = smtp.data(MESSAGE)
    assert code == 250, reply
    return re.search(rb"queued as (\w+)", reply)[1].decode()


def test_quoted_addresses_are_read_whole_with_the_outcome_postfix_logged(postfix_env):
    inst = postfix_env.instance
    first = submit(postfix_env, SENDER, [FAKE, '"y>, z"@tempfail.test', '"q\\"r>, s"@ok.test'])
    second = submit(postfix_env, EXPIRING, ['"t, u"@tempfail.test', '"nob, ody"@harness.test'])
    for queue_id, recipient, status in ((first, FAKE, "bounced"),
                                         (first, '"y>, z"@tempfail.test', "deferred"),
                                         (first, '"q\\"r>, s"@ok.test', "sent"),
                                         (second, '"t, u"@tempfail.test', "deferred")):
        inst.wait_for_log(rf"{queue_id}: to=<{re.escape(recipient)}>, .*status={status}", 20)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if first in line or second in line))

    rows = sorted((row["queue_id"], row["sender"], row["recipient"], row["status"], row["dsn"])
                  for row in report(postfix_env, "messages") if row["sasl_username"] == ERIN)
    assert rows == sorted([
        (first, SENDER, FAKE, "bounced", "5.7.1"),
        (first, SENDER, '"y>, z"@tempfail.test', "deferred", "4.3.2"),
        (first, SENDER, '"q\\"r>, s"@ok.test', "sent", "2.0.0"),
        (second, EXPIRING, '"t, u"@tempfail.test', "deferred", "4.3.2"),
        (second, EXPIRING, '"nob, ody"@harness.test', "rejected", "5.1.1"),
    ])
    [bounced] = [row for row in report(postfix_env, "messages") if row["recipient"] == FAKE]
    assert bounced["relay"].startswith("127.0.0.1[127.0.0.1]:")
    queued = {row["queue_id"]: row["sender"] for row in report(postfix_env, "queue")
              if row["user"] == ERIN}
    assert queued == {first: SENDER, second: EXPIRING}


def test_a_client_that_never_logged_in_gets_no_account_from_its_quoted_sender(postfix_env):
    # Any client may write a sender; its reject's envelope carries it quoted. The tool took the
    # envelope's first ` sasl_username=` (Postfix >= 3.10 writes one after the HELO when the
    # session logged in) for the session's login: a client that tried one wrong password (a
    # session the tool follows) and then this sender was reported as alice's login from here.
    inst = postfix_env.instance
    framing = '"x sasl_username=alice@harness.test y"@evil.test'
    context = ssl.create_default_context(cafile=str(inst.cert))
    with smtplib.SMTP("127.0.0.1", inst.ports["submission"], local_hostname="evil.test",
                      timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ERIN, "not-erins-password")
        code, _ = smtp.mail(framing)
        if code == 250:
            assert smtp.rcpt("nobody-framed@harness.test")[0] >= 500
    inst.wait_for_log(r"reject: (MAIL|RCPT) from .*from=<\"x sasl_username=alice", 20)
    inst.wait_for_log(r"smtpd\[\d+\]: disconnect from .* auth=0/\d", 20)
    print([line for line in inst.log_text().splitlines() if "sasl_username=alice" in line])
    assert "alice@harness.test" not in {row["sasl_username"]
                                        for row in report(postfix_env, "sessions")}
    assert "alice@harness.test" not in {row["user"] for row in report(postfix_env, "users")}
