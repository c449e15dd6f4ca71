"""`images.json`: the images `scaffold build --push` pushed, by digest, for the delivery step.

The file is the hand-over between building and delivering: `scaffold build --push` writes it (at
the meta-project's root unless told otherwise; the meta-project's git ignores it) and delivery
reads it, so what is deployed is exactly what was built and tested, pinned by digest, whatever
happens to the tags afterwards. It describes one run of `scaffold build --push`: the services that
run pushed, nothing older.

    {"schema": 1, "commit": "<meta-project git commit>", "dirty": false,
     "images": {"orders": {"repository": "registry.example.com/shop/orders",
                           "tag": "3f2a1c9d0b12", "digest": "sha256:..."}}}

`schema` changes only when a reader written for the old one would misread the new one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from scaffold.errors import NotFoundError, UsageError

SCHEMA: Final = 1
FILE_NAME: Final = "images.json"

_DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # the Docker tag grammar
_COMMIT: Final = re.compile(r"^[0-9a-f]{7,64}$")
_HINT: Final = "Run `scaffold build --push` again to write it (never edit it by hand)."


@dataclass(frozen=True)
class PushedImage:
    """One service's image as the registry holds it."""

    repository: str  # "<registry>/<service>"
    tag: str
    digest: str  # "sha256:<64 hex>", what the registry answered to the push

    @property
    def reference(self) -> str:
        """The reference that can never move: repository@digest."""
        return f"{self.repository}@{self.digest}"

    @property
    def tagged(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class ImagesFile:
    """What one `scaffold build --push` pushed, from which commit of the meta-project."""

    commit: str  # the meta-project's git commit (full id)
    dirty: bool  # an image holds changes no commit has (its tag ends in -dirty)
    images: Mapping[str, PushedImage] = field(default_factory=dict)  # service name -> image
    schema: int = SCHEMA


def to_json(images: ImagesFile) -> str:
    document = {
        "schema": images.schema,
        "commit": images.commit,
        "dirty": images.dirty,
        "images": {
            name: {"repository": image.repository, "tag": image.tag, "digest": image.digest}
            for name, image in sorted(images.images.items())
        },
    }
    return json.dumps(document, indent=2) + "\n"


def _bad(source: str, problem: str) -> UsageError:
    return UsageError(f"{source}: {problem}.", _HINT)


def _text(value: Any, source: str, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
        raise _bad(source, f"{where} is {value!r}, which is not a valid value")
    return value


def from_json(text: str, source: str = FILE_NAME) -> ImagesFile:
    """Parse and validate the file's text; every problem is a UsageError naming `source`."""
    try:
        document = json.loads(text)
    except ValueError as err:
        raise _bad(source, f"not valid JSON ({err})") from None
    if not isinstance(document, dict):
        raise _bad(source, "not a JSON object")
    if document.get("schema") != SCHEMA:
        raise _bad(source, f"schema {document.get('schema')!r} is not {SCHEMA}, the one this scaffold reads")
    dirty = document.get("dirty")
    if not isinstance(dirty, bool):
        raise _bad(source, "'dirty' must be true or false")
    entries = document.get("images")
    if not isinstance(entries, dict):
        raise _bad(source, "'images' must be an object")
    images: dict[str, PushedImage] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise _bad(source, f"images.{name} must be an object")
        images[name] = PushedImage(
            repository=_text(entry.get("repository"), source, f"images.{name}.repository"),
            tag=_text(entry.get("tag"), source, f"images.{name}.tag", _TAG),
            digest=_text(entry.get("digest"), source, f"images.{name}.digest", _DIGEST),
        )
    return ImagesFile(
        commit=_text(document.get("commit"), source, "'commit'", _COMMIT),
        dirty=dirty,
        images=images,
    )


def read(path: Path) -> ImagesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist.", "Run `scaffold build --push` first: it writes it.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"Cannot read {path}: {err}", _HINT) from None
    return from_json(text, str(path))


def write(path: Path, images: ImagesFile) -> None:
    """Write the file whole or not at all: a temporary file beside it, renamed over it (a symlink at
    `path` is replaced, never followed)."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(to_json(images))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
