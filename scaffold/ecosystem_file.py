"""Reading and editing `ecosystem.yaml` without losing what a user wrote in it.

The file is parsed with ruamel.yaml's round-trip loader, so comments, key order and quoting
survive an edit; it is validated by the one validator (scaffold.ecosystem_rules: the JSON Schema,
then the rules between fields, then, for `load`, the rules that need the disk) into the typed
model (scaffold.model), each problem with its line and column. Edits (add or remove a service)
are made on the round-trip document and serialised back to bytes; writing them is the
transaction's job.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from scaffold import ecosystem_rules
from scaffold.ecosystem_rules import FILE_NAME, SCHEMA_FILE, Problem, position, schema
from scaffold.errors import NotFoundError, UsageError
from scaffold.model import (
    DEFAULT_UPDATE_SCHEDULE,
    Alerting,
    CiSettings,
    Ecosystem,
    Environment,
    Infrastructure,
    Service,
    Team,
    TemplateRef,
)

__all__ = [
    "FILE_NAME",
    "SCHEMA_FILE",
    "EcosystemDocument",
    "Problem",
    "load",
    "parse",
    "position",
    "problems",
    "schema",
]
MAX_BYTES: Final = 1 << 20  # an ecosystem.yaml is a few kilobytes; past a mebibyte it is not one


class EcosystemFileError(UsageError):
    """A problem in ecosystem.yaml; `problem` keeps its position apart from the message."""

    def __init__(self, message: str, hint: str, problem: Problem) -> None:
        super().__init__(message, hint)
        self.problem = problem


@dataclass(frozen=True)
class EcosystemDocument:
    """The parsed model plus the round-trip document it came from."""

    model: Ecosystem
    tree: Any  # ruamel.yaml CommentedMap


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


FIX_HINT: Final = f"Fix {FILE_NAME} (see docs/ecosystem-yaml.md for its fields), then run the command again."


def _first(found: list[Problem]) -> EcosystemFileError:
    problem = found[0]
    where = f"line {problem.line}, column {problem.column}" if problem.line is not None else "unknown position"
    more = f" (and {len(found) - 1} more: `scaffold check` lists them)" if len(found) > 1 else ""
    return EcosystemFileError(f"{FILE_NAME} {where}: {problem.message}{more}", FIX_HINT, problem)


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _build(data: dict[str, Any]) -> Ecosystem:
    """The model of data the schema accepted (so every field has its type)."""
    services = []
    for name, entry in (data.get("services") or {}).items():
        template = entry["template"]
        services.append(
            Service(
                name=name,
                kind=entry["kind"],
                path=entry["path"],
                port=entry["port"],
                route=entry.get("route"),
                template=TemplateRef(source=template["source"], version=template["version"]),
                needs=tuple(cast(Infrastructure, n) for n in entry.get("needs") or ()),
                publishes=_strings(entry.get("publishes")),
                subscribes=_strings(entry.get("subscribes")),
                calls=_strings(entry.get("calls")),
                repository=entry.get("repository"),
                commit=entry.get("commit"),
                owner=entry.get("owner"),
                lifecycle=entry.get("lifecycle", "production"),
            )
        )
    environments = tuple(
        Environment(
            name=name,
            namespace=env["namespace"],
            secret=env["secret"],
            context=env.get("context"),
            api_server=env.get("api_server"),
            values=dict(env.get("values") or {}),
            # A reviewer approves each delivery, by default to every environment but test (which the
            # merge queue delivers to before anything is merged).
            approval=env.get("approval", name != "test"),
        )
        for name, env in data["environments"].items()
    )
    return Ecosystem(
        name=data["name"],
        description=str(data.get("description") or ""),
        registry=data["registry"],
        template=TemplateRef(source=data["template"]["source"], version=data["template"]["version"]),
        environments=environments,
        services=tuple(services),
        alerting=_alerting(data.get("alerting") or {}),
        ci=CiSettings(
            scaffold=(data.get("ci") or {}).get("scaffold"),
            update_schedule=(data.get("ci") or {}).get("update_schedule") or DEFAULT_UPDATE_SCHEDULE,
        ),
        owner=data.get("owner"),
        teams={
            str(name): Team(github=team.get("github"), receiver=dict(team.get("receiver") or {}))
            for name, team in (data.get("teams") or {}).items()
        },
    )


def _alerting(data: dict[str, Any]) -> Alerting:
    return Alerting(
        namespace=data.get("namespace") or Alerting().namespace,
        github_repository=data.get("github_repository"),
        receivers={str(level): dict(fields) for level, fields in (data.get("receivers") or {}).items()},
    )


def _checked(text: str) -> tuple[Any, Ecosystem | None, list[Problem]]:
    """(round-trip tree, model, problems) of the text: the schema's problems, or when there are none,
    the rules between fields (ecosystem_rules)."""
    from ruamel.yaml.comments import CommentedMap

    tree = _load_tree(text)
    if not isinstance(tree, CommentedMap):
        return tree, None, [Problem(f"{FILE_NAME} must be a mapping at the top level", 1, 1)]
    try:
        data = ecosystem_rules.plain(tree)
    except ecosystem_rules.TooLargeError as err:
        return tree, None, [Problem(f"{FILE_NAME} is too large to be an ecosystem: {err}", 1, 1)]
    found = ecosystem_rules.schema_problems(tree, data)
    if found:
        return tree, None, found
    model = _build(data)
    return tree, model, ecosystem_rules.model_problems(model, tree)


def parse(text: str) -> EcosystemDocument:
    """The document of ecosystem.yaml's text; the first problem any rule finds is raised."""
    tree, model, found = _checked(text)
    if found or model is None:
        raise _first(found)
    if tree.get("services") is None:
        from ruamel.yaml.comments import CommentedMap

        tree["services"] = CommentedMap()
    return EcosystemDocument(model=model, tree=tree)


def load(root: Path) -> EcosystemDocument:
    path = root / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"{path} does not exist.", "Run the command inside a meta-project made by `scaffold init`."
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"Cannot read {path}: {err}", "Check the file's permissions and encoding.") from None
    document = parse(text)
    found = ecosystem_rules.disk_problems(root, document.model, document.tree)
    if found:
        raise _first(found)
    return document


def dump(tree: Any) -> bytes:
    buffer = io.StringIO()
    _yaml().dump(tree, buffer)
    return buffer.getvalue().encode("utf-8")


def with_service(document: EcosystemDocument, service: Service) -> bytes:
    """The file's new bytes with `service` appended to `services` (comments and order kept)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    entry = CommentedMap()
    entry["kind"] = service.kind
    entry["path"] = service.path
    entry["port"] = service.port
    if service.repository is not None:
        entry["repository"] = service.repository
    if service.commit is not None:
        entry["commit"] = service.commit
    if service.route is not None:
        entry["route"] = service.route
    template = CommentedMap()
    template["source"] = service.template.source
    template["version"] = service.template.version
    entry["template"] = template
    for key, values in (
        ("needs", service.needs),
        ("publishes", service.publishes),
        ("subscribes", service.subscribes),
        ("calls", service.calls),
    ):
        if values or key == "needs":
            sequence = CommentedSeq(values)
            sequence.fa.set_flow_style()
            entry[key] = sequence
    tree = _yaml().load(dump(document.tree))  # a copy: the loaded document stays as it was
    services = tree.get("services")
    if services is None or not isinstance(services, CommentedMap):
        services = CommentedMap()
        tree["services"] = services
    elif not services:
        # `services: {}` in flow style would serialise the new entry inline: make it a block.
        services.fa.set_block_style()
    services[service.name] = entry
    return dump(tree)


def without_service(document: EcosystemDocument, name: str) -> bytes:
    """The file's new bytes with the service `name` removed."""
    tree = _yaml().load(dump(document.tree))
    services: Any = tree.get("services") or {}
    if name not in services:
        raise NotFoundError(
            f"There is no service named '{name}' in this ecosystem.", "Run `scaffold list` to see the services."
        )
    del services[name]
    if not services:
        services.fa.set_flow_style()
    return dump(tree)


# --- every problem at once, for `scaffold check` ------------------------------------------------------


def _load_tree(text: str) -> Any:
    """The round-trip tree of the text; a syntax error names its line and column."""
    from ruamel.yaml.error import YAMLError

    if len(text) > MAX_BYTES:
        raise EcosystemFileError(
            f"{FILE_NAME} is {len(text)} characters long; an ecosystem's file is far smaller (limit {MAX_BYTES}).",
            f"Restore {FILE_NAME} from git (`git checkout -- {FILE_NAME}`).",
            Problem("too large to be an ecosystem's file", 1, 1),
        )
    try:
        return _yaml().load(text)
    except RecursionError:
        raise EcosystemFileError(
            f"{FILE_NAME} is nested too deeply to be read.",
            f"Restore {FILE_NAME} from git (`git checkout -- {FILE_NAME}`).",
            Problem("nested too deeply to be read", 1, 1),
        ) from None
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise EcosystemFileError(
            f"{FILE_NAME} is not valid YAML: {where}{problem}",
            f"Fix the syntax of {FILE_NAME} (git diff shows what changed).",
            Problem(f"not valid YAML: {problem}", *((mark.line + 1, mark.column + 1) if mark else (None, None))),
        ) from None


def problems(text: str, root: Path | None = None) -> list[Problem]:
    """Every problem in the file (what `scaffold check` reports): the schema's, or when the schema is
    satisfied, the rules between fields, then (with `root`) those that need the meta-project on disk."""
    try:
        tree, model, found = _checked(text)
    except EcosystemFileError as err:
        return [err.problem]
    if found or model is None or root is None:
        return found
    return ecosystem_rules.disk_problems(root, model, tree)
