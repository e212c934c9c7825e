"""A kept Activity (watch's state) pickled before observe() kept its due time and the end of its
last hour reads as one that never had them: it works them out again and judges as before."""

from pathlib import Path

from maillog_sasl import analyze, incident
from maillog_sasl.activity import Activity
from maillog_sasl.pairs import PairStore
from maillog_sasl.state import freeze, thaw

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "maillog-sample.log"


def _facts(activity: Activity):
    verdicts = incident.assess(activity, activity.limits)
    users = {name: (user.logins, user.messages, user.totals(), user.busy.hours_by_count,
                    user.failing_since, user.hops and (user.hops.fired, user.hops.most))
             for name, user in activity.users.items()}
    return verdicts, users, activity.first_time, activity.last_time


def test_an_activity_kept_without_its_due_time_and_hour_end_goes_on_as_one_that_had_them():
    items = analyze([str(SAMPLE)], year=2026).items
    half = len(items) // 2
    whole = Activity(pairs=PairStore())
    for item in items:
        whole.observe(item)
    whole.close()

    kept = Activity(pairs=PairStore())
    for item in items[:half]:
        kept.observe(item)
    old = thaw(freeze(kept, kept.pairs), kept.pairs)
    # What an older version pickled: an Activity's state without either attribute, which
    # unpickling hands to __setstate__.
    state = old.__getstate__()
    for name in ("_next_due", "_last_hour_end"):
        del state[name]
    old.__setstate__(state)
    assert old._next_due is None and old._last_hour_end is None
    for item in items[half:]:
        old.observe(item)
    old.close()
    assert _facts(old) == _facts(whole)
