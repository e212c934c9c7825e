"""A host of two Postfix instances (postmulti): the primary, logging as `postfix`, and one with
`syslog_name = postfix-out` and a queue of its own. A queue ID names a message only in its own
instance's queue: the queue report says each message's instance (its cleanup's and qmgr's
syslog_name, never smtpd's, which master.cf overrides: postfix-out's copied the primary's
`-o syslog_name=postfix/submission`), and `-f ids` over both says so on stderr with each
instance's command. (`contain` on this log: tests/test_contain.py.)"""

import functools
import pickle
import textwrap

import pytest

import maillog_sasl
from maillog_sasl import cli as cli_module
from maillog_sasl.model import Message

from support import SCENARIOS

TIMES = ("--year", "2026", "--tz", "UTC")

# The primary's submission login; then postfix-out's, whose master.cf copied the primary's
# `-o syslog_name=postfix/submission` (its smtpd logs as the primary's; its cleanup, qmgr and
# smtp as postfix-out); then one of postfix-out's own port, and another user's there.
LOG = textwrap.dedent("""\
    Mar  3 09:00:00 mx1 postfix/submission/smtpd[1100]: connect from client.example.jp[203.0.113.5]
    Mar  3 09:00:01 mx1 postfix/submission/smtpd[1100]: 1A1A1A1A01: client=client.example.jp[203.0.113.5], sasl_method=PLAIN, sasl_username=erin@example.jp
    Mar  3 09:00:01 mx1 postfix/cleanup[1101]: 1A1A1A1A01: message-id=<m1@client.example.jp>
    Mar  3 09:00:01 mx1 postfix/qmgr[1102]: 1A1A1A1A01: from=<erin@example.jp>, size=900, nrcpt=1 (queue active)
    Mar  3 09:00:02 mx1 postfix/submission/smtpd[1100]: disconnect from client.example.jp[203.0.113.5] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
    Mar  3 09:00:31 mx1 postfix/smtp[1103]: 1A1A1A1A01: to=<a@one.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.one.example[198.51.100.1]:25: Connection timed out)
    Mar  3 09:10:00 mx1 postfix/submission/smtpd[2200]: connect from unknown[203.0.113.9]
    Mar  3 09:10:01 mx1 postfix/submission/smtpd[2200]: 2B2B2B2B02: client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=erin@example.jp
    Mar  3 09:10:01 mx1 postfix-out/cleanup[2201]: 2B2B2B2B02: message-id=<m2@x>
    Mar  3 09:10:01 mx1 postfix-out/qmgr[2202]: 2B2B2B2B02: from=<erin@example.jp>, size=900, nrcpt=1 (queue active)
    Mar  3 09:10:02 mx1 postfix/submission/smtpd[2200]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
    Mar  3 09:10:31 mx1 postfix-out/smtp[2203]: 2B2B2B2B02: to=<b@two.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.two.example[198.51.100.2]:25: Connection timed out)
    Mar  3 09:20:00 mx1 postfix-out/smtpd[2300]: connect from unknown[203.0.113.9]
    Mar  3 09:20:01 mx1 postfix-out/smtpd[2300]: 3C3C3C3C03: client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=erin@example.jp
    Mar  3 09:20:01 mx1 postfix-out/cleanup[2201]: 3C3C3C3C03: message-id=<m3@x>
    Mar  3 09:20:01 mx1 postfix-out/qmgr[2202]: 3C3C3C3C03: from=<erin@example.jp>, size=900, nrcpt=1 (queue active)
    Mar  3 09:20:02 mx1 postfix-out/smtpd[2300]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
    Mar  3 09:20:31 mx1 postfix-out/smtp[2203]: 3C3C3C3C03: to=<c@three.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.three.example[198.51.100.3]:25: Connection timed out)
    Mar  3 09:30:00 mx1 postfix-out/smtpd[2300]: connect from laptop.example.jp[198.51.100.77]
    Mar  3 09:30:01 mx1 postfix-out/smtpd[2300]: 4D4D4D4D04: client=laptop.example.jp[198.51.100.77], sasl_method=PLAIN, sasl_username=frank@example.jp
    Mar  3 09:30:01 mx1 postfix-out/cleanup[2201]: 4D4D4D4D04: message-id=<m4@laptop>
    Mar  3 09:30:01 mx1 postfix-out/qmgr[2202]: 4D4D4D4D04: from=<frank@example.jp>, size=900, nrcpt=1 (queue active)
    Mar  3 09:30:02 mx1 postfix-out/smtpd[2300]: disconnect from laptop.example.jp[198.51.100.77] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
    Mar  3 09:30:31 mx1 postfix-out/smtp[2203]: 4D4D4D4D04: to=<d@four.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.four.example[198.51.100.4]:25: Connection timed out)
    """)
INSTANCES = {"1A1A1A1A01": "postfix", "2B2B2B2B02": "postfix-out", "3C3C3C3C03": "postfix-out",
             "4D4D4D4D04": "postfix-out"}


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "maillog"
    path.write_text(LOG)
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_queue_report_gives_each_message_its_queues_instance(report, log, jobs):
    rows = report("queue", *TIMES, "--jobs", jobs, log)
    assert {row["queue_id"]: row["instance"] for row in rows} == INSTANCES
    assert {row["host"] for row in rows} == {"mx1"}


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_the_instance_column_is_in_every_format(cli, log, fmt):
    result = cli("-r", "queue", *TIMES, "-f", fmt, "--columns", "queue_id,instance", log)
    assert result.code == 0, result.err
    shown = [line.replace(",", " ").split() for line in result.out.splitlines()]
    assert ["2B2B2B2B02", "postfix-out"] in shown and ["1A1A1A1A01", "postfix"] in shown


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ids_over_two_instances_name_them_and_each_ones_command(cli, log, jobs):
    result = cli("-r", "queue", *TIMES, "--jobs", jobs, "-f", "ids", log)
    assert result.code == 0, result.err
    assert result.out.split() == sorted(INSTANCES)
    [said] = [line for line in result.err.splitlines() if "instances" in line]
    assert said == (
        "maillog-sasl: these queue IDs are in the queues of 2 Postfix instances (postfix, "
        "postfix-out): a queue ID names a message only in its own instance's queue; give each "
        "instance its own (the `instance` column: -f csv --columns instance,queue_id): "
        "`postsuper -d -` for postfix, `postmulti -i postfix-out -x postsuper -d -` for "
        "postfix-out")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_messages_report_gives_each_row_its_queues_instance(report, log, jobs):
    # The rows an incident's cleanup reads: which instance's postsuper takes each queue ID.
    rows = report("messages", *TIMES, "--jobs", jobs, log)
    assert {row["queue_id"]: row["instance"] for row in rows} == INSTANCES


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "ndjson", "ids"])
def test_two_jobs_write_the_messages_instances_as_one_does(cli, log, fmt, monkeypatch):
    # Chunks of a few lines: each worker reads some messages' cleanup and qmgr lines alone.
    def run(*jobs):
        result = cli("-r", "messages", *TIMES, "-f", fmt, *jobs, log)
        return result.code, result.out, result.err

    one = run()
    monkeypatch.setattr(cli_module, "open_logs",
                        functools.partial(maillog_sasl.open_logs, chunk_size=300))
    assert run("--jobs", "2") == one
    assert one[0] == 0 and "postfix-out" in one[1] + one[2]


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_the_messages_instance_column_is_the_last_in_every_format(cli, log, fmt):
    # Last, after parent_queue_id: a script reading the CSV by position reads what it did.
    result = cli("-r", "messages", *TIMES, "-f", fmt, log)
    assert result.code == 0, result.err
    lines = [line for line in result.out.splitlines() if line.startswith(("queue_id", "2B2B"))]
    assert lines[0].replace(",", " ").split()[-2:] == ["parent_queue_id", "instance"]
    assert lines[1].replace(",", " ").split()[-1] == "postfix-out"


def test_messages_ids_over_two_instances_name_them_as_the_queue_reports_do(cli, log):
    messages = cli("-r", "messages", *TIMES, "-f", "ids", log)
    queue = cli("-r", "queue", *TIMES, "-f", "ids", log)
    assert messages.code == queue.code == 0, messages.err
    assert messages.out.split() == sorted(INSTANCES)
    [said] = [line for line in messages.err.splitlines() if "instances" in line]
    assert said in queue.err.splitlines()


def test_a_recipient_refused_before_any_queue_file_is_in_no_instances_queue(report):
    # A content filter on the primary hands erin's message to postfix-out, which a queue ID
    # the primary used before names again; a NOQUEUE refusal has no queue file at all.
    rows = report("messages", *TIMES, SCENARIOS / "two_instances.log")
    assert [(row["queue_id"], row["recipient"], row["instance"]) for row in rows] == [
        ("NOQUEUE", "x@blocked.example", ""),
        ("3C3C3C3C03", "c@three.example", "postfix"),
        ("2B2B2B2B02", "a@one.example", "postfix-out"),
        ("2B2B2B2B02", "b@two.example", "postfix-out"),
        ("1A1A1A1A01", "d@four.example", "postfix-out"),
    ]


def test_ids_of_one_instance_say_nothing_of_instances(cli, log):
    result = cli("-r", "queue", *TIMES, "-f", "ids", "--user", "frank@example.jp", log)
    assert result.code == 0, result.err
    assert result.out.split() == ["4D4D4D4D04"]
    assert "instance" not in result.err


def test_a_message_keeps_its_instance_through_pickling():
    message = Message(1, "mx1", "2B2B2B2B02", "submission", None)
    message.instance = "postfix-out"
    assert pickle.loads(pickle.dumps(message)).instance == "postfix-out"


# A single-instance host whose submission port has a cleanup service of its own (header_checks
# that strip the client's Received:) with `-o syslog_name=postfix/submission` too: its cleanup
# logs as postfix/submission/cleanup. A message the header_checks held never gets a qmgr line.
OVERRIDDEN = textwrap.dedent("""\
    Mar  3 09:00:00 mx1 postfix/submission/smtpd[1100]: connect from client.example.jp[203.0.113.5]
    Mar  3 09:00:01 mx1 postfix/submission/smtpd[1100]: 5E5E5E5E05: client=client.example.jp[203.0.113.5], sasl_method=PLAIN, sasl_username=erin@example.jp
    Mar  3 09:00:01 mx1 postfix/submission/cleanup[1101]: 5E5E5E5E05: hold: header Subject: x from client.example.jp[203.0.113.5]; from=<erin@example.jp> to=<a@one.example> proto=ESMTP helo=<client>: Held
    Mar  3 09:00:01 mx1 postfix/submission/cleanup[1101]: 5E5E5E5E05: message-id=<m5@client.example.jp>
    Mar  3 09:00:02 mx1 postfix/submission/smtpd[1100]: disconnect from client.example.jp[203.0.113.5] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
    Mar  3 09:10:00 mx1 postfix/submission/smtpd[1100]: connect from client.example.jp[203.0.113.5]
    Mar  3 09:10:01 mx1 postfix/submission/smtpd[1100]: 6F6F6F6F06: client=client.example.jp[203.0.113.5], sasl_method=PLAIN, sasl_username=erin@example.jp
    Mar  3 09:10:01 mx1 postfix/submission/cleanup[1101]: 6F6F6F6F06: message-id=<m6@client.example.jp>
    Mar  3 09:10:01 mx1 postfix/qmgr[1102]: 6F6F6F6F06: from=<erin@example.jp>, size=900, nrcpt=1 (queue active)
    Mar  3 09:10:02 mx1 postfix/submission/smtpd[1100]: disconnect from client.example.jp[203.0.113.5] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8
    """)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_services_syslog_name_is_its_instances(cli, report, tmp_path, jobs):
    # `postfix/submission` is no instance (postmulti's names have no `/`): the part before the
    # slash is, the instance the service's master.cf belongs to.
    path = tmp_path / "maillog"
    path.write_text(OVERRIDDEN)
    rows = report("queue", *TIMES, "--jobs", jobs, "--all", path)
    assert {row["queue_id"]: row["instance"] for row in rows} == {"5E5E5E5E05": "postfix",
                                                                  "6F6F6F6F06": "postfix"}
    result = cli("-r", "queue", *TIMES, "-f", "ids", path)
    assert result.code == 0, result.err
    assert "instance" not in result.err


# A single-instance host with MailScanner: LOG's first message, then one that header_checks
# hold for MailScanner, which scans the held file and writes it back under a new queue ID
# (`Requeue: OLD.NNNNN to NEW`). The log ends before qmgr reads the new file: nothing has named
# its instance yet.
REQUEUED_AT_THE_END = "".join(LOG.splitlines(keepends=True)[:6]) + textwrap.dedent("""\
    Mar  3 10:00:00 mx1 postfix/submission/smtpd[2200]: connect from unknown[203.0.113.9]
    Mar  3 10:00:01 mx1 postfix/submission/smtpd[2200]: 2B2B2B2B02: client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=erin@example.jp
    Mar  3 10:00:01 mx1 postfix/cleanup[1101]: 2B2B2B2B02: message-id=<m2@x>
    Mar  3 10:00:01 mx1 postfix/cleanup[1101]: 2B2B2B2B02: hold: header Received: from x by mx1; from=<erin@example.jp> to=<b@two.example> proto=ESMTP helo=<x>
    Mar  3 10:00:02 mx1 postfix/submission/smtpd[2200]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
    Mar  3 10:00:05 mx1 MailScanner[3000]: Requeue: 2B2B2B2B02.A9BEF to 3C3C3C3C03
    """)


def test_ids_of_no_instance_known_beside_the_primarys_say_nothing_of_instances(cli, report,
                                                                                 tmp_path):
    # One postsuper takes both, as contain gives them: no line of two instances with the same
    # command twice.
    path = tmp_path / "maillog"
    path.write_text(REQUEUED_AT_THE_END)
    rows = report("queue", *TIMES, path)
    assert {row["queue_id"]: row["instance"] for row in rows} == {"1A1A1A1A01": "postfix",
                                                                  "3C3C3C3C03": ""}
    result = cli("-r", "queue", *TIMES, "-f", "ids", path)
    assert result.code == 0, result.err
    assert sorted(result.out.split()) == ["1A1A1A1A01", "3C3C3C3C03"]
    assert "instance" not in result.err


def test_ids_of_no_instance_known_beside_another_instances_are_named(cli, tmp_path):
    path = tmp_path / "maillog"
    path.write_text(REQUEUED_AT_THE_END.replace("postfix/cleanup", "postfix-out/cleanup")
                    .replace("postfix/qmgr", "postfix-out/qmgr"))
    result = cli("-r", "queue", *TIMES, "-f", "ids", path)
    assert result.code == 0, result.err
    [said] = [line for line in result.err.splitlines() if "instances" in line]
    assert said.startswith("maillog-sasl: these queue IDs are in the queues of 2 Postfix "
                           "instances ((not known), postfix-out)")
    assert said.endswith("`postsuper -d -` for those of no instance known, "
                         "`postmulti -i postfix-out -x postsuper -d -` for postfix-out")
