"""Real logs of a relay through an after-queue content filter (Mail::Log::Parse's test log,
2008, Perl's terms), whose last message is in the middle of its hand-off when the log ends.

tests/reallogs/mail-log-parse holds the file as published: every message from outside goes to
a filter on 127.0.0.1:10025, which re-injects it through smtpd from 127.0.0.1. The log ends with
1B91C2259 (nrcpt=62, line 882) handed to the filter in part: 12 recipients taken as 69842214B
(lines 888-899, whose qmgr line is not in the file), 50 not yet tried. With the filter's answer
as amavisd-new writes it (`queued as`), the tool followed it and then lost the message whole
(no row in any report, its user 0 recipients): the message counted no waiting recipient once
one was handed on, and a filter's copy never did.

None of its lines is a login: the tests give its client= lines the SASL fields Postfix writes
for one after the client, as test_reallogs17.py does. As in test_reallogs.py, every expected
number was counted from the lines themselves (grep), never taken from the tool's output.
"""

import re

from test_reallogs import REAL, counted, outcomes, rows, stats

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
