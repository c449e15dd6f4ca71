"""Finding the meta-project a command works on, and holding it while a command changes or reads it.

One lock per meta-project, `.scaffold/lock` (flock): a command that changes the meta-project holds
it exclusively, `scaffold check` holds it shared. A second command waits for it (up to
SCAFFOLD_LOCK_TIMEOUT seconds, 30 by default), then stops with a message naming the holder.
Whoever takes the lock first finishes or undoes a change that an earlier command could not
complete (it was killed): see scaffold.transaction.recover.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from scaffold.ecosystem_file import FILE_NAME
from scaffold.errors import ConflictError, NotFoundError, UsageError

STATE_DIR: Final = ".scaffold"  # scaffold's own bookkeeping inside a meta-project
LOCK_FILE: Final = f"{STATE_DIR}/lock"
LOCK_TIMEOUT_VARIABLE: Final = "SCAFFOLD_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT: Final = 30.0
_POLL: Final = 0.05


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding an ecosystem.yaml."""
    start = start.resolve()
    if not start.is_dir():
        raise NotFoundError(f"{start} is not a directory.", "Pass -C with the meta-project's directory.")
    for directory in (start, *start.parents):
        if (directory / FILE_NAME).is_file():
            return directory
    raise NotFoundError(
        f"No meta-project found in {start} or above it (no {FILE_NAME}).",
        "Run the command inside a meta-project, pass -C PATH, or create one with `scaffold init NAME`.",
    )


def lock_timeout() -> float:
    text = os.environ.get(LOCK_TIMEOUT_VARIABLE, "")
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise UsageError(
            f"{LOCK_TIMEOUT_VARIABLE}={text!r} is not a number of seconds.", f"Example: {LOCK_TIMEOUT_VARIABLE}=30"
        )
    return value


def _not_writable(root: Path, err: OSError) -> UsageError:
    return UsageError(
        f"{root} is not writable ({err.strerror or err}).",
        "Run the command as a user who may write to the meta-project, or fix its permissions.",
    )


def _open_lock(root: Path) -> int:
    try:
        (root / STATE_DIR).mkdir(exist_ok=True)
        return os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _not_writable(root, err) from None


def _holder(fd: int) -> str:
    """' (pid N: scaffold ...)' when the lock file names a process that is still alive."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
        pid_text, _, command = text.partition(" ")
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return ""
    return f" (pid {pid}: {command})" if command else f" (pid {pid})"


def _acquire(fd: int, mode: int, root: Path) -> None:
    """flock with a deadline: a clear message instead of waiting forever or failing at once."""
    deadline = time.monotonic() + lock_timeout()
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"Another scaffold command{_holder(fd)} is changing {root} right now.",
                    f"Wait for it to finish, then run this command again ({LOCK_TIMEOUT_VARIABLE} sets how many "
                    "seconds a command waits).",
                ) from None
            time.sleep(_POLL)


def _write_holder(fd: int) -> None:
    program = Path(sys.argv[0]).name if sys.argv else "scaffold"
    words = ["scaffold" if program in ("__main__.py", "scaffold") else program, *sys.argv[1:]]
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {' '.join(words)}\n".encode(), 0)


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the meta-project's lock for a command that changes it.

    A change an earlier command left unfinished (it was killed) is completed or undone first.
    """
    from scaffold.transaction import recover

    if not os.access(root, os.W_OK):
        raise _not_writable(root, PermissionError(13, "permission denied"))
    fd = _open_lock(root)
    try:
        _acquire(fd, fcntl.LOCK_EX, root)
        _write_holder(fd)
        recover(root)
        yield
    finally:
        os.close(fd)


@contextmanager
def reading(root: Path) -> Iterator[None]:
    """Hold the lock shared while reading the meta-project (`scaffold check`): no command changes it
    meanwhile, other readers may run. A read-only checkout is read without the lock."""
    from scaffold.transaction import pending, recover

    try:
        fd = _open_lock(root)
    except UsageError:
        yield
        return
    try:
        _acquire(fd, fcntl.LOCK_SH, root)
        if pending(root):
            _acquire(fd, fcntl.LOCK_EX, root)
            recover(root)
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
