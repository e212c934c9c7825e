"""Real logs of a server whose queue manager runs under another name: oqmgr or nqmgr.

A Postfix daemon logs as the name its command was run by, not as its master.cf service: every
server skeleton sets var_procname to the base name of argv[0] (master/single_server.c,
multi_server.c, trigger_server.c, ...; vdukhovni/postfix at 17830e5c13, IPL-1.0 or EPL-2.0).
Postfix installs its queue manager under three names (conf/postfix-files): qmgr; oqmgr, the
old queue manager, which master.cf's own commented line runs (`#qmgr unix n - n 300 1
oqmgr`); and nqmgr, a hard link to qmgr since 2.1, when Patrik Rak's new queue manager of
Postfix 1.1 and 2.0, nqmgr, became qmgr ("The name nqmgr still works", RELEASE_NOTES-2.1): a
master.cf of those years runs it so still. Such a server logs qmgr's every line as
`postfix/oqmgr[...]` or `postfix/nqmgr[...]`: `Jul  7 10:35:46 nilandsplace
postfix/oqmgr[27403]: 46DE5A4724: from=<phplinkd@vps.phplinkdirectory.com>, size=2298,
nrcpt=1 (queue active)`, `Jun 24 05:07:54 lujuria postfix/nqmgr[983]: 7017833812:
from=<someone@someother.tld>, size=347, nrcpt=1 (queue active)` (two forum posts, under no
licence: not copied here; a 2002 LKML post holds another server's `postfix/nqmgr[916]` lines),
and AWStats' maillogconvert.pl (eldy/AWStats, GPL) reads `postfix\\/nqmgr` beside
`postfix\\/qmgr` for the sender and size. The tool read none of those lines: no message's
sender, size or recipient count, no `status=expired, returned to sender`, no `removed`. Every
message a login sent stayed `still queued`, its sender unknown, an expired one deferred, and
the queue report and purge list named mail long delivered or returned.

The tests below write real logs of tests/reallogs with their qmgr lines under those names
(lightmeter-sample: logins on submission, deliveries, postscreen, amavis, dovecot;
fgforrest-pda: a message sent, one bounced, one deferred six times and expired) and compare
every report and --stats with the log as it is. As in test_reallogs.py, every expected number
was counted from the lines themselves (grep), never taken from the tool's output.
"""

import pytest
from test_jobs import chunks_of
from test_reallogs import counted, outcomes, rows, stats
from test_reallogs10 import _fg_with_logins
from test_reallogs13 import LIGHTMETER, YEAR, _outputs, _write, watched_logins

from maillog_sasl.syslog import QUEUE_MANAGER_NAMES, parse_program

NAMES = sorted(QUEUE_MANAGER_NAMES)


def _run_as(text, name):
    """`text` with its queue manager's lines logged as `name` runs it."""
    return text.replace("postfix/qmgr[", f"postfix/{name}[")


@pytest.mark.parametrize("tag, program", [
    ("postfix/oqmgr[27403]:", ("postfix", "qmgr", "27403")),
    ("postfix/nqmgr[983]:", ("postfix", "qmgr", "983")),
    ("postfix-out/oqmgr[7]:", ("postfix-out", "qmgr", "7")),  # an instance's syslog_name
    ("postfix/oqmgr[7]", ("postfix", "qmgr", "7")),  # rsyslog's tag without its colon
    ("postfix/qmgr[7]:", ("postfix", "qmgr", "7")),
    # No other daemon is renamed, nor a program that only ends so.
    ("postfix/xqmgr[7]:", ("postfix", "xqmgr", "7")),
    ("oqmgr[7]:", None),
])
def test_the_queue_manager_under_its_other_names_is_qmgr(tag, program):
    assert parse_program(tag) == program


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("file", ["mail.log", "mail.log.gz"])
def test_a_servers_queue_manager_read_under_each_name(cli, tmp_path, name, file):
    text = LIGHTMETER.read_text(encoding="utf-8")
    written = _run_as(text, name)
    # grep -c 'postfix/qmgr\[': 54 lines of the queue manager, each now of `name`.
    assert written.count(f"postfix/{name}[") == 54 and "postfix/qmgr[" not in written
    assert _outputs(cli, _write(tmp_path / file, written)) == _outputs(cli, LIGHTMETER)


def test_no_message_is_left_queued(cli, tmp_path):
    # grep -c 'postfix/qmgr\[.*: removed$': 27 messages removed, every one the log names: none
    # is left queued. Under oqmgr or nqmgr before, all 27 were (and 72 Postfix lines unused:
    # the 18 of the log as it is, and the 54 of the queue manager).
    text = LIGHTMETER.read_text(encoding="utf-8")
    assert text.count("postfix/qmgr[") == 54 and text.count(": removed\n") == 27
    as_it_is = stats(cli, LIGHTMETER, year=YEAR)
    assert (as_it_is["messages still queued"], as_it_is["Postfix lines not used"]) == (0, 18)
    for name in NAMES:
        counts = stats(cli, _write(tmp_path / f"{name}.log", _run_as(text, name)), year=YEAR)
        assert (counts["messages still queued"], counts["Postfix lines not used"]) == (0, 18)


@pytest.mark.parametrize("name", NAMES)
def test_an_expired_message_of_a_login_under_oqmgr(cli, tmp_path, name):
    # FG's three messages with a login on each client= line (test_reallogs10): 3bZLDk1V50z37Dv
    # sent (line 4), 3bYk6B34Hkz37Dv bounced (line 9, 5.4.4), 3bYscs22wBz37Dv deferred six
    # times (lines 15-25), then qmgr's `from=<no-reply@directmail.fg.cz>, status=expired,
    # returned to sender` (line 26); grep -c 'postfix/qmgr\[': 18 lines.
    path = _fg_with_logins(tmp_path)
    as_it_is = stats(cli, path, year=2013)
    text = path.read_text(encoding="utf-8")
    assert text.count("postfix/qmgr[") == 18
    path.write_text(_run_as(text, name), encoding="utf-8")
    [user] = rows(cli, "users", path, year=2013)
    assert outcomes(user) == counted(3, sent=1, bounced=1, expired=1)
    messages = {row["queue_id"]: (row["sender"], row["status"], row["attempts"])
                for row in rows(cli, "messages", path, year=2013)}
    assert messages == {"3bZLDk1V50z37Dv": ("liska@fg.cz", "sent", 1),
                        "3bYk6B34Hkz37Dv": ("liska@fg.cz", "bounced", 1),
                        "3bYscs22wBz37Dv": ("no-reply@directmail.fg.cz", "expired", 6)}
    # None of the three left in the queue (lines 5, 11 and 28: `removed`), and the same count
    # queued as in the log as it is (the message of lines 30-44, which no line removes).
    assert not {row["queue_id"] for row in rows(cli, "queue", path, year=2013)} & set(messages)
    assert stats(cli, path, year=2013) == as_it_is


def test_two_jobs_read_such_a_log_as_one(cli, monkeypatch, tmp_path):
    path = _write(tmp_path / "mail.log", _run_as(LIGHTMETER.read_text(encoding="utf-8"),
                                                 "oqmgr"))
    one = _outputs(cli, path)
    assert one == _outputs(cli, LIGHTMETER)
    chunks_of(path.stat().st_size // 5, monkeypatch)
    assert _outputs(cli, path, "--jobs", 2) == one


def test_watch_reads_such_a_log(cli, tmp_path):
    # grep -c 'sasl_username=' lightmeter-sample/mail.log: 13 logins, all of one account; and
    # every message removed (27 of 27), none left open in the state (which the logins alone
    # do not tell: smtpd's lines give them, and under nqmgr before, all 27 stayed open).
    text = _run_as(LIGHTMETER.read_text(encoding="utf-8"), "nqmgr")
    assert watched_logins(cli, tmp_path, text) == [13]
    shown = cli("state", "--state", tmp_path / "state", "--format", "json")
    assert shown.json()["open_messages"] == []

