"""`scaffold rollback ENV [--to REVISION]`: the environment's release back to its last good revision
(scaffold.delivery.rollback), from a laptop or from the pipeline's rollback job."""

from __future__ import annotations

from pathlib import Path

from scaffold.delivery import target as targets
from scaffold.delivery.cluster import Cluster, Progress
from scaffold.delivery.rollback import rollback as run_rollback
from scaffold.results import RollbackResult


def rollback(start: Path, environment: str, to: int | None, timeout: int, progress: Progress) -> RollbackResult:
    target = targets.load(start, environment)
    cluster = Cluster.locate(target.environment, target.release)
    return run_rollback(cluster, to, timeout, progress)
