"""Copier `_migrations`: which run for an update from one version to another, and running them.

The semantics are copier's (https://copier.readthedocs.io/en/stable/configuring/#migrations):
an entry is a command (string: run by the shell; list: run directly) or a mapping with `command`,
optional `version` (runs when from < version <= to), `when` (a Jinja condition, by default
`{{ _stage == "after" }}`) and `working_directory`. Commands are rendered with the answers and
`_stage`, `_version_from`, `_version_to`, `_version_pep440_from`, `_version_pep440_to`,
`_version_current`, `_version_pep440_current` and `_copier_operation`, which are also passed
as upper-case environment variables (STAGE, VERSION_FROM, ...). Before-migrations run on the
service's files before the merge (they may rename answers), after-migrations on the merged result.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from scaffold.errors import ScaffoldError

Stage = Literal["before", "after"]
_FALSE = frozenset({"", "false", "no", "off", "0", "n", "none", "null", "~"})


class MigrationError(ScaffoldError):
    pass


@dataclass(frozen=True)
class Migration:
    command: str | tuple[str, ...]
    when: str | bool
    working_directory: str
    variables: Mapping[str, object] = field(default_factory=dict)  # the `_version_current` pair, if versioned


def _parse(version: object) -> Version:
    try:
        return Version(str(version))
    except InvalidVersion:
        raise MigrationError(
            f"The template's _migrations name '{version}', which is not a version.", "Fix the template's copier.yml."
        ) from None


def select(config: Mapping[str, Any], old: str, new: str) -> list[Migration]:
    """The migrations of the new version's copier.yml that apply to an update from `old` to `new`."""
    entries = config.get("_migrations") or []
    if not isinstance(entries, list):
        raise MigrationError("The template's _migrations is not a list.", "Fix the template's copier.yml.")
    low, high = _parse(old), _parse(new)
    default_when = '{{ _stage == "after" }}'
    selected: list[Migration] = []
    for entry in entries:
        if isinstance(entry, str | list):
            selected.append(Migration(_command(entry), default_when, "."))
            continue
        if not isinstance(entry, Mapping):
            raise MigrationError(f"Unsupported migration entry: {entry!r}.", "Fix the template's copier.yml.")
        variables: dict[str, object] = {}
        if "version" in entry:
            current = _parse(entry["version"])
            if not high >= current > low:
                continue
            variables = {"version_current": str(entry["version"]), "version_pep440_current": str(current)}
        if "before" in entry or "after" in entry:  # copier's older format: version + before/after lists
            for stage in ("before", "after"):
                for command in entry.get(stage) or []:
                    condition = f'{{{{ _stage == "{stage}" }}}}'
                    selected.append(Migration(_command(command), condition, ".", variables))
            continue
        selected.append(
            Migration(
                _command(entry["command"]),
                entry.get("when", default_when),
                str(entry.get("working_directory", ".")),
                variables,
            )
        )
    return selected


def _command(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return tuple(str(part) for part in value)
    raise MigrationError(f"Unsupported migration command: {value!r}.", "Fix the template's copier.yml.")


@dataclass(frozen=True)
class Context:
    answers: Mapping[str, object]
    old_tag: str
    new_tag: str
    old_version: str
    new_version: str
    envops: Mapping[str, Any]
    answers_file: str


def run(migrations: Sequence[Migration], stage: Stage, destination: Path, context: Context) -> int:
    """Run the migrations of `stage` in `destination`; how many ran. MigrationError on a failure."""
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(**{k: v for k, v in context.envops.items() if k != "extensions"})
    ran = 0
    for migration in migrations:
        extra: dict[str, object] = {
            "stage": stage,
            "version_from": context.old_tag,
            "version_to": context.new_tag,
            "version_pep440_from": context.old_version,
            "version_pep440_to": context.new_version,
            **migration.variables,
            "copier_operation": "update",
        }
        variables = {
            **context.answers,
            **{f"_{k}": v for k, v in extra.items()},
            "_copier_conf": {"dst_path": str(destination), "answers_file": context.answers_file},
            "_folder_name": destination.name,
        }

        def render(text: str, variables: Mapping[str, object] = variables) -> str:
            return env.from_string(text).render(**variables)

        when = migration.when if isinstance(migration.when, bool) else render(str(migration.when)).strip()
        if when is False or (isinstance(when, str) and when.lower() in _FALSE):
            continue
        command: str | list[str] = (
            render(migration.command) if isinstance(migration.command, str) else [render(p) for p in migration.command]
        )
        cwd = (destination / render(migration.working_directory)).resolve()
        environment = {**os.environ, **{k.upper(): str(v) for k, v in extra.items()}}
        proc = subprocess.run(
            command, shell=isinstance(command, str), cwd=cwd, env=environment, capture_output=True, text=True
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise MigrationError(
                f"the {stage}-migration `{command if isinstance(command, str) else ' '.join(command)}` exited "
                f"{proc.returncode}" + (f": {detail[-1]}" if detail else ""),
                "Fix the template's migration, or update to another version with --to.",
            )
        ran += 1
    return ran
