"""`postsuper -r` against a real Postfix: a requeued message is reported under its new queue ID.

An authenticated message to two recipients, one accepted (sent) and one refused with 451
(deferred), is requeued with `postsuper -r`: postsuper moves its queue file to the maildrop
(`QID: requeued`) and pickup reads it into a new one (`NEWQID: uid=... from=<...>
orig_id=QID`), whose recipient is deferred again. The queue report must name NEWQID (kind
requeued) and not QID, which is gone from the queue (`postqueue -j` says so), and the messages
report must count each recipient once. The module's own instance (`postfix_env`). Run with
`pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import re

import pytest
from test_contain_postfix import ERIN, report, send_as

pytestmark = pytest.mark.postfix


def test_a_message_requeued_by_postsuper_is_reported_under_its_new_queue_id(postfix_env):
    inst = postfix_env.instance
    old = send_as(postfix_env, "requeue", ERIN, ["requeue1@ok.test", "requeue2@tempfail.test"])
    inst.wait_for_log(rf"{old}: to=<requeue2@tempfail.test>.*status=deferred", 20)
    inst.wait_for_log(rf"{old}: to=<requeue1@ok.test>.*status=sent", 20)
    inst._run(["postsuper", "-c", str(inst.etc), "-r", old])
    inst.wait_for_log(rf"postsuper\[\d+\]: {old}: requeued", 10)
    # pickup wakes up every 60 seconds, or when kicked (as postdrop kicks it).
    inst._run(["postkick", "-c", str(inst.etc), "public", "pickup", "W"], check=False)
    inst.wait_for_log(rf"pickup\[\d+\]: \w+: uid=\d+ from=<{re.escape(ERIN)}> orig_id={old}$",
                      70)
    new = re.search(rf"pickup\[\d+\]: (\w+): uid=\d+ from=<[^>]*> orig_id={old}$",
                    inst.log_text(), re.M)[1]
    inst.wait_for_log(rf"{new}: to=<requeue2@tempfail.test>.*status=deferred", 20)
    print("".join(line for line in inst.log_text().splitlines(keepends=True)
                  if old in line or new in line))
    assert {entry["queue_id"] for entry in inst.queue()} >= {new}
    assert old not in {entry["queue_id"] for entry in inst.queue()}

    queued = [row for row in report(postfix_env, "queue") if row["user"] == ERIN]
    assert [(row["queue_id"], row["kind"], row["parent_queue_id"], row["pending_recipients"])
            for row in queued] == [(new, "requeued", old, 1)]
    rows = [(row["queue_id"], row["recipient"], row["status"])
            for row in report(postfix_env, "messages") if row["sasl_username"] == ERIN]
    assert rows == [(old, "requeue1@ok.test", "sent"), (new, "requeue2@tempfail.test", "deferred")]
