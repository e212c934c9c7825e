"""A login's mail that local(8) forwards (an alias, a .forward naming other addresses): Postfix
queues a new message for them through cleanup, with no client= line, and logs the recipient
`status=sent (forwarded as NEWQID)`. The login's mail goes on there (kind `forwarded`): the
alias's recipient is counted where it went, and a copy deferred by the next hop stays in the
queue report. Before, the alias was "sent" and the copy's lines untracked.

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 43).
"""

import datetime as dt
import random

import pytest
from test_jobs import read_canonical

from maillog_sasl import events as ev
from maillog_sasl import parallel

from support import written

TIMES = ("--year", "2026")

# alias_maps: `fwd x@far.test, bob`; far.test routed to a port that refuses; no user bob.
# expected: carol refused at RCPT; bob (from fwd) bounced by local; fwd forwarded as
# 3124B59062E, whose x@far.test is deferred twice, still queued. qmgr read the copy before
# local logged its line: that first `(queue active)` names a message not yet known.
FORWARDED = """\
Dec 04 23:47:36 mail postfix/smtpd[23251]: connect from unknown[127.0.0.1]
Dec 04 23:47:36 mail postfix/smtpd[23251]: 2DE4159062C: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 04 23:47:36 mail postfix/smtpd[23251]: 2DE4159062C: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <carol@harness.test>: Recipient address rejected: User unknown in local recipient table; from=<alice@harness.test> to=<carol@harness.test> proto=ESMTP helo=<client>
Dec 04 23:47:36 mail postfix/cleanup[23257]: 2DE4159062C: message-id=<20261204234736.2DE4159062C@mail.harness.test>
Dec 04 23:47:36 mail postfix/qmgr[23249]: 2DE4159062C: from=<alice@harness.test>, size=318, nrcpt=1 (queue active)
Dec 04 23:47:36 mail postfix/smtpd[23251]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1/2 data=1 quit=1 commands=6/7
Dec 04 23:47:36 mail postfix/local[23258]: 2DE4159062C: to=<bob@harness.test>, orig_to=<fwd@harness.test>, relay=local, delay=0.04, delays=0.02/0.01/0/0.01, dsn=5.1.1, status=bounced (unknown user: "bob")
Dec 04 23:47:36 mail postfix/cleanup[23257]: 3124B59062E: message-id=<20261204234736.2DE4159062C@mail.harness.test>
Dec 04 23:47:36 mail postfix/qmgr[23249]: 3124B59062E: from=<alice@harness.test>, size=448, nrcpt=1 (queue active)
Dec 04 23:47:36 mail postfix/local[23258]: 2DE4159062C: to=<fwd@harness.test>, relay=local, delay=0.04, delays=0.02/0.01/0/0.01, dsn=2.0.0, status=sent (forwarded as 3124B59062E)
Dec 04 23:47:36 mail postfix/cleanup[23257]: 3450B590631: message-id=<20261204234736.3450B590631@mail.harness.test>
Dec 04 23:47:36 mail postfix/qmgr[23249]: 3450B590631: from=<>, size=2120, nrcpt=1 (queue active)
Dec 04 23:47:36 mail postfix/bounce[23259]: 2DE4159062C: sender non-delivery notification: 3450B590631
Dec 04 23:47:36 mail postfix/qmgr[23249]: 2DE4159062C: removed
Dec 04 23:47:36 mail postfix/local[23258]: 3450B590631: to=<alice@harness.test>, relay=local, delay=0.01, delays=0/0/0/0, dsn=5.1.1, status=bounced (unknown user: "alice")
Dec 04 23:47:36 mail postfix/qmgr[23249]: 3450B590631: removed
Dec 04 23:47:36 mail postfix/smtp[23260]: connect to 127.0.0.1[127.0.0.1]:9: Connection refused
Dec 04 23:47:36 mail postfix/smtp[23260]: 3124B59062E: to=<x@far.test>, orig_to=<fwd@harness.test>, relay=none, delay=0.03, delays=0.01/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)
Dec 04 23:47:40 mail postfix/qmgr[23249]: 3124B59062E: from=<alice@harness.test>, size=448, nrcpt=1 (queue active)
Dec 04 23:47:40 mail postfix/smtp[23260]: connect to 127.0.0.1[127.0.0.1]:9: Connection refused
Dec 04 23:47:40 mail postfix/smtp[23260]: 3124B59062E: to=<x@far.test>, orig_to=<fwd@harness.test>, relay=none, delay=4, delays=4/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)
"""

# Postfix 3.7.11 (a review's): alias `fwd x@far.test, bob` and `alice alice@far.test`: the
# bounce notice to alice is itself forwarded (8650A598053 forwarded as 8E5CF598059).
# expected: alice's mail is bob (bounced) and x@far.test (deferred, the copy 81708598050); the
# notice's copy is a notice of 791A059804E, in the queue report, not alice's mail
NOTICE_FORWARDED = """\
Dec 05 00:03:40 mail postfix/smtpd[5786]: connect from unknown[127.0.0.1]
Dec 05 00:03:40 mail postfix/smtpd[5786]: 791A059804E: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 05 00:03:40 mail postfix/cleanup[5790]: 791A059804E: message-id=<20261205000340.791A059804E@mail.harness.test>
Dec 05 00:03:40 mail postfix/qmgr[5784]: 791A059804E: from=<alice@harness.test>, size=318, nrcpt=1 (queue active)
Dec 05 00:03:40 mail postfix/smtpd[5786]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Dec 05 00:03:40 mail postfix/local[5791]: 791A059804E: to=<bob@harness.test>, orig_to=<fwd@harness.test>, relay=local, delay=0.07, delays=0.02/0.03/0/0.02, dsn=5.1.1, status=bounced (unknown user: "bob")
Dec 05 00:03:40 mail postfix/cleanup[5790]: 81708598050: message-id=<20261205000340.791A059804E@mail.harness.test>
Dec 05 00:03:40 mail postfix/qmgr[5784]: 81708598050: from=<alice@harness.test>, size=448, nrcpt=1 (queue active)
Dec 05 00:03:40 mail postfix/local[5791]: 791A059804E: to=<fwd@harness.test>, relay=local, delay=0.07, delays=0.02/0.03/0/0.02, dsn=2.0.0, status=sent (forwarded as 81708598050)
Dec 05 00:03:40 mail postfix/cleanup[5790]: 8650A598053: message-id=<20261205000340.8650A598053@mail.harness.test>
Dec 05 00:03:40 mail postfix/smtp[5793]: connect to 127.0.0.1[127.0.0.1]:9: Connection refused
Dec 05 00:03:40 mail postfix/smtp[5793]: 81708598050: to=<x@far.test>, orig_to=<fwd@harness.test>, relay=none, delay=0.03, delays=0.02/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)
Dec 05 00:03:40 mail postfix/bounce[5792]: 791A059804E: sender non-delivery notification: 8650A598053
Dec 05 00:03:40 mail postfix/qmgr[5784]: 8650A598053: from=<>, size=2120, nrcpt=1 (queue active)
Dec 05 00:03:40 mail postfix/cleanup[5790]: 8E5CF598059: message-id=<20261205000340.8650A598053@mail.harness.test>
Dec 05 00:03:40 mail postfix/qmgr[5784]: 791A059804E: removed
Dec 05 00:03:40 mail postfix/qmgr[5784]: 8E5CF598059: from=<>, size=2252, nrcpt=1 (queue active)
Dec 05 00:03:40 mail postfix/local[5791]: 8650A598053: to=<alice@harness.test>, relay=local, delay=0.04, delays=0.03/0/0/0.01, dsn=2.0.0, status=sent (forwarded as 8E5CF598059)
Dec 05 00:03:40 mail postfix/qmgr[5784]: 8650A598053: removed
Dec 05 00:03:40 mail postfix/smtp[5793]: connect to 127.0.0.1[127.0.0.1]:9: Connection refused
Dec 05 00:03:40 mail postfix/smtp[5793]: 8E5CF598059: to=<alice@far.test>, orig_to=<alice@harness.test>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)
"""



def test_the_forwarded_copy_is_the_logins_mail(tmp_path, report):
    path = written(tmp_path, FORWARDED)
    rows = report("messages", path, *TIMES)
    assert [(row["queue_id"], row["recipient"], row["orig_to"], row["status"], row["attempts"])
            for row in rows] == [
        ("2DE4159062C", "carol@harness.test", None, "rejected", 0),
        ("2DE4159062C", "bob@harness.test", "fwd@harness.test", "bounced", 1),
        ("3124B59062E", "x@far.test", "fwd@harness.test", "deferred", 2)]
    assert {row["message_id"] for row in rows} == {
        "20261204234736.2DE4159062C@mail.harness.test"}
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["kind"], queued["user"], queued["parent_queue_id"],
            queued["pending_recipients"], queued["queued"]) == (
        "3124B59062E", "forwarded", "alice", "2DE4159062C", 1, "2026-12-04T23:47:36+00:00")
    [user] = report("users", path, *TIMES)
    assert (user["messages"], user["recipients"], user["sent"], user["deferred"],
            user["bounced"], user["rejected"]) == (1, 3, 0, 1, 1, 1)


def test_the_forwarded_copy_delivered(tmp_path, report):
    delivered = FORWARDED + (
        "Dec 04 23:47:44 mail postfix/smtp[23260]: 3124B59062E: to=<x@far.test>, "
        "orig_to=<fwd@harness.test>, relay=far.test[192.0.2.25]:25, delay=8, "
        "delays=8/0/0.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XYZ)\n"
        "Dec 04 23:47:44 mail postfix/qmgr[23249]: 3124B59062E: removed\n")
    path = written(tmp_path, delivered)
    assert report("queue", path, *TIMES) == []
    assert [(row["queue_id"], row["recipient"], row["status"])
            for row in report("messages", path, *TIMES)][1:] == [
        ("2DE4159062C", "bob@harness.test", "bounced"), ("3124B59062E", "x@far.test", "sent")]
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["sent"], user["deferred"]) == (3, 1, 0)


def test_a_forwarded_notice_stays_a_notice(tmp_path, report):
    path = written(tmp_path, NOTICE_FORWARDED)
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["deferred"], user["bounced"]) == (2, 1, 1)
    assert [(row["queue_id"], row["kind"], row["parent_queue_id"])
            for row in report("queue", path, *TIMES)] == [
        ("81708598050", "forwarded", "791A059804E"), ("8E5CF598059", "notice", "791A059804E")]


def test_only_local_s_own_answer_forwards():
    line = ("2DE4159062C: to=<fwd@harness.test>, relay=local, delay=0.04, "
            "delays=0.02/0.01/0/0.01, dsn=2.0.0, status=sent (forwarded as 3124B59062E)")
    assert ev.forwarded_as(line) == "3124B59062E"
    # A quoted local part spells the answer: the true one is local's mailbox delivery.
    spelled = ('2DE4159062C: to=<"x, status=sent (forwarded as 3124B59062E)"@harness.test>, '
               'relay=local, delay=0.04, delays=0.02/0.01/0/0.01, dsn=2.0.0, '
               'status=sent (delivered to mailbox)')
    assert ev.forwarded_as(spelled) is None
    assert ev.forwarded_as(line.replace("status=sent", "status=deferred")) is None
    assert ev.forwarded_as(line.replace("3124B59062E)", "3124B 59062E)")) is None
    # Another agent's text, a transport's (discard:forwarded as X): no copy was queued.
    assert ev.forwarded_as(line.replace("relay=local", "relay=none")) is None
    spelled_relay = line.replace("to=<fwd@harness.test>, relay=local",
                                 'to=<"a, relay=local, b"@harness.test>, relay=none')
    assert ev.forwarded_as(spelled_relay) is None
    assert ev.forwarded_as(spelled_relay.replace("relay=none", "relay=local")) == "3124B59062E"


def forwarding_log(seed: int) -> str:
    """Logins' messages to an alias local forwards, the copies and the originals deferred and
    retried for hours, interleaved: most lines of a chunk are about messages born before it."""
    rng = random.Random(seed)
    when = dt.datetime(2026, 3, 2, 10, 0, 0)
    events = []

    def at(offset, text):
        events.append((when + dt.timedelta(seconds=offset), len(events), text))

    for number in range(30):
        when += dt.timedelta(seconds=rng.randint(5, 120))
        pid, parent, child = 4000 + number, f"{0xA0000 + number:X}", f"{0xC0000 + number:X}"
        user = f"u{number % 4}@example.test"
        at(0, f"smtpd[{pid}]: connect from unknown[198.51.100.{number}]")
        at(0, f"smtpd[{pid}]: {parent}: client=unknown[198.51.100.{number}], "
              f"sasl_method=PLAIN, sasl_username={user}")
        at(1, f"qmgr[99]: {parent}: from=<{user}>, size=900, nrcpt=2 (queue active)")
        at(1, f"smtpd[{pid}]: disconnect from unknown[198.51.100.{number}] ehlo=1 auth=1 "
              "mail=1 rcpt=2 data=1 quit=1 commands=6")
        if rng.random() < 0.5:  # qmgr reads the copy before local logs its line
            at(2, f"qmgr[99]: {child}: from=<{user}>, size=1100, nrcpt=1 (queue active)")
        at(2, f"local[{pid + 1}]: {parent}: to=<list@example.test>, relay=local, delay=1, "
              f"delays=1/0/0/0, dsn=2.0.0, status=sent (forwarded as {child})")
        retries = rng.randint(1, 6)
        for attempt in range(retries):
            offset = 3 + attempt * rng.randint(200, 3000)
            at(offset, f"smtp[{pid + 2}]: {child}: to=<far{number}@remote.test>, "
                       f"orig_to=<list@example.test>, relay=none, delay=3, delays=3/0/0/0, "
                       "dsn=4.4.1, status=deferred (connect to remote.test: Connection refused)")
            at(offset + 1, f"smtp[{pid + 2}]: {parent}: to=<slow{number}@remote.test>, "
                           "relay=none, delay=3, delays=3/0/0/0, dsn=4.4.1, status=deferred "
                           "(connect to remote.test: Connection refused)")
        if rng.random() < 0.6:
            end = 3 + retries * 3000
            at(end, f"smtp[{pid + 2}]: {child}: to=<far{number}@remote.test>, "
                    f"orig_to=<list@example.test>, relay=remote.test[192.0.2.9]:25, delay=9, "
                    "delays=9/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)")
            at(end + 1, f"qmgr[99]: {child}: removed")
    events.sort()
    return "".join(f"{moment:%b %d %H:%M:%S} mail postfix/{text}\n"
                   for moment, _, text in events)


@pytest.mark.parametrize("seed", range(4))
def test_forwarded_copies_with_jobs(tmp_path, monkeypatch, seed):
    """The copy born from a line of a message another chunk holds: handed back, unfolded."""
    log = written(tmp_path, forwarding_log(seed))
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    one = read_canonical(log, 1, 1 << 24)
    kinds = [item for item in one[0] if "'forwarded'" in item[1]]
    assert len(kinds) == 30
    for jobs, chunk_size in ((2, 2_000), (3, 700), (2, 5_000)):
        assert read_canonical(log, jobs, chunk_size) == one, (jobs, chunk_size)
