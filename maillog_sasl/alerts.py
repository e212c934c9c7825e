"""alerts: where `watch` writes its alerts: NDJSON on a stream or appended to a file, a
command run per alert, a line to syslog, a mail through sendmail.

SUMMARY
    FIELDS                                    the fields every alert has, in order
    to_json(alert) -> one line of JSON (no line end)
    StreamSink(stream)                        NDJSON on an open text stream (stdout)
    FileSink(path)                            NDJSON appended to a file
    CommandSink(command, timeout, complain, background=False)
    SyslogSink(complain, address=DEV_LOG, ident="maillog-sasl")
    MailSink(addresses, timeout, complain, background=False, search_path=None)
    sink.write(alert, text) -> None           raises SinkError (stream and file sinks)
    sink.close()                              (a background sink: waits for its queue)
    syslog_line(alert) -> str; mail_message(alert, addresses, text, hostname) -> bytes
    plain(text, limit) -> attacker text with control and format characters replaced
    SinkError

DESCRIPTION
    An alert is a dict: time (when it was raised, ISO 8601), user, severity, signals, reasons,
    ips, recipients, deferred, queue_ids, first_seen_ip, host, and after those new_signals,
    first_flagged and log_time (see watch.py for their meaning).

    A file sink opens the file with O_APPEND for each alert and writes the line with one
    write(): lines of two writers never interleave, and a line is never half there unless the
    disk filled. The file is made readable by its owner and group (0640).

    A command sink runs `/bin/sh -c COMMAND` per alert, the alert's JSON line on its standard
    input, MAILLOG_SASL_USER and MAILLOG_SASL_SEVERITY in its environment, its standard output
    sent to standard error (standard output carries the NDJSON). It runs in its own process
    group, killed whole after `timeout` seconds. With `background`, commands run one after the
    other in a thread, so that a slow command never holds up reading the log.

    A syslog sink sends one line per alert to the local syslog socket (/dev/log, a datagram
    socket, or a stream one where the daemon listens so), facility mail, priority crit, err or
    warning for the severities critical, high, medium, as the C library's syslog() would
    (`<PRI>Mmm dd hh:mm:ss maillog-sasl[PID]: ...`):

        alert severity=high signals=burst,guessed first_seen_ip=192.0.2.7 ips=192.0.2.7
        recipients=625 deferred=7 host=mail user="bad@example.com"

    (one line). Every value but the user's is a token of letters, digits and `.:_@/+,-`
    (anything else becomes `?`); the username, which an attacker chooses, comes last, quoted,
    its backslashes and quotes escaped and its control characters as \\xNN, so that a filter
    (fail2ban, CrowdSec) anchored on the fields before it cannot be fooled by a username that
    spells `first_seen_ip=...`. A failure-storm alert adds failing_ips=.

    A mail sink runs `sendmail -i -- ADDR...` (found on $PATH, then /usr/sbin, /usr/lib) with a
    short plain-text mail on its standard input: To, a Subject `maillog-sasl: SEVERITY USER
    (SIGNALS)`, Auto-Submitted: auto-generated, then the alert's fields one a line and its JSON.
    The username and everything else from the log goes through plain(): CR, LF and every other
    control or format character becomes `?` (no header can be injected, no line forged), and
    the headers are encoded (RFC 2047) by Python's email package; in the Subject, `=?` becomes
    `??`, so that no text of the log is read as an encoded word there (one spelling a
    right-to-left override, a line end). It runs like a command sink:
    killed after `timeout` seconds, in a thread of its own with `background`.

DIAGNOSTICS
    A stream or file that cannot be written raises SinkError (one line). A command (or
    sendmail) that fails, cannot be started or times out, and a syslog socket that cannot be
    written, are reported through `complain(line)` and never raise.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from email.message import EmailMessage
from typing import Callable, List, Optional, Sequence, TextIO

from maillog_sasl.render import json_safe

FIELDS = ("time", "user", "severity", "signals", "reasons", "ips", "recipients", "deferred",
          "queue_ids", "first_seen_ip", "host")
USER_VARIABLE, SEVERITY_VARIABLE = "MAILLOG_SASL_USER", "MAILLOG_SASL_SEVERITY"
DEV_LOG = "/dev/log"
IDENT = "maillog-sasl"
LOG_MAIL = 2  # syslog facility mail
PRIORITIES = {"critical": 2, "high": 3, "medium": 4}  # crit, err, warning
SENDMAIL_DIRS = ("/usr/sbin", "/usr/lib")
USER_SHOWN = 200  # characters of a username shown in a syslog line or a mail
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9.:_@/+,-]")


class SinkError(Exception):
    """An alert could not be written; str() says where and why."""


def to_json(alert: dict) -> str:
    # The user, reasons and addresses are the log's text: what a terminal would act on escaped.
    return json_safe(json.dumps(alert, ensure_ascii=False, separators=(", ", ": ")))


class StreamSink:
    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, alert: dict, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError) as error:
            raise SinkError(f"cannot write the alert: {getattr(error, 'strerror', None) or error}"
                            ) from None

    def close(self) -> None:
        pass


class FileSink:
    def __init__(self, path: str):
        self.path = path

    def write(self, alert: dict, text: str) -> None:
        data = (text + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                written = os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise SinkError(f"{self.path}: cannot append the alert: {error.strerror}") from None
        if written != len(data):
            raise SinkError(f"{self.path}: the alert was cut short (a full disk?)")

    def close(self) -> None:
        pass


class CommandSink:
    def __init__(self, command: str, timeout: float, complain: Callable[[str], None],
                 background: bool = False):
        self.command = command
        self.timeout = timeout
        self.complain = complain
        self._queue: Optional[queue.Queue] = None
        self._thread: Optional[threading.Thread] = None
        if background:
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._work, name="alert-command", daemon=True)
            self._thread.start()

    def write(self, alert: dict, text: str) -> None:
        if self._queue is not None:
            self._queue.put((alert, text))
        else:
            self.run(alert, text)

    def close(self) -> None:
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            self.run(*item)

    def run(self, alert: dict, text: str) -> None:
        user = str(alert.get("user", ""))
        environment = dict(os.environ)
        environment[USER_VARIABLE] = user.replace("\0", "?")  # no NUL in an environment
        environment[SEVERITY_VARIABLE] = str(alert.get("severity", ""))
        self._run(["/bin/sh", "-c", self.command], (text + "\n").encode("utf-8"),
                  environment, f"alert command for {user!r}")

    def _run(self, argv: List[str], data: bytes, environment: Optional[dict],
             what: str) -> None:
        """Run `argv` with `data` on its standard input, its standard output to stderr, in a
        process group of its own killed after the timeout; what goes wrong is complained."""
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                       stdout=sys.stderr.fileno() if _has_fileno(sys.stderr)
                                       else subprocess.DEVNULL,
                                       env=environment, start_new_session=True)
        except OSError as error:
            self.complain(f"{what}: cannot run: {error.strerror or error}")
            return
        try:
            process.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            self.complain(f"{what}: still running after {self.timeout:g} s: killed")
            return
        if process.returncode:
            how = (f"killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exit status {process.returncode}")
            self.complain(f"{what}: failed ({how})")


# -- text from the log, in a syslog line or a mail ---------------------------------------------

def plain(text: object, limit: int = USER_SHOWN) -> str:
    """`text` with every control, format, surrogate, private-use, unassigned and line or
    paragraph separator character replaced by `?`, cut to `limit` characters (`...` added)."""
    shown = "".join("?" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl",
                                                          "Zp") else char
                    for char in str(text))
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _token(text: object) -> str:
    return _TOKEN_UNSAFE.sub("?", str(text))[:USER_SHOWN] or "-"


def _quoted(text: object) -> str:
    """A quoted value: backslash and quote escaped, control characters as \\xNN."""
    out = []
    for char in str(text)[:USER_SHOWN]:
        if char in "\\\"":
            out.append("\\" + char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def syslog_line(alert: dict) -> str:
    """The alert as one syslog line's message (see the module docstring)."""
    fields = [("severity", _token(alert.get("severity", ""))),
              ("signals", _token(",".join(alert.get("signals", [])))),
              ("first_seen_ip", _token(alert.get("first_seen_ip", ""))),
              ("ips", _token(",".join(alert.get("ips", [])[:5])))]
    if alert.get("failing_ips"):
        fields.append(("failing_ips", _token(",".join(alert["failing_ips"][:10]))))
    fields += [("recipients", _token(alert.get("recipients", 0))),
               ("deferred", _token(alert.get("deferred", 0))),
               ("host", _token(alert.get("host", "")))]
    return ("alert " + " ".join(f"{name}={value}" for name, value in fields)
            + f" user={_quoted(alert.get('user', ''))}")


class SyslogSink:
    """One line per alert to the local syslog socket; see the module docstring."""

    def __init__(self, complain: Callable[[str], None], address: Optional[str] = None,
                 ident: str = IDENT):
        self.complain = complain
        self.address = address or DEV_LOG
        self.ident = ident
        self._socket: Optional[socket.socket] = None
        self._stream = False

    def _connect(self) -> socket.socket:
        if self._socket is None:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                sock = socket.socket(socket.AF_UNIX, kind)
                try:
                    sock.connect(self.address)
                except OSError as error:
                    sock.close()
                    if error.errno == errno.EPROTOTYPE and kind == socket.SOCK_DGRAM:
                        continue
                    raise
                self._socket, self._stream = sock, kind == socket.SOCK_STREAM
                break
        assert self._socket is not None
        return self._socket

    def write(self, alert: dict, text: str) -> None:
        priority = LOG_MAIL * 8 + PRIORITIES.get(str(alert.get("severity")), 4)
        now = time.localtime()
        stamp = f"{_MONTHS[now.tm_mon - 1]} {now.tm_mday:2d} {time.strftime('%H:%M:%S', now)}"
        data = (f"<{priority}>{stamp} {self.ident}[{os.getpid()}]: {syslog_line(alert)}"
                ).encode("utf-8", "replace")
        for attempt in range(2):  # the daemon restarted: connect again, once
            try:
                sock = self._connect()
                sock.sendall(data + b"\0" if self._stream else data)
                return
            except OSError as error:
                self.close()
                if attempt:
                    self.complain(f"syslog ({self.address}): cannot send the alert for "
                                  f"{plain(alert.get('user', ''))!r}: "
                                  f"{error.strerror or error}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


# -- mail --------------------------------------------------------------------------------------

def mail_message(alert: dict, addresses: Sequence[str], text: str, hostname: str) -> bytes:
    """The mail of one alert (see the module docstring)."""
    user = plain(alert.get("user", ""), 100)
    severity = plain(alert.get("severity", ""), 20)
    signals = plain(", ".join(alert.get("signals", [])), 200)
    message = EmailMessage()
    message["To"] = ", ".join(addresses)
    # The header parser decodes what looks like an RFC 2047 encoded word in the text it is
    # given, and writes it encoded again: a username `=?utf-8?q?=E2=80=AE?=` reached the
    # reader's Subject as a right-to-left override. No encoded word starts without `=?`.
    message["Subject"] = f"maillog-sasl: {severity} {user} ({signals})".replace("=?", "??")
    message["Auto-Submitted"] = "auto-generated"
    lines = [f"maillog-sasl watch on {plain(hostname, 100)} raised an alert.", "",
             f"user:          {plain(alert.get('user', ''))}",
             f"severity:      {severity}",
             f"signals:       {signals}"]
    for reason in alert.get("reasons", []):
        lines.append(f"  - {plain(reason, 2000)}")
    for name, label in (("ips", "ips"), ("failing_ips", "failing ips")):
        if alert.get(name):
            lines.append(f"{label + ':':<14} {plain(', '.join(alert[name]), 2000)}")
    lines += [f"first seen ip: {plain(alert.get('first_seen_ip', ''), 100)}",
              f"recipients:    {plain(alert.get('recipients', 0), 20)} "
              f"({plain(alert.get('deferred', 0), 20)} deferred or queued)",
              f"queue ids:     {plain(' '.join(alert.get('queue_ids', [])), 2000) or '-'}",
              f"log host:      {plain(alert.get('host', ''), 100)}",
              f"log time:      {plain(alert.get('log_time', ''), 100)}"]
    for line in alert.get("actions", []):
        lines.append(f"  {plain(line, 2000)}")
    lines += ["", "The alert as JSON:", plain(text, 100_000), ""]
    message.set_content("\n".join(lines))
    return message.as_bytes()


class MailSink(CommandSink):
    """A short mail per alert through the local sendmail; see the module docstring."""

    def __init__(self, addresses: Sequence[str], timeout: float,
                 complain: Callable[[str], None], background: bool = False,
                 search_path: Optional[str] = None):
        self.addresses = list(addresses)
        path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
        self.search = [entry for entry in path.split(os.pathsep) if entry] + list(SENDMAIL_DIRS)
        self.hostname = socket.gethostname()
        super().__init__("", timeout, complain, background)

    def sendmail(self) -> Optional[str]:
        for directory in self.search:
            candidate = os.path.join(directory, "sendmail")
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def run(self, alert: dict, text: str) -> None:
        what = f"alert mail for {plain(alert.get('user', ''))!r}"
        program = self.sendmail()
        if program is None:
            self.complain(f"{what}: sendmail: command not found (searched $PATH and "
                          f"{', '.join(SENDMAIL_DIRS)})")
            return
        self._run([program, "-i", "--", *self.addresses],
                  mail_message(alert, self.addresses, text, self.hostname), None, what)


def check_address(text: str) -> str:
    """An --alert-mail address: no whitespace, control characters or leading '-'; else
    ValueError."""
    if (not text or text.startswith("-") or any(char.isspace() for char in text)
            or plain(text, len(text)) != text or any(char in text for char in "<>,;\"")):
        raise ValueError(f"not one mail address: {text!r}")
    return text


def _has_fileno(stream) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()
