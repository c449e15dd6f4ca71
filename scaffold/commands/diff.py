"""`scaffold diff NAME`: what a service changed of its template (as `cruft diff`), so a reviewer sees
what is custom.

Data flow: find the meta-project -> the service and the template version ecosystem.yaml records ->
render that version with the answers of the service's answers file into a scratch directory ->
compare it with the service's files as they are (the ones git shows: tracked and untracked, not
ignored; every file when the service is not in git) -> a unified diff, template -> service, and
per file added (the service's own), modified, or deleted (the template has it, the service not).
The answers file itself is left out. Nothing is written.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import NotFoundError, ScaffoldError
from scaffold.project import find_root, reading
from scaffold.results import DiffResult, DiffStatus, FileDiff
from scaffold.templates import answers_file, copy_from, is_trusted, resolve
from scaffold.update.plan import unified_diff
from scaffold.update.snapshot import EXECUTABLE, LINK, REGULAR, Entry, Tree, read_directory


def _work_tree(directory: Path) -> Tree:
    """The service's files as git sees them (ignored files such as .venv left out)."""
    from scaffold.checkouts import user_git

    listed = user_git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=directory)
    if listed.returncode != 0:
        return read_directory(directory)
    tree: Tree = {}
    for relative in sorted(set(listed.stdout.decode().split("\0")) - {""}):
        path = directory / relative
        if path.is_symlink():
            tree[relative] = Entry(LINK, os.readlink(path).encode())
        elif path.is_file():  # listed by the index but deleted from the work tree: absent
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            tree[relative] = Entry(EXECUTABLE if executable else REGULAR, path.read_bytes())
    return tree


def _answers(path: Path) -> dict[str, object]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(
            f"{path} does not exist: scaffold cannot tell which template answers made the service.",
            "Restore it from git, or `scaffold adopt` the service.",
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ScaffoldError(f"{path} cannot be read: {err}", "Restore it from git.") from None
    if not isinstance(loaded, dict):
        raise ScaffoldError(f"{path} is not a mapping of answers.", "Restore it from git.")
    return {str(k): v for k, v in loaded.items() if not str(k).startswith("_")}


def diff(start: Path, name: str, *, trust: bool = False) -> DiffResult:
    root = find_root(start)
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    service = ecosystem.service(name)
    if service is None:
        known = ", ".join(s.name for s in ecosystem.services) or "none yet"
        raise NotFoundError(f"There is no service named '{name}' in this ecosystem.", f"Services: {known}.")
    directory = root / service.path
    if not directory.is_dir():
        raise NotFoundError(
            f"{service.path} does not exist.", f"`scaffold update {name}` clones a service's own repository."
        )
    lib, version = resolve(service.template, root)
    templates = lib.directory(version)
    answers_name = answers_file(templates)
    answers = _answers(directory / answers_name)
    with tempfile.TemporaryDirectory(prefix="scaffold-diff-") as scratch:
        rendered = Path(scratch) / "render"
        trusted = is_trusted(service.template.source, trust)
        copy_from(templates, rendered, answers, tag=version.tag, trusted=trusted)
        template = read_directory(rendered)
    ours = _work_tree(directory)
    for tree in (template, ours):
        tree.pop(answers_name, None)
    paths = sorted(p for p in template.keys() | ours.keys() if template.get(p) != ours.get(p))
    files = tuple(FileDiff(f"{service.path}/{p}", _status(p, template, ours)) for p in paths)
    return DiffResult(
        root, name, service.path, service.template, files, unified_diff(service.path, template, ours, paths)
    )


def _status(path: str, template: Tree, ours: Tree) -> DiffStatus:
    if path not in template:
        return "added"
    return "deleted" if path not in ours else "modified"
