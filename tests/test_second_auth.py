"""An AUTH after the login is no failed password (a review, 2026-12-06).

smtpd refuses every AUTH of a session that has logged in before reading any password
(smtpd_sasl_proto.c: `503 5.5.1 Error: already authenticated`), logs no warning for it, and
counts it failed: a client that authenticates again before each message leaves
`auth=1/4` on its disconnect line. Read as three failed AUTH, its own login after them was a
`guessed` account (high severity), its IP a row of the failures report whose later_success
was its own login. A session's failures are now its warning lines once it logged in; the
counters still tell those of a session that never did, whose warning lines may be missing
(an AUTH refused before STARTTLS, a log without Postfix's warnings).
"""

from test_reallogs import rows

from maillog_writer import MailLog, at


def written(tmp_path, log):
    path = tmp_path / "maillog"
    log.write(path)
    return path


def test_auth_sent_again_after_the_login_is_no_failure(cli, tmp_path):
    log = MailLog()
    for day in range(4):
        log.login("alice@example.jp", "198.51.100.7", at(day, 9), reauths=3)
    path = written(tmp_path, log)
    assert "auth=1/4 " in path.read_text()
    assert rows(cli, "suspicious", path, year=2026) == []
    assert rows(cli, "failures", path, year=2026) == []
    sessions = rows(cli, "sessions", path, year=2026)
    assert [(row["auth"], row["failed_auth"]) for row in sessions] == [("1/4", 0)] * 4


def test_typos_before_the_login_still_count(cli, tmp_path):
    log = MailLog()
    log.login("alice@example.jp", "198.51.100.7", at(0, 9), typos=1, reauths=2)
    path = written(tmp_path, log)
    [row] = rows(cli, "failures", path, year=2026)
    assert (row["attempts"], row["usernames"]) == (1, ["alice@example.jp"])
    [session] = rows(cli, "sessions", path, year=2026)
    assert (session["auth"], session["failed_auth"]) == ("1/4", 1)


def test_a_session_that_never_logged_in_counts_its_counters(cli, tmp_path):
    # Postfix's warnings not in the log: the disconnect line alone tells the failures.
    log = MailLog()
    log.failures("203.0.113.66", at(0, 10), ["admin", "info", "sales"])
    log.lines = [line for line in log.lines if "warning:" not in line[2]]
    path = written(tmp_path, log)
    [row] = rows(cli, "failures", path, year=2026)
    assert (row["attempts"], row["sessions"]) == (3, 1)
