"""Where from: GeoIP databases read by their metadata, the columns they add, --country/--asn,
the location and sender signals at their edges, the allow-lists; and nothing changed without a
database. The databases are built here (tests/geoip_writer.py), never the machine's."""

import json
import pickle

import pytest

from maillog_sasl import analyze, enrich
from maillog_sasl.cli import main
from maillog_sasl.filters import FilterError, Selection
from maillog_sasl.incident import Thresholds, assess, watch
from maillog_sasl.reports import (
    FAILURES_BY_USER_COLUMNS,
    FAILURES_COLUMNS,
    IPS_COLUMNS,
    SESSIONS_COLUMNS,
    TIMELINE_COLUMNS,
    USERS_COLUMNS,
)

from geoip_writer import asn, city, country, write_database
from maillog_writer import MailLog, at

TOKYO = (35.68, 139.69)
OSAKA = (34.69, 135.50)
SEOUL = (37.57, 126.98)
# Documentation and benchmarking space, placed where each test needs it.
JP_OFFICE, JP_HOME, JP_MOBILE = "192.0.2.0/24", "198.51.100.0/24", "198.18.0.0/16"
PLACES = {
    JP_OFFICE: ("JP", TOKYO, 64496, "Office NAT"),
    JP_HOME: ("JP", OSAKA, 64497, "Home ISP"),
    JP_MOBILE: ("JP", TOKYO, 64498, "Mobile Carrier"),
    "203.0.113.0/26": ("KR", SEOUL, 64499, "Seoul Telecom"),
    "203.0.113.64/26": ("US", (38.90, -77.04), 64500, "US Hosting"),
    "203.0.113.128/26": ("BR", (-15.79, -47.88), 64501, "BR Hosting"),
    "203.0.113.192/26": ("RU", (55.75, 37.62), 64502, "RU Hosting"),
    "198.19.0.0/24": ("NG", (6.52, 3.38), 64503, "NG Hosting"),
    "198.19.1.0/24": ("IN", (28.61, 77.21), 64504, "IN Hosting"),
    "198.19.2.0/24": ("VPN", None, 64505, "Example VPN"),  # no country: a VPN's exit
    "2001:db8:1::/48": ("DE", (52.52, 13.40), 64506, "DE Hosting"),
}
OFFICE, HOME, PHONE = "192.0.2.10", "198.51.100.7", "198.18.5.9"
KR, US, BR, RU, NG, IN = ("203.0.113.5", "203.0.113.70", "203.0.113.130", "203.0.113.200",
                          "198.19.0.9", "198.19.1.9")


@pytest.fixture
def databases(tmp_path):
    """(City file, ASN file) of PLACES."""
    cities, numbers = {}, {}
    for network, (code, where, number, name) in PLACES.items():
        if where is not None:
            cities[network] = city(code, *where)
        numbers[network] = asn(number, name)
    return (write_database(tmp_path / "c.mmdb", cities, "GeoLite2-City"),
            write_database(tmp_path / "a.mmdb", numbers, "GeoLite2-ASN"))


@pytest.fixture
def geo(databases):
    found = enrich.open_geo(databases)
    yield found
    found.close()


def run(*args):
    """(exit status, stdout, stderr) of the command line, in-process."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def rows_of(*args):
    code, out, err = run("--format", "json", "--tz", "UTC", *args)
    assert code == 0, err
    return json.loads(out)


def verdicts(log: MailLog, tmp_path, geo=None, allow=None, **limits):
    analysis = analyze([log.write(tmp_path / "maillog")])
    options = {"thresholds": Thresholds(**limits), "geo": geo,
               "allow": allow}
    return assess(watch(analysis, Selection(), options), options["thresholds"])


def fired(log, tmp_path, user, geo=None, **options) -> dict:
    return {signal.name: signal.reason
            for signal in verdicts(log, tmp_path, geo, **options)[user].signals}


# -- the databases ----------------------------------------------------------------------------

@pytest.mark.parametrize("database_type, kinds", [
    ("GeoLite2-Country", {"country"}), ("GeoIP2-Country", {"country"}),
    ("GeoLite2-City", {"country", "location"}), ("GeoIP2-City", {"country", "location"}),
    ("GeoLite2-ASN", {"asn"}), ("GeoIP2-ISP", {"asn"}),
    ("GeoIP2-Enterprise", {"country", "location", "asn"}),
    ("DBIP-Country-Lite", {"country"}), ("DBIP-City-Lite", {"country", "location"}),
    ("DBIP-ASN-Lite", {"asn"}),
    ("GeoIP2-Anonymous-IP", set()), ("GeoIP2-Connection-Type", set()), ("GeoIP2-Domain", set()),
])
def test_kinds_come_from_the_database_type(database_type, kinds):
    assert enrich.kinds_of(database_type) == kinds


def test_the_type_is_read_from_the_metadata_never_from_the_name(tmp_path):
    named_city = write_database(tmp_path / "GeoLite2-City.mmdb", {JP_OFFICE: country("JP")},
                                "GeoLite2-Country")
    named_country = write_database(tmp_path / "GeoLite2-Country.mmdb",
                                   {JP_OFFICE: asn(64496, "Office")}, "GeoLite2-ASN")
    geo = enrich.open_geo([named_city, named_country])
    assert geo.kinds == {"country", "asn"}
    assert geo.lookup(OFFICE) == enrich.Place("JP", 64496, "Office")
    geo.close()


def test_a_file_that_is_no_database_or_of_another_type_is_one_line_exit_2(tmp_path, monkeypatch):
    log = MailLog()
    log.login("a@example.jp", OFFICE, at(0, 9))
    path = log.write(tmp_path / "maillog")
    text = tmp_path / "GeoLite2-City.mmdb"
    text.write_text("not a database\n")
    anonymous = write_database(tmp_path / "anon.mmdb", {JP_OFFICE: {"is_anonymous": True}},
                               "GeoIP2-Anonymous-IP")
    for bad, words in ((text, "cannot read it as a MaxMind DB file"),
                       (tmp_path / "missing.mmdb", "cannot read it as a MaxMind DB file"),
                       (anonymous, "a 'GeoIP2-Anonymous-IP' database, none of Country, City, ASN")):
        code, out, err = run("--geoip", bad, path)
        assert (code, out) == (2, "")
        assert err.startswith(f"maillog-sasl: --geoip: {bad}: {words}")
        assert err.count("\n") == 1 and "Traceback" not in err


def test_lookups(geo, tmp_path):
    assert geo.lookup(OFFICE) == enrich.Place("JP", 64496, "Office NAT", *TOKYO, 20.0)
    # What a dual-stack smtpd logs for an IPv4 client is looked up as that IPv4 address.
    assert geo.lookup("::ffff:192.0.2.10") == geo.lookup(OFFICE)
    assert geo.lookup("2001:db8:1::7").country == "DE"
    # A VPN's exit: an ASN and no place.
    assert geo.lookup("198.19.2.1") == enrich.Place("", 64505, "Example VPN")
    for nowhere in ("10.0.0.1", "unknown", "", "2001:db8:2::1"):
        assert geo.lookup(nowhere) is enrich.NOWHERE
    # An IPv4-only file asked about IPv6: nothing known, no error.
    v4 = enrich.open_geo([write_database(tmp_path / "v4.mmdb", {JP_OFFICE: country("JP")},
                                         "DBIP-Country-Lite", ip_version=4)])
    assert v4.lookup("2001:db8:1::7") is enrich.NOWHERE
    assert v4.lookup("::ffff:192.0.2.10").country == "JP"
    v4.close()


def test_first_file_answers_first_and_registered_country_and_dbip_radius(tmp_path):
    first = write_database(tmp_path / "1.mmdb", {JP_OFFICE: {"registered_country": {
        "iso_code": "jp"}}}, "GeoIP2-Country")
    second = write_database(tmp_path / "2.mmdb", {
        "192.0.2.0/25": {"country": {"iso_code": "US"},
                         "location": {"latitude": 1.0, "longitude": 2.0}}}, "DBIP-City-Lite")
    geo = enrich.open_geo([first, second])
    # Country from the first file (its registered country), the place from the second, with
    # the radius of a city where DB-IP gives none.
    assert geo.lookup(OFFICE) == enrich.Place("JP", None, "", 1.0, 2.0,
                                              enrich.DEFAULT_RADIUS_KM)
    assert geo.lookup("192.0.2.200") == enrich.Place("JP")
    geo.close()


def test_well_known_directories_city_first_others_skipped(tmp_path, monkeypatch):
    one, two = tmp_path / "usr-share-GeoIP", tmp_path / "var-lib-GeoIP"
    one.mkdir()
    two.mkdir()
    write_database(one / "GeoLite2-ASN.mmdb", {JP_OFFICE: asn(1, "x")}, "GeoLite2-ASN")
    write_database(one / "GeoLite2-Country.mmdb", {JP_OFFICE: country("JP")}, "GeoLite2-Country")
    write_database(two / "dbip-city-lite.mmdb", {JP_OFFICE: city("JP", *TOKYO)}, "DBIP-City-Lite")
    write_database(two / "GeoIP2-Anonymous-IP.mmdb", {JP_OFFICE: {"is_anonymous": True}},
                   "GeoIP2-Anonymous-IP")
    (two / "broken.mmdb").write_bytes(b"\0" * 100)
    (two / "README").write_text("not a database")
    paths, problems = enrich.find_databases([str(one), str(two), str(tmp_path / "missing")])
    assert paths == [str(two / "dbip-city-lite.mmdb"), str(one / "GeoLite2-Country.mmdb"),
                     str(one / "GeoLite2-ASN.mmdb")]
    assert problems == [f"{two / 'broken.mmdb'}: cannot read it as a MaxMind DB file: "
                        + problems[0].split("MaxMind DB file: ", 1)[1]]
    monkeypatch.setenv(enrich.DIRS_VARIABLE, f"{one}:{two}")
    assert enrich.search_directories() == [str(one), str(two)]
    monkeypatch.setenv(enrich.DIRS_VARIABLE, "")
    assert enrich.search_directories() == []
    monkeypatch.delenv(enrich.DIRS_VARIABLE)
    assert enrich.search_directories() == ["/usr/share/GeoIP", "/var/lib/GeoIP"]


def test_the_cli_uses_the_well_known_files_unless_told_not_to(tmp_path, monkeypatch, databases):
    log = MailLog()
    log.login("a@example.jp", OFFICE, at(0, 9))
    path = log.write(tmp_path / "maillog")
    known = tmp_path / "GeoIP"
    known.mkdir()
    (known / "GeoLite2-City.mmdb").write_bytes(open(databases[0], "rb").read())
    (known / "damaged.mmdb").write_text("x")
    # The tests' own default (conftest): no directory, so the machine's files never leak in.
    bare = run("--tz", "UTC", path)
    monkeypatch.setenv(enrich.DIRS_VARIABLE, str(known))
    code, out, err = run("--tz", "UTC", "-f", "csv", path)
    assert code == 0
    assert out.splitlines()[0].endswith(",flags,countries,asns")
    assert err == f"maillog-sasl: {known / 'damaged.mmdb'}: cannot read it as a MaxMind DB " \
        f"file: {err.split('MaxMind DB file: ', 1)[1].split(';')[0]}; not used\n"
    assert run("--tz", "UTC", "--no-geoip", path) == bare
    code, _, err = run("--no-geoip", "--geoip", databases[0], path)
    assert code == 2 and "--no-geoip and --geoip" in err


# -- without a database -----------------------------------------------------------------------

REPORTS = [("users",), ("sessions",), ("sessions", "--all"), ("messages",), ("ips",),
           ("failures",), ("failures", "--by", "user"), ("suspicious",), ("timeline",),
           ("queue",)]


def test_without_a_database_the_columns_are_those_of_before(tmp_path):
    log = MailLog()
    log.login("a@example.jp", OFFICE, at(0, 9))
    log.failures(US, at(0, 8), ["a@example.jp"])
    path = log.write(tmp_path / "maillog")
    before = {"users": USERS_COLUMNS, "sessions": SESSIONS_COLUMNS, "ips": IPS_COLUMNS,
              "failures": FAILURES_COLUMNS, "timeline": TIMELINE_COLUMNS}
    for name, columns in before.items():
        code, out, _ = run("--report", name, "--format", "csv", "--tz", "UTC", path)
        assert out.splitlines()[0] == ",".join(columns)
    code, out, _ = run("--report", "failures", "--by", "user", "-f", "csv", path)
    assert out.splitlines()[0] == ",".join(FAILURES_BY_USER_COLUMNS)
    code, _, err = run("--columns", "user,countries", path)
    assert code == 2 and "unknown column 'countries'" in err


def test_country_and_asn_options_need_a_database_of_their_kind(tmp_path, databases):
    path = MailLog().write(tmp_path / "maillog")
    for option in ("--country", "--allow-country"):
        code, _, err = run(option, "JP", path)
        assert code == 2
        assert f"{option} needs a Country or City database (--geoip PATH): none is loaded" in err
    code, _, err = run("--asn", "64496", "--geoip", databases[0], path)
    assert code == 2
    assert f"--asn needs an ASN database (--geoip PATH): {databases[0]} is of no such kind" in err
    for option, value, words in (("--country", "JPN", "not a country code: 'JPN'"),
                                 ("--asn", "ASX", "not an autonomous system number: 'ASX'"),
                                 ("--allow-asn", "-1", "not an autonomous system number"),
                                 ("--allow-ip", "10.0.0.300", "--allow-ip: not an IP address")):
        code, _, err = run(option, value, *databases and ("--geoip", databases[0], "--geoip",
                                                          databases[1]), path)
        assert code == 2 and words in err, err


# -- the columns --------------------------------------------------------------------------------

def test_columns_with_a_database(tmp_path, databases):
    log = MailLog()
    for day in range(3):
        log.login("a@example.jp", OFFICE, at(day, 9))
    log.login("a@example.jp", "::ffff:198.51.100.7", at(1, 20))
    log.login("a@example.jp", KR, at(2, 20))
    log.login("b@example.jp", "10.1.2.3", at(0, 9))
    log.failures(US, at(0, 8), ["a@example.jp", "root"])
    log.failures(US, at(0, 9), ["a@example.jp"])
    log.failures(BR, at(0, 10), ["a@example.jp"])
    path = log.write(tmp_path / "maillog")
    geo = ("--geoip", databases[0], "--geoip", databases[1])
    users = {row["user"]: row for row in rows_of("--report", "users", *geo, path)}
    assert users["a@example.jp"]["countries"] == ["JP", "KR"]  # most logins first
    assert users["a@example.jp"]["asns"] == [64496, 64497, 64499]
    assert users["b@example.jp"]["countries"] == [] and users["b@example.jp"]["asns"] == []
    ips = {row["client_ip"]: row for row in rows_of("--report", "ips", *geo, path)}
    assert (ips[KR]["country"], ips[KR]["asn"], ips[KR]["as_org"]) == ("KR", 64499,
                                                                       "Seoul Telecom")
    assert ips["::ffff:198.51.100.7"]["country"] == "JP"
    assert (ips["10.1.2.3"]["country"], ips["10.1.2.3"]["asn"]) == ("", None)
    sessions = rows_of("--report", "sessions", *geo, path)
    assert {(row["client_ip"], row["country"], row["asn"]) for row in sessions} >= {
        (OFFICE, "JP", 64496), (KR, "KR", 64499)}
    failures = {row["client_ip"]: row for row in rows_of("--report", "failures", *geo, path)}
    assert (failures[US]["country"], failures[US]["asn"]) == ("US", 64500)
    by_user = {row["user"]: row for row in rows_of("-r", "failures", "--by", "user", *geo, path)}
    assert by_user["a@example.jp"]["countries"] == ["US", "BR"]  # most attempts first
    assert by_user["a@example.jp"]["asns"] == [64500, 64501]
    timeline = rows_of("--report", "timeline", "--user", "a@example.jp", *geo, path)
    assert [row["new_ips"] for row in timeline if row["new_ips"]] == [
        [f"{OFFICE} (JP)"], ["::ffff:198.51.100.7 (JP)"], [f"{KR} (KR)"]]
    code, out, _ = run("-f", "csv", "--columns", "user,countries,asns", *geo, path)
    assert out.splitlines()[:2] == ["user,countries,asns", 'a@example.jp,"JP, KR","64496, 64497, 64499"']
    # A City file alone: countries, and no ASN.
    alone = {row["user"]: row for row in rows_of("--geoip", databases[0], path)}
    assert alone["a@example.jp"]["asns"] == []


def test_country_and_asn_filters_and_ip_matches_mapped_addresses(tmp_path, databases):
    log = MailLog()
    log.login("a@example.jp", OFFICE, at(0, 9))
    log.login("b@example.jp", "::ffff:198.51.100.7", at(0, 10))
    log.login("c@example.jp", KR, at(0, 11))
    log.login("d@example.jp", US, at(0, 12))
    path = log.write(tmp_path / "maillog")
    geo = ("--geoip", databases[0], "--geoip", databases[1])

    def users(*args):
        return sorted(row["user"] for row in rows_of("-r", "users", *geo, *args, path))

    assert users("--country", "jp") == ["a@example.jp", "b@example.jp"]
    assert users("--country", "KR", "--country", "US") == ["c@example.jp", "d@example.jp"]
    assert users("--asn", "AS64497") == ["b@example.jp"]
    assert users("--country", "JP", "--asn", "64499") == []
    assert users("--country", "JP", "--ip", "198.51.100.0/24") == ["b@example.jp"]
    # --ip matches an IPv4-mapped client by its IPv4 address, and the other way round.
    assert sorted(row["user"] for row in rows_of("--ip", "198.51.100.0/24", path)) == [
        "b@example.jp"]
    assert sorted(row["user"] for row in rows_of("--ip", "::ffff:192.0.2.0/120", path)) == [
        "a@example.jp"]
    code, out, _ = run("--tz", "UTC", "--width", "0", *geo, "--country", "NG", path)
    assert code == 0 and "(no rows: no client in --country NG)" in out
    assert "selected by --country NG:" in out.splitlines()[0]


def test_selection_parse_checks_countries_and_asns():
    selection = Selection.parse(countries=["jp"], asns=["AS64496"])
    assert selection.countries == {"JP"} and selection.asns == {64496}
    with pytest.raises(FilterError, match="not a country code"):
        Selection.parse(countries=["Japan"])
    # No database: a client filter by country matches nothing (the CLI refuses it before).
    assert not selection.ip(OFFICE)


# -- the signals at their edges -----------------------------------------------------------------

def test_countries_more_than_the_limit_within_the_window(tmp_path, geo):
    log = MailLog()
    for user in ("four@example.jp", "three@example.jp", "spread@example.jp"):
        log.login(user, OFFICE, at(0, 9))
    for hour, ip in enumerate((KR, US, BR)):
        log.login("four@example.jp", ip, at(0, 10 + hour))
        log.login("spread@example.jp", ip, at(1 + hour, 10))
    for hour, ip in enumerate((KR, US)):
        log.login("three@example.jp", ip, at(0, 10 + hour))
    reason = fired(log, tmp_path, "four@example.jp", geo)["countries"]
    assert reason == (
        "countries: 4 countries within 24h up to 2026-01-05T12:00+09:00: "
        "JP (first 2026-01-05T09:00+09:00 from 192.0.2.10), "
        "KR (first 2026-01-05T10:00+09:00 from 203.0.113.5), "
        "US (first 2026-01-05T11:00+09:00 from 203.0.113.70), "
        "BR (first 2026-01-05T12:00+09:00 from 203.0.113.130) (limit more than 3)")
    assert "countries" not in fired(log, tmp_path, "three@example.jp", geo)
    # Four countries over three days: never more than 3 (nor 2) within 24 hours.
    assert "countries" not in fired(log, tmp_path, "spread@example.jp", geo)
    assert "countries" not in fired(log, tmp_path, "four@example.jp", geo, max_countries=4)
    verdict = verdicts(log, tmp_path, geo)["four@example.jp"]
    assert verdict.severity == "high"  # a strong signal
    # No database: no location signal.
    assert "countries" not in fired(log, tmp_path, "four@example.jp")


def test_countries_reason_leads_with_the_busiest_window(tmp_path, geo):
    log = MailLog()
    for hour, ip in enumerate((OFFICE, KR, US, BR, RU, NG)):
        log.login("many@example.jp", ip, at(0, 10 + hour))
    reason = fired(log, tmp_path, "many@example.jp", geo)["countries"]
    assert reason.startswith("countries: 6 countries within 24h up to 2026-01-05T15:00+09:00: ")
    assert reason.endswith("(limit more than 3); first held with 4 countries within 24h up to "
                           "2026-01-05T13:00+09:00: JP KR US BR")


def test_new_country_after_the_baseline(tmp_path, geo):
    log = MailLog()
    log.login("a@example.jp", OFFICE, at(0, 0, 1))  # the log's first line: the baseline ends
    log.login("a@example.jp", KR, at(3, 9))          # 7 days later, at day 7 00:01
    log.login("a@example.jp", "203.0.113.71", at(7, 0, 1))  # US, at the cut: new
    log.login("a@example.jp", BR, at(8, 9))
    log.login("b@example.jp", HOME, at(0, 9))
    log.login("b@example.jp", US, at(7, 0, 0))      # US, just before the cut: known
    log.login("late@example.jp", PHONE, at(8, 9))   # no login in the baseline: silent
    log.login("late@example.jp", RU, at(9, 9))
    found = fired(log, tmp_path, "a@example.jp", geo)
    assert found["new-country"] == (
        "new country: login from 203.0.113.71 (US AS64500) at 2026-01-12T00:01+09:00: US is "
        "not among the countries of the 7-day baseline ending 2026-01-12T00:01+09:00 (JP KR); "
        "2 new countries in all: US BR")
    assert "new-country" not in fired(log, tmp_path, "b@example.jp", geo)
    assert "new-country" not in fired(log, tmp_path, "late@example.jp", geo)
    # One weak signal alone flags nobody.
    assert verdicts(log, tmp_path, geo)["a@example.jp"].severity == ""
    # A log no longer than the baseline: silent.
    assert "new-country" not in fired(log, tmp_path, "a@example.jp", geo, baseline_days=9.5)


def test_travel_above_the_speed_and_not_at_it(tmp_path, geo):
    seoul_tokyo = enrich.distance_km(enrich.Place("KR", None, "", *SEOUL),
                                     enrich.Place("JP", None, "", *TOKYO))
    assert 1150 < seoul_tokyo < 1170
    log = MailLog()
    # Tokyo -> Seoul, less both radii (20 km each): 1,113 km in 66 minutes or in 70.
    log.login("fast@example.jp", OFFICE, at(0, 9))
    log.login("fast@example.jp", KR, at(0, 10, 6))
    log.login("slow@example.jp", OFFICE, at(0, 9))
    log.login("slow@example.jp", KR, at(0, 11, 30))
    log.login("home@example.jp", OFFICE, at(0, 9))  # Tokyo -> Osaka in a minute: one country
    log.login("home@example.jp", HOME, at(0, 9, 1))
    reason = fired(log, tmp_path, "fast@example.jp", geo)["travel"]
    assert reason.startswith(
        "travel: 192.0.2.10 (JP AS64496) at 2026-01-05T09:00+09:00, then 203.0.113.5 (KR "
        "AS64499) at 2026-01-05T10:06+09:00: 1,113 km (accuracy radii taken off) in 66 min, "
        "1,011 km/h (limit 1000 km/h)")
    assert "travel" not in fired(log, tmp_path, "slow@example.jp", geo)
    assert "travel" not in fired(log, tmp_path, "home@example.jp", geo)
    assert "travel" in fired(log, tmp_path, "slow@example.jp", geo, travel_speed=400)
    # A VPN's ASN on the list: its logins are left out.
    allow = enrich.Allow(asns=[64499])
    assert "travel" not in fired(log, tmp_path, "fast@example.jp", geo, allow=allow)


def test_travel_edge_to_the_metre(tmp_path):
    # On the equator, 1 degree of longitude apart, no radius: exactly that distance.
    distance = 2 * enrich.EARTH_RADIUS_KM * 3.141592653589793 / 360
    places = {"203.0.113.0/25": city("AA", 0.0, 0.0, 0),
              "203.0.113.128/25": city("BB", 0.0, 1.0, 0)}
    geo = enrich.open_geo([write_database(tmp_path / "eq.mmdb", places)])
    log = MailLog()
    log.login("edge@example.jp", "203.0.113.1", at(0, 9))
    log.login("edge@example.jp", "203.0.113.129", at(0, 10))
    speed = round(distance, 3)
    assert "travel" not in fired(log, tmp_path, "edge@example.jp", geo, travel_speed=speed)
    assert "travel" in fired(log, tmp_path, "edge@example.jp", geo, travel_speed=speed - 0.01)
    # A Country file has no coordinates: no travel, whatever the speed.
    countries = enrich.open_geo([write_database(
        tmp_path / "cc.mmdb", {network: {"country": record["country"]}
                               for network, record in places.items()}, "GeoLite2-Country")])
    assert "travel" not in fired(log, tmp_path, "edge@example.jp", countries, travel_speed=1)
    geo.close()
    countries.close()


def test_sender_matches():
    matches = enrich.sender_matches
    assert matches("alice@example.com", "alice@example.com")
    assert matches("Alice@Example.com", "alice+lists@EXAMPLE.com")
    assert matches("alice", "alice@example.com") and matches("alice", "alice@other.example")
    assert matches("alice@example.com", "alice")
    assert matches("alice@example.com", "") and matches("alice@example.com", None)
    assert not matches("alice@example.com", "alice@example.org")
    assert not matches("alice@example.com", "info@example.com")
    assert not matches("alice", "bob@example.com")
    assert not matches("alice@example.com", "malice@example.com")


def test_sender_mismatch_is_off_by_default_and_counts_distinct_senders(tmp_path):
    log = MailLog()
    user = "spam@example.jp"
    for index, sender in enumerate(("x1@spam.test", "x2@spam.test", "x1@spam.test",
                                    "spam+tag@example.jp", "", "SPAM@example.jp")):
        log.login(user, OFFICE, at(0, 9, index), sender=sender)
    log.login("alias@example.jp", HOME, at(0, 9), sender="info@example.jp")
    assert "sender-mismatch" not in fired(log, tmp_path, user)
    reason = fired(log, tmp_path, user, sender_mismatch=2)["sender-mismatch"]
    assert reason == ("sender mismatch: 3 messages sent as 2 envelope senders other than the "
                      "login: x1@spam.test, x2@spam.test (limit 2 senders; the 2nd first used "
                      "at 2026-01-05T09:01+09:00)")
    assert "sender-mismatch" not in fired(log, tmp_path, user, sender_mismatch=3)
    assert "sender-mismatch" not in fired(log, tmp_path, "alias@example.jp", sender_mismatch=2)
    assert verdicts(log, tmp_path, sender_mismatch=2)[user].severity == "high"
    code, out, err = run("-r", "suspicious", "-f", "json", "--sender-mismatch", "2",
                         log.write(tmp_path / "maillog"))
    assert code == 0, err
    assert [row["signals"] for row in json.loads(out)] == [["sender-mismatch"]]


def test_allow_lists(tmp_path, geo):
    log = MailLog()
    for hour, ip in enumerate((OFFICE, KR, US, BR)):
        log.login("trip@example.jp", ip, at(0, 10 + hour))
    assert "countries" in fired(log, tmp_path, "trip@example.jp", geo)
    for allow in (enrich.Allow(countries=["KR"]), enrich.Allow(asns=[64500]),
                  enrich.Allow(networks=[enrich.client_network("203.0.113.128/26")])):
        assert "countries" not in fired(log, tmp_path, "trip@example.jp", geo, allow=allow)
    # --allow-ip needs no database, and takes an office NAT out of shared-ip.
    shared = MailLog()
    shared.login("one@example.jp", "203.0.113.9", at(0, 9))
    shared.login("two@example.jp", "203.0.113.9", at(0, 10))
    assert "shared-ip" in fired(shared, tmp_path, "one@example.jp")
    allow = enrich.Allow(networks=[enrich.client_network("::ffff:203.0.113.0/120")])
    assert "shared-ip" not in fired(shared, tmp_path, "one@example.jp", allow=allow)
    code, out, _ = run("-r", "users", "-f", "json", "--allow-ip", "203.0.113.0/24",
                       shared.write(tmp_path / "shared"))
    assert code == 0 and all(not row["flags"] for row in json.loads(out))


def test_enrichment_pickles_without_its_database(geo):
    enrichment = enrich.Enrichment(geo, None, Thresholds())
    enrichment.login("a@example.jp", KR, at(0, 9))
    copy = pickle.loads(pickle.dumps(enrichment))
    assert copy.geo is None and copy.accounts["a@example.jp"].first_country == {
        "KR": (at(0, 9), KR)}
    copy.attach(geo)
    assert copy.place(KR).country == "KR"


# -- done when ----------------------------------------------------------------------------------

USUAL = [f"user{number}@corp.example" for number in range(12)]
STOLEN = ["stolen1@corp.example", "stolen2@corp.example"]


def one_country_log() -> MailLog:
    """Two weeks of a Japanese office: the usual accounts log in from the office NAT, their
    homes and phones; one travels to Seoul for two days. Two stolen accounts log in from all
    over the world on day 10, at a rate no volume rule notices."""
    log = MailLog()
    for day in range(14):
        for number, user in enumerate(USUAL + STOLEN):
            if user == USUAL[0] and day in (10, 11):
                continue  # in Seoul
            if day % 7 < 5:
                log.login(user, OFFICE, at(day, 9, number))
            log.login(user, f"198.51.100.{number + 2}", at(day, 20, number), to=2)
            log.login(user, f"198.18.{number}.{day + 2}", at(day, 12, number))
    # The traveller: home in Tokyo the evening before, a hotel in Seoul for two days.
    log.login(USUAL[0], "203.0.113.9", at(10, 19))
    log.login(USUAL[0], "203.0.113.9", at(11, 9))
    abroad = [KR, US, BR, RU, NG, IN, "2001:db8:1::5"]
    for number, user in enumerate(STOLEN):
        for hour in range(12):
            ip = abroad[(hour + number) % len(abroad)]
            log.login(user, ip, at(10, 1 + hour, 30), to=3)
    return log


def test_done_when_compromised_accounts_are_flagged_by_country_and_no_other(tmp_path, databases):
    log = one_country_log()
    path = log.write(tmp_path / "maillog")
    geo = ("--geoip", databases[0], "--geoip", databases[1])
    suspicious = {row["user"]: row for row in rows_of("--report", "suspicious", *geo, path)}
    assert sorted(suspicious) == STOLEN
    for row in suspicious.values():
        assert {"countries", "new-country", "travel"} <= set(row["signals"])
        assert "burst" not in row["signals"] and "failing" not in row["signals"]
        assert row["severity"] in ("high", "critical")  # countries is a strong signal
    users = {row["user"]: row for row in rows_of("--report", "users", *geo, path)}
    assert [user for user, row in users.items() if row["flags"]] == STOLEN
    assert users[USUAL[0]]["countries"] == ["JP", "KR"]
    assert users[STOLEN[0]]["countries"][0] == "JP"
    # The traveller: a new country and a new network, one fact, one weak signal: not flagged.
    analysis = analyze([path])
    options = {"geo": enrich.open_geo(databases)}
    traveller = assess(watch(analysis, Selection(), options), Thresholds())[USUAL[0]]
    assert {signal.name for signal in traveller.signals} == {"new-network", "new-country"}
    assert traveller.severity == ""
    options["geo"].close()
    # Without a database the stolen accounts are only `medium` (hopping, new networks).
    assert {row["user"]: row["severity"] for row in rows_of("-r", "suspicious", path)} == {
        user: "medium" for user in STOLEN}
    # And every report, in every format, is the same as with the databases switched off.
    for report in REPORTS:
        for fmt in ("table", "csv", "json"):
            args = ("--report", *report, "--format", fmt, "--tz", "UTC", path)
            assert run(*args) == run("--no-geoip", *args)


def test_the_shipped_sample_databases_answer_what_geoip_writer_writes():
    from geoip_writer import CAPITALS, ROOT, sample_networks

    geo = enrich.open_geo([ROOT / "sample_logs/geoip/sample-City.mmdb",
                           ROOT / "sample_logs/geoip/sample-ASN.mmdb"])
    assert [database.database_type for database in geo.databases] == ["GeoLite2-City",
                                                                      "GeoLite2-ASN"]
    for network, (code, number, name) in sample_networks().items():
        address = network.split("/")[0].replace(".0.0.0", ".1.2.3").replace("::", "::1")
        assert geo.lookup(address) == enrich.Place(code, number, name, *CAPITALS[code], 50.0), \
            network
    geo.close()

