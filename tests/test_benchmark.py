"""benchmarks/run.py --smoke end to end: a 20,000-line log generated into a temporary directory,
every installed tool timed once (and maillog-sasl of a --base tree beside it), the table, the
target lines and the JSON figures written.
Never asserts a speed: only that the script runs and reports. A few seconds on an idle 2-core
machine."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_prints_its_table_and_writes_its_figures(tmp_path):
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--data",
         str(tmp_path / "data"), "--json", str(figures), "--base", str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1x file: " in out and "10x file" not in out
    for command in ("maillog-sasl --jobs 1 FILE",
                    "maillog-sasl --jobs 1 --report messages --format csv FILE",
                    "python -c 'for line in open(F): pass'"):
        assert f"\n{command} " in out, out
    assert "\nbase maillog-sasl FILE " in out
    assert "the same for the --base tree:" in out
    assert "targets (issue 5):" in out and "targets (issue 16, every core: --jobs" in out
    assert "peak RSS on the 1x file" in out
    data = json.loads(figures.read_text())
    assert 20_000 <= data["files"]["1x"]["lines"] < 30_000
    ours = data["results"]["1x"]["maillog-sasl"]
    assert len(ours["runs"]) == 1 and ours["median_wall_s"] > 0
    assert ours["median_peak_rss_bytes"] > 1_000_000
    assert len(data["results"]["1x"]["base maillog-sasl"]["runs"]) == 1
    # the generated log is removed without --keep
    assert list((tmp_path / "data").glob("*.log")) == []


def test_an_rfc3339_run_times_those_stamps_and_leaves_collate_out(tmp_path):
    # RFC 3339 lines take another path through the clock than traditional ones: a change that
    # slowed them alone (07ffbcb, +17% on the shipped sample) showed in no traditional log.
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--timestamps",
         "rfc3339", "--keep", "--data", str(tmp_path / "data"), "--json", str(figures)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "note: postfix-collate reads traditional timestamps only" in out
    assert "\npostfix-collate FILE " not in out
    assert "\nmaillog-sasl --jobs 1 FILE " in out
    (log,) = (tmp_path / "data").glob("*.log")
    assert log.name == "sim-s7-d7-rfc3339-n20000.log"
    first = log.open().readline()
    assert first[:4].isdigit() and first[10] == "T", first
    data = json.loads(figures.read_text())
    assert data["files"]["1x"]["options"]["timestamps"] == "rfc3339"
    assert "postfix-collate" not in data["results"]["1x"]
