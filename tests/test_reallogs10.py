"""Real Postfix lines of a day of one server: pixelpark/postfix-logsums' test log
(tests/reallogs/pixelpark-logsums/, its README naming repository, commit, path and licence).

It brings shapes no other source here has at this size: rsyslog's RFC 3339 stamps with
microseconds and `+01:00`; postscreen with dnsblog, tlsproxy and anvil in front of port 25; an
after-queue amavis filter (`postfix/amavis/smtp` out, the `postfix/10025/smtpd` instance back
in); delivery by `postfix/pipe` to dovecot; the submission service's logins from an IPv6
client named `unknown`; and failed AUTH commands whose only trace is `auth=0/1` in a
disconnect line.

As in test_reallogs.py, every expected number was counted from the lines themselves (xz -dc,
grep, awk), never taken from the tool's output; the comment above each says which lines make
it. Line numbers are those of the decompressed file.
"""

import lzma
import random

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, REPORT_NAMES, counted, failures, outcomes, rows, stats

PIXELPARK = REAL / "pixelpark-logsums" / "mail-2023-03-14.log.xz"
YEAR = 2023  # no line needs it: every stamp carries its year and offset


def _variant(variant, tmp_path):
    """The day as shipped (xz), its lines shuffled, or its first half (cut mid-line)."""
    if variant == "whole":
        return PIXELPARK
    data = lzma.decompress(PIXELPARK.read_bytes())
    lines = data.splitlines(keepends=True)
    random.Random(10).shuffle(lines)
    changed = tmp_path / f"{variant}.log"
    changed.write_bytes(b"".join(lines) if variant == "shuffled" else data[:len(data) // 2])
    return changed


@pytest.mark.parametrize("variant", ["whole", "shuffled", "cut"])
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_reads_the_day_with_one_and_two_jobs(cli, monkeypatch, tmp_path, name,
                                                          variant):
    """25,820 lines whole, shuffled (sessions end before they begin, deliveries come before
    their message, the amavis hop before the message it hands on) and cut mid-line: exit 0,
    no traceback, and --jobs 2 over chunks of 256 KiB the bytes of --jobs 1."""
    options = ["-r", name, "--tz", "UTC", "--stats"] + (["--all"] if name == "sessions" else [])
    args = [*options, "-f", "json", _variant(variant, tmp_path)]
    alone = cli(*args)
    assert (alone.code, "Traceback" in alone.err) == (0, False), alone.err
    with monkeypatch.context() as patch:
        chunks_of(256 * 1024, patch)
        two = cli(*args, "--jobs", "2")
    assert (two.code, two.out, two.err) == (alone.code, alone.out, alone.err)
    if variant == "whole":
        for fmt in ("csv", "table"):
            result = cli(*options, "-f", fmt, PIXELPARK)
            assert (result.code, "Traceback" in result.err) == (0, False), fmt


def test_every_line_is_a_syslog_line(cli):
    # grep -c '' is 25820; every line is `<RFC 3339 stamp> helga <program>[pid]: `; the only
    # program not Postfix's is amavis (grep -c ' amavis\[': 110). The stamps only go forwards.
    counts = stats(cli, PIXELPARK, year=YEAR)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"],
            counts["clock anomalies"]) == (25820, 0, 110, 0)


# -- the logins: one account, five addresses, one of them IPv6 ----------------------------------

# grep 'sasl_method=' gives six lines, all `postfix/submission/smtpd`, all
# `sasl_username=vmail@uhu-banane.net`:
#   line   379 smtpd[303987] unknown[2a02:8109:b240:41c8:9264:99a9:1b0d:15c8]  PLAIN
#   line  3019 smtpd[320809] host3.uhu-banane.de[185.102.95.107]               PLAIN
#   line 10922 smtpd[327027] host1.uhu-banane.de[185.48.118.128]               PLAIN
#   line 10991 smtpd[327512] host2.uhu-banane.de[162.254.24.33]                LOGIN
#   line 11123 smtpd[328478] host3.uhu-banane.de[185.102.95.107]               PLAIN
#   line 11952 smtpd[336584] ip4d146a13.dynamic.kabel-deutschland.de[77.20.106.19]  PLAIN
# Each session's connect, client=, disconnect (`ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1
# quit=1 commands=8`) and `Anonymous TLS connection established ... TLSv1.3`.
LOGINS = [
    ("303987", "2a02:8109:b240:41c8:9264:99a9:1b0d:15c8", "unknown", "plain"),
    ("320809", "185.102.95.107", "host3.uhu-banane.de", "plain"),
    ("327027", "185.48.118.128", "host1.uhu-banane.de", "plain"),
    ("327512", "162.254.24.33", "host2.uhu-banane.de", "login"),
    ("328478", "185.102.95.107", "host3.uhu-banane.de", "plain"),
    ("336584", "77.20.106.19", "ip4d146a13.dynamic.kabel-deutschland.de", "plain"),
]


def test_one_account_six_logins_from_five_addresses(cli):
    [user] = rows(cli, "users", PIXELPARK, year=YEAR)
    # first_seen: smtpd[303987]'s connect (line 377); last_seen: smtpd[336584]'s disconnect
    # (line 11954). ISO stamps keep their own offset whatever --tz says.
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"],
            user["hosts"], user["first_seen"], user["last_seen"]) == (
        "vmail@uhu-banane.net", 6, 6, 5, ["login", "plain"], ["helga"],
        "2023-03-14T00:31:06.294639+01:00", "2023-03-14T08:32:25.406139+01:00")
    # Each message one recipient (qmgr `nrcpt=1`), each delivered (see the messages test).
    assert outcomes(user) == counted(6, sent=6)


def test_sessions_of_the_logins(cli):
    sessions = rows(cli, "sessions", PIXELPARK, year=YEAR)
    assert [(row["pid"], row["client_ip"], row["client_name"], row["sasl_method"])
            for row in sessions] == LOGINS
    assert {(row["service"], row["sasl_username"], row["messages"], row["recipients"],
             row["complete"], row["failed_auth"]) for row in sessions} == {
        ("postfix/submission", "vmail@uhu-banane.net", 1, 1, True, 0)}


def test_ips_report_puts_the_ipv6_client_apart(cli):
    # 185.102.95.107 twice (lines 3019 and 11123), each other address once.
    ips = {(row["client_ip"], row["client_name"]): (row["sessions"], row["messages"])
           for row in rows(cli, "ips", PIXELPARK, year=YEAR)}
    assert ips == {("2a02:8109:b240:41c8:9264:99a9:1b0d:15c8", "unknown"): (1, 1),
                   ("185.102.95.107", "host3.uhu-banane.de"): (2, 2),
                   ("185.48.118.128", "host1.uhu-banane.de"): (1, 1),
                   ("162.254.24.33", "host2.uhu-banane.de"): (1, 1),
                   ("77.20.106.19", "ip4d146a13.dynamic.kabel-deutschland.de"): (1, 1)}


# -- through the amavis filter to dovecot -------------------------------------------------------

# Each login's message goes out through `postfix/amavis/smtp` to 127.0.0.1:10026 (`status=sent
# (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as NEWID)`), comes back
# through `postfix/10025/smtpd` from localhost[127.0.0.1] (no login) as NEWID, and NEWID is
# delivered by `postfix/pipe`: `relay=dovecot, ... dsn=2.0.0, status=sent (delivered via
# dovecot service)`. Lines 379-392 for the first: 4PbCZy4PWKz3tBr -> 4PbCb40W49z3tG3.
#   4PbCZy4PWKz3tBr -> 4PbCb40W49z3tG3  from=<user01.test+root.host1@uhu-banane.net>
#   4PbKQW42V6z3tBr -> 4PbKQX1LMcz3tG3  from=<root@host3.uhu-banane.de>
#   4PbMXw0pZ8z3tBr -> 4PbMXy5rDGz3tG3  from=<root@host1.uhu-banane.de>
#   4PbMk12r7Wz3tBr -> 4PbMk54BzDz3tG3  from=<root@host2.uhu-banane.de>
#   4PbN3n5HQRz3tBr -> 4PbN3s01F5z3tG3  from=<root@host3.uhu-banane.de>
#   4PbQGK2drSz3tBr -> 4PbQGL1THXz3tG3  from=<user01.test+root.host1@uhu-banane.net>
# every one to=<user01.test@uhu-banane.net>.
def test_messages_are_followed_through_the_filter_to_their_mailbox(cli):
    messages = rows(cli, "messages", PIXELPARK, year=YEAR)
    assert [(row["client_ip"], row["sender"], row["recipient"], row["status"], row["dsn"],
             row["relay"]) for row in messages] == [
        (ip, sender, "user01.test@uhu-banane.net", "sent", "2.0.0", "dovecot")
        for (_, ip, _, _), sender in zip(LOGINS, [
            "user01.test+root.host1@uhu-banane.net", "root@host3.uhu-banane.de",
            "root@host1.uhu-banane.de", "root@host2.uhu-banane.de",
            "root@host3.uhu-banane.de", "user01.test+root.host1@uhu-banane.net"])]
    assert {row["sasl_username"] for row in messages} == {"vmail@uhu-banane.net"}
    # The login's client= lines (time of each row) and, in the same order, the re-injected
    # IDs (`queued as`), which the pipe delivery names.
    assert [(row["time"][11:26], row["queue_id"]) for row in messages] == [
        ("00:31:06.621091", "4PbCb40W49z3tG3"), ("04:54:11.569552", "4PbKQX1LMcz3tG3"),
        ("06:29:52.115351", "4PbMXy5rDGz3tG3"), ("06:37:45.401240", "4PbMk54BzDz3tG3"),
        ("06:53:09.745027", "4PbN3s01F5z3tG3"), ("08:32:25.373046", "4PbQGL1THXz3tG3")]
    # Everything was removed from the queue (each ID's `removed`).
    assert rows(cli, "queue", PIXELPARK, year=YEAR) == []


# -- failed AUTH seen only in the disconnect's counters -----------------------------------------

def test_failed_auth_known_only_from_the_disconnect_counters(cli):
    # grep -c 'authentication failed' is 0; grep 'auth=0/1' gives six disconnect lines, all
    # postfix/submission/smtpd: five of unknown[176.111.173.47] at 19:32:52 (smtpd[383636],
    # [383638], [383639], [383640], [383641], lines 23264-23278, five connections in the same
    # second, each `lost connection after EHLO`, `ehlo=1 auth=0/1 commands=1/2`) and one of
    # ec2-54-227-86-67.compute-1.amazonaws.com[54.227.86.67] at 23:04:07. No line names a
    # mechanism or a username.
    assert failures(cli, PIXELPARK, year=YEAR) == {
        "176.111.173.47": (5, [], [], 5), "54.227.86.67": (1, [], [], 1)}
    [row] = [row for row in rows(cli, "failures", PIXELPARK, year=YEAR)
             if row["client_ip"] == "176.111.173.47"]
    # From the first of the five connects (smtpd[383636], line 23264) to the last disconnect
    # (smtpd[383641], line 23278).
    assert (row["first_seen"], row["last_seen"], row["later_success"],
            row["client_names"]) == ("2023-03-14T19:32:52.625374+01:00",
                                     "2023-03-14T19:32:52.763327+01:00", False, ["unknown"])


def test_sessions_all_adds_the_six_failed_sessions(cli):
    rows_all = rows(cli, "sessions", "--all", PIXELPARK, year=YEAR)
    failed = [(row["pid"], row["client_ip"], row["auth"], row["failed_auth"], row["complete"])
              for row in rows_all if row["sasl_username"] is None]
    assert sorted(failed) == [(pid, "176.111.173.47", "0/1", 1, True)
                              for pid in ("383636", "383638", "383639", "383640", "383641")
                              ] + [("398301", "54.227.86.67", "0/1", 1, True)]
    assert len(rows_all) == len(LOGINS) + 6


# -- what is no login -------------------------------------------------------------------------

def test_postscreen_and_its_helpers_make_no_session(cli):
    # 13,912 postscreen, 5,191 dnsblog, 608 tlsproxy and 432 anvil lines; 225 lines of the
    # 10025 instance (the filter's re-injection from localhost, no AUTH); 4,670 port-25 smtpd
    # lines (no `auth=` in any of them: grep 'postfix/smtpd\[' | grep -c 'auth=' is 0). None
    # is a login or a failed one: the reports hold the submission service's twelve sessions.
    sessions = rows(cli, "sessions", "--all", PIXELPARK, year=YEAR)
    assert {row["service"] for row in sessions} == {"postfix/submission"}
    assert rows(cli, "suspicious", PIXELPARK, year=YEAR) == []
