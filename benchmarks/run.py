#!/usr/bin/env python3
"""benchmarks/run.py: time maillog-sasl against pflogsumm and postfix-collate on generated logs.

WHAT IT DOES
    1. Generates (or reuses from benchmarks/data/) a realistic Postfix log with the project's
       generator, `python -m tools.simulate`, traditional timestamps (what pflogsumm and
       postfix-collate read; --timestamps rfc3339 for the stamps of rsyslog's default template
       and the shipped sample, which postfix-collate cannot read and is then left out: a
       change that slows those lines alone shows in no traditional log): --lines lines
       (default 1,500,000) over --days days (default 7).
       The 10x file covers ten times the days (70) with at least ten times the lines: the same
       traffic for longer, so the number of sessions and queued messages open at any moment
       stays what it is in the 1x file, and the peak memory of a tool shows whether it grows
       with the length of the log.
    2. Times, each as its own child process, output to /dev/null, alternating the tools within
       each round (the order rotates from round to round):
           maillog-sasl --jobs 1 FILE                       (the default users report)
           maillog-sasl --jobs 1 --report messages --format csv FILE
           maillog-sasl --jobs N FILE                       (N: the usable cores)
           pflogsumm FILE                                   (when installed)
           postfix-collate FILE                             (when installed)
           python -c 'for line in open(F): pass'            (the floor: Python's bare loop)
       --runs rounds on the 1x file (default 3), --runs-10x on the 10x file (default 1;
       pflogsumm and postfix-collate only with --others-10x). maillog-sasl is run as
       `python -m maillog_sasl` with the source tree of --src first on PYTHONPATH (default: the
       checkout this script is in, uncommitted changes included; the header says which), its
       bytecode written by a first run and read by every timed one, as an installed package
       has it (PYTHONDONTWRITEBYTECODE is not passed on; the bytecode goes to a temporary
       PYTHONPYCACHEPREFIX, removed at the end). With --base DIR, the two maillog-sasl
       commands of that second tree (e.g. a git worktree of the base commit) are timed too,
       in the same rounds ("base maillog-sasl ..."): base and change paired in one run; its
       --jobs N command too when that tree has --jobs.
    3. Prints per tool the median, min and max wall time, lines/s and MB/s at the median, the
       median peak RSS and CPU time, then the ratios against the targets of issue 5 (PASS/FAIL):
       the default report >= 2x as fast as pflogsumm (aim 3x) and >= 1x postfix-collate; peak
       RSS <= 60 MB, and within 10% between the 1x and 10x files. Then the one-core targets of
       issue 16: the default report <= 0.9x postfix-collate's time and >= 2.3x faster than
       pflogsumm on the submission profile, <= 1.0x collate on the mx (mixed) profile;
       --report messages --format csv <= 1.3x collate; peak RSS <= 60 MB; a queued message
       <= 2 KB while it waits (benchmarks/queued_message.py, 1 recipient). With --base, the
       one-core targets are checked for the base tree as well. Then the every-core targets:
       --jobs N at least 1.5x faster than --jobs 1, and at most 0.6x postfix-collate's time on
       the submission profile; peak RSS of each process <= 60 MB.

INPUT
    Options only (see --help). Logs are cached in --data (default benchmarks/data/, git-ignored)
    under a name made of the generator options, e.g. sim-s7-d7-traditional-n1500000.log, with a
    .meta.json beside it (line count, size, generator time and peak RSS). A cached log is used
    as it is; a missing one is generated (written to NAME.part, renamed when complete).
    Generated files are removed at the end unless --keep; files found in the cache stay.

OUTPUT
    The machine, the files, the table and the target lines on stdout; with --json FILE, every
    figure (each run's wall time, peak RSS, CPU time and load average) as JSON.
    Wall time: time.perf_counter() around fork/exec .. os.wait4(); peak RSS and CPU time: the
    child's own rusage from os.wait4() (ru_maxrss, ru_utime + ru_stime).

HOW IT FAILS
    Exit status 0 when everything was measured, whatever the targets say (--strict: 3 when a
    target FAILs); 1 when the generator or a measured tool exits non-zero (its last stderr
    lines are shown) or a file cannot be written; 2 for a usage error. A tool that is not
    installed is left out, with a note, and its targets read "n/a".
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOOR_CODE = "import sys\nfor line in open(sys.argv[1]): pass"
# The 10x log asks the generator for 5% more than it needs: its --target-lines calibration
# lands within a few percent either side (ensure_log() makes a log again when it falls short).
TEN_X_MARGIN = 1.05
TARGET_VS_PFLOGSUMM = 2.0
AIM_VS_PFLOGSUMM = 3.0
TARGET_VS_COLLATE = 1.0
TARGET_RSS_MB = 60.0
TARGET_RSS_GROWTH = 0.10
# Issue 16, one core: maillog-sasl time / postfix-collate time at most this, per profile (the
# submission profile is the incident's own log; mx is the mixed log of a busy server), and
# pflogsumm time / maillog-sasl time at least this on the submission profile.
TARGET16_VS_COLLATE = {"submission": 0.9, "mx": 1.0}
TARGET16_VS_PFLOGSUMM = {"submission": 2.3}
TARGET16_CSV_VS_COLLATE = 1.3
TARGET16_QUEUED_BYTES = 2048
# Issue 16, every core: --jobs N (N: the usable cores) / postfix-collate at most this on the
# submission profile, and --jobs 1 / --jobs N at least this; peak RSS of each process (wait4's
# ru_maxrss is the largest of the child and the workers it waited for) as for one core.
TARGET16_JOBS_VS_COLLATE = 0.6
TARGET16_JOBS_SPEEDUP = 1.5
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# -- the tools ---------------------------------------------------------------------------------

class Tool:
    """One measured command: `key` names it in the table and JSON, `shown` is its command line
    as a user would type it, `argv(path)` the exact command run."""

    def __init__(self, key, shown, argv, ours=False, other=False, env=None, src=None):
        self.key = key
        self.shown = shown
        self.argv = argv
        self.ours = ours
        self.other = other
        # Its own source tree and environment (the --base tree's), or None for the run's.
        self.env = env
        self.src = src


def find_program(name):
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# The one-process commands: key, as shown, the options before the file. The --base tree's run
# without `--jobs 1` (one process is also all a tree from before --jobs does).
OUR_COMMANDS = (("maillog-sasl", "FILE", []),
                ("maillog-sasl messages csv", "--report messages --format csv FILE",
                 ["--report", "messages", "--format", "csv"]))
BASE = "base "  # the prefix of the --base tree's keys and commands


def build_tools(python, notes, base=None, timestamps="traditional"):
    tools = [Tool(key, f"maillog-sasl --jobs 1 {shown}",
                  lambda path, options=options: [python, "-m", "maillog_sasl", "--jobs", "1",
                                                 *options, path], ours=True)
             for key, shown, options in OUR_COMMANDS]
    tools.append(Tool("maillog-sasl jobs", f"maillog-sasl --jobs {CORES} FILE",
                      lambda path: [python, "-m", "maillog_sasl", "--jobs", str(CORES), path],
                      ours=True))
    if base is not None:
        commands = list(OUR_COMMANDS)
        if "--jobs" in (base / "maillog_sasl" / "cli.py").read_text(errors="replace"):
            # A tree with --jobs: its every-core command is paired with this one's too.
            commands.append(("maillog-sasl jobs", f"--jobs {CORES} FILE", ["--jobs", str(CORES)]))
        tools += [Tool(BASE + key, f"{BASE}maillog-sasl {shown}",
                       lambda path, options=options: [python, "-m", "maillog_sasl", *options,
                                                      path],
                       ours=True, env=child_env(base), src=base)
                  for key, shown, options in commands]
    for name in ("pflogsumm", "postfix-collate"):
        if name == "postfix-collate" and timestamps != "traditional":
            notes.append(f"postfix-collate reads traditional timestamps only: left out on a "
                         f"log of {timestamps} timestamps (its targets read n/a)")
            continue
        program = find_program(name)
        if program is None:
            notes.append(f"{name} is not installed: left out (apt-get install pflogsumm postfix)")
            continue
        tools.append(Tool(name, f"{name} FILE", lambda path, program=program: [program, path],
                          other=True))
    tools.append(Tool("python floor", "python -c 'for line in open(F): pass'",
                      lambda path: [python, "-c", FLOOR_CODE, path]))
    return tools


# Where the measured commands keep their bytecode during a run (removed at its end).
PYCACHE = Path(tempfile.gettempdir()) / f"run-py-pycache-{os.getpid()}"


def child_env(src):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # Bytecode is written by the first run and read by the timed ones, as pip writes it when it
    # installs the package: an environment that forbids writing it would time Python compiling
    # the package on every run (57 ms of CPU here). Kept apart, the trees stay as they were.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


class ToolFailed(Exception):
    pass


TIME = "/usr/bin/time"  # GNU time


def run_child(argv, env, stdout_path=os.devnull, cwd=None):
    """Run argv to completion, in `cwd` when given: (wall seconds, peak RSS in bytes, CPU
    seconds); ToolFailed if it exits non-zero. `python -m` puts its working directory first on
    the module path, before PYTHONPATH: maillog-sasl runs in the tree it is timed from.

    Linux carries a process's peak RSS across execve(), so a child forked from this Python
    process would report at least this process's own RSS. The tool is therefore started by GNU
    time (a small process), which reports the tool's own peak RSS and CPU time; without GNU
    time, the figures come from os.wait4() and RSS reads at least this script's own size."""
    use_time = os.access(TIME, os.X_OK)
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="run-time-") as figures:
        command = [TIME, "-o", figures.name, "-f", "%M %U %S", *argv] if use_time else argv
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise ToolFailed(f"{' '.join(argv)}: exit status {code}"
                             + "".join("\n    " + line for line in tail))
        if use_time:
            maxrss_kb, user, system = figures.read().split()[-3:]
            return wall, int(maxrss_kb) * 1024, float(user) + float(system)
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


# -- the logs ----------------------------------------------------------------------------------

# What kind of server the log comes from (extra generator options). "mx": a busy mail server
# of 3000 accounts that receives far more mail than its users send, as most do; "submission":
# the generator's default 60 accounts scaled up, so that most lines are authenticated mail and
# the spam of its three compromised accounts retried for days: the incident itself.
PROFILES = {
    "mx": ["--users", "3000", "--inbound-per-user", "30"],
    "submission": [],
}


def log_name(seed, days, lines, profile="submission", timestamps="traditional"):
    suffix = "" if profile == "submission" else f"-{profile}"
    return f"sim-s{seed}-d{days:g}-{timestamps}-n{lines}{suffix}.log"


def generator_version(src):
    """Short hash of the generator's source, tools/simulate/*.py by name: a cached log made by
    another version is noted."""
    paths = sorted((Path(src) / "tools" / "simulate").glob("*.py"))
    if not paths:
        return None
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()[:12]


def ensure_log(data_dir, seed, days, lines, python, env, generated, say, version=None,
               ask=None, profile="submission", src=None, timestamps="traditional"):
    """Path and metadata of a log of at least `lines` lines for these options: reused from the
    cache, or generated. The generator is asked for `ask` lines (default `lines`); its
    calibration lands within a few percent either side, so a log that falls short is made
    again once with a proportionally larger request. The generator runs in `src`, the tree
    whose tools/simulate it is."""
    path = data_dir / log_name(seed, days, lines, profile, timestamps)
    meta_path = path.with_name(path.name + ".meta.json")
    options = {"seed": seed, "days": days, "timestamps": timestamps, "min_lines": lines,
               "profile": profile}
    if path.exists():
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("bytes") != path.stat().st_size:  # no metadata, or another file
            meta = {"options": options, "lines": count_lines(path),
                    "bytes": path.stat().st_size, "generator_version": None}
            meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        meta["reused"] = True
        say(f"using cached {display(path)} ({meta['lines']:,} lines)")
        if meta.get("generator_version") != version:
            say(f"note: {path.name} was made by another (or an unknown) version of "
                "tools/simulate/; delete it to make it again")
        return path, meta
    data_dir.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    ask = ask or lines
    attempts = []
    while True:
        argv = [python, "-m", "tools.simulate", "--seed", str(seed), "--days",
                f"{days:g}", "--timestamps", timestamps, *PROFILES[profile],
                "--target-lines", str(ask), "-o", str(part)]
        say(f"generating {display(path)}: python {' '.join(argv[1:-2])} ...")
        try:
            wall, rss, cpu = run_child(argv, env, cwd=src)
        except ToolFailed:
            part.unlink(missing_ok=True)
            raise
        count = count_lines(part)
        attempts.append({"target_lines": ask, "lines": count, "seconds": round(wall, 2),
                         "peak_rss_bytes": rss})
        say(f"  {count:,} lines, {part.stat().st_size / 1e6:,.1f} MB in {wall:.1f} s, "
            f"generator peak RSS {rss / 1e6:.1f} MB")
        if count >= lines or len(attempts) == 2:
            break
        ask = math.ceil(ask * lines / count * 1.03)
        say(f"  fewer than {lines:,} lines: once more, asking for {ask:,}")
    if count < lines:
        say(f"note: {path.name} has {count:,} lines, fewer than the {lines:,} asked for")
    part.rename(path)
    meta = {"options": options, "command": ["python"] + argv[1:-1] + [path.name],
            "lines": count, "bytes": path.stat().st_size, "generator_version": version,
            "generator_seconds": round(wall, 2), "generator_peak_rss_bytes": rss,
            "attempts": attempts}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    generated.extend([path, meta_path])
    meta["reused"] = False
    return path, meta


def count_lines(path):
    count = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            count += block.count(b"\n")
    return count


def warm_page_cache(path):
    with open(path, "rb") as handle:
        while handle.read(1 << 22):
            pass


def display(path):
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- measuring ---------------------------------------------------------------------------------

def measure_file(label, path, meta, tools, runs, env, src, say):
    """All tools on one file, `runs` alternating rounds: {key: summary}."""
    warm_page_cache(path)
    results = {tool.key: {"command": tool.shown, "argv": tool.argv(display(path)), "runs": []}
               for tool in tools}
    for number in range(runs):
        shift = number % len(tools)
        order = tools[shift:] + tools[:shift]
        say(f"{label} round {number + 1}/{runs}: " + ", ".join(tool.key for tool in order))
        for tool in order:
            load = os.getloadavg()[0]
            wall, rss, cpu = run_child(tool.argv(str(Path(path).resolve())), tool.env or env,
                                       cwd=tool.src or src)
            results[tool.key]["runs"].append({"wall_s": round(wall, 3), "peak_rss_bytes": rss,
                                              "cpu_s": round(cpu, 3), "round": number + 1,
                                              "loadavg_1min_before": load})
    for tool in tools:
        entry = results[tool.key]
        walls = [run["wall_s"] for run in entry["runs"]]
        median = statistics.median(walls)
        entry.update({
            "median_wall_s": median, "min_wall_s": min(walls), "max_wall_s": max(walls),
            "lines_per_s": meta["lines"] / median, "mb_per_s": meta["bytes"] / 1e6 / median,
            "median_peak_rss_bytes": statistics.median(run["peak_rss_bytes"]
                                                       for run in entry["runs"]),
            "max_peak_rss_bytes": max(run["peak_rss_bytes"] for run in entry["runs"]),
            "median_cpu_s": statistics.median(run["cpu_s"] for run in entry["runs"]),
        })
    return results


def table(results, tools):
    width = max(50, *(len(tool.shown) for tool in tools))
    header = (f"{'command':<{width}} {'median s':>9} {'min s':>8} {'max s':>8} {'lines/s':>10} "
              f"{'MB/s':>7} {'peak RSS':>9} {'CPU s':>8}")
    rows = [header, "-" * len(header)]
    for tool in tools:
        if tool.key not in results:
            continue
        entry = results[tool.key]
        rows.append(f"{tool.shown:<{width}} {entry['median_wall_s']:>9.2f} "
                    f"{entry['min_wall_s']:>8.2f} {entry['max_wall_s']:>8.2f} "
                    f"{entry['lines_per_s']:>10,.0f} "
                    f"{entry['mb_per_s']:>7.1f} "
                    f"{entry['median_peak_rss_bytes'] / 1e6:>6.1f} MB "
                    f"{entry['median_cpu_s']:>8.2f}")
    return "\n".join(rows)


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def targets(one, ten):
    """The target lines: (text, ok or None) for each target of issue 5."""
    checks = []
    ours = one.get("maillog-sasl")

    def speed(other_key, target, aim=None):
        other = one.get(other_key)
        if not other:
            checks.append((f"{other_key} time / maillog-sasl time: not measured "
                           f"(target >= {target:g}x)", None))
            return
        ratio = other["median_wall_s"] / ours["median_wall_s"]
        aim_text = f", aim {aim:g}x" if aim else ""
        checks.append((f"{other_key} / maillog-sasl (default report), median wall time: "
                       f"{ratio:.2f}x  (target >= {target:g}x{aim_text})", ratio >= target))

    speed("pflogsumm", TARGET_VS_PFLOGSUMM, AIM_VS_PFLOGSUMM)
    speed("postfix-collate", TARGET_VS_COLLATE)
    for key in ("maillog-sasl", "maillog-sasl messages csv"):
        rss = one[key]["max_peak_rss_bytes"] / 1e6
        checks.append((f"{key}: peak RSS on the 1x file {rss:.1f} MB  (target <= "
                       f"{TARGET_RSS_MB:g} MB)", rss <= TARGET_RSS_MB))
        if ten:
            rss10 = ten[key]["max_peak_rss_bytes"] / 1e6
            growth = rss10 / rss - 1
            checks.append((f"{key}: peak RSS on the 10x file {rss10:.1f} MB, {growth:+.1%} "
                           f"against 1x  (target <= {TARGET_RSS_MB:g} MB and within "
                           f"{TARGET_RSS_GROWTH:.0%})",
                           rss10 <= TARGET_RSS_MB and abs(growth) <= TARGET_RSS_GROWTH))
    return checks


def queued_message(python, env):
    """benchmarks/queued_message.py (this checkout's) on the maillog_sasl of the tree measured
    (env's PYTHONPATH): bytes the correlator holds per waiting message, for 1 recipient and for
    3 (a dict of figures), or None when it fails."""
    figures = {}
    for recipients in (1, 3):
        try:
            done = subprocess.run([python, str(HERE / "queued_message.py"),
                                   "--recipients", str(recipients)], env=env,
                                  capture_output=True, text=True, timeout=300)
            figures[recipients] = json.loads(done.stdout)["bytes_per_message"]
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            return None
    return figures


def vs_collate(label, ours, collate, limit):
    """(text, ok or None): `ours` / postfix-collate, median wall times, at most `limit`."""
    if not ours or not collate:
        return (f"{label} / postfix-collate: not measured (target <= {limit:g}x)", None)
    ratio = ours["median_wall_s"] / collate["median_wall_s"]
    return (f"{label} / postfix-collate: {ratio:.2f}x  (target <= {limit:g}x)", ratio <= limit)


def targets16(one, ten, profile, queued, prefix=""):
    """The one-core targets of issue 16: (text, ok or None) each, for the tree whose keys
    start with `prefix` ("base " for --base). Ratios are of median wall times paired in this
    run."""
    checks = []
    tree = f" ({prefix.strip()})" if prefix else ""
    ours = one.get(prefix + "maillog-sasl")
    collate = one.get("postfix-collate")
    pflogsumm = one.get("pflogsumm")
    limit = TARGET16_VS_COLLATE.get(profile)
    if limit is not None:
        checks.append(vs_collate(f"{prefix}maillog-sasl (default report) on the {profile} "
                                 "profile", ours, collate, limit))
    limit = TARGET16_VS_PFLOGSUMM.get(profile)
    if limit is not None:
        if pflogsumm:
            ratio = pflogsumm["median_wall_s"] / ours["median_wall_s"]
            checks.append((f"pflogsumm / {prefix}maillog-sasl (default report) on the {profile} "
                           f"profile: {ratio:.2f}x faster  (target >= {limit:g}x)",
                           ratio >= limit))
        else:
            checks.append((f"pflogsumm / {prefix}maillog-sasl: not measured (target >= "
                           f"{limit:g}x)", None))
    checks.append(vs_collate(f"{prefix}maillog-sasl --report messages --format csv",
                             one.get(prefix + "maillog-sasl messages csv"), collate,
                             TARGET16_CSV_VS_COLLATE))
    for label, results in (("1x", one), ("10x", ten)):
        if not results:
            continue
        worst = max(results[prefix + key]["max_peak_rss_bytes"] for key, _, _ in OUR_COMMANDS
                    if prefix + key in results) / 1e6
        checks.append((f"{prefix}maillog-sasl peak RSS on the {label} {profile} file, both "
                       f"commands: {worst:.1f} MB  (target <= {TARGET_RSS_MB:g} MB)",
                       worst <= TARGET_RSS_MB))
    if queued is None:
        checks.append((f"a queued message{tree}: not measured (target <= "
                       f"{TARGET16_QUEUED_BYTES} bytes)", None))
    else:
        checks.append((f"a queued message{tree} while it waits (benchmarks/queued_message.py): "
                       f"{queued[1]:,} bytes with 1 recipient, {queued[3]:,} with 3  (target <= "
                       f"{TARGET16_QUEUED_BYTES:,} bytes, 1 recipient)",
                       queued[1] <= TARGET16_QUEUED_BYTES))
    return checks


def targets16_jobs(one, profile):
    """The every-core targets of issue 16 (--jobs): (text, ok or None) each."""
    jobs, single = one.get("maillog-sasl jobs"), one.get("maillog-sasl")
    if not jobs or not single:
        return []
    checks = []
    speedup = single["median_wall_s"] / jobs["median_wall_s"]
    checks.append((f"maillog-sasl --jobs 1 / --jobs {CORES}: {speedup:.2f}x faster  (target >= "
                   f"{TARGET16_JOBS_SPEEDUP:g}x on {CORES} cores)",
                   speedup >= TARGET16_JOBS_SPEEDUP if CORES > 1 else None))
    if profile == "submission":
        checks.append(vs_collate(f"maillog-sasl --jobs {CORES} on the {profile} profile", jobs,
                                 one.get("postfix-collate"), TARGET16_JOBS_VS_COLLATE))
    worst = jobs["max_peak_rss_bytes"] / 1e6
    checks.append((f"maillog-sasl --jobs {CORES} peak RSS (the largest process): {worst:.1f} MB"
                   f"  (target <= {TARGET_RSS_MB:g} MB)", worst <= TARGET_RSS_MB))
    return checks


def information(one):
    lines = []
    floor = one.get("python floor")
    for key in ("maillog-sasl", "maillog-sasl messages csv"):
        if floor:
            ratio = one[key]["median_wall_s"] / floor["median_wall_s"]
            lines.append(f"{key} / python floor: {ratio:.1f}x the time of the bare line loop")
    if "maillog-sasl messages csv" in one:
        default, csv = one["maillog-sasl"], one["maillog-sasl messages csv"]
        ratio = default["median_wall_s"] / csv["median_wall_s"]
        lines.append(f"maillog-sasl default / messages csv: {ratio:.2f}x")
    return lines


# -- the machine -------------------------------------------------------------------------------

def machine():
    info = {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "cpu_model": None, "ram_bytes": None, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_bytes"] = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    for name, argv in (("pflogsumm", ["dpkg-query", "-W", "-f", "${Version}", "pflogsumm"]),
                       ("postfix", ["dpkg-query", "-W", "-f", "${Version}", "postfix"]),
                       ("perl", ["perl", "-e", "print $^V"])):
        try:
            info[name] = subprocess.run(argv, capture_output=True, text=True,
                                        timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            info[name] = None
    return info


def source_state(src):
    # The modules built into C extensions in the tree (setup.py's mypyc build, made in place by
    # `python setup.py build_ext --inplace`): they are imported before the .py files.
    compiled = sorted(path.name.split(".")[0] for path in Path(src, "maillog_sasl").glob("*.so"))
    state = {"src": str(src), "commit": None, "uncommitted_in_package": None,
             "compiled": compiled}
    try:
        state["commit"] = subprocess.run(
            ["git", "-C", str(src), "log", "-1", "--format=%h %s"], capture_output=True,
            text=True, timeout=10).stdout.strip()[:100] or None
        changed = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "maillog_sasl"],
            capture_output=True, text=True, timeout=10).stdout.splitlines()
        state["uncommitted_in_package"] = [line[3:] for line in changed]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def build_of(state) -> str:
    compiled = state["compiled"]
    return f"compiled: {', '.join(compiled)}" if compiled else "pure Python"


# -- main --------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Time maillog-sasl against pflogsumm and postfix-collate on generated "
                    "Postfix logs (1x and 10x), alternating, and check the targets of issue 5.")
    parser.add_argument("--lines", type=int, default=1_500_000,
                        help="lines of the 1x log (default 1500000); the 10x log has "
                             "at least ten times as many")
    parser.add_argument("--days", type=float, default=7.0,
                        help="days the 1x log covers (default 7); the 10x log covers ten times "
                             "as many")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="mx",
                        help="the server the log comes from (default mx): mx, a busy server "
                             "receiving far more than its 3000 users send; submission, mostly "
                             "authenticated mail and a compromised account's spam, e.g. "
                             "--profile submission")
    parser.add_argument("--timestamps", choices=("traditional", "rfc3339"),
                        default="traditional",
                        help="the generated log's timestamps (default traditional); rfc3339 "
                             "leaves postfix-collate out, which cannot read them, e.g. "
                             "--timestamps rfc3339")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds on the 1x log (default 3)")
    parser.add_argument("--runs-10x", type=int, default=1,
                        help="rounds on the 10x log (default 1)")
    parser.add_argument("--skip-10x", action="store_true", help="no 10x log")
    parser.add_argument("--others-10x", action="store_true",
                        help="also time pflogsumm and postfix-collate on the 10x log")
    parser.add_argument("--keep", action="store_true",
                        help="keep the logs this run generates in --data for later runs "
                             "(default: remove them at the end; cached logs always stay)")
    parser.add_argument("--data", type=Path, default=HERE / "data",
                        help="where logs are cached (default benchmarks/data)")
    parser.add_argument("--src", type=Path, default=REPO,
                        help="source tree of the maillog-sasl to time (default: this checkout)")
    parser.add_argument("--base", type=Path, metavar="DIR",
                        help="another source tree (e.g. a git worktree of the base commit) "
                             "whose two maillog-sasl commands are timed in the same rounds")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure here")
    parser.add_argument("--smoke", action="store_true",
                        help="quick end-to-end check: 20000 lines, 1 round, no 10x")
    parser.add_argument("--prepare", action="store_true",
                        help="only generate the logs (kept, as with --keep) and stop")
    parser.add_argument("--strict", action="store_true",
                        help="exit status 3 when a target FAILs")
    options = parser.parse_args(argv)
    if options.smoke:
        # The small default population: calibrating 3000 accounts takes minutes.
        options.lines, options.runs, options.skip_10x = 20_000, 1, True
        options.profile = "submission"
    if options.prepare:
        options.keep = True
    options.data = options.data.resolve()  # the tools run in their source trees
    if options.lines < 1000 or options.runs < 1 or options.runs_10x < 1 or options.days <= 0:
        parser.error("--lines >= 1000, --runs and --runs-10x >= 1, --days > 0")
    return options


def main(argv=None):
    try:
        return measure(parse_args(sys.argv[1:] if argv is None else argv))
    finally:
        shutil.rmtree(PYCACHE, ignore_errors=True)


def measure(options):

    def say(text):
        print(text, flush=True)

    python = sys.executable
    src = options.src.resolve()
    env = child_env(src)
    base = options.base.resolve() if options.base else None
    notes = []
    tools = build_tools(python, notes, base, options.timestamps)
    generated = []
    report = {"started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
              "machine": machine(), "source": source_state(options.src),
              "base_source": source_state(options.base) if options.base else None,
              "options": {key: (str(value) if isinstance(value, Path) else value)
                          for key, value in vars(options).items()}}
    info = report["machine"]
    say(f"machine: {info['nproc']} CPUs ({info['cpu_model']}), "
        f"{(info['ram_bytes'] or 0) / 2**30:.1f} GiB RAM, Python {info['python']}, "
        f"perl {info['perl']}, pflogsumm {info['pflogsumm']}, postfix {info['postfix']}; "
        f"load average {info['loadavg_at_start'][0]:.2f}")
    state = report["source"]
    dirty = state["uncommitted_in_package"]
    say(f"maillog-sasl from {state['src']} at {state['commit']}"
        + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")
        + f"; {build_of(state)}")
    base_state = report["base_source"]
    if base_state is not None:
        say(f"base maillog-sasl from {base_state['src']} at {base_state['commit']}"
            + (f" + uncommitted changes in {', '.join(base_state['uncommitted_in_package'])}"
               if base_state["uncommitted_in_package"] else "") + f"; {build_of(base_state)}")
    for note in notes:
        say(f"note: {note}")
    status = 0
    try:
        for tree in {src, base or src}:  # byte-compile
            run_child([python, "-m", "maillog_sasl", "--version"], child_env(tree), cwd=tree)
        version = generator_version(options.src)
        one_path, one_meta = ensure_log(options.data, options.seed, options.days, options.lines,
                                        python, env, generated, say, version,
                                        profile=options.profile, src=src,
                                        timestamps=options.timestamps)
        ten_path = ten_meta = None
        if not options.skip_10x:
            ten_lines = 10 * options.lines
            ten_path, ten_meta = ensure_log(options.data, options.seed, options.days * 10,
                                            ten_lines, python, env, generated, say, version,
                                            ask=math.ceil(ten_lines * TEN_X_MARGIN),
                                            profile=options.profile, src=src,
                                            timestamps=options.timestamps)
        if options.prepare:
            return 0
        one = measure_file("1x", one_path, one_meta, tools, options.runs, env, src, say)
        ten = None
        if ten_path is not None:
            ten_tools = [tool for tool in tools if options.others_10x or not tool.other]
            ten = measure_file("10x", ten_path, ten_meta, ten_tools, options.runs_10x, env, src,
                               say)
    except ToolFailed as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 1
    finally:
        if not options.keep:
            for path in generated:
                path.unlink(missing_ok=True)
    report["files"] = {"1x": dict(one_meta, path=display(one_path))}
    report["results"] = {"1x": one}
    if ten is not None:
        report["files"]["10x"] = dict(ten_meta, path=display(ten_path))
        report["results"]["10x"] = ten
    say("")
    for label, meta, path, results, runs in (
            ("1x", one_meta, one_path, one, options.runs),
            ("10x", ten_meta, ten_path, ten, options.runs_10x)):
        if results is None:
            continue
        say(f"{label} file: {display(path)}: {meta['lines']:,} lines,"
            f" {meta['bytes'] / 1e6:,.1f} MB; {runs} run{'s' if runs > 1 else ''} each,"
            " alternating; median of the runs")
        say(table(results, tools))
        say("")
    checks = targets(one, ten)
    report["targets"] = [{"check": text, "result": verdict(ok)} for text, ok in checks]
    say("targets (issue 5):")
    for text, ok in checks:
        say(f"  {verdict(ok):<4}  {text}")
    queued = queued_message(python, env)
    report["queued_message_bytes"] = queued
    checks16 = targets16(one, ten, options.profile, queued)
    report["targets_issue16"] = [{"check": text, "result": verdict(ok)} for text, ok in checks16]
    say("targets (issue 16, one core):")
    for text, ok in checks16:
        say(f"  {verdict(ok):<4}  {text}")
    if base is not None:
        base_queued = queued_message(python, child_env(base))
        report["base_queued_message_bytes"] = base_queued
        base_checks = targets16(one, ten, options.profile, base_queued, BASE)
        report["base_targets_issue16"] = [{"check": text, "result": verdict(ok)}
                                          for text, ok in base_checks]
        say("the same for the --base tree:")
        for text, ok in base_checks:
            say(f"  {verdict(ok):<4}  {text}")
    checks_jobs = targets16_jobs(one, options.profile)
    report["targets_issue16_jobs"] = [{"check": text, "result": verdict(ok)}
                                      for text, ok in checks_jobs]
    say(f"targets (issue 16, every core: --jobs {CORES}):")
    for text, ok in checks_jobs:
        say(f"  {verdict(ok):<4}  {text}")
    checks = checks + checks16 + checks_jobs
    for line in information(one):
        say(f"  info  {line}")
    loads = [run["loadavg_1min_before"] for results in report["results"].values()
             for entry in results.values() for run in entry["runs"]]
    say(f"load average (1 min) before each run: {min(loads):.2f} .. {max(loads):.2f}")
    if options.json:
        try:
            options.json.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as error:
            print(f"run.py: {options.json}: cannot write: {error.strerror}", file=sys.stderr)
            return 1
        say(f"figures written to {options.json}")
    if options.strict and any(ok is False for _, ok in checks):
        status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
