"""state: what `watch` keeps between runs, in one SQLite file, and the lock that guards it.

SUMMARY
    default_path() -> the state file to use when none is given
    State.open(path, fmt, wait=LOCK_WAIT, lock=True, create=True) -> State
    state.engine -> what the last commit stored (unpickled; None in a new state)
    state.positions -> {log path: follow.Position}     where each log was read to
    state.pairs -> pairs.PairStore kept in the state   every account's IPs and networks
    state.raised -> {account: {signal: severity}}      the alerts already raised
    state.kept -> {name: JSON text}                   the watch's own values (kept table)
    state.levels -> {(account, signal): count}        the counts last alerted
    state.storm_failure(account, ip, when); state.storm_rows(); state.prune_storm(before)
    read_queue(path) -> [(host, queue ID, account, instance)]   the queue table, read-only,
                                                    no pickle
    state.login(account, network, ip, when)           one login, into the account's history
    state.country(account, country, ip, when); state.countries()   the countries of it
    state.begin(); state.commit(engine, positions, alerts) -> alert ids   one transaction
    state.delivered(ids); state.undelivered() -> [(id, json text)]
    with state.trial(): ...                           writes undone at its end (a savepoint)
    state.forget(account)                             drop the account's history
    state.logs(), state.history(), state.alerts(limit)  what `maillog-sasl state` shows
    state.alert_counts(), state.alerted_accounts()      what --metrics counts
    freeze(obj, pairs) -> bytes; thaw(data, pairs) -> obj   the pickling of the engine
    StateError

DESCRIPTION
    One SQLite database (Python's sqlite3), in WAL mode with synchronous=FULL. Its tables:

      meta      schema version, creation time, the program's version
      logs      per log path: device, inode, offset read to, hash of the first line
      engine    one row: the engine's format and its objects (the correlator's open sessions
                and messages, the per-account facts of the incident rules), pickled
      logins, networks, provider_days   pairs.PairStore's tables: each account's IPs,
                networks (first login) and days per provider block, for the whole history
      history   per (account, network): first and last login, the IPs of both, logins
      countries per (account, country): the first login from there and its IP (with --geoip;
                watch fills it from the pairs' IPs when it was run without a database)
      raised    per (account, signal): the severity it was alerted at
      alerts    every alert raised, as its JSON text, and whether it was delivered
      kept      named JSON values of the watch itself: the counters of --metrics (logins,
                failed AUTH, messages and recipients by outcome since the state was made) and
                the flagged accounts of the last assessment
      levels    per (account, signal) of the alerts that rise with a count (queue-growth,
                failure-storm): the count last alerted
      storm     per (account, IP): the latest failed AUTH naming the account from that IP,
                within the failure-storm window
      queue     the authenticated messages still open at the last commit (host, queue ID,
                account, kind, queued, deferred recipients, the Postfix instance whose queue
                holds it): a copy of what the engine holds, in plain rows, for `contain
                --state` (read_queue(), which unpickles nothing)

    A state of an older schema (MIGRATED) is migrated the first time it is opened for writing,
    in one transaction: the tables it lacks are made (kept, levels, storm and queue came within
    schema 1, countries with schema 2) and the columns it lacks (the queue's instance came with
    schema 3), the schema number raised, and meta says `migrated` from which schema, by which
    version, when. Opened read-only, it is read as it is, a table it lacks as an empty one, a
    queue without its instance as one of instances not known. A state of a newer or unknown
    schema is refused. A state whose engine is of an older format, or that holds none (dropped
    by `state --reset-engine`), opened for writing, has the rows of an account kept under
    several spellings (a version before correlate.account_of() named an account as its login
    was typed: `Alice`, `ALICE`) merged into the account's (`alice`) in every table keyed by
    account (the alerts excepted: each is the text it was sent as), and its engine's records
    merged too (the engine's fold_accounts()); a state of this version's has none to merge.

    Everything a run changes commits in one transaction: the offsets, the engine that read up
    to them, the pairs and history it met, the alerts it raised. A run killed at any moment
    leaves the state of the last commit, and the next run reads the same lines again from
    there, so nothing is read twice and nothing is lost. Alerts are recorded before they are
    written out and marked delivered after: one killed in between is written again by the next
    run (at least once, never lost).

    The engine is pickled: the correlator's and the incident rules' records pickle as plain
    slotted classes do, in either build (compiled, most are native classes whose pickles are
    written out to that form: model.py, activity.py), and pickle keeps their references (a
    message and its session) as they are. What
    must stay the very object it was is stored by name (persistent ids): the PairStore (its
    rows are in the tables), the shared empties of activity.py, and the fixed-offset zones of
    syslog.fixed_zone. The format string the caller gives (a fingerprint of the classes'
    layout) is stored beside it: a state of another format is refused, never half-read.
    Unpickling only builds classes of this package, datetime and dateutil's zones; the file
    and its directory are made readable by their owner alone, and a state file that another
    user could have written is refused (a pickle can run code).

    The lock is an flock() on PATH.lock, PATH with its symbolic links resolved (a state named
    through a link and by its own name is one state, with one lock), held from opening to
    closing: a second run waits up to `wait` seconds, then gives up with the pid of the
    holder. A new state's file is made
    under the lock; a run that made it and could not make it a state removes it, the files
    SQLite made beside it and its lock (while holding it: a run that waited for that lock
    locks the path's new file instead, and makes the state itself).

DIAGNOSTICS
    StateError, with one line naming the file: the state cannot be made or opened, is not a
    maillog-sasl state or is damaged (never reset silently), is of another schema or format,
    is writable by others, or is locked by another run. A state the user cannot read (or, to
    write it, write: one root made, one made read-only), or a file SQLite keeps beside it
    (its write-ahead log, shared-memory index, journal), is named, with its owner and mode,
    before SQLite opens the state; nothing is removed. A path that is no regular file (a
    named pipe, a directory, a device) or a symbolic link to nothing is refused before
    anything is made, its lock neither. Where the operating system refuses SQLite a file or a
    write (a full disk, a read-only file system: a state opened without the lock, to be read,
    is read there from a private copy), it is `cannot write the state: REASON
    (SQLite: ...)`, never "damaged": SQLite does not tell the reason, which a small probe file
    written beside the state (and removed) does. No sqlite3 exception leaves this module;
    pairs.StoreError may come from the PairStore.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import io
import os
import pickle
import pwd
import shutil
import sqlite3
import stat
import tempfile
import time
import urllib.parse
from typing import Dict, List, Optional, Set, Tuple

from maillog_sasl import __version__
from maillog_sasl.activity import SHARED_EMPTIES
from maillog_sasl.correlate import account_of
from maillog_sasl.follow import Position
from maillog_sasl.incident import SEVERITY_ORDER
from maillog_sasl.pairs import UPSERTS, PairStore, StoreError
from maillog_sasl.syslog import fixed_zone

SCHEMA = 3
# The schemas of older versions that are migrated to SCHEMA when opened for writing (and read
# as they are otherwise: a table they lack reads as empty).
MIGRATED = ("1", "2")
LOCK_WAIT = 5.0
# A state is its owner's alone: it holds pickled objects (_check_owner()).
STATE_MODE = 0o600
SYSTEM_PATH = "/var/lib/maillog-sasl/state.sqlite"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE logs (path TEXT PRIMARY KEY, device INTEGER NOT NULL, inode INTEGER NOT NULL,
                   offset INTEGER NOT NULL, head TEXT, updated TEXT NOT NULL);
CREATE TABLE engine (id INTEGER PRIMARY KEY CHECK (id = 1), format TEXT NOT NULL,
                     data BLOB NOT NULL, updated TEXT NOT NULL);
CREATE TABLE history (account TEXT NOT NULL, network TEXT NOT NULL,
                      first TEXT NOT NULL, first_us INTEGER NOT NULL, first_ip TEXT NOT NULL,
                      last TEXT NOT NULL, last_us INTEGER NOT NULL, last_ip TEXT NOT NULL,
                      logins INTEGER NOT NULL, PRIMARY KEY (account, network));
CREATE TABLE raised (account TEXT NOT NULL, signal TEXT NOT NULL, severity TEXT NOT NULL,
                     raised TEXT NOT NULL, PRIMARY KEY (account, signal));
CREATE TABLE alerts (id INTEGER PRIMARY KEY, raised TEXT NOT NULL, account TEXT NOT NULL,
                     severity TEXT NOT NULL, json TEXT NOT NULL,
                     delivered INTEGER NOT NULL DEFAULT 0);
"""
# Tables later versions added: made in a state that lacks them when it is opened for writing.
# Those of schema 1 (kept .. queue) came without a new schema number (an older maillog-sasl
# ignores them); `countries` is schema 2: a version that would record logins without their
# countries must not write such a state (it would leave holes in the history new-country reads).
# The queue's instance is schema 3: a version that writes the queue's rows without it could not
# write them there (and would give every instance's queue IDs to one postsuper).
_INSTANCE = "instance TEXT NOT NULL DEFAULT ''"
_ADDED = {
    "kept": "CREATE TABLE kept (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "levels": "CREATE TABLE levels (account TEXT NOT NULL, signal TEXT NOT NULL, "
              "level INTEGER NOT NULL, PRIMARY KEY (account, signal))",
    "storm": "CREATE TABLE storm (account TEXT NOT NULL, ip TEXT NOT NULL, "
             "last TEXT NOT NULL, last_us INTEGER NOT NULL, PRIMARY KEY (account, ip))",
    "queue": "CREATE TABLE queue (host TEXT NOT NULL, queue_id TEXT NOT NULL, "
             "account TEXT NOT NULL, kind TEXT NOT NULL, queued TEXT, "
             f"pending INTEGER NOT NULL, {_INSTANCE}, PRIMARY KEY (host, queue_id))",
    "countries": "CREATE TABLE countries (account TEXT NOT NULL, country TEXT NOT NULL, "
                 "first TEXT NOT NULL, first_us INTEGER NOT NULL, first_ip TEXT NOT NULL, "
                 "PRIMARY KEY (account, country))",
}
# How a row joins the one of its key: a login, a country's login, a failure, the rows of an
# account kept under several spellings (_fold_accounts()).
_HISTORY_MERGE = (
    "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (account, network) DO UPDATE SET "
    "first = CASE WHEN excluded.first_us < first_us THEN excluded.first ELSE first END, "
    "first_ip = CASE WHEN excluded.first_us < first_us THEN excluded.first_ip ELSE first_ip END, "
    "first_us = MIN(first_us, excluded.first_us), "
    "last = CASE WHEN excluded.last_us >= last_us THEN excluded.last ELSE last END, "
    "last_ip = CASE WHEN excluded.last_us >= last_us THEN excluded.last_ip ELSE last_ip END, "
    "last_us = MAX(last_us, excluded.last_us), logins = logins + excluded.logins")
_COUNTRY_MERGE = (
    "INSERT INTO countries VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, country) DO "
    "UPDATE SET first = excluded.first, first_us = excluded.first_us, "
    "first_ip = excluded.first_ip WHERE excluded.first_us < first_us")
_STORM_MERGE = (
    "INSERT INTO storm VALUES (?, ?, ?, ?) ON CONFLICT (account, ip) DO UPDATE SET "
    "last = CASE WHEN excluded.last_us > last_us THEN excluded.last ELSE last END, "
    "last_us = MAX(last_us, excluded.last_us)")
# The tables keyed by account (the account their first column), and how two rows of one key
# merge: the pairs' and the history's at the earliest first and latest last login, the levels'
# at the higher count, the raised alerts' at the higher severity.
_BY_ACCOUNT = (
    *zip(("logins", "networks", "provider_days"), UPSERTS),
    ("history", _HISTORY_MERGE), ("countries", _COUNTRY_MERGE), ("storm", _STORM_MERGE),
    ("levels", "INSERT INTO levels VALUES (?, ?, ?) ON CONFLICT (account, signal) DO UPDATE "
               "SET level = MAX(level, excluded.level)"),
    ("raised", "INSERT INTO raised VALUES (?, ?, ?, ?) ON CONFLICT (account, signal) DO UPDATE "
               "SET severity = excluded.severity, raised = excluded.raised "
               "WHERE severity_rank(excluded.severity) < severity_rank(severity)"))
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
# What a stored engine may be built of besides this package's classes.
_ALLOWED = {
    "datetime": {"datetime", "date", "timedelta", "timezone"},
    "builtins": {"set", "frozenset", "bytearray", "complex"},
    "collections": {"Counter", "OrderedDict", "deque", "defaultdict"},
}
_ALLOWED_PREFIXES = ("maillog_sasl.", "dateutil.tz")


class StateError(Exception):
    """The state cannot be used; str() is one line that names the file."""


def default_path() -> str:
    """/var/lib/maillog-sasl/state.sqlite for root, else under $XDG_STATE_HOME (~/.local/state)."""
    if os.geteuid() == 0:
        return SYSTEM_PATH
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    return os.path.join(base, "maillog-sasl", "state.sqlite")


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _micros(when: _dt.datetime) -> int:
    return (when - _EPOCH) // _MICROSECOND


# -- pickling ------------------------------------------------------------------------------------

_EMPTY_NAMES = {id(value): name for name, value in SHARED_EMPTIES.items()}


class _Pickler(pickle.Pickler):
    def __init__(self, file, pairs: Optional[PairStore]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._pairs = pairs

    def persistent_id(self, obj):  # noqa: D401 - pickle's hook
        if obj is self._pairs and obj is not None:
            return ("pairs",)
        name = _EMPTY_NAMES.get(id(obj))
        if name is not None and obj is SHARED_EMPTIES[name]:
            return ("empty", name)
        if type(obj) is _dt.timezone:
            offset = obj.utcoffset(None)
            return ("zone", offset // _dt.timedelta(microseconds=1))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, pairs: Optional[PairStore]):
        super().__init__(file)
        self._pairs = pairs

    def persistent_load(self, pid):
        kind = pid[0]
        if kind == "pairs":
            return self._pairs
        if kind == "empty":
            return SHARED_EMPTIES[pid[1]]
        if kind == "zone":
            return fixed_zone(_dt.timedelta(microseconds=pid[1]))
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")

    def find_class(self, module, name):
        if module.startswith(_ALLOWED_PREFIXES) or name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not something a state holds")


def freeze(obj, pairs: Optional[PairStore]) -> bytes:
    """`obj` pickled, `pairs` and the shared objects by name (see the module docstring)."""
    buffer = io.BytesIO()
    _Pickler(buffer, pairs).dump(obj)
    return buffer.getvalue()


def thaw(data: bytes, pairs: Optional[PairStore]):
    """What freeze() made, with `pairs` where the frozen one was."""
    return _Unpickler(io.BytesIO(data), pairs).load()


# -- the lock --------------------------------------------------------------------------------

class _Lock:
    """flock() on PATH.lock, whose content is the holder's pid."""

    def __init__(self, path: str, wait: float):
        self.path = path + ".lock"
        self._fd = self._open()
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if self._named():
                    break
                # Removed by the holder (a run whose new state could not be made): lock the
                # file the path names now, as a run that came later does.
                os.close(self._fd)
                self._fd = self._open()
                continue
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(self._fd)
                    raise StateError(f"{self.path}: cannot lock: {error.strerror}") from None
            if time.monotonic() >= deadline:
                holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
                os.close(self._fd)
                raise StateError(f"{path} is in use by another maillog-sasl run"
                                 f"{f' (pid {holder})' if holder else ''}; waited {wait:g} s")
            time.sleep(0.05)
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only told to a run that waits; a full disk fails the state's writes

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            # A lock another user made (a root run before the service's): its owner and mode.
            status = _status(self.path) if error.errno in (errno.EACCES, errno.EPERM) else None
            raise StateError(
                _not_yours(self.path, "the state's lock", "open", status) if status is not None
                else f"{self.path}: cannot make the lock: {error.strerror}") from None

    def _named(self) -> bool:
        """Whether the locked file is still the one at the path."""
        try:
            held, named = os.fstat(self._fd), os.stat(self.path)
        except OSError:
            return False
        return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)

    def release(self, remove: bool = False) -> None:
        """Unlock; with `remove`, the lock file goes too (removed while held: a run waiting
        for it locks the path's new file instead, _named())."""
        if self._fd >= 0:
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = -1


# -- the state -------------------------------------------------------------------------------

class State:
    """An open state; see the module docstring."""

    def __init__(self, path: str, db: sqlite3.Connection, lock: Optional[_Lock],
                 copy: Optional[tempfile.TemporaryDirectory] = None):
        self.path = path
        self._db = db
        self._lock = lock
        self._copy = copy  # what is read of a state on a read-only file system (_read_only_copy)
        self.engine = None
        self.engine_format: Optional[str] = None
        self.meta: Dict[str, str] = {}
        self.pairs: PairStore = None  # type: ignore[assignment]  # made by _load()
        self.positions: Dict[str, Position] = {}
        self.raised: Dict[str, Dict[str, str]] = {}
        self.kept: Dict[str, str] = {}
        self.levels: Dict[Tuple[str, str], int] = {}
        self.tables: Set[str] = set()

    @classmethod
    def open(cls, path: str, fmt: str, wait: float = LOCK_WAIT, lock: bool = True,
             create: bool = True, load_engine: bool = True,
             older_formats: Tuple[str, ...] = ()) -> "State":
        """Open (with `create`, make if missing) the state at `path`, locked unless `lock` is
        False, and load it; an engine of another format than `fmt` is refused, unless it is one
        of `older_formats` (engines this version reads as they are)."""
        path = os.path.abspath(path)
        exists = _exists(path)
        if not exists and not create:
            raise StateError(f"{path}: no such state")
        if not exists:
            _make_folder(path)
        held = _Lock(os.path.realpath(path), wait) if lock else None
        made = False
        db = None
        copy = None
        try:
            _check_access(path, write=lock)
            # Made under the lock: a run that found it made and locked first could make it a
            # state, which this one, failing, would take for its own and remove.
            made = create and not _exists(path) and _make_file(path)
            status = _check_owner(path)
            if not status.st_size and not made and stat.S_IMODE(status.st_mode) != STATE_MODE:
                # SQLite would take an empty file for a new database and write into it: a
                # log that logrotate has just made, named by mistake. (One of this mode is a
                # state whose first run died before its tables were made.)
                raise StateError(f"{path}: an empty file, not a maillog-sasl state: give "
                                 "another --state (or remove it)")
            copy = None if lock else _read_only_copy(path)
            db = _connect(path if copy is None else _copied(copy))
            state = cls(path, db, held, copy)
            state._load((fmt,) + tuple(older_formats), load_engine, writable=lock)
        except BaseException:
            if copy is not None:
                if db is not None:
                    db.close()
                copy.cleanup()
            if made:  # by this run, which could not make it a state (a full disk): not left
                if db is not None:
                    db.close()
                for suffix in ("", *(suffix for suffix, _ in _BESIDE)):
                    with contextlib.suppress(OSError):
                        os.unlink(path + suffix)
            if held is not None:
                held.release(remove=made)
            raise
        return state

    def _fail(self, error: sqlite3.Error) -> StateError:
        return _refused(self.path, error) or StateError(
            f"{self.path}: cannot use the state: {error}")

    def _load(self, formats: Tuple[str, ...], load_engine: bool, writable: bool = True) -> None:
        db = self._db
        try:
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables and writable:
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";") + list(_ADDED.values()):
                    if statement.strip():
                        db.execute(statement)
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema", str(SCHEMA)), ("created", _now()), ("program", __version__)])
                db.execute("COMMIT")
                tables = {name for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" not in tables:
                raise StateError(f"{self.path}: not a maillog-sasl state (an SQLite database "
                                 "with other tables); give another --state")
            meta = dict(db.execute("SELECT key, value FROM meta"))
            schema = meta.get("schema")
            if schema not in MIGRATED + (str(SCHEMA),):
                raise StateError(f"{self.path}: a state of schema {schema!r}, written by "
                                 f"maillog-sasl {meta.get('program', '?')}; this one reads "
                                 f"schemas {', '.join(MIGRATED + (str(SCHEMA),))} only: give "
                                 "another --state")
            missing = [name for name in _ADDED if name not in tables]
            if (missing or schema != str(SCHEMA)) and writable:
                meta = self._migrate(db, missing, meta)  # a state of an older version
                tables |= set(missing)
            self.meta = meta
            self.tables = tables
            self.pairs = PairStore(db)
            found = db.execute("SELECT format, data FROM engine WHERE id = 1").fetchone()
            if found is not None and found[0] not in formats and load_engine:
                raise StateError(
                    f"{self.path}: written by another version of maillog-sasl "
                    f"({meta.get('program', '?')}, engine format {found[0]}; this one is "
                    f"{__version__}, format {formats[0]}); `maillog-sasl state --reset-engine` "
                    "keeps "
                    "the history and offsets and drops what the engine held open")
            # An engine of an older format is of a version that may have kept an account under
            # each spelling its login was typed in (before correlate.account_of()); so may a
            # state without one (that version's `state --reset-engine` dropped it).
            older = writable and (found is None or found[0] != formats[0])
            if older:
                self._fold_accounts(db)
            for row in db.execute("SELECT path, device, inode, offset, head FROM logs"):
                path, device, inode, offset, head = row
                # SQLite keeps any type in any column: a row edited by hand, or damaged.
                if not (isinstance(path, str) and all(type(number) is int and number >= 0
                                                      for number in (device, inode, offset))
                        and (head is None or isinstance(head, str))):
                    raise StateError(f"{self.path}: damaged: where the log {path!r} was read "
                                     "to cannot be read; it is left as it is: give another "
                                     "--state")
                self.positions[path] = Position(device, inode, offset, head)
            for account, signal, severity in db.execute(
                    "SELECT account, signal, severity FROM raised"):
                self.raised.setdefault(account, {})[signal] = severity
            if "kept" in self.tables:
                self.kept = dict(db.execute("SELECT name, value FROM kept"))
            if "levels" in self.tables:
                self.levels = {(account, signal): level for account, signal, level
                               in db.execute("SELECT account, signal, level FROM levels")}
        except sqlite3.Error as error:
            raise _refused(self.path, error) or _damaged(self.path, error) from None
        except StoreError as error:
            raise _damaged(self.path, error) from None
        if found is not None:
            self.engine_format = found[0]
            if load_engine:
                try:
                    self.engine = thaw(found[1], self.pairs)
                    if older and self.engine is not None:
                        self.engine.fold_accounts()
                except Exception as error:  # anything a damaged pickle can raise
                    raise StateError(f"{self.path}: damaged: its engine cannot be read "
                                     f"({type(error).__name__}: {error}); it is left as it is: "
                                     "give another --state") from None

    @staticmethod
    def _migrate(db: sqlite3.Connection, missing: List[str], meta: Dict[str, str]
                 ) -> Dict[str, str]:
        """Bring a state of an older schema up to this one in one transaction: its missing
        tables and columns made, the schema number raised, the migration noted in meta."""
        db.execute("BEGIN IMMEDIATE")
        for name in missing:
            db.execute(_ADDED[name].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
        if "instance" not in _columns(db, "queue"):
            db.execute(f"ALTER TABLE queue ADD COLUMN {_INSTANCE}")
        changed = {}
        if meta.get("schema") != str(SCHEMA):
            changed = {"schema": str(SCHEMA),
                       "migrated": f"from schema {meta.get('schema')} by maillog-sasl "
                                   f"{__version__} at {_now()}"}
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(changed.items()))
        db.execute("COMMIT")
        return {**meta, **changed}

    @staticmethod
    def _fold_accounts(db: sqlite3.Connection) -> None:
        """Merge the rows of an account kept under several spellings (`Alice`, `ALICE`) into
        the account's own (`alice`, correlate.account_of()) in one transaction, as the rows of
        one key merge (_BY_ACCOUNT); the queue's rows name it. A state of this version's has
        none: nothing changes."""
        db.create_function("account_of", 1, account_of, deterministic=True)
        db.create_function("severity_rank", 1, lambda severity: SEVERITY_ORDER.get(severity, 9),
                           deterministic=True)
        db.execute("BEGIN IMMEDIATE")
        for table, merge in _BY_ACCOUNT:
            spelt = f"FROM {table} WHERE account <> account_of(account)"
            rows = db.execute(f"SELECT * {spelt} ORDER BY rowid").fetchall()
            db.execute(f"DELETE {spelt}")
            db.executemany(merge, [(account_of(account), *rest) for account, *rest in rows])
        db.execute("UPDATE queue SET account = account_of(account) "
                   "WHERE account <> account_of(account)")
        db.execute("COMMIT")

    # -- transactions ---------------------------------------------------------------------

    def begin(self) -> None:
        """Start the transaction the next commit() ends (the PairStore writes into it)."""
        self._execute("BEGIN IMMEDIATE")

    def commit(self, engine, fmt: str, positions: Dict[str, Position],
               alerts: List[Tuple[str, str, Set[str], str]], engine_changed: bool = True,
               kept: Optional[Dict[str, str]] = None,
               levels: Optional[List[Tuple[str, str, int]]] = None,
               queue: Optional[List[tuple]] = None) -> List[int]:
        """Store `engine` (unless not `engine_changed`), the `positions` it read to, the
        `alerts` it raised ((account, severity, signals, JSON text)), the `kept` values
        (name -> JSON text), the `levels` alerted ((account, signal, count)) and, when not
        None, the `queue` rows (replacing those stored) in the transaction begin() started,
        and end it; the ids of the alerts, to mark them delivered once written."""
        data = freeze(engine, self.pairs) if engine_changed else b""
        now = _now()
        ids = []
        try:
            self.pairs.flush()
            db = self._db
            if engine_changed:
                db.execute("INSERT OR REPLACE INTO engine VALUES (1, ?, ?, ?)",
                           (fmt, data, now))
            db.executemany("INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?, ?)",
                           [(path,) + tuple(position) + (now,)
                            for path, position in positions.items()])
            for account, severity, signals, text in alerts:
                for signal in signals:
                    db.execute("INSERT OR REPLACE INTO raised VALUES (?, ?, ?, ?)",
                               (account, signal, severity, now))
                    self.raised.setdefault(account, {})[signal] = severity
                cursor = db.execute(
                    "INSERT INTO alerts (raised, account, severity, json) VALUES (?, ?, ?, ?)",
                    (now, account, severity, text))
                ids.append(cursor.lastrowid or 0)  # an INSERT's rowid: never None
            changed_kept = {name: value for name, value in (kept or {}).items()
                            if self.kept.get(name) != value and "kept" in self.tables}
            db.executemany("INSERT OR REPLACE INTO kept VALUES (?, ?)",
                           list(changed_kept.items()))
            db.executemany("INSERT OR REPLACE INTO levels VALUES (?, ?, ?)", levels or [])
            if queue is not None and "queue" in self.tables:
                db.execute("DELETE FROM queue")
                db.executemany("INSERT OR REPLACE INTO queue VALUES (?, ?, ?, ?, ?, ?, ?)",
                               queue)
            db.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._fail(error) from None
        self.positions.update(positions)
        self.kept.update(changed_kept)
        for account, signal, level in levels or []:
            self.levels[(account, signal)] = level
        if engine_changed:
            self.engine_format = fmt
        return ids

    def trial(self) -> "_Trial":
        """A context in which writes are undone at its end (a savepoint in the open
        transaction): what the engine's copy writes to the PairStore leaves no trace."""
        return _Trial(self)

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._execute("ROLLBACK")

    def delivered(self, ids: List[int]) -> None:
        """Mark alerts written out (outside a transaction: at once)."""
        self._executemany("UPDATE alerts SET delivered = 1 WHERE id = ?", [(i,) for i in ids])

    def undelivered(self) -> List[Tuple[int, str]]:
        return list(self._execute("SELECT id, json FROM alerts WHERE delivered = 0 ORDER BY id"))

    def close(self) -> None:
        try:
            self.rollback()
            self._db.close()
        except sqlite3.Error:
            pass
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._copy is not None:
            self._copy.cleanup()
            self._copy = None

    # -- history -----------------------------------------------------------------------------

    def login(self, account: str, network: str, ip: str, when: _dt.datetime) -> None:
        """One successful login of `account` from `ip` in `network`, at `when`."""
        stamp, micros = when.isoformat(), _micros(when)
        self._execute(_HISTORY_MERGE, (account, network, stamp, micros, ip, stamp, micros, ip, 1))

    def country(self, account: str, country: str, ip: str, when: _dt.datetime) -> None:
        """A login of `account` from `ip` in `country` at `when`: the country's first login is
        kept (in the open transaction)."""
        self._execute(_COUNTRY_MERGE, (account, country, when.isoformat(), _micros(when), ip))

    def countries(self) -> Dict[str, Dict[str, Tuple[_dt.datetime, str]]]:
        """account -> {country: (its first login from there, the IP of that login)}."""
        found: Dict[str, Dict[str, Tuple[_dt.datetime, str]]] = {}
        if "countries" not in self.tables:
            return found
        for account, country, first, ip in self._execute(
                "SELECT account, country, first, first_ip FROM countries"):
            found.setdefault(account, {})[country] = (_dt.datetime.fromisoformat(first), ip)
        return found

    def forget(self, account: str) -> None:
        """Drop the account's history, pairs and raised alerts (in the open transaction)."""
        self.pairs.forget(account)
        self._execute("DELETE FROM history WHERE account = ?", (account,))
        self._execute("DELETE FROM countries WHERE account = ?", (account,))
        self._execute("DELETE FROM raised WHERE account = ?", (account,))
        self.raised.pop(account, None)
        if "levels" in self.tables:
            self._execute("DELETE FROM levels WHERE account = ?", (account,))
            self._execute("DELETE FROM storm WHERE account = ?", (account,))
        for key in [key for key in self.levels if key[0] == account]:
            del self.levels[key]

    def storm_failure(self, account: str, ip: str, when: _dt.datetime) -> None:
        """A failed AUTH naming `account` from `ip` at `when` (in the open transaction)."""
        self._execute(_STORM_MERGE, (account, ip, when.isoformat(), _micros(when)))

    def storm_rows(self) -> List[Tuple[str, str, _dt.datetime]]:
        """(account, ip, latest failure) of every failure kept."""
        if "storm" not in self.tables:
            return []
        return [(account, ip, _dt.datetime.fromisoformat(last)) for account, ip, last
                in self._execute("SELECT account, ip, last FROM storm ORDER BY last_us")]

    def prune_storm(self, before: _dt.datetime) -> None:
        """Drop the failures older than `before` (in the open transaction)."""
        self._execute("DELETE FROM storm WHERE last_us < ?", (_micros(before),))

    def drop_engine(self) -> None:
        """Forget the engine (in the open transaction): history, offsets and alerts stay."""
        self._execute("DELETE FROM engine")
        self.engine = None

    def commit_plain(self) -> None:
        """End the open transaction as it stands."""
        self._execute("COMMIT")

    # -- what `maillog-sasl state` shows ------------------------------------------------------

    def logs(self) -> List[tuple]:
        return list(self._execute(
            "SELECT path, device, inode, offset, head, updated FROM logs ORDER BY path"))

    def history(self, account: Optional[str] = None) -> List[tuple]:
        """(account, network, first, first_ip, last, last_ip, logins), by account and first."""
        where, parameters = ("WHERE account = ?", (account,)) if account else ("", ())
        return list(self._execute(
            "SELECT account, network, first, first_ip, last, last_ip, logins FROM history "
            f"{where} ORDER BY account, first_us", parameters))

    def raised_rows(self) -> List[tuple]:
        return list(self._execute(
            "SELECT account, signal, severity, raised FROM raised ORDER BY account, raised"))

    def alert_counts(self) -> Dict[str, int]:
        """severity -> how many alerts were raised at it."""
        return dict(self._execute("SELECT severity, COUNT(*) FROM alerts GROUP BY severity"))

    def alerted_accounts(self) -> Dict[str, int]:
        """signal -> how many accounts were alerted for it."""
        return dict(self._execute("SELECT signal, COUNT(*) FROM raised GROUP BY signal"))

    def alerts(self, limit: int = 20) -> List[tuple]:
        """The last `limit` alerts: (id, raised, account, severity, delivered), oldest first."""
        return list(reversed(list(self._execute(
            "SELECT id, raised, account, severity, delivered FROM alerts "
            "ORDER BY id DESC LIMIT ?", (limit,)))))

    def _execute(self, statement: str, parameters=()):
        try:
            return self._db.execute(statement, parameters).fetchall()
        except sqlite3.Error as error:
            raise self._fail(error) from None

    def _executemany(self, statement: str, rows) -> None:
        try:
            self._db.executemany(statement, rows)
        except sqlite3.Error as error:
            raise self._fail(error) from None


def read_queue(path: str) -> List[Tuple[str, str, str, str]]:
    """(host, queue ID, account, Postfix instance) of the messages the state at `path` holds
    open, oldest first; the instance "" when not known (a state of schema 2 or older).

    Only the plain `queue` table is read, the database opened read-only, nothing unpickled:
    root may read it from a state the unprivileged watch user owns (`contain --state`), where
    State.open() refuses (a pickle can run code). StateError when it cannot be read, is no
    state, or has no queue table yet (written by an older version: run `watch` once)."""
    path = os.path.abspath(path)
    if not _exists(path):
        raise StateError(f"{path}: no such state")
    copy = _read_only_copy(path)
    read = path if copy is None else _copied(copy)
    try:
        # (The path quoted: a `?` or `#` in it would end the file's name in the URI.)
        db = sqlite3.connect(f"file:{urllib.parse.quote(read)}?mode=ro", uri=True,
                             timeout=30.0)
    except sqlite3.Error as error:
        if copy is not None:
            copy.cleanup()
        raise _refused(path, error) or StateError(
            f"{path}: cannot open the state: {error}") from None
    try:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            raise StateError(f"{path}: not a maillog-sasl state")
        if "queue" not in tables:
            raise StateError(f"{path}: the state holds no queue yet (written by an older "
                             "maillog-sasl): run `maillog-sasl watch` once, or give the logs")
        instance = "instance" if "instance" in _columns(db, "queue") else "''"
        return [(str(host), str(queue_id), str(account), str(name))
                for host, queue_id, account, name
                in db.execute(f"SELECT host, queue_id, account, {instance} FROM queue "
                              "ORDER BY queued, queue_id")]
    except sqlite3.Error as error:
        raise _refused(path, error) or StateError(
            f"{path}: not a maillog-sasl state, or damaged: {error}") from None
    finally:
        db.close()
        if copy is not None:
            copy.cleanup()


def _columns(db: sqlite3.Connection, table: str) -> Set[str]:
    return {column for _, column, *_ in db.execute(f"PRAGMA table_info({table})")}


def _read_only_copy(path: str) -> Optional[tempfile.TemporaryDirectory]:
    """A private folder holding a copy of the state at `path` and of its write-ahead log, when
    `path` is on a read-only file system (a snapshot, a backup mounted read-only), or this
    user may not write it (a state made read-only), else None. There SQLite cannot read a WAL
    database, whose shared-memory file it must make beside it; opened `immutable` it would
    skip what the log holds that the database file does not yet. Beside a state made
    read-only, it would make that file and the log read-only too, and leave them: the next
    run that writes the mended state would be refused them (_check_access())."""
    try:
        if not os.statvfs(path).f_flag & os.ST_RDONLY and os.access(path, os.W_OK):
            return None
    except OSError:
        return None  # opening it says why
    copy = tempfile.TemporaryDirectory(prefix="maillog-sasl-state-")
    try:
        shutil.copyfile(path, _copied(copy))
        if _exists(path + "-wal"):
            shutil.copyfile(path + "-wal", _copied(copy) + "-wal")
    except OSError as error:
        copy.cleanup()
        raise StateError(f"{path}: cannot read the state: {error.strerror or error}") from None
    return copy


def _copied(copy: tempfile.TemporaryDirectory) -> str:
    return os.path.join(copy.name, "state.sqlite")


class _Trial:
    def __init__(self, state: State):
        self._state = state

    def __enter__(self) -> None:
        self._state.pairs.flush()
        self._state._execute("SAVEPOINT trial")

    def __exit__(self, *exc) -> None:
        self._state.pairs.flush()
        self._state._execute("ROLLBACK TO trial")
        self._state._execute("RELEASE trial")


# What stat() finds at a --state that is no file SQLite could keep a database in (a named
# pipe blocks it or reads as I/O errors).
_NOT_FILES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
              (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))
# What SQLite says when the operating system refused it a file or a write (a full disk, a
# read-only file system, no permission): the state is not damaged, only out of reach.
_REFUSALS = ("database or disk is full", "disk I/O error", "unable to open database file",
             "attempt to write a readonly database", "access permission denied")
# The files SQLite keeps beside a state (in WAL mode the first two; a rollback journal left by
# a run killed before the state was put in WAL mode).
_BESIDE = (("-wal", "write-ahead log"), ("-shm", "shared-memory index"),
           ("-journal", "rollback journal"))
# A probe's size: about what a new state takes.
_PROBE_BYTES = 1 << 16


def _exists(path: str) -> bool:
    """Whether the state at `path` is there; StateError, before anything is made, when the
    name is no place for one: a file that is not a regular file, a link to nothing."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):  # O_EXCL would not make its target, nor should we
            raise StateError(f"{path}: a symbolic link to {os.readlink(path)}, which does not "
                             "exist: give another --state") from None
        return False
    except OSError as error:
        raise StateError(f"{path}: cannot read the state: {error.strerror}") from None
    for test, what in _NOT_FILES:
        if test(mode):
            raise StateError(f"{path}: {what}, not a state: a state is a regular file (or one "
                             "not made yet): give another --state")
    return True


def _make_folder(path: str) -> None:
    """The state's directory, readable by its owner alone, made if missing."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    except OSError as error:
        raise StateError(f"{path}: cannot make the state: {error.strerror}") from None


def _make_file(path: str) -> bool:
    """The state file, empty, readable by its owner alone; False when another run made it
    first (one that does not lock: an older maillog-sasl)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STATE_MODE))
    except FileExistsError:
        return False
    except OSError as error:
        raise StateError(f"{path}: cannot make the state: {error.strerror}") from None
    return True


def _refused(path: str, error: sqlite3.Error) -> Optional[StateError]:
    """The StateError of an error of SQLite's that is the operating system's refusal (whose
    reason SQLite does not tell: _refusal() asks), or None."""
    if not (isinstance(error, sqlite3.OperationalError) and str(error).startswith(_REFUSALS)):
        return None
    reason = _refusal(os.path.dirname(path))
    return StateError(f"{path}: cannot write the state: "
                      f"{f'{reason} (SQLite: {error})' if reason else error}")


def _refusal(folder: str) -> Optional[str]:
    """The operating system's reason for refusing a write in `folder` (a full disk, a
    read-only file system), found by writing a probe there (made, synced and removed), or None
    when it takes one."""
    try:
        descriptor, name = tempfile.mkstemp(prefix=".maillog-sasl.", suffix=".probe",
                                            dir=folder)
    except OSError as error:
        return error.strerror
    try:
        with os.fdopen(descriptor, "wb") as probe:
            probe.write(bytes(_PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return error.strerror
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    return None


def _damaged(path: str, error: Exception) -> StateError:
    return StateError(f"{path}: not a maillog-sasl state, or damaged: {error}; it is left as "
                      "it is: give another --state")


def _check_owner(path: str) -> os.stat_result:
    """The state file's status, once its owner and mode are found safe."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise StateError(f"{path}: cannot read the state: {error.strerror}") from None
    if status.st_uid not in (os.geteuid(), 0) or status.st_mode & 0o022:
        raise StateError(f"{path}: writable by another user than its owner, or owned by "
                         "another user: refused (it holds pickled objects); chmod 600 it "
                         "and give it to the user that runs maillog-sasl")
    return status


def _check_access(path: str, write: bool) -> None:
    """StateError, before SQLite opens the state at `path`, naming the files of it and of those
    SQLite keeps beside it (_BESIDE) that this user cannot read (or, with `write`, write): a
    state made by another user (root), or made read-only; SQLite, which made the files beside
    it with the state's owner and mode, leaves them so when the state is mended. SQLite says
    only "unable to open database file" or "attempt to write a readonly database", whatever it
    could not do, of whichever file. Nothing is removed: a write-ahead log holds commits. A
    read-only file system is left to SQLite (_refused() says so)."""
    refused = []
    for name, what in ((path, "the state"), *((path + suffix, f"the state's {what}")
                                              for suffix, what in _BESIDE)):
        try:
            status = os.stat(name)
        except OSError:
            continue  # not made yet, or not there: said where it is made or opened
        for need, verb in ((os.R_OK, "read"), (os.W_OK, "write"))[:1 + write]:
            if not (os.access(name, need) or (need == os.W_OK
                                              and os.statvfs(name).f_flag & os.ST_RDONLY)):
                refused.append((name, what, verb, status))
                break
    if refused:
        name, what, verb, status = refused[0]
        also = f" (also {', '.join(other for other, *_ in refused[1:])})" if refused[1:] else ""
        raise StateError(_not_yours(name, what, verb, status) + also)


def _not_yours(name: str, what: str, verb: str, status: os.stat_result) -> str:
    """What is said of file `name` (`what` it is) that this user cannot `verb`: its owner and
    mode, and what to do."""
    user = _user_name(os.geteuid())
    return (f"{name}: cannot {verb} {what} as user {user} (it is {_user_name(status.st_uid)}'s, "
            f"mode {stat.S_IMODE(status.st_mode):04o}): chown {user} and chmod 600 it")


def _status(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except OSError:
        return None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _connect(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    except sqlite3.Error as error:
        raise _refused(path, error) or StateError(
            f"{path}: cannot open the state: {error}") from None
    try:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as error:
        db.close()
        raise _refused(path, error) or _damaged(path, error) from None
    return db
