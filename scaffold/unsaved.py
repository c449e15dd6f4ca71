"""What deleting a service's directory would lose: work that exists nowhere else.

`scaffold remove NAME --delete-code` asks this first, as `git rm` refuses to drop local
modifications:
- a service in its own repository (its directory is the top of a git work tree): uncommitted or
  untracked files, commits no remote has, stashes; deleting the directory deletes that repository;
- a service in the meta-project's repository: changes to committed files, and files added next to
  committed ones. A directory that was never committed (just made by `scaffold new`) is what the
  template rendered, so `remove --delete-code` can undo `new`;
- a directory outside any git repository is the user's to delete: nothing can be checked.
"""

from __future__ import annotations

from pathlib import Path

from scaffold.checkouts import user_git


class _GitFailed(Exception):
    pass


def _lines(*args: str, cwd: Path) -> list[str]:
    # The user's git configuration: files they ignore globally (editor files) are not "unsaved work".
    proc = user_git(*args, cwd=cwd)
    if proc.returncode != 0:
        raise _GitFailed(proc.stderr.decode(errors="replace"))
    return [line for line in proc.stdout.decode(errors="replace").splitlines() if line.strip()]


def _shown(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def unsaved_work(directory: Path) -> list[str]:
    """Sentences naming what would be lost if `directory` were deleted (empty: nothing)."""
    if not directory.is_dir():
        return []
    try:
        top = Path(_lines("rev-parse", "--show-toplevel", cwd=directory)[0]).resolve()
    except _GitFailed:
        return []
    if top == directory.resolve():
        return _own_repository(directory)
    return _inside(directory)


def _own_repository(directory: Path) -> list[str]:
    found = []
    changed = [line[3:] for line in _lines("status", "--porcelain", "--untracked-files=all", cwd=directory)]
    if changed:
        found.append(f"uncommitted changes ({_shown(changed)})")
    try:
        unpushed = _lines("rev-list", "--branches", "--not", "--remotes", cwd=directory)
    except _GitFailed:  # no commit yet
        unpushed = []
    if unpushed:
        found.append(f"{len(unpushed)} commit(s) no remote has")
    try:
        stashes = _lines("stash", "list", cwd=directory)
    except _GitFailed:
        stashes = []
    if stashes:
        found.append(f"{len(stashes)} stash(es)")
    return found


def _inside(directory: Path) -> list[str]:
    entries = _lines("status", "--porcelain", "--untracked-files=all", "--", ".", cwd=directory)
    tracked = _lines("ls-files", "--", ".", cwd=directory)
    if not tracked:  # never committed: what the template rendered, and what scaffold new wrote
        return []
    modified = [line[3:] for line in entries if not line.startswith("??")]
    added = [line[3:] for line in entries if line.startswith("??")]
    found = []
    if modified:
        found.append(f"uncommitted changes to committed files ({_shown(modified)})")
    if added:
        found.append(f"files never committed ({_shown(added)})")
    return found
