"""Services that live in their own git repositories: cloning a missing checkout at its path.

A service registered in ecosystem.yaml with `repository: URL` is checked out at its `path`
(a directory the meta-project's git ignores). On a new machine the checkout is missing;
`scaffold update` clones it before planning. The clone runs with the user's own git
configuration (credential helpers, `url.<base>.insteadOf`, SSH keys), unlike scaffold's
template git calls, which run with a reproducible, configuration-free environment.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scaffold.errors import ScaffoldError


def user_git(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """git as the user runs it (their configuration: credentials, global ignores), never prompting."""
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"}, check=False
    )


def clone(repository: str, destination: Path, *, cwd: Path) -> None:
    """Clone `repository` into `destination` (which must not exist or be empty).

    `cwd` is the meta-project's root: a relative local path in `repository` is read from there.
    Never prompts (a missing credential is an error, not a hang). Git removes what it created
    when the clone fails.
    """
    proc = user_git("clone", "--quiet", "--", repository, str(destination), cwd=cwd)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1].removeprefix("fatal: ") if lines else f"git exited with {proc.returncode}"
        raise ScaffoldError(
            f"cannot clone {repository}: {reason}",
            "Check the service's `repository` in ecosystem.yaml and your access to it (git clone it by hand to see).",
        )


def ignored_by(root: Path, path: str) -> bool | None:
    """Whether the meta-project's git ignores `path` (a service's own checkout must be ignored, or it
    shows as untracked and `git add -A` embeds it); None when the meta-project is not a git work tree."""
    proc = user_git("check-ignore", "--quiet", "--", f"{path.rstrip('/')}/", cwd=root)
    if proc.returncode not in (0, 1):
        return None
    return proc.returncode == 0
