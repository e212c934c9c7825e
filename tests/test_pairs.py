"""The on-disk store of (account, IP) and (account, network) pairs: the earliest login of each,
whatever the order, across the writes the buffer makes, with the offset it was logged with."""

import datetime as dt

import pytest

from maillog_sasl import pairs
from maillog_sasl.pairs import PairStore

JST = dt.timezone(dt.timedelta(hours=9))
CET, CEST = dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=2))


def at(day, hour, zone=JST, microsecond=0):
    return dt.datetime(2026, 3, day, hour, 0, 0, microsecond, tzinfo=zone)


@pytest.fixture(params=[pairs.BUFFERED, 1], ids=["buffered", "written-each-time"])
def store(request, monkeypatch):
    monkeypatch.setattr(pairs, "BUFFERED", request.param)
    found = PairStore()
    yield found
    found.close()


def test_a_pair_keeps_its_earliest_login_whatever_the_order(store):
    store.login("ann@example.jp", "192.0.2.7", at(5, 9))
    store.login("ann@example.jp", "192.0.2.7", at(3, 9, microsecond=250))
    store.login("ann@example.jp", "192.0.2.7", at(4, 9))
    store.login("bob@example.jp", "192.0.2.7", at(6, 9))
    store.login("bob@example.jp", "198.51.100.1", at(1, 9))
    assert store.ips_per_account() == {"ann@example.jp": 1, "bob@example.jp": 2}
    shared = dict(store.shared_ips(2))
    assert shared == {"192.0.2.7": {"ann@example.jp": at(3, 9, microsecond=250),
                                    "bob@example.jp": at(6, 9)}}
    assert shared["192.0.2.7"]["ann@example.jp"].utcoffset() == dt.timedelta(hours=9)


def test_an_earlier_login_in_another_offset_wins_and_keeps_its_offset(store):
    # Instants are compared: 02:00 CEST is 01:00 CET, no earlier; 01:00 CEST is an hour before.
    store.network("cy@example.jp", "192.0.2.0/24", at(29, 1, CET), "192.0.2.1")
    store.network("cy@example.jp", "192.0.2.0/24", at(29, 2, CEST), "192.0.2.2")
    assert store.networks_of("cy@example.jp") == {"192.0.2.0/24": (at(29, 1, CET), "192.0.2.1")}
    store.network("cy@example.jp", "192.0.2.0/24", at(29, 1, CEST), "192.0.2.3")
    first, ip = store.networks_of("cy@example.jp")["192.0.2.0/24"]
    assert (first.isoformat(), ip) == ("2026-03-29T01:00:00+02:00", "192.0.2.3")
    assert store.network_counts() == {"cy@example.jp": 1}


def test_shared_ips_are_those_with_enough_accounts(store):
    for number, account in enumerate(["a", "b", "c"]):
        store.login(account, "203.0.113.9", at(1, number))
    store.login("a", "203.0.113.10", at(1, 5))
    store.login("b", "203.0.113.10", at(1, 6))
    store.login("c", "203.0.113.11", at(1, 7))
    assert [(ip, sorted(accounts)) for ip, accounts in store.shared_ips(3)] == [
        ("203.0.113.9", ["a", "b", "c"])]
    assert [ip for ip, _ in store.shared_ips(2)] == ["203.0.113.10", "203.0.113.9"]
    assert store.networks_of("nobody") == {}
    assert PairStore().ips_per_account() == {}


def test_days_in_a_provider_block_count_each_date_once(store):
    for day, hour in [(1, 9), (1, 17), (3, 9), (3, 9)]:
        store.provider_day("dee@example.jp", "192.0.0.0/16", at(day, hour).date())
    store.provider_day("dee@example.jp", "198.51.0.0/16", at(2, 9).date())
    assert store.days_in("dee@example.jp", "192.0.0.0/16") == 2
    assert store.days_in("dee@example.jp", "198.51.0.0/16") == 1
    assert store.days_in("eve@example.jp", "192.0.0.0/16") == 0


def test_without_a_writable_temporary_directory_the_pairs_stay_in_memory(monkeypatch):
    def no_directory():
        raise FileNotFoundError("No usable temporary directory found")

    opened = []
    connect = pairs.sqlite3.connect
    monkeypatch.setattr(pairs.tempfile, "gettempdir", no_directory)
    monkeypatch.setattr(pairs.sqlite3, "connect", lambda name: opened.append(name) or connect(name))
    store = PairStore()
    store.login("fay@example.jp", "192.0.2.8", at(1, 9))
    assert opened == [":memory:"] and store.ips_per_account() == {"fay@example.jp": 1}
