"""Building one target of a service's Dockerfile, on Podman or on Docker.

The Dockerfiles take the CA bundle as a BuildKit build secret (`RUN --mount=type=secret`), the one
way to lend a build a file that no layer keeps. Engines differ in how a client hands it over:

- Podman's service takes it in the Engine API's /build request (`secrets`, the file travelling in
  the context, which Podman moves out before the build); Buildah mounts it. So on Podman the
  build is an API call through the docker SDK's client.
- Docker Engine's /build runs either the classic builder, which refuses `RUN --mount`, or BuildKit,
  which takes secrets only from a client session ("no active sessions" otherwise, even for a
  secret marked optional). The docker SDK cannot open such a session; the docker CLI does. So on
  Docker the build step is `docker build` with BuildKit, aimed at the same engine; the image is
  then in that engine and everything after it (inspect, push, run) goes through the SDK again.
Both keep the build's log for the report.

A build also says when every stage before its target's own is in the engine's cache (`stages_done`):
`scaffold build` starts a service's runtime image then, beside the rest of its test image, since
from there on the two share nothing left to build. Podman's log names each stage as it starts
(`[3/3] STEP 1/6: FROM deps AS test`): the first step of the last stage is that moment. Docker's
BuildKit log does not, so the CLI builder says it when its build ends (the two run one after the
other, as before).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from scaffold.engine.connection import Engine
from scaffold.engine.context import build_context, secret_name
from scaffold.errors import NotFoundError

BUILDX_HINT: Final = (
    "Install the docker buildx plugin (docker-buildx-plugin from Docker's packages, or "
    "https://github.com/docker/buildx#installing), or use Podman's service."
)


@dataclass(frozen=True)
class BuildRequest:
    directory: Path  # the build context: the service's directory, with its Dockerfile
    target: str
    reference: str  # the tag to give the image, repository:tag
    arguments: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, Path] = field(default_factory=dict)  # secret id -> file
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildOutcome:
    image_id: str | None  # None when the build failed
    log: tuple[str, ...]
    error: str | None = None


def _nothing() -> None:
    pass


class Builder(Protocol):
    def build(self, request: BuildRequest, stages_done: Callable[[], None] = _nothing) -> BuildOutcome:
        """Build `request`; call `stages_done` once every stage before the target's own is built
        (at the latest when the build ends, however it ends)."""
        ...


# Podman's (Buildah's) line for the first step of a stage, numbered among the build's stages: the
# last stage's starts once every stage before it is committed.
_LAST_STAGE_STARTS: Final = re.compile(r"^\[(\d+)/\1\] STEP 1/\d+: ")


def _csv(fields: list[str]) -> str:
    """One CSV record, as `--secret` and Podman's secret option parse them (a comma in a path quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


class ApiBuilder:
    """The Engine API's /build, with build secrets as Podman's service takes them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def build(self, request: BuildRequest, stages_done: Callable[[], None] = _nothing) -> BuildOutcome:
        try:
            return self._build(request, stages_done)
        finally:
            stages_done()

    def _build(self, request: BuildRequest, stages_done: Callable[[], None]) -> BuildOutcome:
        params = {
            "t": request.reference,
            "target": request.target,
            "rm": "1",
            "forcerm": "1",
            "buildargs": json.dumps(dict(request.arguments)),
            "labels": json.dumps(dict(request.labels)),
        }
        if request.secrets:
            params["secrets"] = json.dumps(
                [_csv([f"id={key}", f"src={secret_name(key)}"]) for key in sorted(request.secrets)]
            )
        client = self._engine.client()
        log: list[str] = []
        image_id: str | None = None
        try:
            with build_context(request.directory, request.secrets) as context:
                # The SDK's own transport (API version prefix, socket adapter); its build() has no
                # parameter for secrets.
                response = client.api._post(
                    client.api._url("/build"),
                    params=params,
                    data=context,
                    headers={"Content-Type": "application/x-tar"},
                    stream=True,
                    timeout=None,
                )
                if response.status_code != 200:
                    return BuildOutcome(None, tuple(log), f"the engine refused the build: {response.text.strip()}")
                for raw in response.iter_lines():
                    event = json.loads(raw) if raw.strip() else {}
                    if "error" in event or "errorDetail" in event:
                        detail = event.get("errorDetail") or {}
                        return BuildOutcome(None, tuple(log), str(detail.get("message") or event.get("error")))
                    if "stream" in event:
                        lines = str(event["stream"]).splitlines()
                        log.extend(lines)
                        if any(_LAST_STAGE_STARTS.match(line) for line in lines):
                            stages_done()
                    aux = event.get("aux")
                    if isinstance(aux, dict) and aux.get("ID"):
                        image_id = str(aux["ID"])
        finally:
            client.close()
        if image_id is None:
            return BuildOutcome(None, tuple(log), "the engine ended the build without naming an image")
        return BuildOutcome(image_id, tuple(log))


_IMAGE_ID: Final = re.compile(r"^sha256:[0-9a-f]{64}$")


class CliBuilder:
    """`docker build` with BuildKit, for Docker Engine (see the module's docstring for why)."""

    def __init__(self, engine: Engine, docker: str, buildx: bool) -> None:
        self._engine = engine
        self._docker = docker
        self._buildx = buildx  # `docker build` is buildx: ask it to load the image into the engine

    @classmethod
    def for_engine(cls, engine: Engine) -> CliBuilder:
        """The docker CLI on PATH, if it can build with BuildKit: buildx, or a CLI older than 23
        (which has BuildKit built in)."""
        docker = shutil.which("docker")
        if docker is None:
            raise NotFoundError(
                f"Building on {engine.name} needs the docker CLI with BuildKit (for build secrets).",
                "Install Docker's CLI (docker-ce-cli) and its buildx plugin.",
            )
        env = engine.environment
        buildx = _succeeds([docker, "buildx", "version"], env)
        if not buildx:
            version = subprocess.run(
                [docker, "version", "--format", "{{.Client.Version}}"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            ).stdout.strip()
            major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
            if major == 0 or major >= 23:
                raise NotFoundError(
                    f"{docker} (version {version or 'unknown'}) cannot build with BuildKit: its buildx plugin "
                    "is missing, and the Docker Engine API alone cannot pass build secrets.",
                    BUILDX_HINT,
                )
        return cls(engine, docker, buildx)

    def command(self, request: BuildRequest, iidfile: Path) -> list[str]:
        """The exact command line (tests read it)."""
        args = [self._docker, "build", "--progress=plain", "--file", str(request.directory / "Dockerfile")]
        args += ["--target", request.target, "--tag", request.reference, "--iidfile", str(iidfile)]
        if self._buildx:
            args.append("--load")
        for key, value in sorted(request.arguments.items()):
            args += ["--build-arg", f"{key}={value}"]
        for key, value in sorted(request.labels.items()):
            args += ["--label", f"{key}={value}"]
        for key, path in sorted(request.secrets.items()):
            args += ["--secret", _csv([f"id={key}", f"src={path}"])]
        return [*args, str(request.directory)]

    def build(self, request: BuildRequest, stages_done: Callable[[], None] = _nothing) -> BuildOutcome:
        try:
            return self._build(request)
        finally:
            stages_done()

    def _build(self, request: BuildRequest) -> BuildOutcome:
        log: list[str] = []
        with tempfile.TemporaryDirectory(prefix="scaffold-build-") as scratch:
            iidfile = Path(scratch) / "iid"
            process = subprocess.Popen(
                self.command(request, iidfile),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                env={**self._engine.environment, "DOCKER_BUILDKIT": "1"},
            )
            assert process.stdout is not None
            log.extend(raw.rstrip("\n") for raw in process.stdout)
            code = process.wait()
            image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
        if code != 0 or not _IMAGE_ID.match(image_id):
            last = next((line for line in reversed(log) if line.strip()), "")
            return BuildOutcome(None, tuple(log), f"docker build exited {code}: {last}")
        return BuildOutcome(image_id, tuple(log))


def _succeeds(args: list[str], env: dict[str, str]) -> bool:
    try:
        return subprocess.run(args, capture_output=True, env=env, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def builder_for(engine: Engine) -> Builder:
    return ApiBuilder(engine) if engine.is_podman else CliBuilder.for_engine(engine)
