"""What an environment must have before a delivery touches it; every check only reads.

- the cluster answers (kubectl version, through the environment's context or API server);
- the namespace exists (a namespace-scoped deployer may not read Namespace objects: then the
  Secret check below answers for it);
- the environment's Secret exists. Its values are never read: `kubectl get` with its default
  (human-readable) output asks the API server for a Table, whose rows carry the object's metadata
  only, so the Secret's data never leaves the cluster;
- which custom APIs the cluster serves (discovery, which every authenticated user may read): the
  charts skip the objects of a missing one, and the result says what that costs;
- the release's history: none (a first install), or not in the middle of another operation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from scaffold.custom_resources import CUSTOM_RESOURCES, CustomResource
from scaffold.delivery import history as release_history
from scaffold.delivery.cluster import Cluster, Outcome, Progress
from scaffold.errors import DeliveryError, NotFoundError

_NOT_FOUND = "release: not found"


@dataclass(frozen=True)
class Environment:
    """What the pre-flight found."""

    server_version: str
    history: tuple[release_history.Revision, ...]  # empty: the release is not installed
    missing_apis: tuple[CustomResource, ...]


def _doctor_hint(cluster: Cluster) -> str:
    return (
        f"Check the credentials for {cluster.where}: `scaffold doctor --delivery`, then "
        f"`{' '.join(cluster.kubectl_command('get', 'namespace', cluster.environment.namespace))}`."
    )


def reachable(cluster: Cluster) -> str:
    """The cluster's Kubernetes version; stops when it does not answer."""
    answer = cluster.kubectl("version", "--output=json", "--request-timeout=30s")
    try:
        version = json.loads(answer.stdout or "{}").get("serverVersion", {}).get("gitVersion")
    except ValueError:
        version = None
    if not answer.ok or not version:
        raise DeliveryError(f"The cluster of {cluster.where} does not answer: {answer.reason}.", _doctor_hint(cluster))
    return str(version)


def _forbidden(outcome: Outcome) -> bool:
    return "forbidden" in outcome.stderr.lower()


def namespace_exists(cluster: Cluster) -> bool | None:
    """True or False; None when the credentials may not read Namespace objects."""
    namespace = cluster.environment.namespace
    answer = cluster.kubectl("get", "namespace", namespace, "--ignore-not-found", "--output=name")
    if not answer.ok:
        if _forbidden(answer):
            return None
        raise DeliveryError(f"Cannot look up namespace {namespace}: {answer.reason}.", _doctor_hint(cluster))
    return bool(answer.stdout.strip())


def secret_exists(cluster: Cluster) -> bool:
    """Whether the environment's Secret exists; its data is never fetched (see the module's docstring)."""
    env = cluster.environment
    answer = cluster.kubectl(
        "get", "secret", env.secret, "--namespace", env.namespace, "--ignore-not-found", "--no-headers"
    )
    if not answer.ok:
        raise DeliveryError(
            f"Cannot look up Secret {env.secret} in namespace {env.namespace}: {answer.reason}.",
            "Helm keeps its release records in Secrets of the namespace, so the deploying identity must be "
            "allowed to read and write Secrets there.",
        )
    return bool(answer.stdout.strip())


def missing_apis(cluster: Cluster) -> tuple[CustomResource, ...]:
    """The custom resources the charts use whose API the cluster does not serve (discovery)."""
    served: dict[str, set[str]] = {}
    for api_version in sorted({r.api_version for r in CUSTOM_RESOURCES}):
        answer = cluster.kubectl("get", "--raw", f"/apis/{api_version}")
        kinds: set[str] = set()
        if answer.ok:
            try:
                resources = json.loads(answer.stdout).get("resources", [])
                kinds = {str(r.get("kind")) for r in resources if isinstance(r, dict)}
            except ValueError:
                kinds = set()
        elif "(NotFound)" not in answer.stderr and "could not find the requested resource" not in answer.stderr:
            raise DeliveryError(f"Cannot ask the cluster which APIs it serves: {answer.reason}.", _doctor_hint(cluster))
        served[api_version] = kinds
    return tuple(r for r in CUSTOM_RESOURCES if r.kind not in served.get(r.api_version, set()))


def release(cluster: Cluster) -> tuple[release_history.Revision, ...]:
    """The release's history, oldest first; empty when it is not installed."""
    answer = cluster.helm("history", cluster.release, "--output", "json", "--max", "100")
    if not answer.ok:
        if _NOT_FOUND in answer.stderr:
            return ()
        raise DeliveryError(
            f"Cannot read the history of release {cluster.release} in {cluster.where}: {answer.reason}.",
            _doctor_hint(cluster),
        )
    return release_history.parse(answer.stdout)


def check(cluster: Cluster, progress: Progress) -> Environment:
    """Everything a delivery needs from the environment, before it changes anything."""
    version = reachable(cluster)
    progress(f"pre-flight: {cluster.where} answers (Kubernetes {version})")
    env = cluster.environment
    if namespace_exists(cluster) is False:
        raise NotFoundError(
            f"Namespace {env.namespace} of {env.name} does not exist.",
            f"Create it with the environment's Secret before the first delivery (docs/delivery.md, first delivery): "
            f"`{' '.join(cluster.kubectl_command('create', 'namespace', env.namespace))}`.",
        )
    if not secret_exists(cluster):
        raise NotFoundError(
            f"Secret {env.secret} does not exist in namespace {env.namespace}: the services would wait for it "
            "until the rollout times out.",
            f"Create it with the keys the services read (docs/delivery.md, first delivery), e.g. "
            f"`kubectl --namespace {env.namespace} create secret generic {env.secret} --from-env-file=FILE`.",
        )
    progress(f"pre-flight: namespace {env.namespace} and Secret {env.secret} exist (values not read)")
    missing = missing_apis(cluster)
    for resource in missing:
        progress(
            f"pre-flight: the cluster does not serve {resource.capability}: its objects are skipped, "
            f"so {resource.without} "
            f"(install {resource.provided_by})"
        )
    history = release(cluster)
    release_history.ensure_not_pending(history, cluster.release)
    progress(
        f"pre-flight: release {cluster.release} is at revision {history[-1].number} ({history[-1].status})"
        if history
        else f"pre-flight: release {cluster.release} is not installed yet: this is its first install"
    )
    return Environment(server_version=version, history=history, missing_apis=missing)
