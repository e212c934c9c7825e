"""A message an admin deletes with `postsuper -d`: gone from the queue report when postsuper
names it (`QID: removed`, a delete by queue ID, as the README's purge does), its recipients
still deferred in the others (never delivered; README, the messages report's statuses).
`postsuper -d ALL` names no message (`Deleted: N messages`): the queue report cannot know.

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 43): alice's message to
a local user (delivered) and to a host that refuses connections (deferred), then deleted.
"""

from support import written

TIMES = ("--year", "2026")

QUEUED = """\
Dec 04 23:28:27 mail postfix/smtpd[4341]: connect from unknown[127.0.0.1]
Dec 04 23:28:27 mail postfix/smtpd[4341]: D618456C4EA: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 04 23:28:27 mail postfix/cleanup[4345]: D618456C4EA: message-id=<20261204232827.D618456C4EA@mail.harness.test>
Dec 04 23:28:27 mail postfix/smtpd[4341]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
Dec 04 23:28:27 mail postfix/qmgr[4339]: D618456C4EA: from=<alice@harness.test>, size=295, nrcpt=2 (queue active)
Dec 04 23:28:27 mail postfix/local[4346]: D618456C4EA: to=<bob@harness.test>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q43/pf/d1/mail/inbox)
Dec 04 23:28:27 mail postfix/smtp[4347]: connect to 127.0.0.1[127.0.0.1]:9: Connection refused
Dec 04 23:28:27 mail postfix/smtp[4347]: D618456C4EA: to=<x@far.test>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)
"""
# `postsuper -d D618456C4EA`
DELETED_BY_ID = """\
Dec 04 23:28:31 mail postfix/postsuper[4349]: D618456C4EA: removed
Dec 04 23:28:31 mail postfix/postsuper[4349]: Deleted: 1 message
"""
# `postsuper -d ALL` (Postfix 3.7.11, the same instance's first run)
DELETED_ALL = """\
Dec 04 23:28:15 mail postfix/postsuper[3690]: Deleted: 1 message
"""



def test_a_message_deleted_by_queue_id_leaves_the_queue_report(tmp_path, report):
    path = written(tmp_path, QUEUED + DELETED_BY_ID)
    assert report("queue", path, *TIMES) == []
    assert [(row["recipient"], row["status"]) for row in report("messages", path, *TIMES)] == [
        ("bob@harness.test", "sent"), ("x@far.test", "deferred")]
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["sent"], user["deferred"]) == (2, 1, 1)


def test_postsuper_d_all_names_no_message(tmp_path, report):
    assert [row["queue_id"] for row in report("queue", written(tmp_path, QUEUED), *TIMES)] == [
        "D618456C4EA"]
    path = written(tmp_path, QUEUED + DELETED_ALL.replace("23:28:15", "23:28:31"))
    assert [row["queue_id"] for row in report("queue", path, *TIMES)] == ["D618456C4EA"]
