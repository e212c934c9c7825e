"""`maillog-sasl contain` against a real Postfix (issue 14): the hold and the REJECT really happen.

The private instance of the `postfix_env` fixture (conftest.py; its own for this module, stopped
in its finalizer) gets two authenticated messages to the 451 sink, one from erin and one from bob,
both deferred. `contain erin LOG --hold` must put erin's on hold and leave bob's alone, as
`postqueue -j` shows; `--release` takes it off hold again. `contain erin --reject` writes the
check_sasl_access table and runs postmap; with the main.cf line it prints added, erin's
authenticated mail is refused (at RCPT under the default smtpd_delay_reject=yes, at MAIL FROM
itself with smtpd_delay_reject=no) while bob's is not, and `--release` lets erin send again.
`contain erin --hold-logins` writes `erin HOLD compromised account` instead: erin's new mail is
put on hold (NOQUEUE before the queue file by default, with the queue ID when it is opened at
MAIL FROM; header_checks HOLD for bob's), and the queue and messages reports show it held
(these lines are those of tests/test_hold.py and the corpus); `contain erin LOG --hold
--release` then finds and releases it, and its delivery lines take over.

The command runs as root, as an administrator would run it (no --apply: root acts), with
`--config-dir` for the private instance. Run with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import contextlib
import json
import re
import smtplib
import ssl
import subprocess
import sys

import pytest

from e2e_driver import Session, Truth
from e2e_scenario import pw

pytestmark = pytest.mark.postfix

ERIN = "erin@harness.test"
BOB = "bob@harness.test"
REFUSAL = "SASL login name rejected: compromised account: contact support"


def contain(env, *args):
    inst = env.instance
    proc = subprocess.run([sys.executable, "-m", "maillog_sasl", "contain", *map(str, args),
                           "--config-dir", str(inst.etc)],
                          env=inst.env, capture_output=True, text=True, timeout=120)
    return proc


def queue_names(env) -> dict:
    return {entry["queue_id"]: entry["queue_name"] for entry in env.instance.queue()}


def send_as(env, label, user, rcpts, client_ip="127.0.0.1", **options) -> str:
    """One message submitted as `user` (STARTTLS, AUTH PLAIN) from `client_ip`; its queue ID."""
    inst = env.instance
    with Session(Truth(), label, "submission", inst.ports["submission"], client_ip,
                 "client.harness.test", cafile=str(inst.cert)) as session:
        session.starttls()
        session.auth_plain(user, pw(user))
        return session.send(user, rcpts, **options)


def send_deferred(env, user, rcpt) -> str:
    """An authenticated message to the 451 sink, waited for until its first deferral."""
    inst = env.instance
    queue_id = send_as(env, f"contain-{user}", user, [rcpt], late=True)
    inst.wait_for_log(rf"{queue_id}: to=<{re.escape(rcpt)}>.*status=deferred", 15)
    return queue_id


@contextlib.contextmanager
def logged_in(env, user):
    """An smtplib connection to the submission port, after STARTTLS and AUTH as `user`."""
    inst = env.instance
    context = ssl.create_default_context(cafile=str(inst.cert))
    with smtplib.SMTP("127.0.0.1", inst.ports["submission"], local_hostname="client.harness.test",
                      timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.login(user, pw(user))
        yield smtp


def try_mail(env, user):
    """(MAIL FROM reply, RCPT TO reply or None) of an authenticated transaction; then RSET."""
    with logged_in(env, user) as smtp:
        mail = smtp.mail(user)
        rcpt = smtp.rcpt("someone@ok.test") if mail[0] == 250 else None
        smtp.rset()
    return mail, rcpt


def _text(reply):
    return f"{reply[0]} {reply[1].decode()}" if reply else ""


def test_hold_puts_only_the_users_queued_mail_on_hold_and_release_takes_it_off(postfix_env):
    inst = postfix_env.instance
    erin = send_deferred(postfix_env, ERIN, "erin-victim@tempfail.test")
    bob = send_deferred(postfix_env, BOB, "bob-friend@tempfail.test")

    proc = contain(postfix_env, ERIN, inst.maillog, "--hold")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert f"printf '%s\\n' {erin} | postsuper -c {inst.etc} -h -\n" in proc.stdout
    assert "Placed on hold: 1 message" in proc.stdout
    names = queue_names(postfix_env)
    assert names[erin] == "hold"
    assert names.get(bob) != "hold"
    inst.wait_for_log(rf"postsuper\[\d+\]: {erin}: placed on hold", 10)

    proc = contain(postfix_env, "--release", ERIN, inst.maillog, "--hold")
    assert proc.returncode == 0, proc.stderr
    assert f"| postsuper -c {inst.etc} -H -\n" in proc.stdout
    inst.wait_for_log(rf"postsuper\[\d+\]: {erin}: released from hold", 10)
    assert queue_names(postfix_env).get(erin) != "hold"


def test_reject_refuses_the_users_authenticated_mail_once_main_cf_applies_the_table(postfix_env):
    inst = postfix_env.instance
    table = inst.etc / "sasl_access"
    assert _text(try_mail(postfix_env, ERIN)[1]).startswith("250")

    proc = contain(postfix_env, ERIN, "--reject")
    assert proc.returncode == 0, proc.stderr
    assert f"+{ERIN} REJECT compromised account: contact support\n" in proc.stdout
    assert f"postmap -c {inst.etc} hash:{table}\n" in proc.stdout
    assert (table.parent / "sasl_access.db").exists()
    hint = re.search(r"^#     (smtpd_sender_restrictions = .*)$", proc.stdout, re.M)
    assert hint, proc.stdout
    assert hint.group(1) == f"smtpd_sender_restrictions = check_sasl_access hash:{table}"

    # The printed line, as the administrator adds it.
    inst._run(["postconf", "-c", str(inst.etc), "-e", hint.group(1)])
    inst.postfix("reload")
    inst.wait_for_log(r"reload -- version", 15)

    def refused():
        mail, rcpt = try_mail(postfix_env, ERIN)
        return REFUSAL in _text(rcpt) and (mail, rcpt)

    mail, rcpt = inst.wait_for(refused, 20, "erin's RCPT refused by check_sasl_access")
    assert mail[0] == 250                      # smtpd_delay_reject=yes: refused at RCPT
    assert _text(rcpt).startswith(f"554 5.7.1 <{ERIN}>: {REFUSAL}")
    assert _text(try_mail(postfix_env, BOB)[1]).startswith("250")
    inst.wait_for_log(rf"NOQUEUE: reject: RCPT from .*: 554 5.7.1 <{re.escape(ERIN)}>: "
                      rf"{REFUSAL}; from=<{re.escape(ERIN)}>", 10)

    # With the table in use, contain has no main.cf line to print; the second add changes nothing.
    again = contain(postfix_env, ERIN, "--reject")
    assert again.returncode == 0, again.stderr
    assert "main.cf" not in again.stdout and "already has REJECT" in again.stdout

    # Without delay, the sender restrictions answer MAIL FROM itself.
    inst._run(["postconf", "-c", str(inst.etc), "-e", "smtpd_delay_reject = no"])
    inst.postfix("reload")

    def mail_refused():
        mail, _ = try_mail(postfix_env, ERIN)
        return REFUSAL in _text(mail) and mail

    mail = inst.wait_for(mail_refused, 20, "erin's MAIL FROM refused by check_sasl_access")
    assert _text(mail).startswith(f"554 5.7.1 <{ERIN}>: {REFUSAL}")
    assert try_mail(postfix_env, BOB)[0][0] == 250

    proc = contain(postfix_env, "--release", ERIN)
    assert proc.returncode == 0, proc.stderr
    assert f"-{ERIN} REJECT compromised account: contact support\n" in proc.stdout
    inst.wait_for(lambda: try_mail(postfix_env, ERIN)[0][0] == 250, 20,
                  "erin's MAIL FROM accepted after --release")
    assert _text(try_mail(postfix_env, ERIN)[1]).startswith("250")


def send_held(env, user, rcpts) -> str:
    """An authenticated message that check_sasl_access HOLD puts on hold; its queue ID."""
    inst = env.instance
    queue_id = send_as(env, f"hold-{user}", user, rcpts)
    inst.wait_for(lambda: queue_names(env).get(queue_id) == "hold", 15,
                  f"{queue_id} in the hold queue")
    return queue_id


def reload(inst):
    """postfix reload, waited for in the log."""
    before = inst.log_text().count("reload -- version")
    inst.postfix("reload")
    inst.wait_for_log(r"reload -- version", 15, count=before + 1)


def report(env, name) -> list:
    proc = subprocess.run([sys.executable, "-m", "maillog_sasl", "--report", name,
                           "--format", "json", str(env.instance.maillog)],
                          env=env.instance.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_hold_logins_puts_the_users_new_mail_on_hold_and_the_reports_show_it_queued(postfix_env):
    inst = postfix_env.instance
    # Sender restrictions evaluated at RCPT (the default), whatever the test before left.
    inst._run(["postconf", "-c", str(inst.etc), "-e", "smtpd_delay_reject = yes"])
    proc = contain(postfix_env, ERIN, "--hold-logins")
    assert proc.returncode == 0, proc.stderr
    assert f"+{ERIN} HOLD compromised account\n" in proc.stdout
    hint = re.search(r"^#     (smtpd_sender_restrictions = .*)$", proc.stdout, re.M)
    if hint:
        inst._run(["postconf", "-c", str(inst.etc), "-e", hint.group(1)])
    reload(inst)

    # smtpd_delay_open_until_valid_rcpt=yes (the default): the HOLD comes before the queue file.
    noqueue = send_held(postfix_env, ERIN, ["held1@ok.test", "held2@tempfail.test"])
    inst.wait_for_log(rf"NOQUEUE: hold: RCPT from .*<{re.escape(ERIN)}>: "
                      r"SASL login name compromised account;", 10)
    # With the queue file open at MAIL FROM, the hold line names the queue ID.
    inst._run(["postconf", "-c", str(inst.etc), "-e", "smtpd_delay_open_until_valid_rcpt = no"])
    reload(inst)
    withqid = inst.wait_for(lambda: send_held(postfix_env, ERIN, ["held3@ok.test"]), 30,
                            "a held message")
    inst.wait_for_log(rf"{withqid}: hold: RCPT from .*<{re.escape(ERIN)}>: "
                      r"SASL login name compromised account;", 10)
    # header_checks HOLD: cleanup holds bob's message, whatever his login.
    (inst.etc / "header_checks").write_text("/^Subject: hold me/ HOLD held by header check\n")
    inst._run(["postconf", "-c", str(inst.etc), "-e",
               f"header_checks = regexp:{inst.etc / 'header_checks'}"])
    reload(inst)
    byheader = send_as(postfix_env, "hold-header", BOB, ["held4@ok.test"], subject="hold me")
    inst.wait_for_log(rf"{byheader}: hold: header Subject: hold me", 10)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if "hold" in line or noqueue in line or withqid in line))

    queued = {row["queue_id"]: row for row in report(postfix_env, "queue")}
    for queue_id, user in ((noqueue, ERIN), (withqid, ERIN), (byheader, BOB)):
        assert queued[queue_id]["user"] == user
        assert queued[queue_id]["last_reason"].startswith("held: "), queued[queue_id]
        assert queued[queue_id]["pending_recipients"] == 1
    assert queued[byheader]["last_reason"] == "held: header Subject: hold me: held by header check"
    rows = [row for row in report(postfix_env, "messages") if row["queue_id"] == noqueue]
    assert [(row["recipient"], row["status"], row["reason"]) for row in rows] == [
        ("held1@ok.test", "deferred", f"held: <{ERIN}>: SASL login name compromised account")]

    # `contain --hold --release` finds the held messages in the log and releases them: qmgr
    # reads them, and their delivery lines take over.
    proc = contain(postfix_env, "--release", ERIN, inst.maillog, "--hold")
    assert proc.returncode == 0, proc.stderr
    inst.wait_for_log(rf"postsuper\[\d+\]: {noqueue}: released from hold", 10)
    inst.wait_for_log(rf"{noqueue}: to=<held2@tempfail.test>.*status=deferred", 20)
    inst.wait_for_log(rf"{noqueue}: to=<held1@ok.test>.*status=sent", 20)
    rows = {row["recipient"]: row for row in report(postfix_env, "messages")
            if row["queue_id"] == noqueue}
    assert sorted(rows) == ["held1@ok.test", "held2@tempfail.test"]
    assert rows["held1@ok.test"]["status"] == "sent"
    assert rows["held2@tempfail.test"]["status"] == "deferred"
    assert not rows["held2@tempfail.test"]["reason"].startswith("held: ")
    print("".join(line for line in inst.log_text().splitlines(keepends=True) if noqueue in line))



def test_discard_drops_the_mail_and_the_reports_count_it_refused(postfix_env):
    inst = postfix_env.instance
    table = inst.etc / "discard_access"
    table.write_text(f"{ERIN} DISCARD compromised account\n")
    inst._run(["postmap", "-c", str(inst.etc), f"hash:{table}"])
    (inst.etc / "header_checks").write_text(
        "/^Subject: discard me/ DISCARD dropped by header check\n")
    for setting in ("smtpd_delay_reject = yes", "smtpd_delay_open_until_valid_rcpt = yes",
                    f"smtpd_sender_restrictions = check_sasl_access hash:{table}",
                    f"header_checks = regexp:{inst.etc / 'header_checks'}"):
        inst._run(["postconf", "-c", str(inst.etc), "-e", setting])
    reload(inst)

    # The client is told 250 (send_as reads the queue ID in the reply); the mail is dropped.
    noqueue = send_as(postfix_env, "discard-erin", ERIN, ["dropped1@ok.test",
                                                          "dropped2@tempfail.test"])
    inst.wait_for_log(rf"NOQUEUE: discard: RCPT from .*<{re.escape(ERIN)}>: "
                      r"SASL login name compromised account;", 10)
    # With the queue file open at MAIL FROM, the discard line names the queue ID.
    inst._run(["postconf", "-c", str(inst.etc), "-e", "smtpd_delay_open_until_valid_rcpt = no"])
    reload(inst)
    withqid = send_as(postfix_env, "discard-erin-qid", ERIN, ["dropped3@ok.test"])
    inst.wait_for_log(rf"{withqid}: discard: RCPT from .*<{re.escape(ERIN)}>: ", 10)
    # header_checks DISCARD: cleanup drops bob's message.
    byheader = send_as(postfix_env, "discard-header", BOB, ["dropped4@ok.test"],
                       subject="discard me")
    inst.wait_for_log(rf"{byheader}: discard: header Subject: discard me", 10)
    pids = set(re.findall(rf"smtpd\[(\d+)\]: (?:{noqueue}|{withqid}|{byheader}): client=",
                          inst.log_text()))
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if "discard" in line or any(f"smtpd[{pid}]" in line for pid in pids)
                  or any(queue_id in line for queue_id in (noqueue, withqid, byheader))))

    rows = rows_of(report(postfix_env, "messages"), (noqueue, withqid, byheader),
                   ("sasl_username", "sender", "recipient", "status", "reason"))
    dropped = f"discard: <{ERIN}>: SASL login name compromised account"
    assert rows == {
        # dropped2@tempfail.test, which no line names: the disconnect's rcpt=2 counts it.
        noqueue: [(ERIN, ERIN, "", "rejected", dropped),
                  (ERIN, ERIN, "dropped1@ok.test", "rejected", dropped)],
        withqid: [(ERIN, ERIN, "dropped3@ok.test", "rejected", dropped)],
        byheader: [(BOB, BOB, "dropped4@ok.test", "rejected",
                    "discard: header Subject: discard me: dropped by header check")]}
    queued = {row["queue_id"] for row in report(postfix_env, "queue")}
    assert not queued & {noqueue, withqid, byheader}
    assert not {noqueue, withqid, byheader} & set(queue_names(postfix_env))



def rows_of(rows, queue_ids, columns) -> dict:
    """Of the messages report's `rows`, those of `queue_ids`: each one's `columns`, sorted."""
    found: dict = {}
    for row in rows:
        if row["queue_id"] in queue_ids:
            found.setdefault(row["queue_id"], []).append(tuple(row[name] for name in columns))
    return {queue_id: sorted(values) for queue_id, values in found.items()}


def send_refused(env, user, rcpts, subject) -> None:
    """A message `user` submits to `rcpts`, refused after DATA (550 or 554)."""
    with logged_in(env, user) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(user, rcpts, f"From: {user}\r\nTo: {rcpts[0]}\r\n"
                                       f"Subject: {subject}\r\n\r\nbody\r\n")
    assert refused.value.smtp_code in (550, 554)


def test_whole_message_refusals_name_one_recipient_and_the_report_shows_it(postfix_env):
    """cleanup's header_checks REJECT and smtpd's end-of-data REJECT of a message to two
    recipients: the client is told 5xx after DATA. cleanup's line names the sender and one
    recipient, the last; smtpd's names none (tests/test_content_refusals.py has the lines). The
    messages report shows the one named, refused, with the line's sender; for smtpd's, one
    recipient with no address stands for them."""
    inst = postfix_env.instance
    table = inst.etc / "eod_access"
    table.write_text(f"{BOB} REJECT compromised account\n")
    inst._run(["postmap", "-c", str(inst.etc), f"hash:{table}"])
    (inst.etc / "header_checks").write_text("/^Subject: reject me/ REJECT refused by header check\n")
    inst._run(["postconf", "-c", str(inst.etc), "-e",
               f"header_checks = regexp:{inst.etc / 'header_checks'}"])
    reload(inst)
    send_refused(postfix_env, BOB, ["first@ok.test", "second@ok.test"], "reject me")
    inst.wait_for_log(r"disconnect from .* data=0/1", 10, count=1)
    inst._run(["postconf", "-c", str(inst.etc), "-e",
               f"smtpd_end_of_data_restrictions = check_sasl_access hash:{table}"])
    reload(inst)
    send_refused(postfix_env, BOB, ["third@ok.test", "fourth@ok.test"], "hello")
    inst.wait_for_log(r"disconnect from .* data=0/1", 10, count=2)
    text = inst.log_text()
    by_header = re.search(r"cleanup\[\d+\]: (\w+): reject: header Subject: reject me", text)[1]
    at_end = re.search(r"smtpd\[\d+\]: (\w+): reject: END-OF-MESSAGE from ", text)[1]
    pids = set(re.findall(rf"smtpd\[(\d+)\]: (?:{by_header}|{at_end}): client=", text))
    print("".join(line for line in text.splitlines(keepends=True)
                  if any(f"smtpd[{pid}]" in line for pid in pids)
                  or by_header in line or at_end in line))
    assert by_header != at_end
    rows = rows_of(report(postfix_env, "messages"), (by_header, at_end),
                   ("sender", "recipient", "status", "dsn", "reason"))
    header = (BOB, "", "rejected", "5.7.1", "header Subject: reject me: 5.7.1 refused by header "
              "check")
    access = (BOB, "", "rejected", "5.7.1",
              f"554 5.7.1 <{BOB}>: SASL login name rejected: compromised account")
    # The recipients no line names are rows with no address, as many as the disconnect's
    # rcpt=2 counts: first@ok.test beside the one cleanup names; both of smtpd's.
    assert rows == {by_header: [header, (*header[:1], "second@ok.test", *header[2:])],
                    at_end: [access, access]}


def test_a_header_checks_hold_then_an_end_of_data_hold_hold_one_recipient(postfix_env):
    """header_checks HOLD (cleanup names the last recipient) and smtpd_end_of_data_restrictions
    HOLD (smtpd names none, and logs first) on one message to two recipients: the client is
    told 250 and the message is held (tests/test_content_refusals.py has the lines). The
    recipient cleanup names takes the place of the one with no address smtpd's line gave: one
    row, held, its reason the last line's."""
    inst = postfix_env.instance
    table = inst.etc / "eod_hold"
    table.write_text(f"{BOB} HOLD held at end of data\n")
    inst._run(["postmap", "-c", str(inst.etc), f"hash:{table}"])
    (inst.etc / "header_checks").write_text("/^Subject: hold me/ HOLD held by header check\n")
    for setting in (f"header_checks = regexp:{inst.etc / 'header_checks'}",
                    f"smtpd_end_of_data_restrictions = check_sasl_access hash:{table}"):
        inst._run(["postconf", "-c", str(inst.etc), "-e", setting])
    reload(inst)
    queue_id = send_as(postfix_env, "hold-twice", BOB, ["first@ok.test", "second@ok.test"],
                       subject="hold me")
    inst.wait_for_log(rf"{queue_id}: hold: END-OF-MESSAGE from ", 10)
    text = inst.log_text()
    pids = set(re.findall(rf"smtpd\[(\d+)\]: {queue_id}: client=", text))
    print("".join(line for line in text.splitlines(keepends=True)
                  if any(f"smtpd[{pid}]" in line for pid in pids) or queue_id in line))
    assert queue_names(postfix_env)[queue_id] == "hold"
    rows = [row for row in report(postfix_env, "messages") if row["queue_id"] == queue_id]
    assert [(row["recipient"], row["status"], row["reason"]) for row in rows] == [
        ("second@ok.test", "deferred", "held: header Subject: hold me: held by header check")]
