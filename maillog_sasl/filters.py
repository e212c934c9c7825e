"""filters: which sessions and messages a report shows (--user, --since, --until, --ip).

SUMMARY
    Selection.build(users=(), since=None, until=None, ips=(), zone=None) -> Selection
    selection.session(session, user) / selection.message(message) / selection.user(name)
    selection.ip(address) / selection.window(start, end) -> bool

DESCRIPTION
    Filters choose what is reported; they never touch correlation, which always sees the whole
    log (a message retried after --since keeps the user of its session before it).

    --user: exact name or shell glob (`centos7@*`), case-insensitive, repeatable (any matches).
    --since/--until: anything python-dateutil reads; a time without a zone is in `zone` (local
    time by default). A date-only --until means the end of that day. A session is selected when
    it overlaps [since, until]; a message when its life in the queue (queued .. last line)
    overlaps it. --ip: an address or CIDR network, repeatable, IPv4 and IPv6.

DIAGNOSTICS
    FilterError (a ValueError) with one readable sentence for a value that is not a time, an
    address or a network; the CLI turns it into a usage error.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import ipaddress
from typing import Dict, Optional

from dateutil import tz as _tz


class FilterError(ValueError):
    pass


def parse_moment(text: str, zone=None, end_of_day: bool = False) -> _dt.datetime:
    """`2018-09-17`, `2018-09-17 06:00`, `Sep 17 2018 6am +09:00`... -> aware datetime."""
    from dateutil import parser as _date_parser  # slow to import; only --since/--until use it

    early = _dt.datetime(2000, 1, 1, 0, 0, 0, 0)
    late = _dt.datetime(2000, 1, 1, 23, 59, 59, 999999)
    try:
        start = _date_parser.parse(text, default=early)
        finish = _date_parser.parse(text, default=late)
    except (ValueError, OverflowError):
        raise FilterError(
            f"not a date or time: {text!r} (try 2018-09-17 or '2018-09-17 06:00')") from None
    moment = finish if end_of_day and (start.hour, start.minute, start.second) != (
        finish.hour, finish.minute, finish.second) else start
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone if zone is not None else _tz.tzlocal())
    return moment


def parse_network(text: str):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise FilterError(
            f"not an IP address or network: {text!r} (try 192.0.2.7 or 192.0.2.0/24)") from None


class Selection:
    """The report's filters; an empty Selection selects everything."""

    def __init__(self, users=(), since: Optional[_dt.datetime] = None,
                 until: Optional[_dt.datetime] = None, networks=()):
        self.user_patterns = [pattern.lower() for pattern in users]
        self.since = since
        self.until = until
        self.networks = list(networks)
        self._ip_cache: Dict[str, bool] = {}

    @classmethod
    def build(cls, users=(), since: Optional[str] = None, until: Optional[str] = None, ips=(),
              zone=None) -> "Selection":
        """From the CLI's strings; raises FilterError on a bad value."""
        start = parse_moment(since, zone) if since else None
        end = parse_moment(until, zone, end_of_day=True) if until else None
        if start is not None and end is not None and start > end:
            raise FilterError(f"--since {since!r} is later than --until {until!r}")
        return cls(users, start, end, [parse_network(ip) for ip in ips])

    def user(self, name: Optional[str]) -> bool:
        if not self.user_patterns:
            return True
        if name is None:
            return False
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in self.user_patterns)

    def ip(self, address: str) -> bool:
        if not self.networks:
            return True
        found = self._ip_cache.get(address)
        if found is None:
            try:
                parsed = ipaddress.ip_address(address)
                found = any(parsed in network for network in self.networks)
            except ValueError:
                found = False
            self._ip_cache[address] = found
        return found

    def window(self, start: Optional[_dt.datetime], end: Optional[_dt.datetime]) -> bool:
        if self.since is not None:
            latest = end or start
            if latest is not None and latest < self.since:
                return False
        if self.until is not None:
            earliest = start or end
            if earliest is not None and earliest > self.until:
                return False
        return True

    def session(self, session, user: Optional[str]) -> bool:
        return (self.user(user) and self.ip(session.client_ip)
                and self.window(session.start, session.end))

    def message(self, message) -> bool:
        return (self.user(message.sasl_username) and self.ip(message.client_ip)
                and self.window(message.queued, message.end or message.last_time))
