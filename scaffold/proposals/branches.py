"""The git side of a proposal: what an update changed in one repository, pushed to scaffold's branch.

The commit is made without touching the user's branch, index or files: a temporary index is
filled from HEAD plus the work tree (conflict markers included, so a reviewer sees them), written
as a tree and committed on top of HEAD. It is pushed to `refs/heads/<branch>` only, with a lease
on what that branch was, so a re-run replaces scaffold's previous proposal and nothing else:

- the branch does not exist: it is created;
- it holds only scaffold's commits (they carry the TRAILER) on top of the base: it is replaced,
  or left as it is when it already holds exactly this change on this base;
- it holds anyone else's commit (say, a person resolving a conflict): it is left alone.

The branch can never be the base branch or the remote's default branch.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Final, Literal

from scaffold.errors import ConflictError, ScaffoldError, UsageError

TRAILER: Final = "Scaffold-Template-Update: true"
# Used only when git has no identity configured (a CI runner): commits need an author.
FALLBACK_IDENTITY: Final = {
    "GIT_AUTHOR_NAME": "scaffold",
    "GIT_AUTHOR_EMAIL": "scaffold@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "scaffold",
    "GIT_COMMITTER_EMAIL": "scaffold@users.noreply.github.com",
}

Outcome = Literal["created", "updated", "unchanged", "left alone"]


@dataclass(frozen=True)
class Repository:
    """A git work tree an update may change, and where its proposals go."""

    top: Path  # the work tree
    remote: str  # the remote's name
    url: str  # the remote's URL as configured (before any url.insteadOf)
    base: str  # the checked-out branch the proposal is based on
    exclude: tuple[str, ...] = ()  # paths inside it that are other repositories (services' own checkouts)


@dataclass(frozen=True)
class Pushed:
    outcome: Outcome
    commit: str  # what the branch points at now
    reason: str | None = None  # why it was left alone


def _run(
    top: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> CompletedProcess[bytes]:
    """git with the user's configuration (credentials, url.insteadOf, identity), never prompting."""
    return subprocess.run(
        ["git", *args],
        cwd=top,
        input=stdin,
        capture_output=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        check=False,
    )


def _git(top: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
    """`_run`'s output, or a ScaffoldError with git's last line."""
    proc = _run(top, *args, stdin=stdin, env=env)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1].removeprefix("fatal: ") if lines else f"exit {proc.returncode}"
        raise ScaffoldError(
            f"git {args[0]} failed in {top}: {reason}", "Check the repository and your access to its remote."
        )
    return proc.stdout.decode()


def toplevel(path: Path) -> Path:
    """The work tree holding `path`."""
    return Path(_git(path, "rev-parse", "--show-toplevel").strip())


def repository(path: Path, remote: str, exclude: Sequence[str] = ()) -> Repository:
    """The repository whose work tree holds `path`, on a branch, with `remote`."""
    top = toplevel(path)
    base = _git(top, "symbolic-ref", "--quiet", "--short", "HEAD").strip() if _on_branch(top) else ""
    if not base:
        raise UsageError(
            f"{top} is not on a branch (detached HEAD): a proposal needs a base branch.",
            "Check out the branch the pull requests should go into (e.g. `git switch main`).",
        )
    try:
        url = _git(top, "config", "--get", f"remote.{remote}.url").strip()  # as written: before url.insteadOf
    except ScaffoldError:
        raise UsageError(f"{top} has no remote named {remote!r}.", "Pass --remote NAME, or add the remote.") from None
    return Repository(top, remote, url, base, tuple(exclude))


def _on_branch(top: Path) -> bool:
    return _run(top, "symbolic-ref", "--quiet", "HEAD").returncode == 0


def _pathspecs(repo: Repository) -> list[str]:
    return ["--", ".", *(f":(exclude){path}" for path in repo.exclude)]


def uncommitted(repo: Repository) -> list[str]:
    """Files git sees as changed or untracked (the services' own checkouts aside)."""
    out = _git(repo.top, "status", "--porcelain", "--untracked-files=all", *_pathspecs(repo))
    return [line[3:] for line in out.splitlines()]


def _tree_of_work_tree(repo: Repository) -> str:
    """The tree of HEAD with every change of the work tree added, through a temporary index."""
    with tempfile.TemporaryDirectory(prefix="scaffold-proposal-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(repo.top, "read-tree", "HEAD", env=env)
        _git(repo.top, "add", "--all", env=env)
        if repo.exclude:  # the services' own checkouts stay as HEAD has them (not at all, normally)
            _git(repo.top, "reset", "--quiet", "HEAD", "--", *repo.exclude, env=env)
        return _git(repo.top, "write-tree", env=env).strip()


def check_branch(repo: Repository, branch: str) -> None:
    """Refuse a branch name git would refuse, the base branch, and the remote's default branch."""
    if _run(repo.top, "check-ref-format", "--branch", branch).returncode != 0:
        raise UsageError(f"{branch!r} is not a valid branch name.", "Example: --branch scaffold/template-updates")
    default = _remote_default(repo)
    if branch in (repo.base, default):
        raise UsageError(
            f"The proposal branch {branch!r} is the branch it would go into: scaffold never pushes there.",
            "Leave --branch out (scaffold/template-updates), or name a branch of its own.",
        )


def _remote_default(repo: Repository) -> str | None:
    out = _git(repo.top, "ls-remote", "--symref", repo.remote, "HEAD")
    for line in out.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
    return None


def _remote_branch(repo: Repository, branch: str) -> str | None:
    out = _git(repo.top, "ls-remote", "--heads", repo.remote, f"refs/heads/{branch}")
    return out.split("\t", 1)[0] if out.strip() else None


def _identity(top: Path) -> dict[str, str]:
    return {} if _run(top, "var", "GIT_COMMITTER_IDENT").returncode == 0 else dict(FALLBACK_IDENTITY)


def changed(repo: Repository) -> bool:
    """Whether the work tree differs from HEAD (what a proposal would hold)."""
    return _tree_of_work_tree(repo) != _git(repo.top, "rev-parse", "HEAD^{tree}").strip()


def publish(repo: Repository, branch: str, message: str) -> Pushed:
    """Commit the work tree's changes on top of HEAD and push them to `branch` (see the module's rules)."""
    check_branch(repo, branch)
    tree = _tree_of_work_tree(repo)
    head = _git(repo.top, "rev-parse", "HEAD").strip()
    existing = _remote_branch(repo, branch)
    if existing is not None:
        _git(repo.top, "fetch", "--quiet", "--no-tags", repo.remote, f"refs/heads/{branch}")
        foreign = [c for c in _git(repo.top, "rev-list", f"{head}..{existing}").split() if not _ours(repo, c)]
        if foreign:
            reason = (
                f"{branch} has commits that are not scaffold's ({', '.join(c[:12] for c in foreign[:3])}): left alone"
            )
            return Pushed("left alone", existing, reason)
        same_tree = _git(repo.top, "rev-parse", f"{existing}^{{tree}}").strip() == tree
        if same_tree and _git(repo.top, "rev-parse", f"{existing}^").strip() == head:
            return Pushed("unchanged", existing)
    commit = _git(repo.top, "commit-tree", tree, "-p", head, stdin=message.encode(), env=_identity(repo.top)).strip()
    lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
    try:
        _git(repo.top, "push", "--quiet", lease, repo.remote, f"{commit}:refs/heads/{branch}")
    except ScaffoldError as err:
        raise ConflictError(
            f"pushing {branch} to {repo.remote} failed ({err.message})", "Run again; someone may have pushed meanwhile."
        ) from None
    return Pushed("updated" if existing else "created", commit)


def _ours(repo: Repository, commit: str) -> bool:
    return TRAILER in _git(repo.top, "show", "--no-patch", "--format=%B", commit).splitlines()
