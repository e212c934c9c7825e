"""`watch --metrics FILE`: the Prometheus textfile-collector file (every family with # HELP and
# TYPE, names maillog_sasl_*), written atomically at the end of --once and every few seconds
when following, its counters kept across runs, per-user series for flagged accounts only (at
most USERS_LISTED), label values escaped (usernames are attacker text), the lag behind the
file."""

import os
import re
import threading
import time

import pytest

from maillog_sasl import metrics, watch
from maillog_sasl.activity import Thresholds
from maillog_sasl.state import State

from maillog_writer import MailLog, at
from support import SAMPLE_LOGS, tamper

SAMPLE = SAMPLE_LOGS / "maillog-sample.log"
SAMPLE_LINES = SAMPLE.read_bytes().count(b"\n")


def parse(text):
    """{(name, frozenset of labels): value}, asserting every family has its HELP and TYPE,
    before its samples, and every line is one the text format allows."""
    found, declared = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            declared.setdefault(name, set()).add("help")
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge")
            declared.setdefault(name, set()).add("type")
            continue
        match = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        assert match, line
        name, labels, value = match.groups()
        assert declared.get(name) == {"help", "type"}, name
        pairs = re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels or "")
        found[(name, frozenset(pairs))] = float(value)
    assert all(name.startswith("maillog_sasl_") for name in declared)
    return found


def value(found, name, **labels):
    return found[(f"maillog_sasl_{name}", frozenset(labels.items()))]


def once(cli, tmp_path, *paths, more=()):
    prom = tmp_path / "maillog-sasl.prom"
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--metrics", prom,
                 "--alert-log", tmp_path / "alerts", *more, *paths)
    return result, prom


def test_once_writes_every_family_with_help_and_type(tmp_path, cli):
    old = os.umask(0o077)
    try:
        result, prom = once(cli, tmp_path, SAMPLE)
    finally:
        os.umask(old)
    assert result.code == 1, result.err
    assert oct(prom.stat().st_mode & 0o777) == "0o644"  # node_exporter runs as another user
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
    found = parse(prom.read_text())
    assert value(found, "lines_read_total") == SAMPLE_LINES
    assert 0 < value(found, "lines_skipped_total") < SAMPLE_LINES
    assert value(found, "flagged_accounts", severity="critical") == 3
    assert value(found, "flagged_accounts", severity="medium") == 0
    assert value(found, "flagged_account_queued_messages", user="ken.roux@corp.example") == 6
    assert value(found, "flagged_account_deferred_recipients", user="ken.roux@corp.example") == 7
    assert value(found, "alerts_total", severity="critical") >= 3
    assert value(found, "alerted_accounts", signal="guessed") == 3
    assert value(found, "logins_total") > 0 and value(found, "auth_failures_total") > 0
    assert value(found, "recipients_total", outcome="sent") > 0
    assert value(found, "messages_total", outcome="sent") > 0
    assert value(found, "queue_messages") >= value(found, "queue_deferred_messages") > 0
    assert value(found, "lag_bytes", log=str(SAMPLE)) == 0
    assert value(found, "lag_seconds") == 0
    # Per-user series for the flagged accounts alone.
    users = {dict(labels)["user"] for (_, labels) in found if "user" in dict(labels)}
    assert users == {"ken.roux@corp.example", "k.nilsson@corp.example",
                     "chiara.ferrari@corp.example"}


def test_the_parser_of_prometheus_reads_it(tmp_path, cli):
    parser = pytest.importorskip("prometheus_client.parser")
    _, prom = once(cli, tmp_path, SAMPLE)
    names = {family.name for family in parser.text_string_to_metric_families(prom.read_text())}
    assert {"maillog_sasl_logins", "maillog_sasl_flagged_account", "maillog_sasl_lag_bytes"} <= names


def test_counters_go_on_across_runs(tmp_path, cli):
    data = SAMPLE.read_bytes()
    log = tmp_path / "maillog"
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    log.write_bytes(data[:half])
    _, prom = once(cli, tmp_path, log)
    first = parse(prom.read_text())
    with open(log, "ab") as out:
        out.write(data[half:])
    _, prom = once(cli, tmp_path, log)
    second = parse(prom.read_text())
    (tmp_path / "whole").mkdir()
    _, prom_whole = once(cli, tmp_path / "whole", SAMPLE)
    everything = parse(prom_whole.read_text())
    assert value(first, "lines_read_total") < value(second, "lines_read_total") == SAMPLE_LINES
    for name in ("logins_total", "auth_failures_total"):
        assert value(first, name) < value(second, name) == value(everything, name)
    assert (value(second, "recipients_total", outcome="bounced")
            == value(everything, "recipients_total", outcome="bounced"))
    # Nothing new: the same figures (the flagged accounts kept from the last assessment).
    _, prom = once(cli, tmp_path, log)
    again = parse(prom.read_text())
    assert {key: figure for key, figure in again.items() if "lag" not in key[0]} == {
        key: figure for key, figure in second.items() if "lag" not in key[0]}


def snapshot(**changes):
    base = dict(counters={}, lines_read=0, lines_skipped=0, queue=(0, 0, 0), flagged={},
                alerts={}, alerted={}, lag={}, last_log_time=None, now=1e9)
    base.update(changes)
    return metrics.Snapshot(**base)


NASTY = 'x"} 1\nmaillog_sasl_logins_total 99 \\ é'


def test_label_values_are_escaped_as_the_format_says():
    assert metrics.escape_label(NASTY) == 'x\\"} 1\\nmaillog_sasl_logins_total 99 \\\\ é'
    text = metrics.render(metrics.families(snapshot(
        flagged={NASTY: {"severity": "high", "recipients": 5, "deferred": 1, "queued": 1}})))
    assert text.count("\n") == len(text.splitlines())
    found = parse(text)
    assert value(found, "logins_total") == 0  # no line was injected
    assert value(found, "flagged_account", user=metrics.escape_label(NASTY), severity="high") == 1


def test_a_username_round_trips_through_prometheus_parser():
    parser = pytest.importorskip("prometheus_client.parser")
    text = metrics.render(metrics.families(snapshot(
        flagged={NASTY: {"severity": "high", "recipients": 5, "deferred": 1, "queued": 1}})))
    users = [sample.labels["user"] for family in parser.text_string_to_metric_families(text)
             for sample in family.samples if "user" in sample.labels]
    assert users and set(users) == {NASTY}


def test_per_user_series_are_bounded():
    flagged = {f"u{index:03}@example.jp": {"severity": "medium" if index % 2 else "critical",
                                           "recipients": index, "deferred": 0, "queued": 0}
               for index in range(metrics.USERS_LISTED + 50)}
    found = parse(metrics.render(metrics.families(snapshot(flagged=flagged))))
    listed = [dict(labels) for (name, labels) in found if name == "maillog_sasl_flagged_account"]
    assert len(listed) == metrics.USERS_LISTED
    assert value(found, "flagged_accounts_unlisted") == 50
    # Most severe first: every critical account is listed.
    assert sum(1 for labels in listed if labels["severity"] == "critical") == 75


def test_lag_in_bytes_and_seconds(tmp_path):
    log = MailLog()
    log.login("ann@example.jp", "198.51.100.7", at(0, 9))
    path = log.write(tmp_path / "maillog")
    state = State.open(str(tmp_path / "s.sqlite"), watch.engine_format())
    prom = tmp_path / "m.prom"
    try:
        run = watch.Watch(state, [path], [], Thresholds(), metrics_path=str(prom),
                          complain=lambda line: None)
        run.read()
        run.write_metrics()
        caught_up = parse(prom.read_text())
        more = MailLog()
        more._queue += 0x100000
        more.login("ann@example.jp", "198.51.100.7", at(0, 10))
        added = more.text().encode()
        with open(path, "ab") as out:
            out.write(added)
        run.write_metrics()
        behind = parse(prom.read_text())
        run.read()
        run.write_metrics()
        read = parse(prom.read_text())
        run.close()
    finally:
        state.close()
    assert value(caught_up, "lag_bytes", log=path) == 0 and value(caught_up, "lag_seconds") == 0
    assert value(behind, "lag_bytes", log=path) == len(added)
    last = at(0, 9).timestamp()
    assert value(behind, "last_log_time_seconds") >= last
    assert value(behind, "lag_seconds") == pytest.approx(time.time() - value(
        behind, "last_log_time_seconds"), abs=5)
    assert value(read, "lag_bytes", log=path) == 0 and value(read, "lag_seconds") == 0


def test_following_rewrites_it_every_few_seconds_and_at_the_end(tmp_path):
    path = tmp_path / "maillog"
    path.write_text("")
    prom = tmp_path / "m.prom"
    stop = threading.Event()
    done = {}

    def follow():
        state = State.open(str(tmp_path / "s.sqlite"), watch.engine_format())
        try:
            run = watch.Watch(state, [str(path)], [], Thresholds(), metrics_path=str(prom),
                              complain=lambda line: None)
            done["code"] = run.follow(stop, interval=0.02, metrics_every=0.1)
        finally:
            state.close()

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not prom.exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert value(parse(prom.read_text()), "lines_read_total") == 0
        log = MailLog()
        log.login("ann@example.jp", "198.51.100.7", at(0, 9))
        log.write(path)
        lines = len(log.lines)
        while value(parse(prom.read_text()), "lines_read_total") < lines:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert value(parse(prom.read_text()), "logins_total") == 1
    finally:
        stop.set()
        thread.join(20)
    assert done["code"] == 0


def test_a_metrics_file_that_cannot_be_written_is_exit_2(tmp_path, cli):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--metrics",
                 tmp_path / "no" / "dir.prom", "--alert-log", tmp_path / "alerts", SAMPLE)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "cannot write the metrics" in result.err
    assert (tmp_path / "alerts").read_text().count("\n") >= 3  # the alerts were still written


def test_a_state_of_an_older_version_gains_the_table_of_counters(tmp_path, cli):
    data = SAMPLE.read_bytes()
    log = tmp_path / "maillog"
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    log.write_bytes(data[:half])
    once(cli, tmp_path, log)
    tamper(tmp_path / "s.sqlite", "DROP TABLE kept")  # as the first version of the state had it
    assert cli("state", "--state", tmp_path / "s.sqlite").code == 0  # read-only: read as empty
    log.write_bytes(data)
    result, prom = once(cli, tmp_path, log)
    assert result.code in (0, 1), result.err
    found = parse(prom.read_text())
    assert value(found, "lines_read_total") == SAMPLE_LINES
    assert 0 < value(found, "logins_total")  # counted from the second run on
