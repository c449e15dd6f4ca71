"""Which services' images must be built for a commit, so that only changed services rebuild and roll.

A service needs a new image when, between the base commit and HEAD:
- files under its path changed (a service of the meta-project);
- its pinned `commit` moved (a service in its own repository), or it is new in ecosystem.yaml;
- or the set of images delivered at the base commit has none for it (`--delivered`: the images
  file the base commit's delivery wrote; when that file does not exist, nothing was delivered, and
  every service is built, as on a first delivery). Without `--delivered` only changes count
  (a pull request's build).
Every other service keeps the image delivered at the base commit, so its Deployment is unchanged
and Kubernetes does not restart it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from scaffold import ecosystem_file, images_file
from scaffold.errors import ScaffoldError, UsageError
from scaffold.model import Ecosystem


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def _base_ecosystem(root: Path, base: str) -> Ecosystem | None:
    shown = _git(root, "show", f"{base}:{ecosystem_file.FILE_NAME}")
    if shown.returncode != 0:
        return None
    try:
        return ecosystem_file.parse(shown.stdout).model
    except ScaffoldError:
        return None  # an unreadable base: every service counts as new


def changed(root: Path, ecosystem: Ecosystem, base: str, delivered: Path | None) -> dict[str, str]:
    """service -> why its image must be built, for HEAD against `base`."""
    if _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").returncode != 0:
        raise UsageError(
            f"{base} is not a commit of this repository.",
            "Give a commit id or branch; in CI, check out the full history (actions/checkout with fetch-depth: 0).",
        )
    before = _base_ecosystem(root, base)
    images = None if delivered is None else images_file.read(delivered).images if delivered.is_file() else {}
    reasons: dict[str, str] = {}
    for service in sorted(ecosystem.services, key=lambda s: s.name):
        old = before.service(service.name) if before is not None else None
        if images is not None and service.name not in images:
            reasons[service.name] = "no image delivered yet" if images else "no record of the images delivered before"
        elif old is None:
            reasons[service.name] = "new service"
        elif service.repository is not None:
            if old.commit != service.commit or old.repository != service.repository:
                reasons[service.name] = f"pinned commit moved to {service.commit}"
        elif old.path != service.path or _git(root, "diff", "--quiet", base, "HEAD", "--", service.path).returncode:
            reasons[service.name] = f"files changed under {service.path}"
    return reasons
