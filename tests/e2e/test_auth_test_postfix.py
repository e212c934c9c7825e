"""`maillog-sasl auth-test` against the real Postfix instance (issue 6), and what the log shows of it.

Each test runs the subcommand as a user would (`python -m maillog_sasl auth-test 127.0.0.1:PORT
...`, password in MAILLOG_SASL_PASSWORD or on stdin with --password-stdin) against the private
instance from the `postfix_env` fixture (conftest.py; stopped in its finalizer), then checks the
exit status, the server reply it printed, and the new `disconnect from` line in Postfix's log:
success with each mechanism (CRAM-MD5 over submission+STARTTLS with the instance's certificate,
PLAIN over smtps, LOGIN on the plain port with --plain), a queued test message, a wrong password,
and --plain against submission, where Postfix offers no AUTH before STARTTLS.

Skips when not root, Postfix is not installed, or maillog_sasl.auth_test does not exist yet. Run with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from e2e_scenario import pw

pytestmark = pytest.mark.postfix
pytest.importorskip("maillog_sasl.auth_test", reason="maillog_sasl/auth_test.py (issue 6) not there")

ALICE = "alice@harness.test"


def auth_test(env, service, *args, password, stdin=False):
    """Run auth-test against SERVICE; return (process, the log lines it caused)."""
    inst = env.instance
    before = len(inst.log_text())
    argv = [sys.executable, "-m", "maillog_sasl", "auth-test",
            f"127.0.0.1:{inst.ports[service]}", "--ehlo", "auth-test.harness.test", *args]
    environ = dict(os.environ)
    environ.pop("MAILLOG_SASL_PASSWORD", None)
    if not stdin:
        environ["MAILLOG_SASL_PASSWORD"] = password
    proc = subprocess.run(argv + (["--password-stdin"] if stdin else []), env=environ,
                          input=(password + "\n") if stdin else None,
                          capture_output=True, text=True, timeout=60)
    inst.wait_for(lambda: "disconnect from unknown[127.0.0.1]" in inst.log_text()[before:],
                  15, "the auth-test session's disconnect line")
    return proc, inst.log_text()[before:]


def disconnect_line(log):
    return re.search(r"disconnect from unknown\[127\.0\.0\.1\].*", log).group(0)


@pytest.mark.parametrize("mech, service, tls_args, stdin", [
    ("CRAM-MD5", "submission", ("--starttls",), False),
    ("PLAIN", "smtps", ("--tls",), True),
    ("LOGIN", "smtpd", ("--plain",), False),
])
def test_login_succeeds(postfix_env, mech, service, tls_args, stdin):
    cafile = ("--cafile", str(postfix_env.instance.cert)) if "--plain" not in tls_args else ()
    proc, log = auth_test(postfix_env, service, "--user", ALICE, "--mech", mech, *tls_args,
                          *cafile, password=pw(ALICE), stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert "235 2.7.0 Authentication successful" in proc.stdout
    assert pw(ALICE) not in proc.stdout + proc.stderr, "password shown"
    assert " auth=1 " in disconnect_line(log)
    assert "authentication failed" not in log


def test_send_to_queues_a_message_named_in_the_log(postfix_env):
    proc, log = auth_test(postfix_env, "submission", "--user", ALICE, "--mech", "PLAIN",
                          "--insecure", "--send-to", "auth-test@ok.test", password=pw(ALICE))
    assert proc.returncode == 0, proc.stderr
    qid = re.search(r"queued as ([0-9A-F]+)", proc.stdout).group(1)
    assert re.search(rf"postfix/submission/smtpd\[\d+\]: {qid}: client=unknown\[127\.0\.0\.1\], "
                     rf"sasl_method=PLAIN, sasl_username={re.escape(ALICE)}$", log, re.M)
    postfix_env.instance.wait_for(
        lambda: "auth-test@ok.test" in postfix_env.sinks["ok.test"].delivered_to(), 15,
        "delivery to the accepting sink")


def test_wrong_password_fails_with_the_servers_reply(postfix_env):
    proc, log = auth_test(postfix_env, "submission", "--user", ALICE, "--mech", "PLAIN",
                          "--insecure", password="not-alices-password")
    assert proc.returncode == 1
    assert "535 5.7.8" in proc.stderr
    assert (f"SASL PLAIN authentication failed: authentication failure, sasl_username={ALICE}"
            in log)
    assert " auth=0/1 " in disconnect_line(log)


def test_plain_against_submission_is_refused_before_starttls(postfix_env):
    """Submission offers AUTH only after STARTTLS: auth-test must stop, not send the password."""
    proc, log = auth_test(postfix_env, "submission", "--user", ALICE, "--mech", "PLAIN",
                          "--plain", password=pw(ALICE))
    assert proc.returncode != 0
    assert proc.stderr.strip(), "no reason given"
    assert "235" not in proc.stdout
    line = disconnect_line(log)
    # auth-test does not send AUTH the server did not offer; if it did, Postfix would refuse it
    # (auth=0/1). Either way there is no successful login.
    assert " auth=1 " not in line and "starttls" not in line
