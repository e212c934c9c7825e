"""A message refused or discarded as a whole (header/body checks, a milter, end-of-data
restrictions) shows the sender and the recipient its line names, as smtpd's refusals at RCPT do.
One line names at most one recipient: cleanup the last it read, smtpd's end-of-data refusal
none; the message's other accepted recipients are not in the log, and are not counted twice:
the session's counters (rcpt=2) count them, and they are the one with no address
(test_refused_recipients.py).

The lines are Postfix 3.7.11's, from tests/e2e (test_contain_postfix.py's
test_whole_message_refusals_...: header_checks `/^Subject: reject me/ REJECT refused by header
check` and `smtpd_end_of_data_restrictions = check_sasl_access` with `bob REJECT compromised
account`, each message to two recipients), the host, queue IDs and times kept as logged but for
the year, given on the command line; but for those said to be made from Postfix's format.
"""

import functools

import test_hold
from test_hold import TIMES

from support import written

SESSION = """\
Dec 01 20:26:15 mail postfix/submission/smtpd[25680]: connect from unknown[127.0.0.1]
Dec 01 20:26:15 mail postfix/submission/smtpd[25680]: 8B1CF2E40BC: client=unknown[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=bob@harness.test
"""
# Postfix 3.7.11, tests/e2e: RCPT TO first@ok.test, second@ok.test; cleanup names the last.
HEADER_REJECT = SESSION + """\
Dec 01 20:26:15 mail postfix/cleanup[25685]: 8B1CF2E40BC: reject: header Subject: reject me from unknown[127.0.0.1]; from=<bob@harness.test> to=<second@ok.test> proto=ESMTP helo=<client.harness.test>: 5.7.1 refused by header check
Dec 01 20:26:15 mail postfix/submission/smtpd[25680]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=0/1 rset=1 quit=1 commands=9/10
"""
# Postfix 3.7.11, tests/e2e: RCPT TO third@ok.test, fourth@ok.test; smtpd names neither.
END_OF_DATA_REJECT = """\
Dec 01 20:26:17 mail postfix/submission/smtpd[25779]: connect from unknown[127.0.0.1]
Dec 01 20:26:17 mail postfix/submission/smtpd[25779]: B08D42E4007: client=unknown[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=bob@harness.test
Dec 01 20:26:17 mail postfix/submission/smtpd[25779]: B08D42E4007: reject: END-OF-MESSAGE from unknown[127.0.0.1]: 554 5.7.1 <bob@harness.test>: SASL login name rejected: compromised account; from=<bob@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 01 20:26:17 mail postfix/cleanup[25791]: B08D42E4007: message-id=<20261201202617.B08D42E4007@mail.harness.test>
Dec 01 20:26:17 mail postfix/submission/smtpd[25779]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=0/1 rset=1 quit=1 commands=9/10
"""
# Postfix 3.7.11, tests/e2e: both rules on one message; smtpd's refusal is logged first.
BOTH_REJECT = """\
Dec 01 20:25:39 mail postfix/submission/smtpd[24335]: connect from unknown[127.0.0.1]
Dec 01 20:25:39 mail postfix/submission/smtpd[24335]: 9E20A2E40A4: client=unknown[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=bob@harness.test
Dec 01 20:25:39 mail postfix/submission/smtpd[24335]: 9E20A2E40A4: reject: END-OF-MESSAGE from unknown[127.0.0.1]: 554 5.7.1 <bob@harness.test>: SASL login name rejected: compromised account; from=<bob@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 01 20:25:39 mail postfix/cleanup[24341]: 9E20A2E40A4: reject: header Subject: reject me from unknown[127.0.0.1]; from=<bob@harness.test> to=<second@ok.test> proto=ESMTP helo=<client.harness.test>: 5.7.1 refused by header check
Dec 01 20:25:39 mail postfix/submission/smtpd[24335]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=0/1 rset=1 quit=1 commands=9/10
"""
# Postfix 3.7.11, tests/e2e: header_checks HOLD and an end-of-data HOLD on one message to
# first@ok.test and second@ok.test; smtpd's line, which names no recipient, comes first.
HELD_TWICE = """\
Dec 01 20:51:46 mail postfix/submission/smtpd[28434]: connect from unknown[127.0.0.1]
Dec 01 20:51:46 mail postfix/submission/smtpd[28434]: 98A3A3225CC: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=bob@harness.test
Dec 01 20:51:46 mail postfix/submission/smtpd[28434]: 98A3A3225CC: hold: END-OF-MESSAGE from unknown[127.0.0.1]: <bob@harness.test>: SASL login name held at end of data; from=<bob@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 01 20:51:46 mail postfix/cleanup[28439]: 98A3A3225CC: hold: header Subject: hold me from unknown[127.0.0.1]; from=<bob@harness.test> to=<second@ok.test> proto=ESMTP helo=<client.harness.test>: held by header check
Dec 01 20:51:46 mail postfix/cleanup[28439]: 98A3A3225CC: message-id=<179615830663.27913.15366552992496212882@client.harness.test>
Dec 01 20:51:46 mail postfix/submission/smtpd[28434]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
"""
BOB_REFUSED = "554 5.7.1 <bob@harness.test>: SASL login name rejected: compromised account"

messages = functools.partial(
    test_hold.messages,
    columns=("queue_id", "sender", "recipient", "status", "dsn", "reason", "last_attempt"))


def test_a_header_checks_reject_shows_its_sender_and_the_recipient_it_names(tmp_path, report):
    path = written(tmp_path, HEADER_REJECT)
    assert messages(report, path) == [
        ("8B1CF2E40BC", "bob@harness.test", address, "rejected", "5.7.1",
         "header Subject: reject me: 5.7.1 refused by header check",
         "2026-12-01T20:26:15+00:00") for address in ("second@ok.test", "")]
    [user] = report("users", path, *TIMES)
    assert (user["messages"], user["recipients"], user["rejected"]) == (1, 2, 2)
    assert report("queue", path, *TIMES) == []


def test_an_end_of_data_reject_names_no_recipient_and_one_stands_for_them(tmp_path, report):
    assert messages(report, written(tmp_path, END_OF_DATA_REJECT)) == [
        ("B08D42E4007", "bob@harness.test", "", "rejected", "5.7.1", BOB_REFUSED,
         "2026-12-01T20:26:17+00:00")] * 2


def test_a_message_refused_twice_is_counted_once(tmp_path, report):
    path = written(tmp_path, BOTH_REJECT)
    assert messages(report, path) == [
        ("9E20A2E40A4", "bob@harness.test", "", "rejected", "5.7.1", BOB_REFUSED,
         "2026-12-01T20:25:39+00:00")] * 2
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["rejected"]) == (2, 2)


def test_a_named_recipient_takes_the_place_of_the_unnamed_one(tmp_path, report):
    """A hold logged at MAIL FROM names no recipient (smtpd_check.c's format, made from the
    RCPT one: no to=); the reject that names one is the same recipients, not one more."""
    lines = HEADER_REJECT.splitlines(keepends=True)
    hold = ("Dec 01 20:26:15 mail postfix/submission/smtpd[25680]: 8B1CF2E40BC: hold: MAIL from "
            "unknown[127.0.0.1]: <bob@harness.test>: SASL login name compromised account; "
            "from=<bob@harness.test> proto=ESMTP helo=<client.harness.test>\n")
    rows = messages(report, written(tmp_path, "".join(lines[:2] + [hold] + lines[2:])))
    assert [row[2:4] for row in rows] == [("second@ok.test", "rejected"), ("", "rejected")]


def test_a_milters_header_checks_reject(tmp_path, report):
    """cleanup_milter.c's format for milter_header_checks (not from a real run)."""
    lines = HEADER_REJECT.splitlines(keepends=True)
    milter = lines[2].replace(": reject: header", ": milter-header-reject: header")
    assert messages(report, written(tmp_path, "".join(lines[:2] + [milter] + lines[3:])))[0][1:6] == (
        "bob@harness.test", "second@ok.test", "rejected", "5.7.1",
        "header Subject: reject me: 5.7.1 refused by header check")


def test_a_reject_in_a_shape_not_known_still_refuses_the_message(tmp_path, report):
    lines = HEADER_REJECT.splitlines(keepends=True)
    odd = lines[2][:lines[2].index("; from=<")] + "\n"
    assert messages(report, written(tmp_path, "".join(lines[:2] + [odd] + lines[3:]))) == [
        ("8B1CF2E40BC", None, "", "rejected", "",
         "header Subject: reject me from unknown[127.0.0.1]", "2026-12-01T20:26:15+00:00")] * 2


def test_a_refused_message_counts_in_its_session_without_disconnect_counters(tmp_path, report):
    """Postfix 2.x logs no counters (Zentyal's `disconnect from unknown[192.168.9.1]`, tests/
    reallogs): the session's recipients are those its messages were accepted for, those refused
    as a whole among them, as the users report counts them."""
    lines = HEADER_REJECT.splitlines(keepends=True)
    lines[-1] = lines[-1][:lines[-1].index("]") + 1] + "\n"
    path = written(tmp_path, "".join(lines))
    [session] = report("sessions", path, *TIMES)
    assert (session["messages"], session["recipients"], session["rejected"]) == (1, 1, 0)
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["rejected"]) == (1, 1)


def test_a_held_message_then_discarded_by_header_checks(tmp_path, report):
    """Both recipients named, one by smtpd's hold (test_hold's real line) and one by cleanup's
    discard (test_discard's, made the last of the two): both dropped, counted once each."""
    held = test_hold.NOQUEUE_HOLD.splitlines(keepends=True)
    discard = ("Dec 01 18:59:59 mail postfix/cleanup[23301]: 7550131C03A: discard: header "
               "Subject: discard me from unknown[127.0.0.1]; from=<erin@harness.test> "
               "to=<held2@tempfail.test> proto=ESMTP helo=<client.harness.test>: dropped by "
               "header check\n")
    path = written(tmp_path, "".join(held[:3] + [discard] + held[4:]))
    dropped = "discard: header Subject: discard me: dropped by header check"
    assert [row[2:6] for row in messages(report, path)] == [
        ("held1@ok.test", "rejected", "", dropped), ("held2@tempfail.test", "rejected", "", dropped)]
    [session] = report("sessions", path, *TIMES)
    [user] = report("users", path, *TIMES)
    assert (session["recipients"], user["recipients"], user["rejected"], user["deferred"]) == (
        2, 2, 2, 0)
    assert report("queue", path, *TIMES) == []


def test_a_hold_that_names_no_recipient_then_one_that_names_one(tmp_path, report):
    """The recipient cleanup's hold names takes the place of the one with no address smtpd's
    end-of-data hold stood for them by: one recipient held, not two."""
    path = written(tmp_path, HELD_TWICE)
    assert [row[2:6] for row in messages(report, path)] == [
        ("second@ok.test", "deferred", "", "held: header Subject: hold me: held by header check")]
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["pending_recipients"]) == ("98A3A3225CC", 1)
