"""pairs: which accounts logged in from which IPs and networks, for a whole log, kept on disk.

SUMMARY
    PairStore()                               a private temporary SQLite database
    store.login(account, ip, when)            a login of `account` from `ip` at `when`
    store.network(account, network, when, ip) the same, seen as a login from `network`
    store.provider_day(account, block, day)   a login from a provider's block on that date
    store.ips_per_account() -> Counter        account -> how many IPs it logged in from
    store.network_counts() -> Counter         account -> how many networks
    store.networks_of(account) -> {network: (first login from it, the IP of that login)}
    store.shared_ips(accounts) -> iterator of (ip, {account: its first login from ip}) for
                                  the IPs that at least `accounts` accounts logged in from
    store.days_in(account, block) -> on how many days the account logged in from the block
    store.close()

DESCRIPTION
    A log of months meets tens of thousands of (account, IP) and (account, network) pairs, and
    the incident rules ask about all of them at the end: the `ips` and `networks` counts, the
    shared-ip and new-network rules, and the days of each (account, provider block) that tell a
    NAT from a shared IP. Everything else the reports keep is bounded by the accounts
    or by a window of days; these pairs alone grow with the length of the log. So they live in
    SQLite (Python's own sqlite3), in a temporary database that SQLite keeps in a file of its
    temporary directory once it outgrows a page cache of CACHE_KIB, and deletes when closed.

    A pair keeps the earliest login only, whatever order the logins come in. Logins are gathered
    in a dict and written BUFFERED at a time, one executemany each; a login from a pair already
    in the dict costs one dict lookup. Times are stored as microseconds since the epoch and the
    UTC offset they were logged with, and come back as the same aware datetimes.

DIAGNOSTICS
    sqlite3.Error when SQLite cannot write its temporary file (no writable temporary
    directory, disk full); the command line reports it in one line.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections import Counter
from typing import Dict, Iterator, Tuple

from maillog_sasl.syslog import fixed_zone

BUFFERED = 2_000
CACHE_KIB = 256
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
_SECOND = _dt.timedelta(seconds=1)

_SCHEMA = """
CREATE TABLE logins (account TEXT, ip TEXT, first INTEGER, offset INTEGER,
                     PRIMARY KEY (account, ip)) WITHOUT ROWID;
CREATE TABLE networks (account TEXT, network TEXT, first INTEGER, offset INTEGER, ip TEXT,
                       PRIMARY KEY (account, network)) WITHOUT ROWID;
CREATE TABLE provider_days (account TEXT, block TEXT, day INTEGER,
                            PRIMARY KEY (account, block, day)) WITHOUT ROWID;
"""
# INSERT OR IGNORE, then UPDATE where earlier: the same as an upsert, on SQLite before 3.24 too.
_WRITES = {
    "logins": ("INSERT OR IGNORE INTO logins VALUES (:account, :key, :first, :offset)",
               "UPDATE logins SET first = :first, offset = :offset "
               "WHERE account = :account AND ip = :key AND first > :first"),
    "networks": ("INSERT OR IGNORE INTO networks VALUES (:account, :key, :first, :offset, :ip)",
                 "UPDATE networks SET first = :first, offset = :offset, ip = :ip "
                 "WHERE account = :account AND network = :key AND first > :first"),
}


def _encode(when: _dt.datetime) -> Tuple[int, int]:
    return (when - _EPOCH) // _MICROSECOND, when.utcoffset() // _SECOND


def _decode(micros: int, offset: int) -> _dt.datetime:
    zone = fixed_zone(_dt.timedelta(seconds=offset))
    return (_EPOCH + _dt.timedelta(microseconds=micros)).astimezone(zone)


class PairStore:
    """See the module docstring."""

    def __init__(self):
        # "": a private database that SQLite deletes on close; it stays in memory up to the
        # cache size, and no journal is needed for data nobody reads after a crash.
        self._db = sqlite3.connect("")
        self._db.executescript(f"PRAGMA cache_size = -{CACHE_KIB}; PRAGMA journal_mode = OFF;"
                               f"PRAGMA synchronous = OFF; {_SCHEMA}")
        self._logins: Dict[tuple, _dt.datetime] = {}  # (account, ip) -> first login
        self._networks: Dict[tuple, tuple] = {}  # (account, network) -> (first login, ip)
        self._days: set = set()  # (account, block, date's ordinal)

    def login(self, account: str, ip: str, when: _dt.datetime) -> None:
        key = (account, ip)
        first = self._logins.get(key)
        if first is None or when < first:
            self._logins[key] = when
            if len(self._logins) >= BUFFERED:
                self._flush()

    def network(self, account: str, network: str, when: _dt.datetime, ip: str) -> None:
        key = (account, network)
        first = self._networks.get(key)
        if first is None or when < first[0]:
            self._networks[key] = (when, ip)
            if len(self._networks) >= BUFFERED:
                self._flush()

    def provider_day(self, account: str, block: str, day: _dt.date) -> None:
        self._days.add((account, block, day.toordinal()))
        if len(self._days) >= BUFFERED:
            self._flush()

    def days_in(self, account: str, block: str) -> int:
        self._flush()
        return self._db.execute("SELECT COUNT(*) FROM provider_days WHERE account = ? AND block = ?",
                                (account, block)).fetchone()[0]

    def ips_per_account(self) -> Counter:
        return self._counts("SELECT account, COUNT(*) FROM logins GROUP BY account")

    def network_counts(self) -> Counter:
        return self._counts("SELECT account, COUNT(*) FROM networks GROUP BY account")

    def networks_of(self, account: str) -> Dict[str, tuple]:
        self._flush()
        rows = self._db.execute("SELECT network, first, offset, ip FROM networks "
                                "WHERE account = ?", (account,))
        return {network: (_decode(first, offset), ip) for network, first, offset, ip in rows}

    def shared_ips(self, accounts: int) -> Iterator[Tuple[str, Dict[str, _dt.datetime]]]:
        self._flush()
        rows = self._db.execute(
            "SELECT ip, account, first, offset FROM logins WHERE ip IN "
            "(SELECT ip FROM logins GROUP BY ip HAVING COUNT(*) >= ?) ORDER BY ip, account",
            (accounts,))
        current, found = None, {}
        for ip, account, first, offset in rows:
            if ip != current:
                if found:
                    yield current, found
                current, found = ip, {}
            found[account] = _decode(first, offset)
        if found:
            yield current, found

    def close(self) -> None:
        self._db.close()

    def _counts(self, query: str) -> Counter:
        self._flush()
        return Counter(dict(self._db.execute(query)))

    def _flush(self) -> None:
        batches = (("logins", [(key, when, None) for key, when in self._logins.items()]),
                   ("networks", [(key, when, ip) for key, (when, ip) in self._networks.items()]))
        for table, pairs in batches:
            if not pairs:
                continue
            rows = []
            for (account, key), when, ip in pairs:
                first, offset = _encode(when)
                rows.append({"account": account, "key": key, "first": first, "offset": offset,
                             "ip": ip})
            insert, update = _WRITES[table]
            with self._db:
                self._db.executemany(insert, rows)
                self._db.executemany(update, rows)
        if self._days:
            with self._db:
                self._db.executemany("INSERT OR IGNORE INTO provider_days VALUES (?, ?, ?)",
                                     self._days)
        self._logins.clear()
        self._networks.clear()
        self._days.clear()
