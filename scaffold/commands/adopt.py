"""`scaffold adopt PATH --kind K`: bring an existing service under the templates (as `cruft link`).

Data flow: find the meta-project and take its lock -> PATH must be a directory inside it, committed
to git (its own repository, or the meta-project's) and not a service yet -> read how it was made
(scaffold.adopt: a copier answers file, a cruft record, or nothing) -> its answers for the kind's
questions: what it records, then --data, then the defaults `new` uses -> the base version: --version,
the version a copier answers file names when the source has it, else the meta-project's -> render
that version into a scratch directory for its answers file -> in one transaction: the answers file in
the service, ecosystem.yaml with the service, the template store, the wiring.

Nothing else in the service is touched: its files are its own edits on top of the base version, so
the next `scaffold update` is a three-way merge that keeps them. The answers file must be committed
before that update (the update reads it at HEAD), which the result says.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from scaffold import adopt as origins
from scaffold import ecosystem_file
from scaffold.answers import parse_data, questions_for
from scaffold.commands.new import answers_for_template, check_kind, check_port, service_prompts
from scaffold.errors import ConflictError, NotFoundError, UsageError
from scaffold.kinds import service_entry
from scaffold.model import Ecosystem, TemplateRef
from scaffold.names import check_new_service_name
from scaffold.project import STATE_DIR, find_root, locked
from scaffold.prompts import resolve
from scaffold.results import AdoptResult, Change, MappedAnswer, UnmappedAnswer
from scaffold.templates import answers_file, library, render, service_ref, store_update, template_dir
from scaffold.transaction import Transaction
from scaffold.wiring_apply import changes, plan_wiring, stage_wiring


def _location(root: Path, start: Path, path: str, ecosystem: Ecosystem) -> str:
    """PATH relative to the meta-project, proven inside it (links resolved) and not a service already."""
    directory = (start / path).resolve()
    try:
        location = directory.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"{directory} is outside the meta-project {root}.",
            "Clone or move the service into it (e.g. services/NAME), then adopt it there.",
        ) from None
    if not directory.is_dir():
        raise NotFoundError(f"{directory} is not a directory.", "Give the service's directory.")
    if location == "." or location.split("/")[0] in (STATE_DIR, ".git"):
        raise UsageError(f"{location} cannot be a service.", "Give the service's own directory, e.g. services/orders.")
    for service in ecosystem.services:
        if (
            location == service.path
            or location.startswith(f"{service.path}/")
            or service.path.startswith(f"{location}/")
        ):
            raise ConflictError(
                f"{location} overlaps the service '{service.name}' at {service.path}.", "Adopt another directory."
            )
    return location


def _git_state(root: Path, directory: Path) -> tuple[str | None, list[str]]:
    """(its own repository's remote URL, uncommitted files) of the service's directory."""
    from scaffold.checkouts import user_git

    top = user_git("rev-parse", "--show-toplevel", cwd=directory)
    if top.returncode != 0:
        raise UsageError(
            f"{directory} is not in a git repository: an update merges from what is committed.",
            f"Commit it first: `git -C {root} add {directory} && git -C {root} commit`.",
        )
    status = user_git("status", "--porcelain", "--untracked-files=all", "--", ".", cwd=directory)
    dirty = [line[3:] for line in status.stdout.decode().splitlines()]
    own_top = Path(top.stdout.decode().strip()).resolve()
    if own_top != directory.resolve():
        return None, dirty
    remote = user_git("config", "--get", "remote.origin.url", cwd=directory)
    return (remote.stdout.decode().strip() or None) if remote.returncode == 0 else None, dirty


def _base_version(
    root: Path, ref: TemplateRef, asked: str | None, origin: origins.Origin
) -> tuple[TemplateRef, str | None]:
    """The version the service is taken to be made from, and a note when it is not the one it names."""
    lib = library(ref.source, root, remote=ref.source != "builtin")
    if asked is not None:
        return TemplateRef(ref.source, lib.require(asked).version), None
    named = lib.find(origin.version) if origin.version is not None else None
    if named is not None:
        return TemplateRef(ref.source, named.version), None
    note = None
    if origin.made != "hand-written":
        recorded = origin.version or origin.commit or "an unknown version"
        note = (
            f"its answers name {recorded} of {origin.template or 'its template'}, which {ref.source} does not have: "
            f"taken as made from {ref.version} (pass --version to choose)"
        )
    return ref, note


def adopt(
    start: Path,
    path: str,
    kind: str,
    *,
    name: str | None = None,
    data: list[str] | None = None,
    version: str | None = None,
    dry_run: bool = False,
    trust: bool = False,
) -> AdoptResult:
    checked_kind = check_kind(kind)
    root = find_root(start)
    with locked(root):
        document = ecosystem_file.load(root)
        ecosystem = document.model
        location = _location(root, start, path, ecosystem)
        directory = root / location
        repository, dirty = _git_state(root, directory)
        if dirty:
            shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
            raise ConflictError(
                f"{location} has uncommitted changes ({shown}): the next update merges from what is committed.",
                f"Commit it first (`git -C {directory} add . && git -C {directory} commit`), then adopt.",
            )
        current = service_ref(root, ecosystem.template)
        templates = template_dir(current, root)
        origin = origins.read(directory, answers_file(templates), questions_for(templates, checked_kind), checked_kind)
        base, base_note = _base_version(root, current, version, origin)
        given = {
            **{k: v for k, v in origin.answers.items() if k != "name"},
            **parse_data(data or [], templates, checked_kind),
        }
        service_name = name or str(origin.answers.get("name") or directory.name)
        check_new_service_name(service_name, (s.name for s in ecosystem.services), ecosystem.name)
        notes: list[str] = []
        taken = next((s.name for s in ecosystem.services if "port" in given and s.port == given["port"]), None)
        if taken is not None:
            notes.append(f"its port {given.pop('port')} is {taken}'s: it gets the next free one")
        answers = resolve(service_prompts(checked_kind, service_name, ecosystem), given, defaults=True, asker=None)
        port = check_port(answers["port"], ecosystem)
        service = service_entry(checked_kind, service_name, port, answers, ecosystem, base, path=location)
        if repository is not None:
            from dataclasses import replace

            service = replace(service, repository=repository)
        new_text = ecosystem_file.with_service(document, service)
        files, wiring = plan_wiring(root, ecosystem_file.parse(new_text.decode()).model)
        template_answers = answers_for_template(answers, checked_kind, service_name, ecosystem)
        scratch = Path(tempfile.mkdtemp(prefix="staging-", dir=None if dry_run else root / STATE_DIR))
        try:
            render(base, scratch / "render", template_answers, root=root, location=location, trust=trust)
            name_of_answers = answers_file(template_dir(base, root))
            answers_bytes = (scratch / "render" / name_of_answers).read_bytes()
            store = store_update(root, base)
            target = f"{location}/{name_of_answers}"
            written = (Change(target, "update" if (root / target).exists() else "create"),)
            if not dry_run:
                with Transaction(root) as tx:
                    tx.write(target, answers_bytes)
                    if store is not None:
                        tx.write(*store)
                    tx.write(ecosystem_file.FILE_NAME, new_text)
                    stage_wiring(tx, files, wiring)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        notes += [base_note] if base_note else []
        if origin.made == "cruft":
            record = f"{location}/{origins.CRUFT_FILE}"
            notes.append(f"{origins.CRUFT_FILE} stays: `git rm {record}` once cruft no longer updates the service")
        return AdoptResult(
            root=root,
            service=service,
            made=origin.made,
            made_from=origin.template,
            base_version=base.version,
            mapped=tuple(MappedAnswer(their, question) for their, question in origin.mapped),
            unmapped=tuple(UnmappedAnswer(u.key, u.value, u.why) for u in origin.unmapped),
            written=written,
            wiring=(Change(ecosystem_file.FILE_NAME, "update"), *changes(root, wiring)),
            notes=tuple(notes),
            dry_run=dry_run,
        )
