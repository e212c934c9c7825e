"""A content filter on another address than loopback: its copy carries the login's mail.

amavisd-new on a box of its own (`content_filter = smtp-amavis:[10.0.0.5]:10024`) re-injects
the scanned message from 10.0.0.5 into this Postfix's 10025 listener: the copy's client= line
names [10.0.0.5], not loopback, and is logged before smtp's `status=sent (250 2.0.0 from
MTA(smtp:[192.0.2.10]:10025): 250 2.0.0 Ok: queued as COPY)` naming it. The tool followed
`queued as` only from a relay on loopback: a login's recipient was `sent` when its copy
bounced or sat deferred in the queue (`-r users` sent 1, bounced 0). Now a copy this host
queued from the relay's own IP just before carries the mail; a remote MX's `queued as` never
does, even when the ID names a message this host queued from another client.
"""

import re

import pytest
from test_jobs import read_canonical
from test_split_reinjection import BOUNCED, DEFERRED
from test_split_reinjection import STORY as SPLIT
from test_watch import engine_of

from maillog_sasl.correlate import BIRTHS_KEPT

# The login's session of test_split_reinjection's story (a message to two recipients).
LOGIN = "".join(SPLIT.splitlines(keepends=True)[:5])
# One login's message through the filter at 10.0.0.5; its copy is born before the relay line,
# and its last lines (test_split_reinjection's) bounce or defer the second recipient.
STORY = LOGIN + """\
{at}:02 mail postfix/smtpd[{p}3]: connect from amavis.example[{filter}]
{at}:02 mail postfix/smtpd[{p}3]: {n}C: client=amavis.example[{filter}]
{at}:02 mail postfix/cleanup[{p}2]: {n}C: message-id=<{n}@example.jp>
{at}:02 mail postfix/qmgr[99]: {n}C: from=<ann@example.jp>, size=1400, nrcpt=2 (queue active)
{at}:02 mail postfix/smtpd[{p}3]: disconnect from amavis.example[{filter}] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
{at}:03 mail postfix/smtp[{p}4]: {n}A: to=<a@one.example>, relay={relay}[{relay_ip}]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[192.0.2.10]:10025): 250 2.0.0 Ok: queued as {n}C)
{at}:03 mail postfix/smtp[{p}4]: {n}A: to=<b@two.example>, relay={relay}[{relay_ip}]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {n}C)
{at}:03 mail postfix/qmgr[99]: {n}A: removed
{at}:04 mail postfix/smtp[{p}5]: {n}C: to=<a@one.example>, relay=mx.one.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
{last}"""
# Mail from outside between: many messages born untracked, one of them from the filter too.
INBOUND = """\
{at}:{second} mail postfix/smtpd[{p}8]: connect from mx.sender.example[198.51.100.9]
{at}:{second} mail postfix/smtpd[{p}8]: {n}{letter}: client=mx.sender.example[198.51.100.9]
{at}:{second} mail postfix/qmgr[99]: {n}{letter}: from=<x@sender.example>, size=700, nrcpt=1 (queue active)
{at}:{second} mail postfix/smtpd[{p}8]: disconnect from mx.sender.example[198.51.100.9] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""


def story(number: int = 0, last: str = BOUNCED, filter_ip: str = "10.0.0.5",
          relay: str = "amavis.example", relay_ip: str = "10.0.0.5", iso: bool = False,
          copy_first: bool = False, late: bool = False, gone: bool = False) -> str:
    """One login's message through the filter, at minute `number` past 10:00 (queue IDs from
    it), with mail from outside before it; the copy's lines before the original's when
    `copy_first` (lines out of order); smtp's lines naming the copy before its client= line
    when `late` (syslog's race), after its removal when `gone`."""
    fields = {"at": f"Mar  3 {10 + number // 60:02d}:{number % 60:02d}",
              "n": f"{0xB0000 + number:05X}", "p": 100 + number}
    inbound = "".join(INBOUND.format(second="00", letter=letter, **fields) for letter in "DEF")
    text = inbound + STORY.format(last=last.format(**fields), filter=filter_ip, relay=relay,
                                  relay_ip=relay_ip, **fields)
    if copy_first:
        lines = text.splitlines(keepends=True)
        start = next(at for at, line in enumerate(lines) if "connect from amavis" in line)
        lines[start - 5:start + 5] = lines[start:start + 5] + lines[start - 5:start]
        text = "".join(lines)
    if late or gone:
        lines = text.splitlines(keepends=True)
        relay = [line for line in lines if "A: to=" in line or gone and "A: removed" in line]
        lines = [line for line in lines if line not in relay]
        start = (len(lines) if gone
                 else next(at for at, line in enumerate(lines) if "C: client=amavis" in line))
        text = "".join(lines[:start] + relay + lines[start:])
    if iso:
        text = "".join(f"2026-03-03T{line[7:15]}.123456+00:00{line[15:]}\n"
                       for line in text.splitlines())
    return text


@pytest.mark.parametrize("iso", [False, True], ids=["traditional", "RFC 3339"])
@pytest.mark.parametrize("last, outcome", [(BOUNCED, "bounced"), (DEFERRED, "deferred")])
def test_a_copy_from_the_relays_own_ip_carries_the_logins_mail(report, cli, tmp_path, last,
                                                              outcome, iso):
    log = tmp_path / "maillog"
    log.write_text(story(0, last, iso=iso))
    rows = report("messages", "--year", "2026", log)
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["sasl_username"],
                   row["parent_queue_id"], row["message_id"]) for row in rows) == [
        ("B0000C", "a@one.example", "sent", "ann@example.jp", "B0000A", "B0000@example.jp"),
        ("B0000C", "b@two.example", outcome, "ann@example.jp", "B0000A", "B0000@example.jp")]
    [user] = report("users", "--year", "2026", log)
    assert (user["messages"], user["recipients"], user["sent"], user[outcome]) == (1, 2, 1, 1)
    # What the README's `maillog-sasl -r queue --user ... -f ids | postsuper -d -` removes.
    ids = cli("--year", "2026", "-r", "queue", "-f", "ids", log)
    assert ids.out.split() == (["B0000C"] if outcome == "deferred" else [])


@pytest.mark.parametrize("filter_ip, relay, relay_ip", [
    # A remote MX whose queue ID is one this host gave mail from another client.
    ("198.51.100.9", "mx.two.example", "198.51.100.2"),
    # The relay's IP names no message born here: the copy's client= was another's.
    ("10.0.0.6", "amavis.example", "10.0.0.5"),
], ids=["another client", "another IP"])
def test_a_relays_queue_id_born_here_from_another_client_is_not_followed(
        report, tmp_path, filter_ip, relay, relay_ip):
    log = tmp_path / "maillog"
    log.write_text(story(0, filter_ip=filter_ip, relay=relay, relay_ip=relay_ip))
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 2, 0)


def test_a_remote_mxs_queue_id_never_logged_here_is_not_followed(report, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(story(0).replace("B0000C: client=", "B0000G: client="))
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 2, 0)


def test_jobs_read_a_copy_and_its_original_either_side_of_a_chunks_start_as_one_process(
        tmp_path):
    # A chunk's start between the copy's client= line and the relay line naming it, either
    # side's message the login's (the parent's original, the worker's copy; or, the copy's
    # lines before the original's, the reverse): every cut gives one process's objects.
    log = tmp_path / "maillog"
    log.write_text("".join(story(number, DEFERRED if number % 3 else BOUNCED,
                                 filter_ip="10.0.0.5" if number % 4 else "10.0.0.6",
                                 copy_first=number % 3 == 1)
                           for number in range(10)))
    one = read_canonical(log, 1, 1 << 24)
    assert sum(kind == "Message" and "'reinjected'" in fields for kind, fields in one[0]) == 7
    size = log.stat().st_size
    for chunk_size in range(300, size // 2, 89):
        assert read_canonical(log, 2, chunk_size) == one, chunk_size


def test_watch_follows_a_copy_born_in_the_run_before(cli, tmp_path):
    # watch's run ends between the copy's client= line and the relay line: the next run, on
    # the state kept, follows the copy as one run does.
    text = story(0, DEFERRED)
    cut = text.index("\n", text.index("B0000C: from=")) + 1
    log, whole = tmp_path / "maillog", tmp_path / "whole"
    whole.write_text(text)
    log.write_text(text[:cut])
    cli("watch", "--once", "--year", "2026", "--state", tmp_path / "state", log)
    with open(log, "a") as out:
        out.write(text[cut:])
    cli("watch", "--once", "--year", "2026", "--state", tmp_path / "state", log)
    cli("watch", "--once", "--year", "2026", "--state", tmp_path / "whole.state", whole)
    kept = []
    for state in ("state", "whole.state"):
        copy = engine_of(tmp_path / state).correlator.messages[("mail", "B0000C")]
        kept.append((copy.sasl_username, copy.parent.queue_id,
                     {address: recipient.status for address, recipient in copy.recipients.items()}))
    assert kept[0] == kept[1] == ("ann@example.jp", "B0000A", {"a@one.example": "sent",
                                                              "b@two.example": "deferred"})


@pytest.mark.parametrize("last, outcome", [(BOUNCED, "bounced"), (DEFERRED, "deferred")])
def test_a_copy_born_after_the_reply_naming_it_carries_the_logins_mail(report, tmp_path, last,
                                                                      outcome):
    # smtp's `queued as B0000C` lines logged before smtpd's `B0000C: client=` (two processes'
    # lines race in syslog): the copy was born untracked after the reply and never followed.
    log = tmp_path / "maillog"
    log.write_text(story(0, last, late=True))
    rows = report("messages", "--year", "2026", log)
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["parent_queue_id"],
                   row["message_id"]) for row in rows) == [
        ("B0000C", "a@one.example", "sent", "B0000A", "B0000@example.jp"),
        ("B0000C", "b@two.example", outcome, "B0000A", "B0000@example.jp")]
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user[outcome]) == (2, 1, 1)


@pytest.mark.parametrize("filter_ip", ["10.0.0.6", "198.51.100.9"])
def test_a_queue_id_born_after_a_reply_from_another_ip_is_not_followed(report, tmp_path,
                                                                       filter_ip):
    log = tmp_path / "maillog"
    log.write_text(story(0, filter_ip=filter_ip, late=True))
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 2, 0)


# A filter on this host's own public address (amavisd-new listening on 192.0.2.10) that
# re-injects on loopback: the copy's client= names 127.0.0.1, the reply the public address.
PUBLIC = {"filter_ip": "127.0.0.1", "relay": "filter.example", "relay_ip": "192.0.2.10"}


@pytest.mark.parametrize("last, outcome", [(BOUNCED, "bounced"), (DEFERRED, "deferred")])
def test_a_copy_from_loopback_named_by_a_filter_on_a_public_address_carries_the_mail(
        report, tmp_path, last, outcome):
    log = tmp_path / "maillog"
    log.write_text(story(0, last, **PUBLIC))
    rows = report("messages", "--year", "2026", log)
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["parent_queue_id"])
                  for row in rows) == [("B0000C", "a@one.example", "sent", "B0000A"),
                                       ("B0000C", "b@two.example", outcome, "B0000A")]
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user[outcome]) == (2, 1, 1)


def test_a_copy_from_loopback_queued_long_before_the_reply_is_not_followed(report, tmp_path):
    # A message from loopback a remote MX's queue ID names by chance, queued two minutes
    # before its reply (COPY_WITHIN): not the login's mail.
    text = story(0, **PUBLIC)
    for second in "345":
        text = text.replace(f"10:00:0{second}", f"10:02:0{second}")
    log = tmp_path / "maillog"
    log.write_text(text)
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user["bounced"]) == (2, 2, 0)


def test_a_copy_removed_before_the_reply_naming_it_is_not_left_queued(report, cli, tmp_path):
    # The copy's lines, its delivery and removal too, all before smtp's line naming it: it was
    # followed from there, its earlier lines dropped, and read still queued (its recipients
    # deferred, its ID for `postsuper -d`). What it carried is not known: its recipients stay
    # sent to the filter, as before copies from another address were followed.
    log = tmp_path / "maillog"
    log.write_text(story(0, BOUNCED, gone=True))
    assert sorted((row["queue_id"], row["recipient"], row["status"]) for row in report(
        "messages", "--year", "2026", log)) == [("B0000A", "a@one.example", "sent"),
                                                ("B0000A", "b@two.example", "sent")]
    [user] = report("users", "--year", "2026", log)
    assert (user["recipients"], user["sent"], user["deferred"]) == (2, 2, 0)
    assert cli("--year", "2026", "-r", "queue", "-f", "ids", log).out.split() == []


# How each case's lines are told (story()), and how many of ten such messages are followed
# (of `gone`, the copies still queued: those deferred).
CASES = {"late": ({"late": True}, 7), "public": (PUBLIC, 7), "gone": ({"gone": True}, 4)}


@pytest.mark.parametrize("case", CASES)
def test_jobs_read_each_case_as_one_process(tmp_path, case):
    # The chunk's start anywhere between the original's, the copy's and the reply's lines
    # (either side's the parent's or the worker's), or the reply of one chunk's message handed
    # back; a filter on another IP than the relay's every fourth message.
    told, followed = CASES[case]
    log = tmp_path / "maillog"
    log.write_text("".join(story(number, DEFERRED if number % 3 else BOUNCED,
                                 **(told if number % 4 else {**told, "filter_ip": "10.0.0.6"}),
                                 copy_first=case == "public" and number % 3 == 1)
                           for number in range(10)))
    one = read_canonical(log, 1, 1 << 24)
    assert sum(kind == "Message" and "'reinjected'" in fields
               for kind, fields in one[0]) == followed
    size = log.stat().st_size
    for chunk_size in range(300, size // 2, 89):
        assert read_canonical(log, 2, chunk_size) == one, chunk_size


def _watched(state) -> tuple:
    """The login's outcomes counted and the copies open in a watch state."""
    engine = engine_of(state)
    return (engine.activity.users["ann@example.jp"].outcomes,
            {message.queue_id: (message.parent.queue_id, {
                address: recipient.status for address, recipient in message.recipients.items()})
             for message in engine.correlator.messages.values() if message.parent is not None})


@pytest.mark.parametrize("case", CASES)
def test_watch_reads_each_case_as_one_run_wherever_a_run_stops(cli, tmp_path, case):
    lines = story(0, BOUNCED if case == "gone" else DEFERRED,
                  **CASES[case][0]).splitlines(keepends=True)
    whole = tmp_path / "whole"
    whole.write_text("".join(lines))
    cli("watch", "--once", "--year", "2026", "--state", tmp_path / "whole.state", whole)
    wanted = _watched(tmp_path / "whole.state")
    assert wanted[1] == ({} if case == "gone" else {
        "B0000C": ("B0000A", {"a@one.example": "sent", "b@two.example": "deferred"})})
    start = next(at for at, line in enumerate(lines) if "B0000A: client=" in line)
    for cut in range(start, len(lines)):
        log, state = tmp_path / f"maillog{cut}", tmp_path / f"state{cut}"
        log.write_text("".join(lines[:cut]))
        cli("watch", "--once", "--year", "2026", "--state", state, log)
        with open(log, "a") as out:
            out.write("".join(lines[cut:]))
        cli("watch", "--once", "--year", "2026", "--state", state, log)
        assert _watched(state) == wanted, cut



def _births(count: int) -> str:
    """`count` messages born untracked from outside."""
    return "".join(f"Mar  3 10:00:02 mail postfix/smtpd[900]: {0xC0000 + number:05X}: "
                   "client=mx.sender.example[198.51.100.9]\n" for number in range(count))


def _replies(count: int) -> str:
    """`count` logins' messages sent to a remote MX that named its queue ID, each removed."""
    return "".join(
        "Mar  3 10:00:02 mail postfix/smtpd[901]: connect from client.example[203.0.113.7]\n"
        f"Mar  3 10:00:02 mail postfix/smtpd[901]: {0xD0000 + number:05X}: client=client.example"
        f"[203.0.113.7], sasl_method=PLAIN, sasl_username=bob@example.jp\n"
        f"Mar  3 10:00:02 mail postfix/smtp[902]: {0xD0000 + number:05X}: to=<x@far.example>, "
        "relay=mx.far.example[198.51.100.50]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
        f"status=sent (250 2.0.0 Ok: queued as {0xE0000 + number:05X})\n"
        f"Mar  3 10:00:02 mail postfix/qmgr[99]: {0xD0000 + number:05X}: removed\n"
        "Mar  3 10:00:02 mail postfix/smtpd[901]: disconnect from client.example[203.0.113.7]\n"
        for number in range(count))


@pytest.mark.parametrize("before", [
    # 900 births (those of the worker's chunk past BIRTHS_KEPT).
    _births(900),
    # Births for this process's chunks, then 400 logins' replies naming a remote MX's queue
    # ID, each kept (their messages the worker's).
    _births(2 * len(_replies(400)) // 80) + _replies(400),
], ids=["births", "replies"])
def test_jobs_number_a_reply_handed_back_as_one_process(tmp_path, before):
    # The login's message is this process's, its late reply (`late`) in a worker's chunk after
    # `before`, the copy born first in the next: this process numbered the reply as if first
    # in its chunk, let go past BIRTHS_KEPT births or replies when the copy came.
    lines = story(0, DEFERRED, late=True).splitlines(keepends=True)
    at = next(at for at, line in enumerate(lines) if "B0000A: to=<a@" in line)
    text = "".join(lines[:at]) + before + "".join(lines[at:])
    log = tmp_path / "maillog"
    log.write_text(text)
    one = read_canonical(log, 1, 1 << 24)
    assert sum(kind == "Message" and "'reinjected'" in fields for kind, fields in one[0]) == 1
    # --jobs 2: the first two chunks read here, the third (the reply's) by the worker, the
    # fourth (from the copy's client= line on) here.
    copy = text.index("B0000C: client=amavis")
    for chunk_size in range(copy // 3 - 400, copy // 3 + 1, 16):
        assert read_canonical(log, 2, chunk_size) == one, chunk_size


@pytest.mark.parametrize("between, followed", [(BIRTHS_KEPT - 1, True), (BIRTHS_KEPT, False)],
                         ids=["within", "past"])
def test_a_reply_waits_for_its_copy_while_fewer_than_births_kept_replies_follow(
        report, tmp_path, between, followed):
    # The reply naming the copy before its client= line (syslog's race), then `between` other
    # logins' replies from a remote MX, each message removed at once: the reply is kept for
    # the last BIRTHS_KEPT replies, and the oldest let go past them (the replies kept are not
    # swept for the messages still open).
    lines = story(0, DEFERRED, late=True).splitlines(keepends=True)
    at = next(at for at, line in enumerate(lines) if "B0000C: client=amavis" in line)
    log = tmp_path / "maillog"
    log.write_text("".join(lines[:at]) + _replies(between) + "".join(lines[at:]))
    rows = [row for row in report("messages", "--year", "2026", log)
            if row["queue_id"] in ("B0000A", "B0000C")]
    if followed:
        assert sorted((row["queue_id"], row["recipient"], row["status"]) for row in rows) == [
            ("B0000C", "a@one.example", "sent"), ("B0000C", "b@two.example", "deferred")]
    else:
        assert sorted((row["queue_id"], row["recipient"], row["status"]) for row in rows) == [
            ("B0000A", "a@one.example", "sent"), ("B0000A", "b@two.example", "sent")]


def _login(at: str, queue_id: str, number: int, copy: str, removed: bool = True) -> str:
    """A login's message `queue_id` sent to the filter at 10.0.0.5, which answered `queued
    as COPY`, and `removed`."""
    return (
        f"Mar  3 {at} mail postfix/submission/smtpd[{number}1]: connect from client.example"
        "[203.0.113.5]\n"
        f"Mar  3 {at} mail postfix/submission/smtpd[{number}1]: {queue_id}: client=client.example"
        "[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp\n"
        f"Mar  3 {at} mail postfix/cleanup[{number}2]: {queue_id}: message-id=<{number}@example.jp>\n"
        f"Mar  3 {at} mail postfix/qmgr[99]: {queue_id}: from=<ann@example.jp>, size=900, nrcpt=1 "
        "(queue active)\n"
        f"Mar  3 {at} mail postfix/submission/smtpd[{number}1]: disconnect from client.example"
        "[203.0.113.5] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=7\n"
        f"Mar  3 {at} mail postfix/smtp[{number}5]: {queue_id}: to=<a@one.example>, "
        "relay=amavis.example[10.0.0.5]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, "
        f"status=sent (250 2.0.0 Ok: queued as {copy})\n"
        + (f"Mar  3 {at} mail postfix/qmgr[99]: {queue_id}: removed\n" if removed else ""))


def _copy(at: str, queue_id: str, number: int, status: str) -> str:
    """The filter's copy `queue_id` re-injected from 10.0.0.5, delivered with `status`."""
    return (
        f"Mar  3 {at} mail postfix/smtpd[{number}3]: connect from amavis.example[10.0.0.5]\n"
        f"Mar  3 {at} mail postfix/smtpd[{number}3]: {queue_id}: client=amavis.example[10.0.0.5]\n"
        f"Mar  3 {at} mail postfix/qmgr[99]: {queue_id}: from=<ann@example.jp>, size=1400, "
        "nrcpt=1 (queue active)\n"
        f"Mar  3 {at} mail postfix/smtpd[{number}3]: disconnect from amavis.example[10.0.0.5] "
        "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n"
        f"Mar  3 {at} mail postfix/smtp[{number}6]: {queue_id}: to=<a@one.example>, "
        "relay=mx.one.example[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, "
        f"status={status}\n"
        f"Mar  3 {at} mail postfix/qmgr[99]: {queue_id}: removed\n")


@pytest.mark.parametrize("padding", [0, 12_000], ids=["one batch", "let go between"])
def test_a_reply_kept_is_not_the_copy_of_a_later_message_on_its_queue_id(tmp_path, padding):
    # The first message's copy CCCC1 is born late (its client= line after other logins'
    # replies); meanwhile its queue ID AAAA1 is reused by the next message, sent to the filter
    # too (CCCC2). CCCC1 is the first message's copy, never the second's: the reply kept names
    # the message it was of, not its queue ID. (`let go between`: the first message's hold
    # for its late lines ends before the replies, 1.5 MB of anvil lines read in many batches;
    # a sweep every 32 replies let the reply go, the sweep at 512 did not, and the second
    # message took CCCC1 as its copy: --jobs did not.)
    log = tmp_path / "maillog"
    log.write_text(
        _login("10:00:01", "AAAA1", 10, "CCCC1")
        + "".join("Mar  3 10:00:10 mail postfix/anvil[5]: statistics: max connection rate 1/60s"
                  f" for (smtp:198.51.100.{number % 200}) at Mar  3 10:00:10\n"
                  for number in range(padding))
        + _replies(40)
        + _login("10:00:30", "AAAA1", 20, "CCCC2", removed=False)
        + _copy("10:00:31", "CCCC1", 30, "bounced (550 5.1.1 no such user)")
        + _copy("10:00:32", "CCCC2", 40, "sent (250 2.0.0 Ok)")
        + "Mar  3 10:00:33 mail postfix/qmgr[99]: AAAA1: removed\n")
    one = read_canonical(log, 1, 1 << 24)
    copies = sorted(re.search(r"'queue_id': '(\w+)'.*'message_id': '([^']*)'", fields).groups()
                    for kind, fields in one[0] if kind == "Message" and "'reinjected'" in fields)
    assert copies == [("CCCC2", "20@example.jp")]
    for chunk_size in (1000, 4000):
        assert read_canonical(log, 2, chunk_size) == one, chunk_size
