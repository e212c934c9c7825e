"""Lines a relay wrote out of order: qmgr's `removed` before the last delivery line of its queue
ID, or before bounce's notice line.

A central syslog fed over UDP (rsyslog's worker threads, a relay's queue) may write one host's
lines a little out of the order Postfix logged them. The tool closed a message at `removed`:
a recipient whose delivery line came after it was lost (its line counted among the untracked
queue IDs), and so was the bounce notice of one whose notice line came after it. A message
removed is now held for a few lines and seconds (correlate.LATE_LINES, LATE_WITHIN) for such
lines, and handed on in its place all the same: in one process, with --jobs at every chunk
size, and across runs of `watch`.

The logs below are written in Postfix's formats (smtp's, qmgr's, bounce's lines); every number
expected is counted from their lines.
"""

import datetime as dt

import pytest
from test_jobs import compare
from test_watch import engine_of, once

import maillog_sasl
from maillog_sasl.correlate import LATE_LINES, LATE_WITHIN, Correlator
from maillog_sasl.model import Message
from maillog_sasl.syslog import Clock

from support import COMPILED

HEAD = """\
Mar  3 10:00:00 mx postfix/submission/smtpd[100]: connect from unknown[203.0.113.9]
Mar  3 10:00:01 mx postfix/submission/smtpd[100]: 4AB1C2D3E4: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=ann@example.jp
Mar  3 10:00:01 mx postfix/cleanup[101]: 4AB1C2D3E4: message-id=<x1@example.jp>
Mar  3 10:00:01 mx postfix/qmgr[102]: 4AB1C2D3E4: from=<ann@example.jp>, size=900, nrcpt=2 (queue active)
Mar  3 10:00:02 mx postfix/submission/smtpd[100]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
Mar  3 10:00:03 mx postfix/smtp[103]: 4AB1C2D3E4: to=<a@two.example>, relay=mx.two.example[198.51.100.2]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 ok)
"""
REMOVED = "Mar  3 10:00:03 mx postfix/qmgr[102]: 4AB1C2D3E4: removed\n"
BOUNCED = ("Mar  3 10:00:03 mx postfix/smtp[104]: 4AB1C2D3E4: to=<b@three.example>, "
           "relay=mx.three.example[198.51.100.3]:25, delay=2, delays=0/0/1/1, dsn=5.1.1, "
           "status=bounced (host said: 550 5.1.1 no such user)\n")
# The log: the bounced recipient's line after `removed`.
REORDERED = HEAD + REMOVED + BOUNCED
NOTICE = """\
Mar  3 10:00:03 mx postfix/cleanup[101]: 5C6D7E8F90: message-id=<20260303100003.5C6D7E8F90@mx.example.jp>
Mar  3 10:00:03 mx postfix/bounce[105]: 4AB1C2D3E4: sender non-delivery notification: 5C6D7E8F90
Mar  3 10:00:03 mx postfix/qmgr[102]: 5C6D7E8F90: from=<>, size=2900, nrcpt=1 (queue active)
Mar  3 10:00:04 mx postfix/smtp[103]: 5C6D7E8F90: to=<ann@example.jp>, relay=mx.example.jp[198.51.100.9]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect to mx.example.jp[198.51.100.9]:25: Connection timed out)
"""
# The same queue ID, reused by the next message, of another login, ten seconds later.
REUSED = "".join(
    line.replace("Mar  3 10:00:0", "Mar  3 10:00:1").replace("ann@", "bob@")
    .replace("203.0.113.9", "203.0.113.20").replace("smtpd[100]", "smtpd[110]")
    .replace("x1@", "y1@").replace("a@two.example", "c@four.example")
    .replace("nrcpt=2", "nrcpt=1").replace("rcpt=2 data=1 quit=1 commands=7",
                                           "rcpt=1 data=1 quit=1 commands=6")
    for line in (HEAD + REMOVED).splitlines(keepends=True))


def _log(tmp_path, text, name="maillog"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _outcomes(rows):
    return [(row["sasl_username"], row["recipient"], row["status"]) for row in rows]


def test_a_delivery_line_after_removed_is_the_message_s(report, cli, tmp_path):
    path = _log(tmp_path, REORDERED)
    assert _outcomes(report("messages", "--year", "2026", path)) == [
        ("ann@example.jp", "a@two.example", "sent"),
        ("ann@example.jp", "b@three.example", "bounced")]
    user, = report("users", "--year", "2026", path)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 1, 1)
    stats = cli("--stats", "-f", "csv", "--year", "2026", path).err
    assert "untracked queue IDs:    0" in stats and "lines used:               8" in stats


def test_a_notice_line_after_removed_is_the_message_s_notice(report, tmp_path):
    # bounce names its notice after qmgr's `removed` of the message it is about: the notice,
    # still queued, is the login's message's (the queue report lists it under its parent).
    path = _log(tmp_path, HEAD + BOUNCED + REMOVED + NOTICE)
    rows = report("queue", "--year", "2026", path)
    assert [(row["queue_id"], row["kind"], row["parent_queue_id"], row["user"])
            for row in rows] == [("5C6D7E8F90", "notice", "4AB1C2D3E4", "ann@example.jp")]


def test_the_same_lines_in_order_give_the_same(report, tmp_path):
    reordered = report("messages", "--year", "2026", _log(tmp_path, REORDERED, "a"))
    in_order = report("messages", "--year", "2026", _log(tmp_path, HEAD + BOUNCED + REMOVED,
                                                         "b"))
    assert reordered == in_order


def test_a_queue_id_reused_after_removed_is_a_new_message(report, cli, tmp_path):
    # The next message on the ID (its client= line) ends the old one's wait: its lines are its
    # own, and the old one was not lost.
    path = _log(tmp_path, HEAD + REMOVED + REUSED)
    assert _outcomes(report("messages", "--year", "2026", path)) == [
        ("ann@example.jp", "a@two.example", "sent"),
        ("bob@example.jp", "c@four.example", "sent")]
    stats = cli("--stats", "-f", "csv", "--year", "2026", path).err
    assert "messages lost (ID reuse): 0" in stats and "untracked queue IDs:    0" in stats


def test_a_line_later_than_the_window_is_not_the_message_s(report, cli, tmp_path):
    late = (dt.datetime(2026, 3, 3, 10, 0, 3) + LATE_WITHIN + dt.timedelta(seconds=1))
    too_late = BOUNCED.replace("Mar  3 10:00:03", late.strftime("%b %e %H:%M:%S"))
    path = _log(tmp_path, HEAD + REMOVED + too_late)
    assert _outcomes(report("messages", "--year", "2026", path)) == [
        ("ann@example.jp", "a@two.example", "sent")]
    # Nor one more than LATE_LINES lines after it, whatever its time.
    other = "Mar  3 10:00:03 mx dovecot: imap-login: Login: user=<carol>\n"
    path = _log(tmp_path, HEAD + REMOVED + other * LATE_LINES + BOUNCED)
    assert _outcomes(report("messages", "--year", "2026", path)) == [
        ("ann@example.jp", "a@two.example", "sent")]
    path = _log(tmp_path, HEAD + REMOVED + other * (LATE_LINES - 1) + BOUNCED)
    assert len(report("messages", "--year", "2026", path)) == 2


DEFERRED = ("Mar  3 10:00:03 mx postfix/smtp[104]: 4AB1C2D3E4: to=<b@three.example>, "
            "relay=none, delay=2, delays=0/0/2/0, dsn=4.4.1, status=deferred (connect to "
            "mx.three.example[198.51.100.3]:25: Connection timed out)\n")
# Five days later qmgr gives up on the recipient deferred: its expiry line, bounce's notice
# to the sender, `removed`.
EXPIRED = ("Mar  8 10:00:05 mx postfix/qmgr[102]: 4AB1C2D3E4: from=<ann@example.jp>, "
           "status=expired, returned to sender\n")
EXPIRY_NOTICE = ("Mar  8 10:00:05 mx postfix/bounce[105]: 4AB1C2D3E4: sender non-delivery "
                 "notification: 5C6D7E8F90\n")
REMOVED_EXPIRED = "Mar  8 10:00:05 mx postfix/qmgr[102]: 4AB1C2D3E4: removed\n"


def test_an_expiry_line_after_removed_is_the_message_s(report, cli, tmp_path, monkeypatch):
    # qmgr's expiry line written after `removed`: it ended the wait and was counted untracked,
    # the recipient left deferred (and so the notice after it).
    expired = [("ann@example.jp", "a@two.example", "sent"),
               ("ann@example.jp", "b@three.example", "expired")]
    in_order = _log(tmp_path, HEAD + DEFERRED + EXPIRED + EXPIRY_NOTICE + REMOVED_EXPIRED, "a")
    rows = report("messages", "--year", "2026", in_order)
    assert _outcomes(rows) == expired
    for name, late in (("expiry", EXPIRED + EXPIRY_NOTICE), ("both", EXPIRY_NOTICE + EXPIRED)):
        path = _log(tmp_path, HEAD + DEFERRED + REMOVED_EXPIRED + late, name)
        assert report("messages", "--year", "2026", path) == rows, name
        stats = cli("--stats", "-f", "csv", "--year", "2026", path).err
        assert "untracked queue IDs:    0" in stats, name
        compare([path], monkeypatch, year=2026, sizes=[(2, size) for size in (300, 600, 900)])


FAILED_LOGIN = """\
Mar  3 10:00:03 mx postfix/submission/smtpd[120]: connect from unknown[192.0.2.66]
Mar  3 10:00:03 mx postfix/submission/smtpd[120]: warning: unknown[192.0.2.66]: SASL LOGIN authentication failed: authentication failure
Mar  3 10:00:03 mx postfix/submission/smtpd[120]: disconnect from unknown[192.0.2.66] ehlo=1 auth=0/1 quit=1 commands=2/3
"""


def test_what_comes_after_a_message_held_waits_in_its_order():
    # A session finished while the message waits for its late lines is handed on after it.
    correlator = Correlator()
    clock = Clock(year=2026, tz=dt.timezone.utc)
    correlator.feed((HEAD + REMOVED + FAILED_LOGIN).splitlines(), clock)
    correlator.settle_copies()
    session, = correlator.take_finished()  # ann's, ended before the removal
    assert session.sasl_username == "ann@example.jp"
    assert len(correlator.finished) == 2  # the message waits, the failed login after it
    correlator.feed(BOUNCED.splitlines(), clock)
    correlator.finish()
    message, failed = correlator.take_finished()
    assert isinstance(message, Message) and len(message.recipients) == 2
    assert failed.client_ip == "192.0.2.66" and failed.sasl_username is None


def _many(count):
    """`count` logins' messages of two recipients, each of its lines out of order in turn."""
    text = []
    for number in range(count):
        second = number * 3
        stamp = f"Mar  3 10:{second // 60:02d}:{second % 60:02d}"
        queue_id = f"4AB1C{number:05X}"
        lines = [line.replace("4AB1C2D3E4", queue_id).replace("Mar  3 10:00:0", stamp[:-1])
                 .replace("smtpd[100]", f"smtpd[{200 + number}]")
                 for line in (HEAD + REMOVED + BOUNCED + NOTICE).splitlines(keepends=True)]
        lines[-4] = lines[-4].replace("5C6D7E8F90", f"5C6D7{number:05X}")
        for index in range(-3, 0):
            lines[index] = lines[index].replace("5C6D7E8F90", f"5C6D7{number:05X}")
        # removed (line 6) after the bounced recipient, the notice, or before both.
        removed = lines.pop(6)
        lines.insert((6, 7, 9, 8)[number % 4], removed)
        text += lines
    return "".join(text)


@pytest.mark.parametrize("size", [150, 400, 700, 1_300])
def test_jobs_give_what_one_process_gives_at_every_chunk_size(tmp_path, monkeypatch, size):
    # Chunks small enough that `removed` and its late lines are often either side of an edge.
    path = _log(tmp_path, _many(40))
    one = compare([path], monkeypatch, year=2026, sizes=[(2, size), (3, size + 37),
                                                         (4, size + 91)])
    messages = [item for item in maillog_sasl.open_logs([path], year=2026,
                                                        zone=dt.timezone.utc)
                if isinstance(item, Message) and item.kind == "submission"]
    assert [len(message.recipients) for message in messages] == [2] * 40
    assert one[1]["untracked_queue_lines"] == 40  # the notices' cleanup lines, before named
    assert one[1]["messages_lost"] == 0


@pytest.mark.skipif(COMPILED, reason="sets LATE_LINES, a Final constant that compiled code "
                    "(setup.py) has built in; the pure-Python suite runs it")
def test_jobs_with_a_window_of_a_few_lines(tmp_path, monkeypatch):
    # Its end is often in another chunk than the line that tells it (LateOver, early_back).
    from maillog_sasl import chunk, correlate
    monkeypatch.setattr(correlate, "LATE_LINES", 2)
    monkeypatch.setattr(chunk, "LATE_LINES", 2)
    path = _log(tmp_path, _many(40))
    one = compare([path], monkeypatch, year=2026, sizes=[(2, 150), (2, 333), (3, 520)])
    assert one[1]["untracked_queue_lines"] > 40  # some lines came too late


def _now(text):
    """`text` with its stamps moved to a few seconds ago (RFC 3339): a log being written."""
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=5)
    return "".join((start + dt.timedelta(seconds=int(line[14]))).isoformat() + line[15:]
                   for line in text.splitlines(keepends=True))


def test_watch_stopped_between_removed_and_its_late_line_gives_one_run_s(tmp_path, cli):
    # A followed log, read as it is written: the run ends a moment after `removed`.
    path, state = tmp_path / "maillog", tmp_path / "state.sqlite"
    lines = _now(REORDERED).splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    once(cli, state, path)
    engine = engine_of(state)
    assert list(engine.correlator.messages) == [("mx", "4AB1C2D3E4")]  # held, not queued
    assert engine.queue() == {}
    with open(path, "a") as out:
        out.write(lines[-1])
    once(cli, state, path)
    engine = engine_of(state)
    assert engine.correlator.stats.untracked_queue_lines == 0
    engine.correlator.finish()
    message, = engine.correlator.take_finished()  # (its session was handed on in the first)
    engine._observe(message)
    engine.activity.close()
    assert engine.activity.users["ann@example.jp"].totals() == [1, 0, 1, 0, 0]
    batch = Correlator()
    batch.feed("".join(lines).splitlines(), Clock(year=2026, tz=dt.timezone.utc))
    batch.finish()
    assert _fields(message) == _fields(batch.take_finished()[-1])


def test_watch_hands_on_a_message_whose_late_lines_can_no_longer_come(tmp_path, cli):
    # An old log (or a live one read seconds after its last line): nothing waits at its end.
    path, state = _log(tmp_path, REORDERED), tmp_path / "state.sqlite"
    once(cli, state, path, more=("--year", "2026"))
    engine = engine_of(state)
    assert engine.correlator.messages == {} and engine.correlator.finished == []
    assert engine.correlator.stats.untracked_queue_lines == 0


def _fields(message):
    return [(key, recipient.status, recipient.attempts, recipient.reason, recipient.last_attempt)
            for key, recipient in message.recipients.items()], message.end, message.last_time


def test_a_queue_id_postfix_reuses_for_its_own_notice_is_not_the_message_s(report, tmp_path):
    # A bounce notice of another (untracked) message queued on the ID at once, with no client=
    # or pickup line: its cleanup line ends the wait, and its delivery is not ann's.
    notice = """\
Mar  3 10:00:04 mx postfix/cleanup[101]: 4AB1C2D3E4: message-id=<20260303100004.4AB1C2D3E4@mx.example.jp>
Mar  3 10:00:04 mx postfix/bounce[105]: 7A8B9C0D1E: sender non-delivery notification: 4AB1C2D3E4
Mar  3 10:00:04 mx postfix/qmgr[102]: 4AB1C2D3E4: from=<>, size=2500, nrcpt=1 (queue active)
Mar  3 10:00:05 mx postfix/local[106]: 4AB1C2D3E4: to=<root@mx.example.jp>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar  3 10:00:05 mx postfix/qmgr[102]: 4AB1C2D3E4: removed
"""
    path = _log(tmp_path, HEAD + REMOVED + notice)
    assert _outcomes(report("messages", "--year", "2026", path)) == [
        ("ann@example.jp", "a@two.example", "sent")]


def test_a_delivery_to_a_pipe_filter_after_removed_finishes_the_message_once(report, tmp_path,
                                                                            monkeypatch):
    # pipe(8)'s lines of a login's message to a content filter after qmgr's `removed`, then the
    # filter's copy (test_pipe_filter's lines): the message, handed on at its removal, was
    # finished again when the copy was named: `-r users` counted 2 messages of 1 (and a copy
    # never named would finish it again, _forget_copies()). Its recipients stay sent to the
    # filter, as when no copy follows.
    from test_pipe_filter import COPY, LOGIN, NAMED, PICKED, PIPED
    piped = PIPED.splitlines(keepends=True)
    text = LOGIN + piped[2] + piped[0] + piped[1]
    for name, log in (("named", text + PICKED + NAMED + COPY), ("never named", text)):
        path = _log(tmp_path, log, name.replace(" ", "_"))
        user, = report("users", "--year", "2026", path)
        assert (user["messages"], user["recipients"], user["sent"]) == (1, 2, 2), name
        compare([path], monkeypatch, year=2026, sizes=[(2, size) for size in (300, 500, 900)])


def test_a_message_held_keeps_its_session_as_one_removed_in_order(tmp_path, monkeypatch):
    # The client's QUIT logged after qmgr's `removed` (most logins: a local delivery is done
    # before the client hangs up): the session's end let go of the message's `session`, as of a
    # message still queued, when the message was held: None in one process, the session with
    # --jobs 2 (s80k, 1 MB chunks), where before the wait the message kept it everywhere.
    lines = HEAD.splitlines(keepends=True)
    disconnect = lines.pop(4)
    path = _log(tmp_path, "".join(lines) + REMOVED + disconnect.replace(":02 ", ":04 "))
    items = list(maillog_sasl.open_logs([path], year=2026, zone=dt.timezone.utc))
    message, = [item for item in items if isinstance(item, Message)]
    assert message.session is not None and message.session.pid == "100"
    compare([path], monkeypatch, year=2026, sizes=[(2, size) for size in (300, 600, 900)])
