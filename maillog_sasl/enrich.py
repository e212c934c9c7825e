"""enrich: where a client IP is, from local MaxMind DB files, and what the location and sender
signals need to know of each account.

SUMMARY
    open_geo(paths) -> Geo                  the MaxMind DB files at `paths` (--geoip)
    find_databases(directories=None) -> ([path], [problem])   the usable *.mmdb files of the
                                           well-known directories, and those unreadable
    search_directories() -> where find_databases() looks: WELL_KNOWN, or the directories of
                            MAILLOG_SASL_GEOIP_DIRS (colon-separated; set and empty: none)
    Geo.lookup(ip) -> Place(country, asn, as_org, latitude, longitude, radius)
    Geo.kinds: what its files answer, of KINDS ("country", "location", "asn")
    kinds_of(database_type) -> the kinds a file of that type answers (empty: none of ours)
    lookup_address(ip) -> the address a database is asked (::ffff:192.0.2.5 as 192.0.2.5)
    address_order(ip) -> a sort key: IPv4 before IPv6, each by number (192.0.2.9 before
                         192.0.2.10), what is no address (`unknown`) last, by its text
    client_network(text) -> --ip / --allow-ip value as a network (::ffff:192.0.2.0/120 as
                            192.0.2.0/24); in_networks(ip, networks) -> whether ip is in one
    country_code(text), asn_number(text) -> a --country, --asn value (ValueError)
    Allow(countries=(), asns=(), networks=())   --allow-country, --allow-asn, --allow-ip
    Enrichment(geo, allow, limits)          per account, the facts of incident.py's countries,
                                            new-country, travel and sender-mismatch rules;
                                            enrichment.fold_accounts() merges an account kept
                                            under several spellings (activity.py)
    sender_matches(login, sender) -> whether an envelope sender is the login's own address
    distance_km(a, b) -> the great-circle distance between two Places

DESCRIPTION
    A Geo reads MaxMind DB files with the `maxminddb` package (its C extension when it is
    installed, else pure Python over a memory map). What a file answers is read from its
    metadata's database_type, never from its name: GeoLite2/GeoIP2 Country (a country), City
    (a country and a place with its accuracy radius), ASN and ISP (the autonomous system and
    its organisation), Enterprise (all three), and DB-IP's lite files of the same kinds
    (DBIP-Country-Lite, DBIP-City-Lite, DBIP-ASN-Lite); any other type is refused. A lookup
    asks each file in the order given and takes each answer from the first file that has it,
    so a City file and an ASN file together answer everything; answers are cached per address
    (CACHED addresses). Nothing is ever fetched from the network: the files are the
    administrator's (geoipupdate keeps them fresh).

    An IPv4-mapped IPv6 address (::ffff:192.0.2.5, what a dual-stack smtpd logs for an IPv4
    client) is looked up, filtered and allowed as the IPv4 address it carries. A country is
    its ISO 3166 code (the `country` of the record, else its `registered_country`); "" when
    the files know none (private and documentation addresses).

    Enrichment is fed by activity.Activity (its `enrichment`): each successful login with a
    username, and each authenticated submission. Per account (Places) it keeps, for logins
    that no allow-list lets through: the countries logged in from within the last `hop_window`
    hours, when they first exceeded `max_countries`, and the most there ever were; the first
    login from each country; the latest login with coordinates, and each pair of consecutive
    logins (in the order the stream gives them, about time order) whose distance, less both
    places' accuracy radii, needed more than `travel_speed` km/h: pairs within one country are
    never travel (a carrier's addresses are placed anywhere in it), nor pairs where either
    place has no coordinates. For mail: the distinct envelope senders of its submissions that
    are not its own (sender_matches), with the first time each was used. Memory is a few small
    records per account, whatever the length of the log.

    sender_matches: the null sender is always the login's (bounces, receipts); otherwise,
    compared without case and without a +extension of the sender's local part, the sender is
    the login itself, or for a login without a domain (`alice`) any address whose local part
    is the login (alice@ any of the server's domains), or for a login with one
    (alice@example.com) the same local part at the same domain. An alias the user sends as
    (info@, sales@) is a mismatch: the rule's limit counts distinct addresses, so that one or
    two aliases stay below it, and a spam run's dozens of made-up senders do not.

DIAGNOSTICS
    GeoError, one line naming the file, when a file cannot be opened, is no MaxMind DB, or is
    of a type none of the kinds above. Lookups never raise: an address that is none, or one a
    file cannot answer (IPv6 in an IPv4-only file), is a Place with nothing known.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import os
import re
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from maillog_sasl.correlate import fold_accounts

KINDS = ("country", "location", "asn")
WELL_KNOWN = ("/usr/share/GeoIP", "/var/lib/GeoIP")
DIRS_VARIABLE = "MAILLOG_SASL_GEOIP_DIRS"
CACHED = 65_536
EARTH_RADIUS_KM = 6371.0088
# A City record without an accuracy radius (DB-IP's lite files give none): a city's extent.
DEFAULT_RADIUS_KM = 50.0
# The mismatched senders kept per account beyond the limit: enough to name them in a reason.
SENDERS_KEPT = 100
NAMED = 8


class GeoError(Exception):
    """A database file that cannot be used; str() is one line naming it."""


class TypeRefused(GeoError):
    """A MaxMind DB file of a type that answers none of KINDS."""


class Place(NamedTuple):
    """What the databases say of one address; "" and None where they say nothing."""
    country: str = ""
    asn: Optional[int] = None
    as_org: str = ""
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    radius: Optional[float] = None  # km: the accuracy radius of the coordinates

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    def label(self) -> str:
        """`JP`, `JP AS64496`, or `?` when nothing is known: how a reason names a place."""
        parts = [self.country or "?"]
        if self.asn is not None:
            parts.append(f"AS{self.asn}")
        return " ".join(parts)


NOWHERE = Place()


def kinds_of(database_type: str) -> FrozenSet[str]:
    """The kinds of answer a file whose metadata says `database_type` gives (see the module
    docstring); empty for a type we cannot use (Anonymous-IP, Connection-Type, Domain, ...)."""
    lowered = database_type.lower()
    if "enterprise" in lowered:
        return frozenset(KINDS)
    kinds = set()
    if "city" in lowered:
        kinds |= {"country", "location"}
    elif "country" in lowered:
        kinds.add("country")
    if re.search(r"(?<![a-z])(asn|isp)(?![a-z])", lowered):
        kinds.add("asn")
    return frozenset(kinds)


def lookup_address(ip: str) -> Optional[str]:
    """The address to ask a database: an IPv4-mapped IPv6 address as its IPv4 address, any
    other as written; None for no address at all."""
    if ":" not in ip:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            return None
        return ip
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return None
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else str(parsed)


def address_order(ip: str) -> Tuple[int, int, int, str]:
    """Sort key of a client IP as written in a log: by version, then by number; text that is
    no address last."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return (1, 0, 0, ip)
    return (0, parsed.version, int(parsed), "")


def client_network(text: str):
    """A --ip or --allow-ip value as an ipaddress network, an IPv4-mapped one as IPv4
    (ValueError when it is none)."""
    network = ipaddress.ip_network(text.strip(), strict=False)
    if network.version == 6 and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


def in_networks(ip: str, networks: Sequence) -> bool:
    """Whether `ip` (an IPv4-mapped IPv6 address as its IPv4 address) is in one of
    `networks` (made by client_network)."""
    address = lookup_address(ip)
    if address is None:
        return False
    parsed = ipaddress.ip_address(address)
    return any(parsed in network for network in networks)


def country_code(text: str) -> str:
    """A --country or --allow-country value: two letters, any case -> upper case."""
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ValueError(f"not a country code: {text!r} (two letters, as ISO 3166: JP, US)")
    return code


def asn_number(text: str) -> int:
    """A --asn or --allow-asn value: 64496 or AS64496."""
    found = re.fullmatch(r"(?:AS)?([0-9]{1,10})", text.strip(), re.IGNORECASE)
    if found is None or int(found[1]) > 0xFFFFFFFF:
        raise ValueError(f"not an autonomous system number: {text!r} (e.g. 64496 or AS64496)")
    return int(found[1])


# -- the databases ------------------------------------------------------------------------------

class Database(NamedTuple):
    path: str
    database_type: str
    kinds: FrozenSet[str]
    reader: object


def _open(path: str) -> Database:
    import maxminddb  # only a run with a database pays for the import

    try:
        reader = maxminddb.open_database(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise GeoError(f"{path}: cannot read it as a MaxMind DB file: {reason}") from None
    database_type = str(reader.metadata().database_type)
    kinds = kinds_of(database_type)
    if not kinds:
        reader.close()
        raise TypeRefused(f"{path}: a {database_type!r} database, none of Country, City, ASN "
                       "(GeoLite2, GeoIP2, DB-IP lite)")
    return Database(path, database_type, kinds, reader)


def _country(record: dict) -> str:
    for key in ("country", "registered_country"):
        found = record.get(key)
        if isinstance(found, dict):
            code = found.get("iso_code")
            if isinstance(code, str) and code:
                return code.upper()
    return ""


def _location(record: dict) -> Tuple[Optional[float], Optional[float], Optional[float]]:
    found = record.get("location")
    if not isinstance(found, dict):
        return None, None, None
    latitude, longitude = found.get("latitude"), found.get("longitude")
    if not isinstance(latitude, (int, float)) or not isinstance(longitude, (int, float)):
        return None, None, None
    radius = found.get("accuracy_radius")
    return (float(latitude), float(longitude),
            float(radius) if isinstance(radius, (int, float)) else DEFAULT_RADIUS_KM)


def _asn(record: dict) -> Tuple[Optional[int], str]:
    for found in (record, record.get("traits")):
        if isinstance(found, dict):
            number = found.get("autonomous_system_number")
            if isinstance(number, int):
                organisation = found.get("autonomous_system_organization")
                return number, organisation if isinstance(organisation, str) else ""
    return None, ""


class Geo:
    """MaxMind DB files, asked in order; see the module docstring."""

    def __init__(self, databases: Sequence[Database]):
        self.databases = list(databases)
        self.kinds = frozenset(kind for database in self.databases for kind in database.kinds)
        self._cache: Dict[str, Place] = {}

    @property
    def paths(self) -> List[str]:
        return [database.path for database in self.databases]

    def lookup(self, ip: str) -> Place:
        found = self._cache.get(ip)
        if found is None:
            if len(self._cache) >= CACHED:
                self._cache.clear()
            found = self._cache[ip] = self._lookup(ip)
        return found

    def _lookup(self, ip: str) -> Place:
        address = lookup_address(ip)
        if address is None:
            return NOWHERE
        country, asn, organisation = "", None, ""
        latitude = longitude = radius = None
        for database in self.databases:
            try:
                record = database.reader.get(address)  # type: ignore[attr-defined]
            # ValueError: IPv6 asked of an IPv4-only file; maxminddb's InvalidDatabaseError (a
            # RuntimeError): a damaged record, which answers nothing.
            except (ValueError, RuntimeError):
                continue
            if not isinstance(record, dict):
                continue
            kinds = database.kinds
            if not country and "country" in kinds:
                country = _country(record)
            if latitude is None and "location" in kinds:
                latitude, longitude, radius = _location(record)
            if asn is None and "asn" in kinds:
                asn, organisation = _asn(record)
        if not country and asn is None and latitude is None:
            return NOWHERE
        return Place(country, asn, organisation, latitude, longitude, radius)

    def close(self) -> None:
        for database in self.databases:
            database.reader.close()  # type: ignore[attr-defined]


def open_geo(paths: Iterable[str]) -> Geo:
    """The files at `paths`, in that order (GeoError, naming the file, for one that cannot
    be used; those opened before it are closed)."""
    databases: List[Database] = []
    try:
        for path in paths:
            databases.append(_open(os.fspath(path)))
    except GeoError:
        Geo(databases).close()
        raise
    return Geo(databases)


def search_directories() -> List[str]:
    """The directories find_databases() looks in by default: MAILLOG_SASL_GEOIP_DIRS when set
    (colon-separated; empty: none), else WELL_KNOWN."""
    value = os.environ.get(DIRS_VARIABLE)
    if value is None:
        return list(WELL_KNOWN)
    return [part for part in value.split(":") if part]


# City files first: they answer countries too, with a place.
_PREFERENCE = {"location": 0, "country": 1, "asn": 2}


def find_databases(directories: Optional[Iterable[str]] = None
                   ) -> Tuple[List[str], List[str]]:
    """(paths, problems): the *.mmdb files of `directories` (default: search_directories())
    that answer something, those that answer the most first (City, then Country, then ASN),
    then by name; and one line for each file there that cannot be read. A file of a type that
    answers nothing of ours (Anonymous-IP, Connection-Type) is left out without a word."""
    found, problems = [], []
    for directory in (search_directories() if directories is None else directories):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not name.endswith(".mmdb"):
                continue
            path = os.path.join(directory, name)
            try:
                database = _open(path)
            except TypeRefused:
                continue
            except GeoError as error:
                problems.append(str(error))
                continue
            database.reader.close()  # type: ignore[attr-defined]
            rank = min(_PREFERENCE[kind] for kind in database.kinds)
            found.append((rank, name, path))
    return [path for *_, path in sorted(found)], problems


# -- what the signals need ----------------------------------------------------------------------

def distance_km(a: Place, b: Place) -> float:
    """The great-circle distance between two located places (haversine)."""
    assert a.located and b.located
    lat1, lat2 = math.radians(a.latitude or 0.0), math.radians(b.latitude or 0.0)
    dlat = lat2 - lat1
    dlon = math.radians((b.longitude or 0.0) - (a.longitude or 0.0))
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _without_extension(local: str) -> str:
    head, plus, _ = local.partition("+")
    return head if plus and head else local


def sender_matches(login: str, sender: Optional[str]) -> bool:
    """Whether `sender`, the envelope sender of a message submitted by `login`, is the login's
    own address (the rule is in the module docstring)."""
    if not sender:
        return True
    login, sender = login.lower(), sender.lower()
    if sender == login:
        return True
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = sender, ""
    local = _without_extension(local)
    login_local, login_at, login_domain = login.rpartition("@")
    if not login_at:
        return local == login
    return local == _without_extension(login_local) and domain in (login_domain, "")


class Allow:
    """The allow-lists of the location signals: a login from one of `countries`, `asns` or
    `networks` (made by client_network) is left out of them."""

    def __init__(self, countries: Iterable[str] = (), asns: Iterable[int] = (),
                 networks: Iterable = ()):
        self.countries = frozenset(code.upper() for code in countries)
        self.asns = frozenset(asns)
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.countries or self.asns or self.networks)

    def allows(self, ip: str, place: Place) -> bool:
        return bool((place.country and place.country in self.countries)
                    or (place.asn is not None and place.asn in self.asns)
                    or (self.networks and in_networks(ip, self.networks)))


class Travel(NamedTuple):
    """Two consecutive logins too far apart for the time between them."""
    when: _dt.datetime  # the later login
    before: Tuple[_dt.datetime, str, Place]  # time, IP, place of the earlier one
    after: Tuple[_dt.datetime, str, Place]
    km: float  # the distance less both accuracy radii
    hours: float
    speed: float  # km/h


class Places:
    """One account's facts for the location and sender rules (see the module docstring)."""
    __slots__ = ("window", "countries_fired", "countries_busiest", "first_country", "last",
                 "travel", "travels", "fastest", "senders", "mismatched")

    def __init__(self) -> None:
        self.window: Dict[str, _dt.datetime] = {}  # country -> its last login in the window
        self.countries_fired: Optional[Tuple[_dt.datetime, List[str]]] = None
        self.countries_busiest: Optional[Tuple[_dt.datetime, List[str]]] = None
        self.first_country: Dict[str, Tuple[_dt.datetime, str]] = {}  # country -> (when, ip)
        self.last: Optional[Tuple[_dt.datetime, str, Place]] = None  # latest located login
        self.travel: Optional[Travel] = None  # the earliest
        self.travels = 0
        self.fastest: Optional[Travel] = None
        self.senders: Dict[str, _dt.datetime] = {}  # mismatched sender -> its first use
        self.mismatched = 0  # submissions with a mismatched sender

    def add_country(self, when: _dt.datetime, country: str, ip: str, span: _dt.timedelta,
                    limit: int) -> None:
        first = self.first_country.get(country)
        if first is None or when < first[0]:
            self.first_country[country] = (when, ip)
        window = self.window
        if window.get(country, when) <= when:
            window[country] = when
        for name in [name for name, last in window.items() if last < when - span]:
            del window[name]
        count = len(window)
        if count > limit:
            inside = sorted(window)
            if self.countries_fired is None:
                self.countries_fired = (when, inside)
            if self.countries_busiest is None or count > len(self.countries_busiest[1]):
                self.countries_busiest = (when, inside)

    def add_located(self, when: _dt.datetime, ip: str, place: Place, speed: float) -> None:
        last = self.last
        if last is None:
            self.last = (when, ip, place)
            return
        before, after = sorted((last, (when, ip, place)), key=lambda login: login[0])
        self.last = after
        if (before[1] == after[1] or before[2].country == after[2].country
                or not before[2].country or not after[2].country):
            return
        km = distance_km(before[2], after[2]) - (before[2].radius or 0) - (after[2].radius or 0)
        # To the metre: a distance computed in floating point must not pass a limit it meets.
        km = round(km, 3)
        hours = max((after[0] - before[0]).total_seconds(), 60.0) / 3600
        if km <= 0 or km <= speed * hours:
            return
        found = Travel(after[0], before, after, km, hours, km / hours)
        self.travels += 1
        if self.travel is None or found.when < self.travel.when:
            self.travel = found
        if self.fastest is None or found.speed > self.fastest.speed:
            self.fastest = found

    def absorb(self, other: Places) -> None:
        """Take in `other`, the same account's facts under another spelling of its name
        (Enrichment.fold_accounts()): of each time the later last and the earlier first, of
        the travels the earlier and the fastest, counts added up."""
        for country, last in other.window.items():
            if self.window.get(country, last) <= last:
                self.window[country] = last
        for country, first in other.first_country.items():
            if country not in self.first_country or first < self.first_country[country]:
                self.first_country[country] = first
        for sender, when in other.senders.items():
            self.senders[sender] = min(self.senders.get(sender, when), when)
        fired, busiest = other.countries_fired, other.countries_busiest
        if fired is not None and (self.countries_fired is None or fired < self.countries_fired):
            self.countries_fired = fired
        if busiest is not None and (self.countries_busiest is None
                                    or len(busiest[1]) > len(self.countries_busiest[1])):
            self.countries_busiest = busiest
        if other.last is not None and (self.last is None or other.last[0] > self.last[0]):
            self.last = other.last
        if other.travel is not None and (self.travel is None
                                         or other.travel.when < self.travel.when):
            self.travel = other.travel
        if other.fastest is not None and (self.fastest is None
                                          or other.fastest.speed > self.fastest.speed):
            self.fastest = other.fastest
        self.travels += other.travels
        self.mismatched += other.mismatched

    def add_sender(self, when: _dt.datetime, sender: str, kept: int) -> None:
        self.mismatched += 1
        first = self.senders.get(sender)
        if first is None:
            if len(self.senders) < kept:
                self.senders[sender] = when
        elif when < first:
            self.senders[sender] = when


class Enrichment:
    """The Places of every account, fed by activity.Activity; see the module docstring.

    `limits` is an activity.Thresholds (its max_countries, hop_window, travel_speed and
    sender_mismatch); `geo` may be None (sender-mismatch needs no database), and `allow`
    an Allow. Pickled (a kept Activity), it leaves its Geo behind: attach() gives one back.
    """

    def __init__(self, geo: Optional[Geo], allow: Optional[Allow], limits) -> None:
        self.geo = geo
        self.allow = allow if allow is not None else Allow()
        self.max_countries = int(limits.max_countries)
        self.span = _dt.timedelta(hours=limits.hop_window)
        self.speed = float(limits.travel_speed)
        self.senders_kept = max(SENDERS_KEPT, int(limits.sender_mismatch))
        self.check_senders = bool(limits.sender_mismatch)
        self.accounts: Dict[str, Places] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["geo"] = None
        return state

    def attach(self, geo: Optional[Geo]) -> None:
        self.geo = geo

    def place(self, ip: str) -> Place:
        return self.geo.lookup(ip) if self.geo is not None else NOWHERE

    def allowed(self, ip: str) -> bool:
        """Whether an allow-list lets logins from `ip` out of the location signals."""
        return bool(self.allow) and self.allow.allows(ip, self.place(ip))

    def places(self, name: str) -> Places:
        found = self.accounts.get(name)
        if found is None:
            found = self.accounts[name] = Places()
        return found

    def fold_accounts(self) -> None:
        """Merge the facts of an account kept under several spellings of its name (a watch
        state of a version before correlate.account_of()) into the account's."""
        fold_accounts(self.accounts, Places.absorb)

    def login(self, name: str, ip: str, when: _dt.datetime) -> None:
        """A successful login of account `name` from `ip` at `when`."""
        if self.geo is None:
            return
        place = self.geo.lookup(ip)
        if place is NOWHERE or (self.allow and self.allow.allows(ip, place)):
            return
        places = self.places(name)
        if place.country:
            places.add_country(when, place.country, ip, self.span, self.max_countries)
        if place.located:
            places.add_located(when, ip, place, self.speed)

    def message(self, name: str, sender: Optional[str], when: _dt.datetime) -> None:
        """An authenticated submission of account `name` with envelope sender `sender`."""
        if self.check_senders and not sender_matches(name, sender):
            assert sender is not None
            self.places(name).add_sender(when, sender.lower(), self.senders_kept)
