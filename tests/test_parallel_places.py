"""--jobs: the place of each key the parent opens while it applies a worker's piece
(chunk.apply_batch(), parallel._Placed), which decides the order of the sessions still open
at the chunk's end beside the worker's, and so the order objects are handed on in.

Logs of interleaved submission sessions whose connect, logins, failed AUTH and disconnect
fall in different chunks (sessions opened in the chunk before, lines handed back in runs,
sessions left open at a chunk's end), cut small and applied in batches of a few events: every
split gives the objects one process gives, in its order. Each of the place bookkeeping's
steps (the place of a run's first line, of every other event, the index across batches and
its start, the runs cut where the worker opened something) changed alone makes some of these
logs come out in another order; the shipped logs reach none of these cases.
"""

import datetime as dt
import random

import pytest
from test_jobs import read_canonical

from maillog_sasl import parallel


def interleaved_sessions(seed: int) -> str:
    """20-70 lines of smtpd sessions on one host, opened and closed in random order, a few
    seconds apart."""
    rng = random.Random(seed)
    when = dt.datetime(2026, 3, 2, 10, 0, 0)
    lines, open_pids, made = [], [], 0
    for _ in range(rng.randint(20, 70)):
        when += dt.timedelta(seconds=rng.randint(0, 3))
        stamp = when.strftime("%b %d %H:%M:%S")
        draw = rng.random()
        if draw < 0.4 or not open_pids:
            pid = 1000 + made
            made += 1
            open_pids.append(pid)
            text = f"connect from unknown[198.51.100.{pid % 200}]"
        elif draw < 0.8:
            pid = rng.choice(open_pids)
            queue_id = f"{0xB0000 + made:X}"
            made += 1
            text = (f"{queue_id}: client=unknown[198.51.100.{pid % 200}], sasl_method=PLAIN, "
                    f"sasl_username=u{pid % 7}@example.test")
        elif draw < 0.9:
            pid = rng.choice(open_pids)
            text = (f"warning: unknown[198.51.100.{pid % 200}]: SASL LOGIN authentication "
                    "failed: UGFzc3dvcmQ6")
        else:
            pid = open_pids.pop(rng.randrange(len(open_pids)))
            text = f"disconnect from unknown[198.51.100.{pid % 200}] ehlo=1 auth=0/1 commands=1/2"
        lines.append(f"{stamp} mail postfix/smtpd[{pid}]: {text}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(12))
def test_the_places_of_keys_opened_while_a_piece_is_applied(tmp_path, monkeypatch, seed):
    log = tmp_path / "maillog"
    log.write_text(interleaved_sessions(seed))
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)  # runs and places across batches
    one = read_canonical(log, 1, 1 << 20)
    for chunk_size in (300, 800, 1200):
        assert read_canonical(log, 3, chunk_size) == one, chunk_size
