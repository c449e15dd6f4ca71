"""The mirrors of ecosystem.yaml (`mirrors:`) in the form each consumer takes them.

One setting reaches every build: the Dockerfiles read `IMAGE_MIRROR`, `PIP_INDEX_URL` and
`NPM_CONFIG_REGISTRY` as build arguments (pip and npm read the last two from their environment,
so a build argument of that name is all they need) and a CA bundle as the build secret
`ca-bundle`, mounted only for the commands that download; the service compose files read the same
names as variables; the root compose file and the pipeline get the values written in. Nothing is
baked into an image, and no value may carry a credential (the schema refuses them).

An image mirror stands in for Docker Hub the way registry mirrors and pull-through caches do
(Harbor, Artifactory, GitLab's dependency proxy): `postgres:17` becomes
`<mirror>/library/postgres:17`, `prom/prometheus:v3` becomes `<mirror>/prom/prometheus:v3`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from scaffold.errors import UsageError
from scaffold.model import Mirrors

DOCKER_HUB: Final = "docker.io"
CA_SECRET: Final = "ca-bundle"  # the build secret's id in every Dockerfile (`RUN --mount=type=secret,id=...`)
_HUB_HOSTS: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_PEM: Final = b"-----BEGIN CERTIFICATE-----"

# field of `mirrors:` -> the build argument and compose variable that carries it
VARIABLES: Final[dict[str, str]] = {
    "images": "IMAGE_MIRROR",
    "pypi": "PIP_INDEX_URL",
    "npm": "NPM_CONFIG_REGISTRY",
}


def variables(mirrors: Mirrors) -> dict[str, str]:
    """The build arguments (and compose variables) of the mirrors that are set."""
    values = {"images": mirrors.images, "pypi": mirrors.pypi, "npm": mirrors.npm}
    return {VARIABLES[field]: value for field, value in values.items() if value}


def image(reference: str, mirrors: Mirrors) -> str:
    """A Docker Hub image reference, fully qualified and through the image mirror when there is one.

    References to other registries are returned as they are. Fully qualified names also spare
    Podman its short-name lookup (which asks, or fails, without a terminal).
    """
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first not in _HUB_HOSTS:
            return reference
        reference = rest
    path = reference if "/" in reference else f"library/{reference}"
    return f"{mirrors.images or DOCKER_HUB}/{path}"


def ca_bundle_problem(root: Path, relative: str) -> str | None:
    """What is wrong with the CA bundle file `relative` (None when it is a PEM file inside the
    meta-project, reached through no link): the rule `ecosystem.yaml`'s validator applies on disk."""
    from scaffold.paths import OutsideRootError, inside

    try:
        path = inside(root, relative, "CA bundle")
    except OutsideRootError as err:
        return err.reason
    if path.is_symlink():
        return f"{relative!r} is a link; scaffold reads the CA bundle only from a file of the meta-project"
    if not path.is_file():
        return f"{relative!r}: no such file in the meta-project"
    with path.open("rb") as handle:
        if _PEM not in handle.read():
            return f"{relative!r} holds no PEM certificate"
    return None


def ca_bundle(root: Path, mirrors: Mirrors) -> Path | None:
    """The CA bundle file of `mirrors:` (None when unset), proven as ca_bundle_problem says."""
    if mirrors.ca_bundle is None:
        return None
    problem = ca_bundle_problem(root, mirrors.ca_bundle)
    if problem is not None:
        raise UsageError(
            f"mirrors.ca_bundle {problem}.",
            "Set mirrors.ca_bundle in ecosystem.yaml to a PEM file inside the meta-project (docs/mirrors.md).",
        )
    return root / mirrors.ca_bundle
