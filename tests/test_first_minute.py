"""Issue 13, the first minute of an incident: the default report answers who is compromised,
the report leads to the action (--flagged, roles, ids), and the evidence reads right.

Small logs come from tests/maillog_writer.py; the shipped sample's ground truth checks the rest.
"""

import datetime as dt
import json
import re
import subprocess
import sys

import pytest

from maillog_sasl import report

from maillog_writer import SECOND, MailLog, at
from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
TRUTH = json.loads((SAMPLE_LOGS / "maillog-sample.truth.json").read_text())
COMPROMISED = {entry["user"]: entry for entry in TRUTH["compromised"]}
HOME = "198.51.100.7"
REPORT_NAMES = ("users", "sessions", "messages", "ips", "failures", "suspicious", "timeline",
                "queue")


class Log(MailLog):
    """MailLog, plus a login that sends nothing (Postfix logs no username for it)."""

    def login_only(self, ip: str, when: dt.datetime) -> None:
        pid = self._next_pid()
        smtpd = "postfix/submission/smtpd"
        self._line(when, smtpd, pid, f"connect from unknown[{ip}]")
        self._line(when + 2 * SECOND, smtpd, pid,
                   f"disconnect from unknown[{ip}] ehlo=1 auth=1 quit=1 commands=3")


def rows_of(log: MailLog, tmp_path, name: str, **options):
    return report(name, [log.write(tmp_path / "maillog")], **options).rows


def flagged_log() -> Log:
    """Accounts of every severity, and a normal user with the most IPs of all."""
    log = Log()
    log.login("crit@example.jp", "203.0.113.10", at(0, 3), outcome="bounced", to=150)
    log.login("high-small@example.jp", "203.0.113.20", at(0, 4), to=150)
    log.login("high-big@example.jp", "203.0.113.30", at(0, 5), to=200)
    for index, hour in enumerate((1, 6, 12, 20)):  # hopping, and one IP shared: two weak
        log.login("med@example.jp", f"10.{index}.0.5", at(1, hour))
    log.login("other@example.jp", "10.3.0.5", at(1, 21))
    for day in range(5):
        log.login("many@example.jp", f"172.16.{day}.9", at(day, 10))
    return log


# -- 1. the default report answers who is compromised first -------------------------------------

def test_default_report_head_8_names_every_flagged_account():
    """`maillog-sasl sample_logs/maillog-sample.log | head -8`: the summary says how many
    accounts are flagged and names them, and their rows come first."""
    done = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m maillog_sasl {SAMPLE} | head -8"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 8
    assert f"; {len(COMPROMISED)} accounts flagged: " in lines[0]
    assert all(user in lines[0] for user in COMPROMISED)
    assert {line.split()[0] for line in lines[4:4 + len(COMPROMISED)]} == set(COMPROMISED)


def test_users_sorts_flagged_first_by_severity_then_recipients(tmp_path):
    found = rows_of(flagged_log(), tmp_path, "users")
    assert [row["user"] for row in found[:4]] == [
        "crit@example.jp", "high-big@example.jp", "high-small@example.jp", "med@example.jp"]
    assert [row["user"] for row in found[4:]] == ["many@example.jp", "other@example.jp"]
    assert found[4]["ips"] > max(row["ips"] for row in found[:4])  # today's order after them


def test_summary_counts_the_selection_and_names_few_flagged(cli, tmp_path):
    path = flagged_log().write(tmp_path / "maillog")
    whole = cli("--tz", "UTC", path).out.splitlines()[0]
    assert whole.startswith("2026-01-05 03:00:00 .. 2026-01-09 10:00:05 (UTC+09:00); ")
    assert "; 6 users; 13 authenticated sessions; 13 authenticated messages; " in whole
    assert whole.endswith("; 4 accounts flagged; see --report suspicious")  # more than 3: no names
    some = cli("--user", "high*", "--user", "many@*", path).out.splitlines()[0]
    assert ("; selected by --user 'high*' --user 'many@*': 3 users; 7 authenticated sessions; "
            "7 authenticated messages; 2 accounts flagged: high-big@example.jp, "
            "high-small@example.jp; see --report suspicious") in some
    one = cli("--user", "many@example.jp", "--since", "2026-01-07", "--tz", "UTC",
              path).out.splitlines()[0]
    # --since in UTC, shown in the log's own zone
    assert one.startswith("2026-01-07 09:00:00 .. 2026-01-09 10:00:05 (UTC+09:00); ")
    assert ": 1 user; 3 authenticated sessions; 3 authenticated messages; no account flagged" in one


def test_summary_is_singular_for_one(cli, tmp_path):
    log = Log()
    log.login("solo@example.jp", HOME, at(0, 9))
    path = log.write(tmp_path / "maillog")
    summary = cli(path).out.splitlines()[0]
    assert "; 1 user; 1 authenticated session; 1 authenticated message; " in summary


@pytest.mark.parametrize("args, why", [
    (["--since", "2027-01-01"],
     "(no rows: no line between --since and --until; the log covers 2026-01-05 .. 2026-01-09)"),
    (["--user", "x*"], "(no rows: no user matches --user 'x*')"),
    (["--ip", "192.0.2.0/24"], "(no rows: no client in --ip 192.0.2.0/24)"),
    (["--user", "many*", "-r", "suspicious"],
     "(no rows: none of the accounts --user 'many*' selects is flagged)"),
    (["--user", "many*", "-r", "queue"],
     "(no rows: nothing --user 'many*' selects is still queued when the log ends)"),
])
def test_no_rows_says_why(cli, tmp_path, args, why):
    path = flagged_log().write(tmp_path / "maillog")
    result = cli("--tz", "+09:00", *args, path)
    assert result.code == 0
    assert result.out.splitlines()[-1] == why


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_top_caps_every_report(report, cli, name):
    whole = report(name, SAMPLE)
    assert len(whole) > 2, "a list to cap"
    assert report(name, "--top", "2", SAMPLE) == whole[:2]
    summary = cli("-r", name, "--top", "2", SAMPLE).out.splitlines()[0]
    assert summary.endswith(f"; 2 of {len(whole)} rows shown (--top 2)")


# -- 5. sessions say what they count, one spelling of a mechanism -------------------------------

def test_sessions_recipients_count_rcpt_rejects_as_users_does(tmp_path):
    log = Log()
    log.login("rita@example.jp", HOME, at(0, 9), outcomes={"sent": 2, "rejected": 1},
              noqueue_rejects=2)
    [session] = rows_of(log, tmp_path, "sessions")
    [user] = rows_of(log, tmp_path, "users")
    assert (session["recipients"], session["rejected"]) == (5, 3)
    assert session["recipients"] == user["recipients"]


def test_sasl_method_is_spelled_alike_in_every_report(report):
    sessions = report("sessions", SAMPLE)
    users = {row["user"]: row for row in report("users", SAMPLE)}
    named = [row for row in sessions if row["sasl_method"] is not None]
    assert {row["sasl_method"] for row in named} == {"plain", "login", "cram-md5"}
    for row in named:
        assert row["sasl_method"] in users[row["sasl_username"]]["methods"]


# -- 6. evidence that reads right ---------------------------------------------------------------

def _windows(reason: str):
    """(count, end, networks named) of each window a hopping reason cites."""
    found = re.findall(r"(\d+) networks? within 24h up to (\S+): ((?:[0-9a-f.:]+/\d+ ?)+)", reason)
    return [(int(count), dt.datetime.fromisoformat(end), named.split()) for count, end, named
            in found]


def test_hopping_names_the_facts_of_its_own_windows(report):
    suspicious = {row["user"]: row for row in report("suspicious", SAMPLE)}
    ken = suspicious["ken.roux@corp.example"]
    [hopping] = [reason for reason in ken["reasons"] if reason.startswith("hopping:")]
    windows = _windows(hopping)
    assert len(windows) == 2
    (most, busiest_end, _), (count, first_end, _) = windows
    assert most == 33 and count == 4
    # The case leads with the window after the compromise, not with his own networks before.
    assert busiest_end >= dt.datetime.fromisoformat(ken["first_flagged"])
    assert first_end < dt.datetime.fromisoformat(ken["first_flagged"])
    logins = {}
    for row in report("sessions", "--user", "ken.roux@corp.example", SAMPLE):
        network = ".".join(row["client_ip"].split(".")[:3]) + ".0/24"
        logins.setdefault(network, []).append(dt.datetime.fromisoformat(row["start"]))
    for _, end, named in windows:
        end += dt.timedelta(minutes=1)  # the reason's times are to the minute
        for network in named:
            assert any(end - dt.timedelta(hours=24, minutes=1) <= when <= end
                       for when in logins[network]), (network, end)


def test_hopping_reason_in_a_small_log(tmp_path):
    log = Log()
    for index, hour in enumerate((1, 6, 12, 20)):
        log.login("hop@example.jp", f"10.{index}.0.5", at(0, hour))
    for index in range(6):
        log.login("hop@example.jp", f"20.{index}.0.5", at(2, 8, index))
    log.login("pal@example.jp", "20.5.0.5", at(2, 9))  # shared-ip: a second weak signal
    [row] = [row for row in rows_of(log, tmp_path, "suspicious") if row["user"] == "hop@example.jp"]
    [hopping] = [reason for reason in row["reasons"] if reason.startswith("hopping:")]
    assert hopping == (
        "hopping: 6 networks within 24h up to 2026-01-07T08:05+09:00: 20.0.0.0/24 20.1.0.0/24 "
        "20.2.0.0/24 20.3.0.0/24 20.4.0.0/24 20.5.0.0/24 (limit 4); first held with 4 networks "
        "within 24h up to 2026-01-05T20:00+09:00: 10.0.0.0/24 10.1.0.0/24 10.2.0.0/24 "
        "10.3.0.0/24")


def test_reasons_are_singular_for_one(tmp_path):
    log = Log()
    log.failures("203.0.113.66", at(0, 1), ["sam@example.jp"] * 3)
    log.login("sam@example.jp", "203.0.113.66", at(0, 2), to=101)  # guessed, burst: one hour
    log.login("sam@example.jp", "192.0.2.10", at(0, 5))
    log.login("tom@example.jp", "192.0.2.10", at(0, 6))  # one other account on that IP
    [row] = [row for row in rows_of(log, tmp_path, "suspicious") if row["user"] == "sam@example.jp"]
    text = " ".join(row["reasons"])
    assert "by 1 other account and" in text and "1 such hour " in text
    assert "for 1 username since" in text
    assert not re.search(r"\b1 (other |such |new |more )?(accounts|hours|usernames|networks|IPs|"
                         r"recipients|failures|days)\b", text), text


def test_later_success_always_names_who_got_in(report, tmp_path):
    log = Log()
    log.failures("203.0.113.66", at(0, 1), [None, None])
    log.login_only("203.0.113.66", at(0, 2))  # got in, sent nothing: no username logged
    log.failures("203.0.113.77", at(0, 1), ["una@example.jp"])
    log.login("una@example.jp", "203.0.113.77", at(0, 2))
    rows = {row["client_ip"]: row for row in report("failures", log.write(tmp_path / "maillog"))}
    assert rows["203.0.113.66"]["later_success"] is True
    assert rows["203.0.113.66"]["success_users"] == ["(unknown user)"]
    assert rows["203.0.113.77"]["success_users"] == ["una@example.jp"]
    for row in [*rows.values(), *report("failures", SAMPLE)]:
        assert row["later_success"] == bool(row["success_users"]), row["client_ip"]
