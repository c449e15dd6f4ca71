"""`scaffold init NAME`: create a meta-project.

Data flow: validate the name -> render the ecosystem template into a staging directory next to
the target -> derive the wiring into it -> make it a git repository with a first commit ->
rename it into place. The target appears complete or not at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from scaffold import ecosystem_file
from scaffold.answers import check as check_answers
from scaffold.answers import parse_data
from scaffold.derived_state import RECORD, render_record
from scaffold.errors import ConflictError, ScaffoldError, UsageError
from scaffold.names import check_ecosystem_name
from scaffold.prompts import Asker, Prompt, resolve
from scaffold.results import InitResult
from scaffold.templates import BUILTIN, adopt, latest_ref, normalise_source, render, template_dir
from scaffold.wiring import derive


def _check_target(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        raise ConflictError(f"{target} exists and is not a directory.", "Choose another name or directory.")
    if target.is_dir() and any(target.iterdir()):
        raise ConflictError(f"{target} exists and is not empty.", "Choose another name, or remove the directory first.")
    if not os.access(target.parent, os.W_OK):
        raise UsageError(f"{target.parent} is not writable.", "Run the command in a directory you can write to.")


def _write_wiring(root: Path) -> None:
    files = derive(ecosystem_file.load(root).model)
    for file in files:
        path = root / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if file.symlink:
            os.symlink(file.content.decode(), path)
        else:
            path.write_bytes(file.content)
    (root / RECORD).parent.mkdir(exist_ok=True)
    (root / RECORD).write_bytes(render_record(files))


def _git_commit(root: Path, message: str) -> None:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    identity: list[str] = []
    if not git("config", "user.email").stdout.strip():
        identity = ["-c", "user.name=scaffold", "-c", "user.email=scaffold@localhost"]
    for args in (
        ("init", "--quiet", "--initial-branch=main"),
        ("add", "--all"),
        (*identity, "commit", "--quiet", "--no-verify", "--message", message),
    ):
        proc = git(*args)
        if proc.returncode != 0:
            raise ScaffoldError(f"git {args[0]} failed: {proc.stderr.strip()}", "Check that git works here.")


def init(
    parent: Path,
    name: str,
    *,
    data: list[str],
    defaults: bool,
    dry_run: bool,
    asker: Asker | None,
    templates: str | None = None,
    trust: bool = False,
) -> InitResult:
    check_ecosystem_name(name)
    parent = parent.resolve()
    target = parent / name
    _check_target(target)
    ref = latest_ref(normalise_source(templates) if templates else BUILTIN)
    given = parse_data(data, template_dir(ref), "ecosystem", own=frozenset({"registry"}))
    prompts = [
        Prompt("description", "What is the ecosystem for (one line)?", f"The {name} ecosystem"),
        Prompt("registry", "Container registry for the images", f"registry.example.com/{name}"),
    ]
    answers = check_answers(resolve(prompts, given, defaults=defaults, asker=asker))
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=None if dry_run else parent))
    try:
        render(ref, staging / name, {**answers, "kind": "ecosystem", "name": name}, trust=trust)
        root = staging / name
        adopt(root, ref)
        _write_wiring(root)
        ecosystem = ecosystem_file.load(root).model
        files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()))
        if not dry_run:
            _git_commit(root, f"Create the {name} ecosystem with scaffold")
            if target.exists():  # an empty directory the user made for it
                target.rmdir()
            os.rename(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InitResult(root=target, ecosystem=ecosystem, files=files, dry_run=dry_run)
