"""A Postfix line with whitespace after its end (an edited log, a relay's template; Lightmeter's
test files have one, tests/test_reallogs.py) is read as the line without it: where a line's
last field is read, and by a second look at a queue-file line its parser did not know, so that
the lines without any pay nothing for it.

The lines are real Postfix 3.7's (tests/fixtures/postfix37, tests/test_content_refusals.py) and
Zentyal's (tests/reallogs/zentyal), given a space or a tab after their end.
"""

from pathlib import Path

import pytest
from test_content_refusals import HEADER_REJECT

from maillog_sasl import events

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "postfix37" / "maillog"
ZENTYAL = HERE / "reallogs" / "zentyal" / "MailLogHelper.log"
OPTIONS = ("--tz", "UTC", "--year", "2026")
QUEUE_FILE_DAEMONS = ("/cleanup[", "/qmgr[", "/smtp[", "/local[", "/error[", "/bounce[")
REPORTS = ("users", "sessions", "messages", "queue", "timeline")


def with_after_end(text: str, whitespace: str, daemons=QUEUE_FILE_DAEMONS) -> str:
    return "".join(line[:-1] + whitespace + "\n" if any(daemon in line for daemon in daemons)
                   else line for line in text.splitlines(keepends=True))


@pytest.mark.parametrize("whitespace", [" ", "\t", "  "])
def test_queue_file_lines_read_as_without_it(tmp_path, cli, whitespace):
    """Every report of the real log, its queue-file lines (qmgr's `removed` and `(queue
    active)`, bounce's notices, cleanup's message-id, the delivery lines' text) given
    whitespace after their end, is the report of the log itself."""
    original = FIXTURE.read_text()
    changed = tmp_path / "maillog"
    changed.write_text(with_after_end(original, whitespace))
    plain = tmp_path / "plain"
    plain.write_text(original)
    for name in REPORTS:
        first = cli("-r", name, "-f", "json", *OPTIONS, plain)
        second = cli("-r", name, "-f", "json", *OPTIONS, changed)
        assert (second.code, second.out) == (first.code, first.out), name
    stats = [cli("--stats", "-f", "json", *OPTIONS, path).err.split("\n")[1:]
             for path in (plain, changed)]
    assert stats[0] == stats[1]


def test_a_size_limit_refusal_with_a_space_after_it(tmp_path, report):
    lines = ZENTYAL.read_text().splitlines(keepends=True)
    path = tmp_path / "maillog"
    path.write_text("".join(lines[37:39]) + lines[39][:-1] + " \n")
    [row] = report("messages", "--year", "2009", path)
    assert (row["queue_id"], row["status"], row["reason"]) == (
        "C48C428351", "rejected", "queue file size limit exceeded")


def test_a_content_reject_with_a_tab_after_it(tmp_path, report):
    path = tmp_path / "maillog"
    path.write_text(with_after_end(HEADER_REJECT, "\t", ("/cleanup[",)))
    # The session's rcpt=2: the recipient the line names, and the other, which none names.
    assert [(row["recipient"], row["reason"])
            for row in report("messages", "--year", "2026", path)] == [
        (address, "header Subject: reject me: 5.7.1 refused by header check")
        for address in ("second@ok.test", "")]


def test_a_reject_without_its_envelope_keeps_no_whitespace():
    event = events.smtpd_reject_event(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <x@y.test>: Relay access "
        "denied \t")
    assert (event.reason, event.dsn) == ("554 5.7.1 <x@y.test>: Relay access denied", "5.7.1")
