#!/usr/bin/env python3
"""benchmarks/queued_message.py: what one queued message costs the correlator while it waits.

WHAT IT DOES
    Feeds maillog_sasl.correlate.Correlator the lines of N messages that wait in the queue, the
    way the submission profile's spam does: an authenticated smtpd session (connect, client=
    with SASL fields, disconnect with its counters), cleanup's message-id, qmgr's `from=...
    (queue active)` with 3 recipients, and one deferred delivery attempt for each recipient.
    Every session has ended; every message is still open. The memory tracemalloc sees held
    after the N messages, less what was held before, over N, is the cost of one waiting
    message (its Message, Recipients, their last delivery lines, and what it keeps alive).

INPUT
    --messages N (default 2000), --recipients R (default 3). The maillog_sasl imported is the
    first on sys.path (benchmarks/run.py sets PYTHONPATH to the tree it measures).

OUTPUT
    One JSON object on stdout: {"messages": N, "recipients": R, "bytes_per_message": B}.

HOW IT FAILS
    Exit status 1 when the correlator does not hold the N messages open (the lines no longer
    mean what they meant when this was written); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc


def session_lines(number: int, recipients: int):
    """The lines of message `number`: its session, its queue file, a deferred attempt for each
    recipient."""
    second = number % 60
    minute = (number // 60) % 60
    stamp = f"Mar  2 10:{minute:02d}:{second:02d}"
    host = "mail"
    pid = 10000 + number % 5000
    queue_id = f"4Q{number:010X}"
    ip = f"203.0.{(number >> 8) & 255}.{number & 255}"
    user = f"user{number % 60}@example.org"
    smtpd = f"{stamp} {host} postfix/submission/smtpd[{pid}]: "
    yield smtpd + f"connect from client{number}.example.net[{ip}]"
    yield (smtpd + f"{queue_id}: client=client{number}.example.net[{ip}], sasl_method=PLAIN, "
           f"sasl_username={user}")
    yield (f"{stamp} {host} postfix/cleanup[{pid + 1}]: {queue_id}: "
           f"message-id=<{number}.{queue_id}@client{number}.example.net>")
    yield (f"{stamp} {host} postfix/qmgr[99]: {queue_id}: from=<{user}>, size={1200 + number}, "
           f"nrcpt={recipients} (queue active)")
    yield (smtpd + f"disconnect from client{number}.example.net[{ip}] ehlo=1 auth=1 mail=1 "
           f"rcpt={recipients} data=1 quit=1 commands={5 + recipients}")
    for index in range(recipients):
        yield (f"{stamp} {host} postfix/smtp[{pid + 2}]: {queue_id}: "
               f"to=<victim{number}.{index}@remote{index}.example.com>, "
               f"relay=none, delay=0.5, delays=0.01/0/0.48/0, dsn=4.4.1, status=deferred "
               f"(connect to mx.remote{index}.example.com[198.51.100.{index + 1}]:25: "
               f"Connection timed out)")


def measure(messages: int, recipients: int) -> dict:
    from maillog_sasl.correlate import Correlator
    from maillog_sasl.syslog import Clock

    lines = [line for number in range(messages) for line in session_lines(number, recipients)]
    correlator = Correlator()
    clock = Clock(year=2026)
    # One message first: the caches (tags, clock minutes) are built outside the measurement.
    correlator.feed(list(session_lines(messages, recipients)), clock)
    correlator.finished.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for start in range(0, len(lines), 4096):
        correlator.feed(lines[start:start + 4096], clock)
        correlator.finished.clear()  # the finished sessions are handed on and gone
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    if len(correlator.messages) != messages + 1:
        raise SystemExit(f"queued_message.py: {len(correlator.messages)} messages open, "
                         f"expected {messages + 1}")
    return {"messages": messages, "recipients": recipients,
            "bytes_per_message": round((after - before) / messages)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/queued_message.py",
                                     description="Bytes the correlator holds per queued message.")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=3)
    options = parser.parse_args(argv)
    if options.messages < 1 or options.recipients < 1:
        parser.error("--messages and --recipients >= 1")
    print(json.dumps(measure(options.messages, options.recipients)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
