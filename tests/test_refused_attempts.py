"""A logged-in client's message attempts refused before any queue file, other than a recipient's
NOQUEUE refusal at RCPT: the one the admin of a stolen password wants to see, throttled.

smtpd logs a refusal through log_whatsup() (smtpd_check.c), `NOQUEUE: reject: STAGE from
NAME[IP]: REPLY; from=<S> proto=P helo=<H>` with the command it refused: at MAIL (sender
restrictions with smtpd_delay_reject=no, a policy service at MAIL, reject_sender_login_mismatch
there) no `to=`. anvil's limits per client (smtpd_client_message_rate_limit,
smtpd_client_recipient_rate_limit) refuse a MAIL or a RCPT with `450 4.7.1 Error: too much mail
from IP` (`too many recipients from IP`) and log only a warning (smtpd.c mail_cmd(),
rcpt_cmd()): `warning: Message delivery request rate limit exceeded: N from NAME[IP] for service
S`, `warning: Recipient address rate limit exceeded: ...`.

Before, none of these counted anywhere (the session's and the users report's `rejected` 0, no
messages-report row, `--stats` counted the lines as Postfix lines not used). Each is now one
refused attempt of its session, as a NOQUEUE RCPT refusal is: in the session's and the users
report's `rejected`, a messages-report NOQUEUE row with an empty recipient (a refused MAIL's
recipients are unknown) and the reply the client got, and in the hours the incident rules read.
"""

import pytest
from test_jobs import compare, write

import maillog_sasl
from maillog_sasl.filters import Selection
from maillog_sasl.incident import Thresholds, assess, watch

from support import written

TIMES = ("--year", "2026")

# expected: bob's one session on the submission port: one message sent, then anvil refused
# his next MAIL (the message rate limit, 2 in the minute), then reject_sender_login_mismatch
# his MAIL FROM:<carol@...>; rcpt=1 and mail=1/3 on the disconnect
THROTTLED = """\
Dec  1 10:00:00 mx postfix/submission/smtpd[100]: connect from unknown[192.0.2.7]
Dec  1 10:00:01 mx postfix/submission/smtpd[100]: 1A2B3C4D5E: client=unknown[192.0.2.7], sasl_method=PLAIN, sasl_username=bob
Dec  1 10:00:01 mx postfix/cleanup[101]: 1A2B3C4D5E: message-id=<a@x>
Dec  1 10:00:01 mx postfix/qmgr[102]: 1A2B3C4D5E: from=<bob@example.com>, size=300, nrcpt=1 (queue active)
Dec  1 10:00:02 mx postfix/smtp[103]: 1A2B3C4D5E: to=<v@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Dec  1 10:00:02 mx postfix/qmgr[102]: 1A2B3C4D5E: removed
Dec  1 10:00:03 mx postfix/submission/smtpd[100]: warning: Message delivery request rate limit exceeded: 2 from unknown[192.0.2.7] for service submission
Dec  1 10:00:04 mx postfix/submission/smtpd[100]: NOQUEUE: reject: MAIL from unknown[192.0.2.7]: 553 5.7.1 <carol@example.com>: Sender address rejected: not owned by user bob; from=<carol@example.com> proto=ESMTP helo=<x>
Dec  1 10:00:05 mx postfix/submission/smtpd[100]: disconnect from unknown[192.0.2.7] ehlo=1 auth=1 mail=1/3 rcpt=1 data=1 quit=1 commands=6/8
"""

# expected: a session that queued nothing (no client= line: only the disconnect's auth=1
# tells it logged in, as "(unknown user)"): anvil refused its first recipient (the recipient
# rate limit), its DATA was refused (no valid recipients to pipeline), and a policy service
# refused its second MAIL; its EHLO and VRFY refusals are no message attempts. With
# smtpd_client_port_logging the client is NAME[IP]:PORT.
UNQUEUED = """\
Dec  2 09:00:00 mx postfix/smtpd[200]: connect from unknown[198.51.100.9]:41234
Dec  2 09:00:01 mx postfix/smtpd[200]: NOQUEUE: reject: EHLO from unknown[198.51.100.9]:41234: 504 5.5.2 <x>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<x>
Dec  2 09:00:02 mx postfix/smtpd[200]: warning: Recipient address rate limit exceeded: 31 from unknown[198.51.100.9]:41234 for service smtp
Dec  2 09:00:03 mx postfix/smtpd[200]: NOQUEUE: reject: DATA from unknown[198.51.100.9]:41234: 503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining; from=<shop@example.com> to=<a@example.net> proto=ESMTP helo=<shop.example.com>
Dec  2 09:00:04 mx postfix/smtpd[200]: NOQUEUE: reject: MAIL from unknown[198.51.100.9]:41234: 450 4.7.1 <shop@example.com>: Sender address rejected: quota exceeded; from=<shop@example.com> proto=ESMTP helo=<shop.example.com>
Dec  2 09:00:05 mx postfix/smtpd[200]: NOQUEUE: reject: VRFY from unknown[198.51.100.9]:41234: 550 5.1.1 <a@example.net>: Recipient address rejected: unknown; to=<a@example.net> proto=ESMTP helo=<shop.example.com>
Dec  2 09:00:06 mx postfix/smtpd[200]: disconnect from unknown[198.51.100.9]:41234 ehlo=1/2 auth=1 mail=1/2 rcpt=0/1 data=0/1 vrfy=0/1 quit=1 commands=4/9
"""


def refused_rows(rows):
    return [(row["queue_id"], row["sender"], row["recipient"], row["status"], row["dsn"],
             row["reason"]) for row in rows if row["queue_id"] == "NOQUEUE"]


@pytest.mark.parametrize("counters", ["mail=1/3 rcpt=1 data=1", "mail=1/3 rcpt=1/3 data=1/3"])
def test_a_throttled_login_s_refused_mails_are_its_refused_attempts(tmp_path, report, cli,
                                                                     counters):
    """Each refused MAIL once, also when the client pipelined its RCPT and DATA after it (each
    refused `503 5.5.1 Error: need MAIL command`, counted in the disconnect's counters)."""
    path = written(tmp_path, THROTTLED.replace("mail=1/3 rcpt=1 data=1", counters))
    [session] = report("sessions", path, *TIMES)
    assert (session["sasl_username"], session["messages"], session["recipients"],
            session["rejected"]) == ("bob", 1, 3, 2)
    [bob] = report("users", path, *TIMES)
    assert (bob["recipients"], bob["sent"], bob["rejected"]) == (3, 1, 2)
    assert refused_rows(report("messages", path, *TIMES)) == [
        ("NOQUEUE", None, "", "rejected", "4.7.1",
         "450 4.7.1 Error: too much mail from 192.0.2.7"),
        ("NOQUEUE", "carol@example.com", "", "rejected", "5.7.1",
         "553 5.7.1 <carol@example.com>: Sender address rejected: not owned by user bob")]
    stats = cli("--stats", "--report", "users", *TIMES, path).err
    assert "lines used:               9" in stats
    assert "Postfix lines not used: 0" in stats


def test_a_session_that_queued_nothing_counts_its_refused_attempts_not_its_ehlo(
        tmp_path, report):
    path = written(tmp_path, UNQUEUED)
    [session] = report("sessions", path, *TIMES)
    assert (session["sasl_username"], session["recipients"], session["rejected"]) == (
        "(unknown user)", 3, 3)
    [user] = report("users", path, *TIMES)
    assert user["rejected"] == 3
    assert refused_rows(report("messages", path, *TIMES)) == [
        ("NOQUEUE", None, "", "rejected", "4.7.1",
         "450 4.7.1 Error: too many recipients from 198.51.100.9"),
        ("NOQUEUE", "shop@example.com", "", "rejected", "5.5.0",
         "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"),
        ("NOQUEUE", "shop@example.com", "", "rejected", "4.7.1",
         "450 4.7.1 <shop@example.com>: Sender address rejected: quota exceeded")]


# expected: bob pipelines MAIL FROM:<carol@...>, two RCPTs and DATA (smtpd_delay_reject = no):
# reject_sender_login_mismatch refuses the MAIL, and smtpd answers each RCPT `503 5.5.1 Error:
# need MAIL command` and the DATA `503 5.5.1 Error: need RCPT command` with no line (smtpd.c
# rcpt_cmd(), data_cmd()): only the counters (rcpt=0/2) hold them. Then, in the same session, a
# message of one recipient sent.
PIPELINED = """\
Dec  5 14:00:00 mx postfix/submission/smtpd[910]: connect from unknown[198.51.100.30]
Dec  5 14:00:02 mx postfix/submission/smtpd[910]: NOQUEUE: reject: MAIL from unknown[198.51.100.30]: 553 5.7.1 <carol@example.com>: Sender address rejected: not owned by user bob; from=<carol@example.com> proto=ESMTP helo=<pc>
Dec  5 14:00:03 mx postfix/submission/smtpd[910]: 3C4D5E6F7A: client=unknown[198.51.100.30], sasl_method=PLAIN, sasl_username=bob
Dec  5 14:00:03 mx postfix/cleanup[911]: 3C4D5E6F7A: message-id=<b@pc>
Dec  5 14:00:03 mx postfix/qmgr[102]: 3C4D5E6F7A: from=<bob@example.com>, size=300, nrcpt=1 (queue active)
Dec  5 14:00:04 mx postfix/smtp[912]: 3C4D5E6F7A: to=<v@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Dec  5 14:00:04 mx postfix/qmgr[102]: 3C4D5E6F7A: removed
Dec  5 14:00:05 mx postfix/submission/smtpd[910]: disconnect from unknown[198.51.100.30] ehlo=1 auth=1 mail=1/2 rcpt=1/3 data=1/2 quit=1 commands=6/10
"""


@pytest.mark.parametrize("sent", [True, False])
def test_a_refused_mail_s_pipelined_rcpts_count_once_in_sessions_and_users(tmp_path, report,
                                                                            sent):
    """The refused MAIL is one refused attempt in both reports, its recipients unknown: the
    RCPTs pipelined after it are not counted again, however many (the sessions report counted
    2 of them, the users report 1)."""
    text = PIPELINED
    if not sent:  # the refused transaction alone
        text = "".join(line + "\n" for line in PIPELINED.splitlines()
                       if "3C4D5E6F7A" not in line).replace(
            "mail=1/2 rcpt=1/3 data=1/2 quit=1 commands=6/10",
            "mail=0/1 rcpt=0/2 data=0/1 quit=1 commands=3/7")
    path = written(tmp_path, text)
    [session] = report("sessions", path, *TIMES)
    [user] = report("users", path, *TIMES)
    assert (session["recipients"], session["rejected"]) == (1 + sent, 1)
    assert (user["recipients"], user["rejected"]) == (1 + sent, 1)


def test_a_client_that_did_not_log_in_is_not_reported(tmp_path, report):
    path = written(tmp_path, UNQUEUED.replace(" auth=1", ""))
    assert report("sessions", path, *TIMES) == []
    assert report("messages", path, *TIMES) == []


@pytest.mark.parametrize("line", [
    "warning: Message delivery request rate limit exceeded: x from unknown[192.0.2.7] for "
    "service submission",
    "warning: Message delivery request rate limit exceeded: 2 from unknown for service smtp",
    "warning: Recipient address rate limit exceeded: 2 from unknown[192.0.2.7]",
])
def test_a_warning_of_another_shape_is_no_refusal(tmp_path, report, line):
    path = written(tmp_path, THROTTLED.replace(
        "warning: Message delivery request rate limit exceeded: 2 from unknown[192.0.2.7] for "
        "service submission", line))
    assert [row[5][:3] for row in refused_rows(report("messages", path, *TIMES))] == [
        "553"]


def throttled_hour(messages: int, refused: int) -> list:
    """A stolen password's hour: `messages` sent, one a session, anvil refusing `refused` more
    MAILs in the last of them."""
    lines = []
    for number in range(messages):
        stamp, qid, pid = f"Dec  3 11:{number:02d}:", f"{0xB0000 + number:X}", 300 + number
        smtpd = f"{stamp}00 mx postfix/submission/smtpd[{pid}]:"
        lines += [
            f"{smtpd} connect from unknown[203.0.113.5]",
            f"{smtpd} {qid}: client=unknown[203.0.113.5], sasl_method=LOGIN, "
            "sasl_username=shop@example.com",
            f"{stamp}00 mx postfix/qmgr[9]: {qid}: from=<shop@example.com>, size=900, nrcpt=1 "
            "(queue active)"]
        last = number == messages - 1
        lines += [f"{stamp}{10 + attempt:02d} mx postfix/submission/smtpd[{pid}]: warning: "
                  f"Message delivery request rate limit exceeded: {messages + attempt} from "
                  "unknown[203.0.113.5] for service submission"
                  for attempt in range(refused if last else 0)]
        mail = f"1/{refused + 1}" if last else "1"
        lines += [
            f"{stamp}50 mx postfix/submission/smtpd[{pid}]: disconnect from unknown[203.0.113.5] "
            f"ehlo=1 auth=1 mail={mail} rcpt=1 data=1 quit=1 commands=6",
            f"{stamp}51 mx postfix/smtp[8]: {qid}: to=<x{number}@remote.example>, "
            "relay=mx.remote.example[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)",
            f"{stamp}51 mx postfix/qmgr[9]: {qid}: removed"]
    return lines


def test_the_incident_rules_see_the_refusals(tmp_path):
    """20 attempts in the hour, 10 refused: the failing rule fires, as for 10 NOQUEUE RCPT
    refusals."""
    path = write(tmp_path, "maillog", throttled_hour(10, 10))
    thresholds = Thresholds()
    analysis = maillog_sasl.analyze([path], year=2026)
    verdict = assess(watch(analysis, Selection(), {"thresholds": thresholds}),
                     thresholds)["shop@example.com"]
    reasons = {signal.name: signal.reason for signal in verdict.signals}
    assert reasons["failing"].startswith("failing: 10 of 20 recipients failed (50%: rejected 10")


# expected: bob's session through a before-queue filter (smtpd_proxy_filter: no queue file,
# `NOQUEUE: client=`): 5 recipients accepted, then smtpd_data_restrictions refused the DATA,
# the whole message of those 5 (rcpt=5 data=0/1); smtpd names only the last RCPT
PROXIED_DATA = """\
Dec  5 00:14:00 mail postfix/submission/smtpd[5000]: connect from unknown[203.0.113.50]
Dec  5 00:14:00 mail postfix/submission/smtpd[5000]: NOQUEUE: client=unknown[203.0.113.50], sasl_method=PLAIN, sasl_username=bob@example.jp
Dec  5 00:14:00 mail postfix/submission/smtpd[5000]: NOQUEUE: reject: DATA from unknown[203.0.113.50]: 550 5.7.1 <DATA>: Data command rejected: no; from=<bob@example.jp> to=<v5@victim.example> proto=ESMTP helo=<x>
Dec  5 00:14:01 mail postfix/submission/smtpd[5000]: disconnect from unknown[203.0.113.50] ehlo=1 auth=1 mail=1 rcpt=5 data=0/1 quit=1 commands=9/10
"""


def test_two_jobs_read_the_refusals_as_one_does(tmp_path, monkeypatch):
    lines = (throttled_hour(12, 30) + THROTTLED.splitlines() + UNQUEUED.splitlines()
             + PROXIED_DATA.splitlines())
    items, stats, _ = compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026,
                              sizes=[(2, size) for size in (300, 600, 1000, 2000)])
    assert stats["lines_used"] == len(lines) - 2  # the EHLO and VRFY refusals


# expected: the connect of 198.51.100.20, whose session ended unlogged, then bob's from
# 192.0.2.7 (its connect lost): the warning of his refused MAIL, noted before his client= line
# told whose it was, is his session's
AFTER_ANOTHER_CONNECT = """\
Dec  4 08:00:00 mx postfix/submission/smtpd[500]: connect from unknown[198.51.100.20]
Dec  4 08:00:01 mx postfix/submission/smtpd[500]: warning: Message delivery request rate limit exceeded: 3 from unknown[192.0.2.7]:50123 for service submission
Dec  4 08:00:02 mx postfix/submission/smtpd[500]: 5E6F7A8B9C: client=unknown[192.0.2.7]:50123, sasl_method=PLAIN, sasl_username=bob
Dec  4 08:00:03 mx postfix/submission/smtpd[500]: disconnect from unknown[192.0.2.7]:50123 ehlo=1 auth=1 mail=1/2 rcpt=1 data=1 quit=1 commands=6/7
"""


def test_a_refusal_noted_before_its_client_is_known_is_its_session_s(tmp_path, report):
    path = written(tmp_path, AFTER_ANOTHER_CONNECT)
    [session] = report("sessions", path, *TIMES)
    assert (session["client_ip"], session["sasl_username"], session["rejected"]) == (
        "192.0.2.7", "bob", 1)
    other = written(tmp_path, AFTER_ANOTHER_CONNECT.replace("[192.0.2.7]:50123 for",
                                                            "[192.0.2.99]:50123 for"), "other")
    [session] = report("sessions", other, *TIMES)
    assert session["rejected"] == 0


@pytest.mark.parametrize("stage", ["DATA", "BDAT", "END-OF-MESSAGE"])
def test_a_refused_data_counts_its_accepted_recipients_once(tmp_path, report, stage):
    """The refusal of the message of 5 accepted recipients is no sixth recipient: the
    session's 5 recipients are refused, as a before-queue filter's own refusal of them
    (proxy-reject, tests/test_refused_recipients.py) counts them."""
    path = written(tmp_path, PROXIED_DATA.replace("reject: DATA", f"reject: {stage}"))
    [session] = report("sessions", path, *TIMES)
    assert session["recipients"] == 5
    [bob] = report("users", path, *TIMES)
    assert (bob["messages"], bob["recipients"], bob["rejected"]) == (1, 5, 5)
    rows = report("messages", path, *TIMES)
    assert [(row["queue_id"], row["recipient"], row["status"]) for row in rows] == [
        ("NOQUEUE", "v5@victim.example", "rejected")] + [("NOQUEUE", "", "rejected")] * 4
    proxied = written(tmp_path, PROXIED_DATA.replace(
        "NOQUEUE: reject: DATA from unknown[203.0.113.50]: 550 5.7.1 <DATA>: Data command "
        "rejected: no", "proxy-reject: END-OF-MESSAGE: 550 5.7.1 no"), "proxied")
    assert report("users", proxied, *TIMES)[0]["recipients"] == 5
