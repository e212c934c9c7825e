"""Password input and command-line conventions shared by `cram-md5` and `auth-test`.

What it does: gets the SMTP AUTH password without ever taking it as a command-line argument
(where it would stay in the shell history and show in `ps`), and gives both commands the same
exit statuses (EXIT_USAGE, EXIT_INTERRUPTED); their command lines are in cli.py.
Input: with `--password-stdin`, the first line of standard input (its line ending removed);
otherwise the MAILLOG_SASL_PASSWORD environment variable if it is set; otherwise a no-echo
prompt on the terminal (getpass).
Output: the password, a str.
How it fails: PasswordError for a missing or empty password (EOF at the prompt, nothing on
stdin, an empty variable); the commands print it as one line and exit 2. Ctrl-C at the prompt
raises KeyboardInterrupt, which the commands turn into exit status 130.
"""
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
