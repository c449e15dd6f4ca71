"""JSON Schemas of what `--json` prints, derived from the result types (scaffold/results.py).

`--json` is `dataclasses.asdict` of a command's result (scaffold.output.show), so its shape is the
result type's: each dataclass an object with every field required and nothing else, tuples and
lists arrays, `Literal`s enums, `X | None` either, `Path` a string. The description of a property
is the comment on its field. `make docs` writes docs/schemas/<command>.json from here and
tests/test_json_schemas.py checks that those files are current and that real output validates.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any, Final, Literal, Union

from scaffold import results

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# The result each command prints with --json.
COMMANDS: Final[dict[str, type]] = {
    "init": results.InitResult,
    "new": results.NewResult,
    "adopt": results.AdoptResult,
    "list": results.ListResult,
    "diff": results.DiffResult,
    "remove": results.RemoveResult,
    "sync": results.SyncResult,
    "check": results.CheckResult,
    "update": results.UpdateResult,
    "propose-updates": results.ProposeResult,
    "graph": results.GraphResult,
    "doctor": results.DoctorResult,
    "onboard": results.OnboardResult,
    "deploy": results.DeployResult,
    "rollback": results.RollbackResult,
    "status": results.StatusResult,
    "changes": results.ChangesResult,
    "build": results.BuildResult,
    "test": results.RunTestsResult,
}
_SCALARS: Final[dict[Any, dict[str, Any]]] = {
    str: {"type": "string"},
    Path: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    object: {},
    Any: {},
}
_COMMENT = re.compile(r"^\s+(\w+): [^#]*#\s*(.+)$")


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment at the end of its line in the class's source."""
    found: dict[str, str] = {}
    for line in inspect.getsource(cls).splitlines():
        match = _COMMENT.match(line)
        if match:
            found.setdefault(match[1], match[2].strip())
    return found


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def of(self, hint: Any) -> dict[str, Any]:
        if hint in _SCALARS:
            return dict(_SCALARS[hint])
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is Literal:
            return {"enum": list(args)}
        if origin in (Union, types.UnionType):
            return {"anyOf": [self.of(a) for a in args]}
        if (origin is tuple and len(args) == 2 and args[1] is Ellipsis) or origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is tuple:
            return {"type": "array", "prefixItems": [self.of(a) for a in args], "items": False}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self.dataclass(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def dataclass(self, cls: type) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: a type that contains itself
            hints = typing.get_type_hints(cls)
            comments = _comments(cls)
            properties: dict[str, Any] = {}
            for field in dataclasses.fields(cls):
                schema = self.of(hints[field.name])
                if field.name in comments:
                    schema = {"description": comments[field.name], **schema}
                properties[field.name] = schema
            doc = inspect.getdoc(cls)
            self.defs[name] = {
                **({"description": doc} if doc and not doc.startswith(f"{name}(") else {}),
                "type": "object",
                "required": list(properties),
                "additionalProperties": False,
                "properties": properties,
            }
        return {"$ref": f"#/$defs/{name}"}


def schema(command: str) -> dict[str, Any]:
    """The JSON Schema of `scaffold COMMAND --json`."""
    builder = _Builder()
    root = builder.dataclass(COMMANDS[command])
    return {
        "$schema": DIALECT,
        "$id": f"https://scaffold.invalid/schemas/{command}.json",
        "title": f"scaffold {command} --json",
        **root,
        "$defs": dict(sorted(builder.defs.items())),
    }
