"""Finding the meta-project a command works on, and holding it while a command changes or reads it.

One lock per meta-project, `.scaffold/lock` (flock): a command that changes the meta-project holds
it exclusively, `scaffold check` holds it shared. A second command waits for it (up to
SCAFFOLD_LOCK_TIMEOUT seconds, 30 by default), then stops with a message naming the holder.
Whoever takes the lock first finishes or undoes a change that an earlier command could not
complete (it was killed): see scaffold.transaction.recover.

The lock file is opened without following a link (a `.scaffold/lock` that is a symbolic link is
refused, never truncated through), and its descriptor is closed in every forked child: a worker
process never holds the lock on its own, so a killed command cannot leave it held. Worker pools
also call `die_with_parent`.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from scaffold.ecosystem_file import FILE_NAME
from scaffold.errors import ConflictError, NotFoundError, UsageError
from scaffold.paths import OutsideRootError, real_directory

STATE_DIR: Final = ".scaffold"  # scaffold's own bookkeeping inside a meta-project
LOCK_FILE: Final = f"{STATE_DIR}/lock"
LOCK_TIMEOUT_VARIABLE: Final = "SCAFFOLD_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT: Final = 30.0
_POLL: Final = 0.05
_SAY_WAITING_AFTER: Final = 1.0  # seconds before a waiting command says whom it waits for
_HELD: set[int] = set()  # lock descriptors this process holds


def _close_held_in_child() -> None:
    """In a forked child: drop the lock descriptors (the parent keeps the lock; the child never does)."""
    for fd in list(_HELD):
        with suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def die_with_parent() -> None:
    """Initializer of worker processes: the kernel kills them when the process that started them dies
    (Linux), so a killed command leaves no workers behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


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
        real_directory(root, STATE_DIR).mkdir(exist_ok=True)
        real_directory(root, STATE_DIR)  # made by someone else meanwhile: still not a link
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OutsideRootError:
        raise
    except OSError as err:
        if err.errno == 40:  # ELOOP: the lock file is a symbolic link
            raise OutsideRootError(
                f"{LOCK_FILE} in {root} is a symbolic link; scaffold does not write through links.",
                f"Nothing was changed. Delete it (`rm {LOCK_FILE}`; scaffold makes a new one), then run again.",
            ) from None
        raise _not_writable(root, err) from None
    _HELD.add(fd)
    return fd


def _close(fd: int) -> None:
    _HELD.discard(fd)
    os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(raw.decode("utf-8", "replace").replace("\0", " ").split())  # one line, whatever argv held
    return text if len(text) <= 120 else text[:117] + "..."


def _openers(fd: int) -> list[int]:
    """Processes (other than this one) that have the lock file open: who can hold it (Linux /proc)."""
    try:
        wanted = os.fstat(fd)
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return []
    found: list[int] = []
    for pid in pids:
        try:
            for entry in os.scandir(f"/proc/{pid}/fd"):
                st = os.stat(entry.path)
                if (st.st_dev, st.st_ino) == (wanted.st_dev, wanted.st_ino):
                    found.append(pid)
                    break
        except OSError:
            continue
    return found


def holder(fd: int) -> str:
    """Who holds the lock, in words: the recorded holder (`pid command`, written by `locked`) when it
    is alive, else the live processes that have the lock file open, and that the recorded one is dead."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
        pid_text, _, command = text.partition(" ")
        recorded: int | None = int(pid_text)
    except (OSError, ValueError):
        recorded, command = None, ""
    if recorded is not None and _alive(recorded):
        return f"pid {recorded}: {command}" if command else f"pid {recorded}"
    openers = [f"pid {p}: {_command_line(p) or 'unknown command'}" for p in _openers(fd)]
    said = "; ".join(openers) if openers else "an unknown process"
    if recorded is not None:
        said += f"; its recorded holder, pid {recorded}: {command or 'unknown command'}, is no longer running"
    return said


def _acquire(fd: int, mode: int, root: Path) -> None:
    """flock with a deadline: a clear message instead of waiting forever or failing at once; after a
    second of waiting, a line on standard error says whom the command waits for."""
    started = time.monotonic()
    deadline = started + lock_timeout()
    said = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                raise ConflictError(
                    f"Another scaffold command ({holder(fd)}) is changing {root} right now.",
                    f"Wait for it to finish (or stop it), then run this command again ({LOCK_TIMEOUT_VARIABLE} "
                    "sets how many seconds a command waits).",
                ) from None
            if not said and now - started >= _SAY_WAITING_AFTER:
                from scaffold.output import notice

                notice(f"waiting for the lock of {root}, held by {holder(fd)} ...")
                said = True
            time.sleep(_POLL)


def _write_holder(fd: int) -> None:
    program = Path(sys.argv[0]).name if sys.argv else "scaffold"
    words = ["scaffold" if program in ("__main__.py", "scaffold") else program, *sys.argv[1:]]
    command = " ".join(" ".join(words).split())[:200]  # one line: an argument may hold a line break
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {command}\n".encode("utf-8", "replace"), 0)


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
        _close(fd)


@contextmanager
def reading(root: Path) -> Iterator[None]:
    """Hold the lock shared while reading the meta-project (`scaffold check`): no command changes it
    meanwhile, other readers may run. A read-only checkout is read without the lock."""
    from scaffold.transaction import pending, recover

    try:
        fd = _open_lock(root)
    except OutsideRootError:
        raise
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
        _close(fd)
