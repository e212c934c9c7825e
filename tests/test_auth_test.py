"""`maillog-sasl auth-test` against the loopback fake server: success paths and error paths."""
import base64
import errno
import getpass
import io
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from maillog_sasl import auth_test, cli, cram_md5
from maillog_sasl.cli import main
from maillog_sasl.password import ENV_VAR

from smtp_fake_server import (
    CRAM_CHALLENGE,
    PASSWORD,
    QUEUE_ID,
    USER,
    FakeSMTPServer,
    make_certificate,
    refused_port,
)

PROG = "maillog-sasl auth-test"
CRAM_DIGEST = cram_md5.digest(PASSWORD, CRAM_CHALLENGE.encode())
SECRETS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(USER.encode()).decode(),
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    CRAM_DIGEST,
    cram_md5.response(USER, PASSWORD, CRAM_CHALLENGE.encode()),
)

GREETING = "S: 220 fake.test ESMTP fake\n"
EHLO_PLAIN = """\
C: EHLO client.test
S: 250-fake.test
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-STARTTLS
S: 250 8BITMIME
"""
STARTTLS = """\
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
"""
TLS_VERIFIED = "* TLS TLSv1.x CIPHER; certificate verified for 127.0.0.1\n"
EHLO_AUTH = """\
C: EHLO client.test
S: 250-fake.test
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-AUTH PLAIN LOGIN CRAM-MD5
S: 250 8BITMIME
"""
CHALLENGE_LINE = "S: 334 " + base64.b64encode(CRAM_CHALLENGE.encode()).decode() + "\n"
QUIT = "C: QUIT\nS: 221 2.0.0 Bye\n"
NO_MESSAGE_HINTS = """\
* authenticated as alice@example.test with {mech}

In the Postfix log (NAME: this client's reverse DNS name, or 'unknown'):
  no line names the user: Postfix logs 'client=..., sasl_username=' only when a
  message is queued (try --send-to). The login shows only as auth=1 in:
  disconnect from NAME[127.0.0.1] {counters}
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("cert"))


@pytest.fixture(autouse=True)
def password_from_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, PASSWORD)

    def unexpected_prompt(prompt="Password: "):
        raise AssertionError("unexpected password prompt")

    monkeypatch.setattr(getpass, "getpass", unexpected_prompt)


def run(capsys, *args, user=USER):
    """Run auth-test; return (exit status, stdout with the TLS version and cipher masked, stderr)."""
    code = main(["auth-test", *args, "--user", user, "--ehlo", "client.test", "--timeout", "2"])
    out, err = capsys.readouterr()
    out = re.sub(r"^\* TLS TLSv1\.\d \S+;", "* TLS TLSv1.x CIPHER;", out, flags=re.M)
    for secret in SECRETS:
        assert secret not in out and secret not in err
    return code, out, err


def connected(server):
    return f"* connected to 127.0.0.1 port {server.port} from 127.0.0.1\n"


def target(server):
    return f"127.0.0.1:{server.port}"


# Success paths.

def test_cram_md5_over_starttls_with_verified_certificate(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--cafile", cert[0])
    assert (code, err) == (0, "")
    assert out == (
        connected(server) + GREETING + EHLO_PLAIN + STARTTLS + TLS_VERIFIED + EHLO_AUTH
        + "* server offers AUTH PLAIN LOGIN CRAM-MD5; using CRAM-MD5\n"
        + "C: AUTH CRAM-MD5\n" + CHALLENGE_LINE + "C: [redacted]\n"
        + "S: 235 2.7.0 Authentication successful\n" + QUIT
        + NO_MESSAGE_HINTS.format(mech="CRAM-MD5", counters="ehlo=2 starttls=1 auth=1 quit=1 commands=5")
    )
    assert server.received[:4] == ["EHLO client.test", "STARTTLS", "EHLO client.test", "AUTH CRAM-MD5"]
    assert server.received[-1] == "QUIT"


def test_auto_prefers_plain_to_login(capsys, cert):
    with FakeSMTPServer(cert, mechanisms=("LOGIN", "PLAIN")) as server:
        code, out, err = run(capsys, target(server), "--insecure")
    assert (code, err) == (0, "")
    assert "* TLS TLSv1.x CIPHER; certificate NOT verified (--insecure)\n" in out
    assert (
        "* server offers AUTH LOGIN PLAIN; using PLAIN\n"
        "C: AUTH PLAIN [redacted]\n"
        "S: 235 2.7.0 Authentication successful\n"
    ) in out
    assert server.received[3] == "AUTH PLAIN " + SECRETS[3]


def test_login_redacts_user_and_password(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", "login")
    assert (code, err) == (0, "")
    assert (
        "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: [redacted]\n"
        "S: 334 UGFzc3dvcmQ6\nC: [redacted]\nS: 235 2.7.0 Authentication successful\n"
    ) in out
    assert out.endswith(NO_MESSAGE_HINTS.format(
        mech="LOGIN", counters="ehlo=2 starttls=1 auth=1 quit=1 commands=5"))


def test_implicit_tls(capsys, cert):
    with FakeSMTPServer(cert, implicit_tls=True) as server:
        code, out, err = run(capsys, target(server), "--tls", "--cafile", cert[0])
    assert (code, err) == (0, "")
    assert out.startswith(connected(server) + TLS_VERIFIED + GREETING + EHLO_AUTH)
    assert out.endswith(NO_MESSAGE_HINTS.format(mech="CRAM-MD5", counters="ehlo=1 auth=1 quit=1 commands=3"))


def test_send_to_queues_one_message_and_names_the_log_line(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--insecure", "--send-to", "bob@example.test")
    assert (code, err) == (0, "")
    assert (
        "S: 235 2.7.0 Authentication successful\n"
        "C: MAIL FROM:<alice@example.test>\nS: 250 2.1.0 Ok\n"
        "C: RCPT TO:<bob@example.test>\nS: 250 2.1.5 Ok\n"
        "C: DATA\nS: 354 End data with <CR><LF>.<CR><LF>\n"
        "C: From: <alice@example.test>\nC: To: <bob@example.test>\n"
        "C: Subject: maillog-sasl auth-test\n"
    ) in out
    assert out.endswith(
        f"C: .\nS: 250 2.0.0 Ok: queued as {QUEUE_ID}\n" + QUIT
        + "* authenticated as alice@example.test with CRAM-MD5\n"
        f"* message accepted, queued as {QUEUE_ID}\n"
        "\n"
        "In the Postfix log (NAME: this client's reverse DNS name, or 'unknown'):\n"
        f"  {QUEUE_ID}: client=NAME[127.0.0.1], sasl_method=CRAM-MD5, sasl_username=alice@example.test\n"
        "  is the line that names the user; it is written once per queued message.\n"
        "  disconnect from NAME[127.0.0.1]"
        " ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8\n"
    )
    [message] = server.messages
    assert message[:3] == ["From: <alice@example.test>", "To: <bob@example.test>",
                           "Subject: maillog-sasl auth-test"]
    assert message[-1] == "A test message sent by maillog-sasl auth-test after SMTP AUTH as alice@example.test."


def test_send_to_with_explicit_sender(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, _, err = run(capsys, target(server), "--insecure", "--send-to", "bob@example.test",
                           "--from", "other@example.test")
    assert (code, err) == (0, "")
    assert "MAIL FROM:<other@example.test>" in server.received


def test_password_from_stdin(capsys, monkeypatch, cert):
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    with FakeSMTPServer(cert) as server:
        code, _, err = run(capsys, target(server), "--insecure", "--password-stdin")
    assert (code, err) == (0, "")


def test_plain_mode_auto_keeps_cram_md5(capsys):
    with FakeSMTPServer(auth_without_tls=True) as server:
        code, out, err = run(capsys, target(server), "--plain")
    assert (code, err) == (0, "")
    assert "* server offers AUTH PLAIN LOGIN CRAM-MD5; using CRAM-MD5\nC: AUTH CRAM-MD5\n" in out
    assert "STARTTLS" not in out and "warning" not in out


def test_plain_mode_with_plain_mechanism_warns(capsys):
    with FakeSMTPServer(auth_without_tls=True, mechanisms=("PLAIN",)) as server:
        code, out, err = run(capsys, target(server), "--plain")
    assert (code, err) == (0, "")
    assert (
        "* server offers AUTH PLAIN; using PLAIN\n"
        "* warning: PLAIN sends the password readable without TLS (--plain)\n"
        "C: AUTH PLAIN [redacted]\n"
    ) in out


# The server says no: exit 1 with its reply.

def test_wrong_password(capsys, monkeypatch, cert):
    monkeypatch.setenv(ENV_VAR, "wrong password")
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--insecure")
    assert code == 1
    assert out.endswith(
        "C: [redacted]\n"
        "S: 535 5.7.8 Error: authentication failed: authentication failure\n" + QUIT + "\n"
        "In the Postfix log, a refused login shows as:\n"
        "  warning: NAME[127.0.0.1]: SASL CRAM-MD5 authentication failed: ...\n"
        "  and as auth=0/1 in the 'disconnect from' line.\n"
    )
    assert err == (f"{PROG}: authentication failed:"
                   " 535 5.7.8 Error: authentication failed: authentication failure\n")
    assert "wrong password" not in out


def test_wrong_user_with_plain(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", "PLAIN", user="mallory")
    assert code == 1
    assert "SASL PLAIN authentication failed" in out
    assert err == (f"{PROG}: authentication failed:"
                   " 535 5.7.8 Error: authentication failed: authentication failure\n")


@pytest.mark.parametrize("mech", ["CRAM-MD5", "PLAIN", "LOGIN"])
def test_an_auth_refused_by_the_rate_limit_names_its_own_log_line(capsys, cert, mech):
    """An admin who runs auth-test again and again meets smtpd_client_auth_rate_limit: anvil
    refuses the AUTH before the SASL server reads any password, and smtpd logs only its warning
    (events.AUTH_RATE_LIMIT). The hints told to look for a `SASL ... authentication failed`
    line that is not in the log, and the error said the password failed."""
    with FakeSMTPServer(cert, mode="auth-rate-limit") as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", mech)
    assert code == 1
    assert out.endswith(
        "S: 450 4.7.1 Error: too many AUTH commands from 127.0.0.1\n" + QUIT + "\n"
        "In the Postfix log, an AUTH that smtpd_client_auth_rate_limit refused before any\n"
        "password was read (try again later) shows as:\n"
        "  warning: AUTH command rate limit exceeded: N from NAME[127.0.0.1] for service S\n"
        "  and as auth=0/1 in the 'disconnect from' line.\n"
    )
    assert err == (f"{PROG}: AUTH refused by the server's rate limit, no password checked:"
                   " 450 4.7.1 Error: too many AUTH commands from 127.0.0.1\n")


def test_no_auth_offered(capsys, cert):
    with FakeSMTPServer(cert, mechanisms=()) as server:
        code, out, err = run(capsys, target(server), "--insecure")
    assert code == 1
    assert out.endswith(
        "S: 250-SIZE 10240000\nS: 250 8BITMIME\n" + QUIT
    )
    assert err == f"{PROG}: the server offers no AUTH\n"


def test_no_auth_without_tls_explains_tls_auth_only(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server), "--plain")
    assert code == 1
    assert out == connected(server) + GREETING + EHLO_PLAIN + QUIT
    assert err == (f"{PROG}: the server offers no AUTH without TLS"
                   " (Postfix: smtpd_tls_auth_only = yes?); try without --plain\n")


def test_mechanism_not_offered(capsys, cert):
    with FakeSMTPServer(cert, mechanisms=("PLAIN", "LOGIN")) as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", "cram-md5")
    assert code == 1
    assert "AUTH CRAM-MD5" not in out
    assert err == f"{PROG}: the server does not offer CRAM-MD5 (it offers PLAIN LOGIN)\n"


def test_no_supported_mechanism(capsys, cert):
    with FakeSMTPServer(cert, mechanisms=("SCRAM-SHA-256", "XOAUTH2")) as server:
        code, _, err = run(capsys, target(server), "--insecure")
    assert code == 1
    assert err == (f"{PROG}: the server offers none of CRAM-MD5, PLAIN, LOGIN"
                   " (it offers SCRAM-SHA-256 XOAUTH2)\n")


def test_greeting_refused(capsys):
    with FakeSMTPServer(mode="greeting-554") as server:
        code, out, err = run(capsys, target(server))
    assert code == 1
    assert out == connected(server) + "S: 554 5.3.2 fake.test service unavailable\n" + QUIT
    assert err == f"{PROG}: the server refused the connection: 554 5.3.2 fake.test service unavailable\n"


def test_recipient_refused(capsys, cert):
    with FakeSMTPServer(cert, mode="reject-rcpt") as server:
        code, out, err = run(capsys, target(server), "--insecure", "--send-to", "victim@ok.test")
    assert code == 1
    assert "S: 554 5.7.1 <victim@ok.test>: Relay access denied\n" + QUIT in out
    assert err == f"{PROG}: the server refused the recipient: 554 5.7.1 <victim@ok.test>: Relay access denied\n"
    assert server.messages == []


def test_server_challenge_not_base64_is_cancelled(capsys, cert):
    with FakeSMTPServer(cert, mode="bad-challenge") as server:
        code, out, err = run(capsys, target(server), "--insecure")
    assert code == 1
    assert "S: 334 this is not base64!\nC: *\nS: 501 5.7.0 Authentication aborted\n" in out
    assert err == f"{PROG}: the server's CRAM-MD5 challenge is not base64: 334 this is not base64!\n"


ECHOES = {  # what each mechanism shows of the echo-auth server's refusal
    "PLAIN": """\
S: 535-5.7.8 you sent: AUTH PLAIN [redacted]
S: 535-5.7.8 you sent: [redacted]
S: 535-5.7.8 decoded:  alice@example.test [redacted]
S: 535-5.7.8 head: [redacted]
S: 535-5.7.8 tail: [redacted]
""",
    "LOGIN": """\
S: 535-5.7.8 you sent: AUTH LOGIN
S: 535-5.7.8 you sent: [redacted]
S: 535-5.7.8 decoded: alice@example.test
S: 535-5.7.8 head: [redacted]
S: 535-5.7.8 tail: [redacted]
S: 535-5.7.8 you sent: [redacted]
S: 535-5.7.8 decoded: [redacted]
S: 535-5.7.8 head: [redacted]
S: 535-5.7.8 tail: [redacted]
""",
    "CRAM-MD5": """\
S: 535-5.7.8 you sent: AUTH CRAM-MD5
S: 535-5.7.8 you sent: [redacted]
S: 535-5.7.8 decoded: alice@example.test [redacted]
S: 535-5.7.8 head: [redacted]
S: 535-5.7.8 tail: [redacted]
""",
}


AUTH_LINES = {"PLAIN": [SECRETS[3]], "LOGIN": [SECRETS[2], SECRETS[1]], "CRAM-MD5": [SECRETS[5]]}


@pytest.mark.parametrize("mech", sorted(ECHOES))
def test_server_echo_of_auth_data_is_redacted(capsys, cert, mech):
    """A server quoting back the client's AUTH data, whole, decoded or truncated, shows none of it."""
    with FakeSMTPServer(cert, mode="echo-auth") as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", mech)
    echo = ECHOES[mech] + "S: 535-5.7.8 password: [redacted]\nS: 535 5.7.8 Error: authentication failed\n"
    assert code == 1
    assert echo + QUIT in out
    assert err == f"{PROG}: authentication failed: " + " / ".join(
        line[3:].replace("535-", "535 ") for line in echo.splitlines()) + "\n"
    for line in AUTH_LINES[mech]:
        assert any(received.endswith(line) for received in server.received)
        for piece in (line, line[:12], line[-12:]):
            assert piece not in out and piece not in err


def test_server_echo_without_reply_code_is_redacted_in_the_error(capsys, cert):
    with FakeSMTPServer(cert, mode="echo-garbage") as server:
        code, out, err = run(capsys, target(server), "--insecure", "--mech", "PLAIN")
    assert code == 3
    assert out.endswith("C: AUTH PLAIN [redacted]\nS: [redacted]\n")
    assert err == f"{PROG}: 127.0.0.1 port {server.port}: not an SMTP reply: '[redacted]'\n"


def test_password_is_redacted_as_printed():
    """Control characters are shown escaped; the password is found in that form too."""
    session = auth_test.Session(io.StringIO(), "tab\there", 2)
    assert session.redact("535 5.7.8 bad password tab\there") == "535 5.7.8 bad password [redacted]"


# Connection and TLS failures: exit 3, one line with host, port and reason.

def test_connection_refused(capsys):
    sock, port = refused_port()
    with sock:
        code, out, err = run(capsys, f"127.0.0.1:{port}")
    assert (code, out, err) == (3, "", f"{PROG}: 127.0.0.1 port {port}: connection refused\n")


def test_self_signed_certificate_is_refused_by_default(capsys, cert):
    with FakeSMTPServer(cert) as server:
        code, out, err = run(capsys, target(server))
    assert code == 3
    assert out == connected(server) + GREETING + EHLO_PLAIN + STARTTLS
    assert err == (f"{PROG}: 127.0.0.1 port {server.port}: certificate verification failed:"
                   " self-signed certificate (--cafile FILE trusts a private CA;"
                   " --insecure skips the check)\n")
    assert "AUTH" not in " ".join(server.received)


def test_certificate_for_another_address(capsys, cert):
    """The certificate names 127.0.0.1 and localhost, not 127.0.0.2."""
    with FakeSMTPServer(cert, implicit_tls=True, address="127.0.0.2") as server:
        code, out, err = run(capsys, f"127.0.0.2:{server.port}", "--tls", "--cafile", cert[0])
    assert (code, out) == (3, f"* connected to 127.0.0.2 port {server.port} from 127.0.0.1\n")
    assert err == (f"{PROG}: 127.0.0.2 port {server.port}: certificate verification failed:"
                   " IP address mismatch, certificate is not valid for '127.0.0.2'."
                   " (--cafile FILE trusts a private CA; --insecure skips the check)\n")


def test_starttls_not_offered(capsys):
    with FakeSMTPServer() as server:
        code, out, err = run(capsys, target(server))
    assert code == 3
    assert "C: STARTTLS" not in out and "AUTH" not in out
    assert err == (f"{PROG}: 127.0.0.1 port {server.port}: the server does not offer STARTTLS;"
                   " not sending credentials unencrypted (use --tls on an implicit-TLS port, or --plain)\n")


def test_starttls_refused(capsys, cert):
    with FakeSMTPServer(cert, mode="starttls-refused") as server:
        code, out, err = run(capsys, target(server))
    assert code == 3
    assert out.endswith("C: STARTTLS\nS: 454 4.7.0 TLS not available due to local problem\n")
    assert err == (f"{PROG}: 127.0.0.1 port {server.port}: STARTTLS refused:"
                   " 454 4.7.0 TLS not available due to local problem\n")


def test_tls_handshake_failure(capsys, cert):
    with FakeSMTPServer(cert, mode="starttls-garbage") as server:
        code, out, err = run(capsys, target(server), "--insecure")
    assert code == 3
    assert out.endswith(STARTTLS)
    assert err.startswith(f"{PROG}: 127.0.0.1 port {server.port}: TLS handshake failed: ")
    assert err.count("\n") == 1


def test_data_before_tls_handshake_is_refused(capsys, cert):
    """Data sent with the 220 to STARTTLS would be taken as if it came over TLS: refuse it."""
    with FakeSMTPServer(cert, mode="starttls-injection") as server:
        code, _, err = run(capsys, target(server), "--insecure")
    assert code == 3
    assert err == f"{PROG}: 127.0.0.1 port {server.port}: the server sent data before the TLS handshake\n"


def test_implicit_tls_against_a_plain_server(capsys):
    with FakeSMTPServer() as server:
        code, out, err = run(capsys, target(server), "--tls")
    assert (code, out) == (3, connected(server))
    assert err.startswith(f"{PROG}: 127.0.0.1 port {server.port}: TLS handshake failed: ")
    assert "wrong version number" in err.lower() and err.count("\n") == 1


def test_silent_server_times_out(capsys):
    with FakeSMTPServer(mode="silent") as server:
        code = main(["auth-test", target(server), "--user", USER, "--timeout", "0.2"])
        out, err = capsys.readouterr()
    assert (code, out) == (3, connected(server))
    assert err == f"{PROG}: 127.0.0.1 port {server.port}: timed out after 0.2s\n"


def test_server_drops_the_connection(capsys):
    with FakeSMTPServer(mode="close-after-ehlo") as server:
        code, out, err = run(capsys, target(server))
    assert (code, out) == (3, connected(server) + GREETING + "C: EHLO client.test\n")
    assert err == f"{PROG}: 127.0.0.1 port {server.port}: the server closed the connection\n"


def test_endless_reply_is_abandoned(capsys):
    """250- lines without end: the reply is given up after MAX_REPLY_LINES lines."""
    with FakeSMTPServer(mode="endless-ehlo") as server:
        code, out, err = run(capsys, target(server))
    assert code == 3
    assert err == f"{PROG}: 127.0.0.1 port {server.port}: gave up: a reply of more than 1000 lines\n"
    assert out.endswith("C: EHLO client.test\n" + "".join(
        f"S: 250-fake.test line {number}\n" for number in range(1, 1001)))


def test_reply_that_never_ends_slowly_meets_the_deadline(capsys):
    """Each line comes well within --timeout, so only the deadline for the whole test can end it."""
    with FakeSMTPServer(mode="dribble-ehlo") as server:
        started = time.monotonic()
        code = main(["auth-test", target(server), "--user", USER, "--timeout", "0.2"])
        elapsed = time.monotonic() - started
        out, err = capsys.readouterr()
    assert code == 3 and out.startswith(connected(server) + GREETING + "C: EHLO")
    assert err == (f"{PROG}: 127.0.0.1 port {server.port}: gave up:"
                   " the whole test took longer than 1s (5 times --timeout)\n")
    assert 1.0 <= elapsed < 3.0


@pytest.mark.parametrize("lines, complete", [(1000, True),
                                             (1001, False)])
def test_reply_line_limit(lines, complete):
    """A reply of exactly MAX_REPLY_LINES lines is read; one more line is too many."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"250-line\r\n" * (lines - 1) + b"250 last\r\n")
        session = auth_test.Session(io.StringIO(), PASSWORD, 2)
        session.sock = ours
        if complete:
            reply = session.read_reply()
            assert (reply.code, len(reply.lines), reply.lines[-1]) == (250, lines, "last")
        else:
            with pytest.raises(auth_test.ConnectionFailed, match="more than 1000 lines"):
                session.read_reply()


# Our own stdout failing: a local failure, exit 2, never blamed on the server.

class FailingOutput(io.TextIOBase):
    """A stdout whose every write fails with `error` (errno)."""

    def __init__(self, error):
        self.error = error

    def writable(self):
        return True

    def write(self, text):
        raise OSError(self.error, os.strerror(self.error))


@pytest.mark.parametrize("error, reason", [(errno.ENOSPC, "No space left on device"),
                                           (errno.EPIPE, "Broken pipe")])
def test_stdout_failure_is_local(capsys, monkeypatch, error, reason):
    with FakeSMTPServer(auth_without_tls=True) as server:
        monkeypatch.setattr(sys, "stdout", FailingOutput(error))
        code = main(["auth-test", target(server), "--plain", "--user", USER])
    assert (code, capsys.readouterr().err) == (2, f"{PROG}: cannot write the dialogue: {reason}\n")


def run_process(server, redirect="", stdout=subprocess.PIPE):
    """auth-test in a real process against `server`, `redirect` applied by a shell."""
    command = [sys.executable, "-m", "maillog_sasl.cli", "auth-test", target(server), "--plain",
               "--user", USER, "--timeout", "2"]
    if redirect:
        command = ["sh", "-c", f'exec "$@" {redirect}', "sh", *command]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                            env=dict(os.environ, **{ENV_VAR: PASSWORD}), timeout=30)
    return result.returncode, result.stderr.decode()


def test_full_disk_in_a_real_process():
    """The interpreter's last flush at exit must not add a traceback of its own."""
    with FakeSMTPServer(auth_without_tls=True) as server, open("/dev/full", "wb") as full:
        result = run_process(server, stdout=full)
    assert result == (2, f"{PROG}: cannot write the dialogue: No space left on device\n")


def test_reader_gone_in_a_real_process():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with FakeSMTPServer(auth_without_tls=True) as server:
            result = run_process(server, stdout=write_end)
    finally:
        os.close(write_end)
    assert result == (2, f"{PROG}: cannot write the dialogue: Broken pipe\n")


def test_closed_stdout_does_not_connect():
    with FakeSMTPServer(auth_without_tls=True) as server:
        result = run_process(server, redirect=">&-")
    assert result == (2, f"{PROG}: cannot write the dialogue: standard output is closed\n")
    assert server.received == []


# Usage errors: exit 2, one line, before any connection.

@pytest.mark.parametrize("args, message", [
    (["127.0.0.1:0"], "bad port in '127.0.0.1:0'"),
    (["127.0.0.1:smtp"], "bad port in '127.0.0.1:smtp'"),
    ([":25"], "no host in ':25'"),
    (["127.0.0.1", "--plain", "--insecure"], "--insecure and --cafile need TLS; they mean nothing with --plain"),
    (["127.0.0.1", "--send-to", "a@b.test", "--user", "alice"],
     "--send-to needs --from ADDR when USER is not an address"),
    (["127.0.0.1", "--send-to", "a@b.test>\r\nRCPT TO:<c@d.test"],
     "--send-to must be printable text, not 'a@b.test>\\r\\nRCPT TO:<c@d.test'"),
    (["127.0.0.1", "--send-to", "a b@c.test"], "--send-to must not contain spaces or angle brackets: 'a b@c.test'"),
    (["127.0.0.1", "--user", ""], "--user must be printable text, not ''"),
    (["127.0.0.1", "--cafile", "/nonexistent/ca.pem"], "cannot use --cafile /nonexistent/ca.pem: No such file or directory"),
])
def test_bad_options(capsys, args, message):
    code = main(["auth-test", "--user", USER, *args])
    assert (code, *capsys.readouterr()) == (2, "", f"{PROG}: {message}\n")


@pytest.mark.parametrize("args, message", [
    ([], "the following arguments are required: --user"),
    (["--user", USER, "--timeout", "0"], "argument --timeout: invalid seconds value: '0'"),
    (["--user", USER, "--mech", "DIGEST-MD5"],
     "argument --mech: invalid choice: 'DIGEST-MD5' (choose from 'AUTO', 'CRAM-MD5', 'PLAIN', 'LOGIN')"),
    (["--user", USER, "--tls", "--plain"], "argument --plain: not allowed with argument --tls"),
    (["--user", USER, "--password", "secret"],
     "a password is never taken as an argument: it would stay in the shell history;"
     f" use the prompt, --password-stdin or {ENV_VAR}"),
])
def test_argument_errors(capsys, args, message):
    code = main(["auth-test", "127.0.0.1", *args])
    assert (code, *capsys.readouterr()) == (2, "", f"{PROG}: {message} (see --help)\n")


@pytest.mark.parametrize("text, expected", [
    ("mail.example.com", ("mail.example.com", None)),
    ("mail.example.com:465", ("mail.example.com", 465)),
    ("127.0.0.1:2525", ("127.0.0.1", 2525)),
    ("[::1]:587", ("::1", 587)),
    ("[::1]", ("::1", None)),
    ("::1", ("::1", None)),
])
def test_parse_target(text, expected):
    assert auth_test.parse_target(text) == expected


@pytest.mark.parametrize("args, mode, port", [
    (["h"], "starttls", 587),
    (["h:25"], "starttls", 25),
    (["h:465"], "tls", 465),
    (["h", "--tls"], "tls", 465),
    (["h:2525", "--plain"], "plain", 2525),
])
def test_default_port_and_tls_mode(args, mode, port):
    args = cli._auth_test_parser().parse_args([*args, "--user", USER])
    cli._check_auth_test_args(args)
    assert (args.mode, args.port) == (mode, port)


def test_password_not_utf8_is_refused_before_connecting(capsys, monkeypatch):
    """Bytes that are not UTF-8 in the variable arrive as surrogate escapes: no traceback."""
    monkeypatch.setenv(ENV_VAR, "correct\udcff horse")
    with FakeSMTPServer(auth_without_tls=True) as server:
        code = main(["auth-test", target(server), "--plain", "--user", USER])
    assert (code, *capsys.readouterr()) == (
        2, "", f"{PROG}: the password from {ENV_VAR} is not UTF-8 text\n")
    assert server.received == []


def test_ctrl_c_at_password_prompt(capsys, monkeypatch):
    monkeypatch.delenv(ENV_VAR)

    def interrupted(prompt="Password: "):
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", interrupted)
    assert main(["auth-test", "127.0.0.1", "--user", USER]) == 130
    assert capsys.readouterr() == ("", f"\n{PROG}: interrupted\n")


def test_help(capsys):
    assert main(["auth-test", "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("usage: maillog-sasl auth-test [-h] --user USER")
    assert "examples:\n  maillog-sasl auth-test mail.example.com --user alice@example.com\n" in out
    assert "--insecure" in out and ENV_VAR in out
    assert "QUEUEID: client=NAME[IP], sasl_method=MECH, sasl_username=USER" in out
    for code in ("0", "1", "2", "3", "130"):
        assert f"\n  {code} " in out
