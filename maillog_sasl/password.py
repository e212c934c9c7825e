"""Password input and command-line conventions shared by `cram-md5` and `auth-test`.

What it does: gets the SMTP AUTH password without ever taking it as a command-line argument
(where it would stay in the shell history and show in `ps`), and gives both commands the same
argparse behaviour: a usage error is one line on stderr and exit status 2.
Input: with `--password-stdin`, the first line of standard input (its line ending removed);
otherwise the MAILLOG_SASL_PASSWORD environment variable if it is set; otherwise a no-echo
prompt on the terminal (getpass).
Output: the password, a str.
How it fails: PasswordError for a missing or empty password (EOF at the prompt, nothing on
stdin, an empty variable); the commands print it as one line and exit 2. Ctrl-C at the prompt
raises KeyboardInterrupt, which the commands turn into exit status 130.
"""
import argparse
import getpass
import os
import sys

ENV_VAR = "MAILLOG_SASL_PASSWORD"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PASSWORD_HELP = (
    "password: typed at a no-echo prompt, or the first line of standard input with\n"
    f"  --password-stdin, or the {ENV_VAR} environment variable. It is never\n"
    "  accepted as an argument: there it would stay in the shell history and show in ps."
)


class PasswordError(Exception):
    """No usable password was given."""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line: `PROG: MESSAGE (see --help)`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # "--password" must not mean --password-stdin
        super().__init__(**kwargs)

    def parse_args(self, args=None, namespace=None):
        for arg in sys.argv[1:] if args is None else args:
            if arg == "--password" or arg.startswith("--password="):
                self.error("a password is never taken as an argument: it would stay in the"
                           f" shell history; use the prompt, --password-stdin or {ENV_VAR}")
        return super().parse_args(args, namespace)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def add_password_option(parser):
    """Add `--password-stdin` to an argument parser."""
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from the first line of standard input (else {ENV_VAR}, else a prompt)",
    )


def read_password(from_stdin, prompt="Password: "):
    """Return the password from stdin, the environment or a no-echo prompt, in that order."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise PasswordError("--password-stdin: standard input is empty")
        password = line.rstrip("\r\n")
        source = "the first line of standard input"
    elif ENV_VAR in os.environ:
        password = os.environ[ENV_VAR]
        source = ENV_VAR
    else:
        try:
            password = getpass.getpass(prompt)
        except EOFError:
            raise PasswordError("no password given at the prompt") from None
        source = "the prompt"
    if not password:
        raise PasswordError(f"the password from {source} is empty")
    return password
