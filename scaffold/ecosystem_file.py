"""Reading and editing `ecosystem.yaml` without losing what a user wrote in it.

The file is parsed with ruamel.yaml's round-trip loader, so comments, key order and quoting
survive an edit; it is validated into the typed model (scaffold.model) with the line and column
of each problem. Edits (add or remove a service) are made on the round-trip document and
serialised back to bytes; writing them is the transaction's job.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from scaffold.errors import NotFoundError, UsageError
from scaffold.model import (
    DEFAULT_UPDATE_SCHEDULE,
    ENVIRONMENT_NAMES,
    INFRASTRUCTURE,
    KINDS,
    Alerting,
    CiSettings,
    Ecosystem,
    Environment,
    Infrastructure,
    Service,
    TemplateRef,
)

FILE_NAME: Final = "ecosystem.yaml"
SCHEMA_FILE: Final = Path(__file__).with_name("ecosystem.schema.json")  # JSON Schema of the file, for editors too


@dataclass(frozen=True)
class Problem:
    """One thing wrong in ecosystem.yaml, where it is (1-based; None when the file has no such place)."""

    message: str
    line: int | None = None
    column: int | None = None


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


def _line_col(node: Any, key: str | None = None) -> tuple[int, int] | None:
    """(line, column) of a key (or of the node) in the file, 1-based."""
    try:
        if key is not None:
            line, col = node.lc.key(key)
        else:
            line, col = node.lc.line, node.lc.col
        return int(line) + 1, int(col) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _where(node: Any, key: str | None = None) -> str:
    """'line L, column C' of a key (or of the node) in the file, 1-based."""
    found = _line_col(node, key)
    return f"line {found[0]}, column {found[1]}" if found else "unknown position"


FIX_HINT: Final = f"Fix {FILE_NAME} (see docs/ecosystem-yaml.md for its fields), then run the command again."


def _fail(message: str, node: Any, key: str | None = None) -> UsageError:
    found = _line_col(node, key)
    return EcosystemFileError(
        f"{FILE_NAME} {_where(node, key)}: {message}",
        FIX_HINT,
        Problem(message, *(found or (None, None))),
    )


def _mapping(node: Any, key: str, parent: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(node, CommentedMap):
        raise _fail(f"'{key}' must be a mapping", parent, key)
    return node


def _str(node: Any, key: str, *, optional: bool = False) -> str | None:
    value = node.get(key)
    if value is None:
        if optional:
            return None
        raise _fail(f"'{key}' is missing", node)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"'{key}' must be a non-empty string", node, key)
    return str(value)


def _req_str(node: Any, key: str) -> str:
    return cast(str, _str(node, key))


def _template(node: Any, key: str, parent: Any) -> TemplateRef:
    tree = _mapping(node, key, parent)
    return TemplateRef(source=_req_str(tree, "source"), version=_req_str(tree, "version"))


def _environment(name: str, node: Any, parent: Any) -> Environment:
    tree = _mapping(node, name, parent)
    values = tree.get("values") or {}
    if not isinstance(values, dict):
        raise _fail("'values' must be a mapping", tree, "values")
    env = Environment(
        name=name,
        namespace=_req_str(tree, "namespace"),
        secret=_req_str(tree, "secret"),
        context=_str(tree, "context", optional=True),
        api_server=_str(tree, "api_server", optional=True),
        values=_plain(values),
        approval=_approval(name, tree),
    )
    if not env.context and not env.api_server:
        raise _fail(f"environment '{name}' needs 'context' or 'api_server'", tree)
    return env


def _approval(name: str, tree: Any) -> bool:
    """`approval:` of an environment: a reviewer approves each delivery; by default every environment
    but test, which the merge queue delivers to before anything is merged."""
    value = tree.get("approval")
    if value is None:
        return name != "test"
    if not isinstance(value, bool):
        raise _fail("'approval' must be true or false", tree, "approval")
    return value


def _alerting(tree: Any) -> Alerting:
    """`alerting:` (optional): the platform release's namespace, the rollback relay's GitHub repository
    and the Alertmanager receivers per level."""
    from scaffold.names import check_name

    node = tree.get("alerting")
    if node is None:
        return Alerting()
    node = _mapping(node, "alerting", tree)
    namespace = _str(node, "namespace", optional=True) or Alerting().namespace
    try:
        check_name(namespace, "namespace")
    except UsageError as err:
        raise _fail(err.message, node, "namespace") from None
    repository = _str(node, "github_repository", optional=True)
    if repository is not None and not re.fullmatch(GITHUB_REPOSITORY_PATTERN, repository):
        raise _fail(f"'github_repository' {RULES['github_repository']}", node, "github_repository")
    receivers_node = node.get("receivers") or {}
    if not isinstance(receivers_node, dict):
        raise _fail(
            "'receivers' must be a mapping of level (service, cluster, node) to receiver fields", node, "receivers"
        )
    receivers: dict[str, dict[str, object]] = {}
    for level, fields in receivers_node.items():
        if level not in ("service", "cluster", "node") or not isinstance(fields, dict) or "name" in fields:
            raise _fail(
                f"'receivers.{level}' must be Alertmanager receiver fields (without 'name') of a level: "
                "service, cluster or node",
                receivers_node,
                str(level),
            )
        receivers[str(level)] = _plain(fields)
    return Alerting(namespace=namespace, github_repository=repository, receivers=receivers)


def _service(name: str, node: Any, parent: Any) -> Service:
    from scaffold.names import check_name

    try:
        check_name(name)
    except UsageError as err:
        raise _fail(err.message, parent, name) from None
    tree = _mapping(node, name, parent)
    kind = _req_str(tree, "kind")
    if kind not in KINDS:
        raise _fail(f"unknown kind '{kind}' (known: {', '.join(KINDS)})", tree, "kind")
    port = tree.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 1024 <= port <= 65535:
        raise _fail("'port' must be an integer between 1024 and 65535", tree, "port")
    needs = tree.get("needs") or []
    if not isinstance(needs, list) or any(n not in INFRASTRUCTURE for n in needs):
        raise _fail(f"'needs' must be a list of {', '.join(INFRASTRUCTURE)}", tree, "needs")
    publishes = _strings(tree, "publishes")
    subscribes = _strings(tree, "subscribes")
    calls = _strings(tree, "calls")
    route = _str(tree, "route", optional=True)
    if route is not None and not route.startswith("/"):
        raise _fail("'route' must start with '/'", tree, "route")
    path = _req_str(tree, "path")
    if path.startswith("/") or ".." in Path(path).parts:
        raise _fail("'path' must be relative to the meta-project and stay inside it", tree, "path")
    repository = _str(tree, "repository", optional=True)
    if repository is not None and not re.fullmatch(WORKFLOW_VALUE_PATTERN, repository):
        raise _fail(f"'repository' {RULES['repository']}", tree, "repository")
    if repository is not None and path in ("", "."):
        raise _fail("a service with its own 'repository' needs a 'path' of its own", tree, "path")
    commit = _str(tree, "commit", optional=True)
    if commit is not None and not re.fullmatch(COMMIT_PATTERN, commit):
        raise _fail(f"'commit' {RULES['commit']}", tree, "commit")
    if commit is not None and repository is None:
        raise _fail("'commit' pins a commit of the service's own 'repository', which is missing", tree, "commit")
    return Service(
        name=name,
        kind=kind,
        path=path,
        port=port,
        route=route,
        template=_template(tree.get("template"), "template", tree),
        needs=tuple(cast(Infrastructure, n) for n in needs),
        publishes=publishes,
        subscribes=subscribes,
        calls=calls,
        repository=repository,
        commit=commit,
    )


# A cron expression as GitHub Actions schedules take it: five fields of digits, '*', '/', ',' and '-'.
CRON_PATTERN: Final = r"^[0-9*/,-]+( [0-9*/,-]+){4}$"
# A value that lands in a generated workflow (a pip requirement, a repository URL): one line, since GitHub
# evaluates `${{` anywhere in a workflow and pip or git would read a leading '-' as an option.
WORKFLOW_VALUE_PATTERN: Final = r"^[^-\s](?!.*\$\{\{)[^\n]*$"
RULES: Final = {
    "scaffold": "must be one pip requirement on one line (no leading '-', no '${{')",
    "update_schedule": "must be a cron expression of five fields, e.g. '0 6 * * 1'",
    "repository": "must be one git URL or path on one line (no leading '-', no '${{')",
    "commit": "must be the full 40-character id of a commit of the service's repository",
    "github_repository": "must be OWNER/NAME of a GitHub repository",
}
COMMIT_PATTERN: Final = r"^[0-9a-f]{40}$"
GITHUB_REPOSITORY_PATTERN: Final = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


def _ci(tree: Any) -> CiSettings:
    """`ci:` (optional): how the generated workflows install and schedule scaffold."""
    node = tree.get("ci")
    if node is None:
        return CiSettings()
    node = _mapping(node, "ci", tree)
    requirement = _str(node, "scaffold", optional=True)
    if requirement is not None and not re.fullmatch(WORKFLOW_VALUE_PATTERN, requirement):
        raise _fail(f"'scaffold' {RULES['scaffold']}", node, "scaffold")
    schedule = _str(node, "update_schedule", optional=True) or DEFAULT_UPDATE_SCHEDULE
    if not re.fullmatch(CRON_PATTERN, schedule):
        raise _fail(f"'update_schedule' {RULES['update_schedule']}", node, "update_schedule")
    return CiSettings(scaffold=requirement, update_schedule=schedule)


def _strings(tree: Any, key: str) -> tuple[str, ...]:
    """An optional list of non-empty strings."""
    value = tree.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(f"'{key}' must be a list of non-empty strings", tree, key)
    return tuple(str(v) for v in value)


def _plain(node: Any) -> Any:
    """A ruamel tree as plain dicts/lists (for values merged into Helm values files)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def parse(text: str) -> EcosystemDocument:
    from scaffold.names import check_name

    tree = _load_tree(text)
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(tree, CommentedMap):
        raise EcosystemFileError(
            f"{FILE_NAME} must be a mapping at the top level.", "Restore it from git.", Problem("not a mapping", 1, 1)
        )
    name = _req_str(tree, "name")
    try:
        check_name(name, "ecosystem")
    except UsageError as err:
        raise _fail(err.message, tree, "name") from None
    environments_tree = _mapping(tree.get("environments"), "environments", tree)
    missing = [e for e in ENVIRONMENT_NAMES if e not in environments_tree]
    if missing:
        raise _fail(f"environments {', '.join(missing)} are missing", tree, "environments")
    services_tree = tree.get("services")
    if services_tree is None:
        services_tree = CommentedMap()
        tree["services"] = services_tree
    services_tree = _mapping(services_tree, "services", tree)
    services = tuple(_service(str(k), v, services_tree) for k, v in services_tree.items())
    ports = [s.port for s in services]
    for service in services:
        if ports.count(service.port) > 1:
            raise _fail(f"port {service.port} is used by more than one service", services_tree, service.name)
    model = Ecosystem(
        name=name,
        description=str(tree.get("description") or ""),
        registry=_req_str(tree, "registry"),
        template=_template(tree.get("template"), "template", tree),
        environments=tuple(_environment(str(k), v, environments_tree) for k, v in environments_tree.items()),
        services=services,
        ci=_ci(tree),
        alerting=_alerting(tree),
    )
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
    return parse(text)


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


# --- the JSON Schema (scaffold/ecosystem.schema.json), with the line and column of each problem -----------------


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def position(tree: Any, path: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at `path` in a round-trip tree (of its key when `at_key`).

    A path that leaves the tree (a missing key) stops at the deepest node that exists, which is
    where the missing part belongs.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node = tree
    found = _line_col(tree)
    for index, step in enumerate(path):
        last = index == len(path) - 1
        try:
            if isinstance(node, CommentedMap) and step in node:
                line, col = node.lc.key(step) if last and at_key else node.lc.value(step)
            elif isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
                line, col = node.lc.item(step)
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
        found = (int(line) + 1, int(col) + 1)
        node = node[step]
    return found


def _field(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS: Final = {"object": "a mapping", "array": "a list", "integer": "a whole number", "null": "empty"}


def _sentence(error: Any) -> tuple[str, list[str | int], bool]:
    """(message, path of the place to point at, point at the key rather than the value)."""
    path: list[str | int] = list(error.absolute_path)
    field = _field(path)
    last = path[-1] if path else None
    validator = error.validator
    node = error.schema if isinstance(error.schema, dict) else {}
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else str(error.message)
        return f"'{missing}' is missing in {field}", path, True
    if validator == "additionalProperties":
        allowed = sorted(node.get("properties", {}))
        patterns = list(node.get("patternProperties", {}))
        instance = error.instance if isinstance(error.instance, dict) else {}
        extra = [str(k) for k in instance if k not in allowed and not any(re.search(p, str(k)) for p in patterns)]
        key = extra[0] if extra else "?"
        close = difflib.get_close_matches(key, allowed, n=1)
        suggestion = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(allowed)})"
        return f"unknown field '{key}' in {field}{suggestion}", [*path, key], True
    if validator == "propertyNames" or "propertyNames" in error.absolute_schema_path:
        name = str(error.instance)
        return (
            f"'{name}' is not a valid name: use a lowercase DNS-1123 label of at most 30 characters",
            [*path, name],
            True,
        )
    if validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return f"'{field}' must be {words}, not {_type_name(error.instance)}", path, False
    if validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"'{field}' must be one of {choices}; got {error.instance!r}", path, False
    if validator == "anyOf" and {"context", "api_server"} <= set(node.get("properties", {})):
        return f"environment '{last}' needs 'context' or 'api_server'", path, True
    if validator == "not" and last == "path":
        return f"'{field}' must be relative to the meta-project and stay inside it", path, False
    if validator in ("minimum", "maximum") and last == "port":
        return f"'{field}' must be between 1024 and 65535; got {error.instance}", path, False
    if validator == "pattern" and last in RULES:
        return f"'{field}' {RULES[str(last)]}", path, False
    if validator == "pattern" and last == "route":
        return f"'{field}' must start with '/'; got {error.instance!r}", path, False
    if validator in ("pattern", "minLength") and node.get("pattern") == "\\S":
        return f"'{field}' must be a non-empty string", path, False
    return f"'{field}': {error.message}", path, False


def _load_tree(text: str) -> Any:
    """The round-trip tree of the text; a syntax error names its line and column."""
    from ruamel.yaml.error import YAMLError

    try:
        return _yaml().load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise EcosystemFileError(
            f"{FILE_NAME} is not valid YAML: {where}{problem}",
            f"Fix the syntax of {FILE_NAME} (git diff shows what changed).",
            Problem(f"not valid YAML: {problem}", *((mark.line + 1, mark.column + 1) if mark else (None, None))),
        ) from None


def schema_problems(text: str) -> list[Problem]:
    """Every problem the JSON Schema finds in the file's text (a YAML syntax error is the only one then).

    Raises ImportError when jsonschema is not installed (it comes with `scaffold[validate]`).
    """
    import jsonschema

    try:
        tree = _load_tree(text)
    except EcosystemFileError as err:
        return [err.problem]
    validator = jsonschema.Draft202012Validator(schema())
    found: list[Problem] = []
    for error in validator.iter_errors(_plain(tree)):
        message, path, at_key = _sentence(error)
        where = position(tree, path, at_key=at_key) or (None, None)
        found.append(Problem(message, *where))
    return sorted(dict.fromkeys(found), key=lambda p: (p.line or 0, p.column or 0, p.message))


def problems(text: str) -> list[Problem]:
    """What `scaffold check` reports about ecosystem.yaml: the schema's findings, then the rules the
    schema cannot express (unique ports, reserved names) once the schema is satisfied."""
    found = schema_problems(text)
    if found:
        return found
    try:
        document = parse(text)
    except EcosystemFileError as err:
        return [err.problem]
    except UsageError as err:
        return [Problem(err.message)]
    return _cross_problems(document)


def _cross_problems(document: EcosystemDocument) -> list[Problem]:
    """Rules between services: reserved names, one owner per route, calls to services that exist."""
    from scaffold.names import RESERVED_NAMES

    found: list[Problem] = []

    def at(name: str, key: str | None = None) -> tuple[int | None, int | None]:
        where = position(document.tree, ["services", name] + ([key] if key else []), at_key=True)
        return where or (None, None)

    routes: dict[str, str] = {}
    for service in document.model.services:
        if service.name in RESERVED_NAMES:
            found.append(Problem(f"the name '{service.name}' is reserved for the ecosystem itself", *at(service.name)))
        if service.route is not None:
            if service.route in routes:
                found.append(
                    Problem(
                        f"route '{service.route}' is also the route of '{routes[service.route]}'",
                        *at(service.name, "route"),
                    )
                )
            routes.setdefault(service.route, service.name)
        for called in service.calls:
            if document.model.service(called) is None:
                message = f"'{service.name}' calls '{called}', which is not a service"
                found.append(Problem(message, *at(service.name, "calls")))
    return found
