"""Correlation scenarios: whole logs in tests/scenarios/ (and rotated sets built here), checked
through the reports an administrator reads."""

import datetime as dt
import gzip
import os

import pytest

from support import SCENARIOS, by


def scenario(name):
    return SCENARIOS / name


def test_one_smtpd_pid_serves_several_sessions_and_a_lost_disconnect_is_not_glued(report):
    log = scenario("pid_reuse.log")
    users = by(report("users", "--year", "2026", log), "user")
    assert users["alice@example.test"]["sessions"] == 1
    assert users["alice@example.test"]["sent"] == 1
    assert users["bob@example.test"]["bounced"] == 1
    assert users["bob@example.test"]["ips"] == 1
    sessions = report("sessions", "--year", "2026", "--all", log)
    assert [(s["client_ip"], s["sasl_username"], s["auth"], s["complete"]) for s in sessions] == [
        ("192.0.2.10", "alice@example.test", "1", True),
        ("198.51.100.20", "bob@example.test", "", False),
        ("203.0.113.30", None, "0/2", True),
    ]
    assert sessions[0]["tls"] == "TLSv1.3 with TLS_AES_256_GCM_SHA384"
    failures = report("failures", "--year", "2026", log)
    assert [(f["client_ip"], f["attempts"]) for f in failures] == [("203.0.113.30", 2)]


def test_queue_id_reuse_starts_a_new_message(report):
    rows = report("messages", "--year", "2026", scenario("qid_reuse.log"))
    assert [(r["queue_id"], r["sasl_username"], r["recipient"], r["status"]) for r in rows] == [
        ("C0DE000001", "carol@example.test", "a@remote.example", "sent"),
        ("C0DE000001", "dan@example.test", "b@remote.example", "deferred"),
        ("C0DE000001", "eve@example.test", "c@remote.example", "sent"),
    ]


def test_lost_message_keeps_its_deferral_when_its_id_is_reused(cli):
    result = cli("--stats", "--year", "2026", "--format", "json", scenario("qid_reuse.log"))
    assert "messages lost (ID reuse): 1" in result.err


def test_two_hosts_share_pids_and_queue_ids(report):
    users = by(report("users", scenario("two_hosts.log")), "user")
    assert users["dave@example.test"]["hosts"] == ["mx1"]
    assert (users["dave@example.test"]["sent"], users["dave@example.test"]["deferred"]) == (1, 0)
    erin = users["erin@example.test"]
    assert (erin["hosts"], erin["sent"], erin["deferred"], erin["recipients"]) == (["mx2"], 1, 1, 2)
    assert erin["first_seen"] == "2026-11-04T12:00:00+01:00", "ISO timestamps keep their zone"
    sessions = by(report("sessions", scenario("two_hosts.log")), "host")
    assert sessions["mx2"]["recipients"] == 2 and sessions["mx1"]["recipients"] == 1


def test_failed_auth_with_and_without_username_and_port(report):
    failures = by(report("failures", "--year", "2026", scenario("auth_failures.log")), "client_ip")
    assert set(failures) == {"203.0.113.50", "203.0.113.51", "192.0.2.52"}
    guessing = failures["203.0.113.50"]
    assert guessing["attempts"] == 3
    assert guessing["usernames"] == ["admin", "info@example.test"]
    assert guessing["mechanisms"] == ["login", "plain"]
    assert guessing["later_success"] is False
    assert failures["203.0.113.51"]["attempts"] == 1, "AUTH before STARTTLS: only the counter shows it"
    assert failures["203.0.113.51"]["mechanisms"] == []
    assert failures["192.0.2.52"]["later_success"] is True


def test_auth_only_sessions_are_reported_as_unknown_user(report):
    users = by(report("users", "--year", "2026", scenario("auth_failures.log")), "user")
    unknown = users["(unknown user)"]
    assert (unknown["sessions"], unknown["messages"], unknown["rejected"], unknown["ips"]) == (2, 0, 1, 2)
    assert users["frank@example.test"]["sessions"] == 1
    assert list(users)[-1] == "(unknown user)"
    sessions = report("sessions", "--year", "2026", scenario("auth_failures.log"))
    assert [s["sasl_username"] for s in sessions] == [
        "frank@example.test", "(unknown user)", "(unknown user)"]


def test_content_filter_reinjection_carries_the_user_to_the_final_delivery(report):
    log = scenario("filter_and_rejects.log")
    gina = by(report("users", "--year", "2026", log), "user")["gina@example.test"]
    assert (gina["messages"], gina["recipients"], gina["sent"], gina["bounced"], gina["rejected"]) == (1, 4, 1, 1, 2)
    rows = report("messages", "--year", "2026", log)
    # Rows come as messages leave the queue; the session's NOQUEUE rows at its disconnect.
    assert [(r["queue_id"], r["recipient"], r["status"], r["client_ip"]) for r in rows] == [
        ("D1CE000001", "ghost2@example.test", "rejected", "2001:db8::7"),
        ("NOQUEUE", "ghost@example.test", "rejected", "2001:db8::7"),
        ("E2DF000001", "h@remote.example", "sent", "2001:db8::7"),
        ("E2DF000001", "i@remote.example", "bounced", "2001:db8::7"),
    ]
    assert all(r["sasl_username"] == "gina@example.test" for r in rows)
    assert rows[2]["sender"] == "gina@example.test"


def test_ipv6_client_and_sasl_sender(report):
    log = scenario("filter_and_rejects.log")
    rows = report("ips", "--year", "2026", log)
    assert [(r["user"], r["client_ip"], r["sessions"], r["messages"]) for r in rows] == [
        ("gina@example.test", "2001:db8::7", 1, 1)]
    assert report("users", "--year", "2026", "--ip", "2001:db8::/32", log)[0]["user"] == "gina@example.test"
    assert report("users", "--year", "2026", "--ip", "2001:db9::/32", log) == []



def test_milter_and_header_check_rejects_refuse_the_whole_message_and_finish_it(report, cli):
    """A cleanup `milter-reject: END-OF-MESSAGE` and a header_checks `reject: header ...` refuse
    the authenticated message as a whole: it is finished there (never reported as still queued),
    counted as one rejected recipient, the one the line names, its sender the line's, its reason
    what matched and the text (the envelope is in its columns), and a later message of the same
    session is followed as usual."""
    log = scenario("whole_message_rejects.log")
    rows = report("messages", "--year", "2026", log)
    assert [(r["queue_id"], r["sasl_username"], r["recipient"], r["status"], r["reason"], r["last_attempt"])
            for r in rows] == [
        ("A5A5000001", "kim@example.test", "lead@remote.example", "rejected",
         "5.7.1 Blocked by SpamAssassin", "2026-11-05T09:00:02+00:00"),
        ("A5A5000002", "kim@example.test", "boss@remote.example", "sent", "250 2.0.0 Ok",
         "2026-11-05T09:00:05+00:00"),
        ("A5A5000003", "leo@example.test", "winner@remote.example", "rejected",
         "header Subject: You have won a prize: 5.7.1 message content rejected",
         "2026-11-05T09:10:02+00:00"),
    ]
    assert [(r["sender"], r["dsn"]) for r in rows] == [
        ("kim@example.test", "5.7.1"), ("kim@example.test", "2.0.0"), ("leo@example.test", "5.7.1")]
    assert rows[0]["message_id"] == "k1@kim-pc"
    users = by(report("users", "--year", "2026", log), "user")
    assert [(u, users[u]["messages"], users[u]["recipients"], users[u]["sent"], users[u]["rejected"],
             users[u]["deferred"]) for u in users] == [
        ("kim@example.test", 2, 2, 1, 1, 0), ("leo@example.test", 1, 1, 0, 1, 0)]
    assert report("queue", "--year", "2026", log) == []
    stats = cli("--stats", "--year", "2026", "--format", "json", log)
    assert "messages still queued:    0\n" in stats.err


WHOLE_REJECT_AFTER_RCPT_REJECT = """\
Nov  5 09:20:00 mail postfix/submission/smtpd[1102]: connect from unknown[192.0.2.83]
Nov  5 09:20:01 mail postfix/submission/smtpd[1102]: A5A5000004: client=unknown[192.0.2.83], sasl_method=PLAIN, sasl_username=kim@example.test
Nov  5 09:20:01 mail postfix/submission/smtpd[1102]: A5A5000004: reject: RCPT from unknown[192.0.2.83]: 550 5.1.1 <ghost@example.test>: Recipient address rejected: User unknown in virtual mailbox table; from=<kim@example.test> to=<ghost@example.test> proto=ESMTP helo=<kim-pc>
Nov  5 09:20:02 mail postfix/cleanup[1112]: A5A5000004: milter-reject: END-OF-MESSAGE from unknown[192.0.2.83]: 5.7.1 Blocked by SpamAssassin; from=<kim@example.test> to=<lead@remote.example> proto=ESMTP helo=<kim-pc>
Nov  5 09:20:03 mail postfix/submission/smtpd[1102]: disconnect from unknown[192.0.2.83] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1/2 data=0/1 quit=1 commands=6/8
"""


def test_whole_message_reject_after_an_rcpt_reject_still_counts_the_refused_message(report, tmp_path):
    """One recipient refused at RCPT, the accepted one refused with the whole message by a
    milter: both refusals are counted, the milter's with its own reason."""
    log = tmp_path / "maillog"
    log.write_text(WHOLE_REJECT_AFTER_RCPT_REJECT, encoding="utf-8")
    rows = report("messages", "--year", "2026", log)
    assert [(r["recipient"], r["status"], r["reason"][:28]) for r in rows] == [
        ("ghost@example.test", "rejected", "550 5.1.1 <ghost@example.tes"),
        ("lead@remote.example", "rejected", "5.7.1 Blocked by SpamAssassi")]
    kim = by(report("users", "--year", "2026", log), "user")["kim@example.test"]
    assert (kim["recipients"], kim["rejected"]) == (2, 2)


def test_reinjection_with_orig_queue_id_inherits_the_user(report):
    """A content filter (amavis on 10024/10025 with XFORWARD) re-injects the user's message:
    smtpd logs `client=localhost[127.0.0.1], orig_queue_id=ORIG, orig_client=...`. The new
    message is mona's (her client IP, the original's queue time), the hop to the filter is not
    counted, and what is still deferred shows in the queue report as `reinjected`."""
    log = scenario("reinjection_orig_queue_id.log")
    rows = report("messages", "--year", "2026", log)
    assert [(r["queue_id"], r["sasl_username"], r["client_ip"], r["time"], r["recipient"], r["status"],
             r["attempts"]) for r in rows] == [
        ("B6B6000002", "mona@example.test", "198.51.100.90", "2026-11-05T10:00:01+00:00",
         "n@remote.example", "sent", 1),
        ("B6B6000002", "mona@example.test", "198.51.100.90", "2026-11-05T10:00:01+00:00",
         "o@slow.example", "deferred", 1),
    ]
    mona = by(report("users", "--year", "2026", log), "user")["mona@example.test"]
    assert (mona["messages"], mona["recipients"], mona["sent"], mona["deferred"]) == (1, 2, 1, 1)
    assert report("queue", "--year", "2026", log) == [{
        "host": "mail", "queue_id": "B6B6000002", "kind": "reinjected", "user": "mona@example.test",
        "sender": "mona@example.test", "pending_recipients": 1,
        "first_deferred": "2026-11-05T10:00:35+00:00", "last_attempt": "2026-11-05T10:00:35+00:00",
        "last_reason": "connect to mx.slow.example[203.0.113.80]:25: Connection timed out",
        "parent_queue_id": "B6B6000001", "queued": "2026-11-05T10:00:01+00:00",
        "instance": "postfix"}]


# The filter runs on another machine of the LAN: its delivery line names no loopback relay, so
# only orig_queue_id on the re-injected message's client= line ties it to the original.
FILTER_OFF_LOOPBACK = """\
Nov  5 10:00:00 mail postfix/submission/smtpd[1200]: connect from unknown[198.51.100.90]
Nov  5 10:00:01 mail postfix/submission/smtpd[1200]: B6B6000001: client=unknown[198.51.100.90], sasl_method=LOGIN, sasl_username=mona@example.test
Nov  5 10:00:02 mail postfix/qmgr[99]: B6B6000001: from=<mona@example.test>, size=2100, nrcpt=1 (queue active)
Nov  5 10:00:03 mail postfix/submission/smtpd[1200]: disconnect from unknown[198.51.100.90] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=7
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: connect from filter.example.test[10.0.0.5]
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: B6B6000002: client=filter.example.test[10.0.0.5], orig_queue_id=B6B6000001, orig_client=unknown[198.51.100.90]
Nov  5 10:00:04 mail postfix/qmgr[99]: B6B6000002: from=<mona@example.test>, size=2600, nrcpt=1 (queue active)
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: disconnect from filter.example.test[10.0.0.5] ehlo=1 xforward=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Nov  5 10:00:04 mail postfix/amavis/smtp[1230]: B6B6000001: to=<n@remote.example>, relay=filter.example.test[10.0.0.5]:10024, delay=3, delays=2/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[10.0.0.1]:10025): 250 2.0.0 Ok: queued as B6B6000002)
Nov  5 10:00:04 mail postfix/qmgr[99]: B6B6000001: removed
Nov  5 10:00:05 mail postfix/smtp[1240]: B6B6000002: to=<n@remote.example>, relay=mx.remote.example[198.51.100.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.1, status=bounced (host mx.remote.example[198.51.100.1] said: 550 5.7.1 spam (in reply to end of DATA command))
Nov  5 10:00:05 mail postfix/qmgr[99]: B6B6000002: removed
"""

# The re-injected copy is delivered locally and removed before the filter's reply to the
# original is logged: the "queued as" line then finds no open message to hand the recipient to.
CHILD_GONE_BEFORE_QUEUED_AS = """\
Nov  5 10:00:00 mail postfix/submission/smtpd[1200]: connect from unknown[198.51.100.90]
Nov  5 10:00:01 mail postfix/submission/smtpd[1200]: B6B6000001: client=unknown[198.51.100.90], sasl_method=LOGIN, sasl_username=mona@example.test
Nov  5 10:00:02 mail postfix/qmgr[99]: B6B6000001: from=<mona@example.test>, size=2100, nrcpt=1 (queue active)
Nov  5 10:00:03 mail postfix/submission/smtpd[1200]: disconnect from unknown[198.51.100.90] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=7
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: connect from localhost[127.0.0.1]
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: B6B6000002: client=localhost[127.0.0.1], orig_queue_id=B6B6000001, orig_client=unknown[198.51.100.90]
Nov  5 10:00:04 mail postfix/qmgr[99]: B6B6000002: from=<mona@example.test>, size=2600, nrcpt=1 (queue active)
Nov  5 10:00:04 mail postfix/virtual[1250]: B6B6000002: to=<colleague@example.test>, relay=virtual, delay=0.01, delays=0/0/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)
Nov  5 10:00:04 mail postfix/qmgr[99]: B6B6000002: removed
Nov  5 10:00:04 mail postfix/10025/smtpd[1220]: disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Nov  5 10:00:04 mail postfix/amavis/smtp[1230]: B6B6000001: to=<colleague@example.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=3, delays=2/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as B6B6000002)
Nov  5 10:00:04 mail postfix/qmgr[99]: B6B6000001: removed
"""


def test_orig_queue_id_alone_ties_a_reinjection_to_its_user(report, tmp_path):
    """With the filter off loopback the delivery line cannot link the copy; orig_queue_id on
    its client= line does: the final bounce is mona's, from her client IP."""
    log = tmp_path / "maillog"
    log.write_text(FILTER_OFF_LOOPBACK, encoding="utf-8")
    child = by(report("messages", "--year", "2026", log), "queue_id")["B6B6000002"]
    assert (child["sasl_username"], child["client_ip"], child["recipient"], child["status"], child["dsn"]) == (
        "mona@example.test", "198.51.100.90", "n@remote.example", "bounced", "5.7.1")


@pytest.mark.parametrize("log_text", [FILTER_OFF_LOOPBACK, CHILD_GONE_BEFORE_QUEUED_AS],
                         ids=["filter-off-loopback", "copy-removed-before-queued-as"])
def test_a_recipient_reinjected_via_orig_queue_id_is_counted_once(report, tmp_path, log_text):
    """One recipient, one filter hop: mona's totals count one recipient, its final outcome."""
    log = tmp_path / "maillog"
    log.write_text(log_text, encoding="utf-8")
    mona = by(report("users", "--year", "2026", log), "user")["mona@example.test"]
    assert (mona["messages"], mona["recipients"]) == (1, 1)
    assert [r["queue_id"] for r in report("messages", "--year", "2026", log)] == ["B6B6000002"]


def test_bounce_notice_reusing_an_open_queue_id_closes_the_old_message_as_lost(report, cli):
    """nina's message C7C7000001 was deferred and its later lines (delivery, removed) are missing
    from the log; omar's bounce notice then gets queue ID C7C7000001. nina's message is closed
    as lost with the outcome it had (deferred), and the notice is omar's, about his D8D8000001,
    not counted as his mail."""
    log = scenario("notice_reuses_live_queue_id.log")
    rows = report("messages", "--year", "2026", log)
    assert [(r["queue_id"], r["sasl_username"], r["recipient"], r["status"], r["attempts"]) for r in rows] == [
        ("C7C7000001", "nina@example.test", "p@slow.example", "deferred", 1),
        ("D8D8000001", "omar@example.test", "nobody@remote.example", "bounced", 1),
    ]
    users = by(report("users", "--year", "2026", log), "user")
    assert (users["nina@example.test"]["messages"], users["nina@example.test"]["deferred"]) == (1, 1)
    omar = users["omar@example.test"]
    assert (omar["messages"], omar["recipients"], omar["bounced"], omar["deferred"]) == (1, 1, 1, 0)
    assert report("queue", "--year", "2026", log) == [{
        "host": "mail", "queue_id": "C7C7000001", "kind": "notice", "user": "omar@example.test",
        "sender": "", "pending_recipients": 1, "first_deferred": "2026-11-05T12:00:05+00:00",
        "last_attempt": "2026-11-05T12:00:05+00:00",
        "last_reason": "host mail.example.test[private/dovecot-lmtp] said: 452 4.2.2 <omar@example.test> "
                       "Quota exceeded (mailbox for user is full) (in reply to end of DATA command)",
        "parent_queue_id": "D8D8000001", "queued": "2026-11-05T12:00:04+00:00",
        "instance": "postfix"}]
    stats = cli("--stats", "--year", "2026", "--format", "json", log).err
    assert "messages lost (ID reuse): 1\n" in stats
    assert "messages still queued:    1\n" in stats


def test_recipients_qmgr_counted_but_never_attempted_are_deferred(report):
    """qmgr's `nrcpt=N (queue active)` is seen, fewer than N delivery lines before the log ends:
    each missing recipient is one deferred row, "not yet attempted when the log ends", and
    counts in the user's deferred and the queue report's pending recipients."""
    log = scenario("never_attempted.log")
    rows = report("messages", "--year", "2026", log)
    assert [(r["queue_id"], r["recipient"], r["status"], r["attempts"], r["reason"], r["last_attempt"])
            for r in rows] == [
        ("E9E9000001", "q1@remote.example", "sent", 1, "250 2.0.0 Ok", "2026-11-05T13:00:03+00:00"),
        ("E9E9000001", "q2@slow.example", "deferred", 1,
         "connect to mx.slow.example[203.0.113.80]:25: Connection timed out", "2026-11-05T13:00:33+00:00"),
        ("E9E9000001", "", "deferred", 0, "not yet attempted when the log ends", None),
        ("E9E9000002", "", "deferred", 0, "not yet attempted when the log ends", None),
        ("E9E9000002", "", "deferred", 0, "not yet attempted when the log ends", None),
    ]
    pia = by(report("users", "--year", "2026", log), "user")["pia@example.test"]
    assert (pia["messages"], pia["recipients"], pia["sent"], pia["deferred"]) == (2, 5, 1, 4)
    queue = report("queue", "--year", "2026", log)
    assert [(q["queue_id"], q["pending_recipients"], q["first_deferred"], q["last_attempt"], q["last_reason"])
            for q in queue] == [
        ("E9E9000001", 2, "2026-11-05T13:00:33+00:00", "2026-11-05T13:00:33+00:00",
         "connect to mx.slow.example[203.0.113.80]:25: Connection timed out"),
        ("E9E9000002", 2, None, None, "not yet attempted when the log ends"),
    ]


def _write_gzip(path, text, mtime):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def _write(path, text, mtime):
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


DAY1 = """\
Nov  1 09:00:00 mail postfix/submission/smtpd[100]: connect from unknown[198.51.100.99]
Nov  1 09:00:01 mail postfix/submission/smtpd[100]: 9A9A000001: client=unknown[198.51.100.99], sasl_method=PLAIN, sasl_username=hank@example.test
Nov  1 09:00:02 mail postfix/qmgr[99]: 9A9A000001: from=<hank@example.test>, size=800, nrcpt=2 (queue active)
Nov  1 09:00:03 mail postfix/smtp[700]: 9A9A000001: to=<a@slow.example>, relay=none, delay=31, delays=1/0/30/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[203.0.113.80]:25: Connection timed out)
Nov  1 09:00:03 mail postfix/smtp[701]: 9A9A000001: to=<b@fast.example>, relay=mx.fast.example[198.51.100.2]:25, delay=1, delays=1/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Nov  1 09:00:04 mail postfix/submission/smtpd[100]: disconnect from unknown[198.51.100.99] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
"""
DAY2 = """\
Nov  2 09:10:00 mail postfix/qmgr[99]: 9A9A000001: from=<hank@example.test>, size=800, nrcpt=2 (queue active)
Nov  2 09:10:30 mail postfix/smtp[702]: 9A9A000001: to=<a@slow.example>, relay=none, delay=86430, delays=86400/0/30/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[203.0.113.80]:25: Connection timed out)
"""
DAY6 = """\
Nov  6 09:10:00 mail postfix/qmgr[99]: 9A9A000001: from=<hank@example.test>, size=800, nrcpt=2 (queue active)
Nov  6 09:10:30 mail postfix/smtp[703]: 9A9A000001: to=<a@slow.example>, relay=none, delay=432030, delays=432000/0/30/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[203.0.113.80]:25: Connection timed out)
Nov  6 09:10:30 mail postfix/qmgr[99]: 9A9A000001: from=<hank@example.test>, status=expired, returned to sender
Nov  6 09:10:30 mail postfix/bounce[800]: 9A9A000001: sender non-delivery notification: 9B9B000002
Nov  6 09:10:30 mail postfix/qmgr[99]: 9A9A000001: removed
Nov  6 09:10:31 mail postfix/qmgr[99]: 9B9B000002: from=<>, size=2800, nrcpt=1 (queue active)
Nov  6 09:10:31 mail postfix/virtual[900]: 9B9B000002: to=<hank@example.test>, relay=virtual, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)
Nov  6 09:10:31 mail postfix/qmgr[99]: 9B9B000002: removed
"""


def _rotated_set(tmp_path):
    utc = dt.timezone.utc
    _write_gzip(tmp_path / "maillog.2.gz", DAY1, dt.datetime(2026, 11, 1, 23, 59, tzinfo=utc))
    _write_gzip(tmp_path / "maillog.1.gz", DAY2, dt.datetime(2026, 11, 2, 23, 59, tzinfo=utc))
    _write(tmp_path / "maillog", DAY6, dt.datetime(2026, 11, 6, 10, 0, tzinfo=utc))
    # A shell glob order: maillog, maillog.1.gz, maillog.2.gz -- newest first.
    return [tmp_path / "maillog", tmp_path / "maillog.1.gz", tmp_path / "maillog.2.gz"]


def test_message_deferred_across_rotated_gz_files_then_expired(report, tmp_path):
    paths = _rotated_set(tmp_path)
    hank = by(report("users", *paths), "user")["hank@example.test"]
    assert (hank["messages"], hank["recipients"], hank["sent"], hank["expired"], hank["deferred"]) == (1, 2, 1, 1, 0)
    rows = by(report("messages", *paths), "recipient")
    assert rows["a@slow.example"]["status"] == "expired"
    assert rows["a@slow.example"]["attempts"] == 3
    assert rows["a@slow.example"]["time"] == "2026-11-01T09:00:01+00:00"
    assert len(rows) == 2, "the non-delivery notice is not hank's mail"


def test_since_keeps_the_user_of_a_session_before_it(report, tmp_path):
    paths = _rotated_set(tmp_path)
    rows = report("messages", "--since", "2026-11-05", *paths)
    assert {(r["sasl_username"], r["recipient"], r["status"]) for r in rows} == {
        ("hank@example.test", "a@slow.example", "expired"),
        ("hank@example.test", "b@fast.example", "sent")}
    assert report("sessions", "--since", "2026-11-05", *paths) == []


def test_until_a_date_includes_the_whole_day(report):
    log = scenario("qid_reuse.log")
    assert len(report("users", "--year", "2026", "--until", "2026-11-04", log)) == 3
    assert len(report("users", "--year", "2026", "--until", "2026-11-03", log)) == 0
    late = report("users", "--year", "2026", "--since", "2026-11-04 14:00", "--until", "2026-11-04 16:00", log)
    assert [row["user"] for row in late] == ["dan@example.test"]


def test_user_filter_is_a_case_insensitive_glob_and_repeatable(report):
    log = scenario("qid_reuse.log")
    assert [r["user"] for r in report("users", "--year", "2026", "--user", "CAROL@*", log)] == ["carol@example.test"]
    both = report("users", "--year", "2026", "-u", "carol@example.test", "-u", "e*", log)
    assert sorted(r["user"] for r in both) == ["carol@example.test", "eve@example.test"]
    assert report("users", "--year", "2026", "--user", "nobody", log) == []


YEAR_END = """\
Dec 31 23:59:58 mail postfix/smtpd[300]: connect from unknown[192.0.2.40]
Dec 31 23:59:59 mail postfix/smtpd[300]: 7E7E000001: client=unknown[192.0.2.40], sasl_method=PLAIN, sasl_username=ivan@example.test
Jan  1 00:00:01 mail postfix/qmgr[99]: 7E7E000001: from=<ivan@example.test>, size=100, nrcpt=1 (queue active)
Jan  1 00:00:02 mail postfix/smtp[700]: 7E7E000001: to=<x@remote.example>, relay=none, delay=3, delays=1/0/2/0, dsn=4.4.1, status=deferred (connect to mx.remote.example[198.51.100.1]:25: Connection refused)
Jan  1 00:00:03 mail postfix/smtpd[300]: disconnect from unknown[192.0.2.40] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""
NEW_YEAR = """\
Jan  2 10:00:00 mail postfix/qmgr[99]: 7E7E000001: from=<ivan@example.test>, size=100, nrcpt=1 (queue active)
Jan  2 10:00:01 mail postfix/smtp[701]: 7E7E000001: to=<x@remote.example>, relay=mx.remote.example[198.51.100.1]:25, delay=122400, delays=122399/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Jan  2 10:00:01 mail postfix/qmgr[99]: 7E7E000001: removed
"""


def test_year_rollover_inside_a_file(report, tmp_path):
    log = tmp_path / "maillog"
    _write(log, YEAR_END, dt.datetime(2027, 1, 1, 0, 0, 5, tzinfo=dt.timezone.utc))
    sessions = report("sessions", log)
    assert (sessions[0]["start"], sessions[0]["end"]) == ("2026-12-31T23:59:58+00:00", "2027-01-01T00:00:03+00:00")


def test_year_rollover_between_files_from_mtimes_and_from_year(report, tmp_path):
    old, new = tmp_path / "maillog.1", tmp_path / "maillog"
    _write(old, YEAR_END, dt.datetime(2027, 1, 1, 0, 0, 5, tzinfo=dt.timezone.utc))
    _write(new, NEW_YEAR, dt.datetime(2027, 1, 2, 10, 0, 1, tzinfo=dt.timezone.utc))
    for extra in ([], ["--year", "2026"]):
        rows = report("messages", *extra, new, old)
        assert [(r["time"], r["status"], r["attempts"], r["last_attempt"]) for r in rows] == [
            ("2026-12-31T23:59:59+00:00", "sent", 2, "2027-01-02T10:00:01+00:00")], extra


def test_a_december_straggler_after_new_year_stays_in_the_old_year(report, cli):
    """A yearless log crosses New Year, and one delivery line stamped Dec 31 23:59:59 is written
    after a Jan 1 00:00:00 line (two processes racing the second): it stays in 2026, and the
    lines after it stay in 2027 (neither a year ahead nor a year behind)."""
    log = scenario("new_year_straggler.log")
    rows = report("messages", "--year", "2026", log)
    assert [(r["recipient"], r["time"], r["last_attempt"]) for r in rows] == [
        ("k@remote.example", "2026-12-31T23:58:41+00:00", "2027-01-01T00:00:00+00:00"),
        ("l@remote.example", "2026-12-31T23:58:41+00:00", "2026-12-31T23:59:59+00:00"),
    ]
    summary = cli("--year", "2026", "--tz", "UTC", log).out.splitlines()[0]
    assert summary.startswith("2026-12-31 23:58:40 .. 2027-01-01 00:00:01 (UTC); 8 lines read;")


def test_tz_applies_to_yearless_stamps(report):
    rows = report("sessions", "--year", "2026", "--tz", "Asia/Tokyo", scenario("qid_reuse.log"))
    assert rows[0]["start"] == "2026-11-04T11:00:00+09:00"


def test_stats_show_a_rotated_set_read_oldest_first(cli, tmp_path):
    paths = _rotated_set(tmp_path)
    result = cli("--stats", "-f", "json", *paths)
    expected = ", ".join(str(tmp_path / name) for name in ("maillog.2.gz", "maillog.1.gz", "maillog"))
    assert f"files, in the order read: {expected}\n" in result.err
