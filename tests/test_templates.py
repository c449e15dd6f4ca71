"""Template sources: the built-in templates as a tagged git repository, and scaffold's rendering
being exactly what copier produces from that git source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import copier
import pytest

from scaffold.templates import TEMPLATE_VERSION, builtin_ref, builtin_repository, render
from tests.helpers import diff, snapshot

ANSWERS = {
    "backend": {"kind": "backend", "name": "order-history", "ecosystem": "shop", "port": 8005},
    "ecosystem": {"kind": "ecosystem", "name": "shop", "description": "A shop", "registry": "r.example.com/shop"},
}


def test_builtin_repository_is_tagged_and_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = builtin_repository()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    second = builtin_repository()
    assert second != first and second.is_relative_to(tmp_path)

    def head(repo: Path) -> str:
        return subprocess.run(
            ["git", "rev-parse", f"v{TEMPLATE_VERSION}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert head(first) == head(second)  # same content, same commit id, on any machine
    status = subprocess.run(["git", "status", "--porcelain"], cwd=second, capture_output=True, text=True, check=True)
    assert status.stdout == ""


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_render_equals_copier_copy_from_the_git_source(tmp_path: Path, kind: str) -> None:
    render(builtin_ref(), tmp_path / "scaffold", ANSWERS[kind])
    copier.run_copy(
        str(builtin_repository()),
        str(tmp_path / "copier"),
        data=ANSWERS[kind],
        vcs_ref=f"v{TEMPLATE_VERSION}",
        defaults=True,
        quiet=True,
        unsafe=True,
    )
    assert diff(snapshot(tmp_path / "copier"), snapshot(tmp_path / "scaffold")) == []
    assert f"_commit: v{TEMPLATE_VERSION}" in (tmp_path / "scaffold" / ".copier-answers.yml").read_text()
