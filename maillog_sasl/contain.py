"""contain: hold a compromised account's queued mail and refuse its logins (`contain`).

SUMMARY
    check_user(text) -> the SASL username, or ContainError
    table_key(line) -> the key postmap reads from a table line, None for one it skips
    queued_ids(user, paths, host=None) -> Queued(ids, hosts, problems, instances)
    queued_in_state(user, state_path, host=None) -> Queued   the same from watch's state
    edit_block(text, user, action) -> the map file's new text (action None: remove the user)
    write_atomic(path, text)               output.AtomicWriter: mode and owner kept, new 0644
    Postfix(config_dir=None, search_path=None)   the postsuper / postmap / postconf commands
    postfix.instance(name) -> the same commands for Postfix instance `name` (postmulti -x)
    contain(user, queue_ids=..., map_path=..., map_action=..., release=..., dry_run=...,
            postfix=..., echo=print)       do (or with dry_run, show) the containment
            (queue_ids: a list, or {instance: its list})

DESCRIPTION
    Two levers, each undone by release=True:

    hold      the user's messages still queued at the end of the logs (the `queue` report,
              rows of exactly that username), or held open by the state of `watch`, go on
              hold: their queue IDs are written to the standard input of `postsuper -h -`
              (release: `postsuper -H -`). Nothing is deleted; the administrator reviews the
              hold queue (`postqueue -j`, `postcat -q`) and deletes or releases.
              On a host of several Postfix instances (postmulti(1)), each with its queue, a
              queue ID names a message only in its own instance's queue: the IDs go to each
              instance's postsuper, `postmulti -i NAME -x postsuper -h -` for an instance
              other than the primary. An instance is the syslog_name of its queue's daemons
              (the queue report's `instance`, the state's queue table's), which defaults to
              its multi_instance_name, the name postmulti -i takes; `postfix` (the default
              syslog_name, that of an instance with no name: the primary) and an instance
              unknown take the commands as they are.
    map       the line `USER REJECT compromised account: contact support` (or `USER HOLD ...`:
              the account's new mail is accepted and held) goes into a check_sasl_access table,
              inside a block this module owns:

                  # BEGIN maillog-sasl contain
                  # Managed by `maillog-sasl contain`; lines outside this block are yours.
                  bad@example.com REJECT compromised account: contact support
                  # END maillog-sasl contain

              Lines outside the block are never changed; the block is appended to the end of
              the file the first time. The file is replaced atomically (output.AtomicWriter: a
              temporary file in the same directory, fsync, rename, the directory fsync'ed) with
              its mode and owner (one it cannot give is a failure; a new file is 0644 whatever
              the umask), under an flock of the directory against a second `contain` at the
              same time. Then `postmap TYPE:FILE` rebuilds the indexed table (smtpd notices the
              new table at its next connection; no reload). release=True removes the user's
              line.

    The table type is the one main.cf's check_sasl_access names for that file, else main.cf's
    default_database_type, else hash. When no smtpd restriction list (main.cf, or a master.cf
    service's -o override) applies check_sasl_access with that table, or a permit comes before
    it, the main.cf line to add is printed (`smtpd_sender_restrictions = check_sasl_access
    hash:/etc/postfix/sasl_access, ...`): writing the table alone refuses nobody. Each Postfix
    instance reads its own main.cf: the one looked at is that of postconf (the primary's, or
    that of -c DIR); every other instance the user's queued mail went through is looked at as
    well (`postmulti -i NAME -x postconf`), what it lacks printed under its name.

    USER comes from logs, which an attacker writes into: check_user() refuses the empty name,
    whitespace, control and format characters, a leading '#', and a double quote left open or
    a backslash at the end (postmap, since Postfix 3.2, reads a key up to the first whitespace
    outside quotes, a backslash escaping the character after it: `ab"cd REJECT ...` is a line
    it skips, `ef\\ REJECT ...` the key `ef\\ REJECT`): it could not be one key of an
    access(5) table. No command ever goes through a shell: argument lists only, queue IDs on
    standard input, and only those that look like Postfix queue IDs.

    With dry_run=True nothing changes: the commands (as shell lines one could run) and the
    map change (a unified diff) are printed instead. main.cf is still read (postconf -h reads,
    never writes).

DIAGNOSTICS
    ContainError, one line, for every failure: a USER that cannot be a table key; a Postfix
    command not found (on the search path: $PATH, then /usr/sbin and /usr/local/sbin) or
    failing (its last line of output is quoted); a map file that cannot be read, or written
    with its owner; a block that is malformed (a BEGIN without END, two blocks) or an entry
    for USER outside the block (smtpd would use the first of the two keys: edit it by hand); a
    table type postmap cannot build; queued messages of USER on several hosts without `host`.
    What was done before the failure stays done and was printed. A postconf that fails is not
    a failure: the type is then guessed (hash) and the main.cf check is said to be skipped.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import re
import shlex
import subprocess
import unicodedata
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from maillog_sasl import report
from maillog_sasl.correlate import account_of
from maillog_sasl.output import AtomicWriter
from maillog_sasl.state import read_queue

BEGIN = "# BEGIN maillog-sasl contain"
END = "# END maillog-sasl contain"
BLOCK_NOTE = "# Managed by `maillog-sasl contain`; lines outside this block are yours."
REJECT = "REJECT compromised account: contact support"
HOLD = "HOLD compromised account"
DEFAULT_MAP = "/etc/postfix/sasl_access"
MAP_NAME = "sasl_access"  # under --config-dir
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")
# The syslog_name of an instance with no multi_instance_name (mail_params.h's DEF_SYSLOG_NAME):
# the primary instance's, unless set by hand.
PRIMARY = "postfix"
# postmap builds these; texthash needs no postmap (smtpd reads the text at start: reload).
INDEXED_TYPES = ("hash", "btree", "lmdb", "cdb", "dbm", "sdbm")
TEXT_TYPES = ("texthash",)
# Restriction lists where check_sasl_access can act on a logged-in client (the client and helo
# lists only under smtpd_delay_reject=yes, the default).
RESTRICTION_LISTS = ("smtpd_client_restrictions", "smtpd_helo_restrictions",
                     "smtpd_sender_restrictions", "smtpd_relay_restrictions",
                     "smtpd_recipient_restrictions", "smtpd_data_restrictions",
                     "smtpd_end_of_data_restrictions")
SUGGESTED_LISTS = ("smtpd_sender_restrictions", "smtpd_recipient_restrictions")
# An instance's name as the queue report gives it (a syslog_name): printable ASCII, no space. A
# name of other characters is a line no Postfix wrote, and goes to no command.
INSTANCE = re.compile(r"[!-~]+")
# Short (hex) and long (base-52 with a 'z' separator) queue IDs.
QUEUE_ID = re.compile(r"[0-9A-Za-z]{5,32}")
# What ends a table line's key: the C library's isspace() in the C locale (Postfix's ISSPACE).
_POSTFIX_SPACE = " \t\n\v\f\r"
COMMAND_TIMEOUT = 600


class ContainError(Exception):
    """A failure: one line, for stderr."""


def check_user(text: str) -> str:
    """`text` as a SASL username that can be one key of an access(5) table, else ContainError."""
    if not text:
        raise ContainError("USER is empty")
    shown = text.encode("unicode_escape").decode("ascii")
    if any(char.isspace() for char in text):
        raise ContainError(f"USER contains whitespace: {shown!r}")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in text):
        raise ContainError(f"USER contains control characters: {shown!r}")
    if text.startswith("#"):
        raise ContainError(f"USER starts with '#' (a comment in the table): {shown!r}")
    if table_key(f"{text} {REJECT}") != text:
        raise ContainError("USER has a double quote left open or a backslash at its end, and "
                           f"postmap would read another key from its line: {shown!r}")
    return text


def table_key(line: str) -> Optional[str]:
    """The key postmap reads from a table line (Postfix 3.2 and later; texthash too): up to
    the first whitespace outside double quotes, a backslash taking the character after it,
    quotes and backslashes kept. None for a line whose quote is left open: postmap skips it
    with a warning, and exits 0."""
    in_quotes = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in _POSTFIX_SPACE and not in_quotes:
            break
        if char == '"':
            in_quotes = not in_quotes
        index += 1
    return None if in_quotes else line[:index]


# -- the queue IDs ------------------------------------------------------------------------------

class Queued(NamedTuple):
    ids: List[str]        # queue IDs to hold or release, in the report's order
    hosts: List[str]      # the hosts those messages were queued on
    problems: List[str]   # inputs that could not be read (one line each)
    # The same IDs by the Postfix instance whose queue holds them ("": not known).
    instances: Dict[str, List[str]] = {}


def queued_ids(user: str, paths: Sequence[str], host: Optional[str] = None) -> Queued:
    """The queue IDs of `user`'s messages still queued at the end of the logs at `paths`.

    The rows of the `queue` report whose user is `user` in any case (its own messages, what a
    content filter re-injected for it, the notices they caused: the correlator names an
    account in lower case, correlate.account_of()); with `host`, only those
    logged by that host. Raises ContainError when they are on several hosts and no `host` is
    given: a queue ID means something only on its own host.
    """
    result = report("queue", list(paths))
    account = account_of(user)
    rows = [(row["host"], row["queue_id"], row["instance"]) for row in result.rows
            if row["user"] == account and (host is None or row["host"] == host)]
    return _queued(user, "the logs hold", rows, [str(problem) for problem in result.problems])


def queued_in_state(user: str, path: str, host: Optional[str] = None) -> Queued:
    """The queue IDs of `user`'s messages that the state of `watch` at `path` holds open (its
    last commit), as queued_ids() gives them from logs. The state's plain queue table is read,
    nothing unpickled (state.read_queue): root may read the state of the unprivileged watch
    user; those queue IDs can lead to a hold, never to a deletion. Raises state.StateError
    when the state cannot be read, ContainError for several hosts without `host`."""
    # (A state of an older version may name an account in the case its login was typed in.)
    wanted = account_of(user)
    rows = [(row_host, queue_id, instance)
            for row_host, queue_id, account, instance in read_queue(path)
            if account_of(account) == wanted and (host is None or row_host == host)]
    return _queued(user, "the state holds", rows, [])


def _queued(user: str, source: str, rows: List[Tuple[str, str, str]], problems: List[str]
            ) -> Queued:
    """Queued of `user`'s (host, queue ID, instance) `rows`, which `source` ("the logs hold")
    holds: each ID once, those that look like one; ContainError for rows of several hosts."""
    hosts = sorted({row_host for row_host, _, _ in rows})
    if len(hosts) > 1:
        raise ContainError(f"{source} queued messages of {user} on several hosts "
                           f"({', '.join(hosts)}): name this one with --host")
    ids: List[str] = []
    instances: Dict[str, List[str]] = {}
    for _, queue_id, instance in rows:
        if QUEUE_ID.fullmatch(queue_id) and queue_id not in ids:
            ids.append(queue_id)
            instances.setdefault(instance, []).append(queue_id)
    return Queued(ids, hosts, problems, instances)


# -- the map file -------------------------------------------------------------------------------

def _key(line: str) -> Optional[str]:
    """The lookup key of a table line (folded as postmap folds it), None for comments and for
    a line postmap skips."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or line[:1].isspace():
        return None
    key = table_key(stripped)
    return key.lower() if key is not None else None


def _find_block(lines: List[str], path: str) -> Optional[Tuple[int, int]]:
    begins = [index for index, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [index for index, line in enumerate(lines) if line.strip() == END]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ContainError(f"{path}: the '{BEGIN}' ... '{END}' block is damaged "
                           f"({len(begins)} BEGIN, {len(ends)} END lines): fix it by hand")
    return begins[0], ends[0]


def _lines(text: str) -> List[str]:
    """The file's lines, split on newlines alone (a CR or a form feed stays in its line)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def edit_block(text: str, user: str, action: Optional[str], path: str = "the map") -> str:
    """The table's text with `user action` in the block (replacing the user's line there), or
    with the user's line removed when `action` is None. Lines outside the block are kept as
    they are; a block left empty is kept (it is ours). Raises ContainError when the block is
    damaged or the user has a line outside it."""
    lines = _lines(text)
    found = _find_block(lines, path)
    key = user.lower()
    inside = range(found[0] + 1, found[1]) if found else range(0)
    for number, line in enumerate(lines, 1):
        if number - 1 not in inside and _key(line) == key:
            raise ContainError(f"{path}:{number}: {user} already has an entry outside the "
                               "block maillog-sasl owns: edit that line by hand")
    if found is None:
        if action is None:
            return text
        separator = [""] if lines and lines[-1].strip() else []
        return "\n".join(lines + separator + [BEGIN, BLOCK_NOTE, f"{user} {action}", END]) + "\n"
    start, end = found
    body = [line for line in lines[start + 1:end] if _key(line) != key]
    if action is not None:
        body.append(f"{user} {action}")
    return "\n".join(lines[:start + 1] + body + lines[end:]) + "\n"


def read_map(path: str) -> Optional[str]:
    """The table's text; None when the file does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ContainError(f"{path}: cannot read: {error.strerror}") from None


def write_atomic(path: str, text: str) -> None:
    """Replace `path` by `text` with output.AtomicWriter (a symbolic link is followed: its
    target is replaced). The old file's mode and owner are kept, and an owner that cannot be
    given fails the write: the map does not change hands. A new file is 0644 whatever our umask:
    postmap and smtpd must read it. ContainError on failure; no temporary file is left behind."""
    try:
        writer = AtomicWriter(path, "wb", new_mode=0o644, owner_required=True)
    except OSError as error:
        raise ContainError(f"{path}: cannot write in {_directory_of(path)}: "
                           f"{error.strerror or error}") from None
    try:
        with writer as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))
    except OSError as error:
        raise ContainError(f"{path}: cannot write: {error.strerror or error}") from None


def _directory_of(path: str) -> str:
    """The directory of the file `path` names (a symbolic link followed): where the map is
    replaced, and locked."""
    return os.path.dirname(os.path.realpath(path)) or "."


@contextlib.contextmanager
def _locked_directory(path: str):
    """An exclusive flock on the map's directory (two `contain` runs never interleave their
    read and rename); a directory that cannot be locked is not locked."""
    try:
        fd = os.open(_directory_of(path), os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def diff(path: str, old: str, new: str) -> List[str]:
    return list(difflib.unified_diff(_lines(old), _lines(new), path, path, n=0, lineterm=""))


# -- Postfix's commands -------------------------------------------------------------------------

class Postfix:
    """Postfix's commands, found on `search_path` (default: $PATH) and then in SBIN_DIRS; with
    `config_dir`, each is given `-c DIR` (a second instance, a test's private one)."""

    def __init__(self, config_dir: Optional[str] = None, search_path: Optional[str] = None,
                 sbin_dirs: Optional[Iterable[str]] = None):
        self.config_dir = config_dir
        path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
        self.search = [entry for entry in path.split(os.pathsep) if entry]
        self.search += list(SBIN_DIRS if sbin_dirs is None else sbin_dirs)

    def find(self, name: str) -> str:
        for directory in self.search:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise ContainError(f"{name}: command not found (searched $PATH and "
                           f"{', '.join(SBIN_DIRS)})")

    def argv(self, name: str, *args: str) -> List[str]:
        """The command as shown: its bare name, then -c DIR, then `args`."""
        return [name, *(["-c", self.config_dir] if self.config_dir else []), *args]

    def instance(self, name: str) -> "Postfix":
        """The commands for the Postfix instance `name` (or the primary's, for `postfix` or
        one not known: see the module docstring)."""
        return self if name in ("", PRIMARY) else _Instance(name, self.search)

    def run(self, name: str, *args: str, stdin: str = "") -> Tuple[str, str]:
        """Run the command; its (stdout, stderr), or ContainError when it cannot be started,
        fails or times out."""
        argv = self.argv(name, *args)
        shown = shlex.join(argv)
        program = self.find(argv[0])
        try:
            done = subprocess.run([program, *argv[1:]], input=stdin,
                                  capture_output=True, text=True, errors="replace",
                                  timeout=COMMAND_TIMEOUT, env=_environment())
        except subprocess.TimeoutExpired:
            raise ContainError(f"{shown}: no answer in {COMMAND_TIMEOUT} s") from None
        except OSError as error:
            raise ContainError(f"{shown}: cannot run {program}: {error.strerror}") from None
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            last = output.splitlines()[-1] if output else "no output"
            how = (f"exit status {done.returncode}" if done.returncode > 0
                   else f"signal {-done.returncode}")
            raise ContainError(f"{shown} failed ({how}): {last}")
        return done.stdout, done.stderr

    def postconf(self, *names: str, master: bool = False) -> Optional[List[str]]:
        """`postconf -x -h NAMES` (or `-P -x` for master.cf) as lines; None when it fails."""
        try:
            args = ("-P", "-x") if master else ("-x", "-h", *names)
            return self.run("postconf", *args)[0].split("\n")[:-1]
        except ContainError:
            return None


class _Instance(Postfix):
    """The commands run for a Postfix instance by postmulti: `postmulti -i NAME -x COMMAND`
    (postmulti gives the command the instance's MAIL_CONFIG)."""

    def __init__(self, name: str, search: List[str]):
        super().__init__(search_path="", sbin_dirs=())
        self.name, self.search = name, search

    def argv(self, name: str, *args: str) -> List[str]:
        return ["postmulti", "-i", self.name, "-x", name, *args]


def _environment() -> Dict[str, str]:
    """The commands' environment: ours, in the C locale (their messages are quoted)."""
    environ = dict(os.environ)
    environ["LC_ALL"] = "C"
    return environ


# -- main.cf ------------------------------------------------------------------------------------

def _tables(value: str) -> List[Tuple[str, int]]:
    """(table, position) of each check_sasl_access in a restriction list's value."""
    words = [word for word in re.split(r"[\s,]+", value) if word]
    return [(words[index + 1], index) for index, word in enumerate(words[:-1])
            if word.lower() == "check_sasl_access"]


def _permits_before(value: str, position: int) -> List[str]:
    words = [word for word in re.split(r"[\s,]+", value) if word]
    return [word for word in words[:position]
            if word.lower() in ("permit", "permit_sasl_authenticated")]


def _same_file(table_file: str, path: str) -> bool:
    return os.path.realpath(table_file) == os.path.realpath(path)


class MainCf(NamedTuple):
    map_type: str
    hints: List[str]   # what to print: empty when the table is in use


def inspect_main_cf(postfix: Postfix, path: str) -> MainCf:
    """The table type to build `path` with, and what main.cf (or master.cf) lacks for the
    table to refuse anyone (see the module docstring)."""
    names = (*RESTRICTION_LISTS, "default_database_type")
    values = postfix.postconf(*names)
    if values is None or len(values) != len(names):
        table = f"hash:{path}"
        return MainCf("hash", [f"# main.cf could not be read (postconf failed): type hash "
                               f"assumed; make sure a restriction list applies "
                               f"check_sasl_access {table}"])
    settings = dict(zip(names, values))
    default_type = settings.pop("default_database_type").strip() or "hash"
    map_type, other_tables = None, []
    for value in settings.values():
        for table, _ in _tables(value):
            kind, _, name = table.partition(":")
            if _same_file(name, path):
                map_type = map_type or kind
            elif table not in other_tables:
                other_tables.append(table)
    map_type = map_type or default_type
    table = f"{map_type}:{path}"
    hints: List[str] = []
    lists_ok = _check_lists(settings, path, "main.cf", hints)
    if not lists_ok:
        current = settings["smtpd_sender_restrictions"].strip()
        line = f"smtpd_sender_restrictions = check_sasl_access {table}"
        if current:
            line += f", {current}"
        hints.append(f"# main.cf: no {' or '.join(SUGGESTED_LISTS)} applies check_sasl_access "
                     f"{table}, so the table refuses nobody; add this line to main.cf, then run "
                     "`postfix reload`:")
        hints.append(f"#     {line}")
        if other_tables:
            hints.append(f"# (main.cf applies check_sasl_access {', '.join(other_tables)}: "
                         "is that the table to give with --sasl-access?)")
    overrides = _master_overrides(postfix)
    for service, changed in sorted(overrides.items()):
        effective = dict(settings, **changed)
        if lists_ok and not _check_lists(effective, path, f"master.cf {service}", hints):
            name = sorted(changed)[0]
            words = [word for word in re.split(r"[\s,]+", changed[name]) if word]
            hints.append(f"# master.cf: service {service} overrides "
                         f"{', '.join(sorted(changed))} without check_sasl_access {table}; "
                         "there, use:")
            hints.append(f"#     -o {name}=" + ",".join(["check_sasl_access", table, *words]))
    return MainCf(map_type, hints)


def _check_lists(settings: Dict[str, str], path: str, where: str, hints: List[str]) -> bool:
    """Whether a list applies check_sasl_access with the table; a permit before it is noted."""
    used = False
    for name in RESTRICTION_LISTS:
        for table, position in _tables(settings.get(name, "")):
            if not _same_file(table.partition(":")[2], path):
                continue
            permits = _permits_before(settings[name], position)
            if permits:
                hints.append(f"# {where}: in {name}, {permits[0]} comes before check_sasl_access "
                             f"{table}: a logged-in client is let through before the table is "
                             "read; move check_sasl_access first")
            else:
                used = True
    return used


def _master_overrides(postfix: Postfix) -> Dict[str, Dict[str, str]]:
    """service/type -> {restriction list: value} of master.cf's -o overrides."""
    lines = postfix.postconf(master=True) or []
    overrides: Dict[str, Dict[str, str]] = {}
    for line in lines:
        name, equals, value = line.partition(" = ")
        parts = name.strip().split("/")
        if equals and len(parts) == 3 and parts[2] in RESTRICTION_LISTS:
            overrides.setdefault(f"{parts[0]}/{parts[1]}", {})[parts[2]] = value
    return overrides


# -- the whole containment ----------------------------------------------------------------------

def _stdin_line(ids: Sequence[str], argv: Sequence[str]) -> str:
    """The shell line that would do the same: the queue IDs are checked to be alphanumeric."""
    return f"printf '%s\\n' {' '.join(ids)} | {shlex.join(argv)}"


def contain(user: str, queue_ids: Optional[Union[Sequence[str], Dict[str, List[str]]]] = None,
            map_path: Optional[str] = None, map_action: Optional[str] = REJECT,
            release: bool = False, dry_run: bool = True, postfix: Optional[Postfix] = None,
            echo: Callable[[str], None] = print) -> None:
    """Hold `queue_ids` (None: leave the queue alone; {instance: IDs}: each in its instance's
    queue) and put `user map_action` into the block of the table at `map_path` (None: leave the
    table alone); release=True undoes both (postsuper -H, the user's line removed). Each step
    is echoed as it is done; with dry_run, the commands and the map change are echoed and
    nothing is done. Raises ContainError (see DIAGNOSTICS)."""
    user = check_user(user)
    postfix = postfix or Postfix()
    if dry_run:
        echo("# dry run: nothing is changed; these are the commands and the map change")
    by_instance = (queue_ids if isinstance(queue_ids, dict)
                   else {"": list(queue_ids or ())})
    for name in by_instance:
        if not INSTANCE.fullmatch(name or PRIMARY):
            shown = name.encode("unicode_escape").decode("ascii")
            raise ContainError(f"the logs name a Postfix instance {shown!r} that is no "
                               "syslog_name (a word of printable ASCII): not given to postmulti")
    if queue_ids is not None:
        _queue(user, by_instance, release, dry_run, postfix, echo)
    if map_path is not None:
        _edit_map(user, map_path, None if release else map_action, dry_run, postfix, echo,
                  others=sorted(name for name in by_instance if name not in ("", PRIMARY)))


def _queue(user: str, by_instance: Dict[str, List[str]], release: bool, dry_run: bool,
           postfix: Postfix, echo: Callable[[str], None]) -> None:
    groups: List[Tuple[Postfix, List[str]]] = []
    # The primary's (and those of no instance known) first, as one; then each other's.
    for name in sorted(by_instance, key=lambda name: (postfix.instance(name) is not postfix,
                                                      name)):
        ids = [queue_id for queue_id in by_instance[name] if QUEUE_ID.fullmatch(queue_id)]
        commands = postfix.instance(name)
        if groups and groups[-1][0] is commands:
            groups[-1][1].extend(ids)
        elif ids:
            groups.append((commands, ids))
    if not groups:
        echo(f"# no queued message of {user} in the logs: nothing to "
             + ("release" if release else "hold"))
        return
    flag = "-H" if release else "-h"
    for commands, ids in groups:
        echo(_stdin_line(ids, commands.argv("postsuper", flag, "-")))
        if dry_run:
            _note_missing(commands, "postsuper", echo)
            continue
        output = commands.run("postsuper", flag, "-", stdin="".join(f"{qid}\n" for qid in ids))
        _echo_output(output, echo)


def _edit_map(user: str, path: str, action: Optional[str], dry_run: bool, postfix: Postfix,
              echo: Callable[[str], None], others: Sequence[str] = ()) -> None:
    """The map change, then what main.cf lacks for it to act; the same of each of the `others`
    instances (each reads its own main.cf)."""
    main_cf = inspect_main_cf(postfix, path)
    if main_cf.map_type not in INDEXED_TYPES + TEXT_TYPES:
        raise ContainError(f"{main_cf.map_type}:{path}: maillog-sasl edits only tables of type "
                           f"{', '.join(INDEXED_TYPES + TEXT_TYPES)}")
    table = f"{main_cf.map_type}:{path}"
    with _locked_directory(path):
        old = read_map(path)
        if old is None and action is None:
            echo(f"# {path} does not exist: no entry of {user} to remove")
            return
        new = edit_block(old or "", user, action, path)
        if new == (old or ""):
            what = f"has {action}" if action is not None else "has no entry"
            echo(f"# {path}: {user} already {what}: no change")
        else:
            for line in diff(path, old or "", new):
                echo(line)
            if not dry_run:
                write_atomic(path, new)
    if main_cf.map_type in INDEXED_TYPES:
        echo(shlex.join(postfix.argv("postmap", table)))
        if dry_run:
            _note_missing(postfix, "postmap", echo)
        else:
            _echo_output(postfix.run("postmap", table), echo)
    else:
        echo(f"# {table} is read when smtpd starts: run `postfix reload`")
    if action is None:
        return
    for hint in main_cf.hints:
        echo(hint)
    for name in others:
        hints = inspect_main_cf(postfix.instance(name), path).hints
        echo(f"# instance {name} reads its own main.cf and master.cf "
             f"(`postmulti -i {name} -x postconf`): "
             + ("they apply this table too" if not hints else "there:"))
        for hint in hints:
            echo(hint.replace("`postfix reload`", f"`postmulti -i {name} -p reload`"))


def _echo_output(output: Tuple[str, str], echo: Callable[[str], None]) -> None:
    for line in "".join(output).splitlines():
        if line.strip():
            echo(line)


def _note_missing(postfix: Postfix, name: str, echo: Callable[[str], None]) -> None:
    """In a dry run, a missing command is said, not a failure (nothing would run now)."""
    try:
        postfix.find(postfix.argv(name)[0])
    except ContainError as error:
        echo(f"# note: {error}")


def is_root() -> bool:
    return os.geteuid() == 0


__all__ = ["BEGIN", "END", "HOLD", "PRIMARY", "REJECT", "ContainError", "Postfix", "check_user",
           "contain", "edit_block", "inspect_main_cf", "queued_ids", "queued_in_state",
           "table_key", "write_atomic"]
