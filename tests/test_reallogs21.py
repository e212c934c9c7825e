"""Real logs of Proxmox Mail Gateway (pmg-log-tracker's test input, AGPL-3.0-or-later) whose
session ends, by its stamps, a day before it begins.

tests/reallogs/pmg-log-tracker/test_input_mixed_accept_block_quarantine.log is the file as
published (32 lines). smtpd[21615] on pmg6 connects at Apr 30 15:40:39 (line 3), passes a
message to the before-queue filter, whose proxy-accept comes at Apr 30 15:40:41 (line 20), and
disconnects at `Apr 29 15:40:41` (line 21): the clock went back a day while the session was
open, as an NTP step or a resumed VM makes it go. The file holds no login: line 5 is given
the SASL fields Postfix writes for one (as test_reallogs9.py's PMG logins). The tool judged the
session by its end alone: `--since 2020-04-30` dropped the login made at 15:40:39 that day
(`0 authenticated sessions`, the users row with no session), and without a filter the user's
last_seen (Apr 29) came before its first_seen (Apr 30). A message's life in the queue, judged
likewise, is tested last. As in test_reallogs.py, every expected value was read from the lines
themselves, never taken from the tool's output.
"""

import pytest
from test_reallogs import REAL, rows

LOG = REAL / "pmg-log-tracker" / "test_input_mixed_accept_block_quarantine.log"
YEAR = 2020
CONNECT = "2020-04-30T15:40:39+00:00"  # line 3


@pytest.fixture
def login(tmp_path):
    lines = LOG.read_text().splitlines(keepends=True)
    assert lines[4].endswith("NOQUEUE: client=unknown[2001:DB8:1:12::75]\n")
    assert lines[20].startswith("Apr 29 15:40:41 pmg6 postfix/smtpd[21615]: disconnect from ")
    lines[4] = lines[4][:-1] + ", sasl_method=PLAIN, sasl_username=senduser\n"
    path = tmp_path / "maillog"
    path.write_text("".join(lines))
    return path


def test_a_login_before_its_sessions_stamped_end_is_kept_by_since(cli, login):
    [user] = rows(cli, "users", "--since", "2020-04-30", login, year=YEAR)
    assert (user["user"], user["sessions"], user["ips"], user["first_seen"]) == (
        "senduser", 1, 1, CONNECT)
    [session] = rows(cli, "sessions", "--since", "2020-04-30", login, year=YEAR)
    assert (session["sasl_username"], session["start"]) == ("senduser", CONNECT)


def test_a_session_never_ends_before_it_began(cli, login):
    [user] = rows(cli, "users", login, year=YEAR)
    assert (user["first_seen"], user["last_seen"]) == (CONNECT, CONNECT)
    [pair] = rows(cli, "ips", login, year=YEAR)
    assert (pair["first_seen"], pair["last_seen"]) == (CONNECT, CONNECT)
    [session] = rows(cli, "sessions", login, year=YEAR)
    assert (session["start"], session["end"], session["recipients"]) == (CONNECT, CONNECT, 3)


def test_the_file_is_read_whole(cli):
    # Without a login nothing is reported; every report reads it.
    for report in ("users", "sessions", "messages", "ips", "failures", "queue", "timeline"):
        assert rows(cli, report, LOG, year=YEAR) == []


# The same step back during a message's life (its own lines, in the shape of these): queued at
# 10:00:01 after the login, delivered and removed at 09:50:03 by a clock set back ten minutes.
# `--since 09:55` judged the message by its removal alone and dropped it ("0 authenticated
# messages", the messages report saying no login matched).
MESSAGE_BACK = """\
Apr 30 10:00:00 mx postfix/submission/smtpd[7]: connect from a.example[192.0.2.7]
Apr 30 10:00:01 mx postfix/submission/smtpd[7]: 1A2B3C4D5E: client=a.example[192.0.2.7], \
sasl_method=PLAIN, sasl_username=u
Apr 30 10:00:01 mx postfix/cleanup[8]: 1A2B3C4D5E: message-id=<x@a.example>
Apr 30 10:00:01 mx postfix/qmgr[9]: 1A2B3C4D5E: from=<u@a.example>, size=100, nrcpt=1 \
(queue active)
Apr 30 10:00:02 mx postfix/submission/smtpd[7]: disconnect from a.example[192.0.2.7] ehlo=1 \
auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Apr 30 09:50:03 mx postfix/smtp[10]: 1A2B3C4D5E: to=<r@b.example>, relay=b.example[192.0.2.9]:25, \
delay=0.5, delays=0/0/0/0.5, dsn=2.0.0, status=sent (250 ok)
Apr 30 09:50:03 mx postfix/qmgr[9]: 1A2B3C4D5E: removed
"""


def test_a_message_queued_after_since_is_kept_whatever_its_removal_says(cli, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(MESSAGE_BACK)
    since = ("--since", "2020-04-30 09:55")
    [message] = rows(cli, "messages", *since, log, year=YEAR)
    assert (message["queue_id"], message["recipient"], message["status"]) == (
        "1A2B3C4D5E", "r@b.example", "sent")
    [user] = rows(cli, "users", *since, log, year=YEAR)
    assert (user["messages"], user["sent"]) == (1, 1)
