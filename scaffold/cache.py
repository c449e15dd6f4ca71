"""scaffold's cache on this machine: results kept by the content they were computed from.

Everything here can be deleted at any time (`scaffold check --clear-cache`, or removing the
directory): a missing entry is computed again. It lives outside every repository, in
`$SCAFFOLD_CACHE_DIR`, else `$XDG_CACHE_HOME/scaffold`, else `~/.cache/scaffold`, beside the
template checkouts. An entry's key is a sha256 over everything its value depends on, always
including `fingerprint()`: scaffold's own code and the libraries whose behaviour a result depends on,
so a new scaffold (or an edited checkout of it) never reads what an older one computed.

Entries are small JSON files written atomically (a temporary name, then a rename), so several
commands may read and write at once; a file that does not parse is a miss. Each store keeps its
newest entries and drops the oldest when it grows past its bound.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

ENV_DIR: Final = "SCAFFOLD_CACHE_DIR"
ENV_OFF: Final = "SCAFFOLD_NO_CACHE"  # set (to anything but "" or "0") by --no-cache: no store reads or writes
LIBRARIES: Final = ("ruamel.yaml", "PyYAML", "jsonschema", "copier", "jinja2")
PRUNE_EVERY: Final = 3600.0  # seconds between two prunings of a store


def directory() -> Path:
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scaffold"


def enabled() -> bool:
    return os.environ.get(ENV_OFF, "") in ("", "0")


def disable() -> None:
    """No store is read or written for the rest of this process (and the processes it starts)."""
    os.environ[ENV_OFF] = "1"


def digest(*parts: str | bytes) -> str:
    """sha256 of the parts, each length-prefixed (so ("ab", "c") and ("a", "bc") differ)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


@functools.cache
def fingerprint() -> str:
    """scaffold's own code (every module, the ecosystem.yaml schema) and the versions of the libraries
    that shape results: a change to any of them starts every store afresh."""
    package = Path(__file__).resolve().parent
    parts: list[str | bytes] = []
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            parts += [path.relative_to(package).as_posix(), path.read_bytes()]
    parts += installed(LIBRARIES)
    return digest(*parts)


def installed(names: tuple[str, ...]) -> list[str]:
    """The installed distributions of these names, as their metadata directories are named
    (`copier-9.19.1.dist-info`): the version without importlib.metadata, which costs more to import
    than the lookup is worth on every command."""
    wanted = {_normalized(name) for name in names}
    found: list[str] = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            for child in os.listdir(entry or "."):
                if child.endswith((".dist-info", ".egg-info")):
                    project = _normalized(child.rsplit(".", 1)[0].split("-", 1)[0])
                    if project in wanted:
                        found.append(child)
    return sorted(found)


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


class Store:
    """One kind of entries (e.g. "check", "ecosystem"), at most `limit` of them."""

    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit

    @property
    def path(self) -> Path:
        return directory() / self.name

    def get(self, key: str) -> Any | None:
        if not enabled():
            return None
        file = self.path / key[:2] / f"{key}.json"
        try:
            value = json.loads(file.read_bytes())
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            os.utime(file)  # recently used: kept when the store is pruned
        return value

    def put(self, key: str, value: Any) -> None:
        """Keep `value` (JSON data) under `key`; a cache that cannot be written is no error."""
        if not enabled():
            return
        folder = self.path / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".entry-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle, separators=(",", ":"))
            os.replace(temporary, folder / f"{key}.json")
        except OSError:
            return
        self._prune_now_and_then()

    def _prune_now_and_then(self) -> None:
        marker = self.path / ".pruned"
        try:
            if time.time() - marker.stat().st_mtime < PRUNE_EVERY:
                return
        except FileNotFoundError:
            pass
        except OSError:
            return
        with contextlib.suppress(OSError):
            marker.touch()
            self.prune()

    def prune(self) -> None:
        """Drop the least recently used entries beyond the limit."""
        entries: list[tuple[float, Path]] = []
        for folder in self.path.iterdir():
            if folder.is_dir():
                for file in folder.iterdir():
                    with contextlib.suppress(OSError):
                        entries.append((file.stat().st_mtime, file))
        entries.sort(reverse=True)
        for _, file in entries[self.limit :]:
            with contextlib.suppress(OSError):
                file.unlink()


def clear(name: str) -> Path:
    """Delete one store; returns where it was."""
    import shutil

    path = directory() / name
    shutil.rmtree(path, ignore_errors=True)
    return path
