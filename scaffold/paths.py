"""Proving that a path is inside the meta-project before anything is written or deleted there.

Every path scaffold changes is relative to the meta-project's root and comes from somewhere a user
(or an attacker who got a file committed) can write: ecosystem.yaml, a transaction's journal,
`.scaffold/derived.json`, an update plan. A path is used only after two proofs:

- its *shape*: relative, POSIX, no `.`/`..`/empty part, no NUL or control character;
- its *place on disk*: every directory between the root and the entry itself is a real directory,
  not a symbolic link (which could lead anywhere) and not a file. The entry itself may be a link:
  scaffold replaces or removes a link, it never writes through one.

Directories that do not exist yet are fine (scaffold creates them as real directories). The
checks use `lstat`, never following a link; files are then opened with O_NOFOLLOW.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from scaffold.errors import UsageError


class OutsideRootError(UsageError):
    """A path that is not, or does not stay, inside the meta-project; `reason` says why, briefly."""

    def __init__(self, message: str, hint: str, reason: str = "") -> None:
        super().__init__(message, hint)
        self.reason = reason or message


def _refuse(relative: str, why: str, what: str) -> OutsideRootError:
    return OutsideRootError(
        f"The {what} {relative!r} {why}; scaffold writes and deletes only inside the meta-project.",
        "Nothing was changed. Fix or remove what names this path (ecosystem.yaml, or a leftover .scaffold/txn-* "
        "directory), then run the command again.",
        f"{relative!r} {why}",
    )


def parts(relative: str, what: str = "path") -> tuple[str, ...]:
    """The components of a relative POSIX path, once its shape is proven safe."""
    if not isinstance(relative, str) or not relative:
        raise _refuse(str(relative), "is empty", what)
    if any(ord(c) < 32 or c == "\x7f" for c in relative):
        raise _refuse(relative, "contains a control character", what)
    if "\\" in relative:
        raise _refuse(relative, "contains a backslash", what)
    path = PurePosixPath(relative)
    if path.is_absolute():
        raise _refuse(relative, "is absolute", what)
    pieces = relative.split("/")
    if any(p in ("", ".", "..") for p in pieces):
        raise _refuse(relative, "has an empty, '.' or '..' part", what)
    return tuple(pieces)


def inside(root: Path, relative: str, what: str = "path") -> Path:
    """`root / relative`, after proving it stays inside `root` on disk (see the module docstring)."""
    pieces = parts(relative, what)
    here = root
    for piece in pieces[:-1]:
        here = here / piece
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            break  # what is missing is created by scaffold, as real directories
        except NotADirectoryError:
            raise _refuse(relative, f"goes through a file ({here.relative_to(root)})", what) from None
        if stat.S_ISLNK(mode):
            raise _refuse(relative, f"goes through a symbolic link ({here.relative_to(root).as_posix()})", what)
        if not stat.S_ISDIR(mode):
            raise _refuse(relative, f"goes through a file ({here.relative_to(root).as_posix()})", what)
    return root / relative


def real_directory(root: Path, relative: str, what: str = "directory") -> Path:
    """`root / relative` proven inside `root` and, when it exists, a real directory (not a link)."""
    path = inside(root, relative, what)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(mode):
        raise _refuse(relative, "is a symbolic link", what)
    if not stat.S_ISDIR(mode):
        raise _refuse(relative, "is not a directory", what)
    return path


def lexists(path: Path) -> bool:
    """Whether anything (a link included, dangling or not) is at `path`; a file on the way is 'no'."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def is_real_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
