"""All-or-nothing changes to a meta-project, even when the process is killed half-way.

A command stages every change (file writes, symlinks, deletions, a rendered directory moved into
place) and applies them together. Each change is first written to a journal, then made: a new
file is written under a temporary name and renamed over the old one, which is kept first in the
transaction's directory (`.scaffold/txn-*`; hard-linked, so a replaced file is never missing).
The journal ends with a commit record once every change is made.

- An exception half-way undoes every change at once (`rollback`).
- A process killed half-way (SIGKILL, power to the terminal) leaves the journal behind. The next
  command that takes the meta-project's lock calls `recover`: a journal without its commit record
  is undone step by step from the end, a committed one has its clean-up finished. Every undo step
  looks at the disk first, so it is right whether or not the killed process got to the step.

So a meta-project is always found either as it was before a command or as the command left it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from scaffold.project import STATE_DIR

JOURNAL: Final = "journal"
_TXN_PREFIX: Final = "txn-"
_STAGING_PREFIX: Final = "staging-"  # directories `scaffold new` renders into before moving them in


@dataclass(frozen=True)
class _Step:
    """One journaled change. `backup` names the entry set aside in the transaction directory."""

    op: str  # "mkdir" | "put" | "move" | "delete"
    path: str  # relative to the meta-project root
    backup: str | None = None
    temp: str | None = None  # for "put": the temporary name next to `path`

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v is not None}, sort_keys=True)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


class Transaction:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / STATE_DIR).mkdir(exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix=_TXN_PREFIX, dir=root / STATE_DIR))
        self._journal = open(self._scratch / JOURNAL, "a", encoding="utf-8")  # noqa: SIM115 - closed in _finish
        self._steps: list[_Step] = []
        self._deleted: list[str] = []
        self._counter = 0
        self._done = False

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()

    # --- journal ------------------------------------------------------------------------------

    def _record(self, line: str) -> None:
        """Append to the journal and make it durable before the change it describes is made."""
        self._journal.write(line + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _begin(self, step: _Step) -> None:
        self._record(step.to_json())
        self._steps.append(step)

    def _backup_name(self, path: Path) -> str | None:
        if not _exists(path):
            return None
        self._counter += 1
        return str(self._counter)

    def _make_parent(self, path: Path) -> None:
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for directory in missing:
            self._begin(_Step("mkdir", directory.relative_to(self.root).as_posix()))
            directory.mkdir()

    # --- changes --------------------------------------------------------------------------------

    def write(self, relative: str, content: bytes, mode: int = 0o644) -> None:
        self._put(relative, content=content, mode=mode)

    def symlink(self, relative: str, target: str) -> None:
        self._put(relative, link=target)

    def _put(self, relative: str, *, content: bytes = b"", mode: int = 0o644, link: str | None = None) -> None:
        path = self.root / relative
        self._make_parent(path)
        backup = self._backup_name(path)
        temporary = path.with_name(f".{path.name}.{self._scratch.name}-{len(self._steps)}")
        self._begin(_Step("put", relative, backup=backup, temp=temporary.name))
        if link is not None:
            os.symlink(link, temporary)
        else:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
        if backup is not None:
            _set_aside(path, self._scratch / backup)
        os.rename(temporary, path)

    def delete(self, relative: str) -> None:
        """Remove a file, a symlink or a whole directory (restored on rollback)."""
        path = self.root / relative
        backup = self._backup_name(path)
        if backup is None:
            return
        self._begin(_Step("delete", relative, backup=backup))
        os.rename(path, self._scratch / backup)
        self._deleted.append(relative)

    def move_in(self, source: Path, relative: str) -> None:
        """Rename a directory staged on the same filesystem into place."""
        path = self.root / relative
        self._make_parent(path)
        backup = self._backup_name(path)
        self._begin(_Step("move", relative, backup=backup))
        if backup is not None:
            os.rename(path, self._scratch / backup)
        os.rename(source, path)

    # --- the end --------------------------------------------------------------------------------

    def commit(self) -> None:
        self._record(json.dumps({"op": "commit", "deleted": self._deleted}))
        self._journal.close()
        self._done = True
        _finish(self.root, self._scratch, self._deleted)

    def rollback(self) -> None:
        if self._done:
            return
        self._journal.close()
        self._done = True
        _undo(self.root, self._scratch, self._steps)  # if this fails, the journal stays for `recover`
        shutil.rmtree(self._scratch, ignore_errors=True)


def _set_aside(path: Path, backup: Path) -> None:
    """Keep the entry a `put` replaces. A file (or symlink) is hard-linked, so it stays at its path
    until the new one is renamed over it in one step: a kill in between never leaves the path
    missing (were it ecosystem.yaml, no command could find the meta-project to recover it). A
    directory, or a file system without hard links, is moved aside."""
    if path.is_symlink() or not path.is_dir():
        try:
            os.link(path, backup, follow_symlinks=False)
            return
        except OSError:
            pass
    os.rename(path, backup)


def _undo(root: Path, scratch: Path, steps: list[_Step]) -> None:
    """Undo journaled steps from the last one, whichever of their moves had happened."""
    for step in reversed(steps):
        path = root / step.path
        if step.op == "mkdir":
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
            continue
        if step.temp is not None:
            temporary = path.with_name(step.temp)
            if _exists(temporary):
                temporary.unlink()
        if step.backup is None:
            # Nothing was there before this step (the lock kept everyone else out): what is there now is ours.
            if step.op in ("put", "move") and _exists(path):
                _remove(path)
            continue
        backup = scratch / step.backup
        if _exists(backup):  # the old entry was set aside: put it back
            if _exists(path) and (path.is_symlink() or not path.is_dir()) and not backup.is_dir():
                os.rename(backup, path)  # replaces the file in one step: never missing
                continue
            if _exists(path):
                _remove(path)
            os.rename(backup, path)


def _finish(root: Path, scratch: Path, deleted: list[str]) -> None:
    """After the commit record: drop the set-aside entries, and directories that deletions emptied."""
    for relative in deleted:
        for parent in (root / relative).parents:
            if parent == root or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()
    for entry in scratch.iterdir():
        if entry.name != JOURNAL:
            _remove(entry)
    (scratch / JOURNAL).unlink(missing_ok=True)
    scratch.rmdir()


def _read_journal(path: Path) -> tuple[list[_Step], dict[str, Any] | None]:
    """The steps of a journal and its commit record (None when it has none). A torn last line is a
    step whose change had not begun: it is written before the change."""
    steps: list[_Step] = []
    commit: dict[str, Any] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            break
        if record.get("op") == "commit":
            commit = record
            break
        steps.append(_Step(op=record["op"], path=record["path"], backup=record.get("backup"), temp=record.get("temp")))
    return steps, commit


def pending(root: Path) -> bool:
    """Whether a killed command left something for `recover`."""
    state = root / STATE_DIR
    if not state.is_dir():
        return False
    return any(entry.name.startswith((_TXN_PREFIX, _STAGING_PREFIX)) for entry in state.iterdir())


def recover(root: Path) -> list[str]:
    """Finish or undo what killed commands left; call it holding the lock exclusively.

    Returns what was done, one line per transaction (for tests and debugging).
    """
    state = root / STATE_DIR
    if not state.is_dir():
        return []
    done: list[str] = []
    for entry in sorted(state.iterdir()):
        if entry.name.startswith(_STAGING_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
            continue
        if not entry.name.startswith(_TXN_PREFIX) or not entry.is_dir():
            continue
        journal = entry / JOURNAL
        if not journal.exists():  # killed before the first step, or after the clean-up had begun
            shutil.rmtree(entry)
            continue
        steps, commit = _read_journal(journal)
        if commit is not None:
            _finish(root, entry, [str(p) for p in commit.get("deleted", [])])
            done.append(f"{entry.name}: completed")
        else:
            _undo(root, entry, steps)
            shutil.rmtree(entry)
            done.append(f"{entry.name}: rolled back {len(steps)} steps")
    return done
