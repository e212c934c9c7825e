"""A walk-through's rotated set, counted by hand (tests/scenarios/walk-newyear/README.md): a
stolen password used for three weeks across New Year, a password spray that guessed a second
account, read as an administrator reads /var/log/maillog* on a Rocky host, in any order and
through a pipe. Every figure here was counted from the lines before the tool was run."""

import datetime as dt
import gzip
import os
from pathlib import Path

from test_jobs import chunks_of

from maillog_sasl import contain

SET = Path(__file__).parent / "scenarios" / "walk-newyear"
# Each file's last line: when logrotate's rename left it last written (the gzip header keeps it).
WRITTEN = {"maillog-20261222": "2026-12-20 09:25:40", "maillog-20261229": "2026-12-28 21:12:35",
           "maillog-20270105": "2027-01-04 10:30:18", "maillog": "2027-01-09 09:41:25"}
COMPRESSED = ("maillog-20261222", "maillog-20261229")
MARK, SALES = "mark.ostrowski@example.com", "sales@example.com"


def rotated_set(directory: Path) -> list:
    """The set as logrotate leaves it (the two oldest compressed), in a glob's order."""
    for name, written in WRITTEN.items():
        when = dt.datetime.fromisoformat(written).replace(tzinfo=dt.timezone.utc).timestamp()
        text = (SET / name).read_bytes()
        if name in COMPRESSED:
            path = directory / f"{name}.gz"
            with open(path, "wb") as raw, gzip.GzipFile(name, "wb", fileobj=raw,
                                                        mtime=int(when)) as packed:
                packed.write(text)
        else:
            path = directory / name
            path.write_bytes(text)
        os.utime(path, (when, when))
    return sorted(directory.iterdir())


def joined(names) -> bytes:
    return b"".join((SET / name).read_bytes() for name in names)


def report(cli, *args):
    """A report's JSON rows, in the machine's zone made UTC; no --year: the files place it."""
    result = cli("--format", "json", "--tz", "UTC", *args)
    assert result.code == 0, result.err
    return result.json()


def test_the_users_as_counted_by_hand(cli, tmp_path):
    figures = {row["user"]: (row["sessions"], row["messages"], row["recipients"], row["sent"],
                             row["deferred"], row["bounced"], row["expired"], row["ips"],
                             row["flags"])
               for row in report(cli, *rotated_set(tmp_path))}
    assert figures == {
        MARK: (12, 12, 31, 13, 4, 12, 2, 8, ["failing", "guessed", "hopping", "new-network"]),
        SALES: (4, 4, 13, 4, 3, 6, 0, 4, ["guessed", "new-network"]),
        "anna.berg@example.com": (3, 3, 3, 2, 1, 0, 0, 2, []),
        "jsmith": (2, 2, 2, 1, 0, 1, 0, 2, []),
        "carol@example.com": (1, 1, 1, 1, 0, 0, 0, 1, []),
        "(unknown user)": (1, 0, 0, 0, 0, 0, 0, 1, [])}


def test_the_incident_as_counted_by_hand(cli, tmp_path):
    logs = rotated_set(tmp_path)
    suspicious = {row["user"]: (row["severity"], row["first_flagged"])
                  for row in report(cli, "-r", "suspicious", *logs)}
    # mark: hopping at his office login of 12-20 (the fourth /24 in a day), new-network at the
    # thief's first login after the 7-day baseline; sales: guessed at the spray's login.
    assert suspicious == {MARK: ("critical", "2026-12-22T14:02:51+00:00"),
                          SALES: ("high", "2027-01-03T14:11:30+00:00")}
    purge = cli("-r", "queue", "--flagged", "-f", "ids", *logs)
    assert purge.out.split() == ["6FD04249C36", "81E0435AD58", "92F1546BE69"]  # not anna's
    attackers = cli("-r", "ips", "--flagged", "-f", "ids", *logs)
    assert attackers.out.split() == ["45.141.84.12", "2a0b:4140:8c1::23", "203.0.113.102",
                                     "2001:db8:4f2a:11::9"]
    assert contain.queued_ids("Mark.Ostrowski@example.com", [str(log) for log in logs]).ids \
        == ["6FD04249C36", "81E0435AD58"]


def test_the_failures_as_counted_by_hand(cli, tmp_path):
    by_ip = {row["client_ip"]: (row["attempts"], row["usernames"], row["success_users"])
             for row in report(cli, "-r", "failures", *rotated_set(tmp_path))}
    assert by_ip == {
        "203.0.113.11": (3, ["info@example.com", SALES, "test"], []),
        "203.0.113.102": (3, ["admin@example.com", "info@example.com", SALES], [SALES]),
        "203.0.113.58": (2, ["postmaster@example.com", SALES], [MARK]),
        "2001:db8:4f2a:11::7": (2, ["admin@example.com", "info@example.com"], [SALES]),
        "100.64.3.7": (1, ["jsmith"], ["jsmith"])}


def test_the_files_in_any_order_and_joined_oldest_first_agree(cli, tmp_path):
    logs = rotated_set(tmp_path)
    by_files = cli("-r", "suspicious", "-f", "csv", "--tz", "UTC", *reversed(logs))
    oldest_first = cli("-r", "suspicious", "-f", "csv", "--tz", "UTC", "--year", "2026", "-",
                       stdin=joined(WRITTEN))
    assert by_files.code == oldest_first.code == 0
    assert by_files.out == oldest_first.out and MARK in by_files.out


JOINED = ("its lines go back in time from 2027-01-09 09:41:25 to 2026-12-15 03:14:02, before its "
          "first line: logs joined newest first (zcat -f maillog*?)")


def test_logs_joined_newest_first_are_told(cli, tmp_path, monkeypatch):
    # `zcat -f /var/log/maillog* | maillog-sasl -`: the glob names the current log first. Read
    # as it came, the spray's failures of 01-03 came after the thief's login of 01-06 from one
    # of its IPs: mark was no longer `guessed` (critical -> high), exit 0, no word.
    newest_first = [*list(WRITTEN)[-1:], *list(WRITTEN)[:-1]]
    piped = cli("-r", "suspicious", "-f", "csv", "--tz", "UTC", "--year", "2027", "-",
                stdin=joined(newest_first))
    assert piped.code == 2
    assert piped.err.startswith(f"maillog-sasl: <stdin>: {JOINED}")
    assert piped.out.startswith("user,")  # the report is still written
    copy = tmp_path / "maillog-all"
    copy.write_bytes(joined(newest_first))
    chunks_of(4096, monkeypatch)  # --jobs 2: workers read its chunks
    for jobs in ("1", "2"):
        result = cli("--year", "2027", "--tz", "UTC", "--jobs", jobs, copy)
        assert result.code == 2 and f"{copy}: {JOINED}" in result.err
