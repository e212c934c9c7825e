"""incident: flag compromised accounts, show each account's hours, list the queue entries to purge.

SUMMARY
    assess(activity, thresholds, new_network=None, new_country=None) -> {user: Verdict}
                        (activity.Thresholds: the rules' limits; the two rules of what is new to
                        an account replaced by watch's, which read its whole history)
    enrichment_of(options, thresholds) -> enrich.Enrichment | None   (options geo, allow)
    suspicious_report / timeline_report (finished, selection, options) -> rows
    user_flags(activity, thresholds) -> {user: [signal names]}   (the users report's `flags`)
    ip_roles(activity, verdicts, thresholds) -> {flagged user: {ip: "attacker" | "usual"}}
    counted(n, noun) -> "1 network" | "4 networks"

DESCRIPTION
    Input is the stream correlate() yields, read once into activity.Activity. Each rule looks at
    one user and says whether its signal fired, when it first fired and why, with its numbers:

      strong  burst        more than `hourly_recipients` recipients in one clock hour, or at
                           least `burst_factor` x the user's median busy hour (median of the hours
                           in which it sent anything; or, when none is that, of the busy hours
                           before it, RISING_HISTORY at least: a run as long as the history is
                           its own median) and at least `burst_minimum`
      strong  failing      bounced + expired + deferred + rejected >= `failed_percent` % of the
                           user's recipients, with at least `failed_minimum` recipients, of
                           those tried: one waiting when the log ends (activity.WAITING_INDEX)
                           failed nothing yet
      strong  guessed      a login from an IP with >= `guess_failures` failed AUTH, or failures
                           for >= `guess_usernames` usernames, since that IP's last successful
                           login (activity.py says why "since"), forgotten once the IP has
                           failed none for `guess_window` days
      weak    hopping      >= `hop_networks` distinct networks (/24, /48) logged in within any
                           `hop_window` hours
      weak    new-network  a login from a network whose provider block (IPv4 /16, IPv6 /32) the
                           user did not use in the baseline (the first `baseline_days` days of
                           the log): a phone's carrier and a home ISP hand out addresses from
                           many /24s, so a new /24 of a known provider is routine; silent when
                           the log is not longer than the baseline or the user did not log in
                           during it
      weak    shared-ip    a login IP used by >= `shared_ip_accounts` accounts, unless it is a
                           NAT: one of those accounts (this one or another) logged in from its
                           provider block (IPv4 /16, IPv6 /32) on `nat_days` days or more. An
                           office NAT, a carrier's NAT pool spread over many /24s, a shared
                           home: someone keeps coming back to them; attackers' IPs are scattered.
                           Loopback (a webmail on the mail host) is never counted

    With an enrich.Enrichment on the Activity (enrichment_of: a GeoIP database, allow-lists or
    the sender rule), four more, from its per-account facts (enrich.Places):

      strong  countries    logins from more than `max_countries` countries within
                           `hop_window` hours (a person with a VPN rarely reaches four a day;
                           a botnet does in an hour)
      weak    new-country  a login from a country the user did not log in from in the
                           baseline, silent as new-network is; with new-network it counts as
                           one weak signal (SAME_FACT): a trip abroad is both
      weak    travel       two consecutive logins from two countries whose distance, less both
                           places' accuracy radii, needs more than `travel_speed` km/h (City
                           databases); weak, as a VPN does the same
      strong  sender-mismatch   at least `sender_mismatch` distinct envelope senders that are
                           not the login (enrich.sender_matches), in its submissions; off (0)
                           by default: aliases and shared mailboxes are the site's own policy

    A login the allow-lists let through (--allow-country, --allow-asn, --allow-ip) is left out
    of countries, new-country and travel, and its IP out of new-network and shared-ip.

    A user is flagged on one strong signal or two weak ones: severity `critical` with two or more
    strong signals, `high` with one, `medium` with weak ones only. `first_flagged` is when the
    flag first held: the first strong signal, or the second weak one.

    Each reason names the facts that fired it, within the window that fired it, in the number
    its counts ask for (`1 other account`); the hopping reason leads with its busiest window and
    names the first that held too (it may be the account's own networks, days before).

    Signals read the whole log (a baseline, other accounts, earlier failures all lie outside any
    filter); the Selection only chooses which users (and, for the timeline, which hours) are
    listed: --user by name, --since/--until/--ip by the user having a session or message there.
    The timeline lists flagged accounts first, then the others that logged in; a username that
    never logged in (one attackers only tried) only when --user names it. With a GeoIP database
    (option geo) its rows name each IP first logged in from in the hour, with its country
    (`new_ips`: `203.0.113.5 (KR)`, `?` for a country unknown).

DIAGNOSTICS
    None: rules run on aggregated facts and never raise on log content.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Callable, Dict, List, NamedTuple, Optional

from maillog_sasl.activity import (
    ONE_HOUR,
    Activity,
    Hour,
    Thresholds,
    UserActivity,
    beyond_usual,
    failed_enough,
    failing_source,
    hour_of,
    provider_of,
)
from maillog_sasl.enrich import NOWHERE, Enrichment, Places
from maillog_sasl.events import is_loopback
from maillog_sasl.model import OUTCOMES, SENT

STRONG = ("burst", "failing", "guessed", "countries", "sender-mismatch")
# An hour row covers [hour, hour + 1h): its last instant is a microsecond before the next.
HOUR_END = _dt.timedelta(hours=1, microseconds=-1)
NETWORKS_NAMED = 8


class Signal(NamedTuple):
    name: str
    when: _dt.datetime
    reason: str
    # A weak signal its weight makes strong: watch's new-network on a settled history.
    heavy: bool = False

    @property
    def strong(self) -> bool:
        return self.heavy or self.name in STRONG


class Verdict(NamedTuple):
    signals: List[Signal]
    severity: str  # "" when not flagged
    first_flagged: Optional[_dt.datetime]


def _stamp(when: _dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


def _number(value: float) -> str:
    return f"{value:g}"


def counted(count: int, singular: str, plural: str = "") -> str:
    """`1 network`, `4 networks`: a count and its noun, in the number the count asks for."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


# -- the rules --------------------------------------------------------------------------------

def burst_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    busy = user.busy
    # Only the counts that could fire either limit have an earliest hour: most accounts have none.
    if not busy.earliest:
        return None
    median = busy.median()
    fired = _burst_hours(busy, median, limits)
    against = ""
    rising = _rising_first(busy, fired, median, limits)
    if rising is not None:
        # The median of all hours is the burst's own (a run of as many hours as the account's
        # history): the first hour that was a burst against the hours before it, judged again
        # (watch may be given other limits than those of that hour).
        key, when, count, median = rising
        fired = _burst_hours(busy, median, limits)
        against = " before it"
    elif fired:
        key, count = fired[0]
        when = busy.earliest[count][1]
    else:
        return None
    if count > limits.hourly_recipients:
        why = f"more than {limits.hourly_recipients}"
    else:
        why = (f"{count / median:.1f}x the median busy hour{against} of {_number(median)}; "
               f"limits {_number(limits.burst_factor)}x and at least {limits.burst_minimum}")
    hours = sum(busy.hours_by_count[fired_count] for _, fired_count in fired)
    peak = max(fired_count for _, fired_count in fired)
    busiest = "" if peak == count else f" from {_stamp(busy.earliest[peak][0])}"
    return Signal("burst", when, f"burst: {counted(count, 'recipient')} in the hour from "
                                f"{_stamp(key)} ({why}); {counted(hours, 'such hour')} (busiest "
                                f"{peak}{busiest})")


def _rising_first(busy, fired: List[tuple], median, limits: Thresholds) -> Optional[tuple]:
    """busy.rising, the hour that was a burst against the busy hours before it, when the burst
    rule fires first there: no hour is one against the median of all, and none over
    --max-hourly-recipients comes before it (the account's own mail in an hour of a slow spam
    run tips that one over the limit a day into the run); else None."""
    rising = busy.rising
    if rising is None or not beyond_usual(rising[2], rising[3], limits):
        return None
    if any(beyond_usual(count, median, limits) for _, count in fired):
        return None
    return rising if not fired or rising[0] < fired[0][0] else None


def _burst_hours(busy, median, limits: Thresholds) -> List[tuple]:
    """(hour, count) of each count that fires the burst rule against `median`, earliest first."""
    return sorted((key, count) for count, (key, _) in busy.earliest.items()
                  if count > limits.hourly_recipients or beyond_usual(count, median, limits))


def failing_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    totals = user.tried()  # a recipient waiting when the log ends has failed nothing yet
    recipients = sum(totals)
    failed = recipients - totals[OUTCOMES.index(SENT)]
    if not failed_enough(recipients, failed, limits):
        return None
    when = user.failing_since
    # UserActivity.settle() sets it when the totals first pass the limits.
    assert when is not None
    detail = " ".join(f"{outcome} {count}" for outcome, count in zip(OUTCOMES, totals)
                      if outcome != SENT and count)
    return Signal("failing", when, f"failing: {failed} of {counted(recipients, 'recipient')} "
                                   f"failed ({100 * failed / recipients:.0f}%: {detail}; limit "
                                   f"{_number(limits.failed_percent)}% of at least "
                                   f"{limits.failed_minimum})")


def guessed_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    if not user.guesses:
        return None
    guesses = sorted(user.guesses.values())
    first = guesses[0]
    names = (f"for {counted(first.usernames, 'username')}" if first.usernames
             else "(usernames not logged)")
    more = (f"; {counted(len(guesses) - 1, 'more IP')} like it" if len(guesses) > 1 else "")
    source = "that IP" if ":" not in first.ip else f"its /64 ({failing_source(first.ip)})"
    return Signal("guessed", first.time,
                  f"guessed: login from {first.ip} at {_stamp(first.time)} after {first.failures} "
                  f"failed AUTH from {source} {names} since its last successful login (limits "
                  f"{counted(limits.guess_failures, 'failure')} or "
                  f"{counted(limits.guess_usernames, 'username')}){more}")


def _named(networks: List[str]) -> str:
    return " ".join(networks[:NETWORKS_NAMED]) + (" ..." if len(networks) > NETWORKS_NAMED else "")


def hopping_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    """Fired by the first window that held `hop_networks`; the reason leads with the busiest
    window, and each window it cites is named with its own end and its own networks: the first
    may be the account's own office, home and phone days before anything went wrong."""
    hops = user.hops
    if hops is None or hops.fired is None:
        return None
    when, networks = hops.fired
    window = f"within {_number(limits.hop_window)}h up to"
    first = f"{counted(len(networks), 'network')} {window} {_stamp(when)}: {_named(networks)}"
    if hops.busiest is None or len(hops.busiest[1]) <= len(networks):
        return Signal("hopping", when, f"hopping: {first} (limit {limits.hop_networks})")
    peak_when, peak = hops.busiest
    return Signal("hopping", when, f"hopping: {counted(len(peak), 'network')} {window} "
                                   f"{_stamp(peak_when)}: {_named(peak)} (limit "
                                   f"{limits.hop_networks}); first held with {first}")


def new_network_signal(user: UserActivity, activity: Activity,
                       limits: Thresholds) -> Optional[Signal]:
    start, end = activity.first_time, activity.last_time
    baseline = _dt.timedelta(days=limits.baseline_days)
    if start is None or end is None or end - start <= baseline:
        return None
    cut = start + baseline
    networks = activity.pairs.networks_of(user.name)
    known = {provider_of(network) for network, (first, _) in networks.items() if first < cut}
    if not known:
        return None
    allowed = _allowed(activity)
    new = sorted((first, network, ip) for network, (first, ip) in networks.items()
                 if provider_of(network) not in known and not allowed(ip))
    if not new:
        return None
    when, network, ip = new[0]
    days = f"{_number(limits.baseline_days)}-day baseline ending {_stamp(cut)}"
    among = (f"the block of the {days}" if len(known) == 1
             else f"one of the {len(known)} blocks of the {days}")
    return Signal("new-network", when,
                  f"new network: login from {ip} ({network}) at {_stamp(when)}: its provider "
                  f"block {provider_of(ip)} is not {among}; "
                  f"{counted(len(new), 'new network')} in all")


def is_nat(activity: Activity, ip: str, accounts, limits: Thresholds) -> bool:
    """One of the `accounts` that logged in from `ip` keeps coming back to its provider block
    (`nat_days` days or more): an office, a carrier's pool, a home, not an attacker's IP.
    Loopback (a webmail on the mail host) counts as one too."""
    if is_loopback(ip):
        return True
    block = provider_of(ip)
    return any(activity.pairs.days_in(account, block) >= limits.nat_days for account in accounts)


def shared_ip_signals(activity: Activity, limits: Thresholds) -> Dict[str, Signal]:
    """user -> its shared-ip Signal, from one pass over the client IPs."""
    shared: Dict[str, list] = {}
    allowed = _allowed(activity)
    for ip, accounts in activity.pairs.shared_ips(limits.shared_ip_accounts):
        if allowed(ip) or is_nat(activity, ip, accounts, limits):
            continue
        for name, when in limit_reached(accounts, limits.shared_ip_accounts).items():
            shared.setdefault(name, []).append((when, ip, len(accounts)))
    return {name: _shared_ip_signal(sorted(found), limits) for name, found in shared.items()}


def limit_reached(firsts: Dict[str, _dt.datetime], limit: int) -> Dict[str, _dt.datetime]:
    """account -> when `limit` accounts (it among them) had logged in from one IP: the later
    of its first login and the (limit - 1)th first login of the others. `firsts` (account ->
    its first login there) holds at least `limit` accounts, `limit` at least 2."""
    # The times sorted once, not once per account without its own (one IP that thousands of
    # accounts logged in from, a credential-stuffing run, took the square of them): taking an
    # account's own time out moves the others' up by one place where it came before the
    # place read.
    times = sorted(firsts.values())
    place = limit - 2
    return {name: max(first, times[place] if first > times[place] else times[place + 1])
            for name, first in firsts.items()}


def _shared_ip_signal(shared: List[tuple], limits: Thresholds) -> Signal:
    when, ip, count = shared[0]
    more = f"; {len(shared)} shared IPs in all" if len(shared) > 1 else ""
    nobody = "neither account" if count == 2 else f"none of the {count} accounts"
    return Signal("shared-ip", when, f"shared IP: {ip} is also used by "
                                     f"{counted(count - 1, 'other account')} and is no NAT: "
                                     f"{nobody} logged in from its provider block "
                                     f"{provider_of(ip)} on {counted(limits.nat_days, 'day')} "
                                     f"or more (limit {limits.shared_ip_accounts} accounts on "
                                     f"one IP){more}")


def _allowed(activity: Activity) -> Callable[[str], bool]:
    """ip -> whether --allow-country, --allow-asn or --allow-ip leave it out of the location
    signals (never, without them)."""
    enrichment = activity.enrichment
    if enrichment is None or not enrichment.allow:
        return lambda ip: False
    return enrichment.allowed


def _countries_named(places: Places, countries: List[str]) -> str:
    """`JP (first 2026-01-05T09:00+09:00 from 192.0.2.10), US (...)`: the countries of a window
    with the account's first login from each, in that order."""
    named = []
    countries = sorted(countries, key=lambda country: places.first_country[country])
    for country in countries[:NETWORKS_NAMED]:
        when, ip = places.first_country[country]
        named.append(f"{country} (first {_stamp(when)} from {ip})")
    more = f", {len(countries) - NETWORKS_NAMED} more" if len(countries) > NETWORKS_NAMED else ""
    return ", ".join(named) + more


def countries_signal(places: Places, limits: Thresholds) -> Optional[Signal]:
    """More than `max_countries` countries within `hop_window` hours; the reason leads with
    the busiest window, and names the first that held when it is another."""
    if places.countries_fired is None:
        return None
    when, countries = places.countries_fired
    busiest_when, busiest = places.countries_busiest or places.countries_fired
    window = f"within {_number(limits.hop_window)}h up to"
    limit = f"(limit more than {limits.max_countries})"
    reason = (f"countries: {counted(len(busiest), 'country', 'countries')} {window} "
              f"{_stamp(busiest_when)}: {_countries_named(places, busiest)} {limit}")
    if len(busiest) > len(countries):
        reason += (f"; first held with {counted(len(countries), 'country', 'countries')} "
                   f"{window} {_stamp(when)}: "
                   f"{' '.join(sorted(countries, key=places.first_country.__getitem__))}")
    return Signal("countries", when, reason)


def new_country_signal(places: Places, activity: Activity,
                       limits: Thresholds) -> Optional[Signal]:
    """A login from a country the account did not log in from in the baseline (the first
    `baseline_days` of the log); silent as new-network is (a log no longer than the baseline,
    an account with no located login in it)."""
    start, end = activity.first_time, activity.last_time
    baseline = _dt.timedelta(days=limits.baseline_days)
    if start is None or end is None or end - start <= baseline:
        return None
    cut = start + baseline
    known = sorted(country for country, (first, _) in places.first_country.items()
                   if first < cut)
    if not known:
        return None
    new = sorted((first, country, ip) for country, (first, ip) in places.first_country.items()
                 if first >= cut)
    if not new:
        return None
    return new_country_found(activity, new, f"the {_number(limits.baseline_days)}-day "
                                            f"baseline ending {_stamp(cut)} ({' '.join(known)})")


def new_country_found(activity: Activity, new: List[tuple], among: str) -> Signal:
    """The new-country Signal of the first of `new` ((when, country, ip) of each new country,
    oldest first), compared with the countries `among` names."""
    when, country, ip = new[0][:3]
    enrichment = activity.enrichment
    place = enrichment.place(ip) if enrichment is not None else NOWHERE
    more = (f"; {counted(len(new), 'new country', 'new countries')} in all: "
            f"{' '.join(found[1] for found in new)}" if len(new) > 1 else "")
    return Signal("new-country", when,
                  f"new country: login from {ip} ({place.label() if place.country else country}) "
                  f"at {_stamp(when)}: {country} is not among the countries of {among}{more}")


def _travel_end(login) -> str:
    when, ip, place = login
    return f"{ip} ({place.label()}) at {_stamp(when)}"


def travel_signal(places: Places, limits: Thresholds) -> Optional[Signal]:
    """Two consecutive logins whose distance, less both accuracy radii, needed more than
    `travel_speed` km/h (enrich.Places says which pairs are never travel)."""
    travel = places.travel
    if travel is None:
        return None
    fastest = places.fastest
    more = ""
    if places.travels > 1:
        more = f"; {counted(places.travels, 'such pair')}"
        if fastest is not None and fastest is not travel:
            more += f" (fastest {fastest.speed:,.0f} km/h at {_stamp(fastest.when)})"
    return Signal("travel", travel.when,
                  f"travel: {_travel_end(travel.before)}, then {_travel_end(travel.after)}: "
                  f"{travel.km:,.0f} km (accuracy radii taken off) in "
                  f"{_hours(travel.hours)}, {travel.speed:,.0f} km/h (limit "
                  f"{_number(limits.travel_speed)} km/h){more}")


def _hours(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes} min" if minutes < 120 else f"{hours:.1f}h"


def sender_mismatch_signal(places: Places, limits: Thresholds) -> Optional[Signal]:
    """Submissions with at least `sender_mismatch` distinct envelope senders that are not the
    login's own (enrich.sender_matches); off when the limit is 0."""
    limit = limits.sender_mismatch
    if not limit or len(places.senders) < limit:
        return None
    firsts = sorted((when, sender) for sender, when in places.senders.items())
    when = firsts[limit - 1][0]
    named = ", ".join(sender for _, sender in firsts[:NETWORKS_NAMED])
    if len(firsts) > NETWORKS_NAMED:
        named += ", ..."
    return Signal("sender-mismatch", when,
                  f"sender mismatch: {counted(places.mismatched, 'message')} sent as "
                  f"{counted(len(firsts), 'envelope sender')} other than the login: {named} "
                  f"(limit {counted(limit, 'sender')}; the {_ordinal(limit)} first used at "
                  f"{_stamp(when)})")


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


# A rule of what is new to an account: its name -> the signal, or None. The reports judge
# against the first `baseline_days` of the log; watch passes rules that judge against the
# account's whole history (watch.History).
NewRule = Callable[[str], Optional[Signal]]


def location_signals(name: str, activity: Activity, limits: Thresholds,
                     new_country: Optional[NewRule] = None) -> List[Signal]:
    """The signals of enrich.Enrichment's facts (none without an Enrichment); `new_country`
    replaces new_country_signal (it reads a history of its own: asked without facts too)."""
    enrichment = activity.enrichment
    places = enrichment.accounts.get(name) if enrichment is not None else None
    found = []
    if places is not None:
        found = [countries_signal(places, limits),
                 new_country_signal(places, activity, limits) if new_country is None else None,
                 travel_signal(places, limits), sender_mismatch_signal(places, limits)]
    if new_country is not None:
        found.append(new_country(name))
    return [signal for signal in found if signal is not None]


# Weak signals that tell the same fact count once: a login from a new country is a login from
# a new network too (every traveller's trip would otherwise be two weak signals, a flag).
SAME_FACT = {"new-country": "new-network"}


def judge(signals: List[Signal]) -> Verdict:
    strong = sorted(signal.when for signal in signals if signal.strong)
    weak_by_fact: Dict[str, _dt.datetime] = {}
    for signal in signals:
        if not signal.strong:
            fact = SAME_FACT.get(signal.name, signal.name)
            found = weak_by_fact.get(fact)
            weak_by_fact[fact] = signal.when if found is None else min(found, signal.when)
    weak = sorted(weak_by_fact.values())
    moments = strong[:1] + weak[1:2]
    if not moments:
        return Verdict(signals, "", None)
    severity = "critical" if len(strong) >= 2 else "high" if strong else "medium"
    return Verdict(signals, severity, min(moments))


def assess(activity: Activity, limits: Thresholds, new_network: Optional[NewRule] = None,
           new_country: Optional[NewRule] = None) -> Dict[str, Verdict]:
    """A Verdict for every user that logged in or sent mail; `new_network` and `new_country`
    replace the baseline's rules of those signals."""
    verdicts = {}
    shared = shared_ip_signals(activity, limits)
    for name, user in activity.users.items():
        if not user.logins and not user.messages:
            continue
        novel = (new_network_signal(user, activity, limits) if new_network is None
                 else new_network(name))
        signals = [burst_signal(user, limits), failing_signal(user, limits),
                   guessed_signal(user, limits), hopping_signal(user, limits), novel,
                   shared.get(name)]
        found = [signal for signal in signals if signal is not None]
        verdicts[name] = judge(found + location_signals(name, activity, limits, new_country))
    return verdicts


def user_flags(activity: Activity, limits: Thresholds) -> Dict[str, List[str]]:
    """user -> names of the signals that fired, for flagged users only."""
    return {name: [signal.name for signal in verdict.signals]
            for name, verdict in assess(activity, limits).items() if verdict.severity}


# -- reports ----------------------------------------------------------------------------------

def thresholds_of(options: dict) -> Thresholds:
    return options.get("thresholds") or Thresholds()


def enrichment_of(options: dict, limits: Thresholds) -> Optional[Enrichment]:
    """The Enrichment an Activity needs for the options: one when a database (`geo`, an
    enrich.Geo), allow-lists (`allow`, an enrich.Allow) or the sender-mismatch rule are
    given; None otherwise, and the location signals stay silent."""
    geo, allow = options.get("geo"), options.get("allow")
    if geo is None and not allow and not limits.sender_mismatch:
        return None
    return Enrichment(geo, allow, limits)


def watch(finished, selection, options, keep_hours: bool = False) -> Activity:
    """Read the whole stream into an Activity (keep_hours: every Hour, for the timeline)."""
    activity = Activity(thresholds_of(options), selection, keep_hours, options.get("stats"))
    activity.enrichment = enrichment_of(options, activity.limits)
    for _ in activity.watch(finished):
        pass
    return activity


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2}
ATTACKER, USUAL = "attacker", "usual"


def _watched(finished, selection, options, keep_hours: bool = False) -> Activity:
    """The Activity of the stream: the one reports.build_report feeds as the stream passes
    (options "activity"), else one of its own."""
    activity = options.get("activity")
    if activity is None:
        return watch(finished, selection, options, keep_hours)
    for _ in finished:
        pass
    return activity


def _verdicts(activity: Activity, options) -> Dict[str, Verdict]:
    """assess()'s verdicts, once a run: those of build_report's scope (made when the stream
    ended), else computed now."""
    found = getattr(options.get("scope"), "verdicts", None)
    return found if found is not None else assess(activity, thresholds_of(options))


def flagged_order(verdict: Verdict, recipients: int, name: str) -> tuple:
    """Sort key of flagged accounts: most severe first, then most recipients."""
    return SEVERITY_ORDER[verdict.severity], -recipients, name


def _evidence_start(verdict: Verdict) -> Optional[_dt.datetime]:
    """When the signals that flagged the account began to fire: first_flagged, or, when two
    weak ones flagged it (judge()), the first of them. An attacker hopping across the /48s of
    one provider is new-network at its first login and hopping only at its fourth network:
    that first login's block would make all of them usual."""
    flagged_at = verdict.first_flagged
    if flagged_at is None:
        return None
    if any(signal.strong and signal.when <= flagged_at for signal in verdict.signals):
        return flagged_at
    return min(signal.when for signal in verdict.signals if signal.when <= flagged_at)


def ip_roles(activity: Activity, verdicts: Dict[str, Verdict],
             limits: Thresholds) -> Dict[str, Dict[str, str]]:
    """flagged account -> {client IP: ATTACKER or USUAL}, for every IP it logged in from.

    An IP is the account's usual one when it logged in from it, or from its provider block
    (IPv4 /16, IPv6 /32: the phone's carrier, the home ISP), before the account was first
    flagged, or when the IP is a NAT by the shared-ip rule (an office NAT shared by a dozen
    accounts is nobody's attacker). The others are the attacker's. "Before" is before the hour
    ahead of the one the flag's evidence begins in: a burst or a failing share fires at a
    message, sent in a session that began earlier, from the attacker's IP, whose block would
    otherwise make every IP of the attacker's provider usual; and an account flagged by two
    weak signals was flagged at the second, the first (a new network) hours earlier.
    """
    roles: Dict[str, Dict[str, str]] = {}
    nat: Dict[str, bool] = {}
    for name, verdict in verdicts.items():
        begun = _evidence_start(verdict)
        if not verdict.severity or begun is None:
            continue
        # A message's signal fires at a message of a session that began before it, from the
        # attacker's IP: the hour before the one it fired in is not "before" either.
        since = hour_of(begun) - ONE_HOUR
        ips = activity.pairs.ips_of(name)
        known = {provider_of(ip) for ip, first in ips.items() if first < since}
        found = roles[name] = {}
        for ip, first in ips.items():
            usual = first < since or provider_of(ip) in known
            if not usual:
                if ip not in nat:
                    accounts = activity.pairs.accounts_of(ip)
                    nat[ip] = (is_loopback(ip) or len(accounts) >= limits.shared_ip_accounts
                               and is_nat(activity, ip, accounts, limits))
                usual = nat[ip]
            found[ip] = USUAL if usual else ATTACKER
    return roles


def suspicious_report(finished, selection, options) -> List[dict]:
    activity = _watched(finished, selection, options)
    ips = activity.ips_per_user()
    networks = activity.pairs.network_counts()
    rows: List[dict] = []
    for name, verdict in _verdicts(activity, options).items():
        user = activity.users[name]
        if not verdict.severity or not user.selected or not selection.user(name):
            continue
        totals = user.totals()
        recipients = sum(totals)
        failed = recipients - totals[OUTCOMES.index(SENT)]
        signals = sorted(verdict.signals, key=lambda signal: (not signal.strong, signal.when))
        rows.append({"user": name, "severity": verdict.severity,
                     "signals": [signal.name for signal in signals],
                     "reasons": [signal.reason for signal in signals],
                     "networks": networks[name], "ips": ips[name],
                     "first_flagged": verdict.first_flagged, "logins": user.logins,
                     "messages": user.messages, "recipients": recipients,
                     "failed_share": round(failed / recipients, 3) if recipients else 0.0})
    rows.sort(key=lambda row: (SEVERITY_ORDER[row["severity"]],
                               -sum(name in STRONG for name in row["signals"]),
                               -len(row["signals"]), row["first_flagged"], row["user"]))
    return rows


def timeline_report(finished, selection, options) -> List[dict]:
    """Rows of the selected accounts' hours. Flagged accounts come first (most severe, then
    most recipients), then the others that logged in or sent mail, by name. An account that
    never logged in (a username attackers only tried) is listed only when --user names it, after
    the others: a timeline must not open on the guesses of a campaign."""
    activity = _watched(finished, selection, options, keep_hours=True)
    verdicts = _verdicts(activity, options)
    geo = options.get("geo")
    order = []
    for name, user in activity.users.items():
        if not user.selected or not selection.user(name):
            continue
        verdict = verdicts.get(name)
        if verdict is not None and verdict.severity:
            order.append((0, flagged_order(verdict, sum(user.totals()), name)))
        elif user.logins or user.messages:
            order.append((1, ("", 0, name)))
        elif selection.user_patterns:
            order.append((2, ("", 0, name)))
    rows = []
    for _, (_, _, name) in sorted(order):
        user = activity.users[name]
        fired: Dict[_dt.datetime, List[str]] = {}  # hour -> the signals that fired in it
        verdict = verdicts.get(name)
        for signal in verdict.signals if verdict else ():
            fired.setdefault(hour_of(signal.when), []).append(signal.name)
        new_networks = Counter(hour_of(first)
                               for first, _ in activity.pairs.networks_of(name).values())
        new_ips = _new_ips(activity.pairs.ips_of(name), geo) if geo is not None else {}
        # An hour can hold a signal and no activity of the user's own: another account took
        # up its IP then.
        for key in sorted(set(user.history) | set(fired)):
            if not selection.window(key, key + HOUR_END):
                continue
            hour = user.history.get(key) or Hour()
            row = {"user": name, "hour": key, "logins": hour.logins, "ips": len(hour.ips),
                   "networks": len(hour.networks), "new_networks": new_networks[key],
                   "auth_failures": hour.auth_failures, "recipients": hour.recipients}
            row.update(zip(OUTCOMES, hour.totals()))
            row["signals"] = fired.get(key, [])
            if geo is not None:
                row["new_ips"] = new_ips.get(key, [])
            rows.append(row)
    return rows


def _new_ips(firsts: Dict[str, _dt.datetime], geo) -> Dict[_dt.datetime, List[str]]:
    """hour -> `IP (CC)` of each IP the account first logged in from in that hour, in order
    (`?`: a country the databases do not know)."""
    found: Dict[_dt.datetime, List[str]] = {}
    for first, ip in sorted((first, ip) for ip, first in firsts.items()):
        found.setdefault(hour_of(first), []).append(f"{ip} ({geo.lookup(ip).country or '?'})")
    return found
