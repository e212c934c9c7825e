"""Lines behind what another program put first. Logs of a runit or s6 log service. A container run under s6-overlay (v3: its syslogd
service, s6-socklog into s6-log, /var/log/syslogd/mail/current), or a runit system (Void Linux:
socklog into svlogd), writes each message as socklog gives it: the facility and priority
first (`mail.info: `, s6's lolsyslog.c), then the line the program's libc sent, which names no
host; and the log service puts its own stamp before that if told to (svlogd -tt
`2026-11-29_01:07:42.12345 `, -ttt with a T, s6-log's T `2026-11-29 01:07:42.123456789  `, its
t a TAI64N label). An image that points Postfix's maillog_file at such a service (tozd/postfix:
svlogd -tt) has the stamp before Postfix's own line, host and all. Every such log was `not a
syslog file`, or, behind svlogd's stamp, every Postfix line another program's (`mail.info:`
read as the program): no login. And `kubectl logs --prefix` (the pods of a label selector)
puts `[pod/NAME/CONTAINER] ` before each line: `not a syslog file`. Found by a helper's survey
of container log formats (session 44); the real lines are linagora/cyrus-postfix-docker's
(GPL-2.0, tests/reallogs).
"""

import re

import pytest
from test_reallogs import REAL, rows
from test_reallogs13 import LIGHTMETER, SENTINEL, _hosted, _outputs, _write, watched_logins

from maillog_sasl.sources import PLAIN, PREFIXED, Unwrapper, wrapper_of

LINAGORA = REAL / "linagora-cyrus" / "mail.current"
_LINE = re.compile(r"^([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) (\S+) (\S+:) (warning: )?", re.M)

# What each log service writes before the line (the stamp is its own, never read).
STAMPS = {
    "s6-overlay": "",
    "svlogd -tt": "2021-01-18_12:00:00.12345 ",
    "svlogd -ttt": "2021-01-18T12:00:00.12345 ",
    "s6-log T": "2021-01-18 12:00:00.123456789  ",
    "s6-log t": "@4000000060057a5b075bca00 ",
}


def supervised(text, stamp, keep_host=False):
    """`text` (traditional lines with a host) as a log service writes it: `stamp`, then
    socklog's facility and priority and the line without its host; or, `keep_host`, `stamp`
    before the line as it is (Postfix's maillog_file under svlogd)."""
    def line(found):
        if keep_host:
            return f"{stamp}{found[0]}"
        priority = "warning" if found[4] else "info"
        return f"{stamp}mail.{priority}: {found[1]} {found[3]} {found[4] or ''}"
    return _LINE.sub(line, text)


@pytest.mark.parametrize("source", [LIGHTMETER, SENTINEL], ids=["lightmeter", "sentinel"])
@pytest.mark.parametrize("form", list(STAMPS))
def test_a_log_services_lines_read_as_the_lines_it_holds(cli, tmp_path, source, form):
    text = source.read_text(encoding="utf-8")
    made = _write(tmp_path / "current", supervised(text, STAMPS[form]))
    assert wrapper_of(made.read_text().splitlines()[:50]) == PREFIXED
    expected = _write(tmp_path / "hosted.log", _hosted(text, "localhost"))
    assert _outputs(cli, made) == _outputs(cli, expected)


def test_postfix_s_own_line_behind_svlogd_s_stamp(cli, tmp_path):
    text = LIGHTMETER.read_text(encoding="utf-8")
    made = _write(tmp_path / "current", supervised(text, STAMPS["svlogd -tt"], keep_host=True))
    expected = _write(tmp_path / "mail.log", text)
    assert _outputs(cli, made) == _outputs(cli, expected)


@pytest.mark.parametrize("stamp", ["", "2021-01-18T12:00:00.123456789Z "],
                         ids=["prefix", "prefix and timestamps"])
def test_kubectl_s_prefix(cli, tmp_path, stamp):
    text = LIGHTMETER.read_text(encoding="utf-8")
    made = _write(tmp_path / "pods.log", "".join(
        f"[pod/postfix-{number % 2}/postfix] {stamp}{line}\n"
        for number, line in enumerate(text.splitlines())))
    expected = _write(tmp_path / "mail.log", text)
    assert _outputs(cli, made) == _outputs(cli, expected)


# The review's cases. A socklog log under svlogd whose first line is another program's (no `/`
# in its tag): the file was taken for one of lines without a host, `mail.info:` their program.
# expected: alice's login
FIRST_OTHER = """\
2026-01-02_03:04:04.12345 mail.info: Jan  2 03:04:04 dovecot: master: Dovecot v2.3.21 starting up
2026-01-02_03:04:05.12345 mail.info: Jan  2 03:04:05 postfix/smtpd[100]: connect from a.example[192.0.2.1]
2026-01-02_03:04:06.12345 mail.info: Jan  2 03:04:06 postfix/smtpd[100]: AAAA11111: client=a.example[192.0.2.1], sasl_method=PLAIN, sasl_username=alice
2026-01-02_03:04:07.12345 mail.info: Jan  2 03:04:07 postfix/smtpd[100]: disconnect from a.example[192.0.2.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""
# An ordinary RFC 3339 log whose stamps have a fraction and no offset (read as local time):
# the stamp has svlogd -ttt's shape, and a host of digits or of 15 characters was then read as
# the stamp of the line it was taken to hold. expected: alice's login on host 192.0.2.25
NO_OFFSET = """\
2026-01-02T03:04:05.500000 192.0.2.25 postfix/smtpd[100]: connect from a.example[192.0.2.1]
2026-01-02T03:04:06.100000 192.0.2.25 postfix/smtpd[100]: AAAA11111: client=a.example[192.0.2.1], sasl_method=PLAIN, sasl_username=alice
2026-01-02T03:04:07.100000 192.0.2.25 postfix/smtpd[100]: disconnect from a.example[192.0.2.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""


@pytest.mark.parametrize("text, host", [
    (FIRST_OTHER, "localhost"),
    (FIRST_OTHER.replace("_03:", "T03:"), "localhost"),
    (NO_OFFSET, "192.0.2.25"),
    (NO_OFFSET.replace("192.0.2.25", "mx1.example.org"), "mx1.example.org"),
    ("".join(f"[pod/mx-0/postfix] {line}\n" for line in NO_OFFSET.splitlines()), "192.0.2.25"),
    # A pod's name of a Helm release: a prefix of 81 characters
    ("".join(f"[pod/my-release-docker-mailserver-deployment-6f7c9b8d4c-abcde/docker-mailserver] "
             f"{line}\n" for line in NO_OFFSET.splitlines()), "192.0.2.25"),
    # svlogd's stamp before an RFC 3339 line
    ("".join(f"2026-01-02_03:04:05.12345 {line}\n" for line in NO_OFFSET.splitlines()),
     "192.0.2.25"),
    # 600 lines of another program first: more than the first block read (64 KiB)
    ("2026-01-02_03:04:04.12345 daemon.info: Jan  2 03:04:04 crond[12]: USER root pid 4242 "
     "cmd run-parts /etc/periodic/15min\n" * 600 + FIRST_OTHER, "localhost"),
    # musl's lines without a host behind `docker compose logs`' bar: the container's
    ("".join(f"mail-1  | {line[37:]}\n" for line in FIRST_OTHER.splitlines()),
     "mail-1"),
], ids=["svlogd -tt", "svlogd -ttt", "no offset", "15 characters", "kubectl", "long pod",
        "svlogd and RFC 3339", "other first", "compose"])
def test_the_first_line_of_another_program_and_stamps_of_that_shape(cli, tmp_path, text, host):
    path = _write(tmp_path / "current", text)
    [session] = rows(cli, "sessions", path, year=2026)
    assert (session["host"], session["sasl_username"], session["complete"]) == (
        host, "alice", True)


def test_the_real_lines(cli, tmp_path):
    """linagora's eight lines: one message (no login: its five lines untracked), none not
    syslog."""
    lines = LINAGORA.read_text(encoding="utf-8").splitlines()
    assert wrapper_of(lines) == PREFIXED
    assert Unwrapper(PREFIXED).lines(lines[:1]) == [
        "Jan  7 14:34:55 localhost postfix/smtpd[301]: A7EB0B042F1: client=unknown[172.18.0.1]"]
    hosted = _write(tmp_path / "mail.log", "".join(
        re.sub(r"^mail\.[a-z]+: (.{15}) ", r"\1 localhost ", line) + "\n" for line in lines))
    assert _outputs(cli, LINAGORA) == _outputs(cli, hosted)
    stats = cli("--stats", "--year", "2025", LINAGORA).err
    assert "not syslog lines:       0" in stats and "untracked queue IDs:    5" in stats


@pytest.mark.parametrize("line", [
    "2023-03-14T00:08:33.579644+01:00 mail postfix/smtpd[1]: connect from x[192.0.2.1]",
    "2026-02-08T21:28:47.123456789Z Feb  8 21:28:47 mail postfix/smtpd[1]: connect from x",
    "May 30 22:00:35 gr mail.warn postfix/smtps/smtpd[27561]: warning: x",
    "mail.info: garbage",
])
def test_other_shapes_are_no_log_services(line):
    assert wrapper_of([line]) in (PLAIN, None)


def test_watch_reads_a_log_services_lines(cli, tmp_path):
    # grep -c 'sasl_username=' lightmeter-sample/mail.log: 13 logins, all of one account.
    text = supervised(LIGHTMETER.read_text(encoding="utf-8"), STAMPS["svlogd -tt"])
    assert watched_logins(cli, tmp_path, text) == [13]
