"""A login named by its refusal: check_sasl_access (`contain --reject`'s table). A login in the
table is refused with the table's text, `554 5.7.1 <U>: SASL login name rejected: TEXT`
(smtpd_check.c: check_sasl_access() -> check_access(..., "SASL login name", ...), the reply
`<%s>: %s rejected: %s` of REJECT, DEFER, DEFER_IF_PERMIT or `4xx/5xx text`), U the login. The
stolen password's further logins leave only these lines: no queue file, so no `client=` line
names the login, and before Postfix 3.10 (which names it on every refusal) nothing else does:
such a session was `(unknown user)`, the contained account's attempts no one's. Now it is U's,
once its disconnect counted a successful AUTH, read with the guards of tests/test_not_owned.py's
`not owned by user U`: the words are in the client's text too (a quoted local part).

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 47):
`smtpd_sender_restrictions = check_sasl_access hash:sasl_access` refuses at RCPT
(smtpd_delay_reject=yes, the default), at MAIL with smtpd_delay_reject=no; in
smtpd_etrn_restrictions at ETRN (no `from=`); in smtpd_data_restrictions at DATA, after the queue
file and its `client=` line, which names the login.
"""

import pytest
from test_jobs import read_alike, sessions_holding

from maillog_sasl import events as ev
from maillog_sasl.events import RECORD_LIMIT

from maillog_writer import MailLog, at
from support import written

TIMES = ("--year", "2026")
ERIN = "erin@harness.test"

# expected: erin refused by `REJECT compromised account: contact support` (two recipients),
# bob by `450 4.7.1 slow down`; erin by `DEFER_IF_PERMIT maybe later`, bob by `DEFER`
# (Postfix's `Access denied`)
AT_RCPT = """\
Dec 05 12:07:36 mail postfix/smtpd[2572]: connect from unknown[127.0.0.1]
Dec 05 12:07:36 mail postfix/smtpd[2572]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <erin@harness.test>: SASL login name rejected: compromised account: contact support; from=<erin@harness.test> to=<inbox@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:36 mail postfix/smtpd[2572]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <erin@harness.test>: SASL login name rejected: compromised account: contact support; from=<erin@harness.test> to=<x@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:36 mail postfix/smtpd[2572]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/2 quit=1 commands=4/6
Dec 05 12:07:36 mail postfix/smtpd[2572]: connect from unknown[127.0.0.1]
Dec 05 12:07:36 mail postfix/smtpd[2572]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <bob@harness.test>: SASL login name rejected: slow down; from=<bob@harness.test> to=<inbox@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:36 mail postfix/smtpd[2572]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:07:52 mail postfix/smtpd[2778]: connect from unknown[127.0.0.1]
Dec 05 12:07:52 mail postfix/smtpd[2778]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <erin@harness.test>: SASL login name rejected: maybe later; from=<erin@harness.test> to=<inbox@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:52 mail postfix/smtpd[2778]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:07:52 mail postfix/smtpd[2778]: connect from unknown[127.0.0.1]
Dec 05 12:07:52 mail postfix/smtpd[2778]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <bob@harness.test>: SASL login name rejected: Access denied; from=<bob@harness.test> to=<inbox@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:52 mail postfix/smtpd[2778]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
"""

# expected: no login read. bob (logged in, refused as bob by `450 4.7.1 slow down`) with a
# recipient that spells erin's refusal; bob (logged in, not in the table) with a sender that
# does, refused for its domain; a client not logged in with such a recipient
SPELLED = """\
Dec 05 12:10:06 mail postfix/smtpd[9099]: connect from unknown[127.0.0.1]
Dec 05 12:10:06 mail postfix/smtpd[9099]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <bob@harness.test>: SASL login name rejected: slow down; from=<bob@harness.test> to=<"erin@harness.test>: SASL login name rejected: compromised account"@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:10:06 mail postfix/smtpd[9099]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:10:10 mail postfix/smtpd[9192]: connect from unknown[127.0.0.1]
Dec 05 12:10:10 mail postfix/smtpd[9192]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.1.8 <erin@harness.test>: SASL login name rejected: x@nxdomain.invalid>: Sender address rejected: Domain not found; from=<"erin@harness.test>: SASL login name rejected: x"@nxdomain.invalid> to=<inbox@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:10:10 mail postfix/smtpd[9192]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:10:10 mail postfix/smtpd[9192]: connect from unknown[127.0.0.1]
Dec 05 12:10:10 mail postfix/smtpd[9192]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <erin@harness.test>: SASL login name rejected: compromised account@elsewhere.test>: Recipient address rejected: no route in the test harness; from=<erin@harness.test> to=<"erin@harness.test>: SASL login name rejected: compromised account"@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:10:10 mail postfix/smtpd[9192]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
"""

# expected: refusals of no recipient: erin at MAIL (smtpd_delay_reject=no), a refused message
# attempt of her session, which names her (as a not-owned refusal at MAIL does); at ETRN, no
# message attempt, not kept, which names no login
AT_MAIL = """\
Dec 05 12:07:40 mail postfix/smtpd[2608]: connect from unknown[127.0.0.1]
Dec 05 12:07:40 mail postfix/smtpd[2608]: NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 554 5.7.1 <erin@harness.test>: SASL login name rejected: compromised account: contact support; from=<erin@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:40 mail postfix/smtpd[2608]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=0/1 rcpt=0/1 quit=1 commands=3/5
Dec 05 12:07:48 mail postfix/smtpd[2706]: connect from unknown[127.0.0.1]
Dec 05 12:07:48 mail postfix/smtpd[2706]: NOQUEUE: reject: ETRN from unknown[127.0.0.1]: 554 5.7.1 <erin@harness.test>: SASL login name rejected: compromised account: contact support; proto=ESMTP helo=<client.harness.test>
Dec 05 12:07:48 mail postfix/smtpd[2706]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 etrn=0/1 quit=1 commands=3/4
"""


def test_a_login_check_sasl_access_refuses_is_its_account(tmp_path, report):
    path = written(tmp_path, AT_RCPT)
    assert [(row["sasl_username"], row["rejected"]) for row in report("sessions", path, *TIMES)
            ] == [(ERIN, 2), ("bob@harness.test", 1), (ERIN, 1), ("bob@harness.test", 1)]
    assert [(row["user"], row["sessions"], row["rejected"])
            for row in report("users", path, *TIMES)] == [
        (ERIN, 2, 3), ("bob@harness.test", 2, 2)]


def test_a_refusal_spelled_in_the_client_s_text_names_no_one(tmp_path, report):
    path = written(tmp_path, SPELLED)
    assert [row["sasl_username"] for row in report("sessions", path, *TIMES)] == [
        "bob@harness.test", "(unknown user)"]
    assert ERIN not in str(report("users", path, *TIMES))


def test_a_refusal_at_mail_names_the_login_one_at_etrn_none(tmp_path, report):
    path = written(tmp_path, AT_MAIL)
    assert [(row["sasl_username"], row["rejected"])
            for row in report("sessions", path, *TIMES)] == [(ERIN, 1), ("(unknown user)", 0)]


# expected: no login read. bob logged in and queued nothing; his recipient's local part holds a
# fake envelope (below), refused as unknown, as Postfix 3.7.11 writes it with
# info_log_address_format = internal (as any Postfix before 3.5 does): bare, so the fake envelope
# reads strictly from inside the reply to the line's end. Spelling erin's check_sasl_access
# refusal (18337), a not-owned refusal naming her (18338: that session's second line, alone in a
# session here); the default external format quotes the local part (18427).
# RCPT TO:<"erin@harness.test>: SASL login name rejected: x; from=<s2@x> to=<\""@elsewhere.test>
BARE = """\
Dec 05 12:34:53 mail postfix/smtpd[18337]: connect from unknown[127.0.0.1]
Dec 05 12:34:53 mail postfix/smtpd[18337]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <erin@harness.test>: SASL login name rejected: x; from=<s2@x> to=<"@elsewhere.test>: Recipient address rejected: no route in the test harness; from=<bob@harness.test> to=<erin@harness.test>: SASL login name rejected: x; from=<s2@x> to=<"@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:34:53 mail postfix/smtpd[18337]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:34:53 mail postfix/smtpd[18338]: connect from unknown[127.0.0.1]
Dec 05 12:34:53 mail postfix/smtpd[18338]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <s2@x>: Sender address rejected: not owned by user erin@harness.test; from=<s2@x> to=<"@elsewhere.test>: Recipient address rejected: no route in the test harness; from=<bob@harness.test> to=<s2@x>: Sender address rejected: not owned by user erin@harness.test; from=<s2@x> to=<"@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:34:53 mail postfix/smtpd[18338]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
Dec 05 12:34:57 mail postfix/smtpd[18427]: connect from unknown[127.0.0.1]
Dec 05 12:34:57 mail postfix/smtpd[18427]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <erin@harness.test>: SASL login name rejected: x; from=<s2@x> to=<"@elsewhere.test>: Recipient address rejected: no route in the test harness; from=<bob@harness.test> to=<"erin@harness.test>: SASL login name rejected: x; from=<s2@x> to=<\\""@elsewhere.test> proto=ESMTP helo=<client.harness.test>
Dec 05 12:34:57 mail postfix/smtpd[18427]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5
"""


def test_a_fake_envelope_in_a_bare_address_names_no_one(tmp_path, report):
    path = written(tmp_path, BARE)
    assert [row["sasl_username"] for row in report("sessions", path, *TIMES)] == [
        "(unknown user)"] * 3
    assert ERIN not in str(report("users", path, *TIMES))


def contained(fields: bool) -> MailLog:
    """erin's stolen password spamming from six IPs; then, her login in `contain --reject`'s
    table, refused from four more (as Postfix 3.10 writes the refusal with `fields`)."""
    log = MailLog()
    for number in range(6):
        log.login("erin@example.jp", f"198.51.100.{10 + number}", at(0, 9, number * 5), to=40,
                  outcomes={"sent": 10, "bounced": 30})
    log.login("bob@example.jp", "192.0.2.5", at(0, 9), to=2)
    for number in range(4):
        log.refused_login("erin@example.jp", f"203.0.113.{20 + number}", at(0, 12, number * 7),
                          to=3, fields=fields)
    return log


def test_a_contained_account_s_refused_logins_stay_its_own(tmp_path, report):
    path = contained(False).write(tmp_path / "maillog")
    erin, bob = report("users", path)
    assert (erin["user"], erin["sessions"], erin["messages"], erin["rejected"], erin["ips"],
            erin["last_seen"], erin["flags"]) == (
        "erin@example.jp", 10, 6, 12, 10, "2026-01-05T12:21:02+09:00", ["burst", "failing"])
    assert bob["user"] == "bob@example.jp"
    refused = [row for row in report("sessions", path) if row["client_ip"].startswith("203.")]
    assert [(row["sasl_username"], row["auth"], row["recipients"]) for row in refused] == [
        ("erin@example.jp", "1", 3)] * 4
    [suspicious] = report("suspicious", path)
    assert "bounced 180 rejected 12;" in suspicious["reasons"][1]


def test_jobs_read_refused_logins_as_one_process_does(tmp_path):
    log = contained(False)
    for number in range(200):
        log.refused_login(f"u{number % 7}@example.jp", f"203.0.113.{number % 250}",
                          at(1, 0, number % 90), to=1 + number % 3)
    one = read_alike(log.write(tmp_path / "maillog"), ((2, 3000), (3, 1100)))
    assert sessions_holding(one, "'sasl_username': 'u3@example.jp'") == 29


def test_postfix_3_10_s_fields_name_the_same_login(tmp_path, report):
    before = contained(False).write(tmp_path / "before.log")
    after = contained(True).write(tmp_path / "after.log")
    for name in ("users", "sessions", "suspicious"):
        assert report(name, before) == report(name, after)


@pytest.mark.parametrize("reason, sender, login", [
    ("554 5.7.1 <erin@harness.test>: SASL login name rejected: compromised account: contact "
     "support", ERIN, ERIN),
    ("450 4.7.1 <bob@harness.test>: SASL login name rejected: Access denied", ERIN,
     "bob@harness.test"),
    ("554 5.7.1 <a b>: SASL login name rejected: x", ERIN, "a b"),
    # Another class's refusal of a client's name that spells the words: Postfix's `>: ` after.
    ("550 5.1.1 <erin@harness.test>: SASL login name rejected: y@elsewhere.test>: Recipient "
     "address rejected: User unknown", ERIN, None),
    # A not-owned refusal whose sender spells the words: its own login, the last words'.
    ("553 5.7.1 <x>: SASL login name rejected: y@d>: Sender address rejected: not owned by "
     "user bob", '"x>: SASL login name rejected: y"@d', "bob"),
    # Not smtpd_check_reject()'s opening of a `<%s>: ` reply (a DNSBL's text), or no name.
    ("554 5.7.1 Blocked <erin@harness.test>: SASL login name rejected: x", ERIN, None),
    ("554 <erin@harness.test>: SASL login name rejected: x", ERIN, None),
    ("554 5.7.1 <>: SASL login name rejected: x", ERIN, None),
    ("554 5.7.1 <a>: b>: SASL login name rejected: x", ERIN, None),
])
def test_the_login_is_read_from_postfix_s_reply_only(reason, sender, login):
    line = (f"reject: RCPT from unknown[192.0.2.1]: {reason}; from=<{sender}> "
            "to=<v@elsewhere.test> proto=ESMTP helo=<h>")
    assert ev.reject_event(None, line).sasl_username == login


def test_a_reply_that_names_no_login_is_not_read_for_one():
    """A quoted sender that holds ` sasl_` is read for Postfix 3.10's fields, which it does not
    hold: the reply, of neither shape, names no login."""
    line = ('reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <v@elsewhere.test> refused; '
            'from=<"a sasl_b"@evil.test> to=<v@elsewhere.test> proto=ESMTP helo=<h>')
    assert ev.reject_event(None, line).sasl_username is None


def test_a_milter_s_reply_names_no_login():
    """A milter's text is its own, and may quote the client's: not Postfix's words."""
    reply = "554 5.7.1 <erin@harness.test>: SASL login name rejected: x"
    line = (f"milter-reject: RCPT from unknown[192.0.2.1]: {reply}; from=<{ERIN}> "
            "to=<v@elsewhere.test> proto=ESMTP helo=<h>")
    assert ev.reject_event(None, line).sasl_username is None
    assert ev.reject_event(None, line[len("milter-"):]).sasl_username == ERIN


@pytest.mark.parametrize("tail", [
    "",
    f"; from=<{ERIN}> to=<v@elsewhere.test> proto=ESMTP helo=<h>",
])
@pytest.mark.parametrize("counters", ["ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
                                      "ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5"])
def test_a_line_cut_after_a_spelled_refusal_names_no_one(tmp_path, report, tail, counters):
    """RCPT TO:<"erin@harness.test>: SASL login name rejected: zzz...TAIL"@elsewhere.test>,
    refused as an unknown recipient, padded so that Postfix's 2,000-byte cut takes its own
    `@elsewhere.test>: Recipient address rejected: ...` and envelope away; or a syslog daemon's
    shorter cut (BusyBox's at 256, musl's at 1,024) a fake envelope's close."""
    head = ("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <erin@harness.test>: "
            "SASL login name rejected: ")
    stamp = "Dec 05 06:47:18 mail postfix/smtpd[15983]: "
    for text in (head + "z" * (RECORD_LIMIT - len(head) - len(tail)) + tail,
                 (head + "y; from=<erin@harness.test> to=<" + "v" * 1024)[:256 - len(stamp)]):
        log = (f"{stamp}connect from unknown[127.0.0.1]\n{stamp}{text}\n"
               f"{stamp}disconnect from unknown[127.0.0.1] {counters}\n")
        path = written(tmp_path, log)
        assert ERIN not in str(report("sessions", path, *TIMES))
        assert ERIN not in str(report("users", path, *TIMES))
