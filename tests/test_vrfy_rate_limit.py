"""anvil's recipient limit refusing a VRFY is no refused message attempt.

smtpd's vrfy_cmd() checks smtpd_client_recipient_rate_limit as rcpt_cmd() does, with the same
reply (`450 4.7.1 Error: too many recipients from IP`) and the same warning, `Recipient address
rate limit exceeded: N from NAME[IP] for service S`: no word of the line names the command
(smtpd.c; the lines below are Postfix 3.x's, tests/e2e/test_auth_rate_limit_postfix.py). Each
warning was read as a refused RCPT: a logged-in client's VRFYs over the limit counted as refused
recipients in the sessions, users and messages reports. The session's disconnect counters tell
them: the warnings beyond its failed RCPTs that no other line names (`rcpt=0/1 vrfy=2/3`, two
warnings) were VRFYs', as many as VRFY failed at most.
"""

import pytest

from support import written

TIMES = ("--year", "2026")

# erin logs in, VRFYs three addresses (smtpd_client_recipient_rate_limit = 2 refuses the
# third), then her RCPT is refused by the same limit: one refused recipient, not two.
VRFY_THEN_RCPT = """\
Dec  7 10:04:41 mail postfix/submission/smtpd[4097]: connect from unknown[198.51.100.20]
Dec  7 10:04:41 mail postfix/submission/smtpd[4097]: Anonymous TLS connection established from unknown[198.51.100.20]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Dec  7 10:04:42 mail postfix/submission/smtpd[4097]: warning: Recipient address rate limit exceeded: 3 from unknown[198.51.100.20] for service submission
Dec  7 10:04:43 mail postfix/submission/smtpd[4097]: warning: Recipient address rate limit exceeded: 4 from unknown[198.51.100.20] for service submission
Dec  7 10:04:43 mail postfix/submission/smtpd[4097]: disconnect from unknown[198.51.100.20] ehlo=2 starttls=1 auth=1 mail=1 rcpt=0/1 vrfy=2/3 quit=1 commands=8/10
"""


def refused(report, path):
    [session] = report("sessions", path, *TIMES)
    [user] = report("users", path, *TIMES)
    rows = [(row["queue_id"], row["recipient"], row["reason"])
            for row in report("messages", path, *TIMES) if row["status"] == "rejected"]
    return session["rejected"], user["rejected"], rows


def test_a_vrfy_refused_by_the_recipient_limit_is_no_refused_recipient(tmp_path, report):
    path = written(tmp_path, VRFY_THEN_RCPT)
    assert refused(report, path) == (1, 1, [
        ("NOQUEUE", "", "450 4.7.1 Error: too many recipients from 198.51.100.20")])


def test_vrfys_alone_are_no_refusal(tmp_path, report):
    """A session that gave no RCPT (no `rcpt=`): every warning a VRFY's."""
    path = written(tmp_path, VRFY_THEN_RCPT.replace("mail=1 rcpt=0/1 vrfy=2/3", "vrfy=2/4")
                   .replace("commands=8/10", "commands=7/9"))
    assert refused(report, path) == (0, 0, [])


def test_a_recipient_refused_by_its_own_line_leaves_the_warning_a_vrfy_s(tmp_path, report):
    path = written(tmp_path, VRFY_THEN_RCPT.replace(
        "Dec  7 10:04:43 mail postfix/submission/smtpd[4097]: warning: Recipient address rate "
        "limit exceeded: 4 from unknown[198.51.100.20] for service submission",
        "Dec  7 10:04:43 mail postfix/submission/smtpd[4097]: NOQUEUE: reject: RCPT from "
        "unknown[198.51.100.20]: 554 5.7.1 <x@example.org>: Relay access denied; "
        "from=<erin@example.com> to=<x@example.org> proto=ESMTP helo=<pc> "
        "sasl_method=PLAIN sasl_username=erin@example.com"))
    assert refused(report, path) == (1, 1, [
        ("NOQUEUE", "x@example.org", "554 5.7.1 <x@example.org>: Relay access denied")])


@pytest.mark.parametrize("counters", [
    "mail=1 rcpt=0/2 quit=1 commands=6/8",  # no VRFY: both RCPTs'
    "mail=1 rcpt=0/2 vrfy=1/2 quit=1 commands=7/10",  # two failed RCPTs: no warning left over
])
def test_warnings_the_counters_give_to_rcpt_stay_refused_recipients(tmp_path, report,
                                                                    counters):
    path = written(tmp_path, VRFY_THEN_RCPT.replace(
        "mail=1 rcpt=0/1 vrfy=2/3 quit=1 commands=8/10", counters))
    assert refused(report, path)[:2] == (2, 2)
