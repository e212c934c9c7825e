"""Real Postfix lines from public projects (tests/reallogs/<source>/, each with a README naming
its repository, commit, path and licence): who logged in and sent what, and who failed AUTH.

Every expected number below was counted by reading the lines (with grep where a count is long),
not taken from the tool's output; the comment above each says which lines make it. Yearless
stamps get --year, and --tz UTC, so nothing depends on the file's modification time or on the
machine's zone. A test the tool fails today is marked xfail(strict=True) with its item of
issue 12; it is un-xfailed when the fix lands.
"""

import re
from pathlib import Path

import pytest

from maillog_sasl import events
from maillog_sasl.syslog import parse_program, split_line

from support import by

REAL = Path(__file__).parent / "reallogs"

REPORT_NAMES = ["users", "sessions", "messages", "ips", "failures", "suspicious", "timeline",
                "queue"]


def rows(cli, name, *args, year):
    """The rows of --report NAME as JSON, asserting a clean exit."""
    result = cli("--report", name, "--format", "json", "--tz", "UTC", "--year", str(year), *args)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result.json()


def stats(cli, *args, year):
    """--stats of a run, as {label: number}."""
    result = cli("--stats", "--tz", "UTC", "--year", str(year), *args)
    assert result.code == 0, result.err
    return {label.strip(): int(number)
            for label, number in re.findall(r"^\s*([a-zA-Z ()]+):\s+(\d+)$", result.err, re.M)}


def failures(cli, *args, year):
    """{client_ip: (attempts, usernames, mechanisms, sessions)} of the failures report."""
    return {row["client_ip"]: (row["attempts"], sorted(row["usernames"]),
                               sorted(row["mechanisms"]), row["sessions"])
            for row in rows(cli, "failures", *args, year=year)}


def outcomes(row):
    """A users row's recipient counts by outcome."""
    return {key: row[key] for key in ("recipients", "sent", "deferred", "bounced", "expired",
                                      "rejected")}


def counted(recipients, sent=0, deferred=0, bounced=0, expired=0, rejected=0):
    return {"recipients": recipients, "sent": sent, "deferred": deferred, "bounced": bounced,
            "expired": expired, "rejected": rejected}


def only_user(cli, path, year):
    """The one row of the users report of `path`, as (user, sessions, messages, ips) and the
    whole row."""
    [user] = rows(cli, "users", path, year=year)
    return (user["user"], user["sessions"], user["messages"], user["ips"]), user


# -- every report on every source: real lines never crash the tool ------------------------------

SOURCES = {
    "fail2ban": (["fail2ban/postfix-sasl.log"], 2024),
    "crowdsec-hub": (sorted(str(path.relative_to(REAL))
                            for path in (REAL / "crowdsec-hub").glob("*.log")), 2024),
    "lightmeter-sample": (["lightmeter-sample/mail.log.1", "lightmeter-sample/mail.log"], 2021),
    "lightmeter-sample-warn": (["lightmeter-sample/mail.warn.4-head40.log",
                                "lightmeter-sample/pid10081-two-ips.log"], 2020),
    "lightmeter-individual": (sorted(str(path.relative_to(REAL))
                                     for path in (REAL / "lightmeter-individual").glob("*.log")),
                              2020),
    "sergeymakinen-exporter": (["sergeymakinen-exporter/mail.log"], 2024),
    "kumina-exporter": (["kumina-exporter/postfix_exporter_test.log"], 2024),
    "ethantwardy-busybox": (["ethantwardy-busybox/postfix_rs_test.log"], 2026),
    "zentyal": (["zentyal/MailLogHelper.log"], 2009),
    "lightmeter-gotests": (["lightmeter-gotests/connectionstats_stats_test.log"], 2020),
    "sshguard": (["sshguard/tests-postfix.log"], 2024),
    "maillogsentinel": (["maillogsentinel/sample_sasl.log"], 2025),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_reads_every_real_source(cli, source, name):
    paths, year = SOURCES[source]
    for fmt in ("json", "csv", "table"):
        result = cli("-r", name, "-f", fmt, "--tz", "UTC", "--year", year,
                     *[REAL / path for path in paths])
        assert result.code == 0, result.err
        assert "Traceback" not in result.err


# -- fail2ban (GPL-2.0-or-later): one line per SASL failure of every spelling -------------------

F2B = REAL / "fail2ban" / "postfix-sasl.log"


def test_fail2ban_failures_per_ip(cli):
    # Line numbers are those of postfix-sasl.log. attempts: one per `SASL ... authentication
    # failed` warning naming the IP, or the failed count of `auth=0/1` in a disconnect line
    # whose session logged no warning. sessions: distinct (host, syslog name, pid) that failed.
    assert failures(cli, F2B, year=2024) == {
        "114.44.142.233": (1, [], ["cram-md5"], 1),  # line 4
        # lines 5 (gandalf smtpd[3937]), 8 and 9 (mail, pid 10752 under the syslog names
        # postfix and postfix-incoming: two master instances, two processes), 14 (smtpd[21022],
        # `Connection lost to authentication server`: the server failed, but the client's AUTH
        # command failed all the same, and Postfix's disconnect counter would say auth=0/1).
        "1.1.1.1": (4, [], ["login"], 4),
        "82.221.106.233": (2, [], ["login"], 1),  # lines 6 and 7 (`SASL login`), one session
        "62.138.2.143": (1, [], ["login"], 1),  # line 10
        "98.191.84.74": (1, [], ["plain"], 1),  # line 11: `Aug 3` unpadded day, `SASL Plain`
        "192.0.2.237": (1, [], ["login"], 1),  # line 12: `Aug 4`, client port `]:55729:`
        "192.0.2.150": (1, [], ["plain"], 1),  # line 13: empty reason
        # lines 15 and 16: the same warning twice in one second on one pid: two AUTH commands
        # failed (Postfix logs one warning per failed command).
        "192.0.2.5": (2, [], ["cram-md5"], 1),
        "192.0.2.152": (1, ["admin"], ["login"], 1),  # line 17: Postfix 3.9 logs the username
        # lines 18 and 19: auth=0/1 in two disconnect lines, postfix/smtpd[123] and
        # postfix/smtp-25/smtpd[123] (two processes); no warning line, so no mechanism.
        "192.0.2.1": (2, [], [], 2),
        "192.0.2.2": (1, [], [], 1),  # line 20: auth=0/1
        "192.0.2.23": (1, [], [], 1),  # lines 21-22: lost connection after AUTH, auth=0/1
    }


def test_fail2ban_has_no_logins_and_no_mail(cli):
    # No `client=..., sasl_username=` line and no auth=1 counter: nobody logged in. The reject
    # (line 1) and milter-reject (line 2, `Mar 7`) are of clients that never authenticated.
    assert rows(cli, "users", F2B, year=2024) == []
    assert rows(cli, "messages", F2B, year=2024) == []
    sessions = rows(cli, "sessions", "--all", F2B, year=2024)
    assert all(not row["sasl_username"] and row["failed_auth"] >= 1 for row in sessions)
    # one session per (host, syslog name, pid, client) with a failure, as counted above: 4 for
    # 1.1.1.1, 2 for 192.0.2.1, 1 for each of the other 10 IPs.
    assert len(sessions) == 4 + 2 + 10


def test_fail2ban_no_line_is_lost(cli):
    # All 22 lines are syslog lines, the unpadded `Mar 7`, `Aug 3` and `Aug 4` included (issue
    # 12: an unpadded day was `not syslog`, and 98.191.84.74 and 192.0.2.237 were lost).
    counts = stats(cli, F2B, year=2024)
    assert counts["lines read"] == 22
    assert counts["not syslog lines"] == 0


# -- crowdsec-hub (MIT): brute force on one smtpd pid, Postfix 3.9 usernames --------------------

CROWDSEC = REAL / "crowdsec-hub"
HONEYPOT_USERS = {  # postfix-honeypot-users.log, one line each, in file order
    "203.0.113.10": "postmaster@example.org", "203.0.113.20": "admin@example.org",
    "203.0.113.30": "test@example.org", "203.0.113.40": "support@example.org",
    "203.0.113.50": "teste@example.org", "203.0.113.60": "billing@example.org",
    "203.0.113.70": "monitor@example.org", "203.0.113.80": "nonexistent_user_26@example.org",
    "203.0.113.90": "nonexistent_user@example.org",
}
# The three files whose failures come from host1 postfix/smtpd[26897], all on May 11 04:02:3x,
# each a separate test of crowdsec's: counted with grep -c 'authentication failed' per IP.
HOST1_FAILURES = {
    "203.0.113.42": 3,  # postfix-sasl-bf.log, 3 lines
    "1.2.3.4": 4,  # postfix-spam.log, 4 lines (its 2 NOQUEUE rejects are not AUTH)
    "192.168.1.1": 1,  # postfix-logs.log, line 1 (the other lines are rejects and non-SMTP)
}


def test_crowdsec_honeypot_usernames(cli):
    path = CROWDSEC / "postfix-honeypot-users--postfix-honeypot-users.log"
    assert failures(cli, path, year=2024) == {
        ip: (1, [user], ["login"], 1) for ip, user in HONEYPOT_USERS.items()}


@pytest.mark.parametrize("name, ip", [("postfix-sasl-bf--postfix-sasl-bf.log", "203.0.113.42"),
                                      ("postfix-spam--postfix-spam.log", "1.2.3.4"),
                                      ("postfix-logs--postfix-logs.log", "192.168.1.1")])
def test_crowdsec_each_file_alone(cli, name, ip):
    assert failures(cli, CROWDSEC / name, year=2024) == {
        ip: (HOST1_FAILURES[ip], [], ["login"], 1)}


def test_crowdsec_three_clients_on_one_pid_without_connect_lines(cli):
    """All four files in one run: three clients fail on host1 smtpd[26897] and no `connect
    from` line says where one session ends; each warning names its client, so each IP keeps
    its own failures (issue 12: the first IP used to get all eight)."""
    found = failures(cli, *sorted(CROWDSEC.glob("*.log")), year=2024)
    expected = {ip: (count, [], ["login"], 1) for ip, count in HOST1_FAILURES.items()}
    expected.update({ip: (1, [user], ["login"], 1) for ip, user in HONEYPOT_USERS.items()})
    assert found == expected


def test_crowdsec_failures_by_username(cli):
    found = by(rows(cli, "failures", "--by", "user", *sorted(CROWDSEC.glob("*.log")), year=2024),
               "user")
    # The nine honeypot usernames once each; the host1 failures (3 + 4 + 1 from 3 IPs) name
    # no username (Postfix before 3.9, or reason given instead).
    assert set(found) == set(HONEYPOT_USERS.values()) | {"(unknown user)"}
    assert all((found[user]["attempts"], found[user]["ips"]) == (1, 1)
               for user in HONEYPOT_USERS.values())
    assert (found["(unknown user)"]["attempts"], found["(unknown user)"]["ips"]) == (8, 3)
    assert not any(row["later_success"] for row in found.values())


def test_crowdsec_nobody_logged_in(cli):
    assert rows(cli, "users", *sorted(CROWDSEC.glob("*.log")), year=2024) == []


# -- lightmeter-sample (AGPL-3.0-only): a real Debian server's rotated pair, cut ----------------

LM = REAL / "lightmeter-sample"
LM_LOGS = [LM / "mail.log.1", LM / "mail.log"]
AAF4C = "h-aaf4c@h-ffeb17e38996c.com"
CFF5713 = "h-cff5713@h-ffeb17e38996c.com"


def test_lightmeter_users(cli):
    found = by(rows(cli, "users", *LM_LOGS, year=2021), "user")
    assert set(found) == {AAF4C, CFF5713, "(unknown user)"}
    # grep -c 'sasl_username=h-aaf4c': 7 in mail.log.1 + 13 in mail.log = 20 messages, each in
    # its own submission session (20 `disconnect ... auth=1` of submission/smtpd beside them;
    # smtpd[3782] at 16:10:55 is two sessions, one message each); every qmgr line of theirs
    # says nrcpt=1. Each goes through amavis (relay 127.0.0.1:10024, `queued as` a new ID) and
    # the re-injected copy's delivery is the outcome: 19 `status=sent`, and E83BB301202A (the
    # copy of B741F3012026) `status=bounced` 5.7.1.
    aaf4c = found[AAF4C]
    assert (aaf4c["sessions"], aaf4c["messages"], aaf4c["ips"]) == (20, 20, 2)
    assert outcomes(aaf4c) == counted(20, sent=19, bounced=1)
    assert sorted(aaf4c["methods"]) == ["login", "plain"]  # PLAIN once, from 187.23.192.155
    # h-cff5713: E82AC3004142 (nrcpt=2, both delivered over lmtp as 2B0D23012027) and
    # 9B4103011B47 (nrcpt=1, sent as D10FB3012026), both PLAIN from 217.65.140.20.
    cff = found[CFF5713]
    assert (cff["sessions"], cff["messages"], cff["ips"]) == (2, 2, 1)
    assert outcomes(cff) == counted(3, sent=3)
    assert cff["methods"] == ["plain"]
    # 3 + 11 port-25 sessions from 147.224.63.58 with `auth=1` and no mail command: logins
    # whose username Postfix never logs.
    unknown = found["(unknown user)"]
    assert (unknown["sessions"], unknown["messages"], unknown["recipients"]) == (14, 0, 0)


def test_lightmeter_ips(cli):
    found = {(row["user"], row["client_ip"]): (row["sessions"], row["messages"], row["recipients"])
             for row in rows(cli, "ips", *LM_LOGS, year=2021)}
    assert found == {
        (AAF4C, "165.199.26.15"): (19, 19, 19),  # grep -c 'client=unknown[165.199.26.15]'
        (AAF4C, "187.23.192.155"): (1, 1, 1),  # 6205A3012026, sasl_method=PLAIN
        (CFF5713, "217.65.140.20"): (2, 2, 3),
        ("(unknown user)", "147.224.63.58"): (14, 0, 0),
    }


def test_lightmeter_messages(cli):
    messages = rows(cli, "messages", *LM_LOGS, year=2021)
    # one row per recipient of the 22 authenticated messages (20 + 3 recipients, above)
    assert len(messages) == 23
    [bounced] = [row for row in messages if row["status"] != "sent"]
    assert (bounced["status"], bounced["dsn"], bounced["sasl_username"],
            bounced["recipient"]) == ("bounced", "5.7.1", AAF4C, "h-291085e837e73@h-7db8006395b.com")
    # The bounce notice (E93553012026, from=<>) to the envelope sender is not the user's mail.
    assert "E93553012026" not in {row["queue_id"] for row in messages}


def test_lightmeter_six_sessions_on_one_pid(cli):
    # submission/smtpd[9247] serves six connections from 165.199.26.15 between 15:59:36 and
    # 16:01:34, each connect .. disconnect with one message.
    sessions = [row for row in rows(cli, "sessions", *LM_LOGS, year=2021)
                if row["service"] == "postfix/submission" and row["pid"] == "9247"]
    assert len(sessions) == 6
    assert all(row["complete"] and row["messages"] == 1 and row["sasl_username"] == AAF4C
               for row in sessions)


def test_lightmeter_nothing_failed_and_nothing_is_left_in_the_queue(cli):
    # No `authentication failed` and no auth=0 in the two files; every one of the 45 queue
    # IDs (22 submitted, 22 re-injected copies, 1 bounce notice) is `removed`.
    assert rows(cli, "failures", *LM_LOGS, year=2021) == []
    assert rows(cli, "queue", *LM_LOGS, year=2021) == []


def test_lightmeter_warn_file_two_clients_on_one_pid(cli):
    """mail.warn holds only the warnings: each smtpd pid logs a failure of 222.162.115.97 and
    then one of 222.162.115.105 with no connect line between them (issue 12: the second IP's
    failures were credited to the first)."""
    assert failures(cli, LM / "pid10081-two-ips.log", year=2020) == {
        "222.162.115.97": (1, [], ["login"], 1),
        "222.162.115.105": (1, [], ["login"], 1),
    }
    # mail.warn.4-head40.log: 40 lines, 20 pids with two lines each, one per IP
    # (grep -o 'unknown\[[0-9.]*\]' | sort | uniq -c: 20 and 20).
    assert failures(cli, LM / "mail.warn.4-head40.log", year=2020) == {
        "222.162.115.97": (20, [], ["login"], 20),
        "222.162.115.105": (20, [], ["login"], 20),
    }


# -- lightmeter-individual (AGPL-3.0-only): one scenario per file --------------------------------

LMI = REAL / "lightmeter-individual"


def test_lightmeter_individual_inbound_reply_and_its_line_with_a_trailing_space(cli):
    path = LMI / "31_inbound_reply.log"
    # 97B24177716 (lines 1-11) is original_sender@example1.com's, sent; ABD4E13D6B0 (lines
    # 12-30) the reply to it, inbound mail without a login: not counted.
    summary, user = only_user(cli, path, 2022)
    assert summary == ("original_sender@example1.com", 1, 1, 1)
    assert outcomes(user) == counted(1, sent=1)
    # Line 22, qmgr's `(queue active)` with a space after it (the only Postfix line of
    # Lightmeter's test files with one): read as the line without it.
    line = path.read_text().splitlines()[21]
    assert line.endswith("(queue active) ")
    _stamp, _host, tag, text = split_line(line)
    assert parse_program(tag)[1] == "qmgr"
    event = events.recognize("qmgr", text)
    assert (event.kind, event.queue_id, event.sender, event.size, event.nrcpt) == (
        "queue_active", "ABD4E13D6B0", "original_recipient@example2.com", 11803, 1)


def test_lightmeter_individual_zimbra_two_filters_in_a_row(cli):
    path = LMI / "5_zimbra_amavisd.log"
    # E8759DC24C3 (LOGIN sender@sender.example.com from 11.22.33.44, nrcpt=1) goes to amavis
    # on :10026 `queued as 218BEDC28EC` (postfix/dkimmilter/smtpd), which goes to :10032
    # `queued as 33DE0DC24C3` (postfix/amavisd/smtpd), sent to gmail-smtp-in (line 73).
    summary, user = only_user(cli, path, 2020)
    assert summary == ("sender@sender.example.com", 1, 1, 1)
    assert outcomes(user) == counted(1, sent=1)
    [row] = rows(cli, "messages", path, year=2020)
    assert (row["queue_id"], row["client_ip"], row["recipient"], row["status"]) == (
        "33DE0DC24C3", "11.22.33.44", "recipient@recipient.example.com", "sent")
    assert row["relay"].startswith("gmail-smtp-in.l.google.com[")
    assert rows(cli, "queue", path, year=2020) == []


def test_lightmeter_individual_two_users_two_qmgr_processes(cli):
    path = LMI / "9_mixed_messages.log"
    # user@sender.com (submission/smtpd[9708], qmgr[1005]): 4AA091855DA0 via amavis as
    # 776E41855DB2, bounced 5.1.1. sender@mydomain.com (submission/smtpd[20040], qmgr[3398]):
    # BA8F630001DA (nrcpt=5) as 1310930001DB: 3 bounced (5.1.0, 5.7.1, 5.1.1), 2 sent. The two
    # bounce notices (A48191855DA0, C7B4530001DA, from=<>) are not the users' mail.
    found = by(rows(cli, "users", path, year=2020), "user")
    assert set(found) == {"user@sender.com", "sender@mydomain.com"}
    assert outcomes(found["user@sender.com"]) == counted(1, bounced=1)
    assert outcomes(found["sender@mydomain.com"]) == counted(5, sent=2, bounced=3)
    queue_ids = {row["queue_id"] for row in rows(cli, "messages", path, year=2020)}
    assert queue_ids == {"776E41855DB2", "1310930001DB"}
    assert rows(cli, "queue", path, year=2020) == []


def test_lightmeter_individual_auth_failure_among_seven_sessions_on_one_pid(cli):
    path = LMI / "21_deliveries_with_local_daemon.log"
    # smtpd[15127] serves 7 connections (grep -c 'connect from': 7); only line 29's says
    # `auth=0/1` (95.239.23.97, no warning line, no username); nobody logs in (no sasl_).
    assert rows(cli, "users", path, year=2020) == []
    assert failures(cli, path, year=2020) == {"95.239.23.97": (1, [], [], 1)}
    [session] = rows(cli, "sessions", "--all", path, year=2020)
    assert (session["pid"], session["client_ip"], session["start"], session["end"]) == (
        "15127", "95.239.23.97", "2020-06-20T05:02:46+00:00", "2020-06-20T05:02:46+00:00")


def test_lightmeter_individual_a_login_refused_at_its_second_rcpt_queued_nothing(cli):
    path = LMI / "20_rejected.log"
    # Line 4: the login's client= line, smtpd's queue file D155CDC24C3 opened at the first
    # recipient; line 5: the second refused (450, a rate limit); line 6: `rcpt=1/2 quit=1`, no
    # DATA. The queue file was never committed: nothing is left queued (it was, for ever,
    # before tests/test_abandoned_data.py's change).
    assert stats(cli, path, year=2020)["messages still queued"] == 0
    [user] = rows(cli, "users", path, year=2020)
    assert (user["user"], user["sessions"], user["messages"], user["rejected"]) == (
        "h-2d34d8bb8@h-93a1a37cd1.com", 1, 1, 1)
    assert rows(cli, "queue", path, year=2020) == []


# -- lightmeter-gotests (AGPL-3.0-only): smtpd counters only --------------------------------------

LMG = REAL / "lightmeter-gotests" / "connectionstats_stats_test.log"


def test_lightmeter_gotests_failures_from_counters(cli):
    # No warning line: every failure is the failed part of an `auth=0/M` counter.
    # 1002:1712:...: `auth=0/1` on lines 11 and 17. `unknown[unknown]` (line 6, a client whose
    # address Postfix never learnt): `auth=0/1`. 11.22.33.44's `auth=8/14` (lines 1, 10 and
    # 16, the same line in three test cases) logged in: with no warning line, its failed AUTH
    # may all have come after the login, refused unread (`503 5.5.1 Error: already
    # authenticated`), and are no failed password.
    assert failures(cli, LMG, year=2020) == {
        "1002:1712:4e2b:d061:5dff:19f:c85f:a48f": (2, [], [], 2),
        "unknown": (1, [], [], 1),
    }
    # an address filter keeps the real addresses and drops `unknown`, without an error
    assert set(failures(cli, "--ip", "0.0.0.0/0", "--ip", "::/0", LMG, year=2020)) == {
        "1002:1712:4e2b:d061:5dff:19f:c85f:a48f"}


def test_lightmeter_gotests_logins_without_usernames(cli):
    # `auth=1` (or 8/14) with no `client=..., sasl_username=` line: logins of an unknown user,
    # one per disconnect line: lines 1, 8, 9, 10, 12, 13, 14, 15, 16, 18, 19 (11 lines).
    # Line 8 (22.33.44.55) follows line 7 (localhost) on smtpd[9715] in the same second, with
    # no connect line: two clients, so two sessions, and only the second logged in.
    [user] = rows(cli, "users", LMG, year=2020)
    assert (user["user"], user["sessions"], user["messages"]) == ("(unknown user)", 11, 0)
    sessions = rows(cli, "sessions", LMG, year=2020)
    assert "127.0.0.1" not in {row["client_ip"] for row in sessions}


# -- SSHGuard (ISC): single lines of its parser tests ---------------------------------------------

SSHG = REAL / "sshguard" / "tests-postfix.log"


def test_sshguard_failures(cli):
    # lines 1-2: smtpd[2309] in one second, an IPv4 and an IPv6 client, no connect line;
    # line 9: RFC 3339 `Z` stamp on postfix/smtps/smtpd, client port after the address.
    # `lost connection after AUTH` (lines 4, 5, 10) is no failure by itself: nothing says the
    # AUTH command failed (no warning, no auth=0/1 counter).
    assert failures(cli, SSHG, year=2024) == {
        "199.19.110.207": (1, [], ["login"], 1),
        "2001:db8::a11:beef:7ac0": (1, [], ["login"], 1),
        "122.166.249.154": (1, [], ["login"], 1),
    }
    [row] = [row for row in rows(cli, "failures", SSHG, year=2024)
             if row["client_ip"] == "122.166.249.154"]
    assert row["first_seen"] == "2022-04-14T00:36:03.150000+00:00"
    assert rows(cli, "users", SSHG, year=2024) == []


# -- MailLogSentinel (GPL-3.0): a distributed guess, one failure per address -----------------------

MLS = REAL / "maillogsentinel" / "sample_sasl.log"


def test_maillogsentinel_each_address_fails_once(cli):
    # 139 warning lines, 139 distinct addresses (grep -oP 'warning: \S+\[\K[0-9.]+' | sort -u),
    # each with the username Postfix 3.9 logs; several addresses share an smtpd pid (e.g.
    # smtpd[1109894] serves three), and each address is a session of its own.
    found = failures(cli, MLS, year=2025)
    assert len(found) == 139
    assert all(attempts == 1 and len(users) == 1 and mechanisms == ["login"] and sessions == 1
               for attempts, users, mechanisms, sessions in found.values())
    assert found["2.54.85.220"] == (1, ["user4"], ["login"], 1)  # the last line, Oct  3
    assert rows(cli, "users", MLS, year=2025) == []


def test_maillogsentinel_failures_by_username(cli):
    # grep -o 'sasl_username=.*' | sort | uniq -c: each username's attempts, one address each
    found = {row["user"]: (row["attempts"], row["ips"], row["later_success"])
             for row in rows(cli, "failures", "--by", "user", MLS, year=2025)}
    counts = {"user3": 53, "user4": 34, "info@domain": 13, "admin@domain.tld": 13, "info": 11,
              "admin": 4, "contact@domain": 3, "contact": 2, "admin@domain": 2,
              "user6@domain": 1, "user6": 1, "inf@domain": 1, "inf": 1}
    assert found == {user: (count, count, False) for user, count in counts.items()}


# -- sergeymakinen/postfix_exporter (BSD-3-Clause): malformed lines beside real ones -----------

SM = REAL / "sergeymakinen-exporter" / "mail.log"


def test_sergeymakinen_one_failure_among_malformed_lines(cli):
    # Line 41 (`Jan 1 00:00:00 ... SASL LOGIN authentication failed: xxx`) is the file's only
    # AUTH failure (issue 12: its unpadded day made it `not syslog`); nobody logs in.
    assert failures(cli, SM, year=2024) == {"123.45.67.89": (1, [], ["login"], 1)}
    assert rows(cli, "users", SM, year=2024) == []
    assert rows(cli, "messages", SM, year=2024) == []


# -- kumina/postfix_exporter (Apache-2.0): single lines of its unit tests ------------------------

KUMINA = REAL / "kumina-exporter" / "postfix_exporter_test.log"


def test_kumina_login_and_failure(cli):
    # line 38: EB4B2C19E2 client=xxx[1.2.3.4], PLAIN, user@domain; no other line of that queue
    # ID, so no recipient is known.
    [user] = rows(cli, "users", KUMINA, year=2024)
    assert (user["user"], user["messages"], user["ips"]) == ("user@domain", 1, 1)
    assert outcomes(user) == counted(0)
    # lines 35-37, tcc1 smtpd[21126] in one second: saslauthd's two reasons (naming no client)
    # and the one failed AUTH of laptop.local[192.168.1.2] (`generic failure`).
    assert failures(cli, KUMINA, year=2024) == {"192.168.1.2": (1, [], ["plain"], 1)}


# -- meta-ethantwardy (MIT): BusyBox syslogd writes facility.priority after the host -------------

BUSYBOX = REAL / "ethantwardy-busybox" / "postfix_rs_test.log"


def test_busybox_lines_are_syslog_lines(cli):
    # `Mar 22 07:45:01 backup mail.info postfix/smtpd[1080]: ...`: all 19 lines are Postfix's
    # (issue 12: the `mail.info` word made the whole file `not a syslog file`, exit 2).
    counts = stats(cli, BUSYBOX, year=2026)
    assert (counts["lines read"], counts["not syslog lines"]) == (19, 0)
    assert counts["lines used"] > 0


def test_busybox_local_mail_is_no_login(cli):
    # Two connections from localhost[::1] with ehlo mail rcpt data: no AUTH, so no user and no
    # failure, although the mail is deferred (line 8) and later sent (line 10).
    for name in ("users", "failures", "messages"):
        assert rows(cli, name, BUSYBOX, year=2026) == []
    assert rows(cli, "sessions", "--all", BUSYBOX, year=2026) == []


# -- Zentyal (GPL-2.0-only): Postfix 2.x, disconnect lines without counters -------------------

ZENTYAL = REAL / "zentyal" / "MailLogHelper.log"


def test_zentyal_users(cli):
    found = by(rows(cli, "users", ZENTYAL, year=2009), "user")
    # Logins: lines 4 and 38 (macaco, PLAIN, 192.168.9.1), line 45 (baboon, 95.16.163.205).
    # 72FEB28781 (line 12, from=<macaco@monos.org>) and the relay-denied RCPT (line 26) are
    # of sessions that never authenticated: not macaco's mail, so its bounce (line 16) is not
    # counted.
    assert set(found) == {"macaco@monos.org", "baboon@zzz.com"}
    macaco = found["macaco@monos.org"]
    # DBED828417 (nrcpt=2) has two identical `to=<jamor@dplanet.com> ... status=sent` lines
    # (lines 8-9; the test file's anonymisation gave both recipients one address): sent.
    # C48C428351 (line 40, smtpd's `warning: C48C428351: queue file size limit exceeded`) went
    # over message_size_limit in DATA: smtpd refused the whole message (552 5.3.4) and logged
    # no recipient of it, so one refusal stands for them, as for a milter's.
    assert macaco["ips"] == 1
    assert (macaco["sessions"], macaco["messages"]) == (2, 2)
    assert macaco["sent"] >= 1
    assert (macaco["deferred"], macaco["bounced"], macaco["expired"], macaco["rejected"]) == (
        0, 0, 0, 1)
    assert macaco["recipients"] == macaco["sent"] + 1
    baboon = found["baboon@zzz.com"]
    assert (baboon["sessions"], baboon["messages"], baboon["ips"]) == (1, 1, 1)
    assert outcomes(baboon) == counted(1, sent=1)  # A99A53D8DA to lazaro@yyy.es


def test_zentyal_message_over_the_size_limit_is_refused(cli):
    # line 38: C48C428351 client=unknown[192.168.9.1], macaco, PLAIN; line 39 its message-id;
    # line 40: `warning: C48C428351: queue file size limit exceeded` at 07:46:27, the only
    # line of its outcome (Postfix logs no reject line for it, and no qmgr line: not queued).
    found = [row for row in rows(cli, "messages", ZENTYAL, year=2009)
             if row["queue_id"] == "C48C428351"]
    assert [(row["sasl_username"], row["recipient"], row["status"], row["reason"],
             row["last_attempt"]) for row in found] == [
        ("macaco@monos.org", "", "rejected", "queue file size limit exceeded",
         "2009-10-01T07:46:27+00:00")]


def test_zentyal_session_of_the_refused_message_counts_its_recipient(cli):
    # smtpd[2847] (lines 35-41): Postfix 2.x logs no disconnect counters; the recipient of
    # C48C428351, accepted at RCPT and refused with the message, is the session's one, as the
    # users report counts it (rejected 1).
    sessions = {row["pid"]: row for row in rows(cli, "sessions", ZENTYAL, year=2009)}
    assert (sessions["2847"]["messages"], sessions["2847"]["recipients"],
            sessions["2847"]["rejected"]) == (1, 1, 0)


def test_zentyal_failure_then_login_from_the_same_ip(cli):
    # line 32: `warning: unknown[192.168.9.1]: SASL PLAIN authentication failed:` (empty reason),
    # Oct 1 07:04:37; macaco logged in from that IP at 07:46:26 the same day (line 38).
    [row] = rows(cli, "failures", ZENTYAL, year=2009)
    assert (row["client_ip"], row["attempts"], row["mechanisms"], row["sessions"]) == (
        "192.168.9.1", 1, ["plain"], 1)
    assert row["later_success"] is True
    assert row["success_users"] == ["macaco@monos.org"]


def test_zentyal_queue_is_empty(cli):
    # DBED828417, 72FEB28781 and A99A53D8DA are `removed`; C48C428351 never entered the queue
    # (refused in DATA, line 40).
    assert rows(cli, "queue", ZENTYAL, year=2009) == []
    result = cli("-r", "queue", "-f", "ids", "--tz", "UTC", "--year", "2009", ZENTYAL)
    assert (result.code, result.out) == (0, "")
