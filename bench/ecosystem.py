"""Ecosystems of hundreds of services for the benchmarks, made once and copied.

    python -m bench.ecosystem COUNT DEST     # DEST/shop: a committed meta-project with COUNT services

Making 500 services with 500 `scaffold new` commands would take an hour and measure nothing of
interest, so the first call renders every service with scaffold's own renderer
(scaffold.templates.render, copier with the shipped templates, the same files `scaffold new`
writes) in parallel processes, writes their entries into ecosystem.yaml, runs the real
`scaffold sync` and commits the result; that meta-project is kept in build/bench/ecosystems/,
named by COUNT, the templates' content and the renderer's versions, and later calls copy it (and
run `scaffold sync` on the copy, committing what it changes, so the wiring is this scaffold's). Services
alternate between backends and workers, and the last one is a frontend calling the first backend.
The benchmarks then run the real commands on the copy.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import scaffold
from scaffold import cache, ecosystem_file
from scaffold.commands.new import next_free_port
from scaffold.kinds import service_entry
from scaffold.model import Ecosystem, Kind, Service
from scaffold.templates import builtin_ref, builtin_templates_dir, render

REPO = Path(__file__).resolve().parent.parent
STORE = REPO / "build" / "bench" / "ecosystems"
NAME = "shop"
FORMAT = "2"  # what plan() makes: a new value when it changes


def _scaffold(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "scaffold", *args], cwd=cwd, check=True, capture_output=True)


def _git(*args: str, cwd: Path) -> None:
    identity = ("-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false")
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def plan(model: Ecosystem, count: int) -> list[Service]:
    """The services to add, as `scaffold new` would enter them (ports picked the same way). Each worker
    consumes the events of the backend made just before it, as a worker in a real fleet consumes
    those of the services it serves (the template's default, every backend's items, would make
    every new backend a change of every worker's catalog entry: docs/benchmarks.md)."""
    services: list[Service] = []
    for index in range(1, count + 1):
        kind: Kind = "frontend" if index == count and count >= 3 else ("backend", "worker")[(index - 1) % 2]
        answers = {"subscribes": f"svc{index - 1:03d}.item.published", "api_service": "svc001"}
        service = service_entry(kind, f"svc{index:03d}", next_free_port(model), answers, model, builtin_ref())
        model = dataclasses.replace(model, services=(*model.services, service))
        services.append(service)
    return services


def _render(root: Path, service: Service, ecosystem: str, registry: str) -> None:
    answers: dict[str, object] = {
        "kind": service.kind,
        "name": service.name,
        "ecosystem": ecosystem,
        "registry": registry,
        "description": f"The {service.name} {service.kind}",
        "port": service.port,
    }
    if service.kind == "worker":
        answers["subscribes"] = ",".join(service.subscribes)
    if service.kind == "frontend":
        answers["api_service"] = service.calls[0]
    render(service.template, root / service.path, answers, root=root, location=service.path)


def make(count: int, destination: Path) -> None:
    """A committed meta-project of `count` services at destination/shop (rendered, entered, synced)."""
    destination.mkdir(parents=True, exist_ok=True)
    _scaffold("init", NAME, "--defaults", cwd=destination)
    root = destination / NAME
    document = ecosystem_file.load(root)
    services = plan(document.model, count)
    with ProcessPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        rendering = [pool.submit(_render, root, s, document.model.name, document.model.registry) for s in services]
        for future in rendering:
            future.result()
    for service in services:
        text = ecosystem_file.with_service(document, service)
        document = ecosystem_file.parse(text.decode("utf-8"))
    (root / ecosystem_file.FILE_NAME).write_bytes(document.text.encode("utf-8"))
    _scaffold("sync", cwd=root)
    _git("config", "gc.auto", "0", cwd=root)  # no repacking in the background while a copy is made
    _git("add", "--all", cwd=root)
    _git("commit", "--quiet", "--allow-empty", "-m", f"{count} services", cwd=root)
    _git("gc", "--quiet", cwd=root)  # packed: tens of thousands fewer files to copy


def _content_key(count: int) -> str:
    """What the rendered services depend on: their number, the templates, and the renderer's versions
    (the wiring is brought up to date by `scaffold sync` after each copy)."""
    templates = builtin_templates_dir()
    files = sorted(p for p in templates.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    parts: list[str | bytes] = [FORMAT, str(count), *cache.installed(("copier", "jinja2")), scaffold.__version__]
    for path in files:
        parts += [path.relative_to(templates).as_posix(), path.read_bytes()]
    return cache.digest(*parts)[:16]


def copy(count: int, destination: Path) -> Path:
    """destination/shop: a copy of the stored meta-project of `count` services (made first if needed)."""
    stored = STORE / f"{count}-{_content_key(count)}"
    if not (stored / NAME).is_dir():
        STORE.mkdir(parents=True, exist_ok=True)
        for old in STORE.glob(f"{count}-*"):
            shutil.rmtree(old, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{count}-", dir=STORE))
        print(f"making an ecosystem of {count} services (once; kept in {STORE})...", file=sys.stderr)
        make(count, staging)
        staging.rename(stored)
    destination.mkdir(parents=True, exist_ok=True)
    root = destination / NAME
    subprocess.run(["cp", "-a", str(stored / NAME), str(root)], check=True)
    _scaffold("sync", cwd=root)  # the wiring as this scaffold derives it
    _git("add", "--all", cwd=root)
    if subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=root, check=False).returncode:
        _git("commit", "--quiet", "-m", "scaffold sync", cwd=root)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("count", type=int)
    parser.add_argument("destination", type=Path)
    arguments = parser.parse_args()
    print(copy(arguments.count, arguments.destination.resolve()))


if __name__ == "__main__":
    main()
