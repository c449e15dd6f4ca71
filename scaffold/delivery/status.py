"""`scaffold status ENV`: what runs in an environment, read from the cluster; nothing changes.

The release's revisions (with the revision a rollback would return to), the image each service
runs (the values `scaffold deploy` set: repository, tag, digest), the readiness of each
Deployment, and the custom APIs the cluster lacks.
"""

from __future__ import annotations

import json
from typing import Any

from scaffold.delivery import preflight
from scaffold.delivery.cluster import Cluster, Progress
from scaffold.delivery.history import plan_rollback
from scaffold.errors import DeliveryError
from scaffold.results import DeploymentStatus, RevisionStatus, StatusResult


def _images(cluster: Cluster) -> dict[str, str]:
    """service -> image reference, from the values the current revision was given."""
    answer = cluster.helm("get", "values", cluster.release, "--output", "json")
    if not answer.ok:
        raise DeliveryError(
            f"Cannot read the values of {cluster.release}: {answer.reason}.", "Run `scaffold doctor --delivery`."
        )
    values: Any = json.loads(answer.stdout or "{}") or {}
    found: dict[str, str] = {}
    for name, section in sorted(values.items()) if isinstance(values, dict) else []:
        image = section.get("image") if isinstance(section, dict) else None
        if isinstance(image, dict) and image.get("repository"):
            reference = (
                f"{image['repository']}@{image['digest']}"
                if image.get("digest")
                else f"{image['repository']}:{image.get('tag', '')}"
            )
            found[str(name)] = reference
    return found


def _deployments(cluster: Cluster) -> tuple[DeploymentStatus, ...]:
    answer = cluster.kubectl(
        "get",
        "deployments",
        "--namespace",
        cluster.environment.namespace,
        "--selector",
        f"app.kubernetes.io/instance={cluster.release}",
        "--output=json",
    )
    if not answer.ok:
        raise DeliveryError(
            f"Cannot list the Deployments of {cluster.release}: {answer.reason}.", "Run `scaffold doctor --delivery`."
        )
    items = json.loads(answer.stdout or "{}").get("items", [])
    return tuple(
        DeploymentStatus(
            name=str(item["metadata"]["name"]),
            ready=int(item.get("status", {}).get("readyReplicas") or 0),
            desired=int(item.get("spec", {}).get("replicas") or 0),
        )
        for item in sorted(items, key=lambda i: str(i["metadata"]["name"]))
    )


def status(cluster: Cluster, progress: Progress) -> StatusResult:
    env = cluster.environment
    version = preflight.reachable(cluster)
    progress(f"{cluster.where} answers (Kubernetes {version})")
    history = preflight.release(cluster)
    missing = tuple(r.kind for r in preflight.missing_apis(cluster))
    if not history:
        return StatusResult(
            environment=env.name,
            namespace=env.namespace,
            release=cluster.release,
            kubernetes=version,
            revisions=(),
            rollback_target=None,
            images={},
            deployments=(),
            skipped=missing,
        )
    plan = plan_rollback(history)
    return StatusResult(
        environment=env.name,
        namespace=env.namespace,
        release=cluster.release,
        kubernetes=version,
        revisions=tuple(RevisionStatus(r.number, r.status, r.chart, r.description, r.updated) for r in history),
        rollback_target=plan.target.number if plan.target else None,
        images=_images(cluster),
        deployments=_deployments(cluster),
        skipped=missing,
    )
