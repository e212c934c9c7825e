"""One account whatever the case its login was typed in (a review, 2026-12-06).

smtpd logs `sasl_username=` as the SASL server returned it. A server that finds accounts
whatever their case (saslauthd against LDAP or IMAP, an SQL table of a case-insensitive
collation, Dovecot with `auth_username_format = %u`) returns the name as the client typed it,
and Postfix itself takes the spellings for one login: reject_sender_login_mismatch compares
them with strcasecmp_utf8() (smtpd_check.c), check_sasl_access looks them up in a table whose
keys it folds. A thief with the password could spread its mail over `Alice`, `ALICE` and
`alice`: each stayed under the signals' limits, out of `--flagged`'s purge list and out of
`contain --hold`.
"""

import json

from test_reallogs import rows

from maillog_sasl import contain

from maillog_writer import MailLog, at

SPELLINGS = ("alice@example.jp", "Alice@Example.JP", "ALICE@EXAMPLE.JP")


def spread_run(tmp_path, guesser=None):
    """A quiet account, then a spam run of 150 recipients in one hour, 50 under each
    spelling (a burst: more than 100 in the hour; no spelling alone is one); with `guesser`,
    an IP that failed AUTH as the account before, in a spelling of its own."""
    log = MailLog()
    for day in range(3):
        log.login("alice@example.jp", "198.51.100.7", at(day, 9), to=2)
    if guesser is not None:
        log.failures(guesser, at(4, 2), ["aLiCe@example.jp"] * 3)
    for index, spelling in enumerate(SPELLINGS):
        log.login(spelling, "203.0.113.50", at(4, 3, 10 * index), to=50, outcome="deferred")
    path = tmp_path / "maillog"
    log.write(path)
    return path


def test_a_login_in_another_case_is_the_same_account(cli, tmp_path):
    log = spread_run(tmp_path)
    [user] = rows(cli, "users", log, year=2026)
    assert (user["user"], user["sessions"], user["recipients"]) == ("alice@example.jp", 6, 156)
    [flagged] = rows(cli, "suspicious", log, year=2026)
    assert flagged["user"] == "alice@example.jp" and "burst" in flagged["signals"]


def test_the_purge_list_holds_the_mail_of_every_spelling(cli, tmp_path):
    log = spread_run(tmp_path)
    queued = rows(cli, "queue", "--flagged", log, year=2026)
    assert len({row["queue_id"] for row in queued}) == 3
    assert {row["user"] for row in queued} == {"alice@example.jp"}


def test_contain_holds_the_mail_of_every_spelling_whichever_is_named(tmp_path):
    log = str(spread_run(tmp_path))
    for named in SPELLINGS:
        assert len(contain.queued_ids(named, [log]).ids) == 3


def guessed_in_every_case(tmp_path, ips=10):
    """alice logs in, then failed AUTH naming her from `ips` IPs within the hour, in turn in
    each spelling: a case-insensitive server tried her password each time."""
    log = MailLog()
    log.login("alice@example.jp", "198.51.100.7", at(0, 8))
    for index in range(ips):
        log.failures(f"203.0.113.{index + 1}", at(0, 10, 5 * index),
                     [SPELLINGS[index % len(SPELLINGS)]])
    path = tmp_path / "maillog"
    log.write(path)
    return path


def test_failures_by_user_are_one_accounts_in_any_case(cli, tmp_path):
    [row] = rows(cli, "failures", "--by", "user", guessed_in_every_case(tmp_path), year=2026)
    assert (row["user"], row["attempts"], row["ips"]) == ("alice@example.jp", 10, 10)


def test_a_failure_storm_counts_the_failures_in_any_case(cli, tmp_path):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite",
                 guessed_in_every_case(tmp_path))
    assert result.code in (0, 1), result.err
    alerts = [json.loads(line) for line in result.out.splitlines()]
    [storm] = [alert for alert in alerts if alert["signals"] == ["failure-storm"]]
    assert storm["user"] == "alice@example.jp" and len(storm["failing_ips"]) == 10


def test_the_block_list_holds_an_ip_that_guessed_the_flagged_account_in_another_case(cli,
                                                                                     tmp_path):
    log = spread_run(tmp_path, guesser="192.0.2.44")
    flagged = rows(cli, "failures", "--flagged", log, year=2026)
    assert [row["client_ip"] for row in flagged] == ["192.0.2.44"]


def test_the_timeline_counts_the_accounts_failures_in_any_case(cli, tmp_path):
    log = guessed_in_every_case(tmp_path)
    hours = rows(cli, "timeline", "--user", "alice@example.jp", log, year=2026)
    assert sum(hour["auth_failures"] for hour in hours) == 10
    assert {hour["user"] for hour in hours} == {"alice@example.jp"}


def test_only_ascii_letters_are_folded(cli, tmp_path):
    # As Postfix folds a login without SMTPUTF8 (smtputf8_enable = no: strcasecmp_utf8() and
    # the check_sasl_access lookup fold ASCII alone) and Dovecot's %Lu: `Ärger` and `ärger` are
    # two logins there, and the name `watch --contain reject` writes into check_sasl_access
    # must be one a lookup of the login finds (`ärger` is not, for a login typed `Ärger`).
    log = MailLog()
    for index, spelling in enumerate(("Ärger@Example.DE", "ÄRGER@EXAMPLE.DE", "ärger@example.de",
                                      "İPEK@example.tr")):
        log.login(spelling, "203.0.113.50", at(0, 3, 10 * index), to=1, outcome="deferred")
    path = tmp_path / "maillog"
    log.write(path)
    users = {row["user"]: row["sessions"] for row in rows(cli, "users", path, year=2026)}
    assert users == {"Ärger@example.de": 2, "ärger@example.de": 1, "İpek@example.tr": 1}
    assert len(contain.queued_ids("ÄRGER@example.de", [str(path)]).ids) == 2


def test_failures_by_ip_name_the_accounts_tried_as_every_report_does(cli, tmp_path):
    # A password spray's IP tried one account in three spellings (a walk-through's log); the
    # row listed `SALES@EXAMPLE.COM, Sales@example.com, sales@example.com`: one account, as
    # --by user and every other report name it.
    path = tmp_path / "maillog"
    lines = []
    for pid, (mechanism, name) in enumerate((("LOGIN", "Sales@example.com"),
                                             ("login", "sales@example.com"),
                                             ("LOGIN", "SALES@EXAMPLE.COM")), start=4410):
        smtpd = f"Jan  3 14:0{pid - 4410}:0%d mail postfix/smtps/smtpd[{pid}]: "
        lines += [smtpd % 1 + "connect from unknown[203.0.113.102]",
                  smtpd % 3 + "warning: unknown[203.0.113.102]: SASL "
                              f"{mechanism} authentication failed: UGFzc3dvcmQ6, "
                              f"sasl_username={name}",
                  smtpd % 4 + "disconnect from unknown[203.0.113.102] ehlo=1 auth=0/1 "
                              "quit=1 commands=2/3"]
    path.write_text("\n".join(lines) + "\n")
    [row] = rows(cli, "failures", path, year=2027)
    assert (row["attempts"], row["usernames"], row["mechanisms"]) == (
        3, ["sales@example.com"], ["login"])
    [by_user] = rows(cli, "failures", "--by", "user", path, year=2027)
    assert by_user["user"] == "sales@example.com"
