"""Real logs as FreeBSD's syslogd writes them when told -v or -vv: the message's facility and
priority between the stamp and the host; and as grep writes the lines it found in more than one
file: each behind the file's name.

FreeBSD's syslogd (usr.sbin/syslogd/syslogd.c, fprintlog()) writes, with -v, `<%s.%s> ` of the
facility and priority by number, with -vv by name (syslog.h's facilitynames and prioritynames,
the first name of each: `warn` before `warning`), after the stamp and its space and before the
host: `Jan 21 19:06:28 <mail.info> xyz dovecot: imap-login: Login: user=<user3>, ...`
(tests/reallogs/punnsilm-freebsd, MIT: a FreeBSD mail host's Dovecot lines, and another's
httpd, su and sshd lines with `<local1.warn>`, `<auth.warn>`, `<auth.notice>`, `<auth.info>`;
tests/reallogs/fail2ban's bsd-syslog-v.log and -vv.log, GPL-2.0-or-later: a third's sshd lines
with `<4.3>`, `<4.6>` and `<auth.info>`, which fail2ban's filters read past).
A Postfix server so logging writes `<mail.info>` before the host of its every line,
`<mail.warn>` before its warnings (the SASL failures among them), and its repeat line
`<mail.warn> HOST last message repeated N times` with the priority of the line it repeats. The
tool read no such line: each was not syslog, a log of them `not a syslog file` (exit status 2),
a FreeBSD server's logins and failed AUTH none.

grep given more than one file (or -H) writes each line it found behind the file's name and a
colon, and with -n behind the line's number and a colon too. A Postfix admin's usual search of a
rotated log is such a grep: NethServer's administrator manual (NethServer/docs, email.rst; no
licence named, not copied here) tells its readers to follow a message by `grep -F
'A785B308622AB' /var/log/maillog*`, which "Yields" `/var/log/maillog:May 15 02:05:02 mail
postfix/smtpd[25846]: A785B308622AB: client=my.example.com[10.154.200.17]` and the message's
other lines so. Every such line was not syslog, a file of them `not a syslog file`: the message
and the login that sent it were lost. They are read as the lines behind the prefix now, in the
order grep wrote them (file by file, in the order named: a glob's newest file first).

The tests below read punnsilm's and fail2ban's lines, and write real logs of tests/reallogs
(lightmeter-sample: logins on submission, deliveries, postscreen, amavis, dovecot;
maillogsentinel: 139 failed AUTH) in these forms and compare every report and --stats with the
log Postfix's lines make without them. As in test_reallogs.py, every expected number was counted
from the lines themselves (grep, wc), never taken from the tool's output.
"""

import re

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, failures, rows, stats
from test_reallogs13 import LIGHTMETER, SENTINEL, YEAR, _outputs, _write, watched_logins

from maillog_sasl.sources import PLAIN, PREFIXED, wrapper_of
from maillog_sasl.syslog import last_repeat, split_line

PUNNSILM = REAL / "punnsilm-freebsd"
# A traditional stamp, and the rest of the line after its space.
_STAMP = re.compile(r"^([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) (\S+ \S+ )(.*)$", re.M)
# (facility, priority) of Postfix's lines (syslog_facility's default), as -vv and -v write them:
# msg_info() logs at LOG_INFO, msg_warn() at LOG_WARNING.
BY_NAME = ("mail", {"info": "info", "warning": "warn"})
BY_NUMBER = ("2", {"info": "6", "warning": "4"})


def _freebsd(text, names=BY_NAME):
    """Each line of `text` with the facility and priority FreeBSD's syslogd -v (BY_NUMBER) or
    -vv (BY_NAME) writes before its host: a warning's (`warning:` after the tag) or info's."""
    facility, priorities = names

    def with_word(match):
        level = "warning" if match[3].startswith("warning: ") else "info"
        return f"{match[1]} <{facility}.{priorities[level]}> {match[2]}{match[3]}"
    return _STAMP.sub(with_word, text)


def test_punnsilms_lines_read_with_their_hosts_and_programs(cli):
    # wc -l: 6 Dovecot lines of host xyz, 4 lines of httpd (a host named by its address), su
    # and sshd: every one another program's, none not syslog.
    dovecot, syslogd = PUNNSILM / "freebsd_dovecot_imap.log", PUNNSILM / "freebsd_syslogd.log"
    lines = [line for path in (dovecot, syslogd)
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert [split_line(line)[1:3] for line in lines] == (
        [("xyz", "dovecot:")] * 6
        + [("10.7.0.12", "httpd:"), ("foo", "su:"), ("foo", "su:"), ("foo", "sshd[76003]:")])
    assert split_line(lines[0]) == ("Jan 21 19:06:28", "xyz", "dovecot:", "imap-login: Login: "
                                    "user=<user3>, method=PLAIN, rip=10.1.2.3, lip=10.2.3.3, "
                                    "mpid=51689, TLS, session=<tyio4fp/vgBVHf60>")
    counted = stats(cli, dovecot, syslogd, year=2019)
    assert (counted["lines read"], counted["not syslog lines"], counted["other programs"]) == (
        10, 0, 10)


def test_fail2bans_bsd_lines_read_with_their_hosts_and_programs(cli):
    # wc -l: 10 lines of -v (`<4.3>`, `<4.6>`: auth.err and auth.info) and 5 of -vv, every one
    # of sshd on host pancake.
    paths = [REAL / "fail2ban" / "bsd-syslog-v.log", REAL / "fail2ban" / "bsd-syslog-vv.log"]
    lines = [line for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
    assert {(host, tag[:5]) for _, host, tag, _ in map(split_line, lines)} == {
        ("pancake", "sshd[")}
    assert split_line(lines[0]) == ("Apr  2 17:51:27", "pancake", "sshd[55624]:", "error: PAM: "
                                    "authentication error for nick from example.com")
    counted = stats(cli, *paths, year=2013)
    assert (counted["lines read"], counted["not syslog lines"], counted["other programs"]) == (
        15, 0, 15)


@pytest.mark.parametrize("source", [LIGHTMETER, SENTINEL], ids=["lightmeter", "sentinel"])
@pytest.mark.parametrize("names", [BY_NAME, BY_NUMBER], ids=["-vv", "-v"])
@pytest.mark.parametrize("name", ["mail.log", "mail.log.gz"])
def test_facility_and_priority_before_the_host_are_read_past(cli, tmp_path, source, names,
                                                              name):
    text = source.read_text(encoding="utf-8")
    written = _freebsd(text, names)
    assert written.count(f"<{names[0]}.") == len(text.splitlines())
    freebsd = _write(tmp_path / name, written)
    assert _outputs(cli, freebsd) == _outputs(cli, source)


def test_a_freebsd_servers_logins_and_failures(cli, tmp_path):
    # grep -c 'auth=1' lightmeter-sample/mail.log: 24 sessions logged in; grep -c
    # 'sasl_username=': 13 of them sent a message, all of one account (the other 11 name no
    # user: Postfix logs the username with a message's client= line only). grep -c
    # 'authentication failed' maillogsentinel/sample_sasl.log: 139 failed AUTH.
    freebsd = _write(tmp_path / "mail.log", _freebsd(LIGHTMETER.read_text(encoding="utf-8")))
    result = cli("-r", "users", "-f", "json", "--tz", "UTC", "--year", YEAR, freebsd)
    assert result.code == 0, result.err
    assert [(row["user"], row["sessions"]) for row in result.json()] == [
        ("h-aaf4c@h-ffeb17e38996c.com", 13), ("(unknown user)", 11)]
    failed = _write(tmp_path / "sasl.log", _freebsd(SENTINEL.read_text(encoding="utf-8")))
    assert sum(attempts for attempts, *_ in failures(cli, failed, year=YEAR).values()) == 139


def test_two_jobs_read_such_a_log_as_one(cli, monkeypatch, tmp_path):
    freebsd = _write(tmp_path / "mail.log", _freebsd(LIGHTMETER.read_text(encoding="utf-8")))
    one = _outputs(cli, freebsd)
    chunks_of(freebsd.stat().st_size // 5, monkeypatch)
    assert _outputs(cli, freebsd, "--jobs", 2) == one


def test_watch_reads_such_a_log(cli, tmp_path):
    # 13 logins of one account, as test_reallogs13's forms.
    assert watched_logins(cli, tmp_path, _freebsd(LIGHTMETER.read_text(encoding="utf-8"))) == [13]


def test_the_repeat_line_of_a_failure_counts_each(cli, tmp_path):
    # FreeBSD's syslogd writes a message a process logs again at once only the first time, then
    # `STAMP <mail.warn> HOST last message repeated N times` (the repeated line's priority).
    # The first failure of maillogsentinel's log and a repeat line of 3: four failures.
    line = next(line for line in SENTINEL.read_text(encoding="utf-8").splitlines()
                if "authentication failed" in line)
    client = re.search(r"\[([0-9a-f.:]+)\]: SASL", line)[1]
    failure = _freebsd(line)
    stamp, host, tag, text = split_line(failure)
    repeat = f"{stamp} <mail.warn> {host} last message repeated 3 times"
    assert last_repeat(repeat, failure) == (3, f"{stamp} {host} {tag} {text}")
    path = _write(tmp_path / "mail.log", f"{failure}\n{repeat}\n")
    assert failures(cli, path, year=YEAR)[client][0] == 4


@pytest.mark.parametrize("line", [
    # no facility and priority, or a word of another shape where they go
    "Jan 21 19:06:28 <mail> xyz postfix/smtpd[7]: connect from x[192.0.2.1]",
    "Jan 21 19:06:28 <mail.info>x xyz postfix/smtpd[7]: connect from x[192.0.2.1]",
    "Jan 21 19:06:28 <Mail.Info> xyz postfix/smtpd[7]: connect from x[192.0.2.1]",
    # a tag without its colon after them
    "Jan 21 19:06:28 <mail.info> xyz postfix/smtpd[7] connect from x[192.0.2.1]",
])
def test_other_words_before_the_host_are_no_such_line(line):
    assert split_line(line) is None


# -- grep's file names and line numbers ----------------------------------------------------------

def _grepped(text, name="", numbered=False, first=1):
    """Each line of `text` as grep writes it: behind `name` and a colon (-H, or more than one
    file), and behind its number (from `first`) and a colon with -n (`numbered`)."""
    return "".join(f"{name}{':' if name else ''}{f'{number}:' if numbered else ''}{line}\n"
                   for number, line in enumerate(text.splitlines(), first))


@pytest.mark.parametrize("source", [LIGHTMETER, SENTINEL], ids=["lightmeter", "sentinel"])
@pytest.mark.parametrize("name, numbered", [
    ("/var/log/maillog", False),  # grep PATTERN /var/log/maillog*
    ("/var/log/mail.log.2.gz", False),  # zgrep
    ("mail.log", True),  # grep -n PATTERN mail.log*
    ("", True),  # grep -n PATTERN mail.log
])
def test_grep_output_is_read_as_the_lines_it_found(cli, tmp_path, source, name, numbered):
    text = source.read_text(encoding="utf-8")
    grepped = _write(tmp_path / "found.txt", _grepped(text, name, numbered))
    assert wrapper_of(grepped.read_text(encoding="utf-8").splitlines()[:50]) == PREFIXED
    assert _outputs(cli, grepped) == _outputs(cli, source)


def test_a_grep_of_a_rotated_log_gives_its_logins_and_messages(cli, tmp_path):
    # grep PATTERN mail.log.1 mail.log: mail.log.1's lines (27 January), then mail.log's (28
    # January). The same rows as the two files read as files (grep -c 'sasl_username=': 9 and
    # 13 logins, of two accounts).
    newer, older = LIGHTMETER, LIGHTMETER.with_name("mail.log.1")
    grepped = _write(tmp_path / "found.txt", _grepped(older.read_text("utf-8"), "mail.log.1")
                     + _grepped(newer.read_text("utf-8"), "mail.log"))
    for name in ("users", "sessions", "messages", "failures"):
        assert rows(cli, name, grepped, year=YEAR) == rows(cli, name, older, newer, year=YEAR)
    assert sum(row["messages"] for row in rows(cli, "users", grepped, year=YEAR)) == 22


# A message deferred in maillog.1 and sent in maillog (a day later).
DEFERRED_THEN_SENT = ("""Mar  1 10:00:01 mx postfix/submission/smtpd[1]: 4FD2A0001: client=c[192.0.2.1], sasl_method=PLAIN, sasl_username=ana@x.org
Mar  1 10:00:02 mx postfix/qmgr[9]: 4FD2A0001: from=<ana@x.org>, size=10, nrcpt=1 (queue active)
Mar  1 10:00:03 mx postfix/smtp[7]: 4FD2A0001: to=<b@y.org>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect timed out)
""", """Mar  2 10:00:03 mx postfix/smtp[7]: 4FD2A0001: to=<b@y.org>, relay=r[192.0.2.9]:25, delay=86401, delays=0/86400/0/1, dsn=2.0.0, status=sent (250 ok)
Mar  2 10:00:04 mx postfix/qmgr[9]: 4FD2A0001: removed
""")


@pytest.mark.parametrize("newer, older", [
    ("/var/log/maillog", "/var/log/maillog.1"),  # grep -F QID /var/log/maillog*
    ("mail.log.1", "mail.log.2.gz"),  # zgrep
    ("maillog-20240302", "maillog-20240301.gz"),  # logrotate's dateext
])
def test_grep_s_newest_file_first_is_told(cli, tmp_path, newer, older):
    # Before (this round's reading of grep's lines): the message was read from its delivery
    # in `newer`, untracked, then its client= in `older`: deferred still, exit 0, no word.
    # Now the same rows (the order cannot be undone in a stream), and the reason, exit 2.
    early, late = DEFERRED_THEN_SENT
    grepped = _write(tmp_path / "found.txt", _grepped(late, newer) + _grepped(early, older))
    result = cli("-r", "messages", "-f", "csv", "--tz", "UTC", "--year", "2024", grepped)
    assert result.code == 2
    assert result.err == (f"maillog-sasl: {grepped}: grep's lines of {older} come after those "
                          f"of {newer}, the newer file: a message logged in both is read out of "
                          "order; grep the files oldest first (ls -rt), or give them to "
                          "maillog-sasl\n")
    in_order = _write(tmp_path / "in-order.txt", _grepped(early, older) + _grepped(late, newer))
    assert [row["status"] for row in rows(cli, "messages", in_order, year=2024)] == ["sent"]


def test_grep_s_lines_of_two_logs_in_any_order_are_not_told(cli, tmp_path):
    early, late = DEFERRED_THEN_SENT
    grepped = _write(tmp_path / "found.txt", _grepped(late, "maillog") + _grepped(
        early.replace("4FD2A0001", "4FD2A0002"), "other/maillog.1"))
    # rows() asserts exit 0: maillog and other/maillog.1 are two logs, neither newer.
    assert [(row["queue_id"], row["status"]) for row in rows(cli, "messages", grepped,
                                                             year=2024)] == [
        ("4FD2A0002", "deferred")]


def test_two_jobs_and_watch_read_grep_output(cli, monkeypatch, tmp_path):
    grepped = _write(tmp_path / "found.txt",
                     _grepped(LIGHTMETER.read_text(encoding="utf-8"), "/var/log/maillog"))
    one = _outputs(cli, grepped)
    chunks_of(grepped.stat().st_size // 5, monkeypatch)
    assert _outputs(cli, grepped, "--jobs", 2) == one
    assert watched_logins(cli, tmp_path, grepped.read_text(encoding="utf-8")) == [13]


@pytest.mark.parametrize("lines", [
    # a line that starts with a stamp, of either shape, has no prefix to take
    ["Jan 28 06:49:58 mail postfix/smtpd[17541]: connect from x[192.0.2.1]"],
    ["2021-01-28T06:49:58+00:00 mail postfix/smtpd[17541]: connect from x[192.0.2.1]"],
    # grep's group separator (-A, -B, -C) before a line without a prefix (grep of one file
    # without -n); its context lines are read (test_reallogs25.py)
    ["--", "Jan 28 06:49:59 mail postfix/smtpd[17541]: connect from x[192.0.2.1]"],
])
def test_lines_without_grep_s_prefix_are_read_as_they_are(lines):
    assert wrapper_of(lines) == PLAIN
