"""Incident rules, each at its threshold edges (just below: silent; at: fired), on real-shaped
Postfix lines written by tests/maillog_writer.py; then the reports built on them."""

import datetime as dt
import pickle
from collections import Counter

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from maillog_sasl import analyze, report
from maillog_sasl.activity import (
    LATE_WINDOW,
    LOGINS_KEPT,
    RISING_HISTORY,
    USERNAMES_KEPT,
    Activity,
    BusyHours,
    IpActivity,
    ThresholdError,
    failing_source,
)
from maillog_sasl.correlate import SESSION_IDLE
from maillog_sasl.events import AuthFailure
from maillog_sasl.filters import Selection
from maillog_sasl.incident import Thresholds, assess, limit_reached, watch
from maillog_sasl.model import Session

from maillog_writer import SECOND, MailLog, at

HOME = "198.51.100.7"
OFFICE = "192.0.2.10"


def verdicts(log: MailLog, tmp_path, **limits):
    """user -> Verdict over the log, with Thresholds changed by `limits`."""
    analysis = analyze([log.write(tmp_path / "maillog")])
    assert not analysis.problems
    options = {"thresholds": Thresholds(**limits)}
    return assess(watch(analysis, Selection(), options), options["thresholds"])


def fired(log: MailLog, tmp_path, user: str, **limits) -> dict:
    """signal name -> reason, for one user."""
    verdict = verdicts(log, tmp_path, **limits)[user]
    return {signal.name: signal.reason for signal in verdict.signals}


def rows(log: MailLog, tmp_path, name: str, **options):
    return report(name, [log.write(tmp_path / "maillog")], **options).rows


def hours_of(count: int, per_hour: int, log: MailLog, user: str, ip: str = HOME):
    """`count` ordinary busy hours, one a day at 10:00."""
    for day in range(count):
        log.login(user, ip, at(day, 10), to=per_hour)


# -- strong: burst ------------------------------------------------------------------------------

def test_burst_absolute_fires_above_the_limit_not_at_it(tmp_path):
    log = MailLog()
    log.login("at@example.jp", HOME, at(0, 3), to=100)
    log.login("above@example.jp", OFFICE, at(0, 3), to=101)
    assert "burst" not in fired(log, tmp_path, "at@example.jp")
    reason = fired(log, tmp_path, "above@example.jp")["burst"]
    assert reason == ("burst: 101 recipients in the hour from 2026-01-05T03:00+09:00 "
                      "(more than 100); 1 such hour (busiest 101)")


def test_burst_counts_a_clock_hour_across_messages(tmp_path):
    log = MailLog()
    log.login("same@example.jp", HOME, at(0, 3, 5), to=60)
    log.login("same@example.jp", HOME, at(0, 3, 50), to=41)
    log.login("split@example.jp", OFFICE, at(0, 3, 50), to=60)
    log.login("split@example.jp", OFFICE, at(0, 4, 5), to=41)
    assert "burst" in fired(log, tmp_path, "same@example.jp")
    assert "burst" not in fired(log, tmp_path, "split@example.jp")


def test_burst_relative_needs_the_factor(tmp_path):
    log = MailLog()
    hours_of(9, 6, log, "below@example.jp")
    log.login("below@example.jp", HOME, at(9, 3), to=59)  # 9.8x the median of 6
    hours_of(9, 6, log, "at@example.jp", OFFICE)
    log.login("at@example.jp", OFFICE, at(9, 3), to=60)  # 10x
    assert "burst" not in fired(log, tmp_path, "below@example.jp")
    reason = fired(log, tmp_path, "at@example.jp")["burst"]
    assert "60 recipients" in reason and "10.0x the median busy hour of 6" in reason


@pytest.mark.parametrize("run_hours", [9, 10, 11, 25])
def test_burst_a_run_as_long_as_the_history_is_judged_by_the_hours_before_it(tmp_path,
                                                                             run_hours):
    # Ten busy hours of 2 recipients, then a spam run of 90 an hour (under the limit of 100):
    # from its tenth hour on, the median of all busy hours is the run's own.
    log = MailLog()
    hours_of(10, 2, log, "run@example.jp")
    spam_run(log, "run@example.jp", 10, run_hours)
    reason = fired(log, tmp_path, "run@example.jp")["burst"]
    median = "of 2" if run_hours < 10 else "before it of 2"
    assert reason == (f"burst: 90 recipients in the hour from 2026-01-15T00:00+09:00 (45.0x the "
                      f"median busy hour {median}; limits 10x and at least 50); {run_hours} such "
                      f"hours (busiest 90)")


def test_burst_of_a_long_run_fires_at_its_first_hour_not_at_one_over_the_limit(tmp_path):
    # A slow run of 90 an hour for two days; a day in, the account's own 11 recipients tip one
    # hour over the limit of 100. That hour is no burst against the median of all (the run's
    # own): the run's first hour, one against the hours before it, is when the flag held (the
    # ips report's roles start there).
    log = MailLog()
    hours_of(10, 2, log, "run@example.jp")
    spam_run(log, "run@example.jp", 10, 48)
    log.login("run@example.jp", HOME, at(11, 5, 50), to=11)
    [verdict] = [found for name, found in
                 verdicts(log, tmp_path).items() if name == "run@example.jp"]
    [burst] = [signal for signal in verdict.signals if signal.name == "burst"]
    assert burst.reason.startswith("burst: 90 recipients in the hour from 2026-01-15T00:00+09:00 "
                                   "(45.0x the median busy hour before it of 2; ")
    assert burst.reason.endswith("48 such hours (busiest 101 from 2026-01-16T05:00+09:00)")
    assert verdict.first_flagged == at(10, 0, 10) + SECOND


def spam_run(log: MailLog, user: str, first_day: int, hours: int, per_hour: int = 90):
    """`hours` busy hours of `per_hour` recipients in a row from midnight of `first_day`, three
    messages an hour."""
    for hour in range(hours):
        for minute in (10, 25, 40):
            log.login(user, HOME, at(first_day, 0) + dt.timedelta(hours=hour, minutes=minute),
                      to=per_hour // 3)


def test_burst_before_it_needs_a_history(tmp_path):
    # A newsletter's first test message is no account's usual: 48 hours of 60 after it are none.
    log = MailLog()
    log.login("news@example.jp", HOME, at(0, 9), to=4)
    spam_run(log, "news@example.jp", 1, 48, per_hour=60)
    hours_of(RISING_HISTORY, 2, log, "run@example.jp")
    spam_run(log, "run@example.jp", RISING_HISTORY, 2 * RISING_HISTORY)
    assert "burst" not in fired(log, tmp_path, "news@example.jp")
    assert "the median busy hour before it of 2" in fired(log, tmp_path, "run@example.jp")["burst"]


def test_burst_before_it_is_judged_by_the_limits_asked(tmp_path):
    # watch keeps an account's first such hour in its state, and may be run with other limits.
    log = MailLog()
    hours_of(10, 2, log, "run@example.jp")
    spam_run(log, "run@example.jp", 10, 12)
    analysis = analyze([log.write(tmp_path / "maillog")])
    activity = watch(analysis, Selection(), {"thresholds": Thresholds()})
    for limits, burst in [({}, True), ({"burst_minimum": 500}, False),
                          ({"burst_factor": 100.0}, False)]:
        verdict = assess(activity, Thresholds(**limits))["run@example.jp"]
        assert ("burst" in [signal.name for signal in verdict.signals]) == burst, limits


def test_burst_relative_needs_the_minimum(tmp_path):
    log = MailLog()
    hours_of(9, 4, log, "below@example.jp")
    log.login("below@example.jp", HOME, at(9, 3), to=49)  # 12x, but under 50
    hours_of(9, 4, log, "at@example.jp", OFFICE)
    log.login("at@example.jp", OFFICE, at(9, 3), to=50)
    assert "burst" not in fired(log, tmp_path, "below@example.jp")
    assert "burst" in fired(log, tmp_path, "at@example.jp")


def test_burst_limit_is_an_option(tmp_path):
    log = MailLog()
    log.login("big@example.jp", HOME, at(0, 3), to=150)
    assert "burst" not in fired(log, tmp_path, "big@example.jp", hourly_recipients=150)
    assert "burst" in fired(log, tmp_path, "big@example.jp", hourly_recipients=149)


# -- strong: failing ----------------------------------------------------------------------------

def test_failing_at_half_of_twenty(tmp_path):
    log = MailLog()
    log.login("below@example.jp", HOME, at(0, 9), outcomes={"sent": 11, "bounced": 9})
    log.login("at@example.jp", OFFICE, at(0, 9), outcomes={"sent": 10, "bounced": 10})
    assert "failing" not in fired(log, tmp_path, "below@example.jp")
    assert fired(log, tmp_path, "at@example.jp")["failing"] == (
        "failing: 10 of 20 recipients failed (50%: bounced 10; limit 50% of at least 20)")


def test_failing_needs_twenty_recipients(tmp_path):
    log = MailLog()
    log.login("few@example.jp", HOME, at(0, 9), outcome="bounced", to=19)
    assert "failing" not in fired(log, tmp_path, "few@example.jp")


def test_failing_counts_every_kind_of_failure(tmp_path):
    log = MailLog()
    log.login("mixed@example.jp", HOME, at(0, 9),
              outcomes={"sent": 10, "bounced": 4, "deferred": 2, "rejected": 2})
    log.login("mixed@example.jp", HOME, at(0, 10), outcomes={"deferred": 2},
              expire_after=dt.timedelta(days=5))
    log.login("other@example.jp", OFFICE, at(5, 12), to=1)  # the log runs past the expiry
    reason = fired(log, tmp_path, "mixed@example.jp")["failing"]
    assert "10 of 20 recipients failed (50%: deferred 2 bounced 4 expired 2 rejected 2" in reason


def test_recipients_waiting_when_the_log_ends_are_no_failures(tmp_path):
    # amy sends to 2 colleagues a day for 8 days, then invites 25 to a party; the log is read
    # as qmgr picks that message up, before any delivery line: its 25 recipients are deferred
    # in the users report (the queue holds them) but failed nothing yet. They made amy 61%
    # "failing", flagged high, her message on the purge list. Once tried and deferred, they
    # fail as any recipient does.
    log = MailLog()
    for day in range(8):
        log.login("amy@x.test", HOME, at(day, 9), to=2)
    pid, when = 5001, at(7, 17, 30)
    log._line(when, "postfix/submission/smtpd", pid, f"connect from unknown[{HOME}]")
    log._line(when, "postfix/submission/smtpd", pid,
              f"7F00000001: client=unknown[{HOME}], sasl_method=PLAIN, sasl_username=amy@x.test")
    log._line(when, "postfix/qmgr", 900,
              "7F00000001: from=<amy@x.test>, size=5000, nrcpt=25 (queue active)")
    log._line(when, "postfix/submission/smtpd", pid, f"disconnect from unknown[{HOME}] ehlo=2 "
                                                    "starttls=1 auth=1 mail=1 rcpt=25 data=1 "
                                                    "quit=1 commands=32")
    assert not verdicts(log, tmp_path)["amy@x.test"].severity
    amy = rows(log, tmp_path, "users")[0]
    assert (amy["recipients"], amy["sent"], amy["deferred"]) == (41, 16, 25)
    for number in range(25):
        log._delivery(when + SECOND, "7F00000001", f"r{number}@slow.example", "deferred")
    assert fired(log, tmp_path, "amy@x.test")["failing"] == (
        "failing: 25 of 41 recipients failed (61%: deferred 25; limit 50% of at least 20)")


# -- strong: guessed ----------------------------------------------------------------------------

def test_guessed_at_three_failures_then_success(tmp_path):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["bob@example.jp", "bob@example.jp"])
    log.login("bob@example.jp", "203.0.113.66", at(0, 2))
    log.failures("203.0.113.77", at(0, 1), ["carol@example.jp"] * 3)
    log.login("carol@example.jp", "203.0.113.77", at(0, 2))
    assert "guessed" not in fired(log, tmp_path, "bob@example.jp")
    assert fired(log, tmp_path, "carol@example.jp")["guessed"] == (
        "guessed: login from 203.0.113.77 at 2026-01-05T02:00+09:00 after 3 failed AUTH from "
        "that IP for 1 username since its last successful login (limits 3 failures or 2 usernames)")


def test_guessed_at_two_usernames(tmp_path):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["admin", "dave@example.jp"])
    log.login("dave@example.jp", "203.0.113.66", at(0, 2))
    assert "for 2 usernames" in fired(log, tmp_path, "dave@example.jp")["guessed"]


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1"])
def test_a_webmail_on_loopback_guesses_nothing(tmp_path, ip):
    # Roundcube on the mail host: overnight, three of its users' SMTP AUTH fail (Postfix < 3.9
    # names none), then two name theirs; the first login of the morning was a guess, high.
    log = MailLog()
    for night in (0, 1):
        for minute in (0, 10, 20):
            log.failures(ip, at(night, 22, minute), [None])
        log.failures(ip, at(night, 23), ["web3@example.jp", "web4@example.jp"])
        log.login(f"web{night}@example.jp", ip, at(night + 1, 9))
    assert all(not verdict.signals for verdict in verdicts(log, tmp_path).values())
    failed = rows(log, tmp_path, "failures")
    assert [(row["client_ip"], row["attempts"]) for row in failed] == [(ip, 10)]
    by_user = rows(log, tmp_path, "failures", by="user")
    assert {row["user"]: row["attempts"] for row in by_user} == {
        "(unknown user)": 6, "web3@example.jp": 2, "web4@example.jp": 2}


def test_guessed_counts_failures_inside_the_login_session(tmp_path):
    log = MailLog()
    log.login("erin@example.jp", "203.0.113.66", at(0, 2), typos=2)
    log.login("fred@example.jp", "203.0.113.77", at(0, 2), typos=3)
    assert "guessed" not in fired(log, tmp_path, "erin@example.jp")
    assert "guessed" in fired(log, tmp_path, "fred@example.jp")


def test_one_typo_each_time_is_not_guessing(tmp_path):
    log = MailLog()
    for day in range(5):
        log.login("typo@example.jp", HOME, at(day, 9), typos=1)
    assert "guessed" not in fired(log, tmp_path, "typo@example.jp")


# The reasons Postfix logs when its authentication server, not the password, failed: Dovecot's
# socket (xsasl_dovecot_server.c), Cyrus SASL's server-side results (saslauthd not running:
# `warning: SASL authentication failure: cannot connect to saslauthd server: No such file or
# directory`, then the client's `SASL LOGIN authentication failed: generic failure`).
SERVER_FAULTS = ["Connection lost to authentication server",
                 "Can't connect to authentication server", "Authentication backend error",
                 "generic failure", "no memory available", "transient failure (e.g., weak key)",
                 "remote authentication server unavailable"]


@pytest.mark.parametrize("reason", SERVER_FAULTS)
def test_failures_from_another_ip_or_the_auth_server_are_not_guessing(tmp_path, reason):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["gina@example.jp"] * 5)
    log.failures(HOME, at(0, 1), ["gina@example.jp"] * 3, reason=reason)
    log.login("gina@example.jp", HOME, at(0, 2))
    assert "guessed" not in fired(log, tmp_path, "gina@example.jp")


@pytest.mark.parametrize("reason", ["authentication failure", "UGFzc3dvcmQ6",
                                    "(reason unavailable)", "bad protocol / cancel"])
def test_failures_the_client_caused_are_guessing(tmp_path, reason):
    log = MailLog()
    log.failures(HOME, at(0, 1), ["gina@example.jp"] * 3, reason=reason)
    log.login("gina@example.jp", HOME, at(0, 2))
    assert "after 3 failed AUTH" in fired(log, tmp_path, "gina@example.jp")["guessed"]


def test_guessed_through_a_login_that_sent_nothing(tmp_path):
    # A bot checks the password it guessed in a session that queues nothing (Postfix names no
    # login there), then sends from the same IP: the guess is the sending login's.
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["kim@example.jp"] * 5)
    log.password_check("203.0.113.66", at(0, 2))
    log.failures("203.0.113.66", at(0, 3), ["kim@example.jp"])
    log.login("kim@example.jp", "203.0.113.66", at(0, 4))
    assert fired(log, tmp_path, "kim@example.jp")["guessed"].startswith(
        "guessed: login from 203.0.113.66 at 2026-01-05T04:00+09:00 after 6 failed AUTH ")
    # A typo before each login that sent nothing is still no guess, day after day.
    for day in range(5):
        log.failures(HOME, at(day, 9), ["lee@example.jp"])
        log.password_check(HOME, at(day, 10))
    log.login("lee@example.jp", HOME, at(5, 9))
    assert "guessed" not in fired(log, tmp_path, "lee@example.jp")


def test_a_login_answers_its_own_failures_not_a_colleagues(tmp_path):
    # Behind an office's NAT a device keeps trying a colleague's old password: the others'
    # logins from the NAT are no guesses, the colleague's is (and answers them).
    log = MailLog()
    log.failures(OFFICE, at(0, 8), ["alice@example.jp"] * 3)
    log.login("bob@example.jp", OFFICE, at(0, 9))
    log.login("alice@example.jp", OFFICE, at(0, 10))
    log.login("carol@example.jp", OFFICE, at(0, 11))
    assert "guessed" not in fired(log, tmp_path, "bob@example.jp")
    assert "guessed" not in fired(log, tmp_path, "carol@example.jp")
    assert "after 3 failed AUTH" in fired(log, tmp_path, "alice@example.jp")["guessed"]


def test_failures_that_named_no_account_are_any_logins(tmp_path):
    # Postfix before 3.9 names no account on a failure: the next login from the IP answers it.
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), [None] * 3)
    log.login("mia@example.jp", "203.0.113.66", at(0, 2))
    log.login("ned@example.jp", "203.0.113.66", at(0, 3))
    assert "(usernames not logged)" in fired(log, tmp_path, "mia@example.jp")["guessed"]
    assert "guessed" not in fired(log, tmp_path, "ned@example.jp")


def test_names_that_never_log_in_make_no_guess_of_the_next_days_logins(tmp_path):
    # Behind an office's NAT, a misspelled login and a forgotten domain, each followed by the
    # right login: failures for two usernames, but never two since the IP's last login.
    log = MailLog()
    log.failures(OFFICE, at(0, 9), ["bob@exmaple.jp"])
    log.login("bob@example.jp", OFFICE, at(0, 9) + dt.timedelta(minutes=1))
    log.login("carol@example.jp", OFFICE, at(0, 10))
    log.failures(OFFICE, at(1, 9), ["dave"])
    log.login("dave@example.jp", OFFICE, at(1, 9) + dt.timedelta(minutes=1))
    for hour, user in enumerate(["erin", "frank", "carol"]):
        log.login(f"{user}@example.jp", OFFICE, at(2, 9 + hour))
    found = verdicts(log, tmp_path)
    assert [user for user, verdict in found.items()
            if "guessed" in [signal.name for signal in verdict.signals]] == []
    # The same two usernames failing since the IP's last login are a guess, as before.
    log.failures(OFFICE, at(3, 9), ["bob@exmaple.jp", "dave"])
    log.login("erin@example.jp", OFFICE, at(3, 10))
    assert "for 2 usernames" in fired(log, tmp_path, "erin@example.jp")["guessed"]


def test_a_password_spray_keeps_no_record_of_the_names_that_never_log_in(tmp_path):
    # Each name a spray tried was an account's record, ~1 KB kept to the end of the run (and
    # in watch's state for good): a million names, a gigabyte.
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), [f"n{index}@example.jp" for index in range(500)]
                 + ["bob@example.jp"])
    log.login("bob@example.jp", "203.0.113.66", at(0, 2))
    path = log.write(tmp_path / "maillog")
    assert list(watch(analyze([path]), Selection(), {}).users) == ["bob@example.jp"]
    assert "after 501 failed AUTH" in fired(log, tmp_path, "bob@example.jp")["guessed"]
    # What reads them has them: the timeline's hours, and a filter that chose their sessions
    # (an account that logs in later is selected by them).
    assert len(watch(analyze([path]), Selection(), {}, keep_hours=True).users) == 501
    assert len(watch(analyze([path]), Selection(since=at(0, 0)), {}).users) == 501


def test_a_login_that_sent_nothing_keeps_failures_another_login_made_older(tmp_path):
    # Behind a NAT: alice's password guessed, bob logs in, the bot checks the password in a
    # session that sends nothing, then sends as alice (a second review's log).
    log = MailLog()
    log.failures(OFFICE, at(0, 8), ["alice@example.jp"] * 5)
    log.login("bob@example.jp", OFFICE, at(0, 9))
    log.password_check(OFFICE, at(0, 9) + dt.timedelta(minutes=30))
    log.login("alice@example.jp", OFFICE, at(0, 10), to=5)
    assert "after 5 failed AUTH" in fired(log, tmp_path, "alice@example.jp")["guessed"]
    assert "guessed" not in fired(log, tmp_path, "bob@example.jp")


def test_names_failed_before_the_ips_last_login_make_room_for_new_ones(tmp_path):
    # A NAT's list of usernames is full of names failed before its last login: a new name's
    # failures are still its own, not anyone's.
    log = MailLog()
    log.failures(OFFICE, at(0, 1), [f"user{number}" for number in range(USERNAMES_KEPT)])
    log.login("dave@example.jp", OFFICE, at(0, 8))
    log.failures(OFFICE, at(0, 8) + dt.timedelta(minutes=30), ["bob@example.jp"] * 3)
    log.login("carol@example.jp", OFFICE, at(0, 10))
    log.login("bob@example.jp", OFFICE, at(0, 11))
    assert "for 100 usernames" in fired(log, tmp_path, "dave@example.jp")["guessed"]
    assert "guessed" not in fired(log, tmp_path, "carol@example.jp")
    assert "after 3 failed AUTH" in fired(log, tmp_path, "bob@example.jp")["guessed"]


# Failures logged before a login, in a session that ended after it: the login reached the rules
# first, and is judged again when they come.
BOT = "203.0.113.66"
TEN = at(0, 10)


def guess_at(failures: int, names: str, when: str = "10:00") -> str:
    return (f"guessed: login from {BOT} at 2026-01-05T{when}+09:00 after {failures} failed AUTH "
            f"from that IP {names} since its last successful login (limits 3 failures or 2 "
            "usernames)")


def test_guessed_by_a_parallel_connection_that_failed_first_and_ended_later(tmp_path):
    # A bot's connections: the first fails bob's password three times and stays open for 40 s;
    # the second, opened meanwhile, logs in as bob and is done first. The failures are the
    # second's guess, and answered by it: bob's own login an hour later is no guess.
    log = MailLog()
    log.failures(BOT, TEN, ["bob@example.jp"] * 3, until=TEN + 40 * SECOND)
    log.login("bob@example.jp", BOT, TEN + 5 * SECOND)
    log.login("bob@example.jp", BOT, at(0, 11))
    assert fired(log, tmp_path, "bob@example.jp")["guessed"] == guess_at(3, "for 1 username")


def test_failures_naming_none_go_to_the_login_they_came_before(tmp_path):
    # Postfix before 3.9 names no account: the first login after them answers them, whoever's.
    log = MailLog()
    log.failures(BOT, TEN, [None] * 3, until=TEN + 40 * SECOND)
    log.login("dave@example.jp", BOT, TEN + 5 * SECOND)
    log.login("erin@example.jp", BOT, at(0, 11))
    assert fired(log, tmp_path, "dave@example.jp")["guessed"] == guess_at(
        3, "(usernames not logged)")
    assert "guessed" not in fired(log, tmp_path, "erin@example.jp")


def test_late_failures_of_another_account_are_its_own_and_the_logins_usernames(tmp_path):
    # Failures for carol and admin before bob's login: two usernames, a guess of bob's; carol's
    # three stay hers, older than bob's login, for her own login later.
    log = MailLog()
    log.failures(BOT, TEN, ["carol@example.jp"] * 3 + ["admin"], until=TEN + 40 * SECOND)
    log.login("bob@example.jp", BOT, TEN + 6 * SECOND)
    log.login("carol@example.jp", BOT, at(0, 11))
    assert fired(log, tmp_path, "bob@example.jp")["guessed"] == guess_at(4, "for 2 usernames")
    assert fired(log, tmp_path, "carol@example.jp")["guessed"] == guess_at(
        3, "for 1 username", "11:00")


@pytest.mark.parametrize("handed_on", ["idle", "at the end"])
def test_guessed_by_the_failures_of_a_killed_smtpd(tmp_path, handed_on):
    # The smtpd failing bob's password was killed: no disconnect line. Its session reaches the
    # rules when its host has logged an hour without it, or when the log ends: after bob's
    # login, which its failures came before.
    log = MailLog()
    log.failures(BOT, TEN, ["bob@example.jp"] * 3, killed=True)
    log.login("bob@example.jp", BOT, at(0, 10, 30))
    if handed_on == "idle":
        log.login("kim@example.jp", HOME, at(0, 12))
        log.login("kim@example.jp", HOME, at(0, 13))
    assert fired(log, tmp_path, "bob@example.jp")["guessed"] == guess_at(
        3, "for 1 username", "10:30")


def test_a_password_check_between_judged_again_keeps_the_failures_for_the_sending_login(
        tmp_path):
    # The bot checks the guessed password in a connection that sends nothing, then sends from
    # a third, all before the failing connection ends: the check, judged again with each
    # failure in turn, keeps them from the third on (and the two before it forgot).
    log = MailLog()
    log.failures(BOT, TEN, ["kim@example.jp"] * 5, until=TEN + 50 * SECOND)
    log.password_check(BOT, TEN + 10 * SECOND)
    log.login("kim@example.jp", BOT, TEN + 20 * SECOND)
    assert fired(log, tmp_path, "kim@example.jp")["guessed"] == guess_at(5, "for 1 username")


def test_a_password_check_made_a_guess_late_passes_its_failures_to_the_logins_after_it(
        tmp_path):
    # ann's mail client has a wrong password saved: a connection fails it and gives up; then
    # three at once, two of which try it before the right one, and one that only checks the
    # password (Postfix names no login). The check found the first failure, and is judged
    # again with the typos of the other two, logged before it began in connections that
    # ended after it: three, a guess's failures now. The one it found goes on to the logins
    # after it, and the first answers it, as it answers its own typo: neither is a guess.
    log = MailLog()
    log.failures(OFFICE, TEN + 4 * SECOND, ["ann@example.jp"])
    log.password_check(OFFICE, TEN + 10 * SECOND)
    log.login("ann@example.jp", OFFICE, TEN + 7 * SECOND, typos=1)
    log.login("ann@example.jp", OFFICE, TEN + 8 * SECOND, typos=1)
    assert "guessed" not in fired(log, tmp_path, "ann@example.jp")


def test_failures_logged_after_a_login_began_are_the_next_logins(tmp_path):
    # The failing connection goes on after the login began: Postfix logs no time for a
    # successful AUTH, so what it failed from then on is no guess of that login, but pending
    # for the next; the two failures before it are the login's, no guess.
    log = MailLog()
    log.failures(BOT, TEN, [None] * 2 + ["bob@example.jp"] * 3, until=TEN + 50 * SECOND)
    log.login("bob@example.jp", BOT, TEN + 3 * SECOND)  # after the two naming none
    log.login("bob@example.jp", BOT, at(0, 11))
    assert fired(log, tmp_path, "bob@example.jp")["guessed"] == guess_at(
        3, "for 1 username", "11:00")


def test_a_colleagues_typo_answered_in_its_own_session_is_no_guess_of_another(tmp_path):
    # Behind an office's NAT two colleagues each mistype once, then log in, in connections
    # that stay open while a third connects, sends and is done: their typos were answered by
    # their own logins (a review found the third guessed "after 2 failed AUTH for 2 usernames").
    log = MailLog()
    log.login("u4@example.jp", OFFICE, TEN, typos=1, until=TEN + 39 * SECOND)
    log.login("u3@example.jp", OFFICE, TEN + 2 * SECOND, typos=1, until=TEN + 76 * SECOND)
    log.login("u1@example.jp", OFFICE, TEN + 5 * SECOND)
    assert "guessed" not in fired(log, tmp_path, "u1@example.jp")


def test_a_log_whose_time_runs_back_keeps_the_order_of_the_stream(tmp_path):
    # Pieces of logs put together: failures logged before a login, in a session whose logged
    # end was before it too, that come after it in the file, count as coming after it.
    pieces = [MailLog(), MailLog(), MailLog()]
    for step, piece in enumerate(pieces):
        piece._pid += 100 * step
        piece._queue += 0x100000 * step
    pieces[0].login("bob@example.jp", BOT, at(0, 11))
    pieces[1].failures(BOT, TEN, ["bob@example.jp"] * 3)
    pieces[2].login("bob@example.jp", BOT, at(0, 12))
    path = tmp_path / "maillog"
    path.write_text("".join(piece.text() for piece in pieces))
    options = {"thresholds": Thresholds()}
    verdict = assess(watch(analyze([str(path)]), Selection(), options), options["thresholds"])
    assert [signal.reason for signal in verdict["bob@example.jp"].signals
            if signal.name == "guessed"] == [guess_at(3, "for 1 username", "12:00")]


def test_an_ip_keeps_a_bounded_number_of_logins(tmp_path):
    # A NAT's busy minutes: only the last LOGINS_KEPT logins are kept; a failure logged before
    # those forgotten counts as though it came after them, as every failure did before.
    log = MailLog()
    log.failures(OFFICE, TEN, ["bob@example.jp"] * 3, until=at(0, 10, 40))
    for minute in range(LOGINS_KEPT + 4):
        log.login(f"user{minute}@example.jp", OFFICE, at(0, 10, minute + 1))
    log.login("bob@example.jp", OFFICE, at(0, 11))
    activity = watch(analyze([log.write(tmp_path / "maillog")]), Selection(), {})
    assert len(activity.ips[OFFICE].logins) == LOGINS_KEPT
    assert activity.users["bob@example.jp"].guesses[OFFICE].time == at(0, 11)


# A session of one IP for the rule's reference: (start, seconds it lasts, username it logged in
# as, "?" for a success naming none (a password check), or None, [(second of the session,
# username or None) failed]).
SESSIONS = st.lists(st.tuples(
    st.integers(0, 60), st.integers(1, 60), st.sampled_from([None, "a", "b", "?"]),
    st.lists(st.tuples(st.integers(0, 60), st.sampled_from([None, "a", "b", "c"])),
             max_size=4)), max_size=7)


def guessed_by_the_rule(sessions) -> set:
    """The accounts the guessed rule finds, judged by its definition: a failure comes before a
    login when its session reached the stream first (or is the login's), or it was logged
    before the login's session began; it counts for the logins it came before, in the order
    of the stream, until one answers it: one as the account it named, or as any for one
    naming none, or a password check whose failures were no guess."""
    failures = [(index, when, tried) for index, (_start, _end, _name, failed)
                in enumerate(sessions) for when, tried in failed]
    # A session that logged in answered its own failures first: only those of one that did
    # not can have come before a login whose session began after them.
    came_before = [[index for index, session in enumerate(sessions)
                    if at_failure <= index
                    or (when < session[0] and sessions[at_failure][2] is None)]
                   for at_failure, when, _tried in failures]
    kept = {}  # a password check -> its failures were a guess, and it left them
    guessed = set()
    for at_login, (_start, _end, name, _failed) in enumerate(sessions):
        if name is None:
            continue
        found = []  # (username tried, whether it came before a login of another account)
        for (_at, _when, tried), logins in zip(failures, came_before):
            if at_login not in logins:
                continue
            answered, older = False, False
            for index in logins[:logins.index(at_login)]:
                other = sessions[index][2]
                if other == "?":
                    answered = not kept[index]
                elif other is not None:
                    answered = tried is None or tried == other
                    older = True
                if answered:
                    break
            if not answered:
                found.append((tried, older))
        named = Counter(tried for tried, _older in found if tried is not None)
        unnamed = sum(1 for tried, _older in found if tried is None)
        recent = {tried for tried, older in found if tried is not None and not older}
        if name == "?":
            kept[at_login] = max(named.values(), default=0) + unnamed >= 3 or len(recent) >= 2
        elif named[name] + unnamed >= 3 or len(recent) >= 2:
            guessed.add(name)
    return guessed


@given(SESSIONS)
# Failures a password check found late, before a later one made them a guess, went on through
# the logins that later one came before: `a` was guessed on each login's own typos.
@example([(1, 1, "?", []), (0, 3, "a", [(0, None)]), (0, 3, "a", [(0, None), (0, None)])])
def test_failures_count_for_a_login_by_the_rule_whichever_session_ended_first(drawn):
    day = dt.datetime(2026, 1, 5, 10, tzinfo=dt.timezone.utc)
    sessions, shaped = [], []
    for start, lasts, name, failed in drawn:
        failed = sorted(((min(second, lasts), tried) for second, tried in failed),
                        key=lambda failure: failure[0])
        shaped.append((start, start + lasts, name, [(start + second, tried)
                                                   for second, tried in failed]))
    shaped.sort(key=lambda session: session[1])  # the stream: in the order they ended
    for serial, (start, end, name, failed) in enumerate(shaped):
        session = Session(serial, "mail", "submission", str(serial), "unknown", BOT, None,
                          day + dt.timedelta(seconds=start))
        session.end = session.last_time = day + dt.timedelta(seconds=end)
        session.complete = True
        session.auth = (int(name is not None), len(failed) + int(name is not None))
        session.sasl_username = f"{name}@example.jp" if name not in (None, "?") else None
        session.auth_failures = [
            (day + dt.timedelta(seconds=when), AuthFailure(
                "unknown", BOT, None, "PLAIN", "authentication failure",
                tried and f"{tried}@example.jp")) for when, tried in failed]
        sessions.append(session)
    activity = Activity()
    for session in sessions:
        activity.observe(session)
    found = {name.split("@")[0] for name, user in activity.users.items() if user.guesses}
    assert found == guessed_by_the_rule(shaped)


IP_STEPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["failed", "failed earlier"]),
              st.sampled_from(["a", "b", "c", "d", None])),
    st.tuples(st.just("logged_in"), st.sampled_from(["a", "b", "c", "d"]))), max_size=60)


@given(IP_STEPS)
def test_an_ips_failures_stay_consistent(steps):
    state = IpActivity()
    for what, name in steps:
        if what == "logged_in":
            state.logged_in(name)
        else:  # a failure, or one logged before the IP's last login that came after it
            state.add_failure(name, what == "failed earlier")
        usernames, counts = state.pending_usernames, state.username_failures
        assert len(usernames) == len(counts) == len(set(usernames))
        assert 0 <= state.older_usernames <= len(usernames)
        assert all(count > 0 for count in counts)
        assert state.pending_failures >= sum(counts)
        assert state.most_failures_of_one() >= max(
            [state.failures_of(name) for name in usernames], default=0)


def test_a_failures_username_in_another_case_is_the_logins(tmp_path):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["Alice@Example.jp"] * 3)
    log.login("alice@example.jp", "203.0.113.66", at(0, 2))
    assert "after 3 failed AUTH" in fired(log, tmp_path, "alice@example.jp")["guessed"]


def test_an_ipv6_clients_failures_are_its_64s(tmp_path):
    # An attacker with a /64 rotates through its addresses: each fails once, another logs in.
    log = MailLog()
    for host in range(1, 4):
        log.failures(f"2001:db8:77:1::{host:x}", at(0, 1), ["olga@example.jp"])
        log.failures(f"2001:db8:88:{host:x}::1", at(0, 1), ["pia@example.jp"])
    log.login("olga@example.jp", "2001:db8:77:1::ff", at(0, 2))
    log.login("pia@example.jp", "2001:db8:88:ff::1", at(0, 2))  # another /64 each time
    assert fired(log, tmp_path, "olga@example.jp")["guessed"].startswith(
        "guessed: login from 2001:db8:77:1::ff at 2026-01-05T02:00+09:00 after 3 failed AUTH "
        "from its /64 (2001:db8:77:1::/64) for 1 username ")
    assert "guessed" not in fired(log, tmp_path, "pia@example.jp")
    assert [failing_source(ip) for ip in ("192.0.2.7", "::ffff:192.0.2.7", "unknown")] == [
        "192.0.2.7", "::ffff:192.0.2.7", "unknown"]


def ipv6_guesses() -> MailLog:
    """olga's /64 fails from three addresses and gets in from a fourth; pia's failures and
    login are in other /64s, and ida's IPv4 neighbour is another client."""
    log = MailLog()
    for host in range(1, 4):
        log.failures(f"2001:db8:77:1::{host:x}", at(0, 1), ["olga@example.jp"])
        log.failures(f"2001:db8:88:{host:x}::1", at(0, 1), ["pia@example.jp"])
    log.failures("192.0.2.7", at(0, 1), ["ida@example.jp"])
    log.login("olga@example.jp", "2001:db8:77:1::ff", at(0, 2))
    log.login("pia@example.jp", "2001:db8:88:ff::1", at(0, 2))
    log.login("ida@example.jp", "192.0.2.8", at(0, 2))
    return log


def test_the_failures_report_reads_an_ipv6_clients_later_success_as_guessed_does(tmp_path):
    # Each of olga's failing addresses' rows says she got in and names her (it said no: the
    # login was from another address), as the guessed signal counts the /64's failures.
    found = {row["client_ip"]: (row["later_success"], row["success_users"])
             for row in rows(ipv6_guesses(), tmp_path, "failures")}
    assert found == {**{f"2001:db8:77:1::{host:x}": (True, ["olga@example.jp"])
                        for host in range(1, 4)},
                     **{f"2001:db8:88:{host:x}::1": (False, []) for host in range(1, 4)},
                     "192.0.2.7": (False, [])}


def test_the_failures_by_user_names_an_ipv6_clients_failing_addresses_as_got_in(tmp_path):
    # olga's row named no success IP though all three of her failing addresses' /64 got in (the
    # by-IP rows and the guessed signal say so); pia and ida logged in from other clients.
    found = {row["user"]: (row["later_success"], row["success_ips"])
             for row in rows(ipv6_guesses(), tmp_path, "failures", by="user")}
    assert found == {
        "olga@example.jp": (True, [f"2001:db8:77:1::{host:x}" for host in range(1, 4)]),
        "pia@example.jp": (True, []), "ida@example.jp": (True, [])}


def test_an_ip_kept_before_the_counts_reads_its_failures_as_naming_none():
    state = IpActivity()
    state.__setstate__((None, {"pending_failures": 4, "pending_usernames": ("a", "b"),
                               "last_failure": None, "host": "mail"}))
    assert state.username_failures == (0, 0)
    assert (state.logins, state.forgotten_login) == ([], None)  # kept before the logins came
    assert state.failures_of("a") == 4
    state.logged_in("a")
    assert (state.pending_failures, state.pending_usernames) == (0, ("b",))


def test_guessed_from_disconnect_counters_alone(tmp_path):
    # AUTH refused before STARTTLS leaves only `auth=0/3` (reference §2).
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), [])
    log.lines = [(when, seq, line.replace("auth=0/0", "auth=0/3")) for when, seq, line in log.lines]
    log.login("hank@example.jp", "203.0.113.66", at(0, 2))
    assert "(usernames not logged)" in fired(log, tmp_path, "hank@example.jp")["guessed"]


def test_guessing_is_forgotten_after_the_guess_window(tmp_path):
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), ["ivy@example.jp"] * 3)
    log.login("ivy@example.jp", "203.0.113.66", at(7, 2))  # 7 days and an hour later
    log.failures("203.0.113.77", at(0, 1), ["jay@example.jp"] * 2)
    log.failures("203.0.113.77", at(6, 1), ["jay@example.jp"])  # the campaign goes on
    log.login("jay@example.jp", "203.0.113.77", at(12, 2))
    assert "guessed" not in fired(log, tmp_path, "ivy@example.jp")
    assert "guessed" in fired(log, tmp_path, "jay@example.jp")
    assert "guessed" in fired(log, tmp_path, "ivy@example.jp", guess_window=8)


def test_ips_that_only_logged_in_are_kept_for_failures_that_come_late_only(tmp_path):
    # A failure logged before a login reaches the stream after it when its session was still
    # open at the login's end: within minutes (smtpd's limits), or an hour later (its end lost:
    # the correlator's SESSION_IDLE). The login is kept for LATE_WINDOW after its end, looked
    # at once a day of the stream: a day's logins, not a guess window's.
    log = MailLog()
    for number in range(50):
        log.login(f"user{number}@example.jp", f"198.18.0.{number}", at(0, 9, number))
    log.failures(BOT, at(1, 9, 59), ["kim@example.jp"] * 3, until=at(1, 10, 30))
    log.login("kim@example.jp", BOT, at(1, 10))  # a guess the failing session's end tells
    for day in (1, 2):
        log.login("kim@example.jp", HOME, at(day, 12))
    activity = watch(analyze([log.write(tmp_path / "maillog")]), Selection(), {})
    assert not [ip for ip in activity.ips if ip.startswith("198.18.")]
    assert [login.time for login in activity.ips[HOME].logins] == [at(2, 12)]
    assert activity.users["kim@example.jp"].guesses[BOT].time == at(1, 10)
    assert LATE_WINDOW == 2 * SESSION_IDLE


def test_ips_that_only_failed_are_not_kept_past_the_guess_window(tmp_path):
    log = MailLog()
    for day in range(20):
        log.failures(f"203.0.113.{day}", at(day, 1), ["root"] * 5)
        log.login("kim@example.jp", HOME, at(day, 9))
    activity = watch(analyze([log.write(tmp_path / "maillog")]), Selection(), {})
    # The stream ends on day 19; idle IPs are looked for once a day of the stream, so those
    # idle for more than 7 days are gone, give or take that day.
    kept = {int(ip.rsplit(".", 1)[1]) for ip in activity.ips if ip != HOME}
    assert set(range(13, 20)) <= kept <= set(range(11, 20))
    # An IP that only logged in keeps its logins that ended LATE_WINDOW before its next, for
    # failures logged before them that come later (IpActivity.logins); its first login is in
    # the pairs.
    assert [login.time for login in activity.ips[HOME].logins] == [at(19, 9)]
    assert activity.ips[HOME].pending_failures == 0
    assert dict(activity.pairs.shared_ips(1))[HOME] == {"kim@example.jp": at(0, 9)}  # its connect


def test_hours_are_settled_six_days_behind_and_stay_counted(tmp_path):
    log = MailLog()
    for day in range(30):
        log.login("lee@example.jp", HOME, at(day, 9), to=2)
    # Deferred for eight days before it expires: it reaches the stream after its hour settled.
    log.login("lee@example.jp", HOME, at(1, 15), outcomes={"sent": 1, "deferred": 2},
              expire_after=dt.timedelta(days=8))
    activity = watch(analyze([log.write(tmp_path / "maillog")]), Selection(), {})
    user = activity.users["lee@example.jp"]
    assert not user.open_hours and not user.history  # everything settled, nothing kept
    assert user.logins == 31 and user.totals() == [61, 0, 0, 2, 0]
    assert sum(user.busy.hours_by_count.values()) == 31
    timeline = rows(log, tmp_path, "timeline")
    assert len(timeline) == 31 and sum(row["recipients"] for row in timeline) == 63


# -- weak: hopping ------------------------------------------------------------------------------

def networks_at(log, user, hours, first_octet=10):
    for index, hour in enumerate(hours):
        log.login(user, f"{first_octet}.{index}.0.5", at(0, hour))


def test_hopping_at_four_networks_in_a_day(tmp_path):
    log = MailLog()
    networks_at(log, "three@example.jp", [0, 6, 12])
    networks_at(log, "four@example.jp", [0, 6, 12, 23.9], first_octet=20)
    assert "hopping" not in fired(log, tmp_path, "three@example.jp")
    reason = fired(log, tmp_path, "four@example.jp")["hopping"]
    assert reason.startswith("hopping: 4 networks within 24h up to 2026-01-05T23:54+09:00: "
                             "20.0.0.0/24 20.1.0.0/24 20.2.0.0/24 20.3.0.0/24 (limit 4")


def test_hopping_window_slides(tmp_path):
    log = MailLog()
    networks_at(log, "slow@example.jp", [0, 6, 12, 24.1])
    assert "hopping" not in fired(log, tmp_path, "slow@example.jp")
    assert "hopping" in fired(log, tmp_path, "slow@example.jp", hop_window=25)


def test_hopping_counts_networks_not_addresses(tmp_path):
    log = MailLog()
    for index in range(4):
        log.login("dhcp@example.jp", f"198.51.100.{index + 1}", at(0, index))
    for index in range(4):
        log.login("v6@example.jp", f"2001:db8:1:{index}::5", at(0, index))
    log.login("v6b@example.jp", "2001:db8:1::5", at(0, 1))
    for index in range(3):
        log.login("v6b@example.jp", f"2001:db8:{index + 2}::5", at(0, index + 2))
    assert "hopping" not in fired(log, tmp_path, "dhcp@example.jp")
    assert "hopping" not in fired(log, tmp_path, "v6@example.jp")
    assert "2001:db8:1::/48" in fired(log, tmp_path, "v6b@example.jp")["hopping"]


# -- weak: new network --------------------------------------------------------------------------

def test_new_network_after_the_baseline(tmp_path):
    log = MailLog()
    for day in range(7):
        log.login("ivy@example.jp", HOME, at(day, 9))
    log.login("ivy@example.jp", "203.0.113.40", at(7, 9))
    log.login("jack@example.jp", OFFICE, at(0, 9))
    log.login("jack@example.jp", "203.0.113.41", at(6, 23))  # inside the baseline
    log.login("jack@example.jp", OFFICE, at(7, 9))
    assert fired(log, tmp_path, "ivy@example.jp")["new-network"] == (
        "new network: login from 203.0.113.40 (203.0.113.0/24) at 2026-01-12T09:00+09:00: its "
        "provider block 203.0.0.0/16 is not the block of the 7-day baseline ending "
        "2026-01-12T09:00+09:00; 1 new network in all")
    assert "new-network" not in fired(log, tmp_path, "jack@example.jp")


def test_a_new_24_of_a_known_provider_is_not_new(tmp_path):
    # A phone's carrier and a home ISP hand out addresses from many /24s of one block.
    log = MailLog()
    for day in range(7):
        log.login("lou@example.jp", "198.51.100.7", at(day, 9))
    log.login("lou@example.jp", "198.51.33.9", at(7, 9))
    log.login("lou@example.jp", "198.52.33.9", at(7, 10))
    assert "(198.52.33.0/24)" in fired(log, tmp_path, "lou@example.jp")["new-network"]


def test_new_network_is_silent_without_enough_history(tmp_path):
    log = MailLog()
    log.login("kim@example.jp", HOME, at(0, 9))
    log.login("kim@example.jp", "203.0.113.40", at(6, 9))
    log.login("late@example.jp", "203.0.113.50", at(8, 9))  # no login in the baseline
    assert "new-network" not in fired(log, tmp_path, "kim@example.jp")
    assert "new-network" in fired(log, tmp_path, "kim@example.jp", baseline_days=5)
    assert "new-network" not in fired(log, tmp_path, "late@example.jp")


# -- weak: shared IP ----------------------------------------------------------------------------

def test_shared_ip_at_two_accounts(tmp_path):
    log = MailLog()
    log.login("lee@example.jp", OFFICE, at(0, 9))
    log.login("mia@example.jp", OFFICE, at(0, 10))
    log.login("ned@example.jp", HOME, at(0, 10))
    assert "shared-ip" not in fired(log, tmp_path, "ned@example.jp")
    assert fired(log, tmp_path, "lee@example.jp")["shared-ip"] == (
        "shared IP: 192.0.2.10 is also used by 1 other account and is no NAT: neither account "
        "logged in from its provider block 192.0.0.0/16 on 2 days or more (limit 2 accounts on "
        "one IP)")
    assert "shared-ip" not in fired(log, tmp_path, "lee@example.jp", shared_ip_accounts=3)


def test_shared_ip_of_a_provider_someone_comes_back_to_is_a_nat(tmp_path):
    # A carrier's NAT pool: two subscribers get the same address on different days.
    log = MailLog()
    log.login("pat@example.jp", "198.18.66.41", at(0, 9))
    log.login("pat@example.jp", "198.18.64.7", at(1, 9))  # same /16, a second day
    log.login("quin@example.jp", "198.18.66.41", at(2, 9))  # quin's only day there
    log.login("rob@example.jp", "203.0.113.9", at(3, 9))
    log.login("rob@example.jp", "203.0.7.7", at(3, 12))  # same /16, same day
    log.login("sue@example.jp", "203.0.113.9", at(3, 10))
    assert "shared-ip" not in fired(log, tmp_path, "pat@example.jp")
    assert "shared-ip" not in fired(log, tmp_path, "quin@example.jp")
    assert "provider block 203.0.0.0/16 on 2 days" in fired(log, tmp_path, "rob@example.jp")["shared-ip"]
    assert "shared-ip" in fired(log, tmp_path, "sue@example.jp")
    assert "shared-ip" not in fired(log, tmp_path, "sue@example.jp", nat_days=1)
    log.login("sue@example.jp", "203.0.9.9", at(4, 10))  # sue comes back to that provider
    assert "shared-ip" not in fired(log, tmp_path, "rob@example.jp")


def test_shared_ip_another_account_comes_back_to_is_an_office_nat(tmp_path):
    log = MailLog()
    log.login("sam@example.jp", OFFICE, at(0, 9))  # visits the office once
    log.login("tia@example.jp", OFFICE, at(0, 10))
    log.login("uma@example.jp", OFFICE, at(1, 10))
    log.login("uma@example.jp", OFFICE, at(2, 10))  # works there
    found = fired(log, tmp_path, "sam@example.jp")
    assert "shared-ip" not in found
    assert "shared-ip" in fired(log, tmp_path, "sam@example.jp", nat_days=3)


def test_shared_loopback_is_a_webmail_not_a_signal(tmp_path):
    log = MailLog()
    log.login("lee@example.jp", "127.0.0.1", at(0, 9))
    log.login("mia@example.jp", "127.0.0.1", at(0, 10))
    assert "shared-ip" not in fired(log, tmp_path, "lee@example.jp")


# -- verdicts -----------------------------------------------------------------------------------

def test_one_weak_signal_is_not_a_flag_two_are(tmp_path):
    log = MailLog()
    networks_at(log, "one@example.jp", [0, 6, 12, 18])
    networks_at(log, "two@example.jp", [0, 6, 12, 18], first_octet=20)
    log.login("nat@example.jp", "20.3.0.5", at(0, 19))  # shares two@'s last IP
    found = verdicts(log, tmp_path)
    assert found["one@example.jp"].severity == ""
    assert found["two@example.jp"].severity == "medium"
    assert found["two@example.jp"].first_flagged == at(0, 19)  # the second weak signal


def test_severity_by_strong_signals(tmp_path):
    log = MailLog()
    log.login("high@example.jp", HOME, at(0, 3), to=101)
    log.failures("203.0.113.66", at(0, 1), ["crit@example.jp"] * 3)
    log.login("crit@example.jp", "203.0.113.66", at(0, 2), to=101)
    found = verdicts(log, tmp_path)
    assert found["high@example.jp"].severity == "high"
    assert found["crit@example.jp"].severity == "critical"


def normal_week(log: MailLog, user: str, home: str, office: str):
    """A week of ordinary use: two networks, a few messages a day, one bounce, one typo."""
    for day in range(8):
        log.login(user, office, at(day, 9, 30), to=3)
        log.login(user, home, at(day, 20, 15), to=2, typos=1 if day == 3 else 0)
    log.login(user, office, at(4, 11), outcomes={"sent": 1, "bounced": 1})


def test_a_normal_user_is_not_flagged(tmp_path):
    log = MailLog()
    normal_week(log, "olga@example.jp", "198.51.100.7", "192.0.2.10")
    verdict = verdicts(log, tmp_path)["olga@example.jp"]
    assert (verdict.signals, verdict.severity) == ([], "")


# -- reports ------------------------------------------------------------------------------------

def incident_log() -> MailLog:
    log = MailLog()
    normal_week(log, "olga@example.jp", "198.51.100.7", "192.0.2.10")
    log.failures("203.0.113.66", at(6, 1), ["admin", "bad@example.jp", "bad@example.jp"])
    log.login("bad@example.jp", "203.0.113.66", at(6, 2), outcomes={"sent": 20, "deferred": 90},
              notice=True, retry=dt.timedelta(hours=1))
    log.login("bad@example.jp", "192.0.2.10", at(0, 9), to=2)  # olga's office NAT
    log.login("bad2@example.jp", "203.0.113.66", at(6, 5), to=1)  # the attacker's next account
    return log


def test_suspicious_report_rows(tmp_path):
    found = rows(incident_log(), tmp_path, "suspicious")
    assert [row["user"] for row in found] == ["bad@example.jp"]  # bad2: one weak signal
    row = found[0]
    assert row["severity"] == "critical"
    assert row["signals"] == ["guessed", "burst", "failing", "shared-ip"]
    assert row["first_flagged"] == at(6, 2)
    assert (row["networks"], row["ips"], row["messages"], row["recipients"]) == (2, 2, 2, 112)
    assert row["failed_share"] == round(90 / 112, 3)
    assert "90 of 112 recipients failed" in row["reasons"][2]
    assert row["reasons"][3].startswith("shared IP: 203.0.113.66 ")


def test_users_report_flags_column(tmp_path):
    found = {row["user"]: row["flags"] for row in rows(incident_log(), tmp_path, "users")}
    assert found["olga@example.jp"] == []
    assert found["bad@example.jp"] == ["burst", "failing", "guessed", "shared-ip"]


def test_failures_by_user_and_success_marks(tmp_path):
    log = incident_log()
    by_user = {row["user"]: row for row in rows(log, tmp_path, "failures", by="user")}
    assert by_user["bad@example.jp"]["attempts"] == 2
    assert by_user["bad@example.jp"]["later_success"] is True
    assert by_user["bad@example.jp"]["success_ips"] == ["203.0.113.66"]
    assert by_user["admin"]["later_success"] is False
    # her typo on day 3 at home, then a good login from home
    assert by_user["olga@example.jp"]["success_ips"] == ["198.51.100.7"]
    assert by_user["olga@example.jp"]["later_success"] is True
    by_ip = {row["client_ip"]: row for row in rows(log, tmp_path, "failures")}
    assert by_ip["203.0.113.66"]["success_users"] == ["bad2@example.jp", "bad@example.jp"]


def test_queue_lists_only_what_is_still_pending(tmp_path):
    log = incident_log()
    log.login("olga@example.jp", "192.0.2.10", at(7, 12), outcome="deferred", to=1)
    log.login("olga@example.jp", "192.0.2.10", at(1, 12), outcome="deferred", to=1,
              expire_after=dt.timedelta(days=5))
    found = rows(log, tmp_path, "queue")
    assert sorted(row["queue_id"] for row in found) == sorted(log.pending)
    bad = [row for row in found if row["user"] == "bad@example.jp"]
    assert [(row["kind"], row["pending_recipients"]) for row in bad] == [("submission", 90),
                                                                         ("notice", 1)]
    assert bad[1]["parent_queue_id"] == bad[0]["queue_id"]
    assert bad[0]["first_deferred"] == at(6, 2) + dt.timedelta(seconds=3)
    assert bad[0]["last_attempt"] == at(6, 3) + dt.timedelta(seconds=3)
    assert bad[0]["last_reason"].endswith("Connection timed out")
    only_bad = rows(log, tmp_path, "queue", selection=Selection(["bad@*"]))
    assert {row["user"] for row in only_bad} == {"bad@example.jp"}


def test_timeline_shows_the_hour_it_went_bad(tmp_path):
    found = rows(incident_log(), tmp_path, "timeline", selection=Selection(["bad@example.jp"]))
    assert [row["hour"] for row in found] == [at(0, 9), at(6, 1), at(6, 2), at(6, 5)]
    guessing, bad, shared = found[1], found[2], found[3]
    assert (guessing["auth_failures"], guessing["logins"]) == (2, 0)
    assert (bad["logins"], bad["ips"], bad["networks"], bad["new_networks"]) == (1, 1, 1, 1)
    assert (bad["recipients"], bad["sent"], bad["deferred"]) == (110, 20, 90)
    assert bad["signals"] == ["burst", "failing", "guessed"]
    assert (shared["logins"], shared["recipients"], shared["signals"]) == (0, 0, ["shared-ip"])
    assert found[0]["signals"] == []
    window = Selection(["bad@example.jp"], since=at(6, 2), until=at(6, 5))
    found = rows(incident_log(), tmp_path, "timeline", selection=window)
    assert [row["hour"] for row in found] == [at(6, 2), at(6, 5)]


def test_the_median_busy_hour_is_the_count_itself_or_the_mean_of_two():
    """`state --format json` shows it: 3, not 3.0 (a return typed float once turned the
    compiled build's ints into floats)."""
    hours = BusyHours()
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    for hour, count in enumerate((1, 3, 2)):
        hours.add(start + dt.timedelta(hours=hour), count, start, Thresholds())
    assert repr(hours.median()) == "2"
    hours.add(start + dt.timedelta(hours=3), 4, start, Thresholds())
    assert repr(hours.median()) == "2.5"


def test_a_count_given_as_a_float_is_kept_as_an_int_and_a_fraction_is_refused():
    limits = Thresholds(hourly_recipients=100.0, burst_minimum=50.0, burst_factor=2)
    assert repr((limits.hourly_recipients, limits.burst_minimum)) == "(100, 50)"
    assert limits.burst_factor == 2  # a float limit takes an int as it is
    with pytest.raises(ThresholdError, match="hourly_recipients must be a whole number"):
        Thresholds(hourly_recipients=100.5)


# Thresholds(hourly_recipients=200, travel_speed=900.0) pickled by the frozen dataclass it was
# until commit 31d38c5: a watch state keeps its engine's limits so.
DATACLASS_PICKLE = (
    b"\x80\x04\x95~\x01\x00\x00\x00\x00\x00\x00\x8c\x15maillog_sasl.activity\x94\x8c\n"
    b"Thresholds\x94\x93\x94)\x81\x94}\x94(\x8c\x11hourly_recipients\x94K\xc8\x8c\x0c"
    b"burst_factor\x94G@$\x00\x00\x00\x00\x00\x00\x8c\rburst_minimum\x94K2\x8c\x0e"
    b"failed_percent\x94G@I\x00\x00\x00\x00\x00\x00\x8c\x0efailed_minimum\x94K\x14\x8c\x0e"
    b"guess_failures\x94K\x03\x8c\x0fguess_usernames\x94K\x02\x8c\x0cguess_window\x94G@\x1c"
    b"\x00\x00\x00\x00\x00\x00\x8c\x0chop_networks\x94K\x04\x8c\nhop_window\x94G@8\x00\x00"
    b"\x00\x00\x00\x00\x8c\rbaseline_days\x94G@\x1c\x00\x00\x00\x00\x00\x00\x8c\x12"
    b"shared_ip_accounts\x94K\x02\x8c\x08nat_days\x94K\x02\x8c\rmax_countries\x94K\x03\x8c"
    b"\x0ctravel_speed\x94G@\x8c \x00\x00\x00\x00\x00\x8c\x0fsender_mismatch\x94K\x00ub.")


def test_limits_are_frozen_values_that_pickle_as_the_dataclass_they_were():
    limits = Thresholds(hourly_recipients=200, travel_speed=900.0)
    assert pickle.loads(DATACLASS_PICKLE) == limits
    assert pickle.loads(pickle.dumps(limits)) == limits
    assert hash(pickle.loads(DATACLASS_PICKLE)) == hash(limits)
    assert limits != Thresholds() and hash(limits) != hash(Thresholds())
    assert limits.replace(hourly_recipients=100, travel_speed=1000) == Thresholds()
    assert repr(limits).startswith("Thresholds(hourly_recipients=200, burst_factor=10.0, ")
    with pytest.raises(AttributeError, match="frozen"):
        limits.hourly_recipients = 5
    with pytest.raises(TypeError, match="unexpected keyword argument 'hourly'"):
        Thresholds(hourly=5)
    with pytest.raises(ThresholdError, match="nat_days must be from 1 to 36500, not 0"):
        limits.replace(nat_days=0)


@given(firsts=st.dictionaries(st.text(min_size=1, max_size=3),
                              st.integers(0, 5).map(lambda minute: at(1, 9) +
                                                    dt.timedelta(minutes=minute)),
                              min_size=2, max_size=12),
       limit=st.integers(2, 12))
def test_the_moment_an_ip_reached_its_limit_is_the_definition_sorted_once(firsts, limit):
    # Few distinct minutes: ties among the first logins, where taking one out is the question.
    assume(len(firsts) >= limit)
    expected = {name: max(first, sorted(when for other, when in firsts.items()
                                        if other != name)[limit - 2])
                for name, first in firsts.items()}
    assert limit_reached(firsts, limit) == expected
