"""Running one job per service at once, in order of the services, and stopping cleanly on Ctrl-C."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from scaffold.errors import UsageError
from scaffold.model import Ecosystem, Service

T = TypeVar("T")
R = TypeVar("R")


def select(ecosystem: Ecosystem, names: Sequence[str], command: str) -> tuple[Service, ...]:
    """The named services (every one when no name is given), in the order of ecosystem.yaml."""
    from scaffold.errors import NotFoundError

    known = [s.name for s in ecosystem.services]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFoundError(
            f"No service named {', '.join(repr(n) for n in unknown)} in this ecosystem.",
            f"Services: {', '.join(known) or 'none yet'}. Run `scaffold {command}` without names for all of them.",
        )
    if not ecosystem.services:
        raise UsageError(
            f"The {ecosystem.name} ecosystem has no services to {command} yet.",
            "Add one with `scaffold new backend NAME`.",
        )
    return tuple(s for s in ecosystem.services if not names or s.name in names)


def jobs_for(requested: int | None, count: int) -> int:
    if requested is not None and requested < 1:
        raise UsageError(f"--jobs {requested}: at least one service must be worked on at a time.", "Example: --jobs 2")
    return max(1, min(count, requested if requested is not None else (os.cpu_count() or 1)))


def each(items: Sequence[T], work: Callable[[T], R], jobs: int) -> list[R]:
    """`work` on every item, `jobs` at a time; the results in the items' order. On Ctrl-C the items
    not yet started are cancelled and the interrupt is raised at once (the caller cleans up what the
    running ones started)."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(work, item) for item in items]
        results = [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
