"""The annotated corpus: each real-shaped log line in tests/corpus/*.log has its expected parse
on the line above it (`# expect: {...}`), fail2ban style. Only the keys given are checked;
`"event": null` and `"record": null` are negative samples. A failure names file:line and the
annotation's `desc`.
"""

import datetime as dt
import json
from pathlib import Path

import pytest

from maillog_sasl import events
from maillog_sasl.syslog import Clock

CORPUS = Path(__file__).parent / "corpus"
PINNED_NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.timezone.utc)
RECORD_KEYS = ("host", "syslog_name", "daemon", "pid")


def load_corpus():
    cases = []
    for path in sorted(CORPUS.glob("*.log")):
        expectation = None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("# expect: "):
                expectation = json.loads(line[len("# expect: "):])
            elif line.startswith("#") or not line:
                continue
            else:
                assert expectation is not None, f"{path.name}:{number}: log line without # expect"
                cases.append(pytest.param(line, expectation, id=f"{path.name}:{number}"))
                expectation = None
    return cases


CASES = load_corpus()


@pytest.mark.parametrize("line, expected", CASES)
def test_corpus_line(line, expected):
    why = expected.get("desc", "")
    [(record, event)] = list(events.parse_records([line]))
    if "record" in expected:
        assert record is None, why
        return
    assert record is not None, why
    for key in RECORD_KEYS:
        if key in expected:
            assert getattr(record, key) == expected[key], f"{key}: {why}"
    if "time" in expected:
        moment = Clock(tz=dt.timezone.utc, anchor=PINNED_NOW).time(record.stamp)
        assert (moment.isoformat() if moment else None) == expected["time"], why
    if "event" not in expected:
        return
    if expected["event"] is None:
        assert event is None, why
        return
    assert event is not None and event.kind == expected["event"], why
    fields = json.loads(json.dumps(event._asdict()))
    for key, value in expected.items():
        if key not in ("event", "desc", "time") + RECORD_KEYS:
            assert fields[key] == value, f"{key}: {why}"


def test_every_event_kind_has_a_sample():
    kinds = {case.values[1].get("event") for case in CASES}
    defined = {cls.kind for cls in vars(events).values()
               if isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "kind")}
    assert defined - kinds == set()


def test_every_recognised_daemon_has_a_sample():
    lines = [case.values[0] for case in CASES]
    daemons = {record.daemon for record, event in events.parse_records(lines) if event}
    assert set(events.RECOGNIZERS) - daemons <= {"virtual", "retry", "discard"}
