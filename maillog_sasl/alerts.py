"""alerts: where `watch` writes its alerts: NDJSON on a stream or appended to a file, and a
command run per alert.

SUMMARY
    FIELDS                                    the fields every alert has, in order
    to_json(alert) -> one line of JSON (no line end)
    StreamSink(stream)                        NDJSON on an open text stream (stdout)
    FileSink(path)                            NDJSON appended to a file
    CommandSink(command, timeout, complain, background=False)
    sink.write(alert, text) -> None           raises SinkError (stream and file sinks)
    sink.close()                              (a background command sink: waits for its queue)
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

DIAGNOSTICS
    A stream or file that cannot be written raises SinkError (one line). A command that fails,
    cannot be started or times out is reported through `complain(line)` and never raises.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Callable, Optional, TextIO

FIELDS = ("time", "user", "severity", "signals", "reasons", "ips", "recipients", "deferred",
          "queue_ids", "first_seen_ip", "host")
USER_VARIABLE, SEVERITY_VARIABLE = "MAILLOG_SASL_USER", "MAILLOG_SASL_SEVERITY"


class SinkError(Exception):
    """An alert could not be written; str() says where and why."""


def to_json(alert: dict) -> str:
    return json.dumps(alert, ensure_ascii=False, separators=(", ", ": "))


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
        environment[USER_VARIABLE] = user
        environment[SEVERITY_VARIABLE] = str(alert.get("severity", ""))
        what = f"alert command for {user!r}"
        try:
            process = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE,
                                       stdout=sys.stderr.fileno() if _has_fileno(sys.stderr)
                                       else subprocess.DEVNULL,
                                       env=environment, start_new_session=True)
        except OSError as error:
            self.complain(f"{what}: cannot run: {error.strerror or error}")
            return
        try:
            process.communicate((text + "\n").encode("utf-8"), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            self.complain(f"{what}: still running after {self.timeout:g} s: killed")
            return
        if process.returncode:
            how = (f"killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exit status {process.returncode}")
            self.complain(f"{what}: failed ({how})")


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
