"""The unit every wiring module produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedFile:
    """A file the meta-project gets from its ecosystem.yaml.

    `path` is POSIX and relative to the meta-project root. When `symlink` is true, `content` is
    the (relative) link target instead of file bytes.
    """

    path: str
    content: bytes
    symlink: bool = False
