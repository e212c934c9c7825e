"""The annotated corpus: each real-shaped log line in tests/corpus/*.log has its expected parse
on the line above it (`# expect: {...}`), fail2ban style. Only the keys given are checked;
`"event": null` and `"record": null` are negative samples. A failure names file:line and the
annotation's `desc`.

Each line goes through the functions the correlator runs on it: syslog.split_line and
parse_program, then events.recognize, whose smtpd dispatch (events.smtpd_kind) is the one the
correlator uses; and the whole corpus is fed to a Correlator, which must use every line that
has an event and raise on none.
"""

import datetime as dt
import json
from pathlib import Path

import pytest

from maillog_sasl import events
from maillog_sasl.correlate import Correlator
from maillog_sasl.syslog import Clock, parse_program, split_line

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


def parse(line: str):
    """(record dict or None, event or None), as the correlator's stages see the line."""
    parsed = split_line(line)
    program = parse_program(parsed[2]) if parsed is not None else None
    if program is None:
        return None, None
    stamp, host, _tag, text = parsed
    record = {"stamp": stamp, "host": host, "syslog_name": program[0], "daemon": program[1],
              "pid": program[2]}
    return record, events.recognize(program[1], text)


@pytest.mark.parametrize("line, expected", CASES)
def test_corpus_line(line, expected):
    why = expected.get("desc", "")
    record, event = parse(line)
    if "record" in expected:
        assert record is None, why
        return
    assert record is not None, why
    for key in RECORD_KEYS:
        if key in expected:
            assert record[key] == expected[key], f"{key}: {why}"
    if "time" in expected:
        moment = Clock(tz=dt.timezone.utc, anchor=PINNED_NOW).time(record["stamp"])
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
    daemons = {record["daemon"] for record, event in map(parse, (case.values[0] for case in CASES))
               if event}
    assert set(events.RECOGNIZERS) - daemons <= {"virtual", "retry", "discard"}


def test_every_smtpd_kind_has_a_sample():
    kinds = {events.smtpd_kind(split_line(case.values[0])[3]) for case in CASES
             if (parse(case.values[0])[0] or {}).get("daemon") == "smtpd"}
    assert set(events.SMTPD_PARSERS) <= kinds


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.log")), ids=lambda path: path.name)
def test_the_correlator_reads_the_corpus(path):
    """Every line the corpus gives an event is one the correlator reads: none is counted as not
    syslog or as another program's, and nothing raises."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    correlator = Correlator()
    correlator.feed(lines, Clock(tz=dt.timezone.utc, anchor=PINNED_NOW))
    correlator.finish()
    stats = correlator.stats
    with_event = [line for line in lines if parse(line)[1] is not None]
    assert stats.lines_read == len(lines)
    assert stats.lines_read - stats.not_syslog - stats.other_programs >= len(with_event)
