"""Stamps whose month is in another language than those read before, at any width, and stamps no
time is read from.

journalctl writes its short format's month with strftime's %b, in the reader's locale: a Greek
admin's `journalctl -u postfix` gives `Απρ 15 12:20:28 mx2 postfix/submission/smtpd[6833]: ...`
(kumina/postfix_exporter#76). Only twelve languages' three-letter names were read, so such a log
came out as `no Postfix activity found; 0 users`, exit 0, nothing on stderr: a name of three
characters passed the fixed-width cut, and then gave no time, so that every line was dropped
without a word; a name of another width (Greek `Ιούν` from glibc before 2.27, ko_KR's `4월`)
made the file `not a syslog file`. Now every name glibc writes in the locales of
maillog_sasl/months.py is read (tools/months.py made it from glibc's locale data), at any width;
and a Postfix line whose stamp still gives no time is counted (`--stats`: timestamps not read)
and told on stderr, once for each input, with the last such stamp (exit 2, as for an input not
read whole: the report holds everything else).

And AIX's syslogd, which writes `facility:priority` between host and tag (`Sep  7 15:43:25
smtpsv1 mail:info postfix/smtpd[90288]: connect from ...`, a Japanese admin's memo page), as
BusyBox's `mail.warn`: `not a syslog file`.

Found by a helper's hunt through real logs (session 47). The logs here are written for the
tests (the real ones are under no licence), or made from the fail2ban log of tests/reallogs as
test_reallogs11.py makes its copies, with each locale's names as glibc 2.36 writes them
(`LC_TIME=el_GR.UTF-8 date +%b`).
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_jobs import chunks_of
from test_reallogs import REAL, rows, stats
from test_reallogs11 import _read_alike

from maillog_sasl.months import LOCALE_MONTHS
from maillog_sasl.syslog import LOCAL_MONTHS, Clock, english_stamp, split_line

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc

# What strftime's %b (and %Ob, glibc's %b before 2.27) writes, January to December: widths of
# 2 to 8 characters, padded at either end, with spaces inside.
NAMES = {
    "el_GR": "Ιαν|Φεβ|Μαρ|Απρ|Μαΐ|Ιουν|Ιουλ|Αυγ|Σεπ|Οκτ|Νοε|Δεκ",
    "el_GR %Ob": "Ιαν|Φεβ|Μάρ|Απρ|Μάι|Ιούν|Ιούλ|Αύγ|Σεπ|Οκτ|Νοέ|Δεκ",
    "ja_JP": " 1月| 2月| 3月| 4月| 5月| 6月| 7月| 8月| 9月|10月|11月|12月",
    "ko_KR": " 1월| 2월| 3월| 4월| 5월| 6월| 7월| 8월| 9월|10월|11월|12월",
    "ko_KR unpadded": "1월|2월|3월|4월|5월|6월|7월|8월|9월|10월|11월|12월",
    "zh_CN": "1月|2月|3月|4月|5月|6月|7月|8月|9月|10月|11月|12月",
    "fr_FR": "janv.|févr.|mars|avril|mai|juin|juil.|août|sept.|oct.|nov.|déc.",
    "hu_HU": "jan|febr|márc|ápr|máj|jún|júl|aug|szept|okt|nov|dec",
    "et_EE": "jaan |veebr|märts|apr  |mai  |juuni|juuli|aug  |sept |okt  |nov  |dets ",
    "ca_ES": "de gen.|de febr.|de març|d’abr.|de maig|de juny|de jul.|d’ag.|de set.|d’oct.|"
             "de nov.|de des.",
    "fi_FI": "tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu",
}


@pytest.mark.parametrize("locale", sorted(NAMES))
def test_failures_in_every_month_read_alike_in_more_languages(cli, monkeypatch, tmp_path,
                                                              locale):
    # fail2ban's postfix-sasl.log, 22 lines of nine months (test_reallogs11.py): the same
    # reports and --stats as the English copy, with one job and two.
    # Before: el_GR, `no Postfix activity found` (its three-letter names, which are most of its
    # months: the lines dropped); the others, `not a syslog file`, but ja_JP's (dropped).
    text = (REAL / "fail2ban" / "postfix-sasl.log").read_text(encoding="utf-8")
    _read_alike(cli, monkeypatch, text, NAMES[locale].split("|"), tmp_path, 2024,
                ["failures", "sessions"])


def test_the_greek_journal_line_is_a_login(cli, tmp_path):
    # The shape of the line, a login behind it. Before: `no Postfix activity found;
    # 0 users`, exit 0, nothing on stderr.
    log = tmp_path / "journal.log"
    log.write_text(
        "Απρ 15 12:20:28 mx1 postfix/submission/smtpd[4711]: connect from c[192.0.2.5]\n"
        "Απρ 15 12:20:29 mx1 postfix/submission/smtpd[4711]: Anonymous TLS connection "
        "established from c[192.0.2.5]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
        "(256/256 bits)\n"
        "Απρ 15 12:20:30 mx1 postfix/submission/smtpd[4711]: 7C0DE1234: client=c[192.0.2.5], "
        "sasl_method=PLAIN, sasl_username=eleni@example.gr\n", encoding="utf-8")
    [user] = rows(cli, "users", log, year=2021)
    assert (user["user"], user["first_seen"]) == ("eleni@example.gr", "2021-04-15T12:20:28+00:00")


@pytest.mark.parametrize("line, stamp", [
    # Another width than three: the stamp made the English one.
    ("févr. 15 12:20:28 mx postfix/smtpd[1]: x", "Feb 15 12:20:28"),
    ("4월 15 12:20:28 mx postfix/smtpd[1]: x", "Apr 15 12:20:28"),
    ("Ιούν 15 12:20:28 mx postfix/smtpd[1]: x", "Jun 15 12:20:28"),
    ("de gen. 09 04:48:59 mx postfix/smtpd[1]: x", "Jan 09 04:48:59"),
    ("jaan  09 04:48:59 mx postfix/smtpd[1]: x", "Jan 09 04:48:59"),
    ("كانون الثاني 09 04:48:59 mx postfix/smtpd[1]: x", "Jan 09 04:48:59"),
    ("févr. 15 12:20:28.123456 mx postfix/smtpd[1]: x", "Feb 15 12:20:28"),  # short-precise
    ("<22>févr. 15 12:20:28 mx postfix/smtpd[1]: x", "Feb 15 12:20:28"),
    ("févr.  5 12:20:28 mx postfix/smtpd[1]: x", "Feb  5 12:20:28"),
    ("févr. 5 12:20:28 mx postfix/smtpd[1]: x", "Feb  5 12:20:28"),
    ("4월  5 12:20:28 mx postfix/smtpd[1]: x", "Apr  5 12:20:28"),
    ("Απρ 5 12:20:28 mx postfix/smtpd[1]: x", "Apr  5 12:20:28"),  # a day not padded
    ("févr. 15 12:20:28 mx mail.info postfix/smtpd[1]: x", "Feb 15 12:20:28"),  # BusyBox
    # Three characters: cut as the English one is, the stamp as written.
    ("Απρ 15 12:20:28 mx postfix/smtpd[1]: x", "Απρ 15 12:20:28"),
    (" 4月 15 12:20:28 mx postfix/smtpd[1]: x", " 4月 15 12:20:28"),
    ("10월 15 12:20:28 mx postfix/smtpd[1]: x", "10월 15 12:20:28"),
    # 15 characters, and yet a month of another width: read by the clock (below).
    ("Ιούν 5 12:20:28 mx postfix/smtpd[1]: x", "Ιούν 5 12:20:28"),
])
def test_split_line_reads_a_month_of_any_width(line, stamp):
    assert split_line(line) == (stamp, "mx", "postfix/smtpd[1]:", "x")
    # A line made of the four parts is read as they are (parallel.py hands lines back so).
    assert split_line(" ".join(split_line(line))) == split_line(line)


@pytest.mark.parametrize("stamp, when", [
    ("Απρ 15 12:20:28", (4, 15, 12, 20, 28)),
    (" 4月 15 12:20:28", (4, 15, 12, 20, 28)),
    ("10월 15 12:20:28", (10, 15, 12, 20, 28)),
    ("Ιούν 5 12:20:28", (6, 5, 12, 20, 28)),
    ("4월  5 12:20:28", (4, 5, 12, 20, 28)),
    ("Jun 15 12:20:28", (6, 15, 12, 20, 28)),
])
def test_the_clock_reads_every_stamp_split_line_gives(stamp, when):
    assert Clock(year=2024, tz=UTC).time(stamp) == dt.datetime(2024, *when, tzinfo=UTC)


@pytest.mark.parametrize("line", [
    "mail 15 12:20:28 mx postfix/smtpd[1]: x",  # a name of no month
    "févr. 15 12:20 mx postfix/smtpd[1]: x",  # no seconds
    "févr. 15 12:20:28 postfix/smtpd[1]: x y",  # no host: not read with a month but English
    "Sep  7 15:43:25 aixmx mail:infos postfix/smtpd[1]: x",  # no priority
    "Sep  7 15:43:25 aixmx www:info postfix/smtpd[1]: x",  # no facility
    "Sep  7 15:43:25 aixmx :info postfix/smtpd[1]: x",
])
def test_other_shapes_are_not_read(line):
    assert split_line(line) is None


def test_the_names_are_glibcs_and_none_is_two_months():
    # months.py holds rows of twelve names; each name, and each without its padding, one month.
    seen = {}
    for locales, names in LOCALE_MONTHS:
        assert len(names) == 12, locales
        for month, name in enumerate(names, 1):
            for written in (name, name.strip()):
                assert seen.setdefault(written, month) == month, (written, locales)
    assert seen == LOCAL_MONTHS
    for names in NAMES.values():
        assert [LOCAL_MONTHS[name.strip()] for name in names.split("|")] == list(range(1, 13))
    assert [LOCAL_MONTHS[name] for name in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
            .split()] == list(range(1, 13))
    # hr_HR is left out: its `lis` is October, pl_PL's and cs_CZ's November.
    assert LOCAL_MONTHS["lis"] == 11 and "velj" not in LOCAL_MONTHS


def test_english_stamp_gives_the_end_of_the_stamp():
    assert english_stamp("févr. 15 12:20:28.5 mx") == ("Feb 15 12:20:28", 19)
    assert english_stamp("Xyz 15 12:20:28 mx") is None


def _glibc_locales():
    """Is this glibc the one months.py was made from, with the locales it was made from?"""
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
        version = subprocess.run(["ldd", "--version"], capture_output=True, text=True).stdout
    except OSError:
        return False
    made = (ROOT / "maillog_sasl" / "months.py").read_text(encoding="utf-8")
    return ("el_GR.utf8" in listed and "hr_HR.utf8" in listed and version
            and f"glibc {version.splitlines()[0].split()[-1].split('-')[0]})" in made)


@pytest.mark.skipif(not _glibc_locales(),
                    reason="needs glibc's locales (locales-all) of the version months.py names")
def test_the_table_is_what_the_generator_writes():
    made = subprocess.run([sys.executable, "-m", "tools.months"], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert made.stdout == (ROOT / "maillog_sasl" / "months.py").read_text(encoding="utf-8")


def _session(stamp, number, user="ana@example.org"):
    """A login and its message's first queue line, each stamped `stamp` (seconds added)."""
    queue_id = f"4FD2A{number:04d}"
    return (f"{stamp}0 mx postfix/submission/smtpd[{number}]: connect from c[192.0.2.{number}]\n"
            f"{stamp}1 mx postfix/submission/smtpd[{number}]: {queue_id}: client=c[192.0.2.{number}],"
            f" sasl_method=PLAIN, sasl_username={user}\n"
            f"{stamp}2 mx postfix/qmgr[9]: {queue_id}: from=<{user}>, size=10, nrcpt=1 "
            f"(queue active)\n")


# -- stamps no time is read from --------------------------------------------------------------

@pytest.mark.parametrize("jobs", [1, 2])
def test_lines_whose_stamp_is_no_time_are_counted_and_told(cli, monkeypatch, tmp_path, jobs):
    # Sessions of a month of no language read (`Xyz`) and of no real day (Feb 30) among
    # English ones. Before: their lines counted as Postfix lines not used or untracked, exit 0,
    # nothing on stderr. Now each such line of use is counted, the input named once with the
    # count and the last such stamp, exit 2; the other sessions are in the report.
    log = tmp_path / "mixed.log"
    log.write_text(_session("Mar  1 10:00:0", 1) + _session("Xyz  1 10:01:0", 2, "bob@x.org")
                   + _session("Mar  1 10:02:0", 3) + _session("Feb 30 10:03:0", 4, "bob@x.org")
                   + _session("Mar  1 10:04:0", 5), encoding="utf-8")
    chunks_of(300, monkeypatch)
    result = cli("-r", "users", "-f", "json", "--tz", "UTC", "--year", "2024", "--stats",
                 "--jobs", jobs, log)
    assert result.code == 2
    assert [(row["user"], row["sessions"]) for row in result.json()] == [("ana@example.org", 3)]
    told = [line for line in result.err.splitlines() if line.startswith("maillog-sasl:")]
    # The client= line of each: the connect is noted, the qmgr line's message never made.
    assert told == [f"maillog-sasl: {log}: 2 Postfix lines not used: no date and time known in "
                    "the timestamp (the last: 'Feb 30 10:03:01')"]
    assert "  timestamps not read:    2\n" in result.err
    assert "lines used:               11\n" in result.err


def test_a_log_of_a_language_not_read_is_not_an_empty_report_and_no_word(cli, tmp_path):
    log = tmp_path / "journal.log"
    log.write_text(_session("Xyz 15 12:20:2", 1), encoding="utf-8")
    other = tmp_path / "other.log"
    other.write_text(_session("Mar  1 10:00:0", 2), encoding="utf-8")
    result = cli("--tz", "UTC", "--year", "2024", log, other)
    assert result.code == 2
    assert result.err == (f"maillog-sasl: {log}: 1 Postfix line not used: no date and time "
                          "known in the timestamp (the last: 'Xyz 15 12:20:21')\n")
    alone = cli("--tz", "UTC", "--year", "2024", log)
    assert "no rows: no Postfix line whose timestamp is a time known" in alone.out


def test_watch_tells_the_lines_whose_stamp_is_no_time(cli, tmp_path):
    # Before: `watch --once` read such a log with no word and exit 0: the accounts of those
    # lines were never judged and nobody was told. Now as the reports: one line, exit 2; the
    # next run with nothing new says nothing, one with more says how many more.
    log = tmp_path / "mixed.log"
    log.write_text(_session("Mar  1 10:00:0", 1) + _session("Xyz  1 10:01:0", 2, "bob@x.org")
                   + _session("Feb 30 10:03:0", 4, "bob@x.org"), encoding="utf-8")
    state = tmp_path / "state.sqlite"
    run = ("watch", "--once", "--state", state, "--tz", "UTC", "--year", "2024", log)
    first = cli(*run)
    assert (first.code, first.err) == (2, f"maillog-sasl watch: {log}: 2 Postfix lines not used: "
                                          "no date and time known in the timestamp (the last: "
                                          "'Feb 30 10:03:01')\n")
    assert (cli(*run).code, cli(*run).err) == (0, "")
    with open(log, "a", encoding="utf-8") as more:
        more.write(_session("Xyz  1 10:05:0", 5) + _session("Mar  1 10:06:0", 6))
    again = cli(*run)
    assert (again.code, again.err) == (2, f"maillog-sasl watch: {log}: 1 Postfix line not used: "
                                          "no date and time known in the timestamp (the last: "
                                          "'Xyz  1 10:05:01')\n")


def test_watch_s_help_names_them_among_the_causes_of_exit_status_2():
    from maillog_sasl import cli

    status = cli.WATCH_EPILOG.partition("exit status (--once):")[2].partition("Following")[0]
    assert "whose timestamp gives no time" in " ".join(status.split())


def test_following_tells_them_when_first_met_then_at_most_once_an_hour(tmp_path):
    from maillog_sasl import watch
    from maillog_sasl.activity import Thresholds
    from maillog_sasl.state import State

    log = tmp_path / "maillog"
    log.write_text(_session("Xyz  1 10:01:0", 1), encoding="utf-8")
    now = [0.0]
    notes = []
    opened = State.open(str(tmp_path / "s.sqlite"), watch.engine_format())
    run = watch.Watch(opened, [str(log)], [], Thresholds(), year=2024, complain=notes.append,
                      clock=lambda: now[0])
    told = f"{log}: {{}} not used: no date and time known in the timestamp (the last: {{!r}})"
    try:
        run.read()
        assert notes == [told.format("1 Postfix line", "Xyz  1 10:01:01")]
        for number, seconds in ((2, 60.0), (3, 3599.0)):  # within the hour: counted, not told
            with open(log, "a", encoding="utf-8") as more:
                more.write(_session("Xyz  1 10:0{}:0".format(number), number))
            now[0] = seconds
            run.read()
        assert len(notes) == 1
        with open(log, "a", encoding="utf-8") as more:
            more.write(_session("Mar  1 10:09:0", 9) + _session("Xyz  1 10:08:0", 8))
        now[0] = 3600.0
        run.read()
        assert notes[1:] == [told.format("3 Postfix lines", "Xyz  1 10:08:01")]
        now[0] = 7300.0
        run.read()  # nothing new: nothing to tell
        assert len(notes) == 2
    finally:
        run.close()


def test_following_tells_the_lines_counted_within_the_hour_once_it_is_up(tmp_path):
    # Before: the lines counted within the hour after a complaint were told only with the next
    # such line read after the hour; none came, and they were never told (the first line said
    # 1, and 3 more were read). Now told at the first look after the hour, or when it stops.
    import threading

    from maillog_sasl import watch
    from maillog_sasl.activity import Thresholds
    from maillog_sasl.state import State

    log = tmp_path / "maillog"
    now = [0.0]
    notes = []
    told = f"{log}: {{}} not used: no date and time known in the timestamp (the last: {{!r}})"
    for stops in (False, True):
        log.write_text(_session("Xyz  1 10:01:0", 1), encoding="utf-8")
        opened = State.open(str(tmp_path / f"s{stops}.sqlite"), watch.engine_format())
        run = watch.Watch(opened, [str(log)], [], Thresholds(), year=2024,
                          complain=notes.append, clock=lambda: now[0])
        try:
            now[0] = 0.0
            notes.clear()
            run.read()
            with open(log, "a", encoding="utf-8") as more:
                more.write(_session("Xyz  1 10:02:0", 2) + _session("Mar  1 10:03:0", 3))
            now[0] = 60.0
            run.read()
            assert len(notes) == 1
            if stops:
                stop = threading.Event()
                stop.set()
                assert run.follow(stop) == 0
            else:
                now[0] = 3600.0
                run.read()  # no line new
        finally:
            run.close()
        assert notes[1:] == [told.format("1 Postfix line", "Xyz  1 10:02:01")], stops


# -- AIX's facility:priority --------------------------------------------------------------------

def test_aix_s_facility_and_priority_before_the_tag(cli, tmp_path):
    # Before: `not a syslog file`.
    text = _session("Sep  7 15:43:2", 7)
    log = tmp_path / "aix.log"
    log.write_text(text.replace(" mx ", " aixmx mail:info "), encoding="utf-8")
    english = tmp_path / "plain.log"
    english.write_text(text.replace(" mx ", " aixmx "), encoding="utf-8")
    assert rows(cli, "users", log, year=2024) == rows(cli, "users", english, year=2024)
    assert stats(cli, log, year=2024) == stats(cli, english, year=2024)
    assert split_line("Sep  7 15:43:25 aixmx mail:info postfix/smtpd[4242]: connect from "
                      "unknown[192.0.2.7]") == ("Sep  7 15:43:25", "aixmx",
                                                "postfix/smtpd[4242]:",
                                                "connect from unknown[192.0.2.7]")
