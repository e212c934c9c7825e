"""A message refused as a whole at end of DATA, and how many recipients it had.

Postfix logs such a refusal (a milter's `milter-reject: END-OF-MESSAGE`, a before-queue filter's
`proxy-reject: END-OF-MESSAGE`, cleanup's header or body checks) with one recipient:
smtpd_whatsup() names state->recipient, the first RCPT. The session's disconnect counters
(`rcpt=5 data=0/1`, Postfix >= 3.0) say how many it accepted: the users table, the incident
rules (burst, hourly volume, --failed-min) count those, once the session has ended, where the
counters tell that they were the refused messages' (every MAIL came to DATA, each DATA is one of
the login's refused messages: no queued one beside); else the one its line names, as before.
Several refused messages of one session share what no line names evenly (the earlier ones one
more): the session's total is exact, no line tells the split.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_jobs import read_canonical

from maillog_sasl import parallel, watch
from maillog_sasl.correlate import REFUSED_HELD, Correlator
from maillog_sasl.state import State
from maillog_sasl.syslog import Clock

from maillog_writer import SECOND, at

SUBMISSION = "postfix/submission/smtpd"


def refused_sessions(runs: int, recipients: int, proxy: bool = False) -> str:
    """`runs` sessions of bob, each one message to `recipients` addresses that a milter (or,
    with `proxy`, a before-queue filter) refuses as a whole; lines as Postfix 3.x writes them."""
    lines = []
    for run in range(runs):
        when = at(0, 14, run)
        stamp, done = when.isoformat(), (when + SECOND).isoformat()
        pid, client = 5000 + run, "unknown[203.0.113.50]"
        queue_id = "NOQUEUE" if proxy else f"B0B0{run:06X}"
        smtpd = f"{stamp} mail {SUBMISSION}[{pid}]:"
        envelope = "from=<bob@example.jp> to=<v1@victim.example> proto=ESMTP helo=<x>"
        lines += [f"{smtpd} connect from {client}",
                  f"{smtpd} {queue_id}: client={client}, sasl_method=PLAIN, "
                  "sasl_username=bob@example.jp"]
        if proxy:
            lines.append(f"{smtpd} proxy-reject: END-OF-MESSAGE: 554 5.7.1 Rejected for policy "
                         f"reasons (3F{run:04X}); {envelope}")
        else:
            lines.append(f"{stamp} mail postfix/cleanup[{pid + 500}]: {queue_id}: milter-reject: "
                         f"END-OF-MESSAGE from {client}: 5.7.1 Spam message rejected; "
                         f"{envelope}")
        lines.append(f"{done} mail {SUBMISSION}[{pid}]: disconnect from {client} ehlo=1 auth=1 "
                     f"mail=1 rcpt={recipients} data=0/1 quit=1 "
                     f"commands={recipients + 4}/{recipients + 5}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("proxy", [False, True], ids=["milter", "proxy"])
def test_a_sessions_only_message_refused_whole_counts_the_recipients_it_accepted(
        report, tmp_path, proxy):
    log = tmp_path / "maillog"
    log.write_text(refused_sessions(1, 5, proxy), encoding="utf-8")
    sessions = report("sessions", "--year", "2026", log)
    assert [row["recipients"] for row in sessions] == [5]  # the counters, read already
    bob = report("users", "--year", "2026", log)[0]
    assert (bob["messages"], bob["recipients"], bob["rejected"], bob["sent"]) == (1, 5, 5, 0)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_spam_runs_a_milter_refuses_fire_the_volume_signals(report, tmp_path, jobs):
    """20 messages of 50 recipients in 20 minutes, every one refused by the milter: 1,000
    recipients in the hour, over --max-hourly-recipients 100."""
    log = tmp_path / "maillog"
    log.write_text(refused_sessions(20, 50), encoding="utf-8")
    bob = report("users", "--year", "2026", "--jobs", jobs, log)[0]
    assert (bob["recipients"], bob["rejected"]) == (1000, 1000)
    flagged = report("suspicious", "--year", "2026", "--jobs", jobs,
                     "--max-hourly-recipients", "100", log)
    assert [(row["user"], row["recipients"]) for row in flagged] == [("bob@example.jp", 1000)]
    assert "burst" in flagged[0]["signals"]


def bob_session(run: int, transactions: list, counters) -> str:
    """bob's session number `run` (lines as Postfix 3.x writes them): for each of
    `transactions`, "refused" a message the milter refuses (its line naming v1@victim.example),
    ("queued", N) one qmgr reads with nrcpt=N before the session ends, ("late", N) one it
    reads after, "open" a queue file nothing more is logged of; then the disconnect with
    `counters` ("" a Postfix 2.x disconnect, None: its line lost)."""
    when = at(0, 14, run)
    stamp, done = when.isoformat(), (when + SECOND).isoformat()
    pid, client = 6000 + run, "unknown[203.0.113.50]"
    smtpd = f"{stamp} mail {SUBMISSION}[{pid}]:"
    lines = [f"{smtpd} connect from {client}"]
    late = []
    for index, transaction in enumerate(transactions):
        queue_id = f"B{run:03X}{index:06X}"
        lines.append(f"{smtpd} {queue_id}: client={client}, sasl_method=PLAIN, "
                     "sasl_username=bob@example.jp")
        if transaction == "refused":
            lines.append(f"{stamp} mail postfix/cleanup[{pid + 500}]: {queue_id}: milter-reject: "
                         f"END-OF-MESSAGE from {client}: 5.7.1 Spam message rejected; "
                         "from=<bob@example.jp> to=<v1@victim.example> proto=ESMTP helo=<x>")
        elif transaction != "open":
            kind, nrcpt = transaction
            qmgr = (f"mail postfix/qmgr[99]: {queue_id}: from=<bob@example.jp>, size=900, "
                    f"nrcpt={nrcpt} (queue active)")
            if kind == "late":
                late.append(f"{done} {qmgr}")
            else:
                lines.append(f"{stamp} {qmgr}")
    if counters is not None:
        lines.append(f"{done} mail {SUBMISSION}[{pid}]: disconnect from {client}"
                     + (f" ehlo=1 auth=1 {counters} quit=1" if counters else ""))
    return "\n".join(lines + late) + "\n"


def recipients_by_message(report, log) -> dict:
    """queue ID -> how many recipients the messages report has of it."""
    counted: dict = {}
    for row in report("messages", "--year", "2026", log):
        counted[row["queue_id"]] = counted.get(row["queue_id"], 0) + 1
    return counted


def test_the_recipients_no_line_names_are_rows_with_the_refusals_reason(report, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(refused_sessions(1, 5), encoding="utf-8")
    rows = report("messages", "--year", "2026", log)
    assert [row["recipient"] for row in rows] == ["v1@victim.example", "", "", "", ""]
    assert {(row["queue_id"], row["status"], row["dsn"], row["reason"], row["last_attempt"])
            for row in rows} == {("B0B0000000", "rejected", "5.7.1",
                                  "5.7.1 Spam message rejected", "2026-01-05T14:00:00+09:00")}


def test_refused_messages_of_one_session_share_its_recipients(report, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(bob_session(0, ["refused"] * 3, "mail=3 rcpt=10 data=0/3"), encoding="utf-8")
    assert list(recipients_by_message(report, log).values()) == [4, 3, 3]
    bob = report("users", "--year", "2026", log)[0]
    assert (bob["messages"], bob["recipients"], bob["rejected"]) == (3, 10, 10)
    [session] = report("sessions", "--year", "2026", log)
    assert (session["messages"], session["recipients"]) == (3, 10)


def test_a_queued_message_beside_leaves_the_refused_one_its_named_recipient(report, tmp_path):
    """qmgr's nrcpt is no count of RCPTs: cleanup drops a recipient given twice (here the
    queued message's 2 RCPTs to one address are nrcpt=1), and adds a bcc. What the counters
    count beyond it may be the queued message's: the refused one counts the one it names."""
    log = tmp_path / "maillog"
    log.write_text(bob_session(0, [("queued", 1), "refused"], "mail=2 rcpt=3 data=1/2"),
                   encoding="utf-8")
    assert recipients_by_message(report, log) == {"B000000000": 1, "B000000001": 1}
    bob = report("users", "--year", "2026", log)[0]
    assert (bob["recipients"], bob["rejected"], bob["deferred"]) == (2, 1, 1)


# Sessions whose counters do not tell whose the recipients no line names were: the refused
# message counts the one its line names, as before.
UNTOLD = {
    "postfix 2.x": (["refused"], ""),
    "disconnect lost": (["refused"], None),
    "a transaction without DATA": (["refused"], "mail=2 rcpt=5 data=0/1"),
    "BDAT": (["refused"], "mail=1 rcpt=5 bdat=0/1"),
    "a DATA that failed otherwise": (["open", "refused"], "mail=2 rcpt=5 data=0/2"),
    "qmgr read the other after": ([("late", 3), "refused"], "mail=2 rcpt=8 data=1/2"),
    "qmgr's count short of the counters'": ([("queued", 3), "refused"],
                                             "mail=3 rcpt=8 data=1/2"),
    "a queued message beside": ([("queued", 3), "refused"], "mail=2 rcpt=8 data=1/2"),
}


@pytest.mark.parametrize("case", list(UNTOLD))
def test_what_the_counters_do_not_tell_is_not_counted(report, tmp_path, case):
    transactions, counters = UNTOLD[case]
    log = tmp_path / "maillog"
    log.write_text(bob_session(0, transactions, counters), encoding="utf-8")
    refused = f"B000{transactions.index('refused'):06X}"
    assert recipients_by_message(report, log)[refused] == 1


def test_the_hour_of_the_refused_message_counts_them(report, tmp_path):
    """The session ends in the next hour: its refused message's recipients are counted in the
    hour it was refused, as the incident rules count them."""
    text = bob_session(0, ["refused"], "mail=1 rcpt=5 data=0/1").replace(
        at(0, 14, 0).isoformat(), at(0, 14, 59.99).isoformat(timespec="seconds"))
    log = tmp_path / "maillog"
    log.write_text(text, encoding="utf-8")
    hours = report("timeline", "--year", "2026", "--user", "bob@example.jp", log)
    assert [(row["hour"][11:16], row["recipients"], row["rejected"]) for row in hours] == [
        ("14:00", 5, 5)]


@pytest.mark.parametrize("chunk_size", [300, 800, 1500])
def test_sessions_cut_by_the_chunks_of_jobs_give_one_process_objects(tmp_path, monkeypatch,
                                                                     chunk_size):
    log = tmp_path / "maillog"
    log.write_text(refused_sessions(4, 5) + bob_session(9, ["refused"] * 3,
                                                        "mail=3 rcpt=10 data=0/3")
                   + bob_session(10, [("queued", 3), "refused"], "mail=2 rcpt=8 data=1/2")
                   + bob_session(11, ["refused"], None), encoding="utf-8")
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    assert read_canonical(log, 3, chunk_size) == read_canonical(log, 1, 1 << 20)


def test_watch_counts_them_when_the_session_ends_in_a_later_run(cli, tmp_path):
    lines = refused_sessions(2, 5).splitlines(keepends=True)
    log, state = tmp_path / "maillog", tmp_path / "state.sqlite"
    log.write_text("".join(lines[:-1]), encoding="utf-8")
    counted = []
    for part in ("", lines[-1]):  # the second session's disconnect written after the first run
        with open(log, "a", encoding="utf-8") as written:
            written.write(part)
        result = cli("watch", "--once", "--state", state, "--year", "2026", log)
        assert result.code in (0, 1), result.err
        opened = State.open(str(state), watch.engine_format(), lock=False)
        try:
            user = opened.engine.activity.users["bob@example.jp"]
            counted.append(sum(user.totals()) + sum(hour.recipients
                                                    for hour in user.open_hours.values()))
        finally:
            opened.close()
    assert counted == [5, 10]  # the second session's message held in the state, then counted


def test_a_session_holds_its_refused_messages_without_copying_them():
    """A client that keeps sending in one session, every message refused: each is held once,
    in one list, not a copy of the ones before (thousands made reading quadratic: 60,000 in a
    session took 16 s, not 1.5 s)."""
    lines = bob_session(0, ["refused"] * 3, "mail=3 rcpt=3 data=0/3").splitlines()
    correlator = Correlator()
    clock = Clock(tz=dt.timezone.utc)
    correlator.feed(lines[:5], clock)
    correlator.settle_copies()  # (else the first lines wait to tell the input's copies)
    [session] = correlator.sessions.values()
    held = session.refused
    correlator.feed(lines[5:-1], clock)
    assert session.refused is held and len(held) == 3


def test_a_session_holds_at_most_refused_held_messages(report, tmp_path):
    """A client that keeps sending in one session, every message refused, held them all until
    its end (60,000: 106 MB). Past REFUSED_HELD they go on as their lines name them: the
    counters, which then cover messages no longer held, tell nothing more (one recipient
    each, as before the counters were read), and no more than REFUSED_HELD wait."""
    count = REFUSED_HELD + 5
    lines = bob_session(0, ["refused"] * count,
                        f"mail={count} rcpt={3 * count} data=0/{count}").splitlines()
    correlator = Correlator()
    clock = Clock(tz=dt.timezone.utc)
    most = 0
    for line in lines[:-1]:
        correlator.feed([line], clock)
        correlator.settle_copies()
        most = max([most] + [len(session.refused) for session in correlator.sessions.values()])
    assert most == REFUSED_HELD
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bob = report("users", "--year", "2026", log)[0]
    assert (bob["messages"], bob["recipients"], bob["rejected"]) == (count, count, count)
