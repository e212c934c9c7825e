"""output: write a file whole or not at all, and never over a file that is being read.

SUMMARY
    same_file(target, inputs) -> the first of `inputs` that is the file `target` names, or None
    AtomicWriter(path, mode="w", encoding=None, newline=None, *, new_mode=None,
                 owner_required=False)                          .file, .commit(), .discard()
    with AtomicWriter(path, ...) as handle: ...                 committed when the block ends

DESCRIPTION
    `maillog-sasl -o maillog maillog` once truncated the log it was about to read. same_file()
    compares the target with every input by device and inode (os.stat follows symlinks, so a
    symlink or a hard link to an input is the same file; an open descriptor, such as standard
    input, is compared through os.fstat). Only a regular file can be destroyed this way: a
    target that does not exist, or is a terminal, a pipe or a device, is never "the same file".
    The caller checks before it opens anything for writing.

    AtomicWriter writes to a temporary file in the target's directory (`.NAME.XXXXXXXX.tmp`),
    and commit() flushes it, fsyncs it and renames it over the target (os.replace: readers see
    the old file or the new one, never half of one), then fsyncs the directory. Until then the
    target is untouched; discard(), or leaving the `with` block by any exception (a write
    error, KeyboardInterrupt), removes the temporary file; so does the process's exit, for a
    writer a signal left between its making and the caller's `try` (a signal that comes while
    the file is made is held until its name is known). A process killed by SIGKILL removes
    nothing: its temporary file stays, and no later writer removes one (nothing in it proves
    the run that made it gone; the README says to delete it). A symlink target keeps its link:
    the file it points to is replaced.

    The new file gets the permissions, owner and group of the file it replaces, as far as it
    may give them (root any owner, another user a group it is in); with owner_required=True an
    owner it cannot give is an error rather than a file that changes hands. A new target gets
    `new_mode` whatever the umask, or without it what the umask leaves of 0666.

    A target that exists and is not a regular file (/dev/null, /dev/full, a FIFO, a terminal)
    and anything under /dev/ or /proc/ (/dev/stdout names whatever standard output is) cannot
    be replaced: it is opened and written in place, and commit() only flushes and closes it.

DIAGNOSTICS
    OSError from the operating system (with owner_required=True, a failed chown's strerror
    also names the owner it could not give). When the writer is made: the temporary file cannot
    be created (no such directory, no permission to create a file in it, a read-only file
    system), or the target cannot be looked at (it is not taken for a new file). In the
    writer's methods: a write, the fsync or the rename fails (a full disk). After any of them
    no temporary file is left behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import stat
import tempfile
from typing import IO, Any, Dict, Iterable, Optional, Union

# Names that stand for something already open, not for a file one could replace.
IN_PLACE_PREFIXES = ("/dev/", "/proc/")

# The signals that end a run as SIGTERM does (the command handles them: cli.py), and with
# Ctrl-C those held while a temporary file is made and named, so that one that comes then is
# met where the file is known.
TERMINATING = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
ENDING_SIGNALS = {signal.SIGINT, *TERMINATING}

# The temporary files of writers neither committed nor discarded yet -> the process that made
# them. A signal that ends a run can come after a writer is made and before the caller's code
# that would discard it: what is left is removed when the process exits (not by a forked
# child that exits, whose parent's they are).
_UNFINISHED: Dict[str, int] = {}


def _remove_unfinished() -> None:
    for path, owner in list(_UNFINISHED.items()):
        if owner == os.getpid():
            _unlink(path)
    _UNFINISHED.clear()


atexit.register(_remove_unfinished)


def _unlink(path: str) -> None:
    _UNFINISHED.pop(path, None)
    try:
        os.unlink(path)
    except OSError:
        pass


def same_file(target: str, inputs: Iterable[Union[str, int]]) -> Optional[Union[str, int]]:
    """The first of `inputs` (paths, or open file descriptors) that is the regular file or the
    named pipe at `target`, by device and inode with symlinks followed; None when there is none,
    or when `target` does not exist or is another kind of file (a terminal, /dev/null). Inputs
    that cannot be looked at are passed over: they cannot be read either."""
    try:
        status = os.stat(target)
    except (OSError, ValueError):
        return None
    if not (stat.S_ISREG(status.st_mode) or stat.S_ISFIFO(status.st_mode)):
        return None
    for item in inputs:
        try:
            other = os.fstat(item) if isinstance(item, int) else os.stat(item)
        except (OSError, ValueError):
            continue
        if (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino):
            return item
    return None


class AtomicWriter:
    """A file written under a temporary name and renamed over `path` by commit(); see the
    module docstring. `file` is the open file object, in `mode` ("w" or "wb"). `new_mode`: the
    permissions of a target that does not exist yet (None: 0666 less the umask);
    `owner_required`: fail rather than replace a file whose owner cannot be given."""

    def __init__(self, path: str, mode: str = "w", encoding: Optional[str] = None,
                 newline: Optional[str] = None, *, new_mode: Optional[int] = None,
                 owner_required: bool = False):
        self.path = path
        self._temporary: Optional[str] = None
        self._done = False
        if _in_place(path):
            self.target = path
            self.file: IO[Any] = open(path, mode, encoding=encoding, newline=newline)
            return
        # The file a symlink points to is replaced, not the link.
        self.target = os.path.realpath(path)
        directory, name = os.path.split(self.target)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
        try:
            descriptor, self._temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp",
                                                           dir=directory)
            _UNFINISHED[self._temporary] = os.getpid()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            raise
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a signal held is met here
            _take_place(descriptor, self.target, new_mode, owner_required)
            self.file = os.fdopen(descriptor, mode, encoding=encoding, newline=newline)
        except BaseException:
            os.close(descriptor)
            self._remove()
            raise

    def commit(self) -> None:
        """Flush, fsync and close the file, and rename it over the target; on failure the
        temporary file is removed and the target left as it was."""
        if self._done:
            return
        try:
            self.file.flush()
            if self._temporary is not None:
                os.fsync(self.file.fileno())
            self.file.close()
            if self._temporary is not None:
                os.replace(self._temporary, self.target)
                _UNFINISHED.pop(self._temporary, None)
                self._temporary = None
                _sync_directory(os.path.dirname(self.target))
        except BaseException:
            self.discard()
            raise
        self._done = True

    def discard(self) -> None:
        """Close the file and remove the temporary file, leaving the target as it was; nothing
        after commit()."""
        if self._done:
            return
        self._done = True
        try:
            self.file.close()
        except (OSError, ValueError):
            pass  # what could not be flushed is thrown away with the file
        finally:
            self._remove()

    def _remove(self) -> None:
        temporary, self._temporary = self._temporary, None
        if temporary is not None:
            _unlink(temporary)

    def __enter__(self) -> IO[Any]:
        return self.file

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _take_place(descriptor: int, target: str, new_mode: Optional[int],
                owner_required: bool) -> None:
    """Give the new file the mode and owner of the one it will replace: an incident file kept
    0600 stays so, a table only its group may read stays readable by that group. A new target
    gets `new_mode`, else what the umask leaves of 0666."""
    try:
        old = os.stat(target)
    except FileNotFoundError:
        os.fchmod(descriptor, 0o666 & ~_umask() if new_mode is None else new_mode)
        return
    # Compared with the new file's own (a set-group-ID directory gives it the directory's
    # group), not with our IDs.
    new = os.fstat(descriptor)
    if (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        try:
            os.fchown(descriptor, old.st_uid, old.st_gid)
        except OSError as error:
            if owner_required:
                raise OSError(error.errno, f"{error.strerror} (giving it the owner "
                                           f"{old.st_uid}:{old.st_gid} of the file it "
                                           "replaces)") from None
            # Not root (or root squashed on NFS): the file becomes ours, as any new one would,
            # with the old one's group if we are in it.
            if old.st_gid != new.st_gid:
                try:
                    os.fchown(descriptor, -1, old.st_gid)
                except OSError:
                    pass
    # After the chown, which drops the set-user-ID and set-group-ID bits.
    os.fchmod(descriptor, stat.S_IMODE(old.st_mode))


def _in_place(path: str) -> bool:
    if os.path.abspath(path).startswith(IN_PLACE_PREFIXES):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # not there yet (or not reachable: creating the temporary file will say)


def _umask() -> int:
    """The process's umask (read by setting it, then setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_directory(directory: str) -> None:
    """Make the rename durable; a file system that cannot fsync a directory is let be."""
    try:
        descriptor = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
