"""What Postfix 3.9 to 3.11 write differently in the lines the tool reads.

Each line below is built from the format string of the Postfix source that writes it (the
mirror github.com/vdukhovni/postfix, RELEASE_NOTES-3.10 and the files named), with this
project's hosts, addresses and queue IDs:

- 3.10 (RELEASE_NOTES-3.10, 20241023): smtpd's reject, hold and discard lines end with
  ` sasl_method=M sasl_username=U sasl_sender=S` of a session that logged in
  (smtpd_check.c, log_whatsup()). A session whose mail was all refused is known by them alone
  (before 3.10, by nothing in the log): its username is read (its method is not: a field more
  in the Reject events a watch state keeps would be a new state format).
- 3.10 (20241104): cleanup logs `QID: removed (canceled)` when the message transaction did
  not end (the client went away in DATA, a milter or a content check refused it) and `QID:
  removed (discarded)` when it discards the message (cleanup_api.c). Before, such a message
  just stopped in the log, and stayed "still queued".
- 3.9, and 3.5.22, 3.6.12, 3.7.8, 3.8.3: a SASL failure line ends with `, sasl_username=U`,
  `(unavailable)` when the SASL server names no username (smtpd_sasl_glue.c): no name tried.
- 3.11 (RELEASE_NOTES-3.11, HISTORY 20251216): bounce logs `OLDQID: sender non-delivery
  notification: NEWQID` as soon as cleanup gave it NEWQID, before cleanup's own lines of it
  (before, once it was queued, after them), and `warning: OLDQID: sender notification failed
  to ADDR: REASON` (REASON one of cleanup_strerror()'s) when cleanup then did not queue it
  (bounce_notify_service.c, bounce_one_service.c, bounce_warn_service.c, ...): the notice
  never reaches the queue. Without a reason, post_mail_fopen_nowait() failed: no notice was
  begun, none named.
"""

import pytest
from test_jobs import chunks_of
from test_reallogs import rows, stats

from maillog_sasl import events

SESSION = """\
Aug 21 13:00:00 mail postfix/submission/smtpd[5001]: connect from pc3.example.net[198.51.100.30]
Aug 21 13:00:02 mail postfix/submission/smtpd[5001]: 9D4E5F6A07: client=pc3.example.net[198.51.100.30], sasl_method=PLAIN, sasl_username=erin@corp.example
Aug 21 13:00:03 mail postfix/cleanup[5002]: 9D4E5F6A07: message-id=<m7@corp.example>
{middle}Aug 21 13:00:33 mail postfix/submission/smtpd[5001]: disconnect from pc3.example.net[198.51.100.30] ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 commands=4/5
"""
LOST = """\
Aug 21 13:00:33 mail postfix/submission/smtpd[5001]: 9D4E5F6A07: lost connection after DATA (14336 bytes) from pc3.example.net[198.51.100.30]
Aug 21 13:00:33 mail postfix/cleanup[5002]: 9D4E5F6A07: removed (canceled)
"""
DISCARDED = """\
Aug 21 13:00:33 mail postfix/cleanup[5002]: 9D4E5F6A07: milter-discard: END-OF-MESSAGE from pc3.example.net[198.51.100.30]: milter triggers DISCARD action; from=<erin@corp.example> to=<o@ext.example> proto=ESMTP helo=<pc3>
Aug 21 13:00:33 mail postfix/cleanup[5002]: 9D4E5F6A07: removed (discarded)
"""


@pytest.mark.parametrize("middle", [LOST, DISCARDED])
def test_a_message_cleanup_removed_is_no_longer_queued(cli, tmp_path, middle):
    log = tmp_path / "maillog"
    log.write_text(SESSION.format(middle=middle))
    counted = stats(cli, log, year=2026)
    assert counted["messages still queued"] == 0
    assert counted["Postfix lines not used"] == (1 if middle is LOST else 0)  # lost connection
    [user] = rows(cli, "users", log, year=2026)
    assert user["messages"] == 1
    assert rows(cli, "queue", log, year=2026) == []


def test_cleanup_reads_its_removals():
    assert events.cleanup_event("9D4E5F6A07", "removed (canceled)") == events.Removed(
        "9D4E5F6A07")
    assert events.cleanup_event("9D4E5F6A07", "removed (discarded)") == events.Removed(
        "9D4E5F6A07")
    assert events.cleanup_event("9D4E5F6A07", "removed (something else)") is None


def test_a_session_whose_mail_was_all_refused_is_known_by_its_reject(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(
        "Aug 21 18:10:00 mail postfix/submission/smtpd[9111]: connect from unknown[203.0.113.98]\n"
        "Aug 21 18:10:02 mail postfix/submission/smtpd[9111]: NOQUEUE: reject: RCPT from "
        "unknown[203.0.113.98]: 554 5.7.1 <x@y.example>: Relay access denied; "
        "from=<spam@bad.example> to=<x@y.example> proto=ESMTP helo=<bot> sasl_method=PLAIN "
        "sasl_username=mallory@corp.example sasl_sender=mallory@corp.example\n"
        "Aug 21 18:10:03 mail postfix/submission/smtpd[9111]: disconnect from "
        "unknown[203.0.113.98] ehlo=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=4/5\n")
    [session] = rows(cli, "sessions", log, year=2026)
    assert (session["sasl_username"], session["rejected"]) == ("mallory@corp.example", 1)


@pytest.mark.parametrize("text, username", [
    ("warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: authentication "
     "failure, sasl_username=(unavailable)", None),
    ("warning: unknown[203.0.113.50]: SASL NTLM authentication failed: Invalid authentication "
     "mechanism: 'NTLM', sasl_username=(unavailable)", None),
    ("warning: unknown[203.0.113.50]:4711: SASL PLAIN authentication failed: (reason "
     "unavailable), sasl_username=(unavailable)", None),
    ("warning: unknown[203.0.113.50]: SASL PLAIN authentication failed: (reason unavailable), "
     "sasl_username=info@corp.example", "info@corp.example"),
])
def test_no_username_is_no_username(text, username):
    assert events.auth_failure_event(text).username == username


# A bounce, an expiry whose notice cleanup could not queue, and a bounce whose notice could not
# even be begun, of one account, as Postfix 3.11 logs them.
NOTICES_311 = """\
Aug 21 14:00:00 mail postfix/submission/smtpd[6001]: connect from pc4.example.net[198.51.100.40]
Aug 21 14:00:02 mail postfix/submission/smtpd[6001]: F3A0B1C2D1: client=pc4.example.net[198.51.100.40], sasl_method=PLAIN, sasl_username=frank@corp.example
Aug 21 14:00:02 mail postfix/cleanup[6002]: F3A0B1C2D1: message-id=<m13@corp.example>
Aug 21 14:00:02 mail postfix/qmgr[900]: F3A0B1C2D1: from=<frank@corp.example>, size=900, nrcpt=1 (queue active)
Aug 21 14:00:03 mail postfix/smtp[6003]: F3A0B1C2D1: to=<nobody@ext.example>, relay=mx.ext.example[203.0.113.21]:25, delay=0.9, delays=0.1/0.01/0.4/0.4, dsn=5.1.1, status=bounced (host mx.ext.example[203.0.113.21] said: 550 5.1.1 <nobody@ext.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Aug 21 14:00:03 mail postfix/bounce[6005]: F3A0B1C2D1: sender non-delivery notification: 04B1C2D3E2
Aug 21 14:00:03 mail postfix/cleanup[6002]: 04B1C2D3E2: message-id=<20260821140003.04B1C2D3E2@mail.corp.example>
Aug 21 14:00:03 mail postfix/qmgr[900]: 04B1C2D3E2: from=<>, size=2900, nrcpt=1 (queue active)
Aug 21 14:00:03 mail postfix/qmgr[900]: F3A0B1C2D1: removed
Aug 21 14:00:04 mail postfix/local[6004]: 04B1C2D3E2: to=<frank@corp.example>, relay=local, delay=0.1, delays=0/0.01/0/0.09, dsn=2.0.0, status=sent (delivered to mailbox)
Aug 21 14:00:04 mail postfix/qmgr[900]: 04B1C2D3E2: removed
Aug 21 14:00:05 mail postfix/submission/smtpd[6001]: disconnect from pc4.example.net[198.51.100.40] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Aug 21 14:10:00 mail postfix/submission/smtpd[6011]: connect from pc4.example.net[198.51.100.40]
Aug 21 14:10:02 mail postfix/submission/smtpd[6011]: 15C2D3E4F3: client=pc4.example.net[198.51.100.40], sasl_method=PLAIN, sasl_username=frank@corp.example
Aug 21 14:10:02 mail postfix/cleanup[6012]: 15C2D3E4F3: message-id=<m14@corp.example>
Aug 21 14:10:02 mail postfix/qmgr[900]: 15C2D3E4F3: from=<frank@corp.example>, size=900, nrcpt=1 (queue active)
Aug 21 14:10:32 mail postfix/smtp[6013]: 15C2D3E4F3: to=<slow@far.example>, relay=none, delay=30, delays=0.1/0.01/30/0, dsn=4.4.1, status=deferred (connect to mx.far.example[203.0.113.31]:25: Connection timed out)
Aug 21 14:10:33 mail postfix/submission/smtpd[6011]: 26D3E4F5A4: client=pc4.example.net[198.51.100.40], sasl_method=PLAIN, sasl_username=frank@corp.example
Aug 21 14:10:33 mail postfix/cleanup[6012]: 26D3E4F5A4: message-id=<m15@corp.example>
Aug 21 14:10:33 mail postfix/qmgr[900]: 26D3E4F5A4: from=<frank@corp.example>, size=900, nrcpt=1 (queue active)
Aug 21 14:10:34 mail postfix/smtp[6013]: 26D3E4F5A4: to=<gone@ext.example>, relay=mx.ext.example[203.0.113.21]:25, delay=0.9, delays=0.1/0.01/0.4/0.4, dsn=5.1.1, status=bounced (host mx.ext.example[203.0.113.21] said: 550 5.1.1 <gone@ext.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Aug 21 14:10:34 mail postfix/bounce[6014]: warning: 26D3E4F5A4: sender notification failed to frank@corp.example
Aug 21 14:10:34 mail postfix/qmgr[900]: 26D3E4F5A4: removed
Aug 21 14:10:35 mail postfix/submission/smtpd[6011]: disconnect from pc4.example.net[198.51.100.40] ehlo=1 auth=1 mail=2 rcpt=2 data=2 quit=1 commands=8
Aug 21 15:00:00 mail postfix/postsuper[6020]: 15C2D3E4F3: expired
Aug 21 15:00:01 mail postfix/qmgr[900]: 15C2D3E4F3: from=<frank@corp.example>, size=900, nrcpt=1 (queue active)
Aug 21 15:00:01 mail postfix/smtp[6021]: 15C2D3E4F3: to=<slow@far.example>, relay=none, delay=3000, delays=2999/0.01/0/0.01, dsn=4.4.1, status=deferred (connect to mx.far.example[203.0.113.31]:25: Connection timed out)
Aug 21 15:00:01 mail postfix/qmgr[900]: 15C2D3E4F3: from=<frank@corp.example>, status=force-expired, returned to sender
Aug 21 15:00:01 mail postfix/bounce[6022]: 15C2D3E4F3: sender non-delivery notification: 37E4F5A6B5
Aug 21 15:00:01 mail postfix/bounce[6022]: warning: 15C2D3E4F3: sender notification failed to frank@corp.example: queue file write error
Aug 21 15:00:01 mail postfix/qmgr[900]: 15C2D3E4F3: removed
"""
OUTCOMES_311 = [("15C2D3E4F3", "expired"), ("26D3E4F5A4", "bounced"), ("F3A0B1C2D1", "bounced")]


def _outcomes(cli, log, *args):
    return sorted((row["queue_id"], row["status"])
                  for row in rows(cli, "messages", log, *args, year=2026))


def test_a_notice_cleanup_did_not_queue_is_not_still_queued(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(NOTICES_311)
    counted = stats(cli, log, year=2026)
    assert counted["messages still queued"] == 0  # 37E4F5A6B5 never was
    # Not used: the warning without a reason (it names no notice) and postsuper's `expired`
    # (qmgr's `status=force-expired` line says it).
    assert (counted["lines used"], counted["Postfix lines not used"]) == (29, 2)
    assert _outcomes(cli, log) == OUTCOMES_311
    assert rows(cli, "queue", log, year=2026) == []
    [user] = rows(cli, "users", log, year=2026)
    assert user["messages"] == 3  # notices are not the account's mail


def test_a_warning_ends_no_notice_that_was_queued(cli, tmp_path):
    # The expiry's notice line lost (journald's rate limit): the warning's message has an
    # earlier notice, which qmgr read and is still retrying. It stays queued.
    delay_notice = """\
Aug 21 14:40:00 mail postfix/bounce[6015]: 15C2D3E4F3: sender delay notification: 48F5A6B7C6
Aug 21 14:40:00 mail postfix/cleanup[6012]: 48F5A6B7C6: message-id=<20260821144000.48F5A6B7C6@mail.corp.example>
Aug 21 14:40:00 mail postfix/qmgr[900]: 48F5A6B7C6: from=<>, size=2100, nrcpt=1 (queue active)
Aug 21 14:40:01 mail postfix/smtp[6016]: 48F5A6B7C6: to=<frank@corp.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mail.corp.example[198.51.100.2]:25: Connection refused)
"""
    lines = NOTICES_311.splitlines(True)
    expiry = lines.index(next(line for line in lines if "non-delivery notification: 37E4" in line))
    log = tmp_path / "maillog"
    log.write_text("".join(lines[:23] + [delay_notice] + lines[23:expiry] + lines[expiry + 1:]))
    assert stats(cli, log, year=2026)["messages still queued"] == 1
    assert _outcomes(cli, log) == OUTCOMES_311


@pytest.mark.parametrize("chunk_size", [300, 900, 2500])
def test_two_jobs_end_the_notice_as_one(cli, monkeypatch, tmp_path, chunk_size):
    # The warning in a worker's chunk, its message and notice opened before (handed back), or
    # all three the worker's.
    log = tmp_path / "maillog"
    log.write_text(NOTICES_311)
    chunks_of(chunk_size, monkeypatch)
    assert _outcomes(cli, log, "--jobs", "2") == OUTCOMES_311
    assert stats(cli, log, "--jobs", "2", year=2026) == stats(cli, log, year=2026)


@pytest.mark.parametrize("body, queue_id", [
    ("15C2D3E4F3: sender notification failed to frank@corp.example: queue file write error",
     "15C2D3E4F3"),
    ("15C2D3E4F3: postmaster notification failed: service unavailable", "15C2D3E4F3"),
    ("15C2D3E4F3: sender notification failed to a@b: bare <LF> received", "15C2D3E4F3"),
    # No notice begun (no reason), or no reason cleanup gives: nothing to end.
    ("15C2D3E4F3: sender notification failed to frank@corp.example", None),
    ("15C2D3E4F3: postmaster notification failed", None),
    ("15C2D3E4F3: sender notification failed to x: y@z", None),
    ("15C2D3E4F3: undeliverable postmaster notification discarded", None),
    ("unknown[203.0.113.50]: SASL LOGIN authentication failed: service unavailable", None),
])
def test_notice_failures(body, queue_id):
    assert events.notice_failure_of(body) == queue_id
