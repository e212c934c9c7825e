"""Review of the pipe(8) content filter's copies (correlate.py's _pickup, _piped_to_filter,
_copy_named, _forget_copies and their parallel side): the orders of lines a real Postfix logs,
and --jobs N read alike with --jobs 1 where sweeps finish what waited for a copy."""

import datetime as dt

from test_jobs import compare
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
