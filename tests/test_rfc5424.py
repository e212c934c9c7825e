"""RFC 5424 lines: `<PRI>1 STAMP HOST APP PROCID MSGID STRUCTURED-DATA MSG`.

rsyslog writes them with its built-in template RSYSLOG_SyslogProtocol23Format
(`"<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID%
%STRUCTURED-DATA% %msg%\\n"`, rsyslog's doc/source/configuration/templates.rst), syslog-ng with
`flags(syslog-protocol)`, and a relay stores what it received that way. The examples of
RFC 5424 §6.5 give the shape of the header and of the structured data. A log of real Postfix
lines rewritten in that form gives the very report of the original.
"""

from pathlib import Path

import pytest
from test_jobs import chunks_of

from maillog_sasl.syslog import split_line

ROOT = Path(__file__).resolve().parent.parent
LOGS = {  # a real log and the year of its yearless stamps
    "seed": (ROOT / "sample_logs" / "seed-maillog.txt", 2018),
    "lightmeter": (ROOT / "tests" / "reallogs" / "lightmeter-sample" / "mail.log", 2023),
}
MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
REPORTS = [(), ("--report", "messages", "--format", "csv"),
           ("--report", "sessions", "--format", "json", "--all")]


def rfc5424(line, year, data="-", space=""):
    """A traditional line as rsyslog's RSYSLOG_SyslogProtocol23Format writes it, in UTC."""
    stamp, host, tag, text = split_line(line)
    when = (f"{year}-{MONTHS[stamp[:3]]:02d}-{int(stamp[4:6]):02d}T{stamp[7:]}.000000+00:00")
    app, _, procid = tag[:-1].partition("[")
    return f"<22>1 {when} {host} {app} {procid[:-1] or '-'} - {data} {space}{text}"


@pytest.mark.parametrize("header, expected", [
    # RFC 5424 §6.5, examples 1 and 3, with Postfix's text as the MSG
    ("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
     ("2003-10-11T22:14:15.003Z", "mymachine.example.com", "su:", "'su root' failed")),
    ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
     '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application',
     ("2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog:", "An application")),
    # two elements, a value holding `]`, `\"` and a space
    ('<22>1 2026-12-01T10:00:00+01:00 mx postfix/smtpd 4242 - [a@1 x="]\\" ]"][b@2] '
     'connect from h[192.0.2.1]',
     ("2026-12-01T10:00:00+01:00", "mx", "postfix/smtpd[4242]:", "connect from h[192.0.2.1]")),
    # a byte order mark before the MSG, and rsyslog's space of a BSD line
    ("<22>1 2026-12-01T10:00:00Z mx postfix/qmgr 7 - - \ufeffABC: removed",
     ("2026-12-01T10:00:00Z", "mx", "postfix/qmgr[7]:", "ABC: removed")),
    ("<22>1 2026-12-01T10:00:00Z mx postfix/qmgr 7 - -  ABC: removed",
     ("2026-12-01T10:00:00Z", "mx", "postfix/qmgr[7]:", "ABC: removed")),
    ("<22>1 2026-12-01T10:00:00Z mx postfix/qmgr 7 - -",
     ("2026-12-01T10:00:00Z", "mx", "postfix/qmgr[7]:", "")),
])
def test_an_rfc5424_header_gives_stamp_host_tag_and_text(header, expected):
    assert split_line(header) == expected


@pytest.mark.parametrize("line", [
    "<22>1 - mx postfix/smtpd 1 - - connect from h[192.0.2.1]",  # NILVALUE: no time
    "<22>1 2026-12-01T10:00:00Z mx postfix/smtpd 1 - [a@1 x=\"]",  # unterminated data
    "<22>1 2026-12-01T10:00:00Z mx postfix/smtpd 1 - [a@1]x connect",  # no space after it
    "<22>1 2026-12-01T10:00:00Z mx postfix/smtpd 1",  # no MSGID, no data
    # a BSD tag where APP-NAME would be: not RFC 5424's fields (it gave a tag
    # `postfix/smtpd[1]:[warning:]:`)
    "<13>1 2024-01-01T00:00:00Z host postfix/smtpd[1]: warning: - [x] y z",
])
def test_a_broken_rfc5424_line_is_not_read(line):
    assert split_line(line) is None


def test_a_bsd_line_whose_pri_is_followed_by_a_one_is_still_read():
    # `<13>1 2 3 4 web | ...`: not RFC 5424 (its stamp is `2`), a compose prefix after the PRI.
    assert split_line("<13>1 2 3 4 web | Jun 16 12:00:00 h postfix/smtpd[1]: x") == (
        "Jun 16 12:00:00", "h", "postfix/smtpd[1]:", "x")


def report(cli, year, *args):
    result = cli("--tz", "UTC", "--year", year, "--width", "200", *args)
    assert result.code == 0, result.err
    return result.out


@pytest.mark.parametrize("log", LOGS)
@pytest.mark.parametrize("data, space", [("-", ""), ('[origin ip="192.0.2.9"]', " ")])
def test_a_log_in_rfc5424_form_gives_the_report_of_its_lines(cli, tmp_path, log, data, space):
    path, year = LOGS[log]
    lines = [rfc5424(line, year, data, space) for line in path.read_text().splitlines()]
    rewritten = tmp_path / "rfc5424.log"
    rewritten.write_text("".join(line + "\n" for line in lines))
    for args in REPORTS:
        assert report(cli, year, *args, rewritten) == report(cli, year, *args, path), args
    assert "rfc5424.log" not in cli(rewritten).err  # no problem named


def test_jobs_read_an_rfc5424_log_as_one_process(cli, tmp_path, monkeypatch):
    """Chunks of 700 bytes: each worker finds its chunk's first line and stamp in that form."""
    path, year = LOGS["lightmeter"]
    rewritten = tmp_path / "rfc5424.log"
    rewritten.write_text("".join(rfc5424(line, year) + "\n"
                                 for line in path.read_text().splitlines()))
    expected = [report(cli, year, *args, rewritten) for args in REPORTS]
    chunks_of(700, monkeypatch)
    for args, one in zip(REPORTS, expected):
        assert report(cli, year, *args, "--jobs", "2", rewritten) == one, args
