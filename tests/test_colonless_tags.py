"""rsyslog's tag without a colon: `postfix/smtpd[PID] TEXT`, as rsyslog writes the tag of a
message it received in RFC 5424 form (FreeBSD's syslog(3) since 12, a relay's) into its
traditional and RFC 3339 file formats. Real lines of yo000/postfix-log-parser (MIT,
tests/reallogs/yo000-parser), whose every login was lost as "not syslog lines".
"""

from test_reallogs import REAL, rows, stats

from maillog_sasl.syslog import parse_program, split_line

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
    # milter's 4.7.1 rate limit at END-OF-MESSAGE, the disconnect (auth=1).
    [user] = rows(cli, "users", YO000 / "test-milter.log", year=2021)
    assert (user["user"], user["sessions"], user["messages"], user["rejected"]) == (
        "user42@smtp01.example.com", 1, 1, 1)
    [message] = rows(cli, "messages", YO000 / "test-milter.log", year=2021)
    assert (message["queue_id"], message["client_ip"], message["status"], message["dsn"]) == (
        "B42E77AB32", "42.64.53.170", "rejected", "4.7.1")
    [session] = rows(cli, "sessions", YO000 / "test-milter.log", year=2021)
    assert (session["start"][:19], session["complete"]) == ("2021-12-03T06:27:32", True)


def test_a_file_of_such_lines_alone_is_a_syslog_file(cli, tmp_path):
    for name, text in (("rfc3339", LOGIN), ("traditional", "".join(
            "Feb  6 09:58:59" + line[32:] + "\n" for line in LOGIN.splitlines()))):
        path = tmp_path / name
        path.write_text(text)
        [user] = rows(cli, "users", path, year=2021)
        assert (user["user"], user["sent"]) == ("user1@domain.example.com", 1), name
