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

A journal is data read from disk, so `recover` trusts none of it: every path in it is proven inside
the meta-project first (scaffold.paths), the set-aside and temporary names must be the ones a
transaction makes, and a journal that git tracks (committed, then cloned) is not a killed command's:
it is refused, not replayed. Nothing is written or deleted through a symbolic link.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from scaffold.errors import ConflictError
from scaffold.paths import OutsideRootError, inside, is_real_directory, lexists, parts, real_directory
from scaffold.project import STATE_DIR

JOURNAL: Final = "journal"
_TXN_PREFIX: Final = "txn-"
_STAGING_PREFIX: Final = "staging-"  # directories `scaffold new` renders into before moving them in
_OPS: Final = frozenset({"mkdir", "put", "move", "delete"})
_BACKUP_NAME: Final = re.compile(r"^[1-9][0-9]*$")  # set-aside entries are numbered


class ForeignJournalError(ConflictError):
    """A `.scaffold/txn-*` directory that is not a killed command's journal: it is never replayed."""


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
    return lexists(path)


def _remove(path: Path) -> None:
    """Remove a file, a link (never what it points to) or a real directory with its content."""
    if is_real_directory(path):
        shutil.rmtree(path)
    elif lexists(path):
        path.unlink()


class Transaction:
    def __init__(self, root: Path) -> None:
        self.root = root
        real_directory(root, STATE_DIR).mkdir(exist_ok=True)
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
        missing = [p for p in reversed(path.parents) if not lexists(p)]
        for directory in missing:
            self._begin(_Step("mkdir", directory.relative_to(self.root).as_posix()))
            directory.mkdir()

    # --- changes --------------------------------------------------------------------------------

    def write(self, relative: str, content: bytes, mode: int = 0o644) -> None:
        self._put(relative, content=content, mode=mode)

    def symlink(self, relative: str, target: str) -> None:
        self._put(relative, link=target)

    def _put(self, relative: str, *, content: bytes = b"", mode: int = 0o644, link: str | None = None) -> None:
        path = inside(self.root, relative)
        _refuse_to_replace_a_directory(path, relative)
        self._make_parent(path)
        backup = self._backup_name(path)
        temporary = path.with_name(f".{path.name}.{self._scratch.name}-{len(self._steps)}")
        self._begin(_Step("put", relative, backup=backup, temp=temporary.name))
        if link is not None:
            os.symlink(link, temporary)
        else:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
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
        path = inside(self.root, relative)
        backup = self._backup_name(path)
        if backup is None:
            return
        self._begin(_Step("delete", relative, backup=backup))
        os.rename(path, self._scratch / backup)
        self._deleted.append(relative)

    def move_in(self, source: Path, relative: str) -> None:
        """Rename a directory staged on the same filesystem into place."""
        path = inside(self.root, relative)
        _refuse_to_replace_a_directory(path, relative)
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


def _refuse_to_replace_a_directory(path: Path, relative: str) -> None:
    """A file written over a directory would delete what is in it: only an empty one may be replaced
    (a caller that turns a directory into a file deletes its files first, in the same transaction)."""
    if is_real_directory(path) and any(path.iterdir()):
        raise ConflictError(
            f"{relative} is a directory with files in it; writing a file there would delete them.",
            "Nothing was changed. Move the directory's files away (or commit them), then run the command again.",
        )


def _set_aside(path: Path, backup: Path) -> None:
    """Keep the entry a `put` replaces. A file (or symlink) is hard-linked, so it stays at its path
    until the new one is renamed over it in one step: a kill in between never leaves the path
    missing (were it ecosystem.yaml, no command could find the meta-project to recover it). A
    directory, or a file system without hard links, is moved aside."""
    if not is_real_directory(path):
        try:
            os.link(path, backup, follow_symlinks=False)
            return
        except OSError:
            pass
    os.rename(path, backup)


def _undo(root: Path, scratch: Path, steps: list[_Step]) -> None:
    """Undo journaled steps from the last one, whichever of their moves had happened."""
    for step in reversed(steps):
        path = inside(root, step.path)
        if step.op == "mkdir":
            if is_real_directory(path) and not any(path.iterdir()):
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
            if _exists(path) and not is_real_directory(path) and not is_real_directory(backup):
                os.rename(backup, path)  # replaces the file in one step: never missing
                continue
            if _exists(path):
                _remove(path)
            os.rename(backup, path)


def _finish(root: Path, scratch: Path, deleted: list[str]) -> None:
    """After the commit record: drop the set-aside entries, and directories that deletions emptied."""
    for relative in deleted:
        parts(relative)  # its shape only: a directory on its way may have become a file since (replaced)
        for parent in (root / relative).parents:
            if parent == root or not is_real_directory(parent) or any(parent.iterdir()):
                break
            parent.rmdir()
    for entry in scratch.iterdir():
        if entry.name != JOURNAL:
            _remove(entry)
    (scratch / JOURNAL).unlink(missing_ok=True)
    scratch.rmdir()


def _foreign(scratch: Path, why: str) -> ForeignJournalError:
    name = f"{STATE_DIR}/{scratch.name}"
    return ForeignJournalError(
        f"{name} is not the journal of a killed scaffold command ({why}); it was not replayed.",
        f"Nothing was changed. Look at it, delete it (`rm -r {name}`), then run the command again.",
    )


def _step(scratch: Path, record: object) -> _Step:
    """A journal line as a step, once every name in it is proven to be one a transaction makes."""
    if not isinstance(record, dict) or record.get("op") not in _OPS or not isinstance(record.get("path"), str):
        raise _foreign(scratch, f"a step it names is not one scaffold writes: {str(record)[:80]!r}")
    step = _Step(op=record["op"], path=record["path"], backup=record.get("backup"), temp=record.get("temp"))
    try:
        inside(scratch.parent.parent, step.path)
    except OutsideRootError as err:
        raise _foreign(scratch, f"a step names a path outside the meta-project: {err.reason}") from None
    if step.backup is not None and not (isinstance(step.backup, str) and _BACKUP_NAME.match(step.backup)):
        raise _foreign(scratch, f"a step names {step.backup!r} as what it set aside")
    if step.temp is not None and not (
        isinstance(step.temp, str) and "/" not in step.temp and step.temp.startswith(".") and scratch.name in step.temp
    ):
        raise _foreign(scratch, f"a step names {step.temp!r} as its temporary file")
    return step


def _read_journal(scratch: Path) -> tuple[list[_Step], dict[str, Any] | None]:
    """The steps of a journal and its commit record (None when it has none). A torn last line is a
    step whose change had not begun: it is written before the change."""
    steps: list[_Step] = []
    commit: dict[str, Any] | None = None
    try:
        fd = os.open(scratch / JOURNAL, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise _foreign(scratch, f"its journal cannot be opened: {err.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            break
        if isinstance(record, dict) and record.get("op") == "commit":
            deleted = record.get("deleted", [])
            if not isinstance(deleted, list):
                raise _foreign(scratch, "its commit record is not one scaffold writes")
            for relative in deleted:
                _step(scratch, {"op": "delete", "path": relative})
            commit = record
            break
        steps.append(_step(scratch, record))
    return steps, commit


def _tracked_by_git(root: Path) -> set[str]:
    """The `.scaffold/txn-*` directories git tracks files in: a committed journal came with a clone (or
    was put there on purpose), it is not what a killed command left. When git cannot answer for a
    meta-project that has a .git, every journal counts as tracked (refused rather than trusted)."""
    if not lexists(root / ".git"):
        return set()
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--", STATE_DIR],
        cwd=root,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"},
        check=False,
    )
    if proc.returncode != 0:
        return {"*"}
    found = set()
    for name in proc.stdout.decode("utf-8", "replace").split("\0"):
        parts = name.split("/")
        if len(parts) > 2 and parts[1].startswith(_TXN_PREFIX):
            found.add(parts[1])
    return found


def pending(root: Path) -> bool:
    """Whether a killed command left something for `recover`."""
    state = real_directory(root, STATE_DIR)
    if not is_real_directory(state):
        return False
    return any(entry.name.startswith((_TXN_PREFIX, _STAGING_PREFIX)) for entry in state.iterdir())


def recover(root: Path) -> list[str]:
    """Finish or undo what killed commands left; call it holding the lock exclusively.

    Returns what was done, one line per transaction (for tests and debugging).
    """
    state = real_directory(root, STATE_DIR)
    if not is_real_directory(state):
        return []
    entries = sorted(e for e in state.iterdir() if e.name.startswith((_TXN_PREFIX, _STAGING_PREFIX)))
    journals = [e for e in entries if e.name.startswith(_TXN_PREFIX)]
    tracked = _tracked_by_git(root) if journals else set()
    for entry in journals:  # every journal is proven before any is replayed
        if "*" in tracked or entry.name in tracked:
            raise _foreign(entry, "git tracks it: it was committed, not left by a command killed here")
        if not is_real_directory(entry):
            raise _foreign(entry, "it is not a directory")
        if lexists(entry / JOURNAL):
            _read_journal(entry)
    done: list[str] = []
    for entry in entries:
        if entry.name.startswith(_STAGING_PREFIX):
            _remove(entry)
            continue
        if not lexists(entry / JOURNAL):  # killed before the first step, or after the clean-up had begun
            shutil.rmtree(entry)
            continue
        steps, commit = _read_journal(entry)
        if commit is not None:
            _finish(root, entry, [str(p) for p in commit.get("deleted", [])])
            done.append(f"{entry.name}: completed")
        else:
            _undo(root, entry, steps)
            shutil.rmtree(entry)
            done.append(f"{entry.name}: rolled back {len(steps)} steps")
    return done
