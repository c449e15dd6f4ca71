"""All-or-nothing changes to a meta-project.

A command stages every change (file writes, symlinks, deletions, a rendered directory moved into
place) and applies them together. Each file is written to a temporary name and renamed over the
old one, and the old content is kept aside until the end, so when anything fails half-way every
path is put back exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from scaffold.project import STATE_DIR


@dataclass
class _Undo:
    path: Path
    backup: Path | None  # where the previous entry was moved; None when there was none


class Transaction:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / STATE_DIR).mkdir(exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="txn-", dir=root / STATE_DIR))
        self._undo: list[_Undo] = []
        self._created_directories: list[Path] = []
        self._deleted: list[Path] = []
        self._counter = 0

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()

    def _make_parent(self, path: Path) -> None:
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for directory in missing:
            directory.mkdir()
            self._created_directories.append(directory)

    def _set_aside(self, path: Path) -> None:
        """Move whatever is at `path` into the scratch area, remembering how to put it back."""
        backup: Path | None = None
        if path.exists() or path.is_symlink():
            self._counter += 1
            backup = self._scratch / f"{self._counter}"
            os.rename(path, backup)
        self._undo.append(_Undo(path, backup))

    def write(self, relative: str, content: bytes, mode: int = 0o644) -> None:
        path = self.root / relative
        self._make_parent(path)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            self._set_aside(path)
            os.rename(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def symlink(self, relative: str, target: str) -> None:
        path = self.root / relative
        self._make_parent(path)
        self._set_aside(path)
        os.symlink(target, path)

    def delete(self, relative: str) -> None:
        """Remove a file, a symlink or a whole directory (restored on rollback)."""
        path = self.root / relative
        if path.exists() or path.is_symlink():
            self._set_aside(path)
            self._deleted.append(path)

    def move_in(self, source: Path, relative: str) -> None:
        """Rename a directory staged on the same filesystem into place."""
        path = self.root / relative
        self._make_parent(path)
        self._set_aside(path)
        os.rename(source, path)

    def commit(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._undo.clear()
        # A directory emptied by deletions goes too, so `remove` after `new` leaves no trace.
        for path in self._deleted:
            for parent in path.parents:
                if parent == self.root or not parent.is_dir() or any(parent.iterdir()):
                    break
                parent.rmdir()

    def rollback(self) -> None:
        for undo in reversed(self._undo):
            if undo.path.is_symlink() or undo.path.is_file():
                undo.path.unlink()
            elif undo.path.is_dir():
                shutil.rmtree(undo.path)
            if undo.backup is not None:
                os.rename(undo.backup, undo.path)
        self._undo.clear()
        for directory in reversed(self._created_directories):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        shutil.rmtree(self._scratch, ignore_errors=True)
