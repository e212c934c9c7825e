"""Real lines read in the thirteenth hunt (tests/reallogs/README.md, 2026-12-07).

tests/reallogs/tamandua (GPL-3.0-or-later): the mock logs of realmar/Tamandua, a log
aggregator written at ETH Zurich's physics department, lines of its own three mail hosts (an MX
and relay, an amavisd-new host, an IMAP host's Postfix) gathered by a syslog-ng that names each
host twice (`phd-mxin/phd-mxin`), pasted together from three days out of order (Mar 28, then
Jan 19, then Feb 6), with one line as `grep -n -C` writes a line of a match's context: behind its
number and a hyphen (`206-Mar 28 17:03:32 phd-mailscan/phd-mailscan spamd[26204]: ...`).
Each expected value below is read from the lines (the comment above it says which), never from
the tool.

grep's context lines. An admin follows a login's session with `grep -n -C 5 QID mail.log` or
`grep -B 2 -A 6 sasl_username= /var/log/maillog*`: grep writes each line that matched behind
the file's name and a colon (-H, or more than one file) and its number and a colon (-n), and
each line around it (-A, -B, -C) behind the same with a hyphen for each colon, a `--` line
between groups. The tool read the matched lines of such output (tests/test_reallogs14.py) and
counted every context line not syslog: of a `grep -n -B2 -A6 sasl_username=` of
lightmeter-sample's mail.log (13 logins, 12 recipients, every one deferred) it read the 13
client= lines and lost the rest, the login's 12 recipients and their deferrals among them
(`1 user, 12 authenticated sessions; recipients 0`; the lines grep found, without the
prefixes: 13 sessions, 12 recipients deferred). A context line is read now as the line behind
its prefix, as a matched line is; a `--` line is not syslog, as it was.
"""

import re

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, counted, failures, outcomes, rows, stats
from test_reallogs13 import LIGHTMETER, SENTINEL, _outputs, _write, watched_logins

from maillog_sasl.sources import PREFIXED, Unwrapper, wrapper_of

TAMANDUA = REAL / "tamandua"
# Tamandua's lines name no year; 2017 is the year its mock logs were written.
YEAR = 2017


# -- Tamandua's hosts: one login, a hold, a relay through another host's filter ------------------

def test_tamandua_one_login_whose_session_is_not_in_the_file(cli):
    path = TAMANDUA / "extern-intern_to_intern.log"
    # line 32, the only `sasl_username=`: phd-mxin/phd-mxin postfix/smtpd[16498], Feb 6
    # 13:11:49, 3vH5tY65pSzQ9g: client=dyn.example.com[192.0.2.25], sasl_method=PLAIN,
    # sasl_username=joe.bloggs@phd-mxin.ethz.ch; no other line names 3vH5tY65pSzQ9g: one
    # message, no recipient known. The host is syslog-ng's name as written, `phd-mxin/phd-mxin`.
    [user] = rows(cli, "users", path, year=YEAR)
    assert (user["user"], user["sessions"], user["messages"], user["ips"], user["methods"],
            user["hosts"]) == ("joe.bloggs@phd-mxin.ethz.ch", 1, 1, 1, ["plain"],
                               ["phd-mxin/phd-mxin"])
    assert outcomes(user) == counted(0)
    # Feb 6 after Mar 28 in the file (pasted together): read in the year given, no year moved.
    assert (user["first_seen"], user["last_seen"]) == ("2017-02-06T13:11:49+00:00",
                                                       "2017-02-06T13:11:49+00:00")
    [session] = rows(cli, "sessions", path, year=YEAR)
    assert (session["host"], session["pid"], session["client_ip"], session["client_name"],
            session["sasl_username"], session["complete"]) == (
        "phd-mxin/phd-mxin", "16498", "192.0.2.25", "dyn.example.com",
        "joe.bloggs@phd-mxin.ethz.ch", False)
    # line 23, `lost connection after AUTH from sub1.example.com[192.0.2.12]` on the same pid
    # (Mar 28): no SASL warning, no disconnect counters: no failed AUTH by itself.
    assert failures(cli, path, year=YEAR) == {}


def test_tamandua_lines_counted_as_they_are(cli):
    counts = stats(cli, TAMANDUA / "extern-intern_to_intern.log", year=YEAR)
    # wc -l: 37 lines. Line 12, `206-Mar 28 17:03:32 phd-mailscan/phd-mailscan spamd[26204]:
    # ...`, is a line of grep's context pasted among the syslog lines of a file whose first
    # line is syslog's: not syslog. Other programs (grep -c): amavis 6, spamd 2 (lines 10, 11),
    # dovecot 5.
    assert (counts["lines read"], counts["not syslog lines"], counts["other programs"]) == (
        37, 1, 13)


def test_tamandua_hold_of_a_client_not_logged_in(cli):
    # to_hold.log: a client= without SASL fields, its message held (`hold: END-OF-MESSAGE`):
    # no login, no failed AUTH, nothing reported.
    path = TAMANDUA / "to_hold.log"
    assert rows(cli, "users", path, year=YEAR) == []
    assert rows(cli, "messages", path, year=YEAR) == []
    assert failures(cli, path, year=YEAR) == {}


def test_tamandua_relay_through_another_hosts_filter(cli, tmp_path):
    # intern_to_extern.log with a login put on phd-mxin's client= line (line 1): its one
    # recipient jane.doe@example.com went over LMTP to amavisd-new on phd-mailscan (line 5,
    # relay=phd-mailscan.phys-int.ethz.ch[192.168.127.2]:10024, status=sent, `queued as
    # 3vsvPL1JkfzXLD`), whose copy phd-imap's Postfix took (line 7, client=phd-mailscan...) and
    # sent on (line 10). A filter on another host is no loopback hop: the login's recipient is
    # sent to the filter, and the copy (another host's queue file, no login) is nobody's.
    text = (TAMANDUA / "intern_to_extern.log").read_text(encoding="utf-8")
    login = "3vsvP76Zm9zQ6T: client=phd-imap.phys-int.ethz.ch[192.0.2.29]\n"
    assert text.count(login) == 1
    path = _write(tmp_path / "mail.log", text.replace(
        login, login[:-1] + ", sasl_method=PLAIN, sasl_username=john.doe\n"))
    [message] = rows(cli, "messages", path, year=YEAR)
    assert (message["queue_id"], message["host"], message["sasl_username"],
            message["recipient"], message["status"], message["relay"]) == (
        "3vsvP76Zm9zQ6T", "phd-mxin/phd-mxin", "john.doe", "jane.doe@example.com", "sent",
        "phd-mailscan.phys-int.ethz.ch[192.168.127.2]:10024")


# -- grep's context lines ---------------------------------------------------------------------

def _grep_context(text, pattern, before, after, name="", numbered=True):
    """What `grep [-H] [-n] -B before -A after pattern` writes of `text` (GNU grep): each line
    that matched behind `name` and its number, each with a colon; the lines around it with a
    hyphen for each colon; `--` between groups that do not touch."""
    lines = text.splitlines()
    matched = {number for number, line in enumerate(lines) if re.search(pattern, line)}
    shown = sorted({near for number in matched
                    for near in range(max(0, number - before), min(len(lines), number + after + 1))})
    out = []
    for index, number in enumerate(shown):
        if index and number != shown[index - 1] + 1:
            out.append("--\n")
        mark = ":" if number in matched else "-"
        out.append(f"{name}{mark if name else ''}{f'{number + 1}{mark}' if numbered else ''}"
                   f"{lines[number]}\n")
    return "".join(out)


def _without_grep(grepped):
    """The lines grep wrote, without what it put before them (the `--` lines kept)."""
    return re.sub(r"^(?:[^\s:\[]+[:-])?(?:[0-9]+[:-])?(?=[A-Z][a-z]{2} [ 0-9][0-9] )", "",
                  grepped, flags=re.M)


@pytest.mark.parametrize("name, numbered", [
    ("", True),  # grep -n -B2 -A6 sasl_username= mail.log
    ("/var/log/maillog", False),  # grep -B2 -A6 sasl_username= /var/log/maillog*
    ("/var/log/maillog", True),  # ... -n
    # a dated file: its name ends in a hyphen and digits, as a context line's number does
    ("/var/log/maillog-20210128", True),
])
def test_grep_s_context_lines_are_read(cli, tmp_path, name, numbered):
    grepped = _grep_context(LIGHTMETER.read_text(encoding="utf-8"), "sasl_username=", 2, 6,
                            name, numbered)
    # the first line grep wrote is one of a context: `4-Jan 28 07:00:03 ... connect from ...`
    assert re.match(r"[^:]*-(?:4-)?Jan 28 07:00:03 ", grepped)
    found = _write(tmp_path / "found.txt", grepped)
    plain = _write(tmp_path / "plain.txt", _without_grep(grepped))
    assert wrapper_of(grepped.splitlines()[:50]) == PREFIXED
    assert _outputs(cli, found) == _outputs(cli, plain)
    # grep -c sasl_username= mail.log: 13 logins of one account, one session each; grep -c
    # 'status=deferred' of their queue IDs: 12 recipients, all deferred (each within 6 lines
    # after its client= line).
    [user] = rows(cli, "users", found, year=2021)
    assert (user["sessions"], user["messages"]) == (13, 13)
    assert outcomes(user) == counted(12, deferred=12)
    # the `--` lines between the groups are not syslog, as they were
    assert stats(cli, found, year=2021)["not syslog lines"] == grepped.count("\n--\n") + (
        grepped.startswith("--\n"))


def test_two_jobs_and_watch_read_grep_s_context_lines(cli, monkeypatch, tmp_path):
    grepped = _write(tmp_path / "found.txt", _grep_context(
        LIGHTMETER.read_text(encoding="utf-8"), "sasl_username=", 2, 6, "/var/log/maillog"))
    one = _outputs(cli, grepped)
    chunks_of(grepped.stat().st_size // 5, monkeypatch)
    assert _outputs(cli, grepped, "--jobs", 2) == one
    # watch keeps what the same lines without grep's prefixes give it
    text = grepped.read_text(encoding="utf-8")
    (tmp_path / "found").mkdir()
    (tmp_path / "plain").mkdir()
    assert watched_logins(cli, tmp_path / "found", text) == watched_logins(
        cli, tmp_path / "plain", _without_grep(text))


def test_failures_in_grep_s_context_lines_are_counted(cli, tmp_path):
    # maillogsentinel's sample: 139 `authentication failed` lines, one a line. `grep -n -B1 -A1
    # sasl_username=admin` writes the failures that named admin and, as context, the ones
    # before and after each: every failure line grep wrote is counted once, context or match.
    grepped = _grep_context(SENTINEL.read_text(encoding="utf-8"), "sasl_username=admin$", 1, 1)
    assert re.search(r"^[0-9]+-", grepped, re.M) and re.search(r"^[0-9]+:", grepped, re.M)
    found = _write(tmp_path / "found.txt", grepped)
    plain = _write(tmp_path / "plain.txt", _without_grep(grepped))
    assert _outputs(cli, found) == _outputs(cli, plain)
    attempts = sum(attempts for attempts, *_ in failures(cli, found, year=YEAR).values())
    assert attempts == grepped.count("authentication failed")


def test_a_context_line_is_read_whichever_line_comes_first():
    context = "mail.log-12-Jan 28 06:49:58 mail postfix/smtpd[17541]: connect from x[192.0.2.1]"
    matched = "mail.log:13:Jan 28 06:49:59 mail postfix/smtpd[17541]: disconnect from x[192.0.2.1]"
    for lines in ([context, "--", matched], [matched, "--", context]):
        assert wrapper_of(lines) == PREFIXED
        assert Unwrapper(PREFIXED).lines(lines) == [line.split("-", 2)[2] if line is context
                                                    else line.split(":", 2)[2] if line is matched
                                                    else line for line in lines]


def test_a_context_line_of_rfc3339_stamps_is_read():
    # rsyslog's RFC 3339 stamps start with digits and hyphens, as grep's number and hyphen do
    line = "2026-03-15T21:55:22.102387-03:00 mx postfix/submission/smtpd[8]: connect from x[192.0.2.1]"
    for prefix in ("12-", "maillog-12-", "maillog-20260315-12-", "maillog-"):
        assert wrapper_of([prefix + line]) == PREFIXED
        assert Unwrapper(PREFIXED).lines([prefix + line]) == [line]
