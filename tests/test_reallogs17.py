"""Real logs of a Zimbra 8 MTA (sgros/LogParser's tests, 2013, GPL-2.0-or-later): inbound mail
through amavisd-new, and a recipient at an address literal.

tests/reallogs/sgros-logparser holds the three files as published: smtpd's `NOQUEUE: filter:
RCPT ... triggers FILTER smtp-amavis:[127.0.0.1]:10026` lines, the filter's re-injections
through `postfix/amavisd/smtpd` from 127.0.0.1, LMTP delivery to the mailbox server (port
7025), and `to=<mailarchive@[172.16.10.20]>`, an archive copy addressed to an address literal
(RFC 5321's `[IPv4]` domain), which no other log here holds. None of their lines is a login:
the tests read them as published, then test2.log with a login on its one client= line, the
SASL fields Postfix writes for one after the client, as test_reallogs10.py gives
fgforrest-pda's lines one. As in test_reallogs.py, every expected number was counted from the
lines themselves (grep), never taken from the tool's output.
"""

import pytest
from test_reallogs import REAL, counted, outcomes, rows, stats

SGROS = REAL / "sgros-logparser"
YEAR = 2013
# wc -l of each file; every line is a Postfix daemon's (grep -c ' postfix/' gives the same).
LINES = {"test1.log": 5, "test2.log": 9, "test3.log": 24}
CLIENT = ": 46641321B67: client=guppy.example-domain.com[10.0.0.140]\n"


@pytest.mark.parametrize("name", sorted(LINES))
def test_each_file_is_read_whole_and_holds_no_login(cli, name):
    path = SGROS / name
    counts = stats(cli, path, year=YEAR)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"]) == (
        LINES[name], 0, 0)
    assert rows(cli, "users", path, year=YEAR) == []
    assert rows(cli, "failures", "--all", path, year=YEAR) == []


def _test2_with_a_login(tmp_path):
    """test2.log with a login on line 3, its client= line: the stamps are the file's."""
    lines = (SGROS / "test2.log").read_text().splitlines(keepends=True)
    assert lines[2].endswith(CLIENT)
    lines[2] = lines[2][:-1] + ", sasl_method=LOGIN, sasl_username=user@example.com\n"
    path = tmp_path / "maillog"
    path.write_text("".join(lines))
    return path


def test_a_login_through_zimbras_filter_to_an_address_literal(cli, tmp_path):
    path = _test2_with_a_login(tmp_path)
    # Lines 7 and 8: both recipients sent to amavisd-new on 127.0.0.1:10026, which answered
    # `queued as 5E1AC321B6A` for the one transaction; that queue file's lines are not in the
    # file, so the hand-off is each recipient's outcome.
    messages = rows(cli, "messages", path, year=YEAR)
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["relay"])
                  for row in messages) == [
        ("46641321B67", "MAILER-DAEMON@mail.example.com", "sent", "127.0.0.1[127.0.0.1]:10026"),
        ("46641321B67", "mailarchive@[172.16.10.20]", "sent", "127.0.0.1[127.0.0.1]:10026")]
    assert {row["reason"] for row in messages} == {
        "250 2.0.0 from MTA(smtp:[127.0.0.1]:10030): 250 2.0.0 Ok: queued as 5E1AC321B6A"}
    assert {(row["sasl_username"], row["client_ip"], row["sender"], row["message_id"])
            for row in messages} == {
        ("user@example.com", "10.0.0.140", "user@example.com", "AC40A$20130922$03470900@SAS")}
    [user] = rows(cli, "users", path, year=YEAR)
    assert (user["user"], user["sessions"], user["messages"]) == ("user@example.com", 1, 1)
    assert outcomes(user) == counted(2, sent=2)  # line 5: nrcpt=2
    [session] = rows(cli, "sessions", path, year=YEAR)
    # Lines 1 and 6: connect and disconnect of smtpd[16388], a Postfix of 2013 without the
    # disconnect line's command counts.
    assert (session["pid"], session["client_name"], session["sasl_username"],
            session["messages"]) == ("16388", "guppy.example-domain.com", "user@example.com", 1)
    assert rows(cli, "queue", path, year=YEAR) == []
    assert rows(cli, "messages", "--jobs", "2", path, year=YEAR) == messages


def test_a_login_whose_message_amavis_split_in_two_copies(cli, tmp_path):
    # test3.log with a login on line 4, its client= line. amavisd-new re-injected 84B5C321AC9
    # (nrcpt=2, line 6) as AC0A1321BB3 and AF235321BB4 (nrcpt=1 each, lines 11 and 17, the
    # same message-id), and answered `queued as AC0A1321BB3` for both recipients (lines 18
    # and 19); AF235321BB4 delivered the second one over LMTP (line 23). Both are the login's
    # (tests/test_split_reinjection.py); the tool counted the first alone.
    lines = (SGROS / "test3.log").read_text().splitlines(keepends=True)
    assert lines[3].endswith(": 84B5C321AC9: client=oproxy1-pub.mail.unifiedlayer.com"
                             "[6.47.49.53]\n")
    lines[3] = lines[3][:-1] + ", sasl_method=PLAIN, sasl_username=company@company.com\n"
    path = tmp_path / "maillog"
    path.write_text("".join(lines))
    messages = rows(cli, "messages", path, year=YEAR)
    # Each copy names the login's queue ID as the message it was made from.
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["sasl_username"],
                   row["parent_queue_id"]) for row in messages) == [
        ("AC0A1321BB3", "mailarchive@[172.16.10.20]", "sent", "company@company.com",
         "84B5C321AC9"),
        ("AF235321BB4", "nsurname@com.com", "sent", "company@company.com", "84B5C321AC9")]
    [user] = rows(cli, "users", path, year=YEAR)
    assert (user["user"], user["messages"]) == ("company@company.com", 1)
    assert outcomes(user) == counted(2, sent=2)
    assert rows(cli, "messages", "--jobs", "2", path, year=YEAR) == messages
