"""qmgr's own delivery lines. A recipient whose transport qmgr cannot reach is handed to the
retry(8) service, which logs its deferral; when retry(8) cannot be reached either (a master.cf
from before Postfix 2.4, or one edited by hand), qmgr defers each recipient itself and logs it
in the delivery agents' shape (qmgr_defer_recipient()): `QID: to=<...>, relay=none, ...,
status=deferred (mail transport unavailable)`, at every queue run, for every message. Before,
these lines were "Postfix lines not used": the recipients counted as never attempted, the
queue report said "not yet attempted" while the queue filled.

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 44), its
default_transport a service master.cf lacks and master.cf without `retry`.
"""


import pytest
from test_jobs import read_canonical

from maillog_sasl import events as ev
from maillog_sasl import parallel

from support import interleaved_log, written

TIMES = ("--year", "2026")

# expected: 77F362640EA's x1 and x2, F32C62640EF's x3, each deferred twice by qmgr itself,
# `mail transport unavailable` (dsn 4.3.0, relay none); both messages still queued
UNAVAILABLE = """\
Dec 05 02:32:54 mail postfix/master[9354]: daemon started -- version 3.7.11, configuration /tmp/pfq1/etc
Dec 05 02:32:54 mail postfix/smtpd[9358]: connect from unknown[127.0.0.1]
Dec 05 02:32:54 mail postfix/smtpd[9358]: 77F362640EA: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 05 02:32:54 mail postfix/cleanup[9362]: 77F362640EA: message-id=<20261205023254.77F362640EA@mail.harness.test>
Dec 05 02:32:54 mail postfix/smtpd[9358]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
Dec 05 02:32:54 mail postfix/qmgr[9356]: 77F362640EA: from=<alice@example.com>, size=294, nrcpt=2 (queue active)
Dec 05 02:32:54 mail postfix/qmgr[9356]: warning: connect to transport private/nosuch: No such file or directory
Dec 05 02:32:54 mail postfix/qmgr[9356]: warning: connect to transport private/nosuch: No such file or directory
Dec 05 02:32:54 mail postfix/qmgr[9356]: warning: connect to transport private/retry: No such file or directory
Dec 05 02:32:54 mail postfix/qmgr[9356]: warning: connect to transport private/retry: No such file or directory
Dec 05 02:32:54 mail postfix/qmgr[9356]: 77F362640EA: to=<x2@other.test>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
Dec 05 02:32:54 mail postfix/qmgr[9356]: 77F362640EA: to=<x1@remote.test>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
Dec 05 02:32:54 mail postfix/smtpd[9358]: connect from unknown[127.0.0.1]
Dec 05 02:32:54 mail postfix/smtpd[9358]: F32C62640EF: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice
Dec 05 02:32:54 mail postfix/cleanup[9362]: F32C62640EF: message-id=<20261205023254.F32C62640EF@mail.harness.test>
Dec 05 02:32:54 mail postfix/qmgr[9356]: F32C62640EF: from=<alice@example.com>, size=315, nrcpt=1 (queue active)
Dec 05 02:32:54 mail postfix/smtpd[9358]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Dec 05 02:32:54 mail postfix/qmgr[9356]: F32C62640EF: to=<x3@remote.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
Dec 05 02:32:58 mail postfix/qmgr[9356]: F32C62640EF: from=<alice@example.com>, size=315, nrcpt=1 (queue active)
Dec 05 02:32:59 mail postfix/qmgr[9356]: F32C62640EF: to=<x3@remote.test>, relay=none, delay=4, delays=4/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
Dec 05 02:32:59 mail postfix/qmgr[9356]: 77F362640EA: from=<alice@example.com>, size=294, nrcpt=2 (queue active)
Dec 05 02:32:59 mail postfix/qmgr[9356]: 77F362640EA: to=<x2@other.test>, relay=none, delay=4.5, delays=4.5/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
Dec 05 02:32:59 mail postfix/qmgr[9356]: 77F362640EA: to=<x1@remote.test>, relay=none, delay=4.5, delays=4.5/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)
"""


def test_qmgr_s_deferrals_are_attempts(tmp_path, report, cli):
    path = written(tmp_path, UNAVAILABLE)
    rows = report("messages", path, *TIMES)
    assert [(row["queue_id"], row["recipient"], row["status"], row["dsn"], row["relay"],
             row["attempts"], row["reason"]) for row in rows] == [
        ("77F362640EA", "x2@other.test", "deferred", "4.3.0", "none", 2,
         "mail transport unavailable"),
        ("77F362640EA", "x1@remote.test", "deferred", "4.3.0", "none", 2,
         "mail transport unavailable"),
        ("F32C62640EF", "x3@remote.test", "deferred", "4.3.0", "none", 2,
         "mail transport unavailable")]
    assert [(row["queue_id"], row["pending_recipients"], row["first_deferred"],
             row["last_attempt"], row["last_reason"])
            for row in report("queue", path, *TIMES)] == [
        ("77F362640EA", 2, "2026-12-05T02:32:54+00:00", "2026-12-05T02:32:59+00:00",
         "mail transport unavailable"),
        ("F32C62640EF", 1, "2026-12-05T02:32:54+00:00", "2026-12-05T02:32:59+00:00",
         "mail transport unavailable")]
    # The master's line and qmgr's four warnings are the only lines left unused.
    stats = cli(str(path), *TIMES, "--stats").err
    assert "Postfix lines not used: 5\n" in stats


def test_qmgr_s_delivery_line_is_recognized():
    text = ("77F362640EA: to=<x2@other.test>, relay=none, delay=0.02, "
            "delays=0.01/0.01/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)")
    event = ev.recognize("qmgr", text)
    assert (event.kind, event.queue_id, event.recipient, event.status, event.dsn,
            event.reason) == ("delivery", "77F362640EA", "x2@other.test", "deferred", "4.3.0",
                              "mail transport unavailable")
    assert ev.recognize("qmgr", text) == ev.recognize("error", text)


def test_a_reason_that_ends_like_a_retry(tmp_path, report):
    """The reason of a dead site is the remote server's text (qmgr_deliver.c: `delivery
    temporarily suspended: ` and the agent's reason): one ending in `(queue active` is no
    retry of qmgr's, with --jobs either (a review's case)."""
    path = written(tmp_path, UNAVAILABLE.replace(
        "to=<x3@remote.test>, relay=none, delay=4, delays=4/0/0/0, dsn=4.3.0, status=deferred "
        "(mail transport unavailable)",
        "to=<x3@remote.test>, relay=none, delay=4, delays=4/0/0/0, dsn=4.4.2, status=deferred "
        "(delivery temporarily suspended: host mx.remote.test[203.0.113.5] refused to talk to "
        "me: 421 4.4.2 try later (queue active)"))
    [_, _, x3] = report("messages", path, *TIMES)
    assert (x3["recipient"], x3["attempts"], x3["dsn"]) == ("x3@remote.test", 2, "4.4.2")
    assert x3["reason"].endswith("try later (queue active")


def unavailable_log(messages: int) -> str:
    """Logins' messages that qmgr defers itself at every queue run for hours, interleaved, a
    few delivered at last: most lines of a chunk are about messages born before it."""

    def tell(number, at):
        pid, queue_id = 4000 + number, f"{0xA0000 + number:X}"
        at(0, f"smtpd[{pid}]: connect from unknown[198.51.100.{number % 250}]")
        at(0, f"smtpd[{pid}]: {queue_id}: client=unknown[198.51.100.{number % 250}], "
              f"sasl_method=PLAIN, sasl_username=u{number % 3}@example.test")
        at(1, f"smtpd[{pid}]: disconnect from unknown[198.51.100.{number % 250}] ehlo=1 "
              "auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7")
        runs = 2 + number % 5
        for run in range(runs):
            offset = 1 + run * 300
            at(offset, f"qmgr[99]: {queue_id}: from=<u@example.test>, size=900, nrcpt=2 "
                       "(queue active)")
            for recipient in ("a", "b"):
                reason = ("mail transport unavailable" if (number + run) % 3 else
                          "delivery temporarily suspended: host remote.test[192.0.2.9] said: "
                          "421 busy (queue active")
                at(offset, f"qmgr[99]: {queue_id}: to=<{recipient}{number}@remote.test>, "
                           f"relay=none, delay={run * 300}, delays={run * 300}/0/0/0, "
                           f"dsn=4.3.0, status=deferred ({reason})")
        if number % 4 == 0:
            end = 2 + runs * 300
            for recipient in ("a", "b"):
                at(end, f"smtp[{pid + 1}]: {queue_id}: to=<{recipient}{number}@remote.test>, "
                        "relay=remote.test[192.0.2.9]:25, delay=9, delays=9/0/0/0, "
                        "dsn=2.0.0, status=sent (250 2.0.0 Ok)")
            at(end, f"qmgr[99]: {queue_id}: removed")

    return interleaved_log(messages, 37, tell)


@pytest.mark.parametrize("chunk_size", [300, 1000, 5000])
def test_qmgr_s_deferrals_with_jobs(tmp_path, monkeypatch, chunk_size):
    """A chunk folds qmgr's deferrals of a message another chunk holds, as an agent's."""
    log = written(tmp_path, unavailable_log(60))
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    one = read_canonical(log, 1, 1 << 24)
    assert one[1]["postfix_unused"] == 0
    assert read_canonical(log, 2, chunk_size) == one
    assert read_canonical(log, 3, chunk_size) == one
