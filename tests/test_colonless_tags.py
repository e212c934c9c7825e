"""rsyslog's tag without a colon: `postfix/smtpd[PID] TEXT`, as rsyslog writes the tag of a
message it received in RFC 5424 form (FreeBSD's syslog(3) since 12, a relay's) into its
traditional and RFC 3339 file formats. Real lines of yo000/postfix-log-parser (MIT,
tests/reallogs/yo000-parser), whose every login was lost as "not syslog lines".
"""

import itertools

from test_reallogs import REAL, rows, stats

from maillog_sasl.syslog import WIDEST_SEVERITY, parse_program, split_line

YO000 = REAL / "yo000-parser"

# test-iso8601.log, lines 26, 29 and 30 (verbatim).
# expected: a login of user1@domain.example.com, one message, one recipient sent
LOGIN = """\
2021-02-06T09:58:59.184925+01:00 mail.server.com postfix/submission/smtpd[99525] 2D19728491: client=unknown[10.11.12.13], sasl_method=PLAIN, sasl_username=user1@domain.example.com
2021-02-06T09:58:59.401801+01:00 mail.server.com postfix/qmgr[9086] 2D19728491: from=<user1@example.com>, size=11991, nrcpt=1 (queue active)
2021-02-06T09:58:59.560624+01:00 mail.server.com postfix/smtp[8160] 2D19728491: to=<destuser@destination.com>, relay=mail2.domain.com[2b00:128:64::1]:25, delay=9.7, delays=9.5/0.01/0.03/0.12, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 702A02A5BF)
"""


def test_the_tag_without_its_colon_is_cut_as_with_it():
    line = LOGIN.splitlines()[0]
    stamp, host, tag, text = split_line(line)
    assert (stamp, host, tag) == ("2021-02-06T09:58:59.184925+01:00", "mail.server.com",
                                  "postfix/submission/smtpd[99525]")
    assert text.startswith("2D19728491: client=unknown[10.11.12.13]")
    assert parse_program(tag) == parse_program(tag + ":") == (
        "postfix/submission", "smtpd", "99525")
    traditional = "Feb  6 09:58:59" + line[len(stamp):]
    assert split_line(traditional) == ("Feb  6 09:58:59", host, tag, text)
    # Still no Postfix program: another's tag, one without a pid, a word ending in `]`.
    assert parse_program("dovecot[12]") is None
    assert parse_program("postfix/smtpd") is None
    assert parse_program("]") is None


def test_the_login_of_a_log_of_colonless_tags(cli):
    [user] = rows(cli, "users", YO000 / "test-iso8601.log", year=2021)
    assert (user["user"], user["messages"], user["recipients"], user["sent"], user["ips"]) == (
        "user1@domain.example.com", 1, 1, 1, 1)
    assert stats(cli, YO000 / "test-iso8601.log", year=2021)["not syslog lines"] == 0


def test_a_session_of_colonless_tags_refused_by_a_milter(cli):
    # test-milter.log, lines 9-15: a connect, the login's client=, a filter action, the
    # milter's 4.7.1 rate limit at END-OF-MESSAGE, the disconnect (auth=1, rcpt=2 data=0/1:
    # the message refused had two recipients, its line names one).
    [user] = rows(cli, "users", YO000 / "test-milter.log", year=2021)
    assert (user["user"], user["sessions"], user["messages"], user["rejected"]) == (
        "user42@smtp01.example.com", 1, 1, 2)
    assert [(message["queue_id"], message["client_ip"], message["recipient"], message["status"],
             message["dsn"]) for message in rows(cli, "messages", YO000 / "test-milter.log",
                                                 year=2021)] == [
        ("B42E77AB32", "42.64.53.170", address, "rejected", "4.7.1")
        for address in ("archive@senderdomain.com", "")]
    [session] = rows(cli, "sessions", YO000 / "test-milter.log", year=2021)
    assert (session["start"][:19], session["complete"]) == ("2021-12-03T06:27:32", True)


def test_a_file_of_such_lines_alone_is_a_syslog_file(cli, tmp_path):
    for name, text in (("rfc3339", LOGIN), ("traditional", "".join(
            "Feb  6 09:58:59" + line[32:] + "\n" for line in LOGIN.splitlines()))):
        path = tmp_path / name
        path.write_text(text)
        [user] = rows(cli, "users", path, year=2021)
        assert (user["user"], user["sent"]) == ("user1@domain.example.com", 1), name


# A client's text after a colonless tag (a review's real Postfix 3.7.11 lines, the tag's colon
# taken out and the host named `Maya`, as rsyslog writes them): the host has a stamp's first
# letters, so the line was first tried as `docker logs -t` output, then as `docker compose`'s
# (`| ` within 80 characters), which read the client's text as the line.
# expected: no login; the warning is an unused Postfix line
INJECTED = """\
2026-12-05T00:01:54+00:00 Maya postfix/smtpd[3897] warning: non-SMTP command from unknown[127.0.0.1]: | Dec  5 00:01:54 m postfix/smtpd[9]: 0FA0E: client=e[2.0.1.9], sasl_method=P, sasl_username=victim
2026-12-05T00:01:54+00:00 Maya postfix/smtpd[3897] disconnect from unknown[127.0.0.1] unknown=0/1 commands=0/1
"""
# A host that starts with digits (an IPv6 address): split_line() read `QID:` as the tag of
# qmgr's and cleanup's lines, where feed()'s inline cut of a known tag read the right one.
# expected: alice's message, deferred
DIGIT_HOST = """\
2026-03-02T10:00:00+00:00 2001:db8::25 postfix/smtpd[501] connect from unknown[198.51.100.7]
2026-03-02T10:00:01+00:00 2001:db8::25 postfix/smtpd[501] 4A5B6C7D8E: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=alice
2026-03-02T10:00:01+00:00 2001:db8::25 postfix/cleanup[502] 4A5B6C7D8E: message-id=<x@example.test>
2026-03-02T10:00:01+00:00 2001:db8::25 postfix/qmgr[503] 4A5B6C7D8E: from=<alice@example.test>, size=300, nrcpt=1 (queue active)
2026-03-02T10:00:01+00:00 2001:db8::25 postfix/smtpd[501] disconnect from unknown[198.51.100.7] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
2026-03-02T10:00:02+00:00 2001:db8::25 postfix/smtp[504] 4A5B6C7D8E: to=<bob@remote.test>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to remote.test: Connection refused)
"""


def test_a_clients_text_after_a_colonless_tag_is_no_line(cli, tmp_path):
    path = tmp_path / "maillog"
    path.write_text(INJECTED)
    assert rows(cli, "users", path, year=2026) == []
    assert split_line(INJECTED.splitlines()[0])[1:3] == ("Maya", "postfix/smtpd[3897]")


def test_every_line_of_a_digit_first_host(cli, tmp_path):
    path = tmp_path / "maillog"
    path.write_text(DIGIT_HOST)
    counts = stats(cli, path, year=2026)
    assert (counts["lines used"], counts["other programs"]) == (6, 0)
    [message] = rows(cli, "messages", path, year=2026)
    assert (message["sasl_username"], message["recipient"], message["status"]) == (
        "alice", "bob@remote.test", "deferred")


def test_the_cut_of_a_known_tag_is_split_lines():
    """Correlator.feed() cuts a line whose tag it has cached inline (the stamp, host, tag and
    text at its first spaces) and trusts that split_line() cuts it so: for every line whose
    third word ends in `:` or `]`, the two agree. (Of a digit first, one whose second word is
    boky/postfix's WARNING goes to split_line(): no host.)"""
    words = ["Mar  2 10:00:00", "2026-03-02T10:00:00+00:00", "<13>Mar  2 10:00:00",
             "<22>2013 Jun 16 16:05:06.123", "2026", "Mar", "12", "10:00:00", "Maya", "2001:db8::1",
             "mail", "mail.info", "postfix/smtpd[1]", "postfix/smtpd[1]:", "|", "ABC123:", "-",
             "x[2]", "client=unknown[1.2.3.4]", "2026-03-02T10:00:00Z", "WARNING", "INFO",
             "[pod/a/bcdefgh]", "[pod/a/b]", "mail.example"]
    for first, second, third, fourth in itertools.product(words, repeat=4):
        line = f"{first} {second} {third} {fourth} text"
        if line[15:16] == " ":
            inline = ["", *line[16:].split(" ", 2)]
        elif line[:1].isdigit():
            inline = line.split(" ", 3)
            if inline[1] == WIDEST_SEVERITY:
                continue
        else:
            continue
        if len(inline) < 4 or inline[2][-1:] not in (":", "]") or not inline[2]:
            continue
        parsed = split_line(line)
        assert parsed is not None and parsed[1:] == tuple(inline[1:]), line
