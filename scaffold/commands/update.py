"""`scaffold update [NAME... | --all]`: move services (and the meta-project) to a newer template version.

Data flow: find the meta-project and take its lock -> choose the targets -> per template source,
find the versions (the meta-project's store, the shipped templates, the source repository) and
prepare one checkout of each version the run needs (shared by every target) -> per target, clone
its own repository when its checkout is missing (scaffold.checkouts; into a temporary directory for
--dry-run), check that its files are committed and which version rendered it -> plan every target in parallel
processes (scaffold.update.plan: render old and new, three-way merge, migrations) -> unless
--dry-run, write all plans, the new versions, the store and the re-derived wiring in one
transaction (scaffold.update.apply). Exit code 0 when every target is updated or current, 6 when
one has conflicts, 7 when one failed or was refused.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scaffold import ecosystem_file
from scaffold.answers import HELD_BY_ECOSYSTEM, parse_data
from scaffold.errors import ExitCode, NotFoundError, ScaffoldError, UsageError
from scaffold.model import Ecosystem, TemplateRef
from scaffold.progress import Progress
from scaffold.project import find_root, locked
from scaffold.results import Change, TargetUpdate, UpdateResult
from scaffold.template_repo import GitError, git, parse_version
from scaffold.templates import (
    BUILTIN,
    Library,
    TemplateVersion,
    answers_file,
    is_trusted,
    library,
    src_path_for,
    store_file,
)
from scaffold.update.apply import Place, apply, root_path
from scaffold.update.merge import ConflictStyle
from scaffold.update.plan import META, Job, Plan, plan
from scaffold.wiring_apply import plan_wiring

EXIT_CONFLICTS: Final = int(ExitCode.UPDATE_CONFLICTS)
EXIT_FAILED: Final = int(ExitCode.UPDATE_FAILED)


@dataclass(frozen=True)
class Target:
    name: str
    location: str  # "." for the meta-project
    template: TemplateRef
    exclude: tuple[str, ...] = ()  # paths inside it that are other targets
    repository: str | None = None  # the service's own repository, cloned at `location` when missing


def _targets(ecosystem: Ecosystem, names: Sequence[str], all_targets: bool) -> list[Target]:
    service_paths = tuple(s.path for s in ecosystem.services)
    meta = Target(ecosystem.name, META, ecosystem.template, service_paths)
    services = {s.name: Target(s.name, s.path, s.template, repository=s.repository) for s in ecosystem.services}
    if all_targets:
        if names:
            raise UsageError("Give service names or --all, not both.", "Example: scaffold update --all")
        return [meta, *services.values()]
    if not names:
        raise UsageError("Which services? Name them or pass --all.", "Example: scaffold update orders, or --all.")
    chosen: list[Target] = []
    for name in dict.fromkeys(names):
        if name in services:
            chosen.append(services[name])
        elif name == ecosystem.name:
            chosen.append(meta)
        else:
            known = ", ".join([ecosystem.name, *services]) or "none"
            raise NotFoundError(f"There is no service named '{name}' in this ecosystem.", f"Known: {known}.")
    return chosen


def _checkout(root: Path, target: Target, scratch: Path | None, notes: list[str]) -> Path:
    """The target's directory; a missing checkout of a service with its own repository is cloned
    first: at its path, or into `scratch` for a dry run (which writes nothing into the meta-project)."""
    path = root / target.location
    if target.repository is None or path.exists():
        return path
    from scaffold.checkouts import clone

    if scratch is not None:
        destination = scratch / target.name
        clone(target.repository, destination, cwd=root)
        notes.append(f"{target.name}: {target.location} is missing; the update would clone {target.repository} there.")
        return destination
    clone(target.repository, path, cwd=root)
    notes.append(f"{target.name}: cloned {target.repository} into {target.location}.")
    return path


def _place(path: Path, target: Target) -> Place:
    if not path.is_dir():
        hint = "Check out the service's repository at its path, or give it a `repository:` in ecosystem.yaml."
        raise ScaffoldError(f"{target.location} does not exist", hint)
    try:
        top = Path(git("rev-parse", "--show-toplevel", cwd=path).decode().strip()).resolve()
    except GitError:
        raise ScaffoldError(f"{target.location} is not in a git repository", "Commit it to git first.") from None
    subdir = path.resolve().relative_to(top).as_posix()
    return Place(top, "" if subdir == "." else subdir)


def _dirty(place: Place, exclude: tuple[str, ...]) -> list[str]:
    specs = [place.subdir or ".", *(f":(exclude){place.git_path(e)}" for e in exclude)]
    out = git("status", "--porcelain", "--untracked-files=all", "--", *specs, cwd=place.repo)
    return [line[3:] for line in out.decode().splitlines()]


def _commit_first(root: Path, place: Place, target: Target) -> str:
    """Why a target whose answers file is not committed cannot be updated, with the commands that fix it."""
    if place.repo.resolve() == root.resolve():
        command = f"git add {target.location} && git commit -m 'Add {target.name}'"
    else:
        where = os.path.relpath(place.repo, root)
        command = f"git -C {where} add -A && git -C {where} commit -m 'Add {target.name}'"
    return f"its answers file is not committed yet: commit first (`{command}`), then run the update again"


def _recorded_tag(place: Place, name: str) -> str | None:
    """The `_commit` of the answers file as committed (HEAD); None when it is not committed."""
    import yaml

    try:
        text = git("show", f"HEAD:{place.git_path(name)}", cwd=place.repo)
    except GitError:
        return None
    answers = yaml.safe_load(text) if text else None
    tag = answers.get("_commit") if isinstance(answers, dict) else None
    if not isinstance(tag, str) or parse_version(tag) is None:
        raise ScaffoldError(
            f"its answers file {name} records no template version (_commit: {tag!r})",
            "Restore the answers file from git history.",
        )
    return tag


def _library(source: str, root: Path, notes: list[str]) -> Library:
    if source == BUILTIN:
        return library(source, root)
    try:
        return library(source, root, remote=True)
    except NotFoundError:
        notes.append(f"{source} cannot be read: only the versions stored in the meta-project are known.")
        return library(source, root)


def _newer(version: str, than: str) -> bool:
    a, b = parse_version(version), parse_version(than)
    return a is not None and b is not None and a > b


def _failed(target: Target, reason: str, old: str | None = None, new: str | None = None) -> TargetUpdate:
    return TargetUpdate(target.name, target.location, "failed", old, new, reason=reason)


@dataclass(frozen=True)
class _Prepared:
    jobs: list[Job]
    done: list[TargetUpdate]  # targets decided without planning (current, refused, failed)
    places: dict[str, Place]
    versions: dict[str, TemplateVersion]  # target name -> the version it moves to (or has)
    libraries: dict[str, Library]  # template source -> its versions


def _prepare(
    root: Path,
    targets: list[Target],
    *,
    to: str | None,
    data: list[str],
    style: ConflictStyle,
    trust: bool,
    dry_run: bool,
    notes: list[str],
    scratch: Path | None,
) -> _Prepared:
    libraries = {t.template.source: _library(t.template.source, root, notes) for t in targets}
    goals: dict[str, TemplateVersion] = {}
    for source, lib in libraries.items():
        goal = lib.require(to) if to else lib.latest()
        if goal is None:
            raise NotFoundError(f"The template source {source} has no versions.", "Tag a release of the templates.")
        goals[source] = goal
    given: dict[str, dict[str, object]] = {}
    for source, goal in goals.items():
        given[source] = parse_data(data, libraries[source].directory(goal))
        fixed = HELD_BY_ECOSYSTEM.intersection(given[source])
        if fixed:
            raise UsageError(
                f"--data {', '.join(sorted(fixed))} cannot be changed by an update: ecosystem.yaml holds it.",
                "Change it in ecosystem.yaml (and the service) by hand, then run `scaffold sync`.",
            )
    prepared = _Prepared([], [], {}, {}, libraries)
    for target in targets:
        lib, goal = libraries[target.template.source], goals[target.template.source]
        if to is None and not lib.reachable:
            # Only the stored versions are known: "up to date" could be false, and CI could not tell.
            reason = f"its template source {target.template.source} cannot be read, so its newest version is unknown"
            prepared.done.append(_failed(target, reason, target.template.version, None))
            continue
        try:
            place = _place(_checkout(root, target, scratch, notes), target)
            prepared.places[target.name] = place
            recorded = lib.find(target.template.version)
            name = answers_file(lib.directory(recorded)) if recorded else answers_file(lib.directory(goal))
            tag = _recorded_tag(place, name)
            if tag is None and target.template.version == goal.version and not given[target.template.source]:
                # Just made by `new` and not committed yet: at the newest version, there is nothing to merge.
                prepared.versions[target.name] = goal
                prepared.done.append(
                    TargetUpdate(target.name, target.location, "up-to-date", goal.version, goal.version)
                )
                continue
            if tag is None:
                raise ScaffoldError(_commit_first(root, place, target), "Commit the service, then run again.")
            current = lib.require(tag)
        except ScaffoldError as err:
            prepared.done.append(_failed(target, err.message, target.template.version, goal.version))
            continue
        prepared.versions[target.name] = current
        if _newer(current.version, goal.version):
            reason = f"it is at {current.version}, newer than {goal.version}: downgrades are not supported"
            prepared.done.append(_failed(target, reason, current.version, goal.version))
            continue
        if current.version == goal.version and not given[target.template.source]:
            prepared.done.append(
                TargetUpdate(target.name, target.location, "up-to-date", current.version, goal.version)
            )
            continue
        dirty = _dirty(place, target.exclude)
        if dirty:
            shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
            reason = f"uncommitted changes ({shown}): commit or stash them, then run again"
            prepared.done.append(_failed(target, reason, current.version, goal.version))
            continue
        prepared.versions[target.name] = goal
        prepared.jobs.append(
            Job(
                name=target.name,
                location=target.location,
                source=target.template.source,
                repo=place.repo,
                subdir=place.subdir,
                exclude=target.exclude,
                old=current,
                new=goal,
                old_dir=lib.directory(current),
                new_dir=lib.directory(goal),
                data=given[target.template.source],
                style=style,
                trusted=is_trusted(target.template.source, trust),
                src_path=src_path_for(target.template.source, target.location),
                preview=dry_run,
            )
        )
    return prepared


def _run_jobs(jobs: list[Job], workers: int, progress: Progress | None) -> list[Plan]:
    """Plan every job, in parallel processes when there are several."""
    import copier  # noqa: F401 - imported once here, inherited by the forked workers

    plans: list[Plan] = []
    if progress:
        progress(0, len(jobs), "")
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            plans.append(plan(job))
            if progress:
                progress(len(plans), len(jobs), job.name)
        return plans
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from scaffold.project import die_with_parent

    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent,  # a killed update leaves no workers behind (they never hold the lock)
    ) as pool:
        futures = {pool.submit(plan, job): job for job in jobs}
        for future in as_completed(futures):
            plans.append(future.result())
            if progress:
                progress(len(plans), len(jobs), futures[future].name)
    return plans


def _report(plan_: Plan, dry_run: bool) -> TargetUpdate:
    def actions(p: Plan) -> tuple[Change, ...]:
        return tuple(
            Change(root_path(p.location, c.path), "delete" if c.entry is None else "update") for c in p.changes
        )

    return TargetUpdate(
        name=plan_.name,
        path=plan_.location,
        status=plan_.status,
        from_version=plan_.old_version,
        to_version=plan_.new_version,
        changes=actions(plan_),
        conflicts=tuple(root_path(plan_.location, c.path) for c in plan_.conflicts),
        set_aside=tuple(root_path(plan_.location, c.aside) for c in plan_.conflicts if c.aside is not None),
        kept=tuple(root_path(plan_.location, p) for p in plan_.kept),
        not_restored=tuple(root_path(plan_.location, p) for p in plan_.not_restored),
        migrations=plan_.migrations,
        reason=plan_.reason,
        diff=plan_.diff if dry_run else None,
    )


def _exit_code(targets: Sequence[TargetUpdate]) -> int:
    if any(t.status == "failed" for t in targets):
        return EXIT_FAILED
    if any(t.status == "conflicts" for t in targets):
        return EXIT_CONFLICTS
    return 0


def update(
    start: Path,
    names: Sequence[str],
    *,
    all_targets: bool = False,
    to: str | None = None,
    dry_run: bool = False,
    conflict: str = "inline",
    jobs: int | None = None,
    data: Sequence[str] = (),
    trust: bool = False,
    progress: Progress | None = None,
) -> UpdateResult:
    if conflict not in ("inline", "rej"):
        raise UsageError(f"--conflict {conflict!r} is not inline or rej.", "Example: --conflict rej")
    style: ConflictStyle = "rej" if conflict == "rej" else "inline"
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError(f"--jobs {workers} is not a positive number.", "Example: --jobs 4")
    if to is not None and parse_version(to) is None:
        raise UsageError(f"--to {to!r} is not a version.", "Example: --to 0.2.0")
    if data and all_targets:
        keys = ", ".join(sorted({d.partition("=")[0] for d in data}))
        raise UsageError(
            f"--data with --all would set {keys} in every service and the meta-project at once.",
            "Name the services whose answers change, e.g. `scaffold update orders --data description=...`.",
        )
    root = find_root(start)
    with locked(root):
        ecosystem = ecosystem_file.load(root).model
        targets = _targets(ecosystem, names, all_targets)
        plan_wiring(root, ecosystem)  # stops now, before any work, if a derived file was edited by hand
        notes: list[str] = []
        with tempfile.TemporaryDirectory(prefix="scaffold-update-") as scratch:
            prepared = _prepare(
                root,
                targets,
                to=to,
                data=list(data),
                style=style,
                trust=trust,
                dry_run=dry_run,
                notes=notes,
                scratch=Path(scratch) if dry_run else None,
            )
            plans = _run_jobs(prepared.jobs, workers, progress)
        order = {t.name: i for i, t in enumerate(targets)}
        reports = sorted([*prepared.done, *(_report(p, dry_run) for p in plans)], key=lambda t: order[t.name])
        wiring: tuple[Change, ...] = ()
        if not dry_run:
            wiring, applied_notes = _write(root, ecosystem, targets, plans, prepared, reports, style)
            notes += applied_notes
        return UpdateResult(
            root=root,
            targets=tuple(reports),
            wiring=wiring,
            notes=tuple(notes),
            dry_run=dry_run,
            exit_code=_exit_code(reports),
            conflicts_in_git=style == "inline",
        )


def _write(
    root: Path,
    ecosystem: Ecosystem,
    targets: list[Target],
    plans: list[Plan],
    prepared: _Prepared,
    reports: list[TargetUpdate],
    style: ConflictStyle,
) -> tuple[tuple[Change, ...], list[str]]:
    """Apply the plans; record every target's version (also of those already current)."""
    moved = {r.name for r in reports if r.status in ("updated", "conflicts", "up-to-date")}
    by_name = {t.name: t for t in targets}
    versions: dict[str, str] = {}
    meta_version: str | None = None
    used: dict[str, list[TemplateVersion]] = {}
    for name in moved:
        target, version = by_name[name], prepared.versions[name]
        used.setdefault(target.template.source, []).append(version)
        if version.version == target.template.version:
            continue
        if target.location == META:
            meta_version = version.version
        else:
            versions[name] = version.version
    stores = []
    for source, chosen in sorted(used.items()):
        content = prepared.libraries[source].store_with(chosen)
        if content is not None:
            stores.append((store_file(source), content))
    changed = [p for p in plans if p.changes]
    if not changed and not versions and meta_version is None and not stores:
        return (), []
    applied = apply(
        root,
        changed,
        prepared.places,
        versions,
        meta_version,
        stores,
        mark_conflicts=style == "inline",
    )
    return applied.wiring, list(applied.notes)
