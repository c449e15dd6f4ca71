"""`scaffold rollback ENV [--to REVISION]`: return the release to its last good revision, then smoke test it.

The same command runs for every rollback signal: a person (`scaffold rollback production`), and
the pipeline's rollback job, which a rollback alert starts through the relay and
repository_dispatch. The target is history.plan_rollback's: the newest good revision before the
current one that no rollback undid; nothing happens when the current revision is already a
rollback (an alert still firing must not walk the release back further), unless `--to` says where.
"""

from __future__ import annotations

from scaffold.delivery import preflight
from scaffold.delivery.cluster import Cluster, Progress
from scaffold.delivery.deploy import events_hint, rollback_to, smoke_test
from scaffold.delivery.history import plan_rollback
from scaffold.errors import DeliveryError, NotFoundError
from scaffold.results import RollbackResult


def rollback(cluster: Cluster, to: int | None, timeout: int, progress: Progress) -> RollbackResult:
    env = cluster.environment
    version = preflight.reachable(cluster)
    progress(f"{cluster.where} answers (Kubernetes {version})")
    history = preflight.release(cluster)
    if not history:
        raise NotFoundError(
            f"Release {cluster.release} is not installed in {cluster.where}: there is nothing to roll back.",
            f"Deliver it with `scaffold deploy {env.name}`.",
        )
    plan = plan_rollback(history, to)
    if plan.target is None:
        progress(f"nothing to do: {plan.reason}")
        return RollbackResult(
            environment=env.name,
            namespace=env.namespace,
            release=cluster.release,
            current=plan.current.number,
            target=None,
            revision=None,
            reason=plan.reason,
        )
    progress(f"rolling {cluster.release} back from revision {plan.current.number} to {plan.target.number}")
    undone = rollback_to(cluster, plan.target, timeout)
    if not undone.ok:
        raise DeliveryError(
            f"The rollback of {cluster.release} in {cluster.where} to revision {plan.target.number} failed: "
            f"{undone.reason}.",
            events_hint(cluster),
        )
    revision = preflight.release(cluster)[-1].number
    progress(f"revision {revision} runs revision {plan.target.number}'s release; running the smoke tests")
    smoke = smoke_test(cluster, progress)
    if not smoke.ok:
        raise DeliveryError(
            f"{cluster.release} in {cluster.where} was rolled back to revision {plan.target.number}, but its smoke "
            f"tests fail too ({smoke.reason}).",
            f"Choose an older revision with `scaffold rollback {env.name} --to N` (`scaffold status {env.name}` "
            "lists them), or deliver a fix.",
        )
    return RollbackResult(
        environment=env.name,
        namespace=env.namespace,
        release=cluster.release,
        current=plan.current.number,
        target=plan.target.number,
        revision=revision,
        reason="",
    )
