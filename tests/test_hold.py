"""A message Postfix puts on hold stays in the reports: still queued at the end of the log, its
recipient named by the hold line waiting (deferred) with the reason `held: <the log's text>`,
until a release and qmgr's `(queue active)` hand it to the delivery lines.

The lines are Postfix 3.7.11's, from tests/e2e (test_contain_postfix.py's
test_hold_logins_...: `maillog-sasl contain erin --hold-logins` applied to a real instance), the
host, queue IDs and times kept as logged but for the year, given on the command line.
"""

import pickle

from maillog_sasl import model

from support import written

TIMES = ("--year", "2026")

# Postfix 3.7.11, tests/e2e: check_sasl_access HOLD at the first RCPT, before the queue file
# (smtpd_delay_open_until_valid_rcpt=yes, the default): NOQUEUE, before `client=`. Two
# recipients, and one hold line naming the first (smtpd logs one HOLD per transaction).
NOQUEUE_HOLD = """\
Dec 01 18:59:59 mail postfix/submission/smtpd[23296]: connect from unknown[127.0.0.1]
Dec 01 18:59:59 mail postfix/submission/smtpd[23296]: NOQUEUE: hold: RCPT from unknown[127.0.0.1]: <erin@harness.test>: SASL login name compromised account; from=<erin@harness.test> to=<held1@ok.test> proto=ESMTP helo=<client.harness.test>
Dec 01 18:59:59 mail postfix/submission/smtpd[23296]: 7550131C03A: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=erin@harness.test
Dec 01 18:59:59 mail postfix/cleanup[23301]: 7550131C03A: message-id=<179615159948.22793.5207151434478230882@client.harness.test>
Dec 01 18:59:59 mail postfix/submission/smtpd[23296]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
"""
# Postfix 3.7.11, tests/e2e: the same, released by `contain erin LOG --hold --release`.
RELEASED = """\
Dec 01 19:00:03 mail postfix/postsuper[23344]: 7550131C03A: released from hold
Dec 01 19:00:05 mail postfix/qmgr[23333]: 7550131C03A: from=<erin@harness.test>, size=514, nrcpt=2 (queue active)
Dec 01 19:00:05 mail postfix/smtp[23345]: 7550131C03A: to=<held1@ok.test>, relay=127.0.0.1[127.0.0.1]:41053, delay=6, delays=6/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK0002)
Dec 01 19:00:05 mail postfix/smtp[23346]: 7550131C03A: to=<held2@tempfail.test>, relay=127.0.0.1[127.0.0.1]:45203, delay=6, delays=6/0.01/0/0, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 Try again later, says the harness sink (in reply to RCPT TO command))
"""
# Postfix 3.7.11, tests/e2e: the queue file open at MAIL FROM
# (smtpd_delay_open_until_valid_rcpt=no): the hold line names it, after `client=`.
QUEUE_ID_HOLD = """\
Dec 01 19:00:01 mail postfix/submission/smtpd[23315]: connect from unknown[127.0.0.1]
Dec 01 19:00:01 mail postfix/submission/smtpd[23315]: A03E331C03B: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=erin@harness.test
Dec 01 19:00:01 mail postfix/submission/smtpd[23315]: A03E331C03B: hold: RCPT from unknown[127.0.0.1]: <erin@harness.test>: SASL login name compromised account; from=<erin@harness.test> to=<held3@ok.test> proto=ESMTP helo=<client.harness.test>
Dec 01 19:00:01 mail postfix/cleanup[23320]: A03E331C03B: message-id=<179615160165.22793.4052231388879945607@client.harness.test>
Dec 01 19:00:01 mail postfix/submission/smtpd[23315]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
"""
# Postfix 3.7.11, tests/e2e: header_checks `/^Subject: hold me/ HOLD held by header check`.
HEADER_HOLD = """\
Dec 01 19:00:03 mail postfix/submission/smtpd[23334]: connect from unknown[127.0.0.1]
Dec 01 19:00:03 mail postfix/submission/smtpd[23334]: 80CC931C03C: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=bob@harness.test
Dec 01 19:00:03 mail postfix/cleanup[23339]: 80CC931C03C: hold: header Subject: hold me from unknown[127.0.0.1]; from=<bob@harness.test> to=<held4@ok.test> proto=ESMTP helo=<client.harness.test>: held by header check
Dec 01 19:00:03 mail postfix/submission/smtpd[23334]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
"""
# Postfix 3.7.11 (a private instance, raw SMTP; session 43): smtpd goes on checking a RCPT
# after an access table's HOLD (smtpd_check.c: "HOLD means deliver later. But we may still
# change our mind"): check_recipient_access `hold.test HOLD`, then the error transport refuses
# the address. The transaction stays held, for the two recipients it accepted (no line names
# them): the queue keeps it until `postsuper -H`, then qmgr counts nrcpt=2.
QUEUE_ID_HOLD_REFUSED = """\
Dec 04 23:26:37 mail postfix/smtpd[1416]: connect from unknown[127.0.0.1]
Dec 04 23:26:37 mail postfix/smtpd[1416]: AB38356C0E2: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 04 23:26:37 mail postfix/smtpd[1416]: AB38356C0E2: hold: RCPT from unknown[127.0.0.1]: <nobody@hold.test>: Recipient address triggers HOLD action; from=<alice@harness.test> to=<nobody@hold.test> proto=ESMTP helo=<client>
Dec 04 23:26:37 mail postfix/smtpd[1416]: AB38356C0E2: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nobody@hold.test>: Recipient address rejected: no route in the test harness; from=<alice@harness.test> to=<nobody@hold.test> proto=ESMTP helo=<client>
Dec 04 23:26:37 mail postfix/cleanup[1420]: AB38356C0E2: message-id=<20261204232637.AB38356C0E2@mail.harness.test>
Dec 04 23:26:37 mail postfix/smtpd[1416]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=2/3 data=1 quit=1 commands=7/8
"""
QUEUE_ID_HOLD_REFUSED_RELEASED = """\
Dec 04 23:26:40 mail postfix/postsuper[1422]: Released from hold: 1 message
Dec 04 23:26:40 mail postfix/qmgr[1414]: AB38356C0E2: from=<alice@harness.test>, size=295, nrcpt=2 (queue active)
Dec 04 23:26:40 mail postfix/local[1424]: AB38356C0E2: to=<bob@harness.test>, relay=local, delay=2.5, delays=2.5/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q43/pf/h2/mail/inbox)
Dec 04 23:26:40 mail postfix/local[1424]: AB38356C0E2: to=<carol@harness.test>, relay=local, delay=2.5, delays=2.5/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q43/pf/h2/mail/inbox)
Dec 04 23:26:40 mail postfix/qmgr[1414]: AB38356C0E2: removed
"""
# Postfix 3.7.11, as above: check_sasl_access `alice HOLD compromised account` at the first
# RCPT, before the queue file (NOQUEUE), whose recipient the local table then refuses; the
# next two are accepted, and the message held.
NOQUEUE_HOLD_REFUSED = """\
Dec 04 23:26:47 mail postfix/smtpd[1916]: connect from unknown[127.0.0.1]
Dec 04 23:26:47 mail postfix/smtpd[1916]: NOQUEUE: hold: RCPT from unknown[127.0.0.1]: <alice>: SASL login name compromised account; from=<alice@harness.test> to=<zzz@harness.test> proto=ESMTP helo=<client>
Dec 04 23:26:47 mail postfix/smtpd[1916]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <zzz@harness.test>: Recipient address rejected: User unknown in local recipient table; from=<alice@harness.test> to=<zzz@harness.test> proto=ESMTP helo=<client>
Dec 04 23:26:47 mail postfix/smtpd[1916]: 8420C56C127: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 04 23:26:47 mail postfix/cleanup[1920]: 8420C56C127: message-id=<20261204232647.8420C56C127@mail.harness.test>
Dec 04 23:26:47 mail postfix/smtpd[1916]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=2/3 data=1 quit=1 commands=7/8
"""
NOQUEUE_HOLD_REFUSED_RELEASED = """\
Dec 04 23:26:50 mail postfix/postsuper[1922]: Released from hold: 1 message
Dec 04 23:26:50 mail postfix/qmgr[1914]: 8420C56C127: from=<alice@harness.test>, size=295, nrcpt=2 (queue active)
Dec 04 23:26:50 mail postfix/local[1924]: 8420C56C127: to=<bob@harness.test>, relay=local, delay=2.5, delays=2.5/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to file: /work/q43/pf/h3/mail/inbox)
Dec 04 23:26:51 mail postfix/local[1925]: 8420C56C127: to=<carol@harness.test>, relay=local, delay=3.5, delays=2.5/0.01/0/0.96, dsn=2.0.0, status=sent (delivered to file: /work/q43/pf/h3/mail/inbox)
Dec 04 23:26:51 mail postfix/qmgr[1914]: 8420C56C127: removed
"""
ERIN_HELD = "held: <erin@harness.test>: SASL login name compromised account"



def messages(report, path, columns=("queue_id", "recipient", "status", "attempts", "reason")):
    return [tuple(row[column] for column in columns) for row in report("messages", path, *TIMES)]


def test_a_hold_before_the_queue_file_is_the_next_messages(tmp_path, report):
    path = written(tmp_path, NOQUEUE_HOLD)
    [user] = report("users", path, *TIMES)
    assert (user["user"], user["messages"], user["recipients"], user["deferred"]) == (
        "erin@harness.test", 1, 1, 1)
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["sender"], queued["pending_recipients"],
            queued["first_deferred"], queued["last_attempt"], queued["last_reason"]) == (
        "7550131C03A", "erin@harness.test", 1, None, None, ERIN_HELD)
    assert messages(report, path) == [
        ("7550131C03A", "held1@ok.test", "deferred", 0, ERIN_HELD)]


def test_a_hold_naming_the_queue_file(tmp_path, report):
    path = written(tmp_path, QUEUE_ID_HOLD)
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["last_reason"]) == ("A03E331C03B", ERIN_HELD)
    assert messages(report, path) == [
        ("A03E331C03B", "held3@ok.test", "deferred", 0, ERIN_HELD)]


def test_a_hold_by_header_checks(tmp_path, report):
    path = written(tmp_path, HEADER_HOLD)
    assert messages(report, path) == [
        ("80CC931C03C", "held4@ok.test", "deferred", 0,
         "held: header Subject: hold me: held by header check")]


def test_released_the_delivery_lines_take_over(tmp_path, report):
    path = written(tmp_path, NOQUEUE_HOLD + RELEASED)
    rows = messages(report, path)
    assert [row[1:4] for row in rows] == [("held1@ok.test", "sent", 1),
                                          ("held2@tempfail.test", "deferred", 1)]
    [queued] = report("queue", path, *TIMES)
    assert queued["last_reason"].startswith("host 127.0.0.1[127.0.0.1] said: 451 4.3.2")
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["sent"], user["deferred"]) == (2, 1, 1)


def test_released_and_not_yet_read_it_is_still_held(tmp_path, report):
    """postsuper -H moves it to the deferred queue; until qmgr reads it, the log says no more."""
    path = written(tmp_path, NOQUEUE_HOLD + RELEASED.splitlines(keepends=True)[0])
    assert messages(report, path)[0][4] == ERIN_HELD


def test_a_hold_before_the_queue_file_goes_to_one_message_only(tmp_path, report):
    second = QUEUE_ID_HOLD.splitlines(keepends=True)
    # The same session's second transaction, not held.
    session = (NOQUEUE_HOLD.splitlines(keepends=True)[:4]
               + [line.replace("23315", "23296").replace("A03E331C03B", "A03E331C03C")
                  for line in (second[1], second[3])]
               + NOQUEUE_HOLD.splitlines(keepends=True)[4:]
               + ["Dec 01 19:00:02 mail postfix/qmgr[23333]: A03E331C03C: "
                  "from=<erin@harness.test>, size=514, nrcpt=1 (queue active)\n"])
    rows = messages(report, written(tmp_path, "".join(session)))
    assert rows == [("7550131C03A", "held1@ok.test", "deferred", 0, ERIN_HELD),
                    ("A03E331C03C", "", "deferred", 0, "not yet attempted when the log ends")]


def test_a_hold_in_a_session_built_before_it(tmp_path, report):
    """A failed AUTH first: the session exists when the NOQUEUE hold comes (not only noted)."""
    lines = NOQUEUE_HOLD.splitlines(keepends=True)
    lines.insert(1, "Dec 01 18:59:59 mail postfix/submission/smtpd[23296]: warning: "
                    "unknown[127.0.0.1]: SASL PLAIN authentication failed: bad password\n")
    assert messages(report, written(tmp_path, "".join(lines)))[0][4] == ERIN_HELD


def test_a_session_keeps_its_hold_through_pickle_and_an_older_state_has_none():
    session = model.Session(1, "mail", "postfix/submission", "23296", "unknown", "127.0.0.1",
                            None, None)
    session.pending_action = ("when", "the hold")
    assert pickle.loads(pickle.dumps(session)).pending_action == ("when", "the hold")
    fields = session.__reduce__()[1]
    # A session of each older state (watch's) lacks the last fields added: they take their
    # values of model.SESSION_ADDED.
    added = list(model.SESSION_ADDED.items())
    for lacking in range(1, len(added) + 1):
        older = model._session(*fields[:-lacking])
        assert [(name, getattr(older, name)) for name, _ in added[-lacking:]] == added[-lacking:]
    assert model._session(*fields[:-3]).pending_action is None


def test_a_held_recipient_refused_leaves_the_message_held_for_the_others(tmp_path, report):
    path = written(tmp_path, QUEUE_ID_HOLD_REFUSED)
    held = "held: <nobody@hold.test>: Recipient address triggers HOLD action"
    assert messages(report, path) == [
        ("AB38356C0E2", "nobody@hold.test", "rejected", 0,
         "550 5.1.1 <nobody@hold.test>: Recipient address rejected: no route in the test "
         "harness"),
        ("AB38356C0E2", "", "deferred", 0, held)]
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["pending_recipients"], queued["last_reason"]) == (
        "AB38356C0E2", 1, held)
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["deferred"], user["rejected"]) == (2, 1, 1)


def test_a_held_recipient_refused_then_the_message_released(tmp_path, report):
    path = written(tmp_path, QUEUE_ID_HOLD_REFUSED + QUEUE_ID_HOLD_REFUSED_RELEASED)
    assert [row[1:3] for row in messages(report, path)] == [
        ("nobody@hold.test", "rejected"), ("bob@harness.test", "sent"),
        ("carol@harness.test", "sent")]
    assert report("queue", path, *TIMES) == []


def test_a_hold_before_the_queue_file_whose_recipient_is_refused(tmp_path, report):
    """The refused recipient is not the held one: the message's (unnamed) recipients are."""
    path = written(tmp_path, NOQUEUE_HOLD_REFUSED)
    assert messages(report, path) == [
        ("NOQUEUE", "zzz@harness.test", "rejected", 0,
         "550 5.1.1 <zzz@harness.test>: Recipient address rejected: User unknown in local "
         "recipient table"),
        ("8420C56C127", "", "deferred", 0, "held: <alice>: SASL login name compromised account")]
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["deferred"], user["rejected"]) == (2, 1, 1)
    released = written(tmp_path, NOQUEUE_HOLD_REFUSED + NOQUEUE_HOLD_REFUSED_RELEASED, "released")
    assert [row[1:3] for row in messages(report, released)] == [
        ("zzz@harness.test", "rejected"), ("bob@harness.test", "sent"),
        ("carol@harness.test", "sent")]
