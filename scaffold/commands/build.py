"""`scaffold build [NAME...]`: every (or the named) service's `test` and `runtime` images, through
the engine's Docker API, several services at once.

Data flow: find the meta-project -> read ecosystem.yaml (shared lock, released before building) ->
the services and their tags from git (image_tags) -> the mirrors as build arguments and the CA
bundle as a build secret (mirrors) -> the engine (engine.connection) -> per service, in parallel:
the test image, and the runtime image once the test build has the stages before its own cached
(it reuses them; the two last stages overlap) -> with
--push, once every image is built: push each runtime image, read its digest, write images.json.
Nothing in the meta-project changes except images.json.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import ecosystem_file, images_file, mirrors
from scaffold.engine import registry
from scaffold.engine.builders import Builder, BuildOutcome, BuildRequest, builder_for
from scaffold.engine.connection import Engine, connect
from scaffold.engine.parallel import each, jobs_for, select
from scaffold.errors import ExitCode, UsageError
from scaffold.image_tags import ServiceImages, service_images, version_of
from scaffold.images_file import ImagesFile, PushedImage
from scaffold.project import find_root, reading
from scaffold.results import BuildResult, BuiltImage, Progress, ProgressSink, ServiceBuild, no_progress

TARGETS = (("test", "test image"), ("runtime", "runtime image"))


def _failed(future: Future[BuiltImage | BuildOutcome]) -> bool:
    """Whether the build of `future` has already ended in failure."""
    return future.done() and isinstance(future.result(), BuildOutcome)


@dataclass(frozen=True)
class _Build:
    """What every service's build shares: the engine, the builder, the mirrors, the progress sink."""

    root: Path
    engine: Engine
    builder: Builder
    arguments: dict[str, str]
    secrets: dict[str, Path]
    report: ProgressSink

    def service(self, plan: ServiceImages) -> ServiceBuild:
        """The test image, and the runtime image beside the end of it: the runtime build starts once
        the test build has every stage before its own in the engine's cache (the dependency
        installs), so the two never install the same thing twice and a rebuild after an edit
        overlaps their last stages."""
        name = plan.service.name
        directory = self.root / plan.service.path
        if not (directory / "Dockerfile").is_file():
            return ServiceBuild(name, "failed", failed_step="test image", error=f"{directory}/Dockerfile is missing")
        shared_stages_built = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            test = pool.submit(self._target, plan, "test", shared_stages_built.set)
            test.add_done_callback(lambda _: shared_stages_built.set())
            shared_stages_built.wait()
            runtime = self._target(plan, "runtime", lambda: None) if not _failed(test) else None
            outcomes = [test.result(), runtime]
        images = tuple(o for o in outcomes if isinstance(o, BuiltImage))
        for (_, step), outcome in zip(TARGETS, outcomes, strict=True):
            if isinstance(outcome, BuildOutcome):
                return ServiceBuild(name, "failed", images, failed_step=step, error=outcome.error, log=outcome.log)
        return ServiceBuild(name, "built", images)

    def _target(self, plan: ServiceImages, target: str, stages_done: Callable[[], None]) -> BuiltImage | BuildOutcome:
        """One image of the service: built, or the failed build's outcome."""
        name = plan.service.name
        step = dict(TARGETS)[target]
        reference = plan.test if target == "test" else plan.runtime
        self.report(Progress(name, step, "started", detail=reference))
        started = time.monotonic()
        request = BuildRequest(self.root / plan.service.path, target, reference, self.arguments, self.secrets)
        outcome = self.builder.build(request, stages_done)
        seconds = time.monotonic() - started
        if outcome.image_id is None:
            self.report(Progress(name, step, "failed", seconds, outcome.error or ""))
            return outcome
        self.report(Progress(name, step, "done", seconds, reference))
        return BuiltImage(target, reference, outcome.image_id, self._size(outcome.image_id), seconds)

    def _size(self, image_id: str) -> int:
        client = self.engine.client()
        try:
            return int(client.api.inspect_image(image_id).get("Size") or 0)
        finally:
            client.close()

    def push(self, item: tuple[ServiceImages, ServiceBuild]) -> ServiceBuild:
        plan, built = item
        name = plan.service.name
        self.report(Progress(name, "push", "started", detail=plan.runtime))
        started = time.monotonic()
        client: Any = self.engine.client()
        try:
            digest = registry.push(client, plan.repository, plan.version.tag)
        except registry.RegistryError as err:
            self.report(Progress(name, "push", "failed", time.monotonic() - started, err.message))
            return ServiceBuild(name, "failed", built.images, failed_step="push", error=err.message)
        finally:
            client.close()
        self.report(Progress(name, "push", "done", time.monotonic() - started, digest))
        images = tuple(
            BuiltImage(i.target, i.reference, i.image_id, i.size, i.seconds, digest if i.target == "runtime" else None)
            for i in built.images
        )
        return ServiceBuild(name, "pushed", images)


def build(
    start: Path,
    names: Sequence[str],
    *,
    push_images: bool = False,
    images_path: Path | None = None,
    jobs: int | None = None,
    progress: ProgressSink | None = None,
) -> BuildResult:
    if images_path is not None and not push_images:
        raise UsageError(
            "--images-file says where --push records the digests; nothing is pushed without --push.",
            "Add --push, or leave --images-file out.",
        )
    root = find_root(start)
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    services = select(ecosystem, names, "build")
    workers = jobs_for(jobs, len(services))
    plans = [service_images(root, ecosystem, s) for s in services]
    ca_bundle = mirrors.ca_bundle(root, ecosystem.mirrors)
    secrets = {mirrors.CA_SECRET: ca_bundle} if ca_bundle else {}
    engine = connect()
    run = _Build(
        root, engine, builder_for(engine), mirrors.variables(ecosystem.mirrors), secrets, progress or no_progress
    )
    built = each(plans, run.service, workers)
    images_file_path: Path | None = None
    if push_images and all(b.status == "built" for b in built):
        built = each(list(zip(plans, built, strict=True)), run.push, workers)
        if all(b.status == "pushed" for b in built):
            images_file_path = images_path or root / images_file.FILE_NAME
            images_file.write(images_file_path, _images(root, plans, built))
    ok = all(b.status != "failed" for b in built)
    return BuildResult(
        root=root,
        engine=engine.name,
        services=tuple(built),
        pushed=images_file_path is not None,
        images_file=images_file_path,
        exit_code=int(ExitCode.OK if ok else ExitCode.BUILD_FAILED),
    )


def _images(root: Path, plans: list[ServiceImages], built: list[ServiceBuild]) -> ImagesFile:
    pushed = {}
    for plan, service in zip(plans, built, strict=True):
        digest = next(i.digest for i in service.images if i.target == "runtime")
        assert digest is not None
        pushed[plan.service.name] = PushedImage(plan.repository, plan.version.tag, digest)
    return ImagesFile(
        commit=version_of(root).commit,
        dirty=any(plan.version.dirty for plan in plans),
        images=pushed,
    )
