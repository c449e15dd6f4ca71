"""Running a service's built test image with its dependencies, through the Docker API.

What to run is the service's compose file, test profile: Compose resolves it (variables, anchors,
profiles; `compose config --format json`, which needs no engine) and scaffold runs what it says.
The dependencies of `<service>-test` start on a network of the run's own and are waited for as
`depends_on` asks; then the test image runs and its exit code is read from the engine's record of
the stopped container, so nothing in between can lose it (`compose run --rm` can report 0 for a
failed container on Podman). Health checks are run by scaffold itself (exec in the container):
Podman runs them only from systemd timers, which containers and CI machines often lack, so a
`service_healthy` condition would wait forever there. Names resolve through /etc/hosts entries
(Podman's default CNI network has no DNS). Everything a run makes carries the label
io.scaffold.test-run=<run id> and is removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from scaffold.engine.registry import ensure_pulled
from scaffold.errors import ScaffoldError, UsageError
from scaffold.prerequisites import ComposeProgram

RUN_LABEL: Final = "io.scaffold.test-run"
CA_FILE: Final = "/scaffold-ca-bundle.pem"  # where a run lends the test container the CA bundle
CA_VARIABLES: Final = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS")
POLL_S: Final = 1.0
EXIT_RECORD_S: Final = 30.0  # how long a test container that the engine says stopped may take to be recorded as exited
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class DependencyError(ScaffoldError):
    """A dependency did not start, or did not become healthy in time."""


def seconds(duration: object, default: float) -> float:
    """A Compose duration ("1m30s", "500ms", a number of seconds) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    if not isinstance(duration, str) or not duration:
        return default
    parts = _DURATION.findall(duration)
    return sum(float(n) * _UNIT_S[unit] for n, unit in parts) if parts else default


@dataclass(frozen=True)
class Dependency:
    name: str  # the compose service: also its host name for the others
    image: str
    environment: Mapping[str, str]
    command: list[str] | None
    entrypoint: list[str] | None
    condition: str  # service_started | service_healthy | service_completed_successfully
    health: list[str] | None = None  # the health check as a command line; None: none
    deadline_s: float = 120.0  # start period + interval x retries (+ timeouts), from the compose file


@dataclass(frozen=True)
class RunSpec:
    service: str  # the compose service that runs the tests, <name>-test
    environment: Mapping[str, str]
    command: list[str] | None
    dependencies: tuple[Dependency, ...]  # in the order they start


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    output: tuple[str, ...]
    dependencies: tuple[str, ...] = field(default_factory=tuple)


def _health(check: Mapping[str, Any] | None) -> tuple[list[str] | None, float]:
    if not check or check.get("disable"):
        return None, 0.0
    test = check.get("test") or []
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or test[0] == "NONE":
        return None, 0.0
    command = ["/bin/sh", "-c", " ".join(test[1:])] if test[0] == "CMD-SHELL" else list(test[1:])
    interval = seconds(check.get("interval"), 30.0)
    timeout = seconds(check.get("timeout"), 30.0)
    retries = int(check.get("retries") or 3)
    deadline = seconds(check.get("start_period"), 0.0) + (interval + timeout) * (retries + 1)
    return command, deadline


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else ["/bin/sh", "-c", str(value)]


def _environment(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def run_spec(compose: ComposeProgram, directory: Path, service: str, environ: Mapping[str, str]) -> RunSpec:
    """`<service>-test` of the service's compose file and what it depends on, as Compose resolves it."""
    args = [*compose.command, "--file", "compose.yaml", "--profile", "test", "config", "--format", "json"]
    proc = subprocess.run(
        args, cwd=directory, env=dict(environ), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    hint = f"Fix {directory}/compose.yaml (`scaffold check` validates it)."
    if proc.returncode != 0:
        raise UsageError(f"{directory}/compose.yaml: {proc.stderr.strip() or 'compose config failed'}", hint)
    services: dict[str, Any] = json.loads(proc.stdout).get("services") or {}
    test_name = f"{service}-test"
    if test_name not in services:
        raise UsageError(f"{directory}/compose.yaml has no service {test_name!r} (profile test).", hint)
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise UsageError(f"{directory}/compose.yaml: depends_on goes round: {' -> '.join((*path, name))}", hint)
        for needed in services[name].get("depends_on") or {}:
            visit(needed, (*path, name))
            if needed not in order:
                order.append(needed)

    visit(test_name, ())
    conditions = {
        needed: str((spec or {}).get("condition") or "service_started")
        for name in [*order, test_name]
        for needed, spec in (services[name].get("depends_on") or {}).items()
    }
    dependencies = []
    for name in order:
        entry = services[name]
        if not entry.get("image"):
            raise UsageError(f"{directory}/compose.yaml: {name!r}, a dependency of the tests, has no image.", hint)
        health, deadline = _health(entry.get("healthcheck"))
        dependencies.append(
            Dependency(
                name=name,
                image=str(entry["image"]),
                environment=_environment(entry.get("environment")),
                command=_as_list(entry.get("command")),
                entrypoint=_as_list(entry.get("entrypoint")),
                condition=conditions.get(name, "service_started"),
                health=health,
                deadline_s=max(deadline, 60.0),
            )
        )
    test = services[test_name]
    return RunSpec(test_name, _environment(test.get("environment")), _as_list(test.get("command")), tuple(dependencies))


def _lines(raw: bytes) -> tuple[str, ...]:
    return tuple(raw.decode("utf-8", errors="replace").splitlines())


class ServiceRun:
    """One service's run: its network and containers, removed by `close` whatever happened."""

    def __init__(self, client: Any, run_id: str, service: str) -> None:
        self.client = client
        self.labels = {RUN_LABEL: run_id}
        self.prefix = f"scaffold-test-{run_id}-{service}"
        self.network: Any = None
        self.containers: list[Any] = []
        self.hosts: dict[str, str] = {}  # dependency -> its address on the run's network

    def create(self, name: str, image: str, **options: Any) -> Any:
        """A container of the run: on its network, knowing the dependencies started so far by name,
        labelled, removed by `close`."""
        container = self.client.containers.create(
            image,
            name=f"{self.prefix}-{name}",
            hostname=name,
            labels=self.labels,
            network=self.network.name,
            extra_hosts=dict(self.hosts),
            **options,
        )
        self.containers.append(container)
        return container

    def start_dependency(self, dependency: Dependency) -> None:
        ensure_pulled(self.client, dependency.image)
        container = self.create(
            dependency.name,
            dependency.image,
            environment=dict(dependency.environment),
            command=dependency.command,
            entrypoint=dependency.entrypoint,
        )
        container.start()
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"]
        self.hosts[dependency.name] = address

    def wait_for(self, dependency: Dependency) -> None:
        """Until `dependency` meets its condition; DependencyError with its log when it cannot."""
        container = next(c for c in self.containers if c.name == f"{self.prefix}-{dependency.name}")
        deadline = time.monotonic() + dependency.deadline_s
        while True:
            container.reload()
            state = container.attrs["State"]
            if dependency.condition == "service_completed_successfully":
                if not state.get("Running") and state.get("Status") == "exited":
                    if int(state.get("ExitCode", 1)) == 0:
                        return
                    self._fail(container, dependency, f"exited with code {state.get('ExitCode')}")
            elif not state.get("Running"):
                self._fail(container, dependency, f"stopped (exit code {state.get('ExitCode')})")
            elif self._ready(container, dependency):
                return
            if time.monotonic() > deadline:
                self._fail(container, dependency, f"was not healthy after {dependency.deadline_s:.0f} s")
            time.sleep(POLL_S)

    @staticmethod
    def _ready(container: Any, dependency: Dependency) -> bool:
        """Running is enough, unless the condition is healthy: then its health check must pass."""
        if dependency.condition != "service_healthy" or dependency.health is None:
            return True
        return bool(container.exec_run(dependency.health).exit_code == 0)

    def _fail(self, container: Any, dependency: Dependency, what: str) -> None:
        log = _lines(container.logs(stdout=True, stderr=True, tail=40))
        raise DependencyError(
            f"{dependency.name} ({dependency.image}) {what}:\n" + "\n".join(log),
            "Its log is above; `scaffold test` runs what the service's compose.yaml says (profile test).",
        )

    def run_tests(
        self, spec: RunSpec, image: str, environment: Mapping[str, str], ca_bundle: Path | None
    ) -> RunOutcome:
        env = {**spec.environment, **environment}
        if ca_bundle is not None:
            env.update(dict.fromkeys(CA_VARIABLES, CA_FILE))
        container = self.create(spec.service, image, environment=env, command=spec.command)
        if ca_bundle is not None:
            container.put_archive("/", _single_file_tar(CA_FILE.lstrip("/"), ca_bundle.read_bytes()))
        container.start()
        waited = container.wait()
        exit_code = _exit_code(container, waited)
        output = _lines(container.logs(stdout=True, stderr=True))
        return RunOutcome(exit_code, output, tuple(d for d in self.hosts))

    def open(self) -> None:
        self.network = self.client.networks.create(self.prefix, labels=self.labels)

    def close(self) -> None:
        for container in reversed(self.containers):
            _quietly(lambda c=container: c.remove(force=True, v=True))
        if self.network is not None:
            _quietly(self.network.remove)


def _exit_code(container: Any, waited: Mapping[str, Any]) -> int:
    """The test container's exit code, which a failure must never lose: its record is read once
    the engine says it has exited (Podman can answer the wait before it has recorded the exit
    code, and the record says 0 until then), and a failure the wait itself reported counts too."""
    deadline = time.monotonic() + EXIT_RECORD_S
    while True:
        container.reload()
        state = container.attrs["State"]
        if not state.get("Running") and state.get("Status") in ("exited", "stopped", "dead"):
            recorded = int(state.get("ExitCode", 1))
            break
        if time.monotonic() > deadline:
            recorded = 1  # never seen exited: not a pass
            break
        time.sleep(0.1)
    # Podman answers every wait with an "Error" object, its "Message" empty when nothing failed.
    failed_wait = bool((waited.get("Error") or {}).get("Message"))
    reported = 1 if failed_wait else int(waited.get("StatusCode") or 0)
    return recorded or reported


def _single_file_tar(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), 0o444
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _quietly(action: Any) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.APIError):  # already gone
        action()


def sweep(client: Any, run_id: str) -> None:
    """Remove whatever a run left (an interrupted run's containers and networks)."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    for container in client.containers.list(all=True, filters=selector):
        _quietly(lambda c=container: c.remove(force=True, v=True))
    for network in client.networks.list(filters=selector):
        _quietly(network.remove)
