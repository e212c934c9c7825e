"""password: the SMTP AUTH password of `cram-md5` and `auth-test`, never from the command line.

SUMMARY
    read_password(from_stdin, prompt="Password: ") -> str
    read_stdin_line(what) -> the first line of standard input
    EXIT_USAGE (2), EXIT_INTERRUPTED (130)          the two commands' shared exit statuses

DESCRIPTION
    A password given as an argument would stay in the shell history and show in `ps`, so it is
    read, in this order, from the first line of standard input (with `--password-stdin`, its
    line ending removed), the MAILLOG_SASL_PASSWORD environment variable, or a no-echo prompt on
    the terminal (getpass). Output: a str that encodes to UTF-8, the bytes the server is given.
    The commands' own command lines are in cli.py.

DIAGNOSTICS
    PasswordError for a missing, empty or unusable password (EOF at the prompt, nothing on
    stdin, an empty variable, standard input closed or unreadable, no terminal to prompt on with
    standard input closed, a password that is not UTF-8 text); read_stdin_line() raises
    InputError, the base class, for the same reasons. The commands print it as one line and
    exit 2. Ctrl-C at the prompt raises KeyboardInterrupt: exit status 130.
"""
import getpass
import os
import sys
import warnings

ENV_VAR = "MAILLOG_SASL_PASSWORD"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PASSWORD_HELP = (
    "password: typed at a no-echo prompt, or the first line of standard input with\n"
    f"  --password-stdin, or the {ENV_VAR} environment variable. It is never\n"
    "  accepted as an argument: there it would stay in the shell history and show in ps."
)


class InputError(Exception):
    """Standard input or the terminal gave no usable text."""


class PasswordError(InputError):
    """No usable password was given."""


def is_utf8(text):
    """False for text holding bytes that were not UTF-8: surrogate escapes from argv, environ,
    stdin."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_stdin_line():
    """The next line of standard input, "" at its end.

    InputError when standard input is closed (started with `<&-`), cannot be read, or the line
    is not UTF-8 text (whether stdin decodes strictly or with surrogate escapes).
    """
    if sys.stdin is None:
        raise InputError("standard input is closed")
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise InputError("standard input is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read standard input: {exc.strerror or exc}") from None
    if not is_utf8(line):
        raise InputError("standard input is not UTF-8 text")
    return line


def read_password(from_stdin, prompt="Password: "):
    """Return the password from stdin, the environment or a no-echo prompt, in that order."""
    if from_stdin:
        try:
            line = read_stdin_line()
        except InputError as exc:
            raise PasswordError(f"--password-stdin: {exc}") from None
        if not line:
            raise PasswordError("--password-stdin: standard input is empty")
        password = line.rstrip("\r\n")
        source = "the first line of standard input"
    elif ENV_VAR in os.environ:
        password = os.environ[ENV_VAR]
        source = ENV_VAR
    else:
        password = _prompt(prompt)
        source = "the prompt"
    if not password:
        raise PasswordError(f"the password from {source} is empty")
    if not is_utf8(password):
        raise PasswordError(f"the password from {source} is not UTF-8 text")
    return password


def _prompt(prompt):
    # Without a terminal getpass falls back to reading sys.stdin, which is None when closed.
    if sys.stdin is None and not _have_terminal():
        raise PasswordError(
            "no password given: no terminal to prompt on, and standard input is closed")
    try:
        with warnings.catch_warnings():
            # Without a terminal getpass warns twice that the password may be echoed: in its
            # own words, and as a Python warning naming getpass.py's path and line, which
            # reads like a fault of this command's. Its own words are enough.
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            return getpass.getpass(prompt)
    except EOFError:
        raise PasswordError("no password given at the prompt") from None
    except UnicodeDecodeError:
        raise PasswordError("the password from the prompt is not UTF-8 text") from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise PasswordError(f"cannot read the password at the prompt: {reason}") from None


def _have_terminal():
    """True when this process has a controlling terminal getpass can open."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True
