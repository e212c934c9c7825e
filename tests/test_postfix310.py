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
"""

import pytest
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
