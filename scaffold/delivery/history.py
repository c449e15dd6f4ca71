"""A release's history (`helm history -o json`) and the revision a rollback returns to.

Helm's own `helm rollback RELEASE 0` means "the revision before the current one", which is wrong
twice: on a first install there is none ("release has no 0 version"), and after a failed upgrade
that Helm rolled back, the revision before the current one is the failed one. So the target is
chosen here, from the statuses and the "Rollback to N" descriptions Helm records:
- a revision is *good* when it was deployed successfully (status deployed or superseded);
- a rollback from revision R to N abandons the revisions N+1 .. R-1: they were delivered and then
  undone, and a later rollback must not bring them back;
- the target is the newest good, not abandoned revision before the current one.
When the current revision is itself a rollback, an automatic rollback does nothing: an alert that
keeps firing after a rollback must not walk the release further and further back. `--to N` is the
way to go further, deliberately.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from scaffold.errors import ConflictError, UsageError

GOOD: Final = frozenset({"deployed", "superseded"})
_ROLLBACK: Final = re.compile(r"^Rollback to (\d+)$")


@dataclass(frozen=True)
class Revision:
    number: int
    status: str  # deployed, superseded, failed, pending-install, pending-upgrade, pending-rollback, ...
    chart: str
    app_version: str
    description: str
    updated: str  # RFC 3339, as Helm prints it

    @property
    def good(self) -> bool:
        return self.status in GOOD

    @property
    def pending(self) -> bool:
        return self.status.startswith("pending")

    @property
    def rollback_of(self) -> int | None:
        """N when this revision is Helm's "Rollback to N"."""
        match = _ROLLBACK.match(self.description.strip())
        return int(match.group(1)) if match else None


def parse(text: str) -> tuple[Revision, ...]:
    """`helm history RELEASE -o json`, oldest first."""
    try:
        entries = json.loads(text or "[]")
    except ValueError:
        raise UsageError(
            f"helm history printed something that is not JSON: {text[:200]!r}",
            "Check `helm version` (4.1 or newer) and run `helm history RELEASE -o json` by hand.",
        ) from None
    revisions = [
        Revision(
            number=int(entry["revision"]),
            status=str(entry.get("status", "")),
            chart=str(entry.get("chart", "")),
            app_version=str(entry.get("app_version", "")),
            description=str(entry.get("description", "")),
            updated=str(entry.get("updated", "")),
        )
        for entry in entries
    ]
    return tuple(sorted(revisions, key=lambda r: r.number))


def abandoned(history: tuple[Revision, ...]) -> frozenset[int]:
    """Revisions a later rollback undid."""
    undone: set[int] = set()
    for revision in history:
        target = revision.rollback_of
        if target is not None:
            undone.update(range(target + 1, revision.number))
    return frozenset(undone)


@dataclass(frozen=True)
class RollbackPlan:
    current: Revision
    target: Revision | None  # None: nothing to do (see `reason`)
    reason: str  # why there is no target


def plan_rollback(history: tuple[Revision, ...], to: int | None = None) -> RollbackPlan:
    """Where a rollback of the release goes; `to` is an explicit revision (`--to`)."""
    if not history:
        raise ValueError("a release without history has nothing to roll back")
    current = history[-1]
    if to is not None:
        chosen = next((r for r in history if r.number == to), None)
        numbers = ", ".join(str(r.number) for r in history if r.good and r.number != current.number)
        if chosen is None or chosen.number == current.number or not chosen.good:
            problem = (
                "does not exist"
                if chosen is None
                else "is the current one"
                if chosen.number == current.number
                else f"never ran successfully (status {chosen.status})"
            )
            raise UsageError(
                f"Revision {to} {problem}.",
                f"Choose one of the good revisions: {numbers or 'there is none'} (`scaffold status ENV` lists them).",
            )
        return RollbackPlan(current, chosen, "")
    if current.rollback_of is not None:
        return RollbackPlan(
            current,
            None,
            f"revision {current.number} is already a rollback to {current.rollback_of}; "
            "roll back further deliberately with --to REVISION",
        )
    undone = abandoned(history)
    candidates = [r for r in history if r.number < current.number and r.good and r.number not in undone]
    if not candidates:
        return RollbackPlan(current, None, f"revision {current.number} has no good revision before it")
    return RollbackPlan(current, candidates[-1], "")


def ensure_not_pending(history: tuple[Revision, ...], release: str) -> None:
    """Helm refuses to change a release another operation is changing (or left pending when killed)."""
    if history and history[-1].pending:
        latest = history[-1]
        raise ConflictError(
            f"Release {release} is {latest.status} (revision {latest.number}): another Helm operation is "
            "running, or was killed while running.",
            "Wait for it to finish; if nothing runs any more, `scaffold rollback ENV` returns the release "
            "to its last good revision.",
        )
