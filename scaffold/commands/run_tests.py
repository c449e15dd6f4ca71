"""`scaffold test [NAME...]`: run every (or the named) service's built test image with its
dependencies, several services at once, and report each.

Data flow: find the meta-project -> read ecosystem.yaml (shared lock, released before running) ->
the services and the test images `scaffold build` tagged (image_tags: same commit, same tag) ->
Compose v2 resolves each service's compose file, test profile (engine.runner.run_spec) -> per
service, in parallel: its dependencies, then its test image (engine.runner.ServiceRun) -> a
report per service. The outdated-dependency and audit checks run non-strict unless --strict
(CHECK_STRICT), the same default the pipeline uses. Nothing in the meta-project changes.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold import ecosystem_file, mirrors
from scaffold.engine.connection import Engine, connect
from scaffold.engine.parallel import each, jobs_for, select
from scaffold.engine.registry import RegistryError
from scaffold.engine.runner import DependencyError, ServiceRun, run_spec, sweep
from scaffold.errors import ExitCode, NotFoundError, ScaffoldError
from scaffold.image_tags import ServiceImages, service_images
from scaffold.prerequisites import ComposeProgram, find_compose, requirement
from scaffold.project import find_root, reading
from scaffold.results import Progress, ProgressSink, RunTestsResult, ServiceTestRun, no_progress


@dataclass(frozen=True)
class _Tests:
    root: Path
    engine: Engine
    compose: ComposeProgram
    run_id: str
    compose_env: Mapping[str, str]  # what the compose files read: mirrors, CHECK_STRICT
    test_env: Mapping[str, str]  # set in every test container
    ca_bundle: Path | None
    report: ProgressSink

    def service(self, plan: ServiceImages) -> ServiceTestRun:
        import docker.errors

        name, image = plan.service.name, plan.test
        client = self.engine.client()
        started = time.monotonic()
        run = ServiceRun(client, self.run_id, name)
        try:
            try:
                client.images.get(image)
            except docker.errors.ImageNotFound:
                reason = f"{image} is not built: run `scaffold build {name}` first (same commit, same tag)"
                self.report(Progress(name, "tests", "failed", 0.0, reason))
                return ServiceTestRun(name, "not built", image, reason=reason)
            spec = run_spec(self.compose, self.root / plan.service.path, name, self.compose_env)
            self.report(Progress(name, "dependencies", "started", detail=", ".join(d.name for d in spec.dependencies)))
            run.open()
            for dependency in spec.dependencies:
                run.start_dependency(dependency)
                run.wait_for(dependency)
            self.report(Progress(name, "dependencies", "done", time.monotonic() - started))
            self.report(Progress(name, "tests", "started", detail=image))
            outcome = run.run_tests(spec, image, self.test_env, self.ca_bundle)
        except (DependencyError, RegistryError, ScaffoldError) as err:
            return self._error(name, image, started, err.message)
        except docker.errors.DockerException as err:  # the engine refused a container or network
            return self._error(name, image, started, f"the engine refused: {err}")
        finally:
            run.close()
            client.close()
        seconds = time.monotonic() - started
        passed = outcome.exit_code == 0
        self.report(Progress(name, "tests", "done" if passed else "failed", seconds, f"exit code {outcome.exit_code}"))
        return ServiceTestRun(
            name,
            "passed" if passed else "failed",
            image,
            exit_code=outcome.exit_code,
            seconds=seconds,
            dependencies=outcome.dependencies,
            output=outcome.output,
        )

    def _error(self, name: str, image: str, started: float, reason: str) -> ServiceTestRun:
        seconds = time.monotonic() - started
        self.report(Progress(name, "tests", "failed", seconds, reason.splitlines()[0]))
        return ServiceTestRun(name, "error", image, seconds=seconds, reason=reason)


def _compose() -> ComposeProgram:
    found, tried = find_compose()
    if found is None:
        needed = requirement("compose v2")
        raise NotFoundError(
            "scaffold test reads each service's compose.yaml with Compose v2, and found none whose exit codes "
            f"can be trusted ({'; '.join(tried) or 'nothing on PATH'}).",
            f"Install it: {needed.install}.",
        )
    return found


def run_tests(
    start: Path,
    names: Sequence[str],
    *,
    strict: bool = False,
    jobs: int | None = None,
    progress: ProgressSink | None = None,
) -> RunTestsResult:
    root = find_root(start)
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    services = select(ecosystem, names, "test")
    workers = jobs_for(jobs, len(services))
    plans = [service_images(root, ecosystem, s) for s in services]
    ca_bundle = mirrors.ca_bundle(root, ecosystem.mirrors)
    strictness = {"CHECK_STRICT": "1" if strict else "0"}
    variables = mirrors.variables(ecosystem.mirrors)
    tests = _Tests(
        root=root,
        engine=connect(),
        compose=_compose(),
        run_id=secrets.token_hex(4),
        compose_env={**os.environ, **variables, **strictness},
        test_env={**{k: v for k, v in variables.items() if k != "IMAGE_MIRROR"}, **strictness},
        ca_bundle=ca_bundle,
        report=progress or no_progress,
    )
    try:
        ran = each(plans, tests.service, workers)
    finally:
        client = tests.engine.client()
        try:
            sweep(client, tests.run_id)
        finally:
            client.close()
    ok = all(r.status == "passed" for r in ran)
    return RunTestsResult(
        root=root,
        engine=tests.engine.name,
        strict=strict,
        services=tuple(ran),
        exit_code=int(ExitCode.OK if ok else ExitCode.TESTS_FAILED),
    )
