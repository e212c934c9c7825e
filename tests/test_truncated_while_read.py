"""A log truncated in place while it is read (logrotate's copytruncate at the wrong moment):
what was read is reported, and the input's problem says it ended early.

Found by a review (2026-12-04): a 35 MB log truncated 0.8 s into a run gave a report of its
first 7,349 lines with exit status 0, and with `--jobs 2` of none, with no word of it.
"""

import os

import pytest

import maillog_sasl
from maillog_sasl import sources

from support import SAMPLE_LOGS


@pytest.mark.parametrize("jobs", [1, 2])
def test_what_was_read_stays_and_the_shrinking_is_said(tmp_path, jobs):
    log = tmp_path / "maillog"
    log.write_bytes((SAMPLE_LOGS / "maillog-sample.log").read_bytes())
    truncated = []

    def copytruncate(source, stats):
        if not truncated and stats.lines_read:
            os.truncate(log, 0)
            truncated.append(stats.lines_read)

    analysis = maillog_sasl.open_logs([str(log)], jobs=jobs, chunk_size=200_000)
    analysis.on_batch = copytruncate
    items = list(analysis)
    [problem] = analysis.problems
    assert problem.path == str(log)
    assert "while it was read: truncated in place" in problem.message
    assert truncated and truncated[0] > 0
    assert analysis.stats.lines_read >= truncated[0]
    assert items  # the sessions and messages of the lines read before


def test_a_file_that_grows_while_read_is_no_problem(tmp_path):
    log = tmp_path / "maillog"
    text = (SAMPLE_LOGS / "maillog-sample.log").read_bytes()
    log.write_bytes(text)
    source = sources.open_path(str(log))
    with open(log, "ab") as writer:
        for number, _ in enumerate(source.batches(block_size=1 << 16)):
            if number == 1:
                writer.write(text[:5000])
    assert source.problem is None
