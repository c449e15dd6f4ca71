"""`scaffold new KIND NAME`: render a service from its template and wire it into the ecosystem.

Data flow: find the meta-project -> read ecosystem.yaml -> validate the name and answers ->
plan the wiring of the ecosystem with the new service (stops on hand-edited derived files) ->
render the service into a staging directory -> in one transaction move it into place, write
ecosystem.yaml and the derived files. Any failure leaves the meta-project as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from scaffold import ecosystem_file
from scaffold.answers import check as check_answers
from scaffold.answers import parse_data
from scaffold.ecosystem_rules import port_range
from scaffold.errors import ConflictError, UsageError
from scaffold.kinds import extra_prompts, service_entry
from scaffold.model import INFRASTRUCTURE_HOST_PORTS, KINDS, Ecosystem, Kind
from scaffold.names import check_new_service_name
from scaffold.project import STATE_DIR, find_root, locked
from scaffold.prompts import Asker, Prompt, resolve
from scaffold.results import Change, NewResult
from scaffold.templates import rendering, service_ref, store_update, template_dir
from scaffold.transaction import Transaction
from scaffold.wiring_apply import changes, plan_wiring, stage_wiring

FIRST_PORT: Final = 8001


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise UsageError(f"Unknown kind '{kind}'.", f"Known kinds: {', '.join(KINDS)}.")
    return kind


def next_free_port(ecosystem: Ecosystem) -> int:
    used = {s.port for s in ecosystem.services} | INFRASTRUCTURE_HOST_PORTS
    port = FIRST_PORT
    while port in used:
        port += 1
    return port


def check_port(port: object, ecosystem: Ecosystem) -> int:
    low, high = port_range()
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= high:
        raise UsageError(f"Port {port!r} is not between {low} and {high}.", "Example: --data port=8001")
    owner = next((s.name for s in ecosystem.services if s.port == port), None)
    if owner or port in INFRASTRUCTURE_HOST_PORTS:
        raise ConflictError(
            f"Port {port} is already used by {owner or 'the shared infrastructure'}.",
            f"Leave the port out and scaffold picks a free one ({next_free_port(ecosystem)}).",
        )
    return port


def service_prompts(kind: Kind, name: str, ecosystem: Ecosystem) -> list[Prompt]:
    def port_error(text: str) -> str | None:
        try:
            check_port(int(text), ecosystem)
        except ValueError:
            return "a whole number, e.g. 8001"
        except (UsageError, ConflictError) as err:
            return err.message
        return None

    return [
        Prompt("description", "What does the service do (one line)?", f"The {name} {kind}"),
        Prompt("port", "Local development port", next_free_port(ecosystem), port_error),
        *extra_prompts(kind, ecosystem),
    ]


def answers_for_template(
    answers: Mapping[str, object], kind: Kind, name: str, ecosystem: Ecosystem
) -> dict[str, object]:
    """What copier renders a service with: its answers plus what scaffold sets (SET_BY_SCAFFOLD)."""
    return {**answers, "kind": kind, "name": name, "ecosystem": ecosystem.name, "registry": ecosystem.registry}


def _files(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()))


def new_service(
    start: Path,
    kind: str,
    name: str,
    *,
    data: list[str],
    defaults: bool,
    dry_run: bool,
    asker: Asker | None,
    trust: bool = False,
) -> NewResult:
    checked_kind = check_kind(kind)
    root = find_root(start)
    with locked(root):
        document = ecosystem_file.load(root)
        ecosystem = document.model
        check_new_service_name(name, (s.name for s in ecosystem.services), ecosystem.name)
        path = f"services/{name}"
        if (root / path).exists() or (root / path).is_symlink():
            raise ConflictError(
                f"{root / path} already exists.", "Move it away or choose another name; scaffold never overwrites it."
            )
        template = service_ref(root, ecosystem.template)
        given = parse_data(data, template_dir(template, root), checked_kind)
        answers = check_answers(
            resolve(service_prompts(checked_kind, name, ecosystem), given, defaults=defaults, asker=asker)
        )
        port = check_port(answers["port"], ecosystem)
        service = service_entry(checked_kind, name, port, answers, ecosystem, template)
        template_answers = answers_for_template(answers, checked_kind, name, ecosystem)
        staging_parent = Path(tempfile.mkdtemp(prefix="staging-", dir=None if dry_run else root / STATE_DIR))
        try:
            staged = staging_parent / name
            with rendering(
                service.template, staged, template_answers, root=root, location=path, trust=trust
            ) as pending:
                # Done while the template renders (in the render process, on another core): at 500
                # services ecosystem.yaml's edit and the wiring are most of what `new` does besides.
                new_text = ecosystem_file.with_service(document, service)
                wired = ecosystem_file.parse(new_text.decode())
                files, wiring = plan_wiring(root, wired.model)
                wiring_changes = (Change(ecosystem_file.FILE_NAME, "update"), *changes(root, wiring))
                pending.wait()
            store = store_update(root, service.template)
            result = NewResult(root=root, service=service, files=_files(staged), wiring=wiring_changes, dry_run=dry_run)
            if not dry_run:
                with Transaction(root) as tx:
                    tx.move_in(staged, path)
                    if store is not None:
                        tx.write(*store)
                    tx.write(ecosystem_file.FILE_NAME, new_text)
                    stage_wiring(tx, files, wiring)
        finally:
            shutil.rmtree(staging_parent, ignore_errors=True)
        return result
