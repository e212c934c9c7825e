"""Real logs as two syslog daemons write them that are not quite the usual syslog line: without a
host, and with Solaris' message ID after the tag.

Without a host. musl's syslog() (Alpine Linux, and so the Postfix containers built on it) sends
`<PRI>%b %e %T ident[pid]: message` (musl src/misc/syslog.c: `"<%d>%s %n%s%s%.0d%s: "` after
strftime's `%b %e %T`), and a receiver that adds nothing, s6-socklog in an s6-overlay
container, writes it so: `Aug 26 11:19:05 postfix/postfix-script[25430]: refreshing the
Postfix mail system` (skarnet/s6 issue #32), `Feb  8 15:07:58 postfix/smtpd[2522254]: connect
from unknown[59.60.121.38]` (a README of silence-is-best/bruteforce_defense; neither under a
licence: not copied here). So do syslog templates without %HOSTNAME%. The tool took the tag
for the host: a line whose text starts with a queue ID (`4AB12: client=...`) was cut with
the program `4AB12:`, every other line was not syslog, and a log of them was `not a syslog
file` (exit status 2).

Solaris' and illumos' syslog() (libc port/gen/syslog.c) writes a message ID, the facility and
the level after the tag: `postfix/smtpd[14020]: [ID 197553 mail.info] connect from
unknown[46.182.137.63]` (an OpenIndiana package's spec, quoted in a copy of spec-files-extra
with no licence named: not copied here). Every Postfix line's text started with `[ID `, which
no event matched: a Solaris server's logins were none.

The tests below write real logs of tests/reallogs/ in both forms (lightmeter-sample: logins on
submission, deliveries, postscreen, amavis, dovecot; maillogsentinel: 139 failed AUTH) and
compare every report and --stats with the copy Postfix's lines make with a host
(`localhost`, what the tool names a line without one) or without the message ID.
"""

import gzip
import re

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, REPORT_NAMES

from maillog_sasl.sources import HOSTLESS, MSGID, PLAIN, Unwrapper, wrapper_of

LIGHTMETER = REAL / "lightmeter-sample" / "mail.log"  # traditional stamps, host `mail`
SENTINEL = REAL / "maillogsentinel" / "sample_sasl.log"
YEAR = 2021
# A traditional stamp, its host, and the tag after it.
_PREFIX = re.compile(r"^([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) (\S+) (\S+:) ", re.M)


def _hosted(text, host):
    return _PREFIX.sub(lambda match: f"{match[1]} {host} {match[3]} ", text)


def _without_host(text, before=""):
    return _PREFIX.sub(lambda match: f"{before}{match[1]} {match[3]} ", text)


def _rfc3339(text, host=None):
    """Each traditional stamp written as RFC 3339 in UTC (the month and day as they are), with
    `host` or none (a template of `%TIMESTAMP:::date-rfc3339% %syslogtag%%msg%`)."""
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

    def stamp(match):
        month, day, time = match[1][:3], int(match[1][4:6]), match[1][7:]
        written = f"{YEAR}-{months.index(month) + 1:02d}-{day:02d}T{time}+00:00"
        return f"{written} {match[3]} " if host is None else f"{written} {host} {match[3]} "
    return _PREFIX.sub(stamp, text)


def _with_msgid(text):
    """Each line's text behind `[ID n facility.level] `, as Solaris' syslog() writes it (the
    message ID a hash of the format: any number)."""
    return _PREFIX.sub(lambda match: f"{match[1]} {match[2]} {match[3]} [ID "
                       f"{len(match[3]) * 7919} mail.info] ", text)


def _outputs(cli, path, *options):
    """Every report as JSON, and --stats, of `path`."""
    found = []
    for name in REPORT_NAMES:
        result = cli("-r", name, "-f", "json", "--tz", "UTC", "--year", YEAR, *options, path)
        assert (result.code, "Traceback" in result.err) == (0, False), result.err
        found.append(result.out.replace(str(path), "LOG"))
    result = cli("--stats", "--tz", "UTC", "--year", YEAR, *options, path)
    assert result.code == 0, result.err
    found.append(result.err.replace(str(path), "LOG"))
    return found


def _write(path, text):
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", [LIGHTMETER, SENTINEL], ids=["lightmeter", "sentinel"])
@pytest.mark.parametrize("form", ["plain", "pri", "rfc3339", "gz"])
def test_lines_without_a_host_read_as_lines_of_localhost(cli, tmp_path, source, form):
    text = source.read_text(encoding="utf-8")
    if form == "rfc3339":
        made, expected = _rfc3339(text), _rfc3339(text, "localhost")
    else:
        made = _without_host(text, "<22>" if form == "pri" else "")
        expected = _hosted(text, "localhost")
    name = "mail.log.gz" if form == "gz" else "mail.log"
    hostless = _write(tmp_path / f"hostless-{name}", made)
    hosted = _write(tmp_path / f"hosted-{name}", expected)
    assert _outputs(cli, hostless) == _outputs(cli, hosted)


def test_a_log_without_hosts_gives_its_logins(cli, tmp_path):
    # grep -c 'sasl_username=' on lightmeter-sample/mail.log: 13 lines, 13 sessions of
    # `user@example.com`-like accounts; the users report of the copy without hosts names them,
    # on host `localhost`, and no line is not syslog.
    hostless = _write(tmp_path / "mail.log", _without_host(LIGHTMETER.read_text("utf-8")))
    original = cli("-r", "users", "-f", "json", "--tz", "UTC", "--year", YEAR, LIGHTMETER).json()
    result = cli("-r", "users", "-f", "json", "--tz", "UTC", "--year", YEAR, "--stats", hostless)
    assert result.code == 0, result.err
    assert re.search(r"not syslog lines:\s+0$", result.err, re.M)
    users = result.json()
    assert sum(row["sessions"] for row in users) == sum(row["sessions"] for row in original) > 0
    assert {host for row in users for host in row["hosts"]} == {"localhost"}
    assert ([{**row, "hosts": ["mail"]} for row in users] == original)


@pytest.mark.parametrize("first", [
    "Jan 28 06:49:57 dovecot: master: Dovecot v2.3.20 starting up (core dumps disabled)\n",
    "Jan 28 06:49:57 syslogd: restart\n"])
def test_another_programs_line_first_tells_no_other_form(cli, tmp_path, first):
    # Dovecot logs without a pid, and a syslog daemon its own lines: a log without hosts that
    # starts with one was read as if it had them (no login at all).
    text = LIGHTMETER.read_text(encoding="utf-8")
    hostless = _write(tmp_path / "mail.log", first + _without_host(text))
    hosted = _write(tmp_path / "hosted.log",
                    first.replace("06:49:57 ", "06:49:57 localhost ") + _hosted(text, "localhost"))
    assert _outputs(cli, hostless) == _outputs(cli, hosted)
    solaris = _write(tmp_path / "solaris.log",
                     first.replace("06:49:57 ", "06:49:57 mail ") + _with_msgid(text))
    hosted = _write(tmp_path / "plain.log", first.replace("06:49:57 ", "06:49:57 mail ") + text)
    assert _outputs(cli, solaris) == _outputs(cli, hosted)


def test_two_jobs_read_a_log_without_hosts_as_one(cli, monkeypatch, tmp_path):
    # Such a log is read in one process: its lines become others before they are cut.
    hostless = _write(tmp_path / "mail.log", _without_host(LIGHTMETER.read_text("utf-8")))
    one = _outputs(cli, hostless)
    chunks_of(hostless.stat().st_size // 5, monkeypatch)
    assert _outputs(cli, hostless, "--jobs", 2) == one


@pytest.mark.parametrize("source", [LIGHTMETER, SENTINEL], ids=["lightmeter", "sentinel"])
@pytest.mark.parametrize("name", ["mail.log", "mail.log.gz"])
def test_solaris_message_ids_are_read_past(cli, tmp_path, source, name):
    text = source.read_text(encoding="utf-8")
    solaris = _write(tmp_path / name, _with_msgid(text))
    assert _outputs(cli, solaris) == _outputs(cli, source)


def test_a_message_id_further_on_in_a_line_is_the_clients_text(cli, tmp_path):
    # A failed AUTH whose username holds the line's own message ID: only the one right after
    # the tag is syslog's; the username is the client's, kept whole.
    text = _with_msgid(SENTINEL.read_text(encoding="utf-8"))
    line = next(line for line in text.splitlines() if "sasl_username=" in line)
    name = re.search(r"sasl_username=(\S+)", line)[1]
    tried = "a: " + re.search(r"\[ID [0-9]+ mail\.info\] ", line)[0] + "b"
    path = _write(tmp_path / "mail.log",
                  text + line.replace(f"sasl_username={name}", f"sasl_username={tried}") + "\n")
    rows = cli("-r", "failures", "--by", "user", "-f", "json", "--tz", "UTC", "--year", YEAR,
               path).json()
    assert tried.lower() in {row["user"] for row in rows}  # (the account it names: lower case)


@pytest.mark.parametrize("lines, kind", [
    (["Feb  8 15:07:58 postfix/smtpd[2522254]: connect from unknown[59.60.121.38]"], HOSTLESS),
    # the text's first word taken for the tag, the tag for the host
    (["Feb  8 15:08:01 postfix/qmgr[7]: 4AB12: from=<a@example.com>, size=1, nrcpt=1"],
     HOSTLESS),
    (["<22>Feb  8 15:07:58 postfix/smtpd[7]: connect from x[192.0.2.1]"], HOSTLESS),
    (["2024-02-08T15:07:58+00:00 postfix/smtpd[7]: warning: x[192.0.2.1]: SASL LOGIN"
      " authentication failed: UGFzc3dvcmQ6"], HOSTLESS),
    (["Feb  8 15:07:58 mail postfix/smtpd[7]: connect from x[192.0.2.1]"], PLAIN),
    # a host that is an IPv6 address ends in no `]:`
    (["Feb  8 15:07:58 2001:db8::1 postfix/smtpd[7]: 4AB12: client=x[192.0.2.1]"], PLAIN),
    (["Oct  5 23:45:10 mailrouter postfix/smtpd[14020]: [ID 197553 mail.info] connect from"
      " unknown[46.182.137.63]"], MSGID),
    # the first Postfix line decides: garbage before it tells nothing, nor another program's
    # line (Solaris' syslogd logs its own without a message ID; a program without a pid)
    (["garbage", "Oct  5 23:45:11 m postfix/master[657]: [ID 947731 mail.warning] warning: x"],
     MSGID),
    (["Oct  5 23:45:09 m syslogd: going down on signal 15",
      "Oct  5 23:45:10 m postfix/smtpd[14020]: [ID 197553 mail.info] connect from x[192.0.2.1]"],
     MSGID),
    # Solaris' syslog() writes a message ID for every program: Dovecot's line tells too
    (["Mar  3 09:00:00 mail dovecot: [ID 583609 mail.info] imap-login: Login: user=<u>"],
     MSGID),
    (["Jan 28 06:49:58 dovecot: master: Dovecot v2.3.20 starting up"], HOSTLESS),
    (["Jan 28 06:49:58 mail dovecot: master: Dovecot v2.3.20 starting up"], PLAIN),
    (["Jan 28 06:49:58 2001:db8:: dovecot: master: Dovecot v2.3.20 starting up"], PLAIN),
    (["garbage"], None),
])
def test_the_first_postfix_line_tells_the_form(lines, kind):
    assert wrapper_of(lines) == kind


def test_a_line_of_another_form_in_such_a_log_is_left_as_it_is():
    # A line that has a host, in a log without (a template changed): as it was; so too a line
    # without a message ID in a Solaris log, and one that is no syslog line.
    hosted = "Feb  8 15:07:59 mail postfix/smtpd[7]: connect from x[192.0.2.1]"
    assert Unwrapper(HOSTLESS).lines([hosted, "garbage", ""]) == [hosted, "garbage", ""]
    plain = "Oct  5 23:45:10 m postfix/smtpd[7]: connect from x[192.0.2.1]"
    assert Unwrapper(MSGID).lines([plain, "garbage"]) == [plain, "garbage"]
    assert Unwrapper(MSGID).lines([plain.replace("]: ", "]: [ID 1 mail.info] ", 1)]) == [plain]


def watched_logins(cli, tmp_path, text):
    """The logins of each account in the state `watch --once` leaves of the log `text`."""
    path = _write(tmp_path / "mail.log", text)
    state = tmp_path / "state"
    result = cli("watch", "--once", "--state", state, "--year", YEAR, "--tz", "UTC",
                 "--no-geoip", path)
    assert result.code == 0, result.err
    shown = cli("state", "--state", state, "--format", "json")
    return [account["logins"] for account in shown.json()["accounts"]]


@pytest.mark.parametrize("made", [_without_host, _with_msgid], ids=["no host", "msgid"])
def test_watch_reads_both_forms(cli, tmp_path, made):
    # grep -c 'sasl_username=' lightmeter-sample/mail.log: 13 logins, all of one account.
    assert watched_logins(cli, tmp_path, made(LIGHTMETER.read_text(encoding="utf-8"))) == [13]
