"""activity: one pass over the finished stream -> per-user and per-IP facts for incident review.

SUMMARY
    Activity(limits=Thresholds(), selection=None, keep_hours=False, stats=None, pairs=None)
    activity.watch(finished) -> the same stream, each item recorded as it passes; when the
        stream ends, every hour is settled and the facts below are final
    activity.observe(item), activity.close()   the same, one item at a time, then the end
    activity.set_limits(limits)     judge what comes next by other limits
    activity.forget(name)           drop an account
    activity.fold_accounts()        merge an account kept under several spellings (a watch
                                    state of a version before correlate.account_of())
    activity.users: name -> UserActivity      activity.ips: address (IPv6: its /64) -> IpActivity
    activity.enrichment: enrich.Enrichment or None, told of every login and submission
    activity.pairs: pairs.PairStore, the accounts' IPs and networks (first login from each)
    Thresholds(...)                 the incident rules' limits (incident.py reads them)
    network_of(ip) -> "192.0.2.0/24" | "2001:db8:1::/48"       hour_of(time) -> the hour it is in
    provider_of(ip or network) -> "192.0.0.0/16" | "2001:db8::/32"
    failing_source(ip) -> "192.0.2.7" | "2001:db8:1:2::/64"    what an IP's failures are kept under
    SHARED_EMPTIES                  the read-only empties records share (for a pickler)
    guessing_failures(session) -> failed AUTH commands that were attempts at a password
    failed_enough(recipients, failed, limits) -> the failing rule holds on these figures
    beyond_usual(count, usual, limits) -> an hour of `count` recipients is a burst against a
                                    median busy hour of `usual` (the burst rule's relative part)

DESCRIPTION
    Reads what correlate() yields (Session at its disconnect, Message at its removal, the still
    open ones at the end). Per SASL username it gathers one Hour record per clock hour with
    activity: logins, their IPs, their networks (first and last login time of each), the
    outcomes of the recipients submitted in that hour, and (for the timeline) failed AUTH
    naming the user; a username that only fails gets no record unless the timeline or a filter
    needs it (a password spray's names would each cost one, never let go). Per
    client IP it keeps the failed AUTH that no login since has answered, and its last successes
    (for failures that reach the stream after them; below). Which accounts logged in from which
    IPs, networks and provider blocks, when first, and on which days, goes to `pairs` (on disk:
    these pairs are what grows with the length of the log).

    Memory is bounded by the accounts and a window of days, not by the length of the log (an
    IP's failures by `guess_window`, its successes by LOGINS_KEPT and LATE_WINDOW, looked at
    once a day of the stream; below): an hour is settled, folded into its user's running summary
    and dropped, once the stream has moved SETTLE_AFTER past it. Mail reaches the stream when it
    leaves the queue, which Postfix's maximal_queue_lifetime (5 days unless changed) bounds, so
    by then an hour's figures are final. The summary keeps what the rules of incident.py read:
    totals, how many busy hours had each recipient count (the burst rule's median and its
    earliest hour per count), the first hour at which the failing rule held on the figures so
    far, and the hopping rule's sliding window; the hour's networks go to `pairs`. Something
    that reaches the stream after its hour was settled (mail queued for longer, a session whose
    end was never logged, handed on when the log ends) is settled as an hour of its own: totals,
    IPs and networks stay exact; the burst rule sees two smaller hours and the hopping window
    meets it late. With keep_hours (the timeline report, whose output is one row per hour
    anyway) every Hour is kept in `UserActivity.history` and settled only at the end.

    A login is a session that authenticated and whose username Postfix logged (it queued mail,
    or Postfix >= 3.10 named it on a reject). A success with no username cannot be attributed to
    an account: it forgets its IP's failures, unless they are a guess (below).

    Guessing is judged as the stream passes, on the failures that came before the login: those
    of the sessions that reached the stream before it (sessions come in the order they ended,
    files oldest first), and those logged before its session began in a session that ended
    after it (Postfix logs no time for a successful AUTH: what such a session failed while the
    login's was open stands after the login, as the stream has it). A successful login as U
    from an IP whose failed AUTH that may have been U's (naming U, or naming none) reach
    `guess_failures`, or whose failures name `guess_usernames` distinct usernames, is recorded
    on the user as a Guess (an IPv6 address's failures are its /64's: an attacker there rotates
    through its addresses). A login answers the failures naming its account and those naming
    none: counting from there keeps a user's occasional typo, each followed by a good login,
    from adding up, and a device behind an office's NAT that keeps trying a colleague's old
    password from making each login from that NAT a guess (that colleague's, when it comes, is
    one). A success that names no account and comes after a guess's failures keeps them for the
    next login from the IP that does: a bot checks a guessed password in a session that sends
    nothing (Postfix names the login only on mail it queued) and sends from the same IP later.
    Failures Postfix blames on its own authentication server are not guesses. An IP that has
    failed no AUTH for `guess_window` days has its failures forgotten (and the IP itself, once
    none of its logins is kept either; below): a brute-force campaign leaves tens of thousands
    of IPs behind, and a login weeks after an IP's last failure is not the end of its guessing.

    Failures can reach the stream after a login they came before: a bot's connection fails
    AUTH and stays open while another logs in and is done first; an smtpd killed before its
    disconnect line leaves a session that is handed on an hour later, or when the log ends. So
    each IP keeps its last LOGINS_KEPT successes, none that ended LATE_WINDOW (two hours) before
    its host's clock (IpActivity.logins), each with the IP's failures as it found them: a
    failure that comes later was of a session open longer after the login than smtpd lets
    one that fails AUTH stay open, or the correlator waits for a line of it. A failure logged
    before a kept success's session began, in a session that ended after it (by its logged
    end; an end not logged is not known before the session is handed on) and never logged in
    itself (its own success answered its typos, at a time Postfix does not log), is taken through
    those successes in the order they came, as though it had come first: each is judged again
    with it, and a guess now is recorded on its user, as one on time would have been (the
    earliest from its IP), until one answers it as above (a success naming no account forgets
    it unless its failures are a guess now; then it forgets none of those it found, and each
    goes on through the logins after it that it came before). One that none answers is
    pending, as failed before the IP's last login. What a failure adds never takes a guess
    back. As before: a failure logged before a success no longer kept (LOGINS_KEPT since, or
    one that ended LATE_WINDOW earlier) counts as though it came after them; failures the
    counters alone tell (no warning line, no time) stand at their session's end; one logged
    `guess_window` before the login it came before is forgotten; a log whose time runs back (a
    failure whose session's logged end came before the login's, after it in the stream) keeps
    the order of the stream; a login that reaches the stream late (its smtpd killed) is judged
    on the failures that reached the stream before it.

    Recipients are counted as the messages report counts them
    (model.Message.counted_recipients), in the hour their message was queued; recipients refused
    before any queue file, at the refusal.

DIAGNOSTICS
    None: every item of the stream is data; items of other types are passed on untouched.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import operator
import re
import typing
from collections import Counter
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from mypy_extensions import mypyc_attr

from maillog_sasl.correlate import SESSION_IDLE, account_of, fold_accounts
from maillog_sasl.events import is_loopback
from maillog_sasl.model import DEFERRED, OUTCOMES, QUEUED, REJECTED, SENT, Message, Session
from maillog_sasl.pairs import PairStore
from maillog_sasl.syslog import set_slots, slots_state

if typing.TYPE_CHECKING:
    from maillog_sasl.enrich import Enrichment

OUTCOME_INDEX = {outcome: index for index, outcome in enumerate(OUTCOMES)}
SENT_INDEX = OUTCOME_INDEX[SENT]
DEFERRED_INDEX = OUTCOME_INDEX[DEFERRED]
# An hour's and an account's counts of recipients are per outcome, then one more: those waiting,
# which qmgr counted and no delivery agent had logged when the log ended (model.Message.
# waiting_recipients(): a message in flight at the end of a log read while it is written, or
# queued behind a clogged queue). They are deferred in every total (the queue holds them) and
# in the burst rule's volume, but no failure: the failing rule counts only recipients tried.
WAITING_INDEX = len(OUTCOMES)
COUNTS = len(OUTCOMES) + 1
# A failed AUTH whose reason Postfix took from its authentication server's own trouble, not from
# the client's password: Dovecot's socket (xsasl_dovecot_server.c) and Cyrus SASL's server-side
# results (sasl_errstring() of SASL_FAIL, SASL_NOMEM, SASL_TRYAGAIN, SASL_UNAVAIL: saslauthd or a
# database down). While it is down every client's login fails, and each then logs in from the IP
# it failed from: that is no guess.
INFRASTRUCTURE_FAULTS = (
    "Connection lost to authentication server", "Can't connect to authentication server",
    "Authentication backend error", "generic failure", "no memory available",
    "transient failure", "remote authentication server unavailable",
)
# How many busy hours before an hour the burst rule needs to judge it against them alone: fewer
# are no account's usual (a log's first, cut hour; a newsletter's first test message).
RISING_HISTORY = 5
# An attacker chooses the usernames it tries; past this many per IP only "at least" matters.
USERNAMES_KEPT = 100
# Postfix's default maximal_queue_lifetime (5 days), and a day to spare.
SETTLE_AFTER = _dt.timedelta(days=6)
ONE_HOUR = _dt.timedelta(hours=1)
ONE_DAY = _dt.timedelta(days=1)
# A time further than this past its host's clock needs the host's next item to confirm it.
CLOCK_JUMP = _dt.timedelta(days=2)
# How many of an IP's last successes are kept for failures logged before them that reach the
# stream after them (IpActivity.logins): a bot's parallel connections, a NAT's busy minute.
LOGINS_KEPT = 16
# How long after its session's end, by its host's clock, a success is kept for them: such a
# failure's session was open when the success ended, and reaches the stream at its disconnect,
# or, that line lost, once its host has logged SESSION_IDLE without a line of it (looked at each
# ten minutes of its lines); smtpd's own limits (smtpd_timeout, the error limits) end a
# session that fails AUTH within minutes. Twice SESSION_IDLE leaves room for both.
LATE_WINDOW = 2 * SESSION_IDLE
# How many clients' networks are kept: logins come back from recent clients.
RECENT_CLIENTS = 4_096

# watch() passes every item on as it came, sessions, messages and anything else alike.
_Item = TypeVar("_Item")


class ThresholdError(ValueError):
    """A limit out of its range; str() names the field and the range."""


@mypyc_attr(native_class=False)
class Thresholds:
    """The limits of incident.py's rules; the defaults are the command line's defaults.

    Thresholds(hourly_recipients=200) takes any limits by name, the others their defaults;
    limits.replace(...) is a copy with some changed. Every limit has a range (RANGES): windows of
    up to a century keep the rules' date arithmetic inside datetime's years; a value outside one
    raises ThresholdError. Frozen, compared and hashed by value.

    A plain class rather than a frozen dataclass: the dataclasses module, and inspect, which it
    imports, cost every run 1.2 MB of memory. Its instances pickle as the dataclass's did (the
    instance's dict), so a watch state written by either reads with the other.
    """
    hourly_recipients: int = 100
    burst_factor: float = 10.0
    burst_minimum: int = 50
    failed_percent: float = 50.0
    failed_minimum: int = 20
    guess_failures: int = 3
    guess_usernames: int = 2
    guess_window: float = 7.0
    hop_networks: int = 4
    hop_window: float = 24.0
    baseline_days: float = 7.0
    shared_ip_accounts: int = 2
    nat_days: int = 2
    max_countries: int = 3
    travel_speed: float = 1000.0
    sender_mismatch: int = 0  # 0: the sender-mismatch rule is off

    def __init__(self, **limits: Union[int, float]) -> None:
        for name in limits:
            if name not in RANGES:
                raise TypeError(f"Thresholds() got an unexpected keyword argument {name!r}")
        for field, (low, high) in RANGES.items():
            value = limits.get(field, getattr(Thresholds, field))
            # NaN fails both comparisons.
            if not (isinstance(value, (int, float)) and low <= value <= high):
                raise ThresholdError(f"{field} must be from {_figure(low)} to {_figure(high)}, "
                                     f"not {value!r}")
            if isinstance(getattr(Thresholds, field), int) and not isinstance(value, int):
                # A count given as a float (the library's callers): kept as the int it is,
                # which the compiled rules (setup.py) require; a fraction is no count.
                if not value.is_integer():
                    raise ThresholdError(f"{field} must be a whole number, not {value!r}")
                value = int(value)
            object.__setattr__(self, field, value)

    def replace(self, **changes: Union[int, float]) -> Thresholds:
        return Thresholds(**{**self._limits(), **changes})

    def _limits(self) -> Dict[str, Union[int, float]]:
        # Read through the class: a state pickled before a limit existed has no value for it.
        return {field: getattr(self, field) for field in RANGES}

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Thresholds are frozen: {name} is changed by replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Thresholds are frozen: {name} cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Thresholds):
            return NotImplemented
        return self._limits() == other._limits()

    def __hash__(self) -> int:
        return hash(tuple(self._limits().values()))

    def __repr__(self) -> str:
        return "Thresholds(" + ", ".join(f"{field}={value!r}"
                                         for field, value in self._limits().items()) + ")"


def _figure(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


_COUNT = (1, 1e9)
_CENTURY_DAYS = 36_500
# field -> (lowest, highest) value; fractions of days and hours are fine.
RANGES = {
    "hourly_recipients": _COUNT, "burst_factor": (1e-3, 1e6), "burst_minimum": _COUNT,
    "failed_percent": (1e-3, 100), "failed_minimum": _COUNT, "guess_failures": _COUNT,
    "guess_usernames": _COUNT, "guess_window": (1e-3, _CENTURY_DAYS), "hop_networks": _COUNT,
    "hop_window": (1e-3, 24 * _CENTURY_DAYS), "baseline_days": (1e-3, _CENTURY_DAYS),
    "shared_ip_accounts": (2, 1e9), "nat_days": (1, _CENTURY_DAYS),
    "max_countries": _COUNT, "travel_speed": (1, 1e9), "sender_mismatch": (0, 1e9),
}


def failed_enough(recipients: int, failed: int, limits: Thresholds) -> bool:
    # Percent kept as given and compared in integers' terms: 10 of 20 at 50% must hold.
    return (recipients >= limits.failed_minimum
            and failed * 100 >= limits.failed_percent * recipients)


def beyond_usual(count: int, usual: Union[int, float], limits: Thresholds) -> bool:
    return count >= limits.burst_minimum and count >= limits.burst_factor * usual


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(r"\.".join([_OCTET] * 4) + r"(?:/[0-9]+)?\Z")


def block_of(address: str, v4_prefix: int, v6_prefix: int) -> str:
    """The network of `address` (an IP, or a network whose base is used) at the given prefix."""
    quad = _DOTTED_QUAD.match(address)
    if quad is not None and v4_prefix % 8 == 0:
        # Nearly every client, without ipaddress's objects.
        kept = v4_prefix // 8
        return ".".join(quad.groups()[:kept] + ("0",) * (4 - kept)) + f"/{v4_prefix}"
    return _other_block_of(address.split("/", 1)[0], v4_prefix, v6_prefix)


@functools.lru_cache(maxsize=1024)  # IPv6 clients and odd prefixes, each asked about often
def _other_block_of(base: str, v4_prefix: int, v6_prefix: int) -> str:
    try:
        parsed = ipaddress.ip_address(base)
    except ValueError:
        return base
    prefix = v4_prefix if parsed.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def failing_source(ip: str) -> str:
    """What an IP's failed AUTH are kept under: the IP, or for IPv6 its /64 (one host, or one
    customer's subnet: an attacker there rotates through 2**64 addresses)."""
    return ip if ":" not in ip else _ipv6_subnet(ip)


@functools.lru_cache(maxsize=1024)
def _ipv6_subnet(ip: str) -> str:
    try:
        parsed = ipaddress.IPv6Address(ip)
        if parsed.ipv4_mapped is not None:  # an IPv4 client: its address is its own
            return ip
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    except ValueError:  # not an address (Postfix's `unknown`), or one with a zone
        return ip


def network_of(ip: str) -> str:
    """The network a login is judged by: /24 for IPv4, /48 for IPv6 (one site or one ISP pool)."""
    return block_of(ip, 24, 48)


@functools.lru_cache(maxsize=RECENT_CLIENTS)  # every settled hour asks about its networks
def provider_of(ip_or_network: str) -> str:
    """The block a provider typically holds: /16 for IPv4, /32 for IPv6."""
    return block_of(ip_or_network, 16, 32)


def hour_of(when: _dt.datetime) -> _dt.datetime:
    return when.replace(minute=0, second=0, microsecond=0)


# The records below are compiled as native classes and pickle as plain ones do, as
# model.Stats (see there): their attributes read and their methods called directly, once or more
# for every item of the stream (5% of the default report's instructions), named here.
INTERNER_FIELDS = ("_found", "_size")
HOUR_FIELDS = ("logins", "ips", "networks", "outcomes", "auth_failures", "first_recipient")
BUSY_HOURS_FIELDS = ("_counts", "earliest", "rising")
HOP_WINDOW_FIELDS = ("events", "fired", "most", "busiest")
USER_FIELDS = ("name", "open_hours", "history", "messages", "guesses", "selected", "logins",
               "outcomes", "busy", "failing_since", "hops")
IP_FIELDS = ("pending_failures", "pending_usernames", "last_failure", "host", "username_failures",
             "older_usernames", "logins", "forgotten_login")
# An Activity has no slots: its state is the dict a plain class's instance has, its attributes
# and ACTIVITY_DEFAULTS, which one pickled before they were kept lacks.
ACTIVITY_DEFAULTS = {"enrichment": None, "_next_due": None, "_last_hour_end": None}
ACTIVITY_FIELDS = ("limits", "selection", "keep_hours", "users", "ips", "pairs", "first_time",
                   "last_time", "_unsettled", "_next_settling", "_guess_window", "_hop_span",
                   "_next_forgetting", "_last_hour", "_intern", "_networks", "_host_clock",
                   "_jumps", "clock_anomalies", "stats", *ACTIVITY_DEFAULTS)


class Interner:
    """One object for equal values among the last `size` met: the usernames, IPs, networks and
    hours that thousands of records repeat. Bounded, where sys.intern's table would keep every
    username an attacker tried."""
    __slots__ = INTERNER_FIELDS

    def __init__(self, size: int = 4_096):
        self._found: Dict[Any, Any] = {}  # value -> itself: read as the value's own type
        self._size = size

    def __getstate__(self) -> tuple:
        return slots_state(self, INTERNER_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)

    def __call__(self, value):
        found = self._found.get(value)
        if found is None:
            if len(self._found) >= self._size:
                self._found.clear()
            found = self._found[value] = value
        return found


def guessing_failures(session: Session) -> int:
    failed = session.failed_auth_count
    if not failed:  # nearly every session: no failure lines to read
        return 0
    faults = sum(1 for _, failure in session.auth_failures
                 if failure.reason.startswith(INFRASTRUCTURE_FAULTS))
    return max(failed - faults, 0)


class Guess(NamedTuple):
    """A successful login from an IP that had been failing AUTH."""
    time: _dt.datetime
    ip: str
    failures: int
    usernames: int


# An IP's failures as a login found them (IpActivity.failure_state()): pending_failures,
# pending_usernames, username_failures, older_usernames. Most logins find none: this one.
NO_FAILURES = (0, (), (), 0)


class SeenLogin(NamedTuple):
    """A recent success from an IP, kept so that a failure logged before it, in a session that
    ended after it, is judged as it would have been had it come first (IpActivity.logins)."""
    end: _dt.datetime  # its session's end
    time: _dt.datetime  # its session's start: a failure logged before it came before the login
    ip: str
    account: Optional[str]  # the UserActivity's name; None: Postfix named none
    before: tuple  # the IP's failures as it found them (IpActivity.failure_state())
    kept: bool  # named none and left the failures for the next login: they were a guess
    # Those of `before` that reached the stream before it (the others came late): they came
    # before every login after it, where a success naming none that forgot them passes them on.
    found: tuple
    serial: int  # its place among the IP's logins: one after it in the stream has a higher one
    # The failures of `before` that came late and that it forgot (it named none and they were
    # no guess), each as LateFailure with the place where it came: should a later one make
    # them a guess, each goes on through the logins after it that it came before.
    forgot: tuple


class LateFailure(NamedTuple):
    """A failure from an IP that a success naming none forgot (SeenLogin.forgot), and where it
    came: before the IP's logins after `marker` (their SeenLogin.serial) in the stream, and
    before those that began after `when` and ended by `bound` (None: whenever they ended)."""
    username: Optional[str]  # the username it named (lower case); None: none
    earlier: bool  # it was logged before a login of another account (IpActivity.add_failure())
    when: Optional[_dt.datetime]  # None: it reached the stream before every login after marker
    bound: Optional[_dt.datetime]
    marker: int

    def came_before(self, login: SeenLogin) -> bool:
        when, bound = self.when, self.bound
        return login.serial > self.marker or (
            when is not None and when < login.time and (bound is None or login.end <= bound))


# Shared read-only empties that an Hour or a BusyHours holds until its first write replaces
# them (tested by identity before every write): reading them is all the code does, and a write
# would fail loudly, not corrupt every user. Typed Any, as are the attributes that hold them (the
# container each stands in for is in a comment): compiled code (setup.py) checks a declared type
# on every read, and these are not what they stand in for.
_NO_IPS: Any = ()
_NO_NETWORKS: Any = MappingProxyType({})
_NO_OUTCOMES: Any = (0,) * COUNTS
_NO_EARLIEST: Any = MappingProxyType({})
# The same empties by name, for a pickler that keeps an Activity across runs (state.py): they
# are told apart by identity, so a stored Activity must get these very objects back.
SHARED_EMPTIES: Dict[str, object] = {"ips": _NO_IPS, "networks": _NO_NETWORKS,
                                     "outcomes": _NO_OUTCOMES, "earliest": _NO_EARLIEST}


class Hour:
    """One user's activity in one clock hour."""
    __slots__ = HOUR_FIELDS

    def __init__(self) -> None:
        # Most hours hold only logins or only recipients: the containers start as shared
        # empties and are made on the first write (a busy server has users x hours of these).
        self.logins = 0
        self.ips: Any = _NO_IPS  # List[str]
        # network -> [first login, last login, IP of the first]: for a window of an hour or
        # more, whether a network logged in within it is decided by these two times alone.
        self.networks: Any = _NO_NETWORKS  # Dict[str, list]
        self.outcomes: Any = _NO_OUTCOMES  # List[int]
        self.auth_failures = 0
        self.first_recipient: Optional[_dt.datetime] = None

    def __getstate__(self) -> tuple:
        return slots_state(self, HOUR_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)
        self.outcomes = with_waiting(self.outcomes)

    def login(self, ip: str, network: str, when: _dt.datetime) -> None:
        """A successful login from `ip` (in `network`) at `when`."""
        ips = self.ips
        if ips is _NO_IPS:
            ips = self.ips = []
            self.networks = {}
        self.logins += 1
        if ip not in ips:
            # A list: an hour seldom sees more than a few IPs, and a set costs four times more.
            ips.append(ip)
        seen = self.networks.get(network)
        if seen is None:
            self.networks[network] = [when, when, ip]
        elif when > seen[1]:
            seen[1] = when
        elif when < seen[0]:
            seen[0] = when

    def count(self, outcomes: Iterable[str], when: _dt.datetime) -> None:
        """Recipients submitted at `when`, one final outcome each."""
        counts = self.outcomes
        if counts is _NO_OUTCOMES:
            counts = self.outcomes = [0] * COUNTS
        for outcome in outcomes:
            counts[OUTCOME_INDEX[outcome]] += 1
        first = self.first_recipient
        if first is None or when < first:
            self.first_recipient = when

    def wait(self, waiting: int) -> None:
        """Of the deferred recipients count() was given last, `waiting` were never tried."""
        counts = self.outcomes
        counts[DEFERRED_INDEX] -= waiting
        counts[WAITING_INDEX] += waiting

    @property
    def recipients(self) -> int:
        return sum(self.outcomes)

    def totals(self) -> List[int]:
        """Recipients per outcome, in OUTCOMES order (those waiting deferred)."""
        return deferred_totals(self.outcomes)

    def absorb(self, other: Hour) -> None:
        """Take in `other`, the same hour of the same account (UserActivity.absorb())."""
        if other.ips:
            if self.ips is _NO_IPS:
                self.ips, self.networks = [], {}
            self.ips.extend(ip for ip in other.ips if ip not in self.ips)
            for network, (first, last, ip) in other.networks.items():
                seen = self.networks.setdefault(network, [first, last, ip])
                if first < seen[0]:
                    seen[0], seen[2] = first, ip
                seen[1] = max(seen[1], last)
        self.logins += other.logins
        if other.first_recipient is not None:
            self.count((), other.first_recipient)
            self.outcomes[:] = map(operator.add, self.outcomes, other.outcomes)
        self.auth_failures += other.auth_failures


def deferred_totals(counts) -> List[int]:
    """An hour's or account's `counts` as recipients per outcome: those waiting deferred."""
    totals = list(counts[:WAITING_INDEX])
    totals[DEFERRED_INDEX] += counts[WAITING_INDEX]
    return totals


def with_waiting(counts: Any) -> Any:
    """`counts` as kept by a watch state from before waiting recipients were counted apart
    (a list of one count an outcome), with none waiting; the shared empty comes back as
    itself (state.py)."""
    return counts if len(counts) == COUNTS else [*counts, 0]


class BusyHours:
    """The hours in which a user sent anything: how many had each recipient count, and for the
    counts that could fire the burst rule, the earliest such hour and its first recipient; and
    the first hour that was a burst against the hours before it."""
    __slots__ = BUSY_HOURS_FIELDS

    def __init__(self) -> None:
        # count, hours with it, count, hours with it, ...: flat, as every account keeps one for
        # the whole log, and most have a few distinct counts.
        self._counts: List[int] = []
        # count -> (hour, its first recipient's time); made on the first count that could fire.
        self.earliest: Any = _NO_EARLIEST  # Dict[int, tuple]
        # (hour, its first recipient's time, its count, the median busy hour before it) of the
        # first hour of at least burst_minimum and burst_factor x the hours before it: a spam
        # run of as many hours as the account's history moves the median of all to its own.
        self.rising: Optional[tuple] = None

    def __getstate__(self) -> tuple:
        return slots_state(self, BUSY_HOURS_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        self.rising = None  # a state kept before it came (watch._ADDED)
        set_slots(self, state)

    @property
    def hours_by_count(self) -> Dict[int, int]:
        return dict(zip(self._counts[::2], self._counts[1::2]))

    def add(self, key: _dt.datetime, recipients: int, first_recipient: _dt.datetime,
            limits: Thresholds) -> None:
        counts = self._counts
        # Hours come in time order (UserActivity.settle()): the median so far is of the hours
        # before this one, when there are enough of them to be the account's usual.
        if (self.rising is None and recipients >= limits.burst_minimum
                and sum(counts[1::2]) >= RISING_HISTORY):
            before = self.median()
            if beyond_usual(recipients, before, limits):
                self.rising = (key, first_recipient, recipients, before)
        # The counts searched in C: an attacked account has dozens.
        known = counts[::2]
        if recipients in known:
            counts[2 * known.index(recipients) + 1] += 1
        else:
            counts += (recipients, 1)
        # No smaller count can fire either limit of the burst rule.
        if recipients >= min(limits.hourly_recipients + 1, limits.burst_minimum):
            if self.earliest is _NO_EARLIEST:
                self.earliest = {}
            earliest = self.earliest.get(recipients)
            if earliest is None or key < earliest[0]:
                self.earliest[recipients] = (key, first_recipient)

    def median(self) -> Union[int, float]:
        """The median recipient count of the busy hours (statistics.median's): an int, or the
        mean of two. (Not typed float: compiled, an int returned as float becomes one.)"""
        hours_by_count = self.hours_by_count
        hours = sum(hours_by_count.values())
        middle: List[int] = []
        passed = 0
        for count in sorted(hours_by_count):
            passed += hours_by_count[count]
            while len(middle) < 2 and passed > ((hours - 1) // 2, hours // 2)[len(middle)]:
                middle.append(count)
        return middle[0] if hours % 2 else (middle[0] + middle[1]) / 2

    def absorb(self, other: BusyHours) -> None:
        """Take in `other`, the same account's under another spelling (UserActivity.absorb()):
        the hours of each count added up, each count's earliest hour and the earlier rising
        hour kept (which hour rose against the hours of both before it is not known: those are
        summarised)."""
        counts = self._counts
        known = counts[::2]
        for count, hours in other.hours_by_count.items():
            if count in known:
                counts[2 * known.index(count) + 1] += hours
            else:
                counts += (count, hours)
        for count, found in other.earliest.items():
            if self.earliest is _NO_EARLIEST:
                self.earliest = {}
            earliest = self.earliest.get(count)
            if earliest is None or found[0] < earliest[0]:
                self.earliest[count] = found
        if other.rising is not None and (self.rising is None or other.rising < self.rising):
            self.rising = other.rising


class HopWindow:
    """The hopping rule's sliding window over one user's network logins, in time order: the
    first moment `limit` networks fell within `span`, and the most that ever did."""
    __slots__ = HOP_WINDOW_FIELDS

    def __init__(self) -> None:
        # time, network, time, network, ... inside the window, oldest first. One flat list, no
        # deque, no count per network beside it: a user's window holds a few logins, and every
        # account keeps one for the whole log.
        self.events: list = []
        self.fired: Optional[tuple] = None  # (time, sorted networks) when it first held
        self.most = 0
        # (time, sorted networks) of the first window that held `most`: the reason names the
        # networks of the window its count comes from, not those of the first one.
        self.busiest: Optional[tuple] = None

    def __getstate__(self) -> tuple:
        return slots_state(self, HOP_WINDOW_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)

    def add(self, when: _dt.datetime, network: str, span: _dt.timedelta, limit: int) -> None:
        events = self.events
        # A network the window holds leaves it with no more networks than it had, which `most`
        # has counted and `fired` judged (unless the limit was lowered since): no set to make.
        # An account of the submission benchmark log has ~50 logins from a few networks in it.
        known = network in events[1::2] and (self.fired is not None or self.most < limit)
        events += (when, network)
        start = when - span
        if events[0] < start:
            self.forget_before(start)
        if known:
            return
        # Most windows hold one login: no set of one network to make.
        inside = set(events[1::2]) if len(events) > 2 else (network,)
        if self.fired is None and len(inside) >= limit:
            self.fired = (when, sorted(inside))
        if len(inside) > self.most:
            self.most = len(inside)
            if self.fired is not None:
                self.busiest = (when, sorted(inside))

    def forget_before(self, moment: _dt.datetime) -> None:
        events = self.events
        left = 0
        while left < len(events) and events[left] < moment:
            left += 2
        del events[:left]

    def absorb(self, other: HopWindow, span: _dt.timedelta, limit: int) -> None:
        """Take in `other`, the same account's under another spelling (UserActivity.absorb()):
        the logins of both windows, in time order; the earlier time either held, or both
        together; the most networks any of these held."""
        merged = HopWindow()
        for when, network in sorted(zip(self.events[::2] + other.events[::2],
                                        self.events[1::2] + other.events[1::2])):
            merged.add(when, network, span, limit)
        held = [window.fired for window in (merged, self, other) if window.fired is not None]
        busiest = max((merged, self, other), key=lambda window: window.most)
        self.events = merged.events
        self.fired = min(held, key=lambda fired: fired[0]) if held else None
        self.most, self.busiest = busiest.most, busiest.busiest


class UserActivity:
    """One account: its open hours, and the summary of its settled ones."""
    __slots__ = USER_FIELDS

    def __init__(self, name: str = ""):  # "": unpickled, its state names it
        self.name = name
        self.open_hours: Dict[_dt.datetime, Hour] = {}
        self.history: Dict[_dt.datetime, Hour] = {}  # every Hour, with keep_hours
        self.messages = 0
        self.guesses: Dict[str, Guess] = {}  # client IP -> the first guessed login from it
        self.selected = False  # some session or message of the user passes the Selection
        # The summary of settled hours.
        self.logins = 0
        # Recipients per outcome, in OUTCOMES order, then those waiting (COUNTS, written so
        # that the engine's format, hashed from this code, stays: a state of the version
        # before, one count fewer, is read by __setstate__, and that version reads this one's).
        self.outcomes = [0] * (len(OUTCOMES) + 1)
        self.busy = BusyHours()
        self.failing_since: Optional[_dt.datetime] = None
        self.hops: Optional[HopWindow] = None

    def __getstate__(self) -> tuple:
        return slots_state(self, USER_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)
        self.outcomes = with_waiting(self.outcomes)

    def totals(self) -> List[int]:
        """Recipients per outcome, in OUTCOMES order (those waiting deferred)."""
        return deferred_totals(self.outcomes)

    def tried(self) -> List[int]:
        """Recipients per outcome, in OUTCOMES order, of those tried (none waiting): what the
        failing rule counts."""
        return list(self.outcomes[:WAITING_INDEX])

    def absorb(self, other: UserActivity, limits: Thresholds, hop_span: _dt.timedelta) -> None:
        """Take in `other`, the same account kept under another spelling of its name
        (Activity.fold_accounts()): the hours of both, an hour of each merged; counts added up;
        of what came first (a guess from an IP, the failing rule's first hour, the hopping
        window's) the earlier. (A failing rule that holds on the figures of both only is
        found at the account's next busy hour: the hours before are summarised.)"""
        for hours, others in ((self.open_hours, other.open_hours), (self.history, other.history)):
            for key, hour in others.items():
                if key in hours:
                    hours[key].absorb(hour)
                else:
                    hours[key] = hour
        self.messages += other.messages
        for ip, guess in other.guesses.items():
            if ip not in self.guesses or guess.time < self.guesses[ip].time:
                self.guesses[ip] = guess
        self.selected = self.selected or other.selected
        self.logins += other.logins
        self.outcomes[:] = map(operator.add, self.outcomes, other.outcomes)
        self.busy.absorb(other.busy)
        failing = other.failing_since
        if failing is not None and (self.failing_since is None or failing < self.failing_since):
            self.failing_since = failing
        if self.hops is None:
            self.hops = other.hops
        elif other.hops is not None:
            self.hops.absorb(other.hops, hop_span, limits.hop_networks)

    def settle(self, key: _dt.datetime, hour: Hour, limits: Thresholds, hop_span: _dt.timedelta,
               pairs: PairStore) -> None:
        """Fold one hour into the summary (its networks into `pairs`); hours come in time order
        (see the module's note). `hop_span`: the limits' hop_window, made once by the caller (a
        timedelta of float hours costs more than settling most hours)."""
        self.logins += hour.logins
        if hour.networks:
            self._settle_networks(key, hour.networks, limits, hop_span, pairs)
        first_recipient = hour.first_recipient
        # Set by count(), which also gives the hour outcomes of its own (not _NO_OUTCOMES).
        if first_recipient is not None:
            outcomes = self.outcomes
            outcomes[:] = map(operator.add, outcomes, hour.outcomes)
            self.busy.add(key, hour.recipients, first_recipient, limits)
            tried = sum(outcomes) - outcomes[WAITING_INDEX]
            if self.failing_since is None and failed_enough(
                    tried, tried - outcomes[SENT_INDEX], limits):
                self.failing_since = first_recipient

    def _settle_networks(self, key, networks: Dict[str, list], limits: Thresholds,
                         span: _dt.timedelta, pairs: PairStore) -> None:
        if self.hops is None:
            self.hops = HopWindow()
        hops, limit = self.hops, limits.hop_networks
        if len(networks) == 1:  # most hours: its first and last login, in order
            ((network, (first, last, _ip)),) = networks.items()
            hops.add(first, network, span, limit)
            if last != first:
                hops.add(last, network, span, limit)
        else:
            for when, network in sorted({(when, network) for network, (first, last, _ip)
                                         in networks.items() for when in (first, last)}):
                hops.add(when, network, span, limit)
        day = key.date()
        for network, (first, _last, ip) in networks.items():
            pairs.network(self.name, network, first, ip)
            pairs.provider_day(self.name, provider_of(network), day)


class IpActivity:
    __slots__ = IP_FIELDS

    def __init__(self) -> None:
        self.host: Optional[str] = None  # the host that logged its last failures
        # Failed AUTH from this IP that no login since has answered: a login forgets those
        # naming its account and those naming none (Postfix before 3.9 names none).
        self.pending_failures = 0
        # The usernames of those failures, interned: a campaign tries the same few from
        # thousands of IPs. A tuple, as most IPs try only a handful.
        self.pending_usernames: tuple = ()
        # How many of the failures named each of them, in the same order.
        self.username_failures: tuple = ()
        # How many of them, at the start, failed only before the IP's last login: the rule of
        # distinct usernames reads those since (a colleague's old device, a misspelled name that
        # never logs in, would otherwise make every login from an office's NAT a guess).
        self.older_usernames = 0
        self.last_failure: Optional[_dt.datetime] = None
        # The last successes from the IP (SeenLogin), in the order their sessions ended: at most
        # LOGINS_KEPT, none that ended LATE_WINDOW before the host's clock.
        self.logins: List[SeenLogin] = []
        # The start of the newest success no longer kept: a failure logged before it cannot be
        # placed among the logins, and counts as though it came after them.
        self.forgotten_login: Optional[_dt.datetime] = None

    def __getstate__(self) -> tuple:
        return slots_state(self, IP_FIELDS)

    def __setstate__(self, state: tuple) -> None:
        set_slots(self, state)
        if "logins" not in state[1]:
            # Kept before the logins came (watch._ADDED): none is known, and a failure logged
            # before the state was kept counts as one after them.
            self.logins = []
            self.forgotten_login = None
        if "username_failures" not in state[1]:
            # Kept before the counts came (watch._ADDED): its failures read as naming none, and
            # as failed since the IP's last login.
            self.username_failures = (0,) * len(self.pending_usernames)
            self.older_usernames = 0

    def failure_state(self) -> tuple:
        """The failures as they stand (SeenLogin.before); restored() makes them an IpActivity."""
        if not self.pending_failures and not self.pending_usernames:
            return NO_FAILURES
        return (self.pending_failures, self.pending_usernames, self.username_failures,
                self.older_usernames)

    @staticmethod
    def restored(failures: tuple) -> IpActivity:
        state = IpActivity()
        (state.pending_failures, state.pending_usernames, state.username_failures,
         state.older_usernames) = failures
        return state

    def forget_failures(self) -> None:
        self.pending_failures = 0
        self.pending_usernames = ()
        self.username_failures = ()
        self.older_usernames = 0
        self.last_failure = None

    def failed(self, username: str) -> None:
        """One more failure naming `username` (of those pending_failures counts)."""
        usernames, counts = self.pending_usernames, self.username_failures
        if username in usernames:
            at = usernames.index(username)
            count = counts[at] + 1
            if at < self.older_usernames:  # failing again since the IP's last login
                self.older_usernames -= 1
                self.pending_usernames = usernames[:at] + usernames[at + 1:] + (username,)
                self.username_failures = counts[:at] + counts[at + 1:] + (count,)
            else:
                self.username_failures = counts[:at] + (count,) + counts[at + 1:]
        else:
            if len(usernames) >= USERNAMES_KEPT:
                if not self.older_usernames:
                    return  # past this many since the IP's last login, it reads as naming none
                # The oldest of those before the IP's last login makes room: on a busy NAT they
                # would stay, and every name after them read as naming none, anyone's.
                self.pending_failures -= counts[0]
                self.older_usernames -= 1
                usernames, counts = usernames[1:], counts[1:]
            self.pending_usernames = usernames + (username,)
            self.username_failures = counts + (1,)

    def add_failure(self, username: Optional[str], earlier: bool) -> None:
        """One more failure, naming `username` (None: none); `earlier`: logged before the IP's
        last login, which was not its account's."""
        self.pending_failures += 1
        if username is None:
            return
        if not earlier:
            self.failed(username)
            return
        usernames, counts = self.pending_usernames, self.username_failures
        if username in usernames:  # where it is: failing since the last login, or before too
            at = usernames.index(username)
            self.username_failures = counts[:at] + (counts[at] + 1,) + counts[at + 1:]
        elif len(usernames) < USERNAMES_KEPT:  # past this many, it reads as naming none
            older = self.older_usernames
            self.pending_usernames = usernames[:older] + (username,) + usernames[older:]
            self.username_failures = counts[:older] + (1,) + counts[older:]
            self.older_usernames = older + 1

    def counts(self) -> List[Tuple[Optional[str], int, bool]]:
        """(username, its failures, whether they came before the IP's last login) for each
        username, and (None, count, False) for the failures naming none."""
        older = self.older_usernames
        counts: List[Tuple[Optional[str], int, bool]] = [
            (name, count, at < older) for at, (name, count)
            in enumerate(zip(self.pending_usernames, self.username_failures))]
        unnamed = self.unnamed_failures()
        return counts + [(None, unnamed, False)] if unnamed else counts

    def recent_usernames(self) -> tuple:
        """The usernames that failed since the IP's last login."""
        return self.pending_usernames[self.older_usernames:]

    def unnamed_failures(self) -> int:
        """The failures that named no account (or one past USERNAMES_KEPT)."""
        return max(self.pending_failures - sum(self.username_failures), 0)

    def most_failures_of_one(self) -> int:
        """The most failures_of() any username has: what a login after them could be judged
        on."""
        return max(self.username_failures, default=0) + self.unnamed_failures()

    def failures_of(self, username: str) -> int:
        """The failures that may have been `username`'s: those naming it, and those naming
        none."""
        usernames = self.pending_usernames
        own = (self.username_failures[usernames.index(username)] if username in usernames
               else 0)
        return own + self.unnamed_failures()

    def evidence(self, username: str) -> Tuple[int, int]:
        """(failures, usernames) a login as `username` is judged on: those that may have been
        its own (failures_of()) and the others' since the IP's last login."""
        recent = self.recent_usernames()
        counts = self.username_failures[self.older_usernames:]
        others = sum(count for name, count in zip(recent, counts) if name != username)
        own_older = username in self.pending_usernames[:self.older_usernames]
        return self.failures_of(username) + others, len(recent) + own_older

    def logged_in(self, username: str) -> None:
        """A login as `username`: its failures, and those naming none, are answered; the
        others' are older than the IP's last login now."""
        usernames, counts = self.pending_usernames, self.username_failures
        if username in usernames:
            at = usernames.index(username)
            usernames = self.pending_usernames = usernames[:at] + usernames[at + 1:]
            counts = self.username_failures = counts[:at] + counts[at + 1:]
        self.pending_failures = sum(counts)
        self.older_usernames = len(usernames)

    def forget_failures_before(self, moment: _dt.datetime) -> None:
        """Forget the failures if the last of them came before `moment`."""
        if self.last_failure is not None and self.last_failure < moment:
            self.forget_failures()

    def seen(self, end: _dt.datetime, time: _dt.datetime, ip: str, account: Optional[str],
             before: tuple, kept: bool) -> None:
        """A success from the IP, kept for the failures logged before it still to come
        (SeenLogin's fields)."""
        logins = self.logins
        # Serials are compared only among the logins kept: with none, they start again.
        serial = logins[-1].serial + 1 if logins else 0
        if len(logins) >= LOGINS_KEPT:
            self._forgot(logins.pop(0).time)
        logins.append(SeenLogin(end, time, ip, account, before, kept, before, serial, ()))

    def forget_logins_before(self, moment: _dt.datetime) -> None:
        """Forget the logins whose session ended before `moment`, LATE_WINDOW ago: a failure
        logged before them still to come would be of a session open that long after them."""
        logins = self.logins
        if logins and logins[0].end < moment:  # in the order they ended: most sessions, none
            self._forget_logins(lambda login: login.end < moment)

    def forget_logins_of(self, account: str) -> None:
        """Forget the logins as `account` (its password was reset): a failure logged before
        them counts as though it came after them, as for any login no longer kept."""
        self._forget_logins(lambda login: login.account == account)

    def _forget_logins(self, forgotten: Callable[[SeenLogin], bool]) -> None:
        starts = [login.time for login in self.logins if forgotten(login)]
        if starts:
            self._forgot(max(starts))
            self.logins = [login for login in self.logins if not forgotten(login)]

    def _forgot(self, start: _dt.datetime) -> None:
        forgotten = self.forgotten_login
        if forgotten is None or start > forgotten:
            self.forgotten_login = start

    @property
    def matters(self) -> bool:
        """False when it holds nothing a fresh IpActivity would not."""
        return bool(self.pending_failures or self.pending_usernames or self.logins)


class Activity:
    """The facts of one pass; see the module docstring."""

    # Set by the caller (incident.enrichment_of) to pass each login and submission on to the
    # location and sender rules; a class default (ACTIVITY_DEFAULTS gives it to a kept
    # Activity pickled without it).
    enrichment: Optional[Enrichment] = None
    # When observe() next has settling or forgetting to do, and the end of the hour _hour() last
    # found; class defaults too, as ACTIVITY_DEFAULTS (None: not known yet, worked out at the
    # next item).
    _next_due: Optional[_dt.datetime] = None
    _last_hour_end: Optional[_dt.datetime] = None

    def __init__(self, limits: Optional[Thresholds] = None, selection=None,
                 keep_hours: bool = False, stats=None, pairs: Optional[PairStore] = None):
        self.limits = limits if limits is not None else Thresholds()
        self.selection = selection
        self.keep_hours = keep_hours
        self.users: Dict[str, UserActivity] = {}
        self.ips: Dict[str, IpActivity] = {}
        # Deleted with the Activity (SQLite removes its file when the connection goes), unless
        # given (`watch` keeps them in its state).
        self.pairs = pairs if pairs is not None else PairStore()
        self.first_time: Optional[_dt.datetime] = None
        self.last_time: Optional[_dt.datetime] = None
        self._unsettled: Dict[_dt.datetime, List[UserActivity]] = {}  # hour -> users with it open
        self._next_settling: Optional[_dt.datetime] = None
        self._guess_window = _dt.timedelta(days=self.limits.guess_window)
        self._hop_span = _dt.timedelta(hours=self.limits.hop_window)
        self._next_forgetting: Optional[_dt.datetime] = None
        self._last_hour: Optional[_dt.datetime] = None  # the hour _hour() last found
        # Measured on the submission benchmark log: 1.2 MB of the default report's 50 MB peak.
        self._intern = Interner()
        self._networks: Dict[str, str] = {}  # the last clients' networks
        self._host_clock: Dict[str, _dt.datetime] = {}  # host -> the latest time it reached
        self._jumps: Dict[str, _dt.datetime] = {}  # host -> a time far ahead, not confirmed
        self.clock_anomalies = 0
        self.stats = stats  # model.Stats that counts the anomalies too, for --stats

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in ACTIVITY_FIELDS}

    def __setstate__(self, state: dict) -> None:
        # (Compiled, unpickling ran __init__ first: the PairStore it made is replaced here.)
        set_slots(self, (None, {**ACTIVITY_DEFAULTS, **state}))

    def set_limits(self, limits: Thresholds) -> None:
        """Judge what comes from now on by `limits` (a kept Activity whose limits were changed:
        what was summarised before keeps the bookkeeping of the old ones)."""
        self.limits = limits
        self._guess_window = _dt.timedelta(days=limits.guess_window)
        self._hop_span = _dt.timedelta(hours=limits.hop_window)

    def forget(self, name: str) -> None:
        """Drop an account, its open hours and its logins kept on its IPs (`watch`: its
        password was reset)."""
        user = self.users.pop(name, None)
        if user is None:
            return
        # A failure that reaches the stream late would otherwise judge one of them again, and
        # record its guess on the account as it is now, which its own failures have made again.
        for state in self.ips.values():
            state.forget_logins_of(name)
        for key in user.open_hours:
            waiting = self._unsettled.get(key)
            if waiting is not None:
                waiting[:] = [other for other in waiting if other is not user]
                if not waiting:
                    del self._unsettled[key]

    def fold_accounts(self) -> None:
        """Merge the records of an account kept under several spellings of its name (`Alice`,
        `ALICE`: a watch state of a version before correlate.account_of()) into the account's
        (`alice`), its own or its location facts', and name it so where its logins are kept
        on their IPs and its hours wait to be settled."""
        limits, span = self.limits, self._hop_span
        if not fold_accounts(self.users, lambda kept, other: kept.absorb(other, limits, span)):
            return
        users = self.users
        for name, user in users.items():
            user.name = name
        for waiting in self._unsettled.values():
            waiting[:] = dict.fromkeys(users[account_of(user.name)] for user in waiting)
        for state in self.ips.values():
            state.logins = [login if login.account is None
                            else login._replace(account=account_of(login.account))
                            for login in state.logins]
        if self.enrichment is not None:
            self.enrichment.fold_accounts()

    def observe(self, item: object) -> None:
        if isinstance(item, Session):
            self._session(item)
        elif isinstance(item, Message):
            self._message(item)
        else:
            return
        self._catch_up_if_due()

    def watch(self, finished: Iterable[_Item]) -> Iterator[_Item]:
        """The items of `finished`, each recorded as it passes (observe()'s work, written out),
        then close(). One loop for the whole stream rather than observe() for each item: two
        calls less for each of a log's items."""
        session, message = self._session, self._message
        for item in finished:
            if isinstance(item, Session):
                session(item)
            elif isinstance(item, Message):
                message(item)
            else:
                yield item
                continue
            last_time, due = self.last_time, self._next_due
            # _catch_up_if_due() written out: settling and forgetting fall due once an hour.
            if last_time is not None and (due is None or last_time >= due):
                self._catch_up(last_time)
            yield item
        self.close()

    def _catch_up_if_due(self) -> None:
        last_time, due = self.last_time, self._next_due
        # One comparison an item: settling and forgetting fall due at most once an hour.
        if last_time is not None and (due is None or last_time >= due):
            self._catch_up(last_time)

    def _catch_up(self, last_time: _dt.datetime) -> None:
        """Settle and forget what the stream, now at `last_time`, has moved past."""
        if not self.keep_hours and (self._next_settling is None
                                    or last_time >= self._next_settling):
            self._settle(last_time - SETTLE_AFTER - ONE_HOUR)
            self._next_settling = last_time + ONE_HOUR
        if self._next_forgetting is None or last_time >= self._next_forgetting:
            self._forget_idle_ips()
            self._forget_old_hops(last_time - SETTLE_AFTER - 2 * ONE_HOUR - self._hop_span)
            self._next_forgetting = last_time + ONE_DAY
        self._next_due = (self._next_forgetting if self._next_settling is None
                          else min(self._next_settling, self._next_forgetting))

    def close(self) -> None:
        """The stream has ended: settle every hour, so that the summaries are final."""
        for _ in self._jumps:
            self._anomaly()
        self._jumps.clear()
        if self.keep_hours:
            for user in self.users.values():
                user.history = dict(user.open_hours)
        if self._unsettled:
            self._settle(max(self._unsettled))

    def _settle(self, through: _dt.datetime) -> None:
        """Settle every open hour up to the one starting at `through`, oldest first."""
        limits = self.limits
        for key in sorted(key for key in self._unsettled if key <= through):
            for user in self._unsettled.pop(key):
                user.settle(key, user.open_hours.pop(key), limits, self._hop_span, self.pairs)
                if not user.open_hours:
                    user.open_hours = {}  # not the emptied one: a dict keeps its largest table

    def _forget_old_hops(self, before: _dt.datetime) -> None:
        """Hours are settled in time order, so the hopping windows will only meet logins after
        the last settled hour: what is a span older than that leaves every window at its next
        login anyway. Forgotten now, an account that stopped logging in keeps no window."""
        for user in self.users.values():
            if user.hops is not None:
                user.hops.forget_before(before)

    def _forget_idle_ips(self) -> None:
        """Failures that stopped `guess_window` before the latest time of the host that logged
        them can no longer make a guess, nor can failures still to come be logged before logins
        that ended LATE_WINDOW before it: forget them, and the IPs left with nothing to
        remember."""
        clocks, window = self._host_clock, self._guess_window
        for state in self.ips.values():
            clock = (clocks.get(state.host) if state.host is not None else None) or self.last_time
            if clock is not None:
                state.forget_failures_before(clock - window)
                state.forget_logins_before(clock - LATE_WINDOW)
        # A new dict, not deletions: a dict keeps the table of its largest size, and a
        # brute-force campaign makes it tens of thousands of IPs large.
        self.ips = {ip: state for ip, state in self.ips.items() if state.matters}

    def ips_per_user(self) -> Counter:
        """account -> how many client IPs it logged in from."""
        return self.pairs.ips_per_account()

    def user(self, name: str) -> UserActivity:
        found = self.users.get(name)
        if found is None:
            found = self.users[name] = UserActivity(name)
        return found

    def _hour(self, user: UserActivity, when: _dt.datetime) -> Hour:
        key, end = self._last_hour, self._last_hour_end
        # Neighbouring items of the stream nearly always fall in the same hour.
        if key is None or end is None or not key <= when < end:
            key = self._last_hour = self._intern(hour_of(when))
            self._last_hour_end = key + ONE_HOUR
        found = user.open_hours.get(key)
        if found is None:
            found = user.open_hours[key] = Hour()
            self._unsettled.setdefault(key, []).append(user)
        return found

    def _network_of(self, ip: str) -> str:
        found = self._networks.get(ip)
        if found is None:
            if len(self._networks) >= RECENT_CLIENTS:
                self._networks.clear()
            found = self._networks[ip] = self._intern(network_of(ip))
        return found

    def _seen(self, host: str, earliest: Optional[_dt.datetime],
              latest: Optional[_dt.datetime]) -> bool:
        """Move the clocks on to an item of `host` that ran from `earliest` to `latest`; False
        when its time is a clock anomaly, which moves no clock.

        A time more than CLOCK_JUMP past its host's latest (or, for a host's first item, past
        every host's) is taken only when the host's next item confirms it (the log had a gap);
        otherwise it is counted as an anomaly (a host whose clock was wrong for a moment, a
        second host whose clock is months ahead), and forgetting and settling, which follow
        the clocks, never jump with it.
        """
        latest = latest or earliest
        if latest is None:
            return True
        known = self._host_clock.get(host)
        # A third of the items end in their host's latest second: no clock moves for them.
        if known is None or latest > known:
            # The host's first item is judged against every host's latest (if any).
            if latest > (known or self.last_time or latest) + CLOCK_JUMP:
                if self._jumps.pop(host, None) is None:
                    self._jumps[host] = latest
                    return False
            elif self._jumps:
                self._in_line(host)
            self._host_clock[host] = latest
            # last_time is the latest of the hosts' clocks: it moves only with one of them.
            last_time = self.last_time
            if last_time is None or latest > last_time:
                self.last_time = latest
        elif self._jumps:
            self._in_line(host)
        first_time = self.first_time
        if first_time is None or (earliest or latest) < first_time:
            self.first_time = earliest or latest
        return True

    def _in_line(self, host: str) -> None:
        """An item of `host` in line with its clock: the far time it had before, if any, was
        an anomaly."""
        if self._jumps.pop(host, None) is not None:
            self._anomaly()

    def _anomaly(self) -> None:
        self.clock_anomalies += 1
        if self.stats is not None:
            self.stats.clock_anomalies += 1

    def _session(self, session: Session) -> None:
        start = session.start
        on_time = self._seen(session.host, start, session.end)
        client = session.client_ip
        # The Interner's table read here first: calling the Interner costs four lookups.
        ip = self._intern._found.get(client) or self._intern(client)
        source = failing_source(ip)
        ips = self.ips
        state = ips.get(source)
        if state is not None and on_time and start is not None:
            state.forget_failures_before(start - self._guess_window)
            state.forget_logins_before(start - LATE_WINDOW)
        auth = session.auth
        # guessing_failures() and failed_auth_count read, for nearly every session, that it
        # failed no AUTH: told here first, from its counters and failure lines (the rule of
        # model.Session.failed_auth_count, which must stay the same).
        if session.auth_failures or (auth is not None and auth[0] == 0 and auth[1] > 0):
            if state is None:
                state = ips[source] = IpActivity()
            # Loopback is a webmail on the mail host, every user's client (as it is no shared
            # IP): its failures are its users' typos, and no login after them a guess. They
            # still count for the usernames they name.
            self._failed(session, guessing_failures(session),
                         IpActivity() if is_loopback(ip) else state)
        name = session.sasl_username
        if name is None:
            if session.auth_succeeded and start is not None:
                if state is None:
                    state = ips[source] = IpActivity()
                before = state.failure_state()
                # It may have been any login: unless its failures were a guess, its IP's typos
                # are over.
                kept = self._guessing(state, state.most_failures_of_one())
                if not kept:
                    state.forget_failures()
                state.seen(session.end or start, start, ip, None, before, kept)
            return
        # A login as `name` from `ip`, whose failures so far are `state`; the rest of this
        # method, for most sessions of a log.
        user = self.users.get(name) or self.user(name)
        name = user.name  # one string per account, however many IPs name it
        guess = None
        before = NO_FAILURES
        if state is None:
            state = ips[source] = IpActivity()
        elif state.pending_failures or state.pending_usernames:
            before = state.failure_state()
            named = self._intern(account_of(name))  # as _failed() keeps failures' usernames
            if (ip not in user.guesses and start is not None
                    and self._guessing(state, state.failures_of(named))):
                guess = Guess(start, ip, *state.evidence(named))
            state.logged_in(named)
        if start is not None:
            state.seen(session.end or start, start, ip, name, before, False)
        if (not user.selected and self.selection is not None
                and self.selection.session(session, name)):
            user.selected = True
        for when, _reject in session.rejects:
            self._hour(user, when).count((REJECTED,), when)
        # Its username makes it a success (Session.auth_succeeded).
        if start is None:
            return
        key, end = self._last_hour, self._last_hour_end
        # The open hour of the item before, which nearly every item falls in, found without
        # calling _hour() (here and for a message).
        hour = (user.open_hours.get(key) if key is not None and end is not None
                and key <= start < end else None) or self._hour(user, start)
        hour.login(ip, self._networks.get(ip) or self._network_of(ip), start)
        if guess is not None:
            user.guesses[ip] = guess
        self.pairs.login(name, ip, start)
        if self.enrichment is not None:
            self.enrichment.login(name, ip, start)

    def _guessing(self, state: IpActivity, failures: int) -> bool:
        """Whether a login after an IP's failures, `failures` of them its own (failures_of()),
        is a guess rather than a typo's."""
        limits = self.limits
        return (failures >= limits.guess_failures
                or len(state.recent_usernames()) >= limits.guess_usernames)

    def _failed(self, session: Session, failures: int, state: IpActivity) -> None:
        """Note a session's failed AUTH on its IP's `state` and on the usernames it tried."""
        ended = session.end or session.start
        if failures:
            state.host = session.host
            if ended is not None and (state.last_failure is None or ended > state.last_failure):
                state.last_failure = ended
        logins, forgotten = state.logins, state.forgotten_login
        # A failure logged before a kept login's session began came before that login, if its
        # own session ended after that one: when its end was logged, by its time (a log whose
        # time runs back keeps the order of the stream); when not (the smtpd was killed, or the
        # log ends), it was unknown until the session was handed on, after the login.
        bound = session.end if session.complete else None
        # A session that logged in itself answered its typos with its own success, which
        # Postfix logs no time for: before another's login began, as far as anyone can tell (a
        # colleague's typo behind an office's NAT would count against everyone who connected
        # while it stayed open). Only a session that never logged in (a bot's failing
        # connection) has failures that came before another's login.
        starts = [] if session.auth_succeeded else [
            login.time for login in logins if bound is None or login.end <= bound]
        latest = max(starts) if starts else None
        late = []
        for when, failure in session.auth_failures:
            if failure.reason.startswith(INFRASTRUCTURE_FAULTS):
                continue
            key = None
            if failure.username:
                # In one case: a server that finds accounts whatever their case logs a login as
                # the client spelled it.
                key = self._intern(account_of(failure.username))
                self._failure_of(session, key, when)
            if latest is not None and when < latest and (forgotten is None or when >= forgotten):
                late.append((when, key))
            elif key is not None:
                state.failed(key)
        # Those the counters alone tell have no time: their session's end places them.
        state.pending_failures += failures - len(late)
        for when, key in late:
            self._late_failure(state, when, key, bound)

    def _failure_of(self, session: Session, username: str, when: _dt.datetime) -> None:
        """A failed AUTH naming `username` (in lower case: the account it names, as a login
        does, correlate.account_of()), on the account's record: the hour's failures (only
        the timeline reads them), and whether the filters chose the session. A username with
        no record gets one only for these: a password spray names a million accounts that never
        log in, each record ~1 KB to the end of the run (in watch's state, for good)."""
        user = self.users.get(username)
        selection = self.selection
        if user is None and not self.keep_hours and (selection is None
                                                     or selection.selects_all()):
            return  # with no filter, the account's own login or mail selects it
        # Once selected, always: the filters are asked only until then.
        chosen = (selection is not None and (user is None or not user.selected)
                  and selection.session(session, username))
        if user is None:
            if not (self.keep_hours or chosen):
                return
            user = self.user(username)
        if chosen:
            user.selected = True
        if self.keep_hours:
            self._hour(user, when).auth_failures += 1

    def _late_failure(self, state: IpActivity, when: _dt.datetime, username: Optional[str],
                      bound: Optional[_dt.datetime]) -> None:
        """A failure from `state`'s IP logged at `when`, naming `username` (None: none), in a
        session that ended at `bound` (None: unknown), which reached the stream after logins it
        came before: those logins are judged again with it, as though it had come first, and
        it is answered as it would have been then."""
        logins = state.logins
        after = [index for index, login in enumerate(logins)
                 if when < login.time and (bound is None or login.end <= bound)]
        if when < logins[after[0]].time - self._guess_window:
            return  # forgotten by the first login after it
        self._carry(state, after, LateFailure(username, False, when, bound, logins[-1].serial))

    def _carry(self, state: IpActivity, after: List[int], failure: LateFailure) -> None:
        """Take `failure` through the logins of `state` at the indexes `after` (those it came
        before, in order), each judged again with it, until one answers it; one that none
        answers is pending."""
        logins = state.logins
        username, earlier = failure.username, failure.earlier
        for index in after:
            login = logins[index]
            failures = IpActivity.restored(login.before)
            failures.add_failure(username, earlier)
            if login.account is None:
                kept = self._guessing(failures, failures.most_failures_of_one())
                # Forgotten, it is remembered with where it came, for a turn to come; once
                # the failures are a guess, they stay one and it need not be.
                logins[index] = login._replace(
                    before=failures.failure_state(), kept=kept,
                    forgot=() if kept else login.forgot + (failure._replace(earlier=earlier),))
                if not kept:
                    return  # its success forgot the IP's failures
                if not login.kept:
                    # A guess's failures now: it forgot none of those it found, which go on,
                    # those that reached the stream before it through every login after it,
                    # those that came late through the logins after it that each came before.
                    rest = range(index + 1, len(logins))
                    found = IpActivity.restored(login.found).counts()
                    for name, count, older in found:
                        for _ in range(count):
                            self._carry(state, list(rest), LateFailure(
                                name, older, None, None, login.serial))
                    for forgotten in login.forgot:
                        self._carry(state, [later for later in rest
                                            if forgotten.came_before(logins[later])], forgotten)
                continue
            logins[index] = login._replace(before=failures.failure_state())
            name = account_of(login.account)  # as _failed() keeps failures' usernames
            answered = username is None or username == name
            if answered or not earlier:
                # Its account is kept as long as its logins are (forget()).
                self._judged_again(self.users[login.account], login, name, failures)
            if answered:
                return
            earlier = True
        state.add_failure(username, earlier)

    def _judged_again(self, user: UserActivity, login: SeenLogin, name: str,
                      failures: IpActivity) -> None:
        """`login`, `user`'s as `name` (lower case), found `failures` after all: a guess, if
        they are one (and it is earlier than the guess from its IP already recorded, or that
        guess itself)."""
        if not self._guessing(failures, failures.failures_of(name)):
            return
        recorded = user.guesses.get(login.ip)
        if recorded is None or recorded.time >= login.time:
            user.guesses[login.ip] = Guess(login.time, login.ip, *failures.evidence(name))

    def _message(self, message: Message) -> None:
        queued = message.queued
        self._seen(message.host, queued, message.end or message.last_time)
        name = message.sasl_username
        if name is None:
            return
        kind = message.kind
        if kind == "notice":
            return
        user = self.users.get(name) or self.user(name)
        if (not user.selected and self.selection is not None
                and self.selection.message(message)):
            user.selected = True
        if kind == "submission":
            user.messages += 1
            if self.enrichment is not None:
                self.enrichment.message(name, message.sender, queued)
        statuses = message.counted_outcomes()
        key, end = self._last_hour, self._last_hour_end
        hour = (user.open_hours.get(key) if key is not None and end is not None
                and key <= queued < end else None) or self._hour(user, queued)
        if statuses:
            hour.count(statuses, queued)
            if message.state == QUEUED:
                waiting = message.waiting_recipients()
                if waiting:
                    hour.wait(waiting)
