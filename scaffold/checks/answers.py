"""A service's Copier answers file (what makes it updatable) and its template version.

The file must be there and parse, name the service's kind and name, and record the template
version ecosystem.yaml names; that version must be available (scaffold.templates.resolve: the
meta-project's template store, the shipped templates, or the source repository's tags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaffold.checks.findings import Finding
from scaffold.ecosystem_file import FILE_NAME
from scaffold.errors import ScaffoldError
from scaffold.model import REDIS_KINDS, Service, TemplateRef
from scaffold.templates import ANSWERS_FILE, resolve


def version_problem(root: Path, ref: TemplateRef) -> str | None:
    """Why the template version cannot be used (unknown, source unreachable), or None when it can."""
    try:
        resolve(ref, root)
    except ScaffoldError as err:
        return err.message
    return None


def _load(path: Path, relative: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Finding("error", "missing: the service cannot be updated from its template", relative)]
    except (OSError, UnicodeDecodeError) as err:
        return None, [Finding("error", f"cannot be read: {err}", relative)]
    try:
        answers = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return None, [Finding("error", f"not valid YAML: {problem}", relative, *where)]
    if not isinstance(answers, dict):
        return None, [Finding("error", "not a mapping of answers", relative)]
    return answers, []


def held_by_ecosystem(service: Service) -> dict[str, object]:
    """What the service's answers held by ecosystem.yaml too (answers.HELD_BY_ECOSYSTEM) must be;
    part of the key the answers check is remembered by (checks/memo.py)."""
    expected: dict[str, object] = {"port": service.port}
    if service.kind == "worker":
        expected["subscribes"] = service.subscribes
    if service.kind == "frontend" and service.calls:
        expected["api_service"] = service.calls[0]
    if service.kind in REDIS_KINDS:
        expected["redis"] = "redis" in service.needs
    return expected


def _held_by_ecosystem(answers: dict[str, Any], service: Service, relative: str) -> list[Finding]:
    """Answers ecosystem.yaml holds too (answers.HELD_BY_ECOSYSTEM) must say what it says."""
    found: list[Finding] = []
    for key, wanted in held_by_ecosystem(service).items():
        value = answers.get(key)
        if key == "subscribes" and isinstance(value, str):
            value = tuple(p.strip() for p in value.split(",") if p.strip())
        if key == "redis":  # a service made before the question existed answered "no"
            if answers.get(key, False) is not wanted:
                says = "lists redis in its needs" if wanted else "does not list redis in its needs"
                found.append(
                    Finding("error", f"'redis' is {answers.get(key, False)!r}, ecosystem.yaml {says}", relative)
                )
        elif key in answers and value != wanted:
            shown = ", ".join(wanted) if isinstance(wanted, tuple) else wanted
            message = f"'{key}' is {answers.get(key)!r}, ecosystem.yaml says {shown!r}"
            found.append(Finding("error", message, relative))
    return found


def problems(root: Path, service: Service) -> list[Finding]:
    """A problem with the template version is placed in ecosystem.yaml (the runner adds the line)."""
    relative = f"{service.path}/{ANSWERS_FILE}"
    answers, found = _load(root / relative, relative)
    if answers is not None:
        for key in ("_src_path", "_commit"):
            if not answers.get(key):
                found.append(Finding("error", f"'{key}' is missing (copier cannot update the service)", relative))
        for key, expected in (("kind", service.kind), ("name", service.name)):
            if answers.get(key) != expected:
                message = f"'{key}' is {answers.get(key)!r}, ecosystem.yaml says {expected!r}"
                found.append(Finding("error", message, relative))
        found += _held_by_ecosystem(answers, service, relative)
        commit = str(answers.get("_commit") or "")
        if commit and commit.removeprefix("v") != service.template.version.removeprefix("v"):
            message = f"records template version {commit}, ecosystem.yaml says {service.template.version}"
            found.append(Finding("error", message, relative))
    problem = version_problem(root, service.template)
    if problem:
        found.append(Finding("error", problem, FILE_NAME))
    return found
