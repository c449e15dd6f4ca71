"""The one validator of ecosystem.yaml: every command, `scaffold check` included, applies these rules.

Three layers, each a function returning every `Problem` with its line and column:

1. `schema_problems`: the shape of each field, from the JSON Schema `scaffold/ecosystem.schema.json`
   (types, required and unknown keys, ranges, patterns). A rule about one value lives there and
   nowhere else; code that checks a value before it is written to the file (a prompt, `--data`)
   asks the schema (`pattern`, `port_range`) instead of repeating the rule.
2. `model_problems`: rules between fields and services, which a schema cannot say (unique ports,
   routes and paths, calls to services that exist, names that would clash as Kubernetes objects).
3. `disk_problems`: rules that need the meta-project on disk (a path through a symbolic link, a
   built-in template version this installation and the meta-project's store do not have).

`ecosystem_file.parse` raises the first problem of 1 then 2; `ecosystem_file.load` adds 3;
`scaffold check` reports them all. Adding a field is one change here: its shape in the schema
(plus, when it relates to other fields, a rule in `model_problems`), then the model's field and
the line in `ecosystem_file._build` that reads it (docs/architecture.md).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from scaffold.model import (
    GATEWAY_PATHS,
    INFRASTRUCTURE_HOST_PORTS,
    META_PROJECT_ENTRIES,
    REDIS_KINDS,
    SERVICES_DIR,
    Ecosystem,
)

if TYPE_CHECKING:
    import jsonschema

FILE_NAME: Final = "ecosystem.yaml"
SCHEMA_FILE: Final = Path(__file__).with_name("ecosystem.schema.json")  # also for editors (docs/ecosystem-yaml.md)
MAX_VALUES: Final = 100_000  # keys, items and scalars after YAML aliases are expanded: an alias bomb stops here
MAX_DEPTH: Final = 64  # nesting of mappings and lists


@dataclass(frozen=True)
class Problem:
    """One thing wrong in ecosystem.yaml, where it is (1-based; None when the file has no such place)."""

    message: str
    line: int | None = None
    column: int | None = None


class TooLargeError(ValueError):
    """The document expands beyond MAX_VALUES or MAX_DEPTH."""


# --- the schema ---------------------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def definition(*path: str) -> dict[str, Any]:
    """A node of the schema by its path, e.g. definition("$defs", "service", "properties", "port")."""
    node: Any = schema()
    for step in path:
        node = node[step]
    return dict(node)


def pattern(*path: str) -> re.Pattern[str]:
    """The compiled `pattern` of a schema node (for code that checks a value before it is in the file)."""
    return re.compile(str(definition(*path)["pattern"]))


def rule(*path: str) -> str:
    """What a schema node's pattern allows, in words (its `x-rule`)."""
    return str(definition(*path).get("x-rule", ""))


def port_range() -> tuple[int, int]:
    port = definition("$defs", "service", "properties", "port")
    return int(port["minimum"]), int(port["maximum"])


# --- plain data from the round-trip tree ---------------------------------------------------------------


def plain(node: Any) -> Any:
    """A ruamel tree as plain dicts, lists and scalars (what the schema and the model read).

    YAML aliases are expanded here, so a document that aliases an alias of an alias (a "billion
    laughs" bomb) would grow without bound: past MAX_VALUES values or MAX_DEPTH levels it stops.
    Strings lose ruamel's quoting wrappers (a quoted "1.2.3" is a plain str).
    """
    budget = [MAX_VALUES]

    def convert(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooLargeError(f"it expands to more than {MAX_VALUES} values (YAML aliases)")
        if depth > MAX_DEPTH:
            raise TooLargeError(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            return {str(k): convert(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, depth + 1) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        return value

    return convert(node, 0)


def size(data: Any) -> int:
    """How many values `plain` counted for its result (what MAX_VALUES bounds)."""
    if isinstance(data, dict):
        return 1 + sum(size(v) for v in data.values())
    if isinstance(data, list):
        return 1 + sum(size(v) for v in data)
    return 1


# --- where a problem is --------------------------------------------------------------------------------


def _line_col(node: Any, key: str | None = None) -> tuple[int, int] | None:
    try:
        if key is not None:
            line, col = node.lc.key(key)
        else:
            line, col = node.lc.line, node.lc.col
        return int(line) + 1, int(col) + 1
    except (AttributeError, KeyError, TypeError):
        return None


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


def _problem(message: str, tree: Any, path: Sequence[str | int], *, at_key: bool = False) -> Problem:
    where = position(tree, path, at_key=at_key) or (None, None)
    return Problem(message, *where)


# --- 1. the shape of each field -------------------------------------------------------------------------


def _field(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path) or "the top level"


# What a YAML value is, in words; bool before int (a bool is an int in Python).
_VALUE_WORDS: Final[tuple[tuple[type, str], ...]] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a decimal number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    return next((word for kind, word in _VALUE_WORDS if isinstance(value, kind)), type(value).__name__)


_TYPE_WORDS: Final = {
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "null": "empty",
    "string": "a string",
    "boolean": "true or false",
    "number": "a number",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sentence(error: Any) -> tuple[str, list[str | int], bool]:
    """(message, path of the place to point at, point at the key rather than the value)."""
    path: list[str | int] = list(error.absolute_path)
    field = _field(path)
    last = path[-1] if path else None
    validator = error.validator
    node = error.schema if isinstance(error.schema, dict) else {}
    parent_rule = error.parent.schema.get("x-rule") if error.parent is not None else None
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
        return f"{_shown(name)} is not a valid name: use {rule('$defs', 'name')}", [*path, name], True
    if validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return f"'{field}' must be {words}, not {_type_name(error.instance)}", path, False
    if validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"'{field}' must be one of {choices}; got {_shown(error.instance)}", path, False
    if validator == "anyOf" and {"context", "api_server"} <= set(node.get("properties", {})):
        return f"environment '{last}' needs 'context' or 'api_server'", path, True
    if validator in ("minimum", "maximum"):
        low, high = node.get("minimum"), node.get("maximum")
        return f"'{field}' must be between {low} and {high}; got {error.instance}", path, False
    if validator in ("pattern", "not", "maxLength", "minLength"):
        if node.get("x-rule") or parent_rule:
            return f"'{field}' must be {node.get('x-rule') or parent_rule}; got {_shown(error.instance)}", path, False
        if node.get("pattern") == "\\S" or validator == "minLength":
            return f"'{field}' must be a non-empty string", path, False
    if validator == "dependentRequired":
        needs: dict[str, list[str]] = error.validator_value if isinstance(error.validator_value, dict) else {}
        given = error.instance if isinstance(error.instance, dict) else {}
        wanted = [f"'{key}' needs '{other[0]}'" for key, other in needs.items() if key in given]
        return f"in {field}: {wanted[0] if wanted else error.message}, which is missing", path, True
    if validator == "uniqueItems":
        return f"'{field}' lists an entry twice", path, False
    return f"'{field}': {error.message}", path, False


def _errors(data: Any) -> Iterator[Any]:
    """jsonschema's errors, the innermost of each `$ref` / `not` chain (the one with the rule)."""
    yield from _validator().iter_errors(data)


def schema_problems(tree: Any, data: Any) -> list[Problem]:
    """Every problem the schema finds in `data` (the plain form of the round-trip `tree`)."""
    found: list[Problem] = []
    for error in _errors(data):
        message, path, at_key = _sentence(error)
        found.append(_problem(message, tree, path, at_key=at_key))
    return _ordered(found)


def changed_services(data: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """What the schema must see of `data` when only the services `names` are new in it: the schema
    judges each entry of `services` alone, so the other entries (already accepted) may be left out.
    Should the schema ever constrain the entries together, this gives all of `data`."""
    services = schema()["properties"]["services"]
    if not set(services) <= {"type", "propertyNames", "additionalProperties", "description"}:
        return data
    return {**data, "services": {name: data["services"][name] for name in names}}


def _ordered(found: list[Problem]) -> list[Problem]:
    return sorted(dict.fromkeys(found), key=lambda p: (p.line or 0, p.column or 0, p.message))


# --- 2. rules between fields and services ----------------------------------------------------------------


class _Paths:
    """The service paths seen so far, indexed so that the first one a new path overlaps (the same
    directory, or one holding the other) is found without comparing it with every other."""

    def __init__(self) -> None:
        self._count = 0
        self._at: dict[str, tuple[int, str, str]] = {}  # path -> (order, service, path), the first at it
        self._below: dict[str, tuple[int, str, str]] = {}  # directory -> the first service below it

    def add(self, name: str, path: str) -> None:
        entry = (self._count, name, path)
        self._count += 1
        self._at.setdefault(path, entry)
        for parent in _parents(path):
            self._below.setdefault(parent, entry)

    def first_overlap(self, path: str) -> tuple[str, str] | None:
        found = [self._at[p] for p in (path, *_parents(path)) if p in self._at]
        if path in self._below:
            found.append(self._below[path])
        if not found:
            return None
        _, name, other = min(found)
        return name, other


def _parents(path: str) -> list[str]:
    """'a/b/c' -> ['a/b', 'a']."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def model_problems(model: Ecosystem, tree: Any) -> list[Problem]:
    """The rules a schema cannot say. `model` satisfies the schema (schema_problems found nothing)."""
    from scaffold.names import OBJECT_SUFFIXES, ecosystem_name_problem, service_name_problem
    from scaffold.template_repo import parse_version

    found: list[Problem] = []

    def at(name: str, key: str | None = None) -> list[str | int]:
        return ["services", name, key] if key else ["services", name]

    if (why := ecosystem_name_problem(model.name)) is not None:
        found.append(_problem(why, tree, ["name"]))
    routes: dict[str, str] = {}
    ports: dict[int, str] = {}
    paths = _Paths()
    names = {s.name for s in model.services}
    for service in model.services:
        if (why := service_name_problem(service.name, model.name)) is not None:
            found.append(_problem(why, tree, at(service.name), at_key=True))
        for suffix in OBJECT_SUFFIXES:
            other = service.name.removesuffix(suffix)
            if other != service.name and other in names:
                message = f"the name '{service.name}' clashes with the '{suffix[1:]}' objects of the service '{other}'"
                found.append(_problem(message, tree, at(service.name), at_key=True))
        if service.port in ports:
            message = f"port {service.port} is also the port of '{ports[service.port]}'"
            found.append(_problem(message, tree, at(service.name, "port")))
        elif service.port in INFRASTRUCTURE_HOST_PORTS:
            message = f"port {service.port} is published by the shared infrastructure (gateway, collector, UIs)"
            found.append(_problem(message, tree, at(service.name, "port")))
        ports.setdefault(service.port, service.name)
        if service.route is not None:
            prefix = "/" + service.route.strip("/")
            if reserved := next((p for p in GATEWAY_PATHS if p == prefix or p.startswith(prefix + "/")), None):
                message = f"route '{service.route}' would hide the gateway's own {reserved} (issuer, API document)"
                found.append(_problem(message, tree, at(service.name, "route")))
            if prefix in routes:
                message = f"route '{service.route}' is also the route of '{routes[prefix]}'"
                found.append(_problem(message, tree, at(service.name, "route")))
            routes.setdefault(prefix, service.name)
        for called in service.calls:
            target = model.service(called)
            if target is None or called == service.name:
                message = f"'{service.name}' calls '{called}', which is not another service of this ecosystem"
                found.append(_problem(message, tree, at(service.name, "calls")))
        if "redis" in service.needs and service.kind not in REDIS_KINDS:
            message = f"a {service.kind} cannot need redis (only {', '.join(REDIS_KINDS)} templates use it)"
            found.append(_problem(message, tree, at(service.name, "needs")))
        found += _path_problems(service.name, service.path, paths, tree)
        paths.add(service.name, service.path)
        if parse_version(service.template.version) is None:
            found.append(_problem("'version' is not a version such as 0.1.0", tree, at(service.name, "template")))
    if parse_version(model.template.version) is None:
        found.append(_problem("'version' is not a version such as 0.1.0", tree, ["template", "version"]))
    return _ordered(found)


def _path_problems(name: str, path: str, earlier: _Paths, tree: Any) -> list[Problem]:
    where = ["services", name, "path"]
    top = path.split("/", 1)[0]
    if path == SERVICES_DIR or top in META_PROJECT_ENTRIES:
        message = (
            f"path '{path}' is the meta-project's own ({top}): a service needs a directory of its own, "
            f"e.g. {SERVICES_DIR}/{name}"
        )
        return [_problem(message, tree, where)]
    overlap = earlier.first_overlap(path)
    if overlap is not None:
        other, other_path = overlap
        relation = "the path" if path == other_path else "inside or around the path"
        return [_problem(f"path '{path}' is {relation} of '{other}' ({other_path})", tree, where)]
    return []


# --- 3. rules that need the meta-project on disk ------------------------------------------------------


def disk_problems(root: Path, model: Ecosystem, tree: Any) -> list[Problem]:
    """Service paths that go through a link or a file; built-in template versions nobody has; a CA
    bundle that is not a PEM file of the meta-project."""
    from scaffold.paths import OutsideRootError, inside

    found: list[Problem] = []
    for service in model.services:
        try:
            inside(root, f"{service.path}/-")  # the path itself and every directory on its way
        except OutsideRootError as err:
            reason = err.reason.replace(f"'{service.path}/-' ", "", 1)
            message = f"path '{service.path}' {reason}: scaffold does not write or delete through links"
            found.append(_problem(message, tree, ["services", service.name, "path"]))
    found += _builtin_versions(root, model, tree)
    if model.mirrors.ca_bundle is not None:
        from scaffold.mirrors import ca_bundle_problem

        problem = ca_bundle_problem(root, model.mirrors.ca_bundle)
        if problem is not None:
            found.append(_problem(f"mirrors.ca_bundle {problem}", tree, ["mirrors", "ca_bundle"]))
    return _ordered(found)


def _builtin_versions(root: Path, model: Ecosystem, tree: Any) -> list[Problem]:
    """A built-in template version must be the one this scaffold ships or one the meta-project stores.
    (A custom source's versions may live only in its repository: the commands that render ask it.)"""
    from scaffold.template_repo import BrokenBundleError, GitError, bundle_tags, parse_version
    from scaffold.templates import BUILTIN, TEMPLATE_VERSION, store_file

    refs = [(["template"], model.template), *((["services", s.name, "template"], s.template) for s in model.services)]
    if not any(ref.source == BUILTIN for _, ref in refs):
        return []
    known = {str(parse_version(TEMPLATE_VERSION))}
    store = root / store_file(BUILTIN)
    try:
        if store.is_file():
            known |= {str(v) for v in map(parse_version, bundle_tags(store)) if v is not None}
    except (OSError, GitError, BrokenBundleError):
        pass  # a damaged store is reported by the command that needs it
    found: list[Problem] = []
    for where, ref in refs:
        version = parse_version(ref.version)
        if ref.source == BUILTIN and version is not None and str(version) not in known:
            message = (
                f"Template version {ref.version} of builtin is not available (known: {', '.join(sorted(known))}): "
                "not shipped with this scaffold and not in .scaffold/templates/"
            )
            found.append(_problem(message, tree, [*where, "version"]))
    return found
