"""Real Postfix lines from five more public projects (tests/reallogs/<source>/, each with a
README naming its repository, commit, path and licence): msimerson/postfix-parser,
Hsn723/postfix_exporter, logfort, logcrux and mailreceipt; and two shapes of real lines the
tool was suspected of misreading (whitespace after a login's username; a before-queue filter
that accepts a message of several recipients under its own ID).

As in test_reallogs.py, every expected number was counted from the lines themselves (grep,
awk), never taken from the tool's output; the comment above each says which lines make it. A
test the tool fails today is marked xfail(strict=True) with what it says instead.
"""

import random

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, REPORT_NAMES, counted, failures, outcomes, rows, stats

MSIMERSON = REAL / "msimerson-parser" / "index-js-lines.log"
HSN723 = REAL / "hsn723-exporter" / "postfix_exporter_test.log"
LOGFORT = REAL / "logfort" / "mail.log"
LOGCRUX = REAL / "logcrux" / "postfix.log"
MAILRECEIPT = REAL / "mailreceipt" / "mail.log"
PMG_MIXED = REAL / "pmg-log-tracker" / "test_input_mixed.log"

SOURCES = {"msimerson": (MSIMERSON, 2015), "hsn723": (HSN723, 2024),
           "logfort": (LOGFORT, 2026), "logcrux": (LOGCRUX, 2025),
           "mailreceipt": (MAILRECEIPT, 2026)}


# -- every report on every source, whole, shuffled and cut, with one and two jobs ---------------

def _variant(path, variant, tmp_path):
    """The source as shipped, its lines shuffled, or its first half (cut mid-line)."""
    if variant == "whole":
        return path
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    random.Random(9).shuffle(lines)
    changed = tmp_path / f"{variant}-{path.name}"
    changed.write_bytes(b"".join(lines) if variant == "shuffled" else data[:len(data) // 2])
    return changed


@pytest.mark.parametrize("variant", ["whole", "shuffled", "cut"])
@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_reads_every_source_with_one_and_two_jobs(cli, monkeypatch, tmp_path,
                                                              source, variant, name):
    """Lines out of order or half of them gone (sessions without their start, deliveries
    before their message): exit 0, no traceback, and --jobs 2 (every file cut in several
    chunks, so the merge runs) the bytes of --jobs 1, in every format."""
    path, year = SOURCES[source]
    args = ["-r", name, "--tz", "UTC", "--year", year, "--stats",
            _variant(path, variant, tmp_path)]
    if name == "sessions":
        args.append("--all")
    for fmt in ("json", "csv", "table"):
        alone = cli(*args, "-f", fmt)
        assert (alone.code, "Traceback" in alone.err) == (0, False), alone.err
        with monkeypatch.context() as patch:
            chunks_of(300, patch)
            two = cli(*args, "-f", fmt, "--jobs", "2")
        assert (two.code, two.out, two.err) == (alone.code, alone.out, alone.err), fmt


@pytest.mark.parametrize("source, read, other", [
    # grep -c '' and grep -vc ' postfix/': spamd in msimerson's, four dovecot lines in logfort's
    ("msimerson", 12, 1), ("hsn723", 16, 0), ("logfort", 7, 4), ("logcrux", 6, 0),
    ("mailreceipt", 11, 0)])
def test_every_line_is_a_syslog_line(cli, source, read, other):
    """Stamps with the day padded and not (`Jan 6`), hosts named `smtp` and `username`-free,
    programs named `postfix/submission/smtpd` and `postfix/relay/smtp`: no line is `not
    syslog`, and the files out of time order (msimerson's Jul, Sep, Nov, Jan; mailreceipt's
    Jun then Mar) make no clock anomaly."""
    path, year = SOURCES[source]
    counts = stats(cli, path, year=year)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"],
            counts["clock anomalies"]) == (read, 0, other, 0)


# -- msimerson/postfix-parser (BSD-2-Clause): a DIGEST-MD5 login with a long queue ID -----------

def test_msimerson_digest_md5_login_on_submission(cli):
    # line 9: `Nov 28 22:50:29 smtp postfix/submission/smtpd[70013]: 3p7RMT0zrYz20p:
    # client=unknown[192.168.0.100], sasl_method=DIGEST-MD5, sasl_username=user@dmain.com`, a
    # long queue ID (14 characters); no other line of 3p7RMT0zrYz20p or of smtpd[70013]: one
    # message of unknown recipients, never removed.
    [user] = rows(cli, "users", MSIMERSON, year=2015)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"],
            user["hosts"], user["first_seen"]) == (
        "user@dmain.com", 1, 1, 1, ["digest-md5"], ["smtp"], "2015-11-28T22:50:29+00:00")
    assert outcomes(user) == counted(0)
    [session] = rows(cli, "sessions", MSIMERSON, year=2015)
    assert (session["service"], session["pid"], session["client_ip"], session["client_name"],
            session["sasl_method"], session["messages"], session["complete"]) == (
        "postfix/submission", "70013", "192.168.0.100", "unknown", "digest-md5", 1, False)
    assert failures(cli, MSIMERSON, year=2015) == {}


def test_msimerson_lines_of_no_login_are_not_used(cli):
    # Lines with a queue ID whose message began before these lines, or with no login: cleanup,
    # qmgr and three deliveries (one cut at `to=<56597@con`) of 3mPVKl0Mhjz7sXv (lines 2, 3,
    # 5-7), qmgr of ED373F8043E (line 4, `from=` without brackets), postsuper of
    # 3nsRhm5bH5z306M (line 8) and `93C8388C38: client=unknown[192.168.1.0]` (line 10, no
    # SASL fields): 8. Used: the login (line 9) and smtpd[339505]'s disconnect and connect
    # (lines 11 and 12).
    counts = stats(cli, MSIMERSON, year=2015)
    assert (counts["untracked queue IDs"], counts["lines used"],
            counts["Postfix lines not used"]) == (8, 3, 0)


# -- Hsn723/postfix_exporter (Apache-2.0): postscreen's verdicts ---------------------------------

def test_hsn723_postscreen_lines_are_no_session_and_no_user(cli):
    # 14 postfix/postscreen lines (PASS, DNSBL, PREGREET, HANGUP, ...LISTED, CONNECT and its
    # refusals, a RCPT reject): postscreen hands a client to smtpd or drops it, and names no
    # login. Two deliveries of AAB4D259B1 (relay/smtp and smtp), a message never begun here.
    counts = stats(cli, HSN723, year=2024)
    assert (counts["Postfix lines not used"], counts["untracked queue IDs"],
            counts["lines used"]) == (14, 2, 0)
    for name in ("users", "messages", "failures", "queue", "suspicious"):
        assert rows(cli, name, HSN723, year=2024) == [], name
    assert rows(cli, "sessions", "--all", HSN723, year=2024) == []


# -- logfort (MIT): two failures on one process, one with the name the client tried -------------

def test_logfort_failures_per_ip(cli):
    # line 1: smtpd[21001] unknown[203.0.113.50] `SASL LOGIN authentication failed:
    # authentication failure`; line 2: smtpd[21001] host.example.com[198.51.100.60] `SASL PLAIN
    # authentication failed: authentication failure, sasl_username=admin@example.com`. The
    # second names another client: another session of the same process.
    assert failures(cli, LOGFORT, year=2026) == {
        "203.0.113.50": (1, [], ["login"], 1),
        "198.51.100.60": (1, ["admin@example.com"], ["plain"], 1)}
    [row] = [row for row in rows(cli, "failures", LOGFORT, year=2026)
             if row["client_ip"] == "198.51.100.60"]
    assert (row["client_names"], row["later_success"], row["first_seen"]) == (
        ["host.example.com"], False, "2026-06-21T14:40:05+00:00")
    # grep -c 'sasl_method=' is 0: nobody logged in; the Dovecot lines are not Postfix's.
    assert rows(cli, "users", LOGFORT, year=2026) == []


# -- logcrux (Apache-2.0): a failed login, then a refused recipient -----------------------------

def test_logcrux_session_of_a_failure_and_a_reject(cli):
    # lines 1-3, smtpd[1234] unknown[1.2.3.4]: connect at 10:00:01, SASL LOGIN failure at
    # 10:00:02, `NOQUEUE: reject: RCPT ... 550 5.1.1 <nobody@fake.com>` at 10:00:03; no
    # disconnect.
    assert failures(cli, LOGCRUX, year=2025) == {"1.2.3.4": (1, [], ["login"], 1)}
    [session] = rows(cli, "sessions", "--all", LOGCRUX, year=2025)
    assert (session["client_ip"], session["failed_auth"], session["rejected"],
            session["recipients"], session["complete"], session["start"]) == (
        "1.2.3.4", 1, 1, 1, False, "2025-06-19T10:00:01+00:00")
    assert rows(cli, "users", LOGCRUX, year=2025) == []


def test_logcrux_incomplete_session_ends_at_its_last_line(cli):
    # The session's last line is its reject (line 3, 10:00:03): an incomplete session ends
    # where its lines end.
    [session] = rows(cli, "sessions", "--all", LOGCRUX, year=2025)
    assert session["end"] == "2025-06-19T10:00:03+00:00"


# -- mailreceipt (AGPL-3.0-only): outbound deliveries without their start -----------------------

def test_mailreceipt_deliveries_of_messages_not_begun_here(cli):
    # Every line names 4F1A2B3C01, 7C2D9E1F02 or 1A2B3C4D03, none of which has a client=,
    # pickup or smtpd line: 11 lines of untracked queue IDs, nobody's mail.
    counts = stats(cli, MAILRECEIPT, year=2026)
    assert (counts["untracked queue IDs"], counts["lines used"]) == (11, 0)
    for name in ("users", "messages", "queue", "failures"):
        assert rows(cli, name, MAILRECEIPT, year=2026) == [], name


# -- whitespace after a login's username --------------------------------------------------------

def _with_after_end(path, whitespace, tmp_path):
    changed = tmp_path / ("ws-" + path.name)
    changed.write_text("".join(line[:-1] + whitespace + "\n"
                               for line in path.read_text().splitlines(keepends=True)))
    return changed


@pytest.mark.parametrize("whitespace", [" ", "\t", " \t "])
def test_login_with_whitespace_after_the_line_is_the_same_user(cli, tmp_path, whitespace):
    """msimerson's login line (`sasl_username=user@dmain.com` its last field) and fluent's
    (`..., sasl_username=xxxxx@from.example.com`), given whitespace after their end (an edited
    log, a relay's template): Postfix ends the line with the name, and an account name Dovecot
    accepts has no blank in it. The whitespace is the line's, not the name's: the user is
    the one of the line without it (tests/test_trailing_whitespace.py, the same rule for
    other lines' last fields)."""
    fluent = REAL / "nemodija-fluent" / "test_out_maillog.log"
    for path, year, user in ((MSIMERSON, 2015, "user@dmain.com"),
                             (fluent, 2014, "xxxxx@from.example.com")):
        changed = _with_after_end(path, whitespace, tmp_path)
        for name in ("users", "sessions", "messages"):
            first = cli("-r", name, "-f", "json", "--tz", "UTC", "--year", year, path)
            second = cli("-r", name, "-f", "json", "--tz", "UTC", "--year", year, changed)
            assert (second.code, second.out) == (first.code, first.out), (path.name, name)
        assert [row["user"] for row in rows(cli, "users", changed, year=year)] == [user]


def test_failed_and_successful_login_name_one_user_despite_whitespace(cli, tmp_path):
    """logfort's second failure and, on the same process, a login of the same name, both lines
    with a space after their end: the failure's name and the login's are one user."""
    failure = LOGFORT.read_text().splitlines()[1]
    login = ("Jun 21 14:40:06 mail postfix/smtpd[21001]: 4A1B2C3D4E: "
             "client=host.example.com[198.51.100.60], sasl_method=PLAIN, "
             "sasl_username=admin@example.com")
    path = tmp_path / "maillog"
    path.write_text(failure + " \n" + login + " \n")
    [row] = rows(cli, "failures", path, year=2026)
    assert (row["usernames"], row["later_success"], row["success_users"]) == (
        ["admin@example.com"], True, ["admin@example.com"])


# -- a before-queue filter that keeps the message: its recipients -------------------------------

# pmg-mixed lines 28-48 (host proxmox-new): smtpd[29902] from test.localdomain[192.168.22.40]
# passes a message of four recipients (disconnect: rcpt=4) to pmg-smtp-filter, which hands it
# on to Postfix as 1C6B541C5D through smtpd[29713] (orig_client=test.localdomain[...], nrcpt=4,
# four `status=sent`); Postfix logs the filter's answer as `proxy-accept: END-OF-MESSAGE: 250
# 2.5.0 OK (436445DD3BD7D71595); from=<test@test.localdomain> to=<test2@localhost>`: one `to=`,
# the last RCPT's (smtpd's log_whatsup() names state->recipient). Line 29 given the SASL fields
# Postfix writes for a login, and line 48 `auth=1`, as test_reallogs6's PROXY_FILTER_LOGIN.
def _pmg_login_of_four(tmp_path):
    lines = PMG_MIXED.read_text().splitlines(keepends=True)[27:48]
    assert lines[1].endswith("NOQUEUE: client=test.localdomain[192.168.22.40]\n")
    lines[1] = lines[1][:-1] + ", sasl_method=PLAIN, sasl_username=test@test.localdomain\n"
    lines[-1] = lines[-1].replace(" ehlo=1 mail=1 ", " ehlo=1 auth=1 mail=1 ")
    path = tmp_path / "maillog"
    path.write_text("".join(lines))
    return path


def test_proxy_filter_session_counts_the_clients_four_recipients(cli, tmp_path):
    [session] = rows(cli, "sessions", _pmg_login_of_four(tmp_path), year=2019)
    assert (session["sasl_username"], session["recipients"], session["messages"]) == (
        "test@test.localdomain", 4, 1)


@pytest.mark.xfail(strict=True, reason=(
    "the users report counts 1 recipient, sent (the proxy-accept's one to=): the NOQUEUE "
    "message is finished at the proxy-accept, before the disconnect's rcpt=4 says how many "
    "recipients it had, and PMG's re-injection (1C6B541C5D, orig_client= the login's client) "
    "is not tied to the login. Counting them needs the message kept open to the disconnect "
    "(the disconnect handler, hot), or orig_client= joined to the session awaiting its "
    "filter's answer."))
def test_proxy_filter_users_message_of_four_recipients(cli, tmp_path):
    [user] = rows(cli, "users", _pmg_login_of_four(tmp_path), year=2019)
    assert (user["messages"], outcomes(user)) == (1, counted(4, sent=4))


def test_msimerson_messages_report_does_not_deny_the_login(cli):
    # The login's message (line 9) has no qmgr or delivery line: no recipient to list. The
    # headline counts the login; the empty table must not say there was none.
    result = cli("-r", "messages", "--tz", "UTC", "--year", "2015", MSIMERSON)
    assert result.code == 0
    assert "1 authenticated message" in result.out
    assert result.out.endswith(
        "(no rows: no recipient of an authenticated message is known)\n")


def test_a_messages_report_of_logins_that_sent_nothing_says_so(cli, tmp_path):
    # A login that queued nothing: the headline counts one authenticated session and no
    # message; the empty table said there was no successful login.
    log = tmp_path / "maillog"
    log.write_text(
        "Mar  2 10:00:00 mx postfix/submission/smtpd[7]: connect from a.example[192.0.2.7]\n"
        "Mar  2 10:00:02 mx postfix/submission/smtpd[7]: disconnect from a.example[192.0.2.7]"
        " ehlo=1 auth=1 quit=1 commands=3\n")
    result = cli("-r", "messages", "--year", "2026", log)
    assert result.code == 0
    assert "1 authenticated session" in result.out
    assert result.out.endswith("(no rows: no authenticated message in the log)\n")
