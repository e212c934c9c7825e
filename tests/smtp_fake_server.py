"""A small SMTP server on loopback for the auth-test tests.

What it does: listens on 127.0.0.1, an ephemeral port, and serves each connection in a thread:
greeting, EHLO (with STARTTLS and AUTH as configured), STARTTLS, implicit TLS, AUTH PLAIN / LOGIN /
CRAM-MD5 against one known user and password (checked with its own HMAC, independent of the code
under test), MAIL / RCPT / DATA, QUIT. `mode` selects a failure to act out (see MODES).
Input: the constructor's options; a certificate from make_certificate() (openssl CLI).
Output: `received`, every line the client sent; `messages`, each message's DATA lines.
How it fails: it never raises into the test; errors in a connection thread end that connection
and are kept, as text, in `errors`. It stops on leaving the `with` block, and by itself after `lifetime`
seconds, so a forgotten server cannot hang the test run.
"""
import base64
import hashlib
import hmac
import socket
import ssl
import subprocess
import threading
import time

USER = "alice@example.test"
PASSWORD = "correct horse"
CRAM_CHALLENGE = "<1896.697170952@fake.test>"  # the example challenge of RFC 2195
QUEUE_ID = "4F2A81C0B3"

MODES = (
    "normal",
    "silent",            # accept, never greet
    "greeting-554",      # refuse the session at once
    "close-after-ehlo",  # drop the connection instead of answering EHLO
    "starttls-refused",  # answer STARTTLS with 454
    "starttls-garbage",  # answer STARTTLS with 220, then meet the TLS handshake with non-TLS bytes
    "starttls-injection",  # answer STARTTLS with 220 and, in the same write, a fake reply
    "reject-rcpt",       # refuse every recipient
    "bad-challenge",     # a CRAM-MD5 challenge that is not base64
    "endless-ehlo",      # answer EHLO with 250- lines as fast as it can, never a last line
    "dribble-ehlo",      # answer EHLO with one 250- line every DRIBBLE_INTERVAL, never a last line
    "echo-auth",         # fail every AUTH with a reply quoting what the client sent, and the password
    "echo-garbage",      # answer the last AUTH line with that line itself, no reply code
    "auth-rate-limit",   # refuse every AUTH as Postfix's smtpd_client_auth_rate_limit does
)
DRIBBLE_INTERVAL = 0.02


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (certfile, keyfile)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


class FakeSMTPServer:
    def __init__(self, certificate=None, *, mechanisms=("PLAIN", "LOGIN", "CRAM-MD5"),
                 starttls=True, implicit_tls=False, auth_without_tls=False, mode="normal",
                 address="127.0.0.1", lifetime=5.0):
        assert mode in MODES, mode
        self.mechanisms = mechanisms
        self.starttls = starttls and certificate is not None
        self.implicit_tls = implicit_tls
        self.auth_without_tls = auth_without_tls
        self.mode = mode
        self.lifetime = lifetime
        self.context = None
        if certificate is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*certificate)
        self.received = []
        self.messages = []
        self.errors = []
        self._stop = threading.Event()
        self._threads = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((address, 0))
        self._listener.listen(5)
        self._listener.settimeout(0.01)
        self.port = self._listener.getsockname()[1]

    def __enter__(self):
        self._start(self._accept_loop)
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self._listener.close()

    def _start(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self):
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            conn.settimeout(self.lifetime)
            self._start(self._serve, conn)

    def _serve(self, conn):
        connection = [conn]  # the socket in use: plain, then TLS
        try:
            self._session(connection)
        except (OSError, ValueError, EOFError) as exc:
            self.errors.append(repr(exc))  # not exc: its traceback would keep the sockets open
        finally:
            connection[0].close()

    def _session(self, connection):
        conn = connection[0]
        tls = False
        if self.implicit_tls:
            conn = connection[0] = self.context.wrap_socket(conn, server_side=True)
            tls = True
        reader = conn.makefile("rb")

        def send(*lines):
            conn.sendall(b"".join(line.encode() + b"\r\n" for line in lines))

        def receive():
            raw = reader.readline()
            if not raw:
                raise EOFError("the client closed the connection")
            line = raw.decode().rstrip("\r\n")
            self.received.append(line)
            return line

        if self.mode == "silent":
            self._stop.wait(self.lifetime)
            return
        if self.mode == "greeting-554":
            send("554 5.3.2 fake.test service unavailable")
            receive()
            send("221 2.0.0 Bye")
            return
        send("220 fake.test ESMTP fake")
        authenticated = False
        while not self._stop.is_set():
            line = receive()
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                if self.mode == "close-after-ehlo":
                    return
                if self.mode in ("endless-ehlo", "dribble-ehlo") and (tls or not self.starttls):
                    self._endless_reply(send)
                    return
                extensions = ["fake.test", "PIPELINING", "SIZE 10240000"]
                if self.starttls and not tls:
                    extensions.append("STARTTLS")
                if self.mechanisms and (tls or self.auth_without_tls):
                    extensions.append("AUTH " + " ".join(self.mechanisms))
                extensions.append("8BITMIME")
                send(*[f"250-{e}" for e in extensions[:-1]], f"250 {extensions[-1]}")
            elif verb == "STARTTLS" and self.starttls and not tls:
                if self.mode == "starttls-refused":
                    send("454 4.7.0 TLS not available due to local problem")
                    continue
                if self.mode == "starttls-injection":
                    send("220 2.0.0 Ready to start TLS", "250 2.0.0 injected")
                    return
                send("220 2.0.0 Ready to start TLS")
                if self.mode == "starttls-garbage":
                    conn.recv(4096)  # the ClientHello
                    conn.sendall(b"this is not a TLS record\r\n" * 4)
                    return
                conn = connection[0] = self.context.wrap_socket(conn, server_side=True)
                reader = conn.makefile("rb")
                tls = True
            elif verb == "AUTH":
                authenticated = self._auth(argument, send, receive)
            elif verb == "MAIL":
                send("250 2.1.0 Ok" if authenticated else "530 5.7.0 Authentication required")
            elif verb == "RCPT":
                if self.mode == "reject-rcpt":
                    send(f"554 5.7.1 <{argument[4:-1]}>: Relay access denied")
                else:
                    send("250 2.1.5 Ok")
            elif verb == "DATA":
                send("354 End data with <CR><LF>.<CR><LF>")
                message = []
                while (data_line := receive()) != ".":
                    message.append(data_line)
                self.messages.append(message)
                send(f"250 2.0.0 Ok: queued as {QUEUE_ID}")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")

    def _endless_reply(self, send):
        """250- lines until the client goes away (sendall fails), the server stops or `lifetime` ends."""
        number, end = 0, time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < end:
            number += 1
            send(f"250-fake.test line {number}")
            if self.mode == "dribble-ehlo":
                time.sleep(DRIBBLE_INTERVAL)

    def _echo(self, mechanism, initial, sent, send):
        """Refuse the login, quoting back what the client sent, as a careless server might."""
        if self.mode == "echo-garbage":
            send(sent[-1])
            return
        lines = [f"you sent: AUTH {mechanism} {initial}".rstrip()]
        for line in sent:
            decoded = base64.b64decode(line).decode("utf-8", "replace") if line != "*" else line
            lines += [f"you sent: {line}", f"decoded: {decoded.replace(chr(0), ' ')}",
                      f"head: {line[:12]}", f"tail: {line[-12:]}"]
        lines.append(f"password: {PASSWORD}")
        send(*[f"535-5.7.8 {line}" for line in lines], "535 5.7.8 Error: authentication failed")

    def _auth(self, argument, send, receive):
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        sent = [initial] if initial else []  # the client's AUTH data, in order
        if mechanism not in self.mechanisms:
            send("504 5.5.4 Unsupported authentication mechanism")
            return False
        if self.mode == "auth-rate-limit":  # (smtpd.c smtpd_sasl_auth_cmd_wrapper())
            send("450 4.7.1 Error: too many AUTH commands from 127.0.0.1")
            return False
        if mechanism == "PLAIN":
            if not initial:
                send("334 ")
                initial = receive()
                sent.append(initial)
            _, user, password = base64.b64decode(initial).decode().split("\0")
            ok = (user, password) == (USER, PASSWORD)
        elif mechanism == "LOGIN":
            send("334 VXNlcm5hbWU6")
            sent.append(receive())
            user = base64.b64decode(sent[-1]).decode()
            send("334 UGFzc3dvcmQ6")
            sent.append(receive())
            password = base64.b64decode(sent[-1]).decode()
            ok = (user, password) == (USER, PASSWORD)
        else:
            if self.mode == "bad-challenge":
                send("334 this is not base64!")
            else:
                send("334 " + base64.b64encode(CRAM_CHALLENGE.encode()).decode())
            answer = receive()
            sent.append(answer)
            if answer == "*":
                send("501 5.7.0 Authentication aborted")
                return False
            user, _, digest = base64.b64decode(answer).decode().rpartition(" ")
            expected = hmac.new(PASSWORD.encode(), CRAM_CHALLENGE.encode(), hashlib.md5).hexdigest()
            ok = user == USER and digest == expected
        if self.mode in ("echo-auth", "echo-garbage"):
            self._echo(mechanism, initial, sent, send)
            return False
        if ok:
            send("235 2.7.0 Authentication successful")
        else:
            send("535 5.7.8 Error: authentication failed: authentication failure")
        return ok


def refused_port():
    """A bound socket that does not listen, and its port: connecting there is refused.

    Keep the socket open while the port is used, so no other test can take the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]
