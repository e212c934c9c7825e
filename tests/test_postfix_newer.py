"""The lines Postfix 3.8 to 3.11 write differently from the 3.7.11 of tests/e2e, besides
those of tests/test_postfix310.py, each read as an admin expects.

Each line is built from the format string of the source that writes it (the mirror
github.com/vdukhovni/postfix, its tags v3.7.11 to v3.11.6 compared; RELEASE_NOTES-3.9,
-3.10, -3.11 and HISTORY), with this project's hosts, addresses and queue IDs:

- 3.11 (20250910, smtp_log_tls_feature_status = yes by default): every delivery line of
  smtp(8) and lmtp(8) has `, tls=LEVEL` between `delays=` and `dsn=` (global/log_adhoc.c,
  pol_stats.c: `may`, `may?`, `dane:encrypt`, `!requiretls:nocertmatch`, no comma). Read as
  before, and by the one match of the plain shape (events.PLAIN_PEEK, _PLAIN_DELIVERY) as a
  line without it is: a 3.11 log's deliveries are no slower to read.
- 3.10 (20250105): smtpd names the queue ID, or NOQUEUE, in `QID: lost connection after
  DATA (N bytes) from NAME[IP]`, `NOQUEUE: timeout after AUTH from ...`, `too many errors
  after` (smtpd.c). Not used, as before 3.10 (the session's other lines say it).
- smtpd_forbid_bare_newline = reject (3.9, and 3.8.5, 3.7.10): `QID: reject: STAGE from
  NAME[IP]: bare <LF> received; ENVELOPE` (smtpd.c, log_whatsup()), STAGE the last command
  smtpd ran when a command line ends in a bare LF (so RCPT for a DATA line), END-OF-MESSAGE
  for a message's content; `to=` the transaction's first accepted recipient, none when all
  were refused; at CONNECT, nothing after the `;` (no HELO yet). A refusal of the message
  (no recipient counted twice), none at CONNECT or AUTH.
- 3.10 (20250106): a milter's quarantine logs its reason, or `default_action`, instead of
  `milter triggers HOLD action` (cleanup_milter.c): a hold whatever the words.
- 3.11 (20251104, non_empty_end_of_header_action = reject): cleanup's `QID: reject:
  mime-error primary header was terminated with non-empty line: TEXT from NAME[IP];
  from=<S> to=<R>` (cleanup_message.c, mime_state.c), no proto= nor helo=: the message refused.
- 3.11 (20250801, smtpd_reject_filter_maps): `QID: reply filter in: REPLY` and `reply filter
  out: REPLY` (smtpd_chat.c) after the refusal they rewrite: not a second refusal. And
  `warning: QID: too much BDAT content -- disabling further input from NAME[IP]` (smtpd.c):
  no SASL failure, no size limit.
- 3.9 (HISTORY 20240124): HELP is a command of smtpd's, `help=1` in the disconnect counters (3.7
  counted it `unknown=0/1`).
- The TLS line of a client that sent SNI (` to NAME` after the client, since 3.4) with 3.10's
  post-quantum key exchange (tls_misc.c tls_log_summary()).
"""

import pytest
from test_reallogs import rows, stats

from maillog_sasl import events

LOG = """\
2026-08-21T10:00:00.100000+02:00 mail postfix/submission/smtpd[7001]: connect from pc1.example.net[198.51.100.10]
2026-08-21T10:00:00.300000+02:00 mail postfix/submission/smtpd[7001]: Anonymous TLS connection established from pc1.example.net[198.51.100.10] to mail.corp.example: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519MLKEM768 server-signature ECDSA (secp384r1) server-digest SHA384
2026-08-21T10:00:01.000000+02:00 mail postfix/submission/smtpd[7001]: 4ZkV1x2Hq9z9sTq: client=pc1.example.net[198.51.100.10], sasl_method=PLAIN, sasl_username=alice@corp.example
2026-08-21T10:00:01.100000+02:00 mail postfix/cleanup[7002]: 4ZkV1x2Hq9z9sTq: message-id=<m1@corp.example>
2026-08-21T10:00:01.200000+02:00 mail postfix/qmgr[900]: 4ZkV1x2Hq9z9sTq: from=<alice@corp.example>, size=1200, nrcpt=3 (queue active)
2026-08-21T10:00:01.300000+02:00 mail postfix/submission/smtpd[7001]: disconnect from pc1.example.net[198.51.100.10] ehlo=2 starttls=1 auth=1 mail=1 rcpt=3 data=1 quit=1 commands=10
2026-08-21T10:00:02.000000+02:00 mail postfix/smtp[7003]: 4ZkV1x2Hq9z9sTq: to=<bob@ext.example>, relay=mx.ext.example[203.0.113.21]:25, delay=1, delays=0.2/0.01/0.4/0.4, tls=may, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 5C1D2E3F4A)
2026-08-21T10:00:02.100000+02:00 mail postfix/smtp[7003]: 4ZkV1x2Hq9z9sTq: to=<carol@ext.example>, relay=mx.ext.example[203.0.113.21]:25, conn_use=2, delay=1.1, delays=0.2/0.01/0/0.5, tls=dane:encrypt, dsn=5.1.1, status=bounced (host mx.ext.example[203.0.113.21] said: 550 5.1.1 <carol@ext.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))
2026-08-21T10:00:32.000000+02:00 mail postfix/smtp[7004]: 4ZkV1x2Hq9z9sTq: to=<ned@far.example>, relay=none, delay=31, delays=0.2/0.01/30/0, tls=may?, dsn=4.4.1, status=deferred (connect to mx.far.example[203.0.113.31]:25: Connection timed out)
2026-08-21T10:05:00.000000+02:00 mail postfix/smtps/smtpd[7011]: connect from unknown[203.0.113.66]
2026-08-21T10:05:02.000000+02:00 mail postfix/smtps/smtpd[7011]: warning: unknown[203.0.113.66]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin@corp.example
2026-08-21T10:05:05.000000+02:00 mail postfix/smtps/smtpd[7011]: NOQUEUE: lost connection after AUTH from unknown[203.0.113.66]
2026-08-21T10:05:05.000000+02:00 mail postfix/smtps/smtpd[7011]: disconnect from unknown[203.0.113.66] ehlo=1 auth=0/1 help=1 commands=2/3
2026-08-21T10:06:00.000000+02:00 mail postfix/smtps/smtpd[7012]: connect from unknown[203.0.113.67]
2026-08-21T10:06:02.000000+02:00 mail postfix/smtps/smtpd[7012]: warning: unknown[203.0.113.67]: SASL NTLM authentication failed: Invalid authentication mechanism: 'NTLM', sasl_username=(unavailable)
2026-08-21T10:06:10.000000+02:00 mail postfix/smtps/smtpd[7012]: NOQUEUE: too many errors after AUTH from unknown[203.0.113.67]
2026-08-21T10:06:10.000000+02:00 mail postfix/smtps/smtpd[7012]: disconnect from unknown[203.0.113.67] ehlo=1 auth=0/1 commands=1/2
2026-08-21T10:07:00.000000+02:00 mail postfix/submission/smtpd[7013]: connect from pc2.example.net[198.51.100.20]
2026-08-21T10:07:01.000000+02:00 mail postfix/submission/smtpd[7013]: 4ZkV2B3Cm4z9sTx: client=pc2.example.net[198.51.100.20], sasl_method=LOGIN, sasl_username=dave@corp.example
2026-08-21T10:07:31.000000+02:00 mail postfix/submission/smtpd[7013]: 4ZkV2B3Cm4z9sTx: timeout after DATA (8192 bytes) from pc2.example.net[198.51.100.20]
2026-08-21T10:07:31.000000+02:00 mail postfix/cleanup[7014]: 4ZkV2B3Cm4z9sTx: removed (canceled)
2026-08-21T10:07:31.100000+02:00 mail postfix/submission/smtpd[7013]: disconnect from pc2.example.net[198.51.100.20] ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 commands=4/5
2026-08-21T10:08:00.000000+02:00 mail postfix/submission/smtpd[7015]: connect from pc3.example.net[198.51.100.30]
2026-08-21T10:08:01.000000+02:00 mail postfix/submission/smtpd[7015]: 4ZkV2C4Dn5z9sTy: client=pc3.example.net[198.51.100.30], sasl_method=PLAIN, sasl_username=erin@corp.example
2026-08-21T10:08:02.000000+02:00 mail postfix/submission/smtpd[7015]: 4ZkV2C4Dn5z9sTy: reject: RCPT from pc3.example.net[198.51.100.30]: bare <LF> received; from=<erin@corp.example> to=<frank@ext.example> proto=ESMTP helo=<pc3> sasl_method=PLAIN sasl_username=erin@corp.example
2026-08-21T10:08:02.000000+02:00 mail postfix/cleanup[7016]: 4ZkV2C4Dn5z9sTy: removed (canceled)
2026-08-21T10:08:02.100000+02:00 mail postfix/submission/smtpd[7015]: disconnect from pc3.example.net[198.51.100.30] ehlo=1 auth=1 mail=1 rcpt=1 commands=4
2026-08-21T10:09:00.000000+02:00 mail postfix/submission/smtpd[7017]: connect from pc4.example.net[198.51.100.40]
2026-08-21T10:09:01.000000+02:00 mail postfix/submission/smtpd[7017]: 4ZkV2D5Ep6z9sTz: client=pc4.example.net[198.51.100.40], sasl_method=PLAIN, sasl_username=gina@corp.example
2026-08-21T10:09:03.000000+02:00 mail postfix/submission/smtpd[7017]: 4ZkV2D5Ep6z9sTz: reject: END-OF-MESSAGE from pc4.example.net[198.51.100.40]: bare <LF> received; from=<gina@corp.example> to=<hank@ext.example> proto=ESMTP helo=<pc4> sasl_method=PLAIN sasl_username=gina@corp.example
2026-08-21T10:09:03.000000+02:00 mail postfix/cleanup[7018]: 4ZkV2D5Ep6z9sTz: removed (canceled)
2026-08-21T10:09:03.100000+02:00 mail postfix/submission/smtpd[7017]: disconnect from pc4.example.net[198.51.100.40] ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 quit=1 commands=5/6 notes=bare_lf
2026-08-21T10:10:00.000000+02:00 mail postfix/submission/smtpd[7019]: connect from pc5.example.net[198.51.100.50]
2026-08-21T10:10:01.000000+02:00 mail postfix/submission/smtpd[7019]: 4ZkV2F6Gq7z9sT0: client=pc5.example.net[198.51.100.50], sasl_method=PLAIN, sasl_username=ivan@corp.example
2026-08-21T10:10:02.000000+02:00 mail postfix/cleanup[7020]: 4ZkV2F6Gq7z9sT0: message-id=<m5@corp.example>
2026-08-21T10:10:02.100000+02:00 mail postfix/cleanup[7020]: 4ZkV2F6Gq7z9sT0: milter-hold: END-OF-MESSAGE from pc5.example.net[198.51.100.50]: default_action; from=<ivan@corp.example> to=<judy@ext.example> proto=ESMTP helo=<pc5>
2026-08-21T10:10:02.200000+02:00 mail postfix/submission/smtpd[7019]: disconnect from pc5.example.net[198.51.100.50] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
2026-08-21T10:11:00.000000+02:00 mail postfix/submission/smtpd[7021]: connect from pc6.example.net[198.51.100.60]
2026-08-21T10:11:01.000000+02:00 mail postfix/submission/smtpd[7021]: 4ZkV2G7Hr8z9sT1: client=pc6.example.net[198.51.100.60], sasl_method=PLAIN, sasl_username=kim@corp.example
2026-08-21T10:11:02.000000+02:00 mail postfix/cleanup[7022]: 4ZkV2G7Hr8z9sT1: message-id=<m6@corp.example>
2026-08-21T10:11:02.100000+02:00 mail postfix/cleanup[7022]: 4ZkV2G7Hr8z9sT1: reject: mime-error primary header was terminated with non-empty line: Subject-but-no-colon from pc6.example.net[198.51.100.60]; from=<kim@corp.example> to=<lee@ext.example>
2026-08-21T10:11:02.100000+02:00 mail postfix/cleanup[7022]: 4ZkV2G7Hr8z9sT1: removed (canceled)
2026-08-21T10:11:02.200000+02:00 mail postfix/submission/smtpd[7021]: disconnect from pc6.example.net[198.51.100.60] ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 quit=1 commands=5/6
2026-08-21T10:12:00.000000+02:00 mail postfix/submission/smtpd[7023]: connect from pc7.example.net[198.51.100.70]
2026-08-21T10:12:01.000000+02:00 mail postfix/submission/smtpd[7023]: NOQUEUE: reject: RCPT from pc7.example.net[198.51.100.70]: 554 5.7.1 <v@y.example>: Relay access denied; from=<ann@corp.example> to=<v@y.example> proto=ESMTP helo=<pc7> sasl_method=PLAIN sasl_username=ann@corp.example
2026-08-21T10:12:01.000000+02:00 mail postfix/submission/smtpd[7023]: NOQUEUE: reply filter in: 554 5.7.1 <v@y.example>: Relay access denied
2026-08-21T10:12:01.000000+02:00 mail postfix/submission/smtpd[7023]: NOQUEUE: reply filter out: 550 5.7.1 Rejected
2026-08-21T10:12:02.000000+02:00 mail postfix/submission/smtpd[7023]: NOQUEUE: reject: RCPT from pc7.example.net[198.51.100.70]: bare <LF> received; from=<ann@corp.example> proto=ESMTP helo=<pc7> sasl_method=PLAIN sasl_username=ann@corp.example
2026-08-21T10:12:02.000000+02:00 mail postfix/submission/smtpd[7023]: disconnect from pc7.example.net[198.51.100.70] ehlo=1 auth=1 mail=1 rcpt=0/1 commands=3/4
2026-08-21T10:13:00.000000+02:00 mail postfix/submission/smtpd[7024]: connect from pc8.example.net[198.51.100.80]
2026-08-21T10:13:01.000000+02:00 mail postfix/submission/smtpd[7024]: NOQUEUE: reject: MAIL from pc8.example.net[198.51.100.80]: bare <LF> received; from=<cat@corp.example> proto=ESMTP helo=<pc8> sasl_method=PLAIN sasl_username=cat@corp.example
2026-08-21T10:13:01.000000+02:00 mail postfix/submission/smtpd[7024]: warning: 4ZkV2H8Js9z9sT2: too much BDAT content -- disabling further input from pc8.example.net[198.51.100.80]
2026-08-21T10:13:01.000000+02:00 mail postfix/submission/smtpd[7024]: disconnect from pc8.example.net[198.51.100.80] ehlo=1 auth=1 mail=1 commands=3
2026-08-21T10:14:00.000000+02:00 mail postfix/submission/smtpd[7025]: connect from pc9.example.net[198.51.100.90]
2026-08-21T10:14:01.000000+02:00 mail postfix/submission/smtpd[7025]: NOQUEUE: reject: CONNECT from pc9.example.net[198.51.100.90]: bare <LF> received;
2026-08-21T10:14:01.000000+02:00 mail postfix/submission/smtpd[7025]: disconnect from pc9.example.net[198.51.100.90] commands=0/0
"""
MESSAGES = [
    ("4ZkV1x2Hq9z9sTq", "alice@corp.example", "bob@ext.example", "sent", "2.0.0"),
    ("4ZkV1x2Hq9z9sTq", "alice@corp.example", "carol@ext.example", "bounced", "5.1.1"),
    ("4ZkV1x2Hq9z9sTq", "alice@corp.example", "ned@far.example", "deferred", "4.4.1"),
    ("4ZkV2C4Dn5z9sTy", "erin@corp.example", "frank@ext.example", "rejected", ""),
    ("4ZkV2D5Ep6z9sTz", "gina@corp.example", "hank@ext.example", "rejected", ""),
    ("4ZkV2F6Gq7z9sT0", "ivan@corp.example", "judy@ext.example", "deferred", ""),
    ("4ZkV2G7Hr8z9sT1", "kim@corp.example", "lee@ext.example", "rejected", ""),
    ("NOQUEUE", "ann@corp.example", "v@y.example", "rejected", "5.7.1"),
    ("NOQUEUE", "cat@corp.example", "", "rejected", ""),
]
REASONS = {"hank@ext.example": "bare <LF> received", "judy@ext.example": "held: default_action",
           "lee@ext.example": "mime-error primary header was terminated with non-empty line: "
                              "Subject-but-no-colon"}


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "maillog"
    path.write_text(LOG)
    return path


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]])
def test_the_messages_of_postfix_3_8_to_3_11(cli, log, jobs):
    found = rows(cli, "messages", log, *jobs, year=2026)
    assert sorted((row["queue_id"], row["sasl_username"], row["recipient"], row["status"],
                   row["dsn"]) for row in found) == MESSAGES
    assert {row["recipient"]: row["reason"] for row in found
            if row["recipient"] in REASONS} == REASONS


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]])
def test_the_sessions_and_failures_of_postfix_3_8_to_3_11(cli, log, jobs):
    sessions = {row["client_ip"]: row for row in rows(cli, "sessions", log, "--all", *jobs,
                                                      year=2026)}
    assert sessions["198.51.100.10"]["tls"] == "TLSv1.3 with TLS_AES_256_GCM_SHA384"
    assert {ip: session["sasl_username"] for ip, session in sessions.items()
            if session["sasl_username"]} == {
        "198.51.100.10": "alice@corp.example", "198.51.100.20": "dave@corp.example",
        "198.51.100.30": "erin@corp.example", "198.51.100.40": "gina@corp.example",
        "198.51.100.50": "ivan@corp.example", "198.51.100.60": "kim@corp.example",
        "198.51.100.70": "ann@corp.example", "198.51.100.80": "cat@corp.example"}
    assert {row["client_ip"]: (row["attempts"], row["usernames"], row["mechanisms"])
            for row in rows(cli, "failures", log, *jobs, year=2026)} == {
        "203.0.113.66": (1, ["admin@corp.example"], ["login"]),
        "203.0.113.67": (1, [], ["ntlm"])}
    counted = stats(cli, log, *jobs, year=2026)
    # Not used: the three abnormal ends, the reply filter's two lines, the BDAT warning, the
    # refusal at CONNECT. Untracked: cleanup's `removed (canceled)` of the two messages whose
    # refusal ended them already.
    assert (counted["Postfix lines not used"], counted["untracked queue IDs"]) == (7, 2)
    assert counted["messages still queued"] == 2  # ned's deferral, judy's hold


DELIVERIES_311 = [
    "4ZkV1x2Hq9z9sTq: to=<bob@ext.example>, relay=mx.ext.example[203.0.113.21]:25, delay=1, "
    "delays=0.2/0.01/0.4/0.4, tls=may, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
    "5C1D2E3F4A)",
    "4ZkV1x2Hq9z9sTq: to=<ned@far.example>, relay=none, delay=31, delays=0.2/0.01/30/0, "
    "tls=may?, dsn=4.4.1, status=deferred (connect to mx.far.example[203.0.113.31]:25: "
    "Connection timed out)",
    "4ZkV1x2Hq9z9sTq: to=<o@far.example>, relay=mx.far.example[203.0.113.31]:25, delay=2, "
    "delays=0.2/0.01/1/0.8, tls=!requiretls:nocertmatch, dsn=5.7.10, status=bounced "
    "(REQUIRETLS failed)",
]


@pytest.mark.parametrize("text", DELIVERIES_311)
def test_a_delivery_line_with_tls_takes_the_plain_match(text):
    assert events.PLAIN_PEEK.match(text) is not None
    assert events._PLAIN_DELIVERY.fullmatch(text) is not None
