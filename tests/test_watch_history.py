"""watch's new-network against each account's whole history in the state: flagged after the
logs of that history are gone, weighted by how settled the history is (strong on a settled
one, weak on a young or roaming one, silent on one too short), and started anew by
`state --forget`."""

import os

import pytest
import test_watch

from maillog_sasl import analyze, watch
from maillog_sasl.filters import Selection
from maillog_sasl.incident import Thresholds
from maillog_sasl.incident import watch as activity_of

from maillog_writer import MailLog, at

USER = "ann@example.jp"
HOME, OFFICE, NEW = "198.51.100.7", "192.0.2.10", "203.0.113.40"
ROAMING = ["198.51.100.7", "192.0.2.10", "172.16.5.9", "100.64.3.3"]  # four blocks


def history(days, ips=(HOME, OFFICE), start=0):
    """A login a day at 09:00 for `days` days, from `ips` in turn."""
    log = MailLog()
    for day in range(days):
        log.login(USER, ips[day % len(ips)], at(start + day, 9))
    return log


def once(cli, state, path):
    """(exit status, alerts) of one `watch --once` that ran (exit status 0 or 1)."""
    return test_watch.once(cli, state, path, codes=(0, 1))[:2]


def new_network(log, tmp_path, **limits):
    """watch's new-network Signal of USER over the log (None when silent)."""
    analysis = analyze([log.write(tmp_path / "maillog")])
    activity = activity_of(analysis, Selection(), {"thresholds": Thresholds(**limits)})
    activity.close()
    return watch.History(activity, {}).new_network(USER)


def test_a_settled_history_in_the_state_alone_flags_a_new_network(tmp_path, cli, report):
    state = tmp_path / "state.sqlite"
    old = history(40).write(tmp_path / "maillog-2025")
    assert once(cli, state, old) == (0, [])
    os.unlink(old)  # the months of history are in no log any more
    log = MailLog()
    log.login(USER, NEW, at(45, 9))
    path = log.write(tmp_path / "maillog")
    assert report("suspicious", path) == []  # the log alone says nothing
    code, alerts = once(cli, state, path)
    assert code == 1 and len(alerts) == 1
    alert = alerts[0]
    assert (alert["user"], alert["severity"], alert["signals"]) == (USER, "high", ["new-network"])
    assert alert["first_seen_ip"] == NEW and alert["ips"] == [NEW]
    assert alert["reasons"] == [
        "new network: login from 203.0.113.40 (203.0.113.0/24) at 2026-02-19T09:00+09:00: its "
        "provider block 203.0.0.0/16 is new to the account's history (first seen "
        "2026-01-05T09:00+09:00, 45 days before; logins on 40 days from 2 provider blocks); a "
        "settled history (settled: first seen 30 days or more before, logins on 10 days or "
        "more, from at most 2 blocks): a strong signal; 1 new network in all"]


@pytest.mark.parametrize("days, ips, start, early, strong", [
    (40, (HOME, OFFICE), 0, False, True),   # settled
    (40, ROAMING, 0, False, False),         # long and regular, but over four blocks
    (8, (HOME, OFFICE), 31, True, False),   # first seen 45 days before, logins on 9 days
    (20, (HOME, OFFICE), 25, False, False),  # regular and narrow, first seen 20 days before
])
def test_an_unsettled_history_makes_it_a_weak_signal(tmp_path, days, ips, start, early,
                                                     strong):
    log = history(days, ips, start)
    if early:
        log.login(USER, HOME, at(0, 9))
    log.login(USER, NEW, at(45, 9))
    signal = new_network(log, tmp_path)
    assert signal is not None and signal.strong is strong
    assert ("a strong signal" if strong else "a history not settled") in signal.reason


def test_the_settled_limits_are_at_their_edges(tmp_path):
    log = history(10, start=20)  # logins on 10 days, first seen 30 days before
    log.login(USER, OFFICE, at(15, 9))  # ... on 11 days, from two blocks
    log.login(USER, NEW, at(45, 9))
    assert new_network(log, tmp_path).strong
    log = history(10, start=20)
    log.login(USER, NEW, at(49, 23))  # first seen 29 days 14 hours before
    assert not new_network(log, tmp_path).strong


def test_too_little_history_gives_no_new_network(tmp_path):
    log = history(3)
    log.login(USER, NEW, at(6, 23))  # first seen less than --baseline-days (7) before
    assert new_network(log, tmp_path) is None
    assert new_network(log, tmp_path, baseline_days=5) is not None
    log = history(1)
    log.login(USER, HOME, at(8, 9))
    log.login(USER, "198.51.33.9", at(9, 9))  # a new /24 of a known block is routine
    assert new_network(log, tmp_path) is None


def test_a_fresh_state_on_a_week_of_logs_raises_no_new_network(tmp_path, cli):
    log = MailLog()
    for number in range(30):  # thirty accounts, each from a block of its own every day
        for day in range(6):
            log.login(f"u{number}@example.jp", f"10.{number}.{day}.9", at(day, 9))
    code, alerts = once(cli, tmp_path / "state.sqlite", log.write(tmp_path / "maillog"))
    assert (code, alerts) == (0, [])


def test_forget_starts_the_history_anew(tmp_path, cli):
    state = tmp_path / "state.sqlite"
    assert once(cli, state, history(40).write(tmp_path / "maillog-2025")) == (0, [])
    assert cli("state", "--state", state, "--forget", USER).code == 0
    log = MailLog()
    log.login(USER, NEW, at(45, 9))
    log.login(USER, HOME, at(53, 9))  # known a week after the forget: the new baseline
    log.login(USER, "100.64.3.3", at(54, 9))
    code, alerts = once(cli, state, log.write(tmp_path / "maillog"))
    assert (code, alerts) == (0, [])  # weak: no alert of its own
    held = cli("state", "--state", state, "--format", "json").json()
    assert held["accounts"][0]["first_seen"] == "2026-02-19T09:00:00+09:00"


def test_a_new_network_stops_counting_once_it_is_part_of_the_history(tmp_path):
    log = history(40)
    log.login(USER, NEW, at(45, 9))
    log.login(USER, HOME, at(51, 23))  # six days 14 hours later: still new
    assert new_network(log, tmp_path).strong
    log.login(USER, HOME, at(52, 10))  # a week and an hour later: part of the history
    assert new_network(log, tmp_path) is None
