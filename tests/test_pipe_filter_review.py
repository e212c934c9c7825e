"""Review of the pipe(8) content filter's copies (correlate.py's _pickup, _piped_to_filter,
_copy_named, _forget_copies and their parallel side): the orders of lines a real Postfix logs,
and --jobs N read alike with --jobs 1 where sweeps finish what waited for a copy."""

import datetime as dt

import pytest
from test_jobs import compare, write
from test_pipe_filter import COPY, LOGIN, NAMED, PICKED, PIPED, TIMES

from support import written

# The copy bounces a@ at once and bounce(8) queues a notice to the sender, which its MX
# defers: the notice is still in the queue at the log's end.
NOTICE = """\
Jun  7 17:14:58 walle postfix/cleanup[58796]: 9AAAA474D1: message-id=<20230607171458.9AAAA474D1@walle>
Jun  7 17:14:58 walle postfix/bounce[58806]: 91E04474D0: sender non-delivery notification: 9AAAA474D1
Jun  7 17:14:58 walle postfix/qmgr[58782]: 9AAAA474D1: from=<>, size=2551, nrcpt=1 (queue active)
Jun  7 17:14:59 walle postfix/smtp[58807]: 9AAAA474D1: to=<arantxa@example.org>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.example.org[192.0.2.9]:25: Connection timed out)
"""
DONE = (COPY.replace("status=deferred (connect to mx.example.com[192.0.2.1]:25: Connection "
                     "timed out)", "status=sent (250 2.0.0 Ok: queued as 4X)")
        .replace("dsn=4.4.1", "dsn=2.0.0")
        + NOTICE + "Jun  7 17:14:58 walle postfix/qmgr[58782]: 91E04474D0: removed\n")


def test_a_notice_of_the_copy_queued_before_the_pipes_lines(tmp_path, report, cli):
    # As in tests/fixtures/postfix37-pipe-filter: the copy is delivered, bounced and its
    # notice queued before pipe logs the original's recipients. The notice is the login's
    # mail's, still queued, as when pipe's lines come first.
    late = LOGIN + PICKED + NAMED + DONE + PIPED.replace("17:14:57", "17:14:59")
    early = LOGIN + PIPED + PICKED + NAMED + DONE
    for log in (late, early):
        path = written(tmp_path, log)
        assert [(row["queue_id"], row["kind"], row["user"], row["parent_queue_id"])
                for row in report("queue", path, *TIMES)] == [
            ("9AAAA474D1", "notice", "arantxa", "91E04474D0")]
        result = cli("--stats", "--tz", "UTC", *TIMES, path)
        assert "messages still queued:    1" in result.err


def test_a_notice_of_local_mail_is_not_queued_mail(tmp_path, report, cli):
    # pickup's local mail (the login's message is not piped: still queued) bounced: its
    # notice is nobody's.
    log = LOGIN + PICKED + NAMED.replace("20230607171420.9A2D863400", "cron.1") + DONE
    path = written(tmp_path, log)
    assert [row["queue_id"] for row in report("queue", path, *TIMES)] == ["8C7FC474CA"]
    assert "messages still queued:    1" in cli("--stats", "--tz", "UTC", *TIMES, path).err


def test_a_notice_named_twice_of_local_mail(tmp_path, report):
    # bounce's line repeated (every field may be anyone's text): the notice is let go once.
    bounce = NOTICE.splitlines(keepends=True)[1]
    removed = DONE.splitlines(keepends=True)[-1]
    log = (LOGIN + PICKED + NAMED.replace("20230607171420.9A2D863400", "cron.1")
           + DONE.replace(removed, bounce) + PICKED.replace("17:14:57", "17:16:57"))
    assert [row["queue_id"] for row in report("queue", written(tmp_path, log), *TIMES)] == [
        "8C7FC474CA"]


def test_a_command_each_for_recipients_piped_at_once(tmp_path, report):
    # spamassassin_destination_recipient_limit = 1: pipe runs a command for each recipient,
    # both logged in one second, and each re-injects its own copy (nrcpt=1), before or after
    # pipe's lines. Each copy is the login's mail: b@ is not lost with the second.
    first, second, removed = PIPED.splitlines(keepends=True)
    other = "91E04474DF"
    own = COPY.replace("nrcpt=2", "nrcpt=1").splitlines(keepends=True)
    copies = (own[0] + own[1] + own[0].replace("91E04474D0", other)
              + own[2].replace("91E04474D0", other))
    picked_other = (PICKED + NAMED).replace("91E04474D0", other)
    for log in (LOGIN + first + second + removed + PICKED + NAMED + picked_other + copies,
                LOGIN + PICKED + NAMED + first + second + removed + picked_other + copies):
        path = written(tmp_path, log)
        [user] = report("users", path, *TIMES)
        assert (user["recipients"], user["sent"], user["deferred"], user["bounced"]) == (
            2, 0, 1, 1)
        assert [(row["queue_id"], row["recipient"], row["status"])
                for row in report("messages", path, *TIMES)] == [
            ("91E04474D0", "a@example.net", "bounced"), (other, "b@example.com", "deferred")]


@pytest.mark.parametrize("order", ("pipe first", "pickup first"))
def test_one_command_whose_lines_straddle_a_second(tmp_path, report, order):
    # pipe(8) logs the recipients of one command as it ends: 17:14:57.99 and 17:14:58.01.
    first, second, removed = PIPED.splitlines(keepends=True)
    piped = first + second.replace("17:14:57", "17:14:58") + removed
    log = (LOGIN + piped + PICKED + NAMED + COPY if order == "pipe first"
           else LOGIN + PICKED + NAMED + piped + COPY)
    [user] = report("users", written(tmp_path, log), *TIMES)
    assert (user["recipients"], user["sent"], user["deferred"], user["bounced"]) == (
        2, 0, 1, 1)


def logged(lines, moment, text):
    lines.append(f"{moment:%b %d %H:%M:%S} mail postfix/{text}")


def delivered_via_dovecot(lines, moment, pid, queue_id, user):
    """A login's message, delivered by pipe(8) to dovecot-lda: it waits COPY_WITHIN for a copy
    none makes, removed, until a sweep lets it go."""
    ip = f"198.51.100.{pid % 200}"
    for text in (f"submission/smtpd[{pid}]: connect from unknown[{ip}]",
                 f"submission/smtpd[{pid}]: {queue_id}: client=unknown[{ip}], "
                 f"sasl_method=PLAIN, sasl_username={user}",
                 f"cleanup[7]: {queue_id}: message-id=<{queue_id}@example.test>",
                 f"qmgr[9]: {queue_id}: from=<{user}@example.test>, size=900, nrcpt=1 "
                 "(queue active)",
                 f"submission/smtpd[{pid}]: disconnect from unknown[{ip}] ehlo=1 auth=1 mail=1 "
                 "rcpt=1 data=1 quit=1 commands=6"):
        logged(lines, moment, text)


def piped(lines, moment, queue_id):
    logged(lines, moment, f"pipe[66]: {queue_id}: to=<bob@example.test>, relay=dovecot, "
                          "delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via "
                          "dovecot service)")
    logged(lines, moment, f"qmgr[9]: {queue_id}: removed")


def idle(lines, start, count, step=dt.timedelta(seconds=4)):
    """anvil's lines of no use, to put the chunks' cuts between the others."""
    for number in range(count):
        logged(lines, start + number * step, "anvil[5]: statistics: max connection rate 1/60s "
                                             "for (smtp:192.0.2.1) at Mar  2 09:59:00")


START = dt.datetime(2026, 3, 2, 9, 0)
SIZES = [(jobs, size) for jobs in (2, 3, 4) for size in range(600, 4000, 113)]


def test_a_sweep_closes_the_chunks_sessions_before_it_lets_go_the_parents_delivery(
        tmp_path, monkeypatch):
    # ann's message, removed, waits for a copy (10:00:30); bea logs in (10:05) and is never
    # heard of again, nor the host for an hour: the sweep at 11:10 closes bea's session, then
    # lets go of ann's message, whichever side of a chunk's start each is.
    lines: list = []
    idle(lines, START, 60, dt.timedelta(minutes=1))
    delivered_via_dovecot(lines, START.replace(hour=10), 100, "A0001", "ann")
    piped(lines, START.replace(hour=10, second=30), "A0001")
    idle(lines, START.replace(hour=10, minute=1), 20)
    logged(lines, START.replace(hour=10, minute=5), "submission/smtpd[200]: connect from "
                                                    "unknown[198.51.100.2]")
    logged(lines, START.replace(hour=10, minute=5), "submission/smtpd[200]: B0001: "
           "client=unknown[198.51.100.2], sasl_method=PLAIN, sasl_username=bea")
    idle(lines, START.replace(hour=10, minute=6), 20)
    idle(lines, START.replace(hour=11, minute=10), 3)
    compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026, sizes=SIZES)


def test_deliveries_let_go_in_the_order_they_came_whichever_side_holds_them(
        tmp_path, monkeypatch):
    # ann's message opened before a chunk's start, bea's after it; bea's is piped first, then
    # ann's: one sweep lets both go, bea's first.
    lines: list = []
    idle(lines, START, 60, dt.timedelta(minutes=1))
    delivered_via_dovecot(lines, START.replace(minute=59), 100, "A0000", "ann")
    idle(lines, START.replace(minute=59, second=1), 14)
    delivered_via_dovecot(lines, START.replace(hour=10), 200, "B0001", "bea")
    idle(lines, START.replace(hour=10, second=1), 7)
    piped(lines, START.replace(hour=10, second=30), "B0001")
    piped(lines, START.replace(hour=10, second=40), "A0000")
    idle(lines, START.replace(hour=10, minute=1), 15)
    idle(lines, START.replace(hour=10, minute=10), 15)
    compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026, sizes=SIZES)
