"""Every report, in every format, on every shipped log, hashed: a change to any byte of any output
fails here, so that a refactoring can show it changed nothing and a deliberate change of output
is one reviewed update of tests/golden/reports.json.

Update after a deliberate change of output (and say why in the commit):

    python tests/test_golden.py --update
"""

import hashlib
import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "reports.json"

# (name, options and paths): every log the project ships, read as a user would.
LOGS = {
    "sample": ["--tz", "UTC", "sample_logs/maillog-sample.log"],
    "seed": ["--year", "2018", "--tz", "+09:00", "sample_logs/seed-maillog.txt"],
    "postfix37": ["--tz", "UTC", "--year", "2026", "tests/fixtures/postfix37/maillog"],
    **{f"scenario-{path.stem}": ["--tz", "UTC", "--year", "2026",
                                 str(path.relative_to(ROOT))]
       for path in sorted((ROOT / "tests" / "scenarios").glob("*.log"))},
}
REPORTS = [["-r", name] for name in ("users", "sessions", "messages", "ips", "failures",
                                     "suspicious", "timeline", "queue")]
REPORTS += [["-r", "failures", "--by", "user"], ["-r", "sessions", "--all"]]
FORMATS = ("table", "csv", "json")


def cases():
    for log, log_args in LOGS.items():
        for report_args in REPORTS:
            for fmt in FORMATS:
                yield f"{log} {' '.join(report_args)} -f {fmt}", [*report_args, "-f", fmt,
                                                                  *log_args]


def digest(args) -> str:
    from maillog_sasl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return hashlib.sha256(f"{code}\n{out.getvalue()}\n{err.getvalue()}".encode()).hexdigest()


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("case, args", list(cases()), ids=[case for case, _ in cases()])
def test_output_unchanged(case, args, golden, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert case in golden, f"no golden hash for {case}: run python tests/test_golden.py --update"
    assert digest(args) == golden[case], (
        f"the output of `maillog-sasl {' '.join(args)}` changed; if on purpose, run "
        "python tests/test_golden.py --update and say why in the commit")


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    import os

    os.chdir(ROOT)
    os.environ["MAILLOG_SASL_GEOIP_DIRS"] = ""  # as in the tests (conftest): no machine GeoIP
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({case: digest(args) for case, args in cases()}, indent=1,
                                 sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
