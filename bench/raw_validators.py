"""The raw validator times `scaffold check` is measured against: `python bench/raw_validators.py ECOSYSTEM OUT.json`.

Every validator invocation `scaffold check` makes on the ecosystem, made here one at a time and
timed alone: the Compose v2 binary and hadolint as subprocesses, Helm lint and render through
helm-python-sdk and kubernetes-validate's `validate()` per object as library calls in this warm
process (no start-up counted), checkov once per service on its Dockerfile and rendered objects
(with --checkov). Their sum divided by the CPUs is what a perfect parallel run would take.
A stricter sum counts the Kubernetes schema validation with each schema loaded once, as
`scaffold check` does, instead of kubernetes-validate's load-per-object.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from scaffold import ecosystem_file
from scaffold.checks import charts, helm, kubernetes, tools
from scaffold.checks.kubernetes import KUBE_VERSION
from scaffold.model import Ecosystem


class Clock:
    """Seconds and calls per validator."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def time(self, name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = work(*args, **kwargs)
        self.seconds[name] += time.perf_counter() - started
        self.calls[name] += 1
        return result


def _run(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(args, cwd=cwd, capture_output=True, check=False)


def _validate(kubernetes_validate: Any, doc: dict[str, Any]) -> None:
    with contextlib.suppress(kubernetes_validate.utils.SchemaNotFoundError):
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def _checkov(clock: Clock, binary: str, root: Path, ecosystem: Ecosystem) -> None:
    for service in ecosystem.services:
        scratch = Path(tempfile.mkdtemp())
        shutil.copyfile(root / service.path / "Dockerfile", scratch / "Dockerfile")
        for env in ecosystem.environments:
            directory = scratch / env.name
            directory.mkdir()
            for index, rendered in enumerate(charts.render_service(root, ecosystem, service, env.name)):
                (directory / f"{index:03d}.yaml").write_text(yaml.safe_dump(rendered.doc))
        frameworks = ("--framework", "dockerfile", "kubernetes")
        clock.time("checkov", _run, binary, "--skip-download", "-d", str(scratch), *frameworks, "-o", "json")
        shutil.rmtree(scratch)


def main(root: Path, out: Path, with_checkov: bool) -> None:
    import helm_python  # imported before timing starts: a warm process
    import kubernetes_validate

    clock = Clock()
    ecosystem = ecosystem_file.load(root).model
    compose, hadolint = tools.compose_binary(), tools.discover().hadolint
    assert compose and hadolint
    for file in [root / "compose.yaml", *(root / s.path / "compose.yaml" for s in ecosystem.services)]:
        clock.time("docker compose config", _run, compose, "-f", str(file), "config", "-q", cwd=file.parent)
    for service in ecosystem.services:
        dockerfile = str(root / service.path / "Dockerfile")
        clock.time("hadolint", _run, hadolint, "-f", "json", "--failure-threshold", "warning", dockerfile)
    objects: list[dict[str, Any]] = []
    kube = f"v{KUBE_VERSION}"
    for env in ecosystem.environments:
        release = {"release": ecosystem.name, "namespace": env.namespace, "relative": ""}
        for service in ecosystem.services:
            chart = root / service.path / "chart"
            values, _ = charts.service_values(root, env.name, service.name)
            clock.time("helm lint", helm_python.lint, str(chart), values, strict=True, kube_version=kube)
            objects += [r.doc for r in clock.time("helm template", helm.render, chart, values, **release)]
        umbrella = root / "deploy/chart"
        values, _ = charts.umbrella_values(root, ecosystem, env.name)
        clock.time("helm lint", helm_python.lint, str(umbrella), values, strict=True, kube_version=kube)
        objects += [r.doc for r in clock.time("helm template", helm.render, umbrella, values, **release)]
    for doc in objects:
        clock.time("kubernetes-validate", _validate, kubernetes_validate, doc)
    # The same schemas and validator with each schema loaded once (scaffold.checks.kubernetes): the
    # validation work itself, for a stricter comparison.
    strict = Clock()
    for doc in objects:
        strict.time("kubernetes schemas, loaded once", kubernetes.problems, doc)
    if with_checkov:
        binary = tools.checkov_binary()
        assert binary, "checkov is not installed (set CHECKOV)"
        _checkov(clock, binary, root, ecosystem)
    cpus = len(os.sched_getaffinity(0))
    report: dict[str, object] = {
        "cpus": cpus,
        "seconds": dict(clock.seconds),
        "calls": dict(clock.calls),
        "sum_without_checkov": sum(v for k, v in clock.seconds.items() if k != "checkov"),
        "sum_with_checkov": sum(clock.seconds.values()),
        "kubernetes_schemas_loaded_once": sum(strict.seconds.values()),
    }
    without_checkov = sum(v for k, v in clock.seconds.items() if k != "checkov")
    report["strict_sum_without_checkov"] = (
        without_checkov - clock.seconds["kubernetes-validate"] + sum(strict.seconds.values())
    )
    out.write_text(json.dumps(report, indent=2) + "\n")
    for name, seconds in [*clock.seconds.items(), *strict.seconds.items()]:
        print(f"  {name:34} {clock.calls[name] or strict.calls[name]:4} calls  {seconds:7.2f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]), "--checkov" in sys.argv[3:])
