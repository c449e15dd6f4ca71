"""Stand-ins for the base and infrastructure images, in a real local registry, for the image tests.

No image registry is reachable from the test machines, so the images the Dockerfiles and compose
files name (python, node, nginx-unprivileged, postgres, rabbitmq) are made here from Debian's
packages: debootstrap makes a bookworm and a trixie root file system, each recipe
(`<name>.Dockerfile` beside this file) builds on one with Podman, and the results are pushed to
Debian's `docker-registry` under the names the Dockerfiles ask for behind an image mirror
(`<mirror>/library/python:3.12.14-slim-bookworm`, ...). The tests then set `mirrors.images` in
ecosystem.yaml to that registry: the path a company with a registry mirror takes. They are test
stand-ins, other versions than the real images (docs/mirrors.md says which).

Building them costs a few minutes, so the registry's storage is kept in $SCAFFOLD_TEST_CACHE,
keyed by everything that builds them (this directory's files and the tags asked for); each test
session serves a copy of it. `python -m tests.standins` builds the cache ahead (`make standin-images`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.engines import podman_cli_env, registry_server

HERE: Final = Path(__file__).resolve().parent
SUITES: Final = ("bookworm", "trixie")
DEBIAN_MIRROR: Final = "http://deb.debian.org/debian"
BASE: Final = "localhost/scaffold-standin/debian"


@dataclass(frozen=True)
class StandIn:
    recipe: str  # <recipe>.Dockerfile in this directory
    repository: str  # the Docker Hub path the templates name, e.g. "library/python"
    tag: str


# The exact tags the templates and the root compose file use (tests/test_images.py checks that
# every image they name has a stand-in here).
STANDINS: Final = (
    StandIn("python", "library/python", "3.12.14-slim-bookworm"),
    StandIn("node", "library/node", "24.21.0-bookworm-slim"),
    StandIn("nginx", "nginxinc/nginx-unprivileged", "1.29.3-alpine"),
    StandIn("postgres", "library/postgres", "17.7-bookworm"),
    StandIn("rabbitmq", "library/rabbitmq", "4.1.4-management"),
)


def cache_key() -> str:
    """What the images are made of: the recipes and their files, the names, the Debian suites."""
    digest = hashlib.sha256()
    for path in sorted(HERE.iterdir()):
        if path.is_file() and path.suffix not in (".py", ".pyc"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for standin in STANDINS:
        digest.update(f"{standin.recipe} {standin.repository}:{standin.tag}\n".encode())
    digest.update(f"{SUITES} {DEBIAN_MIRROR}".encode())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("SCAFFOLD_TEST_CACHE") or Path.home() / ".cache" / "scaffold-tests") / "standins"


def _run(args: list[str], **options: object) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, **options)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def _debootstrap(suite: str, rootfs: Path) -> None:
    _run(["debootstrap", "--variant=minbase", suite, str(rootfs), DEBIAN_MIRROR])
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


def _build_into(storage: Path, scratch: Path) -> None:
    """Make every stand-in and push it into a registry whose storage is `storage`."""
    if shutil.which("debootstrap") is None or shutil.which("podman") is None:
        raise RuntimeError("the stand-in images need debootstrap and podman: `make system-packages`")
    env, podman = podman_cli_env(scratch / "podman")
    roots = {suite: scratch / f"rootfs-{suite}" for suite in SUITES}
    failures: list[BaseException] = []

    def bootstrap(suite: str) -> None:
        try:
            _debootstrap(suite, roots[suite])
        except BaseException as err:  # noqa: BLE001 - reported by the caller
            failures.append(err)

    threads = [threading.Thread(target=bootstrap, args=(suite,)) for suite in SUITES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    for suite, rootfs in roots.items():
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            _run(
                [*podman, "import", "--change", 'CMD ["/bin/bash"]', "-", f"{BASE}:{suite}"], stdin=tar.stdout, env=env
            )
        shutil.rmtree(rootfs)
    try:
        _build_and_push(podman, env, storage)
    finally:
        subprocess.run([*podman, "system", "reset", "--force"], env=env, capture_output=True, check=False)


def _build_and_push(podman: list[str], env: dict[str, str], storage: Path) -> None:
    ca = os.environ.get("SSL_CERT_FILE")
    secret = ["--secret", f"id=ca-bundle,src={ca}"] if ca and Path(ca).is_file() else []
    with registry_server(storage) as address:
        for standin in STANDINS:
            reference = f"{address}/{standin.repository}:{standin.tag}"
            dockerfile = HERE / f"{standin.recipe}.Dockerfile"
            _run(
                [*podman, "build", "--format", "docker", *secret, "-f", str(dockerfile), "-t", reference, str(HERE)],
                env=env,
            )
            _run([*podman, "push", "--tls-verify=false", reference], env=env)


def ensure_cache() -> Path:
    """The registry storage holding every stand-in, built once per cache key."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / cache_key()
    with (root / f"{final.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and use its result
        if (final / "complete").is_file():
            return final / "registry"
        shutil.rmtree(final, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="standins-", dir="/tmp") as scratch:
            building = root / f"{final.name}.building"
            shutil.rmtree(building, ignore_errors=True)
            _build_into(building / "registry", Path(scratch))
            (building / "complete").write_text("")
            building.rename(final)
        return final / "registry"


@contextlib.contextmanager
def mirror_registry(scratch: Path) -> Iterator[str]:
    """A registry on loopback serving a copy of the stand-ins (pushes go to the copy); yields host:port."""
    storage = scratch / "registry"
    shutil.copytree(ensure_cache(), storage)
    with registry_server(storage) as address:
        yield address
