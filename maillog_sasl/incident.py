"""incident: flag compromised accounts, show each account's hours, list the queue entries to purge.

SUMMARY
    assess(activity, thresholds) -> {user: Verdict}     (activity.Thresholds: the rules' limits)
    suspicious_report / timeline_report (finished, selection, options) -> rows
    user_flags(activity, thresholds) -> {user: [signal names]}   (the users report's `flags`)

DESCRIPTION
    Input is the stream correlate() yields, read once into activity.Activity. Each rule looks at
    one user and says whether its signal fired, when it first fired and why, with its numbers:

      strong  burst        more than `hourly_recipients` recipients in one clock hour, or at
                           least `burst_factor` x the user's median busy hour (median of the hours
                           in which it sent anything) and at least `burst_minimum`
      strong  failing      bounced + expired + deferred + rejected >= `failed_percent` % of the
                           user's recipients, with at least `failed_minimum` recipients
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

    A user is flagged on one strong signal or two weak ones: severity `critical` with two or more
    strong signals, `high` with one, `medium` with weak ones only. `first_flagged` is when the
    flag first held: the first strong signal, or the second weak one.

    Signals read the whole log (a baseline, other accounts, earlier failures all lie outside any
    filter); the Selection only chooses which users (and, for the timeline, which hours) are
    listed: --user by name, --since/--until/--ip by the user having a session or message there.

DIAGNOSTICS
    None: rules run on aggregated facts and never raise on log content.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Dict, List, NamedTuple, Optional

from maillog_sasl.activity import (
    Activity,
    Hour,
    Thresholds,
    UserActivity,
    failed_enough,
    hour_of,
    provider_of,
)
from maillog_sasl.events import is_loopback
from maillog_sasl.model import OUTCOMES, SENT

STRONG = ("burst", "failing", "guessed")
# An hour row covers [hour, hour + 1h): its last instant is a microsecond before the next.
HOUR_END = _dt.timedelta(hours=1, microseconds=-1)
NETWORKS_NAMED = 8


class Signal(NamedTuple):
    name: str
    when: _dt.datetime
    reason: str

    @property
    def strong(self) -> bool:
        return self.name in STRONG


class Verdict(NamedTuple):
    signals: List[Signal]
    severity: str  # "" when not flagged
    first_flagged: Optional[_dt.datetime]


def _stamp(when: _dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


def _number(value: float) -> str:
    return f"{value:g}"


# -- the rules --------------------------------------------------------------------------------

def burst_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    busy = user.busy
    if not busy.hours_by_count:
        return None
    median = busy.median()
    fired = sorted((key, count) for count, (key, _) in busy.earliest.items()
                   if count > limits.hourly_recipients
                   or (count >= limits.burst_minimum and count >= limits.burst_factor * median))
    if not fired:
        return None
    key, count = fired[0]
    when = busy.earliest[count][1]
    if count > limits.hourly_recipients:
        why = f"more than {limits.hourly_recipients}"
    else:
        why = (f"{count / median:.1f}x the median busy hour of {_number(median)}; limits "
               f"{_number(limits.burst_factor)}x and at least {limits.burst_minimum}")
    hours = sum(busy.hours_by_count[fired_count] for _, fired_count in fired)
    peak = max(fired_count for _, fired_count in fired)
    return Signal("burst", when, f"burst: {count} recipients in the hour from {_stamp(key)} "
                                f"({why}); {hours} such hours (busiest {peak})")


def failing_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    totals = user.totals()
    recipients = sum(totals)
    failed = recipients - totals[OUTCOMES.index(SENT)]
    if not failed_enough(recipients, failed, limits):
        return None
    when = user.failing_since
    # UserActivity.settle() sets it when the totals first pass the limits.
    assert when is not None
    detail = " ".join(f"{outcome} {count}" for outcome, count in zip(OUTCOMES, totals)
                      if outcome != SENT and count)
    return Signal("failing", when, f"failing: {failed} of {recipients} recipients failed "
                                   f"({100 * failed / recipients:.0f}%: {detail}; limit "
                                   f"{_number(limits.failed_percent)}% of at least "
                                   f"{limits.failed_minimum})")


def guessed_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    if not user.guesses:
        return None
    guesses = sorted(user.guesses.values())
    first = guesses[0]
    names = f"for {first.usernames} usernames" if first.usernames else "(usernames not logged)"
    more = f"; {len(guesses) - 1} more IPs like it" if len(guesses) > 1 else ""
    return Signal("guessed", first.time,
                  f"guessed: login from {first.ip} at {_stamp(first.time)} after {first.failures} "
                  f"failed AUTH from that IP {names} since its last successful login (limits "
                  f"{limits.guess_failures} failures or {limits.guess_usernames} usernames){more}")


def hopping_signal(user: UserActivity, limits: Thresholds) -> Optional[Signal]:
    if user.hops is None or user.hops.fired is None:
        return None
    when, networks = user.hops.fired
    most = user.hops.most
    named = " ".join(networks[:NETWORKS_NAMED]) + (" ..." if len(networks) > NETWORKS_NAMED else "")
    return Signal("hopping", when, f"hopping: {len(networks)} networks within "
                                   f"{_number(limits.hop_window)}h up to {_stamp(when)}: {named} "
                                   f"(limit {limits.hop_networks}; most in one window {most})")


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
    new = sorted((first, network, ip) for network, (first, ip) in networks.items()
                 if provider_of(network) not in known)
    if not new:
        return None
    when, network, ip = new[0]
    return Signal("new-network", when,
                  f"new network: login from {ip} ({network}) at {_stamp(when)}: its provider "
                  f"block {provider_of(ip)} is not one of the {len(known)} of the "
                  f"{_number(limits.baseline_days)}-day baseline ending {_stamp(cut)}; "
                  f"{len(new)} new networks in all")


def shared_ip_signals(activity: Activity, limits: Thresholds) -> Dict[str, Signal]:
    """user -> its shared-ip Signal, from one pass over the client IPs."""
    shared: Dict[str, list] = {}
    for ip, accounts in activity.pairs.shared_ips(limits.shared_ip_accounts):
        if is_loopback(ip):
            continue
        block = provider_of(ip)
        if any(activity.pairs.days_in(account, block) >= limits.nat_days for account in accounts):
            continue
        for name, first in accounts.items():
            others = sorted(when for account, when in accounts.items() if account != name)
            # The moment the limit was reached with this user among the accounts.
            when = max(first, others[limits.shared_ip_accounts - 2])
            shared.setdefault(name, []).append((when, ip, len(accounts)))
    return {name: _shared_ip_signal(sorted(found), limits) for name, found in shared.items()}


def _shared_ip_signal(shared: List[tuple], limits: Thresholds) -> Signal:
    when, ip, count = shared[0]
    more = f"; {len(shared)} shared IPs in all" if len(shared) > 1 else ""
    return Signal("shared-ip", when, f"shared IP: {ip} is also used by {count - 1} other "
                                     f"accounts and is no NAT: none of them logged in from its "
                                     f"provider block {provider_of(ip)} on {limits.nat_days} "
                                     f"days (limit {limits.shared_ip_accounts} accounts on one "
                                     f"IP){more}")


def judge(signals: List[Signal]) -> Verdict:
    strong = sorted(signal.when for signal in signals if signal.strong)
    weak = sorted(signal.when for signal in signals if not signal.strong)
    moments = strong[:1] + weak[1:2]
    if not moments:
        return Verdict(signals, "", None)
    severity = "critical" if len(strong) >= 2 else "high" if strong else "medium"
    return Verdict(signals, severity, min(moments))


def assess(activity: Activity, limits: Thresholds) -> Dict[str, Verdict]:
    """A Verdict for every user that logged in or sent mail."""
    verdicts = {}
    shared = shared_ip_signals(activity, limits)
    for name, user in activity.users.items():
        if not user.logins and not user.messages:
            continue
        signals = [burst_signal(user, limits), failing_signal(user, limits),
                   guessed_signal(user, limits), hopping_signal(user, limits),
                   new_network_signal(user, activity, limits), shared.get(name)]
        verdicts[name] = judge([signal for signal in signals if signal is not None])
    return verdicts


def user_flags(activity: Activity, limits: Thresholds) -> Dict[str, List[str]]:
    """user -> names of the signals that fired, for flagged users only."""
    return {name: [signal.name for signal in verdict.signals]
            for name, verdict in assess(activity, limits).items() if verdict.severity}


# -- reports ----------------------------------------------------------------------------------

def thresholds_of(options: dict) -> Thresholds:
    return options.get("thresholds") or Thresholds()


def watch(finished, selection, options, keep_hours: bool = False) -> Activity:
    """Read the whole stream into an Activity (keep_hours: every Hour, for the timeline)."""
    activity = Activity(thresholds_of(options), selection, keep_hours, options.get("stats"))
    for _ in activity.watch(finished):
        pass
    return activity


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2}


def suspicious_report(finished, selection, options) -> List[dict]:
    activity = watch(finished, selection, options)
    ips = activity.ips_per_user()
    networks = activity.pairs.network_counts()
    rows: List[dict] = []
    for name, verdict in assess(activity, thresholds_of(options)).items():
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
    activity = watch(finished, selection, options, keep_hours=True)
    verdicts = assess(activity, thresholds_of(options))
    rows = []
    for name in sorted(activity.users):
        user = activity.users[name]
        if not user.selected or not selection.user(name):
            continue
        fired: Dict[_dt.datetime, List[str]] = {}  # hour -> the signals that fired in it
        verdict = verdicts.get(name)
        for signal in verdict.signals if verdict else ():
            fired.setdefault(hour_of(signal.when), []).append(signal.name)
        new_networks = Counter(hour_of(first)
                               for first, _ in activity.pairs.networks_of(name).values())
        # An hour can hold a signal and no activity of the user's own: another account took
        # up its IP then.
        for key in sorted(set(user.history) | set(fired)):
            if not selection.window(key, key + HOUR_END):
                continue
            hour = user.history.get(key) or Hour()
            row = {"user": name, "hour": key, "logins": hour.logins, "ips": len(hour.ips),
                   "networks": len(hour.networks), "new_networks": new_networks[key],
                   "auth_failures": hour.auth_failures, "recipients": hour.recipients}
            row.update(zip(OUTCOMES, hour.outcomes))
            row["signals"] = fired.get(key, [])
            rows.append(row)
    return rows
