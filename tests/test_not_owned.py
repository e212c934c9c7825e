"""A login named by its refusal. With reject_sender_login_mismatch (docker-mailserver's
SPOOF_PROTECTION, mailcow), Postfix refuses a logged-in client's MAIL FROM that is not one of
its login's addresses: `Sender address rejected: not owned by user LOGIN` (smtpd_check.c; a
client not logged in is told `not logged in`). An attacker with a stolen password who forges
senders leaves only these lines: no queue file, so no `client=` line names the login. Before
Postfix 3.10 (which names the login on every refusal) nothing else does: such a session was
`(unknown user)`. Now it is LOGIN's, once its disconnect counted a successful AUTH: the words
are in the client's text too (a RCPT address), and a client that did not log in can have
Postfix cut its line after them (the second review's lines, below).

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 45): smtpd_sender_login_maps
maps alice@ and bob@harness.test to their logins, the refusal at RCPT (smtpd_delay_reject=yes,
the default) and at MAIL (no).
"""


import pytest
from test_jobs import read_alike, sessions_holding

from maillog_sasl import events as ev
from maillog_sasl.events import RECORD_LIMIT

from support import interleaved_log, written

TIMES = ("--year", "2026")

# expected: alice's session refused at RCPT for the forged sender bob@ (logged in: `not owned
# by user alice`); a client not logged in refused (`not logged in`: no login); a client not
# logged in whose recipient address spells the words (no login); alice's message sent
AT_RCPT = """\
Dec 05 06:18:02 mail postfix/smtpd[15238]: connect from unknown[127.0.0.1]
Dec 05 06:18:02 mail postfix/smtpd[15238]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 553 5.7.1 <bob@harness.test>: Sender address rejected: not owned by user alice; from=<bob@harness.test> to=<victim@elsewhere.test> proto=ESMTP helo=<c1.test>
Dec 05 06:18:02 mail postfix/smtpd[15238]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1/2 rcpt=0/1 rset=1 quit=1 commands=5/7
Dec 05 06:18:03 mail postfix/smtpd[15238]: connect from unknown[127.0.0.1]
Dec 05 06:18:03 mail postfix/smtpd[15238]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 553 5.7.1 <bob@harness.test>: Sender address rejected: not logged in; from=<bob@harness.test> to=<bob@harness.test> proto=ESMTP helo=<c2.test>
Dec 05 06:18:03 mail postfix/smtpd[15238]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Dec 05 06:18:03 mail postfix/smtpd[15238]: connect from unknown[127.0.0.1]
Dec 05 06:18:03 mail postfix/smtpd[15238]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <y>: Sender address rejected: not owned by user bob@elsewhere.test>: Relay access denied; from=<x@evil.test> to=<"y>: Sender address rejected: not owned by user bob"@elsewhere.test> proto=ESMTP helo=<c3.test>
Dec 05 06:18:03 mail postfix/smtpd[15238]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Dec 05 06:18:04 mail postfix/smtpd[15238]: connect from unknown[127.0.0.1]
Dec 05 06:18:04 mail postfix/smtpd[15238]: 13FF25C228A: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 05 06:18:04 mail postfix/cleanup[15242]: 13FF25C228A: message-id=<20261205061804.13FF25C228A@mail.harness.test>
Dec 05 06:18:04 mail postfix/qmgr[15236]: 13FF25C228A: from=<alice@harness.test>, size=319, nrcpt=1 (queue active)
Dec 05 06:18:04 mail postfix/smtpd[15238]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Dec 05 06:18:04 mail postfix/local[15243]: 13FF25C228A: to=<bob@harness.test>, relay=local, delay=0.02, delays=0/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q45/n1/mail/inbox)
Dec 05 06:18:04 mail postfix/qmgr[15236]: 13FF25C228A: removed
"""

# expected: alice's forged sender refused at MAIL (smtpd_delay_reject=no): a refused message
# attempt of her session, which names her; a client not logged in refused
AT_MAIL = """\
Dec 05 06:18:11 mail postfix/smtpd[15779]: connect from unknown[127.0.0.1]
Dec 05 06:18:11 mail postfix/smtpd[15779]: NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 553 5.7.1 <bob@harness.test>: Sender address rejected: not owned by user alice; from=<bob@harness.test> proto=ESMTP helo=<c1.test>
Dec 05 06:18:12 mail postfix/smtpd[15779]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1/2 rcpt=0/1 rset=1 quit=1 commands=5/7
Dec 05 06:18:12 mail postfix/smtpd[15779]: connect from unknown[127.0.0.1]
Dec 05 06:18:12 mail postfix/smtpd[15779]: NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 553 5.7.1 <bob@harness.test>: Sender address rejected: not logged in; from=<bob@harness.test> proto=ESMTP helo=<c2.test>
Dec 05 06:18:12 mail postfix/smtpd[15779]: disconnect from unknown[127.0.0.1] ehlo=1 mail=0/1 rcpt=0/1 quit=1 commands=2/4
"""

# docker-mailserver/docker-mailserver#1168 (MIT), the one line (its author wrote the
# IP as 0.0.0.0): the refusal alone.
DMS_1168 = (
    "May 15 11:16:53 mail postfix/smtpd[1053]: NOQUEUE: reject: RCPT from unknown[0.0.0.0]: "
    "553 5.7.1 <sender@example.com>: Sender address rejected: not owned by user "
    "sender@example.com; from=<sender@example.com> to=<user@example.com> proto=ESMTP "
    "helo=<[0.0.0.0]>\n")


def test_a_forged_sender_s_refusal_names_the_login(tmp_path, report):
    path = written(tmp_path, AT_RCPT)
    assert [(row["sasl_username"], row["sasl_method"], row["start"], row["complete"],
             row["rejected"]) for row in report("sessions", path, *TIMES)] == [
        ("alice", None, "2026-12-05T06:18:02+00:00", True, 1),
        ("alice", "plain", "2026-12-05T06:18:04+00:00", True, 0)]
    [alice] = report("users", path, *TIMES)
    assert (alice["user"], alice["sessions"], alice["recipients"], alice["sent"],
            alice["rejected"]) == ("alice", 2, 2, 1, 1)
    refused = report("messages", path, *TIMES)[0]
    assert (refused["queue_id"], refused["sasl_username"], refused["sender"],
            refused["recipient"], refused["status"]) == (
        "NOQUEUE", "alice", "bob@harness.test", "victim@elsewhere.test", "rejected")


def test_a_refusal_at_mail_names_the_login(tmp_path, report):
    path = written(tmp_path, AT_MAIL)
    [session] = report("sessions", path, *TIMES)
    assert (session["sasl_username"], session["end"], session["rejected"]) == (
        "alice", "2026-12-05T06:18:12+00:00", 1)
    [refused] = report("messages", path, *TIMES)
    assert (refused["queue_id"], refused["sasl_username"], refused["sender"],
            refused["recipient"], refused["status"]) == (
        "NOQUEUE", "alice", "bob@harness.test", "", "rejected")


def test_without_a_login_counted_the_refusal_names_none(tmp_path, report):
    # Postfix 2.x writes no counters (nor does a log cut before the disconnect): no login.
    path = written(tmp_path, AT_RCPT.replace(" ehlo=1 auth=1 mail=1/2 rcpt=0/1 rset=1 quit=1 "
                                             "commands=5/7", ""))
    assert [row["sasl_username"] for row in report("sessions", path, *TIMES)] == ["alice"]
    assert report("users", written(tmp_path, DMS_1168, "dms.log"), "--year", "2019") == []


# Postfix 3.7.11's refusal of a client not logged in, RCPT TO:<"aaa...TAIL"@elsewhere.test>,
# its text cut at 2,000 bytes (msg_syslog.c) right after TAIL: the second review's lines (a
# private instance), byte for byte. The reply prints the address without its quotes, and the cut
# takes Postfix's own `>: Relay access denied; from=<...> ...` away.
# A tail may hold the padding again ({pad}: a fake envelope whose sender is the address); one
# that begins with `y; ` is the third review's: Postfix 3.10's fields spelled in a RCPT address
# refused as unknown (550 5.1.1), no padding before it.
def cut_refusal(tail: str) -> str:
    head = "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <"
    if tail.startswith("y; "):
        head, tail = head.replace("554 5.7.1", "550 5.1.1"), tail + "z" * RECORD_LIMIT
    room = RECORD_LIMIT - len(head) - len(tail.format(pad=""))
    pad = "a" * max(0, room // (1 + tail.count("{pad}")))
    text = (head + pad + tail.format(pad=pad))[:RECORD_LIMIT]
    return ("Dec 05 06:47:18 mail postfix/smtpd[15983]: "
            + text + "h" * (RECORD_LIMIT - len(text)) + "\n")


FORGED_TAILS = [
    "y; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<h> sasl_method=PLAIN "
    "sasl_username=alice sasl_sender=<",
    ">: Sender address rejected: not owned by user alice",
    ">: Sender address rejected: not owned by user alice; from=<alice@harness.test> "
    "to=<board@elsewhere.test> proto=ESMTP helo=<laptop.harness.test>",
    ">: Sender address rejected: not owned by user alice; from=<{pad}> to=<b@x> proto=ESMTP "
    "helo=<h",
]


@pytest.mark.parametrize("tail", FORGED_TAILS)
@pytest.mark.parametrize("counters", ["ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
                                      "ehlo=1 auth=0/3 mail=1 rcpt=0/1 quit=1 commands=3/7",
                                      "ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5"])
def test_a_client_cannot_name_a_login_by_a_cut_line(tmp_path, report, tail, counters):
    """Not logged in (or failing), the client's line names no login; logged in as someone, it
    does not name another (the cut line is not trusted, whatever it spells)."""
    text = ("Dec 05 06:47:18 mail postfix/smtpd[15983]: connect from unknown[127.0.0.1]\n"
            + cut_refusal(tail)
            + f"Dec 05 06:47:18 mail postfix/smtpd[15983]: disconnect from unknown[127.0.0.1] "
              f"{counters}\n")
    path = written(tmp_path, text)
    assert "alice" not in str(report("sessions", path, *TIMES))
    assert "alice" not in str(report("suspicious", path, *TIMES))


def test_a_logged_in_client_cannot_name_another_by_a_line_cut_short(tmp_path, report):
    """musl's syslog() cuts a message at 1,024 bytes, its header included, BusyBox's syslogd at
    256: the third review's bob, logged in, sent MAIL FROM:<"q>: Sender address rejected: not
    owned by user alice; from=<q> to=<vvv...>"@evil.test>, refused as not bob's, the line cut
    before Postfix's own `...by user bob`. The envelope must read to the line's end."""
    head = ("Dec 05 07:03:03 mail postfix/smtpd[8245]: NOQUEUE: reject: RCPT from "
            "unknown[127.0.0.1]: 553 5.7.1 <q>: Sender address rejected: not owned by user "
            "alice; from=<q> to=<")
    for cut in (256, 1024):
        text = ("Dec 05 07:03:03 mail postfix/smtpd[8245]: connect from unknown[127.0.0.1]\n"
                + (head + "v" * 1024)[:cut] + "\n"
                "Dec 05 07:03:03 mail postfix/smtpd[8245]: disconnect from unknown[127.0.0.1] "
                "ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5\n")
        [session] = report("sessions", written(tmp_path, text), *TIMES)
        assert session["sasl_username"] == "(unknown user)"


@pytest.mark.parametrize("reason, sender, login", [
    ("553 5.7.1 <bob@harness.test>: Sender address rejected: not owned by user alice",
     "bob@harness.test", "alice"),
    ("553 5.7.1 <a b@x>: Sender address rejected: not owned by user a b", '"a b"@x', "a b"),
    # The client's address spells the words; Postfix's reply after it is another refusal's.
    ("554 5.7.1 <y>: Sender address rejected: not owned by user bob@elsewhere.test>: Relay "
     "access denied", "x@evil.test", None),
    # A sender that spells them, refused for the login alice (Postfix drops the quotes).
    ("553 5.7.1 <x>: Sender address rejected: not owned by user bob@y>: Sender address "
     "rejected: not owned by user alice", '"x>: Sender address rejected: not owned by user bob"@y',
     "alice"),
    ("553 5.7.1 <bob@harness.test>: Sender address rejected: not logged in",
     "bob@harness.test", None),
    ("553 5.7.1 <bob@harness.test>: Sender address rejected: not owned by user ",
     "bob@harness.test", None),
    # The reply names another address than the envelope's sender: no sender's refusal.
    ("553 5.7.1 <ceo@harness.test>: Sender address rejected: not owned by user alice",
     "bob@harness.test", None),
])
def test_the_login_is_read_from_postfix_s_words_only(reason, sender, login):
    line = (f"reject: RCPT from unknown[192.0.2.1]: {reason}; from=<{sender}> "
            "to=<v@elsewhere.test> proto=ESMTP helo=<h>")
    assert ev.reject_event(None, line).sasl_username == login


def forged_senders_log(sessions: int) -> str:
    """Logins refused for forged senders on many smtpd processes, interleaved, with and
    without counters, some queuing a message after the refusal."""

    def tell(number, at):
        pid, client = 6000 + number % 30, f"unknown[198.51.100.{number % 250}]"
        user = f"u{number % 4}@example.test"
        at(0, f"smtpd[{pid}]: connect from {client}")
        at(1, f"smtpd[{pid}]: NOQUEUE: reject: RCPT from {client}: 553 5.7.1 <ceo@bank.test>: "
              f"Sender address rejected: not owned by user {user}; from=<ceo@bank.test> "
              f"to=<v{number}@victim.test> proto=ESMTP helo=<h>")
        if number % 3 == 0:
            queue_id = f"{0xC0000 + number:X}"
            at(2, f"smtpd[{pid}]: {queue_id}: client={client}, sasl_method=LOGIN, "
                  f"sasl_username={user}")
            at(3, f"qmgr[99]: {queue_id}: from=<{user}>, size=300, nrcpt=1 (queue active)")
            at(40, f"smtp[98]: {queue_id}: to=<r{number}@remote.test>, relay=mx[192.0.2.1]:25, "
                   "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)")
            at(41, f"qmgr[99]: {queue_id}: removed")
        counters = " ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=3/4" if number % 2 else ""
        at(20 + number % 40, f"smtpd[{pid}]: disconnect from {client}{counters}")

    return interleaved_log(sessions, 5, tell)


def test_jobs_read_forged_senders_as_one_process_does(tmp_path):
    one = read_alike(written(tmp_path, forged_senders_log(300)), ((2, 2500), (3, 900)))
    assert sessions_holding(one, "'sasl_username': 'u1@example.test'") > 50
