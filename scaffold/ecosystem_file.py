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
from functools import cached_property
from pathlib import Path
from typing import Any, Final, cast

from scaffold import cache, ecosystem_rules
from scaffold.ecosystem_rules import FILE_NAME, SCHEMA_FILE, Problem, position, schema
from scaffold.errors import NotFoundError, UsageError
from scaffold.model import (
    DEFAULT_UPDATE_SCHEDULE,
    Alerting,
    Auth,
    CiSettings,
    Ecosystem,
    Environment,
    Infrastructure,
    Mirrors,
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
    """The parsed model, the text it came from, and (read when asked) its round-trip tree."""

    model: Ecosystem
    text: str
    data: dict[str, Any]  # the plain form the rules accepted (what the model was built from)
    appendable: bool | None = None  # a new service's entry may be appended to the text (None: not known yet)

    @cached_property
    def tree(self) -> Any:
        """The ruamel.yaml round-trip tree (CommentedMap): comments, order, line and column of every node."""
        from ruamel.yaml.comments import CommentedMap

        tree = _load_tree(self.text)
        if tree.get("services") is None:
            tree["services"] = CommentedMap()
        return tree


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
        auth=Auth(**data["auth"]) if data.get("auth") else None,
        teams={
            str(name): Team(github=team.get("github"), receiver=dict(team.get("receiver") or {}))
            for name, team in (data.get("teams") or {}).items()
        },
        mirrors=Mirrors(**{key: str(value) for key, value in (data.get("mirrors") or {}).items()}),
    )


def _alerting(data: dict[str, Any]) -> Alerting:
    return Alerting(
        namespace=data.get("namespace") or Alerting().namespace,
        github_repository=data.get("github_repository"),
        receivers={str(level): dict(fields) for level, fields in (data.get("receivers") or {}).items()},
    )


def _checked(text: str) -> tuple[EcosystemDocument | None, list[Problem]]:
    """The document of the text and the problems of its rules: the schema's, or when there are none,
    the rules between fields (ecosystem_rules). A valid text is remembered (scaffold.cache)."""
    from ruamel.yaml.comments import CommentedMap

    known = _known(text)
    if known is not None:
        return known, []
    tree = _load_tree(text)
    if not isinstance(tree, CommentedMap):
        return None, [Problem(f"{FILE_NAME} must be a mapping at the top level", 1, 1)]
    try:
        data = ecosystem_rules.plain(tree)
    except ecosystem_rules.TooLargeError as err:
        return None, [Problem(f"{FILE_NAME} is too large to be an ecosystem: {err}", 1, 1)]
    found = ecosystem_rules.schema_problems(tree, data)
    if found:
        return None, found
    model = _build(data)
    found = ecosystem_rules.model_problems(model, tree)
    if found:
        return None, found
    document = EcosystemDocument(model, text, data)
    if tree.get("services") is None:
        tree["services"] = CommentedMap()
    document.__dict__["tree"] = tree  # already read: the cached property need not read it again
    _remember(document)
    return document, []


def parse(text: str) -> EcosystemDocument:
    """The document of ecosystem.yaml's text; the first problem any rule finds is raised."""
    document, found = _checked(text)
    if found or document is None:
        raise _first(found)
    return document


# --- texts already validated --------------------------------------------------------------------------
#
# Reading ecosystem.yaml with ruamel's round-trip loader and validating it takes about a second at
# 500 services, and every command reads it. A text that passed every rule is remembered by its
# sha256 (with scaffold's code fingerprint: new rules mean new keys), in this process and in the
# user's cache, as the plain data the model is built from; the round-trip tree is then read only
# when a command edits the file or must say where a problem is. `scaffold new` appends the new
# service's entry to the text and validates what changed, so the next command finds its text known.

_STORE: Final = cache.Store("ecosystem", limit=64)
_KNOWN: dict[str, tuple[dict[str, Any], bool | None]] = {}


def _key(text: str) -> str:
    return cache.digest(cache.fingerprint(), "ecosystem.yaml", text)


def _known(text: str) -> EcosystemDocument | None:
    key = _key(text)
    entry = _KNOWN.get(key)
    if entry is None:
        stored = _STORE.get(key)
        if not isinstance(stored, dict) or not isinstance(stored.get("data"), dict):
            return None
        entry = _KNOWN[key] = (stored["data"], stored.get("appendable"))
    data, appendable = entry
    return EcosystemDocument(_build(data), text, data, appendable)


def _remember(document: EcosystemDocument) -> None:
    key = _key(document.text)
    _KNOWN[key] = (document.data, document.appendable)
    _STORE.put(key, {"data": document.data, "appendable": document.appendable})


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
    found = _disk_problems(root, document)
    if found:
        raise _first(found)
    return document


def _disk_problems(root: Path, document: EcosystemDocument) -> list[Problem]:
    """ecosystem_rules.disk_problems, the round-trip tree read only to place a problem found."""
    found = ecosystem_rules.disk_problems(root, document.model, None)
    return ecosystem_rules.disk_problems(root, document.model, document.tree) if found else found


def dump(tree: Any) -> bytes:
    buffer = io.StringIO()
    _yaml().dump(tree, buffer)
    return buffer.getvalue().encode("utf-8")


def with_service(document: EcosystemDocument, service: Service) -> bytes:
    """The file's new bytes with `service` appended to `services` (comments and order kept).

    That is ruamel's round-trip edit. For a text scaffold wrote this way, the edit only appends the
    entry's lines to the text, so once an edit of a text has been seen to do exactly that
    (`appendable`), the entry is appended without reading the document again (about a second at 500
    services), and the new text is remembered as valid when the rules accept what changed."""
    entry = _entry(service)
    appended = (document.text + _entry_text(service.name, entry)).encode("utf-8")
    if document.appendable is not True or service.name in (document.data.get("services") or {}):
        edited = _round_trip_edit(document, service.name, entry)
        if document.appendable is None:
            _remember(EcosystemDocument(document.model, document.text, document.data, edited == appended))
        if edited != appended:
            return edited
    _remember_appended(document, service.name, entry, appended.decode("utf-8"))
    return appended


def _round_trip_edit(document: EcosystemDocument, name: str, entry: Any) -> bytes:
    from ruamel.yaml.comments import CommentedMap

    tree = _yaml().load(dump(document.tree))  # a copy: the loaded document stays as it was
    services = tree.get("services")
    if services is None or not isinstance(services, CommentedMap):
        services = CommentedMap()
        tree["services"] = services
    elif not services:
        # `services: {}` in flow style would serialise the new entry inline: make it a block.
        services.fa.set_block_style()
    services[name] = entry
    return dump(tree)


def _entry_text(name: str, entry: Any) -> str:
    """The lines ruamel writes for the entry under `services:`."""
    from ruamel.yaml.comments import CommentedMap

    services = CommentedMap()
    services[name] = entry
    alone = CommentedMap()
    alone["services"] = services
    return dump(alone).decode("utf-8").split("\n", 1)[1]


def _remember_appended(document: EcosystemDocument, name: str, entry: Any, text: str) -> None:
    """Remember `text` (the document plus the entry) as valid when the rules accept what changed:
    its size, the new entry against the schema, the rules between services on the whole model.
    When one objects, nothing is remembered and reading the text says where and why."""
    data = {**document.data, "services": {**(document.data.get("services") or {}), name: ecosystem_rules.plain(entry)}}
    if len(text) > MAX_BYTES or ecosystem_rules.size(data) > ecosystem_rules.MAX_VALUES:
        return
    if ecosystem_rules.schema_problems(None, ecosystem_rules.changed_services(data, [name])):
        return
    model = _build(data)
    if ecosystem_rules.model_problems(model, None):
        return
    _remember(EcosystemDocument(model, text, data, True))


def _entry(service: Service) -> Any:
    """The service's entry as a round-trip mapping, written as `scaffold new` writes it."""
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
    return entry


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
        document, found = _checked(text)
    except EcosystemFileError as err:
        return [err.problem]
    if found or document is None or root is None:
        return found
    return _disk_problems(root, document)
