"""pairs: which accounts logged in from which IPs and networks, for a whole log, kept on disk.

SUMMARY
    PairStore()                               a private temporary SQLite database
    PairStore(db)                             the same tables in the open database `db`
    store.login(account, ip, when)            a login of `account` from `ip` at `when`
    store.network(account, network, when, ip) the same, seen as a login from `network`
    store.provider_day(account, block, day)   a login from a provider's block on that date
    store.ips_per_account() -> Counter        account -> how many IPs it logged in from
    store.network_counts() -> Counter         account -> how many networks
    store.networks_of(account) -> {network: (first login from it, the IP of that login)}
    store.shared_ips(accounts) -> iterator of (ip, {account: its first login from ip}) for
                                  the IPs that at least `accounts` accounts logged in from
    store.days_in(account, block) -> on how many days the account logged in from the block
    store.days_of(account) -> the dates the account logged in on (from any block), in order
    store.ips_of(account) -> {ip: first login of the account from it}
    store.accounts_of(ip) -> {account: its first login from ip}
    store.flush()                             write what the buffers hold
    store.forget(account)                     drop the account's pairs
    store.close()

DESCRIPTION
    A log of months meets tens of thousands of (account, IP) and (account, network) pairs, and
    the incident rules ask about all of them at the end: the `ips` and `networks` counts, the
    shared-ip and new-network rules, and the days of each (account, provider block) that tell a
    NAT from a shared IP. Everything else the reports keep is bounded by the accounts or by a
    window of days; these pairs alone grow as a longer log meets more people. So they live in
    SQLite (Python's own sqlite3), in a temporary database that SQLite keeps in a file of its
    temporary directory once it outgrows a page cache of CACHE_KIB, and deletes when closed.
    Where no temporary directory is writable, the database stays in memory.

    Reads give each pair's earliest login, whatever order the logins came in. Logins are
    gathered in a dict and written BUFFERED at a time, one executemany a table; a login from a
    pair already in the dict costs one dict lookup. Times are stored as microseconds since the
    epoch and the UTC offset they were logged with, and come back as the same aware datetimes.

    With `db` (an sqlite3 connection in autocommit mode, which `watch` keeps its state in), the
    tables and indexes are made there if missing and nothing here commits: the owner flushes
    and commits the pairs in the same transaction as the rest of its state. There each pair
    has one row (a unique index; a write keeps the earlier login), as such a store is kept
    and written to for months.

DIAGNOSTICS
    StoreError, with one readable sentence, when SQLite cannot write its temporary file (a full
    disk); no sqlite3 exception leaves this module.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
import tempfile
from collections import Counter
from typing import Dict, Iterator, List, Optional, Tuple

from maillog_sasl.syslog import fixed_zone

BUFFERED = 2_000
CACHE_KIB = 256
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
_SECOND = _dt.timedelta(seconds=1)

# Rows are only ever added, each flush of the buffers writing what it holds, so a pair can have
# several rows; reads take the earliest (ties: the row written first). Appending rows is the
# cheapest write there is, and the indexes the reads need are made once, at the first read.
_SCHEMA = """
CREATE TABLE logins (account TEXT, ip TEXT, first INTEGER, offset INTEGER);
CREATE TABLE networks (account TEXT, network TEXT, first INTEGER, offset INTEGER, ip TEXT);
CREATE TABLE provider_days (account TEXT, block TEXT, day INTEGER);
"""
_INDEXES = """
CREATE INDEX logins_by_ip ON logins (ip);
CREATE INDEX networks_by_account ON networks (account);
CREATE INDEX provider_days_by_account ON provider_days (account, block);
"""
# An account's logins (ips_of: the flagged accounts' IPs, for the ips report's roles): a kept
# store finds them by its unique index below. Without an index of its own, SQLite walks the whole
# table through logins_by_ip for each account asked about: 46 ms for the 11 flagged accounts of
# the submission benchmark log, 2 ms with it, and 2 ms to make it.
_LOGINS_BY_ACCOUNT = "CREATE INDEX logins_by_account ON logins (account);"
# A store kept for months (PairStore(db)) would gain a row per pair at every flush: there,
# each pair has one row, kept at its earliest login (the first written on a tie).
_ONE_ROW_EACH = """
CREATE UNIQUE INDEX logins_pair ON logins (account, ip);
CREATE UNIQUE INDEX networks_pair ON networks (account, network);
CREATE UNIQUE INDEX provider_days_pair ON provider_days (account, block, day);
"""
_APPENDS = ("INSERT INTO logins VALUES (?, ?, ?, ?)",
            "INSERT INTO networks VALUES (?, ?, ?, ?, ?)",
            "INSERT INTO provider_days VALUES (?, ?, ?)")
# A kept store's writes; also what merges the rows of an account kept under several spellings
# into the account's own (state.py: a state of a version before correlate.account_of()).
UPSERTS = ("INSERT INTO logins VALUES (?, ?, ?, ?) ON CONFLICT (account, ip) DO UPDATE SET "
           "first = excluded.first, offset = excluded.offset WHERE excluded.first < first",
           "INSERT INTO networks VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, network) DO UPDATE "
           "SET first = excluded.first, offset = excluded.offset, ip = excluded.ip "
           "WHERE excluded.first < first",
           "INSERT OR IGNORE INTO provider_days VALUES (?, ?, ?)")


class StoreError(Exception):
    """The logins could not be kept in the temporary database; str() says why and what to do."""


def _failed(error: sqlite3.Error) -> StoreError:
    return StoreError(f"cannot keep the logins in a temporary file: {error} "
                      "(TMPDIR names the directory to use)")


def _temporary_directory_exists() -> bool:
    # SQLite looks where Python does (TMPDIR, /var/tmp, /usr/tmp, /tmp, the working directory)
    # and fails only when it has to spill; Python tells now, by making a file there.
    try:
        tempfile.gettempdir()
    except OSError:
        return False
    return True


def _encode(when: _dt.datetime) -> Tuple[int, int]:
    offset = when.utcoffset()
    assert offset is not None, "the Clock makes every time aware"
    return (when - _EPOCH) // _MICROSECOND, offset // _SECOND


def _decode(micros: int, offset: int) -> _dt.datetime:
    zone = fixed_zone(_dt.timedelta(seconds=offset))
    return (_EPOCH + _dt.timedelta(microseconds=micros)).astimezone(zone)


class PairStore:
    """See the module docstring."""

    def __init__(self, db: Optional[sqlite3.Connection] = None) -> None:
        self._owned = db is None
        try:
            if db is None:
                # "": a private database that SQLite deletes on close; it stays in memory up
                # to the cache size, and no journal is needed for data nobody reads after a
                # crash.
                self._db = sqlite3.connect("" if _temporary_directory_exists() else ":memory:")
                self._db.executescript(f"PRAGMA cache_size = -{CACHE_KIB}; "
                                       f"PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                                       f"{_SCHEMA}")
            else:
                self._db = db
                # One statement at a time: executescript() would commit the owner's transaction.
                for statement in (_SCHEMA + _INDEXES + _ONE_ROW_EACH).split(";"):
                    if statement.strip():
                        db.execute(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
                                   .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
                                   .replace("CREATE UNIQUE INDEX ",
                                            "CREATE UNIQUE INDEX IF NOT EXISTS "))
        except sqlite3.Error as error:
            raise _failed(error) from None
        self._indexed = db is not None
        self._writes = _APPENDS if db is None else UPSERTS
        self._logins: Dict[tuple, _dt.datetime] = {}  # (account, ip) -> first login
        self._networks: Dict[tuple, tuple] = {}  # (account, network) -> (first login, ip)
        self._days: set = set()  # (account, block, date's ordinal)
        # (account, block) -> days_in(), until a day is added: the shared-ip rule asks about
        # each account of each shared IP, and a campaign's IPs share a few blocks (submission
        # benchmark log: 2,174 questions, 43 distinct, 11 ms of queries).
        self._days_counted: Dict[tuple, int] = {}

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
        if self._days_counted:
            self._days_counted.clear()
        if len(self._days) >= BUFFERED:
            self._flush()

    def days_in(self, account: str, block: str) -> int:
        key = (account, block)
        found = self._days_counted.get(key)
        if found is None:
            found = self._days_counted[key] = next(self._read(
                "SELECT COUNT(DISTINCT day) FROM provider_days WHERE account = ? AND block = ?",
                key), (0,))[0]
        return found

    def days_of(self, account: str) -> List[_dt.date]:
        return [_dt.date.fromordinal(day) for (day,) in self._read(
            "SELECT DISTINCT day FROM provider_days WHERE account = ? ORDER BY day", (account,))]

    def ips_per_account(self) -> Counter:
        return Counter(dict(self._read(
            "SELECT account, COUNT(DISTINCT ip) FROM logins GROUP BY account")))

    def network_counts(self) -> Counter:
        return Counter(dict(self._read(
            "SELECT account, COUNT(DISTINCT network) FROM networks GROUP BY account")))

    def networks_of(self, account: str) -> Dict[str, tuple]:
        found: Dict[str, tuple] = {}
        for network, first, offset, ip in self._read(
                "SELECT network, first, offset, ip FROM networks WHERE account = ? "
                "ORDER BY network, first, rowid", (account,)):
            if network not in found:
                found[network] = (_decode(first, offset), ip)
        return found

    def ips_of(self, account: str) -> Dict[str, _dt.datetime]:
        return self._firsts("SELECT ip, first, offset FROM logins WHERE account = ? "
                            "ORDER BY ip, first, rowid", account)

    def accounts_of(self, ip: str) -> Dict[str, _dt.datetime]:
        return self._firsts("SELECT account, first, offset FROM logins WHERE ip = ? "
                            "ORDER BY account, first, rowid", ip)

    def _firsts(self, query: str, key: str) -> Dict[str, _dt.datetime]:
        found: Dict[str, _dt.datetime] = {}
        for name, first, offset in self._read(query, (key,)):
            if name not in found:
                found[name] = _decode(first, offset)
        return found

    def shared_ips(self, accounts: int) -> Iterator[Tuple[str, Dict[str, _dt.datetime]]]:
        rows = self._read(
            "SELECT ip, account, first, offset FROM logins WHERE ip IN "
            "(SELECT ip FROM logins GROUP BY ip HAVING COUNT(DISTINCT account) >= ?) "
            "ORDER BY ip, account, first, rowid", (accounts,))
        # Nothing is yielded before the first row sets `current`: `found` is empty until then.
        current: str = ""
        found: Dict[str, _dt.datetime] = {}
        for ip, account, first, offset in rows:
            if ip != current:
                if found:
                    yield current, found
                current, found = ip, {}
            if account not in found:
                found[account] = _decode(first, offset)
        if found:
            yield current, found

    def flush(self) -> None:
        self._flush()

    def forget(self, account: str) -> None:
        self._logins = {key: when for key, when in self._logins.items() if key[0] != account}
        self._networks = {key: first for key, first in self._networks.items()
                          if key[0] != account}
        self._days = {day for day in self._days if day[0] != account}
        self._days_counted.clear()
        try:
            for table in ("logins", "networks", "provider_days"):
                self._db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))
        except sqlite3.Error as error:
            raise _failed(error) from None

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def _read(self, query: str, parameters=()) -> Iterator[tuple]:
        """The rows of `query`, as they are fetched."""
        try:
            self._flush()
            if not self._indexed:
                self._db.executescript(_INDEXES + _LOGINS_BY_ACCOUNT)
                self._indexed = True
            yield from self._db.execute(query, parameters)
        except sqlite3.Error as error:
            raise _failed(error) from None

    def _flush(self) -> None:
        try:
            self._write()
        except sqlite3.Error as error:
            raise _failed(error) from None

    def _write(self) -> None:
        db = self._db
        with db if self._owned else contextlib.nullcontext():
            logins, networks, days = self._writes
            if self._logins:
                db.executemany(logins, [(account, ip) + _encode(when)
                                        for (account, ip), when in self._logins.items()])
                self._logins.clear()
            if self._networks:
                db.executemany(networks, [(account, network) + _encode(when) + (ip,)
                                          for (account, network), (when, ip)
                                          in self._networks.items()])
                self._networks.clear()
            if self._days:
                db.executemany(days, self._days)
                self._days.clear()
