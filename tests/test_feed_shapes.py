"""Correlator.feed() reads a traditional stamp's space as line[15]: lines too short for it, or of
another shape, go through split_line() as before and are counted the same. And events.counter()
is cached: a counters text read again gives what reading it gives. Another program's line is
read for a Postfix line nested in it (a container's prefix) as nested_line() reads it."""

from hypothesis import given
from hypothesis import strategies as st

from maillog_sasl import events
from maillog_sasl.correlate import Correlator
from maillog_sasl.model import Stats
from maillog_sasl.syslog import Clock, nested_line, parse_program, split_line

STAMP = "Mar  1 15:00:43"
LINE = f"{STAMP} mail postfix/qmgr[1370]: 657AC20400E5: removed"


@given(st.lists(st.sampled_from(["", " ", "x", STAMP, STAMP + " ", STAMP + " mail",
                                 STAMP + " mail postfix/qmgr[1]:", LINE,
                                 "2026-03-01T15:00:43+00:00 mail postfix/qmgr[1]: x: removed",
                                 LINE[:15], LINE[:16], LINE[:17]]), max_size=12))
def test_short_and_other_lines_are_counted_as_split_line_reads_them(lines):
    stats = Stats()
    correlator = Correlator(stats)
    correlator._doubled = False  # a list of repeated samples is no doubled log
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
    correlator._doubled = False
    correlator.feed(lines, Clock())
    nested = [nested_line(text) if text[15:16] == " " or text[:1].isdigit() else None
              for text in texts]
    assert stats.other_programs == sum(
        found is None or not parse_program(found[2]) for found in nested)
    assert stats.lines_read == len(lines)
