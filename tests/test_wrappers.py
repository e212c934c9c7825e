"""Postfix's lines inside a container runtime's wrapper: `docker logs -t` (and `kubectl logs
--timestamps`), Kubernetes' CRI files, Docker's json-file files. Each wrapped log gives the very
bytes of the log it wraps, for the reports and formats below, with one process and with --jobs.

The wrapped logs are made here from real Postfix lines (tests/reallogs, sample_logs) in the
shapes public documentation shows:
- CRI: `<RFC 3339 stamp> <stdout|stderr> <P|F> <text>`, P a part of a line the runtime split
  (Grafana Loki's promtail `cri` stage, docs/sources/send-data/promtail/stages/cri.md:
  `2019-01-01T01:00:00.000000001Z stderr P test\\ngood`; the Kubernetes design proposal
  contributors/design-proposals/node/kubelet-cri-logging.md);
- json-file: `{"log":"log message\\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"}`
  (promtail's `docker` stage, https://grafana.com/docs/loki/next/send-data/promtail/stages/docker/;
  Docker's json-file driver documentation), a long line split into objects of which all but
  the last lack the `\\n`, and `<`, `>`, `&` written as `\\u003c`... as Go's encoder does;
- `docker logs -t`: `2024-07-27T12:34:56.123456789Z GET /api`, and `docker compose logs -t`:
  `web_1 | 2024-07-27T12:34:56.123456789Z GET /health 200` (the docker input format of kelora,
  docs.rs/crate/kelora/0.2.2/source/dev/docker.md).
"""

import gzip
import json
import random
from pathlib import Path

import pytest
from test_jobs import chunks_of

from maillog_sasl import parallel
from maillog_sasl.sources import CRI, JSON_FILE, PLAIN, Unwrapper, open_path, wrapper_of

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "reallogs"
LOGS = {  # a real log and the year of its yearless stamps
    "seed": (ROOT / "sample_logs" / "seed-maillog.txt", "2018"),
    "lightmeter": (REAL / "lightmeter-sample" / "mail.log", "2023"),
    "maillogsentinel": (REAL / "maillogsentinel" / "sample_sasl.log", "2024"),
}
REPORTS = [(), ("--report", "messages", "--format", "csv"),
           ("--report", "sessions", "--format", "json", "--all")]
STAMP = "2026-02-08T21:28:47.{:09d}Z"
PART = 50  # lines longer than this are split by the runtime, in parts of this many characters


def parts(line):
    return [line[start:start + PART] for start in range(0, len(line), PART)] or [""]


def docker_t(lines):
    return [f"{STAMP.format(number)} {line}" for number, line in enumerate(lines)]


def cri(lines):
    wrapped = []
    for number, line in enumerate(lines):
        *partial, full = parts(line)
        wrapped += [f"{STAMP.format(number)} stdout P {part}" for part in partial]
        wrapped.append(f"{STAMP.format(number)} stdout F {full}")
    return wrapped


def json_file(lines):
    wrapped = []
    for number, line in enumerate(lines):
        *partial, full = parts(line)
        for text in [*partial, full + "\n"]:
            # Go's encoder: compact, and <, > and & escaped.
            record = json.dumps({"log": text, "stream": "stdout", "time": STAMP.format(number)},
                                separators=(",", ":"))
            wrapped.append(record.replace("<", "\\u003c").replace(">", "\\u003e")
                           .replace("&", "\\u0026"))
    return wrapped


def compose_t(lines):
    return [f"postfix-1  | {line}" for line in docker_t(lines)]


WRAPPERS = {"docker-t": docker_t, "cri": cri, "json-file": json_file, "compose-t": compose_t}


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def report(cli, year, *args):
    result = cli("--tz", "UTC", "--year", year, "--width", "200", *args)
    assert result.code == 0, result.err
    return result.out


@pytest.mark.parametrize("log", LOGS)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_a_wrapped_log_gives_the_report_of_its_lines(cli, tmp_path, log, wrapper):
    path, year = LOGS[log]
    wrapped = write(tmp_path / "wrapped.log", WRAPPERS[wrapper](path.read_text().splitlines()))
    for args in REPORTS:
        assert report(cli, year, *args, wrapped) == report(cli, year, *args, path), args
    assert wrapped.name not in cli("--year", year, wrapped).err  # no problem named


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_jobs_read_a_wrapped_log_as_one_process(cli, tmp_path, monkeypatch, wrapper):
    """Chunks of 700 bytes would fall inside the parts of many split lines: a wrapped input is
    one chunk; a plain one, `docker logs -t` and `docker compose logs -t` (read line by line),
    are still cut."""
    path, year = LOGS["lightmeter"]
    wrapped = write(tmp_path / "wrapped.log", WRAPPERS[wrapper](path.read_text().splitlines()))
    expected = [report(cli, year, *args, wrapped) for args in REPORTS]
    chunks_of(700, monkeypatch)
    for args, one in zip(REPORTS, expected):
        assert report(cli, year, *args, "--jobs", "2", wrapped) == one, args
    for name, splittable in ((wrapped, wrapper in ("docker-t", "compose-t")), (path, True)):
        source = open_path(str(name))
        source.peek_first_time(None)
        assert parallel._splittable(source, 700) is splittable
        source.close()


def test_a_rotated_set_of_wrapped_files_is_read_oldest_first(cli, tmp_path):
    """Kubelet rotates a container's log and compresses the older files; each is placed by the
    first stamp of the lines it wraps."""
    older, newer = REAL / "lightmeter-sample" / "mail.log.1", REAL / "lightmeter-sample" / "mail.log"
    first = tmp_path / "0.log.20230128-000000.gz"
    first.write_bytes(gzip.compress("".join(
        line + "\n" for line in cri(older.read_text().splitlines())).encode()))
    last = write(tmp_path / "0.log", cri(newer.read_text().splitlines()))
    for args in REPORTS:
        assert report(cli, "2023", *args, last, first) == report(cli, "2023", *args, newer, older)


def test_standard_input(cli):
    path, year = LOGS["seed"]
    wrapped = "".join(line + "\n" for line in json_file(path.read_text().splitlines()))
    result = cli("--tz", "UTC", "--year", year, "--width", "200", "-", stdin=wrapped.encode())
    assert result.code == 0 and result.out == report(cli, year, path)


DAMAGED = {
    "cri": ["2026-02-08T21:28:47Z stdout", "2026-02-08T21:28:47Z stdin F x",
            "2026-02-08T21:28:47Z stdout X Sep 17 12:48:22 h postfix/smtpd[1]: connect from a[1.2.3.4]",
            "not a CRI line", ""],
    "json-file": ['{"log":"Sep 17 12:48:22 h postfix/smtpd[1]: connect from', '{"log": 7}',
                  '{"stream":"stdout"}', "[1, 2]", "[" * 100_000, "{" * 100_000, "{}", "\ufffd", "",
                  '{"log":"x\\n","stream":[1]}', '{"log":"x\\n","stream":{},"time":7}'],
}


@pytest.mark.parametrize("wrapper", DAMAGED)
def test_damaged_wrapper_lines_are_counted_and_skipped(cli, tmp_path, wrapper):
    """Between the first and last lines: the edges of an input set the report's time span."""
    path, year = LOGS["seed"]
    lines = WRAPPERS[wrapper](path.read_text().splitlines())
    damaged = DAMAGED[wrapper]
    mixed = [line for pair in zip(lines, damaged) for line in pair] + lines[len(damaged):]
    wrapped = tmp_path / "wrapped.log"
    wrapped.write_bytes("".join(line + "\n" for line in mixed[:3]).encode() + b"\xff\xfe\n"
                        + "".join(line + "\n" for line in mixed[3:]).encode())
    for args in REPORTS:
        ours, theirs = report(cli, year, *args, wrapped), report(cli, year, *args, path)
        if not args:  # the first line counts the lines read
            ours, theirs = ours.split("\n", 1)[1], theirs.split("\n", 1)[1]
        assert ours == theirs, args
    stats = cli("--tz", "UTC", "--year", year, "--stats", wrapped).err
    assert f"not syslog lines:       {len(damaged) + 1}\n" in stats


@pytest.mark.parametrize("wrapper", ["docker-t", "compose-t"])
def test_docker_t_reads_each_line_by_its_own_stamp(cli, tmp_path, wrapper):
    """Postfix's own RFC 3339 stamps behind the runtime's (a host with one dot was taken for
    BusyBox's facility.priority, the runtime's stamp for the time), and a first line with no
    stamp of its own (it decided a whole input plain, its later lines unread)."""
    path = REAL / "lightmeter-individual" / "25_authclean_cleanup.log"
    lines = path.read_text().splitlines()
    assert lines[0][:4].isdigit()  # RFC 3339 stamps of its own
    for host in ("example.com", "mail.example.org", "mx"):
        shown = [line.replace(" mail ", f" {host} ", 1) for line in lines]
        first = "mx supervisord[1]: INFO success: postfix entered RUNNING"  # no stamp
        plain = write(tmp_path / "plain.log", [f"{STAMP.format(0)} {first}", *shown])
        wrapped = write(tmp_path / "wrapped.log", WRAPPERS[wrapper]([first, *shown]))
        for args in REPORTS:
            assert report(cli, "2022", *args, wrapped) == report(cli, "2022", *args, plain)
        [_, row] = report(cli, "2022", "-r", "sessions", "-f", "csv", wrapped).splitlines()
        assert row.startswith(f"{host},postfix/submission,19191,")  # the host Postfix logged


@pytest.mark.parametrize("name", ["postfix-1", "mta"])
def test_a_compose_prefix_of_any_width(cli, tmp_path, name):
    """`docker compose logs` pads its names to the longest: a `| ` whose space falls where a
    traditional stamp ends (15 characters) was not looked for."""
    path, year = LOGS["seed"]
    lines = path.read_text().splitlines()
    wrapped = write(tmp_path / "compose.log", [f"{name:<13} | {line}" for line in lines])
    assert wrapped.read_text()[15] == " "
    for args in REPORTS:
        assert report(cli, year, *args, wrapped) == report(cli, year, *args, path), args


def test_a_line_without_a_stamp_of_its_own_takes_the_wrappers():
    """A syslog template that writes no date (`host prog[pid]: text`): the runtime's stamp is
    the only one. A line with a stamp keeps its own (the one every other input is read by)."""
    unwrapper = Unwrapper()
    inner = unwrapper.lines([
        "2026-02-08T21:28:47.5Z stdout F mail postfix/smtpd[1]: connect from a[192.0.2.1]",
        "2026-02-08T21:28:48.5Z stdout F Feb  8 22:28:48 mail postfix/smtpd[1]: disconnect",
        '{"log":"mail postfix/smtpd[1]: x\\n","stream":"stdout","time":"2026-02-08T21:28:47Z"}',
    ])
    assert inner == ["2026-02-08T21:28:47.5Z mail postfix/smtpd[1]: connect from a[192.0.2.1]",
                     "Feb  8 22:28:48 mail postfix/smtpd[1]: disconnect",
                     ""]  # a CRI input's JSON line is damaged
    assert Unwrapper().lines(["2026-02-08T21:28:47.5Z mail postfix/smtpd[1]: connect"]) == [
        "2026-02-08T21:28:47.5Z mail postfix/smtpd[1]: connect"]  # plain RFC 3339 syslog


def test_json_lines_are_read_one_by_one_when_a_batch_is_no_json_array_of_them():
    """A batch is parsed as one JSON array (faster) only when it has one object a line."""
    record = '{"log":"Feb  8 21:28:47 mail postfix/smtpd[1]: connect\\n"}'
    assert Unwrapper().lines([record, "1, 2", record]) == [
        "Feb  8 21:28:47 mail postfix/smtpd[1]: connect", "",
        "Feb  8 21:28:47 mail postfix/smtpd[1]: connect"]


def test_a_lone_surrogate_in_a_json_file_line_is_replaced():
    """A `\\ud800` escape no low surrogate completes (Go's encoder never writes one) is U+FFFD,
    as a byte that is no UTF-8 is: no output can write a lone surrogate."""
    record = '{"log":"Feb  8 21:28:47 mail postfix/smtpd[1]: x\\ud800y\\n","stream":"stdout"}'
    pair = '{"log":"Feb  8 21:28:47 mail postfix/smtpd[1]: \\ud83d\\ude00\\n"}'
    assert Unwrapper().lines([record, pair]) == [
        "Feb  8 21:28:47 mail postfix/smtpd[1]: x\ufffdy",
        "Feb  8 21:28:47 mail postfix/smtpd[1]: \U0001f600"]


def test_the_parts_of_a_split_line_are_joined_per_stream():
    unwrapper = Unwrapper()
    first = unwrapper.lines(["2026-02-08T21:28:47Z stdout P Feb  8 21:28:47 mail post",
                             "2026-02-08T21:28:47Z stderr P Feb  8 21:28:47 mail postfix/",
                             "2026-02-08T21:28:47Z stderr F master[1]: reload"])
    second = unwrapper.lines(["2026-02-08T21:28:47Z stdout P fix/smtpd[1]: ",
                              "2026-02-08T21:28:47Z stdout F connect from a[192.0.2.1]",
                              "2026-02-08T21:28:48Z stdout P Feb  8 21:28:48 mail unfinished"])
    assert first == ["Feb  8 21:28:47 mail postfix/master[1]: reload"]
    assert second == ["Feb  8 21:28:47 mail postfix/smtpd[1]: connect from a[192.0.2.1]"]
    assert unwrapper.end() == ["Feb  8 21:28:48 mail unfinished"]  # as a last line without LF
    terminal = '{"log":"Feb  8 21:28:47 mail postfix/smtpd[1]: connect\\r\\n"}'
    assert Unwrapper().lines([terminal]) == ["Feb  8 21:28:47 mail postfix/smtpd[1]: connect"]
    json_parts = Unwrapper()
    assert json_parts.lines(['{"log":"' + "x" * 40_000 + '","stream":"stdout"}'] * 3) == []
    assert [len(line) for line in json_parts.end()] == [1 << 16]  # capped as any line is


@pytest.mark.parametrize("lines, kind", [
    (["Feb  8 21:28:47 mail postfix/smtpd[1]: connect"], PLAIN),
    (["2026-02-08T21:28:47.1+01:00 mail postfix/smtpd[1]: connect"], PLAIN),
    # `docker logs -t`: no wrapper to undo per input; split_line() reads each line.
    (["junk", "2026-02-08T21:28:47.1Z Feb  8 21:28:47 mail.local postfix/smtpd[1]: x"], PLAIN),
    (["2026-02-08T21:28:47.1Z 2026-02-08T22:28:47+01:00 mail.local postfix/smtpd[1]: x"],
     PLAIN),
    (["2026-02-08T21:28:47.123456789+00:00 stderr F anything"], CRI),
    (['{"log":"anything\\n"}'], JSON_FILE),
    (["junk", "{}", "2026-02-08T21:28:47Z junk"], None),
])
def test_wrapper_of(lines, kind):
    assert wrapper_of(lines) == kind


@pytest.mark.parametrize("first", [
    "2026-02-08T21:28:47Z Feb  8 21:28:47 mail postfix/smtpd[1]: connect",
    "2026-02-08T21:28:47Z stdout F x", '{"log":"x\\n"}'])
def test_no_line_makes_the_unwrapper_raise(first):
    """Lines cut from the wrappers' own pieces, in any order."""
    pieces = ['{"log":', '"x', '\\n"', ',"stream":', '"stdout"', "[1]", "{}", "}", "null", " ",
              "2026-02-08T21:28:47Z", "stdout", "stderr", "P", "F", ":", "\\u00", "\ufffd",
              "Feb  8 21:28:47 mail postfix/smtpd[1]: connect from a[192.0.2.1]"]
    chooser = random.Random(7)
    lines = [first] + ["".join(chooser.choice(pieces) for _ in range(chooser.randrange(8)))
                       for _ in range(3000)]
    unwrapper = Unwrapper()
    for start in range(0, len(lines), 100):
        assert all(isinstance(line, str) for line in unwrapper.lines(lines[start:start + 100]))
    assert all(isinstance(line, str) for line in unwrapper.end())
