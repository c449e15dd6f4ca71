"""One target's update, computed in temporary directories and returned as data (nothing is written
to the meta-project or the service here, so the same function serves `--dry-run` and runs in
parallel worker processes).

Steps: read the target's committed files (HEAD), run the before-migrations on a copy, render the
old version with the recorded answers (base) and the new version with the answers plus `--data`
(theirs), merge base/ours/theirs path by path, take the new answers file, run the after-migrations
on the result, and diff the result against HEAD.
"""

from __future__ import annotations

import difflib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from packaging.version import Version

from scaffold import copier_reuse, ecosystem_file
from scaffold.errors import ScaffoldError
from scaffold.model import TemplateRef
from scaffold.templates import (
    TemplateVersion,
    answers_file,
    copy_from,
    load_config,
    record_source,
    unsafe_features,
    with_template,
)
from scaffold.update import migrations, unchanged
from scaffold.update.merge import Conflict, ConflictStyle, Labels, MergeOutcome, merge_trees, set_aside
from scaffold.update.snapshot import Entry, Tree, read_commit, read_directory, write_directory

Status = Literal["updated", "up-to-date", "conflicts", "failed"]
META = "."


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to plan one target (picklable)."""

    name: str
    location: str  # the target's path relative to the meta-project root ("." for the meta-project)
    source: str  # the template source
    repo: Path  # the git work tree holding the target
    subdir: str  # the target's path inside `repo` ("" when it is the repository itself)
    exclude: tuple[str, ...]  # paths inside the target that belong to other targets
    old: TemplateVersion
    new: TemplateVersion
    old_dir: Path
    new_dir: Path
    data: Mapping[str, object]
    style: ConflictStyle
    trusted: bool
    src_path: str  # what the answers file records as `_src_path`
    preview: bool = False  # compute the unified diff (for --dry-run)


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the target
    entry: Entry | None  # None: delete


@dataclass(frozen=True)
class Plan:
    name: str
    location: str
    status: Status
    old_version: str
    new_version: str
    changes: tuple[FileChange, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    kept: tuple[str, ...] = ()
    not_restored: tuple[str, ...] = ()
    diff: str = ""
    reason: str | None = None
    migrations: int = 0


def _labels(job: Job) -> Labels:
    return Labels.of_update(job.name, job.old.version, job.new.version)


def _answers(tree: Tree, name: str) -> dict[str, Any]:
    entry = tree.get(name)
    if entry is None:
        raise ScaffoldError(f"{name} is missing", "Restore the answers file from git history.")
    try:
        loaded = yaml.safe_load(entry.data)
    except yaml.YAMLError:
        loaded = None
    if not isinstance(loaded, dict):
        raise ScaffoldError(f"{name} is not a YAML mapping", "Restore the answers file from git history.")
    return loaded


def _public(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answers.items() if not str(k).startswith("_")}


def _render(directory: Path, target: Path, answers: Mapping[str, Any], tag: str, trusted: bool) -> Tree:
    copy_from(directory, target, answers, tag=tag, trusted=trusted)
    return read_directory(target)


def _skip_matcher(config: Mapping[str, Any], answers: Mapping[str, Any]) -> Callable[[str], bool]:
    """Copier's `_skip_if_exists` matching: patterns rendered with the answers, gitignore-style."""
    import jinja2

    render = jinja2.Environment(**dict(config.get("_envops") or {})).from_string
    return path_matcher([render(str(p)).render(**answers) for p in config.get("_skip_if_exists") or []])


@functools.cache
def _pattern_flavour() -> str:
    """The pathspec pattern flavour copier chooses for the installed pathspec (read from its
    metadata, which scans site-packages: once per process, not once per service)."""
    from importlib.metadata import version

    return "gitignore" if Version(version("pathspec")) >= Version("1.0.0") else "gitwildmatch"


def path_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """gitignore-style matching, with the pattern flavour copier chooses for the installed pathspec."""
    from pathspec import PathSpec

    spec = PathSpec.from_lines(_pattern_flavour(), patterns)
    return lambda path: spec.match_file(path)


def unified_diff(location: str, before: Tree, after: Tree, paths: list[str]) -> str:
    prefix = "" if location in ("", ".") else f"{location}/"
    chunks: list[str] = []
    for path in paths:
        old, new = before.get(path), after.get(path)
        name = prefix + path
        if any(e is not None and (e.is_link or b"\0" in e.data) for e in (old, new)):
            chunks.append(f"Binary or symlink {name} changed\n")
            continue
        a = old.data.decode("utf-8", "replace").splitlines(keepends=True) if old else []
        b = new.data.decode("utf-8", "replace").splitlines(keepends=True) if new else []
        lines = list(
            difflib.unified_diff(a, b, f"a/{name}" if old else "/dev/null", f"b/{name}" if new else "/dev/null")
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
        if old and new and old.mode != new.mode:
            chunks.append(f"mode {name}: {old.mode:o} -> {new.mode:o}\n")
    return "".join(chunks)


def _record_template(tree: Tree, source: str, version: TemplateVersion) -> None:
    """The meta-project's ecosystem.yaml names its real template source and version (as `init` made it)."""
    entry = tree.get(ecosystem_file.FILE_NAME)
    if entry is not None:
        data = with_template(entry.data, TemplateRef(source=source, version=version.version))
        tree[ecosystem_file.FILE_NAME] = Entry(entry.mode, data)


def _untracked_under(job: Job, path: str, tracked: Tree) -> bool:
    """Whether the service's directory `path` holds, on disk, anything git does not track there (ignored
    files: a build output, a local configuration), which replacing the directory would delete."""
    directory = job.repo / job.subdir / path if job.subdir else job.repo / path
    if directory.is_symlink() or not directory.is_dir():
        return False
    for here, dirs, files in os.walk(directory):
        for name in [*files, *(d for d in dirs if (Path(here) / d).is_symlink())]:
            relative = (Path(here) / name).relative_to(directory).as_posix()
            if f"{path}/{relative}" not in tracked:
                return True
    return False


def _keep_directories_with_untracked_files(
    job: Job, outcome: MergeOutcome, base: Tree, ours: Tree, theirs: Tree
) -> None:
    """A directory the template turns into a file, whose files the merge would all delete, is still a
    file/directory conflict when the disk holds more there than git knows (see merge.set_aside)."""
    directories = {parent.as_posix() for p in ours for parent in PurePosixPath(p).parents}
    for path in sorted(outcome.tree):
        if path in directories and path not in ours and _untracked_under(job, path, ours):
            set_aside(outcome, base, ours, theirs, path, _labels(job))


def plan(job: Job) -> Plan:
    """Plan one target; any problem becomes a 'failed' plan with the reason (never an exception)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"scaffold-update-{job.name}-"))
    try:
        return _plan(job, scratch)
    except ScaffoldError as err:
        return Plan(job.name, job.location, "failed", job.old.version, job.new.version, reason=err.message)
    except Exception as err:  # noqa: BLE001 - one target's failure is reported; the others go on
        reason = f"{type(err).__name__}: {err}"
        return Plan(job.name, job.location, "failed", job.old.version, job.new.version, reason=reason)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _plan(job: Job, scratch: Path) -> Plan:
    ours = read_commit(job.repo, job.subdir, job.exclude)
    old_answers_name, answers_name = answers_file(job.old_dir), answers_file(job.new_dir)
    answers = _answers(ours, old_answers_name)
    config = load_config(job.new_dir)
    selected = migrations.select(config, job.old.version, job.new.version)
    risky = unsafe_features(config) + (["migrations"] if selected else [])
    if risky and not job.trusted:
        return Plan(
            job.name,
            job.location,
            "failed",
            job.old.version,
            job.new.version,
            reason=f"the template runs {' and '.join(risky)}: pass --trust if you trust its source",
        )
    context = migrations.Context(
        answers=_public(answers),
        old_tag=job.old.tag,
        new_tag=job.new.tag,
        old_version=job.old.version,
        new_version=job.new.version,
        envops=dict(config.get("_envops") or {}),
        answers_file=answers_name,
    )
    working, ran = dict(ours), 0
    if selected:
        write_directory(scratch / "before", ours)
        ran += migrations.run(selected, "before", scratch / "before", context)
        working = read_directory(scratch / "before")
        answers = _answers(working, old_answers_name)  # a before-migration may rename answers
    with copier_reuse.recording(scratch / "base") as rendered:
        base = _render(job.old_dir, scratch / "base", _public(answers), job.old.tag, job.trusted)
    with copier_reuse.recording(scratch / "theirs", rendered, unchanged.between(job.old_dir, job.new_dir)):
        theirs = _render(job.new_dir, scratch / "theirs", {**_public(answers), **job.data}, job.new.tag, job.trusted)
    record_source(scratch / "theirs" / answers_name, job.src_path, job.new.tag)
    new_answers = Entry(0o100644, (scratch / "theirs" / answers_name).read_bytes())
    for tree in (base, theirs, working):
        tree.pop(old_answers_name, None)
        tree.pop(answers_name, None)
    if job.location == META:
        _record_template(base, job.source, job.old)
        _record_template(theirs, job.source, job.new)
    outcome = merge_trees(
        base, working, theirs, labels=_labels(job), style=job.style, keep_ours=_skip_matcher(config, _public(answers))
    )
    _keep_directories_with_untracked_files(job, outcome, base, working, theirs)
    result = {**outcome.tree, answers_name: new_answers}
    if selected:
        write_directory(scratch / "after", result)
        context = replace(context, answers=_public(yaml.safe_load(new_answers.data)))
        ran += migrations.run(selected, "after", scratch / "after", context)
        result = read_directory(scratch / "after")
    changed = sorted(p for p in ours.keys() | result.keys() if ours.get(p) != result.get(p))
    changes = tuple(FileChange(p, result.get(p)) for p in changed)
    status: Status = "conflicts" if outcome.conflicts else ("updated" if changes else "up-to-date")
    return Plan(
        job.name,
        job.location,
        status,
        job.old.version,
        job.new.version,
        changes=changes,
        conflicts=tuple(outcome.conflicts),
        kept=tuple(outcome.kept),
        not_restored=tuple(outcome.not_restored),
        diff=unified_diff(job.location, ours, result, changed) if job.preview else "",
        migrations=ran,
    )
