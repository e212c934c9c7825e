"""More real Postfix lines from public projects (tests/reallogs/<source>/, each with a README
naming its repository, commit, path and licence): Proxmox Mail Gateway's log tracker, Modoboa,
youyo/postfix-log-parser, fluent-plugin-maillog, the i-MSCP ClamAV plugin, maillogger and
digineo/postfix_exporter.

As in test_reallogs.py, every expected number was counted from the lines themselves (grep, awk),
never taken from the tool's output; the comment above each says which lines make it. A test
the tool fails today is marked xfail(strict=True) with what it says instead.
"""

import datetime as dt
import gzip
import random

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, REPORT_NAMES, counted, failures, outcomes, rows, stats

import maillog_sasl

PMG = REAL / "pmg-log-tracker"
PMG_MIXED = PMG / "test_input_mixed.log"
PMG_RFC3339 = PMG / "test_input_time_rfc3339_mixed.log"
MODOBOA_TEMPLATE = REAL / "modoboa" / "mail.log.template"
YOUYO = REAL / "youyo-parser"
FLUENT = REAL / "nemodija-fluent" / "test_out_maillog.log"
CLAMAV = REAL / "imscp-clamav" / "README-mail.log"
MAILLOGGER = REAL / "homoluctus-maillogger" / "maillog.log"
DIGINEO = REAL / "digineo-exporter" / "mail.log"
BLOCKBADIP = REAL / "blockbadip" / "mail.log.gz"


@pytest.fixture
def modoboa(tmp_path):
    """Modoboa's log as its own test reads it: `%(day)s` made a day (Nov 16, the day its
    message IDs name)."""
    path = tmp_path / "mail.log"
    path.write_bytes(MODOBOA_TEMPLATE.read_bytes().replace(b"%(day)s", b"Nov 16"))
    return path


@pytest.fixture
def made(modoboa, tmp_path):
    """The sources that are not read as shipped: Modoboa's, and blockbadip's uncompressed (a
    compressed input is read by one process: --jobs cuts only plain files)."""
    plain = tmp_path / "blockbadip.log"
    plain.write_bytes(gzip.decompress(BLOCKBADIP.read_bytes()))
    return {"modoboa": modoboa, "blockbadip": plain}


SOURCES = {
    "pmg-mixed": ([PMG_MIXED], 2019),
    "pmg-rfc3339": ([PMG_RFC3339], 2023),
    "modoboa": (None, 2017),
    "youyo": ([YOUYO / "test.log", YOUYO / "test-iso8601.log"], 2018),
    "fluent": ([FLUENT], 2014),
    "clamav": ([CLAMAV], 2015),
    "maillogger": ([MAILLOGGER], 2020),
    "digineo": ([DIGINEO], 2021),
    "blockbadip": (None, 2018),
}


def source_paths(source, made):
    paths, year = SOURCES[source]
    return (paths or [made[source]]), year


# -- every report on every source, whole, with workers, shuffled and cut ------------------------

@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_reads_every_source_with_one_and_two_jobs(cli, monkeypatch, made, source,
                                                              name):
    paths, year = source_paths(source, made)
    args = ["-r", name, "--tz", "UTC", "--year", year, "--stats", *paths]
    if name == "sessions":
        args.append("--all")
    formats = ("json", "csv", "table")
    one = {fmt: cli(*args, "-f", fmt) for fmt in formats}
    for result in one.values():
        assert result.code == 0, result.err
        assert "Traceback" not in result.err
    # Every file is cut in several chunks (300 bytes, or a 40th of a large one), so the
    # workers' merge runs.
    chunks_of(max(300, sum(path.stat().st_size for path in paths) // 40), monkeypatch)
    for fmt in formats:
        two = cli(*args, "-f", fmt, "--jobs", "2")
        assert (two.code, two.out, two.err) == (one[fmt].code, one[fmt].out, one[fmt].err), fmt


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_report_reads_every_source_shuffled_and_cut(cli, tmp_path, made, source):
    """Lines out of order and half of them gone: sessions without their start, deliveries
    before their message; the tool reports what it can and exits 0. (At most 4000 lines of a
    large source: the shapes repeat, the seconds would not.)"""
    paths, year = source_paths(source, made)
    lines = [line for path in paths for line in path.read_bytes().splitlines(keepends=True)]
    random.Random(6).shuffle(lines)
    lines = lines[:4000]
    for kept in (lines, lines[:len(lines) // 2]):
        path = tmp_path / f"{source}-{len(kept)}.log"
        path.write_bytes(b"".join(kept))
        for name in REPORT_NAMES:
            result = cli("-r", name, "-f", "json", "--tz", "UTC", "--year", year, path)
            assert result.code == 0, result.err
            assert "Traceback" not in result.err


# -- logs without AUTH: nobody is invented, and Postfix's lines are read as syslog lines ---------

@pytest.mark.parametrize("source", ["pmg-mixed", "pmg-rfc3339", "modoboa", "youyo", "maillogger"])
def test_no_login_no_user(cli, made, source):
    # grep -c sasl_, 'authentication failed' and ' auth=' are 0 in each of these files.
    paths, year = source_paths(source, made)
    for name in ("users", "messages", "failures", "queue", "suspicious"):
        assert rows(cli, name, *paths, year=year) == [], name
    assert rows(cli, "sessions", "--all", *paths, year=year) == []


@pytest.mark.parametrize("source, read, other", [
    # grep -c '' (lines read) and grep -vc ' postfix/' (other programs: pmg-smtp-filter,
    # `something` in pmg-mixed; pmg-smtp-filter, systemd, pmgpolicy, pmgdaemon in pmg-rfc3339;
    # dovecot 149, amavis 20, policyd-spf 17, opendmarc 2 in modoboa)
    ("pmg-mixed", 102, 39), ("pmg-rfc3339", 67, 29), ("modoboa", 519, 188),
    ("youyo", 44, 0), ("maillogger", 8, 0), ("fluent", 6, 1), ("clamav", 6, 1),
    ("digineo", 53, 0),
    # dovecot 1235, opendkim 141, opendmarc 14; its 36 `postfix[PID]:` lines (the postfix
    # command's `Postfix is running with backwards-compatible default settings` at each start)
    # are Postfix's own.
    ("blockbadip", 22210, 1390)])
def test_every_line_is_a_syslog_line(cli, made, source, read, other):
    """Traditional stamps and RFC 3339 ones (microseconds; +02:00, Z and -02:00 in one file;
    +09:00), a host named `pmg` and a program named `something`: no line is `not syslog`."""
    paths, year = source_paths(source, made)
    counts = stats(cli, *paths, year=year)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"]) == (
        read, 0, other)
    assert counts["clock anomalies"] == 0


def test_modoboa_template_itself_is_not_a_syslog_file(cli):
    # Every line of the file as shipped starts with `%(day)s`: no line has a stamp.
    result = cli("--tz", "UTC", "--year", "2017", MODOBOA_TEMPLATE)
    assert result.code == 2
    assert "not a syslog file" in result.err
    assert "Traceback" not in result.err


def test_youyo_one_log_in_two_stamp_formats_reads_alike(cli):
    # test-iso8601.log is test.log with RFC 3339 stamps (+09:00): 22 lines each, the same
    # programs, pids and queue IDs in the same order (diff of the two after the stamp: none).
    traditional = stats(cli, YOUYO / "test.log", year=2018)
    rfc3339 = stats(cli, YOUYO / "test-iso8601.log", year=2018)
    assert traditional == rfc3339
    assert traditional["lines read"] == 22


# -- fluent-plugin-maillog (MIT): one SASL PLAIN message through opendkim -----------------------

def test_fluent_login_and_its_delivery(cli):
    # line 1: 7D4381EB80E5 client=192-168-0-1.xxx.xxxx.ne.jp[192.168.0.1], PLAIN,
    # xxxxx@from.example.com; line 5: to=<zzzzz@to.example.com> status=sent dsn=2.0.0; line 6
    # removed. qmgr says nrcpt=2, but only one delivery line is in the excerpt.
    [user] = rows(cli, "users", FLUENT, year=2014)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"]) == (
        "xxxxx@from.example.com", 1, 1, 1, ["plain"])
    assert outcomes(user) == counted(1, sent=1)
    [row] = rows(cli, "messages", FLUENT, year=2014)
    assert (row["queue_id"], row["client_ip"], row["sender"], row["recipient"], row["status"],
            row["dsn"], row["relay"], row["message_id"], row["last_attempt"]) == (
        "7D4381EB80E5", "192.168.0.1", "xxxxx@from.example.com", "zzzzz@to.example.com",
        "sent", "2.0.0", "mail.to.example.com[192.168.0.100]:25",
        "545A28A8.9070401@from.example.com", "2014-11-05T22:39:05+00:00")
    [session] = rows(cli, "sessions", FLUENT, year=2014)
    # no connect and no disconnect line: incomplete; its recipients are qmgr's nrcpt=2
    assert (session["pid"], session["client_name"], session["sasl_method"], session["complete"],
            session["recipients"]) == ("10802", "192-168-0-1.xxx.xxxx.ne.jp", "plain", False, 2)
    assert rows(cli, "queue", FLUENT, year=2014) == []
    assert failures(cli, FLUENT, year=2014) == {}


# -- i-MSCP ClamAV plugin (GPL-2.0-only): a login whose message a milter refuses -----------------

CLAMAV_REJECT = "5.7.1 Blocked by ClamAV - FOUND VIRUS: Eicar-Test-Signature"


def test_clamav_milter_refuses_the_logged_in_users_message(cli):
    # line 3: 0A618260345 client=unknown[192.168.5.100], CRAM-MD5, nuxwin@domain.tld; line 6:
    # cleanup's milter-reject at END-OF-MESSAGE, 5.7.1: the whole message refused, never queued
    # (no qmgr line). The recipient its line names is refused, the milter's text its reason
    # (test_scenarios' rule).
    [user] = rows(cli, "users", CLAMAV, year=2015)
    assert (user["user"], user["sessions"], user["messages"], user["methods"]) == (
        "nuxwin@domain.tld", 1, 1, ["cram-md5"])
    assert outcomes(user) == counted(1, rejected=1)
    [row] = rows(cli, "messages", CLAMAV, year=2015)
    assert (row["queue_id"], row["recipient"], row["status"], row["reason"], row["message_id"],
            row["last_attempt"]) == (
        "0A618260345", "nuxwin@domain.tld", "rejected", CLAMAV_REJECT,
        "54E6A8BF.3080504@domain.tld", "2015-02-20T03:26:16+00:00")
    assert rows(cli, "queue", CLAMAV, year=2015) == []
    [session] = rows(cli, "sessions", CLAMAV, year=2015)
    # line 2: TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256; no disconnect line
    assert (session["tls"], session["sasl_method"], session["complete"]) == (
        "TLSv1.2 with ECDHE-RSA-AES128-GCM-SHA256", "cram-md5", False)


def test_clamav_milter_reject_has_its_dsn_and_sender(cli):
    # line 6: `...: 5.7.1 Blocked by ClamAV ...; from=<nuxwin@domain.tld> to=<...>`. The message
    # was never queued (no qmgr line): that from=<...> is the only word of its sender.
    [row] = rows(cli, "messages", CLAMAV, year=2015)
    assert (row["dsn"], row["sender"]) == ("5.7.1", "nuxwin@domain.tld")


def test_clamav_session_counts_the_refused_recipient(cli):
    # README: sessions' `recipients` counts every recipient the client gave "as the users report
    # counts them"; the client gave one (to=<nuxwin@domain.tld>, accepted at RCPT: `rejected`
    # stays 0, the refusal came at END-OF-MESSAGE).
    [session] = rows(cli, "sessions", CLAMAV, year=2015)
    assert (session["recipients"], session["rejected"]) == (1, 0)


# -- maillogger (MIT): delivery lines without their messages -------------------------------------

def test_maillogger_line_without_queue_id_is_a_postfix_line_not_used(cli):
    # lines 1-7 start with a queue ID (8ECF240F31 ... 76DEF40E80) none of whose messages began
    # in the file: untracked. Line 8, `postfix/smtp[15245]: connect to mail.gmail.ne.jp[...]:25:
    # Connection timed out`, names no queue ID: a Postfix line the tool does not use.
    counts = stats(cli, MAILLOGGER, year=2020)
    assert (counts["untracked queue IDs"], counts["Postfix lines not used"]) == (7, 1)


# -- digineo/postfix_exporter (Apache-2.0): a whole submission session from IPv6 link-local ---

def test_digineo_submission_from_link_local_ipv6(cli):
    # lines 46-53: submission/smtpd[3646210] connect from unknown[fe80::1:2:3:4], 838FC8A5F
    # client=... PLAIN out@example.org, nrcpt=1, disconnect with auth=1 rcpt=1, one delivery to
    # someone@example.com status=sent, removed. Line 41 (kumina's): EB4B2C19E2 client=xxx[1.2.3.4]
    # PLAIN user@domain, with no other line of that queue ID.
    found = {row["user"]: row for row in rows(cli, "users", DIGINEO, year=2021)}
    assert set(found) == {"out@example.org", "user@domain"}
    out = found["out@example.org"]
    assert (out["sessions"], out["messages"], out["ips"], out["methods"]) == (1, 1, 1, ["plain"])
    assert outcomes(out) == counted(1, sent=1)
    assert outcomes(found["user@domain"]) == counted(0)
    [session] = [row for row in rows(cli, "sessions", DIGINEO, year=2021)
                 if row["sasl_username"] == "out@example.org"]
    assert (session["service"], session["pid"], session["client_ip"], session["auth"],
            session["recipients"], session["complete"], session["start"], session["end"]) == (
        "postfix/submission", "3646210", "fe80::1:2:3:4", "1", 1, True,
        "2021-09-23T15:57:39+00:00", "2021-09-23T15:57:41+00:00")
    [row] = rows(cli, "messages", "--ip", "fe80::/10", DIGINEO, year=2021)
    assert (row["queue_id"], row["recipient"], row["status"], row["dsn"], row["message_id"]) == (
        "838FC8A5F", "someone@example.com", "sent", "2.0.0",
        "341d97ec-c42a-6b0d-a49d-00d44a4f9753@example.org")
    # line 1: laptop.local[192.168.1.2] `SASL PLAIN authentication failed: generic failure`;
    # lines 2-3 are saslauthd's reasons on the same pid, naming no client.
    assert failures(cli, DIGINEO, year=2021) == {"192.168.1.2": (1, [], ["plain"], 1)}


# -- blockbadip (MIT): a week of password guessing and one real user ---------------------------

# Counted by a script of its own over the text (not the tool): a session is a pid's lines from
# `connect from` to `disconnect from` (a line naming another client on that pid starts another);
# attempts are its `SASL X authentication failed` warnings or, with none, the failed part of
# its disconnect's `auth=0/1`. (attempts, mechanisms, sessions) per client IP.
BLOCKBADIP_FAILURES = {
    "84.38.130.207": (3430, ["plain"], 3430), "94.102.56.215": (81, ["login"], 81),
    "222.94.196.24": (37, ["login"], 37), "201.187.101.222": (30, ["login"], 30),
    "223.197.134.71": (30, ["login"], 30), "162.213.136.106": (30, ["login"], 30),
    "62.219.169.145": (30, ["login"], 30), "103.103.55.163": (30, ["login"], 30),
    "121.237.140.253": (28, ["login"], 28), "121.237.137.75": (23, ["login"], 23),
    "113.121.42.1": (22, ["login"], 22), "5.101.0.34": (20, ["login"], 20),
    "188.126.223.106": (18, ["login"], 18),
    # localhost (a webmail): smtpd[4480] four warnings in one session, [5016] and [5090] one
    # each before `timeout after AUTH`
    "127.0.0.1": (6, ["login"], 3),
    # lines 16390, 16395, 16400: `auth=0/1` on smtps/smtpd[26033], no warning
    "5.39.223.84": (3, [], 3),
    "195.22.125.26": (2, ["login"], 2), "195.22.125.28": (2, ["login"], 2),
    "37.72.175.154": (2, ["plain"], 2), "210.72.142.7": (2, ["login"], 2),
    "104.236.87.120": (2, ["login", "plain"], 1),  # one session, both mechanisms
    "185.165.31.12": (1, ["login"], 1), "5.188.9.40": (1, ["login"], 1),
    "121.237.142.237": (1, ["login"], 1), "94.102.50.96": (1, ["login"], 1),
}


def test_blockbadip_failures_per_ip(cli, made):
    # Postfix 3.1 logs no username with a failure: none is known.
    found = failures(cli, made["blockbadip"], year=2018)
    assert found == {ip: (attempts, [], mechanisms, sessions)
                     for ip, (attempts, mechanisms, sessions) in BLOCKBADIP_FAILURES.items()}
    rows_ = rows(cli, "failures", made["blockbadip"], year=2018)
    assert not any(row["later_success"] for row in rows_)  # janderson's IP never failed
    [guess] = [row for row in rows_ if row["client_ip"] == "84.38.130.207"]
    assert (guess["first_seen"], guess["last_seen"]) == (
        "2018-02-13T17:19:11+00:00", "2018-02-14T18:36:15+00:00")


def test_blockbadip_one_user_four_messages(cli, made):
    # grep sasl_username: lines 21514, 21563, 22072, 22163, all smtps/smtpd, PLAIN, janderson
    # from pool-100-34-255-15.phlapa.fios.verizon.net[100.34.255.15]; each session's
    # disconnect says auth=1 rcpt=1; each message nrcpt=1, to=<janderson@gmail.com> status=sent
    # dsn=2.0.0, removed. No other auth=1 in the file: no login of an unknown user.
    path = made["blockbadip"]
    [user] = rows(cli, "users", path, year=2018)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"],
            user["first_seen"], user["last_seen"]) == (
        "janderson", 4, 4, 1, ["plain"], "2018-02-16T20:42:05+00:00", "2018-02-17T15:31:42+00:00")
    assert outcomes(user) == counted(4, sent=4)
    messages = rows(cli, "messages", path, year=2018)
    assert [(row["queue_id"], row["recipient"], row["status"], row["dsn"]) for row in messages] == [
        (queue_id, "janderson@gmail.com", "sent", "2.0.0")
        for queue_id in ("97C873EC0B", "316663F5AB", "5A95F3F001", "DF09A3F001")]
    sessions = rows(cli, "sessions", path, year=2018)
    assert [(row["service"], row["pid"], row["auth"], row["tls"], row["complete"], row["messages"])
            for row in sessions] == [("postfix/smtps", pid, "1", "", True, 1)
                                     for pid in ("29493", "2724", "2875", "2656")]
    # one IP, a message an hour or two: no signal fires
    assert rows(cli, "suspicious", path, year=2018) == []
    assert rows(cli, "queue", path, year=2018) == []


# -- Proxmox Mail Gateway: a before-queue filter's `NOQUEUE: client=` ---------------------------

# pmg-mixed lines 10, 11, 17 and 18 (smtpd[21949] on host pmg): a session through
# smtpd_proxy_filter. Postfix logs its client= line with NOQUEUE (no queue file in this smtpd)
# and the filter's answer as proxy-accept. The second line is line 11 with the SASL fields that
# Postfix's smtpd_sasl_mail_log() (smtpd_sasl_glue.c: "%s: client=%s%s%s..." with
# `state->queue_id ? state->queue_id : "NOQUEUE"`, then ", sasl_method=", ", sasl_username=")
# writes for a client that authenticated; the disconnect line gains `auth=1`. Not a line of the
# file: the shape of one, for a gateway that takes submissions.
PROXY_FILTER_LOGIN = """\
Dec 18 15:06:26 pmg postfix/smtpd[21949]: connect from pmg.localhost[192.168.22.40]
Dec 18 15:06:26 pmg postfix/smtpd[21949]: NOQUEUE: client=pmg.localhost[192.168.22.40], sasl_method=PLAIN, sasl_username=mailtestsender2@localhost.localdomain
Dec 18 15:06:26 pmg postfix/smtpd[21949]: proxy-accept: END-OF-MESSAGE: 250 2.5.0 OK (381C4E5DFA32622BFC4); from=<mailtestsender2@localhost.localdomain> to=<pmgtest@localhost.localdomain> proto=ESMTP helo=<localhost.localdomain>
Dec 18 15:06:26 pmg postfix/smtpd[21949]: disconnect from pmg.localhost[192.168.22.40] ehlo=1 auth=1 mail=1 rcpt=1 data=1 commands=5
"""


def test_proxy_filter_login_has_its_username(cli, tmp_path):
    path = tmp_path / "maillog"
    path.write_text(PROXY_FILTER_LOGIN, encoding="utf-8")
    [session] = rows(cli, "sessions", path, year=2019)
    assert session["sasl_username"] == "mailtestsender2@localhost.localdomain"


def proxy_log(cli, tmp_path, text, year):
    """A log of `text`: its path, and the one row each of users, messages and sessions."""
    path = tmp_path / "maillog"
    path.write_text(text, encoding="utf-8")
    [user] = rows(cli, "users", path, year=year)
    [message] = rows(cli, "messages", path, year=year)
    [session] = rows(cli, "sessions", path, year=year)
    return path, user, message, session


def test_proxy_filter_login_whose_message_the_filter_accepts_under_its_own_id(cli, tmp_path):
    # PMG's `250 2.5.0 OK (381C4E5DFA32622BFC4)` names no Postfix queue ID: Postfix handed the
    # message on and logs nothing more of it. Sent (to the filter), the reply its reason.
    path, user, row, session = proxy_log(cli, tmp_path, PROXY_FILTER_LOGIN, 2019)
    assert (user["user"], user["sessions"], user["messages"], user["methods"]) == (
        "mailtestsender2@localhost.localdomain", 1, 1, ["plain"])
    assert outcomes(user) == counted(1, sent=1)
    assert (row["queue_id"], row["client_ip"], row["sender"], row["recipient"], row["status"],
            row["dsn"], row["relay"], row["reason"], row["last_attempt"]) == (
        "NOQUEUE", "192.168.22.40", "mailtestsender2@localhost.localdomain",
        "pmgtest@localhost.localdomain", "sent", "2.5.0", "",
        "250 2.5.0 OK (381C4E5DFA32622BFC4)", "2019-12-18T15:06:26+00:00")
    assert (session["sasl_method"], session["auth"], session["messages"], session["recipients"],
            session["complete"]) == ("plain", "1", 1, 1, True)
    assert rows(cli, "queue", path, year=2019) == []
    ids = cli("-r", "messages", "-f", "ids", "--tz", "UTC", "--year", "2019", path)
    assert (ids.code, ids.out) == (0, "")  # NOQUEUE is no queue ID to act on


# pmg-mixed lines 2, 3, 8 and 9 (smtpd[21842]): the filter refuses the message at its end. Line
# 3 with the SASL fields, the disconnect with auth=1, as above.
PROXY_FILTER_REJECT = """\
Dec 18 15:04:15 pmg postfix/smtpd[21842]: connect from pmg.localhost[192.168.22.40]
Dec 18 15:04:15 pmg postfix/smtpd[21842]: NOQUEUE: client=pmg.localhost[192.168.22.40], sasl_method=LOGIN, sasl_username=mailtestsender2@localhost.localdomain
Dec 18 15:04:15 pmg postfix/smtpd[21842]: proxy-reject: END-OF-MESSAGE: 554 5.7.1 Rejected for policy reasons (381C4E5DFA31DF9E90F); from=<mailtestsender2@localhost.localdomain> to=<pmgtest@localhost.localdomain> proto=ESMTP helo=<localhost.localdomain>
Dec 18 15:04:15 pmg postfix/smtpd[21842]: disconnect from pmg.localhost[192.168.22.40] ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 commands=4/5
"""


def test_proxy_filter_envelope_is_not_the_clients_helo(cli, tmp_path):
    """The HELO, the client's text, comes last: one that reads like an envelope changes neither
    the sender, nor the recipient, nor the reply (the reason)."""
    helo = "helo=<h; from=<fake@x> to=<hidden@x> 250 queued as 1FEB7E00C4>"
    text = PROXY_FILTER_REJECT.replace("helo=<localhost.localdomain>", helo)
    assert helo in text
    _, _, row, _ = proxy_log(cli, tmp_path, text, 2019)
    assert (row["sender"], row["recipient"], row["reason"]) == (
        "mailtestsender2@localhost.localdomain", "pmgtest@localhost.localdomain",
        "554 5.7.1 Rejected for policy reasons (381C4E5DFA31DF9E90F)")


def test_proxy_filter_refuses_the_logged_in_users_message(cli, tmp_path):
    # One refusal stands for its recipients, as a milter's (test_clamav_...); accepted at RCPT
    # (rcpt=1), so the sessions report's `rejected` (at RCPT) stays 0.
    _, user, row, session = proxy_log(cli, tmp_path, PROXY_FILTER_REJECT, 2019)
    assert (user["user"], user["sessions"], user["messages"], user["methods"]) == (
        "mailtestsender2@localhost.localdomain", 1, 1, ["login"])
    assert outcomes(user) == counted(1, rejected=1)
    assert (row["queue_id"], row["sender"], row["recipient"], row["status"], row["dsn"],
            row["reason"]) == (
        "NOQUEUE", "mailtestsender2@localhost.localdomain", "pmgtest@localhost.localdomain",
        "rejected", "5.7.1", "554 5.7.1 Rejected for policy reasons (381C4E5DFA31DF9E90F)")
    assert (session["sasl_username"], session["messages"], session["recipients"],
            session["rejected"]) == ("mailtestsender2@localhost.localdomain", 1, 1, 0)


# Modoboa's lines 16-36 of smtpd[30624] (amavis as the before-queue filter), the message it
# hands on as 1FEB7E00C4 through smtpd[30647] on 127.0.0.1 (orig_client= names the client),
# cleanup, qmgr, the delivery and removal; the client= line with the SASL fields and the
# disconnect with auth=1, as above. The proxy-accept comes after the new message's qmgr line:
# the filter answers once the next smtpd has queued it.
PROXY_FILTER_QUEUED = """\
Nov 16 11:03:12 server postfix/smtpd[30624]: connect from misas5.babino.pl[207.154.235.157]
Nov 16 11:03:12 server postfix/smtpd[30624]: NOQUEUE: client=misas5.babino.pl[207.154.235.157], sasl_method=LOGIN, sasl_username=zwroty@babino.pl
Nov 16 11:03:15 server postfix/smtpd[30647]: connect from localhost.localdomain[127.0.0.1]
Nov 16 11:03:15 server postfix/smtpd[30647]: 1FEB7E00C4: client=localhost.localdomain[127.0.0.1], orig_client=misas5.babino.pl[207.154.235.157]
Nov 16 11:03:15 server postfix/cleanup[30637]: 1FEB7E00C4: message-id=<de35d4cf3b0862e276fc1afc2f0c14d6@link.crazygecko.pl>
Nov 16 11:03:15 server postfix/qmgr[26163]: 1FEB7E00C4: from=<zwroty@babino.pl>, size=53549, nrcpt=1 (queue active)
Nov 16 11:03:15 server postfix/smtpd[30647]: disconnect from localhost.localdomain[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Nov 16 11:03:15 server amavis[19749]: (19749-18) Passed SPAM {RelayedTaggedInbound}, [207.154.235.157]:54810 [207.154.235.157] <zwroty@babino.pl> -> <info@test2.com>, Message-ID: <de35d4cf3b0862e276fc1afc2f0c14d6@link.crazygecko.pl>, Hits: 6.89, size: 52477, queued_as: 1FEB7E00C4, dkim_sd=1509955623.babino:babino.pl, 2365 ms
Nov 16 11:03:15 server postfix/smtpd[30624]: proxy-accept: END-OF-MESSAGE: 250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 1FEB7E00C4; from=<zwroty@babino.pl> to=<info@test2.com> proto=ESMTP helo=<misas5.babino.pl>
Nov 16 11:03:15 server postfix/smtpd[30624]: disconnect from misas5.babino.pl[207.154.235.157] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Nov 16 11:03:26 server postfix/smtp[30648]: 1FEB7E00C4: to=<info@test2.com>, relay=mail.domain.test[94.23.191.34]:25, delay=11, delays=0.05/0.01/6.1/5.2, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5DDDA1F30002)
Nov 16 11:03:26 server postfix/qmgr[26163]: 1FEB7E00C4: removed
"""


def test_proxy_filter_hands_the_users_message_to_the_queue_id_it_names(cli, tmp_path):
    path, user, row, session = proxy_log(cli, tmp_path, PROXY_FILTER_QUEUED, 2017)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"]) == (
        "zwroty@babino.pl", 1, 1, 1, ["login"])
    assert outcomes(user) == counted(1, sent=1)
    # The row is the queued message's: its delivery, its client the logged-in one.
    assert (row["queue_id"], row["sasl_username"], row["client_ip"], row["sender"],
            row["recipient"], row["status"], row["relay"], row["message_id"]) == (
        "1FEB7E00C4", "zwroty@babino.pl", "207.154.235.157", "zwroty@babino.pl",
        "info@test2.com", "sent", "mail.domain.test[94.23.191.34]:25",
        "de35d4cf3b0862e276fc1afc2f0c14d6@link.crazygecko.pl")
    assert (session["pid"], session["sasl_username"], session["messages"],
            session["recipients"]) == ("30624", "zwroty@babino.pl", 1, 1)
    counts = stats(cli, path, year=2017)
    assert (counts["other programs"], counts["Postfix lines not used"],
            counts["untracked queue IDs"]) == (1, 0, 0)  # amavis


def test_proxy_filter_users_message_still_queued_is_in_the_queue_report(cli, tmp_path):
    # The log ends before the delivery: 1FEB7E00C4 is the user's mail to hold (postsuper -h).
    path = tmp_path / "maillog"
    path.write_text("".join(PROXY_FILTER_QUEUED.splitlines(keepends=True)[:-2]),
                    encoding="utf-8")
    [row] = rows(cli, "queue", path, year=2017)
    assert (row["queue_id"], row["user"], row["kind"], row["parent_queue_id"],
            row["pending_recipients"]) == ("1FEB7E00C4", "zwroty@babino.pl", "submission",
                                           None, 1)
    [user] = rows(cli, "users", path, year=2017)
    assert (user["messages"], outcomes(user)) == (1, counted(1, deferred=1))
    ids = cli("-r", "queue", "-f", "ids", "--tz", "UTC", "--year", "2017", path)
    assert ids.out == "1FEB7E00C4\n"


# Postfix 3.7.11's lines (tests/e2e/test_filters_postfix.py, smtpd_proxy_filter on smtps): the
# filter refused the logged-in client's one RCPT, and smtpd gave the client its reply. That
# warning (smtpd_proxy.c: `proxy %s rejected "%s": "%s"`, the command as the client wrote it)
# is the only line of the refused recipient: the disconnect counts it, rcpt=0/1.
PROXY_FILTER_RCPT_REFUSED = """\
Dec 05 18:33:27 mail postfix/smtps/smtpd[29878]: connect from unknown[127.0.49.9]
Dec 05 18:33:27 mail postfix/smtps/smtpd[29878]: Anonymous TLS connection established from unknown[127.0.49.9]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Dec 05 18:33:27 mail postfix/smtps/smtpd[29878]: NOQUEUE: client=unknown[127.0.49.9], sasl_method=CRAM-MD5, sasl_username=bob@harness.test
Dec 05 18:33:27 mail postfix/smtps/smtpd[29878]: warning: proxy 127.0.0.1:33017 rejected "rcpt TO:<x@ok.test>": "550 5.7.1 Recipient refused by the harness sink"
Dec 05 18:33:27 mail postfix/smtps/smtpd[29878]: disconnect from unknown[127.0.49.9] ehlo=1 auth=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=5/6
"""


def test_proxy_filter_refusing_a_recipient_is_the_logged_in_users_rejected_recipient(cli,
                                                                                      tmp_path):
    # Counted as smtpd's own NOQUEUE refusal at RCPT is: no sender, the line names none.
    _, user, row, session = proxy_log(cli, tmp_path, PROXY_FILTER_RCPT_REFUSED, 2019)
    assert (user["user"], user["messages"], outcomes(user)) == (
        "bob@harness.test", 0, counted(1, rejected=1))
    assert (row["queue_id"], row["client_ip"], row["sender"], row["recipient"], row["status"],
            row["dsn"], row["reason"]) == (
        "NOQUEUE", "127.0.49.9", None, "x@ok.test", "rejected", "5.7.1",
        "550 5.7.1 Recipient refused by the harness sink")
    assert (session["sasl_username"], session["recipients"], session["rejected"]) == (
        "bob@harness.test", 1, 1)


def test_a_proxy_refusal_of_a_session_that_did_not_log_in_is_not_reported(cli, tmp_path):
    # Inbound mail through the same filter: nothing of it is reported, as its proxy-reject.
    login = ", sasl_method=CRAM-MD5, sasl_username=bob@harness.test"
    text = PROXY_FILTER_RCPT_REFUSED.replace(login, "").replace(" auth=1", "")
    assert "sasl" not in text
    path = tmp_path / "maillog"
    path.write_text(text, encoding="utf-8")
    assert rows(cli, "messages", path, year=2019) == []
    assert rows(cli, "users", path, year=2019) == []


# The same filter under smtpd_proxy_options = speed_adjust (Postfix 3.7.11, the TLS line left
# out): smtpd took the three RCPTs (rcpt=3) and the message, then passed the transaction on;
# the filter's refusal of the second recipient refused the message, with its reply.
PROXY_FILTER_SPEED_ADJUST = """\
Dec 05 18:42:01 mail postfix/smtps/smtpd[21760]: connect from unknown[127.0.49.9]
Dec 05 18:42:01 mail postfix/smtps/smtpd[21760]: NOQUEUE: client=unknown[127.0.49.9], sasl_method=CRAM-MD5, sasl_username=bob@harness.test
Dec 05 18:42:01 mail postfix/smtps/smtpd[21760]: warning: proxy 127.0.0.1:36059 rejected "rcpt TO:<proxied@reject.test>": "550 5.7.1 Recipient refused by the harness sink"
Dec 05 18:42:01 mail postfix/smtps/smtpd[21760]: proxy-reject: END-OF-MESSAGE: 550 5.7.1 Recipient refused by the harness sink; from=<bob@harness.test> to=<proxied@ok.test> proto=ESMTP helo=<bob-laptop> sasl_username=<bob@harness.test>
Dec 05 18:42:01 mail postfix/smtps/smtpd[21760]: disconnect from unknown[127.0.49.9] ehlo=1 auth=1 mail=1 rcpt=3 data=0/1 rset=1 quit=1 commands=8/9
"""


@pytest.mark.parametrize("first", ["proxied@ok.test", "proxied@reject.test"])
def test_a_recipient_the_filter_refuses_after_data_is_the_refused_messages(cli, tmp_path,
                                                                           first):
    # One message refused, each recipient a line names once: the refusal line names the
    # first (the refused one itself, when it was first), and none was refused at RCPT. The
    # counters' rcpt=3 are its recipients: those no line names have no address.
    text = PROXY_FILTER_SPEED_ADJUST.replace("to=<proxied@ok.test>", f"to=<{first}>")
    path = tmp_path / "maillog"
    path.write_text(text, encoding="utf-8")
    named = sorted({first, "proxied@reject.test"})
    assert sorted((row["queue_id"], row["recipient"], row["status"], row["dsn"], row["reason"])
                  for row in rows(cli, "messages", path, year=2019)) == [
        ("NOQUEUE", address, "rejected", "5.7.1",
         "550 5.7.1 Recipient refused by the harness sink")
        for address in [""] * (3 - len(named)) + named]
    [user] = rows(cli, "users", path, year=2019)
    assert (user["messages"], outcomes(user)) == (1, counted(3, rejected=3))
    [session] = rows(cli, "sessions", path, year=2019)
    assert (session["messages"], session["recipients"], session["rejected"]) == (1, 3, 0)


PROXY_FILTER_LOGS = {"accepted": PROXY_FILTER_LOGIN, "rejected": PROXY_FILTER_REJECT,
                     "queued": PROXY_FILTER_QUEUED, "rcpt refused": PROXY_FILTER_RCPT_REFUSED,
                     "speed_adjust": PROXY_FILTER_SPEED_ADJUST}


def _handed_on(path, **options):
    """What correlation hands on for `path`, in brief, and its stats."""
    analysis = maillog_sasl.analyze([str(path)], year=2019, zone=dt.timezone.utc, **options)
    return [(type(item).__name__, getattr(item, "queue_id", item.client_ip), item.sasl_username,
             getattr(item, "state", None), sorted(
                 (recipient.address, recipient.status)
                 for recipient in getattr(item, "recipients", {}).values()))
            for item in analysis.items], analysis.stats.postfix_unused


@pytest.mark.parametrize("name", sorted(PROXY_FILTER_LOGS))
def test_proxy_filter_logs_read_alike_with_two_jobs(cli, monkeypatch, tmp_path, name):
    # Cut anywhere (every 23 bytes), a session and the message it hands on may fall in two
    # chunks: the same objects as one process. Then the reports, cut in 300-byte chunks.
    path = tmp_path / "maillog"
    path.write_text(PROXY_FILTER_LOGS[name] * 3, encoding="utf-8")
    one = _handed_on(path)
    for chunk in range(60, path.stat().st_size, 23):
        assert _handed_on(path, jobs=2, chunk_size=chunk) == one, chunk
    args = ["--tz", "UTC", "--year", "2019", "--stats", "-f", "json", path]
    for report in ("users", "messages", "sessions", "queue"):
        alone = cli("-r", report, *args)
        chunks_of(300, monkeypatch)
        two = cli("-r", report, *args, "--jobs", "2")
        monkeypatch.undo()
        assert (two.code, two.out, two.err) == (alone.code, alone.out, alone.err), report
