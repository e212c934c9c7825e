"""/var/log/syslog beside /var/log/mail.log (Debian, Ubuntu): rsyslog writes each mail line to
both, syslog with every other program's lines between them, each file rotated and compressed
under its own name, and not always on the same days (syslog daily and mail.log weekly up to
bullseye; both weekly since, rotated a moment apart). `maillog-sasl /var/log/mail.log*
/var/log/syslog*` counted every login and message twice. Now a file whose Postfix lines the
other files given hold is left out, with a note, and the reports are those of the mail lines
read once; a file that holds a line no other does is read."""

import datetime as dt
import gzip
import os

import pytest

from maillog_writer import SECOND, MailLog, at, with_other_programs

DAYS = 15
# logrotate moves mail.log this long after syslog: the lines between are in the new syslog and
# in the mail log rotated.
SKEW = 2 * SECOND


def activity() -> MailLog:
    """Logins, a brute force and a spam run over DAYS days, and a session across each morning's
    rotation (cron.daily's, at 06:25)."""
    log = MailLog()
    for day in range(DAYS):
        for hour in (1, 9, 13, 18, 22):
            log.login(f"user{hour}@example.jp", f"198.51.100.{day + 1}", at(day, hour, 3 * day),
                      to=2)
        log.failures("203.0.113.66", at(day, 2), ["admin", "info", "test"])
        log.login("alice@example.jp", "192.0.2.7", at(day, 6, 25) - 2 * SECOND)
    log.login("mallory@example.jp", "203.0.113.9", at(3, 4), to=40, outcome="bounced")
    return log


def rotated(directory, name, lines, ends, since=None):
    """The rotated set `name` of `lines` ((when, seq, line)), as logrotate leaves it (name,
    name.1, then name.2.gz ...: delaycompress), rotated at each of `ends`, the oldest first; the
    lines before `since` deleted. Its paths, the newest first."""
    files = [[] for _ in range(len(ends) + 1)]
    for when, _, line in sorted(lines):
        if since is None or when >= since:
            files[sum(when >= end for end in ends)].append((when, line + "\n"))
    paths = []
    for age, text in enumerate(reversed(files)):
        data = "".join(line for _, line in text).encode()
        path = directory / (name if age == 0 else f"{name}.{age}")
        if age >= 2:  # gzip keeps the time the file was last written
            path = path.with_name(path.name + ".gz")
            data = gzip.compress(data, mtime=text[-1][0].timestamp() if text else 0)
        path.write_bytes(data)
        paths.append(path)
    return paths


def weekly(day=0):
    return [at(7, 6, 25) + SECOND * day, at(14, 6, 25) + SECOND * day]


@pytest.fixture
def logs(tmp_path):
    """(mail.log's rotated set: weekly, syslog's: daily, the last seven days) of one host."""
    log = activity()
    mail = rotated(tmp_path, "mail.log", log.lines, [end + SKEW for end in weekly()])
    syslog = rotated(tmp_path, "syslog", with_other_programs(log),
                     [at(day, 6, 25) for day in range(8, DAYS)], since=at(7, 6, 25))
    return mail, syslog


def without_years(path, copied, dated=False):
    """The file `path` of rotated() with traditional (yearless) stamps, copied at `copied` (its
    modification time, a timestamp); `dated`: compressed (named .gz), its last line's time in
    gzip's header as logrotate's gzip keeps it (its end); else a .gz file's header has none."""
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
    lines = [(dt.datetime.fromisoformat(stamp), rest)
             for stamp, rest in (line.split(" ", 1) for line in text.splitlines())]
    data = "".join(f"{when:%b} {when.day:2d} {when:%H:%M:%S} {rest}\n"
                   for when, rest in lines).encode()
    if dated:
        path.unlink()
        path = path.with_name(path.name if path.suffix == ".gz" else path.name + ".gz")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=lines[-1][0].timestamp() if dated else 0)
    path.write_bytes(data)
    os.utime(path, (copied, copied))
    return path


def notes(result):
    return sorted(line for line in result.err.splitlines() if line.endswith("; read once"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_syslog_beside_the_mail_logs_is_read_once(cli, logs, jobs):
    # `maillog-sasl /var/log/mail.log* /var/log/syslog*` on bullseye: syslog's seven days, all
    # within mail.log's three weeks, doubled every login and message of the last week.
    mail, syslog = logs
    alone = cli("--jobs", jobs, *mail)
    both = cli("--jobs", jobs, *mail, *syslog)
    assert both.code == 0 and alone.code == 0
    assert both.out == alone.out
    assert notes(both) == sorted(
        f"maillog-sasl: {path}: the Postfix lines of the log {held}, among other programs' "
        "lines; read once" for path, held in zip(syslog, [
            f"{mail[1]} and {mail[0]} hold", *[f"{mail[1]} holds"] * 6,
            f"{mail[2]} and {mail[1]} hold"]))


def test_syslog_rotated_with_the_mail_log_is_read_once(cli, tmp_path):
    # Debian 12, Ubuntu 22.04 and later: both weekly, syslog rotated first and mail.log a
    # moment after, each `.2.gz` compressed. Every file's lines are read once, and `--stats`
    # counts the mail logs' lines alone.
    log = activity()
    mail = rotated(tmp_path, "mail.log", log.lines, [end + SKEW for end in weekly()])
    syslog = rotated(tmp_path, "syslog", with_other_programs(log), weekly())
    alone = cli("--stats", *mail)
    both = cli("--stats", *syslog, *mail)
    assert both.code == 0
    assert both.out == alone.out
    held = [f"{mail[1]} and {mail[0]} hold", f"{mail[2]} and {mail[1]} hold", f"{mail[2]} holds"]
    told = [f"maillog-sasl: {path}: the Postfix lines of the log {where}, among other programs' "
            "lines; read once" for path, where in zip(syslog, held)]
    assert both.err == "".join(note + "\n" for note in told[::-1]) + alone.err


def joined(directory, paths):
    """One file of the texts of `paths`, the oldest first (the reading of each line once)."""
    whole = directory / "joined"
    whole.write_bytes(b"".join(gzip.decompress(path.read_bytes()) if path.suffix == ".gz"
                               else path.read_bytes() for path in paths))
    return whole


def test_a_mail_log_within_syslogs_days_is_left_for_them(cli, logs, tmp_path):
    # `maillog-sasl mail.log.1 syslog*`: syslog's seven days and today hold last week's mail
    # log, and the moment before it that no other file given holds. The mail log is left out,
    # not syslog.7 read whole beside it, its mail lines twice.
    mail, syslog = logs
    result = cli(mail[1], *syslog)
    assert result.code == 0
    assert result.out == cli(joined(tmp_path, syslog[::-1])).out
    assert notes(result) == [f"maillog-sasl: {mail[1]}: the Postfix lines of the log {syslog[-1]} "
                             f"to {syslog[0]} hold; read once"]


def test_syslog_days_no_mail_log_given_holds_are_read(cli, logs, tmp_path):
    # The days before the mail logs given (`mail.log syslog.3.gz syslog.2.gz`): every file
    # read, no note.
    mail, syslog = logs
    result = cli(mail[0], syslog[3], syslog[2])
    assert result.code == 0 and "read once" not in result.err
    assert result.out == cli(joined(tmp_path, [syslog[3], syslog[2], mail[0]])).out


def test_files_that_each_hold_a_line_the_other_does_not_are_both_read(cli, tmp_path):
    # A syslog that holds a session its mail log lost (a full /var/log, a dropped message),
    # beside a mail log that holds one the syslog lost: neither is the other's, both are read.
    log = activity()
    lost = MailLog()
    lost.login("eve@example.jp", "203.0.113.77", at(10, 3))
    mail = rotated(tmp_path, "mail.log", log.lines + lost.lines, [])
    only = MailLog()
    only.login("mallory@example.jp", "203.0.113.9", at(11, 3), to=3, outcome="bounced")
    log.lines += only.lines
    syslog = rotated(tmp_path, "syslog", with_other_programs(log), [])
    result = cli(*mail, *syslog)
    assert result.code == 0 and "read once" not in result.err
    assert result.out == cli(joined(tmp_path, [*mail, *syslog])).out
    assert "eve@example.jp" in result.out and "mallory@example.jp" in result.out


def test_var_log_star_reads_each_mail_line_once(cli, tmp_path):
    # `maillog-sasl /var/log/*` on bullseye: syslog's days, mail.warn's weeks of Postfix's
    # warnings and other programs' logs beside the mail logs. Of the mail lines, the mail
    # logs' alone are read, and mail.warn is told as the file of their warnings it is.
    log = activity()
    ends = [end + SKEW for end in weekly()]
    mail = rotated(tmp_path, "mail.log", log.lines, ends)
    warnings = rotated(tmp_path, "mail.warn", [line for line in log.lines if "]: warning: "
                                               in line[2]], ends)
    syslog = rotated(tmp_path, "syslog", with_other_programs(log),
                     [at(day, 6, 25) for day in range(8, DAYS)], since=at(7, 6, 25))
    others = [line for line in with_other_programs(log) if "postfix/" not in line[2]]
    auth = rotated(tmp_path, "auth.log", others, weekly())
    result = cli(*sorted(tmp_path.iterdir()))
    assert result.code == 0
    assert result.out == cli(*mail, *auth).out
    told = [note.split(": ", 2)[1:] for note in notes(result)]
    assert sorted(name for name, _ in told) == sorted(map(str, [*syslog, *warnings[1:]]))
    assert all(f"{tmp_path}/mail.log" in why for name, why in told if "mail.warn" in name)
    assert not any(str(path) in result.err for path in auth)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_other_programs_logs_beside_the_mail_logs_cut_no_session(cli, tmp_path, jobs):
    # auth.log rotated a moment before mail.log: ordered by their first lines, auth.log.1 was
    # read between mail.log.2.gz and mail.log.1, and its week of later times closed alice's
    # session across the rotation as idle (2 sessions incomplete, 2 closed idle).
    log = activity()
    mail = rotated(tmp_path, "mail.log", log.lines, [end + SKEW for end in weekly()])
    others = [line for line in with_other_programs(log) if "postfix/" not in line[2]]
    auth = rotated(tmp_path, "auth.log", others, weekly())
    sessions = ("-r", "sessions", "-f", "csv", "--jobs", jobs)
    alone, beside = cli(*sessions, *mail), cli(*sessions, *mail, *auth)
    assert (beside.code, beside.err) == (0, "")
    assert beside.out == alone.out
    stats = cli("--stats", "--jobs", jobs, *mail, *auth).err
    assert "sessions incomplete:      0" in stats and "sessions closed idle:     0" in stats


def test_a_copied_var_log_across_a_feb_29_reads_each_mail_line_once(cli, tmp_path):
    # A yearless /var/log of Feb 22 - Mar 6, 2024 copied in 2026: mail.log.1 ending on Feb 28,
    # mail.log starting on the Feb 29, syslog daily. syslog.2, of Feb 28 - 29 (its Feb 29
    # places it in 2024), was compared before the mail log's set was moved back to 2024
    # (mail.log.1's first line in 2026): no mail log begins before it, and it was read, its
    # day's logins twice, without a word.
    utc, copied = dt.timezone.utc, dt.datetime(2026, 3, 10).timestamp()
    log = MailLog()
    for day in range(14):
        for hour in (1, 9, 13, 18, 22):
            log.login(f"user{hour}@example.jp", f"198.51.100.{day + 1}",
                      dt.datetime(2024, 2, 22, hour, 3 * day, tzinfo=utc)
                      + dt.timedelta(days=day), to=2)

    def yearless(name, lines, ends):
        return [without_years(path, copied) for path in rotated(tmp_path, name, lines, ends)]

    mail = yearless("mail.log", log.lines, [dt.datetime(2024, 2, 29, tzinfo=utc) + SKEW])
    syslog = yearless("syslog", with_other_programs(log),
                      [dt.datetime(2024, 2, 22, 6, 25, tzinfo=utc) + dt.timedelta(days=day)
                       for day in range(5, 9)])
    result = cli("--tz", "UTC", "-r", "sessions", "-f", "csv", *mail, *syslog)
    assert result.code == 0
    assert result.out == cli("--tz", "UTC", "-r", "sessions", "-f", "csv", *mail).out
    assert sorted(note.split(": ", 2)[1] for note in notes(result)) == sorted(map(str, syslog))


def test_a_file_left_out_has_no_say_in_the_years_of_the_others(cli, tmp_path):
    # A yearless set of Oct 2024 copied in 2026, every file compressed, gzip's headers (their
    # ends) placing it in 2024, beside mail.warn, plain (no end): until it is left out, the
    # files are placed by their modification times (not all of them have an end), in 2025.
    # Left out, it no longer decides: the set is read in 2024, as when given alone.
    utc, copied = dt.timezone.utc, dt.datetime(2026, 3, 10).timestamp()
    log = MailLog()
    for day in range(21):
        when = dt.datetime(2024, 10, 1, tzinfo=utc) + dt.timedelta(days=day)
        log.login("alice@example.jp", "192.0.2.7", when.replace(hour=9), to=2)
        log.failures("203.0.113.66", when.replace(hour=2), ["admin", "info", "test"])
    ends = [dt.datetime(2024, 10, 8, tzinfo=utc), dt.datetime(2024, 10, 15, tzinfo=utc)]
    mail = [without_years(path, copied, dated=True)
            for path in rotated(tmp_path, "mail.log", log.lines, ends)]
    warn = without_years(rotated(tmp_path, "mail.warn", [
        line for line in log.lines if "]: warning: " in line[2]], ends[1:])[0], copied)
    sessions = ("--tz", "UTC", "-r", "sessions", "-f", "csv")
    result = cli(*sessions, *mail, warn)
    assert result.code == 0
    assert result.out == cli(*sessions, *mail).out
    assert ",2024-10-21T09:" in result.out and ",2025-" not in result.out
    assert notes(result) == [f"maillog-sasl: {warn}: Postfix's warnings and errors alone, lines "
                             f"{mail[0]} holds too (syslog's file of those levels); read once"]
