"""Which engine: the Docker API `scaffold doctor` finds (DOCKER_HOST, else the usual sockets), as a
docker SDK client with a timeout long enough for builds and test runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

from scaffold.errors import NotFoundError
from scaffold.prerequisites import ENGINE_INSTALL, FoundEngine, find_engine

API_TIMEOUT: Final = 3600  # seconds one API call may take: a build step or a test run can be quiet that long


@dataclass(frozen=True)
class Engine:
    """An engine that answered, and how to reach it again (each worker thread opens its own client)."""

    found: FoundEngine

    @property
    def name(self) -> str:
        return self.found.name

    @property
    def is_podman(self) -> bool:
        return self.found.is_podman

    @property
    def environment(self) -> dict[str, str]:
        """The environment that makes the docker CLI talk to this engine."""
        return {**os.environ, "DOCKER_HOST": self.found.url}

    @property
    def api_version(self) -> str | None:
        """The API version the engine answered with when it was found (None: it named none)."""
        return str(self.found.version.get("ApiVersion") or "") or None

    def client(self) -> Any:
        """A new docker SDK client (untyped: the `delivery` extra has no type information).

        Pinned to the API version the engine gave when it was found: left unpinned, the SDK asks
        /version again for every client, which Podman answers in 0.5-1 s (it gathers the host's
        details), and `scaffold build` opens a client per build request and per image inspected.
        Auto-negotiation would settle on that same version."""
        import docker

        if self.found.from_environment:
            return docker.from_env(version=self.api_version, timeout=API_TIMEOUT)
        return docker.DockerClient(base_url=self.found.url, version=self.api_version, timeout=API_TIMEOUT)


def connect(environ: dict[str, str] | None = None) -> Engine:
    try:
        import docker  # noqa: F401 - only to fail early with a hint
    except ImportError:
        raise NotFoundError(
            "Building and testing images needs the docker Python package.", "pip install 'scaffold[delivery]'"
        ) from None
    found, tried = find_engine(environ)
    if found is None:
        raise NotFoundError(
            "No container engine answered: " + (", ".join(tried) or "nothing to try") + ".",
            f"Start one and point DOCKER_HOST at it: {ENGINE_INSTALL}. `scaffold doctor` checks it.",
        )
    return Engine(found)
