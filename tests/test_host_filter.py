"""--host: the sessions and messages of one mail host in a central syslog server's log, where
every host has its own queue and its own queue IDs (the same ID names different messages on
two hosts), and `-r queue -f ids | postsuper -d -` must get only the host's own."""

import pytest

from maillog_writer import MailLog, at


@pytest.fixture
def central_log(tmp_path):
    """mx1 and mx2 in one file, their lines interleaved in time. Both hosts' queue IDs come
    from one sequence, so each host's first message has the other's first ID: on mx1 alice's
    mail is deferred (still queued at the end), on mx2 bob's, and on mx2 an attacker failed
    three AUTH for carol."""
    mx1, mx2 = MailLog("mx1"), MailLog("mx2")
    alice_ids = [mx1.login("alice@example.jp", "198.51.100.7", at(0, 9 + number),
                           outcome="deferred") for number in range(2)]
    bob_ids = [mx2.login("bob@example.jp", "203.0.113.9", at(0, 9 + number, 30),
                         outcome="deferred") for number in range(3)]
    mx2.failures("192.0.2.66", at(0, 12), ["carol@example.jp"] * 3)
    mx1.lines += mx2.lines
    return mx1.write(tmp_path / "maillog"), alice_ids, bob_ids


def test_queue_ids_of_one_host(cli, central_log):
    path, alice_ids, bob_ids = central_log
    assert alice_ids == bob_ids[:2]  # the collision a purge must not cross
    both = cli("-r", "queue", "-f", "ids", path)
    assert both.code == 0
    assert both.out.split() == bob_ids  # an ID of both hosts is written once
    assert "logged by 2 hosts (mx1, mx2)" in both.err and "--host" in both.err
    # The host's name as the syslog wrote it, in any case.
    for name, wanted in (("mx2", bob_ids), ("MX1", alice_ids)):
        one = cli("-r", "queue", "-f", "ids", "--host", name, path)
        assert (one.code, one.out.split()) == (0, wanted)
        assert "hosts" not in one.err


def test_every_report_keeps_to_the_host(report, central_log):
    path = central_log[0]
    assert [row["user"] for row in report("users", "--host", "mx1", path)] == \
        ["alice@example.jp"]
    sessions = report("sessions", "--host", "mx2", path)
    assert {row["host"] for row in sessions} == {"mx2"} and len(sessions) == 3
    messages = report("messages", "--host", "mx1", "--host", "mx2", path)
    assert {row["host"] for row in messages} == {"mx1", "mx2"} and len(messages) == 5
    assert [row["client_ip"] for row in report("failures", "--host", "mx2", path)] == \
        ["192.0.2.66"]
    assert report("failures", "--host", "mx1", path) == []
    assert [row["user"] for row in report("failures", "--by", "user", "--host", "mx2", path)] \
        == ["carol@example.jp"]


def test_the_summary_names_the_host(cli, central_log):
    path = central_log[0]
    shown = cli("--host", "mx2", "--tz", "UTC", path)
    assert "selected by --host mx2: 1 user; 3 authenticated sessions" in shown.out
    none = cli("--host", "mx3", path)
    assert none.code == 0
    assert "(no rows: no session logged by --host mx3)" in none.out

