"""--since/--until and a content filter's copy: each message a login sent counts once.

An after-queue content filter takes a login's submission and hands back a copy under a new queue
ID: amavis over SMTP (`status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok:
queued as NEWQID)`), a pipe(8) command through `sendmail`. The submission is removed within
seconds; the copy is what is deferred for days. A window that takes the copy and leaves out the
submission counted the copy's recipients for the account but not the message: the users row of
the real Postfix run below read `messages 0, recipients 6` and the summary "0 users; 0
authenticated messages" above it (found by an admin's review, 2026-12-06).

Every number expected below is counted from the lines of its log.
"""

import pytest

PIPE_FIXTURE = "tests/fixtures/postfix37-pipe-filter/maillog"

# amavisd-new on 127.0.0.1:10024 re-injecting on 10025: the lines as Postfix writes them (the
# shapes of tests/reallogs/lightmeter-*'s amavis hosts). ann's message is removed at 09:00:03;
# its copy 5B2C3D4E5F is deferred for three recipients and expires two days later.
AMAVIS = """\
Mar  3 09:00:00 mail postfix/submission/smtpd[100]: connect from client.example[203.0.113.5]
Mar  3 09:00:01 mail postfix/submission/smtpd[100]: 4A1B2C3D4E: client=client.example[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp
Mar  3 09:00:01 mail postfix/cleanup[101]: 4A1B2C3D4E: message-id=<m1@example.jp>
Mar  3 09:00:01 mail postfix/qmgr[102]: 4A1B2C3D4E: from=<ann@example.jp>, size=900, nrcpt=4 (queue active)
Mar  3 09:00:02 mail postfix/submission/smtpd[100]: disconnect from client.example[203.0.113.5] ehlo=1 auth=1 mail=1 rcpt=4 data=1 quit=1 commands=9
Mar  3 09:00:02 mail postfix/10025/smtpd[110]: connect from localhost[127.0.0.1]
Mar  3 09:00:02 mail postfix/10025/smtpd[110]: 5B2C3D4E5F: client=localhost[127.0.0.1]
Mar  3 09:00:02 mail postfix/cleanup[101]: 5B2C3D4E5F: message-id=<m1@example.jp>
Mar  3 09:00:02 mail postfix/qmgr[102]: 5B2C3D4E5F: from=<ann@example.jp>, size=1400, nrcpt=4 (queue active)
Mar  3 09:00:02 mail postfix/10025/smtpd[110]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=4 data=1 quit=1 commands=8
Mar  3 09:00:03 mail postfix/smtp[103]: 4A1B2C3D4E: to=<a@one.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B2C3D4E5F)
Mar  3 09:00:03 mail postfix/smtp[103]: 4A1B2C3D4E: to=<b@two.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B2C3D4E5F)
Mar  3 09:00:03 mail postfix/smtp[103]: 4A1B2C3D4E: to=<c@two.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B2C3D4E5F)
Mar  3 09:00:03 mail postfix/smtp[103]: 4A1B2C3D4E: to=<d@two.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B2C3D4E5F)
Mar  3 09:00:03 mail postfix/qmgr[102]: 4A1B2C3D4E: removed
Mar  3 09:00:04 mail postfix/smtp[104]: 5B2C3D4E5F: to=<a@one.example>, relay=mx.one.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 09:00:34 mail postfix/smtp[105]: 5B2C3D4E5F: to=<b@two.example>, relay=none, delay=32, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  3 09:00:34 mail postfix/smtp[105]: 5B2C3D4E5F: to=<c@two.example>, relay=none, delay=32, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  3 09:00:34 mail postfix/smtp[105]: 5B2C3D4E5F: to=<d@two.example>, relay=none, delay=32, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  4 09:00:00 mail postfix/qmgr[102]: 5B2C3D4E5F: from=<ann@example.jp>, size=1400, nrcpt=4 (queue active)
Mar  4 09:00:30 mail postfix/smtp[105]: 5B2C3D4E5F: to=<b@two.example>, relay=none, delay=86428, delays=86398/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  4 09:00:30 mail postfix/smtp[105]: 5B2C3D4E5F: to=<c@two.example>, relay=none, delay=86428, delays=86398/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  4 09:00:30 mail postfix/smtp[105]: 5B2C3D4E5F: to=<d@two.example>, relay=none, delay=86428, delays=86398/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
Mar  5 09:00:00 mail postfix/qmgr[102]: 5B2C3D4E5F: from=<ann@example.jp>, status=expired, returned to sender
Mar  5 09:00:00 mail postfix/qmgr[102]: 5B2C3D4E5F: removed
"""

# The filter takes a@one.example at once, while b@two.example, for another transport's filter
# that is down, waits in the submission for an hour: the copy is done long before its original.
# {before} and {filler}: lines enough to end the lines the correlator holds at an input's start
# and the batch it reads at a time, so that the copy is reported while the original is queued.
HELD_ORIGINAL = """\
{before}Mar  3 10:00:01 mail postfix/submission/smtpd[100]: 6C1B2C3D4E: client=client.example[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp
Mar  3 10:00:01 mail postfix/cleanup[101]: 6C1B2C3D4E: message-id=<m2@example.jp>
Mar  3 10:00:01 mail postfix/qmgr[102]: 6C1B2C3D4E: from=<ann@example.jp>, size=900, nrcpt=2 (queue active)
Mar  3 10:00:02 mail postfix/10025/smtpd[110]: 7D2C3D4E5F: client=localhost[127.0.0.1]
Mar  3 10:00:02 mail postfix/cleanup[101]: 7D2C3D4E5F: message-id=<m2@example.jp>
Mar  3 10:00:02 mail postfix/qmgr[102]: 7D2C3D4E5F: from=<ann@example.jp>, size=1400, nrcpt=1 (queue active)
Mar  3 10:00:03 mail postfix/smtp[103]: 6C1B2C3D4E: to=<a@one.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7D2C3D4E5F)
Mar  3 10:00:04 mail postfix/smtp[104]: 7D2C3D4E5F: to=<a@one.example>, relay=mx.one.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 10:00:04 mail postfix/qmgr[102]: 7D2C3D4E5F: removed
{filler}Mar  3 10:00:31 mail postfix/smtp[106]: 6C1B2C3D4E: to=<b@two.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:10026: Connection refused)
Mar  3 11:00:00 mail postfix/qmgr[102]: 6C1B2C3D4E: from=<ann@example.jp>, size=900, nrcpt=2 (queue active)
Mar  3 11:00:01 mail postfix/smtp[106]: 6C1B2C3D4E: to=<b@two.example>, relay=mx.two.example[198.51.100.2]:25, delay=3600, delays=3599/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 11:00:01 mail postfix/qmgr[102]: 6C1B2C3D4E: removed
"""


def _filler(stamp: str, count: int) -> str:
    """`count` lines of no use to the correlator (anvil's statistics), each different (a run
    of one line would read as a log whose every line is written twice)."""
    return "".join(f"{stamp} mail postfix/anvil[5]: statistics: max connection rate {number}/60s"
                   " for (smtp:192.0.2.1) at Mar  3 09:00:00\n" for number in range(count))


def _users_row(report, *args):
    rows = report("users", "--year", "2026", *args)
    assert len(rows) == 1, rows
    return rows[0]


def _summary(cli, *args):
    result = cli("--year", "2026", "--tz", "UTC", "--width", "0", *args)
    assert result.code == 0, result.err
    return result.out.splitlines()[0]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_real_pipe_filters_copies_alone_in_the_window_count_their_messages(report, cli, jobs):
    # Postfix 3.7's own log: erin's originals D0C2833CA41 and 3250833C7A1 are removed at
    # 20:53:08 and :09; their copies D7CF033CA52 and 37A3133C006 retry piped@tempfail.test until
    # they expire at 20:53:27 and :35. From 20:53:20 on, the window holds the two copies alone.
    since = ("--since", "2026-12-05 20:53:20", "--jobs", jobs)
    row = _users_row(report, *since, PIPE_FIXTURE)
    assert (row["user"], row["sessions"], row["messages"], row["recipients"]) == (
        "erin@harness.test", 0, 2, 6)
    assert (row["sent"], row["bounced"], row["expired"]) == (2, 2, 2)
    [ips] = report("ips", "--year", "2026", *since, PIPE_FIXTURE)
    assert (ips["messages"], ips["recipients"]) == (2, 6)
    assert "1 user; 0 authenticated sessions; 2 authenticated messages" in _summary(
        cli, *since, PIPE_FIXTURE)
    # Its messages report has the rows of exactly those two messages.
    rows = report("messages", "--year", "2026", *since, PIPE_FIXTURE)
    assert sorted({row["queue_id"] for row in rows}) == ["37A3133C006", "D7CF033CA52"]


@pytest.mark.parametrize("window, recipients, sessions", [
    ((), 4, 1),  # the whole log
    (("--since", "2026-03-03 09:00"), 4, 1),  # both the submission and its copy
    (("--since", "2026-03-04"), 4, 0),  # the copy alone (its recipients since its queue time)
    (("--since", "2026-03-05", "--until", "2026-03-05 12:00"), 4, 0),  # its expiry alone
])
def test_an_amavis_copy_counts_its_message_once(report, cli, tmp_path, window, recipients,
                                                sessions):
    log = tmp_path / "maillog"
    log.write_text(AMAVIS)
    row = _users_row(report, *window, log)
    assert (row["sessions"], row["messages"], row["recipients"]) == (sessions, 1, recipients)
    assert (row["sent"], row["expired"]) == (1, 3)
    summary = _summary(cli, *window, log)
    assert "1 user;" in summary and "; 1 authenticated message;" in summary


def test_a_window_after_the_copy_and_one_before_the_originals_end_count_it_once(
        report, cli, tmp_path):
    # The copy 7D2C3D4E5F ends at 10:00:04, its original 6C1B2C3D4E at 11:00:01, having
    # waited at 10:00:31 for b@two.example. A window from 10:00:04 takes the copy while the
    # original, so far, ended at 10:00:03 (its sent line to the filter): the copy counts the
    # message, and the original, taken once it ends, does not count it again.
    log = tmp_path / "maillog"
    log.write_text(HELD_ORIGINAL.format(before=_filler("Mar  3 09:58:00", 2500),
                                        filler=_filler("Mar  3 10:00:10", 2500)))
    for window, sent in ((("--since", "2026-03-03 10:00:04"), 2),
                         (("--since", "2026-03-03 10:30"), 1),  # the original alone
                         ((), 2)):
        row = _users_row(report, *window, log)
        assert (row["messages"], row["recipients"], row["sent"]) == (1, sent, sent), window
        assert "; 1 authenticated message;" in _summary(cli, *window, log)
