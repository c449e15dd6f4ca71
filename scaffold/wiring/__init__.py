"""Everything derived from `ecosystem.yaml`: one module per artifact, one entry point.

`derive(ecosystem)` is pure: the same Ecosystem gives the same files, byte for byte, and it reads
nothing from disk, so it can run before anything is written and its output can be compared with
what is on disk to detect hand edits.
"""

from __future__ import annotations

from scaffold.model import Ecosystem
from scaffold.wiring import (
    api_docs,
    compose,
    docs,
    gateway,
    gateway_auth,
    monitoring,
    onboarding_guide,
    owners,
    pipeline,
    platform,
    umbrella,
    update_workflow,
)
from scaffold.wiring.files import DerivedFile

__all__ = ["DerivedFile", "derive"]


def derive(ecosystem: Ecosystem) -> tuple[DerivedFile, ...]:
    """All derived files, sorted by path."""
    files: list[DerivedFile] = []
    for module in (
        compose,
        gateway,
        gateway_auth,
        api_docs,
        umbrella,
        platform,
        monitoring,
        owners,
        pipeline,
        update_workflow,
        docs,
        onboarding_guide,
    ):
        files.extend(module.derive(ecosystem))
    paths = [f.path for f in files]
    duplicated = {p for p in paths if paths.count(p) > 1}
    if duplicated:
        raise RuntimeError(f"two wiring modules write {sorted(duplicated)}")
    return tuple(sorted(files, key=lambda f: f.path))
