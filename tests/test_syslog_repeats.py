"""rsyslog's repeated-message reduction ($RepeatedMsgReduction on, as Ubuntu's rsyslog.conf has
it): a line that a process logs again at once is written only the first time, and before the
next other line comes `message repeated N times: [ LINE]`, with the stamp of the last of them
(rsyslog's ratelimit.c); a BSD syslogd (FreeBSD's, by default) writes `STAMP HOST last
message repeated N times`, no tag, about the line before it in the file. A brute force logs the same failed AUTH again and again within one
session; on such a server each burst is one line and one repeat line. Read as the lines it
stands for, the log gives what the full log gives.

The repeat lines' shape is rsyslog's, as public logs show it (an Ubuntu 2026 sshd line in
RFC 3339, `sshd-session[3195216]: message repeated 2 times: [ Failed password for root from
203.0.113.197 port 9046 ssh2]`; a Zimbra host's Postfix lines in darold/sendmailanalyzer#30,
`postfix/smtpd[11557]: message repeated 2 times: [ 535721E1E6C: client=...]`); the names and
addresses here are ours."""

import datetime as dt
import pickle

import pytest
from test_jobs import canonical, compare
from test_trust import ZIMBRA

from maillog_sasl.correlate import Correlator, copies_of, repeat_of
from maillog_sasl.syslog import MOST_REPEATS, Clock, last_repeat, split_line, syslog_repeat

from support import written


def reduced(lines, written_for):
    """`lines` as a syslogd writes them with its reduction on: a line whose host, tag and text
    are the line before's is left out, and the lines left out are written as
    `written_for(left_out)` says, before the next other line (and at the end)."""
    written, last, left_out = [], None, []
    for line in lines + [None]:
        fields = split_line(line)[1:] if line is not None else None
        if fields == last:
            left_out.append(line)
            continue
        if left_out:
            written += written_for(left_out)
            left_out = []
        if line is not None:
            written.append(line)
        last = fields
    return written


def rsyslog_reduced(lines):
    """`lines` as rsyslog writes them: the count, with the stamp of the last line left out."""
    def repeat_line(left_out):
        if len(left_out) == 1:  # (ratelimit.c: the line itself again, nsupp == 1)
            return left_out
        stamp, host, tag, text = split_line(left_out[-1])
        return [f"{stamp} {host} {tag} message repeated {len(left_out)} times: "
                f"[{(' ' + text)[:800]}]"]  # (cut at 800: "%.800s")
    return reduced(lines, repeat_line)


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
        expected = cli(*args, written(tmp_path, "\n".join(full) + "\n", "full")).json()
        found = cli(*args, written(tmp_path, "\n".join(reduced) + "\n", "reduced")).json()
        assert found == expected, report
    # Before, each repeat line was a Postfix line not used: 1 attempt of each session's 6.
    by_ip = cli("-r", "failures", "-f", "json", "--year", "2026", tmp_path / "reduced").json()
    assert sum(row["attempts"] for row in by_ip) == 40 * 6


def test_the_repeat_line_has_the_last_ones_stamp(cli, tmp_path):
    lines = rsyslog_reduced(brute_force(START, 1, 4))
    assert lines[2].startswith("Mar 02 10:00:04 ") and "message repeated 3 times" in lines[2]
    rows = cli("-r", "failures", "-f", "json", "--tz", "UTC", "--year", "2026",
               written(tmp_path, "\n".join(lines) + "\n")).json()
    assert (rows[0]["attempts"], rows[0]["first_seen"], rows[0]["last_seen"]) == (
        4, "2026-03-02T10:00:01+00:00", "2026-03-02T10:00:04+00:00")


def test_lines_read_counts_the_lines_a_repeat_line_stands_for(cli, tmp_path):
    full = brute_force(START, 10, 6)
    reduced = rsyslog_reduced(full)
    counted = [cli("--stats", "--year", "2026", written(tmp_path, "\n".join(lines) + "\n", name)
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
        once = cli("-r", report, "-f", "json", "--year", "2026", written(tmp_path, ZIMBRA, "a"))
        again = cli("-r", report, "-f", "json", "--year", "2026",
                    written(tmp_path, "\n".join(collapsed) + "\n", "b"))
        assert again.json() == once.json(), report


def test_a_doubled_log_with_repeat_lines(cli, tmp_path):
    # Two actions writing one file, the reduction before them: each line and each repeat
    # line twice.
    full = brute_force(START, 30, 4)
    doubled = [line for line in rsyslog_reduced(full) for _ in range(2)]
    assert copies_of(doubled) == 2
    args = ["-r", "failures", "-f", "json", "--year", "2026"]
    assert (cli(*args, written(tmp_path, "\n".join(doubled) + "\n", "b")).json()
            == cli(*args, written(tmp_path, "\n".join(full) + "\n", "a")).json())


def test_repeat_lines_across_chunks_and_jobs(tmp_path, monkeypatch):
    # Sessions that begin in one chunk and repeat in the next: a worker hands back the lines
    # of a session it does not hold, repeat lines too.
    full = brute_force(START, 60, 5)
    reduced = rsyslog_reduced(full)
    _, stats, _ = compare([written(tmp_path, "\n".join(reduced) + "\n", "reduced")], monkeypatch,
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
    before = cli("--stats", "--year", "2026", written(tmp_path, "\n".join(lines) + "\n", "a"))
    lines.insert(2, f"Mar 02 10:00:01 mail postfix/submission/smtpd[4000]: {text}")
    result = cli("-r", "failures", "-f", "json", "--stats", "--year", "2026",
                 written(tmp_path, "\n".join(lines) + "\n", "b"))
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
    assert [repeat_of(line, None) for line in lines] == [
        None, (3, "Mar 02 10:00:01 mail postfix/postscreen[5]: PASS OLD [203.0.113.5]:4711"), None]


def test_repeat_lines_of_other_programs_and_daemons_are_counted_so(cli, tmp_path):
    # Each after a line of its tag (a tag seen before is cut in the loop, its stamp later).
    lines = ["Mar 02 10:00:00 mail sshd[77]: Failed password for root from 203.0.113.197 port "
             "9046 ssh2",
             "Mar 02 10:00:01 mail sshd[77]: message repeated 2 times: [ Failed password for "
             "root from 203.0.113.197 port 9046 ssh2]",
             "Mar 02 10:00:00 mail postfix/postscreen[5]: PASS OLD [203.0.113.5]:4711",
             "Mar 02 10:00:01 mail postfix/postscreen[5]: message repeated 3 times: [ PASS OLD "
             "[203.0.113.5]:4711]",
             "Mar 02 10:00:00 mail postfix/smtp[6]: connect to mx.example.org[192.0.2.7]:25: "
             "Connection timed out",
             "Mar 02 10:00:31 mail postfix/smtp[6]: message repeated 4 times: [ connect to "
             "mx.example.org[192.0.2.7]:25: Connection timed out]"]
    result = cli("--stats", "--year", "2026", written(tmp_path, "\n".join(lines) + "\n"))
    assert "lines read:               11\n" in result.err
    assert "  other programs:         2\n" in result.err
    assert "  Postfix lines not used: 9\n" in result.err
    assert "  not syslog lines:       0\n" in result.err


# -- a BSD syslogd's `last message repeated N times` -------------------------------------------

def bsd_reduced(lines, tagged=False):
    """`lines` as FreeBSD's syslogd writes them: `STAMP HOST last message repeated N times`
    (with the line's tag too, when `tagged`: as some others write it), stamped like the last
    one left out."""
    def repeat_line(left_out):
        stamp, host, tag, _ = split_line(left_out[-1])
        return [f"{stamp} {host} {tag + ' ' if tagged else ''}last message repeated "
                f"{len(left_out)} times"]
    return reduced(lines, repeat_line)


@pytest.mark.parametrize("tagged", [False, True], ids=["untagged", "tagged"])
def test_a_brute_force_reduced_by_a_bsd_syslogd_counts_every_failure(cli, tmp_path, tagged,
                                                                      monkeypatch):
    full = brute_force(START, 40, 6)
    reduced = bsd_reduced(full, tagged)
    assert len(reduced) == 40 * 4 and reduced[2].endswith(" last message repeated 5 times")
    for report in (["failures"], ["failures", "--by", "user"], ["suspicious"]):
        args = ["-r", *report, "-f", "json", "--year", "2026", "--tz", "UTC"]
        expected = cli(*args, written(tmp_path, "\n".join(full) + "\n", "full")).json()
        found = cli(*args, written(tmp_path, "\n".join(reduced) + "\n", "reduced")).json()
        assert found == expected, report
    _, stats, _ = compare([tmp_path / "reduced"], monkeypatch, year=2026)
    assert stats["lines_read"] == len(full) and stats["not_syslog"] == 0


def test_what_a_bsd_repeat_line_repeats():
    before = ("Mar 02 10:00:01 mail postfix/smtpd[7]: warning: unknown[203.0.113.9]: SASL LOGIN "
              "authentication failed: UGFzc3dvcmQ6")
    again = before.replace("10:00:01", "10:00:09")
    assert last_repeat("Mar 02 10:00:09 mail last message repeated 3 times", before) == (3, again)
    assert last_repeat("Mar 02 10:00:09 mail postfix/smtpd[7]: last message repeated 3 times",
                       before) == (3, again)
    # Another host's, another process's, no line before, too many: none.
    assert last_repeat("Mar 02 10:00:09 mx2 last message repeated 3 times", before) is None
    assert last_repeat("Mar 02 10:00:09 mail postfix/smtpd[8]: last message repeated 3 times",
                       before) is None
    assert last_repeat("Mar 02 10:00:09 mail last message repeated 3 times", None) is None
    assert last_repeat(f"Mar 02 10:00:09 mail last message repeated {MOST_REPEATS + 1} times",
                       before) is None


def test_a_bsd_repeat_line_at_a_batchs_start_and_after_a_kept_state():
    # The line it repeats came in the batch before, or before `watch` kept its state.
    lines = bsd_reduced(brute_force(START, 5, 4))
    at = lines.index(next(line for line in lines if "last message" in line))

    def read(*batches):
        correlator = Correlator()
        clock = Clock(year=2026, tz=dt.timezone.utc)
        for batch in batches:
            correlator.feed(batch, clock)
            correlator = pickle.loads(pickle.dumps(correlator))
        correlator.end_source()
        correlator.finish()
        return canonical(Analysis(correlator))

    whole = read(lines)
    assert whole[1]["lines_read"] == 5 * 6 and whole[1]["not_syslog"] == 0
    assert read(lines[:at], lines[at:]) == whole


class Analysis(list):
    """The finished objects and Stats of a Correlator, as canonical() reads an analysis."""

    def __init__(self, correlator):
        super().__init__(correlator.finished)
        self.stats, self.problems = correlator.stats, []


def test_a_bsd_repeat_line_of_another_program_is_no_postfix_line(cli, tmp_path):
    lines = ["Mar 02 10:00:01 mail kernel: pid 77 (smtpd), jid 0, uid 125: exited on signal 11",
             "Mar 02 10:00:05 mail last message repeated 4 times"]
    result = cli("--stats", "--year", "2026", written(tmp_path, "\n".join(lines) + "\n"))
    assert "lines read:               2\n" in result.err
    assert "  not syslog lines:       1\n" in result.err


def test_a_doubled_bsd_log_whose_batch_starts_with_a_repeat_line():
    # The repeat line's copies open the batch: the line they repeat is the last batch's, and
    # the lines it stands for are no copies of one another.
    lines = [line for line in bsd_reduced(brute_force(START, 5, 4)) for _ in range(2)]
    # (The first batch long enough to tell the copies: the fifth repeat line's.)
    at = [at for at, line in enumerate(lines) if "last message" in line][4]

    def read(*batches):
        correlator = Correlator()
        clock = Clock(year=2026, tz=dt.timezone.utc)
        for batch in batches:
            correlator.feed(batch, clock)
        correlator.finish()
        return canonical(Analysis(correlator))

    assert read(lines[:at], lines[at:]) == read(lines)
    assert sum(len(item.auth_failures) for item in Correlator_finished(lines)) == 5 * 4


def Correlator_finished(lines):
    correlator = Correlator()
    correlator.feed(lines, Clock(year=2026, tz=dt.timezone.utc))
    correlator.finish()
    return correlator.finished


def test_a_containers_repeat_line(cli, tmp_path):
    # Postfix in a container logs to its standard output (maillog_file=/dev/stdout), and the
    # runtime's syslog driver hands each line to the host's rsyslog, which reduces them under
    # the container's tag.
    # (Each session's lines within one second, which makes its failures alike.)
    inner = brute_force(START, 10, 3, lambda moment: moment.strftime("%b %d %H:%M:00"))
    full = [f"{line[:15]} dockerhost postfix_container[468]: {line}" for line in inner]
    reduced = rsyslog_reduced(full)
    assert any("postfix_container[468]: message repeated 2 times: [ Mar 02" in line
               for line in reduced)
    args = ["-r", "failures", "-f", "json", "--year", "2026", "--tz", "UTC"]
    assert (cli(*args, written(tmp_path, "\n".join(reduced) + "\n", "b")).json()
            == cli(*args, written(tmp_path, "\n".join(full) + "\n", "a")).json())


def test_repeats_in_other_seconds_in_a_log_of_copies_collapsed(cli, tmp_path):
    # Postfix logged the failure at :01 and :02, each written three times, and rsyslog
    # collapsed the five lines after the first (the round's review).
    lines = ["Mar 02 10:00:00 mail postfix/smtpd[100]: connect from unknown[203.0.113.5]",
             "Mar 02 10:00:00 mail postfix/smtpd[100]: message repeated 2 times: [ connect from "
             "unknown[203.0.113.5]]",
             "Mar 02 10:00:01 mail postfix/smtpd[100]: warning: unknown[203.0.113.5]: SASL LOGIN "
             "authentication failed: UGFzc3dvcmQ6, sasl_username=bob@example.test",
             "Mar 02 10:00:02 mail postfix/smtpd[100]: message repeated 5 times: [ warning: "
             "unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
             "sasl_username=bob@example.test]",
             "Mar 02 10:00:03 mail postfix/smtpd[100]: lost connection after AUTH from "
             "unknown[203.0.113.5]",
             "Mar 02 10:00:03 mail postfix/smtpd[100]: message repeated 2 times: [ lost "
             "connection after AUTH from unknown[203.0.113.5]]"]
    assert copies_of(lines) == 3
    rows = cli("-r", "failures", "-f", "json", "--tz", "UTC", "--year", "2026",
               written(tmp_path, "\n".join(lines) + "\n")).json()
    assert (rows[0]["attempts"], rows[0]["last_seen"]) == (2, "2026-03-02T10:00:02+00:00")


def test_a_plain_log_of_repeated_bursts_is_no_log_of_copies(cli, tmp_path):
    # A grep of the failures, each session's five a second apart: one line and a repeat line
    # of four each. Taken for copies, a fifth of them (the round's review).
    full = [line for line in brute_force(START, 100, 5) if "warning:" in line]
    reduced = rsyslog_reduced(full)
    assert copies_of(reduced) == 1
    args = ["-r", "failures", "--by", "user", "-f", "json", "--year", "2026"]
    rows = cli(*args, written(tmp_path, "\n".join(reduced) + "\n", "b")).json()
    assert rows == cli(*args, written(tmp_path, "\n".join(full) + "\n", "a")).json()
    assert sum(row["attempts"] for row in rows) == 500


def test_a_line_rsyslog_cut_is_taken_whole_from_the_line_before(cli, tmp_path):
    # An attacker's username of 900 characters: the repeat line holds the first 800 of the
    # line; read as it is, a shorter username would be tried (the round's review).
    full = [line.replace("user0@example.test", "x" * 900) for line in brute_force(START, 1, 3)]
    reduced = rsyslog_reduced(full)
    assert len(reduced[2]) < len(full[2])
    args = ["-r", "failures", "--by", "user", "-f", "json", "--year", "2026"]
    rows = cli(*args, written(tmp_path, "\n".join(reduced) + "\n", "b")).json()
    assert rows == cli(*args, written(tmp_path, "\n".join(full) + "\n", "a")).json()
    assert [(row["user"], row["attempts"]) for row in rows] == [("x" * 900, 3)]


@pytest.mark.parametrize("depth, lines", [(2, 100), (600, 1)])
def test_a_repeat_line_within_a_repeat_line_is_not_repeated_again(cli, tmp_path, depth, lines):
    # Attacker text cannot make N upon N lines, nor recurse (600 deep, the line is longer than
    # rsyslog writes one, and is no repeat line at all).
    text = "warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
    for _ in range(depth):
        text = f"message repeated 100 times: [ {text}]"
    result = cli("--stats", "--year", "2026",
                 written(tmp_path, f"Mar 02 10:00:01 mail postfix/smtpd[100]: {text}\n"))
    assert result.code == 0
    assert f"lines read:               {lines}\n" in result.err
    assert f"  Postfix lines not used: {lines}\n" in result.err


def test_a_doubled_log_of_containers_repeat_lines(cli, tmp_path):
    # Postfix lines behind a container's prefix, repeat lines among them, each written twice:
    # the lines a repeat line stands for are no copies of one another (the round's review).
    inner = rsyslog_reduced(brute_force(START, 30, 5, lambda moment: moment.strftime(
        "%b %d %H:%M:00")))
    wrapped = [f"{line[:15]} dockerhost mailserver[468]: {line}" for line in inner]
    doubled = [line for line in wrapped for _ in range(2)]
    assert copies_of(doubled) == 2
    rows = cli("-r", "failures", "-f", "json", "--year", "2026",
               written(tmp_path, "\n".join(doubled) + "\n")).json()
    assert sum(row["attempts"] for row in rows) == 30 * 5


def test_an_attackers_text_is_no_bsd_repeat_line(cli, tmp_path):
    # A username that holds the words: the repeat line after it repeats it, not the line
    # before (the round's second review).
    lines = ["Mar 02 10:00:01 mail postfix/smtpd[100]: warning: unknown[203.0.113.5]: SASL LOGIN "
             "authentication failed: UGFzc3dvcmQ6, sasl_username=victim@example.test",
             "Mar 02 10:00:02 mail postfix/smtpd[200]: warning: unknown[198.51.100.7]: SASL LOGIN "
             "authentication failed: UGFzc3dvcmQ6, sasl_username=x last message repeated 9 times",
             "Mar 02 10:00:09 mail last message repeated 9 times"]
    rows = cli("-r", "failures", "-f", "json", "--year", "2026",
               written(tmp_path, "\n".join(lines) + "\n")).json()
    assert {row["client_ip"]: row["attempts"] for row in rows} == {
        "203.0.113.5": 1, "198.51.100.7": 10}


def test_a_bsd_syslogds_counts_of_a_long_run_in_a_log_of_copies_collapsed(cli, tmp_path):
    # Each line received three times; a FreeBSD syslogd writes a long run's count again every
    # 30 seconds: a failure a second for 30 seconds is the line, then 62 and 27 (the round's
    # second review).
    lines = []
    for number in range(4):
        pid, ip, minute = 700 + number, f"203.0.113.{number}", f"{10 + number:02}"
        lines += [f"Mar 02 10:{minute}:00 mail postfix/smtpd[{pid}]: connect from unknown[{ip}]",
                  f"Mar 02 10:{minute}:00 mail last message repeated 2 times",
                  f"Mar 02 10:{minute}:01 mail postfix/smtpd[{pid}]: warning: unknown[{ip}]: SASL "
                  "LOGIN authentication failed: UGFzc3dvcmQ6",
                  f"Mar 02 10:{minute}:21 mail last message repeated 62 times",
                  f"Mar 02 10:{minute}:30 mail last message repeated 27 times",
                  f"Mar 02 10:{minute}:31 mail postfix/smtpd[{pid}]: lost connection after AUTH "
                  f"from unknown[{ip}]",
                  f"Mar 02 10:{minute}:31 mail last message repeated 2 times"]
    assert copies_of(lines) == 3
    rows = cli("-r", "failures", "-f", "json", "--year", "2026",
               written(tmp_path, "\n".join(lines) + "\n")).json()
    assert [row["attempts"] for row in rows] == [30] * 4


def test_no_chunk_starts_at_a_repeat_line(tmp_path, monkeypatch):
    # A line rsyslog cut is taken from the line before it, which a chunk starting at it would
    # not have (the round's second review): cut at each repeat line.
    full = [line.replace("@example.test", "@" + "x" * 900) for line in brute_force(START, 6, 3)]
    text = "\n".join(rsyslog_reduced(full)) + "\n"
    path = written(tmp_path, text)
    starts = [at + 1 for at, character in enumerate(text) if character == "\n"]
    at_repeats = [start for start in starts if text.startswith("Mar", start)
                  and "message repeated" in text[start:start + 80]]
    assert len(at_repeats) == 6
    _, stats, _ = compare([path], monkeypatch, year=2026,
                          sizes=[(2, start) for start in at_repeats[:3]])
    assert stats["lines_read"] == len(full)


def test_a_bsd_syslogds_counts_of_a_long_run(cli, tmp_path):
    # A FreeBSD syslogd writes a long run's count again every 30 seconds: each of the repeat
    # lines in a row repeats the line before them all.
    lines = ["Mar 02 10:00:00 mail postfix/smtpd[700]: connect from unknown[203.0.113.9]",
             "Mar 02 10:00:01 mail postfix/smtpd[700]: warning: unknown[203.0.113.9]: SASL LOGIN "
             "authentication failed: UGFzc3dvcmQ6",
             "Mar 02 10:00:31 mail last message repeated 30 times",
             "Mar 02 10:01:01 mail last message repeated 30 times",
             "Mar 02 10:01:20 mail last message repeated 19 times",
             "Mar 02 10:01:21 mail postfix/smtpd[700]: lost connection after AUTH from "
             "unknown[203.0.113.9]"]
    rows = cli("-r", "failures", "-f", "json", "--tz", "UTC", "--year", "2026",
               written(tmp_path, "\n".join(lines) + "\n")).json()
    assert (rows[0]["attempts"], rows[0]["last_seen"]) == (80, "2026-03-02T10:01:20+00:00")
