"""A service's build context as the Docker API takes it: a tar of its directory minus what its
`.dockerignore` excludes (the rules `docker build` applies, from the docker SDK), plus the build
secrets as extra files, which Podman's API moves out of the context before the build starts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final

DOCKERFILE: Final = "Dockerfile"
SECRET_PREFIX: Final = ".scaffold-secret-"  # the name a secret travels under, at the context's top


def _ignored(directory: Path) -> list[str]:
    dockerignore = directory / ".dockerignore"
    if not dockerignore.is_file():
        return []
    lines = (line.strip() for line in dockerignore.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def secret_name(secret_id: str) -> str:
    return f"{SECRET_PREFIX}{secret_id}"


def build_context(directory: Path, secrets: Mapping[str, Path]) -> IO[bytes]:
    """The context tar (a temporary file, at its start); `secrets` maps a secret's id to its file."""
    from docker.utils.build import create_archive, exclude_paths

    files = sorted(exclude_paths(str(directory), _ignored(directory), dockerfile=DOCKERFILE))
    extra = [(secret_name(key), path.read_text(encoding="utf-8")) for key, path in sorted(secrets.items())]
    archive: IO[bytes] = create_archive(str(directory), files=files, extra_files=extra)
    return archive
