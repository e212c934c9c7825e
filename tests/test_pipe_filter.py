"""A login's mail through a pipe(8) content filter: FILTER_README's simple filter, and the
SpamAssassin setup of countless guides (`spamassassin unix - n n - - pipe user=spamd
argv=/usr/bin/spamc -f -e /usr/sbin/sendmail -oi -f ${sender} ${recipient}`, content_filter on
smtpd). pipe(8) logs the original `status=sent (delivered via spamassassin service)`; the
filter re-injects the message through Postfix's sendmail, and pickup reads the copy under a
new queue ID (`uid=N from=<SENDER>`), nothing in the log naming the original but the same
sender and message-id, moments before or after the pipe's line. The login's mail goes on as
the copy (kind `reinjected`): its recipients' real outcomes are the user's, not "sent" to the
filter. Before, every such recipient was "sent" and the copy's bounces and deferrals nobody's.

The shapes are those of public logs: pickup's line before the pipe's and the copy's
message-id line after the original's removal (a Spanish course's mail server, 2023), pickup,
cleanup, then the pipe's line (serverfault and forum posts of 2008-2021), and the pipe's
line and the original's removal before pickup's (a relay howto of 2024); pipe's delivery to
dovecot-lda (`delivered via dovecot service`) makes no copy. Hosts, addresses and IDs here
are made up; the lines are written as Postfix 3.x writes them.
"""

import itertools
import random
from pathlib import Path

import pytest
from test_jobs import read_alike
from test_watch import engine_of, once

from maillog_sasl import parallel
from maillog_sasl.activity import OUTCOMES
from maillog_sasl.model import SENT

from support import interleaved_log, written

TIMES = ("--year", "2026")

LOGIN = """\
Jun  7 17:14:20 walle postfix/submission/smtpd[58790]: connect from unknown[203.0.113.9]
Jun  7 17:14:21 walle postfix/submission/smtpd[58790]: 8C7FC474CA: client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=arantxa
Jun  7 17:14:21 walle postfix/cleanup[58796]: 8C7FC474CA: message-id=<20230607171420.9A2D863400@delta.example.org>
Jun  7 17:14:21 walle postfix/qmgr[58782]: 8C7FC474CA: from=<arantxa@example.org>, size=1097, nrcpt=2 (queue active)
Jun  7 17:14:22 walle postfix/submission/smtpd[58790]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
"""
PIPED = """\
Jun  7 17:14:57 walle postfix/pipe[58797]: 8C7FC474CA: to=<a@example.net>, relay=spamassassin, delay=36, delays=20/0.01/0/16, dsn=2.0.0, status=sent (delivered via spamassassin service)
Jun  7 17:14:57 walle postfix/pipe[58797]: 8C7FC474CA: to=<b@example.com>, relay=spamassassin, delay=36, delays=20/0.01/0/16, dsn=2.0.0, status=sent (delivered via spamassassin service)
Jun  7 17:14:57 walle postfix/qmgr[58782]: 8C7FC474CA: removed
"""
ID = "<20230607171420.9A2D863400@delta.example.org>"
PICKED = "Jun  7 17:14:57 walle postfix/pickup[58781]: 91E04474D0: uid=110 from=<arantxa@example.org>\n"
NAMED = "Jun  7 17:14:57 walle postfix/cleanup[58796]: 91E04474D0: message-id=<20230607171420.9A2D863400@delta.example.org>\n"
COPY = """\
Jun  7 17:14:57 walle postfix/qmgr[58782]: 91E04474D0: from=<arantxa@example.org>, size=1531, nrcpt=2 (queue active)
Jun  7 17:14:58 walle postfix/smtp[58804]: 91E04474D0: to=<a@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=0.4, delays=0.02/0.02/0.1/0.3, dsn=5.7.1, status=bounced (host mx.example.net[198.51.100.7] said: 554 5.7.1 spam (in reply to end of DATA command))
Jun  7 17:14:58 walle postfix/smtp[58805]: 91E04474D0: to=<b@example.com>, relay=none, delay=0.5, delays=0.02/0.02/0.4/0, dsn=4.4.1, status=deferred (connect to mx.example.com[192.0.2.1]:25: Connection timed out)
"""
# The orders real logs show: pickup, the pipe's lines, cleanup's (the course's server);
# pickup and cleanup first (most posts); the pipe's lines and the removal first (the howto).
ORDERS = {"pickup first": LOGIN + PICKED + PIPED + NAMED + COPY,
          "copy named first": LOGIN + PICKED + NAMED + PIPED + COPY,
          "pipe first": LOGIN + PIPED + PICKED + NAMED + COPY}


@pytest.mark.parametrize("order", ORDERS)
def test_the_filters_copy_is_the_logins_mail(tmp_path, report, order):
    path = written(tmp_path, ORDERS[order])
    [user] = report("users", path, *TIMES)
    assert (user["user"], user["messages"], user["recipients"], user["sent"], user["deferred"],
            user["bounced"]) == ("arantxa", 1, 2, 0, 1, 1)
    assert [(row["queue_id"], row["recipient"], row["status"], row["client_ip"],
             row["sasl_username"]) for row in report("messages", path, *TIMES)] == [
        ("91E04474D0", "a@example.net", "bounced", "203.0.113.9", "arantxa"),
        ("91E04474D0", "b@example.com", "deferred", "203.0.113.9", "arantxa")]
    [queued] = report("queue", path, *TIMES)
    assert (queued["queue_id"], queued["kind"], queued["user"], queued["parent_queue_id"]) == (
        "91E04474D0", "reinjected", "arantxa", "8C7FC474CA")


def test_a_command_that_delivers_makes_no_copy(tmp_path, report):
    # dovecot-lda behind pipe(8): the recipient is delivered. A local program's mail from the
    # same sender a moment later (another message-id) is no copy of it.
    log = (LOGIN + PIPED.replace("spamassassin", "dovecot") + PICKED
           + NAMED.replace("20230607171420.9A2D863400", "cron.1234") + COPY)
    [user] = report("users", written(tmp_path, log), *TIMES)
    assert (user["recipients"], user["sent"], user["deferred"], user["bounced"]) == (2, 2, 0, 0)


def test_a_copy_long_after_is_not_paired(tmp_path, report):
    late = PICKED.replace("17:14:57", "17:16:30") + NAMED.replace("17:14:57", "17:16:30")
    [user] = report("users", written(tmp_path, LOGIN + PIPED + late + COPY), *TIMES)
    assert (user["sent"], user["deferred"], user["bounced"]) == (2, 0, 0)


def test_a_message_without_message_id(tmp_path, report):
    # A client that sent none, and Postfix added none to a remote client's mail: cleanup made
    # one up for the copy (a local submission), which holds the copy's queue ID.
    log = (LOGIN.replace(NAMED[:0] + "Jun  7 17:14:21 walle postfix/cleanup[58796]: 8C7FC474CA: "
                         "message-id=<20230607171420.9A2D863400@delta.example.org>\n", "")
           + PIPED + PICKED
           + NAMED.replace("20230607171420.9A2D863400@delta", "20230607171457.91E04474D0@walle")
           + COPY)
    assert "8C7FC474CA: message-id" not in log
    [user] = report("users", written(tmp_path, log), *TIMES)
    assert (user["sent"], user["deferred"], user["bounced"]) == (0, 1, 1)


def test_a_message_without_message_id_re_injected_as_gateway_mail(tmp_path, report):
    # FILTER_README's simple filter re-injects with `sendmail -G -i`: gateway mail, to which
    # cleanup adds no missing header (remote_header_rewrite_domain is empty by default). Of a
    # client that sent no Message-ID, cleanup logs `message-id=<>` for the original and the
    # copy alike (tests/reallogs/shenchris-gci, test_reallogs19.py). Before, such a copy was
    # never paired: both recipients "sent" to the filter, the bounce and deferral nobody's.
    none = "<>"
    log = LOGIN.replace(ID, none) + PIPED + PICKED + NAMED.replace(ID, none) + COPY
    assert log.count("message-id=<>") == 2
    path = written(tmp_path, log)
    [user] = report("users", path, *TIMES)
    assert (user["sent"], user["deferred"], user["bounced"]) == (0, 1, 1)
    assert {(row["queue_id"], row["parent_queue_id"], row["message_id"])
            for row in report("messages", path, *TIMES)} == {("91E04474D0", "8C7FC474CA", "")}


def test_the_copy_of_each_recipient(tmp_path, report):
    # One command per recipient (spamassassin_destination_recipient_limit = 1): a copy each.
    first, second, removed = PIPED.splitlines(keepends=True)
    other = "91E04474DF"
    log = (LOGIN + PICKED + NAMED + first + PICKED.replace("91E04474D0", other)
           + NAMED.replace("91E04474D0", other) + second + removed
           + COPY.replace("nrcpt=2", "nrcpt=1").replace("91E04474D0: to=<b@", f"{other}: to=<b@"))
    rows = report("messages", written(tmp_path, log), *TIMES)
    assert [(row["queue_id"], row["recipient"], row["status"]) for row in rows] == [
        ("91E04474D0", "a@example.net", "bounced"), (other, "b@example.com", "deferred")]


def filtered_log(seed: int, count: int = 60, gaps=(1, 5, 20, 70, 200), users: int = 3) -> str:
    """Logins' messages through a pipe filter (either order), to dovecot-lda (no copy), with
    local mail beside; the copies deferred and retried for hours: pairs across chunks. Story
    N begins one of `gaps` seconds after N - 1; `users` accounts send."""
    rng = random.Random(seed)
    begins = list(itertools.accumulate(rng.choice(gaps) for _ in range(count)))

    def tell(number, at):
        pid, original, copy = 4000 + number, f"{0xA0000 + number:X}", f"{0xC0000 + number:X}"
        user = f"u{number % users}@example.test"
        recipients = [f"r{index}@far{index}.test" for index in range(rng.randint(1, 3))]
        at(0, f"submission/smtpd[{pid}]: connect from unknown[198.51.100.{number}]")
        at(0, f"submission/smtpd[{pid}]: {original}: client=unknown[198.51.100.{number}], "
              f"sasl_method=PLAIN, sasl_username={user}")
        at(0, f"cleanup[77]: {original}: message-id=<m{number}@example.test>")
        at(1, f"qmgr[99]: {original}: from=<{user}>, size=900, nrcpt={len(recipients)} "
              "(queue active)")
        at(1, f"submission/smtpd[{pid}]: disconnect from unknown[198.51.100.{number}] ehlo=1 "
              f"auth=1 mail=1 rcpt={len(recipients)} data=1 quit=1 commands=6")
        service = rng.choice(("spamassassin", "spamassassin", "dovecot"))
        piped = [f"pipe[66]: {original}: to=<{address}>, relay={service}, delay=2, "
                 f"delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via {service} service)"
                 for address in recipients] + [f"qmgr[99]: {original}: removed"]
        picked = [f"pickup[44]: {copy}: uid=110 from=<{user}>",
                  f"cleanup[77]: {copy}: message-id=<m{number}@example.test>"]
        if service == "dovecot":
            picked = []
        elif rng.random() < 0.3:  # a local program's mail from the same sender
            at(2, f"pickup[44]: {copy}F: uid=0 from=<{user}>")
            at(2, f"cleanup[77]: {copy}F: message-id=<cron{number}@example.test>")
        for text in piped + picked if rng.random() < 0.5 else picked + piped:
            at(2, text)
        if not picked:
            return
        at(3, f"qmgr[99]: {copy}: from=<{user}>, size=1400, nrcpt={len(recipients)} "
              "(queue active)")
        for attempt in range(rng.randint(1, 4)):
            for address in recipients:
                at(4 + attempt * 1800, f"smtp[88]: {copy}: to=<{address}>, relay=none, delay=3, "
                   "delays=3/0/0/0, dsn=4.4.1, status=deferred (connect to far.test: "
                   "Connection refused)")
        if rng.random() < 0.5:
            at(8000, f"qmgr[99]: {copy}: removed")

    return interleaved_log(count, begins, tell)


@pytest.mark.parametrize("seed", range(4))
def test_filter_copies_with_jobs(tmp_path, monkeypatch, seed):
    log = written(tmp_path, filtered_log(seed))
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    one = read_alike(log, ((2, 2_000), (3, 700), (2, 5_000), (4, 1_200)))
    assert sum("'reinjected'" in item[1] for item in one[0]) > 20


@pytest.mark.parametrize("users", (1, 3))
def test_jobs_read_the_chunks_of_a_busy_filter(tmp_path, monkeypatch, users):
    # The incident on such a host: logins' mail every second or two, each message through the
    # filter, so every chunk starts between messages and their copies. Each copy whose
    # original may be the parent's is told by its message-id: the worker's own, or handed
    # back to the parent. Before, the parent read most chunks again itself: --jobs 2 was
    # slower than one process.
    log = written(tmp_path, filtered_log(users, 150, gaps=(0, 1, 2), users=users))
    checked = pieces_checked(monkeypatch)
    one = read_alike(log, ((2, 2_000), (3, 3_000), (2, 6_000), (4, 1_500)))
    assert sum("'reinjected'" in item[1] for item in one[0]) > 80
    assert len(checked) > 150 and not any(checked)


@pytest.mark.parametrize("order", ORDERS)
def test_jobs_cut_between_a_message_and_its_copy(tmp_path, monkeypatch, order):
    # Cut at each line of the three orders: the worker hands the copy of the parent's message
    # back, or keeps its own, by the message-id; no chunk is read again for them.
    log = written(tmp_path, ORDERS[order])
    checked = pieces_checked(monkeypatch)
    read_alike(log, [(2, size) for size in range(100, len(ORDERS[order]), 30)])
    assert len(checked) > 60 and not any("content filter" in why for why in checked)


def many_shapes_log(seed: int, count: int = 120, gateway: bool = False) -> str:
    """Logins' mail through a pipe filter every 0-3 seconds, of each shape the correlator
    pairs: the three orders and the copy done before pipe's lines, no message-id (cleanup
    makes one up for the copy, so any two such of a sender pair), a command (and a copy) for
    each recipient, a filter that deferred first (piped a minute or more after), copies sent,
    bounced with a notice, or deferred for hours, the same message-ids on many messages
    (bulk mail that sets its own), local mail of the same sender. `gateway`: the filter
    re-injects with `sendmail -G`, so the mail without one logs `message-id=<>`, copy too."""
    rng = random.Random(seed)
    begins = list(itertools.accumulate(rng.choice((0, 1, 2, 3, 30)) for _ in range(count)))
    message_ids = rng.choice((count, 4))

    def tell(number, at):
        pid, original, copy = 4000 + number, f"{0xA0000 + number:X}", f"{0xC0000 + number:X}"
        user = f"u{rng.randint(0, 1)}@example.test"
        recipients = [f"r{index}@far{index}.test" for index in range(rng.randint(1, 3))]
        message_id = None if rng.random() < 0.15 else f"<m{number % message_ids}@example.test>"
        client = f"unknown[198.51.100.{number % 250}]"
        at(0, f"submission/smtpd[{pid}]: connect from {client}")
        at(0, f"submission/smtpd[{pid}]: {original}: client={client}, sasl_method=PLAIN, "
              f"sasl_username={user}")
        if message_id or gateway:
            at(0, f"cleanup[77]: {original}: message-id={message_id or '<>'}")
        at(1, f"qmgr[99]: {original}: from=<{user}>, size=900, nrcpt={len(recipients)} "
              "(queue active)")
        at(1, f"submission/smtpd[{pid}]: disconnect from {client} ehlo=1 auth=1 mail=1 "
              f"rcpt={len(recipients)} data=1 quit=1 commands=6")
        moment = 2
        if rng.random() < 0.15:
            for address in recipients:
                at(moment, f"pipe[66]: {original}: to=<{address}>, relay=spamassassin, "
                           "delay=2, delays=1/0/0/1, dsn=4.3.0, status=deferred (temporary "
                           "failure. Command output: busy)")
            moment += rng.choice((70, 200, 400))
        each = rng.random() < 0.2
        copies = [f"{copy}{index}" for index in range(len(recipients))] if each else [copy]
        piped = [f"pipe[{66 + index * each}]: {original}: to=<{address}>, relay=spamassassin, "
                 "delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via spamassassin "
                 "service)" for index, address in enumerate(recipients)]
        piped.append(f"qmgr[99]: {original}: removed")
        picked = []
        for name in copies:
            made_up = "<>" if gateway else f"<20260302.{name}@mail.example.test>"
            picked += [f"pickup[44]: {name}: uid=110 from=<{user}>",
                       f"cleanup[77]: {name}: message-id={message_id or made_up}"]
        shape = rng.choice(("pipe first", "pickup first", "named first", "done first"))
        lines = {"pipe first": piped + picked, "pickup first": picked[:1] + piped + picked[1:],
                 "named first": picked + piped, "done first": picked}[shape]
        for text in lines:
            at(moment, text)
        if rng.random() < 0.3:
            at(moment, f"pickup[44]: {copy}F: uid=0 from=<{user}>")
            at(moment, f"cleanup[77]: {copy}F: message-id=<cron{number}@example.test>")
            at(moment + 1, f"qmgr[99]: {copy}F: removed")
        for name, targets in zip(copies, [[address] for address in recipients]
                                 if each else [recipients]):
            at(moment + 1, f"qmgr[99]: {name}: from=<{user}>, size=1400, "
                           f"nrcpt={len(targets)} (queue active)")
            fate = rng.choice(("sent", "bounced", "deferred"))
            for address in targets:
                for attempt in range(rng.randint(1, 3) if fate == "deferred" else 1):
                    at(moment + 2 + attempt * 900, f"smtp[88]: {name}: to=<{address}>, "
                       "relay=mx.far.test[192.0.2.5]:25, delay=1, delays=0/0/0/1, " + {
                           "sent": "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as Z1)",
                           "bounced": "dsn=5.1.1, status=bounced (host mx.far.test[192.0.2.5] "
                                      "said: 550 5.1.1 no such user (in reply to RCPT TO "
                                      "command))",
                           "deferred": "dsn=4.4.1, status=deferred (connect to far.test: "
                                       "Connection refused)"}[fate])
            if fate == "bounced":
                notice = f"N{name}"
                at(moment + 2, f"bounce[55]: {name}: sender non-delivery notification: {notice}")
                at(moment + 2, f"qmgr[99]: {notice}: from=<>, size=2000, nrcpt=1 (queue active)")
                at(moment + 3, f"local[56]: {notice}: to=<{user}>, relay=local, delay=0, "
                               "delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)")
                at(moment + 3, f"qmgr[99]: {notice}: removed")
            if fate != "deferred":
                at(moment + 2, f"qmgr[99]: {name}: removed")
        if shape == "done first":
            for text in piped:
                at(moment + 4, text)

    return interleaved_log(count, begins, tell)


@pytest.mark.parametrize("seed", (12, 21, 27, 29, 32))
def test_jobs_on_copies_of_every_shape(tmp_path, seed):
    # Each seed found a worker keeping a copy whose original (no message-id) was the parent's,
    # its sender or delivery told only in the lines handed back.
    log = written(tmp_path, many_shapes_log(seed))
    rng = random.Random(seed)
    read_alike(log, ((2, rng.randint(300, 3_000)), (2, rng.randint(3_000, 9_000)),
                     (2, rng.randint(300, 3_000)), (3, rng.randint(300, 3_000)),
                     (4, rng.randint(200, 1_500))))


@pytest.mark.parametrize("seed", (12, 21, 27))
def test_jobs_on_copies_re_injected_as_gateway_mail(tmp_path, seed):
    log = many_shapes_log(seed, gateway=True)
    assert log.count("message-id=<>") > 20
    rng = random.Random(seed)
    read_alike(written(tmp_path, log), ((2, rng.randint(300, 3_000)),
                                        (3, rng.randint(300, 3_000)),
                                        (4, rng.randint(200, 1_500))))


def test_jobs_a_copy_of_a_message_born_in_the_lines_handed_back(tmp_path, report):
    # Messages without a message-id: cleanup makes one up for each copy, so a copy pairs with
    # any of its sender's. A1's session connected before the chunk: its client= line, handed
    # back, makes A1 in the parent only when the piece is applied. A1 is piped first and takes
    # the copy C3; B2, the chunk's own, must not.
    lines = quiet(f"Mar  2 10:00:0{second // 2}" for second in range(20))
    lines.insert(0, "Mar  2 10:00:00 mail postfix/submission/smtpd[100]: connect from "
                    "unknown[203.0.113.1]")
    for pid, queue_id, second in ((100, "4E2D7A01A1", 10), (200, "4E2D7A01B2", 11)):
        if pid == 200:
            lines.append(f"Mar  2 10:00:{second} mail postfix/submission/smtpd[{pid}]: "
                         "connect from unknown[203.0.113.2]")
        lines += [f"Mar  2 10:00:{second} mail postfix/submission/smtpd[{pid}]: {queue_id}: "
                  f"client=unknown[203.0.113.{pid // 100}], sasl_method=PLAIN, "
                  "sasl_username=ann",
                  f"Mar  2 10:00:{second} mail postfix/qmgr[9]: {queue_id}: "
                  "from=<ann@example.test>, size=900, nrcpt=1 (queue active)"]
    for queue_id, copy, second in (("4E2D7A01A1", "4E2D7A01C3", 12), ("4E2D7A01B2", "4E2D7A01C4", 13)):
        lines += [f"Mar  2 10:00:{second} mail postfix/pipe[6]: {queue_id}: "
                  "to=<bob@example.net>, relay=spamassassin, delay=2, delays=1/0/0/1, "
                  "dsn=2.0.0, status=sent (delivered via spamassassin service)",
                  f"Mar  2 10:00:{second} mail postfix/qmgr[9]: {queue_id}: removed",
                  f"Mar  2 10:00:{second} mail postfix/pickup[4]: {copy}: uid=110 "
                  "from=<ann@example.test>",
                  f"Mar  2 10:00:{second} mail postfix/cleanup[7]: {copy}: "
                  f"message-id=<20260302100{second}.{copy}@mail.example.test>",
                  f"Mar  2 10:00:{second} mail postfix/qmgr[9]: {copy}: "
                  "from=<ann@example.test>, size=1400, nrcpt=1 (queue active)"]
    for copy, status in (("4E2D7A01C3", "bounced"), ("4E2D7A01C4", "deferred")):
        lines.append(f"Mar  2 10:00:20 mail postfix/smtp[8]: {copy}: to=<bob@example.net>, "
                     "relay=none, delay=1, delays=0/0/1/0, dsn=5.0.0, "
                     f"status={status} (connect to example.net: Connection refused)")
    log = written(tmp_path, "\n".join(lines) + "\n")
    # A chunk (the third, or the second with 3 jobs) that starts at A1's client= line.
    read_alike(log, [(jobs, size) for jobs in (2, 3)
                     for size in (*range(1_150, 1_270, 8), *range(2_300, 2_480, 8))])
    assert [(row["queue_id"], row["status"], row["client_ip"])
            for row in report("messages", log, *TIMES, "--jobs", "2")] == [
        ("4E2D7A01C3", "bounced", "203.0.113.1"), ("4E2D7A01C4", "deferred", "203.0.113.2")]


def test_jobs_local_mail_let_go_after_its_lines_folded(tmp_path):
    # Local mail pickup reads is followed for a minute, and let go at the next sweep (a new
    # ten-minute slot). Cut after pickup's lines, the worker folded the mail's later lines
    # (a message the parent holds) and put the fold in the stream after that sweep, where
    # the parent had let the mail go: its delivery counted untracked, not used (--stats).
    lines = quiet(f"Mar  2 06:2{minute}:00" for minute in range(5)) + [
        "Mar  2 06:25:18 mail postfix/pickup[9603]: F3B46A08983: uid=0 from=<root>",
        "Mar  2 06:25:19 mail postfix/cleanup[9612]: F3B46A08983: "
        "message-id=<20260302062519.F3B46A08983@mail.example.test>",
        "Mar  2 06:25:19 mail postfix/qmgr[1287]: F3B46A08983: from=<root@mail.example.test>, "
        "size=5820, nrcpt=1 (queue active)",
        "Mar  2 06:25:19 mail postfix/local[9624]: F3B46A08983: to=<root@mail.example.test>, "
        "orig_to=<root>, relay=local, delay=0.09, delays=0.01/0.03/0.01/0.03, dsn=2.0.0, "
        "status=sent (delivered to mailbox)",
        "Mar  2 09:07:28 mail postfix/cleanup[10121]: 89C433B1A105: "
        "message-id=<769558ea@example.test>"]
    log = written(tmp_path, "\n".join(lines) + "\n")
    one = read_alike(log, [(jobs, size) for jobs in (2, 3) for size in range(100, 900, 10)])
    assert (one[1]["lines_used"], one[1]["untracked_queue_lines"]) == (4, 1)


def test_jobs_a_copy_on_a_queue_id_whose_retries_were_folded(tmp_path):
    # The queue ID's earlier life (the parent's message, its deferral folded by the worker)
    # goes into the stream before the copy's birth: the copy handed back takes its birth's
    # place, not the fold's. (Found by a reviewer's generator.)
    log = written(tmp_path, """\
Mar 02 10:13:35 mail postfix/smtp[88]: C0002: to=<r0@far0.test>, relay=none, delay=3, delays=3/0/0/0, dsn=4.4.1, status=deferred (connect to far.test: Connection refused)
Mar 02 10:13:38 mail postfix/pickup[44]: C0002: uid=110 from=<u1@example.test>
Mar 02 10:13:38 mail postfix/cleanup[77]: C0002: message-id=<m0@example.test>
Mar 02 10:13:38 mail postfix/pipe[66]: A001E: to=<r1@far1.test>, relay=spamassassin, delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via spamassassin service)
Mar 02 10:13:38 mail postfix/pipe[66]: A001E: to=<r2@far2.test>, relay=spamassassin, delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via spamassassin service)
""")
    one = read_alike(log, [(jobs, size) for jobs in (2, 3) for size in range(100, 700, 6)])
    assert (one[1]["lines_read"], one[1]["lines_used"]) == (5, 2)


def test_jobs_a_copy_named_twice(tmp_path):
    # A copy the worker kept for its own B0BBB2 (the same message-id) is named again, by a
    # message-id cleanup made up: one process then gives it to the parent's A0AAA1 (no
    # message-id of its own). The parent checked the first name only: the chunk is its.
    lines = [
        "Mar  2 10:00:05 mail postfix/submission/smtpd[100]: connect from unknown[203.0.113.1]",
        "Mar  2 10:00:05 mail postfix/submission/smtpd[100]: A0AAA1: "
        "client=unknown[203.0.113.1], sasl_method=PLAIN, sasl_username=u1@example.test",
        "Mar  2 10:00:06 mail postfix/qmgr[99]: A0AAA1: from=<u1@example.test>, size=900, "
        "nrcpt=1 (queue active)",
        "Mar  2 10:00:08 mail postfix/pipe[66]: A0AAA1: to=<r0@far0.test>, relay=spamassassin, "
        "delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via spamassassin service)",
        "Mar  2 10:00:08 mail postfix/qmgr[99]: A0AAA1: removed"]
    lines += quiet(f"Mar  2 10:00:1{second // 4}" for second in range(16))
    lines += [
        "Mar  2 10:00:30 mail postfix/submission/smtpd[200]: connect from unknown[203.0.113.2]",
        "Mar  2 10:00:30 mail postfix/submission/smtpd[200]: B0BBB2: "
        "client=unknown[203.0.113.2], sasl_method=PLAIN, sasl_username=u1@example.test",
        "Mar  2 10:00:30 mail postfix/cleanup[77]: B0BBB2: message-id=<m97@example.test>",
        "Mar  2 10:00:31 mail postfix/qmgr[99]: B0BBB2: from=<u1@example.test>, size=900, "
        "nrcpt=1 (queue active)",
        "Mar  2 10:00:32 mail postfix/pickup[44]: C0CCC6: uid=110 from=<u1@example.test>",
        "Mar  2 10:00:32 mail postfix/cleanup[77]: C0CCC6: message-id=<m97@example.test>",
        "Mar  2 10:00:33 mail postfix/cleanup[77]: C0CCC6: "
        "message-id=<20260302.C0CCC6@mail.example.test>",
        "Mar  2 10:00:34 mail postfix/qmgr[99]: C0CCC6: from=<u1@example.test>, size=1400, "
        "nrcpt=1 (queue active)"]
    log = written(tmp_path, "\n".join(lines) + "\n")
    one = read_alike(log, [(2, size) for size in range(700, 1_300, 6)])
    assert [fields for kind, fields in one[0] if "C0CCC6" in fields and "A0AAA1" in fields]


def test_jobs_a_copy_whose_lines_came_before_cleanups(tmp_path):
    # qmgr's line of the copy before cleanup's (lines out of order: a relay, a merge of
    # logs): the worker read it; handing back pickup's and cleanup's alone would lose it.
    log = written(tmp_path, """\
Mar  2 10:00:05 mail postfix/submission/smtpd[100]: connect from unknown[203.0.113.1]
Mar  2 10:00:05 mail postfix/submission/smtpd[100]: 4E2D7A01A1: client=unknown[203.0.113.1], sasl_method=PLAIN, sasl_username=ann
Mar  2 10:00:05 mail postfix/cleanup[77]: 4E2D7A01A1: message-id=<one@example.test>
Mar  2 10:00:06 mail postfix/qmgr[99]: 4E2D7A01A1: from=<ann@example.test>, size=900, nrcpt=1 (queue active)
Mar  2 10:00:06 mail postfix/submission/smtpd[100]: disconnect from unknown[203.0.113.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Mar  2 10:00:08 mail postfix/pipe[66]: 4E2D7A01A1: to=<r0@far0.test>, relay=spamassassin, delay=2, delays=1/0/0/1, dsn=2.0.0, status=sent (delivered via spamassassin service)
Mar  2 10:00:08 mail postfix/qmgr[99]: 4E2D7A01A1: removed
Mar  2 10:00:10 mail postfix/anvil[5]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Mar  2 09:59:00
Mar  2 10:00:10 mail postfix/anvil[5]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Mar  2 09:59:00
Mar  2 10:00:10 mail postfix/anvil[5]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Mar  2 09:59:00
Mar  2 10:00:10 mail postfix/pickup[44]: 4E2D7A01C3: uid=110 from=<ann@example.test>
Mar  2 10:00:10 mail postfix/qmgr[99]: 4E2D7A01C3: from=<ann@example.test>, size=1400, nrcpt=1 (queue active)
Mar  2 10:00:10 mail postfix/cleanup[77]: 4E2D7A01C3: message-id=<one@example.test>
Mar  2 10:00:11 mail postfix/smtp[8]: 4E2D7A01C3: to=<r0@far0.test>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to far0.test: Connection refused)
""")
    one = read_alike(log, [(2, size) for size in range(100, 1_700, 8)])
    assert sum("'reinjected'" in fields for _, fields in one[0]) == 1


def quiet(stamps, host: str = "mail") -> list:
    """A line of no use to the correlator (anvil's statistics) at each of `stamps`, of `host`:
    to put a chunk's start where a test wants it."""
    return [f"{stamp} {host} postfix/anvil[5]: statistics: max connection rate 1/60s for "
            "(smtp:192.0.2.1) at Mar  2 09:59:00" for stamp in stamps]


def pieces_checked(monkeypatch) -> list:
    """What parallel._Merge.why_not() said of each worker's piece from now on ('': used)."""
    checked: list = []
    why_not = parallel._Merge.why_not

    def noted(merge, piece, guess, clock):
        checked.append(why_not(merge, piece, guess, clock))
        return checked[-1]

    monkeypatch.setattr(parallel._Merge, "why_not", noted)
    return checked


# The orders, and a gateway copy (`message-id=<>`, as its original) named before pipe's lines.
WATCHED = {**ORDERS, "gateway copy": ORDERS["copy named first"].replace(ID, "<>")}


@pytest.mark.parametrize("order", WATCHED)
def test_watch_pairs_a_copy_across_runs(tmp_path, cli, order):
    # The run ends between the original's lines and its copy's: the delivery waiting for its
    # copy (the message removed, for "pipe first"), or the copy waiting for it, is kept in the
    # state for the next run.
    text = WATCHED[order]
    named_first = order in ("copy named first", "gateway copy")
    cut = text.index(PIPED) if named_first else text.index(NAMED)
    path, state = tmp_path / "maillog", tmp_path / "state.sqlite"
    path.write_text(text[:cut])
    once(cli, state, path)
    with open(path, "a") as out:
        out.write(text[cut:])
    once(cli, state, path)
    engine = engine_of(state)
    assert [(message.queue_id, message.kind, message.sasl_username, message.client_ip)
            for message in engine.correlator.messages.values()] == [
        ("91E04474D0", "reinjected", "arantxa", "203.0.113.9")]
    # (The delivery that took its copy is kept COPY_WITHIN: a command each may make more.)
    assert all(delivery[4] for deliveries in engine.correlator._piped.values()
               for delivery in deliveries)
    engine.activity.close()
    # The original is finished, its recipients counted with the copy (still queued: b@ waits).
    assert engine.activity.users["arantxa"].totals()[OUTCOMES.index(SENT)] == 0


def test_the_copy_done_before_the_pipes_lines(tmp_path, report):
    # The command lingers once sendmail has queued the copy: the copy is read, delivered and
    # removed before pipe logs the original's recipients (seen against Postfix 3.7 with a
    # filter that sleeps a second after sendmail: tests/e2e/test_pipe_filter_postfix.py).
    done = (COPY.replace("status=deferred (connect to mx.example.com[192.0.2.1]:25: "
                         "Connection timed out)", "status=sent (250 2.0.0 Ok: queued as 4X)")
            .replace("dsn=4.4.1", "dsn=2.0.0")
            + "Jun  7 17:14:58 walle postfix/qmgr[58782]: 91E04474D0: removed\n")
    log = LOGIN + PICKED + NAMED + done + PIPED.replace("17:14:57", "17:14:59")
    path = written(tmp_path, log)
    [user] = report("users", path, *TIMES)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 1, 1)
    assert {row["queue_id"] for row in report("messages", path, *TIMES)} == {"91E04474D0"}
    assert report("queue", path, *TIMES) == []


FIXTURE = Path(__file__).parent / "fixtures" / "postfix37-pipe-filter" / "maillog"


def test_a_real_postfix_log_of_both_orders(report):
    # Postfix 3.7.11 (tests/fixtures/postfix37-pipe-filter/README): one copy read and
    # delivered before pipe's lines, one read after the original's removal, and a message the
    # command refused (exit 69: bounced by pipe).
    args = ("--year", "2026", "--tz", "UTC")
    [user] = report("users", FIXTURE, *args)
    assert (user["messages"], user["recipients"], user["sent"], user["bounced"],
            user["expired"], user["deferred"]) == (3, 7, 2, 3, 2, 0)
    rows = report("messages", FIXTURE, *args)
    assert sorted({(row["queue_id"], row["client_ip"]) for row in rows}) == [
        ("37A3133C006", "127.0.50.9"), ("72B5433C001", "127.0.50.9"),
        ("D7CF033CA52", "127.0.50.9")]


def test_an_idle_session_before_a_forgotten_delivery_with_jobs(tmp_path):
    # One sweep of host `mail` (its first line in a new ten-minute slot, after an hour's
    # silence) closes a session left idle and forgets a delivery to dovecot-lda whose message
    # was removed, in that order. Cut between the two, the parent held the delivery and a
    # worker the session: the parent forgot its delivery at the worker's slot mark, before the
    # worker's session was handed on.
    lines = [
        "Mar  2 10:00:10 mail postfix/submission/smtpd[7]: connect from unknown[203.0.113.5]",
        "Mar  2 10:00:10 mail postfix/submission/smtpd[7]: 1A2B3C: client=unknown[203.0.113.5], "
        "sasl_method=PLAIN, sasl_username=ann",
        "Mar  2 10:00:10 mail postfix/cleanup[8]: 1A2B3C: message-id=<one@example.test>",
        "Mar  2 10:00:10 mail postfix/qmgr[9]: 1A2B3C: from=<ann@example.test>, size=900, "
        "nrcpt=1 (queue active)",
        "Mar  2 10:00:11 mail postfix/submission/smtpd[7]: disconnect from unknown[203.0.113.5] "
        "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
        "Mar  2 10:00:30 mail postfix/pipe[6]: 1A2B3C: to=<bob@example.test>, relay=dovecot, "
        "delay=20, delays=20/0/0/0, dsn=2.0.0, status=sent (delivered via dovecot service)",
        "Mar  2 10:00:30 mail postfix/qmgr[9]: 1A2B3C: removed"]
    lines += quiet((f"Mar  2 10:00:3{second}" for second in range(10)), host="mx2")
    lines += [
        "Mar  2 10:00:40 mail postfix/submission/smtpd[17]: connect from unknown[198.51.100.8]",
        "Mar  2 10:00:41 mail postfix/submission/smtpd[17]: warning: unknown[198.51.100.8]: "
        "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        "Mar  2 11:45:00 mail postfix/anvil[5]: statistics: max cache size 1 at Mar  2 11:44:00"]
    one = read_alike(written(tmp_path, "\n".join(lines) + "\n"),
                     ((2, 400), (3, 800), (2, 1_200), (4, 1_600)))
    assert [kind for kind, _ in one[0]] == ["Session", "Session", "Message"]


# Two logins, alice and bob, send as one address (office@) a message without a Message-ID
# each, through FILTER_README's filter (`sendmail -G`: `message-id=<>` for the copies too);
# pickup reads bob's copy first. Nothing but the recipients, logged after, tells the copies
# apart.
TWO_LOGINS = """\
May  5 10:23:30 mail postfix/smtpd[915]: connect from unknown[198.51.100.10]
May  5 10:23:30 mail postfix/smtpd[915]: 4A1C01D1C0D: client=unknown[198.51.100.10], sasl_method=LOGIN, sasl_username=alice
May  5 10:23:30 mail postfix/cleanup[921]: 4A1C01D1C0D: message-id=<>
May  5 10:23:30 mail postfix/qmgr[914]: 4A1C01D1C0D: from=<office@example.org>, size=1367, nrcpt=1 (queue active)
May  5 10:23:30 mail postfix/smtpd[915]: disconnect from unknown[198.51.100.10] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
May  5 10:23:31 mail postfix/smtpd[916]: connect from unknown[203.0.113.20]
May  5 10:23:31 mail postfix/smtpd[916]: 5B2D01D1C1E: client=unknown[203.0.113.20], sasl_method=LOGIN, sasl_username=bob
May  5 10:23:31 mail postfix/cleanup[921]: 5B2D01D1C1E: message-id=<>
May  5 10:23:31 mail postfix/qmgr[914]: 5B2D01D1C1E: from=<office@example.org>, size=1402, nrcpt=1 (queue active)
May  5 10:23:31 mail postfix/smtpd[916]: disconnect from unknown[203.0.113.20] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""
TWO_PIPED = """\
May  5 10:23:32 mail postfix/pipe[922]: 4A1C01D1C0D: to=<carol@far.example>, relay=filter, delay=2, delays=1/0.01/0/1, dsn=2.0.0, status=sent (delivered via filter service)
May  5 10:23:32 mail postfix/qmgr[914]: 4A1C01D1C0D: removed
May  5 10:23:32 mail postfix/pipe[923]: 5B2D01D1C1E: to=<dave@other.example>, relay=filter, delay=1, delays=0.5/0.01/0/0.5, dsn=2.0.0, status=sent (delivered via filter service)
May  5 10:23:32 mail postfix/qmgr[914]: 5B2D01D1C1E: removed
"""
TWO_PICKED = """\
May  5 10:23:33 mail postfix/pickup[713]: 6C3E01D1C2F: uid=800 from=<office@example.org>
May  5 10:23:33 mail postfix/cleanup[921]: 6C3E01D1C2F: message-id=<>
May  5 10:23:33 mail postfix/pickup[713]: 7D4F01D1C30: uid=800 from=<office@example.org>
May  5 10:23:33 mail postfix/cleanup[921]: 7D4F01D1C30: message-id=<>
"""
TWO_COPIES = """\
May  5 10:23:33 mail postfix/qmgr[914]: 6C3E01D1C2F: from=<office@example.org>, size=1593, nrcpt=1 (queue active)
May  5 10:23:33 mail postfix/qmgr[914]: 7D4F01D1C30: from=<office@example.org>, size=1558, nrcpt=1 (queue active)
May  5 10:23:34 mail postfix/smtp[930]: 6C3E01D1C2F: to=<dave@other.example>, relay=mx.other.example[192.0.2.7]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=5.1.1, status=bounced (host mx.other.example[192.0.2.7] said: 550 5.1.1 <dave@other.example>: no such user (in reply to RCPT TO command))
May  5 10:23:34 mail postfix/qmgr[914]: 6C3E01D1C2F: removed
May  5 10:23:35 mail postfix/smtp[931]: 7D4F01D1C30: to=<carol@far.example>, relay=mx.far.example[192.0.2.8]:25, delay=2, delays=0.1/0/0.5/1.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9F8E7D)
May  5 10:23:35 mail postfix/qmgr[914]: 7D4F01D1C30: removed
"""
TWO_SHAPES = {
    "pipe first": TWO_LOGINS + TWO_PIPED + TWO_PICKED + TWO_COPIES,
    "copies first": TWO_LOGINS + TWO_PICKED + TWO_PIPED + TWO_COPIES,
    # A client's mail Postfix added no Message-ID to; cleanup made one up for each copy.
    "made-up ids": (TWO_LOGINS.replace("May  5 10:23:30 mail postfix/cleanup[921]: 4A1C01D1C0D: "
                             "message-id=<>\n", "")
                    .replace("May  5 10:23:31 mail postfix/cleanup[921]: 5B2D01D1C1E: "
                             "message-id=<>\n", "")
                    + TWO_PIPED
                    + TWO_PICKED.replace("6C3E01D1C2F: message-id=<>",
                                         "6C3E01D1C2F: message-id=<20200505.6C3E01D1C2F@mail>")
                    .replace("7D4F01D1C30: message-id=<>",
                             "7D4F01D1C30: message-id=<20200505.7D4F01D1C30@mail>")
                    + TWO_COPIES)}


# Copies read before either login's delivery to the filter are still taken in order, so crossed:
# when alice's delivery is read, bob's is not yet, and one login's copies are read so too (its
# commands linger once sendmail is done; a compromised account's spam without a Message-ID
# through a filter of several commands at once), which must stay paired. Telling the two apart
# would need the other login's queued message, which --jobs may hold in another process.
COPIES_BEFORE_EITHER = pytest.mark.xfail(strict=True, reason="copies read before both logins' "
                                         "deliveries to the filter are taken in order")


@pytest.mark.parametrize("shape", [pytest.param(shape, marks=COPIES_BEFORE_EITHER)
                                   if shape == "copies first" else shape for shape in TWO_SHAPES])
def test_no_users_fate_goes_to_another(tmp_path, report, shape):
    # Before, the first copy read went to the first message piped: alice's row was dave's
    # bounce, bob's carol's delivery. Now a copy two logins' messages may have made is paired
    # with neither: each recipient "sent" to the filter, as far as the log tells.
    path = written(tmp_path, TWO_SHAPES[shape])
    rows = report("messages", path, "--year", "2020")
    assert sorted((row["sasl_username"], row["recipient"], row["status"], row["relay"])
                  for row in rows) == [("alice", "carol@far.example", "sent", "filter"),
                                       ("bob", "dave@other.example", "sent", "filter")]
    assert report("messages", path, "--year", "2020", "--jobs", "2") == rows
    read_alike(path, [(2, size) for size in range(200, len(TWO_SHAPES[shape]), 150)])


@pytest.mark.parametrize("shape", ["pipe first", "copies first"])
def test_one_logins_messages_still_go_on_as_their_copies(tmp_path, report, shape):
    # The same two messages of one account from one client: whichever copy each takes, the
    # user's and the client's figures are the copies' outcomes, as before.
    log = TWO_SHAPES[shape].replace("sasl_username=bob", "sasl_username=alice").replace(
        "203.0.113.20", "198.51.100.10")
    path = written(tmp_path, log)
    [user] = report("users", path, "--year", "2020")
    assert (user["user"], user["sent"], user["bounced"]) == ("alice", 1, 1)
    assert {row["relay"] for row in report("messages", path, "--year", "2020")} == {
        "mx.other.example[192.0.2.7]:25", "mx.far.example[192.0.2.8]:25"}
