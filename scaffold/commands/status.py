"""`scaffold status ENV`: the release, images and readiness an environment runs (scaffold.delivery.status)."""

from __future__ import annotations

from pathlib import Path

from scaffold.delivery import target as targets
from scaffold.delivery.cluster import Cluster, Progress
from scaffold.delivery.status import status as read_status
from scaffold.results import StatusResult


def status(start: Path, environment: str, progress: Progress) -> StatusResult:
    target = targets.load(start, environment)
    return read_status(Cluster.locate(target.environment, target.release), progress)
