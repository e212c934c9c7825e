"""Real Postfix lines of a day of one server, pixelpark/postfix-logsums' test log, and of a
relay whose rsyslog writes the year before the month, FgForrest/Postfix-Deliverability-Analytics'
test log (tests/reallogs/<source>/, each README naming repository, commit, path and licence).

The first brings shapes no other source here has at this size: rsyslog's RFC 3339 stamps with
microseconds and `+01:00`; postscreen with dnsblog, tlsproxy and anvil in front of port 25; an
after-queue amavis filter (`postfix/amavis/smtp` out, the `postfix/10025/smtpd` instance back
in); delivery by `postfix/pipe` to dovecot; the submission service's logins from an IPv6
client named `unknown`; and failed AUTH commands whose only trace is `auth=0/1` in a
disconnect line. The second, stamps like `2013 Jun 16 16:05:06.123`, which the tool took for no
syslog line at all before (syslog._year_first()).

As in test_reallogs.py, every expected number was counted from the lines themselves (xz -dc,
grep, awk), never taken from the tool's output; the comment above each says which lines make
it. Line numbers are those of the decompressed file.
"""

import datetime as dt
import lzma

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, REPORT_NAMES, counted, failures, outcomes, rows, stats
from test_reallogs9 import _variant as shuffled_or_cut

from maillog_sasl.syslog import Clock, split_line

PIXELPARK = REAL / "pixelpark-logsums" / "mail-2023-03-14.log.xz"
YEAR = 2023  # no line needs it: every stamp carries its year and offset


def _variant(variant, tmp_path):
    """The day decompressed: whole, its lines shuffled, or its first half (cut mid-line)."""
    plain = tmp_path / "mail-2023-03-14.log"
    plain.write_bytes(lzma.decompress(PIXELPARK.read_bytes()))
    return shuffled_or_cut(plain, variant, tmp_path)


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
    # Line 22827, postscreen's `COMMAND PIPELINING ... after o...`, holds what a client sent,
    # bytes that are no UTF-8 (0xa2 among them): a syslog line all the same.
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


# -- FgForrest/Postfix-Deliverability-Analytics (LGPL-2.1-or-later): the year before the month ----

FG = REAL / "fgforrest-pda" / "backup-single-client.log.1"


def test_a_stamp_with_its_year_first_is_a_syslog_stamp(cli):
    # 44 lines (grep -c ''), every one but line 29 (empty) `2013 Jun DD HH:MM:SS.123 gds39d
    # postfix/<daemon>[pid]: <queue ID>: ...`, the shape of the rsyslog template the project's
    # README has mail.log written with (`%timegenerated:1:4:date-rfc3339%
    # %timegenerated:1:6:date-rfc3164-buggyday% %timegenerated:12:23:date-rfc3339% ...`). No
    # line has a SASL field: every queue ID is of mail nobody logged in for (43 lines).
    # Before: `not a syslog file: none of its 44 lines has a timestamp, host and program`, exit 2.
    result = cli("--tz", "UTC", FG)
    assert result.code == 0, result.err
    assert result.out.startswith("2013-06-10 15:34:07 .. 2013-06-18 20:05:07 (UTC); 44 lines")
    counts = stats(cli, FG, year=2013)
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"],
            counts["untracked queue IDs"], counts["lines used"]) == (44, 1, 0, 43, 0)


def _fg_with_logins(tmp_path):
    """FG with a login on each of its three client= lines (1, 6 and 12: smtpd[7052],
    smtpd[10275] and smtpd[14765], all gds39k.active24.cz[81.95.110.19]), the SASL fields
    Postfix writes for one after the client: the stamps are the file's, byte for byte."""
    lines = FG.read_text().splitlines(keepends=True)
    for number in (0, 5, 11):
        assert lines[number].endswith(": client=gds39k.active24.cz[81.95.110.19]\n")
        lines[number] = lines[number][:-1] + ", sasl_method=PLAIN, sasl_username=pda-client\n"
    path = tmp_path / "mail.log"
    path.write_text("".join(lines))
    return path


def test_logins_behind_year_first_stamps(cli, tmp_path):
    path = _fg_with_logins(tmp_path)
    [user] = rows(cli, "users", path, year=2013)
    # first_seen: line 12 (Jun 10 15:34:07.123, the earliest); last_seen: line 1 (Jun 16
    # 16:05:06.123: each session is its client= line alone). The fraction is the stamp's.
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["hosts"],
            user["first_seen"], user["last_seen"]) == (
        "pda-client", 3, 3, 1, ["gds39d"], "2013-06-10T15:34:07.123000+00:00",
        "2013-06-16T16:05:06.123000+00:00")
    # 3bZLDk1V50z37Dv sent (line 4), 3bYk6B34Hkz37Dv bounced (line 9, 5.4.4), 3bYscs22wBz37Dv
    # deferred six times (lines 15-25) and `status=expired, returned to sender` (line 26).
    assert outcomes(user) == counted(3, sent=1, bounced=1, expired=1)
    messages = {row["queue_id"]: (row["recipient"], row["status"], row["dsn"], row["attempts"],
                                  row["last_attempt"])
                for row in rows(cli, "messages", path, year=2013)}
    assert messages == {
        "3bZLDk1V50z37Dv": ("liska@fg.cz", "sent", "2.0.0", 1, "2013-06-16T16:05:07.123000+00:00"),
        "3bYk6B34Hkz37Dv": ("test@nonexistingserver.cz", "bounced", "5.4.4", 1,
                            "2013-06-16T14:49:42.123000+00:00"),
        "3bYscs22wBz37Dv": ("azv-test@example.com", "expired", "4.4.3", 6,
                            "2013-06-10T18:38:52.123000+00:00")}


def test_year_first_stamps_are_local_time_of_tz(cli, tmp_path):
    # No offset in the stamp: read in --tz as a traditional stamp is (CEST in June).
    path = _fg_with_logins(tmp_path)
    result = cli("-r", "users", "-f", "json", "--tz", "Europe/Prague", path)
    assert result.code == 0, result.err
    [user] = result.json()
    assert user["first_seen"] == "2013-06-10T15:34:07.123000+02:00"


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_year_first_every_report_with_one_and_two_jobs(cli, monkeypatch, tmp_path, name):
    path = _fg_with_logins(tmp_path)
    for fmt in ("json", "csv", "table"):
        args = ["-r", name, "-f", fmt, "--tz", "UTC", "--stats", path]
        alone = cli(*args)
        assert (alone.code, "Traceback" in alone.err) == (0, False), alone.err
        with monkeypatch.context() as patch:
            chunks_of(300, patch)
            two = cli(*args, "--jobs", "2")
        assert (two.code, two.out, two.err) == (alone.code, alone.out, alone.err), fmt


@pytest.mark.parametrize("line, stamp", [
    ("2013 Jun 16 16:05:06.123 gds39d postfix/smtpd[7052]: x", "2013 Jun 16 16:05:06.123"),
    ("2013 Jun  6 16:05:06 gds39d postfix/smtpd[7052]: x", "2013 Jun  6 16:05:06"),
    ("2013 Jun 06 16:05:06.123456 gds39d postfix/smtpd[7052]: x", "2013 Jun 06 16:05:06.123456"),
    # A two-digit PRI puts a space where a traditional stamp ends: it was read as one.
    ("<22>2013 Jun 16 16:05:06.123 gds39d postfix/smtpd[7052]: x", "2013 Jun 16 16:05:06.123"),
])
def test_split_line_reads_the_year_first(line, stamp):
    assert split_line(line) == (stamp, "gds39d", "postfix/smtpd[7052]:", "x")


def test_a_pri_before_a_year_first_stamp_and_a_host_with_a_dot():
    # `<22>` (mail.info) puts a space where a traditional stamp ends, and `mail.lan` looked
    # like BusyBox's facility.priority word: the line was cut at the wrong places.
    line = "<22>2013 Jun 16 16:05:06 mail.lan postfix/smtpd[1]: x"
    assert split_line(line) == ("2013 Jun 16 16:05:06", "mail.lan", "postfix/smtpd[1]:", "x")


@pytest.mark.parametrize("line", [
    "<13>1 2 3 4 web | Jun 16 12:00:00 h postfix/smtpd[1]: x",
    "<a>x| Jun 16 12:00:00 h postfix/smtpd[1]: x",  # no PRI: `<` and no digits
    "< 22>svc_1  | Jun 16 12:00:00 h postfix/smtpd[1]: x",
])
def test_a_pri_whose_rest_is_no_line_leaves_the_other_forms_to_try(line):
    # A `<PRI>` is read where a line starts with `<`; a line it does not start is read as the
    # other forms read it (here behind a `docker compose logs` prefix).
    assert split_line(line) == ("Jun 16 12:00:00", "h", "postfix/smtpd[1]:", "x")


@pytest.mark.parametrize("stamp", [
    "2013 Jun 31 16:05:06",  # no such day
    "2013 Jux 16 16:05:06",  # no such month
    "2013 Jun 16 16:05:06.12x",  # a fraction that is no number
    "2013 Jun 16 16:05:06.1234567",  # finer than a microsecond
    "2013 Jun 16 16:05:06,123",  # something else after the seconds
    "0013 Jun 16 16:05:06",  # a year no mail log has
    "2013 Jun 16 16:05:06.",  # a point and no fraction
    "2013 Jun 16 16:05:06.\u0661\u0662",  # digits, but not ASCII ones
    "2013 Jun 16 16:05:0\uff16",
    "2013 Jun 16 16-05-06",  # not the separators of a time
    "2013 Jun 16 16:05:6",  # a field of one digit (int() reads it)
    "2013 Jun 16 +6:05:06",  # a sign
    "2013 Jun +6 16:05:06",
])
def test_a_year_first_stamp_that_names_no_time_is_none(stamp):
    assert Clock(tz=dt.timezone.utc).time(stamp) is None


def test_a_year_first_stamp_keeps_its_year_whatever_year_says():
    clock = Clock(year=2020, tz=dt.timezone.utc)
    assert clock.time("2013 Jun  6 16:05:06.5") == dt.datetime(2013, 6, 6, 16, 5, 6, 500000,
                                                              tzinfo=dt.timezone.utc)


def _year_first_copy(tmp_path):
    """The pixelpark day with each `2023-03-14T00:00:31.185246+01:00` written `2023 Mar 14
    00:00:31.185246`: the same instants once read in +01:00."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
    lines = []
    for line in lzma.decompress(PIXELPARK.read_bytes()).splitlines(keepends=True):
        stamp, rest = line.split(b" ", 1)
        assert stamp.endswith(b"+01:00"), stamp
        day, seconds = stamp[:-6].decode().split("T")
        year, month, date = day.split("-")
        lines.append(f"{year} {months[int(month) - 1]} {int(date):2d} {seconds} ".encode()
                     + rest)
    path = tmp_path / "year-first.log"
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("name", ["users", "sessions", "messages", "failures"])
def test_the_day_with_year_first_stamps_is_the_same_day(cli, tmp_path, name):
    """Every line of the day in the other shape, the instants unchanged: the same bytes, rows,
    times and --stats alike (the files' names apart)."""
    options = ["-r", name, "-f", "json", "--tz", "+01:00", "--stats"]
    if name == "sessions":
        options.append("--all")
    plain = tmp_path / "mail-2023-03-14.log"
    plain.write_bytes(lzma.decompress(PIXELPARK.read_bytes()))
    iso = cli(*options, plain)
    year_first = cli(*options, _year_first_copy(tmp_path))
    assert (year_first.code, year_first.out) == (iso.code, iso.out)
    assert (year_first.err.replace(str(tmp_path / "year-first.log"), "LOG")
            == iso.err.replace(str(plain), "LOG"))
