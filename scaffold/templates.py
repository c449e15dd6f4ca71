"""Where templates come from and how a service is rendered from one.

The built-in templates ship inside the package (`templates/` in the repository). Copier records
a template version (`_commit`) only for a git source, so the first use of a template version
turns the shipped folder into a small git repository, tagged with that version, in the user's
cache; copier renders from that tag. See docs/architecture.md ("Template sources").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from scaffold import __version__
from scaffold.errors import NotFoundError, ScaffoldError
from scaffold.model import TemplateRef

BUILTIN: Final = "builtin"
ANSWERS_FILE: Final = ".copier-answers.yml"
TEMPLATE_VERSION: Final = __version__

# Fixed identity and date: the same template content gives the same commit id on every machine.
_GIT_ENV: Final = {
    "GIT_AUTHOR_NAME": "scaffold",
    "GIT_AUTHOR_EMAIL": "scaffold@localhost",
    "GIT_COMMITTER_NAME": "scaffold",
    "GIT_COMMITTER_EMAIL": "scaffold@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def builtin_templates_dir() -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if (candidate / "copier.yml").is_file():
            return candidate
    raise ScaffoldError("The built-in templates are missing from this installation.", "Reinstall scaffold.")


def builtin_ref() -> TemplateRef:
    return TemplateRef(source=BUILTIN, version=TEMPLATE_VERSION)


def _content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scaffold"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **_GIT_ENV})


def builtin_repository() -> Path:
    """A git repository of the shipped templates with the tag `v<version>` (made once, cached)."""
    source = builtin_templates_dir()
    target = cache_dir() / "templates" / f"v{TEMPLATE_VERSION}-{_content_hash(source)}"
    if (target / ".git").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        _git(staging, "init", "--quiet", "--initial-branch=main")
        _git(staging, "add", "--all")
        _git(staging, "commit", "--quiet", "--message", f"scaffold templates {TEMPLATE_VERSION}")
        _git(staging, "tag", f"v{TEMPLATE_VERSION}")
        try:
            os.rename(staging, target)
        except OSError:  # another process made it first: theirs is identical
            if not (target / ".git").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve(ref: TemplateRef) -> tuple[str, str]:
    """(copier source, vcs ref) for a template reference."""
    if ref.source == BUILTIN:
        if ref.version != TEMPLATE_VERSION:
            raise NotFoundError(
                f"Template version {ref.version} is not the one this scaffold ships ({TEMPLATE_VERSION}).",
                "Install the scaffold release that matches, or run `scaffold update` once it exists.",
            )
        return str(builtin_repository()), f"v{ref.version}"
    return ref.source, ref.version


def _record_git_source(answers_file: Path, src_path: str, commit: str) -> None:
    """Write into a rendered answers file the git source and tag, as copier does for a git source."""
    import yaml

    text = answers_file.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    answers = yaml.safe_load(text)
    answers["_commit"] = commit
    answers["_src_path"] = src_path
    body = yaml.safe_dump(answers, indent=4, allow_unicode=True, default_flow_style=False, sort_keys=True)
    answers_file.write_text(header + body, encoding="utf-8")


def render(ref: TemplateRef, destination: Path, answers: Mapping[str, object]) -> None:
    """Render the template into `destination` (which must not exist yet) with copier.

    A built-in template is rendered from the shipped folder, which is byte for byte the content
    of the tagged commit in `builtin_repository()`, and the answers file then records that
    repository and tag. The result is what copier writes when it renders from the git source
    (tests/test_templates.py compares them), without cloning the repository on every run.
    """
    import copier
    from copier.errors import CopierError

    source, vcs_ref = resolve(ref)
    builtin = ref.source == BUILTIN
    try:
        copier.run_copy(
            str(builtin_templates_dir()) if builtin else source,
            str(destination),
            data=dict(answers),
            vcs_ref=vcs_ref,
            defaults=True,
            overwrite=False,
            quiet=True,
            unsafe=builtin,  # built-in templates are trusted; others need --trust
        )
    except (CopierError, ValueError) as err:
        raise ScaffoldError(f"Rendering the template failed: {err}", "Check the --data values.") from None
    if builtin:
        _record_git_source(destination / ANSWERS_FILE, src_path=source, commit=vcs_ref)
