"""Every `maillog-sasl` example of README.md runs here, on the shipped files, and the output the
README shows is the output the tool prints: the README cannot go stale.

Which lines are examples. Only fenced code blocks (```) hold commands; a command in an indented
block fails `test_commands_are_only_in_fenced_blocks`, so none escapes. In a fenced block:

(a) `$ maillog-sasl ...` is a command and its output: the lines after it, up to the next line
    that starts with `$ ` or the end of the block, are compared with what the command writes to
    standard output, line by line, trailing spaces ignored (editors strip them). A shown line
    `...` alone stands for one or more lines left out. At the end of the command line:
    `| head -N` keeps the first N lines, `| wc -l` counts them, `2>&1` adds standard error
    after standard output, `> FILE` sends standard output to FILE (nothing is shown then). A
    pipe into any other program (`| postsuper -d -`) is shown, not run: the command runs, its
    exit status is checked, its output is not compared.
(b) Any other line where `maillog-sasl` is a command (`maillog-sasl ...`, `pip install . &&
    maillog-sasl ...`, `journalctl ... | maillog-sasl -`) runs, its output not compared; the
    rest of the line (pip, journalctl, a pipe into postsuper, `> FILE`) does not run. Lines
    after a `$ other-program` line are that program's output and are not run.

Both: the command's exit status must be 0, or N when its comment says `exit N`. A line ending in
`\\` goes on on the next. `#` starts a comment. A log path `/var/log/mail...` (maillog, maillog*,
maillog.1.gz, mail.log) is the shipped sample (once, however many are named); standard input
fed to `maillog-sasl -` is the shipped sample; `-o FILE`, `--output FILE` and `> FILE` write into
the test's temporary directory, and so do watch's files (`--state`, `--alert-log`, paths under
/var/lib/maillog-sasl/ and /var/log/maillog-sasl/). Commands run in-process (maillog_sasl.cli.main), in the
repository's root, with TZ=UTC and COLUMNS=100, standard output not a terminal: a table is whole
unless the example asks for `--width N`, as the README's do.

Subcommands: `contain` runs as if not root (a dry run: nothing is changed, whatever user runs
the tests) against a fake postconf (a main.cf that applies no check_sasl_access) and fake
postsuper and postmap, its table a file of the temporary directory that does not exist yet,
shown under its default name /etc/postfix/sasl_access. `cram-md5`'s password prompt is answered
with the seed's password, the prompt shown as a terminal shows it. `watch --once` and `state` get
a `--state` file of the temporary directory (never the machine's), and `state` finds there what
`watch --once` made of the shipped sample. Skipped (see SKIPS): `auth-test`, which needs an SMTP
server (tests/test_auth_test.py runs it against a fake one), `watch` without `--once`, which
follows the log until it is stopped (tests/test_watch.py follows logs), and `--dask` with a
scheduler's address (`--dask local` too where Dask is not installed; tests/test_dask.py). A skip that matches no
example fails, so SKIPS cannot go stale either.

To see an example's real output, run `python tests/test_readme.py [TEXT]`: every example (whose
command contains TEXT) with what it prints now.
"""

import contextlib
import getpass
import importlib.util
import io
import re
import shlex
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SAMPLE = "sample_logs/maillog-sample.log"
SEED_PASSWORD = "zaq12345"  # the password of the incident write-up's test vector (cram-md5)
DEFAULT_MAP = "/etc/postfix/sasl_access"

# Examples not run, by a pattern their command matches (re.search): why.
SKIPS = {
    r"maillog-sasl auth-test ": "needs an SMTP server to log in to; tests/test_auth_test.py runs "
                                "auth-test against tests/smtp_fake_server.py",
    r"maillog-sasl watch (?!.*--once)": "follows the log until it is stopped; tests/test_watch.py "
                                        "follows logs across rotations and stops them",
    r"--dask (?!local )": "needs a Dask scheduler; tests/test_dask.py runs --dask against a "
                          "local cluster's",
}
if importlib.util.find_spec("distributed") is None:  # the [dask] extra is not in [test]
    SKIPS[r"--dask local "] = ("needs Dask (pip install '.[dask]'); tests/test_dask.py says "
                               "so when it skips")
LOG_PATH = re.compile(r"/var/log/mail(log|\.log)([.*-][^/]*)?")    # not /var/log/maillog-sasl/...
WATCH_FILES = ("/var/lib/maillog-sasl/", "/var/log/maillog-sasl/")

FAKE_POSTCONF = textwrap.dedent("""\
    #!{python}
    # A stock main.cf: no restriction list applies check_sasl_access; master.cf overrides nothing.
    import sys
    args = sys.argv[1:]
    if "-h" in args:
        for name in args[args.index("-h") + 1:]:
            print("hash" if name == "default_database_type" else "")
    """)
FAKE_COMMAND = "#!/bin/sh\nexit 0\n"


@dataclass
class Example:
    line: int                      # README.md's line of the command
    command: str                   # as written, continuation lines joined, comment included
    shown: Optional[List[str]]     # (a): the output shown; (b): None, not compared
    argv: List[str] = field(default_factory=list)
    exit: int = 0
    stdin_sample: bool = False     # `... | maillog-sasl -`
    head: Optional[int] = None
    count: bool = False            # `| wc -l`
    stderr_too: bool = False       # `2>&1`
    stdout_file: Optional[str] = None
    compared: bool = True

    @property
    def id(self):
        return f"README.md:{self.line}: {self.command}"


# -- reading README.md --------------------------------------------------------------------------

def fenced_blocks(text):
    """(line number of the block's first line, its lines) of each fenced code block."""
    block, start = None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if block is None:
                block, start, indent = [], number + 1, len(line) - len(line.lstrip())
            else:
                yield start, block
                block = None
        elif block is not None:
            block.append(line[indent:] if not line[:indent].strip() else line.lstrip())


def joined(lines, start):
    """(line number, line) with `\\` continuations joined."""
    pending, first = "", start
    for number, line in enumerate(lines, start):
        if not pending:
            first = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield first, pending + line
        pending = ""


def examples(text=None):
    found = []
    for start, block in fenced_blocks(README.read_text() if text is None else text):
        current = None     # the (a) example whose output is being read, or False after `$ other`
        for number, line in joined(block, start):
            if line.startswith("$ "):
                command = line[2:].strip()
                current = False
                if command.startswith("maillog-sasl "):
                    current = Example(number, command, [])
                    found.append(current)
                elif has_maillog_sasl(command):
                    found.append(Example(number, command, None))
            elif current:
                current.shown.append(line.rstrip())
            elif current is None and has_maillog_sasl(line):
                found.append(Example(number, line.strip(), None))
    for example in found:
        parse(example)
    return found


def has_maillog_sasl(line):
    """Whether maillog-sasl is a command of the shell line; a line that is not shell (JSON, an
    unbalanced quote) has none, unless it starts with maillog-sasl: then it must be shell."""
    if "maillog-sasl" not in line:
        return False
    try:
        words = tokens(line)[0]
    except ValueError:
        if line.lstrip().startswith("maillog-sasl"):
            raise
        return False
    return any(command[:1] == ["maillog-sasl"] for command in pipelines(words))


def tokens(command):
    """(shell words, comment): a `#` that starts a word outside quotes starts the comment."""
    quote, code, comment = None, command, ""
    for index, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or command[index - 1].isspace()):
            code, comment = command[:index], command[index:]
            break
    lexer = shlex.shlex(code, posix=True, punctuation_chars=True)
    lexer.commenters = ""
    lexer.whitespace_split = True
    return list(lexer), comment


def pipelines(words):
    """The words of each simple command, split at `|`, `&&`, `||` and `;`."""
    commands, current = [], []
    for word in words:
        if word in ("|", "&&", "||", ";"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    return [*commands, current]


def parse(example):
    words, comment = tokens(example.command)
    status = re.search(r"\bexit (\d+)\b", comment)
    example.exit = int(status.group(1)) if status else 0
    if words[-3:] == ["2", ">&", "1"]:
        example.stderr_too, words = True, words[:-3]
    # The first simple command that is maillog-sasl, and what follows it.
    start = next(index for index, word in enumerate(words) if word == "maillog-sasl"
                 and (index == 0 or words[index - 1] in ("|", "&&", "||", ";")))
    example.stdin_sample = start > 0 and words[start - 1] == "|"
    rest = words[start + 1:]
    end = next((index for index, word in enumerate(rest) if word in ("|", "&&", "||", ";", ">")),
               len(rest))
    example.argv, after = rest[:end], rest[end:]
    if after[:1] == [">"]:
        example.stdout_file, after = after[1], after[2:]
    if after[:1] == ["|"] and example.shown is not None:
        tail = after[1:]
        if len(tail) == 2 and tail[0] == "head" and re.fullmatch(r"-n?\d+", tail[1]):
            example.head = int(tail[1].lstrip("-n"))
        elif tail == ["wc", "-l"]:
            example.count = True
        else:
            example.compared = False      # `| postsuper -d -`: shown, not run
    if example.shown is None:
        example.compared = False


# -- running an example -------------------------------------------------------------------------

def arguments(example, tmp_path):
    """The example's argv with the shipped sample for log paths and tmp_path for output files."""
    argv, logs_seen = [], False
    words = iter(example.argv)
    for word in words:
        if LOG_PATH.fullmatch(word):
            if not logs_seen:
                argv.append(SAMPLE)
            logs_seen = True
        elif word in ("-o", "--output", "--alert-log", "--state"):
            argv += [word, str(tmp_path / Path(next(words)).name)]
        elif word.startswith(WATCH_FILES):
            argv.append(str(tmp_path / Path(word).name))
        elif word.startswith("--output="):
            argv.append("--output=" + str(tmp_path / Path(word.split("=", 1)[1]).name))
        elif word == DEFAULT_MAP:
            argv.append(str(tmp_path / "sasl_access"))
        else:
            argv.append(word)
    return argv


def fake_postfix(tmp_path, monkeypatch):
    from maillog_sasl import contain

    directory = tmp_path / "fake-postfix"
    directory.mkdir(exist_ok=True)
    for name, text in (("postconf", FAKE_POSTCONF.format(python=sys.executable)),
                       ("postsuper", FAKE_COMMAND), ("postmap", FAKE_COMMAND)):
        (directory / name).write_text(text)
        (directory / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setattr(contain, "SBIN_DIRS", ())
    monkeypatch.setattr(contain, "is_root", lambda: False)
    monkeypatch.setattr(contain, "DEFAULT_MAP", str(tmp_path / "sasl_access"))


def run(example, tmp_path, monkeypatch, capsys):
    """(exit status, the output to compare with what README shows)."""
    from maillog_sasl.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("MAILLOG_SASL_PASSWORD", raising=False)
    time.tzset()
    stdin = (ROOT / SAMPLE).read_bytes() if example.stdin_sample else b""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    argv = arguments(example, tmp_path)
    if argv[:1] == ["contain"]:
        fake_postfix(tmp_path, monkeypatch)
    if argv[:1] in (["watch"], ["state"]) and "--state" not in argv:
        argv[1:1] = ["--state", str(tmp_path / "state.sqlite")]
    if argv[:1] == ["state"]:
        with contextlib.redirect_stdout(io.StringIO()):   # the state the examples look at
            main(["watch", "--once", "--state", str(tmp_path / "state.sqlite"), SAMPLE])

    def typed(prompt="Password: "):
        print(prompt)             # what the terminal shows: the prompt, then the Enter typed
        return SEED_PASSWORD

    monkeypatch.setattr(getpass, "getpass", typed)
    capsys.readouterr()
    try:
        code = main(argv)
    finally:
        monkeypatch.undo()
        time.tzset()
    captured = capsys.readouterr()
    out = captured.out.replace(str(tmp_path / "sasl_access"), DEFAULT_MAP)
    if example.stdout_file:
        (tmp_path / Path(example.stdout_file).name).write_text(out)
        out = ""
    lines = out.splitlines()
    if example.stderr_too:
        lines += captured.err.splitlines()
    if example.head is not None:
        lines = lines[:example.head]
    if example.count:
        lines = [str(len(lines))]
    return code, [line.rstrip() for line in lines], captured.err


def matches(shown, real):
    """Whether `real` is `shown`, a shown line `...` standing for one or more lines."""
    if "..." not in shown:
        return shown == real
    parts, current = [], []
    for line in shown:
        if line == "...":
            parts.append(current)
            current = []
        else:
            current.append(line)
    parts.append(current)
    first, *middle, last = parts
    if real[:len(first)] != first:
        return False
    position = len(first) + 1                       # `...` is at least one line
    for part in middle:
        found = next((index for index in range(position, len(real) - len(part) + 1)
                      if real[index:index + len(part)] == part), None)
        if found is None:
            return False
        position = found + len(part) + 1
    return len(real) - len(last) >= position and (not last or real[-len(last):] == last)


def skip_reason(example):
    return next((why for pattern, why in SKIPS.items() if re.search(pattern, example.command)),
                None)


# -- the tests ----------------------------------------------------------------------------------

EXAMPLES = examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_readme_example(example, tmp_path, monkeypatch, capsys):
    reason = skip_reason(example)
    if reason:
        pytest.skip(reason)
    code, real, err = run(example, tmp_path, monkeypatch, capsys)
    assert code == example.exit, f"exit {code}, not {example.exit}; stderr:\n{err}"
    if example.compared:
        assert matches(example.shown, real), (
            "README.md shows:\n" + "\n".join(example.shown)
            + "\n\nthe command prints:\n" + "\n".join(real))


def test_the_readme_has_examples_of_each_kind():
    compared = [example for example in EXAMPLES if example.compared]
    assert len(compared) >= 10 and len(EXAMPLES) - len(compared) >= 10
    assert any(example.head for example in compared)
    assert any(example.stdin_sample for example in EXAMPLES)


def test_every_skip_matches_an_example():
    for pattern in SKIPS:
        assert any(re.search(pattern, example.command) for example in EXAMPLES), pattern


def test_the_first_lines_are_the_two_commands():
    text = README.read_text()
    _, first = next(fenced_blocks(text))
    assert text.splitlines()[0] == "# maillog-sasl"
    assert text.splitlines()[1:3] == ["", "```sh"]
    assert first == ["pip install . && maillog-sasl sample_logs/maillog-sample.log",
                     "pip install '.[test]' && pytest"]


def test_commands_are_only_in_fenced_blocks():
    """An indented code block is not read above: no command may hide in one."""
    fenced = set()
    for start, block in fenced_blocks(README.read_text()):
        fenced.update(range(start - 1, start + len(block) + 1))
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if number not in fenced and line.startswith("    ") and has_command(line):
            pytest.fail(f"README.md:{number}: a command outside a fenced block: {line.strip()}")


def has_command(line):
    return has_maillog_sasl(line.strip().removeprefix("$ "))


def test_the_options_table_names_every_option():
    """README's options table and `maillog-sasl --help` list the same options, and each row's
    example parses."""
    from maillog_sasl.cli import build_parser

    parser = build_parser()
    text = README.read_text()
    section = text[text.index("## Options"):]
    section = section[:section.index("\n## ")]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    named = set()
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
        named.update(re.findall(r"`(-[-\w]+)", cells[0] + cells[-1]))
        for example in re.findall(r"`([^`]+)`", cells[-1]):
            if example.startswith("-") and example not in ("--help", "--version"):
                parser.parse_args([*shlex.split(example), SAMPLE])
    options = {string for action in parser._actions for string in action.option_strings}
    assert sorted(options - named) == [] and sorted(named - options) == []


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_lead_somewhere():
    """Every `(#anchor)` is a heading of README.md, every relative link a file of the tree."""
    text = README.read_text()
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = {slug(line.lstrip("#")) for line in outside.splitlines() if line.startswith("#")}
    for target in re.findall(r"\]\(([^)\s]+)\)", outside):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        elif not re.match(r"[a-z]+:", target):
            assert (ROOT / target.split("#")[0]).exists(), target


def test_examples_parse_as_documented():
    """The rules of the docstring, on a made-up README."""
    text = textwrap.dedent("""\
        ```console
        $ maillog-sasl -r ips --flagged -f ids /var/log/maillog* | head -2   # two
        1.2.3.4
        ...
        $ maillog-sasl -r users -f ids log 2>&1   # exit 2
        $ postsuper -d - < purge.txt
        maillog-sasl: not run, postsuper's output
        $ maillog-sasl -r queue --flagged -f ids \\
              /var/log/maillog | postsuper -d -
        ```

        ```sh
        pip install . && maillog-sasl log
        journalctl -u postfix -o short-iso | maillog-sasl -
        maillog-sasl -o out.csv /var/log/maillog.1.gz /var/log/maillog > x   # exit 2 here
        ```
        """)
    found = examples(text)
    assert [(e.line, e.argv, e.exit, e.compared) for e in found] == [
        (2, ["-r", "ips", "--flagged", "-f", "ids", "/var/log/maillog*"], 0, True),
        (5, ["-r", "users", "-f", "ids", "log"], 2, True),
        (8, ["-r", "queue", "--flagged", "-f", "ids", "/var/log/maillog"], 0, False),
        (13, ["log"], 0, False),
        (14, ["-"], 0, False),
        (15, ["-o", "out.csv", "/var/log/maillog.1.gz", "/var/log/maillog"], 2, False),
    ]
    assert found[0].head == 2 and found[0].shown == ["1.2.3.4", "..."]
    assert found[1].stderr_too and found[1].shown == []
    assert found[4].stdin_sample and found[5].stdout_file == "x"
    assert arguments(found[5], Path("/tmp/t")) == ["-o", "/tmp/t/out.csv", SAMPLE]
    watch = Example(0, "", None, argv=["watch", "--alert-log", "/var/log/maillog-sasl/a.ndjson",
                                       "/var/log/mail.log*", "/var/log/maillog-20261201"])
    assert arguments(watch, Path("/tmp/t")) == ["watch", "--alert-log", "/tmp/t/a.ndjson", SAMPLE]
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "c", "...", "e"], list("abcde"))
    assert matches(["a", "..."], ["a", "b"]) and not matches(["a", "..."], ["a"])
    assert not matches(["a", "...", "c"], ["a", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])


if __name__ == "__main__":
    # python tests/test_readme.py [TEXT]: each example (containing TEXT) and its real output.
    from _pytest.monkeypatch import MonkeyPatch

    class Capture:
        def readouterr(self):
            out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
            sys.stdout.seek(0), sys.stdout.truncate(), sys.stderr.seek(0), sys.stderr.truncate()
            return type("Captured", (), {"out": out, "err": err})

    import tempfile

    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    real_out = sys.stdout
    for example in EXAMPLES:
        if wanted not in example.command or skip_reason(example):
            continue
        with tempfile.TemporaryDirectory() as directory:
            sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
            try:
                code, lines, err = run(example, Path(directory), MonkeyPatch(), Capture())
            finally:
                sys.stdout, sys.stderr = real_out, sys.__stderr__
        print(f"$ {example.command}    [line {example.line}, exit {code}]")
        print("\n".join(lines) if example.compared else "(not compared)")
        print()
