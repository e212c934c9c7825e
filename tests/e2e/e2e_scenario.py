"""e2e_scenario: the traffic the end-to-end test sends through a real Postfix, and its ground truth.

NAME
    e2e_scenario - run the scripted SMTP AUTH scenario; return the Truth; or, as a program,
                   run it on a fresh instance and save the log and truth.json.

DESCRIPTION
    run_scenario(instance, sinks) drives e2e_driver Sessions against a started e2e_instance:

    phase A  logins and mail: alice with CRAM-MD5 computed as in the seed write-up over
             submission+STARTTLS, and again from a second IP over smtps with PLAIN; bob sends three
             messages in one smtps session (LOGIN); carol (a bare login, no realm) uses PLAIN on
             the plain port without TLS; dave authenticates and quits; frank fails once then
             succeeds (auth=1/2); wrong passwords and unknown users from several IPs, an AUTH LOGIN
             cancelled with '*', AUTH before STARTTLS on submission; the compromised account erin
             guesses twice, then sends bursts from six IPs to many recipients, most of them failing
             (550 and 554 sinks, a 451 sink and a closed port that expire, unknown local users
             refused at RCPT, one transaction refused entirely: NOQUEUE), two of them at the same
             time, one logged in but refused every recipient (its username never reaches the
             log); a scanner that drops the connection after a failed AUTH; an unauthenticated
             inbound message and an unauthenticated relay attempt.
    phase B  wait until every phase-A message is removed from the queue (delivered, bounced or
             expired after maximal_queue_lifetime) and the bounces are delivered.
    phase C  late messages with recipients that can only be deferred: wait for their first
             deferral (the second one to the closed port is deferred by postfix/error while
             qmgr holds the destination dead), so the log ends with them still queued.

    The caller stops the instance; the log is final then.

    Run as a program (root, Postfix installed) to regenerate the fixture:
        /work/venv/bin/python tests/e2e/e2e_scenario.py --save tests/fixtures/postfix37

DIAGNOSTICS
    ScenarioError from the driver when Postfix answers differently than planned; TimeoutError when
    a phase does not finish in time (the message names what was awaited).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_driver import Session, Truth, now_iso  # noqa: E402
from e2e_instance import LIFETIME, PostfixInstance, free_port  # noqa: E402
from e2e_sinks import REPLIES, SmtpSink  # noqa: E402

# login -> (realm for saslpasswd2 or None for the server's hostname, password)
USERS = {
    "alice@harness.test": ("harness.test", "alice-Secret-1"),
    "bob@harness.test": ("harness.test", "bob-Secret-2"),
    "carol": (None, "carol-Secret-3"),
    "dave@harness.test": ("harness.test", "dave-Secret-4"),
    "frank@harness.test": ("harness.test", "frank-Secret-5"),
    "erin@harness.test": ("harness.test", "erin-Secret-6"),
}
LOCAL_NAMES = ["alice", "bob", "carol", "dave", "frank", "erin", "inbox", "noreply", "outsider"]
SINK_DOMAINS = {"ok.test": "accept", "reject.test": "rcpt550", "tempfail.test": "rcpt451",
                "datareject.test": "data554"}
CLOSED_DOMAIN = "down.test"


def _login_name(login):
    """saslpasswd2 wants the bare name with -u REALM."""
    return login.split("@")[0]


def sasl_users():
    """USERS in the form PostfixInstance wants: name -> (realm, password)."""
    return {_login_name(k): (realm, pw) for k, (realm, pw) in USERS.items()}


def pw(login):
    return USERS[login][1]


class Environment:
    """Sinks + instance, built and started together; close() stops all of it."""

    def __init__(self, root: Path):
        self.sinks = {}
        self.instance = None
        try:
            self.sinks = {dom: SmtpSink(beh) for dom, beh in SINK_DOMAINS.items()}
            routes = {dom: sink.port for dom, sink in self.sinks.items()}
            routes[CLOSED_DOMAIN] = free_port()       # nothing listens there
            self.instance = PostfixInstance(root, sasl_users(), routes, LOCAL_NAMES,
                                            one_at_a_time={CLOSED_DOMAIN})
            self.instance.build().start()
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.instance is not None:
            self.instance.stop()
        for sink in self.sinks.values():
            sink.stop()


def _log_has(instance, pattern):
    return re.search(pattern, instance.log_text(), re.M) is not None


def run_scenario(instance: PostfixInstance, sinks: dict, progress=print) -> dict:
    inst = instance
    truth = Truth(
        postfix_version=inst.version(), log_host=inst.hostname.split(".")[0],
        year=dt.datetime.now().year, utc_offset=dt.datetime.now().astimezone().strftime("%z"),
        ports=dict(inst.ports), sink_ports={d: s.port for d, s in sinks.items()},
        closed_port=inst.routes[CLOSED_DOMAIN], sink_replies=dict(REPLIES),
        lifetime_seconds=LIFETIME, started=now_iso(),
    )
    cafile = str(inst.cert)
    P = inst.ports
    t0 = time.monotonic()

    def session(label, service, ip, helo, **kw):
        port = P[service]
        return Session(truth, label, service, port, ip, helo, cafile,
                       implicit_tls=(service == "smtps"), **kw)

    A, B = "alice@harness.test", "bob@harness.test"
    # ---------------------------------------------------------------- phase A
    with session("alice-seed-cram-md5", "submission", "127.0.1.1", "alice-laptop") as s:
        s.starttls()
        s.auth_cram_md5(A, pw(A), seed_style=True)
        s.send(A, ["friend1@ok.test", "inbox@harness.test"])
    with session("alice-second-ip", "smtps", "127.0.2.2", "alice-phone") as s:
        s.auth_plain(A, pw(A))
        s.send(A, ["friend2@ok.test", "ghost@harness.test"], expect_rejected={"ghost@harness.test"})
    with session("bob-three-messages", "smtps", "127.0.3.3", "bob-desktop") as s:
        s.auth_login(B, pw(B))
        s.send(B, ["friend1@ok.test"])
        s.send(B, ["blocked@reject.test", "friend2@ok.test"])
        s.send(B, ["spamtrap@datareject.test"])
    with session("carol-bare-login-cleartext", "smtpd", "127.0.4.4", "carol-pc") as s:
        s.auth_plain("carol", pw("carol"))
        s.send("carol@harness.test", ["inbox@harness.test"])
    with session("dave-auth-then-quit", "submission", "127.0.5.5", "dave-tablet") as s:
        s.starttls()
        s.auth_login("dave@harness.test", pw("dave@harness.test"))
    with session("frank-fail-then-success", "smtpd", "127.0.6.6", "frank-pc") as s:
        s.starttls()
        s.auth_plain("frank@harness.test", "not-franks-password", expect_ok=False)
        s.auth_cram_md5("frank@harness.test", pw("frank@harness.test"))
        s.send("frank@harness.test", ["friend3@ok.test", "nobody@reject.test"])
    progress(f"  legitimate users done at {time.monotonic() - t0:.1f}s")
    time.sleep(1.1)     # so that times in the reports tell the groups apart

    # wrong passwords, unknown users, a cancelled AUTH, AUTH before STARTTLS
    with session("guess-three-mechanisms", "smtpd", "127.13.0.1", "scanner1") as s:
        s.auth_plain(A, "123456", expect_ok=False)
        s.auth_login(A, "password", expect_ok=False)
        s.auth_cram_md5(A, "qwerty", expect_ok=False)
    with session("guess-unknown-user", "smtps", "127.13.0.2", "scanner2") as s:
        s.auth_login("admin", "admin", expect_ok=False)
        s.auth_login("admin", "admin123", expect_ok=False)
    with session("guess-bob-submission", "submission", "127.13.0.3", "scanner3") as s:
        s.starttls()
        s.auth_plain(B, "bob", expect_ok=False)
    with session("guess-root-submission", "submission", "127.13.0.3", "scanner3") as s:
        s.starttls()
        s.auth_cram_md5("root", "toor", expect_ok=False)
    with session("login-cancelled-then-wrong", "smtpd", "127.13.0.4", "scanner4") as s:
        s.auth_login_abort("carol")
        s.auth_login("carol", "carol", expect_ok=False)
    with session("auth-before-starttls", "submission", "127.14.0.1", "impatient") as s:
        s.auth_refused("PLAIN", A, pw(A))

    # the compromised account
    E = "erin@harness.test"
    with session("erin-guessed", "smtps", "127.66.0.1", "bot1") as s:
        s.auth_login(E, "erin", expect_ok=False)
        s.auth_login(E, "erin2024", expect_ok=False)
    time.sleep(1.1)     # erin's first login is a second after the guesses
    with session("erin-burst-1", "smtps", "127.66.0.1", "bot1") as s:
        s.auth_login(E, pw(E))
        s.send(E, ["v1@reject.test", "v2@tempfail.test", "v3@down.test", "ghost1@harness.test",
                   "v4@ok.test"], expect_rejected={"ghost1@harness.test"})
    with session("erin-burst-2", "smtpd", "127.66.0.2", "bot2") as s:
        s.auth_plain(E, pw(E))
        s.send(E, ["ghost2@harness.test", "ghost3@harness.test"],
               expect_rejected={"ghost2@harness.test", "ghost3@harness.test"})
        s.send("noreply@harness.test", ["v5@tempfail.test", "v6@reject.test",
                                        "v7@datareject.test", "v8@down.test"])
    with session("erin-burst-3", "submission", "127.66.0.3", "bot3") as s:
        s.starttls()
        s.auth_login(E, pw(E))
        s.send(E, ["v9@reject.test", "v10@reject.test", "v11@tempfail.test",
                   "ghost4@harness.test"], expect_rejected={"ghost4@harness.test"})
    # two bots at once: their smtpd processes' lines interleave in the log
    with session("erin-burst-4", "smtps", "127.66.0.4", "bot4") as s4, \
            session("erin-burst-5", "smtpd", "127.66.0.5", "bot5") as s5:
        s4.auth_plain(E, pw(E))
        s5.auth_login(E, pw(E))
        s4.send(E, ["v12@down.test", "v13@tempfail.test"])
        s5.send(E, ["v16@datareject.test", "v17@reject.test", "v18@tempfail.test"])
        s4.send(E, ["v14@reject.test", "v15@ok.test"])
        s5.quit()
    with session("erin-burst-6", "smtps", "127.66.0.6", "bot6") as s:
        s.auth_login(E, pw(E))
        s.send(E, ["v19@reject.test", "v20@down.test", "ghost5@harness.test"],
               expect_rejected={"ghost5@harness.test"})
    with session("erin-all-refused", "submission", "127.66.0.7", "bot7") as s:
        # logged in, but nothing queued: Postfix never logs the username of this session
        s.starttls()
        s.auth_plain(E, pw(E))
        s.send(E, ["ghost6@harness.test", "ghost7@harness.test"],
               expect_rejected={"ghost6@harness.test", "ghost7@harness.test"})
    with session("guess-and-drop", "smtps", "127.13.0.5", "scanner5") as s:
        s.auth_plain("info@harness.test", "info", expect_ok=False)
        s.abandon()     # no QUIT: "lost connection after AUTH"

    # no AUTH at all
    with session("inbound-unauthenticated", "smtpd", "127.20.0.1", "mx.ok.test") as s:
        s.send("outsider@ok.test", ["inbox@harness.test"])
    with session("relay-attempt", "smtpd", "127.99.0.7", "relaytest") as s:
        s.send("spammer@ok.test", ["victim@ok.test"], expect_rejected={"victim@ok.test"})
    progress(f"  phase A sent at {time.monotonic() - t0:.1f}s")

    # ---------------------------------------------------------------- phase B
    early = truth.queue_ids(late=False)

    def all_removed():
        text = inst.log_text()
        return all(re.search(rf"^.* {q}: removed$", text, re.M) for q in early)

    inst.wait_for(all_removed, LIFETIME * 3 + 30, f"removal of {len(early)} messages")
    inst.wait_for(lambda: not inst.queue(), 30, "an empty queue (bounces delivered)")
    progress(f"  phase B (expiry) done at {time.monotonic() - t0:.1f}s")

    # ---------------------------------------------------------------- phase C
    def wait_status(qid, rcpt, status):
        inst.wait_for(lambda: _log_has(inst, rf" {qid}: to=<{re.escape(rcpt)}>.* status={status} "),
                      30, f"{qid} {rcpt} {status}")

    with session("alice-late-deferred", "submission", "127.0.1.1", "alice-laptop") as s:
        s.starttls()
        s.auth_cram_md5(A, pw(A))
        qid = s.send(A, ["later1@tempfail.test", "later2@down.test", "friend3@ok.test"],
                     late=True)
        for rcpt, status in (("later1@tempfail.test", "deferred"),
                             ("later2@down.test", "deferred"), ("friend3@ok.test", "sent")):
            wait_status(qid, rcpt, status)
        # down.test has just failed, so qmgr holds it dead for minimal_backoff_time: this one is
        # deferred by postfix/error, "delivery temporarily suspended".
        qid2 = s.send(A, ["later3@down.test"], late=True)
        wait_status(qid2, "later3@down.test", "deferred")
    truth.data["meta"]["finished"] = now_iso()
    progress(f"  phase C done at {time.monotonic() - t0:.1f}s")
    return truth.data


def sink_report(sinks):
    """What the accepting sink received: recipient addresses."""
    return sorted(sinks["ok.test"].delivered_to())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[3].strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--save", metavar="DIR", required=True,
                    help="write DIR/maillog and DIR/truth.json (e.g. tests/fixtures/postfix37)")
    ap.add_argument("--keep", action="store_true", help="keep the instance's directory")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="maillog-sasl-e2e-"))
    root.chmod(0o755)
    env = None
    started = time.monotonic()
    try:
        env = Environment(root)
        truth = run_scenario(env.instance, env.sinks)
        truth["sink_ok_received"] = sink_report(env.sinks)
    finally:
        if env is not None:
            env.close()
    out = Path(args.save)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "log" / "maillog", out / "maillog")
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"saved {out}/maillog and truth.json; run took {time.monotonic() - started:.1f}s")
    if args.keep:
        print(f"instance kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
