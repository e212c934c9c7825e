"""Postfix's lines behind a container log driver's prefix whose clock is not Postfix's.

Seen in nodovip-com/maillogreader's `dummy_mail.log` (a Mailu server's log as its host's rsyslog
got it through Docker's syslog log driver; no licence, not copied): each container's line is
behind the host's own stamp, host and the driver's tag, and Postfix's line there has its own
stamp, eight hours behind the host's (`Dec 15 13:15:02 srv mailu-smtp[4062297]: Dec 15 05:15:02
srv postfix/qmgr[376]: D912210E50D7: removed`): the containers keep another zone than the host.
The tool reads the inner line's stamp as the line's time, but it moved its host's clock (whose
ten-minute slots close the sessions left idle an hour) by the outer stamp, and by the other
containers' lines, and timed the input's first and last lines by it. A login whose session
crossed a ten-minute slot was closed idle seven seconds after it began, its disconnect made a
second session of an unknown user (`2 authenticated sessions`, both incomplete). The lines below
are this project's, in that shape; every expected value is read from them.
"""

import re

import pytest
from test_reallogs import rows, stats

from support import written

YEAR = 2025
INNER = """\
Dec 15 05:29:50 srv postfix/smtpd[500]: connect from unknown[192.0.2.7]
Dec 15 05:29:55 srv postfix/smtpd[500]: 1A2B3C4D5E: client=unknown[192.0.2.7], \
sasl_method=PLAIN, sasl_username=alice@example.com
Dec 15 05:30:01 srv postfix/cleanup[501]: 1A2B3C4D5E: message-id=<x@example.com>
Dec 15 05:30:01 srv postfix/qmgr[376]: 1A2B3C4D5E: from=<alice@example.com>, size=528, \
nrcpt=1 (queue active)
Dec 15 05:30:01 srv INFO:root:Connect
Dec 15 05:30:02 srv postfix/smtpd[500]: disconnect from unknown[192.0.2.7] ehlo=1 auth=1 \
mail=1 rcpt=1 data=1 quit=1 commands=6
Dec 15 05:30:03 srv postfix/smtp[502]: 1A2B3C4D5E: to=<r@example.net>, \
relay=mx.example.net[198.51.100.9]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 ok)
Dec 15 05:30:03 srv postfix/qmgr[376]: 1A2B3C4D5E: removed
"""


def driven(text, hours):
    """`text` behind the log driver's prefix, stamped `hours` after each line's own stamp (the
    container's own line without a stamp, as Mailu's `INFO:root:Connect`, as it is)."""
    def line(found):
        outer = f"Dec 15 {int(found[1]) + hours:02d}:{found[2]} srv mailu-smtp[4062297]: "
        return outer + (found[3] if found[3].startswith("INFO:") else found[0])
    return re.sub(r"^Dec 15 (\d\d):(\d\d:\d\d) srv (.*)$", line, text, flags=re.M)


@pytest.mark.parametrize("hours", [8, -5, 0], ids=["prefix ahead", "prefix behind", "same"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_session_is_timed_by_postfixs_own_stamps_whatever_the_prefix_says(
        cli, tmp_path, hours, jobs):
    path = written(tmp_path, driven(INNER, hours), "maillog")
    [session] = rows(cli, "sessions", "--jobs", jobs, str(path), year=YEAR)
    assert (session["sasl_username"], session["start"], session["end"], session["complete"],
            session["messages"]) == ("alice@example.com", "2025-12-15T05:29:50+00:00",
                                     "2025-12-15T05:30:02+00:00", True, 1)
    [message] = rows(cli, "messages", "--jobs", jobs, str(path), year=YEAR)
    assert (message["sasl_username"], message["status"]) == ("alice@example.com", "sent")
    counted = stats(cli, "--jobs", jobs, str(path), year=YEAR)
    assert (counted["sessions closed idle"], counted["sessions incomplete"]) == (0, 0)


@pytest.mark.parametrize("hours", [8, -5], ids=["prefix ahead", "prefix behind"])
def test_every_report_reads_the_driven_log_as_postfixs_own(cli, tmp_path, hours):
    """As the same lines without the driver's prefix, but for the period in the summary, which
    counts each line by the stamp it is read by: the container's own line by the prefix's."""
    plain = written(tmp_path, INNER, "plain")
    path = written(tmp_path, driven(INNER, hours), "maillog")
    for report in ("users", "sessions", "messages", "failures", "ips", "timeline", "queue"):
        for form in ("table", "json"):
            outputs = [cli("--report", report, "--format", form, "--tz", "UTC", "--year",
                           str(YEAR), str(log)).out for log in (plain, path)]
            plain_out, driven_out = (re.sub(r"^[-0-9 :.]+\(UTC\); ", "", out)
                                     for out in outputs)
            assert driven_out == plain_out, (report, form)
    table = cli("--report", "sessions", "--tz", "UTC", "--year", str(YEAR), str(path)).out
    edges = ("05:29:50", "13:30:01") if hours > 0 else ("00:30:01", "05:30:03")
    assert table.startswith("2025-12-15 {} .. 2025-12-15 {} (UTC);".format(*edges))
