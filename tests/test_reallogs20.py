"""Real logs of a university's relay (lograptor's test sample, SISSA, LGPL-2.1-or-later): a
login's message one recipient of which dovecot-lda delivered, and whose copy it then submitted
through sendmail, a Sieve redirect by every sign.

tests/reallogs/sissaschool-lograptor/postfix.log is the file as published (21 lines, names
made dinosaurs by its authors). 4B80DE08044 (triceratops, PLAIN, nrcpt=2, lines 10-21): one
recipient sent on to the antispam relay, the other (`orig_to=<tyrannosaurus.rex@dinos.test>`)
delivered to trex's mailbox by pipe(8) and dovecot-lda (`delivered via dovecot service`, line
16), whose pickup copy 69EADD0808B (`uid=300`, the same sender and message-id, lines 14-15,
before pipe's line) went to tyrannosaurus.rex@external.test. The tool takes that copy for the
login's mail, as a content filter's (test_pipe_filter.py): the recipient is counted where the
copy went, as for what local(8) forwarded. As in test_reallogs.py, every expected number was
counted from the lines themselves (grep), never taken from the tool's output.
"""

from test_reallogs import REAL, counted, outcomes, rows, stats

LOG = REAL / "sissaschool-lograptor" / "postfix.log"
YEAR = 2015


def test_the_file_is_read_whole(cli):
    counts = stats(cli, LOG, year=YEAR)
    # wc -l: 21 lines, every one a Postfix daemon's (grep -c ' postfix/').
    assert (counts["lines read"], counts["other programs"], counts["not syslog lines"]) == (
        21, 0, 0)
    for report in ("sessions", "queue", "failures", "ips", "timeline"):
        rows(cli, report, LOG, year=YEAR)


def test_the_login_and_the_copy_dovecot_lda_submitted(cli):
    [user] = rows(cli, "users", LOG, year=YEAR)
    assert (user["user"], user["sessions"], user["messages"], user["ips"]) == (
        "triceratops", 1, 1, 1)
    assert outcomes(user) == counted(2, sent=2)  # line 12: nrcpt=2
    messages = rows(cli, "messages", LOG, year=YEAR)
    assert sorted((row["queue_id"], row["parent_queue_id"], row["recipient"], row["status"],
                   row["relay"]) for row in messages) == [
        ("4B80DE08044", None, "brachiosaurus@external.test", "sent",
         "antispam.dinos.test[192.168.9.10]:25"),
        ("69EADD0808B", "4B80DE08044", "tyrannosaurus.rex@external.test", "sent",
         "antispam.dinos.test[192.168.9.10]:25")]
    assert {(row["client_ip"], row["sender"], row["message_id"]) for row in messages} == {
        ("192.168.4.150", "triceratops@dinos.test",
         "gondwana.LRH.2.11.1409210944216.21048@ceratops.dinos.test")}
    assert rows(cli, "queue", LOG, year=YEAR) == []
