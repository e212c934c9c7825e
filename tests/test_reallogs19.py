"""Real logs of a school's mail server (FreeBSD, Postfix with Dovecot SASL, 2020; AGPL-3.0)
whose every message goes through a pipe(8) content filter, bogofilter, that re-injects it
through Postfix's sendmail: pickup reads the copy under a new queue ID (`uid=800`), with
nothing naming the original but its sender and message-id.

tests/reallogs/shenchris-gci holds three stretches of one day's log, byte-exact: a cashier's
account sending from one client (17 messages in 6 sessions, 09:06-09:10), a mail client that
failed twice, then logged in and sent a message without a Message-ID (10:23), a login whose
copy was deferred and retried, and one whose two recipients were piped to a command each, a
copy each (10:58-11:12). The whole day (19,163 lines, 64 logins) was read with every report and
matched the lines by hand: every login's copy, recipient and outcome.

The message without a Message-ID taught something: cleanup logs `message-id=<>` for it, and for
its copy too, to which it added none either: gateway mail, as `sendmail -G` (FILTER_README's
simple filter) submits it. Only a copy with a message-id cleanup made up was paired with an
original that had none, so this login's mail stopped at the filter, "sent" to bogofilter, and a
copy's bounce or deferral was nobody's (tests/test_pipe_filter.py). As in test_reallogs.py,
every expected number was counted from the lines themselves (grep), never the tool's output.
"""

import re

import pytest
from test_reallogs import REAL, counted, failures, outcomes, rows, stats

GCI = REAL / "shenchris-gci"
YEAR = 2020
# wc -l, and grep -vc ' postfix/' (dovecot's and bogofilter's lines) of each file.
LINES = {"maillog-0906.log": (248, 44), "maillog-1023.log": (54, 16),
         "maillog-1058.log": (363, 132)}
LOGIN = re.compile(r"\]: ([0-9A-F]+): client=\S+, sasl_method=\w+, sasl_username=(\S+)$", re.M)
PICKED = re.compile(r" postfix/pickup\[\d+\]: ([0-9A-F]+): uid=800 from=<([^>]*)>$", re.M)


@pytest.mark.parametrize("name", sorted(LINES))
def test_each_file_is_read_whole(cli, name):
    counts = stats(cli, GCI / name, year=YEAR)
    assert (counts["lines read"], counts["other programs"], counts["not syslog lines"]) == (
        *LINES[name], 0)
    for report in ("users", "sessions", "messages", "queue", "failures", "ips", "timeline"):
        rows(cli, report, GCI / name, year=YEAR)


def test_each_login_goes_on_as_the_filters_copy(cli):
    path = GCI / "maillog-0906.log"
    text = path.read_text()
    logins = dict(LOGIN.findall(text))
    assert len(logins) == 17 and set(logins.values()) == {"hsnu-cashier@hs.ntnu.edu.tw"}
    copies = {queue_id for queue_id, sender in PICKED.findall(text)
              if sender == "hsnu-cashier@hs.ntnu.edu.tw"}
    messages = rows(cli, "messages", path, year=YEAR)
    # Each row is a copy pickup read, its parent a login's queue ID: 13 sent on to Google's and
    # Yahoo's servers, 4 to local mailboxes through dovecot-lda (relay=dovecot).
    assert sorted(row["parent_queue_id"] for row in messages) == sorted(logins)
    assert {row["queue_id"] for row in messages} == copies
    assert {(row["status"], row["client_ip"]) for row in messages} == {("sent", "140.131.145.32")}
    assert sum(row["relay"] == "dovecot" for row in messages) == 4
    assert not any(row["relay"] == "bogofilter" for row in messages)
    [user] = rows(cli, "users", path, year=YEAR)
    # grep -c 'disconnect from unknown\[140.131.145.32\].*auth=1': 6 sessions.
    assert (user["user"], user["sessions"], user["messages"]) == (
        "hsnu-cashier@hs.ntnu.edu.tw", 6, 17)
    assert outcomes(user) == counted(17, sent=17)
    assert rows(cli, "messages", "--jobs", "2", path, year=YEAR) == messages


def test_a_message_without_message_id_goes_on_as_its_copy(cli):
    # Lines 38-50: CDE701D1C0D (`message-id=<>`) piped to bogofilter; pickup's 0F4021D1C11,
    # `message-id=<>` too, delivered by dovecot-lda. Before, the row was CDE701D1C0D's,
    # "sent" to relay bogofilter.
    path = GCI / "maillog-1023.log"
    [row] = rows(cli, "messages", path, year=YEAR)
    assert (row["queue_id"], row["parent_queue_id"], row["sasl_username"], row["client_ip"],
            row["recipient"], row["status"], row["relay"], row["message_id"]) == (
        "0F4021D1C11", "CDE701D1C0D", "asdweq0424@hs.ntnu.edu.tw", "140.131.146.64",
        "asdweq0424@hs.ntnu.edu.tw", "sent", "dovecot", "")
    # Lines 22-27: two sessions failed (auth=0/1 each), then two logged in and quit (lines 32
    # and 33: no username logged), then pid 77915's third session sent the message.
    assert failures(cli, path, year=YEAR) == {"140.131.146.64": (2, [], ["login"], 2)}
    users = {user["user"]: user for user in rows(cli, "users", path, year=YEAR)}
    assert {name: user["sessions"] for name, user in users.items()} == {
        "asdweq0424@hs.ntnu.edu.tw": 1, "(unknown user)": 2}
    assert outcomes(users["asdweq0424@hs.ntnu.edu.tw"]) == counted(1, sent=1)


def test_a_copy_deferred_and_a_copy_for_each_recipient(cli):
    path = GCI / "maillog-1058.log"
    users = {user["user"]: user for user in rows(cli, "users", path, year=YEAR)}
    # Lines 8-16: B6C851D1C0D piped, its copy CF3311D1C13 deferred (ail.com timed out) at
    # 10:58:55 and at 11:06:38 (lines 39 and 253); still queued when the stretch ends.
    assert outcomes(users["hsnuimo@hs.ntnu.edu.tw"]) == counted(1, deferred=1)
    [queued] = rows(cli, "queue", path, year=YEAR)
    assert (queued["queue_id"], queued["kind"], queued["user"], queued["parent_queue_id"],
            queued["first_deferred"], queued["last_attempt"]) == (
        "CF3311D1C13", "reinjected", "hsnuimo@hs.ntnu.edu.tw", "B6C851D1C0D",
        "2020-05-05T10:58:55+00:00", "2020-05-05T11:06:38+00:00")
    # Lines 338-346: 0F8241D1C0D (nrcpt=2) piped by two commands (pipe[79102], pipe[79154]):
    # a copy each, 377951D1C18 and 412D91D1C19, each sent.
    messages = rows(cli, "messages", "--user", "iblis@*", path, year=YEAR)
    assert sorted((row["queue_id"], row["parent_queue_id"], row["recipient"], row["status"])
                  for row in messages) == [
        ("377951D1C18", "0F8241D1C0D", "jyneda@gmail.com", "sent"),
        ("412D91D1C19", "0F8241D1C0D", "k0858809.cai08g@nctu.edu.tw", "sent")]
    assert outcomes(users["iblis@hs.ntnu.edu.tw"]) == counted(2, sent=2)
