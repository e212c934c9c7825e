"""auth_test: one safe SMTP AUTH login, and what the Postfix log shows of it (auth-test).

SUMMARY
    run(args, password, out) -> exit status       (args: host, port, mode, tls_context, ...)
    tls_context(cafile=None, insecure=False) -> ssl.SSLContext
    parse_target("HOST[:PORT]") -> (host, port or None)

DESCRIPTION
    Connects to HOST[:PORT], reads the greeting, EHLO, STARTTLS (or implicit TLS, the default on
    port 465; or none with --plain), EHLO again, shows the AUTH mechanisms the server offers,
    authenticates with CRAM-MD5, PLAIN or LOGIN, optionally sends one small test message
    (--send-to), and QUITs. Certificates are verified unless --insecure. Input: the options
    (parsed in cli.py) and the password (password.py).

    Output: the dialogue on `out` ("C:" client, "S:" server, "*" notes), with the AUTH data the
    client sends and the password replaced by [redacted]; then what to look for in the Postfix
    log. Whatever the server says is redacted the same way, in the dialogue, the hints and the
    error lines: the password, every secret-bearing string the client sent (the PLAIN token,
    the LOGIN lines, the CRAM-MD5 answer and digest), and their base64 forms, whole or truncated
    to a run of 8 or more of their characters, so a server that quotes the client's AUTH data
    back shows none.

DIAGNOSTICS
    run() returns 1 when the server says no (refused greeting, no AUTH offered, mechanism not
    offered, authentication failed or an AUTH refused by a rate limit, sender/recipient/message
    rejected), with its reply on stderr (and, of a refused AUTH, the line the Postfix log has of
    it after the dialogue); 3 for connection and TLS failures, one line on stderr naming host,
    port and reason, and for a server that does not let the test end: a reply of more than
    MAX_REPLY_LINES (1000) lines, or a whole test taking longer than DEADLINE_FACTOR (5) times
    --timeout (each wait is also at most --timeout). It raises OutputFailed when the dialogue
    cannot be written (a full disk, a reader that went away, stdout closed): that is local, not
    the server's fault, and the command says "cannot write the dialogue: ..." and exits 2, as
    for usage errors (UsageError); Ctrl-C: 130. Never a traceback for these.
"""
import base64
import re
import socket
import sys
import time

from maillog_sasl import cram_md5, events

PROG = "maillog-sasl auth-test"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_CONNECTION = 3

MECH_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")
SMTPS_PORT = 465
SUBMISSION_PORT = 587
REDACTED = "[redacted]"
# A run of base64 (or hex) characters in the server's text: hidden when it is part of a
# base64 string the client sent, so a truncated echo shows nothing of it either.
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
MAX_LINE = 4096
MAX_REPLY_LINES = 1000  # a longer reply (endless 250- lines) is abandoned
DEADLINE_FACTOR = 5  # the whole test is abandoned after this many --timeout periods
# Postfix's order of the disconnect counters this client can cause (a subset of smtpd's list).
DISCONNECT_COUNTERS = ("EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT")

class UsageError(Exception):
    """The options cannot work together."""


class Refused(Exception):
    """The server said no; `reply` is its reply, when there is one; `hints` go after the
    dialogue."""

    def __init__(self, message, reply=None, hints=()):
        super().__init__(message)
        self.reply = reply
        self.hints = hints


class ConnectionFailed(Exception):
    """Connecting, TLS or the SMTP conversation itself broke down."""


class DeadlineExceeded(ConnectionFailed):
    """The whole test took longer than DEADLINE_FACTOR times --timeout."""


class OutputFailed(Exception):
    """The dialogue could not be written on `out`: a local failure, not the server's."""


class Reply:
    """One SMTP reply: a code and the text of each of its lines."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    def __str__(self):
        return " / ".join(f"{self.code} {line}".rstrip() for line in self.lines)


class Session:
    """An SMTP client connection that prints its dialogue, redacted, to `out`."""

    def __init__(self, out, password, timeout):
        self.out = out
        self.secrets = []  # never shown: each as sent and as _printable() shows it, longest first
        self.encoded = []  # base64 and hex secrets: a run of 8+ of their characters is hidden too
        self.conceal(password)
        self.conceal(_b64(password), encoded=True)
        self.timeout = timeout
        self.limit = DEADLINE_FACTOR * timeout
        self.deadline = time.monotonic() + self.limit
        self.cut_by_deadline = False  # the last wait was shortened to end at the deadline
        self.sock = None
        self.buffer = b""
        self.encrypted = False
        self.client_ip = None
        self.verbs = []

    def note(self, text):
        self.say("*", text)

    def say(self, prefix, text):
        self.show(f"{prefix} {text}")

    def show(self, text):
        """Print one line of `text`, redacted, at once; OutputFailed when it cannot be written."""
        if self.out is None:  # sys.stdout of a process started with >&-
            raise OutputFailed("standard output is closed")
        try:
            print(self.redact(text), file=self.out)
            self.out.flush()
        except OSError as exc:  # not the server's: kept out of run()'s OSError handling
            raise OutputFailed(exc.strerror or str(exc)) from None

    def conceal(self, *texts, encoded=False):
        """From now on show none of `texts`; `encoded` for base64 or hex ones, whose pieces of
        8 characters or more are hidden as well."""
        for text in texts:
            if not text:
                continue
            for form in (text, _printable(text)):
                if form not in self.secrets:
                    self.secrets.append(form)
            if encoded:
                self.encoded.append(text)
        self.secrets.sort(key=len, reverse=True)

    def redact(self, text):
        """`text` made safe to print: control characters escaped, the password and every
        secret the client sent replaced, in plain and base64 forms, whole or in part."""
        text = _printable(text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _ENCODED_RUN.sub(self._hide_encoded_piece, text)

    def _hide_encoded_piece(self, match):
        piece = match.group()
        return REDACTED if any(piece in encoded for encoded in self.encoded) else piece

    def deadline_message(self):
        return (f"gave up: the whole test took longer than {self.limit:g}s"
                f" ({DEADLINE_FACTOR} times --timeout)")

    def _wait_limit(self):
        """How long the next network operation may take: --timeout, or less near the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(self.deadline_message())
        self.cut_by_deadline = remaining < self.timeout
        return min(self.timeout, remaining)

    def _arm(self):
        self.sock.settimeout(self._wait_limit())

    def connect(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=self._wait_limit())
        self.client_ip = self.sock.getsockname()[0]
        self.note(f"connected to {self.sock.getpeername()[0]} port {port} from {self.client_ip}")

    def start_tls(self, context, host):
        import ssl  # see tls_context()

        if self.buffer:
            raise ConnectionFailed("the server sent data before the TLS handshake")
        self._arm()  # the handshake as a whole is bounded by the socket's timeout
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionFailed(
                f"certificate verification failed: {exc.verify_message}"
                " (--cafile FILE trusts a private CA; --insecure skips the check)"
            ) from None
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"TLS handshake failed: {_ssl_reason(exc)}") from None
        self.encrypted = True
        version, cipher = self.sock.version(), self.sock.cipher()[0]
        if context.verify_mode == ssl.CERT_NONE:
            self.note(f"TLS {version} {cipher}; certificate NOT verified (--insecure)")
        else:
            self.note(f"TLS {version} {cipher}; certificate verified for {host}")

    def send(self, line, shown=None, command=True):
        """Send one line; print `shown` in its place. `command=False` for AUTH continuation
        lines."""
        self.say("C:", line if shown is None else shown)
        if command:
            self.verbs.append(line.split(" ", 1)[0].upper())
        self._arm()
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def command(self, line, shown=None, command=True):
        self.send(line, shown, command)
        return self.read_reply()

    def read_reply(self):
        lines = []
        while True:
            raw = _printable(self._read_line().decode("utf-8", "backslashreplace"))
            self.say("S:", raw)
            code, separator, text = raw[:3], raw[3:4], raw[4:]
            if not (len(code) == 3 and code.isdigit() and separator in ("-", " ", "")):
                raise ConnectionFailed(f"not an SMTP reply: {self.redact(raw)[:80]!r}")
            lines.append(text)
            if separator != "-":
                return Reply(int(code), lines)
            if len(lines) >= MAX_REPLY_LINES:
                raise ConnectionFailed(f"gave up: a reply of more than {MAX_REPLY_LINES} lines")

    def _read_line(self):
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise ConnectionFailed(f"the server sent a line longer than {MAX_LINE} bytes")
            self._arm()
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionFailed("the server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def quit_quietly(self):
        """QUIT, ignoring any trouble: the result is already known."""
        try:
            self.command("QUIT")
        except (OSError, ConnectionFailed):
            pass

    def close(self):
        if self.sock is not None:
            self.sock.close()


def _ssl_reason(exc):
    """The OpenSSL message of an SSLError, without its source-file reference."""
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return re.sub(r" \(_ssl\.c:\d+\)$", "", str(message))


def _printable(text):
    """Show control characters from the peer as escapes, never raw on the terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def parse_target(text):
    """Split HOST[:PORT] (IPv6 as [ADDR]:PORT or bare ADDR) into (host, port or None)."""
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", text)
    if match:
        host, port = match.groups()
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host:
        raise UsageError(f"no host in {text!r}")
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"bad port in {text!r}")
        port = int(port)
    return host, port


def offered_mechanisms(ehlo):
    """The AUTH mechanisms of an EHLO reply, upper-case, in the server's order."""
    mechanisms = []
    for line in ehlo.lines[1:]:
        words = line.upper().replace("AUTH=", "AUTH ", 1).split()
        if words and words[0] == "AUTH":
            mechanisms += [word for word in words[1:] if word not in mechanisms]
    return mechanisms


def extensions(ehlo):
    return {line.split(" ", 1)[0].upper() for line in ehlo.lines[1:] if line}


def choose_mechanism(requested, offered):
    """The mechanism to use: `requested`, or the strongest offered for "AUTO"."""
    if requested != "AUTO":
        if requested not in offered:
            raise Refused(f"the server does not offer {requested} (it offers {' '.join(offered)})")
        return requested
    for mechanism in MECH_PREFERENCE:
        if mechanism in offered:
            return mechanism
    raise Refused(
        f"the server offers none of {', '.join(MECH_PREFERENCE)} (it offers {' '.join(offered)})"
    )


def authenticate(session, mechanism, user, password):
    """Run the AUTH exchange; return the server's final reply."""
    if mechanism == "PLAIN":
        token = f"\0{user}\0{password}"
        blob = _b64(token)
        session.conceal(token)
        session.conceal(blob, encoded=True)
        return session.command(f"AUTH PLAIN {blob}", shown=f"AUTH PLAIN {REDACTED}")
    reply = session.command(f"AUTH {mechanism}")
    if mechanism == "LOGIN":
        for value in (user, password):
            if reply.code != 334:
                return reply
            line = _b64(value)
            session.conceal(line, encoded=True)
            reply = session.command(line, shown=REDACTED, command=False)
        return reply
    if reply.code != 334:
        return reply
    try:
        challenge = cram_md5.decode_challenge(reply.lines[0])
    except cram_md5.ChallengeError:
        session.command("*", command=False)
        raise Refused("the server's CRAM-MD5 challenge is not base64", reply) from None
    answer = cram_md5.response(user, password, challenge)
    session.conceal(answer, cram_md5.digest(password, challenge), encoded=True)
    return session.command(answer, shown=REDACTED, command=False)


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def send_message(session, sender, recipient, user, ehlo_name):
    """MAIL, RCPT, DATA with a short test message; return the queue ID if the server names one."""
    from email.utils import formatdate, make_msgid  # 2 MB to import: see tls_context()

    reply = session.command(f"MAIL FROM:<{sender}>")
    if reply.code != 250:
        raise Refused("the server refused the sender", reply)
    reply = session.command(f"RCPT TO:<{recipient}>")
    if reply.code not in (250, 251):
        raise Refused("the server refused the recipient", reply)
    reply = session.command("DATA")
    if reply.code != 354:
        raise Refused("the server refused DATA", reply)
    message = [
        f"From: <{sender}>",
        f"To: <{recipient}>",
        "Subject: maillog-sasl auth-test",
        f"Date: {formatdate(localtime=True)}",
        f"Message-ID: {make_msgid('auth-test', domain=ehlo_name)}",
        "",
        f"A test message sent by maillog-sasl auth-test after SMTP AUTH as {user}.",
        ".",
    ]
    for line in message:
        session.send(line, command=False)
    reply = session.read_reply()
    if reply.code != 250:
        raise Refused("the server did not accept the message", reply)
    match = re.search(r"queued as ([0-9A-Za-z]+)", " ".join(reply.lines))
    return match.group(1) if match else None


def disconnect_counters(verbs):
    """Postfix's disconnect counters for a session in which every command succeeded."""
    counts = [f"{verb.lower()}={verbs.count(verb)}"
              for verb in DISCONNECT_COUNTERS if verb in verbs]
    return " ".join(counts + [f"commands={len(verbs)}"])


def log_hints(session, user, mechanism, sent, queue_id):
    """What the administrator finds in the Postfix log after this session."""
    client = f"NAME[{session.client_ip}]"
    hints = [
        "",
        "In the Postfix log (NAME: this client's reverse DNS name, or 'unknown'):",
    ]
    if sent:
        hints += [
            f"  {queue_id or 'QUEUEID'}: client={client}, sasl_method={mechanism},"
            f" sasl_username={user}",
            "  is the line that names the user; it is written once per queued message.",
        ]
    else:
        hints += [
            "  no line names the user: Postfix logs 'client=..., sasl_username=' only when a",
            "  message is queued (try --send-to). The login shows only as auth=1 in:",
        ]
    hints.append(f"  disconnect from {client} {disconnect_counters(session.verbs)}")
    return hints


def auth_refused(session, mechanism, reply):
    """The Refused of an AUTH the server said no to, with the line Postfix logged of it: the
    SASL server's warning; for an AUTH anvil's smtpd_client_auth_rate_limit refused before any
    password was read (Postfix >= 3.1: an admin who runs this again and again meets it), smtpd's
    own (events.AUTH_RATE_LIMIT)."""
    client = f"NAME[{session.client_ip}]"
    if not str(reply).startswith(events.AUTH_RATE_LIMIT_REASON):
        return Refused("authentication failed", reply, [
            "",
            "In the Postfix log, a refused login shows as:",
            f"  warning: {client}: SASL {mechanism} authentication failed: ...",
            "  and as auth=0/1 in the 'disconnect from' line.",
        ])
    return Refused("AUTH refused by the server's rate limit, no password checked", reply, [
        "",
        "In the Postfix log, an AUTH that smtpd_client_auth_rate_limit refused before any",
        "password was read (try again later) shows as:",
        f"  {events.AUTH_RATE_LIMIT}N from {client} for service S",
        "  and as auth=0/1 in the 'disconnect from' line.",
    ])


def run(args, password, out):
    """Run the test; return the exit status. Errors are printed on stderr, except OutputFailed:
    raised when `out` fails, after which the caller has the unwritten output to drop."""
    import ssl  # see tls_context()

    host, port = args.host, args.port
    session = Session(out, password, args.timeout)
    try:
        try:
            session.connect(host, port)
            if args.mode == "tls":
                session.start_tls(args.tls_context, host)
            reply = session.read_reply()
            if reply.code != 220:
                raise Refused("the server refused the connection", reply)
            ehlo = _ehlo(session, args.ehlo)
            if args.mode == "starttls":
                if "STARTTLS" not in extensions(ehlo):
                    raise ConnectionFailed(
                        "the server does not offer STARTTLS; not sending credentials"
                        " unencrypted (use --tls on an implicit-TLS port, or --plain)"
                    )
                reply = session.command("STARTTLS")
                if reply.code != 220:
                    raise ConnectionFailed(f"STARTTLS refused: {reply}")
                session.start_tls(args.tls_context, host)
                ehlo = _ehlo(session, args.ehlo)
            offered = offered_mechanisms(ehlo)
            if not offered:
                why = "the server offers no AUTH"
                if not session.encrypted:
                    why += " without TLS (Postfix: smtpd_tls_auth_only = yes?); try without --plain"
                raise Refused(why)
            mechanism = choose_mechanism(args.mech, offered)
            session.note(f"server offers AUTH {' '.join(offered)}; using {mechanism}")
            if not session.encrypted and mechanism in ("PLAIN", "LOGIN"):
                session.note(f"warning: {mechanism} sends the password readable"
                             " without TLS (--plain)")
            reply = authenticate(session, mechanism, args.user, password)
            if reply.code != 235:
                raise auth_refused(session, mechanism, reply)
            queue_id = None
            if args.send_to:
                queue_id = send_message(session, args.sender, args.send_to, args.user, args.ehlo)
            session.quit_quietly()
        except Refused as exc:
            session.quit_quietly()
            for line in exc.hints:
                session.show(line)
            reply = f": {exc.reply}" if exc.reply is not None else ""
            print(f"{PROG}: {session.redact(f'{exc}{reply}')}", file=sys.stderr)
            return EXIT_REFUSED
    except ssl.SSLError as exc:
        return _connection_failed(session, host, port, f"TLS error: {_ssl_reason(exc)}")
    except (TimeoutError, socket.timeout):
        if session.cut_by_deadline:
            return _connection_failed(session, host, port, session.deadline_message())
        return _connection_failed(session, host, port, f"timed out after {args.timeout:g}s")
    except socket.gaierror as exc:
        reason = f"cannot resolve the host name: {exc.strerror}"
        return _connection_failed(session, host, port, reason)
    except ConnectionFailed as exc:
        return _connection_failed(session, host, port, str(exc))
    except OSError as exc:
        return _connection_failed(session, host, port, (exc.strerror or str(exc)).lower())
    finally:
        session.close()
    session.note(f"authenticated as {args.user} with {mechanism}")
    if queue_id:
        session.note(f"message accepted, queued as {queue_id}")
    for line in log_hints(session, args.user, mechanism, bool(args.send_to), queue_id):
        session.show(line)
    return EXIT_OK


def _ehlo(session, name):
    reply = session.command(f"EHLO {name}")
    if reply.code != 250:
        raise Refused("the server refused EHLO", reply)
    return reply


def _connection_failed(session, host, port, reason):
    print(f"{PROG}: {host} port {port}: {session.redact(reason)}", file=sys.stderr)
    return EXIT_CONNECTION


def tls_context(cafile=None, insecure=False):
    """The TLS context of the test: the system's CAs (or `cafile`'s), the host name checked
    unless `insecure`. Raises UsageError for a --cafile that cannot be used."""
    # Imported here, as in the two functions that handle TLS errors: ssl costs 5 MB of memory
    # to import, and the report command, which shares the process image, never uses it.
    import ssl

    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use --cafile {cafile}: {exc.strerror or exc}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
