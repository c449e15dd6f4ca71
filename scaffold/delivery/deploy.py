"""`scaffold deploy ENV`: pre-flight, roll out, smoke test, roll back on failure.

    helm upgrade RELEASE deploy/chart --install -f values-ENV.yaml -f <images by digest>
         --rollback-on-failure --wait=watcher --wait-for-jobs --timeout T --history-max N
    helm test RELEASE --logs

A rollout that does not become ready is rolled back by Helm itself (--rollback-on-failure; a
failed first install is uninstalled). A smoke test that fails is rolled back here, to the revision
history.plan_rollback chooses (never `helm rollback RELEASE 0`, which fails on a first install and
may pick a failed revision), or uninstalled when the release has no good revision to return to,
as Helm does for a failed first install. Either way the command fails (exit 11) and says what it did.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scaffold.delivery import preflight
from scaffold.delivery.cluster import Cluster, Outcome, Progress
from scaffold.delivery.history import Revision, ensure_not_pending, plan_rollback
from scaffold.errors import DeliveryError, NotFoundError
from scaffold.images_file import PushedImage
from scaffold.results import DeployResult
from scaffold.wiring.umbrella import CHART_DIR

HISTORY_MAX: Final = 20  # revisions Helm keeps per release: enough to roll back a few deliveries
SMOKE_TIMEOUT: Final = 300  # seconds for the test pods (each polls its service for about 30 s)
MARGIN: Final = 120.0  # seconds the command may take beyond Helm's own timeout before it is stopped


@dataclass(frozen=True)
class Delivery:
    """What to deliver where."""

    root: Path
    images: Mapping[str, PushedImage]  # service -> image; every enabled service has one
    commit: str  # the meta-project's commit being delivered (Helm's description of the revision)
    timeout: int  # seconds the rollout may take


def image_values(images: Mapping[str, PushedImage]) -> dict[str, object]:
    """The values that pin each service's image by digest (the tag is kept for people reading them)."""
    return {
        name: {"image": {"repository": image.repository, "tag": image.tag, "digest": image.digest}}
        for name, image in sorted(images.items())
    }


def events_hint(cluster: Cluster) -> str:
    events = " ".join(
        cluster.kubectl_command(
            "get", "events", "--namespace", cluster.environment.namespace, "--sort-by=.lastTimestamp"
        )
    )
    return f"The events of the namespace say why: `{events}`; fix it and deliver again."


def _rollout_failed(cluster: Cluster, upgrade: Outcome) -> DeliveryError:
    """What Helm did after a rollout that did not become ready, read back from the release's history."""
    after = preflight.release(cluster)
    if not after:
        return DeliveryError(
            f"The first install of {cluster.release} into {cluster.where} failed, and Helm uninstalled it "
            f"(--rollback-on-failure): {upgrade.reason}.",
            events_hint(cluster),
        )
    latest = after[-1]
    if latest.rollback_of is not None and latest.status == "deployed":
        return DeliveryError(
            f"The rollout to {cluster.where} failed, and Helm rolled {cluster.release} back to revision "
            f"{latest.rollback_of} (now revision {latest.number}): {upgrade.reason}.",
            events_hint(cluster),
        )
    return DeliveryError(
        f"The rollout to {cluster.where} failed and left {cluster.release} at revision {latest.number} "
        f"({latest.status}): {upgrade.reason}.",
        f"Return it to its last good revision with `scaffold rollback {cluster.environment.name}`. "
        + events_hint(cluster),
    )


def rollback_to(cluster: Cluster, revision: Revision, timeout: int) -> Outcome:
    return cluster.helm(
        "rollback",
        cluster.release,
        str(revision.number),
        "--wait=watcher",
        "--wait-for-jobs",
        f"--timeout={timeout}s",
        f"--history-max={HISTORY_MAX}",
        timeout=timeout + MARGIN,
    )


def smoke_test(cluster: Cluster, progress: Progress) -> Outcome:
    """`helm test --logs`: the charts' test pods, with their logs (Helm >= 4.1 keeps passing pods until read)."""
    outcome = cluster.helm(
        "test", cluster.release, "--logs", f"--timeout={SMOKE_TIMEOUT}s", timeout=SMOKE_TIMEOUT + MARGIN
    )
    for line in (outcome.stdout + outcome.stderr).splitlines():
        if line.strip():
            progress(f"  | {line}")
    return outcome


def _smoke_failed(cluster: Cluster, smoke: Outcome, timeout: int, progress: Progress) -> DeliveryError:
    """Undo a release whose smoke tests failed; the error says what was done."""
    plan = plan_rollback(preflight.release(cluster))
    failed = f"The smoke tests of revision {plan.current.number} in {cluster.where} failed ({smoke.reason})"
    logs = "The test pods' logs are above; fix the service and deliver again."
    if plan.target is not None:
        progress(f"rolling back {cluster.release} to revision {plan.target.number}")
        undone = rollback_to(cluster, plan.target, timeout)
        if undone.ok:
            return DeliveryError(f"{failed}; rolled back to revision {plan.target.number}.", logs)
        return DeliveryError(
            f"{failed}, and the rollback to revision {plan.target.number} failed too: {undone.reason}.",
            f"Run `scaffold rollback {cluster.environment.name} --to {plan.target.number}` once the cluster allows it. "
            + events_hint(cluster),
        )
    progress(f"uninstalling {cluster.release}: it has no good revision to return to")
    removed = cluster.helm(
        "uninstall", cluster.release, "--wait=watcher", f"--timeout={timeout}s", timeout=timeout + MARGIN
    )
    if removed.ok:
        return DeliveryError(
            f"{failed}; it was the first good revision, so the release was uninstalled, as Helm does for a "
            "failed first install.",
            logs,
        )
    return DeliveryError(
        f"{failed}, and uninstalling the release failed too: {removed.reason}.",
        f"Remove it with `{' '.join(cluster.helm_command('uninstall', cluster.release))}`. " + events_hint(cluster),
    )


def deploy(delivery: Delivery, cluster: Cluster, progress: Progress) -> DeployResult:
    env = cluster.environment
    found = preflight.check(cluster, progress)
    previous = found.history[-1].number if found.history else None
    chart = delivery.root / CHART_DIR
    progress(f"rolling out {cluster.release} to {cluster.where} (waits up to {delivery.timeout} s)")
    with tempfile.TemporaryDirectory(prefix="scaffold-deploy-") as scratch:
        images = Path(scratch) / "images.json"
        images.write_text(json.dumps(image_values(delivery.images), indent=2), encoding="utf-8")
        upgrade = cluster.helm(
            "upgrade",
            cluster.release,
            str(chart),
            "--install",
            "--values",
            str(chart / f"values-{env.name}.yaml"),
            "--values",
            str(images),
            "--rollback-on-failure",
            "--wait=watcher",
            "--wait-for-jobs",
            f"--timeout={delivery.timeout}s",
            f"--history-max={HISTORY_MAX}",
            "--description",
            f"scaffold deploy of commit {delivery.commit}",
            timeout=delivery.timeout + MARGIN,
        )
    if not upgrade.ok:
        raise _rollout_failed(cluster, upgrade)
    revision = preflight.release(cluster)[-1].number
    progress(f"revision {revision} is ready; running the smoke tests (helm test --logs)")
    smoke = smoke_test(cluster, progress)
    if not smoke.ok:
        raise _smoke_failed(cluster, smoke, delivery.timeout, progress)
    return DeployResult(
        environment=env.name,
        namespace=env.namespace,
        release=cluster.release,
        revision=revision,
        previous=previous,
        images={name: image.reference for name, image in sorted(delivery.images.items())},
        skipped=tuple(r.kind for r in found.missing_apis),
        kubernetes=found.server_version,
    )


def deploy_platform(root: Path, cluster: Cluster, relay: bool, timeout: int, progress: Progress) -> DeployResult:
    """The once-per-cluster part (deploy/platform): cluster and node rules, and the rollback relay when
    `relay` (its token's Secret must exist then). `cluster` targets the platform's namespace."""
    from scaffold.wiring.platform import PLATFORM_DIR

    version = preflight.reachable(cluster)
    progress(f"pre-flight: {cluster.where} answers (Kubernetes {version})")
    env = cluster.environment
    if preflight.namespace_exists(cluster) is False:
        raise NotFoundError(
            f"Namespace {env.namespace} (alerting.namespace of ecosystem.yaml) does not exist.",
            "It is where the cluster's monitoring runs; set alerting.namespace to it, or create it.",
        )
    if relay and not preflight.secret_exists(cluster):
        raise NotFoundError(
            f"Secret {env.secret} does not exist in namespace {env.namespace}; the rollback relay reads its GitHub "
            "token from it (key `token`).",
            f"Create it with a token allowed to create repository dispatches (docs/delivery.md): "
            f"`kubectl --namespace {env.namespace} create secret generic {env.secret} --from-file=token=FILE`.",
        )
    missing = preflight.missing_apis(cluster)
    history = preflight.release(cluster)
    ensure_not_pending(history, cluster.release)
    upgrade = cluster.helm(
        "upgrade",
        cluster.release,
        str(root / PLATFORM_DIR),
        "--install",
        "--rollback-on-failure",
        "--wait=watcher",
        f"--timeout={timeout}s",
        f"--history-max={HISTORY_MAX}",
        timeout=timeout + MARGIN,
    )
    if not upgrade.ok:
        raise _rollout_failed(cluster, upgrade)
    revision = preflight.release(cluster)[-1].number
    return DeployResult(
        environment=env.name,
        namespace=env.namespace,
        release=cluster.release,
        revision=revision,
        previous=history[-1].number if history else None,
        images={},
        skipped=tuple(r.kind for r in missing),
        kubernetes=version,
    )
