"""Lines real Postfix servers and syslog daemons write, and the ways logs reach us damaged: each
test is built from the line that broke the tool, or from a minimal log of the same shape, and
fails without its fix (issue 12)."""

import datetime as dt

import pytest
from test_jobs import chunks_of

from maillog_sasl.correlate import SESSION_IDLE, Correlator, copies_of
from maillog_sasl.reports import build_report
from maillog_sasl.syslog import Clock, parse_zone, split_line

from support import by, written

BERLIN = parse_zone("Europe/Berlin")



# A message of alice's whose one recipient gets the given delivery line, then the log ends.
def alice_message(status_text, qid="4B6D11E01729"):
    return (
        "Oct 14 07:30:00 mail postfix/submission/smtpd[900]: connect from unknown[198.51.100.7]\n"
        f"Oct 14 07:30:01 mail postfix/submission/smtpd[900]: {qid}: client=unknown[198.51.100.7]"
        ", sasl_method=PLAIN, sasl_username=alice@example.jp\n"
        f"Oct 14 07:30:02 mail postfix/qmgr[800]: {qid}: from=<alice@example.jp>, size=900, "
        "nrcpt=1 (queue active)\n"
        f"Oct 14 07:30:03 mail postfix/smtp[10837]: {qid}: to=<viviane@techs.com.br>, "
        "relay=mail.techs.com.br[186.232.248.4]:25, delay=3, delays=1/1/0.5/0.5, dsn=4.7.1, "
        f"{status_text}\n"
        "Oct 14 07:30:04 mail postfix/submission/smtpd[900]: disconnect from "
        "unknown[198.51.100.7] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n")


# -- statuses outside the five ------------------------------------------------------------------

SOFTBOUNCE = ("status=SOFTBOUNCE (host mail.techs.com.br[186.232.248.4] said: 501 5.7.1 "
              "<kmcgrath@upperuwchlan-pa.gov>... Sender refused by the DNSBL "
              "b.barracudacentral.org (in reply to RCPT TO command))")


@pytest.mark.parametrize("name", ["users", "suspicious", "timeline", "messages", "queue"])
def test_a_soft_bounce_is_a_deferral_and_crashes_nothing(report, tmp_path, name):
    """soft_bounce=yes: Postfix logs status=SOFTBOUNCE and keeps the mail queued (the line is
    real, from a public forum post)."""
    rows = report(name, "--year", "2026", written(tmp_path, alice_message(SOFTBOUNCE)))
    if name == "users":
        assert (rows[0]["deferred"], rows[0]["bounced"], rows[0]["recipients"]) == (1, 0, 1)
    if name == "messages":
        assert rows[0]["status"] == "deferred"
        assert rows[0]["reason"].startswith("host mail.techs.com.br[186.232.248.4] said: 501")
    if name == "queue":
        assert rows[0]["pending_recipients"] == 1


@pytest.mark.parametrize("status_text, reason", [
    ("status=def", "status=def"),  # the log was cut inside the word
    ("status=quarantined (held by the filter)", "status=quarantined (held by the filter)"),
])
def test_an_unknown_status_is_kept_as_data(cli, tmp_path, status_text, reason):
    log = written(tmp_path, alice_message(status_text))
    result = cli("-r", "messages", "-f", "json", "--year", "2026", "--stats", log)
    assert result.code == 0, result.err
    [row] = result.json()
    assert (row["status"], row["reason"]) == ("deferred", reason)
    assert "unknown status words:     1" in result.err
    assert cli("--year", "2026", log).code == 0


def test_force_expired_ends_the_message_as_expired(report, tmp_path):
    """postsuper -e / postqueue -f: qmgr's `status=force-expired, returned to sender` (the line
    is real, from kumina/postfix_exporter's tests)."""
    text = alice_message("status=deferred (connect to mail.techs.com.br[186.232.248.4]:25: "
                         "Connection timed out)", qid="BACE842E73")
    text += ("Oct 14 09:50:16 mail postfix/qmgr[3663]: BACE842E73: from=<alice@example.jp>, "
             "status=force-expired, returned to sender\n")
    log = written(tmp_path, text)
    [row] = report("messages", "--year", "2026", log)
    assert row["status"] == "expired"
    assert report("queue", "--year", "2026", log) == []


# -- lines without their session ----------------------------------------------------------------

# Byte-exact from a real server's mail.warn (lightmeterio/ControlCenter's test data, AGPL-3.0):
# no connect line, two clients in turn on one smtpd process.
TWO_CLIENTS_ONE_PID = (
    "Dec 27 21:41:26 mail postfix/smtpd[10081]: warning: unknown[222.162.115.97]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6\n"
    "Dec 27 21:42:23 mail postfix/smtpd[10081]: warning: unknown[222.162.115.105]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6\n")


def test_a_failure_counts_against_the_ip_its_line_names(report, tmp_path):
    rows = by(report("failures", "--year", "2026", written(tmp_path, TWO_CLIENTS_ONE_PID)),
              "client_ip")
    assert {ip: (row["attempts"], row["sessions"]) for ip, row in rows.items()} == {
        "222.162.115.97": (1, 1), "222.162.115.105": (1, 1)}


def test_two_logins_on_one_pid_without_their_connects_are_two_sessions(report, tmp_path):
    """A grep of the sasl_username lines: two users from two IPs on one smtpd pid."""
    text = "".join(
        f"Jan 12 10:0{n}:00 mail postfix/smtpd[122049]: 5A{n}C0DE{n}: client=unknown[203.0.113.{n}]"
        f", sasl_method=LOGIN, sasl_username={user}\n"
        for n, user in ((1, "ann@example.jp"), (2, "bob@example.jp")))
    log = written(tmp_path, text)
    sessions = report("sessions", "--year", "2026", log)
    assert sorted((row["client_ip"], row["sasl_username"]) for row in sessions) == [
        ("203.0.113.1", "ann@example.jp"), ("203.0.113.2", "bob@example.jp")]
    assert {row["user"]: row["ips"] for row in report("users", "--year", "2026", log)} == {
        "ann@example.jp": 1, "bob@example.jp": 1}


def test_a_disconnect_of_another_client_does_not_end_the_open_session(report, tmp_path):
    text = ("Jan 12 10:00:00 mail postfix/smtpd[7]: warning: unknown[203.0.113.1]: SASL LOGIN "
            "authentication failed: UGFzc3dvcmQ6\n"
            "Jan 12 10:05:00 mail postfix/smtpd[7]: connect from unknown[192.0.2.9]\n"
            "Jan 12 10:05:01 mail postfix/smtpd[7]: disconnect from unknown[192.0.2.9] ehlo=1 "
            "auth=0/2 quit=1 commands=2/4\n")
    rows = by(report("failures", "--year", "2026", written(tmp_path, text)), "client_ip")
    assert {ip: row["attempts"] for ip, row in rows.items()} == {
        "203.0.113.1": 1, "192.0.2.9": 2}


def _inbound_sessions(first_pid, minute):
    return "".join(
        f"Mar  3 10:{minute:02d}:{n:02d} mx postfix/smtpd[{first_pid + n}]: {what} "
        f"in{n}.example[198.51.100.{n}]{counters}\n"
        for n in range(40) for what, counters in (("connect from", ""), (
            "disconnect from", " ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")))


# A damaged stamp (Feb 30 is no day) on alice's disconnect line: the line is not used, and her
# session stays open, to end as incomplete, in its place (before bob's, open too): its login
# is still reported (it was dropped with the line). Between other sessions, so that small
# chunks put it in a worker's hands. The other session's failed AUTH is only in its unreadable
# line. The two lines are counted and told (exit 2), by any number of jobs.
UNREADABLE_DISCONNECT = (
    _inbound_sessions(1000, 0)
    + "Mar  3 10:05:00 mx postfix/submission/smtpd[201]: connect from a.example[203.0.113.1]\n"
    "Mar  3 10:05:01 mx postfix/submission/smtpd[201]: AAAB00001: client=a.example[203.0.113.1]"
    ", sasl_method=PLAIN, sasl_username=alice\n"
    "Mar  3 10:05:02 mx postfix/submission/smtpd[202]: connect from b.example[203.0.113.2]\n"
    "Mar  3 10:05:03 mx postfix/submission/smtpd[202]: AAAB00002: client=b.example[203.0.113.2]"
    ", sasl_method=PLAIN, sasl_username=bob\n"
    "Feb 30 10:05:04 mx postfix/submission/smtpd[201]: disconnect from a.example[203.0.113.1] "
    "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n"
    "Mar  3 10:06:00 mx postfix/smtpd[7]: connect from unknown[192.0.2.9]\n"
    "Feb 30 10:06:01 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.9] ehlo=1 "
    "auth=0/2 quit=1 commands=2/4\n"
    + _inbound_sessions(2000, 7))


@pytest.mark.parametrize("jobs, chunk_size", [("1", None), ("2", 2_000), ("2", 4_000),
                                              ("4", 1_000)])
def test_a_disconnect_whose_stamp_cannot_be_read_loses_no_login(cli, tmp_path, monkeypatch,
                                                                 jobs, chunk_size):
    if chunk_size is not None:
        chunks_of(chunk_size, monkeypatch)
    path = written(tmp_path, UNREADABLE_DISCONNECT)
    told = (f"maillog-sasl: {path}: 2 Postfix lines not used: no date and time known in the "
            "timestamp (the last: 'Feb 30 10:06:01')\n")
    sessions = cli("-r", "sessions", "-f", "json", "--tz", "UTC", "--year", "2025", "--jobs",
                   jobs, path)
    assert (sessions.code, sessions.err) == (2, told)
    assert [(row["client_ip"], row["sasl_username"], row["complete"])
            for row in sessions.json()] == [
        ("203.0.113.1", "alice", False), ("203.0.113.2", "bob", False)]
    users = cli("-r", "users", "-f", "json", "--tz", "UTC", "--year", "2025", "--jobs", jobs,
                path)
    assert (users.code, users.err) == (2, told)
    assert [(row["user"], row["sessions"], row["ips"]) for row in users.json()] == [
        ("alice", 1, 1), ("bob", 1, 1)]


def test_sessions_whose_end_was_lost_do_not_pile_up():
    """A day of connects that fail AUTH and whose disconnect is never logged: memory follows
    what is open (an hour's sessions), not the length of the log."""
    correlator = Correlator()
    clock = Clock(year=2026, tz=dt.timezone.utc)
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    most_open = 0
    for minute in range(0, 24 * 60, 2):
        moment = start + dt.timedelta(minutes=minute)
        stamp = moment.strftime("%b %d %H:%M:%S")
        pid = 1000 + minute
        correlator.feed([
            f"{stamp} mail postfix/smtpd[{pid}]: connect from unknown[203.0.113.{minute % 250}]",
            f"{stamp} mail postfix/smtpd[{pid}]: warning: unknown[203.0.113.{minute % 250}]: "
            "SASL LOGIN authentication failed: UGFzc3dvcmQ6"], clock)
        most_open = max(most_open, len(correlator.sessions) + len(correlator.pending))
    correlator.finish()
    assert most_open <= (SESSION_IDLE.total_seconds() / 120) + 10
    failures = [item for item in correlator.finished if item.auth_failures]
    assert len(failures) == 720 and correlator.stats.sessions_idle > 600


# -- syslog formats seen on real servers --------------------------------------------------------

@pytest.mark.parametrize("line, stamp, host, tag", [
    # fail2ban's test logs (GPL-2.0+): a day without padding.
    ("Aug 3 15:30:49 ksusha postfix/smtpd[17041]: warning: unknown[1.2.3.4]: SASL Plain "
     "authentication failed:", "Aug  3 15:30:49", "ksusha", "postfix/smtpd[17041]:"),
    # BusyBox syslogd (meta-ethantwardy, MIT): facility.priority between host and tag.
    ("Mar 22 07:45:01 backup mail.info postfix/smtpd[1080]: connect from localhost[::1]",
     "Mar 22 07:45:01", "backup", "postfix/smtpd[1080]:"),
    ("2026-05-30T22:00:35+02:00 gr mail.warn postfix/smtps/smtpd[27561]: warning: x",
     "2026-05-30T22:00:35+02:00", "gr", "postfix/smtps/smtpd[27561]:"),
    # docker compose logs.
    ("postfix-mailcow_1    | Dec 21 10:00:00 mail postfix/smtpd[84]: connect from x[192.0.2.1]",
     "Dec 21 10:00:00", "mail", "postfix/smtpd[84]:"),
])
def test_syslog_prefixes_of_real_servers(line, stamp, host, tag):
    assert split_line(line)[:3] == (stamp, host, tag)


def test_postfix_behind_a_container_log_prefix_is_read(report, tmp_path):
    """Docker's journald driver with maillog_file=/dev/stdout: Postfix's line behind a prefix."""
    text = ("Aug 23 00:02:04 example.com postfix_container[468]: Aug 23 00:02:04 example "
            "postfix/smtpd[84]: warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: "
            "UGFzc3dvcmQ6\n")
    [row] = report("failures", "--year", "2026", written(tmp_path, text))
    assert (row["client_ip"], row["attempts"]) == ("203.0.113.5", 1)


@pytest.mark.parametrize("tag", ["postfix_container[468]:", "postfix[468]:"])
def test_a_login_behind_a_container_log_prefix_is_read(report, tmp_path, tag):
    """The container's prefix may carry any tag, the postfix command's own `postfix[PID]:`
    too (a container or compose service named postfix): the Postfix line behind it is read."""
    text = "".join(f"Aug 23 00:02:0{second} example.com {tag} {line}\n" for second, line in (
        (4, "Aug 23 00:02:04 mail postfix/submission/smtpd[84]: connect from "
            "client.example[203.0.113.5]"),
        (5, "Aug 23 00:02:05 mail postfix/submission/smtpd[84]: ABCDEF1234: "
            "client=client.example[203.0.113.5], sasl_method=PLAIN, sasl_username=alice"),
        (6, "Aug 23 00:02:06 mail postfix/submission/smtpd[84]: disconnect from "
            "client.example[203.0.113.5] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6")))
    [row] = report("users", "--year", "2026", written(tmp_path, text))
    assert (row["user"], row["sessions"], row["messages"]) == ("alice", 1, 1)


def test_a_doubled_log_counts_each_line_once(cli, tmp_path):
    """rsyslog with two actions on one file writes every line twice; a failure Postfix really
    logged twice within a second (as the real fixture has) stays two."""
    single = (alice_message("status=sent (250 2.0.0 Ok)")
              + "Oct 14 07:31:00 mail postfix/smtpd[901]: warning: unknown[203.0.113.5]: SASL "
                "LOGIN authentication failed: UGFzc3dvcmQ6\n" * 2)
    doubled = "".join(line + "\n" + line + "\n" for line in single.splitlines())
    once = cli("-r", "failures", "-f", "json", "--year", "2026", written(tmp_path, single, "a"))
    twice = cli("-r", "failures", "-f", "json", "--year", "2026", "--stats",
                written(tmp_path, doubled, "b"))
    assert twice.json() == once.json() and once.json()[0]["attempts"] == 2
    assert "  repeated lines:         7\n" in twice.err


# A Zimbra host's log in darold/sendmailanalyzer#30 has every Postfix line three times: there
# rsyslog's repeated-message reduction collapsed the copies into `message repeated 2 times:
# [ ... ]`; without it, the three stand in the file, as they do here. (Lines of that shape,
# names and addresses ours.)
ZIMBRA = """\
Sep 30 17:01:02 zimbra postfix/smtpd[11557]: connect from pc35.example.lan[192.0.2.135]
Sep 30 17:01:03 zimbra postfix/smtpd[11557]: 535721E1E6C: client=pc35.example.lan[192.0.2.135], \
sasl_method=LOGIN, sasl_username=user@example.test
Sep 30 17:01:03 zimbra postfix/cleanup[19459]: 535721E1E6C: message-id=<00aa01d0@example.test>
Sep 30 17:01:03 zimbra postfix/qmgr[15025]: 535721E1E6C: from=<user@example.test>, size=3454, \
nrcpt=1 (queue active)
Sep 30 17:01:03 zimbra postfix/amavisd/smtpd[17226]: connect from localhost[127.0.0.1]
Sep 30 17:01:03 zimbra postfix/smtp[19460]: 535721E1E6C: to=<bob@example.org>, \
relay=127.0.0.1[127.0.0.1]:10032, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent \
(250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 6CE4E1E1E71)
Sep 30 17:01:03 zimbra postfix/qmgr[15025]: 535721E1E6C: removed
Sep 30 17:01:04 zimbra postfix/smtpd[11560]: connect from unknown[198.51.100.7]
Sep 30 17:01:04 zimbra postfix/smtpd[11560]: warning: unknown[198.51.100.7]: SASL LOGIN \
authentication failed: UGFzc3dvcmQ6
Sep 30 17:01:04 zimbra postfix/smtpd[11560]: warning: unknown[198.51.100.7]: SASL LOGIN \
authentication failed: UGFzc3dvcmQ6
Sep 30 17:01:05 zimbra postfix/smtpd[11557]: disconnect from pc35.example.lan[192.0.2.135] \
ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Sep 30 17:01:05 zimbra postfix/smtpd[11560]: lost connection after AUTH from unknown[198.51.100.7]
Sep 30 17:01:05 zimbra postfix/smtpd[11560]: disconnect from unknown[198.51.100.7] ehlo=1 auth=0/2 \
commands=1/3
"""


@pytest.mark.parametrize("copies", [2, 3, 4])
def test_a_log_of_every_line_written_again_counts_each_line_once(cli, tmp_path, copies):
    # Before: tripled, 3 authenticated messages ("messages lost (ID reuse)"); the failure
    # Postfix logged twice within a second stays two whatever the copies.
    repeated = "".join((line + "\n") * copies for line in ZIMBRA.splitlines())
    for report in ("users", "messages", "failures"):
        once = cli("-r", report, "-f", "json", "--year", "2026", written(tmp_path, ZIMBRA, "a"))
        again = cli("-r", report, "-f", "json", "--year", "2026", "--stats",
                    written(tmp_path, repeated, "b"))
        assert again.json() == once.json(), report
    assert once.json()[0]["attempts"] == 2
    lines = len(ZIMBRA.splitlines())
    assert f"  repeated lines:         {(copies - 1) * lines}\n" in again.err


def burst(sessions, failures):
    """A brute force: `sessions` sessions of `failures` failed AUTH each, logged within a
    second by their smtpd (identical lines, as Postfix writes them)."""
    lines = []
    for n in range(sessions):
        pid, ip = 2000 + n, f"198.51.100.{n % 250}"
        lines += [f"Sep 30 17:{n // 60 % 60:02}:{n % 60:02} zimbra postfix/smtpd[{pid}]: "
                  f"connect from unknown[{ip}]"]
        lines += [f"Sep 30 17:{n // 60 % 60:02}:{n % 60:02} zimbra postfix/smtpd[{pid}]: "
                  f"warning: unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
                  ] * failures
        lines += [f"Sep 30 17:{n // 60 % 60:02}:{n % 60:02} zimbra postfix/smtpd[{pid}]: "
                  f"lost connection after AUTH from unknown[{ip}]"]
    return lines


def test_how_many_copies_a_log_has():
    # copies_of(): a plain log 1, however many lines Postfix itself logs twice or four times
    # in a row; a log of k copies k, and its lines logged twice or four times do not make it
    # one of more.
    lines = [f"Sep 30 17:01:{n % 60:02} zimbra postfix/qmgr[1]: {n:06X}: removed"
             for n in range(400)]
    assert copies_of(lines) == 1
    assert copies_of([line for n, line in enumerate(lines) for _ in range(1 + (n % 3 == 0))]
                     ) == 1
    for copies in (2, 3, 4):
        assert copies_of([line for line in lines for _ in range(copies)]) == copies
        twice_each_tenth = [line for n, line in enumerate(lines)
                            for _ in range(copies * (2 if n % 10 == 0 else 1))]
        assert copies_of(twice_each_tenth) == copies
    for failures in (1, 3, 4, 8):
        # Before: a plain log of bursts of 8 was a doubled one, and lost half its failures; a
        # doubled one of bursts of 4 was read as of 4 copies when those came in.
        attack = burst(300, failures)
        assert copies_of(attack) == 1, failures
        for copies in (2, 3, 4):
            assert copies_of([line for line in attack for _ in range(copies)]) == copies, (
                failures, copies)
    # Three lines alike are no log of three copies, nor two pairs one of two.
    assert copies_of(["Sep 30 17:01:04 zimbra postfix/qmgr[1]: 1A: removed"] * 3) == 1
    assert copies_of(["A", "A", "B", "B"]) == 1
    assert copies_of(["A", "A", "B", "B", "C", "C"]) == 2


def users_of(batches):
    """The users report of a log given to a Correlator in `batches` (lists of lines)."""
    correlator = Correlator()
    clock = Clock(year=2026, tz=dt.timezone.utc)
    for batch in batches:
        correlator.feed(batch, clock)
    correlator.end_source()
    correlator.finish()
    return build_report("users", correlator.finished)[1]


@pytest.mark.parametrize("copies", [1, 2, 3])
def test_a_log_given_a_line_at_a_time_counts_each_line_once(copies):
    # A pipe, or a log being written, may give its first lines one or two at a time. How many
    # copies a log has was told from its first batch, and one line cannot tell: one copy, and
    # every line of a log of more copies counted as often as written (the sample log doubled,
    # piped with a pause after its first two lines: 1,666 authenticated sessions for 833).
    lines = [line for line in ZIMBRA.splitlines() for _ in range(copies)]
    whole = users_of([ZIMBRA.splitlines()])
    assert [(row["user"], row["sessions"], row["messages"]) for row in whole] == [
        ("user@example.test", 1, 1)]
    assert users_of([[line] for line in lines]) == whole
    assert users_of([lines[:copies], lines[copies:]]) == whole


def test_the_end_feeds_the_lines_every_input_held_back():
    # Two logs read in turns (watch), neither with lines enough yet to tell its copies: at the
    # end (watch judges a copy of its state so), each one's lines are fed, not only the
    # last one's.
    correlator = Correlator()
    clock = Clock(year=2026, tz=dt.timezone.utc)
    for name in ("a.log", "b.log"):
        correlator.read_input(name)
        correlator.feed(alice_message("status=sent (250 2.0.0 Ok)", qid=f"4B6D11E0172{name[0]}"
                                      ).replace("mail ", f"{name[0]}mx ").splitlines(), clock)
    assert correlator.finished == []
    correlator.finish()
    assert sorted((item.host, type(item).__name__) for item in correlator.finished) == [
        ("amx", "Message"), ("amx", "Session"), ("bmx", "Message"), ("bmx", "Session")]


def test_a_watch_state_of_a_doubled_log_goes_on_undoubling():
    # A state kept before logs of more copies were read said whether the log was doubled and
    # kept the lines that awaited their copy.
    state = Correlator().__getstate__()
    del state["_copies"]
    state.update(_doubled=True, _awaiting={"Sep 30 17:01:05 zimbra x[1]: y": None})
    restored = Correlator()
    restored.__setstate__(state)
    assert (restored._copies, restored._awaiting) == (2, {"Sep 30 17:01:05 zimbra x[1]: y": 1})


@pytest.mark.parametrize("fields", [6, 7])
def test_a_watch_state_of_two_logs_kept_before_a_retelling_goes_on(fields):
    # A state of two logs kept before the copies were told again with later lines put each
    # log aside as six fields, and one kept before each log's times were its own as seven:
    # the log taken back has nothing to tell again, and its lines are read as they come.
    correlator = Correlator()
    clock = Clock(year=2026, tz=dt.timezone.utc)
    correlator.read_input("a.log")
    correlator.read_input("b.log")
    state = correlator.__getstate__()
    state["_inputs"] = {name: kept[:fields] for name, kept in state["_inputs"].items()}
    restored = Correlator()
    restored.__setstate__(state)
    restored.read_input("a.log")
    restored.feed(ZIMBRA.splitlines(), clock)
    restored.finish()
    assert [(row["user"], row["sessions"], row["messages"])
            for row in build_report("users", restored.finished)[1]] == [("user@example.test", 1, 1)]


# -- time ---------------------------------------------------------------------------------------

def test_a_negative_offset_is_a_zone(report, tmp_path):
    [row] = report("users", "--tz", "-07:00", "--year", "2026",
                   written(tmp_path, alice_message("status=sent (250 2.0.0 Ok)")))
    assert row["first_seen"] == "2026-10-14T07:30:00-07:00"


def test_feb_29_finds_its_leap_year():
    """A yearless log whose file was written in 2027: Feb 29 is 2024's, not a lost line."""
    anchor = dt.datetime(2027, 3, 5, tzinfo=dt.timezone.utc)
    clock = Clock(tz=dt.timezone.utc, anchor=anchor)
    assert clock.time("Feb 29 10:00:00") == dt.datetime(2024, 2, 29, 10, tzinfo=dt.timezone.utc)
    assert clock.time("Mar  1 10:00:00").year == 2024


def test_the_repeated_hour_of_dst_fall_back_runs_forward():
    """Europe/Berlin, 2026-10-25: 02:00-02:59 comes twice, first at +02:00, then at +01:00."""
    clock = Clock(year=2026, tz=BERLIN)
    stamps = ["Oct 25 01:59:00", "Oct 25 02:10:00", "Oct 25 02:50:00", "Oct 25 02:05:00",
              "Oct 25 02:55:00", "Oct 25 03:01:00"]
    times = [clock.time(stamp) for stamp in stamps]
    assert times == sorted(times)
    assert [when.utcoffset().total_seconds() / 3600 for when in times] == [2, 2, 2, 1, 1, 1]


def test_a_session_across_the_fall_back_does_not_end_before_it_starts(report, tmp_path):
    text = ("Oct 25 02:50:00 mail postfix/smtpd[5]: connect from unknown[198.51.100.7]\n"
            "Oct 25 02:05:00 mail postfix/smtpd[5]: warning: unknown[198.51.100.7]: SASL LOGIN "
            "authentication failed: UGFzc3dvcmQ6\n"
            "Oct 25 02:06:00 mail postfix/smtpd[5]: disconnect from unknown[198.51.100.7] "
            "ehlo=1 auth=0/1 commands=1/2\n")
    [row] = report("sessions", "--all", "--year", "2026", "--tz", "Europe/Berlin",
                   written(tmp_path, text))
    assert row["start"] < row["end"] or row["end"].endswith("+01:00")
    assert (row["start"][-6:], row["end"][-6:]) == ("+02:00", "+01:00")


@pytest.mark.parametrize("year", ["9999", "0001"])
@pytest.mark.parametrize("name", ["users", "suspicious", "timeline", "sessions"])
def test_a_stamp_at_the_end_of_time_is_not_a_time(cli, tmp_path, year, name):
    text = "".join(f"{year}-12-31T23:59:{second}Z mail postfix/smtpd[7]: {rest}\n" for second, rest in (
        (50, "connect from unknown[198.51.100.7]"),
        (51, "5A1C0DE1: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=ann"),
        (59, "disconnect from unknown[198.51.100.7] ehlo=1 auth=1 quit=1 commands=3")))
    path = written(tmp_path, text)
    result = cli("-r", name, "-f", "json", path)
    # The client= and disconnect lines, told (the connect is only noted).
    assert (result.code, result.json(), result.err) == (2, [], (
        f"maillog-sasl: {path}: 2 Postfix lines not used: no date and time known in the "
        f"timestamp (the last: '{year}-12-31T23:59:59Z')\n"))


# -- attacker text ------------------------------------------------------------------------------

def test_a_username_cannot_pick_the_username_field(report, tmp_path):
    text = ("Jan 12 10:00:00 mail postfix/smtpd[7]: warning: unknown[203.0.113.1]: SASL LOGIN "
            "authentication failed: x, sasl_username=a, b, sasl_username=c\n")
    [row] = report("failures", "--by", "user", "--year", "2026", written(tmp_path, text))
    assert row["user"] == "a, b, sasl_username=c"


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\ufeff", "\u00ad", "\U000e0061",
                                       "\u202e", "\u2066"])
@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_invisible_characters_are_shown(cli, tmp_path, invisible, fmt):
    text = alice_message("status=sent (250 2.0.0 Ok)").replace("alice@", f"adm{invisible}in@")
    result = cli("-f", fmt, "--year", "2026", written(tmp_path, text))
    assert result.code == 0
    assert "admin@" not in result.out and invisible not in result.out
    escaped = f"\\x{ord(invisible):02x}" if ord(invisible) < 0x100 else (
        f"\\u{ord(invisible):04x}" if ord(invisible) < 0x10000 else f"\\U{ord(invisible):08x}")
    assert f"adm{escaped}in@example.jp" in result.out


# -- option values ------------------------------------------------------------------------------

@pytest.mark.parametrize("option", [
    ["--guess-window", "1000000"], ["--hop-window", "1e20"], ["--baseline-days", "1e10"],
    ["--shared-ip-accounts", "9" * 20], ["--tz", "/etc/passwd"], ["--failed-percent", "101"],
    ["--since", "2026-10-15", "--until", "2026-10-14"], ["--year", "9999"],
])
def test_values_out_of_range_are_usage_errors(cli, tmp_path, option):
    result = cli(*option, written(tmp_path, alice_message("status=sent (250 2.0.0 Ok)")))
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("maillog-sasl: ")


def test_a_host_whose_clock_is_months_ahead_moves_no_clock(cli, tmp_path):
    """One session from a second host whose clock is months ahead: the failures the first host
    logged are not forgotten (the guessed signal stays), and the stamp is a clock anomaly."""
    from maillog_writer import MailLog, at

    log = MailLog()
    log.failures("203.0.113.77", at(0, 1), ["root", "admin", "info"])
    log.login("carol@example.jp", "203.0.113.77", at(0, 2))
    lines = open(log.write(tmp_path / "maillog")).read().splitlines()
    far = at(120, 3).isoformat()
    login = next(index for index, line in enumerate(lines) if line >= at(0, 2).isoformat())
    lines[login:login] = [
        f"{far} mx2 postfix/smtpd[4]: connect from unknown[192.0.2.9]",
        f"{far} mx2 postfix/smtpd[4]: disconnect from unknown[192.0.2.9] ehlo=1 auth=0/1 "
        "commands=1/2"]
    path = written(tmp_path, "\n".join(lines) + "\n")
    result = cli("-r", "suspicious", "-f", "json", "--stats", path)
    assert result.code == 0, result.err
    assert [row["user"] for row in result.json()] == ["carol@example.jp"]
    assert "guessed" in result.json()[0]["signals"]
    assert "clock anomalies:          1" in result.err


def test_a_queue_id_of_other_scripts_is_no_queue_id(cli, tmp_path):
    """Fullwidth letters and digits pass str.isalnum(); postsuper -d - takes none of them."""
    text = alice_message("status=deferred (connect timed out)", qid="ＡＢ１２３")
    result = cli("-r", "queue", "-f", "ids", "--year", "2026", written(tmp_path, text))
    assert (result.code, result.out) == (0, "")


def test_a_feb_29_under_a_year_not_leap_is_told_as_such(cli, tmp_path):
    """`--year 2025` given for a log of 2024 (Feb 29): its lines have no date, and the admin is
    told why rather than only that the stamp is no time."""
    path = written(tmp_path, "Feb 29 10:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n"
                             "Feb 29 10:00:01 mx postfix/smtpd[1]: 4AB12: client=a[192.0.2.1], "
                             "sasl_method=PLAIN, sasl_username=bob\n")
    told = cli("--year", "2025", path)
    assert told.code == 2
    assert told.err.endswith("(the last: 'Feb 29 10:00:01'): Feb 29 in a year that is not a "
                             "leap year (is --year the log's year?)\n")
    assert cli("--year", "2024", path).code == 0
