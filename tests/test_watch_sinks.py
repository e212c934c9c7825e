"""--alert-syslog (one line per alert to a fake /dev/log: a unix datagram socket, or a stream
one) and --alert-mail (a fake sendmail on PATH that records its argv and the mail): the
attacker's username can neither forge a syslog field nor inject a mail header."""

import json
import os
import re
import socket
import sys
import textwrap
from email import policy
from email.parser import BytesParser

import pytest

from maillog_sasl import alerts
from maillog_sasl.alerts import MailSink, SyslogSink, mail_message, syslog_line, to_json

from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
EVIL = 'evil" first_seen_ip=6.6.6.6\r\nBcc: victim@example.com\r\n\u202eSubject: x\x00'


def alert(**changes):
    found = {"time": "2026-12-01T10:00:00+00:00", "user": "ann@example.jp",
             "severity": "high", "signals": ["burst"], "reasons": ["burst: 150 recipients"],
             "ips": ["192.0.2.7"], "recipients": 150, "deferred": 3,
             "queue_ids": ["ABCDEF123"], "first_seen_ip": "192.0.2.7", "host": "mail",
             "first_flagged": None, "log_time": "2026-01-05T12:00:00+09:00",
             "new_signals": ["burst"]}
    found.update(changes)
    return found


@pytest.fixture
def dev_log(tmp_path, monkeypatch):
    """A datagram socket standing for /dev/log; returns a function reading what came."""
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    monkeypatch.setattr(alerts, "DEV_LOG", path)

    def received(count):
        return [server.recv(65536).decode() for _ in range(count)]

    yield received
    server.close()


def test_alert_syslog_sends_one_line_per_alert_facility_mail(tmp_path, cli, dev_log):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--alert-syslog",
                 "--alert-log", tmp_path / "alerts", SAMPLE)
    assert result.code == 1 and result.err == ""
    written = [json.loads(line) for line in (tmp_path / "alerts").read_text().splitlines()]
    lines = dev_log(len(written))
    for line, sent in zip(lines, written):
        match = re.fullmatch(r"<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) maillog-sasl\[(\d+)\]: (.*)",
                             line)
        assert match, line
        priority = {"critical": 2, "high": 3, "medium": 4}[sent["severity"]]
        assert int(match.group(1)) == 2 * 8 + priority  # facility mail
        assert int(match.group(3)) == os.getpid()
        assert match.group(4).startswith(f"alert severity={sent['severity']} "
                                         f"signals={','.join(sent['signals'])} "
                                         f"first_seen_ip={sent['first_seen_ip']} ")
        assert match.group(4).endswith(f' user="{sent["user"]}"')
    storm = [line for line in lines if "failure-storm" in line]
    assert len(storm) == 1 and " failing_ips=46.124.27.110," in storm[0]


def test_a_username_cannot_forge_a_syslog_field():
    line = syslog_line(alert(user=EVIL))
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert re.search(r"first_seen_ip=(\S+)", line).group(1) == "192.0.2.7"
    # The README's fail2ban failregex, anchored on the fields before the username.
    failregex = r"alert severity=\S+ signals=\S+ first_seen_ip=(\S+) "
    assert re.search(failregex, line).group(1) == "192.0.2.7"
    head, _, user = line.partition(" user=")
    assert "6.6.6.6" not in head
    assert user == ('"evil\\" first_seen_ip=6.6.6.6\\x0d\\x0aBcc: victim@example.com\\x0d\\x0a'
                    '\\u202eSubject: x\\x00"')
    # Fields from the log other than the user are tokens.
    assert " host=m?x " in syslog_line(alert(host="m x")) + " "


def test_syslog_over_a_stream_socket(tmp_path):
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(5)
    sink = SyslogSink(lambda line: pytest.fail(line), address=path)
    sink.write(alert(), to_json(alert()))
    connection, _ = server.accept()
    connection.settimeout(5)
    data = connection.recv(65536)
    sink.close()
    connection.close()
    server.close()
    assert data.startswith(b"<19>") and data.endswith(b' user="ann@example.jp"\x00')


def test_syslog_that_cannot_be_reached_is_said_and_the_run_goes_on(tmp_path, cli, monkeypatch):
    monkeypatch.setattr(alerts, "DEV_LOG", str(tmp_path / "nothing"))
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--alert-syslog", SAMPLE)
    assert result.code == 1 and len(result.out.splitlines()) == 4
    assert result.err.count("syslog (") == 4 and "cannot send the alert" in result.err


# -- mail --------------------------------------------------------------------------------------

SENDMAIL = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "mails.jsonl"), "a") as out:
        out.write(json.dumps({{"argv": sys.argv[1:],
                              "mail": sys.stdin.buffer.read().decode("utf-8")}}) + "\\n")
    sys.exit(int(os.environ.get("FAKE_SENDMAIL_EXIT", "0")))
    """)


@pytest.fixture
def sendmail(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    program = directory / "sendmail"
    program.write_text(SENDMAIL.format(python=sys.executable))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setattr(alerts, "SENDMAIL_DIRS", ())

    def mails():
        path = directory / "mails.jsonl"
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [(entry["argv"], BytesParser(policy=policy.default).parsebytes(
            entry["mail"].encode())) for entry in found]

    return mails


def test_alert_mail_sends_a_short_mail_through_sendmail(tmp_path, cli, sendmail):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--alert-log",
                 tmp_path / "alerts", "--alert-mail", "admin@example.org", "--alert-mail",
                 "soc@example.org", SAMPLE)
    assert result.code == 1 and result.err == ""
    written = [json.loads(line) for line in (tmp_path / "alerts").read_text().splitlines()]
    mails = sendmail()
    assert len(mails) == len(written) == 4
    for (argv, mail), sent in zip(mails, written):
        assert argv == ["-i", "--", "admin@example.org", "soc@example.org"]
        assert mail["To"] == "admin@example.org, soc@example.org"
        assert mail["Subject"] == (f"maillog-sasl: {sent['severity']} {sent['user']} "
                                   f"({', '.join(sent['signals'])})")
        assert mail["Auto-Submitted"] == "auto-generated"
        body = mail.get_content()
        assert f"user:          {sent['user']}" in body
        assert json.loads(body.split("The alert as JSON:\n", 1)[1]) == sent


def test_a_username_cannot_inject_a_mail_header():
    data = mail_message(alert(user=EVIL), ["admin@example.org"], to_json(alert(user=EVIL)),
                        "mx1")
    mail = BytesParser(policy=policy.default).parsebytes(data)
    assert mail["Bcc"] is None and len(mail.get_all("Subject")) == 1
    assert sorted(mail.keys()) == sorted(["To", "Subject", "Auto-Submitted", "Content-Type",
                                          "Content-Transfer-Encoding", "MIME-Version"])
    subject = mail["Subject"]
    assert subject.startswith('maillog-sasl: high evil" first_seen_ip=6.6.6.6??Bcc: victim@')
    assert "\u202e" not in subject and "\r" not in subject and "\n" not in subject
    body = mail.get_content()
    assert "\nBcc:" not in body and "\u202e" not in body and "\x00" not in body
    assert all(line == line.strip("\r") for line in body.split("\n"))


@pytest.mark.parametrize("user", ["=?utf-8?q?=E2=80=AEgpj=2Eexe?=@example.jp",
                                  "=?utf-8?b?4oCuZXZpbA0KQmNjOiB4?= x@example.jp"])
def test_a_username_spelling_an_encoded_word_is_not_decoded_in_the_subject(user):
    """The email package decoded an RFC 2047 word in the Subject text it was given and wrote it
    encoded again: a reader saw a right-to-left override, or a CR LF, that plain() had kept
    out of the username."""
    data = mail_message(alert(user=user), ["admin@example.org"], to_json(alert(user=user)),
                        "mx1")
    subject = BytesParser(policy=policy.default).parsebytes(data)["Subject"]
    # (a Subject folded before its first word is read with the space of the fold)
    assert subject.strip() == f"maillog-sasl: high {user.replace('=?', '??')} (burst)"


def test_a_failing_or_missing_sendmail_is_said_and_the_run_goes_on(tmp_path, cli, sendmail,
                                                                  monkeypatch):
    monkeypatch.setenv("FAKE_SENDMAIL_EXIT", "75")
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--alert-mail", "root",
                 SAMPLE)
    assert result.code == 1 and len(result.out.splitlines()) == 4
    assert result.err.count("failed (exit status 75)") == 4
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lines = []
    MailSink(["root"], 5, lines.append).run(alert(), to_json(alert()))
    assert lines == ["alert mail for 'ann@example.jp': sendmail: command not found (searched "
                     "$PATH and )"]


def test_a_background_mail_sink_sends_each_in_turn(sendmail):
    sink = MailSink(["root"], 5, pytest.fail, background=True)
    for index in range(3):
        sink.write(alert(user=f"u{index}@example.jp"), to_json(alert()))
    sink.close()
    assert [mail["Subject"] for _, mail in sendmail()] == [
        f"maillog-sasl: high u{index}@example.jp (burst)" for index in range(3)]


@pytest.mark.parametrize("address", ["-oQ/tmp", "a b@example.org", "a@example.org\r\nBcc: x",
                                     "", "<a@example.org>", "a@x,b@y"])
def test_an_address_that_is_not_one_is_a_usage_error(tmp_path, cli, address):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", f"--alert-mail={address}",
                 SAMPLE)
    assert result.code == 2 and "not one mail address" in result.err
