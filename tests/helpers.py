"""Small helpers the tests share: run the real CLI, take snapshots of a tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

IGNORED = (".git/", ".scaffold/lock")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def scaffold(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m scaffold ARGS` as a user would (no terminal attached)."""
    proc = subprocess.run(
        [sys.executable, "-m", "scaffold", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin if stdin is not None else "",
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, (
            f"scaffold {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (a symlink as its target), .git and the lock aside."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(IGNORED) or relative == ".git":
            continue
        if path.is_symlink():
            found[relative] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[relative] = path.read_bytes()
        elif path.is_dir():
            found[relative + "/"] = b""
    return found


def diff(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """Paths that differ between two snapshots (empty when identical)."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def render_template(destination: Path, **answers: object) -> Path:
    """Render this repository's templates (the plain folder, as a template author does) into
    `destination` with copier; `answers` must include `kind`. Returns `destination`."""
    import copier

    copier.run_copy(str(TEMPLATES), str(destination), data=answers, defaults=True, unsafe=True, quiet=True)
    return destination
