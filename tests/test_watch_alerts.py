"""watch's own alerts: queue-growth (more than --max-deferred messages of an account deferred
in the queue) and failure-storm (failed AUTH naming one account from at least --storm-ips IPs
within --storm-window hours): at and just below each edge, once per account, again when the
count doubles, across --once runs, and on the shipped sample's distributed guessing."""

import datetime as dt
import json

import pytest

from maillog_sasl import watch

from maillog_writer import MailLog, at
from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
USER = "ann@example.jp"


def once(cli, tmp_path, path, *more):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", *more, path)
    assert result.code in (0, 1), result.err
    return [json.loads(line) for line in result.out.splitlines()]


def own(alerts, signal):
    return [alert for alert in alerts if alert["signals"] == [signal]]


def append(path, log):
    with open(path, "a") as out:
        out.write(log.text())


def later(log, step):
    """Another MailLog whose queue IDs and pids differ from `log`'s."""
    more = MailLog()
    more._queue = log._queue + 0x100000 * step
    more._pid = log._pid + 10000 * step
    return more


# -- queue-growth ----------------------------------------------------------------------------

def deferred_log(count, start=0.0):
    log = MailLog()
    for index in range(count):
        log.login(USER, "198.51.100.7", at(start, 9, index * 0.5), outcome="deferred")
    return log


@pytest.mark.parametrize("count, limit, fires", [(50, 50, False), (51, 50, True),
                                                 (3, 2, True), (2, 2, False)])
def test_queue_growth_fires_above_the_limit_not_at_it(tmp_path, cli, count, limit, fires):
    path = deferred_log(count).write(tmp_path / "maillog")
    more = () if limit == watch.Alarms().max_deferred else ("--max-deferred", str(limit))
    alerts = own(once(cli, tmp_path, path, *more), "queue-growth")
    assert len(alerts) == fires
    if fires:
        [alert] = alerts
        assert alert["severity"] == "high" and alert["level"] == count
        assert alert["new_signals"] == ["queue-growth"] and len(alert["queue_ids"]) == count
        assert alert["deferred"] == count and alert["first_seen_ip"] == "198.51.100.7"
        assert alert["reasons"][0].startswith(f"queue-growth: {count} messages of the account "
                                              f"in the queue with deferred recipients")


def test_queue_growth_again_only_when_the_count_doubles(tmp_path, cli):
    limit = ("--max-deferred", "4")
    log = deferred_log(5)
    path = log.write(tmp_path / "maillog")
    assert [a["level"] for a in own(once(cli, tmp_path, path, *limit), "queue-growth")] == [5]
    more = later(log, 1)
    for index in range(4):  # 9 in all: less than twice 5
        more.login(USER, "198.51.100.7", at(0, 12, index), outcome="deferred")
    append(path, more)
    assert own(once(cli, tmp_path, path, *limit), "queue-growth") == []
    last = later(log, 2)
    last.login(USER, "198.51.100.7", at(0, 13), outcome="deferred")  # 10: twice 5
    append(path, last)
    assert [a["level"] for a in own(once(cli, tmp_path, path, *limit), "queue-growth")] == [10]


def test_queue_growth_counts_only_deferred_messages_still_queued(tmp_path, cli):
    log = MailLog()
    for index in range(3):
        log.login(USER, "198.51.100.7", at(0, 9, index), outcome="deferred",
                  expire_after=dt.timedelta(hours=1))  # left the queue
        log.login(USER, "198.51.100.7", at(0, 10, index), outcome="sent")
    log.login(USER, "198.51.100.7", at(0, 11), outcome="deferred")
    path = log.write(tmp_path / "maillog")
    assert own(once(cli, tmp_path, path, "--max-deferred", "1"), "queue-growth") == []


# -- failure-storm ---------------------------------------------------------------------------

def storm_log(ips, span_hours, name=USER, known=True):
    """`known`: the account logged in first. Then one failure naming it from each of `ips`
    IPs, the first and the last `span_hours` apart."""
    log = MailLog()
    if known:
        log.login(name, "198.51.100.7", at(0, 8))
    for index in range(ips):
        offset = span_hours * 60 * index / max(ips - 1, 1)
        log.failures(f"203.0.113.{index + 1}", at(0, 10, offset), [name])
    return log


@pytest.mark.parametrize("ips, fires", [(9, False), (10, True)])
def test_failure_storm_at_the_number_of_ips_not_below(tmp_path, cli, ips, fires):
    path = storm_log(ips, 1).write(tmp_path / "maillog")
    alerts = own(once(cli, tmp_path, path), "failure-storm")
    assert len(alerts) == fires
    if fires:
        [alert] = alerts
        assert alert["severity"] == "medium" and alert["level"] == 10
        assert alert["first_seen_ip"] == "203.0.113.1"
        assert alert["failing_ips"][0] == "203.0.113.10" and len(alert["failing_ips"]) == 10
        assert alert["ips"] == ["198.51.100.7"]  # where it logged in, as in every alert
        assert "from 10 IPs within 6h" in alert["reasons"][0]


@pytest.mark.parametrize("span, fires", [(6.0, True), (6.0 + 1 / 3600, False)])
def test_failure_storm_within_the_window_not_past_it(tmp_path, cli, span, fires):
    path = storm_log(10, span).write(tmp_path / "maillog")
    assert len(own(once(cli, tmp_path, path), "failure-storm")) == fires


def test_failure_storm_options(tmp_path, cli):
    path = storm_log(3, 0.5).write(tmp_path / "maillog")
    assert own(once(cli, tmp_path, path, "--storm-ips", "3", "--storm-window", "0.4"),
               "failure-storm") == []
    (tmp_path / "s.sqlite").unlink()
    assert len(own(once(cli, tmp_path, path, "--storm-ips", "3", "--storm-window", "0.5"),
                   "failure-storm")) == 1


def test_log_time_and_the_metric_are_the_newest_line_read(tmp_path, cli):
    # They were the time of the latest session or message ended (or, for the report's signals,
    # that the log's end would end): a session still open at the log's end (here an hour after
    # the guessed login) held them back, and an administrator reading
    # maillog_sasl_last_log_time_seconds took the log for read an hour behind.
    log = storm_log(2, 0.1)
    log.failures("203.0.113.50", at(0, 11), ["carl@example.jp", "dan@example.jp", "eve@example.jp"])
    log.login("eve@example.jp", "203.0.113.50", at(0, 11, 5))
    newest = at(0, 12)
    log._line(newest, "postfix/submission/smtpd", 9000, "connect from unknown[203.0.113.99]")
    path = log.write(tmp_path / "maillog")
    alerts = once(cli, tmp_path, path, "--storm-ips", "2", "--metrics", tmp_path / "m.prom")
    assert own(alerts, "failure-storm") and any("guessed" in alert["signals"] for alert in alerts)
    assert {alert["log_time"] for alert in alerts} == {newest.isoformat()}
    assert (f"maillog_sasl_last_log_time_seconds {newest.timestamp()}\n"
            in (tmp_path / "m.prom").read_text())


def test_no_storm_on_a_username_that_never_logged_in(tmp_path, cli):
    path = storm_log(12, 1, name="admin", known=False).write(tmp_path / "maillog")
    assert own(once(cli, tmp_path, path), "failure-storm") == []


def test_failure_storm_across_runs_and_again_only_when_doubled(tmp_path, cli):
    log = storm_log(6, 1)
    path = log.write(tmp_path / "maillog")
    assert own(once(cli, tmp_path, path), "failure-storm") == []
    more = later(log, 1)
    for index in range(6, 19):  # 19 IPs within the window: the first alert at 10
        more.failures(f"203.0.113.{index + 1}", at(0, 11, index), [USER])
    append(path, more)
    [alert] = own(once(cli, tmp_path, path), "failure-storm")
    assert alert["level"] == 19  # the most IPs the run saw within the window
    last = later(log, 2)
    for index in range(19, 38):  # 38 IPs within the window: twice 19
        last.failures(f"203.0.113.{index + 1}", at(0, 12, index), [USER])
    append(path, last)
    assert [a["level"] for a in own(once(cli, tmp_path, path), "failure-storm")] == [38]


def test_forget_lets_both_fire_again(tmp_path, cli):
    path = storm_log(10, 1).write(tmp_path / "maillog")
    assert len(own(once(cli, tmp_path, path), "failure-storm")) == 1
    assert cli("state", "--state", tmp_path / "s.sqlite", "--forget", USER).code == 0
    log = storm_log(10, 1)
    log._queue += 0x100000
    log.lines = [(when + dt.timedelta(days=1), seq, line.replace("2026-01-05", "2026-01-06"))
                 for when, seq, line in log.lines]
    append(path, log)
    assert len(own(once(cli, tmp_path, path), "failure-storm")) == 1


def test_the_samples_distributed_guessing_is_a_storm(tmp_path, cli):
    """k.nilsson's password was guessed from 17 IPs in under five hours on 4 March."""
    alerts = once(cli, tmp_path, SAMPLE)
    [alert] = own(alerts, "failure-storm")
    assert alert["user"] == "k.nilsson@corp.example" and alert["level"] == 17
    assert alert["first_seen_ip"] == "190.202.195.68"
    assert alert["first_flagged"].startswith("2026-03-04T10:21")  # the tenth IP
    assert own(alerts, "queue-growth") == []  # the most any account has is 8
    # The other alerts are exactly the suspicious report's.
    assert {a["user"] for a in alerts if a["signals"][0] not in watch.WATCH_SIGNALS} == {
        "ken.roux@corp.example", "k.nilsson@corp.example", "chiara.ferrari@corp.example"}


def test_own_alerts_do_not_hold_back_a_rising_severity(tmp_path, cli):
    """A queue-growth alert (high) stored for an account does not count as the account's
    severity: the verdict's first alert still comes."""
    log = deferred_log(3)
    path = log.write(tmp_path / "maillog")
    alerts = once(cli, tmp_path, path, "--max-deferred", "2", "--failed-min", "1000")
    assert [a["signals"] for a in alerts] == [["queue-growth"]]
    more = later(log, 1)
    more.login(USER, "198.51.100.7", at(0, 12), outcome="bounced", to=150)  # burst: high
    append(path, more)
    alerts = once(cli, tmp_path, path, "--max-deferred", "2", "--failed-min", "1000")
    assert [(a["severity"], a["new_signals"]) for a in alerts] == [("high", ["burst"])]


def test_bad_options(tmp_path, cli):
    for args in (("--max-deferred", "0"), ("--storm-ips", "-1"), ("--storm-window", "0"),
                 ("--storm-window", "1e9")):
        result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", *args, SAMPLE)
        assert result.code == 2 and result.err, args
