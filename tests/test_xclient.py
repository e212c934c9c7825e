"""Sessions behind an XCLIENT proxy. A proxy that Postfix lets use XCLIENT
(smtpd_authorized_xclient_hosts: Mailu's front, nginx's mail proxy) connects, then gives its
client's address, and the login it took, with the XCLIENT command. Postfix logs nothing of the
command: the `connect from` line names the proxy, every later line of the session the real
client (`client=` with `sasl_method=XCLIENT` when the proxy gave the login), and the
disconnect's counters hold `xclient=`. Before, such a session was taken for two: the proxy's,
ended unlogged, and the client's, begun without its connect (both incomplete: `complete` false,
two `sessions incomplete` each), and the RCPT refusals logged before its first queue file were
dropped with the proxy's. Now the disconnect's `xclient=` joins them.

The lines are Postfix 3.7.11's (a private instance, raw SMTP; session 45), XCLIENT allowed from
127.0.0.0/8, a recipient access map refusing blocked@harness.test. Mailu's front logs the same
`client=` shape (Mailu/Mailu#2198: `client=unknown[14.139.58.66], sasl_method=XCLIENT,
sasl_username=info@mydomain.com`).
"""


from test_jobs import read_alike, sessions_holding

from support import interleaved_log, written

TIMES = ("--year", "2026")

# expected sessions (pid 3302 serves all six connections, one after the other):
#   1. proxy 127.0.0.1 -> 203.0.113.9, XCLIENT LOGIN=alice: one recipient refused, one queued
#   2. proxy -> 192.0.2.77, AUTH PLAIN at Postfix: a failure, then alice; one refused, one queued
#   3. proxy -> 198.51.100.4 unauthenticated: relay refused (no login: not reported)
#   4. proxy -> 198.51.100.5: bob's password refused
#   5. proxy -> 203.0.113.10 LOGIN=bob, nothing sent: no line but the disconnect
#   6. bob directly from 127.0.0.1, no XCLIENT
PROXIED = """\
Dec 05 06:04:24 mail postfix/master[3298]: daemon started -- version 3.7.11, configuration /work/q45/x2/etc
Dec 05 06:04:24 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:24 mail postfix/smtpd[3302]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <blocked@harness.test>: Recipient address rejected: no such user; from=<alice@example.com> to=<blocked@harness.test> proto=ESMTP helo=<client.test>
Dec 05 06:04:24 mail postfix/smtpd[3302]: 7294A5BE09A: client=unknown[203.0.113.9], sasl_method=XCLIENT, sasl_username=alice
Dec 05 06:04:24 mail postfix/cleanup[3307]: 7294A5BE09A: message-id=<20261205060424.7294A5BE09A@mail.harness.test>
Dec 05 06:04:24 mail postfix/qmgr[3300]: 7294A5BE09A: from=<alice@example.com>, size=324, nrcpt=1 (queue active)
Dec 05 06:04:24 mail postfix/smtpd[3302]: disconnect from unknown[203.0.113.9] ehlo=2 xclient=0/1 mail=1 rcpt=1/2 data=1 quit=1 commands=6/8
Dec 05 06:04:24 mail postfix/local[3308]: 7294A5BE09A: to=<bob@harness.test>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q45/x2/mail/inbox)
Dec 05 06:04:24 mail postfix/qmgr[3300]: 7294A5BE09A: removed
Dec 05 06:04:24 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:24 mail postfix/smtpd[3302]: warning: SASL authentication failure: Password verification failed
Dec 05 06:04:24 mail postfix/smtpd[3302]: warning: unknown[192.0.2.77]: SASL PLAIN authentication failed: authentication failure, sasl_username=alice
Dec 05 06:04:24 mail postfix/smtpd[3302]: NOQUEUE: reject: RCPT from unknown[192.0.2.77]: 554 5.7.1 <blocked@harness.test>: Recipient address rejected: no such user; from=<alice@example.com> to=<blocked@harness.test> proto=ESMTP helo=<client.test>
Dec 05 06:04:24 mail postfix/smtpd[3302]: EDFA05BE09A: client=unknown[192.0.2.77], sasl_method=PLAIN, sasl_username=alice
Dec 05 06:04:24 mail postfix/cleanup[3307]: EDFA05BE09A: message-id=<20261205060424.EDFA05BE09A@mail.harness.test>
Dec 05 06:04:24 mail postfix/qmgr[3300]: EDFA05BE09A: from=<alice@example.com>, size=323, nrcpt=1 (queue active)
Dec 05 06:04:24 mail postfix/smtpd[3302]: disconnect from unknown[192.0.2.77] ehlo=2 xclient=0/1 auth=1/2 mail=1 rcpt=1/2 data=1 quit=1 commands=7/10
Dec 05 06:04:24 mail postfix/local[3308]: EDFA05BE09A: to=<bob@harness.test>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q45/x2/mail/inbox)
Dec 05 06:04:24 mail postfix/qmgr[3300]: EDFA05BE09A: removed
Dec 05 06:04:25 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:25 mail postfix/smtpd[3302]: NOQUEUE: reject: RCPT from host.example[198.51.100.4]: 554 5.7.1 <victim@elsewhere.test>: Relay access denied; from=<x@example.net> to=<victim@elsewhere.test> proto=ESMTP helo=<client.test>
Dec 05 06:04:25 mail postfix/smtpd[3302]: disconnect from host.example[198.51.100.4] ehlo=2 xclient=0/1 mail=1 rcpt=0/1 quit=1 commands=4/6
Dec 05 06:04:25 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:25 mail postfix/smtpd[3302]: warning: SASL authentication failure: Password verification failed
Dec 05 06:04:25 mail postfix/smtpd[3302]: warning: unknown[198.51.100.5]: SASL PLAIN authentication failed: authentication failure, sasl_username=bob
Dec 05 06:04:25 mail postfix/smtpd[3302]: disconnect from unknown[198.51.100.5] ehlo=2 xclient=0/1 auth=0/1 quit=1 commands=3/5
Dec 05 06:04:26 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:26 mail postfix/smtpd[3302]: disconnect from unknown[203.0.113.10] ehlo=1 xclient=0/1 quit=1 commands=2/3
Dec 05 06:04:26 mail postfix/smtpd[3302]: connect from unknown[127.0.0.1]
Dec 05 06:04:26 mail postfix/smtpd[3302]: F0CD25BE012: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=bob
Dec 05 06:04:26 mail postfix/cleanup[3307]: F0CD25BE012: message-id=<20261205060426.F0CD25BE012@mail.harness.test>
Dec 05 06:04:26 mail postfix/qmgr[3300]: F0CD25BE012: from=<bob@example.com>, size=319, nrcpt=1 (queue active)
Dec 05 06:04:26 mail postfix/smtpd[3302]: disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Dec 05 06:04:26 mail postfix/local[3308]: F0CD25BE012: to=<bob@harness.test>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to file: /work/q45/x2/mail/inbox)
Dec 05 06:04:26 mail postfix/qmgr[3300]: F0CD25BE012: removed
"""


def incomplete(cli, path) -> int:
    stats = cli(str(path), *TIMES, "--stats").err
    return int(stats.split("sessions incomplete:", 1)[1].split()[0])


def test_a_proxied_session_is_one_session_of_the_real_client(tmp_path, report, cli):
    path = written(tmp_path, PROXIED)
    assert [(row["client_ip"], row["sasl_method"], row["sasl_username"], row["start"],
             row["complete"], row["rejected"], row["recipients"], row["failed_auth"])
            for row in report("sessions", path, *TIMES)] == [
        ("203.0.113.9", "xclient", "alice", "2026-12-05T06:04:24+00:00", True, 1, 2, 0),
        ("192.0.2.77", "plain", "alice", "2026-12-05T06:04:24+00:00", True, 1, 2, 1),
        ("127.0.0.1", "plain", "bob", "2026-12-05T06:04:26+00:00", True, 0, 1, 0)]
    assert incomplete(cli, path) == 0
    [alice, bob] = report("users", path, *TIMES)
    assert (alice["user"], alice["recipients"], alice["rejected"], alice["ips"]) == (
        "alice", 4, 2, 2)
    # The failures are the real clients', not the proxy's.
    assert [(row["client_ip"], row["usernames"], row["later_success"])
            for row in report("failures", path, *TIMES)] == [
        ("192.0.2.77", ["alice"], True), ("198.51.100.5", ["bob"], False)]


def test_a_proxied_session_starts_at_the_proxy_s_connect(tmp_path, report):
    path = written(tmp_path, PROXIED.replace(
        "Dec 05 06:04:24 mail postfix/smtpd[3302]: 7294A5BE09A: client",
        "Dec 05 06:04:29 mail postfix/smtpd[3302]: 7294A5BE09A: client").replace(
        "Dec 05 06:04:24 mail postfix/smtpd[3302]: disconnect from unknown[203.0.113.9]",
        "Dec 05 06:04:30 mail postfix/smtpd[3302]: disconnect from unknown[203.0.113.9]"))
    first = report("sessions", path, *TIMES)[0]
    assert (first["start"], first["end"]) == ("2026-12-05T06:04:24+00:00",
                                              "2026-12-05T06:04:30+00:00")


def test_a_proxied_session_s_lines_with_ports_and_tls(tmp_path, report):
    """With smtpd_client_port_logging, each line names the client's port (the first version
    missed refusals so named: a review's case); a STARTTLS after the XCLIENT is logged before
    the session's first line, and names the client."""
    first = PROXIED.split("Dec 05 06:04:24 mail postfix/smtpd[3302]: connect", 2)[1]
    text = ("Dec 05 06:04:24 mail postfix/smtpd[3302]: connect" + first).replace(
        "unknown[203.0.113.9]", "unknown[203.0.113.9]:51234").replace(
        "connect from unknown[127.0.0.1]\n",
        "connect from unknown[127.0.0.1]\nDec 05 06:04:24 mail postfix/smtpd[3302]: Anonymous "
        "TLS connection established from unknown[203.0.113.9]:51234: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits)\n", 1)
    [session] = report("sessions", written(tmp_path, text), *TIMES)
    assert (session["client_ip"], session["complete"], session["rejected"], session["tls"]) == (
        "203.0.113.9", True, 1, "TLSv1.3 with TLS_AES_256_GCM_SHA384")
    [alice] = report("users", written(tmp_path, text), *TIMES)
    assert (alice["recipients"], alice["rejected"]) == (2, 1)


# Without `xclient=` in the disconnect, the connect was another client's whose disconnect was
# not logged (a log with lines dropped): as before, two sessions ended incomplete, and the
# login's is known from its first line. A proxied session whose disconnect is not in the log
# cannot be told from it.
UNLOGGED_END = """\
Dec 05 06:04:20 mail postfix/smtpd[3302]: connect from unknown[198.51.100.9]
Dec 05 06:04:24 mail postfix/smtpd[3302]: 7294A5BE09A: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Dec 05 06:04:25 mail postfix/smtpd[3302]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""


def test_a_connect_of_another_client_without_xclient_is_that_client_s(tmp_path, report, cli):
    path = written(tmp_path, UNLOGGED_END)
    [session] = report("sessions", path, *TIMES)
    assert (session["client_ip"], session["start"], session["complete"]) == (
        "203.0.113.9", "2026-12-05T06:04:24+00:00", False)
    assert incomplete(cli, path) == 2
    cut = written(tmp_path, PROXIED.split("disconnect from unknown[203.0.113.9]")[0], "cut.log")
    [session] = report("sessions", cut, *TIMES)
    assert (session["start"], session["complete"]) == ("2026-12-05T06:04:24+00:00", False)
    assert incomplete(cli, cut) == 2
    # Known from its first line: its refusal's (a review's case: the refusal came before it).
    later = written(tmp_path, PROXIED.split("disconnect from unknown[203.0.113.9]")[0].replace(
        "06:04:24 mail postfix/smtpd[3302]: 7294A5BE09A: client",
        "06:04:29 mail postfix/smtpd[3302]: 7294A5BE09A: client").replace(
        "06:04:24 mail postfix/smtpd[3302]: NOQUEUE", "06:04:26 mail postfix/smtpd[3302]: NOQUEUE"),
        "later.log")
    [session] = report("sessions", later, *TIMES)
    assert session["start"] == "2026-12-05T06:04:26+00:00"


def proxied_log(sessions: int) -> str:
    """Proxied sessions of many smtpd processes, interleaved: logins given with XCLIENT or
    made after it, refusals before the first queue file, some ends unlogged or never logged."""

    def tell(number, at):
        pid, queue_id = 5000 + number % 40, f"{0xB0000 + number:X}"
        client = f"unknown[203.0.113.{number % 250}]"
        at(0, f"smtpd[{pid}]: connect from front.example[172.20.0.{2 + number % 3}]")
        if number % 3 == 0:
            at(1, f"smtpd[{pid}]: NOQUEUE: reject: RCPT from {client}: 554 5.7.1 "
                  f"<x{number}@blocked.test>: Recipient address rejected: no; "
                  f"from=<u@example.test> to=<x{number}@blocked.test> proto=ESMTP helo=<c>")
        method = "XCLIENT" if number % 2 else "PLAIN"
        at(2, f"smtpd[{pid}]: {queue_id}: client={client}, sasl_method={method}, "
              f"sasl_username=u{number % 5}@example.test")
        at(3, f"qmgr[99]: {queue_id}: from=<u@example.test>, size=300, nrcpt=1 (queue active)")
        if number % 11 != 7:  # else its disconnect (and the session's end) is never logged
            xclient = "xclient=0/1 " if number % 7 != 3 else ""
            at(30 + number % 50, f"smtpd[{pid}]: disconnect from {client} ehlo=2 {xclient}"
                                 "auth=1 mail=1 rcpt=1/2 data=1 quit=1 commands=7/9")
        at(40, f"smtp[98]: {queue_id}: to=<r{number}@remote.test>, relay=mx[192.0.2.1]:25, "
               "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)")
        at(41, f"qmgr[99]: {queue_id}: removed")

    return interleaved_log(sessions, 7, tell)


def test_jobs_read_proxied_sessions_as_one_process_does(tmp_path):
    one = read_alike(written(tmp_path, proxied_log(400)), ((2, 3000), (3, 1100), (2, 20000)))
    assert sessions_holding(one, "'complete': True") > 200
