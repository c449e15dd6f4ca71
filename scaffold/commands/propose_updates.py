"""`scaffold propose-updates`: the fleet's template updates as one pull request per repository.

What the template-update workflow runs (.github/workflows/template-updates.yml). Data flow: find
the meta-project -> its repository and the checkouts of services with their own repository must be
on a branch and clean (a proposal holds exactly what the update changed) -> `scaffold update --all`
in the work trees (missing checkouts are cloned) -> for each service repository that changed, then
the meta-project: commit on top of its branch and push scaffold's branch (scaffold.proposals.branches)
-> open or update its pull request with the report (scaffold.proposals.github, .text).

The work trees keep the update's changes afterwards, as `scaffold update` leaves them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from scaffold import ecosystem_file
from scaffold.commands.update import EXIT_FAILED, update
from scaffold.errors import ConflictError, ScaffoldError, UsageError
from scaffold.progress import Progress
from scaffold.project import find_root, reading
from scaffold.proposals import branches, github, text
from scaffold.results import Proposal, ProposeResult, TargetUpdate

BRANCH: Final = "scaffold/template-updates"
REMOTE: Final = "origin"
_MOVED: Final = ("updated", "conflicts")


def propose_updates(
    start: Path,
    *,
    branch: str = BRANCH,
    remote: str = REMOTE,
    pull_requests: bool = True,
    jobs: int | None = None,
    trust: bool = False,
    env: Mapping[str, str] = os.environ,
    progress: Progress | None = None,
) -> ProposeResult:
    root = find_root(start)
    client = github.Client.from_environment(env) if pull_requests else None
    if pull_requests and client is None:
        raise UsageError(
            "GITHUB_TOKEN is not set: the pull requests cannot be opened.",
            "Set it (the template-update workflow does), or pass --no-pull-requests to push the branches only.",
        )
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    own = {s.name: s.path for s in ecosystem.services if s.repository is not None}
    meta = branches.repository(root, remote, _inside(root, own.values()))
    branches.check_branch(meta, branch)
    services = _own_repositories(root, own, remote, meta)
    _refuse_uncommitted([meta, *services.values()])
    result = update(root, [], all_targets=True, jobs=jobs, trust=trust, progress=progress)
    services.update(_own_repositories(root, {n: p for n, p in own.items() if n not in services}, REMOTE, meta))
    targets = {t.name: t for t in result.targets}
    server = env.get("GITHUB_SERVER_URL") or github.DEFAULT_SERVER
    proposals: list[Proposal] = []
    elsewhere: list[tuple[str, str]] = []
    for name, repo in sorted(services.items()):
        target = targets.get(name)
        if target is None or target.status not in _MOVED or not branches.changed(repo):
            continue
        proposal = _propose(repo, name, own[name], [target], branch, client, server, body=text.body([target], ()))
        proposals.append(proposal)
        elsewhere.append((name, f"{_versions(target)}, {target.status}: {proposal.pull_request or proposal.outcome}"))
    if branches.changed(meta):
        here = [t for t in result.targets if t.name not in services and t.status in (*_MOVED, "failed")]
        moved = [t for t in result.targets if t.status in _MOVED]
        body = text.body(here, result.notes, elsewhere)
        proposals.append(_propose(meta, ecosystem.name, ".", moved, branch, client, server, body=body))
    failed = result.exit_code == EXIT_FAILED or any(p.outcome == "failed" for p in proposals)
    return ProposeResult(root, result, tuple(proposals), EXIT_FAILED if failed else 0)


def _inside(root: Path, paths: Iterable[str]) -> list[str]:
    """Service checkouts as paths inside the meta-project's repository (which may hold it in a folder)."""
    top = branches.toplevel(root).resolve()
    return [(root / p).resolve().relative_to(top).as_posix() for p in paths]


def _own_repositories(
    root: Path, own: Mapping[str, str], remote: str, meta: branches.Repository
) -> dict[str, branches.Repository]:
    """The checkouts of services with their own repository that exist (a clone made by `update` has
    the remote origin); a directory that is only a folder of the meta-project's repository is not one."""
    found = {}
    for name, path in own.items():
        if (root / path).is_dir() and branches.toplevel(root / path).resolve() != meta.top.resolve():
            found[name] = branches.repository(root / path, remote)
    return found


def _refuse_uncommitted(repos: Sequence[branches.Repository]) -> None:
    for repo in repos:
        dirty = branches.uncommitted(repo)
        if dirty:
            shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
            raise ConflictError(
                f"{repo.top} has uncommitted changes ({shown}): a proposal must hold exactly what the update changed.",
                "Commit or stash them first; in CI, run on a fresh checkout.",
            )


def _versions(target: TargetUpdate) -> str:
    return f"{target.from_version} → {target.to_version}"


def _propose(
    repo: branches.Repository,
    name: str,
    path: str,
    targets: Sequence[TargetUpdate],
    branch: str,
    client: github.Client | None,
    server: str,
    *,
    body: str,
) -> Proposal:
    names = tuple(t.name for t in targets)
    base = Proposal(name, path, repo.url, branch, repo.base, names, "failed")
    try:
        pushed = branches.publish(repo, branch, text.commit_message(targets))
    except ScaffoldError as err:
        return replace(base, reason=err.message)
    done = replace(base, outcome=pushed.outcome, commit=pushed.commit, reason=pushed.reason)
    if client is None or pushed.outcome == "left alone":
        return done
    slug = github.slug(repo.url, server)
    if slug is None:
        return replace(done, reason=f"{repo.url} is not a repository on {server}: open the pull request by hand")
    try:
        pull = github.open_or_update(client, slug, branch, repo.base, text.title(targets), body)
    except ScaffoldError as err:
        return replace(done, outcome="failed", reason=err.message)
    return replace(done, pull_request=pull.url, pull_request_action=pull.action)
