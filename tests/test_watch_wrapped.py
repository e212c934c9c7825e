"""`watch` on a container runtime's logs: Kubernetes' CRI files and Docker's json-file logs (a
line the runtime split in parts joined), `docker logs -t` and `docker compose logs -t`, made
from the real logs of tests/test_wrappers.py in the same shapes. Fed to `watch --once` in runs
cut anywhere (inside a part of a split line, between its parts, inside its last part, at a line
end), each gives what watch gives on the plain log cut at the same lines, run by run (alerts),
and at the end (the state: open sessions and messages, accounts, alerts; the engine's counts),
and the batch report's findings; across kubelet's and Docker's rotations, a change of wrapper,
damaged wrapper lines. The position stored is never inside a split line: its parts are read
again with the rest of it, each line once."""

import gzip
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from test_wrappers import DAMAGED, LOGS, WRAPPERS, parts

from maillog_sasl import follow, watch
from maillog_sasl.follow import Follower, rotated_files
from maillog_sasl.model import STATS_FIELDS
from maillog_sasl.sources import MAX_LINE
from maillog_sasl.state import State

from support import SAMPLE_LOGS

SPLITTING = ("cri", "json-file")  # the wrappers that split a long line in parts


class Wrapped:
    """`lines` in `wrapper` (None: the plain log): its bytes, and the plain log's bytes up to
    each point of them."""

    def __init__(self, lines, wrapper=None):
        self.lines = lines
        raw = WRAPPERS[wrapper](lines) if wrapper else lines
        self.data = "".join(line + "\n" for line in raw).encode()
        counts = [len(parts(line)) if wrapper in SPLITTING else 1 for line in lines]
        # Per raw line: (its start, its end with its LF, how many lines are whole at its end,
        # whether it is a part of a split line, whether it ends one).
        self.raw = []
        start = whole = 0
        sizes = iter(len(line.encode()) + 1 for line in raw)
        for count in counts:
            for number in range(count):
                end = start + next(sizes)
                whole += number == count - 1
                self.raw.append((start, end, whole, number < count - 1, count > 1))
                start = end

    def cuts(self, seed, each=2):
        """Cut points of every kind (`each` of each kind there is), in order; the end last."""
        kinds = {"inside a part": [], "between parts": [], "inside a last part": [],
                 "inside a line": [], "at a line end": []}
        for start, end, _whole, partial, split in self.raw[:-1]:
            middle = start + (end - start) // 2
            if partial:
                kinds["inside a part"].append(middle)
                kinds["between parts"].append(end)
            else:
                kinds["inside a last part" if split else "inside a line"].append(middle)
                kinds["at a line end"].append(end)
        chooser = random.Random(seed)
        points = {point for found in kinds.values()
                  for point in chooser.sample(found, min(each, len(found)))}
        return sorted(points) + [len(self.data)]

    def plain_cut(self, cut):
        """The bytes of the plain log whose lines are whole at byte `cut` of this one."""
        whole = max((entry[2] for entry in self.raw if entry[1] <= cut), default=0)
        return sum(len(line.encode()) + 1 for line in self.lines[:whole])


def once(cli, state, *paths, year="2023"):
    """The alerts of one `watch --once` (without the time they were raised)."""
    result = cli("watch", "--once", "--state", state, "--tz", "UTC", "--year", year, *paths)
    assert result.code in (0, 1), result.err
    assert result.err == ""  # nothing left unread, no complaint
    return [{key: value for key, value in json.loads(line).items() if key != "time"}
            for line in result.out.splitlines()]


def held(cli, state):
    """What the state holds but paths and times: open sessions and messages, accounts,
    alerts, and the engine's counts."""
    result = cli("state", "--state", state, "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    shown = {key: data[key] for key in ("open_sessions", "open_messages", "accounts")}
    # Ordered by when they were raised, to the second: by account and signal here.
    shown["raised"] = sorted((row["user"], row["signal"], row["severity"])
                             for row in data["raised"])
    opened = State.open(str(state), watch.engine_format(), lock=False, create=False)
    try:
        stats = opened.engine.correlator.stats
        shown["counters"] = opened.kept.get("counters")
    finally:
        opened.close()
    shown["stats"] = {name: getattr(stats, name) for name in STATS_FIELDS
                      if name != "sources"}
    shown["sources"] = [Path(name).name for name in stats.sources]
    return shown


def watched(cli, folder, data, cuts, year="2023"):
    """(the alerts of each run, what the state holds) of `watch --once` run on a log written
    up to each cut in turn."""
    folder.mkdir()
    log, state = folder / "0.log", folder / "state.sqlite"
    log.write_bytes(b"")
    runs, previous = [], 0
    for cut in cuts:
        with open(log, "ab") as out:
            out.write(data[previous:cut])
        previous = cut
        runs.append(once(cli, state, log, year=year))
    return runs, held(cli, state)


def findings(cli, year, *paths):
    """{user: set of signals} of the batch suspicious report."""
    result = cli("--tz", "UTC", "--year", year, "-r", "suspicious", "-f", "json", *paths)
    assert result.code == 0, result.err
    return {row["user"]: set(row["signals"]) for row in result.json()}


def raised(runs):
    """{user: set of signals} the alerts of all runs raised, none twice."""
    found = {}
    for alert in [alert for alerts in runs for alert in alerts]:
        if alert["signals"][0] in watch.WATCH_SIGNALS:
            continue
        for name in alert["new_signals"]:
            assert name not in found.setdefault(alert["user"], set())
            found[alert["user"]].add(name)
    return found


@pytest.mark.parametrize("log", LOGS)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_a_wrapped_log_cut_anywhere_is_watched_as_the_plain_log(cli, tmp_path, log, wrapper):
    path, year = LOGS[log]
    lines = path.read_text().splitlines()
    wrapped, plain = Wrapped(lines, wrapper), Wrapped(lines)
    cuts = wrapped.cuts(seed=len(lines))
    runs, state = watched(cli, tmp_path / "wrapped", wrapped.data, cuts, year)
    expected = watched(cli, tmp_path / "plain", plain.data,
                       [wrapped.plain_cut(cut) for cut in cuts], year)
    assert (runs, state) == expected
    assert state["stats"]["lines_read"] == len(lines)
    assert raised(runs) == findings(cli, year, path)


@pytest.mark.parametrize("wrapper", SPLITTING)
def test_the_shipped_sample_wrapped_raises_the_alerts_of_the_plain_one(cli, tmp_path, wrapper):
    """The incident: alerts in most runs, each as watch raises it on the plain log."""
    path = SAMPLE_LOGS / "maillog-sample.log"
    lines = path.read_text().splitlines()
    wrapped, plain = Wrapped(lines, wrapper), Wrapped(lines)
    cuts = wrapped.cuts(seed=3, each=1)
    runs, state = watched(cli, tmp_path / "wrapped", wrapped.data, cuts, "2026")
    assert (runs, state) == watched(cli, tmp_path / "plain", plain.data,
                                    [wrapped.plain_cut(cut) for cut in cuts], "2026")
    assert sum(map(bool, runs)) >= 3
    assert raised(runs) == findings(cli, "2026", path)


@pytest.mark.parametrize("wrapper", DAMAGED)
def test_damaged_wrapper_lines_are_counted_in_every_run(cli, tmp_path, wrapper):
    """The damaged lines of tests/test_wrappers.py between the parts of split lines, and an
    undecodable one, the log cut at every line end and inside every line: no run fails, each
    damaged line is counted once as not syslog, and the rest is what the plain log gives."""
    path, year = LOGS["seed"]
    lines = path.read_text().splitlines()
    wrapped = WRAPPERS[wrapper](lines)
    damaged = DAMAGED[wrapper]
    mixed = [line for pair in zip(wrapped, damaged) for line in pair] + wrapped[len(damaged):]
    data = ("".join(line + "\n" for line in mixed[:3]).encode() + b"\xff\xfe\n"
            + "".join(line + "\n" for line in mixed[3:]).encode())
    ends = [index + 1 for index, byte in enumerate(data) if byte == 0x0A]
    cuts = sorted({end for end in ends} | {end - 7 for end in ends if end > 7})
    _, state = watched(cli, tmp_path / "wrapped", data, cuts, year)
    plain = Wrapped(lines).data
    _, expected = watched(cli, tmp_path / "plain", plain, [len(plain)], year)
    counted = state["stats"]
    assert counted.pop("not_syslog") == expected["stats"].pop("not_syslog") + len(damaged) + 1
    assert counted.pop("lines_read") == expected["stats"].pop("lines_read") + len(damaged) + 1
    cut = sum(len(line) > MAX_LINE for line in damaged)  # json-file's 100,000 brackets
    assert counted.pop("lines_cut") == expected["stats"].pop("lines_cut") + cut
    assert state == expected
    stats = cli("--tz", "UTC", "--year", year, "--stats", tmp_path / "wrapped" / "0.log").err
    assert f"not syslog lines:       {len(damaged) + 1}\n" in stats
    assert f"lines cut at 64 KiB:      {cut}\n" in stats


# -- rotation and a change of wrapper --------------------------------------------------------

OLDER, NEWER = (Path(LOGS["lightmeter"][0]).with_name(name) for name in ("mail.log.1",
                                                                          "mail.log"))
# (the log's path, where it is rotated to, whether the log is a link to a file of another name)
ROTATIONS = {
    "kubelet": ("0.log", "0.log.20230128-165001", True),
    "kubelet-compressed": ("0.log", "0.log.20230128-165001.gz", True),
    "docker": ("ID-json.log", "ID-json.log.1", False),
    "docker-compressed": ("ID-json.log", "ID-json.log.1.gz", False),
}


def rotated(cli, folder, first, second, rotation, cut, year="2023"):
    """The runs of watch on a log written up to `cut` of `first` (run), then the rest of it,
    rotated, then `second` at the log's path (run): (alerts of each run, state)."""
    name, rotated_as, linked = ROTATIONS[rotation]
    pods, state = folder / "pods" / "ns_postfix-0_uid" / "postfix", folder / "state.sqlite"
    pods.mkdir(parents=True)
    log = pods / name
    watched_path = log
    if linked:  # kubelet's /var/log/containers/*.log link to the file in /var/log/pods
        (folder / "containers").mkdir()
        watched_path = folder / "containers" / "postfix-0_ns_postfix-0123abc.log"
        watched_path.symlink_to(log)
    log.write_bytes(first[:cut])
    runs = [once(cli, state, watched_path, year=year)]
    with open(log, "ab") as out:
        out.write(first[cut:])
    target = pods / rotated_as
    if rotated_as.endswith(".gz"):
        target.write_bytes(gzip.compress(log.read_bytes()))
        log.unlink()
    else:
        log.rename(target)
    log.write_bytes(second)
    runs.append(once(cli, state, watched_path, year=year))
    assert rotated_files(str(watched_path)) == [str(target)]
    return runs, held(cli, state)


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_a_rotation_after_a_run_that_stopped_inside_a_split_line(cli, tmp_path, rotation):
    """The rest of the rotated file is read from before the split line's first part (found
    beside the file kubelet's link names), then the new file, as the plain logs are."""
    wrapper = "cri" if rotation.startswith("kubelet") else "json-file"
    older, newer = OLDER.read_text().splitlines(), NEWER.read_text().splitlines()
    first = Wrapped(older, wrapper)
    cut = next(entry[1] for entry in first.raw[len(first.raw) // 2:] if entry[3])  # a P's end
    runs, state = rotated(cli, tmp_path / "wrapped", first.data,
                          Wrapped(newer, wrapper).data, rotation, cut)
    assert (runs, state) == rotated(cli, tmp_path / "plain", Wrapped(older).data,
                                    Wrapped(newer).data, rotation, first.plain_cut(cut))
    assert state["stats"]["lines_read"] == len(older) + len(newer)
    assert raised(runs) == findings(cli, "2023", OLDER, NEWER)


@pytest.mark.parametrize("before, after", [("cri", "json-file"), ("json-file", None),
                                           (None, "cri"), ("cri", "docker-t")])
def test_a_file_rotated_in_with_another_wrapper_is_read_as_what_it_is(cli, tmp_path, before,
                                                                      after):
    older, newer = OLDER.read_text().splitlines(), NEWER.read_text().splitlines()
    first = Wrapped(older, before)
    cut = first.raw[len(first.raw) // 2][1]
    runs, state = rotated(cli, tmp_path / "wrapped", first.data, Wrapped(newer, after).data,
                          "docker", cut)
    assert (runs, state) == rotated(cli, tmp_path / "plain", Wrapped(older).data,
                                    Wrapped(newer).data, "docker", first.plain_cut(cut))


def copytruncated(cli, folder, first, second, cut):
    """The runs of watch on a log written up to `cut` of `first` (run), then the rest of it,
    copied to ID-json.log.1 and emptied in place, then `second` in it (run)."""
    folder.mkdir()
    log, state = folder / "ID-json.log", folder / "state.sqlite"
    log.write_bytes(first[:cut])
    runs = [once(cli, state, log)]
    with open(log, "ab") as out:
        out.write(first[cut:])
    shutil.copyfile(log, folder / "ID-json.log.1")
    with open(log, "r+b") as out:
        out.truncate(0)
        out.write(second)
    runs.append(once(cli, state, log))
    return runs, held(cli, state)


def test_copytruncate_to_another_wrapper(cli, tmp_path):
    """logrotate's copytruncate on a container's log (the same file, emptied): the rest from
    the copy, from before the split line a run stopped in, then the file from its start, each
    by its own wrapper."""
    older, newer = OLDER.read_text().splitlines(), NEWER.read_text().splitlines()
    first = Wrapped(older, "cri")
    cut = next(entry[1] for entry in first.raw[len(first.raw) // 3:] if entry[3])
    runs, state = copytruncated(cli, tmp_path / "wrapped", first.data,
                                Wrapped(newer, "json-file").data, cut)
    assert (runs, state) == copytruncated(cli, tmp_path / "plain", Wrapped(older).data,
                                          Wrapped(newer).data, first.plain_cut(cut))
    assert state["stats"]["lines_read"] == len(older) + len(newer)


@pytest.mark.parametrize("rotated_as", [None, "0.log.1", "0.log.1.gz"])
def test_a_run_that_starts_inside_a_file_reads_it_by_the_wrapper_of_its_start(cli, tmp_path,
                                                                              rotated_as):
    """Syslog lines written into a CRI file: the batch report reads the file as CRI, the
    syslog lines damaged ones; so does watch, whose run starts at those lines, in the file or
    in it rotated (compressed)."""
    older, newer = OLDER.read_text().splitlines(), NEWER.read_text().splitlines()
    log, state = tmp_path / "0.log", tmp_path / "state.sqlite"
    log.write_bytes(Wrapped(older, "cri").data)
    once(cli, state, log)
    with open(log, "ab") as out:
        out.write(Wrapped(newer).data)
    batch = cli("--tz", "UTC", "--year", "2023", "--stats", log).err
    assert f"not syslog lines:       {len(newer)}\n" in batch
    if rotated_as:
        data = log.read_bytes()
        (tmp_path / rotated_as).write_bytes(gzip.compress(data) if rotated_as.endswith(".gz")
                                            else data)
        log.write_bytes(b"")
    once(cli, state, log)
    stats = held(cli, state)["stats"]
    assert stats["lines_read"] == len(older) + len(newer)
    assert stats["not_syslog"] == len(newer)


# -- the follower ----------------------------------------------------------------------------

CRI_LINE = "2026-02-08T21:28:47.{:09d}Z {} {} {}\n"


def cri_line(number, stream, tag, text):
    return CRI_LINE.format(number, stream, tag, text).encode()


def read_lines(follower):
    return [line for chunk in follower.read() for line in chunk.lines]


def test_following_a_split_line_as_its_parts_come(tmp_path):
    """Its parts and the other stream's lines between them wait for its last part, in order;
    the position stays before its first part until then."""
    path = tmp_path / "0.log"
    first = cri_line(1, "stdout", "F", "Feb  8 21:28:47 mail postfix/smtpd[1]: connect")
    path.write_bytes(first + cri_line(2, "stdout", "P", "Feb  8 21:28:48 mail post"))
    follower = Follower(str(path))
    assert read_lines(follower) == ["Feb  8 21:28:47 mail postfix/smtpd[1]: connect"]
    assert follower.position.offset == len(first)
    with open(path, "ab") as out:
        out.write(cri_line(3, "stderr", "F", "Feb  8 21:28:48 mail postfix/master[2]: x"))
        out.write(cri_line(4, "stdout", "P", "fix/smtpd[1]: "))
    assert read_lines(follower) == []
    assert follower.position.offset == len(first)
    again = Follower(str(path), follower.position)  # the next run, from the stored position
    assert read_lines(again) == []
    with open(path, "ab") as out:
        out.write(cri_line(5, "stdout", "F", "disconnect from a[192.0.2.1]"))
    expected = ["Feb  8 21:28:48 mail postfix/master[2]: x",
                "Feb  8 21:28:48 mail postfix/smtpd[1]: disconnect from a[192.0.2.1]"]
    assert read_lines(follower) == expected and read_lines(again) == expected
    assert follower.position == again.position
    assert follower.position.offset == path.stat().st_size


def test_an_unfinished_split_line_at_the_end_of_a_rotated_file_is_a_line(tmp_path):
    path = tmp_path / "ID-json.log"
    record = '{{"log":"{}","stream":"stdout","time":"2026-02-08T21:28:47Z"}}\n'
    path.write_text(record.format("Feb  8 21:28:47 mail postfix/smtpd[1]: connect\\n")
                    + record.format("Feb  8 21:28:48 mail postfix/smtpd[1]: disc"))
    follower = Follower(str(path), clock=iter(range(100)).__next__)
    assert read_lines(follower) == ["Feb  8 21:28:47 mail postfix/smtpd[1]: connect"]
    path.rename(tmp_path / "ID-json.log.1")
    path.write_text(record.format("Feb  8 21:28:49 mail postfix/smtpd[2]: connect\\n"))
    assert read_lines(follower) == []  # the rotated file may still be written to
    chunks = list(follower.read())  # quiet for a call: its end, then the new file
    assert [(Path(chunk.name).name, chunk.lines, chunk.new_file) for chunk in chunks] == [
        ("ID-json.log", ["Feb  8 21:28:48 mail postfix/smtpd[1]: disc"], False),
        ("ID-json.log", ["Feb  8 21:28:49 mail postfix/smtpd[2]: connect"], True)]


def test_parts_that_never_end_are_handed_on_at_the_longest_line(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "LONGEST_LINE", 600)
    path = tmp_path / "0.log"
    stamp = "Feb  8 21:28:47 mail postfix/smtpd[1]:"
    path.write_bytes(cri_line(1, "stderr", "P", f"{stamp} never ended")
                     + b"".join(cri_line(number, "stdout", "F", f"{stamp} {number}")
                                for number in range(2, 5)))
    follower = Follower(str(path))
    assert read_lines(follower) == []
    with open(path, "ab") as out:
        out.write(b"".join(cri_line(number, "stdout", "F", f"{stamp} {number}")
                           for number in range(5, 12)))
    assert read_lines(follower) == [f"{stamp} {number}" for number in range(2, 12)] + [
        f"{stamp} never ended"]
    assert follower.position.offset == path.stat().st_size


def test_kubelets_rotated_files_beside_the_file_its_link_names(tmp_path):
    pods, containers = tmp_path / "pods", tmp_path / "containers"
    pods.mkdir()
    containers.mkdir()
    for name in ("0.log", "0.log.20230128-165001", "0.log.20230127-101500.gz", "0.log.tmp",
                 "0.log.20230128-165001.tmp"):
        (pods / name).write_bytes(b"")
    link = containers / "postfix-0_ns_postfix-0123abc.log"
    link.symlink_to(pods / "0.log")
    assert rotated_files(str(link)) == [str(pods / "0.log.20230127-101500.gz"),
                                        str(pods / "0.log.20230128-165001")]
    assert os.path.islink(link) and rotated_files(str(pods / "0.log")) == rotated_files(str(link))


def test_rotated_files_beside_a_link_are_still_found(tmp_path):
    """A linked log whose rotated files are kept beside the link, under its name (logrotate
    run on the link's path), as before links were followed to their target."""
    store, logs = tmp_path / "store", tmp_path / "logs"
    store.mkdir()
    logs.mkdir()
    (store / "maillog-current").write_bytes(b"")
    link = logs / "maillog"
    link.symlink_to(store / "maillog-current")
    for name in ("maillog.1", "maillog.2.gz"):
        (logs / name).write_bytes(b"")
    assert rotated_files(str(link)) == [str(logs / "maillog.2.gz"), str(logs / "maillog.1")]
