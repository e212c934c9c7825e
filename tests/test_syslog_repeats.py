"""rsyslog's repeated-message reduction ($RepeatedMsgReduction on, as Ubuntu's rsyslog.conf has
it): a line that a process logs again at once is written only the first time, and before the
next other line comes `message repeated N times: [ LINE]`, with the stamp of the last of them
(rsyslog's ratelimit.c). A brute force logs the same failed AUTH again and again within one
session; on such a server each burst is one line and one repeat line. Read as the lines it
stands for, the log gives what the full log gives.

The repeat lines' shape is rsyslog's, as public logs show it (an Ubuntu 2026 sshd line in
RFC 3339, `sshd-session[3195216]: message repeated 2 times: [ Failed password for root from
203.0.113.197 port 9046 ssh2]`; a Zimbra host's Postfix lines in darold/sendmailanalyzer#30,
`postfix/smtpd[11557]: message repeated 2 times: [ 535721E1E6C: client=...]`); the names and
addresses here are ours."""

import datetime as dt

import pytest
from test_jobs import compare
from test_trust import ZIMBRA, write

from maillog_sasl.correlate import copies_of, repeats_expanded
from maillog_sasl.syslog import MOST_REPEATS, split_line, syslog_repeat


def rsyslog_reduced(lines):
    """`lines` as rsyslog writes them with the reduction on: a line whose host, tag and text
    are the line before's is left out, and counted; the count is written before the next other
    line (and at the end), with the stamp of the last line left out."""
    written, last, left_out = [], None, []

    def flush():
        if left_out:
            stamp, host, tag, text = split_line(left_out[-1])
            written.append(f"{stamp} {host} {tag} message repeated {len(left_out)} times: "
                           f"[ {text}]")
            left_out.clear()

    for line in lines:
        fields = split_line(line)[1:]
        if fields == last:
            left_out.append(line)
            continue
        flush()
        written.append(line)
        last = fields
    flush()
    return written


def brute_force(start, sessions, failures, stamp=lambda moment: moment.strftime("%b %d %H:%M:%S")):
    """`sessions` sessions of `failures` failed AUTH each, a second apart, naming the account
    they try (Postfix 3.x logs it); each ends in a lost connection, no counters: the failure
    lines are all there is."""
    lines = []
    for number in range(sessions):
        moment = start + dt.timedelta(minutes=number)
        pid, ip = 4000 + number, f"203.0.113.{number % 50}"
        user = f"user{number % 3}@example.test"
        lines.append(f"{stamp(moment)} mail postfix/submission/smtpd[{pid}]: "
                     f"connect from unknown[{ip}]")
        for second in range(failures):
            lines.append(f"{stamp(moment + dt.timedelta(seconds=1 + second))} mail "
                         f"postfix/submission/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN "
                         f"authentication failed: UGFzc3dvcmQ6, sasl_username={user}")
        lines.append(f"{stamp(moment + dt.timedelta(seconds=failures + 1))} mail "
                     f"postfix/submission/smtpd[{pid}]: lost connection after AUTH from "
                     f"unknown[{ip}]")
    return lines


START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
RFC3339 = lambda moment: moment.isoformat()  # noqa: E731 (rsyslog's default template's)


@pytest.mark.parametrize("stamp", [None, RFC3339], ids=["traditional", "rfc3339"])
def test_a_brute_force_reduced_by_rsyslog_counts_every_failure(cli, tmp_path, stamp):
    full = brute_force(START, 40, 6, *([stamp] if stamp else []))
    reduced = rsyslog_reduced(full)
    assert len(reduced) == 40 * 4  # connect, one failure, its repeat line (5), lost
    for report in (["failures"], ["failures", "--by", "user"], ["suspicious"], ["timeline"]):
        args = ["-r", *report, "-f", "json", "--year", "2026", "--tz", "UTC"]
        expected = cli(*args, write(tmp_path, "\n".join(full) + "\n", "full")).json()
        found = cli(*args, write(tmp_path, "\n".join(reduced) + "\n", "reduced")).json()
        assert found == expected, report
    # Before, each repeat line was a Postfix line not used: 1 attempt of each session's 6.
    by_ip = cli("-r", "failures", "-f", "json", "--year", "2026", tmp_path / "reduced").json()
    assert sum(row["attempts"] for row in by_ip) == 40 * 6


def test_the_repeat_line_has_the_last_ones_stamp(cli, tmp_path):
    lines = rsyslog_reduced(brute_force(START, 1, 4))
    assert lines[2].startswith("Mar 02 10:00:04 ") and "message repeated 3 times" in lines[2]
    rows = cli("-r", "failures", "-f", "json", "--tz", "UTC", "--year", "2026",
               write(tmp_path, "\n".join(lines) + "\n")).json()
    assert (rows[0]["attempts"], rows[0]["first_seen"], rows[0]["last_seen"]) == (
        4, "2026-03-02T10:00:01+00:00", "2026-03-02T10:00:04+00:00")


def test_lines_read_counts_the_lines_a_repeat_line_stands_for(cli, tmp_path):
    full = brute_force(START, 10, 6)
    reduced = rsyslog_reduced(full)
    counted = [cli("--stats", "--year", "2026", write(tmp_path, "\n".join(lines) + "\n", name)
                   ).err.split("\n", 1)[1] for lines, name in ((full, "full"), (reduced, "reduced"))]
    assert counted[0] == counted[1]
    assert f"lines read:               {len(full)}\n" in counted[1]


@pytest.mark.parametrize("copies", [1, 2, 3, 4])
def test_a_log_of_copies_collapsed_by_rsyslog_reads_as_one(cli, tmp_path, copies):
    """darold/sendmailanalyzer#30: a Zimbra host's rsyslog got each Postfix line three times,
    and wrote it once, then `message repeated 2 times`; ZIMBRA's two failures Postfix logged in
    a row are then one line and `message repeated 5 times`."""
    collapsed = rsyslog_reduced([line for line in ZIMBRA.splitlines() for _ in range(copies)])
    assert copies_of(collapsed) == copies
    for report in ("users", "messages", "failures", "sessions"):
        once = cli("-r", report, "-f", "json", "--year", "2026", write(tmp_path, ZIMBRA, "a"))
        again = cli("-r", report, "-f", "json", "--year", "2026",
                    write(tmp_path, "\n".join(collapsed) + "\n", "b"))
        assert again.json() == once.json(), report


def test_a_doubled_log_with_repeat_lines(cli, tmp_path):
    # Two actions writing one file, the reduction before them: each line and each repeat
    # line twice.
    full = brute_force(START, 30, 4)
    doubled = [line for line in rsyslog_reduced(full) for _ in range(2)]
    assert copies_of(doubled) == 2
    args = ["-r", "failures", "-f", "json", "--year", "2026"]
    assert (cli(*args, write(tmp_path, "\n".join(doubled) + "\n", "b")).json()
            == cli(*args, write(tmp_path, "\n".join(full) + "\n", "a")).json())


def test_repeat_lines_across_chunks_and_jobs(tmp_path, monkeypatch):
    # Sessions that begin in one chunk and repeat in the next: a worker hands back the lines
    # of a session it does not hold, repeat lines too.
    full = brute_force(START, 60, 5)
    reduced = rsyslog_reduced(full)
    _, stats, _ = compare([write(tmp_path, "\n".join(reduced) + "\n", "reduced")], monkeypatch,
                          year=2026)
    assert stats["lines_read"] == len(full)


@pytest.mark.parametrize("text", [
    "message repeated 0 times: [ warning: unknown[203.0.113.9]: SASL LOGIN authentication "
    "failed: UGFzc3dvcmQ6]",
    f"message repeated {MOST_REPEATS + 1} times: [ warning: unknown[203.0.113.9]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6]",
    "message repeated 2 times: warning: unknown[203.0.113.9]: SASL LOGIN authentication failed",
    "message repeated two times: [ x]",
    "message repeated 3 times: [",
])
def test_a_line_that_is_no_repeat_line_is_a_postfix_line_not_used(cli, tmp_path, text):
    assert syslog_repeat(text) is None
    lines = brute_force(START, 1, 1)
    before = cli("--stats", "--year", "2026", write(tmp_path, "\n".join(lines) + "\n", "a"))
    lines.insert(2, f"Mar 02 10:00:01 mail postfix/submission/smtpd[4000]: {text}")
    result = cli("-r", "failures", "-f", "json", "--stats", "--year", "2026",
                 write(tmp_path, "\n".join(lines) + "\n", "b"))
    assert result.code == 0 and result.json()[0]["attempts"] == 1
    unused = before.err.split("Postfix lines not used: ")[1].split("\n")[0]
    assert f"  Postfix lines not used: {int(unused) + 1}\n" in result.err


def test_repeat_lines_of_other_programs_and_daemons():
    # Another program's is another program's line; a Postfix daemon's whose lines are not used
    # (postscreen) stands for as many lines not used; the postfix command's is not Postfix's.
    lines = ["Mar 02 10:00:01 mail sshd[77]: message repeated 2 times: [ Failed password for "
             "root from 203.0.113.197 port 9046 ssh2]",
             "Mar 02 10:00:01 mail postfix/postscreen[5]: message repeated 3 times: [ PASS OLD "
             "[203.0.113.5]:4711]",
             "Mar 02 10:00:01 mail postfix[9]: message repeated 2 times: [ fatal: usage]"]
    assert repeats_expanded(lines) == [
        lines[0], *["Mar 02 10:00:01 mail postfix/postscreen[5]: PASS OLD [203.0.113.5]:4711"] * 3,
        lines[2]]


def test_repeat_lines_of_other_programs_and_daemons_are_counted_so(cli, tmp_path):
    lines = ["Mar 02 10:00:01 mail sshd[77]: message repeated 2 times: [ Failed password for "
             "root from 203.0.113.197 port 9046 ssh2]",
             "Mar 02 10:00:01 mail postfix/postscreen[5]: message repeated 3 times: [ PASS OLD "
             "[203.0.113.5]:4711]"]
    result = cli("--stats", "--year", "2026", write(tmp_path, "\n".join(lines) + "\n"))
    assert "lines read:               4\n" in result.err
    assert "  other programs:         1\n" in result.err
    assert "  Postfix lines not used: 3\n" in result.err
