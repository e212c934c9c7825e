"""`maillog-sasl watch --contain hold` against a real Postfix (issue 14): an account whose alert
reaches critical has its queued messages put on hold, and nobody else's.

The private instance of the `postfix_env` fixture (conftest.py) gets four authenticated
messages from erin to the 451 sink, all deferred, and one from bob. With
limits lowered to what a test can send (more than 3 recipients in an hour: burst; 4 or more
recipients, half of them failed: failing), erin has two strong signals, critical; bob has none.
`watch --once --contain hold`, as root (it acts: no dry run), must raise erin's alert, then the
`contained` alert saying what it did, and `postqueue -j` must show erin's messages on hold and
bob's not. Run with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_contain_postfix import send_deferred

pytestmark = pytest.mark.postfix

ERIN = "erin@harness.test"
BOB = "bob@harness.test"


def test_watch_contain_hold_holds_the_critical_accounts_queue(postfix_env, tmp_path):
    inst = postfix_env.instance
    erin = [send_deferred(postfix_env, ERIN, f"erin-{number}@tempfail.test")
            for number in range(4)]
    bob = send_deferred(postfix_env, BOB, "bob-friend@tempfail.test")

    proc = subprocess.run(
        [sys.executable, "-m", "maillog_sasl", "watch", "--once", "--no-geoip",
         "--state", str(tmp_path / "state.sqlite"), "--contain", "hold",
         "--config-dir", str(inst.etc), "--max-hourly-recipients", "3", "--failed-min", "4",
         str(inst.maillog)],
        env=inst.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(alert["user"], alert["severity"], alert["signals"]) for alert in alerts] == [
        (ERIN, "critical", ["burst", "failing"]), (ERIN, "critical", ["contained"])]
    assert sorted(alerts[0]["queue_ids"]) == sorted(erin)
    contained = alerts[1]
    assert (contained["dry_run"], contained["failed"]) == (False, False)
    assert contained["reasons"] == ["contained: put 4 queued messages on hold (postsuper -h)"]
    assert any(f"postsuper -c {inst.etc} -h -" in action for action in contained["actions"])

    names = {entry["queue_id"]: entry["queue_name"] for entry in inst.queue()}
    assert [names[queue_id] for queue_id in erin] == ["hold"] * 4
    assert names[bob] != "hold"
    for queue_id in erin:
        inst.wait_for_log(rf"postsuper\[\d+\]: {queue_id}: placed on hold", 10)
