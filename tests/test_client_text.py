"""A client's text that spells Postfix's own fields names no login, hides none and changes no
message's account (tests/client-text/README.md: what each log holds, mostly as a real Postfix
3.7.11 wrote it).

Found by a review (2026-12-04): the AUTH= parameter of MAIL FROM, which any client may send,
is logged as `sasl_sender=` with its spaces, and was read as the login before it; smtpd's
warnings that quote the client were read as SASL failures; a TLS line's words anywhere in a
line made it a TLS line; an untracked message on a reused queue ID was read as the open one's.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_jobs import chunks_of
from test_reallogs import rows, stats

from maillog_sasl import events

LOGS = Path(__file__).parent / "client-text"


def test_an_auth_parameter_spelling_a_login_names_none(cli):
    # Three failed AUTH as bob, then no login: bob was reported logged in, and flagged as
    # guessed after the failures.
    log = LOGS / "frame.log"
    assert rows(cli, "users", log, year=2026) == []
    assert rows(cli, "suspicious", log, year=2026) == []
    [failure] = rows(cli, "failures", log, year=2026)
    assert (failure["attempts"], failure["usernames"]) == (3, ["bob"])


def test_a_logins_mail_stays_its_own_whatever_its_auth_parameter(cli):
    log = LOGS / "authparam.log"
    [user] = rows(cli, "users", log, year=2026)
    # Its name was `alice, sasl_sender=<x`: an account of its own, a new one for each AUTH=.
    assert (user["user"], user["messages"], user["sent"], user["sessions"]) == ("alice", 1, 1, 1)


def test_an_auth_parameter_spelling_a_tls_line_hides_no_mail(cli):
    log = LOGS / "hide.log"
    [user] = rows(cli, "users", log, year=2026)
    assert (user["user"], user["messages"], user["sent"], user["rejected"]) == ("alice", 1, 1, 1)


def test_recipients_spelling_a_tls_line_are_recipients(cli):
    log = LOGS / "tls.log"
    recipients = sorted((row["recipient"].split(" ")[0], row["status"])
                        for row in rows(cli, "messages", log, year=2026))
    # The one accepted (bob, named by no line) stays held: y's HOLD is the transaction's.
    assert recipients == [("", "deferred"), ('"x', "rejected"), ('"y', "rejected")]


def test_a_warning_quoting_the_client_is_no_failed_auth(cli):
    log = LOGS / "nonsmtp.log"
    assert rows(cli, "failures", log, year=2026) == []
    [first, second] = rows(cli, "sessions", log, "--all", year=2026)
    assert (first["sasl_username"], second["sasl_username"]) == ("(unknown user)", "alice")
    assert stats(cli, log, year=2026)["sessions incomplete"] == 0


def test_a_forged_orig_queue_id_is_no_reinjection(cli):
    log = LOGS / "origq.log"
    [message] = rows(cli, "messages", log, year=2026)
    assert (message["queue_id"], message["status"]) == ("1A2B3C4D5E", "deferred")


def test_an_untracked_message_on_a_reused_queue_id_is_not_the_lost_ones(cli):
    log = LOGS / "reuse_untracked.log"
    assert rows(cli, "messages", log, year=2026) == []  # alice's has no recipient
    # Her disconnect's `data=0/1` ended her message before the reuse (its queue file was never
    # committed: tests/test_abandoned_data.py), so the reuse loses none.
    counted = stats(cli, log, year=2026)
    assert (counted["messages lost (ID reuse)"], counted["messages still queued"]) == (0, 0)


@pytest.mark.parametrize("chunk_size", [300, 700, 1500])
def test_two_jobs_read_the_reused_queue_id_as_one(cli, monkeypatch, tmp_path, chunk_size):
    log = tmp_path / "maillog"
    # The lost message, then an hour of another's lines, then the reuse: across chunks.
    lines = (LOGS / "reuse_untracked.log").read_text().splitlines(keepends=True)
    filler = [f"Mar  2 10:{minute:02d}:00 mx postfix/anvil[9]: statistics: max connection "
              "rate 1/60s for (smtp:203.0.113.9) at Mar  2 10:00:00\n" for minute in range(50)]
    log.write_text("".join(lines[:4] + filler + lines[4:]))
    chunks_of(chunk_size, monkeypatch)
    assert stats(cli, log, "--jobs", "2", year=2026) == stats(cli, log, year=2026)
    assert rows(cli, "messages", log, "--jobs", "2", year=2026) == []


# The client= line: its login after the address, the AUTH= parameter after it.
LOGIN = "5D15554A0CA: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice"
NO_LOGIN = "D82B154A0CA: client=unknown[127.0.0.1]"
_QUOTED = st.text(st.characters(blacklist_characters='<>"\\', blacklist_categories=("Cs",)),
                  max_size=60)
# An SMTP token as smtpd_token.c cuts one: no whitespace but inside <...> or "...", which may
# stay open to the line's end.
_TOKEN = st.one_of(
    st.text(st.characters(blacklist_characters=' <>"\\', blacklist_categories=("Cs", "Z")),
            min_size=1, max_size=30),
    st.builds(lambda inner, close: f"<{inner}{close}", _QUOTED, st.sampled_from([">", ""])),
    st.builds(lambda inner, close: f'"{inner}{close}', _QUOTED, st.sampled_from(['"', ""])))
_FIELDS = st.lists(st.sampled_from([
    ", sasl_method=PLAIN", ", sasl_username=ceo@corp.example", ", sasl_sender=",
    ", orig_queue_id=1A2B3C4D5E", ", orig_client=a[192.0.2.1]", " TLS connection established from ",
    "]: SASL LOGIN authentication failed: x"]), max_size=4).map("".join)


@given(token=_TOKEN, spelled=_FIELDS, login=st.booleans())
def test_no_auth_parameter_changes_the_login_or_the_origin(token, spelled, login):
    # Spelled fields go inside the token's quotes (where its spaces can be): `<x, sasl_...>`.
    if token[0] in '<"':
        token = token[0] + spelled + token[1:]
    text = f"{LOGIN if login else NO_LOGIN}, sasl_sender={token}"
    event = events.smtpd_client_event(text)
    assert (event.sasl_method, event.sasl_username) == (("PLAIN", "alice") if login
                                                        else (None, None))
    # (Whitespace at the line's end is not read: an edited log's.)
    assert (event.sasl_sender, event.orig_queue_id, event.orig_client) == (token.rstrip(),
                                                                            None, None)
    assert (event.client_ip, event.queue_id) == ("127.0.0.1", text[:11])
    assert events.smtpd_kind(text) == events.CLIENT


def test_the_origin_after_an_auth_parameter_is_read():
    event = events.smtpd_client_event(
        "9F8E7D6C5B: client=localhost[127.0.0.1], sasl_sender=<a@b.example>, "
        "orig_queue_id=1A2B3C4D5E, orig_client=mail.example[192.0.2.1]")
    assert (event.sasl_sender, event.orig_queue_id, event.orig_client) == (
        "<a@b.example>", "1A2B3C4D5E", "mail.example[192.0.2.1]")


# A reject's login (Postfix >= 3.10 writes the session's after the HELO; a milter's reply as
# `sasl_username=<U>`), as smtpd_check.c's log_whatsup() writes it.
REJECT = ("NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 <v@remote.example>: "
          "Relay access denied; from=<spam@evil.example> to=<v@remote.example> proto=ESMTP "
          "helo=<x>")


@pytest.mark.parametrize("tail, username", [
    ("", None),
    (" sasl_method=PLAIN sasl_username=alice@corp.example", "alice@corp.example"),
    (" sasl_method=PLAIN sasl_username=alice@corp.example sasl_sender=<x sasl_username=ceo@"
     "corp.example sasl_sender=>", "alice@corp.example"),
    (" sasl_sender=<x sasl_username=ceo@corp.example sasl_sender=>", None),
    (" sasl_sender=<x sasl_method=PLAIN sasl_username=ceo@corp.example>", None),
    # The AUTH= parameter spelling a whole envelope with a login: two envelopes, neither told.
    (" sasl_sender=<x; from=<a@b> to=<c@d> proto=ESMTP helo=<h> sasl_method=PLAIN "
     "sasl_username=ceo@corp.example", None),
    (" sasl_method=PLAIN sasl_username=alice@corp.example sasl_sender=<x; from=<a@b> to=<c@d> "
     "proto=ESMTP helo=<h> sasl_method=PLAIN sasl_username=ceo@corp.example>", None),
    (" sasl_username=<alice@corp.example>", "alice@corp.example"),
])
def test_a_rejects_login_is_the_one_after_its_envelope(tail, username):
    assert events.smtpd_event(REJECT + tail).sasl_username == username


def test_an_envelope_spelled_in_a_bare_recipient_names_no_login():
    # Before Postfix 3.5 (or info_log_address_format = internal) the recipient is bare: read
    # strictly, Postfix's envelope is none, and the one the client spelled was the only one.
    text = ("NOQUEUE: reject: RCPT from unknown[198.51.100.66]: 450 4.7.1 Client host rejected: "
            "cannot find your hostname, [198.51.100.66]; from=<spam@evil.example> to=<x; "
            "from=<a@b> to=<c@d> proto=ESMTP helo=<h> sasl_method=PLAIN "
            "sasl_username=bob@corp.example sasl_sender=<<<<@corp.example> proto=ESMTP helo=<bot>")
    assert events.smtpd_event(text).sasl_username is None


def test_a_record_postfix_cut_at_2000_bytes_names_no_login(cli):
    # A padded recipient pushes the cut (msg_syslog.c) into Postfix's own envelope: the reply's
    # copy of the recipient, spelling one, stayed the only envelope read strictly (a review's
    # log, after one failed AUTH).
    log = LOGS / "cut_record.log"
    assert rows(cli, "users", log, year=2026) == []
    assert rows(cli, "sessions", log, year=2026) == []


def test_a_client_port_postfix_does_not_know_keeps_the_login():
    # smtpd_client_port_logging with XCLIENT PORT=[UNAVAILABLE]: `NAME[ADDR]:unknown`.
    event = events.smtpd_client_event(
        "4B1C2D3E4F: client=unknown[198.51.100.7]:unknown, sasl_method=XCLIENT, "
        "sasl_username=alice@corp.example")
    assert (event.client_ip, event.client_port, event.sasl_username) == (
        "198.51.100.7", "unknown", "alice@corp.example")
    failure = events.smtpd_event("warning: unknown[198.51.100.7]:unknown: SASL LOGIN "
                                 "authentication failed: authentication failure")
    assert (failure.client_ip, failure.mechanism) == ("198.51.100.7", "LOGIN")


def test_a_reply_spelling_an_envelope_with_a_login_names_none():
    # smtpd's reply names the recipient unquoted (tls.log): it may spell an envelope.
    fake = "x; from=<a@b> to=<c@d> proto=ESMTP helo=<h> sasl_method=PLAIN sasl_username=ceo y"
    text = (f"NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 <{fake}@remote>: "
            f'Relay access denied; from=<spam@evil.example> to=<"{fake}"@remote> proto=ESMTP '
            "helo=<x>")
    assert events.smtpd_event(text).sasl_username is None
