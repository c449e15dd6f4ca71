"""`scaffold remove NAME`: take a service out of ecosystem.yaml and re-derive the wiring.

The service's code stays where it is unless `delete_code` is asked for, since it is the user's;
even then, work that exists nowhere else (scaffold.unsaved) stops the command unless `force`.
"""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import ConflictError, NotFoundError
from scaffold.model import Service
from scaffold.project import find_root, locked
from scaffold.results import Change, RemoveResult
from scaffold.transaction import Transaction
from scaffold.wiring_apply import changes, plan_wiring, stage_wiring


def remove_service(start: Path, name: str, *, delete_code: bool, dry_run: bool, force: bool = False) -> RemoveResult:
    root = find_root(start)
    with locked(root):
        document = ecosystem_file.load(root)
        service = document.model.service(name)
        if service is None:
            raise NotFoundError(
                f"There is no service named '{name}' in this ecosystem.", "Run `scaffold list` to see the services."
            )
        if delete_code and not force:
            _refuse_unsaved(root, service)
        new_text = ecosystem_file.without_service(document, name)
        files, wiring = plan_wiring(root, ecosystem_file.parse(new_text.decode()).model)
        found = [Change(ecosystem_file.FILE_NAME, "update"), *changes(root, wiring)]
        if delete_code:
            found.append(Change(service.path, "delete"))
        if not dry_run:
            with Transaction(root) as tx:
                tx.write(ecosystem_file.FILE_NAME, new_text)
                stage_wiring(tx, files, wiring)
                if delete_code:
                    tx.delete(service.path)
        return RemoveResult(root=root, service=service, code_deleted=delete_code, wiring=tuple(found), dry_run=dry_run)


def _refuse_unsaved(root: Path, service: Service) -> None:
    from scaffold.unsaved import unsaved_work

    lost = unsaved_work(root / service.path)
    if lost:
        raise ConflictError(
            f"Deleting {service.path} would lose work that exists nowhere else: {'; '.join(lost)}.",
            "Commit (and push) it first, or remove without --delete-code; --force deletes it anyway.",
        )
