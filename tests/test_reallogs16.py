"""Real logs whose lines name no host, inside a wrapper: Docker's json-file logs and Kubernetes'
CRI files of a container whose syslog writes no host, and journalctl's short-unix output with
--no-hostname.

Mailu (MIT), from 2017-11-01 to 2019-06-23, ran rsyslog in its Postfix container with
core/postfix/conf/rsyslog.conf (commit 689be5f2d96bddf172fc07f5226d6c9a349fce60):

    $template noTimestampFormat,"%syslogtag%%msg%\\n"
    $ActionFileDefaultTemplate noTimestampFormat
    *.*;auth,authpriv.none /dev/stdout

so every line Postfix logged reached the container's stdout with neither stamp nor host, as a
Mailu user pasted them (https://github.com/Mailu/Mailu/issues/379, no licence: quoted, not
copied): `postfix/smtpd[113]: connect from unknown[172.17.0.8]`. Docker's json-file driver
(its default) keeps each such line with the time it read it, Kubernetes' CRI files (Mailu's
helm chart) so too; the tool puts that time before a line that has no stamp of its own
(sources.Unwrapper), and the line then names no host, which the tool read in a plain log
(tests/test_reallogs13.py) and not in a wrapped one: each line's tag was taken for its host and
its text's first word for its tag, every login lost (`other programs`, `not syslog lines`). So
too the lines of an Alpine container's musl syslog() behind s6-socklog, which keep their own
stamp and name no host (test_reallogs13.py: skarnet/s6#32), in a pod's CRI file or Docker's
json-file log.

journalctl's --no-hostname drops the host from its short formats (systemd
src/shared/logs-show.c, output_short(): `if (flags & OUTPUT_NO_HOSTNAME)` the hostname is
freed before it is printed), and scripts that mail or parse a unit's log use it with
short-unix (`journalctl -n 1000 --no-pager -o short-unix --no-hostname --all -u "$UNIT"`, in
a NixOS configuration's failure notifier): `1700000000.123456 postfix/smtpd[4211]: connect
from ...`. The tool wrote each stamp as RFC 3339 and then took the tag for the host.

The tests below write real logs of tests/reallogs so (lightmeter-sample: logins on submission,
deliveries, postscreen, amavis, dovecot; maillogsentinel: 139 failed AUTH; blockbadip: a month
of a server's logins and failed AUTH) and compare every report and --stats with the log of the
same lines with a host, `localhost`, what the tool names a line without one.
"""

import json
import re

import pytest
from test_inputs import read_lines
from test_reallogs12 import REPORTS, _alike, _blockbadip, _short_unix
from test_reallogs13 import (
    LIGHTMETER,
    SENTINEL,
    _hosted,
    _outputs,
    _rfc3339,
    _without_host,
    _write,
    watched_logins,
)
from test_wrappers import parts

from maillog_sasl.sources import CRI, JSON_FILE, UNIX_STAMPS, Unwrapper

SOURCES = {"lightmeter": LIGHTMETER, "sentinel": SENTINEL}


def _cri(stamped):
    """Kubernetes' CRI lines of (runtime stamp, line) pairs: a line longer than test_wrappers'
    PART in parts, all but the last `P`."""
    wrapped = []
    for stamp, line in stamped:
        *partial, full = parts(line)
        wrapped += [f"{stamp} stdout P {part}" for part in partial]
        wrapped.append(f"{stamp} stdout F {full}")
    return wrapped


def _json_file(stamped):
    """Docker's json-file lines of (runtime stamp, line) pairs, a long line in parts."""
    wrapped = []
    for stamp, line in stamped:
        *partial, full = parts(line)
        wrapped += [json.dumps({"log": text, "stream": "stdout", "time": stamp},
                               separators=(",", ":")) for text in [*partial, full + "\n"]]
    return wrapped


WRAPPERS = {"cri": _cri, "json-file": _json_file}


def _mailu(text):
    """(the runtime's stamp, the line Mailu's template wrote) of each line of `text`: its
    moment in UTC as a runtime writes it (nanoseconds, `Z`), then `%syslogtag%%msg%`."""
    stamped = []
    for line in _rfc3339(text).splitlines():
        stamp, written = line.split(" ", 1)
        stamped.append((stamp.replace("+00:00", ".000000000Z"), written))
    return stamped


def _lines(items):
    return "".join(line + "\n" for line in items)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_lines_without_stamp_or_host_read_with_the_runtimes_stamp(cli, tmp_path, source,
                                                                   wrapper):
    stamped = _mailu(SOURCES[source].read_text(encoding="utf-8"))
    wrapped = _write(tmp_path / "wrapped.log", _lines(WRAPPERS[wrapper](stamped)))
    hosted = _write(tmp_path / "hosted.log",
                    _lines(f"{stamp} localhost {line}" for stamp, line in stamped))
    assert _outputs(cli, wrapped) == _outputs(cli, hosted)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_lines_with_their_own_stamp_and_no_host_read_in_a_wrapper(cli, tmp_path, source,
                                                                  wrapper):
    text = SOURCES[source].read_text(encoding="utf-8")
    runtime = "2026-02-08T21:28:47.000000000Z"  # not the time read: the line's own stamp is
    stamped = [(runtime, line) for line in _without_host(text).splitlines()]
    wrapped = _write(tmp_path / "wrapped.log", _lines(WRAPPERS[wrapper](stamped)))
    hosted = _write(tmp_path / "hosted.log", _hosted(text, "localhost"))
    assert _outputs(cli, wrapped) == _outputs(cli, hosted)


def test_a_mailu_containers_logins_and_failures(cli, tmp_path):
    # grep -c 'sasl_username=' lightmeter-sample/mail.log: 13 logins, all of one account;
    # grep -c 'authentication failed' maillogsentinel/sample_sasl.log: 139 failed AUTH.
    for source, option, expected in ((LIGHTMETER, "users", 13), (SENTINEL, "failures", 139)):
        stamped = _mailu(source.read_text(encoding="utf-8"))
        wrapped = _write(tmp_path / "wrapped.log", _lines(_json_file(stamped)))
        result = cli("-r", option, "-f", "json", "--tz", "UTC", "--stats", wrapped)
        assert result.code == 0, result.err
        assert re.search(r"not syslog lines:\s+0$", result.err, re.M), result.err
        rows = result.json()
        counted = sum(row["sessions" if option == "users" else "attempts"] for row in rows
                      if row.get("user") != "(unknown user)")
        assert counted == expected


def test_watch_reads_a_mailu_containers_logins(cli, tmp_path):
    stamped = _mailu(LIGHTMETER.read_text(encoding="utf-8"))
    assert watched_logins(cli, tmp_path, _lines(_json_file(stamped))) == [13]


def test_short_unix_without_hosts_reads_as_the_traditional_log(cli, monkeypatch, tmp_path):
    text = _blockbadip()
    _alike(cli, monkeypatch, tmp_path, _hosted(text, "localhost"),
           _short_unix(_without_host(text), 2018), "UTC", REPORTS, fractions=True)


@pytest.mark.parametrize("kind, wrapped, line", [
    # 1700000000 is 2023-11-14T22:13:20Z (date -u -d @1700000000).
    (UNIX_STAMPS, ["1700000000.123456 postfix/smtpd[4211]: connect from unknown[203.0.113.9]"],
     "2023-11-14T22:13:20.123456+00:00 localhost postfix/smtpd[4211]: connect from "
     "unknown[203.0.113.9]"),
    (CRI, ["2018-02-02T10:00:00.000000001Z stdout F postfix/smtpd[113]: connect from "
           "unknown[172.17.0.8]"],
     "2018-02-02T10:00:00.000000001Z localhost postfix/smtpd[113]: connect from "
     "unknown[172.17.0.8]"),
    (JSON_FILE, ['{"log":"postfix/smtpd[113]: connect from unknown[172.17.0.8]\\n",'
                 '"stream":"stdout","time":"2018-02-02T10:00:00.1Z"}'],
     "2018-02-02T10:00:00.1Z localhost postfix/smtpd[113]: connect from unknown[172.17.0.8]"),
])
def test_a_wrapped_line_without_a_host_gets_one(kind, wrapped, line):
    assert Unwrapper(kind).lines(wrapped) == [line]


def test_the_first_wrapped_line_that_tells_decides_for_the_input():
    # A line that tells nothing (`-- Boot ... --`, a damaged wrapper line) leaves it open; a
    # line with a host then decides that the lines have one: a later line without is as it is.
    unwrapper = Unwrapper(UNIX_STAMPS)
    boot = "-- Boot 2c1d5e5f0a4f4bb1a1f2b7c3d9e8f701 --"
    assert unwrapper.lines([boot]) == [boot]
    hosted = "1700000000.123456 mx1 postfix/smtpd[4211]: connect from unknown[203.0.113.9]"
    bare = "1700000001.000000 postfix/smtpd[4211]: lost connection after AUTH from x[192.0.2.1]"
    assert unwrapper.lines([hosted, bare]) == [
        "2023-11-14T22:13:20.123456+00:00 mx1 postfix/smtpd[4211]: connect from "
        "unknown[203.0.113.9]",
        "2023-11-14T22:13:21.000000+00:00 postfix/smtpd[4211]: lost connection after AUTH "
        "from x[192.0.2.1]"]


# s6-overlay (v2)'s own lines on a container's stdout before its services start, the first of
# its log, in the shape its images print them (`[cont-init.d] 10-adduser: exited 0.`, pasted in
# many images' READMEs and issues; the script's name here is ours): the runtime's stamp goes
# before them. `[cont-init.d] 10-postfix: exited 0.` has a word where a host goes, no Postfix
# tag after it.
S6_START = ["[s6-init] making user provided files available at /var/run/s6/etc...exited 0.",
            "[cont-init.d] executing container initialization scripts...",
            "[cont-init.d] 10-postfix: executing... ",
            "[cont-init.d] 10-postfix: exited 0.",
            "[cont-init.d] done.",
            "[services.d] starting services",
            "[services.d] done."]


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_a_first_read_of_other_programs_lines_decides_nothing(wrapper):
    # An Alpine container under s6-overlay, its musl syslog() behind s6-socklog writing no
    # host: its log read through a pipe whose first read held only s6-overlay's lines (or
    # followed by watch from the container's start) took the runtime's `[cont-init.d]` line for
    # a Postfix-less log with hosts, and every Postfix line after it lost its tag as a host:
    # grep -c 'sasl_username=' lightmeter-sample/mail.log: 13 logins, none read.
    runtime = "2021-02-08T21:28:47.000000000Z"
    stamped = [(runtime, line) for line in S6_START]
    start = _lines(WRAPPERS[wrapper](stamped)).encode("utf-8")
    text = LIGHTMETER.read_text(encoding="utf-8")
    stamped = [(runtime, line) for line in _without_host(text).splitlines()]
    data = start + _lines(WRAPPERS[wrapper](stamped)).encode("utf-8")
    whole, _ = read_lines(data)
    assert sum(" localhost postfix/submission/smtpd[" in line for line in whole) > 13
    first_read_apart, _ = read_lines(data, block_size=len(start))
    assert first_read_apart == whole


def test_watch_resumed_in_a_wrapped_file_reads_it_as_from_its_start(cli, tmp_path):
    # A container's json-file log (kept across `docker restart`) whose first line names no
    # host (s6-overlay v3's own), then Postfix lines with a host, then, its syslog's template
    # changed, lines without. Read whole, the first line decides that lines name no host (the
    # host is put in where one is missing); a run of watch that resumed after the first part
    # decided by its own first line, which has a host, and lost bob's login.
    runtime = "2021-01-28T09:00:00.000000000Z"
    hosted = ["Jan 28 07:00:00 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
              "Jan 28 07:00:01 mail postfix/smtpd[1]: 4A1B2C3D4E: client=a[192.0.2.1], "
              "sasl_method=PLAIN, sasl_username=ann@example.test",
              "Jan 28 07:00:02 mail postfix/smtpd[1]: disconnect from a[192.0.2.1] ehlo=1 "
              "auth=1 commands=2"]
    bare = ["Jan 28 08:00:00 postfix/smtpd[2]: connect from b[192.0.2.2]",
            "Jan 28 08:00:01 postfix/smtpd[2]: 5B1B2C3D4E: client=b[192.0.2.2], "
            "sasl_method=PLAIN, sasl_username=bob@example.test",
            "Jan 28 08:00:02 postfix/smtpd[2]: disconnect from b[192.0.2.2] ehlo=1 auth=1 "
            "commands=2"]
    first = ["s6-rc: info: service s6rc-oneshot-runner: starting", *hosted]
    then = [hosted[0].replace("[1]", "[3]").replace("07:00:00", "07:59:00"), *bare]
    path = tmp_path / "wrapped.log"
    state = tmp_path / "state"
    for part in (first, then):
        with path.open("a", encoding="utf-8") as log:
            log.write(_lines(_json_file([(runtime, line) for line in part])))
        result = cli("watch", "--once", "--state", state, "--year", 2021, "--tz", "UTC",
                     "--no-geoip", path)
        assert result.code == 0, result.err
    shown = cli("state", "--state", state, "--format", "json").json()
    assert {account["user"]: account["logins"] for account in shown["accounts"]} == {
        "ann@example.test": 1, "bob@example.test": 1}
    report = cli("-r", "users", "-f", "json", "--year", 2021, "--tz", "UTC", path).json()
    assert {row["user"]: row["sessions"] for row in report} == {
        "ann@example.test": 1, "bob@example.test": 1}
