"""`scaffold deploy ENV --images FILE...`: deliver the umbrella chart to an environment, each service's
image pinned by digest, as the pipeline does (scaffold.delivery.deploy has the steps).

Data flow: find the meta-project, read ecosystem.yaml (shared lock), check that the derived files
match it and every service's chart is on disk -> merge the images files (a later file wins per
service; every service the environment runs needs an image; images built from uncommitted changes
only with --allow-dirty) -> find helm >= 4.1 and kubectl -> pre-flight, roll out, smoke test, roll
back on failure -> write the complete set of images delivered (--delivered-images), which is what a
later environment is promoted with.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scaffold import images_file
from scaffold.delivery import target as targets
from scaffold.delivery.cluster import Cluster, Progress
from scaffold.delivery.deploy import Delivery
from scaffold.delivery.deploy import deploy as run_delivery
from scaffold.delivery.deploy import deploy_platform as deploy_platform_chart
from scaffold.errors import NotFoundError, UsageError
from scaffold.images_file import ImagesFile, PushedImage
from scaffold.results import DeployResult

DEFAULT_TIMEOUT = 600  # seconds a rollout may take to become ready


@dataclass(frozen=True)
class DeployOptions:
    images: tuple[Path, ...]  # images files (`scaffold build --push`, or a delivered set), later ones win
    delivered_images: Path | None = None  # where to write the complete set delivered
    allow_dirty: bool = False
    timeout: int = DEFAULT_TIMEOUT
    platform: bool = False  # the once-per-cluster chart (deploy/platform) instead of the umbrella


def merged_images(
    target: targets.Target, files: list[ImagesFile], *, allow_dirty: bool, progress: Progress
) -> dict[str, PushedImage]:
    """Every image the environment needs, from the files in order (a later file wins per service)."""
    if any(f.dirty for f in files) and not allow_dirty:
        raise UsageError(
            "An images file was built from a meta-project with uncommitted changes: what would run could not "
            "be traced to a commit.",
            "Commit and build again, or pass --allow-dirty to deliver it to a try-out environment anyway.",
        )
    images: dict[str, PushedImage] = {}
    for file in files:
        images.update(file.images)
    known = {s.name for s in target.ecosystem.services}
    for name in sorted(set(images) - known):
        progress(f"ignoring the image of {name}: it is not a service of ecosystem.yaml")
    needed = [s.name for s in target.enabled()]
    missing = [name for name in needed if name not in images]
    if missing:
        raise NotFoundError(
            f"No image for {', '.join(missing)} in the images files: every service {target.environment.name} "
            "runs is delivered pinned by digest.",
            f"Build and push them (`scaffold build --push {' '.join(missing)}`) and pass every images file with "
            "--images, e.g. the set delivered before (--delivered-images) plus the new build.",
        )
    return {name: images[name] for name in needed}


def head_commit(root: Path, files: list[ImagesFile]) -> str:
    """The meta-project's commit (what the chart on disk is), else the last images file's."""
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    return files[-1].commit if files else "unknown"


def deploy_platform(target: targets.Target, options: DeployOptions, progress: Progress) -> DeployResult:
    """deploy/platform into alerting.namespace of the environment's cluster (once per cluster: another
    environment on the same cluster upgrades the same release)."""
    from scaffold.wiring.platform import release_name, token_secret

    alerting = target.ecosystem.alerting
    environment = dataclasses.replace(
        target.environment, namespace=alerting.namespace, secret=token_secret(target.ecosystem)
    )
    cluster = Cluster.locate(environment, release_name(target.ecosystem))
    relay = alerting.github_repository is not None
    return deploy_platform_chart(target.root, cluster, relay, options.timeout, progress)


def deploy(start: Path, environment: str, options: DeployOptions, progress: Progress) -> DeployResult:
    target = targets.load(start, environment)
    targets.ensure_deliverable(target)
    if options.platform:
        return deploy_platform(target, options, progress)
    if not options.images and target.enabled():
        raise UsageError(
            "Which images? A delivery pins every service's image by digest.",
            "Pass the file `scaffold build --push` wrote: `--images images.json`.",
        )
    files = [images_file.read(path) for path in options.images]
    images = merged_images(target, files, allow_dirty=options.allow_dirty, progress=progress)
    commit = head_commit(target.root, files)
    cluster = Cluster.locate(target.environment, target.release)
    result = run_delivery(Delivery(target.root, images, commit, options.timeout), cluster, progress)
    if options.delivered_images is None:
        return result
    path = options.delivered_images if options.delivered_images.is_absolute() else start / options.delivered_images
    images_file.write(
        path, ImagesFile(commit=commit, dirty=any(f.dirty for f in files), images=dict(sorted(images.items())))
    )
    return dataclasses.replace(result, delivered_images=path)
