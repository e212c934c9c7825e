"""`postsuper -r`: a message requeued goes on under a new queue ID.

postsuper moves the queue file to the maildrop (`QID: requeued`, no `removed`), and pickup
reads it into a new one: `NEWQID: uid=N from=<SENDER> orig_id=QID` (pickup.c logs orig_id for
the files of $mail_owner, "to support message tracking for mail requeued via postsuper -r"). The
new queue file holds the recipients still to deliver. An admin runs `postsuper -r ALL` once a
relay or a filter is mended (real logs: a Zimbra forum thread of 2013, an Ubuntu forum's, under
no licence: not copied here). The tool left the old message open for ever, deferred, and listed
its gone queue ID for `postsuper -d -`; what became of the mail was never counted.

The logs below are written in Postfix's formats (those lines, and pickup.c's and postsuper.c's
format strings); every number expected is counted from their lines.
"""

import datetime as dt

import pytest
from test_jobs import chunks_of
from test_metrics import parse, value

from maillog_sasl.correlate import Correlator
from maillog_sasl.syslog import Clock

SUBMITTED = """\
Mar  3 10:00:00 mail postfix/submission/smtpd[100]: connect from client.example[203.0.113.5]
Mar  3 10:00:01 mail postfix/submission/smtpd[100]: 3F1A2B3C4D: client=client.example[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp
Mar  3 10:00:01 mail postfix/cleanup[101]: 3F1A2B3C4D: message-id=<m1@example.jp>
Mar  3 10:00:01 mail postfix/qmgr[102]: 3F1A2B3C4D: from=<ann@example.jp>, size=900, nrcpt=2 (queue active)
Mar  3 10:00:02 mail postfix/submission/smtpd[100]: disconnect from client.example[203.0.113.5] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
Mar  3 10:00:03 mail postfix/smtp[103]: 3F1A2B3C4D: to=<a@dest.example>, relay=mx.dest.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 10:00:33 mail postfix/smtp[103]: 3F1A2B3C4D: to=<b@slow.example>, relay=none, delay=32, delays=0/0/32/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[198.51.100.2]:25: Connection timed out)
"""
REQUEUED = """\
Mar  3 11:00:00 mail postfix/postsuper[200]: 3F1A2B3C4D: requeued
Mar  3 11:00:00 mail postfix/postsuper[200]: Requeued: 1 message
Mar  3 11:00:01 mail postfix/pickup[201]: 5E6F7A8B9C: uid=89 from=<ann@example.jp> orig_id=3F1A2B3C4D
Mar  3 11:00:01 mail postfix/cleanup[101]: 5E6F7A8B9C: message-id=<m1@example.jp>
Mar  3 11:00:01 mail postfix/qmgr[102]: 5E6F7A8B9C: from=<ann@example.jp>, size=950, nrcpt=1 (queue active)
"""
DELIVERED = """\
Mar  3 11:00:02 mail postfix/smtp[103]: 5E6F7A8B9C: to=<b@slow.example>, relay=mx.slow.example[198.51.100.2]:25, delay=3602, delays=3600/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 11:00:02 mail postfix/qmgr[102]: 5E6F7A8B9C: removed
"""
DEFERRED_AGAIN = """\
Mar  3 11:00:31 mail postfix/smtp[103]: 5E6F7A8B9C: to=<b@slow.example>, relay=none, delay=3630, delays=3600/0/30/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[198.51.100.2]:25: Connection timed out)
"""


def _log(tmp_path, *parts):
    path = tmp_path / "maillog"
    path.write_text("".join(parts))
    return path


def _rows(report, path, name):
    return report(name, "--year", "2026", path)


def test_a_requeued_message_is_counted_under_its_new_queue_id(report, tmp_path):
    # a@dest.example sent before the requeue (under 3F1A2B3C4D), b@slow.example deferred, then
    # sent as 5E6F7A8B9C: two recipients, both sent, nothing still queued.
    path = _log(tmp_path, SUBMITTED, REQUEUED, DELIVERED)
    rows = _rows(report, path, "messages")
    assert [(row["queue_id"], row["recipient"], row["status"]) for row in rows] == [
        ("3F1A2B3C4D", "a@dest.example", "sent"), ("5E6F7A8B9C", "b@slow.example", "sent")]
    # The new queue file is ann's message: her login, her client, the time she queued it.
    assert {(row["sasl_username"], row["client_ip"], row["time"]) for row in rows} == {
        ("ann@example.jp", "203.0.113.5", "2026-03-03T10:00:01+00:00")}
    [user] = _rows(report, path, "users")
    assert (user["messages"], user["recipients"], user["sent"], user["deferred"]) == (1, 2, 2, 0)
    assert _rows(report, path, "queue") == []


def test_a_requeued_message_still_deferred_is_queued_under_its_new_queue_id(cli, report,
                                                                            tmp_path):
    # After the requeue b@slow.example is deferred again: the queue holds 5E6F7A8B9C, not
    # 3F1A2B3C4D, whose queue file is gone (`postsuper -d 3F1A2B3C4D` would find nothing).
    path = _log(tmp_path, SUBMITTED, REQUEUED, DEFERRED_AGAIN)
    [queued] = _rows(report, path, "queue")
    assert (queued["queue_id"], queued["kind"], queued["parent_queue_id"],
            queued["pending_recipients"], queued["queued"]) == (
        "5E6F7A8B9C", "requeued", "3F1A2B3C4D", 1, "2026-03-03T10:00:01+00:00")
    result = cli("-r", "queue", "-f", "ids", "--year", "2026", "--tz", "UTC", path)
    assert (result.code, result.out) == (0, "5E6F7A8B9C\n")
    [user] = _rows(report, path, "users")
    assert (user["recipients"], user["sent"], user["deferred"]) == (2, 1, 1)


def test_a_requeued_message_not_yet_read_again_waits_under_its_new_queue_id(report, tmp_path):
    # The log ends after pickup's line: qmgr has not read the new file yet; its recipient
    # is still to deliver, once.
    path = _log(tmp_path, SUBMITTED, REQUEUED.splitlines(keepends=True)[2])
    [queued] = _rows(report, path, "queue")
    assert (queued["queue_id"], queued["pending_recipients"]) == ("5E6F7A8B9C", 1)
    [user] = _rows(report, path, "users")
    assert (user["recipients"], user["sent"], user["deferred"]) == (2, 1, 1)


def test_a_recipient_keeps_its_attempts_across_requeues(report, tmp_path):
    # b@slow.example deferred at 10:00:33 as 3F1A2B3C4D, at 11:00:31 as 5E6F7A8B9C, requeued
    # again as 9A9A9A9A9A and deferred at 12:00:31: three attempts since 10:00:33.
    again = (REQUEUED + DEFERRED_AGAIN).replace("5E6F7A8B9C", "9A9A9A9A9A").replace(
        "3F1A2B3C4D", "5E6F7A8B9C").replace("Mar  3 11:", "Mar  3 12:")
    path = _log(tmp_path, SUBMITTED, REQUEUED, DEFERRED_AGAIN, again)
    rows = {row["queue_id"]: row for row in _rows(report, path, "messages")}
    assert sorted(rows) == ["3F1A2B3C4D", "9A9A9A9A9A"]
    assert rows["9A9A9A9A9A"]["attempts"] == 3
    [queued] = _rows(report, path, "queue")
    assert (queued["queue_id"], queued["parent_queue_id"], queued["first_deferred"]) == (
        "9A9A9A9A9A", "5E6F7A8B9C", "2026-03-03T10:00:33+00:00")


def test_a_held_message_requeued_is_counted_as_qmgr_counts_it(report, tmp_path):
    # Held by header_checks before qmgr read it (the hold line names one of its three
    # recipients), requeued: qmgr counts three in the new file, as after `postsuper -H`.
    held = SUBMITTED.replace(
        "Mar  3 10:00:01 mail postfix/qmgr[102]: 3F1A2B3C4D: from=<ann@example.jp>, size=900, "
        "nrcpt=2 (queue active)\n",
        "Mar  3 10:00:01 mail postfix/cleanup[101]: 3F1A2B3C4D: hold: header Subject: hold me "
        "from client.example[203.0.113.5]; from=<ann@example.jp> to=<b@slow.example> "
        "proto=ESMTP helo=<pc>: held by header check\n")
    held = "".join(line for line in held.splitlines(keepends=True) if "smtp[" not in line)
    new_file = REQUEUED.replace("nrcpt=1", "nrcpt=3")
    path = _log(tmp_path, held, new_file)
    [user] = _rows(report, path, "users")
    assert (user["recipients"], user["deferred"]) == (3, 3)
    [queued] = _rows(report, path, "queue")
    assert (queued["queue_id"], queued["pending_recipients"]) == ("5E6F7A8B9C", 3)


def test_a_requeued_bounce_notice_stays_a_notice(report, tmp_path):
    # ann's message bounces; the notice to her is deferred, requeued and then sent: her one
    # recipient, bounced; the notice's recipient is not hers.
    bounced = SUBMITTED.replace("nrcpt=2", "nrcpt=1").replace(
        "rcpt=2 data=1 quit=1 commands=7", "rcpt=1 data=1 quit=1 commands=6")
    bounced = "".join(line for line in bounced.splitlines(keepends=True)
                      if "b@slow.example" not in line).replace(
        "dsn=2.0.0, status=sent (250 2.0.0 Ok)", "dsn=5.1.1, status=bounced (550 5.1.1 no such user)")
    notice = """\
Mar  3 10:00:03 mail postfix/bounce[104]: 3F1A2B3C4D: sender non-delivery notification: 6A6A6A6A6A
Mar  3 10:00:03 mail postfix/qmgr[102]: 6A6A6A6A6A: from=<>, size=2900, nrcpt=1 (queue active)
Mar  3 10:00:03 mail postfix/qmgr[102]: 3F1A2B3C4D: removed
Mar  3 10:00:33 mail postfix/smtp[103]: 6A6A6A6A6A: to=<ann@example.jp>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.jp[198.51.100.2]:25: Connection timed out)
Mar  3 11:00:00 mail postfix/postsuper[200]: 6A6A6A6A6A: requeued
Mar  3 11:00:01 mail postfix/pickup[201]: 7B7B7B7B7B: uid=89 from=<> orig_id=6A6A6A6A6A
Mar  3 11:00:01 mail postfix/qmgr[102]: 7B7B7B7B7B: from=<>, size=2950, nrcpt=1 (queue active)
"""
    path = _log(tmp_path, bounced, notice)
    [user] = _rows(report, path, "users")
    assert (user["recipients"], user["bounced"], user["deferred"]) == (1, 1, 0)
    [queued] = _rows(report, path, "queue")
    assert (queued["queue_id"], queued["kind"], queued["parent_queue_id"], queued["queued"]) == (
        "7B7B7B7B7B", "notice", "3F1A2B3C4D", "2026-03-03T10:00:03+00:00")


def test_a_requeue_under_the_same_queue_id_is_no_requeue(report, tmp_path):
    # (Postfix gives the new file a new inode, so a new queue ID: a line that names the same
    # one changes nothing.)
    path = _log(tmp_path, SUBMITTED, (REQUEUED + DELIVERED).replace("5E6F7A8B9C", "3F1A2B3C4D"))
    [user] = _rows(report, path, "users")
    assert (user["messages"], user["recipients"], user["sent"]) == (1, 2, 2)


def test_the_sender_cannot_name_the_message_requeued(report, tmp_path):
    # The sender is the client's text: a quoted local part may hold `> orig_id=...`. The last
    # orig_id= is pickup's: ann's message is requeued; bob's, named in the sender, stays.
    bob = SUBMITTED.replace("3F1A2B3C4D", "7D8E9F0A1B").replace("ann@", "bob@").replace(
        "[100]", "[110]").replace("Mar  3 10:00:", "Mar  3 10:05:")
    pickup = REQUEUED.replace(
        "from=<ann@example.jp> orig_id=",
        'from=<"x> orig_id=7D8E9F0A1B"@example.jp> orig_id=')
    path = _log(tmp_path, SUBMITTED, bob, pickup, DELIVERED)
    assert {(row["queue_id"], row["user"]) for row in _rows(report, path, "queue")} == {
        ("7D8E9F0A1B", "bob@example.jp")}


def test_a_pickup_line_without_orig_id_is_a_local_submission(cli, tmp_path):
    # sendmail's mail: pickup names the user's uid, no queue ID it had. Not ann's.
    local = ("Mar  3 11:00:01 mail postfix/pickup[201]: 5E6F7A8B9C: uid=1000 from=<ann>\n"
             + REQUEUED.splitlines(keepends=True)[4] + DELIVERED)
    path = _log(tmp_path, SUBMITTED, local)
    result = cli("-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC", path)
    assert result.code == 0, result.err
    assert "5E6F7A8B9C" not in result.out
    assert result.out.count("3F1A2B3C4D,") == 2  # its deferred recipient too: still queued


# MailScanner beside Postfix: header_checks `/^Received:/ HOLD` holds every message for it; it
# scans the held file and writes it back under a new queue ID (its Postfix queue module logs
# `Requeue: %s to %s`, its message ID and the new file's name), deleting the held file, of
# which Postfix logs nothing more (the shape of mailwatch/MailWatch#966's lines).
SCANNED = """\
Oct 20 19:23:14 tsutt postfix/submission/smtpd[13823]: connect from client.example[203.0.113.7]
Oct 20 19:23:14 tsutt postfix/submission/smtpd[13823]: BA166C00C0: client=client.example[203.0.113.7], sasl_method=LOGIN, sasl_username=ann@example.jp
Oct 20 19:23:14 tsutt postfix/cleanup[13800]: BA166C00C0: hold: header Received: from client.example (client.example [203.0.113.7])??by tsutt (Postfix) with ESMTPSA id BA166C00C0??for <friend@dest.example>; Tue, 20 Oct 2026 19:23:14 +0300 (EEST) from client.example[203.0.113.7]; from=<ann@example.jp> to=<friend@dest.example> proto=ESMTP helo=<client.example>
Oct 20 19:23:14 tsutt postfix/submission/smtpd[13823]: disconnect from client.example[203.0.113.7] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
Oct 20 19:23:31 tsutt MailScanner[8914]: Requeue: BA166C00C0.A9BEF to 0921EC00A8
Oct 20 19:23:31 tsutt postfix/qmgr[11779]: 0921EC00A8: from=<ann@example.jp>, size=2310, nrcpt=1 (queue active)
"""
SCANNED_SENT = """\
Oct 20 19:23:32 tsutt postfix/smtp[13900]: 0921EC00A8: to=<friend@dest.example>, relay=mx.dest.example[198.51.100.9]:25, delay=18, delays=17/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Oct 20 19:23:32 tsutt postfix/qmgr[11779]: 0921EC00A8: removed
"""


def test_a_message_mailscanner_wrote_back_goes_on_under_its_new_queue_id(report, tmp_path):
    # Held for MailScanner, written back as 0921EC00A8, sent: one recipient, sent, nothing
    # held or queued (before: held for ever, BA166C00C0 in the queue report).
    path = _log(tmp_path, SCANNED, SCANNED_SENT)
    rows = _rows(report, path, "messages")
    assert [(row["queue_id"], row["recipient"], row["status"], row["sasl_username"])
            for row in rows] == [("0921EC00A8", "friend@dest.example", "sent", "ann@example.jp")]
    assert _rows(report, path, "queue") == []
    # Before qmgr delivered it: queued under its new queue ID.
    [queued] = _rows(report, _log(tmp_path, SCANNED), "queue")
    assert (queued["queue_id"], queued["kind"], queued["parent_queue_id"],
            queued["pending_recipients"]) == ("0921EC00A8", "requeued", "BA166C00C0", 1)


def test_watch_counts_a_requeued_message_once(cli, tmp_path):
    # One message, two recipients sent (one before the requeue, one after): --metrics counts
    # one message, where it ended, and two recipients.
    path = _log(tmp_path, SUBMITTED, REQUEUED, DELIVERED)
    prom = tmp_path / "maillog-sasl.prom"
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--metrics", prom,
                 "--year", "2026", "--tz", "UTC", path)
    assert result.code == 0, result.err
    found = parse(prom.read_text())
    assert value(found, "messages_total", outcome="sent") == 1
    assert value(found, "recipients_total", outcome="sent") == 2


def test_a_message_requeued_while_its_session_is_open_lets_go_of_it_when_it_ends():
    # MailScanner writes the message back before the client disconnects: the session's end
    # lets go of the message (which waits in the queue, in watch's state, for days).
    lines = SCANNED.splitlines()
    lines.append(lines.pop(3))  # the disconnect after the requeue and qmgr's line
    correlator = Correlator()
    correlator.feed(lines, Clock(year=2026, tz=dt.timezone.utc))
    correlator.end_source()
    waiting = correlator.messages[("tsutt", "0921EC00A8")]
    assert (waiting.kind, waiting.sasl_username, waiting.session) == (
        "requeued", "ann@example.jp", None)


@pytest.mark.parametrize("chunk_size", [300, 900, 2500, 6000])
@pytest.mark.parametrize("name", ["users", "messages", "queue", "timeline"])
def test_two_jobs_follow_a_requeue_as_one(cli, monkeypatch, tmp_path, chunk_size, name):
    # Requeues (postsuper's, MailScanner's) whose original came in a chunk before (the worker
    # hands the line back) and in the same chunk.
    parts = []
    for number in range(6):
        def renamed(text, number=number):
            return (text.replace("3F1A2B3C4D", f"3F1A2B3C{number:02d}")
                    .replace("5E6F7A8B9C", f"5E6F7A8B{number:02d}")
                    .replace("ann@", f"user{number}@").replace("[100]", f"[1{number}0]")
                    .replace("Mar  3", f"Mar {3 + number:2d}"))
        parts += [renamed(SUBMITTED), renamed(REQUEUED),
                  renamed(DELIVERED if number % 2 else DEFERRED_AGAIN)]
        parts += [(SCANNED + SCANNED_SENT).replace("Oct 20", f"Mar {3 + number:2d}")
                  .replace("BA166C00C0", f"BA166C00{number:02d}")
                  .replace("0921EC00A8", f"0921EC00{number:02d}")]
    path = _log(tmp_path, *parts)
    args = ["-r", name, "-f", "json", "--year", "2026", "--tz", "UTC", "--stats", path]
    one = cli(*args, "--jobs", 1)
    assert one.code == 0, one.err
    chunks_of(chunk_size, monkeypatch)
    two = cli(*args, "--jobs", 2)
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
