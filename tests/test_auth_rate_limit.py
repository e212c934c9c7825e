"""anvil's AUTH rate limit (smtpd_client_auth_rate_limit, Postfix >= 3.1): smtpd refuses an AUTH
before the SASL server sees it, `450 4.7.1 Error: too many AUTH commands from IP`, and logs only
`warning: AUTH command rate limit exceeded: N from NAME[IP] for service S` (smtpd.c
smtpd_sasl_auth_cmd_wrapper()); the disconnect's counters count the AUTH failed (`auth=0/N`).

Before, the warning was a Postfix line not used: a password-guessing client throttled by the
limit counted its refused AUTH only through its session's counters, placed at the session's
start, and not at all where those do not tell (a log of the warnings alone, a session whose
disconnect was lost, one that logged in after). Each is now a failed AUTH, as a `SASL LOGIN
authentication failed` warning is, of no mechanism or username (none is logged), at its time.

anvil's limits at CONNECT (`Connection concurrency limit exceeded`, `Connection rate limit
exceeded`) and at the TLS handshake (`New TLS session rate limit exceeded`) end the session
before any AUTH: no failed AUTH and no refused message, Postfix lines not used, as a `NOQUEUE:
reject: CONNECT` is.
"""

from support import written

TIMES = ("--year", "2026")

# A bot guessing three accounts' passwords over submission, throttled after its third AUTH
# (smtpd_client_auth_rate_limit = 3), then again in its next session.
GUESSING = """\
Dec  5 10:00:00 mx postfix/submission/smtpd[700]: connect from unknown[203.0.113.5]
Dec  5 10:00:01 mx postfix/submission/smtpd[700]: warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=alice
Dec  5 10:00:02 mx postfix/submission/smtpd[700]: warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob
Dec  5 10:00:03 mx postfix/submission/smtpd[700]: warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=carol
Dec  5 10:00:04 mx postfix/submission/smtpd[700]: warning: AUTH command rate limit exceeded: 4 from unknown[203.0.113.5] for service submission
Dec  5 10:00:05 mx postfix/submission/smtpd[700]: warning: AUTH command rate limit exceeded: 5 from unknown[203.0.113.5] for service submission
Dec  5 10:00:06 mx postfix/submission/smtpd[700]: disconnect from unknown[203.0.113.5] ehlo=1 auth=0/5 quit=1 commands=2/7
Dec  5 10:00:20 mx postfix/submission/smtpd[701]: connect from unknown[203.0.113.5]
Dec  5 10:00:21 mx postfix/submission/smtpd[701]: warning: AUTH command rate limit exceeded: 6 from unknown[203.0.113.5] for service submission
Dec  5 10:00:22 mx postfix/submission/smtpd[701]: disconnect from unknown[203.0.113.5] ehlo=1 auth=0/1 quit=1 commands=2/3
"""


def failures(report, path):
    return [(row["client_ip"], row["attempts"], row["usernames"], row["mechanisms"],
             row["first_seen"][11:19], row["last_seen"][11:19], row["sessions"])
            for row in report("failures", path, *TIMES)]


def by_user(report, path):
    return [(row["user"], row["attempts"], row["first_seen"][11:19], row["last_seen"][11:19])
            for row in report("failures", path, "--by", "user", *TIMES)]


def test_refused_auth_are_failed_auth_at_their_time(tmp_path, report, cli):
    """The counts the counters gave, each refused AUTH at its warning's time (not its
    session's start or end), no mechanism made up for them; every line used."""
    path = written(tmp_path, GUESSING)
    assert failures(report, path) == [
        ("203.0.113.5", 6, ["alice", "bob", "carol"], ["login"], "10:00:01", "10:00:21", 2)]
    assert by_user(report, path) == [
        ("(unknown user)", 3, "10:00:04", "10:00:21"), ("alice", 1, "10:00:01", "10:00:01"),
        ("bob", 1, "10:00:02", "10:00:02"), ("carol", 1, "10:00:03", "10:00:03")]
    assert [row["failed_auth"] for row in report("sessions", path, "--all", *TIMES)] == [5, 1]
    stats = cli("--stats", "--report", "failures", *TIMES, path).err
    assert "lines used:               10" in stats
    assert "Postfix lines not used: 0" in stats


def test_a_log_of_the_warnings_alone_counts_them(tmp_path, report):
    """`grep warning: /var/log/maillog`: no counters to tell the refused AUTH, their warnings
    do."""
    path = written(tmp_path, "".join(line + "\n" for line in GUESSING.splitlines()
                                     if ": warning: " in line))
    assert failures(report, path) == [
        ("203.0.113.5", 6, ["alice", "bob", "carol"], ["login"], "10:00:01", "10:00:21", 2)]
    assert by_user(report, path)[0] == ("(unknown user)", 3, "10:00:04", "10:00:21")


def test_a_session_that_logged_in_after_its_refused_auth_counts_it(tmp_path, report):
    """Its counters (`auth=1/2`) cannot tell a refused AUTH before the login from one after it
    (model.Session.failed_auth_count): the warning tells it."""
    path = written(tmp_path, """\
Dec  5 11:00:00 mx postfix/submission/smtpd[800]: connect from unknown[203.0.113.5]
Dec  5 11:00:01 mx postfix/submission/smtpd[800]: warning: AUTH command rate limit exceeded: 7 from unknown[203.0.113.5] for service submission
Dec  5 11:01:30 mx postfix/submission/smtpd[800]: 4A1B2C3D4E: client=unknown[203.0.113.5], sasl_method=LOGIN, sasl_username=carol
Dec  5 11:01:31 mx postfix/submission/smtpd[800]: disconnect from unknown[203.0.113.5] ehlo=1 auth=1/2 mail=1 rcpt=1 data=1 quit=1 commands=6/7
""")
    [session] = report("sessions", path, *TIMES)
    assert (session["sasl_username"], session["auth"], session["failed_auth"]) == (
        "carol", "1/2", 1)
    assert failures(report, path) == [
        ("203.0.113.5", 1, [], [], "11:00:01", "11:00:01", 1)]


def test_limits_at_connect_are_no_failed_auth_nor_refusal(tmp_path, report, cli):
    """A client refused at CONNECT or at its TLS handshake tried no AUTH and no message."""
    path = written(tmp_path, """\
Dec  5 12:00:00 mx postfix/smtpd[900]: connect from unknown[203.0.113.5]
Dec  5 12:00:00 mx postfix/smtpd[900]: warning: Connection rate limit exceeded: 31 from unknown[203.0.113.5] for service smtp
Dec  5 12:00:00 mx postfix/smtpd[900]: disconnect from unknown[203.0.113.5] commands=0/0
Dec  5 12:00:01 mx postfix/smtpd[901]: connect from unknown[203.0.113.5]
Dec  5 12:00:01 mx postfix/smtpd[901]: warning: Connection concurrency limit exceeded: 11 from unknown[203.0.113.5] for service smtp
Dec  5 12:00:01 mx postfix/smtpd[901]: disconnect from unknown[203.0.113.5] commands=0/0
Dec  5 12:00:02 mx postfix/smtps/smtpd[902]: connect from unknown[203.0.113.5]
Dec  5 12:00:02 mx postfix/smtps/smtpd[902]: warning: New TLS session rate limit exceeded: 31 from unknown[203.0.113.5] for service smtps
Dec  5 12:00:02 mx postfix/smtps/smtpd[902]: disconnect from unknown[203.0.113.5] commands=0/0
""")
    assert report("failures", path, *TIMES) == []
    assert report("sessions", path, "--all", *TIMES) == []
    assert report("messages", path, *TIMES) == []
    stats = cli("--stats", "--report", "failures", *TIMES, path).err
    assert "Postfix lines not used: 3" in stats
