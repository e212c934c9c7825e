"""`maillog-sasl cram-md5`: the seed's test vector, password sources, prompts and errors."""
import base64
import getpass
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_sasl import cram_md5
from maillog_sasl.cli import main
from maillog_sasl.password import ENV_VAR

# The incident write-up's vector (reference §6).
SEED_USER = "centos7@phoenixknight.jp"
SEED_PASSWORD = "zaq12345"
SEED_CHALLENGE = "PDA3Nzg3NTMyMDgxMzMwMDAuMTUzNzE1MTM2NEBpazEtMzMxLTI1NjQ5LnZzLnNha3VyYS5uZS5qcD4="
SEED_DIGEST = "1c8848fcf734dd528b919ea753c1374b"
SEED_RESPONSE = "Y2VudG9zN0BwaG9lbml4a25pZ2h0LmpwIDFjODg0OGZjZjczNGRkNTI4YjkxOWVhNzUzYzEzNzRi"
# What the write-up's shell script printed: the same, plus an encoded newline.
SEED_SCRIPT_ANSWER = "Y2VudG9zN0BwaG9lbml4a25pZ2h0LmpwIDFjODg0OGZjZjczNGRkNTI4YjkxOWVhNzUzYzEzNzRiCg=="

NO_PASSWORD_ARG = (
    "maillog-sasl cram-md5: a password is never taken as an argument: it would stay in the shell"
    f" history; use the prompt, --password-stdin or {ENV_VAR} (see --help)\n"
)


@pytest.fixture(autouse=True)
def no_password_sources(monkeypatch):
    """No password unless a test gives one; a prompt that is not expected fails the test."""
    monkeypatch.delenv(ENV_VAR, raising=False)

    def unexpected_prompt(prompt="Password: "):
        raise AssertionError("unexpected password prompt")

    monkeypatch.setattr(getpass, "getpass", unexpected_prompt)


def run(capsys, monkeypatch, *args, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["cram-md5", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_vector_from_environment(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    assert run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE) == (0, SEED_RESPONSE + "\n", "")
    assert base64.b64decode(SEED_RESPONSE) == f"{SEED_USER} {SEED_DIGEST}".encode()


def test_seed_vector_is_the_script_answer_without_its_newline():
    assert base64.b64decode(SEED_SCRIPT_ANSWER) == base64.b64decode(SEED_RESPONSE) + b"\n"


def test_library_functions_on_the_seed_vector():
    challenge = cram_md5.decode_challenge(SEED_CHALLENGE)
    assert challenge == b"<0778753208133000.1537151364@ik1-331-25649.vs.sakura.ne.jp>"
    assert cram_md5.digest(SEED_PASSWORD, challenge) == SEED_DIGEST
    assert cram_md5.response(SEED_USER, SEED_PASSWORD, challenge) == SEED_RESPONSE


def test_rfc2195_example():
    challenge = cram_md5.decode_challenge("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
    assert challenge == b"<1896.697170952@postoffice.reston.mci.net>"
    assert cram_md5.digest("tanstaaftanstaaf", challenge) == "b913a602c7eda7a495b4e6e7334d3890"
    assert cram_md5.response("tim", "tanstaaftanstaaf", challenge) == (
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    )


def test_password_stdin_reads_one_line(capsys, monkeypatch):
    result = run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE, "--password-stdin",
                 stdin=SEED_PASSWORD + "\r\nsecond line\n")
    assert result == (0, SEED_RESPONSE + "\n", "")


def test_password_stdin_keeps_inner_and_leading_spaces(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "u", SEED_CHALLENGE, "--password-stdin", stdin=" a b \n")
    challenge = cram_md5.decode_challenge(SEED_CHALLENGE)
    assert (code, out) == (0, cram_md5.response("u", " a b ", challenge) + "\n")


def test_no_echo_prompt_when_no_other_source(capsys, monkeypatch):
    prompts = []

    def fake_getpass(prompt="Password: "):
        prompts.append(prompt)
        return SEED_PASSWORD

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE) == (0, SEED_RESPONSE + "\n", "")
    assert prompts == ["Password: "]


def test_password_stdin_wins_over_environment(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "not this one")
    result = run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE, "--password-stdin",
                 stdin=SEED_PASSWORD + "\n")
    assert result == (0, SEED_RESPONSE + "\n", "")


@pytest.mark.parametrize("pasted", [
    SEED_CHALLENGE + "\n",
    "334 " + SEED_CHALLENGE + "\r\n",
    "  334 " + SEED_CHALLENGE + "  \n",
])
def test_challenge_pasted_at_prompt(capsys, monkeypatch, pasted):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    result = run(capsys, monkeypatch, SEED_USER, stdin=pasted)
    assert result == (0, SEED_RESPONSE + "\n", "Challenge (the base64 text after 334): ")


def test_challenge_argument_may_carry_334(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    result = run(capsys, monkeypatch, SEED_USER, "334 " + SEED_CHALLENGE)
    assert result == (0, SEED_RESPONSE + "\n", "")


@pytest.mark.parametrize("challenge", ["not base64!", "PDA3Nzg3NTMyMDgxMzMwMDAu=x", "abc", "PDA3Nzg3é"])
def test_challenge_not_base64(capsys, monkeypatch, challenge):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    assert run(capsys, monkeypatch, SEED_USER, challenge) == (
        2, "", "maillog-sasl cram-md5: the challenge is not base64"
        " (the base64 text after the server's 334)\n",
    )


def test_decoded_challenge_pasted_gets_a_hint(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    assert run(capsys, monkeypatch, SEED_USER, "<0778753208133000.1537151364@ik1>") == (
        2, "", "maillog-sasl cram-md5: the challenge is not base64"
        " (this looks decoded: give the base64 text after the server's 334)\n",
    )


def test_challenge_that_is_not_a_msg_id_gets_a_warning(capsys, monkeypatch):
    """A password typed where the challenge goes may be valid base64: warn, do not hide it."""
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    code, out, err = run(capsys, monkeypatch, SEED_USER, "zaq12345")
    assert code == 0 and len(out.splitlines()) == 1
    assert err == (
        "maillog-sasl cram-md5: warning: the decoded challenge is not of the form <...@host>;"
        " is it really the server's 334 text?\n"
    )


@pytest.mark.parametrize("stdin, message", [
    ("", "no challenge given"),
    ("\n", "the challenge is empty"),
    ("334 \n", "the challenge is empty"),
])
def test_no_challenge_at_prompt(capsys, monkeypatch, stdin, message):
    monkeypatch.setenv(ENV_VAR, SEED_PASSWORD)
    assert run(capsys, monkeypatch, SEED_USER, stdin=stdin) == (
        2, "", f"Challenge (the base64 text after 334): maillog-sasl cram-md5: {message}\n",
    )


def test_password_stdin_needs_challenge_argument(capsys, monkeypatch):
    assert run(capsys, monkeypatch, SEED_USER, "--password-stdin", stdin="x\n") == (
        2, "", "maillog-sasl cram-md5: --password-stdin reads standard input:"
        " give CHALLENGE as an argument\n",
    )


@pytest.mark.parametrize("args", [["--password", "zaq12345"], ["--password=zaq12345"]])
def test_password_is_never_an_argument(capsys, monkeypatch, args):
    code, out, err = run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE, *args)
    assert (code, out, err) == (2, "", NO_PASSWORD_ARG)


def test_option_prefixes_are_not_expanded(capsys, monkeypatch):
    """`--pass` must not silently become --password-stdin."""
    assert run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE, "--pass") == (
        2, "", "maillog-sasl cram-md5: unrecognized arguments: --pass (see --help)\n",
    )


def test_extra_argument_is_a_usage_error(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE, "zaq12345")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("maillog-sasl cram-md5: unrecognized arguments")


def test_missing_user(capsys, monkeypatch):
    assert run(capsys, monkeypatch) == (
        2, "", "maillog-sasl cram-md5: the following arguments are required: USER (see --help)\n",
    )


def test_empty_user(capsys, monkeypatch):
    assert run(capsys, monkeypatch, "", SEED_CHALLENGE) == (2, "", "maillog-sasl cram-md5: USER is empty\n")


@pytest.mark.parametrize("setup, message", [
    ("env", f"the password from {ENV_VAR} is empty"),
    ("stdin-empty-line", "the password from the first line of standard input is empty"),
    ("stdin-eof", "--password-stdin: standard input is empty"),
])
def test_empty_password(capsys, monkeypatch, setup, message):
    args, stdin = [SEED_USER, SEED_CHALLENGE], ""
    if setup == "env":
        monkeypatch.setenv(ENV_VAR, "")
    else:
        args.append("--password-stdin")
        stdin = "\n" if setup == "stdin-empty-line" else ""
    assert run(capsys, monkeypatch, *args, stdin=stdin) == (2, "", f"maillog-sasl cram-md5: {message}\n")


@pytest.mark.parametrize("event, code, message", [
    (KeyboardInterrupt, 130, "\nmaillog-sasl cram-md5: interrupted\n"),
    (EOFError, 2, "maillog-sasl cram-md5: no password given at the prompt\n"),
])
def test_ctrl_c_or_eof_at_password_prompt(capsys, monkeypatch, event, code, message):
    def interrupted(prompt="Password: "):
        raise event

    monkeypatch.setattr(getpass, "getpass", interrupted)
    assert run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE) == (code, "", message)


def test_ctrl_c_at_challenge_prompt(capsys, monkeypatch):
    class InterruptedStdin(io.StringIO):
        def readline(self, *args):
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", InterruptedStdin())
    assert main(["cram-md5", SEED_USER]) == 130
    assert capsys.readouterr() == (
        "", "Challenge (the base64 text after 334): \nmaillog-sasl cram-md5: interrupted\n",
    )


# Standard input closed, bytes that are not UTF-8, output that cannot be written: one line on
# stderr and exit 2, never a traceback. Real processes, so the interpreter's own stdin and
# stdout (None when closed, surrogate escapes, the flush at exit) are the ones tested.

def run_process(*args, redirect="", password=SEED_PASSWORD, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, env=(), **options):
    """Run `python -m maillog_sasl.cli cram-md5 ARGS` with `redirect` applied by a shell
    (`<&-` closes stdin, `>&-` stdout); return (exit status, stdout, stderr)."""
    environment = {name: value for name, value in os.environ.items() if name != ENV_VAR}
    if password is not None:
        environment[ENV_VAR] = password
    environment.update(env)
    command = [sys.executable, "-m", "maillog_sasl.cli", "cram-md5", *args]
    if redirect:
        command = ["sh", "-c", f'exec "$@" {redirect}', "sh", *command]
    result = subprocess.run(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                            env=environment, timeout=30, **options)
    out = result.stdout.decode() if result.stdout is not None else ""
    return result.returncode, out, result.stderr.decode(errors="backslashreplace")


def test_process_runs_the_seed_vector():
    """The helper's baseline: the same command succeeds when nothing is closed."""
    assert run_process(SEED_USER, SEED_CHALLENGE) == (0, SEED_RESPONSE + "\n", "")


def test_closed_stdin_at_challenge_prompt():
    assert run_process(SEED_USER, redirect="<&-") == (
        2, "", "maillog-sasl cram-md5: no challenge given: standard input is closed\n")


def test_closed_stdin_with_password_stdin():
    assert run_process(SEED_USER, SEED_CHALLENGE, "--password-stdin", redirect="<&-", password=None) == (
        2, "", "maillog-sasl cram-md5: --password-stdin: standard input is closed\n")


def test_closed_stdin_and_no_terminal_for_the_password_prompt():
    """getpass falls back to stdin without a terminal (a new session has none)."""
    assert run_process(SEED_USER, SEED_CHALLENGE, redirect="<&-", password=None,
                       start_new_session=True) == (
        2, "", "maillog-sasl cram-md5: no password given: no terminal to prompt on,"
        " and standard input is closed\n")


def test_a_password_piped_without_a_terminal_warns_in_getpasss_words_alone():
    # `echo PASSWORD | maillog-sasl cram-md5 USER CHALLENGE` where there is no terminal (a
    # script, a new session): getpass reads the pipe. Its Python warning named getpass.py's path
    # and line on stderr, like a fault of the command's (an admin's review, 2026-12-06).
    code, out, err = run_process(SEED_USER, SEED_CHALLENGE, password=None, stdin=None,
                                 input=f"{SEED_PASSWORD}\n".encode(), start_new_session=True)
    assert (code, out) == (0, SEED_RESPONSE + "\n")
    assert err == "Warning: Password input may be echoed.\nPassword: \n"


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_password_stdin_not_utf8(errors):
    """Python decodes stdin with surrogate escapes in the C and C.UTF-8 locales, strictly in others."""
    code, out, err = run_process(SEED_USER, SEED_CHALLENGE, "--password-stdin", password=None,
                                 stdin=None, input=b"zaq\xff12345\n",
                                 env={"PYTHONIOENCODING": f"utf-8:{errors}"})
    assert (code, out, err) == (
        2, "", "maillog-sasl cram-md5: --password-stdin: standard input is not UTF-8 text\n")


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_challenge_at_prompt_not_utf8(errors):
    code, out, err = run_process(SEED_USER, stdin=None, input=b"PDA3\xff\n",
                                 env={"PYTHONIOENCODING": f"utf-8:{errors}"})
    assert (code, out, err) == (
        2, "", "Challenge (the base64 text after 334): maillog-sasl cram-md5:"
        " cannot read the challenge: standard input is not UTF-8 text\n")


def test_user_argument_not_utf8():
    assert run_process(b"centos7\xff@phoenixknight.jp", SEED_CHALLENGE) == (
        2, "", "maillog-sasl cram-md5: USER is not UTF-8 text\n")


def test_password_variable_not_utf8():
    assert run_process(SEED_USER, SEED_CHALLENGE, password="zaq\udcff12345") == (
        2, "", f"maillog-sasl cram-md5: the password from {ENV_VAR} is not UTF-8 text\n")


def test_password_at_prompt_not_utf8(capsys, monkeypatch):
    """getpass reads the terminal in the locale's encoding, strictly."""
    def undecodable(prompt="Password: "):
        raise UnicodeDecodeError("utf-8", b"zaq\xff", 3, 4, "invalid start byte")

    monkeypatch.setattr(getpass, "getpass", undecodable)
    assert run(capsys, monkeypatch, SEED_USER, SEED_CHALLENGE) == (
        2, "", "maillog-sasl cram-md5: the password from the prompt is not UTF-8 text\n")


def test_full_disk_is_a_local_failure():
    with open("/dev/full", "wb") as full:
        code, _, err = run_process(SEED_USER, SEED_CHALLENGE, stdout=full)
    assert (code, err) == (2, "maillog-sasl cram-md5: cannot write the response: No space left on device\n")


def test_reader_gone_is_a_local_failure():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        code, _, err = run_process(SEED_USER, SEED_CHALLENGE, stdout=write_end)
    finally:
        os.close(write_end)
    assert (code, err) == (2, "maillog-sasl cram-md5: cannot write the response: Broken pipe\n")


def test_closed_stdout_asks_nothing():
    """With stdout closed the response would be lost: fail before the challenge prompt."""
    assert run_process(SEED_USER, redirect=">&-", password=None) == (
        2, "", "maillog-sasl cram-md5: cannot write the response: standard output is closed\n")


def test_help(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "--help")
    assert (code, err) == (0, "")
    assert out.startswith("usage: maillog-sasl cram-md5 [-h] [--password-stdin] USER [CHALLENGE]\n")
    assert f"  $ maillog-sasl cram-md5 centos7@phoenixknight.jp \\\n      {SEED_CHALLENGE}\n" in out
    assert f"  {SEED_RESPONSE}\n" in out
    assert "trailing newline" in out and "is not needed" in out
    assert ENV_VAR in out and "never" in out
    assert "exit status:\n  0 " in out and "\n  2 " in out and "\n  130 " in out


def test_installed_console_script():
    script = Path(sys.executable).with_name("maillog-sasl")
    result = subprocess.run(
        [str(script), "cram-md5", SEED_USER, SEED_CHALLENGE, "--password-stdin"],
        input=SEED_PASSWORD + "\n", capture_output=True, text=True, timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, SEED_RESPONSE + "\n", "")


@pytest.mark.parametrize("name", ["./cram-md5", "./auth-test", "maillog"])
def test_log_files_are_not_taken_for_subcommands(monkeypatch, capsys, tmp_path, name):
    """A log named like a subcommand is reachable as ./NAME; other log paths are never dispatched:
    the file is read as a log (its one line counted in the summary) and the run succeeds."""
    from maillog_sasl import cli

    def dispatched(argv):
        raise AssertionError(f"{name} was taken for a subcommand")

    monkeypatch.setitem(cli.SUBCOMMANDS, "cram-md5", dispatched)
    monkeypatch.setitem(cli.SUBCOMMANDS, "auth-test", dispatched)
    monkeypatch.chdir(tmp_path)
    Path(tmp_path, name).write_text(
        "2026-11-04T12:00:00+00:00 mail postfix/smtpd[700]: connect from unknown[192.0.2.21]\n")
    code = main([name])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "2026-11-04 12:00:00 .. 2026-11-04 12:00:00 (UTC); 1 line read; 0 users;"
        " 0 authenticated sessions; 0 authenticated messages; no account flagged")
