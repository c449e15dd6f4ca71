"""Pushing an image and learning its digest (what delivery pins), and pulling what is missing.

Docker reports the digest in the push stream's `aux` record; Podman only in a status line
("TAG: digest: sha256:... size: N"); both are read. The registry's credentials are the engine's
own (`docker login` / `podman login`): scaffold never sees them.
"""

from __future__ import annotations

import re
from typing import Any, Final

from scaffold.errors import ScaffoldError

_DIGEST: Final = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class RegistryError(ScaffoldError):
    """A push or pull the registry or the engine refused."""


def push(client: Any, repository: str, tag: str) -> str:
    """Push repository:tag; the digest the registry gave it."""
    digest: str | None = None
    for event in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail") or {}
            raise RegistryError(
                f"pushing {repository}:{tag} failed: {detail.get('message') or event.get('error')}",
                "Log the engine in to the registry (docker login / podman login REGISTRY) and check the name.",
            )
        aux = event.get("aux")
        if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
            digest = str(aux["Digest"])
        elif match := _DIGEST.search(str(event.get("status", ""))):
            digest = match.group(1)
    if digest is None:
        raise RegistryError(
            f"pushing {repository}:{tag} reported no digest.",
            "The engine did not say what the registry stored; push again, or report it with the engine's version.",
        )
    return digest


def ensure_pulled(client: Any, reference: str) -> None:
    """Pull `reference` unless the engine has it."""
    import docker.errors

    try:
        client.images.get(reference)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(reference)
    except docker.errors.APIError as err:
        raise RegistryError(
            f"pulling {reference} failed: {err.explanation or err}",
            "Check the name and the image mirror (mirrors.images in ecosystem.yaml), and that the engine "
            "can reach the registry.",
        ) from None
