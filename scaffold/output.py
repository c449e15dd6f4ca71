"""The one place that prints: results as text for people or JSON for CI, errors as message + hint."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.results import Change, InitResult, ListResult, NewResult, RemoveResult, Result, SyncResult


def _changes(changes: tuple[Change, ...], dry_run: bool) -> list[str]:
    verbs = (
        {"create": "create", "update": "update", "delete": "delete"}
        if dry_run
        else {"create": "created", "update": "updated", "delete": "deleted"}
    )
    return [f"  {verbs[c.action]:8} {c.path}" for c in changes]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def text(result: Result) -> str:
    would = "Would " if getattr(result, "dry_run", False) else ""
    lines: list[str] = []
    match result:
        case InitResult():
            verb = "Would create" if result.dry_run else "Created"
            lines.append(f"{verb} the {result.ecosystem.name} ecosystem in {result.root}")
            lines += [f"  {f}" for f in result.files]
            if not result.dry_run:
                lines += ["", "Next:", f"  cd {result.root.name}", "  scaffold new backend orders --defaults"]
        case NewResult():
            s = result.service
            lines.append(
                f"{would}{'add' if would else 'Added'} {s.kind} '{s.name}' in {s.path} "
                f"(port {s.port}, route {s.route})" + (" (dry run: nothing written)" if result.dry_run else "")
            )
            lines.append(f"  {len(result.files)} files in {s.path}/")
            lines.append("Wiring:")
            lines += _changes(result.wiring, result.dry_run)
            if not result.dry_run:
                lines += [
                    "",
                    "Next:",
                    f"  cd {s.path} && docker compose up --watch",
                    "  docker compose up   (at the root: the whole ecosystem)",
                ]
        case RemoveResult():
            s = result.service
            lines.append(
                f"{would}{'remove' if would else 'Removed'} '{s.name}' from the ecosystem"
                + ("" if result.code_deleted else f" (its code stays in {s.path})")
            )
            lines += _changes(result.wiring, result.dry_run)
        case SyncResult():
            if not result.wiring:
                lines.append("Everything derived from ecosystem.yaml is up to date.")
            else:
                lines.append(f"{would}{'update' if would else 'Updated'} the wiring:")
                lines += _changes(result.wiring, result.dry_run)
        case ListResult():
            services = result.ecosystem.services
            if not services:
                lines.append(
                    f"The {result.ecosystem.name} ecosystem has no services yet: "
                    "add one with `scaffold new backend NAME`."
                )
            else:
                rows = [["NAME", "KIND", "PATH", "PORT", "ROUTE", "TEMPLATE"]]
                rows += [
                    [s.name, s.kind, s.path, str(s.port), s.route or "-", f"{s.template.source} {s.template.version}"]
                    for s in services
                ]
                lines += _table(rows)
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def show(result: Result, *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(_jsonable(asdict(result)), indent=2, sort_keys=True))
    else:
        print(text(result))


def error(err: ScaffoldError) -> None:
    print(f"error: {err.message}", file=sys.stderr)
    if err.hint:
        print(f"hint: {err.hint}", file=sys.stderr)
