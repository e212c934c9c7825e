"""Shapes of public Postfix logs read in the twelfth hunt (tests/reallogs/README.md, 2026-12-07),
none under a licence that lets it be copied: the lines below are this project's, in their
shapes; every expected value is read from them (written above each line), never from the tool.

A server whose every master.cf service is named in syslog (GrayHatter/benevolence's Zig tests,
lines of its author's own server, 2025-2026, no licence): BusyBox syslogd's `facility.priority`
between host and tag (`gr mail.warn postfix/smtps/smtpd[27561]:`, `mail.info` on the same
process's other lines), and `-o syslog_name=postfix/$service_name` on each smtpd, so the server
on port 25 logs as `postfix/smtp/smtpd`: a tag that starts as the SMTP client's `postfix/smtp`
does, whose service is `smtp`. A failure whose SASL server names no reason
(`(reason unavailable), sasl_username=U`), a guess on port 25 with `auth=0/1 rset=1 quit=1`,
and Postfix 3.10's end of a session that went wrong, now behind the queue ID or `NOQUEUE`
(`NOQUEUE: lost connection after EHLO from ...`; smtpd.c since 20250104: "the Postfix SMTP
server now logs the queue ID or "NOQUEUE" when an SMTP session terminates abnormally (too many
errors, I/O timeout, lost connection)"). Such a line is no failure by itself, as the older
`lost connection after AUTH` is not (test_reallogs.py).

An after-queue amavisd-new on another loopback address (bnchdan/MailLog2MySQL#2, a server's
lines of a message from outside, no login; issue thread, no licence): the filter listens on
`127.0.0.50:10024` and answers `250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued
as NEWQID`, and its copy's lines, `NEWQID: client=localhost[127.0.0.1], orig_queue_id=QID,
orig_client=...` (XFORWARD), come before smtp's line of the original that names it, with
postsrsd's lines among them. Below, the original is a login's (its SASL fields put on its
client= line): the copy's outcomes are the login's.

A NAT gateway in front of the server (an unnamed repository's notes): every client is
systemd-resolved's name for the default gateway, `_gateway[192.168.200.254]`, a name with an
underscore, as is mail-in-a-box/mailinabox#2197's guess on submission (`lost connection after
AUTH`, `ehlo=1 auth=0/1 rset=1 commands=2/3`).
"""

import pytest
from test_reallogs import counted, failures, outcomes, rows, stats

from maillog_sasl.syslog import parse_program, split_line

from support import written

YEAR = 2025
SERVICES = "".join([
    # smtps session 27561 from 203.0.113.52 begins
    "May 30 22:00:30 gr mail.info postfix/smtps/smtpd[27561]: connect from "
    "unknown[203.0.113.52]\n",
    # a PLAIN failure of gwe@example.org from 203.0.113.52, no reason named; `mail.warn` and
    # `gr` are not the host and the tag
    "May 30 22:00:35 gr mail.warn postfix/smtps/smtpd[27561]: warning: unknown[203.0.113.52]: "
    "SASL PLAIN authentication failed: (reason unavailable), sasl_username=gwe@example.org\n",
    # Postfix >= 3.10: no failure more, a Postfix line not used
    "May 30 22:00:35 gr mail.info postfix/smtps/smtpd[27561]: NOQUEUE: lost connection after "
    "AUTH from unknown[203.0.113.52]\n",
    # session 27561 ends: one failed AUTH
    "May 30 22:00:35 gr mail.info postfix/smtps/smtpd[27561]: disconnect from "
    "unknown[203.0.113.52] auth=0/1 commands=0/1\n",
    # port 25's smtpd, service `smtp`: session 10108 from 198.51.100.6
    "May 30 22:01:00 gr mail.info postfix/smtp/smtpd[10108]: connect from "
    "unknown[198.51.100.6]\n",
    # a LOGIN failure from 198.51.100.6, no username
    "May 30 22:01:04 gr mail.warn postfix/smtp/smtpd[10108]: warning: unknown[198.51.100.6]: "
    "SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
    "May 30 22:01:09 gr mail.info postfix/smtp/smtpd[10108]: disconnect from "
    "unknown[198.51.100.6] ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4\n",
    # a scanner on submission, no AUTH: nothing counted
    "May 30 22:02:00 gr mail.info postfix/submission/smtpd[8764]: connect from "
    "scan-17.example.net[192.0.2.220]\n",
    # Postfix >= 3.10: a Postfix line not used
    "May 30 22:02:01 gr mail.info postfix/submission/smtpd[8764]: NOQUEUE: lost connection "
    "after EHLO from scan-17.example.net[192.0.2.220]\n",
    "May 30 22:02:01 gr mail.info postfix/submission/smtpd[8764]: disconnect from "
    "scan-17.example.net[192.0.2.220] ehlo=1 commands=1\n",
    # gwe@example.org logs in on submission from 192.0.2.44 over TLSv1.3 and sends 4C1B2A3D4E
    "May 30 22:03:00 gr mail.info postfix/submission/smtpd[8770]: connect from "
    "laptop.example.org[192.0.2.44]\n",
    "May 30 22:03:01 gr mail.info postfix/submission/smtpd[8770]: Anonymous TLS connection "
    "established from laptop.example.org[192.0.2.44]: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) "
    "server-digest SHA256\n",
    "May 30 22:03:02 gr mail.info postfix/submission/smtpd[8770]: 4C1B2A3D4E: "
    "client=laptop.example.org[192.0.2.44], sasl_method=PLAIN, sasl_username=gwe@example.org\n",
    "May 30 22:03:02 gr mail.info postfix/cleanup[8771]: 4C1B2A3D4E: message-id=<a1@example.org>\n",
    # two recipients
    "May 30 22:03:02 gr mail.info postfix/qmgr[900]: 4C1B2A3D4E: from=<gwe@example.org>, "
    "size=1200, nrcpt=2 (queue active)\n",
    "May 30 22:03:02 gr mail.info postfix/submission/smtpd[8770]: disconnect from "
    "laptop.example.org[192.0.2.44] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 "
    "commands=9\n",
    # the SMTP client (`postfix/smtp`, not port 25's smtpd): a@far.example sent
    "May 30 22:03:03 gr mail.info postfix/smtp[8772]: 4C1B2A3D4E: to=<a@far.example>, "
    "relay=mx.far.example[198.51.100.25]:25, delay=1.2, delays=0.1/0.01/0.5/0.6, dsn=2.0.0, "
    "status=sent (250 2.0.0 Ok: queued as 9F8E7D6C5B)\n",
    # b@near.example deferred: 4C1B2A3D4E stays queued
    "May 30 22:03:04 gr mail.info postfix/smtp[8773]: 4C1B2A3D4E: to=<b@near.example>, "
    "relay=mx.near.example[198.51.100.26]:25, delay=2, delays=0.1/0.01/1/0.9, dsn=4.7.1, "
    "status=deferred (host mx.near.example[198.51.100.26] said: 450 4.7.1 try later (in reply "
    "to RCPT TO command))\n",
    # ops@example.org logs in on port 25 (service `smtp`) from 192.0.2.45 and sends 5D2C3B4E5F
    "May 30 22:04:00 gr mail.info postfix/smtp/smtpd[10120]: connect from "
    "office.example.org[192.0.2.45]\n",
    "May 30 22:04:01 gr mail.info postfix/smtp/smtpd[10120]: 5D2C3B4E5F: "
    "client=office.example.org[192.0.2.45], sasl_method=LOGIN, sasl_username=ops@example.org\n",
    "May 30 22:04:01 gr mail.info postfix/cleanup[8771]: 5D2C3B4E5F: message-id=<b2@example.org>\n",
    "May 30 22:04:01 gr mail.info postfix/qmgr[900]: 5D2C3B4E5F: from=<ops@example.org>, "
    "size=900, nrcpt=1 (queue active)\n",
    "May 30 22:04:01 gr mail.info postfix/smtp/smtpd[10120]: disconnect from "
    "office.example.org[192.0.2.45] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n",
    # the SMTP client: c@far.example bounced
    "May 30 22:04:02 gr mail.info postfix/smtp[8774]: 5D2C3B4E5F: to=<c@far.example>, "
    "relay=mx.far.example[198.51.100.25]:25, delay=1, delays=0.1/0.01/0.4/0.5, dsn=5.1.1, "
    "status=bounced (host mx.far.example[198.51.100.25] said: 550 5.1.1 no such user (in reply "
    "to RCPT TO command))\n",
    "May 30 22:04:02 gr mail.info postfix/qmgr[900]: 5D2C3B4E5F: removed\n",
])


def test_port_25s_smtpd_named_smtp_is_smtpd():
    _stamp, host, tag, _text = split_line(
        "May 30 22:04:01 gr mail.info postfix/smtp/smtpd[10120]: disconnect from x[192.0.2.45]")
    assert (host, parse_program(tag)) == ("gr", ("postfix/smtp", "smtpd", "10120"))
    _stamp, host, tag, _text = split_line(
        "May 30 22:04:02 gr mail.info postfix/smtp[8774]: 5D2C3B4E5F: removed")
    assert (host, parse_program(tag)) == ("gr", ("postfix", "smtp", "8774"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_service_named_in_syslog(cli, tmp_path, jobs):
    path = written(tmp_path, SERVICES)
    args = ("--jobs", jobs, str(path))
    assert failures(cli, *args, year=YEAR) == {
        "203.0.113.52": (1, ["gwe@example.org"], ["plain"], 1),
        "198.51.100.6": (1, [], ["login"], 1)}
    sessions = rows(cli, "sessions", *args, year=YEAR)
    assert [(row["host"], row["service"], row["pid"], row["client_ip"], row["sasl_username"],
             row["messages"], row["recipients"], row["failed_auth"], row["complete"])
            for row in sessions] == [
        ("gr", "postfix/submission", "8770", "192.0.2.44", "gwe@example.org", 1, 2, 0, True),
        ("gr", "postfix/smtp", "10120", "192.0.2.45", "ops@example.org", 1, 1, 0, True)]
    users = {row["user"]: row for row in rows(cli, "users", *args, year=YEAR)}
    assert sorted(users) == ["gwe@example.org", "ops@example.org"]
    assert outcomes(users["gwe@example.org"]) == counted(2, sent=1, deferred=1)
    assert outcomes(users["ops@example.org"]) == counted(1, bounced=1)
    messages = rows(cli, "messages", *args, year=YEAR)
    assert sorted((row["queue_id"], row["sasl_username"], row["recipient"], row["status"])
                  for row in messages) == [
        ("4C1B2A3D4E", "gwe@example.org", "a@far.example", "sent"),
        ("4C1B2A3D4E", "gwe@example.org", "b@near.example", "deferred"),
        ("5D2C3B4E5F", "ops@example.org", "c@far.example", "bounced")]
    counts = stats(cli, *args, year=YEAR)
    # the two `NOQUEUE: lost connection` lines; 4C1B2A3D4E deferred, never removed
    assert (counts["lines read"], counts["Postfix lines not used"], counts["sessions incomplete"],
            counts["messages still queued"]) == (25, 2, 0, 1)


GATEWAY = """\
Dec 17 19:55:40 mail postfix/smtpd[10346]: connect from _gateway[192.168.200.254]
Dec 17 19:55:57 mail postfix/smtpd[10346]: disconnect from _gateway[192.168.200.254] ehlo=1 \
mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
Dec 17 19:56:10 mail postfix/smtps/smtpd[10063]: connect from _gateway[192.168.200.254]
Dec 17 19:56:18 mail postfix/smtps/smtpd[10063]: warning: _gateway[192.168.200.254]: SASL LOGIN \
authentication failed: UGFzc3dvcmQ6
Dec 17 19:56:23 mail postfix/smtps/smtpd[10063]: lost connection after AUTH from \
_gateway[192.168.200.254]
Dec 17 19:56:23 mail postfix/smtps/smtpd[10063]: disconnect from _gateway[192.168.200.254] \
ehlo=1 auth=0/1 rset=1 commands=2/3
"""


def test_a_client_named_gateway(cli, tmp_path):
    path = written(tmp_path, GATEWAY)
    # one failure, the second session's; the first never tried AUTH
    [row] = rows(cli, "failures", str(path), year=YEAR)
    assert (row["client_ip"], row["attempts"], row["client_names"], row["sessions"]) == (
        "192.168.200.254", 1, ["_gateway"], 1)
    assert rows(cli, "sessions", str(path), year=YEAR) == []
    assert stats(cli, str(path), year=YEAR)["sessions incomplete"] == 0


AMAVIS = "".join([
    # david@example.co.uk logs in from 192.0.2.21 and submits C1C978075, two recipients
    "Sep 21 12:37:50 mail postfix/submission/smtpd[3679390]: connect from "
    "pc.example.net[192.0.2.21]\n",
    "Sep 21 12:37:55 mail postfix/submission/smtpd[3679390]: C1C978075: "
    "client=pc.example.net[192.0.2.21], sasl_method=PLAIN, sasl_username=david@example.co.uk\n",
    "Sep 21 12:37:55 mail postfix/cleanup[3679400]: C1C978075: message-id=<m1@example.co.uk>\n",
    "Sep 21 12:37:56 mail postfix/qmgr[3119543]: C1C978075: from=<david@example.co.uk>, "
    "size=2000, nrcpt=2 (queue active)\n",
    "Sep 21 12:37:56 mail postfix/submission/smtpd[3679390]: disconnect from "
    "pc.example.net[192.0.2.21] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9\n",
    # the filter's copy DA5C280C1 of C1C978075, before smtp's line naming it
    "Sep 21 12:37:57 mail postfix/smtpd[3679404]: connect from localhost[127.0.0.1]\n",
    "Sep 21 12:37:57 mail postfix/smtpd[3679404]: DA5C280C1: client=localhost[127.0.0.1], "
    "orig_queue_id=C1C978075, orig_client=pc.example.net[192.0.2.21]\n",
    # another program's line
    "Sep 21 12:37:57 mail postsrsd[3679405]: srs_forward: <david@example.co.uk> not rewritten: "
    "Valid SRS address for <david@example.co.uk>\n",
    "Sep 21 12:37:57 mail postfix/cleanup[3679400]: DA5C280C1: message-id=<m1@example.co.uk>\n",
    "Sep 21 12:37:58 mail postfix/qmgr[3119543]: DA5C280C1: from=<david@example.co.uk>, "
    "size=2600, nrcpt=2 (queue active)\n",
    "Sep 21 12:37:58 mail postfix/smtpd[3679404]: disconnect from localhost[127.0.0.1] ehlo=1 "
    "xforward=1 mail=1 rcpt=2 data=1 quit=1 commands=7\n",
    # both recipients handed to the filter: not their outcome
    "Sep 21 12:37:58 mail postfix/smtp[3679401]: C1C978075: to=<sales@example.co.uk>, "
    "relay=127.0.0.50[127.0.0.50]:10024, delay=1.9, delays=0.29/0/0/1.6, dsn=2.0.0, status=sent "
    "(250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as DA5C280C1)\n",
    "Sep 21 12:37:58 mail postfix/smtp[3679401]: C1C978075: to=<far@remote.example>, "
    "relay=127.0.0.50[127.0.0.50]:10024, delay=1.9, delays=0.29/0/0/1.6, dsn=2.0.0, status=sent "
    "(250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as DA5C280C1)\n",
    "Sep 21 12:37:58 mail postfix/qmgr[3119543]: C1C978075: removed\n",
    # the copy: sales@ (an alias of david@) delivered, far@remote.example bounced
    "Sep 21 12:37:58 mail postfix/virtual[3679408]: DA5C280C1: to=<david@example.co.uk>, "
    "orig_to=<sales@example.co.uk>, relay=virtual, delay=0.76, delays=0.72/0.01/0/0.03, "
    "dsn=2.0.0, status=sent (delivered to maildir)\n",
    "Sep 21 12:37:59 mail postfix/smtp[3679410]: DA5C280C1: to=<far@remote.example>, "
    "relay=mx.remote.example[198.51.100.3]:25, delay=2, delays=0.7/0.01/0.5/0.8, dsn=5.7.1, "
    "status=bounced (host mx.remote.example[198.51.100.3] said: 550 5.7.1 rejected (in reply to "
    "end of DATA command))\n",
    "Sep 21 12:37:59 mail postfix/qmgr[3119543]: DA5C280C1: removed\n",
])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_filter_on_another_loopback_address(cli, tmp_path, jobs):
    args = ("--jobs", jobs, str(written(tmp_path, AMAVIS)))
    # the copy's two recipients, the login's
    messages = rows(cli, "messages", *args, year=2023)
    assert sorted((row["queue_id"], row["recipient"], row["orig_to"], row["status"],
                   row["sasl_username"]) for row in messages) == [
        ("DA5C280C1", "david@example.co.uk", "sales@example.co.uk", "sent", "david@example.co.uk"),
        ("DA5C280C1", "far@remote.example", None, "bounced", "david@example.co.uk")]
    [user] = rows(cli, "users", *args, year=2023)
    assert (user["user"], user["sessions"], user["messages"]) == ("david@example.co.uk", 1, 1)
    assert outcomes(user) == counted(2, sent=1, bounced=1)
    counts = stats(cli, *args, year=2023)
    assert (counts["lines read"], counts["other programs"], counts["untracked queue IDs"],
            counts["messages still queued"]) == (17, 1, 0, 0)
