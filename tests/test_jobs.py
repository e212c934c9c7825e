"""--jobs N: worker processes give the very bytes of one process, for every report and format on
every shipped log, with chunks small enough that the small logs are cut into many; and the
parts that cannot be cut (standard input, pipes), the checks that send a chunk back to be read
in order (New Year, DST, Feb 29, doubled input), idle sessions, --stats and bad inputs.
"""

import concurrent.futures
import datetime as dt
import errno
import functools
import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_golden import GOLDEN, LOGS, cases
from test_golden import digest as golden_digest

import maillog_sasl
from maillog_sasl import cli as cli_module
from maillog_sasl import model, parallel
from maillog_sasl.model import REFUSED, Message, Session
from maillog_sasl.syslog import parse_zone

from maillog_writer import SECOND, MailLog, at
from support import children_of

ROOT = Path(__file__).resolve().parent.parent
# Small chunks: the shipped logs (a few KB to 4 MB) are cut into tens to thousands of chunks.
SMALL = 700
SAMPLE_CHUNK = 40_000
GOLDEN_HASHES = json.loads(GOLDEN.read_text())  # one process's bytes


def chunks_of(chunk_size, monkeypatch):
    """The command's inputs cut in chunks of `chunk_size` bytes (the CLI has no option)."""
    monkeypatch.setattr(cli_module, "open_logs",
                        functools.partial(maillog_sasl.open_logs, chunk_size=chunk_size))


@pytest.fixture
def run(cli, monkeypatch):
    """run(args, jobs, chunk_size, stdin=b"") -> (exit status, stdout, stderr) of the command
    with --jobs `jobs`, its inputs cut in chunks of `chunk_size` bytes."""
    def command(args, jobs, chunk_size, stdin=b""):
        chunks_of(chunk_size, monkeypatch)
        result = cli(*args, "--jobs", jobs, stdin=stdin)
        return result.code, result.out, result.err
    return command


# Every report of tests/golden in one format (the next test takes every format): a worker pool
# a run costs a few tens of ms.
GOLDEN_CASES = [(case, args) for case, args in cases() if case.endswith(" -f json")]


@pytest.mark.parametrize("case, args", GOLDEN_CASES, ids=[case for case, _ in GOLDEN_CASES])
def test_two_jobs_write_the_golden_bytes(case, args, monkeypatch):
    """Each report of tests/golden (one process's bytes) with two workers."""
    chunks_of(SAMPLE_CHUNK if case.startswith("sample ") else SMALL, monkeypatch)
    monkeypatch.chdir(ROOT)
    assert golden_digest([*args, "--jobs", "2"]) == GOLDEN_HASHES[case], case


@pytest.mark.parametrize("log", sorted(LOGS))
@pytest.mark.parametrize("fmt", ["table", "csv", "json", "ndjson", "ids"])
def test_one_two_and_four_jobs_agree(log, fmt, run, monkeypatch):
    """Every format, --stats included, with 1, 2 and 4 jobs and chunks of two sizes."""
    monkeypatch.chdir(ROOT)
    report = "messages" if fmt == "ids" else "suspicious"
    args = ["-r", report, "-f", fmt, "--stats", *LOGS[log]]
    chunk = SAMPLE_CHUNK if log == "sample" else SMALL
    one = run(args, 1, chunk)
    assert one[0] == 0, one[2]
    for jobs, size in ((2, chunk), (4, chunk // 3)):
        assert run(args, jobs, size) == one, (jobs, size)


# A compiled class (setup.py) has no __slots__: their fields are named in model.
FIELDS = {Session: model.SESSION_FIELDS, Message: model.MESSAGE_FIELDS}


def canonical(analysis) -> list:
    """Every field of every finished object, in order; the Stats; the problems."""
    def fields(item):
        values = {}
        for name in FIELDS[type(item)]:
            value = getattr(item, name)
            if name in ("serial", "_counters", "_details"):
                continue
            if name == "recipients":
                value = [(key, {slot: getattr(recipient, slot) for slot in model.RECIPIENT_FIELDS
                                if slot != "_details"}) for key, recipient in value.items()]
            elif name in ("session", "parent") and value is not None:
                value = (value.host, getattr(value, "queue_id", None), getattr(value, "pid", None))
            values[name] = value
        return (type(item).__name__, repr(values))
    items = [fields(item) for item in analysis]
    # The times a line came before or after every one read before are counted by each worker
    # in its own chunk (whether a log runs backwards: the verdict, a problem, is compared).
    stats = {name: getattr(analysis.stats, name) for name in model.STATS_FIELDS
             if name not in ("earliest_moves", "latest_moves")}
    stats["usernames"] = sorted(stats["usernames"])
    return [items, stats, [str(problem) for problem in analysis.problems]]


def read_canonical(log, jobs: int, chunk_size: int) -> list:
    """canonical() of `log` (a 2026 log in UTC) read with `jobs` processes in chunks of
    `chunk_size` bytes."""
    return canonical(maillog_sasl.open_logs([log], year=2026, zone=parse_zone("UTC"), jobs=jobs,
                                            chunk_size=chunk_size))


def read_alike(log, cuts) -> list:
    """read_canonical() of `log` by one process, once each (jobs, chunk size) of `cuts` has
    read it the same."""
    one = read_canonical(log, 1, 1 << 24)
    for jobs, chunk_size in cuts:
        assert read_canonical(log, jobs, chunk_size) == one, (jobs, chunk_size)
    return one


def sessions_holding(read: list, field: str) -> int:
    """How many sessions of a canonical() `read` hold `field` (`'complete': True`)."""
    return sum(1 for kind, fields in read[0] if kind == "Session" and field in fields)


def shipped_logs():
    for pattern in ("tests/scenarios/*.log", "tests/corpus/*.log", "tests/reallogs/*/*.log",
                    "tests/fixtures/postfix37/maillog", "sample_logs/seed-maillog.txt"):
        yield from sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(pattern))


@pytest.mark.parametrize("path", list(shipped_logs()))
def test_the_same_objects_in_the_same_order(path):
    zone = parse_zone("UTC")
    one = canonical(maillog_sasl.open_logs([ROOT / path], year=2026, zone=zone))
    assert one[0] or one[2] or one[1]["lines_read"], path
    for jobs, size in ((2, 500), (4, 150), (2, 4000)):
        assert canonical(maillog_sasl.open_logs([ROOT / path], year=2026, zone=zone,
                                                jobs=jobs, chunk_size=size)) == one


def test_a_worker_ends_on_the_pools_sigterm_even_when_the_run_ignores_it():
    """A run started ignoring SIGTERM (`trap '' TERM`) kept it ignored in its workers: when one
    was killed, the pool's terminate() of the others (stuck on its queue's lock) did nothing,
    and the run waited for ever (a review's). SIGHUP ignored (nohup) stays ignored."""
    code = ("import os, signal\n"
            "from maillog_sasl import parallel\n"
            "parallel._worker_started()\n"
            "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,"
            " signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)\n")

    def ignoring():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          preexec_fn=ignoring)
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_a_run_started_in_a_thread_that_ends_keeps_its_workers():
    """A library user starts the stream in one thread and reads it on in another: the workers
    are forked by the thread of the first item, and must outlive it (a review's: with
    prctl(PR_SET_PDEATHSIG) they died with that thread, "a worker process died")."""
    import threading

    log = ROOT / "sample_logs" / "maillog-sample.log"
    zone = parse_zone("UTC")
    stream = iter(maillog_sasl.open_logs([log], year=2026, zone=zone, jobs=2,
                                         chunk_size=200_000))
    first = []
    starter = threading.Thread(target=lambda: first.append(next(stream)))
    starter.start()
    starter.join()
    rest = list(stream)
    one = list(maillog_sasl.open_logs([log], year=2026, zone=zone))
    assert len(first + rest) == len(one)


def test_closing_a_stream_read_in_part_stops_its_workers():
    """Analysis.close() let go of the files in this process only: the worker kept the log (and
    the caller's stdout) open, and lived on until the Analysis was garbage."""
    log = ROOT / "sample_logs" / "maillog-sample.log"
    others = set(children_of(os.getpid()))  # (earlier tests': Dask's resource tracker)
    analysis = maillog_sasl.open_logs([log], year=2026, jobs=2, chunk_size=200_000)
    next(iter(analysis))
    workers = set(children_of(os.getpid())) - others
    assert workers
    analysis.close()
    assert not workers & set(children_of(os.getpid())) and list(analysis) == []
    # Closed by on_batch, within the iteration, as before: the read ends cut short.
    analysis = maillog_sasl.open_logs([log], year=2026)
    analysis.on_batch = lambda source, stats: analysis.close()
    assert len(list(analysis)) < 2202 and "read failed part way" in analysis.problems[0].message


def compare(paths, monkeypatch, year=None, tz="UTC", sizes=((2, 300), (4, 120), (2, 2000))):
    zone = parse_zone(tz)
    one = canonical(maillog_sasl.open_logs(paths, year=year, zone=zone))
    for jobs, size in sizes:
        assert canonical(maillog_sasl.open_logs(paths, year=year, zone=zone, jobs=jobs,
                                                chunk_size=size)) == one, (jobs, size)
    return one


def session_lines(start, minutes, every=2, lost_disconnect=True, zone=dt.timezone.utc):
    """SASL failures from a new client every `every` minutes, their disconnect lost (or not)."""
    lines = []
    for minute in range(0, minutes, every):
        moment = (start + dt.timedelta(minutes=minute)).astimezone(zone)
        stamp = moment.strftime("%b %d %H:%M:%S")
        pid = 1000 + minute
        ip = f"203.0.113.{minute % 250}"
        lines.append(f"{stamp} mail postfix/smtpd[{pid}]: connect from unknown[{ip}]")
        lines.append(f"{stamp} mail postfix/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN "
                     "authentication failed: UGFzc3dvcmQ6")
        if not lost_disconnect:
            lines.append(f"{stamp} mail postfix/smtpd[{pid}]: disconnect from unknown[{ip}] "
                         "ehlo=1 auth=0/1 commands=1/2")
    return lines


def submissions(start, count, every=7, zone=dt.timezone.utc):
    """Authenticated messages, one every `every` minutes, each deferred once, then sent an
    hour later: messages open across many chunks."""
    timed = []
    for number in range(count):
        moment = start + dt.timedelta(minutes=number * every)
        qid, pid = f"{0xA0000 + number:X}", 3000 + number
        ip = f"198.51.100.{number % 200}"
        for offset, text in (
                (0, f"postfix/submission/smtpd[{pid}]: connect from unknown[{ip}]"),
                (1, f"postfix/submission/smtpd[{pid}]: {qid}: client=unknown[{ip}], "
                    f"sasl_method=PLAIN, sasl_username=user{number % 5}@example.test"),
                (2, f"postfix/qmgr[99]: {qid}: from=<user{number % 5}@example.test>, "
                    "size=900, nrcpt=1 (queue active)"),
                (3, f"postfix/submission/smtpd[{pid}]: disconnect from unknown[{ip}] ehlo=1 "
                    "auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6"),
                (4, f"postfix/smtp[77]: {qid}: to=<x{number}@remote.example>, "
                    "relay=none, delay=1, dsn=4.4.1, status=deferred (connect timed out)"),
                (3600, f"postfix/smtp[78]: {qid}: to=<x{number}@remote.example>, "
                       "relay=mx.remote.example[192.0.2.1]:25, delay=3600, dsn=2.0.0, "
                       "status=sent (250 ok)"),
                (3601, f"postfix/qmgr[99]: {qid}: removed")):
            timed.append((moment + dt.timedelta(seconds=offset), text))
    timed.sort(key=lambda pair: pair[0])
    return [f"{when.astimezone(zone).strftime('%b %d %H:%M:%S')} mail {text}"
            for when, text in timed]


def write(tmp_path, name, lines, mtime=None):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_messages_open_across_chunks(tmp_path, monkeypatch):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),
                                                  300))
    items, stats, _ = compare([path], monkeypatch, year=2026)
    assert stats["messages"] == 300 and len(items) >= 600


def test_deliveries_logged_out_of_order_count_in_the_log_s_span(tmp_path, monkeypatch):
    # A worker folds the deliveries of a message born in a chunk before to each recipient's
    # last; the log's span was taken from the first and last line folded (and each host's
    # ten-minute slots). Deliveries to three recipients by parallel smtp processes, logged out
    # of order within a minute at the log's end: its latest time was the middle line's read
    # by one process, and the `removed` line's with workers; the header named another end (a
    # mutation fuzzer's find, 2026-12-05: an RFC 3339 line whose offset was cut off).
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    lines = submissions(start, 120)
    sent, removed = lines[-2:]
    assert "A0077: to=<x119@" in sent and removed.endswith("A0077: removed")
    stamp = sent[:13]
    lines[-2:] = [sent, sent.replace("x119@", "y119@").replace(sent[:15], f"{stamp}03"),
                  sent.replace("x119@", "z119@").replace(sent[:15], f"{stamp}01"),
                  removed.replace(removed[:15], f"{stamp}02")]
    sizes = [(jobs, size) for jobs in (2, 4) for size in (300, 600, 1000, 2000)]
    items, stats, _ = compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026,
                              sizes=sizes)
    assert stats["last_time"].strftime("%b %d %H:%M:%S") == f"{stamp}03"


def anvil_lines(stamps) -> list:
    """anvil's statistics, a line of no use to any report at each of `stamps`: what comes after
    them falls in a later chunk."""
    return [f"{stamp} mail postfix/anvil[9]: statistics: max connection rate 1/60s for "
            "(smtp:192.0.2.1) at Mar  2 09:59:00" for stamp in stamps]


def compare_in_small_chunks(tmp_path, lines, monkeypatch):
    """compare() on `lines`, a 2026 log, with 2 and 3 jobs in chunks of 300 to 2,000 bytes."""
    sizes = [(jobs, size) for jobs in (2, 3) for size in (300, 600, 1000, 2000)]
    return compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026, sizes=sizes)


def test_a_message_s_size_on_a_line_whose_stamp_gives_no_time(tmp_path, monkeypatch):
    # qmgr's first `(queue active)` line of a message, its stamp damaged into no time, in a
    # worker's chunk after the message's client=: the worker took the size as known and folded
    # the next `(queue active)` line, the one that gives it, as a retry that changes nothing:
    # counted used with workers, and the message without its size (tools/fuzz, seed 22).
    lines = ["2026-03-07T18:21:15.507291+09:00 mail postfix/submission/smtpd[53436]: "
             "7BD9B3B1055A: client=unknown[198.18.70.42], sasl_method=PLAIN, "
             "sasl_username=n.wagner@corp.example"]
    lines += anvil_lines(f"2026-03-07T18:21:15.{number:06d}+09:00" for number in range(12))
    lines += ["2026-03-07T18x:21:15.566005+09:00 mail postfix/qmgr[1287]: 7BD9B3B1055A: "
              "from=<n.wagner@corp.example>, size=10266, nrcpt=1 (queue active)",
              "2026-03-07T18:21:16.612343+09:00 mail postfix/qmgr[1287]: 7BD9B3B1055A: "
              "from=<n.wagner@corp.example>, size=2422, nrcpt=1 (queue active)"]
    items, stats, _ = compare_in_small_chunks(tmp_path, lines, monkeypatch)
    assert (stats["unread_stamps"], stats["lines_used"]) == (1, 2)
    assert "'size': 2422" in next(fields for kind, fields in items if kind == "Message")


def test_the_last_stamp_that_gives_no_time_is_the_last_in_the_log(tmp_path, monkeypatch):
    # Postfix lines whose stamp gives no time are told with the last such stamp. A worker
    # counted those of its own sessions in the Stats of its piece, which the parent adds after
    # applying the piece's lines handed back: a line of a session born before the chunk, its
    # stamp no time either and later in the chunk, was named with one process and the worker's
    # earlier one with workers (tools/fuzz, seed 21).
    lines = ["Mar  2 10:00:00 mail postfix/smtpd[100]: connect from unknown[192.0.2.10]"]
    lines += anvil_lines(f"Mar  2 10:00:{number:02d}" for number in range(1, 12))
    lines += ["Mar  2 10:01:00 mail postfix/smtpd[200]: connect from unknown[192.0.2.20]",
              "Feb 30 10:01:01 mail postfix/smtpd[200]: 4A1B2C3D4E: client=unknown[192.0.2.20], "
              "sasl_method=PLAIN, sasl_username=ann@example.test",
              "Feb 31 10:01:02 mail postfix/smtpd[100]: warning: unknown[192.0.2.10]: SASL LOGIN "
              "authentication failed: UGFzc3dvcmQ6",
              "Mar  2 10:01:03 mail postfix/smtpd[100]: disconnect from unknown[192.0.2.10] "
              "ehlo=1 auth=0/1 commands=1/2"]
    items, stats, _ = compare_in_small_chunks(tmp_path, lines, monkeypatch)
    assert (stats["unread_stamps"], stats["unread_stamp"]) == (2, "Feb 31 10:01:02")


def acted_submissions(start, count, action="hold", every=3):
    """Authenticated messages put on hold, or discarded (the shapes of Postfix 3.7.11's lines,
    tests/e2e): by turns NOQUEUE before the queue file, with the queue ID, and by cleanup's
    header_checks; of those held, every third released an hour later and sent. Sessions
    overlap, so that the line, its session and its message fall in different chunks."""
    timed = []
    for number in range(count):
        moment = start + dt.timedelta(minutes=number * every)
        qid, pid = f"{0xB0000 + number:X}", 4000 + number
        ip, user = f"198.51.100.{number % 200}", f"user{number % 5}@example.test"
        smtpd = f"postfix/submission/smtpd[{pid}]"
        line = (f"{action}: RCPT from unknown[{ip}]: <{user}>: SASL login name compromised "
                f"account; from=<{user}> to=<h{number}@remote.example> proto=ESMTP helo=<client>")
        lines = [(0, f"{smtpd}: connect from unknown[{ip}]"),
                 (200, f"{smtpd}: {qid}: client=unknown[{ip}], sasl_method=PLAIN, "
                       f"sasl_username={user}"),
                 (500, f"{smtpd}: disconnect from unknown[{ip}] ehlo=1 auth=1 mail=1 rcpt=1 "
                       "data=1 quit=1 commands=6")]
        if action == "hold":
            lines.append((400, f"postfix/cleanup[88]: {qid}: message-id=<{number}@example.test>"))
        if number % 3 == 0:
            lines.append((100, f"{smtpd}: NOQUEUE: {line}"))
        elif number % 3 == 1:
            lines.append((300, f"{smtpd}: {qid}: {line}"))
        else:
            lines.append((300, f"postfix/cleanup[88]: {qid}: {action}: header Subject: {action} me "
                               f"from unknown[{ip}]; from=<{user}> to=<h{number}@remote.example> "
                               f"proto=ESMTP helo=<client>: by header check"))
        if number % 3 == 0 and action == "hold":
            lines += [(3600, f"postfix/postsuper[66]: {qid}: released from hold"),
                      (3700, f"postfix/qmgr[99]: {qid}: from=<{user}>, size=900, nrcpt=1 "
                             "(queue active)"),
                      (3701, f"postfix/smtp[78]: {qid}: to=<h{number}@remote.example>, "
                             "relay=mx.remote.example[192.0.2.1]:25, delay=3600, dsn=2.0.0, "
                             "status=sent (250 ok)"),
                      (3702, f"postfix/qmgr[99]: {qid}: removed")]
        timed += [(moment + dt.timedelta(seconds=offset), text) for offset, text in lines]
    timed.sort(key=lambda pair: pair[0])
    return [f"{when.strftime('%b %d %H:%M:%S')} mail {text}" for when, text in timed]


def messages_of(path, monkeypatch):
    """The messages of `path` (--jobs 4, small chunks) once compare() found them identical."""
    assert compare([path], monkeypatch, year=2026)[1]["messages"] == 90
    return [item for item in maillog_sasl.open_logs([path], year=2026, zone=dt.timezone.utc,
                                                    jobs=4, chunk_size=150)
            if isinstance(item, Message)]


def test_held_messages_across_chunks(tmp_path, monkeypatch):
    path = write(tmp_path, "maillog", acted_submissions(dt.datetime(2026, 3, 2,
                                                                    tzinfo=dt.timezone.utc), 90))
    messages = messages_of(path, monkeypatch)
    held = [message for message in messages if message.state == "queued"]
    assert len(held) == 60 and len(messages) == 90
    assert all([recipient.reason[:6] for recipient in message.recipients.values()] == ["held: "]
               for message in held)


def test_discarded_messages_across_chunks(tmp_path, monkeypatch):
    path = write(tmp_path, "maillog", acted_submissions(
        dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), 90, "discard"))
    messages = messages_of(path, monkeypatch)
    assert len(messages) == 90 and {message.state for message in messages} == {REFUSED}
    assert all([(recipient.status, recipient.reason[:9])
                for recipient in message.recipients.values()] == [("rejected", "discard: ")]
               for message in messages)


def test_idle_sessions_are_closed_where_one_process_closes_them(tmp_path, monkeypatch):
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    lines = session_lines(start, 24 * 60)
    lines[len(lines) // 2:len(lines) // 2] = session_lines(start + dt.timedelta(hours=12), 30,
                                                           lost_disconnect=False)
    items, stats, _ = compare([write(tmp_path, "maillog", lines)], monkeypatch, year=2026)
    assert stats["sessions_idle"] > 600


def test_guesses_from_failures_that_came_late_are_the_same_with_workers(tmp_path, run):
    """Failures logged before a login, in a connection that ended after it or whose smtpd was
    killed: the rules judge the login again on the merged stream, in the parent, however the
    chunks cut the sessions apart."""
    log = MailLog()
    for number in range(40):
        ip, user, when = f"203.0.113.{number}", f"user{number}@example.jp", at(0, 10, 5 * number)
        log.failures(ip, when, [user] * 3, until=when + 40 * SECOND, killed=number % 4 == 0)
        log.login(user, ip, when + 5 * SECOND)
    args = ["-r", "suspicious", "-f", "json", "--stats", log.write(tmp_path / "maillog")]
    one = run(args, 1, SMALL)
    assert one[0] == 0, one[2]
    assert [row["signals"] for row in json.loads(one[1])] == [["guessed"]] * 40
    for jobs, size in ((2, SMALL), (4, SMALL // 3)):
        assert run(args, jobs, size) == one, (jobs, size)


def test_new_year_without_a_year(tmp_path, monkeypatch):
    """The year from the file's time, carried across New Year in the middle of the file (a
    chunk is read in order again), with a straggler from December after January's lines."""
    start = dt.datetime(2025, 12, 31, 20, tzinfo=dt.timezone.utc)
    lines = submissions(start, 90)
    lines.insert(len(lines) // 2 + 3, lines[len(lines) // 2 - 40])  # a straggler, late
    path = write(tmp_path, "maillog", lines, mtime=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    items, _, _ = compare([path], monkeypatch)
    years = {item.queued.year for item in maillog_sasl.analyze([path], zone=parse_zone("UTC"))
             .items if isinstance(item, Message)}
    assert years == {2025, 2026} and items


def rotated_set(tmp_path, start):
    """[maillog, maillog.1, maillog.2.gz]: submissions from `start` in the first two, the day
    before's failed logins in the .gz."""
    lines = submissions(start, 120)
    half = len(lines) // 2
    old = write(tmp_path, "maillog.1", lines[:half])
    with gzip.open(tmp_path / "maillog.2.gz", "wt") as packed:
        packed.write("\n".join(session_lines(start - dt.timedelta(days=1), 600)) + "\n")
    return [write(tmp_path, "maillog", lines[half:]), old, tmp_path / "maillog.2.gz"]


def test_a_rotated_set_across_new_year_with_a_year(tmp_path, monkeypatch):
    compare(rotated_set(tmp_path, dt.datetime(2025, 12, 31, 18, tzinfo=dt.timezone.utc)),
            monkeypatch, year=2025)


def test_dst_fall_back(tmp_path, monkeypatch):
    """Europe/Berlin's repeated hour (2026-10-25 02:00-02:59) inside the file."""
    berlin = parse_zone("Europe/Berlin")
    start = dt.datetime(2026, 10, 24, 22, tzinfo=dt.timezone.utc)  # 00:00 local
    lines = submissions(start, 60, every=5, zone=berlin)
    path = write(tmp_path, "maillog", lines)
    compare([path], monkeypatch, year=2026, tz="Europe/Berlin")


def test_feb_29_moves_a_guessed_year(tmp_path, monkeypatch):
    start = dt.datetime(2024, 2, 28, 12, tzinfo=dt.timezone.utc)
    path = write(tmp_path, "maillog", submissions(start, 200),
                 mtime=dt.datetime(2025, 3, 5, tzinfo=dt.timezone.utc))
    compare([path], monkeypatch)


@pytest.mark.parametrize("copies", [2, 3])
def test_a_doubled_log(tmp_path, monkeypatch, copies):
    lines = submissions(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), 80)
    doubled = [line for line in lines for _ in range(copies)]
    _, stats, _ = compare([write(tmp_path, "maillog", doubled)], monkeypatch, year=2026)
    assert stats["repeated_lines"] == (copies - 1) * len(lines)


def test_a_truncated_gz_in_a_set_is_one_problem(tmp_path, monkeypatch, run):
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    data = gzip.compress(("\n".join(submissions(start, 200)) + "\n").encode())
    (tmp_path / "maillog.2.gz").write_bytes(data[:len(data) // 2])
    recent = write(tmp_path, "maillog.1", submissions(start + dt.timedelta(days=1), 100))
    _, _, problems = compare([tmp_path / "maillog.2.gz", recent], monkeypatch, year=2026)
    assert len(problems) == 1 and "maillog.2.gz" in problems[0]
    code, out, err = run(["--year", "2026", "--tz", "UTC", str(tmp_path / "maillog.2.gz"),
                          str(recent)], 2, 300)
    assert code == 2 and err.count("\n") == 1 and "maillog.2.gz" in err


def test_standard_input_is_read_by_one_process(tmp_path, monkeypatch, run):
    lines = submissions(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), 50)
    path = write(tmp_path, "maillog", lines)
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC"]
    expected = run([*args, str(path)], 1, SMALL)
    monkeypatch.setattr(parallel, "_work", None)  # a worker would fail
    assert run([*args, "-"], 4, SMALL, stdin=path.read_bytes()) == expected


def placed_inserts(monkeypatch) -> list:
    """The keys put in the maps where this process notes places (parallel._Placed), as they
    are put in."""
    inserts: list = []
    real_setitem = parallel._Placed.__setitem__

    def counted(placed, key, value):
        inserts.append(key)
        real_setitem(placed, key, value)

    monkeypatch.setattr(parallel._Placed, "__setitem__", counted)
    return inserts


def test_a_pipe_beside_a_split_file_is_read_without_places(tmp_path, monkeypatch, run):
    """Places (where a piece's lines opened an object) are told only among a piece's events:
    the lines this process reads itself (a pipe) must not note one per connect and message."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    path = write(tmp_path, "maillog", submissions(start, 40))
    piped = "\n".join(submissions(start + dt.timedelta(days=1), 50)).encode() + b"\n"
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC", str(path), "-"]
    inserts = placed_inserts(monkeypatch)
    code, out, err = run(args, 2, SMALL, stdin=piped)
    with_pipe = len(inserts)
    inserts.clear()
    run(args, 2, SMALL, stdin=b"")
    assert with_pipe == len(inserts)
    assert (code, out, err) == run(args, 1, SMALL, stdin=piped) and out.count("\n") > 90


def test_an_input_read_again_here_whole_is_read_without_places(tmp_path, monkeypatch, run):
    """A compressed input (one worker's job, whole) whose piece fails its check is read here
    as the pipe above is, its first lines (held back until they tell how many copies it has)
    included: no place noted for them."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    path = write(tmp_path, "maillog", submissions(start, 40))
    packed = tmp_path / "later.gz"
    packed.write_bytes(gzip.compress(("\n".join(submissions(start + dt.timedelta(days=1), 50))
                                      + "\n").encode()))
    args = ["-r", "messages", "-f", "csv", "--year", "2026", "--tz", "UTC", str(path)]
    why_not = parallel._Merge.why_not

    def whole_fails(self, piece, guess, clock):
        # (the compressed input's piece: the split file's pieces are of a few lines each)
        return "a check failed" if piece.stats.lines_read > 100 else why_not(
            self, piece, guess, clock)

    monkeypatch.setattr(parallel._Merge, "why_not", whole_fails)
    inserts = placed_inserts(monkeypatch)
    code, out, err = run([*args, str(packed)], 2, SMALL)
    with_packed = len(inserts)
    inserts.clear()
    run(args, 2, SMALL)
    assert with_packed == len(inserts)
    assert (code, out, err) == run([*args, str(packed)], 1, SMALL) and out.count("\n") > 90


def test_one_job_starts_no_worker(tmp_path, monkeypatch, run):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 50))
    monkeypatch.setattr(parallel, "Pool", None)
    code, out, _ = run(["-f", "csv", "--year", "2026", str(path)], 1, SMALL)
    assert code == 0 and out


def test_the_default_is_one_process_and_0_one_per_usable_core(tmp_path, monkeypatch, cli):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 50))
    chunks_of(SMALL, monkeypatch)
    monkeypatch.setattr(cli_module, "usable_cores", lambda: 3)
    asked = []
    real = maillog_sasl.correlate_parallel

    def spy(sources, jobs, *args, **kwargs):
        asked.append(jobs)
        return real(sources, jobs, *args, **kwargs)

    monkeypatch.setattr(maillog_sasl, "correlate_parallel", spy)
    default = cli("-f", "csv", "--year", "2026", path)
    cores = cli("-f", "csv", "--year", "2026", "--jobs", "0", path)
    assert (cores.code, cores.out, cores.err) == (0, default.out, default.err) and default.out
    assert asked == [3]  # (one process reads without parallel.py)


def die(job):
    os._exit(9)  # killed, as by the kernel's OOM killer


def test_a_dead_worker_is_one_line(tmp_path, monkeypatch, run):
    path = write(tmp_path, "maillog", submissions(dt.datetime(2026, 3, 2,
                                                              tzinfo=dt.timezone.utc), 50))
    monkeypatch.setattr(parallel, "_work", die)
    code, out, err = run(["--year", "2026", str(path)], 2, SMALL)
    assert code == 2 and err.count("\n") == 1 and "worker process died" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["257", "x", "-1"])
def test_jobs_is_a_number_of_processes(value, cli):
    result = cli("--jobs", value, "sample_logs/seed-maillog.txt")
    assert result.code == 2 and "--jobs" in result.err


def test_lines_cut_in_a_workers_chunk_are_counted_once(tmp_path, run):
    """A line over 64 KiB in a chunk a worker reads: --stats counts it as one process does."""
    from maillog_sasl.sources import MAX_LINE
    seed = (ROOT / "sample_logs" / "seed-maillog.txt").read_bytes()
    log = tmp_path / "maillog"
    log.write_bytes(seed + b"x" * (MAX_LINE * 2) + b"\n" + seed)
    args = ["--year", "2018", "--stats", "-f", "json", str(log)]
    one, two = run(args, "1", 64 << 10), run(args, "2", 64 << 10)
    assert "lines cut at 64 KiB:      1\n" in one[2]
    assert two == one


def test_a_read_failing_in_a_worker_that_opened_the_input_by_path_names_it_as_given(
        tmp_path, monkeypatch):
    """A cluster's worker opens an input by its real path: the problem it meets is still
    named by the path the user gave (a symlink here), as in one process."""
    (tmp_path / "maillog").write_bytes((ROOT / "sample_logs" / "maillog-sample.log").read_bytes())
    (tmp_path / "link").symlink_to("maillog")
    monkeypatch.chdir(tmp_path)

    def failing(_range):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
        yield

    monkeypatch.setattr(parallel._Range, "batches", failing)
    # Threads stand in for the cluster's workers: they open the input by path as those do.
    with concurrent.futures.ThreadPoolExecutor(2) as workers:
        analysis = maillog_sasl.open_logs(["link"], year=2026, jobs=2, executor=workers,
                                          chunk_size=200_000)
        assert list(analysis) == []
    assert [str(problem) for problem in analysis.problems] == [
        f"link: read failed part way: {os.strerror(errno.EIO)}"]
