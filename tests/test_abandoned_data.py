"""A login's transaction whose DATA never succeeded ends at its session's end: never queued.

smtpd opens a queue file, and logs `QID: client=..., sasl_username=U`, at a transaction's first
accepted recipient; cleanup commits it only when DATA (or BDAT) ends well, and only then does
qmgr read it. A client that times out or goes away during DATA (`timeout after DATA (0 bytes)`),
a queue file that cannot be written (`cleanup: warning: QID: write queue file: No space left on
device`), or a client that quits before DATA leaves that queue file uncommitted: Postfix removes
it and logs nothing more of it. The disconnect's counters say so (`data=0/1`, or no `data=`).
Postfix 3.10 logs that end (`QID: removed (canceled)`, tests/test_postfix310.py); before it,
the tool kept such a message "still queued" for ever (a search of public logs, 2026-12-06; a
real one: lightmeter's 20_rejected.log, a login refused at its second RCPT that quit before
DATA, test_reallogs.py). It ends at the disconnect now, as 3.10's line ends it: one of the
login's messages, removed, nothing sent. A message refused as a whole at DATA (header_checks,
a milter) is still refused: its line comes first.

The lines are Postfix's formats (smtpd.c's "timeout after %s%s from %s", cleanup_out.c's
"%s: write queue file: %m"); every number expected is counted from them.
"""

import pytest
from test_jobs import read_canonical

CONNECT = "{at}:00 mail postfix/submission/smtpd[{pid}]: connect from client.example[203.0.113.5]\n"
CLIENT = ("{at}:01 mail postfix/submission/smtpd[{pid}]: {qid}: client=client.example"
          "[203.0.113.5], sasl_method=PLAIN, sasl_username=ann@example.jp\n")
DISCONNECT = ("{at}:{end} mail postfix/submission/smtpd[{pid}]: disconnect from client.example"
              "[203.0.113.5] {counters}\n")

TIMED_OUT = (CONNECT + CLIENT
             + "{at}:31 mail postfix/submission/smtpd[{pid}]: timeout after DATA (0 bytes) from "
             "client.example[203.0.113.5]\n"
             + DISCONNECT.replace("{counters}", "ehlo=1 auth=1 mail=1 rcpt=3 data=0/1 "
                                  "commands=6/7"))
NO_SPACE = (CONNECT + CLIENT
            + "{at}:02 mail postfix/cleanup[9]: {qid}: warning: {qid}: write queue file: No "
            "space left on device\n"
            + DISCONNECT.replace("{counters}", "ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 quit=1 "
                                 "commands=6/7"))
QUIT_BEFORE_DATA = (CONNECT + CLIENT
                    + DISCONNECT.replace("{counters}", "ehlo=1 auth=1 mail=1 rcpt=2 quit=1 "
                                         "commands=6"))
SENT = (CONNECT + CLIENT
        + "{at}:02 mail postfix/cleanup[9]: {qid}: message-id=<{qid}@example.jp>\n"
        "{at}:02 mail postfix/qmgr[8]: {qid}: from=<ann@example.jp>, size=900, nrcpt=1 "
        "(queue active)\n"
        + DISCONNECT.replace("{counters}", "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 "
                             "commands=6")
        + "{at}:04 mail postfix/smtp[7]: {qid}: to=<a@dest.example>, relay=mx.dest.example"
        "[198.51.100.1]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n"
        "{at}:04 mail postfix/qmgr[8]: {qid}: removed\n")
HEADER_REJECT = (CONNECT + CLIENT
                 + "{at}:02 mail postfix/cleanup[9]: {qid}: reject: header Subject: Buy now from "
                 "client.example[203.0.113.5]; from=<ann@example.jp> to=<a@dest.example> "
                 "proto=ESMTP helo=<client.example>: 5.7.1 message content rejected\n"
                 + DISCONNECT.replace("{counters}", "ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 "
                                      "quit=1 commands=6/7"))
# Postfix before 3.0 writes no counters: nothing tells whether DATA succeeded.
NO_COUNTERS = CONNECT + CLIENT + DISCONNECT.replace(" {counters}", "")

SHAPES = {"timed out": TIMED_OUT, "no space": NO_SPACE, "quit before DATA": QUIT_BEFORE_DATA,
          "sent": SENT, "header reject": HEADER_REJECT, "no counters": NO_COUNTERS}


def fill(shape: str, number: int) -> str:
    return SHAPES[shape].format(at=f"Mar  3 10:{number:02d}", end="33", pid=100 + number,
                                qid=f"{0x3F1A0 + number:05X}ABCDE")


def _log(tmp_path, *shapes) -> str:
    path = tmp_path / "maillog"
    path.write_text("".join(fill(shape, number) for number, shape in enumerate(shapes)))
    return path


def _stats(cli, path) -> dict:
    result = cli("--stats", "--year", "2026", "--tz", "UTC", "-q", path)
    assert result.code == 0, result.err
    pairs = (line.split(":", 1) for line in result.err.splitlines() if ":" in line)
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.mark.parametrize("shape", ["timed out", "no space", "quit before DATA"])
def test_a_transaction_whose_data_failed_is_queued_no_longer(report, cli, tmp_path, shape):
    path = _log(tmp_path, shape, "sent")
    [user] = report("users", "--year", "2026", path)
    assert (user["sessions"], user["messages"], user["recipients"], user["sent"]) == (2, 2, 1, 1)
    assert _stats(cli, path)["messages still queued"] == "0"
    assert report("queue", "--year", "2026", path) == []
    # The session keeps what was tried: its queue ID and its counters.
    sessions = report("sessions", "--year", "2026", path)
    assert [(row["messages"], row["recipients"]) for row in sessions] == [
        (1, {"timed out": 3, "no space": 1, "quit before DATA": 2}[shape]), (1, 1)]


def test_a_message_refused_at_data_is_still_counted(report, tmp_path):
    [user] = report("users", "--year", "2026", _log(tmp_path, "header reject"))
    assert (user["messages"], user["recipients"], user["rejected"]) == (1, 1, 1)


def test_without_counters_nothing_is_decided(cli, tmp_path):
    # Postfix 2.x: the transaction may have been queued; its queue file stays followed.
    assert _stats(cli, _log(tmp_path, "no counters"))["messages still queued"] == "1"


def test_jobs_read_abandoned_transactions_as_one_process(tmp_path):
    shapes = ["timed out", "sent", "no space", "header reject", "quit before DATA",
              "no counters"] * 3
    path = _log(tmp_path, *shapes)
    one = read_canonical(path, 1, 1 << 24)
    for chunk_size in range(250, path.stat().st_size // 2, 89):
        assert read_canonical(path, 2, chunk_size) == one, chunk_size
