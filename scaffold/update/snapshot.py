"""Trees of files as data: a committed tree read from git, a rendered directory, and back to disk."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scaffold.template_repo import git

LINK: Final = 0o120000
EXECUTABLE: Final = 0o100755
REGULAR: Final = 0o100644


@dataclass(frozen=True)
class Entry:
    """A file as git sees it: its mode (regular, executable or symlink) and its bytes (a link's target)."""

    mode: int
    data: bytes

    @property
    def is_link(self) -> bool:
        return self.mode == LINK


Tree = dict[str, Entry]


def read_directory(root: Path, skip: frozenset[str] = frozenset({".git"})) -> Tree:
    tree: Tree = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        linked = [d for d in dirs if (here / d).is_symlink()]  # os.walk lists a link to a directory here
        dirs[:] = sorted(d for d in dirs if d not in linked and not (here == root and d in skip))
        for name in sorted([*files, *linked]):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                tree[relative] = Entry(LINK, os.readlink(path).encode())
            else:
                executable = bool(path.stat().st_mode & stat.S_IXUSR)
                tree[relative] = Entry(EXECUTABLE if executable else REGULAR, path.read_bytes())
    return tree


def read_commit(repo: Path, subdir: str, exclude: tuple[str, ...] = ()) -> Tree:
    """The files of `subdir` at HEAD of the repository `repo`, without `exclude` (relative to subdir)."""
    treeish = f"HEAD:{subdir}" if subdir not in ("", ".") else "HEAD"
    pathspecs = ["--", ".", *(f":(exclude){p}" for p in exclude)] if exclude else []
    tar = git("archive", "--format=tar", treeish, *pathspecs, cwd=repo)
    tree: Tree = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            if member.issym():
                tree[member.name] = Entry(LINK, member.linkname.encode())
            elif member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                tree[member.name] = Entry(EXECUTABLE if member.mode & 0o100 else REGULAR, handle.read())
    return tree


def write_directory(root: Path, tree: Tree) -> None:
    for relative, entry in sorted(tree.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_link:
            os.symlink(entry.data.decode(), path)
        else:
            path.write_bytes(entry.data)
            os.chmod(path, 0o755 if entry.mode == EXECUTABLE else 0o644)
