"""An address whose local part the client quoted, as Postfix >= 3.5 logs it.

A client chooses its envelope addresses, and SMTP lets a local part be any text in double
quotes: `RCPT TO:<"x, relay=..., dsn=2.0.0, status=sent (250 ok"@victim.example>`. Postfix
(info_log_address_format = external, the default since 3.5) logs such an address quoted, a `"`
or `\\` in it after a `\\`, in every line that names it: the delivery line's `to=<...>`,
qmgr's `from=<...>`, the envelope of smtpd's and cleanup's rejects and holds. Read from its
first `, status=`, the delivery line of a recipient the remote server refused said `sent`,
with the relay and dsn the client wrote: a stolen account's bounces could pass for delivered
mail. A sender `"b>, status=expired, returned to sender"@...` made qmgr's every `(queue
active)` line of its message read as its expiry, and a deferred message left the queue report.

The lines below were written by Postfix 3.7.11 under this project's end-to-end harness
(tests/e2e/test_quoted_postfix.py sends the same addresses and checks the same reports); the
properties build the lines as Postfix's quote_822_local() quotes an address.
"""

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from test_jobs import chunks_of
from test_reallogs import REAL, rows

from maillog_sasl import events

from support import COMPILED

FAKE = ('"x, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, '
        'status=sent (250 ok"@reject.test')
SENDER = '"a>, size=1, nrcpt=1 (queue active)"@harness.test'
EXPIRING = '"b>, status=expired, returned to sender"@harness.test'

# Written by Postfix 3.7.11 (tests/e2e), trimmed to the lines of the two messages.
LOG = r"""Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: connect from unknown[127.0.0.1]
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: 81FCC20C221: client=unknown[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=erin@harness.test
Dec 04 16:11:23 mail postfix/cleanup[3274]: 81FCC20C221: message-id=<20261204161123.81FCC20C221@mail.harness.test>
Dec 04 16:11:23 mail postfix/qmgr[3268]: 81FCC20C221: from=<"a>, size=1, nrcpt=1 (queue active)"@harness.test>, size=343, nrcpt=4 (queue active)
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=4 data=1 quit=1 commands=11
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: connect from unknown[127.0.0.1]
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: 85D2E20C222: client=unknown[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=erin@harness.test
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: 85D2E20C222: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nob, ody@harness.test>: Recipient address rejected: User unknown in local recipient table; from=<"b>, status=expired, returned to sender"@harness.test> to=<"nob, ody"@harness.test> proto=ESMTP helo=<client.harness.test>
Dec 04 16:11:23 mail postfix/cleanup[3274]: 85D2E20C222: message-id=<20261204161123.85D2E20C222@mail.harness.test>
Dec 04 16:11:23 mail postfix/qmgr[3268]: 85D2E20C222: from=<"b>, status=expired, returned to sender"@harness.test>, size=374, nrcpt=1 (queue active)
Dec 04 16:11:23 mail postfix/submission/smtpd[3270]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1/2 data=1 quit=1 commands=8/9
Dec 04 16:11:23 mail postfix/smtp[3277]: 81FCC20C221: to=<plain@ok.test>, relay=127.0.0.1[127.0.0.1]:45523, delay=0.04, delays=0.01/0.03/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK0001)
Dec 04 16:11:23 mail postfix/smtp[3277]: 81FCC20C221: to=<"q\"r>, s"@ok.test>, relay=127.0.0.1[127.0.0.1]:45523, delay=0.04, delays=0.01/0.03/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK0001)
Dec 04 16:11:23 mail postfix/smtp[3276]: 81FCC20C221: to=<"y>, z"@tempfail.test>, relay=127.0.0.1[127.0.0.1]:44047, delay=0.04, delays=0.01/0.02/0/0.01, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 Try again later, says the harness sink (in reply to RCPT TO command))
Dec 04 16:11:23 mail postfix/smtp[3276]: 85D2E20C222: to=<"t, u"@tempfail.test>, relay=127.0.0.1[127.0.0.1]:44047, delay=0.03, delays=0.01/0.01/0.01/0, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 Try again later, says the harness sink (in reply to RCPT TO command))
Dec 04 16:11:23 mail postfix/smtp[3277]: 81FCC20C221: to=<"x, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok"@reject.test>, relay=127.0.0.1[127.0.0.1]:45763, delay=0.05, delays=0.01/0.03/0/0.01, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.7.1 Recipient refused by the harness sink (in reply to RCPT TO command))
Dec 04 16:11:23 mail postfix/bounce[3284]: 81FCC20C221: sender non-delivery notification: 8D03420C22B
Dec 04 16:11:27 mail postfix/qmgr[3268]: 81FCC20C221: from=<"a>, size=1, nrcpt=1 (queue active)"@harness.test>, size=343, nrcpt=4 (queue active)
Dec 04 16:11:27 mail postfix/qmgr[3268]: 85D2E20C222: from=<"b>, status=expired, returned to sender"@harness.test>, size=374, nrcpt=1 (queue active)
Dec 04 16:11:27 mail postfix/smtp[3280]: 81FCC20C221: to=<"y>, z"@tempfail.test>, relay=127.0.0.1[127.0.0.1]:44047, delay=4.1, delays=4.1/0/0/0.01, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 Try again later, says the harness sink (in reply to RCPT TO command))
Dec 04 16:11:27 mail postfix/smtp[3276]: 85D2E20C222: to=<"t, u"@tempfail.test>, relay=127.0.0.1[127.0.0.1]:44047, delay=4.1, delays=4/0/0/0.01, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 Try again later, says the harness sink (in reply to RCPT TO command))
"""

# (queue ID, sender, recipient, status, dsn, relay, attempts) of every recipient, as the lines
# above say.
EXPECTED = [
    ("81FCC20C221", SENDER, "plain@ok.test", "sent", "2.0.0", "127.0.0.1[127.0.0.1]:45523", 1),
    ("81FCC20C221", SENDER, '"q\\"r>, s"@ok.test', "sent", "2.0.0", "127.0.0.1[127.0.0.1]:45523",
     1),
    ("81FCC20C221", SENDER, '"y>, z"@tempfail.test', "deferred", "4.3.2",
     "127.0.0.1[127.0.0.1]:44047", 2),
    ("81FCC20C221", SENDER, FAKE, "bounced", "5.7.1", "127.0.0.1[127.0.0.1]:45763", 1),
    ("85D2E20C222", EXPIRING, '"nob, ody"@harness.test', "rejected", "5.1.1", "", 0),
    ("85D2E20C222", EXPIRING, '"t, u"@tempfail.test', "deferred", "4.3.2",
     "127.0.0.1[127.0.0.1]:44047", 2),
]


def _message_rows(cli, log, *args):
    return sorted((row["queue_id"], row["sender"], row["recipient"], row["status"], row["dsn"],
                   row["relay"], row["attempts"])
                  for row in rows(cli, "messages", log, *args, year=2026))


def test_each_recipient_is_read_whole_with_the_outcome_postfix_logged(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(LOG)
    assert _message_rows(cli, log) == sorted(EXPECTED)
    [user] = rows(cli, "users", log, year=2026)
    assert (user["sent"], user["bounced"], user["deferred"], user["rejected"]) == (2, 1, 2, 1)


def test_a_sender_that_holds_an_expiry_leaves_its_message_in_the_queue(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(LOG)
    queued = {row["queue_id"]: (row["sender"], row["pending_recipients"])
              for row in rows(cli, "queue", log, year=2026)}
    assert queued == {"81FCC20C221": (SENDER, 1), "85D2E20C222": (EXPIRING, 1)}


@pytest.mark.parametrize("chunk_size", [200, 600, 1500])
def test_two_jobs_read_them_as_one(cli, monkeypatch, tmp_path, chunk_size):
    # A worker reads the delivery lines of a message opened in an earlier chunk by its folds.
    log = tmp_path / "maillog"
    log.write_text(LOG)
    chunks_of(chunk_size, monkeypatch)
    assert _message_rows(cli, log, "--jobs", "2") == sorted(EXPECTED)


def test_the_envelope_of_a_reject_names_the_quoted_sender_and_recipient():
    line = LOG.splitlines()[7]
    text = line[line.index(": ") + 2:]
    event = events.smtpd_event(text)
    assert (event.sender, event.recipient) == (EXPIRING, '"nob, ody"@harness.test')


# quote_822_local(): a local part that is not a dot-atom goes in quotes, `"` and `\` escaped.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def logged(local: str, domain: str = "example.com") -> str:
    """An address as Postfix >= 3.5 logs it."""
    if not _DOT_ATOM.fullmatch(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{local}@{domain}"


# Local parts a client may write: the characters and the words of the fields of each line.
LOCAL_PARTS = st.lists(st.sampled_from(
    ['a', '.', '"', '\\', ' ', ',', '<', '>', '(', ')', '=', ':', '@', ', ', '>, ',
     ', status=sent (', ', status=', ', dsn=2.0.0', ', relay=local', ', orig_to=<', 'x>, relay=',
     ', delay=1, delays=0/0/0/1', ', size=1, nrcpt=1 (queue active)', 'status=expired',
     ', returned to sender', ' to=<', '> to=<', ' proto=ESMTP helo=<']),
    max_size=8).map("".join)
STATUSES = st.sampled_from(["sent", "deferred", "bounced"])
REPLIES = st.sampled_from(["250 2.0.0 Ok", "host x said: 550 5.1.1 no, status=sent (ok)",
                           "connect to mx: Connection timed out"])


@given(LOCAL_PARTS, st.none() | LOCAL_PARTS, STATUSES, REPLIES)
@example("x>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (", None,
         "bounced", "host x said: 550 5.1.1 no")
@example("a", "b, orig_to=<c", "deferred", "connect to mx: Connection timed out")
@example('q"r>, s', None, "sent", "250 2.0.0 Ok")
def test_a_delivery_line_reads_the_recipient_postfix_quoted_and_its_own_fields(
        local, orig_local, status, reply):
    recipient = logged(local)
    orig_to = logged(orig_local, "example.org") if orig_local is not None else None
    dsn = {"sent": "2.0.0", "deferred": "4.4.1", "bounced": "5.1.1"}[status]
    relay = "mx.example.com[192.0.2.7]:25"
    text = (f"1A2B3C: to=<{recipient}>" + (f", orig_to=<{orig_to}>" if orig_to else "")
            + f", relay={relay}, delay=3.5, delays=0.1/0/1.4/2, dsn={dsn}, "
            f"status={status} ({reply})")
    assert events.delivery_peek(text) == (recipient, orig_to, status)
    assert events.delivery_event(text) == events.Delivery("1A2B3C", recipient, orig_to, relay,
                                                           "3.5", dsn, status, reply)
    assert events.delivery_details(text) == (dsn, relay, status, reply)
    if status == "sent":
        assert text[events.sent_answer_at(text):] == reply + ")"


@given(LOCAL_PARTS, st.booleans())
@example("b>, status=expired, returned to sender", False)
@example("a>, size=1, nrcpt=1 (queue active)", False)
@example("a>, size=1, nrcpt=1 (queue active)", True)
def test_qmgr_reads_the_sender_postfix_quoted_and_its_own_fields(local, expired):
    sender = logged(local)
    if expired:
        event = events.qmgr_event("1A2B3C", f"from=<{sender}>, status=expired, returned to sender")
        assert event == events.Expired("1A2B3C", sender)
    else:
        event = events.qmgr_event("1A2B3C", f"from=<{sender}>, size=374, nrcpt=2 (queue active)")
        assert event == events.QueueActive("1A2B3C", sender, 374, 2)


@given(LOCAL_PARTS, st.none() | LOCAL_PARTS, LOCAL_PARTS)
@example('a> to=<c', "b", "x")
@example("a", None, "x to=<fake@example.org>")
def test_an_envelope_reads_the_addresses_postfix_quoted(sender_local, recipient_local, helo):
    sender = logged(sender_local)
    recipient = logged(recipient_local, "example.org") if recipient_local is not None else None
    envelope = (f"from=<{sender}>" + (f" to=<{recipient}>" if recipient is not None else "")
                + f" proto=ESMTP helo=<{helo}>")
    text = (f"1A2B3C: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@example.org>: Relay "
            f"access denied; {envelope}")
    event = events.smtpd_event(text)
    assert (event.sender, event.recipient) == (sender, recipient)
    hold = events.smtpd_event(f"1A2B3C: hold: RCPT from unknown[192.0.2.9]: <x@example.org>: "
                              f"Sender address triggers HOLD action; {envelope}")
    assert (hold.sender, hold.recipient) == (sender, recipient)


def test_a_real_servers_line_to_a_quoted_recipient_is_read_whole():
    # Lightmeter's parser tests (tests/reallogs/lightmeter-parsertests): a real deferral.
    line = (REAL / "lightmeter-parsertests" / "quoted_recipient.log").read_text().rstrip("\n")
    text = line[line.index("D298F2C60812: "):]
    assert events.PLAIN_PEEK.match(text) is None
    assert events.delivery_peek(text) == ('"user 1234 with space"@icloud.com', None, "deferred")
    delivery = events.delivery_event(text)
    assert (delivery.recipient, delivery.relay, delivery.delay, delivery.dsn) == (
        '"user 1234 with space"@icloud.com', "mx6.mail.icloud.com[17.178.97.79]:25", "428621",
        "4.7.0")


def test_a_helo_that_writes_an_envelope_is_neutered_and_the_last_envelope_is_the_lines():
    # Postfix 3.7.11 (tests/e2e), EHLO `x; from=<a@b> to=<c@d> proto=ESMTP helo=<e>`: smtpd
    # writes each of ` <>()\";@` in a HELO as `?`, so no `; from=<` follows the envelope.
    text = ("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <ghost-x@harness.test>: "
            "Recipient address rejected: User unknown in local recipient table; "
            "from=<erin@harness.test> to=<ghost-x@harness.test> proto=ESMTP "
            "helo=<x??from=?a?b??to=?c?d??proto=ESMTP?helo=?e?>")
    event = events.smtpd_event(text)
    assert (event.sender, event.recipient, event.dsn) == ("erin@harness.test",
                                                          "ghost-x@harness.test", "5.1.1")


# Postfix >= 3.10 ends a reject's, a hold's or a discard's envelope with the session's SASL
# fields (smtpd_check.c, log_whatsup()); a milter's reply with ` sasl_username=<U>` (smtpd.c,
# smtpd_whatsup(), since 3.2). A session that logged in and only had mail refused is known by
# them; one that never logged in must not get an account from its sender's text.
FRAMING = '"x sasl_username=ceo@corp.example y"@evil.example'


@pytest.mark.parametrize("tail, username", [
    (" sasl_method=PLAIN sasl_username=mallory@corp.example", "mallory@corp.example"),
    (" sasl_method=PLAIN sasl_username=mallory@corp.example sasl_sender=a+2Bb@corp.example",
     "mallory@corp.example"),
    (" sasl_method=LOGIN sasl_username=john smith", "john smith"),
    (" sasl_username=<mallory@corp.example>", "mallory@corp.example"),
    ("", None),
])
def test_a_rejects_username_is_the_one_after_its_envelope(tail, username):
    text = (f"NOQUEUE: reject: RCPT from unknown[203.0.113.98]: 554 5.7.1 <x@y.example>: Relay "
            f"access denied; from=<{FRAMING}> to=<\"a sasl_username=cfo@corp.example\"@y.example> "
            f"proto=ESMTP helo=<bot?sasl_username=ceo?corp.example>{tail}")
    event = events.smtpd_event(text)
    assert (event.sender, event.sasl_username) == (FRAMING, username)


def test_a_client_that_never_logged_in_gets_no_account_from_its_sender(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(
        "Dec 04 17:00:00 mail postfix/smtpd[4100]: connect from unknown[203.0.113.66]\n"
        "Dec 04 17:00:01 mail postfix/smtpd[4100]: warning: unknown[203.0.113.66]: SASL LOGIN "
        "authentication failed: authentication failure\n"
        "Dec 04 17:00:01 mail postfix/smtpd[4100]: NOQUEUE: reject: RCPT from unknown"
        "[203.0.113.66]: 550 5.1.1 <nobody@harness.test>: Recipient address rejected: User "
        "unknown in local recipient table; from=<\"x sasl_username=alice@harness.test y\""
        "@evil.example> to=<nobody@harness.test> proto=ESMTP helo=<evil.example>\n"
        "Dec 04 17:00:02 mail postfix/smtpd[4100]: disconnect from unknown[203.0.113.66] ehlo=1 "
        "auth=0/1 mail=1 rcpt=0/1 quit=1 commands=3/5\n")
    # A session with a failed AUTH is followed; it was reported as alice's login.
    assert rows(cli, "users", log, year=2026) == []
    [failure] = rows(cli, "failures", log, year=2026)
    assert failure["client_ip"] == "203.0.113.66"


# An envelope's own quoted addresses may hold `; from=<`, and a whole envelope with a login after
# it (a reviewer's lines, as Postfix 3.7.11 wrote them for such addresses): the envelope is the
# one whose addresses end where the line's last ` proto=` begins.
SPOOFS = [
    '; from=<"x; from=<a> proto=ESMTP helo=<h> sasl_method=PLAIN '
    'sasl_username=alice@harness.test sasl_sender=y"@evil.example> to=<nobody@harness.test> '
    'proto=ESMTP helo=<evil.example>',
    '; from=<spam@evil.example> to=<"q; from=<a> to=<b> proto=ESMTP helo=<h> '
    'sasl_username=alice@harness.test sasl_sender=x"@evil.example> proto=ESMTP '
    'helo=<evil.example>',
    # Postfix < 3.5 (info_log_address_format = internal): the same sender, bare.
    '; from=<x; from=<a> proto=ESMTP helo=<h> sasl_method=PLAIN sasl_username=alice@harness.test '
    'sasl_sender=y@evil.example> to=<nobody@harness.test> proto=ESMTP helo=<evil.example>',
]


@pytest.mark.parametrize("envelope", SPOOFS)
def test_an_envelope_inside_an_address_names_no_login(cli, tmp_path, envelope):
    log = tmp_path / "maillog"
    log.write_text(
        "Dec 04 17:00:00 mail postfix/smtpd[4100]: connect from unknown[203.0.113.66]\n"
        "Dec 04 17:00:01 mail postfix/smtpd[4100]: warning: unknown[203.0.113.66]: SASL LOGIN "
        "authentication failed: authentication failure\n"
        "Dec 04 17:00:01 mail postfix/smtpd[4100]: NOQUEUE: reject: RCPT from "
        "unknown[203.0.113.66]: 550 5.1.1 <nobody@harness.test>: Recipient address rejected: "
        f"User unknown in local recipient table{envelope}\n"
        "Dec 04 17:00:02 mail postfix/smtpd[4100]: disconnect from unknown[203.0.113.66] ehlo=1 "
        "auth=0/1 mail=1 rcpt=0/1 quit=1 commands=3/5\n")
    assert rows(cli, "users", log, year=2026) == []
    event = events.smtpd_event(log.read_text().splitlines()[2].split("]: ", 1)[1])
    assert event.sasl_username is None
    if '"' in envelope:  # a bare sender that holds a whole envelope is not told from one
        assert event.sender.startswith(("spam@", '"x; ')) and event.recipient.startswith(
            ("nobody@", '"q; '))


def test_a_bare_sender_holding_a_bracket_keeps_its_recipient():
    # Postfix < 3.5 writes a local part bare, `>` and all (a reviewer's Postfix 3.7.11 run with
    # info_log_address_format = internal); the recipient follows the `>` before ` to=<`.
    text = ("NOQUEUE: reject: RCPT from unknown[203.0.113.66]: 550 5.1.1 <nobody@harness.test>: "
            "Recipient address rejected: User unknown in local recipient table; "
            "from=<x>y@evil.example> to=<nobody@harness.test> proto=ESMTP helo=<evil.example>")
    event = events.smtpd_event(text)
    assert (event.sender, event.recipient) == ("x>y@evil.example", "nobody@harness.test")


# With smtpd_client_port_logging = yes the client is `NAME[IP]:PORT: `, and the first `]: ` of a
# refusal can be the client's own text: the refused address's quoted local part. Read from
# there, the session of a logged-in client ended at its refusal and a second, of no login, began
# at an "IP" `203.0.113.5]:40001: 550 5.1.1 <x` (a review's lines, in the shape Postfix 3.7.11
# writes with port logging, tests/test_xclient.py).
PORT_LOGGED = """\
Dec 05 06:18:04 mail postfix/smtpd[15238]: connect from unknown[203.0.113.5]:40001
Dec 05 06:18:05 mail postfix/smtpd[15238]: 13FF25C228A: client=unknown[203.0.113.5]:40001, sasl_method=PLAIN, sasl_username=alice
Dec 05 06:18:05 mail postfix/smtpd[15238]: 13FF25C228A: reject: RCPT from unknown[203.0.113.5]:40001: 550 5.1.1 <x]: y@harness.test>: Recipient address rejected: User unknown in local recipient table; from=<alice@harness.test> to=<"x]: y"@harness.test> proto=ESMTP helo=<c1.test>
Dec 05 06:18:05 mail postfix/cleanup[15242]: 13FF25C228A: message-id=<1@harness.test>
Dec 05 06:18:05 mail postfix/qmgr[15236]: 13FF25C228A: from=<alice@harness.test>, size=319, nrcpt=1 (queue active)
Dec 05 06:18:06 mail postfix/smtpd[15238]: disconnect from unknown[203.0.113.5]:40001 ehlo=1 auth=1 mail=1 rcpt=1/2 data=1 quit=1 commands=6/7
Dec 05 06:18:06 mail postfix/local[15243]: 13FF25C228A: to=<bob@harness.test>, relay=local, delay=0.02, delays=0/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /x)
Dec 05 06:18:06 mail postfix/qmgr[15236]: 13FF25C228A: removed
"""


def test_a_bracket_in_a_refused_address_is_not_the_clients(cli, tmp_path):
    line = PORT_LOGGED.splitlines()[2]
    event = events.smtpd_event(line[line.index("]: ") + 3:])
    assert (event.client_ip, event.dsn, event.recipient) == (
        "203.0.113.5", "5.1.1", '"x]: y"@harness.test')
    log = tmp_path / "port.log"
    log.write_text(PORT_LOGGED)
    sessions = rows(cli, "sessions", str(log), year=2026)
    assert [(row["sasl_username"], row["client_ip"], row["complete"], row["rejected"])
            for row in sessions] == [("alice", "203.0.113.5", True, 1)]


# A `; from=<` in the text before the envelope with no `>` after it (a header check's header, a
# milter's or a DNSBL's reply): read as a bare sender, it would run over the real one (a second
# review's lines, in the shapes cleanup and smtpd write).
EARLY_FROM = [
    ("cleanup", "6521820C3CE: hold: header Subject: hi; from=<ceo@corp.example from "
                "unknown[192.0.2.1]; from=<s@d> to=<r@d> proto=ESMTP helo=<h>: held"),
    ("cleanup", "6521820C3CE: reject: header Subject: hi; from=<ceo@corp.example from "
                "unknown[192.0.2.1]; from=<s@d> to=<r@d> proto=ESMTP helo=<h>: 5.7.1 no"),
    ("cleanup", '6521820C3CE: milter-reject: END-OF-MESSAGE from unknown[192.0.2.1]: 5.7.1 '
                'subject "hi; from=<ceo@corp.example" refused; from=<s@d> to=<r@d> proto=ESMTP '
                'helo=<h>'),
    ("smtpd", 'NOQUEUE: milter-reject: DATA from unknown[192.0.2.1]: 550 5.7.1 bad "x; '
              'from=<ceo"; from=<s@d> to=<r@d> proto=ESMTP helo=<h> sasl_username=<bob>'),
    ("smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 Service unavailable; "
              "Client host [192.0.2.1] blocked using x; from=<z; from=<s@d> to=<r@d> "
              "proto=ESMTP helo=<h>"),
]


@pytest.mark.parametrize("daemon, text", EARLY_FROM)
def test_an_unclosed_from_before_the_envelope_is_not_its_sender(daemon, text):
    event = events.recognize(daemon, text)
    assert (event.sender, event.recipient) == ("s@d", "r@d")


def test_a_bare_sender_that_starts_with_a_quote_is_read_to_its_own_end():
    # Postfix < 3.5 writes `"a"@b>c@d` as it is; a quoted part followed by more is no quoted
    # address.
    assert events.qmgr_event("6521820C3CE", 'from=<"a"@b>c@d>, status=expired, returned to '
                             'sender') == events.Expired("6521820C3CE", '"a"@b>c@d')
    assert events.qmgr_event("6521820C3CE", 'from=<"a"@b>c@d>, size=300, nrcpt=1 (queue '
                             'active)') == events.QueueActive("6521820C3CE", '"a"@b>c@d', 300, 1)
    event = events.recognize("smtpd", 'NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 '
                             '<r@d>: Recipient address rejected; from=<"a"@b>c@d> to=<r@d> '
                             'proto=ESMTP helo=<h>')
    assert (event.sender, event.recipient) == ('"a"@b>c@d', "r@d")


@pytest.mark.skipif(COMPILED, reason="compiled code calls _strict_envelope_end() directly")
def test_many_from_markers_cost_a_few_tries():
    # A line cut at 64 KiB of `; from=<`: ENVELOPE_CANDIDATES tries, not thousands.
    body = ("reject: RCPT from x[192.0.2.1]: 550 " + "; from=<a" * 7000
            + "; from=<s@d> to=<r@d> proto=ESMTP helo=<h>")
    calls = []
    original = events._strict_envelope_end
    try:
        events._strict_envelope_end = lambda *args: calls.append(args) or original(*args)
        event = events.reject_event(None, body)
    finally:
        events._strict_envelope_end = original
    assert len(calls) == events.ENVELOPE_CANDIDATES
    assert event.recipient == "r@d"
