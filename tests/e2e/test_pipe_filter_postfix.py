"""A pipe-based after-queue content filter against a real Postfix: the login's message comes
back through sendmail, postdrop and pickup under a new queue ID that no log line links to the
original, and its recipients' real outcomes are the login's.

FILTER_README's "simple content filter" (and SpamAssassin's usual `spamassassin unix - n n - -
pipe user=spamd argv=/usr/bin/spamc ... /usr/sbin/sendmail -oi -f ${sender} ${recipient}`) is
a pipe(8) service named by content_filter on submission: it reads the message on stdin and
re-injects it with Postfix's `sendmail -G -i -f ${sender} -- ${recipient}`. pipe logs the
original's recipients `status=sent (delivered via SERVICE service)`; the re-injected message
gets `pickup: NEWQID: uid=65534 from=<sender>` and the original's message-id, and its
recipients are then delivered (accepting sink), bounced (550 sink) and expired (451 sink,
after the instance's maximal_queue_lifetime of seconds).

Both orders real servers log: the filter that waits for sendmail (the usual one; pickup's line
comes before pipe's `status=sent`), and one that backgrounds the re-injection a second later
and exits 0 at once (pickup's line comes after the original's `removed`). A message the filter
refuses (exit 69, EX_UNAVAILABLE) is bounced by pipe and never re-injected.

The command runs unprivileged (pipe(8) refuses root, and refuses the postdrop group too: "user=
command-line attribute specifies mail system postdrop group id"), and Postfix's set-gid
postdrop then honours MAIL_CONFIG only for a directory that the standard main.cf lists in
alternate_config_directories, the way a host with several instances is set up. The instance
is restarted in a private mount namespace whose /etc/postfix is a copy with such a main.cf:
its processes, the filter's sendmail and postdrop among them, see it; the machine's
/etc/postfix is not touched.

The module's own instance (`postfix_env`), restarted so, changed with postconf -M/-P and reloaded.
MAILLOG_SASL_E2E_KEEP_PIPE=DIR copies the final log to DIR/maillog (how
tests/fixtures/postfix37-pipe-filter was made). Run with `pytest -m postfix tests/e2e`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_contain_postfix import ERIN, report, send_as
from test_filters_postfix import logged, outcomes, reconfigure, user_row

from e2e_instance import find_postfix, listening_ports

pytestmark = pytest.mark.postfix

CLIENT = "127.0.50.9"
# recipient -> its outcome once the filter has handed the message back, and its DSN
RECIPIENTS = {"piped@ok.test": ("sent", "2.0.0"), "piped@reject.test": ("bounced", "5.7.1"),
              "piped@tempfail.test": ("expired", "4.3.2")}
REFUSED = "virus@datareject.test"
PIPE_SERVICE = ("unix - n n - 10 pipe flags=Rq user=nobody"
                " argv={script} {mode} -f ${{sender}} -- ${{recipient}}")
# FILTER_README's simple filter, in two modes: `wait` re-injects and exits with sendmail's
# status; `background` exits 0 at once and re-injects a second later, as filters that queue
# the message for a scanner of their own do. pipe logs when the command exits, pickup when
# cleanup has given it the new queue ID: they race, and `wait` lingers a second after
# sendmail (as a filter that cleans up after itself does) so pickup's line comes first.
FILTER_SCRIPT = """\
#!/bin/sh
EX_TEMPFAIL=75
EX_UNAVAILABLE=69
mode=$1
shift
in=$(mktemp "{spool}/in.XXXXXX") || exit $EX_TEMPFAIL
cat >"$in" || {{ rm -f "$in"; exit $EX_TEMPFAIL; }}
case " $* " in
*@datareject.test" "*) echo "Message content rejected"; rm -f "$in"; exit $EX_UNAVAILABLE;;
esac
if [ "$mode" = wait ]; then
    {sendmail} -G -i "$@" <"$in"
    status=$?
    rm -f "$in"
    sleep 1
    exit $status
fi
(sleep 1; {sendmail} -G -i "$@" <"$in"; rm -f "$in") </dev/null >/dev/null 2>&1 &
exit 0
"""


def install_filter(inst) -> Path:
    """The filter script in the instance's directory, and its spool that nobody writes to."""
    spool = inst.root / "pipe-filter"
    spool.mkdir()
    shutil.chown(spool, "nobody")
    spool.chmod(0o700)
    script = inst.root / "pipe-filter.sh"
    sendmail = Path(find_postfix()).parent / "sendmail"
    script.write_text(FILTER_SCRIPT.format(spool=spool, sendmail=sendmail))
    script.chmod(0o755)
    return script


def restart_listed_in_the_default_main_cf(inst):
    """Restart the instance in a private mount namespace whose default configuration
    directory is a copy with a main.cf naming the instance in alternate_config_directories.
    Skips where util-linux's unshare is missing or the kernel refuses the namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command (util-linux) for a private mount namespace")
    default_dir = Path(inst._run(["postconf", "-d", "-h", "config_directory"]).stdout.strip())
    copy = inst.root / "default-config"
    shutil.copytree(default_dir, copy, symlinks=True)
    (copy / "main.cf").write_text(f"alternate_config_directories = {inst.etc}\n")
    ports = set(inst.ports.values())
    inst.postfix("stop")
    inst.wait_for(lambda: not ports & listening_ports(), 20, "the instance stopped")
    started = inst._run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                         'mount --bind "$1" "$2" && exec postfix -c "$3" start', "sh",
                         str(copy), str(default_dir), str(inst.etc)], check=False)
    if started.returncode != 0 and "mount" in started.stderr + started.stdout:
        pytest.skip(f"no private mount namespace here: {started.stderr.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    inst.wait_for(lambda: ports <= listening_ports(), 30, f"Postfix listening on {ports}")
    inst.master_pid = inst._read_master_pid()


def message_id(inst, queue_id) -> str:
    return re.search(rf"cleanup\[\d+\]: {queue_id}: message-id=(<[^>]*>)$", inst.log_text(),
                     re.M)[1]


def reinjected_copy(inst, original) -> str:
    """The queue ID of the message that carries `original`'s message-id back from pickup."""
    mid = re.escape(message_id(inst, original))

    def found():
        ids = re.findall(rf"cleanup\[\d+\]: (\w+): message-id={mid}$", inst.log_text(), re.M)
        return [queue_id for queue_id in ids if queue_id != original]

    [new] = inst.wait_for(found, 20, f"the re-injected copy of {original}")
    return new


def line_number(inst, pattern) -> int:
    lines = inst.log_text().splitlines()
    return next(n for n, line in enumerate(lines) if re.search(pattern, line))


def filter_through(env, mode) -> tuple:
    """Erin's message through the pipe filter in `mode`: (original queue ID, re-injected one),
    once pipe has delivered it and qmgr removed it."""
    inst = env.instance
    original = send_as(env, f"pipe-{mode}", ERIN, list(RECIPIENTS), client_ip=CLIENT)
    inst.wait_for_log(rf"{original}: to=<.*relay=pipe-{mode}, .*status=sent "
                      rf"\(delivered via pipe-{mode} service\)$", 20, count=len(RECIPIENTS))
    inst.wait_for_log(rf"{original}: removed$", 20)
    return original, reinjected_copy(inst, original)


def maillog_sasl(inst, *args) -> str:
    proc = subprocess.run([sys.executable, "-m", "maillog_sasl", *args, str(inst.maillog)],
                          env=inst.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class PipeRun:
    """The finished scenario: the original queue IDs -> the re-injected ones, the refused
    message's, and erin's queue report rows while the re-injected mail waited."""

    def __init__(self, reinjected: dict, refused: str, waiting: list):
        self.reinjected = reinjected
        self.refused = refused
        self.waiting = waiting


@pytest.fixture(scope="module")
def pipe_run(postfix_env):
    inst = postfix_env.instance
    restart_listed_in_the_default_main_cf(inst)
    script = install_filter(inst)
    submission = f"127.0.0.1:{inst.ports['submission']}/inet"
    reconfigure(inst, *[["-M", f"pipe-{mode}/unix=pipe-{mode} "
                               + PIPE_SERVICE.format(script=script, mode=mode)]
                        for mode in ("wait", "background")],
                ["-P", f"{submission}/content_filter=pipe-wait:dummy"])
    try:
        waited = filter_through(postfix_env, "wait")
        reconfigure(inst, ["-P", f"{submission}/content_filter=pipe-background:dummy"])
        backgrounded = filter_through(postfix_env, "background")
        refused = send_as(postfix_env, "pipe-refused", ERIN, [REFUSED], client_ip=CLIENT)
        inst.wait_for_log(rf"{refused}: to=<{REFUSED}>, .*status=bounced ", 20)
        reinjected = dict([waited, backgrounded])
        for new in reinjected.values():
            inst.wait_for_log(rf"{new}: to=<piped@tempfail.test>.* status=deferred ", 20)
        waiting = [row for row in report(postfix_env, "queue") if row["user"] == ERIN]
        for new in reinjected.values():
            inst.wait_for_log(rf"{new}: from=<.*status=expired, returned to sender", 60)
            inst.wait_for_log(rf"{new}: removed$", 20)
    finally:
        # Also when the scenario fails: the log says why.
        if os.environ.get("MAILLOG_SASL_E2E_KEEP_PIPE"):
            keep = Path(os.environ["MAILLOG_SASL_E2E_KEEP_PIPE"])
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(inst.maillog, keep / "maillog")
    print(logged(inst, refused, *reinjected, *reinjected.values()))
    return PipeRun(reinjected, refused, waiting)


def test_the_filter_reinjects_through_pickup_before_and_after_the_originals_end(postfix_env,
                                                                                pipe_run):
    inst = postfix_env.instance
    for original, new in pipe_run.reinjected.items():
        assert re.search(rf"pickup\[\d+\]: {new}: uid=65534 from=<{re.escape(ERIN)}>$",
                         inst.log_text(), re.M)
        assert message_id(inst, new) == message_id(inst, original)
    (waited, waited_new), (backgrounded, backgrounded_new) = pipe_run.reinjected.items()
    # The waiting filter: pickup's line before pipe's; the backgrounding one: after `removed`.
    assert (line_number(inst, rf"pickup\[\d+\]: {waited_new}: ")
            < line_number(inst, rf"pipe\[\d+\]: {waited}: to=<.*status=sent "))
    assert (line_number(inst, rf"qmgr\[\d+\]: {backgrounded}: removed$")
            < line_number(inst, rf"pickup\[\d+\]: {backgrounded_new}: "))


def test_the_queue_report_names_the_reinjected_mail_while_it_waits(pipe_run):
    assert sorted((row["queue_id"], row["kind"], row["parent_queue_id"],
                   row["pending_recipients"]) for row in pipe_run.waiting) == sorted(
        (new, "reinjected", original, 1) for original, new in pipe_run.reinjected.items())


def test_the_reinjected_recipients_are_the_logins_once_with_their_real_outcomes(postfix_env,
                                                                                pipe_run):
    inst = postfix_env.instance
    refused = pipe_run.refused
    refusal = re.search(rf"{refused}: to=<{REFUSED}>, .*dsn=(\d\.\d+\.\d+), status=bounced ",
                        inst.log_text())[1]
    assert outcomes(postfix_env, ERIN) == sorted(
        [(new, CLIENT, recipient, status, dsn) for new in pipe_run.reinjected.values()
         for recipient, (status, dsn) in RECIPIENTS.items()]
        + [(refused, CLIENT, REFUSED, "bounced", refusal)])
    row = user_row(postfix_env, ERIN)
    assert (row["sessions"], row["messages"], row["recipients"], row["sent"], row["bounced"],
            row["expired"], row["deferred"], row["ips"]) == (3, 3, 7, 2, 3, 2, 0, 1)
    assert not [row for row in report(postfix_env, "queue") if row["user"] == ERIN]


def test_two_jobs_report_the_pipe_filters_log_as_one_does(postfix_env, pipe_run):
    inst = postfix_env.instance
    for name in ("users", "messages", "sessions", "queue"):
        assert (maillog_sasl(inst, "--report", name, "--format", "csv", "--jobs", "2")
                == maillog_sasl(inst, "--report", name, "--format", "csv", "--jobs", "1"))
