"""Real container engines and a real registry for tests, each with state of its own, on loopback.

- `podman_service`: Podman's Docker API (`podman system service`) on a unix socket, with its own
  storage, runc (crun does not run on these machines), cgroupfs, no systemd, and the test
  registries marked as plain HTTP. Podman is what most CI machines without Docker have.
- `docker_daemon`: Docker Engine (Debian's docker.io) with its own data and exec roots. It takes the
  default bridge and its iptables chains, so one runs at a time on a machine (a lock file).
- `registry_server`: Debian's docker-registry (distribution 2.8) on 127.0.0.1, filesystem storage.
Everything is stopped when the block ends, even when it fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.servers import free_port

START_TIMEOUT_S: Final = 90
DOCKERD_LOCK: Final = Path(tempfile.gettempdir()) / "scaffold-test-dockerd.lock"
BUILDKIT_DOCKER_CLI: Final = Path("/usr/bin/docker")  # Debian's docker.io: BuildKit built in (the CLI before 23)


def _pings(address: Path) -> bool:
    """GET /_ping on the socket answers OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(address))
            connection = http.client.HTTPConnection("engine")
            connection.sock = sock
            connection.request("GET", "/_ping")
            return connection.getresponse().read() == b"OK"
    except OSError:
        return False


def _wait(process: subprocess.Popen[bytes], ready: object, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():  # type: ignore[operator]
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{what} did not answer in {START_TIMEOUT_S} s:\n{log.read_text(errors='replace')[-4000:]}"
            )
        time.sleep(0.2)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def podman_cli_env(
    scratch: Path, insecure: Sequence[str] = (), driver: str = "overlay"
) -> tuple[dict[str, str], list[str]]:
    """The environment and the command prefix of a podman with its own storage under `scratch`."""
    scratch.mkdir(parents=True, exist_ok=True)
    run = scratch / "run"
    assert len(str(run)) <= 50, f"podman refuses a run root over 50 characters: {run}"
    (scratch / "storage.conf").write_text(
        f'[storage]\ndriver = "{driver}"\ngraphroot = "{scratch}/graph"\nrunroot = "{run}"\n'
    )
    (scratch / "containers.conf").write_text(
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
    )
    registries = "".join(f'[[registry]]\nlocation = "{r}"\ninsecure = true\n' for r in insecure)
    (scratch / "registries.conf").write_text("unqualified-search-registries = []\n" + registries)
    env = {
        **os.environ,
        "CONTAINERS_STORAGE_CONF": str(scratch / "storage.conf"),
        "CONTAINERS_CONF": str(scratch / "containers.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(scratch / "registries.conf"),
        # Buildah keeps cache mounts (RUN --mount=type=cache) under TMPDIR: this podman's own, so
        # that a run's package caches neither leak into nor come from another's.
        "TMPDIR": str(scratch / "tmp"),
    }
    (scratch / "tmp").mkdir(exist_ok=True)
    return env, ["podman", "--root", f"{scratch}/graph", "--runroot", str(run)]


@dataclass(frozen=True)
class Podman:
    url: str  # DOCKER_HOST of its Docker API
    cli: list[str]  # the podman command on the same storage (for what the Docker API lacks)
    env: dict[str, str]


@contextlib.contextmanager
def podman_service(insecure: Sequence[str] = (), driver: str = "overlay") -> Iterator[Podman]:
    """Podman's Docker API on a socket of its own."""
    assert shutil.which("podman"), "podman is not installed: `make system-packages`"
    scratch = Path(tempfile.mkdtemp(prefix="podman-", dir="/tmp"))
    env, podman = podman_cli_env(scratch, insecure, driver)
    address = scratch / "podman.sock"
    log = scratch / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*podman, "system", "service", "--time=0", f"unix://{address}"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait(process, lambda: _pings(address), log, "podman system service")
            yield Podman(f"unix://{address}", podman, env)
        finally:
            _stop(process)
            subprocess.run([*podman, "system", "reset", "--force"], env=env, capture_output=True, check=False)
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def docker_daemon() -> Iterator[str]:
    """Docker Engine with state of its own; yields the DOCKER_HOST URL. Registries on 127.0.0.1 are
    plain HTTP to Docker without configuration."""
    assert shutil.which("dockerd"), "dockerd is not installed: `make system-packages` (docker.io)"
    with DOCKERD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        scratch = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp"))
        address = scratch / "docker.sock"
        log = scratch / "dockerd.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    "dockerd",
                    f"--data-root={scratch}/data",
                    f"--exec-root={scratch}/exec",
                    f"--pidfile={scratch}/dockerd.pid",
                    f"--host=unix://{address}",
                    "--storage-driver=overlay2",
                    "--exec-opt=native.cgroupdriver=cgroupfs",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                _wait(process, lambda: _pings(address), log, "dockerd")
                yield f"unix://{address}"
            finally:
                _stop(process)
                shutil.rmtree(scratch, ignore_errors=True)


def buildkit_cli_path(directory: Path) -> str:
    """A PATH whose `docker` is a CLI that builds with BuildKit on its own (the machine's newer CLI
    has no buildx plugin), ahead of the rest of PATH."""
    assert BUILDKIT_DOCKER_CLI.exists(), f"{BUILDKIT_DOCKER_CLI} is missing: `make system-packages` (docker.io)"
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "docker"
    if not link.exists():
        link.symlink_to(BUILDKIT_DOCKER_CLI)
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"


@contextlib.contextmanager
def registry_server(storage: Path) -> Iterator[str]:
    """docker-registry serving `storage` on a free loopback port; yields "127.0.0.1:PORT"."""
    assert shutil.which("docker-registry"), "docker-registry is not installed: `make system-packages`"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="registry-") as scratch:
        config = Path(scratch) / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        log = Path(scratch) / "registry.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=output, stderr=subprocess.STDOUT
            )
            try:
                _wait(process, lambda: _answers(port), log, "docker-registry")
                yield f"127.0.0.1:{port}"
            finally:
                _stop(process)


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/v2/")
        return connection.getresponse().status == 200
    except OSError:
        return False
