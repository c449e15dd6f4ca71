"""Image tags from git: `<registry>/<service>:<commit>`, marked `-dirty` when the service's files
have changes git has not committed.

The commit is that of the repository holding the service's files: the meta-project's, or the
service's own when it has one (`repository:` in ecosystem.yaml, or a checkout of its own at its
path). The same commit and a clean tree give the same tag on every machine, so `scaffold test`
finds the image `scaffold build` made, and a tag names the code in it. A dirty tag says the image
holds work that no commit has; it is never the tag of a clean build.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scaffold.errors import UsageError
from scaffold.model import Ecosystem, Service

SHORT: Final = 12  # hex digits of the commit in a tag
DIRTY: Final = "-dirty"
TEST_SUFFIX: Final = "-test"  # the test image: <registry>/<service>:<tag>-test


@dataclass(frozen=True)
class SourceVersion:
    commit: str  # the full commit id
    dirty: bool  # uncommitted changes (untracked files included, ignored ones not)

    @property
    def tag(self) -> str:
        return self.commit[:SHORT] + (DIRTY if self.dirty else "")


@dataclass(frozen=True)
class ServiceImages:
    """The two images `scaffold build` makes of a service, and where from."""

    service: Service
    repository: str  # <registry>/<service>
    version: SourceVersion

    @property
    def runtime(self) -> str:
        return f"{self.repository}:{self.version.tag}"

    @property
    def test(self) -> str:
        return f"{self.repository}:{self.version.tag}{TEST_SUFFIX}"


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )


def version_of(repository: Path, path: str = ".") -> SourceVersion:
    """The commit checked out in the git repository at `repository`, and whether `path` (relative to
    it) differs from that commit."""
    head = _git(repository, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.returncode != 0:
        raise UsageError(
            f"{repository} has no git commit to tag images with.",
            "Commit the code first (git add -A && git commit): images are tagged with the commit they hold.",
        )
    status = _git(repository, "status", "--porcelain", "--untracked-files=normal", "--", path)
    if status.returncode != 0:
        raise UsageError(f"git status failed in {repository}: {status.stderr.strip()}", "Check that git works there.")
    return SourceVersion(head.stdout.strip(), bool(status.stdout.strip()))


def service_images(root: Path, ecosystem: Ecosystem, service: Service) -> ServiceImages:
    directory = root / service.path
    own = service.repository is not None or (directory / ".git").exists()
    version = version_of(directory) if own else version_of(root, service.path)
    return ServiceImages(service, f"{ecosystem.registry}/{service.name}", version)
