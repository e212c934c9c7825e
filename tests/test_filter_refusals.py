"""An after-queue content filter that answers 250 for a message it then bounces or drops.

Postfix hands each message to the filter (content_filter = smtp-amavis:[127.0.0.1]:10024) and
logs the recipient `sent`, to the filter, whatever the filter then does. A passed message comes
back under a new queue ID (`250 2.0.0 from MTA(...): 250 2.0.0 Ok: queued as NEWQID`), which
the tool follows; a blocked one does not: amavisd-new answers `250 2.7.0 Ok, discarded, id=...
- INFECTED: ...` (dropped), `250 2.5.0 Ok, id=..., BOUNCE` (refused; it sends the sender a
non-delivery notice itself) or `250 2.5.0 Ok, id=..., DISCARD(bounce.suppressed)` (refused, no
notice), over LMTP `250 2.5.0 Ok <rcpt>, DSN was sent (...)` or `DSN suppressed (...)` per
recipient, ClamSMTP `250 Virus Detected; Discarded Email`. Each was counted sent: a stolen
account whose spam the filter blocked looked like an account whose mail went out, and its
failing signal never rose.

The answers are amavisd's and clamsmtpd's as their sources write them (amavisd: the response
of a blocked recipient, "Ok, discarded", and one_response_for_all()), and as real servers log
them in public posts (under no licence: not copied; a docker-mailserver log's BOUNCE, forum
and blog logs of EICAR tests' `discarded`, ClamSMTP's). The lines around them are the shape
of a real docker-mailserver log (`postfix/smtp-amavis/smtp`, `postfix/smtpd-amavis/smtpd`),
with this project's hosts and queue IDs.
"""

import pytest
from test_jobs import chunks_of
from test_reallogs import rows

SUBMISSION = """\
Mar 15 21:55:22 lin2 postfix/submission/smtpd[2257785]: connect from unknown[172.19.0.1]
Mar 15 21:55:22 lin2 postfix/submission/smtpd[2257785]: 27937120C92: client=unknown[172.19.0.1], sasl_method=PLAIN, sasl_username=hola@corp.example
Mar 15 21:55:22 lin2 postfix/qmgr[2501]: 27937120C92: from=<hola@corp.example>, size=225, nrcpt=1 (queue active)
Mar 15 21:55:22 lin2 postfix/submission/smtpd[2257785]: disconnect from unknown[172.19.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
"""
DELIVERY = ("Mar 15 21:55:22 lin2 postfix/smtp-amavis/smtp[2259669]: 27937120C92: "
            "to={to}, relay={relay}, delay=0.14, delays=0.05/0/0/0.09, dsn={dsn}, "
            "status=sent ({reply})\n")
REMOVED = "Mar 15 21:55:22 lin2 postfix/qmgr[2501]: 27937120C92: removed\n"
AMAVIS = "127.0.0.1[127.0.0.1]:10024"


def _outcome(cli, tmp_path, reply, dsn="2.5.0", relay=AMAVIS, to="<mario@dest.example>"):
    log = tmp_path / "maillog"
    log.write_text(SUBMISSION + DELIVERY.format(to=to, relay=relay, dsn=dsn, reply=reply)
                   + REMOVED)
    [row] = rows(cli, "messages", log, year=2026)
    [user] = rows(cli, "users", log, year=2026)
    counts = {name: user[name] for name in ("sent", "bounced", "rejected")}
    return row["status"], row["reason"], counts


@pytest.mark.parametrize("reply, dsn, status", [
    ("250 2.5.0 Ok, id=2243374-09, BOUNCE", "2.5.0", "bounced"),
    ("250 2.7.0 Ok, discarded, id=07554-01 - INFECTED: Eicar-Test-Signature", "2.7.0",
     "rejected"),
    ("250 2.7.1 Ok, discarded, id=00218-04 - VIRUS: HTML.Phishing.Bank-753", "2.7.1",
     "rejected"),
    ("250 2.7.0 Ok, discarded, id=03491-01 - spam", "2.7.0", "rejected"),
    ("250 2.6.0 Ok, discarded, id=01234-01 - BAD HEADER", "2.6.0", "rejected"),
    ("250 2.5.0 Ok, id=03164-18, DISCARD(bounce.suppressed)", "2.5.0", "rejected"),
    # Recipients of different verdicts, none passed: every one refused.
    ("250 2.5.0 Ok, id=03164-19, 1 REJECT, and 1 BOUNCE", "2.5.0", "rejected"),
    # LMTP: one answer per recipient.
    ("250 2.5.0 Ok <mario@dest.example>, DSN was sent (554 5.7.0 Bounce, id=11707-01 - spam)",
     "2.5.0", "bounced"),
    ("250 2.5.0 Ok <mario@dest.example>, DSN suppressed (554 5.7.0 Bounce, id=11707-01 - spam)",
     "2.5.0", "rejected"),
    ("250 Virus Detected; Discarded Email", "2.0.0", "rejected"),
])
def test_a_filter_that_bounced_or_dropped_the_message_is_that_outcome(cli, tmp_path, reply,
                                                                       dsn, status):
    got, reason, counts = _outcome(cli, tmp_path, reply, dsn)
    assert (got, reason) == (status, reply)
    assert counts == {"sent": 0, "bounced": int(status == "bounced"),
                      "rejected": int(status == "rejected")}


def test_an_older_postfixs_line_is_read_the_same(cli, tmp_path):
    # Postfix before 2.3 wrote no delays= nor dsn= (a 2007 relay's line, quoted in a public
    # log parser: `to=<...>, relay=127.0.0.1[127.0.0.1], delay=3, status=sent (250 2.7.1 Ok,
    # discarded, id=00218-04 - VIRUS: HTML.Phishing.Bank-753)`): not the plain shape.
    log = tmp_path / "maillog"
    log.write_text(SUBMISSION + "Mar 15 21:55:22 lin2 postfix/smtp[4]: 27937120C92: "
                   "to=<mario@dest.example>, relay=127.0.0.1[127.0.0.1], delay=3, status=sent "
                   "(250 2.7.1 Ok, discarded, id=00218-04 - VIRUS: HTML.Phishing.Bank-753)\n"
                   + REMOVED)
    [row] = rows(cli, "messages", log, year=2026)
    assert (row["status"], row["dsn"]) == ("rejected", "")


@pytest.mark.parametrize("reply, relay", [
    # One answer for every recipient of a mixed verdict names none of them: still sent.
    ("250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 9F00A1B2C3, "
     "but 1 BOUNCE", AMAVIS),
    ("250 2.0.0 Ok: queued as 9F00A1B2C3", AMAVIS),
    # A remote server's answer is never a filter's, whatever it says.
    ("250 2.5.0 Ok, id=2243374-09, BOUNCE", "mx.dest.example[203.0.113.5]:25"),
    ("250 2.7.0 Ok, discarded, id=1 - spam", "mx.dest.example[203.0.113.5]:25"),
    ("250 Virus Detected; Discarded Email", "[2001:db8::25]:25"),
    # Nor a delivery to a mailbox on this host.
    ("250 2.0.0 <mario@dest.example> Ok, discarded, id=1 Saved", "lin2[private/dovecot-lmtp]"),
])
def test_any_other_answer_is_sent(cli, tmp_path, reply, relay):
    assert _outcome(cli, tmp_path, reply, relay=relay)[0] == "sent"


def test_an_address_that_holds_a_filters_words_is_no_filters_answer(cli, tmp_path):
    # A quoted local part may hold commas: the relay is read from its own field, not from the
    # recipient's text (the server at dest.example, the sender's own, answers as amavisd does).
    address = '<"x, relay=127.0.0.1[127.0.0.1]:10024, delay=1"@dest.example>'
    assert _outcome(cli, tmp_path, "250 2.5.0 Ok, id=1, BOUNCE",
                    relay="mx.dest.example[203.0.113.5]:25", to=address)[0] == "sent"


def test_the_filters_own_notice_to_the_sender_is_not_the_users_mail(cli, tmp_path):
    # amavisd's non-delivery notice comes back through the filter's smtpd, from=<>, with a
    # queue ID of its own: the user still has one message, bounced.
    log = tmp_path / "maillog"
    log.write_text(
        SUBMISSION
        + "Mar 15 21:55:22 lin2 postfix/smtpd-amavis/smtpd[2259671]: connect from localhost[127.0.0.1]\n"
        "Mar 15 21:55:22 lin2 postfix/smtpd-amavis/smtpd[2259671]: 46593121095: client=localhost[127.0.0.1]\n"
        "Mar 15 21:55:22 lin2 postfix/smtpd-amavis/smtpd[2259671]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n"
        "Mar 15 21:55:22 lin2 postfix/qmgr[2501]: 46593121095: from=<>, size=2323, nrcpt=1 (queue active)\n"
        + DELIVERY.format(to="<mario@dest.example>", relay=AMAVIS, dsn="2.5.0",
                          reply="250 2.5.0 Ok, id=2243374-09, BOUNCE")
        + REMOVED
        + "Mar 15 21:55:22 lin2 postfix/lmtp[2259673]: 46593121095: to=<hola@corp.example>, relay=lin2[/var/run/dovecot/lmtp], delay=0.04, delays=0.01/0/0.02/0.02, dsn=2.0.0, status=sent (250 2.0.0 <hola@corp.example> Y6a3EvpUt2l+eyIAYRBqSw Saved)\n"
        "Mar 15 21:55:22 lin2 postfix/qmgr[2501]: 46593121095: removed\n")
    [user] = rows(cli, "users", log, year=2026)
    assert (user["messages"], user["recipients"], user["sent"], user["bounced"]) == (1, 1, 0, 1)
    assert [row["recipient"] for row in rows(cli, "messages", log, year=2026)] == [
        "mario@dest.example"]


@pytest.mark.parametrize("chunk_size", [300, 700, 1500, 4000])
def test_two_jobs_count_what_one_counts(cli, monkeypatch, tmp_path, chunk_size):
    # A worker folds the delivery lines of a message opened in a chunk before its own (most
    # of these, in chunks this small), as this process reads its own: the same outcomes.
    answers = ["250 2.5.0 Ok, id=1-01, BOUNCE", "250 2.7.0 Ok, discarded, id=1-02 - spam",
               "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 1A",
               "250 Virus Detected; Discarded Email",
               "250 2.5.0 Ok <m@dest.example>, DSN was sent (554 5.7.0 Bounce, id=1-03 - spam)"]
    lines = []
    for number in range(40):
        queue_id = f"{0x27937120C92 + number:X}"
        pid = 2257000 + number
        lines += [
            f"Mar 15 21:{number:02d}:00 lin2 postfix/submission/smtpd[{pid}]: connect from unknown[172.19.0.1]",
            f"Mar 15 21:{number:02d}:01 lin2 postfix/submission/smtpd[{pid}]: {queue_id}: client=unknown[172.19.0.1], sasl_method=PLAIN, sasl_username=u{number % 3}@corp.example",
            f"Mar 15 21:{number:02d}:02 lin2 postfix/qmgr[2501]: {queue_id}: from=<u@corp.example>, size=225, nrcpt=1 (queue active)",
            f"Mar 15 21:{number:02d}:03 lin2 postfix/submission/smtpd[{pid}]: disconnect from unknown[172.19.0.1] ehlo=2 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
        ]
    # Each delivered after the next two messages' lines, often in a chunk of its own.
    for number in range(40):
        queue_id = f"{0x27937120C92 + number:X}"
        lines.insert(min(len(lines), 4 * number + 12 + number),
                     f"Mar 15 21:{number + 2:02d}:04 lin2 postfix/smtp-amavis/smtp[9]: {queue_id}: to=<m@dest.example>, relay={AMAVIS}, delay=0.1, delays=0/0/0/0.1, dsn=2.5.0, status=sent ({answers[number % len(answers)]})")
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n")
    options = ["-r", "users", "-f", "csv", "--columns", "user,sent,bounced,rejected,deferred",
               "--year", "2026", "--tz", "UTC", log]
    one = cli(*options, "--jobs", 1)
    assert one.code == 0, one.err
    chunks_of(chunk_size, monkeypatch)
    two = cli(*options, "--jobs", 2)
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
    totals = [sum(int(row.split(",")[column]) for row in one.out.splitlines()[1:])
              for column in (1, 2, 3)]
    assert totals == [8, 16, 16]  # sent (the pass), bounced (BOUNCE, DSN was sent), rejected
