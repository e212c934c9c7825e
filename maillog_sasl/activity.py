"""activity: one pass over the finished stream -> per-user, per-hour and per-IP facts for incident review.

SUMMARY
    Activity(guess_failures=3, guess_usernames=2, selection=None)
    activity.watch(finished) -> the same stream, each item recorded as it passes
    activity.users: name -> UserActivity      activity.ips: address -> IpActivity
    network_of(ip) -> "192.0.2.0/24" | "2001:db8:1::/48"       hour_of(time) -> the hour it is in
    provider_of(ip or network) -> "192.0.0.0/16" | "2001:db8::/32"
    guessing_failures(session) -> failed AUTH commands that were attempts at a password

DESCRIPTION
    Reads what correlate() yields (Session at its disconnect, Message at its removal, the still
    open ones at the end) and keeps, per SASL username, one Hour record per clock hour with
    activity: logins, their IPs, their networks (first and last login time of each), the
    outcomes of the recipients submitted in that hour, and failed AUTH naming the user. Per
    client IP it keeps the accounts that logged in from it (and when first) and the failed AUTH
    since its last successful login. Memory grows with users x active hours and with IPs, never with lines.

    A login is a session that authenticated and whose username Postfix logged (it queued mail,
    or Postfix >= 3.10 named it on a reject). A success with no username cannot be attributed to
    an account and only resets its IP's failure count.

    Guessing is judged as the stream passes, because "earlier" means earlier in the stream
    (sessions come in the order they ended, files oldest first): a successful login from an IP
    whose failed AUTH since that IP's last successful login reach `guess_failures`, or name
    `guess_usernames` distinct usernames, is recorded on the user as a Guess. Counting from the
    last success keeps a user's occasional typo, each followed by a good login, from adding up.
    Failures Postfix blames on its own authentication server are not guesses.

    Recipients are counted as the messages report counts them (reports.counted_recipients), in the
    hour their message was queued; recipients refused before any queue file, at the refusal.

DIAGNOSTICS
    None: every item of the stream is data; items of other types are passed on untouched.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import sys
from types import MappingProxyType
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional

from maillog_sasl.events import is_loopback
from maillog_sasl.model import OUTCOMES, Message, Session
from maillog_sasl.reports import counted_recipients

OUTCOME_INDEX = {outcome: index for index, outcome in enumerate(OUTCOMES)}
INFRASTRUCTURE_FAULTS = ("Connection lost to authentication server",)
# An attacker chooses the usernames it tries; past this many per IP only "at least" matters.
USERNAMES_KEPT = 100


@functools.lru_cache(maxsize=1 << 16)  # a few thousand client IPs, each asked about many times
def block_of(address: str, v4_prefix: int, v6_prefix: int) -> str:
    """The network of `address` (an IP, or a network whose base is used) at the given prefix."""
    base = address.split("/", 1)[0]
    try:
        parsed = ipaddress.ip_address(base)
    except ValueError:
        return base
    prefix = v4_prefix if parsed.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def network_of(ip: str) -> str:
    """The network a login is judged by: /24 for IPv4, /48 for IPv6 (one site or one ISP pool)."""
    return block_of(ip, 24, 48)


def provider_of(ip_or_network: str) -> str:
    """The block a provider typically holds: /16 for IPv4, /32 for IPv6."""
    return block_of(ip_or_network, 16, 32)



def hour_of(when: _dt.datetime) -> _dt.datetime:
    hour = when.replace(minute=0, second=0, microsecond=0)
    # One object per clock hour, shared by every user's table of hours.
    return _HOURS.setdefault(hour, hour)


_HOURS: Dict[_dt.datetime, _dt.datetime] = {}


def guessing_failures(session: Session) -> int:
    faults = sum(1 for _, failure in session.auth_failures
                 if failure.reason.startswith(INFRASTRUCTURE_FAULTS))
    return max(session.failed_auth_count - faults, 0)


class Guess(NamedTuple):
    """A successful login from an IP that had been failing AUTH."""
    time: _dt.datetime
    ip: str
    failures: int
    usernames: int


_NO_IPS = ()
_NO_NETWORKS = MappingProxyType({})
_NO_OUTCOMES = (0,) * len(OUTCOMES)


class Hour:
    """One user's activity in one clock hour."""
    __slots__ = ("logins", "ips", "networks", "outcomes", "auth_failures", "first_recipient")

    def __init__(self):
        # Most hours hold only logins or only recipients: the containers start as shared
        # empties and are made on the first write (a busy server has users x hours of these).
        self.logins = 0
        self.ips = _NO_IPS
        # network -> [first login, last login, IP of the first]: for a window of an hour or
        # more, whether a network logged in within it is decided by these two times alone.
        self.networks: Dict[str, list] = _NO_NETWORKS
        self.outcomes = _NO_OUTCOMES
        self.auth_failures = 0
        self.first_recipient: Optional[_dt.datetime] = None

    def login(self, ip: str, network: str, when: _dt.datetime) -> None:
        """A successful login from `ip` (in `network`) at `when`."""
        if self.ips is _NO_IPS:
            self.ips, self.networks = [], {}
        self.logins += 1
        if ip not in self.ips:
            # A list: an hour seldom sees more than a few IPs, and a set costs four times more.
            self.ips.append(ip)
        seen = self.networks.get(network)
        if seen is None:
            self.networks[network] = [when, when, ip]
        else:
            seen[0], seen[1] = min(seen[0], when), max(seen[1], when)

    def count(self, outcome: str, when: _dt.datetime) -> None:
        """One recipient submitted at `when` with its final `outcome`."""
        if self.outcomes is _NO_OUTCOMES:
            self.outcomes = [0] * len(OUTCOMES)
        self.outcomes[OUTCOME_INDEX[outcome]] += 1
        if self.first_recipient is None or when < self.first_recipient:
            self.first_recipient = when

    @property
    def recipients(self) -> int:
        return sum(self.outcomes)

    @property
    def failed(self) -> int:
        return self.recipients - self.outcomes[OUTCOME_INDEX["sent"]]


class UserActivity:
    __slots__ = ("hours", "messages", "guesses", "selected")

    def __init__(self):
        self.hours: Dict[_dt.datetime, Hour] = {}
        self.messages = 0
        self.guesses: Dict[str, Guess] = {}  # client IP -> the first guessed login from it
        self.selected = False  # some session or message of the user passes the Selection

    def hour(self, when: _dt.datetime) -> Hour:
        key = hour_of(when)
        found = self.hours.get(key)
        if found is None:
            found = self.hours[key] = Hour()
        return found

    @property
    def logins(self) -> int:
        return sum(hour.logins for hour in self.hours.values())

    def totals(self) -> List[int]:
        """Recipients per outcome, in OUTCOMES order."""
        return [sum(column) for column in zip(*(hour.outcomes for hour in self.hours.values()))] \
            or [0] * len(OUTCOMES)

    def ips(self) -> set:
        return set().union(*(hour.ips for hour in self.hours.values()))

    def network_days(self) -> Dict[str, set]:
        """network -> the calendar days (in the log's own offset) with a login from it."""
        days: Dict[str, set] = {}
        for key, hour in self.hours.items():
            for network in hour.networks:
                days.setdefault(network, set()).add(key.date())
        return days

    def provider_days(self) -> Dict[str, set]:
        """provider block -> the calendar days with a login from it."""
        days: Dict[str, set] = {}
        for network, dates in self.network_days().items():
            days.setdefault(provider_of(network), set()).update(dates)
        return days

    def networks(self) -> Dict[str, list]:
        """network -> [first login, last login, IP of the first] over the whole log."""
        merged: Dict[str, list] = {}
        for key in sorted(self.hours):
            for network, (first, last, ip) in self.hours[key].networks.items():
                seen = merged.get(network)
                if seen is None:
                    merged[network] = [first, last, ip]
                else:
                    seen[1] = max(seen[1], last)
        return merged


class IpActivity:
    __slots__ = ("users", "pending_failures", "pending_usernames")

    def __init__(self):
        self.users: Dict[str, _dt.datetime] = {}  # account -> its first login from this IP
        self.pending_failures = 0  # failed AUTH since this IP's last successful login
        self.pending_usernames = set()


class Activity:
    """The facts of one pass; see the module docstring."""

    def __init__(self, guess_failures: int = 3, guess_usernames: int = 2, selection=None):
        self.guess_failures = guess_failures
        self.guess_usernames = guess_usernames
        self.selection = selection
        self.users: Dict[str, UserActivity] = {}
        self.ips: Dict[str, IpActivity] = {}
        self.first_time: Optional[_dt.datetime] = None
        self.last_time: Optional[_dt.datetime] = None

    def watch(self, finished: Iterable[object]) -> Iterator[object]:
        for item in finished:
            self.observe(item)
            yield item

    def observe(self, item: object) -> None:
        if isinstance(item, Session):
            self._session(item)
        elif isinstance(item, Message):
            self._message(item)

    def user(self, name: str) -> UserActivity:
        found = self.users.get(name)
        if found is None:
            found = self.users[name] = UserActivity()
        return found

    def _seen(self, *times) -> None:
        for when in times:
            if when is None:
                continue
            if self.first_time is None or when < self.first_time:
                self.first_time = when
            if self.last_time is None or when > self.last_time:
                self.last_time = when

    def _session(self, session: Session) -> None:
        self._seen(session.start, session.end)
        ip = sys.intern(session.client_ip)  # one string per IP, however many hours keep it
        state = self.ips.get(ip)
        if state is None:
            state = self.ips[ip] = IpActivity()
        state.pending_failures += guessing_failures(session)
        for when, failure in session.auth_failures:
            if not failure.username or failure.reason.startswith(INFRASTRUCTURE_FAULTS):
                continue
            if len(state.pending_usernames) < USERNAMES_KEPT:
                state.pending_usernames.add(failure.username)
            guessed = self.user(failure.username)
            guessed.hour(when).auth_failures += 1
            if self.selection is not None and self.selection.session(session, failure.username):
                guessed.selected = True
        name = session.sasl_username
        if name is not None:
            self._attributed_session(session, name, state)
        if session.auth_succeeded:
            state.pending_failures = 0
            state.pending_usernames = set()

    def _attributed_session(self, session: Session, name: str, state: IpActivity) -> None:
        user = self.user(name)
        if self.selection is not None and self.selection.session(session, name):
            user.selected = True
        for when, _reject in session.rejects:
            user.hour(when).count("rejected", when)
        if not session.auth_succeeded or session.start is None:
            return
        ip = sys.intern(session.client_ip)  # one string per IP, however many hours keep it
        when = session.start
        user.hour(when).login(ip, network_of(ip), when)
        if ip not in user.guesses and (state.pending_failures >= self.guess_failures or
                                       len(state.pending_usernames) >= self.guess_usernames):
            user.guesses[ip] = Guess(when, ip, state.pending_failures,
                                     len(state.pending_usernames))
        if not is_loopback(ip):
            first = state.users.get(name)
            state.users[name] = when if first is None else min(first, when)

    def _message(self, message: Message) -> None:
        self._seen(message.queued, message.end or message.last_time)
        if message.sasl_username is None or message.kind == "notice":
            return
        user = self.user(message.sasl_username)
        if self.selection is not None and self.selection.message(message):
            user.selected = True
        user.messages += message.kind == "submission"
        hour = user.hour(message.queued)
        for _, status in counted_recipients(message):
            hour.count(status, message.queued)
