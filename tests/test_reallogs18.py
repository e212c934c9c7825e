"""Real logs of a relay through an after-queue content filter whose reply names its copy's
queue ID as its last word (Mail::Log::Parse's test log, 2008, Perl's terms), and whose last
message is in the middle of its hand-off when the log ends.

tests/reallogs/mail-log-parse holds the file as published: every message from outside goes to
a filter on 127.0.0.1:10025, which re-injects it through smtpd from 127.0.0.1 and answers
`status=sent (250 OK, sent 48A8F482_13989_69123_1 DB05F29DA)`: its own ID, then the queue ID
its next smtpd gave the copy, with no `queued as`. The copy goes on to 10.0.0.1:1025. Before,
only `queued as NEWQID` was followed: a login's message through this filter was "sent" to
127.0.0.1:10025, its real outcome (the copy's) not its. The log ends with 1B91C2259 (nrcpt=62,
line 882) handed to the filter in part: 12 recipients taken as 69842214B (lines 888-899, whose
qmgr line is not in the file), 50 not yet tried. With `queued as` the tool followed it and then
lost the message whole (no row in any report, its user 0 recipients): the message counted no
waiting recipient once one was handed on, and a filter's copy never did.

None of its lines is a login: the tests give its client= lines the SASL fields Postfix writes
for one after the client, as test_reallogs17.py does. As in test_reallogs.py, every expected
number was counted from the lines themselves (grep), never taken from the tool's output.
"""

import re

import pytest
from test_jobs import read_alike
from test_reallogs import REAL, counted, outcomes, rows, stats

from maillog_sasl import parallel

LOG = REAL / "mail-log-parse" / "acmemail1.log"
YEAR = 2008
# grep -c: client= lines, those from 127.0.0.1 (the filter's copies), the filter's answers.
CLIENTS, COPIES, HANDED = 98, 49, 159
OUTSIDE = re.compile(r"(: [0-9A-F]+: client=(?!localhost)\S+)$", re.M)


def _logins(tmp_path, *queue_ids):
    """The log with a login on the client= lines of `queue_ids` (every outside client's when
    none is given): user0, user1 or user2, by the line's place among the 49 (A528D2259 is the
    46th, 1B91C2259 the 49th: both user0)."""
    text = LOG.read_text()
    count = iter(range(CLIENTS - COPIES))

    def login(match):
        number = next(count)
        if queue_ids and match[1].split(": ")[1] not in queue_ids:
            return match[1]
        return f"{match[1]}, sasl_method=LOGIN, sasl_username=user{number % 3}"

    path = tmp_path / "maillog"
    path.write_text(OUTSIDE.sub(login, text))
    return path


def test_the_log_is_read_whole_and_holds_no_login(cli):
    text = LOG.read_text()
    assert len(OUTSIDE.findall(text)) == CLIENTS - COPIES
    assert text.count("status=sent (250 OK, sent ") == HANDED
    counts = stats(cli, LOG, year=YEAR)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"]) == (
        900, 0, 0)
    assert rows(cli, "users", LOG, year=YEAR) == []


def test_a_login_is_followed_through_the_filter_that_names_its_copy_last(cli, tmp_path):
    # Lines 849-861: A528D2259 from 10.0.80.60 handed to the filter, which answered
    # `250 OK, sent 48A8F482_13989_69123_1 DB05F29DA`; DB05F29DA (client= from 127.0.0.1 on
    # line 854) delivered it to 10.0.0.1:1025.
    path = _logins(tmp_path, "A528D2259")
    [row] = rows(cli, "messages", path, year=YEAR)
    assert (row["queue_id"], row["parent_queue_id"], row["sasl_username"], row["recipient"],
            row["status"], row["relay"], row["reason"]) == (
        "DB05F29DA", "A528D2259", "user0", "00000138@acme.gov", "sent",
        "10.0.0.1[10.0.0.1]:1025", "250 Message received and queued")
    [user] = rows(cli, "users", path, year=YEAR)
    assert (user["messages"], outcomes(user)) == (1, counted(1, sent=1))


def test_a_message_in_the_middle_of_its_hand_off_when_the_log_ends(cli, tmp_path):
    path = _logins(tmp_path, "1B91C2259")
    queue = rows(cli, "queue", path, year=YEAR)
    assert sorted((row["queue_id"], row["kind"], row["user"], row["pending_recipients"],
                   row["parent_queue_id"]) for row in queue) == [
        ("1B91C2259", "submission", "user0", 50, None),
        ("69842214B", "reinjected", "user0", 12, "1B91C2259")]
    [user] = rows(cli, "users", path, year=YEAR)
    assert (user["messages"], outcomes(user)) == (1, counted(62, deferred=62))
    assert len(rows(cli, "messages", path, year=YEAR)) == 62


def test_the_same_end_when_the_filter_says_queued_as(cli, tmp_path):
    # amavisd-new's and Postfix's own answer for the same hand-off: the copy followed as before.
    path = _logins(tmp_path, "1B91C2259")
    path.write_text(re.sub(r"\(250 OK, sent \S+ ([0-9A-F]+)\)$",
                           r"(250 2.0.0 Ok: queued as \1)", path.read_text(), flags=re.M))
    [user] = rows(cli, "users", path, year=YEAR)
    assert outcomes(user) == counted(62, deferred=62)
    assert sorted((row["queue_id"], row["pending_recipients"])
                  for row in rows(cli, "queue", path, year=YEAR)) == [
        ("1B91C2259", 50), ("69842214B", 12)]


def test_every_login_through_the_filter(cli, tmp_path):
    path = _logins(tmp_path)
    messages = rows(cli, "messages", path, year=YEAR)
    # Of the 159 answers of the filter, 109 are for the 49 messages whose client= line is in
    # the file (the others', CF6C9214B's on line 1 among them, were queued before it began).
    # Each of the 109 goes on to 10.0.0.1 as the filter's copy, but the one the filter
    # bounced (line 717: `too many hops`) and the 12 of 1B91C2259 whose copy is still queued,
    # deferred with its 50 not yet tried.
    assert sum(row["relay"] == "127.0.0.1[127.0.0.1]:10025" and row["status"] == "sent"
               for row in messages) == 0
    assert sum(row["relay"] == "10.0.0.1[10.0.0.1]:1025" for row in messages) == 96
    assert [row["reason"] for row in messages if row["status"] == "bounced"] == [
        "host 127.0.0.1[127.0.0.1] said: 554 during .: 5.4.0 Error: too many hops (in reply "
        "to end of DATA command)"]
    assert sum(row["status"] == "deferred" for row in messages) == 62


@pytest.mark.parametrize("jobs", [2, 3])
def test_every_login_through_the_filter_with_jobs(tmp_path, monkeypatch, jobs):
    """A copy named last, either side of a chunk's start: the same objects as one process."""
    path = _logins(tmp_path)
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    read_alike(path, [(jobs, size) for size in (700, 2_000, 5_000, 30_000)])
