"""amavisd-new splits a login's message into several copies, and names only the first.

amavisd-new re-injects a message once per group of recipients its policies treat alike, each
copy a transaction of its own on 127.0.0.1:10025, and answers the one transaction it was given
with the first copy's queue ID for every recipient (`250 2.0.0 from MTA(smtp:[127.0.0.1]:10025):
250 2.0.0 Ok: queued as AC0A1321BB3`). The real lines of tests/reallogs/sgros-logparser/test3.log
(a Zimbra 8 MTA, 2013) show it: 84B5C321AC9 (nrcpt=2) is re-injected as AC0A1321BB3 (nrcpt=1)
and AF235321BB4 (nrcpt=1), both recipients' lines say `queued as AC0A1321BB3`, and the second
recipient is delivered from AF235321BB4. For a login's message the tool followed the named
copy alone: the other recipient was counted nowhere, and, deferred, its copy was missing from
`--report queue -f ids` (the README's `| postsuper -d -`). Found by a search of public logs
(2026-12-06); test_reallogs17.py reads the real file with a login on its client= line.

Every number expected below is counted from the lines of the log.
"""

import pytest
from test_jobs import read_canonical

# One copy the filter re-injects on 127.0.0.1:10025, a transaction of its own.
COPY = """\
{at}:{second} mail postfix/amavisd/smtpd[{pid}]: connect from localhost[127.0.0.1]
{at}:{second} mail postfix/amavisd/smtpd[{pid}]: {queue_id}: client=localhost[127.0.0.1]
{at}:{second} mail postfix/cleanup[{p}2]: {queue_id}: message-id=<{message_id}>
{at}:{second} mail postfix/qmgr[99]: {queue_id}: from=<{sender}>, size={size}, nrcpt=1 (queue active)
{at}:{second} mail postfix/amavisd/smtpd[{pid}]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""
# One login's message, split in two by the filter: its named copy sent, the other `LAST`.
STORY = """\
{at}:00 mail postfix/submission/smtpd[{p}1]: connect from client.example[203.0.113.5]
{at}:01 mail postfix/submission/smtpd[{p}1]: {n}A: client=client.example[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp
{at}:01 mail postfix/cleanup[{p}2]: {n}A: message-id=<{n}@example.jp>
{at}:01 mail postfix/qmgr[99]: {n}A: from=<ann@example.jp>, size=900, nrcpt=2 (queue active)
{at}:01 mail postfix/submission/smtpd[{p}1]: disconnect from client.example[203.0.113.5] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
{copies}{at}:03 mail postfix/smtp[{p}5]: {n}A: to=<a@one.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {n}B)
{at}:03 mail postfix/smtp[{p}5]: {n}A: to=<b@two.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {n}B)
{at}:03 mail postfix/qmgr[99]: {n}A: removed
{at}:04 mail postfix/smtp[{p}6]: {n}B: to=<a@one.example>, relay=mx.one.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
{at}:04 mail postfix/qmgr[99]: {n}B: removed
{last}"""
BOUNCED = """\
{at}:05 mail postfix/smtp[{p}7]: {n}C: to=<b@two.example>, relay=mx.two.example[198.51.100.2]:25, delay=3, delays=0/0/1/2, dsn=5.1.1, status=bounced (host mx.two.example[198.51.100.2] said: 550 5.1.1 no such user (in reply to RCPT TO command))
{at}:05 mail postfix/qmgr[99]: {n}C: removed
"""
DEFERRED = """\
{at}:35 mail postfix/smtp[{p}7]: {n}C: to=<b@two.example>, relay=none, delay=33, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
"""
# Mail from outside through the same filter, one copy, nobody's: it must stay nobody's.
INBOUND = """\
{at}:06 mail postfix/smtpd[{p}8]: connect from mx.sender.example[198.51.100.9]
{at}:06 mail postfix/smtpd[{p}8]: {n}D: client=mx.sender.example[198.51.100.9]
{at}:06 mail postfix/cleanup[{p}2]: {n}D: message-id=<{n}@sender.example>
{at}:06 mail postfix/qmgr[99]: {n}D: from=<x@sender.example>, size=700, nrcpt=1 (queue active)
{at}:06 mail postfix/smtpd[{p}8]: disconnect from mx.sender.example[198.51.100.9] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
{copy}{at}:07 mail postfix/smtp[{p}5]: {n}D: to=<ann@example.jp>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {n}E)
{at}:07 mail postfix/qmgr[99]: {n}D: removed
{at}:08 mail postfix/local[{p}9]: {n}E: to=<ann@example.jp>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
{at}:08 mail postfix/qmgr[99]: {n}E: removed
"""


def story(number: int, last: str = BOUNCED, inbound: bool = False) -> str:
    """One login's message split by the filter, at minute `number` past 10:00 (queue IDs from
    it), and mail from outside after it when `inbound`."""
    fields = {"at": f"Mar  3 {10 + number // 60:02d}:{number % 60:02d}",
              "n": f"{0xA0000 + number:05X}", "p": 100 + number}
    n, p = fields["n"], fields["p"]
    copies = "".join(COPY.format(second="02", pid=f"{p}{last_digit}", queue_id=n + letter,
                                 message_id=f"{n}@example.jp", sender="ann@example.jp",
                                 size=1400, **fields)
                     for last_digit, letter in (("3", "B"), ("4", "C")))
    text = STORY.format(last=last.format(**fields), copies=copies, **fields)
    if not inbound:
        return text
    copy = COPY.format(second="07", pid=f"{p}3", queue_id=n + "E",
                       message_id=f"{n}@sender.example", sender="x@sender.example", size=1100,
                       **fields)
    return text + INBOUND.format(copy=copy, **fields)


@pytest.mark.parametrize("last, outcome", [(BOUNCED, "bounced"), (DEFERRED, "deferred")])
def test_each_copy_carries_the_logins_mail(report, cli, tmp_path, last, outcome):
    log = tmp_path / "maillog"
    log.write_text(story(0, last))
    rows = report("messages", "--year", "2026", log)
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["sasl_username"])
                  for row in rows) == [
        ("A0000B", "a@one.example", "sent", "ann@example.jp"),
        ("A0000C", "b@two.example", outcome, "ann@example.jp")]
    [user] = report("users", "--year", "2026", log)
    assert (user["messages"], user["recipients"], user["sent"], user[outcome]) == (1, 2, 1, 1)
    # What the README's `maillog-sasl -r queue --user ... -f ids | postsuper -d -` removes.
    ids = cli("--year", "2026", "-r", "queue", "-f", "ids", log)
    assert ids.out.split() == (["A0000C"] if outcome == "deferred" else [])


def test_a_copy_of_other_mail_is_not_taken(report, tmp_path):
    # The filter's copy of mail from outside right after (the same filter, no login) stays
    # nobody's: only a copy with the login's message-id and sender is.
    log = tmp_path / "maillog"
    log.write_text(story(0, inbound=True) + story(1, inbound=True))
    [user] = report("users", "--year", "2026", log)
    assert (user["messages"], user["recipients"], user["sent"], user["bounced"]) == (2, 4, 2, 2)


def test_jobs_read_a_split_across_a_chunks_start_as_one_process(tmp_path):
    # A chunk's start between the named copy and the other one: the worker holds the other
    # copy with no parent, the parent the named one (Piece.named_back, loose_copies); every
    # cut gives one process's objects.
    log = tmp_path / "maillog"
    log.write_text("".join(story(number, DEFERRED if number % 3 else BOUNCED, number % 2 == 0)
                           for number in range(12)))
    one = read_canonical(log, 1, 1 << 24)
    size = log.stat().st_size
    for chunk_size in range(300, size // 2, 97):
        assert read_canonical(log, 2, chunk_size) == one, chunk_size
