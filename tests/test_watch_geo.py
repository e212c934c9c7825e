"""watch with GeoIP and the sender rule: countries, travel and sender-mismatch across --once
runs, new-country against the countries of the account's history in the state (outliving the
logs, filled from the pairs' IPs when earlier runs had no database), the state of the schema
before migrated (or read as it is), and what cannot be used refused in one line, exit 2."""

import os
import sqlite3

import pytest
import test_watch
from test_watch import cuts, raised

from maillog_sasl import state as state_module
from maillog_sasl import watch
from maillog_sasl.state import State

from geoip_writer import city, write_database
from maillog_writer import MailLog, at
from support import SAMPLE_LOGS, tamper

USER = "ann@example.jp"
OFFICE, HOME = "192.0.2.10", "198.51.100.7"
KR, US, BR = "203.0.113.5", "203.0.113.70", "203.0.113.130"
PLACES = {"192.0.2.0/24": city("JP", 35.68, 139.69), "198.51.100.0/24": city("JP", 34.69, 135.5),
          "203.0.113.0/26": city("KR", 37.57, 126.98),
          "203.0.113.64/26": city("US", 38.90, -77.04),
          "203.0.113.128/26": city("BR", -15.79, -47.88)}


@pytest.fixture
def geoip(tmp_path):
    return write_database(tmp_path / "city.mmdb", PLACES, "GeoLite2-City")


def once(cli, state, path, *more):
    """The alerts of one `watch --once` that ran (exit status 0 or 1)."""
    return test_watch.once(cli, state, path, more=more, codes=(0, 1))[1]


def logged(tmp_path, name, *logins, sender=None):
    """A log of (ip, when) logins of USER."""
    log = MailLog()
    for ip, when in logins:
        log.login(USER, ip, when, sender=sender)
    return log.write(tmp_path / name)


def japan(days=40):
    return [(HOME if day % 2 else OFFICE, at(day, 9)) for day in range(days)]


def test_countries_and_travel_across_runs(tmp_path, cli, geoip):
    state = tmp_path / "state.sqlite"
    first = logged(tmp_path, "maillog", (OFFICE, at(0, 9)), (KR, at(0, 10)))
    assert once(cli, state, first, "--geoip", geoip) == []  # travel alone: weak
    with open(first, "a") as log, open(logged(tmp_path, "more", (US, at(0, 11)),
                                              (BR, at(0, 12)))) as more:
        log.write(more.read())
    alerts = once(cli, state, first, "--geoip", geoip)
    assert [alert["signals"] for alert in alerts] == [["countries", "travel"]]
    assert alerts[0]["severity"] == "high"
    assert alerts[0]["reasons"][0].startswith(
        "countries: 4 countries within 24h up to 2026-01-05T12:00+09:00: JP (first "
        "2026-01-05T09:00+09:00 from 192.0.2.10), KR")


def test_once_across_appends_raises_what_the_batch_report_finds_with_geoip(tmp_path, cli,
                                                                          report):
    options = ("--geoip", SAMPLE_LOGS / "geoip" / "sample-City.mmdb", "--geoip",
               SAMPLE_LOGS / "geoip" / "sample-ASN.mmdb", "--sender-mismatch", "3")
    data = (SAMPLE_LOGS / "maillog-sample.log").read_bytes()
    log, alerts, previous = tmp_path / "maillog", [], 0
    log.write_bytes(b"")
    for cut in cuts(data, 5, seed=3):
        with open(log, "ab") as out:
            out.write(data[previous:cut])
        previous = cut
        alerts += once(cli, tmp_path / "state.sqlite", log, *options)
    batch = {row["user"]: set(row["signals"]) for row in report("suspicious", log, *options)}
    assert any("countries" in signals for signals in batch.values())
    assert any("sender-mismatch" in signals for signals in batch.values())
    assert raised(alerts) == batch


def test_max_countries_and_travel_speed_are_used(tmp_path, cli, geoip):
    path = logged(tmp_path, "maillog", (OFFICE, at(0, 9)), (KR, at(0, 10)), (US, at(0, 11)),
                  (BR, at(0, 12)))
    limits = ("--max-countries", "4", "--travel-speed", "20000")
    assert once(cli, tmp_path / "s.sqlite", path, "--geoip", geoip, *limits) == []
    alerts = once(cli, tmp_path / "t.sqlite", path, "--geoip", geoip, "--max-countries", "4")
    assert alerts == []  # travel: weak, alone
    alerts = once(cli, tmp_path / "u.sqlite", path, "--geoip", geoip, "--travel-speed", "20000")
    assert [alert["signals"] for alert in alerts] == [["countries"]]


def test_sender_mismatch_across_runs(tmp_path, cli):
    state = tmp_path / "state.sqlite"
    log = MailLog()
    for number in range(2):
        log.login(USER, HOME, at(0, 9 + number), sender=f"info{number}@example.jp")
    path = log.write(tmp_path / "maillog")
    assert once(cli, state, path, "--sender-mismatch", "3") == []
    log.login(USER, HOME, at(0, 12), sender="sales@example.jp")
    log.write(path)
    alerts = once(cli, state, path, "--sender-mismatch", "3")
    assert [(alert["signals"], alert["severity"]) for alert in alerts] == [
        (["sender-mismatch"], "high")]
    assert "3 envelope senders other than the login" in alerts[0]["reasons"][0]


@pytest.mark.parametrize("with_database_before", [True, False])
def test_new_country_against_the_history_in_the_state(tmp_path, cli, report, geoip,
                                                      with_database_before):
    state = tmp_path / "state.sqlite"
    old = logged(tmp_path, "maillog-2025", *japan())
    before = ("--geoip", geoip) if with_database_before else ("--no-geoip",)
    assert once(cli, state, old, *before) == []
    os.unlink(old)  # the months of history are in no log any more
    path = logged(tmp_path, "maillog", (KR, at(45, 9)))
    assert report("suspicious", path, "--geoip", geoip) == []
    alerts = once(cli, state, path, "--geoip", geoip)
    assert [alert["signals"] for alert in alerts] == [["new-network", "new-country"]]
    assert alerts[0]["severity"] == "high"  # new-network strong, new-country the same fact
    assert alerts[0]["reasons"][1] == (
        "new country: login from 203.0.113.5 (KR) at 2026-02-19T09:00+09:00: KR is not among "
        "the countries of the account's history since 2026-01-05T09:00+09:00 (JP)")
    held = cli("state", "--state", state, "--format", "json").json()
    assert held["accounts"][0]["countries"] == ["JP", "KR"]
    assert cli("state", "--state", state, "--forget", USER).code == 0
    held = cli("state", "--state", state, "--format", "json").json()
    assert held["accounts"] == [] and State.open(
        str(state), watch.engine_format(), lock=False).countries() == {}


def test_allowed_logins_stay_out_of_the_countries(tmp_path, cli, geoip):
    state = tmp_path / "state.sqlite"
    path = logged(tmp_path, "maillog", *japan(), (KR, at(45, 9)))
    alerts = once(cli, state, path, "--geoip", geoip, "--allow-country", "KR")
    assert alerts == []
    assert cli("state", "--state", state, "--format", "json").json()["accounts"][0][
        "countries"] == ["JP"]


def test_what_watch_cannot_use_is_one_line_exit_2(tmp_path, cli):
    path = logged(tmp_path, "maillog", (HOME, at(0, 9)))
    for more, said in [(("--geoip", tmp_path / "none.mmdb"), "--geoip: "),
                       (("--allow-country", "KR"), "--allow-country needs a Country or City"),
                       (("--geoip", path, "--no-geoip"), "--no-geoip and --geoip")]:
        result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", *more, path)
        assert result.code == 2 and result.out == "", more
        assert result.err.startswith("maillog-sasl watch: " + said), result.err
        assert result.err.count("\n") == 1, result.err


# -- the state of the schema before ----------------------------------------------------------

def schema_1(cli, tmp_path):
    """A state as the version before wrote it (schema 1, no countries table, engine format
    1), holding the history of japan() and a message still deferred."""
    state = tmp_path / "state.sqlite"
    log = MailLog()
    for ip, when in japan():
        log.login(USER, ip, when)
    log.login(USER, HOME, at(40, 9), outcomes={"deferred": 2})
    old = log.write(tmp_path / "maillog-2025")
    assert once(cli, state, old) == []
    tamper(state, "DROP TABLE countries", "UPDATE meta SET value = '1' WHERE key = 'schema'",
           ("UPDATE engine SET format = ?", watch.older_formats()[:1]))
    os.unlink(old)
    return state


def tables_and_schema(state):
    db = sqlite3.connect(state)
    try:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return tables, dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def test_a_state_of_schema_1_is_migrated_keeping_history_and_engine(tmp_path, cli, geoip):
    state = schema_1(cli, tmp_path)
    shown = cli("state", "--state", state, "--format", "json")  # read-only: read as it is
    assert shown.code == 0 and shown.json()["accounts"][0]["logins"] == 41
    assert tables_and_schema(state)[1]["schema"] == "1"
    path = logged(tmp_path, "maillog", (KR, at(45, 9)))
    alerts = once(cli, state, path, "--geoip", geoip)
    assert [alert["signals"] for alert in alerts] == [["new-network", "new-country"]]
    assert alerts[0]["deferred"] == 2 and len(alerts[0]["queue_ids"]) == 1  # the engine kept
    tables, meta = tables_and_schema(state)
    assert "countries" in tables and meta["schema"] == str(state_module.SCHEMA)
    assert meta["migrated"].startswith("from schema 1 by maillog-sasl ")
    opened = State.open(str(state), watch.engine_format(), lock=False)
    assert opened.engine_format == watch.engine_format()  # stored in this version's format
    opened.close()


@pytest.mark.parametrize("damage", [
    f"UPDATE meta SET value = '{state_module.SCHEMA + 1}' WHERE key = 'schema'",  # a newer one's
    "UPDATE engine SET data = x'8005'",                  # an engine that cannot be read
    "UPDATE engine SET format = '0-0'",                  # an engine of another format
])
def test_a_state_that_cannot_be_migrated_is_refused_in_one_line_and_kept(tmp_path, cli, damage):
    state = schema_1(cli, tmp_path)
    tamper(state, damage)
    content = state.read_bytes()
    path = logged(tmp_path, "maillog", (KR, at(45, 9)))
    result = cli("watch", "--once", "--state", state, path)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"maillog-sasl watch: {state}: ") and result.err.count("\n") == 1
    assert state.read_bytes() == content


def test_a_corrupt_state_is_still_refused_with_exit_2(tmp_path, cli):
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    os.chmod(state, 0o600)
    result = cli("watch", "--once", "--state", state, logged(tmp_path, "maillog",
                                                             (HOME, at(0, 9))))
    assert (result.code, result.out) == (2, "")
    assert "not a maillog-sasl state, or damaged" in result.err and result.err.count("\n") == 1
    assert state.read_bytes() == b"SQLite format 3\x00" + b"\x07" * 5000
