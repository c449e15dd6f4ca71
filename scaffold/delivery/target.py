"""Which meta-project, environment and release a delivery command works on, and whether the chart
on disk is the one ecosystem.yaml derives (a delivery ships what is on disk)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import ConflictError, NotFoundError, UsageError
from scaffold.model import Ecosystem, Environment, Service
from scaffold.project import find_root, reading


@dataclass(frozen=True)
class Target:
    root: Path
    ecosystem: Ecosystem
    environment: Environment

    @property
    def release(self) -> str:
        """The umbrella chart's release: named after the ecosystem, in each environment's namespace."""
        return self.ecosystem.name

    def enabled(self) -> tuple[Service, ...]:
        """The services the environment runs (its values may switch one off: `<service>.enabled: false`)."""
        return tuple(s for s in sorted(self.ecosystem.services, key=lambda s: s.name) if not self._switched_off(s.name))

    def _switched_off(self, service: str) -> bool:
        section = self.environment.values.get(service)
        return isinstance(section, dict) and section.get("enabled") is False


def load(start: Path, environment: str) -> Target:
    root = find_root(start)
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    found = next((e for e in ecosystem.environments if e.name == environment), None)
    if found is None:
        known = ", ".join(e.name for e in ecosystem.environments)
        raise UsageError(f"There is no environment named '{environment}'.", f"Environments of ecosystem.yaml: {known}.")
    return Target(root=root, ecosystem=ecosystem, environment=found)


def ensure_deliverable(target: Target) -> None:
    """The derived files match ecosystem.yaml, and every service's chart is on disk (a service in its
    own repository needs its checkout: without it the umbrella's link to its chart dangles)."""
    from scaffold import derived_state
    from scaffold.wiring import derive

    with reading(target.root):
        plan = derived_state.plan(target.root, derive(target.ecosystem))
    stale = sorted([f.path for f in plan.write] + list(plan.delete))
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        raise ConflictError(
            f"The derived files are not what ecosystem.yaml gives ({shown}); a delivery ships what is on disk.",
            "Run `scaffold sync`, commit, and deliver again.",
        )
    missing = [s for s in target.enabled() if not (target.root / s.path / "chart" / "Chart.yaml").is_file()]
    if missing:
        names = ", ".join(s.name for s in missing)
        pinned = [s for s in missing if s.repository]
        hint = (
            "Check out the services in their own repositories at their pinned commits: "
            + "; ".join(
                f"git clone {s.repository} {s.path}" + (f" && git -C {s.path} checkout {s.commit}" if s.commit else "")
                for s in pinned
            )
            + "."
            if pinned
            else "Restore them from git (`git status` shows what was deleted)."
        )
        raise NotFoundError(f"No chart on disk for {names}: the umbrella chart would be incomplete.", hint)
