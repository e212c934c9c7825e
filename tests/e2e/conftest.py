"""Fixtures for the end-to-end tests against a real Postfix (tests/e2e, all marked `postfix`).

`postfix_run` (module scope) builds a private instance and the SMTP sinks, runs the scenario
(e2e_scenario.run_scenario), then stops every process it started before the tests look at the
result, so the log is final and nothing is left running even when a test fails. `postfix_env`
(module scope) is a started instance for tests that drive it themselves (auth-test); it is stopped
in its finalizer.

Both skip, with the reason, when the tests cannot run here: not root (Postfix's daemons must
start as root and drop to the postfix user), or no `postfix` command (run
`bash tests/e2e/install-postfix.sh` first).

MAILLOG_SASL_E2E_KEEP=DIR copies the run's maillog and truth.json to DIR (to refresh
tests/fixtures/postfix37 or to look at a failure); the instance's own directory is removed.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from e2e_instance import find_postfix  # noqa: E402
from e2e_scenario import Environment, run_scenario, sink_report  # noqa: E402


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root: Postfix's master and daemons start as root"
    if find_postfix() is None:
        return "no postfix command: run `bash tests/e2e/install-postfix.sh`"
    if shutil.which("saslpasswd2") is None or shutil.which("openssl") is None:
        return "saslpasswd2/openssl missing: run `bash tests/e2e/install-postfix.sh`"
    return None


def _new_root() -> Path:
    # Not pytest's tmp_path: its parent is 0700, and the unprivileged daemons (and local(8)
    # writing as nobody) must traverse the directory.
    root = Path(tempfile.mkdtemp(prefix="maillog-sasl-e2e-"))
    root.chmod(0o755)
    return root


class Run:
    """A finished scenario: the final log, the truth, what the sinks got, and timings."""

    def __init__(self, log: Path, truth: dict, ok_received: list, leftover_pids: list,
                 seconds: float, instance):
        self.log = log
        self.truth = truth
        self.ok_received = ok_received
        self.leftover_pids = leftover_pids
        self.seconds = seconds
        self.instance = instance


@pytest.fixture(scope="module")
def postfix_run(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = _new_root()
    keep = tmp_path_factory.mktemp("postfix-run")
    started = time.monotonic()
    env = None
    try:
        env = Environment(root)
        truth = run_scenario(env.instance, env.sinks, progress=lambda msg: print(msg))
        ok_received = sink_report(env.sinks)
    finally:
        if env is not None:
            env.close()
        # Keep the log outside the instance's directory, which goes now, also on failure.
        if (root / "log" / "maillog").exists():
            shutil.copyfile(root / "log" / "maillog", keep / "maillog")
        shutil.rmtree(root, ignore_errors=True)
    leftover = env.instance.our_pids()
    seconds = time.monotonic() - started
    truth["meta"]["run_seconds"] = round(seconds, 1)
    (keep / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    if os.environ.get("MAILLOG_SASL_E2E_KEEP"):
        out = Path(os.environ["MAILLOG_SASL_E2E_KEEP"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(keep / "maillog", out / "maillog")
        shutil.copyfile(keep / "truth.json", out / "truth.json")
    print(f"postfix scenario: {seconds:.1f}s, log kept at {keep / 'maillog'}")
    yield Run(keep / "maillog", truth, ok_received, leftover, seconds, env.instance)


@pytest.fixture(scope="module")
def postfix_env():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = _new_root()
    env = Environment(root)
    try:
        yield env
    finally:
        env.close()
        shutil.rmtree(root, ignore_errors=True)
