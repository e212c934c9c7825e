"""A message Postfix discards counts as refused: the client was told 250 and the mail dropped,
with nothing more logged of it (no message-id, no `removed`). Its recipient named by the discard
line is `rejected`, the reason `discard: <the log's text>`; it is in no queue report. Its other
recipients, which the session's counters count (test_refused_recipients.py), are the one with
no address.

The lines are Postfix 3.7.11's, from tests/e2e (test_contain_postfix.py's test_discard_...: a
check_sasl_access table `erin@harness.test DISCARD compromised account` and header_checks
DISCARD on a real instance), the host, queue IDs and times kept as logged but for the year,
given on the command line.
"""

import functools

import test_hold
from test_hold import TIMES

from support import written

# Postfix 3.7.11, tests/e2e: check_sasl_access DISCARD at the first RCPT, before the queue file
# (smtpd_delay_open_until_valid_rcpt=yes, the default): NOQUEUE, before `client=`. Two
# recipients, one discard line naming the first; cleanup logs not even the message-id.
NOQUEUE_DISCARD = """\
Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: connect from unknown[127.0.0.1]
Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: NOQUEUE: discard: RCPT from unknown[127.0.0.1]: <erin@harness.test>: SASL login name compromised account; from=<erin@harness.test> to=<dropped1@ok.test> proto=ESMTP helo=<client.harness.test>
Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: 84F0331C128: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=erin@harness.test
Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
"""
# Postfix 3.7.11, tests/e2e: the queue file open at MAIL FROM
# (smtpd_delay_open_until_valid_rcpt=no): the discard line names it, after `client=`.
QUEUE_ID_DISCARD = """\
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: connect from unknown[127.0.0.1]
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: 719D431C129: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=erin@harness.test
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: 719D431C129: discard: RCPT from unknown[127.0.0.1]: <erin@harness.test>: SASL login name compromised account; from=<erin@harness.test> to=<dropped3@ok.test> proto=ESMTP helo=<client.harness.test>
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
"""
# Postfix 3.7.11, tests/e2e: header_checks `/^Subject: discard me/ DISCARD dropped by header
# check` (cleanup).
HEADER_DISCARD = """\
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: connect from unknown[127.0.0.1]
Dec 01 19:24:31 mail postfix/submission/smtpd[17126]: 7431631C129: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=bob@harness.test
Dec 01 19:24:31 mail postfix/cleanup[17131]: 7431631C129: discard: header Subject: discard me from unknown[127.0.0.1]; from=<bob@harness.test> to=<dropped4@ok.test> proto=ESMTP helo=<client.harness.test>: dropped by header check
"""
ERIN_DROPPED = "discard: <erin@harness.test>: SASL login name compromised account"


messages = functools.partial(test_hold.messages,
                             columns=("queue_id", "sender", "recipient", "status", "reason"))


def test_a_discard_before_the_queue_file_refuses_the_next_message(tmp_path, report):
    path = written(tmp_path, NOQUEUE_DISCARD)
    [user] = report("users", path, *TIMES)
    assert (user["user"], user["messages"], user["recipients"], user["rejected"],
            user["deferred"]) == ("erin@harness.test", 1, 2, 2, 0)
    assert report("queue", path, *TIMES) == []
    assert messages(report, path) == [
        ("84F0331C128", "erin@harness.test", address, "rejected", ERIN_DROPPED)
        for address in ("dropped1@ok.test", "")]
    assert [row["last_attempt"] for row in report("messages", path, *TIMES)] == [
        "2026-12-01T19:24:29+00:00"] * 2


def test_a_discard_naming_the_queue_file(tmp_path, report):
    path = written(tmp_path, QUEUE_ID_DISCARD)
    assert report("queue", path, *TIMES) == []
    assert messages(report, path) == [
        ("719D431C129", "erin@harness.test", "dropped3@ok.test", "rejected", ERIN_DROPPED)]


def test_a_discard_by_header_checks_says_so(tmp_path, report):
    path = written(tmp_path, HEADER_DISCARD)
    assert report("queue", path, *TIMES) == []
    assert messages(report, path) == [
        ("7431631C129", "bob@harness.test", "dropped4@ok.test", "rejected",
         "discard: header Subject: discard me: dropped by header check")]


def test_a_discard_before_the_queue_file_goes_to_one_message_only(tmp_path, report):
    lines = NOQUEUE_DISCARD.splitlines(keepends=True)
    # The same session's second transaction, neither discarded nor held.
    session = lines[:4] + [
        "Dec 01 19:24:29 mail postfix/submission/smtpd[16949]: 84F0331C129: "
        "client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=erin@harness.test\n",
        "Dec 01 19:24:30 mail postfix/qmgr[16298]: 84F0331C129: from=<erin@harness.test>, "
        "size=514, nrcpt=1 (queue active)\n"] + lines[4:]
    assert messages(report, written(tmp_path, "".join(session))) == [
        ("84F0331C128", "erin@harness.test", "dropped1@ok.test", "rejected", ERIN_DROPPED),
        ("84F0331C129", "erin@harness.test", "", "deferred",
         "not yet attempted when the log ends")]


def test_a_discard_after_a_hold_drops_the_held_message(tmp_path, report):
    """Both flags on one transaction: Postfix discards it (cleanup drops it unqueued)."""
    lines = QUEUE_ID_DISCARD.splitlines(keepends=True)
    hold = lines[2].replace("discard:", "hold:").replace("dropped3", "held3")
    rows = messages(report, written(tmp_path, "".join(lines[:2] + [hold] + lines[2:])))
    assert [(row[2], row[3], row[4]) for row in rows] == [
        ("held3@ok.test", "rejected", ERIN_DROPPED),
        ("dropped3@ok.test", "rejected", ERIN_DROPPED)]


def test_a_hold_after_a_discard_before_the_queue_file_leaves_it_discarded(tmp_path, report):
    """The same two flags, both logged NOQUEUE: the hold does not undo the waiting discard."""
    lines = NOQUEUE_DISCARD.splitlines(keepends=True)
    hold = lines[2].replace("discard:", "hold:").replace("dropped1", "held1")
    rows = messages(report, written(tmp_path, "".join(lines[:3] + [hold] + lines[3:])))
    assert rows == [
        ("84F0331C128", "erin@harness.test", address, "rejected", ERIN_DROPPED)
        for address in ("dropped1@ok.test", "")]


def test_a_milters_discard_in_cleanup(tmp_path, report):
    """cleanup_milter.c's format (not from a real run: the harness has no milter)."""
    lines = QUEUE_ID_DISCARD.splitlines(keepends=True)
    milter = ("Dec 01 19:24:31 mail postfix/cleanup[17131]: 719D431C129: milter-discard: "
              "END-OF-MESSAGE from unknown[127.0.0.1]: milter triggers DISCARD action; "
              "from=<erin@harness.test> to=<dropped3@ok.test> proto=ESMTP "
              "helo=<client.harness.test>\n")
    path = written(tmp_path, "".join(lines[:2] + [milter] + lines[3:]))
    assert messages(report, path) == [
        ("719D431C129", "erin@harness.test", "dropped3@ok.test", "rejected",
         "discard: milter triggers DISCARD action")]
