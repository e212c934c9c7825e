"""Real logs of Proxmox Mail Gateway (pmg-log-tracker's test input, AGPL-3.0-or-later) whose
session ends, by its stamps, a day before it begins.

tests/reallogs/pmg-log-tracker/test_input_mixed_accept_block_quarantine.log is the file as
published (32 lines). smtpd[21615] on pmg6 connects at Apr 30 15:40:39 (line 3), passes a
message to the before-queue filter, whose proxy-accept comes at Apr 30 15:40:41 (line 20), and
disconnects at `Apr 29 15:40:41` (line 21): the clock went back a day while the session was
open, as an NTP step or a resumed VM makes it go. The file holds no login: line 5 is given
the SASL fields Postfix writes for one (as test_reallogs9.py's PMG logins). The tool judged the
session by its end alone: `--since 2020-04-30` dropped the login made at 15:40:39 that day
(`0 authenticated sessions`, the users row with no session), and without a filter the user's
last_seen (Apr 29) came before its first_seen (Apr 30). As in test_reallogs.py, every expected
value was read from the lines themselves, never taken from the tool's output.
"""

import pytest
from test_reallogs import REAL, rows

LOG = REAL / "pmg-log-tracker" / "test_input_mixed_accept_block_quarantine.log"
YEAR = 2020
CONNECT = "2020-04-30T15:40:39+00:00"  # line 3


@pytest.fixture
def login(tmp_path):
    lines = LOG.read_text().splitlines(keepends=True)
    assert lines[4].endswith("NOQUEUE: client=unknown[2001:DB8:1:12::75]\n")
    assert lines[20].startswith("Apr 29 15:40:41 pmg6 postfix/smtpd[21615]: disconnect from ")
    lines[4] = lines[4][:-1] + ", sasl_method=PLAIN, sasl_username=senduser\n"
    path = tmp_path / "maillog"
    path.write_text("".join(lines))
    return path


def test_a_login_before_its_sessions_stamped_end_is_kept_by_since(cli, login):
    [user] = rows(cli, "users", "--since", "2020-04-30", login, year=YEAR)
    assert (user["user"], user["sessions"], user["ips"], user["first_seen"]) == (
        "senduser", 1, 1, CONNECT)
    [session] = rows(cli, "sessions", "--since", "2020-04-30", login, year=YEAR)
    assert (session["sasl_username"], session["start"]) == ("senduser", CONNECT)


def test_a_session_never_ends_before_it_began(cli, login):
    [user] = rows(cli, "users", login, year=YEAR)
    assert (user["first_seen"], user["last_seen"]) == (CONNECT, CONNECT)
    [pair] = rows(cli, "ips", login, year=YEAR)
    assert (pair["first_seen"], pair["last_seen"]) == (CONNECT, CONNECT)
    [session] = rows(cli, "sessions", login, year=YEAR)
    assert (session["start"], session["end"], session["recipients"]) == (CONNECT, CONNECT, 3)


def test_the_file_is_read_whole(cli):
    # Without a login nothing is reported; every report reads it.
    for report in ("users", "sessions", "messages", "ips", "failures", "queue", "timeline"):
        assert rows(cli, report, LOG, year=YEAR) == []
