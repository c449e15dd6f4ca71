"""Git plumbing for template versions: reproducible commits, bundles and cached checkouts.

A template version is a commit tagged with the version. Commits made by scaffold have a fixed
identity and date and no parent, so the same template content gives the same commit id (and the
same bundle bytes) on every machine. Checkouts are extracted once per commit into the user's cache
and shared by every command and process that needs them; a commit id names its content, so a
cached checkout never goes stale.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from packaging.version import InvalidVersion, Version

from scaffold.errors import ScaffoldError, UsageError

# Fixed identity and date, and no user or system configuration: reproducible commits everywhere.
GIT_ENV: Final = {
    "GIT_AUTHOR_NAME": "scaffold",
    "GIT_AUTHOR_EMAIL": "scaffold@localhost",
    "GIT_COMMITTER_NAME": "scaffold",
    "GIT_COMMITTER_EMAIL": "scaffold@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}
BUNDLE_SIGNATURES: Final = (b"# v2 git bundle\n", b"# v3 git bundle\n")
SKIPPED_PARTS: Final = frozenset({"__pycache__", ".git"})


class GitError(ScaffoldError):
    pass


class BrokenBundleError(UsageError):
    """A template store (.scaffold/templates/*.bundle) that is not a git bundle: a damaged file."""


def git(
    *args: str,
    git_dir: Path | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run git with the reproducible environment; its stdout, or GitError with its message."""
    command = ["git", *(["--git-dir", str(git_dir)] if git_dir else []), *args]
    proc = subprocess.run(
        command, cwd=cwd, input=stdin, capture_output=True, env={**os.environ, **GIT_ENV, **(env or {})}
    )
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {message[-1] if message else 'exit ' + str(proc.returncode)}",
            "Check that the template source is a reachable git repository with version tags.",
        )
    return proc.stdout


def parse_version(tag: str) -> Version | None:
    """The PEP 440 version a tag names ('v1.2.0' and '1.2.0' both name 1.2.0), or None."""
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def template_files(folder: Path) -> list[str]:
    """The files of a template folder, as git would commit them (caches and .git left out)."""
    found: list[str] = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if SKIPPED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() or path.is_symlink():
            found.append(relative.as_posix())
    return sorted(found)


def bundle_heads(bundle: Path) -> dict[str, str]:
    """{ref name: commit id} of a git bundle, read from its header (no git process needed)."""
    heads: dict[str, str] = {}
    with bundle.open("rb") as handle:
        if handle.readline() not in BUNDLE_SIGNATURES:
            raise BrokenBundleError(
                f"{bundle} is not a git bundle.", f"Restore it from git history (`git checkout -- {bundle.name}`)."
            )
        for raw in handle:
            line = raw.rstrip(b"\n")
            if not line:
                break
            if line.startswith((b"-", b"@")):  # prerequisites and v3 capabilities
                continue
            oid, _, ref = line.decode().partition(" ")
            heads[ref] = oid
    return heads


def bundle_tags(bundle: Path) -> dict[str, str]:
    return {
        ref.removeprefix("refs/tags/"): oid for ref, oid in bundle_heads(bundle).items() if ref.startswith("refs/tags/")
    }


class BareRepo:
    """A bare repository used as an object store for template versions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not (path / "HEAD").exists():
            git("init", "--quiet", "--bare", str(path))

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        return git(*args, git_dir=self.path, stdin=stdin)

    def commit_folder(self, folder: Path, message: str) -> str:
        """A parentless commit of `folder` with the fixed identity and date: same content, same id."""
        index = {"GIT_INDEX_FILE": str(self.path / f"index-{os.getpid()}")}
        files = "\0".join(template_files(folder)).encode()
        try:
            git(
                "--work-tree", str(folder), "add", "--force", "--pathspec-from-file=-", "--pathspec-file-nul",
                git_dir=self.path, stdin=files, env=index,
            )  # fmt: skip
            tree = git("write-tree", git_dir=self.path, env=index).decode().strip()
        finally:
            Path(index["GIT_INDEX_FILE"]).unlink(missing_ok=True)
        return self.run("commit-tree", tree, "-m", message).decode().strip()

    def tag(self, name: str, commit: str) -> None:
        self.run("update-ref", f"refs/tags/{name}", commit)

    def bundle(self, tags: Mapping[str, str]) -> bytes:
        """A bundle holding exactly `tags` (written as lightweight tags), reproducible byte for byte."""
        scratch = Path(tempfile.mkdtemp(prefix="scaffold-bundle-"))
        try:
            staging = BareRepo(scratch / "repo.git")
            for name, commit in sorted(tags.items()):
                staging.run("fetch", "--quiet", "--no-tags", str(self.path), commit)
                staging.tag(name, commit)
            out = scratch / "out.bundle"
            staging.run("-c", "pack.threads=1", "bundle", "create", "--quiet", str(out), "--tags")
            return out.read_bytes()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def archive(self, commit: str) -> bytes:
        return self.run("archive", "--format=tar", commit)


def cache_dir() -> Path:
    from scaffold import cache

    return cache.directory()


def extract(tar_bytes: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        archive.extractall(target, filter="tar")


def publish(staging: Path, target: Path) -> None:
    """Rename a finished directory into the cache; another process may have made it first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise


def checkout(repo: BareRepo, commit: str) -> Path:
    """The content of `commit` as a directory in the user's cache (extracted once)."""
    target = cache_dir() / "checkouts" / commit
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    extract(repo.archive(commit), staging)
    publish(staging, target)
    return target


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def remote_tags(source: str) -> dict[str, str]:
    """{tag: commit id} of a repository or bundle without fetching it (`git ls-remote`)."""
    out = git("ls-remote", "--tags", "--", source)  # a source is never read as an option
    tags: dict[str, str] = {}
    for line in out.decode().splitlines():
        oid, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = oid  # the peeled commit of an annotated tag wins
        else:
            tags.setdefault(name, oid)
    return tags


def newest(tags: Iterable[str]) -> str | None:
    """The tag naming the highest final (non pre-release) version, as copier chooses it."""
    versions = [(v, t) for t in tags if (v := parse_version(t)) is not None and not v.is_prerelease]
    return max(versions)[1] if versions else None
