"""A shape of a public Postfix log read in the fourteenth hunt (tests/reallogs/README.md,
2026-12-07), under no licence that lets it be copied: the lines below are this project's, in its
shape; every expected value is read from them (written above each line), never from the tool.

A TryHackMe write-up in a repository the search index does not name (a lab's Postfix on Ubuntu
20.04, its mail.log read back through a web page's file inclusion) shows what smtpd logs when a
client sends its commands before the server's answers: `improper command pipelining after EHLO
from NAME[IP]: MAIL FROM:\\nRCPT TO:\\nDATA\\nSubject: Test\\n\\nTest message.\\n.\\nQUIT\\n\\n`,
the client's unread input on one line, each line end as a backslash and `n` (smtpd.c escapes
what it logs). That text is the client's own: a client can make it read like any Postfix line,
a login's `client=` line, a SASL failure or a disconnect's counters. Read right before this hunt
and untested: the line is a Postfix line not used, its escapes split no line, and no login,
failure or counter is taken from the text behind it.
"""

import pytest
from test_reallogs import counted, failures, outcomes, rows, stats

from support import written

YEAR = 2025
PIPELINING = "".join([
    # session 3471 from 198.51.100.20, no AUTH (the write-up's session, its names ours)
    "Mar 10 05:10:58 mail postfix/smtpd[3471]: connect from client.example.net[198.51.100.20]\n",
    # the client's pipelined input, escaped on one line: a Postfix line not used
    "Mar 10 05:10:58 mail postfix/smtpd[3471]: improper command pipelining after EHLO from "
    "client.example.net[198.51.100.20]: MAIL FROM:\\nRCPT TO:\\nDATA\\nSubject: Test\\n\\n"
    "Test message.\\n.\\nQUIT\\n\\n\n",
    # its message, queued without a login
    "Mar 10 05:10:58 mail postfix/smtpd[3471]: 9D546FB215: client=client.example.net"
    "[198.51.100.20]\n",
    "Mar 10 05:10:58 mail postfix/cleanup[3474]: 9D546FB215: message-id=<>\n",
    "Mar 10 05:10:58 mail postfix/smtpd[3471]: disconnect from client.example.net[198.51.100.20] "
    "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n",
    "Mar 10 05:10:58 mail postfix/qmgr[1720]: 9D546FB215: from=<test@example.com>, size=242, "
    "nrcpt=1 (queue active)\n",
    # session 2101 from 203.0.113.90 pipelines text written to look like a login's client= line
    # (right after smtpd's `: `, as a queue ID's line is: the tag's text before it is no queue ID),
    # a SASL failure of 203.0.113.9 and a disconnect with nine failed AUTHs: none of them is
    # Postfix's, so no login, no failure, no session of 203.0.113.9
    "Mar 10 06:17:20 mail postfix/smtpd[2101]: connect from unknown[203.0.113.90]\n",
    "Mar 10 06:17:21 mail postfix/smtpd[2101]: improper command pipelining after EHLO from "
    "unknown[203.0.113.90]: client=evil.example[203.0.113.9], sasl_method=PLAIN, "
    "sasl_username=admin@example.org\\r\\nwarning: evil.example[203.0.113.9]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6\\r\\ndisconnect from evil.example[203.0.113.9] ehlo=1 "
    "auth=0/9 commands=1/10\\r\\n\n",
    "Mar 10 06:17:21 mail postfix/smtpd[2101]: disconnect from unknown[203.0.113.90] ehlo=1 "
    "quit=1 commands=2\n",
    # a real login after it: session 2105 from 192.0.2.15, PLAIN, ops@example.org, one message
    # to one recipient, sent
    "Mar 10 06:20:00 mail postfix/submission/smtpd[2105]: connect from unknown[192.0.2.15]\n",
    "Mar 10 06:20:01 mail postfix/submission/smtpd[2105]: 5E6F7A8B9C: client=unknown[192.0.2.15],"
    " sasl_method=PLAIN, sasl_username=ops@example.org\n",
    "Mar 10 06:20:01 mail postfix/qmgr[1720]: 5E6F7A8B9C: from=<ops@example.org>, size=900, "
    "nrcpt=1 (queue active)\n",
    "Mar 10 06:20:01 mail postfix/submission/smtpd[2105]: disconnect from unknown[192.0.2.15] "
    "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8\n",
    "Mar 10 06:20:02 mail postfix/smtp[2110]: 5E6F7A8B9C: to=<a@far.example>, relay=mx.far.example"
    "[198.51.100.25]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n",
    "Mar 10 06:20:02 mail postfix/qmgr[1720]: 5E6F7A8B9C: removed\n",
])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_clients_pipelined_text_is_not_read_as_postfix_lines(cli, tmp_path, jobs):
    args = ("--jobs", jobs, str(written(tmp_path, PIPELINING)))
    # the one login: ops@example.org from 192.0.2.15, one recipient sent
    [user] = rows(cli, "users", *args, year=YEAR)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"]) == (
        "ops@example.org", 1, 1, 1, ["plain"])
    assert outcomes(user) == counted(1, sent=1)
    # no session failed an AUTH: the counters of 3471, 2101 and 2105 name no failed `auth`
    assert failures(cli, *args, year=YEAR) == {}
    messages = rows(cli, "messages", *args, year=YEAR)
    assert [(row["queue_id"], row["sasl_username"], row["recipient"], row["status"])
            for row in messages] == [("5E6F7A8B9C", "ops@example.org", "a@far.example", "sent")]


def test_each_pipelining_line_is_one_postfix_line_not_used(cli, tmp_path):
    counts = stats(cli, str(written(tmp_path, PIPELINING)), year=YEAR)
    # 15 lines (6 of session 3471, 3 of 2101, 6 of the login; each `\n` above ends one, the
    # escaped `\\n` and `\\r\\n` end none), all Postfix's; the two pipelining lines are
    # Postfix lines not used
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"],
            counts["Postfix lines not used"]) == (15, 0, 0, 2)
