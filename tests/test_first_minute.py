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

from maillog_writer import MailLog, at
from support import SAMPLE_LOGS

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
TRUTH = json.loads((SAMPLE_LOGS / "maillog-sample.truth.json").read_text())
COMPROMISED = {entry["user"]: entry for entry in TRUTH["compromised"]}
HOME = "198.51.100.7"
REPORT_NAMES = ("users", "sessions", "messages", "ips", "failures", "suspicious", "timeline",
                "queue")


def rows_of(log: MailLog, tmp_path, name: str, **options):
    return report(name, [log.write(tmp_path / "maillog")], **options).rows


def flagged_log() -> MailLog:
    """Accounts of every severity, and a normal user with the most IPs of all."""
    log = MailLog()
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
    one = cli("--user", "many@example.jp", "--since", "2026-01-07", path).out.splitlines()[0]
    # The period starts at --since, read (and shown) in the log's own zone.
    assert one.startswith("2026-01-07 00:00:00 .. 2026-01-09 10:00:05 (UTC+09:00); ")
    assert one.endswith("; times in +09:00 (the log's)")
    assert ": 1 user; 3 authenticated sessions; 3 authenticated messages; no account flagged" in one


def test_summary_is_singular_for_one(cli, tmp_path):
    log = MailLog()
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


# -- 2. --flagged: from the report to the action ------------------------------------------------

def test_purge_list_of_the_compromised_accounts_only(cli):
    """`maillog-sasl -r queue -f ids --flagged sample_logs/maillog-sample.log`"""
    result = cli("-r", "queue", "-f", "ids", "--flagged", SAMPLE)
    assert result.code == 0
    ids = result.out.split()
    queue = {row["queue_id"]: row for row in cli("-r", "queue", "-f", "json", SAMPLE).json()}
    assert {queue[queue_id]["user"] for queue_id in ids} == set(COMPROMISED)
    pending = {entry["queue_id"]: entry["user"] for entry in TRUTH["pending"]}
    assert {queue_id for queue_id, user in pending.items() if user in COMPROMISED} <= set(ids)
    innocent = [queue_id for queue_id, user in pending.items() if user not in COMPROMISED]
    assert innocent and not set(innocent) & set(ids)
    assert set(ids) == {queue_id for queue_id, row in queue.items() if row["user"] in COMPROMISED}


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_flagged_selects_the_flagged_accounts_in_every_report(report, name):
    whole = report(name, SAMPLE)
    flagged = report(name, "--flagged", SAMPLE)
    assert flagged
    if name == "failures":
        def about(row):
            return set(row["usernames"]) | set(row["success_users"])
    else:
        key = "sasl_username" if name in ("sessions", "messages") else "user"

        def about(row):
            return {row[key]}
    assert flagged == [row for row in whole if about(row) & set(COMPROMISED)]


def test_flagged_reads_standard_input_once(cli):
    """The verdicts are known only at the end; streamed rows wait for them on disk, in order."""
    from_file = cli("-r", "messages", "-f", "json", "--flagged", SAMPLE).json()
    from_stdin = cli("-r", "messages", "-f", "json", "--flagged", "--tz", "UTC", "-",
                     stdin=SAMPLE.read_bytes()).json()
    assert from_stdin == from_file
    assert {row["sasl_username"] for row in from_file} == set(COMPROMISED)


def test_flagged_spool_that_cannot_be_written_is_one_line(cli, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.TemporaryFile", full)
    result = cli("-r", "messages", "-f", "csv", "--flagged", SAMPLE)
    assert result.code == 2
    assert result.err == ("maillog-sasl: cannot keep the rows of --flagged in a temporary file: "
                          "No space left on device (TMPDIR names the directory to use)\n")


def test_flagged_summary_counts_the_flagged_accounts(cli, tmp_path):
    path = flagged_log().write(tmp_path / "maillog")
    summary = cli("-r", "sessions", "--flagged", path).out.splitlines()[0]
    assert "; selected by --flagged: 4 users; 7 authenticated sessions; " in summary


# -- 3. attackers' IPs and the account's usual ones ---------------------------------------------

def test_ips_role_matches_the_attackers(report):
    rows = report("ips", SAMPLE)
    for user, truth in COMPROMISED.items():
        mine = [row for row in rows if row["user"] == user]
        attackers = {row["client_ip"] for row in mine if row["role"] == "attacker"}
        assert attackers == set(truth["attacker_ips"]), user
        usual = [row for row in mine if row["role"] == "usual"]
        assert usual and all(row["first_seen"] < truth["compromised_at"] or
                             row["client_ip"].startswith("198.18.") for row in usual)
    office = [row for row in rows if row["client_ip"] == "192.0.2.11"]
    assert len({row["user"] for row in office}) > 10  # the office NAT
    assert all(row["role"] in ("usual", "") for row in office)
    assert all(row["role"] == "" for row in rows if row["user"] not in COMPROMISED)


def test_ips_flagged_ids_is_the_firewall_set(cli):
    result = cli("-r", "ips", "--flagged", "-f", "ids", SAMPLE)
    assert result.code == 0
    ips = result.out.splitlines()
    expected = {ip for truth in COMPROMISED.values() for ip in truth["attacker_ips"]}
    assert len(ips) == len(set(ips)) and set(ips) == expected
    assert "192.0.2.11" not in ips


def test_a_burst_from_a_block_of_its_own_is_the_attackers_from_its_first_ip(tmp_path):
    # bob logs in from the office and home for nine days; on the tenth, a phished password, 40
    # logins from one spammer's /16, three recipients each within the hour. The burst fires at
    # a message of the first of those sessions, which connected a second before it: that IP
    # was "used before", its block with it, and the firewall set was empty.
    log = MailLog()
    for day in range(9):
        log.login("bob@x.test", "192.0.2.10", at(day, 9), to=2)
        log.login("bob@x.test", "198.51.100.20", at(day, 19), to=1)
    spam = [f"185.220.{index}.{index + 7}" for index in range(40)]
    for minute, ip in enumerate(spam):
        log.login("bob@x.test", ip, at(9, 11, minute), outcomes={"sent": 2, "bounced": 1})
    rows = rows_of(log, tmp_path, "ips")
    roles = {row["client_ip"]: row["role"] for row in rows}
    assert roles == {"192.0.2.10": "usual", "198.51.100.20": "usual",
                     **{ip: "attacker" for ip in spam}}


def test_a_hop_across_one_providers_networks_is_the_attackers_from_its_first(tmp_path):
    # carol logs in from home for nine days; on the tenth, one login an hour from eight /48s
    # of one cloud provider's /32, ten recipients each: no burst, no failing share. The first
    # is a new network (weak), the third makes four networks in a day (hopping, weak): the
    # account is flagged then, two hours after the first login, whose block made all of them
    # usual, and the firewall set was empty.
    log = MailLog()
    for day in range(9):
        log.login("carol@x.test", "198.51.100.20", at(day, 19), to=2)
    hops = [f"2a05:d000:{index + 1:x}:7::5" for index in range(8)]
    for hour, ip in enumerate(hops):
        log.login("carol@x.test", ip, at(9, 10 + hour, 20), to=10)
    [flagged] = report("suspicious", [log.write(tmp_path / "maillog")]).rows
    assert (flagged["severity"], flagged["signals"]) == ("medium", ["new-network", "hopping"])
    roles = {row["client_ip"]: row["role"] for row in rows_of(log, tmp_path, "ips")}
    assert roles == {"198.51.100.20": "usual", **{ip: "attacker" for ip in hops}}


def test_the_queue_of_the_current_log_alone_says_what_it_may_leave_out(cli, tmp_path):
    # bob's message of Monday night, deferred, is retried on Tuesday after the log rotated:
    # the current log holds its retries under the queue ID alone, the rotated one its login.
    # The current log's purge list is empty, and says why it may be; both logs list it.
    log = MailLog()
    for day in range(7):
        log.login("bob@x.test", HOME, at(day, 9))
    queue_id = log.login("bob@x.test", HOME, at(5, 22), outcome="deferred",
                         retry=dt.timedelta(hours=13))
    rotation = at(6, 3)
    for name, lines in (("maillog.1", [line for when, _, line in log.lines if when < rotation]),
                        ("maillog", [line for when, _, line in log.lines if when >= rotation])):
        (tmp_path / name).write_text("".join(line + "\n" for line in sorted(lines)))
    current = cli("-r", "queue", "-f", "ids", tmp_path / "maillog")
    assert (current.code, current.out) == (0, "")
    assert current.err == (
        "maillog-sasl: the log covers 2 hours 3 seconds, less than Postfix's default queue lifetime "
        "(5 days): mail queued before it began may still be queued, its account named only in "
        "an older log; give the rotated logs too (/var/log/maillog*)\n")
    both = cli("-r", "queue", "-f", "ids", tmp_path / "maillog", tmp_path / "maillog.1")
    assert (both.code, both.out, both.err) == (0, queue_id + "\n", "")


def test_failures_ids_are_client_ips(cli):
    rows = cli("-r", "failures", "-f", "json", SAMPLE).json()
    ids = cli("-r", "failures", "-f", "ids", SAMPLE).out.splitlines()
    assert ids == [row["client_ip"] for row in rows]


# A paste whose long lines wrapped (a forum's, of a compromised account: the index's id
# 56739664382, 2014) puts spaces inside the brackets; Postfix writes `unknown[unknown]` for a
# client whose address it never learned. Neither is an address for a firewall set: xargs would
# make two of the first. Nor is a scoped IPv6 address, whose scope Python's ipaddress takes
# as any text (forged lines: `fe80::2%x y` is two words too). Lines in the shape of each; the
# reports' other formats show them.
NOT_ADDRESSES = """\
Oct 13 20:41:03 custhost1 postfix/smtpd[5331]: 123A51E01CDD: client=unknown[162.     216.193.51], sasl_method=LOGIN, sasl_username=bg@x.test
Oct 13 20:41:04 custhost1 postfix/smtpd[5331]: warning: unknown[162.     216.193.51]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Oct 13 20:41:04 custhost1 postfix/smtpd[5333]: warning: unknown[192.0.2.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Oct 13 20:41:05 custhost1 postfix/smtpd[5332]: warning: unknown[unknown]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Oct 13 20:41:06 custhost1 postfix/smtpd[5334]: warning: unknown[fe80::1%$(id)]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Oct 13 20:41:07 custhost1 postfix/smtpd[5335]: connect from unknown[fe80::2%x y]
Oct 13 20:41:07 custhost1 postfix/smtpd[5335]: 223A51E01CDD: client=unknown[fe80::2%x y], sasl_method=LOGIN, sasl_username=cd@x.test
"""


def test_ids_are_addresses_only(cli, tmp_path):
    path = tmp_path / "maillog"
    path.write_text(NOT_ADDRESSES)
    assert "162.     216.193.51" in cli("-r", "ips", "-f", "csv", "--year", "2014", path).out
    assert "\nunknown," in cli("-r", "failures", "-f", "csv", "--year", "2014", path).out
    assert "fe80::2%x y" in cli("-r", "ips", "-f", "csv", "--year", "2014", path).out
    assert cli("-r", "failures", "-f", "ids", "--year", "2014", path).out == "192.0.2.9\n"
    assert cli("-r", "ips", "-f", "ids", "--year", "2014", path).out == ""


# -- 4. ids of a report without IDs is a usage error ----------------------------------------------

@pytest.mark.parametrize("args", [["-r", "users"], ["-r", "sessions"], ["-r", "suspicious"],
                                  ["-r", "timeline"], ["-r", "failures", "--by", "user"]])
def test_ids_of_a_report_without_ids_is_a_usage_error(cli, args):
    result = cli(*args, "-f", "ids", SAMPLE)
    assert (result.code, result.out) == (2, "")
    assert result.err.count("\n") == 1 and "has no IDs" in result.err


# -- 5. sessions say what they count, one spelling of a mechanism -------------------------------

def test_sessions_recipients_count_rcpt_rejects_as_users_does(tmp_path):
    log = MailLog()
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



# Postfix logs a mechanism as the client typed it, in a login's client= line and in a failure's
# warning alike (smtpd_sasl_glue.c): `auth plain` by hand, `AUTH PLAIN` from a mail program.
MIXED_CASE_MECHANISMS = """\
Mar  3 10:00:00 mx postfix/smtpd[100]: connect from a.example[192.0.2.1]
Mar  3 10:00:01 mx postfix/smtpd[100]: warning: a.example[192.0.2.1]: SASL plain authentication failed: UGFzc3dvcmQ6
Mar  3 10:00:02 mx postfix/smtpd[100]: warning: a.example[192.0.2.1]: SASL PLAIN authentication failed: UGFzc3dvcmQ6
Mar  3 10:00:03 mx postfix/smtpd[100]: warning: a.example[192.0.2.1]: SASL Login authentication failed: UGFzc3dvcmQ6
Mar  3 10:00:04 mx postfix/smtpd[100]: 4AAA1: client=a.example[192.0.2.1], sasl_method=plain, sasl_username=alice@example.jp
Mar  3 10:00:05 mx postfix/smtpd[100]: disconnect from a.example[192.0.2.1] ehlo=1 auth=1/4 mail=1 rcpt=1 data=1 quit=1 commands=6/9
Mar  3 10:01:00 mx postfix/smtpd[101]: connect from b.example[192.0.2.2]
Mar  3 10:01:01 mx postfix/smtpd[101]: 4AAA2: client=b.example[192.0.2.2], sasl_method=PLAIN, sasl_username=alice@example.jp
Mar  3 10:01:02 mx postfix/smtpd[101]: disconnect from b.example[192.0.2.2] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Mar  3 10:02:00 mx postfix/smtpd[102]: connect from c.example[192.0.2.3]
Mar  3 10:02:01 mx postfix/smtpd[102]: 4AAA3: client=c.example[192.0.2.3], sasl_method=LOGIN, sasl_username=alice@example.jp
Mar  3 10:02:02 mx postfix/smtpd[102]: disconnect from c.example[192.0.2.3] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
"""


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_mechanism_is_one_value_whatever_case_the_client_typed_it_in(cli, tmp_path, fmt):
    """Every report spells a mechanism as the sessions and users reports do, lower-case, in
    every format: the failures report's `mechanisms` too; each mechanism is one value."""
    log = tmp_path / "maillog"
    log.write_text(MIXED_CASE_MECHANISMS)
    times = ("--year", "2026", "--tz", "UTC")
    for name in REPORT_NAMES:
        result = cli("-r", name, "-f", fmt, *times, log)
        assert result.code == 0, result.err
        assert re.search(r"PLAIN|LOGIN|Login", result.out) is None, (name, result.out)
    rows = {name: cli("-r", name, "-f", "json", *times, log).json()
            for name in ("users", "sessions", "failures")}
    assert [row["methods"] for row in rows["users"]] == [["login", "plain"]]
    assert [row["sasl_method"] for row in rows["sessions"]] == ["plain", "plain", "login"]
    assert [row["mechanisms"] for row in rows["failures"]] == [["login", "plain"]]

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
    log = MailLog()
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
    log = MailLog()
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
    log = MailLog()
    log.failures("203.0.113.66", at(0, 1), [None, None])
    log.password_check("203.0.113.66", at(0, 2))  # got in, sent nothing: no username logged
    log.failures("203.0.113.77", at(0, 1), ["una@example.jp"])
    log.login("una@example.jp", "203.0.113.77", at(0, 2))
    rows = {row["client_ip"]: row for row in report("failures", log.write(tmp_path / "maillog"))}
    assert rows["203.0.113.66"]["later_success"] is True
    assert rows["203.0.113.66"]["success_users"] == ["(unknown user)"]
    assert rows["203.0.113.77"]["success_users"] == ["una@example.jp"]
    for row in [*rows.values(), *report("failures", SAMPLE)]:
        assert row["later_success"] == bool(row["success_users"]), row["client_ip"]


def test_timeline_leads_with_flagged_accounts_not_guessed_names(report, tmp_path):
    sample = report("timeline", SAMPLE)
    users = list(dict.fromkeys(row["user"] for row in sample))
    assert set(users[:len(COMPROMISED)]) == set(COMPROMISED)
    logged_in = {row["user"] for row in report("users", SAMPLE)}
    assert set(users) <= logged_in  # no username that attackers only tried
    log = flagged_log()
    log.failures("203.0.113.99", at(0, 1), ["admin", "info"])
    path = log.write(tmp_path / "maillog")
    order = list(dict.fromkeys(row["user"] for row in report("timeline", path)))
    assert order == ["crit@example.jp", "high-big@example.jp", "high-small@example.jp",
                     "med@example.jp", "many@example.jp", "other@example.jp"]
    named = {row["user"] for row in report("timeline", "--user", "admin", path)}
    assert named == {"admin"}  # listed when asked for by name


def test_failing_ips_in_address_order(report, tmp_path):
    """A spray's IPs fail as often as each other: the rows of a tie come in address order, as
    an administrator reads a list of addresses (192.0.2.9 before 192.0.2.10, IPv4 before IPv6),
    and so do a username's success_ips."""
    log = MailLog()
    ips = ["192.0.2.10", "2001:db8::1", "192.0.2.9", "192.0.2.100", "10.0.0.1"]
    for number, ip in enumerate(ips):
        log.failures(ip, at(0, 9, number), ["dave@example.jp"])
        log.login("dave@example.jp", ip, at(0, 10, number))
    path = log.write(tmp_path / "maillog")
    wanted = ["10.0.0.1", "192.0.2.9", "192.0.2.10", "192.0.2.100", "2001:db8::1"]
    assert [row["client_ip"] for row in report("failures", path)] == wanted
    [row] = report("failures", "--by", "user", path)
    assert row["success_ips"] == wanted
