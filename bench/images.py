"""`scaffold build` per kind: a cold build against a warm rebuild after a one-line code change,
measured side by side with hyperfine (goal: the warm rebuild at most 15% of the cold build), and
each image's size over its base image.

    .venv/bin/python -m bench.images      (`make bench-images`; BENCH_RUNS=3 by default;
                                           BENCH_KINDS=frontend,worker measures only those kinds)

The engine is Podman's Docker API with storage of its own, the base images the stand-ins of the
image tests (tests/standins) behind the image mirror, packages from PyPI and npm with the
machine's CA bundle: what `tests/test_images_podman.py` builds. Cold: nothing of the service
cached, neither its layers (its images and the engine's dangling build layers removed) nor the
package caches of the cache mounts (this Podman's own, under its TMPDIR); the base image stays, as
on any machine that built once. Warm: the same service after appending one line to one source file.
Results: build/bench/images-<kind>.json (hyperfine) and build/bench/images.json (sizes).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from tests.engines import podman_service
from tests.image_fixtures import SERVICES, project_with_services
from tests.standins import mirror_registry

REPO: Final = Path(__file__).resolve().parent.parent
OUT: Final = REPO / "build" / "bench"
RUNS: Final = int(os.environ.get("BENCH_RUNS", "3"))
KINDS: Final = [k for k in os.environ.get("BENCH_KINDS", "backend,worker,frontend").split(",") if k]
GOAL: Final = 0.15
# the file a developer edits, per kind (relative to the service), and the line appended to it
EDITED: Final = {"backend": "src/orders/items.py", "worker": "src/fulfilment/handlers.py", "frontend": "src/App.tsx"}
COMMENT: Final = {"backend": "# bench: one line", "worker": "# bench: one line", "frontend": "// bench: one line"}
BASES: Final = {"backend": "library/python", "worker": "library/python", "frontend": "nginxinc/nginx-unprivileged"}


def _sh(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _images(podman: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
    out = subprocess.run([*podman, "images", "--format", "json"], env=env, capture_output=True, text=True, check=True)
    listed: list[dict[str, Any]] = json.loads(out.stdout or "[]")
    return listed


def main() -> None:
    assert shutil.which("hyperfine"), "hyperfine is missing: make bench installs it"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-images-") as scratch:
        work = Path(scratch)
        with mirror_registry(work / "registry") as registry, podman_service(insecure=[registry]) as podman:
            mirrors = {
                "images": registry,
                "pypi": "https://pypi.org/simple/",
                "npm": "https://registry.npmjs.org/",
                "ca_bundle": "certs/ca.pem",
            }
            root = project_with_services(work, registry, mirrors)
            env = {**podman.env, "DOCKER_HOST": podman.url}
            scaffold = [str(REPO / ".venv" / "bin" / "scaffold"), "build", "-C", str(root)]
            # Pull the base images once: a cold build is one whose own layers are not cached.
            subprocess.run([*scaffold, "--jobs", "1"], env=env, check=True, capture_output=True)
            sizes: dict[str, Any] = {}
            for name, kind in SERVICES.items():
                if kind not in KINDS:
                    continue
                repository = f"{registry}/shop/{name}"
                env_file = work / f"env-{kind}.sh"
                env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
                forget = (
                    f". {env_file} && {_sh(podman.cli)} images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' "
                    f"| grep -F {shlex.quote(repository)} | xargs -r {_sh(podman.cli)} rmi -f >/dev/null "
                    f"&& {_sh(podman.cli)} image prune -f >/dev/null "
                    f'&& rm -rf "$TMPDIR/buildah-cache"'
                )
                edited = root / "services" / name / EDITED[kind]
                touch = f"echo {shlex.quote(COMMENT[kind])} >> {shlex.quote(str(edited))}"
                build = f". {env_file} && {_sh([*scaffold, name])} >/dev/null 2>&1"
                subprocess.run(
                    [
                        "hyperfine",
                        "--runs",
                        str(RUNS),
                        "--export-json",
                        str(OUT / f"images-{kind}.json"),
                        "--prepare",
                        forget,
                        "--command-name",
                        f"cold build ({kind})",
                        build,
                        "--prepare",
                        touch,
                        "--command-name",
                        f"warm rebuild after a one-line change ({kind})",
                        build,
                    ],
                    check=True,
                )
                sizes[kind] = _sizes(podman.cli, podman.env, repository, f"{registry}/{BASES[kind]}")
            (OUT / "images.json").write_text(json.dumps(sizes, indent=2) + "\n")
    summary()


def _sizes(podman: list[str], env: dict[str, str], repository: str, base: str) -> dict[str, int]:
    images = _images(podman, env)

    def size(prefix: str, test: bool) -> int:
        for image in images:
            for name in image.get("Names") or []:
                if name.startswith(prefix + ":") and name.endswith("-test") == test:
                    return int(image["Size"])
        raise AssertionError(f"no image {prefix} (test={test}) among {[i.get('Names') for i in images]}")

    base_size = size(base, False)
    return {"base": base_size, "runtime": size(repository, False), "test": size(repository, True)}


def summary() -> None:
    print()
    for kind in KINDS:
        path = OUT / f"images-{kind}.json"
        if not path.is_file():
            continue
        cold, warm = json.loads(path.read_text())["results"]
        ratio = warm["median"] / cold["median"]

        def spread(r: dict[str, Any]) -> str:
            return f"min {min(r['times']):.1f} / median {r['median']:.1f} / max {max(r['times']):.1f} s"

        verdict = "ok" if ratio <= GOAL else "over the goal"
        print(f"{kind}: cold {spread(cold)}; warm {spread(warm)}; warm/cold {ratio:.2f} (goal <= {GOAL}: {verdict})")
    sizes_file = OUT / "images.json"
    if sizes_file.is_file():
        for kind, sizes in json.loads(sizes_file.read_text()).items():
            print(
                f"{kind}: runtime {sizes['runtime'] / 1e6:.0f} MB = base {sizes['base'] / 1e6:.0f} MB "
                f"+ {(sizes['runtime'] - sizes['base']) / 1e6:.0f} MB; test image {sizes['test'] / 1e6:.0f} MB"
            )


if __name__ == "__main__":
    summary() if sys.argv[1:] == ["--summary"] else main()
