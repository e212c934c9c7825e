"""boky/postfix's log format. The Docker image bokysan/docker-postfix (boky/postfix; SMTP AUTH
with SMTPD_SASL_USERS) logs through rsyslog's template `plain` (image_root/etc/rsyslog.conf,
MIT), its default: no host; after the RFC 3339 stamp, the severity in capitals padded to seven
characters: `2024-02-08T16:42:00.441548+00:00 INFO    postfix/relay/smtp[364]: ...`. Every line
but the warnings was "not a syslog line", and the warnings (WARNING fills the field: one space)
were read as a host's named WARNING: every login lost, the failures report's IPs never
logged in. Found by a helper's search for published Postfix logs (session 44).
"""

import re

import pytest
from test_jobs import read_canonical
from test_reallogs import rows

from maillog_sasl import parallel
from maillog_sasl.syslog import SEVERITIES, split_line

from support import written

FIXTURE = "tests/fixtures/postfix37/maillog"

# Lines of bokysan/docker-postfix issue #180 (verbatim): an INFO and a WARNING line of one run.
# expected: one tag cut from each, no host; the relay's own SASL failure is no login
ISSUE_180 = """\
2024-02-08T16:42:00.441548+00:00 INFO    postfix/relay/smtp[364]: 36F1612: SASL authentication failed; cannot authenticate to server smtp.postmarkapp.com[34.249.162.51]: no mechanism available
2024-02-08T16:42:00.444745+00:00 WARNING postfix/relay/smtp[366]: warning: SASL authentication failure: No worthy mechs found
"""
# Issue #101 (verbatim): the same format behind `docker logs -t`.
ISSUE_101 = """\
2022-03-15T20:48:15.492557979Z 2022-03-15T21:48:15.491803+01:00 INFO    postfix/smtp[322]: < smtp.gmail.com[209.85.233.108]:587: 250-smtp.gmail.com at your service, [185.65.135.169]
"""


def test_the_severity_is_no_host():
    info, warning = ISSUE_180.splitlines()
    assert split_line(info) == (
        "2024-02-08T16:42:00.441548+00:00", "localhost", "postfix/relay/smtp[364]:",
        "36F1612: SASL authentication failed; cannot authenticate to server "
        "smtp.postmarkapp.com[34.249.162.51]: no mechanism available")
    assert split_line(warning)[:3] == ("2024-02-08T16:42:00.444745+00:00", "localhost",
                                       "postfix/relay/smtp[366]:")
    assert split_line(ISSUE_101.rstrip("\n"))[:3] == (
        "2022-03-15T21:48:15.491803+01:00", "localhost", "postfix/smtp[322]:")
    for severity in SEVERITIES:
        line = f"2024-02-08T16:42:00+00:00 {severity:7} postfix/smtpd[9]: connect from x[192.0.2.1]"
        assert split_line(line) == ("2024-02-08T16:42:00+00:00", "localhost", "postfix/smtpd[9]:",
                                    "connect from x[192.0.2.1]"), severity
        # rsyslog's tag without its colon, as split_line() reads it elsewhere
        assert split_line(line.replace("[9]:", "[9]"))[2] == "postfix/smtpd[9]", severity
    # The field is seven characters: other paddings, another word, are no such line.
    assert split_line("2024-02-08T16:42:00+00:00 INFO  postfix/smtpd[9]: x") is None
    assert split_line("2024-02-08T16:42:00+00:00 INFO     postfix/smtpd[9]: x") is None
    assert split_line("2024-02-08T16:42:00+00:00 FINE    postfix/smtpd[9]: x") is None
    assert split_line("2024-02-08T16:42:00+00:00 info    postfix/smtpd[9]: x") is None
    assert split_line("2024-02-08T16:42:00+00:00 INFO    no-tag here") is None


def boky(line: str) -> str:
    """A traditional line of the fixture (Postfix 3.7.11, host `mail`) as boky/postfix's rsyslog
    writes it: its RFC 3339 stamp, the severity Postfix logged it at (msg_syslog.c: a warning
    LOG_WARNING, an error LOG_ERR, fatal and panic LOG_CRIT, the rest LOG_INFO), no host."""
    stamp, host, tag, text = split_line(line)
    month, day, time = stamp.split()
    number = "JanFebMarAprMayJunJulAugSepOctNovDec".index(month) // 3 + 1
    severity = {"warning": "WARNING", "error": "ERR", "fatal": "CRIT", "panic": "CRIT"}.get(
        text.partition(": ")[0], "INFO")
    return f"2026-{number:02d}-{int(day):02d}T{time}+00:00 {severity:7} {tag} {text}"


def without_host(value):
    if isinstance(value, list):
        return [without_host(item) for item in value]
    if isinstance(value, dict):
        return {key: without_host(item) for key, item in value.items()
                if key not in ("host", "hosts")}
    return value


@pytest.mark.parametrize("report", ["users", "sessions", "messages", "ips", "failures",
                                    "suspicious", "timeline", "queue"])
def test_every_report_of_a_real_log_in_boky_s_format(cli, tmp_path, report):
    """The end-to-end fixture rewritten in boky's format reads as it does, host aside (its
    warnings, 54 of them, are SASL failures and TLS lines of the sessions its INFO lines
    open)."""
    with open(FIXTURE, encoding="utf-8") as fixture:
        lines = fixture.read().splitlines()
    path = written(tmp_path, "".join(boky(line) + "\n" for line in lines), "boky.log")
    assert sum(" WARNING postfix/" in line for line in path.read_text().splitlines()) == 54
    expected = without_host(rows(cli, report, FIXTURE, year=2026))
    assert expected, report
    assert without_host(rows(cli, report, str(path), year=2026)) == expected


@pytest.mark.parametrize("chunk_size", [2_000, 9_000])
def test_boky_s_format_with_jobs(tmp_path, monkeypatch, chunk_size):
    with open(FIXTURE, encoding="utf-8") as fixture:
        lines = fixture.read().splitlines()
    log = written(tmp_path, "".join(boky(line) + "\n" for line in lines), "boky.log")
    monkeypatch.setattr(parallel, "BATCH_EVENTS", 4)
    one = read_canonical(log, 1, 1 << 24)
    assert one[1]["not_syslog"] == 0
    assert read_canonical(log, 2, chunk_size) == one


def test_the_failed_guesses_and_the_login_of_one_client(cli, tmp_path):
    """A SASL failure (WARNING) and the login (INFO) of one smtpd process are one session."""
    with open(FIXTURE, encoding="utf-8") as fixture:
        lines = [boky(line) for line in fixture.read().splitlines()]
    path = written(tmp_path, "".join(line + "\n" for line in lines), "boky.log")
    later = [row for row in rows(cli, "failures", str(path), year=2026) if row["later_success"]]
    assert later and all(row["success_users"] for row in later)
    assert re.search(r" WARNING postfix/\S+: warning: \S+: SASL \S+ authentication failed",
                     "\n".join(lines))


# Two boky/postfix containers on two Docker hosts, through Docker's syslog log driver into one
# log (a review's case): both smtpd processes are pid 364, as in a container they often are.
# expected: alice's session on hosta, complete; one failed guess on hostb
TWO_HOSTS = """\
Dec  5 10:00:00 hosta relay[11]: 2026-12-05T10:00:00+00:00 INFO    postfix/smtpd[364]: connect from unknown[192.0.2.10]
Dec  5 10:00:00 hostb relay[12]: 2026-12-05T10:00:00+00:00 INFO    postfix/smtpd[364]: connect from unknown[198.51.100.20]
Dec  5 10:00:01 hostb relay[12]: 2026-12-05T10:00:01+00:00 WARNING postfix/smtpd[364]: warning: unknown[198.51.100.20]: SASL LOGIN authentication failed: authentication failure
Dec  5 10:00:01 hosta relay[11]: 2026-12-05T10:00:01+00:00 INFO    postfix/smtpd[364]: 4AB12C: client=unknown[192.0.2.10], sasl_method=PLAIN, sasl_username=alice
Dec  5 10:00:02 hosta relay[11]: 2026-12-05T10:00:02+00:00 INFO    postfix/smtpd[364]: disconnect from unknown[192.0.2.10] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6
Dec  5 10:00:02 hostb relay[12]: 2026-12-05T10:00:02+00:00 INFO    postfix/smtpd[364]: disconnect from unknown[198.51.100.20] ehlo=1 auth=0/1 quit=1 commands=2/3
"""


@pytest.mark.parametrize("shape", ["log driver", "one host", "compose", "kubectl"])
def test_a_line_that_names_no_host_is_its_containers(cli, tmp_path, shape):
    """Behind a log driver's line, the host and the container that wrote it (its tag's
    program); behind `docker compose logs`' bar, the container's name; behind `kubectl logs
    --prefix`, the pod's. (The review's cases: two containers on one Docker host, and pods.)"""
    text = TWO_HOSTS
    container = {
        "one host": lambda found: f"{found[0][:16]}dockerhost relay-{found[1][-1]}[468]: ",
        "compose": lambda found: f"relay-{found[1][-1]}-1  | ",
        "kubectl": lambda found: f"[pod/relay-{found[1][-1]}/postfix] "}.get(shape)
    if container is not None:
        text = re.sub(r"^Dec  5 10:00:0[0-2] (host[ab]) relay\[1[12]\]: ", container, text,
                      flags=re.M)
    path = written(tmp_path, text, "maillog")
    hosts = {"log driver": ("hosta/relay", "hostb/relay"),
             "one host": ("dockerhost/relay-a", "dockerhost/relay-b"),
             "compose": ("relay-a-1", "relay-b-1"), "kubectl": ("relay-a", "relay-b")}[shape]
    sessions = rows(cli, "sessions", str(path), year=2026)
    assert [(row["host"], row["sasl_username"], row["failed_auth"], row["complete"])
            for row in sessions] == [(hosts[0], "alice", 0, True)]
    [failed] = rows(cli, "failures", str(path), year=2026)
    assert (failed["client_ip"], failed["attempts"], failed["sessions"]) == (
        "198.51.100.20", 1, 1)
