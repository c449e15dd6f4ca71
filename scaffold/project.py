"""Finding the meta-project a command works on, and holding it while a command changes it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from scaffold.ecosystem_file import FILE_NAME
from scaffold.errors import ConflictError, NotFoundError

STATE_DIR: Final = ".scaffold"  # scaffold's own bookkeeping inside a meta-project


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


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the meta-project's lock: a second command changing it stops with a clear message."""
    state = root / STATE_DIR
    state.mkdir(exist_ok=True)
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(
                f"Another scaffold command is changing {root} right now.",
                "Wait for it to finish, then run this command again.",
            ) from None
        yield
    finally:
        os.close(fd)
