"""Correlator.feed() reads a traditional stamp's space as line[15]: lines too short for it, or of
a shape it does not cut itself, go through split_line() as before and are counted the same. And events.counter()
is cached: a counters text read again gives what reading it gives. Another program's line is
read for a Postfix line nested in it (a container's prefix) as nested_line() reads it. And
feed() cuts two shapes inline, a traditional stamp and one of a digit first (RFC 3339), and
skips the ten-minute slot check of a line that starts with its host's slot of the line before:
the slots it enters must be those of every line cut by split_line() and checked, over lines of
any shape in any order (both shapes on one host, digit-first stamps shorter than a slot, one
with a space where a traditional stamp ends, too few fields, other programs)."""

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_sasl import events
from maillog_sasl.correlate import OTHER_CLOCK, SLOT_ISO, SLOT_TRADITIONAL, Correlator
from maillog_sasl.model import Stats
from maillog_sasl.syslog import Clock, nested_line, parse_program, split_line

from support import COMPILED

STAMP = "Mar  1 15:00:43"
LINE = f"{STAMP} mail postfix/qmgr[1370]: 657AC20400E5: removed"


@given(st.lists(st.sampled_from(["", " ", "x", STAMP, STAMP + " ", STAMP + " mail",
                                 STAMP + " mail postfix/qmgr[1]:", LINE,
                                 "2026-03-01T15:00:43+00:00 mail postfix/qmgr[1]: x: removed",
                                 LINE[:15], LINE[:16], LINE[:17]]), max_size=12))
def test_short_and_other_lines_are_counted_as_split_line_reads_them(lines):
    stats = Stats()
    correlator = Correlator(stats)
    correlator._copies = 1  # a list of repeated samples is no doubled log
    correlator.feed(lines, Clock())
    assert stats.lines_read == len(lines)
    assert stats.not_syslog == sum(split_line(line) is None for line in lines)


@given(st.text(alphabet=st.sampled_from("auth=rcpt/ 0123٣x"), max_size=20),
       st.sampled_from(["auth", "rcpt"]))
def test_a_counters_text_read_again_gives_what_reading_it_gives(text, name):
    read = events._read_counter(text, name)
    assert events.counter(text, name) == read
    assert events.counter(text, name) == read


def test_a_long_counters_text_is_read_but_not_kept():
    # A forged disconnect line's counters text can be 64 kB: a thousand kept would hold 64 MB.
    long_text = "ehlo=1 auth=0/1 " + "x" * 70_000 + " quit=1"
    before = events._kept_counter.cache_info().currsize
    assert events.counter(long_text, "auth") == (0, 1)
    assert events._kept_counter.cache_info().currsize == before


def test_a_number_of_thousands_of_digits_is_no_number(cli, tmp_path):
    # int() refuses more than 4,300 digits: a forged counter or size ended the run in a
    # traceback. Read as no number, the line is counted as its other fields say.
    nines = "9" * 5_000
    log = tmp_path / "maillog"
    log.write_text(
        "Mar  2 10:00:00 mx postfix/submission/smtpd[7]: connect from a.example[192.0.2.7]\n"
        "Mar  2 10:00:01 mx postfix/submission/smtpd[7]: 4B2C31E0F1: client=a.example"
        "[192.0.2.7], sasl_method=PLAIN, sasl_username=ann\n"
        f"Mar  2 10:00:01 mx postfix/qmgr[9]: 4B2C31E0F1: from=<ann@example.jp>, size={nines}, "
        "nrcpt=1 (queue active)\n"
        "Mar  2 10:00:02 mx postfix/submission/smtpd[7]: disconnect from a.example[192.0.2.7]"
        f" ehlo=1 auth={nines}/{nines} rcpt={nines} quit=1 commands=3\n")
    for report in ("users", "sessions", "messages", "suspicious"):
        result = cli("-r", report, "-f", "json", "--year", "2026", log)
        assert result.code == 0, result.err
    assert events.counter(f"auth={nines}", "auth") is None
    assert events.parse_counters(f"ehlo=1 auth={nines}") == {"ehlo": (1, 1)}


NESTED_TEXTS = ["1A2B3C: DKIM-Signature field added", "٣A: x", "2026 x", "1234: x",
                "2026-03-01T15:00:43+00:00 mail postfix/qmgr[1]: 657AC20400E5: removed",
                "2026 Mar  1 15:00:43 mail postfix/qmgr[1]: 657AC20400E5: removed",
                "٣٣٣٣ mail postfix/qmgr[1]: 657AC20400E5: removed", LINE,
                "1 h postfix/qmgr[1]: 657AC20400E5: removed", "<22>" + LINE, "x"]


@given(st.lists(st.sampled_from(NESTED_TEXTS), max_size=8))
def test_another_programs_line_is_read_for_a_nested_one_as_nested_line_reads_it(texts):
    # A text that starts with a traditional stamp or a digit may hold a nested line; feed()
    # asks nested_line() only of those that start with the stamp or four digits: the digits'
    # texts it leaves are those nested_line() finds no line in.
    lines = [f"{STAMP} mail opendkim[2]: {text}" for text in texts]
    stats = Stats()
    correlator = Correlator(stats)
    correlator._copies = 1
    correlator.feed(lines, Clock())
    nested = [nested_line(text) if text[15:16] == " " or text[:1].isdigit() else None
              for text in texts]
    assert stats.other_programs == sum(
        found is None or not parse_program(found[2]) for found in nested)
    assert stats.lines_read == len(lines)


STAMPS = st.one_of(
    st.builds("Mar  2 0{}:{}{}:1{}".format, st.sampled_from("01"), st.sampled_from("12"),
              st.sampled_from("05"), st.sampled_from("07")),
    st.builds("2026-03-02T0{}:{}{}:1{}{}{}".format, st.sampled_from("01"), st.sampled_from("12"),
              st.sampled_from("05"), st.sampled_from("07"), st.sampled_from(["", ".123456"]),
              st.sampled_from(["Z", "+01:00", "-05:00"])),
    # Digit first, shorter than a slot (an epoch stamp), or a slot's length with a space after.
    st.sampled_from(["1700000000.1", "1700000000.15", "2026-03-02T00:1", "2026-03-02T00:2",
                     "2026-03-02", "<13>2026-03-02T00:10:00Z"]),
)
LINES = st.builds(
    "{}{}{}{}".format, STAMPS, st.sampled_from([" mx1 ", " mx1 ", " mx2 ", " ", "  "]),
    st.sampled_from(["postfix/qmgr[3]: ", "postfix/qmgr[3]: ", "sshd[9]: ", "noc0lon ", ""]),
    st.sampled_from(["A1B2C3: removed", "A1B2C3:  removed ", "x", ""]))


def slot_changes(lines):
    """(host, slot, stamp) each time a host enters another slot, as feed() found them when it
    cut only traditional lines inline and checked the slot of every other line: a line with a
    space where a traditional stamp ends and a tag seen before (one split_line() gave) is cut
    there, its slot a traditional one, whatever its first characters. Another program's lines
    enter theirs under a key of their own (their stamps may be in another clock)."""
    slots, changes, tags = {}, [], set()
    for line in lines:
        fields = line[16:].split(" ", 2)
        if line[15:16] == " " and len(fields) == 3 and fields[1] in tags:
            host, tag, slot, stamp = fields[0], fields[1], line[:SLOT_TRADITIONAL], line[:15]
        else:
            parsed = split_line(line)
            if parsed is None:
                continue
            stamp, host, tag = parsed[:3]
            tags.add(tag)
            slot = stamp[:SLOT_TRADITIONAL if stamp[3:4] == " " else SLOT_ISO]
        if parse_program(tag) is None:
            host += OTHER_CLOCK
        if slots.get(host) != slot:
            slots[host] = slot
            changes.append((host, slot, stamp))
    return changes


def entered(lines):
    """(host, slot, stamp) each time feed() has a host enter another slot."""
    changes = []
    original = Correlator._slot_line

    def recorded(self, host, slot, stamp, clock):
        if self._slots.get(host) != slot:
            changes.append((host, slot, stamp))
        original(self, host, slot, stamp, clock)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Correlator, "_slot_line", recorded)
        correlator = Correlator()
        correlator._copies = 1  # a list of repeated samples is no doubled log
        correlator.feed(lines, Clock(year=2026, tz=dateutil_tz.UTC))
    return changes


NOT_COMPILED = pytest.mark.skipif(
    COMPILED, reason="replaces a method, which a compiled class (setup.py) does not let a test "
    "do; the pure-Python suite runs it")


@NOT_COMPILED
@settings(max_examples=400, deadline=None)
@given(st.lists(LINES, max_size=25))
def test_feed_enters_the_slots_that_split_line_gives(lines):
    assert entered(lines) == slot_changes(lines)


REMOVED = " mx1 postfix/qmgr[3]: A1B2C3: removed"


@NOT_COMPILED
@pytest.mark.parametrize("stamps, slots", [
    # The host's slot is the traditional line's when it is back in the RFC 3339 one.
    (["2026-03-02T00:10:17Z", "2026-03-02T00:10:18Z", "Mar  2 00:10:17", "2026-03-02T00:10:19Z"],
     ["2026-03-02T00:1", "Mar  2 00:1", "2026-03-02T00:1"]),
    # And the RFC 3339 line's when it is back in the traditional one.
    (["Mar  2 00:10:17", "Mar  2 00:10:18", "2026-03-02T00:10:17Z", "Mar  2 00:10:19"],
     ["Mar  2 00:1", "2026-03-02T00:1", "Mar  2 00:1"]),
    # A stamp shorter than a slot is its own slot: a line that starts with it is in another.
    (["1700000000.1", "1700000000.1", "1700000000.15"],
     ["1700000000.1", "1700000000.15"]),
    # A line split_line() alone reads (a PRI first) moves the host to its slot too.
    (["2026-03-02T00:20:17Z", "2026-03-02T00:20:18Z", "<13>2026-03-02T00:10:00Z",
      "2026-03-02T00:20:19Z"],
     ["2026-03-02T00:2", "2026-03-02T00:1", "2026-03-02T00:2"]),
])
def test_a_line_in_the_slot_of_the_line_before_of_its_host_is_in_its_host_s_slot(stamps, slots):
    lines = [stamp + REMOVED for stamp in stamps]
    assert [slot for _, slot, _ in entered(lines)] == slots
    assert entered(lines) == slot_changes(lines)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=25))
def test_feed_cuts_each_line_as_split_line_does_and_ends_in_its_slots(lines):
    # The compiled build too: what feed() hands a parallel.py worker's hook for the lines of a
    # queue ID it does not hold (the stamp, host and text it cut), and the slots it ends in.
    handed = []
    correlator = Correlator()
    correlator._copies = 1
    correlator._orphan = lambda line, stamp, key, daemon, text, place: handed.append(
        (stamp, key[0], daemon, text, place))  # (its place among the lines: late lines)
    correlator.feed(lines, Clock(year=2026, tz=dateutil_tz.UTC))
    assert handed == [(parsed[0], parsed[1], "qmgr", parsed[3], place)
                      for place, parsed in enumerate(map(split_line, lines))
                      if parsed is not None and parsed[2] == "postfix/qmgr[3]:"
                      and parsed[3].startswith("A1B2C3: ")]
    assert correlator._slots == {host: slot for host, slot, _ in slot_changes(lines)}
