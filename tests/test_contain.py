"""`maillog-sasl contain`: the dry run's exact output, the marked block of the check_sasl_access
table (added, added again, released, the rest of the file untouched byte for byte, written
atomically with its mode and owner, a new one 0644), and Postfix's commands as fakes on PATH that
record their argv and standard input: postsuper gets the user's queue IDs on stdin, postmap the
table, postconf answers from a dict; on a host of two Postfix instances, each instance's IDs go
to its own postsuper (postmulti -i NAME -x) and its own main.cf is read.
Every failure is one line on stderr and exit 2; a USER that could not be a table key is refused
before anything runs."""

import configparser
import errno
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_instances import LOG

from maillog_sasl import contain
from maillog_sasl.contain import BEGIN, BLOCK_NOTE, END, REJECT, ContainError, edit_block

from maillog_writer import MailLog, at
from support import tamper

USER = "bad@example.jp"
LINE = f"{USER} {REJECT}"

FAKE = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    name = os.path.basename(__file__)
    with open(os.path.join(here, "calls.jsonl"), "a") as log:
        log.write(json.dumps({{"argv": [name] + sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
    with open(os.path.join(here, "behaviour.json")) as f:
        behaviour = json.load(f)
    args = sys.argv[1:]
    if args[:1] == ["-c"]:
        args = args[2:]
    config = behaviour
    if name == "postmulti":  # -i NAME -x COMMAND ARGS: COMMAND with the instance's main.cf
        config = behaviour["instances"].get(args[args.index("-i") + 1], {{}})
        name, args = args[args.index("-x") + 1], args[args.index("-x") + 2:]
    if name == "postconf" and "-P" in args:
        print("\\n".join(config.get("master.cf", [])))
    elif name == "postconf":
        for param in args[args.index("-h") + 1:]:
            print(config.get("main.cf", {{}}).get(
                param, "hash" if param == "default_database_type" else ""))
    mine = behaviour.get(name, {{}})
    if mine.get("sleep"):
        import time
        time.sleep(mine["sleep"])
    sys.stdout.write(mine.get("out", ""))
    sys.stderr.write(mine.get("err", ""))
    sys.exit(mine.get("exit", 0))
    """)


class Fakes:
    """postsuper, postmap, postconf and postmulti in a directory first on PATH (and nothing in
    /usr/sbin); postmulti -i NAME -x runs the others with instance NAME's main.cf."""

    def __init__(self, directory):
        self.bin = directory
        self.behaviour = {"main.cf": {}, "master.cf": [], "instances": {}}
        for name in ("postsuper", "postmap", "postconf", "postmulti"):
            path = directory / name
            path.write_text(FAKE.format(python=sys.executable))
            path.chmod(0o755)
        self.save()

    def save(self):
        (self.bin / "behaviour.json").write_text(json.dumps(self.behaviour))

    def set(self, name, **values):
        self.behaviour[name] = values
        self.save()

    def main_cf(self, instance=None, **values):
        where = (self.behaviour if instance is None
                 else self.behaviour["instances"].setdefault(instance, {}))
        where["main.cf"] = values
        self.save()

    def calls(self, name=None):
        path = self.bin / "calls.jsonl"
        calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [call for call in calls if name is None or call["argv"][0] == name]

    def changing_calls(self):
        return [call for call in self.calls() if "postconf" not in
                (call["argv"][0], call["argv"][4] if call["argv"][0] == "postmulti" else None)]


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setattr(contain, "SBIN_DIRS", ())
    return Fakes(directory)


@pytest.fixture
def table(tmp_path):
    """A check_sasl_access table with lines of the administrator's own."""
    directory = tmp_path / "postfix"
    directory.mkdir()
    path = directory / "sasl_access"
    path.write_text("# mine\nold@example.jp REJECT gone\nshared@example.jp OK\n")
    return path


@pytest.fixture
def queued(tmp_path):
    """A log where USER left three messages in the queue (one logged in as USER in upper case,
    which Postfix takes for the same login), and others left theirs."""
    log = MailLog()
    first = log.login(USER, "203.0.113.5", at(0, 9), outcome="deferred", to=2)
    log.login("good@example.jp", "198.51.100.7", at(0, 10), outcome="deferred")
    log.login(USER, "203.0.113.5", at(0, 11), outcome="sent")
    second = log.login(USER, "203.0.113.9", at(0, 12), outcome="deferred")
    third = log.login(USER.upper(), "203.0.113.9", at(0, 13), outcome="deferred")
    log.login("bad@example.jp.evil", "203.0.113.9", at(0, 14), outcome="deferred")
    path = log.write(tmp_path / "maillog")
    return path, [first, second, third]


def run(cli, *args):
    return cli("contain", *args)


def one_line(result):
    assert result.code == 2, result.out
    assert result.err.count("\n") == 1 and result.err.startswith("maillog-sasl contain: "), result.err
    return result.err


# -- the dry run ---------------------------------------------------------------------------------

def test_dry_run_prints_the_commands_and_the_map_change_and_changes_nothing(cli, fakes, table,
                                                                             queued):
    log, (first, second, third) = queued
    fakes.main_cf(smtpd_sender_restrictions="reject_non_fqdn_sender")
    before = table.read_bytes()
    result = run(cli, USER, log, "--hold", "--reject", "--sasl-access", table, "--dry-run")
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out == textwrap.dedent(f"""\
        # dry run: nothing is changed; these are the commands and the map change
        printf '%s\\n' {first} {second} {third} | postsuper -h -
        --- {table}
        +++ {table}
        @@ -3,0 +4,5 @@
        +
        +{BEGIN}
        +{BLOCK_NOTE}
        +{LINE}
        +{END}
        postmap hash:{table}
        # main.cf: no smtpd_sender_restrictions or smtpd_recipient_restrictions applies check_sasl_access hash:{table}, so the table refuses nobody; add this line to main.cf, then run `postfix reload`:
        #     smtpd_sender_restrictions = check_sasl_access hash:{table}, reject_non_fqdn_sender
        """)
    assert table.read_bytes() == before
    assert fakes.changing_calls() == []
    assert sorted(os.listdir(table.parent)) == ["sasl_access"]


def test_not_root_is_a_dry_run(cli, fakes, table, queued, monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: False)
    log, _ = queued
    result = run(cli, USER, log, "--hold", "--reject", "--sasl-access", table)
    assert result.code == 0, result.err
    assert result.out.startswith("# not root: a dry run (--apply acts anyway)\n# dry run: ")
    assert fakes.changing_calls() == []
    assert LINE not in table.read_text()


def test_root_acts_without_apply(cli, fakes, table, queued, monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: True)
    result = run(cli, USER, "--reject", "--sasl-access", table)
    assert result.code == 0, result.err
    assert "dry run" not in result.out
    assert LINE in table.read_text()


def test_dry_run_without_postfix_says_so_and_succeeds(cli, fakes, table, queued):
    for name in ("postsuper", "postmap", "postconf"):
        (fakes.bin / name).unlink()
    log, _ = queued
    result = run(cli, USER, log, "--hold", "--reject", "--sasl-access", table, "--dry-run")
    assert result.code == 0, result.err
    assert "# note: postsuper: command not found" in result.out
    assert "# note: postmap: command not found" in result.out
    assert "# main.cf could not be read (postconf failed): type hash assumed" in result.out


# -- holding the queue ---------------------------------------------------------------------------

def test_hold_gives_exactly_the_users_queue_ids_to_postsuper_on_stdin(cli, fakes, queued):
    log, ids = queued
    fakes.set("postsuper", err="postsuper: Placed on hold: 2 messages\n")
    result = run(cli, USER, log, "--hold", "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == [{"argv": ["postsuper", "-h", "-"],
                                       "stdin": "".join(f"{qid}\n" for qid in ids)}]
    assert result.out == (f"printf '%s\\n' {' '.join(ids)} | postsuper -h -\n"
                          "postsuper: Placed on hold: 2 messages\n")


def test_release_gives_them_to_postsuper_minus_capital_h_and_removes_the_line(cli, fakes, table,
                                                                                queued):
    log, ids = queued
    assert run(cli, USER, "--reject", "--sasl-access", table, "--apply").code == 0
    result = run(cli, "--release", USER, log, "--sasl-access", table, "--apply")
    assert result.code == 0, result.err
    calls = fakes.changing_calls()
    assert calls[-2] == {"argv": ["postsuper", "-H", "-"],
                         "stdin": "".join(f"{qid}\n" for qid in ids)}
    assert calls[-1]["argv"] == ["postmap", f"hash:{table}"]
    assert LINE not in table.read_text()
    assert f"-{LINE}\n" in result.out


def test_nothing_queued_is_said_and_nothing_run(cli, fakes, tmp_path):
    log = MailLog()
    log.login(USER, "203.0.113.5", at(0, 9), outcome="sent")
    result = run(cli, USER, log.write(tmp_path / "maillog"), "--hold", "--apply")
    assert result.code == 0, result.err
    assert result.out == f"# no queued message of {USER} in the logs: nothing to hold\n"
    assert fakes.changing_calls() == []


def test_several_hosts_need_host(cli, fakes, tmp_path):
    logs = []
    for host in ("mx1", "mx2"):
        log = MailLog(host=host)
        log.login(USER, "203.0.113.5", at(0, 9), outcome="deferred")
        logs.append(log.write(tmp_path / f"{host}.log"))
    assert "on several hosts (mx1, mx2): name this one with --host" in one_line(
        run(cli, USER, *logs, "--hold", "--apply"))
    assert fakes.changing_calls() == []
    result = run(cli, USER, *logs, "--hold", "--apply", "--host", "mx2")
    assert result.code == 0, result.err
    assert len(fakes.calls("postsuper")[0]["stdin"].split()) == 1


def test_an_unreadable_log_is_one_line_and_exit_2_after_holding_the_rest(cli, fakes, queued,
                                                                         tmp_path):
    log, ids = queued
    result = run(cli, USER, log, tmp_path / "missing", "--hold", "--apply")
    assert "missing" in one_line(result)
    assert fakes.calls("postsuper")[0]["stdin"].split() == ids


def test_config_dir_goes_to_every_command_and_holds_the_default_table(cli, fakes, queued,
                                                                      tmp_path):
    log, _ = queued
    config = tmp_path / "etc"
    config.mkdir()
    result = run(cli, USER, log, "--hold", "--reject", "--config-dir", config, "--apply")
    assert result.code == 0, result.err
    assert all(call["argv"][1:3] == ["-c", str(config)] for call in fakes.calls())
    assert [call["argv"][3:] for call in fakes.changing_calls()] == [
        ["-h", "-"], [f"hash:{config}/sasl_access"]]
    assert LINE in (config / "sasl_access").read_text()


# -- the table -----------------------------------------------------------------------------------

def test_reject_adds_the_block_and_runs_postmap(cli, fakes, table):
    fakes.main_cf(smtpd_sender_restrictions=f"check_sasl_access hash:{table}")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert result.code == 0, result.err
    assert table.read_text() == ("# mine\nold@example.jp REJECT gone\nshared@example.jp OK\n\n"
                                 f"{BEGIN}\n{BLOCK_NOTE}\n{LINE}\n{END}\n")
    assert fakes.changing_calls() == [{"argv": ["postmap", f"hash:{table}"], "stdin": ""}]
    assert "main.cf" not in result.out  # the table is in use: no hint


def test_adding_twice_changes_nothing(cli, fakes, table):
    assert run(cli, USER, "--reject", "--sasl-access", table, "--apply").code == 0
    first = table.read_bytes()
    inode = table.stat().st_ino
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert result.code == 0
    assert f"# {table}: {USER} already has {REJECT}: no change\n" in result.out
    assert table.read_bytes() == first and table.stat().st_ino == inode


def test_hold_logins_replaces_reject_in_the_block(cli, fakes, table):
    run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    run(cli, "other@example.jp", "--reject", "--sasl-access", table, "--apply")
    assert run(cli, USER, "--hold-logins", "--sasl-access", table, "--apply").code == 0
    text = table.read_text()
    assert LINE not in text
    assert text.endswith(f"other@example.jp {REJECT}\n{USER} {contain.HOLD}\n{END}\n")


def test_lines_outside_the_block_are_never_touched():
    outside_before = "a@x OK\r\n# comment\n\n  continued line\nb@x\tREJECT no\n"
    outside_after = "\f\nz@x DUNNO"   # a form feed, no final newline
    text = f"{outside_before}{BEGIN}\nkept@x REJECT\n{END}\n{outside_after}"
    added = edit_block(text, USER, REJECT)
    assert added == f"{outside_before}{BEGIN}\nkept@x REJECT\n{LINE}\n{END}\n{outside_after}\n"
    removed = edit_block(added, USER, None)
    assert removed == f"{outside_before}{BEGIN}\nkept@x REJECT\n{END}\n{outside_after}\n"
    assert edit_block(removed, "kept@x", None) == f"{outside_before}{BEGIN}\n{END}\n{outside_after}\n"


def test_the_users_key_is_matched_as_postmap_folds_it():
    text = edit_block("", USER, REJECT)
    assert edit_block(text, USER.upper(), None) == f"{BEGIN}\n{BLOCK_NOTE}\n{END}\n"


def test_a_new_file_gets_the_block_alone_with_mode_0644(cli, fakes, tmp_path):
    """0644 whatever the umask (a root shell's 077): postmap must read it."""
    path = tmp_path / "new_access"
    old = os.umask(0o077)
    try:
        assert run(cli, USER, "--reject", "--sasl-access", path, "--apply").code == 0
    finally:
        os.umask(old)
    assert path.read_text() == f"{BEGIN}\n{BLOCK_NOTE}\n{LINE}\n{END}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_write_is_atomic_and_keeps_the_mode(cli, fakes, table):
    table.chmod(0o640)
    inode = table.stat().st_ino
    assert run(cli, USER, "--reject", "--sasl-access", table, "--apply").code == 0
    assert sorted(os.listdir(table.parent)) == ["sasl_access"], "a temporary file was left"
    assert table.stat().st_ino != inode, "not replaced by a rename"
    assert stat.S_IMODE(table.stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_the_write_keeps_the_owner(cli, fakes, table):
    os.chown(table, 65534, 65534)
    assert run(cli, USER, "--reject", "--sasl-access", table, "--apply").code == 0
    assert (table.stat().st_uid, table.stat().st_gid) == (65534, 65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_a_table_whose_owner_cannot_be_kept_is_not_replaced(cli, fakes, table, monkeypatch):
    """Root squashed on NFS: the table is not handed to root, and postmap does not run."""
    os.chown(table, 65534, 65534)
    before = table.read_bytes()

    def refused(descriptor, uid, gid):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refused)
    assert one_line(run(cli, USER, "--reject", "--sasl-access", table, "--apply")) == (
        f"maillog-sasl contain: {table}: cannot write in {table.parent}: Operation not "
        "permitted (giving it the owner 65534:65534 of the file it replaces)\n")
    assert table.read_bytes() == before and sorted(os.listdir(table.parent)) == ["sasl_access"]
    assert fakes.changing_calls() == []


def test_the_administrators_bytes_are_kept(cli, fakes, table):
    """Lines in Latin-1 and CRLF line ends, outside the block, are written back as they were."""
    theirs = b"caf\xe9@example.jp REJECT\r\nold@example.jp OK\n"
    table.write_bytes(theirs)
    assert run(cli, USER, "--reject", "--sasl-access", table, "--apply").code == 0
    assert table.read_bytes() == theirs + f"\n{BEGIN}\n{BLOCK_NOTE}\n{LINE}\n{END}\n".encode()


def test_a_symbolic_link_is_followed(cli, fakes, table, tmp_path):
    link = tmp_path / "link_access"
    link.symlink_to(table)
    assert run(cli, USER, "--reject", "--sasl-access", link, "--apply").code == 0
    assert link.is_symlink() and LINE in table.read_text()


def test_release_of_a_user_without_a_line_changes_nothing(cli, fakes, table):
    before = table.read_bytes()
    result = run(cli, "--release", USER, "--sasl-access", table, "--apply")
    assert result.code == 0, result.err
    assert f"# {table}: {USER} already has no entry: no change\n" in result.out
    assert table.read_bytes() == before


def test_release_without_a_table_runs_nothing(cli, fakes, tmp_path):
    result = run(cli, "--release", USER, "--sasl-access", tmp_path / "none", "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == []


def test_an_entry_of_the_user_outside_the_block_is_left_to_the_administrator(cli, fakes, table):
    before = table.read_text()
    err = one_line(run(cli, "old@example.jp", "--reject", "--sasl-access", table, "--apply"))
    assert f"{table}:2: old@example.jp already has an entry outside the block" in err
    assert table.read_text() == before and fakes.changing_calls() == []


@pytest.mark.parametrize("damage", [f"{BEGIN}\n", f"{END}\n{BEGIN}\n",
                                    f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n"])
def test_a_damaged_block_is_refused(cli, fakes, table, damage):
    table.write_text("a@x OK\n" + damage)
    assert "block is damaged" in one_line(
        run(cli, USER, "--reject", "--sasl-access", table, "--apply"))
    assert table.read_text() == "a@x OK\n" + damage


# -- what main.cf says ---------------------------------------------------------------------------

def test_the_table_type_comes_from_main_cf(cli, fakes, table):
    fakes.main_cf(smtpd_recipient_restrictions=f"permit_mynetworks, check_sasl_access lmdb:{table}, "
                                               "permit_sasl_authenticated, reject")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls()[-1]["argv"] == ["postmap", f"lmdb:{table}"]
    assert "# main.cf" not in result.out


def test_else_from_default_database_type(cli, fakes, table):
    fakes.main_cf(default_database_type="lmdb", smtpd_sender_restrictions="")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert fakes.changing_calls()[-1]["argv"] == ["postmap", f"lmdb:{table}"]
    assert f"#     smtpd_sender_restrictions = check_sasl_access lmdb:{table}\n" in result.out


def test_a_permit_before_the_check_is_pointed_out(cli, fakes, table):
    fakes.main_cf(smtpd_recipient_restrictions=f"permit_sasl_authenticated, check_sasl_access "
                                               f"hash:{table}, reject_unauth_destination")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert (f"# main.cf: in smtpd_recipient_restrictions, permit_sasl_authenticated comes before "
            f"check_sasl_access hash:{table}") in result.out
    assert "#     smtpd_sender_restrictions = check_sasl_access" in result.out


def test_another_table_in_main_cf_is_named(cli, fakes, table):
    fakes.main_cf(smtpd_sender_restrictions="check_sasl_access hash:/etc/postfix/blocked_logins")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert ("# (main.cf applies check_sasl_access hash:/etc/postfix/blocked_logins: is that the "
            "table to give with --sasl-access?)") in result.out


def test_a_master_cf_override_without_the_check_is_pointed_out(cli, fakes, table):
    fakes.main_cf(smtpd_sender_restrictions=f"check_sasl_access hash:{table}")
    fakes.behaviour["master.cf"] = [
        "submission/inet/syslog_name = postfix/submission",
        "submission/inet/smtpd_sender_restrictions = reject_sender_login_mismatch, permit",
    ]
    fakes.save()
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert result.out.endswith(
        "# master.cf: service submission/inet overrides smtpd_sender_restrictions without "
        f"check_sasl_access hash:{table}; there, use:\n"
        f"#     -o smtpd_sender_restrictions=check_sasl_access,hash:{table},"
        "reject_sender_login_mismatch,permit\n")


def test_texthash_needs_no_postmap_but_a_reload(cli, fakes, table):
    fakes.main_cf(smtpd_sender_restrictions=f"check_sasl_access texthash:{table}")
    result = run(cli, USER, "--reject", "--sasl-access", table, "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == []
    assert f"# texthash:{table} is read when smtpd starts: run `postfix reload`" in result.out


def test_a_table_type_postmap_cannot_build_is_refused(cli, fakes, table):
    fakes.main_cf(smtpd_sender_restrictions=f"check_sasl_access pcre:{table}")
    before = table.read_bytes()
    assert f"pcre:{table}: maillog-sasl edits only tables of type hash" in one_line(
        run(cli, USER, "--reject", "--sasl-access", table, "--apply"))
    assert table.read_bytes() == before


# -- failures ------------------------------------------------------------------------------------

def test_postsuper_missing(cli, fakes, queued):
    (fakes.bin / "postsuper").unlink()
    log, _ = queued
    err = one_line(run(cli, USER, log, "--hold", "--apply"))
    assert "postsuper: command not found (searched $PATH and" in err


def test_postsuper_failing(cli, fakes, queued):
    log, _ = queued
    fakes.set("postsuper", exit=1, err="postsuper: warning: x\npostsuper: fatal: queue locked\n")
    err = one_line(run(cli, USER, log, "--hold", "--apply"))
    assert err == ("maillog-sasl contain: postsuper -h - failed (exit status 1): "
                   "postsuper: fatal: queue locked\n")


def test_postmap_failing_after_the_table_was_written(cli, fakes, table):
    fakes.set("postmap", exit=1, err=f"postmap: fatal: open {table}.db: Permission denied\n")
    err = one_line(run(cli, USER, "--reject", "--sasl-access", table, "--apply"))
    assert f"postmap hash:{table} failed (exit status 1): postmap: fatal: open" in err


def test_postsuper_hanging(cli, fakes, queued, monkeypatch):
    monkeypatch.setattr(contain, "COMMAND_TIMEOUT", 0.5)
    fakes.set("postsuper", sleep=5)
    log, _ = queued
    assert one_line(run(cli, USER, log, "--hold", "--apply")) == (
        "maillog-sasl contain: postsuper -h -: no answer in 0.5 s\n")


def test_postsuper_that_cannot_start(cli, fakes, queued):
    (fakes.bin / "postsuper").write_text("#!/nonexistent/interpreter\n")
    log, _ = queued
    assert "postsuper -h -: cannot run" in one_line(run(cli, USER, log, "--hold", "--apply"))


def test_a_failed_rename_leaves_no_temporary_file(cli, fakes, table, monkeypatch):
    def refuse(source, target):
        raise OSError(28, "No space left on device")

    before = table.read_bytes()
    monkeypatch.setattr(os, "replace", refuse)
    err = one_line(run(cli, USER, "--reject", "--sasl-access", table, "--apply"))
    assert err == f"maillog-sasl contain: {table}: cannot write: No space left on device\n"
    assert sorted(os.listdir(table.parent)) == ["sasl_access"]
    assert table.read_bytes() == before


def test_postmap_missing(cli, fakes, table):
    (fakes.bin / "postmap").unlink()
    assert "postmap: command not found" in one_line(
        run(cli, USER, "--reject", "--sasl-access", table, "--apply"))


def test_a_table_that_cannot_be_written(cli, fakes, tmp_path):
    path = tmp_path / "no-such-directory" / "sasl_access"
    err = one_line(run(cli, USER, "--reject", "--sasl-access", path, "--apply"))
    assert f"{path}: cannot write in {path.parent}: No such file or directory" in err
    assert fakes.changing_calls() == []


def test_a_table_that_cannot_be_read(cli, fakes, tmp_path):
    assert f"{tmp_path}: cannot read: Is a directory" in one_line(
        run(cli, USER, "--reject", "--sasl-access", tmp_path, "--apply"))


def test_a_read_only_directory_as_an_ordinary_user(cli, fakes, table):
    if os.geteuid() == 0:
        pytest.skip("root writes in a read-only directory")
    table.parent.chmod(0o555)
    try:
        assert "cannot write in" in one_line(
            run(cli, USER, "--reject", "--sasl-access", table, "--apply"))
    finally:
        table.parent.chmod(0o755)


@pytest.mark.parametrize("user", ["", "bad user@x", "tab\tuser", "new\nline", "esc\x1b[31m",
                                  "#comment", "zero\u200bwidth", "nul\x00", 'open"quote@x',
                                  "backslash\\"])
def test_a_user_that_cannot_be_a_table_key_is_refused_before_anything_runs(cli, fakes, table,
                                                                           queued, user):
    log, _ = queued
    before = table.read_bytes()
    err = one_line(run(cli, user, log, "--hold", "--reject", "--sasl-access", table, "--apply"))
    assert "USER" in err
    assert fakes.calls() == [] and table.read_bytes() == before


def test_check_user_accepts_ordinary_and_unicode_names():
    for name in ("centos7@phoenixknight.jp", "carol", "ユーザー@例え.jp", "a+b=c@x",
                 '"quoted"@x', 'a\\"b@x', "back\\slash"):
        assert contain.check_user(name) == name
    with pytest.raises(ContainError):
        contain.check_user(" ")


# Names postmap (Postfix 3.2 and later) reads otherwise than as they are: a quote left open
# skips the line (a warning, exit 0: the account was not refused), a backslash at the end takes
# the space after it into the key. And names it reads as they are.
KEYS = ['open"quote@x', 'a"b"c@x', 'a\\"b@x', "back\\", "back\\slash", '"quoted"', "bad@x"]


@pytest.mark.parametrize("user", KEYS)
def test_check_user_refuses_exactly_the_names_postmap_reads_otherwise(user):
    read = contain.table_key(f"{user} {REJECT}")
    assert read in (None, user, f"{user} REJECT")
    if read == user:
        assert contain.check_user(user) == user
    else:
        with pytest.raises(ContainError, match="postmap would read another key"):
            contain.check_user(user)


POSTMAP = "/usr/sbin/postmap"


@pytest.mark.skipif(not os.access(POSTMAP, os.X_OK), reason="no Postfix postmap installed")
def test_table_key_reads_a_line_as_postmap_does(tmp_path):
    (tmp_path / "main.cf").write_text("")
    table = tmp_path / "sasl_access"
    table.write_text("".join(f"{user} {REJECT}\n" for user in KEYS))
    subprocess.run([POSTMAP, "-c", str(tmp_path), f"hash:{table}"], check=True,
                   capture_output=True)
    listed = subprocess.run([POSTMAP, "-c", str(tmp_path), "-s", f"hash:{table}"], check=True,
                            capture_output=True, text=True).stdout
    keys = sorted(line.split("\t")[0] for line in listed.splitlines())
    expected = [contain.table_key(f"{user} {REJECT}") for user in KEYS]
    assert keys == sorted(key.lower() for key in expected if key is not None)


@pytest.mark.parametrize("args, message", [
    ((USER,), "say what to do"),
    ((USER, "some.log"), "say what to do"),
    ((USER, "some.log", "--reject"), "LOG is read only for --hold"),
    ((USER, "--hold"), "--hold takes the queue IDs from the logs"),
    ((USER, "--hold", "x.log", "--sasl-access", "f"), "--sasl-access names the table"),
    ((USER, "--reject", "--hold-logins"), "not allowed with argument"),
    ((USER, "--reject", "--dry-run", "--apply"), "not allowed with argument"),
])
def test_usage_errors(cli, fakes, args, message):
    assert message in one_line(run(cli, *args))
    assert fakes.calls() == []


def test_the_library_contain_echoes_each_step(fakes, table):
    lines = []
    contain.contain(USER, queue_ids=["ABCDEF123", "not an id!"], map_path=str(table),
                    dry_run=False, echo=lines.append)
    assert lines[0] == "printf '%s\\n' ABCDEF123 | postsuper -h -"
    assert fakes.calls("postsuper")[0]["stdin"] == "ABCDEF123\n"
    assert f"+{LINE}" in lines


# -- contain --state: the queue IDs from watch's state ------------------------------------------

def watched(cli, log, state):
    result = cli("watch", "--once", "--state", state, "--alert-log", state.parent / "alerts", log)
    assert result.code in (0, 1), result.err


def test_state_gives_the_queue_ids_the_logs_give(cli, fakes, queued, tmp_path):
    log, ids = queued
    state = tmp_path / "s.sqlite"
    watched(cli, log, state)
    from_logs = run(cli, USER, log, "--hold", "--dry-run")
    from_state = run(cli, USER, "--state", state, "--hold", "--dry-run")
    assert from_state.code == 0, from_state.err
    assert from_state.out == from_logs.out
    assert f"printf '%s\\n' {' '.join(ids)} | postsuper -h -" in from_state.out
    result = run(cli, USER, "--state", state, "--hold", "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == [{"argv": ["postsuper", "-h", "-"],
                                       "stdin": "".join(f"{qid}\n" for qid in ids)}]
    result = run(cli, "--release", USER, "--state", state, "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls()[-1]["argv"] == ["postsuper", "-H", "-"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_root_reads_the_queue_of_a_state_another_user_owns(cli, fakes, queued, tmp_path):
    """The state holds a pickle that root must not load; the queue table is plain rows."""
    log, ids = queued
    state = tmp_path / "s.sqlite"
    watched(cli, log, state)
    for name in os.listdir(tmp_path):
        if name.startswith("s.sqlite"):
            os.chown(tmp_path / name, 65534, 65534)
    assert cli("state", "--state", state).code == 2  # refused: it holds a pickle
    result = run(cli, USER, "--state", state, "--hold", "--dry-run")
    assert result.code == 0, result.err
    assert " ".join(ids) in result.out


def test_state_that_is_missing_or_older_is_one_line(cli, fakes, queued, tmp_path):
    assert "no such state" in one_line(run(cli, USER, "--state", tmp_path / "none", "--hold"))
    log, _ = queued
    state = tmp_path / "s.sqlite"
    watched(cli, log, state)
    tamper(state, "DROP TABLE queue")
    assert "holds no queue yet" in one_line(run(cli, USER, "--state", state, "--hold"))


@pytest.mark.parametrize("args, message", [
    (("--state", "s.sqlite", "--reject"), "--state is read only for --hold"),
    (("maillog", "--state", "s.sqlite", "--hold"), "from --state or from logs: not both"),
])
def test_state_usage_errors(cli, fakes, args, message):
    assert message in one_line(run(cli, USER, *args))


# -- watch --contain -----------------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "maillog-sample.log"
CRITICAL = {"ken.roux@corp.example", "k.nilsson@corp.example", "chiara.ferrari@corp.example"}


def watch_contain(cli, tmp_path, table, *more, log=SAMPLE):
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", "--contain", "hold",
                 "--contain", "reject", "--sasl-access", table, *more, log)
    assert result.code in (0, 1), result.err
    return result, [json.loads(line) for line in result.out.splitlines()]


def contained(alerts):
    return {alert["user"]: alert for alert in alerts if alert["signals"] == ["contained"]}


def test_watch_contain_not_root_is_a_dry_run_said_in_the_alert(cli, fakes, table, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: False)
    before = table.read_bytes()
    result, alerts = watch_contain(cli, tmp_path, table)
    assert "--contain: not root: containment is a dry run" in result.err
    found = contained(alerts)
    assert set(found) == CRITICAL
    alert = found["ken.roux@corp.example"]
    critical = next(a for a in alerts if a["user"] == alert["user"]
                    and a["severity"] == "critical" and a is not alert)
    assert alerts.index(alert) == alerts.index(critical) + 1  # right after what raised it
    assert alert["severity"] == "critical" and alert["dry_run"] and not alert["failed"]
    assert alert["reasons"] == [
        "contained: a dry run (not root; nothing changed; --contain-apply acts): would put 6 "
        f"queued messages on hold (postsuper -h); would put ken.roux@corp.example {REJECT} in "
        f"{table} (postmap)"]
    assert alert["actions"][0] == "# dry run: nothing is changed; these are the commands and " \
                                  "the map change"
    assert alert["actions"][1] == ("printf '%s\\n' " + " ".join(critical["queue_ids"])
                                   + " | postsuper -h -")
    assert f"+ken.roux@corp.example {REJECT}" in alert["actions"]
    assert fakes.changing_calls() == [] and table.read_bytes() == before


def test_watch_contain_as_root_holds_and_rejects_each_critical_account_once(cli, fakes, table,
                                                                            tmp_path, monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: True)
    result, alerts = watch_contain(cli, tmp_path, table)
    found = contained(alerts)
    assert set(found) == CRITICAL and not any(a["dry_run"] for a in found.values())
    holds = fakes.calls("postsuper")
    assert sorted(call["stdin"].split() for call in holds) == sorted(
        next(a for a in alerts if a["user"] == user and a["signals"] != ["contained"]
             and a["severity"] == "critical")["queue_ids"] for user in CRITICAL)
    assert all(f"{user} {REJECT}" in table.read_text() for user in CRITICAL)
    assert len(fakes.calls("postmap")) == 3
    assert found["ken.roux@corp.example"]["reasons"][0].startswith(
        "contained: put 6 queued messages on hold (postsuper -h); put ken.roux")
    # Once: a later run that reads more contains nobody again.
    more = MailLog()
    more.login("other@example.jp", "198.51.100.7", at(400, 9))
    log = tmp_path / "maillog"
    log.write_text(SAMPLE.read_text() + more.text())
    calls = len(fakes.changing_calls())
    _, alerts = watch_contain(cli, tmp_path, table, log=log)
    assert contained(alerts) == {} and len(fakes.changing_calls()) == calls


def test_watch_contain_failing_is_said_and_the_run_goes_on(cli, fakes, table, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: True)
    fakes.set("postsuper", exit=1, err="postsuper: fatal: not the queue owner\n")
    result, alerts = watch_contain(cli, tmp_path, table)
    assert result.code == 1
    found = contained(alerts)
    assert set(found) == CRITICAL and all(alert["failed"] for alert in found.values())
    assert found["ken.roux@corp.example"]["reasons"][0].startswith(
        "contained: failed: postsuper -h - failed (exit status 1): postsuper: fatal: not the "
        "queue owner")
    assert result.err.count("--contain ") == 3


def test_watch_without_contain_contains_nothing(cli, fakes, table, tmp_path, monkeypatch):
    monkeypatch.setattr(contain, "is_root", lambda: True)
    result = cli("watch", "--once", "--state", tmp_path / "s.sqlite", SAMPLE)
    assert result.code == 1 and "contained" not in result.out and fakes.calls() == []
    result = cli("watch", "--once", "--state", tmp_path / "t.sqlite", "--contain-apply", SAMPLE)
    assert result.code == 2 and "go with --contain" in result.err


# -- contrib/ ------------------------------------------------------------------------------------

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"
WATCH_ARGS = ["watch", "--state", "/var/lib/maillog-sasl/state.sqlite",
              "--alert-log", "/var/log/maillog-sasl/alerts.ndjson", "/var/log/maillog"]


def test_the_systemd_unit_runs_watch_unprivileged_and_hardened():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string((CONTRIB / "maillog-sasl-watch.service").read_text())
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/maillog-sasl") and command[1:] == WATCH_ARGS
    assert (service["User"], service["Group"]) == ("maillog-sasl", "adm")
    assert (service["StateDirectory"], service["LogsDirectory"]) == ("maillog-sasl",) * 2
    for option, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                          ("CapabilityBoundingSet", "")):
        assert service[option] == value
    assert "/var/lib/maillog-sasl" in service["ReadWritePaths"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_cron_line_runs_watch_once_every_5_minutes_as_the_same_user():
    lines = [line for line in (CONTRIB / "maillog-sasl.cron").read_text().splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    [line] = lines
    fields = shlex.split(line)
    assert fields[:6] == ["*/5", "*", "*", "*", "*", "maillog-sasl"]
    assert fields[6] == "maillog-sasl" and fields[7:] == WATCH_ARGS[:1] + ["--once"] + WATCH_ARGS[1:]


def _options(parser):
    return {option for action in parser._actions for option in action.option_strings}


def test_contrib_names_only_options_that_exist():
    """Every --option in contrib/ is one of watch's, contain's or state's, and every ExecStart,
    commented or not, is a command line that watch's parser takes."""
    from maillog_sasl import cli as cli_module
    known = (_options(cli_module._watch_parser()) | _options(cli_module._contain_parser())
             | _options(cli_module._state_parser()))
    for path in sorted(CONTRIB.iterdir()):
        text = path.read_text()
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))
        # systemd's and node_exporter's own options, named as such.
        named -= {"--now", "--system", "--gid", "--home-dir", "--shell",
                  "--collector.textfile.directory"}
        assert named <= known, (path.name, named - known)
        for line in text.splitlines():
            if line.lstrip("#").startswith("ExecStart="):
                command = shlex.split(line.lstrip("#").partition("=")[2])
                assert command[1] == "watch"
                cli_module._watch_parser().parse_args(command[2:])


# -- a host of several Postfix instances (postmulti) -------------------------------------------

ERIN = "erin@example.jp"


def two_instances(tmp_path):
    """test_instances.LOG: erin's mail queued in the primary's queue and postfix-out's."""
    path = tmp_path / "two-instances.log"
    path.write_text(LOG)
    return path


def test_contain_holds_each_message_through_its_own_instances_postsuper(cli, fakes, tmp_path):
    table = tmp_path / "sasl_access"
    fakes.main_cf(smtpd_sender_restrictions=f"check_sasl_access hash:{table}")
    fakes.main_cf("postfix-out", smtpd_sender_restrictions="reject_non_fqdn_sender")
    result = cli("contain", ERIN, two_instances(tmp_path), "--hold", "--reject", "--sasl-access",
                 table, "--dry-run")
    assert result.code == 0, result.err
    assert result.out == textwrap.dedent(f"""\
        # dry run: nothing is changed; these are the commands and the map change
        printf '%s\\n' 1A1A1A1A01 | postsuper -h -
        printf '%s\\n' 2B2B2B2B02 3C3C3C3C03 | postmulti -i postfix-out -x postsuper -h -
        --- {table}
        +++ {table}
        @@ -0,0 +1,4 @@
        +{BEGIN}
        +{BLOCK_NOTE}
        +{ERIN} {REJECT}
        +{END}
        postmap hash:{table}
        # instance postfix-out reads its own main.cf and master.cf (`postmulti -i postfix-out -x postconf`): there:
        # main.cf: no smtpd_sender_restrictions or smtpd_recipient_restrictions applies check_sasl_access hash:{table}, so the table refuses nobody; add this line to main.cf, then run `postmulti -i postfix-out -p reload`:
        #     smtpd_sender_restrictions = check_sasl_access hash:{table}, reject_non_fqdn_sender
        """)
    assert fakes.changing_calls() == []


def test_contain_applied_runs_each_instances_postsuper(cli, fakes, tmp_path):
    result = cli("contain", ERIN, two_instances(tmp_path), "--hold", "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == [
        {"argv": ["postsuper", "-h", "-"], "stdin": "1A1A1A1A01\n"},
        {"argv": ["postmulti", "-i", "postfix-out", "-x", "postsuper", "-h", "-"],
         "stdin": "2B2B2B2B02\n3C3C3C3C03\n"}]


def test_contain_from_the_state_runs_each_instances_postsuper(cli, fakes, tmp_path):
    state = tmp_path / "s.sqlite"
    watched(cli, two_instances(tmp_path), state)
    result = cli("contain", ERIN, "--state", state, "--hold", "--apply")
    assert result.code == 0, result.err
    assert fakes.changing_calls() == [
        {"argv": ["postsuper", "-h", "-"], "stdin": "1A1A1A1A01\n"},
        {"argv": ["postmulti", "-i", "postfix-out", "-x", "postsuper", "-h", "-"],
         "stdin": "2B2B2B2B02\n3C3C3C3C03\n"}]


def test_watch_contain_holds_each_message_in_its_own_instances_queue(cli, fakes, table, tmp_path,
                                                                     monkeypatch):
    # One of ken's queued messages in the queue of a second instance, postfix-out.
    moved = "B132F3B1ABDD"
    log = tmp_path / "maillog"
    log.write_text("".join(
        line.replace(" postfix/cleanup[", " postfix-out/cleanup[").replace(
            " postfix/qmgr[", " postfix-out/qmgr[") if f" {moved}: " in line else line
        for line in SAMPLE.read_text().splitlines(keepends=True)))
    monkeypatch.setattr(contain, "is_root", lambda: True)
    _, alerts = watch_contain(cli, tmp_path, table, log=log)
    actions = contained(alerts)["ken.roux@corp.example"]["actions"]
    assert f"printf '%s\\n' {moved} | postmulti -i postfix-out -x postsuper -h -" in actions
    held = [call for call in fakes.changing_calls() if "postsuper" in call["argv"]
            and moved in call["stdin"]]
    assert held == [{"argv": ["postmulti", "-i", "postfix-out", "-x", "postsuper", "-h", "-"],
                     "stdin": f"{moved}\n"}]


def test_an_instance_name_of_control_characters_goes_to_no_command(cli, fakes, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(LOG.replace("postfix-out/", "postfix-\x1b[2J/"))
    error = one_line(run(cli, ERIN, log, "--hold", "--apply"))
    assert "Postfix instance 'postfix-\\\\x1b[2J' that is no syslog_name" in error
    assert fakes.changing_calls() == []
