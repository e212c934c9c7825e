"""Content filters and postscreen against a real Postfix: what production servers put before
and behind smtpd, and the reports of the logins whose mail goes through them.

- An after-queue content filter (content_filter = scan:[127.0.0.1]:PORT on submission, where
  amavisd-new and ClamSMTP sit): e2e_sinks.ContentFilter takes erin's message and hands it
  back to a re-injection smtpd (amavis's master.cf entry, REINJECTION), once passing on
  Postfix's XFORWARD (`client=unknown[127.0.0.1], orig_queue_id=QID, orig_client=...`), once
  not (`client=unknown[127.0.0.1]` alone). The re-injected message's recipients are delivered,
  bounced (550 sink) and expire (451 sink): the reports give those outcomes to erin, from her
  own IP, once each; the queue report names the re-injected message (kind reinjected) while
  it waits. A message the filter refuses (554 after DATA, ClamSMTP's virus) is bounced. The
  same filter behind an lmtp transport (its answers one a recipient) is followed alike.
- A before-queue filter (smtpd_proxy_filter on smtps): bob's message it passes on is his,
  under the queue ID its reply names; a recipient it refuses at RCPT (`warning: proxy ...
  rejected "RCPT TO:<...>": "550 ..."`) and a message it refuses after DATA (`proxy-reject:
  END-OF-MESSAGE: 554 ...`) are rejected; under smtpd_proxy_options = speed_adjust a RCPT's
  refusal refuses the message (both lines), and its recipient counts once.
- postscreen in front of the plain smtpd port: carol's sessions, handed on to smtpd, keep her
  IP, and her failed AUTH is hers.

The module's own instance (`postfix_env`), changed with postconf -M/-P/-e and reloaded. Run
with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import base64
import re
import smtplib
import ssl

import pytest
from test_contain_postfix import BOB, ERIN, reload, report, send_as

from e2e_instance import free_port, listening_ports
from e2e_scenario import pw
from e2e_sinks import ContentFilter

pytestmark = pytest.mark.postfix

# amavisd-new's README.postfix entry for its re-injection port (the restrictions it clears
# are empty here anyway), under the syslog_name many such setups give it.
REINJECTION = ("inet n - n - - smtpd -o syslog_name=postfix/10025 -o content_filter="
               " -o smtpd_proxy_filter="
               " -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks"
               " -o smtpd_authorized_xforward_hosts=127.0.0.0/8 -o mynetworks=127.0.0.0/8"
               " -o smtpd_recipient_restrictions=permit_mynetworks,reject")
CLIENT = "127.0.49.9"
FRANK = "frank@harness.test"
LATER = "127.0.49.10"
# recipient -> its outcome once the filter has handed the message back
RECIPIENTS = {"filtered@ok.test": "sent", "filtered@reject.test": "bounced",
              "filtered@tempfail.test": "expired"}
MESSAGE = b"Subject: filtered\r\n\r\nhello\r\n"


def reconfigure(inst, *postconf_args, listening=()):
    """`postconf -c ETC ARGS` for each of postconf_args, `postfix reload`, and wait until the
    ports `listening` are open."""
    for args in postconf_args:
        inst._run(["postconf", "-c", str(inst.etc), *args])
    reload(inst)
    want = set(listening)
    inst.wait_for(lambda: want <= listening_ports(), 15, f"Postfix listening on {want}")


def reinjection_port(inst) -> int:
    """A new re-injection smtpd (the port a filter hands mail back to), listening."""
    port = free_port()
    service = f"127.0.0.1:{port}"
    reconfigure(inst, ["-M", f"{service}/inet={service} {REINJECTION}"], listening=[port])
    return port


def logged(inst, *queue_ids) -> str:
    """The log's lines that name one of queue_ids."""
    return "".join(line for line in inst.log_text().splitlines(keepends=True)
                   if any(queue_id in line for queue_id in queue_ids))


def outcomes(env, user) -> list:
    """(queue_id, client_ip, recipient, status, dsn) of the messages report's rows of `user`."""
    return sorted((row["queue_id"], row["client_ip"], row["recipient"], row["status"],
                   row["dsn"]) for row in report(env, "messages") if row["sasl_username"] == user)


def user_row(env, user) -> dict:
    [row] = [row for row in report(env, "users") if row["user"] == user]
    return row


def test_an_after_queue_filters_reinjection_is_the_logins_mail_counted_once(postfix_env):
    inst = postfix_env.instance
    scanner = ContentFilter(reinjection_port(inst), refusing=["datareject.test"])
    try:
        submission = f"127.0.0.1:{inst.ports['submission']}/inet"
        reconfigure(inst, ["-M", "scan/unix=scan unix - - n - 10 smtp"
                                 " -o smtp_send_xforward_command=yes"],
                    ["-P", f"{submission}/content_filter=scan:[127.0.0.1]:{scanner.port}"])
        reinjected = {}  # the submission's queue ID -> the re-injected message's
        for xforward in (True, False):
            scanner.xforward = xforward
            original = send_as(postfix_env, "filtered", ERIN, list(RECIPIENTS), client_ip=CLIENT)
            inst.wait_for_log(rf"{original}: to=<.*status=sent .*queued as \w+\)$", 20)
            reinjected[original] = re.search(rf"{original}: to=<.*status=sent .*queued as (\w+)",
                                             inst.log_text())[1]
        refused = send_as(postfix_env, "virus", ERIN, ["virus@datareject.test"],
                          client_ip=CLIENT)
        inst.wait_for_log(rf"{refused}: to=<virus@datareject.test>, .*status=bounced ", 20)
        for new in reinjected.values():
            for recipient in RECIPIENTS:
                inst.wait_for_log(rf"{new}: to=<{re.escape(recipient)}>.* status=(sent|bounced|"
                                  "deferred) ", 20)
        waiting = [row for row in report(postfix_env, "queue") if row["user"] == ERIN]
        for new in reinjected.values():
            inst.wait_for_log(rf"{new}: from=<.*status=expired, returned to sender", 60)
    finally:
        scanner.stop()
    print(logged(inst, refused, *reinjected, *reinjected.values()))
    (first, first_new), (second, second_new) = reinjected.items()
    log = inst.log_text()
    assert re.search(rf"postfix/10025/smtpd\[\d+\]: {first_new}: client=unknown\[127.0.0.1\], "
                     rf"orig_queue_id={first}, orig_client=unknown\[{CLIENT}\]$", log, re.M)
    assert re.search(rf"postfix/10025/smtpd\[\d+\]: {second_new}: client=unknown\[127.0.0.1\]$",
                     log, re.M)

    assert sorted((row["queue_id"], row["kind"], row["parent_queue_id"],
                   row["pending_recipients"]) for row in waiting) == sorted(
        (new, "reinjected", original, 1) for original, new in reinjected.items())
    assert outcomes(postfix_env, ERIN) == sorted(
        [(new, CLIENT, recipient, status, dsn) for new in reinjected.values()
         for (recipient, status), dsn in zip(RECIPIENTS.items(), ("2.0.0", "5.7.1", "4.3.2"))]
        + [(refused, CLIENT, "virus@datareject.test", "bounced", "5.6.0")])
    row = user_row(postfix_env, ERIN)
    assert (row["sessions"], row["messages"], row["recipients"], row["sent"], row["bounced"],
            row["expired"], row["deferred"], row["ips"]) == (3, 3, 7, 2, 3, 2, 0, 1)
    assert not [row for row in report(postfix_env, "queue") if row["user"] == ERIN]


def test_an_after_queue_filter_over_lmtp_is_followed_alike(postfix_env):
    # amavisd-new behind an lmtp transport (content_filter = lmtp-amavis:[127.0.0.1]:10024):
    # one answer to the end of DATA a recipient, each naming the re-injected message.
    inst = postfix_env.instance
    scanner = ContentFilter(reinjection_port(inst), lmtp=True)
    try:
        submission = f"127.0.0.1:{inst.ports['submission']}/inet"
        reconfigure(inst, ["-M", "lmtp-scan/unix=lmtp-scan unix - - n - 10 lmtp"
                                 " -o lmtp_send_xforward_command=yes"],
                    ["-P", f"{submission}/content_filter=lmtp-scan:[127.0.0.1]:{scanner.port}"])
        original = send_as(postfix_env, "lmtp", FRANK, list(RECIPIENTS), client_ip=CLIENT)
        inst.wait_for_log(rf"lmtp\[\d+\]: {original}: to=<.*status=sent .*queued as \w+\)$", 20,
                          count=len(RECIPIENTS))
        new = re.search(rf"{original}: to=<.*status=sent .*queued as (\w+)", inst.log_text())[1]
        inst.wait_for_log(rf"{new}: to=<filtered@tempfail.test>.* status=deferred ", 20)
    finally:
        scanner.stop()
    print(logged(inst, original, new))

    assert outcomes(postfix_env, FRANK) == sorted([
        (new, CLIENT, "filtered@ok.test", "sent", "2.0.0"),
        (new, CLIENT, "filtered@reject.test", "bounced", "5.7.1"),
        (new, CLIENT, "filtered@tempfail.test", "deferred", "4.3.2")])
    assert [(row["queue_id"], row["kind"], row["parent_queue_id"]) for row in
            report(postfix_env, "queue") if row["user"] == FRANK] == [(new, "reinjected", original)]


def test_a_before_queue_filters_refusals_are_the_logins_rejected_mail(postfix_env):
    inst = postfix_env.instance
    proxy = ContentFilter(reinjection_port(inst), refusing=["reject.test", "datareject.test"])
    try:
        smtps = f"127.0.0.1:{inst.ports['smtps']}/inet"
        reconfigure(inst, ["-P", f"{smtps}/smtpd_proxy_filter=127.0.0.1:{proxy.port}"])
        context = ssl.create_default_context(cafile=str(inst.cert))
        with smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], local_hostname="bob-laptop",
                              source_address=(CLIENT, 0), context=context, timeout=30) as smtp:
            smtp.login(BOB, pw(BOB))
            refused = smtp.sendmail(BOB, ["proxied@ok.test", "proxied@reject.test",
                                          "proxied@tempfail.test"], MESSAGE)
            assert list(refused) == ["proxied@reject.test"]
            with pytest.raises(smtplib.SMTPDataError):
                smtp.sendmail(BOB, ["proxied@datareject.test", "proxied2@ok.test"], MESSAGE)
        inst.wait_for_log(r"warning: proxy 127.0.0.1:\d+ rejected \"rcpt TO:<proxied@reject", 20)
        inst.wait_for_log(r"smtpd\[\d+\]: proxy-reject: END-OF-MESSAGE: 554 5.6.0 ", 20)
        inst.wait_for_log(r"smtpd\[\d+\]: proxy-accept: ", 20)
        accepted = re.search(r"proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as (\w+);",
                             inst.log_text())[1]
        inst.wait_for_log(rf"{accepted}: to=<proxied@tempfail.test>.* status=deferred ", 20)
        # smtpd takes the whole transaction first, then passes it on: the filter's refusal of
        # a RCPT refuses the message, with its reply.
        reconfigure(inst, ["-P", f"{smtps}/smtpd_proxy_options=speed_adjust"])
        with smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], local_hostname="bob-laptop",
                              source_address=(LATER, 0), context=context, timeout=30) as smtp:
            smtp.login(BOB, pw(BOB))
            with pytest.raises(smtplib.SMTPDataError):
                smtp.sendmail(BOB, ["late@reject.test", "late@ok.test"], MESSAGE)
        inst.wait_for_log(r"smtpd\[\d+\]: proxy-reject: END-OF-MESSAGE: 550 5.7.1 .* "
                          r"to=<late@reject.test>", 20)
    finally:
        proxy.stop()
        print("".join(line for line in inst.log_text().splitlines(keepends=True)
                      if "proxy" in line or "smtps" in line or "10025" in line))

    assert outcomes(postfix_env, BOB) == sorted([
        (accepted, CLIENT, "proxied@ok.test", "sent", "2.0.0"),
        (accepted, CLIENT, "proxied@tempfail.test", "deferred", "4.3.2"),
        ("NOQUEUE", CLIENT, "proxied@reject.test", "rejected", "5.7.1"),
        ("NOQUEUE", CLIENT, "proxied@datareject.test", "rejected", "5.6.0"),
        ("NOQUEUE", LATER, "late@reject.test", "rejected", "5.7.1"),  # both lines name it
        # late@ok.test, which no line names: the session's rcpt=2 counts it. Not so
        # proxied2@ok.test: its session also queued a message, whose nrcpt is no RCPT count.
        ("NOQUEUE", LATER, "", "rejected", "5.7.1"),
    ])
    row = user_row(postfix_env, BOB)
    assert (row["sessions"], row["recipients"], row["sent"], row["deferred"],
            row["rejected"]) == (2, 6, 1, 1, 4)
    sessions = [row for row in report(postfix_env, "sessions") if row["sasl_username"] == BOB]
    assert [(session["client_ip"], session["recipients"], session["rejected"])
            for session in sessions] == [(CLIENT, 5, 1), (LATER, 2, 0)]
    assert [(row["queue_id"], row["kind"]) for row in report(postfix_env, "queue")
            if row["user"] == BOB] == [(accepted, "submission")]


def test_logins_behind_postscreen_keep_their_ip_and_sessions(postfix_env):
    inst = postfix_env.instance
    port = inst.ports["smtpd"]
    plain = f"127.0.0.1:{port}"
    reconfigure(inst, ["-M", f"{plain}/inet={plain} inet n - n - 1 postscreen"],
                ["-M", "smtpd/pass=smtpd pass - - n - - smtpd"],
                ["-M", "dnsblog/unix=dnsblog unix - - n - 0 dnsblog"],
                ["-M", "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"],
                ["-e", "postscreen_greet_wait = 1s"],
                listening=[port])
    screened = "127.0.49.7"
    for wrong_first in (True, False):
        with smtplib.SMTP("127.0.0.1", port, local_hostname="carol-pc",
                          source_address=(screened, 0), timeout=30) as smtp:
            if wrong_first:
                wrong = base64.b64encode(b"\0carol\0not-carols-password").decode()
                assert smtp.docmd("AUTH", f"PLAIN {wrong}")[0] == 535
            smtp.login("carol", pw("carol"))
            smtp.sendmail("carol@harness.test", ["screened@ok.test"], MESSAGE)
    inst.wait_for_log(r"to=<screened@ok.test>.* status=sent ", 20, count=2)
    inst.wait_for_log(rf"smtpd\[\d+\]: disconnect from unknown\[{screened}\]", 20, count=2)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if screened in line or "postscreen" in line))
    assert re.search(rf"postscreen\[\d+\]: PASS NEW \[{screened}\]:\d+$", inst.log_text(), re.M)

    sessions = [row for row in report(postfix_env, "sessions") if row["sasl_username"] == "carol"]
    assert [(row["client_ip"], row["service"], row["auth"], row["failed_auth"], row["messages"],
             row["complete"]) for row in sessions] == [(screened, "postfix", "1/2", 1, 1, True),
                                                       (screened, "postfix", "1", 0, 1, True)]
    row = user_row(postfix_env, "carol")
    assert (row["sessions"], row["messages"], row["sent"], row["ips"]) == (2, 2, 2, 1)
